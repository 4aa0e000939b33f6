//! Shared helpers: fixtures, consents, and building a context as the server does.

#![allow(dead_code)]

use std::path::PathBuf;

use chrono::{DateTime, TimeZone, Utc};
use salus_consent::DefaultDecision;
use salus_context::{
    ContextOptions, Disclosed, DisclosurePolicy, DisclosureRequest, LlmContext, Refusal, Tokenizer,
};
use serde_json::{json, Value};

pub const ASSISTANT: &str = "Device/salus-llm-assistant";

pub fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 1, 12, 0, 0).unwrap()
}

/// `../shared/fixtures/external/<rel>`, or `None` (with the reason printed) when absent.
pub fn external(rel: &str) -> Option<PathBuf> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/fixtures/external")
        .join(rel);
    if path.exists() {
        Some(path)
    } else {
        eprintln!(
            "skipped: {} is absent (the shared fixtures are not on this machine)",
            path.display()
        );
        None
    }
}

/// Label a resource as ingest does.
pub fn labelled(mut resource: Value) -> Value {
    salus_labels::Labeller::builtin().apply(&mut resource);
    resource
}

/// An opt-in privacy Consent permitting the assistant for treatment, with optional nested
/// provisions.
pub fn opt_in(patient: &str, id: &str, nested: Vec<Value>) -> Value {
    let mut provision = json!({
        "type": "permit",
        "actor": [{
            "role": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType", "code": "IRCP"}]},
            "reference": {"reference": ASSISTANT}
        }],
        "purpose": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActReason", "code": "TREAT"}]
    });
    if !nested.is_empty() {
        provision["provision"] = Value::Array(nested);
    }
    json!({
        "resourceType": "Consent",
        "id": id,
        "status": "active",
        "scope": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/consentscope", "code": "patient-privacy"}]},
        "category": [{"coding": [{"system": "http://loinc.org", "code": "59284-0"}]}],
        "patient": {"reference": format!("Patient/{patient}")},
        "dateTime": "2020-01-01",
        "policyRule": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "OPTIN"}]},
        "provision": provision
    })
}

/// A nested deny of one security label.
pub fn deny_label(code: &str) -> Value {
    json!({"type": "deny", "securityLabel": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": code}]})
}

pub fn disclose(resources: Vec<Value>, patient: &str) -> Result<Disclosed, Refusal> {
    salus_context::disclose(
        resources,
        &DisclosureRequest {
            patient_id: patient,
            recipient: ASSISTANT,
            purpose: "TREAT",
            as_of: now(),
        },
        &DisclosurePolicy {
            default: DefaultDecision::Deny,
            ..DisclosurePolicy::default()
        },
    )
}

pub fn options(patient: &str, max_tokens: usize) -> ContextOptions {
    ContextOptions {
        patient: format!("Patient/{patient}"),
        purpose: "TREAT".into(),
        max_tokens,
        tokenizer: Tokenizer::O200kBase,
        now: now(),
        include_name: false,
        relative_dates: false,
    }
}

pub fn context(disclosed: &Disclosed, patient: &str, max_tokens: usize) -> LlmContext {
    salus_context::llm_context(disclosed, &options(patient, max_tokens)).expect("context builds")
}

/// Every resource of a FHIR Bundle file, labelled.
pub fn bundle_resources(path: &std::path::Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).expect("bundle readable");
    let bundle: Value = serde_json::from_str(&text).expect("bundle parses");
    bundle["entry"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e.get("resource").cloned())
        .map(labelled)
        .collect()
}

/// Every cite of a context.
pub fn cites(context: &LlmContext) -> Vec<String> {
    context
        .sections
        .iter()
        .flat_map(|s| s.items.iter().flat_map(|i| i.cite.iter().cloned()))
        .collect()
}

pub fn reference(r: &Value) -> String {
    format!(
        "{}/{}",
        r["resourceType"].as_str().unwrap_or_default(),
        r["id"].as_str().unwrap_or_default()
    )
}

pub fn has_label(r: &Value, code: &str) -> bool {
    r.pointer("/meta/security")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .any(|l| l["code"] == code)
}

/// The user message, where the facts are.
pub fn user_text(context: &LlmContext) -> String {
    context
        .messages
        .iter()
        .map(|m| m.content.clone())
        .collect::<Vec<_>>()
        .join("\n")
}
