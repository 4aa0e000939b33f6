//! Liveness and Prometheus metrics.

use std::sync::atomic::{AtomicU64, Ordering};

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::middleware::Next;
use actix_web::ResponseError;
use actix_web::{web, HttpResponse};
use salus_fhir::{Issue, IssueCode};
use tracing::Instrument;

use crate::error::ApiError;
use crate::AppState;

/// Request counters by status class.
#[derive(Default)]
pub struct Metrics {
    by_class: [AtomicU64; 5],
    pub ingested: AtomicU64,
}

/// Counts requests, gives each a request id (in the `X-Request-Id` response header and on every
/// log line the request causes, through a tracing span) and logs one line per request.
pub async fn count_requests(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let started = std::time::Instant::now();
    let method = req.method().clone();
    // The route pattern (`/fhir/{type}/{id}`), never the concrete path or query: those can
    // carry identifiers and search values. The request id is ours, never the client's: a
    // client-chosen id could carry anything.
    let route = req
        .match_pattern()
        .unwrap_or_else(|| "unmatched".to_owned());
    if let Some(state) = &state {
        let header_bytes: usize = req
            .headers()
            .iter()
            .map(|(name, value)| name.as_str().len() + value.len() + 4)
            .sum();
        let limit = state.config.max_header_bytes;
        if header_bytes > limit {
            let error = ApiError::new(
                StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                vec![Issue::error(
                    IssueCode::TooLong,
                    format!("the request headers are {header_bytes} bytes; the limit is {limit} (server.max_header_bytes)"),
                )],
            );
            return Ok(req
                .into_response(error.error_response())
                .map_into_right_body());
        }
    }
    let request_id = uuid::Uuid::new_v4().simple().to_string();
    let span = tracing::info_span!("request", id = %request_id, %method, %route);
    let mut response = next.call(req).instrument(span.clone()).await?;
    let status = response.status().as_u16();
    if let Some(state) = state {
        let class = (status / 100).clamp(1, 5) as usize - 1;
        state.metrics.by_class[class].fetch_add(1, Ordering::Relaxed);
    }
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response
            .headers_mut()
            .insert(HeaderName::from_static("x-request-id"), value);
    }
    // Debug level: a line per request costs a tenth of a point read; SALUS_LOG=debug shows them.
    span.in_scope(|| {
        tracing::debug!(
            status,
            elapsed_us = started.elapsed().as_micros() as u64,
            "request"
        )
    });
    Ok(response.map_into_left_body())
}

pub async fn healthz(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let store = state.store.clone();
    web::block(move || store.ping()).await??;
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .body(r#"{"status":"ok"}"#))
}

pub async fn metrics(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let store = state.store.clone();
    let counts = web::block(move || store.type_counts()).await??;
    let mut out = String::from("# HELP salus_http_requests_total HTTP requests answered, by status class.\n# TYPE salus_http_requests_total counter\n");
    for (i, counter) in state.metrics.by_class.iter().enumerate() {
        out.push_str(&format!(
            "salus_http_requests_total{{status=\"{}xx\"}} {}\n",
            i + 1,
            counter.load(Ordering::Relaxed)
        ));
    }
    out.push_str("# HELP salus_ingested_resources_total Resources accepted through POST /ingest.\n# TYPE salus_ingested_resources_total counter\n");
    out.push_str(&format!(
        "salus_ingested_resources_total {}\n",
        state.metrics.ingested.load(Ordering::Relaxed)
    ));
    out.push_str("# HELP salus_resources Current resources in the store, by type.\n# TYPE salus_resources gauge\n");
    for (resource_type, n) in counts {
        out.push_str(&format!(
            "salus_resources{{type=\"{resource_type}\"}} {n}\n"
        ));
    }
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(out))
}
