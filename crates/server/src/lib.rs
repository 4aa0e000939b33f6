//! The FHIR REST API over HTTP: a thin shell around `salus-store` and `salus-ingest`.
//!
//! Handlers parse the request, call the libraries (on the blocking pool, since the store is
//! synchronous) and shape the answer; they hold no business rules. Routes are registered in one
//! place, [`configure`], inside the `/fhir` and `/ingest` scopes, so that authentication,
//! authorization and audit middleware wrap those scopes without any handler changing.
//!
//! Architecture invariant: no resource content, name, identifier or query value is ever logged.

mod audit;
pub mod auth;
pub mod bulk;
mod error;
mod export;
mod fhir;
mod ingest;
mod metrics;
pub mod mllp;
pub mod policies;
pub mod sdoh;
mod smart;
pub mod summary;
pub mod tls;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use actix_web::{web, App, HttpServer};
use salus_ingest::Limits;
use salus_store::Store;

pub use audit::append as append_audit;
pub use error::ApiError;

/// The FHIR JSON media type.
pub const FHIR_JSON: &str = "application/fhir+json; charset=utf-8";

/// Server settings (the `[server]` and `[ingest]` parts of `salus.toml`).
#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub listen: String,
    /// Largest accepted request body for FHIR interactions.
    pub max_body_bytes: usize,
    /// Largest accepted body for `POST /ingest`.
    pub max_ingest_bytes: usize,
    /// Async worker threads; `None`: one per core on SQLite, two per core on PostgreSQL, whose
    /// in-place reads wait on the network (measured on 2 cores: Patient reads/s 14,900 with 2
    /// workers, 17,000 with 4).
    pub workers: Option<usize>,
    /// Time a client has to send a request's head (slow clients are cut off).
    pub client_request_timeout: Duration,
    /// Time a client has to acknowledge the connection's shutdown.
    pub client_disconnect_timeout: Duration,
    /// How long an idle kept-alive connection stays open.
    pub keep_alive: Duration,
    /// The most bytes of request headers accepted (actix-http itself refuses more than 32 KiB).
    pub max_header_bytes: usize,
    pub max_connections: usize,
    pub ingest_limits: Limits,
    /// How big a bulk-ingest transaction grows.
    pub ingest_batch: salus_store::BatchLimits,
    /// The server's public base URL (`https://salus.example.org`): the audience SMART client
    /// assertions must name. Without it, the URL the request was sent to.
    pub public_url: Option<String>,
    /// Write an AuditEvent per protected request. Off only to measure what auditing costs.
    pub audit_writes: bool,
    /// Hold each response until its audit entry is committed (default: until it is queued).
    pub audit_wait_for_commit: bool,
    /// How long a looked-up token is trusted before it is looked up again: the delay before a
    /// revocation reaches a running server.
    pub token_cache_ttl: Duration,
    /// The secret de-identification keys are derived from (`[deid] secret`); `None`: a random
    /// one per process, so hashes and date offsets do not repeat across restarts.
    pub deid_secret: Option<DeidSecret>,
    /// Where `$export` jobs write their files, a directory per job.
    pub export_dir: PathBuf,
    /// How long a finished export (files and status) is kept.
    pub export_retention: Duration,
    /// Exports running at once; more are refused with 429 until one finishes.
    pub export_max_running: usize,
    /// Patient summaries for LLM prompts (`[context]`).
    pub context: summary::ContextConfig,
}

/// The configured de-identification secret. Its `Debug` hides it, so that a logged
/// configuration never shows it.
#[derive(Clone)]
pub struct DeidSecret(pub Vec<u8>);

impl std::fmt::Debug for DeidSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DeidSecret(..)")
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: "127.0.0.1:8080".into(),
            max_body_bytes: 32 << 20,
            max_ingest_bytes: 512 << 20,
            workers: None,
            client_request_timeout: Duration::from_secs(30),
            client_disconnect_timeout: Duration::from_secs(5),
            keep_alive: Duration::from_secs(75),
            max_header_bytes: 16 << 10,
            max_connections: 4096,
            ingest_limits: Limits::default(),
            ingest_batch: salus_store::BatchLimits::default(),
            public_url: None,
            audit_writes: true,
            audit_wait_for_commit: false,
            token_cache_ttl: Duration::from_secs(2),
            deid_secret: None,
            export_dir: PathBuf::from("salus-exports"),
            export_retention: Duration::from_secs(24 * 3600),
            export_max_running: 2,
            context: summary::ContextConfig::default(),
        }
    }
}

/// Shared state of the handlers.
pub struct AppState {
    pub store: Store,
    pub tokens: auth::TokenCache,
    pub audit: audit::AuditWriter,
    pub config: ServerConfig,
    pub metrics: metrics::Metrics,
    /// De-identification engines, keyed by policy text (previews and exports).
    pub engines: policies::Engines,
    /// The `$export` jobs running in this process.
    pub exports: export::Jobs,
}

/// What a store read may cost, which decides where it runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ReadCost {
    /// A key lookup, or a search confined to one patient or to named ids: run in place on the
    /// async worker. The hand-off to a blocking thread and back cost more than such a read
    /// (SQLite Patient reads/s: 30,000 handed off, 41,000 in place; PostgreSQL p99 9.4 ms
    /// handed off, 3.7 ms in place), and the readers' own pool means it never waits for a
    /// writer's connection.
    Bounded,
    /// Anything that may scan (a `:contains` over a whole type, an unfiltered search): on the
    /// blocking pool, so that it cannot stall the other requests of its worker.
    Unbounded,
}

/// Run a store read where its cost says.
pub(crate) async fn store_read<T, F>(
    store: &Store,
    cost: ReadCost,
    read: F,
) -> Result<T, error::ApiError>
where
    T: Send + 'static,
    F: FnOnce(&Store) -> salus_store::Result<T> + Send + 'static,
{
    match cost {
        ReadCost::Bounded => Ok(read(store)?),
        ReadCost::Unbounded => {
            let store = store.clone();
            Ok(web::block(move || read(&store)).await??)
        }
    }
}

/// Register every route. Who may call which is decided by `auth::classify` and `auth::guard`,
/// which wrap them all.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/healthz", web::get().to(metrics::healthz))
        .route("/metrics", web::get().to(metrics::metrics))
        .route(
            "/.well-known/smart-configuration",
            web::get().to(smart::configuration),
        )
        .route("/auth/token", web::post().to(smart::token_endpoint))
        .service(web::scope("/ingest").route("", web::post().to(ingest::ingest)))
        .route("/sdoh/link", web::post().to(ingest::sdoh_link))
        .service(policies::scope())
        .service(fhir::scope());
}

/// The keys de-identification policies leave unset: from the configured secret, or random for
/// this process (with a warning: nothing then links across restarts).
fn deid_keys(secret: Option<&DeidSecret>) -> std::io::Result<salus_deid::DefaultKeys> {
    match secret {
        Some(secret) => Ok(salus_deid::DefaultKeys::derive(&secret.0)),
        None => {
            tracing::warn!("no de-identification secret configured ([deid] secret or SALUS_DEID_SECRET): a random one is used, so crypto-hashes and date shifts will not repeat across restarts");
            let mut seed = [0u8; 32];
            getrandom::fill(&mut seed).map_err(|e| std::io::Error::other(e.to_string()))?;
            Ok(salus_deid::DefaultKeys::random(seed))
        }
    }
}

fn default_workers(backend: salus_store::Backend) -> usize {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    match backend {
        salus_store::Backend::Sqlite => cores,
        salus_store::Backend::Postgres => 2 * cores,
    }
}

/// Bind, report the address actually bound (useful with port 0), and serve plain HTTP until
/// stopped.
pub async fn serve(
    store: Store,
    config: ServerConfig,
    on_listening: impl FnOnce(SocketAddr),
) -> std::io::Result<()> {
    serve_with_tls(store, config, None, on_listening).await
}

/// As [`serve`], but HTTPS only when `tls` is given (from [`tls::load`]): no plain-HTTP listener
/// beside it, so that nothing, tokens included, can travel unencrypted by mistake.
pub async fn serve_with_tls(
    store: Store,
    config: ServerConfig,
    tls: Option<rustls::ServerConfig>,
    on_listening: impl FnOnce(SocketAddr),
) -> std::io::Result<()> {
    salus_fhir::schema::warm_up();
    // The tokenizer's tables are built once, before the first summary is asked for.
    config.context.tokenizer.warm();
    let workers = config
        .workers
        .unwrap_or_else(|| default_workers(store.backend()));
    store.start_checkpointer(Duration::from_millis(500));
    let audit = if config.audit_writes {
        audit::AuditWriter::start(store.clone(), config.audit_wait_for_commit)
    } else {
        tracing::warn!("audit writes are off (audit.write = false): requests leave no trace; never run a service like this");
        audit::AuditWriter::disabled()
    };
    let writer = audit.clone();
    let keys = deid_keys(config.deid_secret.as_ref())?;
    // Jobs a previous process left running died with it; expired ones go.
    let interrupted = store
        .fail_unfinished_export_jobs(
            "the server stopped before this export finished; start it again",
            fhir::now_micros(),
        )
        .map_err(std::io::Error::other)?;
    if interrupted > 0 {
        tracing::warn!(
            jobs = interrupted,
            "exports interrupted by the last shutdown were marked failed"
        );
    }
    export::sweep(&store, &config.export_dir, config.export_retention);
    let state = web::Data::new(AppState {
        store,
        tokens: auth::TokenCache::new(config.token_cache_ttl),
        audit,
        config: config.clone(),
        metrics: metrics::Metrics::default(),
        engines: policies::Engines::new(keys),
        exports: export::Jobs::default(),
    });
    let server = HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .wrap(actix_web::middleware::from_fn(auth::guard))
            .wrap(actix_web::middleware::from_fn(metrics::count_requests))
            .configure(configure)
            .default_service(web::to(fhir::no_such_route))
    })
    .workers(workers)
    .client_request_timeout(config.client_request_timeout)
    .client_disconnect_timeout(config.client_disconnect_timeout)
    .keep_alive(config.keep_alive)
    .max_connections(config.max_connections);
    let server = match tls {
        Some(tls) => server.bind_rustls_0_23(&config.listen, tls)?,
        None => server.bind(&config.listen)?,
    };
    if let Some(addr) = server.addrs().first() {
        on_listening(*addr);
    }
    let result = server.run().await;
    // The queued audit entries are written before the process ends.
    writer.shutdown();
    result
}
