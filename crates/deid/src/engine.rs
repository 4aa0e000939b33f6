//! Applies a [`Policy`] to FHIR resources, the way Microsoft's anonymizer does.
//!
//! For each resource (and, after it, each resource inside it: contained resources, Bundle
//! entries), the rules that apply to its type run in order. A rule's path selects elements; each
//! selected element and its descendants are processed by the rule's method unless an earlier rule
//! already processed them ("first match wins", element by element). Elements left with no value
//! and no children are removed at the end, and each resource (not a contained one) is labelled in
//! `meta.security` with what was done to it and to the resources inside it.
//!
//! Pure: time ("today", for the age-over-89 rule) and randomness (AES IVs, perturbation noise)
//! come from the caller.

use std::sync::{Arc, OnceLock};

use base64::Engine as _;
use chrono::NaiveDate;
use rand::{Rng, RngCore, SeedableRng};
use rand_chacha::ChaCha20Rng;
use serde_json::{Map, Value};

use crate::lookup::{Found, Lookups, RulesByType};
use crate::methods::{self, CryptoHasher, ReferencePatterns, Shifted};
use crate::policy::{
    DateShiftScope, Method, OtherValues, Policy, ProcessingErrors, RangeType, Rule, RuleSettings,
    Target, TextReplacement,
};
use crate::report::Report;
use crate::schema::Schema;
use crate::text::{IdentityBook, TextScrubber};
use crate::tree::{self, Tree};

/// What was done to elements, for `meta.security` and the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Operation {
    Redact,
    Abstract,
    CryptoHash,
    Encrypt,
    Perturb,
    Substitute,
    Generalize,
}

impl Operation {
    /// Every operation, in the order Microsoft's tool writes their labels.
    const ALL: [Operation; 7] = [
        Operation::Redact,
        Operation::Abstract,
        Operation::CryptoHash,
        Operation::Encrypt,
        Operation::Perturb,
        Operation::Substitute,
        Operation::Generalize,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Operation::Redact => "redact",
            Operation::Abstract => "abstract",
            Operation::CryptoHash => "cryptoHash",
            Operation::Encrypt => "encrypt",
            Operation::Perturb => "perturb",
            Operation::Substitute => "substitute",
            Operation::Generalize => "generalize",
        }
    }

    /// The system, code and display of the `meta.security` coding Microsoft's anonymizer adds
    /// (spellings included).
    fn label(self) -> (Option<&'static str>, &'static str, &'static str) {
        let v3 = "http://terminology.hl7.org/CodeSystem/v3-ObservationValue";
        match self {
            Operation::Redact => (Some(v3), "REDACTED", "redacted"),
            Operation::Abstract => (Some(v3), "ABSTRED", "abstracted"),
            Operation::CryptoHash => (Some(v3), "CRYTOHASH", "cryptographic hash function"),
            Operation::Encrypt => (
                None,
                "ENCRYPT",
                "exact value is transformed into ciphertext",
            ),
            Operation::Perturb => (
                None,
                "PERTURBED",
                "exact value is replaced with another exact value",
            ),
            Operation::Substitute => (
                None,
                "SUBSTITUTED",
                "exact value is replaced with a predefined value",
            ),
            Operation::Generalize => (
                None,
                "GENERALIZED",
                "exact value is replaced with a general value",
            ),
        }
    }

    /// The `meta.security` coding, built once per operation (nearly every resource gets one).
    fn security_label(self) -> Value {
        static LABELS: OnceLock<Vec<Value>> = OnceLock::new();
        let labels = LABELS.get_or_init(|| {
            Operation::ALL
                .iter()
                .map(|op| {
                    let (system, code, display) = op.label();
                    let mut coding = Map::new();
                    if let Some(s) = system {
                        coding.insert("system".into(), Value::String(s.into()));
                    }
                    coding.insert("code".into(), Value::String(code.into()));
                    coding.insert("display".into(), Value::String(display.into()));
                    Value::Object(coding)
                })
                .collect()
        });
        labels[self as usize].clone()
    }
}

/// Why a resource could not be de-identified. Never carries a value from the resource.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeidError {
    #[error("the input is not a FHIR resource: {0}")]
    NotAResource(String),
    #[error("rule {rule} ({path}): {reason}")]
    Rule {
        rule: usize,
        path: String,
        reason: String,
    },
}

/// Where a resource came from, for the `file` and `folder` date-shift scopes.
#[derive(Debug, Clone, Default)]
pub struct Origin {
    pub file_name: Option<String>,
    pub folder_name: Option<String>,
}

/// Keys the policy did not set, filled by the caller (Salus derives them from its configured
/// secret; without one, a random per-run key, as Microsoft's tool does).
#[derive(Debug, Clone)]
pub struct DefaultKeys {
    pub date_shift_key: String,
    pub crypto_hash_key: String,
    pub encrypt_key: String,
    /// Keys text surrogates.
    pub surrogate_key: String,
}

impl DefaultKeys {
    /// Keys derived from Salus's configured de-identification secret: stable across runs, so
    /// hashes and date offsets repeat (and link) from one export to the next.
    pub fn derive(secret: &[u8]) -> DefaultKeys {
        let key = |purpose: &str| hex::encode(methods::hmac_sha256(secret, purpose.as_bytes()));
        DefaultKeys {
            date_shift_key: key("salus-deid:date-shift"),
            crypto_hash_key: key("salus-deid:crypto-hash"),
            // 32 hex characters: 32 bytes of UTF-8, an AES-256 key.
            encrypt_key: key("salus-deid:encrypt")[..32].to_string(),
            surrogate_key: key("salus-deid:surrogates"),
        }
    }

    /// Per-run keys from a random seed, as Microsoft's tool does when a key is not configured:
    /// nothing repeats across runs.
    pub fn random(seed: [u8; 32]) -> DefaultKeys {
        DefaultKeys::derive(&seed)
    }
}

/// A policy ready to run: keys settled, patterns compiled. Shared across threads.
pub struct Engine {
    policy: Policy,
    date_shift_key: String,
    crypto_hash: CryptoHasher,
    encrypt_key: Vec<u8>,
    surrogate_key: String,
    schema: Arc<dyn Schema>,
    references: ReferencePatterns,
    rules_by_type: RulesByType,
    lookups: Lookups,
    scrubber: Option<Arc<TextScrubber>>,
    today: NaiveDate,
    /// The policy shifts dates, so dates in free text move with them.
    shifts_dates: bool,
    /// Some method depends on the resource's patient (patient-scope date shifting, the
    /// patient's own identifiers in free text); otherwise it is not looked up.
    needs_patient: bool,
}

/// Per-run mutable state: randomness and the report.
pub struct Run {
    rng: ChaCha20Rng,
    pub report: Report,
    /// Patient-scope date offsets already computed (an HMAC each), by patient id.
    patient_offsets: std::collections::HashMap<String, i64>,
    /// The last document's index, whose allocations the next one reuses.
    spare_tree: Option<Tree>,
}

impl Run {
    /// `seed` feeds the IVs of `encrypt` and the noise of `perturb`; take it from the OS in
    /// production and fix it in tests.
    pub fn new(seed: [u8; 32], engine: &Engine) -> Run {
        Run {
            rng: ChaCha20Rng::from_seed(seed),
            report: Report::new(&engine.policy),
            patient_offsets: std::collections::HashMap::new(),
            spare_tree: None,
        }
    }
}

/// Elements changed, by what was done to them (by one rule, to one resource).
#[derive(Default)]
struct Records([usize; Operation::ALL.len()]);

impl Records {
    fn add(&mut self, op: Operation) {
        self.0[op as usize] += 1;
    }

    /// The operations done, with how many elements each, in label order.
    fn iter(&self) -> impl Iterator<Item = (Operation, usize)> + '_ {
        Operation::ALL
            .into_iter()
            .map(|op| (op, self.0[op as usize]))
            .filter(|&(_, n)| n > 0)
    }
}

/// The set of operations done to a resource and the resources inside it.
#[derive(Default, Clone, Copy)]
struct Operations(u8);

impl Operations {
    fn insert(&mut self, op: Operation) {
        self.0 |= 1 << op as u8;
    }

    fn extend(&mut self, other: Operations) {
        self.0 |= other.0;
    }

    fn contains(self, op: Operation) -> bool {
        self.0 & (1 << op as u8) != 0
    }

    fn is_empty(self) -> bool {
        self.0 == 0
    }
}

impl Engine {
    pub fn new(
        policy: Policy,
        defaults: DefaultKeys,
        schema: Arc<dyn Schema>,
        scrubber: Option<Arc<TextScrubber>>,
        today: NaiveDate,
    ) -> Engine {
        let p = &policy.parameters;
        let date_shift_key = p.date_shift_key.clone().unwrap_or(defaults.date_shift_key);
        let crypto_hash_key = p
            .crypto_hash_key
            .clone()
            .unwrap_or(defaults.crypto_hash_key);
        let encrypt_key = p
            .encrypt_key
            .clone()
            .unwrap_or(defaults.encrypt_key)
            .into_bytes();
        let references = ReferencePatterns::new(&schema.resource_types());
        let shifts_dates = policy.rules.iter().any(|r| r.method == Method::DateShift);
        let needs_patient = policy
            .rules
            .iter()
            .any(|r| matches!(r.method, Method::DateShift | Method::ScrubText));
        Engine {
            shifts_dates,
            needs_patient,
            rules_by_type: RulesByType::new(&policy.rules),
            lookups: Lookups::new(&policy.rules),
            policy,
            date_shift_key,
            crypto_hash: CryptoHasher::new(&crypto_hash_key),
            encrypt_key,
            surrogate_key: defaults.surrogate_key,
            schema,
            references,
            scrubber,
            today,
        }
    }

    /// The engine for `policy` on the R4 schema, with a free-text scrubber when the policy
    /// scrubs text.
    pub fn build(policy: Policy, keys: DefaultKeys, today: NaiveDate) -> Result<Engine, String> {
        let scrubber = if policy.rules.iter().any(|r| r.method == Method::ScrubText) {
            Some(Arc::new(TextScrubber::new(&policy.free_text)?))
        } else {
            None
        };
        Ok(Engine::new(
            policy,
            keys,
            Arc::new(crate::select::R4Schema),
            scrubber,
            today,
        ))
    }

    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Whether the policy scrubs free text (and so wants the patients' identities first).
    pub fn scrubs_text(&self) -> bool {
        self.policy
            .rules
            .iter()
            .any(|r| r.method == Method::ScrubText)
    }

    /// De-identifies one resource (a Bundle's entries and contained resources included).
    /// `identities` supplies the patients' own identifiers for free-text detection.
    pub fn deidentify(
        &self,
        mut resource: Value,
        origin: &Origin,
        identities: &IdentityBook,
        run: &mut Run,
    ) -> Result<Value, DeidError> {
        let Some(resource_type) = resource
            .get("resourceType")
            .and_then(Value::as_str)
            .map(str::to_string)
        else {
            return Err(DeidError::NotAResource(
                "a JSON object with a string `resourceType` is expected".into(),
            ));
        };
        run.report.resources += 1;
        let schema = self.schema.as_ref();
        let not_an_object = || DeidError::NotAResource("the resource is not a JSON object".into());
        let spare = run.spare_tree.take();
        let mut tree = Tree::build_reusing(&resource, schema, spare).ok_or_else(not_an_object)?;
        if tree.irregular {
            // Indexing found a shape normalization may change: normalize, and index again.
            tree::normalize_repeats(&mut resource, None, schema);
            tree = Tree::build_reusing(&resource, schema, Some(tree)).ok_or_else(not_an_object)?;
        }
        let mut job = Job {
            engine: self,
            root: &mut resource,
            tree,
            generation: 0,
            origin,
            identities,
            run,
        };
        let outcome = job.process_resource(0);
        run.spare_tree = Some(job.tree);
        match outcome {
            Ok(_) => {
                tree::remove_empty(&mut resource);
                Ok(resource)
            }
            // Microsoft's `skip`: the resource becomes an empty one of its type, labelled.
            Err(_) if self.policy.processing_errors == ProcessingErrors::Skip => {
                run.report.skipped += 1;
                let mut empty = Map::new();
                empty.insert("resourceType".into(), Value::String(resource_type));
                let mut meta = Map::new();
                meta.insert(
                    "security".into(),
                    Value::Array(vec![Operation::Redact.security_label()]),
                );
                empty.insert("meta".into(), Value::Object(meta));
                Ok(Value::Object(empty))
            }
            Err(e) => Err(e),
        }
    }
}

/// The state of de-identifying one top-level document.
struct Job<'a> {
    engine: &'a Engine,
    root: &'a mut Value,
    tree: Tree,
    /// Counts re-indexings (after substitutions), so node numbers are looked up again.
    generation: u64,
    origin: &'a Origin,
    identities: &'a IdentityBook,
    run: &'a mut Run,
}

impl Job<'_> {
    /// Applies the rules to resource node `id`, then to the resources inside it; labels it.
    fn process_resource(&mut self, mut id: usize) -> Result<Operations, DeidError> {
        let engine = self.engine;
        let resource_type = self.tree.nodes[id].ty;
        let patient = engine.needs_patient.then(|| self.patient_of(id)).flatten();
        let mut done = Operations::default();
        // Microsoft's lookup for nodesByType / nodesByName, taken once per resource.
        let mut found = engine.lookups.find(&self.tree, id);
        let own_path = self.tree.path(id);
        let mut generation = self.generation;
        let mut matches = Vec::new();

        for &index in engine.rules_by_type.get(resource_type) {
            let rule = &engine.policy.rules[index];
            if generation != self.generation {
                // A substitution re-indexed the document: node numbers moved.
                id = self.tree.find(&own_path).unwrap_or(id);
                found = engine.lookups.find(&self.tree, id);
                generation = self.generation;
            }
            matches.clear();
            self.select(rule, index, id, &found, &mut matches)?;
            if matches.is_empty() {
                continue;
            }
            let mut records = Records::default();
            if rule.method == Method::Substitute {
                // Substitution reshapes the document: find each match again afterwards.
                let paths: Vec<_> = matches.iter().map(|&m| self.tree.path(m)).collect();
                for path in paths {
                    if let Some(m) = self.tree.find(&path) {
                        self.process_recursive(m, rule, index, patient.as_deref(), &mut records)?;
                    }
                }
            } else {
                for &m in &matches {
                    self.process_recursive(m, rule, index, patient.as_deref(), &mut records)?;
                }
            }
            for (op, n) in records.iter() {
                done.insert(op);
                self.run.report.count(index, op, n);
            }
        }

        let children: Vec<_> = self
            .tree
            .child_resources(id)
            .into_iter()
            .map(|c| self.tree.path(c))
            .collect();
        for child in children {
            if let Some(c) = self.tree.find(&child) {
                done.extend(self.process_resource(c)?);
            }
        }
        let id = self.tree.find(&own_path).unwrap_or(id);
        let contained = self.tree.nodes[id].key.as_str() == "contained";
        if !contained && !done.is_empty() {
            if let Some(resource) = self.tree.value_mut(self.root, id) {
                add_security_labels(resource, done);
            }
        }
        Ok(done)
    }

    /// The patient a resource belongs to, read before any rule changes ids.
    fn patient_of(&self, id: usize) -> Option<String> {
        let resource = self.tree.value(self.root, id)?;
        let rt = resource.get("resourceType")?.as_str()?;
        salus_fhir::compartment::patient_of(rt, resource)
    }

    /// The elements rule `index` selects in resource node `id`, in document order, into `out`.
    fn select(
        &self,
        rule: &Rule,
        index: usize,
        id: usize,
        found: &Found,
        out: &mut Vec<usize>,
    ) -> Result<(), DeidError> {
        let tree = &self.tree;
        match &rule.target {
            Target::WholeResource => out.push(id),
            Target::ByType { child, .. } | Target::ByName { child, .. } => {
                let selected = self.engine.lookups.selected(found, index);
                match child {
                    None => out.extend(selected),
                    Some(child) => {
                        for n in selected {
                            out.extend(tree.children_named(n, child));
                        }
                    }
                }
            }
            Target::Members(names) => match names.as_slice() {
                // `Resource.id` and the like, on every resource: no intermediate list.
                [name] => out.extend(tree.children_named(id, name)),
                _ => {
                    let mut current = vec![id];
                    for name in names {
                        current = current
                            .into_iter()
                            .flat_map(|n| tree.children_named(n, name).collect::<Vec<_>>())
                            .collect();
                    }
                    out.extend(current);
                }
            },
            Target::Expression(expr) => {
                let resource = self
                    .tree
                    .value(self.root, id)
                    .ok_or_else(|| DeidError::Rule {
                        rule: index,
                        path: rule.path.clone(),
                        reason: "the resource disappeared while processing".into(),
                    })?;
                let found = crate::select::evaluate_nodes(expr, resource).map_err(|reason| {
                    DeidError::Rule {
                        rule: index,
                        path: rule.path.clone(),
                        reason,
                    }
                })?;
                out.extend(found.iter().filter_map(|steps| tree.locate(id, steps)));
            }
        }
        Ok(())
    }

    /// Microsoft's ProcessNodeRecursive: the element, then its children (not other resources),
    /// each once; an element already processed is skipped with everything in it. Nodes are
    /// numbered depth first, so this is a walk along `id..end`, skipping subtrees.
    fn process_recursive(
        &mut self,
        id: usize,
        rule: &Rule,
        index: usize,
        patient: Option<&str>,
        records: &mut Records,
    ) -> Result<(), DeidError> {
        let end = self.tree.nodes[id].end as usize;
        let mut n = id;
        while n < end {
            if self.tree.visited[n] || (n != id && self.tree.nodes[n].resource) {
                n = self.tree.nodes[n].end as usize;
                continue;
            }
            // Only a substitution changes the shape, and it replaces the element it selects
            // with everything in it: the fragment is done (and the node numbers are new).
            if self.apply(n, rule, index, patient, records)? {
                return Ok(());
            }
            self.tree.visited[n] = true;
            n += 1;
        }
        Ok(())
    }

    /// Applies the rule's method to one element. Returns true when the document's shape changed
    /// (the index was rebuilt and the element's whole fragment marked processed).
    fn apply(
        &mut self,
        id: usize,
        rule: &Rule,
        index: usize,
        patient: Option<&str>,
        records: &mut Records,
    ) -> Result<bool, DeidError> {
        let ty = self.tree.nodes[id].ty;
        let name = self.tree.nodes[id].name;
        let primitive = self.tree.nodes[id].primitive;
        let engine = self.engine;
        let params = &engine.policy.parameters;
        // Only the methods that read a primitive's value pay for copying it (`keep` and
        // `scrubText` reach far more elements than they change; `redact` and `cryptoHash`
        // read it in place).
        let text = if primitive && matches!(rule.method, Method::DateShift | Method::Encrypt) {
            self.tree.text(self.root, id)
        } else {
            None
        };
        let mut record = |op: Operation| records.add(op);
        match rule.method {
            Method::Keep => {}
            Method::Redact => {
                let in_age = ty == "decimal" && self.tree.parent_type(id) == Some("Age");
                // The value is read and replaced in place: one lookup, no copy.
                let Some(slot) = self.primitive_slot(id) else {
                    return Ok(false);
                };
                let Some(text) = tree::primitive_text(slot) else {
                    return Ok(false);
                };
                let (new, op) = match ty {
                    "date" | "dateTime" | "instant" => {
                        let new = methods::redact_date(
                            &text,
                            params.enable_partial_dates_for_redact,
                            engine.today,
                        );
                        (Some(new), Operation::Redact)
                    }
                    _ if in_age => {
                        let over = text.parse::<f64>().map(|age| age > 89.0).unwrap_or(true);
                        let clear = !params.enable_partial_ages_for_redact || over;
                        (clear.then_some(None), Operation::Redact)
                    }
                    // Partial ZIP codes are "abstracted", not redacted (Microsoft's labels).
                    _ if name.eq_ignore_ascii_case("postalCode")
                        && params.enable_partial_zip_codes_for_redact =>
                    {
                        let new = methods::redact_postal_code(
                            &text,
                            &params.restricted_zip_code_tabulation_areas,
                        );
                        (Some(Some(new)), Operation::Abstract)
                    }
                    _ => (Some(None), Operation::Redact),
                };
                drop(text);
                if let Some(new) = new {
                    *slot = new.map_or(Value::Null, Value::String);
                }
                record(op);
            }
            Method::DateShift => {
                let Some(text) = text else { return Ok(false) };
                if !matches!(ty, "date" | "dateTime" | "instant") {
                    return Ok(false);
                }
                let offset = self.date_offset(patient);
                match methods::shift_date(
                    &text,
                    offset,
                    params.enable_partial_dates_for_redact,
                    self.engine.today,
                ) {
                    Shifted::Moved(new) => {
                        let new = if ty == "instant" {
                            methods::instant_form(&new)
                        } else {
                            new
                        };
                        self.set_text(id, Some(new));
                        record(Operation::Perturb);
                    }
                    Shifted::Redacted(new) => {
                        self.set_text(id, new);
                        record(Operation::Redact);
                    }
                    Shifted::Unchanged => {}
                }
            }
            Method::CryptoHash => {
                let reference =
                    name == "reference" && self.tree.parent_type(id) == Some("Reference");
                // The value is read and replaced in place: one lookup, no copy.
                let Some(slot) = self.primitive_slot(id) else {
                    return Ok(false);
                };
                let Some(text) = tree::primitive_text(slot) else {
                    return Ok(false);
                };
                let hash = |s: &str| engine.crypto_hash.hash(s);
                let new = if reference {
                    engine.references.transform_id(&text, &hash)
                } else {
                    hash(&text)
                };
                drop(text);
                *slot = Value::String(new);
                record(Operation::CryptoHash);
            }
            Method::Encrypt => {
                let Some(text) = text else { return Ok(false) };
                let mut iv = [0u8; 16];
                self.run.rng.fill_bytes(&mut iv);
                let new =
                    methods::encrypt(&text, &self.engine.encrypt_key, iv).ok_or_else(|| {
                        DeidError::Rule {
                            rule: index,
                            path: rule.path.clone(),
                            reason: "the encryption key must be 16, 24 or 32 bytes".into(),
                        }
                    })?;
                self.set_text(id, Some(new));
                record(Operation::Encrypt);
            }
            Method::Perturb => {
                let RuleSettings::Perturb {
                    span,
                    range,
                    round_to,
                } = &rule.settings
                else {
                    return Ok(false);
                };
                let value_id = match ty {
                    "decimal" | "integer" | "positiveInt" | "unsignedInt" => Some(id),
                    "Quantity" | "Age" | "Count" | "Distance" | "Duration" | "MoneyQuantity"
                    | "SimpleQuantity" => self.tree.children_named(id, "value").next(),
                    _ => None,
                };
                let Some(value_id) = value_id else {
                    return Ok(false);
                };
                let value_ty = self.tree.nodes[value_id].ty;
                if self.tree.visited[value_id] {
                    return Ok(false);
                }
                let Some(original) = self
                    .tree
                    .text(self.root, value_id)
                    .and_then(|t| t.parse::<f64>().ok())
                else {
                    return Ok(false);
                };
                let integer = value_ty != "decimal";
                let width = match range {
                    RangeType::Fixed => *span,
                    RangeType::Proportional => original.abs() * span,
                };
                let noise = if width > 0.0 {
                    self.run.rng.gen_range(-width / 2.0..=width / 2.0)
                } else {
                    0.0
                };
                let digits = if integer { 0 } else { *round_to };
                let mut text = methods::round_to_text(original + noise, digits);
                let number: f64 = text.parse().unwrap_or(0.0);
                if value_ty == "positiveInt" && number <= 0.0 {
                    text = "1".into();
                }
                if value_ty == "unsignedInt" && number < 0.0 {
                    text = "0".into();
                }
                if let Ok(n) = serde_json::from_str::<serde_json::Number>(&text) {
                    self.tree.set(self.root, value_id, Value::Number(n));
                }
                for d in id..self.tree.nodes[id].end as usize {
                    self.tree.visited[d] = true;
                }
                record(Operation::Perturb);
            }
            Method::Substitute => {
                let RuleSettings::Substitute { replace_with } = &rule.settings else {
                    return Ok(false);
                };
                let path = self.tree.path(id);
                crate::substitute::substitute(self.root, &self.tree, id, replace_with);
                record(Operation::Substitute);
                self.rebuild_marking(&path);
                return Ok(true);
            }
            Method::Generalize => {
                let RuleSettings::Generalize {
                    cases,
                    other_values,
                } = &rule.settings
                else {
                    return Ok(false);
                };
                if !primitive {
                    return Err(DeidError::Rule {
                        rule: index,
                        path: rule.path.clone(),
                        reason: format!(
                            "generalize applies only to primitive elements, not to {ty}"
                        ),
                    });
                }
                let Some(current) = self
                    .tree
                    .value(self.root, id)
                    .filter(|v| !v.is_null())
                    .cloned()
                else {
                    return Ok(false);
                };
                let outcome = crate::select::generalize(cases, &current, ty).map_err(|reason| {
                    DeidError::Rule {
                        rule: index,
                        path: rule.path.clone(),
                        reason,
                    }
                })?;
                match outcome {
                    Some(new) => self.tree.set(self.root, id, new),
                    None if *other_values == OtherValues::Redact => self.set_text(id, None),
                    None => {}
                }
                record(Operation::Generalize);
            }
            Method::ScrubText => {
                return self.scrub(id, ty, patient, records).map(|_| false);
            }
        }
        Ok(false)
    }

    /// Free text: strings and markdown, narrative XHTML, and text attachments (decoded,
    /// scrubbed, re-encoded; attachments Salus cannot read as text are removed).
    fn scrub(
        &mut self,
        id: usize,
        ty: &str,
        patient: Option<&str>,
        records: &mut Records,
    ) -> Result<(), DeidError> {
        let (engine, identities) = (self.engine, self.identities);
        let Some(scrubber) = engine.scrubber.as_deref() else {
            return Ok(());
        };
        let shift = self.text_date_shift(patient);
        let identity = patient.and_then(|p| identities.get(p));
        let surrogates = (engine.policy.free_text.replacement == TextReplacement::Surrogates)
            .then_some(engine.surrogate_key.as_str());
        match ty {
            "string" | "markdown" | "xhtml" => {
                let Some(text) = self.tree.value(self.root, id).and_then(Value::as_str) else {
                    return Ok(());
                };
                let scrubbed = scrubber.scrub(text, ty == "xhtml", identity, surrogates, shift);
                let (new_text, counts) =
                    (scrubbed.changed().then_some(scrubbed.text), scrubbed.counts);
                if let Some(new_text) = new_text {
                    let op = self.run.report.free_text(&counts, surrogates.is_some());
                    records.add(op);
                    self.tree.set(self.root, id, Value::String(new_text));
                }
            }
            "Attachment" => {
                let Some(data_id) = self.tree.children_named(id, "data").next() else {
                    return Ok(());
                };
                let Some(encoded) = self.tree.value(self.root, data_id).and_then(Value::as_str)
                else {
                    return Ok(());
                };
                let content_type = self
                    .tree
                    .value(self.root, id)
                    .and_then(|a| a.get("contentType"))
                    .and_then(Value::as_str)
                    .unwrap_or("");
                // XML other than XHTML (a C-CDA document, above all) holds its identifiers in
                // attribute values and in formats text scrubbing does not read (`<birthTime
                // value="19610714"/>`, `<telecom value="tel:…"/>`): it cannot be checked, so
                // it does not leave, like any attachment Salus cannot read. The resources
                // mapped from the document are de-identified field by field instead.
                let html = content_type.contains("html");
                let opaque_xml = content_type.contains("xml") && !html;
                let textual = !opaque_xml
                    && (content_type.is_empty()
                        || content_type.starts_with("text/")
                        || content_type.contains("json"));
                let markup = html;
                let decoded = textual
                    .then(|| {
                        base64::engine::general_purpose::STANDARD
                            .decode(encoded.trim())
                            .ok()
                    })
                    .flatten()
                    .and_then(|b| String::from_utf8(b).ok());
                let replacement = match decoded {
                    Some(text) => {
                        let shift = self.text_date_shift(patient);
                        let scrubbed = scrubber.scrub(&text, markup, identity, surrogates, shift);
                        if scrubbed.changed() {
                            let op = self
                                .run
                                .report
                                .free_text(&scrubbed.counts, surrogates.is_some());
                            records.add(op);
                            Some(Value::String(
                                base64::engine::general_purpose::STANDARD.encode(scrubbed.text),
                            ))
                        } else {
                            None
                        }
                    }
                    None => {
                        // Not text Salus can read: it cannot be checked, so it does not leave.
                        records.add(Operation::Redact);
                        self.run.report.attachments_removed += 1;
                        Some(Value::Null)
                    }
                };
                if let Some(new) = replacement {
                    self.tree.set(self.root, data_id, new);
                    // The size and hash described the original bytes.
                    if let Some(Value::Object(a)) = self.tree.value_mut(self.root, id) {
                        a.remove("size");
                        a.remove("hash");
                    }
                }
                self.tree.visited[data_id] = true;
            }
            _ => {}
        }
        Ok(())
    }

    /// After a substitution: re-index, and mark the substituted fragment processed.
    fn rebuild_marking(&mut self, path: &crate::tree::Path) {
        if let Some(fresh) = self.tree.rebuild(self.root, self.engine.schema.as_ref()) {
            self.tree = fresh;
            self.generation += 1;
        }
        if let Some(id) = self.tree.find(path) {
            for n in id..self.tree.nodes[id].end as usize {
                self.tree.visited[n] = true;
            }
        }
    }

    /// A primitive element's value, to read and replace in place (`None` for other elements,
    /// and when only the primitive's `id`/`extension` are present).
    fn primitive_slot(&mut self, id: usize) -> Option<&mut Value> {
        if !self.tree.nodes[id].primitive {
            return None;
        }
        self.tree.value_mut(self.root, id)
    }

    /// Sets (or, with `None`, clears) a primitive's value; its `id`/`extension` stay.
    fn set_text(&mut self, id: usize, text: Option<String>) {
        let value = text.map_or(Value::Null, Value::String);
        self.tree.set(self.root, id, value);
    }

    /// Days to shift the dates of this resource by, per the policy's scope.
    fn date_offset(&mut self, patient: Option<&str>) -> i64 {
        let p = &self.engine.policy.parameters;
        if let Some(days) = p.date_shift_fixed_offset_days {
            return days;
        }
        let key = &self.engine.date_shift_key;
        match p.date_shift_scope {
            DateShiftScope::Patient => {
                // A resource of no patient (an Organization): keyed by its own id.
                let id = patient.map_or_else(|| self.root_id(), str::to_string);
                if let Some(&offset) = self.run.patient_offsets.get(&id) {
                    return offset;
                }
                let offset = methods::patient_date_offset(&id, key);
                self.run.patient_offsets.insert(id, offset);
                offset
            }
            DateShiftScope::File => {
                methods::microsoft_date_offset(self.origin.file_name.as_deref().unwrap_or(""), key)
            }
            DateShiftScope::Folder => methods::microsoft_date_offset(
                self.origin.folder_name.as_deref().unwrap_or(""),
                key,
            ),
            DateShiftScope::Resource => methods::microsoft_date_offset(&self.root_id(), key),
        }
    }

    /// Dates in free text move with the structured dates when the policy shifts them;
    /// otherwise they are replaced.
    fn text_date_shift(&mut self, patient: Option<&str>) -> Option<i64> {
        self.engine.shifts_dates.then(|| self.date_offset(patient))
    }

    /// The top-level document's id as it is now (Microsoft reads it when shifting).
    fn root_id(&self) -> String {
        self.root
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    }
}

/// Adds the labels for what was done, after existing ones, each once (codes compared without
/// regard to case), in Microsoft's order.
fn add_security_labels(resource: &mut Value, done: Operations) {
    let Value::Object(resource) = resource else {
        return;
    };
    if !resource.contains_key("meta") {
        let at = resource
            .keys()
            .position(|k| k == "id")
            .map_or(1.min(resource.len()), |i| i + 1);
        resource.shift_insert(at, "meta".into(), Value::Object(Map::new()));
    }
    let Some(Value::Object(meta)) = resource.get_mut("meta") else {
        return;
    };
    let security = meta
        .entry("security")
        .or_insert_with(|| Value::Array(Vec::new()));
    let Value::Array(labels) = security else {
        return;
    };
    for op in Operation::ALL {
        if !done.contains(op) {
            continue;
        }
        let (_, code, _) = op.label();
        let present = labels.iter().any(|l| {
            l.get("code")
                .and_then(Value::as_str)
                .is_some_and(|c| c.eq_ignore_ascii_case(code))
        });
        if !present {
            labels.push(op.security_label());
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::LazyLock;

    use proptest::prelude::*;

    use super::*;
    use crate::tree::tests::resource;

    /// Labels and counts are indexed by `op as usize`: `ALL` must list each operation at its
    /// own discriminant.
    #[test]
    fn every_operation_sits_at_its_own_index() {
        for (i, op) in Operation::ALL.into_iter().enumerate() {
            assert_eq!(op as usize, i, "{op:?}");
        }
    }

    fn engine(policy: &str) -> Engine {
        Engine::build(
            Policy::parse(policy).unwrap(),
            DefaultKeys::derive(b"engine"),
            NaiveDate::from_ymd_opt(2026, 11, 28).unwrap(),
        )
        .unwrap()
    }

    static SAFE_HARBOR: LazyLock<Engine> =
        LazyLock::new(|| engine(crate::preset("safe-harbor").unwrap()));
    static EVERY_METHOD: LazyLock<Engine> = LazyLock::new(|| {
        engine(
            r#"{"fhirPathRules": [
                {"path": "nodesByType('HumanName').family", "method": "substitute", "replaceWith": "Doe"},
                {"path": "nodesByName('given')", "method": "encrypt"},
                {"path": "Patient.birthDate", "method": "dateShift"},
                {"path": "nodesByType('Extension').url", "method": "keep"},
                {"path": "nodesByType('string')", "method": "cryptoHash"},
                {"path": "Resource.id", "method": "perturb", "span": 2},
                {"path": "nodesByType('Address')", "method": "redact"}
            ], "parameters": {"encryptKey": "0123456789abcdef"}}"#,
        )
    });

    fn run(engine: &Engine, r: Value) -> Result<Value, DeidError> {
        let mut run = Run::new([3; 32], engine);
        engine.deidentify(r, &Origin::default(), &IdentityBook::new(), &mut run)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Normalizing only documents the index finds irregular gives what normalizing every
        /// document first gives.
        #[test]
        fn normalizing_on_demand_changes_no_output(r in resource()) {
            let mut normalized = r.clone();
            tree::normalize_repeats(&mut normalized, None, &crate::select::R4Schema);
            for engine in [&*SAFE_HARBOR, &*EVERY_METHOD] {
                prop_assert_eq!(run(engine, r.clone()), run(engine, normalized.clone()));
            }
        }
    }
}
