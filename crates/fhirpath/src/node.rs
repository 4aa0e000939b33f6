//! What evaluation returns: elements of the resource (with the location a caller needs to
//! change them) or plain values.

use std::fmt;

use serde_json::Value as Json;

use crate::model::PrimitiveKind;
use crate::value::{PartialDateTime, Value};

/// One step from a JSON value to a value inside it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Step {
    /// An object member.
    Key(String),
    /// An array element.
    Index(usize),
}

/// Where a node is, as JSON steps from the evaluation root (the resource).
///
/// For a primitive element this is the location of its JSON value (`birthDate`,
/// `name/0/given/1`) whether or not the value is present; its `id`/`extension` live at
/// [`Node::companion_location`] (`_birthDate`, `name/0/_given/1`). Elements inside a
/// primitive's extensions are located through the companion (`_birthDate/extension/0/…`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Location {
    steps: Vec<Step>,
}

impl Location {
    pub(crate) fn from_steps(steps: Vec<Step>) -> Self {
        Location { steps }
    }

    /// The steps, outermost first; empty for the root itself.
    pub fn steps(&self) -> &[Step] {
        &self.steps
    }

    /// The location as an RFC 6901 JSON Pointer, for `serde_json::Value::pointer_mut`.
    pub fn pointer(&self) -> String {
        let mut out = String::new();
        for step in &self.steps {
            out.push('/');
            match step {
                Step::Key(k) => out.push_str(&k.replace('~', "~0").replace('/', "~1")),
                Step::Index(i) => out.push_str(&i.to_string()),
            }
        }
        out
    }

    /// Follows the location in `root`.
    pub fn resolve<'j>(&self, root: &'j Json) -> Option<&'j Json> {
        self.steps.iter().try_fold(root, |v, step| match step {
            Step::Key(k) => v.get(k.as_str()),
            Step::Index(i) => v.get(*i),
        })
    }

    /// Follows the location in `root` for writing.
    pub fn resolve_mut<'j>(&self, root: &'j mut Json) -> Option<&'j mut Json> {
        self.steps.iter().try_fold(root, |v, step| match step {
            Step::Key(k) => v.get_mut(k.as_str()),
            Step::Index(i) => v.get_mut(*i),
        })
    }

    /// The location of the `_name` companion of a primitive at this location.
    fn companion(&self) -> Option<Location> {
        let mut steps = self.steps.clone();
        let key_at = steps.iter().rposition(|s| matches!(s, Step::Key(_)))?;
        if let Step::Key(k) = &mut steps[key_at] {
            if k.starts_with('_') {
                return None;
            }
            k.insert(0, '_');
        }
        Some(Location { steps })
    }
}

impl fmt::Display for Location {
    /// A FHIRPath-like rendering (`name[0].given[1]`), for logs: keys and indices only.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for step in &self.steps {
            match step {
                Step::Key(k) => {
                    if !first {
                        f.write_str(".")?;
                    }
                    f.write_str(k)?;
                }
                Step::Index(i) => write!(f, "[{i}]")?,
            }
            first = false;
        }
        Ok(())
    }
}

/// An element of the resource that an expression selected.
#[derive(Debug, Clone, PartialEq)]
pub struct Node<'a> {
    pub(crate) json: Option<&'a Json>,
    pub(crate) companion: Option<&'a Json>,
    pub(crate) type_name: &'a str,
    pub(crate) name: &'a str,
    pub(crate) primitive: Option<PrimitiveKind>,
    pub(crate) location: Location,
}

impl<'a> Node<'a> {
    /// The FHIR type of the element (`HumanName`, `date`, `BackboneElement`, `Patient`);
    /// empty when the element is not in the type model.
    pub fn type_name(&self) -> &'a str {
        self.type_name
    }

    /// The FHIRPath element name (`value` for JSON `valueQuantity`); empty for the root.
    pub fn name(&self) -> &'a str {
        self.name
    }

    /// Where the element is (for a primitive, where its value is or would be).
    pub fn location(&self) -> &Location {
        &self.location
    }

    /// Where a primitive's `id`/`extension` companion is or would be; `None` for complex
    /// elements.
    pub fn companion_location(&self) -> Option<Location> {
        self.primitive.and_then(|_| self.location.companion())
    }

    /// The element's JSON: the object of a complex element, the scalar of a primitive
    /// (`None` for a primitive that only has a companion).
    pub fn json(&self) -> Option<&'a Json> {
        self.json
    }

    /// A primitive's `_name` companion object, if present.
    pub fn companion(&self) -> Option<&'a Json> {
        self.companion
    }

    /// Whether the element is a FHIR primitive (value plus optional companion).
    pub fn is_primitive(&self) -> bool {
        self.primitive.is_some()
    }

    /// A primitive element's value as a FHIRPath value; `None` for complex elements and for
    /// primitives without a value.
    pub fn value(&self) -> Option<Value> {
        primitive_value(self.primitive?, self.json?)
    }
}

/// One item of a FHIRPath result.
#[derive(Debug, Clone, PartialEq)]
pub enum Item<'a> {
    /// An element of the resource.
    Node(Node<'a>),
    /// A value computed by the expression (a literal, an operator's or function's result).
    Value(Value),
}

impl<'a> Item<'a> {
    /// The item as a FHIRPath value: a primitive node's value or the value itself.
    pub fn value(&self) -> Option<Value> {
        match self {
            Item::Node(n) => n.value(),
            Item::Value(v) => Some(v.clone()),
        }
    }

    /// The node, if the item is one.
    pub fn as_node(&self) -> Option<&Node<'a>> {
        match self {
            Item::Node(n) => Some(n),
            Item::Value(_) => None,
        }
    }
}

/// Reads a primitive's JSON scalar as the FHIRPath value of its kind. JSON of the wrong shape
/// (a number in a `string` element, a malformed date) is read by its JSON kind instead, so a
/// bad resource never stops evaluation.
pub(crate) fn primitive_value(kind: PrimitiveKind, json: &Json) -> Option<Value> {
    let by_json = |json: &Json| match json {
        Json::Bool(b) => Some(Value::Boolean(*b)),
        Json::String(s) => Some(Value::String(s.clone())),
        Json::Number(n) => Some(match n.as_i64() {
            Some(i) if !n.to_string().contains(['.', 'e', 'E']) => Value::Integer(i),
            _ => Value::Decimal(n.as_f64()?),
        }),
        _ => None,
    };
    match (kind, json) {
        (PrimitiveKind::Decimal, Json::Number(n)) => n.as_f64().map(Value::Decimal),
        (PrimitiveKind::Date, Json::String(s)) => Some(
            PartialDateTime::parse_date_time(s, false)
                .map_or_else(|| Value::String(s.clone()), Value::Date),
        ),
        (PrimitiveKind::DateTime, Json::String(s)) => Some(
            PartialDateTime::parse_date_time(s, true)
                .map_or_else(|| Value::String(s.clone()), Value::DateTime),
        ),
        (PrimitiveKind::Time, Json::String(s)) => Some(
            PartialDateTime::parse_time(s).map_or_else(|| Value::String(s.clone()), Value::Time),
        ),
        (PrimitiveKind::String, Json::Number(n)) => Some(Value::String(n.to_string())),
        _ => by_json(json),
    }
}
