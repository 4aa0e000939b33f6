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

use std::borrow::Cow;

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
    /// Where the key was among its container's members when the document was indexed.
    pub pos: u32,
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
    /// The document may not have FHIR's shape: [`normalize_repeats`] could change it (a
    /// repeating element held as a single value), or it has JSON this index doesn't walk but
    /// `normalize_repeats` does (an object where a primitive belongs, a companion shaped unlike
    /// its value). Almost no document is, so the index is built first and normalization (and a
    /// second build) is paid only when this is set.
    pub irregular: bool,
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

/// Where a node's value sits in its container: the position of its key among the members, and
/// its index in the key's array, when the key holds one.
#[derive(Clone, Copy)]
struct At {
    pos: u32,
    index: Option<u32>,
}

impl Tree {
    /// Indexes `root`, which must be a resource (an object with a string `resourceType`).
    pub fn build(root: &Value, schema: &dyn Schema) -> Option<Tree> {
        Tree::build_reusing(root, schema, None)
    }

    /// [`Tree::build`] into the allocations of a tree no longer needed: a run indexes
    /// thousands of documents, and allocating each one's node vector anew was a visible cost.
    pub fn build_reusing(root: &Value, schema: &dyn Schema, spare: Option<Tree>) -> Option<Tree> {
        let rt = root.get("resourceType")?.as_str()?;
        let (ty, def) = schema.resource_type(rt).unwrap_or(("", None));
        let mut tree = match spare {
            Some(mut t) => {
                t.nodes.clear();
                t.visited.clear();
                t.irregular = false;
                t
            }
            None => Tree {
                nodes: Vec::with_capacity(128),
                visited: Vec::new(),
                irregular: false,
            },
        };
        let kind = Kind {
            name: "",
            ty,
            def,
            primitive: false,
        };
        tree.push(
            Key::Static(""),
            At {
                pos: 0,
                index: None,
            },
            kind,
            0,
            true,
            false,
        );
        let obj = root.as_object()?;
        tree.walk_members(obj, Shape::of(obj), 0, def, false, schema);
        tree.nodes[0].end = tree.nodes.len() as u32;
        tree.visited.resize(tree.nodes.len(), false);
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
        at: At,
        kind: Kind,
        parent: u32,
        resource: bool,
        in_companion: bool,
    ) -> usize {
        self.nodes.push(Node {
            parent,
            end: 0,
            key,
            pos: at.pos,
            index: at.index,
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
        shape: Shape,
        parent: usize,
        def: Def,
        in_companion: bool,
        schema: &dyn Schema,
    ) {
        for (pos, (json_key, value)) in obj.iter().enumerate() {
            let pos = pos as u32;
            if json_key == "resourceType" {
                continue;
            }
            if json_key == "fhir_comments" {
                // Not indexed, but normalized like any member the schema knows.
                let info = schema.element(def, json_key);
                self.irregular |= info.is_some_and(|e| e.repeats && !is_array_or_null(value));
                continue;
            }
            let (base, from_companion) = match json_key.strip_prefix('_') {
                Some(base) if obj.contains_key(base) => continue,
                Some(base) => (base, true),
                None => (json_key.as_str(), false),
            };
            let companion = if from_companion {
                Some(value)
            } else if shape.has_companions {
                companion_of(obj, json_key)
            } else {
                None
            };
            let value_slot = if from_companion { None } else { Some(value) };
            let info = schema.element(def, base);
            // A repeating element (or its companion) held as a single value: normalized first.
            self.irregular |= info.is_some_and(|e| {
                e.repeats
                    && [value_slot, companion]
                        .iter()
                        .flatten()
                        .any(|v| !is_array_or_null(v))
            });
            let (key, kind) = match info {
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
            let array = matches!(value_slot.or(companion), Some(Value::Array(_)));
            // A companion shaped unlike its value is not walked here (but is normalized).
            self.irregular |= companion.is_some_and(|c| !c.is_null() && c.is_array() != array);
            if array {
                let len = value_slot
                    .and_then(Value::as_array)
                    .map_or(0, Vec::len)
                    .max(companion.and_then(Value::as_array).map_or(0, Vec::len));
                for i in 0..len {
                    let item = value_slot.and_then(|v| v.get(i));
                    let item_companion = companion.and_then(|c| c.get(i));
                    let at = At {
                        pos,
                        index: Some(i as u32),
                    };
                    self.add_element(
                        key.clone(),
                        at,
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
                    At { pos, index: None },
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
        at: At,
        kind: Kind,
        value: Option<&Value>,
        companion: Option<&Value>,
        parent: usize,
        in_companion: bool,
        schema: &dyn Schema,
    ) {
        let shape = match value {
            Some(Value::Object(obj)) => Shape::of(obj),
            _ => Shape::default(),
        };
        let id = match value {
            Some(Value::Object(obj)) if !kind.primitive || shape.resource_type.is_some() => {
                let (kind, resource) = match shape.resource_type.and_then(Value::as_str) {
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
                // The companion of a complex element is not walked here (but is normalized).
                self.irregular |= companion.is_some_and(|c| !c.is_null());
                let id = self.push(key, at, kind, parent as u32, resource, in_companion);
                self.walk_members(obj, shape, id, kind.def, false, schema);
                id
            }
            _ => {
                // An object where a primitive belongs is not walked here (but is normalized).
                self.irregular |= value.is_some_and(Value::is_object);
                let kind = Kind {
                    primitive: true,
                    ..kind
                };
                let id = self.push(key, at, kind, parent as u32, false, in_companion);
                if let Some(Value::Object(c)) = companion {
                    let def = schema.element_def();
                    self.walk_members(c, Shape::of(c), id, def, true, schema);
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
    pub fn descendants_within_resource(&self, id: usize) -> impl Iterator<Item = usize> + '_ {
        let end = self.nodes[id].end as usize;
        let mut next = id + 1;
        std::iter::from_fn(move || {
            (next < end).then(|| {
                let n = next;
                next = if self.nodes[n].resource {
                    self.nodes[n].end as usize
                } else {
                    n + 1
                };
                n
            })
        })
    }

    /// Resources directly inside resource `id` (contained, Bundle entries …), in document order.
    pub fn child_resources(&self, id: usize) -> Vec<usize> {
        self.descendants_within_resource(id)
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
        let container = self.container(root, n)?.as_object()?;
        let v = member(container, node.pos, node.key.as_str())?;
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
        let container = self.container_mut(root, n)?.as_object_mut()?;
        let v = member_mut(container, node.pos, node.key.as_str())?;
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

    /// A primitive's value as text (`None` when absent, null or empty), see [`primitive_text`].
    pub fn text(&self, root: &Value, n: usize) -> Option<String> {
        self.value(root, n)
            .and_then(primitive_text)
            .map(Cow::into_owned)
    }
}

/// A primitive's JSON value as text (`None` when null or empty), borrowed when it is a string.
/// Booleans are written as .NET writes them, as Microsoft's hashes and ciphers saw them.
pub fn primitive_text(value: &Value) -> Option<Cow<'_, str>> {
    match value {
        Value::String(s) if s.is_empty() => None,
        Value::String(s) => Some(Cow::Borrowed(s)),
        Value::Number(num) => Some(Cow::Owned(num.to_string())),
        Value::Bool(b) => Some(Cow::Borrowed(if *b { "True" } else { "False" })),
        _ => None,
    }
}

/// What one pass over an object's members tells, before walking them.
#[derive(Default, Clone, Copy)]
struct Shape<'v> {
    /// Its `resourceType`, when it has one: the object is a resource.
    resource_type: Option<&'v Value>,
    /// Some key is a `_key` companion. Most objects have none: knowing it spares a companion
    /// lookup per key.
    has_companions: bool,
}

impl<'v> Shape<'v> {
    /// Found by comparing keys, which are read anyway, rather than by a hashed lookup.
    fn of(obj: &'v Map<String, Value>) -> Shape<'v> {
        let mut shape = Shape::default();
        for (key, value) in obj {
            if key.starts_with('_') {
                shape.has_companions = true;
            } else if key == "resourceType" {
                shape.resource_type = Some(value);
            }
        }
        shape
    }
}

/// `obj[key]`, looked for at `pos` first. Nodes remember where their key was, which spares
/// hashing it (serde_json's maps use SipHash) on every access; a map changed since (a member
/// removed or added) gets the hashed lookup.
fn member<'v>(obj: &'v Map<String, Value>, pos: u32, key: &str) -> Option<&'v Value> {
    match obj.iter().nth(pos as usize) {
        Some((k, v)) if k == key => Some(v),
        _ => obj.get(key),
    }
}

/// [`member`], mutably.
fn member_mut<'v>(obj: &'v mut Map<String, Value>, pos: u32, key: &str) -> Option<&'v mut Value> {
    let found = obj.iter().nth(pos as usize).is_some_and(|(k, _)| k == key);
    if found {
        obj.iter_mut().nth(pos as usize).map(|(_, v)| v)
    } else {
        obj.get_mut(key)
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
            // Most objects have nothing to remove: they are left without rewriting the map.
            let mut untidy = false;
            for (key, child) in map.iter_mut() {
                if matches!(child, Value::Object(_) | Value::Array(_)) {
                    remove_empty(child);
                }
                paired |= key.starts_with('_');
                untidy |= is_empty(child)
                    || matches!(child, Value::Array(items) if items.iter().any(is_empty));
            }
            if !paired && !untidy {
                return;
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
                if matches!(item, Value::Object(_) | Value::Array(_)) {
                    remove_empty(item);
                }
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

fn is_array_or_null(v: &Value) -> bool {
    matches!(v, Value::Array(_) | Value::Null)
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
pub(crate) mod tests {
    use super::*;
    use crate::select::R4Schema;
    use proptest::prelude::*;
    use serde_json::json;

    /// Resources of every shape normalization cares about: repeating elements as arrays and as
    /// single values, primitives with `_key` companions (aligned or not), complex elements with
    /// companions, objects where primitives belong, nested resources, unknown members.
    pub(crate) fn resource() -> impl Strategy<Value = Value> {
        let key = prop_oneof![
            Just("name"),
            Just("given"),
            Just("_given"),
            Just("family"),
            Just("_family"),
            Just("_name"),
            Just("birthDate"),
            Just("_birthDate"),
            Just("extension"),
            Just("url"),
            Just("valueString"),
            Just("valueCodeableConcept"),
            Just("coding"),
            Just("telecom"),
            Just("address"),
            Just("line"),
            Just("_line"),
            Just("contained"),
            Just("resourceType"),
            Just("fhir_comments"),
            Just("id"),
            Just("text"),
            Just("div"),
            Just("unknownThing"),
        ];
        let leaf = prop_oneof![
            Just(Value::Null),
            Just(json!("x")),
            Just(json!("")),
            Just(json!(7)),
            Just(json!("Patient")),
            Just(json!({})),
            Just(json!([])),
        ];
        let body = leaf.prop_recursive(4, 40, 5, move |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..3).prop_map(Value::Array),
                prop::collection::vec((key.clone(), inner), 0..5).prop_map(|kv| {
                    Value::Object(kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
                }),
            ]
        });
        (body, prop_oneof![Just("Patient"), Just("Organization")]).prop_map(|(b, rt)| {
            let mut r = match b {
                Value::Object(m) => m,
                other => [("name".to_string(), other)].into_iter().collect(),
            };
            r.insert("resourceType".into(), json!(rt));
            Value::Object(r)
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1024))]

        /// The engine normalizes only documents the index calls irregular: for any other,
        /// normalization must change nothing.
        #[test]
        fn only_irregular_documents_need_normalizing(r in resource()) {
            let tree = Tree::build(&r, &R4Schema).unwrap();
            let mut normalized = r.clone();
            normalize_repeats(&mut normalized, None, &R4Schema);
            if !tree.irregular {
                prop_assert_eq!(&normalized, &r);
            }
        }

        /// Reusing a tree's allocations builds the same index as building afresh.
        #[test]
        fn a_reused_tree_indexes_alike(a in resource(), b in resource()) {
            let spare = Tree::build(&a, &R4Schema);
            let fresh = Tree::build(&b, &R4Schema).unwrap();
            let reused = Tree::build_reusing(&b, &R4Schema, spare).unwrap();
            prop_assert_eq!(format!("{:?}", fresh.nodes), format!("{:?}", reused.nodes));
            prop_assert_eq!(fresh.visited, reused.visited);
            prop_assert_eq!(fresh.irregular, reused.irregular);
        }
    }

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
