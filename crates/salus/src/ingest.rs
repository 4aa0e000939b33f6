//! `salus ingest`: walk the inputs, stream each through its reader into the store, report.

use std::fs::File;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use salus_ingest::{
    decompress, read_stream_with, DerivingSink, Format, IngestReport, Notice, ReadOptions,
};
use salus_store::{Store, StoreSink};

use crate::config::Config;

#[derive(Args)]
pub struct IngestArgs {
    /// auto (detected from content), ndjson, bundle, hl7v2, ccda, csv; or the SDoH
    /// reference tables svi (CDC/ATSDR SVI) and zip-county (HUD-USPS crosswalk).
    #[arg(long, default_value = "auto")]
    format: String,
    /// CSV: the mapping file (TOML) or preset name the files are read with (default synthea).
    #[arg(long)]
    mapping: Option<String>,
    /// svi / zip-county: the table's vintage (2020; 2023Q1) when its file name does not say.
    #[arg(long)]
    vintage: Option<String>,
    /// Print the report as JSON on standard output.
    #[arg(long)]
    json: bool,
    /// Also write the JSON report to this file.
    #[arg(long)]
    report: Option<PathBuf>,
    /// Do nothing when the database already holds resources (used to load demo data once).
    #[arg(long)]
    only_if_empty: bool,
    /// Files or directories (walked recursively); '-' reads standard input.
    #[arg(required = true)]
    paths: Vec<PathBuf>,
}

/// An input to read: a file, or standard input.
enum Input {
    File(PathBuf),
    Stdin,
}

impl Input {
    fn name(&self) -> String {
        match self {
            Input::File(p) => p.display().to_string(),
            Input::Stdin => "-".to_owned(),
        }
    }

    fn open(&self) -> Result<Box<dyn BufRead>> {
        let reader: Box<dyn std::io::Read> = match self {
            Input::File(p) => {
                Box::new(File::open(p).with_context(|| format!("cannot open {}", p.display()))?)
            }
            Input::Stdin => Box::new(std::io::stdin()),
        };
        decompress(reader).with_context(|| format!("cannot read {}", self.name()))
    }
}

/// File name endings of data files taken from a walked directory. A file named explicitly is
/// always read; in a directory, other files (a README, a script, a manifest) are skipped with a
/// notice rather than rejected as bad data.
const DATA_EXTENSIONS: &[&str] = &[
    ".ndjson", ".jsonl", ".json", ".hl7", ".xml", ".ccda", ".cda", ".csv",
];

fn is_data_file(path: &Path) -> bool {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default()
        .to_ascii_lowercase();
    let name = name.strip_suffix(".gz").unwrap_or(&name);
    DATA_EXTENSIONS.iter().any(|ext| name.ends_with(ext))
}

/// Every input named, directories walked in name order, and the files skipped in them. Fails
/// before anything is read when a path does not exist, so that a typo changes nothing.
fn collect_inputs(paths: &[PathBuf]) -> Result<(Vec<Input>, Vec<Notice>)> {
    let mut inputs = Vec::new();
    let mut skipped = Vec::new();
    for path in paths {
        if path.as_os_str() == "-" {
            inputs.push(Input::Stdin);
        } else if path.is_dir() {
            walk(path, &mut inputs, &mut skipped)?;
        } else if path.is_file() {
            inputs.push(Input::File(path.clone()));
        } else {
            bail!(
                "{}: no such file or directory (nothing was ingested)",
                path.display()
            );
        }
    }
    Ok((inputs, skipped))
}

fn walk(dir: &Path, out: &mut Vec<Input>, skipped: &mut Vec<Notice>) -> Result<()> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot list {}", dir.display()))?
        .map(|e| e.map(|e| e.path()))
        .collect::<std::io::Result<_>>()?;
    entries.sort();
    for path in entries {
        let hidden = path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with('.'));
        if hidden {
            continue;
        }
        if path.is_dir() {
            walk(&path, out, skipped)?;
        } else if is_data_file(&path) {
            out.push(Input::File(path));
        } else {
            skipped.push(Notice {
                file: path.display().to_string(),
                message: format!(
                    "skipped: not a data file (data files end in {})",
                    DATA_EXTENSIONS.join(", ")
                ),
            });
        }
    }
    Ok(())
}

pub fn run(store: &Store, config: &Config, args: IngestArgs) -> Result<u8> {
    if args.mapping.is_some() && !matches!(args.format.as_str(), "csv" | "auto") {
        bail!("--mapping is for CSV files: give it with --format csv");
    }
    let format = Format::from_name(&args.format).with_context(|| {
        format!(
            "--format {}: expected auto, ndjson, bundle, hl7v2, ccda, csv, svi or zip-county",
            args.format
        )
    })?;
    let (inputs, skipped) = collect_inputs(&args.paths)?;
    if args.only_if_empty && store.count(None)? > 0 {
        eprintln!("the database already holds resources: nothing ingested (--only-if-empty)");
        return Ok(0);
    }
    let started = Instant::now();
    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template("{spinner} {elapsed} {msg}").expect("a valid template"),
    );
    let options = ReadOptions {
        csv_mapping: match &args.mapping {
            Some(spec) => Some(std::sync::Arc::new(load_mapping(spec)?)),
            None => None,
        },
    };
    let mut store_sink = StoreSink::new(store, config.ingest.batch(), crate::now_micros);
    let progress_bar = bar.clone();
    store_sink.progress = Some(Box::new(move |n| {
        progress_bar.set_message(format!("{n} resources stored"))
    }));
    // Screening responses bring what they imply (SDoH findings, PHQ/GAD scores).
    let mut sink = DerivingSink::new(store_sink);
    let limits = config.limits();
    let mut files = 0u64;
    let mut records = 0u64;
    std::thread::scope(|scope| -> Result<()> {
        // C-CDA documents are read, parsed and mapped ahead on a thread of their own while the
        // one before is validated and pushed into the store, so that the two halves of a
        // document's cost overlap. Everything reaches the sink in the inputs' order, as
        // without it.
        let (ahead_tx, ahead_rx) = std::sync::mpsc::sync_channel::<Option<Mapped>>(2);
        let inputs_ref = &inputs;
        scope.spawn(move || {
            for input in inputs_ref {
                let mapped = map_ahead(input, format, &limits);
                if ahead_tx.send(mapped).is_err() {
                    break; // the main loop stopped on an error
                }
            }
        });
        for input in &inputs {
            files += 1;
            bar.set_prefix(input.name());
            let ahead = ahead_rx.recv().unwrap_or(None);
            let read = match (ahead, format) {
                (Some(Ok(document)), _) => {
                    salus_ingest::ccda::push(document, &input.name(), &mut sink)
                }
                (Some(Err(e)), _) => return Err(e),
                (None, Format::Svi | Format::ZipCounty) => {
                    let mut reader = input.open()?;
                    let mut bytes = Vec::new();
                    std::io::Read::read_to_end(&mut reader, &mut bytes)
                        .with_context(|| format!("cannot read {}", input.name()))?;
                    salus_server::sdoh::load_reference(
                        store,
                        format,
                        &input.name(),
                        &bytes,
                        args.vintage.as_deref(),
                        crate::now_micros(),
                        &mut sink,
                    )
                }
                (None, _) => {
                    let mut reader = input.open()?;
                    read_stream_with(
                        &mut reader,
                        &input.name(),
                        format,
                        &limits,
                        &options,
                        &mut sink,
                    )
                }
            };
            records += read.map_err(|e| {
                anyhow::anyhow!(
                    "{}: {e}; batches committed before it are kept",
                    input.name()
                )
            })?;
        }
        Ok(())
    })?;
    let mut report = sink
        .into_inner()
        .finish()
        .map_err(|e| anyhow::anyhow!("{e}; batches committed before it are kept"))?;
    bar.finish_and_clear();
    report.notices.extend(skipped);
    report.files = files;
    report.records = records;
    report.elapsed_ms = started.elapsed().as_millis() as u64;
    let json = serde_json::to_string(&report).expect("the report serializes");
    if let Some(path) = &args.report {
        std::fs::write(path, &json)
            .with_context(|| format!("cannot write the report to {}", path.display()))?;
    }
    if args.json {
        println!("{json}");
    } else {
        print_summary(&report)?;
    }
    crate::security::audit_cli(store, "ingest", vec![], 0)?;
    Ok(report.exit_code() as u8)
}

fn print_summary(report: &IngestReport) -> Result<()> {
    let mut out = std::io::stdout().lock();
    let totals = report.totals();
    writeln!(
        out,
        "{} files, {} records in {:.1} s: {} created, {} updated, {} unchanged, {} rejected",
        report.files,
        report.records,
        report.elapsed_ms as f64 / 1000.0,
        totals.created,
        totals.updated,
        totals.unchanged,
        report.rejected.len()
    )?;
    for (resource_type, c) in &report.resources {
        writeln!(
            out,
            "  {resource_type:<28} created {:>7}  updated {:>7}  unchanged {:>7}",
            c.created, c.updated, c.unchanged
        )?;
    }
    for n in &report.notices {
        writeln!(out, "note: {}: {}", n.file, n.message)?;
    }
    for r in &report.rejected {
        writeln!(
            out,
            "rejected: {} {}: {}",
            r.file,
            r.position,
            r.outcome.summary()
        )?;
    }
    Ok(())
}

/// A C-CDA document read and mapped ahead (validated and pushed by the main loop).
type Mapped = Result<salus_ingest::ccda::Document>;

/// Read and map `input` now if it is a C-CDA document (by `--format ccda`, or detected); `None`
/// for anything else (read in order by the main loop) and for standard input.
fn map_ahead(input: &Input, format: Format, limits: &salus_ingest::Limits) -> Option<Mapped> {
    if matches!(input, Input::Stdin) || !matches!(format, Format::Auto | Format::Ccda) {
        return None;
    }
    // In auto mode only files named like XML are opened here: the main loop opens every other
    // file itself, and peeking at them here would read each twice.
    if format == Format::Auto {
        let name = input.name().to_ascii_lowercase();
        let name = name.strip_suffix(".gz").unwrap_or(&name);
        if ![".xml", ".ccda", ".cda"]
            .iter()
            .any(|ext| name.ends_with(ext))
        {
            return None;
        }
    }
    let mut reader = match input.open() {
        Ok(r) => r,
        Err(e) => return Some(Err(e)),
    };
    if format == Format::Auto {
        let head = match reader.fill_buf() {
            Ok(h) => h,
            Err(e) => return Some(Err(anyhow::anyhow!("cannot read {}: {e}", input.name()))),
        };
        if salus_ingest::detect::detect(head) != Format::Ccda {
            return None;
        }
    }
    Some(
        salus_ingest::ccda::read_document(
            &mut reader,
            &input.name(),
            limits,
            &salus_ccda_fhir::MapOptions::default(),
        )
        .map_err(|e| anyhow::anyhow!("{}: {e}", input.name())),
    )
}

/// A CSV mapping: a preset's name, or a TOML file; every problem listed before anything runs.
fn load_mapping(spec: &str) -> Result<salus_csv_fhir::Mapping> {
    if let Some(m) = salus_csv_fhir::Mapping::preset(spec) {
        return Ok(m);
    }
    let text = std::fs::read_to_string(spec).with_context(|| {
        format!(
            "--mapping {spec}: not a preset ({}) and not a readable file",
            salus_csv_fhir::Mapping::preset_names()
                .collect::<Vec<_>>()
                .join(", ")
        )
    })?;
    salus_csv_fhir::Mapping::from_toml(&text).map_err(|problems| {
        let list: Vec<String> = problems.iter().map(|p| format!("  {p}")).collect();
        anyhow::anyhow!(
            "--mapping {spec}: the mapping has problems:\n{}",
            list.join("\n")
        )
    })
}
