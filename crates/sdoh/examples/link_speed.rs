//! Linking speed: 10,000 synthetic patients over the real CDC SVI 2020 county table and the
//! HUD-USPS 2023Q1 crosswalk, `cargo run --release -p salus-sdoh --example link_speed [N]`.
//!
//! The patients are built before the clock starts (the caller reads them from the store);
//! what is timed is `link_patient` for each, as `salus sdoh link` calls it: a quarter carry a
//! county FIPS extension, the rest a ZIP (ZIP+4 for some) from the crosswalk, and one in fifty
//! a ZIP the crosswalk lacks.

use std::fs::File;
use std::hint::black_box;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::time::Instant;

use salus_sdoh::{link_patient, SviTable, ZipCounty, COUNTY_FIPS_EXTENSION};
use serde_json::json;

/// The allocator of the salus binary, so that the figure is the pipeline's.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(10_000);
    let root =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures/external/sdoh");
    let svi_path = root.join("svi/SVI2020_US_COUNTY.csv");
    let zip_path = root.join("hud-usps-crosswalk/ZIP_COUNTY_032023_MA_KS.csv");
    let open = |p: &PathBuf| {
        File::open(p).unwrap_or_else(|e| {
            eprintln!("{}: {e}", p.display());
            std::process::exit(1)
        })
    };
    let started = Instant::now();
    let svi = SviTable::read(&mut open(&svi_path), 2020).expect("SVI table");
    let crosswalk = ZipCounty::read(&mut open(&zip_path), "2023Q1".into()).expect("crosswalk");
    let load = started.elapsed();

    let mut zips: Vec<String> = BufReader::new(open(&zip_path))
        .lines()
        .skip(1)
        .filter_map(|l| l.ok()?.split(',').next().map(str::to_string))
        .collect();
    zips.dedup();
    let counties: Vec<String> = svi.rows().iter().map(|r| r.fips.clone()).collect();
    let patients: Vec<serde_json::Value> = (0..n)
        .map(|i| {
            let address = if i % 4 == 0 {
                json!({"use": "home", "line": ["1 Main St"], "city": "Anytown",
                       "extension": [{"url": COUNTY_FIPS_EXTENSION, "valueString": counties[i % counties.len()]}]})
            } else if i % 50 == 1 {
                json!({"line": ["1 Main St"], "postalCode": "99999"})
            } else {
                let zip = &zips[i % zips.len()];
                let postal = if i % 3 == 0 { format!("{zip}-1234") } else { zip.clone() };
                json!({"extension": [{"url": "http://hl7.org/fhir/StructureDefinition/geolocation",
                        "extension": [{"url": "latitude", "valueDecimal": 38.4}, {"url": "longitude", "valueDecimal": -96.2}]}],
                       "line": ["1 Main St"], "city": "Anytown", "state": "KS", "postalCode": postal, "country": "US"})
            };
            json!({"resourceType": "Patient", "id": format!("patient-{i}"), "name": [{"family": "Doe"}],
                   "gender": "female", "birthDate": "1980-01-01", "address": [address]})
        })
        .collect();

    // Once to warm caches, then timed.
    let mut linked = 0usize;
    for p in patients.iter().take(100) {
        let _ = black_box(link_patient(p, &svi, Some(&crosswalk)));
    }
    let started = Instant::now();
    let mut observations = 0usize;
    for p in &patients {
        if let Ok(obs) = black_box(link_patient(p, &svi, Some(&crosswalk))) {
            linked += 1;
            observations += obs.len();
            black_box(obs);
        }
    }
    let took = started.elapsed();
    println!(
        "tables loaded in {:.1} ms ({} SVI rows, {} ZIPs)",
        load.as_secs_f64() * 1e3,
        svi.len(),
        crosswalk.len()
    );
    println!(
        "linked {linked} of {n} patients ({observations} Observations) in {:.1} ms: {:.2} µs per patient",
        took.as_secs_f64() * 1e3,
        took.as_secs_f64() * 1e6 / n as f64
    );
}
