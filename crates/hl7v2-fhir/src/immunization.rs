//! VXU: ORC + RXA + RXR → Immunization (manufacturer as an Organization).
//!
//! Status: RXA-21 action code `D` (delete) → entered-in-error; else RXA-20 by
//! [`tables::immunization_status`]. Primary source: RXA-9 code `00` ("new immunization
//! record") → `primarySource: true`; any other code (01-08, historical sources) → `false`
//! with RXA-9 as `reportOrigin`. RXA-6 `999` means "amount unknown": no doseQuantity.
//! occurrence[x] is required, so an RXA-3 that is not a valid date is kept as
//! `occurrenceString` (with a warning) rather than left out.

use salus_hl7v2::Segment;
use serde_json::Value;

use crate::clinical::concept_key;
use crate::datatypes::{
    self, cwe, decimal, order_identifiers, practitioner, quantity, unit, Person,
};
use crate::order::authority;
use crate::tables;
use crate::v2::{RepExt, SegExt};
use crate::{ids, put, put_opt, Ctx};

/// The manufacturer (RXA-17, MVX) as an Organization.
fn manufacturer(ctx: &mut Ctx<'_>, seg: &Segment<'_>) -> Option<Value> {
    let rep = seg.rep(17);
    let code = rep.c(1);
    let name = rep.c(2);
    if code.is_empty() && name.is_empty() {
        return None;
    }
    let id = if code.is_empty() {
        ids::id("Organization", &["name", &name])
    } else {
        ids::id("Organization", &["MVX", &code])
    };
    let reference = crate::reference_to("Organization", &id);
    if !ctx.has(&reference) {
        let mut r = ctx.resource("Organization", &id);
        if !code.is_empty() {
            r.insert(
                "identifier".into(),
                jv!([{ "system": tables::MVX, "value": code.as_ref() }]),
            );
        }
        r.insert("active".into(), Value::Bool(true));
        put(
            &mut r,
            "name",
            if name.is_empty() {
                code.as_ref()
            } else {
                name.as_ref()
            },
        );
        ctx.push(r);
    }
    let mut v = serde_json::Map::new();
    v.insert("reference".into(), Value::String(reference));
    put(&mut v, "display", name.as_ref());
    Some(Value::Object(v))
}

/// RXA → Immunization.
pub(crate) fn map_rxa(ctx: &mut Ctx<'_>, seg: &Segment<'_>) {
    let Some(vaccine) = cwe(&seg.rep(5), None) else {
        ctx.warn(
            seg,
            Some(5),
            "administration without a vaccine code (RXA-5): not mapped",
        );
        return;
    };
    let when = seg.v(3);
    let (system, code) = concept_key(&vaccine);
    let filler = ctx.order.filler.clone();
    let id = if filler.0.is_empty() {
        ids::id(
            "Immunization",
            &[ctx.patient_id(), &when, &format!("{system}|{code}")],
        )
    } else {
        ids::id("Immunization", &["filler", &authority(&filler), &filler.0])
    };
    let mut r = ctx.resource("Immunization", &id);
    let placer = ctx.order.placer.clone();
    let identifiers = order_identifiers(ctx, &placer, &filler);
    put(&mut r, "identifier", identifiers);

    let completion = seg.v(20);
    let (mut status, subpotent) = match tables::immunization_status(&completion) {
        Some(s) => s,
        None => {
            ctx.warn(
                seg,
                Some(20),
                "completion status not in table 0322: read as completed",
            );
            ("completed", false)
        }
    };
    if seg.v(21).eq_ignore_ascii_case("D") {
        status = "entered-in-error";
    }
    r.insert("status".into(), Value::String(status.into()));
    if status == "not-done" {
        let reason = cwe(&seg.rep(18), None).or_else(|| {
            completion
                .eq_ignore_ascii_case("RE")
                .then(|| datatypes::concept(tables::V3_ACT_REASON, "PATOBJ", "patient objection"))
        });
        put_opt(&mut r, "statusReason", reason);
    }
    r.insert("vaccineCode".into(), vaccine);
    r.insert("patient".into(), ctx.patient_ref());
    put_opt(&mut r, "encounter", ctx.encounter_ref());
    match ctx.date_time(seg, 3, &when) {
        Some(t) => {
            r.insert("occurrenceDateTime".into(), Value::String(t));
        }
        None => {
            ctx.warn(
                seg,
                Some(3),
                "occurrence is required: the value is kept as occurrenceString",
            );
            let text = if when.is_empty() {
                "unknown"
            } else {
                when.as_ref()
            };
            r.insert("occurrenceString".into(), Value::String(text.into()));
        }
    }
    let entered = seg.v(22);
    put_opt(&mut r, "recorded", ctx.date_time(seg, 22, &entered));

    let origin = seg.rep(9);
    let origin_code = origin.c(1);
    if !origin_code.is_empty() {
        let primary = origin_code == "00";
        r.insert("primarySource".into(), Value::Bool(primary));
        if !primary {
            put_opt(&mut r, "reportOrigin", cwe(&origin, None));
        }
    }
    put_opt(&mut r, "manufacturer", manufacturer(ctx, seg));
    let lot = seg.v(15);
    put(&mut r, "lotNumber", lot.as_ref());
    let expires = seg.v(16);
    put_opt(&mut r, "expirationDate", ctx.date(seg, 16, &expires));
    if subpotent {
        r.insert("isSubpotent".into(), Value::Bool(true));
    }
    let amount = seg.v(6);
    if amount != "999" {
        if let Some(n) = decimal(&amount) {
            r.insert("doseQuantity".into(), quantity(n, &unit(&seg.rep(7))));
        } else if !amount.is_empty() {
            ctx.warn(seg, Some(6), "administered amount is not a number");
        }
    }

    let mut performers = Vec::new();
    if let Some(actor) = ctx.order.requester.clone() {
        performers.push(jv!({
            "function": datatypes::concept(&tables::v2_system("0443"), "OP", "Ordering Provider"),
            "actor": actor
        }));
    }
    for rep in seg.reps(10) {
        if let Some(actor) = practitioner(ctx, &Person::xcn(&rep)) {
            performers.push(jv!({
                "function": datatypes::concept(&tables::v2_system("0443"), "AP", "Administering Provider"),
                "actor": actor
            }));
        }
    }
    put(&mut r, "performer", performers);
    let index = ctx.push(r);
    ctx.immunization = Some(index);
    ctx.last_observation = None;
    ctx.note_target = Some(index);
}

/// RXR → route (RXR-1) and site (RXR-2) of the current Immunization.
pub(crate) fn map_rxr(ctx: &mut Ctx<'_>, seg: &Segment<'_>) {
    let Some(index) = ctx.immunization else {
        ctx.warn(seg, None, "route without an administration before it");
        return;
    };
    let route = cwe(&seg.rep(1), Some(&tables::v2_system("0162")));
    let site = cwe(&seg.rep(2), Some(&tables::v2_system("0163")));
    if let Some(r) = ctx.at(index) {
        put_opt(r, "site", site);
        put_opt(r, "route", route);
    }
}
