//! FHIR `date` / `dateTime` / `instant` values and `Period`s as instant ranges.
//!
//! A FHIR time value denotes the whole span of its precision: `2016` is the year 2016,
//! `2016-05` the month, `2016-05-11` the day, and a full timestamp its second. Values without a
//! time zone (dates, and the non-conformant zone-less timestamps some systems send) are read as
//! UTC. Ranges are half-open, `[start, end)`, so a `Period.end` of `2016-10-10` covers that
//! whole day, as FHIR intends ("end inclusive" at the precision given).

use chrono::{DateTime, Utc};
use serde_json::Value;

/// A half-open range of instants, `[start, end)`; `None` is unbounded on that side.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimeRange {
    pub start: Option<DateTime<Utc>>,
    pub end: Option<DateTime<Utc>>,
}

impl TimeRange {
    /// Whether the instant lies inside the range.
    pub fn contains(&self, t: DateTime<Utc>) -> bool {
        self.start.is_none_or(|s| s <= t) && self.end.is_none_or(|e| t < e)
    }
}

/// A parsed time value: the span its precision covers, and whether it was date-precision
/// (no time of day), which matters when the exact moment inside the day is unknown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Instant {
    pub lo: DateTime<Utc>,
    pub hi: DateTime<Utc>,
    pub date_only: bool,
}

/// Parse a FHIR `date`, `dateTime` or `instant` (`salus_fhir::date`, the ranges search uses).
/// `None` when unreadable.
pub(crate) fn parse_time(s: &str) -> Option<Instant> {
    let range = salus_fhir::date::parse_range(s)?;
    Some(Instant {
        lo: DateTime::from_timestamp_micros(range.lo)?,
        hi: DateTime::from_timestamp_micros(range.hi)?,
        date_only: !s.contains('T'),
    })
}

/// Why a period could not be used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Unreadable;

/// Parse a FHIR `Period` object. A missing `start` / `end` is unbounded; a present but
/// unreadable one (wrong JSON type, bad format) makes the whole period unreadable.
pub(crate) fn parse_period(v: &Value) -> Result<TimeRange, Unreadable> {
    let obj = v.as_object().ok_or(Unreadable)?;
    let bound = |key: &str, pick: fn(Instant) -> DateTime<Utc>| match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => parse_time(s).map(|i| Some(pick(i))).ok_or(Unreadable),
        Some(_) => Err(Unreadable),
    };
    Ok(TimeRange {
        start: bound("start", |i| i.lo)?,
        end: bound("end", |i| i.hi)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn precisions_cover_their_span() {
        let y = parse_time("2016").unwrap();
        assert_eq!(
            (y.lo, y.hi),
            (utc("2016-01-01T00:00:00Z"), utc("2017-01-01T00:00:00Z"))
        );
        let m = parse_time("2016-12").unwrap();
        assert_eq!(
            (m.lo, m.hi),
            (utc("2016-12-01T00:00:00Z"), utc("2017-01-01T00:00:00Z"))
        );
        let d = parse_time("2016-02-29").unwrap();
        assert_eq!(
            (d.lo, d.hi),
            (utc("2016-02-29T00:00:00Z"), utc("2016-03-01T00:00:00Z"))
        );
        assert!(d.date_only);
        let t = parse_time("2016-05-26T00:41:10-04:00").unwrap();
        assert_eq!(t.lo, utc("2016-05-26T04:41:10Z"));
        assert!(!t.date_only);
        assert_eq!(
            parse_time("2016-05-26T00:41:10.123Z").unwrap().lo,
            utc("2016-05-26T00:41:10.123Z")
        );
        assert_eq!(
            parse_time("2016-05-26T00:41:10").unwrap().lo,
            utc("2016-05-26T00:41:10Z")
        );
    }

    #[test]
    fn garbage_is_unreadable() {
        for s in [
            "",
            "16",
            "2016-13",
            "2015-02-29",
            "2016-1-1",
            "yesterday",
            "2016-05-26T25:00:00Z",
            "２０１６",
            "2016-05-26T00:41Z",
        ] {
            assert_eq!(parse_time(s), None, "{s:?}");
        }
    }

    #[test]
    fn periods() {
        let p =
            parse_period(&serde_json::json!({"start": "2015-10-10", "end": "2016-10-10"})).unwrap();
        assert!(p.contains(utc("2015-10-10T00:00:00Z")));
        assert!(p.contains(utc("2016-10-10T23:59:59Z")));
        assert!(!p.contains(utc("2016-10-11T00:00:00Z")));
        assert!(!p.contains(utc("2015-10-09T23:59:59Z")));
        let open = parse_period(&serde_json::json!({"start": "2015"})).unwrap();
        assert!(open.contains(utc("2999-01-01T00:00:00Z")));
        assert_eq!(
            parse_period(&serde_json::json!({"start": 2015})),
            Err(Unreadable)
        );
        assert_eq!(
            parse_period(&serde_json::json!({"end": "soon"})),
            Err(Unreadable)
        );
        assert_eq!(parse_period(&serde_json::json!("2015")), Err(Unreadable));
    }
}
