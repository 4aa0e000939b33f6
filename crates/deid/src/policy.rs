//! The policy a data steward writes: a superset of the Microsoft FHIR Tools for Anonymization
//! configuration.
//!
//! A Microsoft configuration (`fhirVersion`, `processingErrors`, `fhirPathRules`, `parameters`)
//! works unchanged, with a UTF-8 byte-order mark and any letter case of method names. Salus adds:
//! the `scrubText` method (free-text PHI detection on the selected elements), the `patient`
//! date-shift scope, and a `freeText` block (replacement style, categories kept, surrogate key).
//!
//! [`Policy::parse`] finds every problem before anything runs: each comes back as a [`Problem`]
//! with its rule index, path and a plain reason. Problems never quote key material.

use std::collections::BTreeSet;
use std::fmt;

use salus_fhirpath::Expr;
use serde_json::{Map, Value};

/// What a rule does to the elements its path selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Method {
    Keep,
    Redact,
    DateShift,
    Perturb,
    CryptoHash,
    Encrypt,
    Substitute,
    Generalize,
    /// Salus: detect PHI in free text (strings, narrative XHTML, text attachments) and replace it.
    ScrubText,
}

impl Method {
    pub const ALL: [Method; 9] = [
        Method::Keep,
        Method::Redact,
        Method::DateShift,
        Method::Perturb,
        Method::CryptoHash,
        Method::Encrypt,
        Method::Substitute,
        Method::Generalize,
        Method::ScrubText,
    ];

    /// The name as Microsoft's documentation spells it.
    pub fn name(self) -> &'static str {
        match self {
            Method::Keep => "keep",
            Method::Redact => "redact",
            Method::DateShift => "dateShift",
            Method::Perturb => "perturb",
            Method::CryptoHash => "cryptoHash",
            Method::Encrypt => "encrypt",
            Method::Substitute => "substitute",
            Method::Generalize => "generalize",
            Method::ScrubText => "scrubText",
        }
    }

    /// Methods match in any letter case, as in Microsoft's tool.
    pub fn from_name(name: &str) -> Option<Method> {
        Method::ALL
            .into_iter()
            .find(|m| m.name().eq_ignore_ascii_case(name))
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What happens to a resource when a rule fails on it (Microsoft's `processingErrors`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProcessingErrors {
    /// The run fails (Microsoft's default).
    Raise,
    /// The resource is replaced by an empty one of the same type, labelled redacted.
    Skip,
}

/// Whose events move together when dates shift.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateShiftScope {
    /// Microsoft's default: the offset depends on the key and the (top-level) resource id.
    Resource,
    /// Microsoft: the offset depends on the input file's name.
    File,
    /// Microsoft: the offset depends on the input folder's name.
    Folder,
    /// Salus: every resource of one patient moves by the same keyed offset, so intervals between
    /// a patient's events survive.
    Patient,
}

/// Generalize's fallback for values no case matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OtherValues {
    Redact,
    Keep,
}

/// Perturb's noise range: a fixed span or a proportion of the value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeType {
    Fixed,
    Proportional,
}

/// Settings that only some methods take.
#[derive(Debug, Clone)]
pub enum RuleSettings {
    None,
    Perturb {
        span: f64,
        range: RangeType,
        round_to: u32,
    },
    Substitute {
        /// `replaceWith` as written: a string for primitives, an object for complex elements.
        replace_with: Value,
    },
    Generalize {
        cases: Vec<(Expr, Expr)>,
        other_values: OtherValues,
    },
}

/// One entry of `fhirPathRules`, parsed.
#[derive(Debug, Clone)]
pub struct Rule {
    /// Position in `fhirPathRules` (reports and problems name rules by it).
    pub index: usize,
    /// The path as written (reports name rules by index and path).
    pub path: String,
    /// The resource type the path starts with (`Patient.name` → `Patient`), if any. `Resource`
    /// and `DomainResource` apply to every resource.
    pub resource_type: Option<String>,
    pub target: Target,
    pub method: Method,
    pub settings: RuleSettings,
}

/// What a rule's path selects, compiled.
#[derive(Debug, Clone)]
pub enum Target {
    /// The path is only a resource type (`Patient`, `Resource`): the resource itself.
    WholeResource,
    /// `nodesByType('T')` or `nodesByType('T').child`: looked up in the resource's own elements
    /// (not inside resources it contains), as Microsoft does.
    ByType {
        type_name: String,
        child: Option<String>,
    },
    /// `nodesByName('n')` or `nodesByName('n').child`.
    ByName { name: String, child: Option<String> },
    /// A plain member path (`name.period.start` after the resource type): children by element
    /// name, step by step, as FHIRPath navigates them, without running the evaluator.
    Members(Vec<String>),
    /// Any other FHIRPath, evaluated with the resource as context.
    Expression(Expr),
}

/// Parameters shared by all rules.
#[derive(Debug, Clone)]
pub struct Parameters {
    pub date_shift_key: Option<String>,
    pub date_shift_scope: DateShiftScope,
    /// `dateShiftFixedOffsetInDays`: every date moves by exactly this many days.
    pub date_shift_fixed_offset_days: Option<i64>,
    pub crypto_hash_key: Option<String>,
    pub encrypt_key: Option<String>,
    pub enable_partial_ages_for_redact: bool,
    pub enable_partial_dates_for_redact: bool,
    pub enable_partial_zip_codes_for_redact: bool,
    pub restricted_zip_code_tabulation_areas: Vec<String>,
}

/// How free text is rewritten (`freeText` block; Salus extension).
#[derive(Debug, Clone)]
pub struct FreeTextSettings {
    pub replacement: TextReplacement,
    /// Categories of PHI left in place (a limited data set keeps dates, cities, states and ZIP
    /// codes). Names as in `salus_phi_text::Category`.
    pub keep_categories: BTreeSet<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextReplacement {
    /// `[NAME]`, `[DATE]`, …
    Tags,
    /// Consistent, keyed surrogates (the same value becomes the same surrogate).
    Surrogates,
}

/// A validated policy, ready to run.
#[derive(Debug, Clone)]
pub struct Policy {
    pub rules: Vec<Rule>,
    pub parameters: Parameters,
    pub processing_errors: ProcessingErrors,
    pub free_text: FreeTextSettings,
}

/// One thing wrong with a policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Index into `fhirPathRules`, when the problem is in a rule.
    pub rule: Option<usize>,
    /// The rule's path, when it has one (steward-written text, not patient data).
    pub path: Option<String>,
    pub reason: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.rule, &self.path) {
            (Some(i), Some(p)) => write!(f, "rule {i} ({p}): {}", self.reason),
            (Some(i), None) => write!(f, "rule {i}: {}", self.reason),
            (None, _) => f.write_str(&self.reason),
        }
    }
}

/// Every problem found in a policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problems(pub Vec<Problem>);

impl fmt::Display for Problems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{p}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Problems {}

const TOP_LEVEL_KEYS: [&str; 5] = [
    "fhirVersion",
    "processingErrors",
    "fhirPathRules",
    "parameters",
    "freeText",
];

const PARAMETER_KEYS: [&str; 11] = [
    "dateShiftKey",
    "dateShiftScope",
    "dateShiftFixedOffsetInDays",
    "cryptoHashKey",
    "encryptKey",
    "enablePartialAgesForRedact",
    "enablePartialDatesForRedact",
    "enablePartialZipCodesForRedact",
    "restrictedZipCodeTabulationAreas",
    "customSettings",
    "dateShiftKeyPrefix",
];

impl Policy {
    /// Parses and validates a policy document. A UTF-8 byte-order mark is accepted.
    pub fn parse(text: &str) -> Result<Policy, Problems> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let value: Value = serde_json::from_str(text).map_err(|e| {
            Problems(vec![Problem {
                rule: None,
                path: None,
                reason: format!(
                    "the policy is not valid JSON (line {}, column {}): {}; fix the syntax there",
                    e.line(),
                    e.column(),
                    json_error_kind(&e)
                ),
            }])
        })?;
        Policy::from_value(&value)
    }

    /// Validates an already parsed policy document.
    pub fn from_value(value: &Value) -> Result<Policy, Problems> {
        let mut problems = Vec::new();
        let top = match value.as_object() {
            Some(o) => o,
            None => {
                return Err(Problems(vec![general(
                    "the policy must be a JSON object with `fhirPathRules`",
                )]))
            }
        };
        for key in top.keys() {
            if !TOP_LEVEL_KEYS.contains(&key.as_str()) {
                problems.push(general(format!(
                    "unknown top-level key `{key}`; expected one of {}",
                    TOP_LEVEL_KEYS.join(", ")
                )));
            }
        }
        match top.get("fhirVersion") {
            None | Some(Value::Null) => {}
            Some(Value::String(v)) if v.is_empty() || v.eq_ignore_ascii_case("R4") => {}
            Some(_) => problems.push(general(
                "`fhirVersion` must be \"R4\" or empty: Salus de-identifies FHIR R4",
            )),
        }
        let processing_errors = match top.get("processingErrors") {
            None | Some(Value::Null) => ProcessingErrors::Raise,
            Some(Value::String(s)) if s.eq_ignore_ascii_case("raise") => ProcessingErrors::Raise,
            Some(Value::String(s)) if s.eq_ignore_ascii_case("skip") => ProcessingErrors::Skip,
            Some(_) => {
                problems.push(general("`processingErrors` must be \"raise\" or \"skip\""));
                ProcessingErrors::Raise
            }
        };
        let parameters = parse_parameters(top.get("parameters"), &mut problems);
        let free_text = parse_free_text(top.get("freeText"), &mut problems);

        let mut rules = Vec::new();
        match top.get("fhirPathRules") {
            Some(Value::Array(list)) => {
                for (index, raw) in list.iter().enumerate() {
                    if let Some(rule) = parse_rule(index, raw, &mut problems) {
                        rules.push(rule);
                    }
                }
            }
            Some(_) => problems.push(general("`fhirPathRules` must be an array of rules")),
            None => problems.push(general(
                "the policy has no `fhirPathRules`; add an array of {path, method} rules",
            )),
        }
        check_conflicts(&rules, &mut problems);

        if problems.is_empty() {
            Ok(Policy {
                rules,
                parameters,
                processing_errors,
                free_text,
            })
        } else {
            Err(Problems(problems))
        }
    }

    /// How many rules use each method (for `salus policy check`'s summary).
    pub fn method_counts(&self) -> Vec<(Method, usize)> {
        Method::ALL
            .into_iter()
            .map(|m| (m, self.rules.iter().filter(|r| r.method == m).count()))
            .filter(|(_, n)| *n > 0)
            .collect()
    }
}

fn general(reason: impl Into<String>) -> Problem {
    Problem {
        rule: None,
        path: None,
        reason: reason.into(),
    }
}

/// serde_json's message without the input excerpt it never includes anyway, kept short.
fn json_error_kind(e: &serde_json::Error) -> String {
    let text = e.to_string();
    match text.find(" at line ") {
        Some(i) => text[..i].to_string(),
        None => text,
    }
}

fn parse_parameters(raw: Option<&Value>, problems: &mut Vec<Problem>) -> Parameters {
    let mut p = Parameters {
        date_shift_key: None,
        date_shift_scope: DateShiftScope::Resource,
        date_shift_fixed_offset_days: None,
        crypto_hash_key: None,
        encrypt_key: None,
        enable_partial_ages_for_redact: false,
        enable_partial_dates_for_redact: false,
        enable_partial_zip_codes_for_redact: false,
        restricted_zip_code_tabulation_areas: Vec::new(),
    };
    let obj = match raw {
        None | Some(Value::Null) => return p,
        Some(Value::Object(o)) => o,
        Some(_) => {
            problems.push(general("`parameters` must be an object"));
            return p;
        }
    };
    for key in obj.keys() {
        if !PARAMETER_KEYS.contains(&key.as_str()) {
            problems.push(general(format!(
                "unknown parameter `{key}`; expected one of {}",
                PARAMETER_KEYS.join(", ")
            )));
        }
    }
    let mut string_param = |name: &str| -> Option<String> {
        match obj.get(name) {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if s.is_empty() => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => {
                problems.push(general(format!("parameter `{name}` must be a string")));
                None
            }
        }
    };
    p.date_shift_key = string_param("dateShiftKey");
    p.crypto_hash_key = string_param("cryptoHashKey");
    p.encrypt_key = string_param("encryptKey");
    let scope = string_param("dateShiftScope");
    let mut bool_param = |name: &str| -> bool {
        match obj.get(name) {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(_) => {
                problems.push(general(format!("parameter `{name}` must be true or false")));
                false
            }
        }
    };
    p.enable_partial_ages_for_redact = bool_param("enablePartialAgesForRedact");
    p.enable_partial_dates_for_redact = bool_param("enablePartialDatesForRedact");
    p.enable_partial_zip_codes_for_redact = bool_param("enablePartialZipCodesForRedact");
    if let Some(scope) = scope {
        p.date_shift_scope = match scope.to_ascii_lowercase().as_str() {
            "resource" => DateShiftScope::Resource,
            "file" => DateShiftScope::File,
            "folder" => DateShiftScope::Folder,
            "patient" => DateShiftScope::Patient,
            _ => {
                problems.push(general(
                    "parameter `dateShiftScope` must be one of resource, file, folder, patient",
                ));
                DateShiftScope::Resource
            }
        };
    }
    match obj.get("dateShiftFixedOffsetInDays") {
        None | Some(Value::Null) => {}
        Some(v) => match v.as_i64() {
            Some(days) if days.abs() <= 365 * 100 => p.date_shift_fixed_offset_days = Some(days),
            _ => problems.push(general(
                "parameter `dateShiftFixedOffsetInDays` must be a whole number of days",
            )),
        },
    }
    match obj.get("restrictedZipCodeTabulationAreas") {
        None | Some(Value::Null) => {}
        Some(Value::Array(items)) => {
            for item in items {
                match item.as_str() {
                    Some(s) if s.len() == 3 && s.bytes().all(|b| b.is_ascii_digit()) => {
                        p.restricted_zip_code_tabulation_areas.push(s.to_string())
                    }
                    _ => problems.push(general(
                        "parameter `restrictedZipCodeTabulationAreas` must list three-digit ZIP prefixes as strings",
                    )),
                }
            }
        }
        Some(_) => problems.push(general(
            "parameter `restrictedZipCodeTabulationAreas` must be an array of strings",
        )),
    }
    if let Some(key) = &p.encrypt_key {
        let bits = key.len() * 8;
        if ![128, 192, 256].contains(&bits) {
            problems.push(general(format!(
                "parameter `encryptKey` is {bits} bits; AES needs 128, 192 or 256 bits (16, 24 or 32 bytes of UTF-8)"
            )));
        }
    }
    p
}

fn parse_free_text(raw: Option<&Value>, problems: &mut Vec<Problem>) -> FreeTextSettings {
    let mut settings = FreeTextSettings {
        replacement: TextReplacement::Tags,
        keep_categories: BTreeSet::new(),
    };
    let obj = match raw {
        None | Some(Value::Null) => return settings,
        Some(Value::Object(o)) => o,
        Some(_) => {
            problems.push(general("`freeText` must be an object"));
            return settings;
        }
    };
    for key in obj.keys() {
        if !["replacement", "keepCategories"].contains(&key.as_str()) {
            problems.push(general(format!(
                "unknown `freeText` key `{key}`; expected replacement, keepCategories"
            )));
        }
    }
    match obj.get("replacement").and_then(Value::as_str) {
        None => {}
        Some(s) if s.eq_ignore_ascii_case("tags") => settings.replacement = TextReplacement::Tags,
        Some(s) if s.eq_ignore_ascii_case("surrogates") => {
            settings.replacement = TextReplacement::Surrogates
        }
        Some(_) => problems.push(general(
            "`freeText.replacement` must be \"tags\" or \"surrogates\"",
        )),
    }
    if let Some(list) = obj.get("keepCategories") {
        match list.as_array() {
            Some(items) => {
                for item in items {
                    match item.as_str() {
                        Some(name) if crate::text::category_exists(name) => {
                            settings.keep_categories.insert(name.to_string());
                        }
                        _ => problems.push(general(format!(
                            "`freeText.keepCategories` lists an unknown category; known: {}",
                            crate::text::category_names().join(", ")
                        ))),
                    }
                }
            }
            None => problems.push(general("`freeText.keepCategories` must be an array")),
        }
    }
    settings
}

const RULE_KEYS: [&str; 9] = [
    "path",
    "method",
    "cases",
    "otherValues",
    "replaceWith",
    "span",
    "rangeType",
    "roundTo",
    "description",
];

fn parse_rule(index: usize, raw: &Value, problems: &mut Vec<Problem>) -> Option<Rule> {
    let obj = match raw.as_object() {
        Some(o) => o,
        None => {
            problems.push(Problem {
                rule: Some(index),
                path: None,
                reason: "a rule must be an object with `path` and `method`".into(),
            });
            return None;
        }
    };
    let path = obj.get("path").and_then(Value::as_str).map(str::to_string);
    let problem = |reason: String| Problem {
        rule: Some(index),
        path: path.clone(),
        reason,
    };
    let before = problems.len();
    for key in obj.keys() {
        if !RULE_KEYS.contains(&key.as_str()) {
            problems.push(problem(format!(
                "unknown rule key `{key}`; expected one of {}",
                RULE_KEYS.join(", ")
            )));
        }
    }
    let method = match obj.get("method") {
        Some(Value::String(m)) => match Method::from_name(m) {
            Some(m) => Some(m),
            None => {
                problems.push(problem(format!(
                    "unknown method `{m}`; expected one of {}",
                    Method::ALL.map(Method::name).join(", ")
                )));
                None
            }
        },
        _ => {
            problems.push(problem("missing `method` (a string)".into()));
            None
        }
    };
    let target = match &path {
        Some(p) => match compile_target(p) {
            Ok(t) => Some(t),
            Err(reason) => {
                problems.push(problem(reason));
                None
            }
        },
        None => {
            problems.push(problem("missing `path` (a FHIRPath string)".into()));
            None
        }
    };
    if let Some(m) = method {
        for key in obj.keys() {
            let owner = match key.as_str() {
                "cases" | "otherValues" => Some(Method::Generalize),
                "replaceWith" => Some(Method::Substitute),
                "span" | "rangeType" | "roundTo" => Some(Method::Perturb),
                _ => None,
            };
            if let Some(owner) = owner.filter(|o| *o != m) {
                problems.push(problem(format!(
                    "`{key}` belongs to {owner} rules, not {m}: remove it or change the method"
                )));
            }
        }
    }
    let settings = match method {
        Some(m) => parse_settings(m, obj, &mut |r| problems.push(problem(r))),
        None => RuleSettings::None,
    };
    if problems.len() > before {
        return None;
    }
    let path = path?;
    Some(Rule {
        index,
        resource_type: resource_type_of(&path),
        path,
        target: target?,
        method: method?,
        settings,
    })
}

fn parse_settings(
    method: Method,
    obj: &Map<String, Value>,
    problem: &mut dyn FnMut(String),
) -> RuleSettings {
    match method {
        Method::Substitute => {
            match obj.get("replaceWith") {
                None => {
                    problem("substitute needs `replaceWith` (a string, or an object for a complex element)".into());
                    RuleSettings::None
                }
                Some(v @ (Value::String(_) | Value::Object(_) | Value::Null)) => {
                    RuleSettings::Substitute {
                        replace_with: v.clone(),
                    }
                }
                Some(v @ (Value::Number(_) | Value::Bool(_))) => RuleSettings::Substitute {
                    replace_with: Value::String(v.to_string()),
                },
                Some(_) => {
                    problem("`replaceWith` must be a string or an object".into());
                    RuleSettings::None
                }
            }
        }
        Method::Perturb => {
            let span = match obj.get("span") {
                None => {
                    problem("perturb needs `span` (a non-negative number)".into());
                    0.0
                }
                Some(v) => match number_of(v) {
                    Some(s) if s >= 0.0 && s.is_finite() => s,
                    _ => {
                        problem("`span` must be a non-negative number".into());
                        0.0
                    }
                },
            };
            let range = match obj.get("rangeType").map(|v| v.as_str()) {
                None => RangeType::Fixed,
                Some(Some(s)) if s.eq_ignore_ascii_case("fixed") => RangeType::Fixed,
                Some(Some(s)) if s.eq_ignore_ascii_case("proportional") => RangeType::Proportional,
                Some(_) => {
                    problem("`rangeType` must be \"fixed\" or \"proportional\"".into());
                    RangeType::Fixed
                }
            };
            let round_to = match obj.get("roundTo") {
                None => 2,
                Some(v) => match number_of(v) {
                    Some(n) if (0.0..=28.0).contains(&n) && n.fract() == 0.0 => n as u32,
                    _ => {
                        problem("`roundTo` must be a whole number from 0 to 28".into());
                        2
                    }
                },
            };
            RuleSettings::Perturb {
                span,
                range,
                round_to,
            }
        }
        Method::Generalize => {
            let cases = match obj.get("cases") {
                Some(Value::Object(cases)) => {
                    let mut compiled = Vec::new();
                    for (condition, result) in cases {
                        let result_text = match result {
                            Value::String(s) => s.clone(),
                            other => other.to_string(),
                        };
                        match (
                            salus_fhirpath::parse(condition),
                            salus_fhirpath::parse(&result_text),
                        ) {
                            (Ok(c), Ok(r)) => compiled.push((c, r)),
                            (Err(e), _) => problem(format!("case condition `{condition}`: {e}")),
                            (_, Err(e)) => problem(format!("case value `{result_text}`: {e}")),
                        }
                    }
                    compiled
                }
                Some(_) => {
                    problem(
                        "`cases` must be an object of FHIRPath condition → FHIRPath value".into(),
                    );
                    Vec::new()
                }
                None => {
                    problem("generalize needs `cases`".into());
                    Vec::new()
                }
            };
            let other_values = match obj.get("otherValues").map(|v| v.as_str()) {
                None => OtherValues::Redact,
                Some(Some(s)) if s.eq_ignore_ascii_case("redact") => OtherValues::Redact,
                Some(Some(s)) if s.eq_ignore_ascii_case("keep") => OtherValues::Keep,
                Some(_) => {
                    problem("`otherValues` must be \"redact\" or \"keep\"".into());
                    OtherValues::Redact
                }
            };
            RuleSettings::Generalize {
                cases,
                other_values,
            }
        }
        _ => RuleSettings::None,
    }
}

/// Microsoft accepts numbers written as strings in rule settings.
fn number_of(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// The leading resource type of a path, as Microsoft reads it: an identifier starting with an
/// upper-case letter before the first dot.
fn resource_type_of(path: &str) -> Option<String> {
    let head: String = path
        .chars()
        .take_while(|c| c.is_ascii_alphabetic())
        .collect();
    let starts_upper = head.chars().next().is_some_and(|c| c.is_ascii_uppercase());
    let rest = &path[head.len()..];
    (starts_upper && (rest.is_empty() || rest.starts_with('.'))).then_some(head)
}

/// Compiles a rule path into what the engine selects with.
fn compile_target(path: &str) -> Result<Target, String> {
    if path.trim().is_empty() {
        return Err("the path is empty".into());
    }
    if let Some(t) = lookup_target(path, "nodesByType") {
        return Ok(Target::ByType {
            type_name: t.0,
            child: t.1,
        });
    }
    if let Some(t) = lookup_target(path, "nodesByName") {
        return Ok(Target::ByName {
            name: t.0,
            child: t.1,
        });
    }
    let expr = salus_fhirpath::parse(path).map_err(|e| format!("invalid FHIRPath: {e}"))?;
    if resource_type_of(path).as_deref() == Some(path) {
        return Ok(Target::WholeResource);
    }
    // Evaluated with the resource as context: the leading type name, if any, is dropped, as
    // Microsoft does (`Patient.name` → `name` on each Patient).
    let rest = match resource_type_of(path) {
        Some(t) => &path[t.len() + 1..],
        None => path,
    };
    let is_identifier = |w: &str| {
        w.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
            && w.chars().all(|c| c.is_ascii_alphanumeric())
            && !matches!(
                w,
                "and"
                    | "or"
                    | "xor"
                    | "implies"
                    | "as"
                    | "is"
                    | "in"
                    | "contains"
                    | "div"
                    | "mod"
                    | "true"
                    | "false"
            )
    };
    if rest.split('.').all(is_identifier) {
        return Ok(Target::Members(
            rest.split('.').map(str::to_string).collect(),
        ));
    }
    match resource_type_of(path) {
        Some(t) => {
            let rest = &path[t.len() + 1..];
            let expr = salus_fhirpath::parse(rest).map_err(|e| format!("invalid FHIRPath: {e}"))?;
            Ok(Target::Expression(expr))
        }
        None => Ok(Target::Expression(expr)),
    }
}

/// `nodesByType('T')` / `nodesByType("T").child` exactly (anything more is a general expression).
fn lookup_target(path: &str, function: &str) -> Option<(String, Option<String>)> {
    let rest = path.strip_prefix(function)?.strip_prefix('(')?;
    let quote = rest.chars().next().filter(|c| *c == '\'' || *c == '"')?;
    let rest = &rest[1..];
    let end = rest.find(quote)?;
    let name = &rest[..end];
    let rest = rest[end + 1..].strip_prefix(')')?;
    let is_word = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric());
    if !is_word(name) {
        return None;
    }
    if rest.is_empty() {
        return Some((name.to_string(), None));
    }
    let child = rest.strip_prefix('.')?;
    is_word(child).then(|| (name.to_string(), Some(child.to_string())))
}

/// Two rules with the same path and different methods: the second never applies (first match
/// wins), which is almost always a mistake in the policy.
fn check_conflicts(rules: &[Rule], problems: &mut Vec<Problem>) {
    for (i, later) in rules.iter().enumerate() {
        if let Some(earlier) = rules[..i]
            .iter()
            .find(|earlier| earlier.path == later.path && earlier.method != later.method)
        {
            let j = earlier.index;
            problems.push(Problem {
                rule: Some(later.index),
                path: Some(later.path.clone()),
                reason: format!(
                    "conflicts with rule {j}, which has the same path and another method; the first match wins, so this rule never applies: remove one"
                ),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_match_in_any_case() {
        assert_eq!(Method::from_name("DATESHIFT"), Some(Method::DateShift));
        assert_eq!(Method::from_name("cryptohash"), Some(Method::CryptoHash));
        assert_eq!(Method::from_name("scramble"), None);
    }

    #[test]
    fn lookup_targets_are_recognised() {
        assert!(matches!(
            compile_target("nodesByType('HumanName')"),
            Ok(Target::ByType { ref type_name, child: None }) if type_name == "HumanName"
        ));
        assert!(matches!(
            compile_target("nodesByName(\"telecom\").value"),
            Ok(Target::ByName { ref name, child: Some(ref c) }) if name == "telecom" && c == "value"
        ));
        assert!(matches!(
            compile_target("Resource"),
            Ok(Target::WholeResource)
        ));
        assert!(matches!(
            compile_target("Patient.nodesByType('HumanName').use"),
            Ok(Target::Expression(_))
        ));
        assert!(matches!(
            compile_target("Bundle.entry.fullUrl"),
            Ok(Target::Members(ref m)) if m == &["entry", "fullUrl"]
        ));
        assert!(matches!(
            compile_target("Device.where(id.exists()).id"),
            Ok(Target::Expression(_))
        ));
        assert_eq!(resource_type_of("Patient.name").as_deref(), Some("Patient"));
        assert_eq!(resource_type_of("nodesByType('date')"), None);
    }

    #[test]
    fn every_problem_is_reported_with_its_rule() {
        let policy = r#"{
            "fhirPathRules": [
                {"path": "Patient.name", "method": "scramble"},
                {"path": "Patient.name.where(", "method": "redact"},
                {"path": "Patient.id", "method": "cryptoHash", "span": 3},
                {"path": "Patient.birthDate", "method": "perturb"},
                {"path": "Patient.gender", "method": "keep"},
                {"path": "Patient.gender", "method": "redact"}
            ],
            "parameters": {"encryptKey": "short"}
        }"#;
        let problems = Policy::parse(policy).unwrap_err().0;
        let rules: Vec<Option<usize>> = problems.iter().map(|p| p.rule).collect();
        assert!(rules.contains(&Some(0)), "{problems:?}");
        assert!(rules.contains(&Some(1)));
        assert!(
            rules.contains(&Some(2)),
            "a setting the method doesn't take"
        );
        assert!(rules.contains(&Some(3)), "perturb without span");
        assert!(rules.contains(&Some(5)), "conflict");
        assert!(problems
            .iter()
            .any(|p| p.rule.is_none() && p.reason.contains("40 bits")));
        // The key itself never appears in a problem.
        assert!(problems.iter().all(|p| !p.reason.contains("short")));
    }

    #[test]
    fn a_byte_order_mark_is_accepted() {
        let p = Policy::parse(
            "\u{feff}{\"fhirPathRules\": [{\"path\": \"Resource\", \"method\": \"REDACT\"}]}",
        )
        .unwrap();
        assert_eq!(p.rules[0].method, Method::Redact);
        assert!(matches!(p.rules[0].target, Target::WholeResource));
    }
}
