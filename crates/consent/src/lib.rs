//! Evaluation of FHIR R4 privacy Consents for one disclosure request.
//!
//! Sans-I/O: the caller loads the patient's Consent resources, says who is asking, for whom,
//! why and *when* ([`Request::as_of`]; no clock is read), and gets a request-level decision
//! ([`Evaluation::overall`]) plus a per-resource decision ([`Evaluation::decide`]). Nothing here
//! panics on malformed input, and no diagnostic string ever quotes a value from a resource
//! other than a Consent's own id (when it is a valid FHIR id) and provision paths: resource
//! contents may be PHI. (The request's own actor, purpose and patient id are quoted.)
//!
//! # Which Consents count
//!
//! A Consent *applies* to the request when all of these hold; the others are ignored (see
//! [`Evaluation::skipped`]):
//!
//! * `resourceType` is `Consent` and `status` is exactly `active` (`draft`, `proposed`,
//!   `rejected`, `inactive`, `entered-in-error` never decide anything);
//! * `scope` has the coding `patient-privacy` (system
//!   `http://terminology.hl7.org/CodeSystem/consentscope`, or no system). `research`,
//!   `treatment` and `adr` consents are not about disclosure;
//! * `patient.reference` names the request's patient: `Patient/ID`, `Patient/ID/_history/N`,
//!   or an absolute URL ending in `/Patient/ID`;
//! * `dateTime` (when the consent was recorded) is not after `as_of`. A missing `dateTime`
//!   does not restrict;
//! * the root provision's `period`, which is the validity of the whole consent, contains
//!   `as_of`.
//!
//! `category` is not used to decide: the computable content of a privacy consent is its
//! `policyRule` and provisions, and categories (LOINC 59284-0, `INFAO`, `npp`, ...) vary
//! between jurisdictions without changing that content.
//!
//! # One Consent: base policy and provisions
//!
//! The base decision comes from `policyRule` (codings in
//! `http://terminology.hl7.org/CodeSystem/v3-ActCode`, or no system; all nine official R4
//! examples use these): `OPTIN` (and `OPTINR`) denies unless a provision permits, `OPTOUT`
//! (and `OPTOUTE`) permits unless a provision denies. Any other or missing policyRule (or one
//! naming both) is *unrecognised* and read as deny-unless-permitted: we never presume implied
//! consent.
//!
//! The root provision is, per R4, "an exception to the base policy of this consent", and R4
//! does not allow a `type` on it. So an untyped root takes the type opposite to the base:
//! permit under opt-in, deny under opt-out. Under an unrecognised policyRule an untyped root
//! is a deny (its opposite is not known, and guessing permit could turn an opt-out's denial
//! into a permission). A typed root (the `notOrg` example has one) is honoured as written.
//! Nested provisions are exceptions to their parent and must have a `type`; a nested
//! provision without one, or with anything but exactly `permit`, is a deny.
//!
//! A provision *applies to the request* when its `period` contains `as_of`, and its `actor`,
//! `action` and `purpose` lists (each: none listed = any) include the request's:
//!
//! * `actor`: every actor is read as a *recipient* ("who or what is controlled by this rule").
//!   An entry with a `reference` matches when it names [`Request::actor`] (same reference
//!   forms as the patient); its `role` then only describes it. An entry with only a `role`
//!   matches when [`Request::actor_roles`] holds that coding. Group references cannot be
//!   resolved here and count as unknown (below). Organisation membership is not inferred:
//!   a caller acting for an organisation passes the organisation's reference;
//! * `action`: `http://terminology.hl7.org/CodeSystem/consentaction` codes against
//!   [`Request::action`];
//! * `purpose`: `http://terminology.hl7.org/CodeSystem/v3-ActReason` codes against
//!   [`Request::purpose`], compared exactly (the purpose-of-use hierarchy is not expanded:
//!   a provision for `TREAT` does not cover a request for `ETREAT`).
//!
//! It *applies to a resource* (see [`ResourceFacts`]) when its `class` (resource type in
//! `http://hl7.org/fhir/resource-types` or no system; or a MIME type in `urn:ietf:bcp:13`
//! against attachment content types), `code`, `securityLabel` (exact coding, plus the R4
//! rule that a v3-Confidentiality label covers data labelled with it "or lower"), `data`
//! (`instance`: that resource; `related`: it or resources referring to it) and `dataPeriod`
//! (the resource's clinical time lies inside it) conditions hold; none listed = any.
//!
//! Nested provisions are considered only when their parent applies, and the *deepest*
//! applicable provision decides. When several siblings apply to the same resource, a deny
//! among them overrides their permits. Provisions nested deeper than [`MAX_DEPTH`] levels are
//! not read and count as an unconditional deny.
//!
//! A resource that the root provision does not reach gets the base decision, cited as path
//! `policyRule`.
//!
//! # What cannot be read never permits
//!
//! Every condition is matched three-valued: yes, no, or *unknown* (an unparseable period or
//! date, a list that is not a list, a code system the crate does not understand, a Group
//! actor, a resource without the clinical time a `dataPeriod` asks about, a data reference
//! that would need other resources). An unknown condition counts as met for a deny provision
//! and unmet for a permit provision, so missing knowledge can only move a decision towards
//! deny: a deny provision with an unreadable period still denies; a permit provision with
//! one does not permit.
//!
//! At the consent level the same holds. A Consent whose `dateTime` is unreadable, or is a
//! bare date equal to the day of `as_of` (it may have been recorded later that day), or
//! whose root `period` is unreadable, is *uncertain*: it is evaluated, but only its denials
//! (explicit or from an opt-in base) count; its permissions are dropped, as if that consent
//! were not on file for that resource.
//!
//! # Several Consents
//!
//! Each applicable Consent gives one of four outcomes for a resource, and the strongest kind
//! present wins:
//!
//! 1. an explicit deny (a deny provision decided);
//! 2. an explicit permit (a permit provision decided);
//! 3. a base deny (no provision reached the resource; opt-in or unrecognised policyRule);
//! 4. a base permit (no provision reached it; opt-out).
//!
//! Explicit deny overrides everything: a restriction the patient wrote into any active
//! consent must hold until that consent is withdrawn (made inactive), and a later permission
//! elsewhere must not silently reopen it. Explicit statements beat base policies because a
//! base policy is only what a consent says about things it does not mention: two opt-in
//! consents that each grant access to a different recipient must not cancel each other, and
//! a restriction in an opt-in consent must not be undone by the implied consent of an
//! opt-out one (base deny beats base permit). The [`Decision::basis`] cites the first deciding
//! consent in input order and [`Decision::concurring`] the others of the same kind. With no
//! applicable Consent, or when only uncertain consents remain and they do not deny, the
//! configured [`DefaultDecision`] decides with [`Basis::NoConsent`].
//!
//! # Request level
//!
//! [`Evaluation::overall`] answers "may anything at all be disclosed to this actor for this
//! purpose now?". It denies only when no resource could be permitted: some consent denies
//! every resource explicitly (an opt-out whose provision denies this actor outright), or no
//! explicit permission is possible and some consent denies everything through its base (an
//! opt-in that grants this actor nothing). Otherwise it permits, citing a provision that may
//! permit. It is an upper bound: the caller must still filter each resource with
//! [`Evaluation::decide`].
//!
//! # Specially protected data
//!
//! [`Decision::labels_named`] lists the security labels of the resource that a permit
//! provision on the deciding path (the deciding permit provision and its permit ancestors)
//! names explicitly in `securityLabel`. Callers release data labelled e.g. `ETH`,
//! `42CFRPart2` or `PSYTHPN` only when its label is named there; a base (opt-out) permit
//! names nothing.

mod facts;
mod fhir;
mod provision;
mod time;

use std::fmt;

use chrono::{DateTime, Utc};
use serde_json::Value;

pub use facts::{ResourceFacts, CODE_ELEMENTS, TIME_ELEMENTS};
pub use fhir::Coding;
pub use provision::MAX_DEPTH;
pub use time::TimeRange;

use fhir::{codings_of, is_fhir_id, reference_of, type_and_id};
use provision::Node;
use time::{parse_period, parse_time};

const CONSENT_SCOPE: &str = "http://terminology.hl7.org/CodeSystem/consentscope";
const ACT_CODE: &str = "http://terminology.hl7.org/CodeSystem/v3-ActCode";
/// Path cited when a consent's base policy decided.
const POLICY_RULE: &str = "policyRule";

/// Who asks, for whom, why, when.
#[derive(Clone, Debug)]
pub struct Request<'a> {
    /// The patient's id, e.g. `pat-1` (no `Patient/`).
    pub patient: &'a str,
    /// The recipient as a reference, e.g. `Device/salus-llm-assistant`.
    pub actor: &'a str,
    /// Roles the recipient acts in (matched by provision actors that give only a role).
    pub actor_roles: &'a [Coding],
    /// A v3-ActReason purpose-of-use code, e.g. `TREAT`.
    pub purpose: &'a str,
    /// A consentaction code, e.g. `access`.
    pub action: &'a str,
    /// The moment the decision is made for.
    pub as_of: DateTime<Utc>,
}

/// What decides when no Consent does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DefaultDecision {
    Deny,
    Permit,
}

/// Why a decision was made.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Basis {
    /// A Consent decided: `consent` is `Consent/ID` (or `consents[i]`, the position in the
    /// input, when the id is missing or not a valid FHIR id); `path` is the deciding provision
    /// (`provision`, `provision.provision[1]`, ...) or `policyRule` when its base policy
    /// decided.
    Consent { consent: String, path: String },
    /// No Consent decided; the configured default did.
    NoConsent,
}

impl fmt::Display for Basis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Basis::Consent { consent, path } => write!(f, "{consent} {path}"),
            Basis::NoConsent => f.write_str("default"),
        }
    }
}

/// A decision and its basis.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    pub permit: bool,
    /// The first deciding Consent (input order), or [`Basis::NoConsent`].
    pub basis: Basis,
    /// Other Consents that decided the same way with the same strength.
    pub concurring: Vec<Basis>,
    /// The resource's security labels that a permit provision on the deciding path names
    /// explicitly (sorted, deduplicated; empty for denials and for request-level decisions).
    pub labels_named: Vec<Coding>,
    reason: String,
}

impl Decision {
    /// A plain-English reason, e.g. for an HTTP 403 diagnostic. Quotes only Consent ids,
    /// provision paths and the request's own actor, purpose and patient.
    pub fn reason(&self) -> &str {
        &self.reason
    }
}

/// Why a Consent was not applied to the request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NotApplicable {
    /// Not a JSON object with `resourceType` `Consent`.
    NotAConsent,
    /// `status` is not `active`.
    NotActive,
    /// `scope` is not `patient-privacy`.
    NotPrivacy,
    /// `patient` does not name the request's patient.
    OtherPatient,
    /// `dateTime` is after `as_of`.
    NotYetRecorded,
    /// The root provision's `period` does not contain `as_of`.
    OutsidePeriod,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Policy {
    OptIn,
    OptOut,
    Unrecognised,
}

impl Policy {
    fn read(rule: Option<&Value>) -> Policy {
        let codings = rule.map(codings_of).unwrap_or_default();
        let mut found = None;
        for c in codings
            .iter()
            .filter(|c| c.system.as_deref().is_none_or(|s| s == ACT_CODE))
        {
            let policy = match c.code.as_str() {
                "OPTIN" | "OPTINR" => Policy::OptIn,
                "OPTOUT" | "OPTOUTE" => Policy::OptOut,
                _ => continue,
            };
            if found.is_some_and(|f| f != policy) {
                return Policy::Unrecognised;
            }
            found = Some(policy);
        }
        found.unwrap_or(Policy::Unrecognised)
    }

    fn label(self) -> &'static str {
        match self {
            Policy::OptIn => "opt-in",
            Policy::OptOut => "opt-out",
            Policy::Unrecognised => "unrecognised policyRule",
        }
    }
}

/// One applicable Consent, compiled for the request.
#[derive(Debug)]
struct Compiled {
    name: String,
    policy: Policy,
    /// Only this consent's denials count (see the crate docs).
    uncertain: bool,
    /// The root provision, when it applies to the request.
    root: Option<Node>,
}

/// The kinds of per-consent outcome, strongest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    ExplicitDeny,
    ExplicitPermit,
    BaseDeny,
    BasePermit,
}

impl Kind {
    fn permits(self) -> bool {
        matches!(self, Kind::ExplicitPermit | Kind::BasePermit)
    }
}

/// One consent's say about one resource (or about the request, for `overall`).
struct Outcome<'c> {
    consent: &'c Compiled,
    kind: Kind,
    path: String,
    labels: Vec<Coding>,
}

impl Compiled {
    fn read(index: usize, v: &Value, req: &Request) -> Result<Compiled, (String, NotApplicable)> {
        let name = match v.get("id").and_then(Value::as_str) {
            Some(id) if is_fhir_id(id) => format!("Consent/{id}"),
            _ => format!("consents[{index}]"),
        };
        let skip = |why| Err((name.clone(), why));
        if v.get("resourceType").and_then(Value::as_str) != Some("Consent") {
            return skip(NotApplicable::NotAConsent);
        }
        if v.get("status").and_then(Value::as_str) != Some("active") {
            return skip(NotApplicable::NotActive);
        }
        let scope = v.get("scope").map(codings_of).unwrap_or_default();
        if !scope.iter().any(|c| {
            c.code == "patient-privacy" && c.system.as_deref().is_none_or(|s| s == CONSENT_SCOPE)
        }) {
            return skip(NotApplicable::NotPrivacy);
        }
        let patient = v
            .get("patient")
            .and_then(reference_of)
            .and_then(type_and_id);
        if patient != Some(("Patient", req.patient)) {
            return skip(NotApplicable::OtherPatient);
        }
        let mut uncertain = false;
        match v.get("dateTime") {
            None | Some(Value::Null) => {}
            Some(Value::String(s)) => match parse_time(s) {
                Some(t) if t.lo > req.as_of => return skip(NotApplicable::NotYetRecorded),
                Some(t) => uncertain |= t.date_only && req.as_of < t.hi,
                None => uncertain = true,
            },
            Some(_) => uncertain = true,
        }
        let policy = Policy::read(v.get("policyRule"));
        let root = match v.get("provision") {
            None | Some(Value::Null) => None,
            Some(p) => {
                match p.get("period") {
                    None | Some(Value::Null) => {}
                    Some(period) => match parse_period(period) {
                        Ok(range) if !range.contains(req.as_of) => {
                            return skip(NotApplicable::OutsidePeriod)
                        }
                        Ok(_) => {}
                        Err(_) => uncertain = true,
                    },
                }
                Node::compile(p, "provision".to_owned(), 0, policy == Policy::OptIn, req)
            }
        };
        Ok(Compiled {
            name,
            policy,
            uncertain,
            root,
        })
    }

    fn base(&self) -> Kind {
        if self.policy == Policy::OptOut {
            Kind::BasePermit
        } else {
            Kind::BaseDeny
        }
    }

    /// This consent's outcome for a resource; `None` when an uncertain consent would permit.
    fn outcome(&self, f: &ResourceFacts) -> Option<Outcome<'_>> {
        let (kind, path, labels) = match &self.root {
            Some(root) if root.applies_to(f) => {
                let reached = root.decide(f);
                let kind = if reached.permit {
                    Kind::ExplicitPermit
                } else {
                    Kind::ExplicitDeny
                };
                (kind, reached.path.to_owned(), reached.labels)
            }
            _ => (self.base(), POLICY_RULE.to_owned(), Vec::new()),
        };
        (!(self.uncertain && kind.permits())).then_some(Outcome {
            consent: self,
            kind,
            path,
            labels,
        })
    }

    /// What this consent can say about the resources of this request as a whole.
    fn summary(&self) -> Summary {
        let base = self.base();
        let Some(root) = &self.root else {
            return Summary {
                all_explicit_deny: None,
                explicit_permit: None,
                all_deny: base == Kind::BaseDeny,
                base_permit: base == Kind::BasePermit && !self.uncertain,
            };
        };
        // Resources the root does not reach get the base decision.
        let everything_reaches_root = root.is_unconditional();
        Summary {
            all_explicit_deny: root
                .always_denies
                .clone()
                .filter(|_| everything_reaches_root),
            explicit_permit: root.may_permit.clone().filter(|_| !self.uncertain),
            all_deny: root.always_denies.is_some()
                && (everything_reaches_root || base == Kind::BaseDeny),
            base_permit: !everything_reaches_root && base == Kind::BasePermit && !self.uncertain,
        }
    }
}

/// Which provision of a [`Summary`] to cite for a kind of request-level outcome, if any.
type CitePath = fn(&Summary) -> Option<String>;

/// What one consent can say about the resources of a request.
struct Summary {
    /// Every resource is denied by a provision (the one cited).
    all_explicit_deny: Option<String>,
    /// Some resource may be permitted by a provision (the one cited).
    explicit_permit: Option<String>,
    /// Every resource is denied, by a provision or by the base policy.
    all_deny: bool,
    /// Some resource may be permitted by the base policy.
    base_permit: bool,
}

/// Which consents apply to one request, compiled once; then a decision per resource.
#[derive(Debug)]
pub struct Evaluation {
    consents: Vec<Compiled>,
    skipped: Vec<(String, NotApplicable)>,
    default: DefaultDecision,
    actor: String,
    purpose: String,
    patient: String,
    overall: Decision,
}

/// Compile the consents for one request. `consents` may hold anything: entries that are not
/// applicable privacy Consents for this patient are skipped (see [`Evaluation::skipped`]).
pub fn evaluate(consents: &[Value], request: &Request, default: DefaultDecision) -> Evaluation {
    let mut compiled = Vec::new();
    let mut skipped = Vec::new();
    for (i, c) in consents.iter().enumerate() {
        match Compiled::read(i, c, request) {
            Ok(c) => compiled.push(c),
            Err(s) => skipped.push(s),
        }
    }
    let mut evaluation = Evaluation {
        consents: compiled,
        skipped,
        default,
        actor: request.actor.to_owned(),
        purpose: request.purpose.to_owned(),
        patient: request.patient.to_owned(),
        overall: Decision {
            permit: false,
            basis: Basis::NoConsent,
            concurring: Vec::new(),
            labels_named: Vec::new(),
            reason: String::new(),
        },
    };
    evaluation.overall = evaluation.compute_overall();
    evaluation
}

impl Evaluation {
    /// The request-level decision: may anything at all be disclosed? (An upper bound; see the
    /// crate docs.)
    /// Whether any applicable provision matches on `data`: when none does, a resource's
    /// references play no part and [`ResourceFacts::for_evaluation`] skips gathering them.
    pub fn needs_references(&self) -> bool {
        self.consents
            .iter()
            .any(|c| c.root.as_ref().is_some_and(provision::Node::uses_data))
    }

    pub fn overall(&self) -> &Decision {
        &self.overall
    }

    /// The decision for one resource.
    pub fn decide(&self, resource: &ResourceFacts) -> Decision {
        let outcomes: Vec<Outcome<'_>> = self
            .consents
            .iter()
            .filter_map(|c| c.outcome(resource))
            .collect();
        self.combine(outcomes)
    }

    /// The consents that apply to the request (`Consent/ID` or `consents[i]`), input order.
    pub fn applicable(&self) -> Vec<&str> {
        self.consents.iter().map(|c| c.name.as_str()).collect()
    }

    /// The consents that were not applied, and why.
    pub fn skipped(&self) -> &[(String, NotApplicable)] {
        &self.skipped
    }

    fn compute_overall(&self) -> Decision {
        let summaries: Vec<(&Compiled, Summary)> =
            self.consents.iter().map(|c| (c, c.summary())).collect();
        let pick = |kind: Kind, path: CitePath| -> Vec<Outcome<'_>> {
            summaries
                .iter()
                .filter_map(|(c, s)| {
                    path(s).map(|path| Outcome {
                        consent: c,
                        kind,
                        path,
                        labels: Vec::new(),
                    })
                })
                .collect()
        };
        // In order: nothing beats an explicit deny of everything; an explicit permit of
        // something beats base denials; without one, a consent denying everything denies.
        let steps: [(Kind, CitePath); 4] = [
            (Kind::ExplicitDeny, |s| s.all_explicit_deny.clone()),
            (Kind::ExplicitPermit, |s| s.explicit_permit.clone()),
            (Kind::BaseDeny, |s| {
                s.all_deny.then(|| POLICY_RULE.to_owned())
            }),
            (Kind::BasePermit, |s| {
                s.base_permit.then(|| POLICY_RULE.to_owned())
            }),
        ];
        for (kind, path) in steps {
            let outcomes = pick(kind, path);
            if !outcomes.is_empty() {
                return self.combine(outcomes);
            }
        }
        self.combine(Vec::new())
    }

    /// The strongest kind of outcome wins; ties cite every consent of that kind.
    fn combine(&self, outcomes: Vec<Outcome<'_>>) -> Decision {
        let Some(strongest) = outcomes.iter().map(|o| o.kind).min() else {
            return self.by_default();
        };
        let mut deciding = outcomes.into_iter().filter(|o| o.kind == strongest);
        let Some(first) = deciding.next() else {
            return self.by_default();
        };
        let mut labels = first.labels.clone();
        let mut also = Vec::new();
        for o in deciding {
            labels.extend(o.labels.iter().cloned());
            also.push(o);
        }
        labels.sort();
        labels.dedup();
        let permit = strongest.permits();
        let mut reason = self.explain(&first);
        for o in &also {
            reason.push_str(&format!("; likewise {} at {}", o.consent.name, o.path));
        }
        let cite = |o: &Outcome<'_>| Basis::Consent {
            consent: o.consent.name.clone(),
            path: o.path.clone(),
        };
        Decision {
            permit,
            basis: cite(&first),
            concurring: also.iter().map(cite).collect(),
            labels_named: if permit { labels } else { Vec::new() },
            reason,
        }
    }

    fn explain(&self, o: &Outcome<'_>) -> String {
        let (consent, policy, actor, purpose, path) = (
            &o.consent.name,
            o.consent.policy.label(),
            &self.actor,
            &self.purpose,
            &o.path,
        );
        let mut text = match o.kind {
            Kind::ExplicitDeny => {
                format!("{consent} ({policy}) denies {actor} for purpose {purpose} at {path}")
            }
            Kind::ExplicitPermit => {
                format!("{consent} ({policy}) permits {actor} for purpose {purpose} at {path}")
            }
            Kind::BaseDeny => {
                format!("{consent} ({policy}) has no provision permitting {actor} for purpose {purpose}, so its {path} denies")
            }
            Kind::BasePermit => {
                format!("{consent} ({policy}) has no provision restricting {actor} for purpose {purpose}, so its {path} permits")
            }
        };
        if o.consent.uncertain {
            text.push_str(" (its dateTime or provision period cannot be placed before this request, so only its denials count)");
        }
        text
    }

    fn by_default(&self) -> Decision {
        let (permit, word) = match self.default {
            DefaultDecision::Permit => (true, "permit"),
            DefaultDecision::Deny => (false, "deny"),
        };
        let reason = if self.consents.is_empty() {
            format!("no active patient-privacy Consent is on file for Patient/{} and the configured default is {word}", self.patient)
        } else {
            format!("the applicable Consents for Patient/{} do not decide this and the configured default is {word}", self.patient)
        };
        Decision {
            permit,
            basis: Basis::NoConsent,
            concurring: Vec::new(),
            labels_named: Vec::new(),
            reason,
        }
    }
}
