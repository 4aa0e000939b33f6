//! The context builder: a consented, cited, token-budgeted summary of one patient for an LLM
//! prompt (`$llm-context`, `salus summary`), and the International Patient Summary
//! (`$summary`).
//!
//! The pipeline is pure, over resources in memory: [`disclose`] applies the patient's Consents
//! and the protected-label rule to the compartment; the caller may de-identify what was
//! disclosed; [`llm_context`] builds the sections in clinical priority (safety first), fits
//! them into the token budget and renders the messages; [`ips`] builds the IPS document from
//! the same disclosed resources. Time comes in with the request: nothing here reads a clock.
//!
//! Faithfulness: every statement is built from elements of the resources it cites (`cite`),
//! never from inference; a summary line ("and 11 earlier PHQ-9 results, falling from 19 to
//! 8") cites every resource it counts. What the patient's consent withholds is counted in
//! `omitted`, never mentioned in the messages.

mod budget;
pub mod clinical;
mod disclose;
mod ips;
mod json;
mod parallel;
pub mod sections;
mod tokens;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;

pub use budget::FRAMING_RESERVE;
pub use disclose::{
    disclose, Disclosed, DisclosurePolicy, DisclosureRequest, ProtectedLabels, Refusal,
};
pub use ips::{ips, ips_references, IpsOptions, AUTHOR_DEVICE_ID};
pub use parallel::parse_resources;
pub use tokens::Tokenizer;

/// The resource types the LLM context states (the store loads only these from the
/// compartment), Consents included for the decision.
pub const CONTEXT_TYPES: &[&str] = &[
    "Patient",
    "Consent",
    "Condition",
    "MedicationRequest",
    "MedicationStatement",
    "AllergyIntolerance",
    "Observation",
    "Encounter",
    "CareTeam",
    "Goal",
    "CarePlan",
];

/// The resource types the IPS document states beyond the context's.
pub const IPS_EXTRA_TYPES: &[&str] = &["Immunization", "Procedure"];

/// The resource types the IPS document states.
pub fn ips_types() -> Vec<&'static str> {
    CONTEXT_TYPES
        .iter()
        .chain(IPS_EXTRA_TYPES)
        .copied()
        .collect()
}

/// Why a context could not be built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContextError {
    /// The budget cannot hold even the instructions.
    BudgetTooSmall { max_tokens: usize, needed: usize },
    /// The named encoding's embedded table could not be loaded.
    Tokenizer(&'static str),
}

impl std::fmt::Display for ContextError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ContextError::BudgetTooSmall { max_tokens, needed } => write!(
                f,
                "max_tokens {max_tokens} is too small: the instructions and header alone take {needed} tokens; ask for at least {needed}"
            ),
            ContextError::Tokenizer(name) => {
                write!(f, "the {name} tokenizer could not be loaded")
            }
        }
    }
}

impl std::error::Error for ContextError {}

/// How the context is built.
#[derive(Debug, Clone)]
pub struct ContextOptions {
    /// `Patient/ID` as the caller names it (after de-identification, its new id).
    pub patient: String,
    pub purpose: String,
    pub max_tokens: usize,
    pub tokenizer: Tokenizer,
    /// The request's as-of time: ages, "last 90 days" and relative dates are computed from it.
    pub now: DateTime<Utc>,
    /// State the patient's name (off unless the request allows it).
    pub include_name: bool,
    /// Dates only relative to `now` ("3 weeks ago"): for de-identified summaries.
    pub relative_dates: bool,
}

/// The contract's `$llm-context` answer.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct LlmContext {
    pub patient: String,
    pub purpose: String,
    pub consent: ConsentSummary,
    pub tokenizer: String,
    pub max_tokens: usize,
    pub token_count: usize,
    pub sections: Vec<Section>,
    pub omitted: Vec<Omitted>,
    pub messages: Vec<Message>,
    /// Every resource the context states, for the audit trail.
    #[serde(skip)]
    pub disclosed: Vec<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ConsentSummary {
    pub decision: String,
    pub basis: Vec<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Section {
    pub title: String,
    pub items: Vec<CitedItem>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct CitedItem {
    pub text: String,
    pub cite: Vec<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Omitted {
    pub reason: String,
    pub count: usize,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Message {
    pub role: String,
    pub content: String,
}

/// The instructions that frame the record for the model.
pub const SYSTEM_PROMPT: &str = "You are a clinical assistant supporting a clinician. The user message is a summary of one patient's health record, released under the patient's consent for the stated purpose of use. Use only these facts and do not infer beyond them. Each line ends with the FHIR resources it comes from in square brackets; cite them when you use a fact. This is confidential health information: do not repeat it outside this conversation.";

/// Build the LLM context from what [`disclose`] released.
pub fn llm_context(
    disclosed: &Disclosed,
    options: &ContextOptions,
) -> Result<LlmContext, ContextError> {
    let clock = sections::Clock {
        now: options.now,
        relative_only: options.relative_dates,
    };
    let record = sections::Record::new(&disclosed.resources);
    let drafts = sections::drafts(
        &record,
        &sections::Options {
            clock,
            include_name: options.include_name,
        },
    );
    let as_of = if options.relative_dates {
        "today".to_owned()
    } else {
        options.now.format("%Y-%m-%d").to_string()
    };
    let header = format!(
        "Patient summary for {}, as of {as_of}, for purpose of use {}.\n",
        options.patient, options.purpose
    );
    let fitted = budget::fit(
        &drafts,
        &budget::Frame {
            system: SYSTEM_PROMPT,
            header: &header,
        },
        options.tokenizer,
        options.max_tokens,
        clock,
    )?;
    let mut omitted = Vec::new();
    for (reason, count) in [
        ("consent", disclosed.omitted_consent),
        ("label", disclosed.omitted_label),
        ("budget", fitted.left_out),
    ] {
        if count > 0 {
            omitted.push(Omitted {
                reason: reason.to_owned(),
                count,
            });
        }
    }
    Ok(LlmContext {
        patient: options.patient.clone(),
        purpose: options.purpose.clone(),
        consent: ConsentSummary {
            decision: "permit".to_owned(),
            basis: disclosed.basis.clone(),
        },
        tokenizer: options.tokenizer.name().to_owned(),
        max_tokens: options.max_tokens,
        token_count: fitted.token_count,
        sections: fitted.sections,
        omitted,
        messages: fitted.messages,
        disclosed: fitted.cited,
    })
}

/// Order resources newest first by their clinical date, before de-identification coarsens the
/// dates: the sections' sorts are stable, so a de-identified summary still states which result
/// is the latest and which way a trend went (safe-harbor keeps only the year, which would
/// otherwise leave a year's results in no order).
pub fn order_newest_first(resources: &mut [Value]) {
    resources.sort_by_cached_key(|r| std::cmp::Reverse(json::clinical_instant(r)));
}

impl LlmContext {
    /// The contract's JSON.
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }

    /// The contract's JSON as text (no intermediate value: a large context is serialized once).
    pub fn to_json_text(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// The summary as Markdown, for a person to read.
    pub fn to_markdown(&self) -> String {
        let user = self
            .messages
            .iter()
            .find(|m| m.role == "user")
            .map_or("", |m| m.content.as_str());
        format!("# Patient summary\n\n{user}")
    }

    /// The messages as one prompt text, each under its role.
    pub fn to_prompt(&self) -> String {
        self.messages
            .iter()
            .map(|m| format!("### {}\n{}\n", m.role, m.content.trim_end()))
            .collect::<Vec<_>>()
            .join("\n")
    }
}
