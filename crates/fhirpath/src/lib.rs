//! FHIRPath over FHIR JSON: a parser and a budgeted evaluator, typed by the official FHIR R4
//! JSON schema.
//!
//! Salus evaluates FHIRPath where de-identification policies select elements (the Microsoft
//! FHIR Tools for Anonymization configuration format, whose results Salus must reproduce), so
//! this crate implements the FHIRPath subset those policies use plus the common functions a
//! data steward writes, with Microsoft's `nodesByType` / `nodesByName` extensions.
//!
//! - [`parse`] turns text into an [`Expr`] once; unknown functions and wrong argument counts
//!   are [`ParseError`]s with a character position. [`validate`] also checks type names.
//! - [`Evaluator::evaluate`] runs an expression over a resource's `serde_json::Value`,
//!   borrowing it. Results are [`Item`]s: resource elements ([`Node`], with the [`Location`]
//!   needed to change them afterwards) or computed [`Value`]s.
//! - Types come from a [`TypeModel`] built from the FHIR JSON schema ([`TypeModel::r4`]).
//! - Every evaluation has a step budget ([`EvalError::BudgetExceeded`]); parsing bounds
//!   nesting. Errors name operators, functions, types and positions, never resource values,
//!   which may be PHI.

mod eval;
mod members;
mod model;
mod node;
mod parser;
mod value;

pub use eval::{singleton_boolean, EvalError, Evaluator, DEFAULT_BUDGET};
pub use model::{ModelError, PrimitiveKind, TypeId, TypeKind, TypeModel};
pub use node::{Item, Location, Node, Step};
pub use parser::{parse, Expr, ParseError, MAX_DEPTH};
pub use value::{PartialDateTime, Precision, Value};

/// Parses `src` and checks it as a policy checker needs: everything [`parse`] checks, plus
/// that every type named in `is`, `as` and `ofType` is a FHIR or FHIRPath system type of
/// `model`.
pub fn validate(src: &str, model: &TypeModel) -> Result<Expr, ParseError> {
    let expr = parse(src)?;
    if let Some(name) = expr.unknown_type_name(model) {
        // Type names are short identifiers from the policy; positions are not kept in the
        // tree, so the type is named instead.
        let name: String = name.chars().take(40).collect();
        return Err(ParseError {
            position: src.find(&name).map_or(0, |b| src[..b].chars().count()),
            message: format!("unknown type `{name}`"),
        });
    }
    Ok(expr)
}
