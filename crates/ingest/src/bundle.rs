//! FHIR Bundles (`collection`, `batch`, `transaction`, `searchset`, `document`, …) read as data.
//!
//! Ingest stores a Bundle's resources, not the Bundle: each entry keeps its `id`, or gets one
//! derived deterministically from its `fullUrl` (so ingesting the same Bundle twice changes
//! nothing), and references to other entries by `fullUrl` (`urn:uuid:…` or absolute URLs) are
//! rewritten to `Type/id`. Conditional references (`Practitioner?identifier=…`) are resolved
//! against the Bundle's own entries where one matches, and kept as they are otherwise.
//!
//! The REST API's `POST /fhir` follows FHIR's transaction rules instead (server-assigned ids);
//! that lives with the server, not here.

use std::collections::HashMap;
use std::io::{BufRead, Read};

use salus_fhir::ids::{derive_id, is_valid_id};
use salus_fhir::reference::{for_each_reference, for_each_reference_mut, parse, Target};
use salus_fhir::{prepare, Issue, IssueCode};
use serde_json::Value;

use crate::ndjson::parse_line;
use crate::report::{Notice, Rejection};
use crate::sink::{Sink, SinkError};
use crate::Limits;

/// Read one whole JSON document: a Bundle, or a single resource.
pub fn read_document(
    reader: &mut dyn BufRead,
    file: &str,
    limits: &Limits,
    sink: &mut dyn Sink,
) -> Result<u64, SinkError> {
    let mut bytes = Vec::new();
    reader
        .take(limits.max_document_bytes as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(SinkError::input)?;
    if bytes.len() > limits.max_document_bytes {
        sink.rejected(Rejection::file(file, Issue::error(
            IssueCode::TooLong,
            format!(
                "the JSON document is larger than {} bytes (ingest.max_document_bytes); split it, or send it as NDJSON",
                limits.max_document_bytes
            ),
        )))?;
        return Ok(1);
    }
    let body = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&bytes);
    let value = match parse_line(body) {
        Ok(v) => v,
        Err(mut issue) => {
            // For a multi-line document the line matters more than the column.
            if let Err(e) = serde_json::from_slice::<Value>(body) {
                issue.diagnostics = format!(
                    "{} (line {}, column {})",
                    issue
                        .diagnostics
                        .split(" at column")
                        .next()
                        .unwrap_or_default(),
                    e.line(),
                    e.column()
                );
            }
            sink.rejected(Rejection::new(file, "document", vec![issue]))?;
            return Ok(1);
        }
    };
    if value.get("resourceType").and_then(Value::as_str) == Some("Bundle") {
        read_bundle(value, file, "", sink)
    } else {
        match prepare(value) {
            Ok(resource) => sink.resource(resource, file, "document")?,
            Err(issues) => sink.rejected(Rejection::new(file, "document", issues))?,
        }
        Ok(1)
    }
}

/// Push a Bundle's entries into the sink. `prefix` is the Bundle's own position (`line 3`) when
/// it came from an NDJSON line. Returns the number of entries.
pub fn read_bundle(
    mut bundle: Value,
    file: &str,
    prefix: &str,
    sink: &mut dyn Sink,
) -> Result<u64, SinkError> {
    let position = |i: usize| {
        if prefix.is_empty() {
            format!("entry {i}")
        } else {
            format!("{prefix} entry {i}")
        }
    };
    let entries = match bundle.get_mut("entry") {
        Some(Value::Array(entries)) => std::mem::take(entries),
        Some(_) => {
            sink.rejected(Rejection::new(
                file,
                if prefix.is_empty() {
                    "document"
                } else {
                    prefix
                },
                vec![
                    Issue::error(IssueCode::Structure, "Bundle.entry must be an array")
                        .at("Bundle.entry"),
                ],
            ))?;
            return Ok(1);
        }
        None => return Ok(0),
    };
    let count = entries.len() as u64;

    // Pass 1: decide every entry's type and id, and index them by fullUrl.
    let mut resources: Vec<Option<Value>> = Vec::with_capacity(entries.len());
    let mut by_full_url: HashMap<String, String> = HashMap::new();
    let mut by_identifier: HashMap<(String, String, String), String> = HashMap::new();
    for (i, entry) in entries.into_iter().enumerate() {
        match entry_resource(entry) {
            Ok(Some((mut resource, full_url, request_url))) => {
                let resource_type = resource
                    .get("resourceType")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned();
                let id = choose_id(&resource, full_url.as_deref(), request_url.as_deref());
                if let Value::Object(map) = &mut resource {
                    if !map.contains_key("id") {
                        map.insert("id".into(), Value::String(id.clone()));
                    }
                }
                let local = format!("{resource_type}/{id}");
                if let Some(url) = full_url {
                    by_full_url.insert(url, local.clone());
                }
                for (system, value) in identifiers(&resource) {
                    by_identifier.insert((resource_type.clone(), system, value), local.clone());
                }
                resources.push(Some(resource));
            }
            Ok(None) => {
                sink.notice(Notice {
                    file: file.to_owned(),
                    message: format!(
                        "{}: skipped (a search outcome or a request without a resource)",
                        position(i)
                    ),
                })?;
                resources.push(None);
            }
            Err(issue) => {
                sink.rejected(Rejection::new(file, position(i), vec![issue]))?;
                resources.push(None);
            }
        }
    }

    // Pass 2: rewrite references, check they resolve, validate and push.
    let mut unresolved_conditional = 0usize;
    for (i, resource) in resources.into_iter().enumerate() {
        let Some(mut resource) = resource else {
            continue;
        };
        let resource_type = resource
            .get("resourceType")
            .and_then(Value::as_str)
            .unwrap_or("Resource")
            .to_owned();
        for_each_reference_mut(&mut resource, &mut |reference| {
            if let Some(local) = by_full_url.get(reference.as_str()) {
                *reference = local.clone();
            } else if let Target::Conditional {
                resource_type,
                query,
            } = parse(reference)
            {
                match resolve_conditional(resource_type, query, &by_identifier) {
                    Some(local) => *reference = local.clone(),
                    None => unresolved_conditional += 1,
                }
            }
        });
        let mut dangling = Vec::new();
        for_each_reference(
            &resource,
            &mut resource_type.clone(),
            &mut |path, reference| {
                if matches!(parse(reference), Target::Urn(_)) {
                    dangling.push(
                        Issue::error(
                            IssueCode::NotFound,
                            format!("{path} refers to a fullUrl that no entry of this Bundle has"),
                        )
                        .at(path.to_owned()),
                    );
                }
            },
        );
        if !dangling.is_empty() {
            sink.rejected(Rejection::new(file, position(i), dangling))?;
            continue;
        }
        match prepare(resource) {
            Ok(prepared) => sink.resource(prepared, file, &position(i))?,
            Err(issues) => sink.rejected(Rejection::new(file, position(i), issues))?,
        }
    }
    if unresolved_conditional > 0 {
        sink.notice(Notice {
            file: file.to_owned(),
            message: format!(
                "{unresolved_conditional} conditional references (Type?identifier=…) name resources outside this Bundle and were kept as they are"
            ),
        })?;
    }
    Ok(count)
}

type EntryParts = (Value, Option<String>, Option<String>);

/// The resource of an entry with its fullUrl and request URL; `None` for entries that carry
/// no data (search outcomes, DELETE requests).
fn entry_resource(entry: Value) -> Result<Option<EntryParts>, Issue> {
    let Value::Object(mut entry) = entry else {
        return Err(Issue::error(
            IssueCode::Structure,
            "a Bundle entry must be a JSON object",
        ));
    };
    let search_outcome = entry
        .get("search")
        .and_then(|s| s.get("mode"))
        .and_then(Value::as_str)
        == Some("outcome");
    let method = entry
        .get("request")
        .and_then(|r| r.get("method"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    let request_url = entry
        .get("request")
        .and_then(|r| r.get("url"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    let full_url = entry
        .get("fullUrl")
        .and_then(Value::as_str)
        .map(str::to_owned);
    match entry.remove("resource") {
        _ if search_outcome => Ok(None),
        None if matches!(method.as_deref(), Some("DELETE" | "GET" | "HEAD")) => Ok(None),
        None => Err(
            Issue::error(IssueCode::Required, "the entry has no resource")
                .at("Bundle.entry.resource"),
        ),
        Some(resource @ Value::Object(_)) => Ok(Some((resource, full_url, request_url))),
        Some(_) => Err(Issue::error(
            IssueCode::Structure,
            "Bundle.entry.resource must be a JSON object",
        )
        .at("Bundle.entry.resource")),
    }
}

/// The id an entry's resource is stored under: its own, else the one its PUT request names,
/// else the UUID of a `urn:uuid:` fullUrl or the id of a RESTful fullUrl, else one derived from
/// the fullUrl or, failing that, from the content.
fn choose_id(resource: &Value, full_url: Option<&str>, request_url: Option<&str>) -> String {
    if let Some(id) = resource.get("id").and_then(Value::as_str) {
        return id.to_owned();
    }
    if let Some(Target::Resource { id, .. }) = request_url.map(parse) {
        if is_valid_id(id) {
            return id.to_owned();
        }
    }
    if let Some(url) = full_url {
        if let Some(uuid) = url.strip_prefix("urn:uuid:") {
            if is_valid_id(uuid) {
                return uuid.to_owned();
            }
        }
        if let Target::Resource { id, .. } = parse(url) {
            if is_valid_id(id) {
                return id.to_owned();
            }
        }
        return derive_id(url);
    }
    derive_id(&hex::encode(salus_fhir::prepare::content_hash(resource)))
}

fn identifiers(resource: &Value) -> Vec<(String, String)> {
    let list = match resource.get("identifier") {
        Some(Value::Array(items)) => items.iter().collect(),
        Some(one @ Value::Object(_)) => vec![one],
        _ => Vec::new(),
    };
    list.into_iter()
        .filter_map(|i| {
            Some((
                i.get("system")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned(),
                i.get("value").and_then(Value::as_str)?.to_owned(),
            ))
        })
        .collect()
}

/// `identifier=system|value` against the Bundle's own resources of that type.
fn resolve_conditional<'a>(
    resource_type: &str,
    query: &str,
    by_identifier: &'a HashMap<(String, String, String), String>,
) -> Option<&'a String> {
    let value = query.strip_prefix("identifier=")?;
    if value.contains('&') {
        return None;
    }
    let (system, code) = value.split_once('|').unwrap_or(("", value));
    by_identifier.get(&(resource_type.to_owned(), system.to_owned(), code.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sink::VecSink;
    use serde_json::json;

    fn run(bundle: Value) -> VecSink {
        let mut sink = VecSink::default();
        read_bundle(bundle, "b.json", "", &mut sink).unwrap();
        sink
    }

    #[test]
    fn assigns_ids_and_rewrites_references() {
        let sink = run(
            json!({"resourceType": "Bundle", "type": "transaction", "entry": [
                {"fullUrl": "urn:uuid:11111111-1111-1111-1111-111111111111",
                 "resource": {"resourceType": "Patient", "identifier": [{"system": "urn:mrn", "value": "7"}]},
                 "request": {"method": "POST", "url": "Patient"}},
                {"fullUrl": "urn:uuid:22222222-2222-2222-2222-222222222222",
                 "resource": {"resourceType": "Observation", "status": "final", "code": {"text": "x"},
                              "subject": {"reference": "urn:uuid:11111111-1111-1111-1111-111111111111"},
                              "performer": [{"reference": "Patient?identifier=urn:mrn|7"},
                                            {"reference": "Practitioner?identifier=urn:npi|1"}]},
                 "request": {"method": "POST", "url": "Observation"}}
            ]}),
        );
        assert!(sink.rejected.is_empty(), "{:?}", sink.rejected);
        let obs = &sink.resources[1].0;
        assert_eq!(obs.id, "22222222-2222-2222-2222-222222222222");
        assert_eq!(
            obs.json()["subject"]["reference"],
            "Patient/11111111-1111-1111-1111-111111111111"
        );
        assert_eq!(
            obs.json()["performer"][0]["reference"],
            "Patient/11111111-1111-1111-1111-111111111111"
        );
        assert_eq!(
            obs.json()["performer"][1]["reference"],
            "Practitioner?identifier=urn:npi|1"
        );
        assert_eq!(
            obs.patient.as_deref(),
            Some("11111111-1111-1111-1111-111111111111")
        );
        assert_eq!(sink.notices.len(), 1);
    }

    #[test]
    fn derived_ids_are_deterministic() {
        let b = json!({"resourceType": "Bundle", "type": "collection", "entry": [
            {"fullUrl": "http://example.org/not-restful/abc", "resource": {"resourceType": "Patient"}},
            {"resource": {"resourceType": "Patient", "gender": "female"}}
        ]});
        let first = run(b.clone());
        let second = run(b);
        assert_eq!(first.resources[0].0.id, second.resources[0].0.id);
        assert_eq!(first.resources[1].0.id, second.resources[1].0.id);
        assert_ne!(first.resources[0].0.id, first.resources[1].0.id);
    }

    #[test]
    fn a_dangling_reference_rejects_only_its_entry() {
        let sink = run(
            json!({"resourceType": "Bundle", "type": "collection", "entry": [
                {"fullUrl": "urn:uuid:a", "resource": {"resourceType": "Patient", "id": "a"}},
                {"fullUrl": "urn:uuid:b", "resource": {"resourceType": "Observation", "id": "b",
                    "status": "final", "code": {"text": "x"}, "subject": {"reference": "urn:uuid:nowhere"}}},
                {"resource": 5}
            ]}),
        );
        assert_eq!(sink.resources.len(), 1);
        assert_eq!(sink.rejected.len(), 2);
        assert_eq!(sink.rejected[0].position, "entry 2");
        assert_eq!(sink.rejected[1].position, "entry 1");
        assert_eq!(
            sink.rejected[1].outcome.issues[0].expression,
            vec!["Observation.subject.reference"]
        );
    }

    #[test]
    fn reads_a_document_file_or_a_single_resource() {
        let mut sink = VecSink::default();
        let text = b"\xEF\xBB\xBF{\n \"resourceType\": \"Patient\", \"id\": \"solo\"\n}\n";
        read_document(&mut &text[..], "p.json", &Limits::default(), &mut sink).unwrap();
        assert_eq!(sink.resources[0].0.id, "solo");
        let mut sink = VecSink::default();
        read_document(
            &mut &b"{\n \"resourceType\": \"Bundle\",\n"[..],
            "t.json",
            &Limits::default(),
            &mut sink,
        )
        .unwrap();
        assert!(
            sink.rejected[0].outcome.summary().contains("line 3"),
            "{}",
            sink.rejected[0].outcome.summary()
        );
    }
}
