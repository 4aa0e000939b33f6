//! `salus.toml`: every setting with its default, validated before anything runs.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};
use serde::Deserialize;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The database URL, when neither `--db` nor `SALUS_DB` gives one.
    pub db: Option<String>,
    /// Database connections in the pool (default: twice the cores, at least 4).
    pub db_pool_size: Option<u32>,
    /// MiB of resource bodies the server keeps in memory on PostgreSQL (default 64; 0: none).
    pub db_body_cache_mb: Option<u64>,
    #[serde(default)]
    pub server: ServerSection,
    #[serde(default)]
    pub ingest: IngestSection,
    #[serde(default)]
    pub log: LogSection,
    #[serde(default)]
    pub audit: AuditSection,
    #[serde(default)]
    pub deid: DeidSection,
    #[serde(default)]
    pub export: ExportSection,
    #[serde(default)]
    pub context: ContextSection,
    #[serde(default)]
    pub mllp: MllpSection,
}

/// The HL7 v2 MLLP listener (`salus serve --mllp ADDR`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MllpSection {
    /// The largest message accepted; a larger one is answered `AR` and not kept.
    pub max_frame_bytes: usize,
    /// Seconds a connection may stay silent before it is closed.
    pub idle_timeout_secs: u64,
    pub max_connections: usize,
    /// The assigning authority of patient identifiers whose PID-3.4 is empty (default: the
    /// sending facility, MSH-4).
    pub default_assigning_authority: Option<String>,
}

impl Default for MllpSection {
    fn default() -> Self {
        let d = salus_server::mllp::MllpConfig::default();
        MllpSection {
            max_frame_bytes: d.max_frame_bytes,
            idle_timeout_secs: d.idle_timeout.as_secs(),
            max_connections: d.max_connections,
            default_assigning_authority: None,
        }
    }
}

/// Patient summaries for LLM prompts (`$llm-context`, `$summary`, `salus summary`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ContextSection {
    /// The LLM assistant as Consents name it (`provision.actor.reference`).
    pub recipient: String,
    /// `deny` (the default) or `permit`: what decides where no Consent applies.
    pub default_decision: String,
    /// `max_tokens` when a request gives none.
    pub default_max_tokens: usize,
    /// The largest `max_tokens` a request may ask for.
    pub max_tokens_limit: usize,
    /// `o200k_base` (default) or `cl100k_base`, when a request names none.
    pub tokenizer: String,
}

impl Default for ContextSection {
    fn default() -> Self {
        let d = salus_server::summary::ContextConfig::default();
        ContextSection {
            recipient: d.recipient,
            default_decision: "deny".into(),
            default_max_tokens: d.default_max_tokens,
            max_tokens_limit: d.max_tokens_limit,
            tokenizer: d.tokenizer.name().into(),
        }
    }
}

impl ContextSection {
    /// The checked settings; errors name the key.
    pub fn settings(&self) -> Result<salus_server::summary::ContextConfig> {
        let default_decision = match self.default_decision.as_str() {
            "deny" => salus_consent::DefaultDecision::Deny,
            "permit" => salus_consent::DefaultDecision::Permit,
            other => anyhow::bail!(
                "[context] default_decision = {other:?}: expected \"deny\" or \"permit\""
            ),
        };
        let tokenizer = salus_context::Tokenizer::parse(&self.tokenizer).with_context(|| {
            format!(
                "[context] tokenizer = {:?}: expected \"o200k_base\" or \"cl100k_base\"",
                self.tokenizer
            )
        })?;
        let reference_ok = self
            .recipient
            .split_once('/')
            .is_some_and(|(t, id)| !t.is_empty() && !id.is_empty() && !id.contains('/'));
        if !reference_ok {
            anyhow::bail!(
                "[context] recipient = {:?}: expected a reference such as \"Device/salus-llm-assistant\"",
                self.recipient
            );
        }
        if self.default_max_tokens == 0 || self.default_max_tokens > self.max_tokens_limit {
            anyhow::bail!(
                "[context] default_max_tokens must be from 1 to max_tokens_limit ({})",
                self.max_tokens_limit
            );
        }
        Ok(salus_server::summary::ContextConfig {
            recipient: self.recipient.clone(),
            default_decision,
            default_max_tokens: self.default_max_tokens,
            max_tokens_limit: self.max_tokens_limit,
            tokenizer,
        })
    }
}

/// `GET /fhir/$export` jobs.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ExportSection {
    /// Where jobs write their files (a directory per job). Default: `salus-exports` beside a
    /// SQLite database, else in the working directory.
    pub dir: Option<PathBuf>,
    /// Hours a finished job's files and status are kept.
    pub retention_hours: u64,
    /// Jobs running at once; more kick-offs are answered 429 until one finishes.
    pub max_running: usize,
}

impl Default for ExportSection {
    fn default() -> Self {
        let d = salus_server::ServerConfig::default();
        ExportSection {
            dir: None,
            retention_hours: d.export_retention.as_secs() / 3600,
            max_running: d.export_max_running,
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DeidSection {
    /// The secret de-identification keys derive from when a policy sets none (cryptoHash,
    /// dateShift, encrypt, text surrogates). `SALUS_DEID_SECRET` overrides it. Without either,
    /// keys are random per run: hashes and date offsets then differ from one run to the next.
    pub secret: Option<String>,
}

impl Config {
    /// The de-identification secret: `SALUS_DEID_SECRET`, else `[deid] secret`.
    pub fn deid_secret(&self) -> Option<String> {
        std::env::var("SALUS_DEID_SECRET")
            .ok()
            .filter(|s| !s.is_empty())
            .or_else(|| self.deid.secret.clone().filter(|s| !s.is_empty()))
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuditSection {
    /// Write an AuditEvent per protected request. `false` exists to measure what auditing
    /// costs; a server running so logs a warning at start.
    pub write: bool,
    /// Hold each response until its audit entry is committed, not only queued.
    pub wait_for_commit: bool,
    /// Seconds a looked-up token is trusted before it is looked up again (the delay before a
    /// revocation reaches a running server).
    pub token_cache_secs: u64,
}

impl Default for AuditSection {
    fn default() -> Self {
        AuditSection {
            write: true,
            wait_for_commit: false,
            token_cache_secs: 2,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerSection {
    pub listen: Option<String>,
    pub max_body_bytes: usize,
    pub max_ingest_bytes: usize,
    pub workers: Option<usize>,
    pub request_timeout_secs: u64,
    pub disconnect_timeout_secs: u64,
    pub keep_alive_secs: u64,
    pub max_header_bytes: usize,
    pub max_connections: usize,
    /// The public base URL (`https://salus.example.org`), the audience of SMART assertions.
    pub public_url: Option<String>,
}

impl Default for ServerSection {
    fn default() -> Self {
        let d = salus_server::ServerConfig::default();
        ServerSection {
            listen: None,
            max_body_bytes: d.max_body_bytes,
            max_ingest_bytes: d.max_ingest_bytes,
            workers: None,
            request_timeout_secs: d.client_request_timeout.as_secs(),
            disconnect_timeout_secs: d.client_disconnect_timeout.as_secs(),
            keep_alive_secs: d.keep_alive.as_secs(),
            max_header_bytes: d.max_header_bytes,
            max_connections: d.max_connections,
            public_url: None,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IngestSection {
    /// Resources per transaction at most.
    pub batch_size: usize,
    /// Serialized bytes per transaction at most: memory stays bounded with large resources.
    pub batch_bytes: usize,
    pub max_line_bytes: usize,
    pub max_document_bytes: usize,
}

impl IngestSection {
    pub fn batch(&self) -> salus_store::BatchLimits {
        salus_store::BatchLimits {
            resources: self.batch_size,
            bytes: self.batch_bytes,
        }
    }
}

impl Default for IngestSection {
    fn default() -> Self {
        let limits = salus_ingest::Limits::default();
        let batch = salus_store::BatchLimits::default();
        IngestSection {
            batch_size: batch.resources,
            batch_bytes: batch.bytes,
            max_line_bytes: limits.max_line_bytes,
            max_document_bytes: limits.max_document_bytes,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogSection {
    /// `text` or `json`.
    pub format: String,
    /// A tracing filter such as `info` or `salus=debug`.
    pub level: String,
}

impl Default for LogSection {
    fn default() -> Self {
        LogSection {
            format: "text".into(),
            level: "info".into(),
        }
    }
}

impl Config {
    /// Load `path`, or `salus.toml` in the working directory when it exists, or the defaults.
    pub fn load(path: Option<&Path>) -> Result<Config> {
        let path: Option<PathBuf> = match path {
            Some(p) => Some(p.to_owned()),
            None => Some(PathBuf::from("salus.toml")).filter(|p| p.exists()),
        };
        let Some(path) = path else {
            return Ok(Config::default());
        };
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read the configuration file {}", path.display()))?;
        let config: Config = toml::from_str(&text)
            .map_err(|e| anyhow::anyhow!("configuration file {}: {e}", path.display()))?;
        config.validate(&path)?;
        Ok(config)
    }

    fn validate(&self, path: &Path) -> Result<()> {
        let mut problems = Vec::new();
        if self.ingest.batch_size == 0 || self.ingest.batch_size > 10_000 {
            problems.push("ingest.batch_size must be from 1 to 10000");
        }
        if !(64 << 10..=256 << 20).contains(&self.ingest.batch_bytes) {
            problems.push("ingest.batch_bytes must be from 65536 (64 KiB) to 268435456 (256 MiB)");
        }
        if self.ingest.max_line_bytes < 1024 {
            problems.push("ingest.max_line_bytes must be at least 1024");
        }
        if !matches!(self.log.format.as_str(), "text" | "json") {
            problems.push("log.format must be \"text\" or \"json\"");
        }
        if self.db_pool_size == Some(0) {
            problems.push("db_pool_size must be at least 1");
        }
        if self.db_body_cache_mb.is_some_and(|mb| mb > 1 << 20) {
            problems.push("db_body_cache_mb must be at most 1048576 (1 TiB)");
        }
        if !(1024..=32 << 10).contains(&self.server.max_header_bytes) {
            problems.push("server.max_header_bytes must be from 1024 to 32768 (actix-http refuses more than 32 KiB)");
        }
        if self.server.max_connections == 0 {
            problems.push("server.max_connections must be at least 1");
        }
        if self.audit.token_cache_secs > 300 {
            problems.push("audit.token_cache_secs must be at most 300 (a revoked token stays usable that long)");
        }
        if self
            .server
            .public_url
            .as_deref()
            .is_some_and(|u| !(u.starts_with("https://") || u.starts_with("http://")))
        {
            problems
                .push("server.public_url must start with https:// (or http:// for local trials)");
        }
        if !(1..=87_600).contains(&self.export.retention_hours) {
            problems.push("export.retention_hours must be from 1 to 87600 (ten years)");
        }
        if self.export.max_running == 0 {
            problems.push("export.max_running must be at least 1");
        }
        if self.server.request_timeout_secs == 0 {
            problems.push("server.request_timeout_secs must be at least 1");
        }
        if self.mllp.max_frame_bytes < 1024 {
            problems.push("mllp.max_frame_bytes must be at least 1024");
        }
        if self.mllp.idle_timeout_secs == 0 {
            problems.push("mllp.idle_timeout_secs must be at least 1");
        }
        if self.mllp.max_connections == 0 {
            problems.push("mllp.max_connections must be at least 1");
        }
        let context_problem = self.context.settings().err().map(|e| e.to_string());
        if let Some(problem) = &context_problem {
            problems.push(problem);
        }
        if problems.is_empty() {
            Ok(())
        } else {
            anyhow::bail!(
                "configuration file {}: {}",
                path.display(),
                problems.join("; ")
            )
        }
    }

    pub fn limits(&self) -> salus_ingest::Limits {
        salus_ingest::Limits {
            max_line_bytes: self.ingest.max_line_bytes,
            max_document_bytes: self.ingest.max_document_bytes,
        }
    }

    /// Where `$export` jobs write: `[export] dir`, else `salus-exports` beside a SQLite
    /// database (the data's own disk and permissions), else in the working directory.
    pub fn export_dir(&self, db: &str) -> PathBuf {
        if let Some(dir) = &self.export.dir {
            return dir.clone();
        }
        db.strip_prefix("sqlite://")
            .and_then(|path| Path::new(path).parent())
            .map_or_else(
                || PathBuf::from("salus-exports"),
                |parent| parent.join("salus-exports"),
            )
    }

    pub fn mllp(&self, listen: String) -> salus_server::mllp::MllpConfig {
        let d = salus_server::mllp::MllpConfig::default();
        salus_server::mllp::MllpConfig {
            listen,
            max_frame_bytes: self.mllp.max_frame_bytes,
            idle_timeout: Duration::from_secs(self.mllp.idle_timeout_secs),
            max_connections: self.mllp.max_connections,
            map: salus_hl7v2_fhir::MapOptions {
                default_assigning_authority: self.mllp.default_assigning_authority.clone(),
                ..d.map
            },
            ..d
        }
    }

    pub fn server(&self, listen: Option<String>, db: &str) -> salus_server::ServerConfig {
        let d = salus_server::ServerConfig::default();
        salus_server::ServerConfig {
            listen: listen
                .or_else(|| self.server.listen.clone())
                .unwrap_or(d.listen),
            max_body_bytes: self.server.max_body_bytes,
            max_ingest_bytes: self.server.max_ingest_bytes,
            workers: self.server.workers.or(d.workers),
            client_request_timeout: Duration::from_secs(self.server.request_timeout_secs),
            max_connections: self.server.max_connections,
            ingest_limits: self.limits(),
            ingest_batch: self.ingest.batch(),
            public_url: self.server.public_url.clone(),
            client_disconnect_timeout: Duration::from_secs(self.server.disconnect_timeout_secs),
            keep_alive: Duration::from_secs(self.server.keep_alive_secs),
            max_header_bytes: self.server.max_header_bytes,
            audit_writes: self.audit.write,
            audit_wait_for_commit: self.audit.wait_for_commit,
            token_cache_ttl: Duration::from_secs(self.audit.token_cache_secs),
            deid_secret: self
                .deid_secret()
                .map(|s| salus_server::DeidSecret(s.into_bytes())),
            export_dir: self.export_dir(db),
            export_retention: Duration::from_secs(self.export.retention_hours * 3600),
            export_max_running: self.export.max_running,
            context: self.context.settings().unwrap_or_default(),
        }
    }
}
