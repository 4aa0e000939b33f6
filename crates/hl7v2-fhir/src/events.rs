//! Patient-level events of ADT messages: PDA (death and autopsy), ACC (accident), RF1
//! (referral).
//!
//! # Decisions
//!
//! - PDA follows the shapes of the HL7 Vital Records Death Reporting IG: PDA-1 (cause of
//!   death) → Condition (category SNOMED 16100001 "death diagnosis"); PDA-3…5 (death
//!   certified, when, by whom) → Procedure SNOMED 308646001 "death certification"; PDA-6
//!   (autopsy performed) → Observation LOINC 85699-7, and with PDA-7/8 (when, by whom) also a
//!   Procedure SNOMED 29240004 "autopsy examination"; PDA-9 (coroner or medical examiner
//!   involved) → Observation LOINC 74497-9. PDA-2 (death location) stays in the raw message.
//!   The certification is a Procedure only: an Observation "death certified: yes" would say
//!   the same thing twice.
//! - ACC → Observation LOINC 11374-6 "injury incident description": ACC-8 description (else
//!   ACC-2) as the value, ACC-1 as the time, ACC-13 as identifier, ACC-3 location as a note.
//! - RF1 → ServiceRequest (code SNOMED 3457005 "patient referral", category RF1-3, status by
//!   table 0283, priority by table 0280, reason RF1-10, RF1-6/RF1-11 as identifiers).

use salus_hl7v2::Segment;
use serde_json::{Map, Value};

use crate::clinical::concept_key;
use crate::datatypes::{self, cwe, ei, ei_identifier, practitioner, Person};
use crate::tables;
use crate::v2::{RepExt, SegExt};
use crate::{ids, put, put_opt, Ctx};

const SNOMED: &str = "http://snomed.info/sct";

/// Table 0136 Y/N as a CodeableConcept, `None` for anything else.
fn yes_no(code: &str) -> Option<Value> {
    let (code, display) = match code.to_ascii_uppercase().as_str() {
        "Y" => ("Y", "Yes"),
        "N" => ("N", "No"),
        _ => return None,
    };
    Some(datatypes::concept(
        &tables::v2_system("0136"),
        code,
        display,
    ))
}

/// An Observation of the patient with a LOINC code and a coded Y/N value.
fn indicator(ctx: &mut Ctx<'_>, seg: &Segment<'_>, field: usize, loinc: &str, display: &str) {
    let raw = seg.v(field);
    if raw.is_empty() {
        return;
    }
    let Some(value) = yes_no(&raw) else {
        ctx.warn(seg, Some(field), "indicator is not Y or N: not mapped");
        return;
    };
    let patient = ctx.patient_id().to_string();
    let id = ids::id("Observation", &[&patient, seg.id(), loinc]);
    let mut r = ctx.resource("Observation", &id);
    r.insert("status".into(), Value::String("final".into()));
    r.insert(
        "code".into(),
        datatypes::concept(tables::LOINC, loinc, display),
    );
    r.insert("subject".into(), ctx.patient_ref());
    put_opt(&mut r, "encounter", ctx.encounter_ref());
    r.insert("valueCodeableConcept".into(), value);
    ctx.push(r);
}

/// A completed Procedure of the patient (SNOMED code), with its performer.
fn procedure(
    ctx: &mut Ctx<'_>,
    seg: &Segment<'_>,
    (code, display): (&str, &str),
    performed: Option<(&str, Value)>,
    performer_field: usize,
) {
    let patient = ctx.patient_id().to_string();
    let id = ids::id("Procedure", &[&patient, seg.id(), code]);
    let mut r = ctx.resource("Procedure", &id);
    r.insert("status".into(), Value::String("completed".into()));
    r.insert("code".into(), datatypes::concept(SNOMED, code, display));
    r.insert("subject".into(), ctx.patient_ref());
    if let Some((key, value)) = performed {
        r.insert(key.into(), value);
    }
    let mut performers = Vec::new();
    for rep in seg.reps(performer_field) {
        if let Some(actor) = practitioner(ctx, &Person::xcn(&rep)) {
            performers.push(jv!({ "actor": actor }));
        }
    }
    put(&mut r, "performer", performers);
    ctx.push(r);
}

/// PDA → Condition (cause of death), Procedures (certification, autopsy), Observations
/// (autopsy, coroner).
pub(crate) fn map_pda(ctx: &mut Ctx<'_>, seg: &Segment<'_>) {
    let patient = ctx.patient_id().to_string();
    for rep in seg.reps(1) {
        let Some(code) = cwe(&rep, None) else {
            continue;
        };
        let (system, key) = concept_key(&code);
        let id = ids::id("Condition", &[&patient, "death", &system, &key]);
        let mut r = ctx.resource("Condition", &id);
        r.insert(
            "category".into(),
            jv!([datatypes::concept(SNOMED, "16100001", "Death diagnosis")]),
        );
        r.insert("code".into(), code);
        r.insert("subject".into(), ctx.patient_ref());
        put_opt(&mut r, "encounter", ctx.encounter_ref());
        ctx.push(r);
    }

    if seg.v(3).eq_ignore_ascii_case("Y") {
        let signed = seg.v(4);
        let when = ctx
            .date_time(seg, 4, &signed)
            .map(|t| ("performedDateTime", Value::String(t)));
        procedure(ctx, seg, ("308646001", "Death certification"), when, 5);
    }

    indicator(ctx, seg, 6, "85699-7", "Autopsy was performed");
    if seg.v(6).eq_ignore_ascii_case("Y") {
        let (start, end) = (seg.c(7, 1), seg.c(7, 2));
        let mut period = Map::new();
        put_opt(&mut period, "start", ctx.date_time(seg, 7, &start));
        put_opt(&mut period, "end", ctx.date_time(seg, 7, &end));
        let period = (!period.is_empty()).then(|| ("performedPeriod", Value::Object(period)));
        procedure(ctx, seg, ("29240004", "Autopsy examination"), period, 8);
    }
    indicator(
        ctx,
        seg,
        9,
        "74497-9",
        "Medical examiner or coroner was contacted [US Standard Certificate of Death]",
    );
}

/// ACC → Observation (injury incident description).
pub(crate) fn map_acc(ctx: &mut Ctx<'_>, seg: &Segment<'_>) {
    let description = seg.rep(8).text().trim().to_string();
    let value = if description.is_empty() {
        cwe(&seg.rep(2), Some(&tables::v2_system("0050")))
            .and_then(|cc| {
                cc["text"]
                    .as_str()
                    .or(cc["coding"][0]["code"].as_str())
                    .map(str::to_string)
            })
            .unwrap_or_default()
    } else {
        description
    };
    let when = seg.v(1);
    if value.is_empty() && when.is_empty() {
        ctx.warn(
            seg,
            None,
            "accident without description, code or date: not mapped",
        );
        return;
    }
    let accident_id = ei(&seg.rep(13), None);
    let patient = ctx.patient_id().to_string();
    let key = if accident_id.0.is_empty() {
        when.to_string()
    } else {
        accident_id.0.clone()
    };
    let id = ids::id("Observation", &[&patient, "ACC", &key]);
    let mut r = ctx.resource("Observation", &id);
    if let Some(identifier) = ei_identifier(ctx, &accident_id, None) {
        r.insert("identifier".into(), jv!([identifier]));
    }
    r.insert("status".into(), Value::String("final".into()));
    r.insert(
        "code".into(),
        datatypes::concept(
            tables::LOINC,
            "11374-6",
            "Injury incident description Narrative",
        ),
    );
    r.insert("subject".into(), ctx.patient_ref());
    put_opt(&mut r, "encounter", ctx.encounter_ref());
    put_opt(&mut r, "effectiveDateTime", ctx.date_time(seg, 1, &when));
    put(&mut r, "valueString", value);
    let location = seg.rep(3).text().trim().to_string();
    if !location.is_empty() {
        r.insert(
            "note".into(),
            jv!([{ "text": format!("Accident location: {location}") }]),
        );
    }
    ctx.push(r);
}

/// RF1 → ServiceRequest (a referral).
pub(crate) fn map_rf1(ctx: &mut Ctx<'_>, seg: &Segment<'_>) {
    ctx.rf1_position += 1;
    let originating = ei(&seg.rep(6), None);
    let external: Vec<_> = seg.reps(11).iter().map(|r| ei(r, None)).collect();
    let patient = ctx.patient_id().to_string();
    let position = ctx.rf1_position.to_string();
    let id = if !originating.0.is_empty() {
        let authority = if originating.1.is_empty() {
            originating.2.clone()
        } else {
            originating.1.clone()
        };
        ids::id("ServiceRequest", &["referral", &authority, &originating.0])
    } else if let Some(first) = external.iter().find(|e| !e.0.is_empty()) {
        ids::id("ServiceRequest", &["referral", &patient, &first.0])
    } else {
        ids::id("ServiceRequest", &["referral", &patient, &position])
    };
    let mut r = ctx.resource("ServiceRequest", &id);
    let mut identifier = Vec::new();
    identifier.extend(ei_identifier(ctx, &originating, Some("PLAC")));
    for e in &external {
        identifier.extend(ei_identifier(ctx, e, None));
    }
    put(&mut r, "identifier", identifier);
    let status = match seg.v(1).to_ascii_uppercase().as_str() {
        "A" | "P" => "active",
        "R" | "E" => "revoked",
        _ => "unknown",
    };
    r.insert("status".into(), Value::String(status.into()));
    r.insert("intent".into(), Value::String("order".into()));
    put_opt(
        &mut r,
        "category",
        cwe(&seg.rep(3), Some(&tables::v2_system("0281"))).map(|c| jv!([c])),
    );
    let priority = match seg.v(2).to_ascii_uppercase().as_str() {
        "S" => Some("stat"),
        "A" => Some("asap"),
        "R" => Some("routine"),
        _ => None,
    };
    put_opt(&mut r, "priority", priority);
    r.insert(
        "code".into(),
        datatypes::concept(SNOMED, "3457005", "Patient referral"),
    );
    r.insert("subject".into(), ctx.patient_ref());
    put_opt(&mut r, "encounter", ctx.encounter_ref());
    let (start, end) = (seg.v(7), seg.v(8));
    let mut period = Map::new();
    put_opt(&mut period, "start", ctx.date_time(seg, 7, &start));
    put_opt(&mut period, "end", ctx.date_time(seg, 8, &end));
    put(&mut r, "occurrencePeriod", period);
    let processed = seg.v(9);
    put_opt(&mut r, "authoredOn", ctx.date_time(seg, 9, &processed));
    let reasons: Vec<Value> = seg
        .reps(10)
        .iter()
        .filter_map(|rep| cwe(rep, Some(&tables::v2_system("0336"))))
        .collect();
    put(&mut r, "reasonCode", reasons);
    ctx.push(r);
}
