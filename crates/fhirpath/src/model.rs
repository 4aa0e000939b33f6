//! The FHIR type model FHIRPath needs: which type each element of each type has, which
//! elements are choices (`value[x]`), which types are primitives and what the resource
//! hierarchy is.
//!
//! It is read from the official FHIR R4 JSON schema rather than from StructureDefinitions
//! because Salus already ships that schema for validation, and everything FHIRPath typing
//! needs is in it: `definitions.<Type>.properties.<name>` names the element's type with
//! `$ref` (or `items.$ref` for arrays); choice elements appear once per type (`valueQuantity`,
//! `valueString`, …); backbone elements are definitions of their own (`Patient_Contact`).
//! Everything is resolved to small integer ids once, so walking a resource costs one hash
//! lookup per JSON key and no allocation.

use std::collections::HashMap;
use std::sync::OnceLock;

use serde_json::Value;

/// Identifies a type inside one [`TypeModel`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TypeId(pub(crate) u32);

/// What kind of FHIR type a definition is; decides how instances are navigated and compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TypeKind {
    /// A primitive (`string`, `date`, …): a JSON scalar plus an optional `_name` companion.
    Primitive(PrimitiveKind),
    /// A complex data type (`HumanName`, `Quantity`, …).
    Complex,
    /// A backbone element of a resource (`Patient_Contact`); its FHIR type is `BackboneElement`.
    Backbone,
    /// A nested element of a data type (`Timing_Repeat`); its FHIR type is `Element`.
    NestedElement,
    /// A resource; `domain` says whether it is a `DomainResource`.
    Resource {
        /// Whether the resource specializes `DomainResource` (all but Bundle, Binary, Parameters).
        domain: bool,
    },
    /// A place any resource may stand (`contained`, `Bundle.entry.resource`): the concrete
    /// type comes from the instance's `resourceType`.
    AnyResource,
}

/// The FHIRPath (System) value a primitive type's JSON holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrimitiveKind {
    /// `boolean`.
    Boolean,
    /// `integer`, `positiveInt`, `unsignedInt`.
    Integer,
    /// `decimal`.
    Decimal,
    /// `date`.
    Date,
    /// `dateTime`, `instant`.
    DateTime,
    /// `time`.
    Time,
    /// Every other primitive (`string`, `code`, `uri`, `id`, `base64Binary`, `xhtml`, …).
    String,
}

/// One JSON property of a type.
#[derive(Debug, Clone)]
pub(crate) struct Prop {
    /// The FHIRPath element name (`value` for `valueQuantity`).
    pub name: Box<str>,
    /// The element's type.
    pub ty: TypeId,
    /// Whether the element repeats (the schema gives it as an array).
    pub repeats: bool,
}

/// How a FHIRPath element name maps to JSON.
#[derive(Debug, Clone, Copy)]
pub(crate) enum NameProp {
    /// The JSON key is the element name.
    Plain(TypeId),
    /// A choice element: the JSON key is the name plus a type suffix.
    Choice,
}

#[derive(Debug)]
pub(crate) struct TypeDef {
    pub name: Box<str>,
    pub kind: TypeKind,
    /// JSON key (without `_` companions) → property.
    pub by_key: FastMap<Prop>,
    /// FHIRPath element name → property kind.
    pub by_name: FastMap<NameProp>,
}

/// Keys are the schema's names and JSON keys looked up against them: short and trusted (the map
/// is built from the schema and only read), so a fast hash beats SipHash and flooding is no
/// concern.
pub(crate) type FastMap<V> = HashMap<Box<str>, V, rustc_hash::FxBuildHasher>;

/// Errors building a [`TypeModel`] from schema text.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// The text is not JSON.
    #[error("the schema is not JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// The JSON lacks what a FHIR JSON schema has.
    #[error("the schema has no `definitions` object")]
    NoDefinitions,
}

/// The FHIR types, their elements and hierarchy, as FHIRPath needs them.
#[derive(Debug)]
pub struct TypeModel {
    pub(crate) types: Vec<TypeDef>,
    by_name: FastMap<TypeId>,
    /// The type of an `id`/`extension` pair on a primitive (the schema's `Element`).
    pub(crate) element: Option<TypeId>,
}

impl TypeModel {
    /// The model of the FHIR R4 schema Salus ships, built on first use and shared.
    pub fn r4() -> &'static TypeModel {
        static MODEL: OnceLock<TypeModel> = OnceLock::new();
        MODEL.get_or_init(|| {
            // The schema is compiled into the binary and checked by the tests; failing here
            // would mean a broken build, not bad input.
            TypeModel::from_schema_json(include_str!("../../../schemas/fhir.schema.json"))
                .expect("the bundled FHIR R4 schema is a FHIR JSON schema")
        })
    }

    /// Builds the model from the text of a FHIR JSON schema (draft-06 layout, as published
    /// with each FHIR release).
    pub fn from_schema_json(text: &str) -> Result<TypeModel, ModelError> {
        let schema: Value = serde_json::from_str(text.trim_start_matches('\u{feff}'))?;
        let defs = schema
            .get("definitions")
            .and_then(Value::as_object)
            .ok_or(ModelError::NoDefinitions)?;

        let mut by_name: FastMap<TypeId> = FastMap::default();
        let mut names: Vec<&str> = Vec::with_capacity(defs.len());
        for name in defs.keys() {
            by_name.insert(name.as_str().into(), TypeId(names.len() as u32));
            names.push(name);
        }
        let is_resource = |def: &Value| {
            def.pointer("/properties/resourceType/const")
                .is_some_and(Value::is_string)
        };
        // Primitive definitions' patterns, to type inline primitive properties.
        let mut pattern_owner: HashMap<&str, Option<&str>> = HashMap::new();
        for (name, def) in defs {
            if def.get("properties").is_none() && def.get("oneOf").is_none() {
                if let Some(p) = def.get("pattern").and_then(Value::as_str) {
                    pattern_owner
                        .entry(p)
                        .and_modify(|owner| *owner = None)
                        .or_insert(Some(name.as_str()));
                }
            }
        }

        let mut types = Vec::with_capacity(names.len());
        for name in &names {
            let def = &defs[*name];
            let kind = if def.get("oneOf").is_some() {
                TypeKind::AnyResource
            } else if def.get("properties").is_none() {
                TypeKind::Primitive(primitive_kind(name))
            } else if is_resource(def) {
                let domain = !matches!(*name, "Bundle" | "Binary" | "Parameters");
                TypeKind::Resource { domain }
            } else if let Some((owner, _)) = name.split_once('_') {
                if defs.get(owner).is_some_and(is_resource) {
                    TypeKind::Backbone
                } else {
                    TypeKind::NestedElement
                }
            } else {
                TypeKind::Complex
            };
            types.push(TypeDef {
                name: (*name).into(),
                kind,
                by_key: FastMap::default(),
                by_name: FastMap::default(),
            });
        }

        let string_ty = by_name.get("string").copied();
        for (index, name) in names.iter().enumerate() {
            let Some(props) = defs[*name].get("properties").and_then(Value::as_object) else {
                continue;
            };
            let declared = |p: &Value| -> Option<TypeId> {
                let p = if p.get("type").and_then(Value::as_str) == Some("array") {
                    p.get("items")?
                } else {
                    p
                };
                let r = p.get("$ref")?.as_str()?;
                by_name.get(r.rsplit('/').next()?).copied()
            };
            // Choice groups: a base name shared by two or more keys `base` + `TypeName`,
            // each of which (where the schema names it) has that type.
            let mut groups: HashMap<&str, Vec<(&str, TypeId)>> = HashMap::new();
            let mut spoiled: Vec<&str> = Vec::new();
            for (key, p) in props {
                if key.starts_with('_') || key == "resourceType" {
                    continue;
                }
                for (i, c) in key.char_indices().skip(1) {
                    if !c.is_ascii_uppercase() {
                        continue;
                    }
                    let (base, suffix) = key.split_at(i);
                    let Some(ty) = suffix_type(suffix, &by_name) else {
                        continue;
                    };
                    if declared(p).is_some_and(|d| d != ty) {
                        spoiled.push(base);
                    }
                    groups.entry(base).or_default().push((key, ty));
                }
            }
            let mut by_key: FastMap<Prop> = FastMap::default();
            let mut by_name_map: FastMap<NameProp> = FastMap::default();
            for (base, members) in &groups {
                if members.len() < 2 || spoiled.contains(base) {
                    continue;
                }
                for (key, ty) in members {
                    by_key.insert(
                        (*key).into(),
                        Prop {
                            name: (*base).into(),
                            ty: *ty,
                            repeats: false,
                        },
                    );
                }
                by_name_map.insert((*base).into(), NameProp::Choice);
            }
            for (key, p) in props {
                let is_type_tag = key == "resourceType" && p.get("const").is_some();
                if key.starts_with('_') || is_type_tag || by_key.contains_key(key.as_str()) {
                    continue;
                }
                let ty = declared(p)
                    .or_else(|| inline_type(p, &pattern_owner, &by_name))
                    .or(string_ty);
                let Some(ty) = ty else { continue };
                by_key.insert(
                    key.as_str().into(),
                    Prop {
                        name: key.as_str().into(),
                        ty,
                        repeats: p.get("type").and_then(Value::as_str) == Some("array"),
                    },
                );
                by_name_map.insert(key.as_str().into(), NameProp::Plain(ty));
            }
            types[index].by_key = by_key;
            types[index].by_name = by_name_map;
        }
        let element = by_name.get("Element").copied();
        Ok(TypeModel {
            types,
            by_name,
            element,
        })
    }

    /// The id of a type by its schema definition name (`Patient`, `HumanName`, `date`,
    /// `Patient_Contact`).
    pub fn type_id(&self, name: &str) -> Option<TypeId> {
        self.by_name.get(name).copied()
    }

    /// The schema definition name of a type (`Patient_Contact` for a backbone element).
    pub fn definition_name(&self, ty: TypeId) -> &str {
        &self.def(ty).name
    }

    /// The FHIR type name FHIRPath reports for instances of a type: the definition name,
    /// except `BackboneElement` for resource backbone elements and `Element` for nested
    /// elements of data types, as in the FHIR specification.
    pub fn fhir_type_name(&self, ty: TypeId) -> &str {
        let def = self.def(ty);
        match def.kind {
            TypeKind::Backbone => "BackboneElement",
            TypeKind::NestedElement => "Element",
            TypeKind::AnyResource => "Resource",
            _ => &def.name,
        }
    }

    /// The kind of a type.
    pub fn kind(&self, ty: TypeId) -> TypeKind {
        self.def(ty).kind
    }

    /// Whether instances of `ty` are of the FHIR type named `name`: the same type, or a
    /// specialization of it (`Resource`, `DomainResource`, `Element`, `BackboneElement`).
    /// A `FHIR.` prefix is accepted.
    pub fn is_a(&self, ty: TypeId, name: &str) -> bool {
        let name = name.strip_prefix("FHIR.").unwrap_or(name);
        let def = self.def(ty);
        if *def.name == *name || self.fhir_type_name(ty) == name {
            return true;
        }
        match def.kind {
            TypeKind::Resource { domain } => {
                name == "Resource" || (domain && name == "DomainResource")
            }
            TypeKind::AnyResource => name == "Resource",
            TypeKind::Backbone => name == "Element",
            TypeKind::Complex | TypeKind::NestedElement | TypeKind::Primitive(_) => {
                name == "Element"
            }
        }
    }

    pub(crate) fn def(&self, ty: TypeId) -> &TypeDef {
        &self.types[ty.0 as usize]
    }

    /// The concrete type of a JSON object standing where `declared` is expected: its
    /// `resourceType` when it names a resource (contained resources, Bundle entries).
    pub(crate) fn resolve_object(&self, declared: Option<TypeId>, obj: &Value) -> Option<TypeId> {
        let needs_lookup = declared.is_none_or(|d| {
            matches!(
                self.def(d).kind,
                TypeKind::AnyResource | TypeKind::Resource { .. }
            )
        });
        if needs_lookup {
            if let Some(rt) = obj.get("resourceType").and_then(Value::as_str) {
                if let Some(id) = self.type_id(rt) {
                    if matches!(self.def(id).kind, TypeKind::Resource { .. }) {
                        return Some(id);
                    }
                }
            }
        }
        declared
    }

    /// Whether a type name is known to the model (as a FHIR type or an abstract base).
    pub fn knows_type(&self, name: &str) -> bool {
        let name = name.strip_prefix("FHIR.").unwrap_or(name);
        self.by_name.contains_key(name)
            || matches!(
                name,
                "Resource" | "DomainResource" | "Element" | "BackboneElement"
            )
    }
}

/// The type a choice suffix names: `Quantity` → `Quantity`, `String` → `string`,
/// `DateTime` → `dateTime`.
fn suffix_type(suffix: &str, by_name: &FastMap<TypeId>) -> Option<TypeId> {
    if let Some(t) = by_name.get(suffix) {
        return Some(*t);
    }
    let mut lower = String::with_capacity(suffix.len());
    let mut chars = suffix.chars();
    lower.extend(chars.next().map(|c| c.to_ascii_lowercase()));
    lower.extend(chars);
    by_name.get(lower.as_str()).copied()
}

/// The type of a property the schema describes inline (an enum, a pattern) instead of by
/// `$ref`.
fn inline_type(
    p: &Value,
    pattern_owner: &HashMap<&str, Option<&str>>,
    by_name: &FastMap<TypeId>,
) -> Option<TypeId> {
    let p = if p.get("type").and_then(Value::as_str) == Some("array") {
        p.get("items")?
    } else {
        p
    };
    let name = if p.get("enum").is_some() {
        "code"
    } else if let Some(owner) = p
        .get("pattern")
        .and_then(Value::as_str)
        .and_then(|pat| pattern_owner.get(pat).copied().flatten())
    {
        owner
    } else {
        match p.get("type").and_then(Value::as_str) {
            Some("boolean") => "boolean",
            Some("number") => "decimal",
            _ => "string",
        }
    };
    by_name.get(name).copied()
}

fn primitive_kind(name: &str) -> PrimitiveKind {
    match name {
        "boolean" => PrimitiveKind::Boolean,
        "integer" | "positiveInt" | "unsignedInt" | "integer64" => PrimitiveKind::Integer,
        "decimal" => PrimitiveKind::Decimal,
        "date" => PrimitiveKind::Date,
        "dateTime" | "instant" => PrimitiveKind::DateTime,
        "time" => PrimitiveKind::Time,
        _ => PrimitiveKind::String,
    }
}
