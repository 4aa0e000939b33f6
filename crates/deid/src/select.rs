//! The bridge to `salus-fhirpath`: element types from its R4 model, rule paths evaluated to
//! element locations, and generalize cases evaluated on a value.

use salus_fhirpath::{
    Evaluator, Expr, Item, PartialDateTime, TypeKind, TypeModel, Value as PathValue,
};
use serde_json::Value;

use crate::schema::{Def, ElementInfo, Schema};

/// The FHIR R4 schema Salus ships, through the FHIRPath crate's type model.
pub struct R4Schema;

impl Schema for R4Schema {
    fn element(&self, parent: Def, key: &str) -> Option<ElementInfo> {
        let model = TypeModel::r4();
        let (key, name, ty, repeats) = model.member_entry(parent?, key)?;
        Some(ElementInfo {
            key,
            name,
            def: Some(ty),
            ty: model.fhir_type_name(ty),
            primitive: matches!(model.kind(ty), TypeKind::Primitive(_)),
            repeats,
        })
    }

    fn resource_type(&self, name: &str) -> Option<(&'static str, Def)> {
        let model = TypeModel::r4();
        let id = model.type_id(name)?;
        matches!(model.kind(id), TypeKind::Resource { .. })
            .then(|| (model.definition_name(id), Some(id)))
    }

    fn element_def(&self) -> Def {
        TypeModel::r4().type_id("Element")
    }

    fn resource_types(&self) -> Vec<String> {
        TypeModel::r4()
            .resource_type_names()
            .map(str::to_string)
            .collect()
    }
}

/// The elements a rule's path selects in `resource`, as locations from the resource.
pub fn evaluate_nodes(
    expr: &Expr,
    resource: &Value,
) -> Result<Vec<Vec<salus_fhirpath::Step>>, String> {
    let items = Evaluator::r4()
        .evaluate(expr, resource)
        .map_err(|e| format!("the path failed: {e}"))?;
    Ok(items
        .iter()
        .filter_map(Item::as_node)
        .map(|n| n.location().steps().to_vec())
        .collect())
}

/// Microsoft's generalize on one primitive value: the first case whose condition holds gives the
/// new value (`Some`); `None` when no case matched. A case that fails to evaluate (comparing a
/// string with a number, say) is an error, as in Microsoft's tool.
pub fn generalize(
    cases: &[(Expr, Expr)],
    current: &Value,
    ty: &str,
) -> Result<Option<Value>, String> {
    let Some(this) = path_value(current, ty) else {
        return Ok(None);
    };
    let this = Item::Value(this);
    let evaluator = Evaluator::r4();
    // `%resource` is not meaningful for a single value; cases are written over `$this`.
    let root = Value::Null;
    for (i, (condition, result)) in cases.iter().enumerate() {
        let holds = evaluator
            .predicate(condition, &root, &this)
            .map_err(|e| format!("generalize case {i} failed: {e}"))?;
        if holds {
            let value = evaluator
                .scalar(result, &root, &this)
                .map_err(|e| format!("generalize case {i} value failed: {e}"))?;
            return Ok(Some(match value {
                None => Value::Null,
                Some(v) => json_of(&v, ty),
            }));
        }
    }
    Ok(None)
}

/// A primitive element's JSON as a FHIRPath value of its type.
fn path_value(json: &Value, ty: &str) -> Option<PathValue> {
    Some(match (ty, json) {
        (_, Value::Bool(b)) => PathValue::Boolean(*b),
        ("integer" | "positiveInt" | "unsignedInt", Value::Number(n)) => {
            PathValue::Integer(n.as_i64()?)
        }
        (_, Value::Number(n)) => PathValue::Decimal(n.as_f64()?),
        ("date", Value::String(s)) => PathValue::Date(PartialDateTime::parse_date_time(s, false)?),
        ("dateTime" | "instant", Value::String(s)) => {
            PathValue::DateTime(PartialDateTime::parse_date_time(s, true)?)
        }
        ("time", Value::String(s)) => PathValue::Time(PartialDateTime::parse_time(s)?),
        (_, Value::String(s)) => PathValue::String(s.clone()),
        _ => return None,
    })
}

/// A FHIRPath result written back as the JSON of an element of type `ty`.
fn json_of(v: &PathValue, ty: &str) -> Value {
    match v {
        PathValue::Boolean(b) => Value::Bool(*b),
        PathValue::Integer(i)
            if matches!(ty, "integer" | "positiveInt" | "unsignedInt" | "decimal") =>
        {
            Value::Number((*i).into())
        }
        PathValue::Decimal(d) if ty == "decimal" => {
            serde_json::from_str(&d.to_string()).unwrap_or_else(|_| Value::String(d.to_string()))
        }
        other => Value::String(other.to_string()),
    }
}
