//! Immunizations → Immunization.
//!
//! An Immunization Activity (`2.16.840.1.113883.10.20.22.4.52`, `moodCode="EVN"`) is one
//! Immunization, its id from the activity's `id`.
//!
//! | Immunization | C-CDA |
//! |---|---|
//! | `status` | `completed` (statusCode completed or active); `not-done` when `negationInd="true"` or the act was cancelled or aborted; `entered-in-error` when nullified |
//! | `statusReason` | an Immunization Refusal Reason (`4.53`, RSON) value |
//! | `vaccineCode` | `consumable/manufacturedProduct/manufacturedMaterial/code` (CVX and its translations, original text); the material's `name` when not coded |
//! | `occurrenceDateTime` | `effectiveTime` `value` (or `low`); a data-absent-reason when the document gives none (FHIR requires it) |
//! | `primarySource` | `true`: the document's author recorded it (C-CDA has no reported/primary distinction the IG maps) |
//! | `lotNumber`, `manufacturer` | `lotNumberText`; `manufacturerOrganization` (Organization) |
//! | `route`, `site`, `doseQuantity` | `routeCode`, `approachSiteCode`, `doseQuantity` |
//! | `performer` | `performer/assignedEntity` (Practitioner), function AP (administering provider) |
//! | `protocolApplied.doseNumberPositiveInt` | `repeatNumber` (the dose in the series) |
//! | `reasonCode` | Indications (`4.19`, RSON) `value` |
//! | `recorded` | the first `author/time` |
//! | `note` | Comment Activities (`4.64`) |
//!
//! `encounter` is not set: an immunization history is not about the documented visit.
//!
//! A planned immunization (`moodCode` INT, RQO, PRMS, PRP) is skipped: C-CDA on FHIR maps
//! only given (or refused) immunizations to Immunization, which records events; a plan is a
//! MedicationRequest or ServiceRequest, and the Plan of Treatment section maps those.

use roxmltree::Node;
use serde_json::{json, Map, Value};

use crate::ctx::Ctx;
use crate::datatypes::{put_array, TimeKind, DATA_ABSENT};
use crate::header::map_organization;
use crate::sections::problems::{author_time, comments, is_template};
use crate::sections::{negated, performer_refs, related, status_code};
use crate::xml::El;

pub fn map(ctx: &mut Ctx, el: Node) {
    if el.tag_name().name() != "substanceAdministration" {
        ctx.skip(
            el,
            "an entry in the immunizations section that is not an immunization activity; not mapped",
        );
        return;
    }
    let mood = el.attr("moodCode").unwrap_or("EVN");
    if mood != "EVN" {
        ctx.skip(
            el,
            "a planned immunization (moodCode other than EVN) is not an Immunization event; not mapped",
        );
        return;
    }
    let product = el.path(&["consumable", "manufacturedProduct"]);
    let material = product.and_then(|p| p.child("manufacturedMaterial"));
    let vaccine = material.and_then(|m| {
        m.child("code").and_then(|c| ctx.concept(c)).or_else(|| {
            m.child("name")
                .map(|n| n.text_content())
                .filter(|t| !t.is_empty())
                .map(|t| json!({ "text": t }))
        })
    });
    let Some(vaccine) = vaccine else {
        ctx.skip(
            el,
            "the immunization activity has no vaccine code and no vaccine name; not mapped",
        );
        return;
    };
    let id = ctx.resource_id("Immunization", el);
    let mut r = Map::new();
    r.insert("resourceType".into(), json!("Immunization"));
    r.insert("id".into(), json!(id));
    let ids = ctx.identifiers(el);
    put_array(&mut r, "identifier", ids);
    let status = if negated(el) {
        "not-done"
    } else {
        match status_code(el) {
            Some("nullified") => "entered-in-error",
            Some("cancelled" | "aborted") => "not-done",
            _ => "completed",
        }
    };
    r.insert("status".into(), json!(status));
    if let Some(reason) = related(el, Some("RSON"))
        .filter(|o| is_template(*o, "53"))
        .find_map(|o| {
            o.child("code")
                .and_then(|c| ctx.concept(c))
                .or_else(|| o.child("value").and_then(|v| ctx.concept(v)))
        })
    {
        r.insert("statusReason".into(), reason);
    }
    r.insert("vaccineCode".into(), vaccine);
    r.insert("patient".into(), json!({"reference": ctx.patient}));
    let when = el.child("effectiveTime").and_then(|t| {
        let point = if t.attr("value").is_some() {
            t
        } else {
            t.child("low").or_else(|| t.child("center")).unwrap_or(t)
        };
        ctx.time(point, TimeKind::DateTime)
    });
    match when {
        Some(t) => {
            r.insert("occurrenceDateTime".into(), json!(t));
        }
        None => {
            r.insert(
                "_occurrenceDateTime".into(),
                json!({"extension": [{"url": DATA_ABSENT, "valueCode": "unknown"}]}),
            );
        }
    }
    if let Some(t) = author_time(ctx, el) {
        r.insert("recorded".into(), json!(t));
    }
    r.insert("primarySource".into(), json!(true));
    if let Some(org) = product.and_then(|p| p.child("manufacturerOrganization")) {
        if let Some(o) = map_organization(ctx, org) {
            r.insert("manufacturer".into(), json!({ "reference": o }));
        }
    }
    if let Some(lot) = material
        .and_then(|m| m.child("lotNumberText"))
        .map(|l| l.text_content())
        .filter(|t| !t.is_empty())
    {
        r.insert("lotNumber".into(), json!(lot));
    }
    if let Some(site) = el.child("approachSiteCode").and_then(|c| ctx.concept(c)) {
        r.insert("site".into(), site);
    }
    if let Some(route) = el.child("routeCode").and_then(|c| ctx.concept(c)) {
        r.insert("route".into(), route);
    }
    if let Some(q) = el
        .child("doseQuantity")
        .filter(|q| q.null_flavor().is_none() && q.attr("value").is_some())
        .and_then(|q| ctx.quantity(q))
    {
        r.insert("doseQuantity".into(), q);
    }
    let performers: Vec<Value> = performer_refs(ctx, el)
        .into_iter()
        .map(|p| {
            json!({
                "function": {"coding": [{
                    "system": "http://terminology.hl7.org/CodeSystem/v2-0443",
                    "code": "AP",
                    "display": "Administering Provider"
                }]},
                "actor": {"reference": p}
            })
        })
        .collect();
    put_array(&mut r, "performer", performers);
    let notes = comments(ctx, el);
    put_array(&mut r, "note", notes);
    let reasons: Vec<Value> = related(el, Some("RSON"))
        .filter(|o| is_template(*o, "19"))
        .filter_map(|o| o.child("value").and_then(|v| ctx.concept(v)))
        .collect();
    put_array(&mut r, "reasonCode", reasons);
    if let Some(n) = el
        .child("repeatNumber")
        .and_then(|n| n.attr("value"))
        .and_then(|v| v.parse::<u32>().ok())
        .filter(|n| *n > 0)
    {
        r.insert(
            "protocolApplied".into(),
            json!([{ "doseNumberPositiveInt": n }]),
        );
    }
    ctx.push(Value::Object(r), el);
}

#[cfg(test)]
mod tests {
    use crate::sections::problems::test_doc::*;

    fn immunization(id: &str, attrs: &str, inner: &str) -> String {
        format!(
            r#"<entry><substanceAdministration classCode="SBADM" {attrs}>
  <templateId root="2.16.840.1.113883.10.20.22.4.52" extension="2015-08-01"/>
  <id root="1.2.3.52" extension="{id}"/>
  <statusCode code="completed"/>
  <effectiveTime value="19981215"/>
  <repeatNumber value="2"/>
  <routeCode code="C28161" codeSystem="2.16.840.1.113883.3.26.1.1" displayName="Intramuscular"/>
  <approachSiteCode code="368208006" codeSystem="2.16.840.1.113883.6.96" displayName="Left arm"/>
  <doseQuantity value="50" unit="ug"/>
  <consumable><manufacturedProduct classCode="MANU"><templateId root="2.16.840.1.113883.10.20.22.4.54"/>
    <manufacturedMaterial><code code="88" codeSystem="2.16.840.1.113883.12.292" displayName="Influenza virus vaccine"/><lotNumberText>1</lotNumberText></manufacturedMaterial>
    <manufacturerOrganization><name>Health LS - Immuno Inc.</name></manufacturerOrganization>
  </manufacturedProduct></consumable>
  <performer><assignedEntity><id root="2.16.840.1.113883.4.6" extension="2222"/></assignedEntity></performer>
  {inner}
</substanceAdministration></entry>"#
        )
    }

    #[test]
    fn given_refused_and_planned_immunizations() {
        let refusal = r#"<entryRelationship typeCode="RSON"><observation classCode="OBS" moodCode="EVN"><templateId root="2.16.840.1.113883.10.20.22.4.53"/><id root="1.2.3.53"/><code code="PATOBJ" codeSystem="2.16.840.1.113883.5.8" displayName="patient objection"/><statusCode code="completed"/></observation></entryRelationship>"#;
        let entries = format!(
            "{}{}{}",
            immunization("i1", r#"moodCode="EVN" negationInd="false""#, ""),
            immunization("i2", r#"moodCode="EVN" negationInd="true""#, refusal),
            immunization("i3", r#"moodCode="INT""#, ""),
        );
        let xml = document(&[section("11369-6", &entries)]);
        let m = map(&xml);
        let i = of_type(&m, "Immunization");
        assert_eq!(i.len(), 2);
        assert_eq!(i[0]["status"], "completed");
        assert_eq!(i[0]["vaccineCode"]["coding"][0]["code"], "88");
        assert_eq!(
            i[0]["vaccineCode"]["coding"][0]["system"],
            "http://hl7.org/fhir/sid/cvx"
        );
        assert_eq!(i[0]["occurrenceDateTime"], "1998-12-15");
        assert_eq!(i[0]["primarySource"], true);
        assert_eq!(i[0]["lotNumber"], "1");
        assert_eq!(i[0]["route"]["coding"][0]["code"], "C28161");
        assert_eq!(i[0]["site"]["coding"][0]["code"], "368208006");
        assert_eq!(i[0]["doseQuantity"]["value"].to_string(), "50");
        assert_eq!(i[0]["doseQuantity"]["code"], "ug");
        assert_eq!(i[0]["protocolApplied"][0]["doseNumberPositiveInt"], 2);
        assert_eq!(i[0]["performer"][0]["function"]["coding"][0]["code"], "AP");
        let org = of_type(&m, "Organization");
        assert_eq!(
            i[0]["manufacturer"]["reference"],
            reference(org[0]).as_str()
        );
        assert!(i[0].get("encounter").is_none());
        assert_eq!(i[0]["patient"]["reference"], patient(&m).as_str());
        assert_eq!(i[1]["status"], "not-done");
        assert_eq!(i[1]["statusReason"]["coding"][0]["code"], "PATOBJ");
        assert_eq!(m.skipped.len(), 1);
        assert!(m.skipped[0].reason.contains("planned"));
        let again = map(&xml);
        assert_eq!(of_type(&again, "Immunization")[0]["id"], i[0]["id"]);
    }

    #[test]
    fn immunization_without_a_date_is_kept_with_a_reason() {
        let entry = immunization("i9", r#"moodCode="EVN""#, "")
            .replace(r#"<effectiveTime value="19981215"/>"#, "");
        let m = map(&document(&[section("11369-6", &entry)]));
        let i = of_type(&m, "Immunization");
        assert_eq!(i.len(), 1);
        assert!(i[0].get("occurrenceDateTime").is_none());
        assert_eq!(
            i[0]["_occurrenceDateTime"]["extension"][0]["valueCode"],
            "unknown"
        );
    }
}
