//! The versioned FHIR resource store, on SQLite (embedded default) and PostgreSQL (production).
//!
//! It keeps every version of every resource with `meta.versionId` and `meta.lastUpdated`
//! stamped into the stored JSON, the patient each resource belongs to, where it came from, and
//! index rows for the search parameters of `salus_fhir::search`. A write whose content equals
//! the current version changes nothing.
//!
//! Architecture invariant: the store never interprets FHIR beyond what `salus-fhir` prepared; it
//! stores, versions, indexes and finds. It owns the clock for `lastUpdated` only through the
//! `now` its callers pass in.

mod body_cache;
mod conn;
mod deid;
mod merge;
mod pg_copy;
mod pg_schema;
mod pg_url;
mod read;
mod reference;
mod search;
mod security;
mod settings;
mod sink;
pub mod testing;
mod write;

use std::sync::Arc;
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use diesel::r2d2::{ConnectionManager, CustomizeConnection, Pool, PooledConnection};
use diesel::sql_types::{BigInt, Nullable, Text};
use diesel::sqlite::SqliteConnection;
use diesel::{Connection, QueryableByName};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

pub use body_cache::DEFAULT_BODY_CACHE_BYTES;
pub use conn::{Bind, Conn};
pub use deid::{ExportJobRow, JobStatus, PolicyRow};
pub use reference::{ReferenceOutcome, ReferenceRow};
pub use search::{ScanFilter, SearchHit, SearchPage};
pub use security::{AuditRow, ClientRow, TokenRow, MAX_BLOCK_ENTRIES};
pub use sink::{BatchLimits, Clock, StoreSink};
pub use write::{WriteError, WriteRequest, Written};

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/postgres");

/// A store failure. Messages describe the operation, never resource content.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Carries only the URL's scheme: the rest may hold a password.
    #[error("database URL scheme '{0}' is not supported: use sqlite://PATH or postgres://…")]
    BadUrl(String),
    #[error("cannot connect to the database: {0}")]
    Connect(String),
    #[error("database migration failed: {0}")]
    Migration(String),
    #[error("database error: {0}")]
    Query(#[from] diesel::result::Error),
    #[error("database connection pool: {0}")]
    Pool(String),
    /// A patient merge that cannot be applied (names resources by type and id only).
    #[error("merging patients: {0}")]
    Merge(String),
    #[error(transparent)]
    Write(#[from] WriteError),
    /// The database breaks an invariant of the store (a bug or a hand edit).
    #[error("the store is inconsistent: {0}")]
    Inconsistent(String),
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// Which database a store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Debug)]
struct SqlitePragmas;

impl CustomizeConnection<SqliteConnection, diesel::r2d2::Error> for SqlitePragmas {
    fn on_acquire(
        &self,
        conn: &mut SqliteConnection,
    ) -> std::result::Result<(), diesel::r2d2::Error> {
        // WAL lets readers run beside the writer; NORMAL sync is durable across application
        // crashes (a power loss may lose the last commits, never corrupt the database).
        conn.batch_execute(
            "PRAGMA page_size = 16384; PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 10000; \
             PRAGMA foreign_keys = ON; PRAGMA cache_size = -65536; PRAGMA temp_store = MEMORY; \
             PRAGMA wal_autocheckpoint = 16384;",
        )
        .map_err(diesel::r2d2::Error::QueryError)
    }
}

/// Connections for reads only: `query_only`, so a bug cannot write through them.
#[derive(Debug)]
struct SqliteReaderPragmas;

impl CustomizeConnection<SqliteConnection, diesel::r2d2::Error> for SqliteReaderPragmas {
    fn on_acquire(
        &self,
        conn: &mut SqliteConnection,
    ) -> std::result::Result<(), diesel::r2d2::Error> {
        conn.batch_execute(
            "PRAGMA busy_timeout = 10000; PRAGMA cache_size = -65536; PRAGMA temp_store = MEMORY; \
             PRAGMA query_only = ON;",
        )
        .map_err(diesel::r2d2::Error::QueryError)
    }
}

/// Reads get a pool of their own on both backends, so that a read never queues behind writes
/// holding every connection (an ingest's batches, a long transaction). On SQLite, with one
/// writer at a time and readers that never wait for it (WAL), that makes a read's time its
/// own; the server relies on it to run short reads in place on its async workers.
#[derive(Clone)]
enum Pools {
    Sqlite {
        writers: Pool<ConnectionManager<SqliteConnection>>,
        readers: Pool<ConnectionManager<SqliteConnection>>,
    },
    Pg {
        writers: Pool<ConnectionManager<PgConnection>>,
        readers: Pool<ConnectionManager<PgConnection>>,
    },
}

/// A handle to the store: cheap to clone, safe to share between threads.
#[derive(Clone)]
pub struct Store {
    pools: Pools,
    /// Bodies by version key, on PostgreSQL only: SQLite hands out stored text as it is.
    bodies: Option<Arc<body_cache::BodyCache>>,
}

/// How to open a store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreOptions {
    /// Connections per pool.
    pub pool_size: u32,
    /// Bytes of resource bodies kept in memory (PostgreSQL; 0 turns the cache off).
    pub body_cache_bytes: u64,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            pool_size: default_pool_size(),
            body_cache_bytes: DEFAULT_BODY_CACHE_BYTES,
        }
    }
}

/// A pooled connection of either backend.
pub enum Pooled {
    Sqlite(PooledConnection<ConnectionManager<SqliteConnection>>),
    Pg(PooledConnection<ConnectionManager<PgConnection>>),
}

impl Pooled {
    pub fn conn(&mut self) -> Conn<'_> {
        match self {
            Pooled::Sqlite(c) => Conn::Sqlite(c),
            Pooled::Pg(c) => Conn::Pg(c),
        }
    }
}

impl Store {
    /// Open (and migrate) the database at `url`: `sqlite://PATH` or `postgres://…`, with the
    /// default options.
    pub fn open(url: &str) -> Result<Store> {
        Self::open_with(url, StoreOptions::default())
    }

    pub fn open_with(url: &str, options: StoreOptions) -> Result<Store> {
        let pool_size = options.pool_size;
        let store = if let Some(path) = url.strip_prefix("sqlite://") {
            if path.is_empty() {
                return Err(StoreError::BadUrl("sqlite:// without a path".into()));
            }
            // Migrate on a single connection first: WAL mode is set before the pool opens more.
            let mut conn = SqliteConnection::establish(path)
                .map_err(|e| StoreError::Connect(format!("{path}: {e}")))?;
            SqlitePragmas
                .on_acquire(&mut conn)
                .map_err(|e| StoreError::Connect(e.to_string()))?;
            conn.run_pending_migrations(SQLITE_MIGRATIONS)
                .map_err(|e| StoreError::Migration(e.to_string()))?;
            let writers = pool_builder(pool_size)
                .connection_customizer(Box::new(SqlitePragmas))
                .build(ConnectionManager::new(path))
                .map_err(|e| StoreError::Connect(e.to_string()))?;
            let readers = pool_builder(pool_size)
                .connection_customizer(Box::new(SqliteReaderPragmas))
                .build(ConnectionManager::new(path))
                .map_err(|e| StoreError::Connect(e.to_string()))?;
            Store {
                pools: Pools::Sqlite { writers, readers },
                bodies: None,
            }
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let url = &*pg_url::with_loopback_tls_default(url);
            let mut conn = PgConnection::establish(url)
                .map_err(|e| StoreError::Connect(redact_url_error(&e.to_string())))?;
            conn.run_pending_migrations(POSTGRES_MIGRATIONS)
                .map_err(|e| StoreError::Migration(e.to_string()))?;
            let pool = || {
                pool_builder(pool_size)
                    .build(ConnectionManager::new(url))
                    .map_err(|e| StoreError::Connect(redact_url_error(&e.to_string())))
            };
            Store {
                pools: Pools::Pg {
                    writers: pool()?,
                    readers: pool()?,
                },
                bodies: (options.body_cache_bytes > 0)
                    .then(|| Arc::new(body_cache::BodyCache::new(options.body_cache_bytes))),
            }
        } else {
            let scheme = url.split_once("://").map_or("(none)", |(scheme, _)| scheme);
            return Err(StoreError::BadUrl(scheme.to_owned()));
        };
        Ok(store)
    }

    pub fn backend(&self) -> Backend {
        match self.pools {
            Pools::Sqlite { .. } => Backend::Sqlite,
            Pools::Pg { .. } => Backend::Postgres,
        }
    }

    /// On SQLite, start a thread that checkpoints the write-ahead log every `every`, so that a
    /// long-running server's commits never pay for a checkpoint themselves. Why: the automatic
    /// checkpoint runs inside the commit that crosses the threshold; with an AuditEvent per
    /// request that commit stalled every request waiting on it (p99 ~200 ms). A PASSIVE
    /// checkpoint waits for no reader or writer. Does nothing on PostgreSQL.
    pub fn start_checkpointer(&self, every: Duration) {
        let Pools::Sqlite { readers, .. } = &self.pools else {
            return;
        };
        let readers = readers.clone();
        let spawned = std::thread::Builder::new()
            .name("salus-wal-checkpoint".into())
            .spawn(move || loop {
                std::thread::sleep(every);
                // A reader connection: checkpointing writes the database file, not through
                // SQL, so `query_only` does not stop it, and no writer's connection is taken.
                if let Ok(mut conn) = readers.get() {
                    if let Err(e) = conn.batch_execute("PRAGMA wal_checkpoint(PASSIVE)") {
                        tracing::warn!(error = %e, "WAL checkpoint failed");
                    }
                }
            });
        if let Err(e) = spawned {
            tracing::warn!(error = %e, "could not start the WAL checkpoint thread");
        }
    }

    /// A connection from the pool, for writing.
    pub fn connection(&self) -> Result<Pooled> {
        Ok(match &self.pools {
            Pools::Sqlite { writers, .. } => Pooled::Sqlite(get(writers)?),
            Pools::Pg { writers, .. } => Pooled::Pg(get(writers)?),
        })
    }

    /// A connection for reading, from the readers' pool (read-only on SQLite).
    pub(crate) fn reader(&self) -> Result<Pooled> {
        Ok(match &self.pools {
            Pools::Sqlite { readers, .. } => Pooled::Sqlite(get(readers)?),
            Pools::Pg { readers, .. } => Pooled::Pg(get(readers)?),
        })
    }

    /// Run `f` in one database transaction (on SQLite an IMMEDIATE one, which takes the write
    /// lock up front so that two writers never deadlock). Nothing of it is kept if it fails.
    pub fn transaction<R>(&self, f: impl FnOnce(&mut Conn<'_>) -> Result<R>) -> Result<R> {
        let mut pooled = self.connection()?;
        match &mut pooled {
            Pooled::Sqlite(c) => c.immediate_transaction(|c| f(&mut Conn::Sqlite(c))),
            Pooled::Pg(c) => c.transaction(|c| f(&mut Conn::Pg(c))),
        }
    }

    /// The current version of a resource: its JSON and version.
    pub fn read(&self, resource_type: &str, id: &str) -> Result<Option<StoredResource>> {
        read::read(self, &mut self.reader()?, resource_type, id, None)
    }

    /// One version of a resource.
    pub fn read_version(
        &self,
        resource_type: &str,
        id: &str,
        version: i64,
    ) -> Result<Option<StoredResource>> {
        read::read(self, &mut self.reader()?, resource_type, id, Some(version))
    }

    /// The number of current resources of a type (all types with `None`).
    pub fn count(&self, resource_type: Option<&str>) -> Result<i64> {
        let mut pooled = self.reader()?;
        let rows: Vec<CountRow> = match resource_type {
            Some(t) => pooled.conn().load_prepared(
                "SELECT COUNT(*) AS n FROM resource_versions WHERE is_current = 1 AND res_type = ?",
                vec![t.into()],
            )?,
            None => pooled.conn().load_prepared(
                "SELECT COUNT(*) AS n FROM resource_versions WHERE is_current = 1",
                vec![],
            )?,
        };
        Ok(rows.first().map_or(0, |r| r.n))
    }

    /// The resource types that have current resources, with their counts.
    pub fn type_counts(&self) -> Result<Vec<(String, i64)>> {
        let mut pooled = self.reader()?;
        let rows: Vec<TypeCountRow> = pooled.conn().load(
            "SELECT res_type, COUNT(*) AS n FROM resource_versions WHERE is_current = 1 GROUP BY res_type ORDER BY res_type",
            vec![],
        )?;
        Ok(rows.into_iter().map(|r| (r.res_type, r.n)).collect())
    }

    /// Refresh the query planner's statistics; worth it after a bulk load, which otherwise leaves
    /// PostgreSQL planning as if the tables were empty. Not inside a transaction.
    pub fn analyze(&self) -> Result<()> {
        let mut pooled = self.connection()?;
        let sql = match self.backend() {
            // VACUUM too: it marks the loaded pages all-visible, which lets searches answer
            // from the indexes alone (index-only scans) instead of visiting every row.
            Backend::Postgres => {
                "VACUUM (ANALYZE) resource_versions, search_token, search_date, search_string"
            }
            Backend::Sqlite => "PRAGMA optimize",
        };
        pooled.conn().execute(sql, vec![])?;
        Ok(())
    }

    /// Is the database reachable? (for `/healthz`)
    pub fn ping(&self) -> Result<()> {
        let mut pooled = self.connection()?;
        let _: Vec<CountRow> = pooled
            .conn()
            .load("SELECT CAST(1 AS BIGINT) AS n", vec![])?;
        Ok(())
    }
}

/// Pool settings shared by both backends.
fn get<M: diesel::r2d2::ManageConnection>(pool: &Pool<M>) -> Result<PooledConnection<M>> {
    pool.get().map_err(|e| StoreError::Pool(e.to_string()))
}

fn pool_builder<M: diesel::r2d2::ManageConnection>(size: u32) -> diesel::r2d2::Builder<M> {
    Pool::builder()
        .max_size(size)
        // Every connection opens up front (r2d2's default). With fewer kept idle, r2d2 opens
        // replacements on background threads, and a CLI process exiting while one of them was
        // inside SQLite's open crashed (SIGSEGV, seen under a loaded test run).
        .connection_timeout(Duration::from_secs(30))
        // A failed query surfaces as an error anyway; a check per checkout would cost a round
        // trip on every request.
        .test_on_check_out(false)
}

/// Twice the cores, at least 4: more connections than that only queue for the CPU (measured:
/// on 2 cores, 4 PostgreSQL connections serve 25% more reads than 16).
pub fn default_pool_size() -> u32 {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get()) as u32;
    (2 * cores).max(4)
}

/// A stored version of a resource.
#[derive(Debug, Clone, PartialEq, Eq, QueryableByName)]
pub struct StoredResource {
    #[diesel(sql_type = Text)]
    pub res_type: String,
    #[diesel(sql_type = Text)]
    pub res_id: String,
    #[diesel(sql_type = BigInt)]
    pub version_id: i64,
    /// Microseconds since the Unix epoch.
    #[diesel(sql_type = BigInt)]
    pub last_updated: i64,
    #[diesel(sql_type = Nullable<Text>)]
    pub patient_id: Option<String>,
    /// The resource JSON, `meta.versionId` and `meta.lastUpdated` included.
    #[diesel(sql_type = Text)]
    pub body: String,
}

#[derive(QueryableByName)]
struct CountRow {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

#[derive(QueryableByName)]
struct TypeCountRow {
    #[diesel(sql_type = Text)]
    res_type: String,
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// Connection errors can echo the URL, password included: keep only what follows it.
fn redact_url_error(message: &str) -> String {
    if message.contains("password") {
        "authentication or connection failed (check the database URL and that the server is running)".into()
    } else {
        message.to_owned()
    }
}
