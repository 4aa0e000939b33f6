//! The compiled mapping of one table, and building a resource from one row with it.
//!
//! A mapping is compiled once (paths parsed into a tree, formats into chrono items, value
//! maps into hash maps, templates into parts), so that a row costs only the look-ups and the
//! conversions its cells need. The output tree mirrors the resource: objects with their keys
//! in the order the mapping first names them, arrays with their elements in index order, and
//! leaves naming the fields that may fill them (the first that yields a value wins).
//!
//! # Which elements appear
//!
//! A field fed by a column whose cell is empty yields nothing. An object or array element is
//! left out when nothing in it yields a value; and when its subtree reads any column at all,
//! it is also left out when none of those columns yielded a value, even if constants in it did:
//! `identifier[1].system` (a constant) disappears with `identifier[1].value` (the SSN column)
//! when the SSN is empty, instead of leaving an identifier with a system and no value. An
//! object made of constants only (a fixed `category`) is always there.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::{Map, Value};

use crate::convert::Kind;

/// A column the table reads.
#[derive(Debug, Clone)]
pub struct ColumnSpec {
    /// As written in the mapping; matched to the header without regard to ASCII case.
    pub name: String,
    /// May be missing from the header (then every cell of it reads as empty).
    pub optional: bool,
}

/// A key template: `{Id}`, `{PATIENT}|{CODE}|{START}`, `{ENCOUNTER?}`.
#[derive(Debug, Clone)]
pub struct Template {
    pub parts: Vec<Part>,
}

#[derive(Debug, Clone)]
pub enum Part {
    Text(String),
    /// A column; `optional` placeholders (`{X?}`) may be empty.
    Column {
        col: usize,
        optional: bool,
    },
}

/// What a field does with a value its map does not list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unmapped {
    Reject,
    Omit,
    Keep,
}

#[derive(Debug, Clone)]
pub enum Test {
    Equals(String),
    OneOf(Vec<String>),
    Present(bool),
}

#[derive(Debug, Clone)]
pub struct Cond {
    pub col: usize,
    pub test: Test,
}

#[derive(Debug, Clone)]
pub enum Source {
    Column(usize),
    Constant(Value),
    /// A reference to another table's resource: `<Type>/<derive_id(key_prefix + key)>`.
    Reference {
        key: Template,
        type_prefix: String,
        key_prefix: String,
    },
}

#[derive(Debug, Clone)]
pub struct Field {
    /// `field 3` (1-based, in mapping order), or `patient`: for messages.
    pub label: String,
    /// The path as written, for messages.
    pub path: String,
    pub source: Source,
    pub kind: Kind,
    pub map: Option<Arc<HashMap<String, String>>>,
    pub unmapped: Unmapped,
    pub default: Option<Value>,
    pub when: Option<Cond>,
    pub required: bool,
}

impl Field {
    pub fn reads_column(&self) -> bool {
        !matches!(self.source, Source::Constant(_))
    }
}

/// The output tree.
#[derive(Debug, Clone)]
pub enum Node {
    /// Field indices, in mapping order.
    Leaf(Vec<usize>),
    Object {
        children: Vec<(String, Node)>,
        reads_column: bool,
        /// The object's number in the plan (0 is the resource), for its [`Templates`].
        id: usize,
    },
    /// Elements by index, sorted.
    Array {
        elements: Vec<(u32, Node)>,
        reads_column: bool,
    },
}

/// Why a row could not be mapped: the column at fault (when one is) and the rule it broke.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    pub column: Option<usize>,
    pub reason: String,
}

/// A field's value and whether a column supplied it (a constant or default did not).
pub type Yield = Option<(Value, bool)>;

/// The most templates kept per object (one per combination of present keys seen).
const MAX_TEMPLATES: usize = 16;

/// The most elements one object of the plan may have (a bit each in a `u64` mask).
pub const MAX_CHILDREN: usize = 64;

/// Prebuilt objects, per object of the plan and combination of present keys.
///
/// Inserting into a `serde_json::Map` (an IndexMap with SipHash under `preserve_order`)
/// hashes the key, which was the largest single cost of building a resource. Cloning a map
/// copies its hash table instead, so each object is made by cloning a template that has the
/// keys present in this row (in plan order, values `null`) and putting the values in place.
/// Rows of one file mostly present the same few combinations.
pub struct Templates {
    slots: Vec<Vec<(u64, Map<String, Value>)>>,
}

impl Templates {
    /// For a plan with `objects` object nodes (numbered from 0, the resource itself).
    pub fn new(objects: usize) -> Self {
        Templates {
            slots: (0..objects).map(|_| Vec::new()).collect(),
        }
    }
}

/// Build the resource: `head` (resourceType, id, meta) then the plan's top-level elements.
pub fn build_resource(
    children: &[(String, Node)],
    head: [(&'static str, Value); 3],
    eval: &mut dyn FnMut(usize) -> Result<Yield, RowError>,
    templates: &mut Templates,
) -> Result<Map<String, Value>, RowError> {
    let (map, _) = object(children, 0, head, eval, templates)?;
    Ok(map.unwrap_or_default())
}

fn object<const H: usize>(
    children: &[(String, Node)],
    id: usize,
    head: [(&'static str, Value); H],
    eval: &mut dyn FnMut(usize) -> Result<Yield, RowError>,
    templates: &mut Templates,
) -> Result<(Option<Map<String, Value>>, bool), RowError> {
    let mut values: Vec<Value> = Vec::with_capacity(H + children.len());
    let mut head_keys = [""; H];
    for (i, (k, v)) in head.into_iter().enumerate() {
        head_keys[i] = k;
        values.push(v);
    }
    let mut mask = 0u64;
    let mut contributed = false;
    for (i, (_, node)) in children.iter().enumerate() {
        if let Some((value, from_column)) = build(node, eval, templates)? {
            mask |= 1 << i;
            contributed |= from_column;
            values.push(value);
        }
    }
    if values.is_empty() {
        return Ok((None, false));
    }
    let slot = &mut templates.slots[id];
    let mut map = match slot.iter().find(|(m, _)| *m == mask) {
        Some((_, template)) => template.clone(),
        None => {
            let mut template = Map::with_capacity(values.len());
            for k in head_keys {
                template.insert(k.to_owned(), Value::Null);
            }
            for (i, (k, _)) in children.iter().enumerate() {
                if mask & (1 << i) != 0 {
                    template.insert(k.clone(), Value::Null);
                }
            }
            if slot.len() < MAX_TEMPLATES {
                slot.push((mask, template.clone()));
            }
            template
        }
    };
    for (place, value) in map.values_mut().zip(values) {
        *place = value;
    }
    Ok((Some(map), contributed))
}

fn build(
    node: &Node,
    eval: &mut dyn FnMut(usize) -> Result<Yield, RowError>,
    templates: &mut Templates,
) -> Result<Yield, RowError> {
    match node {
        Node::Leaf(fields) => {
            for &f in fields {
                if let Some(y) = eval(f)? {
                    return Ok(Some(y));
                }
            }
            Ok(None)
        }
        Node::Object {
            children,
            reads_column,
            id,
        } => {
            let (map, contributed) = object(children, *id, [], eval, templates)?;
            match map {
                Some(map) if contributed || !*reads_column => {
                    Ok(Some((Value::Object(map), contributed)))
                }
                _ => Ok(None),
            }
        }
        Node::Array {
            elements,
            reads_column,
        } => {
            let mut items = Vec::with_capacity(elements.len());
            let mut contributed = false;
            for (_, element) in elements {
                if let Some((value, from_column)) = build(element, eval, templates)? {
                    contributed |= from_column;
                    items.push(value);
                }
            }
            if items.is_empty() || (*reads_column && !contributed) {
                Ok(None)
            } else {
                Ok(Some((Value::Array(items), contributed)))
            }
        }
    }
}

/// Percent-encode `%` and `|` in a value placed in a key, so that the parts of a key joined
/// by `|` cannot run into each other (`a|b` + `c` and `a` + `b|c` stay different keys).
pub fn push_key_part(key: &mut String, value: &str) {
    if !value.bytes().any(|b| b == b'%' || b == b'|') {
        key.push_str(value);
        return;
    }
    for c in value.chars() {
        match c {
            '%' => key.push_str("%25"),
            '|' => key.push_str("%7C"),
            _ => key.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaf(i: usize) -> Node {
        Node::Leaf(vec![i])
    }

    fn head() -> [(&'static str, Value); 3] {
        [
            ("resourceType", Value::from("Patient")),
            ("id", Value::from("x")),
            ("meta", Value::Object(Map::new())),
        ]
    }

    #[test]
    fn objects_anchored_to_their_columns_vanish_with_them() {
        // identifier[0] = {system: constant (field 0), value: column (field 1)}
        // category = {text: constant (field 2)}
        let tree = vec![
            (
                "identifier".to_owned(),
                Node::Array {
                    elements: vec![(
                        0,
                        Node::Object {
                            children: vec![("system".into(), leaf(0)), ("value".into(), leaf(1))],
                            reads_column: true,
                            id: 1,
                        },
                    )],
                    reads_column: true,
                },
            ),
            (
                "category".to_owned(),
                Node::Object {
                    children: vec![("text".into(), leaf(2))],
                    reads_column: false,
                    id: 2,
                },
            ),
        ];
        let mut templates = Templates::new(3);
        let mut run = |value_present: bool| {
            let out = build_resource(
                &tree,
                head(),
                &mut |f| {
                    Ok(match f {
                        0 => Some((Value::from("sys"), false)),
                        1 if value_present => Some((Value::from("v"), true)),
                        1 => None,
                        _ => Some((Value::from("fixed"), false)),
                    })
                },
                &mut templates,
            )
            .unwrap();
            Value::Object(out)
        };
        assert_eq!(
            run(true).to_string(),
            r#"{"resourceType":"Patient","id":"x","meta":{},"identifier":[{"system":"sys","value":"v"}],"category":{"text":"fixed"}}"#
        );
        assert_eq!(
            run(false).to_string(),
            r#"{"resourceType":"Patient","id":"x","meta":{},"category":{"text":"fixed"}}"#
        );
        // Templates are reused: the same shapes again.
        assert_eq!(run(false), run(false));
    }

    #[test]
    fn arrays_are_compacted_and_first_field_wins() {
        let tree = vec![(
            "given".to_owned(),
            Node::Array {
                elements: vec![(0, Node::Leaf(vec![0, 1])), (1, leaf(2))],
                reads_column: true,
            },
        )];
        let out = build_resource(
            &tree,
            head(),
            &mut |f| {
                Ok(match f {
                    0 => None,
                    1 => Some((Value::from("second"), true)),
                    _ => Some((Value::from("third"), true)),
                })
            },
            &mut Templates::new(1),
        )
        .unwrap();
        assert_eq!(
            Value::Object(out).to_string(),
            r#"{"resourceType":"Patient","id":"x","meta":{},"given":["second","third"]}"#
        );
    }

    #[test]
    fn key_parts_cannot_run_together() {
        let mut a = String::new();
        push_key_part(&mut a, "a|b");
        a.push('|');
        push_key_part(&mut a, "c");
        let mut b = String::new();
        push_key_part(&mut b, "a");
        b.push('|');
        push_key_part(&mut b, "b|c");
        assert_ne!(a, b);
        assert_eq!(a, "a%7Cb|c");
    }
}
