//! Building acknowledgements (ACK messages), for parsed messages and for unreadable ones.

use std::borrow::Cow;
use std::fmt::Write as _;

use crate::encoding::Encoding;
use crate::error::ParseError;
use crate::escape::encode;
use crate::lines::{strip_bom, SegmentSpans};
use crate::message::{has_id, Message, Segment};

/// MSA-1, the acknowledgement code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AckCode {
    /// `AA`: application accept.
    ApplicationAccept,
    /// `AE`: application error (the message was understood but could not be processed).
    ApplicationError,
    /// `AR`: application reject (the message is unacceptable: malformed, unsupported, …).
    ApplicationReject,
    /// `CA`: commit accept (enhanced acknowledgement mode).
    CommitAccept,
    /// `CE`: commit error.
    CommitError,
    /// `CR`: commit reject.
    CommitReject,
}

impl AckCode {
    /// The code as written in MSA-1: `AA`, `AE`, …
    pub fn as_str(&self) -> &'static str {
        match self {
            AckCode::ApplicationAccept => "AA",
            AckCode::ApplicationError => "AE",
            AckCode::ApplicationReject => "AR",
            AckCode::CommitAccept => "CA",
            AckCode::CommitError => "CE",
            AckCode::CommitReject => "CR",
        }
    }
}

/// ERR-4, the severity of an error (HL7 table 0516).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Severity {
    /// `E`: the message was not (fully) processed.
    #[default]
    Error,
    /// `W`: processed, with a warning.
    Warning,
    /// `I`: information only.
    Information,
}

impl Severity {
    /// The code as written in ERR-4.
    pub fn as_str(&self) -> &'static str {
        match self {
            Severity::Error => "E",
            Severity::Warning => "W",
            Severity::Information => "I",
        }
    }
}

/// The content of the ERR segment of an acknowledgement, v2.5+ style:
/// `ERR||<segment id>^<sequence>^<field>|<code>^<text>^HL70357|<severity>||||<text>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AckError {
    /// ERR-3, an HL7 table 0357 code: 100 segment sequence error, 101 required field missing,
    /// 102 data type error, 103 table value not found, 200 unsupported message type, 201
    /// unsupported event code, 202 unsupported processing id, 203 unsupported version id, 204
    /// unknown key identifier, 205 duplicate key identifier, 206 application record locked,
    /// 207 application internal error.
    pub code: u16,
    /// ERR-4.
    pub severity: Severity,
    /// ERR-2.1, the id of the segment at fault.
    pub segment_id: Option<String>,
    /// ERR-2.2, which occurrence of that segment id it is, 1-based (the second OBX is 2).
    pub segment_sequence: Option<usize>,
    /// ERR-2.3, the field number.
    pub field: Option<usize>,
    /// ERR-8, the message for the user; escaped when written.
    pub text: String,
}

impl AckError {
    /// An error with this table 0357 code and text, severity E, no location.
    pub fn new(code: u16, text: impl Into<String>) -> Self {
        AckError {
            code,
            severity: Severity::Error,
            segment_id: None,
            segment_sequence: None,
            field: None,
            text: text.into(),
        }
    }

    /// Sets the location (ERR-2): segment id, its 1-based occurrence, and the field number.
    pub fn at(mut self, segment_id: &str, sequence: usize, field: Option<usize>) -> Self {
        self.segment_id = Some(segment_id.to_string());
        self.segment_sequence = Some(sequence);
        self.field = field;
        self
    }

    /// The error to report for a parse failure of `message_text`: the code from
    /// [`crate::ErrorKind::hl7_error_code`], the location (the segment occurrence is counted
    /// in `message_text`, which should be the text that failed to parse), and the reason.
    pub fn from_parse_error(error: &ParseError, message_text: &str) -> Self {
        let mut ack = AckError::new(error.kind.hl7_error_code(), error.kind.to_string());
        ack.segment_id = error.reportable_segment_id().map(str::to_owned);
        ack.field = error.location.field;
        if let (Some(index), Some(id)) = (error.location.segment_index, &ack.segment_id) {
            let text = strip_bom(message_text);
            let occurrence = SegmentSpans::new(text)
                .take(index.saturating_add(1))
                .filter(|&(s, e)| {
                    text.get(s..e)
                        .is_some_and(|seg| seg.starts_with(id.as_str()))
                })
                .count();
            ack.segment_sequence = Some(occurrence.max(1));
        }
        ack
    }
}

/// The text of a table 0357 code, for ERR-3.2.
fn error_code_text(code: u16) -> &'static str {
    match code {
        0 => "Message accepted",
        100 => "Segment sequence error",
        101 => "Required field missing",
        102 => "Data type error",
        103 => "Table value not found",
        104 => "Value too long",
        200 => "Unsupported message type",
        201 => "Unsupported event code",
        202 => "Unsupported processing id",
        203 => "Unsupported version id",
        204 => "Unknown key identifier",
        205 => "Duplicate key identifier",
        206 => "Application record locked",
        207 => "Application internal error",
        _ => "",
    }
}

/// The MSH fields an acknowledgement copies, already written in the output encoding.
struct Original<'s> {
    encoding: Encoding,
    sending_application: Cow<'s, str>,
    sending_facility: Cow<'s, str>,
    receiving_application: Cow<'s, str>,
    receiving_facility: Cow<'s, str>,
    trigger: Cow<'s, str>,
    control_id: Cow<'s, str>,
    processing_id: Cow<'s, str>,
    version: Cow<'s, str>,
}

impl<'s> Original<'s> {
    /// Fields copied raw: the acknowledgement uses the same delimiters as the header.
    fn from_header(msh: &Segment<'s>) -> Self {
        let raw = |n: usize| Cow::Borrowed(msh.field(n).raw());
        Original {
            encoding: *msh.encoding(),
            sending_application: raw(3),
            sending_facility: raw(4),
            receiving_application: raw(5),
            receiving_facility: raw(6),
            trigger: Cow::Borrowed(msh.field(9).component(2).raw()),
            control_id: raw(10),
            processing_id: raw(11),
            // Only a version whose first component has a value counts (see FALLBACK_VERSION).
            version: if msh.field(12).component(1).raw().trim().is_empty() {
                Cow::Borrowed("")
            } else {
                raw(12)
            },
        }
    }

    fn empty() -> Self {
        Original {
            encoding: Encoding::STANDARD,
            sending_application: Cow::Borrowed(""),
            sending_facility: Cow::Borrowed(""),
            receiving_application: Cow::Borrowed(""),
            receiving_facility: Cow::Borrowed(""),
            trigger: Cow::Borrowed(""),
            control_id: Cow::Borrowed(""),
            processing_id: Cow::Borrowed(""),
            version: Cow::Borrowed(""),
        }
    }

    /// From a header whose encoding characters are unusable but whose field separator can
    /// still be read: each field is taken whole and escaped for the standard delimiters, so
    /// whatever it holds cannot break the acknowledgement's structure.
    fn from_fields(msh: &'s str, separator: u8) -> Self {
        let enc = Encoding::STANDARD;
        let fields: Vec<&str> = msh.split(char::from(separator)).collect();
        // fields[0] is "MSH" and fields[1] MSH-2, so MSH-n is fields[n - 1].
        let field = |n: usize| encode(fields.get(n - 1).copied().unwrap_or(""), &enc);
        Original {
            encoding: enc,
            sending_application: field(3),
            sending_facility: field(4),
            receiving_application: field(5),
            receiving_facility: field(6),
            trigger: Cow::Borrowed(""),
            control_id: field(10),
            processing_id: field(11),
            version: Some(field(12))
                .filter(|v| !v.trim().is_empty())
                .unwrap_or_default(),
        }
    }
}

/// Builds the acknowledgement of a parsed message.
///
/// The ACK uses the message's delimiters; its MSH swaps the sending and receiving
/// applications and facilities, has `now` as MSH-7, `ACK^<trigger>^ACK` as MSH-9, `control_id`
/// as MSH-10, and copies MSH-11 and MSH-12. Then `MSA|<code>|<original MSH-10>`, and with an
/// error an ERR segment (see [`AckError`]). Segments end with CR, the last one included.
/// `now` and `control_id` are supplied by the caller (no clock here) and escaped.
///
/// ```
/// use salus_hl7v2::{ack, AckCode, Message};
///
/// let msg = Message::parse("MSH|^~\\&|LAB|HOSP|EHR|CLINIC|20240101||ORU^R01|C1|P|2.5")?;
/// let reply = ack(&msg, AckCode::ApplicationAccept, None, "20240101120000", "ACK1");
/// assert_eq!(
///     reply,
///     "MSH|^~\\&|EHR|CLINIC|LAB|HOSP|20240101120000||ACK^R01^ACK|ACK1|P|2.5\rMSA|AA|C1\r"
/// );
/// # Ok::<(), salus_hl7v2::ParseError>(())
/// ```
pub fn ack(
    message: &Message<'_>,
    code: AckCode,
    error: Option<&AckError>,
    now: &str,
    control_id: &str,
) -> String {
    build(
        &Original::from_header(message.header()),
        code,
        error,
        now,
        control_id,
    )
}

/// Builds a best-effort acknowledgement for text that did not parse (typically with
/// [`AckCode::ApplicationReject`] and [`AckError::from_parse_error`]).
///
/// Uses the first MSH segment found in `raw`: with its delimiters and fields when MSH-1 and
/// MSH-2 are readable; with the standard delimiters and each field escaped whole when only
/// the field separator is; with empty fields and the standard delimiters when there is no
/// usable MSH at all (MSA-2 is then empty). MSH-12 is `2.5` when the original has none, so
/// that the acknowledgement itself always parses.
pub fn ack_for_unparsable(
    raw: &str,
    code: AckCode,
    error: Option<&AckError>,
    now: &str,
    control_id: &str,
) -> String {
    let text = strip_bom(raw);
    let msh = SegmentSpans::new(text)
        .filter_map(|(s, e)| text.get(s..e))
        .find(|seg| has_id(seg, b"MSH"));
    let original = match msh {
        None => Original::empty(),
        Some(msh) => match Segment::parse_header(msh, 0) {
            Ok((segment, _)) => Original::from_header(&segment),
            Err(_) => match msh.as_bytes().get(3) {
                Some(&sep) if sep.is_ascii_graphic() => Original::from_fields(msh, sep),
                _ => Original::empty(),
            },
        },
    };
    build(&original, code, error, now, control_id)
}

/// MSH-12 of an acknowledgement whose original gave no version: the version whose ERR layout
/// the acknowledgement follows. Without it the ACK would itself be rejected as unversioned.
const FALLBACK_VERSION: &str = "2.5";

fn build(
    original: &Original<'_>,
    code: AckCode,
    error: Option<&AckError>,
    now: &str,
    control_id: &str,
) -> String {
    let enc = &original.encoding;
    let f = enc.field_separator();
    let c = enc.component_separator();
    let mut out = String::with_capacity(256);
    // MSH-1 is the separator right after "MSH"; MSH-8 (security) stays empty.
    let msh = [
        enc.msh2().as_str(),
        &original.receiving_application,
        &original.receiving_facility,
        &original.sending_application,
        &original.sending_facility,
        &encode(now, enc),
        "",
    ]
    .join(&f.to_string());
    let _ = write!(
        out,
        "MSH{f}{msh}{f}ACK{c}{trigger}{c}ACK{f}{control}{f}{processing}{f}{version}\r",
        trigger = original.trigger,
        control = encode(control_id, enc),
        processing = original.processing_id,
        version = if original.version.is_empty() {
            FALLBACK_VERSION
        } else {
            &original.version
        },
    );
    let _ = write!(out, "MSA{f}{}{f}{}\r", code.as_str(), original.control_id);
    if let Some(e) = error {
        let location = match &e.segment_id {
            None => String::new(),
            Some(id) => {
                let mut l = encode(id, enc).into_owned();
                if let Some(seq) = e.segment_sequence {
                    let _ = write!(l, "{c}{seq}");
                    if let Some(field) = e.field {
                        let _ = write!(l, "{c}{field}");
                    }
                }
                l
            }
        };
        let _ = write!(
            out,
            "ERR{f}{f}{location}{f}{code}{c}{code_text}{c}HL70357{f}{severity}{f}{f}{f}{f}{text}\r",
            code = e.code,
            code_text = error_code_text(e.code),
            severity = e.severity.as_str(),
            text = encode(&e.text, enc),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    const ORU: &str =
        "MSH|^~\\&|LAB^1.2.3^ISO|HOSP|EHR|CLINIC|20240101||ORU^R01^ORU_R01|C1|P|2.5.1\r\
                       PID|1||X\rOBX|1\rOBX|2\r";

    #[test]
    fn accept() {
        let msg = Message::parse(ORU).unwrap();
        let reply = ack(&msg, AckCode::ApplicationAccept, None, "20240102", "A1");
        assert_eq!(
            reply,
            "MSH|^~\\&|EHR|CLINIC|LAB^1.2.3^ISO|HOSP|20240102||ACK^R01^ACK|A1|P|2.5.1\r\
             MSA|AA|C1\r"
        );
        let parsed = Message::parse(&reply).unwrap();
        assert_eq!(parsed.message_type().code, "ACK");
        assert_eq!(parsed.get("MSA-2").as_deref(), Some("C1"));
    }

    #[test]
    fn error_segment_with_escaped_text() {
        let msg = Message::parse(ORU).unwrap();
        let err = AckError::new(207, "bad value | in OBX^5").at("OBX", 2, Some(5));
        let reply = ack(
            &msg,
            AckCode::ApplicationError,
            Some(&err),
            "20240102",
            "A2",
        );
        let err_line = reply.split('\r').nth(2).unwrap();
        assert_eq!(
            err_line,
            "ERR||OBX^2^5|207^Application internal error^HL70357|E||||bad value \\F\\ in OBX\\S\\5"
        );
        let parsed = Message::parse(&reply).unwrap();
        let err_seg = parsed.segment("ERR").unwrap();
        assert_eq!(err_seg.text(3, 1), "207");
        assert_eq!(err_seg.text(8, 1), "bad value | in OBX^5");
        assert_eq!(parsed.get("MSA-1").as_deref(), Some("AE"));
    }

    #[test]
    fn custom_delimiters_are_kept() {
        let msg = Message::parse("MSH#!~$&%#S#SF#R#RF#t##ADT!A04#C9#T#2.7").unwrap();
        let reply = ack(
            &msg,
            AckCode::ApplicationReject,
            Some(&AckError::new(200, "no#thanks%")),
            "now",
            "id",
        );
        assert_eq!(
            reply,
            "MSH#!~$&%#R#RF#S#SF#now##ACK!A04!ACK#id#T#2.7\rMSA#AR#C9\r\
             ERR###200!Unsupported message type!HL70357#E####no$F$thanks$P$\r"
        );
    }

    #[test]
    fn now_and_control_id_are_escaped() {
        let msg = Message::parse(ORU).unwrap();
        let reply = ack(&msg, AckCode::CommitAccept, None, "a|b", "c^d");
        assert!(reply.contains("|a\\F\\b||ACK^R01^ACK|c\\S\\d|"));
        assert!(reply.contains("MSA|CA|C1\r"));
    }

    #[test]
    fn unparsable_with_readable_header() {
        let raw = "MSH|^~\\&|LAB|HOSP|EHR|CLINIC|20240101||ORU^R01|C1|P|\rPID|1\r";
        let e = Message::parse(raw).unwrap_err();
        assert_eq!(e.kind, ErrorKind::MissingVersion);
        let err = AckError::from_parse_error(&e, raw);
        assert_eq!(err.code, 101);
        assert_eq!(err.segment_sequence, Some(1));
        let reply = ack_for_unparsable(raw, AckCode::ApplicationReject, Some(&err), "T", "A3");
        assert_eq!(
            reply,
            "MSH|^~\\&|EHR|CLINIC|LAB|HOSP|T||ACK^R01^ACK|A3|P|2.5\rMSA|AR|C1\r\
             ERR||MSH^1^12|101^Required field missing^HL70357|E||||MSH-12 version id is missing\r"
        );
    }

    #[test]
    fn version_without_a_first_component_falls_back() {
        let raw = "MSH|^~\\&|A|F|||||ADT^A01|C1|P|^x";
        let reply = ack_for_unparsable(raw, AckCode::ApplicationReject, None, "T", "A6");
        assert!(
            reply.starts_with("MSH|^~\\&|||A|F|T||ACK^A01^ACK|A6|P|2.5\r"),
            "{reply}"
        );
        assert!(Message::parse(&reply).is_ok());
    }

    #[test]
    fn a_malformed_lines_text_is_never_echoed() {
        // A name cut off by a stray line break starts a "segment".
        let raw = "MSH|^~\\&|A|F|||||ADT^A01|C1|P|2.5\rPID|1||X||Doe^\rJOHNATHAN^Q|x";
        let e = Message::parse(raw).unwrap_err();
        assert_eq!(e.kind, ErrorKind::BadSegmentId);
        assert_eq!(e.reportable_segment_id(), None);
        assert!(!e.to_string().contains("JOHN"), "{e}");
        let err = AckError::from_parse_error(&e, raw);
        let reply = ack_for_unparsable(
            raw,
            AckCode::ApplicationReject,
            Some(&err),
            "20240101",
            "A1",
        );
        assert!(!reply.contains("JOHN"), "{reply}");
    }

    #[test]
    fn unparsable_segment_occurrence_is_counted() {
        let raw = "MSH|^~\\&|A|F|||||ADT^A01|C1|P|2.5\rOBX|1\rOBX|2\rZZ|bad";
        let e = Message::parse(raw).unwrap_err();
        assert_eq!(e.kind, ErrorKind::BadSegmentId);
        assert_eq!(e.segment_index(), Some(3));
        let err = AckError::from_parse_error(&e, raw);
        assert_eq!(err.segment_id.as_deref(), Some("ZZ"));
        assert_eq!(err.segment_sequence, Some(1));

        let raw = "MSH|^~\\&|A|F|||||ADT^A01|C1|P|2.5\rOBX|1\rOBX|2\rOBX|3\rMSH|x";
        let e = Message::parse(raw).unwrap_err();
        let err = AckError::from_parse_error(&e, raw);
        assert_eq!(
            (err.segment_id.as_deref(), err.segment_sequence),
            (Some("MSH"), Some(2))
        );
    }

    #[test]
    fn unparsable_with_bad_encoding_characters() {
        let raw = "MSH|^^|APP^X|FAC|||T||ADT^A01|C7|P|2.5";
        let reply = ack_for_unparsable(raw, AckCode::ApplicationReject, None, "T", "A4");
        assert_eq!(
            reply,
            "MSH|^~\\&|||APP\\S\\X|FAC|T||ACK^^ACK|A4|P|2.5\rMSA|AR|C7\r"
        );
    }

    #[test]
    fn unparsable_without_header() {
        for raw in ["", "garbage", "PID|1", "MSH", "MSH\u{e9}x"] {
            let reply = ack_for_unparsable(raw, AckCode::ApplicationReject, None, "T", "A5");
            assert_eq!(
                reply, "MSH|^~\\&|||||T||ACK^^ACK|A5||2.5\rMSA|AR|\r",
                "{raw}"
            );
        }
    }
}
