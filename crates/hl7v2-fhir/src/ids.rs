//! Deterministic resource ids.
//!
//! Every id is `salus_fhir::ids::derive_id(key)` (a UUID v5) of a key built from the source
//! identifiers the resource stands for, so a re-sent or updated message yields the same ids and
//! the store updates instead of duplicating. The keys are listed in the crate documentation.
//! Key parts are joined with `|`; a part that may itself contain `|` is percent-encoded first,
//! so two different tuples never make the same key.

use std::fmt::Write as _;

/// The key of a resource: `hl7v2|<Type>|<part>|<part>...`.
pub fn key(resource_type: &str, parts: &[&str]) -> String {
    let mut key = String::with_capacity(16 + parts.iter().map(|p| p.len() + 1).sum::<usize>());
    key.push_str("hl7v2|");
    key.push_str(resource_type);
    for part in parts {
        key.push('|');
        push_encoded(&mut key, part, |b| b != b'|' && b != b'%');
    }
    key
}

/// The id for a key.
pub fn id(resource_type: &str, parts: &[&str]) -> String {
    salus_fhir::ids::derive_id(&key(resource_type, parts))
}

/// Percent-encode everything but RFC 3986 unreserved characters (for URIs built from data).
pub fn uri_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    push_encoded(&mut out, text, |b| {
        b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
    });
    out
}

fn push_encoded(out: &mut String, text: &str, keep: impl Fn(u8) -> bool) {
    if text.bytes().all(&keep) {
        out.push_str(text);
        return;
    }
    for b in text.bytes() {
        if keep(b) {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
}

/// Standard base64 (RFC 4648, with padding), for Binary and attachment data.
pub fn base64(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        out.push(ALPHABET[(n >> 18) as usize & 63] as char);
        out.push(ALPHABET[(n >> 12) as usize & 63] as char);
        out.push(if chunk.len() > 1 {
            ALPHABET[(n >> 6) as usize & 63] as char
        } else {
            '='
        });
        out.push(if chunk.len() > 2 {
            ALPHABET[n as usize & 63] as char
        } else {
            '='
        });
    }
    out
}

/// Is this valid base64 as FHIR's `base64Binary` accepts it (whitespace allowed)?
pub fn is_base64(text: &str) -> bool {
    let compact: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    if compact.is_empty() || !compact.len().is_multiple_of(4) {
        return false;
    }
    let body_end = compact.len() - compact.iter().rev().take_while(|&&b| b == b'=').count();
    compact.len() - body_end <= 2
        && compact[..body_end]
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_do_not_collide_on_separators() {
        assert_ne!(key("Patient", &["a|b", "c"]), key("Patient", &["a", "b|c"]));
        assert_eq!(key("Patient", &["A", "1"]), "hl7v2|Patient|A|1");
    }

    #[test]
    fn base64_matches_rfc4648() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
        assert!(is_base64("Zm9vYmFy"));
        assert!(is_base64("Zg=="));
        assert!(!is_base64("Zg="));
        assert!(!is_base64("not base64!"));
    }

    #[test]
    fn uri_encoding() {
        assert_eq!(uri_encode("GHH LAB, INC."), "GHH%20LAB%2C%20INC.");
        assert_eq!(uri_encode("MSG-00001"), "MSG-00001");
    }
}
