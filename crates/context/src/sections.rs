//! The summary's sections, in clinical priority, each a list of cited statements.
//!
//! Every statement is built from the elements of the resources it cites and nothing else: no
//! inference is written as fact. Each section orders its items by importance; `cap` is how
//! many are shown one by one before the rest is summarised in a line.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Datelike, Utc};
use serde_json::Value;

use salus_labels::{ICD10CM, LOINC, SNOMED};

use crate::clinical::{self, Measure};
use crate::json::{
    category_has, clinical_date, clinical_instant, codings, concept_text, format_number,
    has_coding, instant, numeric_value, quantity_text, reference_display, reference_of,
    status_code, str_at, value_text,
};

/// One statement and the resources it states.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    pub text: String,
    pub cite: Vec<String>,
    /// What several such items are called, for a summary line ("PHQ-9 results").
    pub group: String,
    /// A score, for a summary of a trend.
    pub score: Option<f64>,
    /// When it happened, for a summary's span (as displayed).
    pub date: Option<String>,
}

/// A section before the budget is applied.
#[derive(Debug, Clone)]
pub struct Draft {
    pub title: &'static str,
    pub items: Vec<Item>,
    /// Items shown one by one; the rest go into a summary line.
    pub cap: usize,
    /// Items are newest first (summaries say "earlier"), or in importance order ("more").
    pub in_time: bool,
    /// Resources the section chose not to state (older values of a result already shown).
    pub superseded: Vec<String>,
}

impl Draft {
    /// A section whose items are all shown one by one, in importance order.
    fn whole(title: &'static str, items: Vec<Item>) -> Draft {
        Draft {
            title,
            items,
            cap: usize::MAX,
            in_time: false,
            superseded: vec![],
        }
    }
}

/// How dates are written: absolute with a relative hint, or relative only (de-identified).
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    pub now: DateTime<Utc>,
    pub relative_only: bool,
}

impl Clock {
    /// A FHIR date as the summary writes it.
    pub fn when(&self, text: &str) -> String {
        let Some(at) = instant(text) else {
            return if self.relative_only {
                "at an unknown time".to_owned()
            } else {
                text.to_owned()
            };
        };
        let relative = relative(self.now, at);
        if self.relative_only {
            relative
        } else {
            let day = text.get(..10).unwrap_or(text);
            format!("{day} ({relative})")
        }
    }

    /// The span of two dates (oldest first).
    fn span(&self, oldest: &str, newest: &str) -> String {
        if self.relative_only {
            format!("{} to {}", self.when(oldest), self.when(newest))
        } else {
            format!(
                "{} to {}",
                oldest.get(..10).unwrap_or(oldest),
                newest.get(..10).unwrap_or(newest)
            )
        }
    }
}

/// "3 weeks ago", "in 2 days", "today".
pub fn relative(now: DateTime<Utc>, at: DateTime<Utc>) -> String {
    let days = (now - at).num_days();
    let (n, future) = if days < 0 {
        (-days, true)
    } else {
        (days, false)
    };
    let (count, unit) = match n {
        0 => return "today".to_owned(),
        1..=13 => (n, "day"),
        14..=59 => (n / 7, "week"),
        60..=729 => (n / 30, "month"),
        _ => (n / 365, "year"),
    };
    let unit = if count == 1 {
        unit.to_owned()
    } else {
        format!("{unit}s")
    };
    if future {
        format!("in {count} {unit}")
    } else {
        format!("{count} {unit} ago")
    }
}

fn item(text: String, cite: Vec<String>, group: &str) -> Item {
    Item {
        text,
        cite,
        group: group.to_owned(),
        score: None,
        date: None,
    }
}

/// What the builder needs to know beyond the resources.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    pub clock: Clock,
    pub include_name: bool,
}

/// Resources by type, each once, with the Patient apart.
pub struct Record<'a> {
    pub patient: Option<&'a Value>,
    by_type: HashMap<&'a str, Vec<&'a Value>>,
}

impl<'a> Record<'a> {
    pub fn new(resources: &'a [Value]) -> Self {
        let mut by_type: HashMap<&str, Vec<&Value>> = HashMap::new();
        let mut patient = None;
        for r in resources {
            let Some(t) = str_at(r, "resourceType") else {
                continue;
            };
            if t == "Patient" && patient.is_none() {
                patient = Some(r);
            }
            by_type.entry(t).or_default().push(r);
        }
        Record { patient, by_type }
    }

    fn of(&self, resource_type: &str) -> &[&'a Value] {
        self.by_type
            .get(resource_type)
            .map_or(&[], |v| v.as_slice())
    }
}

/// Every section, in clinical priority.
pub fn drafts(record: &Record<'_>, options: &Options) -> Vec<Draft> {
    let clock = options.clock;
    let observations = classify_observations(record);
    // Sorted once: the encounters and the care team both read them newest first.
    let mut by_date: Vec<&Value> = record.of("Encounter").to_vec();
    newest_first(&mut by_date);
    vec![
        safety(record, &observations, clock),
        demographics(record, options),
        problems(record, clock),
        medications(record, clock),
        allergies(record, clock),
        measures(&observations, clock),
        encounters(&by_date, clock),
        social(record, &observations, clock),
        results(&observations, clock),
        care_team(record, &by_date, clock),
        goals(record, clock),
    ]
}

/// Observations sorted into the sections that state them.
struct Observations<'a> {
    /// Totals per measure, newest first.
    measures: Vec<(Measure, Vec<(&'a Value, f64)>)>,
    item9: Vec<&'a Value>,
    social: Vec<&'a Value>,
    results: Vec<&'a Value>,
    /// Suicide-risk observations.
    risk: Vec<&'a Value>,
}

fn newest_first(values: &mut [&Value]) {
    // Cached: parsing a date per comparison was a visible cost for thousands of resources.
    values.sort_by_cached_key(|r| std::cmp::Reverse(clinical_instant(r)));
}

fn is_usable(resource: &Value) -> bool {
    !matches!(
        str_at(resource, "status"),
        Some("entered-in-error") | Some("cancelled")
    )
}

fn classify_observations<'a>(record: &Record<'a>) -> Observations<'a> {
    let mut measures: Vec<(Measure, Vec<(&Value, f64)>)> = clinical::MEASURES
        .iter()
        .map(|m| (*m, Vec::new()))
        .collect();
    let (mut item9, mut social, mut results, mut risk) = (vec![], vec![], vec![], vec![]);
    for obs in record.of("Observation") {
        if !is_usable(obs) {
            continue;
        }
        let code = obs.get("code").unwrap_or(&Value::Null);
        if let Some((_, list)) = measures
            .iter_mut()
            .find(|(m, _)| has_coding(code, LOINC, m.total_code))
        {
            if let Some(score) = numeric_value(obs) {
                list.push((obs, score));
            }
            continue;
        }
        if has_coding(code, LOINC, clinical::PHQ9_ITEM9) {
            item9.push(*obs);
            continue;
        }
        if clinical::is_suicide_risk(code) {
            risk.push(*obs);
            continue;
        }
        if clinical::is_social_category(obs)
            || codings(code).any(|(s, c)| s == LOINC && clinical::SDOH_LOINC.contains(&c))
        {
            social.push(*obs);
            continue;
        }
        if category_has(obs, "category", "laboratory")
            || category_has(obs, "category", "vital-signs")
        {
            results.push(*obs);
        }
    }
    for (_, list) in &mut measures {
        list.sort_by_cached_key(|(r, _)| std::cmp::Reverse(clinical_instant(r)));
    }
    newest_first(&mut item9);
    newest_first(&mut social);
    newest_first(&mut results);
    newest_first(&mut risk);
    Observations {
        measures,
        item9,
        social,
        results,
        risk,
    }
}

fn cite(resource: &Value) -> Vec<String> {
    reference_of(resource).into_iter().collect()
}

fn within_days(resource: &Value, clock: Clock, days: i64) -> bool {
    clinical_instant(resource).is_some_and(|at| (clock.now - at).num_days() <= days)
}

/// The score of a PHQ item answer: a LOINC answer code or a number.
fn item_score(obs: &Value) -> Option<f64> {
    if let Some(n) = numeric_value(obs) {
        return Some(n);
    }
    let concept = obs.get("valueCodeableConcept")?;
    codings(concept).find_map(|(_, code)| {
        clinical::PHQ_ANSWERS
            .iter()
            .find(|(answer, _)| *answer == code)
            .map(|(_, score)| *score)
    })
}

fn is_active_condition(c: &Value) -> bool {
    let clinical_status = status_code(c, "clinicalStatus");
    let verification = status_code(c, "verificationStatus");
    if matches!(verification, Some("refuted") | Some("entered-in-error")) {
        return false;
    }
    match clinical_status {
        Some(s) => matches!(s, "active" | "recurrence" | "relapse"),
        None => c.get("abatementDateTime").is_none() && c.get("abatementPeriod").is_none(),
    }
}

fn safety(record: &Record<'_>, obs: &Observations<'_>, clock: Clock) -> Draft {
    let mut items = Vec::new();
    // A positive PHQ-9 item 9 in the last 90 days: the most urgent statement a summary makes.
    for o in &obs.item9 {
        if !within_days(o, clock, 90) {
            continue;
        }
        let Some(score) = item_score(o) else { continue };
        if score <= 0.0 {
            continue;
        }
        let answer = o
            .get("valueCodeableConcept")
            .and_then(concept_text)
            .unwrap_or_else(|| format_number(score));
        let when = clinical_date(o).map(|d| clock.when(d)).unwrap_or_default();
        items.push(item(
            format!(
                "PHQ-9 item 9 (thoughts of being better off dead or of self-harm) positive: {answer} (score {}), {when}",
                format_number(score)
            ),
            cite(o),
            "safety findings",
        ));
    }
    for o in &obs.risk {
        if !within_days(o, clock, 90) {
            continue;
        }
        let what = o.get("code").and_then(concept_text).unwrap_or_default();
        let value = value_text(o).map(|v| format!(": {v}")).unwrap_or_default();
        let when = clinical_date(o).map(|d| clock.when(d)).unwrap_or_default();
        items.push(item(
            format!("Suicide-risk finding: {what}{value}, {when}"),
            cite(o),
            "safety findings",
        ));
    }
    for c in record.of("Condition") {
        let code = c.get("code").unwrap_or(&Value::Null);
        if !clinical::is_suicide_risk(code) {
            continue;
        }
        let recent = within_days(c, clock, 90);
        if !(recent || is_active_condition(c)) {
            continue;
        }
        let what = concept_text(code).unwrap_or_default();
        let status = status_code(c, "clinicalStatus").unwrap_or("recorded");
        let when = clinical_date(c).map(|d| clock.when(d)).unwrap_or_default();
        items.push(item(
            format!("Suicide-risk condition ({status}): {what}, {when}"),
            cite(c),
            "safety findings",
        ));
    }
    Draft::whole("Safety", items)
}

fn demographics(record: &Record<'_>, options: &Options) -> Draft {
    let mut items = Vec::new();
    if let Some(p) = record.patient {
        let mut parts = Vec::new();
        if options.include_name {
            if let Some(name) = patient_name(p) {
                parts.push(format!("Name: {name}"));
            }
        }
        if let Some(birth) = str_at(p, "birthDate").and_then(instant) {
            let age = age_in_years(birth, options.clock.now);
            parts.push(if options.clock.relative_only && age > 89 {
                "Age: 90 or older".to_owned()
            } else {
                format!("Age: {age}")
            });
        }
        if let Some(gender) = str_at(p, "gender") {
            parts.push(format!("Sex: {gender}"));
        }
        if let Some(language) = preferred_language(p) {
            parts.push(format!("Language: {language}"));
        }
        if p.get("deceasedBoolean").and_then(Value::as_bool) == Some(true)
            || p.get("deceasedDateTime").is_some()
        {
            parts.push("Deceased".to_owned());
        }
        if !parts.is_empty() {
            items.push(item(parts.join("; "), cite(p), "demographic facts"));
        }
    }
    Draft::whole("Demographics", items)
}

fn age_in_years(birth: DateTime<Utc>, now: DateTime<Utc>) -> i32 {
    let mut age = now.year() - birth.year();
    if (now.month(), now.day()) < (birth.month(), birth.day()) {
        age -= 1;
    }
    age.max(0)
}

fn patient_name(p: &Value) -> Option<String> {
    let names = p.get("name")?.as_array()?;
    let name = names
        .iter()
        .find(|n| str_at(n, "use") == Some("official"))
        .or_else(|| names.first())?;
    if let Some(text) = str_at(name, "text") {
        return Some(text.to_owned());
    }
    let given: Vec<&str> = name
        .get("given")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    let family = str_at(name, "family").unwrap_or_default();
    let full = format!("{} {family}", given.join(" "));
    let full = full.trim();
    (!full.is_empty()).then(|| full.to_owned())
}

fn preferred_language(p: &Value) -> Option<String> {
    let comms = p.get("communication")?.as_array()?;
    let chosen = comms
        .iter()
        .find(|c| c.get("preferred").and_then(Value::as_bool) == Some(true))
        .or_else(|| comms.first())?;
    chosen.get("language").and_then(concept_text)
}

/// Whether a resource carries a mental-health sensitivity label (from the labeller or the
/// source): such items lead their section in a mental-health service.
fn is_mental_health(resource: &Value) -> bool {
    use salus_labels::{has_label, ACT_CODE, MH, PSY};
    has_label(resource, ACT_CODE, PSY) || has_label(resource, ACT_CODE, MH)
}

/// A code to show beside a name: ICD-10-CM first, then SNOMED CT.
fn shown_code(concept: &Value) -> Option<String> {
    let all: Vec<(&str, &str)> = codings(concept).collect();
    all.iter()
        .find(|(s, _)| *s == ICD10CM)
        .map(|(_, c)| format!("ICD-10-CM {c}"))
        .or_else(|| {
            all.iter()
                .find(|(s, _)| *s == SNOMED)
                .map(|(_, c)| format!("SNOMED CT {c}"))
        })
}

fn mental_health_then_newest(mut list: Vec<&Value>) -> Vec<&Value> {
    list.sort_by_cached_key(|r| (!is_mental_health(r), std::cmp::Reverse(clinical_instant(r))));
    list
}

fn is_social_condition(c: &Value) -> bool {
    let code = c.get("code").unwrap_or(&Value::Null);
    category_has(c, "category", "sdoh")
        || codings(code).any(|(s, c)| s == SNOMED && clinical::SOCIAL_FINDINGS_SNOMED.contains(&c))
}

fn problems(record: &Record<'_>, clock: Clock) -> Draft {
    let active: Vec<&Value> = record
        .of("Condition")
        .iter()
        .copied()
        .filter(|c| is_active_condition(c) && !is_social_condition(c))
        .collect();
    let items = mental_health_then_newest(active)
        .into_iter()
        .map(|c| {
            let code = c.get("code").unwrap_or(&Value::Null);
            let mut text = concept_text(code).unwrap_or_else(|| "Unnamed condition".to_owned());
            if let Some(shown) = shown_code(code) {
                text.push_str(&format!(" ({shown})"));
            }
            if let Some(v) = status_code(c, "verificationStatus") {
                if matches!(v, "provisional" | "differential" | "unconfirmed") {
                    text.push_str(&format!(", {v}"));
                }
            }
            if let Some(onset) = str_at(c, "onsetDateTime")
                .or_else(|| c.pointer("/onsetPeriod/start").and_then(Value::as_str))
                .or_else(|| str_at(c, "recordedDate"))
            {
                text.push_str(&format!(", since {}", clock.when(onset)));
            }
            item(text, cite(c), "active problems")
        })
        .collect();
    Draft::whole("Active problems", items)
}

fn medication_name(m: &Value) -> String {
    m.get("medicationCodeableConcept")
        .and_then(concept_text)
        .or_else(|| {
            m.get("medicationReference")
                .and_then(reference_display)
                .map(str::to_owned)
        })
        .unwrap_or_else(|| "Unnamed medication".to_owned())
}

/// A dosage in words: its text, else dose, frequency and as-needed.
fn dosage_text(dosage: &Value) -> Option<String> {
    if let Some(text) = str_at(dosage, "text") {
        return Some(text.trim().trim_end_matches('.').to_owned());
    }
    let mut parts = Vec::new();
    if let Some(dose) = dosage
        .pointer("/doseAndRate/0/doseQuantity")
        .and_then(quantity_text)
    {
        parts.push(format!("dose {dose}"));
    }
    if let Some(repeat) = dosage.pointer("/timing/repeat") {
        let frequency = repeat.get("frequency").and_then(Value::as_f64);
        let period = repeat.get("period").and_then(Value::as_f64);
        let unit = str_at(repeat, "periodUnit");
        if let (Some(f), Some(p), Some(u)) = (frequency, period, unit) {
            parts.push(frequency_text(f, p, u));
        }
    }
    if dosage.get("asNeededBoolean").and_then(Value::as_bool) == Some(true)
        || dosage.get("asNeededCodeableConcept").is_some()
    {
        parts.push("as needed".to_owned());
    }
    (!parts.is_empty()).then(|| parts.join(", "))
}

fn frequency_text(frequency: f64, period: f64, unit: &str) -> String {
    let unit_word = match unit {
        "s" => "second",
        "min" => "minute",
        "h" => "hour",
        "d" => "day",
        "wk" => "week",
        "mo" => "month",
        "a" => "year",
        other => other,
    };
    let times = match frequency as i64 {
        1 => "once".to_owned(),
        2 => "twice".to_owned(),
        n => format!("{n} times"),
    };
    if period == 1.0 {
        let per = match unit {
            "d" => "daily".to_owned(),
            "wk" => "weekly".to_owned(),
            "mo" => "monthly".to_owned(),
            _ => format!("a {unit_word}"),
        };
        format!("{times} {per}")
    } else {
        format!("{times} every {} {unit_word}s", format_number(period))
    }
}

fn medications(record: &Record<'_>, clock: Clock) -> Draft {
    let requests = record.of("MedicationRequest").iter().filter(|m| {
        str_at(m, "status") == Some("active")
            && !matches!(str_at(m, "intent"), Some("proposal") | Some("option"))
    });
    let statements = record
        .of("MedicationStatement")
        .iter()
        .filter(|m| matches!(str_at(m, "status"), Some("active") | Some("intended")));
    let active: Vec<&Value> = requests.chain(statements).copied().collect();
    let items = mental_health_then_newest(active)
        .into_iter()
        .map(|m| {
            let mut text = medication_name(m);
            let dosage = m
                .pointer("/dosageInstruction/0")
                .or_else(|| m.pointer("/dosage/0"))
                .and_then(dosage_text);
            if let Some(d) = dosage {
                text.push_str(&format!(": {d}"));
            }
            if let Some(start) = str_at(m, "authoredOn")
                .or_else(|| m.pointer("/effectivePeriod/start").and_then(Value::as_str))
                .or_else(|| str_at(m, "effectiveDateTime"))
            {
                let verb = if str_at(m, "resourceType") == Some("MedicationRequest") {
                    "prescribed"
                } else {
                    "taken since"
                };
                text.push_str(&format!(", {verb} {}", clock.when(start)));
            }
            item(text, cite(m), "active medications")
        })
        .collect();
    Draft::whole("Active medications", items)
}

fn allergies(record: &Record<'_>, clock: Clock) -> Draft {
    let mut active: Vec<&Value> = record
        .of("AllergyIntolerance")
        .iter()
        .copied()
        .filter(|a| {
            !matches!(
                status_code(a, "verificationStatus"),
                Some("refuted") | Some("entered-in-error")
            ) && matches!(status_code(a, "clinicalStatus"), None | Some("active"))
        })
        .collect();
    // High criticality first.
    active.sort_by_key(|a| str_at(a, "criticality") != Some("high"));
    let items = active
        .into_iter()
        .map(|a| {
            let mut text = a
                .get("code")
                .and_then(concept_text)
                .unwrap_or_else(|| "Unnamed substance".to_owned());
            let mut notes = Vec::new();
            if let Some(kind) = a
                .get("category")
                .and_then(Value::as_array)
                .and_then(|c| c.first())
                .and_then(Value::as_str)
            {
                notes.push(kind.to_owned());
            }
            if let Some(t) = str_at(a, "type") {
                notes.push(t.to_owned());
            }
            if let Some(c) = str_at(a, "criticality") {
                notes.push(format!("criticality {c}"));
            }
            if status_code(a, "verificationStatus") == Some("unconfirmed") {
                notes.push("unconfirmed".to_owned());
            }
            if !notes.is_empty() {
                text.push_str(&format!(" ({})", notes.join(", ")));
            }
            let reactions: Vec<String> = a
                .get("reaction")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .flat_map(|r| {
                    r.get("manifestation")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                        .filter_map(concept_text)
                })
                .collect();
            if !reactions.is_empty() {
                text.push_str(&format!(": reaction {}", reactions.join(", ")));
            }
            if let Some(d) = str_at(a, "onsetDateTime").or_else(|| str_at(a, "recordedDate")) {
                text.push_str(&format!(", recorded {}", clock.when(d)));
            }
            item(text, cite(a), "allergies")
        })
        .collect();
    Draft::whole("Allergies", items)
}

/// Per measure: a trend line (latest score and band, first score, direction), then each
/// earlier score, newest first.
fn measures(obs: &Observations<'_>, clock: Clock) -> Draft {
    let mut leads = Vec::new();
    let mut history: Vec<(Option<DateTime<Utc>>, Item)> = Vec::new();
    for (measure, results) in &obs.measures {
        let Some(((latest, latest_score), rest)) = results.split_first() else {
            continue;
        };
        let when = clinical_date(latest)
            .map(|d| clock.when(d))
            .unwrap_or_default();
        let mut text = format!(
            "{} ({}): latest {} ({}) {when}",
            measure.name,
            measure.construct,
            format_number(*latest_score),
            measure.band(*latest_score)
        );
        let mut cites = cite(latest);
        if let Some((first, first_score)) = rest.last() {
            let change = latest_score - first_score;
            let direction = if change.abs() < measure.meaningful_change {
                "little changed"
            } else if change < 0.0 {
                "improved"
            } else {
                "worsened"
            };
            let first_when = clinical_date(first)
                .map(|d| clock.when(d))
                .unwrap_or_default();
            text.push_str(&format!(
                "; {} results, first {} ({}) {first_when}: {direction}",
                results.len(),
                format_number(*first_score),
                measure.band(*first_score)
            ));
            cites.extend(cite(first));
        }
        let mut lead = item(text, cites, &format!("{} results", measure.name));
        lead.score = Some(*latest_score);
        leads.push(lead);
        // The first result is stated in the lead already.
        let middle = &rest[..rest.len().saturating_sub(1)];
        for (o, score) in middle {
            let date = clinical_date(o).map(str::to_owned);
            let when = date.as_deref().map(|d| clock.when(d)).unwrap_or_default();
            let mut i = item(
                format!(
                    "{} {} ({}) {when}",
                    measure.name,
                    format_number(*score),
                    measure.band(*score)
                ),
                cite(o),
                &format!("{} results", measure.name),
            );
            i.score = Some(*score);
            i.date = date;
            history.push((clinical_instant(o), i));
        }
    }
    history.sort_by_key(|(at, _)| std::cmp::Reverse(*at));
    let cap = leads.len() + 8;
    let mut items = leads;
    items.extend(history.into_iter().map(|(_, i)| i));
    Draft {
        title: "Mental-health measures",
        items,
        cap,
        in_time: true,
        superseded: vec![],
    }
}

fn encounters(newest_first: &[&Value], clock: Clock) -> Draft {
    let list: Vec<&Value> = newest_first
        .iter()
        .copied()
        .filter(|e| is_usable(e))
        .collect();
    const SHOWN: usize = 8;
    let items = list
        .into_iter()
        .enumerate()
        .map(|(n, e)| {
            let date = clinical_date(e).map(str::to_owned);
            if n >= SHOWN {
                // Beyond the cap only the summary line's count and span are stated.
                let mut i = item(String::new(), cite(e), "encounters");
                i.date = date;
                return i;
            }
            let when = date.as_deref().map(|d| clock.when(d)).unwrap_or_default();
            let kind = e
                .get("type")
                .and_then(Value::as_array)
                .and_then(|t| t.first())
                .and_then(concept_text)
                .unwrap_or_else(|| "Encounter".to_owned());
            let class = e
                .get("class")
                .and_then(|c| str_at(c, "display").or_else(|| str_at(c, "code")));
            let mut text = format!("{when}: {kind}");
            if let Some(c) = class {
                text.push_str(&format!(" ({c})"));
            }
            let reasons: Vec<String> = e
                .get("reasonCode")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(concept_text)
                .collect();
            if !reasons.is_empty() {
                text.push_str(&format!(", reason: {}", reasons.join(", ")));
            }
            let mut i = item(text, cite(e), "encounters");
            i.date = date;
            i
        })
        .collect();
    Draft {
        title: "Recent encounters",
        items,
        cap: SHOWN,
        in_time: true,
        superseded: vec![],
    }
}

/// The newest of each code; the older ones are superseded.
fn latest_per_code<'a>(sorted_newest_first: &[&'a Value]) -> (Vec<&'a Value>, Vec<String>) {
    let mut seen = HashSet::new();
    let mut latest = Vec::new();
    let mut superseded = Vec::new();
    for o in sorted_newest_first {
        let key = o
            .get("code")
            .and_then(|c| codings(c).next().map(|(s, c)| format!("{s}|{c}")))
            .or_else(|| o.get("code").and_then(concept_text));
        let first = key.is_none_or(|k| seen.insert(k));
        if first {
            latest.push(*o);
        } else {
            superseded.extend(cite(o));
        }
    }
    (latest, superseded)
}

fn observation_text(o: &Value, clock: Clock) -> String {
    let name = o
        .get("code")
        .and_then(concept_text)
        .unwrap_or_else(|| "Observation".to_owned());
    let mut value = value_text(o);
    if value.is_none() {
        let parts: Vec<String> = o
            .get("component")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|c| {
                Some(format!(
                    "{} {}",
                    c.get("code").and_then(concept_text)?,
                    value_text(c)?
                ))
            })
            .collect();
        if !parts.is_empty() {
            value = Some(parts.join(", "));
        }
    }
    let flag = o
        .get("interpretation")
        .and_then(Value::as_array)
        .and_then(|i| i.first())
        .and_then(concept_text)
        .map(|f| format!(" ({f})"))
        .unwrap_or_default();
    let when = clinical_date(o).map(|d| clock.when(d)).unwrap_or_default();
    match value {
        Some(v) => format!("{name}: {v}{flag}, {when}"),
        None => format!("{name}{flag}, {when}"),
    }
}

fn social(record: &Record<'_>, obs: &Observations<'_>, clock: Clock) -> Draft {
    let (latest, superseded) = latest_per_code(&obs.social);
    let mut dated: Vec<(Option<DateTime<Utc>>, Item)> = latest
        .into_iter()
        .map(|o| {
            let mut i = item(observation_text(o, clock), cite(o), "social findings");
            i.date = clinical_date(o).map(str::to_owned);
            (clinical_instant(o), i)
        })
        .collect();
    for c in record.of("Condition") {
        if !(is_social_condition(c) && is_active_condition(c)) {
            continue;
        }
        let name = c
            .get("code")
            .and_then(concept_text)
            .unwrap_or_else(|| "Social finding".to_owned());
        let since = clinical_date(c)
            .map(|d| format!(", since {}", clock.when(d)))
            .unwrap_or_default();
        let mut i = item(format!("{name}{since}"), cite(c), "social findings");
        i.date = clinical_date(c).map(str::to_owned);
        dated.push((clinical_instant(c), i));
    }
    dated.sort_by_key(|(at, _)| std::cmp::Reverse(*at));
    Draft {
        title: "Social determinants of health",
        items: dated.into_iter().map(|(_, i)| i).collect(),
        cap: 12,
        in_time: true,
        superseded,
    }
}

fn results(obs: &Observations<'_>, clock: Clock) -> Draft {
    let (latest, superseded) = latest_per_code(&obs.results);
    let items = latest
        .into_iter()
        .map(|o| {
            let mut i = item(observation_text(o, clock), cite(o), "results");
            i.date = clinical_date(o).map(str::to_owned);
            i
        })
        .collect();
    Draft {
        title: "Recent labs and vitals",
        items,
        cap: 20,
        in_time: true,
        superseded,
    }
}

fn care_team(record: &Record<'_>, encounters: &[&Value], clock: Clock) -> Draft {
    let mut items = Vec::new();
    for team in record.of("CareTeam") {
        if matches!(
            str_at(team, "status"),
            Some("inactive") | Some("entered-in-error")
        ) {
            continue;
        }
        for p in team
            .get("participant")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let Some(member) = p.get("member").and_then(reference_display) else {
                continue;
            };
            let role = p
                .get("role")
                .and_then(Value::as_array)
                .and_then(|r| r.first())
                .and_then(concept_text)
                .map(|r| format!(" ({r})"))
                .unwrap_or_default();
            items.push(item(
                format!("{member}{role}"),
                cite(team),
                "care team members",
            ));
        }
    }
    if let Some(p) = record.patient {
        for gp in p
            .get("generalPractitioner")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(name) = reference_display(gp) {
                items.push(item(
                    format!("General practitioner: {name}"),
                    cite(p),
                    "care team members",
                ));
            }
        }
    }
    // Clinicians seen, from encounters: the most recent encounter with each names them.
    let mut seen: BTreeMap<String, ()> = BTreeMap::new();
    for e in encounters.iter().copied() {
        for p in e
            .get("participant")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let Some(name) = p.get("individual").and_then(reference_display) else {
                continue;
            };
            if seen.insert(name.to_owned(), ()).is_some() {
                continue;
            }
            let when = clinical_date(e)
                .map(|d| format!(" (most recently {})", clock.when(d)))
                .unwrap_or_default();
            items.push(item(format!("Seen by {name}{when}"), cite(e), "clinicians"));
        }
    }
    Draft {
        title: "Care team",
        items,
        cap: 10,
        in_time: false,
        superseded: vec![],
    }
}

fn goals(record: &Record<'_>, clock: Clock) -> Draft {
    let mut items = Vec::new();
    for g in record.of("Goal") {
        if !matches!(
            str_at(g, "lifecycleStatus"),
            Some("proposed" | "planned" | "accepted" | "active" | "on-hold")
        ) {
            continue;
        }
        let Some(what) = g.get("description").and_then(concept_text) else {
            continue;
        };
        let due = g
            .pointer("/target/0/dueDate")
            .and_then(Value::as_str)
            .map(|d| format!(", due {}", clock.when(d)))
            .unwrap_or_default();
        let achievement = g
            .get("achievementStatus")
            .and_then(concept_text)
            .map(|a| format!(" ({a})"))
            .unwrap_or_default();
        items.push(item(
            format!("Goal: {what}{achievement}{due}"),
            cite(g),
            "goals",
        ));
    }
    for plan in record.of("CarePlan") {
        if str_at(plan, "status") != Some("active") {
            continue;
        }
        let title = str_at(plan, "title")
            .map(str::to_owned)
            .or_else(|| {
                plan.get("category")
                    .and_then(Value::as_array)
                    .and_then(|c| c.iter().rev().find_map(concept_text))
            })
            .unwrap_or_else(|| "Care plan".to_owned());
        let activities: Vec<String> = plan
            .get("activity")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter(|a| {
                !matches!(
                    a.pointer("/detail/status").and_then(Value::as_str),
                    Some("completed" | "cancelled" | "stopped" | "entered-in-error")
                )
            })
            .filter_map(|a| a.pointer("/detail/code").and_then(concept_text))
            .take(6)
            .collect();
        let mut text = format!("Care plan: {title}");
        if !activities.is_empty() {
            text.push_str(&format!(" (activities: {})", activities.join("; ")));
        }
        if let Some(start) = plan.pointer("/period/start").and_then(Value::as_str) {
            text.push_str(&format!(", since {}", clock.when(start)));
        }
        items.push(item(text, cite(plan), "care plans"));
    }
    Draft {
        title: "Goals and care plan",
        items,
        cap: 10,
        in_time: false,
        superseded: vec![],
    }
}

/// The IPS sections' entries: `(section key, [(reference, statement)])`. The same statements
/// as the LLM context, without caps: a document has no token budget.
pub fn ips_entries(
    record: &Record<'_>,
    clock: Clock,
) -> Vec<(&'static str, Vec<(String, String)>)> {
    let entries = |draft: Draft| -> Vec<(String, String)> {
        draft
            .items
            .into_iter()
            .filter_map(|i| Some((i.cite.first()?.clone(), i.text)))
            .collect()
    };
    let observations = classify_observations(record);
    let by_category = |category: &str| -> Vec<(String, String)> {
        let chosen: Vec<&Value> = observations
            .results
            .iter()
            .copied()
            .filter(|o| category_has(o, "category", category))
            .collect();
        latest_per_code(&chosen)
            .0
            .into_iter()
            .filter_map(|o| Some((reference_of(o)?, observation_text(o, clock))))
            .collect()
    };
    let mut results = by_category("laboratory");
    for (measure, list) in &observations.measures {
        if let Some((o, score)) = list.first() {
            if let Some(r) = reference_of(o) {
                let when = clinical_date(o).map(|d| clock.when(d)).unwrap_or_default();
                results.push((
                    r,
                    format!(
                        "{} total score {} ({}), {when}",
                        measure.name,
                        format_number(*score),
                        measure.band(*score)
                    ),
                ));
            }
        }
    }
    let done = |resource_type: &str, code_key: &str| -> Vec<(String, String)> {
        let mut list: Vec<&Value> = record
            .of(resource_type)
            .iter()
            .copied()
            .filter(|r| matches!(str_at(r, "status"), Some("completed")))
            .collect();
        newest_first(&mut list);
        list.into_iter()
            .filter_map(|r| {
                let what = r.get(code_key).and_then(concept_text)?;
                let when = clinical_date(r).map(|d| clock.when(d)).unwrap_or_default();
                Some((reference_of(r)?, format!("{what}, {when}")))
            })
            .collect()
    };
    vec![
        ("problems", entries(problems(record, clock))),
        ("medications", entries(medications(record, clock))),
        ("allergies", entries(allergies(record, clock))),
        ("results", results),
        ("immunizations", done("Immunization", "vaccineCode")),
        ("procedures", done("Procedure", "code")),
        ("vitals", by_category("vital-signs")),
        ("social", entries(social(record, &observations, clock))),
    ]
}

/// The line that stands for items not shown one by one: "and 11 earlier PHQ-9 results, from 19
/// to 8 (2023-02-14 to 2025-11-02)". It cites every resource it counts.
pub fn summary_line(rest: &[Item], in_time: bool, clock: Clock) -> Option<Item> {
    if rest.is_empty() {
        return None;
    }
    // Groups in order of first appearance.
    let mut groups: Vec<(&str, Vec<&Item>)> = Vec::new();
    for i in rest {
        match groups.iter_mut().find(|(g, _)| *g == i.group) {
            Some((_, list)) => list.push(i),
            None => groups.push((&i.group, vec![i])),
        }
    }
    let word = if in_time { "earlier" } else { "more" };
    let parts: Vec<String> = groups
        .iter()
        .map(|(group, list)| {
            let mut part = format!("{} {word} {group}", list.len());
            // Newest first: the last is the oldest.
            let scores: Vec<f64> = list.iter().filter_map(|i| i.score).collect();
            if scores.len() >= 2 {
                let (newest, oldest) = (scores[0], scores[scores.len() - 1]);
                let trend = if newest < oldest {
                    "falling"
                } else if newest > oldest {
                    "rising"
                } else {
                    "unchanged"
                };
                part.push_str(&format!(
                    ", {trend} from {} to {}",
                    format_number(oldest),
                    format_number(newest)
                ));
            }
            let dates: Vec<&str> = list.iter().filter_map(|i| i.date.as_deref()).collect();
            if dates.len() >= 2 {
                part.push_str(&format!(
                    " ({})",
                    clock.span(dates[dates.len() - 1], dates[0])
                ));
            }
            part
        })
        .collect();
    let mut cite: Vec<String> = Vec::new();
    let mut seen = HashSet::new();
    for i in rest {
        for c in &i.cite {
            if seen.insert(c.as_str()) {
                cite.push(c.clone());
            }
        }
    }
    Some(Item {
        text: format!("and {}", parts.join("; ")),
        cite,
        group: String::new(),
        score: None,
        date: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn relative_dates_read_naturally() {
        let now = Utc.with_ymd_and_hms(2026, 12, 1, 12, 0, 0).unwrap();
        let ago = |days| relative(now, now - chrono::Duration::days(days));
        assert_eq!(ago(0), "today");
        assert_eq!(ago(1), "1 day ago");
        assert_eq!(ago(21), "3 weeks ago");
        assert_eq!(ago(240), "8 months ago");
        assert_eq!(ago(800), "2 years ago");
        assert_eq!(relative(now, now + chrono::Duration::days(3)), "in 3 days");
    }

    #[test]
    fn frequencies_read_as_clinicians_write_them() {
        assert_eq!(frequency_text(1.0, 1.0, "d"), "once daily");
        assert_eq!(frequency_text(2.0, 1.0, "d"), "twice daily");
        assert_eq!(frequency_text(3.0, 1.0, "d"), "3 times daily");
        assert_eq!(frequency_text(1.0, 4.0, "h"), "once every 4 hours");
    }

    #[test]
    fn a_summary_line_states_count_trend_and_span() {
        let clock = Clock {
            now: Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap(),
            relative_only: false,
        };
        let mk = |score: f64, date: &str, id: &str| Item {
            text: String::new(),
            cite: vec![format!("Observation/{id}")],
            group: "PHQ-9 results".into(),
            score: Some(score),
            date: Some(date.into()),
        };
        let rest = vec![
            mk(8.0, "2025-06-01", "c"),
            mk(12.0, "2024-06-01", "b"),
            mk(19.0, "2023-02-14", "a"),
        ];
        let line = summary_line(&rest, true, clock).unwrap();
        assert_eq!(
            line.text,
            "and 3 earlier PHQ-9 results, falling from 19 to 8 (2023-02-14 to 2025-06-01)"
        );
        assert_eq!(line.cite.len(), 3);
    }
}
