//! Malformed consents and resources never panic, never leak resource values into
//! diagnostics, and unreadable parts never widen a permission.

mod common;

use common::*;
use proptest::prelude::*;
use salus_consent::{Basis, DefaultDecision, ResourceFacts};
use serde_json::{json, Map, Value};

const NOW: &str = "2024-06-01T12:00:00Z";
/// Planted in every generated string; it must never appear in a reason or basis.
const SENTINEL: &str = "PHI_SENTINEL";

fn arb_json() -> impl Strategy<Value = Value> {
    let keys = prop::sample::select(vec![
        "resourceType",
        "id",
        "status",
        "scope",
        "patient",
        "dateTime",
        "policyRule",
        "provision",
        "type",
        "period",
        "actor",
        "role",
        "reference",
        "action",
        "purpose",
        "class",
        "code",
        "coding",
        "system",
        "securityLabel",
        "data",
        "meaning",
        "dataPeriod",
        "start",
        "end",
        "meta",
        "security",
        "effectiveDateTime",
    ]);
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        prop::sample::select(vec![
            "Consent",
            "active",
            "permit",
            "deny",
            "patient-privacy",
            "OPTIN",
            "OPTOUT",
            "Patient/pat-1",
            LLM,
            "2024-01-01",
            "2024-13-45",
            "TREAT",
            "access",
            "PSY",
            "Observation",
            "instance",
            "related",
        ])
        .prop_map(Value::from),
        "[a-z]{0,6}".prop_map(|s| Value::from(format!("{SENTINEL}{s}"))),
    ];
    leaf.prop_recursive(6, 64, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((keys.clone(), inner), 0..6).prop_map(|kv| Value::Object(
                kv.into_iter()
                    .map(|(k, v)| (k.to_owned(), v))
                    .collect::<Map<_, _>>()
            )),
        ]
    })
}

/// A well-formed consent with one field replaced by arbitrary JSON.
fn arb_mangled_consent() -> impl Strategy<Value = Value> {
    let fields = prop::sample::select(vec![
        "/status",
        "/scope",
        "/patient",
        "/dateTime",
        "/policyRule",
        "/provision",
        "/provision/period",
        "/provision/actor",
        "/provision/provision",
        "/provision/provision/0",
        "/provision/provision/0/type",
        "/provision/provision/0/securityLabel",
        "/provision/provision/0/dataPeriod",
        "/provision/provision/0/data",
        "/provision/purpose",
        "/provision/class",
    ]);
    (fields, arb_json(), any::<bool>()).prop_map(|(field, value, opt_in)| {
        let mut c = consent(
            "mangled",
            Some(if opt_in { "OPTIN" } else { "OPTOUT" }),
            json!({
                "period": {"start": "2024-01-01"},
                "actor": [actor(LLM)],
                "purpose": [purpose("TREAT")],
                "class": [class("Observation")],
                "provision": [{"type": "deny", "securityLabel": [label("PSY")], "dataPeriod": {"start": "2020"},
                               "data": [{"meaning": "instance", "reference": {"reference": "Observation/o1"}}]}]
            }),
        );
        if let Some(slot) = c.pointer_mut(field) {
            *slot = value;
        }
        c
    })
}

fn check_texts(e: &salus_consent::Evaluation, resources: &[ResourceFacts]) {
    let mut texts = vec![
        e.overall().reason().to_owned(),
        e.overall().basis.to_string(),
    ];
    for r in resources {
        let d = e.decide(r);
        texts.push(d.reason().to_owned());
        texts.push(d.basis.to_string());
        texts.extend(d.concurring.iter().map(Basis::to_string));
    }
    texts.extend(e.skipped().iter().map(|(name, _)| name.clone()));
    for t in texts {
        assert!(
            !t.contains(SENTINEL),
            "diagnostic quotes a resource value: {t}"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_json_never_panics_nor_leaks(consents in prop::collection::vec(arb_json(), 0..4), res in arb_json()) {
        let resources = [ResourceFacts::from_resource(&res), resource("Observation", "o1", &["PSY"])];
        for default in [DefaultDecision::Deny, DefaultDecision::Permit] {
            let e = Ask::new("pat-1", LLM, "TREAT", NOW).eval(&consents, default);
            check_texts(&e, &resources);
        }
    }

    #[test]
    fn mangled_consents_never_panic_nor_leak(c in arb_mangled_consent(), res in arb_json()) {
        let resources = [ResourceFacts::from_resource(&res), resource("Observation", "o1", &["PSY"]), resource("Condition", "c", &[])];
        let e = Ask::new("pat-1", LLM, "TREAT", NOW).eval(std::slice::from_ref(&c), DefaultDecision::Deny);
        check_texts(&e, &resources);
        // Determinism: the same input gives the same decisions.
        let again = Ask::new("pat-1", LLM, "TREAT", NOW).eval(std::slice::from_ref(&c), DefaultDecision::Deny);
        prop_assert_eq!(e.overall(), again.overall());
        for r in &resources {
            prop_assert_eq!(e.decide(r), again.decide(r));
        }
    }

    /// The overall decision is an upper bound: if it denies, no resource is permitted.
    #[test]
    fn overall_deny_means_every_resource_is_denied(consents in prop::collection::vec(arb_mangled_consent(), 1..3), res in arb_json()) {
        let resources = [ResourceFacts::from_resource(&res), resource("Observation", "o1", &["PSY"]), resource("Observation", "o2", &[]), resource("Condition", "c", &[])];
        for default in [DefaultDecision::Deny, DefaultDecision::Permit] {
            let e = Ask::new("pat-1", LLM, "TREAT", NOW).eval(&consents, default);
            if !e.overall().permit {
                for r in &resources {
                    prop_assert!(!e.decide(r).permit, "overall {} but resource permitted: {}", e.overall().reason(), e.decide(r).reason());
                }
            }
        }
    }

    /// A consent that explicitly denies this actor everything denies every resource, whatever
    /// other consents (well-formed or not) say.
    #[test]
    fn an_unconditional_deny_cannot_be_overridden(others in prop::collection::vec(prop_oneof![arb_json(), arb_mangled_consent()], 0..3), res in arb_json()) {
        let mut consents = others;
        consents.push(consent("block", Some("OPTOUT"), json!({"actor": [actor(LLM)]})));
        let e = Ask::new("pat-1", LLM, "TREAT", NOW).eval(&consents, DefaultDecision::Permit);
        prop_assert!(!e.overall().permit);
        prop_assert!(!e.decide(&ResourceFacts::from_resource(&res)).permit);
    }

    /// Inactive consents change nothing.
    #[test]
    fn inactive_consents_are_inert(c in arb_mangled_consent(), status in "(draft|inactive|rejected|proposed|entered-in-error)") {
        let mut c = c;
        if let Some(obj) = c.as_object_mut() {
            obj.insert("status".into(), Value::from(status));
        }
        let e = Ask::new("pat-1", LLM, "TREAT", NOW).eval(&[c], DefaultDecision::Permit);
        prop_assert_eq!(&e.overall().basis, &Basis::NoConsent);
        prop_assert!(e.decide(&resource("Observation", "o1", &[])).permit);
    }
}

#[test]
fn hand_made_malformed_consents() {
    let cases = [
        json!({"resourceType": "Consent"}),
        json!({"resourceType": "Consent", "status": ["active"]}),
        json!({"resourceType": "Consent", "status": "active", "scope": "patient-privacy", "patient": "Patient/pat-1"}),
        consent("a", Some("OPTIN"), json!("permit")),
        consent("b", Some("OPTIN"), json!([{"type": "permit"}])),
        consent(
            "c",
            Some("OPTIN"),
            json!({"actor": {"reference": {"reference": LLM}}}),
        ),
        consent("d", Some("OPTIN"), json!({"actor": [{"reference": LLM}]})),
        consent("e", Some("OPTIN"), json!({"provision": {"type": "permit"}})),
        consent(
            "f",
            Some("OPTIN"),
            json!({"provision": [17, "x", null, []]}),
        ),
        consent(
            "g",
            Some("OPTIN"),
            json!({"purpose": [{"code": 3}], "action": "access"}),
        ),
        consent(
            "h",
            Some("OPTIN"),
            json!({"period": {"start": "2024-01-01", "end": "2023-01-01"}}),
        ),
        consent(
            "i",
            Some("OPTIN"),
            json!({"dataPeriod": [], "data": [{"reference": "Observation/x"}]}),
        ),
    ];
    for c in cases {
        for default in [DefaultDecision::Deny, DefaultDecision::Permit] {
            let e = Ask::new("pat-1", LLM, "TREAT", NOW).eval(std::slice::from_ref(&c), default);
            let d = e.decide(&resource("Observation", "o1", &[]));
            // Unreadable opt-in content never permits.
            if !matches!(d.basis, Basis::NoConsent) {
                assert!(!d.permit, "{c}: {}", d.reason());
            }
        }
    }
}
