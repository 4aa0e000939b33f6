//! The Vital Signs section: each Vital Sign Observation (4.27) → Observation (`vital-signs`),
//! and each Vital Signs Organizer (4.26) → a panel Observation (LOINC 85353-1) whose
//! `hasMember` are its observations, as C-CDA on FHIR maps it.
//!
//! Profiles by LOINC code (US Core 6): 8302-2 body height, 29463-7 and 3141-9 body weight,
//! 39156-5 BMI, 8867-4 heart rate, 9279-1 respiratory rate, 8310-5 body temperature,
//! 59408-5 / 2708-6 / 2710-2 pulse oximetry, 8287-5 / 9843-4 head circumference; others the
//! generic `us-core-vital-signs`. Where a profile requires a code the document wrote as a
//! narrower one (3141-9 "measured" weight; 2710-2 capillary oximetry), the required code is
//! added as a second coding and the document's is kept.
//!
//! # Blood pressure
//!
//! C-CDA writes systolic (8480-6) and diastolic (8462-4) as two observations, each with its
//! id; FHIR's vital-signs and US Core profiles want one 85354-9 Observation with the two as
//! components. Both are made: the two as the document states them (as Microsoft's converter
//! does, so counts of systolic and diastolic readings agree), and, when an organizer holds
//! one of each, a blood-pressure Observation with `component` and `derivedFrom` both, its id
//! derived from the organizer's. The panel's `hasMember` lists all of them.
//!
//! A vital sign's missing `statusCode` is `final`: the template fixes it to completed. The
//! panel's time is the organizer's, else the earliest and latest of its observations.

use roxmltree::Node;
use serde_json::{json, Map, Value};

use crate::ctx::Ctx;
use crate::datatypes::put_array;
use crate::sections::observation::{add_coding, build, effective, loinc_code, Spec, US_CORE};
use crate::sections::observation::{encounter_for, observation_status, start_of};
use crate::sections::organizer_observations;
use crate::sections::status_code;
use crate::xml::El;

const LOINC: &str = "http://loinc.org";

pub fn map(ctx: &mut Ctx, el: Node) {
    match el.tag_name().name() {
        "organizer" => map_organizer(ctx, el),
        "observation" => {
            map_vital(ctx, el, None);
        }
        _ => ctx.skip(
            el,
            "a vital signs entry that is neither a vital signs organizer nor a vital sign observation",
        ),
    }
}

/// The US Core profile for a vital sign's LOINC code, and a code the profile requires that
/// the document's narrower code implies.
fn profile_for(code: &str) -> (&'static str, Option<(&'static str, &'static str)>) {
    match code {
        "8302-2" => ("us-core-body-height", None),
        "29463-7" => ("us-core-body-weight", None),
        "3141-9" => ("us-core-body-weight", Some(("29463-7", "Body weight"))),
        "39156-5" => ("us-core-bmi", None),
        "8867-4" => ("us-core-heart-rate", None),
        "9279-1" => ("us-core-respiratory-rate", None),
        "8310-5" => ("us-core-body-temperature", None),
        "59408-5" | "2708-6" | "2710-2" => ("us-core-pulse-oximetry", None),
        "8287-5" | "9843-4" => (
            "us-core-head-circumference",
            Some(("9843-4", "Head Occipital-frontal circumference")),
        ),
        "85354-9" => ("us-core-blood-pressure", None),
        _ => ("us-core-vital-signs", None),
    }
}

/// One vital sign observation; its reference and LOINC code.
fn map_vital(ctx: &mut Ctx, el: Node, organizer: Option<Node>) -> Option<(String, String)> {
    let mut spec = Spec::new("vital-signs");
    spec.group = organizer;
    let mut obs = build(ctx, el, &spec)?;
    let code = obs
        .get("code")
        .and_then(loinc_code)
        .unwrap_or_default()
        .to_owned();
    let (profile, required) = profile_for(&code);
    if let Some(c) = obs.get_mut("code") {
        if let Some((rc, display)) = required {
            add_coding(c, LOINC, rc, display);
        }
        if profile == "us-core-pulse-oximetry" {
            // US Core requires both oximetry codes.
            add_coding(c, LOINC, "2708-6", "Oxygen saturation in Arterial blood");
            add_coding(
                c,
                LOINC,
                "59408-5",
                "Oxygen saturation in Arterial blood by Pulse oximetry",
            );
        }
    }
    obs.insert(
        "meta".into(),
        json!({"profile": [format!("{US_CORE}/{profile}")]}),
    );
    let r = ctx.push(Value::Object(obs), el);
    Some((r, code))
}

fn map_organizer(ctx: &mut Ctx, org: Node) {
    let mut members: Vec<(String, String)> = Vec::new();
    for obs in organizer_observations(ctx, org, "vital signs") {
        if let Some(m) = map_vital(ctx, obs, Some(org)) {
            if !members.iter().any(|(r, _)| *r == m.0) {
                members.push(m);
            }
        }
    }
    if members.is_empty() {
        return;
    }
    let mut refs: Vec<String> = members.iter().map(|(r, _)| r.clone()).collect();
    if let Some(bp) = blood_pressure(ctx, org, &members) {
        refs.push(bp);
    }
    let times = member_times(ctx, &refs);
    let mut p = Map::new();
    p.insert("resourceType".into(), json!("Observation"));
    p.insert("id".into(), json!(ctx.resource_id("Observation", org)));
    p.insert(
        "meta".into(),
        json!({"profile": [format!("{US_CORE}/us-core-vital-signs")]}),
    );
    let ids = ctx.identifiers(org);
    put_array(&mut p, "identifier", ids);
    p.insert(
        "status".into(),
        json!(observation_status(status_code(org), true, "final")),
    );
    p.insert(
        "category".into(),
        json!([crate::sections::observation::category("vital-signs")]),
    );
    p.insert(
        "code".into(),
        json!({"coding": [{"system": LOINC, "code": "85353-1", "display": "Vital signs, weight, height, head circumference, oxygen saturation and BMI panel"}]}),
    );
    p.insert("subject".into(), json!({"reference": ctx.patient}));
    let eff = org
        .child("effectiveTime")
        .and_then(|t| effective(ctx, t, false))
        .or_else(|| span(&times));
    let start = eff.as_ref().and_then(|(_, v)| start_of(v));
    if let Some(e) = encounter_for(ctx, start.as_deref()) {
        p.insert("encounter".into(), json!({"reference": e}));
    }
    if let Some((kind, v)) = eff {
        p.insert(format!("effective{kind}"), v);
    }
    p.insert(
        "hasMember".into(),
        Value::Array(refs.iter().map(|r| json!({"reference": r})).collect()),
    );
    ctx.push(Value::Object(p), org);
}

/// The effective times of mapped observations.
fn member_times(ctx: &mut Ctx, refs: &[String]) -> Vec<String> {
    let mut times = Vec::new();
    for r in refs {
        if let Some(o) = ctx.resource_mut(r) {
            if let Some(t) = o["effectiveDateTime"].as_str() {
                times.push(t.to_owned());
            }
            for side in ["start", "end"] {
                if let Some(t) = o["effectivePeriod"][side].as_str() {
                    times.push(t.to_owned());
                }
            }
        }
    }
    times
}

fn span(times: &[String]) -> Option<(&'static str, Value)> {
    let min = times.iter().min()?;
    let max = times.iter().max()?;
    if min == max {
        Some(("DateTime", json!(min)))
    } else {
        Some(("Period", json!({"start": min, "end": max})))
    }
}

/// The 85354-9 Observation for an organizer's systolic and diastolic readings.
fn blood_pressure(ctx: &mut Ctx, org: Node, members: &[(String, String)]) -> Option<String> {
    let systolic = members.iter().find(|(_, c)| c == "8480-6")?.0.clone();
    let diastolic = members.iter().find(|(_, c)| c == "8462-4")?.0.clone();
    let s = ctx.resource_mut(&systolic)?.clone();
    let d = ctx.resource_mut(&diastolic)?.clone();
    let component = |o: &Value| {
        let mut c = Map::new();
        c.insert("code".into(), o["code"].clone());
        for (k, v) in o.as_object().into_iter().flatten() {
            if k.starts_with("value") || k == "dataAbsentReason" || k == "interpretation" {
                c.insert(k.clone(), v.clone());
            }
        }
        Value::Object(c)
    };
    let mut bp = Map::new();
    bp.insert("resourceType".into(), json!("Observation"));
    bp.insert("id".into(), json!(ctx.resource_id("BloodPressure", org)));
    bp.insert(
        "meta".into(),
        json!({"profile": [format!("{US_CORE}/us-core-blood-pressure")]}),
    );
    bp.insert("status".into(), s["status"].clone());
    bp.insert("category".into(), s["category"].clone());
    bp.insert(
        "code".into(),
        json!({"coding": [{"system": LOINC, "code": "85354-9", "display": "Blood pressure panel with all children optional"}]}),
    );
    bp.insert("subject".into(), json!({"reference": ctx.patient}));
    for k in [
        "encounter",
        "effectiveDateTime",
        "effectivePeriod",
        "performer",
    ] {
        if let Some(v) = s.get(k) {
            bp.insert(k.into(), v.clone());
        }
    }
    bp.insert(
        "derivedFrom".into(),
        json!([{"reference": systolic}, {"reference": diastolic}]),
    );
    bp.insert("component".into(), json!([component(&s), component(&d)]));
    Some(ctx.push(Value::Object(bp), org))
}

#[cfg(test)]
mod tests {
    use crate::sections::observation::test_doc::*;
    use serde_json::json;

    fn vital(id: &str, code: &str, value: &str, unit: &str) -> String {
        format!(
            r#"<component><observation classCode="OBS" moodCode="EVN">
              <templateId root="2.16.840.1.113883.10.20.22.4.27" extension="2014-06-09"/>
              <id root="{id}"/>
              <code code="{code}" codeSystem="2.16.840.1.113883.6.1"/>
              <statusCode code="completed"/>
              <value xsi:type="PQ" value="{value}" unit="{unit}"/>
              <interpretationCode code="N" codeSystem="2.16.840.1.113883.5.83"/>
            </observation></component>"#
        )
    }

    fn organizer() -> String {
        format!(
            r#"<entry><organizer classCode="CLUSTER" moodCode="EVN">
              <templateId root="2.16.840.1.113883.10.20.22.4.26" extension="2015-08-01"/>
              <id root="c6f88320-67ad-11db-bd13-0800200c9a66"/>
              <code code="46680005" codeSystem="2.16.840.1.113883.6.96"/>
              <statusCode code="completed"/>
              <effectiveTime value="20120910"/>
              {}{}{}{}{}</organizer></entry>"#,
            vital(
                "c6f88321-67ad-11db-bd13-0800200c9a66",
                "8302-2",
                "177",
                "cm"
            ),
            vital("c6f88322-67ad-11db-bd13-0800200c9a66", "3141-9", "86", "kg"),
            vital(
                "c6f88323-67ad-11db-bd13-0800200c9a66",
                "8480-6",
                "132",
                "mm[Hg]"
            ),
            vital(
                "c6f88324-67ad-11db-bd13-0800200c9a66",
                "8462-4",
                "88",
                "mm[Hg]"
            ),
            vital("c6f88325-67ad-11db-bd13-0800200c9a66", "2710-2", "98", "%"),
        )
    }

    #[test]
    fn organizer_panel_members_and_blood_pressure() {
        let xml = document("8716-3", "", &organizer());
        let m = map(&xml);
        assert_valid(&m);
        let obs = of_type(&m, "Observation");
        // 5 readings, the blood pressure, the panel.
        assert_eq!(obs.len(), 7);
        let panel = obs
            .iter()
            .find(|o| o["code"]["coding"][0]["code"] == "85353-1")
            .unwrap();
        assert_eq!(panel["effectiveDateTime"], "2012-09-10");
        let members = panel["hasMember"].as_array().unwrap();
        assert_eq!(members.len(), 6);
        for mem in members {
            let r = resolve(&m, mem["reference"].as_str().unwrap()).unwrap();
            assert_eq!(r["category"][0]["coding"][0]["code"], "vital-signs");
            assert_eq!(
                r["effectiveDateTime"], "2012-09-10",
                "inherits the organizer's time"
            );
            assert_eq!(r["status"], "final");
        }
        let height = resolve(&m, members[0]["reference"].as_str().unwrap()).unwrap();
        assert_eq!(height["valueQuantity"]["value"], json!(177));
        assert_eq!(height["valueQuantity"]["code"], "cm");
        assert!(height["meta"]["profile"][0]
            .as_str()
            .unwrap()
            .ends_with("us-core-body-height"));
        let weight = resolve(&m, members[1]["reference"].as_str().unwrap()).unwrap();
        assert_eq!(weight["code"]["coding"][0]["code"], "29463-7");
        assert_eq!(weight["code"]["coding"][1]["code"], "3141-9");
        let bp = obs
            .iter()
            .find(|o| o["code"]["coding"][0]["code"] == "85354-9")
            .unwrap();
        assert_eq!(bp["component"][0]["code"]["coding"][0]["code"], "8480-6");
        assert_eq!(bp["component"][0]["valueQuantity"]["value"], json!(132));
        assert_eq!(bp["component"][1]["valueQuantity"]["value"], json!(88));
        assert_eq!(bp["derivedFrom"].as_array().unwrap().len(), 2);
        let spo2 = resolve(&m, members[4]["reference"].as_str().unwrap()).unwrap();
        let codes: Vec<&str> = spo2["code"]["coding"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|c| c["code"].as_str())
            .collect();
        assert!(
            codes.contains(&"59408-5") && codes.contains(&"2708-6") && codes.contains(&"2710-2")
        );
        assert_eq!(ids(&m), ids(&map(&xml)));
    }

    #[test]
    fn a_lone_vital_sign() {
        let entry = r#"<entry><observation classCode="OBS" moodCode="EVN">
            <templateId root="2.16.840.1.113883.10.20.22.4.27"/><id root="1.2" extension="v"/>
            <code code="8867-4" codeSystem="2.16.840.1.113883.6.1"/>
            <effectiveTime value="20200101"/><value xsi:type="PQ" value="80" unit="/min"/></observation></entry>"#;
        let m = map(&document("8716-3", "", entry));
        assert_valid(&m);
        let obs = of_type(&m, "Observation");
        assert_eq!(obs.len(), 1);
        assert_eq!(obs[0]["status"], "final");
        assert!(obs[0]["meta"]["profile"][0]
            .as_str()
            .unwrap()
            .ends_with("us-core-heart-rate"));
    }
}
