//! A parsed message and its parts: segments, fields, repetitions, components, subcomponents.

use std::borrow::Cow;

use crate::encoding::{Encoding, Warning};
use crate::error::{ErrorKind, ParseError};
use crate::escape::decode;
use crate::lines::{strip_bom, SegmentSpans};
use crate::path;

/// One HL7 v2 message, parsed without copying: every part borrows from the input text.
///
/// Parsing cuts the text into segments, checks the MSH header and every segment id, and
/// records where each field starts. Repetitions, components and subcomponents are found when
/// asked for, by scanning the (short) field text, so a parse costs what the mapping reads.
///
/// ```
/// use salus_hl7v2::Message;
///
/// let text = "MSH|^~\\&|LAB|HOSP|EHR|HOSP|20240101120000||ORU^R01^ORU_R01|CTRL1|P|2.5.1\r\
///             PID|1||123^^^HOSP^MR||DOE^JANE^Q~SMITH^JANE||19800101|F\r\
///             OBX|1|NM|718-7^Hemoglobin^LN||13.2|g/dL\r";
/// let msg = Message::parse(text)?;
/// assert_eq!(msg.control_id(), "CTRL1");
/// assert_eq!(msg.message_type().trigger, "R01");
/// let pid = msg.segment("PID").unwrap();
/// assert_eq!(pid.field(5).component(1).value(), "DOE");
/// assert_eq!(pid.field(5).rep(1).component(1).value(), "SMITH");
/// assert_eq!(msg.get("OBX-3.2").as_deref(), Some("Hemoglobin"));
/// # Ok::<(), salus_hl7v2::ParseError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message<'a> {
    raw: &'a str,
    encoding: Encoding,
    segments: Vec<Segment<'a>>,
    warnings: Vec<Warning>,
}

/// MSH-9, the message type, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageType<'a> {
    /// MSH-9.1, the message code: `ADT`, `ORU`, …
    pub code: Cow<'a, str>,
    /// MSH-9.2, the trigger event: `A01`, `R01`, … (empty when absent, as in old ACKs).
    pub trigger: Cow<'a, str>,
    /// MSH-9.3, the message structure: `ADT_A01`, … (empty before v2.3.1 and often after).
    pub structure: Cow<'a, str>,
}

/// An empty segment, returned by [`Message::header`] for a message that somehow has none, so
/// that accessors never panic. A parsed message always starts with its MSH.
static EMPTY_SEGMENT: Segment<'static> = Segment {
    raw: "",
    index: 0,
    encoding: Encoding::STANDARD,
    is_header: false,
    separators: Vec::new(),
};

impl<'a> Message<'a> {
    /// Parses one message.
    ///
    /// Accepts CR, LF or CRLF segment terminators, blank lines, and a leading UTF-8 byte-order
    /// mark. The delimiters come from MSH-1 and MSH-2. Segments with fewer fields than their
    /// definition are fine (missing fields read as empty); Z-segments are ordinary segments.
    ///
    /// Errors, each with its position (see [`ParseError`]): empty input; a first segment that
    /// is not MSH; an MSH too short for its encoding characters or with unusable ones; an empty
    /// MSH-9.1 (message code), MSH-10 (control id) or MSH-12.1 (version id); a segment id that
    /// is not 3 uppercase letters or digits followed by the field separator; a second MSH, or
    /// an FHS/BHS/BTS/FTS envelope segment (use [`crate::split_messages`] for files).
    ///
    /// A missing version is an error, not a warning: without it the meaning of many fields is
    /// a guess, and most interface engines reject such a message. Byte offsets in errors count
    /// from the start of `text` after any byte-order mark; [`ParseError::message_index`] is not
    /// set (see [`ParseError::with_message_index`]).
    pub fn parse(text: &'a str) -> Result<Message<'a>, ParseError> {
        let text = strip_bom(text);
        let mut spans = SegmentSpans::new(text);
        let Some((start, end)) = spans.next() else {
            return Err(ParseError::new(ErrorKind::Empty));
        };
        let first = text.get(start..end).unwrap_or_default();
        if !has_id(first, b"MSH") {
            return Err(ParseError::new(ErrorKind::MissingMsh).at_segment(0, first, start));
        }
        let (encoding, warning) = Encoding::from_header(first).map_err(|(kind, field)| {
            ParseError::new(kind)
                .at_segment(0, "MSH", start)
                .at_field(field)
        })?;
        let msh = Segment::new(first, 0, encoding, true);
        check_required_header_fields(&msh).map_err(|e| e.at_segment(0, "MSH", start))?;

        // A typical ADT or ORU message has a few dozen segments; starting there saves the
        // first few reallocations.
        let mut segments = Vec::with_capacity(32);
        segments.push(msh);
        for (index, (start, end)) in (1..).zip(spans) {
            let raw = text.get(start..end).unwrap_or_default();
            if !is_segment_id(raw.as_bytes(), encoding.field) {
                return Err(ParseError::new(ErrorKind::BadSegmentId).at_segment(index, raw, start));
            }
            if is_envelope_or_header(raw) {
                return Err(
                    ParseError::new(ErrorKind::UnexpectedHeader).at_segment(index, raw, start)
                );
            }
            segments.push(Segment::new(raw, index, encoding, false));
        }
        Ok(Message {
            raw: text,
            encoding,
            segments,
            warnings: warning.into_iter().collect(),
        })
    }

    /// The message text as given, without a leading byte-order mark.
    pub fn raw(&self) -> &'a str {
        self.raw
    }

    /// The delimiters read from MSH-1 and MSH-2.
    pub fn encoding(&self) -> &Encoding {
        &self.encoding
    }

    /// What the parser tolerated (see [`Warning`]); empty for a well-formed message.
    pub fn warnings(&self) -> &[Warning] {
        &self.warnings
    }

    /// Every segment, in message order; the MSH is first.
    pub fn segments(&self) -> &[Segment<'a>] {
        &self.segments
    }

    /// The first segment with this id (`"PID"`), if any.
    pub fn segment(&self, id: &str) -> Option<&Segment<'a>> {
        self.segments.iter().find(|s| s.id() == id)
    }

    /// Every segment with this id, in message order.
    pub fn segments_named<'s>(&'s self, id: &'s str) -> impl Iterator<Item = &'s Segment<'a>> + 's {
        self.segments.iter().filter(move |s| s.id() == id)
    }

    /// The MSH segment.
    pub fn header(&self) -> &Segment<'a> {
        self.segments.first().unwrap_or(&EMPTY_SEGMENT)
    }

    /// MSH-10, the message control id, decoded.
    pub fn control_id(&self) -> Cow<'a, str> {
        self.header().field(10).value()
    }

    /// MSH-9, the message type.
    pub fn message_type(&self) -> MessageType<'a> {
        let field = self.header().field(9);
        MessageType {
            code: field.component(1).value(),
            trigger: field.component(2).value(),
            structure: field.component(3).value(),
        }
    }

    /// MSH-12.1, the version id: `2.3`, `2.5.1`, …
    pub fn version(&self) -> Cow<'a, str> {
        self.header().field(12).value()
    }

    /// MSH-3.1, the sending application (namespace id).
    pub fn sending_application(&self) -> Cow<'a, str> {
        self.header().field(3).value()
    }

    /// MSH-4.1, the sending facility (namespace id).
    pub fn sending_facility(&self) -> Cow<'a, str> {
        self.header().field(4).value()
    }

    /// MSH-5.1, the receiving application (namespace id).
    pub fn receiving_application(&self) -> Cow<'a, str> {
        self.header().field(5).value()
    }

    /// MSH-6.1, the receiving facility (namespace id).
    pub fn receiving_facility(&self) -> Cow<'a, str> {
        self.header().field(6).value()
    }

    /// MSH-7.1, the date and time of the message, as written (`YYYYMMDDHHMMSS[.S][+ZZZZ]`).
    pub fn timestamp(&self) -> Cow<'a, str> {
        self.header().field(7).value()
    }

    /// MSH-11.1, the processing id: `P` production, `T` training, `D` debugging.
    pub fn processing_id(&self) -> Cow<'a, str> {
        self.header().field(11).value()
    }

    /// The decoded value at an HL7 path, or `None` when the path is malformed, the segment
    /// is absent, or the value is empty.
    ///
    /// Syntax: `SEG[occurrence]-FIELD[repetition].COMPONENT.SUBCOMPONENT`, every number
    /// 1-based as in HL7 documentation, every part after the field optional (default 1):
    /// `PID-5` (the first component of the first repetition, like [`Field::value`]),
    /// `PID-5.2`, `PID-5[2].1`, `PID-3.4.2`, `OBX[3]-5`. A `.` may replace the `-`.
    pub fn get(&self, path: &str) -> Option<Cow<'a, str>> {
        let (id, occurrence, rest) = path::split_segment(path)?;
        let segment = self.segments_named(id).nth(occurrence.checked_sub(1)?)?;
        segment.get(rest)
    }
}

/// Checks MSH-9.1, MSH-10 and MSH-12.1, the fields without which a message cannot be routed,
/// acknowledged or interpreted.
fn check_required_header_fields(msh: &Segment<'_>) -> Result<(), ParseError> {
    let missing = |f: Field<'_>| f.component(1).raw().trim().is_empty();
    if missing(msh.field(9)) {
        return Err(ParseError::new(ErrorKind::MissingMessageType).at_field(9));
    }
    if msh.field(10).raw().trim().is_empty() {
        return Err(ParseError::new(ErrorKind::MissingControlId).at_field(10));
    }
    if missing(msh.field(12)) {
        return Err(ParseError::new(ErrorKind::MissingVersion).at_field(12));
    }
    Ok(())
}

/// Whether `raw` starts with the segment id `id` followed by a possible field separator (any
/// non-alphanumeric byte, since for a header the separator is defined right there) or nothing.
pub(crate) fn has_id(raw: &str, id: &[u8; 3]) -> bool {
    let bytes = raw.as_bytes();
    bytes.starts_with(id) && bytes.get(3).is_none_or(|b| !b.is_ascii_alphanumeric())
}

/// Whether a segment starts with a valid id: 3 uppercase ASCII letters or digits, then the
/// field separator or the end of the segment.
fn is_segment_id(raw: &[u8], field: u8) -> bool {
    match raw {
        [a, b, c, rest @ ..] => {
            [a, b, c]
                .iter()
                .all(|x| x.is_ascii_uppercase() || x.is_ascii_digit())
                && rest.first().is_none_or(|&s| s == field)
        }
        _ => false,
    }
}

/// Whether a segment is one that can only start a message or belongs to a batch envelope.
pub(crate) fn is_envelope_or_header(raw: &str) -> bool {
    [b"MSH", b"FHS", b"BHS", b"BTS", b"FTS"]
        .iter()
        .any(|id| has_id(raw, id))
}

/// One segment: its id and fields.
///
/// Fields are numbered as in HL7: `field(0)` is the segment id and `field(1)` the first field
/// after it — except in MSH (and FHS, BHS), where `field(1)` is the field separator itself and
/// `field(2)` the encoding characters, so that `field(3)` is MSH-3 as the standard counts.
/// Those two are returned as they are, never split nor decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment<'a> {
    raw: &'a str,
    index: usize,
    encoding: Encoding,
    /// MSH, FHS or BHS: numbering shifted by one, fields 1 and 2 literal.
    is_header: bool,
    /// Byte offset of every field separator in `raw`.
    separators: Vec<usize>,
}

impl<'a> Segment<'a> {
    pub(crate) fn new(raw: &'a str, index: usize, encoding: Encoding, is_header: bool) -> Self {
        Segment {
            raw,
            index,
            encoding,
            is_header,
            separators: positions_of(encoding.field, raw.as_bytes()),
        }
    }

    /// Reads a header segment (MSH, FHS or BHS) on its own, with the encoding characters it
    /// carries.
    pub(crate) fn parse_header(
        raw: &'a str,
        index: usize,
    ) -> Result<(Segment<'a>, Option<Warning>), (ErrorKind, usize)> {
        let (encoding, warning) = Encoding::from_header(raw)?;
        Ok((Segment::new(raw, index, encoding, true), warning))
    }

    /// The segment id: `MSH`, `PID`, `ZPI`, …
    pub fn id(&self) -> &'a str {
        self.raw.get(..3).unwrap_or(self.raw)
    }

    /// Position of the segment in its message, 0-based (the MSH is 0).
    pub fn index(&self) -> usize {
        self.index
    }

    /// The segment text, without its terminator.
    pub fn raw(&self) -> &'a str {
        self.raw
    }

    /// The delimiters the segment is written with.
    pub fn encoding(&self) -> &Encoding {
        &self.encoding
    }

    /// Number of fields after the id; for MSH this counts MSH-1 (`MSH|^~\&|A` has 3). Trailing
    /// empty fields count when their separators are present.
    pub fn field_count(&self) -> usize {
        self.separators.len() + usize::from(self.is_header)
    }

    /// Field `n`, HL7 numbering (see [`Segment`]). A field beyond the end is empty.
    pub fn field(&self, n: usize) -> Field<'a> {
        if n == 0 {
            return Field::literal(self.id());
        }
        if self.is_header {
            match n {
                // The separator itself: the byte after the id.
                1 => return Field::literal(self.raw.get(3..4).unwrap_or_default()),
                2 => return Field::literal(self.piece(1)),
                _ => return Field::new(self.piece(n - 1), self.encoding),
            }
        }
        Field::new(self.piece(n), self.encoding)
    }

    /// Fields 1 to [`Segment::field_count`], in order.
    pub fn fields(&self) -> impl Iterator<Item = Field<'a>> + '_ {
        (1..=self.field_count()).map(|n| self.field(n))
    }

    /// The decoded value of a component of the first repetition of a field: shorthand for
    /// `field(field).component(component).value()`.
    pub fn text(&self, field: usize, component: usize) -> Cow<'a, str> {
        self.field(field).component(component).value()
    }

    /// The decoded value at a path within this segment, or `None` when the path is malformed
    /// or the value empty: `5`, `5.2`, `5[2].1`, `3.4.2` (field, optional 1-based repetition,
    /// component, subcomponent; see [`Message::get`]).
    pub fn get(&self, path: &str) -> Option<Cow<'a, str>> {
        let p = path::parse_field_path(path)?;
        let comp = self
            .field(p.field)
            .rep(p.repetition.checked_sub(1)?)
            .component(p.component);
        let value = comp.sub_value(p.subcomponent);
        (!value.is_empty()).then_some(value)
    }

    /// The text between separator `k - 1` and separator `k` (piece 0 is the id).
    fn piece(&self, k: usize) -> &'a str {
        let start = match k.checked_sub(1) {
            None => 0,
            Some(i) => match self.separators.get(i) {
                Some(&s) => s + 1,
                None => return "",
            },
        };
        let end = self.separators.get(k).copied().unwrap_or(self.raw.len());
        self.raw.get(start..end).unwrap_or_default()
    }
}

/// One field: one or more repetitions separated by the repetition separator.
///
/// `component` and `value` are shortcuts to the first repetition, which is all most fields
/// ever have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field<'a> {
    raw: &'a str,
    encoding: Encoding,
}

impl<'a> Field<'a> {
    fn new(raw: &'a str, encoding: Encoding) -> Self {
        Field { raw, encoding }
    }

    /// A field read as it is: MSH-1, MSH-2 and the segment id.
    fn literal(raw: &'a str) -> Self {
        Field {
            raw,
            encoding: Encoding::LITERAL,
        }
    }

    /// The field text, undecoded.
    pub fn raw(&self) -> &'a str {
        self.raw
    }

    /// Whether the field is empty (absent, or present with no value).
    pub fn is_empty(&self) -> bool {
        self.raw.is_empty()
    }

    /// Whether the field is the HL7 explicit null `""`, which tells the receiver to delete
    /// the value it holds (as opposed to an empty field, which means "no change").
    pub fn is_null(&self) -> bool {
        self.raw == "\"\""
    }

    /// The repetitions in order. An empty field has none.
    pub fn repetitions(&self) -> impl Iterator<Item = Rep<'a>> + use<'a> {
        let encoding = self.encoding;
        pieces(self.raw, encoding.repetition).map(move |raw| Rep { raw, encoding })
    }

    /// Number of repetitions (0 for an empty field).
    pub fn rep_count(&self) -> usize {
        if self.raw.is_empty() {
            0
        } else {
            pieces(self.raw, self.encoding.repetition).count()
        }
    }

    /// Repetition `i`, 0-based; empty when there is no such repetition.
    pub fn rep(&self, i: usize) -> Rep<'a> {
        Rep {
            raw: nth_piece(self.raw, self.encoding.repetition, i),
            encoding: self.encoding,
        }
    }

    /// Component `n` (1-based) of the first repetition.
    pub fn component(&self, n: usize) -> Comp<'a> {
        self.rep(0).component(n)
    }

    /// The decoded first subcomponent of the first component of the first repetition: the
    /// whole value of a simple field. The explicit null reads as `""` (two quotes); check
    /// [`Field::is_null`] when it matters.
    pub fn value(&self) -> Cow<'a, str> {
        self.component(1).value()
    }
}

/// One repetition of a field: components separated by the component separator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rep<'a> {
    raw: &'a str,
    encoding: Encoding,
}

impl<'a> Rep<'a> {
    /// The repetition text, undecoded.
    pub fn raw(&self) -> &'a str {
        self.raw
    }

    /// Whether the repetition is empty.
    pub fn is_empty(&self) -> bool {
        self.raw.is_empty()
    }

    /// Whether the repetition is the explicit null `""`.
    pub fn is_null(&self) -> bool {
        self.raw == "\"\""
    }

    /// Component `n`, 1-based; empty when there is no such component (or `n` is 0).
    pub fn component(&self, n: usize) -> Comp<'a> {
        let raw = match n.checked_sub(1) {
            Some(i) => nth_piece(self.raw, self.encoding.component, i),
            None => "",
        };
        Comp {
            raw,
            encoding: self.encoding,
        }
    }

    /// The components in order. An empty repetition has none.
    pub fn components(&self) -> impl Iterator<Item = Comp<'a>> + use<'a> {
        let encoding = self.encoding;
        pieces(self.raw, encoding.component).map(move |raw| Comp { raw, encoding })
    }

    /// The decoded value of the first component (its first subcomponent).
    pub fn value(&self) -> Cow<'a, str> {
        self.component(1).value()
    }
}

/// One component: subcomponents separated by the subcomponent separator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Comp<'a> {
    raw: &'a str,
    encoding: Encoding,
}

impl<'a> Comp<'a> {
    /// The component text, undecoded (subcomponent separators included).
    pub fn raw(&self) -> &'a str {
        self.raw
    }

    /// Whether the component is empty.
    pub fn is_empty(&self) -> bool {
        self.raw.is_empty()
    }

    /// Whether the component is the explicit null `""`.
    pub fn is_null(&self) -> bool {
        self.raw == "\"\""
    }

    /// Subcomponent `n`, 1-based, undecoded; empty when there is no such subcomponent.
    pub fn sub(&self, n: usize) -> &'a str {
        match n.checked_sub(1) {
            Some(i) => nth_piece(self.raw, self.encoding.subcomponent, i),
            None => "",
        }
    }

    /// The subcomponents in order, undecoded. An empty component has none.
    pub fn subs(&self) -> impl Iterator<Item = &'a str> + use<'a> {
        pieces(self.raw, self.encoding.subcomponent)
    }

    /// The decoded first subcomponent: the whole value of a component without subcomponents.
    pub fn value(&self) -> Cow<'a, str> {
        decode(self.sub(1), &self.encoding)
    }

    /// Subcomponent `n` (1-based), decoded.
    pub fn sub_value(&self, n: usize) -> Cow<'a, str> {
        decode(self.sub(n), &self.encoding)
    }

    /// Decodes any raw piece of text written with this component's delimiters (useful with
    /// [`Comp::subs`]).
    pub fn decode(&self, raw: &'a str) -> Cow<'a, str> {
        decode(raw, &self.encoding)
    }
}

/// Every position of `needle` in `haystack`.
///
/// Field separators are dense (one every few bytes), where `memchr`'s per-match restart costs
/// more than its SIMD scan saves; this reads 8 bytes at a time and walks the matching bits,
/// which made parsing the sample messages about twice as fast.
fn positions_of(needle: u8, haystack: &[u8]) -> Vec<usize> {
    const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    const ONES: u64 = 0x0101_0101_0101_0101;
    let pattern = ONES * u64::from(needle);
    // A guess at the field density; pushes beyond it just grow the vector.
    let mut out = Vec::with_capacity(haystack.len() / 8 + 4);
    let mut chunks = haystack.chunks_exact(8);
    let mut base = 0;
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let x = u64::from_le_bytes(word) ^ pattern;
        // High bit set exactly in the bytes of `x` that are zero, i.e. that matched: the low
        // seven bits are summed without carrying across bytes.
        let mut hits = !(((x & LOW7) + LOW7) | x | LOW7);
        while hits != 0 {
            out.push(base + (hits.trailing_zeros() / 8) as usize);
            hits &= hits - 1;
        }
        base += 8;
    }
    for (i, &b) in chunks.remainder().iter().enumerate() {
        if b == needle {
            out.push(base + i);
        }
    }
    out
}

/// The pieces of `raw` between `delim` bytes; none for empty text (so an empty field has no
/// repetitions, rather than one empty one).
fn pieces(raw: &str, delim: u8) -> Pieces<'_> {
    Pieces {
        rest: (!raw.is_empty()).then_some(raw),
        delim,
    }
}

/// Iterator of [`pieces`]. Fields and components are short, so a plain byte loop beats both
/// `str::split` and `memchr`, whose set-up cost is paid again for every piece.
struct Pieces<'a> {
    /// What is left to split; `None` once the last piece has been yielded.
    rest: Option<&'a str>,
    delim: u8,
}

impl<'a> Iterator for Pieces<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        let rest = self.rest?;
        match rest.bytes().position(|b| b == self.delim) {
            Some(i) => {
                // `delim` is ASCII, so both sides of it are char boundaries.
                self.rest = Some(rest.get(i + 1..).unwrap_or_default());
                Some(rest.get(..i).unwrap_or_default())
            }
            None => {
                self.rest = None;
                Some(rest)
            }
        }
    }
}

/// Piece `i` (0-based) of `raw` between `delim` bytes, or `""` when there are fewer.
fn nth_piece(raw: &str, delim: u8, i: usize) -> &str {
    let mut start = 0;
    let mut seen = 0;
    for (pos, b) in raw.bytes().enumerate() {
        if b == delim {
            if seen == i {
                return raw.get(start..pos).unwrap_or_default();
            }
            seen += 1;
            start = pos + 1;
        }
    }
    if seen == i {
        raw.get(start..).unwrap_or_default()
    } else {
        ""
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod positions_tests {
    use super::positions_of;

    #[test]
    fn finds_every_position() {
        for text in [
            "",
            "|",
            "a|b||c",
            "||||||||",
            "|||||||||",
            "0123456|89|",
            "é|ü|\u{80}|",
        ] {
            let expected: Vec<usize> = text
                .bytes()
                .enumerate()
                .filter(|(_, b)| *b == b'|')
                .map(|(i, _)| i)
                .collect();
            assert_eq!(positions_of(b'|', text.as_bytes()), expected, "{text}");
        }
        let all: Vec<u8> = (0..=255).collect();
        for needle in 0..=255u8 {
            assert_eq!(positions_of(needle, &all), vec![usize::from(needle)]);
        }
    }
}
