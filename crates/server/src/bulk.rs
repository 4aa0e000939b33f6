//! Bulk Data NDJSON out of the store, identified or de-identified: `DIR/<Type>.ndjson`, one
//! resource a line. One writer for both shells: the server's `$export` jobs and `salus export`.
//!
//! De-identification needs every patient's identity before any free text is scrubbed (a note
//! names its patient, sometimes another one), so when the policy scrubs text the Patients are
//! read once first into an [`IdentityBook`], then every type is written, Patients first. A
//! resource the engine refuses is not written (nothing leaves identified by accident); it is
//! counted, and described in `errors.ndjson` without any of its values.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use salus_deid::{Engine, IdentityBook, Origin, Report, Run};
use salus_fhir::{Issue, IssueCode, OperationOutcome};
use salus_store::{ScanFilter, Store, StoreError};
use serde_json::Value;

/// What to export.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    /// Resource types; every stored type when empty.
    pub types: Vec<String>,
    /// Only this patient's compartment (and the Patient itself).
    pub patient: Option<String>,
    /// Only resources updated at or after this instant (microseconds since the epoch).
    pub since: Option<i64>,
}

/// De-identification for an export: the engine, and the seed of this run's randomness (from
/// the OS in production).
pub struct Deidentify<'a> {
    pub engine: &'a Engine,
    pub seed: [u8; 32],
}

/// Shared with whoever watches the export: a cancel switch and the progress.
#[derive(Debug, Default)]
pub struct Control {
    cancel: AtomicBool,
    written: AtomicU64,
}

impl Control {
    pub fn cancel(&self) {
        self.cancel.store(true, Ordering::SeqCst);
    }

    pub fn is_cancelled(&self) -> bool {
        self.cancel.load(Ordering::SeqCst)
    }

    /// Resources written so far.
    pub fn written(&self) -> u64 {
        self.written.load(Ordering::Relaxed)
    }
}

/// One output file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputFile {
    pub resource_type: String,
    /// The file's name in the output directory.
    pub file_name: String,
    pub count: u64,
}

/// What an export wrote.
#[derive(Debug, Clone)]
pub struct Exported {
    /// One file per type with resources, Patients first when de-identified.
    pub files: Vec<OutputFile>,
    pub total: u64,
    /// De-identified exports: what the policy did.
    pub report: Option<Report>,
    /// Resources the engine refused (not written); described in [`ERRORS_FILE`].
    pub failed: u64,
    /// [`ERRORS_FILE`] when something failed.
    pub errors_file: Option<String>,
}

/// The file of OperationOutcomes describing resources that were not written.
pub const ERRORS_FILE: &str = "errors.ndjson";

#[derive(Debug, thiserror::Error)]
pub enum BulkError {
    #[error("the export was cancelled")]
    Cancelled,
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The message names the file and the operation, never content.
    #[error("writing the export: {0}")]
    Io(String),
}

/// Writes the selection into `dir` (which must exist), one file per type.
pub fn write_ndjson(
    store: &Store,
    selection: &Selection,
    deid: Option<Deidentify<'_>>,
    dir: &Path,
    control: &Control,
) -> Result<Exported, BulkError> {
    let mut types: Vec<String> = if selection.types.is_empty() {
        store.type_counts()?.into_iter().map(|(t, _)| t).collect()
    } else {
        selection.types.clone()
    };
    let mut seen = std::collections::HashSet::new();
    types.retain(|t| seen.insert(t.clone()));
    let filter = |resource_type: &str| ScanFilter {
        resource_type: Some(resource_type.to_owned()),
        patient: selection.patient.clone(),
        since: selection.since,
    };
    let mut book = IdentityBook::new();
    let mut run = None;
    if let Some(d) = &deid {
        // Patients first, so that the book is complete before anything is de-identified.
        if let Some(i) = types.iter().position(|t| t == "Patient") {
            let patient = types.remove(i);
            types.insert(0, patient);
        }
        if d.engine.scrubs_text() {
            // Every Patient of the selection, even when Patients are not exported: the notes
            // of the types that are name them. `since` does not apply: a note updated today
            // names a patient whose record did not change.
            let patients = ScanFilter {
                resource_type: Some("Patient".into()),
                patient: selection.patient.clone(),
                since: None,
            };
            scan(store, &patients, control, &mut |_, body| {
                if let Ok(v) = serde_json::from_str::<Value>(body) {
                    book.add_resource(&v);
                }
                Ok(())
            })?;
        }
        run = Some(Run::new(d.seed, d.engine));
    }

    let mut files = Vec::new();
    let mut errors: Option<BufWriter<File>> = None;
    let mut failed = 0u64;
    let mut total = 0u64;
    for resource_type in &types {
        let file_name = format!("{resource_type}.ndjson");
        let path = dir.join(&file_name);
        let mut writer: Option<BufWriter<File>> = None;
        let mut count = 0u64;
        let mut position = 0u64;
        let origin = Origin {
            file_name: Some(file_name.clone()),
            folder_name: None,
        };
        scan(store, &filter(resource_type), control, &mut |_, body| {
            position += 1;
            let line = match (&deid, run.as_mut()) {
                (Some(d), Some(run)) => {
                    let outcome = serde_json::from_str::<Value>(body)
                        .map_err(|_| "the stored JSON could not be read".to_owned())
                        .and_then(|v| {
                            d.engine
                                .deidentify(v, &origin, &book, run)
                                .map_err(|e| e.to_string())
                        });
                    match outcome {
                        Ok(v) => v.to_string(),
                        Err(reason) => {
                            failed += 1;
                            let errors = match &mut errors {
                                Some(w) => w,
                                None => errors
                                    .insert(BufWriter::new(File::create(dir.join(ERRORS_FILE))?)),
                            };
                            let outcome = OperationOutcome::new(vec![Issue::error(
                                IssueCode::Processing,
                                format!(
                                    "{resource_type} number {position} of this export was not written: {reason}"
                                ),
                            )]);
                            writeln!(errors, "{}", outcome.to_json())?;
                            return Ok(());
                        }
                    }
                }
                _ => body.to_owned(),
            };
            let w = match &mut writer {
                Some(w) => w,
                None => writer.insert(BufWriter::new(File::create(&path)?)),
            };
            w.write_all(line.as_bytes())?;
            w.write_all(b"\n")?;
            count += 1;
            control.written.fetch_add(1, Ordering::Relaxed);
            Ok(())
        })?;
        if let Some(mut w) = writer {
            w.flush()
                .map_err(|e| BulkError::Io(format!("{file_name}: {e}")))?;
            files.push(OutputFile {
                resource_type: resource_type.clone(),
                file_name,
                count,
            });
            total += count;
        }
    }
    if let Some(mut w) = errors {
        w.flush()
            .map_err(|e| BulkError::Io(format!("{ERRORS_FILE}: {e}")))?;
    }
    Ok(Exported {
        files,
        total,
        report: run.map(|r| r.report),
        failed,
        errors_file: (failed > 0).then(|| ERRORS_FILE.to_owned()),
    })
}

/// `store.scan` that stops when cancelled, with its errors told apart.
fn scan(
    store: &Store,
    filter: &ScanFilter,
    control: &Control,
    visit: &mut dyn FnMut(&str, &str) -> std::io::Result<()>,
) -> Result<(), BulkError> {
    let mut io_error: Option<String> = None;
    let result = store.scan(filter, &mut |t, body| {
        if control.is_cancelled() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::Interrupted,
                "cancelled",
            ));
        }
        visit(t, body).inspect_err(|e| io_error = Some(e.to_string()))
    });
    match result {
        Ok(_) => Ok(()),
        Err(_) if control.is_cancelled() => Err(BulkError::Cancelled),
        Err(_) if io_error.is_some() => Err(BulkError::Io(io_error.unwrap_or_default())),
        Err(e) => Err(e.into()),
    }
}
