//! Element types from the official FHIR R4 schema, as the engine needs them.

/// A type's definition in the schema, by which its members are looked up.
pub type Def = Option<salus_fhirpath::TypeId>;

/// What the schema says about one JSON member of an element.
#[derive(Debug, Clone, Copy)]
pub struct ElementInfo {
    /// The JSON key, as the schema spells it (`valueQuantity`).
    pub key: &'static str,
    /// The FHIR element name (a choice element's base name: `value` for `valueQuantity`).
    pub name: &'static str,
    /// Its definition in the schema, used to look up its own members (`Patient_Contact` for
    /// `Patient.contact`; `Resource` where any resource may stand).
    pub def: Def,
    /// Its FHIR type, which `nodesByType` matches (`BackboneElement` for `Patient.contact`).
    pub ty: &'static str,
    pub primitive: bool,
    /// The element repeats: its JSON is an array.
    pub repeats: bool,
}

/// The questions the engine asks about types.
pub trait Schema: Send + Sync {
    /// The member `key` (as it appears in JSON) of an element whose definition is `parent_def`.
    fn element(&self, parent: Def, key: &str) -> Option<ElementInfo>;
    /// The resource type of this name, if there is one.
    fn resource_type(&self, name: &str) -> Option<(&'static str, Def)>;
    /// The definition of a primitive's `id`/`extension` companion.
    fn element_def(&self) -> Def;
    /// Every resource type name (for literal references `Type/id`).
    fn resource_types(&self) -> Vec<String>;
}
