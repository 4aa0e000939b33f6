//! Properties over arbitrary JSON: labelling never panics, `apply` is idempotent, adds exactly the
//! implied labels that were missing, and changes nothing else.

use proptest::prelude::*;
use salus_labels::{has_label, Labeller};
use serde_json::{Map, Value};

/// Keys and strings that make generated values look like resources often enough to match.
const KEYS: &[&str] = &[
    "resourceType",
    "id",
    "meta",
    "security",
    "tag",
    "versionId",
    "code",
    "coding",
    "system",
    "display",
    "category",
    "type",
    "class",
    "reasonCode",
    "valueCodeableConcept",
    "medicationCodeableConcept",
    "component",
    "contained",
    "diagnosis",
    "diagnosisCodeableConcept",
    "item",
    "productOrService",
    "activity",
    "detail",
    "text",
];
const STRINGS: &[&str] = &[
    "http://hl7.org/fhir/sid/icd-10-cm",
    "http://snomed.info/sct",
    "http://loinc.org",
    "http://www.nlm.nih.gov/research/umls/rxnorm",
    "http://terminology.hl7.org/CodeSystem/v3-ActCode",
    "http://terminology.hl7.org/CodeSystem/v3-Confidentiality",
    "https://salus.example.org/fhir/CodeSystem/document-type",
    "urn:oid:2.16.840.1.113883.6.90",
    "F32.9",
    "f11.20",
    "F17.210",
    "B20",
    "I10",
    "36923009",
    "75544000",
    "44260-8",
    "70274-6",
    "75622-1",
    "1819",
    "7242",
    "psychotherapy-note",
    "PSY",
    "MH",
    "R",
    "Condition",
];

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i32>().prop_map(Value::from),
        prop::sample::select(STRINGS).prop_map(Value::from),
        ".{0,8}".prop_map(Value::from),
    ]
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select(KEYS).prop_map(str::to_owned),
        1 => "[a-z]{1,6}",
    ]
}

fn json() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(5, 64, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::vec((key(), inner), 0..6)
                .prop_map(|entries| Value::Object(entries.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// An object at the top, as resources are.
fn resource() -> impl Strategy<Value = Value> {
    prop::collection::vec((key(), json()), 0..8)
        .prop_map(|entries| Value::Object(entries.into_iter().collect::<Map<_, _>>()))
}

/// Undoes `apply`: drops the last `added` labels, then `security` and `meta` if `apply` created
/// them.
fn remove_added(mut labelled: Value, original: &Value, added: usize) -> Value {
    let had_meta = original.get("meta").is_some();
    let had_security = original
        .get("meta")
        .and_then(|m| m.get("security"))
        .is_some();
    let obj = labelled.as_object_mut().unwrap();
    let meta = obj.get_mut("meta").unwrap().as_object_mut().unwrap();
    let security = meta.get_mut("security").unwrap().as_array_mut().unwrap();
    security.truncate(security.len() - added);
    if !had_security {
        meta.shift_remove("security");
    }
    if !had_meta {
        obj.shift_remove("meta");
    }
    labelled
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_json_never_panics(value in json()) {
        let labeller = Labeller::builtin();
        let _ = labeller.labels_for(&value);
        let mut copy = value.clone();
        let _ = labeller.apply(&mut copy);
    }

    #[test]
    fn apply_is_idempotent_and_changes_nothing_else(original in resource()) {
        let labeller = Labeller::builtin();
        let implied = labeller.labels_for(&original);
        let mut labelled = original.clone();
        let added = labeller.apply(&mut labelled);

        let once = labelled.clone();
        prop_assert_eq!(labeller.apply(&mut labelled), 0);
        prop_assert_eq!(&labelled, &once);
        // The labels come from codes outside `meta`, so labelling does not change them.
        prop_assert_eq!(labeller.labels_for(&labelled), implied.clone());

        if added == 0 {
            prop_assert_eq!(&labelled, &original);
        } else {
            prop_assert!(added <= implied.len());
            for label in &implied {
                prop_assert!(has_label(&labelled, label.system, label.code));
            }
            prop_assert_eq!(remove_added(labelled, &original, added), original);
        }
    }
}
