//! Throw-away databases for tests, on every backend the environment offers.
//!
//! SQLite is always available. PostgreSQL is used when `SALUS_TEST_POSTGRES_URL` names a
//! server; each test database is then a schema of its own (selected through the connection's
//! `search_path`), so that concurrent test runs never collide. Without the variable the
//! PostgreSQL half is skipped with a printed reason.

use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use diesel::Connection;

use crate::Backend;

/// The environment variable naming the PostgreSQL server for tests.
pub const POSTGRES_ENV: &str = "SALUS_TEST_POSTGRES_URL";

/// A database that is removed when dropped.
pub struct TestDb {
    pub url: String,
    pub backend: Backend,
    cleanup: Cleanup,
}

enum Cleanup {
    Files(std::path::PathBuf),
    Schema { server: String, schema: String },
}

impl Drop for TestDb {
    fn drop(&mut self) {
        match &self.cleanup {
            Cleanup::Files(dir) => {
                let _ = std::fs::remove_dir_all(dir);
            }
            Cleanup::Schema { server, schema } => {
                if let Ok(mut c) = PgConnection::establish(server) {
                    let _ = c.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"));
                }
            }
        }
    }
}

fn unique_name() -> String {
    format!("salus_t_{}", uuid::Uuid::new_v4().simple())
}

/// A fresh, empty SQLite database in a temporary directory.
pub fn sqlite() -> TestDb {
    let dir = std::env::temp_dir().join(unique_name());
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    TestDb {
        url: format!("sqlite://{}", dir.join("salus.db").display()),
        backend: Backend::Sqlite,
        cleanup: Cleanup::Files(dir),
    }
}

/// A fresh, empty PostgreSQL schema, or `None` (with the reason printed) when no server is
/// configured.
pub fn postgres() -> Option<TestDb> {
    let Ok(server) = std::env::var(POSTGRES_ENV) else {
        eprintln!("skipping the PostgreSQL half of this test: {POSTGRES_ENV} is not set (.ci/run sets it)");
        return None;
    };
    let schema = unique_name();
    let mut conn = PgConnection::establish(&server)
        .unwrap_or_else(|e| panic!("{POSTGRES_ENV} is set but the server is unreachable: {e}"));
    conn.batch_execute(&format!("CREATE SCHEMA {schema}"))
        .expect("create a test schema");
    let separator = if server.contains('?') { '&' } else { '?' };
    Some(TestDb {
        url: format!("{server}{separator}options=-csearch_path%3D{schema}"),
        backend: Backend::Postgres,
        cleanup: Cleanup::Schema { server, schema },
    })
}

/// Every backend available here: SQLite, and PostgreSQL when configured.
pub fn all() -> Vec<TestDb> {
    let mut dbs = vec![sqlite()];
    dbs.extend(postgres());
    dbs
}
