//! Social Determinants of Health: where a patient lives, and what they answered.
//!
//! Two parts, both pure (no I/O, no clock: the CLI and the store read files and patients, and
//! every time comes from the data):
//!
//! 1. **Community vulnerability.** [`SviTable`] reads CDC/ATSDR's Social Vulnerability Index
//!    (county or census tract), [`ZipCounty`] HUD-USPS's ZIP → county crosswalk, and
//!    [`link_patient`] turns a patient's current address into five Observations of the SVI
//!    percentile ranks of their area (overall and the four themes). The address rule, the
//!    Observation's shape and the ids are in [`link`]'s documentation; the crosswalk's choice
//!    of county in [`crosswalk`]'s. [`svi_code_system`] is the FHIR CodeSystem of the
//!    codes those Observations use.
//! 2. **Screening.** [`derive_from_response`] turns a QuestionnaireResponse of AHC HRSN,
//!    PRAPARE, the Hunger Vital Sign, PHQ-2, PHQ-9 or GAD-7 into US Core screening
//!    Observations (a panel with `hasMember` → an Observation per answer), scores (PHQ/GAD
//!    totals with severity bands), SDOH Clinical Care IG findings (positive answers flagged
//!    `POS` with their Gravity domain) and unconfirmed health-concern Conditions, plus
//!    [`Flag`]s (self-harm risk on PHQ-9 item 9). The rules are in [`screening`] and the data
//!    behind them, with its sources, in [`rules`].
//!
//! # Marked as derived
//!
//! Everything this crate produces has `meta.tag`
//! `{system: http://salus.example/fhir/CodeSystem/provenance, code: derived}` ([`PROVENANCE_SYSTEM`]):
//! Salus computed it from other data; no clinician recorded it. Screening resources also have
//! `derivedFrom` → the QuestionnaireResponse; SVI Observations name their dataset in an
//! extension ([`DATASET_EXTENSION`]) and their matching in `method`.
//!
//! # Ids
//!
//! `salus_fhir::ids::derive_id` (UUID v5) of `sdoh|svi|<patient id>|<measure>` and
//! `sdoh|qr|<response id>|<linkId or measure>`: the same input always gives the same ids, so
//! re-running a link or a derivation updates instead of duplicating.
//!
//! # Sources of the data
//!
//! - CDC/ATSDR Social Vulnerability Index documentation, 2020 (column names, -999, themes).
//! - HUD PD&R, HUD-USPS ZIP Code Crosswalk Files (ratios, file naming).
//! - HL7 SDOH Clinical Care IG (Gravity Project), *Assessment Instruments* page (categories by
//!   question, `POS` interpretation, AHC HRSN examples) and its example instances
//!   (SDOHCC-ConditionFoodInsecurityExample 733423003, SDOHCC-ConditionHomelessExample 32911000,
//!   SDOHCC-ConditionUnemployedExample 73438004, the HVS question 3 Observation, the PRAPARE
//!   child-care and clothing needs); its category CodeSystem SDOHCC-CodeSystemTemporaryCodes.
//! - US Core 9 screening examples (HVS and PRAPARE Questionnaires, responses and Observations;
//!   PHQ-9), which the tests compare against.
//! - CMS, *The Accountable Health Communities Health-Related Social Needs Screening Tool*
//!   (2017): positive answers and the safety score of 11.
//! - NACHC PRAPARE implementation toolkit (risk answers), Hager et al. 2010 (HVS),
//!   Kroenke et al. 2001/2003 (PHQ-9 bands, PHQ-2 cut-off of 3), Spitzer et al. 2006 (GAD-7).
//! - SNOMED CT concepts not in an IG example (1156191002 housing instability, 105531004 housing
//!   unsatisfactory, 713458007 lack of access to transportation, 1184702004 financial
//!   insecurity, 73595000 stress, 422650009 social isolation) are those Synthea and HL7's
//!   data-segmentation examples use for these findings.
//!
//! # Never echoes values
//!
//! [`TableError`], [`Unmatched`] and [`Derived::warnings`] name lines, columns, positions,
//! codes and rules, never a field's text, an address, an answer or a score.

use serde_json::{Map, Value};

pub mod crosswalk;
pub mod link;
pub mod rules;
pub mod screening;
pub mod svi;
mod table;

pub use crosswalk::{
    vintage_from_file_name as crosswalk_vintage_from_file_name, ZipCounty, ZipCountyEntry,
};
pub use link::{
    link_patient, svi_code_system, usable_address, MatchMethod, SviMeasure, Unmatched,
    UnmatchedReason, SVI_MEASURES,
};
pub use rules::Instrument;
pub use screening::{derive_from_response, Derived, Flag, FlagKind};
pub use svi::{vintage_from_file_name, Geography, SviRow, SviTable};
pub use table::TableError;

/// The CodeSystem of Salus's SVI codes (measures, geography components, match methods).
pub const SVI_SYSTEM: &str = "http://salus.example/fhir/CodeSystem/svi-measure";
/// `meta.tag` system of resources Salus derived (code `derived`).
pub const PROVENANCE_SYSTEM: &str = "http://salus.example/fhir/CodeSystem/provenance";
/// `meta.tag` system of flags (code `self-harm-risk`).
pub const FLAGS_SYSTEM: &str = "http://salus.example/fhir/CodeSystem/flags";
/// Severity bands of PHQ-2, PHQ-9 and GAD-7 totals, as `interpretation`.
pub const SCORE_BAND_SYSTEM: &str = "http://salus.example/fhir/CodeSystem/score-band";
/// An address extension holding a county (5-digit) or census tract (11-digit) FIPS code as
/// `valueString`.
pub const COUNTY_FIPS_EXTENSION: &str = "http://salus.example/fhir/StructureDefinition/county-fips";
/// The dataset an SVI Observation reports: sub-extensions `name` and `vintage`.
pub const DATASET_EXTENSION: &str = "http://salus.example/fhir/StructureDefinition/sdoh-dataset";
/// US Core's Observation category code system (`sdoh`).
pub const US_CORE_CATEGORY: &str = "http://hl7.org/fhir/us/core/CodeSystem/us-core-category";

/// JSON-schema `\s`: Unicode white space and the byte-order mark (ECMAScript counts it, Rust
/// does not).
fn schema_space(c: char) -> bool {
    c.is_whitespace() || c == '\u{feff}'
}

/// A FHIR `string` as the R4 schema checks it (`^[ \r\n\t\S]+$`), and not blank.
pub(crate) fn fhir_string(s: &str) -> bool {
    !s.trim().is_empty()
        && s.chars()
            .all(|c| matches!(c, ' ' | '\r' | '\n' | '\t') || !schema_space(c))
}

/// A FHIR `code` (`^[^\s]+( [^\s]+)*$`).
pub(crate) fn fhir_code(s: &str) -> bool {
    !s.is_empty()
        && s.split(' ')
            .all(|part| !part.is_empty() && !part.chars().any(schema_space))
}

/// A FHIR `uri` (`^\S*$`), not empty.
pub(crate) fn fhir_uri(s: &str) -> bool {
    !s.is_empty() && !s.chars().any(schema_space)
}

/// An object from key-value pairs, in order.
pub(crate) fn obj<const N: usize>(pairs: [(&str, Value); N]) -> Value {
    let mut map = Map::with_capacity(N);
    for (k, v) in pairs {
        map.insert(k.to_string(), v);
    }
    Value::Object(map)
}

/// A Coding.
pub(crate) fn coding(system: &str, code: &str, display: &str) -> Value {
    obj([
        ("system", Value::from(system)),
        ("code", Value::from(code)),
        ("display", Value::from(display)),
    ])
}

/// A CodeableConcept of one Coding.
pub(crate) fn concept(system: &str, code: &str, display: &str) -> Value {
    obj([("coding", Value::Array(vec![coding(system, code, display)]))])
}

/// `meta` of a derived resource.
pub(crate) fn derived_meta() -> Value {
    obj([(
        "tag",
        Value::Array(vec![coding(
            PROVENANCE_SYSTEM,
            "derived",
            "Derived by Salus",
        )]),
    )])
}
