//! What the CSV readers share: the error type, header look-up, and field checks.
//!
//! Every error names a line and a column, never the field's text: a table is public data, but
//! a file handed to `salus ingest` by mistake may be anything (a patient list), and errors end
//! up in logs.

use std::io::Read;

/// A table that cannot be loaded. Loading is all or nothing: on any error no table exists.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TableError {
    /// The input has no header line at all.
    #[error("the table is empty: it has no header line")]
    Empty,
    /// The header lacks columns the reader needs (all of them are named).
    #[error("missing required column(s): {}", .0.join(", "))]
    MissingColumns(Vec<String>),
    /// A required column appears twice in the header: which one holds the data is unknown.
    #[error("column {0} appears more than once in the header")]
    DuplicateColumn(String),
    /// The header is there, the rows are not.
    #[error("the table has a header but no rows")]
    NoRows,
    /// A row with a different number of fields than the header.
    #[error("line {line}: {found} fields where the header has {expected}")]
    Ragged {
        line: u64,
        expected: u64,
        found: u64,
    },
    /// Bytes that are not UTF-8.
    #[error("line {line}: the text is not UTF-8")]
    NotUtf8 { line: u64 },
    /// A FIPS code that is neither 5 (county) nor 11 (census tract) digits.
    #[error("line {line}: {column} must be a 5-digit county or 11-digit census tract FIPS code, leading zeros included")]
    BadFips { line: u64, column: &'static str },
    /// An SVI table holding both county and tract rows: they rank against different peers.
    #[error(
        "line {line}: the table mixes county (5-digit) and census tract (11-digit) FIPS codes"
    )]
    MixedGeography { line: u64 },
    /// A percentile rank that is not a decimal between 0 and 1, nor the -999 that marks it
    /// missing.
    #[error(
        "line {line}: {column} must be a percentile rank between 0 and 1, or -999 for missing"
    )]
    BadPercentile { line: u64, column: &'static str },
    /// A FIPS code given twice.
    #[error("line {line}: the FIPS code was already given on line {first_line}")]
    DuplicateFips { line: u64, first_line: u64 },
    /// A ZIP code that is not 5 digits.
    #[error("line {line}: {column} must be a 5-digit ZIP code, leading zeros included")]
    BadZip { line: u64, column: &'static str },
    /// A crosswalk ratio that is not a number between 0 and 1.
    #[error("line {line}: {column} must be a ratio between 0 and 1")]
    BadRatio { line: u64, column: &'static str },
    /// The same ZIP and county twice in a crosswalk.
    #[error("line {line}: this ZIP and county pair was already given on line {first_line}")]
    DuplicatePair { line: u64, first_line: u64 },
    /// An SVI vintage that is no plausible release year.
    #[error("the SVI vintage must be a release year between 2000 and 2100")]
    BadYear,
    /// A crosswalk vintage that is not `YYYYQn`.
    #[error("the crosswalk vintage must be a year and quarter such as 2023Q1")]
    BadVintage,
    /// The reader failed (an I/O error; only its kind is kept).
    #[error("reading the table failed: {0}")]
    Read(String),
}

/// A CSV reader over the input: headers required, rows as long as the header.
pub(crate) fn csv_reader(reader: &mut dyn Read) -> csv::Reader<&mut dyn Read> {
    csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(false)
        .from_reader(reader)
}

/// A `csv::Error` as a [`TableError`], by kind; `line` is where the reader was.
pub(crate) fn csv_error(error: &csv::Error, line: u64) -> TableError {
    match error.kind() {
        csv::ErrorKind::Utf8 { pos, .. } => TableError::NotUtf8 {
            line: pos.as_ref().map_or(line, csv::Position::line),
        },
        csv::ErrorKind::UnequalLengths {
            pos,
            expected_len,
            len,
        } => TableError::Ragged {
            line: pos.as_ref().map_or(line, csv::Position::line),
            expected: *expected_len,
            found: *len,
        },
        // The I/O error's own message may quote a path; its kind says enough.
        csv::ErrorKind::Io(e) => TableError::Read(e.kind().to_string()),
        _ => TableError::Read(format!("malformed CSV near line {line}")),
    }
}

/// The header's column positions for `wanted`, matched case-insensitively after trimming
/// spaces and a byte-order mark (CDC's files start with one; some HUD vintages are lower case).
pub(crate) fn columns<const N: usize>(
    header: &csv::StringRecord,
    wanted: [&'static str; N],
) -> Result<[usize; N], TableError> {
    let mut found = [None; N];
    for (position, name) in header.iter().enumerate() {
        let name = name.trim_start_matches('\u{feff}').trim();
        for (slot, want) in found.iter_mut().zip(wanted) {
            if name.eq_ignore_ascii_case(want) {
                if slot.is_some() {
                    return Err(TableError::DuplicateColumn(want.to_string()));
                }
                *slot = Some(position);
            }
        }
    }
    let missing: Vec<String> = wanted
        .iter()
        .zip(found)
        .filter(|(_, slot)| slot.is_none())
        .map(|(name, _)| (*name).to_string())
        .collect();
    if !missing.is_empty() {
        return Err(TableError::MissingColumns(missing));
    }
    Ok(found.map(|slot| slot.unwrap_or_default()))
}

/// The header, or the error that stops the table.
pub(crate) fn header(
    reader: &mut csv::Reader<&mut dyn Read>,
) -> Result<csv::StringRecord, TableError> {
    match reader.headers() {
        Ok(h)
            if h.is_empty()
                || (h.len() == 1
                    && h.get(0)
                        .is_some_and(|f| f.trim_start_matches('\u{feff}').trim().is_empty())) =>
        {
            Err(TableError::Empty)
        }
        Ok(h) => Ok(h.clone()),
        Err(e) => Err(csv_error(&e, 1)),
    }
}

/// `n` ASCII digits exactly.
pub(crate) fn digits(text: &str, n: usize) -> bool {
    text.len() == n && text.bytes().all(|b| b.is_ascii_digit())
}

/// A decimal number as JSON writes it (so that it can become a `serde_json::Number` digit for
/// digit) and its value; `None` when the text is no such number.
pub(crate) fn decimal(text: &str) -> Option<(serde_json::Number, f64)> {
    let number: serde_json::Number = text.parse().ok()?;
    let value: f64 = text.parse().ok()?;
    value.is_finite().then_some((number, value))
}

/// A ratio in 0..=1, E-notation allowed (HUD writes `2.7598355842630651E-2`).
pub(crate) fn ratio(text: &str) -> Option<f64> {
    let value: f64 = text.trim().parse().ok()?;
    (value.is_finite() && (0.0..=1.0).contains(&value)).then_some(value)
}
