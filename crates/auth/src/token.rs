//! Bearer tokens: `salus_` followed by 32 random bytes in base64url. The store keeps only the
//! SHA-256 of a token (tokens carry 256 bits of randomness, so a fast hash is enough: there is
//! nothing to guess), and the token itself is shown once, when it is made.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sha2::{Digest, Sha256};

const PREFIX: &str = "salus_";
/// Length of the base64url text of 32 bytes.
const SECRET_CHARS: usize = 43;

/// A token from 32 random bytes the caller supplies (the shell owns the random source).
pub fn from_random(bytes: [u8; 32]) -> String {
    format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// The hex SHA-256 of a token: what is stored and looked up.
pub fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Whether `text` has the form of a Salus token. A cheap check before any lookup, so that a
/// malformed header is answered without touching the store.
pub fn is_well_formed(text: &str) -> bool {
    text.strip_prefix(PREFIX).is_some_and(|secret| {
        secret.len() == SECRET_CHARS
            && secret
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    })
}

/// The token of an `Authorization` header value: `Bearer <token>` (the scheme in any case).
pub fn from_authorization(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn form_and_hash() {
        let token = from_random([7; 32]);
        assert!(token.starts_with("salus_"));
        assert!(is_well_formed(&token));
        assert_eq!(hash(&token).len(), 64);
        assert_ne!(hash(&token), hash(&from_random([8; 32])));
        assert!(!is_well_formed("salus_short"));
        assert!(!is_well_formed(&token.replace("salus_", "other_")));
        assert_eq!(from_authorization("Bearer abc"), Some("abc"));
        assert_eq!(from_authorization("bearer  abc "), Some("abc"));
        assert_eq!(from_authorization("Basic abc"), None);
        assert_eq!(from_authorization("Bearer "), None);
    }

    proptest! {
        #[test]
        fn every_random_token_is_well_formed(bytes in any::<[u8; 32]>()) {
            prop_assert!(is_well_formed(&from_random(bytes)));
        }

        #[test]
        fn header_parsing_never_panics(value in ".*") {
            let _ = from_authorization(&value).map(is_well_formed);
        }
    }
}
