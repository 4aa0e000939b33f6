//! Shared helpers for the integration tests.
#![allow(dead_code)]

use chrono::{DateTime, Utc};
use salus_consent::{
    evaluate, Basis, Coding, Decision, DefaultDecision, Evaluation, Request, ResourceFacts,
};
use serde_json::{json, Value};

pub const V3_ACT_CODE: &str = "http://terminology.hl7.org/CodeSystem/v3-ActCode";
pub const LLM: &str = "Device/salus-llm-assistant";

pub fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .expect("test timestamp")
        .with_timezone(&Utc)
}

/// A request with the usual defaults: action `access`, no roles.
pub struct Ask<'a> {
    pub patient: &'a str,
    pub actor: &'a str,
    pub purpose: &'a str,
    pub action: &'a str,
    pub roles: &'a [Coding],
    pub as_of: &'a str,
}

impl<'a> Ask<'a> {
    pub fn new(patient: &'a str, actor: &'a str, purpose: &'a str, as_of: &'a str) -> Self {
        Ask {
            patient,
            actor,
            purpose,
            action: "access",
            roles: &[],
            as_of,
        }
    }

    pub fn action(mut self, action: &'a str) -> Self {
        self.action = action;
        self
    }

    pub fn roles(mut self, roles: &'a [Coding]) -> Self {
        self.roles = roles;
        self
    }

    pub fn eval(&self, consents: &[Value], default: DefaultDecision) -> Evaluation {
        let request = Request {
            patient: self.patient,
            actor: self.actor,
            actor_roles: self.roles,
            purpose: self.purpose,
            action: self.action,
            as_of: at(self.as_of),
        };
        evaluate(consents, &request, default)
    }
}

pub fn basis(consent: &str, path: &str) -> Basis {
    Basis::Consent {
        consent: consent.to_owned(),
        path: path.to_owned(),
    }
}

#[track_caller]
pub fn assert_decision(d: &Decision, permit: bool, expected: &Basis) {
    assert_eq!(d.permit, permit, "permit; reason: {}", d.reason());
    assert_eq!(&d.basis, expected, "basis; reason: {}", d.reason());
}

pub fn facts(resource: Value) -> ResourceFacts {
    ResourceFacts::from_resource(&resource)
}

/// A resource of the given type, optionally with v3-ActCode security labels.
pub fn resource(ty: &str, id: &str, labels: &[&str]) -> ResourceFacts {
    let security: Vec<Value> = labels
        .iter()
        .map(|l| json!({"system": V3_ACT_CODE, "code": l}))
        .collect();
    facts(
        json!({"resourceType": ty, "id": id, "meta": {"security": security}, "subject": {"reference": "Patient/pat-1"}}),
    )
}

/// An active patient-privacy consent for `Patient/pat-1`, recorded 2024-01-01, with the given
/// v3-ActCode policy code (`None`: no policyRule) and root provision (`Value::Null`: none).
pub fn consent(id: &str, policy: Option<&str>, provision: Value) -> Value {
    let mut c = json!({
        "resourceType": "Consent",
        "id": id,
        "status": "active",
        "scope": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/consentscope", "code": "patient-privacy"}]},
        "category": [{"coding": [{"system": "http://loinc.org", "code": "59284-0"}]}],
        "patient": {"reference": "Patient/pat-1", "display": "PHI_SENTINEL Jane Doe"},
        "dateTime": "2024-01-01T09:00:00Z",
    });
    if let Some(code) = policy {
        c["policyRule"] = json!({"coding": [{"system": V3_ACT_CODE, "code": code}]});
    }
    if !provision.is_null() {
        c["provision"] = provision;
    }
    c
}

pub fn actor(reference: &str) -> Value {
    json!({
        "role": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType", "code": "IRCP"}]},
        "reference": {"reference": reference, "display": "PHI_SENTINEL someone"}
    })
}

pub fn purpose(code: &str) -> Value {
    json!({"system": "http://terminology.hl7.org/CodeSystem/v3-ActReason", "code": code})
}

pub fn label(code: &str) -> Value {
    json!({"system": V3_ACT_CODE, "code": code})
}

pub fn class(ty: &str) -> Value {
    json!({"system": "http://hl7.org/fhir/resource-types", "code": ty})
}
