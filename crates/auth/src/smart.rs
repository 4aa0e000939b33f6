//! SMART Backend Services: a client proves who it is with a JWT it signs with its private key
//! (`client_assertion`), checked here against the public keys it registered (a JWKS).
//!
//! The checks, after SMART App Launch 2 (Backend Services) and RFC 7523: the signature with one
//! of the client's keys, algorithm `RS384` or `ES384` only (never `none` or an HMAC the attacker
//! could key with public material); `iss` and `sub` both the client's id; `aud` the token
//! endpoint's URL; `exp` in the future and at most five minutes away; a `jti`, which the caller
//! must remember until `exp` to refuse a replay. Time is passed in.

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, JwkSet};
use jsonwebtoken::{decode, decode_header, Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serde_json::Value;

/// How far in the future an assertion may expire (SMART: no more than five minutes).
pub const MAX_ASSERTION_LIFETIME_SECS: i64 = 300;
/// Clock skew tolerated between the client and Salus.
pub const CLOCK_SKEW_SECS: i64 = 60;

/// Why an assertion or a key set is refused. Messages never quote the assertion.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AssertionError {
    #[error("client_assertion is not a JWT: {0}")]
    Malformed(String),
    #[error("client_assertion algorithm {0} is not accepted: use RS384 or ES384")]
    Algorithm(String),
    #[error("no key in the client's registered JWKS fits this assertion ({0})")]
    NoKey(String),
    #[error("client_assertion signature does not verify with the client's registered keys")]
    Signature,
    #[error("client_assertion claim {claim}: {reason}")]
    Claim { claim: &'static str, reason: String },
}

fn claim(claim: &'static str, reason: impl Into<String>) -> AssertionError {
    AssertionError::Claim {
        claim,
        reason: reason.into(),
    }
}

#[derive(Deserialize)]
struct Claims {
    iss: Option<String>,
    sub: Option<String>,
    aud: Option<Value>,
    exp: Option<i64>,
    jti: Option<String>,
}

/// An assertion that passed every check but the replay check, which needs the caller's memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedAssertion {
    pub client_id: String,
    pub jti: String,
    /// Until when (seconds since the epoch) the `jti` must be remembered.
    pub expires_at: i64,
}

/// The client the assertion claims to come from (`iss`), read without trusting it: the caller
/// looks the client up to find the keys to [`verify`] with.
pub fn claimed_client(assertion: &str) -> Result<String, AssertionError> {
    let claims: Claims = jsonwebtoken::dangerous::insecure_decode_claims(assertion)
        .map_err(|e| AssertionError::Malformed(e.to_string()))?;
    claims
        .iss
        .filter(|s| !s.is_empty())
        .ok_or_else(|| claim("iss", "missing: it must be the client id"))
}

/// Check an assertion from `client_id` against its registered `jwks`, for the token endpoint at
/// `token_url`, at `now` (seconds since the epoch).
pub fn verify(
    assertion: &str,
    client_id: &str,
    jwks: &JwkSet,
    token_url: &str,
    now: i64,
) -> Result<VerifiedAssertion, AssertionError> {
    let header = decode_header(assertion).map_err(|e| AssertionError::Malformed(e.to_string()))?;
    if !matches!(header.alg, Algorithm::RS384 | Algorithm::ES384) {
        return Err(AssertionError::Algorithm(format!("{:?}", header.alg)));
    }
    let candidates: Vec<&Jwk> = jwks
        .keys
        .iter()
        .filter(|k| key_fits(k, header.alg))
        .filter(|k| match (&header.kid, &k.common.key_id) {
            (Some(wanted), Some(have)) => wanted == have,
            (Some(_), None) => false,
            (None, _) => true,
        })
        .collect();
    if candidates.is_empty() {
        return Err(AssertionError::NoKey(format!(
            "alg {:?}, kid {}",
            header.alg,
            header.kid.as_deref().unwrap_or("(none)")
        )));
    }
    let mut validation = Validation::new(header.alg);
    // Time and audience are checked below against the `now` passed in (this crate reads no
    // clock); the library checks the signature and the algorithm only.
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    let mut claims = None;
    for key in candidates {
        let Ok(decoding) = DecodingKey::from_jwk(key) else {
            continue;
        };
        if let Ok(data) = decode::<Claims>(assertion, &decoding, &validation) {
            claims = Some(data.claims);
            break;
        }
    }
    let claims = claims.ok_or(AssertionError::Signature)?;

    if claims.iss.as_deref() != Some(client_id) {
        return Err(claim("iss", "must be the client id"));
    }
    if claims.sub.as_deref() != Some(client_id) {
        return Err(claim("sub", "must be the client id"));
    }
    let audience_ok = match &claims.aud {
        Some(Value::String(a)) => a == token_url,
        Some(Value::Array(all)) => all.iter().any(|a| a.as_str() == Some(token_url)),
        _ => false,
    };
    if !audience_ok {
        return Err(claim(
            "aud",
            format!("must be this token endpoint, {token_url}"),
        ));
    }
    let exp = claims.exp.ok_or_else(|| claim("exp", "missing"))?;
    if exp <= now - CLOCK_SKEW_SECS {
        return Err(claim("exp", "the assertion has expired"));
    }
    if exp > now + MAX_ASSERTION_LIFETIME_SECS + CLOCK_SKEW_SECS {
        return Err(claim("exp", "must be at most five minutes in the future"));
    }
    let jti = claims
        .jti
        .filter(|j| !j.is_empty() && j.len() <= 255)
        .ok_or_else(|| claim("jti", "missing, empty or longer than 255 characters"))?;
    Ok(VerifiedAssertion {
        client_id: client_id.to_owned(),
        jti,
        expires_at: exp + CLOCK_SKEW_SECS,
    })
}

fn key_fits(key: &Jwk, alg: Algorithm) -> bool {
    match (&key.algorithm, alg) {
        (AlgorithmParameters::RSA(_), Algorithm::RS384) => true,
        (AlgorithmParameters::EllipticCurve(ec), Algorithm::ES384) => {
            ec.curve == EllipticCurve::P384
        }
        _ => false,
    }
}

/// Parse a client's JWKS for registration: public RSA or P-384 keys only, at least one.
pub fn parse_jwks(text: &str) -> Result<JwkSet, String> {
    let raw: Value =
        serde_json::from_str(text).map_err(|e| format!("the JWKS is not valid JSON: {e}"))?;
    let keys = raw
        .get("keys")
        .and_then(Value::as_array)
        .ok_or("the JWKS has no \"keys\" array")?;
    for (i, key) in keys.iter().enumerate() {
        // A private key has no business in a registration; refuse rather than store it.
        for private in ["d", "p", "q", "dp", "dq", "qi", "k"] {
            if key.get(private).is_some() {
                return Err(format!(
                    "key {i} of the JWKS holds private key material (\"{private}\"): register the public keys only"
                ));
            }
        }
    }
    let set: JwkSet =
        serde_json::from_value(raw).map_err(|e| format!("the JWKS is not a valid key set: {e}"))?;
    let usable = set
        .keys
        .iter()
        .filter(|k| key_fits(k, Algorithm::RS384) || key_fits(k, Algorithm::ES384))
        .count();
    if usable == 0 {
        return Err(
            "the JWKS has no RSA or P-384 EC public key (RS384 and ES384 are accepted)".into(),
        );
    }
    Ok(set)
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    use jsonwebtoken::{encode, EncodingKey, Header};
    use serde_json::json;

    const URL: &str = "https://salus.example.org/auth/token";
    const NOW: i64 = 1_800_000_000;

    /// A P-384 key pair: its private key for signing and its public JWK.
    fn ec_key(kid: &str) -> (EncodingKey, Value) {
        let pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384).unwrap();
        let raw = pair.public_key_raw(); // 0x04 || x || y
        let (x, y) = raw[1..].split_at(48);
        let jwk = json!({"kty": "EC", "crv": "P-384", "kid": kid, "alg": "ES384",
            "x": URL_SAFE_NO_PAD.encode(x), "y": URL_SAFE_NO_PAD.encode(y)});
        let key = EncodingKey::from_ec_pem(pair.serialize_pem().as_bytes()).unwrap();
        (key, jwk)
    }

    fn jwks(keys: &[Value]) -> JwkSet {
        parse_jwks(&json!({ "keys": keys }).to_string()).unwrap()
    }

    fn claims(client: &str) -> Value {
        json!({"iss": client, "sub": client, "aud": URL, "exp": NOW + 240, "jti": "j-1"})
    }

    fn sign(key: &EncodingKey, alg: Algorithm, kid: &str, claims: &Value) -> String {
        let mut header = Header::new(alg);
        header.kid = Some(kid.to_owned());
        encode(&header, claims, key).unwrap()
    }

    #[test]
    fn a_good_es384_assertion_passes() {
        let (key, jwk) = ec_key("k1");
        let jwt = sign(&key, Algorithm::ES384, "k1", &claims("c1"));
        assert_eq!(claimed_client(&jwt).unwrap(), "c1");
        let v = verify(&jwt, "c1", &jwks(&[jwk]), URL, NOW).unwrap();
        assert_eq!(v.jti, "j-1");
        assert!(v.expires_at >= NOW + 240);
    }

    #[test]
    fn a_good_rs384_assertion_passes() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/smart");
        let pem = std::fs::read(format!("{dir}/test-rs384-private.pem")).unwrap();
        let set =
            parse_jwks(&std::fs::read_to_string(format!("{dir}/test-rs384-jwks.json")).unwrap())
                .unwrap();
        let key = EncodingKey::from_rsa_pem(&pem).unwrap();
        let jwt = sign(&key, Algorithm::RS384, "test-rs384", &claims("c1"));
        verify(&jwt, "c1", &set, URL, NOW).unwrap();
    }

    #[test]
    fn attacks_are_refused() {
        let (key, jwk) = ec_key("k1");
        let (other_key, other_jwk) = ec_key("k2");
        let set = jwks(std::slice::from_ref(&jwk));
        let good = claims("c1");

        // alg none: an unsigned token.
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
        let body = URL_SAFE_NO_PAD.encode(good.to_string());
        let none = format!("{header}.{body}.");
        assert!(verify(&none, "c1", &set, URL, NOW).is_err(), "alg none");

        // HS384 keyed with public material (the classic algorithm confusion).
        let hs = encode(
            &Header::new(Algorithm::HS384),
            &good,
            &EncodingKey::from_secret(jwk["x"].as_str().unwrap().as_bytes()),
        )
        .unwrap();
        assert!(matches!(
            verify(&hs, "c1", &set, URL, NOW),
            Err(AssertionError::Algorithm(_))
        ));

        // Signed with a key the client did not register (same kid, or the other's kid).
        let wrong = sign(&other_key, Algorithm::ES384, "k1", &good);
        assert_eq!(
            verify(&wrong, "c1", &set, URL, NOW),
            Err(AssertionError::Signature)
        );

        // A token for another client: client c2's own valid assertion presented as c1's.
        let c2 = sign(&other_key, Algorithm::ES384, "k2", &claims("c2"));
        let both = jwks(&[jwk.clone(), other_jwk]);
        assert!(matches!(
            verify(&c2, "c1", &both, URL, NOW),
            Err(AssertionError::Claim { claim: "iss", .. })
        ));

        let mut wrong_aud = good.clone();
        wrong_aud["aud"] = json!("https://elsewhere.example/token");
        let t = sign(&key, Algorithm::ES384, "k1", &wrong_aud);
        assert!(matches!(
            verify(&t, "c1", &set, URL, NOW),
            Err(AssertionError::Claim { claim: "aud", .. })
        ));

        let mut expired = good.clone();
        expired["exp"] = json!(NOW - 3600);
        let t = sign(&key, Algorithm::ES384, "k1", &expired);
        assert!(matches!(
            verify(&t, "c1", &set, URL, NOW),
            Err(AssertionError::Claim { claim: "exp", .. })
        ));

        let mut far = good.clone();
        far["exp"] = json!(NOW + 3600);
        let t = sign(&key, Algorithm::ES384, "k1", &far);
        assert!(
            verify(&t, "c1", &set, URL, NOW).is_err(),
            "exp too far ahead"
        );

        let mut no_jti = good.clone();
        no_jti.as_object_mut().unwrap().remove("jti");
        let t = sign(&key, Algorithm::ES384, "k1", &no_jti);
        assert!(matches!(
            verify(&t, "c1", &set, URL, NOW),
            Err(AssertionError::Claim { claim: "jti", .. })
        ));

        let mut sub = good.clone();
        sub["sub"] = json!("someone-else");
        let t = sign(&key, Algorithm::ES384, "k1", &sub);
        assert!(matches!(
            verify(&t, "c1", &set, URL, NOW),
            Err(AssertionError::Claim { claim: "sub", .. })
        ));

        assert!(verify("not.a.jwt", "c1", &set, URL, NOW).is_err());
    }

    #[test]
    fn registration_refuses_private_keys_and_useless_sets() {
        assert!(parse_jwks(r#"{"keys":[{"kty":"oct","k":"c2VjcmV0"}]}"#).is_err());
        assert!(parse_jwks(r#"{"keys":[]}"#).is_err());
        assert!(parse_jwks("[]").is_err());
        let (_, mut jwk) = ec_key("k1");
        jwk["d"] = json!("AAAA");
        let err = parse_jwks(&json!({ "keys": [jwk] }).to_string()).unwrap_err();
        assert!(err.contains("private"), "{err}");
    }
}
