//! FHIR Bulk Data export (`GET /fhir/$export`), identified or de-identified, as background jobs.
//!
//! The kick-off checks everything it can (parameters, the policy, its engine) before a job is
//! accepted, so a bad request is a 400 and never a failed job. A job runs on a thread of its
//! own (the work is long and CPU-bound: it must not hold an async worker or the blocking pool
//! requests use) and writes `<export_dir>/<id>/<Type>.ndjson` through [`crate::bulk`]. Its
//! record in the store is what status polls read, so a restarted server still answers for
//! finished jobs; jobs left running by a previous process are marked failed at start.
//!
//! A job's URLs carry its kind, `/fhir/$export-jobs/{deidentified|identified}/{id}[/{file}]`,
//! so that `auth::classify` authorizes them exactly as their kick-off (de-identified: steward,
//! admin; identified: admin) from the path alone; a URL whose kind is not the job's names no
//! job (404).

use std::collections::HashMap;
use std::io::Read;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use salus_deid::Engine;
use salus_fhir::{schema, Issue, IssueCode, OperationOutcome};
use salus_store::{ExportJobRow, JobStatus, Store};
use serde_json::{json, Value};

use crate::bulk::{self, Control, Deidentify, Selection};
use crate::error::ApiError;
use crate::fhir::{now_micros, query_pairs};
use crate::policies::{os_seed, resolve};
use crate::AppState;

/// The path segment of de-identified jobs' URLs.
pub const DEIDENTIFIED: &str = "deidentified";
/// The path segment of identified jobs' URLs.
pub const IDENTIFIED: &str = "identified";

const NDJSON: &str = "application/fhir+ndjson";

/// The jobs this process is running, with their controls.
#[derive(Default)]
pub struct Jobs {
    running: Mutex<HashMap<String, Arc<Control>>>,
}

impl Jobs {
    /// Register a job unless `max` are already running.
    fn try_start(&self, id: &str, max: usize) -> Option<Arc<Control>> {
        let mut running = self.running.lock().unwrap_or_else(|e| e.into_inner());
        if running.len() >= max {
            return None;
        }
        let control = Arc::new(Control::default());
        running.insert(id.to_owned(), control.clone());
        Some(control)
    }

    fn get(&self, id: &str) -> Option<Arc<Control>> {
        let running = self.running.lock().unwrap_or_else(|e| e.into_inner());
        running.get(id).cloned()
    }

    fn finish(&self, id: &str) {
        let mut running = self.running.lock().unwrap_or_else(|e| e.into_inner());
        running.remove(id);
    }
}

fn kind_of(job: &ExportJobRow) -> &'static str {
    if job.deid_policy.is_some() {
        DEIDENTIFIED
    } else {
        IDENTIFIED
    }
}

/// The kick-off's parameters.
struct Kickoff {
    types: Vec<String>,
    since: Option<i64>,
    deid: Option<String>,
}

fn invalid(code: IssueCode, message: String) -> ApiError {
    ApiError::bad_request(code, message)
}

fn parse_kickoff(pairs: &[(String, String)]) -> Result<Kickoff, ApiError> {
    let mut out = Kickoff {
        types: Vec::new(),
        since: None,
        deid: None,
    };
    for (key, value) in pairs {
        match key.as_str() {
            "_type" => {
                for t in value.split(',').map(str::trim).filter(|t| !t.is_empty()) {
                    if !schema::is_resource_type(t) {
                        return Err(invalid(
                            IssueCode::Value,
                            format!("_type: '{t}' is not a FHIR R4 resource type (names are case-sensitive)"),
                        ));
                    }
                    out.types.push(t.to_owned());
                }
            }
            "_since" => {
                let range = salus_fhir::date::parse_range(value).ok_or_else(|| {
                    invalid(
                        IssueCode::Value,
                        "_since: expected a FHIR instant such as 2024-01-01T00:00:00Z".into(),
                    )
                })?;
                out.since = Some(range.lo);
            }
            "_outputFormat" => {
                if !matches!(
                    value.as_str(),
                    "application/fhir+ndjson" | "application/ndjson" | "ndjson"
                ) {
                    return Err(invalid(
                        IssueCode::NotSupported,
                        "_outputFormat: only application/fhir+ndjson (or application/ndjson, ndjson) is offered".into(),
                    ));
                }
            }
            "deid" => {
                if value.is_empty() {
                    return Err(invalid(
                        IssueCode::Required,
                        "deid: name a stored de-identification policy or a preset".into(),
                    ));
                }
                out.deid = Some(value.clone());
            }
            other => {
                return Err(invalid(
                    IssueCode::NotSupported,
                    format!("the parameter '{other}' is not supported by $export here (supported: _type, _since, _outputFormat, deid)"),
                ));
            }
        }
    }
    Ok(out)
}

/// The base URL of the job's links: the configured public URL, or the one the request used.
fn base_url(state: &AppState, req: &HttpRequest) -> String {
    match &state.config.public_url {
        Some(url) => url.trim_end_matches('/').to_owned(),
        None => {
            let info = req.connection_info();
            format!("{}://{}", info.scheme(), info.host())
        }
    }
}

fn job_dir(state: &AppState, id: &str) -> PathBuf {
    state.config.export_dir.join(id)
}

/// The job's directory, readable by this user alone on Unix: it will hold patient data.
fn create_private_dir(dir: &std::path::Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// Remove finished jobs older than the retention, files and records.
pub(crate) fn sweep(store: &Store, export_dir: &std::path::Path, retention: std::time::Duration) {
    let before = now_micros() - retention.as_micros() as i64;
    match store.export_jobs_finished_before(before) {
        Ok(jobs) => {
            for job in jobs {
                let _ = std::fs::remove_dir_all(export_dir.join(&job.id));
                if let Err(e) = store.delete_export_job(&job.id) {
                    tracing::warn!(error = %e, "could not remove an expired export job");
                }
            }
        }
        Err(e) => tracing::warn!(error = %e, "could not list expired export jobs"),
    }
}

/// `GET /fhir/$export`: check, accept, start; 202 with the status URL in `Content-Location`.
pub async fn kickoff(
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let params = parse_kickoff(&query_pairs(&req))?;
    let (requester, requester_name) = crate::auth::principal(&req).map_or_else(
        || ("anonymous".to_owned(), String::new()),
        |p| (p.subject.reference(), p.subject.name().to_owned()),
    );
    let base = base_url(&state, &req);
    let request_url = format!("{base}{}", req.uri());
    let state2 = state.clone();
    let base2 = base.clone();
    let (id, kind) = web::block(move || {
        let state = state2;
        sweep(
            &state.store,
            &state.config.export_dir,
            state.config.export_retention,
        );
        let engine: Option<Arc<Engine>> = match &params.deid {
            None => None,
            Some(name) => {
                let (text, _) = resolve(&state.store, name)?.ok_or_else(|| {
                    invalid(
                        IssueCode::NotFound,
                        format!(
                            "deid: no de-identification policy named '{name}' (stored policies: GET /admin/deid-policies; presets: {})",
                            salus_deid::PRESETS.map(|(n, _)| n).join(", ")
                        ),
                    )
                })?;
                Some(state.engines.get(&text)?)
            }
        };
        let id = uuid::Uuid::new_v4().to_string();
        let control = state
            .exports
            .try_start(&id, state.config.export_max_running)
            .ok_or_else(|| {
                ApiError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    vec![Issue::error(
                        IssueCode::Processing,
                        format!(
                            "{} exports are running (export.max_running): try again when one has finished",
                            state.config.export_max_running
                        ),
                    )],
                )
            })?;
        let job = ExportJobRow {
            id: id.clone(),
            status: JobStatus::Accepted.as_str().to_owned(),
            types: params.types.join(","),
            since: params.since,
            deid_policy: params.deid.clone(),
            request_url,
            requester,
            requester_name,
            created_at: now_micros(),
            finished_at: None,
            error: None,
            manifest: None,
        };
        let started = create_private_dir(&job_dir(&state, &id))
            .map_err(|e| ApiError::internal(format!("creating the export directory: {e}")))
            .and_then(|()| Ok(state.store.create_export_job(&job)?));
        if let Err(e) = started {
            state.exports.finish(&id);
            return Err(e);
        }
        let kind = kind_of(&job);
        let thread_state = state.clone();
        let spawned = std::thread::Builder::new()
            .name("salus-export".into())
            .spawn(move || run_job(thread_state, job, engine, control, base2));
        if let Err(e) = spawned {
            state.exports.finish(&id);
            let _ = state.store.finish_export_job(
                &id,
                Err("the export could not be started"),
                now_micros(),
            );
            return Err(ApiError::internal(format!("starting an export thread: {e}")));
        }
        Ok::<_, ApiError>((id, kind))
    })
    .await??;
    let status_url = format!("{base}/fhir/$export-jobs/{kind}/{id}");
    let outcome = OperationOutcome::new(vec![Issue {
        severity: salus_fhir::Severity::Information,
        ..Issue::error(
            IssueCode::Informational,
            format!("export accepted: poll {status_url}"),
        )
    }]);
    Ok(HttpResponse::Accepted()
        .insert_header((header::CONTENT_LOCATION, status_url))
        .content_type(crate::FHIR_JSON)
        .body(outcome.to_json().to_string()))
}

/// The job's work, on its own thread, to its end: complete with a manifest, failed with a
/// message (no PHI: store and I/O errors describe operations), or cancelled (nothing left).
fn run_job(
    state: web::Data<AppState>,
    job: ExportJobRow,
    engine: Option<Arc<Engine>>,
    control: Arc<Control>,
    base: String,
) {
    let dir = job_dir(&state, &job.id);
    let kind = kind_of(&job);
    let store = &state.store;
    let outcome = (|| {
        if !store.start_export_job(&job.id)? {
            return Err(bulk::BulkError::Cancelled);
        }
        let seed = os_seed().map_err(|_| bulk::BulkError::Io("no OS randomness".into()))?;
        let selection = Selection {
            types: job
                .types
                .split(',')
                .filter(|t| !t.is_empty())
                .map(str::to_owned)
                .collect(),
            patient: None,
            since: job.since,
        };
        let deid = engine.as_deref().map(|engine| Deidentify { engine, seed });
        bulk::write_ndjson(store, &selection, deid, &dir, &control)
    })();
    let now = now_micros();
    match outcome {
        _ if control.is_cancelled() => {
            let _ = std::fs::remove_dir_all(&dir);
        }
        Ok(exported) => {
            let url = |file: &str| format!("{base}/fhir/$export-jobs/{kind}/{}/{file}", job.id);
            let output: Vec<Value> = exported
                .files
                .iter()
                .map(|f| json!({"type": f.resource_type, "url": url(&f.file_name), "count": f.count}))
                .collect();
            let errors: Vec<Value> = exported
                .errors_file
                .iter()
                .map(|f| json!({"type": "OperationOutcome", "url": url(f), "count": exported.failed}))
                .collect();
            let mut manifest = json!({
                "transactionTime": salus_fhir::date::format_instant(job.created_at),
                "request": job.request_url,
                "requiresAccessToken": true,
                "output": output,
                "error": errors,
            });
            if let (Some(policy), Some(report)) = (&job.deid_policy, &exported.report) {
                manifest["extension"] = json!({"deidentification": {
                    "policy": policy, "report": report, "notWritten": exported.failed}});
            }
            if let Err(e) = store.finish_export_job(&job.id, Ok(&manifest.to_string()), now) {
                tracing::error!(error = %e, "could not record a finished export");
            }
        }
        Err(e) => {
            tracing::error!(error = %e, "an export failed");
            let _ = std::fs::remove_dir_all(&dir);
            let message = format!("the export failed: {e}");
            if let Err(e) = store.finish_export_job(&job.id, Err(&message), now) {
                tracing::error!(error = %e, "could not record a failed export");
            }
        }
    }
    state.exports.finish(&job.id);
}

/// The job a URL names: its id parses and its kind matches, or 404.
async fn find_job(
    state: &web::Data<AppState>,
    kind: &str,
    id: &str,
) -> Result<ExportJobRow, ApiError> {
    let missing = || {
        ApiError::not_found(
            "no such export job (finished jobs are kept for export.retention_hours)",
        )
    };
    if uuid::Uuid::parse_str(id).is_err() {
        return Err(missing());
    }
    let store = state.store.clone();
    let key = id.to_owned();
    let job = web::block(move || store.export_job(&key))
        .await??
        .ok_or_else(missing)?;
    if kind_of(&job) != kind {
        return Err(missing());
    }
    Ok(job)
}

/// `GET /fhir/$export-jobs/{kind}/{id}`: 202 with `X-Progress` while running, 200 with the
/// manifest when complete, a 500 OperationOutcome when failed.
pub async fn status(
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (kind, id) = path.into_inner();
    let job = find_job(&state, &kind, &id).await?;
    match job.job_status() {
        s if s.is_running() => {
            let progress = match state.exports.get(&id) {
                Some(control) => format!("{}: {} resources written", s.as_str(), control.written()),
                None => s.as_str().to_owned(),
            };
            Ok(HttpResponse::Accepted()
                .insert_header(("X-Progress", progress))
                .insert_header((header::RETRY_AFTER, "1"))
                .finish())
        }
        JobStatus::Complete => Ok(HttpResponse::Ok()
            .content_type("application/json")
            .body(job.manifest.unwrap_or_else(|| "{}".to_owned()))),
        _ => Err(ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            vec![Issue::error(
                IssueCode::Exception,
                job.error.unwrap_or_else(|| "the export failed".to_owned()),
            )],
        )),
    }
}

/// `DELETE /fhir/$export-jobs/{kind}/{id}`: stop the job if it runs, remove its files and its
/// record (202, as Bulk Data says).
pub async fn cancel(
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (kind, id) = path.into_inner();
    let job = find_job(&state, &kind, &id).await?;
    if let Some(control) = state.exports.get(&job.id) {
        control.cancel();
    }
    let state2 = state.clone();
    web::block(move || {
        state2.store.delete_export_job(&job.id)?;
        // The running job removes what it writes after this too, when it sees the switch.
        let _ = std::fs::remove_dir_all(job_dir(&state2, &job.id));
        Ok::<_, ApiError>(())
    })
    .await??;
    Ok(HttpResponse::Accepted().finish())
}

/// `GET /fhir/$export-jobs/{kind}/{id}/{file}`: one NDJSON file of a complete job, streamed.
pub async fn file(
    state: web::Data<AppState>,
    path: web::Path<(String, String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (kind, id, name) = path.into_inner();
    let job = find_job(&state, &kind, &id).await?;
    let listed = job.job_status() == JobStatus::Complete
        && name.ends_with(".ndjson")
        && name[..name.len() - ".ndjson".len()]
            .bytes()
            .all(|b| b.is_ascii_alphabetic())
        && job
            .manifest
            .as_deref()
            .is_some_and(|m| m.contains(&format!("/{id}/{name}\"")));
    if !listed {
        return Err(ApiError::not_found(
            "no such file in this export (the manifest lists its files)",
        ));
    }
    let path = job_dir(&state, &id).join(&name);
    let opened = web::block(move || std::fs::File::open(path))
        .await?
        .map_err(|_| ApiError::not_found("the export's file is gone (removed or expired)"))?;
    let stream = futures_util::stream::unfold(Some(opened), |state| async move {
        let mut file = state?;
        let read = web::block(move || {
            let mut buf = vec![0u8; 256 << 10];
            let n = file.read(&mut buf)?;
            buf.truncate(n);
            Ok::<_, std::io::Error>((file, buf))
        })
        .await;
        match read {
            Ok(Ok((_, buf))) if buf.is_empty() => None,
            Ok(Ok((file, buf))) => Some((Ok(web::Bytes::from(buf)), Some(file))),
            Ok(Err(e)) => Some((Err(actix_web::error::ErrorInternalServerError(e)), None)),
            Err(e) => Some((Err(actix_web::Error::from(e)), None)),
        }
    });
    Ok(HttpResponse::Ok().content_type(NDJSON).streaming(stream))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(q: &str) -> Vec<(String, String)> {
        crate::fhir::decode_query(q)
    }

    #[test]
    fn kickoff_parameters_are_checked() {
        let k = parse_kickoff(&pairs(
            "_type=Patient,Observation&_since=2024-01-01T00:00:00Z&deid=safe-harbor&_outputFormat=application%2Ffhir%2Bndjson",
        ))
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(k.types, ["Patient", "Observation"]);
        assert!(k.since.is_some());
        assert_eq!(k.deid.as_deref(), Some("safe-harbor"));
        for bad in [
            "_type=patient",
            "_since=yesterday",
            "_outputFormat=text/csv",
            "deid=",
            "_typeFilter=Observation%3Fcode%3Dx",
        ] {
            let e = parse_kickoff(&pairs(bad))
                .err()
                .unwrap_or_else(|| panic!("{bad}"));
            assert_eq!(e.status, StatusCode::BAD_REQUEST, "{bad}");
        }
    }
}
