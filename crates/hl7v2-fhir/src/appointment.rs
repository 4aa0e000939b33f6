//! SIU S12: SCH (+ TQ1, AIS, AIP, AIL) → Appointment, status `booked` (S12 notifies a new
//! booking).
//!
//! Start and end: SCH-11.4/11.5 (the deprecated TQ), else TQ1-7/8, else AIS-4 (start) with
//! AIS-7/8 (duration) or SCH-9/10 (appointment duration): the end is then start + duration.
//! FHIR (app-3) wants both start and end on a booked appointment: when the message gives no
//! way to know them the Appointment is still emitted, with a warning.

use salus_hl7v2::Segment;
use serde_json::{Map, Value};

use crate::datatypes::{cwe, ei, location, order_identifiers, practitioner, Person};
use crate::ts::{self, Ts};
use crate::v2::{RepExt, SegExt};
use crate::{ids, put, put_opt, tables, Ctx, MapIssue};

/// The appointment being assembled (emitted by [`finish`], once the AIx segments are read).
#[derive(Debug, Default)]
pub(crate) struct AppointmentState {
    pub resource: Option<Map<String, Value>>,
    pub segment_index: usize,
    pub start: Option<Ts>,
    pub start_text: Option<String>,
    pub end_text: Option<String>,
    pub minutes: Option<i64>,
    pub participants: Vec<Value>,
    pub service_types: Vec<Value>,
}

/// A duration in minutes from an amount and a unit (ISO+ / ANSI units or their names).
fn minutes(amount: &str, unit: &str) -> Option<i64> {
    let n: f64 = amount.trim().parse().ok()?;
    let factor = match unit.to_ascii_uppercase().as_str() {
        "" | "MIN" | "M" | "MINUTES" | "MINUTE" => 1.0,
        "S" | "SEC" | "SECONDS" => 1.0 / 60.0,
        "H" | "HR" | "HOURS" | "HOUR" => 60.0,
        "D" | "DAY" | "DAYS" => 1440.0,
        _ => return None,
    };
    let m = (n * factor).round();
    (m.is_finite() && m > 0.0 && m < 1.0e7).then_some(m as i64)
}

impl AppointmentState {
    fn set_start(&mut self, ctx_value: Option<String>, raw: &str) {
        if self.start_text.is_none() && ctx_value.is_some() {
            self.start_text = ctx_value;
            self.start = ts::parse(raw).ok();
        }
    }
}

/// SCH → the Appointment's identity, reason and (TQ) timing.
pub(crate) fn map_sch(ctx: &mut Ctx<'_>, seg: &Segment<'_>) {
    if ctx.appointment.resource.is_some() {
        ctx.warn(seg, None, "a second SCH in one message: not mapped");
        return;
    }
    let placer = ei(&seg.rep(1), None);
    let filler = ei(&seg.rep(2), None);
    let start_raw = seg.s(11, 4, 1);
    let id = if !filler.0.is_empty() {
        ids::id(
            "Appointment",
            &["filler", &crate::order::authority(&filler), &filler.0],
        )
    } else if !placer.0.is_empty() {
        ids::id(
            "Appointment",
            &["placer", &crate::order::authority(&placer), &placer.0],
        )
    } else {
        ctx.warn(
            seg,
            Some(2),
            "appointment without placer or filler id: the id comes from the patient and start",
        );
        ids::id("Appointment", &[ctx.patient_id(), &start_raw])
    };
    let mut r = ctx.resource("Appointment", &id);
    let identifiers = order_identifiers(ctx, &placer, &filler);
    put(&mut r, "identifier", identifiers);
    r.insert("status".into(), Value::String("booked".into()));
    let reason = seg.rep(7);
    if let Some(reason_cc) = cwe(&reason, Some(&tables::v2_system("0276"))) {
        let code = reason.c(1).to_ascii_uppercase();
        if matches!(
            code.as_str(),
            "CHECKUP" | "EMERGENCY" | "FOLLOWUP" | "ROUTINE" | "WALKIN"
        ) {
            r.insert("appointmentType".into(), reason_cc.clone());
        }
        r.insert("reasonCode".into(), jv!([reason_cc]));
    }
    let event = seg.rep(6);
    let description = if event.c(2).is_empty() {
        event.c(1)
    } else {
        event.c(2)
    };
    put(&mut r, "description", description.as_ref());

    let start = ctx.date_time(seg, 11, &start_raw);
    ctx.appointment.set_start(start, &start_raw);
    let end_raw = seg.s(11, 5, 1);
    ctx.appointment.end_text = ctx.date_time(seg, 11, &end_raw);
    ctx.appointment.minutes = minutes(&seg.v(9), &seg.v(10));
    ctx.appointment.segment_index = seg.index();
    ctx.appointment.participants.push(jv!({
        "actor": ctx.patient_ref(),
        "status": "accepted"
    }));
    ctx.appointment.resource = Some(r);
}

/// TQ1 → start/end when SCH-11 gave none.
pub(crate) fn map_tq1(ctx: &mut Ctx<'_>, seg: &Segment<'_>) {
    let start_raw = seg.v(7);
    let start = ctx.date_time(seg, 7, &start_raw);
    ctx.appointment.set_start(start, &start_raw);
    if ctx.appointment.end_text.is_none() {
        let end_raw = seg.v(8);
        ctx.appointment.end_text = ctx.date_time(seg, 8, &end_raw);
    }
}

/// AIS → serviceType, and start + duration when nothing earlier gave them.
pub(crate) fn map_ais(ctx: &mut Ctx<'_>, seg: &Segment<'_>) {
    if let Some(service) = cwe(&seg.rep(3), None) {
        ctx.appointment.service_types.push(service);
    }
    let start_raw = seg.v(4);
    let start = ctx.date_time(seg, 4, &start_raw);
    ctx.appointment.set_start(start, &start_raw);
    if ctx.appointment.minutes.is_none() {
        ctx.appointment.minutes = minutes(&seg.v(7), &seg.c(8, 1));
    }
}

/// AIP-3 → a practitioner participant; status from AIP-12 (table 0278).
pub(crate) fn map_aip(ctx: &mut Ctx<'_>, seg: &Segment<'_>) {
    let status = match seg.v(12).to_ascii_uppercase().as_str() {
        "PENDING" | "WAITLIST" => "tentative",
        "CANCELLED" | "DELETED" | "NOSHOW" => "declined",
        _ => "accepted",
    };
    let role = cwe(&seg.rep(4), None);
    for rep in seg.reps(3) {
        if let Some(actor) = practitioner(ctx, &Person::xcn(&rep)) {
            let mut p = Map::new();
            put_opt(&mut p, "type", role.clone().map(|r| jv!([r])));
            p.insert("actor".into(), actor);
            p.insert("status".into(), Value::String(status.into()));
            ctx.appointment.participants.push(Value::Object(p));
        }
    }
}

/// AIL-3 → a location participant.
pub(crate) fn map_ail(ctx: &mut Ctx<'_>, seg: &Segment<'_>) {
    for rep in seg.reps(3) {
        if let Some(actor) = location(ctx, &rep) {
            ctx.appointment
                .participants
                .push(jv!({ "actor": actor, "status": "accepted" }));
        }
    }
}

/// Emit the Appointment.
pub(crate) fn finish(ctx: &mut Ctx<'_>) {
    let Some(mut r) = ctx.appointment.resource.take() else {
        return;
    };
    let state = std::mem::take(&mut ctx.appointment);
    put(&mut r, "serviceType", state.service_types);
    let mut end = state.end_text;
    if end.is_none() {
        if let (Some(start), Some(m)) = (&state.start, state.minutes) {
            end = start
                .plus_minutes(m)
                .and_then(|t| t.date_time(ctx.options.assume_offset_minutes).ok());
        }
    }
    if state.start_text.is_none() || end.is_none() {
        ctx.warnings.push(MapIssue {
            segment: "SCH".into(),
            segment_index: state.segment_index,
            field: Some(11),
            reason: "a booked appointment needs a start and an end (FHIR app-3): the message gives no way to know them".into(),
        });
    }
    put_opt(&mut r, "start", state.start_text);
    put_opt(&mut r, "end", end);
    put_opt(&mut r, "minutesDuration", state.minutes);
    r.insert("participant".into(), Value::Array(state.participants));
    ctx.push(r);
}
