//! ORC + OBR (ORM O01, OML O21) → ServiceRequest; the order identity shared with results and
//! vaccinations.
//!
//! # ServiceRequest.status
//!
//! ORC-5 (table 0038) when present: A/IP/SC → active, CM → completed, CA/DC/RP → revoked,
//! HD → on-hold, ER → entered-in-error. Else ORC-1 (table 0119): NW/OK/XO/SC/RP/… → active,
//! CA/OC/CR/DC/DR/OD/OR → revoked, HD/HR/OH → on-hold. Else `unknown`.

use salus_hl7v2::Segment;
use serde_json::Value;

use crate::clinical::concept_key;
use crate::datatypes::{cwe, ei, order_identifiers, practitioner, Person};
use crate::tables;
use crate::v2::SegExt;
use crate::{ids, put, put_opt, Ctx, Family};

/// An EI as (value, namespace, universal id, universal id type).
pub(crate) type Ei = (String, String, String, String);

/// The current order group (from its ORC).
#[derive(Debug, Default)]
pub(crate) struct OrderState {
    pub placer: Ei,
    pub filler: Ei,
    pub control: String,
    pub status: String,
    pub authored: Option<String>,
    pub requester: Option<Value>,
    pub occurrence: Option<String>,
    /// An ORC no OBR has consumed yet (ORM: it becomes a ServiceRequest on its own).
    pub pending: bool,
    /// The ServiceRequest of this group, once emitted.
    pub request: Option<usize>,
    /// The key of this group, for specimens outside a report.
    pub key: Vec<String>,
    /// DG1 codes seen before the ServiceRequest exists.
    pub reasons: Vec<Value>,
}

/// ORC: starts an order group.
pub(crate) fn map_orc(ctx: &mut Ctx<'_>, seg: &Segment<'_>) {
    if ctx.family == Family::Order && ctx.order.pending {
        emit_request(ctx, None);
    }
    let authored_raw = seg.v(9);
    let authored = ctx.date_time(seg, 9, &authored_raw);
    let requester = seg
        .reps(12)
        .first()
        .and_then(|rep| practitioner(ctx, &Person::xcn(rep)));
    let occurrence_raw = seg.c(7, 4);
    let occurrence = ctx.date_time(seg, 7, &occurrence_raw);
    let placer = ei(&seg.rep(2), None);
    let filler = ei(&seg.rep(3), None);
    let key = if !placer.0.is_empty() {
        vec!["placer".into(), authority(&placer), placer.0.clone()]
    } else if !filler.0.is_empty() {
        vec!["filler".into(), authority(&filler), filler.0.clone()]
    } else {
        vec![
            ctx.patient_id().to_string(),
            "order".into(),
            authored_raw.into_owned(),
        ]
    };
    ctx.order = OrderState {
        placer,
        filler,
        control: seg.v(1).to_ascii_uppercase(),
        status: seg.v(5).to_ascii_uppercase(),
        authored,
        requester,
        occurrence,
        pending: true,
        request: None,
        key,
        reasons: Vec::new(),
    };
    ctx.report = None;
    ctx.immunization = None;
    ctx.last_observation = None;
    ctx.note_target = None;
}

/// The authority of an EI: namespace, else universal id.
pub(crate) fn authority(ei: &Ei) -> String {
    if ei.1.is_empty() {
        ei.2.clone()
    } else {
        ei.1.clone()
    }
}

/// Placer and filler order numbers of an OBR, falling back to its ORC.
pub(crate) fn placer_filler(ctx: &Ctx<'_>, obr: &Segment<'_>) -> (Ei, Ei) {
    let mut placer = ei(&obr.rep(2), None);
    if placer.0.is_empty() {
        placer = ctx.order.placer.clone();
    }
    let mut filler = ei(&obr.rep(3), None);
    if filler.0.is_empty() {
        filler = ctx.order.filler.clone();
    }
    (placer, filler)
}

/// The key of a result group (DiagnosticReport and its Observations): the filler order
/// number (the lab's id for the result), else the placer's, else patient + code + time.
pub(crate) fn order_key(ctx: &Ctx<'_>, obr: &Segment<'_>) -> Vec<String> {
    let (placer, filler) = placer_filler(ctx, obr);
    if !filler.0.is_empty() {
        vec!["filler".into(), authority(&filler), filler.0]
    } else if !placer.0.is_empty() {
        vec!["placer".into(), authority(&placer), placer.0]
    } else {
        let code = cwe(&obr.rep(4), None)
            .map(|c| {
                let (s, c) = concept_key(&c);
                format!("{s}|{c}")
            })
            .unwrap_or_default();
        vec![ctx.patient_id().to_string(), code, obr.v(7).into_owned()]
    }
}

/// Emit the ServiceRequest of the current group, from its ORC and (when there is one) OBR.
pub(crate) fn emit_request(ctx: &mut Ctx<'_>, obr: Option<&Segment<'_>>) -> String {
    let (placer, filler) = match obr {
        Some(obr) => placer_filler(ctx, obr),
        None => (ctx.order.placer.clone(), ctx.order.filler.clone()),
    };
    let parts: Vec<String> = if !placer.0.is_empty() {
        vec!["placer".into(), authority(&placer), placer.0.clone()]
    } else if !filler.0.is_empty() {
        vec!["filler".into(), authority(&filler), filler.0.clone()]
    } else {
        let code = obr
            .and_then(|o| cwe(&o.rep(4), None))
            .map(|c| {
                let (s, c) = concept_key(&c);
                format!("{s}|{c}")
            })
            .unwrap_or_default();
        let mut key = ctx.order.key.clone();
        if key.is_empty() {
            let when = obr.map(|o| o.v(7).into_owned()).unwrap_or_default();
            key = vec![ctx.patient_id().to_string(), "order".into(), when];
        }
        key.push(code);
        key
    };
    let parts_ref: Vec<&str> = parts.iter().map(String::as_str).collect();
    let id = ids::id("ServiceRequest", &parts_ref);
    let mut r = ctx.resource("ServiceRequest", &id);
    let identifiers = order_identifiers(ctx, &placer, &filler);
    put(&mut r, "identifier", identifiers);
    // In results the order's state follows its result (OBR-25) unless ORC-5 says otherwise.
    let result_status = obr.filter(|_| ctx.family == Family::Results).map(|o| {
        match o.v(25).to_ascii_uppercase().as_str() {
            "F" | "C" => "completed",
            "X" => "revoked",
            _ => "active",
        }
    });
    let status = tables::order_status(&ctx.order.status)
        .or(result_status)
        .or_else(|| tables::order_control_status(&ctx.order.control))
        .unwrap_or("unknown");
    r.insert("status".into(), Value::String(status.into()));
    r.insert("intent".into(), Value::String("order".into()));
    if let Some(obr) = obr {
        put_opt(&mut r, "code", cwe(&obr.rep(4), None));
    }
    r.insert("subject".into(), ctx.patient_ref());
    put_opt(&mut r, "encounter", ctx.encounter_ref());
    let mut occurrence = ctx.order.occurrence.clone();
    let mut authored = ctx.order.authored.clone();
    let mut requester = ctx.order.requester.clone();
    let mut reasons = std::mem::take(&mut ctx.order.reasons);
    if let Some(obr) = obr {
        let requested = obr.v(7);
        if let Some(t) = ctx.date_time(obr, 7, &requested) {
            occurrence = Some(t);
        }
        if authored.is_none() {
            let raw = obr.v(6);
            authored = ctx.date_time(obr, 6, &raw);
        }
        if requester.is_none() {
            requester = obr
                .reps(16)
                .first()
                .and_then(|rep| practitioner(ctx, &Person::xcn(rep)));
        }
        reasons.extend(obr.reps(31).iter().filter_map(|rep| cwe(rep, None)));
    }
    put_opt(&mut r, "occurrenceDateTime", occurrence);
    put_opt(&mut r, "authoredOn", authored);
    put_opt(&mut r, "requester", requester);
    put(&mut r, "reasonCode", reasons);
    let index = ctx.push(r);
    ctx.order.request = Some(index);
    ctx.order.pending = false;
    ctx.note_target = Some(index);
    id
}

/// OBR in ORM/OML: completes the group's ServiceRequest.
pub(crate) fn map_obr(ctx: &mut Ctx<'_>, seg: &Segment<'_>) {
    if !ctx.order.pending {
        // An OBR without its own ORC: a new group with no ORC data.
        ctx.order = OrderState {
            key: vec![ctx.patient_id().to_string(), "order".into(), String::new()],
            ..OrderState::default()
        };
    }
    emit_request(ctx, Some(seg));
}

/// OBR in a message whose resources have no place for it (MDM): the order context only.
pub(crate) fn note_obr(ctx: &mut Ctx<'_>, _seg: &Segment<'_>) {
    ctx.order.pending = false;
}

/// TQ1 in an order: start/end (TQ1-7/8) when OBR-7 gave none, priority (TQ1-9).
pub(crate) fn map_tq1(ctx: &mut Ctx<'_>, seg: &Segment<'_>) {
    let (start_raw, end_raw) = (seg.v(7), seg.v(8));
    let start = ctx.date_time(seg, 7, &start_raw);
    let end = ctx.date_time(seg, 8, &end_raw);
    let priority = match seg.v(9).to_ascii_uppercase().as_str() {
        "S" => Some("stat"),
        "A" => Some("asap"),
        "R" => Some("routine"),
        _ => None,
    };
    let Some(index) = ctx.order.request else {
        if ctx.order.occurrence.is_none() {
            ctx.order.occurrence = start;
        }
        return;
    };
    if let Some(r) = ctx.at(index) {
        if !r.contains_key("occurrenceDateTime") {
            match (start, end) {
                (Some(s), Some(e)) => {
                    r.insert("occurrencePeriod".into(), jv!({ "start": s, "end": e }));
                }
                (Some(s), None) => {
                    r.insert("occurrenceDateTime".into(), Value::String(s));
                }
                _ => {}
            }
        }
        put_opt(r, "priority", priority);
    }
}

/// DG1 in an order: the reason for the order.
pub(crate) fn map_dg1(ctx: &mut Ctx<'_>, seg: &Segment<'_>) {
    let method = seg.v(2);
    let default = crate::datatypes::system_for(&method, None);
    let Some(reason) = cwe(&seg.rep(3), default.as_deref()) else {
        ctx.warn(seg, Some(3), "diagnosis without a code: not mapped");
        return;
    };
    match ctx.order.request {
        Some(index) => {
            if let Some(r) = ctx.at(index) {
                let list = r
                    .entry("reasonCode")
                    .or_insert_with(|| Value::Array(Vec::new()));
                if let Value::Array(list) = list {
                    list.push(reason);
                }
            }
        }
        None => ctx.order.reasons.push(reason),
    }
}

/// At the end of an order message: an ORC that no OBR followed is a ServiceRequest too.
pub(crate) fn finish(ctx: &mut Ctx<'_>) {
    if ctx.family == Family::Order && ctx.order.pending {
        emit_request(ctx, None);
    }
}
