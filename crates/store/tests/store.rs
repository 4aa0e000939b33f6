//! The store on every backend: versions, unchanged writes, search and round trips.

use proptest::prelude::*;
use salus_fhir::prepare;
use salus_fhir::search::parse_query;
use salus_ingest::Sink;
use salus_ingest::WriteOutcome;
use salus_store::{testing, BatchLimits, Store, StoreSink, WriteRequest};
use serde_json::{json, Value};

const NOW: i64 = 1_700_000_000_000_000;

fn request(v: Value) -> WriteRequest {
    WriteRequest {
        resource: prepare(v).expect("valid test resource"),
        source: Some("test".into()),
        if_match: None,
        create_only: false,
    }
}

fn search(store: &Store, t: &str, q: &[(&str, &str)]) -> Vec<Value> {
    let pairs: Vec<(String, String)> = q
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    let query = parse_query(t, &pairs, true).unwrap();
    store
        .search(&query)
        .unwrap()
        .resources
        .iter()
        .map(|hit| serde_json::from_str(&hit.body).unwrap())
        .collect()
}

fn ids(found: &[Value]) -> Vec<String> {
    let mut ids: Vec<String> = found
        .iter()
        .map(|v| v["id"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    ids
}

fn patient(id: &str, family: &str, birth: &str) -> Value {
    json!({"resourceType": "Patient", "id": id, "name": [{"family": family, "given": ["Ann"]}],
           "birthDate": birth, "identifier": [{"system": "urn:mrn", "value": format!("mrn-{id}")}]})
}

fn phq9(id: &str, patient: &str, when: &str, score: i64) -> Value {
    json!({"resourceType": "Observation", "id": id, "status": "final",
           "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "survey"}]}],
           "code": {"coding": [{"system": "http://loinc.org", "code": "44261-6"}]},
           "subject": {"reference": format!("Patient/{patient}")},
           "effectiveDateTime": when, "valueInteger": score})
}

#[test]
fn versions_and_unchanged_writes() {
    for db in testing::all() {
        let store = Store::open(&db.url).unwrap();
        let w = store
            .write(vec![request(patient("p1", "Smith", "1980-01-01"))], NOW)
            .unwrap();
        assert_eq!(w[0].outcome, WriteOutcome::Created);
        assert_eq!(w[0].version_id, 1);
        // Same content: unchanged, nothing written.
        let w = store
            .write(vec![request(patient("p1", "Smith", "1980-01-01"))], NOW + 1)
            .unwrap();
        assert_eq!(w[0].outcome, WriteOutcome::Unchanged, "{:?}", db.backend);
        // Changed content: version 2; version 1 still readable.
        let w = store
            .write(vec![request(patient("p1", "Smyth", "1980-01-01"))], NOW + 2)
            .unwrap();
        assert_eq!((w[0].outcome, w[0].version_id), (WriteOutcome::Updated, 2));
        let current: Value =
            serde_json::from_str(&store.read("Patient", "p1").unwrap().unwrap().body).unwrap();
        assert_eq!(current["meta"]["versionId"], "2");
        assert_eq!(current["name"][0]["family"], "Smyth");
        let v1: Value = serde_json::from_str(
            &store
                .read_version("Patient", "p1", 1)
                .unwrap()
                .unwrap()
                .body,
        )
        .unwrap();
        assert_eq!(v1["name"][0]["family"], "Smith");
        assert_eq!(store.count(Some("Patient")).unwrap(), 1);
        // Two versions of one resource in one batch.
        let w = store
            .write(
                vec![
                    request(patient("p2", "A", "1990")),
                    request(patient("p2", "B", "1990")),
                ],
                NOW + 3,
            )
            .unwrap();
        assert_eq!((w[1].outcome, w[1].version_id), (WriteOutcome::Updated, 2));
        assert_eq!(store.count(Some("Patient")).unwrap(), 2);
        assert_eq!(
            ids(&search(&store, "Patient", &[("family", "b")])),
            vec!["p2"]
        );
        assert!(
            search(&store, "Patient", &[("family", "a")]).is_empty(),
            "old versions are not found"
        );
        // If-Match.
        let mut stale = request(patient("p1", "Stale", "1980"));
        stale.if_match = Some(1);
        assert!(store.write(vec![stale], NOW + 4).is_err());
        assert_eq!(store.read("Patient", "p1").unwrap().unwrap().version_id, 2);
    }
}

#[test]
fn searches_by_every_contract_parameter() {
    for db in testing::all() {
        let store = Store::open(&db.url).unwrap();
        store
            .write(
                vec![
                    request(patient("p1", "Alcántar", "1970-05-01")),
                    request(patient("p2", "Smith", "1985-07-20")),
                    request(phq9("o1", "p1", "2024-01-10T09:00:00Z", 14)),
                    request(phq9("o2", "p1", "2024-03-10T09:00:00Z", 9)),
                    request(phq9("o3", "p2", "2023-12-01", 4)),
                ],
                NOW,
            )
            .unwrap();
        let s = |t, q: &[(&str, &str)]| ids(&search(&store, t, q));
        assert_eq!(s("Observation", &[("patient", "p1")]), vec!["o1", "o2"]);
        assert_eq!(s("Observation", &[("subject", "Patient/p2")]), vec!["o3"]);
        assert_eq!(
            s("Observation", &[("code", "http://loinc.org|44261-6")]).len(),
            3
        );
        assert!(s("Observation", &[("code", "http://snomed.info/sct|44261-6")]).is_empty());
        assert_eq!(
            s("Observation", &[("code", "44261-6"), ("date", "ge2024-02")]),
            vec!["o2"]
        );
        assert_eq!(s("Observation", &[("date", "2024")]), vec!["o1", "o2"]);
        assert_eq!(s("Observation", &[("date", "lt2024")]), vec!["o3"]);
        assert_eq!(
            s("Observation", &[("date", "le2024-01-10")]),
            vec!["o1", "o3"]
        );
        assert_eq!(
            s(
                "Observation",
                &[("category", "survey"), ("status", "final")]
            )
            .len(),
            3
        );
        assert_eq!(s("Observation", &[("_id", "o1,o3")]), vec!["o1", "o3"]);
        assert_eq!(s("Patient", &[("name", "alca")]), vec!["p1"]);
        assert_eq!(s("Patient", &[("name", "ANN")]), vec!["p1", "p2"]);
        assert_eq!(s("Patient", &[("name:contains", "mit")]), vec!["p2"]);
        assert_eq!(s("Patient", &[("birthdate", "1985")]), vec!["p2"]);
        assert_eq!(
            s("Patient", &[("identifier", "urn:mrn|mrn-p2")]),
            vec!["p2"]
        );
        assert_eq!(s("Patient", &[("_lastUpdated", "ge2020-01-01")]).len(), 2);
        assert!(s("Patient", &[("_lastUpdated", "gt2030-01-01")]).is_empty());

        // Paging walks every result exactly once.
        let mut seen = Vec::new();
        let mut query = parse_query("Observation", &[("_count".into(), "2".into())], true).unwrap();
        loop {
            let page = store.search(&query).unwrap();
            seen.extend(page.resources);
            match page.next_cursor {
                Some(c) => query.cursor = Some(c),
                None => break,
            }
        }
        assert_eq!(seen.len(), 3);
        assert_eq!(store.search_count(&query).unwrap(), 3);
    }
}

#[test]
fn a_failed_batch_leaves_nothing() {
    for db in testing::all() {
        let store = Store::open(&db.url).unwrap();
        store
            .write(vec![request(patient("p1", "A", "1990"))], NOW)
            .unwrap();
        let mut conflict = request(patient("p1", "C", "1990"));
        conflict.if_match = Some(7);
        let result = store.write(vec![request(patient("p9", "B", "1990")), conflict], NOW);
        assert!(result.is_err());
        assert!(
            store.read("Patient", "p9").unwrap().is_none(),
            "the batch is all or nothing"
        );
    }
}

/// A batch closes at its resource count or its byte size, whichever comes first: large
/// resources make small transactions, so memory stays bounded whatever their size.
#[test]
fn batches_close_by_count_or_by_bytes() {
    let big_note = "x".repeat(20_000);
    for db in testing::all() {
        let store = Store::open(&db.url).unwrap();
        let mut batches = Vec::new();
        for (limits, note) in [
            (
                BatchLimits {
                    resources: 4,
                    bytes: 1 << 20,
                },
                "",
            ),
            (
                BatchLimits {
                    resources: 1000,
                    bytes: 50_000,
                },
                big_note.as_str(),
            ),
        ] {
            let sent = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
            let mut sink = StoreSink::new(&store, limits, || NOW);
            let seen = sent.clone();
            sink.progress = Some(Box::new(move |n| seen.borrow_mut().push(n)));
            for i in 0..10 {
                let mut p = patient(&format!("b{}-{i}", limits.resources), "Batch", "1990");
                if !note.is_empty() {
                    p["text"] = json!({"status": "generated",
                        "div": format!("<div xmlns=\"http://www.w3.org/1999/xhtml\">{note}</div>")});
                }
                sink.resource(prepare(p).unwrap(), "test", &format!("line {i}"))
                    .unwrap();
            }
            let report = sink.finish().unwrap();
            assert_eq!(report.resources["Patient"].created, 10);
            batches.push(sent.borrow().clone());
        }
        // By count: 4 + 4 + 2. By bytes: each ~20 kB resource, a batch closes past 50 kB.
        assert_eq!(batches[0], vec![4, 8, 10]);
        assert_eq!(batches[1], vec![3, 6, 9, 10]);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, .. ProptestConfig::default() })]

    /// Whatever is stored is read back JSON-equal, `meta` aside, with every digit intact.
    #[test]
    fn stored_resources_read_back_equal(
        family in "[A-Za-zÀ-ÿ' -]{1,20}",
        text in "[\\p{L}\\p{N}\\p{P}\\p{S} ]{1,60}",
        decimal in "-?(0|[1-9][0-9]{0,5})\\.[0-9]{1,8}",
        seconds in "[0-5][0-9]\\.[0-9]{1,6}",
    ) {
        // PostgreSQL's numeric has no negative zero: "-0.00" comes back "0.00" (documented).
        let decimal = if decimal.trim_start_matches('-').chars().all(|c| c == '0' || c == '.') {
            decimal.trim_start_matches('-').to_owned()
        } else {
            decimal
        };
        let raw = format!(
            r#"{{"resourceType":"Observation","id":"x1","status":"final","code":{{"text":{}}},"subject":{{"reference":"Patient/p"}},"effectiveDateTime":"2024-01-02T03:04:{}Z","valueQuantity":{{"value":{},"unit":"mg"}},"note":[{{"text":{}}}]}}"#,
            serde_json::to_string(&family).unwrap(), seconds, decimal, serde_json::to_string(&text).unwrap()
        );
        let input: Value = serde_json::from_str(&raw).unwrap();
        for db in testing::all() {
            let store = Store::open(&db.url).unwrap();
            store.write(vec![request(input.clone())], NOW).unwrap();
            let mut back: Value = serde_json::from_str(&store.read("Observation", "x1").unwrap().unwrap().body).unwrap();
            back.as_object_mut().unwrap().shift_remove("meta");
            prop_assert_eq!(&back, &input);
            // Number text survives exactly (PostgreSQL's numeric keeps trailing zeros too).
            prop_assert_eq!(back["valueQuantity"]["value"].to_string(), decimal.trim_start_matches('+').to_string());
        }
    }
}
