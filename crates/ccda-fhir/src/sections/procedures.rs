//! Procedures → Procedure.
//!
//! Procedure Activity Procedure (`2.16.840.1.113883.10.20.22.4.14`), Act (`4.12`) and
//! Observation (`4.13`), `moodCode="EVN"`, are each one Procedure (as the C-CDA on FHIR
//! procedure mapping does for all three), its id from the entry's `id`.
//!
//! | Procedure | C-CDA |
//! |---|---|
//! | `status` | `statusCode` (table below); `negationInd="true"` → `not-done` |
//! | `code` | `code` (with translations and original text); the entry's `text` when not coded |
//! | `performedDateTime` / `performedPeriod` | `effectiveTime` (a point, or an interval with an end) |
//! | `bodySite` | `targetSiteCode` |
//! | `performer` | `performer/assignedEntity` as `actor` (Practitioner), its `representedOrganization` as `onBehalfOf` |
//! | `location` | the first `participant[@typeCode="LOC"]/participantRole` (Location) |
//! | `reasonCode` | Indications (`4.19`, RSON) `value` |
//! | `recorder` | the first `author` |
//! | `note` | Comment Activities (`4.64`) |
//!
//! statusCode → status: completed → completed, active → in-progress, aborted → stopped,
//! cancelled → not-done, new → preparation, held and suspended → on-hold, nullified →
//! entered-in-error, other or none → unknown.
//!
//! A planned procedure (`moodCode` other than EVN) in this section is skipped: the Plan of
//! Treatment section maps plans (ServiceRequest), and a Procedure records what was done.
//! Microsoft's converter maps only the `procedure` element to Procedure; we also map the act
//! and observation forms, which describe procedures too.

use roxmltree::Node;
use serde_json::{json, Map, Value};

use crate::ctx::Ctx;
use crate::datatypes::put_array;
use crate::header::{map_location, map_organization, map_practitioner};
use crate::sections::problems::{comments, is_template};
use crate::sections::{author_ref, negated, related, status_code};
use crate::xml::El;

pub fn map(ctx: &mut Ctx, el: Node) {
    let name = el.tag_name().name();
    if !matches!(name, "procedure" | "act" | "observation") {
        ctx.skip(
            el,
            "an entry in the procedures section that is not a procedure activity; not mapped",
        );
        return;
    }
    if el.attr("moodCode").unwrap_or("EVN") != "EVN" {
        ctx.skip(
            el,
            "a planned procedure (moodCode other than EVN) is not a Procedure that was done; not mapped",
        );
        return;
    }
    map_procedure(ctx, el);
}

/// One procedure activity as a Procedure: its reference.
pub(crate) fn map_procedure(ctx: &mut Ctx, el: Node) -> Option<String> {
    let code = el.child("code").and_then(|c| ctx.concept(c)).or_else(|| {
        el.child("text")
            .and_then(|t| ctx.text_of(t))
            .map(|t| json!({ "text": t }))
    });
    let Some(code) = code else {
        ctx.skip(el, "the procedure has no code and no text; not mapped");
        return None;
    };
    let id = ctx.resource_id("Procedure", el);
    let mut p = Map::new();
    p.insert("resourceType".into(), json!("Procedure"));
    p.insert("id".into(), json!(id));
    let ids = ctx.identifiers(el);
    put_array(&mut p, "identifier", ids);
    let status = if negated(el) {
        "not-done"
    } else {
        match status_code(el) {
            Some("completed") => "completed",
            Some("active") => "in-progress",
            Some("aborted") => "stopped",
            Some("cancelled") => "not-done",
            Some("new") => "preparation",
            Some("held" | "suspended") => "on-hold",
            Some("nullified") => "entered-in-error",
            _ => "unknown",
        }
    };
    p.insert("status".into(), json!(status));
    p.insert("code".into(), code);
    p.insert("subject".into(), json!({"reference": ctx.patient}));
    if let Some((kind, v)) = el
        .child("effectiveTime")
        .filter(|t| t.null_flavor().is_none())
        .and_then(|t| ctx.effective(t))
    {
        p.insert(format!("performed{kind}"), v);
    }
    if let Some(r) = author_ref(ctx, el) {
        p.insert("recorder".into(), json!({ "reference": r }));
    }
    let mut performers = Vec::new();
    let entities: Vec<Node> = el
        .children_named("performer")
        .filter_map(|p| p.child("assignedEntity"))
        .collect();
    for entity in entities {
        let person = map_practitioner(ctx, entity, "assignedPerson");
        let org = entity
            .child("representedOrganization")
            .and_then(|o| map_organization(ctx, o));
        let mut performer = Map::new();
        match (person, org) {
            (Some(person), org) => {
                performer.insert("actor".into(), json!({ "reference": person }));
                if let Some(o) = org {
                    performer.insert("onBehalfOf".into(), json!({ "reference": o }));
                }
            }
            (None, Some(o)) => {
                performer.insert("actor".into(), json!({ "reference": o }));
            }
            (None, None) => continue,
        }
        performers.push(Value::Object(performer));
    }
    put_array(&mut p, "performer", performers);
    let location = el
        .children_named("participant")
        .filter(|p| p.attr("typeCode") == Some("LOC"))
        .filter_map(|p| p.child("participantRole"))
        .collect::<Vec<_>>()
        .into_iter()
        .find_map(|role| map_location(ctx, role));
    if let Some(l) = location {
        p.insert("location".into(), json!({ "reference": l }));
    }
    let reasons: Vec<Value> = related(el, Some("RSON"))
        .filter(|o| is_template(*o, "19") || o.tag_name().name() == "observation")
        .filter_map(|o| o.child("value").and_then(|v| ctx.concept(v)))
        .collect();
    put_array(&mut p, "reasonCode", reasons);
    let sites: Vec<Value> = el
        .children_named("targetSiteCode")
        .filter_map(|s| ctx.concept(s))
        .collect();
    put_array(&mut p, "bodySite", sites);
    let notes = comments(ctx, el);
    put_array(&mut p, "note", notes);
    Some(ctx.push(Value::Object(p), el))
}

#[cfg(test)]
mod tests {
    use crate::sections::problems::test_doc::*;

    fn procedure(element: &str, id: &str, attrs: &str, status: &str, time: &str) -> String {
        format!(
            r#"<entry><{element} classCode="PROC" moodCode="EVN" {attrs}>
  <templateId root="2.16.840.1.113883.10.20.22.4.14"/>
  <id root="1.2.3.14" extension="{id}"/>
  <code code="80146002" codeSystem="2.16.840.1.113883.6.96" displayName="Appendectomy"/>
  <statusCode code="{status}"/>
  {time}
  <targetSiteCode code="66754008" codeSystem="2.16.840.1.113883.6.96" displayName="Appendix"/>
  <performer><assignedEntity><id root="2.16.840.1.113883.4.6" extension="77"/>
    <representedOrganization><id root="2.16.840.1.113883.19.5"/><name>Community Hospital</name></representedOrganization>
  </assignedEntity></performer>
  <participant typeCode="LOC"><participantRole classCode="SDLOC"><templateId root="2.16.840.1.113883.10.20.22.4.32"/><id root="1.2.3.32"/><code code="1160-1" codeSystem="2.16.840.1.113883.6.259" displayName="Urgent Care Center"/><playingEntity classCode="PLC"><name>Community Urgent Care</name></playingEntity></participantRole></participant>
  <entryRelationship typeCode="RSON"><observation classCode="OBS" moodCode="EVN"><templateId root="2.16.840.1.113883.10.20.22.4.19"/><id root="1.2.3.19"/><code code="404684003" codeSystem="2.16.840.1.113883.6.96"/><value xsi:type="CD" code="74400008" codeSystem="2.16.840.1.113883.6.96"/></observation></entryRelationship>
</{element}></entry>"#
        )
    }

    #[test]
    fn procedures_acts_and_observations() {
        let entries = format!(
            "{}{}{}{}",
            procedure(
                "procedure",
                "p1",
                "",
                "completed",
                r#"<effectiveTime><low value="20120806"/><high value="20120807"/></effectiveTime>"#
            ),
            procedure(
                "act",
                "p2",
                "",
                "active",
                r#"<effectiveTime value="20120806"/>"#
            ),
            procedure(
                "observation",
                "p3",
                r#"negationInd="true""#,
                "completed",
                ""
            ),
            procedure("procedure", "p4", "", "new", "")
                .replace(r#"moodCode="EVN""#, r#"moodCode="INT""#),
        );
        let xml = document(&[section("47519-4", &entries)]);
        let m = map(&xml);
        let p = of_type(&m, "Procedure");
        assert_eq!(p.len(), 3);
        assert_eq!(p[0]["status"], "completed");
        assert_eq!(p[0]["code"]["coding"][0]["code"], "80146002");
        assert_eq!(p[0]["performedPeriod"]["start"], "2012-08-06");
        assert_eq!(p[0]["performedPeriod"]["end"], "2012-08-07");
        assert_eq!(p[0]["bodySite"][0]["coding"][0]["code"], "66754008");
        assert_eq!(p[0]["reasonCode"][0]["coding"][0]["code"], "74400008");
        let org = of_type(&m, "Organization");
        let loc = of_type(&m, "Location");
        assert_eq!(
            p[0]["performer"][0]["onBehalfOf"]["reference"],
            reference(org[0]).as_str()
        );
        assert!(p[0]["performer"][0]["actor"]["reference"]
            .as_str()
            .unwrap()
            .starts_with("Practitioner/"));
        assert_eq!(p[0]["location"]["reference"], reference(loc[0]).as_str());
        assert_eq!(p[0]["subject"]["reference"], patient(&m).as_str());
        assert_eq!(p[1]["status"], "in-progress");
        assert_eq!(p[1]["performedDateTime"], "2012-08-06");
        assert_eq!(p[2]["status"], "not-done");
        assert!(p[2].get("performedDateTime").is_none());
        assert_eq!(m.skipped.len(), 1);
        assert!(m.skipped[0].reason.contains("planned"));
        let again = map(&xml);
        assert_eq!(of_type(&again, "Procedure")[1]["id"], p[1]["id"]);
    }
}
