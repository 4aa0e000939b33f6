//! Reading: row errors with their row and column, file errors, the CSV dialect's corners.

use salus_csv_fhir::{read_csv, CsvError, CsvLimits, Mapping, RowOutcome, Stop};
use serde_json::Value;

const P_HEADER: &str = "Id,BIRTHDATE,DEATHDATE,SSN,DRIVERS,PASSPORT,PREFIX,FIRST,MIDDLE,LAST,SUFFIX,MAIDEN,MARITAL,RACE,ETHNICITY,GENDER,BIRTHPLACE,ADDRESS,CITY,STATE,COUNTY,FIPS,ZIP,LAT,LON";

fn patient_row(id: &str, birth: &str, last: &str) -> String {
    format!("{id},{birth},,999-00-0000,,,,Ann,,{last},,,M,white,nonhispanic,F,Somewhere,1 Main St,Topeka,Kansas,Shawnee County,20177,66604,39.0,-95.7")
}

fn synthea() -> Mapping {
    Mapping::preset("synthea").unwrap()
}

fn read(mapping: &Mapping, file: &str, bytes: &[u8]) -> Result<Vec<RowOutcome>, CsvError> {
    let mut out = Vec::new();
    read_csv(
        &mut &bytes[..],
        file,
        mapping,
        &CsvLimits::default(),
        &mut |o| {
            out.push(o);
            Ok(())
        },
    )?;
    Ok(out)
}

fn rejected(o: &RowOutcome) -> (u64, Option<&str>, &str) {
    match o {
        RowOutcome::Rejected {
            row,
            column,
            reason,
        } => (*row, column.as_deref(), reason.as_str()),
        RowOutcome::Mapped { row, resources } => panic!("row {row} mapped: {resources:?}"),
    }
}

fn mapped(o: &RowOutcome) -> (u64, &Value) {
    match o {
        RowOutcome::Mapped { row, resources } => (*row, &resources[0]),
        RowOutcome::Rejected { row, reason, .. } => panic!("row {row} rejected: {reason}"),
    }
}

#[test]
fn a_bad_date_names_row_and_column_but_not_the_value() {
    let text = format!(
        "{P_HEADER}\n{}\n{}\n",
        patient_row("a1", "1980-01-02", "Zebediah"),
        patient_row("a2", "02/30/1980", "Quuxley")
    );
    let out = read(&synthea(), "patients.csv", text.as_bytes()).unwrap();
    assert_eq!(out.len(), 2);
    assert_eq!(mapped(&out[0]).0, 2);
    let (row, column, reason) = rejected(&out[1]);
    assert_eq!(row, 3);
    assert_eq!(column, Some("BIRTHDATE"));
    assert_eq!(
        reason,
        "column BIRTHDATE: not a date in the format %Y-%m-%d"
    );
    assert!(!reason.contains("02/30") && !reason.contains("Quuxley"));
}

#[test]
fn empty_keys_and_required_cells_reject_the_row() {
    let text = format!(
        "{P_HEADER}\n{}\n{}\n",
        patient_row("", "1980-01-02", "X"),
        patient_row("a2", "", "Y")
    );
    let out = read(&synthea(), "patients.csv", text.as_bytes()).unwrap();
    let (row, column, reason) = rejected(&out[0]);
    assert_eq!((row, column), (2, Some("Id")));
    assert!(reason.contains("resource id is made from it"), "{reason}");
    let (row, column, reason) = rejected(&out[1]);
    assert_eq!((row, column), (3, Some("BIRTHDATE")));
    assert!(reason.contains("requires a value"), "{reason}");

    let conditions = "START,STOP,PATIENT,ENCOUNTER,CODE,DESCRIPTION\n2020-01-01,,,e1,35489007,Depressive disorder\n2020-01-01,,p1,,35489007,Depressive disorder\n";
    let out = read(&synthea(), "conditions.csv", conditions.as_bytes()).unwrap();
    let (row, column, reason) = rejected(&out[0]);
    assert_eq!((row, column), (2, Some("PATIENT")));
    // PATIENT is part of the id, so the id is what the row fails on first.
    assert!(reason.starts_with("column PATIENT: empty"), "{reason}");
    // An empty encounter only leaves the reference out (the SYSTEM column is optional too).
    let (row, condition) = mapped(&out[1]);
    assert_eq!(row, 3);
    assert!(condition.get("encounter").is_none());
    assert_eq!(
        condition["code"]["coding"][0]["system"],
        "http://snomed.info/sct"
    );
}

#[test]
fn unmapped_codes() {
    let mapping = Mapping::from_toml(
        r#"
name = "t"
[[table]]
name = "people"
files = ["people.csv"]
resource = "Patient"
id = "{MRN}"
field = [
  { path = "gender", column = "SEX", type = "code", map = { M = "male", F = "female" } },
  { path = "active", column = "ACTIVE", type = "boolean" },
  { path = "multipleBirthInteger", column = "ORDER", type = "integer" },
]
"#,
    )
    .unwrap();
    let out = read(
        &mapping,
        "people.csv",
        b"MRN,SEX,ACTIVE,ORDER\n1,M,yes,2\n2,X,no,1\n3,F,perhaps,1\n4,F,1,1.5\n",
    )
    .unwrap();
    let (_, p) = mapped(&out[0]);
    assert_eq!(p["gender"], "male");
    assert_eq!(p["active"], true);
    assert_eq!(p["multipleBirthInteger"], 2);
    let (row, column, reason) = rejected(&out[1]);
    assert_eq!((row, column), (3, Some("SEX")));
    assert!(
        reason.contains("a value the map of field 1 does not list"),
        "{reason}"
    );
    assert_eq!(rejected(&out[2]).1, Some("ACTIVE"));
    assert_eq!(rejected(&out[3]).1, Some("ORDER"));
}

#[test]
fn ragged_rows() {
    let text = "START,STOP,PATIENT,ENCOUNTER,CODE,DESCRIPTION\n2020-01-01,,p1,e1,35489007,Depressive disorder,extra\n2020-01-01,,p1,e1\n2020-01-01,,p1,e1,35489007,ok\n";
    let out = read(&synthea(), "conditions.csv", text.as_bytes()).unwrap();
    let (row, column, reason) = rejected(&out[0]);
    assert_eq!((row, column), (2, None));
    assert!(
        reason.contains("the row has 7 fields, the header 6"),
        "{reason}"
    );
    let (row, _, reason) = rejected(&out[1]);
    assert_eq!(row, 3);
    assert!(
        reason.contains("the row has 4 fields, the header 6"),
        "{reason}"
    );
    assert_eq!(mapped(&out[2]).0, 4);
    // Thousands of commas: skipped without holding them.
    let wide = format!(
        "START,STOP,PATIENT,ENCOUNTER,CODE,DESCRIPTION\n{}\n2020-01-01,,p1,e1,35489007,ok\n",
        ",".repeat(100_000)
    );
    let out = read(&synthea(), "conditions.csv", wide.as_bytes()).unwrap();
    assert!(rejected(&out[0]).2.contains("more than"), "{:?}", out[0]);
    assert_eq!(mapped(&out[1]).0, 3);
}

#[test]
fn latin1_bytes() {
    // é in Latin-1 is the single byte 0xE9: not UTF-8.
    let mut bytes = format!("{P_HEADER}\n").into_bytes();
    bytes.extend_from_slice(
        patient_row("a1", "1980-01-02", "Ren\u{e9}")
            .replace('\u{e9}', "\u{1}")
            .as_bytes(),
    );
    let at = bytes.iter().position(|&b| b == 1).unwrap();
    bytes[at] = 0xE9;
    bytes.push(b'\n');
    // In a column the table does not read, the byte does no harm.
    let mut unread = bytes.clone();
    let extra = format!(
        "{P_HEADER},NOTES\n{},caf\u{1}\n",
        patient_row("a2", "1980-01-02", "Smith")
    );
    let at = extra.find('\u{1}').unwrap();
    let mut extra = extra.into_bytes();
    extra[at] = 0xE9;
    unread.clear();
    unread.extend_from_slice(&extra);

    let out = read(&synthea(), "patients.csv", &bytes).unwrap();
    let (row, column, reason) = rejected(&out[0]);
    assert_eq!((row, column), (2, Some("LAST")));
    assert!(
        reason.contains("not UTF-8 (byte 4 of the field)"),
        "{reason}"
    );
    assert!(reason.contains("Latin-1"), "{reason}");
    let out = read(&synthea(), "patients.csv", &unread).unwrap();
    mapped(&out[0]);

    let mut header = b"Id,BIRTHDAT\xC9\n".to_vec();
    header.extend_from_slice(b"a,b\n");
    let e = read(&synthea(), "patients.csv", &header).unwrap_err();
    assert_eq!(e.position, "row 1");
    assert!(
        e.reason
            .contains("the header is not UTF-8 (column 2, byte 9)"),
        "{e}"
    );

    let utf16 = [0xFF, 0xFE, b'I', 0, b'd', 0];
    let e = read(&synthea(), "patients.csv", &utf16).unwrap_err();
    assert_eq!(e.position, "file");
    assert!(e.reason.contains("UTF-16"), "{e}");
}

#[test]
fn quotes_and_line_breaks() {
    let text = format!(
        "{P_HEADER}\n{}\n{}\n{}\n",
        patient_row("a1", "1980-01-02", "\"O\"\"Neil\""),
        patient_row("a2", "1980-01-02", "Smith")
            .replace("1 Main St", "\"1 Main St\nApt 2\r\nBack door\""),
        patient_row("a3", "1980-01-02", "Jones"),
    );
    let out = read(&synthea(), "patients.csv", text.as_bytes()).unwrap();
    assert_eq!(out.len(), 3);
    let (row, p) = mapped(&out[0]);
    assert_eq!(row, 2);
    assert_eq!(p["name"][0]["family"], "O\"Neil");
    let (row, p) = mapped(&out[1]);
    assert_eq!(row, 3);
    assert_eq!(p["address"][0]["line"][0], "1 Main St\nApt 2\r\nBack door");
    // The record after the one with line breaks starts three lines further down.
    assert_eq!(mapped(&out[2]).0, 6);

    // An unterminated quote at the end of the file.
    let text = format!(
        "{P_HEADER}\n{}\n{}",
        patient_row("a1", "1980-01-02", "Smith"),
        patient_row("a2", "1980-01-02", "\"Smith\nmore text\n")
    );
    let out = read(&synthea(), "patients.csv", text.as_bytes()).unwrap();
    assert_eq!(out.len(), 2);
    mapped(&out[0]);
    let (row, column, reason) = rejected(&out[1]);
    assert_eq!((row, column), (3, None));
    assert!(reason.contains("never closed"), "{reason}");

    // A last line without a line break is an ordinary row.
    let text = format!("{P_HEADER}\n{}", patient_row("a1", "1980-01-02", "Smith"));
    let out = read(&synthea(), "patients.csv", text.as_bytes()).unwrap();
    assert_eq!(mapped(&out[0]).0, 2);
}

#[test]
fn crlf_bom_blank_lines_and_case() {
    let text = format!(
        "\u{feff}{}\r\n{}\r\n\r\n{}\r\n",
        P_HEADER.to_lowercase(),
        patient_row("a1", "1980-01-02", "Smith"),
        patient_row("a2", "1980-01-03", "Jones")
    );
    let out = read(&synthea(), "patients.csv", text.as_bytes()).unwrap();
    assert_eq!(out.len(), 2);
    assert_eq!(mapped(&out[0]).0, 2);
    let (row, p) = mapped(&out[1]);
    assert_eq!(row, 4, "the blank line is skipped but counted");
    assert_eq!(p["birthDate"], "1980-01-03");

    // Old Mac line ends (CR alone) count as lines too.
    let text = format!(
        "{P_HEADER}\r{}\r{}\r",
        patient_row("a1", "1980-01-02", "Smith"),
        patient_row("a2", "1980-01-03", "Jones")
    );
    let out = read(&synthea(), "patients.csv", text.as_bytes()).unwrap();
    assert_eq!(mapped(&out[1]).0, 3);
}

#[test]
fn file_errors() {
    let e = read(&synthea(), "patients.csv", b"").unwrap_err();
    assert_eq!(e.position, "file");
    assert!(e.reason.contains("empty"), "{e}");

    let e = read(&synthea(), "notes.csv", b"A,B\n1,2\n").unwrap_err();
    assert_eq!(e.position, "row 1");
    assert!(
        e.reason.contains("no table of mapping synthea matches"),
        "{e}"
    );
    assert!(e.reason.contains("patients (patients.csv"), "{e}");

    let e = read(&synthea(), "patients.csv", b"Id,BIRTHDATE,GENDER\n1,2,3\n").unwrap_err();
    assert_eq!(e.position, "row 1");
    assert!(e.reason.starts_with("the header lacks columns "), "{e}");
    for column in ["DEATHDATE", "SSN", "LAST", "ZIP"] {
        assert!(e.reason.contains(column), "{column}: {e}");
    }
    assert!(
        !e.reason.contains("FIPS"),
        "optional columns are not required: {e}"
    );
    assert!(
        !e.reason.contains("MIDDLE"),
        "optional columns are not required: {e}"
    );

    let e = read(
        &synthea(),
        "conditions.csv",
        b"START,STOP,PATIENT,PATIENT,ENCOUNTER,CODE,DESCRIPTION\n",
    )
    .unwrap_err();
    assert!(e.reason.contains("PATIENT appears more than once"), "{e}");

    // A header with only a header is fine: no rows.
    let out = read(
        &synthea(),
        "conditions.csv",
        b"START,STOP,PATIENT,ENCOUNTER,CODE,DESCRIPTION\n",
    )
    .unwrap();
    assert!(out.is_empty());

    let e = read(&synthea(), "conditions.csv", b"START,\"STOP\nPATIENT").unwrap_err();
    assert!(e.reason.contains("never closed"), "{e}");
}

#[test]
fn the_callback_can_stop() {
    let text = format!(
        "{P_HEADER}\n{}\n{}\n{}\n",
        patient_row("a1", "1980-01-02", "A"),
        patient_row("a2", "1980-01-02", "B"),
        patient_row("a3", "1980-01-02", "C")
    );
    let mut seen = 0;
    let summary = read_csv(
        &mut text.as_bytes(),
        "patients.csv",
        &synthea(),
        &CsvLimits::default(),
        &mut |_| {
            seen += 1;
            if seen == 2 {
                Err(Stop)
            } else {
                Ok(())
            }
        },
    )
    .unwrap();
    assert_eq!(seen, 2);
    assert_eq!(summary.rows, 2);
    assert_eq!(summary.table, "patients");
}

#[test]
fn io_errors_are_file_errors() {
    struct Failing(usize);
    impl std::io::Read for Failing {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            if self.0 == 0 {
                return Err(std::io::Error::other("disk on fire"));
            }
            let chunk = b"START,STOP,PATIENT,ENCOUNTER,CODE,DESCRIPTION\n2020-01-01,,p1,e1,1,x\n";
            let n = chunk.len().min(buf.len());
            buf[..n].copy_from_slice(&chunk[..n]);
            self.0 -= 1;
            Ok(n)
        }
    }
    let mut rows = 0;
    let e = read_csv(
        &mut Failing(1),
        "conditions.csv",
        &synthea(),
        &CsvLimits::default(),
        &mut |_| {
            rows += 1;
            Ok(())
        },
    )
    .unwrap_err();
    assert!(e.reason.contains("could not be read"), "{e}");
    assert!(e.position.starts_with("row "), "{e}");
}

#[test]
fn field_and_record_limits() {
    let limits = CsvLimits {
        max_field_bytes: 100,
        max_record_bytes: 1000,
    };
    let long = "x".repeat(500);
    let text = format!(
        "START,STOP,PATIENT,ENCOUNTER,CODE,DESCRIPTION\n2020-01-01,,p1,e1,1,{long}\n2020-01-01,,p1,e1,1,\"{}\"\n2020-01-01,,p1,e1,1,ok\n",
        "y".repeat(5000)
    );
    let mut out = Vec::new();
    read_csv(
        &mut text.as_bytes(),
        "conditions.csv",
        &synthea(),
        &limits,
        &mut |o| {
            out.push(o);
            Ok(())
        },
    )
    .unwrap();
    assert_eq!(out.len(), 3);
    let (row, column, reason) = rejected(&out[0]);
    assert_eq!((row, column), (2, Some("DESCRIPTION")));
    assert!(reason.contains("larger than 100 bytes"), "{reason}");
    let (row, column, reason) = rejected(&out[1]);
    assert_eq!((row, column), (3, Some("DESCRIPTION")));
    assert!(reason.contains("larger than 100 bytes"), "{reason}");
    assert_eq!(mapped(&out[2]).0, 4);
}
