//! What each kind of resource is labelled with, and how `apply` writes the labels.

use salus_labels::{
    has_label, Labeller, SecurityLabel, ACT_CODE, CFR_42_PART_2, CONFIDENTIALITY, ETH, HIV,
    ICD10CM, LOINC, MH, PSY, PSYCHOTHERAPY_NOTE, PSYTHPN, RESTRICTED, RXNORM, SALUS_DOCUMENT_TYPE,
    SEX, SNOMED, SUD,
};
use serde_json::{json, Value};

fn codes(resource: &Value) -> Vec<&'static str> {
    Labeller::builtin()
        .labels_for(resource)
        .iter()
        .map(|l| l.code)
        .collect()
}

fn condition(system: &str, code: &str, display: &str) -> Value {
    json!({
        "resourceType": "Condition",
        "id": "c1",
        "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": "active"}]},
        "verificationStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-ver-status", "code": "confirmed"}]},
        "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-category", "code": "problem-list-item", "display": "Problem List Item"}]}],
        "code": {"coding": [{"system": system, "code": code, "display": display}], "text": display},
        "subject": {"reference": "Patient/p1"},
        "onsetDateTime": "2024-03-01"
    })
}

fn observation(code: &str, display: &str, value: Value) -> Value {
    let mut obs = json!({
        "resourceType": "Observation",
        "id": "o1",
        "status": "final",
        "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "survey"}]}],
        "code": {"coding": [{"system": LOINC, "code": code, "display": display}]},
        "subject": {"reference": "Patient/p1"},
        "effectiveDateTime": "2024-03-01T10:00:00Z"
    });
    obs.as_object_mut()
        .unwrap()
        .insert("valueInteger".into(), value);
    obs
}

fn medication_request(code: &str, display: &str) -> Value {
    json!({
        "resourceType": "MedicationRequest",
        "id": "m1",
        "status": "active",
        "intent": "order",
        "medicationCodeableConcept": {"coding": [{"system": RXNORM, "code": code, "display": display}]},
        "subject": {"reference": "Patient/p1"},
        "authoredOn": "2024-03-01"
    })
}

fn document_reference(system: &str, code: &str, display: &str) -> Value {
    json!({
        "resourceType": "DocumentReference",
        "id": "d1",
        "status": "current",
        "type": {"coding": [{"system": system, "code": code, "display": display}]},
        "category": [{"coding": [{"system": "http://hl7.org/fhir/us/core/CodeSystem/us-core-documentreference-category", "code": "clinical-note"}]}],
        "subject": {"reference": "Patient/p1"},
        "content": [{"attachment": {"contentType": "text/plain", "data": "U2Vzc2lvbiBub3Rlcw=="}}]
    })
}

const SUD_LABELS: [&str; 4] = [SUD, ETH, CFR_42_PART_2, RESTRICTED];

#[test]
fn depression_icd10cm_is_psy_and_mh() {
    let c = condition(
        ICD10CM,
        "F32.9",
        "Major depressive disorder, single episode, unspecified",
    );
    assert_eq!(codes(&c), [PSY, MH]);
}

#[test]
fn icd10cm_matches_without_the_dot_and_in_any_case() {
    for code in ["F32.9", "F329", "f32.9", " F32.9 "] {
        assert_eq!(codes(&condition(ICD10CM, code, "")), [PSY, MH], "{code:?}");
    }
    // ICD-10-CM under its OID, as converted C-CDA often sends it.
    let oid = condition(
        "urn:oid:2.16.840.1.113883.6.90",
        "F41.1",
        "Generalized anxiety disorder",
    );
    assert_eq!(codes(&oid), [PSY, MH]);
}

#[test]
fn opioid_dependence_is_substance_use_under_part_2_and_not_psy() {
    let c = condition(ICD10CM, "F11.20", "Opioid dependence, uncomplicated");
    assert_eq!(codes(&c), SUD_LABELS);
    let alcohol = condition(ICD10CM, "F10.20", "Alcohol dependence, uncomplicated");
    assert_eq!(codes(&alcohol), SUD_LABELS);
    let snomed = condition(SNOMED, "75544000", "Opioid dependence (disorder)");
    assert_eq!(codes(&snomed), SUD_LABELS);
}

#[test]
fn nicotine_dependence_is_not_labelled() {
    let c = condition(
        ICD10CM,
        "F17.210",
        "Nicotine dependence, cigarettes, uncomplicated",
    );
    assert!(codes(&c).is_empty());
    // Nor is the ICD-10-CM chapter's neighbour outside the F range.
    assert!(codes(&condition(
        ICD10CM,
        "G30.9",
        "Alzheimer's disease, unspecified"
    ))
    .is_empty());
}

#[test]
fn buprenorphine_prescription_is_substance_use() {
    let ingredient = medication_request("1819", "buprenorphine");
    assert_eq!(codes(&ingredient), SUD_LABELS);
    let film = medication_request(
        "1010604",
        "buprenorphine 8 MG / naloxone 2 MG Sublingual Film",
    );
    assert_eq!(codes(&film), SUD_LABELS);
    // Naloxone alone is an overdose rescue drug, prescribed with opioids for pain.
    assert!(codes(&medication_request("7242", "naloxone")).is_empty());
    // Analgesic buprenorphine injection.
    assert!(codes(&medication_request(
        "238129",
        "1 ML buprenorphine 0.3 MG/ML Injection"
    ))
    .is_empty());
}

#[test]
fn medication_reference_is_not_followed_but_contained_medication_is_read() {
    let mut external = medication_request("0", "");
    let obj = external.as_object_mut().unwrap();
    obj.remove("medicationCodeableConcept");
    obj.insert(
        "medicationReference".into(),
        json!({"reference": "Medication/bup"}),
    );
    assert!(codes(&external).is_empty());

    let mut contained = external.clone();
    let obj = contained.as_object_mut().unwrap();
    obj.insert("medicationReference".into(), json!({"reference": "#bup"}));
    obj.insert(
        "contained".into(),
        json!([{"resourceType": "Medication", "id": "bup",
                "code": {"coding": [{"system": RXNORM, "code": "351267",
                                     "display": "buprenorphine 8 MG / naloxone 2 MG Sublingual Tablet"}]}}]),
    );
    assert_eq!(codes(&contained), SUD_LABELS);
    // The labels go on the container only: a contained resource may not carry them (dom-5).
    let mut labelled = contained.clone();
    assert_eq!(Labeller::builtin().apply(&mut labelled), 4);
    assert!(labelled["contained"][0].get("meta").is_none());
}

#[test]
fn phq9_item_9_is_mh_only() {
    let obs = observation(
        "44260-8",
        "Thoughts that you would be better off dead, or of hurting yourself in some way",
        json!(1),
    );
    assert_eq!(codes(&obs), [MH]);
}

#[test]
fn gad7_total_is_mh() {
    let obs = observation(
        "70274-6",
        "Generalized anxiety disorder 7 item (GAD-7) total score [Reported.PHQ]",
        json!(12),
    );
    assert_eq!(codes(&obs), [MH]);
}

#[test]
fn assessment_items_in_components_are_read() {
    let panel = json!({
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": LOINC, "code": "72133-2", "display": "unrelated panel code"}]},
        "component": [
            {"code": {"coding": [{"system": LOINC, "code": "8480-6", "display": "Systolic blood pressure"}]}, "valueQuantity": {"value": 120}},
            {"code": {"coding": [{"system": LOINC, "code": "93247-5", "display": "Have you actually had any thoughts of killing yourself?"}]},
             "valueCodeableConcept": {"coding": [{"system": LOINC, "code": "LA32-8", "display": "No"}]}}
        ]
    });
    assert_eq!(codes(&panel), [MH]);
}

#[test]
fn alcohol_screening_is_substance_use_without_part_2() {
    let audit = observation("75626-2", "Total score [AUDIT-C]", json!(2));
    assert_eq!(codes(&audit), [SUD, ETH]);
    let smoking = observation("72166-2", "Tobacco smoking status", json!(0));
    assert!(codes(&smoking).is_empty());
}

#[test]
fn hiv_disease_is_hiv_and_restricted() {
    assert_eq!(
        codes(&condition(
            ICD10CM,
            "B20",
            "Human immunodeficiency virus [HIV] disease"
        )),
        [HIV, RESTRICTED]
    );
    assert_eq!(
        codes(&condition(
            ICD10CM,
            "O98.711",
            "HIV disease complicating pregnancy, first trimester"
        )),
        [HIV, RESTRICTED]
    );
    assert_eq!(
        codes(&condition(
            SNOMED,
            "86406008",
            "Human immunodeficiency virus infection"
        )),
        [HIV, RESTRICTED]
    );
    let test = observation(
        "75622-1",
        "HIV 1 and 2 tests - Meaningful Use set",
        json!(0),
    );
    assert_eq!(codes(&test), [HIV, RESTRICTED]);
    // B20's neighbours are not HIV.
    assert!(codes(&condition(
        ICD10CM,
        "B19.20",
        "Unspecified viral hepatitis C"
    ))
    .is_empty());
}

#[test]
fn sexual_and_reproductive_health_is_sex() {
    assert_eq!(
        codes(&condition(
            ICD10CM,
            "A56.01",
            "Chlamydial cystitis and urethritis"
        )),
        [SEX]
    );
    assert_eq!(
        codes(&condition(
            ICD10CM,
            "Z30.011",
            "Encounter for initial prescription of contraceptive pills"
        )),
        [SEX]
    );
    assert_eq!(
        codes(&condition(
            ICD10CM,
            "O03.9",
            "Complete or unspecified spontaneous abortion without complication"
        )),
        [SEX]
    );
    assert_eq!(
        codes(&condition(
            SNOMED,
            "19169002",
            "Miscarriage in first trimester"
        )),
        [SEX]
    );
    // Pregnancy itself is not labelled.
    assert!(codes(&condition(SNOMED, "72892002", "Normal pregnancy")).is_empty());
}

#[test]
fn psychotherapy_note_is_psythpn_and_restricted() {
    let note = document_reference(
        SALUS_DOCUMENT_TYPE,
        PSYCHOTHERAPY_NOTE,
        "Psychotherapy note",
    );
    assert_eq!(codes(&note), [MH, PSYTHPN, RESTRICTED]);
    let composition = json!({
        "resourceType": "Composition",
        "status": "final",
        "type": {"coding": [{"system": SALUS_DOCUMENT_TYPE, "code": PSYCHOTHERAPY_NOTE}]},
        "title": "Session 12"
    });
    assert_eq!(codes(&composition), [MH, PSYTHPN, RESTRICTED]);
}

#[test]
fn mental_health_progress_note_is_mh_not_psychotherapy_note() {
    let note = document_reference(LOINC, "34904-3", "Mental health Progress note");
    assert_eq!(codes(&note), [MH]);
    // The generic consult note says nothing about its subject.
    assert!(codes(&document_reference(LOINC, "11488-4", "Consult note")).is_empty());
}

#[test]
fn hypertension_is_not_labelled_and_left_untouched() {
    let mut c = condition(ICD10CM, "I10", "Essential (primary) hypertension");
    let before = c.clone();
    assert!(codes(&c).is_empty());
    assert_eq!(Labeller::builtin().apply(&mut c), 0);
    assert_eq!(c, before);
    assert!(c.get("meta").is_none());
}

#[test]
fn synthea_major_depression_snomed_is_psy_and_mh() {
    let c = condition(SNOMED, "36923009", "Major depression, single episode");
    assert_eq!(codes(&c), [PSY, MH]);
}

#[test]
fn labels_of_several_codes_are_merged_in_canonical_order() {
    let claim = json!({
        "resourceType": "Claim",
        "diagnosis": [
            {"sequence": 1, "diagnosisCodeableConcept": {"coding": [{"system": ICD10CM, "code": "B20"}]}},
            {"sequence": 2, "diagnosisCodeableConcept": {"coding": [{"system": ICD10CM, "code": "F11.20"}]}},
            {"sequence": 3, "diagnosisCodeableConcept": {"coding": [{"system": ICD10CM, "code": "F32.9"}]}}
        ],
        "item": [{"sequence": 1, "productOrService": {"coding": [{"system": SNOMED, "code": "36923009"}]}}]
    });
    assert_eq!(
        codes(&claim),
        [PSY, MH, SUD, ETH, HIV, CFR_42_PART_2, RESTRICTED]
    );
}

#[test]
fn encounter_class_coding_and_reason_code_are_read() {
    let encounter = json!({
        "resourceType": "Encounter",
        "status": "finished",
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
        "type": [{"coding": [{"system": SNOMED, "code": "75516001", "display": "Psychotherapy"}]}],
        "reasonCode": [{"coding": [{"system": SNOMED, "code": "21897009", "display": "Generalized anxiety disorder"}]}]
    });
    assert_eq!(codes(&encounter), [PSY, MH]);
}

#[test]
fn labels_for_coding_and_security_label_codings() {
    let labeller = Labeller::builtin();
    assert_eq!(
        labeller.labels_for_coding(LOINC, "44261-6"),
        [SecurityLabel::MH]
    );
    assert!(labeller.labels_for_coding(LOINC, "unknown").is_empty());
    assert!(labeller
        .labels_for_coding("http://example.org/other", "44261-6")
        .is_empty());
    assert_eq!(
        SecurityLabel::CFR_42_PART_2.to_coding(),
        json!({"system": ACT_CODE, "code": "42CFRPart2", "display": "42 CFR Part2"})
    );
    assert_eq!(SecurityLabel::RESTRICTED.system, CONFIDENTIALITY);
    assert_eq!(
        SecurityLabel::from_code("PSYTHPN"),
        Some(SecurityLabel::PSYTHPN)
    );
    assert_eq!(SecurityLabel::from_code("N"), None);
    assert_eq!(labeller.version(), "2026.12.1");
}

#[test]
fn apply_creates_meta_after_id() {
    let mut c = condition(ICD10CM, "F32.9", "Major depressive disorder");
    assert_eq!(Labeller::builtin().apply(&mut c), 2);
    let keys: Vec<&str> = c.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(&keys[..3], ["resourceType", "id", "meta"]);
    assert_eq!(
        c["meta"],
        json!({"security": [
            {"system": ACT_CODE, "code": "PSY", "display": "psychiatry disorder information sensitivity"},
            {"system": ACT_CODE, "code": "MH", "display": "mental health information sensitivity"}
        ]})
    );
    assert!(has_label(&c, ACT_CODE, PSY) && has_label(&c, ACT_CODE, MH));
    assert!(!has_label(&c, CONFIDENTIALITY, RESTRICTED));
}

#[test]
fn apply_creates_meta_after_resource_type_when_there_is_no_id() {
    let mut c = condition(ICD10CM, "F32.9", "");
    c.as_object_mut().unwrap().shift_remove("id");
    Labeller::builtin().apply(&mut c);
    let keys: Vec<&str> = c.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(&keys[..2], ["resourceType", "meta"]);
}

#[test]
fn apply_keeps_other_meta_elements_in_order_and_puts_security_before_tag() {
    let mut c = condition(ICD10CM, "F11.20", "Opioid dependence");
    c.as_object_mut().unwrap().insert(
        "meta".into(),
        json!({
            "versionId": "3",
            "lastUpdated": "2024-03-01T10:00:00Z",
            "source": "urn:uuid:7a1e",
            "profile": ["http://hl7.org/fhir/us/core/StructureDefinition/us-core-condition-problems-health-concerns"],
            "tag": [{"system": "http://example.org/tags", "code": "imported"}]
        }),
    );
    assert_eq!(Labeller::builtin().apply(&mut c), 4);
    let keys: Vec<&str> = c["meta"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "versionId",
            "lastUpdated",
            "source",
            "profile",
            "security",
            "tag"
        ]
    );
    assert_eq!(c["meta"]["tag"][0]["code"], "imported");
    let added: Vec<&str> = c["meta"]["security"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["code"].as_str().unwrap())
        .collect();
    assert_eq!(added, SUD_LABELS);
}

#[test]
fn existing_source_labels_are_kept_and_not_duplicated() {
    let mut c = condition(ICD10CM, "F32.9", "Major depressive disorder");
    let source_labels = json!([
        {"system": CONFIDENTIALITY, "code": "N", "display": "normal"},
        {"system": ACT_CODE, "code": "PSY", "display": "Psychiatric (from the source system)", "userSelected": true}
    ]);
    c.as_object_mut()
        .unwrap()
        .insert("meta".into(), json!({"security": source_labels.clone()}));
    assert_eq!(Labeller::builtin().apply(&mut c), 1);
    let security = c["meta"]["security"].as_array().unwrap();
    assert_eq!(security.len(), 3);
    assert_eq!(security[..2], source_labels.as_array().unwrap()[..]);
    assert_eq!(security[2]["code"], "MH");
    // A same code in another system is not the same label.
    let mut other = condition(ICD10CM, "F32.9", "");
    other.as_object_mut().unwrap().insert(
        "meta".into(),
        json!({"security": [{"system": "http://example.org/local", "code": "PSY"}]}),
    );
    assert_eq!(Labeller::builtin().apply(&mut other), 2);
}

#[test]
fn apply_twice_is_apply_once() {
    let labeller = Labeller::builtin();
    for mut resource in [
        condition(ICD10CM, "F11.20", "Opioid dependence"),
        document_reference(
            SALUS_DOCUMENT_TYPE,
            PSYCHOTHERAPY_NOTE,
            "Psychotherapy note",
        ),
        observation("44260-8", "PHQ-9 item 9", json!(2)),
    ] {
        let first = labeller.apply(&mut resource);
        assert!(first > 0);
        let once = resource.clone();
        assert_eq!(labeller.apply(&mut resource), 0);
        assert_eq!(resource, once);
    }
}

#[test]
fn odd_meta_shapes_are_left_alone() {
    let labeller = Labeller::builtin();
    for meta in [
        json!("not an object"),
        json!({"security": {"code": "PSY"}}),
        json!({"security": "PSY"}),
    ] {
        let mut c = condition(ICD10CM, "F32.9", "");
        c.as_object_mut().unwrap().insert("meta".into(), meta);
        let before = c.clone();
        assert_eq!(labeller.apply(&mut c), 0);
        assert_eq!(c, before);
    }
    // Not a resource at all.
    for mut value in [json!(null), json!([1, 2]), json!("F32.9")] {
        assert_eq!(labeller.apply(&mut value), 0);
    }
    // Junk inside security does not stop labelling.
    let mut c = condition(ICD10CM, "F32.9", "");
    c.as_object_mut().unwrap().insert(
        "meta".into(),
        json!({"security": [7, null, {"code": "PSY"}]}),
    );
    assert_eq!(labeller.apply(&mut c), 2);
    assert_eq!(c["meta"]["security"].as_array().unwrap().len(), 5);
}

#[test]
fn has_label_reads_meta_security() {
    let r = json!({"resourceType": "Patient", "meta": {"security": [{"system": CONFIDENTIALITY, "code": "R"}]}});
    assert!(has_label(&r, CONFIDENTIALITY, "R"));
    assert!(!has_label(&r, ACT_CODE, "R"));
    assert!(!has_label(
        &json!({"resourceType": "Patient"}),
        CONFIDENTIALITY,
        "R"
    ));
    assert!(!has_label(
        &json!({"meta": {"security": "R"}}),
        CONFIDENTIALITY,
        "R"
    ));
}
