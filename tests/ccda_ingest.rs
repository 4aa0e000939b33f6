//! C-CDA ingest through the real binary and server, on every backend: a document becomes its
//! FHIR resources and a DocumentReference holding the original XML; ingesting it again changes
//! nothing; a later document about the same patient adds to the same Patient; hostile XML is
//! refused with a clear reason, writes nothing and keeps memory bounded.

mod common;

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use common::*;
use serde_json::Value;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../../fixtures/ccda/{name}"))
}

fn ingest(db: &TestDb, paths: &[&Path]) -> (Option<i32>, Value) {
    let mut args = vec!["ingest", "--json"];
    let paths: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    args.extend(paths.iter().map(String::as_str));
    let out = run(db, &args);
    (out.status.code(), json_report(&out))
}

fn counts(report: &Value, outcome: &str) -> BTreeMap<String, u64> {
    report["resources"]
        .as_object()
        .into_iter()
        .flatten()
        .filter_map(|(t, c)| Some((t.clone(), c[outcome].as_u64()?)))
        .filter(|(_, n)| *n > 0)
        .collect()
}

/// Every resource in the store, by type, through `salus export`.
fn exported(db: &TestDb) -> BTreeMap<String, Vec<Value>> {
    let dir = scratch_dir();
    let out = run(db, &["export", "--out", dir.path().to_str().unwrap()]);
    assert_ok(&out);
    let mut by_type = BTreeMap::new();
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let path = entry.unwrap().path();
        let kind = path.file_stem().unwrap().to_str().unwrap().to_owned();
        let text = std::fs::read_to_string(&path).unwrap();
        let resources: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        by_type.insert(kind, resources);
    }
    by_type
}

#[test]
fn a_ccd_is_stored_whole_and_ingesting_it_again_changes_nothing() {
    let ccd = fixture("mental_health_ccd.xml");
    for db in all_databases() {
        let (code, report) = ingest(&db, &[&ccd]);
        assert_eq!(code, Some(0), "{report}");
        let created = counts(&report, "created");
        for (kind, n) in [
            ("Patient", 1),
            ("Condition", 2),
            ("AllergyIntolerance", 1),
            ("MedicationStatement", 1),
            ("Immunization", 1),
            ("Goal", 1),
            ("DocumentReference", 1),
            ("Organization", 1),
        ] {
            assert_eq!(created.get(kind), Some(&n), "{kind}: {report}");
        }
        // Weight, smoking status and the PHQ-9 total at least.
        assert!(
            created.get("Observation").is_some_and(|n| *n >= 3),
            "{report}"
        );
        assert!(
            report["rejected"].as_array().unwrap().is_empty(),
            "{report}"
        );

        let (code, again) = ingest(&db, &[&ccd]);
        assert_eq!(code, Some(0), "{again}");
        assert!(counts(&again, "created").is_empty(), "{again}");
        assert!(counts(&again, "updated").is_empty(), "{again}");
        assert_eq!(counts(&again, "unchanged"), counts(&report, "created"));

        let stored = exported(&db);
        let patient = &stored["Patient"][0];
        assert_eq!(patient["name"][0]["family"], "Lindqvist");
        assert_eq!(patient["birthDate"], "1988-03-14");
        assert_eq!(patient["gender"], "female");
        let patient_ref = format!("Patient/{}", patient["id"].as_str().unwrap());
        // Every clinical resource is about that patient.
        for kind in [
            "Condition",
            "AllergyIntolerance",
            "Immunization",
            "Observation",
        ] {
            for r in &stored[kind] {
                let subject = r.get("subject").or_else(|| r.get("patient")).unwrap();
                assert_eq!(subject["reference"], patient_ref.as_str(), "{kind}: {r}");
            }
        }
        let depression = stored["Condition"]
            .iter()
            .find(|c| c["code"]["coding"][0]["code"] == "18818009")
            .expect("the depression problem");
        let codes: Vec<&str> = depression["code"]["coding"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|c| c["code"].as_str())
            .collect();
        assert!(
            codes.contains(&"F33.1"),
            "the ICD-10-CM translation is kept: {depression}"
        );
        assert_eq!(
            depression["code"]["text"], "Major depressive disorder, recurrent, moderate",
            "originalText resolved to the narrative"
        );
        // The DocumentReference holds the document byte for byte.
        let doc = &stored["DocumentReference"][0];
        let attachment = &doc["content"][0]["attachment"];
        assert_eq!(attachment["contentType"], "application/xml");
        let data = attachment["data"].as_str().unwrap();
        let original = std::fs::read(&ccd).unwrap();
        use base64::Engine as _;
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(data)
            .unwrap();
        assert_eq!(decoded, original);
        assert_eq!(doc["subject"]["reference"], patient_ref.as_str());
    }
}

#[test]
fn a_later_document_about_the_same_patient_adds_to_the_same_patient() {
    let ccd = fixture("mental_health_ccd.xml");
    let note = fixture("progress_note_followup.xml");
    for db in all_databases() {
        let (code, _) = ingest(&db, &[&ccd]);
        assert_eq!(code, Some(0));
        let (code, report) = ingest(&db, &[&note]);
        assert_eq!(code, Some(0), "{report}");
        // The same MRN: the Patient is updated, not created again.
        assert_eq!(report["resources"]["Patient"]["created"], 0, "{report}");
        let stored = exported(&db);
        assert_eq!(stored["Patient"].len(), 1);
        assert_eq!(stored["DocumentReference"].len(), 2);
        // The depression entry has the same id in both documents: still one Condition.
        let depression: Vec<&Value> = stored["Condition"]
            .iter()
            .filter(|c| c["code"]["coding"][0]["code"] == "18818009")
            .collect();
        assert_eq!(depression.len(), 1, "{:?}", stored["Condition"]);
        // Both PHQ-9 totals, about the one patient.
        let phq9: Vec<&Value> = stored["Observation"]
            .iter()
            .filter(|o| o["code"]["coding"][0]["code"] == "44261-6")
            .collect();
        assert_eq!(phq9.len(), 2, "{:?}", stored["Observation"]);
        let patient_ref = format!("Patient/{}", stored["Patient"][0]["id"].as_str().unwrap());
        assert!(phq9
            .iter()
            .all(|o| o["subject"]["reference"] == patient_ref.as_str()));
        let values: Vec<i64> = phq9
            .iter()
            .filter_map(|o| o["valueInteger"].as_i64())
            .collect();
        assert!(values.contains(&14) && values.contains(&8), "{values:?}");
        // The visit of the progress note.
        let encounter = &stored["Encounter"][0];
        assert_eq!(encounter["class"]["code"], "AMB");
        assert_eq!(encounter["period"]["start"], "2026-12-03T09:30:00-06:00");
    }
}

#[test]
fn http_ingest_takes_a_ccda_document() {
    let ccd = std::fs::read(fixture("mental_health_ccd.xml")).unwrap();
    for db in all_databases() {
        let server = Server::start(&db);
        let http = client_with_token(&make_token(&db, "integrator"));
        let report: Value = http
            .post(server.url("/ingest?format=ccda"))
            .body(ccd.clone())
            .send()
            .unwrap()
            .json()
            .unwrap();
        assert_eq!(report["resources"]["Patient"]["created"], 1, "{report}");
        assert_eq!(
            report["resources"]["DocumentReference"]["created"], 1,
            "{report}"
        );
        // Detected from content as well.
        let again: Value = http
            .post(server.url("/ingest"))
            .body(ccd.clone())
            .send()
            .unwrap()
            .json()
            .unwrap();
        assert_eq!(again["resources"]["Patient"]["unchanged"], 1, "{again}");
        assert!(counts(&again, "created").is_empty(), "{again}");
        // A bad document over HTTP: 422 with the reason.
        let r = http
            .post(server.url("/ingest?format=ccda"))
            .body("<ClinicalDocument xmlns=\"urn:hl7-org:v3\"><recordTarget>")
            .send()
            .unwrap();
        assert_eq!(r.status().as_u16(), 422);
        let report: Value = r.json().unwrap();
        let why = report["rejected"][0]["outcome"]["issue"][0]["diagnostics"]
            .as_str()
            .unwrap();
        assert!(why.contains("truncated"), "{why}");
    }
}

/// Run `salus ingest` on a file and return its exit code, report and peak RSS in KiB.
// The child is reaped by wait4 (which also gives its peak RSS), not by `Child::wait`.
#[allow(clippy::zombie_processes)]
fn ingest_measured(db: &TestDb, path: &Path) -> (i32, Value, i64) {
    let mut child = salus()
        .arg("--db")
        .arg(&db.url)
        .args(["ingest", "--json", "--format", "ccda"])
        .arg(path)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn salus");
    let mut stdout = Vec::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_end(&mut stdout)
        .unwrap();
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: rusage is plain data that wait4 fills in; the pid is our own child, reaped once.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let reaped = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(reaped, pid);
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        -1
    };
    let report = serde_json::from_slice(&stdout).unwrap_or_else(|e| {
        panic!(
            "not a JSON report ({e}): {}",
            String::from_utf8_lossy(&stdout)
        )
    });
    (code, report, usage.ru_maxrss)
}

#[test]
fn hostile_xml_is_refused_clearly_and_writes_nothing() {
    let dir = scratch_dir();
    let write = |name: &str, content: &[u8]| {
        let path = dir.path().join(name);
        std::fs::write(&path, content).unwrap();
        path
    };
    let xxe = write(
        "xxe.xml",
        br#"<?xml version="1.0"?>
<!DOCTYPE ClinicalDocument [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<ClinicalDocument xmlns="urn:hl7-org:v3"><title>&secret;</title></ClinicalDocument>"#,
    );
    let laughs = write(
        "laughs.xml",
        br#"<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol9 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<ClinicalDocument xmlns="urn:hl7-org:v3"><title>&lol9;</title></ClinicalDocument>"#,
    );
    let wrong_ns = write(
        "wrong_ns.xml",
        br#"<ClinicalDocument xmlns="urn:hl7-org:v2"><recordTarget/></ClinicalDocument>"#,
    );
    let not_xml = write(
        "not_xml.xml",
        b"this is a letter, not a clinical document\n",
    );
    let mut big = Vec::with_capacity(51 << 20);
    big.extend_from_slice(br#"<ClinicalDocument xmlns="urn:hl7-org:v3"><title>"#);
    big.resize(big.len() + (50 << 20), b'a');
    big.extend_from_slice(b"</title></ClinicalDocument>");
    let huge_text = write("huge_text.xml", &big);
    drop(big);
    let no_patient = write(
        "no_patient.xml",
        br#"<ClinicalDocument xmlns="urn:hl7-org:v3"><id root="1.2.3"/></ClinicalDocument>"#,
    );

    for db in all_databases() {
        for (path, position, words) in [
            (&xxe, "line 2", "DTD"),
            (&laughs, "line 2", "DTD"),
            (&wrong_ns, "/ClinicalDocument", "urn:hl7-org:v3"),
            (&not_xml, "line 1", "not XML"),
            (&huge_text, "file", "larger than"),
            (&no_patient, "/ClinicalDocument", "recordTarget"),
        ] {
            let (code, report, rss_kib) = ingest_measured(&db, path);
            let name = path.file_name().unwrap().to_str().unwrap();
            assert_eq!(code, 2, "{name}: {report}");
            let rejected = &report["rejected"][0];
            let at = rejected["position"].as_str().unwrap();
            assert!(at.starts_with(position), "{name}: position {at}");
            let why = rejected["outcome"]["issue"][0]["diagnostics"]
                .as_str()
                .unwrap();
            assert!(why.contains(words), "{name}: {why}");
            assert!(
                !why.contains("root:"),
                "{name}: nothing of /etc/passwd: {why}"
            );
            assert!(counts(&report, "created").is_empty(), "{name}: {report}");
            // The 50 MB text is never read past the 32 MiB limit; nothing expands.
            assert!(rss_kib < 160 * 1024, "{name}: peak RSS {rss_kib} KiB");
        }
        assert!(exported(&db).is_empty(), "nothing was stored");
    }
}
