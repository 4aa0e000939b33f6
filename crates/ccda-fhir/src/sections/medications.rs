//! Medications → MedicationStatement, MedicationRequest, MedicationAdministration (and the
//! supply orders and dispenses around them).
//!
//! A Medication Activity (`2.16.840.1.113883.10.20.22.4.16`, a `substanceAdministration`) is
//! one resource, by mood: `EVN` → MedicationStatement (MedicationAdministration in the
//! Medications Administered section and the procedure notes' anesthesia section), `INT`/`RQO`
//! → MedicationRequest (intent `order`), `PRP` → MedicationRequest `proposal`, `PRMS` →
//! `plan`. Admission and Discharge Medication acts (`4.36`, `4.35`) are unwrapped. A Medication
//! Supply Order (`4.17`) under a statement becomes a MedicationRequest the statement is
//! `basedOn` (under a request it fills the request's `dispenseRequest`); a Medication Dispense
//! (`4.18`) becomes a MedicationDispense.
//!
//! The drug is `medicationCodeableConcept` from
//! `consumable/manufacturedProduct/manufacturedMaterial/code` (RxNorm and its translations, the
//! original text; the material's `name` when it is not coded). This is deliberate: Microsoft's
//! converter emits a Medication resource per activity and references it, but a Medication
//! with only a code adds a resource and a reference and nothing else, and the same drug
//! across documents would need its own identity rules.
//!
//! | FHIR | C-CDA |
//! |---|---|
//! | `status` | `statusCode` (table below); `negationInd="true"` → `not-taken` / `not-done`, or `doNotPerform` on a request |
//! | `effectivePeriod` / `effectiveDateTime` (statement, administration) | the first `effectiveTime` that is an interval or a point |
//! | dosage `timing.repeat.boundsPeriod` (request) | the same interval |
//! | dosage `timing.repeat.period`/`periodUnit` | a `PIVL_TS` `period` (UCUM s, min, h, d, wk, mo, a) |
//! | dosage `timing.repeat.when` | an `EIVL_TS` `event` |
//! | dosage `doseAndRate` | `doseQuantity` (a unit-less or unit `1` dose keeps its value only; `low`/`high` → `doseRange`), `rateQuantity` |
//! | dosage `route`, `site` | `routeCode`, `approachSiteCode` |
//! | dosage `asNeededCodeableConcept` | `precondition/criterion/value` |
//! | dosage `text`, `patientInstruction` | the activity's `text`; Instruction acts (`4.20`) |
//! | `reasonCode` | Indications (`4.19`, RSON) `value` |
//! | `informationSource` + `dateAsserted` / `requester` + `authoredOn` | the first `author` |
//! | `performer` (administration) | `performer/assignedEntity` |
//! | `context` (administration) | the document's encounter: what is administered is administered in it |
//!
//! Status (C-CDA on FHIR CF-MedicationStatus and the Pharmacy WG table):
//!
//! | statusCode | MedicationStatement | MedicationRequest | MedicationAdministration |
//! |---|---|---|---|
//! | active | active | active | in-progress |
//! | completed | completed | completed | completed |
//! | aborted | stopped | stopped | stopped |
//! | suspended, held | on-hold | on-hold | on-hold |
//! | cancelled | not-taken | cancelled | not-done |
//! | nullified | entered-in-error | entered-in-error | entered-in-error |
//! | new | intended | draft | unknown |
//! | other, none | unknown | unknown | unknown |
//!
//! Microsoft's converter makes a MedicationAdministration of a discharge medication order
//! (`INT`); an order is a MedicationRequest, and we map it so.

use roxmltree::Node;
use serde_json::{json, Map, Value};

use crate::ctx::Ctx;
use crate::datatypes::{decimal, put_array, TimeKind, DATA_ABSENT};
use crate::sections::problems::{author_time, comments, is_template};
use crate::sections::{author_ref, negated, performer_refs, related, status_code, SectionKind};
use crate::xml::El;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    Statement,
    Request,
    Administration,
}

pub fn map(ctx: &mut Ctx, kind: SectionKind, el: Node) {
    match el.tag_name().name() {
        "substanceAdministration" => {
            map_activity(ctx, kind, el);
        }
        "act" => {
            let activities: Vec<Node> = related(el, None)
                .filter(|a| a.tag_name().name() == "substanceAdministration")
                .collect();
            if activities.is_empty() {
                ctx.skip(
                    el,
                    "the medication act holds no medication activity; not mapped",
                );
            }
            for a in activities {
                map_activity(ctx, kind, a);
            }
        }
        _ => ctx.skip(
            el,
            "an entry in a medications section that is not a medication activity; not mapped",
        ),
    }
}

/// The drug of a medication activity, supply or dispense.
fn medication(ctx: &Ctx, el: Node) -> Option<Value> {
    let material = el
        .path(&["consumable", "manufacturedProduct", "manufacturedMaterial"])
        .or_else(|| el.path(&["product", "manufacturedProduct", "manufacturedMaterial"]))?;
    material
        .child("code")
        .and_then(|c| ctx.concept(c))
        .or_else(|| {
            material
                .child("name")
                .map(|n| n.text_content())
                .filter(|t| !t.is_empty())
                .map(|t| json!({ "text": t }))
        })
}

/// One Medication Activity: its reference, or `None` when it could not be mapped.
pub(crate) fn map_activity(ctx: &mut Ctx, kind: SectionKind, sa: Node) -> Option<String> {
    let mood = sa.attr("moodCode").unwrap_or("EVN");
    let (target, intent) = match mood {
        "EVN" if kind == SectionKind::MedicationsAdministered => (Target::Administration, None),
        "EVN" => (Target::Statement, None),
        "PRP" => (Target::Request, Some("proposal")),
        "PRMS" => (Target::Request, Some("plan")),
        _ => (Target::Request, Some("order")),
    };
    let Some(drug) = medication(ctx, sa) else {
        let reason = if negated(sa) {
            "a negated medication activity names no drug (no medications); nothing to map"
        } else {
            "the medication activity has no drug code and no drug name; not mapped"
        };
        ctx.skip(sa, reason);
        return None;
    };
    let type_name = match target {
        Target::Statement => "MedicationStatement",
        Target::Request => "MedicationRequest",
        Target::Administration => "MedicationAdministration",
    };
    let id = ctx.resource_id(type_name, sa);
    let mut r = Map::new();
    r.insert("resourceType".into(), json!(type_name));
    r.insert("id".into(), json!(id));
    let ids = ctx.identifiers(sa);
    put_array(&mut r, "identifier", ids);
    let code = status_code(sa);
    let status = match target {
        Target::Statement if negated(sa) => "not-taken",
        Target::Administration if negated(sa) => "not-done",
        Target::Statement => match code {
            Some("active") => "active",
            Some("completed") => "completed",
            Some("aborted") => "stopped",
            Some("suspended" | "held") => "on-hold",
            Some("cancelled") => "not-taken",
            Some("nullified") => "entered-in-error",
            Some("new") => "intended",
            _ => "unknown",
        },
        Target::Request => request_status(code),
        Target::Administration => match code {
            Some("active") => "in-progress",
            Some("completed") => "completed",
            Some("aborted") => "stopped",
            Some("suspended" | "held") => "on-hold",
            Some("cancelled") => "not-done",
            Some("nullified") => "entered-in-error",
            _ => "unknown",
        },
    };
    r.insert("status".into(), json!(status));
    if let Some(intent) = intent {
        r.insert("intent".into(), json!(intent));
        if negated(sa) {
            r.insert("doNotPerform".into(), json!(true));
        }
    }
    r.insert("medicationCodeableConcept".into(), drug.clone());
    r.insert("subject".into(), json!({"reference": ctx.patient}));
    if target == Target::Administration {
        if let Some(e) = &ctx.encounter {
            r.insert("context".into(), json!({ "reference": e }));
        }
    }

    // The interval (or point) the medication is taken in, and the timing parts.
    let times: Vec<Node> = sa.children_named("effectiveTime").collect();
    let bounds = times.iter().find(|t| {
        matches!(t.xsi_type(), None | Some("IVL_TS" | "TS")) && t.null_flavor().is_none()
    });
    // A start alone is when the medication was started: a Period, not a point in time.
    let effective = bounds.and_then(|t| {
        if t.child("low").is_none() && t.child("high").is_none() && t.child("center").is_none() {
            ctx.time(*t, TimeKind::DateTime)
                .map(|v| ("DateTime", json!(v)))
        } else {
            ctx.period(*t).map(|p| ("Period", p))
        }
    });
    let mut timing = Map::new();
    let mut repeat = Map::new();
    for t in &times {
        match t.xsi_type() {
            Some("PIVL_TS") => pivl(ctx, *t, &mut repeat),
            Some("EIVL_TS") => {
                match t
                    .child("event")
                    .and_then(|e| e.attr("code"))
                    .and_then(event)
                {
                    Some(w) => {
                        repeat.insert("when".into(), json!([w]));
                    }
                    None => ctx.warn(
                        *t,
                        "the event-related timing has no known event code; left out",
                    ),
                }
            }
            Some("SXPR_TS") => ctx.warn(
                *t,
                "a set of timings (SXPR_TS) is not mapped to a FHIR timing; left out",
            ),
            _ => {}
        }
    }
    match (target, &effective) {
        (Target::Request, Some((_, v))) => {
            let period = if v.is_object() {
                v.clone()
            } else {
                json!({ "start": v })
            };
            repeat.insert("boundsPeriod".into(), period);
        }
        (_, Some((kind, v))) => {
            r.insert(format!("effective{kind}"), v.clone());
        }
        (Target::Administration, None) => {
            // FHIR requires when it was given; the document does not say.
            r.insert(
                "_effectiveDateTime".into(),
                json!({"extension": [{"url": DATA_ABSENT, "valueCode": "unknown"}]}),
            );
        }
        _ => {}
    }
    if !repeat.is_empty() {
        timing.insert("repeat".into(), Value::Object(repeat));
    }

    let mut dosage = Map::new();
    if let Some(t) = sa.child("text").and_then(|t| ctx.text_of(t)) {
        dosage.insert("text".into(), json!(t));
    }
    let instructions: Vec<String> = related(sa, None)
        .filter(|a| is_template(*a, "20"))
        .filter_map(|a| {
            a.child("text").and_then(|t| ctx.text_of(t)).or_else(|| {
                a.child("code")
                    .and_then(|c| c.child("originalText"))
                    .and_then(|t| ctx.text_of(t))
            })
        })
        .collect();
    if !instructions.is_empty() && target != Target::Administration {
        dosage.insert("patientInstruction".into(), json!(instructions.join("; ")));
    }
    if !timing.is_empty() && target != Target::Administration {
        dosage.insert("timing".into(), Value::Object(timing));
    }
    if let Some(c) = sa
        .child("precondition")
        .and_then(|p| p.path(&["criterion", "value"]))
        .and_then(|v| ctx.concept(v))
    {
        if target != Target::Administration {
            dosage.insert("asNeededCodeableConcept".into(), c);
        }
    }
    if let Some(site) = sa.child("approachSiteCode").and_then(|c| ctx.concept(c)) {
        dosage.insert("site".into(), site);
    }
    if let Some(route) = sa.child("routeCode").and_then(|c| ctx.concept(c)) {
        dosage.insert("route".into(), route);
    }
    let dose = sa.child("doseQuantity").and_then(|q| dose(ctx, q));
    let rate = sa
        .child("rateQuantity")
        .filter(|q| q.null_flavor().is_none())
        .and_then(|q| ctx.quantity(q));
    if target == Target::Administration {
        match dose {
            Some(("Quantity", q)) => {
                dosage.insert("dose".into(), q);
            }
            Some(_) => ctx.warn(sa, "an administered dose given as a range has no place in MedicationAdministration; left out"),
            None => {}
        }
        if let Some(q) = rate {
            dosage.insert("rateQuantity".into(), q);
        }
    } else {
        let mut dr = Map::new();
        if let Some((kind, q)) = dose {
            dr.insert(format!("dose{kind}"), q);
        }
        if let Some(q) = rate {
            dr.insert("rateQuantity".into(), q);
        }
        if !dr.is_empty() {
            dosage.insert("doseAndRate".into(), json!([Value::Object(dr)]));
        }
    }
    if !dosage.is_empty() {
        match target {
            Target::Statement => r.insert("dosage".into(), json!([Value::Object(dosage)])),
            Target::Request => r.insert("dosageInstruction".into(), json!([Value::Object(dosage)])),
            Target::Administration => r.insert("dosage".into(), Value::Object(dosage)),
        };
    }

    let reasons: Vec<Value> = related(sa, Some("RSON"))
        .filter(|o| is_template(*o, "19") || o.tag_name().name() == "observation")
        .filter_map(|o| o.child("value").and_then(|v| ctx.concept(v)))
        .collect();
    put_array(&mut r, "reasonCode", reasons);
    let when = author_time(ctx, sa);
    let author = author_ref(ctx, sa);
    match target {
        Target::Statement => {
            if let Some(t) = when {
                r.insert("dateAsserted".into(), json!(t));
            }
            if let Some(a) = author {
                r.insert("informationSource".into(), json!({ "reference": a }));
            }
        }
        Target::Request => {
            if let Some(t) = when {
                r.insert("authoredOn".into(), json!(t));
            }
            if let Some(a) = author {
                r.insert("requester".into(), json!({ "reference": a }));
            }
        }
        Target::Administration => {
            let performers: Vec<Value> = performer_refs(ctx, sa)
                .into_iter()
                .map(|p| json!({"actor": {"reference": p}}))
                .collect();
            put_array(&mut r, "performer", performers);
        }
    }
    let notes = comments(ctx, sa);
    put_array(&mut r, "note", notes);

    // Supply orders and dispenses.
    let mut based_on = Vec::new();
    for supply in related(sa, None).filter(|s| s.tag_name().name() == "supply") {
        if is_template(supply, "17") || supply.attr("moodCode") == Some("INT") {
            if target == Target::Request {
                let dr = dispense_request(ctx, supply);
                if !dr.is_empty() {
                    r.insert("dispenseRequest".into(), Value::Object(dr));
                }
            } else if let Some(order) = map_supply_order(ctx, supply, &drug) {
                based_on.push(json!({ "reference": order }));
            }
        } else if is_template(supply, "18") || supply.attr("moodCode") == Some("EVN") {
            map_dispense(ctx, supply, &drug);
        }
    }
    if !based_on.is_empty() && target == Target::Statement {
        r.insert("basedOn".into(), Value::Array(based_on));
    }
    Some(ctx.push(Value::Object(r), sa))
}

fn request_status(code: Option<&str>) -> &'static str {
    match code {
        Some("active") => "active",
        Some("completed") => "completed",
        Some("aborted") => "stopped",
        Some("suspended" | "held") => "on-hold",
        Some("cancelled") => "cancelled",
        Some("nullified") => "entered-in-error",
        Some("new") => "draft",
        _ => "unknown",
    }
}

/// A PIVL_TS period into `timing.repeat`.
fn pivl(ctx: &mut Ctx, t: Node, repeat: &mut Map<String, Value>) {
    let Some(period) = t.child("period") else {
        if t.child("frequency").is_some() {
            ctx.warn(
                t,
                "a periodic timing given as a frequency is not mapped; left out",
            );
        }
        return;
    };
    let value = period.attr("value").and_then(decimal);
    let unit = period.attr("unit").unwrap_or("1").trim();
    let unit = match unit {
        "s" | "min" | "h" | "d" | "wk" | "mo" | "a" => Some(unit),
        "1" | "" => None,
        _ => None,
    };
    match (value, unit) {
        (Some(v), Some(u)) => {
            repeat.insert("period".into(), v);
            repeat.insert("periodUnit".into(), json!(u));
            // "Every 6 hours" is once per period of 6 h.
            repeat.insert("frequency".into(), json!(1));
        }
        _ => ctx.warn(
            period,
            "the timing period has no decimal value or no UCUM time unit (s, min, h, d, wk, mo, a); left out",
        ),
    }
}

/// v3 TimingEvent → FHIR event-timing (the codes FHIR shares with v3).
fn event(code: &str) -> Option<&'static str> {
    Some(match code {
        "AC" => "AC",
        "ACM" => "ACM",
        "ACD" => "ACD",
        "ACV" => "ACV",
        "PC" => "PC",
        "PCM" => "PCM",
        "PCD" => "PCD",
        "PCV" => "PCV",
        "HS" => "HS",
        "WAKE" => "WAKE",
        "C" => "C",
        "CM" => "CM",
        "CD" => "CD",
        "CV" => "CV",
        _ => return None,
    })
}

/// A dose: `("Quantity", q)` or `("Range", r)`. A unit-less or unit `1` dose keeps its value
/// only (it counts the administration units: tablets, puffs).
fn dose(ctx: &mut Ctx, q: Node) -> Option<(&'static str, Value)> {
    if q.null_flavor().is_some() {
        return None;
    }
    if q.child("low").is_some() || q.child("high").is_some() {
        let mut range = Map::new();
        for (el, name) in [("low", "low"), ("high", "high")] {
            if let Some(v) = q.child(el).and_then(|n| simple_quantity(ctx, n)) {
                range.insert(name.into(), v);
            }
        }
        return (!range.is_empty()).then_some(("Range", Value::Object(range)));
    }
    simple_quantity(ctx, q).map(|v| ("Quantity", v))
}

fn simple_quantity(ctx: &mut Ctx, q: Node) -> Option<Value> {
    if q.null_flavor().is_some() {
        return None;
    }
    if q.attr("unit").is_none_or(|u| u == "1") {
        let v = q.attr("value")?;
        return match decimal(v) {
            Some(n) => Some(json!({ "value": n })),
            None => {
                ctx.warn(q, "the quantity's value is not a decimal number; left out");
                None
            }
        };
    }
    ctx.quantity(q)
}

/// A Medication Supply Order's `dispenseRequest`.
fn dispense_request(ctx: &mut Ctx, supply: Node) -> Map<String, Value> {
    let mut dr = Map::new();
    if let Some(p) = supply
        .child("effectiveTime")
        .filter(|t| t.null_flavor().is_none())
        .and_then(|t| ctx.period(t))
    {
        dr.insert("validityPeriod".into(), p);
    }
    // repeatNumber counts every fill; FHIR counts the repeats after the first.
    if let Some(n) = supply
        .child("repeatNumber")
        .and_then(|r| r.attr("value"))
        .and_then(|v| v.parse::<u32>().ok())
    {
        dr.insert("numberOfRepeatsAllowed".into(), json!(n.saturating_sub(1)));
    }
    if let Some(q) = supply
        .child("quantity")
        .and_then(|q| simple_quantity(ctx, q))
    {
        dr.insert("quantity".into(), q);
    }
    dr
}

/// A Medication Supply Order (`4.17`) under a statement → MedicationRequest.
fn map_supply_order(ctx: &mut Ctx, supply: Node, activity_drug: &Value) -> Option<String> {
    let id = ctx.resource_id("MedicationRequest", supply);
    let mut r = Map::new();
    r.insert("resourceType".into(), json!("MedicationRequest"));
    r.insert("id".into(), json!(id));
    let ids = ctx.identifiers(supply);
    put_array(&mut r, "identifier", ids);
    r.insert("status".into(), json!(request_status(status_code(supply))));
    r.insert("intent".into(), json!("order"));
    let drug = medication(ctx, supply).unwrap_or_else(|| activity_drug.clone());
    r.insert("medicationCodeableConcept".into(), drug);
    r.insert("subject".into(), json!({"reference": ctx.patient}));
    if let Some(t) = author_time(ctx, supply) {
        r.insert("authoredOn".into(), json!(t));
    }
    if let Some(a) = author_ref(ctx, supply) {
        r.insert("requester".into(), json!({ "reference": a }));
    }
    let instructions: Vec<String> = related(supply, None)
        .filter(|a| is_template(*a, "20"))
        .filter_map(|a| a.child("text").and_then(|t| ctx.text_of(t)))
        .collect();
    if !instructions.is_empty() {
        r.insert(
            "dosageInstruction".into(),
            json!([{"patientInstruction": instructions.join("; ")}]),
        );
    }
    let dr = dispense_request(ctx, supply);
    if !dr.is_empty() {
        r.insert("dispenseRequest".into(), Value::Object(dr));
    }
    Some(ctx.push(Value::Object(r), supply))
}

/// A Medication Dispense (`4.18`) → MedicationDispense.
fn map_dispense(ctx: &mut Ctx, supply: Node, activity_drug: &Value) {
    let id = ctx.resource_id("MedicationDispense", supply);
    let mut r = Map::new();
    r.insert("resourceType".into(), json!("MedicationDispense"));
    r.insert("id".into(), json!(id));
    let ids = ctx.identifiers(supply);
    put_array(&mut r, "identifier", ids);
    let status = match status_code(supply) {
        Some("completed") => "completed",
        Some("active") => "in-progress",
        Some("aborted") => "stopped",
        Some("suspended" | "held") => "on-hold",
        Some("cancelled") => "cancelled",
        Some("nullified") => "entered-in-error",
        Some("new") => "preparation",
        _ => "unknown",
    };
    r.insert("status".into(), json!(status));
    let drug = medication(ctx, supply).unwrap_or_else(|| activity_drug.clone());
    r.insert("medicationCodeableConcept".into(), drug);
    r.insert("subject".into(), json!({"reference": ctx.patient}));
    let performers: Vec<Value> = performer_refs(ctx, supply)
        .into_iter()
        .map(|p| json!({"actor": {"reference": p}}))
        .collect();
    put_array(&mut r, "performer", performers);
    if let Some(q) = supply
        .child("quantity")
        .and_then(|q| simple_quantity(ctx, q))
    {
        r.insert("quantity".into(), q);
    }
    if let Some(t) = supply.child("effectiveTime").and_then(|t| {
        let point = t.child("high").or_else(|| t.child("low")).unwrap_or(t);
        ctx.time(point, TimeKind::DateTime)
    }) {
        r.insert("whenHandedOver".into(), json!(t));
    }
    ctx.push(Value::Object(r), supply);
}

#[cfg(test)]
mod tests {
    use crate::sections::problems::test_doc::*;

    fn activity(mood: &str, attrs: &str, inner: &str) -> String {
        format!(
            r#"<entry><substanceAdministration classCode="SBADM" moodCode="{mood}" {attrs}>
  <templateId root="2.16.840.1.113883.10.20.22.4.16" extension="2014-06-09"/>
  <id root="1.2.3.16" extension="m-{mood}"/>
  <statusCode code="active"/>
  <effectiveTime xsi:type="IVL_TS"><low value="20110103"/><high nullFlavor="UNK"/></effectiveTime>
  <effectiveTime xsi:type="PIVL_TS" institutionSpecified="true" operator="A"><period value="6" unit="h"/></effectiveTime>
  <routeCode code="C38216" codeSystem="2.16.840.1.113883.3.26.1.1" displayName="RESPIRATORY (INHALATION)"/>
  <doseQuantity value="2"/>
  <consumable><manufacturedProduct classCode="MANU"><templateId root="2.16.840.1.113883.10.20.22.4.23"/>
    <manufacturedMaterial><code code="573621" codeSystem="2.16.840.1.113883.6.88" displayName="Proventil"><translation code="1234" codeSystem="2.16.840.1.113883.6.69"/></code></manufacturedMaterial>
  </manufacturedProduct></consumable>
  <author><time value="20120815"/><assignedAuthor><id root="2.16.840.1.113883.4.6" extension="55"/></assignedAuthor></author>
  <entryRelationship typeCode="RSON"><observation classCode="OBS" moodCode="EVN"><templateId root="2.16.840.1.113883.10.20.22.4.19"/><id root="1.2.3.19"/><code code="404684003" codeSystem="2.16.840.1.113883.6.96"/><value xsi:type="CD" code="195967001" codeSystem="2.16.840.1.113883.6.96"/></observation></entryRelationship>
  <entryRelationship typeCode="SUBJ" inversionInd="true"><act classCode="ACT" moodCode="INT"><templateId root="2.16.840.1.113883.10.20.22.4.20"/><code code="409073007" codeSystem="2.16.840.1.113883.6.96"/><text>take with water</text></act></entryRelationship>
  {inner}
</substanceAdministration></entry>"#
        )
    }

    const SUPPLY: &str = r#"<entryRelationship typeCode="REFR"><supply classCode="SPLY" moodCode="INT"><templateId root="2.16.840.1.113883.10.20.22.4.17"/><id root="1.2.3.17"/><statusCode code="completed"/><effectiveTime xsi:type="IVL_TS"><low value="20070103"/></effectiveTime><repeatNumber value="3"/><quantity value="75"/></supply></entryRelationship>
    <entryRelationship typeCode="REFR"><supply classCode="SPLY" moodCode="EVN"><templateId root="2.16.840.1.113883.10.20.22.4.18"/><id root="1.2.3.18"/><statusCode code="completed"/><effectiveTime value="20120815"/><quantity value="75"/></supply></entryRelationship>"#;

    #[test]
    fn statement_with_dosage_reason_and_supply() {
        let xml = document(&[section("10160-0", &activity("EVN", "", SUPPLY))]);
        let m = map(&xml);
        let s = of_type(&m, "MedicationStatement");
        assert_eq!(s.len(), 1);
        let s = s[0];
        assert_eq!(s["status"], "active");
        assert_eq!(
            s["medicationCodeableConcept"]["coding"][0]["code"],
            "573621"
        );
        assert_eq!(s["medicationCodeableConcept"]["coding"][1]["code"], "1234");
        assert_eq!(s["effectivePeriod"]["start"], "2011-01-03");
        assert!(s["effectivePeriod"].get("end").is_none());
        let d = &s["dosage"][0];
        assert_eq!(d["timing"]["repeat"]["period"].to_string(), "6");
        assert_eq!(d["timing"]["repeat"]["periodUnit"], "h");
        assert_eq!(d["route"]["coding"][0]["code"], "C38216");
        assert_eq!(
            d["doseAndRate"][0]["doseQuantity"],
            serde_json::json!({"value": 2})
        );
        assert_eq!(d["patientInstruction"], "take with water");
        assert_eq!(s["reasonCode"][0]["coding"][0]["code"], "195967001");
        assert_eq!(s["dateAsserted"], "2012-08-15");
        assert!(s["informationSource"]["reference"]
            .as_str()
            .unwrap()
            .starts_with("Practitioner/"));
        assert_eq!(s["subject"]["reference"], patient(&m).as_str());
        let orders = of_type(&m, "MedicationRequest");
        assert_eq!(orders.len(), 1);
        assert_eq!(s["basedOn"][0]["reference"], reference(orders[0]).as_str());
        assert_eq!(orders[0]["dispenseRequest"]["numberOfRepeatsAllowed"], 2);
        assert_eq!(
            orders[0]["medicationCodeableConcept"]["coding"][0]["code"],
            "573621"
        );
        let dispenses = of_type(&m, "MedicationDispense");
        assert_eq!(dispenses.len(), 1);
        assert_eq!(dispenses[0]["whenHandedOver"], "2012-08-15");
        assert!(of_type(&m, "Medication").is_empty());
        let again = map(&xml);
        assert_eq!(of_type(&again, "MedicationStatement")[0]["id"], s["id"]);
    }

    #[test]
    fn orders_negations_and_administrations() {
        let xml = document(&[
            section("10183-2", &activity("INT", r#"negationInd="true""#, "")),
            section("29549-3", &activity("EVN", "", "")),
            section(
                "10160-0",
                &activity("EVN", r#"negationInd="true""#, "").replace("m-EVN", "m-neg"),
            ),
        ]);
        let m = map(&xml);
        let r = of_type(&m, "MedicationRequest");
        assert_eq!(r.len(), 1);
        assert_eq!(r[0]["intent"], "order");
        assert_eq!(r[0]["status"], "active");
        assert_eq!(r[0]["doNotPerform"], true);
        assert_eq!(
            r[0]["dosageInstruction"][0]["timing"]["repeat"]["boundsPeriod"]["start"],
            "2011-01-03"
        );
        assert_eq!(r[0]["authoredOn"], "2012-08-15");
        let a = of_type(&m, "MedicationAdministration");
        assert_eq!(a.len(), 1);
        assert_eq!(a[0]["status"], "in-progress");
        assert_eq!(a[0]["dosage"]["dose"]["value"].to_string(), "2");
        assert_eq!(a[0]["effectivePeriod"]["start"], "2011-01-03");
        let s = of_type(&m, "MedicationStatement");
        assert_eq!(s.len(), 1);
        assert_eq!(s[0]["status"], "not-taken");
    }

    #[test]
    fn activity_without_a_drug_is_skipped() {
        let entry = activity("EVN", "", "").replace(
            r#"<code code="573621" codeSystem="2.16.840.1.113883.6.88" displayName="Proventil"><translation code="1234" codeSystem="2.16.840.1.113883.6.69"/></code>"#,
            r#"<code nullFlavor="UNK"/>"#,
        );
        let m = map(&document(&[section("10160-0", &entry)]));
        assert!(of_type(&m, "MedicationStatement").is_empty());
        assert_eq!(m.skipped.len(), 1);
        assert!(m.skipped[0].reason.contains("no drug code"));
    }
}
