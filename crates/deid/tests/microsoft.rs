//! Microsoft's FHIR anonymizer functional test cases (input, configuration, expected output):
//! Salus's output must be JSON-equal to theirs, cryptoHash and dateShift values included.
//! The cases live in ../shared/fixtures/external/deid/microsoft-fhir-anonymizer; the test
//! skips, saying so, when that directory is absent.

use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use salus_deid::{DefaultKeys, Engine, IdentityBook, Origin, Policy, Run};
use serde_json::Value;

fn fixtures() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/fixtures/external/deid/microsoft-fhir-anonymizer");
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!(
            "skipping Microsoft anonymizer cases: {} is absent",
            dir.display()
        );
        None
    }
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(text.trim_start_matches('\u{feff}'))
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn engine(dir: &Path, config: &str) -> Engine {
    let text = std::fs::read_to_string(dir.join("configurations").join(config)).unwrap();
    let policy = Policy::parse(&text).unwrap_or_else(|p| panic!("{config}: {p}"));
    Engine::build(
        policy,
        DefaultKeys::random([9; 32]),
        NaiveDate::from_ymd_opt(2026, 11, 28).unwrap(),
    )
    .unwrap()
}

fn run(engine: &Engine, input: Value) -> Result<Value, salus_deid::DeidError> {
    let mut book = IdentityBook::new();
    book.add_resource(&input);
    let mut run = Run::new([1; 32], engine);
    engine.deidentify(input, &Origin::default(), &book, &mut run)
}

/// The first place two JSON values differ, as a pointer (test data only: synthetic values).
fn first_difference(path: &str, got: &Value, want: &Value) -> Option<String> {
    match (got, want) {
        (Value::Object(g), Value::Object(w)) => {
            for k in g.keys().chain(w.keys()) {
                match (g.get(k), w.get(k)) {
                    (Some(a), Some(b)) => {
                        if let Some(d) = first_difference(&format!("{path}/{k}"), a, b) {
                            return Some(d);
                        }
                    }
                    (a, b) => return Some(format!("{path}/{k}: got {a:?}, want {b:?}")),
                }
            }
            None
        }
        (Value::Array(g), Value::Array(w)) => {
            if g.len() != w.len() {
                return Some(format!(
                    "{path}: {} items, want {}: got {got}, want {want}",
                    g.len(),
                    w.len()
                ));
            }
            g.iter()
                .zip(w)
                .enumerate()
                .find_map(|(i, (a, b))| first_difference(&format!("{path}/{i}"), a, b))
        }
        (a, b) if a == b => None,
        (a, b) => Some(format!("{path}: got {a}, want {b}")),
    }
}

const CASES: &[(&str, &str, &str)] = &[
    (
        "common-config.json",
        "patient-basic.json",
        "patient-basic-target.json",
    ),
    (
        "common-config.json",
        "patient-special-content.json",
        "patient-special-content-target.json",
    ),
    (
        "common-config.json",
        "patient-null-date.json",
        "patient-null-date-target.json",
    ),
    (
        "common-config.json",
        "bundle-basic.json",
        "bundle-basic-target.json",
    ),
    (
        "common-config.json",
        "contained-basic.json",
        "contained-basic-target.json",
    ),
    (
        "common-config.json",
        "contained-in-bundle.json",
        "contained-in-bundle-target.json",
    ),
    (
        "common-config.json",
        "bundle-without-entry-resource.json",
        "bundle-without-entry-resource-target.json",
    ),
    (
        "common-no-partial-config.json",
        "patient-no-partial.json",
        "patient-no-partial-target.json",
    ),
    (
        "redact-all-config.json",
        "patient-basic.json",
        "patient-redact-all-target.json",
    ),
    (
        "redact-all-config.json",
        "bundle-basic.json",
        "bundle-redact-all-target.json",
    ),
    (
        "redact-all-config.json",
        "contained-basic.json",
        "contained-redact-all-target.json",
    ),
    (
        "redact-all-config.json",
        "contained-in-bundle.json",
        "contained-in-bundle-redact-all-target.json",
    ),
    (
        "generalize-patient-config.json",
        "patient-generalize.json",
        "patient-generalize-target.json",
    ),
    (
        "substitute-primitive.json",
        "patient-substitute-primitive.json",
        "patient-substitute-primitive-target.json",
    ),
    (
        "substitute-complex.json",
        "patient-substitute-complex.json",
        "patient-substitute-complex-target.json",
    ),
    (
        "substitute-conflict-rules.json",
        "patient-substitute-conflict-rules.json",
        "patient-substitute-conflict-rules-target.json",
    ),
    (
        "substitute-multiple.json",
        "patient-substitute-multiple.json",
        "patient-substitute-multiple-target.json",
    ),
    (
        "substitute-multiple.json",
        "contained-substitute.json",
        "contained-substitute-target.json",
    ),
    (
        "substitute-multiple.json",
        "bundle-substitute.json",
        "bundle-substitute-target.json",
    ),
    (
        "substitute-multiple-2.json",
        "patient-substitute-multiple-2.json",
        "patient-substitute-multiple-2-target.json",
    ),
    (
        "configuration-skip-processing-error.json",
        "patient-basic.json",
        "patient-empty.json",
    ),
    (
        "configuration-skip-processing-error.json",
        "contained-basic.json",
        "condition-empty.json",
    ),
    (
        "configuration-skip-processing-error.json",
        "bundle-basic.json",
        "bundle-empty.json",
    ),
];

#[test]
fn every_microsoft_case_matches_their_expected_output() {
    let Some(dir) = fixtures() else { return };
    let mut failures = Vec::new();
    for (config, input, expected) in CASES {
        let engine = engine(&dir, config);
        let got = match run(&engine, read_json(&dir.join("cases").join(input))) {
            Ok(v) => v,
            Err(e) => {
                failures.push(format!("{config} × {input}: error {e}"));
                continue;
            }
        };
        let want = read_json(&dir.join("cases").join(expected));
        if let Some(d) = first_difference("", &got, &want) {
            failures.push(format!("{config} × {input} → {expected}: {d}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases differ:\n{}",
        failures.len(),
        CASES.len(),
        failures.join("\n")
    );
}

#[test]
fn raise_processing_error_fails_the_resource() {
    let Some(dir) = fixtures() else { return };
    let engine = engine(&dir, "configuration-raise-processing-error.json");
    for input in [
        "patient-basic.json",
        "contained-basic.json",
        "bundle-basic.json",
    ] {
        let err = run(&engine, read_json(&dir.join("cases").join(input))).expect_err(input);
        // The error names the rule, never a value from the resource.
        let text = err.to_string();
        assert!(text.contains("rule 0"), "{input}: {text}");
        assert!(!text.contains("Family"), "{input}: {text}");
    }
}

#[test]
fn every_microsoft_configuration_is_a_valid_policy() {
    let Some(dir) = fixtures() else { return };
    for entry in std::fs::read_dir(dir.join("configurations")).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        if let Err(p) = Policy::parse(&text) {
            panic!("{}: {p}", path.display());
        }
    }
}
