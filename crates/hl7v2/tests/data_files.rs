//! The synthetic sample files in tests/data (made-up data, no real people): a CRLF batch file
//! with FHS/BHS/BTS/FTS and Z-segments, and an LF message with custom delimiters.

use salus_hl7v2::{parse_messages, split_batch, split_messages, Message, Piece};

const BATCH: &str = include_str!("data/batch.hl7");
const CUSTOM: &str = include_str!("data/custom_delimiters.hl7");

#[test]
fn batch_file_splits_into_its_messages() {
    let mut messages = split_messages(BATCH);
    let (i, first) = messages.next().unwrap().unwrap();
    assert_eq!(i, 0);
    assert_eq!(messages.file_header().unwrap().control_id(), "FILE-0001");
    assert_eq!(
        messages.file_header().unwrap().name(),
        "synthetic-batch.hl7"
    );
    assert_eq!(messages.batch_header().unwrap().control_id(), "BATCH-0001");
    let (i, second) = messages.next().unwrap().unwrap();
    assert_eq!(i, 1);
    assert!(messages.next().is_none(), "BTS and FTS counts agree");
    assert!(first.ends_with("PV1|1|I|WARD^1^A"));
    assert!(second.ends_with("ZSY|1|site-specific"));

    let trailers: Vec<_> = split_batch(BATCH)
        .filter_map(|p| match p {
            Piece::BatchTrailer(t) | Piece::FileTrailer(t) => Some((t.id(), t.declared(), t.found)),
            _ => None,
        })
        .collect();
    assert_eq!(trailers, [("BTS", Some(2), 2), ("FTS", Some(1), 1)]);
}

#[test]
fn batch_messages_parse_with_values() {
    let msgs: Vec<Message<'_>> = parse_messages(BATCH).collect::<Result<_, _>>().unwrap();
    assert_eq!(msgs.len(), 2);
    assert_eq!(msgs[0].control_id(), "SYN-1");
    assert_eq!(msgs[0].get("PID-5.1").as_deref(), Some("TESTPERSON"));
    assert_eq!(msgs[0].get("PID-11.3").as_deref(), Some("Testville"));
    let oru = &msgs[1];
    assert_eq!(oru.message_type().structure, "ORU_R01");
    assert_eq!(oru.get("OBX[1]-5").as_deref(), Some("180"));
    assert_eq!(
        oru.get("OBX[2]-5").as_deref(),
        Some("Fasting & rested\nSecond line")
    );
    assert_eq!(oru.get("NTE-3").as_deref(), Some("Reviewed\\approved"));
    let z = oru.segment("ZSY").unwrap();
    assert_eq!((z.index(), z.text(2, 1)), (6, "site-specific".into()));
}

#[test]
fn custom_delimiter_file() {
    let msg = Message::parse(CUSTOM).unwrap();
    assert_eq!(msg.encoding().field_separator(), '#');
    assert_eq!(msg.control_id(), "SYN-3");
    assert_eq!(msg.version(), "2.4");
    assert_eq!(msg.message_type().trigger, "A08");
    assert_eq!(msg.get("PID-3[2].4").as_deref(), Some("OTHER"));
    assert_eq!(msg.get("PID-5.2").as_deref(), Some("GAMMA!DELTA"));
    assert_eq!(msg.get("ZPD-1").as_deref(), Some("custom|pipe^caret"));
}
