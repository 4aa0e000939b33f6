//! The labeller over real data: the Synthea bundles of the shared fixtures (read in place, never
//! copied into the repository) and the demo data set of this repository.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use salus_labels::{Labeller, SecurityLabel, ETH, MH, PSY, SNOMED, SUD};
use serde_json::Value;

const SYNTHEA: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/fixtures/external/synthea-bundles"
);

fn json_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            json_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "json") {
            out.push(path);
        }
    }
}

/// Every resource of every Bundle under the directory.
fn synthea_resources() -> Option<Vec<Value>> {
    let dir = Path::new(SYNTHEA);
    if !dir.is_dir() {
        eprintln!(
            "skipped: no Synthea bundles at {} (shared fixtures not mounted)",
            dir.display()
        );
        return None;
    }
    let mut files = Vec::new();
    json_files(dir, &mut files);
    let mut resources = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let bundle: Value =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        if let Some(entries) = bundle["entry"].as_array() {
            resources.extend(entries.iter().filter_map(|e| e.get("resource").cloned()));
        }
    }
    Some(resources)
}

fn codings(concept: &Value) -> impl Iterator<Item = (&str, &str, &str)> {
    concept["coding"].as_array().into_iter().flatten().map(|c| {
        (
            c["system"].as_str().unwrap_or(""),
            c["code"].as_str().unwrap_or(""),
            c["display"].as_str().unwrap_or(""),
        )
    })
}

fn label_codes(labels: &[SecurityLabel]) -> String {
    labels.iter().map(|l| l.code).collect::<Vec<_>>().join(" ")
}

/// Every coding anywhere in the value, for the per-code table (the labeller itself reads only
/// its documented elements).
fn all_codings<'a>(value: &'a Value, out: &mut Vec<(&'a str, &'a str, &'a str)>) {
    match value {
        Value::Object(o) => {
            if let (Some(Value::String(s)), Some(Value::String(c))) =
                (o.get("system"), o.get("code"))
            {
                out.push((s, c, o.get("display").and_then(Value::as_str).unwrap_or("")));
            }
            o.values().for_each(|v| all_codings(v, out));
        }
        Value::Array(a) => a.iter().for_each(|v| all_codings(v, out)),
        _ => {}
    }
}

#[test]
fn synthea_bundles() {
    let Some(resources) = synthea_resources() else {
        return;
    };
    let labeller = Labeller::builtin();
    let mut per_label: BTreeMap<&str, usize> = BTreeMap::new();
    let mut per_code: BTreeMap<(String, String, String), (String, usize)> = BTreeMap::new();
    let mut conditions = Vec::new();
    let mut labelled = 0;

    for resource in &resources {
        // Labelling never panics and is idempotent on every resource.
        let labels = labeller.labels_for(resource);
        let mut copy = resource.clone();
        assert_eq!(
            labeller.apply(&mut copy),
            labels.len(),
            "{}",
            resource["id"]
        );
        let once = copy.clone();
        assert_eq!(labeller.apply(&mut copy), 0);
        assert_eq!(copy, once);
        if !labels.is_empty() {
            labelled += 1;
        }
        for l in &labels {
            *per_label.entry(l.code).or_default() += 1;
        }

        let mut found = Vec::new();
        all_codings(resource, &mut found);
        for (system, code, display) in found {
            let implied = labeller.labels_for_coding(system, code);
            // Nothing about hypertension is sensitive.
            assert!(
                !display.to_lowercase().contains("hypertension") || implied.is_empty(),
                "{system}|{code} {display}: {implied:?}"
            );
            if !implied.is_empty() {
                let entry = per_code
                    .entry((system.to_owned(), code.to_owned(), display.to_owned()))
                    .or_insert((label_codes(&implied), 0));
                entry.1 += 1;
            }
        }

        if resource["resourceType"] == "Condition" {
            for (system, code, display) in codings(&resource["code"]) {
                if system == SNOMED {
                    conditions.push((code.to_owned(), display.to_owned(), label_codes(&labels)));
                }
            }
        }
    }

    println!("{} resources, {labelled} labelled", resources.len());
    println!("\nresources per label:");
    for (label, n) in &per_label {
        println!("  {label:<11} {n:>5}");
    }
    println!("\ncodes that imply labels (count = occurrences anywhere in the bundles):");
    for ((system, code, display), (labels, n)) in &per_code {
        println!("  {n:>4}  {labels:<24} {system}|{code}  {display}");
    }
    println!("\nConditions (SNOMED CT):");
    conditions.sort();
    conditions.dedup();
    for (code, display, labels) in &conditions {
        println!("  {code:>16}  {display:<55} {labels}");
    }

    let mut checked = 0;
    for (code, display, labels) in &conditions {
        let d = display.to_lowercase();
        let labels: Vec<&str> = labels.split(' ').collect();
        if d.contains("depress") || d.contains("anxiety") {
            assert!(labels.contains(&MH), "{code} {display}: {labels:?}");
            assert!(labels.contains(&PSY), "{code} {display}: {labels:?}");
            checked += 1;
        }
        if d.contains("opioid abuse") || d.contains("drug abuse") || d.contains("alcoholism") {
            assert!(
                labels.contains(&SUD) && labels.contains(&ETH),
                "{code} {display}"
            );
            checked += 1;
        }
        if d.contains("hypertension") || d.contains("stress (finding)") || d.contains("employment")
        {
            assert_eq!(labels, [""], "{code} {display}");
        }
    }
    println!("\n{checked} mental-health and substance-use Conditions checked");
}

/// The demo data set (`fixtures/demo`, NDJSON): depression and anxiety diagnoses, PHQ-9 and GAD-7
/// scores, antidepressants, psychotherapy encounters, SDoH answers.
#[test]
fn demo_data_set() {
    let dir = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/demo"));
    let Ok(entries) = std::fs::read_dir(dir) else {
        eprintln!("skipped: no demo data at {}", dir.display());
        return;
    };
    let labeller = Labeller::builtin();
    let mut seen: BTreeMap<String, BTreeMap<String, usize>> = BTreeMap::new();
    let mut files: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    files.sort();
    for file in files
        .iter()
        .filter(|f| f.extension().is_some_and(|e| e == "ndjson"))
    {
        for line in std::fs::read_to_string(file)
            .unwrap()
            .lines()
            .filter(|l| !l.trim().is_empty())
        {
            let resource: Value = serde_json::from_str(line).unwrap();
            let kind = resource["resourceType"].as_str().unwrap_or("?").to_owned();
            let labels = label_codes(&labeller.labels_for(&resource));
            *seen
                .entry(kind.clone())
                .or_default()
                .entry(labels.clone())
                .or_default() += 1;

            let code_of = |key: &str| {
                codings(&resource[key])
                    .map(|(_, c, _)| c.to_owned())
                    .collect::<Vec<_>>()
                    .join(",")
            };
            match kind.as_str() {
                "Condition" => assert_eq!(labels, "PSY MH", "{}", code_of("code")),
                "Observation" => {
                    let code = code_of("code");
                    let want = if ["44261-6", "70274-6"].contains(&code.as_str()) {
                        "MH"
                    } else {
                        ""
                    };
                    assert_eq!(labels, want, "{code}");
                }
                "Encounter" => assert_eq!(labels, "MH"),
                "MedicationRequest" => {
                    // Bupropion is left out on purpose (smoking cessation); SSRIs are MH.
                    let code = code_of("medicationCodeableConcept");
                    let want = if code == "993541" { "" } else { "MH" };
                    assert_eq!(labels, want, "{code}");
                }
                "Patient" | "Consent" | "AllergyIntolerance" | "Organization" | "Practitioner"
                | "Device" => assert_eq!(labels, "", "{kind}"),
                _ => {}
            }
        }
    }
    for (kind, by_labels) in &seen {
        for (labels, n) in by_labels {
            println!("{kind:<20} {n:>4}  {labels}");
        }
    }
    assert!(seen.contains_key("Condition"), "demo data has Conditions");
}
