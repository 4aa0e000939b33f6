//! Goal Observations (4.121, and the R1.1 plan-of-care observation with `moodCode="GOL"`)
//! → Goal, from the Goals section and from plan sections.
//!
//! | C-CDA | Goal | Notes |
//! |---|---|---|
//! | `id` | `identifier`, `id` | |
//! | `statusCode` | `lifecycleStatus` | active, none → active; completed → completed; cancelled, aborted → cancelled; held, suspended → on-hold; new → proposed; nullified → entered-in-error |
//! | `code` (and `text`) | `description` | the code's codings, the narrative text; without a code, the value; without either, the text; with none of them not mapped |
//! | `value` | `target[0]` | `measure` the goal's code, `detail[x]` the value (FHIR requires a measure with a detail, so a goal with a value but no code has its value as the description instead) |
//! | `effectiveTime` `low` (or `value`) | `startDate` | |
//! | `effectiveTime` `high` | `target.dueDate` | |
//! | `entryRelationship typeCode="COMP"` goal observations | more `target`s | each its code as `measure`, its value as `detail[x]`, its `high` as `dueDate` |
//! | `author` | `expressedBy` | the Patient when the author's id is the patient's (a patient goal), else the Practitioner |
//! | `entryRelationship` RSON/REFR to a Problem Observation (4.4), or to a Problem Concern Act (4.3) or Health Concern Act (4.132) holding them, or to a QDM Reason (2.16.840.1.113883.10.20.24.3.88) with a coded value | `addresses` | the Condition the problem mapper makes of that observation (a reason: a health concern); a problem written both in the problem list and in the goal is one Condition |
//! | Priority Preference (4.143) | `priority` | SNOMED high / medium / low priority → `high-priority` / `medium-priority` / `low-priority`, the document's coding kept |
//! | SDOH (the goal's code, value or a reason's value is a Gravity LOINC code or ICD-10-CM Z55-Z65) | `category` US Core `sdoh` | |
//!

use roxmltree::Node;
use serde_json::{json, Map, Value};

use crate::ctx::Ctx;
use crate::datatypes::{put_array, TimeKind};
use crate::sections::observation::{is_sdoh, is_sdoh_code, typed_value, US_CORE};
use crate::sections::problems::{self, Category};
use crate::sections::{author_ref, related, status_code};
use crate::xml::El;

const E: &str = "2.16.840.1.113883.10.20.22.4.";
/// QDM-based Reason (V2), which C-CDA allows as a goal's reason.
const REASON: &str = "2.16.840.1.113883.10.20.24.3.88";

pub fn map(ctx: &mut Ctx, el: Node) {
    map_goal(ctx, el);
}

/// Map one goal; its reference.
pub fn map_goal(ctx: &mut Ctx, el: Node) -> Option<String> {
    if el.tag_name().name() != "observation" || el.attr("moodCode") != Some("GOL") {
        ctx.skip(
            el,
            "a goals entry that is not a goal observation (moodCode GOL); not mapped",
        );
        return None;
    }
    let code = el.child("code").and_then(|c| ctx.concept(c));
    let text = el.child("text").and_then(|t| ctx.text_of(t));
    let value = el.child("value");
    let value_concept = value.and_then(|v| ctx.concept(v));
    let description = match (&code, &value_concept, &text) {
        (Some(c), _, _) => {
            let mut c = c.clone();
            if let (Some(t), Some(o)) = (&text, c.as_object_mut()) {
                o.insert("text".into(), json!(t));
            }
            c
        }
        (None, Some(v), _) => v.clone(),
        (None, None, Some(t)) => json!({"text": t}),
        (None, None, None) => {
            let own = value.and_then(|v| ctx.text_of(v));
            match own {
                Some(t) => json!({"text": t}),
                None => {
                    ctx.skip(el, "the goal has no code, value or text; not mapped");
                    return None;
                }
            }
        }
    };
    let mut g = Map::new();
    g.insert("resourceType".into(), json!("Goal"));
    g.insert("id".into(), json!(ctx.resource_id("Goal", el)));
    g.insert(
        "meta".into(),
        json!({"profile": [format!("{US_CORE}/us-core-goal")]}),
    );
    let ids = ctx.identifiers(el);
    put_array(&mut g, "identifier", ids);
    g.insert("lifecycleStatus".into(), json!(lifecycle(status_code(el))));
    let sdoh =
        is_sdoh(el) || related(el, None).any(|r| r.children_named("value").any(is_sdoh_code));
    if sdoh {
        g.insert(
            "category".into(),
            json!([{"coding": [{
                "system": "http://hl7.org/fhir/us/core/CodeSystem/us-core-category",
                "code": "sdoh",
                "display": "SDOH"
            }]}]),
        );
    }
    if let Some(p) = priority(ctx, el) {
        g.insert("priority".into(), p);
    }
    g.insert("description".into(), description);
    g.insert("subject".into(), json!({"reference": ctx.patient}));
    let et = el.child("effectiveTime");
    if let Some(start) = et
        .and_then(|t| t.child("low").or_else(|| t.attr("value").map(|_| t)))
        .and_then(|t| ctx.time(t, TimeKind::Date))
    {
        g.insert("startDate".into(), json!(start));
    }
    let mut targets = Vec::new();
    // The goal's own value is a target only with a code to measure it by (gol-1).
    if let Some(t) = target(ctx, el, code.is_some()) {
        targets.push(t);
    }
    for part in related(el, Some("COMP")).filter(|p| p.attr("moodCode") == Some("GOL")) {
        if let Some(t) = target(ctx, part, true) {
            targets.push(t);
        }
    }
    put_array(&mut g, "target", targets);
    if let Some(by) = expressed_by(ctx, el) {
        g.insert("expressedBy".into(), json!({"reference": by}));
    }
    let problem = |n: &Node| n.has_template(&format!("{E}4"));
    // (the observation, the category of the Condition it becomes when the goal is where it is
    // first written)
    let mut problems: Vec<(Node, Category)> = Vec::new();
    for r in related(el, None).filter(|r| {
        matches!(
            r.parent_element().and_then(|p| p.attr("typeCode")),
            Some("RSON" | "REFR")
        )
    }) {
        if problem(&r) {
            problems.push((r, Category::ProblemListItem));
        } else if r.has_template(&format!("{E}3")) || r.has_template(&format!("{E}132")) {
            // The Condition is made from the concern's problem observations.
            let category = if r.has_template(&format!("{E}132")) {
                Category::HealthConcern
            } else {
                Category::ProblemListItem
            };
            problems.extend(related(r, None).filter(problem).map(|p| (p, category)));
        } else if r.has_template(REASON) && r.child("value").is_some() {
            // The QDM Reason the SDOH goal example uses instead of a problem: the concern the
            // goal addresses, with its coded value (an ICD-10-CM Z code), a health concern.
            problems.push((r, Category::HealthConcern));
        }
    }
    // A problem written out in full is mapped here too (one written only inside the goal would
    // otherwise be referenced but never made; one also in the problem list is the same act,
    // mapped once). One written as its id alone is C-CDA's reference to an entry elsewhere in
    // the document: the Condition that entry becomes.
    let addresses: Vec<Value> = problems
        .into_iter()
        .filter_map(|(r, category)| {
            if r.child("value").is_some() {
                problems::map_observation(ctx, r, None, category, None)
            } else {
                Some(format!("Condition/{}", ctx.resource_id("Condition", r)))
            }
        })
        .map(|reference| json!({ "reference": reference }))
        .collect();
    put_array(&mut g, "addresses", addresses);
    Some(ctx.push(Value::Object(g), el))
}

/// Goal `statusCode` → `lifecycleStatus`.
pub fn lifecycle(code: Option<&str>) -> &'static str {
    match code {
        None | Some("active") => "active",
        Some("completed") => "completed",
        Some("cancelled" | "aborted") => "cancelled",
        Some("held" | "suspended") => "on-hold",
        Some("new") => "proposed",
        Some("nullified") => "entered-in-error",
        Some(_) => "active",
    }
}

/// A target from a goal observation: its code as the measure, its value as the detail, its
/// `effectiveTime/high` as the due date.
fn target(ctx: &mut Ctx, el: Node, with_measure: bool) -> Option<Value> {
    let mut t = Map::new();
    if with_measure {
        if let Some(value) = el.child("value") {
            if let Some((kind, v)) = typed_value(ctx, value) {
                if matches!(
                    kind,
                    "Quantity"
                        | "Range"
                        | "CodeableConcept"
                        | "String"
                        | "Boolean"
                        | "Integer"
                        | "Ratio"
                ) {
                    if let Some(measure) = el.child("code").and_then(|c| ctx.concept(c)) {
                        t.insert("measure".into(), measure);
                        t.insert(format!("detail{kind}"), v);
                    }
                }
            }
        }
    }
    if let Some(due) = el
        .child("effectiveTime")
        .and_then(|e| e.child("high"))
        .and_then(|h| ctx.time(h, TimeKind::Date))
    {
        t.insert("dueDate".into(), json!(due));
    }
    (!t.is_empty()).then_some(Value::Object(t))
}

/// The goal's author: the Patient when the author is the patient, else a Practitioner.
fn expressed_by(ctx: &mut Ctx, el: Node) -> Option<String> {
    let role = ctx
        .doc
        .root_element()
        .path(&["recordTarget", "patientRole"]);
    let patient_ids: Vec<(Option<&str>, Option<&str>)> = role
        .map(|r| {
            r.children_named("id")
                .map(|i| (i.attr("root"), i.attr("extension")))
                .collect()
        })
        .unwrap_or_default();
    for a in el.children_named("author") {
        let Some(assigned) = a.child("assignedAuthor") else {
            continue;
        };
        let is_patient = assigned.children_named("id").any(|i| {
            i.attr("root").is_some() && patient_ids.contains(&(i.attr("root"), i.attr("extension")))
        });
        if is_patient {
            return Some(ctx.patient.clone());
        }
    }
    author_ref(ctx, el)
}

/// Priority Preference (4.143) → `priority`.
fn priority(ctx: &Ctx, el: Node) -> Option<Value> {
    let pref = related(el, None).find(|r| r.has_template(&format!("{E}143")))?;
    let v = pref.child("value")?;
    let mut c = ctx.concept(v)?;
    let fhir = match v.attr("code") {
        Some("394849002") => Some(("high-priority", "High Priority")),
        Some("394848005") => Some(("medium-priority", "Medium Priority")),
        Some("394850002") => Some(("low-priority", "Low Priority")),
        _ => None,
    };
    if let (Some((code, display)), Some(Value::Array(codings))) = (fhir, c.get_mut("coding")) {
        codings.insert(
            0,
            json!({"system": "http://terminology.hl7.org/CodeSystem/goal-priority", "code": code, "display": display}),
        );
    }
    Some(c)
}

#[cfg(test)]
mod tests {
    use crate::sections::observation::test_doc::*;
    use serde_json::{json, Value};

    /// SDOH_Goal.xml of the HL7 C-CDA examples, with a priority and a problem added.
    const GOALS: &str = r##"
    <entry><observation classCode="OBS" moodCode="GOL">
      <templateId root="2.16.840.1.113883.10.20.22.4.121" extension="2022-06-01"/>
      <id extension="3241" root="1.2.840.114350.1.13.6289.1.7.2.737179"/>
      <code code="8689-2" displayName="History of Social function" codeSystem="2.16.840.1.113883.6.1"/>
      <text><reference value="#goal1"/></text>
      <statusCode code="active"/>
      <effectiveTime><low value="20220813"/><high nullFlavor="NI"/></effectiveTime>
      <value xsi:type="CD" code="161036002" displayName="Housing adequate" codeSystem="2.16.840.1.113883.6.96"/>
      <author><time value="20220813124536-0500"/><assignedAuthor><id extension="66666" root="2.16.840.1.113883.4.6"/>
        <assignedPerson><name><given>H</given><family>S</family></name></assignedPerson></assignedAuthor></author>
      <entryRelationship typeCode="RSON"><observation classCode="OBS" moodCode="EVN">
        <templateId root="2.16.840.1.113883.10.20.24.3.88" extension="2023-05-01"/>
        <id root="3fbadea2-c481-4784-b972-3a571aae31c7"/>
        <code code="77301-0" codeSystem="2.16.840.1.113883.6.1"/><statusCode code="completed"/>
        <value xsi:type="CD" code="Z59.1" codeSystem="2.16.840.1.113883.6.90"/></observation></entryRelationship>
      <entryRelationship typeCode="REFR"><observation classCode="OBS" moodCode="EVN">
        <templateId root="2.16.840.1.113883.10.20.22.4.143"/>
        <code code="225773000" codeSystem="2.16.840.1.113883.6.96"/>
        <value xsi:type="CD" code="394849002" codeSystem="2.16.840.1.113883.6.96" displayName="High priority"/></observation></entryRelationship>
      <entryRelationship typeCode="RSON"><observation classCode="OBS" moodCode="EVN">
        <templateId root="2.16.840.1.113883.10.20.22.4.4"/><id root="4.5.6" extension="prob"/>
        <code code="55607006" codeSystem="2.16.840.1.113883.6.96"/></observation></entryRelationship>
    </observation></entry>
    <entry><observation classCode="OBS" moodCode="GOL">
      <templateId root="2.16.840.1.113883.10.20.22.4.121"/><id root="1.2" extension="weight"/>
      <code code="29463-7" codeSystem="2.16.840.1.113883.6.1" displayName="Body weight"/>
      <statusCode code="completed"/>
      <effectiveTime><low value="20200101"/><high value="20201231"/></effectiveTime>
      <value xsi:type="PQ" value="80" unit="kg"/>
      <author><assignedAuthor><id root="1.2.3.4.5" extension="p-1"/></assignedAuthor></author>
    </observation></entry>"##;

    #[test]
    fn sdoh_goal_and_a_target_goal() {
        let xml = document(
            "61146-7",
            r#"<paragraph ID="goal1">Goal set to establish stable housing.</paragraph>"#,
            GOALS,
        );
        let m = map(&xml);
        assert_valid(&m);
        let goals = of_type(&m, "Goal");
        assert_eq!(goals.len(), 2);
        let g = goals[0];
        assert_eq!(g["lifecycleStatus"], "active");
        assert_eq!(g["category"][0]["coding"][0]["code"], "sdoh");
        assert_eq!(g["description"]["coding"][0]["code"], "8689-2");
        assert_eq!(
            g["description"]["text"],
            "Goal set to establish stable housing."
        );
        assert_eq!(g["startDate"], "2022-08-13");
        assert_eq!(g["target"][0]["measure"]["coding"][0]["code"], "8689-2");
        assert_eq!(
            g["target"][0]["detailCodeableConcept"]["coding"][0]["code"],
            "161036002"
        );
        assert_eq!(g["priority"]["coding"][0]["code"], "high-priority");
        let by = g["expressedBy"]["reference"].as_str().unwrap();
        assert!(by.starts_with("Practitioner/"));
        assert!(resolve(&m, by).is_some());
        let addresses = g["addresses"].as_array().unwrap();
        assert_eq!(addresses.len(), 2, "the problem and the QDM reason");
        // The problem is written as its id alone (a reference to an entry elsewhere, absent
        // from this test document); the reason is written out and made here.
        let made: Vec<&Value> = addresses
            .iter()
            .filter_map(|a| resolve(&m, a["reference"].as_str().unwrap()))
            .collect();
        assert_eq!(made.len(), 1);
        let reason = made[0];
        assert_eq!(reason["code"]["coding"][0]["code"], "Z59.1");
        assert_eq!(reason["category"][0]["coding"][0]["code"], "health-concern");
        let w = goals[1];
        assert_eq!(w["lifecycleStatus"], "completed");
        assert_eq!(w["target"][0]["detailQuantity"]["value"], json!(80));
        assert_eq!(w["target"][0]["dueDate"], "2020-12-31");
        assert!(w.get("category").is_none());
        let patient = of_type(&m, "Patient")[0]["id"].as_str().unwrap().to_owned();
        assert_eq!(w["expressedBy"]["reference"], format!("Patient/{patient}"));
        assert_eq!(ids(&m), ids(&map(&xml)));
    }

    #[test]
    fn addresses_the_condition_of_the_problems_section() {
        let problems = r#"<component><section><code code="11450-4" codeSystem="2.16.840.1.113883.6.1"/>
          <entry><act classCode="ACT" moodCode="EVN"><templateId root="2.16.840.1.113883.10.20.22.4.3"/>
            <id root="4.5.6" extension="concern"/><code code="CONC" codeSystem="2.16.840.1.113883.5.6"/>
            <statusCode code="active"/><effectiveTime><low value="20200101"/></effectiveTime>
            <entryRelationship typeCode="SUBJ"><observation classCode="OBS" moodCode="EVN">
              <templateId root="2.16.840.1.113883.10.20.22.4.4"/><id root="4.5.6" extension="prob"/>
              <code code="55607006" codeSystem="2.16.840.1.113883.6.96"/><statusCode code="completed"/>
              <effectiveTime><low value="20200101"/></effectiveTime>
              <value xsi:type="CD" code="44054006" codeSystem="2.16.840.1.113883.6.96"/>
            </observation></entryRelationship></act></entry></section></component>"#;
        let goal = r#"<component><section><code code="61146-7" codeSystem="2.16.840.1.113883.6.1"/>
          <entry><observation classCode="OBS" moodCode="GOL"><templateId root="2.16.840.1.113883.10.20.22.4.121"/>
            <id root="1.2" extension="g"/><code code="289169006" codeSystem="2.16.840.1.113883.6.96"/>
            <entryRelationship typeCode="RSON"><act classCode="ACT" moodCode="EVN">
              <templateId root="2.16.840.1.113883.10.20.22.4.3"/><id root="4.5.6" extension="concern"/>
              <entryRelationship typeCode="SUBJ"><observation classCode="OBS" moodCode="EVN">
                <templateId root="2.16.840.1.113883.10.20.22.4.4"/><id root="4.5.6" extension="prob"/>
              </observation></entryRelationship></act></entryRelationship>
          </observation></entry></section></component>"#;
        let m = map(&document_with("", &format!("{goal}{problems}")));
        assert_valid(&m);
        let g = of_type(&m, "Goal")[0];
        assert_eq!(g["lifecycleStatus"], "active", "no statusCode: active");
        let target = g["addresses"][0]["reference"].as_str().unwrap();
        let condition = resolve(&m, target).expect("the Condition of the problems section");
        assert_eq!(condition["code"]["coding"][0]["code"], "44054006");
    }
}
