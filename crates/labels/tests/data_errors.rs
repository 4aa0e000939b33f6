//! `Labeller::from_toml`: a file of one's own, and every refusal naming its key and reason.

use salus_labels::{Labeller, LabelsError, SecurityLabel};
use serde_json::json;

const GOOD: &str = r#"
version = "2027.1.3"

[[value_set]]
id = "local-mh"
labels = ["MH"]
system = "http://hl7.org/fhir/sid/icd-10-cm"
source = "test"
ranges = ["F30-F39"]
exclude = ["F34"]

[[value_set]]
id = "local-notes"
labels = ["PSYTHPN", "R"]
system = "http://example.org/note-type"
source = "test"
codes = ["session-note"]
"#;

/// `GOOD` with `old` replaced by `new` (which must occur).
fn edited(old: &str, new: &str) -> String {
    assert!(GOOD.contains(old), "{old}");
    GOOD.replacen(old, new, 1)
}

fn refused(text: &str) -> (String, String) {
    match Labeller::from_toml(text) {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(LabelsError::Invalid { key, reason }) => (key, reason),
        Err(other) => panic!("{other}"),
    }
}

#[track_caller]
fn assert_refused(text: &str, want_key: &str, want_reason: &str) {
    let (key, reason) = refused(text);
    assert_eq!(key, want_key, "reason: {reason}");
    assert!(reason.contains(want_reason), "{key}: {reason}");
}

#[test]
fn a_file_of_ones_own_is_compiled() {
    let labeller = Labeller::from_toml(GOOD).unwrap();
    assert_eq!(labeller.version(), "2027.1.3");
    let icd = |code: &str| {
        labeller.labels_for(&json!({"resourceType": "Condition",
            "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": code}]}}))
    };
    assert_eq!(icd("F32.9"), [SecurityLabel::MH]);
    assert!(icd("F34.1").is_empty());
    assert!(icd("F41.1").is_empty());
    let note = json!({"resourceType": "DocumentReference",
        "type": {"coding": [{"system": "http://example.org/note-type", "code": "session-note"}]}});
    assert_eq!(
        labeller.labels_for(&note),
        [SecurityLabel::PSYTHPN, SecurityLabel::RESTRICTED]
    );
    let summary = &labeller.value_sets()[0];
    assert_eq!(
        (summary.ranges, summary.excluded_ranges, summary.codes),
        (1, 1, 0)
    );
    assert_eq!(labeller.value_sets()[1].codes, 1);
}

#[test]
fn bad_range() {
    assert_refused(
        &edited(
            r#"ranges = ["F30-F39"]"#,
            r#"ranges = ["F30-F39", "F39-F30"]"#,
        ),
        "value_set[0].ranges[1]",
        "bad range \"F39-F30\": start is after end",
    );
    assert_refused(
        &edited(r#"ranges = ["F30-F39"]"#, r#"ranges = ["F3O-F39"]"#),
        "value_set[0].ranges[0]",
        "bad range \"F3O-F39\"",
    );
    assert_refused(
        &edited(r#"exclude = ["F34"]"#, r#"exclude = ["f34"]"#),
        "value_set[0].exclude[0]",
        "bad range",
    );
    assert_refused(
        &edited(r#"ranges = ["F30-F39"]"#, "ranges = []"),
        "value_set[0].ranges",
        "empty",
    );
    assert_refused(
        &edited(r#"ranges = ["F30-F39"]"#, r#"ranges = "F30-F39""#),
        "value_set[0].ranges",
        "expected an array of strings",
    );
}

#[test]
fn unknown_label() {
    assert_refused(
        &edited(
            r#"labels = ["PSYTHPN", "R"]"#,
            r#"labels = ["PSYTHPN", "PSI"]"#,
        ),
        "value_set[1].labels[1]",
        "unknown label \"PSI\"",
    );
    assert_refused(
        &edited(r#"labels = ["MH"]"#, r#"labels = ["MH", "MH"]"#),
        "value_set[0].labels[1]",
        "listed twice",
    );
    assert_refused(
        &edited(r#"labels = ["MH"]"#, "labels = []"),
        "value_set[0].labels",
        "empty",
    );
}

#[test]
fn bad_version() {
    for (version, reason) in [
        (r#""2026.13.1""#, "month must be 1 to 12"),
        (r#""2026.0.1""#, "month must be 1 to 12"),
        (r#""v1""#, "expected YYYY.MM.N"),
        (r#""2026.12""#, "expected YYYY.MM.N"),
        (r#""26.12.1""#, "expected YYYY.MM.N"),
        (r#""2026.12.1-rc""#, "expected YYYY.MM.N"),
        ("2026", "expected a string, found integer"),
    ] {
        assert_refused(
            &edited(r#"version = "2027.1.3""#, &format!("version = {version}")),
            "version",
            reason,
        );
    }
    assert_refused(&edited(r#"version = "2027.1.3""#, ""), "version", "missing");
}

#[test]
fn bad_codes() {
    let snomed = edited(
        r#"system = "http://example.org/note-type""#,
        r#"system = "http://snomed.info/sct""#,
    );
    assert_refused(
        &snomed.replace(r#"codes = ["session-note"]"#, r#"codes = ["36923008"]"#),
        "value_set[1].codes[0]",
        "wrong SNOMED CT (Verhoeff) check digit",
    );
    assert_refused(
        &snomed.replace(
            r#"codes = ["session-note"]"#,
            r#"codes = ["36923009", "36923009"]"#,
        ),
        "value_set[1].codes[1]",
        "listed twice (also value_set[1].codes[0])",
    );
    let loinc = edited(
        r#"system = "http://example.org/note-type""#,
        r#"system = "http://loinc.org""#,
    );
    assert_refused(
        &loinc.replace(
            r#"codes = ["session-note"]"#,
            r#"codes = ["44261-6", "44260-9"]"#,
        ),
        "value_set[1].codes[1]",
        "wrong LOINC check digit",
    );
    assert_refused(
        &edited(r#"codes = ["session-note"]"#, r#"codes = ["session note"]"#),
        "value_set[1].codes[0]",
        "without whitespace",
    );
}

#[test]
fn misplaced_and_unknown_keys() {
    assert_refused(
        &edited(
            "[[value_set]]\nid = \"local-mh\"",
            "colour = \"red\"\n[[value_set]]\nid = \"local-mh\"",
        ),
        "colour",
        "unknown key",
    );
    assert_refused(
        &edited(r#"source = "test""#, "source = \"test\"\nsorce = \"typo\""),
        "value_set[0].sorce",
        "unknown key",
    );
    assert_refused(
        &edited(
            r#"exclude = ["F34"]"#,
            "exclude = [\"F34\"]\ncodes = [\"F32.9\"]",
        ),
        "value_set[0].codes",
        "ICD-10-CM value sets list `ranges`",
    );
    assert_refused(
        &edited(
            r#"codes = ["session-note"]"#,
            "codes = [\"session-note\"]\nranges = [\"A00\"]",
        ),
        "value_set[1].ranges",
        "only ICD-10-CM value sets have ranges",
    );
    assert_refused(
        &edited(r#"id = "local-notes""#, r#"id = "local-mh""#),
        "value_set[1].id",
        "duplicate id \"local-mh\" (also value_set[0])",
    );
    assert_refused(
        &edited(r#"id = "local-notes""#, r#"id = "Local Notes""#),
        "value_set[1].id",
        "lower-case",
    );
    assert_refused(
        &edited(r#"source = "test""#, r#"source = " ""#),
        "value_set[0].source",
        "empty",
    );
    assert_refused(
        &edited(
            r#"system = "http://hl7.org/fhir/sid/icd-10-cm""#,
            r#"system = "urn:oid:2.16.840.1.113883.6.90""#,
        ),
        "value_set[0].system",
        "OID alias",
    );
    assert_refused(
        &edited(
            r#"system = "http://example.org/note-type""#,
            r#"system = "note-type""#,
        ),
        "value_set[1].system",
        "expected an absolute URI",
    );
    assert_refused("version = \"2026.1.1\"\n", "value_set", "missing");
    assert_refused(
        "version = \"2026.1.1\"\nvalue_set = 3\n",
        "value_set",
        "expected an array of tables",
    );
}

#[test]
fn errors_read_well() {
    let err = Labeller::from_toml(&edited(r#"labels = ["MH"]"#, r#"labels = ["XX"]"#)).unwrap_err();
    assert_eq!(err.key(), Some("value_set[0].labels[0]"));
    let message = err.to_string();
    assert!(
        message.starts_with("sensitivity data: `value_set[0].labels[0]`: unknown label \"XX\""),
        "{message}"
    );
    assert!(message.contains("PSY, MH, SUD"), "{message}");

    let syntax = Labeller::from_toml("version = \n").unwrap_err();
    assert!(matches!(syntax, LabelsError::Syntax { .. }), "{syntax:?}");
    assert_eq!(syntax.key(), None);
    assert!(syntax.to_string().contains("not valid TOML"));
}
