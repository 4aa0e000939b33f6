//! `POST /ingest?format=F`: a raw export in the body, answered with the ingest report.

use std::sync::atomic::Ordering;

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use salus_fhir::IssueCode;
use salus_ingest::{read_stream, Format};
use salus_store::StoreSink;

use crate::error::ApiError;
use crate::fhir::{now_micros, query_pairs, read_body};
use crate::AppState;

pub async fn ingest(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let format = match query_pairs(&req).iter().find(|(k, _)| k == "format") {
        None => Format::Auto,
        Some((_, name)) => Format::from_name(name).ok_or_else(|| {
            ApiError::bad_request(
                IssueCode::Invalid,
                "format must be one of auto, ndjson, bundle, hl7v2, ccda, csv",
            )
        })?,
    };
    let body = read_body(payload, state.config.max_ingest_bytes).await?;
    let started = std::time::Instant::now();
    let state2 = state.clone();
    let report = web::block(move || {
        let mut sink = StoreSink::new(&state2.store, state2.config.ingest_batch_size, now_micros);
        let mut reader =
            salus_ingest::decompress(std::io::Cursor::new(body)).map_err(|e| e.to_string())?;
        let records = read_stream(
            &mut reader,
            "request body",
            format,
            &state2.config.ingest_limits,
            &mut sink,
        )
        .map_err(|e| e.to_string())?;
        let mut report = sink.finish().map_err(|e| e.to_string())?;
        report.files = 1;
        report.records = records;
        Ok::<_, String>(report)
    })
    .await?
    .map_err(ApiError::internal)?;
    let mut report = report;
    report.elapsed_ms = started.elapsed().as_millis() as u64;
    let totals = report.totals();
    state
        .metrics
        .ingested
        .fetch_add(totals.total(), Ordering::Relaxed);
    // Partial success is still 200 (the report lists what was rejected); nothing accepted at
    // all, with something rejected, is 422.
    let status = if !report.rejected.is_empty() && totals.total() == 0 {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    Ok(HttpResponse::build(status)
        .insert_header(("X-Salus-Rejected", report.rejected.len().to_string()))
        .content_type("application/json")
        .body(serde_json::to_string(&report).expect("the report serializes")))
}
