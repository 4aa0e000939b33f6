//! `salus deid` (files in, de-identified files out, no database) and `salus policy check`.

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use salus_deid::{DefaultKeys, Engine, IdentityBook, Method, Origin, Policy, Report, Run};
use serde_json::Value;

use crate::config::Config;

#[derive(Args)]
pub struct DeidArgs {
    /// A policy file's path or a built-in preset (safe-harbor, limited-data-set).
    #[arg(long)]
    policy: String,
    /// Output directory (files keep their names); standard output for a single input without it.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Also write the run's report (counts per rule, method and free-text category) as JSON.
    #[arg(long)]
    report: Option<PathBuf>,
    /// FHIR JSON files (a resource or a Bundle), NDJSON files, or directories of them; .gz accepted.
    #[arg(required = true)]
    inputs: Vec<PathBuf>,
}

#[derive(Subcommand)]
pub enum PolicyCommand {
    /// Validate a policy (a file's path or a preset's name): every problem, with its rule.
    Check {
        /// A policy file's path or a built-in preset's name.
        policy: String,
    },
    /// Store a policy file under a name (checked first; presets' names are reserved).
    Put {
        /// The name (`[A-Za-z0-9._-]{1,64}`), as `export --deid` and `$export?deid=` use it.
        name: String,
        /// The policy file.
        file: PathBuf,
    },
    /// The stored policies' names, and the presets.
    List,
    /// Remove a stored policy.
    Delete { name: String },
}

/// Commands on stored policies need the database; `check` does not.
pub fn needs_store(command: &PolicyCommand) -> bool {
    !matches!(command, PolicyCommand::Check { .. })
}

fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

pub fn stored_policy(store: &salus_store::Store, command: PolicyCommand) -> Result<u8> {
    match command {
        PolicyCommand::Check { .. } => unreachable!("checked by needs_store"),
        PolicyCommand::Put { name, file } => {
            if !valid_name(&name) {
                bail!("policy name {name:?}: use 1 to 64 letters, digits, '.', '_' or '-'");
            }
            if salus_deid::preset(&name).is_some() {
                bail!("policy name {name}: a preset has that name; choose another");
            }
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("reading {}", file.display()))?;
            load_policy(&file.display().to_string())?;
            let who = std::env::var("USER").unwrap_or_else(|_| "unknown".into());
            let now = crate::now_micros();
            let created = store.put_policy(&name, &text, &format!("cli/{who}"), now)?;
            crate::security::audit_cli(
                store,
                "policy-change",
                vec![format!("deid-policy/{name}")],
                0,
            )?;
            println!(
                "policy {name} {}",
                if created { "stored" } else { "replaced" }
            );
            Ok(0)
        }
        PolicyCommand::List => {
            for row in store.list_policies()? {
                println!("{}", row.name);
            }
            for (name, _) in salus_deid::PRESETS {
                println!("{name} (preset)");
            }
            Ok(0)
        }
        PolicyCommand::Delete { name } => {
            if store.delete_policy(&name)? {
                crate::security::audit_cli(
                    store,
                    "policy-change",
                    vec![format!("deid-policy/{name}")],
                    0,
                )?;
                println!("policy {name} deleted");
                Ok(0)
            } else {
                bail!(
                    "policy {name}: no stored policy has that name (salus policy list shows them)"
                )
            }
        }
    }
}

/// A preset's name or a policy file's path, read and validated. Every problem is listed.
pub fn load_policy(spec: &str) -> Result<Policy> {
    let text = match salus_deid::preset(spec) {
        Some(text) => text.to_string(),
        None => {
            let path = Path::new(spec);
            if !path.is_file() {
                bail!(
                    "policy {spec}: neither a preset ({}) nor a readable file",
                    salus_deid::PRESETS.map(|(n, _)| n).join(", ")
                );
            }
            std::fs::read_to_string(path)
                .with_context(|| format!("reading policy {}", path.display()))?
        }
    };
    Policy::parse(&text).map_err(|problems| {
        anyhow::anyhow!(
            "policy {spec} has {} problem{}:\n{problems}",
            problems.0.len(),
            if problems.0.len() == 1 { "" } else { "s" }
        )
    })
}

/// The keys a policy leaves unset: derived from the configured secret, or random for this run.
pub fn default_keys(config: &Config) -> Result<DefaultKeys> {
    match config.deid_secret() {
        Some(secret) => Ok(DefaultKeys::derive(secret.as_bytes())),
        None => Ok(DefaultKeys::random(random_seed()?)),
    }
}

pub fn engine(policy: Policy, config: &Config) -> Result<Engine> {
    let today = chrono::Utc::now().date_naive();
    Engine::build(policy, default_keys(config)?, today).map_err(|e| anyhow::anyhow!(e))
}

pub fn random_seed() -> Result<[u8; 32]> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).context("reading the operating system's randomness")?;
    Ok(seed)
}

pub fn policy(config: &Config, command: PolicyCommand) -> Result<u8> {
    match command {
        PolicyCommand::Put { .. } | PolicyCommand::List | PolicyCommand::Delete { .. } => {
            unreachable!("stored-policy commands go to stored_policy")
        }
        PolicyCommand::Check { policy } => match load_policy(&policy) {
            Ok(p) => {
                let methods: Vec<String> = p
                    .method_counts()
                    .into_iter()
                    .map(|(m, n)| format!("{m} {n}"))
                    .collect();
                let keyed = p.rules.iter().any(|r| {
                    matches!(
                        r.method,
                        Method::CryptoHash | Method::Encrypt | Method::DateShift
                    )
                });
                let keys = if !keyed
                    || (p.parameters.crypto_hash_key.is_some()
                        && p.parameters.date_shift_key.is_some())
                {
                    ""
                } else if config.deid_secret().is_some() {
                    "; keys it leaves unset come from the configured deid secret"
                } else {
                    "; keys it leaves unset will be random per run (set [deid] secret for repeatable results)"
                };
                println!(
                    "policy {policy} is valid: {} rules ({}){keys}",
                    p.rules.len(),
                    methods.join(", ")
                );
                Ok(0)
            }
            Err(e) => {
                eprintln!("{e:#}");
                Ok(1)
            }
        },
    }
}

/// One input file, as the formats `salus deid` reads.
enum Input {
    /// A single resource or Bundle (a `.json` file).
    Document(Value),
    /// One resource per line.
    Lines,
}

pub fn run(config: &Config, args: DeidArgs) -> Result<u8> {
    let policy = load_policy(&args.policy)?;
    if config.deid_secret().is_none() {
        tracing::warn!("no de-identification secret configured ([deid] secret or SALUS_DEID_SECRET): keys the policy leaves unset are random for this run, so crypto-hashes and date shifts will not repeat across runs");
    }
    let engine = engine(policy, config)?;
    let files = collect_inputs(&args.inputs)?;
    if files.len() > 1 && args.out.is_none() {
        bail!(
            "{} inputs: give --out DIR for the de-identified files",
            files.len()
        );
    }
    if let Some(out) = &args.out {
        std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    }
    // Free text is scrubbed with each patient's own identifiers: read the Patients first.
    let mut book = IdentityBook::new();
    if engine.scrubs_text() {
        for file in &files {
            learn_identities(file, &mut book)?;
        }
    }
    let mut run = Run::new(random_seed()?, &engine);
    let mut failed = 0u64;
    for file in &files {
        failed += deidentify_file(&engine, &book, &mut run, file, args.out.as_deref())?;
    }
    let report = &run.report;
    eprintln!("{}", summary(report, files.len(), failed));
    if let Some(path) = &args.report {
        let text = serde_json::to_string_pretty(report)?;
        std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(if failed > 0 { 2 } else { 0 })
}

fn summary(report: &Report, files: usize, failed: u64) -> String {
    let methods: Vec<String> = report
        .methods
        .iter()
        .map(|(m, n)| format!("{m} {n}"))
        .collect();
    let text: u64 = report.free_text.values().sum();
    format!(
        "de-identified {} resources from {files} file{} ({} elements changed: {}; {text} free-text spans replaced){}",
        report.resources - failed,
        if files == 1 { "" } else { "s" },
        report.methods.values().sum::<u64>(),
        if methods.is_empty() { "none".into() } else { methods.join(", ") },
        if failed > 0 { format!("; {failed} failed and were not written") } else { String::new() }
    )
}

fn collect_inputs(inputs: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for input in inputs {
        if input.is_dir() {
            walk(input, &mut files)?;
        } else if input.is_file() {
            files.push(input.clone());
        } else {
            bail!("{}: no such file or directory", input.display());
        }
    }
    Ok(files)
}

fn walk(dir: &Path, files: &mut Vec<PathBuf>) -> Result<()> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            walk(&path, files)?;
        } else {
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            let name = name.strip_suffix(".gz").unwrap_or(name);
            if name.ends_with(".json") || name.ends_with(".ndjson") {
                files.push(path);
            }
        }
    }
    Ok(())
}

fn open(path: &Path) -> Result<Box<dyn BufRead>> {
    let file = File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let reader: Box<dyn Read> = if path.extension().is_some_and(|e| e == "gz") {
        Box::new(flate2::read::MultiGzDecoder::new(file))
    } else {
        Box::new(file)
    };
    Ok(Box::new(BufReader::with_capacity(1 << 16, reader)))
}

/// `.ndjson` files are read a line at a time; anything else is one JSON document.
fn read_input(path: &Path) -> Result<Input> {
    let name = output_name(path);
    if name.ends_with(".ndjson") {
        return Ok(Input::Lines);
    }
    let mut text = String::new();
    open(path)?
        .read_to_string(&mut text)
        .with_context(|| format!("reading {}", path.display()))?;
    let value: Value = serde_json::from_str(text.trim_start_matches('\u{feff}')).map_err(|e| {
        anyhow::anyhow!(
            "{}: not a JSON document (line {}, column {}); NDJSON files must end in .ndjson",
            path.display(),
            e.line(),
            e.column()
        )
    })?;
    Ok(Input::Document(value))
}

fn output_name(path: &Path) -> String {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("output.json");
    name.strip_suffix(".gz").unwrap_or(name).to_string()
}

fn learn_identities(path: &Path, book: &mut IdentityBook) -> Result<()> {
    match read_input(path)? {
        Input::Document(v) => book.add_resource(&v),
        Input::Lines => {
            for line in open(path)?.lines() {
                let line = line.with_context(|| format!("reading {}", path.display()))?;
                // Only Patients (and Bundles holding them) teach identities; skip the rest unparsed.
                if line.contains("\"Patient\"") {
                    if let Ok(v) = serde_json::from_str::<Value>(&line) {
                        book.add_resource(&v);
                    }
                }
            }
        }
    }
    Ok(())
}

/// De-identifies one file; returns how many resources failed (and were not written).
fn deidentify_file(
    engine: &Engine,
    book: &IdentityBook,
    run: &mut Run,
    path: &Path,
    out_dir: Option<&Path>,
) -> Result<u64> {
    let origin = Origin {
        file_name: Some(output_name(path)),
        folder_name: path
            .parent()
            .and_then(|p| p.file_name())
            .and_then(|n| n.to_str())
            .map(str::to_string),
    };
    let mut writer: Box<dyn Write> = match out_dir {
        Some(dir) => {
            let target = dir.join(output_name(path));
            Box::new(BufWriter::new(
                File::create(&target).with_context(|| format!("creating {}", target.display()))?,
            ))
        }
        None => Box::new(BufWriter::new(std::io::stdout().lock())),
    };
    let mut failed = 0;
    match read_input(path)? {
        Input::Document(v) => match engine.deidentify(v, &origin, book, run) {
            Ok(out) => {
                serde_json::to_writer_pretty(&mut writer, &out)?;
                writer.write_all(b"\n")?;
            }
            Err(e) => {
                eprintln!("{}: {e}; not written", path.display());
                failed += 1;
            }
        },
        Input::Lines => {
            for (i, line) in open(path)?.lines().enumerate() {
                let line = line.with_context(|| format!("reading {}", path.display()))?;
                if line.trim().is_empty() {
                    continue;
                }
                let parsed: Value = match serde_json::from_str(&line) {
                    Ok(v) => v,
                    Err(e) => {
                        eprintln!(
                            "{} line {}: not JSON (column {}); not written",
                            path.display(),
                            i + 1,
                            e.column()
                        );
                        failed += 1;
                        run.report.resources += 1;
                        continue;
                    }
                };
                match engine.deidentify(parsed, &origin, book, run) {
                    Ok(out) => {
                        serde_json::to_writer(&mut writer, &out)?;
                        writer.write_all(b"\n")?;
                    }
                    Err(e) => {
                        eprintln!("{} line {}: {e}; not written", path.display(), i + 1);
                        failed += 1;
                    }
                }
            }
        }
    }
    writer
        .flush()
        .with_context(|| format!("writing the output of {}", path.display()))?;
    Ok(failed)
}
