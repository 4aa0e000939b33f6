//! Format detection from the first bytes of a stream.

use std::fmt;

/// An input format, as named by `--format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Auto,
    Ndjson,
    Bundle,
    Hl7v2,
    Ccda,
    Csv,
    /// CDC/ATSDR Social Vulnerability Index table (reference data, not resources).
    Svi,
    /// HUD-USPS ZIP → county crosswalk (reference data).
    ZipCounty,
    /// Nothing but white space.
    Empty,
    /// None of the above.
    Unknown,
}

impl Format {
    /// Parse a `--format` value.
    pub fn from_name(name: &str) -> Option<Format> {
        Some(match name {
            "auto" => Format::Auto,
            "ndjson" => Format::Ndjson,
            "bundle" | "json" => Format::Bundle,
            "hl7v2" => Format::Hl7v2,
            "ccda" => Format::Ccda,
            "csv" => Format::Csv,
            "svi" => Format::Svi,
            "zip-county" => Format::ZipCounty,
            _ => return None,
        })
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Format::Auto => "auto",
            Format::Ndjson => "ndjson",
            Format::Bundle => "bundle",
            Format::Hl7v2 => "hl7v2",
            Format::Ccda => "ccda",
            Format::Csv => "csv",
            Format::Svi => "svi",
            Format::ZipCounty => "zip-county",
            Format::Empty => "empty",
            Format::Unknown => "unknown",
        })
    }
}

/// Guess the format from the start of a stream (at least the first few KiB when available).
///
/// JSON whose first line is a complete value on its own is NDJSON (a one-line Bundle in it is
/// expanded all the same); a pretty-printed document (a Bundle or one resource) starts with a
/// line holding only `{`.
pub fn detect(head: &[u8]) -> Format {
    let head = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
    let start = match head.iter().position(|b| !b.is_ascii_whitespace()) {
        Some(at) => &head[at..],
        None => return Format::Empty,
    };
    match start[0] {
        b'{' | b'[' => {
            let mut lines = start.split(|&b| b == b'\n');
            let first = lines.next().unwrap_or_default();
            if first.trim_ascii() == b"{" || first.trim_ascii() == b"[" {
                return Format::Bundle; // a pretty-printed document
            }
            if parses_alone(first) {
                return Format::Ndjson;
            }
            // The first line is broken. NDJSON if another line stands alone (or there is no
            // other line, so that the error is reported by line); a document otherwise.
            let mut others = lines
                .filter(|l| !l.trim_ascii().is_empty())
                .take(50)
                .peekable();
            if others.peek().is_none() {
                return Format::Ndjson;
            }
            if others.any(parses_alone) {
                Format::Ndjson
            } else {
                Format::Bundle
            }
        }
        b'<' => Format::Ccda,
        // MLLP's start byte, or a header segment with any field separator (MSH-1 says which).
        0x0b => Format::Hl7v2,
        _ if start.len() > 3
            && (start.starts_with(b"MSH")
                || start.starts_with(b"FHS")
                || start.starts_with(b"BHS"))
            && start[3].is_ascii_punctuation() =>
        {
            Format::Hl7v2
        }
        _ => Format::Unknown,
    }
}

fn parses_alone(line: &[u8]) -> bool {
    serde_json::from_slice::<serde::de::IgnoredAny>(line).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_formats() {
        assert_eq!(
            detect(b"{\"resourceType\":\"Patient\"}\n{\"resourceType\":\"Patient\"}\n"),
            Format::Ndjson
        );
        assert_eq!(
            detect(b"{\n  \"resourceType\": \"Bundle\",\n"),
            Format::Bundle
        );
        assert_eq!(
            detect(b"\xEF\xBB\xBF{\"resourceType\":\"Bundle\",\"type\":\"collection\"}"),
            Format::Ndjson
        );
        assert_eq!(
            detect(b"{\"resourceType\":\"Patient\",\"id\":\"x\"}"),
            Format::Ndjson
        );
        assert_eq!(detect(b"  \n "), Format::Empty);
        assert_eq!(detect(b""), Format::Empty);
        assert_eq!(detect(b"MSH|^~\\&|"), Format::Hl7v2);
        assert_eq!(detect(b"\xEF\xBB\xBFMSH#!~$&#"), Format::Hl7v2);
        assert_eq!(detect(b"\x0bMSH|^~\\&|"), Format::Hl7v2);
        assert_eq!(detect(b"MSHX"), Format::Unknown);
        assert_eq!(detect(b"<?xml version"), Format::Ccda);
        assert_eq!(detect(b"\x00\x01garbage"), Format::Unknown);
        // A truncated first line followed by good lines is still NDJSON.
        assert_eq!(
            detect(b"{\"resourceType\":\"Pat\n{\"a\":1}\n"),
            Format::Ndjson
        );
        assert_eq!(detect(b"{\"resourceType\":\"Pat"), Format::Ndjson);
        assert_eq!(
            detect(b"{\"resourceType\": \"Bundle\",\n  \"type\": \"batch\",\n"),
            Format::Bundle
        );
    }
}
