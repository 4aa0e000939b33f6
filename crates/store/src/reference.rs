//! Reference tables that are not FHIR resources (community vulnerability indices, the
//! ZIP-to-county crosswalk), by kind and vintage. The store keeps the validated table text and
//! finds it again; `salus-sdoh` says what a table means.

use diesel::sql_types::{BigInt, Text};
use diesel::QueryableByName;
use sha2::{Digest, Sha256};

use crate::conn::Bind;
use crate::{Result, Store};

/// A stored reference table.
#[derive(Debug, Clone, PartialEq, Eq, QueryableByName)]
pub struct ReferenceRow {
    /// `svi`, `zip-county`.
    #[diesel(sql_type = Text)]
    pub kind: String,
    /// `2020`, `2023Q1`: what the table's publisher calls its edition.
    #[diesel(sql_type = Text)]
    pub vintage: String,
    /// The file it was loaded from (its name only).
    #[diesel(sql_type = Text)]
    pub source: String,
    #[diesel(sql_type = Text)]
    pub sha256: String,
    #[diesel(sql_type = BigInt)]
    pub row_count: i64,
    /// The table as loaded.
    #[diesel(sql_type = Text)]
    pub content: String,
    /// Microseconds since the epoch.
    #[diesel(sql_type = BigInt)]
    pub loaded_at: i64,
}

/// What storing a reference table did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReferenceOutcome {
    Created,
    /// The same kind and vintage, other content: replaced.
    Updated,
    /// The same content again: nothing written.
    Unchanged,
}

const COLUMNS: &str = "kind, vintage, source, sha256, row_count, content, loaded_at";

impl Store {
    /// Store a table (already validated) as `kind` and `vintage`, in one statement: a table is
    /// there whole or not at all.
    pub fn put_reference(
        &self,
        kind: &str,
        vintage: &str,
        source: &str,
        content: &str,
        row_count: i64,
        now: i64,
    ) -> Result<ReferenceOutcome> {
        let sha = hex::encode(Sha256::digest(content.as_bytes()));
        self.transaction(|conn| {
            #[derive(QueryableByName)]
            struct Existing {
                #[diesel(sql_type = Text)]
                sha256: String,
            }
            let existing: Vec<Existing> = conn.load(
                "SELECT sha256 FROM reference_tables WHERE kind = ? AND vintage = ?",
                vec![kind.into(), vintage.into()],
            )?;
            match existing.first() {
                Some(e) if e.sha256 == sha => Ok(ReferenceOutcome::Unchanged),
                Some(_) => {
                    conn.execute(
                        "UPDATE reference_tables SET source = ?, sha256 = ?, row_count = ?, content = ?, loaded_at = ? WHERE kind = ? AND vintage = ?",
                        vec![
                            source.into(),
                            sha.as_str().into(),
                            Bind::Int(row_count),
                            content.into(),
                            Bind::Int(now),
                            kind.into(),
                            vintage.into(),
                        ],
                    )?;
                    Ok(ReferenceOutcome::Updated)
                }
                None => {
                    conn.execute(
                        &format!(
                            "INSERT INTO reference_tables ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)"
                        ),
                        vec![
                            kind.into(),
                            vintage.into(),
                            source.into(),
                            sha.as_str().into(),
                            Bind::Int(row_count),
                            content.into(),
                            Bind::Int(now),
                        ],
                    )?;
                    Ok(ReferenceOutcome::Created)
                }
            }
        })
    }

    /// The table of `kind` with this vintage, or the latest vintage when `None` (vintages of
    /// one kind are written alike, `2018`/`2020` or `2022Q4`/`2023Q1`, so text order is time
    /// order).
    pub fn reference(&self, kind: &str, vintage: Option<&str>) -> Result<Option<ReferenceRow>> {
        let mut pooled = self.reader()?;
        let mut rows: Vec<ReferenceRow> = match vintage {
            Some(v) => pooled.conn().load(
                &format!("SELECT {COLUMNS} FROM reference_tables WHERE kind = ? AND vintage = ?"),
                vec![kind.into(), v.into()],
            )?,
            None => pooled.conn().load(
                &format!(
                    "SELECT {COLUMNS} FROM reference_tables WHERE kind = ? ORDER BY vintage DESC LIMIT 1"
                ),
                vec![kind.into()],
            )?,
        };
        Ok(rows.pop())
    }

    /// Kind, vintage, source, row count and load time of every stored table (no content).
    pub fn list_references(&self) -> Result<Vec<ReferenceRow>> {
        let mut pooled = self.reader()?;
        Ok(pooled.conn().load(
            "SELECT kind, vintage, source, sha256, row_count, '' AS content, loaded_at FROM reference_tables ORDER BY kind, vintage",
            vec![],
        )?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_are_stored_whole_and_found_by_vintage() {
        for db in crate::testing::all() {
            let store = Store::open(&db.url).unwrap();
            assert_eq!(
                store
                    .put_reference("svi", "2018", "a.csv", "x\n1\n", 1, 10)
                    .unwrap(),
                ReferenceOutcome::Created
            );
            assert_eq!(
                store
                    .put_reference("svi", "2020", "b.csv", "x\n2\n", 1, 11)
                    .unwrap(),
                ReferenceOutcome::Created
            );
            assert_eq!(
                store
                    .put_reference("svi", "2020", "b.csv", "x\n2\n", 1, 12)
                    .unwrap(),
                ReferenceOutcome::Unchanged
            );
            let latest = store.reference("svi", None).unwrap().unwrap();
            assert_eq!(
                (latest.vintage.as_str(), latest.content.as_str()),
                ("2020", "x\n2\n")
            );
            assert_eq!(latest.loaded_at, 11, "an unchanged reload writes nothing");
            assert_eq!(
                store
                    .put_reference("svi", "2018", "c.csv", "x\n3\n", 1, 13)
                    .unwrap(),
                ReferenceOutcome::Updated
            );
            let old = store.reference("svi", Some("2018")).unwrap().unwrap();
            assert_eq!(
                (old.source.as_str(), old.content.as_str()),
                ("c.csv", "x\n3\n")
            );
            assert!(store.reference("zip-county", None).unwrap().is_none());
            let listed = store.list_references().unwrap();
            assert_eq!(listed.len(), 2);
            assert!(listed.iter().all(|r| r.content.is_empty()));
        }
    }
}
