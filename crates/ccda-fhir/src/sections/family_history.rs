//! Family history → FamilyMemberHistory.
//!
//! A Family History Organizer (`2.16.840.1.113883.10.20.22.4.45`) is one relative: one
//! FamilyMemberHistory, its id from the organizer's `id`, with a `condition` per Family
//! History Observation (`4.46`) among its components.
//!
//! | FamilyMemberHistory | C-CDA |
//! |---|---|
//! | `status` | `completed` (the organizer records what is known) |
//! | `relationship` | `subject/relatedSubject/code` (v3 RoleCode); FAMMEMB "family member" when absent, FHIR requires one |
//! | `sex` | `relatedSubject/subject/administrativeGenderCode` → `http://hl7.org/fhir/administrative-gender` |
//! | `bornDate` | `relatedSubject/subject/birthTime` |
//! | `deceasedBoolean` | `true` when a Family History Death Observation (`4.47`) is present or `sdtc:deceasedInd` says so |
//! | `condition.code` | the observation's `value` |
//! | `condition.onsetAge` | an Age Observation (`4.31`) value (UCUM) |
//! | `condition.outcome`, `contributedToDeath` | a death observation (`4.47`) under the condition: its value, and `true` |
//! | `condition.note` | Comment Activities (`4.64`) |
//!
//! A Family History Observation outside an organizer names no relative, and FHIR requires
//! the relationship: it is mapped with the relationship FAMMEMB rather than dropped.

use roxmltree::Node;
use serde_json::{json, Map, Value};

use crate::ctx::Ctx;
use crate::datatypes::{gender, put_array, TimeKind};
use crate::sections::problems::{age_at_onset, comments, is_template};
use crate::sections::related;
use crate::xml::{El, SDTC};

pub fn map(ctx: &mut Ctx, el: Node) {
    match el.tag_name().name() {
        "organizer" => map_organizer(ctx, el, &components(el)),
        "observation" => map_organizer(ctx, el, &[el]),
        _ => ctx.skip(
            el,
            "an entry in the family history section that is not a family history organizer; not mapped",
        ),
    }
}

fn components<'a, 'i>(organizer: Node<'a, 'i>) -> Vec<Node<'a, 'i>> {
    organizer
        .children_named("component")
        .filter_map(|c| c.child("observation"))
        .collect()
}

fn is_death(obs: Node) -> bool {
    is_template(obs, "47")
        || obs
            .child("value")
            .and_then(|v| v.attr("code"))
            .is_some_and(|c| c == "419099009")
}

fn map_organizer(ctx: &mut Ctx, el: Node, observations: &[Node]) {
    let id = ctx.resource_id("FamilyMemberHistory", el);
    let mut f = Map::new();
    f.insert("resourceType".into(), json!("FamilyMemberHistory"));
    f.insert("id".into(), json!(id));
    let ids = ctx.identifiers(el);
    put_array(&mut f, "identifier", ids);
    f.insert("status".into(), json!("completed"));
    f.insert("patient".into(), json!({"reference": ctx.patient}));
    let related_subject = el.path(&["subject", "relatedSubject"]);
    let relationship = related_subject
        .and_then(|r| r.child("code"))
        .and_then(|c| ctx.concept(c))
        .unwrap_or_else(|| {
            json!({"coding": [{
                "system": "http://terminology.hl7.org/CodeSystem/v3-RoleCode",
                "code": "FAMMEMB",
                "display": "family member"
            }]})
        });
    f.insert("relationship".into(), relationship);
    let person = related_subject.and_then(|r| r.child("subject"));
    if let Some(g) = person
        .and_then(|p| p.child("administrativeGenderCode"))
        .and_then(gender)
    {
        f.insert(
            "sex".into(),
            json!({"coding": [{"system": "http://hl7.org/fhir/administrative-gender", "code": g}]}),
        );
    }
    if let Some(b) = person
        .and_then(|p| p.child("birthTime"))
        .and_then(|b| ctx.time(b, TimeKind::Date))
    {
        f.insert("bornDate".into(), json!(b));
    }
    let died = observations
        .iter()
        .any(|o| is_death(*o) || related(*o, None).any(is_death))
        || person
            .and_then(|p| p.child_ns(SDTC, "deceasedInd"))
            .and_then(|d| d.attr("value"))
            == Some("true");
    if died {
        f.insert("deceasedBoolean".into(), json!(true));
    }
    let mut conditions = Vec::new();
    for obs in observations.iter().filter(|o| !is_death(**o)) {
        let Some(code) = obs.child("value").and_then(|v| ctx.concept(v)) else {
            ctx.warn(
                *obs,
                "the family history observation has no coded value; left out",
            );
            continue;
        };
        let mut c = Map::new();
        c.insert("code".into(), code);
        let death = related(*obs, None).find(|o| is_death(*o));
        if let Some(d) = death {
            if let Some(outcome) = d.child("value").and_then(|v| ctx.concept(v)) {
                c.insert("outcome".into(), outcome);
            }
            c.insert("contributedToDeath".into(), json!(true));
        }
        if let Some(age) = age_at_onset(ctx, *obs) {
            c.insert("onsetAge".into(), age);
        }
        let notes = comments(ctx, *obs);
        put_array(&mut c, "note", notes);
        conditions.push(Value::Object(c));
    }
    put_array(&mut f, "condition", conditions);
    ctx.push(Value::Object(f), el);
}

#[cfg(test)]
mod tests {
    use crate::sections::problems::test_doc::*;

    const ORGANIZER: &str = r#"<entry><organizer moodCode="EVN" classCode="CLUSTER">
  <templateId root="2.16.840.1.113883.10.20.22.4.45" extension="2015-08-01"/>
  <id root="d42ebf70-5c89-11db-b0de-0855200c9a66"/>
  <statusCode code="completed"/>
  <subject><relatedSubject classCode="PRS">
    <code code="FTH" codeSystem="2.16.840.1.113883.5.111" displayName="Father"/>
    <subject><administrativeGenderCode code="M" codeSystem="2.16.840.1.113883.5.1"/><birthTime value="1910"/></subject>
  </relatedSubject></subject>
  <component><observation classCode="OBS" moodCode="EVN">
    <templateId root="2.16.840.1.113883.10.20.22.4.46"/><id root="1.2.3.46" extension="1"/>
    <code code="64572001" codeSystem="2.16.840.1.113883.6.96"/><statusCode code="completed"/>
    <value xsi:type="CD" code="22298006" codeSystem="2.16.840.1.113883.6.96" displayName="Myocardial infarction"/>
    <entryRelationship typeCode="SUBJ" inversionInd="true"><observation classCode="OBS" moodCode="EVN"><templateId root="2.16.840.1.113883.10.20.22.4.31"/><code code="445518008" codeSystem="2.16.840.1.113883.6.96"/><statusCode code="completed"/><value xsi:type="PQ" value="57" unit="a"/></observation></entryRelationship>
    <entryRelationship typeCode="CAUS"><observation classCode="OBS" moodCode="EVN"><templateId root="2.16.840.1.113883.10.20.22.4.47"/><code code="ASSERTION" codeSystem="2.16.840.1.113883.5.4"/><statusCode code="completed"/><value xsi:type="CD" code="419099009" codeSystem="2.16.840.1.113883.6.96" displayName="Dead"/></observation></entryRelationship>
  </observation></component>
  <component><observation classCode="OBS" moodCode="EVN">
    <templateId root="2.16.840.1.113883.10.20.22.4.46"/><id root="1.2.3.46" extension="2"/>
    <code code="64572001" codeSystem="2.16.840.1.113883.6.96"/><statusCode code="completed"/>
    <value xsi:type="CD" code="44054006" codeSystem="2.16.840.1.113883.6.96" displayName="Diabetes mellitus type 2"/>
    <entryRelationship typeCode="SUBJ" inversionInd="true"><observation classCode="OBS" moodCode="EVN"><templateId root="2.16.840.1.113883.10.20.22.4.31"/><code code="445518008" codeSystem="2.16.840.1.113883.6.96"/><statusCode code="completed"/><value xsi:type="PQ" value="40" unit="a"/></observation></entryRelationship>
  </observation></component>
</organizer></entry>"#;

    #[test]
    fn organizer_becomes_one_relative_with_conditions() {
        let xml = document(&[section("10157-6", ORGANIZER)]);
        let m = map(&xml);
        let f = of_type(&m, "FamilyMemberHistory");
        assert_eq!(f.len(), 1);
        let f = f[0];
        assert_eq!(f["status"], "completed");
        assert_eq!(f["relationship"]["coding"][0]["code"], "FTH");
        assert_eq!(
            f["relationship"]["coding"][0]["system"],
            "http://terminology.hl7.org/CodeSystem/v3-RoleCode"
        );
        assert_eq!(f["sex"]["coding"][0]["code"], "male");
        assert_eq!(f["bornDate"], "1910");
        assert_eq!(f["deceasedBoolean"], true);
        assert_eq!(
            f["identifier"][0]["value"],
            "urn:uuid:d42ebf70-5c89-11db-b0de-0855200c9a66"
        );
        let c = f["condition"].as_array().unwrap();
        assert_eq!(c.len(), 2);
        assert_eq!(c[0]["code"]["coding"][0]["code"], "22298006");
        assert_eq!(c[0]["onsetAge"]["value"].to_string(), "57");
        assert_eq!(c[0]["onsetAge"]["code"], "a");
        assert_eq!(c[0]["onsetAge"]["system"], "http://unitsofmeasure.org");
        assert_eq!(c[0]["contributedToDeath"], true);
        assert_eq!(c[0]["outcome"]["coding"][0]["code"], "419099009");
        assert!(c[1].get("contributedToDeath").is_none());
        assert_eq!(f["patient"]["reference"], patient(&m).as_str());
        let again = map(&xml);
        assert_eq!(of_type(&again, "FamilyMemberHistory")[0]["id"], f["id"]);
    }

    #[test]
    fn relative_without_relationship_or_death() {
        let organizer = ORGANIZER
            .replace(
                r#"<code code="FTH" codeSystem="2.16.840.1.113883.5.111" displayName="Father"/>"#,
                "",
            )
            .replace("419099009", "1234");
        let organizer = organizer.replace(
            r#"<templateId root="2.16.840.1.113883.10.20.22.4.47"/>"#,
            "",
        );
        let m = map(&document(&[section("10157-6", &organizer)]));
        let f = of_type(&m, "FamilyMemberHistory");
        assert_eq!(f[0]["relationship"]["coding"][0]["code"], "FAMMEMB");
        assert!(f[0].get("deceasedBoolean").is_none());
    }
}
