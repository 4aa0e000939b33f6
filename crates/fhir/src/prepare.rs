//! One resource made ready for a store: validated, identified, assigned to its patient,
//! indexed and fingerprinted.

use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::compartment::patient_of;
use crate::ids::is_valid_id;
use crate::outcome::{Issue, IssueCode};
use crate::schema;
use crate::search::{extract, IndexEntries};

/// A resource that passed validation, with everything a store needs to write it.
#[derive(Debug, Clone)]
pub struct PreparedResource {
    pub resource_type: String,
    pub id: String,
    /// The resource as received (elements, order and number text intact).
    pub body: Value,
    /// The patient whose compartment holds it.
    pub patient: Option<String>,
    pub index: IndexEntries,
    /// SHA-256 of the content, `meta.versionId` and `meta.lastUpdated` excluded: equal hashes
    /// mean a write would change nothing.
    pub content_hash: [u8; 32],
}

/// Validate and prepare a resource. It must already carry its `id`.
pub fn prepare(body: Value) -> Result<PreparedResource, Vec<Issue>> {
    let resource_type = schema::validate(&body)?.to_owned();
    let id = match body.get("id") {
        Some(Value::String(id)) if is_valid_id(id) => id.clone(),
        Some(_) => {
            return Err(vec![Issue::error(
                IssueCode::Value,
                "id must be 1 to 64 characters of A-Z, a-z, 0-9, '-' and '.'",
            )
            .at(format!("{resource_type}.id"))])
        }
        None => {
            return Err(vec![Issue::error(
                IssueCode::Required,
                "the resource has no id",
            )
            .at(format!("{resource_type}.id"))])
        }
    };
    let patient = patient_of(&resource_type, &body);
    let index = extract(&resource_type, &body);
    let content_hash = content_hash(&body);
    Ok(PreparedResource {
        resource_type,
        id,
        body,
        patient,
        index,
        content_hash,
    })
}

/// The content fingerprint of a resource (see [`PreparedResource::content_hash`]).
pub fn content_hash(body: &Value) -> [u8; 32] {
    let mut hasher = HashWriter(Sha256::new());
    serde_json::to_writer(&mut hasher, &WithoutVersionMeta(body))
        .expect("serializing a JSON value to a hasher cannot fail");
    hasher.0.finalize().into()
}

struct HashWriter(Sha256);

impl std::io::Write for HashWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Serializes a resource as it is but for `meta.versionId` and `meta.lastUpdated`, which the
/// store owns; an empty `meta` left behind is skipped too.
struct WithoutVersionMeta<'a>(&'a Value);

impl Serialize for WithoutVersionMeta<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let Value::Object(map) = self.0 else {
            return self.0.serialize(serializer);
        };
        let mut out = serializer.serialize_map(None)?;
        for (key, value) in map {
            if key == "meta" {
                if let Value::Object(meta) = value {
                    let kept: Map<String, Value> = meta
                        .iter()
                        .filter(|(k, _)| *k != "versionId" && *k != "lastUpdated")
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect();
                    if !kept.is_empty() {
                        out.serialize_entry(key, &kept)?;
                    }
                    continue;
                }
            }
            out.serialize_entry(key, value)?;
        }
        out.end()
    }
}

/// Set `meta.versionId` and `meta.lastUpdated`, keeping every other element where it was.
pub fn stamp_meta(body: &mut Value, version_id: i64, last_updated: &str) {
    let Value::Object(map) = body else { return };
    if !matches!(map.get("meta"), Some(Value::Object(_))) {
        map.insert("meta".to_owned(), Value::Object(Map::new()));
    }
    if let Some(Value::Object(meta)) = map.get_mut("meta") {
        meta.insert(
            "versionId".to_owned(),
            Value::String(version_id.to_string()),
        );
        meta.insert(
            "lastUpdated".to_owned(),
            Value::String(last_updated.to_owned()),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obs() -> Value {
        json!({"resourceType": "Observation", "id": "o1", "status": "final",
               "code": {"text": "PHQ-9 total"}, "subject": {"reference": "Patient/p1"},
               "valueQuantity": {"value": 1.50}})
    }

    #[test]
    fn prepares_a_valid_resource() {
        let mut body = obs();
        body["valueQuantity"] = serde_json::from_str(r#"{"value":1.50}"#).unwrap();
        let p = prepare(body).unwrap();
        assert_eq!(p.resource_type, "Observation");
        assert_eq!(p.id, "o1");
        assert_eq!(p.patient.as_deref(), Some("p1"));
        // arbitrary_precision keeps the decimal as written.
        assert_eq!(
            serde_json::to_string(&p.body["valueQuantity"]).unwrap(),
            r#"{"value":1.50}"#
        );
    }

    #[test]
    fn version_meta_does_not_change_the_hash() {
        let a = obs();
        let mut b = obs();
        stamp_meta(&mut b, 7, "2024-01-01T00:00:00Z");
        assert_eq!(content_hash(&a), content_hash(&b));
        let mut c = obs();
        c["meta"] = json!({"tag": [{"code": "x"}]});
        assert_ne!(content_hash(&a), content_hash(&c));
        let mut d = obs();
        d["status"] = json!("amended");
        assert_ne!(content_hash(&a), content_hash(&d));
    }

    #[test]
    fn id_is_required_and_checked() {
        let mut no_id = obs();
        no_id.as_object_mut().unwrap().shift_remove("id");
        assert_eq!(prepare(no_id).unwrap_err()[0].code, IssueCode::Required);
        let mut bad = obs();
        bad["id"] = json!("has space");
        assert_eq!(
            prepare(bad).unwrap_err()[0].expression,
            vec!["Observation.id"]
        );
    }

    #[test]
    fn stamp_keeps_existing_meta() {
        let mut v = json!({"resourceType": "Patient", "id": "p", "meta": {"source": "s", "versionId": "9"}});
        stamp_meta(&mut v, 2, "t");
        assert_eq!(
            v["meta"],
            json!({"source": "s", "versionId": "2", "lastUpdated": "t"})
        );
    }
}
