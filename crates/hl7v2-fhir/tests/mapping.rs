//! Mapping rules, on synthetic messages (no real person's data).

use proptest::prelude::*;
use salus_fhir::ids::derive_id;
use salus_hl7v2::Message;
use salus_hl7v2_fhir::{ids, map_message, MapOptions, Mapped};
use serde_json::Value;

/// Segments joined with CR, as on the wire.
fn msg(segments: &[&str]) -> String {
    segments.join("\r")
}

fn map_with(text: &str, options: &MapOptions) -> Mapped {
    let message = Message::parse(text).expect("test message parses");
    let mapped = map_message(&message, options).expect("test message maps");
    for r in &mapped.resources {
        if let Err(issues) = salus_fhir::schema::validate(r) {
            panic!("{} invalid: {issues:?}\n{r:#}", r["resourceType"]);
        }
        assert!(
            salus_fhir::ids::is_valid_id(r["id"].as_str().unwrap_or("")),
            "bad id in {r}"
        );
    }
    mapped
}

fn map(text: &str) -> Mapped {
    map_with(text, &MapOptions::default())
}

fn all<'a>(m: &'a Mapped, kind: &str) -> Vec<&'a Value> {
    m.resources
        .iter()
        .filter(|r| r["resourceType"] == kind)
        .collect()
}

fn one<'a>(m: &'a Mapped, kind: &str) -> &'a Value {
    let found = all(m, kind);
    assert_eq!(found.len(), 1, "expected one {kind}: {:#?}", m.resources);
    found[0]
}

const MSH_ADT: &str =
    "MSH|^~\\&|REG|HOSP|SALUS|HOSP|20240301101500+0100||ADT^A01^ADT_A01|CTRL0001|P|2.5.1";

fn adt(trigger: &str, control: &str, pv1: &str) -> String {
    msg(&[
        &MSH_ADT
            .replace("ADT^A01^ADT_A01", &format!("ADT^{trigger}^ADT_A01"))
            .replace("CTRL0001", control),
        "EVN|A01|20240301101500+0100",
        "PID|1||MRN123^^^HOSP^MR~999-00-1234^^^SSA^SS||TESTPERSON^ALEX^J^^^^L~TP^AL^^^^^N||19800215|F||2106-3^White^CDCREC~2028-9^Asian^CDCREC|1 MAIN ST^APT 2^SPRINGFIELD^IL^62701^USA^H||^PRN^PH^^1^217^5550100~^NET^Internet^alex@example.org|^WPN^PH^^1^217^5550199|eng^English^ISO639|M||||||H^Hispanic or Latino^HL70189",
        "NK1|1|TESTPERSON^SAM|SPO^Spouse^HL70063|1 MAIN ST^^SPRINGFIELD^IL^62701|^PRN^PH^^1^217^5550102||N^Next-of-Kin",
        pv1,
        "PV2|||F32.1^Major depressive disorder, single episode, moderate^I10",
        "AL1|1|DA|70618^Penicillin^RXNORM|SV|Hives~Wheezing|20200101",
        "DG1|1||F32.1^Major depressive disorder, single episode, moderate^I10||20240301|A",
        "PR1|1||90791^Psychiatric diagnostic evaluation^C4||202403011030+0100",
        "IN1|1|PLAN01^Gold Plan|INS01^^^HOSP|Example Insurance Co||||||||20240101|20241231||||SEL^Self|||||||||||||||||||POL-77",
        "ZXY|1|ignored",
    ])
}

const PV1_INPATIENT: &str = "PV1|1|I|WARD1^101^A^HOSP||||1234^CAREGIVER^CASEY^^^DR^^^HOSP|5678^REFERRER^ROBIN^^^^^^HOSP||PSY||||7|||1234^CAREGIVER^CASEY^^^DR^^^HOSP||V0001^^^HOSP^VN|||||||||||||||||01||||||||202403011000+0100";

#[test]
fn adt_a01_maps_patient_encounter_and_clinical_segments() {
    let m = map(&adt("A01", "CTRL0001", PV1_INPATIENT));
    assert_eq!(m.unsupported, None);
    let patient = one(&m, "Patient");
    assert_eq!(patient["id"], derive_id("hl7v2|Patient|HOSP|MRN123"));
    assert_eq!(patient["meta"]["source"], "urn:hl7v2:REG:CTRL0001");
    assert_eq!(patient["gender"], "female");
    assert_eq!(patient["birthDate"], "1980-02-15");
    assert_eq!(patient["name"][0]["use"], "official");
    assert_eq!(patient["name"][0]["family"], "TESTPERSON");
    assert_eq!(patient["name"][0]["given"][1], "J");
    assert_eq!(patient["name"][1]["use"], "nickname");
    assert_eq!(
        patient["identifier"][0]["type"]["coding"][0]["system"],
        "http://terminology.hl7.org/CodeSystem/v2-0203"
    );
    assert_eq!(patient["identifier"][0]["assigner"]["display"], "HOSP");
    assert_eq!(
        patient["identifier"][1]["system"],
        "http://hl7.org/fhir/sid/us-ssn"
    );
    assert_eq!(patient["address"][0]["line"][1], "APT 2");
    assert_eq!(patient["address"][0]["use"], "home");
    let telecom = patient["telecom"].as_array().unwrap();
    assert_eq!(telecom[0]["value"], "+1 (217) 5550100");
    assert_eq!(telecom[0]["use"], "home");
    assert_eq!(telecom[1]["system"], "email");
    assert_eq!(telecom[1]["value"], "alex@example.org");
    assert_eq!(telecom[2]["use"], "work");
    assert_eq!(
        patient["communication"][0]["language"]["coding"][0]["code"],
        "en"
    );
    assert_eq!(
        patient["maritalStatus"]["coding"][0]["system"],
        "http://terminology.hl7.org/CodeSystem/v3-MaritalStatus"
    );

    let encounter = one(&m, "Encounter");
    assert_eq!(encounter["id"], derive_id("hl7v2|Encounter|HOSP|V0001"));
    assert_eq!(encounter["class"]["code"], "IMP");
    assert_eq!(encounter["status"], "in-progress");
    assert_eq!(encounter["period"]["start"], "2024-03-01T10:00:00+01:00");
    assert_eq!(encounter["identifier"][0]["value"], "V0001");
    let roles: Vec<&str> = encounter["participant"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["type"][0]["coding"][0]["code"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["ATND", "REF", "ADM"]);
    assert_eq!(encounter["reasonCode"][0]["coding"][0]["code"], "F32.1");
    assert_eq!(
        encounter["hospitalization"]["admitSource"]["coding"][0]["code"],
        "7"
    );
    assert_eq!(
        encounter["hospitalization"]["dischargeDisposition"]["coding"][0]["code"],
        "01"
    );
    // One Practitioner for the attending who is also the admitter.
    assert_eq!(all(&m, "Practitioner").len(), 2);
    assert_eq!(
        one(&m, "Location")["physicalType"]["coding"][0]["code"],
        "bd"
    );

    let kin = one(&m, "RelatedPerson");
    assert_eq!(kin["relationship"][0]["coding"][0]["code"], "SPS");
    assert_eq!(kin["relationship"][1]["coding"][0]["code"], "N");
    assert_eq!(
        kin["patient"]["reference"],
        format!("Patient/{}", patient["id"].as_str().unwrap())
    );

    let allergy = one(&m, "AllergyIntolerance");
    assert_eq!(allergy["category"][0], "medication");
    assert_eq!(allergy["reaction"][0]["severity"], "severe");
    assert_eq!(
        allergy["reaction"][0]["manifestation"][1]["text"],
        "Wheezing"
    );
    assert_eq!(
        allergy["code"]["coding"][0]["system"],
        "http://www.nlm.nih.gov/research/umls/rxnorm"
    );

    let condition = one(&m, "Condition");
    assert_eq!(
        condition["code"]["coding"][0]["system"],
        "http://hl7.org/fhir/sid/icd-10-cm"
    );
    assert_eq!(
        condition["category"][0]["coding"][0]["code"],
        "encounter-diagnosis"
    );
    assert_eq!(condition["onsetDateTime"], "2024-03-01");
    assert_eq!(
        condition["encounter"]["reference"],
        format!("Encounter/{}", encounter["id"].as_str().unwrap())
    );
    assert_eq!(
        encounter["diagnosis"][0]["condition"]["reference"],
        format!("Condition/{}", condition["id"].as_str().unwrap())
    );

    let procedure = one(&m, "Procedure");
    assert_eq!(procedure["status"], "completed");
    assert_eq!(procedure["performedDateTime"], "2024-03-01T10:30:00+01:00");

    let coverage = one(&m, "Coverage");
    assert_eq!(coverage["subscriberId"], "POL-77");
    assert_eq!(coverage["relationship"]["coding"][0]["code"], "self");
    assert_eq!(coverage["period"]["end"], "2024-12-31");
    let payor = coverage["payor"][0]["reference"].as_str().unwrap();
    assert!(payor.starts_with("Organization/"));
    assert_eq!(one(&m, "Organization")["name"], "Example Insurance Co");

    // The Z-segment is ignored without a warning.
    assert!(
        m.warnings.iter().all(|w| w.segment != "ZXY"),
        "{:?}",
        m.warnings
    );
}

#[test]
fn race_and_ethnicity_are_us_core_extensions() {
    let m = map(&adt("A04", "C1", PV1_INPATIENT));
    let patient = one(&m, "Patient");
    let extensions = patient["extension"].as_array().unwrap();
    let race = extensions
        .iter()
        .find(|e| e["url"] == "http://hl7.org/fhir/us/core/StructureDefinition/us-core-race")
        .expect("race extension");
    let parts = race["extension"].as_array().unwrap();
    assert_eq!(parts.len(), 3);
    for part in &parts[..2] {
        assert_eq!(part["url"], "ombCategory");
        assert_eq!(
            part["valueCoding"]["system"],
            "urn:oid:2.16.840.1.113883.6.238"
        );
    }
    assert_eq!(parts[0]["valueCoding"]["code"], "2106-3");
    assert_eq!(parts[2]["url"], "text");
    assert_eq!(parts[2]["valueString"], "White, Asian");
    let ethnicity = extensions
        .iter()
        .find(|e| e["url"] == "http://hl7.org/fhir/us/core/StructureDefinition/us-core-ethnicity")
        .expect("ethnicity extension");
    // The legacy table-0189 letter H becomes the CDC code.
    assert_eq!(ethnicity["extension"][0]["valueCoding"]["code"], "2135-2");
    assert_eq!(ethnicity["extension"][1]["url"], "text");
}

/// The resources with meta.source removed (it names the message, so it changes on re-send).
fn without_source(m: &Mapped) -> Vec<Value> {
    m.resources
        .iter()
        .map(|r| {
            let mut r = r.clone();
            if let Some(meta) = r.get_mut("meta").and_then(Value::as_object_mut) {
                meta.remove("source");
            }
            r
        })
        .collect()
}

#[test]
fn ids_are_stable_across_runs_and_resends() {
    let first = map(&adt("A08", "CTRL0001", PV1_INPATIENT));
    let again = map(&adt("A08", "CTRL0001", PV1_INPATIENT));
    assert_eq!(first, again);
    let resent = map(&adt("A08", "CTRL9999", PV1_INPATIENT));
    assert_eq!(without_source(&first), without_source(&resent));
    assert_eq!(
        resent.resources[0]["meta"]["source"],
        "urn:hl7v2:REG:CTRL9999"
    );
    // Clinicians, organizations and places that many messages name do not change with the
    // message: a re-send leaves them as they were.
    for (a, b) in first.resources.iter().zip(&resent.resources) {
        if matches!(
            a["resourceType"].as_str(),
            Some("Practitioner" | "Organization" | "Location")
        ) {
            assert_eq!(a, b);
            assert_eq!(a["meta"]["source"], "urn:hl7v2:REG");
        }
    }
    assert!(first
        .resources
        .iter()
        .any(|r| r["resourceType"] == "Practitioner"));
}

#[test]
fn encounter_status_follows_the_trigger_table() {
    let with_discharge =
        PV1_INPATIENT.replace("202403011000+0100", "202403011000+0100|202403051200+0100");
    let cases = [
        ("A01", PV1_INPATIENT, "in-progress"),
        ("A02", PV1_INPATIENT, "in-progress"),
        ("A03", with_discharge.as_str(), "finished"),
        ("A04", PV1_INPATIENT, "in-progress"),
        ("A05", PV1_INPATIENT, "planned"),
        ("A11", PV1_INPATIENT, "cancelled"),
        ("A13", with_discharge.as_str(), "in-progress"),
        ("A08", PV1_INPATIENT, "in-progress"),
        ("A08", with_discharge.as_str(), "finished"),
        ("A31", "PV1|1|O|||||||||||||||||V0002^^^HOSP^VN", "unknown"),
    ];
    for (trigger, pv1, status) in cases {
        let m = map(&adt(trigger, "C", pv1));
        let encounter = one(&m, "Encounter");
        assert_eq!(encounter["status"], status, "{trigger}");
        if trigger == "A13" {
            // A cancelled discharge has no end.
            assert!(encounter["period"].get("end").is_none());
        }
        if trigger == "A03" {
            assert_eq!(encounter["period"]["end"], "2024-03-05T12:00:00+01:00");
        }
    }
    // A28/A31 placeholder PV1: no Encounter at all.
    let m = map(&adt("A28", "C", "PV1|1|N"));
    assert!(all(&m, "Encounter").is_empty());
}

#[test]
fn bad_date_is_a_warning_and_the_rest_is_kept() {
    let text = adt("A01", "C", PV1_INPATIENT).replace("|19800215|", "|19801345|");
    let m = map(&text);
    let patient = one(&m, "Patient");
    assert!(patient.get("birthDate").is_none());
    assert_eq!(patient["gender"], "female");
    let warning = m
        .warnings
        .iter()
        .find(|w| w.segment == "PID" && w.field == Some(7))
        .expect("a PID-7 warning");
    assert_eq!(warning.segment_index, 2);
    assert!(
        !warning.reason.contains("19801345"),
        "warnings never echo values"
    );
    assert_eq!(all(&m, "Encounter").len(), 1);
}

#[test]
fn time_without_zone_is_kept_to_the_day_unless_an_offset_is_configured() {
    let pv1 = PV1_INPATIENT.replace("202403011000+0100", "202403011000");
    let m = map(&adt("A01", "C", &pv1));
    assert_eq!(one(&m, "Encounter")["period"]["start"], "2024-03-01");
    assert!(m
        .warnings
        .iter()
        .any(|w| w.segment == "PV1" && w.field == Some(44)));
    let options = MapOptions {
        assume_offset_minutes: Some(-300),
        ..MapOptions::default()
    };
    let m = map_with(&adt("A01", "C", &pv1), &options);
    assert_eq!(
        one(&m, "Encounter")["period"]["start"],
        "2024-03-01T10:00:00-05:00"
    );
}

#[test]
fn default_authority_is_msh4_or_the_option() {
    let text = adt("A01", "C", PV1_INPATIENT).replace("MRN123^^^HOSP^MR", "MRN123^^^^MR");
    let m = map(&text);
    assert_eq!(
        one(&m, "Patient")["id"],
        derive_id("hl7v2|Patient|HOSP|MRN123")
    );
    let options = MapOptions {
        default_assigning_authority: Some("CLINIC".into()),
        ..MapOptions::default()
    };
    let m = map_with(&text, &options);
    assert_eq!(
        one(&m, "Patient")["id"],
        derive_id("hl7v2|Patient|CLINIC|MRN123")
    );
}

#[test]
fn messages_that_cannot_be_mapped_are_errors() {
    let no_pid = msg(&[MSH_ADT, "EVN|A01|20240301", PV1_INPATIENT]);
    let message = Message::parse(&no_pid).unwrap();
    let err = map_message(&message, &MapOptions::default()).unwrap_err();
    assert_eq!(err.segment, "MSH");
    let no_id = msg(&[MSH_ADT, "PID|1||^^^HOSP^MR||DOE^JO"]);
    let message = Message::parse(&no_id).unwrap();
    let err = map_message(&message, &MapOptions::default()).unwrap_err();
    assert_eq!((err.segment.as_str(), err.field), ("PID", Some(3)));
}

#[test]
fn a40_merge_links_both_patients() {
    let text = msg(&[
        "MSH|^~\\&|REG|HOSP|SALUS|HOSP|20240301101500+0100||ADT^A40^ADT_A39|M1|P|2.5.1",
        "EVN|A40|20240301101500+0100",
        "PID|1||MRN-KEEP^^^HOSP^MR||TESTPERSON^ALEX",
        "MRG|MRN-OLD^^^HOSP^MR",
    ]);
    let m = map(&text);
    let survivor = derive_id("hl7v2|Patient|HOSP|MRN-KEEP");
    let retired = derive_id("hl7v2|Patient|HOSP|MRN-OLD");
    assert_eq!(m.merges.len(), 1);
    assert_eq!(m.merges[0].survivor, survivor);
    assert_eq!(m.merges[0].retired, retired);
    let patients = all(&m, "Patient");
    assert_eq!(patients.len(), 2);
    assert_eq!(patients[0]["id"], survivor);
    assert_eq!(patients[0]["link"][0]["type"], "replaces");
    assert_eq!(
        patients[0]["link"][0]["other"]["reference"],
        format!("Patient/{retired}")
    );
    assert_eq!(patients[1]["id"], retired);
    assert_eq!(patients[1]["active"], false);
    assert_eq!(patients[1]["link"][0]["type"], "replaced-by");
    assert_eq!(patients[1]["identifier"][0]["value"], "MRN-OLD");
}

#[test]
fn unknown_type_is_kept_as_a_binary() {
    let text = msg(&[
        "MSH|^~\\&|REG|HOSP|SALUS|HOSP|20240301101500+0100||ADT^A99|U1|P|2.5.1",
        "PID|1||MRN123^^^HOSP^MR",
    ]);
    let m = map(&text);
    assert_eq!(m.unsupported.as_deref(), Some("ADT^A99"));
    let binary = one(&m, "Binary");
    assert_eq!(binary["contentType"], "x-application/hl7-v2+er7");
    assert_eq!(binary["data"], ids::base64(text.as_bytes()));
    assert_eq!(binary["id"], derive_id("hl7v2|Binary|REG|HOSP|U1"));
}

const ORU: &[&str] = &[
    "MSH|^~\\&|LAB|HOSP|SALUS|HOSP|20240302090000+0100||ORU^R01^ORU_R01|L1|P|2.5.1",
    "PID|1||MRN123^^^HOSP^MR||TESTPERSON^ALEX||19800215|F",
    "PV1|1|O|||||||||||||||||V0001^^^HOSP^VN",
    "ORC|RE|PL100^EHR|FL200^LAB",
    "OBR|1|PL100^EHR|FL200^LAB|24323-8^Comprehensive metabolic panel^LN|||202403020800+0100|||||||||||||||202403020900+0100|||F|||||||&INTERPRETER&IRIS",
    "OBX|1|NM|2345-7^Glucose^LN||105|mg/dL^^UCUM|70-99|H|||F|||202403020815+0100",
    "NTE|1||Fasting sample.",
    "OBX|2|NM|2345-7^Glucose^LN||98|mg/dL|70-99|N|||C",
    "OBX|3|SN|1920-8^AST^LN||<^5|U/L|||||P",
    "OBX|4|SN|33914-3^eGFR^LN||^60^-^90|mL/min/{1.73_m2}^^UCUM||||||F",
    "OBX|5|FT|11526-1^Pathology study^LN||Line one~Line two\\.br\\||||||F",
    "OBX|6|CWE|600-7^Culture^LN||3092008^Staphylococcus aureus^SCT||||||F",
    "OBX|7|NM|8867-4^Heart rate^LN||72|/min||||||F",
    "OBX|8|NM|2093-3^Cholesterol^LN||high|mg/dL|||||F",
    "SPM|1|^SP300&LAB||119297000^Blood specimen^SCT|||||||||||||202403020745+0100",
];

#[test]
fn oru_maps_report_observations_and_specimen() {
    let m = map(&msg(ORU));
    let report = one(&m, "DiagnosticReport");
    assert_eq!(report["status"], "final");
    assert_eq!(report["code"]["coding"][0]["system"], "http://loinc.org");
    assert_eq!(report["effectiveDateTime"], "2024-03-02T08:00:00+01:00");
    assert_eq!(report["issued"], "2024-03-02T09:00:00+01:00");
    assert_eq!(report["identifier"][0]["type"]["coding"][0]["code"], "PLAC");
    assert_eq!(report["identifier"][1]["value"], "FL200");
    assert_eq!(
        report["resultsInterpreter"][0]["display"],
        "IRIS INTERPRETER"
    );
    assert_eq!(
        report["id"],
        derive_id("hl7v2|DiagnosticReport|filler|LAB|FL200")
    );
    let request = one(&m, "ServiceRequest");
    assert_eq!(request["status"], "completed");
    assert_eq!(
        report["basedOn"][0]["reference"],
        format!("ServiceRequest/{}", request["id"].as_str().unwrap())
    );

    let observations = all(&m, "Observation");
    assert_eq!(observations.len(), 8);
    assert_eq!(report["result"].as_array().unwrap().len(), 8);
    // Two OBX with one code: two ids.
    assert_ne!(observations[0]["id"], observations[1]["id"]);
    let glucose = observations[0];
    assert_eq!(glucose["valueQuantity"]["value"].to_string(), "105");
    assert_eq!(
        glucose["valueQuantity"]["system"],
        "http://unitsofmeasure.org"
    );
    assert_eq!(glucose["valueQuantity"]["code"], "mg/dL");
    assert_eq!(
        glucose["referenceRange"][0]["low"]["value"].to_string(),
        "70"
    );
    assert_eq!(
        glucose["referenceRange"][0]["high"]["value"].to_string(),
        "99"
    );
    assert_eq!(glucose["interpretation"][0]["coding"][0]["code"], "H");
    assert_eq!(
        glucose["interpretation"][0]["coding"][0]["system"],
        "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
    );
    assert_eq!(glucose["note"][0]["text"], "Fasting sample.");
    assert_eq!(glucose["category"][0]["coding"][0]["code"], "laboratory");
    assert_eq!(glucose["effectiveDateTime"], "2024-03-02T08:15:00+01:00");
    // Unit spelled as UCUM without OBX-6.3: still UCUM. Effective falls back to OBR-7.
    assert_eq!(observations[1]["valueQuantity"]["code"], "mg/dL");
    assert_eq!(observations[1]["status"], "corrected");
    assert_eq!(
        observations[1]["effectiveDateTime"],
        "2024-03-02T08:00:00+01:00"
    );
    assert_eq!(observations[2]["valueQuantity"]["comparator"], "<");
    assert_eq!(observations[2]["status"], "preliminary");
    assert!(
        observations[2]["valueQuantity"].get("system").is_none()
            || observations[2]["valueQuantity"]["code"] == "U/L"
    );
    assert_eq!(
        observations[3]["valueRange"]["low"]["value"].to_string(),
        "60"
    );
    assert_eq!(
        observations[3]["valueRange"]["high"]["value"].to_string(),
        "90"
    );
    assert!(observations[4]["valueString"]
        .as_str()
        .unwrap()
        .starts_with("Line one\nLine two"));
    assert_eq!(
        observations[5]["valueCodeableConcept"]["coding"][0]["system"],
        "http://snomed.info/sct"
    );
    assert_eq!(
        observations[6]["category"][0]["coding"][0]["code"],
        "vital-signs"
    );
    // NM that is no number: text, with a warning.
    assert_eq!(observations[7]["valueString"], "high");
    assert!(m
        .warnings
        .iter()
        .any(|w| w.segment == "OBX" && w.field == Some(5)));

    let specimen = one(&m, "Specimen");
    assert_eq!(specimen["type"]["coding"][0]["code"], "119297000");
    assert_eq!(
        specimen["collection"]["collectedDateTime"],
        "2024-03-02T07:45:00+01:00"
    );
    assert_eq!(
        report["specimen"][0]["reference"],
        format!("Specimen/{}", specimen["id"].as_str().unwrap())
    );
    assert_eq!(
        observations[0]["encounter"]["reference"],
        format!("Encounter/{}", one(&m, "Encounter")["id"].as_str().unwrap())
    );
}

#[test]
fn observation_ids_survive_a_resend_and_reordering_of_other_tests() {
    let first = map(&msg(ORU));
    let mut reordered: Vec<&str> = ORU.to_vec();
    reordered.swap(10, 11); // SN eGFR and FT pathology swap places
    let second = map(&msg(&reordered).replace("|L1|", "|L2|"));
    let ids = |m: &Mapped| -> Vec<String> {
        let mut v: Vec<String> = all(m, "Observation")
            .iter()
            .map(|o| o["id"].as_str().unwrap().to_string())
            .collect();
        v.sort();
        v
    };
    assert_eq!(ids(&first), ids(&second));
}

#[test]
fn vxu_maps_immunizations() {
    let text = msg(&[
        "MSH|^~\\&|EHR|CLINIC|IIS|STATE|20240310120000-0500||VXU^V04^VXU_V04|V1|P|2.5.1",
        "PID|1||MRN123^^^CLINIC^MR||TESTPERSON^ALEX||20100101|M",
        "ORC|RE||IMM-1^CLINIC|||||||||9999^NURSE^NORA^^^^^^CLINIC",
        "RXA|0|1|20240310||141^Influenza, seasonal, injectable^CVX|0.5|mL^milliliter^UCUM||00^New immunization record^NIP001|9999^NURSE^NORA^^^^^^CLINIC|||||LOT42|20250101|SKB^GlaxoSmithKline^MVX|||CP|A",
        "RXR|C28161^Intramuscular^NCIT|LD^Left Deltoid^HL70163",
        "OBX|1|CE|64994-7^Vaccine funding program eligibility^LN|1|V01^Not VFC eligible^HL70064||||||F",
        "ORC|RE||IMM-2^CLINIC",
        "RXA|0|1|20200101||03^MMR^CVX|999|||01^Historical information^NIP001|||||||||||RE",
    ]);
    let m = map(&text);
    let imms = all(&m, "Immunization");
    assert_eq!(imms.len(), 2);
    let given = imms[0];
    assert_eq!(
        given["id"],
        derive_id("hl7v2|Immunization|filler|CLINIC|IMM-1")
    );
    assert_eq!(given["status"], "completed");
    assert_eq!(
        given["vaccineCode"]["coding"][0]["system"],
        "http://hl7.org/fhir/sid/cvx"
    );
    assert_eq!(given["occurrenceDateTime"], "2024-03-10");
    assert_eq!(given["primarySource"], true);
    assert_eq!(given["lotNumber"], "LOT42");
    assert_eq!(given["expirationDate"], "2025-01-01");
    assert_eq!(given["doseQuantity"]["system"], "http://unitsofmeasure.org");
    assert_eq!(given["route"]["coding"][0]["code"], "C28161");
    assert_eq!(given["site"]["coding"][0]["code"], "LD");
    assert_eq!(given["performer"][0]["function"]["coding"][0]["code"], "OP");
    assert_eq!(given["performer"][1]["function"]["coding"][0]["code"], "AP");
    assert!(given["manufacturer"]["reference"]
        .as_str()
        .unwrap()
        .starts_with("Organization/"));
    let refused = imms[1];
    assert_eq!(refused["status"], "not-done");
    assert_eq!(refused["statusReason"]["coding"][0]["code"], "PATOBJ");
    assert_eq!(refused["primarySource"], false);
    assert!(refused.get("doseQuantity").is_none(), "999 means unknown");
    let obs = one(&m, "Observation");
    assert_eq!(
        obs["partOf"][0]["reference"],
        format!("Immunization/{}", given["id"].as_str().unwrap())
    );
}

#[test]
fn mdm_maps_a_document_reference_with_the_note_text() {
    let text = msg(&[
        "MSH|^~\\&|NOTES|HOSP|SALUS|HOSP|20240305160000+0100||MDM^T02^MDM_T02|D1|P|2.5.1",
        "EVN|T02|20240305160000+0100",
        "PID|1||MRN123^^^HOSP^MR||TESTPERSON^ALEX",
        "PV1|1|O|||||||||||||||||V0001^^^HOSP^VN",
        "TXA|1|PN^Progress note^HL70270|TX|202403051530+0100|1234^CLINICIAN^CASEY^^^^^^HOSP|202403051545+0100||||||DOC-77^NOTES|||||AU|V",
        "OBX|1|TX|NOTE^Note^L||Patient reports improved sleep.",
        "OBX|2|TX|NOTE^Note^L||Plan: continue \\T\\ review in 2 weeks.",
    ]);
    let m = map(&text);
    let doc = one(&m, "DocumentReference");
    assert_eq!(doc["id"], derive_id("hl7v2|DocumentReference|NOTES|DOC-77"));
    assert_eq!(doc["status"], "current");
    assert_eq!(doc["docStatus"], "final");
    assert_eq!(doc["date"], "2024-03-05T15:30:00+01:00");
    assert_eq!(doc["masterIdentifier"]["value"], "DOC-77");
    assert_eq!(doc["type"]["coding"][0]["code"], "PN");
    assert_eq!(doc["securityLabel"][0]["coding"][0]["code"], "V");
    let attachment = &doc["content"][0]["attachment"];
    assert_eq!(attachment["contentType"], "text/plain; charset=utf-8");
    let expected = "Patient reports improved sleep.\nPlan: continue & review in 2 weeks.";
    assert_eq!(attachment["data"], ids::base64(expected.as_bytes()));
    assert!(doc["author"][0]["reference"]
        .as_str()
        .unwrap()
        .starts_with("Practitioner/"));
    assert!(all(&m, "Observation").is_empty());
}

#[test]
fn orm_maps_a_service_request() {
    let text = msg(&[
        "MSH|^~\\&|EHR|HOSP|LAB|HOSP|20240301090000+0100||ORM^O01^ORM_O01|O1|P|2.3",
        "PID|1||MRN123^^^HOSP^MR||TESTPERSON^ALEX",
        "ORC|NW|ORD-9^EHR|||||^^^202403011000+0100||202403010900+0100|||1234^CAREGIVER^CASEY^^^^^^HOSP",
        "OBR|1|ORD-9^EHR||80053^Comprehensive metabolic panel^C4",
        "NTE|1||Patient fasting.",
        "DG1|1||F32.1^Major depressive disorder^I10",
    ]);
    let m = map(&text);
    let request = one(&m, "ServiceRequest");
    assert_eq!(
        request["id"],
        derive_id("hl7v2|ServiceRequest|placer|EHR|ORD-9")
    );
    assert_eq!(request["status"], "active");
    assert_eq!(request["intent"], "order");
    assert_eq!(
        request["code"]["coding"][0]["system"],
        "http://www.ama-assn.org/go/cpt"
    );
    assert_eq!(request["authoredOn"], "2024-03-01T09:00:00+01:00");
    assert_eq!(request["occurrenceDateTime"], "2024-03-01T10:00:00+01:00");
    assert_eq!(request["reasonCode"][0]["coding"][0]["code"], "F32.1");
    assert_eq!(request["note"][0]["text"], "Patient fasting.");
    assert!(request["requester"]["reference"]
        .as_str()
        .unwrap()
        .starts_with("Practitioner/"));
    assert!(all(&m, "Condition").is_empty());
}

#[test]
fn siu_maps_an_appointment() {
    let text = msg(&[
        "MSH|^~\\&|SCHED|HOSP|SALUS|HOSP|20240301090000+0100||SIU^S12^SIU_S12|S1|P|2.5.1",
        "SCH|APT-1^SCHED|APT-1F^SCHED||||FOLLOWUP^Follow-up visit|FOLLOWUP^Follow-up^HL70276||||||||||||||||||Booked",
        "PID|1||MRN123^^^HOSP^MR||TESTPERSON^ALEX",
        "RGS|1",
        "AIS|1||90834^Psychotherapy, 45 minutes^C4|202403081400+0100|||45|MIN",
        "AIP|1||1234^THERAPIST^TAYLOR^^^^^^HOSP|PPRF^Primary performer",
        "AIL|1||ROOM7^^^HOSP",
    ]);
    let m = map(&text);
    let appointment = one(&m, "Appointment");
    assert_eq!(
        appointment["id"],
        derive_id("hl7v2|Appointment|filler|SCHED|APT-1F")
    );
    assert_eq!(appointment["status"], "booked");
    assert_eq!(appointment["start"], "2024-03-08T14:00:00+01:00");
    assert_eq!(appointment["end"], "2024-03-08T14:45:00+01:00");
    assert_eq!(appointment["minutesDuration"], 45);
    assert_eq!(
        appointment["appointmentType"]["coding"][0]["code"],
        "FOLLOWUP"
    );
    let participants = appointment["participant"].as_array().unwrap();
    assert_eq!(participants.len(), 3);
    assert!(participants[0]["actor"]["reference"]
        .as_str()
        .unwrap()
        .starts_with("Patient/"));
    assert!(participants[1]["actor"]["reference"]
        .as_str()
        .unwrap()
        .starts_with("Practitioner/"));
    assert!(participants[2]["actor"]["reference"]
        .as_str()
        .unwrap()
        .starts_with("Location/"));
    assert!(m.warnings.is_empty(), "{:?}", m.warnings);
}

/// Field text for the fuzz test: separators, escapes, digits, dates, nulls.
fn field_text() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            Just("^".to_string()),
            Just("~".to_string()),
            Just("&".to_string()),
            Just("\\T\\".to_string()),
            Just("\\".to_string()),
            Just("\"\"".to_string()),
            Just("20240301".to_string()),
            Just("202403011000+0100".to_string()),
            Just("99999999999999-9999".to_string()),
            Just("NM".to_string()),
            Just("SN".to_string()),
            Just("MR".to_string()),
            Just("<".to_string()),
            Just("-".to_string()),
            "[A-Za-z0-9 .:/-]{0,8}",
        ],
        0..6,
    )
    .prop_map(|parts| parts.concat())
}

fn segment() -> impl Strategy<Value = String> {
    (
        prop::sample::select(vec![
            "PID", "PV1", "PV2", "NK1", "AL1", "DG1", "PR1", "IN1", "ORC", "OBR", "OBX", "NTE",
            "SPM", "RXA", "RXR", "TXA", "SCH", "AIS", "AIP", "AIL", "TQ1", "MRG", "ZZZ", "GT1",
        ]),
        prop::collection::vec(field_text(), 0..40),
    )
        .prop_map(|(id, fields)| format!("{id}|{}", fields.join("|")))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]
    #[test]
    fn random_messages_never_panic(
        kind in prop::sample::select(vec![
            "ADT^A01", "ADT^A03", "ADT^A08", "ADT^A13", "ADT^A40", "ORU^R01", "VXU^V04",
            "MDM^T02", "ORM^O01", "OML^O21", "SIU^S12", "QRY^Q01",
        ]),
        segments in prop::collection::vec(segment(), 0..12),
    ) {
        let text = format!(
            "MSH|^~\\&|A|B|C|D|20240301||{kind}|X1|P|2.5.1\r{}",
            segments.join("\r")
        );
        if let Ok(message) = Message::parse(&text) {
            if let Ok(mapped) = map_message(&message, &MapOptions::default()) {
                for r in &mapped.resources {
                    prop_assert!(r["resourceType"].is_string());
                    prop_assert!(salus_fhir::ids::is_valid_id(r["id"].as_str().unwrap_or("")));
                }
            }
        }
    }
}
