//! Streaming a CSV file through a mapping, one record at a time, in bounded memory.
//!
//! # Why csv-core and not `csv::Reader`
//!
//! `csv::Reader` reads a whole record into a buffer it grows to fit, so a 100 MB field is
//! 100 MB of memory before anyone can look at it. csv-core (the parser inside the csv crate,
//! the same state machine and the same dialect) writes into buffers the caller owns: here an
//! output buffer that grows up to [`CsvLimits::max_record_bytes`] and no further. When a
//! record outgrows it (or a field outgrows [`CsvLimits::max_field_bytes`]), the rest of the
//! record is parsed into a small scratch buffer and dropped, and the record is rejected; the
//! next record is read normally. Memory is the input buffer (64 KiB), the record buffer (at
//! most `max_record_bytes`) and the scratch buffer, whatever the file holds.
//!
//! # The dialect
//!
//! RFC 4180 as csv-core reads it: `,` between fields, `"` quotes, `""` a quote inside quotes,
//! records ended by LF, CRLF or CR, blank lines skipped, a UTF-8 byte order mark ignored.
//! csv-core never fails: a stray quote inside an unquoted field is kept as a character. The
//! one thing it cannot tell apart from a well-formed file is a quote never closed (the rest
//! of the file becomes one field), so a small tracker follows the quoting alongside it, and a
//! last record that ends inside quotes is rejected instead of mapped.
//!
//! # Rows and errors
//!
//! `row` is the 1-based line on which the record starts (the header is usually row 1; a field
//! with line breaks makes the next row start further down). Every row is handed to the
//! callback, mapped or rejected with its column (when one is at fault) and a reason that names
//! rules and columns, never a cell's value. Bytes that are not UTF-8 reject the row (only the
//! columns the table reads are decoded, so a Latin-1 byte in an unmapped column is harmless);
//! a header that is not UTF-8 is a file error. A row with more or fewer fields than the header
//! is rejected: with columns shifted, every value would land in the wrong element.

use std::io::{self, Read};

use csv_core::ReadRecordResult;
use serde_json::Value;

use crate::mapping::{Mapping, Table};
use crate::plan::{self, Part, RowError, Source, Template, Test, Unmapped, Yield};

/// Size limits for one record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsvLimits {
    /// The largest field, in bytes after unquoting. Default 1 MiB (FHIR's own limit on a
    /// string).
    pub max_field_bytes: usize,
    /// The largest record: its fields' bytes together. Default 4 MiB.
    pub max_record_bytes: usize,
}

impl Default for CsvLimits {
    fn default() -> Self {
        CsvLimits {
            max_field_bytes: 1 << 20,
            max_record_bytes: 4 << 20,
        }
    }
}

/// What became of one data row.
#[derive(Debug, Clone, PartialEq)]
pub enum RowOutcome {
    Mapped {
        /// The 1-based line on which the record starts (the header is line 1).
        row: u64,
        resources: Vec<Value>,
    },
    Rejected {
        row: u64,
        /// The column at fault, as the mapping names it, when one is.
        column: Option<String>,
        /// Why, naming the column and the rule (`column BIRTHDATE: not a date in the format
        /// %Y-%m-%d`), never the value.
        reason: String,
    },
}

/// The whole file cannot be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsvError {
    /// `file`, or `row N` (the header's line, or the line where reading failed).
    pub position: String,
    pub reason: String,
}

impl std::fmt::Display for CsvError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.position, self.reason)
    }
}

impl std::error::Error for CsvError {}

/// Returned by the callback to stop reading (the sink failed). `read_csv` then returns `Ok`
/// with the rows handed over so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stop;

/// What was read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadSummary {
    /// Data rows handed to the callback (mapped and rejected).
    pub rows: u64,
    /// The mapping table the file was read with.
    pub table: String,
}

const INPUT_BUFFER: usize = 64 * 1024;
const SCRATCH: usize = 64 * 1024;
/// The most columns a header may have.
const MAX_HEADER_FIELDS: usize = 10_000;

/// Read a CSV stream with a mapping and hand each data row, mapped or rejected, to `on_row`,
/// in file order. See the module documentation for the dialect, limits and errors.
pub fn read_csv(
    reader: &mut dyn Read,
    file_name: &str,
    mapping: &Mapping,
    limits: &CsvLimits,
    on_row: &mut dyn FnMut(RowOutcome) -> Result<(), Stop>,
) -> Result<ReadSummary, CsvError> {
    let mut records = Records::new(reader, limits);
    records.sniff()?;

    // The header.
    let header_line;
    let header: Vec<String> = match records.next(MAX_HEADER_FIELDS) {
        Err(e) => return Err(io_error(&e, "row 1")),
        Ok(Next::End) => {
            return Err(CsvError {
                position: "file".into(),
                reason: "the file is empty: a CSV file needs a header row naming its columns"
                    .into(),
            })
        }
        Ok(Next::Unterminated { line }) => {
            return Err(CsvError {
                position: format!("row {line}"),
                reason: "the header opens a quoted field that is never closed".into(),
            })
        }
        Ok(Next::TooLarge { line, .. }) => {
            return Err(CsvError {
                position: format!("row {line}"),
                reason: format!(
                "the header is larger than {} bytes or has more than {MAX_HEADER_FIELDS} columns",
                limits.max_record_bytes
            ),
            })
        }
        Ok(Next::Record { line }) => {
            header_line = line;
            let mut names = Vec::with_capacity(records.fields());
            for i in 0..records.fields() {
                match std::str::from_utf8(records.field(i)) {
                    Ok(s) => names.push(s.trim().to_owned()),
                    Err(e) => {
                        return Err(CsvError {
                            position: format!("row {line}"),
                            reason: format!(
                                "the header is not UTF-8 (column {}, byte {}): the file may be Latin-1 or Windows-1252; convert it to UTF-8",
                                i + 1,
                                e.valid_up_to() + 1
                            ),
                        })
                    }
                }
            }
            names
        }
    };

    let header_refs: Vec<&str> = header.iter().map(String::as_str).collect();
    let Some(table) = mapping.table_for(file_name, &header_refs) else {
        let candidates = mapping.header_candidates(&header_refs);
        let reason = if candidates.len() > 1 {
            format!(
                "the file's name matches no table of mapping {}, and its header fits tables {} equally: name the file as one of them expects",
                mapping.name(),
                candidates.join(" and ")
            )
        } else {
            let known: Vec<String> = mapping
                .tables()
                .iter()
                .map(|t| format!("{} ({})", t.name(), t.files().join(", ")))
                .collect();
            format!(
                "no table of mapping {} matches the file's name or its header; the tables are {}",
                mapping.name(),
                known.join("; ")
            )
        };
        return Err(CsvError {
            position: format!("row {header_line}"),
            reason,
        });
    };
    let binding = bind(table, &header, header_line)?;
    let mut state = RowState {
        templates: plan::Templates::new(table.objects),
        cache: vec![None; table.fields.len()],
    };

    let max_fields = (header.len() * 2).max(header.len() + 16);
    let mut rows = 0u64;
    loop {
        let next = match records.next(max_fields) {
            Ok(n) => n,
            Err(e) => return Err(io_error(&e, &format!("row {}", records.line()))),
        };
        let outcome = match next {
            Next::End => break,
            Next::Unterminated { line } => RowOutcome::Rejected {
                row: line,
                column: None,
                reason: "a quoted field opened on this row is never closed: the rest of the file was read as one field".into(),
            },
            Next::TooLarge { line, what } => {
                let column = match what {
                    Overflow::Field(i) | Overflow::Record(i) => header.get(i).cloned(),
                    Overflow::Fields => None,
                };
                let reason = match (&what, &column) {
                    (Overflow::Field(_), Some(c)) => format!(
                        "column {c}: the field is larger than {} bytes (max_field_bytes); the row was skipped",
                        limits.max_field_bytes
                    ),
                    (Overflow::Fields, _) => format!(
                        "the row has more than {max_fields} fields, the header {}; the row was skipped",
                        header.len()
                    ),
                    _ => format!(
                        "the row is larger than {} bytes (max_record_bytes); the row was skipped",
                        limits.max_record_bytes
                    ),
                };
                RowOutcome::Rejected {
                    row: line,
                    column,
                    reason,
                }
            }
            Next::Record { line } => map_row(table, &binding, &records, &mut state, limits)
                .map_or_else(
                    |e| RowOutcome::Rejected {
                        row: line,
                        column: e.column,
                        reason: e.reason,
                    },
                    |resource| RowOutcome::Mapped {
                        row: line,
                        resources: vec![resource],
                    },
                ),
        };
        rows += 1;
        if on_row(outcome).is_err() {
            break;
        }
    }
    Ok(ReadSummary {
        rows,
        table: table.name.clone(),
    })
}

fn io_error(e: &io::Error, position: &str) -> CsvError {
    CsvError {
        position: position.to_owned(),
        reason: format!("the stream could not be read: {e}"),
    }
}

/// For each of the table's columns, its position in the header.
struct Binding {
    positions: Vec<Option<usize>>,
    header_len: usize,
}

fn bind(table: &Table, header: &[String], header_line: u64) -> Result<Binding, CsvError> {
    let mut positions = Vec::with_capacity(table.columns.len());
    let mut missing = Vec::new();
    let mut doubled = Vec::new();
    for column in &table.columns {
        let mut found = header
            .iter()
            .enumerate()
            .filter(|(_, h)| h.eq_ignore_ascii_case(&column.name))
            .map(|(i, _)| i);
        let first = found.next();
        if first.is_some() && found.next().is_some() {
            doubled.push(column.name.as_str());
        }
        if first.is_none() && !column.optional {
            missing.push(column.name.as_str());
        }
        positions.push(first);
    }
    let mut reasons = Vec::new();
    if !missing.is_empty() {
        reasons.push(format!(
            "the header lacks {} {}, which table {} reads (column names are matched without regard to case)",
            if missing.len() == 1 { "column" } else { "columns" },
            missing.join(", "),
            table.name
        ));
    }
    if !doubled.is_empty() {
        reasons.push(format!(
            "{} {} more than once in the header, so the mapping cannot tell which to read",
            doubled.join(", "),
            if doubled.len() == 1 {
                "appears"
            } else {
                "appear"
            }
        ));
    }
    if reasons.is_empty() {
        Ok(Binding {
            positions,
            header_len: header.len(),
        })
    } else {
        Err(CsvError {
            position: format!("row {header_line}"),
            reason: reasons.join("; "),
        })
    }
}

/// Per-file state reused from row to row.
struct RowState {
    templates: plan::Templates,
    /// Per field: the last reference key and the reference it gave (rows of one patient or
    /// encounter come together, and deriving an id is a SHA-1).
    cache: Vec<Option<RefCache>>,
}

/// The last reference a field made, and the key it was made of.
#[derive(Clone)]
struct RefCache {
    /// Where the current row's key is rendered (no allocation per row).
    scratch: String,
    key: String,
    value: Value,
}

/// A row error with its column named.
struct NamedError {
    column: Option<String>,
    reason: String,
}

fn map_row(
    table: &Table,
    binding: &Binding,
    records: &Records<'_>,
    state: &mut RowState,
    limits: &CsvLimits,
) -> Result<Value, NamedError> {
    let n = records.fields();
    if n != binding.header_len {
        return Err(NamedError {
            column: None,
            reason: format!(
                "the row has {n} {}, the header {}: a row must have one field per column (a comma or quote may be missing or extra)",
                if n == 1 { "field" } else { "fields" },
                binding.header_len
            ),
        });
    }
    // Decode the cells the table reads; the rest are never looked at.
    let mut cells: Vec<&str> = Vec::with_capacity(binding.positions.len());
    for (c, position) in binding.positions.iter().enumerate() {
        let Some(i) = *position else {
            cells.push("");
            continue;
        };
        let bytes = records.field(i);
        if bytes.len() > limits.max_field_bytes {
            return Err(NamedError {
                column: Some(table.columns[c].name.clone()),
                reason: format!(
                    "column {}: the field is larger than {} bytes (max_field_bytes)",
                    table.columns[c].name, limits.max_field_bytes
                ),
            });
        }
        match std::str::from_utf8(bytes) {
            Ok(s) => cells.push(s.trim()),
            Err(e) => {
                return Err(NamedError {
                    column: Some(table.columns[c].name.clone()),
                    reason: format!(
                        "column {}: not UTF-8 (byte {} of the field): the file may be Latin-1 or Windows-1252; convert it to UTF-8",
                        table.columns[c].name,
                        e.valid_up_to() + 1
                    ),
                })
            }
        }
    }
    build_resource(table, &cells, &mut state.cache, &mut state.templates).map_err(|e| NamedError {
        column: e.column.map(|c| table.columns[c].name.clone()),
        reason: e.reason,
    })
}

/// Build one resource from the cells of a row (indexed by the table's columns).
fn build_resource(
    table: &Table,
    cells: &[&str],
    cache: &mut [Option<RefCache>],
    templates: &mut plan::Templates,
) -> Result<Value, RowError> {
    let mut key = String::with_capacity(64);
    key.push_str(&table.id_prefix);
    render(&table.id, cells, &mut key).map_err(|col| RowError {
        column: Some(col),
        reason: format!(
            "column {}: empty, and the resource id is made from it: every row needs it",
            table.columns[col].name
        ),
    })?;
    let id = salus_fhir::ids::derive_id(&key);
    let resource = plan::build_resource(
        &table.tree,
        [
            ("resourceType", Value::String(table.resource_type.clone())),
            ("id", Value::String(id)),
            ("meta", table.meta.clone()),
        ],
        &mut |f| eval(table, f, cells, &mut cache[f]),
        templates,
    )?;
    Ok(Value::Object(resource))
}

/// Render a template after `out`'s prefix; `Err` is the (required) column that was empty.
fn render(template: &Template, cells: &[&str], out: &mut String) -> Result<(), usize> {
    for part in &template.parts {
        match part {
            Part::Text(t) => out.push_str(t),
            Part::Column { col, optional } => {
                let v = cells[*col];
                if v.is_empty() && !optional {
                    return Err(*col);
                }
                plan::push_key_part(out, v);
            }
        }
    }
    Ok(())
}

fn eval(
    table: &Table,
    f: usize,
    cells: &[&str],
    cache: &mut Option<RefCache>,
) -> Result<Yield, RowError> {
    let field = &table.fields[f];
    let column_error = |col: usize, reason: &str| RowError {
        column: Some(col),
        reason: format!("column {}: {reason}", table.columns[col].name),
    };
    if let Some(cond) = &field.when {
        let v = cells[cond.col];
        let pass = match &cond.test {
            Test::Equals(s) => v == s,
            Test::OneOf(list) => list.iter().any(|s| s == v),
            Test::Present(p) => v.is_empty() != *p,
        };
        if !pass {
            return Ok(None);
        }
    }
    match &field.source {
        Source::Constant(v) => Ok(Some((v.clone(), false))),
        Source::Column(col) => {
            let text = cells[*col];
            if text.is_empty() {
                if let Some(d) = &field.default {
                    return Ok(Some((d.clone(), false)));
                }
                if field.required {
                    return Err(column_error(
                        *col,
                        "empty, but the mapping requires a value",
                    ));
                }
                return Ok(None);
            }
            let text = match &field.map {
                None => text,
                Some(map) => match map.get(text) {
                    Some(to) => to.trim(),
                    None => match field.unmapped {
                        Unmapped::Reject => {
                            return Err(column_error(*col, &format!("a value the map of {} does not list (add it to the map, or set unmapped = \"keep\" or \"omit\")", field.label)))
                        }
                        Unmapped::Omit => return Ok(None),
                        Unmapped::Keep => text,
                    },
                },
            };
            field
                .kind
                .convert(text)
                .map(|v| Some((v, true)))
                .map_err(|reason| column_error(*col, &reason))
        }
        Source::Reference {
            key,
            type_prefix,
            key_prefix,
        } => {
            let cache = cache.get_or_insert_with(|| RefCache {
                scratch: String::with_capacity(key_prefix.len() + 40),
                key: String::new(),
                value: Value::Null,
            });
            let k = &mut cache.scratch;
            k.clear();
            k.push_str(key_prefix);
            if let Err(col) = render(key, cells, k) {
                if field.required {
                    return Err(column_error(
                        col,
                        &format!("empty, but every {} row must name its patient", table.name),
                    ));
                }
                return Ok(None);
            }
            if cache.key != cache.scratch || cache.value.is_null() {
                let mut reference = String::with_capacity(type_prefix.len() + 36);
                reference.push_str(type_prefix);
                reference.push_str(&salus_fhir::ids::derive_id(&cache.scratch));
                cache.value = Value::String(reference);
                std::mem::swap(&mut cache.key, &mut cache.scratch);
            }
            Ok(Some((cache.value.clone(), true)))
        }
    }
}

/// Why a record was skipped.
#[derive(Debug, Clone, Copy)]
enum Overflow {
    /// The field at this position outgrew `max_field_bytes`.
    Field(usize),
    /// The record outgrew `max_record_bytes` while this field was being read.
    Record(usize),
    /// More fields than allowed.
    Fields,
}

enum Next {
    Record { line: u64 },
    TooLarge { line: u64, what: Overflow },
    Unterminated { line: u64 },
    End,
}

/// Quote state alongside csv-core (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Quote {
    StartRecord,
    StartField,
    InField,
    InQuoted,
    AfterQuoted,
}

impl Quote {
    fn feed(self, bytes: &[u8]) -> Quote {
        if bytes.is_empty() {
            return self;
        }
        if !bytes.contains(&b'"') {
            // Without quotes, only the last byte decides (unless inside quotes).
            return match (self, bytes[bytes.len() - 1]) {
                (Quote::InQuoted, _) => Quote::InQuoted,
                (_, b',') => Quote::StartField,
                (_, b'\r' | b'\n') => Quote::StartRecord,
                _ => Quote::InField,
            };
        }
        let mut s = self;
        for &b in bytes {
            s = match (s, b) {
                (Quote::InQuoted, b'"') => Quote::AfterQuoted,
                (Quote::InQuoted, _) => Quote::InQuoted,
                (Quote::AfterQuoted, b'"') => Quote::InQuoted,
                (Quote::StartRecord | Quote::StartField, b'"') => Quote::InQuoted,
                (_, b',') => Quote::StartField,
                (_, b'\r' | b'\n') => Quote::StartRecord,
                _ => Quote::InField,
            };
        }
        s
    }
}

/// Line numbers as people count them: LF, CRLF and a lone CR each end a line (csv-core
/// counts LF only, so a file with CR line ends would be all "line 1").
#[derive(Debug, Clone, Copy)]
struct Lines {
    /// The line the next byte is on.
    line: u64,
    /// The last byte seen was a CR (an LF right after it ends no further line).
    after_cr: bool,
}

impl Lines {
    fn feed(&mut self, bytes: &[u8]) {
        let Some(&last) = bytes.last() else {
            return;
        };
        if !bytes.contains(&b'\r') {
            let lf = bytes.iter().filter(|&&b| b == b'\n').count() as u64;
            self.line += lf - u64::from(self.after_cr && bytes[0] == b'\n');
        } else {
            let mut after_cr = self.after_cr;
            for &b in bytes {
                if b == b'\r' || (b == b'\n' && !after_cr) {
                    self.line += 1;
                }
                after_cr = b == b'\r';
            }
        }
        self.after_cr = last == b'\r';
    }
}

/// Records from a byte stream, into bounded buffers.
struct Records<'a> {
    reader: &'a mut dyn Read,
    parser: csv_core::Reader,
    input: Vec<u8>,
    start: usize,
    end: usize,
    eof: bool,
    out: Vec<u8>,
    out_len: usize,
    ends: Vec<usize>,
    ends_len: usize,
    scratch: Vec<u8>,
    scratch_ends: Vec<usize>,
    quote: Quote,
    lines: Lines,
    max_record: usize,
    max_field: usize,
}

impl<'a> Records<'a> {
    fn new(reader: &'a mut dyn Read, limits: &CsvLimits) -> Self {
        let max_record = limits.max_record_bytes.max(1);
        Records {
            reader,
            parser: csv_core::ReaderBuilder::new().build(),
            input: vec![0; INPUT_BUFFER],
            start: 0,
            end: 0,
            eof: false,
            out: vec![0; max_record.min(16 * 1024)],
            out_len: 0,
            ends: vec![0; 64],
            ends_len: 0,
            scratch: Vec::new(),
            scratch_ends: Vec::new(),
            quote: Quote::StartRecord,
            lines: Lines {
                line: 1,
                after_cr: false,
            },
            max_record,
            max_field: limits.max_field_bytes.max(1),
        }
    }

    fn line(&self) -> u64 {
        self.lines.line
    }

    /// Read the first bytes (at least 3, so that csv-core sees a whole byte order mark) and
    /// refuse UTF-16, which would otherwise read as one column of noise.
    fn sniff(&mut self) -> Result<(), CsvError> {
        while self.end < 3 && !self.eof {
            self.fill().map_err(|e| io_error(&e, "file"))?;
        }
        let head = &self.input[..self.end];
        if head.starts_with(&[0xFF, 0xFE]) || head.starts_with(&[0xFE, 0xFF]) {
            return Err(CsvError {
                position: "file".into(),
                reason: "the file is UTF-16 (it starts with a UTF-16 byte order mark): convert it to UTF-8".into(),
            });
        }
        Ok(())
    }

    /// Read more input after what is buffered (moving the unread rest to the front).
    fn fill(&mut self) -> io::Result<()> {
        if self.start > 0 {
            self.input.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        loop {
            match self.reader.read(&mut self.input[self.end..]) {
                Ok(0) => {
                    self.eof = true;
                    return Ok(());
                }
                Ok(n) => {
                    self.end += n;
                    return Ok(());
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
    }

    fn fields(&self) -> usize {
        self.ends_len
    }

    fn field(&self, i: usize) -> &[u8] {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.out[start..self.ends[i]]
    }

    /// The next record, with at most `max_fields` fields.
    fn next(&mut self, max_fields: usize) -> io::Result<Next> {
        self.out_len = 0;
        self.ends_len = 0;
        let mut start_line: Option<u64> = None;
        let mut overflow: Option<Overflow> = None;
        loop {
            if self.start == self.end && !self.eof {
                self.fill()?;
            }
            let input = &self.input[self.start..self.end];
            let at_eof = input.is_empty();
            let line_before = self.lines.line;
            let (result, nin, nout, nend) = if overflow.is_none() {
                self.parser.read_record(
                    input,
                    &mut self.out[self.out_len..],
                    &mut self.ends[self.ends_len..],
                )
            } else {
                if self.scratch.is_empty() {
                    self.scratch = vec![0; SCRATCH];
                    self.scratch_ends = vec![0; 1024];
                }
                self.parser
                    .read_record(input, &mut self.scratch, &mut self.scratch_ends)
            };
            let consumed = &input[..nin];
            match consumed.iter().position(|&b| b != b'\n' && b != b'\r') {
                Some(p) if start_line.is_none() => {
                    self.lines.feed(&consumed[..p]);
                    start_line = Some(self.lines.line);
                    self.lines.feed(&consumed[p..]);
                }
                _ => self.lines.feed(consumed),
            }
            self.quote = self.quote.feed(consumed);
            self.start += nin;
            if overflow.is_none() {
                self.out_len += nout;
                self.ends_len += nend;
            }
            match result {
                ReadRecordResult::InputEmpty => {}
                ReadRecordResult::OutputFull => {
                    if overflow.is_none() {
                        let field_start = if self.ends_len == 0 {
                            0
                        } else {
                            self.ends[self.ends_len - 1]
                        };
                        if self.out_len - field_start >= self.max_field {
                            overflow = Some(Overflow::Field(self.ends_len));
                        } else if self.out.len() >= self.max_record {
                            overflow = Some(Overflow::Record(self.ends_len));
                        } else {
                            let grown = (self.out.len() * 2).min(self.max_record);
                            self.out.resize(grown, 0);
                        }
                    }
                }
                ReadRecordResult::OutputEndsFull => {
                    if overflow.is_none() {
                        if self.ends.len() > max_fields {
                            overflow = Some(Overflow::Fields);
                        } else {
                            let grown = (self.ends.len() * 2).min(max_fields + 1);
                            self.ends.resize(grown, 0);
                        }
                    }
                }
                ReadRecordResult::Record => {
                    let line = start_line.unwrap_or(line_before);
                    let quote = std::mem::replace(&mut self.quote, Quote::StartRecord);
                    if at_eof && quote == Quote::InQuoted {
                        return Ok(Next::Unterminated { line });
                    }
                    if let Some(what) = overflow {
                        return Ok(Next::TooLarge { line, what });
                    }
                    if self.ends_len > max_fields {
                        return Ok(Next::TooLarge {
                            line,
                            what: Overflow::Fields,
                        });
                    }
                    // A field may have outgrown max_field_bytes without filling the buffer.
                    return Ok(Next::Record { line });
                }
                ReadRecordResult::End => return Ok(Next::End),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_counting() {
        let count = |chunks: &[&[u8]]| {
            let mut l = Lines {
                line: 1,
                after_cr: false,
            };
            for c in chunks {
                l.feed(c);
            }
            l.line
        };
        assert_eq!(count(&[b"a\nb\nc"]), 3);
        assert_eq!(count(&[b"a\r\nb\r\nc"]), 3);
        assert_eq!(count(&[b"a\r", b"\nb"]), 2);
        assert_eq!(count(&[b"a\rb\rc"]), 3);
        assert_eq!(count(&[b"a\n\n\r\r\n"]), 5);
        assert_eq!(count(&[b"a\r", b"", b"\n"]), 2);
    }

    #[test]
    fn quote_tracking() {
        let q = Quote::StartRecord.feed(b"a,\"b");
        assert_eq!(q, Quote::InQuoted);
        assert_eq!(q.feed(b"c\nd"), Quote::InQuoted);
        assert_eq!(q.feed(b"\""), Quote::AfterQuoted);
        assert_eq!(q.feed(b"\"\""), Quote::InQuoted);
        assert_eq!(q.feed(b"\","), Quote::StartField);
        assert_eq!(Quote::StartRecord.feed(b"ab\"c"), Quote::InField);
        assert_eq!(Quote::StartRecord.feed(b"abc\n"), Quote::StartRecord);
    }
}
