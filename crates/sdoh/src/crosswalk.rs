//! The HUD-USPS ZIP → county crosswalk.
//!
//! HUD publishes, each quarter, every (ZIP, county) pair in which USPS delivers, with the
//! share of the ZIP's residential, business, other and total addresses that lie in that
//! county (`RES_RATIO`, `BUS_RATIO`, `OTH_RATIO`, `TOT_RATIO`). Columns read: `ZIP`, `COUNTY`,
//! `RES_RATIO`, `TOT_RATIO` (case-insensitive; the city and state columns are not needed).
//!
//! # The county of a ZIP
//!
//! A patient's address is a residence, so the county chosen for a ZIP is the one holding the
//! largest share of its **residential** addresses. Ties (ZIPs with no residential addresses
//! have every `RES_RATIO` 0) are broken by the largest **total** ratio, then by the **lowest
//! FIPS code**, so that the answer never depends on row order. The residential ratio of the
//! chosen county goes with the answer, so that a caller (and the Observation's `method`) can
//! tell a ZIP wholly inside one county (1.0) from one split between several.

use std::collections::HashMap;
use std::io::Read;

use crate::table::{self, TableError};

/// One (ZIP, county) pair of the crosswalk.
#[derive(Debug, Clone, PartialEq)]
pub struct ZipCountyEntry {
    /// 5-digit county FIPS code.
    pub county: String,
    /// Share of the ZIP's residential addresses in this county, 0..=1.
    pub res_ratio: f64,
    /// Share of all the ZIP's addresses in this county, 0..=1.
    pub tot_ratio: f64,
}

/// A loaded crosswalk: for each ZIP its counties, the chosen one first.
#[derive(Debug, Clone)]
pub struct ZipCounty {
    vintage: String,
    /// Per ZIP, its counties ordered by the choice rule (the chosen county first).
    by_zip: HashMap<String, Vec<ZipCountyEntry>>,
}

impl ZipCounty {
    /// Read a crosswalk. `vintage` is HUD's quarter, `2023Q1` (the file name has it as
    /// `ZIP_COUNTY_032023`; see [`vintage_from_file_name`]).
    pub fn read(reader: &mut dyn Read, vintage: String) -> Result<ZipCounty, TableError> {
        if !valid_vintage(&vintage) {
            return Err(TableError::BadVintage);
        }
        let mut csv = table::csv_reader(reader);
        let header = table::header(&mut csv)?;
        let [zip_at, county_at, res_at, tot_at] =
            table::columns(&header, ["ZIP", "COUNTY", "RES_RATIO", "TOT_RATIO"])?;
        let mut by_zip: HashMap<String, Vec<ZipCountyEntry>> = HashMap::new();
        let mut first_lines: HashMap<(String, String), u64> = HashMap::new();
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
            let zip = field(zip_at);
            if !table::digits(zip, 5) {
                return Err(TableError::BadZip {
                    line,
                    column: "ZIP",
                });
            }
            let county = field(county_at);
            if !table::digits(county, 5) {
                return Err(TableError::BadFips {
                    line,
                    column: "COUNTY",
                });
            }
            let res_ratio = table::ratio(field(res_at)).ok_or(TableError::BadRatio {
                line,
                column: "RES_RATIO",
            })?;
            let tot_ratio = table::ratio(field(tot_at)).ok_or(TableError::BadRatio {
                line,
                column: "TOT_RATIO",
            })?;
            let key = (zip.to_string(), county.to_string());
            if let Some(&first_line) = first_lines.get(&key) {
                return Err(TableError::DuplicatePair { line, first_line });
            }
            first_lines.insert(key, line);
            by_zip
                .entry(zip.to_string())
                .or_default()
                .push(ZipCountyEntry {
                    county: county.to_string(),
                    res_ratio,
                    tot_ratio,
                });
        }
        if by_zip.is_empty() {
            return Err(TableError::NoRows);
        }
        for entries in by_zip.values_mut() {
            entries.sort_by(|a, b| {
                b.res_ratio
                    .total_cmp(&a.res_ratio)
                    .then(b.tot_ratio.total_cmp(&a.tot_ratio))
                    .then_with(|| a.county.cmp(&b.county))
            });
        }
        Ok(ZipCounty { vintage, by_zip })
    }

    /// The county of a 5-digit ZIP and its residential ratio (see the module documentation for
    /// the choice); `None` when the crosswalk does not have the ZIP.
    pub fn county_for(&self, zip: &str) -> Option<(&str, f64)> {
        let first = self.by_zip.get(zip)?.first()?;
        Some((first.county.as_str(), first.res_ratio))
    }

    /// Every county of a ZIP, the chosen one first.
    pub fn counties(&self, zip: &str) -> &[ZipCountyEntry] {
        self.by_zip.get(zip).map_or(&[], Vec::as_slice)
    }

    /// HUD's quarter, `2023Q1`.
    pub fn vintage(&self) -> &str {
        &self.vintage
    }

    /// How many ZIP codes.
    pub fn len(&self) -> usize {
        self.by_zip.len()
    }

    /// No ZIP codes (never true of a crosswalk [`ZipCounty::read`] returned).
    pub fn is_empty(&self) -> bool {
        self.by_zip.is_empty()
    }
}

/// `YYYYQn`, n in 1..=4.
fn valid_vintage(vintage: &str) -> bool {
    let b = vintage.as_bytes();
    b.len() == 6
        && b[..4].iter().all(u8::is_ascii_digit)
        && b[4] == b'Q'
        && (b'1'..=b'4').contains(&b[5])
}

/// The vintage in a HUD file name: `ZIP_COUNTY_032023_MA_KS.csv` → `2023Q1` (HUD names a
/// quarter by its last month: 03, 06, 09, 12). `None` when the name does not have one.
pub fn vintage_from_file_name(name: &str) -> Option<String> {
    let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
    let upper = base.to_ascii_uppercase();
    let rest = upper.strip_prefix("ZIP_COUNTY_")?;
    let stamp = rest.get(..6).filter(|s| table::digits(s, 6))?;
    if rest.as_bytes().get(6).is_some_and(u8::is_ascii_digit) {
        return None;
    }
    let quarter = match stamp.get(..2)? {
        "03" => 1,
        "06" => 2,
        "09" => 3,
        "12" => 4,
        _ => return None,
    };
    Some(format!("{}Q{quarter}", stamp.get(2..)?))
}
