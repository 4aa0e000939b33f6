//! What Salus derives from what it ingests: a sink in front of another that, for every
//! screening QuestionnaireResponse (AHC HRSN, PRAPARE, Hunger Vital Sign, PHQ-2/9, GAD-7),
//! also pushes the Observations, SDOH findings and health concerns `salus-sdoh` derives from
//! it. Each derived resource says it is derived (`meta.tag` and `derivedFrom` the response):
//! it is never mistaken for what a clinician recorded. Deriving again from the same response
//! gives the same ids, so re-ingesting changes nothing.

use salus_fhir::{prepare, PreparedResource};

use crate::report::{Notice, Rejection};
use crate::sink::{PatientMerge, Sink, SinkError};

/// Passes everything to `inner`, adding what screening responses imply.
pub struct DerivingSink<S> {
    pub inner: S,
}

impl<S: Sink> DerivingSink<S> {
    pub fn new(inner: S) -> Self {
        DerivingSink { inner }
    }

    pub fn into_inner(self) -> S {
        self.inner
    }

    fn derive(
        &mut self,
        response: &serde_json::Value,
        response_id: &str,
        file: &str,
        position: &str,
    ) -> Result<(), SinkError> {
        let derived = salus_sdoh::derive_from_response(response);
        let position = format!("{position} (derived from QuestionnaireResponse/{response_id})");
        for value in derived.resources {
            match prepare(value) {
                Ok(r) => self.inner.resource(r, file, &position)?,
                // A derivation rule that makes invalid FHIR is Salus's bug, not the data's:
                // reported, and the response itself is kept.
                Err(issues) => {
                    self.inner
                        .rejected(Rejection::new(file, position.clone(), issues))?
                }
            }
        }
        for w in derived.warnings {
            self.inner.notice(Notice {
                file: file.to_owned(),
                message: format!("{position}: {w}"),
            })?;
        }
        for flag in derived.flags {
            self.inner.notice(Notice {
                file: file.to_owned(),
                message: format!(
                    "{position}: {} flagged on {} for clinical review",
                    flag.kind.code(),
                    flag.resource
                ),
            })?;
        }
        Ok(())
    }
}

impl<S: Sink> Sink for DerivingSink<S> {
    fn resource(
        &mut self,
        resource: PreparedResource,
        file: &str,
        position: &str,
    ) -> Result<(), SinkError> {
        if resource.resource_type != "QuestionnaireResponse" {
            return self.inner.resource(resource, file, position);
        }
        // The response as JSON before it goes: the sink takes the prepared resource.
        let (response, id) = (resource.json(), resource.id.clone());
        self.inner.resource(resource, file, position)?;
        self.derive(&response, &id, file, position)
    }

    fn resource_if_absent(
        &mut self,
        resource: PreparedResource,
        file: &str,
        position: &str,
    ) -> Result<(), SinkError> {
        self.inner.resource_if_absent(resource, file, position)
    }

    fn rejected(&mut self, rejection: Rejection) -> Result<(), SinkError> {
        self.inner.rejected(rejection)
    }

    fn notice(&mut self, notice: Notice) -> Result<(), SinkError> {
        self.inner.notice(notice)
    }

    fn begin_unit(&mut self) -> Result<(), SinkError> {
        self.inner.begin_unit()
    }

    fn end_unit(&mut self) -> Result<(), SinkError> {
        self.inner.end_unit()
    }

    fn merge(&mut self, merge: PatientMerge, file: &str, position: &str) -> Result<(), SinkError> {
        self.inner.merge(merge, file, position)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::VecSink;
    use serde_json::json;

    #[test]
    fn a_phq9_response_brings_its_observations_and_the_self_harm_flag() {
        // linkIds ending in the item's LOINC code, as US Core's PHQ-9 Questionnaire has them.
        let answer = |code: &str, la: &str| {
            json!({"linkId": format!("/44249-1/{code}"),
                   "answer": [{"valueCoding": {"system": "http://loinc.org", "code": la}}]})
        };
        let items: Vec<_> = [
            "44250-9", "44255-8", "44259-0", "44254-1", "44251-7", "44258-2", "44252-5", "44253-3",
        ]
        .iter()
        .map(|c| answer(c, "LA6569-3"))
        .chain(std::iter::once(answer("44260-8", "LA6570-1")))
        .collect();
        let qr = json!({
            "resourceType": "QuestionnaireResponse", "id": "phq9-1", "status": "completed",
            "questionnaire": "http://loinc.org/q/44249-1",
            "subject": {"reference": "Patient/p1"}, "authored": "2026-11-20T10:00:00Z",
            "item": items
        });
        let mut sink = DerivingSink::new(VecSink::default());
        sink.resource(prepare(qr).unwrap(), "f.ndjson", "line 1")
            .unwrap();
        let sink = sink.into_inner();
        assert!(sink.rejected.is_empty(), "{:?}", sink.rejected);
        assert_eq!(sink.resources[0].0.resource_type, "QuestionnaireResponse");
        let derived: Vec<serde_json::Value> =
            sink.resources[1..].iter().map(|(r, _)| r.json()).collect();
        assert!(
            derived.len() >= 10,
            "panel, nine items, total: {}",
            derived.len()
        );
        for d in &derived {
            assert_eq!(d["subject"]["reference"], "Patient/p1");
        }
        // The total, computed: eight items at 1 ("several days") and item 9 at 2.
        let total = derived
            .iter()
            .find(|o| o["code"]["coding"][0]["code"] == "44261-6")
            .expect("the PHQ-9 total");
        assert_eq!(total["valueQuantity"]["value"], 10, "{total}");
        assert!(sink
            .notices
            .iter()
            .any(|n| n.message.contains("self-harm") && n.message.contains("Observation/")));
    }
}
