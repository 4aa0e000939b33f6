//! `salus export`: current resources as FHIR Bulk Data NDJSON, `DIR/<Type>.ndjson`, identified
//! or de-identified (`--deid`), written by the same code as the server's `$export` jobs.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::Args;
use salus_deid::Policy;
use salus_server::bulk::{self, Control, Deidentify, Selection};
use salus_store::Store;

use crate::config::Config;

#[derive(Args)]
pub struct ExportArgs {
    /// Resource types to export, comma-separated (all when absent).
    #[arg(long = "type", value_delimiter = ',')]
    types: Vec<String>,
    /// Only this patient's compartment (and the Patient itself).
    #[arg(long)]
    patient: Option<String>,
    /// Only resources updated at or after this FHIR instant.
    #[arg(long)]
    since: Option<String>,
    /// De-identify: a stored policy's name, a preset (safe-harbor, limited-data-set) or a
    /// policy file's path, looked up in that order. Also writes DIR/deid-report.json.
    #[arg(long)]
    deid: Option<String>,
    /// Output directory (created if needed).
    #[arg(long)]
    out: PathBuf,
}

/// The report of a de-identified export, beside its NDJSON files.
const REPORT_FILE: &str = "deid-report.json";

/// `spec` as a policy: a stored policy's name, else a preset's name or a file's path. Every
/// problem is listed when it is invalid.
pub fn load_policy(store: &Store, spec: &str) -> Result<Policy> {
    match store.policy(spec)? {
        Some(row) => Policy::parse(&row.policy).map_err(|problems| {
            anyhow::anyhow!(
                "stored policy {spec} has {} problem{}:\n{problems}",
                problems.0.len(),
                if problems.0.len() == 1 { "" } else { "s" }
            )
        }),
        None => crate::deid::load_policy(spec),
    }
}

pub fn run(store: &Store, config: &Config, args: ExportArgs) -> Result<u8> {
    for t in &args.types {
        if !salus_fhir::schema::is_resource_type(t) {
            bail!("--type {t}: not a FHIR R4 resource type (names are case-sensitive)");
        }
    }
    let since = match &args.since {
        Some(s) => Some(
            salus_fhir::date::parse_range(s)
                .with_context(|| {
                    format!("--since {s}: expected a FHIR instant such as 2024-01-01T00:00:00Z")
                })?
                .lo,
        ),
        None => None,
    };
    // The policy is read, checked and made ready before anything is written.
    let engine = match &args.deid {
        Some(spec) => {
            let policy = load_policy(store, spec)?;
            if config.deid_secret().is_none() {
                tracing::warn!("no de-identification secret configured ([deid] secret or SALUS_DEID_SECRET): keys the policy leaves unset are random for this run, so crypto-hashes and date shifts will not repeat across runs");
            }
            Some(crate::deid::engine(policy, config)?)
        }
        None => None,
    };
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create {}", args.out.display()))?;
    let selection = Selection {
        types: args.types.clone(),
        patient: args.patient.clone(),
        since,
    };
    let deid = match &engine {
        Some(engine) => Some(Deidentify {
            engine,
            seed: crate::deid::random_seed()?,
        }),
        None => None,
    };
    let exported = bulk::write_ndjson(store, &selection, deid, &args.out, &Control::default())?;
    let summary: Vec<String> = exported
        .files
        .iter()
        .map(|f| format!("{} {}", f.resource_type, f.count))
        .collect();
    let mut line = format!(
        "exported {} resources to {} ({})",
        exported.total,
        args.out.display(),
        summary.join(", ")
    );
    if let Some(report) = &exported.report {
        let path = args.out.join(REPORT_FILE);
        std::fs::write(&path, serde_json::to_string_pretty(report)?)
            .with_context(|| format!("writing {}", path.display()))?;
        let text: u64 = report.free_text.values().sum();
        line.push_str(&format!(
            ", de-identified with {}: {} elements changed, {text} free-text spans replaced; report in {REPORT_FILE}",
            args.deid.as_deref().unwrap_or_default(),
            report.methods.values().sum::<u64>(),
        ));
    }
    if exported.failed > 0 {
        line.push_str(&format!(
            "; {} resources could not be de-identified and were not written (see {})",
            exported.failed,
            bulk::ERRORS_FILE
        ));
    }
    println!("{line}");
    crate::security::audit_cli(
        store,
        "export",
        args.patient
            .iter()
            .map(|p| format!("Patient/{p}"))
            .chain(args.deid.iter().map(|d| format!("deid-policy/{d}")))
            .collect(),
        0,
    )?;
    Ok(if exported.failed > 0 { 2 } else { 0 })
}
