//! PV1/PV2 → Encounter (with Practitioner and Location resources).
//!
//! # Encounter.status by trigger event
//!
//! | Trigger | status |
//! |---|---|
//! | A01 admit, A02 transfer, A04 register | in-progress |
//! | A03 discharge | finished |
//! | A05 pre-admit | planned |
//! | A11 cancel admit/visit | cancelled ("ended before it began"; not entered-in-error, which would say the record itself is wrong) |
//! | A13 cancel discharge | in-progress, and any PV1-45 discharge date is dropped |
//! | A08, A28, A31 updates, and PV1 in ORU, VXU, MDM, ORM, SIU | from PV1: finished when PV1-45 (discharge) is present, else in-progress when PV1-44 (admit) is, else unknown |
//!
//! A PV1 that names no visit (PV1-2 empty or `N` "not applicable", no PV1-19 visit number, no
//! PV1-44 admit date: the usual placeholder in A28/A31) makes no Encounter.

use salus_hl7v2::Segment;
use serde_json::{Map, Value};

use crate::datatypes::{self, authority_name, cwe, cx, location, practitioner, Person};
use crate::tables;
use crate::v2::{RepExt, SegExt};
use crate::{ids, put, put_opt, Ctx, Family};

/// The Encounter id a PV1 stands for, or `None` when it names no visit.
pub(crate) fn identify(ctx: &mut Ctx<'_>, pv1: &Segment<'_>) -> Option<String> {
    let class = pv1.v(2).to_ascii_uppercase();
    let visit = pv1.rep(19);
    let number = visit.c(1);
    let admit = pv1.v(44);
    if (class.is_empty() || class == "N") && number.is_empty() && admit.is_empty() {
        return None;
    }
    let patient = ctx.patient_id().to_string();
    if !number.is_empty() {
        let mut authority = authority_name(&visit, 4);
        if authority.is_empty() {
            authority = ctx
                .patient
                .as_ref()
                .map(|p| p.authority.clone())
                .unwrap_or_default();
        }
        return Some(ids::id("Encounter", &[&authority, &number]));
    }
    if !admit.is_empty() {
        return Some(ids::id("Encounter", &[&patient, "admit", &admit]));
    }
    ctx.warn(
        pv1,
        Some(19),
        "no visit number nor admit date: the Encounter id comes from the message control id, so a re-sent message makes a second Encounter",
    );
    let (app, control) = (ctx.sending_application.clone(), ctx.control_id.clone());
    Some(ids::id("Encounter", &[&patient, "message", &app, &control]))
}

/// Encounter.status for this message (see the module documentation).
pub(crate) fn status(family: Family, trigger: &str, pv1: &Segment<'_>) -> &'static str {
    if family == Family::Adt {
        match trigger {
            "A01" | "A02" | "A04" | "A13" => return "in-progress",
            "A03" => return "finished",
            "A05" => return "planned",
            "A11" => return "cancelled",
            _ => {}
        }
    }
    if pv1.has(45) {
        "finished"
    } else if pv1.has(44) {
        "in-progress"
    } else {
        "unknown"
    }
}

/// PV1 → Encounter.
pub(crate) fn map_pv1(ctx: &mut Ctx<'_>, seg: &Segment<'_>) {
    let Some(id) = ctx.encounter().cloned() else {
        return;
    };
    let status = status(ctx.family, &ctx.trigger, seg);
    let mut r = ctx.resource("Encounter", &id);

    let visit = seg.rep(19);
    let fallback = ctx.patient().map(|p| p.authority.clone());
    if let Some(Value::Object(mut identifier)) = cx(ctx, seg, 19, &visit, fallback.as_deref()) {
        if !identifier.contains_key("type") {
            identifier.insert(
                "type".into(),
                datatypes::concept(&tables::v2_system("0203"), "VN", "Visit number"),
            );
        }
        r.insert("identifier".into(), jv!([identifier]));
    }
    r.insert("status".into(), Value::String(status.into()));

    let class_code = seg.v(2);
    let class = match tables::patient_class(&class_code) {
        Some((code, display)) => {
            jv!({ "system": tables::V3_ACT_CODE, "code": code, "display": display })
        }
        None => {
            if !class_code.is_empty()
                && !class_code.eq_ignore_ascii_case("N")
                && !class_code.eq_ignore_ascii_case("U")
            {
                ctx.warn(
                    seg,
                    Some(2),
                    "patient class has no v3-ActCode counterpart: class is UNK",
                );
            }
            jv!({ "system": tables::V3_NULL_FLAVOR, "code": "UNK", "display": "unknown" })
        }
    };
    r.insert("class".into(), class);
    put_opt(
        &mut r,
        "type",
        cwe(&seg.rep(4), Some(&tables::v2_system("0007"))).map(|t| jv!([t])),
    );
    put_opt(
        &mut r,
        "serviceType",
        cwe(&seg.rep(10), Some(&tables::v2_system("0069"))),
    );
    r.insert("subject".into(), ctx.patient_ref());

    let mut participants = Vec::new();
    for (field, code, display) in [
        (7, "ATND", "attender"),
        (8, "REF", "referrer"),
        (9, "CON", "consultant"),
        (17, "ADM", "admitter"),
    ] {
        for rep in seg.reps(field) {
            if let Some(individual) = practitioner(ctx, &Person::xcn(&rep)) {
                participants.push(jv!({
                    "type": [datatypes::concept(tables::V3_PARTICIPATION_TYPE, code, display)],
                    "individual": individual
                }));
            }
        }
    }
    put(&mut r, "participant", participants);

    let mut period = Map::new();
    let admit = seg.v(44);
    put_opt(&mut period, "start", ctx.date_time(seg, 44, &admit));
    if ctx.trigger != "A13" || ctx.family != Family::Adt {
        let discharge = seg.v(45);
        put_opt(&mut period, "end", ctx.date_time(seg, 45, &discharge));
    }
    put(&mut r, "period", period);

    let mut hospitalization = Map::new();
    if let Some(pre) = cx(ctx, seg, 5, &seg.rep(5), None) {
        hospitalization.insert("preAdmissionIdentifier".into(), pre);
    }
    put_opt(
        &mut hospitalization,
        "admitSource",
        cwe(&seg.rep(14), Some(&tables::v2_system("0023"))),
    );
    put_opt(
        &mut hospitalization,
        "reAdmission",
        cwe(&seg.rep(13), Some(&tables::v2_system("0092"))),
    );
    put_opt(
        &mut hospitalization,
        "dischargeDisposition",
        cwe(&seg.rep(36), Some(&tables::v2_system("0112"))),
    );
    put(&mut r, "hospitalization", hospitalization);

    let mut locations = Vec::new();
    let current_status = match status {
        "finished" | "cancelled" => "completed",
        "planned" => "planned",
        _ => "active",
    };
    if let Some(l) = location(ctx, &seg.rep(3)) {
        locations.push(jv!({ "location": l, "status": current_status }));
    }
    if let Some(l) = location(ctx, &seg.rep(6)) {
        locations.push(jv!({ "location": l, "status": "completed" }));
    }
    put(&mut r, "location", locations);

    let at = ctx.push(r);
    ctx.encounter_index = Some(at);
}

/// PV2-3 (admit reason) → Encounter.reasonCode.
pub(crate) fn map_pv2(ctx: &mut Ctx<'_>, seg: &Segment<'_>) {
    let Some(at) = ctx.encounter_index else {
        return;
    };
    let reason = cwe(&seg.rep(3), None);
    if let (Some(reason), Some(encounter)) = (reason, ctx.at(at)) {
        encounter.insert("reasonCode".into(), jv!([reason]));
    }
}
