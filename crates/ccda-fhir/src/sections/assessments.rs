//! Mental Status (10190-7) and Functional Status (47420-5) sections, and every Assessment
//! Scale Observation (4.69) wherever it appears (social history screenings come here too).
//!
//! | C-CDA | FHIR |
//! |---|---|
//! | Assessment Scale Observation (4.69): PHQ-9, GAD-7, Hunger Vital Sign … | Observation, category `survey` (US Core `us-core-observation-screening-assessment`), its total as `value[x]` (an INT → `valueInteger`) |
//! | Assessment Scale Supporting Observation (4.86), `entryRelationship typeCode="COMP"` | an Observation per item, category `survey`, referenced from the scale's `hasMember` |
//! | Mental Status Observation (4.74), Cognitive Status Problem Observation (4.73) | Observation, categories `exam` and US Core `cognitive-status` |
//! | Functional Status Observation (4.67), Self-Care Activities (4.128), Functional Status Problem Observation (4.68) | Observation, categories `exam` and US Core `functional-status` |
//! | Mental Status Organizer (4.75), Functional Status Organizer (4.66) | each component observation as above; the organizer itself (a grouping with a category code) has no resource, as in Microsoft's converter and C-CDA on FHIR |
//!
//! An item's answer is its coded `value` (a LOINC answer `LA…` code) as `valueCodeableConcept`;
//! the answer's numeric score, written as a second `value xsi:type="INT"` or as a numeric
//! `translation`, is kept as the answer coding's `ordinalValue` extension (R4 core, the
//! Questionnaire score convention; R5's `itemWeight` does not exist in R4). An item with only
//! an INT is `valueInteger`. Items without an `effectiveTime` take the scale's.
//!
//! A screening of social determinants of health (Gravity LOINC codes, ICD-10-CM Z55-Z65)
//! also gets the US Core `sdoh` category, on the scale and on each item.
//!
//! Some documents give every item of a scale the same id; [`Ctx::push`](crate::Ctx::push) keeps each item.

use roxmltree::Node;
use serde_json::Value;

use crate::ctx::Ctx;
use crate::sections::observation::{
    add_category, build, category, is_sdoh, us_core_category, Spec, US_CORE,
};
use crate::sections::{related, SectionKind};
use crate::xml::El;

const E: &str = "2.16.840.1.113883.10.20.22.4.";

pub fn map(ctx: &mut Ctx, kind: SectionKind, el: Node) {
    match el.tag_name().name() {
        "organizer" => {
            for c in el.children_named("component") {
                let Some(obs) = c.children().find(|n| n.is_element()) else {
                    continue;
                };
                map_one(ctx, kind, obs, Some(el));
            }
        }
        _ => {
            map_one(ctx, kind, el, None);
        }
    }
}

fn is_scale(el: Node) -> bool {
    el.has_template(&format!("{E}69"))
        || related(el, Some("COMP")).any(|m| m.has_template(&format!("{E}86")))
}

fn map_one(ctx: &mut Ctx, kind: SectionKind, el: Node, group: Option<Node>) -> Option<String> {
    if el.tag_name().name() != "observation" {
        ctx.skip(
            el,
            "a mental or functional status entry that is not an observation; not mapped",
        );
        return None;
    }
    if is_scale(el) {
        return map_scale(ctx, el, &[]);
    }
    let tpl = |t: &str| el.has_template(&format!("{E}{t}"));
    // The template says what the observation is; the section only when it does not.
    let status_kind = if tpl("73") || tpl("74") {
        "cognitive-status"
    } else if tpl("67") || tpl("68") || tpl("128") || kind == SectionKind::FunctionalStatus {
        "functional-status"
    } else {
        "cognitive-status"
    };
    let mut spec = Spec::new("exam");
    spec.categories.push(us_core_category(status_kind));
    spec.group = group;
    let obs = build(ctx, el, &spec)?;
    Some(ctx.push(Value::Object(obs), el))
}

/// An Assessment Scale Observation and its items; the scale's reference. `extra` categories
/// (`social-history` for a screening in the social history section) go on the scale.
pub fn map_scale(ctx: &mut Ctx, el: Node, extra: &[Value]) -> Option<String> {
    let sdoh = is_sdoh(el);
    let profile = format!("{US_CORE}/us-core-observation-screening-assessment");
    let mut item_spec = Spec::new("survey").profile(&profile).in_group(el);
    if sdoh {
        item_spec.categories.push(us_core_category("sdoh"));
    }
    // Items first, so that an item that cannot be mapped is reported before the scale.
    let mut members: Vec<String> = Vec::new();
    for item in related(el, Some("COMP")) {
        if item.tag_name().name() != "observation" {
            ctx.skip(
                item,
                "an assessment scale component that is not an observation",
            );
            continue;
        }
        let mut spec = item_spec.clone();
        if !sdoh && is_sdoh(item) {
            spec.categories.push(us_core_category("sdoh"));
        }
        // The scale's `extra` category (social history …) says where it was asked, not what
        // an item is: items keep survey (and sdoh).
        if let Some(o) = build(ctx, item, &spec) {
            let r = ctx.push(Value::Object(o), item);
            if !members.contains(&r) {
                members.push(r);
            }
        }
    }
    let mut spec = Spec::new("survey").profile(&profile);
    for c in extra {
        if *c != category("survey") {
            spec.categories.push(c.clone());
        }
    }
    let mut scale = build(ctx, el, &spec)?;
    if sdoh {
        add_category(&mut scale, us_core_category("sdoh"));
    }
    if !members.is_empty() {
        scale.insert(
            "hasMember".into(),
            Value::Array(
                members
                    .iter()
                    .map(|r| serde_json::json!({"reference": r}))
                    .collect(),
            ),
        );
    }
    Some(ctx.push(Value::Object(scale), el))
}

#[cfg(test)]
mod tests {
    use crate::sections::observation::test_doc::*;
    use serde_json::json;

    fn item(id: &str, code: &str, score: Option<u8>, answer: &str) -> String {
        let score = score
            .map(|s| format!(r#"<value xsi:type="INT" value="{s}"/>"#))
            .unwrap_or_default();
        format!(
            r#"<entryRelationship typeCode="COMP"><observation classCode="OBS" moodCode="EVN">
              <templateId root="2.16.840.1.113883.10.20.22.4.86"/><id root="{id}"/>
              <code code="{code}" codeSystem="2.16.840.1.113883.6.1"/>
              <statusCode code="completed"/><effectiveTime value="20150622"/>
              {score}<value xsi:type="CO" code="{answer}" codeSystem="2.16.840.1.113883.6.1"/>
            </observation></entryRelationship>"#
        )
    }

    /// The PHQ-9 example of the HL7 C-CDA examples (PHQ9_C-CDAR2.1.xml), items 1, 6, 9, 10.
    fn phq9() -> String {
        format!(
            r##"<section><templateId root="2.16.840.1.113883.10.20.22.2.56" extension="2015-08-01"/>
            <code code="10190-7" codeSystem="2.16.840.1.113883.6.1"/><title>MENTAL STATUS</title>
            <text><table><tbody><tr><td ID="assessment">PHQ-9 Questionnaire (panel)</td></tr>
              <tr><td ID="assessmentReferenceRange">0-4</td></tr></tbody></table></text>
            <entry typeCode="DRIV"><observation classCode="OBS" moodCode="EVN">
              <templateId root="2.16.840.1.113883.10.20.22.4.69"/>
              <id root="f1aa44dd-6f39-4f5c-b267-897c3824b673"/>
              <code code="44249-1" codeSystem="2.16.840.1.113883.6.1"/>
              <text><reference value="#assessment"/></text>
              <statusCode code="completed"/><effectiveTime value="20150622"/>
              <value xsi:type="INT" value="12"/>
              <interpretationCode code="H" codeSystem="2.16.840.1.113883.5.83"/>
              <entryRelationship typeCode="COMP"><observation classCode="OBS" moodCode="EVN">
                <templateId root="2.16.840.1.113883.10.20.22.4.86"/>
                <id root="a6a704ab-271a-4bfa-9f0d-1581da2b1235"/>
                <code code="44261-6" codeSystem="2.16.840.1.113883.6.1"/>
                <statusCode code="completed"/><effectiveTime value="20150622"/>
                <value xsi:type="INT" value="12"/></observation></entryRelationship>
              {}{}{}{}
              <referenceRange><observationRange><text><reference value="#assessmentReferenceRange"/></text>
                <value xsi:type="IVL_INT"><low value="0"/><high value="4"/></value>
                <interpretationCode code="N" codeSystem="2.16.840.1.113883.5.83"/></observationRange></referenceRange>
            </observation></entry></section>"##,
            item(
                "a6a704ab-271a-4bfa-9f0d-1581da2b1186",
                "44250-9",
                Some(0),
                "LA6568-5"
            ),
            item(
                "c67c51ea-4928-449d-b6c0-0f85b1975e07",
                "44258-2",
                Some(3),
                "LA6571-9"
            ),
            item(
                "36792a59-7905-406e-a920-701a2ae746be",
                "44260-8",
                Some(0),
                "LA6568-5"
            ),
            item(
                "aa81195f-3cd4-4b55-b79b-1eb71bc42c9e",
                "69722-7",
                None,
                "LA6572-7"
            ),
        )
    }

    /// Hunger_Vital_Signs_Assessment.xml of the HL7 C-CDA examples: its items share one id,
    /// and their scores are written as translations.
    const HUNGER: &str = r#"<entry><observation classCode="OBS" moodCode="EVN">
        <templateId root="2.16.840.1.113883.10.20.22.4.69" extension="2022-06-01"/>
        <id root="c6b5a04b-2bf4-49d1-8336-636a3813df0b"/>
        <code code="88121-9" codeSystem="2.16.840.1.113883.6.1"/>
        <statusCode code="completed"/><effectiveTime value="20120214"/>
        <value xsi:type="INT" value="2"/>
        <entryRelationship typeCode="COMP"><observation classCode="OBS" moodCode="EVN">
          <templateId root="2.16.840.1.113883.10.20.22.4.86"/><id root="f4dce790-8328-11db-9fe1-0800200c9a44"/>
          <code code="88122-7" codeSystem="2.16.840.1.113883.6.1"/><statusCode code="completed"/>
          <value xsi:type="CD" code="LA28397-0" displayName="Often true" codeSystem="2.16.840.1.113883.6.1">
            <translation code="1" codeSystem="2.16.840.1.113883.6.1"/></value></observation></entryRelationship>
        <entryRelationship typeCode="COMP"><observation classCode="OBS" moodCode="EVN">
          <templateId root="2.16.840.1.113883.10.20.22.4.86"/><id root="f4dce790-8328-11db-9fe1-0800200c9a44"/>
          <code code="88123-5" codeSystem="2.16.840.1.113883.6.1"/><statusCode code="completed"/>
          <value xsi:type="CD" code="LA28397-0" displayName="Often true" codeSystem="2.16.840.1.113883.6.1">
            <translation code="1" codeSystem="2.16.840.1.113883.6.1"/></value></observation></entryRelationship>
        <entryRelationship typeCode="COMP"><observation classCode="OBS" moodCode="EVN">
          <templateId root="2.16.840.1.113883.10.20.22.4.86"/><id root="f4dce790-8328-11db-9fe1-0800200c9a44"/>
          <code code="88124-3" codeSystem="2.16.840.1.113883.6.1"/><statusCode code="completed"/>
          <value xsi:type="CD" code="LA19952-3" displayName="At risk" codeSystem="2.16.840.1.113883.6.1"/>
        </observation></entryRelationship>
      </observation></entry>"#;

    fn phq9_doc() -> String {
        document_with("", &format!("<component>{}</component>", phq9()))
    }

    #[test]
    fn phq9_total_and_its_items() {
        let xml = phq9_doc();
        let m = map(&xml);
        assert_valid(&m);
        let obs = of_type(&m, "Observation");
        let scale = obs
            .iter()
            .find(|o| o["code"]["coding"][0]["code"] == "44249-1")
            .expect("the PHQ-9 panel");
        assert_eq!(scale["valueInteger"], json!(12));
        assert_eq!(scale["status"], "final");
        assert_eq!(scale["effectiveDateTime"], "2015-06-22");
        assert_eq!(scale["category"][0]["coding"][0]["code"], "survey");
        assert_eq!(scale["interpretation"][0]["coding"][0]["code"], "H");
        assert_eq!(scale["referenceRange"][0]["low"]["value"], json!(0));
        assert_eq!(scale["referenceRange"][0]["high"]["value"], json!(4));
        let members = scale["hasMember"].as_array().unwrap();
        // The total score and the four questions.
        assert_eq!(members.len(), 5);
        let items: Vec<_> = members
            .iter()
            .map(|r| resolve(&m, r["reference"].as_str().unwrap()).expect("member resolves"))
            .collect();
        assert_eq!(items[0]["code"]["coding"][0]["code"], "44261-6");
        assert_eq!(items[0]["valueInteger"], json!(12));
        let q9 = items
            .iter()
            .find(|i| i["code"]["coding"][0]["code"] == "44260-8")
            .unwrap();
        let answer = &q9["valueCodeableConcept"]["coding"][0];
        assert_eq!(answer["code"], "LA6568-5");
        assert_eq!(answer["extension"][0]["valueDecimal"], json!(0));
        let q6 = items
            .iter()
            .find(|i| i["code"]["coding"][0]["code"] == "44258-2")
            .unwrap();
        assert_eq!(
            q6["valueCodeableConcept"]["coding"][0]["extension"][0]["valueDecimal"],
            json!(3)
        );
        assert_eq!(q6["category"][0]["coding"][0]["code"], "survey");
        assert_eq!(ids(&m), ids(&map(&xml)));
    }

    #[test]
    fn hunger_vital_sign_with_reused_item_ids() {
        let xml = document("29762-2", "", HUNGER);
        let m = map(&xml);
        assert_valid(&m);
        let obs = of_type(&m, "Observation");
        let scale = obs
            .iter()
            .find(|o| o["code"]["coding"][0]["code"] == "88121-9")
            .expect("the Hunger Vital Sign");
        assert_eq!(scale["valueInteger"], json!(2));
        let cats: Vec<&str> = scale["category"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|c| c["coding"][0]["code"].as_str())
            .collect();
        assert!(
            cats.contains(&"survey") && cats.contains(&"sdoh") && cats.contains(&"social-history")
        );
        let members = scale["hasMember"].as_array().unwrap();
        assert_eq!(members.len(), 3, "items sharing one id are kept apart");
        let first = resolve(&m, members[0]["reference"].as_str().unwrap()).unwrap();
        assert_eq!(first["code"]["coding"][0]["code"], "88122-7");
        let answer = &first["valueCodeableConcept"]["coding"];
        assert_eq!(
            answer.as_array().unwrap().len(),
            1,
            "the score is not a coding"
        );
        assert_eq!(answer[0]["code"], "LA28397-0");
        assert_eq!(answer[0]["extension"][0]["valueDecimal"], json!(1));
        assert_eq!(first["effectiveDateTime"], "2012-02-14", "the scale's time");
        assert_eq!(ids(&m), ids(&map(&xml)));
    }

    #[test]
    fn mental_and_functional_status() {
        let entries = r#"<entry><organizer classCode="CLUSTER" moodCode="EVN">
            <templateId root="2.16.840.1.113883.10.20.22.4.66"/><id root="1.2" extension="org"/>
            <code code="d5" codeSystem="2.16.840.1.113883.6.254"/><statusCode code="completed"/>
            <component><observation classCode="OBS" moodCode="EVN">
              <templateId root="2.16.840.1.113883.10.20.22.4.67"/><id root="1.2" extension="f1"/>
              <code code="54522-8" codeSystem="2.16.840.1.113883.6.1"/><statusCode code="completed"/>
              <effectiveTime value="20130731"/>
              <value xsi:type="CD" code="165245003" codeSystem="2.16.840.1.113883.6.96"/>
            </observation></component>
            <component><supply classCode="SPLY" moodCode="EVN"/></component>
          </organizer></entry>"#;
        let m = map(&document("47420-5", "", entries));
        assert_valid(&m);
        let obs = of_type(&m, "Observation");
        assert_eq!(obs.len(), 1);
        assert_eq!(obs[0]["category"][0]["coding"][0]["code"], "exam");
        assert_eq!(
            obs[0]["category"][1]["coding"][0]["code"],
            "functional-status"
        );
        assert_eq!(
            obs[0]["valueCodeableConcept"]["coding"][0]["code"],
            "165245003"
        );
        assert_eq!(m.skipped.len(), 1);
    }
}
