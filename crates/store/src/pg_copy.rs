//! PostgreSQL's bulk path: `COPY … FROM STDIN` in text format, about three times the rate of
//! multi-row INSERTs for the same rows. Used for the rows of a write batch and for audit
//! entries on PostgreSQL.

use std::io::Write;

use diesel::pg::PgConnection;
use diesel::prelude::ExecuteCopyFromDsl;
use diesel::QueryResult;

use crate::conn::Bind;

/// Which table a COPY fills; rows are given as binds, `columns` per row, in table order.
#[derive(Debug, Clone, Copy)]
pub enum CopyTable {
    ResourceVersions,
    SearchToken,
    SearchDate,
    SearchString,
    AuditEntities,
}

/// COPY the rows into the table. `binds.len()` is a multiple of the table's column count.
pub fn copy_rows(
    conn: &mut PgConnection,
    table: CopyTable,
    columns: usize,
    binds: &[Bind],
) -> QueryResult<usize> {
    if binds.is_empty() {
        return Ok(0);
    }
    let mut data = Vec::with_capacity(binds.len() * 32);
    for row in binds.chunks(columns) {
        for (i, value) in row.iter().enumerate() {
            if i > 0 {
                data.push(b'\t');
            }
            write_field(&mut data, value);
        }
        data.push(b'\n');
    }
    let write = |out: &mut dyn Write| {
        out.write_all(&data)
            .map_err(|e| diesel::result::Error::SerializationError(Box::new(e)))
    };
    use crate::pg_schema::*;
    match table {
        CopyTable::ResourceVersions => diesel::copy_from(resource_versions::table)
            .from_raw_data(resource_versions::table, write)
            .execute(conn),
        CopyTable::SearchToken => diesel::copy_from(search_token::table)
            .from_raw_data(search_token::table, write)
            .execute(conn),
        CopyTable::SearchDate => diesel::copy_from(search_date::table)
            .from_raw_data(search_date::table, write)
            .execute(conn),
        CopyTable::SearchString => diesel::copy_from(search_string::table)
            .from_raw_data(search_string::table, write)
            .execute(conn),
        CopyTable::AuditEntities => diesel::copy_from(audit_entities::table)
            .from_raw_data(audit_entities::table, write)
            .execute(conn),
    }
}

/// One field in COPY's text format: `\N` for NULL; backslash, tab, newline and carriage return
/// escaped.
fn write_field(out: &mut Vec<u8>, value: &Bind) {
    match value {
        Bind::Int(n) | Bind::OptInt(Some(n)) => out.extend_from_slice(n.to_string().as_bytes()),
        Bind::OptText(None) | Bind::OptInt(None) => out.extend_from_slice(b"\\N"),
        Bind::Text(s) | Bind::OptText(Some(s)) => {
            for &b in s.as_bytes() {
                match b {
                    b'\\' => out.extend_from_slice(b"\\\\"),
                    b'\t' => out.extend_from_slice(b"\\t"),
                    b'\n' => out.extend_from_slice(b"\\n"),
                    b'\r' => out.extend_from_slice(b"\\r"),
                    other => out.push(other),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_text_format() {
        let mut out = Vec::new();
        write_field(&mut out, &Bind::Text("a\tb\\c\nd\re".into()));
        assert_eq!(out, b"a\\tb\\\\c\\nd\\re");
        out.clear();
        write_field(&mut out, &Bind::OptText(None));
        assert_eq!(out, b"\\N");
    }
}
