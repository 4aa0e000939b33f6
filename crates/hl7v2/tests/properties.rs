//! Properties: nothing panics on any input, and values written with `encode` read back through
//! `parse` and `decode` unchanged, whatever the delimiters.

use proptest::prelude::*;
use salus_hl7v2::{
    ack, ack_for_unparsable, decode, decode_text, encode, split_batch, split_messages, AckCode,
    AckError, Encoding, Message,
};

/// Walks everything the API can reach, so that every accessor runs on the input.
fn exercise(text: &str) {
    for item in split_batch(text) {
        let _ = format!("{item:?}");
    }
    for item in split_messages(text) {
        let Ok((_, message_text)) = item else {
            continue;
        };
        exercise_message(message_text);
    }
    exercise_message(text);
}

fn exercise_message(text: &str) {
    match Message::parse(text) {
        Ok(msg) => {
            let enc = *msg.encoding();
            for segment in msg.segments() {
                for n in 0..=segment.field_count() + 1 {
                    let field = segment.field(n);
                    let _ = (field.is_null(), field.value(), field.rep_count());
                    for rep in field.repetitions() {
                        for comp in rep.components() {
                            for sub in comp.subs() {
                                let _ = decode(sub, &enc);
                            }
                            let _ = (comp.value(), comp.sub(2), comp.sub_value(3));
                        }
                    }
                    let _ = segment.get(&format!("{n}[2].2.2"));
                }
            }
            let _ = (
                msg.control_id(),
                msg.message_type(),
                msg.version(),
                msg.get("PID-5[1].2"),
            );
            let err =
                AckError::new(207, text.chars().take(40).collect::<String>()).at("PID", 1, Some(3));
            let reply = ack(
                &msg,
                AckCode::ApplicationError,
                Some(&err),
                "20240101",
                "A|1",
            );
            Message::parse(&reply).expect("an ACK of a parsed message parses");
        }
        Err(e) => {
            let _ = e.to_string();
            let err = AckError::from_parse_error(&e, text);
            let reply =
                ack_for_unparsable(text, AckCode::ApplicationReject, Some(&err), "now", "A2");
            // Whatever the input, the reply is a well-formed message.
            Message::parse(&reply).unwrap_or_else(|e| panic!("{reply:?}: {e}"));
        }
    }
}

/// Text that looks like HL7 often enough to reach deep into the parser.
fn hl7ish() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("MSH|^~\\&|".to_string()),
        Just("MSH#!~$&#".to_string()),
        Just("MSH|^~\\&#|".to_string()),
        Just("|A|F|||||ADT^A01|C|P|2.5".to_string()),
        Just("FHS|^~\\&|".to_string()),
        Just("BHS|^~\\&|".to_string()),
        Just("BTS|1".to_string()),
        Just("FTS|".to_string()),
        Just("PID|".to_string()),
        Just("\r".to_string()),
        Just("\n".to_string()),
        Just("\u{feff}".to_string()),
        "[|^~\\\\&#!$]{1,4}",
        "\\\\[A-Z.][a-z0-9 +-]{0,4}\\\\?",
        "\\\\X[0-9A-Fa-f]{0,5}\\\\?",
        "[A-Z0-9]{1,4}",
        "\\PC{0,6}",
    ];
    prop::collection::vec(piece, 0..40).prop_map(|v| v.concat())
}

/// 5 or 6 distinct delimiters: field separator, MSH-2, and maybe a truncation character.
fn encodings() -> impl Strategy<Value = Encoding> {
    let punctuation: Vec<char> = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~".chars().collect();
    prop::sample::subsequence(punctuation, 5..=6)
        .prop_shuffle()
        .prop_map(|c| {
            Encoding::new(c[0], c[1], c[2], c[3], c[4], c.get(5).copied())
                .expect("distinct punctuation is a valid encoding")
        })
}

/// Field values: any text, with delimiters, escapes, line breaks and non-ASCII well represented.
fn values() -> impl Strategy<Value = String> {
    prop_oneof![
        "\\PC{0,12}",
        "[|^~\\\\&#!$%\r\n a-zé]{0,12}",
        Just(String::new()),
        Just("\"\"".to_string()),
    ]
}

type Fields = Vec<Vec<Vec<Vec<String>>>>;

/// Fields of repetitions of components of subcomponents.
fn fields() -> impl Strategy<Value = Fields> {
    let sub = values();
    let comp = prop::collection::vec(sub, 1..4);
    let rep = prop::collection::vec(comp, 1..4);
    let field = prop::collection::vec(rep, 1..3);
    prop::collection::vec(field, 1..6)
}

fn build(enc: &Encoding, fields: &Fields) -> String {
    let f = enc.field_separator().to_string();
    let r = enc.repetition_separator().to_string();
    let c = enc.component_separator().to_string();
    let s = enc.subcomponent_separator().to_string();
    let msh = format!(
        "MSH{f}{}{f}APP{f}FAC{f}{f}{f}{f}{f}ADT{c}A01{f}CTRL{f}P{f}2.5",
        enc.msh2()
    );
    let body: Vec<String> = fields
        .iter()
        .map(|field| {
            field
                .iter()
                .map(|rep| {
                    rep.iter()
                        .map(|comp| {
                            comp.iter()
                                .map(|v| encode(v, enc))
                                .collect::<Vec<_>>()
                                .join(&s)
                        })
                        .collect::<Vec<_>>()
                        .join(&c)
                })
                .collect::<Vec<_>>()
                .join(&r)
        })
        .collect();
    format!("{msh}\rZZZ{f}{}\r", body.join(&f))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        exercise(&decode_text(&bytes));
    }

    #[test]
    fn arbitrary_strings_never_panic(text in "\\PC{0,200}") {
        exercise(&text);
    }

    #[test]
    fn hl7_like_strings_never_panic(text in hl7ish()) {
        exercise(&text);
    }

    #[test]
    fn decode_never_panics(text in "[\\\\a-zX0-9.# ]{0,40}", enc in encodings()) {
        let _ = decode(&text, &enc);
        let _ = decode(&text, &Encoding::STANDARD);
    }

    #[test]
    fn encode_then_decode_is_identity(text in "\\PC{0,40}|[|^~\\\\&#\r\n]{0,10}", enc in encodings()) {
        let encoded = encode(&text, &enc);
        let delimiters = [
            enc.field_separator(),
            enc.component_separator(),
            enc.repetition_separator(),
            enc.subcomponent_separator(),
            '\r',
            '\n',
        ];
        prop_assert!(!encoded.contains(delimiters));
        prop_assert_eq!(decode(&encoded, &enc), text.as_str());
    }

    #[test]
    fn built_messages_round_trip(enc in encodings(), fields in fields()) {
        let text = build(&enc, &fields);
        let msg = Message::parse(&text).map_err(|e| TestCaseError::fail(format!("{e}: {text:?}")))?;
        prop_assert_eq!(msg.encoding(), &enc);
        prop_assert_eq!(msg.control_id(), "CTRL");
        let zzz = msg.segment("ZZZ").expect("the data segment");
        prop_assert_eq!(zzz.field_count(), fields.len());
        for (fi, field) in fields.iter().enumerate() {
            let got = zzz.field(fi + 1);
            for (ri, rep) in field.iter().enumerate() {
                for (ci, comp) in rep.iter().enumerate() {
                    for (si, value) in comp.iter().enumerate() {
                        let read = got.rep(ri).component(ci + 1).sub_value(si + 1);
                        prop_assert_eq!(&read, value, "field {} rep {} comp {} sub {}", fi + 1, ri, ci + 1, si + 1);
                    }
                }
            }
        }
    }

    #[test]
    fn files_of_built_messages_split(enc in encodings(), fields in fields(), n in 1usize..5) {
        let text = build(&enc, &fields).repeat(n);
        let items: Vec<_> = split_messages(&text).collect();
        prop_assert_eq!(items.len(), n);
        for (i, item) in items.into_iter().enumerate() {
            let (index, message) = item.map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(index, i);
            prop_assert!(Message::parse(message).is_ok());
        }
    }
}
