//! The FHIR interactions: capabilities, read, vread, search, create, update, batch/transaction.

use std::collections::HashMap;

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse, Scope};
use futures_util::StreamExt;
use salus_auth::{authorize, Action, Principal};
use salus_fhir::date::format_instant;
use salus_fhir::reference::{for_each_reference_mut, parse, Target};
use salus_fhir::search::{params_for, parse_query, Clause, SearchQuery};
use salus_fhir::{prepare, schema, Issue, IssueCode, PreparedResource};
use salus_ingest::WriteOutcome;
use salus_store::{StoredResource, WriteRequest, Written};
use serde_json::{json, Value};

use crate::error::ApiError;
use crate::{store_read, AppState, ReadCost, FHIR_JSON};

pub fn scope() -> Scope {
    web::scope("/fhir")
        .route("/metadata", web::get().to(metadata))
        .route("", web::post().to(bundle))
        .route("/", web::post().to(bundle))
        .route("/$export", web::get().to(crate::export::kickoff))
        .service(
            path("/$export-jobs/{kind}/{id}")
                .route(web::get().to(crate::export::status))
                .route(web::delete().to(crate::export::cancel)),
        )
        .route(
            "/$export-jobs/{kind}/{id}/{file}",
            web::get().to(crate::export::file),
        )
        .route("/AuditEvent", web::get().to(crate::audit::search))
        .route("/AuditEvent/{id}", web::get().to(crate::audit::read))
        .service(
            path("/Patient/{id}/$llm-context")
                .route(web::get().to(crate::summary::llm_context))
                .route(web::post().to(crate::summary::llm_context)),
        )
        .service(path("/Patient/{id}/$summary").route(web::get().to(crate::summary::ips)))
        .service(
            path("/{type}")
                .route(web::get().to(search))
                .route(web::post().to(create)),
        )
        .service(
            path("/{type}/{id}")
                .route(web::get().to(read))
                .route(web::put().to(update)),
        )
        .route("/{type}/{id}/_history/{vid}", web::get().to(vread))
}

/// A path served by several methods: one resource, so that a request is matched against the
/// pattern once; a method the path does not serve answers as an unknown endpoint does.
fn path(pattern: &str) -> actix_web::Resource {
    web::resource(pattern).default_service(web::to(no_such_route))
}

/// Microseconds since the Unix epoch, now. The server is the shell that owns the clock.
pub fn now_micros() -> i64 {
    chrono::Utc::now().timestamp_micros()
}

/// The query string as decoded pairs (`+` is a space), in order.
pub fn query_pairs(req: &HttpRequest) -> Vec<(String, String)> {
    decode_query(req.query_string())
}

/// `a=1&b=x%7Cy` as decoded pairs, in order.
pub fn decode_query(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let decode = |s: &str| {
                let s = s.replace('+', " ");
                urlencoding::decode(&s).map(|c| c.into_owned()).unwrap_or(s)
            };
            (decode(k), decode(v))
        })
        .collect()
}

/// Read a request body up to `limit` bytes; past it, a 413 OperationOutcome.
pub async fn read_body(mut payload: web::Payload, limit: usize) -> Result<web::Bytes, ApiError> {
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| {
            ApiError::bad_request(
                IssueCode::Structure,
                format!("the request body could not be read: {e}"),
            )
        })?;
        if body.len() + chunk.len() > limit {
            return Err(ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                vec![Issue::error(
                    IssueCode::TooLong,
                    format!("the request body is larger than the limit of {limit} bytes (server.max_body_bytes)"),
                )],
            ));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

pub(crate) fn parse_json_body(body: &[u8]) -> Result<Value, ApiError> {
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::bad_request(
            IssueCode::Required,
            "the request body is empty: send a FHIR resource as JSON",
        ));
    }
    serde_json::from_slice(body).map_err(|e| {
        let text = e.to_string();
        let what = text.split(" at line ").next().unwrap_or("malformed JSON");
        ApiError::bad_request(
            IssueCode::Structure,
            format!(
                "the request body is not valid JSON: {what} (line {}, column {})",
                e.line(),
                e.column()
            ),
        )
    })
}

fn check_type(resource_type: &str) -> Result<(), ApiError> {
    if schema::is_resource_type(resource_type) {
        Ok(())
    } else {
        Err(ApiError::not_found(format!(
            "'{resource_type}' is not a FHIR R4 resource type (names are case-sensitive, e.g. Patient, Observation)"
        )))
    }
}

/// A search confined to one patient's resources or to named ids reads a bounded number of
/// index rows; any other may scan a whole type.
fn search_cost(query: &SearchQuery) -> ReadCost {
    let bounded = query
        .clauses
        .iter()
        .any(|c| matches!(c, Clause::Patient(_) | Clause::Id(_)));
    if bounded {
        ReadCost::Bounded
    } else {
        ReadCost::Unbounded
    }
}

fn invalid(issues: Vec<Issue>) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, issues)
}

pub(crate) fn base_url(req: &HttpRequest) -> String {
    let info = req.connection_info();
    format!("{}://{}/fhir", info.scheme(), info.host())
}

fn etag(version: i64) -> String {
    format!("W/\"{version}\"")
}

fn http_date(micros: i64) -> String {
    chrono::DateTime::from_timestamp_micros(micros)
        .unwrap_or_default()
        .format("%a, %d %b %Y %H:%M:%S GMT")
        .to_string()
}

fn resource_response(status: StatusCode, stored: &StoredResource) -> HttpResponse {
    HttpResponse::build(status)
        .content_type(FHIR_JSON)
        .insert_header((header::ETAG, etag(stored.version_id)))
        .insert_header((header::LAST_MODIFIED, http_date(stored.last_updated)))
        .body(stored.body.clone())
}

pub async fn no_such_route() -> Result<HttpResponse, ApiError> {
    Err(ApiError::not_found(
        "no such endpoint: see GET /fhir/metadata for what this server offers",
    ))
}

async fn metadata(req: HttpRequest) -> HttpResponse {
    let resources: Vec<Value> = schema::resource_types()
        .filter(|t| !matches!(*t, "Bundle" | "OperationOutcome" | "Parameters"))
        .map(|t| {
            let params: Vec<Value> = params_for(t)
                .map(|p| json!({"name": p.name, "type": param_type(p.kind)}))
                .collect();
            json!({
                "type": t,
                "interaction": [{"code": "read"}, {"code": "vread"}, {"code": "search-type"},
                                 {"code": "create"}, {"code": "update"}],
                "versioning": "versioned",
                "readHistory": true,
                "updateCreate": true,
                "conditionalCreate": true,
                "searchParam": params,
            })
        })
        .collect();
    let statement = json!({
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": "2026-11-28",
        "kind": "instance",
        "software": {"name": "Salus", "version": env!("CARGO_PKG_VERSION")},
        "implementation": {"description": "Salus FHIR-interoperable clinical data integration", "url": base_url(&req)},
        "fhirVersion": "4.0.1",
        "format": ["application/fhir+json", "json"],
        "rest": [{
            "mode": "server",
            "resource": resources,
            "interaction": [{"code": "batch"}, {"code": "transaction"}],
        }],
    });
    HttpResponse::Ok()
        .content_type(FHIR_JSON)
        .body(statement.to_string())
}

fn param_type(kind: salus_fhir::search::ParamKind) -> &'static str {
    use salus_fhir::search::ParamKind::*;
    match kind {
        Token | Id => "token",
        Date | LastUpdated => "date",
        Text => "string",
        Patient => "reference",
    }
}

async fn read(
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (resource_type, id) = path.into_inner();
    check_type(&resource_type)?;
    let (t, i) = (resource_type.clone(), id.clone());
    match store_read(&state.store, ReadCost::Bounded, move |store| {
        store.read(&t, &i)
    })
    .await?
    {
        Some(stored) => Ok(resource_response(StatusCode::OK, &stored)),
        None => Err(ApiError::not_found(format!(
            "{resource_type}/{id} is not known to this server"
        ))),
    }
}

async fn vread(
    state: web::Data<AppState>,
    path: web::Path<(String, String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (resource_type, id, vid) = path.into_inner();
    check_type(&resource_type)?;
    let version: i64 = vid.parse().map_err(|_| {
        ApiError::bad_request(
            IssueCode::Invalid,
            "a version id is a whole number, as in meta.versionId",
        )
    })?;
    let (t, i) = (resource_type.clone(), id.clone());
    match store_read(&state.store, ReadCost::Bounded, move |store| {
        store.read_version(&t, &i, version)
    })
    .await?
    {
        Some(stored) => Ok(resource_response(StatusCode::OK, &stored)),
        None => Err(ApiError::not_found(format!(
            "{resource_type}/{id} has no version {version}"
        ))),
    }
}

async fn search(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let resource_type = path.into_inner();
    check_type(&resource_type)?;
    let pairs = query_pairs(&req);
    let lenient = req
        .headers()
        .get("Prefer")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("handling=lenient"));
    let query = parse_query(&resource_type, &pairs, !lenient).map_err(invalid)?;
    let want_total = pairs.iter().any(|(k, v)| k == "_total" && v == "accurate");
    let q = query.clone();
    let (page, total) = store_read(&state.store, search_cost(&query), move |store| {
        let page = store.search(&q)?;
        let total = if want_total {
            Some(store.search_count(&q)?)
        } else {
            None
        };
        Ok((page, total))
    })
    .await?;

    let base = base_url(&req);
    let self_query: Vec<String> = pairs
        .iter()
        .filter(|(k, _)| k != "_cursor")
        .map(|(k, v)| format!("{}={}", urlencoding::encode(k), urlencoding::encode(v)))
        .collect();
    let self_url = format!("{base}/{resource_type}?{}", self_query.join("&"));
    let mut links = vec![json!({"relation": "self", "url": self_url})];
    if let Some(cursor) = page.next_cursor {
        let separator = if self_query.is_empty() { "" } else { "&" };
        links.push(
            json!({"relation": "next", "url": format!("{self_url}{separator}_cursor={cursor}")}),
        );
    }
    // Bodies are spliced in as stored: no parse and re-serialize per resource.
    let mut out = String::with_capacity(
        256 + page
            .resources
            .iter()
            .map(|r| r.body.len() + 128)
            .sum::<usize>(),
    );
    out.push_str(r#"{"resourceType":"Bundle","type":"searchset""#);
    if let Some(total) = total {
        out.push_str(&format!(r#","total":{total}"#));
    }
    out.push_str(r#","link":"#);
    out.push_str(&Value::Array(links).to_string());
    out.push_str(r#","entry":["#);
    // The fullUrl prefix, escaped once: `base` comes from the Host header. Ids need no
    // escaping (FHIR ids are [A-Za-z0-9-.]{1,64}, checked on write).
    let prefix = Value::String(format!("{base}/{resource_type}/")).to_string();
    let prefix = &prefix[..prefix.len() - 1];
    for (i, hit) in page.resources.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(r#"{"fullUrl":"#);
        out.push_str(prefix);
        out.push_str(&hit.id);
        out.push_str(r#"","resource":"#);
        out.push_str(&hit.body);
        out.push_str(r#","search":{"mode":"match"}}"#);
    }
    if !query.ignored.is_empty() {
        if !page.resources.is_empty() {
            out.push(',');
        }
        let outcome = salus_fhir::OperationOutcome::single(Issue::warning(
            IssueCode::NotSupported,
            format!("ignored search parameters: {}", query.ignored.join(", ")),
        ));
        out.push_str(&format!(
            r#"{{"resource":{},"search":{{"mode":"outcome"}}}}"#,
            outcome.to_json()
        ));
    }
    out.push_str("]}");
    Ok(HttpResponse::Ok().content_type(FHIR_JSON).body(out))
}

/// A version ETag, weak or strong: `W/"3"` or `"3"` → 3.
fn parse_etag(tag: &str) -> Option<i64> {
    tag.trim()
        .trim_start_matches("W/")
        .trim_matches('"')
        .parse()
        .ok()
}

/// `If-Match: W/"3"` → 3.
fn if_match(req: &HttpRequest) -> Result<Option<i64>, ApiError> {
    let Some(value) = req.headers().get(header::IF_MATCH) else {
        return Ok(None);
    };
    parse_etag(value.to_str().unwrap_or_default())
        .map(Some)
        .ok_or_else(|| {
            ApiError::bad_request(
                IssueCode::Invalid,
                "If-Match must be an ETag such as W/\"3\"",
            )
        })
}

fn prepare_or_400(body: Value) -> Result<PreparedResource, ApiError> {
    prepare(body).map_err(invalid)
}

async fn write_one(
    state: &web::Data<AppState>,
    request: WriteRequest,
) -> Result<Written, ApiError> {
    let store = state.store.clone();
    let mut written = web::block(move || store.write(vec![request], now_micros())).await??;
    Ok(written.remove(0))
}

async fn current(
    state: &web::Data<AppState>,
    resource_type: &str,
    id: &str,
) -> Result<StoredResource, ApiError> {
    let (t, i) = (resource_type.to_owned(), id.to_owned());
    store_read(&state.store, ReadCost::Bounded, move |store| {
        store.read(&t, &i)
    })
    .await?
    .ok_or_else(|| ApiError::internal("a resource just written cannot be read"))
}

fn written_response(
    req: &HttpRequest,
    w: &Written,
    status: StatusCode,
    stored_body: String,
) -> HttpResponse {
    let location = format!(
        "{}/{}/{}/_history/{}",
        base_url(req),
        w.resource_type,
        w.id,
        w.version_id
    );
    let mut response = HttpResponse::build(status);
    response
        .content_type(FHIR_JSON)
        .insert_header((header::ETAG, etag(w.version_id)))
        .insert_header((header::LAST_MODIFIED, http_date(w.last_updated)));
    if let Ok(v) = HeaderValue::from_str(&location) {
        response.insert_header((header::LOCATION, v));
    }
    response.body(stored_body)
}

async fn create(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let resource_type = path.into_inner();
    check_type(&resource_type)?;
    let mut body = parse_json_body(&read_body(payload, state.config.max_body_bytes).await?)?;
    check_body_type(&body, &resource_type)?;
    // FHIR create: the server assigns the id; a client-supplied one is ignored.
    body["id"] = Value::String(uuid::Uuid::new_v4().to_string());
    let prepared = prepare_or_400(body)?;
    let written = write_one(
        &state,
        WriteRequest {
            resource: prepared,
            source: Some("HTTP POST".into()),
            if_match: Some(0),
            create_only: false,
        },
    )
    .await?;
    let body = written.body.clone().unwrap_or_default();
    Ok(written_response(&req, &written, StatusCode::CREATED, body))
}

fn check_body_type(body: &Value, resource_type: &str) -> Result<(), ApiError> {
    match body.get("resourceType").and_then(Value::as_str) {
        Some(t) if t == resource_type => Ok(()),
        Some(t) => Err(ApiError::bad_request(
            IssueCode::Invalid,
            format!("the body is a {t}, but the URL names {resource_type}"),
        )),
        None => Err(ApiError::bad_request(
            IssueCode::Required,
            "the body has no resourceType",
        )),
    }
}

async fn update(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let (resource_type, id) = path.into_inner();
    check_type(&resource_type)?;
    let body = parse_json_body(&read_body(payload, state.config.max_body_bytes).await?)?;
    check_body_type(&body, &resource_type)?;
    match body.get("id").and_then(Value::as_str) {
        Some(body_id) if body_id == id => {}
        Some(_) => {
            return Err(ApiError::bad_request(
                IssueCode::Invalid,
                "the id in the body differs from the id in the URL",
            ))
        }
        None => {
            return Err(ApiError::bad_request(
                IssueCode::Required,
                "an update must carry the resource id in the body, equal to the URL's",
            ))
        }
    }
    let prepared = prepare_or_400(body)?;
    let written = write_one(
        &state,
        WriteRequest {
            resource: prepared,
            source: Some("HTTP PUT".into()),
            if_match: if_match(&req)?,
            create_only: false,
        },
    )
    .await?;
    let (status, body) = match (written.outcome, written.body.clone()) {
        (WriteOutcome::Created, Some(b)) => (StatusCode::CREATED, b),
        (_, Some(b)) => (StatusCode::OK, b),
        (_, None) => (
            StatusCode::OK,
            current(&state, &resource_type, &id).await?.body,
        ),
    };
    Ok(written_response(&req, &written, status, body))
}

// ---------------------------------------------------------------------------------------------
// batch and transaction

/// One entry's intended write, after pass 1.
struct Planned {
    index: usize,
    resource: Value,
    method: String,
    if_none_exist: Option<String>,
    if_match: Option<i64>,
}

fn entry_error(index: usize, status: StatusCode, issues: Vec<Issue>) -> ApiError {
    let issues = issues
        .into_iter()
        .map(|mut i| {
            i.diagnostics = format!("Bundle.entry[{index}]: {}", i.diagnostics);
            i
        })
        .collect();
    ApiError::new(status, issues)
}

async fn bundle(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body = parse_json_body(&read_body(payload, state.config.max_body_bytes).await?)?;
    if body.get("resourceType").and_then(Value::as_str) != Some("Bundle") {
        return Err(ApiError::bad_request(
            IssueCode::Invalid,
            "POST /fhir takes a Bundle of type batch or transaction",
        ));
    }
    let kind = body
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let entries = match body.get("entry") {
        Some(Value::Array(e)) => e.clone(),
        None => Vec::new(),
        Some(_) => {
            return Err(ApiError::bad_request(
                IssueCode::Structure,
                "Bundle.entry must be an array",
            ))
        }
    };
    match kind.as_str() {
        "transaction" => transaction(state, req, entries).await,
        "batch" => batch(state, req, entries).await,
        _ => Err(ApiError::bad_request(
            IssueCode::Invalid,
            "POST /fhir takes a Bundle of type batch or transaction; to load other Bundles as data use POST /ingest",
        )),
    }
}

/// Pass 1 of a write entry: method, target id and conditions. Reads happen in the caller.
fn plan_entry(
    index: usize,
    entry: &Value,
    principal: Option<&Principal>,
) -> Result<(Planned, Option<String>), ApiError> {
    let request = entry.get("request").cloned().unwrap_or(Value::Null);
    let method = request
        .get("method")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let url = request
        .get("url")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let resource = entry.get("resource").cloned();
    let full_url = entry
        .get("fullUrl")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let bad = |msg: &str| {
        entry_error(
            index,
            StatusCode::BAD_REQUEST,
            vec![Issue::error(IssueCode::Invalid, msg)],
        )
    };
    let Some(mut resource) = resource.filter(Value::is_object) else {
        return Err(bad(
            "only POST and PUT entries with a resource are supported in a transaction or batch",
        ));
    };
    let resource_type = resource
        .get("resourceType")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let if_match = match request.get("ifMatch").and_then(Value::as_str) {
        Some(tag) => {
            Some(parse_etag(tag).ok_or_else(|| bad("ifMatch must be an ETag such as W/\"3\""))?)
        }
        None => None,
    };
    match method.as_str() {
        "POST" => {
            if url.split('?').next() != Some(resource_type.as_str()) {
                return Err(bad("a POST entry's request.url must be the resource type"));
            }
            resource["id"] = Value::String(uuid::Uuid::new_v4().to_string());
        }
        "PUT" => match parse(&url) {
            Target::Resource {
                resource_type: t,
                id,
            } if t == resource_type => {
                if resource
                    .get("id")
                    .and_then(Value::as_str)
                    .is_some_and(|i| i != id)
                {
                    return Err(bad("the resource id differs from the id in request.url"));
                }
                resource["id"] = Value::String(id.to_owned());
            }
            _ => {
                return Err(bad(
                    "a PUT entry's request.url must be Type/id of its resource",
                ))
            }
        },
        _ => return Err(bad(
            "request.method must be POST or PUT (GET, DELETE and PATCH entries are not supported)",
        )),
    }
    // The Bundle as a whole was authorized by role; each entry is authorized as what it does,
    // so a token's scopes hold inside a Bundle as outside it.
    if let Some(principal) = principal {
        let action = if method == "POST" {
            Action::Create {
                resource_type: resource_type.clone(),
            }
        } else {
            Action::Update {
                resource_type: resource_type.clone(),
            }
        };
        authorize(principal, &action).map_err(|denial| {
            entry_error(
                index,
                StatusCode::FORBIDDEN,
                vec![Issue::error(IssueCode::Forbidden, denial.0)],
            )
        })?;
    }
    let if_none_exist = request
        .get("ifNoneExist")
        .and_then(Value::as_str)
        .map(str::to_owned);
    Ok((
        Planned {
            index,
            resource,
            method,
            if_none_exist,
            if_match,
        },
        full_url,
    ))
}

/// Conditional create: the id of the one match, `None` for no match, an error for several.
async fn if_none_exist(
    state: &web::Data<AppState>,
    index: usize,
    resource_type: &str,
    query: &str,
) -> Result<Option<String>, ApiError> {
    let pairs = decode_query(query);
    let mut q = parse_query(resource_type, &pairs, true)
        .map_err(|issues| entry_error(index, StatusCode::BAD_REQUEST, issues))?;
    q.count = 2;
    let page = store_read(&state.store, search_cost(&q), move |store| store.search(&q)).await?;
    match page.resources.len() {
        0 => Ok(None),
        1 => Ok(Some(page.resources[0].id.clone())),
        _ => Err(entry_error(
            index,
            StatusCode::PRECONDITION_FAILED,
            vec![Issue::error(
                IssueCode::Duplicate,
                "ifNoneExist matches more than one resource",
            )],
        )),
    }
}

fn response_entry(base: &str, w: &Written, status: &str) -> Value {
    json!({"response": {
        "status": status,
        "location": format!("{base}/{}/{}/_history/{}", w.resource_type, w.id, w.version_id),
        "etag": etag(w.version_id),
        "lastModified": format_instant(w.last_updated),
    }})
}

fn status_text(method: &str, outcome: WriteOutcome) -> &'static str {
    match (method, outcome) {
        (_, WriteOutcome::Created) => "201 Created",
        _ => "200 OK",
    }
}

async fn transaction(
    state: web::Data<AppState>,
    req: HttpRequest,
    entries: Vec<Value>,
) -> Result<HttpResponse, ApiError> {
    let base = base_url(&req);
    let principal = crate::auth::principal(&req);
    let mut planned = Vec::new();
    let mut full_urls: HashMap<String, String> = HashMap::new();
    let mut existing: HashMap<usize, String> = HashMap::new();
    for (i, entry) in entries.iter().enumerate() {
        let (plan, full_url) = plan_entry(i, entry, principal.as_deref())?;
        let resource_type = plan.resource["resourceType"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let mut id = plan.resource["id"].as_str().unwrap_or_default().to_owned();
        if let Some(query) = &plan.if_none_exist {
            if let Some(found) = if_none_exist(&state, i, &resource_type, query).await? {
                id = found.clone();
                existing.insert(i, found);
            }
        }
        if let Some(url) = full_url {
            full_urls.insert(url, format!("{resource_type}/{id}"));
        }
        planned.push(plan);
    }
    // Pass 2: resolve references to other entries, validate everything before writing anything.
    let mut requests = Vec::new();
    let mut order = Vec::new();
    for mut plan in planned {
        if existing.contains_key(&plan.index) {
            continue;
        }
        let mut dangling = Vec::new();
        for_each_reference_mut(&mut plan.resource, &mut |r| {
            if let Some(local) = full_urls.get(r.as_str()) {
                *r = local.clone();
            } else if r.starts_with("urn:uuid:") {
                dangling.push(Issue::error(
                    IssueCode::NotFound,
                    "a urn:uuid reference names no entry of this transaction",
                ));
            }
        });
        if !dangling.is_empty() {
            return Err(entry_error(plan.index, StatusCode::BAD_REQUEST, dangling));
        }
        let prepared = prepare(plan.resource)
            .map_err(|issues| entry_error(plan.index, StatusCode::BAD_REQUEST, issues))?;
        order.push((plan.index, plan.method));
        requests.push(WriteRequest {
            resource: prepared,
            source: Some("HTTP transaction".into()),
            if_match: plan.if_match,
            create_only: false,
        });
    }
    let store = state.store.clone();
    let written = web::block(move || store.write(requests, now_micros())).await??;
    let mut response_entries: Vec<Value> = vec![Value::Null; entries.len()];
    for ((index, method), w) in order.iter().zip(&written) {
        response_entries[*index] = response_entry(&base, w, status_text(method, w.outcome));
    }
    for (index, id) in existing {
        let t = entries[index]["resource"]["resourceType"]
            .as_str()
            .unwrap_or_default();
        response_entries[index] =
            json!({"response": {"status": "200 OK", "location": format!("{base}/{t}/{id}")}});
    }
    let out = json!({"resourceType": "Bundle", "type": "transaction-response", "entry": response_entries});
    Ok(HttpResponse::Ok()
        .content_type(FHIR_JSON)
        .body(out.to_string()))
}

async fn batch(
    state: web::Data<AppState>,
    req: HttpRequest,
    entries: Vec<Value>,
) -> Result<HttpResponse, ApiError> {
    let base = base_url(&req);
    let principal = crate::auth::principal(&req);
    let mut response_entries = Vec::with_capacity(entries.len());
    for (i, entry) in entries.iter().enumerate() {
        let result = async {
            let (plan, _) = plan_entry(i, entry, principal.as_deref())?;
            let resource_type = plan.resource["resourceType"].as_str().unwrap_or_default().to_owned();
            if let Some(query) = &plan.if_none_exist {
                if let Some(found) = if_none_exist(&state, i, &resource_type, query).await? {
                    return Ok(json!({"response": {"status": "200 OK", "location": format!("{base}/{resource_type}/{found}")}}));
                }
            }
            let prepared = prepare(plan.resource).map_err(|issues| entry_error(i, StatusCode::BAD_REQUEST, issues))?;
            let w = write_one(&state, WriteRequest { resource: prepared, source: Some("HTTP batch".into()), if_match: plan.if_match, create_only: false }).await?;
            Ok::<_, ApiError>(response_entry(&base, &w, status_text(&plan.method, w.outcome)))
        }
        .await;
        response_entries.push(match result {
            Ok(entry) => entry,
            Err(e) => json!({"response": {"status": e.status.as_u16().to_string(), "outcome": e.outcome.to_json()}}),
        });
    }
    let out =
        json!({"resourceType": "Bundle", "type": "batch-response", "entry": response_entries});
    Ok(HttpResponse::Ok()
        .content_type(FHIR_JSON)
        .body(out.to_string()))
}
