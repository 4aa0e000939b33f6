//! The CDC/ATSDR Social Vulnerability Index table.
//!
//! One row per county (5-digit FIPS) or per census tract (11-digit FIPS); the columns read are
//! `FIPS`, `ST_ABBR`, `STATE`, `COUNTY`, `LOCATION` and the percentile ranks `RPL_THEMES`
//! (overall) and `RPL_THEME1` … `RPL_THEME4`. CDC's other columns (estimates, margins, flags)
//! are ignored. `-999` is CDC's mark for a missing value.
//!
//! The table is refused whole on the first bad row: a half-loaded index would link some
//! patients and silently miss others.

use std::collections::HashMap;
use std::io::Read;

use serde_json::Number;

use crate::table::{self, TableError};

/// The SVI columns read, in the order [`SviRow::percentile`] numbers them.
pub(crate) const PERCENTILE_COLUMNS: [&str; 5] = [
    "RPL_THEMES",
    "RPL_THEME1",
    "RPL_THEME2",
    "RPL_THEME3",
    "RPL_THEME4",
];

/// What a table's rows are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Geography {
    /// 5-digit county FIPS codes (state + county).
    County,
    /// 11-digit census tract FIPS codes (state + county + tract).
    Tract,
}

impl Geography {
    /// `county` or `tract`, as CDC names its files.
    pub fn as_str(self) -> &'static str {
        match self {
            Geography::County => "county",
            Geography::Tract => "tract",
        }
    }
}

/// One row of the SVI table.
#[derive(Debug, Clone, PartialEq)]
pub struct SviRow {
    /// 5-digit county or 11-digit tract FIPS code, leading zeros kept.
    pub fips: String,
    /// State abbreviation (`ST_ABBR`, e.g. `KS`).
    pub state: String,
    /// State name (`STATE`, e.g. `Kansas`).
    pub state_name: String,
    /// County name (`COUNTY`, e.g. `Shawnee`).
    pub county: String,
    /// CDC's description of the area (`LOCATION`, e.g. `Shawnee County, Kansas`).
    pub location: String,
    /// Overall percentile rank (`RPL_THEMES`), 0..=1; `None` when CDC wrote -999.
    pub overall: Option<f64>,
    /// Theme percentile ranks (`RPL_THEME1` … `RPL_THEME4`): socioeconomic status; household
    /// characteristics; racial & ethnic minority status; housing type & transportation.
    pub themes: [Option<f64>; 4],
    /// The five percentiles (overall, then themes 1-4) as written in the file, for FHIR
    /// decimals that keep every digit; `None` where the value is missing.
    pub texts: [Option<Number>; 5],
}

impl SviRow {
    /// Percentile `i`: 0 is the overall rank, 1..=4 the themes.
    pub fn percentile(&self, i: usize) -> Option<f64> {
        match i {
            0 => self.overall,
            1..=4 => self.themes[i - 1],
            _ => None,
        }
    }
}

/// A loaded SVI table with its index by FIPS code.
#[derive(Debug, Clone)]
pub struct SviTable {
    vintage: u16,
    geography: Geography,
    rows: Vec<SviRow>,
    by_fips: HashMap<String, usize>,
    /// Observation parts that depend only on the table, built once (see `link`).
    pub(crate) templates: crate::link::Templates,
}

impl SviTable {
    /// Read a table. `vintage` is the SVI release year (2020 for `SVI2020_US_COUNTY.csv`):
    /// the file does not say it, so the caller passes it, from [`vintage_from_file_name`] or
    /// from the user.
    pub fn read(reader: &mut dyn Read, vintage: u16) -> Result<SviTable, TableError> {
        // The vintage becomes the Observations' effective year: it must be one.
        if !(2000..=2100).contains(&vintage) {
            return Err(TableError::BadYear);
        }
        let mut csv = table::csv_reader(reader);
        let header = table::header(&mut csv)?;
        let [fips_at, abbr_at, state_at, county_at, location_at, p0, p1, p2, p3, p4] =
            table::columns(
                &header,
                [
                    "FIPS",
                    "ST_ABBR",
                    "STATE",
                    "COUNTY",
                    "LOCATION",
                    PERCENTILE_COLUMNS[0],
                    PERCENTILE_COLUMNS[1],
                    PERCENTILE_COLUMNS[2],
                    PERCENTILE_COLUMNS[3],
                    PERCENTILE_COLUMNS[4],
                ],
            )?;
        let percentile_at = [p0, p1, p2, p3, p4];
        let mut rows = Vec::new();
        let mut by_fips: HashMap<String, usize> = HashMap::new();
        let mut lines: Vec<u64> = Vec::new();
        let mut geography = None;
        let mut record = csv::StringRecord::new();
        loop {
            let line = csv.position().line();
            match csv.read_record(&mut record) {
                Ok(true) => {}
                Ok(false) => break,
                Err(e) => return Err(table::csv_error(&e, line)),
            }
            let line = record.position().map_or(line, csv::Position::line);
            let field = |at: usize| record.get(at).unwrap_or_default().trim();
            let fips = field(fips_at);
            let this = if table::digits(fips, 5) {
                Geography::County
            } else if table::digits(fips, 11) {
                Geography::Tract
            } else {
                return Err(TableError::BadFips {
                    line,
                    column: "FIPS",
                });
            };
            match geography {
                None => geography = Some(this),
                Some(g) if g != this => return Err(TableError::MixedGeography { line }),
                Some(_) => {}
            }
            let mut values = [None; 5];
            let mut texts: [Option<Number>; 5] = Default::default();
            for (i, at) in percentile_at.iter().enumerate() {
                let (number, value) = percentile(field(*at)).ok_or(TableError::BadPercentile {
                    line,
                    column: PERCENTILE_COLUMNS[i],
                })?;
                values[i] = value;
                texts[i] = number;
            }
            if let Some(&first) = by_fips.get(fips) {
                return Err(TableError::DuplicateFips {
                    line,
                    first_line: lines.get(first).copied().unwrap_or_default(),
                });
            }
            by_fips.insert(fips.to_string(), rows.len());
            lines.push(line);
            rows.push(SviRow {
                fips: fips.to_string(),
                state: field(abbr_at).to_string(),
                state_name: field(state_at).to_string(),
                county: field(county_at).to_string(),
                location: field(location_at).to_string(),
                overall: values[0],
                themes: [values[1], values[2], values[3], values[4]],
                texts,
            });
        }
        let Some(geography) = geography else {
            return Err(TableError::NoRows);
        };
        Ok(SviTable {
            vintage,
            geography,
            rows,
            by_fips,
            templates: crate::link::Templates::new(vintage, geography),
        })
    }

    /// The SVI release year.
    pub fn vintage(&self) -> u16 {
        self.vintage
    }

    /// County or tract rows.
    pub fn geography(&self) -> Geography {
        self.geography
    }

    /// The row for a FIPS code (5 digits for a county table, 11 for a tract table).
    pub fn row(&self, fips: &str) -> Option<&SviRow> {
        self.by_fips.get(fips).and_then(|&i| self.rows.get(i))
    }

    /// Every row, in file order.
    pub fn rows(&self) -> &[SviRow] {
        &self.rows
    }

    /// How many rows.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// No rows (never true of a table [`SviTable::read`] returned).
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The dataset as the Observations name it: `CDC/ATSDR SVI 2020 county`.
    pub fn dataset_name(&self) -> String {
        dataset_name(self.vintage, self.geography)
    }
}

pub(crate) fn dataset_name(vintage: u16, geography: Geography) -> String {
    format!("CDC/ATSDR SVI {vintage} {}", geography.as_str())
}

/// A percentile field: `Some((None, None))` for CDC's -999 (missing), `Some((Some(n), Some(v)))`
/// for a rank in 0..=1, `None` for anything else.
#[allow(clippy::type_complexity)]
fn percentile(text: &str) -> Option<(Option<Number>, Option<f64>)> {
    let (number, value) = table::decimal(text)?;
    if value == -999.0 {
        return Some((None, None));
    }
    (0.0..=1.0)
        .contains(&value)
        .then_some((Some(number), Some(value)))
}

/// The vintage in a CDC file name: `SVI2020_US_COUNTY.csv` → 2020 (any directory, any case).
/// `None` when the name does not start with `SVI` and four digits of a plausible year.
pub fn vintage_from_file_name(name: &str) -> Option<u16> {
    let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
    base.get(..3).filter(|p| p.eq_ignore_ascii_case("svi"))?;
    let year = base.get(3..7)?;
    if !table::digits(year, 4) {
        return None;
    }
    // A fifth digit would make it no year.
    if base.as_bytes().get(7).is_some_and(u8::is_ascii_digit) {
        return None;
    }
    let year: u16 = year.parse().ok()?;
    (2000..=2100).contains(&year).then_some(year)
}
