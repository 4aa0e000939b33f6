//! HL7 v2 messages mapped to FHIR R4 resources (US Core where it applies).
//!
//! [`map_message`] takes one parsed message and returns the resources it describes as
//! `serde_json::Value` objects, each with `resourceType`, a deterministic `id` and
//! `meta.source`. The mapping is pure: no I/O, no clock; everything time-like comes from the
//! message. A field that cannot be mapped is a [`MapIssue`] warning and the rest is kept; only a
//! message that cannot be mapped at all (no patient to attach anything to) is a [`MapError`].
//!
//! # Message types
//!
//! | Message | Resources |
//! |---|---|
//! | ADT A01 A02 A03 A04 A05 A08 A11 A13 A28 A31 | Patient, Encounter, RelatedPerson (NK1, GT1 guarantor, IN1 insured), AllergyIntolerance (AL1), Condition (DG1), Procedure (PR1), Coverage + Organization (IN1), Observation (OBX), Condition + Procedure + Observation (PDA death and autopsy), Observation (ACC accident), ServiceRequest (RF1 referral), Practitioner, Location |
//! | ADT A40 | surviving Patient with `link replaces`, retired Patient `active: false` with `link replaced-by`, and a [`Merge`] |
//! | ORU R01 | DiagnosticReport (OBR), the ServiceRequest it is `basedOn` (ORC/OBR, the same id an ORM for that order gets), Observation (OBX, NTE → note), Specimen (SPM, or OBR-15) |
//! | VXU V04 | Immunization (ORC/RXA/RXR), Observation (OBX), Organization (RXA-17 manufacturer) |
//! | MDM T02 | DocumentReference (TXA + OBX text, base64 `text/plain; charset=utf-8`) |
//! | ORM O01, OML O21 | ServiceRequest (ORC + OBR, reasonCode from DG1), Specimen (SPM) |
//! | SIU S12 | Appointment (SCH, TQ1, AIS, AIP, AIL) |
//! | anything else | one Binary holding the raw message, and [`Mapped::unsupported`] |
//!
//! Patient-level segments (PID, PV1/PV2, NK1, AL1, DG1, PR1, IN1/IN2, GT1, DB1, PDA, ACC, RF1)
//! are mapped in every supported message type. GT1 with relationship `SEL`, IN2 program
//! numbers (Medicare, Medicaid, military, member number) and DB1 about the patient add
//! identifiers, names and addresses to the Patient (the decisions are documented at the top of
//! `src/party.rs` and `src/events.rs`). Z-segments are ignored (they stay in the raw message the store keeps); other
//! segments that are not mapped (ROL, CON, …) are reported as warnings.
//!
//! # Resource ids
//!
//! Every id is `salus_fhir::ids::derive_id(key)` (UUID v5) of a key made of source
//! identifiers, never of MSH-10 alone (it changes on every send), so that a re-sent or updated
//! message updates rather than duplicates. "authority" is the assigning authority of the
//! identifier (HD namespace, else universal id); `<patient>` is the Patient id;
//! parts are joined with `|` (a `|` inside a part is percent-encoded).
//!
//! | Resource | Key |
//! |---|---|
//! | Patient | `hl7v2\|Patient\|<authority>\|<id>` from the PID-3 repetition of type MR (else the first); authority PID-3.4, else [`MapOptions::default_assigning_authority`], else MSH-4 |
//! | Patient (retired, A40) | the same, from MRG-1 |
//! | Encounter | `hl7v2\|Encounter\|<authority>\|<PV1-19 visit number>`; without one `…\|<patient>\|admit\|<PV1-44>`; without either `…\|<patient>\|message\|<MSH-3>\|<MSH-10>` (warned: a re-send duplicates) |
//! | Practitioner | `hl7v2\|Practitioner\|<XCN-9 authority, else MSH-4>\|<XCN-1>` (a person named without an id is a `display`-only reference) |
//! | Location | `hl7v2\|Location\|<PL-4 facility>\|<point of care>\|<room>\|<bed>` |
//! | RelatedPerson | NK1: `hl7v2\|RelatedPerson\|<patient>\|<NK1-1 set id, else position>`; GT1: `…\|<patient>\|guarantor\|<GT1-1, else position>`; IN1 insured: `…\|<patient>\|insured\|<IN1-1, else position>` |
//! | AllergyIntolerance | `hl7v2\|AllergyIntolerance\|<patient>\|<AL1-3 system>\|<code or text>` |
//! | Condition | `hl7v2\|Condition\|<patient>\|<encounter or ->\|<DG1-3 system>\|<code or text>`; PDA-1 cause of death: `…\|<patient>\|death\|<system>\|<code>` |
//! | Procedure | `hl7v2\|Procedure\|<patient>\|<encounter or ->\|<PR1-3 system>\|<code>\|<PR1-5>`; PDA: `…\|<patient>\|PDA\|<SNOMED code>` |
//! | Coverage | `hl7v2\|Coverage\|<patient>\|<IN1-2 plan>\|<IN1-3 company>\|<subscriber id>` |
//! | Organization (payor) | `hl7v2\|Organization\|<IN1-3 authority>\|<IN1-3 id>`, else `…\|name\|<IN1-4>` |
//! | Organization (vaccine manufacturer) | `hl7v2\|Organization\|MVX\|<RXA-17 code>` |
//! | DiagnosticReport | `hl7v2\|DiagnosticReport\|<order key>`; order key = `filler\|<authority>\|<OBR-3, else ORC-3>`, else `placer\|<authority>\|<OBR-2, else ORC-2>`, else `<patient>\|<OBR-4 code>\|<OBR-7>` |
//! | Observation | `hl7v2\|Observation\|<order key>\|<OBX-3 system>\|<code>\|<OBX-4 sub-id>\|<n>`, n = how many earlier OBX in the same order had that code and sub-id (so two OBX with one code differ, and inserting another test does not shift ids); outside an order the order key is `<patient>\|<encounter or ->\|<OBX-14>`; PDA indicators: `hl7v2\|Observation\|<patient>\|PDA\|<LOINC code>`; ACC: `…\|<patient>\|ACC\|<ACC-13, else ACC-1>` |
//! | Specimen | `hl7v2\|Specimen\|filler\|<authority>\|<SPM-2.2>`, else `…\|placer\|<authority>\|<SPM-2.1>`, else `…\|<order key>\|<SPM-1, else position>`; OBR-15: `…\|<order key>\|OBR-15` |
//! | Immunization | `hl7v2\|Immunization\|filler\|<authority>\|<ORC-3>`, else `…\|<patient>\|<RXA-3>\|<RXA-5 code>` |
//! | DocumentReference | `hl7v2\|DocumentReference\|<TXA-12 authority>\|<TXA-12 id>`, else `…\|<patient>\|<TXA-2>\|<TXA-4 or TXA-6>` |
//! | ServiceRequest | `hl7v2\|ServiceRequest\|placer\|<authority>\|<ORC-2, else OBR-2>`, else `…\|filler\|…\|<ORC-3, else OBR-3>`, else `…\|<patient>\|<OBR-4 code>\|<ORC-9>`; RF1 referral: `hl7v2\|ServiceRequest\|referral\|<RF1-6 authority>\|<RF1-6>`, else `…\|referral\|<patient>\|<RF1-11, else position>` |
//! | Appointment | `hl7v2\|Appointment\|filler\|<authority>\|<SCH-2>`, else `…\|placer\|<authority>\|<SCH-1>` |
//! | Binary (unsupported type) | `hl7v2\|Binary\|<MSH-3>\|<MSH-4>\|<MSH-10>` (the raw message has no better identity) |
//!
//! # Provenance
//!
//! Every resource has `meta.source = urn:hl7v2:<MSH-3.1>:<MSH-10>`, both percent-encoded
//! (RFC 3986 unreserved characters kept): the sending application and the message control id
//! name the message; the store records the file and position separately. Practitioners,
//! Organizations and Locations, which many messages name, have `urn:hl7v2:<MSH-3.1>` only:
//! the next message that names the same clinician then changes nothing, instead of adding a
//! version per message that differs only in its source.
//!
//! # Dates
//!
//! See [`ts`]: FHIR precision follows the source; a time without a time zone is kept to the
//! day (with a warning) unless [`MapOptions::assume_offset_minutes`] gives the sender's offset;
//! a bad date is a warning and the element is left out. `instant` elements (`issued`,
//! DocumentReference `date`) need minutes and a zone, else they are left out.
//!
//! # Warnings never echo values
//!
//! [`MapIssue::reason`] and [`MapError::reason`] say what rule was broken and where, never the
//! value itself: the value may be a patient's name.

/// `json!`-like construction that moves values in (`Value::from`) instead of serialising them:
/// `serde_json::json!` turns every interpolated expression into a Value through the serde
/// serializer, which deep-copies nested values at every level; this mapping builds deep trees,
/// and that copying was most of its run time. Each object literal is a [`Shape`] (a static
/// per call site), so its keys are not hashed again for every object built.
macro_rules! jv {
    ({ $($tt:tt)* }) => { jv_object!([] []; $($tt)*) };
    ([ $($tt:tt)* ]) => { serde_json::Value::Array(jv_array!([] $($tt)*)) };
    ($e:expr) => { serde_json::Value::from($e) };
}

/// Object entries of [`jv!`]: keys and values are gathered, then built from the shape.
macro_rules! jv_object {
    ([$($k:literal)*] [$($v:expr),*];) => {{
        static SHAPE: $crate::Shape = $crate::Shape::new(&[$($k),*], 0);
        serde_json::Value::Object(SHAPE.build([$($v),*]))
    }};
    ([$($k:literal)*] [$($v:expr),*]; $key:literal : { $($inner:tt)* } $(, $($rest:tt)*)?) => {
        jv_object!([$($k)* $key] [$($v,)* jv!({ $($inner)* })]; $($($rest)*)?)
    };
    ([$($k:literal)*] [$($v:expr),*]; $key:literal : [ $($inner:tt)* ] $(, $($rest:tt)*)?) => {
        jv_object!([$($k)* $key] [$($v,)* jv!([ $($inner)* ])]; $($($rest)*)?)
    };
    ([$($k:literal)*] [$($v:expr),*]; $key:literal : $e:expr $(, $($rest:tt)*)?) => {
        jv_object!([$($k)* $key] [$($v,)* serde_json::Value::from($e)]; $($($rest)*)?)
    };
}

/// Array elements of [`jv!`].
macro_rules! jv_array {
    ([$($done:expr),*]) => { vec![$($done),*] };
    ([$($done:expr),*] { $($v:tt)* } $(, $($rest:tt)*)?) => {
        jv_array!([$($done,)* jv!({ $($v)* })] $($($rest)*)?)
    };
    ([$($done:expr),*] [ $($v:tt)* ] $(, $($rest:tt)*)?) => {
        jv_array!([$($done,)* jv!([ $($v)* ])] $($($rest)*)?)
    };
    ([$($done:expr),*] $v:expr $(, $($rest:tt)*)?) => {
        jv_array!([$($done,)* serde_json::Value::from($v)] $($($rest)*)?)
    };
}

use std::collections::{BTreeMap, HashMap};
use std::sync::OnceLock;

use salus_hl7v2::{Message, Segment};
use serde_json::{Map, Value};

mod appointment;
mod clinical;
mod coverage;
mod datatypes;
mod document;
mod encounter;
mod events;
pub mod ids;
mod immunization;
mod observation;
mod order;
mod party;
mod patient;
pub mod tables;
pub mod ts;
mod v2;

use v2::SegExt;

/// How to read what the message leaves implicit.
#[derive(Debug, Clone, Default)]
pub struct MapOptions {
    /// The assigning authority of patient identifiers whose PID-3.4 is empty. When `None`, the
    /// sending facility (MSH-4) is used: an MRN without authority is the sender's MRN.
    pub default_assigning_authority: Option<String>,
    /// `Identifier.system` for an assigning authority, by HD namespace (or universal id).
    /// Authorities not listed get `urn:oid:` (ISO universal id), `urn:uuid:` (UUID) or
    /// `urn:hl7v2:authority:<namespace>`.
    pub authority_systems: BTreeMap<String, String>,
    /// The sender's UTC offset in minutes, for times the message writes without a zone. When
    /// `None` such times are kept to the day (FHIR requires a zone with a time).
    pub assume_offset_minutes: Option<i32>,
}

/// What one message mapped to.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Mapped {
    /// The resources, in the order of the segments they come from. No two share type and id.
    pub resources: Vec<Value>,
    /// ADT A40: each merge the store must carry out (move the retired patient's resources to
    /// the survivor).
    pub merges: Vec<Merge>,
    /// Segments and fields that could not be mapped; the rest of the message was.
    pub warnings: Vec<MapIssue>,
    /// `Some("ADT^A99")` when the message type is not mapped: `resources` then holds one
    /// Binary with the raw message, so nothing is lost.
    pub unsupported: Option<String>,
}

/// A patient merge (ADT A40).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Merge {
    /// The surviving Patient's id.
    pub survivor: String,
    /// The retired Patient's id.
    pub retired: String,
}

/// A segment or field that could not be mapped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MapIssue {
    /// Segment id: `PID`, `OBX`, …
    pub segment: String,
    /// Position of the segment in the message, 0-based (MSH is 0).
    pub segment_index: usize,
    /// Field number (HL7 numbering), when one field is at fault.
    pub field: Option<usize>,
    /// What is wrong, in plain words (never the value itself).
    pub reason: String,
}

/// A message that cannot be mapped at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{segment}[{segment_index}]{}: {reason}", field.map(|f| format!("-{f}")).unwrap_or_default())]
pub struct MapError {
    /// Segment id (`PID`, or `MSH` when a segment is missing).
    pub segment: String,
    /// Position of the segment in the message, 0-based.
    pub segment_index: usize,
    /// Field number, when one field is at fault.
    pub field: Option<usize>,
    /// What is wrong, in plain words.
    pub reason: String,
}

/// The message families, by MSH-9.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Family {
    Adt,
    Merge,
    Results,
    Vaccination,
    Document,
    Order,
    Schedule,
}

fn family(code: &str, trigger: &str) -> Option<Family> {
    Some(match (code, trigger) {
        ("ADT", "A01" | "A02" | "A03" | "A04" | "A05" | "A08" | "A11" | "A13" | "A28" | "A31") => {
            Family::Adt
        }
        ("ADT", "A40") => Family::Merge,
        ("ORU", "R01") => Family::Results,
        ("VXU", "V04") => Family::Vaccination,
        ("MDM", "T02") => Family::Document,
        ("ORM", "O01") | ("OML", "O21") => Family::Order,
        ("SIU", "S12") => Family::Schedule,
        _ => return None,
    })
}

/// Map one message. See the crate documentation for what each type becomes.
///
/// Never panics. `Err` only when nothing can be mapped: a supported message without PID, or
/// whose PID-3 holds no identifier.
pub fn map_message(message: &Message<'_>, options: &MapOptions) -> Result<Mapped, MapError> {
    let kind = message.message_type();
    let code = v2::clean(kind.code).to_ascii_uppercase();
    let trigger = v2::clean(kind.trigger).to_ascii_uppercase();
    let mut ctx = Ctx::new(message, options, trigger.clone());
    let Some(family) = family(&code, &trigger) else {
        let name = if trigger.is_empty() {
            code
        } else {
            format!("{code}^{trigger}")
        };
        ctx.push_binary(message);
        return Ok(ctx.finish(Some(name)));
    };
    ctx.family = family;
    if family == Family::Merge {
        patient::map_merge(&mut ctx, message)?;
        return Ok(ctx.finish(None));
    }
    let Some(pid) = message.segment("PID") else {
        return Err(MapError {
            segment: "MSH".into(),
            segment_index: 0,
            field: None,
            reason: format!("a {code}^{trigger} message needs a PID segment: without a patient nothing it says can be filed"),
        });
    };
    let patient = patient::identify(&ctx, pid, 3)?;
    ctx.set_patient(patient);
    if let Some(pv1) = message.segment("PV1") {
        let encounter = encounter::identify(&mut ctx, pv1);
        ctx.set_encounter(encounter);
    }
    walk(&mut ctx, message);
    Ok(ctx.finish(None))
}

/// One pass over the segments, in order: each handler sees the groups it belongs to through
/// the state in [`Ctx`] (current order, report, last observation).
fn walk(ctx: &mut Ctx<'_>, message: &Message<'_>) {
    let mut seen_pid = false;
    let mut seen_pv1 = false;
    for seg in message.segments() {
        let id = seg.id();
        match id {
            "MSH" | "EVN" | "SFT" | "UAC" | "MSA" | "ERR" | "PD1" => {}
            _ if id.starts_with('Z') => {}
            "PID" if !seen_pid => {
                seen_pid = true;
                patient::map_pid(ctx, seg);
            }
            "PV1" if !seen_pv1 => {
                seen_pv1 = true;
                encounter::map_pv1(ctx, seg);
            }
            "PV2" if seen_pv1 => encounter::map_pv2(ctx, seg),
            "NK1" => patient::map_nk1(ctx, seg),
            "AL1" => clinical::map_al1(ctx, seg),
            "DG1" if ctx.family == Family::Order => order::map_dg1(ctx, seg),
            "DG1" => clinical::map_dg1(ctx, seg),
            "PR1" => clinical::map_pr1(ctx, seg),
            "IN1" => coverage::map_in1(ctx, seg),
            "IN2" => party::map_in2(ctx, seg),
            "GT1" => party::map_gt1(ctx, seg),
            "DB1" => party::map_db1(ctx, seg),
            "PDA" => events::map_pda(ctx, seg),
            "ACC" => events::map_acc(ctx, seg),
            "RF1" => events::map_rf1(ctx, seg),
            "ORC" => order::map_orc(ctx, seg),
            "OBR" => match ctx.family {
                Family::Results => observation::map_obr(ctx, seg),
                Family::Order => order::map_obr(ctx, seg),
                // MDM carries the order the document answers; the document has no place for it.
                _ => order::note_obr(ctx, seg),
            },
            "TQ1" => match ctx.family {
                Family::Order => order::map_tq1(ctx, seg),
                Family::Schedule => appointment::map_tq1(ctx, seg),
                _ => {}
            },
            "OBX" if ctx.family == Family::Document => document::map_obx(ctx, seg),
            "OBX" => observation::map_obx(ctx, seg),
            "NTE" => map_nte(ctx, seg),
            "SPM" => observation::map_spm(ctx, seg),
            "RXA" if ctx.family == Family::Vaccination => immunization::map_rxa(ctx, seg),
            "RXR" if ctx.family == Family::Vaccination => immunization::map_rxr(ctx, seg),
            "TXA" if ctx.family == Family::Document => document::map_txa(ctx, seg),
            "SCH" if ctx.family == Family::Schedule => appointment::map_sch(ctx, seg),
            "AIS" if ctx.family == Family::Schedule => appointment::map_ais(ctx, seg),
            "AIP" if ctx.family == Family::Schedule => appointment::map_aip(ctx, seg),
            "AIL" if ctx.family == Family::Schedule => appointment::map_ail(ctx, seg),
            "RGS" | "AIG" if ctx.family == Family::Schedule => {}
            _ => ctx.warn(
                seg,
                None,
                "segment not mapped to FHIR (it stays in the raw message)",
            ),
        }
    }
    order::finish(ctx);
    document::finish(ctx);
    appointment::finish(ctx);
}

/// NTE: a note on what it follows (the last OBX, else the current report or order).
fn map_nte(ctx: &mut Ctx<'_>, seg: &Segment<'_>) {
    let text: Vec<String> = seg
        .field(3)
        .repetitions()
        .map(|r| v2::RepExt::text(&r).trim_end().to_string())
        .collect();
    let text = text.join("\n");
    if text.trim().is_empty() {
        return;
    }
    let target = ctx.last_observation.or(ctx.note_target);
    match target {
        Some(index) => {
            if let Some(resource) = ctx.resources.get_mut(index).and_then(Value::as_object_mut) {
                let notes = resource
                    .entry("note")
                    .or_insert_with(|| Value::Array(Vec::new()));
                if let Value::Array(notes) = notes {
                    notes.push(jv!({ "text": text }));
                }
            }
        }
        None => ctx.warn(seg, Some(3), "note with nothing before it to attach to"),
    }
}

/// The patient a message is about: id and the authority its identifier came with.
#[derive(Debug, Clone)]
pub(crate) struct PatientId {
    pub id: String,
    pub authority: String,
}

/// Mapping state for one message.
pub(crate) struct Ctx<'o> {
    pub options: &'o MapOptions,
    pub family: Family,
    pub trigger: String,
    /// `meta` of every resource but the shared ones: `{"source": …}`, built once and cloned
    /// (a clone copies the map's hash table instead of hashing the key again).
    meta: Value,
    /// `meta` of Practitioners, Organizations and Locations (the application alone).
    shared_meta: Value,
    /// MSH-3.1 and MSH-10, for the last-resort keys.
    pub sending_application: String,
    pub control_id: String,
    /// MSH-4 (namespace, else universal id): the default authority.
    pub sending_facility: String,
    patient: Option<PatientId>,
    encounter: Option<String>,
    /// `{"reference": "Patient/<id>"}` and the same for the Encounter, built once: nearly every
    /// resource refers to both, and a clone skips the key hashing and the `format!`.
    patient_reference: Option<Value>,
    encounter_reference: Option<Value>,
    pub resources: Vec<Value>,
    /// `Type/id` → position in `resources`, so a resource is emitted once.
    index: HashMap<String, usize, ids::FastHash>,
    pub warnings: Vec<MapIssue>,
    /// The Encounter's position, for PV2 and DG1 to add to it.
    pub encounter_index: Option<usize>,
    /// The last Observation emitted, for NTE.
    pub last_observation: Option<usize>,
    /// Where an NTE that follows no OBX goes (the current report or order).
    pub note_target: Option<usize>,
    pub order: order::OrderState,
    pub report: Option<observation::ReportState>,
    pub immunization: Option<usize>,
    pub document: document::DocumentState,
    pub appointment: appointment::AppointmentState,
    pub nk1_position: usize,
    pub spm_position: usize,
    pub gt1_position: usize,
    pub in1_position: usize,
    pub rf1_position: usize,
    /// The Patient's position, for GT1, IN2 and DB1 to add identifiers, names, addresses.
    pub patient_index: Option<usize>,
    /// The insured of the last IN1, for the IN2 after it.
    pub insured: party::InsuredState,
    pub merges: Vec<Merge>,
    pub obx_counts: observation::Counts,
}

impl<'o> Ctx<'o> {
    fn new(message: &Message<'_>, options: &'o MapOptions, trigger: String) -> Self {
        let msh = message.header();
        let sending_application = msh.v(3).into_owned();
        let control_id = v2::clean(message.control_id()).into_owned();
        let facility = {
            let ns = msh.v(4);
            if ns.is_empty() {
                msh.c(4, 2).into_owned()
            } else {
                ns.into_owned()
            }
        };
        Ctx {
            options,
            family: Family::Adt,
            trigger,
            meta: jv!({ "source": format!(
                "urn:hl7v2:{}:{}",
                ids::uri_encode(&sending_application),
                ids::uri_encode(&control_id)
            ) }),
            shared_meta: jv!({
                "source": format!("urn:hl7v2:{}", ids::uri_encode(&sending_application))
            }),
            sending_application,
            control_id,
            sending_facility: facility,
            patient: None,
            encounter: None,
            patient_reference: None,
            encounter_reference: None,
            resources: Vec::new(),
            index: HashMap::default(),
            warnings: Vec::new(),
            encounter_index: None,
            last_observation: None,
            note_target: None,
            order: order::OrderState::default(),
            report: None,
            immunization: None,
            document: document::DocumentState::default(),
            appointment: appointment::AppointmentState::default(),
            nk1_position: 0,
            spm_position: 0,
            gt1_position: 0,
            in1_position: 0,
            rf1_position: 0,
            patient_index: None,
            insured: party::InsuredState::default(),
            merges: Vec::new(),
            obx_counts: observation::Counts::default(),
        }
    }

    fn finish(self, unsupported: Option<String>) -> Mapped {
        Mapped {
            resources: self.resources,
            merges: self.merges,
            warnings: self.warnings,
            unsupported,
        }
    }

    /// A new resource: `resourceType`, `id` and `meta.source`, in that order.
    pub fn resource(&self, resource_type: &str, id: &str) -> Map<String, Value> {
        // Room for a typical resource's elements, so that it is not regrown (and every key
        // rehashed) three times as it fills.
        static HEADER: Shape = Shape::new(&["resourceType", "id", "meta"], 9);
        let meta = match resource_type {
            "Practitioner" | "Organization" | "Location" => &self.shared_meta,
            _ => &self.meta,
        };
        HEADER.build([
            Value::String(resource_type.into()),
            Value::String(id.into()),
            meta.clone(),
        ])
    }

    /// Emit a resource; returns its position. A resource with the same type and id as one
    /// already emitted is not emitted again (the first wins: a Practitioner named twice, a
    /// specimen shared by two reports).
    pub fn push(&mut self, resource: Map<String, Value>) -> usize {
        // Found by a scan (they are the first two entries), not by hashed look-ups.
        let find = |key: &str| {
            resource
                .iter()
                .find(|(k, _)| k.as_str() == key)
                .and_then(|(_, v)| v.as_str())
                .unwrap_or("")
        };
        let (resource_type, id) = (find("resourceType"), find("id"));
        let key = reference_to(resource_type, id);
        if let Some(&at) = self.index.get(&key) {
            return at;
        }
        let at = self.resources.len();
        self.resources.push(Value::Object(resource));
        self.index.insert(key, at);
        at
    }

    /// Is a resource with this reference already emitted?
    pub fn has(&self, reference: &str) -> bool {
        self.index.contains_key(reference)
    }

    /// The resource at a position, to add to it.
    pub fn at(&mut self, index: usize) -> Option<&mut Map<String, Value>> {
        self.resources.get_mut(index).and_then(Value::as_object_mut)
    }

    pub fn warn(&mut self, seg: &Segment<'_>, field: Option<usize>, reason: impl Into<String>) {
        self.warnings.push(MapIssue {
            segment: seg.id().to_string(),
            segment_index: seg.index(),
            field,
            reason: reason.into(),
        });
    }

    pub fn patient_id(&self) -> &str {
        self.patient.as_ref().map_or("", |p| p.id.as_str())
    }

    /// The patient the message is about (A40: the survivor being mapped).
    pub fn patient(&self) -> Option<&PatientId> {
        self.patient.as_ref()
    }

    pub fn set_patient(&mut self, patient: PatientId) {
        self.patient_reference = Some(jv!({ "reference": reference_to("Patient", &patient.id) }));
        self.patient = Some(patient);
    }

    /// The Encounter id of the message's PV1, if it names a visit.
    pub fn encounter(&self) -> Option<&String> {
        self.encounter.as_ref()
    }

    pub fn set_encounter(&mut self, encounter: Option<String>) {
        self.encounter_reference = encounter
            .as_ref()
            .map(|id| jv!({ "reference": reference_to("Encounter", id) }));
        self.encounter = encounter;
    }

    pub fn patient_ref(&self) -> Value {
        match &self.patient_reference {
            Some(reference) => reference.clone(),
            None => jv!({ "reference": "Patient/" }),
        }
    }

    pub fn encounter_ref(&self) -> Option<Value> {
        self.encounter_reference.clone()
    }

    /// A v2 timestamp as a FHIR dateTime, warning (and leaving it out) when it is bad.
    pub fn date_time(&mut self, seg: &Segment<'_>, field: usize, raw: &str) -> Option<String> {
        if raw.is_empty() {
            return None;
        }
        match ts::parse(raw) {
            Ok(t) => match t.date_time(self.options.assume_offset_minutes) {
                Ok(v) => Some(v),
                Err(day) => {
                    self.warn(
                        seg,
                        Some(field),
                        "time without a time zone: kept to the day (FHIR needs a zone with a time)",
                    );
                    Some(day)
                }
            },
            Err(reason) => {
                self.warn(seg, Some(field), format!("not a valid date: {reason}"));
                None
            }
        }
    }

    /// A v2 timestamp as a FHIR date (the time, if any, dropped).
    pub fn date(&mut self, seg: &Segment<'_>, field: usize, raw: &str) -> Option<String> {
        if raw.is_empty() {
            return None;
        }
        match ts::parse(raw) {
            Ok(t) => Some(t.date()),
            Err(reason) => {
                self.warn(seg, Some(field), format!("not a valid date: {reason}"));
                None
            }
        }
    }

    /// A v2 timestamp as a FHIR instant (needs minutes and a zone).
    pub fn instant(&mut self, seg: &Segment<'_>, field: usize, raw: &str) -> Option<String> {
        if raw.is_empty() {
            return None;
        }
        match ts::parse(raw) {
            Ok(t) => {
                let v = t.instant(self.options.assume_offset_minutes);
                if v.is_none() {
                    self.warn(
                        seg,
                        Some(field),
                        "an instant needs a time to the minute with a time zone: left out",
                    );
                }
                v
            }
            Err(reason) => {
                self.warn(seg, Some(field), format!("not a valid date: {reason}"));
                None
            }
        }
    }

    /// The raw message as one Binary (unsupported message types).
    fn push_binary(&mut self, message: &Message<'_>) {
        let facility = self.sending_facility.clone();
        let id = ids::id(
            "Binary",
            &[&self.sending_application, &facility, &self.control_id],
        );
        let mut r = self.resource("Binary", &id);
        r.insert(
            "contentType".into(),
            Value::String("x-application/hl7-v2+er7".into()),
        );
        r.insert(
            "data".into(),
            Value::String(ids::base64(message.raw().as_bytes())),
        );
        self.push(r);
    }
}

/// A JSON object shape: up to [`Shape::MAX_KEYS`] keys in a fixed order, each present or
/// not, filled by cloning a prebuilt object with the keys present.
///
/// Inserting into a `serde_json::Map` (an IndexMap with SipHash under `preserve_order`) hashes
/// the key, the largest single cost of this mapping; cloning a map copies the hashes with the
/// table. The small objects built by the thousand (codings, concepts, names, identifiers,
/// references, resource headers) are made from shapes. One template is built, on first use,
/// for each combination of present keys.
pub(crate) struct Shape {
    keys: &'static [&'static str],
    /// Room to reserve beyond the keys (for the elements added after them).
    extra: usize,
    /// Indexed by the bit set of present keys (bit `i` for `keys[i]`).
    templates: [OnceLock<Map<String, Value>>; 1 << Shape::MAX_KEYS],
}

impl Shape {
    pub const MAX_KEYS: usize = 6;

    pub const fn new(keys: &'static [&'static str], extra: usize) -> Self {
        assert!(keys.len() <= Shape::MAX_KEYS);
        Shape {
            keys,
            extra,
            templates: [const { OnceLock::new() }; 1 << Shape::MAX_KEYS],
        }
    }

    /// The object with every key, `values` in order.
    pub fn build<const N: usize>(&self, values: [Value; N]) -> Map<String, Value> {
        self.build_some(values.map(Some))
    }

    /// The object with the keys whose value is `Some`, in order. Callers pass one value per key
    /// (a missing one counts as absent, one too many is dropped).
    pub fn build_some<const N: usize>(&self, values: [Option<Value>; N]) -> Map<String, Value> {
        debug_assert_eq!(N, self.keys.len());
        let mask = values
            .iter()
            .enumerate()
            .filter(|(_, v)| v.is_some())
            .fold(0usize, |m, (i, _)| m | (1 << i));
        let Some(slot) = self.templates.get(mask) else {
            return Map::new();
        };
        let template = slot.get_or_init(|| {
            let mut map = Map::with_capacity(mask.count_ones() as usize + self.extra);
            for (i, key) in self.keys.iter().enumerate() {
                if mask & (1 << i) != 0 {
                    map.insert((*key).to_string(), Value::Null);
                }
            }
            map
        });
        let mut map = template.clone();
        for (slot, value) in map.values_mut().zip(values.into_iter().flatten()) {
            *slot = value;
        }
        map
    }
}

/// Text as [`put`] would insert it: `None` when blank (checked before copying it).
pub(crate) fn text(s: &str) -> Option<Value> {
    (!v2::trim(s).is_empty()).then(|| Value::String(s.into()))
}

/// The value as [`put`] would insert it: `None` when it is null, blank or empty.
pub(crate) fn nonempty(value: impl Into<Value>) -> Option<Value> {
    let value = value.into();
    let empty = match &value {
        Value::Null => true,
        Value::String(s) => v2::trim(s).is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        _ => false,
    };
    (!empty).then_some(value)
}

/// `<Type>/<id>`, the reference to a resource (concatenated: `format!` is slower, and this is
/// built for nearly every reference).
pub(crate) fn reference_to(resource_type: &str, id: &str) -> String {
    let mut out = String::with_capacity(resource_type.len() + 1 + id.len());
    out.push_str(resource_type);
    out.push('/');
    out.push_str(id);
    out
}

/// `a == b`, without hashing in the usual case. `Map` equality looks every key of one map up
/// in the other (a SipHash each), and the de-duplication of identifiers, names and references
/// compares every new element with every kept one; elements built by the same code have their
/// keys in the same order, so those are compared pairwise, and only others as `Map`s.
pub(crate) fn same_value(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            if x.len() != y.len() {
                return false;
            }
            if x.keys().zip(y.keys()).all(|(p, q)| p == q) {
                x.values().zip(y.values()).all(|(p, q)| same_value(p, q))
            } else {
                x == y
            }
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same_value(p, q))
        }
        _ => a == b,
    }
}

/// `value[key]` by a scan of the (small) object instead of a hashed look-up: `Value::Null`
/// when `value` is no object or has no such key, as indexing gives.
pub(crate) fn member<'v>(value: &'v Value, key: &str) -> &'v Value {
    static NULL: Value = Value::Null;
    value
        .as_object()
        .and_then(|m| m.iter().find(|(k, _)| k.as_str() == key))
        .map_or(&NULL, |(_, v)| v)
}

/// Insert `value` unless it is empty (FHIR forbids empty strings, arrays and objects).
pub(crate) fn put(map: &mut Map<String, Value>, key: &str, value: impl Into<Value>) {
    if let Some(value) = nonempty(value) {
        map.insert(key.to_string(), value);
    }
}

/// Insert an optional value unless it is `None` or empty.
pub(crate) fn put_opt(map: &mut Map<String, Value>, key: &str, value: Option<impl Into<Value>>) {
    if let Some(v) = value {
        put(map, key, v);
    }
}
