//! What a provision can match on one resource, extracted once per resource.

use serde_json::Value;

use crate::fhir::{codings_of, is_fhir_id, reference_of, Coding};
use crate::time::{parse_period, parse_time, TimeRange};

/// Elements whose codings are the resource's "codes" for `provision.code`, in the order read.
/// These are the elements that say *what the data is about*; `reasonCode`, `bodySite`,
/// `valueCodeableConcept` and the like are deliberately not included.
pub const CODE_ELEMENTS: &[&str] = &[
    "code", // Observation, Condition, Procedure, ServiceRequest, DiagnosticReport, ...
    "medicationCodeableConcept", // MedicationRequest, MedicationStatement, MedicationAdministration, ...
    "vaccineCode",               // Immunization
    "type",                      // DocumentReference, Composition, Encounter, ...
    "category",                  // Observation, Condition, DocumentReference, CarePlan, ...
    "class",                     // Encounter (a Coding)
];

/// Elements read, in this order, for the resource's clinical time (`provision.dataPeriod`).
/// The first one present decides; if it is unreadable the time is unknown (later elements are
/// not consulted, because they usually mean something else, e.g. `issued` vs `effective`).
pub const TIME_ELEMENTS: &[&str] = &[
    "effectiveDateTime",
    "effectiveInstant",
    "effectivePeriod",
    "onsetDateTime",
    "onsetPeriod",
    "performedDateTime",
    "performedPeriod",
    "occurrenceDateTime",
    "occurrencePeriod",
    "authoredOn",
    "authored",
    "recordedDate",
    "period",
    "issued",
    "date",
    "created",
];

/// Upper bounds for walking a resource in search of references (no recursion; bounded work).
const MAX_WALK_DEPTH: usize = 64;
const MAX_WALK_NODES: usize = 100_000;

/// The facts about one resource that consent provisions can match on.
///
/// Built with [`ResourceFacts::from_resource`], or by hand when the caller already has them
/// (e.g. from index columns).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ResourceFacts {
    /// `resourceType`, matched by `provision.class` (system `http://hl7.org/fhir/resource-types`
    /// or no system). `None` when missing or not a resource-type name.
    pub resource_type: Option<String>,
    /// `Type/id`, matched by `provision.data.reference`. `None` without a valid id.
    pub reference: Option<String>,
    /// `meta.security`, matched by `provision.securityLabel`.
    pub security_labels: Vec<Coding>,
    /// Codings of the [`CODE_ELEMENTS`], matched by `provision.code`.
    pub codes: Vec<Coding>,
    /// Attachment MIME types (`content[].attachment.contentType` on DocumentReference,
    /// `content.contentType` on Media, `presentedForm[].contentType`, Binary `contentType`),
    /// matched by a `provision.class` coded in `urn:ietf:bcp:13`.
    pub content_types: Vec<String>,
    /// Every literal `reference` inside the resource, for `provision.data` with meaning
    /// `related` (the resource refers to the named one).
    pub references: Vec<String>,
    /// The clinical time from [`TIME_ELEMENTS`], matched by `provision.dataPeriod`. `None` when
    /// unknown.
    pub clinical_time: Option<TimeRange>,
}

impl ResourceFacts {
    /// Extract the facts from a FHIR R4 resource. Never fails: what cannot be read is left
    /// empty (and an empty fact can never satisfy a *permit* condition that needs it).
    /// The facts `evaluation` can use: as [`ResourceFacts::from_resource`], without the
    /// resource's references when no applicable provision matches on `data` (walking every
    /// element for them was most of the cost of deciding for a large record).
    pub fn for_evaluation(resource: &Value, evaluation: &crate::Evaluation) -> ResourceFacts {
        Self::gather(resource, evaluation.needs_references())
    }

    pub fn from_resource(resource: &Value) -> ResourceFacts {
        Self::gather(resource, true)
    }

    fn gather(resource: &Value, with_references: bool) -> ResourceFacts {
        let resource_type = resource
            .get("resourceType")
            .and_then(Value::as_str)
            .filter(|t| {
                t.chars().next().is_some_and(|c| c.is_ascii_uppercase())
                    && t.chars().all(|c| c.is_ascii_alphanumeric())
            })
            .map(str::to_owned);
        let reference = match (&resource_type, resource.get("id").and_then(Value::as_str)) {
            (Some(t), Some(id)) if is_fhir_id(id) => Some(format!("{t}/{id}")),
            _ => None,
        };
        let security_labels = match resource.get("meta").and_then(|m| m.get("security")) {
            Some(Value::Array(labels)) => labels.iter().filter_map(crate::fhir::coding).collect(),
            _ => Vec::new(),
        };
        let mut codes = Vec::new();
        for element in CODE_ELEMENTS {
            match resource.get(*element) {
                Some(Value::Array(items)) => items.iter().for_each(|c| codes.extend(codings_of(c))),
                Some(v) => codes.extend(codings_of(v)),
                None => {}
            }
        }
        ResourceFacts {
            resource_type,
            reference,
            security_labels,
            codes,
            content_types: content_types(resource),
            references: if with_references {
                references(resource)
            } else {
                Vec::new()
            },
            clinical_time: clinical_time(resource),
        }
    }
}

fn content_types(resource: &Value) -> Vec<String> {
    let mut out = Vec::new();
    let mut push = |v: Option<&Value>| {
        if let Some(t) = v.and_then(Value::as_str) {
            out.push(t.to_owned());
        }
    };
    push(resource.get("contentType"));
    match resource.get("content") {
        Some(Value::Array(items)) => items
            .iter()
            .for_each(|c| push(c.get("attachment").and_then(|a| a.get("contentType")))),
        Some(attachment) => push(attachment.get("contentType")),
        None => {}
    }
    if let Some(Value::Array(forms)) = resource.get("presentedForm") {
        forms.iter().for_each(|f| push(f.get("contentType")));
    }
    out
}

/// Every `reference` string in the resource, found with an explicit stack.
fn references(resource: &Value) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![(resource, 0usize)];
    let mut visited = 0usize;
    while let Some((v, depth)) = stack.pop() {
        visited += 1;
        if visited > MAX_WALK_NODES || depth > MAX_WALK_DEPTH {
            continue;
        }
        match v {
            Value::Object(map) => {
                if let Some(r) = reference_of(v) {
                    out.push(r.to_owned());
                }
                stack.extend(map.values().map(|c| (c, depth + 1)));
            }
            Value::Array(items) => stack.extend(items.iter().map(|c| (c, depth + 1))),
            _ => {}
        }
    }
    out
}

fn clinical_time(resource: &Value) -> Option<TimeRange> {
    let (element, value) = TIME_ELEMENTS
        .iter()
        .find_map(|e| resource.get(*e).map(|v| (*e, v)))?;
    if element.ends_with("Period") || element == "period" {
        let p = parse_period(value).ok()?;
        // A period with neither bound says nothing about when the data is from.
        (p.start.is_some() || p.end.is_some()).then_some(p)
    } else {
        let t = parse_time(value.as_str()?)?;
        Some(TimeRange {
            start: Some(t.lo),
            end: Some(t.hi),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn observation_facts() {
        let f = ResourceFacts::from_resource(&json!({
            "resourceType": "Observation", "id": "phq9",
            "meta": {"security": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "PSY"}]},
            "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "survey"}]}],
            "code": {"coding": [{"system": "http://loinc.org", "code": "44261-6"}], "text": "PHQ-9"},
            "subject": {"reference": "Patient/pat-1"},
            "effectiveDateTime": "2024-03-01"
        }));
        assert_eq!(f.resource_type.as_deref(), Some("Observation"));
        assert_eq!(f.reference.as_deref(), Some("Observation/phq9"));
        assert_eq!(
            f.security_labels,
            vec![Coding::new(
                "http://terminology.hl7.org/CodeSystem/v3-ActCode",
                "PSY"
            )]
        );
        assert!(f
            .codes
            .contains(&Coding::new("http://loinc.org", "44261-6")));
        assert!(f.codes.contains(&Coding::new(
            "http://terminology.hl7.org/CodeSystem/observation-category",
            "survey"
        )));
        assert_eq!(f.references, vec!["Patient/pat-1".to_owned()]);
        assert!(f.clinical_time.is_some());
    }

    #[test]
    fn document_and_encounter_facts() {
        let d = ResourceFacts::from_resource(&json!({
            "resourceType": "DocumentReference", "id": "d1",
            "type": {"coding": [{"system": "http://loinc.org", "code": "11488-4"}]},
            "content": [{"attachment": {"contentType": "text/plain"}}],
            "date": "2024-03-01T10:00:00Z"
        }));
        assert_eq!(d.content_types, vec!["text/plain".to_owned()]);
        assert!(d
            .codes
            .contains(&Coding::new("http://loinc.org", "11488-4")));
        let e = ResourceFacts::from_resource(&json!({
            "resourceType": "Encounter", "id": "e1",
            "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
            "period": {"start": "2024-03-01T10:00:00Z"}
        }));
        assert!(e.codes.contains(&Coding::new(
            "http://terminology.hl7.org/CodeSystem/v3-ActCode",
            "AMB"
        )));
        assert_eq!(e.clinical_time.unwrap().end, None);
    }

    #[test]
    fn junk_gives_empty_facts() {
        for v in [
            json!(null),
            json!([1, 2]),
            json!({"resourceType": 3, "id": {}, "meta": "x", "code": 7, "effectiveDateTime": "soon"}),
        ] {
            let f = ResourceFacts::from_resource(&v);
            assert_eq!(f.resource_type, None);
            assert!(f.codes.is_empty() && f.clinical_time.is_none());
        }
    }
}
