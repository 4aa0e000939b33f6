//! Authentication, authorization and audit for every route, in one middleware.
//!
//! A request is classified by method and path ([`classify`]): public (`/healthz`, `/metrics`,
//! `/fhir/metadata`, SMART discovery and the token endpoint), refused outright (writes to the
//! audit trail), or protected with the [`Action`] it performs. A protected request needs a
//! bearer token that is known, not revoked and not expired (401 otherwise); the token's role
//! and scopes must allow the action (`salus_auth::authorize`, 403 otherwise). Every protected
//! request, allowed or refused, leaves an audit entry, and its response leaves only once the
//! entry is in the audit writer's queue (or committed, with `audit.wait_for_commit`): no read
//! without a trace.

use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{header, Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::{web, HttpMessage, HttpResponse, ResponseError};
use quick_cache::sync::Cache;
use salus_auth::audit::AuditRecord;
use salus_auth::{authorize, token, Action, Principal, Role, ScopeSet, Subject};
use salus_fhir::{Issue, IssueCode};
use salus_store::{Store, TokenRow};

use crate::error::ApiError;
use crate::fhir::{decode_query, now_micros};
use crate::AppState;

/// How a request is treated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// No token needed, nothing audited.
    Public,
    /// Refused before authentication, whoever asks.
    Refused(StatusCode, &'static str),
    /// Needs a token; `action` is what it does (`None`: an unknown path, any role may learn
    /// that it does not exist). `entities` are the resources it names, for the audit trail.
    Protected {
        action: Option<Action>,
        entities: Vec<String>,
    },
}

/// Classify a request by method, path and query. The single place that maps routes to actions.
pub fn classify(method: &Method, path: &str, query: &str) -> Route {
    let segments: Vec<&str> = path.trim_end_matches('/').split('/').skip(1).collect();
    let protected = |action: Action, entities: Vec<String>| Route::Protected {
        action: Some(action),
        entities,
    };
    let unknown = Route::Protected {
        action: None,
        entities: vec![],
    };
    let get = method == Method::GET || method == Method::HEAD;
    match segments.as_slice() {
        ["healthz"] | ["metrics"] | ["fhir", "metadata"] => Route::Public,
        [".well-known", "smart-configuration"] | ["auth", "token"] => Route::Public,
        ["ingest"] => protected(Action::Ingest, vec![]),
        // Linking writes derived SDoH Observations: what an integrator's ingest may write.
        ["sdoh", "link"] if method == Method::POST => protected(Action::Ingest, vec![]),
        ["fhir"] if method == Method::POST => protected(Action::Bundle, vec![]),
        ["fhir", "$export"] => {
            // Any `deid` parameter makes it a de-identified export: the handler refuses an
            // empty or unknown policy, and never exports identified data when one is named.
            let policies: Vec<String> = decode_query(query)
                .into_iter()
                .filter(|(k, _)| k == "deid")
                .map(|(_, v)| format!("deid-policy/{v}"))
                .collect();
            let deidentified = !policies.is_empty();
            protected(Action::Export { deidentified }, policies)
        }
        // A job's status and files are authorized as its kick-off was: the kind is in the
        // path, and the handler answers 404 when it is not the job's.
        ["fhir", "$export-jobs", kind, id, ..] => {
            let entities = vec![format!("export-job/{id}")];
            match *kind {
                crate::export::DEIDENTIFIED => {
                    protected(Action::Export { deidentified: true }, entities)
                }
                crate::export::IDENTIFIED => {
                    protected(Action::Export { deidentified: false }, entities)
                }
                _ => unknown,
            }
        }
        ["admin", "deid-policies", rest @ ..] => {
            let reads = get || rest.last().is_some_and(|s| *s == "$preview");
            let entities = rest
                .first()
                .map(|name| vec![format!("deid-policy/{name}")])
                .unwrap_or_default();
            protected(
                if reads {
                    Action::PolicyRead
                } else {
                    Action::PolicyWrite
                },
                entities,
            )
        }
        ["fhir", "AuditEvent", ..] if !get => Route::Refused(
            StatusCode::METHOD_NOT_ALLOWED,
            "the audit trail is written by Salus alone: AuditEvents cannot be created, changed or deleted",
        ),
        ["fhir", "AuditEvent"] | ["fhir", "AuditEvent", _] => protected(Action::AuditRead, vec![]),
        ["fhir", "Patient", id, op] if *op == "$summary" || *op == "$llm-context" => {
            protected(Action::Summary, vec![format!("Patient/{id}")])
        }
        ["fhir", t] => {
            let resource_type = (*t).to_owned();
            if get {
                let entities = search_entities(t, query);
                protected(Action::Search { resource_type }, entities)
            } else if method == Method::POST {
                protected(Action::Create { resource_type }, vec![])
            } else {
                unknown
            }
        }
        ["fhir", t, id] | ["fhir", t, id, "_history", _] => {
            let resource_type = (*t).to_owned();
            let entities = vec![format!("{t}/{id}")];
            if get {
                protected(Action::Read { resource_type }, entities)
            } else if method == Method::PUT {
                protected(Action::Update { resource_type }, entities)
            } else if method == Method::DELETE {
                protected(Action::Delete { resource_type }, entities)
            } else {
                unknown
            }
        }
        _ => unknown,
    }
}

/// The resources a search names: its patient and its ids (for "who looked at this patient").
fn search_entities(resource_type: &str, query: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (key, value) in decode_query(query) {
        let key = key.split(':').next().unwrap_or_default();
        let values = value.split(',').filter(|v| !v.is_empty());
        match key {
            "patient" | "subject" => out.extend(values.map(|v| {
                if v.contains('/') {
                    v.to_owned()
                } else {
                    format!("Patient/{v}")
                }
            })),
            "_id" => out.extend(values.map(|v| format!("{resource_type}/{v}"))),
            _ => {}
        }
    }
    out
}

/// Tokens looked up recently, by hash. A revocation reaches a running server within the TTL.
pub struct TokenCache {
    entries: Cache<String, (Option<TokenRow>, Instant)>,
    ttl: Duration,
}

impl TokenCache {
    pub fn new(ttl: Duration) -> Self {
        TokenCache {
            entries: Cache::new(10_000),
            ttl,
        }
    }

    fn lookup(&self, store: &Store, token_hash: &str) -> Result<Option<TokenRow>, ApiError> {
        if let Some((row, at)) = self.entries.get(token_hash) {
            if at.elapsed() < self.ttl {
                return Ok(row);
            }
        }
        let row = store.find_token(token_hash)?;
        self.entries
            .insert(token_hash.to_owned(), (row.clone(), Instant::now()));
        Ok(row)
    }
}

/// Why authentication failed (401). Never says whether a token exists.
fn unauthorized(message: &str, token_given: bool) -> HttpResponse {
    let challenge = if token_given {
        r#"Bearer realm="salus", error="invalid_token""#
    } else {
        r#"Bearer realm="salus""#
    };
    let mut response = ApiError::new(
        StatusCode::UNAUTHORIZED,
        vec![Issue::error(IssueCode::Login, message)],
    )
    .error_response();
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        header::HeaderValue::from_static(challenge),
    );
    response
}

/// The principal of a request's bearer token, or the 401 answer.
fn authenticate(
    state: &AppState,
    req: &ServiceRequest,
    now: i64,
) -> Result<Principal, Box<HttpResponse>> {
    let Some(value) = req.headers().get(header::AUTHORIZATION) else {
        return Err(Box::new(unauthorized(
            "authentication required: send Authorization: Bearer TOKEN (make one with `salus token create`)",
            false,
        )));
    };
    let token = value
        .to_str()
        .ok()
        .and_then(token::from_authorization)
        .filter(|t| token::is_well_formed(t))
        .ok_or_else(|| {
            Box::new(unauthorized(
                "the Authorization header does not carry a Salus bearer token",
                true,
            ))
        })?;
    let row = state
        .tokens
        .lookup(&state.store, &token::hash(token))
        .map_err(|e| Box::new(e.error_response()))?;
    let invalid = || {
        Box::new(unauthorized(
            "the bearer token is unknown, revoked or expired",
            true,
        ))
    };
    let row = row.ok_or_else(invalid)?;
    if row.revoked_at.is_some() || row.expires_at.is_some_and(|exp| exp <= now) {
        return Err(invalid());
    }
    let role = Role::parse(&row.role).ok_or_else(invalid)?;
    let scopes = ScopeSet::parse(&row.scopes).map_err(|_| invalid())?;
    let subject = match row.client_id {
        Some(id) => Subject::Client { id, name: row.name },
        None => Subject::Token {
            id: row.id,
            name: row.name,
        },
    };
    Ok(Principal {
        subject,
        role,
        scopes,
    })
}

/// The middleware.
pub async fn guard(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
        return Ok(next.call(req).await?.map_into_boxed_body());
    };
    let route = classify(req.method(), req.path(), req.query_string());
    let (action, entities, refusal) = match route {
        Route::Public => return Ok(next.call(req).await?.map_into_boxed_body()),
        // Refused whoever asks, and recorded: an attempt on the audit trail is worth a trace.
        Route::Refused(status, message) => (None, vec![], Some((status, message))),
        Route::Protected { action, entities } => (action, entities, None),
    };
    let now = now_micros();
    let pattern = req
        .match_pattern()
        .unwrap_or_else(|| "unmatched".to_owned());
    let route_name = format!("{} {pattern}", req.method());
    let address = req.peer_addr().map(|a| a.ip().to_string());
    let purpose = req
        .headers()
        .get("X-Purpose-Of-Use")
        .and_then(|v| v.to_str().ok())
        .filter(|v| v.len() <= 64 && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
        .map(str::to_owned);
    let query = matches!(
        action,
        Some(Action::Search { .. }) | Some(Action::AuditRead)
    )
    .then(|| req.query_string().to_owned())
    .filter(|q| !q.is_empty());
    let action_name = match (&action, refusal) {
        (Some(action), _) => action.name(),
        (None, Some(_)) => "refused",
        (None, None) => "request",
    }
    .to_owned();

    let outcome = if let Some((status, message)) = refusal {
        let who = authenticate(&state, &req, now).ok();
        let response = ApiError::new(status, vec![Issue::error(IssueCode::Forbidden, message)])
            .error_response();
        Err((who, response))
    } else {
        match authenticate(&state, &req, now) {
            Err(response) => Err((None, *response)),
            Ok(principal) => match action.as_ref().map(|a| authorize(&principal, a)) {
                Some(Err(denial)) => {
                    let response = ApiError::new(
                        StatusCode::FORBIDDEN,
                        vec![Issue::error(IssueCode::Forbidden, denial.0)],
                    )
                    .error_response();
                    Err((Some(principal), response))
                }
                _ => Ok(principal),
            },
        }
    };
    let (principal, mut response) = match outcome {
        Err((principal, response)) => (principal, req.into_response(response)),
        Ok(principal) => {
            req.extensions_mut().insert(Arc::new(principal.clone()));
            (Some(principal), next.call(req).await?.map_into_boxed_body())
        }
    };
    // What the handler adds: a summary's decision, its basis and the resources it disclosed.
    let addendum = response
        .response_mut()
        .extensions_mut()
        .remove::<crate::audit::AuditAddendum>();
    let (mut entities, mut purpose, mut detail) = (entities, purpose, None);
    if let Some(addendum) = addendum {
        for entity in addendum.entities {
            if !entities.contains(&entity) {
                entities.push(entity);
            }
        }
        purpose = addendum.purpose.or(purpose);
        detail = addendum.detail;
    }
    let record = AuditRecord {
        who: principal
            .as_ref()
            .map_or_else(|| "anonymous".to_owned(), |p| p.subject.reference()),
        who_name: principal
            .as_ref()
            .map_or_else(String::new, |p| p.subject.name().to_owned()),
        action: action_name,
        status: response.status().as_u16(),
        entities,
        query,
        route: route_name,
        purpose,
        address,
        recorded: now,
        detail,
    };
    match state.audit.record(record).await {
        Ok(()) => Ok(response),
        Err(e) => {
            // The response is withheld: a read without its trace does not leave the server.
            let (req, _) = response.into_parts();
            let error = ApiError::internal(format!("the audit trail could not be written: {e}"));
            Ok(ServiceResponse::new(req, error.error_response()))
        }
    }
}

/// The principal the middleware put on an authorized request (for handlers that authorize
/// parts of a request again, as a Bundle's entries).
pub fn principal(req: &actix_web::HttpRequest) -> Option<Arc<Principal>> {
    req.extensions().get::<Arc<Principal>>().cloned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn action(method: Method, path: &str, query: &str) -> Option<Action> {
        match classify(&method, path, query) {
            Route::Protected { action, .. } => action,
            other => panic!("{method} {path}: {other:?}"),
        }
    }

    #[test]
    fn routes_map_to_actions() {
        assert_eq!(classify(&Method::GET, "/fhir/metadata", ""), Route::Public);
        assert_eq!(classify(&Method::GET, "/healthz", ""), Route::Public);
        assert_eq!(
            action(Method::GET, "/fhir/Patient/1", ""),
            Some(Action::Read {
                resource_type: "Patient".into()
            })
        );
        assert_eq!(
            action(Method::GET, "/fhir/Observation", "patient=1"),
            Some(Action::Search {
                resource_type: "Observation".into()
            })
        );
        assert_eq!(action(Method::POST, "/ingest", ""), Some(Action::Ingest));
        assert_eq!(action(Method::POST, "/sdoh/link", ""), Some(Action::Ingest));
        assert_eq!(action(Method::GET, "/sdoh/link", ""), None);
        assert_eq!(action(Method::POST, "/fhir", ""), Some(Action::Bundle));
        assert_eq!(
            action(Method::GET, "/fhir/AuditEvent", "agent=x"),
            Some(Action::AuditRead)
        );
        assert!(matches!(
            classify(&Method::PUT, "/fhir/AuditEvent/1", ""),
            Route::Refused(StatusCode::METHOD_NOT_ALLOWED, _)
        ));
        assert_eq!(
            action(Method::GET, "/fhir/$export", "deid=safe-harbor"),
            Some(Action::Export { deidentified: true })
        );
        assert_eq!(action(Method::GET, "/nowhere", ""), None);
        assert_eq!(
            action(Method::GET, "/fhir/$export-jobs/deidentified/j1", ""),
            Some(Action::Export { deidentified: true })
        );
        assert_eq!(
            action(Method::DELETE, "/fhir/$export-jobs/identified/j1", ""),
            Some(Action::Export {
                deidentified: false
            })
        );
        assert_eq!(
            action(
                Method::GET,
                "/fhir/$export-jobs/identified/j1/Patient.ndjson",
                ""
            ),
            Some(Action::Export {
                deidentified: false
            })
        );
        assert_eq!(action(Method::GET, "/fhir/$export-jobs/other/j1", ""), None);
        assert_eq!(
            action(Method::PUT, "/admin/deid-policies/p", ""),
            Some(Action::PolicyWrite)
        );
        assert_eq!(
            action(Method::DELETE, "/admin/deid-policies/p", ""),
            Some(Action::PolicyWrite)
        );
        assert_eq!(
            action(Method::POST, "/admin/deid-policies/p/$preview", ""),
            Some(Action::PolicyRead)
        );
        assert_eq!(
            action(Method::GET, "/admin/deid-policies", ""),
            Some(Action::PolicyRead)
        );
    }

    #[test]
    fn policy_requests_name_their_policy() {
        for (method, path, query, entity) in [
            (
                Method::PUT,
                "/admin/deid-policies/research",
                "",
                "deid-policy/research",
            ),
            (
                Method::GET,
                "/fhir/$export",
                "deid=safe-harbor",
                "deid-policy/safe-harbor",
            ),
            (
                Method::GET,
                "/fhir/$export-jobs/deidentified/j1",
                "",
                "export-job/j1",
            ),
        ] {
            let Route::Protected { entities, .. } = classify(&method, path, query) else {
                panic!()
            };
            assert_eq!(entities, vec![entity]);
        }
    }

    #[test]
    fn searches_name_their_patient() {
        let Route::Protected { entities, .. } =
            classify(&Method::GET, "/fhir/Observation", "patient=p1&code=x")
        else {
            panic!()
        };
        assert_eq!(entities, vec!["Patient/p1"]);
    }
}
