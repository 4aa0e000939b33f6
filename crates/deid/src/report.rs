//! What a run did: per rule and per method, how many elements it touched; per free-text
//! category, how many spans it replaced. Counts and the steward's own rule paths only: never a
//! value from the data.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::engine::Operation;
use crate::policy::Policy;

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct RuleReport {
    pub index: usize,
    pub path: String,
    pub method: String,
    /// Elements this rule changed (elements it only visited, like `keep`'s, are not counted).
    pub elements: u64,
    /// The same, by what was done (`redact`, `abstract` for partial ZIP codes …).
    pub operations: BTreeMap<String, u64>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Report {
    pub resources: u64,
    /// Resources replaced by an empty one because a rule failed (`processingErrors: skip`).
    pub skipped: u64,
    /// Attachments whose data could not be read as text and were removed.
    pub attachments_removed: u64,
    pub rules: Vec<RuleReport>,
    /// Elements changed, by method.
    pub methods: BTreeMap<String, u64>,
    /// Free-text spans replaced, by PHI category.
    pub free_text: BTreeMap<String, u64>,
}

impl Report {
    pub fn new(policy: &Policy) -> Report {
        Report {
            resources: 0,
            skipped: 0,
            attachments_removed: 0,
            rules: policy
                .rules
                .iter()
                .enumerate()
                .map(|(index, r)| RuleReport {
                    index,
                    path: r.path.clone(),
                    method: r.method.name().to_string(),
                    elements: 0,
                    operations: BTreeMap::new(),
                })
                .collect(),
            methods: BTreeMap::new(),
            free_text: BTreeMap::new(),
        }
    }

    pub(crate) fn count(&mut self, rule: usize, op: Operation, n: usize) {
        let n = n as u64;
        if let Some(r) = self.rules.get_mut(rule) {
            r.elements += n;
            add(&mut r.operations, op.name(), n);
            add(&mut self.methods, &r.method, n);
        }
    }

    /// Records free-text spans; returns the operation to label the resource with.
    pub(crate) fn free_text(
        &mut self,
        counts: &BTreeMap<String, u64>,
        surrogates: bool,
    ) -> Operation {
        for (category, n) in counts {
            *self.free_text.entry(category.clone()).or_insert(0) += n;
        }
        if surrogates {
            Operation::Substitute
        } else {
            Operation::Redact
        }
    }

    /// Adds another run's counts (runs over parts of one export, on several threads).
    pub fn merge(&mut self, other: &Report) {
        self.resources += other.resources;
        self.skipped += other.skipped;
        self.attachments_removed += other.attachments_removed;
        for (mine, theirs) in self.rules.iter_mut().zip(&other.rules) {
            mine.elements += theirs.elements;
            for (op, n) in &theirs.operations {
                *mine.operations.entry(op.clone()).or_insert(0) += n;
            }
        }
        for (m, n) in &other.methods {
            *self.methods.entry(m.clone()).or_insert(0) += n;
        }
        for (c, n) in &other.free_text {
            *self.free_text.entry(c.clone()).or_insert(0) += n;
        }
    }
}

/// `*counts[key] += n`, copying the key only the first time (this runs for every rule on every
/// resource).
fn add(counts: &mut BTreeMap<String, u64>, key: &str, n: u64) {
    match counts.get_mut(key) {
        Some(count) => *count += n,
        None => {
            counts.insert(key.to_string(), n);
        }
    }
}
