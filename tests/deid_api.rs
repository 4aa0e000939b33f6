//! De-identification through the server and the CLI, on every backend: stored policies (who may
//! change them, every problem of a bad one), `$preview`, and Bulk Data `$export` with a policy,
//! whose every byte is checked against the identifiers planted in `fixtures/deid`.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::*;
use reqwest::blocking::Client;
use serde_json::{json, Value};

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/deid")
}

fn planted() -> Vec<String> {
    let text = std::fs::read_to_string(fixture_dir().join("planted.json")).unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    v["planted"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap().to_owned())
        .collect()
}

/// Every planted identifier found in `bytes`.
fn leaks(bytes: &str) -> Vec<String> {
    planted()
        .into_iter()
        .filter(|p| bytes.contains(p.as_str()))
        .collect()
}

fn ingest_fixture(db: &TestDb) {
    let dir = fixture_dir();
    let files: Vec<String> = ["Patient", "Observation", "Encounter"]
        .iter()
        .map(|t| dir.join(format!("{t}.ndjson")).display().to_string())
        .collect();
    let mut args = vec!["ingest"];
    args.extend(files.iter().map(String::as_str));
    let out = run(db, &args);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A server whose export jobs write into `exports` (never the working directory).
fn start_server(db: &TestDb, exports: &Path) -> Server {
    let config = exports.join("salus.toml");
    std::fs::write(
        &config,
        format!(
            "[export]\ndir = \"{}\"\n[deid]\nsecret = \"test-secret\"\n",
            exports.join("jobs").display()
        ),
    )
    .unwrap();
    Server::start_with_args(db, &["--config", config.to_str().unwrap()])
}

fn issues(v: &Value) -> Vec<Value> {
    assert_eq!(v["resourceType"], "OperationOutcome", "{v}");
    v["issue"].as_array().unwrap().clone()
}

const GOOD_POLICY: &str = r#"{"fhirPathRules": [
    {"path": "nodesByType('HumanName')", "method": "redact"},
    {"path": "Resource.id", "method": "cryptoHash"}
]}"#;

#[test]
fn stored_policies_crud_every_problem_and_roles() {
    for db in all_databases() {
        let scratch = scratch_dir();
        let server = start_server(&db, scratch.path());
        let steward = client_with_token(&make_token(&db, "steward"));
        let clinician = client_with_token(&make_token(&db, "clinician"));
        let url = server.url("/admin/deid-policies/research.v1");

        assert_eq!(steward.get(&url).send().unwrap().status(), 404);
        let created = steward.put(&url).body(GOOD_POLICY).send().unwrap();
        assert_eq!(created.status(), 201);
        assert_eq!(
            created.headers()["location"],
            "/admin/deid-policies/research.v1"
        );
        let updated = steward.put(&url).body(GOOD_POLICY).send().unwrap();
        assert_eq!(updated.status(), 200);
        let read = steward.get(&url).send().unwrap();
        assert_eq!(read.status(), 200);
        assert_eq!(read.text().unwrap(), GOOD_POLICY);
        let listed: Value = steward
            .get(server.url("/admin/deid-policies"))
            .send()
            .unwrap()
            .json()
            .unwrap();
        assert_eq!(listed["stored"][0]["name"], "research.v1");

        // Every problem, one issue each, pointing at its rule; nothing stored.
        let bad = r#"{"fhirPathRules": [
            {"path": "Patient.name", "method": "obliterate"},
            {"path": "Patient.birthDate", "method": "dateshift"},
            {"method": "redact"}
        ], "parameters": {"dateShiftKey": 5}}"#;
        let expected = salus_deid::Policy::parse(bad).unwrap_err().0;
        assert!(expected.len() >= 3, "{expected:?}");
        let refused = steward
            .put(server.url("/admin/deid-policies/broken"))
            .body(bad)
            .send()
            .unwrap();
        assert_eq!(refused.status(), 400);
        let got = issues(&refused.json().unwrap());
        assert_eq!(got.len(), expected.len(), "{got:?}");
        for (issue, problem) in got.iter().zip(&expected) {
            assert_eq!(issue["diagnostics"], problem.to_string());
            if let Some(i) = problem.rule {
                assert_eq!(issue["expression"][0], format!("fhirPathRules[{i}]"));
            }
        }
        assert_eq!(
            steward
                .get(server.url("/admin/deid-policies/broken"))
                .send()
                .unwrap()
                .status(),
            404
        );

        // Presets are reserved, and readable.
        let preset = steward
            .put(server.url("/admin/deid-policies/safe-harbor"))
            .body(GOOD_POLICY)
            .send()
            .unwrap();
        assert_eq!(preset.status(), 409);
        assert!(issues(&preset.json().unwrap())[0]["diagnostics"]
            .as_str()
            .unwrap()
            .contains("preset"));
        let preset = steward
            .get(server.url("/admin/deid-policies/safe-harbor"))
            .send()
            .unwrap()
            .text()
            .unwrap();
        assert_eq!(preset, salus_deid::preset("safe-harbor").unwrap());
        assert_eq!(
            steward
                .put(server.url("/admin/deid-policies/bad%20name"))
                .body(GOOD_POLICY)
                .send()
                .unwrap()
                .status(),
            400
        );

        // A clinician may neither read nor change policies.
        assert_eq!(clinician.get(&url).send().unwrap().status(), 403);
        assert_eq!(
            clinician
                .put(&url)
                .body(GOOD_POLICY)
                .send()
                .unwrap()
                .status(),
            403
        );
        assert_eq!(clinician.delete(&url).send().unwrap().status(), 403);

        assert_eq!(steward.delete(&url).send().unwrap().status(), 204);
        assert_eq!(steward.delete(&url).send().unwrap().status(), 404);
        server.stop();

        // The audit trail names the policy of each change.
        let store = salus_store::Store::open(&db.url).unwrap();
        let changes: Vec<salus_auth::audit::AuditRecord> = store
            .audit_page(0, 10_000)
            .unwrap()
            .iter()
            .map(|row| salus_auth::audit::parse_ledger_line(&row.line).unwrap().1)
            .filter(|e| e.action == "policy-change")
            .collect();
        assert!(changes
            .iter()
            .any(|e| e.entities == ["deid-policy/research.v1"] && e.status == 201));
        assert!(changes
            .iter()
            .any(|e| e.entities == ["deid-policy/research.v1"] && e.status == 204));
    }
}

#[test]
fn preview_removes_planted_identifiers_and_stores_nothing() {
    for db in all_databases() {
        let scratch = scratch_dir();
        let server = start_server(&db, scratch.path());
        let steward = client_with_token(&make_token(&db, "steward"));
        let patient = std::fs::read_to_string(fixture_dir().join("Patient.ndjson")).unwrap();
        let patient = patient.lines().next().unwrap();
        let before = leaks(patient);
        assert!(
            before.len() >= 8,
            "the fixture plants identifiers: {before:?}"
        );

        let answer = steward
            .post(server.url("/admin/deid-policies/safe-harbor/$preview"))
            .body(patient.to_owned())
            .send()
            .unwrap();
        assert_eq!(answer.status(), 200);
        let text = answer.text().unwrap();
        assert_eq!(leaks(&text), Vec::<String>::new(), "{text}");
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["resource"]["resourceType"], "Patient");
        assert_eq!(v["report"]["resources"], 1);
        assert!(v["report"]["free_text"]
            .as_object()
            .is_some_and(|m| !m.is_empty()));

        // A Bundle: the Observation's note names the Patient of the same Bundle.
        let observation =
            std::fs::read_to_string(fixture_dir().join("Observation.ndjson")).unwrap();
        let bundle = json!({"resourceType": "Bundle", "type": "collection", "entry": [
            {"resource": serde_json::from_str::<Value>(patient).unwrap()},
            {"resource": serde_json::from_str::<Value>(observation.lines().next().unwrap()).unwrap()},
        ]});
        let answer = steward
            .post(server.url("/admin/deid-policies/safe-harbor/$preview"))
            .body(bundle.to_string())
            .send()
            .unwrap();
        assert_eq!(answer.status(), 200);
        let text = answer.text().unwrap();
        assert_eq!(leaks(&text), Vec::<String>::new(), "{text}");

        // Nothing was stored; an unknown policy is not found.
        let admin = client_with_token(&make_token(&db, "admin"));
        assert_eq!(
            admin
                .get(server.url("/fhir/Patient/deid-p1"))
                .send()
                .unwrap()
                .status(),
            404
        );
        assert_eq!(
            steward
                .post(server.url("/admin/deid-policies/nope/$preview"))
                .body(patient.to_owned())
                .send()
                .unwrap()
                .status(),
            404
        );
    }
}

/// Poll a status URL until the job is no longer running.
fn poll(http: &Client, status_url: &str) -> reqwest::blocking::Response {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let resp = http.get(status_url).send().unwrap();
        if resp.status() != 202 {
            return resp;
        }
        assert!(resp.headers().contains_key("x-progress"));
        assert!(
            Instant::now() < deadline,
            "the export did not finish in 60 s"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn deidentified_bulk_export_leaks_no_planted_identifier() {
    for db in all_databases() {
        ingest_fixture(&db);
        let scratch = scratch_dir();
        let server = start_server(&db, scratch.path());
        let steward = client_with_token(&make_token(&db, "steward"));
        let admin = client_with_token(&make_token(&db, "admin"));

        // Refused before any job: identified export for a steward, an unknown policy, an
        // output format that is not NDJSON.
        assert_eq!(
            steward
                .get(server.url("/fhir/$export"))
                .send()
                .unwrap()
                .status(),
            403
        );
        let unknown = steward
            .get(server.url("/fhir/$export?deid=no-such-policy"))
            .send()
            .unwrap();
        assert_eq!(unknown.status(), 400);
        assert!(issues(&unknown.json().unwrap())[0]["diagnostics"]
            .as_str()
            .unwrap()
            .contains("no-such-policy"));
        assert_eq!(
            steward
                .get(server.url("/fhir/$export?deid=safe-harbor&_outputFormat=text/csv"))
                .send()
                .unwrap()
                .status(),
            400
        );

        let kickoff = steward
            .get(server.url("/fhir/$export?deid=safe-harbor"))
            .header("Prefer", "respond-async")
            .header("Accept", "application/fhir+json")
            .send()
            .unwrap();
        assert_eq!(kickoff.status(), 202);
        let status_url = kickoff.headers()["content-location"]
            .to_str()
            .unwrap()
            .to_owned();
        let done = poll(&steward, &status_url);
        assert_eq!(done.status(), 200);
        let manifest: Value = done.json().unwrap();
        assert_eq!(manifest["requiresAccessToken"], true);
        assert!(manifest["transactionTime"].is_string());
        assert!(manifest["request"]
            .as_str()
            .unwrap()
            .ends_with("/fhir/$export?deid=safe-harbor"));
        assert_eq!(manifest["error"], json!([]));
        assert_eq!(
            manifest["extension"]["deidentification"]["report"]["resources"],
            9
        );
        let outputs = manifest["output"].as_array().unwrap();
        let types: Vec<&str> = outputs
            .iter()
            .map(|o| o["type"].as_str().unwrap())
            .collect();
        assert_eq!(types[0], "Patient", "Patients first");
        assert_eq!(outputs.len(), 3);
        for output in outputs {
            assert_eq!(output["count"], 3);
            let file = steward.get(output["url"].as_str().unwrap()).send().unwrap();
            assert_eq!(file.status(), 200);
            assert!(file.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("application/fhir+ndjson"));
            let text = file.text().unwrap();
            assert_eq!(leaks(&text), Vec::<String>::new(), "{text}");
            let lines: Vec<Value> = text
                .lines()
                .map(|l| serde_json::from_str(l).unwrap())
                .collect();
            assert_eq!(lines.len(), 3);
            assert!(lines.iter().all(|r| r["resourceType"] == output["type"]));
        }
        // Nothing on disk outside the job's files either.
        for entry in walk(&scratch.path().join("jobs")) {
            let bytes = std::fs::read_to_string(&entry).unwrap();
            assert_eq!(leaks(&bytes), Vec::<String>::new(), "{}", entry.display());
        }

        // The job's URLs are authorized as its kick-off: the other kind names no job.
        let identified = status_url.replace("/deidentified/", "/identified/");
        assert_eq!(steward.get(&identified).send().unwrap().status(), 403);
        assert_eq!(admin.get(&identified).send().unwrap().status(), 404);
        let clinician = client_with_token(&make_token(&db, "clinician"));
        assert_eq!(clinician.get(&status_url).send().unwrap().status(), 403);

        // A restarted server still answers for the finished job.
        let path = status_url[status_url.find("/fhir/").unwrap()..].to_owned();
        server.stop();
        let server = start_server(&db, scratch.path());
        let again = steward.get(server.url(&path)).send().unwrap();
        assert_eq!(again.status(), 200);
        // Deleting it removes it.
        assert_eq!(
            steward.delete(server.url(&path)).send().unwrap().status(),
            202
        );
        assert_eq!(steward.get(server.url(&path)).send().unwrap().status(), 404);

        // Identified export by an administrator: the planted values are there (the check
        // above is not vacuous).
        let kickoff = admin
            .get(server.url("/fhir/$export?_type=Observation"))
            .send()
            .unwrap();
        assert_eq!(kickoff.status(), 202);
        let status_url = kickoff.headers()["content-location"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(status_url.contains("/identified/"));
        let manifest: Value = poll(&admin, &status_url).json().unwrap();
        let outputs = manifest["output"].as_array().unwrap();
        assert_eq!(outputs.len(), 1);
        let text = admin
            .get(outputs[0]["url"].as_str().unwrap())
            .send()
            .unwrap()
            .text()
            .unwrap();
        assert!(!leaks(&text).is_empty());
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

#[test]
fn cli_deidentified_export_leaks_no_planted_identifier() {
    for db in all_databases() {
        ingest_fixture(&db);
        let scratch = scratch_dir();
        let out_dir = scratch.path().join("out");
        let out = run(
            &db,
            &[
                "export",
                "--deid",
                "safe-harbor",
                "--out",
                out_dir.to_str().unwrap(),
            ],
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(stdout.contains("exported 9 resources"), "{stdout}");
        let mut names: Vec<String> = std::fs::read_dir(&out_dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(
            names,
            [
                "Encounter.ndjson",
                "Observation.ndjson",
                "Patient.ndjson",
                "deid-report.json"
            ]
        );
        for name in &names {
            let text = std::fs::read_to_string(out_dir.join(name)).unwrap();
            assert_eq!(leaks(&text), Vec::<String>::new(), "{name}: {text}");
        }
        let report: Value = serde_json::from_str(
            &std::fs::read_to_string(out_dir.join("deid-report.json")).unwrap(),
        )
        .unwrap();
        assert_eq!(report["resources"], 9);

        // A stored policy by name, then an invalid policy file: exit 1, every problem
        // listed, nothing written.
        let store = salus_store::Store::open(&db.url).unwrap();
        store
            .put_policy("names-only", GOOD_POLICY, "cli/test", 0)
            .unwrap();
        let named = scratch.path().join("named");
        let out = run(
            &db,
            &[
                "export",
                "--deid",
                "names-only",
                "--type",
                "Patient",
                "--out",
                named.to_str().unwrap(),
            ],
        );
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = std::fs::read_to_string(named.join("Patient.ndjson")).unwrap();
        for line in text.lines() {
            let patient: Value = serde_json::from_str(line).unwrap();
            assert!(patient.get("name").is_none(), "{line}");
            assert!(patient.get("identifier").is_some(), "{line}");
        }

        let bad = scratch.path().join("bad.json");
        std::fs::write(
            &bad,
            r#"{"fhirPathRules": [{"path": "Patient.name", "method": "obliterate"}, {"method": "redact"}]}"#,
        )
        .unwrap();
        let refused_dir = scratch.path().join("refused");
        let out = run(
            &db,
            &[
                "export",
                "--deid",
                bad.to_str().unwrap(),
                "--out",
                refused_dir.to_str().unwrap(),
            ],
        );
        assert_eq!(out.status.code(), Some(1));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("rule 0") && stderr.contains("rule 1"),
            "{stderr}"
        );
        assert!(!refused_dir.exists());
    }
}
