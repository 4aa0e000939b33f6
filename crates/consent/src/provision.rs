//! The provision tree of one Consent, compiled for one request.
//!
//! Request-level conditions (`period`, `actor`, `action`, `purpose`) are settled while
//! compiling, so the compiled tree holds only provisions that apply to the request; what is
//! left to check per resource are the resource-level conditions (`class`, `code`,
//! `securityLabel`, `data`, `dataPeriod`).

use serde_json::Value;

use crate::facts::ResourceFacts;
use crate::fhir::{coding, codings_of, reference_of, same_resource, type_and_id, Coding};
use crate::time::{parse_period, TimeRange};
use crate::Request;

/// Provisions nested deeper than this below the root are not read; such a provision counts
/// as an unconditional deny (reading less of a consent must never widen what it permits).
pub const MAX_DEPTH: usize = 32;

const CONSENT_ACTION: &str = "http://terminology.hl7.org/CodeSystem/consentaction";
const ACT_REASON: &str = "http://terminology.hl7.org/CodeSystem/v3-ActReason";
const RESOURCE_TYPES: &str = "http://hl7.org/fhir/resource-types";
const MIME_TYPES: &str = "urn:ietf:bcp:13";
const CONFIDENTIALITY: &str = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality";
/// v3 Confidentiality codes from least to most protected: a provision naming one of them
/// covers data labelled with it "or lower" (R4 `Consent.provision.securityLabel`).
const CONFIDENTIALITY_RANK: &[&str] = &["U", "L", "M", "N", "R", "V"];

/// The result of matching one condition: `Unknown` when the Consent or the resource cannot be
/// read well enough to tell.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Tri {
    Yes,
    No,
    Unknown,
}

impl Tri {
    fn from_bool(b: bool) -> Tri {
        if b {
            Tri::Yes
        } else {
            Tri::No
        }
    }

    fn and(self, other: Tri) -> Tri {
        match (self, other) {
            (Tri::No, _) | (_, Tri::No) => Tri::No,
            (Tri::Yes, Tri::Yes) => Tri::Yes,
            _ => Tri::Unknown,
        }
    }

    fn any(items: impl IntoIterator<Item = Tri>) -> Tri {
        let mut result = Tri::No;
        for t in items {
            match t {
                Tri::Yes => return Tri::Yes,
                Tri::Unknown => result = Tri::Unknown,
                Tri::No => {}
            }
        }
        result
    }

    /// The safe-side reading of a condition: when it cannot be told, a deny provision is taken
    /// to apply and a permit provision is taken not to.
    pub(crate) fn holds_for(self, permit: bool) -> bool {
        match self {
            Tri::Yes => true,
            Tri::No => false,
            Tri::Unknown => !permit,
        }
    }
}

/// A list-valued condition: absent or empty means "any".
#[derive(Debug, Default)]
enum Cond<T> {
    #[default]
    Any,
    /// Present but not a JSON array.
    Unreadable,
    AnyOf(Vec<T>),
}

impl<T> Cond<T> {
    fn read(provision: &Value, key: &str, entry: impl Fn(&Value) -> T) -> Cond<T> {
        match provision.get(key) {
            None | Some(Value::Null) => Cond::Any,
            Some(Value::Array(items)) if items.is_empty() => Cond::Any,
            Some(Value::Array(items)) => Cond::AnyOf(items.iter().map(entry).collect()),
            Some(_) => Cond::Unreadable,
        }
    }

    fn eval(&self, f: impl Fn(&T) -> Tri) -> Tri {
        match self {
            Cond::Any => Tri::Yes,
            Cond::Unreadable => Tri::Unknown,
            Cond::AnyOf(items) => Tri::any(items.iter().map(f)),
        }
    }

    fn is_any(&self) -> bool {
        matches!(self, Cond::Any)
    }
}

/// Match a code drawn from a known code system (`system` or no system). Codings in other
/// systems are not understood; a list holding only those is `Unknown`.
fn known_code(codings: &[Coding], system: &str, wanted: &str) -> Tri {
    let mut known = codings
        .iter()
        .filter(|c| c.system.as_deref().is_none_or(|s| s == system))
        .peekable();
    if known.peek().is_none() {
        return Tri::Unknown;
    }
    Tri::from_bool(known.any(|c| c.code == wanted))
}

/// One `provision.actor` entry against the request's recipient. The `reference` identifies
/// the actor and decides when present (its `role` then only describes it); an entry with only
/// a `role` matches a request made in that role. Group membership cannot be resolved here.
fn actor_matches(entry: &Value, req: &Request) -> Tri {
    if let Some(reference) = entry.get("reference") {
        return match reference_of(reference) {
            Some(r) if same_resource(r, req.actor) => Tri::Yes,
            Some(r) => match type_and_id(r) {
                Some(("Group", _)) | None => Tri::Unknown,
                Some(_) => Tri::No,
            },
            None => Tri::Unknown,
        };
    }
    match entry.get("role").map(codings_of) {
        Some(roles) if !roles.is_empty() => Tri::from_bool(
            roles
                .iter()
                .any(|p| req.actor_roles.iter().any(|r| p.names(r))),
        ),
        _ => Tri::Unknown,
    }
}

/// Whether a request-level list condition is met: absent or empty is "any", not a list is
/// unreadable.
fn any_entry(provision: &Value, key: &str, f: impl Fn(&Value) -> Tri) -> Tri {
    Cond::read(provision, key, f).eval(|t| *t)
}

fn request_match(provision: &Value, req: &Request) -> Tri {
    let period = match provision.get("period") {
        None | Some(Value::Null) => Tri::Yes,
        Some(p) => parse_period(p).map_or(Tri::Unknown, |range| {
            Tri::from_bool(range.contains(req.as_of))
        }),
    };
    let actor = any_entry(provision, "actor", |e| actor_matches(e, req));
    let action = any_entry(provision, "action", |e| {
        known_code(&codings_of(e), CONSENT_ACTION, req.action)
    });
    let purpose = any_entry(provision, "purpose", |e| {
        let codings: Vec<Coding> = coding(e).into_iter().collect();
        known_code(&codings, ACT_REASON, req.purpose)
    });
    period.and(actor).and(action).and(purpose)
}

/// A `provision.class` entry.
#[derive(Debug)]
enum ClassPattern {
    ResourceType(String),
    MimeType(String),
    /// Another code system, or an unreadable coding.
    NotUnderstood,
}

impl ClassPattern {
    fn read(v: &Value) -> ClassPattern {
        match coding(v) {
            Some(Coding { system: None, code }) => ClassPattern::ResourceType(code),
            Some(Coding {
                system: Some(s),
                code,
            }) if s == RESOURCE_TYPES => ClassPattern::ResourceType(code),
            Some(Coding {
                system: Some(s),
                code,
            }) if s == MIME_TYPES => ClassPattern::MimeType(code),
            _ => ClassPattern::NotUnderstood,
        }
    }

    fn matches(&self, f: &ResourceFacts) -> Tri {
        match self {
            ClassPattern::ResourceType(t) => f
                .resource_type
                .as_deref()
                .map_or(Tri::Unknown, |rt| Tri::from_bool(rt == t)),
            ClassPattern::MimeType(m) => {
                Tri::from_bool(f.content_types.iter().any(|c| same_mime_type(c, m)))
            }
            ClassPattern::NotUnderstood => Tri::Unknown,
        }
    }
}

fn same_mime_type(a: &str, b: &str) -> bool {
    let essence = |s: &str| {
        s.split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase()
    };
    essence(a) == essence(b)
}

/// `provision.data.meaning`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Meaning {
    Instance,
    Related,
    Dependents,
    AuthoredBy,
    NotUnderstood,
}

/// A `provision.data` entry; `None` when its reference is unreadable.
#[derive(Debug)]
struct DataPattern {
    meaning: Meaning,
    target: String,
}

impl DataPattern {
    fn read(v: &Value) -> Option<DataPattern> {
        let target = reference_of(v.get("reference")?)?;
        type_and_id(target)?;
        let meaning = match v.get("meaning").and_then(Value::as_str) {
            Some("instance") => Meaning::Instance,
            Some("related") => Meaning::Related,
            Some("dependents") => Meaning::Dependents,
            Some("authoredby") => Meaning::AuthoredBy,
            _ => Meaning::NotUnderstood,
        };
        Some(DataPattern {
            meaning,
            target: target.to_owned(),
        })
    }

    /// `instance` is exact; `related` also covers resources that refer to the target. For
    /// `dependents` (what the target refers to) and `authoredby` the other resources would be
    /// needed, so anything but the instance itself is `Unknown`.
    fn matches(&self, f: &ResourceFacts) -> Tri {
        let instance = f
            .reference
            .as_deref()
            .map(|r| same_resource(r, &self.target));
        if instance == Some(true) {
            return Tri::Yes;
        }
        match self.meaning {
            Meaning::Related if f.references.iter().any(|r| same_resource(r, &self.target)) => {
                Tri::Yes
            }
            Meaning::Instance | Meaning::Related if instance == Some(false) => Tri::No,
            _ => Tri::Unknown,
        }
    }
}

/// Whether the resource's clinical time lies inside a provision's `dataPeriod`: `Yes` when
/// wholly inside, `No` when wholly outside, `Unknown` when it straddles a bound.
fn within(data: TimeRange, bounds: TimeRange) -> Tri {
    let after_start = bounds
        .start
        .is_none_or(|s| data.start.is_some_and(|d| d >= s));
    let before_end = bounds.end.is_none_or(|e| data.end.is_some_and(|d| d <= e));
    let disjoint = matches!((bounds.end, data.start), (Some(e), Some(d)) if d >= e)
        || matches!((bounds.start, data.end), (Some(s), Some(d)) if d <= s);
    if after_start && before_end {
        Tri::Yes
    } else if disjoint {
        Tri::No
    } else {
        Tri::Unknown
    }
}

fn label_covers(pattern: &Coding, label: &Coding) -> bool {
    if pattern.names(label) {
        return true;
    }
    let rank = |c: &Coding| {
        (c.system.as_deref() == Some(CONFIDENTIALITY))
            .then(|| CONFIDENTIALITY_RANK.iter().position(|r| *r == c.code))
            .flatten()
    };
    matches!((rank(pattern), rank(label)), (Some(p), Some(l)) if l <= p)
}

/// The resource-level conditions of one provision.
#[derive(Debug, Default)]
struct ResourceConditions {
    class: Cond<ClassPattern>,
    /// Each entry a CodeableConcept's codings; empty when unreadable.
    code: Cond<Vec<Coding>>,
    security_label: Cond<Option<Coding>>,
    data: Cond<Option<DataPattern>>,
    /// `None`: no dataPeriod; `Some(None)`: present but unreadable.
    data_period: Option<Option<TimeRange>>,
}

impl ResourceConditions {
    fn read(v: &Value) -> ResourceConditions {
        ResourceConditions {
            class: Cond::read(v, "class", ClassPattern::read),
            code: Cond::read(v, "code", codings_of),
            security_label: Cond::read(v, "securityLabel", coding),
            data: Cond::read(v, "data", DataPattern::read),
            data_period: match v.get("dataPeriod") {
                None | Some(Value::Null) => None,
                Some(p) => Some(parse_period(p).ok()),
            },
        }
    }

    fn is_unconditional(&self) -> bool {
        self.class.is_any()
            && self.code.is_any()
            && self.security_label.is_any()
            && self.data.is_any()
            && self.data_period.is_none()
    }

    fn matches(&self, f: &ResourceFacts) -> Tri {
        let class = self.class.eval(|p| p.matches(f));
        let code = self.code.eval(|concept| match concept.is_empty() {
            true => Tri::Unknown,
            false => Tri::from_bool(concept.iter().any(|p| f.codes.iter().any(|c| p.names(c)))),
        });
        let label = self.security_label.eval(|p| match p {
            Some(p) => Tri::from_bool(f.security_labels.iter().any(|l| label_covers(p, l))),
            None => Tri::Unknown,
        });
        let data = self
            .data
            .eval(|p| p.as_ref().map_or(Tri::Unknown, |p| p.matches(f)));
        let period = match self.data_period {
            None => Tri::Yes,
            Some(None) => Tri::Unknown,
            Some(Some(bounds)) => f.clinical_time.map_or(Tri::Unknown, |t| within(t, bounds)),
        };
        class.and(code).and(label).and(data).and(period)
    }

    /// The resource's labels this provision names explicitly (not merely covers by the
    /// confidentiality ordering).
    fn named_labels<'f>(&'f self, f: &'f ResourceFacts) -> impl Iterator<Item = &'f Coding> + 'f {
        let patterns: &[Option<Coding>] = match &self.security_label {
            Cond::AnyOf(p) => p,
            _ => &[],
        };
        f.security_labels
            .iter()
            .filter(move |l| patterns.iter().flatten().any(|p| p.names(l)))
    }
}

/// A provision that applies to the request.
#[derive(Debug)]
pub(crate) struct Node {
    /// FHIRPath-like location in the Consent, e.g. `provision.provision[1]`.
    pub path: String,
    pub permit: bool,
    conditions: ResourceConditions,
    children: Vec<Node>,
    /// `Some(path)` when every resource reaching this node is denied, naming the provision
    /// that denies.
    pub always_denies: Option<String>,
    /// `Some(path)` of a permit provision at which some resource reaching this node may end.
    pub may_permit: Option<String>,
}

/// Where a resource ends in the tree.
pub(crate) struct Reached<'n> {
    pub permit: bool,
    pub path: &'n str,
    pub labels: Vec<Coding>,
}

impl Node {
    /// Whether this provision or one under it matches on `data` (and so needs a resource's
    /// references, the costliest fact to gather).
    pub(crate) fn uses_data(&self) -> bool {
        !matches!(self.conditions.data, Cond::Any) || self.children.iter().any(Node::uses_data)
    }

    /// Compile a provision for the request; `None` when it does not apply to the request.
    /// `untyped_permit` is the type an untyped provision takes (only the root may be untyped).
    pub(crate) fn compile(
        v: &Value,
        path: String,
        depth: usize,
        untyped_permit: bool,
        req: &Request,
    ) -> Option<Node> {
        if depth > MAX_DEPTH || !v.is_object() {
            return Some(Node::deny_everything(path));
        }
        // Anything but an exact "permit" is read as deny (a misspelt type must not permit).
        let permit = match v.get("type") {
            None | Some(Value::Null) => untyped_permit,
            Some(t) => t.as_str() == Some("permit"),
        };
        if !request_match(v, req).holds_for(permit) {
            return None;
        }
        let children = match v.get("provision") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .filter_map(|(i, c)| {
                    Node::compile(c, format!("{path}.provision[{i}]"), depth + 1, false, req)
                })
                .collect(),
            Some(_) => vec![Node::deny_everything(format!("{path}.provision"))],
        };
        Some(Node::new(
            path,
            permit,
            ResourceConditions::read(v),
            children,
        ))
    }

    fn deny_everything(path: String) -> Node {
        Node::new(path, false, ResourceConditions::default(), Vec::new())
    }

    fn new(
        path: String,
        permit: bool,
        conditions: ResourceConditions,
        children: Vec<Node>,
    ) -> Node {
        // An unconditional child that always denies catches every resource; a deny whose
        // children all always deny can never end in a permit.
        let always_denies = children
            .iter()
            .filter(|c| c.conditions.is_unconditional())
            .find_map(|c| c.always_denies.clone())
            .or_else(|| {
                (!permit && children.iter().all(|c| c.always_denies.is_some()))
                    .then(|| path.clone())
            });
        let may_permit = match (&always_denies, permit) {
            (Some(_), _) => None,
            (None, true) => Some(path.clone()),
            (None, false) => children.iter().find_map(|c| c.may_permit.clone()),
        };
        Node {
            path,
            permit,
            conditions,
            children,
            always_denies,
            may_permit,
        }
    }

    /// Whether the resource-level conditions hold for the resource (safe-side reading).
    pub(crate) fn applies_to(&self, f: &ResourceFacts) -> bool {
        self.conditions.matches(f).holds_for(self.permit)
    }

    pub(crate) fn is_unconditional(&self) -> bool {
        self.conditions.is_unconditional()
    }

    /// The decision for a resource that reaches this node: the deepest applicable provision
    /// decides; among applicable siblings a deny overrides a permit.
    pub(crate) fn decide<'n>(&'n self, f: &ResourceFacts) -> Reached<'n> {
        let mut permitted: Option<Reached<'n>> = None;
        for child in self.children.iter().filter(|c| c.applies_to(f)) {
            let reached = child.decide(f);
            if !reached.permit {
                return reached;
            }
            match &mut permitted {
                Some(first) => first.labels.extend(reached.labels),
                None => permitted = Some(reached),
            }
        }
        let mut reached = permitted.unwrap_or(Reached {
            permit: self.permit,
            path: &self.path,
            labels: Vec::new(),
        });
        if reached.permit && self.permit {
            reached
                .labels
                .extend(self.conditions.named_labels(f).cloned());
        }
        reached
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, Utc};

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn tri_logic() {
        assert_eq!(Tri::Yes.and(Tri::Unknown), Tri::Unknown);
        assert_eq!(Tri::Unknown.and(Tri::No), Tri::No);
        assert_eq!(Tri::any([Tri::No, Tri::Unknown]), Tri::Unknown);
        assert_eq!(Tri::any([Tri::Unknown, Tri::Yes]), Tri::Yes);
        assert_eq!(Tri::any([]), Tri::No);
        assert!(Tri::Unknown.holds_for(false));
        assert!(!Tri::Unknown.holds_for(true));
    }

    #[test]
    fn data_period_containment() {
        let bounds = TimeRange {
            start: Some(t("2019-01-01T00:00:00Z")),
            end: Some(t("2020-01-01T00:00:00Z")),
        };
        let day = |d: &str| TimeRange {
            start: Some(t(&format!("{d}T00:00:00Z"))),
            end: Some(t(&format!("{d}T23:59:59Z"))),
        };
        assert_eq!(within(day("2019-05-01"), bounds), Tri::Yes);
        assert_eq!(within(day("2021-05-01"), bounds), Tri::No);
        assert_eq!(within(day("2018-05-01"), bounds), Tri::No);
        let straddle = TimeRange {
            start: Some(t("2018-12-01T00:00:00Z")),
            end: Some(t("2019-02-01T00:00:00Z")),
        };
        assert_eq!(within(straddle, bounds), Tri::Unknown);
        let ongoing = TimeRange {
            start: Some(t("2019-06-01T00:00:00Z")),
            end: None,
        };
        assert_eq!(within(ongoing, bounds), Tri::Unknown);
    }

    #[test]
    fn confidentiality_high_water_mark() {
        let c = |code: &str| Coding::new(CONFIDENTIALITY, code);
        assert!(label_covers(&c("R"), &c("N")));
        assert!(label_covers(&c("R"), &c("R")));
        assert!(!label_covers(&c("R"), &c("V")));
        assert!(!label_covers(
            &c("R"),
            &Coding::new("http://terminology.hl7.org/CodeSystem/v3-ActCode", "PSY")
        ));
    }

    #[test]
    fn mime_types_compare_by_essence() {
        assert!(same_mime_type(
            "application/hl7-cda+xml; charset=utf-8",
            "Application/HL7-CDA+XML"
        ));
        assert!(!same_mime_type("text/plain", "application/pdf"));
    }
}
