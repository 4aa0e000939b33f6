//! Methods Microsoft's functional cases leave out: `encrypt` (compared by decrypting, as its IV
//! is random), `perturb` (within its span), and the report's counts.

use chrono::NaiveDate;
use salus_deid::{decrypt, DefaultKeys, Engine, IdentityBook, Origin, Policy, Run};
use serde_json::json;

fn engine(policy: &str) -> Engine {
    Engine::build(
        Policy::parse(policy).unwrap(),
        DefaultKeys::derive(b"methods"),
        NaiveDate::from_ymd_opt(2026, 11, 28).unwrap(),
    )
    .unwrap()
}

#[test]
fn encrypt_is_reversible_by_a_steward_with_the_key() {
    let key = "0123456789abcdef0123456789abcdef";
    let engine = engine(&format!(
        r#"{{"fhirPathRules": [{{"path": "Patient.name.family", "method": "encrypt"}},
                               {{"path": "Patient.identifier.value", "method": "ENCRYPT"}}],
            "parameters": {{"encryptKey": "{key}"}}}}"#
    ));
    let patient = json!({"resourceType": "Patient", "id": "p", "name": [{"family": "Quixley", "given": ["Zeb"]}],
        "identifier": [{"value": "884422"}, {"value": "884422"}]});
    let mut run = Run::new([1; 32], &engine);
    let out = engine
        .deidentify(patient, &Origin::default(), &IdentityBook::new(), &mut run)
        .unwrap();
    let family = out["name"][0]["family"].as_str().unwrap();
    assert_ne!(family, "Quixley");
    assert_eq!(decrypt(family, key.as_bytes()).as_deref(), Some("Quixley"));
    assert_eq!(
        out["name"][0]["given"][0], "Zeb",
        "only what the rule selects"
    );
    // A fresh IV per value: equal inputs give different ciphertexts, both decrypting.
    let (a, b) = (
        out["identifier"][0]["value"].as_str().unwrap(),
        out["identifier"][1]["value"].as_str().unwrap(),
    );
    assert_ne!(a, b);
    assert_eq!(decrypt(a, key.as_bytes()).as_deref(), Some("884422"));
    assert_eq!(decrypt(b, key.as_bytes()).as_deref(), Some("884422"));
    assert_eq!(decrypt(a, b"fedcba9876543210fedcba9876543210"), None);
    let labels: Vec<&str> = out["meta"]["security"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["code"].as_str().unwrap())
        .collect();
    assert_eq!(labels, ["ENCRYPT"]);
    assert_eq!(run.report.rules[0].elements, 1);
    assert_eq!(run.report.rules[1].elements, 2);
    assert_eq!(run.report.methods["encrypt"], 3);
}

#[test]
fn perturb_stays_within_its_span_and_keeps_integers_whole() {
    let engine = engine(
        r#"{"fhirPathRules": [
            {"path": "Observation.value", "method": "perturb", "span": 10, "roundTo": 1},
            {"path": "Observation.component.value", "method": "perturb", "span": 0.5, "rangeType": "proportional"}
        ]}"#,
    );
    for seed in 0..50u8 {
        let obs = json!({"resourceType": "Observation", "id": "o", "status": "final", "code": {"text": "x"},
            "valueQuantity": {"value": 100.0, "unit": "mg"},
            "component": [{"code": {"text": "y"}, "valueInteger": 40}]});
        let mut run = Run::new([seed; 32], &engine);
        let out = engine
            .deidentify(obs, &Origin::default(), &IdentityBook::new(), &mut run)
            .unwrap();
        let v = out["valueQuantity"]["value"].as_f64().unwrap();
        assert!((95.0..=105.0).contains(&v), "{v}");
        assert_eq!(out["valueQuantity"]["unit"], "mg");
        let i = &out["component"][0]["valueInteger"];
        assert!(i.is_i64(), "{i}");
        assert!((30..=50).contains(&i.as_i64().unwrap()), "{i}");
        assert_eq!(out["meta"]["security"][0]["code"], "PERTURBED");
    }
}

#[test]
fn a_runaway_expression_stops_at_the_budget_and_names_its_rule() {
    let engine = engine(
        r#"{"fhirPathRules": [{"path": "Patient.descendants().select(%resource.descendants())", "method": "redact"}]}"#,
    );
    let mut names = Vec::new();
    for i in 0..200 {
        names.push(json!({"family": format!("F{i}"), "given": ["a", "b", "c", "d"], "period": {"start": "2000"}}));
    }
    let patient = json!({"resourceType": "Patient", "id": "p", "name": names});
    let mut run = Run::new([0; 32], &engine);
    let err = engine
        .deidentify(patient, &Origin::default(), &IdentityBook::new(), &mut run)
        .unwrap_err()
        .to_string();
    assert!(err.contains("rule 0") && err.contains("budget"), "{err}");
    assert!(!err.contains("F1"), "{err}");
}
