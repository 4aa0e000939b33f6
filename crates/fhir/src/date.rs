//! FHIR `date`, `dateTime` and `instant` values as half-open UTC ranges.
//!
//! A FHIR date has a precision: `2020` means the whole year. Search compares ranges, so every
//! value becomes `[lo, hi)` in microseconds since the Unix epoch. A value without a time zone
//! (a date, or a dateTime without offset) is read as UTC: FHIR leaves it to the server, and UTC
//! keeps the index independent of where the server runs.

use chrono::{DateTime, Days, Months, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};

/// A half-open range `[lo, hi)` of microseconds since the Unix epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DateRange {
    pub lo: i64,
    pub hi: i64,
}

fn micros(dt: NaiveDateTime) -> i64 {
    Utc.from_utc_datetime(&dt).timestamp_micros()
}

fn day_start(date: NaiveDate) -> NaiveDateTime {
    date.and_time(NaiveTime::MIN)
}

/// Parse a FHIR date, dateTime or instant. `None` when the text is not one.
pub fn parse_range(text: &str) -> Option<DateRange> {
    let text = text.trim();
    let bytes = text.as_bytes();
    if bytes.len() < 4 || !bytes[..4].iter().all(u8::is_ascii_digit) {
        return None;
    }
    match bytes.len() {
        4 => {
            let year: i32 = text.parse().ok()?;
            let start = NaiveDate::from_ymd_opt(year, 1, 1)?;
            let end = NaiveDate::from_ymd_opt(year + 1, 1, 1)?;
            Some(DateRange {
                lo: micros(day_start(start)),
                hi: micros(day_start(end)),
            })
        }
        7 => {
            let start = NaiveDate::parse_from_str(&format!("{text}-01"), "%Y-%m-%d").ok()?;
            let end = start.checked_add_months(Months::new(1))?;
            Some(DateRange {
                lo: micros(day_start(start)),
                hi: micros(day_start(end)),
            })
        }
        10 => {
            let start = NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()?;
            let end = start.checked_add_days(Days::new(1))?;
            Some(DateRange {
                lo: micros(day_start(start)),
                hi: micros(day_start(end)),
            })
        }
        _ => parse_date_time(text),
    }
}

/// A dateTime with a time part. Precision is to the second or to the given fraction.
fn parse_date_time(text: &str) -> Option<DateRange> {
    let (instant, precision_micros) = if let Ok(dt) = DateTime::parse_from_rfc3339(text) {
        (
            dt.with_timezone(&Utc).timestamp_micros(),
            fraction_step(text),
        )
    } else {
        // FHIR requires a zone when a time is given, but real exports omit it: read as UTC.
        let naive = NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f")
            .or_else(|_| NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M"))
            .ok()?;
        (micros(naive), fraction_step(text))
    };
    Some(DateRange {
        lo: instant,
        hi: instant.checked_add(precision_micros)?,
    })
}

/// The width of the last given digit of a time: 1 s without a fraction, 100 ms for `.5`, …
fn fraction_step(text: &str) -> i64 {
    let Some(dot) = text.find('.') else {
        return 1_000_000;
    };
    let digits = text[dot + 1..]
        .bytes()
        .take_while(u8::is_ascii_digit)
        .count()
        .min(6);
    10_i64.pow(6 - digits as u32)
}

/// Format microseconds since the epoch as a FHIR `instant` (UTC, millisecond precision).
pub fn format_instant(micros: i64) -> String {
    let dt = Utc
        .timestamp_micros(micros)
        .single()
        .unwrap_or_else(|| Utc.timestamp_micros(0).single().expect("epoch is valid"));
    dt.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn at(text: &str) -> i64 {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .timestamp_micros()
    }

    #[test]
    fn year_month_day_ranges() {
        let y = parse_range("2020").unwrap();
        assert_eq!(y.lo, at("2020-01-01T00:00:00Z"));
        assert_eq!(y.hi, at("2021-01-01T00:00:00Z"));
        let m = parse_range("2020-02").unwrap();
        assert_eq!(m.hi, at("2020-03-01T00:00:00Z"));
        let d = parse_range("2020-12-31").unwrap();
        assert_eq!(d.hi, at("2021-01-01T00:00:00Z"));
    }

    #[test]
    fn date_times_with_zones_and_fractions() {
        let r = parse_range("2020-05-01T10:00:00+02:00").unwrap();
        assert_eq!(r.lo, at("2020-05-01T08:00:00Z"));
        assert_eq!(r.hi - r.lo, 1_000_000);
        let f = parse_range("2020-05-01T10:00:00.25Z").unwrap();
        assert_eq!(f.hi - f.lo, 10_000);
        let naive = parse_range("2020-05-01T10:00:00").unwrap();
        assert_eq!(naive.lo, at("2020-05-01T10:00:00Z"));
    }

    #[test]
    fn rejects_non_dates() {
        for bad in [
            "",
            "20",
            "abcd",
            "2020-13",
            "2020-02-30",
            "2020-05-01T25:00:00Z",
            "May 2020",
        ] {
            assert_eq!(parse_range(bad), None, "{bad}");
        }
    }

    #[test]
    fn instant_format_round_trips() {
        let t = at("2024-08-06T18:12:57.123456Z");
        assert_eq!(format_instant(t), "2024-08-06T18:12:57.123456Z");
        assert_eq!(parse_range(&format_instant(t)).unwrap().lo, t);
    }

    proptest! {
        #[test]
        fn never_panics(s in ".{0,40}") {
            let _ = parse_range(&s);
        }

        #[test]
        fn ranges_are_non_empty(y in 1i32..9999, m in 1u32..=12, d in 1u32..=28) {
            let text = format!("{y:04}-{m:02}-{d:02}");
            let r = parse_range(&text).unwrap();
            prop_assert!(r.lo < r.hi);
            prop_assert_eq!(r.hi - r.lo, 86_400_000_000);
        }
    }
}
