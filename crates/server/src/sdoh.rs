//! Social determinants of health around the store: loading the reference tables (CDC/ATSDR
//! SVI, HUD-USPS ZIP → county) and linking every patient to the SVI of where they live. The
//! CLI (`salus ingest --format svi|zip-county`, `salus sdoh link`) and HTTP
//! (`POST /ingest?format=svi|zip-county`, `POST /sdoh/link`) both call these; what a table
//! means and how a patient is matched is `salus-sdoh`'s business.

use std::time::Instant;

use salus_fhir::{prepare, prepare_derived, Issue, IssueCode};
use salus_ingest::{Format, Notice, Rejection, Sink, SinkError};
use salus_sdoh::{SviTable, ZipCounty};
use salus_store::{ReferenceOutcome, ScanFilter, Store, StoreSink};
use serde::Serialize;

/// The store's kind names for the two tables.
pub const SVI: &str = "svi";
pub const ZIP_COUNTY: &str = "zip-county";

/// Validate a reference table and store it whole, with its vintage (given, or read from the
/// file name: `SVI2020_US_COUNTY.csv`, `ZIP_COUNTY_032023.csv`). Loading an SVI table also
/// publishes the SVI CodeSystem. A bad table is one rejection and nothing is stored. Returns
/// the rows read.
pub fn load_reference(
    store: &Store,
    format: Format,
    file: &str,
    bytes: &[u8],
    vintage: Option<&str>,
    now: i64,
    sink: &mut dyn Sink,
) -> Result<u64, SinkError> {
    let reject = |sink: &mut dyn Sink, why: String| {
        sink.rejected(Rejection::file(file, Issue::error(IssueCode::Invalid, why)))
            .map(|()| 0)
    };
    let base = std::path::Path::new(file)
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or(file);
    let Ok(text) = std::str::from_utf8(bytes) else {
        return reject(sink, "the table is not UTF-8 text".into());
    };
    let (kind, vintage, rows) = match format {
        Format::Svi => {
            let year = match vintage {
                Some(v) => v.parse::<u16>().ok(),
                None => salus_sdoh::vintage_from_file_name(base),
            };
            let Some(year) = year else {
                return reject(sink, "the SVI table's vintage (its year) is not in the file name (SVI2020_…); give it with --vintage YEAR (HTTP: vintage=YEAR)".into());
            };
            match SviTable::read(&mut text.as_bytes(), year) {
                Ok(t) => (SVI, year.to_string(), t.len()),
                Err(e) => return reject(sink, format!("not a usable SVI table: {e}")),
            }
        }
        Format::ZipCounty => {
            let quarter = match vintage {
                Some(v) => Some(v.to_owned()),
                None => salus_sdoh::crosswalk_vintage_from_file_name(base),
            };
            let Some(quarter) = quarter else {
                return reject(sink, "the crosswalk's vintage (its quarter) is not in the file name (ZIP_COUNTY_032023…); give it with --vintage 2023Q1 (HTTP: vintage=2023Q1)".into());
            };
            match ZipCounty::read(&mut text.as_bytes(), quarter.clone()) {
                Ok(t) => (ZIP_COUNTY, quarter, t.len()),
                Err(e) => return reject(sink, format!("not a usable ZIP-county crosswalk: {e}")),
            }
        }
        other => return reject(sink, format!("{other} is not a reference table format")),
    };
    let outcome = store
        .put_reference(kind, &vintage, base, text, rows as i64, now)
        .map_err(|e| SinkError::new(format!("storing the {kind} table failed: {e}")))?;
    let what = match outcome {
        ReferenceOutcome::Created => "stored",
        ReferenceOutcome::Updated => "replaced the table of that vintage",
        ReferenceOutcome::Unchanged => "unchanged (the same table was already stored)",
    };
    sink.notice(Notice {
        file: file.to_owned(),
        message: format!("{kind} table, vintage {vintage}, {rows} rows: {what}"),
    })?;
    if kind == SVI {
        let code_system = prepare(salus_sdoh::svi_code_system()).map_err(|issues| {
            SinkError::new(format!("the SVI CodeSystem is not valid FHIR: {issues:?}"))
        })?;
        sink.resource(code_system, file, "CodeSystem")?;
    }
    Ok(rows as u64)
}

/// A patient that could not be linked.
#[derive(Debug, Clone, Serialize)]
pub struct UnmatchedPatient {
    pub patient: String,
    pub reason: String,
}

/// What `salus sdoh link` did.
#[derive(Debug, Clone, Serialize)]
pub struct LinkReport {
    pub svi_vintage: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub crosswalk_vintage: Option<String>,
    pub patients: u64,
    pub linked: u64,
    pub resources: std::collections::BTreeMap<String, salus_ingest::Counts>,
    pub unmatched: Vec<UnmatchedPatient>,
    pub elapsed_ms: u64,
}

/// Why linking could not run at all.
#[derive(Debug)]
pub struct LinkError(pub String);

impl std::fmt::Display for LinkError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Link every current Patient to the latest stored SVI table (through the latest crosswalk
/// when an address has a ZIP but no FIPS). Each linked patient gets five Observations, with
/// ids per patient and measure: linking again changes nothing, and a new vintage or a changed
/// address updates them. A patient that cannot be matched is reported with the reason.
pub fn link_all(
    store: &Store,
    batch: salus_store::BatchLimits,
    clock: salus_store::Clock,
) -> Result<LinkReport, LinkError> {
    let started = Instant::now();
    let err = |e: salus_store::StoreError| LinkError(format!("reading the store failed: {e}"));
    let svi_row = store.reference(SVI, None).map_err(err)?.ok_or_else(|| {
        LinkError(
            "no SVI table is loaded: load one first with `salus ingest --format svi FILE`".into(),
        )
    })?;
    let year: u16 = svi_row
        .vintage
        .parse()
        .map_err(|_| LinkError("the stored SVI table's vintage is not a year".into()))?;
    let svi = SviTable::read(&mut svi_row.content.as_bytes(), year)
        .map_err(|e| LinkError(format!("the stored SVI table no longer reads: {e}")))?;
    let crosswalk = match store.reference(ZIP_COUNTY, None).map_err(err)? {
        Some(row) => Some(
            ZipCounty::read(&mut row.content.as_bytes(), row.vintage.clone())
                .map_err(|e| LinkError(format!("the stored crosswalk no longer reads: {e}")))?,
        ),
        None => None,
    };
    let mut sink = StoreSink::new(store, batch, clock);
    let mut unmatched = Vec::new();
    let (mut patients, mut linked) = (0u64, 0u64);
    let mut failure: Option<SinkError> = None;
    store
        .scan(
            &ScanFilter {
                resource_type: Some("Patient".into()),
                ..ScanFilter::default()
            },
            &mut |_, body| {
                patients += 1;
                let Ok(patient) = serde_json::from_str::<serde_json::Value>(body) else {
                    unmatched.push(UnmatchedPatient {
                        patient: "Patient (unreadable)".into(),
                        reason: "the stored Patient is not JSON".into(),
                    });
                    return Ok(());
                };
                let reference = format!("Patient/{}", patient["id"].as_str().unwrap_or(""));
                match salus_sdoh::link_patient(&patient, &svi, crosswalk.as_ref()) {
                    Ok(observations) => {
                        linked += 1;
                        for o in observations {
                            let pushed = match prepare_derived(o) {
                                Ok(p) => sink.resource(p, "sdoh link", &reference),
                                Err(issues) => sink.rejected(Rejection::new(
                                    "sdoh link",
                                    reference.clone(),
                                    issues,
                                )),
                            };
                            if let Err(e) = pushed {
                                failure = Some(e);
                                return Err(std::io::Error::other("the store failed"));
                            }
                        }
                    }
                    Err(why) => unmatched.push(UnmatchedPatient {
                        patient: reference,
                        reason: why.reason.to_string(),
                    }),
                }
                Ok(())
            },
        )
        .map_err(|e| match failure.take() {
            Some(f) => LinkError(f.to_string()),
            None => err(e),
        })?;
    let report = sink.finish().map_err(|e| LinkError(e.to_string()))?;
    Ok(LinkReport {
        svi_vintage: svi_row.vintage,
        crosswalk_vintage: crosswalk.map(|c| c.vintage().to_owned()),
        patients,
        linked,
        resources: report.resources,
        unmatched,
        elapsed_ms: started.elapsed().as_millis() as u64,
    })
}
