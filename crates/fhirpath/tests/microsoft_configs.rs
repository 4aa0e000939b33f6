//! Every path and every generalize case of Microsoft's published anonymizer configurations
//! parses, validates, and evaluates without error on representative resources.

use std::path::PathBuf;

use salus_fhirpath::{parse, validate, Evaluator, TypeModel};
use serde_json::{json, Value};

fn config_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/fixtures/external/deid/microsoft-fhir-anonymizer/configurations")
}

/// (file, path or case expression, is a generalize case) for every expression in every file.
fn expressions() -> Option<Vec<(String, String, bool)>> {
    let dir = config_dir();
    if !dir.is_dir() {
        eprintln!(
            "skipping: {} is absent (external fixtures not installed)",
            dir.display()
        );
        return None;
    }
    let mut out = Vec::new();
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("readable")
        .flatten()
        .map(|e| e.path())
        .collect();
    files.sort();
    for file in files
        .into_iter()
        .filter(|f| f.extension().is_some_and(|e| e == "json"))
    {
        let text = std::fs::read_to_string(&file).expect("readable");
        let config: Value =
            serde_json::from_str(text.trim_start_matches('\u{feff}')).expect("JSON");
        let name = file
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .to_string();
        for rule in config["fhirPathRules"].as_array().into_iter().flatten() {
            out.push((
                name.clone(),
                rule["path"].as_str().expect("path").to_string(),
                false,
            ));
            for (cond, val) in rule["cases"].as_object().into_iter().flatten() {
                out.push((name.clone(), cond.clone(), true));
                let val = val.as_str().map_or_else(|| val.to_string(), str::to_string);
                out.push((name.clone(), val, true));
            }
        }
    }
    Some(out)
}

#[test]
fn every_path_and_case_parses() {
    let Some(exprs) = expressions() else { return };
    assert!(exprs.len() > 200, "found only {} expressions", exprs.len());
    assert!(exprs.iter().filter(|e| e.2).count() >= 14);
    for (file, src, _) in &exprs {
        if let Err(e) = validate(src, TypeModel::r4()) {
            panic!("{file}: `{src}`: {e}");
        }
    }
}

#[test]
fn every_path_evaluates_on_sample_resources() {
    let Some(exprs) = expressions() else { return };
    let resources = [
        json!({"resourceType": "Patient", "id": "p", "name": [{"family": "F", "given": ["G"], "use": "official"}],
               "address": [{"city": "KeepTest", "country": "US", "state": "WA", "postalCode": "98052"}],
               "birthDate": "1990-01-01", "communication": [{"language": {"coding": [{"code": "en-US"}]}}]}),
        json!({"resourceType": "Observation", "id": "o", "status": "final", "code": {"text": "c"},
               "valueQuantity": {"value": 1}, "subject": {"reference": "Patient/p"}, "effectiveDateTime": "2020-01-01T00:00:00Z"}),
        json!({"resourceType": "Bundle", "type": "collection", "entry": [{"fullUrl": "urn:x", "resource": {"resourceType": "Device", "id": "d"}}]}),
        json!({"resourceType": "FamilyMemberHistory", "status": "completed", "patient": {"reference": "Patient/p"},
               "relationship": {"text": "r"}, "condition": [{"code": {"text": "c"}, "onsetAge": {"value": 50}}]}),
    ];
    let ev = Evaluator::r4();
    for (file, src, is_case) in exprs.iter().filter(|e| !e.2) {
        let _ = is_case;
        let expr = parse(src).expect("parses");
        for r in &resources {
            if let Err(e) = ev.evaluate(&expr, r) {
                panic!("{file}: `{src}` on {}: {e}", r["resourceType"]);
            }
        }
    }
    let p = &resources[0];
    let names = ev
        .evaluate(&parse("Patient.nodesByType('HumanName').use").unwrap(), p)
        .unwrap();
    assert_eq!(
        names[0].as_node().unwrap().location().pointer(),
        "/name/0/use"
    );
    let fmh = &resources[3];
    let ages = ev
        .evaluate(
            &parse("FamilyMemberHistory.condition.onset as Age").unwrap(),
            fmh,
        )
        .unwrap();
    assert_eq!(
        ages[0].as_node().unwrap().location().pointer(),
        "/condition/0/onsetAge"
    );
}
