//! Patient merges (HL7 v2 ADT^A40): the retired patient's resources move to the survivor.
//!
//! A move is a new version of each resource in the retired patient's compartment, with every
//! reference to the retired Patient pointing at the survivor instead: history keeps where the
//! resource was, and a search of the survivor's compartment finds everything. The retired
//! Patient itself stays, marked by the message that merged it (`link` `replaced-by`).

use diesel::sql_types::Text;
use diesel::QueryableByName;
use salus_ingest::PatientMerge;
use serde_json::Value;

use crate::conn::Conn;
use crate::write::{write_in, WriteRequest, Written};
use crate::{Result, Store, StoreError};

#[derive(QueryableByName)]
struct BodyRow {
    #[diesel(sql_type = Text)]
    res_type: String,
    #[diesel(sql_type = Text)]
    res_id: String,
    #[diesel(sql_type = Text)]
    body: String,
}

impl Store {
    /// Write resources, then apply merges, in one transaction: a message's resources and the
    /// move it asks for are committed together or not at all. Returns what was written for the
    /// requests, then for the merges.
    pub fn write_with_merges(
        &self,
        requests: &[WriteRequest],
        merges: &[PatientMerge],
        now: i64,
        return_bodies: bool,
    ) -> Result<(Vec<Written>, Vec<Written>)> {
        if requests.is_empty() && merges.is_empty() {
            return Ok((Vec::new(), Vec::new()));
        }
        self.transaction(|conn| {
            let written = if requests.is_empty() {
                Vec::new()
            } else {
                write_in(conn, requests, now, return_bodies)?
            };
            let mut moved = Vec::new();
            for merge in merges {
                moved.extend(merge_in(conn, merge, now)?);
            }
            Ok((written, moved))
        })
    }
}

/// Move the current resources of the retired patient's compartment (the retired Patient
/// excepted) to the survivor, inside an open transaction.
pub(crate) fn merge_in(
    conn: &mut Conn<'_>,
    merge: &PatientMerge,
    now: i64,
) -> Result<Vec<Written>> {
    if merge.retired == merge.survivor {
        return Ok(Vec::new());
    }
    let rows: Vec<BodyRow> = conn.load(
        "SELECT res_type, res_id, CAST(body AS TEXT) AS body FROM resource_versions \
         WHERE is_current = 1 AND patient_id = ? AND NOT (res_type = 'Patient' AND res_id = ?)",
        vec![merge.retired.as_str().into(), merge.retired.as_str().into()],
    )?;
    let from = format!("Patient/{}", merge.retired);
    let to = format!("Patient/{}", merge.survivor);
    let mut requests = Vec::with_capacity(rows.len());
    for row in rows {
        let mut body: Value = serde_json::from_str(&row.body).map_err(|e| {
            StoreError::Merge(format!(
                "the stored {}/{} is not JSON: {e}",
                row.res_type, row.res_id
            ))
        })?;
        rewrite_references(&mut body, &from, &to);
        let resource = salus_fhir::prepare(body).map_err(|issues| {
            StoreError::Merge(format!(
                "{}/{} is not valid once moved: {}",
                row.res_type,
                row.res_id,
                issues
                    .iter()
                    .map(|i| i.diagnostics.clone())
                    .collect::<Vec<_>>()
                    .join("; ")
            ))
        })?;
        requests.push(WriteRequest {
            resource,
            source: Some(format!("merge of Patient/{} into {to}", merge.retired)),
            if_match: None,
            create_only: false,
        });
    }
    if requests.is_empty() {
        return Ok(Vec::new());
    }
    write_in(conn, &requests, now, false)
}

/// Point every `reference` equal to `from` (or ending in `/from`, an absolute URL) at `to`.
fn rewrite_references(value: &mut Value, from: &str, to: &str) {
    match value {
        Value::Object(map) => {
            for (key, v) in map.iter_mut() {
                match v {
                    Value::String(s) if key == "reference" => {
                        let base = s
                            .strip_suffix(from)
                            .filter(|head| head.is_empty() || head.ends_with('/'));
                        if let Some(base) = base {
                            *s = format!("{base}{to}");
                        }
                    }
                    other => rewrite_references(other, from, to),
                }
            }
        }
        Value::Array(items) => {
            for v in items {
                rewrite_references(v, from, to);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::rewrite_references;
    use serde_json::json;

    #[test]
    fn references_to_the_retired_patient_move() {
        let mut v = json!({
            "resourceType": "Observation",
            "subject": {"reference": "Patient/old"},
            "performer": [{"reference": "Practitioner/old"}, {"reference": "https://x.org/fhir/Patient/old"}],
            "note": [{"text": "Patient/old stays in text"}],
            "focus": [{"reference": "Patient/older"}]
        });
        rewrite_references(&mut v, "Patient/old", "Patient/new");
        assert_eq!(v["subject"]["reference"], "Patient/new");
        assert_eq!(v["performer"][0]["reference"], "Practitioner/old");
        assert_eq!(
            v["performer"][1]["reference"],
            "https://x.org/fhir/Patient/new"
        );
        assert_eq!(v["note"][0]["text"], "Patient/old stays in text");
        assert_eq!(v["focus"][0]["reference"], "Patient/older");
    }
}
