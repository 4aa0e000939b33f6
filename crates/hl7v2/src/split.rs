//! Files of several messages, and the FHS/BHS/BTS/FTS batch envelope around them.

use std::borrow::Cow;

use crate::error::{ErrorKind, ParseError};
use crate::lines::{strip_bom, SegmentSpans};
use crate::message::{has_id, is_envelope_or_header, Message, Segment};

/// What [`split_batch`] finds in a file, in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece<'a> {
    /// One message: from its MSH to the end of its last segment (without the terminator).
    Message {
        /// 0-based index of the message in the file (errors and envelopes do not count).
        index: usize,
        /// The message text, ready for [`Message::parse`].
        text: &'a str,
        /// Byte offset of the MSH in the text given to the splitter.
        byte_offset: usize,
    },
    /// An FHS file header.
    FileHeader(Envelope<'a>),
    /// A BHS batch header.
    BatchHeader(Envelope<'a>),
    /// A BTS batch trailer, with the number of messages seen since the batch header.
    BatchTrailer(Trailer<'a>),
    /// An FTS file trailer, with the number of batch headers seen since the file header.
    FileTrailer(Trailer<'a>),
    /// Something that is neither a message nor an envelope segment (segments before the first
    /// MSH, or between a trailer and the next header), or an unreadable FHS/BHS.
    Error(ParseError),
}

/// An FHS or BHS header segment, read with the encoding characters it carries (FHS-1/-2,
/// BHS-1/-2), which need not be those of the messages inside.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope<'a> {
    segment: Segment<'a>,
    byte_offset: usize,
}

impl<'a> Envelope<'a> {
    /// The segment, numbered like MSH (`field(3)` is the sending application).
    pub fn segment(&self) -> &Segment<'a> {
        &self.segment
    }

    /// `"FHS"` or `"BHS"`.
    pub fn id(&self) -> &'a str {
        self.segment.id()
    }

    /// Byte offset of the segment in the text given to the splitter.
    pub fn byte_offset(&self) -> usize {
        self.byte_offset
    }

    /// FHS/BHS-3.1, the sending application.
    pub fn sending_application(&self) -> Cow<'a, str> {
        self.segment.field(3).value()
    }

    /// FHS/BHS-4.1, the sending facility.
    pub fn sending_facility(&self) -> Cow<'a, str> {
        self.segment.field(4).value()
    }

    /// FHS/BHS-5.1, the receiving application.
    pub fn receiving_application(&self) -> Cow<'a, str> {
        self.segment.field(5).value()
    }

    /// FHS/BHS-6.1, the receiving facility.
    pub fn receiving_facility(&self) -> Cow<'a, str> {
        self.segment.field(6).value()
    }

    /// FHS/BHS-7.1, when the file or batch was created, as written.
    pub fn created(&self) -> Cow<'a, str> {
        self.segment.field(7).value()
    }

    /// FHS-9 file name/id/type, or BHS-9 batch name/id/type (first component).
    pub fn name(&self) -> Cow<'a, str> {
        self.segment.field(9).value()
    }

    /// FHS/BHS-10, the header comment.
    pub fn comment(&self) -> Cow<'a, str> {
        self.segment.field(10).value()
    }

    /// FHS-11 file control id, or BHS-11 batch control id.
    pub fn control_id(&self) -> Cow<'a, str> {
        self.segment.field(11).value()
    }

    /// FHS/BHS-12, the control id of the file or batch this one replaces or answers.
    pub fn reference_control_id(&self) -> Cow<'a, str> {
        self.segment.field(12).value()
    }
}

/// A BTS or FTS trailer and the count it can be checked against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trailer<'a> {
    raw: &'a str,
    byte_offset: usize,
    /// Messages (BTS) or batches (FTS) seen since the matching header, or since the start of
    /// the file when there was none.
    pub found: usize,
}

impl<'a> Trailer<'a> {
    /// The segment text.
    pub fn raw(&self) -> &'a str {
        self.raw
    }

    /// `"BTS"` or `"FTS"`.
    pub fn id(&self) -> &'a str {
        self.raw.get(..3).unwrap_or(self.raw)
    }

    /// Byte offset of the segment in the text given to the splitter.
    pub fn byte_offset(&self) -> usize {
        self.byte_offset
    }

    /// Field `n` of the trailer, undecoded. A trailer has no encoding characters of its own;
    /// only its field separator (the byte after the id) is used here.
    pub fn field(&self, n: usize) -> &'a str {
        let Some(&separator) = self.raw.as_bytes().get(3) else {
            return "";
        };
        // The separator must be ASCII for the split below to fall on char boundaries.
        if !separator.is_ascii() || n == 0 {
            return if n == 0 { self.id() } else { "" };
        }
        self.raw.split(char::from(separator)).nth(n).unwrap_or("")
    }

    /// BTS-1 (batch message count) or FTS-1 (file batch count) as written, trimmed.
    pub fn declared_text(&self) -> &'a str {
        self.field(1).trim()
    }

    /// The declared count, when BTS-1 / FTS-1 holds a number.
    pub fn declared(&self) -> Option<u64> {
        self.declared_text().parse().ok()
    }

    /// Checks the declared count against the one found: `Ok` when they agree or when no count
    /// is declared (it is optional); [`ErrorKind::CountMismatch`] or [`ErrorKind::BadCount`]
    /// otherwise, located at the trailer.
    pub fn check(&self) -> Result<(), ParseError> {
        let trailer = if self.id() == "FTS" { "FTS" } else { "BTS" };
        let text = self.declared_text();
        if text.is_empty() {
            return Ok(());
        }
        let error = match text.parse::<u64>() {
            Ok(declared) if usize::try_from(declared).ok() == Some(self.found) => return Ok(()),
            Ok(declared) => ErrorKind::CountMismatch {
                trailer,
                declared,
                found: self.found,
            },
            Err(_) => ErrorKind::BadCount { trailer },
        };
        let mut e = ParseError::new(error)
            .at_offset(self.byte_offset)
            .at_field(1);
        e.location.segment_id = Some(trailer.to_string());
        Err(e)
    }
}

/// Walks a file and yields its messages, envelope segments and stray text, in order.
///
/// A message starts at each MSH and runs until the next MSH, envelope segment or the end.
/// Byte offsets count from the start of `text` (a leading byte-order mark included).
pub fn split_batch(text: &str) -> SplitBatch<'_> {
    let stripped = strip_bom(text);
    SplitBatch {
        text: stripped,
        base: text.len() - stripped.len(),
        spans: SegmentSpans::new(stripped),
        pending: None,
        messages: 0,
        messages_in_batch: 0,
        batches_in_file: 0,
    }
}

/// The iterator of [`split_batch`].
pub struct SplitBatch<'a> {
    text: &'a str,
    /// Length of the byte-order mark that was skipped, to report offsets in the caller's text.
    base: usize,
    spans: SegmentSpans<'a>,
    /// A segment read ahead: the one that ended the previous message or stray run.
    pending: Option<(usize, usize)>,
    messages: usize,
    messages_in_batch: usize,
    batches_in_file: usize,
}

impl<'a> SplitBatch<'a> {
    fn next_span(&mut self) -> Option<(usize, usize)> {
        self.pending.take().or_else(|| self.spans.next())
    }

    fn slice(&self, (start, end): (usize, usize)) -> &'a str {
        self.text.get(start..end).unwrap_or_default()
    }

    /// Consumes segments until one that `stop` accepts (kept for the next call); returns the
    /// end of the last segment consumed, or `end` when none was.
    fn run_until(&mut self, mut end: usize, stop: impl Fn(&str) -> bool) -> usize {
        while let Some(span) = self.spans.next() {
            if stop(self.slice(span)) {
                self.pending = Some(span);
                break;
            }
            end = span.1;
        }
        end
    }

    fn envelope(&self, raw: &'a str, start: usize) -> Result<Envelope<'a>, ParseError> {
        let byte_offset = self.base + start;
        Segment::parse_header(raw, 0)
            .map(|(segment, _)| Envelope {
                segment,
                byte_offset,
            })
            .map_err(|(kind, field)| {
                let mut e = ParseError::new(kind).at_offset(byte_offset).at_field(field);
                e.location.segment_id = raw.get(..3).map(str::to_string);
                e
            })
    }
}

impl<'a> Iterator for SplitBatch<'a> {
    type Item = Piece<'a>;

    fn next(&mut self) -> Option<Piece<'a>> {
        let span = self.next_span()?;
        let (start, end) = span;
        let line = self.slice(span);
        let piece = if has_id(line, b"MSH") {
            let end = self.run_until(end, is_envelope_or_header);
            let index = self.messages;
            self.messages += 1;
            self.messages_in_batch += 1;
            Piece::Message {
                index,
                text: self.text.get(start..end).unwrap_or_default(),
                byte_offset: self.base + start,
            }
        } else if has_id(line, b"FHS") {
            self.batches_in_file = 0;
            self.envelope(line, start)
                .map_or_else(Piece::Error, Piece::FileHeader)
        } else if has_id(line, b"BHS") {
            self.batches_in_file += 1;
            self.messages_in_batch = 0;
            self.envelope(line, start)
                .map_or_else(Piece::Error, Piece::BatchHeader)
        } else if has_id(line, b"BTS") {
            let found = std::mem::take(&mut self.messages_in_batch);
            Piece::BatchTrailer(Trailer {
                raw: line,
                byte_offset: self.base + start,
                found,
            })
        } else if has_id(line, b"FTS") {
            let found = std::mem::take(&mut self.batches_in_file);
            Piece::FileTrailer(Trailer {
                raw: line,
                byte_offset: self.base + start,
                found,
            })
        } else {
            // Stray segments: one error for the whole run, located at its first segment.
            self.run_until(end, is_envelope_or_header);
            let mut e = ParseError::new(ErrorKind::OutsideMessage).at_offset(self.base + start);
            e.location.segment_id = Some(
                line.chars()
                    .take_while(|c| c.is_alphanumeric())
                    .take(8)
                    .collect(),
            );
            Piece::Error(e)
        };
        Some(piece)
    }
}

/// Splits a file into its messages: `Ok((index, text))` for each, 0-based, in order.
///
/// Batch envelopes (FHS, BHS, BTS, FTS) are recognised and skipped; the last headers seen are
/// available from [`Messages::file_header`] and [`Messages::batch_header`], and the counts in
/// BTS-1 and FTS-1 are checked: a mismatch is an `Err` item where the trailer was. Segments
/// that belong to no message (before the first MSH, or after a trailer) are an `Err` item too,
/// never dropped silently. A file without any envelope is just its messages.
///
/// ```
/// use salus_hl7v2::split_messages;
///
/// let file = "BHS|^~\\&|APP\rMSH|^~\\&|A||||||ADT^A01|1|P|2.5\rPID|1\r\
///             MSH|^~\\&|A||||||ADT^A01|2|P|2.5\rBTS|2\r";
/// let texts: Vec<_> = split_messages(file).collect::<Result<_, _>>()?;
/// assert_eq!(texts.len(), 2);
/// assert_eq!(texts[0], (0, "MSH|^~\\&|A||||||ADT^A01|1|P|2.5\rPID|1"));
/// # Ok::<(), salus_hl7v2::ParseError>(())
/// ```
pub fn split_messages(text: &str) -> Messages<'_> {
    Messages {
        pieces: split_batch(text),
        file_header: None,
        batch_header: None,
    }
}

/// The iterator of [`split_messages`].
pub struct Messages<'a> {
    pieces: SplitBatch<'a>,
    file_header: Option<Envelope<'a>>,
    batch_header: Option<Envelope<'a>>,
}

impl<'a> Messages<'a> {
    /// The FHS seen so far, if any.
    pub fn file_header(&self) -> Option<&Envelope<'a>> {
        self.file_header.as_ref()
    }

    /// The BHS of the current (or last) batch, if any.
    pub fn batch_header(&self) -> Option<&Envelope<'a>> {
        self.batch_header.as_ref()
    }
}

impl<'a> Iterator for Messages<'a> {
    type Item = Result<(usize, &'a str), ParseError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            match self.pieces.next()? {
                Piece::Message { index, text, .. } => return Some(Ok((index, text))),
                Piece::Error(e) => return Some(Err(e)),
                Piece::FileHeader(h) => self.file_header = Some(h),
                Piece::BatchHeader(h) => self.batch_header = Some(h),
                Piece::BatchTrailer(t) | Piece::FileTrailer(t) => {
                    if let Err(e) = t.check() {
                        return Some(Err(e));
                    }
                }
            }
        }
    }
}

/// Splits a file and parses each message; parse errors carry the message index.
pub fn parse_messages(text: &str) -> impl Iterator<Item = Result<Message<'_>, ParseError>> {
    split_messages(text).map(|item| {
        let (index, text) = item?;
        Message::parse(text).map_err(|e| e.with_message_index(index))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const MSG1: &str = "MSH|^~\\&|A|F|||||ADT^A01|C1|P|2.5\rPID|1||X";
    const MSG2: &str = "MSH#!~$&#A#F#####ORU!R01#C2#P#2.5\rOBX#1";

    #[test]
    fn plain_file_of_messages() {
        let file = format!("{MSG1}\r{MSG2}\r");
        let got: Vec<_> = split_messages(&file).collect();
        assert_eq!(got, vec![Ok((0, MSG1)), Ok((1, MSG2))]);
    }

    #[test]
    fn terminators_bom_and_blank_lines() {
        let file = format!(
            "\u{feff}\r\n{}\r\n\r\n{}\n\n",
            MSG1.replace('\r', "\r\n"),
            MSG2.replace('\r', "\n")
        );
        let got: Vec<_> = split_messages(&file).map(|r| r.unwrap().1).collect();
        assert_eq!(
            got,
            vec![MSG1.replace('\r', "\r\n"), MSG2.replace('\r', "\n")]
        );
        assert!(parse_messages(&file).all(|m| m.is_ok()));
    }

    #[test]
    fn full_batch_envelope() {
        let file = format!(
            "FHS|^~\\&|FAPP|FFAC|||20240101||file.hl7|file comment|F001\r\
             BHS#!~$&#BAPP#BFAC#######B001\r{MSG1}\r{MSG2}\rBTS|2|batch done\rFTS|1\r"
        );
        let pieces: Vec<_> = split_batch(&file).collect();
        assert_eq!(pieces.len(), 6);
        let Piece::FileHeader(fhs) = &pieces[0] else {
            panic!("{:?}", pieces[0])
        };
        assert_eq!(fhs.id(), "FHS");
        assert_eq!(fhs.sending_application(), "FAPP");
        assert_eq!(fhs.name(), "file.hl7");
        assert_eq!(fhs.comment(), "file comment");
        assert_eq!(fhs.control_id(), "F001");
        let Piece::BatchHeader(bhs) = &pieces[1] else {
            panic!("{:?}", pieces[1])
        };
        // The BHS carries its own delimiters.
        assert_eq!(bhs.segment().encoding().field_separator(), '#');
        assert_eq!(bhs.sending_facility(), "BFAC");
        assert_eq!(bhs.control_id(), "B001");
        assert!(matches!(
            pieces[2],
            Piece::Message {
                index: 0,
                text: MSG1,
                ..
            }
        ));
        assert!(matches!(
            pieces[3],
            Piece::Message {
                index: 1,
                text: MSG2,
                ..
            }
        ));
        let Piece::BatchTrailer(bts) = &pieces[4] else {
            panic!("{:?}", pieces[4])
        };
        assert_eq!((bts.declared(), bts.found), (Some(2), 2));
        assert_eq!(bts.field(2), "batch done");
        assert!(bts.check().is_ok());
        let Piece::FileTrailer(fts) = &pieces[5] else {
            panic!("{:?}", pieces[5])
        };
        assert_eq!((fts.declared(), fts.found), (Some(1), 1));

        let mut messages = split_messages(&file);
        assert_eq!(messages.next(), Some(Ok((0, MSG1))));
        assert_eq!(
            messages.file_header().map(|h| h.control_id()),
            Some("F001".into())
        );
        assert_eq!(
            messages.batch_header().map(|h| h.control_id()),
            Some("B001".into())
        );
        assert_eq!(messages.next(), Some(Ok((1, MSG2))));
        assert_eq!(messages.next(), None);
    }

    #[test]
    fn batch_count_mismatch_is_reported() {
        let file = format!("BHS|^~\\&\r{MSG1}\rBTS|3\rFTS|x\r");
        let got: Vec<_> = split_messages(&file).collect();
        assert_eq!(got.len(), 3);
        assert_eq!(got[0], Ok((0, MSG1)));
        let e = got[1].clone().unwrap_err();
        assert_eq!(
            e.kind,
            ErrorKind::CountMismatch {
                trailer: "BTS",
                declared: 3,
                found: 1
            }
        );
        assert_eq!(e.byte_offset(), Some(9 + MSG1.len() + 1));
        assert_eq!(
            e.to_string(),
            "segment BTS, field 1: BTS-1 declares 3, found 1"
        );
        let e = got[2].clone().unwrap_err();
        assert_eq!(e.kind, ErrorKind::BadCount { trailer: "FTS" });
    }

    #[test]
    fn empty_counts_are_not_checked() {
        let file = format!("BHS|^~\\&\r{MSG1}\rBTS\rFTS||comment\r");
        assert_eq!(split_messages(&file).count(), 1);
        assert!(split_messages(&file).all(|r| r.is_ok()));
    }

    #[test]
    fn stray_text_before_the_first_msh_is_an_error() {
        let file = format!("hello\rworld\r{MSG1}\r");
        let got: Vec<_> = split_messages(&file).collect();
        assert_eq!(got.len(), 2);
        let e = got[0].clone().unwrap_err();
        assert_eq!(e.kind, ErrorKind::OutsideMessage);
        assert_eq!(e.byte_offset(), Some(0));
        assert_eq!(e.segment_id(), Some("hello"));
        assert_eq!(got[1], Ok((0, MSG1)));
    }

    #[test]
    fn stray_segments_after_a_trailer_are_an_error() {
        let file = format!("{MSG1}\rBTS|1\rPID|1\rPV1|1\r{MSG2}");
        let got: Vec<_> = split_messages(&file).collect();
        assert_eq!(got.len(), 3);
        let e = got[1].clone().unwrap_err();
        assert_eq!(e.kind, ErrorKind::OutsideMessage);
        assert_eq!(e.byte_offset(), Some(MSG1.len() + 7));
        assert_eq!(got[2], Ok((1, MSG2)));
    }

    #[test]
    fn offsets_count_the_bom() {
        let file = format!("\u{feff}junk\r{MSG1}");
        let pieces: Vec<_> = split_batch(&file).collect();
        assert!(matches!(&pieces[0], Piece::Error(e) if e.byte_offset() == Some(3)));
        assert!(matches!(pieces[1], Piece::Message { byte_offset: 8, .. }));
    }

    #[test]
    fn unreadable_batch_header_is_an_error_item() {
        let file = format!("BHS|^^\\&\r{MSG1}");
        let got: Vec<_> = split_messages(&file).collect();
        assert!(
            matches!(&got[0], Err(e) if matches!(e.kind, ErrorKind::BadEncoding(_)) && e.field() == Some(2))
        );
        assert_eq!(got[1], Ok((0, MSG1)));
    }

    #[test]
    fn parse_errors_carry_the_message_index() {
        let file = format!("{MSG1}\rMSH|^~\\&|A|||||||C3|P|2.5\r");
        let got: Vec<_> = parse_messages(&file).collect();
        assert!(got[0].is_ok());
        let e = got[1].clone().unwrap_err();
        assert_eq!(e.kind, ErrorKind::MissingMessageType);
        assert_eq!(
            e.to_string(),
            "message 2, segment 1 (MSH), field 9: MSH-9 message type is missing"
        );
    }

    #[test]
    fn empty_file_has_no_messages() {
        assert_eq!(split_messages("").count(), 0);
        assert_eq!(split_messages("\r\n \r\n").count(), 0);
    }
}
