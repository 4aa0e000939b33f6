//! Search parameters: which ones Salus supports on which type, the values a resource is indexed
//! under, and the parsing of a search query into typed clauses.
//!
//! The store owns the SQL; this module owns the *meaning* of each parameter, so that the
//! extraction at write time and the parsing at query time can never disagree.

use serde_json::Value;

use crate::date::{parse_range, DateRange};
use crate::outcome::{Issue, IssueCode};

/// How a parameter's values are matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamKind {
    /// Codes and identifiers: `[system]|[code]`.
    Token,
    /// Dates, compared as ranges with `eq`, `ne`, `gt`, `lt`, `ge`, `le`, `sa`, `eb`, `ap`.
    Date,
    /// Case- and accent-insensitive prefix match (`:contains`, `:exact` also).
    Text,
    /// The patient compartment (`patient`, `subject`): matched on the recorded patient.
    Patient,
    /// `_id`.
    Id,
    /// `_lastUpdated`.
    LastUpdated,
}

/// A search parameter and, for indexed kinds, the elements its values come from.
/// `effective[x]` matches every `effective…` choice element; dots descend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParamDef {
    pub name: &'static str,
    pub kind: ParamKind,
    pub paths: &'static [&'static str],
}

/// A `ParamDef` literal (a struct literal, so that tables of them are promoted to statics).
macro_rules! def {
    ($name:literal, $kind:ident, $paths:expr) => {
        ParamDef {
            name: $name,
            kind: $kind,
            paths: $paths,
        }
    };
}

use ParamKind::*;

const COMMON: &[ParamDef] = &[
    def!("_id", Id, &[]),
    def!("_lastUpdated", LastUpdated, &[]),
    def!("identifier", Token, &["identifier"]),
    def!("status", Token, &["status"]),
];

const COMPARTMENT: &[ParamDef] = &[def!("patient", Patient, &[]), def!("subject", Patient, &[])];

fn type_params(resource_type: &str) -> &'static [ParamDef] {
    match resource_type {
        "Patient" => &[
            def!("name", Text, &["name"]),
            def!("family", Text, &["name.family"]),
            def!("given", Text, &["name.given"]),
            def!("birthdate", Date, &["birthDate"]),
            def!("gender", Token, &["gender"]),
        ],
        "Observation" => &[
            def!("code", Token, &["code"]),
            def!("category", Token, &["category"]),
            def!("date", Date, &["effective[x]"]),
        ],
        "DiagnosticReport" => &[
            def!("code", Token, &["code"]),
            def!("category", Token, &["category"]),
            def!("date", Date, &["effective[x]"]),
        ],
        "Condition" => &[
            def!("code", Token, &["code"]),
            def!("category", Token, &["category"]),
            def!("clinical-status", Token, &["clinicalStatus"]),
            def!("onset-date", Date, &["onset[x]"]),
            def!("recorded-date", Date, &["recordedDate"]),
        ],
        "Procedure" => &[
            def!("code", Token, &["code"]),
            def!("category", Token, &["category"]),
            def!("date", Date, &["performed[x]"]),
        ],
        "AllergyIntolerance" => &[
            def!("code", Token, &["code"]),
            def!("category", Token, &["category"]),
            def!("clinical-status", Token, &["clinicalStatus"]),
            def!("date", Date, &["recordedDate"]),
        ],
        "MedicationRequest" => &[
            def!("code", Token, &["medicationCodeableConcept"]),
            def!("category", Token, &["category"]),
            def!("authoredon", Date, &["authoredOn"]),
        ],
        "MedicationStatement" | "MedicationAdministration" | "MedicationDispense" => &[
            def!("code", Token, &["medicationCodeableConcept"]),
            def!("category", Token, &["category"]),
            def!("effective", Date, &["effective[x]"]),
        ],
        "Immunization" => &[
            def!("vaccine-code", Token, &["vaccineCode"]),
            def!("date", Date, &["occurrence[x]"]),
        ],
        "Encounter" => &[
            def!("class", Token, &["class"]),
            def!("type", Token, &["type"]),
            def!("date", Date, &["period"]),
        ],
        "DocumentReference" => &[
            def!("type", Token, &["type"]),
            def!("category", Token, &["category"]),
            def!("date", Date, &["date"]),
        ],
        "CarePlan" | "CareTeam" => &[
            def!("category", Token, &["category"]),
            def!("date", Date, &["period"]),
        ],
        "Consent" => &[
            def!("category", Token, &["category"]),
            def!("date", Date, &["dateTime"]),
        ],
        "ServiceRequest" => &[
            def!("code", Token, &["code"]),
            def!("category", Token, &["category"]),
            def!("authored", Date, &["authoredOn"]),
        ],
        "QuestionnaireResponse" => &[
            def!("questionnaire", Token, &["questionnaire"]),
            def!("authored", Date, &["authored"]),
        ],
        "Goal" => &[def!("category", Token, &["category"])],
        "Composition" | "FamilyMemberHistory" | "ClinicalImpression" | "List" => {
            &[def!("date", Date, &["date"])]
        }
        "EpisodeOfCare" | "Flag" => &[def!("date", Date, &["period"])],
        _ => &[],
    }
}

/// Every parameter supported on a resource type.
pub fn params_for(resource_type: &str) -> impl Iterator<Item = &'static ParamDef> {
    let compartment: &'static [ParamDef] = if resource_type == "Patient" {
        &[]
    } else {
        COMPARTMENT
    };
    COMMON
        .iter()
        .chain(compartment)
        .chain(type_params(resource_type))
}

/// Look up one parameter.
pub fn param(resource_type: &str, name: &str) -> Option<&'static ParamDef> {
    params_for(resource_type).find(|p| p.name == name)
}

/// A value a resource is indexed under for a token parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenEntry {
    pub param: &'static str,
    pub system: Option<String>,
    pub code: String,
}

/// A value a resource is indexed under for a date parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DateEntry {
    pub param: &'static str,
    pub range: DateRange,
}

/// A value a resource is indexed under for a string parameter (normalized).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StringEntry {
    pub param: &'static str,
    pub value: String,
}

/// Everything a resource is indexed under.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IndexEntries {
    pub tokens: Vec<TokenEntry>,
    pub dates: Vec<DateEntry>,
    pub strings: Vec<StringEntry>,
}

/// Extract the index entries of a resource.
pub fn extract(resource_type: &str, resource: &Value) -> IndexEntries {
    let mut out = IndexEntries::default();
    for p in params_for(resource_type) {
        for path in p.paths {
            let mut values = Vec::new();
            collect(resource, path, &mut values);
            for value in values {
                match p.kind {
                    Token => tokens_of(p.name, value, &mut out.tokens),
                    Date => {
                        if let Some(range) = date_of(value) {
                            out.dates.push(DateEntry {
                                param: p.name,
                                range,
                            });
                        }
                    }
                    Text => strings_of(p.name, value, &mut out.strings),
                    Patient | Id | LastUpdated => {}
                }
            }
        }
    }
    out.tokens.dedup();
    out.strings
        .sort_by(|a, b| (a.param, &a.value).cmp(&(b.param, &b.value)));
    out.strings.dedup();
    out
}

/// The values at a path; arrays are flattened at every step.
fn collect<'a>(node: &'a Value, path: &str, out: &mut Vec<&'a Value>) {
    let (head, rest) = match path.split_once('.') {
        Some((h, r)) => (h, Some(r)),
        None => (path, None),
    };
    let Some(object) = node.as_object() else {
        return;
    };
    let children: Vec<&Value> = match head.strip_suffix("[x]") {
        Some(stem) => object
            .iter()
            .filter(|(k, _)| {
                k.strip_prefix(stem)
                    .is_some_and(|suffix| suffix.starts_with(|c: char| c.is_ascii_uppercase()))
            })
            .map(|(_, v)| v)
            .collect(),
        None => object.get(head).into_iter().collect(),
    };
    for child in children {
        let items: Vec<&Value> = match child {
            Value::Array(items) => items.iter().collect(),
            other => vec![other],
        };
        for item in items {
            match rest {
                Some(rest) => collect(item, rest, out),
                None => out.push(item),
            }
        }
    }
}

fn tokens_of(param: &'static str, value: &Value, out: &mut Vec<TokenEntry>) {
    let mut push = |system: Option<&str>, code: &str| {
        if !code.is_empty() {
            out.push(TokenEntry {
                param,
                system: system.map(str::to_owned),
                code: code.to_owned(),
            });
        }
    };
    match value {
        Value::String(code) => push(None, code),
        Value::Bool(b) => push(None, if *b { "true" } else { "false" }),
        Value::Object(map) => {
            if let Some(Value::Array(codings)) = map.get("coding") {
                // CodeableConcept
                for coding in codings {
                    if let Some(code) = coding.get("code").and_then(Value::as_str) {
                        push(coding.get("system").and_then(Value::as_str), code);
                    }
                }
            } else if let Some(code) = map.get("code").and_then(Value::as_str) {
                // Coding
                push(map.get("system").and_then(Value::as_str), code);
            } else if let Some(v) = map.get("value").and_then(Value::as_str) {
                // Identifier
                push(map.get("system").and_then(Value::as_str), v);
            }
        }
        _ => {}
    }
}

fn date_of(value: &Value) -> Option<DateRange> {
    match value {
        Value::String(s) => parse_range(s),
        Value::Object(period) => {
            let start = period
                .get("start")
                .and_then(Value::as_str)
                .and_then(parse_range);
            let end = period
                .get("end")
                .and_then(Value::as_str)
                .and_then(parse_range);
            if start.is_none() && end.is_none() {
                return None;
            }
            Some(DateRange {
                lo: start.map_or(i64::MIN, |r| r.lo),
                hi: end.map_or(i64::MAX, |r| r.hi),
            })
        }
        _ => None,
    }
}

fn strings_of(param: &'static str, value: &Value, out: &mut Vec<StringEntry>) {
    let mut push = |text: &str| {
        let value = normalize(text);
        if !value.is_empty() {
            out.push(StringEntry { param, value });
        }
    };
    match value {
        Value::String(s) => push(s),
        Value::Object(name) => {
            for key in ["family", "text"] {
                if let Some(s) = name.get(key).and_then(Value::as_str) {
                    push(s);
                }
            }
            for key in ["given", "prefix", "suffix"] {
                if let Some(Value::Array(parts)) = name.get(key) {
                    parts.iter().filter_map(Value::as_str).for_each(&mut push);
                }
            }
        }
        _ => {}
    }
}

/// Normalize text for string search: lower case, common Latin accents folded.
pub fn normalize(text: &str) -> String {
    text.trim()
        .chars()
        .flat_map(char::to_lowercase)
        .map(fold_accent)
        .collect()
}

fn fold_accent(c: char) -> char {
    match c {
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' => 'a',
        'ç' => 'c',
        'è' | 'é' | 'ê' | 'ë' => 'e',
        'ì' | 'í' | 'î' | 'ï' => 'i',
        'ñ' => 'n',
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' => 'o',
        'ù' | 'ú' | 'û' | 'ü' => 'u',
        'ý' | 'ÿ' => 'y',
        other => other,
    }
}

// ---------------------------------------------------------------------------------------------
// Queries

/// The system part of a token search value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SystemMatch {
    /// `code`: any system.
    Any,
    /// `|code`: no system.
    NoSystem,
    /// `system|code` or `system|`.
    Is(String),
}

/// One alternative of a token clause.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenValue {
    pub system: SystemMatch,
    /// `None` for `system|`: any code in the system.
    pub code: Option<String>,
}

/// Date comparison prefixes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prefix {
    Eq,
    Ne,
    Gt,
    Lt,
    Ge,
    Le,
    Sa,
    Eb,
    Ap,
}

/// How a string clause matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StringMatch {
    Prefix,
    Contains,
    Exact,
}

/// One condition of a search; clauses are ANDed, the values inside one clause ORed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Clause {
    Id(Vec<String>),
    LastUpdated(Prefix, DateRange),
    Patient(Vec<String>),
    Token {
        param: &'static str,
        values: Vec<TokenValue>,
    },
    Date {
        param: &'static str,
        prefix: Prefix,
        range: DateRange,
    },
    String {
        param: &'static str,
        mode: StringMatch,
        values: Vec<String>,
    },
}

/// A parsed search.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchQuery {
    pub resource_type: String,
    pub clauses: Vec<Clause>,
    /// Page size.
    pub count: usize,
    /// Continue after this position (from a `next` link).
    pub cursor: Option<i64>,
    /// Parameters ignored under lenient handling, reported back to the client.
    pub ignored: Vec<String>,
}

/// Default and maximum page sizes.
pub const DEFAULT_COUNT: usize = 50;
pub const MAX_COUNT: usize = 1000;

/// Parameters that change presentation only and are accepted without effect.
const PRESENTATION: &[&str] = &["_format", "_pretty"];

/// Parse query parameters (already percent-decoded). With `strict`, an unknown or unsupported
/// parameter is an error; otherwise it is listed in `ignored`. Every problem is reported at
/// once, never only the first.
pub fn parse_query(
    resource_type: &str,
    params: &[(String, String)],
    strict: bool,
) -> Result<SearchQuery, Vec<Issue>> {
    let mut query = SearchQuery {
        resource_type: resource_type.to_owned(),
        clauses: Vec::new(),
        count: DEFAULT_COUNT,
        cursor: None,
        ignored: Vec::new(),
    };
    let mut issues = Vec::new();
    for (raw_name, value) in params {
        let (name, modifier) = match raw_name.split_once(':') {
            Some((n, m)) => (n, Some(m)),
            None => (raw_name.as_str(), None),
        };
        let bad = |msg: String| Issue::error(IssueCode::Invalid, msg).at(raw_name.clone());
        match name {
            "_count" => match value.parse::<usize>() {
                Ok(n) if n <= MAX_COUNT => query.count = n,
                _ => issues.push(bad(format!(
                    "_count must be a whole number from 0 to {MAX_COUNT}"
                ))),
            },
            "_cursor" => match value.parse::<i64>() {
                Ok(n) => query.cursor = Some(n),
                Err(_) => issues.push(bad(
                    "_cursor is not one Salus issued: follow the Bundle's next link as given"
                        .into(),
                )),
            },
            "_total" => {
                if !matches!(value.as_str(), "none" | "estimate" | "accurate") {
                    issues.push(bad("_total must be none, estimate or accurate".into()));
                }
            }
            n if PRESENTATION.contains(&n) => {}
            _ => match param(resource_type, name) {
                None => {
                    let msg = format!(
                        "unknown or unsupported search parameter '{name}' for {resource_type}; supported: {}",
                        params_for(resource_type).map(|p| p.name).collect::<Vec<_>>().join(", ")
                    );
                    if strict {
                        issues
                            .push(Issue::error(IssueCode::NotSupported, msg).at(raw_name.clone()));
                    } else {
                        query.ignored.push(raw_name.clone());
                    }
                }
                Some(def) => match parse_clause(def, modifier, value) {
                    Ok(clause) => query.clauses.push(clause),
                    Err(msg) => issues.push(bad(format!("{name}: {msg}"))),
                },
            },
        }
    }
    if issues.is_empty() {
        Ok(query)
    } else {
        Err(issues)
    }
}

fn parse_clause(def: &ParamDef, modifier: Option<&str>, value: &str) -> Result<Clause, String> {
    let alternatives = || value.split(',').map(str::trim).filter(|v| !v.is_empty());
    if value.trim().is_empty() {
        return Err("a value is required".into());
    }
    match (def.kind, modifier) {
        (Id, None) => Ok(Clause::Id(alternatives().map(str::to_owned).collect())),
        (Patient, None) => Ok(Clause::Patient(
            alternatives()
                .map(|v| v.strip_prefix("Patient/").unwrap_or(v).to_owned())
                .collect(),
        )),
        (Token, None) => Ok(Clause::Token {
            param: def.name,
            values: alternatives().map(parse_token).collect(),
        }),
        (Text, modifier) => {
            let mode = match modifier {
                None => StringMatch::Prefix,
                Some("contains") => StringMatch::Contains,
                Some("exact") => StringMatch::Exact,
                Some(m) => {
                    return Err(format!(
                        "modifier ':{m}' is not supported on a string parameter"
                    ))
                }
            };
            Ok(Clause::String {
                param: def.name,
                mode,
                values: alternatives().map(normalize).collect(),
            })
        }
        (Date | LastUpdated, None) => {
            let (prefix, text) = split_prefix(value.trim());
            let range = parse_range(text).ok_or_else(|| {
                "expected a FHIR date such as 2024, 2024-05, 2024-05-01 or 2024-05-01T10:00:00Z, optionally after a prefix eq, ne, gt, lt, ge, le, sa, eb or ap".to_string()
            })?;
            Ok(if def.kind == LastUpdated {
                Clause::LastUpdated(prefix, range)
            } else {
                Clause::Date {
                    param: def.name,
                    prefix,
                    range,
                }
            })
        }
        (_, Some(m)) => Err(format!(
            "modifier ':{m}' is not supported on this parameter"
        )),
    }
}

fn parse_token(value: &str) -> TokenValue {
    match value.split_once('|') {
        None => TokenValue {
            system: SystemMatch::Any,
            code: Some(value.to_owned()),
        },
        Some(("", code)) => TokenValue {
            system: SystemMatch::NoSystem,
            code: Some(code.to_owned()),
        },
        Some((system, code)) => TokenValue {
            system: SystemMatch::Is(system.to_owned()),
            code: (!code.is_empty()).then(|| code.to_owned()),
        },
    }
}

fn split_prefix(value: &str) -> (Prefix, &str) {
    const PREFIXES: &[(&str, Prefix)] = &[
        ("eq", Prefix::Eq),
        ("ne", Prefix::Ne),
        ("gt", Prefix::Gt),
        ("lt", Prefix::Lt),
        ("ge", Prefix::Ge),
        ("le", Prefix::Le),
        ("sa", Prefix::Sa),
        ("eb", Prefix::Eb),
        ("ap", Prefix::Ap),
    ];
    for (text, prefix) in PREFIXES {
        if let Some(rest) = value.strip_prefix(text) {
            return (*prefix, rest);
        }
    }
    (Prefix::Eq, value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn extracts_codes_dates_identifiers_and_names() {
        let obs = json!({"resourceType": "Observation", "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": "44261-6"}]},
            "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "survey"}]}],
            "effectiveDateTime": "2024-03-01T10:00:00Z",
            "identifier": [{"system": "urn:x", "value": "42"}]});
        let e = extract("Observation", &obs);
        let has = |param: &str, system: Option<&str>, code: &str| {
            e.tokens
                .iter()
                .any(|t| t.param == param && t.system.as_deref() == system && t.code == code)
        };
        assert!(has("code", Some("http://loinc.org"), "44261-6"));
        assert!(has("status", None, "final"));
        assert!(has("identifier", Some("urn:x"), "42"));
        assert!(has(
            "category",
            Some("http://terminology.hl7.org/CodeSystem/observation-category"),
            "survey"
        ));
        assert_eq!(e.dates.len(), 1);
        assert_eq!(e.dates[0].param, "date");

        let p = json!({"resourceType": "Patient", "birthDate": "1970",
            "name": [{"family": "Alcántar", "given": ["Graciela", "M"]}]});
        let e = extract("Patient", &p);
        let names: Vec<_> = e
            .strings
            .iter()
            .filter(|s| s.param == "name")
            .map(|s| s.value.as_str())
            .collect();
        assert_eq!(names, vec!["alcantar", "graciela", "m"]);
        assert!(e
            .strings
            .iter()
            .any(|s| s.param == "family" && s.value == "alcantar"));
        assert_eq!(e.dates[0].param, "birthdate");
    }

    #[test]
    fn open_periods_extend_to_infinity() {
        let enc = json!({"resourceType": "Encounter", "period": {"start": "2020-01-01"}});
        let e = extract("Encounter", &enc);
        assert_eq!(e.dates[0].range.hi, i64::MAX);
    }

    fn q(t: &str, pairs: &[(&str, &str)]) -> Result<SearchQuery, Vec<Issue>> {
        let owned: Vec<(String, String)> = pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        parse_query(t, &owned, true)
    }

    #[test]
    fn parses_the_contract_parameters() {
        let query = q(
            "Observation",
            &[
                ("patient", "Patient/p1"),
                ("code", "http://loinc.org|44261-6,|x,y"),
                ("date", "ge2024-01"),
                ("_count", "10"),
                ("status", "final"),
            ],
        )
        .unwrap();
        assert_eq!(query.count, 10);
        assert_eq!(query.clauses[0], Clause::Patient(vec!["p1".into()]));
        match &query.clauses[1] {
            Clause::Token { values, .. } => {
                assert_eq!(values[0].system, SystemMatch::Is("http://loinc.org".into()));
                assert_eq!(values[1].system, SystemMatch::NoSystem);
                assert_eq!(values[2].system, SystemMatch::Any);
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            query.clauses[2],
            Clause::Date {
                prefix: Prefix::Ge,
                ..
            }
        ));
        assert!(q("Patient", &[("name", "smi"), ("birthdate", "1970-01-01")]).is_ok());
    }

    #[test]
    fn reports_every_bad_parameter() {
        let issues = q(
            "Observation",
            &[("colour", "red"), ("date", "yesterday"), ("_count", "-1")],
        )
        .unwrap_err();
        assert_eq!(issues.len(), 3);
        assert!(issues[0].diagnostics.contains("colour"));
        assert!(issues[1].diagnostics.contains("FHIR date"));
        // Patient has no compartment parameters.
        assert!(q("Patient", &[("patient", "x")]).is_err());
        let lenient =
            parse_query("Observation", &[("colour".into(), "red".into())], false).unwrap();
        assert_eq!(lenient.ignored, vec!["colour"]);
    }
}
