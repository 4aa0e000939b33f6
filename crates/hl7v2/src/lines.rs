//! Cutting text into segments: at CR, LF or CRLF, skipping blank lines.

/// The UTF-8 byte-order mark some senders put before the first segment.
const BOM: char = '\u{feff}';

/// `text` without a leading byte-order mark.
pub(crate) fn strip_bom(text: &str) -> &str {
    text.strip_prefix(BOM).unwrap_or(text)
}

/// The byte ranges of the segments of `text`, in order, without their terminators. A segment
/// ends at CR, LF or CRLF; blank lines (empty or only ASCII whitespace) are skipped, which also
/// absorbs the empty "line" between the CR and LF of a CRLF.
///
/// The ranges always fall on char boundaries: they start and end next to a CR or LF, or at the
/// ends of the text, and CR and LF are ASCII.
pub(crate) struct SegmentSpans<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> SegmentSpans<'a> {
    pub(crate) fn new(text: &'a str) -> Self {
        SegmentSpans {
            bytes: text.as_bytes(),
            pos: 0,
        }
    }
}

impl Iterator for SegmentSpans<'_> {
    type Item = (usize, usize);

    fn next(&mut self) -> Option<(usize, usize)> {
        while let Some(rest) = self.bytes.get(self.pos..).filter(|r| !r.is_empty()) {
            let start = self.pos;
            let end = memchr::memchr2(b'\r', b'\n', rest).map_or(self.bytes.len(), |i| start + i);
            self.pos = end + 1;
            let line = self.bytes.get(start..end).unwrap_or_default();
            if !line.iter().all(u8::is_ascii_whitespace) {
                return Some((start, end));
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(text: &str) -> Vec<&str> {
        SegmentSpans::new(text)
            .map(|(s, e)| text.get(s..e).unwrap())
            .collect()
    }

    #[test]
    fn every_terminator() {
        assert_eq!(lines("A\rB\nC\r\nD"), ["A", "B", "C", "D"]);
        assert_eq!(lines("A\r\n\r\n  \n\tB\r"), ["A", "\tB"]);
        assert_eq!(lines(""), Vec::<&str>::new());
        assert_eq!(lines("\r\n\n"), Vec::<&str>::new());
    }

    #[test]
    fn bom_is_stripped_once() {
        assert_eq!(strip_bom("\u{feff}MSH"), "MSH");
        assert_eq!(strip_bom("MSH"), "MSH");
    }
}
