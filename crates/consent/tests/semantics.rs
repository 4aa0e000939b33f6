//! The crate's rules on small consents written for them (inline, and in `tests/fixtures/`).

mod common;

use common::*;
use salus_consent::{Basis, Coding, DefaultDecision::*, NotApplicable, ResourceFacts};
use serde_json::{json, Value};

const NOW: &str = "2024-06-01T12:00:00Z";

fn fixture(name: &str) -> Value {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).expect("fixture")).expect("fixture JSON")
}

fn obs() -> ResourceFacts {
    resource("Observation", "o1", &[])
}

#[test]
fn opt_in_permits_only_what_a_provision_permits() {
    let c = consent("in", Some("OPTIN"), json!({"actor": [actor(LLM)]}));
    let llm = Ask::new("pat-1", LLM, "TREAT", NOW).eval(std::slice::from_ref(&c), Deny);
    assert_decision(llm.overall(), true, &basis("Consent/in", "provision"));
    assert_eq!(
        llm.overall().reason(),
        "Consent/in (opt-in) permits Device/salus-llm-assistant for purpose TREAT at provision"
    );
    assert_decision(&llm.decide(&obs()), true, &basis("Consent/in", "provision"));
    let other =
        Ask::new("pat-1", "Practitioner/p1", "TREAT", NOW).eval(std::slice::from_ref(&c), Permit);
    assert_decision(other.overall(), false, &basis("Consent/in", "policyRule"));
    assert_decision(
        &other.decide(&obs()),
        false,
        &basis("Consent/in", "policyRule"),
    );
    // No provision at all: an opt-in permits nothing.
    let bare = Ask::new("pat-1", LLM, "TREAT", NOW)
        .eval(&[consent("bare", Some("OPTIN"), Value::Null)], Permit);
    assert_decision(bare.overall(), false, &basis("Consent/bare", "policyRule"));
}

#[test]
fn opt_out_permits_unless_a_provision_denies() {
    let c = consent("out", Some("OPTOUT"), Value::Null);
    let e = Ask::new("pat-1", LLM, "TREAT", NOW).eval(&[c], Deny);
    assert_decision(e.overall(), true, &basis("Consent/out", "policyRule"));
    assert_decision(&e.decide(&obs()), true, &basis("Consent/out", "policyRule"));
    assert_eq!(
        e.overall().reason(),
        "Consent/out (opt-out) has no provision restricting Device/salus-llm-assistant for purpose TREAT, so its policyRule permits"
    );
}

#[test]
fn no_consent_means_the_default() {
    for (default, permit, word) in [(Deny, false, "deny"), (Permit, true, "permit")] {
        let e = Ask::new("pat-1", LLM, "TREAT", NOW).eval(&[], default);
        assert_decision(e.overall(), permit, &Basis::NoConsent);
        assert_decision(&e.decide(&obs()), permit, &Basis::NoConsent);
        assert_eq!(
            e.overall().reason(),
            format!("no active patient-privacy Consent is on file for Patient/pat-1 and the configured default is {word}")
        );
    }
}

#[test]
fn psy_label_denied_inside_an_opt_in_permit_with_a_phq9_exception() {
    let c = fixture("opt-in-llm-deny-psy.json");
    let id = "Consent/optin-llm-psy";
    let e = Ask::new("pat-1", LLM, "TREAT", NOW).eval(std::slice::from_ref(&c), Deny);
    // Something can be disclosed, so the request as a whole is permitted.
    assert_decision(e.overall(), true, &basis(id, "provision"));
    assert_decision(&e.decide(&obs()), true, &basis(id, "provision"));
    let psy_note = resource("DocumentReference", "n1", &["PSY"]);
    let d = e.decide(&psy_note);
    assert_decision(&d, false, &basis(id, "provision.provision[0]"));
    assert_eq!(d.reason(), "Consent/optin-llm-psy (opt-in) denies Device/salus-llm-assistant for purpose TREAT at provision.provision[0]");
    // Three levels: permit (root) > deny PSY > permit PHQ-9.
    let phq9 = facts(json!({
        "resourceType": "Observation", "id": "phq9",
        "meta": {"security": [{"system": V3_ACT_CODE, "code": "PSY"}]},
        "code": {"coding": [{"system": "http://loinc.org", "code": "44261-6"}]}
    }));
    let d = e.decide(&phq9);
    assert_decision(&d, true, &basis(id, "provision.provision[0].provision[0]"));
    assert!(
        d.labels_named.is_empty(),
        "the PHQ-9 permit does not name PSY"
    );
    // The same consent for a wrong purpose, action, actor or time: its opt-in denies.
    for (purpose, action, who, when) in [
        ("HMARKT", "access", LLM, NOW),
        ("HRESCH", "access", LLM, NOW),
        ("ETREAT", "access", LLM, NOW),
        ("TREAT", "disclose", LLM, NOW),
        ("TREAT", "access", "Device/other", NOW),
    ] {
        let e = Ask::new("pat-1", who, purpose, when)
            .action(action)
            .eval(std::slice::from_ref(&c), Permit);
        assert_decision(e.overall(), false, &basis(id, "policyRule"));
        assert_decision(&e.decide(&phq9), false, &basis(id, "policyRule"));
    }
    let expired = Ask::new("pat-1", LLM, "TREAT", "2026-01-01T00:00:00Z").eval(&[c], Permit);
    assert_decision(expired.overall(), true, &Basis::NoConsent);
}

#[test]
fn deny_by_class_in_an_opt_out() {
    let c = consent(
        "no-docs",
        Some("OPTOUT"),
        json!({"class": [class("DocumentReference")]}),
    );
    let e = Ask::new("pat-1", LLM, "TREAT", NOW).eval(&[c], Deny);
    assert_decision(e.overall(), true, &basis("Consent/no-docs", "policyRule"));
    assert_decision(
        &e.decide(&resource("DocumentReference", "d1", &[])),
        false,
        &basis("Consent/no-docs", "provision"),
    );
    assert_decision(
        &e.decide(&obs()),
        true,
        &basis("Consent/no-docs", "policyRule"),
    );
    // A class in an unknown code system cannot be told: a deny applies to everything.
    let odd = consent(
        "odd",
        Some("OPTOUT"),
        json!({"class": [{"system": "urn:example:kinds", "code": "notes"}]}),
    );
    let e = Ask::new("pat-1", LLM, "TREAT", NOW).eval(&[odd], Permit);
    assert_decision(&e.decide(&obs()), false, &basis("Consent/odd", "provision"));
}

#[test]
fn deny_one_practitioner_others_permitted() {
    let c = consent(
        "not-ex",
        Some("OPTOUT"),
        json!({"actor": [actor("Practitioner/ex-spouse")]}),
    );
    let ex = Ask::new("pat-1", "Practitioner/ex-spouse", "TREAT", NOW)
        .eval(std::slice::from_ref(&c), Permit);
    assert_decision(ex.overall(), false, &basis("Consent/not-ex", "provision"));
    assert_decision(
        &ex.decide(&obs()),
        false,
        &basis("Consent/not-ex", "provision"),
    );
    let versioned = Ask::new("pat-1", "Practitioner/ex-spouse/_history/2", "TREAT", NOW)
        .eval(std::slice::from_ref(&c), Permit);
    assert!(!versioned.overall().permit);
    for other in [
        "Practitioner/dr-who",
        "Practitioner/ex-spouse-2",
        "Organization/ex-spouse",
    ] {
        let e = Ask::new("pat-1", other, "TREAT", NOW).eval(std::slice::from_ref(&c), Deny);
        assert_decision(
            &e.decide(&obs()),
            true,
            &basis("Consent/not-ex", "policyRule"),
        );
    }
    // The same with a permit provision for everyone else, written the explicit way.
    let explicit = consent(
        "explicit",
        Some("OPTIN"),
        json!({"provision": [{"type": "deny", "actor": [actor("Practitioner/ex-spouse")]}]}),
    );
    let ex = Ask::new("pat-1", "Practitioner/ex-spouse", "TREAT", NOW)
        .eval(std::slice::from_ref(&explicit), Permit);
    assert_decision(
        ex.overall(),
        false,
        &basis("Consent/explicit", "provision.provision[0]"),
    );
    let other = Ask::new("pat-1", "Practitioner/dr-who", "TREAT", NOW).eval(&[explicit], Deny);
    assert_decision(
        other.overall(),
        true,
        &basis("Consent/explicit", "provision"),
    );
}

#[test]
fn actor_by_role_only() {
    let c = consent(
        "by-role",
        Some("OPTIN"),
        json!({"actor": [{"role": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-RoleCode", "code": "PRN"}]}}]}),
    );
    let nurse = [Coding::new(
        "http://terminology.hl7.org/CodeSystem/v3-RoleCode",
        "PRN",
    )];
    let e = Ask::new("pat-1", "Practitioner/n1", "TREAT", NOW)
        .roles(&nurse)
        .eval(std::slice::from_ref(&c), Deny);
    assert_decision(e.overall(), true, &basis("Consent/by-role", "provision"));
    let e = Ask::new("pat-1", "Practitioner/n1", "TREAT", NOW).eval(&[c], Deny);
    assert_decision(e.overall(), false, &basis("Consent/by-role", "policyRule"));
}

#[test]
fn group_actors_cannot_be_resolved_so_only_deny() {
    let deny = consent(
        "g-deny",
        Some("OPTOUT"),
        json!({"actor": [actor("Group/care-team")]}),
    );
    let e = Ask::new("pat-1", "Practitioner/p1", "TREAT", NOW).eval(&[deny], Permit);
    assert_decision(e.overall(), false, &basis("Consent/g-deny", "provision"));
    let permit = consent(
        "g-permit",
        Some("OPTIN"),
        json!({"actor": [actor("Group/care-team")]}),
    );
    let e = Ask::new("pat-1", "Practitioner/p1", "TREAT", NOW).eval(&[permit], Permit);
    assert_decision(e.overall(), false, &basis("Consent/g-permit", "policyRule"));
}

#[test]
fn provision_periods() {
    // An expired nested deny no longer applies.
    let c = consent(
        "expired-deny",
        Some("OPTIN"),
        json!({"provision": [{"type": "deny", "period": {"start": "2020-01-01", "end": "2020-12-31"}, "class": [class("Observation")]}]}),
    );
    let e = Ask::new("pat-1", LLM, "TREAT", NOW).eval(std::slice::from_ref(&c), Deny);
    assert_decision(
        &e.decide(&obs()),
        true,
        &basis("Consent/expired-deny", "provision"),
    );
    let then = Ask::new("pat-1", LLM, "TREAT", "2020-06-01T00:00:00Z").eval(&[c], Deny);
    assert_decision(&then.decide(&obs()), false, &Basis::NoConsent); // recorded 2024: not yet on file
                                                                     // An expired nested permit under an opt-out's deny no longer permits.
    let c = consent(
        "expired-permit",
        Some("OPTOUT"),
        json!({"actor": [actor(LLM)], "provision": [{"type": "permit", "period": {"end": "2024-03-01"}}]}),
    );
    let e = Ask::new("pat-1", LLM, "TREAT", NOW).eval(&[c], Permit);
    assert_decision(
        e.overall(),
        false,
        &basis("Consent/expired-permit", "provision"),
    );
    // An expired root period retires the whole consent.
    let c = consent(
        "retired",
        Some("OPTOUT"),
        json!({"period": {"end": "2024-03-01"}, "actor": [actor(LLM)]}),
    );
    let e = Ask::new("pat-1", LLM, "TREAT", NOW).eval(&[c], Permit);
    assert_decision(e.overall(), true, &Basis::NoConsent);
    assert_eq!(
        e.skipped(),
        &[("Consent/retired".to_owned(), NotApplicable::OutsidePeriod)]
    );
}

#[test]
fn inactive_or_other_scope_or_other_patient_consents_never_decide() {
    let deny_all = consent("x", Some("OPTOUT"), json!({}));
    let mut cases = Vec::new();
    for status in [
        "draft",
        "proposed",
        "inactive",
        "rejected",
        "entered-in-error",
        "ACTIVE",
    ] {
        let mut c = deny_all.clone();
        c["status"] = json!(status);
        cases.push((c, NotApplicable::NotActive));
    }
    for scope in ["research", "treatment", "adr"] {
        let mut c = deny_all.clone();
        c["scope"] = json!({"coding": [{"system": "http://terminology.hl7.org/CodeSystem/consentscope", "code": scope}]});
        cases.push((c, NotApplicable::NotPrivacy));
    }
    for patient in [
        "Patient/pat-10",
        "Patient/pat",
        "Practitioner/pat-1",
        "pat-1",
        "urn:uuid:pat-1",
    ] {
        let mut c = deny_all.clone();
        c["patient"] = json!({"reference": patient});
        cases.push((c, NotApplicable::OtherPatient));
    }
    let mut c = deny_all.clone();
    c["resourceType"] = json!("Contract");
    cases.push((c, NotApplicable::NotAConsent));
    for (c, why) in cases {
        let e = Ask::new("pat-1", LLM, "TREAT", NOW).eval(std::slice::from_ref(&c), Permit);
        assert_decision(e.overall(), true, &Basis::NoConsent);
        assert_decision(&e.decide(&obs()), true, &Basis::NoConsent);
        assert_eq!(e.skipped(), &[("Consent/x".to_owned(), why)], "{c}");
    }
    // The control: active, privacy, this patient. The untyped root of an opt-out is a deny.
    let e = Ask::new("pat-1", LLM, "TREAT", NOW).eval(&[deny_all], Permit);
    assert_decision(e.overall(), false, &basis("Consent/x", "provision"));
}

#[test]
fn patient_reference_forms() {
    for reference in [
        "Patient/pat-1",
        "https://ehr.example.org/fhir/Patient/pat-1",
        "Patient/pat-1/_history/4",
    ] {
        let mut c = consent("p", Some("OPTOUT"), json!({}));
        c["patient"] = json!({"reference": reference});
        let e = Ask::new("pat-1", LLM, "TREAT", NOW).eval(&[c], Permit);
        assert_eq!(e.applicable(), vec!["Consent/p"], "{reference}");
    }
}

#[test]
fn consent_recorded_after_as_of_does_not_apply_yet() {
    let c = consent("later", Some("OPTOUT"), json!({"actor": [actor(LLM)]}));
    let before = Ask::new("pat-1", LLM, "TREAT", "2024-01-01T08:59:59Z")
        .eval(std::slice::from_ref(&c), Permit);
    assert_decision(before.overall(), true, &Basis::NoConsent);
    assert_eq!(before.skipped()[0].1, NotApplicable::NotYetRecorded);
    let after = Ask::new("pat-1", LLM, "TREAT", "2024-01-01T09:00:00Z").eval(&[c], Permit);
    assert_decision(after.overall(), false, &basis("Consent/later", "provision"));
}

#[test]
fn a_date_only_recording_on_the_same_day_keeps_denials_and_drops_permissions() {
    let mut deny = consent("today-deny", Some("OPTOUT"), json!({"actor": [actor(LLM)]}));
    deny["dateTime"] = json!("2024-06-01");
    let e = Ask::new("pat-1", LLM, "TREAT", NOW).eval(&[deny], Permit);
    assert_decision(
        e.overall(),
        false,
        &basis("Consent/today-deny", "provision"),
    );
    assert!(e.overall().reason().ends_with("(its dateTime or provision period cannot be placed before this request, so only its denials count)"));
    let mut permit = consent(
        "today-permit",
        Some("OPTIN"),
        json!({"actor": [actor(LLM)]}),
    );
    permit["dateTime"] = json!("2024-06-01");
    let e = Ask::new("pat-1", LLM, "TREAT", NOW).eval(std::slice::from_ref(&permit), Deny);
    assert_decision(e.overall(), false, &Basis::NoConsent);
    assert_decision(&e.decide(&obs()), false, &Basis::NoConsent);
    assert!(e
        .overall()
        .reason()
        .starts_with("the applicable Consents for Patient/pat-1 do not decide this"));
    let next_day = Ask::new("pat-1", LLM, "TREAT", "2024-06-02T00:00:00Z").eval(&[permit], Deny);
    assert_decision(
        next_day.overall(),
        true,
        &basis("Consent/today-permit", "provision"),
    );
}

#[test]
fn unreadable_dates_never_turn_a_deny_into_a_permit() {
    // A deny provision whose period cannot be read still denies...
    let c = consent(
        "bad-deny",
        Some("OPTIN"),
        json!({"provision": [{"type": "deny", "period": {"start": "last spring"}, "securityLabel": [label("PSY")]}]}),
    );
    let e = Ask::new("pat-1", LLM, "TREAT", NOW).eval(&[c], Deny);
    assert_decision(
        &e.decide(&resource("Observation", "o", &["PSY"])),
        false,
        &basis("Consent/bad-deny", "provision.provision[0]"),
    );
    assert_decision(
        &e.decide(&obs()),
        true,
        &basis("Consent/bad-deny", "provision"),
    );
    // ... and a permit provision whose period cannot be read does not permit.
    let c = consent(
        "bad-permit",
        Some("OPTOUT"),
        json!({"actor": [actor(LLM)], "provision": [{"type": "permit", "period": {"end": 20250101}}]}),
    );
    let e = Ask::new("pat-1", LLM, "TREAT", NOW).eval(&[c], Permit);
    assert_decision(
        &e.decide(&obs()),
        false,
        &basis("Consent/bad-permit", "provision"),
    );
    // An unreadable root period (the consent's validity): uncertain; an opt-out's root denies.
    let c = consent(
        "bad-root",
        Some("OPTOUT"),
        json!({"period": "2024", "actor": [actor(LLM)]}),
    );
    let e = Ask::new("pat-1", LLM, "TREAT", NOW).eval(&[c], Permit);
    assert_decision(e.overall(), false, &basis("Consent/bad-root", "provision"));
    // An unreadable dateTime: uncertain; an opt-in's permission is dropped, its base denial kept.
    let mut c = consent(
        "bad-recorded",
        Some("OPTIN"),
        json!({"actor": [actor(LLM)]}),
    );
    c["dateTime"] = json!("01/01/2024");
    let llm = Ask::new("pat-1", LLM, "TREAT", NOW).eval(std::slice::from_ref(&c), Permit);
    assert_decision(&llm.decide(&obs()), true, &Basis::NoConsent);
    let other = Ask::new("pat-1", "Practitioner/p1", "TREAT", NOW).eval(&[c], Permit);
    assert_decision(
        &other.decide(&obs()),
        false,
        &basis("Consent/bad-recorded", "policyRule"),
    );
}

#[test]
fn data_period_and_data_reference() {
    let c = consent(
        "old-data",
        Some("OPTOUT"),
        json!({"dataPeriod": {"start": "2019-01-01", "end": "2019-12-31"}}),
    );
    let e = Ask::new("pat-1", LLM, "TREAT", NOW).eval(&[c], Deny);
    let dated =
        |d: &str| facts(json!({"resourceType": "Observation", "id": "o", "effectiveDateTime": d}));
    assert_decision(
        &e.decide(&dated("2019-05-01")),
        false,
        &basis("Consent/old-data", "provision"),
    );
    assert_decision(
        &e.decide(&dated("2021-05-01")),
        true,
        &basis("Consent/old-data", "policyRule"),
    );
    // Undated data may be from 2019: the deny applies.
    assert_decision(
        &e.decide(&obs()),
        false,
        &basis("Consent/old-data", "provision"),
    );
    // A permit with a dataPeriod does not cover undated data.
    let c = consent(
        "recent",
        Some("OPTIN"),
        json!({"dataPeriod": {"start": "2023-01-01"}}),
    );
    let e = Ask::new("pat-1", LLM, "TREAT", NOW).eval(&[c], Deny);
    assert_decision(
        &e.decide(&dated("2023-05-01")),
        true,
        &basis("Consent/recent", "provision"),
    );
    assert_decision(
        &e.decide(&obs()),
        false,
        &basis("Consent/recent", "policyRule"),
    );

    let c = consent(
        "one-note",
        Some("OPTOUT"),
        json!({"data": [{"meaning": "related", "reference": {"reference": "DocumentReference/therapy-1"}}]}),
    );
    let e = Ask::new("pat-1", LLM, "TREAT", NOW).eval(&[c], Deny);
    assert_decision(
        &e.decide(&resource("DocumentReference", "therapy-1", &[])),
        false,
        &basis("Consent/one-note", "provision"),
    );
    let citing = facts(
        json!({"resourceType": "Provenance", "id": "pv", "target": [{"reference": "DocumentReference/therapy-1"}]}),
    );
    assert_decision(
        &e.decide(&citing),
        false,
        &basis("Consent/one-note", "provision"),
    );
    assert_decision(
        &e.decide(&resource("DocumentReference", "therapy-2", &[])),
        true,
        &basis("Consent/one-note", "policyRule"),
    );
}

#[test]
fn several_consents_deny_overrides_and_explicit_beats_base() {
    let grant_llm = consent("grant-llm", Some("OPTIN"), json!({"actor": [actor(LLM)]}));
    let grant_dr = consent(
        "grant-dr",
        Some("OPTIN"),
        json!({"actor": [actor("Practitioner/dr")]}),
    );
    let no_psy = consent(
        "no-psy",
        Some("OPTOUT"),
        json!({"securityLabel": [label("PSY")]}),
    );
    let all = [grant_llm.clone(), grant_dr.clone(), no_psy.clone()];
    let e = Ask::new("pat-1", LLM, "TREAT", NOW).eval(&all, Deny);
    // Two opt-ins for different recipients do not cancel each other.
    let d = e.decide(&obs());
    assert_decision(&d, true, &basis("Consent/grant-llm", "provision"));
    assert!(d.concurring.is_empty());
    // An explicit deny in any consent overrides an explicit permit in another.
    let d = e.decide(&resource("Observation", "p", &["PSY"]));
    assert_decision(&d, false, &basis("Consent/no-psy", "provision"));
    assert_eq!(
        d.reason(),
        "Consent/no-psy (opt-out) denies Device/salus-llm-assistant for purpose TREAT at provision"
    );
    assert_decision(e.overall(), true, &basis("Consent/grant-llm", "provision"));
    // Nobody granted: opt-in base denial beats opt-out base permission.
    let e = Ask::new("pat-1", "Practitioner/other", "TREAT", NOW).eval(&all, Permit);
    let d = e.decide(&obs());
    assert_decision(&d, false, &basis("Consent/grant-llm", "policyRule"));
    assert_eq!(d.concurring, vec![basis("Consent/grant-dr", "policyRule")]);
    assert_eq!(
        d.reason()
            .matches("likewise Consent/grant-dr at policyRule")
            .count(),
        1
    );
    assert_decision(
        e.overall(),
        false,
        &basis("Consent/grant-llm", "policyRule"),
    );
    // Two consents denying the same resource are both cited.
    let no_psy_2 = consent(
        "no-psy-2",
        Some("OPTOUT"),
        json!({"actor": [actor(LLM)], "securityLabel": [label("PSY")]}),
    );
    let e = Ask::new("pat-1", LLM, "TREAT", NOW).eval(&[no_psy, no_psy_2], Permit);
    let d = e.decide(&resource("Observation", "p", &["PSY"]));
    assert_decision(&d, false, &basis("Consent/no-psy", "provision"));
    assert_eq!(d.concurring, vec![basis("Consent/no-psy-2", "provision")]);
    // An opt-out denying the actor everything denies the whole request, whatever else says.
    let block = consent("block-llm", Some("OPTOUT"), json!({"actor": [actor(LLM)]}));
    let e = Ask::new("pat-1", LLM, "TREAT", NOW).eval(&[grant_llm, grant_dr, block], Permit);
    assert_decision(e.overall(), false, &basis("Consent/block-llm", "provision"));
    assert_decision(
        &e.decide(&obs()),
        false,
        &basis("Consent/block-llm", "provision"),
    );
}

#[test]
fn a_permit_naming_part2_labels_shows_them() {
    let c = fixture("opt-in-part2.json");
    let id = "Consent/optin-part2";
    let e = Ask::new("pat-1", "Practitioner/dr-addiction", "TREAT", NOW)
        .eval(std::slice::from_ref(&c), Deny);
    let sud = resource("Observation", "audit-c", &["ETH", "42CFRPart2", "PSY"]);
    let d = e.decide(&sud);
    assert_decision(&d, true, &basis(id, "provision.provision[0]"));
    assert_eq!(
        d.labels_named,
        vec![
            Coding::new(V3_ACT_CODE, "42CFRPart2"),
            Coding::new(V3_ACT_CODE, "ETH")
        ]
    );
    // Unlabelled data is permitted by the root, which names no label.
    let d = e.decide(&obs());
    assert_decision(&d, true, &basis(id, "provision"));
    assert!(d.labels_named.is_empty());
    // A root that names the label itself counts too (it is a permit on the deciding path).
    let root_named = consent(
        "root-named",
        Some("OPTIN"),
        json!({"securityLabel": [label("ETH")]}),
    );
    let d = Ask::new("pat-1", LLM, "TREAT", NOW)
        .eval(&[root_named], Deny)
        .decide(&sud);
    assert_decision(&d, true, &basis("Consent/root-named", "provision"));
    assert_eq!(d.labels_named, vec![Coding::new(V3_ACT_CODE, "ETH")]);
    // An opt-out's implied permission names nothing, and a denial reports none.
    let d = Ask::new("pat-1", LLM, "TREAT", NOW)
        .eval(&[consent("out", Some("OPTOUT"), Value::Null)], Deny)
        .decide(&sud);
    assert!(d.permit && d.labels_named.is_empty());
    let d = Ask::new("pat-1", "Practitioner/other", "TREAT", NOW)
        .eval(&[c], Deny)
        .decide(&sud);
    assert!(!d.permit && d.labels_named.is_empty());
}

#[test]
fn confidentiality_labels_cover_lower_levels() {
    let c = consent(
        "no-restricted",
        Some("OPTOUT"),
        json!({"securityLabel": [{"system": "http://terminology.hl7.org/CodeSystem/v3-Confidentiality", "code": "R"}]}),
    );
    let e = Ask::new("pat-1", LLM, "TREAT", NOW).eval(&[c], Deny);
    let conf = |code: &str| {
        facts(
            json!({"resourceType": "Observation", "id": "o", "meta": {"security": [{"system": "http://terminology.hl7.org/CodeSystem/v3-Confidentiality", "code": code}]}}),
        )
    };
    assert!(!e.decide(&conf("R")).permit);
    assert!(!e.decide(&conf("N")).permit);
    assert!(e.decide(&conf("V")).permit);
}

#[test]
fn unrecognised_policy_rules_permit_only_through_typed_permits() {
    for policy in [None, Some("XYZ")] {
        let untyped = consent("u", policy, json!({"actor": [actor(LLM)]}));
        let e = Ask::new("pat-1", LLM, "TREAT", NOW).eval(&[untyped], Permit);
        assert_decision(e.overall(), false, &basis("Consent/u", "provision"));
        assert!(e.overall().reason().contains("(unrecognised policyRule)"));
        let typed = consent(
            "t",
            policy,
            json!({"type": "permit", "actor": [actor(LLM)]}),
        );
        let e = Ask::new("pat-1", LLM, "TREAT", NOW).eval(std::slice::from_ref(&typed), Deny);
        assert_decision(e.overall(), true, &basis("Consent/t", "provision"));
        let other = Ask::new("pat-1", "Practitioner/p", "TREAT", NOW).eval(&[typed], Permit);
        assert_decision(other.overall(), false, &basis("Consent/t", "policyRule"));
    }
    // Conflicting codes are not guessed at.
    let mut both = consent("both", Some("OPTOUT"), json!({}));
    both["policyRule"]["coding"]
        .as_array_mut()
        .unwrap()
        .push(json!({"system": V3_ACT_CODE, "code": "OPTIN"}));
    let e = Ask::new("pat-1", LLM, "TREAT", NOW).eval(&[both], Permit);
    assert_decision(e.overall(), false, &basis("Consent/both", "provision"));
}

#[test]
fn misspelt_or_missing_nested_types_deny() {
    for ty in [json!("Permit"), json!("allow"), json!(true), Value::Null] {
        let mut nested = json!({"class": [class("Observation")]});
        if !ty.is_null() {
            nested["type"] = ty;
        }
        let c = consent("typo", Some("OPTIN"), json!({"provision": [nested]}));
        let e = Ask::new("pat-1", LLM, "TREAT", NOW).eval(&[c], Permit);
        assert_decision(
            &e.decide(&obs()),
            false,
            &basis("Consent/typo", "provision.provision[0]"),
        );
        assert_decision(
            &e.decide(&resource("Condition", "c", &[])),
            true,
            &basis("Consent/typo", "provision"),
        );
    }
}

#[test]
fn deep_nesting_is_bounded_and_denies() {
    // permit > deny > permit > ... 200 levels; everything below MAX_DEPTH reads as a deny.
    let mut p = json!({"type": "permit"});
    for i in (0..200).rev() {
        p = json!({"type": if i % 2 == 0 { "permit" } else { "deny" }, "provision": [p]});
    }
    p.as_object_mut().unwrap().remove("type");
    let c = consent("deep", Some("OPTIN"), p);
    let e = Ask::new("pat-1", LLM, "TREAT", NOW).eval(&[c], Permit);
    let d = e.decide(&obs());
    assert!(!d.permit);
    let Basis::Consent { path, .. } = &d.basis else {
        panic!("{d:?}")
    };
    assert_eq!(
        path.matches(".provision[0]").count(),
        salus_consent::MAX_DEPTH + 1
    );
    assert!(!e.overall().permit);
}

#[test]
fn ids_that_are_not_fhir_ids_are_not_quoted() {
    let c = consent("PHI_SENTINEL Jane Doe", Some("OPTOUT"), json!({}));
    let e = Ask::new("pat-1", LLM, "TREAT", NOW).eval(&[Value::Null, c], Permit);
    assert_decision(e.overall(), false, &basis("consents[1]", "provision"));
    assert_eq!(
        e.skipped(),
        &[("consents[0]".to_owned(), NotApplicable::NotAConsent)]
    );
    assert_eq!(
        basis("Consent/abc", "provision.provision[0]").to_string(),
        "Consent/abc provision.provision[0]"
    );
    assert_eq!(Basis::NoConsent.to_string(), "default");
}
