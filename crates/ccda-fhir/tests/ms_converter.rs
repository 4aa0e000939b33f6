//! Key-field comparison with Microsoft's FHIR-Converter on its own C-CDA samples.
//!
//! For every `input/X.ccda` with an `expected/X-expected.json` (the Bundle the converter
//! produced), our resources and theirs are reduced to key facts (see `common/keyfields.rs`:
//! counts per type, and per resource the key fields the issue names, paired by a natural key)
//! and compared by meaning. Every difference must be explained in
//! `tests/data/ms_converter_differences.json` (file glob + field glob + kind + reason); an
//! unexplained difference, or an explanation that no longer matches anything, fails the test,
//! so the file stays true while the section mappers grow.
//!
//! Kinds: `ours-right` (we follow the C-CDA/FHIR rule cited and Microsoft does not), `choice`
//! (both readings are defensible, ours is documented), `scope` (Microsoft maps something this
//! crate deliberately does not), `theirs-right-todo` (a mapping bug of ours, listed so the
//! section owners fix it; the entry must be removed when it is fixed, which the stale check
//! enforces).
//!
//! Also: no sample is rejected, and every resource we produce is valid against the FHIR R4
//! schema.

mod common;

use std::path::{Path, PathBuf};

use common::keyfields::{compare, facts};
use salus_ccda_fhir::{map_bytes, Limits, MapOptions};
use serde_json::Value;

/// The overall agreement may not fall below this. The issue's target is 95 %; this is a
/// regression floor a little under the figure measured while the section mappers were still
/// being written (69.1 %, 1120 of 1622, on 2026-12-02), not the target: raise it as they land.
/// What keeps the figure low is listed in the differences file; most of it (`ours-right`) is
/// Microsoft leaving out what FHIR or US Core requires (Condition clinicalStatus and
/// category, Observation/DiagnosticReport/MedicationStatement status, Encounter class) or
/// mapping nothing of whole documents and sections (Progress_Note, Patient-1, Goals, Health
/// Concerns), which no change on our side can make agree.
const FLOOR_PCT: f64 = 67.0;

const KINDS: &[&str] = &["ours-right", "choice", "scope", "theirs-right-todo"];

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/fixtures/external/ccda/microsoft-fhir-converter")
}

struct Explanation {
    file: String,
    field: String,
    kind: String,
    reason: String,
    used: bool,
}

/// `*` matches any run of characters.
fn glob(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let mut rest = text;
    for (i, part) in parts.iter().enumerate() {
        if i == 0 {
            match rest.strip_prefix(part) {
                Some(r) => rest = r,
                None => return false,
            }
        } else if i == parts.len() - 1 {
            return rest.ends_with(part);
        } else {
            match rest.find(part) {
                Some(at) => rest = &rest[at + part.len()..],
                None => return false,
            }
        }
    }
    true
}

fn explanations() -> Vec<Explanation> {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/ms_converter_differences.json");
    let text = std::fs::read_to_string(&path).expect("the differences file exists");
    let doc: Value = serde_json::from_str(&text).expect("the differences file is JSON");
    doc["differences"]
        .as_array()
        .expect("a differences array")
        .iter()
        .map(|d| {
            let e = Explanation {
                file: d["file"].as_str().unwrap_or("*").to_string(),
                field: d["field"]
                    .as_str()
                    .expect("each difference names a field")
                    .to_string(),
                kind: d["kind"]
                    .as_str()
                    .expect("each difference has a kind")
                    .to_string(),
                reason: d["reason"]
                    .as_str()
                    .expect("each difference has a reason")
                    .to_string(),
                used: false,
            };
            assert!(
                KINDS.contains(&e.kind.as_str()),
                "{} {}: unknown kind {}",
                e.file,
                e.field,
                e.kind
            );
            assert!(
                e.reason.len() > 20,
                "{} {}: a reason says why",
                e.file,
                e.field
            );
            e
        })
        .collect()
}

#[test]
fn agrees_with_microsoft_fhir_converter_on_key_fields() {
    let dir = fixtures();
    let input = dir.join("input");
    if !input.is_dir() {
        println!("skipped: {} is absent", input.display());
        return;
    }
    let mut explained = explanations();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&input)
        .expect("input dir readable")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "ccda"))
        .collect();
    files.sort();
    let (mut total, mut agreed, mut documents) = (0usize, 0usize, 0usize);
    let mut by_kind: std::collections::BTreeMap<String, usize> = Default::default();
    let mut unexplained = Vec::new();
    let mut invalid = Vec::new();
    let mut rejected = Vec::new();
    for path in &files {
        // `X.ccda` → `X` (which may itself end in `.xml`).
        let stem = path
            .file_name()
            .and_then(|s| s.to_str())
            .and_then(|s| s.strip_suffix(".ccda"))
            .unwrap_or("")
            .to_string();
        let expected = dir.join("expected").join(format!("{stem}-expected.json"));
        let Ok(expected) = std::fs::read_to_string(&expected) else {
            println!("{stem}: no expected output, skipped");
            continue;
        };
        let bundle: Value = serde_json::from_str(&expected).expect("expected output is JSON");
        let theirs: Vec<Value> = bundle["entry"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|e| e["resource"].clone())
            .collect();
        let bytes = std::fs::read(path).expect("input readable");
        let mapped = match map_bytes(&bytes, &Limits::default(), &MapOptions::default()) {
            Ok(m) => m,
            Err(e) => {
                rejected.push(format!("{stem}: {e}"));
                continue;
            }
        };
        documents += 1;
        let ours: Vec<Value> = mapped
            .resources
            .iter()
            .map(|r| r.resource.clone())
            .collect();
        for r in &mapped.resources {
            if let Err(issues) = salus_fhir::schema::validate(&r.resource) {
                invalid.push(format!(
                    "{stem}: {} at {}: {:?}",
                    r.resource["resourceType"], r.position, issues
                ));
            }
        }
        let comparisons = compare(&facts(&ours), &facts(&theirs));
        let agree = comparisons.iter().filter(|c| c.agree).count();
        total += comparisons.len();
        agreed += agree;
        println!(
            "{stem}: {agree}/{} key fields agree ({:.1} %)",
            comparisons.len(),
            100.0 * agree as f64 / comparisons.len().max(1) as f64
        );
        for c in comparisons.iter().filter(|c| !c.agree) {
            let reason = explained
                .iter_mut()
                .find(|e| glob(&e.file, &stem) && glob(&e.field, &c.field))
                .map(|e| {
                    e.used = true;
                    (e.kind.clone(), e.reason.clone())
                });
            match reason {
                Some((kind, reason)) => {
                    *by_kind.entry(kind.clone()).or_insert(0) += 1;
                    println!(
                        "  {}: ours {} | theirs {} — [{kind}] {reason}",
                        c.field, c.ours, c.theirs
                    )
                }
                None => {
                    println!(
                        "  {}: ours {} | theirs {} — UNEXPLAINED",
                        c.field, c.ours, c.theirs
                    );
                    unexplained.push(format!("{stem} {}", c.field));
                }
            }
        }
    }
    let pct = 100.0 * agreed as f64 / total.max(1) as f64;
    println!("overall: {agreed}/{total} key fields agree ({pct:.1} %) over {documents} documents");
    println!("differences by kind: {by_kind:?}");
    // Two readings of the same count, printed only: without the fields only Microsoft maps
    // (scope), and without the differences where Microsoft is shown wrong (ours-right).
    let scope = by_kind.get("scope").copied().unwrap_or(0);
    let theirs_wrong = by_kind.get("ours-right").copied().unwrap_or(0);
    let both = total - scope;
    println!(
        "on fields both map: {agreed}/{both} ({:.1} %); leaving out the {theirs_wrong} where Microsoft is shown wrong: {agreed}/{} ({:.1} %)",
        100.0 * agreed as f64 / both.max(1) as f64,
        both - theirs_wrong,
        100.0 * agreed as f64 / (both - theirs_wrong).max(1) as f64
    );
    let stale: Vec<String> = explained
        .iter()
        .filter(|e| !e.used)
        .map(|e| format!("{} {}", e.file, e.field))
        .collect();
    for s in &stale {
        println!("stale explanation (matches no difference): {s}");
    }
    assert!(rejected.is_empty(), "samples rejected: {rejected:#?}");
    assert!(documents > 0, "no sample was compared");
    assert!(
        invalid.is_empty(),
        "resources invalid against the FHIR schema: {invalid:#?}"
    );
    assert!(
        unexplained.is_empty(),
        "unexplained differences: {unexplained:#?}"
    );
    assert!(
        stale.is_empty(),
        "explanations that match no difference: {stale:#?}"
    );
    assert!(
        pct >= FLOOR_PCT,
        "overall agreement fell to {pct:.1} % (floor {FLOOR_PCT} %)"
    );
}

#[test]
fn glob_matches() {
    assert!(glob("Observation[*].status", "Observation[8867-4].status"));
    assert!(glob("*", "anything"));
    assert!(!glob("count.Patient", "count.Practitioner"));
    assert!(glob("C-CDA*", "C-CDA_R2-1_CCD.xml"));
}
