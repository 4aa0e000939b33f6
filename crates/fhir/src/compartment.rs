//! The FHIR Patient compartment: which patient a resource belongs to.
//!
//! Salus records one patient per resource so that "everything about this patient" (summaries,
//! consent, de-identification by patient, `patient=` search) is one indexed lookup. The element
//! lists follow the R4 Patient CompartmentDefinition for the resource types Salus expects; other
//! types fall back to their `subject` or `patient` element.

use serde_json::Value;

use crate::reference::{parse, Target};

/// The elements, in order of preference, whose reference to a Patient puts a resource of the
/// given type in that patient's compartment. Dotted names descend into backbone elements.
pub fn compartment_elements(resource_type: &str) -> &'static [&'static str] {
    match resource_type {
        "AllergyIntolerance" => &["patient", "recorder", "asserter"],
        "Appointment" => &["participant.actor"],
        "AppointmentResponse" => &["actor"],
        "AuditEvent" => &["patient"],
        "Basic" => &["subject", "author"],
        "CarePlan" => &["subject"],
        "CareTeam" => &["subject", "participant.member"],
        "Claim" => &["patient", "payee.party"],
        "ClinicalImpression" => &["subject"],
        "Communication" => &["subject", "sender", "recipient"],
        "CommunicationRequest" => &["subject"],
        "Composition" => &["subject", "author", "attester.party"],
        "Condition" => &["subject", "asserter"],
        "Consent" => &["patient"],
        "Coverage" => &["beneficiary", "subscriber", "policyHolder", "payor"],
        "DetectedIssue" => &["patient"],
        "Device" => &["patient"],
        "DeviceRequest" => &["subject", "performer"],
        "DeviceUseStatement" => &["subject"],
        "DiagnosticReport" => &["subject"],
        "DocumentManifest" => &["subject", "author", "recipient"],
        "DocumentReference" => &["subject", "author"],
        "Encounter" => &["subject"],
        "EpisodeOfCare" => &["patient"],
        "ExplanationOfBenefit" => &["patient", "payee.party"],
        "FamilyMemberHistory" => &["patient"],
        "Flag" => &["subject"],
        "Goal" => &["subject"],
        "ImagingStudy" => &["subject"],
        "Immunization" => &["patient"],
        "List" => &["subject", "source"],
        "Media" => &["subject"],
        "MedicationAdministration" => &["subject", "performer.actor"],
        "MedicationDispense" => &["subject", "receiver"],
        "MedicationRequest" => &["subject"],
        "MedicationStatement" => &["subject"],
        "NutritionOrder" => &["patient"],
        "Observation" => &["subject", "performer"],
        "Procedure" => &["subject", "performer.actor"],
        "Provenance" => &["patient", "target"],
        "QuestionnaireResponse" => &["subject", "author"],
        "RelatedPerson" => &["patient"],
        "RiskAssessment" => &["subject"],
        "ServiceRequest" => &["subject", "performer"],
        "Specimen" => &["subject"],
        "SupplyDelivery" => &["patient"],
        "SupplyRequest" => &["requester"],
        "VisionPrescription" => &["patient"],
        _ => &["subject", "patient"],
    }
}

/// The id of the patient whose compartment holds this resource, if any.
pub fn patient_of(resource_type: &str, resource: &Value) -> Option<String> {
    if resource_type == "Patient" {
        return resource
            .get("id")
            .and_then(Value::as_str)
            .map(str::to_owned);
    }
    compartment_elements(resource_type)
        .iter()
        .find_map(|element| patient_reference_at(resource, element))
}

fn patient_reference_at(node: &Value, path: &str) -> Option<String> {
    let (head, rest) = match path.split_once('.') {
        Some((h, r)) => (h, Some(r)),
        None => (path, None),
    };
    let child = node.get(head)?;
    let items: Box<dyn Iterator<Item = &Value>> = match child {
        Value::Array(items) => Box::new(items.iter()),
        other => Box::new(std::iter::once(other)),
    };
    for item in items {
        let found = match rest {
            Some(rest) => patient_reference_at(item, rest),
            None => item
                .get("reference")
                .and_then(Value::as_str)
                .and_then(|r| match parse(r) {
                    Target::Resource {
                        resource_type: "Patient",
                        id,
                    } => Some(id.to_owned()),
                    _ => None,
                }),
        };
        if found.is_some() {
            return found;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn patient_is_its_own_compartment() {
        let p = json!({"resourceType": "Patient", "id": "p1"});
        assert_eq!(patient_of("Patient", &p).as_deref(), Some("p1"));
    }

    #[test]
    fn subject_and_nested_elements() {
        let obs = json!({"subject": {"reference": "Patient/p2"}});
        assert_eq!(patient_of("Observation", &obs).as_deref(), Some("p2"));
        let appt = json!({"participant": [
            {"actor": {"reference": "Practitioner/x"}},
            {"actor": {"reference": "Patient/p3"}}
        ]});
        assert_eq!(patient_of("Appointment", &appt).as_deref(), Some("p3"));
        let prov = json!({"target": [{"reference": "Encounter/e"}, {"reference": "Patient/p4"}]});
        assert_eq!(patient_of("Provenance", &prov).as_deref(), Some("p4"));
    }

    #[test]
    fn non_patient_subjects_are_not_in_a_compartment() {
        let obs = json!({"subject": {"reference": "Group/g"}});
        assert_eq!(patient_of("Observation", &obs), None);
        assert_eq!(patient_of("Practitioner", &json!({"id": "x"})), None);
    }
}
