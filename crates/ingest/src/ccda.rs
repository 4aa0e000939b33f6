//! C-CDA documents to FHIR resources.
//!
//! A document is a unit: it is parsed and mapped (`salus-ccda-fhir`), each resource is
//! validated, and what is valid is pushed between `begin_unit` and `end_unit`, so a store
//! commits the document whole or not at all. A document that cannot be read (not XML, a DTD,
//! the wrong root or namespace, too large) is rejected with a position and a reason. Inside a
//! readable document, an entry that cannot be mapped, or maps to something the FHIR schema
//! refuses, is rejected with its XPath-like position and the rest of the document is kept.
//! The DocumentReference always keeps the original XML, so nothing the document says is lost.

use std::io::BufRead;

use salus_ccda_fhir::{map_bytes, Limits as CcdaLimits, MapOptions};
use salus_fhir::{prepare, Issue, IssueCode};

use crate::report::{Notice, Rejection};
use crate::sink::{Sink, SinkError};
use crate::Limits;

/// A document read and mapped, not yet validated or pushed.
#[derive(Debug)]
pub enum Document {
    Mapped(salus_ccda_fhir::Mapped),
    /// It could not be read as C-CDA at all.
    Refused(Rejection),
}

/// Read one C-CDA document and push its resources into the sink as one unit. Returns the
/// number of documents read (1, or 0 when the input was refused before parsing).
pub fn read(
    reader: &mut dyn BufRead,
    file: &str,
    limits: &Limits,
    options: &MapOptions,
    sink: &mut dyn Sink,
) -> Result<u64, SinkError> {
    let document = read_document(reader, file, limits, options)?;
    push(document, file, sink)
}

/// Read and map one document (the expensive half, which may run ahead on another thread).
pub fn read_document(
    reader: &mut dyn BufRead,
    file: &str,
    limits: &Limits,
    options: &MapOptions,
) -> Result<Document, SinkError> {
    let ccda_limits = CcdaLimits {
        max_document_bytes: limits
            .max_document_bytes
            .min(CcdaLimits::default().max_document_bytes),
        ..CcdaLimits::default()
    };
    let Some(bytes) = crate::read_capped(reader, ccda_limits.max_document_bytes)? else {
        return Ok(Document::Refused(Rejection::file(
            file,
            Issue::error(
                IssueCode::TooLong,
                format!(
                    "the C-CDA document is larger than {} bytes; such documents are refused",
                    ccda_limits.max_document_bytes
                ),
            ),
        )));
    };
    Ok(match map_bytes(&bytes, &ccda_limits, options) {
        Ok(m) => Document::Mapped(m),
        Err(e) => Document::Refused(Rejection::new(
            file,
            e.position.clone(),
            vec![Issue::error(IssueCode::Invalid, e.reason.clone())],
        )),
    })
}

/// Validate a mapped document's resources and push them as one unit, then what could not be
/// mapped. Returns the number of documents (1, or 0 for one refused before parsing).
pub fn push(document: Document, file: &str, sink: &mut dyn Sink) -> Result<u64, SinkError> {
    let mapped = match document {
        Document::Mapped(m) => m,
        Document::Refused(r) => {
            // A size refusal never reached the parser: no document was read.
            let read = u64::from(r.position != "file");
            sink.rejected(r)?;
            return Ok(read);
        }
    };
    let mut resources = mapped.resources;
    label_the_whole_document(&mut resources);
    sink.begin_unit()?;
    for r in resources {
        let kind = r.resource["resourceType"]
            .as_str()
            .unwrap_or("resource")
            .to_owned();
        match prepare(r.resource) {
            Ok(resource) => sink.resource(resource, file, &r.position)?,
            Err(issues) => {
                let mut issues = issues;
                for i in &mut issues {
                    i.diagnostics = format!(
                        "the {kind} mapped from this entry is not valid FHIR R4: {}",
                        i.diagnostics
                    );
                }
                sink.rejected(Rejection::new(file, r.position, issues))?;
            }
        }
    }
    sink.end_unit()?;
    for s in mapped.skipped {
        sink.rejected(Rejection::new(
            file,
            s.position,
            vec![Issue::error(
                IssueCode::Invalid,
                format!("{} (the rest of the document was kept)", s.reason),
            )],
        ))?;
    }
    for w in mapped.warnings {
        sink.notice(Notice {
            file: file.to_owned(),
            message: format!("{}: {}", w.position, w.reason),
        })?;
    }
    Ok(1)
}

/// The DocumentReference (the whole document, as XML) and the Composition (its sections'
/// text) say everything the entries say, so they carry every sensitivity label any entry's
/// codes imply: a consent or access rule that withholds a mental-health Condition must
/// withhold the document that contains it too.
fn label_the_whole_document(resources: &mut [salus_ccda_fhir::MappedResource]) {
    let labeller = salus_labels::Labeller::builtin();
    let mut codings: Vec<serde_json::Value> = Vec::new();
    for r in resources.iter() {
        for label in labeller.labels_for(&r.resource) {
            let coding = label.to_coding();
            if !codings.contains(&coding) {
                codings.push(coding);
            }
        }
    }
    if codings.is_empty() {
        return;
    }
    for r in resources.iter_mut() {
        let kind = r.resource["resourceType"].as_str().unwrap_or_default();
        if kind != "DocumentReference" && kind != "Composition" {
            continue;
        }
        let Some(obj) = r.resource.as_object_mut() else {
            continue;
        };
        let meta = obj.entry("meta").or_insert_with(|| serde_json::json!({}));
        let Some(meta) = meta.as_object_mut() else {
            continue;
        };
        let security = meta
            .entry("security")
            .or_insert_with(|| serde_json::json!([]));
        if let Some(list) = security.as_array_mut() {
            for c in &codings {
                let present = list
                    .iter()
                    .any(|l| l["system"] == c["system"] && l["code"] == c["code"]);
                if !present {
                    list.push(c.clone());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::VecSink;

    fn read_str(text: &str) -> VecSink {
        let mut sink = VecSink::default();
        let n = read(
            &mut text.as_bytes(),
            "doc.xml",
            &Limits::default(),
            &MapOptions::default(),
            &mut sink,
        )
        .unwrap();
        assert_eq!(n, 1);
        sink
    }

    const DOC: &str = r#"<ClinicalDocument xmlns="urn:hl7-org:v3">
  <id root="1.2.3" extension="doc-1"/>
  <effectiveTime value="20261101120000-0500"/>
  <recordTarget><patientRole><id root="1.2.3.4" extension="mrn-1"/></patientRole></recordTarget>
  <component><structuredBody>
    <component><section><code code="48768-6" codeSystem="2.16.840.1.113883.6.1"/>
      <entry><act classCode="ACT" moodCode="EVN"/></entry></section></component>
  </structuredBody></component>
</ClinicalDocument>"#;

    #[test]
    fn a_document_becomes_valid_resources_with_positions() {
        let sink = read_str(DOC);
        assert!(sink.rejected.is_empty(), "{:?}", sink.rejected);
        let types: Vec<&str> = sink
            .resources
            .iter()
            .map(|(r, _)| r.resource_type.as_str())
            .collect();
        assert_eq!(types.first(), Some(&"Patient"));
        assert_eq!(types.last(), Some(&"DocumentReference"));
        assert!(sink
            .resources
            .iter()
            .all(|(_, position)| position.starts_with("/ClinicalDocument")));
        // The payers section is not mapped: said once, as a notice, not as a rejection.
        let unmapped: Vec<_> = sink
            .notices
            .iter()
            .filter(|n| n.message.contains("does not map"))
            .collect();
        assert_eq!(unmapped.len(), 1, "{:?}", sink.notices);
        assert!(sink.rejected.is_empty());
    }

    #[test]
    fn the_document_carries_the_labels_of_what_it_says() {
        let doc = DOC.replace(
            "<entry><act classCode=\"ACT\" moodCode=\"EVN\"/></entry></section></component>",
            r#"</section></component><component><section>
              <code code="11450-4" codeSystem="2.16.840.1.113883.6.1"/>
              <entry><observation classCode="OBS" moodCode="EVN">
                <templateId root="2.16.840.1.113883.10.20.22.4.4"/><id root="1.2.3.9"/>
                <code code="55607006" codeSystem="2.16.840.1.113883.6.96"/>
                <value xsi:type="CD" code="35489007" codeSystem="2.16.840.1.113883.6.96"
                  xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"/>
              </observation></entry></section></component>"#,
        );
        let sink = read_str(&doc);
        assert!(sink.rejected.is_empty(), "{:?}", sink.rejected);
        let labels = |kind: &str| -> Vec<String> {
            let (r, _) = sink
                .resources
                .iter()
                .find(|(r, _)| r.resource_type == kind)
                .unwrap_or_else(|| panic!("a {kind}"));
            let body = r.json();
            body["meta"]["security"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|c| c["code"].as_str().map(str::to_owned))
                .collect()
        };
        let condition = labels("Condition");
        assert!(!condition.is_empty(), "a depression diagnosis is labelled");
        let document = labels("DocumentReference");
        for code in &condition {
            assert!(
                document.contains(code),
                "{code} on the document: {document:?}"
            );
        }
    }

    #[test]
    fn an_unreadable_document_is_one_rejection_with_a_position() {
        let sink = read_str("<ClinicalDocument xmlns=\"urn:hl7-org:v3\"><id root=\"1\"/>");
        assert!(sink.resources.is_empty());
        assert_eq!(sink.rejected.len(), 1);
        assert_eq!(sink.rejected[0].position, "end of document");
        let sink = read_str("<Patient xmlns=\"http://hl7.org/fhir\"/>");
        assert_eq!(sink.rejected[0].position, "/Patient");
    }
}
