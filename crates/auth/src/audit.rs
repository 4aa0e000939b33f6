//! The audit trail: a ledger with one entry per request that touches patient data or
//! configuration, chained by hashes so that a deleted or altered entry is detected, and shown
//! to auditors as FHIR AuditEvents.
//!
//! An entry is the [`AuditRecord`] (who, what, when, outcome, the resources and query named,
//! purpose, address) at a sequence number. Its hash is SHA-256 over the previous entry's hash
//! and the entry's canonical form ([`ledger_line`]); changing an entry changes its hash, so the
//! check of that entry fails, and rewriting its hash too breaks the next entry's. Deleting one
//! leaves a gap in the sequence. Removing entries from the end leaves no trace in the chain
//! itself: [`Verifier::head`] reports the head so that it can be recorded elsewhere.
//!
//! Why a ledger of fields rather than stored AuditEvent JSON: an entry is written for every
//! request, and the AuditEvent's fixed parts (systems, displays) were most of its bytes and of
//! the hashing; the AuditEvent is a view ([`render`]) computed when an auditor reads it.

use sha2::{Digest, Sha256};

/// The extension that carries an event's place in the chain.
pub const CHAIN_EXTENSION: &str = "https://salus.example.org/fhir/StructureDefinition/audit-chain";
/// The hash before the first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";
/// The code system of `agent.who.identifier`: `token/ID`, `client/ID`, `cli/USER`, `anonymous`.
pub const PRINCIPAL_SYSTEM: &str = "https://salus.example.org/fhir/NamingSystem/principal";
/// The code system of `subtype`: Salus's action names (`read`, `search`, `ingest`, …).
pub const ACTION_SYSTEM: &str = "https://salus.example.org/fhir/CodeSystem/audit-action";

/// What happened, as the server or CLI saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRecord {
    /// `token/ID`, `client/ID`, `cli/USER` or `anonymous`.
    pub who: String,
    /// The token's or client's name (no patient data).
    pub who_name: String,
    /// The action's name (`read`, `search`, `ingest`, …).
    pub action: String,
    /// The HTTP status, or 0 for a CLI command that succeeded.
    pub status: u16,
    /// Resources the request named (`Patient/123`).
    pub entities: Vec<String>,
    /// The query, for searches (kept in the audit trail, never in logs).
    pub query: Option<String>,
    /// The route or command (`GET /fhir/{type}/{id}`).
    pub route: String,
    pub purpose: Option<String>,
    /// The client's network address.
    pub address: Option<String>,
    /// Microseconds since the epoch.
    pub recorded: i64,
    /// What the request decided beyond its status, for operations that decide (a summary's
    /// consent decision and its basis). No patient data.
    pub detail: Option<String>,
}

/// FHIR's AuditEvent.action for an action name.
fn fhir_action(action: &str) -> &'static str {
    match action {
        "create" | "ingest" | "token" | "token-create" | "client-register" => "C",
        "update" | "policy-change" | "batch" | "token-revoke" | "client-revoke" => "U",
        "delete" => "D",
        _ => "R",
    }
}

/// FHIR's outcome code for a status: 0 success, 4 minor failure (refused, not found), 8
/// serious failure (the server's fault).
pub fn fhir_outcome(status: u16) -> &'static str {
    match status {
        0..=399 => "0",
        400..=499 => "4",
        _ => "8",
    }
}

/// The canonical form of an entry: the bytes that are stored and hashed. A JSON array of the
/// fields in a fixed order (`[seq, recorded, who, who_name, action, status, route, purpose,
/// address, query, [entities…]]`, then `detail` when there is one, so that entries written
/// before it existed keep their form and hash), so that every value is escaped and no two
/// entries share a form. Written directly: it runs once per request.
pub fn ledger_line(record: &AuditRecord, sequence: i64) -> String {
    use std::io::Write;
    // Bytes, so that serde_json escapes each value straight into the line (no allocation per
    // value); what it writes is UTF-8.
    let mut out = Vec::with_capacity(160 + record.route.len());
    let string = |out: &mut Vec<u8>, s: &str| {
        serde_json::to_writer(out, s).expect("writing to a Vec cannot fail");
    };
    let optional = |out: &mut Vec<u8>, s: &Option<String>| match s {
        Some(s) => string(out, s),
        None => out.extend_from_slice(b"null"),
    };
    let _ = write!(out, "[{sequence},{},", record.recorded);
    string(&mut out, &record.who);
    out.push(b',');
    string(&mut out, &record.who_name);
    out.push(b',');
    string(&mut out, &record.action);
    let _ = write!(out, ",{},", record.status);
    string(&mut out, &record.route);
    out.push(b',');
    optional(&mut out, &record.purpose);
    out.push(b',');
    optional(&mut out, &record.address);
    out.push(b',');
    optional(&mut out, &record.query);
    out.extend_from_slice(b",[");
    for (i, entity) in record.entities.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        string(&mut out, entity);
    }
    out.push(b']');
    if let Some(detail) = &record.detail {
        out.push(b',');
        string(&mut out, detail);
    }
    out.push(b']');
    String::from_utf8(out).expect("serde_json writes UTF-8")
}

/// The sequence number and record of a ledger line; `None` when it is not one.
pub fn parse_ledger_line(line: &str) -> Option<(i64, AuditRecord)> {
    let v: serde_json::Value = serde_json::from_str(line).ok()?;
    let a = v.as_array()?;
    if a.len() != 11 && a.len() != 12 {
        return None;
    }
    let text = |i: usize| a[i].as_str().map(str::to_owned);
    let optional = |i: usize| match &a[i] {
        serde_json::Value::Null => Some(None),
        serde_json::Value::String(s) => Some(Some(s.clone())),
        _ => None,
    };
    let record = AuditRecord {
        recorded: a[1].as_i64()?,
        who: text(2)?,
        who_name: text(3)?,
        action: text(4)?,
        status: u16::try_from(a[5].as_u64()?).ok()?,
        route: text(6)?,
        purpose: optional(7)?,
        address: optional(8)?,
        query: optional(9)?,
        entities: a[10]
            .as_array()?
            .iter()
            .map(|e| e.as_str().map(str::to_owned))
            .collect::<Option<Vec<_>>>()?,
        detail: match a.get(11) {
            None => None,
            Some(serde_json::Value::String(s)) => Some(s.clone()),
            Some(_) => return None,
        },
    };
    Some((a[0].as_i64()?, record))
}

/// The hash of an entry: SHA-256 of the previous entry's hash, a newline and its ledger line.
pub fn line_hash(previous: &str, line: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(previous.as_bytes());
    hasher.update(b"\n");
    hasher.update(line.as_bytes());
    hex::encode(hasher.finalize())
}

/// The FHIR AuditEvent of an entry (`id` is its sequence number).
pub fn render(record: &AuditRecord, sequence: i64, hash: &str) -> String {
    use std::fmt::Write;
    let q = |s: &str| serde_json::to_string(s).expect("strings serialize");
    let mut out = String::with_capacity(1024);
    let _ = write!(
        out,
        r#"{{"resourceType":"AuditEvent","id":"{sequence}","extension":[{{"url":"{CHAIN_EXTENSION}","extension":[{{"url":"sequence","valueString":"{sequence}"}},{{"url":"hash","valueString":{}}}]}}]"#,
        q(hash)
    );
    let _ = write!(
        out,
        r#","type":{{"system":"http://terminology.hl7.org/CodeSystem/audit-event-type","code":"rest","display":"RESTful Operation"}},"subtype":[{{"system":"{ACTION_SYSTEM}","code":{}}}],"action":"{}","recorded":"{}","outcome":"{}","outcomeDesc":{}"#,
        q(&record.action),
        fhir_action(&record.action),
        chrono_free_instant(record.recorded),
        fhir_outcome(record.status),
        q(&match &record.detail {
            Some(detail) => format!("{} {}; {detail}", record.route, record.status),
            None => format!("{} {}", record.route, record.status),
        })
    );
    if let Some(purpose) = &record.purpose {
        let _ = write!(
            out,
            r#","purposeOfEvent":[{{"coding":[{{"system":"http://terminology.hl7.org/CodeSystem/v3-ActReason","code":{}}}]}}]"#,
            q(purpose)
        );
    }
    let _ = write!(
        out,
        r#","agent":[{{"who":{{"identifier":{{"system":"{PRINCIPAL_SYSTEM}","value":{}}},"display":{}}},"requestor":true"#,
        q(&record.who),
        q(&record.who_name)
    );
    if let Some(address) = &record.address {
        let _ = write!(out, r#","network":{{"address":{},"type":"2"}}"#, q(address));
    }
    out.push_str(r#"}],"source":{"observer":{"display":"salus"}}"#);
    if !record.entities.is_empty() || record.query.is_some() {
        out.push_str(r#","entity":["#);
        let mut first = true;
        for reference in &record.entities {
            if !first {
                out.push(',');
            }
            first = false;
            let _ = write!(out, r#"{{"what":{{"reference":{}}}}}"#, q(reference));
        }
        if let Some(query) = &record.query {
            use base64::Engine;
            if !first {
                out.push(',');
            }
            let _ = write!(
                out,
                r#"{{"type":{{"system":"http://terminology.hl7.org/CodeSystem/audit-entity-type","code":"2","display":"System Object"}},"description":"query","query":"{}"}}"#,
                base64::engine::general_purpose::STANDARD.encode(query.as_bytes())
            );
        }
        out.push(']');
    }
    out.push('}');
    out
}

/// `2026-11-28T04:16:13.123456Z` from microseconds, without a clock dependency.
fn chrono_free_instant(micros: i64) -> String {
    let secs = micros.div_euclid(1_000_000);
    let frac = micros.rem_euclid(1_000_000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{frac:06}Z",
        rem / 3600,
        (rem / 60) % 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// One stored entry, as verification reads it back.
#[derive(Debug, Clone)]
pub struct StoredEntry {
    pub sequence: i64,
    pub line: String,
    pub hash: String,
}

/// Where the chain breaks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainBreak {
    /// The sequence number of the first entry that does not fit.
    pub sequence: i64,
    pub reason: String,
}

/// The end of a verified chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainHead {
    pub entries: u64,
    pub sequence: i64,
    pub hash: String,
}

/// Incremental verification over entries in sequence order (so a trail of any length is
/// verified a page at a time).
#[derive(Debug, Clone)]
pub struct Verifier {
    expected_sequence: i64,
    previous: String,
    entries: u64,
}

impl Default for Verifier {
    fn default() -> Self {
        Verifier {
            expected_sequence: 1,
            previous: GENESIS.to_owned(),
            entries: 0,
        }
    }
}

impl Verifier {
    /// Check the next entry. An entry's number is the one its line carries (the store's
    /// position can shift when lines are removed); it must be the next in the chain.
    pub fn push(&mut self, entry: &StoredEntry) -> Result<(), ChainBreak> {
        let expected = self.expected_sequence;
        let fail = |sequence: i64, reason: String| ChainBreak { sequence, reason };
        let Some((sequence, _)) = parse_ledger_line(&entry.line) else {
            return Err(fail(
                expected,
                format!("entry {expected} is not a ledger line: it was altered"),
            ));
        };
        if sequence > expected {
            return Err(fail(
                expected,
                format!("entry {expected} is missing (the next stored entry is {sequence})"),
            ));
        }
        if sequence < expected {
            return Err(fail(
                expected,
                format!("entry {sequence} appears again where entry {expected} belongs: entries were copied or reordered"),
            ));
        }
        let recomputed = line_hash(&self.previous, &entry.line);
        if recomputed != entry.hash {
            return Err(fail(
                sequence,
                "the entry does not match its hash: it was altered, or the entry before it was"
                    .into(),
            ));
        }
        self.previous = recomputed;
        self.expected_sequence += 1;
        self.entries += 1;
        Ok(())
    }

    pub fn head(&self) -> ChainHead {
        ChainHead {
            entries: self.entries,
            sequence: self.expected_sequence - 1,
            hash: self.previous.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn record(n: i64) -> AuditRecord {
        AuditRecord {
            who: "token/t1".into(),
            who_name: "ward".into(),
            action: "read".into(),
            status: 200,
            entities: vec![format!("Patient/p{n}")],
            query: None,
            route: "GET /fhir/{type}/{id}".into(),
            purpose: Some("TREAT".into()),
            address: Some("127.0.0.1".into()),
            recorded: 1_764_300_000_000_000 + n,
            detail: None,
        }
    }

    fn chain(n: i64) -> Vec<StoredEntry> {
        let mut previous = GENESIS.to_owned();
        (1..=n)
            .map(|seq| {
                let line = ledger_line(&record(seq), seq);
                let hash = line_hash(&previous, &line);
                previous = hash.clone();
                StoredEntry {
                    sequence: seq,
                    line,
                    hash,
                }
            })
            .collect()
    }

    fn verify_all(entries: &[StoredEntry]) -> Result<ChainHead, ChainBreak> {
        let mut v = Verifier::default();
        for e in entries {
            v.push(e)?;
        }
        Ok(v.head())
    }

    #[test]
    fn an_intact_chain_verifies() {
        let head = verify_all(&chain(5)).unwrap();
        assert_eq!((head.entries, head.sequence), (5, 5));
    }

    #[test]
    fn an_altered_entry_is_found() {
        let mut entries = chain(5);
        entries[2].line = entries[2].line.replace("Patient/p3", "Patient/other");
        let err = verify_all(&entries).unwrap_err();
        assert_eq!(err.sequence, 3);
        assert!(err.reason.contains("altered"), "{}", err.reason);
    }

    #[test]
    fn a_rehashed_alteration_breaks_the_next_link() {
        let mut entries = chain(5);
        entries[2].line = entries[2].line.replace(",200,", ",403,");
        entries[2].hash = line_hash(&entries[1].hash, &entries[2].line);
        let err = verify_all(&entries).unwrap_err();
        assert_eq!(err.sequence, 4);
    }

    #[test]
    fn a_deleted_entry_is_found() {
        let mut entries = chain(5);
        entries.remove(1);
        let err = verify_all(&entries).unwrap_err();
        assert_eq!(err.sequence, 2);
        assert!(err.reason.contains("missing"));
    }

    #[test]
    fn fields_cannot_be_shifted_between_each_other() {
        let mut a = record(1);
        let mut b = record(1);
        a.who_name = "x".into();
        a.action = "yread".into();
        b.who_name = "xy".into();
        b.action = "read".into();
        assert_ne!(ledger_line(&a, 1), ledger_line(&b, 1));
    }

    #[test]
    fn ledger_lines_round_trip() {
        let mut r = record(4);
        r.query = Some("name=\"A\\da\"&x=\u{e9}".into());
        r.purpose = None;
        r.entities.push("Observation/o 1".into());
        let line = ledger_line(&r, 4);
        assert_eq!(parse_ledger_line(&line), Some((4, r)));
        assert_eq!(parse_ledger_line("[1,2]"), None);
        assert_eq!(parse_ledger_line("not json"), None);
    }

    #[test]
    fn renders_a_fhir_audit_event() {
        let mut r = record(1);
        r.query = Some("name=Ada".into());
        let event: Value = serde_json::from_str(&render(&r, 9, "abc")).unwrap();
        assert_eq!(event["resourceType"], "AuditEvent");
        assert_eq!(event["id"], "9");
        assert_eq!(event["outcome"], "0");
        assert_eq!(event["entity"][0]["what"]["reference"], "Patient/p1");
        assert_eq!(event["entity"][1]["query"], "bmFtZT1BZGE=");
        assert_eq!(event["agent"][0]["who"]["identifier"]["value"], "token/t1");
        assert_eq!(event["purposeOfEvent"][0]["coding"][0]["code"], "TREAT");
    }

    #[test]
    fn instants() {
        assert_eq!(chrono_free_instant(0), "1970-01-01T00:00:00.000000Z");
        assert_eq!(
            chrono_free_instant(1_764_303_373_123_456),
            "2025-11-28T04:16:13.123456Z"
        );
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn any_record_round_trips_through_its_line(
            who in ".{0,20}", name in ".{0,20}", action in "[a-z-]{1,12}", status in 0u16..600,
            query in proptest::option::of(".{0,40}"), entities in proptest::collection::vec(".{0,20}", 0..4),
            recorded in any::<i64>(), seq in 1i64..i64::MAX,
            detail in proptest::option::of(".{0,40}"),
        ) {
            let record = AuditRecord {
                who, who_name: name, action, status, entities, query,
                route: "GET /fhir/{type}".into(), purpose: None, address: None, recorded,
                detail: detail.clone(),
            };
            let line = ledger_line(&record, seq);
            prop_assert_eq!(parse_ledger_line(&line), Some((seq, record)));
        }

        /// The canonical form is exactly serde_json's compact array of the fields, so that the
        /// bytes hashed are those every earlier entry was hashed with.
        #[test]
        fn lines_are_serde_json_arrays(
            who in "[ -~]{0,20}|.{0,20}", query in proptest::option::of("[ -~]{0,30}|.{0,30}"),
            address in proptest::option::of("[ -~]{0,20}"), seq in 1i64..1_000_000,
        ) {
            let record = AuditRecord {
                who: who.clone(), who_name: "n".into(), action: "read".into(), status: 200,
                entities: vec![who.clone()], query: query.clone(), route: "GET /fhir/{type}".into(),
                purpose: None, address: address.clone(), recorded: 7, detail: None,
            };
            let expected = serde_json::json!([seq, 7, who, "n", "read", 200, "GET /fhir/{type}",
                                              null, address, query, [who]]);
            prop_assert_eq!(ledger_line(&record, seq), serde_json::to_string(&expected).unwrap());
        }

        #[test]
        fn parsing_any_text_never_panics(text in ".{0,200}") {
            let _ = parse_ledger_line(&text);
        }
    }
}
