//! HL7 v2 messages (files, HTTP bodies, MLLP frames) to FHIR resources.
//!
//! Each message is a unit: it is parsed (`salus-hl7v2`), mapped (`salus-hl7v2-fhir`) and every
//! resource it yields is validated, or the whole message is rejected with its index and the
//! segment and field at fault. The messages around a bad one are kept. A message of a type
//! Salus does not map is kept as a `Binary` holding the raw message, with a notice, so nothing
//! a feed sends is lost.

use std::io::BufRead;

use salus_fhir::{prepare, Issue, IssueCode, PreparedResource};
use salus_hl7v2::{split_messages, Message, ParseError};
use salus_hl7v2_fhir::{map_message, MapOptions};

use crate::report::{Notice, Rejection};
use crate::sink::{PatientMerge, Sink, SinkError};
use crate::Limits;

/// One resource of a message.
#[derive(Debug, Clone)]
pub struct MessageResource {
    pub resource: PreparedResource,
    /// Store it only if it does not exist yet. Only the admission feed (ADT) updates a Patient:
    /// other messages carry a PID to say whom they are about, often with less in it, and
    /// create the Patient only when no ADT message has.
    pub create_only: bool,
}

/// One message made ready for a store.
#[derive(Debug, Clone)]
pub struct ConvertedMessage {
    pub resources: Vec<MessageResource>,
    pub merges: Vec<PatientMerge>,
    /// Fields that could not be mapped (the rest of the message was): plain text, no values.
    pub warnings: Vec<String>,
    /// `Some("XXX^YYY")` when the type is not mapped and the raw message was kept as a Binary.
    pub unsupported: Option<String>,
}

/// Why a message was refused: where, and why, in words fit for an ACK's `ERR` segment and an
/// OperationOutcome. Never holds field values (they are PHI).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageFault {
    /// Segment id and 1-based position in the message (`PID`, 2), when known.
    pub segment: Option<(String, usize)>,
    /// The field at fault, when one is.
    pub field: Option<usize>,
    /// HL7 table 0357 error code (100 segment sequence, 101 required field missing, 102 data
    /// type, 200 unsupported message type, 207 application internal error …).
    pub code: u16,
    pub reason: String,
}

impl std::fmt::Display for MessageFault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some((id, n)) = &self.segment {
            write!(f, "segment {n} ({id})")?;
            if let Some(field) = self.field {
                write!(f, ", field {field}")?;
            }
            f.write_str(": ")?;
        }
        f.write_str(&self.reason)
    }
}

impl MessageFault {
    fn from_parse(e: &ParseError) -> MessageFault {
        MessageFault {
            // Only an id that could be one: a malformed line's text may be patient data.
            segment: e
                .reportable_segment_id()
                .map(|id| (id.to_owned(), e.segment_index().map_or(1, |i| i + 1))),
            field: e.field(),
            code: e.kind().hl7_error_code(),
            reason: e.kind().to_string(),
        }
    }

    fn issue(&self) -> Issue {
        Issue::error(IssueCode::Invalid, self.to_string())
    }
}

/// Parse, map and validate one message.
pub fn convert_message(text: &str, options: &MapOptions) -> Result<ConvertedMessage, MessageFault> {
    let message = Message::parse(text).map_err(|e| MessageFault::from_parse(&e))?;
    convert_parsed(&message, options)
}

/// Map and validate a parsed message.
pub fn convert_parsed(
    message: &Message<'_>,
    options: &MapOptions,
) -> Result<ConvertedMessage, MessageFault> {
    let mapped = map_message(message, options).map_err(|e| MessageFault {
        segment: Some((e.segment.clone(), e.segment_index + 1)),
        field: e.field,
        code: if e.field.is_some() { 101 } else { 100 },
        reason: e.reason.clone(),
    })?;
    let administrative = message.message_type().code.eq_ignore_ascii_case("ADT");
    let mut resources = Vec::with_capacity(mapped.resources.len());
    for value in mapped.resources {
        let kind = value
            .get("resourceType")
            .and_then(|t| t.as_str())
            .unwrap_or("resource")
            .to_owned();
        match prepare(value) {
            Ok(resource) => resources.push(MessageResource {
                create_only: !administrative && resource.resource_type == "Patient",
                resource,
            }),
            Err(issues) => {
                // The mapping made something the FHIR schema refuses: the message is refused
                // whole (its sender gets AE and can re-send) rather than stored in part.
                let why = issues
                    .iter()
                    .map(|i| {
                        if i.expression.is_empty() {
                            i.diagnostics.clone()
                        } else {
                            format!("{}: {}", i.expression.join(", "), i.diagnostics)
                        }
                    })
                    .collect::<Vec<_>>()
                    .join("; ");
                return Err(MessageFault {
                    segment: None,
                    field: None,
                    code: 207,
                    reason: format!(
                        "the {kind} mapped from this message is not valid FHIR R4: {why}"
                    ),
                });
            }
        }
    }
    Ok(ConvertedMessage {
        resources,
        merges: mapped
            .merges
            .into_iter()
            .map(|m| PatientMerge {
                survivor: m.survivor,
                retired: m.retired,
            })
            .collect(),
        warnings: mapped
            .warnings
            .iter()
            .map(|w| match w.field {
                Some(f) => format!(
                    "segment {} ({}), field {f}: {}",
                    w.segment_index + 1,
                    w.segment,
                    w.reason
                ),
                None => format!(
                    "segment {} ({}): {}",
                    w.segment_index + 1,
                    w.segment,
                    w.reason
                ),
            })
            .collect(),
        unsupported: mapped.unsupported,
    })
}

/// Read a stream of HL7 v2 messages (one or many, batch envelopes, MLLP framing bytes left in a
/// capture) and push each message's resources into the sink as one unit. Returns the number of
/// messages read.
pub fn read(
    reader: &mut dyn BufRead,
    file: &str,
    limits: &Limits,
    options: &MapOptions,
    sink: &mut dyn Sink,
) -> Result<u64, SinkError> {
    let Some(mut bytes) = crate::read_capped(reader, limits.max_document_bytes)? else {
        sink.rejected(Rejection::file(
            file,
            Issue::error(
                IssueCode::TooLong,
                format!(
                    "the HL7 v2 file is larger than {} bytes; split it into smaller files",
                    limits.max_document_bytes
                ),
            ),
        ))?;
        return Ok(0);
    };
    // MLLP framing left in a capture: start and end bytes separate messages.
    for b in bytes.iter_mut() {
        if *b == 0x0b || *b == 0x1c {
            *b = b'\r';
        }
    }
    let text = salus_hl7v2::decode_text(&bytes);
    let mut count = 0u64;
    for item in split_messages(&text) {
        count += 1;
        match item {
            Err(e) => {
                let position = e
                    .message_index()
                    .map_or_else(|| "file".to_owned(), |i| format!("message {}", i + 1));
                sink.rejected(Rejection::new(
                    file,
                    position,
                    vec![MessageFault::from_parse(&e).issue()],
                ))?;
            }
            Ok((index, message_text)) => {
                let position = format!("message {}", index + 1);
                match convert_message(message_text, options) {
                    Err(fault) => {
                        sink.rejected(Rejection::new(file, position, vec![fault.issue()]))?;
                    }
                    Ok(converted) => push(sink, converted, file, &position)?,
                }
            }
        }
    }
    Ok(count)
}

fn push(
    sink: &mut dyn Sink,
    converted: ConvertedMessage,
    file: &str,
    position: &str,
) -> Result<(), SinkError> {
    sink.begin_unit()?;
    for r in converted.resources {
        if r.create_only {
            sink.resource_if_absent(r.resource, file, position)?;
        } else {
            sink.resource(r.resource, file, position)?;
        }
    }
    for merge in converted.merges {
        sink.merge(merge, file, position)?;
    }
    sink.end_unit()?;
    if let Some(kind) = converted.unsupported {
        sink.notice(Notice {
            file: file.to_owned(),
            message: format!(
                "{position}: {kind} messages are not mapped to FHIR; the message was kept as a Binary resource"
            ),
        })?;
    }
    for warning in converted.warnings {
        sink.notice(Notice {
            file: file.to_owned(),
            message: format!("{position}: {warning} (left out; the rest of the message was kept)"),
        })?;
    }
    Ok(())
}
