//! `salus deid` and `salus policy check` through the real binary (no database involved).

mod common;

use std::path::Path;

use common::*;
use serde_json::Value;

fn repo(relative: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(relative)
}

fn planted() -> Vec<String> {
    let text = std::fs::read_to_string(repo("fixtures/deid/planted.json")).unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    v["planted"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap().to_string())
        .collect()
}

#[test]
fn deid_writes_files_of_the_same_names_and_no_planted_value_survives() {
    let out = scratch_dir();
    let inputs: Vec<String> = ["Patient", "Observation", "Encounter"]
        .iter()
        .map(|t| {
            repo(&format!("fixtures/deid/{t}.ndjson"))
                .display()
                .to_string()
        })
        .collect();
    let report = out.path().join("report.json");
    let mut args = vec![
        "deid".to_string(),
        "--policy".into(),
        "safe-harbor".into(),
        "--out".into(),
        out.path().join("deid").display().to_string(),
        "--report".into(),
        report.display().to_string(),
    ];
    args.extend(inputs);
    let result = salus().args(&args).output().unwrap();
    assert_eq!(
        result.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&result.stderr)
    );
    let mut all = String::new();
    for t in ["Patient", "Observation", "Encounter"] {
        let text = std::fs::read_to_string(out.path().join(format!("deid/{t}.ndjson"))).unwrap();
        let input = std::fs::read_to_string(repo(&format!("fixtures/deid/{t}.ndjson"))).unwrap();
        assert_eq!(
            text.lines().count(),
            input.lines().filter(|l| !l.trim().is_empty()).count(),
            "{t}"
        );
        for line in text.lines() {
            let v: Value = serde_json::from_str(line).unwrap();
            assert_eq!(v["resourceType"], t);
            assert!(v["meta"]["security"].is_array(), "labelled");
        }
        all.push_str(&text);
    }
    let lower = all.to_lowercase();
    for p in planted() {
        assert!(!lower.contains(&p.to_lowercase()), "{p} survived");
    }
    // The report: counts only, no planted value.
    let report = std::fs::read_to_string(report).unwrap();
    let parsed: Value = serde_json::from_str(&report).unwrap();
    assert!(parsed["resources"].as_u64().unwrap() > 0);
    for p in planted() {
        assert!(!report.contains(&p), "the report carries {p}");
    }
}

#[test]
fn deid_of_a_single_input_writes_standard_output() {
    let Some(dir) = external("deid/microsoft-fhir-anonymizer") else {
        return;
    };
    let result = salus()
        .args(["deid", "--policy"])
        .arg(dir.join("configurations/common-config.json"))
        .arg(dir.join("cases/patient-basic.json"))
        .output()
        .unwrap();
    assert_eq!(
        result.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&result.stderr)
    );
    let got: Value = serde_json::from_slice(&result.stdout).unwrap();
    let want: Value = serde_json::from_str(
        std::fs::read_to_string(dir.join("cases/patient-basic-target.json"))
            .unwrap()
            .trim_start_matches('\u{feff}'),
    )
    .unwrap();
    assert_eq!(
        got, want,
        "Microsoft's configuration, unchanged, gives Microsoft's result"
    );
}

#[test]
fn policy_check_lists_every_problem_with_its_rule() {
    let dir = scratch_dir();
    let bad = dir.path().join("bad.json");
    std::fs::write(
        &bad,
        r#"{"fhirPathRules": [
            {"path": "Patient.name", "method": "scramble"},
            {"path": "Patient.name.where(", "method": "redact"},
            {"path": "Patient.birthDate", "method": "perturb"},
            {"path": "Patient.gender", "method": "keep"},
            {"path": "Patient.gender", "method": "redact"},
            {"method": "redact"}
          ],
          "parameters": {"encryptKey": "short-key"}}"#,
    )
    .unwrap();
    let result = salus()
        .args(["policy", "check"])
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(result.status.code(), Some(1));
    let err = String::from_utf8_lossy(&result.stderr);
    for expected in [
        "rule 0 (Patient.name): unknown method `scramble`",
        "rule 1 (Patient.name.where(): invalid FHIRPath",
        "rule 2 (Patient.birthDate): perturb needs `span`",
        "rule 4 (Patient.gender): conflicts with rule 3",
        "rule 5: missing `path`",
        "parameter `encryptKey` is 72 bits",
    ] {
        assert!(err.contains(expected), "missing {expected:?} in:\n{err}");
    }
    assert!(err.contains("6 problems"), "{err}");
    // The key is never echoed.
    assert!(!err.contains("short-key"));

    let ok = salus()
        .args(["policy", "check", "safe-harbor"])
        .output()
        .unwrap();
    assert_eq!(
        ok.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(String::from_utf8_lossy(&ok.stdout).contains("is valid"));
}

#[test]
fn a_bad_policy_stops_deid_before_anything_is_written() {
    let dir = scratch_dir();
    let bad = dir.path().join("bad.json");
    std::fs::write(
        &bad,
        r#"{"fhirPathRules": [{"path": "Patient.name", "method": "nope"}]}"#,
    )
    .unwrap();
    let out = dir.path().join("out");
    let result = salus()
        .args(["deid", "--policy"])
        .arg(&bad)
        .arg("--out")
        .arg(&out)
        .arg(repo("fixtures/deid/Patient.ndjson"))
        .output()
        .unwrap();
    assert_eq!(result.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&result.stderr).contains("unknown method `nope`"));
    assert!(!out.exists());
}

#[test]
fn stored_policies_from_the_command_line_are_checked_listed_used_and_deleted() {
    for db in all_databases() {
        let dir = scratch_dir();
        let good = dir.path().join("good.json");
        std::fs::write(
            &good,
            r#"{"fhirPathRules": [{"path": "nodesByType('HumanName')", "method": "redact"}]}"#,
        )
        .unwrap();
        let bad = dir.path().join("bad.json");
        std::fs::write(
            &bad,
            r#"{"fhirPathRules": [{"path": "x", "method": "nope"}]}"#,
        )
        .unwrap();
        let put = run(
            &db,
            &["policy", "put", "names-only", good.to_str().unwrap()],
        );
        assert_eq!(
            put.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&put.stderr)
        );
        let refused = run(&db, &["policy", "put", "broken", bad.to_str().unwrap()]);
        assert_eq!(refused.status.code(), Some(1));
        let preset = run(
            &db,
            &["policy", "put", "safe-harbor", good.to_str().unwrap()],
        );
        assert_eq!(preset.status.code(), Some(1));
        let list = run(&db, &["policy", "list"]);
        let listed = String::from_utf8_lossy(&list.stdout).to_string();
        assert!(
            listed.contains("names-only") && !listed.contains("broken"),
            "{listed}"
        );
        assert!(listed.contains("safe-harbor (preset)"));
        assert_eq!(
            run(&db, &["policy", "delete", "names-only"]).status.code(),
            Some(0)
        );
        assert_eq!(
            run(&db, &["policy", "delete", "names-only"]).status.code(),
            Some(1)
        );
    }
}
