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

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use base64::Engine as _;
use chrono::NaiveDate;
use rand::{Rng, RngCore, SeedableRng};
use rand_chacha::ChaCha20Rng;
use serde_json::{Map, Value};

use crate::methods::{self, ReferencePatterns, Shifted};
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

    /// The `meta.security` coding Microsoft's anonymizer adds (spellings included).
    fn security_label(self) -> Value {
        let v3 = "http://terminology.hl7.org/CodeSystem/v3-ObservationValue";
        let (system, code, display) = match self {
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
        };
        let mut coding = Map::new();
        if let Some(s) = system {
            coding.insert("system".into(), Value::String(s.into()));
        }
        coding.insert("code".into(), Value::String(code.into()));
        coding.insert("display".into(), Value::String(display.into()));
        Value::Object(coding)
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
    crypto_hash_key: String,
    encrypt_key: Vec<u8>,
    surrogate_key: String,
    schema: Arc<dyn Schema>,
    references: ReferencePatterns,
    scrubber: Option<Arc<TextScrubber>>,
    today: NaiveDate,
    /// The policy shifts dates, so dates in free text move with them.
    shifts_dates: bool,
}

/// Per-run mutable state: randomness and the report.
pub struct Run {
    rng: ChaCha20Rng,
    pub report: Report,
    /// Patient-scope date offsets already computed (an HMAC each), by patient id.
    patient_offsets: std::collections::HashMap<String, i64>,
}

impl Run {
    /// `seed` feeds the IVs of `encrypt` and the noise of `perturb`; take it from the OS in
    /// production and fix it in tests.
    pub fn new(seed: [u8; 32], engine: &Engine) -> Run {
        Run {
            rng: ChaCha20Rng::from_seed(seed),
            report: Report::new(&engine.policy),
            patient_offsets: std::collections::HashMap::new(),
        }
    }
}

/// The outcome of processing one element.
type Records = BTreeMap<Operation, usize>;

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
        Engine {
            shifts_dates,
            policy,
            date_shift_key,
            crypto_hash_key,
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
        tree::normalize_repeats(&mut resource, None, self.schema.as_ref());
        let Some(tree) = Tree::build(&resource, self.schema.as_ref()) else {
            return Err(DeidError::NotAResource(
                "the resource is not a JSON object".into(),
            ));
        };
        let mut job = Job {
            engine: self,
            root: &mut resource,
            tree,
            generation: 0,
            origin,
            identities,
            run,
        };
        match job.process_resource(0) {
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
    fn process_resource(&mut self, mut id: usize) -> Result<BTreeSet<Operation>, DeidError> {
        let resource_type = self.tree.nodes[id].ty;
        let patient = self.patient_of(id);
        let mut done = BTreeSet::new();
        // Microsoft's lookup for nodesByType / nodesByName, taken once per resource.
        let mut own = self.tree.descendants_within_resource(id);
        let own_path = self.tree.path(id);
        let mut generation = self.generation;

        for (index, rule) in self.engine.policy.rules.iter().enumerate() {
            if !applies_to(rule, resource_type) {
                continue;
            }
            if generation != self.generation {
                // A substitution re-indexed the document: node numbers moved.
                id = self.tree.find(&own_path).unwrap_or(id);
                own = self.tree.descendants_within_resource(id);
                generation = self.generation;
            }
            let matches = self.select(rule, index, id, &own)?;
            let mut records = Records::new();
            if rule.method == Method::Substitute {
                // Substitution reshapes the document: find each match again afterwards.
                let paths: Vec<_> = matches.iter().map(|&m| self.tree.path(m)).collect();
                for path in paths {
                    if let Some(m) = self.tree.find(&path) {
                        self.process_recursive(m, rule, index, patient.as_deref(), &mut records)?;
                    }
                }
            } else {
                for m in matches {
                    self.process_recursive(m, rule, index, patient.as_deref(), &mut records)?;
                }
            }
            for (op, n) in &records {
                done.insert(*op);
                self.run.report.count(index, *op, *n);
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
                add_security_labels(resource, &done);
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

    fn select(
        &self,
        rule: &Rule,
        index: usize,
        id: usize,
        own: &[usize],
    ) -> Result<Vec<usize>, DeidError> {
        let nodes = &self.tree.nodes;
        let with_child = |found: Vec<usize>, child: &Option<String>| match child {
            None => found,
            Some(child) => found
                .into_iter()
                .flat_map(|n| self.tree.children_named(n, child).collect::<Vec<_>>())
                .collect(),
        };
        Ok(match &rule.target {
            Target::WholeResource => vec![id],
            Target::ByType { type_name, child } => with_child(
                own.iter()
                    .copied()
                    .filter(|&n| nodes[n].ty == type_name)
                    .collect(),
                child,
            ),
            Target::ByName { name, child } => with_child(
                own.iter()
                    .copied()
                    .filter(|&n| nodes[n].name == name)
                    .collect(),
                child,
            ),
            Target::Members(names) => {
                let mut current = vec![id];
                for name in names {
                    current = current
                        .into_iter()
                        .flat_map(|n| self.tree.children_named(n, name).collect::<Vec<_>>())
                        .collect();
                }
                current
            }
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
                found
                    .iter()
                    .filter_map(|steps| self.tree.locate(id, steps))
                    .collect()
            }
        })
    }

    /// Microsoft's ProcessNodeRecursive: the element, then its children (not other resources),
    /// each once.
    fn process_recursive(
        &mut self,
        id: usize,
        rule: &Rule,
        index: usize,
        patient: Option<&str>,
        records: &mut Records,
    ) -> Result<(), DeidError> {
        if self.tree.visited[id] {
            return Ok(());
        }
        let structure_changed = self.apply(id, rule, index, patient, records)?;
        if structure_changed {
            return Ok(());
        }
        self.tree.visited[id] = true;
        let children: Vec<usize> = self
            .tree
            .children(id)
            .filter(|&c| !self.tree.nodes[c].resource)
            .collect();
        for child in children {
            self.process_recursive(child, rule, index, patient, records)?;
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
        let params = &self.engine.policy.parameters;
        // Only the methods that read a primitive's value pay for copying it (`keep` and
        // `scrubText` reach far more elements than they change).
        let text = if primitive
            && matches!(
                rule.method,
                Method::Redact | Method::DateShift | Method::CryptoHash | Method::Encrypt
            ) {
            self.tree.text(self.root, id)
        } else {
            None
        };
        let mut record = |op: Operation| *records.entry(op).or_insert(0) += 1;
        match rule.method {
            Method::Keep => {}
            Method::Redact => {
                let Some(text) = text else { return Ok(false) };
                match ty {
                    "date" | "dateTime" | "instant" => {
                        let new = methods::redact_date(
                            &text,
                            params.enable_partial_dates_for_redact,
                            self.engine.today,
                        );
                        self.set_text(id, new);
                        record(Operation::Redact);
                    }
                    "decimal" if self.tree.parent_type(id) == Some("Age") => {
                        let over = text.parse::<f64>().map(|age| age > 89.0).unwrap_or(true);
                        if !params.enable_partial_ages_for_redact || over {
                            self.set_text(id, None);
                        }
                        record(Operation::Redact);
                    }
                    // Partial ZIP codes are "abstracted", not redacted (Microsoft's labels).
                    _ if name.eq_ignore_ascii_case("postalCode")
                        && params.enable_partial_zip_codes_for_redact =>
                    {
                        let new = methods::redact_postal_code(
                            &text,
                            &params.restricted_zip_code_tabulation_areas,
                        );
                        self.set_text(id, Some(new));
                        record(Operation::Abstract);
                    }
                    _ => {
                        self.set_text(id, None);
                        record(Operation::Redact);
                    }
                }
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
                let Some(text) = text else { return Ok(false) };
                let key = &self.engine.crypto_hash_key;
                let hash = |s: &str| methods::crypto_hash(s, key);
                let new = if name == "reference" && self.tree.parent_type(id) == Some("Reference") {
                    self.engine.references.transform_id(&text, &hash)
                } else {
                    hash(&text)
                };
                self.set_text(id, Some(new));
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
                    *records.entry(op).or_insert(0) += 1;
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
                            *records.entry(op).or_insert(0) += 1;
                            Some(Value::String(
                                base64::engine::general_purpose::STANDARD.encode(scrubbed.text),
                            ))
                        } else {
                            None
                        }
                    }
                    None => {
                        // Not text Salus can read: it cannot be checked, so it does not leave.
                        *records.entry(Operation::Redact).or_insert(0) += 1;
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

fn applies_to(rule: &Rule, resource_type: &str) -> bool {
    match rule.resource_type.as_deref() {
        None => true,
        Some("Resource") | Some("DomainResource") => true,
        Some(t) => t == resource_type,
    }
}

/// Adds the labels for what was done, after existing ones, each once (codes compared without
/// regard to case), in Microsoft's order.
fn add_security_labels(resource: &mut Value, done: &BTreeSet<Operation>) {
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
    for op in [
        Operation::Redact,
        Operation::Abstract,
        Operation::CryptoHash,
        Operation::Encrypt,
        Operation::Perturb,
        Operation::Substitute,
        Operation::Generalize,
    ] {
        if !done.contains(&op) {
            continue;
        }
        let label = op.security_label();
        let code = label.get("code").and_then(Value::as_str).unwrap_or("");
        let present = labels.iter().any(|l| {
            l.get("code")
                .and_then(Value::as_str)
                .is_some_and(|c| c.eq_ignore_ascii_case(code))
        });
        if !present {
            labels.push(label);
        }
    }
}
