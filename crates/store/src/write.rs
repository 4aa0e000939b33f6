//! Writing resources: versioning, "unchanged" detection, index rows, in one transaction.

use std::collections::HashMap;

use diesel::sql_types::{BigInt, Text};
use diesel::QueryableByName;
use salus_fhir::date::format_instant;
use salus_fhir::PreparedResource;
use salus_ingest::WriteOutcome;

use crate::conn::{Bind, Conn};
use crate::pg_copy::CopyTable;
use crate::{Result, Store};

/// One resource to write.
#[derive(Debug, Clone)]
pub struct WriteRequest {
    pub resource: PreparedResource,
    /// Where it came from (`file line 12`, `HTTP PUT`), kept with the version.
    pub source: Option<String>,
    /// Write only if the current version is this one (HTTP `If-Match`); `Some(0)` means "only
    /// if the resource does not exist yet".
    pub if_match: Option<i64>,
    /// Write only if the resource does not exist yet; an existing one is left as it is and
    /// reported `unchanged` (an HL7 v2 result's PID must not overwrite what the admission feed
    /// said about the patient).
    pub create_only: bool,
}

/// What was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    pub resource_type: String,
    pub id: String,
    pub version_id: i64,
    /// Microseconds since the Unix epoch.
    pub last_updated: i64,
    pub outcome: WriteOutcome,
    /// The stored JSON. `None` when unchanged (the stored version is as it was).
    pub body: Option<String>,
}

/// A write refused for a reason the caller can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WriteError {
    #[error("version conflict on {resource_type}/{id}: expected version {expected}, current is {current}")]
    VersionConflict {
        resource_type: String,
        id: String,
        expected: i64,
        current: i64,
    },
}

#[derive(QueryableByName)]
struct CurrentRow {
    #[diesel(sql_type = Text)]
    res_type: String,
    #[diesel(sql_type = Text)]
    res_id: String,
    #[diesel(sql_type = BigInt)]
    version_id: i64,
    #[diesel(sql_type = Text)]
    content_hash: String,
}

#[derive(QueryableByName)]
struct PkRow {
    #[diesel(sql_type = BigInt)]
    pk: i64,
}

/// Ids per `IN (…)` lookup of current versions.
const IDS_PER_LOOKUP: usize = 500;

struct NewRow {
    pk: i64,
    request: usize,
    version_id: i64,
    is_current: bool,
    body: String,
}

impl Store {
    /// Write resources in one transaction; the result lists what happened to each, in order.
    /// `now` (microseconds since the epoch) becomes `meta.lastUpdated` of every new version.
    pub fn write(&self, requests: Vec<WriteRequest>, now: i64) -> Result<Vec<Written>> {
        self.write_batch(requests, now, true)
    }

    /// As [`Store::write`]; with `return_bodies` false, `Written::body` is `None` (bulk ingest
    /// has no use for it and is spared a copy of every resource).
    pub fn write_batch(
        &self,
        requests: Vec<WriteRequest>,
        now: i64,
        return_bodies: bool,
    ) -> Result<Vec<Written>> {
        if requests.is_empty() {
            return Ok(Vec::new());
        }
        self.transaction(|conn| write_in(conn, &requests, now, return_bodies))
    }
}

/// Write inside an open transaction.
pub(crate) fn write_in(
    conn: &mut Conn<'_>,
    requests: &[WriteRequest],
    now: i64,
    return_bodies: bool,
) -> Result<Vec<Written>> {
    let now_text = format_instant(now);
    // (type, id) → (current version, content hash), from the database then this batch.
    let mut current = load_current(conn, requests)?;
    let mut retire: Vec<(String, String)> = Vec::new();
    let mut rows: Vec<NewRow> = Vec::new();
    let mut row_of_key: HashMap<(String, String), usize> = HashMap::new();
    let mut written = Vec::with_capacity(requests.len());
    let mut next_pk = reserve_pks(conn, requests.len())?;

    for (i, request) in requests.iter().enumerate() {
        let r = &request.resource;
        let key = (r.resource_type.clone(), r.id.clone());
        let hash = hex::encode(r.content_hash);
        let existing = current.get(&key).cloned();
        if let Some(expected) = request.if_match {
            let actual = existing.as_ref().map_or(0, |(v, _)| *v);
            if actual != expected {
                return Err(WriteError::VersionConflict {
                    resource_type: r.resource_type.clone(),
                    id: r.id.clone(),
                    expected,
                    current: actual,
                }
                .into());
            }
        }
        let (version_id, outcome) = match &existing {
            Some((version, old_hash)) if *old_hash == hash || request.create_only => {
                written.push(Written {
                    resource_type: r.resource_type.clone(),
                    id: r.id.clone(),
                    version_id: *version,
                    last_updated: now,
                    outcome: WriteOutcome::Unchanged,
                    body: None,
                });
                continue;
            }
            Some((version, _)) => (version + 1, WriteOutcome::Updated),
            None => (1, WriteOutcome::Created),
        };
        if existing.is_some() {
            match row_of_key.get(&key) {
                // The version being replaced was written earlier in this batch.
                Some(&row) => rows[row].is_current = false,
                None => retire.push(key.clone()),
            }
        }
        let body = r.stored.render(version_id, &now_text);
        row_of_key.insert(key.clone(), rows.len());
        let returned = return_bodies.then(|| body.clone());
        rows.push(NewRow {
            pk: next_pk,
            request: i,
            version_id,
            is_current: true,
            body,
        });
        next_pk += 1;
        current.insert(key, (version_id, hash));
        written.push(Written {
            resource_type: r.resource_type.clone(),
            id: r.id.clone(),
            version_id,
            last_updated: now,
            outcome,
            body: returned,
        });
    }

    for (resource_type, id) in &retire {
        conn.execute(
            "UPDATE resource_versions SET is_current = 0 WHERE res_type = ? AND res_id = ? AND is_current = 1",
            vec![resource_type.as_str().into(), id.as_str().into()],
        )?;
    }
    insert_index_rows(conn, requests, &rows)?;
    insert_versions(conn, requests, rows, now)?;
    Ok(written)
}

fn load_current(
    conn: &mut Conn<'_>,
    requests: &[WriteRequest],
) -> Result<HashMap<(String, String), (i64, String)>> {
    let mut by_type: HashMap<&str, Vec<&str>> = HashMap::new();
    for r in requests {
        by_type
            .entry(r.resource.resource_type.as_str())
            .or_default()
            .push(r.resource.id.as_str());
    }
    let mut current = HashMap::new();
    for (resource_type, ids) in by_type {
        for chunk in ids.chunks(IDS_PER_LOOKUP) {
            let sql = format!(
                "SELECT res_type, res_id, version_id, content_hash FROM resource_versions \
                 WHERE res_type = ? AND is_current = 1 AND res_id IN ({})",
                vec!["?"; chunk.len()].join(", ")
            );
            let mut binds: Vec<Bind> = vec![resource_type.into()];
            binds.extend(chunk.iter().map(|id| Bind::from(*id)));
            let rows: Vec<CurrentRow> = conn.load(&sql, binds)?;
            for row in rows {
                current.insert(
                    (row.res_type, row.res_id),
                    (row.version_id, row.content_hash),
                );
            }
        }
    }
    Ok(current)
}

/// The first of `n` consecutive primary keys reserved for this transaction.
fn reserve_pks(conn: &mut Conn<'_>, n: usize) -> Result<i64> {
    if conn.is_postgres() {
        // Sequences are never rolled back, so concurrent writers never collide.
        let rows: Vec<PkRow> = conn.load(
            "SELECT nextval('resource_versions_pk_seq') AS pk FROM generate_series(1, ?)",
            vec![Bind::Int(n as i64)],
        )?;
        let first = rows.iter().map(|r| r.pk).min().unwrap_or(1);
        let last = rows.iter().map(|r| r.pk).max().unwrap_or(first);
        if last - first + 1 == n as i64 {
            return Ok(first);
        }
        // Another writer interleaved: take a fresh contiguous block past both.
        let rows: Vec<PkRow> = conn.load(
            "SELECT setval('resource_versions_pk_seq', nextval('resource_versions_pk_seq') + ?) AS pk",
            vec![Bind::Int(n as i64)],
        )?;
        Ok(rows[0].pk - n as i64 + 1)
    } else {
        // An IMMEDIATE transaction holds SQLite's write lock: no one else can insert meanwhile.
        let rows: Vec<PkRow> = conn.load(
            "SELECT COALESCE(MAX(pk), 0) + 1 AS pk FROM resource_versions",
            vec![],
        )?;
        Ok(rows[0].pk)
    }
}

fn insert_versions(
    conn: &mut Conn<'_>,
    requests: &[WriteRequest],
    rows: Vec<NewRow>,
    now: i64,
) -> Result<()> {
    let mut binds = Vec::with_capacity(rows.len() * 10);
    for row in rows {
        let request = &requests[row.request];
        let r = &request.resource;
        binds.push(Bind::Int(row.pk));
        binds.push(r.resource_type.as_str().into());
        binds.push(r.id.as_str().into());
        binds.push(Bind::Int(row.version_id));
        binds.push(Bind::Int(i64::from(row.is_current)));
        binds.push(Bind::Int(now));
        binds.push(hex::encode(r.content_hash).into());
        binds.push(Bind::OptText(r.patient.clone()));
        binds.push(Bind::OptText(request.source.clone()));
        binds.push(Bind::Text(row.body));
    }
    conn.insert_rows(
        CopyTable::ResourceVersions,
        "resource_versions (pk, res_type, res_id, version_id, is_current, last_updated, content_hash, patient_id, source, body)",
        10,
        binds,
    )?;
    Ok(())
}

fn insert_index_rows(
    conn: &mut Conn<'_>,
    requests: &[WriteRequest],
    rows: &[NewRow],
) -> Result<()> {
    let mut tokens: Vec<Bind> = Vec::new();
    let mut dates: Vec<Bind> = Vec::new();
    let mut strings: Vec<Bind> = Vec::new();
    for row in rows {
        let r = &requests[row.request].resource;
        for t in &r.index.tokens {
            tokens.extend([
                Bind::Int(row.pk),
                r.resource_type.as_str().into(),
                t.param.into(),
                Bind::OptText(t.system.clone()),
                t.code.as_str().into(),
            ]);
        }
        for d in &r.index.dates {
            dates.extend([
                Bind::Int(row.pk),
                r.resource_type.as_str().into(),
                d.param.into(),
                Bind::Int(d.range.lo),
                Bind::Int(d.range.hi),
            ]);
        }
        for s in &r.index.strings {
            strings.extend([
                Bind::Int(row.pk),
                r.resource_type.as_str().into(),
                s.param.into(),
                s.value.as_str().into(),
            ]);
        }
    }
    conn.insert_rows(
        CopyTable::SearchToken,
        "search_token (pk, res_type, param, system, code)",
        5,
        tokens,
    )?;
    conn.insert_rows(
        CopyTable::SearchDate,
        "search_date (pk, res_type, param, lo, hi)",
        5,
        dates,
    )?;
    conn.insert_rows(
        CopyTable::SearchString,
        "search_string (pk, res_type, param, value)",
        4,
        strings,
    )?;
    Ok(())
}
