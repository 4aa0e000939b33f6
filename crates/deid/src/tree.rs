//! A typed index over one FHIR JSON document, so rules can be applied the way Microsoft's
//! anonymizer applies them to its element tree: each element knows its name, FHIR type, parent
//! and children, and whether an earlier rule has processed ("visited") it.
//!
//! The JSON stays the single source of truth; nodes say where their value is (a key in the
//! parent's object, and an index when the key holds an array). A primitive element is one node
//! whose value sits at its key (`birthDate`, `given[1]`) and whose `id`/`extension` children sit
//! in the companion (`_birthDate`, `_given[1]`), as in FHIR's element model.
//!
//! Nodes are numbered in document order, so a node's subtree is the range `id..end`: walking it
//! allocates nothing, and building the index allocates only the node vector (keys known to the
//! schema are borrowed from it).

use serde_json::{Map, Value};

use crate::schema::{Def, Schema};

/// A JSON key: borrowed from the schema when the schema knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Key {
    Static(&'static str),
    Owned(Box<str>),
}

impl Key {
    pub fn as_str(&self) -> &str {
        match self {
            Key::Static(s) => s,
            Key::Owned(s) => s,
        }
    }
}

#[derive(Debug)]
pub struct Node {
    pub parent: u32,
    /// One past the last node of this node's subtree.
    pub end: u32,
    /// The key holding this element in its container (empty for the root).
    pub key: Key,
    /// The position in the key's array, when the key holds one.
    pub index: Option<u32>,
    /// The element name (a choice element's base name: `value` for `valueQuantity`); empty
    /// when the schema doesn't know the element.
    pub name: &'static str,
    /// The FHIR type (`HumanName`, `date`, `Patient` …); empty when the schema doesn't know it.
    pub ty: &'static str,
    pub resource: bool,
    pub primitive: bool,
    /// The element is an `id`/`extension` of a primitive, in the primitive's companion.
    pub in_companion: bool,
}

/// The typed index of a document, plus which elements earlier rules have processed.
pub struct Tree {
    pub nodes: Vec<Node>,
    pub visited: Vec<bool>,
}

/// What an element is, from the schema.
#[derive(Clone, Copy)]
struct Kind {
    name: &'static str,
    ty: &'static str,
    def: Def,
    primitive: bool,
}

/// A node's position, as kept across a rebuild.
pub type Path = Vec<(String, Option<u32>, bool)>;

impl Tree {
    /// Indexes `root`, which must be a resource (an object with a string `resourceType`).
    pub fn build(root: &Value, schema: &dyn Schema) -> Option<Tree> {
        let rt = root.get("resourceType")?.as_str()?;
        let (ty, def) = schema.resource_type(rt).unwrap_or(("", None));
        let mut tree = Tree {
            nodes: Vec::with_capacity(128),
            visited: Vec::new(),
        };
        let kind = Kind {
            name: "",
            ty,
            def,
            primitive: false,
        };
        tree.push(Key::Static(""), None, kind, 0, true, false);
        tree.walk_members(root.as_object()?, 0, def, false, schema);
        tree.nodes[0].end = tree.nodes.len() as u32;
        tree.visited = vec![false; tree.nodes.len()];
        Some(tree)
    }

    /// Re-indexes after the document's shape changed, keeping what was visited.
    pub fn rebuild(&self, root: &Value, schema: &dyn Schema) -> Option<Tree> {
        let visited: Vec<Path> = (0..self.nodes.len())
            .filter(|&n| self.visited[n])
            .map(|n| self.path(n))
            .collect();
        let mut fresh = Tree::build(root, schema)?;
        for path in visited {
            if let Some(n) = fresh.find(&path) {
                fresh.visited[n] = true;
            }
        }
        Some(fresh)
    }

    fn push(
        &mut self,
        key: Key,
        index: Option<u32>,
        kind: Kind,
        parent: u32,
        resource: bool,
        in_companion: bool,
    ) -> usize {
        self.nodes.push(Node {
            parent,
            end: 0,
            key,
            index,
            name: kind.name,
            ty: kind.ty,
            resource,
            primitive: kind.primitive,
            in_companion,
        });
        self.nodes.len() - 1
    }

    /// Adds the members of `obj` as children of node `parent`, typed as members of `def`.
    fn walk_members(
        &mut self,
        obj: &Map<String, Value>,
        parent: usize,
        def: Def,
        in_companion: bool,
        schema: &dyn Schema,
    ) {
        for (json_key, value) in obj {
            if json_key == "resourceType" || json_key == "fhir_comments" {
                continue;
            }
            let (base, from_companion) = match json_key.strip_prefix('_') {
                Some(base) if obj.contains_key(base) => continue,
                Some(base) => (base, true),
                None => (json_key.as_str(), false),
            };
            let companion = if from_companion {
                Some(value)
            } else if obj.len() > 1 {
                companion_of(obj, json_key)
            } else {
                None
            };
            let (key, kind) = match schema.element(def, base) {
                Some(e) => (
                    Key::Static(e.key),
                    Kind {
                        name: e.name,
                        ty: e.ty,
                        def: e.def,
                        primitive: e.primitive,
                    },
                ),
                // Not in the schema (invalid FHIR): walked untyped, so that rules on the
                // whole resource still reach it.
                None => (
                    Key::Owned(base.into()),
                    Kind {
                        name: "",
                        ty: "",
                        def: None,
                        primitive: from_companion
                            || !(value.is_object()
                                || value
                                    .as_array()
                                    .is_some_and(|a| a.iter().any(Value::is_object))),
                    },
                ),
            };
            let value_slot = if from_companion { None } else { Some(value) };
            if matches!(value_slot.or(companion), Some(Value::Array(_))) {
                let len = value_slot
                    .and_then(Value::as_array)
                    .map_or(0, Vec::len)
                    .max(companion.and_then(Value::as_array).map_or(0, Vec::len));
                for i in 0..len {
                    let item = value_slot.and_then(|v| v.get(i));
                    let item_companion = companion.and_then(|c| c.get(i));
                    self.add_element(
                        key.clone(),
                        Some(i as u32),
                        kind,
                        item,
                        item_companion,
                        parent,
                        in_companion,
                        schema,
                    );
                }
            } else {
                self.add_element(
                    key,
                    None,
                    kind,
                    value_slot,
                    companion,
                    parent,
                    in_companion,
                    schema,
                );
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn add_element(
        &mut self,
        key: Key,
        index: Option<u32>,
        kind: Kind,
        value: Option<&Value>,
        companion: Option<&Value>,
        parent: usize,
        in_companion: bool,
        schema: &dyn Schema,
    ) {
        let id = match value {
            Some(Value::Object(obj)) if !kind.primitive || obj.contains_key("resourceType") => {
                let (kind, resource) = match obj.get("resourceType").and_then(Value::as_str) {
                    Some(rt) => {
                        let (t, d) = schema.resource_type(rt).unwrap_or(("", None));
                        (
                            Kind {
                                ty: t,
                                def: d,
                                primitive: false,
                                ..kind
                            },
                            true,
                        )
                    }
                    None => (kind, false),
                };
                let id = self.push(key, index, kind, parent as u32, resource, in_companion);
                self.walk_members(obj, id, kind.def, false, schema);
                id
            }
            _ => {
                let kind = Kind {
                    primitive: true,
                    ..kind
                };
                let id = self.push(key, index, kind, parent as u32, false, in_companion);
                if let Some(Value::Object(c)) = companion {
                    self.walk_members(c, id, schema.element_def(), true, schema);
                }
                id
            }
        };
        self.nodes[id].end = self.nodes.len() as u32;
    }

    /// The children of `id`, in document order.
    pub fn children(&self, id: usize) -> impl Iterator<Item = usize> + '_ {
        let end = self.nodes[id].end as usize;
        let mut next = id + 1;
        std::iter::from_fn(move || {
            (next < end).then(|| {
                let c = next;
                next = self.nodes[c].end as usize;
                c
            })
        })
    }

    /// The child of `id` named `name` (element names, so `value` finds `valueQuantity`).
    pub fn children_named<'a>(
        &'a self,
        id: usize,
        name: &'a str,
    ) -> impl Iterator<Item = usize> + 'a {
        self.children(id)
            .filter(move |&c| self.nodes[c].name == name)
    }

    /// Nodes below `id` in document order, not descending into other resources (but listing
    /// them), as Microsoft's per-resource lookup does.
    pub fn descendants_within_resource(&self, id: usize) -> Vec<usize> {
        let end = self.nodes[id].end as usize;
        let mut out = Vec::with_capacity(end - id);
        let mut n = id + 1;
        while n < end {
            out.push(n);
            n = if self.nodes[n].resource {
                self.nodes[n].end as usize
            } else {
                n + 1
            };
        }
        out
    }

    /// Resources directly inside resource `id` (contained, Bundle entries …), in document order.
    pub fn child_resources(&self, id: usize) -> Vec<usize> {
        self.descendants_within_resource(id)
            .into_iter()
            .filter(|&n| self.nodes[n].resource)
            .collect()
    }

    pub fn parent_type(&self, id: usize) -> Option<&'static str> {
        (id != 0).then(|| self.nodes[self.nodes[id].parent as usize].ty)
    }

    /// The node's position from the root, for finding it again after a rebuild.
    pub fn path(&self, mut n: usize) -> Path {
        let mut out = Vec::new();
        while n != 0 {
            let node = &self.nodes[n];
            out.push((node.key.as_str().to_string(), node.index, node.in_companion));
            n = node.parent as usize;
        }
        out.reverse();
        out
    }

    pub fn find(&self, path: &Path) -> Option<usize> {
        let mut n = 0;
        for (key, index, in_companion) in path {
            n = self.children(n).find(|&c| {
                let node = &self.nodes[c];
                node.key.as_str() == key
                    && node.index == *index
                    && node.in_companion == *in_companion
            })?;
        }
        Some(n)
    }

    /// The node at a FHIRPath location below node `from` (`name/0/given/1`,
    /// `_birthDate/extension/0/valueDateTime`).
    pub fn locate(&self, from: usize, steps: &[salus_fhirpath::Step]) -> Option<usize> {
        let mut n = from;
        let mut i = 0;
        while i < steps.len() {
            let salus_fhirpath::Step::Key(k) = &steps[i] else {
                return None;
            };
            let key = k
                .strip_prefix('_')
                .filter(|_| !self.nodes[n].primitive)
                .unwrap_or(k);
            let index = match steps.get(i + 1) {
                Some(salus_fhirpath::Step::Index(x)) => {
                    i += 1;
                    Some(*x as u32)
                }
                _ => None,
            };
            n = self
                .children(n)
                .find(|&c| self.nodes[c].key.as_str() == key && self.nodes[c].index == index)?;
            i += 1;
        }
        Some(n)
    }

    /// The JSON value of node `n`: an object, or a primitive's scalar (`None` when absent).
    pub fn value<'v>(&self, root: &'v Value, n: usize) -> Option<&'v Value> {
        if n == 0 {
            return Some(root);
        }
        let node = &self.nodes[n];
        let container = self.container(root, n)?;
        let v = container.get(node.key.as_str())?;
        match node.index {
            Some(i) => v.get(i as usize),
            None => Some(v),
        }
    }

    /// The object holding node `n`'s key: its parent's object, or its parent's companion.
    fn container<'v>(&self, root: &'v Value, n: usize) -> Option<&'v Value> {
        let node = &self.nodes[n];
        let p = node.parent as usize;
        if !node.in_companion {
            return self.value(root, p);
        }
        let parent = &self.nodes[p];
        let holder = self.container(root, p)?;
        let c = holder.get(format!("_{}", parent.key.as_str()))?;
        match parent.index {
            Some(i) => c.get(i as usize),
            None => Some(c),
        }
    }

    pub fn value_mut<'v>(&self, root: &'v mut Value, n: usize) -> Option<&'v mut Value> {
        if n == 0 {
            return Some(root);
        }
        let node = &self.nodes[n];
        let container = self.container_mut(root, n)?;
        let v = container.get_mut(node.key.as_str())?;
        match node.index {
            Some(i) => v.get_mut(i as usize),
            None => Some(v),
        }
    }

    /// The object holding node `n`'s key, mutably.
    pub fn container_mut<'v>(&self, root: &'v mut Value, n: usize) -> Option<&'v mut Value> {
        let node = &self.nodes[n];
        let p = node.parent as usize;
        if !node.in_companion {
            return self.value_mut(root, p);
        }
        let parent = &self.nodes[p];
        let holder = self.container_mut(root, p)?;
        let c = holder.get_mut(format!("_{}", parent.key.as_str()))?;
        match parent.index {
            Some(i) => c.get_mut(i as usize),
            None => Some(c),
        }
    }

    /// Sets a primitive's value (`Value::Null` clears it; its `id`/`extension` stay), creating
    /// the slot when only the companion existed.
    pub fn set(&self, root: &mut Value, n: usize, value: Value) {
        if let Some(slot) = self.value_mut(root, n) {
            *slot = value;
            return;
        }
        if value.is_null() {
            return;
        }
        let node = &self.nodes[n];
        let Some(Value::Object(container)) = self.container_mut(root, n) else {
            return;
        };
        match node.index {
            None => {
                container.insert(node.key.as_str().to_string(), value);
            }
            Some(i) => {
                let slot = container
                    .entry(node.key.as_str().to_string())
                    .or_insert_with(|| Value::Array(Vec::new()));
                if let Value::Array(items) = slot {
                    while items.len() <= i as usize {
                        items.push(Value::Null);
                    }
                    items[i as usize] = value;
                }
            }
        }
    }

    /// A primitive's value as text (`None` when absent, null or empty). Booleans are written as
    /// .NET writes them, as Microsoft's hashes and ciphers saw them.
    pub fn text(&self, root: &Value, n: usize) -> Option<String> {
        match self.value(root, n)? {
            Value::String(s) if s.is_empty() => None,
            Value::String(s) => Some(s.clone()),
            Value::Number(num) => Some(num.to_string()),
            Value::Bool(b) => Some(if *b { "True".into() } else { "False".into() }),
            _ => None,
        }
    }
}

/// `obj["_key"]` without allocating the name.
fn companion_of<'a>(obj: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    let mut buf = [0u8; 64];
    let bytes = key.as_bytes();
    if bytes.len() + 1 > buf.len() {
        return obj.get(&format!("_{key}"));
    }
    buf[0] = b'_';
    buf[1..=bytes.len()].copy_from_slice(bytes);
    std::str::from_utf8(&buf[..=bytes.len()])
        .ok()
        .and_then(|k| obj.get(k))
}

/// Wraps single values of repeating elements in arrays (`"coding": {…}` → `"coding": [{…}]`),
/// as Microsoft's tool does when it reads such JSON, so output always has FHIR's shape.
pub fn normalize_repeats(value: &mut Value, def: Def, schema: &dyn Schema) {
    let Value::Object(obj) = value else { return };
    let def = match obj.get("resourceType").and_then(Value::as_str) {
        Some(rt) => schema.resource_type(rt).and_then(|(_, d)| d),
        None => def,
    };
    if def.is_none() {
        return;
    }
    for (key, child) in obj.iter_mut() {
        if key == "resourceType" {
            continue;
        }
        let (base, companion) = match key.strip_prefix('_') {
            Some(b) => (b, true),
            None => (key.as_str(), false),
        };
        let Some(info) = schema.element(def, base) else {
            continue;
        };
        if info.repeats && !child.is_array() && !child.is_null() {
            let single = std::mem::take(child);
            *child = Value::Array(vec![single]);
        }
        let child_def = if companion {
            schema.element_def()
        } else {
            info.def
        };
        match child {
            Value::Array(items) => {
                for item in items {
                    normalize_repeats(item, child_def, schema);
                }
            }
            other => normalize_repeats(other, child_def, schema),
        }
    }
}

/// Microsoft's final pass: an element with no value and no children is removed; a primitive
/// array keeps `null` placeholders only where the companion still carries something.
pub fn remove_empty(value: &mut Value) {
    match value {
        Value::Object(map) => {
            let mut paired = false;
            for (key, child) in map.iter_mut() {
                remove_empty(child);
                paired |= key.starts_with('_');
            }
            let aligned: Vec<String> = if paired {
                align_companions(map)
            } else {
                Vec::new()
            };
            map.retain(|k, v| {
                // Aligned pairs keep their null placeholders; other arrays lose empty items.
                if let Value::Array(items) = v {
                    if !aligned.iter().any(|a| a == k) {
                        items.retain(|i| !is_empty(i));
                    }
                }
                !is_empty(v)
            });
        }
        Value::Array(items) => {
            for item in items.iter_mut() {
                remove_empty(item);
            }
        }
        _ => {}
    }
}

/// For each `key`/`_key` pair of arrays, drops the positions where both are empty and keeps the
/// two aligned. Returns the keys of the pairs.
fn align_companions(map: &mut Map<String, Value>) -> Vec<String> {
    let pairs: Vec<String> = map
        .keys()
        .filter_map(|k| k.strip_prefix('_'))
        .filter(|base| map.get(*base).is_some_and(Value::is_array))
        .map(str::to_string)
        .collect();
    let mut aligned = Vec::new();
    for base in pairs {
        let companion_key = format!("_{base}");
        aligned.push(base.clone());
        aligned.push(companion_key.clone());
        let (Some(Value::Array(vs)), Some(Value::Array(cs))) =
            (map.get(&base), map.get(&companion_key))
        else {
            continue;
        };
        let len = vs.len().max(cs.len());
        let mut new_v = Vec::with_capacity(len);
        let mut new_c = Vec::with_capacity(len);
        for i in 0..len {
            let vi = vs.get(i).cloned().unwrap_or(Value::Null);
            let ci = cs.get(i).cloned().unwrap_or(Value::Null);
            if is_empty(&vi) && is_empty(&ci) {
                continue;
            }
            new_v.push(vi);
            new_c.push(ci);
        }
        let companion_used = new_c.iter().any(|c| !is_empty(c));
        let value_used = new_v.iter().any(|v| !is_empty(v));
        map.insert(
            base.clone(),
            if value_used {
                Value::Array(new_v)
            } else {
                Value::Null
            },
        );
        map.insert(
            companion_key,
            if companion_used {
                Value::Array(new_c)
            } else {
                Value::Null
            },
        );
    }
    aligned
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Object(m) => m.is_empty(),
        Value::Array(a) => a.iter().all(is_empty),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn empty_elements_go_and_placeholders_stay_only_where_needed() {
        let mut v = json!({
            "resourceType": "Patient",
            "name": [{"family": null, "given": [null, "B"], "_given": [{"id": "x"}, null]}, {"given": [null]}],
            "address": [{"line": [null]}],
            "birthDate": null,
            "_birthDate": {"extension": [{"url": "u", "valueDateTime": "2000"}]},
            "text": {"status": null, "div": null}
        });
        remove_empty(&mut v);
        assert_eq!(
            v,
            json!({
                "resourceType": "Patient",
                "name": [{"given": [null, "B"], "_given": [{"id": "x"}, null]}],
                "_birthDate": {"extension": [{"url": "u", "valueDateTime": "2000"}]}
            })
        );
    }
}
