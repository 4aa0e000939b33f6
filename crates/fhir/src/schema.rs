//! Validation against the official FHIR R4 JSON schema (`schemas/fhir.schema.json`).
//!
//! The schema is compiled once, on first use, into one validator per definition, and each
//! resource is validated against `#/definitions/<resourceType>`: validating against the schema's
//! root `oneOf` would only say "not valid under any schema", while the per-type validator names
//! the element at fault. Error messages are *masked*: they describe the rule, never the value,
//! because the value may be a patient's name.

use std::collections::BTreeSet;
use std::sync::OnceLock;

use jsonschema::{Registry, Validator};
use serde_json::Value;

use crate::outcome::{Issue, IssueCode};

/// The schema text, shipped in the repository (see `schemas/update-fhir-schema.py`).
const FHIR_SCHEMA: &str = include_str!("../../../schemas/fhir.schema.json");

/// At most this many issues are reported for one resource; the rest are counted.
const MAX_ISSUES: usize = 20;

/// The URI the schema document is registered under.
const SCHEMA_URI: &str = "http://hl7.org/fhir/json-schema/4.0";

struct Compiled {
    /// One validator for every resource type. Compiling the schema costs about 0.1 s and
    /// 20 MB however many types are used, because every type reaches every other through
    /// `contained`; one validator per type would pay that per type. The validator dispatches on
    /// `resourceType` with draft-07 `if`/`then`, so a resource is checked against its own type's
    /// definition only and errors still name the element at fault.
    validator: Validator,
    resource_types: BTreeSet<String>,
}

fn compiled() -> &'static Compiled {
    static COMPILED: OnceLock<Compiled> = OnceLock::new();
    COMPILED.get_or_init(|| {
        let schema: Value =
            serde_json::from_str(FHIR_SCHEMA).expect("the shipped FHIR schema is valid JSON");
        let resource_types: BTreeSet<String> = schema["discriminator"]["mapping"]
            .as_object()
            .expect("the FHIR schema lists its resource types")
            .keys()
            .cloned()
            .collect();
        let registry = Registry::new()
            .add(SCHEMA_URI, schema)
            .and_then(|builder| builder.prepare())
            .expect("the shipped FHIR schema registers");
        let dispatch: Vec<Value> = resource_types
            .iter()
            .map(|t| {
                serde_json::json!({
                    "if": {"properties": {"resourceType": {"const": t}}},
                    "then": {"$ref": format!("{SCHEMA_URI}#/definitions/{t}")}
                })
            })
            .collect();
        let root = serde_json::json!({
            "$schema": "http://json-schema.org/draft-07/schema#",
            "allOf": dispatch
        });
        let validator = jsonschema::options()
            .should_validate_formats(false)
            .with_registry(&registry)
            .build(&root)
            .expect("the shipped FHIR schema compiles");
        Compiled {
            validator,
            resource_types,
        }
    })
}

/// Compile the schema now rather than on the first resource (servers call this at start-up).
pub fn warm_up() {
    let _ = compiled();
}

/// Is this the name of an R4 resource type?
pub fn is_resource_type(name: &str) -> bool {
    compiled().resource_types.contains(name)
}

/// Every R4 resource type name, sorted.
pub fn resource_types() -> impl Iterator<Item = &'static str> {
    compiled().resource_types.iter().map(String::as_str)
}

/// Validate a resource. `Ok` carries its type; `Err` lists what is wrong, element by element.
pub fn validate(resource: &Value) -> Result<&str, Vec<Issue>> {
    let Some(object) = resource.as_object() else {
        return Err(vec![Issue::error(
            IssueCode::Structure,
            format!(
                "a resource must be a JSON object, not {}",
                kind_of(resource)
            ),
        )]);
    };
    let resource_type = match object.get("resourceType") {
        Some(Value::String(t)) => t.as_str(),
        Some(other) => {
            return Err(vec![Issue::error(
                IssueCode::Structure,
                format!("resourceType must be a string, not {}", kind_of(other)),
            )
            .at("resourceType")])
        }
        None => {
            return Err(vec![Issue::error(
                IssueCode::Required,
                "the resource has no resourceType: every FHIR resource must name its type",
            )
            .at("resourceType")])
        }
    };
    if !is_resource_type(resource_type) {
        return Err(vec![Issue::error(
            IssueCode::NotSupported,
            format!("'{resource_type}' is not a FHIR R4 resource type (names are case-sensitive)"),
        )
        .at("resourceType")]);
    }
    let validator = &compiled().validator;
    if validator.is_valid(resource) {
        return Ok(resource_type);
    }
    let mut issues = Vec::new();
    let mut extra = 0usize;
    for error in validator.iter_errors(resource) {
        if issues.len() == MAX_ISSUES {
            extra += 1;
            continue;
        }
        let path = fhir_path(resource_type, error.instance_path().as_str());
        issues.push(
            Issue::error(IssueCode::Structure, format!("{path}: {}", error.masked())).at(path),
        );
    }
    if extra > 0 {
        issues.push(Issue::error(
            IssueCode::Structure,
            format!("{extra} further schema errors not listed"),
        ));
    }
    if issues.is_empty() {
        Ok(resource_type)
    } else {
        Err(issues)
    }
}

/// `/name/0/family` under Patient becomes `Patient.name[0].family`.
fn fhir_path(resource_type: &str, pointer: &str) -> String {
    let mut path = resource_type.to_owned();
    for segment in pointer.split('/').skip(1) {
        let segment = segment.replace("~1", "/").replace("~0", "~");
        if segment.bytes().all(|b| b.is_ascii_digit()) && !segment.is_empty() {
            path.push('[');
            path.push_str(&segment);
            path.push(']');
        } else {
            path.push('.');
            path.push_str(&segment);
        }
    }
    path
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn accepts_a_valid_patient() {
        let p = json!({"resourceType": "Patient", "id": "p1", "birthDate": "1980-02-03",
                        "name": [{"family": "Smith", "given": ["Ann"]}]});
        assert_eq!(validate(&p), Ok("Patient"));
    }

    #[test]
    fn names_the_element_at_fault_without_its_value() {
        let p = json!({"resourceType": "Patient", "birthDate": "Zebediah-Q",
                        "gender": "dragon"});
        let issues = validate(&p).unwrap_err();
        let paths: Vec<_> = issues.iter().flat_map(|i| i.expression.clone()).collect();
        assert!(
            paths.contains(&"Patient.birthDate".to_string()),
            "{paths:?}"
        );
        assert!(paths.contains(&"Patient.gender".to_string()), "{paths:?}");
        for issue in &issues {
            assert!(
                !issue.diagnostics.contains("Zebediah"),
                "{}",
                issue.diagnostics
            );
            assert!(
                !issue.diagnostics.contains("dragon"),
                "{}",
                issue.diagnostics
            );
        }
    }

    #[test]
    fn unknown_elements_are_rejected() {
        let p = json!({"resourceType": "Observation", "status": "final",
                        "code": {"text": "x"}, "colour": "blue"});
        let issues = validate(&p).unwrap_err();
        assert!(issues[0].diagnostics.contains("colour"), "{:?}", issues);
    }

    #[test]
    fn missing_and_unknown_types() {
        let e = validate(&json!({"id": "x"})).unwrap_err();
        assert_eq!(e[0].code, IssueCode::Required);
        assert_eq!(e[0].expression, vec!["resourceType"]);
        let e = validate(&json!({"resourceType": "Patinet"})).unwrap_err();
        assert!(e[0].diagnostics.contains("Patinet"));
        assert!(validate(&json!([1])).is_err());
        assert!(is_resource_type("QuestionnaireResponse"));
        assert!(!is_resource_type("Element"));
    }

    #[test]
    fn pointer_to_fhir_path() {
        assert_eq!(
            fhir_path("Patient", "/name/0/given/1"),
            "Patient.name[0].given[1]"
        );
        assert_eq!(fhir_path("Patient", ""), "Patient");
    }
}
