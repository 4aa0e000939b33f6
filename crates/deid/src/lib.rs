//! De-identification of FHIR R4 resources under steward-written policies.
//!
//! A [`Policy`] is a superset of the Microsoft FHIR Tools for Anonymization configuration;
//! [`Policy::parse`] reports every problem before anything runs. An [`Engine`] applies it to
//! resources with Microsoft's semantics (rules in order, first match wins element by element,
//! `meta.security` labels), plus Salus's own: patient-consistent date shifting and free-text
//! PHI scrubbing (`scrubText`) driven by each patient's own identifiers. A [`Report`] counts
//! what each rule and method did, never a value.
//!
//! Pure: no I/O, no clock, no OS randomness. The caller passes "today" (for the age-over-89
//! rule) and a random seed (for AES IVs and perturbation noise).

mod engine;
mod lookup;
mod methods;
pub mod policy;
mod presets;
mod report;
mod schema;
mod select;
mod substitute;
mod text;
mod tree;

pub use engine::{DefaultKeys, DeidError, Engine, Operation, Origin, Run};
pub use methods::decrypt;
pub use policy::{Method, Policy, Problem, Problems};
pub use presets::{preset, PRESETS};
pub use report::{Report, RuleReport};
pub use schema::{ElementInfo, Schema};
pub use select::R4Schema;
pub use text::{IdentityBook, TextScrubber};
