//! Sensitivity labelling at ingest.
//!
//! A [`Labeller`] reads the codes a FHIR R4 resource carries and tags its `meta.security` with the
//! HL7 sensitivity labels those codes imply: `PSY`/`MH` for mental-health information, `SUD`/`ETH`
//! (and `42CFRPart2`) for substance use, `HIV`, `SEX`, `PSYTHPN`, and the confidentiality code
//! `R` where a law restricts disclosure. Consent and access decisions downstream work on these
//! labels, not on codes.
//!
//! The value sets live in `data/sensitivity.toml` (sources and decisions in `data/SOURCES.md`),
//! compiled once into hash sets and one sorted table of ICD-10-CM ranges: labelling a resource
//! that matches nothing walks a bounded set of its coded elements, allocates nothing and leaves
//! the resource untouched.
//!
//! **Which elements are read**, in the resource and in each of its `contained` resources (which
//! travel with it and may not carry labels of their own, FHIR rule dom-5): `code`, `category`,
//! `type`, `class`, `reasonCode`, `valueCodeableConcept`, `medicationCodeableConcept`,
//! `vaccineCode`, `serviceType`, `conclusionCode`; `component[].code` and
//! `component[].valueCodeableConcept`; `diagnosis[].diagnosisCodeableConcept`,
//! `procedure[].procedureCodeableConcept` and `item[].productOrService` (Claim,
//! ExplanationOfBenefit); `activity[].detail.code` and `activity[].detail.reasonCode` (CarePlan).
//! Each may be a CodeableConcept, a list of them, or a bare Coding (`Encounter.class` in R4).
//! Nothing else: narrative, extensions, identifiers and `meta` itself are not codes of the
//! patient's care. A reference (`medicationReference`, `reasonReference`) is not followed, as that
//! would need I/O: the referenced resource is labelled when it is ingested. A Bundle's entries are
//! resources of their own and are labelled one by one by the caller. QuestionnaireResponse answers
//! are not read: the Observations extracted from them carry the assessment codes.
//!
//! **Architecture invariant:** pure: no I/O, no clock, no randomness; the same resource and data
//! version always give the same labels.

mod check;
mod data;
mod extract;
mod icd;
mod meta;

use std::collections::HashMap;
use std::sync::OnceLock;

use serde_json::Value;

pub use meta::has_label;

/// HL7 v3 ActCode: the sensitivity codes and the privacy-law code `42CFRPart2`.
pub const ACT_CODE: &str = "http://terminology.hl7.org/CodeSystem/v3-ActCode";
/// HL7 v3 Confidentiality: `R` (restricted).
pub const CONFIDENTIALITY: &str = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality";

/// ICD-10-CM, matched by prefix ranges, with or without the dot, letters in any case.
pub const ICD10CM: &str = "http://hl7.org/fhir/sid/icd-10-cm";
/// SNOMED CT.
pub const SNOMED: &str = "http://snomed.info/sct";
/// RxNorm.
pub const RXNORM: &str = "http://www.nlm.nih.gov/research/umls/rxnorm";
/// LOINC.
pub const LOINC: &str = "http://loinc.org";
/// Salus's own document types: LOINC has no code for a psychotherapy note in the HIPAA sense, so
/// sources that keep such notes tag them with [`PSYCHOTHERAPY_NOTE`] in this system.
pub const SALUS_DOCUMENT_TYPE: &str = "https://salus.example.org/fhir/CodeSystem/document-type";
/// The Salus document type of a psychotherapy note (45 CFR 164.501).
pub const PSYCHOTHERAPY_NOTE: &str = "psychotherapy-note";

/// Psychiatry disorder information.
pub const PSY: &str = "PSY";
/// Mental health information.
pub const MH: &str = "MH";
/// Substance use disorder information.
pub const SUD: &str = "SUD";
/// Substance abuse (alcohol or drug) information.
pub const ETH: &str = "ETH";
/// HIV/AIDS information.
pub const HIV: &str = "HIV";
/// Sexuality and reproductive health information.
pub const SEX: &str = "SEX";
/// Psychotherapy note information.
pub const PSYTHPN: &str = "PSYTHPN";
/// 42 CFR Part 2 (confidentiality of substance use disorder patient records), in [`ACT_CODE`].
pub const CFR_42_PART_2: &str = "42CFRPart2";
/// Restricted, in [`CONFIDENTIALITY`].
pub const RESTRICTED: &str = "R";

/// One `meta.security` coding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SecurityLabel {
    pub system: &'static str,
    pub code: &'static str,
    pub display: &'static str,
}

impl SecurityLabel {
    pub const PSY: SecurityLabel =
        SecurityLabel::act(PSY, "psychiatry disorder information sensitivity");
    pub const MH: SecurityLabel = SecurityLabel::act(MH, "mental health information sensitivity");
    pub const SUD: SecurityLabel =
        SecurityLabel::act(SUD, "substance use disorder information sensitivity");
    pub const ETH: SecurityLabel =
        SecurityLabel::act(ETH, "substance abuse information sensitivity");
    pub const HIV: SecurityLabel = SecurityLabel::act(HIV, "HIV/AIDS information sensitivity");
    pub const SEX: SecurityLabel = SecurityLabel::act(
        SEX,
        "sexuality and reproductive health information sensitivity",
    );
    pub const PSYTHPN: SecurityLabel =
        SecurityLabel::act(PSYTHPN, "psychotherapy note information sensitivity");
    pub const CFR_42_PART_2: SecurityLabel = SecurityLabel::act(CFR_42_PART_2, "42 CFR Part2");
    pub const RESTRICTED: SecurityLabel = SecurityLabel {
        system: CONFIDENTIALITY,
        code: RESTRICTED,
        display: "restricted",
    };

    /// Every label this crate can add, in the order they are added: sensitivity first, then the
    /// privacy law, then confidentiality.
    pub const ALL: [SecurityLabel; 9] = [
        SecurityLabel::PSY,
        SecurityLabel::MH,
        SecurityLabel::SUD,
        SecurityLabel::ETH,
        SecurityLabel::HIV,
        SecurityLabel::SEX,
        SecurityLabel::PSYTHPN,
        SecurityLabel::CFR_42_PART_2,
        SecurityLabel::RESTRICTED,
    ];

    const fn act(code: &'static str, display: &'static str) -> SecurityLabel {
        SecurityLabel {
            system: ACT_CODE,
            code,
            display,
        }
    }

    /// The label with this code (`"PSY"`, `"42CFRPart2"`, `"R"`, …).
    pub fn from_code(code: &str) -> Option<SecurityLabel> {
        SecurityLabel::ALL.into_iter().find(|l| l.code == code)
    }

    /// The label as a FHIR Coding: `{"system", "code", "display"}`.
    pub fn to_coding(&self) -> Value {
        let mut coding = serde_json::Map::new();
        coding.insert("system".into(), Value::from(self.system));
        coding.insert("code".into(), Value::from(self.code));
        coding.insert("display".into(), Value::from(self.display));
        Value::Object(coding)
    }
}

/// A label as a bit of [`LabelSet`]; the discriminant is the index in [`SecurityLabel::ALL`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Label {
    Psy,
    Mh,
    Sud,
    Eth,
    Hiv,
    Sex,
    Psythpn,
    Cfr42Part2,
    Restricted,
}

impl Label {
    const ALL: [Label; 9] = [
        Label::Psy,
        Label::Mh,
        Label::Sud,
        Label::Eth,
        Label::Hiv,
        Label::Sex,
        Label::Psythpn,
        Label::Cfr42Part2,
        Label::Restricted,
    ];

    fn security_label(self) -> SecurityLabel {
        SecurityLabel::ALL[self as usize]
    }

    fn from_code(code: &str) -> Option<Label> {
        Label::ALL
            .into_iter()
            .find(|l| l.security_label().code == code)
    }
}

/// A set of labels as bits: merging the labels of many codes costs an OR, not an allocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct LabelSet(u16);

impl LabelSet {
    pub(crate) const EMPTY: LabelSet = LabelSet(0);

    pub(crate) fn with(self, label: Label) -> LabelSet {
        LabelSet(self.0 | 1 << label as u16)
    }

    pub(crate) fn union(self, other: LabelSet) -> LabelSet {
        LabelSet(self.0 | other.0)
    }

    pub(crate) fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The labels in canonical order.
    pub(crate) fn iter(self) -> impl Iterator<Item = Label> {
        Label::ALL
            .into_iter()
            .filter(move |l| self.0 & (1 << *l as u16) != 0)
    }

    fn to_vec(self) -> Vec<SecurityLabel> {
        if self.is_empty() {
            return Vec::new(); // the common case: no allocation
        }
        self.iter().map(Label::security_label).collect()
    }
}

/// One value set of the data file, as compiled: for reports and the data's own tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValueSetSummary {
    pub id: String,
    pub title: String,
    pub system: String,
    pub labels: Vec<SecurityLabel>,
    /// Exact codes (every system but ICD-10-CM).
    pub codes: usize,
    /// ICD-10-CM prefix ranges included, and excluded from those.
    pub ranges: usize,
    pub excluded_ranges: usize,
    pub source: String,
}

/// The exact codes of one code system.
#[derive(Debug)]
struct CodeTable {
    system: Box<str>,
    codes: HashMap<Box<str>, LabelSet>,
}

/// Compiled value sets. Build once ([`Labeller::builtin`] or [`Labeller::from_toml`]) and share.
#[derive(Debug)]
pub struct Labeller {
    version: String,
    icd10cm: icd::RangeTable,
    exact: Vec<CodeTable>,
    value_sets: Vec<ValueSetSummary>,
}

/// Why a data file was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LabelsError {
    /// The text is not TOML.
    #[error("sensitivity data is not valid TOML: {message}")]
    Syntax { message: String },
    /// The TOML is readable but a value is wrong; `key` is its path, e.g. `value_set[3].ranges[1]`.
    #[error("sensitivity data: `{key}`: {reason}")]
    Invalid { key: String, reason: String },
}

impl LabelsError {
    /// The path of the offending key, when the text was TOML.
    pub fn key(&self) -> Option<&str> {
        match self {
            LabelsError::Syntax { .. } => None,
            LabelsError::Invalid { key, .. } => Some(key),
        }
    }
}

/// The data file compiled into the crate.
const BUILTIN: &str = include_str!("../data/sensitivity.toml");

impl Labeller {
    /// The value sets of the embedded `data/sensitivity.toml`, compiled on first use.
    pub fn builtin() -> &'static Labeller {
        static BUILTIN_LABELLER: OnceLock<Labeller> = OnceLock::new();
        BUILTIN_LABELLER.get_or_init(|| {
            // The crate's tests compile this very text: a failure here is a broken build.
            Labeller::from_toml(BUILTIN).expect("embedded data/sensitivity.toml is valid")
        })
    }

    /// Compiles a data file (the format of `data/sensitivity.toml`). Every problem names the key
    /// and the reason; nothing is compiled from a file with an error.
    pub fn from_toml(text: &str) -> Result<Labeller, LabelsError> {
        data::compile(text)
    }

    /// The data version, e.g. `2026.12.1`: record it with the labels to know which value sets
    /// produced them.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// The compiled value sets, in file order.
    pub fn value_sets(&self) -> &[ValueSetSummary] {
        &self.value_sets
    }

    /// The labels the resource's codes imply, deduplicated, in the order of
    /// [`SecurityLabel::ALL`]. Empty (and unallocated) when nothing matches or the value is not a
    /// JSON object.
    pub fn labels_for(&self, resource: &Value) -> Vec<SecurityLabel> {
        self.label_set(resource).to_vec()
    }

    /// The labels one coding implies on its own.
    pub fn labels_for_coding(&self, system: &str, code: &str) -> Vec<SecurityLabel> {
        self.lookup(system, code).to_vec()
    }

    /// Adds the implied labels that `meta.security` does not hold yet (same system and code, any
    /// display, counts as held), after the existing ones, which are kept as they are. Creates
    /// `meta` (after `id`) and `meta.security` (before `tag`) when needed, keeping every other
    /// element and its order. Returns how many labels were added; applying twice adds nothing
    /// the second time. A resource whose `meta` is not an object, or whose `meta.security` is not
    /// an array, is left untouched (0): it is invalid FHIR, and validation reports it.
    pub fn apply(&self, resource: &mut Value) -> usize {
        let labels = self.label_set(resource);
        if labels.is_empty() {
            return 0;
        }
        meta::add_labels(resource, labels)
    }

    fn label_set(&self, resource: &Value) -> LabelSet {
        let mut labels = LabelSet::EMPTY;
        extract::for_each_coding(resource, &mut |system, code| {
            labels = labels.union(self.lookup(system, code));
        });
        labels
    }

    fn lookup(&self, system: &str, code: &str) -> LabelSet {
        let system = canonical_system(system);
        if system == ICD10CM {
            return self.icd10cm.lookup(code);
        }
        self.exact
            .iter()
            .find(|table| &*table.system == system)
            .and_then(|table| table.codes.get(code.trim()).copied())
            .unwrap_or(LabelSet::EMPTY)
    }
}

/// FHIR names code systems by URI, but data converted from HL7 v2 and C-CDA often carries the
/// systems' OIDs instead (HL7 OID registry): the four systems of the value sets are accepted
/// under both names.
fn canonical_system(system: &str) -> &str {
    match system {
        "urn:oid:2.16.840.1.113883.6.90" => ICD10CM,
        "urn:oid:2.16.840.1.113883.6.96" => SNOMED,
        "urn:oid:2.16.840.1.113883.6.88" => RXNORM,
        "urn:oid:2.16.840.1.113883.6.1" => LOINC,
        other => other,
    }
}

/// The OID spellings [`canonical_system`] accepts, which the data file must not use.
pub(crate) fn is_system_alias(system: &str) -> bool {
    canonical_system(system) != system
}
