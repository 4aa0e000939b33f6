//! The mapping context: what every section mapper needs (the patient, the document's
//! identity, the narrative index) and where it puts what it makes.

use std::cell::OnceCell;
use std::collections::HashMap;

use roxmltree::{Document, Node};
use serde_json::{json, Map, Value};

use salus_hl7v2_fhir::ids::uri_encode;

use crate::xml::El;
use crate::{MapIssue, MapOptions, MappedResource};

/// The source of resources many documents name (Practitioner, Organization, Location,
/// Medication): without a document in it, the next document that names the same clinician
/// changes nothing instead of adding a version that differs only in its source.
pub const SHARED_SOURCE: &str = "urn:ccda";

pub struct Ctx<'a, 'i> {
    pub doc: &'a Document<'i>,
    pub options: &'a MapOptions,
    /// `root|extension` of `ClinicalDocument/id`: the key for entries without ids of their own.
    pub doc_key: String,
    /// `meta.source` of the resources this document states: `urn:ccda:<root>[:<extension>]`.
    pub source: String,
    /// `Patient/<id>`.
    pub patient: String,
    /// `Encounter/<id>` of `componentOf/encompassingEncounter`, when the document has one.
    pub encounter: Option<String>,
    /// `Practitioner/<id>` of the first document author, the default recorder.
    pub author: Option<String>,
    /// The document's effective time, the default date of entries without one.
    pub document_time: Option<String>,
    anchors: OnceCell<HashMap<&'a str, Node<'a, 'i>>>,
    out: Vec<MappedResource>,
    /// Where each added resource is in `out`, by reference (`Type/id`).
    index: HashMap<String, usize>,
    pub(crate) warnings: Vec<MapIssue>,
    pub(crate) skipped: Vec<MapIssue>,
}

impl<'a, 'i> Ctx<'a, 'i> {
    pub fn new(doc: &'a Document<'i>, options: &'a MapOptions) -> Self {
        let root = doc.root_element();
        let (doc_key, source) = match root.child("id") {
            Some(id) => {
                let r = id.attr("root").unwrap_or("-");
                match id.attr("extension") {
                    Some(ext) => (
                        format!("{}|{}", escape(r), escape(ext)),
                        format!("urn:ccda:{}:{}", uri_encode(r), uri_encode(ext)),
                    ),
                    None => (escape(r), format!("urn:ccda:{}", uri_encode(r))),
                }
            }
            None => ("-".into(), SHARED_SOURCE.into()),
        };
        Ctx {
            doc,
            options,
            doc_key,
            source,
            patient: String::new(),
            encounter: None,
            author: None,
            document_time: None,
            anchors: OnceCell::new(),
            out: Vec::new(),
            index: HashMap::new(),
            warnings: Vec::new(),
            skipped: Vec::new(),
        }
    }

    /// The key of the first usable `id` child (root, and extension when present):
    /// `<root>|<extension>`. `None` when the element has no id without a nullFlavor.
    pub fn id_key(node: Node) -> Option<String> {
        Self::id_key_where(node, |_| true)
    }

    /// [`Ctx::id_key`] of the first usable `id` child that `accept` takes.
    pub fn id_key_where(node: Node, accept: impl Fn(Node) -> bool) -> Option<String> {
        node.children_named("id")
            .filter(|id| id.null_flavor().is_none() && accept(*id))
            .find_map(|id| {
                let root = id.attr("root")?;
                Some(match id.attr("extension") {
                    Some(ext) => format!("{}|{}", escape(root), escape(ext)),
                    None => escape(root),
                })
            })
    }

    /// A deterministic resource id for what `node` (an act, observation, organizer …)
    /// describes: UUID v5 of `ccda|<Type>|<root>|<extension>` from the node's own `id`, or,
    /// without one, of `ccda|<Type>|<document>|<xpath>` (stable for the same document, so
    /// re-ingesting it changes nothing).
    pub fn resource_id(&self, kind: &str, node: Node) -> String {
        match Self::id_key(node) {
            Some(key) => salus_fhir::ids::derive_id(&format!("ccda|{kind}|{key}")),
            None => self.positional_id(kind, node),
        }
    }

    /// An id from the document and the node's position only.
    pub fn positional_id(&self, kind: &str, node: Node) -> String {
        salus_fhir::ids::derive_id(&format!("ccda|{kind}|{}|{}", self.doc_key, node.xpath()))
    }

    /// Add a resource this document states. Sets `meta.source` (keeping other `meta`
    /// elements) and returns the reference `Type/id`.
    ///
    /// A second resource with the same type and id is either the same act mapped twice (one
    /// entry copied into two places, the same diagnosis on admission and discharge): it is
    /// dropped and the first one's reference returned; or a different act under a reused id
    /// (some senders write one id on every entry of a section): it gets an id from its
    /// position, with a warning, instead of being lost. [`Ctx::same_act`] tells them apart.
    pub fn push(&mut self, mut resource: Value, at: Node) -> String {
        let kind = resource["resourceType"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let id = resource["id"].as_str().unwrap_or_default().to_owned();
        let distinct = self.distinct_id(&kind, at, id.clone(), &resource);
        if distinct != id {
            resource["id"] = json!(distinct);
        }
        self.push_with_source(resource, at, None)
    }

    /// The id a resource of `kind` that `at` describes gets: `id`, unless an earlier resource
    /// has it and states a different act (a reused id), then an id from the position of `at`.
    pub fn distinct_id(&mut self, kind: &str, at: Node, id: String, probe: &Value) -> String {
        let reference = format!("{kind}/{id}");
        let clash = self
            .resource_mut(&reference)
            .is_some_and(|earlier| !same_act(earlier, probe));
        if !clash {
            return id;
        }
        self.warn(
            at,
            "the entry's id is also the id of a different entry in this document; it is given an id from its position",
        );
        self.positional_id(kind, at)
    }

    /// Add a resource many documents name (a Practitioner, an Organization …), with the shared
    /// source.
    pub fn push_shared(&mut self, resource: Value, at: Node) -> String {
        self.push_with_source(resource, at, Some(SHARED_SOURCE))
    }

    fn push_with_source(&mut self, mut resource: Value, at: Node, source: Option<&str>) -> String {
        let kind = resource["resourceType"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let id = resource["id"].as_str().unwrap_or_default().to_owned();
        let reference = format!("{kind}/{id}");
        if self.index.contains_key(&reference) {
            return reference;
        }
        self.index.insert(reference.clone(), self.out.len());
        if let Some(obj) = resource.as_object_mut() {
            let meta = obj
                .entry("meta")
                .or_insert_with(|| Value::Object(Map::new()));
            if let Some(meta) = meta.as_object_mut() {
                meta.insert(
                    "source".into(),
                    json!(source.unwrap_or(self.source.as_str())),
                );
            }
            // `meta` first, after `resourceType` and `id`, as FHIR writes it.
            reorder_meta(obj);
        }
        self.out.push(MappedResource {
            resource,
            position: at.xpath(),
        });
        reference
    }

    /// How many resources have been added.
    pub fn len(&self) -> usize {
        self.out.len()
    }

    /// Whether none has.
    pub fn is_empty(&self) -> bool {
        self.out.is_empty()
    }

    /// The references of the resources this document states that were added after the first
    /// `start` (the shared Practitioners and Organizations they name are left out).
    pub fn references_since(&self, start: usize) -> Vec<String> {
        self.out
            .get(start..)
            .unwrap_or_default()
            .iter()
            .filter(|m| m.resource["meta"]["source"] != SHARED_SOURCE)
            .map(|m| {
                format!(
                    "{}/{}",
                    m.resource["resourceType"].as_str().unwrap_or_default(),
                    m.resource["id"].as_str().unwrap_or_default()
                )
            })
            .collect()
    }

    /// Whether a resource with this reference (`Type/id`) was added.
    pub fn has(&self, reference: &str) -> bool {
        self.index.contains_key(reference)
    }

    /// A resource added earlier, by reference (`Type/id`), to add to it (the Patient's birth
    /// sex, found in the social history section).
    pub fn resource_mut(&mut self, reference: &str) -> Option<&mut Value> {
        let at = *self.index.get(reference)?;
        self.out.get_mut(at).map(|m| &mut m.resource)
    }

    /// A field that could not be mapped (the element is left out, the entry kept).
    pub fn warn(&mut self, at: Node, reason: impl Into<String>) {
        self.warnings.push(MapIssue {
            position: at.xpath(),
            reason: reason.into(),
        });
    }

    /// An entry that could not be mapped at all (reported; the rest of the document is kept).
    pub fn skip(&mut self, at: Node, reason: impl Into<String>) {
        self.skipped.push(MapIssue {
            position: at.xpath(),
            reason: reason.into(),
        });
    }

    /// The narrative text an `originalText`/`text` `<reference value="#id"/>` points at,
    /// white space collapsed. `None` when the anchor does not exist or is empty.
    pub fn narrative(&self, reference: &str) -> Option<String> {
        let anchor = reference.trim().strip_prefix('#')?;
        let anchors = self.anchors.get_or_init(|| {
            self.doc
                .descendants()
                .filter_map(|n| Some((n.attribute("ID")?, n)))
                .collect()
        });
        let text = anchors.get(anchor)?.text_content();
        (!text.is_empty()).then_some(text)
    }

    /// The text of an element that is either text itself or a `<reference>` to narrative
    /// (`originalText`, an act's `text`).
    pub fn text_of(&self, node: Node) -> Option<String> {
        if let Some(r) = node.child("reference").and_then(|r| r.attr("value")) {
            if let Some(t) = self.narrative(r) {
                return Some(t);
            }
        }
        let own: String = node
            .children()
            .filter(|c| c.is_text())
            .filter_map(|c| c.text())
            .collect::<Vec<_>>()
            .join(" ");
        let own = own.split_whitespace().collect::<Vec<_>>().join(" ");
        (!own.is_empty()).then_some(own)
    }

    pub(crate) fn finish(self) -> (Vec<MappedResource>, Vec<MapIssue>, Vec<MapIssue>) {
        (self.out, self.warnings, self.skipped)
    }
}

/// Whether two resources state the same act: the same code, subject matter, value and time
/// (the elements that tell two problems, results, medications or visits apart).
fn same_act(a: &Value, b: &Value) -> bool {
    const KEYS: &[&str] = &[
        "code",
        "vaccineCode",
        "medicationCodeableConcept",
        "description",
        "relationship",
        "condition",
        "type",
        "period",
    ];
    const PREFIXES: &[&str] = &["value", "effective", "occurrence", "onset", "performed"];
    let (Some(a), Some(b)) = (a.as_object(), b.as_object()) else {
        return false;
    };
    let key = |k: &str| KEYS.contains(&k) || PREFIXES.iter().any(|p| k.starts_with(p));
    fn pick<'m>(
        m: &'m Map<String, Value>,
        key: &dyn Fn(&str) -> bool,
    ) -> Vec<(&'m String, &'m Value)> {
        m.iter().filter(|(k, _)| key(k)).collect()
    }
    pick(a, &key) == pick(b, &key)
}

fn reorder_meta(obj: &mut Map<String, Value>) {
    let Some(meta) = obj.shift_remove("meta") else {
        return;
    };
    let rest: Vec<(String, Value)> = std::mem::take(obj).into_iter().collect();
    for (k, v) in rest {
        obj.insert(k, v);
        if obj.len() == 2 && obj.contains_key("resourceType") && obj.contains_key("id") {
            obj.insert("meta".into(), meta.clone());
        }
    }
    if !obj.contains_key("meta") {
        obj.insert("meta".into(), meta);
    }
}

/// A key part with `|` percent-encoded, so parts cannot run into each other.
pub fn escape(part: &str) -> String {
    part.replace('%', "%25").replace('|', "%7C")
}
