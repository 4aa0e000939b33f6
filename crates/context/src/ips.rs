//! The International Patient Summary (HL7 IPS, over FHIR R4): a `document` Bundle whose first
//! entry is a Composition with the IPS sections, each with a generated narrative and references
//! to the disclosed resources that follow it in the Bundle.

use std::collections::HashSet;

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{json, Value};

use crate::disclose::Disclosed;
use crate::json::{reference_of, str_at};
use crate::sections::{self, Clock, Record};

/// The IPS's own identity and where its entries live.
#[derive(Debug, Clone)]
pub struct IpsOptions {
    pub now: DateTime<Utc>,
    /// The Bundle's and the Composition's id (a UUID the caller draws).
    pub document_id: String,
    /// The FHIR base the entries' `fullUrl`s are under (`https://host/fhir`), so that the
    /// resources' relative references resolve inside the document.
    pub base: String,
}

/// The Device that authors generated summaries.
pub const AUTHOR_DEVICE_ID: &str = "salus-summary-generator";

struct IpsSection {
    title: &'static str,
    code: &'static str,
    display: &'static str,
    /// Problems, medications and allergies are required: present even when empty.
    required: bool,
    entries: Vec<(String, String)>,
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn narrative(entries: &[(String, String)]) -> String {
    if entries.is_empty() {
        return r#"<div xmlns="http://www.w3.org/1999/xhtml"><p>No information available.</p></div>"#
            .to_owned();
    }
    let items: String = entries
        .iter()
        .map(|(_, text)| format!("<li>{}</li>", escape(text)))
        .collect();
    format!(r#"<div xmlns="http://www.w3.org/1999/xhtml"><ul>{items}</ul></div>"#)
}

/// Build the IPS document from what was disclosed.
pub fn ips(disclosed: &Disclosed, options: &IpsOptions) -> Value {
    let clock = Clock {
        now: options.now,
        relative_only: false,
    };
    let record = Record::new(&disclosed.resources);
    let chosen = sections::ips_entries(&record, clock);
    let spec: [(&str, &str, &str, bool, &str); 8] = [
        (
            "Problems",
            "11450-4",
            "Problem list - Reported",
            true,
            "problems",
        ),
        (
            "Medication Summary",
            "10160-0",
            "History of Medication use Narrative",
            true,
            "medications",
        ),
        (
            "Allergies and Intolerances",
            "48765-2",
            "Allergies and adverse reactions Document",
            true,
            "allergies",
        ),
        (
            "Results",
            "30954-2",
            "Relevant diagnostic tests/laboratory data Narrative",
            false,
            "results",
        ),
        (
            "Immunizations",
            "11369-6",
            "History of Immunization Narrative",
            false,
            "immunizations",
        ),
        (
            "History of Procedures",
            "47519-4",
            "History of Procedures Document",
            false,
            "procedures",
        ),
        ("Vital Signs", "8716-3", "Vital signs", false, "vitals"),
        (
            "Social History",
            "29762-2",
            "Social history Narrative",
            false,
            "social",
        ),
    ];
    let sections: Vec<IpsSection> = spec
        .iter()
        .map(|(title, code, display, required, key)| IpsSection {
            title,
            code,
            display,
            required: *required,
            entries: chosen
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, e)| e.clone())
                .unwrap_or_default(),
        })
        .filter(|s| s.required || !s.entries.is_empty())
        .collect();

    let patient_ref = record
        .patient
        .and_then(reference_of)
        .unwrap_or_else(|| "Patient/unknown".to_owned());
    let date = options.now.to_rfc3339_opts(SecondsFormat::Secs, true);
    let author = format!("Device/{AUTHOR_DEVICE_ID}");
    let composition_sections: Vec<Value> = sections
        .iter()
        .map(|s| {
            let mut section = json!({
                "title": s.title,
                "code": {"coding": [{"system": "http://loinc.org", "code": s.code, "display": s.display}]},
                "text": {"status": "generated", "div": narrative(&s.entries)},
            });
            if s.entries.is_empty() {
                section["emptyReason"] = json!({"coding": [{
                    "system": "http://terminology.hl7.org/CodeSystem/list-empty-reason",
                    "code": "unavailable",
                    "display": "Unavailable"
                }]});
            } else {
                section["entry"] = Value::Array(
                    s.entries
                        .iter()
                        .map(|(reference, _)| json!({"reference": reference}))
                        .collect(),
                );
            }
            section
        })
        .collect();
    let composition = json!({
        "resourceType": "Composition",
        "id": options.document_id,
        "status": "final",
        "type": {"coding": [{"system": "http://loinc.org", "code": "60591-5", "display": "Patient summary Document"}]},
        "subject": {"reference": patient_ref},
        "date": date,
        "author": [{"reference": author}],
        "title": "International Patient Summary",
        "confidentiality": "N",
        "section": composition_sections,
    });
    let device = json!({
        "resourceType": "Device",
        "id": AUTHOR_DEVICE_ID,
        "deviceName": [{"name": "Salus summary generator", "type": "manufacturer-name"}],
    });

    let full_url = |reference: &str| format!("{}/{reference}", options.base.trim_end_matches('/'));
    let mut entries = vec![json!({
        "fullUrl": full_url(&format!("Composition/{}", options.document_id)),
        "resource": composition,
    })];
    let mut included = HashSet::new();
    let mut add = |resource: &Value, entries: &mut Vec<Value>| {
        if let Some(reference) = reference_of(resource) {
            if included.insert(reference.clone()) {
                entries.push(json!({"fullUrl": full_url(&reference), "resource": resource}));
            }
        }
    };
    if let Some(p) = record.patient {
        add(p, &mut entries);
    }
    let wanted: HashSet<&str> = sections
        .iter()
        .flat_map(|s| s.entries.iter().map(|(r, _)| r.as_str()))
        .collect();
    for resource in &disclosed.resources {
        if reference_of(resource).is_some_and(|r| wanted.contains(r.as_str())) {
            add(resource, &mut entries);
        }
    }
    add(&device, &mut entries);
    json!({
        "resourceType": "Bundle",
        "id": options.document_id,
        "identifier": {"system": "urn:ietf:rfc:3986", "value": format!("urn:uuid:{}", options.document_id)},
        "type": "document",
        "timestamp": date,
        "entry": entries,
    })
}

/// The resources a document states: every entry but its Composition and authoring Device.
pub fn ips_references(bundle: &Value) -> Vec<String> {
    bundle
        .get("entry")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|e| e.get("resource"))
        .filter(|r| {
            let generated = match str_at(r, "resourceType") {
                Some("Composition") => true,
                Some("Device") => str_at(r, "id") == Some(AUTHOR_DEVICE_ID),
                _ => false,
            };
            !generated
        })
        .filter_map(reference_of)
        .collect()
}
