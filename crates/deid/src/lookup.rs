//! Which rules apply to a resource, and Microsoft's `nodesByType` / `nodesByName` rule
//! targets, found by one walk per resource.
//!
//! A policy names a handful of element types and names (the safe-harbor preset, about twenty)
//! in many rules. Filtering all of a resource's elements once per rule made rule selection
//! cost rules × elements string comparisons; instead each element is looked up once in the
//! table of the types and names the policy uses, and each rule reads its share. Likewise the
//! rules a resource type gets are listed once per policy, not checked rule by rule per
//! resource.

use std::collections::HashMap;

use rustc_hash::FxBuildHasher;

use crate::policy::{Rule, Target};
use crate::tree::Tree;

/// The rules that apply to each resource type, by position, in policy order.
pub struct RulesByType {
    /// The rules of every type: those whose path names no type, or `Resource` or
    /// `DomainResource`. Types no rule names get only these.
    general: Vec<usize>,
    /// The types some rule names, each with its whole list.
    named: HashMap<Box<str>, Vec<usize>, FxBuildHasher>,
}

impl RulesByType {
    pub fn new(rules: &[Rule]) -> RulesByType {
        let applying = |ty: &str| -> Vec<usize> {
            (0..rules.len())
                .filter(|&i| applies_to(&rules[i], ty))
                .collect()
        };
        let named = rules
            .iter()
            .filter_map(|r| r.resource_type.as_deref())
            .map(|ty| (ty.into(), applying(ty)))
            .collect();
        RulesByType {
            // No resource type is empty: exactly the rules of every type apply to it.
            general: applying(""),
            named,
        }
    }

    /// The rules that apply to resources of type `resource_type`, in policy order.
    pub fn get(&self, resource_type: &str) -> &[usize] {
        self.named.get(resource_type).unwrap_or(&self.general)
    }
}

/// Whether `rule` applies to resources of type `resource_type`.
fn applies_to(rule: &Rule, resource_type: &str) -> bool {
    match rule.resource_type.as_deref() {
        None => true,
        Some("Resource") | Some("DomainResource") => true,
        Some(t) => t == resource_type,
    }
}

/// The element types and names a policy's lookup rules select by, numbered ("slots").
pub struct Lookups {
    by_type: HashMap<Box<str>, u32, FxBuildHasher>,
    by_name: HashMap<Box<str>, u32, FxBuildHasher>,
    /// Per rule (by position): the slot it selects, for `nodesByType` / `nodesByName` rules.
    rule_slots: Vec<Option<u32>>,
    slots: usize,
}

/// A resource's own elements (as Microsoft's per-resource lookup sees them: not those inside
/// the resources it contains) in each slot.
#[derive(Default)]
pub struct Found {
    /// (slot, node), grouped by slot and, within a slot, in document order.
    pairs: Vec<(u32, u32)>,
    /// Where each slot's pairs start (and, one past the last slot, where they end): every
    /// rule reads its share directly.
    starts: Vec<u32>,
}

impl Lookups {
    pub fn new(rules: &[Rule]) -> Lookups {
        let mut by_type = HashMap::default();
        let mut by_name = HashMap::default();
        let mut slots = 0u32;
        let mut slot_of = |table: &mut HashMap<Box<str>, u32, FxBuildHasher>, key: &str| {
            *table.entry(key.into()).or_insert_with(|| {
                slots += 1;
                slots - 1
            })
        };
        let rule_slots = rules
            .iter()
            .map(|rule| match &rule.target {
                Target::ByType { type_name, .. } => Some(slot_of(&mut by_type, type_name)),
                Target::ByName { name, .. } => Some(slot_of(&mut by_name, name)),
                _ => None,
            })
            .collect();
        Lookups {
            by_type,
            by_name,
            rule_slots,
            slots: slots as usize,
        }
    }

    /// Sorts the own elements of resource node `id` into the slots.
    pub fn find(&self, tree: &Tree, id: usize) -> Found {
        if self.by_type.is_empty() && self.by_name.is_empty() {
            return Found::default();
        }
        // Most elements are in one slot or none.
        let mut pairs = Vec::with_capacity(tree.nodes[id].end as usize - id);
        // Policies seldom use both lookups: an empty table is not consulted.
        let (types, names) = (!self.by_type.is_empty(), !self.by_name.is_empty());
        for n in tree.descendants_within_resource(id) {
            let node = &tree.nodes[n];
            if let Some(&slot) = types.then(|| self.by_type.get(node.ty)).flatten() {
                pairs.push((slot, n as u32));
            }
            if let Some(&slot) = names.then(|| self.by_name.get(node.name)).flatten() {
                pairs.push((slot, n as u32));
            }
        }
        // Node numbers follow document order, so sorting the pairs keeps it within a slot.
        pairs.sort_unstable();
        let mut starts = Vec::with_capacity(self.slots + 1);
        let mut at = 0;
        for slot in 0..=self.slots as u32 {
            while pairs.get(at).is_some_and(|p| p.0 < slot) {
                at += 1;
            }
            starts.push(at as u32);
        }
        Found { pairs, starts }
    }

    /// The elements rule `rule` (a `nodesByType` / `nodesByName` rule) selects, in document
    /// order; nothing for other rules.
    pub fn selected<'f>(&self, found: &'f Found, rule: usize) -> impl Iterator<Item = usize> + 'f {
        let slot = self.rule_slots.get(rule).copied().flatten();
        let pairs: &[(u32, u32)] = match slot.and_then(|s| found.starts.get(s as usize..)) {
            Some([start, end, ..]) => &found.pairs[*start as usize..*end as usize],
            _ => &[],
        };
        pairs.iter().map(|&(_, n)| n as usize)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::{json, Map, Value};

    use super::*;
    use crate::policy::Policy;
    use crate::select::R4Schema;

    /// Resources with the shapes lookups meet: typed elements, repeats, primitives with
    /// companions, contained resources (whose elements are not the container's own).
    fn resource() -> impl Strategy<Value = Value> {
        let key = prop_oneof![
            Just("name"),
            Just("given"),
            Just("_given"),
            Just("family"),
            Just("birthDate"),
            Just("_birthDate"),
            Just("extension"),
            Just("url"),
            Just("valueString"),
            Just("valueAddress"),
            Just("identifier"),
            Just("value"),
            Just("system"),
            Just("address"),
            Just("city"),
            Just("telecom"),
            Just("managingOrganization"),
            Just("reference"),
            Just("display"),
            Just("coding"),
            Just("code"),
            Just("maritalStatus"),
            Just("contained"),
            Just("id"),
        ];
        let leaf = prop_oneof![
            Just(Value::Null),
            Just(json!("x")),
            Just(json!(1)),
            Just(json!({"resourceType": "Organization", "id": "o", "name": "n"})),
        ];
        let body = leaf.prop_recursive(4, 40, 5, move |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..3).prop_map(Value::Array),
                prop::collection::vec((key.clone(), inner), 0..5).prop_map(|kv| {
                    Value::Object(
                        kv.into_iter()
                            .map(|(k, v)| (k.to_string(), v))
                            .collect::<Map<_, _>>(),
                    )
                }),
            ]
        });
        body.prop_map(|b| {
            let mut r = match b {
                Value::Object(m) => m,
                other => [("name".to_string(), other)].into_iter().collect(),
            };
            r.insert("resourceType".into(), json!("Patient"));
            Value::Object(r)
        })
    }

    #[test]
    fn each_type_gets_the_rules_that_apply_to_it() {
        let policy = Policy::parse(
            r#"{"fhirPathRules": [
                {"path": "Patient.name", "method": "redact"},
                {"path": "nodesByType('HumanName')", "method": "redact"},
                {"path": "Resource.id", "method": "cryptoHash"},
                {"path": "DomainResource.text", "method": "redact"},
                {"path": "Observation.value", "method": "redact"},
                {"path": "Patient.address", "method": "keep"},
                {"path": "Bundle", "method": "keep"}
            ]}"#,
        )
        .unwrap();
        let index = RulesByType::new(&policy.rules);
        let mut types: Vec<String> = crate::schema::Schema::resource_types(&R4Schema);
        types.extend(["", "Unknown", "Resource", "patient"].map(String::from));
        for ty in &types {
            let want: Vec<usize> = (0..policy.rules.len())
                .filter(|&i| applies_to(&policy.rules[i], ty))
                .collect();
            assert_eq!(index.get(ty), want, "{ty}");
        }
        assert_eq!(index.get("Patient"), [0, 1, 2, 3, 5]);
        assert_eq!(index.get("Encounter"), [1, 2, 3]);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// One walk finds, for every rule, exactly what filtering the resource's own elements
        /// for that rule alone finds, in the same order.
        #[test]
        fn one_walk_selects_what_a_filter_per_rule_selects(r in resource()) {
            let policy = Policy::parse(r#"{"fhirPathRules": [
                {"path": "nodesByType('HumanName')", "method": "redact"},
                {"path": "nodesByType('string').id", "method": "redact"},
                {"path": "nodesByName('value')", "method": "keep"},
                {"path": "nodesByType('Identifier').value", "method": "keep"},
                {"path": "nodesByType('Reference')", "method": "cryptoHash"},
                {"path": "nodesByType('Organization')", "method": "keep"},
                {"path": "nodesByName('family')", "method": "redact"},
                {"path": "nodesByType('HumanName').given", "method": "keep"},
                {"path": "Patient.name", "method": "keep"}
            ]}"#).unwrap();
            let lookups = Lookups::new(&policy.rules);
            let tree = Tree::build(&r, &R4Schema).unwrap();
            for id in (0..tree.nodes.len()).filter(|&n| tree.nodes[n].resource) {
                let found = lookups.find(&tree, id);
                let own: Vec<usize> = tree.descendants_within_resource(id).collect();
                for (index, rule) in policy.rules.iter().enumerate() {
                    let want: Vec<usize> = match &rule.target {
                        Target::ByType { type_name, .. } => {
                            own.iter().copied().filter(|&n| tree.nodes[n].ty == type_name).collect()
                        }
                        Target::ByName { name, .. } => {
                            own.iter().copied().filter(|&n| tree.nodes[n].name == name).collect()
                        }
                        _ => Vec::new(),
                    };
                    let got: Vec<usize> = lookups.selected(&found, index).collect();
                    prop_assert_eq!(got, want, "rule {}", index);
                }
            }
        }
    }
}
