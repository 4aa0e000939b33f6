//! `Reference.reference` strings: what they point at, and rewriting them.

use serde_json::Value;

use crate::ids::looks_like_type_name;

/// What a reference string points at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target<'a> {
    /// `Type/id` or `Type/id/_history/v`, possibly behind a base URL.
    Resource { resource_type: &'a str, id: &'a str },
    /// `urn:uuid:…` or `urn:oid:…`: meaningful only inside the Bundle that defines it.
    Urn(&'a str),
    /// `Type?search`: a conditional reference, resolved by searching.
    Conditional {
        resource_type: &'a str,
        query: &'a str,
    },
    /// `#id`: a contained resource.
    Contained(&'a str),
    /// Anything else (a URL that is not a FHIR resource location).
    Other(&'a str),
}

/// Classify a reference string.
pub fn parse(reference: &str) -> Target<'_> {
    if let Some(local) = reference.strip_prefix('#') {
        return Target::Contained(local);
    }
    if reference.starts_with("urn:") {
        return Target::Urn(reference);
    }
    if let Some((path, query)) = reference.split_once('?') {
        if looks_like_type_name(path) {
            return Target::Conditional {
                resource_type: path,
                query,
            };
        }
        return Target::Other(reference);
    }
    let path = match reference.find("/_history/") {
        Some(at) => &reference[..at],
        None => reference,
    };
    let mut parts = path.rsplitn(3, '/');
    match (parts.next(), parts.next()) {
        (Some(id), Some(resource_type))
            if looks_like_type_name(resource_type) && !id.is_empty() =>
        {
            Target::Resource { resource_type, id }
        }
        _ => Target::Other(reference),
    }
}

/// Visit every `Reference.reference` string in a resource, mutably. Contained resources are
/// visited too: their references point into the same Bundle or store.
pub fn for_each_reference_mut(value: &mut Value, visit: &mut dyn FnMut(&mut String)) {
    match value {
        Value::Object(map) => {
            for (key, child) in map.iter_mut() {
                match child {
                    Value::String(s) if key == "reference" => visit(s),
                    Value::Object(_) | Value::Array(_) => for_each_reference_mut(child, visit),
                    _ => {}
                }
            }
        }
        Value::Array(items) => {
            for item in items {
                for_each_reference_mut(item, visit);
            }
        }
        _ => {}
    }
}

/// Visit every `Reference.reference` string, with the element path it sits at.
pub fn for_each_reference<'a>(
    value: &'a Value,
    path: &mut String,
    visit: &mut dyn FnMut(&str, &'a str),
) {
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                let len = path.len();
                path.push('.');
                path.push_str(key);
                match child {
                    Value::String(s) if key == "reference" => visit(path, s),
                    Value::Object(_) | Value::Array(_) => for_each_reference(child, path, visit),
                    _ => {}
                }
                path.truncate(len);
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                let len = path.len();
                path.push_str(&format!("[{i}]"));
                for_each_reference(item, path, visit);
                path.truncate(len);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn classifies_reference_forms() {
        assert_eq!(
            parse("Patient/123"),
            Target::Resource {
                resource_type: "Patient",
                id: "123"
            }
        );
        assert_eq!(
            parse("https://ex.org/fhir/Patient/123/_history/2"),
            Target::Resource {
                resource_type: "Patient",
                id: "123"
            }
        );
        assert_eq!(parse("urn:uuid:abc"), Target::Urn("urn:uuid:abc"));
        assert_eq!(
            parse("Practitioner?identifier=http://hl7.org/fhir/sid/us-npi|999"),
            Target::Conditional {
                resource_type: "Practitioner",
                query: "identifier=http://hl7.org/fhir/sid/us-npi|999"
            }
        );
        assert_eq!(parse("#med1"), Target::Contained("med1"));
        assert_eq!(parse("nonsense"), Target::Other("nonsense"));
        assert_eq!(parse("patient/1"), Target::Other("patient/1"));
    }

    #[test]
    fn rewrites_nested_references() {
        let mut v = json!({
            "resourceType": "Observation",
            "subject": {"reference": "urn:uuid:1"},
            "performer": [{"reference": "urn:uuid:2"}, {"display": "x"}],
            "note": [{"text": "reference"}]
        });
        for_each_reference_mut(&mut v, &mut |r| {
            if r == "urn:uuid:1" {
                *r = "Patient/p1".into();
            }
        });
        assert_eq!(v["subject"]["reference"], "Patient/p1");
        assert_eq!(v["performer"][0]["reference"], "urn:uuid:2");
        let mut seen = Vec::new();
        for_each_reference(&v, &mut "Observation".to_string(), &mut |p, r| {
            seen.push((p.to_string(), r.to_string()))
        });
        assert_eq!(
            seen,
            vec![
                ("Observation.subject.reference".into(), "Patient/p1".into()),
                (
                    "Observation.performer[0].reference".into(),
                    "urn:uuid:2".into()
                )
            ]
        );
    }
}
