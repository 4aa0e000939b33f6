//! Problems, health concerns and admission/discharge diagnoses → Condition.
//!
//! A concern act (Problem Concern Act `2.16.840.1.113883.10.20.22.4.3`, Health Concern Act
//! `4.132`, the hospital admission/discharge diagnosis acts `4.34`/`4.33`, and other acts
//! wrapping problems) yields one Condition per Problem Observation (`4.4`) it holds, whatever
//! the `entryRelationship` type (problem concerns use SUBJ, health concerns REFR and SPRT). A
//! Problem Observation may also stand alone as an entry. Each Condition's id comes from the
//! observation's own `id`, so the same problem in two documents is one Condition.
//!
//! | Condition | C-CDA |
//! |---|---|
//! | `code` | the observation's `value` (with translations and original text); its `text` when the value is not coded |
//! | `category` | from the section: Problems → `problem-list-item`, Health Concerns → `health-concern` (US Core code system), diagnosis sections → `encounter-diagnosis`; then the observation's `code` (the problem type, as C-CDA on FHIR maps it); `sdoh` (US Core category) for a social-determinants problem |
//! | `clinicalStatus` | a Problem Status observation (`4.6`) value; else the concern act's `statusCode`; else `resolved` when the problem has an end |
//! | `verificationStatus` | `refuted` when `negationInd="true"`; otherwise absent |
//! | `onsetDateTime` / `onsetAge` | `effectiveTime/low` (or its `value`); an Age Observation (`4.31`) when there is no date |
//! | `abatementDateTime` | `effectiveTime/high` |
//! | `recordedDate`, `recorder` | the observation's (else the concern act's) first `author` |
//! | `note` | Comment Activities (`4.64`) |
//! | `encounter` | the document's encounter, for admission/discharge diagnoses only: a problem-list item is not tied to one visit |
//!
//! Status tables:
//!
//! - Problem Status value (SNOMED CT): 55561003 → active, 73425007 → inactive,
//!   413322009 → resolved, 246455001 → recurrence, 263855007 → relapse,
//!   277022003 → remission.
//! - Concern act `statusCode` (C-CDA on FHIR ConceptMap CF-ConditionClinicalStatus): active →
//!   active; completed, aborted, suspended → inactive. A concern status describes the concern,
//!   not the problem, so when the observation has an end (`effectiveTime/high`) the Condition
//!   is `resolved` instead (resolved is the narrower inactive), also under an active concern
//!   (FHIR forbids an active Condition with an abatement).
//!
//! Decisions:
//!
//! - `verificationStatus` is only set for a negated problem (`refuted`, as C-CDA on FHIR
//!   says). The IG maps nothing else to it, and a listed problem may be provisional: writing
//!   `confirmed` would assert what the document does not. A negated observation whose value is
//!   the generic "Problem" concept (55607006) is the C-CDA way to say "no known problems"; it
//!   keeps that code with `refuted`, the first of the two options the IG allows.
//! - SDOH: a problem is a social-determinants problem when its value or a translation is an
//!   ICD-10-CM Z55–Z65 code ("persons with potential health hazards related to socioeconomic and
//!   psychosocial circumstances"), which is what the Gravity examples carry next to their
//!   SNOMED CT codes. SNOMED-only SDOH problems are not recognised: the crate holds no SDOH
//!   value set.
//! - A Risk Concern Act (`4.136`, "at risk for") is not mapped: its problem is something the
//!   patient may get, and a Condition would say they have it.
//! - Microsoft's converter leaves category and most statuses out; we follow C-CDA on FHIR.
//! - Sample documents reuse one observation id for different problems (copied examples).
//!   Such a second problem gets an id from its position instead of being dropped as a
//!   duplicate ([`Ctx::push`](crate::Ctx::push)).

use roxmltree::Node;
use serde_json::{json, Map, Value};

use crate::ctx::Ctx;
use crate::datatypes::{put_array, TimeKind};
use crate::sections::{author_ref, negated, related, status_code, SectionKind};
use crate::xml::El;

const E: &str = "2.16.840.1.113883.10.20.22.4.";
const CATEGORY: &str = "http://terminology.hl7.org/CodeSystem/condition-category";
const US_CORE_CATEGORY: &str = "http://hl7.org/fhir/us/core/CodeSystem/condition-category";
const SDOH_CATEGORY: &str = "http://hl7.org/fhir/us/core/CodeSystem/us-core-category";
const CLINICAL: &str = "http://terminology.hl7.org/CodeSystem/condition-clinical";
const VERIFICATION: &str = "http://terminology.hl7.org/CodeSystem/condition-ver-status";
const ICD10CM: &str = "2.16.840.1.113883.6.90";

/// Which list a Condition is on (`Condition.category`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Category {
    ProblemListItem,
    HealthConcern,
    EncounterDiagnosis,
}

impl Category {
    fn concept(self) -> Value {
        let (system, code, display) = match self {
            Category::ProblemListItem => (CATEGORY, "problem-list-item", "Problem List Item"),
            Category::HealthConcern => (US_CORE_CATEGORY, "health-concern", "Health Concern"),
            Category::EncounterDiagnosis => {
                (CATEGORY, "encounter-diagnosis", "Encounter Diagnosis")
            }
        };
        json!({"coding": [{"system": system, "code": code, "display": display}]})
    }
}

/// Whether the element has the C-CDA entry template `4.<suffix>`.
pub(crate) fn is_template(el: Node, suffix: &str) -> bool {
    el.template_ids()
        .any(|t| t.strip_prefix(E).is_some_and(|s| s == suffix))
}

fn is_element(el: Node, name: &str) -> bool {
    el.tag_name().name() == name
}

/// Whether an observation is a Problem Observation: by template, or, untemplated, by shape
/// (a coded value under a problem-type code or `ASSERTION`).
pub(crate) fn is_problem_observation(obs: Node) -> bool {
    if !is_element(obs, "observation") {
        return false;
    }
    // 4.68 and 4.73 are R1.1's functional and cognitive status problem observations, which
    // R2.1 also marks 4.4; an Indication (4.19) as an entry of its own (Procedure Indications)
    // states the condition the procedure was for.
    if ["4", "68", "73", "19"].iter().any(|t| is_template(obs, t)) {
        return true;
    }
    if obs.template_ids().next().is_some() {
        return false;
    }
    let code = obs.child("code").and_then(|c| c.attr("code"));
    let problem_type = matches!(
        code,
        Some(
            "55607006"
                | "282291009"
                | "404684003"
                | "409586006"
                | "418799008"
                | "64572001"
                | "248536006"
                | "ASSERTION"
                | "75326-9"
                | "29308-4"
                | "75275-8"
                | "75321-0"
                | "75322-8"
                | "75323-6"
        )
    );
    problem_type && obs.child("value").is_some()
}

pub fn map(ctx: &mut Ctx, kind: SectionKind, el: Node) {
    let (category, encounter) = match kind {
        SectionKind::HealthConcerns => (Category::HealthConcern, None),
        SectionKind::DischargeDiagnosis
        | SectionKind::AdmissionDiagnosis
        | SectionKind::ProcedureDiagnosis => (Category::EncounterDiagnosis, ctx.encounter.clone()),
        _ => (Category::ProblemListItem, None),
    };
    if is_element(el, "observation") {
        if is_problem_observation(el) {
            map_observation(ctx, el, None, category, encounter.as_deref());
        } else {
            ctx.skip(
                el,
                "an observation in a problem section that is not a problem observation; not mapped",
            );
        }
        return;
    }
    if !is_element(el, "act") {
        ctx.skip(
            el,
            "an entry in a problem section that is neither a concern act nor a problem observation; not mapped",
        );
        return;
    }
    if is_template(el, "136") {
        ctx.skip(
            el,
            "a risk concern act names a condition the patient is at risk of, not one they have; not mapped",
        );
        return;
    }
    let mapped = map_concern(ctx, el, category, encounter.as_deref());
    if mapped.is_empty() {
        let reason = if negated(el) {
            "a negated concern act (no known problems or concerns) holds no problem observation; nothing to map"
        } else {
            "the concern act holds no problem observation; not mapped"
        };
        ctx.skip(el, reason);
    }
}

/// The Conditions of a concern act (and of acts nested in it, as admission and discharge
/// diagnosis acts nest problem concern acts): their references.
pub(crate) fn map_concern(
    ctx: &mut Ctx,
    act: Node,
    category: Category,
    encounter: Option<&str>,
) -> Vec<String> {
    let mut out = Vec::new();
    for item in related(act, None) {
        if is_problem_observation(item) {
            out.extend(map_observation(ctx, item, Some(act), category, encounter));
        } else if is_element(item, "act") && !is_template(item, "136") && !is_template(item, "64") {
            out.extend(map_concern(ctx, item, category, encounter));
        }
    }
    out
}

/// One Problem Observation as a Condition. `concern` is the act it is in (its status and
/// author are the fallbacks); `encounter` the Encounter it was diagnosed in.
pub(crate) fn map_observation(
    ctx: &mut Ctx,
    obs: Node,
    concern: Option<Node>,
    category: Category,
    encounter: Option<&str>,
) -> Option<String> {
    let value = obs.child("value");
    let code = value.and_then(|v| ctx.concept(v)).or_else(|| {
        obs.child("text")
            .and_then(|t| ctx.text_of(t))
            .map(|t| json!({ "text": t }))
    });
    let Some(code) = code else {
        ctx.skip(
            obs,
            "the problem observation has no coded value and no text; not mapped",
        );
        return None;
    };
    let id = ctx.resource_id("Condition", obs);
    let mut c = Map::new();
    c.insert("resourceType".into(), json!("Condition"));
    c.insert("id".into(), json!(id));
    let ids = ctx.identifiers(obs);
    put_array(&mut c, "identifier", ids);

    let et = obs.child("effectiveTime");
    let onset = et.and_then(|et| {
        let point = et.child("low").unwrap_or(et);
        ctx.time(point, TimeKind::DateTime)
    });
    let mut abatement = et
        .and_then(|et| et.child("high"))
        .and_then(|h| ctx.time(h, TimeKind::DateTime));

    let (status, from_observation) = match problem_status(obs) {
        Some(s) => (Some(s), true),
        None => (
            concern
                .and_then(status_code)
                .and_then(concern_status)
                .or(abatement.is_some().then_some("resolved")),
            false,
        ),
    };
    let status = match status {
        // The concern is still tracked but this problem ended.
        Some(_) if !from_observation && abatement.is_some() => Some("resolved"),
        Some(s @ ("active" | "recurrence" | "relapse")) if abatement.is_some() => {
            ctx.warn(
                obs,
                "the problem status says the problem is ongoing but it has an end time; the end (abatement) is left out",
            );
            abatement = None;
            Some(s)
        }
        s => s,
    };
    if let Some(s) = status {
        c.insert(
            "clinicalStatus".into(),
            json!({"coding": [{"system": CLINICAL, "code": s}]}),
        );
    }
    if negated(obs) {
        // negationInd negates the value: the patient does not have this problem.
        c.insert(
            "verificationStatus".into(),
            json!({"coding": [{"system": VERIFICATION, "code": "refuted", "display": "Refuted"}]}),
        );
    }

    let mut categories = vec![category.concept()];
    if let Some(kind) = obs.child("code").and_then(|k| ctx.concept(k)) {
        if kind.get("coding").is_some() {
            categories.push(kind);
        }
    }
    if value.is_some_and(is_sdoh) {
        categories.push(json!({"coding": [{
            "system": SDOH_CATEGORY,
            "code": "sdoh",
            "display": "SDOH"
        }]}));
    }
    c.insert("category".into(), Value::Array(categories));
    c.insert("code".into(), code);
    c.insert("subject".into(), json!({"reference": ctx.patient}));
    if let Some(e) = encounter {
        c.insert("encounter".into(), json!({ "reference": e }));
    }
    if let Some(t) = onset {
        c.insert("onsetDateTime".into(), json!(t));
    } else if let Some(age) = age_at_onset(ctx, obs) {
        c.insert("onsetAge".into(), age);
    }
    if let Some(t) = abatement {
        c.insert("abatementDateTime".into(), json!(t));
    }
    let recorded = author_time(ctx, obs).or_else(|| concern.and_then(|a| author_time(ctx, a)));
    if let Some(t) = recorded {
        c.insert("recordedDate".into(), json!(t));
    }
    let recorder = author_ref(ctx, obs).or_else(|| concern.and_then(|a| author_ref(ctx, a)));
    if let Some(r) = recorder {
        c.insert("recorder".into(), json!({ "reference": r }));
    }
    let notes = comments(ctx, obs);
    put_array(&mut c, "note", notes);
    Some(ctx.push(Value::Object(c), obs))
}

/// Problem Status observation (`4.6`, or code 33999-4) value → clinical status.
fn problem_status(obs: Node) -> Option<&'static str> {
    related(obs, None)
        .filter(|o| {
            is_template(*o, "6") || o.child("code").and_then(|c| c.attr("code")) == Some("33999-4")
        })
        .find_map(|o| match o.child("value")?.attr("code")? {
            "55561003" => Some("active"),
            "73425007" => Some("inactive"),
            "413322009" => Some("resolved"),
            "246455001" => Some("recurrence"),
            "263855007" => Some("relapse"),
            "277022003" => Some("remission"),
            _ => None,
        })
}

/// Concern act `statusCode` → clinical status (C-CDA on FHIR CF-ConditionClinicalStatus).
fn concern_status(code: &str) -> Option<&'static str> {
    match code {
        "active" => Some("active"),
        "completed" | "aborted" | "suspended" => Some("inactive"),
        _ => None,
    }
}

/// An ICD-10-CM Z55–Z65 code on the value or a translation.
fn is_sdoh(value: Node) -> bool {
    std::iter::once(value)
        .chain(value.children_named("translation"))
        .filter(|c| c.attr("codeSystem") == Some(ICD10CM))
        .filter_map(|c| c.attr("code"))
        .any(|code| {
            let Some(rest) = code.strip_prefix(['Z', 'z']) else {
                return false;
            };
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            digits.len() == 2 && digits.parse::<u8>().is_ok_and(|n| (55..=65).contains(&n))
        })
}

/// An Age Observation (`4.31`) value as an Age (UCUM years, months …).
pub(crate) fn age_at_onset(ctx: &mut Ctx, obs: Node) -> Option<Value> {
    let value = related(obs, None)
        .find(|o| {
            is_template(*o, "31")
                || o.child("code").and_then(|c| c.attr("code")) == Some("445518008")
        })?
        .child("value")?;
    let mut q = ctx.quantity(value)?;
    if let Some(q) = q.as_object_mut() {
        q.get("value")?;
        // Age requires a UCUM code with a value; the Age Observation template fixes the unit
        // to years ("a"), so a sender that left it out meant years.
        if q.get("code").is_none() {
            q.insert("system".into(), json!("http://unitsofmeasure.org"));
            q.insert("code".into(), json!("a"));
        }
    }
    Some(q)
}

/// Comment Activities (`4.64`) as Annotations.
pub(crate) fn comments(ctx: &Ctx, el: Node) -> Vec<Value> {
    related(el, None)
        .filter(|a| {
            is_template(*a, "64") || a.child("code").and_then(|c| c.attr("code")) == Some("48767-8")
        })
        .filter_map(|a| a.child("text").and_then(|t| ctx.text_of(t)))
        .map(|t| json!({ "text": t }))
        .collect()
}

/// The time of an entry's first `author` that has one.
pub(crate) fn author_time(ctx: &mut Ctx, el: Node) -> Option<String> {
    let times: Vec<Node> = el
        .children_named("author")
        .filter_map(|a| a.child("time"))
        .collect();
    times
        .into_iter()
        .find_map(|t| ctx.time(t, TimeKind::DateTime))
}

/// A small C-CDA document around test sections, and helpers to map it.
#[cfg(test)]
pub(crate) mod test_doc {
    use serde_json::Value;

    /// A document whose body holds these sections (each a whole `<section>…</section>`).
    pub fn document(sections: &[String]) -> String {
        document_with(sections, "")
    }

    /// A document with header elements after the recordTarget (`componentOf` …).
    pub fn document_with(sections: &[String], header: &str) -> String {
        let body: String = sections
            .iter()
            .map(|s| format!("<component>{s}</component>"))
            .collect();
        format!(
            r#"<?xml version="1.0" encoding="UTF-8"?>
<ClinicalDocument xmlns="urn:hl7-org:v3" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:sdtc="urn:hl7-org:sdtc">
  <templateId root="2.16.840.1.113883.10.20.22.1.1" extension="2015-08-01"/>
  <id root="2.16.840.1.113883.19.5.99999.1" extension="TEST-DOC-1"/>
  <code code="34133-9" codeSystem="2.16.840.1.113883.6.1"/>
  <effectiveTime value="20240102103000-0500"/>
  <recordTarget><patientRole>
    <id root="2.16.840.1.113883.19.5.99999.2" extension="PAT-1"/>
    <patient><administrativeGenderCode code="F" codeSystem="2.16.840.1.113883.5.1"/><birthTime value="19700101"/></patient>
  </patientRole></recordTarget>
  {header}
  <component><structuredBody>{body}</structuredBody></component>
</ClinicalDocument>"#
        )
    }

    /// A section with this LOINC code and these entries (each a whole `<entry>…</entry>`).
    pub fn section(loinc: &str, entries: &str) -> String {
        format!(
            r#"<section><code code="{loinc}" codeSystem="2.16.840.1.113883.6.1"/><title>T</title><text><content ID="n1">narrative one</content></text>{entries}</section>"#
        )
    }

    /// Map a document, asserting that every resource is valid FHIR R4.
    pub fn map(xml: &str) -> crate::Mapped {
        let mapped = crate::map_bytes(
            xml.as_bytes(),
            &crate::Limits::default(),
            &crate::MapOptions::default(),
        )
        .expect("the test document maps");
        for r in &mapped.resources {
            if let Err(issues) = salus_fhir::schema::validate(&r.resource) {
                panic!("invalid {}: {issues:?}", r.resource);
            }
        }
        mapped
    }

    /// The resources of one type.
    pub fn of_type<'m>(mapped: &'m crate::Mapped, kind: &str) -> Vec<&'m Value> {
        mapped
            .resources
            .iter()
            .map(|r| &r.resource)
            .filter(|r| r["resourceType"] == kind)
            .collect()
    }

    /// `Type/id` of a resource.
    pub fn reference(r: &Value) -> String {
        format!(
            "{}/{}",
            r["resourceType"].as_str().unwrap_or_default(),
            r["id"].as_str().unwrap_or_default()
        )
    }

    /// The reference of the document's Patient.
    pub fn patient(mapped: &crate::Mapped) -> String {
        of_type(mapped, "Patient")
            .first()
            .map(|p| reference(p))
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::test_doc::*;
    use serde_json::json;

    const AUTHOR: &str = r#"<author><time value="20200301"/><assignedAuthor><id root="2.16.840.1.113883.4.6" extension="1234567893"/><assignedPerson><name><given>A</given><family>B</family></name></assignedPerson></assignedAuthor></author>"#;

    fn problem_obs(id: &str, extra: &str, value: &str, time: &str) -> String {
        format!(
            r#"<observation classCode="OBS" moodCode="EVN" {extra}>
  <templateId root="2.16.840.1.113883.10.20.22.4.4" extension="2015-08-01"/>
  <id root="1.2.3.4" extension="{id}"/>
  <code code="55607006" codeSystem="2.16.840.1.113883.6.96" displayName="Problem"/>
  <statusCode code="completed"/>
  <effectiveTime>{time}</effectiveTime>
  {value}
  {AUTHOR}
</observation>"#
        )
    }

    fn concern(status: &str, inner: &str) -> String {
        format!(
            r#"<entry><act classCode="ACT" moodCode="EVN">
  <templateId root="2.16.840.1.113883.10.20.22.4.3" extension="2015-08-01"/>
  <id root="1.2.3.5" extension="c-{status}"/>
  <code code="CONC" codeSystem="2.16.840.1.113883.5.6"/>
  <statusCode code="{status}"/>
  <effectiveTime><low value="20200301"/></effectiveTime>
  <entryRelationship typeCode="SUBJ">{inner}</entryRelationship>
</act></entry>"#
        )
    }

    const ASTHMA: &str = r##"<value xsi:type="CD" code="195967001" codeSystem="2.16.840.1.113883.6.96" displayName="Asthma"><originalText><reference value="#n1"/></originalText><translation code="J45.909" codeSystem="2.16.840.1.113883.6.90"/></value>"##;

    #[test]
    fn problem_concern_becomes_a_condition() {
        let entries = concern(
            "active",
            &problem_obs("p1", "", ASTHMA, r#"<low value="20190415"/>"#),
        );
        let xml = document(&[section("11450-4", &entries)]);
        let m = map(&xml);
        let conditions = of_type(&m, "Condition");
        assert_eq!(conditions.len(), 1);
        let c = conditions[0];
        assert_eq!(c["code"]["coding"][0]["code"], "195967001");
        assert_eq!(c["code"]["coding"][0]["system"], "http://snomed.info/sct");
        assert_eq!(c["code"]["coding"][1]["code"], "J45.909");
        assert_eq!(c["code"]["text"], "narrative one");
        assert_eq!(c["category"][0]["coding"][0]["code"], "problem-list-item");
        assert_eq!(c["category"][1]["coding"][0]["code"], "55607006");
        assert_eq!(c["clinicalStatus"]["coding"][0]["code"], "active");
        assert!(c.get("verificationStatus").is_none());
        assert_eq!(c["onsetDateTime"], "2019-04-15");
        assert_eq!(c["recordedDate"], "2020-03-01");
        assert!(c["recorder"]["reference"]
            .as_str()
            .unwrap()
            .starts_with("Practitioner/"));
        assert_eq!(c["subject"]["reference"], patient(&m).as_str());
        assert!(c.get("encounter").is_none());
        assert_eq!(c["identifier"][0]["value"], "p1");
        // Mapping again gives the same ids.
        let again = map(&xml);
        assert_eq!(of_type(&again, "Condition")[0]["id"], c["id"]);
        assert!(m.skipped.is_empty(), "{:?}", m.skipped);
    }

    #[test]
    fn statuses_follow_the_status_observation_then_the_concern() {
        let status_obs = r#"<entryRelationship typeCode="REFR"><observation classCode="OBS" moodCode="EVN"><templateId root="2.16.840.1.113883.10.20.22.4.6"/><code code="33999-4" codeSystem="2.16.840.1.113883.6.1"/><statusCode code="completed"/><value xsi:type="CD" code="413322009" codeSystem="2.16.840.1.113883.6.96"/></observation></entryRelationship>"#;
        let with_status = problem_obs(
            "s1",
            "",
            &format!("{ASTHMA}{status_obs}"),
            r#"<low value="2019"/><high value="2020"/>"#,
        );
        let completed = problem_obs("s2", "", ASTHMA, r#"<low value="2019"/>"#);
        let ended_but_tracked = problem_obs(
            "s3",
            "",
            ASTHMA,
            r#"<low value="2018"/><high value="20181201"/>"#,
        );
        let entries = format!(
            "{}{}{}",
            concern("active", &with_status),
            concern("completed", &completed),
            concern("active", &ended_but_tracked)
        );
        let m = map(&document(&[section("11450-4", &entries)]));
        let c = of_type(&m, "Condition");
        assert_eq!(c.len(), 3);
        let status = |i: usize| c[i]["clinicalStatus"]["coding"][0]["code"].clone();
        assert_eq!(status(0), "resolved");
        assert_eq!(c[0]["abatementDateTime"], "2020");
        assert_eq!(status(1), "inactive");
        assert_eq!(status(2), "resolved");
        assert_eq!(c[2]["abatementDateTime"], "2018-12-01");
    }

    #[test]
    fn negated_problem_is_refuted() {
        let none = r#"<value xsi:type="CD" code="55607006" codeSystem="2.16.840.1.113883.6.96" displayName="Problem"/>"#;
        let entries = concern(
            "active",
            &problem_obs(
                "n1",
                r#"negationInd="true""#,
                none,
                r#"<low value="20150722"/>"#,
            ),
        );
        let m = map(&document(&[section("11450-4", &entries)]));
        let c = of_type(&m, "Condition");
        assert_eq!(c.len(), 1);
        assert_eq!(c[0]["verificationStatus"]["coding"][0]["code"], "refuted");
        assert_eq!(c[0]["code"]["coding"][0]["code"], "55607006");
    }

    #[test]
    fn health_concern_and_sdoh() {
        let food = r#"<value xsi:type="CD" code="445281000124101" codeSystem="2.16.840.1.113883.6.96"><translation code="Z59.48" codeSystem="2.16.840.1.113883.6.90"/></value>"#;
        let entries = format!(
            r#"<entry><act classCode="ACT" moodCode="EVN"><templateId root="2.16.840.1.113883.10.20.22.4.132" extension="2015-08-01"/><id root="1.2.3.6"/><code code="75310-3" codeSystem="2.16.840.1.113883.6.1"/><statusCode code="active"/>
            <entryRelationship typeCode="REFR">{}</entryRelationship>
            <entryRelationship typeCode="REFR"><observation classCode="OBS" moodCode="EVN"><templateId root="2.16.840.1.113883.10.20.22.4.85"/><code code="11367-0" codeSystem="2.16.840.1.113883.6.1"/><value xsi:type="CD" code="449868002" codeSystem="2.16.840.1.113883.6.96"/></observation></entryRelationship>
            </act></entry>
            <entry><act classCode="ACT" moodCode="EVN" negationInd="true"><templateId root="2.16.840.1.113883.10.20.22.4.132"/><id root="1.2.3.7"/><code code="75310-3" codeSystem="2.16.840.1.113883.6.1"/><statusCode code="active"/></act></entry>"#,
            problem_obs("h1", "", food, r#"<low value="20140321"/>"#)
        );
        let m = map(&document(&[section("75310-3", &entries)]));
        let c = of_type(&m, "Condition");
        assert_eq!(c.len(), 1);
        let cats: Vec<String> = c[0]["category"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["coding"][0]["code"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(cats, ["health-concern", "55607006", "sdoh"]);
        assert_eq!(
            c[0]["category"][0]["coding"][0]["system"],
            "http://hl7.org/fhir/us/core/CodeSystem/condition-category"
        );
        assert_eq!(c[0]["clinicalStatus"]["coding"][0]["code"], "active");
        // The negated, empty concern is reported, without document values.
        assert_eq!(m.skipped.len(), 1);
        assert!(m.skipped[0].reason.contains("negated"));
    }

    #[test]
    fn discharge_diagnosis_names_the_encounter_and_standalone_observations_map() {
        let encounter = r#"<componentOf><encompassingEncounter><id root="1.2.3.9" extension="E1"/><effectiveTime><low value="20240101"/><high value="20240102"/></effectiveTime></encompassingEncounter></componentOf>"#;
        let diagnosis = format!(
            r#"<entry><act classCode="ACT" moodCode="EVN"><templateId root="2.16.840.1.113883.10.20.22.4.33"/><id root="1.2.3.10"/><code code="11535-2" codeSystem="2.16.840.1.113883.6.1"/><statusCode code="active"/><entryRelationship typeCode="SUBJ">{}</entryRelationship></act></entry>"#,
            problem_obs("d1", "", ASTHMA, r#"<low value="20240101"/>"#)
        );
        let standalone = format!(
            "<entry>{}</entry>",
            problem_obs("o1", "", ASTHMA, r#"<low value="2010"/>"#)
        );
        let m = map(&document_with(
            &[
                section("11535-2", &diagnosis),
                section("11450-4", &standalone),
            ],
            encounter,
        ));
        let c = of_type(&m, "Condition");
        assert_eq!(c.len(), 2);
        let enc = of_type(&m, "Encounter");
        assert_eq!(
            c[0]["category"][0]["coding"][0]["code"],
            "encounter-diagnosis"
        );
        assert_eq!(c[0]["encounter"]["reference"], reference(enc[0]).as_str());
        assert_eq!(
            c[1]["category"][0]["coding"][0]["code"],
            "problem-list-item"
        );
        assert!(c[1].get("encounter").is_none());
        assert!(c[1].get("clinicalStatus").is_none());
        assert_eq!(c[1]["onsetDateTime"], "2010");
    }

    /// Every resource these section mappers make from the Microsoft sample documents is
    /// valid FHIR R4, and mapping them does not panic. (Skipped where the fixtures are not
    /// checked out.)
    #[test]
    fn sample_documents_map_to_valid_resources() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/fixtures/external/ccda/microsoft-fhir-converter/input");
        let Ok(entries) = std::fs::read_dir(&dir) else {
            return;
        };
        const OURS: [&str; 10] = [
            "Condition",
            "AllergyIntolerance",
            "MedicationStatement",
            "MedicationRequest",
            "MedicationAdministration",
            "MedicationDispense",
            "Immunization",
            "Procedure",
            "Encounter",
            "FamilyMemberHistory",
        ];
        let mut seen = 0;
        for entry in entries.flatten() {
            let bytes = std::fs::read(entry.path()).unwrap();
            let Ok(m) = crate::map_bytes(
                &bytes,
                &crate::Limits::default(),
                &crate::MapOptions::default(),
            ) else {
                continue;
            };
            for r in m.resources.iter().map(|r| &r.resource) {
                let kind = r["resourceType"].as_str().unwrap_or_default();
                if OURS.contains(&kind) {
                    seen += 1;
                    if let Err(issues) = salus_fhir::schema::validate(r) {
                        panic!("{:?}: invalid {r}: {issues:?}", entry.path());
                    }
                }
            }
        }
        assert!(seen > 0 || std::fs::read_dir(&dir).is_err());
    }

    #[test]
    fn reused_ids_and_missing_values() {
        let copd = r#"<value xsi:type="CD" code="13645005" codeSystem="2.16.840.1.113883.6.96"/>"#;
        let empty = r#"<value xsi:type="CD" nullFlavor="UNK"/>"#;
        let entries = format!(
            "{}{}{}",
            concern("active", &problem_obs("same", "", ASTHMA, "")),
            concern("completed", &problem_obs("same", "", copd, "")),
            concern("active", &problem_obs("none", "", empty, "")),
        );
        let m = map(&document(&[section("11450-4", &entries)]));
        let c = of_type(&m, "Condition");
        assert_eq!(c.len(), 2);
        assert_ne!(c[0]["id"], c[1]["id"]);
        assert_eq!(c[1]["code"]["coding"][0]["code"], "13645005");
        assert!(m
            .skipped
            .iter()
            .any(|s| s.reason.contains("no coded value")));
        assert!(m.warnings.iter().any(|w| w.reason.contains("id")));
        for issue in m.skipped.iter().chain(&m.warnings) {
            assert!(!issue.reason.contains("13645005") && !issue.reason.contains("same"));
        }
        let _ = json!(null);
    }
}
