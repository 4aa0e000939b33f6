//! Stewards' de-identification policies over HTTP (`/admin/deid-policies/{name}`): stored,
//! validated completely before they are kept, previewed on posted content. Who may call these
//! is decided in `auth` (policy-read, policy-change); what a policy means, in `salus-deid`.

use std::sync::Arc;

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse, Scope};
use chrono::NaiveDate;
use quick_cache::sync::Cache;
use salus_deid::{DefaultKeys, Engine, IdentityBook, Origin, Policy, Problems, Run};
use salus_fhir::{Issue, IssueCode};
use salus_store::Store;
use serde_json::{json, Value};

use crate::error::ApiError;
use crate::fhir::{now_micros, read_body};
use crate::AppState;

const JSON: &str = "application/json";

pub fn scope() -> Scope {
    web::scope("/admin/deid-policies")
        .route("", web::get().to(list))
        .route("/{name}", web::get().to(get))
        .route("/{name}", web::put().to(put))
        .route("/{name}", web::delete().to(delete))
        .route("/{name}/$preview", web::post().to(preview))
}

/// Where a policy named in a request comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicySource {
    Stored,
    Preset,
}

/// The text of the policy `name`: a stored policy, else a built-in preset. (Preset names
/// cannot be stored, so the two never compete.)
pub fn resolve(store: &Store, name: &str) -> salus_store::Result<Option<(String, PolicySource)>> {
    if let Some(row) = store.policy(name)? {
        return Ok(Some((row.policy, PolicySource::Stored)));
    }
    Ok(salus_deid::preset(name).map(|text| (text.to_owned(), PolicySource::Preset)))
}

/// Why a name cannot be a stored policy's, or `None` when it can. Names are path segments and
/// appear in the audit trail, hence the small alphabet.
pub fn name_problem(name: &str) -> Option<String> {
    let valid = (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if !valid {
        return Some(
            "a policy name is 1 to 64 characters of A-Z, a-z, 0-9, '.', '_' and '-'".to_owned(),
        );
    }
    if salus_deid::preset(name).is_some() {
        return Some(format!(
            "'{name}' is a built-in preset's name ({}): presets cannot be changed or deleted; store your variant under another name",
            preset_names()
        ));
    }
    None
}

fn preset_names() -> String {
    salus_deid::PRESETS.map(|(n, _)| n).join(", ")
}

/// One issue per problem, each pointing at its rule (`fhirPathRules[i]`).
pub fn problem_issues(problems: &Problems) -> Vec<Issue> {
    problems
        .0
        .iter()
        .map(|p| {
            let issue = Issue::error(IssueCode::Invalid, p.to_string());
            match p.rule {
                Some(i) => issue.at(format!("fhirPathRules[{i}]")),
                None => issue,
            }
        })
        .collect()
}

/// Engines by policy text and day, shared by previews and exports: building one compiles the
/// free-text scrubber's patterns and dictionaries, too slow to repeat per request.
pub struct Engines {
    keys: DefaultKeys,
    cache: Cache<(String, NaiveDate), Arc<Engine>>,
}

impl Engines {
    pub fn new(keys: DefaultKeys) -> Engines {
        Engines {
            keys,
            cache: Cache::new(16),
        }
    }

    /// The engine for a policy text, built on first use. Blocking work: call it off the async
    /// workers. Errors are the policy's problems or the engine's reason, never data.
    pub fn get(&self, text: &str) -> Result<Arc<Engine>, ApiError> {
        let today = chrono::Utc::now().date_naive();
        let key = (text.to_owned(), today);
        if let Some(engine) = self.cache.get(&key) {
            return Ok(engine);
        }
        let policy = Policy::parse(text)
            .map_err(|p| ApiError::new(StatusCode::BAD_REQUEST, problem_issues(&p)))?;
        let engine = Arc::new(
            Engine::build(policy, self.keys.clone(), today).map_err(|e| {
                ApiError::bad_request(IssueCode::Invalid, format!("the policy cannot run: {e}"))
            })?,
        );
        self.cache.insert(key, engine.clone());
        Ok(engine)
    }
}

/// Random bytes from the operating system (a run's seed).
pub fn os_seed() -> Result<[u8; 32], ApiError> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(ApiError::internal)?;
    Ok(seed)
}

fn policy_response(status: StatusCode, text: String) -> HttpResponse {
    HttpResponse::build(status).content_type(JSON).body(text)
}

fn not_found(name: &str) -> ApiError {
    ApiError::not_found(format!(
        "no de-identification policy named '{name}' (stored policies: GET /admin/deid-policies; presets: {})",
        preset_names()
    ))
}

/// `GET /admin/deid-policies`: the stored policies' names and times, and the presets.
async fn list(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let store = state.store.clone();
    let rows = web::block(move || store.list_policies()).await??;
    let stored: Vec<Value> = rows
        .iter()
        .map(|r| {
            json!({"name": r.name, "created": instant(r.created_at),
                   "updated": instant(r.updated_at), "updatedBy": r.updated_by})
        })
        .collect();
    let presets: Vec<&str> = salus_deid::PRESETS.iter().map(|(n, _)| *n).collect();
    Ok(HttpResponse::Ok()
        .content_type(JSON)
        .body(json!({"stored": stored, "presets": presets}).to_string()))
}

fn instant(micros: i64) -> String {
    salus_fhir::date::format_instant(micros)
}

async fn get(
    state: web::Data<AppState>,
    name: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let name = name.into_inner();
    let store = state.store.clone();
    let lookup = name.clone();
    match web::block(move || resolve(&store, &lookup)).await?? {
        Some((text, _)) => Ok(policy_response(StatusCode::OK, text)),
        None => Err(not_found(&name)),
    }
}

async fn put(
    state: web::Data<AppState>,
    req: HttpRequest,
    name: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let name = name.into_inner();
    if let Some(problem) = name_problem(&name) {
        let status = if salus_deid::preset(&name).is_some() {
            StatusCode::CONFLICT
        } else {
            StatusCode::BAD_REQUEST
        };
        return Err(ApiError::new(
            status,
            vec![Issue::error(IssueCode::Invalid, problem)],
        ));
    }
    let body = read_body(payload, state.config.max_body_bytes).await?;
    let text = String::from_utf8(body.to_vec())
        .map_err(|_| ApiError::bad_request(IssueCode::Structure, "the policy is not UTF-8 text"))?;
    let by = crate::auth::principal(&req)
        .map_or_else(|| "anonymous".to_owned(), |p| p.subject.reference());
    let state2 = state.clone();
    let stored_name = name.clone();
    let stored_text = text.clone();
    let created = web::block(move || {
        // Every problem before anything is kept; and a policy that parses but cannot run
        // (a free-text setting the scrubber refuses) is refused too.
        state2.engines.get(&stored_text)?;
        Ok::<_, ApiError>(
            state2
                .store
                .put_policy(&stored_name, &stored_text, &by, now_micros())?,
        )
    })
    .await??;
    let mut response = policy_response(
        if created {
            StatusCode::CREATED
        } else {
            StatusCode::OK
        },
        text,
    );
    if created {
        response.headers_mut().insert(
            header::LOCATION,
            header::HeaderValue::from_str(&format!("/admin/deid-policies/{name}"))
                .map_err(ApiError::internal)?,
        );
    }
    Ok(response)
}

async fn delete(
    state: web::Data<AppState>,
    name: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let name = name.into_inner();
    if salus_deid::preset(&name).is_some() {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            vec![Issue::error(
                IssueCode::Invalid,
                name_problem(&name).unwrap_or_default(),
            )],
        ));
    }
    let store = state.store.clone();
    let target = name.clone();
    if web::block(move || store.delete_policy(&target)).await?? {
        Ok(HttpResponse::NoContent().finish())
    } else {
        Err(not_found(&name))
    }
}

/// `POST /admin/deid-policies/{name}/$preview`: the posted resource or Bundle de-identified,
/// with the report. The identities come from the posted content itself; nothing is stored.
async fn preview(
    state: web::Data<AppState>,
    name: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let name = name.into_inner();
    let body = read_body(payload, state.config.max_body_bytes).await?;
    let resource = crate::fhir::parse_json_body(&body)?;
    let state2 = state.clone();
    let answer = web::block(move || {
        let (text, _) = resolve(&state2.store, &name)?.ok_or_else(|| not_found(&name))?;
        let engine = state2.engines.get(&text)?;
        let mut book = IdentityBook::new();
        book.add_resource(&resource);
        let mut run = Run::new(os_seed()?, &engine);
        let out = engine
            .deidentify(resource, &Origin::default(), &book, &mut run)
            .map_err(|e| ApiError::bad_request(IssueCode::Processing, e.to_string()))?;
        Ok::<_, ApiError>(json!({"resource": out, "report": run.report}))
    })
    .await??;
    Ok(HttpResponse::Ok()
        .content_type(JSON)
        .body(answer.to_string()))
}
