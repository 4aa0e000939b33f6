//! HL7 v2 on arbitrary bytes: splitting, parsing, walking every field, repetition, component
//! and subcomponent with decoding, and building acknowledgements never panic, and every ACK
//! built parses again.
#![no_main]

use libfuzzer_sys::fuzz_target;
use salus_hl7v2::{
    ack, ack_for_unparsable, decode, decode_text, encode, split_batch, split_messages, AckCode,
    AckError, Message, Piece,
};

fuzz_target!(|data: &[u8]| {
    let text = decode_text(data);
    for piece in split_batch(&text) {
        if let Piece::BatchTrailer(t) | Piece::FileTrailer(t) = &piece {
            let _ = (t.declared(), t.check());
        }
        if let Piece::FileHeader(h) | Piece::BatchHeader(h) = &piece {
            let _ = (h.control_id(), h.name(), h.sending_application());
        }
    }
    for item in split_messages(&text) {
        let Ok((_, message_text)) = item else {
            continue;
        };
        match Message::parse(message_text) {
            Ok(msg) => {
                let enc = *msg.encoding();
                for segment in msg.segments() {
                    for n in 0..=segment.field_count() {
                        let field = segment.field(n);
                        let _ = (field.is_null(), field.value(), field.rep_count());
                        for rep in field.repetitions() {
                            for comp in rep.components() {
                                for sub in comp.subs() {
                                    let decoded = decode(sub, &enc);
                                    assert_eq!(decode(&encode(&decoded, &enc), &enc), decoded);
                                }
                            }
                        }
                    }
                }
                let _ = (
                    msg.control_id(),
                    msg.message_type(),
                    msg.version(),
                    msg.get("PID-5[1].2"),
                );
                let err = AckError::new(207, "fuzz ^|~\\&").at("PID", 1, Some(5));
                let reply = ack(
                    &msg,
                    AckCode::ApplicationError,
                    Some(&err),
                    "20240101",
                    "ACK1",
                );
                assert!(Message::parse(&reply).is_ok());
            }
            Err(e) => {
                let err = AckError::from_parse_error(&e, message_text);
                let reply = ack_for_unparsable(
                    message_text,
                    AckCode::ApplicationReject,
                    Some(&err),
                    "now",
                    "ACK2",
                );
                assert!(Message::parse(&reply).is_ok());
            }
        }
    }
});
