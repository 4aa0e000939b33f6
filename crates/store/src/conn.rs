//! One connection of either backend, with the few operations the store needs: run a statement
//! with positional binds, load rows. SQL is written once with `?` placeholders; PostgreSQL gets
//! them renumbered to `$n`.

use diesel::backend::Backend;
use diesel::pg::PgConnection;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::serialize::ToSql;
use diesel::sql_types::{BigInt, HasSqlType, Nullable, Text, Untyped};
use diesel::sqlite::SqliteConnection;
use diesel::{QueryResult, QueryableByName, RunQueryDsl};

/// A bind value.
#[derive(Debug, Clone, PartialEq)]
pub enum Bind {
    Text(String),
    OptText(Option<String>),
    Int(i64),
    OptInt(Option<i64>),
}

impl From<&str> for Bind {
    fn from(s: &str) -> Self {
        Bind::Text(s.to_owned())
    }
}
impl From<String> for Bind {
    fn from(s: String) -> Self {
        Bind::Text(s)
    }
}
impl From<i64> for Bind {
    fn from(n: i64) -> Self {
        Bind::Int(n)
    }
}
impl From<Option<String>> for Bind {
    fn from(s: Option<String>) -> Self {
        Bind::OptText(s)
    }
}

/// Rows per prepared multi-row INSERT on SQLite (a power of two; 128 rows of 10 columns is well
/// under SQLite's 32,766 bound variables).
const ROWS_PER_INSERT: usize = 128;

/// A borrowed connection of either backend.
pub enum Conn<'a> {
    Sqlite(&'a mut SqliteConnection),
    Pg(&'a mut PgConnection),
}

macro_rules! bind_all {
    ($backend:ty, $sql:expr, $binds:expr) => {{
        let mut query = diesel::sql_query($sql).into_boxed::<$backend>();
        for bind in $binds {
            query = match bind {
                Bind::Text(s) => query.bind::<Text, _>(s),
                Bind::OptText(s) => query.bind::<Nullable<Text>, _>(s),
                Bind::Int(n) => query.bind::<BigInt, _>(n),
                Bind::OptInt(n) => query.bind::<Nullable<BigInt>, _>(n),
            };
        }
        query
    }};
}

impl Conn<'_> {
    pub fn is_postgres(&self) -> bool {
        matches!(self, Conn::Pg(_))
    }

    /// Insert rows (`columns` binds each) into `table`: COPY on PostgreSQL, multi-row INSERTs
    /// on SQLite. Call it inside a transaction: on SQLite a failure leaves the rows of the
    /// statements before it (see `OR FAIL` below) until the transaction is rolled back.
    pub fn insert_rows(
        &mut self,
        table: crate::pg_copy::CopyTable,
        columns_sql: &str,
        columns: usize,
        binds: Vec<Bind>,
    ) -> QueryResult<()> {
        if let Conn::Pg(c) = self {
            crate::pg_copy::copy_rows(c, table, columns, &binds)?;
            return Ok(());
        }
        // Statements of a few fixed shapes (ROWS_PER_INSERT rows, then the remainder as
        // powers of two), kept prepared: parsing one multi-row INSERT per batch, of whatever
        // length the batch had, took a fifth of the writer's time.
        //
        // OR FAIL: a failing statement keeps the rows it inserted, so SQLite keeps no statement
        // journal (with the default ABORT each statement copied every page it touched into
        // one). The whole transaction is rolled back on any error anyway.
        let insert = |n: usize| {
            format!(
                "INSERT OR FAIL INTO {columns_sql} VALUES {}",
                values_list(n, columns)
            )
        };
        let mut rows = binds.len() / columns;
        let mut binds = binds.into_iter();
        let full = (rows >= ROWS_PER_INSERT).then(|| insert(ROWS_PER_INSERT));
        while rows > 0 {
            let tail;
            let (n, sql) = match &full {
                Some(full) if rows >= ROWS_PER_INSERT => (ROWS_PER_INSERT, full.as_str()),
                // The remainder, at most one statement per power of two.
                _ => {
                    let n = 1 << rows.ilog2();
                    tail = insert(n);
                    (n, tail.as_str())
                }
            };
            let chunk: Vec<Bind> = binds.by_ref().take(n * columns).collect();
            self.execute_prepared(sql, chunk)?;
            rows -= n;
        }
        Ok(())
    }

    /// Execute a statement; returns the number of rows affected.
    pub fn execute(&mut self, sql: &str, binds: Vec<Bind>) -> QueryResult<usize> {
        match self {
            Conn::Sqlite(c) => bind_all!(diesel::sqlite::Sqlite, sql, binds).execute(*c),
            Conn::Pg(c) => bind_all!(diesel::pg::Pg, pg_placeholders(sql), binds).execute(*c),
        }
    }

    /// Load rows.
    pub fn load<T>(&mut self, sql: &str, binds: Vec<Bind>) -> QueryResult<Vec<T>>
    where
        T: QueryableByName<diesel::sqlite::Sqlite> + QueryableByName<diesel::pg::Pg> + 'static,
    {
        match self {
            Conn::Sqlite(c) => bind_all!(diesel::sqlite::Sqlite, sql, binds).load(*c),
            Conn::Pg(c) => bind_all!(diesel::pg::Pg, pg_placeholders(sql), binds).load(*c),
        }
    }
}

/// Statements with more binds than this are not kept prepared: their shape (an `IN` list, a
/// long `OR` of values) varies with the request, and each kept statement holds server memory.
const MAX_PREPARED_BINDS: usize = 24;

impl Conn<'_> {
    /// Load rows with a statement the connection prepares once and keeps, keyed by its SQL.
    ///
    /// For the read paths (point reads, searches, counts), whose SQL has a handful of shapes:
    /// on PostgreSQL an uncached statement costs a parse, a plan and an extra round trip per
    /// request. Statements with many binds fall back to [`Conn::load`].
    pub fn load_prepared<T>(&mut self, sql: &str, binds: Vec<Bind>) -> QueryResult<Vec<T>>
    where
        T: QueryableByName<diesel::sqlite::Sqlite> + QueryableByName<diesel::pg::Pg> + 'static,
    {
        if binds.len() > MAX_PREPARED_BINDS {
            return self.load(sql, binds);
        }
        let query = PreparedSql { sql, binds };
        match self {
            Conn::Sqlite(c) => query.load(*c),
            Conn::Pg(c) => query.load(*c),
        }
    }
}

impl Conn<'_> {
    /// Execute a statement the connection prepares once and keeps. For statements of a fixed
    /// shape only (a fixed number of rows per INSERT): each shape stays in the cache.
    pub fn execute_prepared(&mut self, sql: &str, binds: Vec<Bind>) -> QueryResult<usize> {
        let query = PreparedSql { sql, binds };
        match self {
            Conn::Sqlite(c) => query.execute(*c),
            Conn::Pg(c) => query.execute(*c),
        }
    }
}

/// Raw SQL with `?` placeholders and its binds, as a query diesel may keep prepared: unlike
/// `sql_query`, it does not mark itself unsafe to cache, so diesel's per-connection statement
/// cache keys it by its SQL text.
struct PreparedSql<'a> {
    sql: &'a str,
    binds: Vec<Bind>,
}

impl QueryId for PreparedSql<'_> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl Query for PreparedSql<'_> {
    type SqlType = Untyped;
}

impl<C> RunQueryDsl<C> for PreparedSql<'_> {}

impl<DB> QueryFragment<DB> for PreparedSql<'_>
where
    DB: Backend + HasSqlType<Text> + HasSqlType<BigInt>,
    String: ToSql<Text, DB>,
    Option<String>: ToSql<Nullable<Text>, DB>,
    i64: ToSql<BigInt, DB>,
    Option<i64>: ToSql<Nullable<BigInt>, DB>,
{
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        let mut pieces = self.sql.split('?');
        out.push_sql(pieces.next().unwrap_or_default());
        let mut binds = self.binds.iter();
        for piece in pieces {
            match binds.next() {
                Some(Bind::Text(s)) => out.push_bind_param::<Text, _>(s)?,
                Some(Bind::OptText(s)) => out.push_bind_param::<Nullable<Text>, _>(s)?,
                Some(Bind::Int(n)) => out.push_bind_param::<BigInt, _>(n)?,
                Some(Bind::OptInt(n)) => out.push_bind_param::<Nullable<BigInt>, _>(n)?,
                None => {
                    return Err(diesel::result::Error::QueryBuilderError(
                        "more placeholders than binds".into(),
                    ))
                }
            }
            out.push_sql(piece);
        }
        if binds.next().is_some() {
            return Err(diesel::result::Error::QueryBuilderError(
                "more binds than placeholders".into(),
            ));
        }
        Ok(())
    }
}

/// `?` → `$1`, `$2`, … (the SQL Salus writes has no `?` inside literals).
pub fn pg_placeholders(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 16);
    let mut n = 0;
    for c in sql.chars() {
        if c == '?' {
            n += 1;
            out.push('$');
            out.push_str(&n.to_string());
        } else {
            out.push(c);
        }
    }
    out
}

/// `(?, ?, ?), (?, ?, ?)`: the VALUES list of a multi-row insert.
pub fn values_list(rows: usize, columns: usize) -> String {
    let row = format!("({})", vec!["?"; columns].join(", "));
    let mut out = String::with_capacity(rows * (row.len() + 2));
    for i in 0..rows {
        if i > 0 {
            out.push_str(", ");
        }
        out.push_str(&row);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_inserts_every_row_whatever_the_count() {
        use diesel::Connection;
        #[derive(QueryableByName)]
        struct Totals {
            #[diesel(sql_type = BigInt)]
            n: i64,
            #[diesel(sql_type = BigInt)]
            sum: i64,
        }
        let mut c = SqliteConnection::establish(":memory:").unwrap();
        // Counts around the fixed statement shapes: none, one, powers of two, full statements
        // and the remainders between them.
        for rows in [0usize, 1, 2, 3, 127, 128, 129, 255, 300, 1000] {
            diesel::RunQueryDsl::execute(diesel::sql_query("DROP TABLE IF EXISTS t"), &mut c)
                .unwrap();
            diesel::RunQueryDsl::execute(
                diesel::sql_query("CREATE TABLE t (a INTEGER, b TEXT)"),
                &mut c,
            )
            .unwrap();
            let binds: Vec<Bind> = (0..rows as i64)
                .flat_map(|i| [Bind::Int(i), Bind::Text(format!("row {i}"))])
                .collect();
            let mut conn = Conn::Sqlite(&mut c);
            conn.insert_rows(
                crate::pg_copy::CopyTable::SearchString,
                "t (a, b)",
                2,
                binds,
            )
            .unwrap();
            let totals: Vec<Totals> = conn
                .load(
                    "SELECT COUNT(*) AS n, COALESCE(SUM(a), 0) AS sum FROM t WHERE b = 'row ' || a",
                    vec![],
                )
                .unwrap();
            let n = rows as i64;
            assert_eq!(
                (totals[0].n, totals[0].sum),
                (n, n * (n - 1) / 2),
                "{rows} rows"
            );
        }
    }

    #[test]
    fn renumbers_placeholders() {
        assert_eq!(
            pg_placeholders("a = ? AND b IN (?, ?)"),
            "a = $1 AND b IN ($2, $3)"
        );
        assert_eq!(values_list(2, 2), "(?, ?), (?, ?)");
    }
}
