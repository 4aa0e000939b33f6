//! `$llm-context` and `$summary`: the shell around `salus-context`. It loads the patient's
//! compartment, hands it to the pure pipeline (consent, labels, de-identification, sections,
//! budget) and shapes the answer; the CLI's `salus summary` calls the same functions.
//!
//! Every call leaves an audit entry (through the middleware, with an [`AuditAddendum`]): the
//! purpose, the decision and its basis, and every resource the answer states.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use salus_consent::DefaultDecision;
use salus_context::{
    ContextError, ContextOptions, Disclosed, DisclosurePolicy, DisclosureRequest, LlmContext,
    Refusal, Tokenizer,
};
use salus_deid::{Engine, IdentityBook, Origin, Run};
use salus_fhir::{Issue, IssueCode};
use salus_store::Store;
use serde_json::Value;

use crate::audit::AuditAddendum;
use crate::error::ApiError;
use crate::fhir::{parse_json_body, query_pairs, read_body};
use crate::{AppState, FHIR_JSON};

/// The `[context]` part of `salus.toml`.
#[derive(Debug, Clone)]
pub struct ContextConfig {
    /// The LLM assistant as Consents name it (`provision.actor.reference`).
    pub recipient: String,
    /// What decides where no Consent applies.
    pub default_decision: DefaultDecision,
    /// `max_tokens` when the request gives none.
    pub default_max_tokens: usize,
    /// The largest `max_tokens` accepted.
    pub max_tokens_limit: usize,
    pub tokenizer: Tokenizer,
}

impl Default for ContextConfig {
    fn default() -> Self {
        ContextConfig {
            recipient: "Device/salus-llm-assistant".to_owned(),
            default_decision: DefaultDecision::Deny,
            default_max_tokens: 2000,
            max_tokens_limit: 200_000,
            tokenizer: Tokenizer::O200kBase,
        }
    }
}

/// How the context is returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Markdown,
    Prompt,
}

impl Format {
    pub fn parse(text: &str) -> Option<Format> {
        match text {
            "json" => Some(Format::Json),
            "markdown" | "md" => Some(Format::Markdown),
            "prompt" | "text" => Some(Format::Prompt),
            _ => None,
        }
    }
}

/// A request's parameters, checked.
#[derive(Debug, Clone)]
pub struct SummaryParams {
    pub purpose: String,
    pub max_tokens: usize,
    pub tokenizer: Tokenizer,
    pub format: Format,
    /// A stored policy's name or a preset's.
    pub deid: Option<String>,
    pub include_name: bool,
    /// The moment the request is decided for (consent periods, "last 90 days", ages, relative
    /// dates); `None`: now.
    pub as_of: Option<DateTime<Utc>>,
}

impl SummaryParams {
    /// From name/value pairs (query string or a Parameters resource). Unknown names are
    /// refused: a misspelt `max_token` silently ignored would hand back a different summary.
    pub fn parse(pairs: &[(String, String)], config: &ContextConfig) -> Result<Self, String> {
        let mut params = SummaryParams {
            purpose: "TREAT".to_owned(),
            max_tokens: config.default_max_tokens,
            tokenizer: config.tokenizer,
            format: Format::Json,
            deid: None,
            include_name: false,
            as_of: None,
        };
        for (name, value) in pairs {
            match name.as_str() {
                "purpose" => params.purpose = checked_purpose(value)?,
                "max_tokens" => {
                    params.max_tokens = value
                        .parse::<usize>()
                        .ok()
                        .filter(|n| (1..=config.max_tokens_limit).contains(n))
                        .ok_or_else(|| {
                            format!(
                                "max_tokens is a whole number from 1 to {}",
                                config.max_tokens_limit
                            )
                        })?
                }
                "tokenizer" => {
                    params.tokenizer = Tokenizer::parse(value).ok_or_else(|| {
                        "tokenizer is o200k_base (the default) or cl100k_base".to_owned()
                    })?
                }
                "format" => {
                    params.format = Format::parse(value)
                        .ok_or_else(|| "format is json, markdown or prompt".to_owned())?
                }
                "deid" => {
                    if value.is_empty() {
                        return Err("deid names a de-identification policy (a stored policy or a preset such as safe-harbor)".into());
                    }
                    params.deid = Some(value.clone());
                }
                "as_of" => {
                    params.as_of = Some(parse_as_of(value).map_err(|m| format!("as_of {m}"))?)
                }
                "include_name" => {
                    params.include_name = match value.as_str() {
                        "true" => true,
                        "false" => false,
                        _ => return Err("include_name is true or false".into()),
                    }
                }
                "_format" | "_pretty" => {}
                other => {
                    return Err(format!(
                        "unknown parameter '{other}': $llm-context takes purpose, max_tokens, tokenizer, format, deid, include_name and as_of"
                    ))
                }
            }
        }
        Ok(params)
    }
}

/// An as-of time: a FHIR date or dateTime, taken at its start.
pub fn parse_as_of(text: &str) -> Result<DateTime<Utc>, String> {
    salus_fhir::date::parse_range(text)
        .and_then(|r| DateTime::from_timestamp_micros(r.lo))
        .ok_or_else(|| {
            "is a FHIR date or dateTime, e.g. 2026-03-01 or 2026-03-01T09:00:00Z".to_owned()
        })
}

/// A purpose of use as requests may give it: a code, since it is written to the audit trail.
fn checked_purpose(value: &str) -> Result<String, String> {
    let ok = (1..=64).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-');
    if ok {
        Ok(value.to_owned())
    } else {
        Err("purpose is a v3 ActReason code such as TREAT, ETREAT, HPAYMT or HRESCH".into())
    }
}

/// Why a summary was not produced.
#[derive(Debug)]
pub enum SummaryFailure {
    PatientNotFound(String),
    Refused(Refusal),
    Context(ContextError),
    Bad(String),
    Deid(String),
    Store(salus_store::StoreError),
}

impl From<salus_store::StoreError> for SummaryFailure {
    fn from(e: salus_store::StoreError) -> Self {
        SummaryFailure::Store(e)
    }
}

impl std::fmt::Display for SummaryFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SummaryFailure::PatientNotFound(id) => write!(f, "Patient/{id} is not in the store"),
            SummaryFailure::Refused(r) => write!(f, "refused by consent: {}", r.reason),
            SummaryFailure::Context(e) => write!(f, "{e}"),
            SummaryFailure::Bad(m) => write!(f, "{m}"),
            SummaryFailure::Deid(m) => write!(f, "de-identification failed: {m}"),
            SummaryFailure::Store(e) => write!(f, "{e}"),
        }
    }
}

impl From<SummaryFailure> for ApiError {
    fn from(failure: SummaryFailure) -> Self {
        match failure {
            not_found @ SummaryFailure::PatientNotFound(_) => {
                ApiError::not_found(not_found.to_string())
            }
            SummaryFailure::Refused(r) => ApiError::new(
                StatusCode::FORBIDDEN,
                vec![Issue::error(IssueCode::Forbidden, r.reason)],
            ),
            SummaryFailure::Context(e) => ApiError::bad_request(IssueCode::Value, e.to_string()),
            SummaryFailure::Bad(m) => ApiError::bad_request(IssueCode::Value, m),
            SummaryFailure::Deid(m) => ApiError::bad_request(IssueCode::Processing, m),
            SummaryFailure::Store(e) => ApiError::from(e),
        }
    }
}

/// The patient's resources of `types`, parsed.
fn compartment(
    store: &Store,
    patient_id: &str,
    types: &[&str],
) -> Result<Vec<Value>, SummaryFailure> {
    let bodies = store.patient_resources(patient_id, types)?;
    let resources = salus_context::parse_resources(&bodies);
    let has_patient = resources
        .iter()
        .any(|r| r.get("resourceType").and_then(Value::as_str) == Some("Patient"));
    if !has_patient {
        return Err(SummaryFailure::PatientNotFound(patient_id.to_owned()));
    }
    Ok(resources)
}

/// Load and decide what may be disclosed.
pub fn gather(
    store: &Store,
    config: &ContextConfig,
    patient_id: &str,
    purpose: &str,
    now: DateTime<Utc>,
    types: &[&str],
) -> Result<Disclosed, SummaryFailure> {
    let resources = compartment(store, patient_id, types)?;
    salus_context::disclose(
        resources,
        &DisclosureRequest {
            patient_id,
            recipient: &config.recipient,
            purpose,
            as_of: now,
        },
        &DisclosurePolicy {
            default: config.default_decision,
            ..DisclosurePolicy::default()
        },
    )
    .map_err(SummaryFailure::Refused)
}

/// De-identify what was disclosed, in place. The patient's own identifiers (names, MRNs,
/// address parts) are taken from the disclosed resources for free-text detection.
fn deidentify(
    disclosed: &mut Disclosed,
    engine: &Engine,
    seed: [u8; 32],
) -> Result<(), SummaryFailure> {
    let mut book = IdentityBook::new();
    for r in &disclosed.resources {
        book.add_resource(r);
    }
    let mut run = Run::new(seed, engine);
    let mut resources = std::mem::take(&mut disclosed.resources);
    salus_context::order_newest_first(&mut resources);
    disclosed.resources = resources
        .into_iter()
        .map(|r| {
            engine
                .deidentify(r, &Origin::default(), &book, &mut run)
                .map_err(|e| SummaryFailure::Deid(e.to_string()))
        })
        .collect::<Result<_, _>>()?;
    Ok(())
}

/// The built context and what the audit trail records of it.
pub struct Built {
    pub context: LlmContext,
    pub basis_detail: String,
}

/// Build the LLM context. `engine` is the de-identification engine of `params.deid`, resolved
/// by the caller.
pub fn build_context(
    store: &Store,
    config: &ContextConfig,
    patient_id: &str,
    params: &SummaryParams,
    now: DateTime<Utc>,
    deid: Option<(&Engine, [u8; 32])>,
) -> Result<Built, SummaryFailure> {
    let mut disclosed = gather(
        store,
        config,
        patient_id,
        &params.purpose,
        now,
        salus_context::CONTEXT_TYPES,
    )?;
    let mut patient = format!("Patient/{patient_id}");
    if let Some((engine, seed)) = deid {
        deidentify(&mut disclosed, engine, seed)?;
        // The de-identified Patient's id (a policy may hash ids).
        if let Some(id) = disclosed
            .resources
            .iter()
            .find(|r| r.get("resourceType").and_then(Value::as_str) == Some("Patient"))
            .and_then(|p| p.get("id").and_then(Value::as_str))
        {
            patient = format!("Patient/{id}");
        }
    }
    let context = salus_context::llm_context(
        &disclosed,
        &ContextOptions {
            patient,
            purpose: params.purpose.clone(),
            max_tokens: params.max_tokens,
            tokenizer: params.tokenizer,
            now,
            include_name: params.include_name && deid.is_none(),
            relative_dates: deid.is_some(),
        },
    )
    .map_err(SummaryFailure::Context)?;
    let basis_detail = std::mem::take(&mut disclosed.basis_detail);
    // Freeing thousands of parsed resources takes milliseconds the clinician need not wait for.
    let _ = std::thread::Builder::new()
        .name("salus-summary-free".into())
        .spawn(move || drop(disclosed));
    Ok(Built {
        context,
        basis_detail,
    })
}

/// Build the IPS document.
pub fn build_ips(
    store: &Store,
    config: &ContextConfig,
    patient_id: &str,
    purpose: &str,
    now: DateTime<Utc>,
    base: &str,
) -> Result<(Value, Vec<String>, String), SummaryFailure> {
    let disclosed = gather(
        store,
        config,
        patient_id,
        purpose,
        now,
        &salus_context::ips_types(),
    )?;
    let document = salus_context::ips(
        &disclosed,
        &salus_context::IpsOptions {
            now,
            document_id: uuid::Uuid::new_v4().to_string(),
            base: base.to_owned(),
        },
    );
    let stated: Vec<String> = salus_context::ips_references(&document);
    Ok((document, stated, disclosed.basis_detail))
}

/// The audit addendum of a refusal or a disclosure.
fn addendum(purpose: &str, detail: String, entities: Vec<String>) -> AuditAddendum {
    AuditAddendum {
        entities,
        purpose: Some(purpose.to_owned()),
        detail: Some(detail),
    }
}

fn refused_response(purpose: &str, failure: SummaryFailure) -> HttpResponse {
    use actix_web::ResponseError;
    // A consent refusal is a decision, and the audit entry records it with its basis.
    let decided = match &failure {
        SummaryFailure::Refused(r) => Some(addendum(
            purpose,
            format!("deny: {}", r.reason),
            r.basis.clone(),
        )),
        _ => None,
    };
    let mut response = ApiError::from(failure).error_response();
    if let Some(decided) = decided {
        response.extensions_mut().insert(decided);
    }
    response
}

/// Name/value pairs of a posted `Parameters` resource.
fn parameters_pairs(body: &Value) -> Result<Vec<(String, String)>, ApiError> {
    if body.get("resourceType").and_then(Value::as_str) != Some("Parameters") {
        return Err(ApiError::bad_request(
            IssueCode::Structure,
            "POST $llm-context takes a Parameters resource (or no body, with the parameters in the query)",
        ));
    }
    let mut pairs = Vec::new();
    for p in body
        .get("parameter")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let Some(name) = p.get("name").and_then(Value::as_str) else {
            continue;
        };
        let value = ["valueString", "valueCode", "valueInteger", "valuePositiveInt", "valueBoolean"]
            .iter()
            .find_map(|k| p.get(*k))
            .map(|v| match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            })
            .ok_or_else(|| {
                ApiError::bad_request(
                    IssueCode::Value,
                    format!("parameter '{name}' needs a valueString, valueCode, valueInteger or valueBoolean"),
                )
            })?;
        pairs.push((name.to_owned(), value));
    }
    Ok(pairs)
}

/// `GET` or `POST /fhir/Patient/{id}/$llm-context`.
pub async fn llm_context(
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let patient_id = id.into_inner();
    let mut pairs = query_pairs(&req);
    if req.method() == actix_web::http::Method::POST {
        let body = read_body(payload, state.config.max_body_bytes).await?;
        if !body.iter().all(u8::is_ascii_whitespace) {
            pairs.extend(parameters_pairs(&parse_json_body(&body)?)?);
        }
    }
    let params = SummaryParams::parse(&pairs, &state.config.context)
        .map_err(|m| ApiError::bad_request(IssueCode::Value, m))?;
    let purpose = params.purpose.clone();
    let state2 = state.clone();
    let now = params.as_of.unwrap_or_else(Utc::now);
    let outcome = web::block(move || {
        let engine = match &params.deid {
            Some(name) => {
                let (text, _) =
                    crate::policies::resolve(&state2.store, name)?.ok_or_else(|| {
                        ApiError::not_found(format!(
                            "no de-identification policy or preset is named '{name}'"
                        ))
                    })?;
                Some((state2.engines.get(&text)?, crate::policies::os_seed()?))
            }
            None => None,
        };
        let deid = engine.as_ref().map(|(e, seed)| (e.as_ref(), *seed));
        Ok::<_, ApiError>((
            build_context(
                &state2.store,
                &state2.config.context,
                &patient_id,
                &params,
                now,
                deid,
            ),
            params.format,
        ))
    })
    .await??;
    match outcome {
        (Err(failure), _) => Ok(refused_response(&purpose, failure)),
        (Ok(built), format) => {
            let mut response = match format {
                Format::Json => HttpResponse::Ok()
                    .content_type("application/json")
                    .body(built.context.to_json_text()),
                Format::Markdown => HttpResponse::Ok()
                    .content_type("text/markdown; charset=utf-8")
                    .body(built.context.to_markdown()),
                Format::Prompt => HttpResponse::Ok()
                    .content_type("text/plain; charset=utf-8")
                    .body(built.context.to_prompt()),
            };
            response.extensions_mut().insert(addendum(
                &purpose,
                format!("permit: {}", built.basis_detail),
                built.context.disclosed.clone(),
            ));
            Ok(response)
        }
    }
}

/// `GET /fhir/Patient/{id}/$summary`: the International Patient Summary.
pub async fn ips(
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let patient_id = id.into_inner();
    let mut purpose = "TREAT".to_owned();
    for (k, v) in query_pairs(&req) {
        match k.as_str() {
            "purpose" => {
                purpose =
                    checked_purpose(&v).map_err(|m| ApiError::bad_request(IssueCode::Value, m))?
            }
            "_format" | "_pretty" => {}
            other => {
                return Err(ApiError::bad_request(
                    IssueCode::Value,
                    format!("unknown parameter '{other}': $summary takes purpose"),
                ))
            }
        }
    }
    let base = crate::fhir::base_url(&req);
    let state2 = state.clone();
    let purpose2 = purpose.clone();
    let outcome = web::block(move || {
        build_ips(
            &state2.store,
            &state2.config.context,
            &patient_id,
            &purpose2,
            Utc::now(),
            &base,
        )
    })
    .await?;
    match outcome {
        Err(failure) => Ok(refused_response(&purpose, failure)),
        Ok((document, stated, basis)) => {
            let mut response = HttpResponse::Ok()
                .content_type(FHIR_JSON)
                .body(document.to_string());
            response.extensions_mut().insert(addendum(
                &purpose,
                format!("permit: {basis}"),
                stated,
            ));
            Ok(response)
        }
    }
}
