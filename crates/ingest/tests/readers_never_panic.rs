//! Property tests: no input makes a reader panic, and every non-blank line is accounted for
//! (stored or rejected), whatever the bytes.

use proptest::prelude::*;
use salus_ingest::sink::VecSink;
use salus_ingest::{detect, read_stream, Format, Limits};

fn run(bytes: &[u8], format: Format) -> VecSink {
    let mut sink = VecSink::default();
    let mut reader = bytes;
    let limits = Limits {
        max_line_bytes: 4096,
        max_document_bytes: 1 << 20,
    };
    read_stream(&mut reader, "fuzz", format, &limits, &mut sink)
        .expect("in-memory input cannot fail to read");
    sink
}

/// Lines that look like FHIR, broken in small ways.
fn fhirish_line() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(r#"{"resourceType":"Patient","id":"p1"}"#.to_owned()),
        Just(r#"{"resourceType":"Observation","id":"o1","status":"final","code":{"text":"x"}}"#.to_owned()),
        Just(r#"{"resourceType":"Bundle","type":"collection","entry":[{"fullUrl":"urn:uuid:x","resource":{"resourceType":"Patient"}}]}"#.to_owned()),
        "[ -~]{0,80}",
        r#"\{"resourceType":"[A-Za-z]{0,12}","id":"[a-z0-9.-]{0,70}"\}"#,
    ]
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let _ = detect::detect(&bytes);
        for format in [Format::Auto, Format::Ndjson, Format::Bundle, Format::Hl7v2] {
            let _ = run(&bytes, format);
        }
    }

    /// Every HL7 v2 message of a file, however broken its fields, is stored (its resources, one
    /// unit) or rejected at its own position; none is silently dropped.
    #[test]
    fn every_hl7v2_message_is_stored_or_rejected(
        messages in proptest::collection::vec(
            ("[A-Z]{3}", "[A-Z][0-9]{2}", "[ -~]{0,12}", "[ -~]{0,40}", "[0-9]{0,14}"),
            1..8,
        )
    ) {
        let mut text = String::new();
        for (i, (code, trigger, id, name, date)) in messages.iter().enumerate() {
            text.push_str(&format!(
                "MSH|^~\\&|APP|FAC|||20240101||{code}^{trigger}|C{i}|P|2.5\rPID|1||{id}^^^FAC^MR||{name}||{date}\r"
            ));
        }
        let sink = run(text.as_bytes(), Format::Hl7v2);
        let mut positions: Vec<String> = sink.resources.iter().map(|(_, p)| p.clone()).collect();
        positions.extend(sink.rejected.iter().map(|r| r.position.clone()));
        positions.sort();
        positions.dedup();
        prop_assert_eq!(positions.len(), messages.len(), "{:?}", positions);
        for r in &sink.rejected {
            prop_assert!(r.position.starts_with("message "));
            prop_assert!(r.outcome.is_error());
        }
    }

    #[test]
    fn every_record_is_stored_or_rejected(lines in proptest::collection::vec(fhirish_line(), 1..30)) {
        let text = lines.join("\n");
        let sink = run(text.as_bytes(), Format::Ndjson);
        let records = lines.iter().filter(|l| !l.trim().is_empty()).count();
        // A Bundle line contributes its entries; everything else exactly one outcome.
        let bundles = lines.iter().filter(|l| l.contains("\"Bundle\"") && l.starts_with("{\"resourceType\":\"Bundle\"")).count();
        prop_assert!(sink.resources.len() + sink.rejected.len() + sink.notices.len() >= records - bundles);
        for r in &sink.rejected {
            prop_assert!(r.position.starts_with("line "));
            prop_assert!(r.outcome.is_error());
        }
    }
}
