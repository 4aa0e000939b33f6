//! The Observation every observation-like entry becomes (results, vital signs, social
//! history, assessments), and the parts other mappers share (values, statuses, the
//! encounter an entry belongs to, ids that survive a sender's reused ids).
//!
//! | C-CDA | FHIR Observation | Notes |
//! |---|---|---|
//! | `id` | `identifier`, `id` | see [`Ctx::push`](crate::Ctx::push) for ids a document reuses |
//! | `statusCode` | `status` | table below |
//! | `code` | `code` | without a code, the entry's `text` (narrative) as `code.text`; without either, not mapped |
//! | `effectiveTime` | `effectiveDateTime` / `effectivePeriod` | a period whose start and end are equal is a dateTime (C-CDA on FHIR); without one, the enclosing organizer's time; never invented |
//! | `value` | `value[x]` | table below; a `value nullFlavor` is `dataAbsentReason` |
//! | `interpretationCode` | `interpretation` | a code without a system is taken as v3 ObservationInterpretation |
//! | `methodCode`, `targetSiteCode` | `method`, `bodySite` | |
//! | `author`, `performer` | `performer` | Practitioners |
//! | `referenceRange/observationRange` | `referenceRange` | `low`/`high` of an IVL_PQ or IVL_INT, its text; an `N` interpretation as type `normal` |
//!
//! | `value` xsi:type | `value[x]` |
//! |---|---|
//! | PQ | Quantity |
//! | IVL_PQ, IVL_INT | Range |
//! | CD, CE, CV, CO | CodeableConcept (an answer's numeric score, written as a second INT `value` or as a numeric translation, is the coding's `ordinalValue` extension) |
//! | ST, ED, SC | string (a `<reference>` resolved to narrative) |
//! | INT | integer |
//! | REAL | Quantity without a unit (R4 has no valueDecimal) |
//! | BL | boolean |
//! | TS, IVL_TS | dateTime, Period |
//! | RTO, RTO_PQ_PQ, RTO_INT_INT | Ratio |
//!
//! | `statusCode` | `status` |
//! |---|---|
//! | completed | final |
//! | active | preliminary with a value, registered without one (C-CDA on FHIR maps active to registered: nothing reported yet) |
//! | aborted, cancelled | cancelled |
//! | held, suspended, new | registered |
//! | nullified | entered-in-error |
//! | obsolete, other | unknown |
//! | none | the caller's default: `final` for templates whose status C-CDA fixes to completed (vital signs, social history, assessments), `unknown` for results |
//!
//! A negated observation (`negationInd="true"`: "not found") is not mapped: FHIR Observation
//! has no negation, and without it the resource would say the opposite. An observation that is
//! not an event (`moodCode` other than EVN) is a plan or a goal, not an Observation.
//!
//! # Encounter
//!
//! A C-CDA entry does not say which encounter it belongs to; a document with an
//! `encompassingEncounter` is about that encounter, but a summary (a CCD) also carries results
//! from years before. So an observation gets `encounter` only when its date falls within the
//! document encounter's period (by day); Microsoft's converter sets none. Requests and care
//! plans in a plan section were made in the document's encounter and take it as it is.

use roxmltree::Node;
use serde_json::{json, Map, Value};

use crate::ctx::Ctx;
use crate::datatypes::{decimal, integer, put_array, TimeKind};
use crate::sections::{author_ref, negated, performer_refs, status_code};
use crate::xml::El;

pub const OBSERVATION_CATEGORY: &str = "http://terminology.hl7.org/CodeSystem/observation-category";
pub const US_CORE_CATEGORY: &str = "http://hl7.org/fhir/us/core/CodeSystem/us-core-category";
pub const US_CORE: &str = "http://hl7.org/fhir/us/core/StructureDefinition";
pub const ORDINAL_VALUE: &str = "http://hl7.org/fhir/StructureDefinition/ordinalValue";
const INTERPRETATION: &str = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation";
const ABSENT: &str = "http://terminology.hl7.org/CodeSystem/data-absent-reason";
const LOINC: &str = "2.16.840.1.113883.6.1";
const ICD10CM: &str = "2.16.840.1.113883.6.90";

/// An `observation-category` CodeableConcept (`laboratory`, `vital-signs`, `survey` …).
pub fn category(code: &str) -> Value {
    json!({"coding": [{"system": OBSERVATION_CATEGORY, "code": code}]})
}

/// A US Core category CodeableConcept (`sdoh`, `functional-status`, `cognitive-status`).
pub fn us_core_category(code: &str) -> Value {
    json!({"coding": [{"system": US_CORE_CATEGORY, "code": code}]})
}

/// How one kind of observation is mapped.
#[derive(Clone)]
pub struct Spec<'a, 'i> {
    pub categories: Vec<Value>,
    /// The profile URL, when the observation claims one.
    pub profile: Option<String>,
    /// The status when `statusCode` is missing.
    pub missing_status: &'static str,
    /// `effectiveTime` `low`/`high` as a Period even without an end: in social history a
    /// `low` alone means "since" (a habit that started then), not "observed then".
    pub interval: bool,
    /// The enclosing organizer or scale, whose `effectiveTime` an observation without one
    /// takes (the document states it for the whole group).
    pub group: Option<Node<'a, 'i>>,
}

impl<'a, 'i> Spec<'a, 'i> {
    pub fn new(category_code: &str) -> Self {
        Spec {
            categories: vec![category(category_code)],
            profile: None,
            missing_status: "final",
            interval: false,
            group: None,
        }
    }

    pub fn profile(mut self, profile: &str) -> Self {
        self.profile = Some(profile.to_owned());
        self
    }

    pub fn in_group(mut self, group: Node<'a, 'i>) -> Self {
        self.group = Some(group);
        self
    }
}

/// Map an observation with one category (and optionally a profile) and add it. `None` (with
/// the entry reported as skipped) when it cannot be an Observation.
pub fn map_observation(
    ctx: &mut Ctx,
    el: Node,
    category_code: &str,
    profile: Option<&str>,
) -> Option<String> {
    let mut spec = Spec::new(category_code);
    spec.profile = profile.map(str::to_owned);
    let obs = build(ctx, el, &spec)?;
    Some(ctx.push(Value::Object(obs), el))
}

/// The Observation for `el`, not yet added (callers add `hasMember`, codings, categories).
/// `None` when it cannot be one; the reason is reported as a skip.
pub fn build(ctx: &mut Ctx, el: Node, spec: &Spec) -> Option<Map<String, Value>> {
    if el.tag_name().name() != "observation" {
        ctx.skip(
            el,
            "the entry is not an observation; not mapped as an Observation",
        );
        return None;
    }
    if negated(el) {
        ctx.skip(
            el,
            "the observation is negated (negationInd): FHIR Observation cannot say \"not found\", so it is not mapped",
        );
        return None;
    }
    if !matches!(el.attr("moodCode"), None | Some("EVN")) {
        ctx.skip(
            el,
            "the observation is not an event (moodCode is not EVN); not mapped as an Observation",
        );
        return None;
    }
    let Some(code) = code_of(ctx, el) else {
        ctx.skip(el, "the observation has no code; not mapped");
        return None;
    };
    let mut o = Map::new();
    o.insert("resourceType".into(), json!("Observation"));
    o.insert("id".into(), json!(ctx.resource_id("Observation", el)));
    if let Some(p) = &spec.profile {
        o.insert("meta".into(), json!({"profile": [p]}));
    }
    let ids = ctx.identifiers(el);
    put_array(&mut o, "identifier", ids);
    let value = observation_value(ctx, el);
    let has_value = matches!(value, Some(ObsValue::Value(..)));
    let status = observation_status(status_code(el), has_value, spec.missing_status);
    o.insert("status".into(), json!(status));
    if !spec.categories.is_empty() {
        o.insert("category".into(), Value::Array(spec.categories.clone()));
    }
    o.insert("code".into(), code);
    o.insert("subject".into(), json!({"reference": ctx.patient}));
    let time = el
        .child("effectiveTime")
        .filter(|t| has_time(*t))
        .or_else(|| {
            spec.group
                .and_then(|g| g.child("effectiveTime"))
                .filter(|t| has_time(*t))
        });
    let effective = time.and_then(|t| effective(ctx, t, spec.interval));
    let start = effective.as_ref().and_then(|(_, v)| start_of(v));
    if let Some(e) = encounter_for(ctx, start.as_deref()) {
        o.insert("encounter".into(), json!({"reference": e}));
    }
    if let Some((kind, v)) = effective {
        o.insert(format!("effective{kind}"), v);
    }
    let performers = performers(ctx, el);
    put_array(&mut o, "performer", performers);
    match value {
        Some(ObsValue::Value(kind, v)) => {
            o.insert(format!("value{kind}"), v);
        }
        Some(ObsValue::Absent(reason)) => {
            o.insert(
                "dataAbsentReason".into(),
                json!({"coding": [{"system": ABSENT, "code": reason}]}),
            );
        }
        None => {}
    }
    let interpretations: Vec<Value> = el
        .children_named("interpretationCode")
        .filter_map(|c| interpretation(ctx, c))
        .collect();
    put_array(&mut o, "interpretation", interpretations);
    if let Some(s) = el.child("targetSiteCode").and_then(|c| ctx.concept(c)) {
        o.insert("bodySite".into(), s);
    }
    if let Some(m) = el.child("methodCode").and_then(|c| ctx.concept(c)) {
        o.insert("method".into(), m);
    }
    let ranges = reference_ranges(ctx, el);
    put_array(&mut o, "referenceRange", ranges);
    Some(o)
}

/// The entry's code as a CodeableConcept, else its narrative text as `code.text`.
pub fn code_of(ctx: &Ctx, el: Node) -> Option<Value> {
    el.child("code").and_then(|c| ctx.concept(c)).or_else(|| {
        el.child("text")
            .and_then(|t| ctx.text_of(t))
            .map(|t| json!({"text": t}))
    })
}

/// `statusCode` → Observation.status (see the module table).
pub fn observation_status(
    code: Option<&str>,
    has_value: bool,
    missing: &'static str,
) -> &'static str {
    match code {
        None => missing,
        Some("completed") => "final",
        Some("active") if has_value => "preliminary",
        Some("active") => "registered",
        Some("aborted" | "cancelled") => "cancelled",
        Some("held" | "suspended" | "new") => "registered",
        Some("nullified") => "entered-in-error",
        Some(_) => "unknown",
    }
}

fn has_time(t: Node) -> bool {
    t.attr("value").is_some()
        || ["low", "high", "center"]
            .iter()
            .any(|n| t.child(n).is_some_and(|c| c.attr("value").is_some()))
}

/// An effectiveTime as `effective[x]`: a point as a dateTime, an interval as a Period, a
/// Period whose start and end are the same instant as a dateTime. With `interval`, a `low`
/// alone stays a Period (start only).
pub fn effective(ctx: &mut Ctx, et: Node, interval: bool) -> Option<(&'static str, Value)> {
    let ranged = et.child("low").is_some() || et.child("high").is_some();
    let (kind, value) = if interval && ranged {
        ("Period", ctx.period(et)?)
    } else {
        ctx.effective(et)?
    };
    if kind == "Period" {
        if let (Some(s), Some(e)) = (value.get("start"), value.get("end")) {
            if s == e {
                return Some(("DateTime", s.clone()));
            }
        }
    }
    Some((kind, value))
}

/// The start of an `effective[x]` value (a dateTime, or a Period's start).
pub fn start_of(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Object(p) => p.get("start").and_then(Value::as_str).map(str::to_owned),
        _ => None,
    }
}

/// The document's encounter, when the date (a FHIR date or dateTime) falls within its period
/// by day. Dates kept to the year or month do not place an entry in an encounter.
pub fn encounter_for(ctx: &mut Ctx, date: Option<&str>) -> Option<String> {
    let day = date?.get(..10)?;
    let reference = ctx.encounter.clone()?;
    let period = ctx.resource_mut(&reference)?.get("period")?.clone();
    let start = period.get("start").and_then(Value::as_str)?.get(..10)?;
    if day < start {
        return None;
    }
    if let Some(end) = period.get("end").and_then(Value::as_str) {
        if day > end.get(..10)? {
            return None;
        }
    }
    Some(reference)
}

/// Who made the observation: its authors and performers, as Practitioners.
pub fn performers(ctx: &mut Ctx, el: Node) -> Vec<Value> {
    let mut refs: Vec<String> = Vec::new();
    if let Some(a) = author_ref(ctx, el) {
        refs.push(a);
    }
    for r in performer_refs(ctx, el) {
        if !refs.contains(&r) {
            refs.push(r);
        }
    }
    refs.into_iter().map(|r| json!({"reference": r})).collect()
}

fn interpretation(ctx: &Ctx, code: Node) -> Option<Value> {
    let mut c = ctx.concept(code)?;
    // Documents often leave the system out of a code that can only be an interpretation.
    if let Some(Value::Object(first)) = c.get_mut("coding").and_then(|cs| cs.get_mut(0)) {
        first
            .entry("system")
            .or_insert_with(|| json!(INTERPRETATION));
    }
    Some(c)
}

/// `referenceRange/observationRange` → `referenceRange`.
pub fn reference_ranges(ctx: &mut Ctx, el: Node) -> Vec<Value> {
    let mut out = Vec::new();
    for range in el
        .children_named("referenceRange")
        .filter_map(|r| r.child("observationRange"))
    {
        let mut r = Map::new();
        if let Some(v) = range.child("value") {
            for side in ["low", "high"] {
                if let Some(q) = v
                    .child(side)
                    .filter(|n| n.null_flavor().is_none())
                    .and_then(|n| ctx.quantity(n))
                {
                    r.insert(side.into(), q);
                }
            }
        }
        if range
            .child("interpretationCode")
            .and_then(|c| c.attr("code"))
            == Some("N")
        {
            r.insert(
                "type".into(),
                json!({"coding": [{
                    "system": "http://terminology.hl7.org/CodeSystem/referencerange-meaning",
                    "code": "normal",
                    "display": "Normal Range"
                }]}),
            );
        }
        if let Some(t) = range.child("text").and_then(|t| ctx.text_of(t)) {
            r.insert("text".into(), json!(t));
        }
        // FHIR requires low, high or text (ref-1).
        if r.contains_key("low") || r.contains_key("high") || r.contains_key("text") {
            out.push(Value::Object(r));
        }
    }
    out
}

/// What an observation's `value` elements say.
pub enum ObsValue {
    /// `value[x]` suffix (`Quantity`, `CodeableConcept` …) and the value.
    Value(&'static str, Value),
    /// A data-absent-reason code, from a `nullFlavor`.
    Absent(&'static str),
}

fn is_coded(v: Node) -> bool {
    match v.xsi_type() {
        Some(t) => matches!(t, "CD" | "CE" | "CV" | "CO" | "CS"),
        None => v.attr("code").is_some(),
    }
}

/// The value of an observation: the coded one when there is one (with the numeric score of
/// an answer as its ordinal), else the first that maps.
pub fn observation_value(ctx: &mut Ctx, el: Node) -> Option<ObsValue> {
    let values: Vec<Node> = el.children_named("value").collect();
    if values.is_empty() {
        return None;
    }
    let score = values
        .iter()
        .find(|v| matches!(v.xsi_type(), Some("INT" | "REAL")) && v.null_flavor().is_none())
        .and_then(|v| v.attr("value"))
        .and_then(decimal);
    if let Some(coded) = values.iter().find(|v| is_coded(**v)) {
        if let Some(c) = answer_concept(ctx, *coded, score.clone()) {
            return Some(ObsValue::Value("CodeableConcept", c));
        }
    }
    let mut absent = None;
    for v in &values {
        if let Some((kind, value)) = typed_value(ctx, *v) {
            return Some(ObsValue::Value(kind, value));
        }
        if absent.is_none() {
            absent = v.null_flavor().map(absent_reason);
        }
    }
    absent.map(ObsValue::Absent)
}

/// A coded answer: its concept with numeric "codes" (a score written as a translation) taken
/// out of the codings and kept as the first coding's `ordinalValue`, or `score` when given.
pub fn answer_concept(ctx: &Ctx, v: Node, score: Option<Value>) -> Option<Value> {
    let mut c = ctx.concept(v)?;
    let mut ordinal = score;
    if let Some(Value::Array(codings)) = c.get_mut("coding") {
        let mut kept = Vec::new();
        for (i, coding) in std::mem::take(codings).into_iter().enumerate() {
            let numeric = coding.get("code").and_then(Value::as_str).and_then(decimal);
            match numeric {
                Some(n) if i > 0 => {
                    ordinal.get_or_insert(n);
                }
                _ => kept.push(coding),
            }
        }
        *codings = kept;
        if let (Some(n), Some(Value::Object(first))) = (ordinal, codings.get_mut(0)) {
            first.insert(
                "extension".into(),
                json!([{"url": ORDINAL_VALUE, "valueDecimal": n}]),
            );
        }
    }
    Some(c)
}

/// One `value` element as a typed FHIR value: (`value[x]` suffix, value). `None` for a
/// nullFlavor value, or a type FHIR has no place for (warned).
pub fn typed_value(ctx: &mut Ctx, v: Node) -> Option<(&'static str, Value)> {
    let kind = v.xsi_type().map(str::to_owned).unwrap_or_else(|| {
        if v.attr("code").is_some() {
            "CD".into()
        } else if v.attr("unit").is_some() || v.attr("value").is_some_and(|x| decimal(x).is_some())
        {
            "PQ".into()
        } else {
            "ST".into()
        }
    });
    if v.null_flavor().is_some() && !is_coded(v) {
        return None;
    }
    match kind.as_str() {
        "PQ" => ctx
            .quantity(v)
            .filter(|q| q.get("value").is_some())
            .map(|q| ("Quantity", q)),
        "IVL_PQ" | "IVL_INT" | "IVL_REAL" => {
            let mut r = Map::new();
            for side in ["low", "high"] {
                if let Some(q) = v
                    .child(side)
                    .filter(|n| n.null_flavor().is_none())
                    .and_then(|n| ctx.quantity(n))
                {
                    r.insert(side.into(), q);
                }
            }
            (!r.is_empty()).then_some(("Range", Value::Object(r)))
        }
        "CD" | "CE" | "CV" | "CO" | "CS" => ctx.concept(v).map(|c| ("CodeableConcept", c)),
        "ST" | "ED" | "SC" => ctx.text_of(v).map(|t| ("String", json!(t))),
        "INT" => match v.attr("value").map(|x| (x, integer(x))) {
            Some((_, Some(n))) => Some(("Integer", n)),
            Some((_, None)) => {
                ctx.warn(v, "the INT value is not an integer; left out");
                None
            }
            None => None,
        },
        "REAL" => match v.attr("value").map(decimal) {
            Some(Some(n)) => Some(("Quantity", json!({"value": n}))),
            Some(None) => {
                ctx.warn(v, "the REAL value is not a decimal number; left out");
                None
            }
            None => None,
        },
        "BL" => match v.attr("value") {
            Some("true") => Some(("Boolean", json!(true))),
            Some("false") => Some(("Boolean", json!(false))),
            _ => None,
        },
        "TS" => ctx
            .time(v, TimeKind::DateTime)
            .map(|t| ("DateTime", json!(t))),
        "IVL_TS" => ctx.period(v).map(|p| ("Period", p)),
        "RTO" | "RTO_PQ_PQ" | "RTO_INT_INT" | "RTO_MO_PQ" => {
            let mut r = Map::new();
            for part in ["numerator", "denominator"] {
                if let Some(q) = v.child(part).and_then(|n| ctx.quantity(n)) {
                    r.insert(part.into(), q);
                }
            }
            (!r.is_empty()).then_some(("Ratio", Value::Object(r)))
        }
        _ => {
            ctx.warn(
                v,
                "the value's type is not one FHIR Observation.value takes; left out",
            );
            None
        }
    }
}

/// A v3 nullFlavor → data-absent-reason code.
pub fn absent_reason(nf: &str) -> &'static str {
    match nf {
        "ASKU" => "asked-unknown",
        "NAV" => "temp-unknown",
        "NASK" => "not-asked",
        "MSK" => "masked",
        "NA" => "not-applicable",
        "OTH" => "unsupported",
        "NINF" => "negative-infinity",
        "PINF" => "positive-infinity",
        "NP" => "not-performed",
        _ => "unknown",
    }
}

/// LOINC codes of social-determinants-of-health screenings and observations (Gravity
/// Project: food, housing, transportation, finances, safety, social connection, stress).
const SDOH_LOINC: &[&str] = &[
    "88121-9", "88122-7", "88123-5", "88124-3", // Hunger Vital Sign
    "93025-5", // PRAPARE
    "96777-8", "96778-6", // AHC HRSN
    "71802-3", "93033-9", "93030-5", "93031-3", "93026-3", "93027-1", "93028-9", "93029-7",
    "76513-1", "63586-2", "93038-8", "93159-2", "95618-5", "95617-7", "95616-9", "95615-1",
    "95614-4", "97027-7", "96779-4", "96780-2", "96781-0", "96782-8", "93035-4", "93034-7",
    "93032-1", "93677-3", "76437-3", "93039-6", "93040-4", "93041-2", "93042-0", "93043-8",
    "69858-9", "69861-3", "77594-0", "88211-8", "88212-6",
];

/// Whether a code (`code`, `value`, translations) is a social determinant of health: a
/// Gravity LOINC screening code, an ICD-10-CM Z55-Z65 code, or a code from an SDOH code system.
pub fn is_sdoh_code(c: Node) -> bool {
    std::iter::once(c)
        .chain(c.children_named("translation"))
        .any(|c| {
            let (Some(code), system) = (c.attr("code"), c.attr("codeSystem").unwrap_or("")) else {
                return false;
            };
            match system {
                LOINC => SDOH_LOINC.contains(&code),
                ICD10CM => code
                    .strip_prefix('Z')
                    .and_then(|r| r.get(..2))
                    .and_then(|n| n.parse::<u8>().ok())
                    .is_some_and(|n| (55..=65).contains(&n)),
                s => s.to_ascii_lowercase().contains("sdoh"),
            }
        })
}

/// Whether an observation's code or values are SDOH.
pub fn is_sdoh(el: Node) -> bool {
    el.child("code").is_some_and(is_sdoh_code) || el.children_named("value").any(is_sdoh_code)
}

/// Add a category to a resource map's `category` array, once.
pub fn add_category(o: &mut Map<String, Value>, c: Value) {
    let cats = o
        .entry("category")
        .or_insert_with(|| Value::Array(Vec::new()));
    if let Value::Array(a) = cats {
        if !a.contains(&c) {
            a.push(c);
        }
    }
}

/// Add a coding to a CodeableConcept (the required code of a profile next to the document's),
/// first, unless a coding with that code is already there.
pub fn add_coding(concept: &mut Value, system: &str, code: &str, display: &str) {
    let Some(obj) = concept.as_object_mut() else {
        return;
    };
    let codings = obj
        .entry("coding")
        .or_insert_with(|| Value::Array(Vec::new()));
    if let Value::Array(a) = codings {
        if a.iter().any(|c| c["system"] == system && c["code"] == code) {
            return;
        }
        a.insert(
            0,
            json!({"system": system, "code": code, "display": display}),
        );
    }
}

/// The first LOINC code of a CodeableConcept.
pub fn loinc_code(concept: &Value) -> Option<&str> {
    concept
        .get("coding")?
        .as_array()?
        .iter()
        .find(|c| c["system"] == "http://loinc.org")
        .and_then(|c| c["code"].as_str())
        .map(str::trim)
}

#[cfg(test)]
pub(crate) mod test_doc {
    //! Small documents for the section tests.

    use serde_json::Value;

    use crate::{map_bytes, Limits, MapOptions, Mapped};

    /// A document with one section (`code` its LOINC code), its narrative and its entries.
    pub fn document(section_code: &str, text: &str, entries: &str) -> String {
        document_with(
            "",
            &format!(
                r#"<component><section><code code="{section_code}" codeSystem="2.16.840.1.113883.6.1"/><title>S</title><text>{text}</text>{entries}</section></component>"#
            ),
        )
    }

    /// A document with `header` after the recordTarget (an author, a componentOf …) and the
    /// given body components.
    pub fn document_with(header: &str, components: &str) -> String {
        format!(
            r#"<?xml version="1.0"?>
<ClinicalDocument xmlns="urn:hl7-org:v3" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:sdtc="urn:hl7-org:sdtc">
  <templateId root="2.16.840.1.113883.10.20.22.1.1" extension="2015-08-01"/>
  <id root="1.2.3.4" extension="doc-1"/>
  <code code="34133-9" codeSystem="2.16.840.1.113883.6.1"/>
  <effectiveTime value="20200101120000-0500"/>
  <recordTarget><patientRole><id root="1.2.3.4.5" extension="p-1"/>
    <patient><name><given>A</given><family>B</family></name>
      <administrativeGenderCode code="F" codeSystem="2.16.840.1.113883.5.1"/>
      <birthTime value="19800101"/></patient></patientRole></recordTarget>
  {header}
  <component><structuredBody>{components}</structuredBody></component>
</ClinicalDocument>"#
        )
    }

    pub fn map(xml: &str) -> Mapped {
        map_bytes(xml.as_bytes(), &Limits::default(), &MapOptions::default())
            .expect("the test document maps")
    }

    /// The resources of one type, in output order.
    pub fn of_type<'m>(m: &'m Mapped, kind: &str) -> Vec<&'m Value> {
        m.resources
            .iter()
            .map(|r| &r.resource)
            .filter(|r| r["resourceType"] == kind)
            .collect()
    }

    /// The resource a reference (`Type/id`) names.
    pub fn resolve<'m>(m: &'m Mapped, reference: &str) -> Option<&'m Value> {
        let (kind, id) = reference.split_once('/')?;
        m.resources
            .iter()
            .map(|r| &r.resource)
            .find(|r| r["resourceType"] == kind && r["id"] == id)
    }

    /// Every resource is valid FHIR R4 (by the JSON schema).
    pub fn assert_valid(m: &Mapped) {
        for r in &m.resources {
            if let Err(issues) = salus_fhir::schema::validate(&r.resource) {
                panic!("invalid {}: {issues:?}", r.resource);
            }
        }
    }

    /// The ids of every resource, for idempotence checks.
    pub fn ids(m: &Mapped) -> Vec<String> {
        m.resources
            .iter()
            .map(|r| format!("{}/{}", r.resource["resourceType"], r.resource["id"]))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::test_doc::*;
    use serde_json::json;

    const OBS: &str = r#"<entry><observation classCode="OBS" moodCode="EVN">
      <templateId root="2.16.840.1.113883.10.20.22.4.2"/>
      <id root="11111111-1111-1111-1111-111111111111"/>
      <code code="2345-7" codeSystem="2.16.840.1.113883.6.1" displayName="Glucose"/>
      <statusCode code="completed"/>
      <effectiveTime value="20200101101500-0500"/>
      <value xsi:type="IVL_PQ"><low value="70" unit="mg/dL"/><high value="99.5" unit="mg/dL"/></value>
      <interpretationCode code="H"/>
      <referenceRange><observationRange><text>70-99</text>
        <value xsi:type="IVL_PQ"><low value="70" unit="mg/dL"/><high value="99" unit="mg/dL"/></value>
        <interpretationCode code="N" codeSystem="2.16.840.1.113883.5.83"/></observationRange></referenceRange>
    </observation></entry>"#;

    #[test]
    fn values_ranges_and_interpretations() {
        let m = map(&document("30954-2", "", OBS));
        assert_valid(&m);
        let o = of_type(&m, "Observation");
        assert_eq!(o.len(), 1);
        let o = o[0];
        assert_eq!(o["valueRange"]["low"]["value"], json!(70));
        assert_eq!(o["valueRange"]["high"]["code"], "mg/dL");
        assert_eq!(
            o["interpretation"][0]["coding"][0]["system"],
            "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
        );
        assert_eq!(o["referenceRange"][0]["text"], "70-99");
        assert_eq!(o["referenceRange"][0]["high"]["value"], json!(99));
        assert_eq!(
            o["referenceRange"][0]["type"]["coding"][0]["code"],
            "normal"
        );
        assert_eq!(o["effectiveDateTime"], "2020-01-01T10:15:00-05:00");
    }

    #[test]
    fn statuses() {
        use super::observation_status as s;
        assert_eq!(s(Some("completed"), true, "unknown"), "final");
        assert_eq!(s(Some("active"), true, "unknown"), "preliminary");
        assert_eq!(s(Some("active"), false, "unknown"), "registered");
        assert_eq!(s(Some("nullified"), true, "unknown"), "entered-in-error");
        assert_eq!(s(Some("aborted"), true, "unknown"), "cancelled");
        assert_eq!(s(None, true, "final"), "final");
        assert_eq!(s(Some("bogus"), true, "final"), "unknown");
    }

    #[test]
    fn typed_values() {
        let entries = r#"
          <entry><observation classCode="OBS" moodCode="EVN"><code code="a" codeSystem="1.2"/><statusCode code="completed"/><value xsi:type="BL" value="true"/></observation></entry>
          <entry><observation classCode="OBS" moodCode="EVN"><code code="b" codeSystem="1.2"/><statusCode code="completed"/><value xsi:type="RTO_PQ_PQ"><numerator value="1" unit="mg"/><denominator value="2" unit="mL"/></value></observation></entry>
          <entry><observation classCode="OBS" moodCode="EVN"><code code="c" codeSystem="1.2"/><statusCode code="completed"/><value xsi:type="ST">free <b>text</b></value></observation></entry>
          <entry><observation classCode="OBS" moodCode="EVN"><code code="d" codeSystem="1.2"/><statusCode code="completed"/><value xsi:type="PQ" nullFlavor="ASKU"/></observation></entry>
          <entry><observation classCode="OBS" moodCode="EVN"><code code="e" codeSystem="1.2"/><statusCode code="completed"/><value xsi:type="REAL" value="1.50"/></observation></entry>
          <entry><observation classCode="OBS" moodCode="EVN"><code code="f" codeSystem="1.2"/><statusCode code="completed"/><value xsi:type="TS" value="20200101"/></observation></entry>
          <entry><observation classCode="OBS" moodCode="EVN" negationInd="true"><code code="g" codeSystem="1.2"/><value xsi:type="BL" value="true"/></observation></entry>
        "#;
        let m = map(&document("30954-2", "", entries));
        assert_valid(&m);
        let o = of_type(&m, "Observation");
        assert_eq!(o.len(), 6, "the negated observation is not mapped");
        assert_eq!(o[0]["valueBoolean"], json!(true));
        assert_eq!(o[1]["valueRatio"]["denominator"]["unit"], "mL");
        assert_eq!(o[2]["valueString"], "free");
        assert_eq!(
            o[3]["dataAbsentReason"]["coding"][0]["code"],
            "asked-unknown"
        );
        assert_eq!(o[4]["valueQuantity"]["value"].to_string(), "1.50");
        assert_eq!(o[5]["valueDateTime"], "2020-01-01");
        assert!(m.skipped.iter().any(|s| s.reason.contains("negated")));
    }

    #[test]
    fn reused_ids_are_not_dropped_and_ids_are_stable() {
        let twice = format!("{OBS}{}", OBS.replace("2345-7", "2339-0"));
        let xml = document("30954-2", "", &twice);
        let m = map(&xml);
        let o = of_type(&m, "Observation");
        assert_eq!(o.len(), 2);
        assert_ne!(o[0]["id"], o[1]["id"]);
        assert!(m.warnings.iter().any(|w| w.reason.contains("id")));
        assert_eq!(ids(&m), ids(&map(&xml)));
        // The same entry twice is one resource.
        let same = format!("{OBS}{OBS}");
        assert_eq!(
            of_type(&map(&document("30954-2", "", &same)), "Observation").len(),
            1
        );
    }

    /// The sample documents next to the repository (when present) map without a panic, and
    /// every resource of the kinds these sections make is valid FHIR R4.
    #[test]
    fn sample_documents_are_valid() {
        let dir = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../../shared/fixtures/external/ccda/microsoft-fhir-converter/input"
        );
        let Ok(entries) = std::fs::read_dir(dir) else {
            return; // the fixtures are not part of the repository
        };
        for e in entries.flatten() {
            let Ok(bytes) = std::fs::read(e.path()) else {
                continue;
            };
            let Ok(m) = crate::map_bytes(
                &bytes,
                &crate::Limits::default(),
                &crate::MapOptions::default(),
            ) else {
                continue;
            };
            for r in &m.resources {
                let kind = r.resource["resourceType"].as_str().unwrap_or_default();
                if matches!(
                    kind,
                    "Observation" | "DiagnosticReport" | "Goal" | "ServiceRequest" | "CarePlan"
                ) {
                    if let Err(issues) = salus_fhir::schema::validate(&r.resource) {
                        panic!("{:?}: invalid {kind}: {issues:?}", e.path());
                    }
                }
            }
        }
    }

    #[test]
    fn encounter_only_within_its_period() {
        let header = r#"<componentOf><encompassingEncounter><id root="9.9" extension="e1"/>
          <effectiveTime><low value="20200101"/><high value="20200102"/></effectiveTime></encompassingEncounter></componentOf>"#;
        let late = OBS.replace("20200101101500-0500", "20210101");
        let body = format!(
            r#"<component><section><code code="30954-2" codeSystem="2.16.840.1.113883.6.1"/>{OBS}{}</section></component>"#,
            late.replace("11111111-1111", "22222222-2222")
        );
        let m = map(&document_with(header, &body));
        let o = of_type(&m, "Observation");
        let enc = of_type(&m, "Encounter")[0]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        assert_eq!(o[0]["encounter"]["reference"], format!("Encounter/{enc}"));
        assert!(o[1].get("encounter").is_none());
    }
}
