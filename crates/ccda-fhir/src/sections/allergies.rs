//! Allergies → AllergyIntolerance.
//!
//! An Allergy Concern Act (`2.16.840.1.113883.10.20.22.4.30`) yields one AllergyIntolerance
//! per Allergy Intolerance Observation (`4.7`) it holds; such an observation may also stand
//! alone as an entry. The id comes from the observation's own `id`.
//!
//! | AllergyIntolerance | C-CDA |
//! |---|---|
//! | `code` | `participant/participantRole/playingEntity/code` (the substance, with translations and original text), else the entity's `name` |
//! | `type`, `category` | the observation's `value` (table below) |
//! | `clinicalStatus` | an Allergy Status observation (`4.28`) value; else the concern act's `statusCode` |
//! | `verificationStatus` | `refuted` for a negated observation naming a substance |
//! | `criticality` | a Criticality observation (`4.145`): CRITH → high, CRITL → low, CRITU → unable-to-assess |
//! | `onsetDateTime` | `effectiveTime/low` (or its `value`); `high` is not an onset |
//! | `recordedDate`, `recorder` | the observation's (else the concern act's) first `author` |
//! | `reaction` | Reaction observations (`4.9`, MFST): `manifestation` from the value, `onset` from its `effectiveTime/low`, `severity` from its Severity observation (`4.8`) |
//! | `note` | Comment Activities (`4.64`) |
//!
//! `value` → type and category (C-CDA on FHIR allergy type/category map): 419199007 allergy;
//! 416098002 allergy + medication; 414285001 allergy + food; 426232007 and 232347008 allergy +
//! environment; 59037007 intolerance + medication; 235719002 intolerance + food; 782197009
//! intolerance; 419511003 medication; 418471000 food; 418038007 and 420134006 neither.
//!
//! Severity (SNOMED CT): 255604002 mild; 6736007 and 371923003 (mild to moderate) moderate;
//! 24484000, 371924009 (moderate to severe) and 399166001 (fatal) severe.
//!
//! Status: Allergy Status values 55561003 → active, 73425007 → inactive, 413322009 →
//! resolved. Concern act `statusCode`: active → active; completed, aborted, suspended →
//! inactive (as C-CDA on FHIR maps concern status for problems), `resolved` when the
//! observation has an end. FHIR requires a clinical status (ait-1): without any, `active` is
//! written, since the document lists the allergy as current.
//!
//! Decisions:
//!
//! - "No known allergies" (a negated observation whose substance is a nullFlavor or the
//!   generic 105590001 "Substance") becomes the SNOMED CT concept the value names: 716186003
//!   no known allergy, 409137002 no known drug allergy, 429625007 no known food allergy,
//!   428607008 no known environmental allergy (C-CDA on FHIR "No known allergy" mapping).
//!   A negated observation naming a real substance keeps it, with `verificationStatus`
//!   `refuted`.
//! - A Severity observation on the allergy itself (R1.1 style) goes to the reactions that have
//!   none of their own; with no reaction it has no place in FHIR and is a warning.
//! - Microsoft's converter writes the substance in `reaction.substance` and no `code`, and
//!   emits reactions without a manifestation (invalid FHIR); we follow C-CDA on FHIR. Where
//!   the concern act is completed but the Allergy Status observation says active, Microsoft
//!   says resolved; C-CDA on FHIR prefers the status observation, and so do we.

use roxmltree::Node;
use serde_json::{json, Map, Value};

use crate::ctx::Ctx;
use crate::datatypes::{put_array, TimeKind};
use crate::sections::problems::{author_time, comments, is_template};
use crate::sections::{author_ref, negated, related, status_code};
use crate::xml::El;

const CLINICAL: &str = "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical";
const VERIFICATION: &str = "http://terminology.hl7.org/CodeSystem/allergyintolerance-verification";
const SNOMED: &str = "http://snomed.info/sct";

pub fn map(ctx: &mut Ctx, el: Node) {
    if el.tag_name().name() == "observation" {
        if is_allergy_observation(el) {
            map_observation(ctx, el, None);
        } else {
            ctx.skip(
                el,
                "an observation in the allergies section that is not an allergy observation; not mapped",
            );
        }
        return;
    }
    let observations: Vec<Node> = related(el, None)
        .filter(|o| is_allergy_observation(*o))
        .collect();
    if observations.is_empty() {
        ctx.skip(
            el,
            "the allergy concern act holds no allergy observation; not mapped",
        );
        return;
    }
    for obs in observations {
        map_observation(ctx, obs, Some(el));
    }
}

/// An Allergy Intolerance Observation, by template or (untemplated) by its substance
/// participant.
fn is_allergy_observation(obs: Node) -> bool {
    obs.tag_name().name() == "observation"
        && (is_template(obs, "7")
            || (obs.template_ids().next().is_none()
                && obs
                    .children_named("participant")
                    .any(|p| p.attr("typeCode") == Some("CSM"))))
}

fn map_observation(ctx: &mut Ctx, obs: Node, concern: Option<Node>) {
    let value = obs.child("value");
    let value_code = value.and_then(|v| v.attr("code"));
    let entity = obs
        .children_named("participant")
        .filter(|p| p.attr("typeCode").is_none_or(|t| t == "CSM"))
        .find_map(|p| p.path(&["participantRole", "playingEntity"]));
    let entity_code = entity.and_then(|e| e.child("code"));
    let generic_substance = entity_code.is_none_or(|c| {
        (c.null_flavor().is_some() && c.attr("code").is_none())
            || c.attr("code") == Some("105590001")
    });
    let refuted_nka = negated(obs) && generic_substance;
    let code = if refuted_nka {
        Some(no_known(value_code))
    } else {
        entity_code.and_then(|c| ctx.concept(c)).or_else(|| {
            entity
                .and_then(|e| e.child("name"))
                .map(|n| n.text_content())
                .filter(|t| !t.is_empty())
                .map(|t| json!({ "text": t }))
        })
    };
    let Some(code) = code else {
        ctx.skip(
            obs,
            "the allergy observation has no substance code and no text; not mapped",
        );
        return;
    };

    let id = ctx.resource_id("AllergyIntolerance", obs);
    let mut a = Map::new();
    a.insert("resourceType".into(), json!("AllergyIntolerance"));
    a.insert("id".into(), json!(id));
    let ids = ctx.identifiers(obs);
    put_array(&mut a, "identifier", ids);
    let et = obs.child("effectiveTime");
    let ended = et
        .and_then(|e| e.child("high"))
        .is_some_and(|h| h.attr("value").is_some());
    let status = allergy_status(obs)
        .or_else(|| {
            concern.and_then(status_code).and_then(|s| match s {
                "active" if !ended => Some("active"),
                "active" | "completed" | "aborted" | "suspended" if ended => Some("resolved"),
                "completed" | "aborted" | "suspended" => Some("inactive"),
                _ => None,
            })
        })
        .unwrap_or(if ended { "resolved" } else { "active" });
    a.insert(
        "clinicalStatus".into(),
        json!({"coding": [{"system": CLINICAL, "code": status}]}),
    );
    if negated(obs) && !refuted_nka {
        // The document says the patient is not allergic to this substance.
        a.insert(
            "verificationStatus".into(),
            json!({"coding": [{"system": VERIFICATION, "code": "refuted", "display": "Refuted"}]}),
        );
    }
    let (kind, category) = value_code.map(type_category).unwrap_or((None, None));
    if let Some(t) = kind {
        a.insert("type".into(), json!(t));
    }
    if let Some(c) = category {
        a.insert("category".into(), json!([c]));
    }
    if let Some(c) = criticality(obs) {
        a.insert("criticality".into(), json!(c));
    }
    a.insert("code".into(), code);
    a.insert("patient".into(), json!({"reference": ctx.patient}));
    if let Some(t) = et.and_then(|e| {
        let point = e.child("low").unwrap_or(e);
        ctx.time(point, TimeKind::DateTime)
    }) {
        a.insert("onsetDateTime".into(), json!(t));
    }
    if let Some(t) = author_time(ctx, obs).or_else(|| concern.and_then(|c| author_time(ctx, c))) {
        a.insert("recordedDate".into(), json!(t));
    }
    if let Some(r) = author_ref(ctx, obs).or_else(|| concern.and_then(|c| author_ref(ctx, c))) {
        a.insert("recorder".into(), json!({ "reference": r }));
    }
    let notes = comments(ctx, obs);
    put_array(&mut a, "note", notes);
    let reactions = reactions(ctx, obs);
    put_array(&mut a, "reaction", reactions);
    ctx.push(Value::Object(a), obs);
}

/// The "no known …" concept for a negated allergy of no particular substance.
fn no_known(value_code: Option<&str>) -> Value {
    let (code, display) = match value_code {
        Some("416098002" | "419511003" | "59037007") => ("409137002", "No known drug allergy"),
        Some("414285001" | "418471000" | "235719002") => ("429625007", "No known food allergy"),
        Some("426232007" | "232347008") => ("428607008", "No known environmental allergy"),
        _ => ("716186003", "No known allergy"),
    };
    json!({"coding": [{"system": SNOMED, "code": code, "display": display}]})
}

/// The allergy observation's value → (`type`, `category`).
fn type_category(code: &str) -> (Option<&'static str>, Option<&'static str>) {
    match code {
        "419199007" | "609328004" => (Some("allergy"), None),
        "416098002" => (Some("allergy"), Some("medication")),
        "414285001" | "91935009" | "425525006" => (Some("allergy"), Some("food")),
        "426232007" | "232347008" | "418689008" => (Some("allergy"), Some("environment")),
        "59037007" => (Some("intolerance"), Some("medication")),
        "235719002" => (Some("intolerance"), Some("food")),
        "782197009" => (Some("intolerance"), None),
        "419511003" => (None, Some("medication")),
        "418471000" => (None, Some("food")),
        _ => (None, None),
    }
}

/// Allergy Status observation (`4.28`, or code 33999-4) → clinical status.
fn allergy_status(obs: Node) -> Option<&'static str> {
    related(obs, None)
        .filter(|o| {
            is_template(*o, "28") || o.child("code").and_then(|c| c.attr("code")) == Some("33999-4")
        })
        .find_map(|o| match o.child("value")?.attr("code")? {
            "55561003" => Some("active"),
            "73425007" => Some("inactive"),
            "413322009" => Some("resolved"),
            _ => None,
        })
}

/// Criticality observation (`4.145`, or code 82606-5) → criticality.
fn criticality(obs: Node) -> Option<&'static str> {
    related(obs, None)
        .filter(|o| {
            is_template(*o, "145")
                || o.child("code").and_then(|c| c.attr("code")) == Some("82606-5")
        })
        .find_map(|o| match o.child("value")?.attr("code")? {
            "CRITH" => Some("high"),
            "CRITL" => Some("low"),
            "CRITU" => Some("unable-to-assess"),
            _ => None,
        })
}

/// The severity of a Severity observation (`4.8`) among an element's relationships.
fn severity_of(el: Node) -> Option<Option<&'static str>> {
    let sev = related(el, None).find(|o| {
        is_template(*o, "8") || o.child("code").and_then(|c| c.attr("code")) == Some("SEV")
    })?;
    Some(
        sev.child("value")
            .and_then(|v| v.attr("code"))
            .and_then(|c| match c {
                "255604002" => Some("mild"),
                "6736007" | "371923003" => Some("moderate"),
                "24484000" | "371924009" | "399166001" => Some("severe"),
                _ => None,
            }),
    )
}

fn reactions(ctx: &mut Ctx, obs: Node) -> Vec<Value> {
    let own_severity = severity_of(obs);
    let mut out = Vec::new();
    let reactions: Vec<Node> = related(obs, None)
        .filter(|r| {
            is_template(*r, "9")
                || (r.template_ids().next().is_none()
                    && r.parent().and_then(|p| p.attr("typeCode")) == Some("MFST"))
        })
        .collect();
    for r in reactions {
        let Some(manifestation) = r.child("value").and_then(|v| ctx.concept(v)) else {
            ctx.warn(
                r,
                "the reaction observation has no coded value (FHIR requires a manifestation); left out",
            );
            continue;
        };
        let mut reaction = Map::new();
        reaction.insert("manifestation".into(), json!([manifestation]));
        if let Some(t) = r.child("effectiveTime").and_then(|et| {
            let point = et.child("low").unwrap_or(et);
            ctx.time(point, TimeKind::DateTime)
        }) {
            reaction.insert("onset".into(), json!(t));
        }
        match severity_of(r).or(own_severity) {
            Some(Some(s)) => {
                reaction.insert("severity".into(), json!(s));
            }
            Some(None) => ctx.warn(
                r,
                "the severity is not mild, moderate or severe in SNOMED CT; left out",
            ),
            None => {}
        }
        out.push(Value::Object(reaction));
    }
    if out.is_empty() && own_severity.is_some() {
        ctx.warn(
            obs,
            "the allergy has a severity but no reaction to put it on (FHIR keeps severity per reaction); left out",
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use crate::sections::problems::test_doc::*;

    fn allergy(status: &str, obs_attrs: &str, value: &str, substance: &str, inner: &str) -> String {
        format!(
            r#"<entry><act classCode="ACT" moodCode="EVN">
  <templateId root="2.16.840.1.113883.10.20.22.4.30" extension="2015-08-01"/>
  <id root="1.2.3.30" extension="{status}{value}"/>
  <code code="CONC" codeSystem="2.16.840.1.113883.5.6"/>
  <statusCode code="{status}"/>
  <author><time value="20200102"/><assignedAuthor><id root="2.16.840.1.113883.4.6" extension="99"/></assignedAuthor></author>
  <entryRelationship typeCode="SUBJ"><observation classCode="OBS" moodCode="EVN" {obs_attrs}>
    <templateId root="2.16.840.1.113883.10.20.22.4.7" extension="2014-06-09"/>
    <id root="1.2.3.7" extension="a-{status}-{value}"/>
    <code code="ASSERTION" codeSystem="2.16.840.1.113883.5.4"/>
    <statusCode code="completed"/>
    <effectiveTime><low value="19980501"/></effectiveTime>
    <value xsi:type="CD" code="{value}" codeSystem="2.16.840.1.113883.6.96"/>
    <participant typeCode="CSM"><participantRole classCode="MANU"><playingEntity classCode="MMAT">{substance}</playingEntity></participantRole></participant>
    {inner}
  </observation></entryRelationship>
</act></entry>"#
        )
    }

    const PENICILLIN: &str =
        r#"<code code="7980" codeSystem="2.16.840.1.113883.6.88" displayName="Penicillin"/>"#;
    const REACTION: &str = r#"<entryRelationship typeCode="MFST" inversionInd="true"><observation classCode="OBS" moodCode="EVN"><templateId root="2.16.840.1.113883.10.20.22.4.9"/><id root="1.2.3.9"/><code code="ASSERTION" codeSystem="2.16.840.1.113883.5.4"/><statusCode code="completed"/><effectiveTime><low value="20080226"/></effectiveTime><value xsi:type="CD" code="247472004" codeSystem="2.16.840.1.113883.6.96" displayName="Hives"/>
      <entryRelationship typeCode="SUBJ" inversionInd="true"><observation classCode="OBS" moodCode="EVN"><templateId root="2.16.840.1.113883.10.20.22.4.8"/><code code="SEV" codeSystem="2.16.840.1.113883.5.4"/><value xsi:type="CD" code="6736007" codeSystem="2.16.840.1.113883.6.96"/></observation></entryRelationship>
    </observation></entryRelationship>
    <entryRelationship typeCode="SUBJ" inversionInd="true"><observation classCode="OBS" moodCode="EVN"><templateId root="2.16.840.1.113883.10.20.22.4.145"/><code code="82606-5" codeSystem="2.16.840.1.113883.6.1"/><value xsi:type="CD" code="CRITH" codeSystem="2.16.840.1.113883.5.1063"/></observation></entryRelationship>
    <entryRelationship typeCode="SUBJ" inversionInd="true"><observation classCode="OBS" moodCode="EVN"><templateId root="2.16.840.1.113883.10.20.22.4.28"/><code code="33999-4" codeSystem="2.16.840.1.113883.6.1"/><value xsi:type="CD" code="73425007" codeSystem="2.16.840.1.113883.6.96"/></observation></entryRelationship>"#;

    #[test]
    fn allergy_with_reaction_severity_and_criticality() {
        let xml = document(&[section(
            "48765-2",
            &allergy("active", "", "416098002", PENICILLIN, REACTION),
        )]);
        let m = map(&xml);
        let a = of_type(&m, "AllergyIntolerance");
        assert_eq!(a.len(), 1);
        let a = a[0];
        assert_eq!(a["code"]["coding"][0]["code"], "7980");
        assert_eq!(
            a["code"]["coding"][0]["system"],
            "http://www.nlm.nih.gov/research/umls/rxnorm"
        );
        assert_eq!(a["type"], "allergy");
        assert_eq!(a["category"][0], "medication");
        assert_eq!(a["criticality"], "high");
        // The status observation wins over the concern's statusCode.
        assert_eq!(a["clinicalStatus"]["coding"][0]["code"], "inactive");
        assert!(a.get("verificationStatus").is_none());
        assert_eq!(a["onsetDateTime"], "1998-05-01");
        assert_eq!(a["recordedDate"], "2020-01-02");
        assert!(a["recorder"]["reference"]
            .as_str()
            .unwrap()
            .starts_with("Practitioner/"));
        assert_eq!(
            a["reaction"][0]["manifestation"][0]["coding"][0]["code"],
            "247472004"
        );
        assert_eq!(a["reaction"][0]["severity"], "moderate");
        assert_eq!(a["reaction"][0]["onset"], "2008-02-26");
        assert_eq!(a["patient"]["reference"], patient(&m).as_str());
        let again = map(&xml);
        assert_eq!(of_type(&again, "AllergyIntolerance")[0]["id"], a["id"]);
    }

    #[test]
    fn no_known_allergies_and_refuted_substances() {
        let entries = format!(
            "{}{}{}",
            allergy(
                "active",
                r#"negationInd="true""#,
                "416098002",
                r#"<code nullFlavor="NA"/>"#,
                ""
            ),
            allergy(
                "active",
                r#"negationInd="true""#,
                "419199007",
                PENICILLIN,
                ""
            ),
            allergy("completed", "", "419511003", PENICILLIN, ""),
        );
        let m = map(&document(&[section("48765-2", &entries)]));
        let a = of_type(&m, "AllergyIntolerance");
        assert_eq!(a.len(), 3);
        assert_eq!(a[0]["code"]["coding"][0]["code"], "409137002");
        assert!(a[0].get("verificationStatus").is_none());
        assert_eq!(a[0]["clinicalStatus"]["coding"][0]["code"], "active");
        assert_eq!(a[1]["code"]["coding"][0]["code"], "7980");
        assert_eq!(a[1]["verificationStatus"]["coding"][0]["code"], "refuted");
        assert_eq!(a[1]["type"], "allergy");
        assert!(a[1].get("category").is_none());
        assert_eq!(a[2]["clinicalStatus"]["coding"][0]["code"], "inactive");
        assert!(a[2].get("type").is_none());
        assert_eq!(a[2]["category"][0], "medication");
    }

    #[test]
    fn allergy_without_substance_is_skipped_without_values() {
        let entries = allergy("active", "", "419199007", r#"<code nullFlavor="UNK"/>"#, "");
        let m = map(&document(&[section("48765-2", &entries)]));
        assert!(of_type(&m, "AllergyIntolerance").is_empty());
        assert_eq!(m.skipped.len(), 1);
        assert!(m.skipped[0].reason.contains("no substance"));
        assert!(!m.skipped[0].reason.contains("419199007"));
    }
}
