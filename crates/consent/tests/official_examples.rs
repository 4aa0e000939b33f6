//! The nine official FHIR R4 Consent examples (hl7.fhir.r4.examples 4.0.1), read from the
//! shared fixtures, and the decisions their content implies under this crate's rules.
//!
//! Several examples' narratives do not match their computable content (they were written for
//! an opt-out jurisdiction and re-coded); these tests pin down what the *content* means.

mod common;

use std::path::PathBuf;

use common::*;
use salus_consent::{Basis, DefaultDecision::*, NotApplicable};
use serde_json::{json, Value};

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/fixtures/external/consent-ips/consent")
}

/// The example, or `None` (with a reason on stderr) when the shared fixtures are absent.
fn example(name: &str) -> Option<Value> {
    let path = dir().join(format!("Consent-consent-example-{name}.json"));
    if !dir().is_dir() {
        eprintln!(
            "skipping: shared fixtures not present at {}",
            dir().display()
        );
        return None;
    }
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    Some(serde_json::from_str(&text).expect("example is JSON"))
}

macro_rules! example_or_skip {
    ($name:literal) => {
        match example($name) {
            Some(v) => v,
            None => return,
        }
    };
}

fn observation() -> salus_consent::ResourceFacts {
    facts(
        json!({"resourceType": "Observation", "id": "o1", "subject": {"reference": "Patient/f001"}, "effectiveDateTime": "2015-06-01"}),
    )
}

#[test]
fn every_example_is_read_without_surprises() {
    if !dir().is_dir() {
        eprintln!(
            "skipping: shared fixtures not present at {}",
            dir().display()
        );
        return;
    }
    let mut seen = 0;
    for entry in std::fs::read_dir(dir()).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if !name.starts_with("Consent-consent-example-") {
            continue;
        }
        seen += 1;
        let c: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let patient = c["patient"]["reference"]
            .as_str()
            .unwrap()
            .trim_start_matches("Patient/")
            .to_owned();
        let e = Ask::new(
            &patient,
            "Practitioner/anyone",
            "TREAT",
            "2016-06-23T07:10:00Z",
        )
        .eval(std::slice::from_ref(&c), Deny);
        // No reason ever quotes the narrative's names or a display.
        for text in [
            e.overall().reason().to_owned(),
            e.decide(&observation()).reason().to_owned(),
        ] {
            for phi in ["Heuvel", "Good Health", "Peter", "peter"] {
                assert!(!text.contains(phi), "{name}: {text}");
            }
        }
    }
    assert_eq!(seen, 9, "the nine R4 Consent examples");
}

/// OPTIN, root provision period 1964-01-01..2016-01-01, recorded 2016-05-11. The period
/// (the validity of the consent) ended before the consent was recorded, so it never applies.
#[test]
fn basic_never_applies_because_its_period_ends_before_it_was_recorded() {
    let c = example_or_skip!("basic");
    for as_of in ["2015-06-01T00:00:00Z", "2016-06-01T00:00:00Z"] {
        let e = Ask::new("f001", "Practitioner/p1", "TREAT", as_of)
            .eval(std::slice::from_ref(&c), Deny);
        assert!(e.applicable().is_empty(), "{as_of}");
        assert_decision(e.overall(), false, &Basis::NoConsent);
        assert!(e
            .overall()
            .reason()
            .contains("no active patient-privacy Consent is on file for Patient/f001"));
        let permissive = Ask::new("f001", "Practitioner/p1", "TREAT", as_of)
            .eval(std::slice::from_ref(&c), Permit);
        assert_decision(&permissive.decide(&observation()), true, &Basis::NoConsent);
    }
    let e = Ask::new("f001", "Practitioner/p1", "TREAT", "2015-06-01T00:00:00Z")
        .eval(std::slice::from_ref(&c), Deny);
    assert_eq!(
        e.skipped(),
        &[(
            "Consent/consent-example-basic".to_owned(),
            NotApplicable::NotYetRecorded
        )]
    );
    let e = Ask::new("f001", "Practitioner/p1", "TREAT", "2016-06-01T00:00:00Z")
        .eval(std::slice::from_ref(&c), Deny);
    assert_eq!(
        e.skipped(),
        &[(
            "Consent/consent-example-basic".to_owned(),
            NotApplicable::OutsidePeriod
        )]
    );

    // Had it been recorded in time: the untyped root is the opt-in's exception, a permit for
    // everyone during the period.
    let mut recorded_early = c;
    recorded_early["dateTime"] = json!("2015-01-01");
    let e = Ask::new("f001", "Practitioner/p1", "TREAT", "2015-06-01T00:00:00Z")
        .eval(std::slice::from_ref(&recorded_early), Deny);
    assert_decision(
        e.overall(),
        true,
        &basis("Consent/consent-example-basic", "provision"),
    );
    assert_decision(
        &e.decide(&observation()),
        true,
        &basis("Consent/consent-example-basic", "provision"),
    );
    let other_patient = Ask::new("f002", "Practitioner/p1", "TREAT", "2015-06-01T00:00:00Z")
        .eval(&[recorded_early], Deny);
    assert_eq!(other_patient.skipped()[0].1, NotApplicable::OtherPatient);
}

/// OPTIN, root period 2015-01-01..2015-02-01, recorded 2015-11-18: like `basic`, it never
/// applies (the narrative's "withhold data from a timeframe" would need `dataPeriod`).
#[test]
fn not_time_never_applies_and_its_period_bounds_the_rule_not_the_data() {
    let c = example_or_skip!("notTime");
    for as_of in ["2015-01-15T00:00:00Z", "2015-12-01T00:00:00Z"] {
        let e = Ask::new("f001", "Practitioner/p1", "TREAT", as_of)
            .eval(std::slice::from_ref(&c), Permit);
        assert!(e.applicable().is_empty());
        assert_decision(&e.decide(&observation()), true, &Basis::NoConsent);
    }
    let mut undated = c;
    undated.as_object_mut().unwrap().remove("dateTime");
    let inside = Ask::new("f001", "Practitioner/p1", "TREAT", "2015-01-15T00:00:00Z")
        .eval(std::slice::from_ref(&undated), Deny);
    assert_decision(
        &inside.decide(&observation()),
        true,
        &basis("Consent/consent-example-notTime", "provision"),
    );
    let after =
        Ask::new("f001", "Practitioner/p1", "TREAT", "2015-03-01T00:00:00Z").eval(&[undated], Deny);
    assert_decision(&after.decide(&observation()), false, &Basis::NoConsent);
}

/// OPTOUT, root actor Organization/f001 (role CST): the root is the opt-out's exception, a
/// deny of that organisation; everyone else keeps the implied permission.
#[test]
fn out_denies_the_named_organisation_only() {
    let c = example_or_skip!("Out");
    let id = "Consent/consent-example-Out";
    for actor in [
        "Organization/f001",
        "https://hospital.example/fhir/Organization/f001",
    ] {
        let e = Ask::new("f001", actor, "TREAT", "2020-01-01T00:00:00Z")
            .eval(std::slice::from_ref(&c), Permit);
        assert_decision(e.overall(), false, &basis(id, "provision"));
        assert_eq!(
            e.overall().reason(),
            format!("Consent/consent-example-Out (opt-out) denies {actor} for purpose TREAT at provision")
        );
        assert_decision(&e.decide(&observation()), false, &basis(id, "provision"));
    }
    let other = Ask::new("f001", "Practitioner/p1", "TREAT", "2020-01-01T00:00:00Z")
        .eval(std::slice::from_ref(&c), Deny);
    assert_decision(other.overall(), true, &basis(id, "policyRule"));
    assert_decision(
        &other.decide(&observation()),
        true,
        &basis(id, "policyRule"),
    );
    assert!(other.decide(&observation()).labels_named.is_empty());
    // Before it was recorded (2015-11-18) the default applies.
    let early =
        Ask::new("f001", "Organization/f001", "TREAT", "2015-11-17T00:00:00Z").eval(&[c], Permit);
    assert_decision(early.overall(), true, &Basis::NoConsent);
}

/// OPTIN, root actor Organization/f001 (role CST): the root is the opt-in's exception, a
/// permit for that organisation; nobody else is permitted.
#[test]
fn not_author_permits_the_named_organisation_only() {
    let c = example_or_skip!("notAuthor");
    let id = "Consent/consent-example-notAuthor";
    let org = Ask::new("f001", "Organization/f001", "TREAT", "2020-01-01T00:00:00Z")
        .eval(std::slice::from_ref(&c), Deny);
    assert_decision(org.overall(), true, &basis(id, "provision"));
    assert_decision(&org.decide(&observation()), true, &basis(id, "provision"));
    let other =
        Ask::new("f001", "Practitioner/p1", "TREAT", "2020-01-01T00:00:00Z").eval(&[c], Permit);
    assert_decision(other.overall(), false, &basis(id, "policyRule"));
    assert_eq!(
        other.overall().reason(),
        "Consent/consent-example-notAuthor (opt-in) has no provision permitting Practitioner/p1 for purpose TREAT, so its policyRule denies"
    );
}

/// OPTIN with a typed root `deny` for Organization/f001 (role PRCP), actions access and
/// correct: that organisation is denied at the provision; as the opt-in permits nothing,
/// everyone else is denied by the policy, even under a permissive default.
#[test]
fn not_org_denies_the_organisation_explicitly_and_everyone_by_opt_in() {
    let c = example_or_skip!("notOrg");
    let id = "Consent/consent-example-notOrg";
    for action in ["access", "correct"] {
        let e = Ask::new("f001", "Organization/f001", "TREAT", "2020-01-01T00:00:00Z")
            .action(action)
            .eval(std::slice::from_ref(&c), Permit);
        assert_decision(e.overall(), false, &basis(id, "provision"));
        assert_decision(&e.decide(&observation()), false, &basis(id, "provision"));
    }
    let disclose = Ask::new("f001", "Organization/f001", "TREAT", "2020-01-01T00:00:00Z")
        .action("disclose")
        .eval(std::slice::from_ref(&c), Permit);
    assert_decision(
        &disclose.decide(&observation()),
        false,
        &basis(id, "policyRule"),
    );
    let other =
        Ask::new("f001", "Practitioner/p1", "TREAT", "2020-01-01T00:00:00Z").eval(&[c], Permit);
    assert_decision(other.overall(), false, &basis(id, "policyRule"));
}

/// OPTOUT, root actors Organization/f001 (CST) and Patient/example (PRCP), action access:
/// those two are denied access; other actions and other actors keep the implied permission.
#[test]
fn grantor_denies_access_by_the_two_named_actors() {
    let c = example_or_skip!("grantor");
    let id = "Consent/consent-example-grantor";
    for actor in ["Organization/f001", "Patient/example"] {
        let e = Ask::new("f001", actor, "TREAT", "2020-01-01T00:00:00Z")
            .eval(std::slice::from_ref(&c), Permit);
        assert_decision(e.overall(), false, &basis(id, "provision"));
        let use_ = Ask::new("f001", actor, "TREAT", "2020-01-01T00:00:00Z")
            .action("use")
            .eval(std::slice::from_ref(&c), Deny);
        assert_decision(&use_.decide(&observation()), true, &basis(id, "policyRule"));
    }
    let other =
        Ask::new("f001", "Practitioner/p1", "TREAT", "2020-01-01T00:00:00Z").eval(&[c], Deny);
    assert_decision(
        &other.decide(&observation()),
        true,
        &basis(id, "policyRule"),
    );
}

/// OPTOUT, root: actor Organization/f001, purpose ETREAT; nested deny for the same actor.
/// The organisation is denied for emergency treatment by the nested (deepest) provision; for
/// other purposes, and for other actors, the opt-out permits.
#[test]
fn emergency_denies_the_organisation_for_emergency_treatment() {
    let c = example_or_skip!("Emergency");
    let id = "Consent/consent-example-Emergency";
    let etreat = Ask::new(
        "f001",
        "Organization/f001",
        "ETREAT",
        "2020-01-01T00:00:00Z",
    )
    .eval(std::slice::from_ref(&c), Permit);
    assert_decision(
        etreat.overall(),
        false,
        &basis(id, "provision.provision[0]"),
    );
    assert_decision(
        &etreat.decide(&observation()),
        false,
        &basis(id, "provision.provision[0]"),
    );
    let treat = Ask::new("f001", "Organization/f001", "TREAT", "2020-01-01T00:00:00Z")
        .eval(std::slice::from_ref(&c), Deny);
    assert_decision(
        &treat.decide(&observation()),
        true,
        &basis(id, "policyRule"),
    );
    let other =
        Ask::new("f001", "Practitioner/p1", "ETREAT", "2020-01-01T00:00:00Z").eval(&[c], Deny);
    assert_decision(other.overall(), true, &basis(id, "policyRule"));
}

/// OPTIN for Patient/72, recorded 2016-05-26T00:41:10-04:00, root period 2015-10-10..2016-10-10
/// and actor Practitioner/13 (PRCP); a nested permit for actor Practitioner/xcda-author with a
/// CDA MIME class and two LOINC codes. Practitioner/13 is permitted during the period by the
/// root; the nested permit is for a different recipient, so it never decides for
/// Practitioner/13, and Practitioner/xcda-author is not under the root at all.
#[test]
fn signature_permits_practitioner_13_during_its_period() {
    let c = example_or_skip!("signature");
    let id = "Consent/consent-example-signature";
    let cda = facts(json!({
        "resourceType": "DocumentReference", "id": "d1",
        "type": {"coding": [{"system": "http://loinc.org", "code": "18842-5"}]},
        "content": [{"attachment": {"contentType": "application/hl7-cda+xml"}}]
    }));
    let e = Ask::new("72", "Practitioner/13", "TREAT", "2016-06-01T00:00:00Z")
        .eval(std::slice::from_ref(&c), Deny);
    assert_decision(e.overall(), true, &basis(id, "provision"));
    assert_decision(&e.decide(&cda), true, &basis(id, "provision"));
    assert_decision(&e.decide(&observation()), true, &basis(id, "provision"));
    let author = Ask::new(
        "72",
        "Practitioner/xcda-author",
        "TREAT",
        "2016-06-01T00:00:00Z",
    )
    .eval(std::slice::from_ref(&c), Permit);
    assert_decision(author.overall(), false, &basis(id, "policyRule"));
    assert_decision(&author.decide(&cda), false, &basis(id, "policyRule"));

    // The recording time is 04:41:10 UTC.
    let before = Ask::new("72", "Practitioner/13", "TREAT", "2016-05-26T04:41:09Z")
        .eval(std::slice::from_ref(&c), Deny);
    assert_decision(before.overall(), false, &Basis::NoConsent);
    let just = Ask::new("72", "Practitioner/13", "TREAT", "2016-05-26T04:41:10Z")
        .eval(std::slice::from_ref(&c), Deny);
    assert_decision(just.overall(), true, &basis(id, "provision"));
    // The period end (a date) covers the whole of 2016-10-10.
    let last_day = Ask::new("72", "Practitioner/13", "TREAT", "2016-10-10T23:00:00Z")
        .eval(std::slice::from_ref(&c), Deny);
    assert_decision(last_day.overall(), true, &basis(id, "provision"));
    let expired =
        Ask::new("72", "Practitioner/13", "TREAT", "2016-10-11T00:00:00Z").eval(&[c], Deny);
    assert_decision(expired.overall(), false, &Basis::NoConsent);
    assert_eq!(expired.skipped()[0].1, NotApplicable::OutsidePeriod);
}

/// OPTIN for Patient/xcda, root period 2016-06-23T17:02:33+10:00 to 17:32:33+10:00, nested
/// permit for action access on class MedicationRequest. The untyped root is the opt-in's
/// exception (a permit) for the half hour, so any actor may access anything then; a
/// MedicationRequest is decided by the deeper, nested provision. (The nested permit is
/// redundant under R4 semantics; its evident intent "only MedicationRequest" would need a
/// typed root or a deny.)
#[test]
fn smart_on_fhir_permits_during_its_half_hour() {
    let c = example_or_skip!("smartonfhir");
    let id = "Consent/consent-example-smartonfhir";
    let med = facts(json!({"resourceType": "MedicationRequest", "id": "m1"}));
    let e = Ask::new("xcda", "Device/smart-app", "TREAT", "2016-06-23T07:10:00Z")
        .eval(std::slice::from_ref(&c), Deny);
    assert_decision(e.overall(), true, &basis(id, "provision"));
    assert_decision(&e.decide(&med), true, &basis(id, "provision.provision[0]"));
    assert_decision(&e.decide(&observation()), true, &basis(id, "provision"));
    // Another action: the nested provision does not apply, the root still permits.
    let read = Ask::new("xcda", "Device/smart-app", "TREAT", "2016-06-23T07:10:00Z")
        .action("use")
        .eval(std::slice::from_ref(&c), Deny);
    assert_decision(&read.decide(&med), true, &basis(id, "provision"));
    for outside in ["2016-06-23T07:02:32Z", "2016-06-23T07:32:34Z"] {
        let e = Ask::new("xcda", "Device/smart-app", "TREAT", outside)
            .eval(std::slice::from_ref(&c), Deny);
        assert_decision(&e.decide(&med), false, &Basis::NoConsent);
    }
}

/// All nine together for Patient/f001 at 2020: only Out, notAuthor, notOrg, grantor and
/// Emergency are for f001 and in force; for Organization/f001 the explicit denials of Out,
/// notOrg and grantor override notAuthor's explicit permit.
#[test]
fn all_examples_together_deny_overrides() {
    if !dir().is_dir() {
        eprintln!(
            "skipping: shared fixtures not present at {}",
            dir().display()
        );
        return;
    }
    let names = [
        "basic",
        "Emergency",
        "grantor",
        "notAuthor",
        "notOrg",
        "notTime",
        "Out",
        "signature",
        "smartonfhir",
    ];
    let all: Vec<Value> = names.iter().map(|n| example(n).unwrap()).collect();
    let e =
        Ask::new("f001", "Organization/f001", "TREAT", "2020-01-01T00:00:00Z").eval(&all, Permit);
    assert_eq!(
        e.applicable(),
        vec![
            "Consent/consent-example-Emergency",
            "Consent/consent-example-grantor",
            "Consent/consent-example-notAuthor",
            "Consent/consent-example-notOrg",
            "Consent/consent-example-Out"
        ]
    );
    let d = e.decide(&observation());
    assert_decision(
        &d,
        false,
        &basis("Consent/consent-example-grantor", "provision"),
    );
    assert_eq!(
        d.concurring,
        vec![
            basis("Consent/consent-example-notOrg", "provision"),
            basis("Consent/consent-example-Out", "provision")
        ]
    );
    assert_decision(
        e.overall(),
        false,
        &basis("Consent/consent-example-grantor", "provision"),
    );
    // Anyone else: no explicit permit, and the opt-ins' base denials beat the opt-outs' base
    // permissions.
    let other =
        Ask::new("f001", "Practitioner/p1", "TREAT", "2020-01-01T00:00:00Z").eval(&all, Permit);
    let d = other.decide(&observation());
    assert_decision(
        &d,
        false,
        &basis("Consent/consent-example-notAuthor", "policyRule"),
    );
    assert_eq!(
        d.concurring,
        vec![basis("Consent/consent-example-notOrg", "policyRule")]
    );
}
