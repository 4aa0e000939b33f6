//! Which codings of a resource are read: a fixed, documented set of elements (see the crate
//! documentation), never a walk of the whole tree. Every object is scanned once, key by key: a
//! resource's elements are few, and matching a key name is cheaper than hashing it.

use serde_json::{Map, Value};

/// Elements of a resource that hold a CodeableConcept, a list of them, or a Coding.
fn is_coded_element(key: &str) -> bool {
    matches!(
        key,
        "code"
            | "category"
            | "type"
            | "class"
            | "reasonCode"
            | "valueCodeableConcept"
            | "medicationCodeableConcept"
            | "vaccineCode"
            | "serviceType"
            | "conclusionCode"
    )
}

/// Calls `f(system, code)` for every coding of the read elements of `resource` and of its
/// `contained` resources.
pub(crate) fn for_each_coding<'a>(resource: &'a Value, f: &mut impl FnMut(&'a str, &'a str)) {
    if let Value::Object(resource) = resource {
        visit_resource(resource, true, f);
    }
}

fn visit_resource<'a>(
    resource: &'a Map<String, Value>,
    top_level: bool,
    f: &mut impl FnMut(&'a str, &'a str),
) {
    for (key, value) in resource {
        match key.as_str() {
            k if is_coded_element(k) => concept(value, f),
            "component" => backbone(value, &["code", "valueCodeableConcept"], f),
            "diagnosis" => backbone(value, &["diagnosisCodeableConcept"], f),
            "procedure" => backbone(value, &["procedureCodeableConcept"], f),
            "item" => backbone(value, &["productOrService"], f),
            "activity" => each_object(value, |activity| {
                if let Some(detail) = activity.get("detail") {
                    backbone(detail, &["code", "reasonCode"], f);
                }
            }),
            // A contained resource cannot contain others (FHIR rule dom-2): one level only.
            "contained" if top_level => each_object(value, |r| visit_resource(r, false, f)),
            _ => {}
        }
    }
}

/// Calls `g` on the value if it is an object, or on each object of the value if it is a list.
fn each_object<'a>(value: &'a Value, mut g: impl FnMut(&'a Map<String, Value>)) {
    match value {
        Value::Object(o) => g(o),
        Value::Array(items) => {
            for item in items {
                if let Value::Object(o) = item {
                    g(o);
                }
            }
        }
        _ => {}
    }
}

/// Backbone elements (one or a list), of which the `children` are coded elements.
fn backbone<'a>(value: &'a Value, children: &[&str], f: &mut impl FnMut(&'a str, &'a str)) {
    each_object(value, |element| {
        for (key, child) in element {
            if children.contains(&key.as_str()) {
                concept(child, f);
            }
        }
    });
}

/// A CodeableConcept (its `coding` list) or a bare Coding, or a list of either: one pass over
/// each object serves both shapes.
fn concept<'a>(value: &'a Value, f: &mut impl FnMut(&'a str, &'a str)) {
    each_object(value, |object| {
        let (mut system, mut code) = (None, None);
        for (key, v) in object {
            match (key.as_str(), v) {
                ("coding", _) => each_object(v, |coding| coding_pair(coding, f)),
                ("system", Value::String(s)) => system = Some(s.as_str()),
                ("code", Value::String(c)) => code = Some(c.as_str()),
                _ => {}
            }
        }
        if let (Some(system), Some(code)) = (system, code) {
            f(system, code);
        }
    });
}

/// The `system` and `code` of a Coding, when both are strings. A code without a system cannot be
/// told apart from the same code in another system, so it is not read.
fn coding_pair<'a>(coding: &'a Map<String, Value>, f: &mut impl FnMut(&'a str, &'a str)) {
    let (mut system, mut code) = (None, None);
    for (key, value) in coding {
        match (key.as_str(), value) {
            ("system", Value::String(s)) => system = Some(s.as_str()),
            ("code", Value::String(c)) => code = Some(c.as_str()),
            _ => {}
        }
    }
    if let (Some(system), Some(code)) = (system, code) {
        f(system, code);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn codings(resource: &Value) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for_each_coding(resource, &mut |s, c| out.push((s.to_owned(), c.to_owned())));
        out
    }

    #[test]
    fn reads_the_documented_elements_only() {
        let resource = json!({
            "resourceType": "Observation",
            "meta": {"security": [{"system": "s", "code": "meta"}], "tag": [{"system": "s", "code": "tag"}]},
            "text": {"div": "<div>F32.9</div>"},
            "extension": [{"url": "u", "valueCodeableConcept": {"coding": [{"system": "s", "code": "ext"}]}}],
            "identifier": [{"system": "s", "value": "id"}],
            "code": {"coding": [{"system": "s", "code": "code"}, {"code": "no-system"}, {"system": "s"}]},
            "category": [{"coding": [{"system": "s", "code": "category"}]}],
            "class": {"system": "s", "code": "class"},
            "component": [
                {"code": {"coding": [{"system": "s", "code": "component"}]},
                 "valueCodeableConcept": {"coding": [{"system": "s", "code": "component-value"}]},
                 "interpretation": [{"coding": [{"system": "s", "code": "interpretation"}]}]}
            ],
            "item": [{"productOrService": {"coding": [{"system": "s", "code": "product"}]}}],
            "activity": [{"detail": {"code": {"coding": [{"system": "s", "code": "activity"}]}}}],
            "contained": [
                {"resourceType": "Medication", "code": {"coding": [{"system": "s", "code": "contained"}]},
                 "contained": [{"code": {"coding": [{"system": "s", "code": "nested"}]}}]}
            ],
            "bodySite": {"coding": [{"system": "s", "code": "body-site"}]},
            "valueString": "F32.9"
        });
        let got: Vec<String> = codings(&resource).into_iter().map(|(_, c)| c).collect();
        assert_eq!(
            got,
            [
                "code",
                "category",
                "class",
                "component",
                "component-value",
                "product",
                "activity",
                "contained"
            ]
        );
    }

    #[test]
    fn odd_shapes_are_skipped() {
        for resource in [
            json!(null),
            json!("Condition"),
            json!([{"code": {"coding": [{"system": "s", "code": "c"}]}}]),
            json!({"code": "F32.9", "type": 3, "component": "x", "contained": {"code": 1}}),
            json!({"code": {"coding": {"system": "s", "code": 5}}}),
        ] {
            let got = codings(&resource);
            assert!(got.is_empty(), "{resource}: {got:?}");
        }
    }
}
