//! The leak test: known identifiers planted in structured fields, narratives, notes and base64
//! attachments of many resource types; after `safe-harbor`, none survives anywhere in the output
//! bytes (decoded attachments included).

use base64::Engine as _;
use chrono::NaiveDate;
use salus_deid::{DefaultKeys, Engine, IdentityBook, Origin, Policy, Run};
use serde_json::{json, Value};

/// Every planted value, as it must not appear in the output (case-insensitively).
const PLANTED: &[&str] = &[
    "Zebulon",
    "Quixley",
    "Hortensia",
    "123-45-6789",
    "123456789",
    "884422",
    "617) 555-0199",
    "555-0199",
    "6175550199",
    "zeb.quixley@example.com",
    "42 Wallaby Way",
    "Wallaby",
    "Sydneyville",
    "02139",
    "1961-07-14",
    "07/14/1961",
    "July 14, 1961",
    "quixley-family.example.org",
    "2023-03-15",
    "03/15/2023",
    "192.168.14.77",
    "ACCT-5521907",
    "19610714",
];

fn b64(text: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(text)
}

/// A note mentioning every identifier, in prose.
fn note() -> String {
    "Zebulon Quixley (MRN 884422, SSN 123-45-6789) was seen on 03/15/2023. \
     Call him at (617) 555-0199 or zeb.quixley@example.com; he lives at 42 Wallaby Way, \
     Sydneyville, MA 02139. DOB July 14, 1961. His wife Hortensia Quixley came along. \
     Portal: https://quixley-family.example.org/zeb from 192.168.14.77, account ACCT-5521907."
        .to_string()
}

fn narrative() -> Value {
    json!({"status": "generated", "div": format!(
        "<div xmlns=\"http://www.w3.org/1999/xhtml\"><p>Patient <b>Zebulon Quixley</b>, born 1961-07-14, MRN 884422.</p><p title=\"Quixley chart\">{}</p></div>",
        note()
    )})
}

fn annotation() -> Value {
    json!([{"authorString": "Dr. Hortensia Quixley", "time": "2023-03-15T10:00:00Z", "text": note()}])
}

fn resources() -> Vec<Value> {
    let subject = json!({"reference": "Patient/pat-zq", "display": "Zebulon Quixley"});
    vec![
        json!({
            "resourceType": "Patient", "id": "pat-zq", "text": narrative(),
            "identifier": [
                {"system": "http://hl7.org/fhir/sid/us-ssn", "value": "123-45-6789"},
                {"type": {"text": "MRN"}, "system": "urn:oid:1.2.3.4", "value": "884422"}
            ],
            "name": [{"use": "official", "family": "Quixley", "given": ["Zebulon"], "text": "Zebulon Quixley"}],
            "telecom": [
                {"system": "phone", "value": "(617) 555-0199", "use": "home"},
                {"system": "email", "value": "zeb.quixley@example.com"},
                {"system": "url", "value": "https://quixley-family.example.org/zeb"}
            ],
            "gender": "male", "birthDate": "1961-07-14",
            "address": [{"line": ["42 Wallaby Way"], "city": "Sydneyville", "state": "MA", "postalCode": "02139"}],
            "contact": [{"name": {"family": "Quixley", "given": ["Hortensia"]}, "telecom": [{"system": "phone", "value": "617-555-0199"}]}],
            "photo": [{"contentType": "image/jpeg", "data": b64("JPEG bytes of Zebulon Quixley")}],
            "extension": [{"url": "http://hl7.org/fhir/StructureDefinition/patient-mothersMaidenName", "valueString": "Hortensia"}]
        }),
        json!({
            "resourceType": "Observation", "id": "obs-1", "status": "final", "text": narrative(),
            "code": {"text": "Social history note"}, "subject": subject.clone(),
            "effectiveDateTime": "2023-03-15T09:30:00-05:00",
            "valueString": note(), "note": annotation()
        }),
        json!({
            "resourceType": "Encounter", "id": "enc-1", "status": "finished", "text": narrative(),
            "class": {"code": "AMB"}, "subject": subject.clone(),
            "period": {"start": "2023-03-15T09:00:00Z", "end": "2023-03-15T10:00:00Z"},
            "reasonCode": [{"text": note()}]
        }),
        json!({
            "resourceType": "Condition", "id": "cond-1", "text": narrative(), "subject": subject.clone(),
            "code": {"text": "Major depressive disorder"}, "onsetDateTime": "2023-03-15", "note": annotation()
        }),
        json!({
            "resourceType": "DocumentReference", "id": "doc-1", "status": "current", "subject": subject.clone(),
            "date": "2023-03-15T10:00:00Z", "description": note(),
            "content": [
                {"attachment": {"contentType": "text/plain", "data": b64(&note()), "title": "Note on Zebulon Quixley"}},
                {"attachment": {"contentType": "text/html", "data": b64(&format!("<p>{}</p>", note()))}},
                {"attachment": {"contentType": "application/pdf", "data": b64("%PDF Zebulon Quixley 123-45-6789")}},
                // A C-CDA document keeps identifiers in attribute values text scrubbing cannot see.
                {"attachment": {"contentType": "application/xml", "data": b64(
                    "<ClinicalDocument xmlns=\"urn:hl7-org:v3\"><recordTarget><patientRole><telecom value=\"tel:+1(617)555-0199\"/><patient><birthTime value=\"19610714\"/></patient></patientRole></recordTarget></ClinicalDocument>"
                )}}
            ]
        }),
        json!({
            "resourceType": "DiagnosticReport", "id": "dr-1", "status": "final", "subject": subject.clone(),
            "code": {"text": "Psychiatric evaluation"}, "conclusion": note(),
            "presentedForm": [{"contentType": "text/plain", "data": b64(&note())}]
        }),
        json!({
            "resourceType": "MedicationRequest", "id": "mr-1", "status": "active", "intent": "order",
            "subject": subject.clone(), "medicationCodeableConcept": {"text": "sertraline 50 mg"},
            "authoredOn": "2023-03-15", "note": annotation(),
            "dosageInstruction": [{"text": format!("Take daily. {}", note())}]
        }),
        json!({
            "resourceType": "Procedure", "id": "proc-1", "status": "completed", "subject": subject.clone(),
            "code": {"text": "Psychotherapy"}, "performedDateTime": "2023-03-15", "note": annotation()
        }),
        json!({
            "resourceType": "AllergyIntolerance", "id": "al-1", "patient": subject.clone(),
            "recordedDate": "2023-03-15", "note": annotation()
        }),
        json!({
            "resourceType": "Immunization", "id": "imm-1", "status": "completed", "patient": subject.clone(),
            "vaccineCode": {"text": "influenza"}, "occurrenceDateTime": "2023-03-15", "note": annotation()
        }),
        json!({
            "resourceType": "QuestionnaireResponse", "id": "qr-1", "status": "completed", "subject": subject.clone(),
            "authored": "2023-03-15T10:00:00Z",
            "item": [{"linkId": "1", "text": "Who lives with you?", "answer": [{"valueString": note()}]}]
        }),
        json!({
            "resourceType": "CarePlan", "id": "cp-1", "status": "active", "intent": "plan", "subject": subject.clone(),
            "description": note(), "note": annotation()
        }),
        json!({
            "resourceType": "Communication", "id": "com-1", "status": "completed", "subject": subject.clone(),
            "sent": "2023-03-15T10:00:00Z", "payload": [{"contentString": note()}]
        }),
        json!({
            "resourceType": "RelatedPerson", "id": "rp-1", "patient": subject.clone(),
            "name": [{"family": "Quixley", "given": ["Hortensia"]}],
            "telecom": [{"system": "phone", "value": "(617) 555-0199"}],
            "address": [{"line": ["42 Wallaby Way"], "city": "Sydneyville", "postalCode": "02139"}]
        }),
        json!({
            "resourceType": "Bundle", "id": "b-1", "type": "collection",
            "entry": [{"fullUrl": "urn:uuid:3f1c2a9e-0b7d-4d5e-9a51-6c1f0e2d7b44", "resource": {
                "resourceType": "Observation", "id": "obs-2", "status": "final", "code": {"text": "note"},
                "subject": {"reference": "Patient/pat-zq"}, "valueString": note(),
                "contained": [{"resourceType": "Patient", "id": "c1", "name": [{"family": "Quixley", "given": ["Zebulon"]}], "birthDate": "1961-07-14"}]
            }}]
        }),
    ]
}

/// Every string in the output, with base64 attachment data decoded.
fn all_text(v: &Value, out: &mut String) {
    match v {
        Value::String(s) => {
            out.push_str(s);
            out.push('\n');
            if let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(s) {
                out.push_str(&String::from_utf8_lossy(&bytes));
                out.push('\n');
            }
        }
        Value::Array(items) => items.iter().for_each(|i| all_text(i, out)),
        Value::Object(map) => map.iter().for_each(|(k, i)| {
            out.push_str(k);
            out.push('\n');
            all_text(i, out)
        }),
        other => {
            out.push_str(&other.to_string());
            out.push('\n');
        }
    }
}

fn engine(preset: &str) -> Engine {
    let policy = Policy::parse(salus_deid::preset(preset).unwrap()).unwrap();
    Engine::build(
        policy,
        DefaultKeys::derive(b"leak-test"),
        NaiveDate::from_ymd_opt(2026, 11, 28).unwrap(),
    )
    .unwrap()
}

#[test]
fn nothing_planted_survives_safe_harbor() {
    let engine = engine("safe-harbor");
    let mut book = IdentityBook::new();
    let input = resources();
    for r in &input {
        book.add_resource(r);
    }
    let mut run = Run::new([3; 32], &engine);
    let mut text = String::new();
    let mut types = Vec::new();
    for r in input {
        types.push(r["resourceType"].as_str().unwrap().to_string());
        let out = engine
            .deidentify(r, &Origin::default(), &book, &mut run)
            .unwrap();
        text.push_str(&serde_json::to_string(&out).unwrap());
        all_text(&out, &mut text);
    }
    let lower = text.to_lowercase();
    let survivors: Vec<&&str> = PLANTED
        .iter()
        .filter(|p| lower.contains(&p.to_lowercase()))
        .collect();
    assert!(
        survivors.is_empty(),
        "planted values survived: {survivors:?}"
    );
    // The clinical content is still there: de-identification is not deletion.
    assert!(text.contains("Major depressive disorder"));
    assert!(text.contains("sertraline 50 mg"));
    assert!(text.contains("[NAME]"), "names in text become tags");
    assert!(types.len() >= 15);
    // The report counts what was done, never a value.
    let report = serde_json::to_string(&run.report).unwrap();
    assert!(run.report.free_text.get("name").copied().unwrap_or(0) > 0);
    for p in PLANTED {
        assert!(!report.contains(p), "the report carries {p}");
    }
}

#[test]
fn limited_data_set_keeps_dates_and_zip_but_not_names() {
    let engine = engine("limited-data-set");
    let mut book = IdentityBook::new();
    let input = resources();
    for r in &input {
        book.add_resource(r);
    }
    let mut run = Run::new([3; 32], &engine);
    let patient = engine
        .deidentify(input[0].clone(), &Origin::default(), &book, &mut run)
        .unwrap();
    let text = serde_json::to_string(&patient).unwrap();
    assert_eq!(patient["birthDate"], "1961-07-14");
    assert_eq!(patient["address"][0]["postalCode"], "02139");
    assert_eq!(patient["address"][0]["city"], "Sydneyville");
    for gone in [
        "Quixley",
        "Zebulon",
        "42 Wallaby Way",
        "555-0199",
        "123-45-6789",
    ] {
        assert!(!text.contains(gone), "{gone} survived");
    }
}

#[test]
fn patient_scope_moves_every_date_of_a_patient_by_the_same_offset() {
    let policy = Policy::parse(
        r#"{"fhirPathRules": [{"path": "nodesByType('dateTime')", "method": "dateShift"},
                              {"path": "nodesByType('date')", "method": "dateShift"}],
            "parameters": {"dateShiftKey": "k", "dateShiftScope": "patient"}}"#,
    )
    .unwrap();
    let engine = Engine::build(
        policy,
        DefaultKeys::derive(b"x"),
        NaiveDate::from_ymd_opt(2026, 11, 28).unwrap(),
    )
    .unwrap();
    let mut run = Run::new([0; 32], &engine);
    let book = IdentityBook::new();
    let days = |a: &str, b: &str| {
        let a = NaiveDate::parse_from_str(&a[..10], "%Y-%m-%d").unwrap();
        let b = NaiveDate::parse_from_str(&b[..10], "%Y-%m-%d").unwrap();
        (b - a).num_days()
    };
    let mut offsets = Vec::new();
    for r in resources()
        .into_iter()
        .filter(|r| r["resourceType"] != "Bundle")
    {
        let before = r.clone();
        let after = engine
            .deidentify(r, &Origin::default(), &book, &mut run)
            .unwrap();
        for key in [
            "birthDate",
            "effectiveDateTime",
            "onsetDateTime",
            "authoredOn",
            "recordedDate",
        ] {
            if let (Some(a), Some(b)) = (before[key].as_str(), after[key].as_str()) {
                offsets.push(days(a, b));
            }
        }
    }
    assert!(offsets.len() >= 5, "{offsets:?}");
    assert!(
        offsets.iter().all(|o| *o == offsets[0] && *o != 0),
        "{offsets:?}"
    );
}

#[test]
fn the_county_an_svi_observation_was_linked_through_does_not_survive_safe_harbor() {
    let engine = engine("safe-harbor");
    let book = IdentityBook::new();
    let svi = |code: &str, value: &str| {
        json!({"code": {"coding": [{"system": "http://salus.example/fhir/CodeSystem/svi-measure", "code": code}]},
               "valueString": value})
    };
    let observation = json!({
        "resourceType": "Observation", "id": "svi-1", "status": "final",
        "code": {"coding": [{"system": "http://salus.example/fhir/CodeSystem/svi-measure", "code": "svi-overall"}]},
        "subject": {"reference": "Patient/pat-zq"},
        "valueQuantity": {"value": 0.6563, "unit": "percentile rank", "system": "http://unitsofmeasure.org", "code": "1"},
        "component": [svi("county-fips", "20111"), svi("area-name", "Lyon County, Kansas"), svi("tract-fips", "20111000100")]
    });
    let mut run = Run::new([3; 32], &engine);
    let out = engine
        .deidentify(observation, &Origin::default(), &book, &mut run)
        .unwrap();
    let text = serde_json::to_string(&out).unwrap();
    for planted in ["20111", "Lyon"] {
        assert!(!text.contains(planted), "{planted} survived: {text}");
    }
    // The measure itself stays: it describes a population, not the patient.
    assert_eq!(out["valueQuantity"]["value"], json!(0.6563));
}
