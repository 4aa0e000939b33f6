//! Point reads, the hottest path of the server. On PostgreSQL they go through diesel's query
//! builder so that each connection prepares the statement once: a parse and plan per request
//! cost more than the lookup itself (reads/s went from 3,800 to 5,500).

use diesel::prelude::*;

use crate::{Bind, Conn, Pooled, Result, StoredResource};

/// The current version (`version: None`) or one version of a resource.
pub(crate) fn read(
    pooled: &mut Pooled,
    resource_type: &str,
    id: &str,
    version: Option<i64>,
) -> Result<Option<StoredResource>> {
    match pooled {
        Pooled::Sqlite(c) => {
            // Measured: on SQLite the plain statement serves ~30% more reads than the
            // query-builder one (its parse is cheap; the builder's row handling is not).
            let (condition, extra) = match version {
                None => ("is_current = 1", None),
                Some(v) => ("version_id = ?", Some(Bind::Int(v))),
            };
            let sql = format!(
                "SELECT res_type, res_id, version_id, last_updated, patient_id, body FROM resource_versions \
                 WHERE res_type = ? AND res_id = ? AND {condition}"
            );
            let mut binds = vec![Bind::from(resource_type), Bind::from(id)];
            binds.extend(extra);
            let mut rows: Vec<StoredResource> = Conn::Sqlite(c).load(&sql, binds)?;
            Ok(rows.pop())
        }
        Pooled::Pg(c) => {
            use crate::pg_schema::resource_versions::dsl as rv;
            type Row = (String, String, i64, i64, Option<String>, Vec<u8>);
            let base = rv::resource_versions
                .filter(rv::res_type.eq(resource_type))
                .filter(rv::res_id.eq(id))
                .select((
                    rv::res_type,
                    rv::res_id,
                    rv::version_id,
                    rv::last_updated,
                    rv::patient_id,
                    rv::body,
                ));
            // Not boxed: a boxed query has no static id, and diesel caches only those that do.
            let row: Option<Row> = match version {
                None => base
                    .filter(rv::is_current.eq(1i16))
                    .first(&mut **c)
                    .optional()?,
                Some(v) => base
                    .filter(rv::version_id.eq(v))
                    .first(&mut **c)
                    .optional()?,
            };
            Ok(row.map(
                |(res_type, res_id, version_id, last_updated, patient_id, body)| StoredResource {
                    res_type,
                    res_id,
                    version_id,
                    last_updated,
                    patient_id,
                    body: jsonb_text(body),
                },
            ))
        }
    }
}

/// JSONB's binary format is a version byte (1) followed by the JSON text.
fn jsonb_text(mut bytes: Vec<u8>) -> String {
    if bytes.first() == Some(&1) {
        bytes.remove(0);
    }
    String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}
