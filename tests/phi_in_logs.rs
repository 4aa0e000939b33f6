//! No PHI in logs or error messages: identifiers are planted in the data, every path that
//! touches them runs with the most verbose logging, and none of them may appear in the logs
//! (or in an error message sent back). Parameter names are echoed in errors on purpose (they
//! say what to fix); values never are.

mod common;

use common::*;
use serde_json::json;

/// Values that exist only in this test's data; any of them in a log line is a leak.
const PLANTED: [&str; 7] = [
    "Quillonfrey",         // family name
    "Brandywise",          // given name
    "MRN-PLANT-77341",     // medical record number
    "999-81-2277",         // SSN
    "555-0199-3141",       // phone
    "1971-04-13",          // birth date
    "17 Glimmerstone Way", // address
];

fn planted_patient(id: &str) -> serde_json::Value {
    json!({
        "resourceType": "Patient", "id": id,
        "identifier": [
            {"system": "urn:oid:1.2.3.4.MRN", "value": PLANTED[2]},
            {"system": "http://hl7.org/fhir/sid/us-ssn", "value": PLANTED[3]}
        ],
        "name": [{"family": PLANTED[0], "given": [PLANTED[1]]}],
        "telecom": [{"system": "phone", "value": PLANTED[4]}],
        "birthDate": PLANTED[5],
        "address": [{"line": [PLANTED[6]], "city": "Topeka"}]
    })
}

fn assert_clean(what: &str, text: &str) {
    for value in PLANTED {
        assert!(
            !text.contains(value),
            "{what} contains the planted value {value:?}:\n{}",
            text.lines()
                .filter(|l| l.contains(value))
                .take(5)
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
}

#[test]
fn planted_identifiers_never_reach_logs_or_error_messages() {
    for db in all_databases() {
        let dir = scratch_dir();
        // CLI ingest at trace level: a good record and bad ones carrying the planted values.
        let input = dir.path().join("planted.ndjson");
        let mut bad = planted_patient("bad-1");
        bad["gender"] = json!(PLANTED[0]); // not a valid code
        let mut unknown = planted_patient("bad-2");
        unknown["nickname"] = json!(PLANTED[1]); // not an element
        std::fs::write(
            &input,
            format!(
                "{}\n{}\n{}\n{{\"resourceType\": \"Patient\", \"name\": \"{}\n",
                planted_patient("good-1"),
                bad,
                unknown,
                PLANTED[0]
            ),
        )
        .unwrap();
        let out = salus()
            .arg("--db")
            .arg(&db.url)
            .args(["ingest", input.to_str().unwrap()])
            .env("SALUS_LOG", "trace")
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(2),
            "one good record, three rejected"
        );
        assert_clean(
            "ingest's standard error",
            &String::from_utf8_lossy(&out.stderr),
        );
        assert_clean("ingest's report", &String::from_utf8_lossy(&out.stdout));

        let log = dir.path().join("serve.log");
        let server = Server::start_logging(&db, &log);
        let writer = client_with_token(&make_token(&db, "integrator"));
        let reader = client_with_token(&make_token(&db, "clinician"));
        let mut answers = String::new();
        // Writes, good and bad.
        let resp = writer
            .put(server.url("/fhir/Patient/good-2"))
            .body(planted_patient("good-2").to_string())
            .send()
            .unwrap();
        assert!(resp.status().is_success());
        let mut bad_3 = bad.clone();
        bad_3["id"] = json!("bad-3");
        let resp = writer
            .put(server.url("/fhir/Patient/bad-3"))
            .body(bad_3.to_string())
            .send()
            .unwrap();
        assert_eq!(resp.status(), 400);
        answers.push_str(&resp.text().unwrap());
        let resp = writer
            .post(server.url("/ingest"))
            .body(format!("{}\n{}\n", planted_patient("good-3"), unknown))
            .send()
            .unwrap();
        answers.push_str(&resp.text().unwrap());
        // Reads and searches by the planted values, good and bad.
        for path in [
            "/fhir/Patient/good-2".to_owned(),
            format!("/fhir/Patient?name={}", PLANTED[0]),
            format!(
                "/fhir/Patient?identifier=urn:oid:1.2.3.4.MRN|{}",
                PLANTED[2]
            ),
            format!("/fhir/Patient?birthdate={}", PLANTED[5]),
        ] {
            let resp = reader.get(server.url(&path)).send().unwrap();
            assert_eq!(resp.status(), 200, "{path}");
        }
        for path in [
            format!("/fhir/Patient?birthdate=x{}", PLANTED[0]),
            format!("/fhir/Patient?name:nonsense={}", PLANTED[0]),
            format!("/fhir/Patient?_count={}", PLANTED[3]),
        ] {
            let resp = reader.get(server.url(&path)).send().unwrap();
            assert_eq!(resp.status(), 400, "{path}");
            answers.push_str(&resp.text().unwrap());
        }
        // Refused and unauthenticated requests carrying planted values.
        let resp = writer
            .get(server.url(&format!("/fhir/Patient?name={}", PLANTED[0])))
            .send()
            .unwrap();
        assert_eq!(resp.status(), 403);
        answers.push_str(&resp.text().unwrap());
        let resp = reqwest::blocking::Client::new()
            .get(server.url(&format!("/fhir/Patient?name={}", PLANTED[0])))
            .bearer_auth(PLANTED[2])
            .send()
            .unwrap();
        assert_eq!(resp.status(), 401);
        answers.push_str(&resp.text().unwrap());
        drop(server);

        let logged = std::fs::read_to_string(&log).unwrap();
        assert!(
            logged.lines().count() > 20,
            "the server logged at trace level ({} lines)",
            logged.lines().count()
        );
        assert_clean("the server log", &logged);
        assert_clean("an error message", &answers);
    }
}
