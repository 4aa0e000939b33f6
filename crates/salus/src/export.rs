//! `salus export`: current resources as FHIR Bulk Data NDJSON, `DIR/<Type>.ndjson`.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::Args;
use salus_store::{ScanFilter, Store};

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
    /// De-identify with a stored policy or a policy file.
    #[arg(long)]
    deid: Option<String>,
    /// Output directory (created if needed).
    #[arg(long)]
    out: PathBuf,
}

pub fn run(store: &Store, args: ExportArgs) -> Result<u8> {
    if args.deid.is_some() {
        bail!("--deid: de-identified export is not part of this version yet; nothing was exported");
    }
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
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create {}", args.out.display()))?;
    let mut files: BTreeMap<String, (BufWriter<File>, u64)> = BTreeMap::new();
    let out_dir = args.out.clone();
    let mut visit = |resource_type: &str, body: &str| -> std::io::Result<()> {
        if !files.contains_key(resource_type) {
            let file = File::create(out_dir.join(format!("{resource_type}.ndjson")))?;
            files.insert(resource_type.to_owned(), (BufWriter::new(file), 0));
        }
        let (writer, count) = files.get_mut(resource_type).expect("just inserted");
        writer.write_all(body.as_bytes())?;
        writer.write_all(b"\n")?;
        *count += 1;
        Ok(())
    };
    let types: Vec<Option<String>> = if args.types.is_empty() {
        vec![None]
    } else {
        args.types.iter().cloned().map(Some).collect()
    };
    let mut total = 0;
    for resource_type in types {
        let filter = ScanFilter {
            resource_type,
            patient: args.patient.clone(),
            since,
        };
        total += store.scan(&filter, &mut visit)?;
    }
    let mut summary = Vec::new();
    for (resource_type, (mut writer, count)) in files {
        writer
            .flush()
            .with_context(|| format!("writing {resource_type}.ndjson"))?;
        summary.push(format!("{resource_type} {count}"));
    }
    println!(
        "exported {total} resources to {} ({})",
        args.out.display(),
        summary.join(", ")
    );
    crate::security::audit_cli(
        store,
        "export",
        args.patient
            .iter()
            .map(|p| format!("Patient/{p}"))
            .collect(),
        0,
    )?;
    Ok(0)
}
