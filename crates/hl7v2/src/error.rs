//! Parse errors, with the position of the fault in the message or file.

use std::fmt;

/// Why a message (or a file of messages) could not be read.
///
/// The position fields are filled as precisely as the fault allows; [`ParseError::kind`] says
/// what went wrong. Positions are stored 0-based (like [`crate::Segment::index`] and the indices
/// yielded by [`crate::split_messages`]); the field number is the HL7 field number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{location}{kind}")]
pub struct ParseError {
    /// Where the fault is (boxed: errors are rare, and a small `Result` keeps the success
    /// path cheap).
    pub location: Box<Location>,
    /// What the fault is.
    pub kind: ErrorKind,
}

/// Where a [`ParseError`] was found. Every part is optional: a file-level fault has no segment,
/// a segment-level fault no field.
///
/// Its `Display` is meant for people and so counts messages and segments from 1, the way HL7's
/// own ERR-2 segment sequence does: `message 3, segment 2 (PID), field 5: ` is the fifth field
/// of the second segment (a PID) of the third message. It is empty when nothing is known.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Location {
    /// 0-based index of the message in its file, set by the splitter or the caller
    /// ([`ParseError::with_message_index`]); `None` for a message parsed on its own.
    pub message_index: Option<usize>,
    /// 0-based index of the segment in the message (MSH is 0).
    pub segment_index: Option<usize>,
    /// The segment id as found (at most 8 characters of it when it is malformed).
    pub segment_id: Option<String>,
    /// HL7 field number (MSH-1 is the field separator).
    pub field: Option<usize>,
    /// Byte offset of the faulty segment: from the start of the message text for
    /// [`crate::Message::parse`], from the start of the whole text for the splitter.
    pub byte_offset: Option<usize>,
}

impl Location {
    /// The segment id as it may be shown to people (messages, ACKs, reports): only when it
    /// could be one (one to three ASCII capitals or digits). The start of a malformed line is
    /// often patient data (a name cut off by a stray line break), so it is never echoed.
    pub fn reportable_segment_id(&self) -> Option<&str> {
        self.segment_id.as_deref().filter(|id| {
            (1..=3).contains(&id.len())
                && id
                    .bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
        })
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = 0;
        let mut sep = |f: &mut fmt::Formatter<'_>| {
            parts += 1;
            if parts > 1 {
                f.write_str(", ")
            } else {
                Ok(())
            }
        };
        if let Some(m) = self.message_index {
            sep(f)?;
            write!(f, "message {}", m.saturating_add(1))?;
        }
        match (self.segment_index, self.reportable_segment_id()) {
            (Some(s), Some(id)) => {
                sep(f)?;
                write!(f, "segment {} ({id})", s.saturating_add(1))?;
            }
            (Some(s), None) => {
                sep(f)?;
                write!(f, "segment {}", s.saturating_add(1))?;
            }
            (None, Some(id)) => {
                sep(f)?;
                write!(f, "segment {id}")?;
            }
            (None, None) => {}
        }
        if let Some(field) = self.field {
            sep(f)?;
            write!(f, "field {field}")?;
        }
        if self.message_index.is_none()
            && self.segment_index.is_none()
            && self.segment_id.is_none()
            && self.field.is_none()
        {
            if let Some(offset) = self.byte_offset {
                sep(f)?;
                write!(f, "byte {offset}")?;
            }
        }
        if parts > 0 {
            f.write_str(": ")?;
        }
        Ok(())
    }
}

/// What went wrong. The text of each variant is the plain reason shown after the location.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ErrorKind {
    /// No segment at all: the input is empty or only blank lines.
    #[error("empty input: no segments")]
    Empty,
    /// The first segment is not MSH.
    #[error("the message does not start with an MSH segment")]
    MissingMsh,
    /// The MSH (or FHS/BHS) segment is too short to hold the field separator and the four
    /// encoding characters.
    #[error("header segment too short to hold the field separator and encoding characters")]
    HeaderTooShort,
    /// MSH-1 or MSH-2 (or FHS/BHS-1/-2) is not a usable set of delimiters.
    #[error("bad encoding characters: {0}")]
    BadEncoding(&'static str),
    /// A segment id that is not 3 uppercase ASCII letters or digits followed by the field
    /// separator.
    #[error("segment id must be 3 uppercase letters or digits followed by the field separator")]
    BadSegmentId,
    /// A header or envelope segment (MSH, FHS, BHS, BTS, FTS) after the start of a message:
    /// several messages or a batch were given to [`crate::Message::parse`].
    #[error("header or batch segment inside a message; use split_messages for files and batches")]
    UnexpectedHeader,
    /// MSH-9.1 (message code) is empty.
    #[error("MSH-9 message type is missing")]
    MissingMessageType,
    /// MSH-10 (message control id) is empty.
    #[error("MSH-10 message control id is missing")]
    MissingControlId,
    /// MSH-12.1 (version id) is empty.
    #[error("MSH-12 version id is missing")]
    MissingVersion,
    /// The bytes are not valid UTF-8 (see [`crate::utf8_text`]); the offset is in the location.
    #[error("invalid UTF-8")]
    InvalidUtf8,
    /// Segments that belong to no message: before the first MSH, or between a batch trailer and
    /// the next header. Reported once per run of such segments.
    #[error("segment outside any message (before the first MSH or after a batch trailer)")]
    OutsideMessage,
    /// A BTS-1 or FTS-1 count that is not a number.
    #[error("{trailer}-1 count is not a number")]
    BadCount {
        /// `"BTS"` or `"FTS"`.
        trailer: &'static str,
    },
    /// A BTS-1 (messages in the batch) or FTS-1 (batches in the file) count that differs from
    /// what was found.
    #[error("{trailer}-1 declares {declared}, found {found}")]
    CountMismatch {
        /// `"BTS"` or `"FTS"`.
        trailer: &'static str,
        /// The count written in the trailer.
        declared: u64,
        /// The count of messages (BTS) or batches (FTS) actually seen.
        found: usize,
    },
}

impl ErrorKind {
    /// The HL7 table 0357 (message error condition) code that best describes this fault, for
    /// ERR-3 of an acknowledgement: 100 segment sequence error, 101 required field missing,
    /// 102 data type error.
    pub fn hl7_error_code(&self) -> u16 {
        match self {
            ErrorKind::Empty
            | ErrorKind::MissingMsh
            | ErrorKind::BadSegmentId
            | ErrorKind::UnexpectedHeader
            | ErrorKind::OutsideMessage
            | ErrorKind::CountMismatch { .. } => 100,
            ErrorKind::HeaderTooShort
            | ErrorKind::MissingMessageType
            | ErrorKind::MissingControlId
            | ErrorKind::MissingVersion => 101,
            ErrorKind::BadEncoding(_) | ErrorKind::InvalidUtf8 | ErrorKind::BadCount { .. } => 102,
        }
    }
}

impl ParseError {
    /// An error of this kind with no position yet.
    pub fn new(kind: ErrorKind) -> Self {
        ParseError {
            location: Box::default(),
            kind,
        }
    }

    /// Sets the segment position (0-based index, id as found, byte offset of the segment).
    pub(crate) fn at_segment(mut self, index: usize, id: &str, byte_offset: usize) -> Self {
        self.location.segment_index = Some(index);
        self.location.segment_id = Some(short_id(id));
        self.location.byte_offset = Some(byte_offset);
        self
    }

    /// Sets the HL7 field number.
    pub(crate) fn at_field(mut self, field: usize) -> Self {
        self.location.field = Some(field);
        self
    }

    /// Sets the byte offset alone (file-level faults).
    pub(crate) fn at_offset(mut self, byte_offset: usize) -> Self {
        self.location.byte_offset = Some(byte_offset);
        self
    }

    /// Records which message of a file this error belongs to (0-based). The splitter does it
    /// for its own errors; callers do it for errors from [`crate::Message::parse`].
    pub fn with_message_index(mut self, index: usize) -> Self {
        self.location.message_index = Some(index);
        self
    }

    /// What went wrong.
    pub fn kind(&self) -> &ErrorKind {
        &self.kind
    }

    /// 0-based index of the message in its file, if known.
    pub fn message_index(&self) -> Option<usize> {
        self.location.message_index
    }

    /// 0-based index of the segment in its message, if known.
    pub fn segment_index(&self) -> Option<usize> {
        self.location.segment_index
    }

    /// The segment id as found, if known.
    pub fn segment_id(&self) -> Option<&str> {
        self.location.segment_id.as_deref()
    }

    /// The segment id when it may be shown to people; see [`Location::reportable_segment_id`].
    pub fn reportable_segment_id(&self) -> Option<&str> {
        self.location.reportable_segment_id()
    }

    /// HL7 field number, if the fault is in one field.
    pub fn field(&self) -> Option<usize> {
        self.location.field
    }

    /// Byte offset of the faulty segment (see [`Location::byte_offset`]).
    pub fn byte_offset(&self) -> Option<usize> {
        self.location.byte_offset
    }
}

/// The segment id for an error report: the text up to the first non-alphanumeric character,
/// at most 8 characters, so a garbage line does not end up whole in a log.
fn short_id(raw: &str) -> String {
    raw.chars()
        .take_while(|c| c.is_alphanumeric())
        .take(8)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_with_full_location() {
        let e = ParseError::new(ErrorKind::MissingVersion)
            .at_segment(1, "PID", 40)
            .at_field(5)
            .with_message_index(2);
        assert_eq!(
            e.to_string(),
            "message 3, segment 2 (PID), field 5: MSH-12 version id is missing"
        );
    }

    #[test]
    fn display_without_location_is_the_reason() {
        assert_eq!(
            ParseError::new(ErrorKind::Empty).to_string(),
            "empty input: no segments"
        );
        assert_eq!(
            ParseError::new(ErrorKind::InvalidUtf8)
                .at_offset(7)
                .to_string(),
            "byte 7: invalid UTF-8"
        );
    }

    #[test]
    fn malformed_ids_are_shortened() {
        let e = ParseError::new(ErrorKind::BadSegmentId).at_segment(0, "abcdefghijkl|x", 0);
        assert_eq!(e.segment_id(), Some("abcdefgh"));
        let e = ParseError::new(ErrorKind::BadSegmentId).at_segment(0, "P^D|", 0);
        assert_eq!(e.segment_id(), Some("P"));
    }

    #[test]
    fn codes_follow_table_0357() {
        assert_eq!(ErrorKind::MissingControlId.hl7_error_code(), 101);
        assert_eq!(ErrorKind::MissingMsh.hl7_error_code(), 100);
        assert_eq!(ErrorKind::BadEncoding("x").hl7_error_code(), 102);
    }
}
