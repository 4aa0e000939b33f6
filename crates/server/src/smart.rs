//! SMART Backend Services: discovery (`/.well-known/smart-configuration`) and the token
//! endpoint (`POST /auth/token`, `client_credentials` with a signed JWT assertion). Answers
//! follow OAuth 2.0 (RFC 6749 §5.2: `{"error", "error_description"}`), which SMART clients
//! expect from a token endpoint, rather than OperationOutcomes.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use salus_auth::audit::AuditRecord;
use salus_auth::{smart, token, ScopeSet};
use salus_store::TokenRow;
use serde_json::json;

use crate::fhir::{decode_query, now_micros};
use crate::AppState;

/// Lifetime of an issued access token.
pub const ACCESS_TOKEN_SECS: i64 = 300;
const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// A token request is a few kilobytes; anything much larger is not one.
const MAX_REQUEST_BYTES: usize = 64 << 10;

/// The token endpoint's URL: from `server.public_url` when configured (so that an assertion's
/// `aud` is checked against a fixed value, not one the request's Host header chose), else from
/// the request.
fn token_url(state: &AppState, req: &HttpRequest) -> String {
    match &state.config.public_url {
        Some(base) => format!("{}/auth/token", base.trim_end_matches('/')),
        None => {
            let info = req.connection_info();
            format!("{}://{}/auth/token", info.scheme(), info.host())
        }
    }
}

pub async fn configuration(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    HttpResponse::Ok().json(json!({
        "token_endpoint": token_url(&state, &req),
        "grant_types_supported": ["client_credentials"],
        "token_endpoint_auth_methods_supported": ["private_key_jwt"],
        "token_endpoint_auth_signing_alg_values_supported": ["RS384", "ES384"],
        "scopes_supported": ["system/*.rs", "system/*.cruds", "system/Patient.rs", "system/Observation.rs"],
        "capabilities": ["client-confidential-asymmetric", "permission-v2", "permission-v1"],
    }))
}

/// A token endpoint's answer, built off the async worker (so it must be `Send`, which an
/// `HttpResponse` is not).
enum Answer {
    Issued(serde_json::Value),
    Error(StatusCode, &'static str, String),
}

impl Answer {
    fn error(status: StatusCode, error: &'static str, description: &str) -> Answer {
        Answer::Error(status, error, description.to_owned())
    }

    fn into_response(self) -> HttpResponse {
        match self {
            Answer::Issued(body) => HttpResponse::Ok()
                .insert_header(("Cache-Control", "no-store"))
                .json(body),
            Answer::Error(status, error, description) => oauth_error(status, error, &description),
        }
    }
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header(("Cache-Control", "no-store"))
        .json(json!({"error": error, "error_description": description}))
}

pub async fn token_endpoint(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let now = now_micros();
    let url = token_url(&state, &req);
    // Off the async worker: issuing writes (the assertion id, the token), which may wait for
    // the database's write lock.
    let issuing = state.clone();
    let (client, response) = match web::block(move || issue(&issuing, &body, &url, now)).await {
        Ok((client, answer)) => (client, answer.into_response()),
        Err(_) => (
            None,
            oauth_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                "the token request could not be processed",
            ),
        ),
    };
    let record = AuditRecord {
        who: client
            .as_ref()
            .map_or_else(|| "anonymous".to_owned(), |c| format!("client/{c}")),
        who_name: String::new(),
        action: "token".into(),
        status: response.status().as_u16(),
        entities: vec![],
        query: None,
        route: "POST /auth/token".into(),
        purpose: None,
        address: req.peer_addr().map(|a| a.ip().to_string()),
        recorded: now,
        detail: None,
    };
    match state.audit.record(record).await {
        Ok(()) => response,
        Err(e) => {
            tracing::error!(error = %e, "the audit trail could not be written");
            oauth_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                "the token request could not be recorded; no token was issued",
            )
        }
    }
}

/// Check a token request and issue a token: the client it named (when it named one) and the
/// answer.
fn issue(state: &AppState, body: &[u8], url: &str, now: i64) -> (Option<String>, Answer) {
    let bad = |error: &'static str, description: &str| {
        Answer::error(StatusCode::BAD_REQUEST, error, description)
    };
    if body.len() > MAX_REQUEST_BYTES {
        return (
            None,
            bad("invalid_request", "the token request is too large"),
        );
    }
    let Ok(text) = std::str::from_utf8(body) else {
        return (
            None,
            bad(
                "invalid_request",
                "the token request is not UTF-8 form data",
            ),
        );
    };
    let form = decode_query(text);
    let field = |name: &str| {
        form.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    if field("grant_type") != Some("client_credentials") {
        return (
            None,
            bad(
                "unsupported_grant_type",
                "grant_type must be client_credentials",
            ),
        );
    }
    if field("client_assertion_type") != Some(ASSERTION_TYPE) {
        return (
            None,
            bad(
                "invalid_request",
                "client_assertion_type must be urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            ),
        );
    }
    let Some(assertion) = field("client_assertion") else {
        return (None, bad("invalid_request", "client_assertion is missing"));
    };
    let Some(requested) = field("scope") else {
        return (
            None,
            bad(
                "invalid_scope",
                "scope is missing: ask for system/ scopes, e.g. system/Patient.rs",
            ),
        );
    };
    let invalid_client = |description: String| {
        Answer::error(StatusCode::UNAUTHORIZED, "invalid_client", &description)
    };
    let client_id = match smart::claimed_client(assertion) {
        Ok(id) => id,
        Err(e) => return (None, invalid_client(e.to_string())),
    };
    let client = match state.store.find_client(&client_id) {
        Ok(Some(c)) if c.revoked_at.is_none() => c,
        Ok(_) => {
            return (
                Some(client_id),
                invalid_client("the client is not registered, or was revoked".into()),
            )
        }
        Err(e) => {
            tracing::error!(error = %e, "client lookup failed");
            return (
                Some(client_id),
                Answer::error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "server_error",
                    "the client could not be looked up",
                ),
            );
        }
    };
    let jwks = match smart::parse_jwks(&client.jwks) {
        Ok(j) => j,
        Err(e) => {
            return (
                Some(client_id),
                invalid_client(format!("the client's registered keys are unusable: {e}")),
            )
        }
    };
    let verified = match smart::verify(assertion, &client.id, &jwks, url, now / 1_000_000) {
        Ok(v) => v,
        Err(e) => return (Some(client_id), invalid_client(e.to_string())),
    };
    match state.store.remember_jti(
        &client.id,
        &verified.jti,
        verified.expires_at * 1_000_000,
        now,
    ) {
        Ok(true) => {}
        Ok(false) => {
            return (
                Some(client_id),
                invalid_client("the assertion's jti was already used: a replay is refused".into()),
            )
        }
        Err(e) => {
            tracing::error!(error = %e, "recording the assertion id failed");
            return (
                Some(client_id),
                Answer::error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "server_error",
                    "the assertion could not be recorded",
                ),
            );
        }
    }
    let requested = match ScopeSet::parse(requested) {
        Ok(s) => s,
        Err(problems) => return (Some(client_id), bad("invalid_scope", &problems.join("; "))),
    };
    let registered = ScopeSet::parse(&client.scopes).unwrap_or_default();
    let granted = requested.within(&registered);
    if granted.is_empty() {
        return (
            Some(client_id),
            bad(
                "invalid_scope",
                "none of the requested scopes is within the client's registration",
            ),
        );
    }
    let mut secret = [0u8; 32];
    if getrandom::fill(&mut secret).is_err() {
        return (
            Some(client_id),
            Answer::error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                "no randomness for a token",
            ),
        );
    }
    let access_token = token::from_random(secret);
    let row = TokenRow {
        id: uuid::Uuid::new_v4().to_string(),
        name: client.name.clone(),
        role: client.role.clone(),
        scopes: granted.to_string(),
        token_hash: token::hash(&access_token),
        client_id: Some(client.id.clone()),
        created_at: now,
        expires_at: Some(now + ACCESS_TOKEN_SECS * 1_000_000),
        revoked_at: None,
    };
    if let Err(e) = state.store.create_token(&row) {
        tracing::error!(error = %e, "storing an access token failed");
        return (
            Some(client_id),
            Answer::error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                "the token could not be stored",
            ),
        );
    }
    (
        Some(client_id),
        Answer::Issued(json!({
            "access_token": access_token,
            "token_type": "bearer",
            "expires_in": ACCESS_TOKEN_SECS,
            "scope": granted.to_string(),
        })),
    )
}
