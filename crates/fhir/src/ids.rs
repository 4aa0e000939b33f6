//! Resource ids: validity and deterministic derivation.

use uuid::Uuid;

/// Namespace for ids Salus derives (UUID v5), so that the same source identifier always yields
/// the same resource id, on every machine.
pub const SALUS_ID_NAMESPACE: Uuid = Uuid::from_u128(0x6a1d_5c2e_9b7f_4e3a_8d21_0f5c_a9e4_7b13);

/// FHIR `id`: 1 to 64 characters of `A-Z a-z 0-9 - .`.
pub fn is_valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
}

/// A deterministic id for a key (a Bundle `fullUrl`, a source identifier): a UUID v5.
pub fn derive_id(key: &str) -> String {
    Uuid::new_v5(&SALUS_ID_NAMESPACE, key.as_bytes()).to_string()
}

/// FHIR resource type names are an upper-case letter followed by letters.
pub fn looks_like_type_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    matches!(bytes.next(), Some(b'A'..=b'Z')) && bytes.all(|b| b.is_ascii_alphabetic())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_rules() {
        assert!(is_valid_id("abc-123.X"));
        assert!(!is_valid_id(""));
        assert!(!is_valid_id("has space"));
        assert!(!is_valid_id("slash/no"));
        assert!(!is_valid_id(&"a".repeat(65)));
        assert!(is_valid_id(&"a".repeat(64)));
    }

    #[test]
    fn derived_ids_are_stable_and_valid() {
        let a = derive_id("urn:uuid:1234");
        assert_eq!(a, derive_id("urn:uuid:1234"));
        assert_ne!(a, derive_id("urn:uuid:1235"));
        assert!(is_valid_id(&a));
    }
}
