//! HL7 escape sequences: decoding values read from a message, encoding values written into one.

use std::borrow::Cow;

use crate::encoding::Encoding;

/// Most newlines one `\.sp n\` sequence produces: the count comes from the sender, and a
/// `\.sp 999999999\` must not become a gigabyte of newlines.
pub const MAX_SP_NEWLINES: usize = 64;

/// Decodes the escape sequences of a raw value (normally one subcomponent) written with `enc`.
///
/// Borrowed, and free beyond one `memchr`, when the value holds no escape character.
///
/// | Sequence | Result |
/// |---|---|
/// | `\F\` `\S\` `\T\` `\R\` `\E\` | field, component, subcomponent, repetition separator, escape character |
/// | `\P\` | the truncation character (v2.7+); kept literally when MSH-2 defines none |
/// | `\Xhhhh…\` | the bytes given in hex, read as UTF-8 when valid, else as Latin-1 |
/// | `\.br\` | a newline |
/// | `\.sp\`, `\.sp n\` | `n` newlines (1 without a number, at most [`MAX_SP_NEWLINES`]) |
/// | `\.ce\` | a newline: it ends the current line before centring the next |
/// | `\.in n\` `\.ti n\` `\.fi\` `\.nf\` `\H\` `\N\` | dropped: indentation, fill and highlighting have no plain-text form |
/// | `\Cxxyy\` `\Mxxyy\` `\Mxxyyzz\` | dropped: character-set switches (the text is already Unicode here) |
///
/// Anything else — an unknown sequence (including locally defined `\Z…\`), malformed hex, or an
/// escape character with no closing one — is kept literally, escape characters included.
pub fn decode<'a>(raw: &'a str, enc: &Encoding) -> Cow<'a, str> {
    let bytes = raw.as_bytes();
    // Most values are a few bytes long, where a plain loop finds no escape sooner than memchr
    // gets started.
    let first = if bytes.len() < 32 {
        bytes.iter().position(|&b| b == enc.escape)
    } else {
        memchr::memchr(enc.escape, bytes)
    };
    let Some(first) = first else {
        return Cow::Borrowed(raw);
    };
    let mut out = String::with_capacity(raw.len());
    out.push_str(raw.get(..first).unwrap_or_default());
    let mut pos = first;
    // Invariant: `pos` is at an escape character (ASCII, so a char boundary).
    loop {
        let body_start = pos + 1;
        let Some(body_len) = bytes
            .get(body_start..)
            .and_then(|rest| memchr::memchr(enc.escape, rest))
        else {
            // Unterminated: the rest is text.
            out.push_str(raw.get(pos..).unwrap_or_default());
            break;
        };
        let close = body_start + body_len;
        let body = raw.get(body_start..close).unwrap_or_default();
        if !decode_sequence(body, enc, &mut out) {
            out.push_str(raw.get(pos..=close).unwrap_or_default());
        }
        let next = close + 1;
        match bytes
            .get(next..)
            .and_then(|rest| memchr::memchr(enc.escape, rest))
        {
            Some(n) => {
                out.push_str(raw.get(next..next + n).unwrap_or_default());
                pos = next + n;
            }
            None => {
                out.push_str(raw.get(next..).unwrap_or_default());
                break;
            }
        }
    }
    Cow::Owned(out)
}

/// Appends the meaning of one escape sequence body (the text between the escape characters).
/// Returns false when the body is not a sequence this decoder knows, so the caller keeps it.
fn decode_sequence(body: &str, enc: &Encoding, out: &mut String) -> bool {
    let delimiter = match body {
        "F" => Some(enc.field),
        "S" => Some(enc.component),
        "T" => Some(enc.subcomponent),
        "R" => Some(enc.repetition),
        "E" => Some(enc.escape),
        "P" => match enc.truncation {
            Some(t) => Some(t),
            None => return false,
        },
        _ => None,
    };
    if let Some(d) = delimiter {
        out.push(char::from(d));
        return true;
    }
    match body.as_bytes() {
        [b'X', hex @ ..] => decode_hex(hex, out),
        [b'C', code @ ..] => code.len() == 4 && all_hex(code),
        [b'M', code @ ..] => (code.len() == 4 || code.len() == 6) && all_hex(code),
        b"H" | b"N" | b".fi" | b".nf" => true,
        b".br" => {
            out.push('\n');
            true
        }
        b".ce" => {
            out.push('\n');
            true
        }
        [b'.', b's', b'p', arg @ ..] => match formatting_argument(arg) {
            Some(n) => {
                let n = n.unwrap_or(1).min(MAX_SP_NEWLINES as u64) as usize;
                out.extend(std::iter::repeat_n('\n', n));
                true
            }
            None => false,
        },
        [b'.', b'i', b'n', arg @ ..] | [b'.', b't', b'i', arg @ ..] => {
            formatting_argument(arg).is_some()
        }
        _ => false,
    }
}

/// Reads the optional argument of a formatting command: spaces, an optional sign, digits.
/// `Some(None)` for no argument, `None` when it is not a number (the sequence is then unknown).
fn formatting_argument(arg: &[u8]) -> Option<Option<u64>> {
    let trimmed = arg.trim_ascii();
    let digits = match trimmed {
        [b'+' | b'-', rest @ ..] => rest,
        other => other,
    };
    if trimmed.is_empty() {
        return Some(None);
    }
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    // Saturate instead of overflowing on absurd counts; the caller caps the result anyway.
    let value = digits.iter().fold(0u64, |acc, d| {
        acc.saturating_mul(10).saturating_add(u64::from(d - b'0'))
    });
    Some(Some(value))
}

fn all_hex(s: &[u8]) -> bool {
    s.iter().all(u8::is_ascii_hexdigit)
}

/// Appends the bytes written as hex digit pairs, as UTF-8 when they form valid UTF-8, else as
/// Latin-1 (where each byte is the code point of the same number). False on malformed hex.
fn decode_hex(hex: &[u8], out: &mut String) -> bool {
    if hex.is_empty() || !hex.len().is_multiple_of(2) || !all_hex(hex) {
        return false;
    }
    let decoded: Vec<u8> = hex
        .chunks_exact(2)
        .map(|pair| match pair {
            [high, low] => (hex_value(*high) << 4) | hex_value(*low),
            _ => 0,
        })
        .collect();
    match std::str::from_utf8(&decoded) {
        Ok(s) => out.push_str(s),
        Err(_) => out.extend(decoded.iter().map(|&b| char::from(b))),
    }
    true
}

fn hex_value(d: u8) -> u8 {
    match d {
        b'0'..=b'9' => d - b'0',
        b'a'..=b'f' => d - b'a' + 10,
        b'A'..=b'F' => d - b'A' + 10,
        _ => 0,
    }
}

/// Escapes a value so it can be written as one subcomponent with `enc`: each delimiter becomes
/// its escape sequence (`\F\ \S\ \T\ \R\ \E\`, and `\P\` for the truncation character when
/// there is one), and CR and LF become `\X0D\` and `\X0A\` since they would end the segment.
///
/// Borrowed when nothing needs escaping. [`decode`] of the result gives back `text`.
pub fn encode<'a>(text: &'a str, enc: &Encoding) -> Cow<'a, str> {
    let needs = |b: u8| -> Option<&'static str> {
        if b == enc.escape {
            Some("E")
        } else if b == enc.field {
            Some("F")
        } else if b == enc.component {
            Some("S")
        } else if b == enc.subcomponent {
            Some("T")
        } else if b == enc.repetition {
            Some("R")
        } else if Some(b) == enc.truncation {
            Some("P")
        } else if b == b'\r' {
            Some("X0D")
        } else if b == b'\n' {
            Some("X0A")
        } else {
            None
        }
    };
    let bytes = text.as_bytes();
    let Some(first) = bytes.iter().position(|&b| needs(b).is_some()) else {
        return Cow::Borrowed(text);
    };
    let escape = char::from(enc.escape);
    let mut out = String::with_capacity(text.len() + 8);
    out.push_str(text.get(..first).unwrap_or_default());
    let mut literal_start = first;
    for (i, &b) in bytes.iter().enumerate().skip(first) {
        if let Some(code) = needs(b) {
            // Delimiters are ASCII, so `i` is a char boundary.
            out.push_str(text.get(literal_start..i).unwrap_or_default());
            out.push(escape);
            out.push_str(code);
            out.push(escape);
            literal_start = i + 1;
        }
    }
    out.push_str(text.get(literal_start..).unwrap_or_default());
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> String {
        decode(s, &Encoding::STANDARD).into_owned()
    }

    #[test]
    fn plain_text_is_borrowed() {
        assert!(matches!(
            decode("plain text", &Encoding::STANDARD),
            Cow::Borrowed("plain text")
        ));
        assert!(matches!(
            encode("plain", &Encoding::STANDARD),
            Cow::Borrowed("plain")
        ));
    }

    #[test]
    fn delimiter_escapes() {
        assert_eq!(d(r"a\F\b\S\c\T\d\R\e\E\f"), r"a|b^c&d~e\f");
        assert_eq!(d(r"\E\\E\"), r"\\");
    }

    #[test]
    fn truncation_escape_needs_a_truncation_character() {
        assert_eq!(d(r"a\P\b"), r"a\P\b");
        let enc = Encoding::new('|', '^', '~', '\\', '&', Some('#')).unwrap();
        assert_eq!(decode(r"a\P\b", &enc), "a#b");
        assert_eq!(encode("a#b", &enc), r"a\P\b");
    }

    #[test]
    fn custom_delimiters() {
        let enc = Encoding::new('#', '!', '~', '$', '&', None).unwrap();
        assert_eq!(decode("a$F$b$S$c$E$", &enc), "a#b!c$");
        assert_eq!(decode(r"back\slash", &enc), r"back\slash");
        assert_eq!(encode("a#b!c$d\\", &enc), "a$F$b$S$c$E$d\\");
    }

    #[test]
    fn hex_escapes() {
        assert_eq!(d(r"\X41\"), "A");
        assert_eq!(d(r"caf\XC3A9\"), "café");
        // Not valid UTF-8: read as Latin-1.
        assert_eq!(d(r"caf\XE9\"), "café");
        assert_eq!(d(r"\X0D0A\"), "\r\n");
        assert_eq!(d(r"\X4\"), r"\X4\");
        assert_eq!(d(r"\XZZ\"), r"\XZZ\");
        assert_eq!(d(r"\X\"), r"\X\");
    }

    #[test]
    fn formatting_commands() {
        assert_eq!(d(r"line1\.br\line2"), "line1\nline2");
        assert_eq!(d(r"a\.sp\b"), "a\nb");
        assert_eq!(d(r"a\.sp 3\b"), "a\n\n\nb");
        assert_eq!(d(r"a\.sp3\b"), "a\n\n\nb");
        assert_eq!(d(r"a\.sp+2\b"), "a\n\nb");
        assert_eq!(
            d(r"a\.sp 99999999999999999999999\b").len(),
            2 + MAX_SP_NEWLINES
        );
        assert_eq!(d(r"a\.ce\b"), "a\nb");
        assert_eq!(d(r"a\.in -4\b\.ti +2\c\.in\d"), "abcd");
        assert_eq!(d(r"\.fi\a\.nf\b"), "ab");
        assert_eq!(d(r"\H\bold\N\ normal"), "bold normal");
        assert_eq!(d(r"a\.sp x\b"), r"a\.sp x\b");
        assert_eq!(d(r"a\.zz\b"), r"a\.zz\b");
    }

    #[test]
    fn character_set_escapes_are_dropped() {
        assert_eq!(d(r"a\C2842\b\C2B42\c"), "abc");
        assert_eq!(d(r"a\M2442\b\M244F42\c"), "abc");
        assert_eq!(d(r"a\C28\b"), r"a\C28\b");
    }

    #[test]
    fn unknown_and_unterminated_escapes_are_kept() {
        assert_eq!(d(r"a\Q\b"), r"a\Q\b");
        assert_eq!(d(r"a\Zlocal\b"), r"a\Zlocal\b");
        assert_eq!(d(r"a\\b"), r"a\\b");
        assert_eq!(d(r"tail\"), r"tail\");
        assert_eq!(d(r"a\F"), r"a\F");
        assert_eq!(d(r"\"), r"\");
        assert_eq!(d(r"\F\\"), r"|\");
        assert_eq!(d(r"é\Xé\ü\F\"), r"é\Xé\ü|");
    }

    #[test]
    fn encode_round_trips() {
        let enc = Encoding::STANDARD;
        for text in ["a|b^c~d\\e&f", "line\r\nnext", "", "\\", "é^ü"] {
            let encoded = encode(text, &enc);
            assert!(!encoded.contains(['|', '^', '~', '&', '\r', '\n']));
            assert_eq!(decode(&encoded, &enc), text);
        }
        assert_eq!(encode("a|b", &enc), r"a\F\b");
        assert_eq!(encode("x\ny", &enc), r"x\X0A\y");
    }
}
