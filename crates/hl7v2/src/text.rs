//! From bytes to text: HL7 feeds are mostly UTF-8 or ASCII, sometimes Latin-1.

use std::borrow::Cow;

use crate::error::{ErrorKind, ParseError};

/// The bytes as text: borrowed when they are valid UTF-8, else decoded as Latin-1
/// (ISO-8859-1, where each byte is the code point of the same number), which never fails.
///
/// Latin-1 rather than Windows-1252: bytes 0x80–0x9F become C1 control characters, not `€`
/// and curly quotes. A feed known to be Windows-1252 should be decoded by the caller.
pub fn decode_text(bytes: &[u8]) -> Cow<'_, str> {
    match std::str::from_utf8(bytes) {
        Ok(s) => Cow::Borrowed(s),
        Err(_) => Cow::Owned(bytes.iter().map(|&b| char::from(b)).collect()),
    }
}

/// The bytes as UTF-8 text, or [`ErrorKind::InvalidUtf8`] with the byte offset of the first
/// invalid sequence, for callers that want to reject rather than guess (see [`decode_text`]).
pub fn utf8_text(bytes: &[u8]) -> Result<&str, ParseError> {
    std::str::from_utf8(bytes)
        .map_err(|e| ParseError::new(ErrorKind::InvalidUtf8).at_offset(e.valid_up_to()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf8_is_borrowed() {
        assert!(matches!(
            decode_text("café".as_bytes()),
            Cow::Borrowed("café")
        ));
    }

    #[test]
    fn latin1_fallback() {
        assert_eq!(decode_text(b"caf\xe9 \xfc"), "café ü");
        assert_eq!(decode_text(b"\x80"), "\u{80}");
    }

    #[test]
    fn invalid_utf8_position() {
        let e = utf8_text(b"MSH|ab\xff").unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidUtf8);
        assert_eq!(e.byte_offset(), Some(6));
        assert_eq!(utf8_text(b"ok").unwrap(), "ok");
    }
}
