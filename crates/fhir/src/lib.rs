//! FHIR R4 resources as JSON.
//!
//! Salus stores every resource as the JSON it received, so this crate works on
//! `serde_json::Value` rather than on typed models: a typed round trip would drop unknown
//! elements, decimal digits and fractions of seconds. What it offers is everything the rest of
//! the system needs to know *about* a resource without owning it:
//!
//! - [`schema`]: validation against the official FHIR R4 JSON schema, with element-level errors;
//! - [`reference`]: parsing and rewriting `Reference.reference` strings;
//! - [`compartment`]: which patient a resource belongs to (the FHIR Patient compartment);
//! - [`search`]: the search parameters Salus supports, values extracted for indexing and query
//!   parsing;
//! - [`date`]: FHIR date, dateTime and instant values as UTC ranges;
//! - [`outcome`]: `OperationOutcome`, the shape of every error Salus reports;
//! - [`prepare`]: all of the above applied to one resource, ready for a store.
//!
//! Architecture invariant: pure functions over data in memory. No I/O, no clock.

pub mod compartment;
pub mod date;
pub mod ids;
pub mod outcome;
pub mod prepare;
pub mod reference;
pub mod schema;
pub mod search;

pub use outcome::{Issue, IssueCode, OperationOutcome, Severity};
pub use prepare::{prepare, prepare_derived, PreparedResource};
