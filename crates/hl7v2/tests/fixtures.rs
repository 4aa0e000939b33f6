//! The real sample messages in ../shared/fixtures/external/hl7v2 (Microsoft FHIR-Converter and
//! LinuxForHealth hl7v2-fhir-converter inputs): every one splits into exactly one message that
//! parses, every part of it can be walked and decoded, it can be acknowledged, and a few known
//! values read back. Skipped, with the reason printed, when the directory is absent.

use std::path::{Path, PathBuf};

use salus_hl7v2::{ack, decode_text, split_messages, AckCode, Message, Warning};

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures/external/hl7v2")
}

/// Every `.hl7` file of the fixture set, with its text, or `None` when the set is absent.
fn load_all() -> Option<Vec<(String, String)>> {
    let root = fixture_dir();
    let mut files = Vec::new();
    for sub in ["microsoft-fhir-converter/input", "linuxforhealth"] {
        let Ok(entries) = std::fs::read_dir(root.join(sub)) else {
            eprintln!(
                "skipped: the HL7 v2 fixtures are not at {}",
                root.join(sub).display()
            );
            return None;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().is_some_and(|e| e == "hl7") {
                let bytes = std::fs::read(&path).expect("readable fixture");
                let name = format!("{sub}/{}", path.file_name().unwrap().to_string_lossy());
                files.push((name, decode_text(&bytes).into_owned()));
            }
        }
    }
    files.sort();
    Some(files)
}

fn load(name: &str) -> Option<String> {
    let path = fixture_dir().join(name);
    match std::fs::read(&path) {
        Ok(bytes) => Some(decode_text(&bytes).into_owned()),
        Err(e) => {
            eprintln!("skipped: {} not readable ({e})", path.display());
            None
        }
    }
}

#[test]
fn every_sample_parses_and_walks() {
    let Some(files) = load_all() else { return };
    assert!(
        files.len() >= 20,
        "expected the 20 sample files, found {}",
        files.len()
    );
    for (name, text) in &files {
        let items: Vec<_> = split_messages(text).collect();
        assert_eq!(items.len(), 1, "{name}: one message per file");
        let (index, message_text) = items[0].clone().unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(index, 0);
        let msg = Message::parse(message_text).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(msg.segments().len() >= 4, "{name}");
        assert!(!msg.control_id().is_empty(), "{name}");
        assert!(msg.version().starts_with("2."), "{name}: {}", msg.version());
        let mut values = 0usize;
        for segment in msg.segments() {
            assert_eq!(segment.id().len(), 3, "{name}");
            for field in segment.fields() {
                for rep in field.repetitions() {
                    for comp in rep.components() {
                        for sub in comp.subs() {
                            values += comp.decode(sub).len();
                        }
                    }
                }
            }
        }
        assert!(values > 0, "{name}");
        let reply = ack(
            &msg,
            AckCode::ApplicationAccept,
            None,
            "20240101000000",
            "ACK",
        );
        let parsed = Message::parse(&reply).unwrap_or_else(|e| panic!("{name}: ack: {e}"));
        assert_eq!(parsed.get("MSA-2"), msg.get("MSH-10"), "{name}");
    }
}

#[test]
fn known_values_microsoft_adt_a01() {
    let Some(text) = load("microsoft-fhir-converter/input/ADT-A01-01.hl7") else {
        return;
    };
    let msg = Message::parse(&text).unwrap();
    assert_eq!(msg.control_id(), "MSG00001");
    assert_eq!(msg.version(), "2.8");
    let t = msg.message_type();
    assert_eq!(
        (&*t.code, &*t.trigger, &*t.structure),
        ("ADT", "A01", "ADT_A01")
    );
    assert_eq!(msg.sending_application(), "ADTApp");
    assert_eq!(msg.sending_facility(), "GHHSFacility");
    // PID-5.1 is a FN: surname & own surname prefix & own surname & …
    let name = msg.segment("PID").unwrap().field(5);
    assert_eq!(name.component(1).raw(), "EVERYMAN&&&&Aniston");
    assert_eq!(name.component(1).value(), "EVERYMAN");
    assert_eq!(name.component(1).sub(5), "Aniston");
    assert_eq!(name.component(2).value(), "ADAM");
    assert_eq!(name.rep_count(), 2);
    assert_eq!(msg.get("PID-5[2].1").as_deref(), Some("Josh"));
    assert_eq!(msg.get("PID-5[2].1.5").as_deref(), Some("Bing"));
    // An escaped subcomponent separator in a real message.
    let source = msg.segment("PV1").unwrap().field(14);
    assert_eq!(source.raw(), "NHS Provider-General (inc.A\\T\\E-this Hosp)");
    assert_eq!(source.value(), "NHS Provider-General (inc.A&E-this Hosp)");
    assert_eq!(msg.get("PV1-3.1.2").as_deref(), Some("9.8"));
}

#[test]
fn known_values_microsoft_oru_with_escape() {
    let Some(text) = load("microsoft-fhir-converter/input/ORU-R01-01.hl7") else {
        return;
    };
    let msg = Message::parse(&text).unwrap();
    assert_eq!(
        msg.control_id(),
        "2.16.840.1.114222.4.3.3.5.1.2-20120314235954.325"
    );
    assert_eq!(msg.version(), "2.5.1");
    assert_eq!(msg.get("PID-5.1").as_deref(), Some("Finn"));
    assert_eq!(msg.segments_named("OBX").count(), 5);
    let note = msg
        .segments_named("NTE")
        .map(|s| s.text(3, 1))
        .find(|t| t.contains("O157"))
        .expect("the enteric culture note");
    assert!(note.contains("E.coli O157:H7 & other STECs"), "{note}");
}

#[test]
fn known_values_files_with_bom() {
    let Some(text) = load("microsoft-fhir-converter/input/ADT01-23.hl7") else {
        return;
    };
    assert!(text.starts_with('\u{feff}'));
    let msg = Message::parse(&text).unwrap();
    assert_eq!(msg.control_id(), "599102");
    assert_eq!(msg.version(), "2.3");
    assert_eq!(msg.get("PID-5.1").as_deref(), Some("DUCK"));
    assert_eq!(msg.get("PID-5.2").as_deref(), Some("DONALD"));

    let Some(text) = load("microsoft-fhir-converter/input/ADT04-251.hl7") else {
        return;
    };
    let msg = Message::parse(&text).unwrap();
    assert_eq!(msg.control_id(), "1270326314");
    assert_eq!(msg.get("PID-5.1").as_deref(), Some("Doe"));
    assert_eq!(msg.get("PID-3.1").as_deref(), Some("MRN12345"));
}

#[test]
fn known_values_linuxforhealth() {
    let Some(text) = load("linuxforhealth/ORU-multiline-short.hl7") else {
        return;
    };
    let msg = Message::parse(&text).unwrap();
    assert_eq!(msg.control_id(), "MSGID00231");
    assert_eq!(msg.get("PID-5.1").as_deref(), Some("Patient"));
    assert_eq!(msg.segments_named("OBX").count(), 3);

    // CRLF, and MSH-2 written `^~\\&` (the file was copied out of a string literal).
    let Some(text) = load("linuxforhealth/sample_win.hl7") else {
        return;
    };
    assert!(text.contains("\r\n"));
    let msg = Message::parse(&text).unwrap();
    assert_eq!(msg.warnings(), &[Warning::DoubledEscapeCharacter]);
    assert_eq!(msg.control_id(), "102");
    assert_eq!(msg.message_type().trigger, "A01");
    assert_eq!(msg.get("PID-5.1").as_deref(), Some("DOE"));
    assert_eq!(msg.get("PID-3[2].1").as_deref(), Some("1234568965"));
    assert_eq!(msg.segments_named("AL1").count(), 2);
    // Literal `\r` text in the file is an unterminated escape: kept as written.
    assert_eq!(msg.get("AL1[2]-5[2]").as_deref(), Some("VOMITING\\r"));
}
