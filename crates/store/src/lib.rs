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

mod conn;
mod pg_copy;
mod pg_schema;
mod read;
mod search;
mod sink;
pub mod testing;
mod write;

use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use diesel::r2d2::{ConnectionManager, CustomizeConnection, Pool, PooledConnection};
use diesel::sql_types::{BigInt, Nullable, Text};
use diesel::sqlite::SqliteConnection;
use diesel::{Connection, QueryableByName};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

pub use conn::{Bind, Conn};
pub use search::{ScanFilter, SearchHit, SearchPage};
pub use sink::{Clock, StoreSink};
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
    #[error(transparent)]
    Write(#[from] WriteError),
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

#[derive(Clone)]
enum Pools {
    Sqlite(Pool<ConnectionManager<SqliteConnection>>),
    Pg(Pool<ConnectionManager<PgConnection>>),
}

/// A handle to the store: cheap to clone, safe to share between threads.
#[derive(Clone)]
pub struct Store {
    pools: Pools,
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
    /// default pool size.
    pub fn open(url: &str) -> Result<Store> {
        Self::open_with_pool_size(url, default_pool_size())
    }

    pub fn open_with_pool_size(url: &str, pool_size: u32) -> Result<Store> {
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
            let pool = pool_builder(pool_size)
                .connection_customizer(Box::new(SqlitePragmas))
                .build(ConnectionManager::new(path))
                .map_err(|e| StoreError::Connect(e.to_string()))?;
            Store {
                pools: Pools::Sqlite(pool),
            }
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let mut conn = PgConnection::establish(url)
                .map_err(|e| StoreError::Connect(redact_url_error(&e.to_string())))?;
            conn.run_pending_migrations(POSTGRES_MIGRATIONS)
                .map_err(|e| StoreError::Migration(e.to_string()))?;
            let pool = pool_builder(pool_size)
                .build(ConnectionManager::new(url))
                .map_err(|e| StoreError::Connect(e.to_string()))?;
            Store {
                pools: Pools::Pg(pool),
            }
        } else {
            let scheme = url.split_once("://").map_or("(none)", |(scheme, _)| scheme);
            return Err(StoreError::BadUrl(scheme.to_owned()));
        };
        Ok(store)
    }

    pub fn backend(&self) -> Backend {
        match self.pools {
            Pools::Sqlite(_) => Backend::Sqlite,
            Pools::Pg(_) => Backend::Postgres,
        }
    }

    /// A connection from the pool.
    pub fn connection(&self) -> Result<Pooled> {
        Ok(match &self.pools {
            Pools::Sqlite(p) => {
                Pooled::Sqlite(p.get().map_err(|e| StoreError::Pool(e.to_string()))?)
            }
            Pools::Pg(p) => Pooled::Pg(p.get().map_err(|e| StoreError::Pool(e.to_string()))?),
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
        read::read(&mut self.connection()?, resource_type, id, None)
    }

    /// One version of a resource.
    pub fn read_version(
        &self,
        resource_type: &str,
        id: &str,
        version: i64,
    ) -> Result<Option<StoredResource>> {
        read::read(&mut self.connection()?, resource_type, id, Some(version))
    }

    /// The number of current resources of a type (all types with `None`).
    pub fn count(&self, resource_type: Option<&str>) -> Result<i64> {
        let mut pooled = self.connection()?;
        let rows: Vec<CountRow> = match resource_type {
            Some(t) => pooled.conn().load(
                "SELECT COUNT(*) AS n FROM resource_versions WHERE is_current = 1 AND res_type = ?",
                vec![t.into()],
            )?,
            None => pooled.conn().load(
                "SELECT COUNT(*) AS n FROM resource_versions WHERE is_current = 1",
                vec![],
            )?,
        };
        Ok(rows.first().map_or(0, |r| r.n))
    }

    /// The resource types that have current resources, with their counts.
    pub fn type_counts(&self) -> Result<Vec<(String, i64)>> {
        let mut pooled = self.connection()?;
        let rows: Vec<TypeCountRow> = pooled.conn().load(
            "SELECT res_type, COUNT(*) AS n FROM resource_versions WHERE is_current = 1 GROUP BY res_type ORDER BY res_type",
            vec![],
        )?;
        Ok(rows.into_iter().map(|r| (r.res_type, r.n)).collect())
    }

    /// Refresh the query planner's statistics; worth it after a bulk load, which otherwise leaves
    /// PostgreSQL planning as if the tables were empty.
    pub fn analyze(&self) -> Result<()> {
        let mut pooled = self.connection()?;
        let sql = match self.backend() {
            Backend::Postgres => {
                "ANALYZE resource_versions, search_token, search_date, search_string"
            }
            Backend::Sqlite => "PRAGMA optimize",
        };
        pooled.conn().execute(sql, vec![])?;
        Ok(())
    }

    /// Is the database reachable? (for `/healthz`)
    pub fn ping(&self) -> Result<()> {
        let mut pooled = self.connection()?;
        let _: Vec<CountRow> = pooled.conn().load("SELECT 1 AS n", vec![])?;
        Ok(())
    }
}

/// Pool settings shared by both backends.
fn pool_builder<M: diesel::r2d2::ManageConnection>(size: u32) -> diesel::r2d2::Builder<M> {
    Pool::builder()
        .max_size(size)
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
