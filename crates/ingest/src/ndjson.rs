//! FHIR Bulk Data NDJSON: one resource per line.
//!
//! Lines are read one at a time with a length cap, so memory stays bounded whatever the file
//! size. A line that is a Bundle is expanded into its entries.

use std::io::BufRead;

use salus_fhir::{prepare, Issue, IssueCode};
use serde_json::Value;

use crate::bundle;
use crate::report::{Notice, Rejection};
use crate::sink::{Sink, SinkError};
use crate::Limits;

/// One line of input: its bytes, or that it was longer than the limit.
enum Line {
    Text,
    TooLong(usize),
}

/// Read the next line into `buf` (without its terminator), keeping at most `max` bytes.
/// `Ok(None)` at the end of the input.
fn next_line(
    reader: &mut dyn BufRead,
    buf: &mut Vec<u8>,
    max: usize,
) -> std::io::Result<Option<Line>> {
    buf.clear();
    let mut total = 0usize;
    let mut saw_any = false;
    loop {
        let available = match reader.fill_buf() {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if available.is_empty() {
            break;
        }
        saw_any = true;
        let (chunk, found_newline) = match available.iter().position(|&b| b == b'\n') {
            Some(at) => (&available[..at], true),
            None => (available, false),
        };
        if total + chunk.len() <= max {
            buf.extend_from_slice(chunk);
        }
        total += chunk.len();
        let consumed = chunk.len() + usize::from(found_newline);
        reader.consume(consumed);
        if found_newline {
            break;
        }
    }
    if !saw_any {
        return Ok(None);
    }
    if buf.last() == Some(&b'\r') {
        buf.pop();
    }
    if total > max {
        buf.clear();
        return Ok(Some(Line::TooLong(total)));
    }
    Ok(Some(Line::Text))
}

/// Read NDJSON from `reader`, pushing each resource into `sink`. Returns the number of records
/// (non-blank lines).
pub fn read(
    reader: &mut dyn BufRead,
    file: &str,
    limits: &Limits,
    sink: &mut dyn Sink,
) -> Result<u64, SinkError> {
    let mut buf = Vec::with_capacity(64 << 10);
    let mut line_no = 0u64;
    let mut records = 0u64;
    while let Some(line) =
        next_line(reader, &mut buf, limits.max_line_bytes).map_err(SinkError::input)?
    {
        line_no += 1;
        let position = format!("line {line_no}");
        let mut bytes = buf.as_slice();
        if line_no == 1 {
            bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
        }
        if let Line::TooLong(len) = line {
            records += 1;
            sink.rejected(Rejection::new(file, position, vec![Issue::error(
                IssueCode::TooLong,
                format!(
                    "the line is {len} bytes, over the limit of {} bytes (raise ingest.max_line_bytes in the configuration if it is genuine)",
                    limits.max_line_bytes
                ),
            )]))?;
            continue;
        }
        if bytes.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        records += 1;
        let value = match parse_line(bytes) {
            Ok(v) => v,
            Err(issue) => {
                sink.rejected(Rejection::new(file, position, vec![issue]))?;
                continue;
            }
        };
        if records == 1 && is_bulk_export_log(&value) {
            sink.notice(Notice {
                file: file.to_owned(),
                message: "skipped: a FHIR Bulk Data export log (kick-off and completion events), not FHIR resources".into(),
            })?;
            return Ok(0);
        }
        if value.get("resourceType").and_then(Value::as_str) == Some("Bundle") {
            bundle::read_bundle(value, file, &position, sink)?;
            continue;
        }
        match prepare(value) {
            Ok(resource) => sink.resource(resource, file, &position)?,
            Err(issues) => sink.rejected(Rejection::new(file, position, issues))?,
        }
    }
    Ok(records)
}

/// Parse one line, explaining precisely what is wrong when it is not a JSON object.
/// The message never quotes the content: it may be a patient's data.
pub(crate) fn parse_line(bytes: &[u8]) -> Result<Value, Issue> {
    if let Err(e) = std::str::from_utf8(bytes) {
        return Err(Issue::error(
            IssueCode::Structure,
            format!(
                "invalid UTF-8 at byte {} of the record: FHIR JSON must be UTF-8",
                e.valid_up_to() + 1
            ),
        ));
    }
    serde_json::from_slice::<Value>(bytes).map_err(|e| {
        let what = if e.is_eof() {
            "the JSON is truncated".to_owned()
        } else {
            "the JSON is malformed".to_owned()
        };
        Issue::error(
            IssueCode::Structure,
            format!("{what}: {} at column {}", classify(&e), e.column()),
        )
    })
}

/// serde_json's message without its position suffix (we report our own).
fn classify(e: &serde_json::Error) -> String {
    let text = e.to_string();
    match text.find(" at line ") {
        Some(at) => text[..at].to_owned(),
        None => text,
    }
}

/// The bulk export log (`log.ndjson`) of the FHIR Bulk Data spec: events, not resources.
fn is_bulk_export_log(value: &Value) -> bool {
    value.get("resourceType").is_none()
        && value.get("eventId").is_some()
        && (value.get("exportId").is_some() || value.get("eventDetail").is_some())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sink::VecSink;

    fn run(input: &[u8], limits: Limits) -> (VecSink, u64) {
        let mut sink = VecSink::default();
        let mut reader = input;
        let n = read(&mut reader, "f.ndjson", &limits, &mut sink).unwrap();
        (sink, n)
    }

    const P1: &str = r#"{"resourceType":"Patient","id":"p1"}"#;
    const P2: &str = r#"{"resourceType":"Patient","id":"p2"}"#;

    #[test]
    fn keeps_good_lines_around_bad_ones() {
        let input = format!(
            "{P1}\n{{\"resourceType\":\"Pat\n{{\"id\":\"x\"}}\n{{\"resourceType\":\"Wizard\",\"id\":\"w\"}}\n\n{P2}\r\n"
        );
        let (sink, records) = run(input.as_bytes(), Limits::default());
        assert_eq!(records, 5);
        let ids: Vec<_> = sink.resources.iter().map(|(r, _)| r.id.as_str()).collect();
        assert_eq!(ids, vec!["p1", "p2"]);
        let positions: Vec<_> = sink.rejected.iter().map(|r| r.position.as_str()).collect();
        assert_eq!(positions, vec!["line 2", "line 3", "line 4"]);
        assert!(sink.rejected[0].outcome.summary().contains("truncated"));
        assert!(sink.rejected[1].outcome.summary().contains("resourceType"));
        assert!(sink.rejected[2].outcome.summary().contains("Wizard"));
        assert_eq!(sink.resources[1].1, "line 6");
    }

    #[test]
    fn invalid_utf8_and_long_lines() {
        let mut input = P1.as_bytes().to_vec();
        input.extend_from_slice(b"\n{\"resourceType\":\"Patient\",\"id\":\"\xff\xfe\"}\n");
        input.extend_from_slice(format!("{{\"x\":\"{}\"}}\n", "a".repeat(2000)).as_bytes());
        input.extend_from_slice(P2.as_bytes());
        let (sink, _) = run(
            &input,
            Limits {
                max_line_bytes: 1000,
                ..Limits::default()
            },
        );
        assert_eq!(sink.resources.len(), 2);
        assert!(sink.rejected[0].outcome.summary().contains("UTF-8"));
        assert!(sink.rejected[1]
            .outcome
            .summary()
            .contains("over the limit of 1000"));
        assert_eq!(sink.rejected[1].position, "line 3");
    }

    #[test]
    fn skips_a_bulk_export_log_with_a_notice() {
        let log = br#"{"exportId":"e","timestamp":"t","eventId":"kickoff","eventDetail":{}}
{"exportId":"e","timestamp":"t","eventId":"export_complete","eventDetail":{}}
"#;
        let (sink, records) = run(log, Limits::default());
        assert_eq!(records, 0);
        assert!(sink.rejected.is_empty());
        assert_eq!(sink.notices.len(), 1);
    }

    #[test]
    fn errors_do_not_quote_content() {
        let (sink, _) = run(b"{\"name\": \"Zebediah Quux\" oops}\n", Limits::default());
        let text = serde_json::to_string(&sink.rejected[0].outcome).unwrap();
        assert!(!text.contains("Zebediah"), "{text}");
    }
}
