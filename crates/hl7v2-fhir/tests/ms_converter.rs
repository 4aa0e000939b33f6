//! Key-field comparison with Microsoft's FHIR-Converter on its own sample messages.
//!
//! For every `input/X.hl7` with an `expected/X-expected.json` (a Bundle the converter
//! produced), our resources and theirs are reduced to key fields (see `common/keyfields.rs`)
//! and compared by meaning. Every difference must be explained in
//! `tests/data/ms_converter_differences.json` (file + field, glob `*` allowed, with a reason);
//! an unexplained difference, or an explanation that no longer matches anything, fails the
//! test, so the file stays true.
//!
//! The figure counts exactly the key fields the issue names: the count of each type in
//! `COUNTED`, and the fields of Patient (identifiers, names, birth date, gender, address
//! parts), Encounter (class, status, period), Observation (code, value with unit, status) and
//! Immunization (vaccine code, date). Other types are counted but their fields are not
//! compared.
//!
//! The issue's target is 95 % agreement. Measured: 76.2 % (427 of 560). What keeps it below
//! is explained entry by entry in the differences file and falls into three groups: places
//! where Microsoft is wrong and Salus follows the rule (`ours-right`: OBX-11 statuses, CVX and
//! LOINC instead of example.com placeholders, the Medicaid case name read as the patient's
//! name, …); documented choices (`choice`: above all MDM T02, whose 31 note lines Microsoft
//! also emits as Observations while here the note is one DocumentReference; SAD address
//! lines; one Specimen per specimen id); and content Microsoft invents or maps that has no
//! FHIR meaning (`scope`: code-less Conditions and Procedures made of parent-record ids, RP/ED
//! OBX as DiagnosticReports, CON-24). The floors below sit just under the measured figures:
//! they guard against regressions, they are not the target.

mod common;

use std::path::{Path, PathBuf};

use common::keyfields::{compare, facts};
use salus_hl7v2::Message;
use salus_hl7v2_fhir::{map_message, MapOptions};
use serde_json::Value;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/fixtures/external/hl7v2/microsoft-fhir-converter")
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
        .map(|d| Explanation {
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
        })
        .collect()
}

#[test]
fn agrees_with_microsoft_fhir_converter_on_key_fields() {
    let dir = fixtures();
    let input = dir.join("input");
    if !input.is_dir() {
        eprintln!("skipped: {} is absent", input.display());
        return;
    }
    let mut explained = explanations();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&input)
        .expect("input dir readable")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "hl7"))
        .collect();
    files.sort();
    let (mut total, mut agreed, mut out_of_scope) = (0usize, 0usize, 0usize);
    let mut unexplained = Vec::new();
    let mut invalid = Vec::new();
    for path in &files {
        let stem = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("")
            .to_string();
        let expected = dir.join("expected").join(format!("{stem}-expected.json"));
        let Ok(expected) = std::fs::read_to_string(&expected) else {
            eprintln!("{stem}: no expected output, skipped");
            continue;
        };
        let bundle: Value = serde_json::from_str(&expected).expect("expected output is JSON");
        let theirs: Vec<Value> = bundle["entry"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|e| e["resource"].clone())
            .collect();
        let text = std::fs::read_to_string(path).expect("input readable");
        let message = Message::parse(&text).expect("sample parses");
        let mapped = map_message(&message, &MapOptions::default()).expect("sample maps");
        for r in &mapped.resources {
            if let Err(issues) = salus_fhir::schema::validate(r) {
                invalid.push(format!("{stem}: {} {:?}", r["resourceType"], issues));
            }
        }
        let comparisons = compare(&facts(&mapped.resources), &facts(&theirs));
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
                    if kind == "scope" {
                        out_of_scope += 1;
                    }
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
    println!("overall: {agreed}/{total} key fields agree ({pct:.1} %)");
    // Fields only Microsoft maps (segments this crate leaves in the raw message) say nothing
    // about whether what both map agrees.
    let shared = total - out_of_scope;
    let shared_pct = 100.0 * agreed as f64 / shared.max(1) as f64;
    println!(
        "on fields both map: {agreed}/{shared} agree ({shared_pct:.1} %); {out_of_scope} differences are fields only Microsoft maps"
    );
    let stale: Vec<String> = explained
        .iter()
        .filter(|e| !e.used)
        .map(|e| format!("{} {}", e.file, e.field))
        .collect();
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
    assert!(pct >= 76.0, "overall agreement fell to {pct:.1} %");
    assert!(
        shared_pct >= 80.0,
        "agreement on fields both map fell to {shared_pct:.1} %"
    );
}

#[test]
fn glob_matches() {
    assert!(glob("Observation[*].status", "Observation[8867-4].status"));
    assert!(glob("*", "anything"));
    assert!(!glob("count.Patient", "count.Practitioner"));
}
