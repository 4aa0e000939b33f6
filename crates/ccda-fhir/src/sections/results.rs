//! The Results section: Result Organizer (4.1) → DiagnosticReport, each Result Observation
//! (4.2) → Observation (`laboratory`, US Core `us-core-observation-lab`). A result observation
//! directly in an entry (no organizer) is an Observation alone.
//!
//! | Result Organizer | DiagnosticReport | Notes |
//! |---|---|---|
//! | `id` | `identifier`, `id` | |
//! | `statusCode` | `status` | completed → final, active → partial, aborted/cancelled → cancelled, held/suspended/new → registered, nullified → entered-in-error, none → unknown |
//! | | `category` | `LAB` (v2-0074): C-CDA does not say which service made the result; the section is lab results as US Core reads it |
//! | `code` | `code` | without one, the organizer is not mapped as a report (its observations still are) |
//! | `effectiveTime` | `effective[x]` | else the earliest and latest of the component observations (C-CDA on FHIR); a period whose ends are equal is a dateTime |
//! | `author`, `performer` | `performer` | |
//! | `component/observation` | `result` | |
//!
//! A result observation's missing `statusCode` is `unknown` (the Result Observation template
//! requires one, and unlike vital signs it is not fixed). An observation without its own
//! `effectiveTime` takes the organizer's. Microsoft's converter leaves `status` out for an
//! `active` result (FHIR requires it); we give `registered`/`preliminary`.

use roxmltree::Node;
use serde_json::{json, Map, Value};

use crate::ctx::Ctx;
use crate::datatypes::put_array;
use crate::sections::observation::{
    build, effective, encounter_for, performers, start_of, Spec, US_CORE,
};
use crate::sections::organizer_observations;
use crate::sections::status_code;
use crate::xml::El;

pub fn map(ctx: &mut Ctx, el: Node) {
    match el.tag_name().name() {
        "organizer" => map_organizer(ctx, el),
        "observation" => {
            map_result(ctx, el, None);
        }
        _ => ctx.skip(
            el,
            "a results entry that is neither a result organizer nor a result observation",
        ),
    }
}

fn lab_spec<'a, 'i>(group: Option<Node<'a, 'i>>) -> Spec<'a, 'i> {
    let mut spec = Spec::new("laboratory").profile(&format!("{US_CORE}/us-core-observation-lab"));
    spec.missing_status = "unknown";
    spec.group = group;
    spec
}

/// One result observation; its reference.
fn map_result(ctx: &mut Ctx, el: Node, organizer: Option<Node>) -> Option<String> {
    let obs = build(ctx, el, &lab_spec(organizer))?;
    Some(ctx.push(Value::Object(obs), el))
}

fn map_organizer(ctx: &mut Ctx, org: Node) {
    let mut results = Vec::new();
    let mut times: Vec<String> = Vec::new();
    for obs in organizer_observations(ctx, org, "result") {
        if let Some(r) = map_result(ctx, obs, Some(org)) {
            if let Some(Value::Object(o)) = ctx.resource_mut(&r) {
                for (k, v) in o.iter() {
                    match (k.as_str(), v) {
                        ("effectiveDateTime", Value::String(s)) => times.push(s.clone()),
                        ("effectivePeriod", p) => {
                            times.extend(
                                ["start", "end"]
                                    .iter()
                                    .filter_map(|s| p[*s].as_str().map(str::to_owned)),
                            );
                        }
                        _ => {}
                    }
                }
            }
            if !results.contains(&r) {
                results.push(r);
            }
        }
    }
    let Some(code) = org.child("code").and_then(|c| ctx.concept(c)) else {
        ctx.skip(
            org,
            "the result organizer has no code; its observations are mapped without a DiagnosticReport",
        );
        return;
    };
    let mut d = Map::new();
    d.insert("resourceType".into(), json!("DiagnosticReport"));
    d.insert("id".into(), json!(ctx.resource_id("DiagnosticReport", org)));
    d.insert(
        "meta".into(),
        json!({"profile": [format!("{US_CORE}/us-core-diagnosticreport-lab")]}),
    );
    let ids = ctx.identifiers(org);
    put_array(&mut d, "identifier", ids);
    d.insert("status".into(), json!(report_status(status_code(org))));
    d.insert(
        "category".into(),
        json!([{"coding": [{
            "system": "http://terminology.hl7.org/CodeSystem/v2-0074",
            "code": "LAB",
            "display": "Laboratory"
        }]}]),
    );
    d.insert("code".into(), code);
    d.insert("subject".into(), json!({"reference": ctx.patient}));
    let eff = match org.child("effectiveTime") {
        Some(t) => effective(ctx, t, false),
        None => None,
    }
    .or_else(|| span(&times));
    let start = eff.as_ref().and_then(|(_, v)| start_of(v));
    if let Some(e) = encounter_for(ctx, start.as_deref()) {
        d.insert("encounter".into(), json!({"reference": e}));
    }
    if let Some((kind, v)) = eff {
        d.insert(format!("effective{kind}"), v);
    }
    let performers = performers(ctx, org);
    put_array(&mut d, "performer", performers);
    if !results.is_empty() {
        let refs: Vec<Value> = results.iter().map(|r| json!({"reference": r})).collect();
        d.insert("result".into(), Value::Array(refs));
    }
    ctx.push(Value::Object(d), org);
}

/// The earliest and latest of FHIR times, as a dateTime when they are one. Compared as
/// written: the observations of one organizer are written with one zone in practice.
fn span(times: &[String]) -> Option<(&'static str, Value)> {
    let min = times.iter().min()?;
    let max = times.iter().max()?;
    if min == max {
        Some(("DateTime", json!(min)))
    } else {
        Some(("Period", json!({"start": min, "end": max})))
    }
}

/// Result Organizer `statusCode` → DiagnosticReport.status.
pub fn report_status(code: Option<&str>) -> &'static str {
    match code {
        Some("completed") => "final",
        Some("active") => "partial",
        Some("aborted" | "cancelled") => "cancelled",
        Some("held" | "suspended" | "new") => "registered",
        Some("nullified") => "entered-in-error",
        _ => "unknown",
    }
}

#[cfg(test)]
mod tests {
    use crate::sections::observation::test_doc::*;
    use serde_json::json;

    const ORGANIZER: &str = r#"<entry typeCode="DRIV"><organizer classCode="BATTERY" moodCode="EVN">
      <templateId root="2.16.840.1.113883.10.20.22.4.1" extension="2015-08-01"/>
      <id root="7d5a02b0-67a4-11db-bd13-0800200c9a66"/>
      <code code="57021-8" codeSystem="2.16.840.1.113883.6.1" displayName="CBC"/>
      <statusCode code="completed"/>
      <component><observation classCode="OBS" moodCode="EVN">
        <templateId root="2.16.840.1.113883.10.20.22.4.2" extension="2015-08-01"/>
        <id root="107c2dc0-67a5-11db-bd13-0800200c9a66"/>
        <code code="718-7" codeSystem="2.16.840.1.113883.6.1" displayName="Hemoglobin"/>
        <statusCode code="completed"/>
        <effectiveTime value="200803190830-0800"/>
        <value xsi:type="PQ" value="13.2" unit="g/dL"/>
        <interpretationCode code="N" codeSystem="2.16.840.1.113883.5.83"/>
        <referenceRange><observationRange><value xsi:type="IVL_PQ"><low value="12.0" unit="g/dL"/><high value="15.5" unit="g/dL"/></value></observationRange></referenceRange>
      </observation></component>
      <component><observation classCode="OBS" moodCode="EVN">
        <templateId root="2.16.840.1.113883.10.20.22.4.2" extension="2015-08-01"/>
        <id root="107c2dc0-67a5-11db-bd13-0800200c9a67"/>
        <code code="3094-0" codeSystem="2.16.840.1.113883.6.1"/>
        <statusCode code="active"/>
        <effectiveTime value="200803191030-0800"/>
        <value xsi:type="PQ" nullFlavor="NI"/>
      </observation></component>
    </organizer></entry>"#;

    #[test]
    fn organizer_becomes_a_report_with_its_results() {
        let xml = document("30954-2", "", ORGANIZER);
        let m = map(&xml);
        assert_valid(&m);
        let reports = of_type(&m, "DiagnosticReport");
        assert_eq!(reports.len(), 1);
        let d = reports[0];
        assert_eq!(d["status"], "final");
        assert_eq!(d["code"]["coding"][0]["code"], "57021-8");
        assert_eq!(d["category"][0]["coding"][0]["code"], "LAB");
        // No organizer time: the span of its observations.
        assert_eq!(d["effectivePeriod"]["start"], "2008-03-19T08:30:00-08:00");
        assert_eq!(d["effectivePeriod"]["end"], "2008-03-19T10:30:00-08:00");
        let results = d["result"].as_array().unwrap();
        assert_eq!(results.len(), 2);
        let hgb = resolve(&m, results[0]["reference"].as_str().unwrap()).unwrap();
        assert_eq!(hgb["code"]["coding"][0]["code"], "718-7");
        assert_eq!(hgb["valueQuantity"]["value"], json!(13.2));
        assert_eq!(hgb["valueQuantity"]["unit"], "g/dL");
        assert_eq!(hgb["status"], "final");
        assert_eq!(hgb["category"][0]["coding"][0]["code"], "laboratory");
        assert_eq!(hgb["referenceRange"][0]["low"]["value"].to_string(), "12.0");
        let bun = resolve(&m, results[1]["reference"].as_str().unwrap()).unwrap();
        assert_eq!(bun["status"], "registered");
        assert_eq!(bun["dataAbsentReason"]["coding"][0]["code"], "unknown");
        assert_eq!(ids(&m), ids(&map(&xml)));
    }

    #[test]
    fn a_lone_result_observation_and_one_without_a_code() {
        let lone = r#"<entry><observation classCode="OBS" moodCode="EVN">
          <templateId root="2.16.840.1.113883.10.20.22.4.2"/><id root="1.2.3" extension="x"/>
          <code code="2345-7" codeSystem="2.16.840.1.113883.6.1"/>
          <value xsi:type="PQ" value="100" unit="mg/dL"/></observation></entry>
          <entry><observation classCode="OBS" moodCode="EVN"><id root="1.2.3" extension="y"/><value xsi:type="PQ" value="1" unit="1"/></observation></entry>"#;
        let m = map(&document("30954-2", "", lone));
        assert_valid(&m);
        let o = of_type(&m, "Observation");
        assert_eq!(o.len(), 1);
        assert_eq!(o[0]["status"], "unknown");
        assert!(o[0].get("effectiveDateTime").is_none());
        assert!(m.skipped.iter().any(|s| s.reason.contains("no code")));
        assert!(of_type(&m, "DiagnosticReport").is_empty());
    }
}
