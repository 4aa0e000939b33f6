//! Cell text to FHIR JSON values, by the field's type.
//!
//! Every conversion is checked against the FHIR R4 rule for its type, so that a bad cell is a
//! row error naming its column rather than a schema error at write time. Reasons say what the
//! cell is not ("not a date in the format %Y-%m-%d"), never what it is.
//!
//! - `string`: the text. Whitespace FHIR strings do not allow (anything but space, tab, CR and
//!   LF, e.g. a no-break space) becomes a space: the schema would otherwise refuse the whole
//!   resource over a character that carries no meaning.
//! - `code`: no whitespace but single spaces between words (the FHIR `code` rule).
//! - `uri`: no whitespace at all.
//! - `decimal`: JSON number syntax (which is FHIR's decimal syntax), kept digit for digit:
//!   `14.0` stays `14.0` (serde_json's `arbitrary_precision`).
//! - `integer`: a 32-bit signed integer (FHIR `integer`).
//! - `boolean`: `true`/`false`, `1`/`0`, `yes`/`no`, `y`/`n`, `t`/`f`, in any case.
//! - `date`, `dateTime`, `instant`: see [`DateFormat`].

use std::fmt::Write as _;

use chrono::format::{self, Fixed, Item, Numeric, Parsed, StrftimeItems};
use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, SecondsFormat, TimeZone};
use serde_json::{Number, Value};

/// A field's type.
#[derive(Debug, Clone)]
pub enum Kind {
    String,
    Code,
    Uri,
    Decimal,
    Integer,
    Boolean,
    Date(DateFormat),
    DateTime(DateFormat),
    Instant(DateFormat),
}

/// The names accepted for `type`.
pub const KIND_NAMES: &[&str] = &[
    "string", "code", "uri", "decimal", "integer", "boolean", "date", "dateTime", "instant",
];

impl Kind {
    pub fn name(&self) -> &'static str {
        match self {
            Kind::String => "string",
            Kind::Code => "code",
            Kind::Uri => "uri",
            Kind::Decimal => "decimal",
            Kind::Integer => "integer",
            Kind::Boolean => "boolean",
            Kind::Date(_) => "date",
            Kind::DateTime(_) => "dateTime",
            Kind::Instant(_) => "instant",
        }
    }

    pub fn is_temporal(&self) -> bool {
        matches!(self, Kind::Date(_) | Kind::DateTime(_) | Kind::Instant(_))
    }

    /// Convert trimmed, non-empty cell text. `Err` is the reason, without the value.
    pub fn convert(&self, text: &str) -> Result<Value, String> {
        match self {
            Kind::String => Ok(Value::String(fhir_string(text))),
            Kind::Code => {
                if is_code(text) {
                    Ok(Value::String(text.to_owned()))
                } else {
                    Err(
                        "not a code (codes have no whitespace but single spaces between words)"
                            .into(),
                    )
                }
            }
            Kind::Uri => {
                if text.chars().any(char::is_whitespace) {
                    Err("not a URI (a URI has no whitespace)".into())
                } else {
                    Ok(Value::String(text.to_owned()))
                }
            }
            Kind::Decimal => decimal(text).map(Value::Number).ok_or_else(|| {
                "not a decimal (digits with an optional `-`, `.` and exponent, e.g. 12.50)".into()
            }),
            Kind::Integer => match text.parse::<i32>() {
                Ok(i) => Ok(Value::from(i)),
                Err(_) => {
                    Err("not an integer (whole number from -2147483648 to 2147483647)".into())
                }
            },
            Kind::Boolean => boolean(text)
                .map(Value::Bool)
                .ok_or_else(|| "not a boolean (true/false, yes/no, y/n, t/f, 1/0)".into()),
            Kind::Date(f) => f.date(text).map(Value::String),
            Kind::DateTime(f) => f.date_time(text, false).map(Value::String),
            Kind::Instant(f) => f.date_time(text, true).map(Value::String),
        }
    }
}

/// FHIR `string`: replace the whitespace characters the R4 string pattern refuses.
pub fn fhir_string(text: &str) -> String {
    // The common case: ASCII without vertical tab or form feed is allowed as it is.
    if text.bytes().all(|b| b < 0x80 && b != 0x0B && b != 0x0C) {
        return text.to_owned();
    }
    let allowed = |c: char| !c.is_whitespace() || matches!(c, ' ' | '\t' | '\r' | '\n');
    if text.chars().all(allowed) {
        text.to_owned()
    } else {
        text.chars()
            .map(|c| if allowed(c) { c } else { ' ' })
            .collect()
    }
}

/// FHIR `code`: `^[^\s]+(\s[^\s]+)*$`.
pub fn is_code(text: &str) -> bool {
    let mut previous_space = true;
    for c in text.chars() {
        if c.is_whitespace() {
            if previous_space || c != ' ' {
                return false;
            }
            previous_space = true;
        } else {
            previous_space = false;
        }
    }
    !previous_space
}

/// A JSON number that keeps its digits (FHIR decimal syntax is JSON number syntax).
pub fn decimal(text: &str) -> Option<Number> {
    // serde_json would accept its own extensions nowhere here, but check the syntax first so
    // that `1e99999` and friends (valid JSON) are the only odd inputs that pass.
    let b = text.as_bytes();
    let mut i = usize::from(b.first() == Some(&b'-'));
    let digits = |i: &mut usize| {
        let start = *i;
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
        *i - start
    };
    let int_start = i;
    let n = digits(&mut i);
    if n == 0 || (n > 1 && b[int_start] == b'0') {
        return None;
    }
    if i < b.len() && b[i] == b'.' {
        i += 1;
        if digits(&mut i) == 0 {
            return None;
        }
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return None;
        }
    }
    if i != b.len() {
        return None;
    }
    text.parse::<Number>().ok()
}

fn boolean(text: &str) -> Option<bool> {
    const TRUE: &[&str] = &["true", "t", "yes", "y", "1"];
    const FALSE: &[&str] = &["false", "f", "no", "n", "0"];
    if TRUE.iter().any(|t| t.eq_ignore_ascii_case(text)) {
        Some(true)
    } else if FALSE.iter().any(|f| f.eq_ignore_ascii_case(text)) {
        Some(false)
    } else {
        None
    }
}

/// How a date-like column is written.
///
/// - `fhir`: a FHIR `date`/`dateTime` literal already (any precision: `2019`, `2019-02`,
///   `2019-02-17T05:07:38+01:00`), checked and kept as written.
/// - `rfc3339` (also `iso8601`): `2019-02-17T05:07:38Z`, `…+01:00`, with optional fractions.
/// - a chrono `strftime` format (`%Y-%m-%d`, `%m/%d/%Y %H:%M`, `%Y%m%d%H%M%S%z`). The FHIR
///   value's precision is the format's: no `%H`, a date; `%H:%M` without `%S`, seconds are
///   written as `:00`. A format without a zone (`%z`, `%:z`, `%#z`, or a trailing literal `Z`
///   meaning UTC) needs the mapping to state the zone the times are in (`zone`), because FHIR
///   requires one with every time.
#[derive(Debug, Clone)]
pub struct DateFormat {
    /// The format as written in the mapping (quoted in row errors).
    pub text: String,
    style: Style,
}

#[derive(Debug, Clone)]
enum Style {
    Fhir,
    Rfc3339,
    /// `%Y-%m-%d`: parsed by hand (the common case, and the fast path).
    IsoDate,
    Strftime {
        items: Vec<Item<'static>>,
        has_time: bool,
        /// The format states the offset.
        has_zone: bool,
        /// The format ends in a literal `Z`: the times are UTC.
        literal_utc: bool,
        /// The zone the mapping states for times written without one.
        assumed: Option<FixedOffset>,
    },
}

impl DateFormat {
    /// Compile a format. `zone` is the stated zone for formats that carry none; `needs_zone`
    /// is false for `date` fields (a date has no zone).
    pub fn compile(
        text: &str,
        zone: Option<FixedOffset>,
        needs_zone: bool,
    ) -> Result<Self, String> {
        let style = match text {
            "fhir" => Style::Fhir,
            "rfc3339" | "iso8601" => Style::Rfc3339,
            "%Y-%m-%d" => Style::IsoDate,
            _ => {
                let items: Vec<Item<'static>> = StrftimeItems::new(text)
                    .parse_to_owned()
                    .map_err(|_| format!("`{text}` is not a valid chrono strftime format (see https://docs.rs/chrono/latest/chrono/format/strftime/); the keywords `fhir` and `rfc3339` are also accepted"))?;
                if items.iter().any(|i| matches!(i, Item::Error)) {
                    return Err(format!("`{text}` is not a valid chrono strftime format (see https://docs.rs/chrono/latest/chrono/format/strftime/); the keywords `fhir` and `rfc3339` are also accepted"));
                }
                let mut has_year = false;
                let mut has_month = false;
                let mut has_day = false;
                let mut has_time = false;
                let mut has_zone = false;
                for item in &items {
                    match item {
                        Item::Numeric(n, _) => match n {
                            Numeric::Year => has_year = true,
                            Numeric::Month => has_month = true,
                            Numeric::Day => has_day = true,
                            Numeric::Ordinal => {
                                has_month = true;
                                has_day = true
                            }
                            Numeric::Hour | Numeric::Hour12 => has_time = true,
                            Numeric::Timestamp => {
                                has_year = true;
                                has_month = true;
                                has_day = true;
                                has_time = true;
                                has_zone = true;
                            }
                            _ => {}
                        },
                        Item::Fixed(f) => match f {
                            Fixed::ShortMonthName | Fixed::LongMonthName => has_month = true,
                            Fixed::TimezoneOffset
                            | Fixed::TimezoneOffsetColon
                            | Fixed::TimezoneOffsetZ
                            | Fixed::TimezoneOffsetColonZ
                            | Fixed::TimezoneOffsetDoubleColon
                            | Fixed::TimezoneOffsetTripleColon => has_zone = true,
                            Fixed::RFC3339 | Fixed::RFC2822 => {
                                has_year = true;
                                has_month = true;
                                has_day = true;
                                has_time = true;
                                has_zone = true;
                            }
                            _ => {}
                        },
                        _ => {}
                    }
                }
                if !(has_year && has_month && has_day) {
                    return Err(format!(
                        "`{text}` does not give a whole date (year, month and day); for partial dates written as FHIR literals use format = \"fhir\""
                    ));
                }
                let literal_utc = !has_zone && text.ends_with('Z') && !text.ends_with("%Z");
                if has_time && needs_zone && !has_zone && !literal_utc && zone.is_none() {
                    return Err(format!(
                        "`{text}` has a time but no zone, and FHIR needs one with every time: state the zone the times are in with zone = \"+00:00\" (on the field, or in [defaults]), or add %z to the format"
                    ));
                }
                Style::Strftime {
                    items,
                    has_time,
                    has_zone,
                    literal_utc,
                    assumed: zone,
                }
            }
        };
        Ok(DateFormat {
            text: text.to_owned(),
            style,
        })
    }

    /// Does the format carry a time (so that an `instant` can be made of it)?
    pub fn has_time(&self) -> bool {
        match &self.style {
            Style::Fhir | Style::Rfc3339 => true,
            Style::IsoDate => false,
            Style::Strftime { has_time, .. } => *has_time,
        }
    }

    fn error(&self, what: &str) -> String {
        format!("not {what} in the format {}", self.text)
    }

    /// A FHIR `date`.
    pub fn date(&self, text: &str) -> Result<String, String> {
        match &self.style {
            Style::Fhir => {
                if is_fhir_date_time(text, false) {
                    Ok(text.to_owned())
                } else {
                    Err("not a FHIR date (YYYY, YYYY-MM or YYYY-MM-DD)".into())
                }
            }
            Style::IsoDate => iso_date(text)
                .map(|d| write_date(&d))
                .ok_or_else(|| self.error("a date")),
            Style::Rfc3339 => DateTime::parse_from_rfc3339(text)
                .ok()
                .filter(|d| in_fhir_years(&d.date_naive()))
                .map(|d| write_date(&d.date_naive()))
                .ok_or_else(|| self.error("a date")),
            Style::Strftime { items, .. } => {
                let mut parsed = Parsed::new();
                format::parse(&mut parsed, text, items.iter()).map_err(|_| self.error("a date"))?;
                parsed
                    .to_naive_date()
                    .ok()
                    .filter(in_fhir_years)
                    .map(|d| write_date(&d))
                    .ok_or_else(|| self.error("a date"))
            }
        }
    }

    /// A FHIR `dateTime` (precision as the format's), or an `instant` (seconds and a zone).
    pub fn date_time(&self, text: &str, instant: bool) -> Result<String, String> {
        let what = if instant {
            "an instant"
        } else {
            "a date and time"
        };
        match &self.style {
            Style::Fhir => {
                if is_fhir_date_time(text, true) && (!instant || is_instant(text)) {
                    Ok(text.to_owned())
                } else if instant {
                    Err("not a FHIR instant (YYYY-MM-DDThh:mm:ss with a zone)".into())
                } else {
                    Err("not a FHIR dateTime (YYYY-MM-DD, optionally Thh:mm:ss with a zone)".into())
                }
            }
            Style::IsoDate => iso_date(text)
                .map(|d| write_date(&d))
                .ok_or_else(|| self.error(what)),
            // Already a FHIR dateTime with a time (the usual case): kept as written.
            Style::Rfc3339 if text.len() > 10 && is_fhir_date_time(text, true) => {
                Ok(text.to_owned())
            }
            Style::Rfc3339 => DateTime::parse_from_rfc3339(text)
                .ok()
                .filter(|d| in_fhir_years(&d.date_naive()))
                .map(|d| d.to_rfc3339_opts(SecondsFormat::AutoSi, true))
                .ok_or_else(|| self.error(what)),
            Style::Strftime {
                items,
                has_time,
                has_zone,
                literal_utc,
                assumed,
            } => {
                let mut parsed = Parsed::new();
                format::parse(&mut parsed, text, items.iter()).map_err(|_| self.error(what))?;
                if !has_time {
                    return parsed
                        .to_naive_date()
                        .ok()
                        .filter(in_fhir_years)
                        .map(|d| write_date(&d))
                        .ok_or_else(|| self.error(what));
                }
                let stamp: Option<DateTime<FixedOffset>> = if *has_zone {
                    parsed.to_datetime().ok()
                } else {
                    let offset = if *literal_utc {
                        FixedOffset::east_opt(0)
                    } else {
                        *assumed
                    };
                    let local: Option<NaiveDateTime> = parsed.to_naive_datetime_with_offset(0).ok();
                    match (local, offset) {
                        (Some(local), Some(offset)) => offset.from_local_datetime(&local).single(),
                        _ => None,
                    }
                };
                stamp
                    .filter(|d| in_fhir_years(&d.date_naive()))
                    .map(|d| d.to_rfc3339_opts(SecondsFormat::AutoSi, true))
                    .ok_or_else(|| self.error(what))
            }
        }
    }
}

fn in_fhir_years(d: &NaiveDate) -> bool {
    use chrono::Datelike;
    (1..=9999).contains(&d.year())
}

/// `YYYY-MM-DD`, strictly (two-digit month and day), a real calendar day.
fn iso_date(text: &str) -> Option<NaiveDate> {
    let b = text.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        b[r].iter().try_fold(0u32, |acc, &c| {
            c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0'))
        })
    };
    let year = num(0..4)?;
    if year == 0 {
        return None;
    }
    NaiveDate::from_ymd_opt(year as i32, num(5..7)?, num(8..10)?)
}

fn write_date(d: &NaiveDate) -> String {
    use chrono::Datelike;
    let mut s = String::with_capacity(10);
    let _ = write!(s, "{:04}-{:02}-{:02}", d.year(), d.month(), d.day());
    s
}

/// A FHIR `date` (`time == false`) or `dateTime` literal: `YYYY(-MM(-DD(Thh:mm:ss(.f+)?(Z|±hh:mm))?)?)?`.
pub fn is_fhir_date_time(text: &str, time: bool) -> bool {
    let b = text.as_bytes();
    let digits = |r: std::ops::Range<usize>| {
        b.get(r.clone())
            .is_some_and(|s| s.iter().all(u8::is_ascii_digit))
    };
    let num = |r: std::ops::Range<usize>| {
        b[r].iter()
            .fold(0u32, |acc, &c| acc * 10 + u32::from(c - b'0'))
    };
    if !digits(0..4) || num(0..4) == 0 {
        return false;
    }
    if b.len() == 4 {
        return true;
    }
    if b.get(4) != Some(&b'-') || !digits(5..7) || !(1..=12).contains(&num(5..7)) {
        return false;
    }
    if b.len() == 7 {
        return true;
    }
    if b.get(7) != Some(&b'-') || !digits(8..10) {
        return false;
    }
    if NaiveDate::from_ymd_opt(num(0..4) as i32, num(5..7), num(8..10)).is_none() {
        return false;
    }
    if b.len() == 10 {
        return true;
    }
    if !time {
        return false;
    }
    // The time part: FHIR requires seconds and a zone when a time is given.
    let t = &text[10..];
    let Some(rest) = t.strip_prefix('T') else {
        return false;
    };
    let rb = rest.as_bytes();
    let two = |i: usize, max: u32| {
        rb.get(i..i + 2)
            .filter(|s| s.iter().all(u8::is_ascii_digit))
            .map(|s| u32::from(s[0] - b'0') * 10 + u32::from(s[1] - b'0'))
            .is_some_and(|v| v <= max)
    };
    if !(two(0, 23)
        && rb.get(2) == Some(&b':')
        && two(3, 59)
        && rb.get(5) == Some(&b':')
        && two(6, 60))
    {
        return false;
    }
    let mut i = 8;
    if rb.get(i) == Some(&b'.') {
        let start = i + 1;
        i = start;
        while i < rb.len() && rb[i].is_ascii_digit() {
            i += 1;
        }
        if i == start {
            return false;
        }
    }
    match &rest[i..] {
        "Z" => true,
        zone => {
            let z = zone.as_bytes();
            z.len() == 6
                && (z[0] == b'+' || z[0] == b'-')
                && z[3] == b':'
                && z[1..3].iter().all(u8::is_ascii_digit)
                && z[4..6].iter().all(u8::is_ascii_digit)
                && (u32::from(z[1] - b'0') * 10 + u32::from(z[2] - b'0')) <= 14
                && (u32::from(z[4] - b'0') * 10 + u32::from(z[5] - b'0')) <= 59
        }
    }
}

fn is_instant(text: &str) -> bool {
    text.len() > 10
}

/// A stated zone: `Z`, `UTC`, `+05:00`, `-0330`.
pub fn parse_zone(text: &str) -> Option<FixedOffset> {
    if text == "Z" || text.eq_ignore_ascii_case("UTC") {
        return FixedOffset::east_opt(0);
    }
    let b = text.as_bytes();
    let sign = match b.first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let rest: Vec<u8> = b[1..].iter().copied().filter(|&c| c != b':').collect();
    if rest.len() != 4 || !rest.iter().all(u8::is_ascii_digit) || (b.len() == 6 && b[3] != b':') {
        return None;
    }
    let hours = i32::from(rest[0] - b'0') * 10 + i32::from(rest[1] - b'0');
    let minutes = i32::from(rest[2] - b'0') * 10 + i32::from(rest[3] - b'0');
    if hours > 14 || minutes > 59 {
        return None;
    }
    FixedOffset::east_opt(sign * (hours * 3600 + minutes * 60))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fmt(text: &str, zone: Option<&str>) -> DateFormat {
        DateFormat::compile(text, zone.and_then(parse_zone), true).unwrap()
    }

    #[test]
    fn dates() {
        let f = fmt("%Y-%m-%d", None);
        assert_eq!(f.date("2019-02-17").unwrap(), "2019-02-17");
        assert!(f.date("2019-02-30").is_err());
        assert!(f.date("2019-2-17").is_err());
        assert!(f.date("0000-01-01").is_err());
        assert_eq!(
            f.date("17/02/2019").unwrap_err(),
            "not a date in the format %Y-%m-%d"
        );
        let f = fmt("%m/%d/%Y", None);
        assert_eq!(f.date("02/17/2019").unwrap(), "2019-02-17");
        let f = fmt("rfc3339", None);
        assert_eq!(f.date("2019-02-17T05:07:38Z").unwrap(), "2019-02-17");
        let f = fmt("fhir", None);
        assert_eq!(f.date("2019-02").unwrap(), "2019-02");
        assert!(f.date("2019-13").is_err());
        assert!(f.date("2019-02-17T05:07:38Z").is_err());
    }

    #[test]
    fn date_times() {
        let f = fmt("rfc3339", None);
        assert_eq!(
            f.date_time("2019-02-17T05:07:38Z", false).unwrap(),
            "2019-02-17T05:07:38Z"
        );
        assert_eq!(
            f.date_time("2019-02-17T05:07:38.250+01:00", false).unwrap(),
            "2019-02-17T05:07:38.250+01:00"
        );
        assert!(f.date_time("2019-02-17 05:07", false).is_err());
        let f = fmt("%Y-%m-%d %H:%M", Some("-05:00"));
        assert_eq!(
            f.date_time("2019-02-17 05:07", false).unwrap(),
            "2019-02-17T05:07:00-05:00"
        );
        let f = fmt("%Y-%m-%dT%H:%M:%SZ", None);
        assert_eq!(
            f.date_time("2019-02-17T05:07:38Z", true).unwrap(),
            "2019-02-17T05:07:38Z"
        );
        let f = fmt("%Y%m%d%H%M%S%z", None);
        assert_eq!(
            f.date_time("20190217050738+0200", false).unwrap(),
            "2019-02-17T05:07:38+02:00"
        );
        let f = fmt("%d.%m.%Y", None);
        assert_eq!(f.date_time("17.02.2019", false).unwrap(), "2019-02-17");
        let f = fmt("fhir", None);
        assert!(f.date_time("2019-02-17T05:07:38+01:00", false).is_ok());
        assert!(f.date_time("2019-02-17T05:07+01:00", false).is_err());
        assert!(f.date_time("2019-02-17T05:07:38", false).is_err());
        assert!(f.date_time("2019-02-17", true).is_err());
    }

    #[test]
    fn formats_needing_zones_or_days() {
        assert!(DateFormat::compile("%Y-%m-%d %H:%M", None, true).is_err());
        assert!(DateFormat::compile("%Y-%m-%d %H:%M", None, false).is_ok());
        assert!(DateFormat::compile("%Y-%m", None, true).is_err());
        assert!(DateFormat::compile("%Q", None, true).is_err());
        assert!(DateFormat::compile("%Y-%m-%d %H:%M %z", None, true).is_ok());
    }

    #[test]
    fn zones() {
        assert_eq!(parse_zone("Z").unwrap().local_minus_utc(), 0);
        assert_eq!(
            parse_zone("+05:30").unwrap().local_minus_utc(),
            5 * 3600 + 1800
        );
        assert_eq!(
            parse_zone("-0330").unwrap().local_minus_utc(),
            -(3 * 3600 + 1800)
        );
        for bad in ["", "+5", "America/New_York", "+15:00", "+05:60", "+0:530"] {
            assert!(parse_zone(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn scalars() {
        assert_eq!(Kind::Decimal.convert("14.0").unwrap().to_string(), "14.0");
        assert_eq!(
            Kind::Decimal.convert("-0.00120").unwrap().to_string(),
            "-0.00120"
        );
        for bad in ["+1", "01", ".5", "1.", "1e", "NaN", "1,5", "--1", "1 "] {
            assert!(Kind::Decimal.convert(bad).is_err(), "{bad}");
        }
        assert_eq!(Kind::Integer.convert("42").unwrap(), Value::from(42));
        assert!(Kind::Integer.convert("4.2").is_err());
        assert!(Kind::Integer.convert("99999999999").is_err());
        assert_eq!(Kind::Boolean.convert("Y").unwrap(), Value::Bool(true));
        assert_eq!(Kind::Boolean.convert("false").unwrap(), Value::Bool(false));
        assert!(Kind::Boolean.convert("maybe").is_err());
        assert!(Kind::Code.convert("a b").is_ok());
        assert!(Kind::Code.convert("a  b").is_err());
        assert!(Kind::Code.convert("a\tb").is_err());
        assert!(Kind::Uri.convert("http://x y").is_err());
        assert_eq!(
            Kind::String.convert("a\u{a0}b").unwrap(),
            Value::String("a b".into())
        );
    }
}
