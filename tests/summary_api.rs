//! `$llm-context`, `$summary` and `salus summary` on every backend, over the demo data set:
//! the contract's shape, consent refusals (403 / exit 3) naming their Consent, sensitivity
//! labels stored at ingest, and the AuditEvent every call leaves.

mod common;

use std::path::Path;

use common::*;
use serde_json::{json, Value};

fn load_demo(db: &TestDb) {
    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/demo");
    let out = run(db, &["ingest", "--json", demo.to_str().unwrap()]);
    assert_ok(&out);
}

#[test]
fn llm_context_follows_the_contract_and_the_consents() {
    for db in all_databases() {
        load_demo(&db);
        let server = Server::start(&db);
        let clinician = client_with_token(&make_token(&db, "clinician"));
        let auditor = client_with_token(&make_token(&db, "auditor"));

        // Labels were stored at ingest: the depression diagnosis carries PSY and MH.
        let condition: Value = clinician
            .get(server.url("/fhir/Condition/demo-cond-mdd-1"))
            .send()
            .unwrap()
            .json()
            .unwrap();
        let labels: Vec<&str> = condition["meta"]["security"]
            .as_array()
            .map(|a| a.iter().filter_map(|l| l["code"].as_str()).collect())
            .unwrap_or_default();
        assert!(
            labels.contains(&"PSY") && labels.contains(&"MH"),
            "{condition}"
        );

        // demo-pat-2: permitted by its opt-in.
        let response = clinician
            .get(server.url("/fhir/Patient/demo-pat-2/$llm-context?max_tokens=1500"))
            .send()
            .unwrap();
        assert_eq!(response.status(), 200);
        let ctx: Value = response.json().unwrap();
        assert_eq!(ctx["patient"], "Patient/demo-pat-2");
        assert_eq!(ctx["purpose"], "TREAT");
        assert_eq!(
            ctx["consent"],
            json!({"decision": "permit", "basis": ["Consent/demo-consent-2"]})
        );
        assert_eq!(ctx["tokenizer"], "o200k_base");
        assert_eq!(ctx["max_tokens"], 1500);
        assert!(ctx["token_count"].as_u64().unwrap() <= 1500);
        assert_eq!(ctx["messages"][0]["role"], "system");
        assert_eq!(ctx["messages"][1]["role"], "user");
        let cited: Vec<String> = ctx["sections"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|s| s["items"].as_array().unwrap().iter())
            .flat_map(|i| i["cite"].as_array().unwrap().iter())
            .map(|c| c.as_str().unwrap().to_owned())
            .collect();
        assert!(cited.contains(&"Condition/demo-cond-gad-2".to_owned()));
        // Every cite resolves to a stored resource of this patient.
        for c in &cited {
            let r: Value = clinician
                .get(server.url(&format!("/fhir/{c}")))
                .send()
                .unwrap()
                .json()
                .unwrap();
            let owner = r["subject"]["reference"]
                .as_str()
                .or(r["patient"]["reference"].as_str())
                .map(str::to_owned)
                .unwrap_or_else(|| format!("Patient/{}", r["id"].as_str().unwrap()));
            assert_eq!(owner, "Patient/demo-pat-2", "{c}");
        }

        // POST with a Parameters resource, markdown out.
        let md = clinician
            .post(server.url("/fhir/Patient/demo-pat-2/$llm-context"))
            .header("Content-Type", "application/fhir+json")
            .body(
                json!({"resourceType": "Parameters", "parameter": [
                {"name": "format", "valueString": "markdown"},
                {"name": "max_tokens", "valueInteger": 600}]})
                .to_string(),
            )
            .send()
            .unwrap();
        assert_eq!(md.status(), 200);
        assert!(md.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/markdown"));
        assert!(md.text().unwrap().starts_with("# Patient summary"));

        // demo-pat-1: the nested deny of PSY withholds the diagnoses.
        let ctx: Value = clinician
            .get(server.url("/fhir/Patient/demo-pat-1/$llm-context"))
            .send()
            .unwrap()
            .json()
            .unwrap();
        let text = ctx["messages"].to_string();
        assert!(
            !text.contains("depressive") && !text.contains("Condition/demo-cond-mdd-1"),
            "{text}"
        );
        assert!(ctx["omitted"]
            .as_array()
            .unwrap()
            .iter()
            .any(|o| o["reason"] == "consent"));

        // demo-pat-3: the opt-out refuses, naming its Consent.
        let refused = clinician
            .get(server.url("/fhir/Patient/demo-pat-3/$llm-context"))
            .send()
            .unwrap();
        assert_eq!(refused.status(), 403);
        let outcome: Value = refused.json().unwrap();
        assert_eq!(outcome["resourceType"], "OperationOutcome");
        assert!(outcome["issue"][0]["diagnostics"]
            .as_str()
            .unwrap()
            .contains("Consent/demo-consent-3"));
        // A purpose the consent does not cover is refused too.
        let research = clinician
            .get(server.url("/fhir/Patient/demo-pat-2/$llm-context?purpose=HRESCH"))
            .send()
            .unwrap();
        assert_eq!(research.status(), 403);

        // As of a moment before the consent was recorded: no Consent applies yet.
        let early = clinician
            .get(server.url("/fhir/Patient/demo-pat-2/$llm-context?as_of=2024-01-01"))
            .send()
            .unwrap();
        assert_eq!(early.status(), 403);
        assert!(early
            .text()
            .unwrap()
            .contains("no active patient-privacy Consent"));
        let then: Value = clinician
            .get(server.url("/fhir/Patient/demo-pat-2/$llm-context?as_of=2025-06-01"))
            .send()
            .unwrap()
            .json()
            .unwrap();
        let text = then["messages"].to_string();
        assert!(
            text.contains("as of 2025-06-01") && text.contains("Age: 45"),
            "{text}"
        );

        // Bad parameters: a precise 400.
        let bad = clinician
            .get(server.url("/fhir/Patient/demo-pat-2/$llm-context?max_token=5"))
            .send()
            .unwrap();
        assert_eq!(bad.status(), 400);
        assert!(bad
            .text()
            .unwrap()
            .contains("unknown parameter 'max_token'"));

        // De-identified: no name, identifier or absolute date; the trend still reads right
        // although safe-harbor leaves only the years.
        let ctx: Value = clinician
            .get(
                server
                    .url("/fhir/Patient/demo-pat-2/$llm-context?deid=safe-harbor&max_tokens=3000"),
            )
            .send()
            .unwrap()
            .json()
            .unwrap();
        let text = ctx["messages"].to_string();
        for planted in ["Testperson", "Jordan", "demo-pat-2", "Lawrence", "555-01"] {
            assert!(
                !text.contains(planted),
                "{planted} survived de-identification: {text}"
            );
        }
        assert!(!text.contains("2024-"), "an absolute date survived: {text}");
        assert!(
            text.contains("PHQ-9 (depression severity): latest 4 (minimal)"),
            "{text}"
        );
        assert!(
            text.contains("GAD-7 (anxiety severity): latest 7 (mild)"),
            "{text}"
        );
        let unknown = clinician
            .get(server.url("/fhir/Patient/demo-pat-2/$llm-context?deid=no-such-policy"))
            .send()
            .unwrap();
        assert_eq!(unknown.status(), 404);

        // The IPS document.
        let ips: Value = clinician
            .get(server.url("/fhir/Patient/demo-pat-2/$summary"))
            .send()
            .unwrap()
            .json()
            .unwrap();
        assert_eq!(ips["type"], "document");
        assert_eq!(ips["entry"][0]["resource"]["resourceType"], "Composition");
        let refused = clinician
            .get(server.url("/fhir/Patient/demo-pat-3/$summary"))
            .send()
            .unwrap();
        assert_eq!(refused.status(), 403);

        // The audit trail: decision, basis, purpose and the disclosed resources.
        std::thread::sleep(std::time::Duration::from_millis(300));
        let events: Value = auditor
            .get(server.url("/fhir/AuditEvent?subtype=summary&entity=Patient/demo-pat-2"))
            .send()
            .unwrap()
            .json()
            .unwrap();
        let events = events["entry"].as_array().unwrap();
        assert!(!events.is_empty());
        let event = events
            .iter()
            .map(|e| &e["resource"])
            .find(|e| {
                e["outcomeDesc"]
                    .as_str()
                    .unwrap()
                    .contains("permit: Consent/demo-consent-2")
            })
            .expect("an event names the decision and its basis");
        assert_eq!(event["purposeOfEvent"][0]["coding"][0]["code"], "TREAT");
        let entities: Vec<&str> = event["entity"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|e| e["what"]["reference"].as_str())
            .collect();
        assert!(
            entities.contains(&"Condition/demo-cond-gad-2"),
            "{entities:?}"
        );
        let denied: Value = auditor
            .get(server.url("/fhir/AuditEvent?subtype=summary&entity=Patient/demo-pat-3"))
            .send()
            .unwrap()
            .json()
            .unwrap();
        let desc = denied["entry"][0]["resource"]["outcomeDesc"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(
            desc.contains("deny") && desc.contains("Consent/demo-consent-3"),
            "{desc}"
        );
        server.stop();
    }
}

#[test]
fn cli_summary_prints_the_context_and_exits_3_when_refused() {
    for db in all_databases() {
        load_demo(&db);
        let out = run(
            &db,
            &["summary", "--patient", "demo-pat-2", "--max-tokens", "800"],
        );
        assert_ok(&out);
        let ctx: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(ctx["max_tokens"], 800);
        assert!(ctx["token_count"].as_u64().unwrap() <= 800);

        let prompt = run(
            &db,
            &["summary", "--patient", "demo-pat-2", "--format", "prompt"],
        );
        let text = String::from_utf8_lossy(&prompt.stdout);
        assert!(text.starts_with("### system"), "{text}");

        let ips = run(
            &db,
            &["summary", "--patient", "demo-pat-2", "--format", "ips"],
        );
        let doc: Value = serde_json::from_slice(&ips.stdout).unwrap();
        assert_eq!(doc["type"], "document");

        let early = run(
            &db,
            &[
                "summary",
                "--patient",
                "demo-pat-2",
                "--as-of",
                "2024-01-01",
            ],
        );
        assert_eq!(early.status.code(), Some(3));

        let refused = run(&db, &["summary", "--patient", "demo-pat-3"]);
        assert_eq!(refused.status.code(), Some(3));
        let err = String::from_utf8_lossy(&refused.stderr);
        assert!(err.contains("Consent/demo-consent-3"), "{err}");
        assert!(refused.stdout.is_empty());

        let missing = run(&db, &["summary", "--patient", "nobody"]);
        assert_eq!(missing.status.code(), Some(1));
        assert!(
            String::from_utf8_lossy(&missing.stderr).contains("Patient/nobody is not in the store")
        );

        // The CLI's summaries are audited as the server's are.
        let verify = run(&db, &["audit", "verify"]);
        assert_ok(&verify);
    }
}

/// A PHQ-9 response whose item 9 (thoughts of being better off dead or of self-harm) is
/// positive: ingest derives the item Observations and flags item 9; the summary opens with it,
/// cited to the derived Observation, which names the response it came from.
#[test]
fn a_positive_phq9_item_9_leads_the_summary() {
    for db in all_databases() {
        load_demo(&db);
        let answer = |code: &str, la: &str| {
            json!({"linkId": format!("/44249-1/{code}"),
                   "answer": [{"valueCoding": {"system": "http://loinc.org", "code": la}}]})
        };
        let mut items: Vec<Value> = [
            "44250-9", "44255-8", "44259-0", "44254-1", "44251-7", "44258-2", "44252-5", "44253-3",
        ]
        .iter()
        .map(|c| answer(c, "LA6568-5"))
        .collect();
        // "More than half the days".
        items.push(answer("44260-8", "LA6570-1"));
        let qr = json!({
            "resourceType": "QuestionnaireResponse", "id": "demo-phq9-item9", "status": "completed",
            "questionnaire": "http://loinc.org/q/44249-1",
            "subject": {"reference": "Patient/demo-pat-2"}, "authored": "2024-11-25T10:00:00-06:00",
            "item": items
        });
        let dir = scratch_dir();
        let file = dir.path().join("phq9.json");
        std::fs::write(&file, qr.to_string()).unwrap();
        let out = run(&db, &["ingest", "--json", file.to_str().unwrap()]);
        assert_ok(&out);

        let out = run(
            &db,
            &[
                "summary",
                "--patient",
                "demo-pat-2",
                "--as-of",
                "2024-12-01",
            ],
        );
        assert_ok(&out);
        let ctx: Value = serde_json::from_slice(&out.stdout).unwrap();
        let first = &ctx["sections"][0];
        assert_eq!(first["title"], "Safety", "{ctx}");
        let item = first["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["text"].as_str().unwrap_or("").contains("PHQ-9 item 9"))
            .unwrap_or_else(|| panic!("no item 9 statement: {first}"));
        assert!(
            item["text"].as_str().unwrap().contains("(score 2)"),
            "{item}"
        );
        let cite = item["cite"][0].as_str().unwrap().to_owned();
        let exports = dir.path().join("export");
        let out = run(
            &db,
            &[
                "export",
                "--type",
                "Observation",
                "--out",
                exports.to_str().unwrap(),
            ],
        );
        assert_ok(&out);
        let derived: Value = std::fs::read_to_string(exports.join("Observation.ndjson"))
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap())
            .find(|o| format!("Observation/{}", o["id"].as_str().unwrap()) == cite)
            .expect("the cited Observation is stored");
        assert_eq!(derived["code"]["coding"][0]["code"], "44260-8");
        assert_eq!(
            derived["derivedFrom"][0]["reference"],
            "QuestionnaireResponse/demo-phq9-item9"
        );
        // The prompt itself carries the statement, before anything else the summary says.
        let prompt = ctx["messages"][1]["content"].as_str().unwrap();
        let at = prompt.find("PHQ-9 item 9").expect("in the prompt");
        for later in ["Demographics", "Active problems", "Active medications"] {
            let section = prompt.find(later).unwrap_or(usize::MAX);
            assert!(at < section, "{later} before the safety finding: {prompt}");
        }
    }
}

#[test]
fn stored_resources_are_relabelled_when_the_value_sets_change() {
    for db in all_databases() {
        // A depression diagnosis stored without the labels its codes imply, as under value sets
        // that did not yet list its code.
        let body = json!({"resourceType": "Condition", "id": "unlabelled",
            "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "F32.9"}]},
            "subject": {"reference": "Patient/someone"}});
        let mut prepared = salus_fhir::prepare(body.clone()).unwrap();
        prepared.stored = salus_fhir::prepare::StoredJson::new(&body);
        prepared.content_hash = prepared.stored.content_hash();
        let store = salus_store::Store::open(&db.url).unwrap();
        store
            .write(
                vec![salus_store::WriteRequest {
                    resource: prepared,
                    source: None,
                    if_match: None,
                    create_only: false,
                }],
                1,
            )
            .unwrap();
        store.set_setting("labels_version", "0.0.0").unwrap();

        assert_ok(&run(&db, &["migrate"]));
        let current = store.read("Condition", "unlabelled").unwrap().unwrap();
        let stored: Value = serde_json::from_str(&current.body).unwrap();
        let codes: Vec<&str> = stored["meta"]["security"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|l| l["code"].as_str())
            .collect();
        assert_eq!(codes, ["PSY", "MH"], "{stored}");
        assert_eq!(current.version_id, 2, "a new version, the old one kept");
        assert_eq!(
            store.setting("labels_version").unwrap().as_deref(),
            Some(salus_labels::Labeller::builtin().version())
        );
        // Current already: nothing changes.
        assert_ok(&run(&db, &["migrate"]));
        assert_eq!(
            store
                .read("Condition", "unlabelled")
                .unwrap()
                .unwrap()
                .version_id,
            2
        );
    }
}
