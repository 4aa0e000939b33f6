//! The context builder's rules on small resources of our own and on the demo data set.

mod common;

use common::*;
use serde_json::{json, Value};

fn patient(id: &str) -> Value {
    json!({"resourceType": "Patient", "id": id, "gender": "female", "birthDate": "1990-06-15",
           "name": [{"family": "Plantedname", "given": ["Quinn"]}]})
}

fn phq9(id: &str, patient: &str, date: &str, score: i64) -> Value {
    labelled(
        json!({"resourceType": "Observation", "id": id, "status": "final",
        "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "survey"}]}],
        "code": {"coding": [{"system": "http://loinc.org", "code": "44261-6", "display": "PHQ-9 total score"}]},
        "subject": {"reference": format!("Patient/{patient}")},
        "effectiveDateTime": date, "valueInteger": score}),
    )
}

fn item9(id: &str, patient: &str, date: &str, answer: &str) -> Value {
    labelled(
        json!({"resourceType": "Observation", "id": id, "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "44260-8"}]},
        "subject": {"reference": format!("Patient/{patient}")},
        "effectiveDateTime": date,
        "valueCodeableConcept": {"coding": [{"system": "http://loinc.org", "code": answer}]}}),
    )
}

fn condition(id: &str, patient: &str, system: &str, code: &str, text: &str) -> Value {
    labelled(json!({"resourceType": "Condition", "id": id,
        "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": "active"}]},
        "code": {"coding": [{"system": system, "code": code}], "text": text},
        "subject": {"reference": format!("Patient/{patient}")},
        "onsetDateTime": "2024-03-01"}))
}

const ICD: &str = "http://hl7.org/fhir/sid/icd-10-cm";

#[test]
fn a_recent_positive_item_9_leads_the_summary_and_an_old_one_does_not() {
    let resources = vec![
        patient("p1"),
        item9("recent", "p1", "2026-11-10", "LA6570-1"),
        item9("old", "p1", "2025-01-10", "LA6571-9"),
        item9("negative", "p1", "2026-11-20", "LA6568-5"),
        phq9("total", "p1", "2026-11-10", 16),
        opt_in("p1", "c1", vec![]),
    ];
    let ctx = context(&disclose(resources, "p1").unwrap(), "p1", 4000);
    assert_eq!(ctx.sections[0].title, "Safety");
    assert_eq!(ctx.sections[0].items.len(), 1);
    assert_eq!(ctx.sections[0].items[0].cite, vec!["Observation/recent"]);
    assert!(ctx.sections[0].items[0].text.contains("score 2"));
    // Even the smallest budget keeps it.
    let small = context(
        &disclose(
            vec![
                patient("p1"),
                item9("recent", "p1", "2026-11-10", "LA6570-1"),
                opt_in("p1", "c1", vec![]),
            ],
            "p1",
        )
        .unwrap(),
        "p1",
        256,
    );
    assert_eq!(small.sections[0].title, "Safety");
}

#[test]
fn trends_are_stated_with_bands_and_summarised_when_the_budget_is_short() {
    let mut resources = vec![patient("p2"), opt_in("p2", "c2", vec![])];
    // Twelve monthly PHQ-9s falling from 19 to 8.
    let scores = [19, 18, 17, 16, 15, 14, 13, 12, 11, 10, 9, 8];
    for (i, score) in scores.iter().enumerate() {
        resources.push(phq9(
            &format!("phq{i}"),
            "p2",
            &format!("2025-{:02}-05", i + 1),
            *score,
        ));
    }
    let disclosed = disclose(resources, "p2").unwrap();
    let full = context(&disclosed, "p2", 8000);
    let measures = full
        .sections
        .iter()
        .find(|s| s.title == "Mental-health measures")
        .unwrap();
    let lead = &measures.items[0];
    assert!(
        lead.text
            .starts_with("PHQ-9 (depression severity): latest 8 (mild)"),
        "{}",
        lead.text
    );
    assert!(
        lead.text
            .contains("12 results, first 19 (moderately severe)"),
        "{}",
        lead.text
    );
    assert!(lead.text.contains("improved"));
    assert_eq!(lead.cite, vec!["Observation/phq11", "Observation/phq0"]);
    // Beyond the lead and eight single results, a summary line counts the rest.
    let last = measures.items.last().unwrap();
    assert_eq!(
        last.text,
        "and 2 earlier PHQ-9 results, falling from 18 to 17 (2025-02-05 to 2025-03-05)"
    );
    assert_eq!(last.cite.len(), 2);
    // Every result is cited once in all.
    let cited: Vec<String> = measures.items.iter().flat_map(|i| i.cite.clone()).collect();
    assert_eq!(cited.len(), 12);
}

#[test]
fn substance_use_records_need_a_permit_naming_their_label() {
    let sud = condition("oud", "p3", ICD, "F11.20", "Opioid dependence");
    assert!(has_label(&sud, "ETH") && has_label(&sud, "42CFRPart2"));
    let base = vec![
        patient("p3"),
        sud.clone(),
        condition("htn", "p3", ICD, "I10", "Hypertension"),
    ];

    let mut without = base.clone();
    without.push(opt_in("p3", "c3", vec![]));
    let disclosed = disclose(without, "p3").unwrap();
    assert_eq!(disclosed.omitted_label, 1);
    let ctx = context(&disclosed, "p3", 4000);
    assert!(!cites(&ctx).contains(&"Condition/oud".to_owned()));
    assert!(!user_text(&ctx).contains("Opioid"));
    assert!(ctx
        .omitted
        .iter()
        .any(|o| o.reason == "label" && o.count == 1));

    let mut with = base;
    with.push(opt_in(
        "p3",
        "c3",
        vec![json!({"type": "permit", "securityLabel": [
        {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "ETH"}]})],
    ));
    let ctx = context(&disclose(with, "p3").unwrap(), "p3", 4000);
    assert!(cites(&ctx).contains(&"Condition/oud".to_owned()));
}

#[test]
fn de_identified_summaries_give_relative_dates_only_and_no_name() {
    let resources = vec![
        patient("p4"),
        phq9("a", "p4", "2026-10-01", 12),
        phq9("b", "p4", "2026-06-01", 18),
        condition("dep", "p4", ICD, "I10", "Hypertension"),
        opt_in("p4", "c4", vec![]),
    ];
    let disclosed = disclose(resources, "p4").unwrap();
    let mut options = options("p4", 4000);
    options.relative_dates = true;
    options.include_name = false;
    let ctx = salus_context::llm_context(&disclosed, &options).unwrap();
    let text = user_text(&ctx);
    let iso = regex_free_iso_date(&text);
    assert!(iso.is_none(), "an absolute date survived: {iso:?}");
    assert!(
        text.contains("months ago") || text.contains("weeks ago"),
        "{text}"
    );
    assert!(!text.contains("Plantedname") && !text.contains("Quinn"));
    assert!(text.contains("Age: 36"));

    // The name appears only when asked for.
    let mut named = options.clone();
    named.relative_dates = false;
    named.include_name = true;
    let ctx = salus_context::llm_context(&disclosed, &named).unwrap();
    assert!(user_text(&ctx).contains("Quinn Plantedname"));
}

/// The first `YYYY-MM-DD` in a text.
fn regex_free_iso_date(text: &str) -> Option<&str> {
    let b = text.as_bytes();
    (0..b.len().saturating_sub(9)).find_map(|i| {
        let w = &b[i..i + 10];
        let digits = |r: std::ops::Range<usize>| w[r].iter().all(u8::is_ascii_digit);
        (digits(0..4) && w[4] == b'-' && digits(5..7) && w[7] == b'-' && digits(8..10))
            .then(|| &text[i..i + 10])
    })
}

#[test]
fn a_budget_too_small_for_the_instructions_is_a_clear_error() {
    let disclosed = disclose(vec![patient("p5"), opt_in("p5", "c5", vec![])], "p5").unwrap();
    let err = salus_context::llm_context(&disclosed, &options("p5", 40)).unwrap_err();
    assert!(
        err.to_string().contains("max_tokens 40 is too small"),
        "{err}"
    );
}

fn demo() -> Vec<Value> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/demo");
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        if entry.path().extension().is_some_and(|e| e == "ndjson") {
            for line in std::fs::read_to_string(entry.path()).unwrap().lines() {
                out.push(labelled(serde_json::from_str(line).unwrap()));
            }
        }
    }
    out
}

fn compartment(all: &[Value], patient: &str) -> Vec<Value> {
    let reference = format!("Patient/{patient}");
    all.iter()
        .filter(|r| {
            (r["resourceType"] == "Patient" && r["id"] == patient)
                || r.pointer("/subject/reference").and_then(Value::as_str) == Some(&reference)
                || r.pointer("/patient/reference").and_then(Value::as_str) == Some(&reference)
        })
        .cloned()
        .collect()
}

#[test]
fn the_demo_patients_get_what_their_consents_say() {
    let all = demo();
    // demo-pat-1: opt-in with a nested deny of PSY: the depression and anxiety diagnoses are
    // withheld, the medication and scores are not.
    let disclosed = disclose(compartment(&all, "demo-pat-1"), "demo-pat-1").unwrap();
    assert_eq!(disclosed.basis, vec!["Consent/demo-consent-1"]);
    let ctx = context(&disclosed, "demo-pat-1", 2000);
    let text = user_text(&ctx);
    assert!(
        !text.contains("depressive disorder") && !text.contains("anxiety disorder"),
        "{text}"
    );
    assert!(ctx
        .omitted
        .iter()
        .any(|o| o.reason == "consent" && o.count >= 2));
    assert!(text.contains("sertraline"));
    assert!(text.contains("PHQ-9 (depression severity): latest 5 (mild)"));

    // demo-pat-2: opt-in: the anxiety diagnosis and its escitalopram.
    let ctx = context(
        &disclose(compartment(&all, "demo-pat-2"), "demo-pat-2").unwrap(),
        "demo-pat-2",
        2000,
    );
    let text = user_text(&ctx);
    assert!(
        text.contains("Generalized anxiety disorder (ICD-10-CM F41.1)"),
        "{text}"
    );
    assert!(text.contains("escitalopram"));
    assert!(
        ctx.consent.decision == "permit" && ctx.consent.basis == vec!["Consent/demo-consent-2"]
    );

    // demo-pat-3: opt-out denying the assistant: refused, naming the Consent.
    let refusal = disclose(compartment(&all, "demo-pat-3"), "demo-pat-3").unwrap_err();
    assert!(
        refusal.reason.contains("Consent/demo-consent-3"),
        "{}",
        refusal.reason
    );
    assert_eq!(refusal.basis, vec!["Consent/demo-consent-3"]);
}

#[test]
fn the_ips_document_has_the_sections_of_the_ips_examples() {
    let all = demo();
    let disclosed = disclose(compartment(&all, "demo-pat-2"), "demo-pat-2").unwrap();
    let doc = salus_context::ips(
        &disclosed,
        &salus_context::IpsOptions {
            now: now(),
            document_id: "00000000-0000-4000-8000-000000000001".into(),
            base: "https://salus.example.org/fhir".into(),
        },
    );
    assert_eq!(doc["type"], "document");
    let composition = &doc["entry"][0]["resource"];
    assert_eq!(composition["resourceType"], "Composition");
    assert_eq!(composition["type"]["coding"][0]["code"], "60591-5");
    assert_eq!(composition["subject"]["reference"], "Patient/demo-pat-2");
    let codes: Vec<&str> = composition["section"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["code"]["coding"][0]["code"].as_str().unwrap())
        .collect();
    // Problems, medications and allergies always; the rest where there is data.
    assert_eq!(&codes[..3], ["11450-4", "10160-0", "48765-2"]);
    let entries: Vec<String> = doc["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["fullUrl"].as_str().unwrap().to_owned())
        .collect();
    for section in composition["section"].as_array().unwrap() {
        assert_eq!(section["text"]["status"], "generated");
        for entry in section["entry"].as_array().into_iter().flatten() {
            let target = format!(
                "https://salus.example.org/fhir/{}",
                entry["reference"].as_str().unwrap()
            );
            assert!(
                entries.contains(&target),
                "{target} is referenced but not in the document"
            );
        }
    }
    // The allergies section is empty for this patient: it says so.
    let allergies = &composition["section"][2];
    assert_eq!(allergies["emptyReason"]["coding"][0]["code"], "unavailable");

    // Every section code we use is one the official IPS examples use.
    let Some(dir) = external("consent-ips/ips") else {
        return;
    };
    let mut example_codes = std::collections::HashSet::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let bundle: Value =
            serde_json::from_str(&std::fs::read_to_string(entry.path()).unwrap()).unwrap();
        let comp = &bundle["entry"][0]["resource"];
        assert_eq!(comp["resourceType"], "Composition");
        for s in comp["section"].as_array().into_iter().flatten() {
            if let Some(code) = s["code"]["coding"][0]["code"].as_str() {
                example_codes.insert(code.to_owned());
            }
        }
    }
    for code in &codes {
        assert!(
            example_codes.contains(*code),
            "section code {code} is not used by the IPS examples"
        );
    }
}
