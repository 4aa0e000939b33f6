//! Key fields of a list of FHIR resources, and their comparison by meaning.
//!
//! Resources of one type are paired across the two lists by a natural key (a code, "the"
//! patient), never by id: ids differ by design. Within a pair every key field is one
//! comparison; values are compared as sets (order of repetitions ignored) and dates by meaning
//! (the same instant at the precision both have).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

/// Types whose counts are compared.
pub const COUNTED: &[&str] = &[
    "Patient",
    "Encounter",
    "Observation",
    "DiagnosticReport",
    "Immunization",
    "DocumentReference",
    "ServiceRequest",
    "AllergyIntolerance",
    "Condition",
    "Procedure",
    "Coverage",
    "RelatedPerson",
    "Specimen",
];

/// Types whose resources are paired and whose fields are compared.
const PAIRED: &[&str] = &["Patient", "Encounter", "Observation", "Immunization"];

/// The key fields of one resource.
pub type Fields = BTreeMap<String, BTreeSet<String>>;

/// What one list of resources says.
#[derive(Debug, Default)]
pub struct Facts {
    pub counts: BTreeMap<String, usize>,
    /// `Type[match key]` → fields.
    pub resources: BTreeMap<String, Fields>,
}

/// One comparison.
#[derive(Debug, Clone)]
pub struct Comparison {
    /// `count.Observation`, `Patient[patient].birthDate`, `Observation[8867-4#1].presence`…
    pub field: String,
    pub ours: String,
    pub theirs: String,
    pub agree: bool,
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.trim().to_string()),
        Value::Number(n) => Some(number(&n.to_string())),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A number written canonically (4.060 and 4.06 are one value).
fn number(s: &str) -> String {
    match s.parse::<f64>() {
        Ok(f) => format!("{f}"),
        Err(_) => s.to_string(),
    }
}

fn codings(cc: &Value) -> BTreeSet<String> {
    cc["coding"]
        .as_array()
        .map(|list| {
            list.iter()
                .filter_map(|c| {
                    let code = c["code"].as_str()?;
                    Some(match c["system"].as_str() {
                        Some(s) => format!("{s}|{code}"),
                        None => format!("|{code}"),
                    })
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The first coding's code, for pairing (systems may differ where the sources disagree).
fn first_code(cc: &Value) -> String {
    let code = cc["coding"][0]["code"]
        .as_str()
        .or_else(|| cc["text"].as_str())
        .unwrap_or("-");
    same_concept(code).to_string()
}

/// Microsoft's placeholder codes (`example.com/.../observation-code`) for concepts that have
/// a LOINC code, read as that code so the two Observations are paired and their value and
/// status compared. Only pairing uses this: the `code` field itself still compares
/// system|code, so the placeholder still counts as a difference.
fn same_concept(code: &str) -> &str {
    match code {
        "autopsy" => "85699-7",
        "coroner" => "74497-9",
        "injury-incident" => "11374-6",
        other => other,
    }
}

fn set(values: impl IntoIterator<Item = String>) -> BTreeSet<String> {
    values
        .into_iter()
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
        .collect()
}

fn insert(fields: &mut Fields, name: &str, values: BTreeSet<String>) {
    if !values.is_empty() {
        fields.insert(name.to_string(), values);
    }
}

fn one(fields: &mut Fields, name: &str, v: &Value) {
    if let Some(t) = text(v) {
        insert(fields, name, set([t]));
    }
}

fn value_of(r: &Value) -> BTreeSet<String> {
    if let Some(q) = r.get("valueQuantity") {
        let value = q["value"].as_number().map(|n| number(&n.to_string()));
        let unit = q["unit"]
            .as_str()
            .or_else(|| q["code"].as_str())
            .unwrap_or("");
        return set(value.map(|v| format!("{v} {unit}").trim().to_string()));
    }
    if let Some(s) = r.get("valueString").and_then(Value::as_str) {
        return set([s.trim().to_string()]);
    }
    if let Some(cc) = r.get("valueCodeableConcept") {
        return set(cc["coding"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| c["code"].as_str().map(str::to_string)));
    }
    if let Some(d) = r.get("valueDateTime").and_then(Value::as_str) {
        return set([d.to_string()]);
    }
    BTreeSet::new()
}

/// The match key and key fields of one resource, or `None` for types not compared.
fn describe(r: &Value) -> Option<(String, String, Fields)> {
    let kind = r["resourceType"].as_str()?.to_string();
    if !PAIRED.contains(&kind.as_str()) {
        return None;
    }
    let mut f = Fields::new();
    let key = match kind.as_str() {
        "Patient" => {
            insert(
                &mut f,
                "identifier",
                set(r["identifier"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|i| i["value"].as_str().map(str::to_string))),
            );
            let names = r["name"].as_array().cloned().unwrap_or_default();
            insert(
                &mut f,
                "name.family",
                set(names
                    .iter()
                    .filter_map(|n| n["family"].as_str().map(str::to_string))),
            );
            insert(
                &mut f,
                "name.given",
                set(names
                    .iter()
                    .flat_map(|n| n["given"].as_array().cloned().unwrap_or_default())
                    .filter_map(|g| g.as_str().map(str::to_string))),
            );
            one(&mut f, "birthDate", &r["birthDate"]);
            one(&mut f, "gender", &r["gender"]);
            let addresses = r["address"].as_array().cloned().unwrap_or_default();
            insert(
                &mut f,
                "address.line",
                set(addresses
                    .iter()
                    .flat_map(|a| a["line"].as_array().cloned().unwrap_or_default())
                    .filter_map(|l| l.as_str().map(str::to_string))),
            );
            for part in ["city", "state", "postalCode"] {
                insert(
                    &mut f,
                    &format!("address.{part}"),
                    set(addresses
                        .iter()
                        .filter_map(|a| a[part].as_str().map(str::to_string))),
                );
            }
            "patient".to_string()
        }
        "Encounter" => {
            one(&mut f, "class", &r["class"]["code"]);
            one(&mut f, "status", &r["status"]);
            one(&mut f, "period.start", &r["period"]["start"]);
            one(&mut f, "period.end", &r["period"]["end"]);
            "encounter".to_string()
        }
        "Observation" => {
            insert(&mut f, "code", codings(&r["code"]));
            insert(&mut f, "value", value_of(r));
            one(&mut f, "status", &r["status"]);
            first_code(&r["code"])
        }
        "Immunization" => {
            insert(&mut f, "vaccineCode", codings(&r["vaccineCode"]));
            one(&mut f, "occurrence", &r["occurrenceDateTime"]);
            format!(
                "{}@{}",
                first_code(&r["vaccineCode"]),
                r["occurrenceDateTime"]
                    .as_str()
                    .unwrap_or("")
                    .get(..10)
                    .unwrap_or("")
            )
        }
        "DiagnosticReport" => {
            insert(&mut f, "code", codings(&r["code"]));
            one(&mut f, "status", &r["status"]);
            first_code(&r["code"])
        }
        "ServiceRequest" => {
            insert(&mut f, "code", codings(&r["code"]));
            first_code(&r["code"])
        }
        "AllergyIntolerance" | "Condition" => {
            insert(&mut f, "code", codings(&r["code"]));
            first_code(&r["code"])
        }
        "DocumentReference" => "document".to_string(),
        _ => return None,
    };
    Some((kind, key, f))
}

/// The facts of a list of resources.
pub fn facts(resources: &[Value]) -> Facts {
    let mut out = Facts::default();
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for r in resources {
        let Some(kind) = r["resourceType"].as_str() else {
            continue;
        };
        if COUNTED.contains(&kind) {
            *out.counts.entry(kind.to_string()).or_insert(0) += 1;
        }
        if let Some((kind, key, fields)) = describe(r) {
            let base = format!("{kind}[{key}");
            let n = seen.entry(base.clone()).or_insert(0);
            *n += 1;
            let name = if *n == 1 {
                format!("{base}]")
            } else {
                format!("{base}#{n}]")
            };
            out.resources.insert(name, fields);
        }
    }
    out
}

/// A FHIR date/dateTime as (UTC seconds or day number, precision), for comparing by meaning.
fn instant(s: &str) -> Option<(i64, u8)> {
    let b = s.as_bytes();
    let num = |r: std::ops::Range<usize>| -> Option<i64> { s.get(r)?.parse().ok() };
    let days = |y: i64, m: i64, d: i64| -> i64 {
        let y = if m <= 2 { y - 1 } else { y };
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let doy = (153 * ((m + 9) % 12) + 2) / 5 + d - 1;
        era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468
    };
    match b.len() {
        4 => Some((num(0..4)?, 0)),
        7 => Some((num(0..4)? * 12 + num(5..7)?, 1)),
        10 => Some((days(num(0..4)?, num(5..7)?, num(8..10)?), 2)),
        n if n >= 20 => {
            let day = days(num(0..4)?, num(5..7)?, num(8..10)?);
            let secs = day * 86_400 + num(11..13)? * 3600 + num(14..16)? * 60 + num(17..19)?;
            let zone = &s[s.len() - 6..];
            let offset = if s.ends_with('Z') {
                0
            } else {
                let sign = if zone.starts_with('-') { -1 } else { 1 };
                sign * (num(n - 5..n - 3)? * 3600 + num(n - 2..n)? * 60)
            };
            Some((secs - offset, 3))
        }
        _ => None,
    }
}

/// Are two values the same by meaning? Dates: the same instant, or the same day when one
/// side only has the day (that side's day is compared with the other's local date).
fn same(a: &str, b: &str) -> bool {
    if a == b {
        return true;
    }
    match (instant(a), instant(b)) {
        (Some((x, p)), Some((y, q))) if p == q => x == y,
        (Some((_, 2)), Some((_, 3))) => b.get(..10) == Some(a),
        (Some((_, 3)), Some((_, 2))) => a.get(..10) == Some(b),
        _ => false,
    }
}

fn same_sets(a: &BTreeSet<String>, b: &BTreeSet<String>) -> bool {
    a.len() == b.len() && a.iter().all(|x| b.iter().any(|y| same(x, y)))
}

fn show(values: Option<&BTreeSet<String>>) -> String {
    match values {
        None => "(none)".into(),
        Some(v) => v.iter().cloned().collect::<Vec<_>>().join(" ; "),
    }
}

/// Compare our facts with theirs.
pub fn compare(ours: &Facts, theirs: &Facts) -> Vec<Comparison> {
    let mut out = Vec::new();
    let types: BTreeSet<&String> = ours.counts.keys().chain(theirs.counts.keys()).collect();
    for t in types {
        let a = ours.counts.get(t).copied().unwrap_or(0);
        let b = theirs.counts.get(t).copied().unwrap_or(0);
        out.push(Comparison {
            field: format!("count.{t}"),
            ours: a.to_string(),
            theirs: b.to_string(),
            agree: a == b,
        });
    }
    let names: BTreeSet<&String> = ours
        .resources
        .keys()
        .chain(theirs.resources.keys())
        .collect();
    for name in names {
        match (ours.resources.get(name), theirs.resources.get(name)) {
            (Some(a), Some(b)) => {
                let fields: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
                for field in fields {
                    let (x, y) = (a.get(field), b.get(field));
                    let agree = match (x, y) {
                        (Some(x), Some(y)) => same_sets(x, y),
                        _ => false,
                    };
                    out.push(Comparison {
                        field: format!("{name}.{field}"),
                        ours: show(x),
                        theirs: show(y),
                        agree,
                    });
                }
            }
            (a, b) => out.push(Comparison {
                field: format!("{name}.presence"),
                ours: if a.is_some() { "present" } else { "absent" }.into(),
                theirs: if b.is_some() { "present" } else { "absent" }.into(),
                agree: false,
            }),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_by_meaning() {
        assert!(same(
            "2014-10-06T06:27:00+07:00",
            "2014-10-06T04:57:00+05:30"
        ));
        assert!(!same(
            "2014-10-06T06:27:00+07:00",
            "2014-10-06T06:27:00+05:30"
        ));
        assert!(same("2014-10-06", "2014-10-06T06:27:00+07:00"));
        assert!(!same("2014-10-07", "2014-10-06"));
    }
}
