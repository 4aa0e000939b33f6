//! IN1 → Coverage, with the insurer (IN1-3/IN1-4) as an Organization.

use salus_hl7v2::Segment;
use serde_json::{Map, Value};

use crate::datatypes::{self, authority_name, cwe, cx, xad, xtn};
use crate::tables;
use crate::v2::{RepExt, SegExt};
use crate::{ids, put, put_opt, Ctx};

/// The payor Organization of an IN1 (company id IN1-3, name IN1-4); `None` when neither.
fn payor(ctx: &mut Ctx<'_>, seg: &Segment<'_>) -> Option<(String, Value)> {
    let company = seg.rep(3);
    let company_id = company.c(1);
    let name = seg.v(4);
    let id = if !company_id.is_empty() {
        ids::id("Organization", &[&authority_name(&company, 4), &company_id])
    } else if !name.is_empty() {
        ids::id("Organization", &["name", &name])
    } else {
        return None;
    };
    let reference = crate::reference_to("Organization", &id);
    if !ctx.has(&reference) {
        let mut r = ctx.resource("Organization", &id);
        if let Some(identifier) = cx(ctx, seg, 3, &company, None) {
            r.insert("identifier".into(), jv!([identifier]));
        }
        r.insert("active".into(), Value::Bool(true));
        put(&mut r, "name", name.as_ref());
        let telecom: Vec<Value> = seg
            .reps(7)
            .iter()
            .filter_map(|t| xtn(t, Some("work")))
            .collect();
        put(&mut r, "telecom", telecom);
        let address: Vec<Value> = seg.reps(5).iter().filter_map(xad).collect();
        put(&mut r, "address", address);
        ctx.push(r);
    }
    let mut value = Map::new();
    value.insert("reference".into(), Value::String(reference));
    put(&mut value, "display", name.as_ref());
    Some((company_id.into_owned() + "|" + &name, Value::Object(value)))
}

/// IN1 → Coverage (status active: IN1 lists the patient's current insurance).
pub(crate) fn map_in1(ctx: &mut Ctx<'_>, seg: &Segment<'_>) {
    // An IN2 belongs to the IN1 before it: forget the previous insured.
    ctx.insured = crate::party::InsuredState::default();
    let plan = seg.rep(2);
    let plan_code = plan.c(1);
    let policy = seg.v(36);
    let subscriber_id = if policy.is_empty() {
        plan_code.clone()
    } else {
        policy
    };
    let payor = payor(ctx, seg);
    let patient = ctx.patient_id().to_string();
    let company_key = payor.as_ref().map(|(k, _)| k.clone()).unwrap_or_default();
    if plan_code.is_empty() && company_key.is_empty() && subscriber_id.is_empty() {
        ctx.warn(
            seg,
            None,
            "insurance without plan, company or policy number: not mapped",
        );
        return;
    }
    let id = ids::id(
        "Coverage",
        &[&patient, &plan_code, &company_key, &subscriber_id],
    );
    let mut r = ctx.resource("Coverage", &id);
    r.insert("status".into(), Value::String("active".into()));
    put_opt(
        &mut r,
        "type",
        cwe(&seg.rep(15), Some(&tables::v2_system("0086"))),
    );
    put(&mut r, "subscriberId", subscriber_id.as_ref());
    r.insert("beneficiary".into(), ctx.patient_ref());
    put_opt(&mut r, "subscriber", crate::party::map_insured(ctx, seg));

    let relationship = seg.rep(17);
    let rel_code = relationship.c(1);
    if !rel_code.is_empty() {
        let mut codings = Vec::new();
        if let Some(code) = tables::subscriber_relationship(&rel_code) {
            codings.push(jv!({ "system": tables::SUBSCRIBER_RELATIONSHIP, "code": code }));
        }
        codings.extend(datatypes::coding(
            Some(&tables::v2_system("0063")),
            &rel_code,
            &relationship.c(2),
        ));
        r.insert("relationship".into(), jv!({ "coding": codings }));
    }

    let mut period = Map::new();
    let (start, end) = (seg.v(12), seg.v(13));
    put_opt(&mut period, "start", ctx.date_time(seg, 12, &start));
    put_opt(&mut period, "end", ctx.date_time(seg, 13, &end));
    put(&mut r, "period", period);

    // Without an insurer the patient pays: FHIR's payor is then the patient.
    let payor_ref = payor.map(|(_, v)| v).unwrap_or_else(|| ctx.patient_ref());
    r.insert("payor".into(), jv!([payor_ref]));

    let mut classes = Vec::new();
    if !plan_code.is_empty() {
        let mut class = Map::new();
        class.insert(
            "type".into(),
            datatypes::concept(
                "http://terminology.hl7.org/CodeSystem/coverage-class",
                "plan",
                "Plan",
            ),
        );
        class.insert("value".into(), Value::String(plan_code.into_owned()));
        put(&mut class, "name", plan.c(2).as_ref());
        classes.push(Value::Object(class));
    }
    let group = seg.v(8);
    if !group.is_empty() {
        let mut class = Map::new();
        class.insert(
            "type".into(),
            datatypes::concept(
                "http://terminology.hl7.org/CodeSystem/coverage-class",
                "group",
                "Group",
            ),
        );
        class.insert("value".into(), Value::String(group.into_owned()));
        put(&mut class, "name", seg.v(9).as_ref());
        classes.push(Value::Object(class));
    }
    put(&mut r, "class", classes);
    ctx.push(r);
}
