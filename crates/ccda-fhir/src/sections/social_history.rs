//! The Social History section → Observations (`social-history`), and the Patient's birth sex.
//!
//! | C-CDA | FHIR | Notes |
//! |---|---|---|
//! | Smoking Status (4.78, 72166-2) | Observation, US Core `us-core-smokingstatus` | an R1.1 smoking status coded `ASSERTION` also gets the LOINC 72166-2 coding US Core requires (Microsoft's converter keeps `ASSERTION` alone) |
//! | Tobacco Use (4.85), Social History Observation (4.38), others | Observation | |
//! | Pregnancy Observation (4.8) | Observation, code LOINC 82810-3 next to `ASSERTION`; an estimated delivery date (11778-8) as a `component` | |
//! | Sexual orientation (76690-7) | Observation, US Core `us-core-observation-sexual-orientation` | |
//! | Sex (46098-0), gender identity (76691-5) | Observation | |
//! | Birth Sex (4.200, 76689-9) | the Patient's US Core `us-core-birthsex` extension (`F`, `M`, else `UNK`) | not an Observation (Microsoft's converter makes one) |
//! | Assessment Scale Observation (4.69): Hunger Vital Sign, AHC HRSN, PRAPARE | see [`super::assessments`], with `social-history` as well | |
//!
//! An observation with an SDOH meaning (Gravity LOINC codes, ICD-10-CM Z55-Z65) also gets the
//! US Core `sdoh` category. A `low`/`high` effectiveTime is a Period even without an end: a
//! habit "since" a date (C-CDA social history), not observed on it. A missing `statusCode`
//! is `final`: these templates fix it to completed.

use roxmltree::Node;
use serde_json::{json, Value};

use crate::ctx::Ctx;
use crate::datatypes::put_array;
use crate::sections::observation::{
    add_category, add_coding, build, category, is_sdoh, us_core_category, Spec, US_CORE,
};
use crate::sections::{assessments, related};
use crate::xml::El;

const E: &str = "2.16.840.1.113883.10.20.22.4.";
const LOINC: &str = "http://loinc.org";
const BIRTH_SEX: &str = "http://hl7.org/fhir/us/core/StructureDefinition/us-core-birthsex";

pub fn map(ctx: &mut Ctx, el: Node) {
    if el.tag_name().name() != "observation" {
        ctx.skip(
            el,
            "a social history entry that is not an observation; not mapped",
        );
        return;
    }
    let is = |s: &str| el.has_template(&format!("{E}{s}"));
    let code = el.child("code").and_then(|c| c.attr("code"));
    if is("200") || code == Some("76689-9") {
        birth_sex(ctx, el);
        return;
    }
    if is("69") {
        assessments::map_scale(ctx, el, &[category("social-history")]);
        return;
    }
    let mut spec = Spec::new("social-history");
    spec.interval = true;
    let smoking = is("78") || code == Some("72166-2");
    let profile = match code {
        _ if smoking => Some("us-core-smokingstatus"),
        Some("76690-7") => Some("us-core-observation-sexual-orientation"),
        _ => None,
    };
    spec.profile = profile.map(|p| format!("{US_CORE}/{p}"));
    let Some(mut obs) = build(ctx, el, &spec) else {
        return;
    };
    if let Some(c) = obs.get_mut("code") {
        if smoking {
            add_coding(c, LOINC, "72166-2", "Tobacco smoking status");
        } else if is("8") {
            add_coding(c, LOINC, "82810-3", "Pregnancy status");
        }
    }
    if is_sdoh(el) {
        add_category(&mut obs, us_core_category("sdoh"));
    }
    if is("8") {
        let mut components = Vec::new();
        for r in related(el, None)
            .filter(|r| r.child("code").and_then(|c| c.attr("code")) == Some("11778-8"))
        {
            let Some(v) = r.child("value") else { continue };
            let Some(t) = ctx.time(v, crate::datatypes::TimeKind::DateTime) else {
                continue;
            };
            let code = r
                .child("code")
                .and_then(|c| ctx.concept(c))
                .unwrap_or_else(|| json!({"coding": [{"system": LOINC, "code": "11778-8"}]}));
            components.push(json!({"code": code, "valueDateTime": t}));
        }
        put_array(&mut obs, "component", components);
    }
    ctx.push(Value::Object(obs), el);
}

/// Birth Sex → the Patient's `us-core-birthsex` extension.
fn birth_sex(ctx: &mut Ctx, el: Node) {
    let code = match el.child("value").and_then(|v| v.attr("code")) {
        Some("F") => "F",
        Some("M") => "M",
        // UN (undifferentiated) and null flavors: US Core has UNK only.
        _ => "UNK",
    };
    let patient = ctx.patient.clone();
    let Some(Value::Object(p)) = ctx.resource_mut(&patient) else {
        ctx.skip(el, "the birth sex has no Patient to go on; not mapped");
        return;
    };
    let ext = p
        .entry("extension")
        .or_insert_with(|| Value::Array(Vec::new()));
    if let Value::Array(list) = ext {
        list.retain(|e| e["url"] != BIRTH_SEX);
        list.push(json!({"url": BIRTH_SEX, "valueCode": code}));
    }
    // `extension` comes before `identifier` in FHIR's order; a Patient without race or
    // ethnicity had none, so it was added last. JSON readers do not care, but keep it tidy.
    if let Some(ext) = p.shift_remove("extension") {
        let rest: Vec<(String, Value)> = std::mem::take(p).into_iter().collect();
        for (k, v) in rest {
            let after_meta = k == "meta";
            p.insert(k, v);
            if after_meta {
                p.insert("extension".into(), ext.clone());
            }
        }
        if !p.contains_key("extension") {
            p.insert("extension".into(), ext);
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::sections::observation::test_doc::*;
    use serde_json::json;

    const ENTRIES: &str = r##"
      <entry><observation classCode="OBS" moodCode="EVN">
        <templateId root="2.16.840.1.113883.10.20.22.4.78" extension="2014-06-09"/>
        <id root="1.2" extension="smoke"/>
        <code code="72166-2" codeSystem="2.16.840.1.113883.6.1"/>
        <statusCode code="completed"/><effectiveTime value="20120910"/>
        <value xsi:type="CD" code="8517006" codeSystem="2.16.840.1.113883.6.96" displayName="Former smoker"/>
      </observation></entry>
      <entry><observation classCode="OBS" moodCode="EVN">
        <templateId root="2.16.840.1.113883.10.20.22.4.78"/>
        <id root="1.2" extension="smoke-r11"/>
        <code code="ASSERTION" codeSystem="2.16.840.1.113883.5.4"/>
        <statusCode code="completed"/><effectiveTime><low value="2012"/></effectiveTime>
        <value xsi:type="CD" code="266919005" codeSystem="2.16.840.1.113883.6.96"/>
      </observation></entry>
      <entry><observation classCode="OBS" moodCode="EVN">
        <templateId root="2.16.840.1.113883.10.20.22.4.38"/>
        <id root="1.2" extension="job"/>
        <code code="10159-2" codeSystem="2.16.840.1.113883.6.1"/>
        <text><reference value="#soc1"/></text>
        <statusCode code="completed"/>
        <effectiveTime><low value="20050501"/><high value="20100430"/></effectiveTime>
        <value xsi:type="ST">5 years of working with asbestos</value>
      </observation></entry>
      <entry><observation classCode="OBS" moodCode="EVN">
        <templateId root="2.16.840.1.113883.10.20.22.4.38"/>
        <id root="1.2" extension="housing"/>
        <code code="71802-3" codeSystem="2.16.840.1.113883.6.1"/>
        <statusCode code="completed"/><effectiveTime value="20200101"/>
        <value xsi:type="CD" code="LA31994-9" codeSystem="2.16.840.1.113883.6.1"/>
      </observation></entry>
      <entry><observation classCode="OBS" moodCode="EVN">
        <templateId root="2.16.840.1.113883.10.20.22.4.200" extension="2016-06-01"/>
        <code code="76689-9" codeSystem="2.16.840.1.113883.6.1"/>
        <statusCode code="completed"/>
        <value xsi:type="CD" codeSystem="2.16.840.1.113883.5.1" code="M"/>
      </observation></entry>"##;

    #[test]
    fn smoking_status_social_history_and_birth_sex() {
        let xml = document(
            "29762-2",
            r#"<paragraph ID="soc1">job</paragraph>"#,
            ENTRIES,
        );
        let m = map(&xml);
        assert_valid(&m);
        let obs = of_type(&m, "Observation");
        assert_eq!(obs.len(), 4, "birth sex is not an Observation");
        assert_eq!(obs[0]["code"]["coding"][0]["code"], "72166-2");
        assert_eq!(
            obs[0]["valueCodeableConcept"]["coding"][0]["code"],
            "8517006"
        );
        assert_eq!(obs[0]["effectiveDateTime"], "2012-09-10");
        assert!(obs[0]["meta"]["profile"][0]
            .as_str()
            .unwrap()
            .ends_with("us-core-smokingstatus"));
        assert_eq!(obs[0]["category"][0]["coding"][0]["code"], "social-history");
        // R1.1: ASSERTION gets the LOINC code; a low alone is a start.
        assert_eq!(obs[1]["code"]["coding"][0]["code"], "72166-2");
        assert_eq!(obs[1]["code"]["coding"][1]["code"], "ASSERTION");
        assert_eq!(obs[1]["effectivePeriod"], json!({"start": "2012"}));
        assert_eq!(obs[2]["valueString"], "5 years of working with asbestos");
        assert_eq!(obs[2]["effectivePeriod"]["end"], "2010-04-30");
        let cats: Vec<&str> = obs[3]["category"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|c| c["coding"][0]["code"].as_str())
            .collect();
        assert_eq!(cats, ["social-history", "sdoh"]);
        let patient = of_type(&m, "Patient")[0];
        let ext = patient["extension"].as_array().unwrap();
        let bs = ext
            .iter()
            .find(|e| e["url"] == super::BIRTH_SEX)
            .expect("birth sex extension");
        assert_eq!(bs["valueCode"], "M");
        assert_eq!(ids(&m), ids(&map(&xml)));
    }
}
