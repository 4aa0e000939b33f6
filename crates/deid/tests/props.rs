//! Property tests: the engine never panics, whatever the resource, and a patient's own planted
//! identifiers never survive `scrubText` in free text.

use std::sync::LazyLock;

use chrono::NaiveDate;
use proptest::prelude::*;
use salus_deid::{DefaultKeys, Engine, IdentityBook, Origin, Policy, Run};
use serde_json::{json, Map, Value};

fn build(preset: &str) -> Engine {
    let policy = Policy::parse(salus_deid::preset(preset).unwrap()).unwrap();
    Engine::build(
        policy,
        DefaultKeys::derive(b"props"),
        NaiveDate::from_ymd_opt(2026, 11, 28).unwrap(),
    )
    .unwrap()
}

/// Built once: compiling the free-text scrubber's dictionaries is the slow part.
fn engine(preset: &str) -> &'static Engine {
    static SAFE_HARBOR: LazyLock<Engine> = LazyLock::new(|| build("safe-harbor"));
    static LIMITED: LazyLock<Engine> = LazyLock::new(|| build("limited-data-set"));
    match preset {
        "safe-harbor" => &SAFE_HARBOR,
        _ => &LIMITED,
    }
}

/// Arbitrary JSON, with keys drawn from real FHIR element names so the typed paths are reached.
fn json_value() -> impl Strategy<Value = Value> {
    let key = prop_oneof![
        Just("name".to_string()),
        Just("given".to_string()),
        Just("family".to_string()),
        Just("birthDate".to_string()),
        Just("_birthDate".to_string()),
        Just("extension".to_string()),
        Just("valueString".to_string()),
        Just("text".to_string()),
        Just("div".to_string()),
        Just("reference".to_string()),
        Just("subject".to_string()),
        Just("address".to_string()),
        Just("postalCode".to_string()),
        Just("telecom".to_string()),
        Just("contained".to_string()),
        Just("resourceType".to_string()),
        Just("note".to_string()),
        "[a-z_]{1,8}",
    ];
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i32>().prop_map(|n| json!(n)),
        "\\PC{0,24}".prop_map(Value::String),
        Just(json!("1961-07-14")),
        Just(json!("Patient/x")),
    ];
    leaf.prop_recursive(4, 48, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((key.clone(), inner), 0..6)
                .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn deidentify_never_panics(body in json_value(), rt in prop_oneof![Just("Patient"), Just("Observation"), Just("Bundle"), Just("Unknown")]) {
        let mut resource = match body { Value::Object(m) => Value::Object(m), other => json!({"value": other}) };
        resource["resourceType"] = json!(rt);
        for preset in ["safe-harbor", "limited-data-set"] {
            let engine = engine(preset);
            let mut run = Run::new([5; 32], engine);
            let _ = engine.deidentify(resource.clone(), &Origin::default(), &IdentityBook::new(), &mut run);
        }
    }

    #[test]
    fn planted_identity_never_survives_in_text(
        given in "[A-Z][a-z]{3,9}", family in "[A-Z][a-z]{4,10}",
        mrn in "[0-9]{6,9}", filler in "[a-z ]{0,40}",
    ) {
        let patient = json!({"resourceType": "Patient", "id": "p1",
            "name": [{"family": family, "given": [given]}],
            "identifier": [{"value": mrn}]});
        let mut book = IdentityBook::new();
        book.add_resource(&patient);
        let text = format!("{filler} Seen {given} {family} today, record {mrn}. {family} agreed {filler}");
        let obs = json!({"resourceType": "Observation", "id": "o1", "status": "final", "code": {"text": "x"},
            "subject": {"reference": "Patient/p1"}, "valueString": text});
        let engine = engine("safe-harbor");
        let mut run = Run::new([5; 32], engine);
        let out = engine.deidentify(obs, &Origin::default(), &book, &mut run).unwrap();
        let out = serde_json::to_string(&out).unwrap();
        prop_assert!(!out.contains(&given), "{given} survived");
        prop_assert!(!out.contains(&family), "{family} survived");
        prop_assert!(!out.contains(&mrn), "{mrn} survived");
    }
}
