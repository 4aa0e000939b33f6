//! The people around the patient's account: GT1 (guarantor), IN1-16…19 and IN2 (the insured),
//! DB1 (disability). Each either describes another person (a RelatedPerson) or, when the
//! message says that person *is* the patient, adds to the Patient.
//!
//! # Decisions
//!
//! - GT1 whose relationship (GT1-11, table 0063) is `SEL` is the patient guaranteeing their
//!   own account: its identifiers (GT1-2 guarantor number, GT1-12 SSN, GT1-19 employee id),
//!   names (GT1-3) and addresses (GT1-5) are the patient's and are added to the Patient,
//!   without duplicates. A billing address is often the only postal address a hospital has,
//!   and dropping it because it came in GT1 would lose it. Any other GT1 is a RelatedPerson.
//! - IN1 whose insured (IN1-16) is not the patient (IN1-17 not self) gives a RelatedPerson
//!   (name, relationship, birth date, address, sex, IN1-49 id), and the Coverage's
//!   `subscriber` points to it.
//! - IN2 fields named "Insured's …" (IN2-1 employee id, IN2-2 SSN) belong to the insured:
//!   the insured's RelatedPerson, or the Patient when the patient is the insured (IN2-2 only
//!   when PID-19 gave no SSN). Employee numbers (IN2-1, GT1-19) are kept only when the CX
//!   names its authority or type: a bare number from an unnamed employer identifies no one.
//! - An SSN from GT1-12 (guarantor is the patient) is added even when PID-19 has one: the
//!   duplicate check keeps one when they agree, and when they differ it is not the mapping's
//!   place to guess which the sender got wrong. IN2-6 (Medicare HIC number), IN2-8 (Medicaid case number),
//!   IN2-10 (military id) and IN2-61 (patient member number) are the patient's own program
//!   numbers: Patient.identifier typed MC, MA, MI and MB (v2-0203). IN2-7 (Medicaid case
//!   name) is the name the Medicaid case is filed under, often the head of household: not a
//!   name of the patient, not mapped.
//! - DB1 with DB1-2 `PT` (table 0334: the disabled person is the patient): DB1-3 identifiers
//!   are the patient's. DB1 about another person (guarantor, insured) is not mapped.

use salus_hl7v2::Segment;
use serde_json::{Map, Value};

use crate::datatypes::{self, cwe, cx, xad, xpn, xtn};
use crate::tables;
use crate::v2::{RepExt, SegExt};
use crate::{member, put, put_opt, same_value, Ctx};

/// The insured of the current IN1, for the IN2 after it.
#[derive(Debug, Default)]
pub(crate) struct InsuredState {
    /// The insured is the patient (IN1-17 self, or no insured named).
    pub is_patient: bool,
    /// The insured's RelatedPerson, when it is someone else.
    pub related: Option<usize>,
}

/// An Identifier with a v2-0203 type.
fn typed(type_code: &str, system: Option<&str>, value: &str) -> Option<Value> {
    if value.is_empty() {
        return None;
    }
    let mut id = Map::new();
    id.insert(
        "type".into(),
        datatypes::concept(
            &tables::v2_system("0203"),
            type_code,
            tables::identifier_type_display(type_code).unwrap_or(""),
        ),
    );
    put_opt(&mut id, "system", system);
    id.insert("value".into(), Value::String(value.into()));
    Some(Value::Object(id))
}

/// Two identifiers are one when value and system agree (types and periods may differ).
fn same_identifier(a: &Value, b: &Value) -> bool {
    member(a, "value") == member(b, "value") && member(a, "system") == member(b, "system")
}

/// Append to an array element of a resource, skipping what is already there.
fn extend(
    resource: &mut Map<String, Value>,
    key: &str,
    items: Vec<Value>,
    same: fn(&Value, &Value) -> bool,
) {
    if items.is_empty() {
        return;
    }
    let list = resource
        .entry(key)
        .or_insert_with(|| Value::Array(Vec::new()));
    if let Value::Array(list) = list {
        for item in items {
            if !list.iter().any(|x| same(x, &item)) {
                list.push(item);
            }
        }
    }
}

/// Add to the Patient (emitted by PID, which always comes first).
fn add_to_patient(ctx: &mut Ctx<'_>, key: &str, items: Vec<Value>) {
    let same: fn(&Value, &Value) -> bool = if key == "identifier" {
        same_identifier
    } else {
        same_value
    };
    if let Some(at) = ctx.patient_index {
        if let Some(patient) = ctx.at(at) {
            extend(patient, key, items, same);
        }
    }
}

/// Does the Patient already carry an SSN?
fn patient_has_ssn(ctx: &Ctx<'_>) -> bool {
    ctx.patient_index
        .and_then(|at| ctx.resources.get(at))
        .and_then(|p| p["identifier"].as_array())
        .is_some_and(|ids| ids.iter().any(|i| i["system"] == tables::US_SSN))
}

fn ssn(value: &str) -> Option<Value> {
    typed("SS", Some(tables::US_SSN), value)
}

/// A table 0063 relationship → RelatedPerson.relationship (v3-RoleCode where one fits, and
/// the v2 code).
fn relationship(rep: &salus_hl7v2::Rep<'_>) -> Option<Value> {
    if rep.blank() {
        return None;
    }
    let mut codings = Vec::new();
    if let Some((code, display)) = tables::relationship_role_code(&rep.c(1)) {
        codings.push(jv!({ "system": tables::V3_ROLE_CODE, "code": code, "display": display }));
    }
    let Some(Value::Object(mut original)) = cwe(rep, Some(&tables::v2_system("0063"))) else {
        return None;
    };
    if let Some(Value::Array(c)) = original.remove("coding") {
        codings.extend(c);
    }
    let mut cc = Map::new();
    put(&mut cc, "coding", codings);
    put_opt(&mut cc, "text", original.remove("text"));
    Some(Value::Object(cc))
}

/// GT1 → RelatedPerson, or (GT1-11 `SEL`) more identifiers, names and addresses of the
/// Patient.
pub(crate) fn map_gt1(ctx: &mut Ctx<'_>, seg: &Segment<'_>) {
    ctx.gt1_position += 1;
    let mut identifier = Vec::new();
    for rep in seg.reps(2) {
        identifier.extend(cx(ctx, seg, 2, &rep, None));
    }
    identifier.extend(employee_ids(ctx, seg, 19));
    let names: Vec<Value> = seg.reps(3).iter().filter_map(xpn).collect();
    let addresses: Vec<Value> = seg.reps(5).iter().filter_map(xad).collect();
    let rel = seg.rep(11);
    identifier.extend(ssn(&seg.v(12)));
    if rel.c(1).eq_ignore_ascii_case("SEL") {
        add_to_patient(ctx, "identifier", identifier);
        add_to_patient(ctx, "name", names);
        add_to_patient(ctx, "address", addresses);
        return;
    }
    let id = crate::patient::related_person_id(ctx, seg, Some("guarantor"), ctx.gt1_position);
    let mut r = ctx.resource("RelatedPerson", &id);
    put(&mut r, "identifier", identifier);
    r.insert("patient".into(), ctx.patient_ref());
    put(
        &mut r,
        "relationship",
        relationship(&rel).into_iter().collect::<Vec<_>>(),
    );
    put(&mut r, "name", names);
    let mut telecom = Vec::new();
    telecom.extend(seg.reps(6).iter().filter_map(|t| xtn(t, Some("home"))));
    telecom.extend(seg.reps(7).iter().filter_map(|t| xtn(t, Some("work"))));
    put(&mut r, "telecom", telecom);
    put_opt(&mut r, "gender", tables::gender(&seg.v(9)));
    let birth = seg.v(8);
    put_opt(&mut r, "birthDate", ctx.date(seg, 8, &birth));
    put(&mut r, "address", addresses);
    if r.len() <= 4 {
        ctx.warn(seg, None, "guarantor without name, identifier or address");
        return;
    }
    ctx.push(r);
}

/// IN1-16…19 (the insured, when not the patient) → RelatedPerson; returns its reference and
/// records it for the IN2 that follows.
pub(crate) fn map_insured(ctx: &mut Ctx<'_>, seg: &Segment<'_>) -> Option<Value> {
    ctx.in1_position += 1;
    let rel = seg.rep(17);
    let self_insured = tables::subscriber_relationship(&rel.c(1)) == Some("self");
    let names: Vec<Value> = seg.reps(16).iter().filter_map(xpn).collect();
    if self_insured || names.is_empty() {
        ctx.insured = InsuredState {
            is_patient: self_insured,
            related: None,
        };
        return None;
    }
    let id = crate::patient::related_person_id(ctx, seg, Some("insured"), ctx.in1_position);
    let mut r = ctx.resource("RelatedPerson", &id);
    let mut identifier = Vec::new();
    for rep in seg.reps(49) {
        identifier.extend(cx(ctx, seg, 49, &rep, None));
    }
    put(&mut r, "identifier", identifier);
    r.insert("patient".into(), ctx.patient_ref());
    put(
        &mut r,
        "relationship",
        relationship(&rel).into_iter().collect::<Vec<_>>(),
    );
    put(&mut r, "name", names);
    put_opt(&mut r, "gender", tables::gender(&seg.v(43)));
    let birth = seg.v(18);
    put_opt(&mut r, "birthDate", ctx.date(seg, 18, &birth));
    let addresses: Vec<Value> = seg.reps(19).iter().filter_map(xad).collect();
    put(&mut r, "address", addresses);
    let at = ctx.push(r);
    ctx.insured = InsuredState {
        is_patient: false,
        related: Some(at),
    };
    Some(jv!({ "reference": crate::reference_to("RelatedPerson", &id) }))
}

/// IN2 → identifiers of the insured (IN2-1, IN2-2) and of the patient (IN2-6, 8, 10, 61).
pub(crate) fn map_in2(ctx: &mut Ctx<'_>, seg: &Segment<'_>) {
    let mut insured = employee_ids(ctx, seg, 1);
    let mut patient = Vec::new();
    match ctx.insured.related {
        Some(at) => {
            insured.extend(ssn(&seg.v(2)));
            if let Some(r) = ctx.at(at) {
                extend(r, "identifier", insured, same_identifier);
            }
        }
        None if ctx.insured.is_patient => {
            if !patient_has_ssn(ctx) {
                insured.extend(ssn(&seg.v(2)));
            }
            patient.extend(insured);
        }
        // Insured neither named nor said to be the patient: whose numbers these are is
        // unknown, so they are left out.
        None => {}
    }
    patient.extend(typed("MC", Some(tables::US_MEDICARE), &seg.v(6)));
    patient.extend(typed("MA", None, &seg.v(8)));
    patient.extend(typed("MI", None, &seg.v(10)));
    for rep in seg.reps(61) {
        if let Some(mut id) = cx(ctx, seg, 61, &rep, None) {
            if id.get("type").is_none() {
                id["type"] = datatypes::concept(
                    &tables::v2_system("0203"),
                    "MB",
                    tables::identifier_type_display("MB").unwrap_or(""),
                );
            }
            patient.push(id);
        }
    }
    add_to_patient(ctx, "identifier", patient);
}

/// Employee numbers (GT1-19, IN2-1) that say whose number they are (CX-4 authority) or what
/// they are (CX-5 type): a bare number from an unnamed employer identifies no one (and some
/// senders put a set id in IN2-1).
fn employee_ids(ctx: &mut Ctx<'_>, seg: &Segment<'_>, field: usize) -> Vec<Value> {
    let mut out = Vec::new();
    for rep in seg.reps(field) {
        if rep.c(4).is_empty() && rep.s(4, 2).is_empty() && rep.c(5).is_empty() {
            continue;
        }
        out.extend(cx(ctx, seg, field, &rep, None));
    }
    out
}

/// DB1 about the patient (DB1-2 `PT`) → its DB1-3 identifiers on the Patient.
pub(crate) fn map_db1(ctx: &mut Ctx<'_>, seg: &Segment<'_>) {
    if !seg.v(2).eq_ignore_ascii_case("PT") {
        ctx.warn(
            seg,
            Some(2),
            "disability of someone other than the patient: not mapped",
        );
        return;
    }
    let mut identifier = Vec::new();
    for rep in seg.reps(3) {
        identifier.extend(cx(ctx, seg, 3, &rep, None));
    }
    add_to_patient(ctx, "identifier", identifier);
}
