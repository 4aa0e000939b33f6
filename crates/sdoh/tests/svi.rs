//! SVI and crosswalk tables, and linking patients to them: small tables written here, then the
//! real CDC 2020 county table and HUD 2023Q1 crosswalk with the Synthea patients.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use salus_sdoh::{
    link_patient, svi_code_system, vintage_from_file_name, Geography, SviTable, TableError,
    UnmatchedReason, ZipCounty, COUNTY_FIPS_EXTENSION, SVI_MEASURES, SVI_SYSTEM,
};
use serde_json::{json, Value};

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

fn external() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures/external")
}

fn read_svi(name: &str) -> Result<SviTable, TableError> {
    SviTable::read(&mut File::open(data(name)).expect("test table"), 2020)
}

fn small() -> (SviTable, ZipCounty) {
    let svi = read_svi("svi_county.csv").expect("small SVI table");
    let zip = ZipCounty::read(
        &mut File::open(data("zip_county.csv")).expect("test crosswalk"),
        "2023Q1".into(),
    )
    .expect("small crosswalk");
    (svi, zip)
}

fn valid(resource: &Value) {
    if let Err(issues) = salus_fhir::schema::validate(resource) {
        panic!("invalid {}: {issues:?}", resource["resourceType"]);
    }
}

fn patient(id: &str, address: Value) -> Value {
    json!({"resourceType": "Patient", "id": id, "address": [address]})
}

fn value_text(o: &Value) -> Option<String> {
    o.get("valueQuantity").map(|q| q["value"].to_string())
}

#[test]
fn reads_a_small_county_table() {
    let svi = read_svi("svi_county.csv").unwrap();
    assert_eq!(svi.len(), 4);
    assert_eq!(svi.vintage(), 2020);
    assert_eq!(svi.geography(), Geography::County);
    assert_eq!(svi.dataset_name(), "CDC/ATSDR SVI 2020 county");
    // The BOM before the first column name does not hide it; leading zeros stay.
    let row = svi.row("01001").unwrap();
    assert_eq!(row.state, "AL");
    assert_eq!(row.state_name, "Alabama");
    assert_eq!(row.county, "Autauga");
    assert_eq!(row.location, "Autauga County, Alabama");
    assert_eq!(row.overall, Some(0.25));
    assert_eq!(row.themes, [Some(0.4), Some(0.1), Some(0.5), Some(0.2)]);
    let shawnee = svi.row("20177").unwrap();
    assert_eq!(shawnee.texts[0].as_ref().unwrap().to_string(), "0.5493");
    // -999 is missing.
    let empty = svi.row("99001").unwrap();
    assert_eq!(empty.overall, None);
    assert_eq!(empty.themes, [None, None, Some(0.5), None]);
    assert!(empty.texts[0].is_none());
    assert!(svi.row("1001").is_none());
}

#[test]
fn bad_tables_are_refused_whole_with_line_and_column() {
    assert_eq!(
        read_svi("svi_missing_columns.csv").unwrap_err(),
        TableError::MissingColumns(vec!["RPL_THEMES".into(), "RPL_THEME3".into()])
    );
    let e = read_svi("svi_bad_fips.csv").unwrap_err();
    assert_eq!(
        e,
        TableError::BadFips {
            line: 3,
            column: "FIPS"
        }
    );
    assert!(!e.to_string().contains("1001"), "{e}");
    let e = read_svi("svi_bad_percentile.csv").unwrap_err();
    assert_eq!(
        e,
        TableError::BadPercentile {
            line: 3,
            column: "RPL_THEME2"
        }
    );
    assert!(!e.to_string().contains("1.5"), "{e}");
    assert_eq!(
        read_svi("svi_ragged.csv").unwrap_err(),
        TableError::Ragged {
            line: 3,
            expected: 10,
            found: 9
        }
    );
    assert_eq!(
        read_svi("svi_duplicate.csv").unwrap_err(),
        TableError::DuplicateFips {
            line: 4,
            first_line: 2
        }
    );
    let mut bytes = std::fs::read(data("svi_bad_fips.csv")).unwrap();
    let at = bytes.iter().rposition(|&b| b == b'A').unwrap();
    bytes[at] = 0xff;
    assert_eq!(
        SviTable::read(&mut bytes.as_slice(), 2020).unwrap_err(),
        TableError::NotUtf8 { line: 3 }
    );
    assert_eq!(
        SviTable::read(&mut &b""[..], 2020).unwrap_err(),
        TableError::Empty
    );
    assert_eq!(
        SviTable::read(&mut File::open(data("svi_county.csv")).unwrap(), 20).unwrap_err(),
        TableError::BadYear
    );
    // A byte-order mark right before a required column's name.
    let bom = "\u{feff}FIPS,ST_ABBR,STATE,COUNTY,LOCATION,RPL_THEMES,RPL_THEME1,RPL_THEME2,RPL_THEME3,RPL_THEME4\n20177,KS,Kansas,Shawnee,x,0.5,0.1,0.2,0.3,0.4\n";
    assert_eq!(SviTable::read(&mut bom.as_bytes(), 2020).unwrap().len(), 1);
    let header_only = b"FIPS,ST_ABBR,STATE,COUNTY,LOCATION,RPL_THEMES,RPL_THEME1,RPL_THEME2,RPL_THEME3,RPL_THEME4\n";
    assert_eq!(
        SviTable::read(&mut &header_only[..], 2020).unwrap_err(),
        TableError::NoRows
    );
    let mixed = b"FIPS,ST_ABBR,STATE,COUNTY,LOCATION,RPL_THEMES,RPL_THEME1,RPL_THEME2,RPL_THEME3,RPL_THEME4\n20177,KS,Kansas,Shawnee,x,0.1,0.1,0.1,0.1,0.1\n20177000100,KS,Kansas,Shawnee,x,0.1,0.1,0.1,0.1,0.1\n";
    assert_eq!(
        SviTable::read(&mut &mixed[..], 2020).unwrap_err(),
        TableError::MixedGeography { line: 3 }
    );
    for bad in ["", "abc", ".5", "NaN", "inf", "-1", "1.0001", "-999x"] {
        let text = format!("FIPS,ST_ABBR,STATE,COUNTY,LOCATION,RPL_THEMES,RPL_THEME1,RPL_THEME2,RPL_THEME3,RPL_THEME4\n20177,KS,Kansas,Shawnee,x,{bad},0.1,0.1,0.1,0.1\n");
        assert_eq!(
            SviTable::read(&mut text.as_bytes(), 2020).unwrap_err(),
            TableError::BadPercentile {
                line: 2,
                column: "RPL_THEMES"
            },
            "{bad:?}"
        );
    }
}

#[test]
fn vintage_from_names() {
    assert_eq!(vintage_from_file_name("SVI2020_US_COUNTY.csv"), Some(2020));
    assert_eq!(
        vintage_from_file_name("/data/cdc/svi2018_us.csv"),
        Some(2018)
    );
    assert_eq!(vintage_from_file_name("SVI20201_US.csv"), None);
    assert_eq!(vintage_from_file_name("counties.csv"), None);
    assert_eq!(
        salus_sdoh::crosswalk_vintage_from_file_name("ZIP_COUNTY_032023_MA_KS.csv").as_deref(),
        Some("2023Q1")
    );
    assert_eq!(
        salus_sdoh::crosswalk_vintage_from_file_name("zip_county_122021.xlsx").as_deref(),
        Some("2021Q4")
    );
    assert_eq!(
        salus_sdoh::crosswalk_vintage_from_file_name("ZIP_COUNTY_052023.csv"),
        None
    );
}

#[test]
fn crosswalk_choice_and_errors() {
    let (_, zip) = small();
    assert_eq!(zip.vintage(), "2023Q1");
    assert_eq!(zip.county_for("66601"), Some(("20177", 1.0)));
    // Highest residential ratio.
    assert_eq!(zip.county_for("11111"), Some(("20177", 0.7)));
    // Equal residential (5E-1 = 0.5): highest total ratio.
    assert_eq!(zip.county_for("22222"), Some(("20177", 0.5)));
    // Equal residential and total: lowest FIPS.
    assert_eq!(zip.county_for("33333"), Some(("20177", 0.0)));
    assert_eq!(zip.counties("11111").len(), 2);
    assert_eq!(zip.county_for("99999"), None);

    let read = |text: &str| ZipCounty::read(&mut text.as_bytes(), "2023Q1".into());
    let header = "ZIP,COUNTY,RES_RATIO,TOT_RATIO\n";
    assert_eq!(
        read("ZIP,COUNTY,TOT_RATIO\n01010,25013,1\n").unwrap_err(),
        TableError::MissingColumns(vec!["RES_RATIO".into()])
    );
    assert_eq!(
        read(&format!("{header}1010,25013,1,1\n")).unwrap_err(),
        TableError::BadZip {
            line: 2,
            column: "ZIP"
        }
    );
    assert_eq!(
        read(&format!("{header}01010,2501,1,1\n")).unwrap_err(),
        TableError::BadFips {
            line: 2,
            column: "COUNTY"
        }
    );
    assert_eq!(
        read(&format!("{header}01010,25013,2,1\n")).unwrap_err(),
        TableError::BadRatio {
            line: 2,
            column: "RES_RATIO"
        }
    );
    assert_eq!(
        read(&format!("{header}01010,25013,1,1\n01010,25013,1,1\n")).unwrap_err(),
        TableError::DuplicatePair {
            line: 3,
            first_line: 2
        }
    );
    assert_eq!(
        read(&format!("{header}01010,25013,1\n")).unwrap_err(),
        TableError::Ragged {
            line: 2,
            expected: 4,
            found: 3
        }
    );
    assert_eq!(
        ZipCounty::read(&mut header.as_bytes(), "2023-1".into()).unwrap_err(),
        TableError::BadVintage
    );
    // Lower-case HUD headers are read too.
    assert!(read("zip,county,res_ratio,tot_ratio\n01010,25013,2.7598355842630651E-2,1\n").is_ok());
}

#[test]
fn link_by_zip_county_and_tract() {
    let (svi, zip) = small();
    let by_zip = link_patient(
        &patient(
            "p1",
            json!({"use": "home", "postalCode": "66601-1234", "country": "US"}),
        ),
        &svi,
        Some(&zip),
    )
    .unwrap();
    assert_eq!(by_zip.len(), 5);
    for (o, measure) in by_zip.iter().zip(SVI_MEASURES) {
        valid(o);
        assert_eq!(o["code"]["coding"][0]["system"], SVI_SYSTEM);
        assert_eq!(o["code"]["coding"][0]["code"], measure.code);
        assert_eq!(o["subject"]["reference"], "Patient/p1");
        assert_eq!(o["status"], "final");
        assert_eq!(
            o["effectivePeriod"],
            json!({"start": "2020-01-01", "end": "2020-12-31"})
        );
        assert_eq!(o["method"]["coding"][0]["code"], "match-zip-crosswalk");
        assert_eq!(
            o["method"]["text"],
            "ZIP via HUD-USPS crosswalk 2023Q1, residential ratio 1.000"
        );
        assert_eq!(o["component"][0]["valueString"], "20177");
        assert_eq!(o["component"][1]["valueString"], "Shawnee County, Kansas");
        assert_eq!(o["meta"]["tag"][0]["code"], "derived");
        assert_eq!(
            o["id"],
            salus_fhir::ids::derive_id(&format!("sdoh|svi|p1|{}", measure.code))
        );
        assert_eq!(o["valueQuantity"]["unit"], "percentile rank");
    }
    let values: Vec<_> = by_zip.iter().map(|o| value_text(o).unwrap()).collect();
    assert_eq!(values, ["0.5493", "0.3507", "0.5312", "0.6464", "0.7393"]);
    // Idempotent: the same patient twice gives the same resources.
    let again = link_patient(
        &patient(
            "p1",
            json!({"use": "home", "postalCode": "66601-1234", "country": "US"}),
        ),
        &svi,
        Some(&zip),
    )
    .unwrap();
    assert_eq!(by_zip, again);

    // A county FIPS on the address wins over the ZIP.
    let county = json!({"postalCode": "66601", "extension": [{"url": COUNTY_FIPS_EXTENSION, "valueString": "25025"}]});
    let by_fips = link_patient(&patient("p1", county), &svi, Some(&zip)).unwrap();
    assert_eq!(by_fips[0]["method"]["text"], "address county FIPS");
    assert_eq!(value_text(&by_fips[0]).unwrap(), "0.7919");
    // A new address updates the same Observations.
    assert_eq!(by_fips[0]["id"], by_zip[0]["id"]);

    // A tract FIPS on a county table: its county.
    let tract =
        json!({"extension": [{"url": COUNTY_FIPS_EXTENSION, "valueString": "20177000100"}]});
    let by_tract = link_patient(&patient("p2", tract.clone()), &svi, None).unwrap();
    assert_eq!(
        by_tract[0]["method"]["coding"][0]["code"],
        "match-address-tract-fips"
    );
    assert_eq!(by_tract[0]["component"][0]["valueString"], "20177");
    // ... and on a tract table: the tract.
    let tracts = read_svi("svi_tract.csv").unwrap();
    assert_eq!(tracts.geography(), Geography::Tract);
    let on_tract = link_patient(&patient("p2", tract), &tracts, None).unwrap();
    assert_eq!(value_text(&on_tract[0]).unwrap(), "0.8123");
    assert_eq!(
        on_tract[0]["component"][0]["code"]["coding"][0]["code"],
        "tract-fips"
    );
    assert_eq!(
        on_tract[0]["extension"][0]["extension"][0]["valueString"],
        "CDC/ATSDR SVI 2020 tract"
    );
    on_tract.iter().for_each(valid);
}

#[test]
fn missing_percentiles_have_a_data_absent_reason() {
    let (svi, zip) = small();
    let obs = link_patient(
        &patient("p3", json!({"postalCode": "44444"})),
        &svi,
        Some(&zip),
    )
    .unwrap();
    assert_eq!(obs.len(), 5);
    for (i, o) in obs.iter().enumerate() {
        valid(o);
        if i == 3 {
            assert_eq!(value_text(o).unwrap(), "0.5");
        } else {
            assert!(o.get("valueQuantity").is_none());
            assert_eq!(o["dataAbsentReason"]["coding"][0]["code"], "unknown");
        }
    }
}

#[test]
fn unmatched_patients_say_why_and_never_guess() {
    let (svi, zip) = small();
    let reason =
        |p: Value, zip: Option<&ZipCounty>| link_patient(&p, &svi, zip).unwrap_err().reason;
    assert_eq!(
        reason(json!({"resourceType": "Observation"}), Some(&zip)),
        UnmatchedReason::NotAPatient
    );
    assert_eq!(
        reason(json!({"resourceType": "Patient"}), Some(&zip)),
        UnmatchedReason::NoPatientId
    );
    assert_eq!(
        reason(json!({"resourceType": "Patient", "id": "x"}), Some(&zip)),
        UnmatchedReason::NoAddress
    );
    assert_eq!(
        reason(
            patient("x", json!({"use": "old", "postalCode": "66601"})),
            Some(&zip)
        ),
        UnmatchedReason::NoCurrentAddress
    );
    assert_eq!(
        reason(
            patient(
                "x",
                json!({"postalCode": "66601", "period": {"end": "2019-01-01"}})
            ),
            Some(&zip)
        ),
        UnmatchedReason::NoCurrentAddress
    );
    assert_eq!(
        reason(patient("x", json!({"city": "Topeka"})), Some(&zip)),
        UnmatchedReason::NoZipOrFips
    );
    assert_eq!(
        reason(patient("x", json!({"postalCode": "K1A 0B1"})), Some(&zip)),
        UnmatchedReason::BadZip
    );
    assert_eq!(
        reason(
            patient("x", json!({"postalCode": "66601", "country": "CA"})),
            Some(&zip)
        ),
        UnmatchedReason::OutsideUnitedStates
    );
    assert_eq!(
        reason(patient("x", json!({"postalCode": "66601"})), None),
        UnmatchedReason::NoCrosswalk
    );
    assert_eq!(
        reason(patient("x", json!({"postalCode": "00000"})), Some(&zip)),
        UnmatchedReason::ZipNotInCrosswalk
    );
    assert_eq!(
        reason(patient("x", json!({"postalCode": "55555"})), Some(&zip)),
        UnmatchedReason::NotInTable
    );
    assert_eq!(
        reason(
            patient(
                "x",
                json!({"extension": [{"url": COUNTY_FIPS_EXTENSION, "valueString": "2017"}], "postalCode": "66601"})
            ),
            Some(&zip)
        ),
        UnmatchedReason::BadFipsExtension
    );
    let tracts = read_svi("svi_tract.csv").unwrap();
    let e = link_patient(
        &patient("x", json!({"postalCode": "66601"})),
        &tracts,
        Some(&zip),
    )
    .unwrap_err();
    assert_eq!(e.reason, UnmatchedReason::NeedsTract);
    // Reasons never carry the address.
    assert!(!e.to_string().contains("66601"));

    // The home address wins over an earlier temporary one; an old one is skipped.
    let p = json!({"resourceType": "Patient", "id": "y", "address": [
        {"use": "old", "postalCode": "02108"},
        {"use": "temp", "postalCode": "11111"},
        {"use": "home", "postalCode": "66601"}
    ]});
    let obs = link_patient(&p, &svi, Some(&zip)).unwrap();
    assert_eq!(obs[0]["component"][0]["valueString"], "20177");
    assert_eq!(
        obs[0]["method"]["text"],
        "ZIP via HUD-USPS crosswalk 2023Q1, residential ratio 1.000"
    );
}

#[test]
fn the_code_system_is_valid_fhir_and_has_every_code() {
    let cs = svi_code_system();
    valid(&cs);
    assert_eq!(cs["url"], SVI_SYSTEM);
    assert_eq!(cs["status"], "active");
    assert_eq!(cs["content"], "complete");
    let codes: Vec<&str> = cs["concept"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["code"].as_str().unwrap())
        .collect();
    for m in SVI_MEASURES {
        assert!(codes.contains(&m.code));
    }
    for c in [
        "county-fips",
        "tract-fips",
        "area-name",
        "match-address-county-fips",
        "match-address-tract-fips",
        "match-zip-crosswalk",
    ] {
        assert!(codes.contains(&c), "{c}");
    }
    assert!(cs["description"].as_str().unwrap().contains("CDC/ATSDR"));
}

// ---------------------------------------------------------------------------------------------
// The real tables and the Synthea patients.

fn real_tables() -> Option<(SviTable, ZipCounty)> {
    let root = external();
    if !root.exists() {
        eprintln!(
            "skipped: {} is absent (shared external fixtures not installed)",
            root.display()
        );
        return None;
    }
    let svi_path = root.join("sdoh/svi/SVI2020_US_COUNTY.csv");
    let vintage = vintage_from_file_name(&svi_path.to_string_lossy()).expect("vintage in name");
    let svi = SviTable::read(&mut File::open(&svi_path).unwrap(), vintage).expect("CDC table");
    let zip_path = root.join("sdoh/hud-usps-crosswalk/ZIP_COUNTY_032023_MA_KS.csv");
    let quarter =
        salus_sdoh::crosswalk_vintage_from_file_name(&zip_path.to_string_lossy()).unwrap();
    let zip = ZipCounty::read(&mut File::open(&zip_path).unwrap(), quarter).expect("HUD crosswalk");
    Some((svi, zip))
}

/// Every Patient of the Synthea bulk export (Kansas) and bundles (Massachusetts).
fn synthea_patients() -> Vec<Value> {
    let root = external();
    let mut patients = Vec::new();
    let ndjson = BufReader::new(
        File::open(root.join("synthea-bulk/10-patients/Patient.000.ndjson")).unwrap(),
    );
    for line in ndjson.lines() {
        let line = line.unwrap();
        if !line.trim().is_empty() {
            patients.push(serde_json::from_str(&line).unwrap());
        }
    }
    let mut bundles: Vec<PathBuf> = std::fs::read_dir(root.join("synthea-bundles"))
        .unwrap()
        .flat_map(|d| std::fs::read_dir(d.unwrap().path()).unwrap())
        .map(|f| f.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    bundles.sort();
    for path in bundles {
        let bundle: Value =
            serde_json::from_reader(BufReader::new(File::open(&path).unwrap())).unwrap();
        for entry in bundle["entry"].as_array().unwrap() {
            if entry["resource"]["resourceType"] == "Patient" {
                patients.push(entry["resource"].clone());
            }
        }
    }
    patients
}

#[test]
fn real_cdc_table_loads() {
    let Some((svi, zip)) = real_tables() else {
        return;
    };
    assert_eq!(svi.vintage(), 2020);
    assert_eq!(svi.geography(), Geography::County);
    assert_eq!(svi.len(), 3143);
    assert_eq!(zip.vintage(), "2023Q1");
    // Read by hand from SVI2020_US_COUNTY.csv.
    let shawnee = svi.row("20177").unwrap();
    assert_eq!(shawnee.location, "Shawnee County, Kansas");
    assert_eq!(shawnee.overall, Some(0.5493));
    assert_eq!(
        shawnee.themes,
        [Some(0.3507), Some(0.5312), Some(0.6464), Some(0.7393)]
    );
    // BRIMFIELD, MA is split between Hampden (0.972…) and Worcester (2.76E-2).
    let (county, ratio) = zip.county_for("01010").unwrap();
    assert_eq!(county, "25013");
    assert!((ratio - 0.972_401_644_157_369).abs() < 1e-12);
    // A county FIPS on the address, on the real table.
    let p = patient(
        "shawnee",
        json!({"use": "home", "extension": [{"url": COUNTY_FIPS_EXTENSION, "valueString": "20177"}]}),
    );
    let obs = link_patient(&p, &svi, None).unwrap();
    assert_eq!(value_text(&obs[0]).unwrap(), "0.5493");
}

#[test]
fn synthea_patients_get_their_countys_svi() {
    let Some((svi, zip)) = real_tables() else {
        return;
    };
    // (patient id, county FIPS, RPL_THEMES, RPL_THEME1..4), read by hand from the CSVs: the
    // ZIP's county in ZIP_COUNTY_032023 (highest RES_RATIO) and its row in SVI2020_US_COUNTY.
    let lyon = ("20111", ["0.6563", "0.5258", "0.3205", "0.6712", "0.9102"]);
    let sedgwick = ("20173", ["0.7269", "0.6805", "0.8307", "0.711", "0.4879"]);
    let johnson = ("20091", ["0.1324", "0.1458", "0.2826", "0.5589", "0.0888"]);
    let kingman = ("20095", ["0.035", "0.0477", "0.1254", "0.2046", "0.0783"]);
    let reno = ("20155", ["0.5964", "0.5239", "0.5251", "0.4885", "0.7094"]);
    let middlesex = ("25017", ["0.3138", "0.1703", "0.0662", "0.669", "0.8224"]);
    let essex = ("25009", ["0.6165", "0.3647", "0.5767", "0.6891", "0.8555"]);
    let hampden = ("25013", ["0.8307", "0.6483", "0.8651", "0.7708", "0.8281"]);
    let suffolk = ("25025", ["0.7919", "0.6824", "0.2206", "0.8988", "0.9761"]);
    let expected = [
        ("129c6ac7-8d06-89de-ad63-0204a93e76c3", Some(lyon)), // 66801 Emporia
        ("3af3708d-41f1-cd80-f3dd-ec5ac76072bf", Some(sedgwick)), // 67216 Haysville
        ("63ee2253-bdd5-da55-2ad2-b4984d0ad700", Some(kingman)), // 67035, 0.883 in Kingman
        ("6a4160eb-a793-2f86-2302-378626f46cce", Some(johnson)), // 66083, 0.580 Johnson / 0.420 Miami
        ("79a66c97-6131-3213-f3c9-4606946ab056", Some(lyon)),
        ("7bc002fa-dc52-17d6-1563-fd8901826f7d", Some(johnson)),
        ("8e1a0a7c-e308-444b-075a-3c2b1f60f881", Some(sedgwick)),
        ("a4a401d1-a46a-eb4a-8a38-760d5d79d6ec", Some(johnson)),
        ("a5cb8ce9-cec6-6b23-0990-cbaf753578a4", Some(lyon)),
        ("bb6a9034-2f23-2508-d29d-35efee156dc9", None), // postalCode 00000: not a ZIP HUD knows
        ("ca15b832-01e4-41dd-6a52-97bd3e5510cb", Some(sedgwick)),
        ("cbc86e51-9eca-3855-76ec-c058f72c5761", Some(johnson)),
        ("fb7c882a-f897-e7c5-67e0-825e7fd55d15", Some(reno)),
        ("3f6fd0bb-6cd3-eb3f-4401-cd38ace25f2b", Some(middlesex)), // 01801 Woburn
        ("c2128e3c-1970-4f69-94c2-ac4f5de8b53b", Some(hampden)),   // 01013 Chicopee
        ("84451841-21bf-4754-9eb5-99d508c4282f", Some(essex)),     // 01938 Ipswich
        ("494743a2-fea5-4827-8f02-c2b91e4a4c9e", Some(suffolk)),   // 02108 Boston
        ("57a5a683-f51e-4976-ad1d-c2c4d3385cec", Some(essex)),     // 01901 Lynn
        ("85", Some(middlesex)), // inferno: 01854 Lowell (the current address; the old one is skipped)
    ];
    let patients = synthea_patients();
    assert!(patients.len() >= 20, "{} patients", patients.len());
    let mut checked = 0;
    for p in &patients {
        let id = p["id"].as_str().unwrap();
        let result = link_patient(p, &svi, Some(&zip));
        match expected.iter().find(|(e, _)| *e == id) {
            Some((_, Some((fips, values)))) => {
                let obs = result.unwrap_or_else(|e| panic!("{id}: {e}"));
                assert_eq!(obs.len(), 5);
                let row = svi.row(fips).unwrap();
                for (i, o) in obs.iter().enumerate() {
                    valid(o);
                    assert_eq!(o["component"][0]["valueString"], *fips, "{id}");
                    assert_eq!(value_text(o).unwrap(), values[i], "{id} measure {i}");
                    // And the table's own row says the same.
                    assert_eq!(
                        Some(value_text(o).unwrap()),
                        row.texts[i].as_ref().map(ToString::to_string)
                    );
                    assert_eq!(o["subject"]["reference"], format!("Patient/{id}"));
                }
                checked += 1;
            }
            Some((_, None)) => {
                assert_eq!(
                    result.unwrap_err().reason,
                    UnmatchedReason::ZipNotInCrosswalk,
                    "{id}"
                );
                checked += 1;
            }
            None => {
                // The spezi-synthea-v3 patients have a geolocation but no postalCode: Salus
                // does not geocode, so they are unmatched, not guessed.
                assert!(
                    p["address"][0].get("postalCode").is_none(),
                    "{id} not expected"
                );
                assert_eq!(
                    result.unwrap_err().reason,
                    UnmatchedReason::NoZipOrFips,
                    "{id}"
                );
            }
        }
    }
    assert_eq!(checked, expected.len(), "every expected patient was seen");
}
