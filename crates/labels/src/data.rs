//! The data file: reading, validating (every error names its key) and compiling.
//!
//! ```toml
//! version = "2026.12.1"          # YYYY.MM.N
//!
//! [[value_set]]
//! id = "mh-conditions-icd10cm"   # lower case, digits, hyphens; unique
//! title = "…"                    # optional
//! labels = ["PSY", "MH"]         # codes of SecurityLabel::ALL
//! system = "http://hl7.org/fhir/sid/icd-10-cm"
//! source = "…"                   # where the list comes from
//! ranges = ["F01-F99"]           # ICD-10-CM only: prefix ranges or single codes
//! exclude = ["F10-F19"]          # ICD-10-CM only, optional
//! # codes = ["…"]                # every other system: exact codes
//! ```

use std::collections::HashMap;

use toml::{Table, Value};

use crate::icd::{PrefixRange, RangeSet, RangeTable};
use crate::{check, CodeTable, Label, LabelSet, Labeller, LabelsError, ValueSetSummary};
use crate::{ICD10CM, LOINC, RXNORM, SNOMED};

fn invalid(key: impl Into<String>, reason: impl Into<String>) -> LabelsError {
    LabelsError::Invalid {
        key: key.into(),
        reason: reason.into(),
    }
}

const TOP_KEYS: &[&str] = &["version", "value_set"];
const VALUE_SET_KEYS: &[&str] = &[
    "id", "title", "labels", "system", "source", "ranges", "exclude", "codes",
];

pub(crate) fn compile(text: &str) -> Result<Labeller, LabelsError> {
    let top: Table = text
        .parse()
        .map_err(|e: toml::de::Error| LabelsError::Syntax {
            message: e.to_string(),
        })?;
    unknown_keys(&top, TOP_KEYS, "")?;

    let version = string(&top, "version", "version")?;
    check_version(version).map_err(|reason| invalid("version", reason))?;

    let sets = match top.get("value_set") {
        None => return Err(invalid("value_set", "missing: at least one [[value_set]]")),
        Some(Value::Array(sets)) if !sets.is_empty() => sets,
        Some(Value::Array(_)) => return Err(invalid("value_set", "empty")),
        Some(_) => {
            return Err(invalid(
                "value_set",
                "expected an array of tables ([[value_set]])",
            ))
        }
    };

    let mut ids: HashMap<&str, usize> = HashMap::new();
    let mut range_sets = Vec::new();
    let mut exact: Vec<CodeTable> = Vec::new();
    let mut summaries = Vec::new();
    for (i, set) in sets.iter().enumerate() {
        let at = format!("value_set[{i}]");
        let Value::Table(set) = set else {
            return Err(invalid(at, "expected a table"));
        };
        unknown_keys(set, VALUE_SET_KEYS, &at)?;

        let id = string(set, "id", &format!("{at}.id"))?;
        if id.is_empty()
            || !id
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return Err(invalid(
                format!("{at}.id"),
                format!("\"{id}\": use lower-case letters, digits and hyphens"),
            ));
        }
        if let Some(first) = ids.insert(id, i) {
            return Err(invalid(
                format!("{at}.id"),
                format!("duplicate id \"{id}\" (also value_set[{first}])"),
            ));
        }
        let title = match set.get("title") {
            None => String::new(),
            Some(_) => string(set, "title", &format!("{at}.title"))?.to_owned(),
        };
        let labels = labels(set, &at)?;
        let system = string(set, "system", &format!("{at}.system"))?;
        check_system(system).map_err(|reason| invalid(format!("{at}.system"), reason))?;
        let source = string(set, "source", &format!("{at}.source"))?;
        if source.trim().is_empty() {
            return Err(invalid(
                format!("{at}.source"),
                "empty: say where the codes come from",
            ));
        }

        let mut summary = ValueSetSummary {
            id: id.to_owned(),
            title,
            system: system.to_owned(),
            labels: labels.iter().map(|l| l.security_label()).collect(),
            codes: 0,
            ranges: 0,
            excluded_ranges: 0,
            source: source.to_owned(),
        };
        let label_set = labels.iter().fold(LabelSet::EMPTY, |s, l| s.with(*l));
        if system == ICD10CM {
            if set.contains_key("codes") {
                return Err(invalid(
                    format!("{at}.codes"),
                    "ICD-10-CM value sets list `ranges` (a single code is a range), not `codes`",
                ));
            }
            let include = ranges(set, "ranges", &at, true)?;
            let exclude = ranges(set, "exclude", &at, false)?;
            summary.ranges = include.len();
            summary.excluded_ranges = exclude.len();
            range_sets.push(RangeSet {
                include,
                exclude,
                labels: label_set,
            });
        } else {
            for key in ["ranges", "exclude"] {
                if set.contains_key(key) {
                    return Err(invalid(
                        format!("{at}.{key}"),
                        "only ICD-10-CM value sets have ranges; list exact `codes`",
                    ));
                }
            }
            let codes = codes(set, system, &at)?;
            summary.codes = codes.len();
            let table = match exact.iter_mut().find(|t| &*t.system == system) {
                Some(table) => table,
                None => {
                    exact.push(CodeTable {
                        system: system.into(),
                        codes: HashMap::new(),
                    });
                    exact.last_mut().expect("just pushed")
                }
            };
            for code in codes {
                let entry = table.codes.entry(code.into()).or_default();
                *entry = entry.union(label_set);
            }
        }
        summaries.push(summary);
    }

    Ok(Labeller {
        version: version.to_owned(),
        icd10cm: RangeTable::compile(&range_sets),
        exact,
        value_sets: summaries,
    })
}

fn unknown_keys(table: &Table, known: &[&str], at: &str) -> Result<(), LabelsError> {
    match table.keys().find(|k| !known.contains(&k.as_str())) {
        None => Ok(()),
        Some(key) => Err(invalid(
            if at.is_empty() {
                key.clone()
            } else {
                format!("{at}.{key}")
            },
            format!("unknown key (expected one of: {})", known.join(", ")),
        )),
    }
}

fn string<'a>(table: &'a Table, key: &str, path: &str) -> Result<&'a str, LabelsError> {
    match table.get(key) {
        None => Err(invalid(path, "missing")),
        Some(Value::String(s)) => Ok(s),
        Some(other) => Err(invalid(
            path,
            format!("expected a string, found {}", other.type_str()),
        )),
    }
}

/// The strings of an array, each with its path.
fn strings<'a>(
    table: &'a Table,
    key: &str,
    at: &str,
) -> Result<Vec<(&'a str, String)>, LabelsError> {
    let path = format!("{at}.{key}");
    let Some(value) = table.get(key) else {
        return Err(invalid(path, "missing"));
    };
    let Value::Array(items) = value else {
        return Err(invalid(
            path,
            format!("expected an array of strings, found {}", value.type_str()),
        ));
    };
    items
        .iter()
        .enumerate()
        .map(|(j, item)| match item {
            Value::String(s) => Ok((s.as_str(), format!("{path}[{j}]"))),
            other => Err(invalid(
                format!("{path}[{j}]"),
                format!("expected a string, found {}", other.type_str()),
            )),
        })
        .collect()
}

/// `YYYY.MM.N`: the year and month the data was assembled and a release number within it.
fn check_version(version: &str) -> Result<(), String> {
    let expected = format!("\"{version}\": expected YYYY.MM.N, e.g. 2026.12.1");
    let parts: Vec<&str> = version.split('.').collect();
    let [year, month, release] = parts.as_slice() else {
        return Err(expected);
    };
    let numeric = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if year.len() != 4 || !numeric(year) || !numeric(month) || month.len() > 2 || !numeric(release)
    {
        return Err(expected);
    }
    if !(1..=12).contains(&month.parse::<u32>().unwrap_or(0)) {
        return Err(format!("\"{version}\": month must be 1 to 12"));
    }
    Ok(())
}

fn check_system(system: &str) -> Result<(), String> {
    if crate::is_system_alias(system) {
        return Err(format!(
            "\"{system}\" is an OID alias: use the FHIR URI (resources are matched under both)"
        ));
    }
    let absolute = ["http://", "https://", "urn:"]
        .iter()
        .any(|scheme| system.len() > scheme.len() && system.starts_with(scheme));
    if !absolute || system.chars().any(char::is_whitespace) {
        return Err(format!("\"{system}\": expected an absolute URI"));
    }
    Ok(())
}

fn labels(set: &Table, at: &str) -> Result<Vec<Label>, LabelsError> {
    let items = strings(set, "labels", at)?;
    if items.is_empty() {
        return Err(invalid(
            format!("{at}.labels"),
            "empty: a value set implies at least one label",
        ));
    }
    let mut labels = Vec::new();
    for (code, path) in items {
        let Some(label) = Label::from_code(code) else {
            let known: Vec<&str> = Label::ALL.iter().map(|l| l.security_label().code).collect();
            return Err(invalid(
                path,
                format!("unknown label \"{code}\" (known: {})", known.join(", ")),
            ));
        };
        if labels.contains(&label) {
            return Err(invalid(path, format!("label \"{code}\" listed twice")));
        }
        labels.push(label);
    }
    Ok(labels)
}

fn ranges(
    set: &Table,
    key: &str,
    at: &str,
    required: bool,
) -> Result<Vec<PrefixRange>, LabelsError> {
    if !required && !set.contains_key(key) {
        return Ok(Vec::new());
    }
    let items = strings(set, key, at)?;
    if items.is_empty() && required {
        return Err(invalid(format!("{at}.{key}"), "empty"));
    }
    items
        .into_iter()
        .map(|(text, path)| PrefixRange::parse(text).map_err(|reason| invalid(path, reason)))
        .collect()
}

fn codes<'a>(set: &'a Table, system: &str, at: &str) -> Result<Vec<&'a str>, LabelsError> {
    let items = strings(set, "codes", at)?;
    if items.is_empty() {
        return Err(invalid(format!("{at}.codes"), "empty"));
    }
    let mut seen: HashMap<&str, String> = HashMap::new();
    let mut out = Vec::with_capacity(items.len());
    for (code, path) in items {
        let shape = match system {
            SNOMED => check::snomed_concept(code),
            LOINC => check::loinc(code),
            RXNORM => check::rxnorm(code),
            _ if code.is_empty() || code.len() > 64 || code.chars().any(char::is_whitespace) => {
                Err("a code is 1 to 64 characters without whitespace")
            }
            _ => Ok(()),
        };
        shape.map_err(|reason| invalid(&path, format!("\"{code}\": {reason}")))?;
        if let Some(first) = seen.insert(code, path.clone()) {
            return Err(invalid(
                path,
                format!("\"{code}\" listed twice (also {first})"),
            ));
        }
        out.push(code);
    }
    Ok(out)
}
