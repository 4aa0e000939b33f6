//! Search: a parsed `SearchQuery` turned into SQL over the index tables, paged by primary key.

use diesel::sql_types::{BigInt, Text};
use diesel::QueryableByName;
use salus_fhir::date::DateRange;
use salus_fhir::search::{Clause, Prefix, SearchQuery, StringMatch, SystemMatch};

use crate::conn::{Bind, Conn};
use crate::{Pooled, Result, Store};

/// One page of search results.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchPage {
    /// The matching resources, in storage order.
    pub resources: Vec<SearchHit>,
    /// The cursor of the next page, when there is one.
    pub next_cursor: Option<i64>,
}

/// One matching resource: its id (for `fullUrl`, without parsing the body) and its JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchHit {
    pub id: String,
    pub body: String,
}

#[derive(QueryableByName)]
struct HitRow {
    #[diesel(sql_type = BigInt)]
    pk: i64,
    #[diesel(sql_type = Text)]
    res_id: String,
    #[diesel(sql_type = Text)]
    body: String,
}

#[derive(QueryableByName)]
struct KeyRow {
    #[diesel(sql_type = BigInt)]
    pk: i64,
    #[diesel(sql_type = Text)]
    res_id: String,
}

/// Options for iterating over every current resource (export).
#[derive(Debug, Clone, Default)]
pub struct ScanFilter {
    pub resource_type: Option<String>,
    pub patient: Option<String>,
    /// Only resources updated at or after this instant (microseconds since the epoch).
    pub since: Option<i64>,
}

impl Store {
    /// Run a search.
    pub fn search(&self, query: &SearchQuery) -> Result<SearchPage> {
        let (mut sql, mut binds) = where_clause(query);
        if let Some(cursor) = query.cursor {
            sql.push_str(" AND pk > ?");
            binds.push(Bind::Int(cursor));
        }
        sql.push_str(" ORDER BY pk LIMIT ?");
        binds.push(Bind::Int(query.count as i64 + 1));
        let mut pooled = self.reader()?;
        let mut rows: Vec<HitRow> = match &mut pooled {
            // SQLite hands the page's bodies out as stored.
            Pooled::Sqlite(c) => Conn::Sqlite(c).load_prepared(
                &format!("SELECT pk, res_id, body FROM resource_versions WHERE {sql}"),
                binds,
            )?,
            // PostgreSQL: the page's keys from the indexes alone, then the bodies (from the body
            // cache or by key). Selecting bodies in the search made it fetch, sort and turn from
            // JSONB into text every match of a large patient (Observation?patient: 643 to
            // over 3,500 searches/s before the cache).
            Pooled::Pg(c) => {
                let keys: Vec<KeyRow> = Conn::Pg(c).load_prepared(
                    &format!("SELECT pk, res_id FROM resource_versions WHERE {sql}"),
                    binds,
                )?;
                let pks: Vec<i64> = keys.iter().map(|k| k.pk).collect();
                let bodies = crate::read::pg_bodies(self, c, &pks)?;
                keys.into_iter()
                    .zip(bodies)
                    .map(|(k, body)| HitRow {
                        pk: k.pk,
                        res_id: k.res_id,
                        body: body.to_string(),
                    })
                    .collect()
            }
        };
        let next_cursor = if rows.len() > query.count {
            rows.truncate(query.count);
            rows.last().map(|r| r.pk)
        } else {
            None
        };
        Ok(SearchPage {
            resources: rows
                .into_iter()
                .map(|r| SearchHit {
                    id: r.res_id,
                    body: r.body,
                })
                .collect(),
            next_cursor,
        })
    }

    /// The number of resources a search matches (all pages).
    pub fn search_count(&self, query: &SearchQuery) -> Result<i64> {
        #[derive(QueryableByName)]
        struct N {
            #[diesel(sql_type = BigInt)]
            n: i64,
        }
        let (sql, binds) = where_clause(query);
        let mut pooled = self.reader()?;
        let rows: Vec<N> = pooled.conn().load_prepared(
            &format!("SELECT COUNT(*) AS n FROM resource_versions WHERE {sql}"),
            binds,
        )?;
        Ok(rows.first().map_or(0, |r| r.n))
    }

    /// Visit every current resource matching `filter`, in storage order, a page at a time (so
    /// memory stays bounded whatever the store's size). `visit` gets the type and the JSON.
    pub fn scan(
        &self,
        filter: &ScanFilter,
        visit: &mut dyn FnMut(&str, &str) -> std::io::Result<()>,
    ) -> Result<u64> {
        #[derive(QueryableByName)]
        struct Row {
            #[diesel(sql_type = BigInt)]
            pk: i64,
            #[diesel(sql_type = Text)]
            res_type: String,
            #[diesel(sql_type = Text)]
            body: String,
        }
        let mut cursor = 0i64;
        let mut total = 0u64;
        loop {
            let mut sql = String::from(
                "SELECT pk, res_type, CAST(body AS TEXT) AS body FROM resource_versions WHERE is_current = 1 AND pk > ?",
            );
            let mut binds = vec![Bind::Int(cursor)];
            if let Some(t) = &filter.resource_type {
                sql.push_str(" AND res_type = ?");
                binds.push(t.as_str().into());
            }
            if let Some(p) = &filter.patient {
                sql.push_str(" AND (patient_id = ? OR (res_type = 'Patient' AND res_id = ?))");
                binds.push(p.as_str().into());
                binds.push(p.as_str().into());
            }
            if let Some(since) = filter.since {
                sql.push_str(" AND last_updated >= ?");
                binds.push(Bind::Int(since));
            }
            sql.push_str(" ORDER BY pk LIMIT 1000");
            let rows: Vec<Row> = {
                let mut pooled = self.reader()?;
                pooled.conn().load(&sql, binds)?
            };
            let Some(last) = rows.last() else { break };
            cursor = last.pk;
            for row in &rows {
                visit(&row.res_type, &row.body)
                    .map_err(|e| crate::StoreError::Pool(format!("writing the export: {e}")))?;
                total += 1;
            }
        }
        Ok(total)
    }
}

impl Store {
    /// The current resources of `types` in a patient's compartment, and the Patient itself when
    /// `types` names it: what a summary is built from. Reads the patient index (one range per
    /// type); on PostgreSQL the bodies come from the body cache where it has them.
    pub fn patient_resources(&self, patient_id: &str, types: &[&str]) -> Result<Vec<String>> {
        let mut sql = format!(
            "SELECT pk, res_id, {{body}} FROM resource_versions WHERE is_current = 1 AND patient_id = ? AND res_type IN ({})",
            placeholders(types.len())
        );
        let mut binds: Vec<Bind> = vec![patient_id.into()];
        binds.extend(types.iter().map(|t| Bind::from(*t)));
        if types.contains(&"Patient") {
            sql.push_str(
                " UNION ALL SELECT pk, res_id, {body} FROM resource_versions WHERE is_current = 1 AND res_type = 'Patient' AND res_id = ?",
            );
            binds.push(patient_id.into());
        }
        let mut pooled = self.reader()?;
        match &mut pooled {
            Pooled::Sqlite(c) => {
                let rows: Vec<HitRow> =
                    Conn::Sqlite(c).load_prepared(&sql.replace("{body}", "body"), binds)?;
                Ok(rows.into_iter().map(|r| r.body).collect())
            }
            Pooled::Pg(c) => {
                let keys: Vec<KeyRow> =
                    Conn::Pg(c).load_prepared(&sql.replace(", {body}", ""), binds)?;
                let pks: Vec<i64> = keys.iter().map(|k| k.pk).collect();
                let bodies = crate::read::pg_bodies(self, c, &pks)?;
                Ok(bodies.into_iter().map(|b| b.to_string()).collect())
            }
        }
    }
}

/// The WHERE clause (without `WHERE`) for a query, and its binds.
fn where_clause(query: &SearchQuery) -> (String, Vec<Bind>) {
    let mut sql = String::from("res_type = ? AND is_current = 1");
    let mut binds: Vec<Bind> = vec![query.resource_type.as_str().into()];
    for clause in &query.clauses {
        sql.push_str(" AND ");
        match clause {
            Clause::Id(ids) => {
                sql.push_str(&format!("res_id IN ({})", placeholders(ids.len())));
                binds.extend(ids.iter().map(|i| Bind::from(i.as_str())));
            }
            Clause::Patient(ids) => {
                sql.push_str(&format!("patient_id IN ({})", placeholders(ids.len())));
                binds.extend(ids.iter().map(|i| Bind::from(i.as_str())));
            }
            Clause::LastUpdated(prefix, range) => {
                // lastUpdated is an instant: the range of one microsecond.
                let (cond, cond_binds) =
                    date_condition("last_updated", "(last_updated + 1)", *prefix, *range);
                sql.push('(');
                sql.push_str(&cond);
                sql.push(')');
                binds.extend(cond_binds);
            }
            Clause::Token { param, values } => {
                open_index_clause(
                    &mut sql,
                    &mut binds,
                    "search_token",
                    &query.resource_type,
                    param,
                );
                for (i, v) in values.iter().enumerate() {
                    if i > 0 {
                        sql.push_str(" OR ");
                    }
                    let mut parts = Vec::new();
                    if let Some(code) = &v.code {
                        parts.push("code = ?");
                        binds.push(code.as_str().into());
                    }
                    match &v.system {
                        SystemMatch::Any => {}
                        SystemMatch::NoSystem => parts.push("system IS NULL"),
                        SystemMatch::Is(system) => {
                            parts.push("system = ?");
                            binds.push(system.as_str().into());
                        }
                    }
                    sql.push('(');
                    sql.push_str(&parts.join(" AND "));
                    sql.push(')');
                }
                sql.push_str("))");
            }
            Clause::Date {
                param,
                prefix,
                range,
            } => {
                let (cond, cond_binds) = date_condition("lo", "hi", *prefix, *range);
                open_index_clause(
                    &mut sql,
                    &mut binds,
                    "search_date",
                    &query.resource_type,
                    param,
                );
                sql.push_str(&cond);
                sql.push_str("))");
                binds.extend(cond_binds);
            }
            Clause::String {
                param,
                mode,
                values,
            } => {
                open_index_clause(
                    &mut sql,
                    &mut binds,
                    "search_string",
                    &query.resource_type,
                    param,
                );
                for (i, v) in values.iter().enumerate() {
                    if i > 0 {
                        sql.push_str(" OR ");
                    }
                    match mode {
                        StringMatch::Prefix => {
                            // A range scan, which both databases serve from the index.
                            sql.push_str("(value >= ? AND value < ?)");
                            binds.push(v.as_str().into());
                            binds.push(format!("{v}\u{10FFFF}").into());
                        }
                        StringMatch::Exact => {
                            sql.push_str("value = ?");
                            binds.push(v.as_str().into());
                        }
                        StringMatch::Contains => {
                            sql.push_str("value LIKE ? ESCAPE '\\'");
                            let escaped = v
                                .replace('\\', "\\\\")
                                .replace('%', "\\%")
                                .replace('_', "\\_");
                            binds.push(format!("%{escaped}%").into());
                        }
                    }
                }
                sql.push_str("))");
            }
        }
    }
    (sql, binds)
}

/// Open a clause over one index table (`pk IN (SELECT pk FROM <table> WHERE res_type = ? AND
/// param = ? AND (`) with its two binds; the caller adds the conditions and closes with `))`.
fn open_index_clause(
    sql: &mut String,
    binds: &mut Vec<Bind>,
    table: &str,
    resource_type: &str,
    param: &str,
) {
    sql.push_str(&format!(
        "pk IN (SELECT pk FROM {table} WHERE res_type = ? AND param = ? AND ("
    ));
    binds.push(resource_type.into());
    binds.push(param.into());
}

fn placeholders(n: usize) -> String {
    vec!["?"; n.max(1)].join(", ")
}

/// The FHIR prefix semantics over half-open ranges: the resource's `[lo, hi)` (columns) against
/// the parameter's `[p.lo, p.hi)`.
fn date_condition(lo: &str, hi: &str, prefix: Prefix, p: DateRange) -> (String, Vec<Bind>) {
    let contained = format!("({lo} >= ? AND {hi} <= ?)");
    let b = |v: i64| Bind::Int(v);
    match prefix {
        Prefix::Eq => (contained, vec![b(p.lo), b(p.hi)]),
        Prefix::Ne => (format!("NOT {contained}"), vec![b(p.lo), b(p.hi)]),
        Prefix::Gt => (format!("{hi} > ?"), vec![b(p.hi)]),
        Prefix::Lt => (format!("{lo} < ?"), vec![b(p.lo)]),
        Prefix::Ge => (
            format!("({hi} > ? OR {contained})"),
            vec![b(p.hi), b(p.lo), b(p.hi)],
        ),
        Prefix::Le => (
            format!("({lo} < ? OR {contained})"),
            vec![b(p.lo), b(p.lo), b(p.hi)],
        ),
        Prefix::Sa => (format!("{lo} >= ?"), vec![b(p.hi)]),
        Prefix::Eb => (format!("{hi} <= ?"), vec![b(p.lo)]),
        Prefix::Ap => (format!("({lo} < ? AND {hi} > ?)"), vec![b(p.hi), b(p.lo)]),
    }
}
