//! SDoH and CSV through the real binary and server, on every backend: the SVI table and the
//! ZIP-county crosswalk are loaded as reference data; every Synthea patient with a usable
//! address gets SVI Observations equal to the table's row for their county; linking again
//! changes nothing, and a changed address updates them; CSV exports map through the Synthea
//! preset, idempotently, with bad rows reported by row and column; screening responses bring
//! their derived Observations and findings.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::*;
use serde_json::Value;

fn repo(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(relative)
}

fn run_json(db: &TestDb, args: &[&str]) -> (Option<i32>, Value) {
    let out = run(db, args);
    (out.status.code(), json_report(&out))
}

fn exported(db: &TestDb, kind: &str) -> Vec<Value> {
    let dir = scratch_dir();
    let out = run(
        db,
        &[
            "export",
            "--type",
            kind,
            "--out",
            dir.path().to_str().unwrap(),
        ],
    );
    assert_ok(&out);
    let path = dir.path().join(format!("{kind}.ndjson"));
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// overall, theme 1-4 per county FIPS, as read by hand from SVI2020_US_COUNTY.csv.
fn expected_svi() -> BTreeMap<&'static str, [&'static str; 5]> {
    BTreeMap::from([
        ("20091", ["0.1324", "0.1458", "0.2826", "0.5589", "0.0888"]), // Johnson, KS
        ("20111", ["0.6563", "0.5258", "0.3205", "0.6712", "0.9102"]), // Lyon, KS
        ("20173", ["0.7269", "0.6805", "0.8307", "0.711", "0.4879"]),  // Sedgwick, KS
    ])
}

const MEASURES: [&str; 5] = [
    "svi-overall",
    "svi-theme1-socioeconomic",
    "svi-theme2-household",
    "svi-theme3-minority",
    "svi-theme4-housing-transportation",
];

fn svi_by_patient(observations: &[Value]) -> BTreeMap<String, BTreeMap<String, (String, String)>> {
    let mut out: BTreeMap<String, BTreeMap<String, (String, String)>> = BTreeMap::new();
    for o in observations {
        let code = o["code"]["coding"][0]["code"].as_str().unwrap_or_default();
        if !MEASURES.contains(&code) {
            continue;
        }
        let fips = o["component"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|c| c["code"]["coding"][0]["code"] == "county-fips")
            .and_then(|c| c["valueString"].as_str())
            .unwrap_or_default()
            .to_owned();
        let value = o["valueQuantity"]["value"].to_string();
        out.entry(o["subject"]["reference"].as_str().unwrap().to_owned())
            .or_default()
            .insert(code.to_owned(), (fips, value));
    }
    out
}

#[test]
fn synthea_patients_get_the_svi_of_their_county_and_relinking_changes_nothing() {
    let (Some(svi), Some(crosswalk), Some(bulk)) = (
        external("sdoh/svi/SVI2020_US_COUNTY.csv"),
        external("sdoh/hud-usps-crosswalk/ZIP_COUNTY_032023_MA_KS.csv"),
        external("synthea-bulk/10-patients/Patient.000.ndjson"),
    ) else {
        return;
    };
    for db in all_databases() {
        let (code, report) = run_json(
            &db,
            &["ingest", "--json", "--format", "svi", svi.to_str().unwrap()],
        );
        assert_eq!(code, Some(0), "{report}");
        assert_eq!(report["records"], 3143);
        assert_eq!(report["resources"]["CodeSystem"]["created"], 1, "{report}");
        let (code, report) = run_json(
            &db,
            &[
                "ingest",
                "--json",
                "--format",
                "zip-county",
                crosswalk.to_str().unwrap(),
            ],
        );
        assert_eq!(code, Some(0), "{report}");
        assert_eq!(report["records"], 1393);
        // The same table again: unchanged, said so.
        let (_, again) = run_json(
            &db,
            &[
                "ingest",
                "--json",
                "--format",
                "zip-county",
                crosswalk.to_str().unwrap(),
            ],
        );
        assert!(again.to_string().contains("unchanged"), "{again}");
        assert_ok(&run(&db, &["ingest", bulk.to_str().unwrap()]));

        let (code, link) = run_json(&db, &["sdoh", "link", "--json"]);
        // One Synthea patient's ZIP (00000) is in no crosswalk: reported, never guessed.
        assert_eq!(code, Some(2), "{link}");
        assert_eq!(link["patients"], 13);
        assert_eq!(link["linked"], 12);
        assert_eq!(link["svi_vintage"], "2020");
        assert_eq!(link["crosswalk_vintage"], "2023Q1");
        let unmatched = link["unmatched"].as_array().unwrap();
        assert_eq!(unmatched.len(), 1);
        assert!(unmatched[0]["reason"]
            .as_str()
            .unwrap()
            .contains("not in the crosswalk"));
        assert_eq!(link["resources"]["Observation"]["created"], 60, "{link}");

        let observations = exported(&db, "Observation");
        let by_patient = svi_by_patient(&observations);
        assert_eq!(by_patient.len(), 12);
        let expected = expected_svi();
        let mut checked = 0;
        for measures in by_patient.values() {
            assert_eq!(measures.len(), 5, "five measures per patient: {measures:?}");
            let fips = &measures["svi-overall"].0;
            if let Some(values) = expected.get(fips.as_str()) {
                for (measure, want) in MEASURES.iter().zip(values) {
                    let (f, got) = &measures[*measure];
                    assert_eq!(f, fips);
                    assert_eq!(got, want, "{measure} of county {fips}");
                }
                checked += 1;
            }
        }
        assert!(
            checked >= 8,
            "Johnson, Lyon and Sedgwick patients checked: {checked}"
        );
        let sample = observations
            .iter()
            .find(|o| o["code"]["coding"][0]["code"] == "svi-overall")
            .unwrap();
        assert_eq!(sample["effectivePeriod"]["start"], "2020-01-01");
        assert!(sample["category"].to_string().contains("\"sdoh\""));
        assert!(sample["meta"]["tag"].to_string().contains("derived"));

        // Again: nothing changes.
        let (_, again) = run_json(&db, &["sdoh", "link", "--json"]);
        assert_eq!(
            again["resources"]["Observation"]["unchanged"], 60,
            "{again}"
        );
        assert!(again["resources"]["Observation"]["created"] == 0);

        // A patient moves from a Johnson County ZIP to Topeka (Shawnee, 20177): updated.
        let moved = exported(&db, "Patient")
            .into_iter()
            .find(|p| {
                by_patient
                    .get(&format!("Patient/{}", p["id"].as_str().unwrap()))
                    .is_some_and(|m| m["svi-overall"].0 == "20091")
            })
            .expect("a Johnson County patient");
        let mut moved = moved;
        moved["address"][0]["postalCode"] = "66604".into();
        moved["address"][0]["city"] = "Topeka".into();
        moved.as_object_mut().unwrap().remove("meta");
        let dir = scratch_dir();
        let file = dir.path().join("moved.ndjson");
        std::fs::write(&file, format!("{moved}\n")).unwrap();
        assert_ok(&run(&db, &["ingest", file.to_str().unwrap()]));
        let (_, after) = run_json(&db, &["sdoh", "link", "--json"]);
        assert_eq!(after["resources"]["Observation"]["updated"], 5, "{after}");
        let now = svi_by_patient(&exported(&db, "Observation"));
        let reference = format!("Patient/{}", moved["id"].as_str().unwrap());
        assert_eq!(
            now[&reference]["svi-overall"],
            ("20177".into(), "0.5493".into())
        );
    }
}

#[test]
fn linking_without_a_table_says_what_to_load() {
    let db = salus_store::testing::sqlite();
    let out = run(&db, &["sdoh", "link"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--format svi"), "{err}");
}

#[test]
fn bad_reference_tables_are_refused_whole() {
    let dir = scratch_dir();
    let bad = dir.path().join("SVI2020_BAD.csv");
    std::fs::write(&bad, "FIPS,RPL_THEMES\n20091,0.5\n").unwrap();
    let no_vintage = dir.path().join("crosswalk.csv");
    std::fs::write(
        &no_vintage,
        "ZIP,COUNTY,USPS_ZIP_PREF_CITY,USPS_ZIP_PREF_STATE,RES_RATIO,BUS_RATIO,OTH_RATIO,TOT_RATIO\n66604,20177,TOPEKA,KS,1,1,1,1\n",
    )
    .unwrap();
    for db in all_databases() {
        let (code, report) = run_json(
            &db,
            &["ingest", "--json", "--format", "svi", bad.to_str().unwrap()],
        );
        assert_eq!(code, Some(2), "{report}");
        let why = report["rejected"][0]["outcome"]["issue"][0]["diagnostics"]
            .as_str()
            .unwrap();
        assert!(
            why.contains("RPL_THEME1") || why.contains("column"),
            "{why}"
        );
        let (code, report) = run_json(
            &db,
            &[
                "ingest",
                "--json",
                "--format",
                "zip-county",
                no_vintage.to_str().unwrap(),
            ],
        );
        assert_eq!(code, Some(2), "{report}");
        assert!(report.to_string().contains("--vintage"), "{report}");
        // With the vintage given, it loads.
        let (code, report) = run_json(
            &db,
            &[
                "ingest",
                "--json",
                "--format",
                "zip-county",
                "--vintage",
                "2023Q1",
                no_vintage.to_str().unwrap(),
            ],
        );
        assert_eq!(code, Some(0), "{report}");
        // Nothing of the bad SVI table was stored: linking still has no table.
        let out = run(&db, &["sdoh", "link"]);
        assert_eq!(out.status.code(), Some(1));
    }
}

#[test]
fn a_synthea_csv_export_maps_idempotently_and_bad_rows_are_named() {
    let fixture = repo("fixtures/csv/synthea");
    for db in all_databases() {
        let (code, report) = run_json(&db, &["ingest", "--json", fixture.to_str().unwrap()]);
        assert_eq!(code, Some(0), "{report}");
        assert_eq!(report["resources"]["Patient"]["created"], 4, "{report}");
        assert!(
            report["resources"]["Observation"]["created"]
                .as_u64()
                .unwrap()
                >= 5
        );
        let (_, again) = run_json(&db, &["ingest", "--json", fixture.to_str().unwrap()]);
        for (kind, c) in again["resources"].as_object().unwrap() {
            assert_eq!(c["created"], 0, "{kind}: {again}");
            assert_eq!(c["updated"], 0, "{kind}: {again}");
        }
        // Conditions are about the patients of patients.csv.
        let patients: Vec<String> = exported(&db, "Patient")
            .iter()
            .map(|p| format!("Patient/{}", p["id"].as_str().unwrap()))
            .collect();
        for c in exported(&db, "Condition") {
            assert!(patients.contains(&c["subject"]["reference"].as_str().unwrap().to_owned()));
        }
    }
    // A bad row is reported with row and column; the rows around it are kept; .gz is read.
    let dir = scratch_dir();
    let text = std::fs::read_to_string(fixture.join("conditions.csv")).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    let header = lines[0];
    let start = header.split(',').position(|c| c == "START").unwrap();
    let mut broken: Vec<String> = lines[1].split(',').map(str::to_owned).collect();
    broken[start] = "yesterday".into();
    let broken = broken.join(",");
    lines.insert(2, &broken);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, (lines.join("\n") + "\n").as_bytes()).unwrap();
    let path = dir.path().join("conditions.csv.gz");
    std::fs::write(&path, gz.finish().unwrap()).unwrap();
    let db = salus_store::testing::sqlite();
    let (code, report) = run_json(&db, &["ingest", "--json", path.to_str().unwrap()]);
    assert_eq!(code, Some(2), "{report}");
    let rejected = report["rejected"].as_array().unwrap();
    assert_eq!(rejected.len(), 1, "{report}");
    assert_eq!(rejected[0]["position"], "row 3, column START");
    assert!(
        !report.to_string().contains("yesterday"),
        "no cell value in the report"
    );
    assert_eq!(
        report["resources"]["Condition"]["created"]
            .as_u64()
            .unwrap() as usize,
        text.lines().count() - 1
    );
}

#[test]
fn screening_responses_bring_their_findings() {
    let Some(dir) = external("sdoh/us-core-screening") else {
        return;
    };
    let prapare = dir.join("QuestionnaireResponse-PRAPARE-example.json");
    for db in all_databases() {
        let (code, report) = run_json(&db, &["ingest", "--json", prapare.to_str().unwrap()]);
        assert_eq!(code, Some(0), "{report}");
        assert_eq!(report["resources"]["QuestionnaireResponse"]["created"], 1);
        let observations = exported(&db, "Observation");
        let panel = observations
            .iter()
            .find(|o| o["code"]["coding"][0]["code"] == "93025-5")
            .expect("the PRAPARE panel");
        // Its members (PRAPARE's sub-panels and items) are all there.
        let ids: Vec<String> = observations
            .iter()
            .map(|o| format!("Observation/{}", o["id"].as_str().unwrap()))
            .collect();
        let members = panel["hasMember"].as_array().unwrap();
        assert!(members.len() >= 3, "{panel}");
        for m in members {
            assert!(ids.contains(&m["reference"].as_str().unwrap().to_owned()));
        }
        assert!(
            observations.len() > 15,
            "the answers: {}",
            observations.len()
        );
        assert!(panel["derivedFrom"][0]["reference"]
            .as_str()
            .unwrap()
            .starts_with("QuestionnaireResponse/"));
        for o in &observations {
            assert!(o["meta"]["tag"].to_string().contains("derived"), "{o}");
        }
        // Positive screens are health concerns, coded for SDoH, unconfirmed (derived).
        let conditions = exported(&db, "Condition");
        assert!(!conditions.is_empty());
        for c in &conditions {
            let categories = c["category"].to_string();
            assert!(categories.contains("health-concern") && categories.contains("sdoh"));
            assert_eq!(c["verificationStatus"]["coding"][0]["code"], "unconfirmed");
        }
        let (_, again) = run_json(&db, &["ingest", "--json", prapare.to_str().unwrap()]);
        assert_eq!(again["resources"]["Observation"]["created"], 0, "{again}");
    }
}

#[test]
fn http_loads_tables_and_links() {
    let (Some(svi), Some(bulk)) = (
        external("sdoh/svi/SVI2020_US_COUNTY.csv"),
        external("synthea-bulk/10-patients/Patient.000.ndjson"),
    ) else {
        return;
    };
    let crosswalk = external("sdoh/hud-usps-crosswalk/ZIP_COUNTY_032023_MA_KS.csv").unwrap();
    for db in all_databases() {
        let server = Server::start(&db);
        let http = client_with_token(&make_token(&db, "integrator"));
        let post = |path: &str, body: Vec<u8>| -> (u16, Value) {
            let r = http.post(server.url(path)).body(body).send().unwrap();
            (r.status().as_u16(), r.json().unwrap())
        };
        let (status, report) = post(
            "/ingest?format=svi&vintage=2020",
            std::fs::read(&svi).unwrap(),
        );
        assert_eq!(status, 200, "{report}");
        assert_eq!(report["records"], 3143);
        let (status, _) = post(
            "/ingest?format=zip-county&vintage=2023Q1",
            std::fs::read(&crosswalk).unwrap(),
        );
        assert_eq!(status, 200);
        let (status, _) = post("/ingest", std::fs::read(&bulk).unwrap());
        assert_eq!(status, 200);
        // CSV over HTTP: the table is recognised by its header.
        let (status, csv) = post(
            "/ingest?format=csv",
            std::fs::read(repo("fixtures/csv/synthea/patients.csv")).unwrap(),
        );
        assert_eq!(status, 200, "{csv}");
        assert_eq!(csv["resources"]["Patient"]["created"], 4, "{csv}");
        let (status, link) = post("/sdoh/link", Vec::new());
        assert_eq!(status, 200, "{link}");
        // The 12 Synthea patients with a known ZIP, and the 4 of the CSV fixture.
        assert_eq!(link["linked"], 16, "{link}");
        // A clinician may not run it.
        let clinician = client_with_token(&make_token(&db, "clinician"));
        let r = clinician.post(server.url("/sdoh/link")).send().unwrap();
        assert_eq!(r.status().as_u16(), 403);
    }
}
