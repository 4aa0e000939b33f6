//! Writing labels into `meta.security` without disturbing anything else.

use serde_json::{Map, Value};

use crate::LabelSet;

/// Whether the resource's `meta.security` holds a label with this system and code (any display).
pub fn has_label(resource: &Value, system: &str, code: &str) -> bool {
    security(resource).is_some_and(|labels| holds(labels, system, code))
}

fn security(resource: &Value) -> Option<&Vec<Value>> {
    match resource.get("meta")?.get("security")? {
        Value::Array(labels) => Some(labels),
        _ => None,
    }
}

fn holds(labels: &[Value], system: &str, code: &str) -> bool {
    labels.iter().any(|label| {
        label.get("system").and_then(Value::as_str) == Some(system)
            && label.get("code").and_then(Value::as_str) == Some(code)
    })
}

/// Adds the labels of `wanted` that are not held yet; returns how many were added.
pub(crate) fn add_labels(resource: &mut Value, wanted: LabelSet) -> usize {
    let Value::Object(resource) = resource else {
        return 0;
    };
    // Refuse odd shapes before changing anything: a `meta` that is not an object, or a
    // `meta.security` that is not an array, is not ours to repair.
    let held: &[Value] = match resource.get("meta") {
        None => &[],
        Some(Value::Object(meta)) => match meta.get("security") {
            None => &[],
            Some(Value::Array(labels)) => labels,
            Some(_) => return 0,
        },
        Some(_) => return 0,
    };
    let missing: Vec<Value> = wanted
        .iter()
        .map(|l| l.security_label())
        .filter(|l| !holds(held, l.system, l.code))
        .map(|l| l.to_coding())
        .collect();
    if missing.is_empty() {
        return 0;
    }
    let added = missing.len();
    let Value::Array(labels) = security_mut(meta_mut(resource)) else {
        unreachable!("shape checked above");
    };
    labels.extend(missing);
    added
}

/// `meta`, created right after `id` (or `resourceType`) when absent: FHIR's element order.
fn meta_mut(resource: &mut Map<String, Value>) -> &mut Map<String, Value> {
    if !resource.contains_key("meta") {
        let at = ["id", "resourceType"]
            .iter()
            .find_map(|k| resource.keys().position(|key| key.as_str() == *k))
            .map_or(0, |i| i + 1);
        resource.shift_insert(at, "meta".into(), Value::Object(Map::new()));
    }
    match resource.get_mut("meta") {
        Some(Value::Object(meta)) => meta,
        _ => unreachable!("meta is an object: checked or just created"),
    }
}

/// `meta.security`, created before `tag` (its place in FHIR's element order) or last.
fn security_mut(meta: &mut Map<String, Value>) -> &mut Value {
    if !meta.contains_key("security") {
        let at = meta.keys().position(|k| k == "tag").unwrap_or(meta.len());
        meta.shift_insert(at, "security".into(), Value::Array(Vec::new()));
    }
    meta.get_mut("security").expect("just ensured")
}
