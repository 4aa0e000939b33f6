//! Screening QuestionnaireResponses to Observations, findings and health concerns.
//!
//! # Instruments
//!
//! Recognised, in this order: a panel code or a name (`Instrument::url_words`) in the
//! `questionnaire` canonical URL (`…/Questionnaire/prapare-example`, `http://loinc.org/q/44249-1`);
//! else a group item coded with a panel code; else the first instrument (most specific first:
//! PHQ-9, GAD-7, PRAPARE, AHC HRSN, AHC supplemental, PHQ-2, HVS) one of whose distinctive
//! item codes the response has. A response that names none of them derives nothing (a
//! warning says so): the rules below are only right for the instruments they were written for.
//!
//! An item's code is its first LOINC `code`, else the last segment of its `linkId` when that is
//! a LOINC code with a valid check digit (US Core's examples have `/93042-0/71802-3` and no
//! `code`). An answered item without either derives nothing (warned).
//!
//! # Observations (US Core Observation Screening Assessment, SDOHCC Observation Screening Response)
//!
//! - One per answer of an answered item: code the item's LOINC code (`text` the item's text),
//!   `valueCoding` → `valueCodeableConcept` (the coding, `text` its display), integers and
//!   decimals → `valueQuantity` with the number as written (no unit: the response has none),
//!   strings, booleans, dates, times as such. A multi-select item gives one Observation per
//!   answer, as US Core's PRAPARE race and unmet-needs examples do.
//! - A group item with a LOINC code (PRAPARE's sections) is an Observation with `hasMember` →
//!   its items; a group without code passes its items to its parent.
//! - The panel: the instrument's panel code, `hasMember` → the top-level Observations. When
//!   the response has a group with the panel code (PRAPARE's `/93025-5`), that group is the
//!   panel.
//! - Every one: `status` `final` (`preliminary` for an `in-progress` response), `category`
//!   `survey` (+ US Core `sdoh` for social-needs instruments, + the Gravity domains of the
//!   question: the IG assigns them "based on the question and its complete allowed set of
//!   answers"), `subject` / `encounter` the response's, `effectiveDateTime` = `authored`,
//!   `performer` = the response's `source`, `derivedFrom` → `QuestionnaireResponse/<id>`, and
//!   `meta.tag` `provenance#derived`.
//!
//! # Findings and health concerns (SDOH Clinical Care IG)
//!
//! An answer that a rule in `rules::RULES` calls positive gets `interpretation` `POS` (v3
//! ObservationInterpretation, the IG's flag for a possible health-related social need) and its
//! domain's category. Where the rule names a SNOMED CT health concern, a Condition is derived:
//! one per concept per response, `category` `health-concern` (US Core condition-category) +
//! `sdoh` + the domain, `clinicalStatus` `active`, `verificationStatus` **`unconfirmed`** (a
//! screening answer is not a clinician's assessment: the IG asks that derived concerns be
//! verified with the patient), `onsetPeriod.start` = `authored` (as the IG's examples),
//! `evidence.detail` → the positive Observations.
//!
//! Hunger Vital Sign (also AHC HRSN questions 3-4, the same items): question 3, food
//! insecurity risk (88124-3), is computed from questions 1-2 when the response lacks it: "At
//! risk" (LA19952-3) when either is "Often true" or "Sometimes true", "No risk" (LA19983-8)
//! when both are "Never true", nothing otherwise. The food-insecurity Condition follows
//! question 3, given or computed; a given question 3 that disagrees with questions 1-2 is kept
//! (warned).
//!
//! AHC HRSN questions 7-10 (interpersonal safety) score 1-5 each; their total (95614-4) is
//! computed when all four are answered and the response lacks it, and 11 or more is `POS`.
//! No violence or abuse Condition is ever derived (see `rules::RULES`).
//!
//! # Scores (PHQ-2, PHQ-9, GAD-7)
//!
//! Item scores come from the LOINC answer codes (LL358-3: 0-3), else from an `ordinalValue` or
//! `itemWeight` extension on the answer or its coding, else from an integer answer. The total
//! (PHQ-2 55758-7, PHQ-9 44261-6, GAD-7 70274-6):
//!
//! - given in the response: kept as given; if every item is scored and the sum differs, a
//!   warning (the response is the record; Salus does not override it);
//! - not given: computed when **every** scored item is answered; otherwise no total and a
//!   warning (a partial sum would understate the severity);
//! - its severity band is the total Observation's `interpretation`, coded in
//!   [`SCORE_BAND_SYSTEM`] (`minimal`, `mild`, `moderate`, `moderately-severe`, `severe`;
//!   PHQ-2 `negative`/`positive` at 3), with text ("Moderate depression (PHQ-9 10-14)"). FHIR's
//!   interpretation codes (H, L, POS, …) have no severity bands, and a component would make the
//!   band look like a second measurement.
//!
//! # Self-harm
//!
//! PHQ-9 item 9 (44260-8) answered anything but "Not at all" (LA6568-5) yields a
//! [`Flag`] of kind [`FlagKind::SelfHarmRisk`] naming the item Observation, which also gets
//! `meta.tag` `http://salus.example/fhir/CodeSystem/flags#self-harm-risk` and `interpretation`
//! `POS`, so that whoever reads the stored Observation (the context builder) can surface it
//! without re-deriving anything.
//!
//! # Ids
//!
//! `derive_id("sdoh|qr|<response id>|<key>")`, key = the item's `linkId` (answers after the
//! first: `<linkId>|answer<n>`; a repeated `linkId` gets its position appended), `panel` for a
//! panel not in the response, `total|<code>` for a computed total, `finding|88124-3` for a
//! computed HVS question 3, `condition|<SNOMED code>`. Deriving twice gives the same ids.
//!
//! # Never echoes values
//!
//! Warnings name positions (`item[2].item[0]`), codes and rules, never an answer or a score.

use std::collections::HashSet;

use serde_json::{Map, Value};

use crate::rules::{
    self, Domain, Instrument, Scale, AT_RISK, GAD7, HVS_ITEMS, HVS_NEGATIVE, HVS_POSITIVE,
    HVS_RISK, LOINC, NOT_AT_ALL, NO_RISK, PHQ2, PHQ9, PHQ9_ITEM9, SAFETY_ITEMS, SAFETY_SCORES,
    SAFETY_THRESHOLD, SAFETY_TOTAL, SDOHCC_CATEGORY, SNOMED,
};
use crate::{
    coding, concept, derived_meta, fhir_code, fhir_string, fhir_uri, obj, FLAGS_SYSTEM,
    SCORE_BAND_SYSTEM, US_CORE_CATEGORY,
};

/// What one QuestionnaireResponse derived.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Derived {
    /// The instrument recognised, if any.
    pub instrument: Option<Instrument>,
    /// Observations (the panel first, then the items in response order, then computed
    /// findings and totals) and Conditions.
    pub resources: Vec<Value>,
    /// What the context builder must surface.
    pub flags: Vec<Flag>,
    /// What could not be derived, and why (positions and codes, never values).
    pub warnings: Vec<String>,
}

/// Something a reader of the record must not miss.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flag {
    pub kind: FlagKind,
    /// `Observation/<id>`, the Observation that carries it.
    pub resource: String,
}

/// Kinds of [`Flag`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FlagKind {
    /// PHQ-9 item 9 answered other than "Not at all".
    SelfHarmRisk,
}

impl FlagKind {
    /// The code in [`FLAGS_SYSTEM`].
    pub fn code(self) -> &'static str {
        match self {
            FlagKind::SelfHarmRisk => "self-harm-risk",
        }
    }
}

const POS_SYSTEM: &str = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation";

/// Derive Observations, findings and health concerns from one QuestionnaireResponse (see the
/// module documentation). Never panics; what it cannot use it warns about.
pub fn derive_from_response(qr: &Value) -> Derived {
    let mut out = Derived::default();
    if qr.get("resourceType").and_then(Value::as_str) != Some("QuestionnaireResponse") {
        out.warnings
            .push("not a QuestionnaireResponse: nothing derived".into());
        return out;
    }
    let Some(qr_id) = qr
        .get("id")
        .and_then(Value::as_str)
        .filter(|id| salus_fhir::ids::is_valid_id(id))
    else {
        out.warnings.push(
            "the response has no valid id: derived resources could not be given stable ids, nothing derived".into(),
        );
        return out;
    };
    let status = match qr.get("status").and_then(Value::as_str) {
        Some("entered-in-error") => {
            out.warnings
                .push("the response is entered-in-error: nothing derived".into());
            return out;
        }
        Some("in-progress") => "preliminary",
        Some("completed" | "amended" | "stopped") => "final",
        _ => {
            out.warnings
                .push("status missing or unknown: Observations are derived as final".into());
            "final"
        }
    };
    let Some(subject) = reference_of(qr.get("subject")) else {
        out.warnings
            .push("the response has no subject reference: nothing derived".into());
        return out;
    };
    let items = qr
        .get("item")
        .and_then(Value::as_array)
        .map_or(&[][..], Vec::as_slice);
    let Some(instrument) = detect(qr, items) else {
        out.warnings.push(
            "the questionnaire is none of AHC HRSN, PRAPARE, Hunger Vital Sign, PHQ-2, PHQ-9, GAD-7: nothing derived".into(),
        );
        return out;
    };
    out.instrument = Some(instrument);
    let effective = match qr.get("authored") {
        Some(Value::String(a)) if salus_fhir::date::parse_range(a).is_some() => {
            Some(Value::from(a.as_str()))
        }
        Some(_) => {
            out.warnings.push(
                "authored is not a FHIR dateTime: Observations have no effective time".into(),
            );
            None
        }
        None => {
            out.warnings
                .push("authored missing: Observations have no effective time".into());
            None
        }
    };
    let mut ctx = Ctx {
        qr_id,
        instrument,
        status,
        subject,
        encounter: reference_of(qr.get("encounter")),
        performer: reference_of(qr.get("source")),
        effective,
        derived_from: obj([(
            "reference",
            Value::from(format!("QuestionnaireResponse/{qr_id}")),
        )]),
        observations: Vec::new(),
        items: Vec::new(),
        used_keys: HashSet::new(),
        panel_key: None,
        warnings: Vec::new(),
        flags: Vec::new(),
        positives: Vec::new(),
    };
    let mut members = Vec::new();
    ctx.walk(items, "", &mut members, true);
    ctx.finish(members, &mut out);
    out
}

/// `{"reference": …}` of a Reference with a non-empty string `reference` (nothing else is
/// copied: a `display` is often a name).
fn reference_of(value: Option<&Value>) -> Option<Value> {
    let r = value?.get("reference")?.as_str()?;
    (crate::fhir_string(r) && r.trim() == r).then(|| obj([("reference", Value::from(r))]))
}

/// Which instrument a response is (see the module documentation).
fn detect(qr: &Value, items: &[Value]) -> Option<Instrument> {
    if let Some(url) = qr.get("questionnaire").and_then(Value::as_str) {
        let lower = url.to_ascii_lowercase();
        let tokens: Vec<&str> = lower
            .split(|c: char| !(c.is_ascii_digit() || c == '-'))
            .collect();
        for instrument in Instrument::ALL {
            if tokens.contains(&instrument.panel_code()) {
                return Some(instrument);
            }
        }
        for instrument in Instrument::ALL {
            let words = instrument.url_words();
            let named = lower
                .split(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
                .any(|token| {
                    words.iter().any(|w| {
                        token == *w
                            || token
                                .strip_prefix(w)
                                .is_some_and(|rest| rest.starts_with(['-', '_']))
                            || token
                                .strip_suffix(w)
                                .is_some_and(|rest| rest.ends_with(['-', '_']))
                    })
                });
            if named {
                return Some(instrument);
            }
        }
    }
    let mut codes = Vec::new();
    collect_codes(items, &mut codes, 0);
    for instrument in Instrument::ALL {
        if codes.iter().any(|c| c == instrument.panel_code()) {
            return Some(instrument);
        }
    }
    Instrument::ALL.into_iter().find(|instrument| {
        codes
            .iter()
            .any(|c| instrument.distinctive_items().contains(&c.as_str()))
    })
}

/// Every item code in the tree (bounded depth: a response nests a few levels, not hundreds).
fn collect_codes(items: &[Value], out: &mut Vec<String>, depth: usize) {
    if depth > MAX_DEPTH {
        return;
    }
    for item in items {
        if let Some((code, _)) = item_code(item) {
            out.push(code);
        }
        if let Some(children) = item.get("item").and_then(Value::as_array) {
            collect_codes(children, out, depth + 1);
        }
        for answer in item
            .get("answer")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(children) = answer.get("item").and_then(Value::as_array) {
                collect_codes(children, out, depth + 1);
            }
        }
    }
}

const MAX_DEPTH: usize = 32;

/// An item's LOINC code and its display: the first LOINC `code`, else the `linkId`'s last
/// segment when it is a LOINC code.
fn item_code(item: &Value) -> Option<(String, Option<String>)> {
    if let Some(codings) = item.get("code").and_then(Value::as_array) {
        for c in codings {
            if c.get("system").and_then(Value::as_str) == Some(LOINC) {
                if let Some(code) = c
                    .get("code")
                    .and_then(Value::as_str)
                    .filter(|c| is_loinc(c))
                {
                    let display = c
                        .get("display")
                        .and_then(Value::as_str)
                        .filter(|d| fhir_string(d))
                        .map(str::to_string);
                    return Some((code.to_string(), display));
                }
            }
        }
    }
    let link = item.get("linkId").and_then(Value::as_str)?;
    let last = link.rsplit('/').next()?;
    is_loinc(last).then(|| (last.to_string(), None))
}

/// A LOINC code: 1-7 digits, `-`, and the right Mod 10 check digit (LOINC Users' Guide,
/// appendix: the digits in odd places from the right form a number that is doubled; the digits
/// of that and of the even-place digits are summed; the check digit brings the sum to a
/// multiple of 10).
pub(crate) fn is_loinc(code: &str) -> bool {
    let Some((number, check)) = code.split_once('-') else {
        return false;
    };
    if number.is_empty()
        || number.len() > 7
        || check.len() != 1
        || !number.bytes().all(|b| b.is_ascii_digit())
    {
        return false;
    }
    let Some(check) = check.bytes().next().filter(u8::is_ascii_digit) else {
        return false;
    };
    let digits: Vec<u64> = number.bytes().map(|b| u64::from(b - b'0')).collect();
    let mut odd: u64 = 0;
    let mut even_sum: u64 = 0;
    for (i, d) in digits.iter().enumerate() {
        let from_right = digits.len() - i; // 1 is the rightmost
        if from_right % 2 == 1 {
            odd = odd * 10 + d;
        } else {
            even_sum += d;
        }
    }
    let mut doubled = odd * 2;
    let mut sum = even_sum;
    while doubled > 0 {
        sum += doubled % 10;
        doubled /= 10;
    }
    (10 - sum % 10) % 10 == u64::from(check - b'0')
}

/// One item Observation, for the passes after the walk.
struct ItemObs<'q> {
    /// Index in `Ctx::observations`.
    index: usize,
    id: String,
    code: String,
    answer: &'q Value,
    position: String,
}

/// A positive answer: its domain, the Condition it suggests, the Observation.
struct Positive {
    domain: Domain,
    condition: Option<rules::ConditionCode>,
    observation: String,
}

struct Ctx<'q> {
    qr_id: &'q str,
    instrument: Instrument,
    status: &'static str,
    subject: Value,
    encounter: Option<Value>,
    performer: Option<Value>,
    effective: Option<Value>,
    derived_from: Value,
    observations: Vec<Map<String, Value>>,
    items: Vec<ItemObs<'q>>,
    used_keys: HashSet<String>,
    panel_key: Option<String>,
    warnings: Vec<String>,
    flags: Vec<Flag>,
    positives: Vec<Positive>,
}

impl<'q> Ctx<'q> {
    /// A unique key for an Observation; a repeat (a repeating group reuses its `linkId`s) gets
    /// its position.
    fn key(&mut self, key: String, position: &str) -> String {
        let key = if self.used_keys.contains(&key) {
            format!("{key}|{position}")
        } else {
            key
        };
        self.used_keys.insert(key.clone());
        key
    }

    fn id(&self, key: &str) -> String {
        salus_fhir::ids::derive_id(&format!("sdoh|qr|{}|{key}", self.qr_id))
    }

    /// The categories of an Observation about `code`.
    fn categories(&self, code: Option<&str>) -> Vec<Value> {
        let mut c = vec![concept(
            "http://terminology.hl7.org/CodeSystem/observation-category",
            "survey",
            "Survey",
        )];
        if self.instrument.is_sdoh() {
            c.push(concept(US_CORE_CATEGORY, "sdoh", "SDOH"));
            for d in code.map(rules::question_domains).unwrap_or_default() {
                c.push(domain_concept(d));
            }
        }
        c
    }

    /// An Observation's common elements, up to its value.
    fn observation(
        &self,
        id: &str,
        code: Value,
        category_code: Option<&str>,
    ) -> Map<String, Value> {
        let mut o = Map::with_capacity(16);
        o.insert("resourceType".into(), Value::from("Observation"));
        o.insert("id".into(), Value::from(id));
        o.insert("meta".into(), derived_meta());
        o.insert("status".into(), Value::from(self.status));
        o.insert(
            "category".into(),
            Value::Array(self.categories(category_code)),
        );
        o.insert("code".into(), code);
        o.insert("subject".into(), self.subject.clone());
        if let Some(e) = &self.encounter {
            o.insert("encounter".into(), e.clone());
        }
        if let Some(e) = &self.effective {
            o.insert("effectiveDateTime".into(), e.clone());
        }
        if let Some(p) = &self.performer {
            o.insert("performer".into(), Value::Array(vec![p.clone()]));
        }
        o
    }

    fn walk(&mut self, items: &'q [Value], path: &str, members: &mut Vec<String>, top: bool) {
        if path.matches('.').count() > MAX_DEPTH {
            self.warnings.push(format!(
                "{path}: items nested too deeply; the rest not derived"
            ));
            return;
        }
        for (i, item) in items.iter().enumerate() {
            let position = format!("{path}item[{i}]");
            if !item.is_object() {
                self.warnings
                    .push(format!("{position}: not an object; not derived"));
                continue;
            }
            let code = item_code(item);
            let answers = item
                .get("answer")
                .and_then(Value::as_array)
                .map_or(&[][..], Vec::as_slice);
            let children = item
                .get("item")
                .and_then(Value::as_array)
                .map_or(&[][..], Vec::as_slice);
            if !answers.is_empty() {
                match &code {
                    Some((code, display)) => {
                        for (n, answer) in answers.iter().enumerate() {
                            if let Some(id) =
                                self.answer_observation(item, code, display.as_deref(), answer, n, &position)
                            {
                                members.push(id);
                            }
                        }
                    }
                    None => self.warnings.push(format!(
                        "{position}: answered item without a LOINC code (in code or linkId); not derived"
                    )),
                }
                for (n, answer) in answers.iter().enumerate() {
                    if let Some(nested) = answer.get("item").and_then(Value::as_array) {
                        self.walk(nested, &format!("{position}.answer[{n}]."), members, false);
                    }
                }
                // Child items beside answers (allowed for groups of questions under a question).
                if !children.is_empty() {
                    self.walk(children, &format!("{position}."), members, false);
                }
            } else if !children.is_empty() {
                let child_path = format!("{position}.");
                match code {
                    Some((code, _))
                        if top
                            && code == self.instrument.panel_code()
                            && self.panel_key.is_none() =>
                    {
                        // The response's own panel group: its items are the panel's members.
                        let key = item
                            .get("linkId")
                            .and_then(Value::as_str)
                            .map_or_else(|| position.clone(), str::to_string);
                        let key = self.key(key, &position);
                        self.panel_key = Some(key);
                        self.walk(children, &child_path, members, true);
                    }
                    Some((code, display)) => {
                        let mut sub = Vec::new();
                        self.walk(children, &child_path, &mut sub, false);
                        if !sub.is_empty() {
                            let key = item
                                .get("linkId")
                                .and_then(Value::as_str)
                                .map_or_else(|| position.clone(), str::to_string);
                            let key = self.key(key, &position);
                            let id = self.id(&key);
                            let text = item.get("text").and_then(Value::as_str);
                            let mut o = self.observation(
                                &id,
                                code_concept(&code, display.as_deref(), text),
                                Some(&code),
                            );
                            o.insert(
                                "derivedFrom".into(),
                                Value::Array(vec![self.derived_from.clone()]),
                            );
                            o.insert("hasMember".into(), references(&sub));
                            self.observations.push(o);
                            members.push(id);
                        }
                    }
                    None => self.walk(children, &child_path, members, top),
                }
            }
        }
    }

    /// The Observation of one answer; its id, or `None` (warned) when the answer's value
    /// cannot be an Observation value.
    fn answer_observation(
        &mut self,
        item: &'q Value,
        code: &str,
        display: Option<&str>,
        answer: &'q Value,
        n: usize,
        position: &str,
    ) -> Option<String> {
        let Some((key_name, value)) = answer_value(answer, code) else {
            self.warnings.push(format!(
                "{position}.answer[{n}]: answer of a type not mapped to an Observation value (or empty); not derived"
            ));
            return None;
        };
        let link = item
            .get("linkId")
            .and_then(Value::as_str)
            .map_or_else(|| position.to_string(), str::to_string);
        let key = if n == 0 {
            link
        } else {
            format!("{link}|answer{n}")
        };
        let key = self.key(key, &format!("{position}.answer[{n}]"));
        let id = self.id(&key);
        let text = item.get("text").and_then(Value::as_str);
        let mut o = self.observation(&id, code_concept(code, display, text), Some(code));
        o.insert(key_name.into(), value);
        o.insert(
            "derivedFrom".into(),
            Value::Array(vec![self.derived_from.clone()]),
        );
        self.items.push(ItemObs {
            index: self.observations.len(),
            id: id.clone(),
            code: code.to_string(),
            answer,
            position: format!("{position}.answer[{n}]"),
        });
        self.observations.push(o);
        Some(id)
    }

    fn item_with_code(&self, code: &str) -> Option<&ItemObs<'q>> {
        self.items.iter().find(|i| i.code == code)
    }

    fn add_interpretation(&mut self, index: usize, interpretation: Value) {
        if let Some(o) = self.observations.get_mut(index) {
            match o.get_mut("interpretation") {
                Some(Value::Array(list)) => {
                    if !list.contains(&interpretation) {
                        list.push(interpretation);
                    }
                }
                _ => {
                    o.insert("interpretation".into(), Value::Array(vec![interpretation]));
                }
            }
        }
    }

    fn add_category(&mut self, index: usize, domain: &Domain) {
        let c = domain_concept(domain);
        if let Some(Value::Array(list)) = self
            .observations
            .get_mut(index)
            .and_then(|o| o.get_mut("category"))
        {
            if !list.contains(&c) {
                list.push(c);
            }
        }
    }

    fn finish(mut self, mut members: Vec<String>, out: &mut Derived) {
        if self.instrument.is_sdoh() {
            self.apply_rules();
            if let Some(id) = self.food_risk() {
                members.push(id);
            }
            if matches!(self.instrument, Instrument::AhcHrsn) {
                if let Some(id) = self.safety() {
                    members.push(id);
                }
            }
        }
        let scale = match self.instrument {
            Instrument::Phq9 => Some(&PHQ9),
            Instrument::Phq2 => Some(&PHQ2),
            Instrument::Gad7 => Some(&GAD7),
            _ => None,
        };
        if let Some(scale) = scale {
            if let Some(id) = self.score(scale) {
                members.push(id);
            }
        }
        self.self_harm();
        // The panel.
        let mut resources = Vec::with_capacity(self.observations.len() + 4);
        if !members.is_empty() {
            let key = match self.panel_key.take() {
                Some(k) => k,
                None => self.key("panel".into(), "panel"),
            };
            let id = self.id(&key);
            let panel = self.instrument.panel_code();
            let mut o = self.observation(
                &id,
                code_concept(
                    panel,
                    Some(self.instrument.panel_display()),
                    Some(self.instrument.panel_display()),
                ),
                None,
            );
            o.insert(
                "derivedFrom".into(),
                Value::Array(vec![self.derived_from.clone()]),
            );
            o.insert("hasMember".into(), references(&members));
            resources.push(Value::Object(o));
        }
        let conditions = self.conditions();
        resources.extend(self.observations.into_iter().map(Value::Object));
        resources.extend(conditions);
        out.resources = resources;
        out.flags = self.flags;
        out.warnings.append(&mut self.warnings);
    }

    /// Positive answers: interpretation POS, the domain's category, and what they suggest.
    fn apply_rules(&mut self) {
        let mut hits = Vec::new();
        for item in &self.items {
            let Some(answer) = answer_code(item.answer) else {
                continue;
            };
            if let Some(rule) = rules::rule_for(&item.code, answer) {
                hits.push((item.index, item.id.clone(), rule));
            }
        }
        for (index, id, rule) in hits {
            self.add_interpretation(index, positive());
            self.add_category(index, &rule.domain);
            self.positives.push(Positive {
                domain: rule.domain,
                condition: rule.condition,
                observation: id,
            });
        }
    }

    /// HVS question 3: compared when given, computed when not. Returns the id of a computed one.
    fn food_risk(&mut self) -> Option<String> {
        let answers: Vec<(&str, String)> = HVS_ITEMS
            .iter()
            .filter_map(|code| {
                let item = self.item_with_code(code)?;
                Some((
                    answer_code(item.answer).unwrap_or_default(),
                    item.id.clone(),
                ))
            })
            .collect();
        if answers.is_empty() {
            return None;
        }
        let any_positive = answers.iter().any(|(a, _)| HVS_POSITIVE.contains(a));
        let both_negative =
            answers.len() == HVS_ITEMS.len() && answers.iter().all(|(a, _)| *a == HVS_NEGATIVE);
        let computed = if any_positive {
            Some(AT_RISK)
        } else if both_negative {
            Some(NO_RISK)
        } else {
            None
        };
        if let Some(given) = self.item_with_code(HVS_RISK.0) {
            let given_code = answer_code(given.answer);
            if let (Some(c), Some(g)) = (computed, given_code) {
                if c.0 != g {
                    self.warnings.push(format!(
                        "{}: the food insecurity risk given (88124-3) disagrees with HVS questions 1-2; the given answer is kept",
                        given.position
                    ));
                }
            }
            return None;
        }
        let (code, display) = computed?;
        let key = self.key(format!("finding|{}", HVS_RISK.0), "finding");
        let id = self.id(&key);
        let mut o = self.observation(
            &id,
            code_concept(HVS_RISK.0, Some(HVS_RISK.1), Some(HVS_RISK.1)),
            Some(HVS_RISK.0),
        );
        o.insert(
            "valueCodeableConcept".into(),
            obj([
                ("coding", Value::Array(vec![coding(LOINC, code, display)])),
                ("text", Value::from(display)),
            ]),
        );
        let mut derived = vec![self.derived_from.clone()];
        derived.extend(answers.iter().map(|(_, id)| reference(id)));
        o.insert("derivedFrom".into(), Value::Array(derived));
        if code == AT_RISK.0 {
            o.insert("interpretation".into(), Value::Array(vec![positive()]));
            self.positives.push(Positive {
                domain: rules::FOOD,
                condition: Some(rules::FOOD_INSECURITY),
                observation: id.clone(),
            });
        }
        self.observations.push(o);
        Some(id)
    }

    /// AHC HRSN questions 7-10: the total, compared or computed, and POS at 11 or more.
    fn safety(&mut self) -> Option<String> {
        let scores: Vec<Option<i64>> = SAFETY_ITEMS
            .iter()
            .map(|code| {
                let item = self.item_with_code(code)?;
                score_of(item.answer, &SAFETY_SCORES).filter(|s| (1..=5).contains(s))
            })
            .collect();
        let answered = scores.iter().filter(|s| s.is_some()).count();
        let sum: Option<i64> =
            (answered == SAFETY_ITEMS.len()).then(|| scores.iter().flatten().sum());
        if let Some(given) = self.item_with_code(SAFETY_TOTAL.0) {
            let (index, position) = (given.index, given.position.clone());
            let value = number_of(given.answer);
            if let (Some(s), Some(v)) = (sum, value) {
                if (s as f64 - v).abs() > f64::EPSILON {
                    self.warnings.push(format!(
                        "{position}: the safety total given (95614-4) differs from the sum of questions 7-10; the given total is kept"
                    ));
                }
            }
            if value.is_some_and(|v| v >= SAFETY_THRESHOLD as f64) {
                self.add_interpretation(index, positive());
            }
            return None;
        }
        if answered == 0 {
            return None;
        }
        let Some(sum) = sum else {
            self.warnings.push(
                "AHC HRSN safety questions 7-10 not all answered: no total computed (a partial sum would understate)".into(),
            );
            return None;
        };
        let key = self.key(format!("total|{}", SAFETY_TOTAL.0), "total");
        let id = self.id(&key);
        let mut o = self.observation(
            &id,
            code_concept(SAFETY_TOTAL.0, None, Some(SAFETY_TOTAL.1)),
            Some(SAFETY_TOTAL.0),
        );
        o.insert("valueQuantity".into(), score_quantity(Value::from(sum)));
        if sum >= SAFETY_THRESHOLD {
            o.insert("interpretation".into(), Value::Array(vec![positive()]));
            self.positives.push(Positive {
                domain: rules::INTERPERSONAL_SAFETY,
                condition: None,
                observation: id.clone(),
            });
        }
        let mut derived = vec![self.derived_from.clone()];
        for code in SAFETY_ITEMS {
            if let Some(item) = self.item_with_code(code) {
                derived.push(reference(&item.id));
            }
        }
        o.insert("derivedFrom".into(), Value::Array(derived));
        self.observations.push(o);
        Some(id)
    }

    /// PHQ-2, PHQ-9, GAD-7: the total (kept or computed) and its band.
    fn score(&mut self, scale: &Scale) -> Option<String> {
        let name = scale.instrument.name();
        let mut scores = Vec::with_capacity(scale.items.len());
        let mut unscored = 0;
        for code in scale.items {
            match self.item_with_code(code) {
                Some(item) => match score_of(item.answer, &rules::FREQUENCY_SCORES)
                    .filter(|s| (0..=3).contains(s))
                {
                    Some(s) => scores.push((s, item.id.clone())),
                    None => unscored += 1,
                },
                None => unscored += 1,
            }
        }
        let sum: Option<i64> = (unscored == 0).then(|| scores.iter().map(|(s, _)| s).sum());
        if let Some(given) = self.item_with_code(scale.total.0) {
            let (index, position, answer) = (given.index, given.position.clone(), given.answer);
            let value = number_of(answer);
            // A total item is a score: give its quantity the score unit.
            if let Some(o) = self.observations.get_mut(index) {
                if let Some(v) = total_value(answer) {
                    o.shift_remove("valueString");
                    o.insert("valueQuantity".into(), score_quantity(v));
                }
            }
            match value {
                Some(v) if v.fract() == 0.0 && (0.0..=scale.max as f64).contains(&v) => {
                    if let Some(s) = sum {
                        if s as f64 != v {
                            self.warnings.push(format!(
                                "{position}: the {name} total given differs from the sum of the item scores; the given total is kept"
                            ));
                        }
                    }
                    self.add_interpretation(index, band(scale, v as i64));
                }
                _ => self.warnings.push(format!(
                    "{position}: the {name} total given is not a whole number in the scale's range; no severity band"
                )),
            }
            return None;
        }
        let Some(sum) = sum else {
            if !scores.is_empty() || unscored < scale.items.len() {
                self.warnings.push(format!(
                    "{name}: {unscored} of {} scored items unanswered or unscorable: no total computed (a partial sum would understate)",
                    scale.items.len()
                ));
            } else {
                self.warnings.push(format!(
                    "{name}: no scored item answered: no total computed"
                ));
            }
            return None;
        };
        let key = self.key(format!("total|{}", scale.total.0), "total");
        let id = self.id(&key);
        let mut o = self.observation(
            &id,
            code_concept(scale.total.0, Some(scale.total.1), Some(scale.total.1)),
            Some(scale.total.0),
        );
        o.insert("valueQuantity".into(), score_quantity(Value::from(sum)));
        o.insert(
            "interpretation".into(),
            Value::Array(vec![band(scale, sum)]),
        );
        let mut derived = vec![self.derived_from.clone()];
        derived.extend(scores.iter().map(|(_, id)| reference(id)));
        o.insert("derivedFrom".into(), Value::Array(derived));
        self.observations.push(o);
        Some(id)
    }

    /// PHQ-9 item 9 other than "Not at all": flag, tag, POS.
    fn self_harm(&mut self) {
        let hits: Vec<(usize, String)> = self
            .items
            .iter()
            .filter(|i| i.code == PHQ9_ITEM9)
            .filter(|i| match answer_code(i.answer) {
                Some(code) => code != NOT_AT_ALL,
                // No LOINC answer: any score above 0, or anything unscorable, counts: a missed
                // risk costs more than a second look.
                None => score_of(i.answer, &rules::FREQUENCY_SCORES) != Some(0),
            })
            .map(|i| (i.index, i.id.clone()))
            .collect();
        for (index, id) in hits {
            self.add_interpretation(index, positive());
            if let Some(Value::Object(meta)) = self
                .observations
                .get_mut(index)
                .and_then(|o| o.get_mut("meta"))
            {
                if let Some(Value::Array(tags)) = meta.get_mut("tag") {
                    tags.push(coding(
                        FLAGS_SYSTEM,
                        FlagKind::SelfHarmRisk.code(),
                        "Self-harm risk",
                    ));
                }
            }
            self.flags.push(Flag {
                kind: FlagKind::SelfHarmRisk,
                resource: format!("Observation/{id}"),
            });
        }
    }

    /// One Condition per suggested concept, evidence the positive Observations.
    fn conditions(&mut self) -> Vec<Value> {
        let mut order: Vec<rules::ConditionCode> = Vec::new();
        for p in &self.positives {
            if let Some(c) = p.condition {
                if !order.contains(&c) {
                    order.push(c);
                }
            }
        }
        let mut out = Vec::with_capacity(order.len());
        for concept_code in order {
            let evidence: Vec<&Positive> = self
                .positives
                .iter()
                .filter(|p| p.condition == Some(concept_code))
                .collect();
            let mut domains: Vec<Domain> = Vec::new();
            for p in &evidence {
                if !domains.contains(&p.domain) {
                    domains.push(p.domain);
                }
            }
            let refs: Vec<String> = evidence.iter().map(|p| p.observation.clone()).collect();
            let key = self.key(format!("condition|{}", concept_code.0), "condition");
            let id = self.id(&key);
            let mut c = Map::with_capacity(14);
            c.insert("resourceType".into(), Value::from("Condition"));
            c.insert("id".into(), Value::from(id));
            c.insert("meta".into(), derived_meta());
            c.insert(
                "clinicalStatus".into(),
                concept(
                    "http://terminology.hl7.org/CodeSystem/condition-clinical",
                    "active",
                    "Active",
                ),
            );
            c.insert(
                "verificationStatus".into(),
                concept(
                    "http://terminology.hl7.org/CodeSystem/condition-ver-status",
                    "unconfirmed",
                    "Unconfirmed",
                ),
            );
            let mut categories = vec![
                concept(
                    "http://hl7.org/fhir/us/core/CodeSystem/condition-category",
                    "health-concern",
                    "Health Concern",
                ),
                concept(US_CORE_CATEGORY, "sdoh", "SDOH"),
            ];
            categories.extend(domains.iter().map(domain_concept));
            c.insert("category".into(), Value::Array(categories));
            c.insert(
                "code".into(),
                obj([
                    (
                        "coding",
                        Value::Array(vec![coding(SNOMED, concept_code.0, concept_code.1)]),
                    ),
                    ("text", Value::from(concept_code.1)),
                ]),
            );
            c.insert("subject".into(), self.subject.clone());
            if let Some(e) = &self.encounter {
                c.insert("encounter".into(), e.clone());
            }
            if let Some(e) = &self.effective {
                c.insert("onsetPeriod".into(), obj([("start", e.clone())]));
            }
            c.insert(
                "evidence".into(),
                Value::Array(vec![obj([("detail", references(&refs))])]),
            );
            out.push(Value::Object(c));
        }
        out
    }
}

/// `{"coding": [{LOINC code}], "text": …}` of an item or panel.
fn code_concept(code: &str, display: Option<&str>, text: Option<&str>) -> Value {
    let mut c = Map::with_capacity(3);
    c.insert("system".into(), Value::from(LOINC));
    c.insert("code".into(), Value::from(code));
    if let Some(d) = display.filter(|d| fhir_string(d)) {
        c.insert("display".into(), Value::from(d));
    }
    let mut cc = Map::with_capacity(2);
    cc.insert("coding".into(), Value::Array(vec![Value::Object(c)]));
    if let Some(t) = text.filter(|t| fhir_string(t)) {
        cc.insert("text".into(), Value::from(t));
    }
    Value::Object(cc)
}

fn domain_concept(d: &Domain) -> Value {
    let mut c = match concept(SDOHCC_CATEGORY, d.code, d.display) {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    if let Some(t) = d.text {
        c.insert("text".into(), Value::from(t));
    }
    Value::Object(c)
}

fn positive() -> Value {
    concept(POS_SYSTEM, "POS", "Positive")
}

fn band(scale: &Scale, total: i64) -> Value {
    let (_, code, display, text) = scale
        .bands
        .iter()
        .rev()
        .find(|(min, ..)| total >= *min)
        .copied()
        .unwrap_or(scale.bands[0]);
    obj([
        (
            "coding",
            Value::Array(vec![coding(SCORE_BAND_SYSTEM, code, display)]),
        ),
        ("text", Value::from(text)),
    ])
}

fn reference(id: &str) -> Value {
    obj([("reference", Value::from(format!("Observation/{id}")))])
}

fn references(ids: &[String]) -> Value {
    Value::Array(ids.iter().map(|id| reference(id)).collect())
}

fn score_quantity(value: Value) -> Value {
    obj([
        ("value", value),
        ("unit", Value::from("{score}")),
        ("system", Value::from("http://unitsofmeasure.org")),
        ("code", Value::from("{score}")),
    ])
}

/// The LOINC (or system-less) answer code of an answer.
fn answer_code(answer: &Value) -> Option<&str> {
    let coding = answer.get("valueCoding")?;
    match coding.get("system").and_then(Value::as_str) {
        None | Some(LOINC) => coding.get("code").and_then(Value::as_str),
        Some(_) => None,
    }
}

/// A numeric answer (integer, decimal, quantity, or a string holding a number).
fn number_of(answer: &Value) -> Option<f64> {
    let v = answer
        .get("valueInteger")
        .or_else(|| answer.get("valueDecimal"))
        .or_else(|| answer.get("valueQuantity").and_then(|q| q.get("value")))?;
    match v {
        Value::Number(n) => n.as_f64().filter(|f| f.is_finite()),
        _ => None,
    }
    .or_else(|| {
        answer
            .get("valueString")
            .and_then(Value::as_str)
            .and_then(|s| s.trim().parse::<f64>().ok())
            .filter(|f| f.is_finite())
    })
}

/// A total item's value as a JSON number, as written.
fn total_value(answer: &Value) -> Option<Value> {
    for key in ["valueInteger", "valueDecimal"] {
        if let Some(Value::Number(n)) = answer.get(key) {
            return Some(Value::Number(n.clone()));
        }
    }
    if let Some(Value::Number(n)) = answer.get("valueQuantity").and_then(|q| q.get("value")) {
        return Some(Value::Number(n.clone()));
    }
    let s = answer.get("valueString").and_then(Value::as_str)?.trim();
    let n: serde_json::Number = s.parse().ok()?;
    Some(Value::Number(n))
}

/// An answer's score: its LOINC answer code in `table`, else an `ordinalValue`/`itemWeight`
/// extension (on the answer or its coding), else an integer answer.
fn score_of(answer: &Value, table: &[(&str, i64)]) -> Option<i64> {
    if let Some(code) = answer_code(answer) {
        if let Some((_, s)) = table.iter().find(|(c, _)| *c == code) {
            return Some(*s);
        }
    }
    let weight = |holder: Option<&Value>| -> Option<i64> {
        holder?
            .get("extension")?
            .as_array()?
            .iter()
            .find(|e| {
                matches!(
                    e.get("url").and_then(Value::as_str),
                    Some(
                        "http://hl7.org/fhir/StructureDefinition/ordinalValue"
                            | "http://hl7.org/fhir/StructureDefinition/itemWeight"
                            | "http://hl7.org/fhir/StructureDefinition/iso21090-CO-value"
                    )
                )
            })
            .and_then(|e| e.get("valueDecimal").or_else(|| e.get("valueInteger")))
            .and_then(whole)
    };
    weight(answer.get("valueCoding"))
        .or_else(|| weight(Some(answer)))
        .or_else(|| answer.get("valueInteger").and_then(whole))
}

fn whole(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64().or_else(|| {
            n.as_f64()
                .filter(|f| f.fract() == 0.0 && f.abs() < 1e9)
                .map(|f| f as i64)
        }),
        _ => None,
    }
}

/// The Observation value of an answer: element name and value; `None` when it has none that
/// an Observation can hold (attachment, reference, uri) or is malformed.
fn answer_value(answer: &Value, _item_code: &str) -> Option<(&'static str, Value)> {
    let answer = answer.as_object()?;
    if let Some(c) = answer.get("valueCoding") {
        let coding = clean_coding(c)?;
        let text = coding.get("display").cloned();
        let mut cc = Map::with_capacity(2);
        cc.insert("coding".into(), Value::Array(vec![Value::Object(coding)]));
        if let Some(t) = text {
            cc.insert("text".into(), t);
        }
        return Some(("valueCodeableConcept", Value::Object(cc)));
    }
    if let Some(Value::Number(n)) = answer.get("valueInteger") {
        return Some(("valueQuantity", obj([("value", Value::Number(n.clone()))])));
    }
    if let Some(Value::Number(n)) = answer.get("valueDecimal") {
        return Some(("valueQuantity", obj([("value", Value::Number(n.clone()))])));
    }
    if let Some(Value::String(s)) = answer.get("valueString") {
        return fhir_string(s).then(|| ("valueString", Value::from(s.as_str())));
    }
    if let Some(Value::Bool(b)) = answer.get("valueBoolean") {
        return Some(("valueBoolean", Value::Bool(*b)));
    }
    for key in ["valueDate", "valueDateTime"] {
        if let Some(Value::String(s)) = answer.get(key) {
            return salus_fhir::date::parse_range(s)
                .is_some()
                .then(|| ("valueDateTime", Value::from(s.as_str())));
        }
    }
    if let Some(Value::String(s)) = answer.get("valueTime") {
        let ok = s.len() >= 8
            && s.bytes().enumerate().all(|(i, b)| match i {
                2 | 5 => b == b':',
                8 => b == b'.',
                _ => b.is_ascii_digit(),
            });
        return ok.then(|| ("valueTime", Value::from(s.as_str())));
    }
    if let Some(q) = answer.get("valueQuantity").and_then(Value::as_object) {
        let mut out = Map::new();
        if let Some(Value::Number(n)) = q.get("value") {
            out.insert("value".into(), Value::Number(n.clone()));
        }
        type Check = fn(&str) -> bool;
        let checks: [(&str, Check); 3] = [
            ("unit", fhir_string),
            ("system", fhir_uri),
            ("code", fhir_code),
        ];
        for (key, ok) in checks {
            if let Some(text) = q.get(key).and_then(Value::as_str).filter(|t| ok(t)) {
                out.insert(key.into(), Value::from(text));
            }
        }
        return (!out.is_empty()).then_some(("valueQuantity", Value::Object(out)));
    }
    None
}

/// A coding rebuilt from the parts FHIR allows, with their types checked: an answer's coding
/// is copied into the Observation, which must validate whatever the response held.
fn clean_coding(c: &Value) -> Option<Map<String, Value>> {
    let c = c.as_object()?;
    let mut out = Map::with_capacity(4);
    let text = |key: &str| {
        c.get(key)
            .and_then(Value::as_str)
            .filter(|s| fhir_string(s))
    };
    let weight = c
        .get("extension")
        .and_then(Value::as_array)
        .and_then(|e| {
            e.iter().find(|x| {
                matches!(
                    x.get("url").and_then(Value::as_str),
                    Some(
                        "http://hl7.org/fhir/StructureDefinition/itemWeight"
                            | "http://hl7.org/fhir/StructureDefinition/ordinalValue"
                    )
                )
            })
        })
        .and_then(|x| {
            let url = x.get("url")?.as_str()?;
            let Value::Number(n) = x.get("valueDecimal")? else {
                return None;
            };
            Some(obj([
                ("url", Value::from(url)),
                ("valueDecimal", Value::Number(n.clone())),
            ]))
        });
    if let Some(w) = weight {
        out.insert("extension".into(), Value::Array(vec![w]));
    }
    if let Some(s) = c
        .get("system")
        .and_then(Value::as_str)
        .filter(|s| fhir_uri(s))
    {
        out.insert("system".into(), Value::from(s));
    }
    if let Some(v) = text("version") {
        out.insert("version".into(), Value::from(v));
    }
    let code = c
        .get("code")
        .and_then(Value::as_str)
        .filter(|s| fhir_code(s));
    if let Some(code) = code {
        out.insert("code".into(), Value::from(code));
    }
    if let Some(d) = text("display") {
        out.insert("display".into(), Value::from(d));
    }
    (code.is_some() || out.contains_key("display")).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loinc_check_digits() {
        for good in [
            "44261-6", "88122-7", "93043-8", "1-8", "71802-3", "96777-8", "69737-5",
        ] {
            assert!(is_loinc(good), "{good}");
        }
        for bad in [
            "44261-5",
            "1-1",
            "abc-1",
            "-1",
            "12345678-9",
            "4426-16",
            "44261",
        ] {
            assert!(!is_loinc(bad), "{bad}");
        }
    }
}
