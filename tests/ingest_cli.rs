//! `salus ingest` and `salus export` end to end, through the real binary, on every backend.

mod common;

use std::collections::BTreeMap;
use std::io::Write;

use common::*;
use serde_json::Value;

/// Input resources by type and id (meta removed), from NDJSON files.
fn ndjson_resources(dir: &std::path::Path) -> BTreeMap<(String, String), Value> {
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.file_name().unwrap() == "log.ndjson" {
            continue;
        }
        for line in std::fs::read_to_string(&path)
            .unwrap()
            .lines()
            .filter(|l| !l.trim().is_empty())
        {
            let v: Value = serde_json::from_str(line).unwrap();
            let key = (
                v["resourceType"].as_str().unwrap().to_owned(),
                v["id"].as_str().unwrap().to_owned(),
            );
            out.insert(key, without_meta(v));
        }
    }
    out
}

fn counts_by_type<'a>(keys: impl Iterator<Item = &'a (String, String)>) -> BTreeMap<String, u64> {
    let mut counts = BTreeMap::new();
    for (t, _) in keys {
        *counts.entry(t.clone()).or_insert(0) += 1;
    }
    counts
}

fn created(report: &Value) -> BTreeMap<String, u64> {
    report["resources"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(t, c)| (t.clone(), c["created"].as_u64().unwrap()))
        .filter(|(_, n)| *n > 0)
        .collect()
}

fn assert_all_unchanged(report: &Value) {
    for (t, c) in report["resources"].as_object().unwrap() {
        assert_eq!(c["created"], 0, "{t}");
        assert_eq!(c["updated"], 0, "{t}");
    }
    assert!(report["resources"]
        .as_object()
        .unwrap()
        .values()
        .all(|c| c["unchanged"].as_u64().unwrap() > 0));
}

#[test]
fn synthea_bulk_export_round_trips() {
    let Some(dir) = external("synthea-bulk/10-patients") else {
        return;
    };
    let input = ndjson_resources(&dir);
    for db in all_databases() {
        let out = run(&db, &["ingest", "--json", dir.to_str().unwrap()]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let report = json_report(&out);
        assert_eq!(report["rejected"].as_array().unwrap().len(), 0, "{report}");
        assert_eq!(
            created(&report),
            counts_by_type(input.keys()),
            "{:?}",
            db.backend
        );
        let notices = report["notices"].to_string();
        assert!(
            notices.contains("log.ndjson") && notices.contains("export log"),
            "{notices}"
        );

        let again = json_report(&run(&db, &["ingest", "--json", dir.to_str().unwrap()]));
        assert_all_unchanged(&again);

        let out_dir = scratch_dir();
        let out = run(&db, &["export", "--out", out_dir.path().to_str().unwrap()]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let exported = ndjson_resources(out_dir.path());
        assert_eq!(exported.len(), input.len());
        for (key, value) in &input {
            assert_eq!(
                exported.get(key),
                Some(value),
                "{key:?} differs after export ({:?})",
                db.backend
            );
        }

        // Export filters: one type, one patient.
        let patient_id = input
            .keys()
            .find(|(t, _)| t == "Patient")
            .unwrap()
            .1
            .clone();
        let filtered = scratch_dir();
        let out = run(
            &db,
            &[
                "export",
                "--type",
                "Condition,Patient",
                "--patient",
                &patient_id,
                "--out",
                filtered.path().to_str().unwrap(),
            ],
        );
        assert_eq!(
            out.status.code(),
            Some(0),
            "{:?}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        let got = ndjson_resources(filtered.path());
        assert!(got.keys().all(|(t, _)| t == "Condition" || t == "Patient"));
        assert_eq!(got.keys().filter(|(t, _)| t == "Patient").count(), 1);
        for ((t, _), v) in &got {
            if t == "Condition" {
                assert_eq!(v["subject"]["reference"], format!("Patient/{patient_id}"));
            }
        }
    }
}

#[test]
fn synthea_bundles_load_every_entry_once() {
    let Some(dir) = external("synthea-bundles") else {
        return;
    };
    let mut expected: BTreeMap<String, u64> = BTreeMap::new();
    for sub in std::fs::read_dir(&dir).unwrap() {
        for file in std::fs::read_dir(sub.unwrap().path()).unwrap() {
            let bundle: Value =
                serde_json::from_slice(&std::fs::read(file.unwrap().path()).unwrap()).unwrap();
            for entry in bundle["entry"].as_array().unwrap() {
                *expected
                    .entry(
                        entry["resource"]["resourceType"]
                            .as_str()
                            .unwrap()
                            .to_owned(),
                    )
                    .or_insert(0) += 1;
            }
        }
    }
    for db in all_databases() {
        let out = run(&db, &["ingest", "--json", dir.to_str().unwrap()]);
        let report = json_report(&out);
        assert_eq!(out.status.code(), Some(0), "{report}");
        assert_eq!(report["rejected"].as_array().unwrap().len(), 0, "{report}");
        assert_eq!(created(&report), expected, "{:?}", db.backend);
        let again = json_report(&run(&db, &["ingest", "--json", dir.to_str().unwrap()]));
        assert_all_unchanged(&again);

        // urn:uuid references were rewritten to Type/id and point at stored resources.
        let out_dir = scratch_dir();
        run(
            &db,
            &[
                "export",
                "--type",
                "Encounter",
                "--out",
                out_dir.path().to_str().unwrap(),
            ],
        );
        let encounters = std::fs::read_to_string(out_dir.path().join("Encounter.ndjson")).unwrap();
        assert!(!encounters.contains("urn:uuid:"));
        for line in encounters.lines() {
            let encounter: Value = serde_json::from_str(line).unwrap();
            assert!(encounter["subject"]["reference"]
                .as_str()
                .unwrap()
                .starts_with("Patient/"));
        }
    }
}

#[test]
fn bad_records_are_reported_and_good_ones_kept() {
    let dir = scratch_dir();
    let mut ndjson = Vec::new();
    writeln!(
        ndjson,
        r#"{{"resourceType":"Patient","id":"good-1","gender":"female"}}"#
    )
    .unwrap();
    writeln!(ndjson, r#"{{"resourceType":"Patient","id":"trunc"#).unwrap();
    writeln!(ndjson, r#"{{"id":"no-type"}}"#).unwrap();
    writeln!(ndjson, r#"{{"resourceType":"Wizard","id":"w"}}"#).unwrap();
    ndjson.extend_from_slice(br#"{"resourceType":"Patient","id":"huge","gender":""#);
    ndjson.extend(std::iter::repeat_n(b'x', 10 << 20));
    ndjson.extend_from_slice(b"\"}\n");
    ndjson.extend_from_slice(
        b"{\"resourceType\":\"Patient\",\"id\":\"bad-utf8\",\"gender\":\"\xff\"}\n",
    );
    writeln!(ndjson, r#"{{"resourceType":"Patient","id":"good-2"}}"#).unwrap();
    std::fs::write(dir.path().join("mixed.ndjson"), &ndjson).unwrap();
    std::fs::write(dir.path().join("empty.ndjson"), b"").unwrap();
    std::fs::write(
        dir.path().join("bundle.json"),
        r#"{"resourceType":"Bundle","type":"collection","entry":[
            {"fullUrl":"urn:uuid:b1","resource":{"resourceType":"Patient","id":"good-3"}},
            {"fullUrl":"urn:uuid:b2","resource":{"resourceType":"Observation","id":"dangling","status":"final",
              "code":{"text":"x"},"subject":{"reference":"urn:uuid:nowhere"}}}]}"#,
    )
    .unwrap();
    for db in all_databases() {
        let out = run(&db, &["ingest", "--json", dir.path().to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(2), "partial success exits 2");
        let report = json_report(&out);
        let rejected: Vec<(String, String, String)> = report["rejected"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                let file = r["file"].as_str().unwrap();
                (
                    file.rsplit('/').next().unwrap().to_owned(),
                    r["position"].as_str().unwrap().to_owned(),
                    r["outcome"]["issue"][0]["diagnostics"]
                        .as_str()
                        .unwrap()
                        .to_owned(),
                )
            })
            .collect();
        let find = |file: &str, pos: &str| {
            rejected
                .iter()
                .find(|(f, p, _)| f == file && p == pos)
                .unwrap_or_else(|| panic!("no rejection at {file} {pos}: {rejected:?}"))
                .2
                .clone()
        };
        assert!(find("mixed.ndjson", "line 2").contains("truncated"));
        assert!(find("mixed.ndjson", "line 3").contains("resourceType"));
        assert!(find("mixed.ndjson", "line 4").contains("Wizard"));
        assert!(find("mixed.ndjson", "line 5").contains("Patient.gender"));
        assert!(find("mixed.ndjson", "line 6").contains("UTF-8"));
        assert!(find("empty.ndjson", "file").contains("empty"));
        assert!(find("bundle.json", "entry 1").contains("Observation.subject.reference"));
        assert_eq!(rejected.len(), 7, "{rejected:?}");
        // Rejections never quote the content.
        assert!(!report.to_string().contains("xxxxxxxx"));
        assert_eq!(created(&report).get("Patient"), Some(&3));
    }
}

#[test]
fn the_demo_data_set_loads_cleanly_and_other_files_are_skipped() {
    let demo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/demo");
    let db = salus_store::testing::sqlite();
    let out = run(&db, &["ingest", "--json", demo.to_str().unwrap()]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let report = json_report(&out);
    assert!(
        report["rejected"].as_array().unwrap().is_empty(),
        "{report}"
    );
    assert_eq!(report["resources"]["Patient"]["created"], 5);
    assert!(
        report["notices"].to_string().contains("README.md"),
        "non-data files are skipped with a notice"
    );
    // --only-if-empty leaves a populated database alone.
    let out = run(
        &db,
        &[
            "ingest",
            "--only-if-empty",
            "--json",
            demo.to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(0));
    assert!(out.stdout.is_empty());
}

#[test]
fn a_missing_path_changes_nothing() {
    let dir = scratch_dir();
    let good = dir.path().join("p.ndjson");
    std::fs::write(&good, "{\"resourceType\":\"Patient\",\"id\":\"p\"}\n").unwrap();
    let db = salus_store::testing::sqlite();
    let out = run(
        &db,
        &["ingest", good.to_str().unwrap(), "/no/such/file.ndjson"],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/no/such/file.ndjson"));
    let out_dir = scratch_dir();
    run(&db, &["export", "--out", out_dir.path().to_str().unwrap()]);
    assert!(!out_dir.path().join("Patient.ndjson").exists());
}

#[test]
fn standard_input_and_gzip() {
    use flate2::write::GzEncoder;
    let mut gz = GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(b"{\"resourceType\":\"Patient\",\"id\":\"gz-1\"}\n{\"resourceType\":\"Patient\",\"id\":\"gz-2\"}\n").unwrap();
    let compressed = gz.finish().unwrap();
    let db = salus_store::testing::sqlite();
    let out = run_with_stdin(&db, &["ingest", "--json", "-"], &compressed);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(json_report(&out)["resources"]["Patient"]["created"], 2);
}

#[test]
fn usage_errors_exit_1_with_a_message() {
    let db = salus_store::testing::sqlite();
    let out = run(&db, &["ingest", "--format", "yaml", "x"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--format"));
    let out = salus()
        .args(["--db", "mysql://x", "migrate"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("sqlite://"));
}
