use super::*;

const ADT: &str = "MSH|^~\\&|SEND^1.2^ISO|SFAC|RECV|RFAC|20240101120000||ADT^A01^ADT_A01|CTRL-1|P|2.5.1^HL7\r\
                   EVN|A01|20240101\r\
                   PID|1||111^^^HOSP^MR~222^^^SSA^SS||DOE^JOHN^Q^^DR~ROE^JOHNNY||19700101|M|||1 Main St^^Town&Sub^ST\r\
                   NK1|1|DOE^JANE\r\
                   NK1|2|DOE^JIM\r\
                   ZPI|1|custom\\T\\thing|\"\"\r";

#[test]
fn header_accessors() {
    let m = Message::parse(ADT).unwrap();
    assert_eq!(m.control_id(), "CTRL-1");
    let t = m.message_type();
    assert_eq!(
        (&*t.code, &*t.trigger, &*t.structure),
        ("ADT", "A01", "ADT_A01")
    );
    assert_eq!(m.version(), "2.5.1");
    assert_eq!(m.sending_application(), "SEND");
    assert_eq!(m.sending_facility(), "SFAC");
    assert_eq!(m.receiving_application(), "RECV");
    assert_eq!(m.receiving_facility(), "RFAC");
    assert_eq!(m.timestamp(), "20240101120000");
    assert_eq!(m.processing_id(), "P");
    assert_eq!(m.encoding(), &Encoding::STANDARD);
    assert!(m.warnings().is_empty());
    assert_eq!(m.raw(), ADT);
}

#[test]
fn msh_numbering() {
    let m = Message::parse(ADT).unwrap();
    let msh = m.header();
    assert_eq!(msh.id(), "MSH");
    assert_eq!(msh.field(0).raw(), "MSH");
    assert_eq!(msh.field(1).raw(), "|");
    assert_eq!(msh.field(2).raw(), "^~\\&");
    // MSH-1 and MSH-2 are literal: not split at their own delimiters, not decoded.
    assert_eq!(msh.field(2).rep_count(), 1);
    assert_eq!(msh.field(2).value(), "^~\\&");
    assert_eq!(msh.get("2").as_deref(), Some("^~\\&"));
    assert_eq!(msh.field(3).raw(), "SEND^1.2^ISO");
    assert_eq!(msh.field(3).component(2).value(), "1.2");
    assert_eq!(msh.field(12).component(2).value(), "HL7");
    assert_eq!(msh.field_count(), 12);
    assert!(msh.field(13).is_empty());
}

#[test]
fn ordinary_segment_numbering() {
    let m = Message::parse(ADT).unwrap();
    let evn = &m.segments()[1];
    assert_eq!(evn.index(), 1);
    assert_eq!(evn.field(0).raw(), "EVN");
    assert_eq!(evn.field(1).raw(), "A01");
    assert_eq!(evn.field(2).raw(), "20240101");
    assert_eq!(evn.field_count(), 2);
    assert!(evn.field(3).is_empty());
    assert!(evn.field(usize::MAX).is_empty());
    assert_eq!(
        evn.fields().map(|f| f.raw()).collect::<Vec<_>>(),
        ["A01", "20240101"]
    );
}

#[test]
fn repetitions_components_subcomponents() {
    let m = Message::parse(ADT).unwrap();
    let pid = m.segment("PID").unwrap();
    let ids = pid.field(3);
    assert_eq!(ids.rep_count(), 2);
    let reps: Vec<_> = ids.repetitions().map(|r| r.raw()).collect();
    assert_eq!(reps, ["111^^^HOSP^MR", "222^^^SSA^SS"]);
    assert_eq!(ids.rep(1).component(5).value(), "SS");
    assert!(ids.rep(2).is_empty());
    assert_eq!(ids.component(4).value(), "HOSP");
    let name = pid.field(5);
    assert_eq!(name.value(), "DOE");
    assert_eq!(name.component(2).value(), "JOHN");
    assert_eq!(name.rep(0).components().count(), 5);
    assert!(name.component(4).is_empty());
    assert!(name.component(0).is_empty());
    assert_eq!(name.rep(1).value(), "ROE");
    let addr = pid.field(11);
    let city = addr.component(3);
    assert_eq!(city.raw(), "Town&Sub");
    assert_eq!(city.value(), "Town");
    assert_eq!(city.sub(2), "Sub");
    assert_eq!(city.sub_value(2), "Sub");
    assert_eq!(city.sub(3), "");
    assert_eq!(city.sub(0), "");
    assert_eq!(city.subs().collect::<Vec<_>>(), ["Town", "Sub"]);
}

#[test]
fn empty_parts_have_no_children() {
    let m = Message::parse(ADT).unwrap();
    let pid = m.segment("PID").unwrap();
    let empty = pid.field(2);
    assert!(empty.is_empty());
    assert_eq!(empty.repetitions().count(), 0);
    assert_eq!(empty.rep_count(), 0);
    assert_eq!(empty.rep(0).components().count(), 0);
    assert_eq!(empty.component(1).subs().count(), 0);
    assert_eq!(empty.value(), "");
}

#[test]
fn explicit_null() {
    let m = Message::parse(ADT).unwrap();
    let zpi = m.segment("ZPI").unwrap();
    assert!(zpi.field(3).is_null());
    assert!(zpi.field(3).rep(0).is_null());
    assert!(zpi.field(3).component(1).is_null());
    assert_eq!(zpi.field(3).value(), "\"\"");
    assert!(!zpi.field(1).is_null());
    assert!(!zpi.field(4).is_null());
}

#[test]
fn z_segments_and_lookup() {
    let m = Message::parse(ADT).unwrap();
    let zpi = m.segment("ZPI").unwrap();
    assert_eq!(zpi.index(), 5);
    assert_eq!(zpi.field(2).value(), "custom&thing");
    assert_eq!(m.segments_named("NK1").count(), 2);
    assert_eq!(
        m.segments_named("NK1")
            .map(|s| s.text(2, 2))
            .collect::<Vec<_>>(),
        ["JANE", "JIM"]
    );
    assert!(m.segment("OBX").is_none());
    assert_eq!(m.segments_named("OBX").count(), 0);
}

#[test]
fn paths() {
    let m = Message::parse(ADT).unwrap();
    assert_eq!(m.get("PID-5").as_deref(), Some("DOE"));
    assert_eq!(m.get("PID-5.2").as_deref(), Some("JOHN"));
    assert_eq!(m.get("PID-5[2].1").as_deref(), Some("ROE"));
    assert_eq!(m.get("PID.5[2].2").as_deref(), Some("JOHNNY"));
    assert_eq!(m.get("PID-11.3.2").as_deref(), Some("Sub"));
    assert_eq!(m.get("NK1[2]-2.2").as_deref(), Some("JIM"));
    assert_eq!(m.get("MSH-10").as_deref(), Some("CTRL-1"));
    assert_eq!(m.get("MSH-9.3").as_deref(), Some("ADT_A01"));
    assert_eq!(m.get("ZPI-2").as_deref(), Some("custom&thing"));
    assert_eq!(m.get("NK1[3]-2"), None);
    assert_eq!(m.get("PID-2"), None);
    assert_eq!(m.get("PID-5[3]"), None);
    assert_eq!(m.get("OBX-5"), None);
    assert_eq!(m.get("PID5"), None);
    assert_eq!(m.get(""), None);
    let pid = m.segment("PID").unwrap();
    assert_eq!(pid.get("5.2").as_deref(), Some("JOHN"));
    assert_eq!(pid.get("0").as_deref(), Some("PID"));
    assert_eq!(pid.get("x"), None);
}

#[test]
fn custom_delimiters() {
    let text = "MSH#!~$&#APP!X#FAC#####ORU!R01#C1#P#2.4\rPID#1##ID1!!!A~ID2!!!B##DOE!J$S$K&SUB\rOBX#1#TX###a$F$b|c^d";
    let m = Message::parse(text).unwrap();
    let e = m.encoding();
    assert_eq!(
        (
            e.field_separator(),
            e.component_separator(),
            e.repetition_separator(),
            e.escape_character(),
            e.subcomponent_separator()
        ),
        ('#', '!', '~', '$', '&')
    );
    assert_eq!(m.sending_application(), "APP");
    assert_eq!(m.header().field(1).raw(), "#");
    assert_eq!(m.header().field(2).raw(), "!~$&");
    let pid = m.segment("PID").unwrap();
    assert_eq!(pid.field(3).rep(1).component(4).value(), "B");
    assert_eq!(pid.field(5).component(2).raw(), "J$S$K&SUB");
    assert_eq!(pid.field(5).component(2).value(), "J!K");
    assert_eq!(pid.field(5).component(2).sub(2), "SUB");
    // Standard delimiters are ordinary characters here.
    assert_eq!(m.get("OBX-5").as_deref(), Some("a#b|c^d"));
}

#[test]
fn truncation_character() {
    let m = Message::parse("MSH|^~\\&#|A||||||ADT^A01|C|P|2.7\rNTE|1||long text\\P\\").unwrap();
    assert_eq!(m.encoding().truncation_character(), Some('#'));
    assert_eq!(m.header().field(2).raw(), "^~\\&#");
    assert_eq!(m.get("NTE-3").as_deref(), Some("long text#"));
}

#[test]
fn every_terminator_and_bom() {
    let base = ["MSH|^~\\&|A||||||ADT^A01|C|P|2.3", "PID|1||X", "PV1|1|I"];
    for sep in ["\r", "\n", "\r\n"] {
        let text = format!("\u{feff}{}{sep}{sep}", base.join(sep));
        let m = Message::parse(&text).unwrap();
        assert_eq!(m.segments().len(), 3, "{sep:?}");
        assert_eq!(m.get("PV1-2").as_deref(), Some("I"));
        assert!(!m.raw().starts_with('\u{feff}'));
    }
    let mixed = "MSH|^~\\&|A||||||ADT^A01|C|P|2.3\r\n\r\nPID|1\n\rPV1|1\r";
    assert_eq!(Message::parse(mixed).unwrap().segments().len(), 3);
}

#[test]
fn truncated_segments_are_fine() {
    let m = Message::parse("MSH|^~\\&|A||||||ADT^A01|C|P|2.3\rPID\rPV1|").unwrap();
    let pid = m.segment("PID").unwrap();
    assert_eq!(pid.field_count(), 0);
    assert!(pid.field(5).is_empty());
    assert_eq!(m.segment("PV1").unwrap().field_count(), 1);
}

#[test]
fn doubled_escape_in_msh2_is_tolerated() {
    let m = Message::parse("MSH|^~\\\\&|A||||||ADT^A01|C|P|2.6\rPID|1||a\\S\\b").unwrap();
    assert_eq!(m.encoding(), &Encoding::STANDARD);
    assert_eq!(m.warnings(), &[Warning::DoubledEscapeCharacter]);
    assert_eq!(m.get("PID-3").as_deref(), Some("a^b"));
}

fn err(text: &str) -> ParseError {
    Message::parse(text).unwrap_err()
}

#[test]
fn error_empty() {
    for text in ["", "\u{feff}", "\r\n\r\n", "  \n"] {
        assert_eq!(err(text).kind, ErrorKind::Empty);
    }
}

#[test]
fn error_missing_msh() {
    let e = err("\r\nPID|1\rMSH|^~\\&|A||||||ADT^A01|C|P|2.3");
    assert_eq!(e.kind, ErrorKind::MissingMsh);
    assert_eq!(
        (e.segment_index(), e.segment_id(), e.byte_offset()),
        (Some(0), Some("PID"), Some(2))
    );
    assert_eq!(
        e.to_string(),
        "segment 1 (PID): the message does not start with an MSH segment"
    );
    assert_eq!(err("FHS|^~\\&").kind, ErrorKind::MissingMsh);
    assert_eq!(err("MSHX|^~\\&").kind, ErrorKind::MissingMsh);
}

#[test]
fn error_bad_header() {
    let e = err("MSH|^~");
    assert_eq!(e.kind, ErrorKind::HeaderTooShort);
    assert_eq!((e.segment_index(), e.field()), (Some(0), Some(2)));
    assert_eq!(err("MSH").kind, ErrorKind::HeaderTooShort);
    let e = err("MSH1^~\\&|A");
    assert!(matches!(e.kind, ErrorKind::MissingMsh), "{e}");
    let e = err("MSH ^~\\& A");
    assert!(matches!(e.kind, ErrorKind::BadEncoding(_)));
    assert_eq!(e.field(), Some(1));
    let e = err("MSH|^^\\&|A||||||ADT^A01|C|P|2.3");
    assert!(matches!(e.kind, ErrorKind::BadEncoding(_)));
    assert_eq!(e.field(), Some(2));
    assert_eq!(
        e.to_string(),
        "segment 1 (MSH), field 2: bad encoding characters: the same character is used for two delimiters"
    );
}

#[test]
fn error_missing_required_msh_fields() {
    let e = err("MSH|^~\\&|A||||||^A01|C|P|2.3");
    assert_eq!(
        (e.kind.clone(), e.field()),
        (ErrorKind::MissingMessageType, Some(9))
    );
    let e = err("MSH|^~\\&");
    assert_eq!(
        (e.kind.clone(), e.field()),
        (ErrorKind::MissingMessageType, Some(9))
    );
    let e = err("MSH|^~\\&|A||||||ADT^A01||P|2.3");
    assert_eq!(
        (e.kind.clone(), e.field()),
        (ErrorKind::MissingControlId, Some(10))
    );
    let e = err("MSH|^~\\&|A||||||ADT^A01| |P|2.3");
    assert_eq!(e.kind, ErrorKind::MissingControlId);
    let e = err("MSH|^~\\&|A||||||ADT^A01|C|P");
    assert_eq!(
        (e.kind.clone(), e.field()),
        (ErrorKind::MissingVersion, Some(12))
    );
    let e = err("MSH|^~\\&|A||||||ADT^A01|C|P|^HL7");
    assert_eq!(e.kind, ErrorKind::MissingVersion);
    assert_eq!(
        e.to_string(),
        "segment 1 (MSH), field 12: MSH-12 version id is missing"
    );
}

#[test]
fn error_bad_segment_id_with_position() {
    let msh = "MSH|^~\\&|A||||||ADT^A01|C|P|2.3";
    for (bad, id) in [
        ("pid|1", "pid"),
        ("PI|1", "PI"),
        ("PIDX|1", "PIDX"),
        ("PID^1", "PID"),
        ("P\u{e9}D|1", "PéD"),
    ] {
        let text = format!("{msh}\rEVN|A01\r{bad}\rPV1|1");
        let e = err(&text);
        assert_eq!(e.kind, ErrorKind::BadSegmentId, "{bad}");
        assert_eq!(e.segment_index(), Some(2), "{bad}");
        assert_eq!(e.segment_id(), Some(id), "{bad}");
        assert_eq!(e.byte_offset(), Some(msh.len() + 9), "{bad}");
        assert_eq!(e.field(), None);
    }
    // With custom delimiters the separator after the id is the custom one.
    let e = err("MSH#!~$&#A######ADT!A01#C#P#2.3\rPID|1");
    assert_eq!(
        (e.kind.clone(), e.segment_index()),
        (ErrorKind::BadSegmentId, Some(1))
    );
}

#[test]
fn error_second_header_in_one_message() {
    let text = "MSH|^~\\&|A||||||ADT^A01|C|P|2.3\rPID|1\rMSH|^~\\&|A||||||ADT^A01|D|P|2.3";
    let e = err(text);
    assert_eq!(e.kind, ErrorKind::UnexpectedHeader);
    assert_eq!((e.segment_index(), e.segment_id()), (Some(2), Some("MSH")));
    let e = err("MSH|^~\\&|A||||||ADT^A01|C|P|2.3\rBTS|1");
    assert_eq!(e.kind, ErrorKind::UnexpectedHeader);
}

#[test]
fn nth_piece_edges() {
    assert_eq!(nth_piece("a^b^c", b'^', 0), "a");
    assert_eq!(nth_piece("a^b^c", b'^', 2), "c");
    assert_eq!(nth_piece("a^b^c", b'^', 3), "");
    assert_eq!(nth_piece("", b'^', 0), "");
    assert_eq!(nth_piece("^", b'^', 1), "");
    assert_eq!(nth_piece("a^", b'^', usize::MAX), "");
}
