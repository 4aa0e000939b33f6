//! `salus`: the command line and the server, wiring the libraries together.
//!
//! Exit codes (the contract): 0 success; 1 failure, nothing changed; 2 partial success (some
//! records rejected, every other kept); 3 refused by consent or policy.

mod config;
mod deid;
mod dev_cert;
mod export;
mod ingest;
mod relabel;
mod sdoh;
mod security;
mod summary;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use salus_store::{Store, StoreOptions};

use crate::config::Config;

/// mimalloc: ingest allocates in the reader thread and frees in the writer thread, which glibc's
/// allocator handles poorly (a third of ingest CPU went to malloc/free under it).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "salus",
    version,
    about = "FHIR-interoperable clinical data integration for mental-health care"
)]
struct Cli {
    /// Database URL: sqlite://PATH or postgres://…
    #[arg(long, global = true, env = "SALUS_DB")]
    db: Option<String>,
    /// Configuration file (TOML); salus.toml in the working directory if present.
    #[arg(long, global = true, env = "SALUS_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create or upgrade the database schema.
    Migrate,
    /// Load FHIR NDJSON and Bundles, HL7 v2 messages and C-CDA documents (files, directories,
    /// '-' for standard input, .gz accepted).
    Ingest(ingest::IngestArgs),
    /// Write current resources as FHIR Bulk Data NDJSON files, one per type.
    Export(export::ExportArgs),
    /// De-identify FHIR JSON and NDJSON files under a policy (no database).
    Deid(deid::DeidArgs),
    /// De-identification policies: check a file or preset; put, list, delete stored ones.
    #[command(subcommand)]
    Policy(deid::PolicyCommand),
    /// Bearer tokens: create (shown once), list, revoke.
    #[command(subcommand)]
    Token(security::TokenCommand),
    /// SMART Backend Services clients: register (with a JWKS), list, revoke.
    #[command(subcommand)]
    Client(security::ClientCommand),
    /// The audit trail: verify its hash chain.
    #[command(subcommand)]
    Audit(security::AuditCommand),
    /// Social determinants of health: link patients to the loaded community indices.
    #[command(subcommand)]
    Sdoh(sdoh::SdohCommand),
    /// A patient's consented summary for an LLM prompt (what `$llm-context` returns), or the
    /// International Patient Summary (`--format ips`).
    Summary(summary::SummaryArgs),
    /// Serve the FHIR REST API.
    Serve {
        /// Address to listen on.
        #[arg(long)]
        listen: Option<String>,
        /// Address for the HL7 v2 MLLP listener.
        #[arg(long)]
        mllp: Option<String>,
        /// TLS certificate (PEM).
        #[arg(long, requires = "tls_key")]
        tls_cert: Option<PathBuf>,
        /// TLS private key (PEM).
        #[arg(long, requires = "tls_cert")]
        tls_key: Option<PathBuf>,
    },
    /// Write a self-signed certificate and key for trying HTTPS locally (not for production).
    DevCert(dev_cert::DevCertArgs),
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = match e.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => 0,
                _ => 1,
            };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    match run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}

fn run(cli: Cli) -> Result<u8> {
    let config = Config::load(cli.config.as_deref())?;
    init_logging(&config);
    let db = cli
        .db
        .clone()
        .or_else(|| config.db.clone())
        .unwrap_or_else(|| "sqlite://salus.db".to_owned());
    let pool_size = config
        .db_pool_size
        .unwrap_or_else(salus_store::default_pool_size);
    let open = || {
        Store::open_with(
            &db,
            StoreOptions {
                pool_size,
                body_cache_bytes: config
                    .db_body_cache_mb
                    .map_or(salus_store::DEFAULT_BODY_CACHE_BYTES, |mb| mb << 20),
            },
        )
        .with_context(|| "opening the database".to_string())
    };
    // Commands that write or serve first bring the stored labels up to the built-in value sets.
    let open_labelled = || -> Result<Store> {
        let store = open()?;
        relabel::ensure_current(&store)?;
        Ok(store)
    };
    match cli.command {
        Command::Migrate => {
            let store = open_labelled()?;
            println!(
                "database is up to date ({:?}): {} resources",
                store.backend(),
                store.count(None)?
            );
            Ok(0)
        }
        Command::Ingest(args) => ingest::run(&open_labelled()?, &config, args),
        Command::Export(args) => export::run(&open()?, &config, args),
        Command::Deid(args) => deid::run(&config, args),
        Command::Policy(command) if deid::needs_store(&command) => {
            deid::stored_policy(&open()?, command)
        }
        Command::Policy(command) => deid::policy(&config, command),
        Command::Token(command) => security::token(&open()?, command),
        Command::Client(command) => security::client(&open()?, command),
        Command::Audit(command) => security::audit(&open()?, command),
        Command::Summary(args) => summary::run(&open_labelled()?, &config, args),
        Command::Sdoh(command) => sdoh::run(&open()?, &config, command),
        Command::Serve {
            listen,
            mllp,
            tls_cert,
            tls_key,
        } => {
            // Checked before the database is opened: with a certificate that clients would
            // reject, the server does not start at all. (clap makes the two flags go together.)
            let tls = match (tls_cert, tls_key) {
                (Some(cert), Some(key)) => {
                    Some(salus_server::tls::load(&cert, &key, chrono::Utc::now())?.config)
                }
                _ => None,
            };
            let scheme = if tls.is_some() { "https" } else { "http" };
            let store = open_labelled()?;
            let server_config = config.server(listen, &db);
            if let Some(addr) = mllp {
                start_mllp(&store, config.mllp(addr), tls.clone())?;
            }
            actix_web::rt::System::new()
                .block_on(salus_server::serve_with_tls(
                    store,
                    server_config,
                    tls,
                    |addr| {
                        println!("salus listening on {scheme}://{addr}");
                        use std::io::Write;
                        let _ = std::io::stdout().flush();
                    },
                ))
                .with_context(|| format!("serving {}", scheme.to_uppercase()))?;
            Ok(0)
        }
        Command::DevCert(args) => dev_cert::run(args),
    }
}

/// Start the MLLP listener on threads of its own (a small tokio runtime and the writer), and
/// return once it is bound or has failed to bind.
fn start_mllp(
    store: &salus_store::Store,
    mllp: salus_server::mllp::MllpConfig,
    tls: Option<rustls::ServerConfig>,
) -> Result<()> {
    let scheme = if tls.is_some() { "mllp+tls" } else { "mllp" };
    // MLLP carries no HTTP: the HTTPS configuration's ALPN names do not apply.
    let tls = tls.map(|mut t| {
        t.alpn_protocols.clear();
        std::sync::Arc::new(t)
    });
    let store = store.clone();
    let listen = mllp.listen.clone();
    let (bound, bound_rx) = std::sync::mpsc::channel::<std::io::Result<std::net::SocketAddr>>();
    std::thread::Builder::new()
        .name("salus-mllp".into())
        .spawn(move || {
            let runtime = match tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .thread_name("salus-mllp-worker")
                .enable_all()
                .build()
            {
                Ok(r) => r,
                Err(e) => {
                    let _ = bound.send(Err(e));
                    return;
                }
            };
            let report = bound.clone();
            let served = runtime.block_on(salus_server::mllp::serve_mllp(
                store,
                mllp,
                tls,
                now_micros,
                move |addr| {
                    let _ = report.send(Ok(addr));
                },
            ));
            if let Err(e) = served {
                let _ = bound.send(Err(e));
            }
        })?;
    match bound_rx.recv() {
        Ok(Ok(addr)) => {
            println!("salus listening on {scheme}://{addr}");
            Ok(())
        }
        Ok(Err(e)) => Err(anyhow::anyhow!(e)).with_context(|| format!("--mllp {listen}")),
        Err(_) => anyhow::bail!("--mllp {listen}: the listener stopped before it was bound"),
    }
}

/// Microseconds since the Unix epoch, now: the CLI is the shell that owns the clock.
pub(crate) fn now_micros() -> i64 {
    chrono::Utc::now().timestamp_micros()
}

fn init_logging(config: &Config) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("SALUS_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(&config.log.level));
    // Colour only on a terminal: escape codes in a log file are noise for whoever reads it.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    if config.log.format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
}
