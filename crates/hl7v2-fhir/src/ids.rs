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
    let mut key = String::with_capacity(
        7 + resource_type.len() + parts.iter().map(|p| p.len() + 1).sum::<usize>(),
    );
    key.push_str("hl7v2|");
    key.push_str(resource_type);
    for part in parts {
        key.push('|');
        push_encoded(&mut key, part, |b| b != b'|' && b != b'%');
    }
    key
}

/// The hasher of the mapping's own lookup tables (emitted resources, OBX counts). Their keys
/// are built from ids and codes of one message, a few dozen per message, where SipHash's cost
/// showed in profiles; nothing is gained by resisting collision attacks on a table that lives
/// for one message and whose keys are mostly UUIDs.
pub(crate) type FastHash = rustc_hash::FxBuildHasher;

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

/// `prefix` followed by `text` percent-encoded as [`uri_encode`] does, in one allocation.
pub(crate) fn prefixed_uri(prefix: &str, text: &str) -> String {
    let mut out = String::with_capacity(prefix.len() + text.len());
    out.push_str(prefix);
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
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(data)
}

/// Is this valid base64 as FHIR's `base64Binary` accepts it (whitespace allowed)?
pub fn is_base64(text: &str) -> bool {
    use base64::Engine as _;
    let compact: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    !compact.is_empty()
        && base64::engine::general_purpose::STANDARD
            .decode(&compact)
            .is_ok()
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
