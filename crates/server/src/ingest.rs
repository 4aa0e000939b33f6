//! `POST /ingest?format=F`: a raw export in the body, answered with the ingest report.

use std::sync::atomic::Ordering;

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use salus_fhir::IssueCode;
use salus_ingest::{read_stream, DerivingSink, Format};
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
                "format must be one of auto, ndjson, bundle, hl7v2, ccda, csv, svi, zip-county",
            )
        })?,
    };
    let body = read_body(payload, state.config.max_ingest_bytes).await?;
    let started = std::time::Instant::now();
    let state2 = state.clone();
    let vintage = query_pairs(&req)
        .into_iter()
        .find(|(k, _)| k == "vintage")
        .map(|(_, v)| v);
    let report = web::block(move || {
        let store_sink = StoreSink::new(&state2.store, state2.config.ingest_batch, now_micros);
        // Screening responses bring what they imply (SDoH findings, PHQ/GAD scores).
        let mut sink = DerivingSink::new(store_sink);
        let mut reader =
            salus_ingest::decompress(std::io::Cursor::new(body)).map_err(|e| e.to_string())?;
        let records = match format {
            Format::Svi | Format::ZipCounty => {
                let mut bytes = Vec::new();
                std::io::Read::read_to_end(&mut reader, &mut bytes).map_err(|e| e.to_string())?;
                crate::sdoh::load_reference(
                    &state2.store,
                    format,
                    "request body",
                    &bytes,
                    vintage.as_deref(),
                    now_micros(),
                    &mut sink,
                )
            }
            _ => read_stream(
                &mut reader,
                "request body",
                format,
                &state2.config.ingest_limits,
                &mut sink,
            ),
        }
        .map_err(|e| e.to_string())?;
        let mut report = sink.into_inner().finish().map_err(|e| e.to_string())?;
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

/// `POST /sdoh/link`: link every patient to the latest SVI table; answers the link report
/// (`422` when no SVI table is loaded).
pub async fn sdoh_link(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let state2 = state.clone();
    let report = web::block(move || {
        crate::sdoh::link_all(&state2.store, state2.config.ingest_batch, now_micros)
    })
    .await?
    .map_err(|e| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            vec![salus_fhir::Issue::error(
                IssueCode::Processing,
                e.to_string(),
            )],
        )
    })?;
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .body(serde_json::to_string(&report).expect("the report serializes")))
}
