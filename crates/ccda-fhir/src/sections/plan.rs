//! The Plan of Treatment section (and planned entries of assessment sections): each planned
//! entry → ServiceRequest or MedicationRequest, goals → Goal, and one CarePlan for the
//! section that names them.
//!
//! | C-CDA | FHIR |
//! |---|---|
//! | Planned Act (4.39), Planned Encounter (4.40), Planned Procedure (4.41), Planned Observation (4.44), Planned Supply (4.43), Nutrition Recommendation (4.130) and any other act in a planned mood | ServiceRequest |
//! | Planned Medication Activity (4.42), Planned Immunization Activity (4.120) (`substanceAdministration`) | MedicationRequest (a vaccine order is a MedicationRequest in US Core; FHIR's ImmunizationRecommendation is a forecast, not a plan) |
//! | Goal Observation (4.121), any observation in mood GOL | Goal (see [`super::goals`]) |
//! | Handoff Communication Participants (4.141) | Communication (see below; not a CarePlan activity: it happened) |
//! | an entry in mood EVN | not mapped: it is not planned |
//!
//! | `moodCode` | `intent` |
//! |---|---|
//! | INT, PRMS | plan |
//! | RQO, ARQ, APT | order |
//! | PRP | proposal |
//!
//! | `statusCode` | ServiceRequest.status | MedicationRequest.status |
//! |---|---|---|
//! | active, new | active | active |
//! | completed | completed | completed |
//! | cancelled, aborted | revoked | cancelled |
//! | held, suspended | on-hold | on-hold |
//! | nullified | entered-in-error | entered-in-error |
//! | none, other | unknown | unknown |
//!
//! `code` → `code` (a supply's product code when the supply has none; the narrative text
//! when there is no code at all; without either not mapped), `effectiveTime` →
//! `occurrence[x]`, `author` → `requester` (its `time` → `authoredOn`), `performer` →
//! `performer`, `priorityCode` → `priority`, RSON indications → `reasonCode`,
//! `targetSiteCode` → `bodySite`, `negationInd` → `doNotPerform`. Requests take the
//! document's encounter: they were made in it.
//!
//! A handoff communication (who was told of the plan) is a Communication: `statusCode` →
//! `status` (completed, active → in-progress, aborted → stopped, cancelled → not-done,
//! nullified → entered-in-error, else unknown), `code` → `category`, `effectiveTime` → `sent`,
//! the author → `sender`, each IRCP participant (`participantRole/playingEntity`) → a
//! Practitioner in `recipient`.
//!
//! The CarePlan (US Core): status active, intent plan, category `assess-plan`, the section's
//! title, goals in `goal` and requests in `activity`, and the section's narrative as `text`
//! (status `additional`, US Core requires a narrative); made only when the section produced
//! something. Its id is from the section's position (a section has no id).

use roxmltree::Node;
use serde_json::{json, Map, Value};

use crate::ctx::Ctx;
use crate::datatypes::{put_array, TimeKind};
use crate::header::{map_practitioner, xhtml_escape};
use crate::sections::observation::{code_of, effective, is_sdoh, US_CORE};
use crate::sections::{author_ref, goals, negated, performer_refs, related, status_code};
use crate::xml::El;

const E: &str = "2.16.840.1.113883.10.20.22.4.";

/// Map one planned entry; returns the references of what it became (for the CarePlan).
pub fn map(ctx: &mut Ctx, el: Node) -> Vec<String> {
    let mood = el.attr("moodCode");
    if el.has_template(&format!("{E}141")) {
        // It happened: a Communication, not an activity of the plan.
        handoff_communication(ctx, el);
        return Vec::new();
    }
    if mood == Some("GOL") || el.has_template(&format!("{E}121")) {
        return goals::map_goal(ctx, el).into_iter().collect();
    }
    let Some(intent) = mood.and_then(intent) else {
        ctx.skip(
            el,
            "a plan entry that is not in a planned mood (INT, RQO, PRP, ARQ, APT, PRMS); not mapped",
        );
        return Vec::new();
    };
    let made = match el.tag_name().name() {
        "substanceAdministration" => medication_request(ctx, el, intent),
        "act" | "encounter" | "procedure" | "observation" | "supply" => {
            service_request(ctx, el, intent)
        }
        _ => {
            ctx.skip(el, "a plan entry of a kind this mapping does not know");
            None
        }
    };
    made.into_iter().collect()
}

fn intent(mood: &str) -> Option<&'static str> {
    Some(match mood {
        "INT" | "PRMS" => "plan",
        "RQO" | "ARQ" | "APT" => "order",
        "PRP" => "proposal",
        _ => return None,
    })
}

fn service_status(code: Option<&str>) -> &'static str {
    match code {
        Some("active" | "new") => "active",
        Some("completed") => "completed",
        Some("cancelled" | "aborted") => "revoked",
        Some("held" | "suspended") => "on-hold",
        Some("nullified") => "entered-in-error",
        _ => "unknown",
    }
}

fn medication_status(code: Option<&str>) -> &'static str {
    match code {
        Some("active" | "new") => "active",
        Some("completed") => "completed",
        Some("cancelled" | "aborted") => "cancelled",
        Some("held" | "suspended") => "on-hold",
        Some("nullified") => "entered-in-error",
        _ => "unknown",
    }
}

fn priority(el: Node) -> Option<&'static str> {
    Some(match el.child("priorityCode")?.attr("code")? {
        "R" | "RR" => "routine",
        "UR" => "urgent",
        "S" | "EM" | "CR" => "stat",
        "A" | "AS" => "asap",
        _ => return None,
    })
}

/// The code of a planned act; for a supply, its product's.
fn request_code(ctx: &Ctx, el: Node) -> Option<Value> {
    if let Some(c) = el.child("code").and_then(|c| ctx.concept(c)) {
        return Some(c);
    }
    let product = el
        .path(&[
            "product",
            "manufacturedProduct",
            "manufacturedMaterial",
            "code",
        ])
        .or_else(|| {
            el.children_named("participant")
                .filter_map(|p| p.path(&["participantRole", "playingDevice", "code"]))
                .next()
        });
    if let Some(c) = product.and_then(|c| ctx.concept(c)) {
        return Some(c);
    }
    if let Some(t) = el.child("text").and_then(|t| ctx.text_of(t)) {
        return Some(json!({"text": t}));
    }
    // Some senders leave a planned encounter uncoded and refer to the encounter it plans.
    let planned = planned_by_reference(el)?;
    code_of(ctx, planned)
}

/// The act of the same kind a planned act refers to (`entryRelationship typeCode="REFR"`).
fn planned_by_reference<'a, 'i>(el: Node<'a, 'i>) -> Option<Node<'a, 'i>> {
    related(el, Some("REFR")).find(|r| r.tag_name().name() == el.tag_name().name())
}

/// The document's encounter, in which the plan was made.
fn request_encounter(ctx: &Ctx, r: &mut Map<String, Value>) {
    if let Some(e) = &ctx.encounter {
        r.insert("encounter".into(), json!({"reference": e}));
    }
}

fn authored(ctx: &mut Ctx, el: Node) -> Option<String> {
    el.children_named("author")
        .filter_map(|a| a.child("time"))
        .next()
        .and_then(|t| ctx.time(t, TimeKind::DateTime))
}

fn reasons(ctx: &Ctx, el: Node) -> Vec<Value> {
    related(el, Some("RSON"))
        .filter_map(|r| r.child("value").and_then(|v| ctx.concept(v)))
        .collect()
}

fn communication_status(code: Option<&str>) -> &'static str {
    match code {
        Some("completed") => "completed",
        Some("active") => "in-progress",
        Some("aborted") => "stopped",
        Some("cancelled") => "not-done",
        Some("nullified") => "entered-in-error",
        _ => "unknown",
    }
}

/// Handoff Communication Participants (4.141) → Communication, or nothing (reported) when it
/// names neither a sender nor a recipient.
fn handoff_communication(ctx: &mut Ctx, el: Node) -> Option<String> {
    let sender = author_ref(ctx, el);
    let recipients: Vec<Value> = el
        .children_named("participant")
        .filter(|p| p.attr("typeCode") == Some("IRCP"))
        .filter_map(|p| p.child("participantRole"))
        .filter_map(|role| map_practitioner(ctx, role, "playingEntity"))
        .map(|r| json!({"reference": r}))
        .collect();
    if sender.is_none() && recipients.is_empty() {
        ctx.skip(
            el,
            "a handoff communication that names neither who told nor who was told; not mapped",
        );
        return None;
    }
    let mut c = Map::new();
    c.insert("resourceType".into(), json!("Communication"));
    c.insert("id".into(), json!(ctx.resource_id("Communication", el)));
    let ids = ctx.identifiers(el);
    put_array(&mut c, "identifier", ids);
    c.insert(
        "status".into(),
        json!(communication_status(status_code(el))),
    );
    if let Some(code) = el.child("code").and_then(|n| ctx.concept(n)) {
        c.insert("category".into(), json!([code]));
    }
    c.insert("subject".into(), json!({"reference": ctx.patient}));
    request_encounter(ctx, &mut c);
    // When it was told: the time, or the start of an interval.
    let sent = el
        .child("effectiveTime")
        .map(|t| t.child("low").unwrap_or(t))
        .and_then(|t| ctx.time(t, TimeKind::DateTime));
    if let Some(t) = sent {
        c.insert("sent".into(), json!(t));
    }
    put_array(&mut c, "recipient", recipients);
    if let Some(s) = sender {
        c.insert("sender".into(), json!({"reference": s}));
    }
    Some(ctx.push(Value::Object(c), el))
}

fn service_request(ctx: &mut Ctx, el: Node, intent: &str) -> Option<String> {
    let Some(code) = request_code(ctx, el) else {
        ctx.skip(el, "the planned activity has no code or text; not mapped");
        return None;
    };
    let mut r = Map::new();
    r.insert("resourceType".into(), json!("ServiceRequest"));
    r.insert("id".into(), json!(ctx.resource_id("ServiceRequest", el)));
    r.insert(
        "meta".into(),
        json!({"profile": [format!("{US_CORE}/us-core-servicerequest")]}),
    );
    let ids = ctx.identifiers(el);
    put_array(&mut r, "identifier", ids);
    r.insert("status".into(), json!(service_status(status_code(el))));
    r.insert("intent".into(), json!(intent));
    if is_sdoh(el) {
        r.insert(
            "category".into(),
            json!([{"coding": [{"system": "http://hl7.org/fhir/us/core/CodeSystem/us-core-category", "code": "sdoh"}]}]),
        );
    }
    if let Some(p) = priority(el) {
        r.insert("priority".into(), json!(p));
    }
    if negated(el) {
        r.insert("doNotPerform".into(), json!(true));
    }
    r.insert("code".into(), code);
    r.insert("subject".into(), json!({"reference": ctx.patient}));
    request_encounter(ctx, &mut r);
    let when = el
        .child("effectiveTime")
        .or_else(|| planned_by_reference(el).and_then(|p| p.child("effectiveTime")));
    if let Some((kind, v)) = when.and_then(|t| effective(ctx, t, false)) {
        r.insert(format!("occurrence{kind}"), v);
    }
    if let Some(t) = authored(ctx, el) {
        r.insert("authoredOn".into(), json!(t));
    }
    if let Some(a) = author_ref(ctx, el) {
        r.insert("requester".into(), json!({"reference": a}));
    }
    let performers: Vec<Value> = performer_refs(ctx, el)
        .into_iter()
        .map(|p| json!({"reference": p}))
        .collect();
    put_array(&mut r, "performer", performers);
    let why = reasons(ctx, el);
    put_array(&mut r, "reasonCode", why);
    let sites: Vec<Value> = el
        .children_named("targetSiteCode")
        .filter_map(|c| ctx.concept(c))
        .collect();
    put_array(&mut r, "bodySite", sites);
    Some(ctx.push(Value::Object(r), el))
}

fn medication_request(ctx: &mut Ctx, el: Node, intent: &str) -> Option<String> {
    let Some(med) = el
        .path(&[
            "consumable",
            "manufacturedProduct",
            "manufacturedMaterial",
            "code",
        ])
        .and_then(|c| ctx.concept(c))
    else {
        ctx.skip(
            el,
            "the planned medication or immunization has no product code; not mapped",
        );
        return None;
    };
    let mut r = Map::new();
    r.insert("resourceType".into(), json!("MedicationRequest"));
    r.insert("id".into(), json!(ctx.resource_id("MedicationRequest", el)));
    r.insert(
        "meta".into(),
        json!({"profile": [format!("{US_CORE}/us-core-medicationrequest")]}),
    );
    let ids = ctx.identifiers(el);
    put_array(&mut r, "identifier", ids);
    r.insert("status".into(), json!(medication_status(status_code(el))));
    r.insert("intent".into(), json!(intent));
    if let Some(p) = priority(el) {
        r.insert("priority".into(), json!(p));
    }
    if negated(el) {
        r.insert("doNotPerform".into(), json!(true));
    }
    r.insert("medicationCodeableConcept".into(), med);
    r.insert("subject".into(), json!({"reference": ctx.patient}));
    request_encounter(ctx, &mut r);
    if let Some(t) = authored(ctx, el) {
        r.insert("authoredOn".into(), json!(t));
    }
    if let Some(a) = author_ref(ctx, el) {
        r.insert("requester".into(), json!({"reference": a}));
    }
    let why = reasons(ctx, el);
    put_array(&mut r, "reasonCode", why);
    if let Some(d) = dosage(ctx, el) {
        r.insert("dosageInstruction".into(), json!([d]));
    }
    Some(ctx.push(Value::Object(r), el))
}

/// When (bounds and frequency), by which route and how much.
fn dosage(ctx: &mut Ctx, el: Node) -> Option<Value> {
    let mut repeat = Map::new();
    for et in el.children_named("effectiveTime") {
        match et.xsi_type() {
            Some("PIVL_TS") => {
                let Some(p) = et.child("period") else {
                    continue;
                };
                let unit = match p.attr("unit") {
                    Some(u @ ("s" | "min" | "h" | "d" | "wk" | "mo" | "a")) => u,
                    _ => continue,
                };
                if let Some(v) = p.attr("value").and_then(crate::datatypes::decimal) {
                    repeat.insert("period".into(), v);
                    repeat.insert("periodUnit".into(), json!(unit));
                }
            }
            Some("IVL_TS") | None => {
                if let Some(p) = ctx.period(et) {
                    repeat.insert("boundsPeriod".into(), p);
                }
            }
            _ => {}
        }
    }
    let mut d = Map::new();
    if !repeat.is_empty() {
        d.insert("timing".into(), json!({"repeat": repeat}));
    }
    if let Some(route) = el.child("routeCode").and_then(|c| ctx.concept(c)) {
        d.insert("route".into(), route);
    }
    if let Some(q) = el.child("doseQuantity").and_then(|q| ctx.quantity(q)) {
        if q.get("value").is_some() {
            d.insert("doseAndRate".into(), json!([{"doseQuantity": q}]));
        }
    }
    (!d.is_empty()).then_some(Value::Object(d))
}

/// The section's CarePlan, made after its entries (`activities` are their references).
pub fn care_plan(ctx: &mut Ctx, section: Node, activities: Vec<String>) {
    if activities.is_empty() {
        return;
    }
    let mut c = Map::new();
    c.insert("resourceType".into(), json!("CarePlan"));
    c.insert("id".into(), json!(ctx.resource_id("CarePlan", section)));
    c.insert(
        "meta".into(),
        json!({"profile": [format!("{US_CORE}/us-core-careplan")]}),
    );
    let title = section
        .child("title")
        .map(|t| t.text_content())
        .filter(|t| !t.is_empty());
    let text = section.child("text").map(narrative).unwrap_or_default();
    let (status, body) = if text.is_empty() {
        let t = title.clone().unwrap_or_else(|| "Plan of treatment".into());
        ("generated", format!("<p>{}</p>", xhtml_escape(&t)))
    } else {
        ("additional", text)
    };
    c.insert(
        "text".into(),
        json!({
            "status": status,
            "div": format!(r#"<div xmlns="http://www.w3.org/1999/xhtml">{body}</div>"#)
        }),
    );
    c.insert("status".into(), json!("active"));
    c.insert("intent".into(), json!("plan"));
    c.insert(
        "category".into(),
        json!([{"coding": [{
            "system": "http://hl7.org/fhir/us/core/CodeSystem/careplan-category",
            "code": "assess-plan"
        }]}]),
    );
    if let Some(t) = title {
        c.insert("title".into(), json!(t));
    }
    c.insert("subject".into(), json!({"reference": ctx.patient}));
    if let Some(e) = &ctx.encounter {
        c.insert("encounter".into(), json!({"reference": e}));
    }
    let (goals, requests): (Vec<String>, Vec<String>) =
        activities.into_iter().partition(|r| r.starts_with("Goal/"));
    if !goals.is_empty() {
        c.insert(
            "goal".into(),
            Value::Array(goals.iter().map(|g| json!({"reference": g})).collect()),
        );
    }
    if !requests.is_empty() {
        c.insert(
            "activity".into(),
            Value::Array(
                requests
                    .iter()
                    .map(|r| json!({"reference": {"reference": r}}))
                    .collect(),
            ),
        );
    }
    ctx.push(Value::Object(c), section);
}

/// The section narrative as XHTML paragraphs: one per paragraph, table row or list item
/// (the innermost ones), or the whole text as one.
fn narrative(text: Node) -> String {
    const BLOCKS: [&str; 4] = ["paragraph", "tr", "item", "caption"];
    let is_block = |n: &Node| n.is_element() && BLOCKS.contains(&n.tag_name().name());
    let mut out = String::new();
    for b in text.descendants().filter(|n| is_block(n)) {
        if b.descendants().skip(1).any(|d| is_block(&d)) {
            continue;
        }
        let t = b.text_content();
        if !t.is_empty() {
            out.push_str("<p>");
            out.push_str(&xhtml_escape(&t));
            out.push_str("</p>");
        }
    }
    if out.is_empty() {
        let t = text.text_content();
        if !t.is_empty() {
            out = format!("<p>{}</p>", xhtml_escape(&t));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use crate::sections::observation::test_doc::*;

    const PLAN: &str = r##"
    <entry><procedure moodCode="RQO" classCode="PROC">
      <templateId root="2.16.840.1.113883.10.20.22.4.41" extension="2014-06-09"/>
      <id root="9a6d1bac-17d3-4195-89c4-1121bc809b5a"/>
      <code code="73761001" codeSystem="2.16.840.1.113883.6.96" displayName="Colonoscopy"/>
      <statusCode code="active"/>
      <effectiveTime value="20130613"/>
      <priorityCode code="UR" codeSystem="2.16.840.1.113883.5.7"/>
      <author><time value="20130601"/><assignedAuthor><id root="2.16.840.1.113883.4.6" extension="1"/>
        <assignedPerson><name><given>A</given><family>D</family></name></assignedPerson></assignedAuthor></author>
      <entryRelationship typeCode="RSON"><observation classCode="OBS" moodCode="EVN">
        <templateId root="2.16.840.1.113883.10.20.22.4.19"/><id root="1.1"/>
        <code code="404684003" codeSystem="2.16.840.1.113883.6.96"/>
        <value xsi:type="CD" code="62315008" codeSystem="2.16.840.1.113883.6.96"/></observation></entryRelationship>
    </procedure></entry>
    <entry><encounter moodCode="INT" classCode="ENC">
      <templateId root="2.16.840.1.113883.10.20.22.4.40"/><id root="1.2" extension="enc"/>
      <code code="99213" codeSystem="2.16.840.1.113883.6.12"/><statusCode code="cancelled"/>
      <effectiveTime><low value="20130701"/><high value="20130702"/></effectiveTime>
    </encounter></entry>
    <entry><substanceAdministration moodCode="INT" classCode="SBADM">
      <templateId root="2.16.840.1.113883.10.20.22.4.42"/><id root="1.2" extension="med"/>
      <statusCode code="active"/>
      <effectiveTime xsi:type="IVL_TS"><low value="20130615"/></effectiveTime>
      <effectiveTime xsi:type="PIVL_TS" operator="A"><period value="12" unit="h"/></effectiveTime>
      <routeCode code="C38288" codeSystem="2.16.840.1.113883.3.26.1.1"/>
      <doseQuantity value="1"/>
      <consumable><manufacturedProduct><manufacturedMaterial>
        <code code="197361" codeSystem="2.16.840.1.113883.6.88"/></manufacturedMaterial></manufacturedProduct></consumable>
    </substanceAdministration></entry>
    <entry><observation classCode="OBS" moodCode="GOL">
      <templateId root="2.16.840.1.113883.10.20.22.4.121"/><id root="1.2" extension="goal"/>
      <code code="289169006" codeSystem="2.16.840.1.113883.6.96"/><statusCode code="active"/>
    </observation></entry>
    <entry><act classCode="PCPR" moodCode="EVN"><templateId root="2.16.840.1.113883.10.20.22.4.141"/>
      <code code="432138007" codeSystem="2.16.840.1.113883.6.96"/><statusCode code="completed"/>
      <effectiveTime value="20130712"/>
      <author><time value="20130703"/><assignedAuthor><id root="1.2" extension="rn-1"/>
        <assignedPerson><name><given>Ada</given><family>Sender</family></name></assignedPerson></assignedAuthor></author>
      <participant typeCode="IRCP"><participantRole><id root="1.2" extension="rn-2"/>
        <playingEntity><name><given>Bea</given><family>Recipient</family></name></playingEntity></participantRole></participant>
    </act></entry>
    <entry><act classCode="PCPR" moodCode="EVN"><templateId root="2.16.840.1.113883.10.20.22.4.141"/></act></entry>
    <entry><act classCode="ACT" moodCode="EVN"><code code="x" codeSystem="1.2"/></act></entry>"##;

    #[test]
    fn planned_entries_and_the_care_plan() {
        let xml = document(
            "18776-5",
            "<paragraph>Colonoscopy &amp; follow-up &lt;soon&gt;</paragraph><list><item>Diet</item></list>",
            PLAN,
        );
        let m = map(&xml);
        assert_valid(&m);
        let sr = of_type(&m, "ServiceRequest");
        assert_eq!(sr.len(), 2);
        assert_eq!(sr[0]["intent"], "order");
        assert_eq!(sr[0]["status"], "active");
        assert_eq!(sr[0]["priority"], "urgent");
        assert_eq!(sr[0]["occurrenceDateTime"], "2013-06-13");
        assert_eq!(sr[0]["authoredOn"], "2013-06-01");
        assert_eq!(sr[0]["reasonCode"][0]["coding"][0]["code"], "62315008");
        assert!(resolve(&m, sr[0]["requester"]["reference"].as_str().unwrap()).is_some());
        assert_eq!(sr[1]["intent"], "plan");
        assert_eq!(sr[1]["status"], "revoked");
        assert_eq!(sr[1]["occurrencePeriod"]["end"], "2013-07-02");
        let mr = of_type(&m, "MedicationRequest");
        assert_eq!(mr.len(), 1);
        assert_eq!(mr[0]["intent"], "plan");
        assert_eq!(
            mr[0]["medicationCodeableConcept"]["coding"][0]["code"],
            "197361"
        );
        let repeat = &mr[0]["dosageInstruction"][0]["timing"]["repeat"];
        assert_eq!(repeat["periodUnit"], "h");
        assert_eq!(repeat["boundsPeriod"]["start"], "2013-06-15");
        assert_eq!(of_type(&m, "Goal").len(), 1);
        let plans = of_type(&m, "CarePlan");
        assert_eq!(plans.len(), 1);
        let cp = plans[0];
        assert_eq!(cp["status"], "active");
        assert_eq!(cp["intent"], "plan");
        assert_eq!(cp["category"][0]["coding"][0]["code"], "assess-plan");
        assert_eq!(cp["text"]["status"], "additional");
        assert_eq!(
            cp["text"]["div"],
            r#"<div xmlns="http://www.w3.org/1999/xhtml"><p>Colonoscopy &amp; follow-up &lt;soon&gt;</p><p>Diet</p></div>"#
        );
        assert_eq!(cp["activity"].as_array().unwrap().len(), 3);
        assert_eq!(cp["goal"].as_array().unwrap().len(), 1);
        for a in cp["activity"].as_array().unwrap() {
            assert!(resolve(&m, a["reference"]["reference"].as_str().unwrap()).is_some());
        }
        // The handoff: a Communication from its author to its recipient, not a plan activity.
        let comm = of_type(&m, "Communication");
        assert_eq!(comm.len(), 1);
        assert_eq!(comm[0]["status"], "completed");
        assert_eq!(comm[0]["category"][0]["coding"][0]["code"], "432138007");
        assert_eq!(comm[0]["sent"], "2013-07-12");
        let name = |r: &serde_json::Value| {
            resolve(&m, r["reference"].as_str().unwrap()).unwrap()["name"][0]["family"].clone()
        };
        assert_eq!(name(&comm[0]["sender"]), "Sender");
        assert_eq!(name(&comm[0]["recipient"][0]), "Recipient");
        assert_eq!(
            m.skipped.len(),
            2,
            "the handoff naming no one, and the event"
        );
        assert_eq!(ids(&m), ids(&map(&xml)));
    }

    #[test]
    fn no_care_plan_without_activities() {
        let xml = document("18776-5", "nothing planned", "");
        assert!(of_type(&map(&xml), "CarePlan").is_empty());
    }
}
