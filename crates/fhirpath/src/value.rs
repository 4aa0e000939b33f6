//! FHIRPath system values (what literals, operators and primitive elements evaluate to), with
//! the partial-precision date and time rules of the FHIRPath specification.

use std::cmp::Ordering;
use std::fmt;

/// A FHIRPath system value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `true` / `false`.
    Boolean(bool),
    /// A string.
    String(String),
    /// A 64-bit integer.
    Integer(i64),
    /// A decimal, held as a double: enough for comparison and simple arithmetic; the resource
    /// JSON keeps every digit, since results are written back by the caller.
    Decimal(f64),
    /// A date (year, year-month or full date).
    Date(PartialDateTime),
    /// A date-time of any precision, optionally with a time-zone offset.
    DateTime(PartialDateTime),
    /// A time of day (`@T12:30`).
    Time(PartialDateTime),
    /// A quantity (`5 'mg'`, `3 days`).
    Quantity {
        /// The numeric value.
        value: f64,
        /// The unit: a UCUM code or a calendar duration keyword.
        unit: String,
    },
}

impl Value {
    /// The FHIRPath system type name (`String`, `Integer`, `Date`, …).
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Boolean(_) => "Boolean",
            Value::String(_) => "String",
            Value::Integer(_) => "Integer",
            Value::Decimal(_) => "Decimal",
            Value::Date(_) => "Date",
            Value::DateTime(_) => "DateTime",
            Value::Time(_) => "Time",
            Value::Quantity { .. } => "Quantity",
        }
    }
}

impl fmt::Display for Value {
    /// The FHIRPath `toString()` form, which is also how results are written back to JSON
    /// strings.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Boolean(b) => write!(f, "{b}"),
            Value::String(s) => f.write_str(s),
            Value::Integer(i) => write!(f, "{i}"),
            Value::Decimal(d) => write!(f, "{d}"),
            Value::Date(d) | Value::DateTime(d) | Value::Time(d) => write!(f, "{d}"),
            Value::Quantity { value, unit } => write!(f, "{value} '{unit}'"),
        }
    }
}

/// A date, date-time or time with the precision it was written with.
///
/// Fields beyond `precision` are zero and meaningless. A time of day (`Value::Time`) uses the
/// time fields only and has precision `Hour` or finer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartialDateTime {
    /// Calendar year (dates and date-times).
    pub year: i32,
    /// Month 1–12.
    pub month: u8,
    /// Day of month 1–31.
    pub day: u8,
    /// Hour 0–23.
    pub hour: u8,
    /// Minute 0–59.
    pub minute: u8,
    /// Second 0–60.
    pub second: u8,
    /// Fraction of a second, in nanoseconds.
    pub nanos: u32,
    /// Number of fraction digits written (to print back what was read).
    pub fraction_digits: u8,
    /// Offset from UTC in minutes, if a zone was given.
    pub offset_minutes: Option<i16>,
    /// The finest component present.
    pub precision: Precision,
    /// Whether this is a time of day only.
    pub time_only: bool,
}

/// The finest component a date/time value has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Precision {
    /// `2020`.
    Year,
    /// `2020-01`.
    Month,
    /// `2020-01-31`.
    Day,
    /// `T10`.
    Hour,
    /// `T10:30`.
    Minute,
    /// `T10:30:00` (fractions are the same precision, as the specification says).
    Second,
}

impl PartialDateTime {
    fn empty(time_only: bool) -> Self {
        PartialDateTime {
            year: 0,
            month: 0,
            day: 0,
            hour: 0,
            minute: 0,
            second: 0,
            nanos: 0,
            fraction_digits: 0,
            offset_minutes: None,
            precision: Precision::Year,
            time_only,
        }
    }

    /// Parses FHIR/FHIRPath date-time text (`2020`, `2020-01-02`, `2020-01-02T10:30:00.5Z`,
    /// `2020-01-02T10:30+02:00`). With `allow_time` false, only a date is accepted.
    pub fn parse_date_time(s: &str, allow_time: bool) -> Option<PartialDateTime> {
        let mut v = PartialDateTime::empty(false);
        let b = s.as_bytes();
        let mut i = 0;
        v.year = i32::try_from(digits(b, &mut i, 4)?).ok()?;
        v.precision = Precision::Year;
        if b.get(i) == Some(&b'-') {
            i += 1;
            v.month = u8::try_from(digits(b, &mut i, 2)?).ok()?;
            if !(1..=12).contains(&v.month) {
                return None;
            }
            v.precision = Precision::Month;
            if b.get(i) == Some(&b'-') {
                i += 1;
                v.day = u8::try_from(digits(b, &mut i, 2)?).ok()?;
                if v.day < 1 || v.day > days_in_month(v.year, v.month) {
                    return None;
                }
                v.precision = Precision::Day;
            }
        }
        if b.get(i) == Some(&b'T') {
            if !allow_time {
                return None;
            }
            i += 1;
            if i == b.len() {
                // `@2020-01-01T` is a date-time at day precision.
                return Some(v);
            }
            if v.precision != Precision::Day {
                return None;
            }
            parse_time_into(b, &mut i, &mut v)?;
            if i < b.len() {
                v.offset_minutes = Some(parse_offset(b, &mut i)?);
            }
        }
        (i == b.len()).then_some(v)
    }

    /// Parses a time of day (`10`, `10:30`, `10:30:00.25`), without the leading `T`.
    pub fn parse_time(s: &str) -> Option<PartialDateTime> {
        let mut v = PartialDateTime::empty(true);
        let b = s.as_bytes();
        let mut i = 0;
        parse_time_into(b, &mut i, &mut v)?;
        (i == b.len()).then_some(v)
    }

    /// Compares two values of the same kind with FHIRPath's partial-precision rules: `None`
    /// when they are equal up to the coarser precision but have different precisions (the
    /// specification's "empty" result).
    pub fn compare(&self, other: &PartialDateTime) -> Option<Ordering> {
        let (a, b) = match (self.offset_minutes, other.offset_minutes) {
            (Some(_), Some(_)) if self.precision >= Precision::Hour => {
                (self.to_utc(), other.to_utc())
            }
            _ => (*self, *other),
        };
        let components = |v: &PartialDateTime| -> [i64; 6] {
            [
                i64::from(v.year),
                i64::from(v.month),
                i64::from(v.day),
                i64::from(v.hour),
                i64::from(v.minute),
                i64::from(v.second) * 1_000_000_000 + i64::from(v.nanos),
            ]
        };
        let (ca, cb) = (components(&a), components(&b));
        let start = if a.time_only { 3 } else { 0 };
        let common = a.precision.min(b.precision) as usize;
        for k in start..=common {
            match ca[k].cmp(&cb[k]) {
                Ordering::Equal => {}
                other => return Some(other),
            }
        }
        (a.precision == b.precision).then_some(Ordering::Equal)
    }

    /// The same instant at offset zero (only meaningful with a time and an offset).
    fn to_utc(self) -> PartialDateTime {
        let Some(offset) = self.offset_minutes else {
            return self;
        };
        if self.time_only {
            return self;
        }
        let days = days_from_civil(self.year, self.month, self.day);
        let minutes =
            days * 1440 + i64::from(self.hour) * 60 + i64::from(self.minute) - i64::from(offset);
        let (d, m) = (minutes.div_euclid(1440), minutes.rem_euclid(1440));
        let (year, month, day) = civil_from_days(d);
        PartialDateTime {
            year,
            month,
            day,
            hour: (m / 60) as u8,
            minute: (m % 60) as u8,
            offset_minutes: Some(0),
            ..self
        }
    }
}

impl fmt::Display for PartialDateTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.time_only {
            write!(f, "{:04}", self.year)?;
            if self.precision >= Precision::Month {
                write!(f, "-{:02}", self.month)?;
            }
            if self.precision >= Precision::Day {
                write!(f, "-{:02}", self.day)?;
            }
            if self.precision >= Precision::Hour {
                f.write_str("T")?;
            }
        }
        if self.precision >= Precision::Hour {
            write!(f, "{:02}", self.hour)?;
        }
        if self.precision >= Precision::Minute {
            write!(f, ":{:02}", self.minute)?;
        }
        if self.precision >= Precision::Second {
            write!(f, ":{:02}", self.second)?;
            if self.fraction_digits > 0 {
                let digits = usize::from(self.fraction_digits.min(9));
                let frac = format!("{:09}", self.nanos);
                write!(f, ".{}", &frac[..digits])?;
            }
        }
        if let Some(off) = self.offset_minutes {
            if !self.time_only && self.precision >= Precision::Hour {
                if off == 0 {
                    f.write_str("Z")?;
                } else {
                    let sign = if off < 0 { '-' } else { '+' };
                    let a = off.unsigned_abs();
                    write!(f, "{sign}{:02}:{:02}", a / 60, a % 60)?;
                }
            }
        }
        Ok(())
    }
}

fn digits(b: &[u8], i: &mut usize, n: usize) -> Option<u32> {
    let s = b.get(*i..*i + n)?;
    if !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    *i += n;
    Some(s.iter().fold(0u32, |acc, d| acc * 10 + u32::from(d - b'0')))
}

fn parse_time_into(b: &[u8], i: &mut usize, v: &mut PartialDateTime) -> Option<()> {
    v.hour = u8::try_from(digits(b, i, 2)?).ok()?;
    if v.hour > 23 {
        return None;
    }
    v.precision = Precision::Hour;
    if b.get(*i) == Some(&b':') {
        *i += 1;
        v.minute = u8::try_from(digits(b, i, 2)?).ok()?;
        if v.minute > 59 {
            return None;
        }
        v.precision = Precision::Minute;
        if b.get(*i) == Some(&b':') {
            *i += 1;
            v.second = u8::try_from(digits(b, i, 2)?).ok()?;
            if v.second > 60 {
                return None;
            }
            v.precision = Precision::Second;
            if b.get(*i) == Some(&b'.') {
                *i += 1;
                let start = *i;
                while b.get(*i).is_some_and(u8::is_ascii_digit) {
                    *i += 1;
                }
                let frac = &b[start..*i];
                if frac.is_empty() {
                    return None;
                }
                let mut nanos = 0u32;
                for k in 0..9 {
                    nanos = nanos * 10 + frac.get(k).map_or(0, |d| u32::from(d - b'0'));
                }
                v.nanos = nanos;
                v.fraction_digits = u8::try_from(frac.len().min(9)).unwrap_or(9);
            }
        }
    }
    Some(())
}

fn parse_offset(b: &[u8], i: &mut usize) -> Option<i16> {
    match b.get(*i)? {
        b'Z' => {
            *i += 1;
            Some(0)
        }
        sign @ (b'+' | b'-') => {
            let neg = *sign == b'-';
            *i += 1;
            let h = digits(b, i, 2)?;
            if b.get(*i) != Some(&b':') {
                return None;
            }
            *i += 1;
            let m = digits(b, i, 2)?;
            if h > 14 || m > 59 {
                return None;
            }
            let total = i16::try_from(h * 60 + m).ok()?;
            Some(if neg { -total } else { total })
        }
        _ => None,
    }
}

fn is_leap(y: i32) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i32, m: u8) -> u8 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a civil date (proleptic Gregorian), after H. Hinnant.
fn days_from_civil(y: i32, m: u8, d: u8) -> i64 {
    let y = i64::from(y) - i64::from(m <= 2);
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i32, u8, u8) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u8;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
    ((y + i64::from(m <= 2)) as i32, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dt(s: &str) -> PartialDateTime {
        PartialDateTime::parse_date_time(s, true).expect("valid")
    }

    #[test]
    fn parses_and_prints_back() {
        for s in [
            "2020",
            "2020-02",
            "2020-02-29",
            "2020-01-01T10:30:00.250Z",
            "2020-01-01T10:30+02:00",
        ] {
            assert_eq!(dt(s).to_string(), s);
        }
        assert!(PartialDateTime::parse_date_time("2021-02-29", true).is_none());
        assert!(PartialDateTime::parse_date_time("2020-01-01T10", false).is_none());
        assert!(PartialDateTime::parse_date_time("2020-13", true).is_none());
    }

    #[test]
    fn partial_precision_comparison() {
        assert_eq!(
            dt("2020-01-01").compare(&dt("2019-12-31")),
            Some(Ordering::Greater)
        );
        assert_eq!(dt("2020-01").compare(&dt("2020-01-15")), None);
        assert_eq!(
            dt("2020-01").compare(&dt("2020-02-15")),
            Some(Ordering::Less)
        );
        assert_eq!(
            dt("2020-01-01T10:00:00+02:00").compare(&dt("2020-01-01T08:00:00Z")),
            Some(Ordering::Equal)
        );
        assert_eq!(
            dt("2020-01-01T00:30:00+01:00").compare(&dt("2019-12-31T23:30:00Z")),
            Some(Ordering::Equal)
        );
        assert_eq!(
            dt("2020-01-01T10:00:00.5Z").compare(&dt("2020-01-01T10:00:00Z")),
            Some(Ordering::Greater)
        );
    }
}
