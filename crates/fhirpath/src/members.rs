//! Lookups for callers that walk FHIR JSON themselves (the de-identification engine indexes
//! every element of a resource once and needs each JSON key's element name and type).

use crate::model::{TypeId, TypeKind, TypeModel};

impl TypeModel {
    /// The element a JSON key of type `ty` holds: its FHIRPath name (`value` for
    /// `valueQuantity`) and type. `None` for keys the type doesn't have. A `_key` companion is
    /// looked up by its base key.
    pub fn member(&self, ty: TypeId, key: &str) -> Option<(&str, TypeId)> {
        let key = key.strip_prefix('_').unwrap_or(key);
        let prop = self.def(ty).by_key.get(key)?;
        Some((&prop.name, prop.ty))
    }

    /// The element a JSON key of type `ty` holds, with the key as the model stores it (so a
    /// caller indexing many resources can keep `&str`s instead of copies): (key, element name,
    /// type, repeats).
    pub fn member_entry(&self, ty: TypeId, key: &str) -> Option<(&str, &str, TypeId, bool)> {
        let (k, prop) = self.def(ty).by_key.get_key_value(key)?;
        Some((k, &prop.name, prop.ty, prop.repeats))
    }

    /// Whether the JSON key of type `ty` holds a repeating element (a JSON array).
    pub fn member_repeats(&self, ty: TypeId, key: &str) -> bool {
        let key = key.strip_prefix('_').unwrap_or(key);
        self.def(ty).by_key.get(key).is_some_and(|p| p.repeats)
    }

    /// The names of every resource type, in schema order.
    pub fn resource_type_names(&self) -> impl Iterator<Item = &str> + '_ {
        self.types
            .iter()
            .filter(|t| matches!(t.kind, TypeKind::Resource { .. }))
            .map(|t| &*t.name)
    }
}
