//! Microsoft's `substitute`: an element is replaced by the `replaceWith` value, child by child,
//! while whatever earlier rules already processed inside it stays as those rules left it.

use serde_json::{Map, Value};

use crate::tree::Tree;

/// An element being rebuilt: its JSON key, primitive value and children.
#[derive(Debug, Clone)]
struct El {
    key: String,
    value: Option<Value>,
    children: Vec<El>,
    /// Processed by an earlier rule: left exactly as it is.
    visited: bool,
    /// Has a processed descendant: kept (emptied) rather than removed.
    keep: bool,
    /// The key held an array in the source (so it stays one).
    array: bool,
    primitive: bool,
    /// A resource inside the element: carried over untouched.
    opaque: Option<Value>,
}

impl El {
    fn dummy(key: &str) -> El {
        El {
            key: key.to_string(),
            value: None,
            children: Vec::new(),
            visited: false,
            keep: false,
            array: false,
            primitive: true,
            opaque: None,
        }
    }
}

/// Replaces node `id` of `tree` (inside `root`) by `replace_with`.
pub fn substitute(root: &mut Value, tree: &Tree, id: usize, replace_with: &Value) {
    let node = &tree.nodes[id];
    let key = node.key.as_str().to_string();
    let mut el = from_tree(root, tree, id, &key);
    let replacement = if node.primitive {
        El {
            value: match replace_with {
                Value::Null => None,
                Value::String(s) => Some(Value::String(s.clone())),
                other => Some(Value::String(other.to_string())),
            },
            ..El::dummy(&key)
        }
    } else {
        from_json(&key, replace_with, false)
    };
    // The element itself is not yet processed (the engine checked), whatever its children are.
    el.visited = false;
    substitute_el(&mut el, &replacement);
    write_back(root, tree, id, &el);
}

fn from_tree(root: &Value, tree: &Tree, id: usize, key: &str) -> El {
    let node = &tree.nodes[id];
    if node.resource && id != 0 {
        return El {
            opaque: tree.value(root, id).cloned(),
            visited: true,
            keep: true,
            ..El::dummy(key)
        };
    }
    let children: Vec<El> = tree
        .children(id)
        .map(|c| from_tree(root, tree, c, tree.nodes[c].key.as_str()))
        .collect();
    let visited = tree.visited[id];
    let keep = visited || children.iter().any(|c| c.keep);
    El {
        key: key.to_string(),
        value: if node.primitive {
            tree.value(root, id).filter(|v| !v.is_null()).cloned()
        } else {
            None
        },
        children,
        visited,
        keep,
        array: node.index.is_some(),
        primitive: node.primitive,
        opaque: None,
    }
}

fn from_json(key: &str, value: &Value, array: bool) -> El {
    match value {
        Value::Object(map) => {
            let mut children = Vec::new();
            for (k, v) in map {
                match v {
                    Value::Array(items) => {
                        children.extend(items.iter().map(|item| from_json(k, item, true)))
                    }
                    other => children.push(from_json(k, other, false)),
                }
            }
            El {
                key: key.to_string(),
                children,
                array,
                primitive: false,
                ..El::dummy(key)
            }
        }
        Value::Null => El {
            array,
            ..El::dummy(key)
        },
        scalar => El {
            value: Some(scalar.clone()),
            array,
            ..El::dummy(key)
        },
    }
}

fn substitute_el(node: &mut El, replacement: &El) {
    if node.visited {
        return;
    }
    let mut names: Vec<&str> = Vec::new();
    for c in &replacement.children {
        if !names.contains(&c.key.as_str()) {
            names.push(&c.key);
        }
    }
    let old = std::mem::take(&mut node.children);
    let mut rebuilt: Vec<El> = Vec::new();
    for name in &names {
        let targets: Vec<&El> = replacement
            .children
            .iter()
            .filter(|c| c.key == *name)
            .collect();
        let mut i = 0;
        for mut child in old.iter().filter(|c| c.key == *name).cloned() {
            if child.visited {
                i += 1;
            } else if i < targets.len() {
                substitute_el(&mut child, targets[i]);
                i += 1;
            } else if child.keep {
                substitute_el(&mut child, &El::dummy(name));
            } else {
                continue;
            }
            rebuilt.push(child);
        }
        for target in &targets[i.min(targets.len())..] {
            rebuilt.push((*target).clone());
        }
    }
    for mut child in old.into_iter().filter(|c| !names.contains(&c.key.as_str())) {
        if child.visited {
            rebuilt.push(child);
        } else if child.keep {
            let dummy = El::dummy(&child.key);
            substitute_el(&mut child, &dummy);
            rebuilt.push(child);
        }
    }
    node.children = rebuilt;
    node.value = replacement.value.clone();
}

/// Writes an element back where node `id` is: a primitive's value and companion, or a
/// complex object.
fn write_back(root: &mut Value, tree: &Tree, id: usize, el: &El) {
    let node = &tree.nodes[id];
    if !node.primitive {
        tree.set(root, id, Value::Object(children_object(&el.children)));
        return;
    }
    tree.set(root, id, el.value.clone().unwrap_or(Value::Null));
    let companion = children_object(&el.children);
    // The companion sits beside the value: `_key`, or `_key[i]`.
    let Some(container) = container_of(root, tree, id) else {
        return;
    };
    let companion_key = format!("_{}", node.key.as_str());
    let new = (!companion.is_empty()).then_some(Value::Object(companion));
    match node.index {
        None => match new {
            Some(c) => {
                container.insert(companion_key, c);
            }
            None => {
                container.remove(&companion_key);
            }
        },
        Some(i) => {
            let i = i as usize;
            if let Some(Value::Array(items)) = container.get_mut(&companion_key) {
                if i < items.len() {
                    items[i] = new.unwrap_or(Value::Null);
                }
            } else if let Some(c) = new {
                let mut items = vec![Value::Null; i + 1];
                items[i] = c;
                container.insert(companion_key, Value::Array(items));
            }
        }
    }
}

/// The object holding node `id`'s key.
fn container_of<'v>(
    root: &'v mut Value,
    tree: &Tree,
    id: usize,
) -> Option<&'v mut Map<String, Value>> {
    tree.container_mut(root, id)?.as_object_mut()
}

/// Groups children by key into a JSON object: primitives get `key` and `_key`, arrays stay
/// arrays.
fn children_object(children: &[El]) -> Map<String, Value> {
    let mut keys: Vec<&str> = Vec::new();
    for c in children {
        if !keys.contains(&c.key.as_str()) {
            keys.push(&c.key);
        }
    }
    let mut out = Map::new();
    for key in keys {
        let group: Vec<&El> = children.iter().filter(|c| c.key == key).collect();
        let array = group.len() > 1 || group.iter().any(|c| c.array);
        let rendered: Vec<(Value, Option<Value>)> = group.iter().map(|c| render(c)).collect();
        let has_companion = rendered.iter().any(|(_, c)| c.is_some());
        if array {
            out.insert(
                key.to_string(),
                Value::Array(rendered.iter().map(|(v, _)| v.clone()).collect()),
            );
            if has_companion {
                out.insert(
                    format!("_{key}"),
                    Value::Array(
                        rendered
                            .iter()
                            .map(|(_, c)| c.clone().unwrap_or(Value::Null))
                            .collect(),
                    ),
                );
            }
        } else if let Some((v, c)) = rendered.into_iter().next() {
            out.insert(key.to_string(), v);
            if let Some(c) = c {
                out.insert(format!("_{key}"), c);
            }
        }
    }
    out
}

/// An element as JSON: (value, companion for a primitive's id/extension).
fn render(el: &El) -> (Value, Option<Value>) {
    if let Some(raw) = &el.opaque {
        return (raw.clone(), None);
    }
    if el.primitive {
        let companion = children_object(&el.children);
        (
            el.value.clone().unwrap_or(Value::Null),
            (!companion.is_empty()).then_some(Value::Object(companion)),
        )
    } else {
        (Value::Object(children_object(&el.children)), None)
    }
}
