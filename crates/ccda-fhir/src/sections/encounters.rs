//! Encounters → Encounter (and the Conditions diagnosed in them).
//!
//! An Encounter Activity (`2.16.840.1.113883.10.20.22.4.49`, `moodCode="EVN"`) is one
//! Encounter, its id from the activity's `id`.
//!
//! | Encounter | C-CDA |
//! |---|---|
//! | `status` | `statusCode` (table below); without one, `finished` when the period has an end or is a point, else `unknown` (the mapping has no clock, so "in the past" cannot be told) |
//! | `class` | the `code` or a translation in HL7 ActCode (`header::encounter_class`); `UNK` otherwise, FHIR requires one |
//! | `type` | `code` (with translations and original text) |
//! | `period` | `effectiveTime`: `low`/`high`; a point `value` is the start |
//! | `participant` | `performer/assignedEntity` (Practitioner), type from the performer's `typeCode` |
//! | `location` | `participant[@typeCode="LOC"]/participantRole` (Service Delivery Location → Location) |
//! | `diagnosis` | Encounter Diagnosis acts (`4.80`): their Problem Observations become Conditions (category `encounter-diagnosis`, `encounter` this one) via `problems` |
//! | `reasonCode` | Indications (`4.19`, RSON) `value` |
//! | `hospitalization.dischargeDisposition` | `sdtc:dischargeDispositionCode` |
//!
//! statusCode → status: completed → finished, active → in-progress, aborted and cancelled →
//! cancelled, nullified → entered-in-error, new → planned; anything else falls back on the
//! period as above.
//!
//! A planned encounter (`moodCode` other than EVN) in this section is skipped: the Plan of
//! Treatment section maps plans, and an Encounter with status `planned` from the encounters
//! list would be a guess at what the sender meant.

use roxmltree::Node;
use serde_json::{json, Map, Value};

use crate::ctx::Ctx;
use crate::datatypes::put_array;
use crate::header::{encounter_class, map_location, map_practitioner};
use crate::sections::problems::{self, is_template, Category};
use crate::sections::related;
use crate::sections::status_code;
use crate::xml::{El, SDTC};

pub fn map(ctx: &mut Ctx, el: Node) {
    if el.tag_name().name() != "encounter" {
        ctx.skip(
            el,
            "an entry in the encounters section that is not an encounter activity; not mapped",
        );
        return;
    }
    if el.attr("moodCode").unwrap_or("EVN") != "EVN" {
        ctx.skip(
            el,
            "a planned encounter (moodCode other than EVN) in the encounters section; not mapped",
        );
        return;
    }
    map_encounter(ctx, el);
}

/// One Encounter Activity as an Encounter: its reference.
pub(crate) fn map_encounter(ctx: &mut Ctx, el: Node) -> String {
    let et = el
        .child("effectiveTime")
        .filter(|t| t.null_flavor().is_none());
    let period = et.and_then(|t| ctx.period(t));
    let code = el.child("code");
    let kind = code.and_then(|c| ctx.concept(c)).map(|t| json!([t]));
    // The id is settled first: the Conditions diagnosed here refer to it.
    let mut probe = Map::new();
    if let Some(k) = &kind {
        probe.insert("type".into(), k.clone());
    }
    if let Some(p) = &period {
        probe.insert("period".into(), p.clone());
    }
    let probe = Value::Object(probe);
    let id = ctx.resource_id("Encounter", el);
    // The encounter the document is about, listed again as an entry (same id): one Encounter,
    // the entry adding what the header did not say.
    let header = ctx.encounter.as_deref() == Some(format!("Encounter/{id}").as_str());
    let id = if header {
        id
    } else {
        ctx.distinct_id("Encounter", el, id, &probe)
    };
    let reference = format!("Encounter/{id}");
    let mut e = Map::new();
    e.insert("resourceType".into(), json!("Encounter"));
    e.insert("id".into(), json!(id));
    let ids = ctx.identifiers(el);
    put_array(&mut e, "identifier", ids);
    let ended = et.is_some_and(|t| {
        t.attr("value").is_some() || t.child("high").is_some_and(|h| h.attr("value").is_some())
    });
    let status = match status_code(el) {
        Some("completed") => "finished",
        Some("active") => "in-progress",
        Some("aborted" | "cancelled") => "cancelled",
        Some("nullified") => "entered-in-error",
        Some("new") => "planned",
        _ if ended => "finished",
        _ => "unknown",
    };
    e.insert("status".into(), json!(status));
    e.insert("class".into(), encounter_class(code));
    if let Some(t) = kind {
        e.insert("type".into(), t);
    }
    e.insert("subject".into(), json!({"reference": ctx.patient}));
    let mut participants = Vec::new();
    let performers: Vec<Node> = el.children_named("performer").collect();
    for performer in performers {
        let Some(entity) = performer.child("assignedEntity") else {
            continue;
        };
        let Some(r) = map_practitioner(ctx, entity, "assignedPerson") else {
            continue;
        };
        let mut part = Map::new();
        if let Some(t) = performer.attr("typeCode") {
            part.insert(
                "type".into(),
                json!([{"coding": [{
                    "system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType",
                    "code": t
                }]}]),
            );
        }
        part.insert("individual".into(), json!({ "reference": r }));
        participants.push(Value::Object(part));
    }
    put_array(&mut e, "participant", participants);
    if let Some(p) = period {
        e.insert("period".into(), p);
    }
    let reasons: Vec<Value> = related(el, Some("RSON"))
        .filter(|o| is_template(*o, "19"))
        .filter_map(|o| o.child("value").and_then(|v| ctx.concept(v)))
        .collect();
    put_array(&mut e, "reasonCode", reasons);
    let diagnosis_acts: Vec<Node> = related(el, None)
        .filter(|a| {
            is_template(*a, "80")
                || (a.tag_name().name() == "act"
                    && a.child("code").and_then(|c| c.attr("code")) == Some("29308-4"))
        })
        .collect();
    let mut diagnoses = Vec::new();
    for act in diagnosis_acts {
        let conditions =
            problems::map_concern(ctx, act, Category::EncounterDiagnosis, Some(&reference));
        if conditions.is_empty() {
            ctx.skip(
                act,
                "the encounter diagnosis act holds no problem observation; not mapped",
            );
        }
        diagnoses.extend(
            conditions
                .into_iter()
                .map(|c| json!({"condition": {"reference": c}})),
        );
    }
    put_array(&mut e, "diagnosis", diagnoses);
    if let Some(d) = el
        .child_ns(SDTC, "dischargeDispositionCode")
        .and_then(|c| ctx.concept(c))
    {
        e.insert(
            "hospitalization".into(),
            json!({ "dischargeDisposition": d }),
        );
    }
    let locations: Vec<Node> = el
        .children_named("participant")
        .filter(|p| p.attr("typeCode") == Some("LOC"))
        .filter_map(|p| p.child("participantRole"))
        .collect();
    let locations: Vec<Value> = locations
        .into_iter()
        .filter_map(|role| map_location(ctx, role))
        .map(|l| json!({"location": {"reference": l}}))
        .collect();
    put_array(&mut e, "location", locations);
    if header {
        if let Some(Value::Object(existing)) = ctx.resource_mut(&reference) {
            for (k, v) in e {
                existing.entry(k).or_insert(v);
            }
        }
        return reference;
    }
    ctx.push(Value::Object(e), el)
}

#[cfg(test)]
mod tests {
    use crate::sections::problems::test_doc::*;

    fn encounter(id: &str, status: &str, time: &str, inner: &str) -> String {
        format!(
            r#"<entry><encounter classCode="ENC" moodCode="EVN">
  <templateId root="2.16.840.1.113883.10.20.22.4.49" extension="2015-08-01"/>
  <id root="1.2.3.49" extension="{id}"/>
  <code code="99213" codeSystem="2.16.840.1.113883.6.12" displayName="Office visit"><translation code="AMB" codeSystem="2.16.840.1.113883.5.4"/></code>
  {status}
  {time}
  <performer><assignedEntity><id root="2.16.840.1.113883.4.6" extension="88"/></assignedEntity></performer>
  <participant typeCode="LOC"><participantRole classCode="SDLOC"><templateId root="2.16.840.1.113883.10.20.22.4.32"/><id root="1.2.3.32"/><code code="1160-1" codeSystem="2.16.840.1.113883.6.259"/><playingEntity classCode="PLC"><name>Urgent Care</name></playingEntity></participantRole></participant>
  {inner}
</encounter></entry>"#
        )
    }

    const DIAGNOSIS: &str = r#"<entryRelationship typeCode="SUBJ"><act classCode="ACT" moodCode="EVN"><templateId root="2.16.840.1.113883.10.20.22.4.80" extension="2015-08-01"/><code code="29308-4" codeSystem="2.16.840.1.113883.6.1"/>
      <entryRelationship typeCode="SUBJ"><observation classCode="OBS" moodCode="EVN"><templateId root="2.16.840.1.113883.10.20.22.4.4"/><id root="1.2.3.4" extension="dx1"/><code code="282291009" codeSystem="2.16.840.1.113883.6.96"/><statusCode code="completed"/><effectiveTime><low value="20120806"/></effectiveTime><value xsi:type="CD" code="233604007" codeSystem="2.16.840.1.113883.6.96" displayName="Pneumonia"/></observation></entryRelationship>
    </act></entryRelationship>
    <entryRelationship typeCode="RSON"><observation classCode="OBS" moodCode="EVN"><templateId root="2.16.840.1.113883.10.20.22.4.19"/><id root="1.2.3.19"/><code code="404684003" codeSystem="2.16.840.1.113883.6.96"/><value xsi:type="CD" code="386661006" codeSystem="2.16.840.1.113883.6.96" displayName="Fever"/></observation></entryRelationship>"#;

    #[test]
    fn encounter_with_diagnosis_location_and_reason() {
        let entries = format!(
            "{}{}",
            encounter("e1", "", r#"<effectiveTime value="20120806"/>"#, DIAGNOSIS),
            encounter(
                "e2",
                r#"<statusCode code="active"/>"#,
                r#"<effectiveTime><low value="20120807"/></effectiveTime>"#,
                ""
            ),
        );
        let xml = document(&[section("46240-8", &entries)]);
        let m = map(&xml);
        let e = of_type(&m, "Encounter");
        assert_eq!(e.len(), 2);
        assert_eq!(e[0]["status"], "finished");
        assert_eq!(e[0]["class"]["code"], "AMB");
        assert_eq!(e[0]["type"][0]["coding"][0]["code"], "99213");
        assert_eq!(e[0]["period"]["start"], "2012-08-06");
        assert_eq!(e[0]["reasonCode"][0]["coding"][0]["code"], "386661006");
        assert!(e[0]["participant"][0]["individual"]["reference"]
            .as_str()
            .unwrap()
            .starts_with("Practitioner/"));
        let loc = of_type(&m, "Location");
        assert_eq!(
            e[0]["location"][0]["location"]["reference"],
            reference(loc[0]).as_str()
        );
        let c = of_type(&m, "Condition");
        assert_eq!(c.len(), 1);
        assert_eq!(c[0]["code"]["coding"][0]["code"], "233604007");
        assert_eq!(
            c[0]["category"][0]["coding"][0]["code"],
            "encounter-diagnosis"
        );
        assert_eq!(c[0]["encounter"]["reference"], reference(e[0]).as_str());
        assert_eq!(
            e[0]["diagnosis"][0]["condition"]["reference"],
            reference(c[0]).as_str()
        );
        assert_eq!(e[1]["status"], "in-progress");
        assert_eq!(e[0]["subject"]["reference"], patient(&m).as_str());
        let again = map(&xml);
        assert_eq!(of_type(&again, "Encounter")[0]["id"], e[0]["id"]);
        assert_eq!(of_type(&again, "Condition")[0]["id"], c[0]["id"]);
    }

    #[test]
    fn encounters_reusing_an_id_stay_apart() {
        let first = encounter(
            "same",
            "",
            r#"<effectiveTime value="20120806"/>"#,
            DIAGNOSIS,
        );
        let second = encounter("same", "", r#"<effectiveTime value="20130101"/>"#, "");
        let m = map(&document(&[section(
            "46240-8",
            &format!("{first}{second}{first}"),
        )]));
        let e = of_type(&m, "Encounter");
        assert_eq!(e.len(), 2);
        assert_ne!(e[0]["id"], e[1]["id"]);
        assert_eq!(e[1]["period"]["start"], "2013-01-01");
        assert!(m.warnings.iter().any(|w| w.reason.contains("id")));
    }

    #[test]
    fn the_documented_encounter_listed_again_is_one_encounter() {
        let header = r#"<componentOf><encompassingEncounter><id root="1.2.3.49" extension="e1"/><effectiveTime><low value="20120806"/><high value="20120807"/></effectiveTime></encompassingEncounter></componentOf>"#;
        let entry = encounter("e1", "", r#"<effectiveTime value="20120806"/>"#, DIAGNOSIS);
        let m = map(&document_with(&[section("46240-8", &entry)], header));
        let e = of_type(&m, "Encounter");
        assert_eq!(e.len(), 1);
        assert_eq!(e[0]["period"]["end"], "2012-08-07");
        assert_eq!(e[0]["type"][0]["coding"][0]["code"], "99213");
        let c = of_type(&m, "Condition");
        assert_eq!(c[0]["encounter"]["reference"], reference(e[0]).as_str());
        assert_eq!(
            e[0]["diagnosis"][0]["condition"]["reference"],
            reference(c[0]).as_str()
        );
    }

    #[test]
    fn encounter_without_status_or_end_is_unknown() {
        let entry = encounter(
            "e3",
            "",
            r#"<effectiveTime><low value="20120807"/></effectiveTime>"#,
            "",
        )
        .replace(
            r#"<translation code="AMB" codeSystem="2.16.840.1.113883.5.4"/>"#,
            "",
        );
        let m = map(&document(&[section("46240-8", &entry)]));
        let e = of_type(&m, "Encounter");
        assert_eq!(e[0]["status"], "unknown");
        assert_eq!(e[0]["class"]["code"], "UNK");
    }
}
