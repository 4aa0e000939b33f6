//! What may be disclosed: the patient's Consents decide per resource, and specially protected
//! records (42 CFR Part 2 substance-use records, psychotherapy notes) need a permit that names
//! their label.

use salus_consent::{Basis, Decision, DefaultDecision, Evaluation, Request, ResourceFacts};
use salus_labels::{has_label, ACT_CODE, CFR_42_PART_2, ETH, PSYTHPN, SUD};
use serde_json::Value;

use crate::json::str_at;
use crate::parallel::map_in_two_halves;

/// Labels of which any one, named by a permit, releases the data they protect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtectedLabels {
    pub name: &'static str,
    pub codes: Vec<&'static str>,
}

/// How disclosure is decided beyond the Consents themselves.
#[derive(Debug, Clone)]
pub struct DisclosurePolicy {
    /// What decides when no Consent applies.
    pub default: DefaultDecision,
    /// Data released only when a permit names one of its labels. By default: substance-use
    /// records under 42 CFR Part 2 (which requires consent naming the recipient) and
    /// psychotherapy notes (which HIPAA sets apart from the rest of the record).
    pub protected: Vec<ProtectedLabels>,
}

impl Default for DisclosurePolicy {
    fn default() -> Self {
        DisclosurePolicy {
            default: DefaultDecision::Deny,
            protected: vec![
                ProtectedLabels {
                    name: "substance use (42 CFR Part 2)",
                    codes: vec![ETH, SUD, CFR_42_PART_2],
                },
                ProtectedLabels {
                    name: "psychotherapy notes",
                    codes: vec![PSYTHPN],
                },
            ],
        }
    }
}

/// Who asks, for whom, why, when.
#[derive(Debug, Clone)]
pub struct DisclosureRequest<'a> {
    pub patient_id: &'a str,
    /// The recipient as a reference (`Device/salus-llm-assistant`).
    pub recipient: &'a str,
    pub purpose: &'a str,
    pub as_of: chrono::DateTime<chrono::Utc>,
}

/// What was released.
#[derive(Debug, Clone)]
pub struct Disclosed {
    /// The permitted resources (the Patient among them when permitted).
    pub resources: Vec<Value>,
    /// The Consents the permission rests on (`Consent/ID`); empty when the configured default
    /// permitted.
    pub basis: Vec<String>,
    /// The basis with provision paths, for the audit trail.
    pub basis_detail: String,
    pub omitted_consent: usize,
    pub omitted_label: usize,
}

/// Why nothing may be disclosed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// For the 403 diagnostics and the CLI: names the deciding Consent, or says none is on file.
    pub reason: String,
    pub basis: Vec<String>,
}

/// Resource types that are never part of a summary: consent and audit records describe the
/// record, they are not clinical facts about the patient.
const NEVER_DISCLOSED: &[&str] = &["Consent", "Provenance", "AuditEvent"];

/// Decide what of a patient's compartment may be disclosed to the request's recipient.
pub fn disclose(
    compartment: Vec<Value>,
    request: &DisclosureRequest<'_>,
    policy: &DisclosurePolicy,
) -> Result<Disclosed, Refusal> {
    let (consents, others): (Vec<Value>, Vec<Value>) = compartment
        .into_iter()
        .partition(|r| str_at(r, "resourceType") == Some("Consent"));
    let evaluation = salus_consent::evaluate(
        &consents,
        &Request {
            patient: request.patient_id,
            actor: request.recipient,
            actor_roles: &[],
            purpose: request.purpose,
            action: "access",
            as_of: request.as_of,
        },
        policy.default,
    );
    let overall = evaluation.overall();
    if !overall.permit {
        return Err(Refusal {
            reason: overall.reason().to_owned(),
            basis: consents_of(overall),
        });
    }
    let basis = consents_of(overall);
    let basis_detail = bases_of(overall)
        .map(|b| b.to_string())
        .collect::<Vec<_>>()
        .join("; ");
    let others: Vec<Value> = others
        .into_iter()
        .filter(|r| str_at(r, "resourceType").is_some_and(|t| !NEVER_DISCLOSED.contains(&t)))
        .collect();
    let verdicts = verdicts(&evaluation, &others, policy);
    let mut resources = Vec::with_capacity(others.len());
    let (mut omitted_consent, mut omitted_label) = (0, 0);
    for (resource, verdict) in others.into_iter().zip(verdicts) {
        match verdict {
            Verdict::Release => resources.push(resource),
            Verdict::Consent => omitted_consent += 1,
            Verdict::Label => omitted_label += 1,
        }
    }
    Ok(Disclosed {
        resources,
        basis,
        basis_detail,
        omitted_consent,
        omitted_label,
    })
}

/// The deciding basis and those concurring with it.
fn bases_of(decision: &Decision) -> impl Iterator<Item = &Basis> {
    std::iter::once(&decision.basis).chain(decision.concurring.iter())
}

/// The Consents a decision rests on (`Consent/ID`), each once.
fn consents_of(decision: &Decision) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for basis in bases_of(decision) {
        if let Basis::Consent { consent, .. } = basis {
            if !out.contains(consent) {
                out.push(consent.clone());
            }
        }
    }
    out
}

/// Each resource's verdict, in order. A resource whose verdict could not be reached (a failed
/// thread) is withheld as by consent: never disclosed by mistake.
fn verdicts(
    evaluation: &Evaluation,
    resources: &[Value],
    policy: &DisclosurePolicy,
) -> Vec<Verdict> {
    map_in_two_halves(
        resources,
        |r| verdict(evaluation, r, policy),
        |_| Verdict::Consent,
    )
}

enum Verdict {
    Release,
    Consent,
    Label,
}

fn verdict(evaluation: &Evaluation, resource: &Value, policy: &DisclosurePolicy) -> Verdict {
    let decision = evaluation.decide(&ResourceFacts::for_evaluation(resource, evaluation));
    if !decision.permit {
        return Verdict::Consent;
    }
    for group in &policy.protected {
        let carries = group.codes.iter().any(|c| has_label(resource, ACT_CODE, c));
        if carries
            && !decision
                .labels_named
                .iter()
                .any(|label| group.codes.contains(&label.code.as_str()))
        {
            return Verdict::Label;
        }
    }
    Verdict::Release
}
