//! One resource made ready for a store: validated, identified, assigned to its patient,
//! indexed and fingerprinted.

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
    /// The resource as received (elements, order and number text intact), serialized once,
    /// ready for its version metadata.
    pub stored: StoredJson,
    /// The patient whose compartment holds it.
    pub patient: Option<String>,
    pub index: IndexEntries,
    /// SHA-256 of the content, `meta.versionId` and `meta.lastUpdated` excluded: equal hashes
    /// mean a write would change nothing.
    pub content_hash: [u8; 32],
}

impl PreparedResource {
    /// The resource as JSON (parsed back from its serialized form; for tests and previews).
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stored.render(0, "")).expect("stored JSON parses")
    }
}

/// Validate, label and prepare a resource. It must already carry its `id`.
///
/// Labelling: the sensitivity labels its codes imply (`salus-labels`: PSY, MH, SUD, ETH, HIV,
/// SEX, PSYTHPN, 42CFRPart2, R) are added to `meta.security` after validation, beside any the
/// source sent, so that every write path (ingest, REST, transactions) stores them and the
/// content hash covers them: re-ingesting the same input still changes nothing.
pub fn prepare(body: Value) -> Result<PreparedResource, Vec<Issue>> {
    let resource_type = schema::validate(&body)?.to_owned();
    prepare_typed(resource_type, body)
}

/// As [`prepare`], for a resource Salus derived itself from data it has already validated (the
/// SVI Observations `salus sdoh link` builds from fixed templates): the schema check, half the
/// cost of preparing such a resource, runs in debug builds only, so every test still validates
/// every derived resource. Input from outside always goes through [`prepare`].
pub fn prepare_derived(body: Value) -> Result<PreparedResource, Vec<Issue>> {
    let resource_type = if cfg!(debug_assertions) {
        schema::validate(&body)?.to_owned()
    } else {
        match body.get("resourceType") {
            Some(Value::String(t)) => t.clone(),
            _ => return prepare(body),
        }
    };
    prepare_typed(resource_type, body)
}

fn prepare_typed(resource_type: String, mut body: Value) -> Result<PreparedResource, Vec<Issue>> {
    salus_labels::Labeller::builtin().apply(&mut body);
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
    let stored = StoredJson::new(&body);
    let content_hash = stored.content_hash();
    Ok(PreparedResource {
        resource_type,
        id,
        stored,
        patient,
        index,
        content_hash,
    })
}

/// A resource serialized for storage with a gap where `meta.versionId` and `meta.lastUpdated`
/// go, so that the store (which decides the version) only splices two strings in.
///
/// `meta` keeps its place (or is added after `id`); within it, `versionId` and `lastUpdated` come
/// last. With the gaps empty the text is the content fingerprint: it does not depend on the
/// version metadata the input carried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredJson {
    text: String,
    version_at: usize,
    updated_at: usize,
}

impl StoredJson {
    /// The serialized length in bytes (version metadata excluded): what a write batch holds.
    pub fn len(&self) -> usize {
        self.text.len()
    }

    /// Never true: a stored resource is at least `{}`.
    pub fn is_empty(&self) -> bool {
        self.text.is_empty()
    }

    /// SHA-256 of the content, version metadata excluded: equal for equal content.
    pub fn content_hash(&self) -> [u8; 32] {
        Sha256::digest(self.text.as_bytes()).into()
    }

    /// Serialize a resource (a JSON object) for storage.
    pub fn new(body: &Value) -> StoredJson {
        let mut out = Vec::with_capacity(1024);
        let mut version_at = 0;
        let mut updated_at = 0;
        let Value::Object(map) = body else {
            let text = serde_json::to_string(body).expect("a JSON value serializes");
            return StoredJson {
                text,
                version_at: 0,
                updated_at: 0,
            };
        };
        let has_meta = matches!(map.get("meta"), Some(Value::Object(_)));
        let mut write_meta = |out: &mut Vec<u8>, meta: Option<&Map<String, Value>>| {
            out.extend_from_slice(b"\"meta\":{");
            for (key, value) in meta.into_iter().flatten() {
                if key != "versionId" && key != "lastUpdated" {
                    write_entry(out, key, value);
                    out.push(b',');
                }
            }
            out.extend_from_slice(b"\"versionId\":\"");
            version_at = out.len();
            out.extend_from_slice(b"\",\"lastUpdated\":\"");
            updated_at = out.len();
            out.extend_from_slice(b"\"}");
        };
        out.push(b'{');
        let mut first = true;
        let mut wrote_meta = false;
        for (key, value) in map {
            if key == "meta" && !has_meta {
                continue; // a non-object meta is invalid; it is replaced below
            }
            if !first {
                out.push(b',');
            }
            first = false;
            if key == "meta" {
                write_meta(&mut out, value.as_object());
                wrote_meta = true;
                continue;
            }
            write_entry(&mut out, key, value);
            if key == "id" && !has_meta {
                out.push(b',');
                write_meta(&mut out, None);
                wrote_meta = true;
            }
        }
        if !wrote_meta {
            if !first {
                out.push(b',');
            }
            write_meta(&mut out, None);
        }
        out.push(b'}');
        let text = String::from_utf8(out).expect("serde_json writes UTF-8");
        StoredJson {
            text,
            version_at,
            updated_at,
        }
    }

    /// The JSON of one version.
    pub fn render(&self, version_id: i64, last_updated: &str) -> String {
        if self.version_at == 0 {
            return self.text.clone();
        }
        let version = version_id.to_string();
        let mut out = String::with_capacity(self.text.len() + version.len() + last_updated.len());
        out.push_str(&self.text[..self.version_at]);
        out.push_str(&version);
        out.push_str(&self.text[self.version_at..self.updated_at]);
        out.push_str(last_updated);
        out.push_str(&self.text[self.updated_at..]);
        out
    }
}

fn write_entry(out: &mut Vec<u8>, key: &str, value: &Value) {
    serde_json::to_writer(&mut *out, key).expect("writing to a Vec cannot fail");
    out.push(b':');
    serde_json::to_writer(&mut *out, value).expect("writing to a Vec cannot fail");
}

/// The content fingerprint of a resource (see [`PreparedResource::content_hash`]).
pub fn content_hash(body: &Value) -> [u8; 32] {
    Sha256::digest(StoredJson::new(body).text.as_bytes()).into()
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
        let stored = p.stored.render(1, "t");
        assert!(
            stored.contains(r#""valueQuantity":{"value":1.50}"#),
            "{stored}"
        );
    }

    #[test]
    fn a_derived_resource_is_prepared_as_any_other() {
        let (derived, checked) = (prepare_derived(obs()).unwrap(), prepare(obs()).unwrap());
        assert_eq!(derived.resource_type, checked.resource_type);
        assert_eq!(derived.id, checked.id);
        assert_eq!(derived.patient, checked.patient);
        assert_eq!(derived.stored, checked.stored);
        assert_eq!(derived.content_hash, checked.content_hash);
    }

    #[test]
    #[cfg(debug_assertions)]
    fn a_derived_resource_is_still_validated_in_debug_builds() {
        // Tests run debug builds: a mapping bug that builds an invalid resource fails them.
        let mut body = obs();
        body["status"] = json!(7);
        assert!(prepare_derived(body).is_err());
    }

    #[test]
    fn version_meta_does_not_change_the_hash() {
        let a = obs();
        let b: Value =
            serde_json::from_str(&StoredJson::new(&a).render(7, "2024-01-01T00:00:00Z")).unwrap();
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
    fn stored_json_sets_version_meta_in_place() {
        let stamped = |v: Value| -> Value {
            serde_json::from_str(&StoredJson::new(&v).render(3, "T")).unwrap()
        };
        let v = stamped(json!({"resourceType": "Patient", "id": "p",
                               "meta": {"source": "s", "versionId": "9", "lastUpdated": "x"}}));
        assert_eq!(
            v["meta"],
            json!({"source": "s", "versionId": "3", "lastUpdated": "T"})
        );
        let v = stamped(json!({"resourceType": "Patient", "meta": {"profile": ["p"]}}));
        assert_eq!(
            v["meta"],
            json!({"profile": ["p"], "versionId": "3", "lastUpdated": "T"})
        );
        let v = stamped(json!({"resourceType": "Patient"}));
        assert_eq!(v["meta"], json!({"versionId": "3", "lastUpdated": "T"}));
        let text = StoredJson::new(&obs()).render(1, "t");
        assert!(
            text.starts_with(r#"{"resourceType":"Observation","id":"o1","meta":{"versionId":"1","lastUpdated":"t"}"#),
            "{text}"
        );
    }
}
