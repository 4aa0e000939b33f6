//! The FHIR REST API through a real server on an ephemeral port, with a real HTTP client, on
//! every backend.

mod common;

use common::*;
use serde_json::{json, Value};

const FHIR: &str = "application/fhir+json";

/// A client with an admin token: these tests are about the FHIR interactions, not about who
/// may use them (tests/security.rs is).
fn client(db: &TestDb) -> reqwest::blocking::Client {
    client_with_token(&make_token(db, "admin"))
}

fn outcome_text(v: &Value) -> String {
    assert_eq!(v["resourceType"], "OperationOutcome", "{v}");
    v["issue"][0]["diagnostics"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[test]
fn create_read_update_vread_search() {
    for db in all_databases() {
        let server = Server::start(&db);
        let http = client(&db);

        let meta = http.get(server.url("/fhir/metadata")).send().unwrap();
        assert_eq!(meta.status(), 200);
        assert!(meta.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with(FHIR));
        let cs: Value = meta.json().unwrap();
        assert_eq!(cs["resourceType"], "CapabilityStatement");
        assert_eq!(cs["fhirVersion"], "4.0.1");

        // create: server-assigned id, Location, ETag
        let created = http
            .post(server.url("/fhir/Patient"))
            .header("Content-Type", FHIR)
            .body(r#"{"resourceType":"Patient","id":"ignored","name":[{"family":"Quux","given":["Zed"]}],"birthDate":"1971-04-05","valueDecimalLikeExtension":null}"#)
            .send()
            .unwrap();
        // (an unknown element is a schema violation)
        assert_eq!(created.status(), 400);
        assert!(outcome_text(&created.json().unwrap()).contains("valueDecimalLikeExtension"));

        let created = http
            .post(server.url("/fhir/Patient"))
            .body(r#"{"resourceType":"Patient","id":"ignored","name":[{"family":"Quux","given":["Zed"]}],"birthDate":"1971-04-05"}"#)
            .send()
            .unwrap();
        assert_eq!(created.status(), 201);
        assert_eq!(created.headers()["etag"], "W/\"1\"");
        let location = created.headers()["location"].to_str().unwrap().to_owned();
        let body: Value = created.json().unwrap();
        let id = body["id"].as_str().unwrap().to_owned();
        assert_ne!(id, "ignored");
        assert!(location.ends_with(&format!("/fhir/Patient/{id}/_history/1")));

        // read
        let read = http
            .get(server.url(&format!("/fhir/Patient/{id}")))
            .send()
            .unwrap();
        assert_eq!(read.status(), 200);
        let read: Value = read.json().unwrap();
        assert_eq!(read["meta"]["versionId"], "1");
        assert_eq!(read["name"][0]["family"], "Quux");

        // update with If-Match; a stale If-Match is refused
        let mut changed = read.clone();
        changed["name"][0]["family"] = json!("Quuxley");
        let updated = http
            .put(server.url(&format!("/fhir/Patient/{id}")))
            .header("If-Match", "W/\"1\"")
            .body(changed.to_string())
            .send()
            .unwrap();
        assert_eq!(updated.status(), 200);
        assert_eq!(updated.headers()["etag"], "W/\"2\"");
        let stale = http
            .put(server.url(&format!("/fhir/Patient/{id}")))
            .header("If-Match", "W/\"1\"")
            .body(changed.to_string())
            .send()
            .unwrap();
        assert_eq!(stale.status(), 412);
        // the same content again: unchanged, still version 2
        let same = http
            .put(server.url(&format!("/fhir/Patient/{id}")))
            .body(changed.to_string())
            .send()
            .unwrap();
        assert_eq!(same.status(), 200);
        assert_eq!(same.headers()["etag"], "W/\"2\"");

        // vread
        let v1: Value = http
            .get(server.url(&format!("/fhir/Patient/{id}/_history/1")))
            .send()
            .unwrap()
            .json()
            .unwrap();
        assert_eq!(v1["name"][0]["family"], "Quux");

        // update-as-create at a client id
        let put_new = http
            .put(server.url("/fhir/Observation/obs-1"))
            .body(
                json!({"resourceType": "Observation", "id": "obs-1", "status": "final",
                "code": {"coding": [{"system": "http://loinc.org", "code": "44261-6"}]},
                "subject": {"reference": format!("Patient/{id}")},
                "effectiveDateTime": "2024-05-01", "valueInteger": 12})
                .to_string(),
            )
            .send()
            .unwrap();
        assert_eq!(put_new.status(), 201);

        // search
        let bundle: Value = http
            .get(server.url(&format!(
                "/fhir/Observation?patient={id}&code=http://loinc.org|44261-6&date=ge2024"
            )))
            .send()
            .unwrap()
            .json()
            .unwrap();
        assert_eq!(bundle["type"], "searchset");
        assert_eq!(bundle["entry"].as_array().unwrap().len(), 1);
        assert_eq!(bundle["entry"][0]["resource"]["id"], "obs-1");
        let by_name: Value = http
            .get(server.url("/fhir/Patient?name=quuxl&_total=accurate"))
            .send()
            .unwrap()
            .json()
            .unwrap();
        assert_eq!(by_name["total"], 1);
        let none: Value = http
            .get(server.url("/fhir/Patient?name=quux&birthdate=1999"))
            .send()
            .unwrap()
            .json()
            .unwrap();
        assert!(none["entry"].as_array().unwrap().is_empty());
    }
}

#[test]
fn errors_are_operation_outcomes_with_the_right_status() {
    let db = salus_store::testing::sqlite();
    let server = Server::start(&db);
    let http = client(&db);
    let check = |resp: reqwest::blocking::Response, status: u16, needle: &str| {
        assert_eq!(resp.status(), status);
        assert!(resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with(FHIR));
        let text = outcome_text(&resp.json().unwrap());
        assert!(text.contains(needle), "{text:?} lacks {needle:?}");
    };
    check(
        http.get(server.url("/fhir/Wizard/1")).send().unwrap(),
        404,
        "Wizard",
    );
    check(
        http.get(server.url("/fhir/Patient/nope")).send().unwrap(),
        404,
        "Patient/nope",
    );
    check(
        http.get(server.url("/fhir/Patient?colour=red"))
            .send()
            .unwrap(),
        400,
        "colour",
    );
    check(
        http.get(server.url("/fhir/Observation?date=yesterday"))
            .send()
            .unwrap(),
        400,
        "FHIR date",
    );
    check(
        http.post(server.url("/fhir/Patient"))
            .body("{\"resourceType\":")
            .send()
            .unwrap(),
        400,
        "not valid JSON",
    );
    check(
        http.post(server.url("/fhir/Patient"))
            .body("")
            .send()
            .unwrap(),
        400,
        "empty",
    );
    check(
        http.post(server.url("/fhir/Patient"))
            .body(r#"{"resourceType":"Observation"}"#)
            .send()
            .unwrap(),
        400,
        "URL names Patient",
    );
    check(
        http.put(server.url("/fhir/Patient/a"))
            .body(r#"{"resourceType":"Patient","id":"b"}"#)
            .send()
            .unwrap(),
        400,
        "differs",
    );
    check(
        http.get(server.url("/nowhere")).send().unwrap(),
        404,
        "no such endpoint",
    );
    // A method a path does not serve is an unknown endpoint too, never a bare 405.
    check(
        http.delete(server.url("/fhir/Patient/a")).send().unwrap(),
        404,
        "no such endpoint",
    );
    check(
        http.patch(server.url("/fhir/Patient")).send().unwrap(),
        404,
        "no such endpoint",
    );
    // lenient handling ignores unknown parameters and says so
    let lenient: Value = http
        .get(server.url("/fhir/Patient?colour=red"))
        .header("Prefer", "handling=lenient")
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(lenient["entry"][0]["search"]["mode"], "outcome");
    assert_eq!(
        http.get(server.url("/healthz")).send().unwrap().status(),
        200
    );
}

#[test]
fn transactions_are_all_or_nothing_and_batches_are_not() {
    for db in all_databases() {
        let server = Server::start(&db);
        let http = client(&db);
        let transaction = json!({"resourceType": "Bundle", "type": "transaction", "entry": [
            {"fullUrl": "urn:uuid:aaaaaaaa-0000-0000-0000-000000000001",
             "resource": {"resourceType": "Patient", "identifier": [{"system": "urn:mrn", "value": "T1"}]},
             "request": {"method": "POST", "url": "Patient", "ifNoneExist": "identifier=urn:mrn|T1"}},
            {"fullUrl": "urn:uuid:aaaaaaaa-0000-0000-0000-000000000002",
             "resource": {"resourceType": "Condition", "subject": {"reference": "urn:uuid:aaaaaaaa-0000-0000-0000-000000000001"},
                          "code": {"text": "Depressive disorder"}},
             "request": {"method": "POST", "url": "Condition"}}
        ]});
        let resp = http
            .post(server.url("/fhir"))
            .body(transaction.to_string())
            .send()
            .unwrap();
        assert_eq!(resp.status(), 200);
        let result: Value = resp.json().unwrap();
        assert_eq!(result["type"], "transaction-response");
        assert_eq!(result["entry"][1]["response"]["status"], "201 Created");
        let patient_location = result["entry"][0]["response"]["location"]
            .as_str()
            .unwrap()
            .to_owned();
        let patient_id = patient_location.split('/').nth_back(2).unwrap().to_owned();
        let conditions: Value = http
            .get(server.url(&format!("/fhir/Condition?patient={patient_id}")))
            .send()
            .unwrap()
            .json()
            .unwrap();
        assert_eq!(conditions["entry"].as_array().unwrap().len(), 1);
        assert_eq!(
            conditions["entry"][0]["resource"]["subject"]["reference"],
            format!("Patient/{patient_id}")
        );

        // Conditional create: the same transaction again creates no second patient.
        http.post(server.url("/fhir"))
            .body(transaction.to_string())
            .send()
            .unwrap();
        let patients: Value = http
            .get(server.url("/fhir/Patient?identifier=urn:mrn|T1"))
            .send()
            .unwrap()
            .json()
            .unwrap();
        assert_eq!(patients["entry"].as_array().unwrap().len(), 1);

        // One bad entry fails the whole transaction.
        let bad = json!({"resourceType": "Bundle", "type": "transaction", "entry": [
            {"resource": {"resourceType": "Patient", "id": "tx-good"}, "request": {"method": "PUT", "url": "Patient/tx-good"}},
            {"resource": {"resourceType": "Patient", "id": "tx-bad", "gender": "dragon"}, "request": {"method": "PUT", "url": "Patient/tx-bad"}}
        ]});
        let resp = http
            .post(server.url("/fhir"))
            .body(bad.to_string())
            .send()
            .unwrap();
        assert_eq!(resp.status(), 400);
        assert!(outcome_text(&resp.json().unwrap()).contains("Bundle.entry[1]"));
        assert_eq!(
            http.get(server.url("/fhir/Patient/tx-good"))
                .send()
                .unwrap()
                .status(),
            404
        );

        // A batch keeps the good entry and reports the bad one.
        let batch = json!({"resourceType": "Bundle", "type": "batch", "entry": bad["entry"]});
        let result: Value = http
            .post(server.url("/fhir"))
            .body(batch.to_string())
            .send()
            .unwrap()
            .json()
            .unwrap();
        assert_eq!(result["entry"][0]["response"]["status"], "201 Created");
        assert_eq!(result["entry"][1]["response"]["status"], "400");
        assert_eq!(
            http.get(server.url("/fhir/Patient/tx-good"))
                .send()
                .unwrap()
                .status(),
            200
        );
    }
}

#[test]
fn paging_and_http_ingest() {
    for db in all_databases() {
        let server = Server::start(&db);
        let http = client(&db);
        let ndjson: String = (0..7)
            .map(|i| format!("{{\"resourceType\":\"Patient\",\"id\":\"pg-{i}\",\"name\":[{{\"family\":\"Pager\"}}]}}\n"))
            .collect::<String>()
            + "{\"resourceType\":\"Patient\",\"id\":\"broken\n";
        let resp = http
            .post(server.url("/ingest?format=ndjson"))
            .body(ndjson.clone())
            .send()
            .unwrap();
        assert_eq!(resp.status(), 200);
        let report: Value = resp.json().unwrap();
        assert_eq!(report["resources"]["Patient"]["created"], 7);
        assert_eq!(report["rejected"][0]["position"], "line 8");
        let again: Value = http
            .post(server.url("/ingest"))
            .body(ndjson)
            .send()
            .unwrap()
            .json()
            .unwrap();
        assert_eq!(again["resources"]["Patient"]["unchanged"], 7);

        let mut url = server.url("/fhir/Patient?family=pager&_count=3");
        let mut ids = Vec::new();
        loop {
            let page: Value = http.get(&url).send().unwrap().json().unwrap();
            for e in page["entry"].as_array().unwrap() {
                ids.push(e["resource"]["id"].as_str().unwrap().to_owned());
            }
            match page["link"]
                .as_array()
                .unwrap()
                .iter()
                .find(|l| l["relation"] == "next")
            {
                Some(next) => url = next["url"].as_str().unwrap().to_owned(),
                None => break,
            }
        }
        ids.sort();
        assert_eq!(ids, (0..7).map(|i| format!("pg-{i}")).collect::<Vec<_>>());
        let metrics = http
            .get(server.url("/metrics"))
            .send()
            .unwrap()
            .text()
            .unwrap();
        assert!(
            metrics.contains("salus_resources{type=\"Patient\"} 7"),
            "{metrics}"
        );
    }
}
