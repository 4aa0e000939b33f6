//! The ingest report: the JSON that `salus ingest --json` and `POST /ingest` answer with.

use std::collections::BTreeMap;

use salus_fhir::{Issue, OperationOutcome};
use serde::Serialize;

/// What a write did to one resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum WriteOutcome {
    Created,
    Updated,
    /// The content equals the stored version: nothing was written.
    Unchanged,
}

/// Per resource type counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub created: u64,
    pub updated: u64,
    pub unchanged: u64,
}

impl Counts {
    pub fn add(&mut self, outcome: WriteOutcome) {
        match outcome {
            WriteOutcome::Created => self.created += 1,
            WriteOutcome::Updated => self.updated += 1,
            WriteOutcome::Unchanged => self.unchanged += 1,
        }
    }

    pub fn total(&self) -> u64 {
        self.created + self.updated + self.unchanged
    }
}

/// A record that was not stored, where it was, and why.
#[derive(Debug, Clone, Serialize)]
pub struct Rejection {
    pub file: String,
    /// `line 12`, `entry 3`, `line 4 entry 2`, or `file` for the whole input.
    pub position: String,
    pub outcome: OperationOutcome,
}

impl Rejection {
    pub fn new(file: &str, position: impl Into<String>, issues: Vec<Issue>) -> Self {
        Rejection {
            file: file.to_owned(),
            position: position.into(),
            outcome: OperationOutcome::new(issues),
        }
    }

    /// A rejection of a whole input.
    pub fn file(file: &str, issue: Issue) -> Self {
        Rejection::new(file, "file", vec![issue])
    }
}

/// Something the user should know that is not a rejection (a skipped non-FHIR file).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Notice {
    pub file: String,
    pub message: String,
}

/// The report of one ingest run.
#[derive(Debug, Clone, Default, Serialize)]
pub struct IngestReport {
    pub files: u64,
    pub records: u64,
    pub resources: BTreeMap<String, Counts>,
    pub rejected: Vec<Rejection>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notices: Vec<Notice>,
    pub elapsed_ms: u64,
}

impl IngestReport {
    pub fn count(&mut self, resource_type: &str, outcome: WriteOutcome) {
        if let Some(c) = self.resources.get_mut(resource_type) {
            c.add(outcome);
        } else {
            let mut c = Counts::default();
            c.add(outcome);
            self.resources.insert(resource_type.to_owned(), c);
        }
    }

    /// All resource counts added up.
    pub fn totals(&self) -> Counts {
        self.resources
            .values()
            .fold(Counts::default(), |mut acc, c| {
                acc.created += c.created;
                acc.updated += c.updated;
                acc.unchanged += c.unchanged;
                acc
            })
    }

    /// The process exit code the contract gives this outcome: 0, or 2 when anything was rejected.
    pub fn exit_code(&self) -> i32 {
        if self.rejected.is_empty() {
            0
        } else {
            2
        }
    }
}
