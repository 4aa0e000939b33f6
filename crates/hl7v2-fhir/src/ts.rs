//! HL7 v2 TS/DTM/DT values → FHIR `date`, `dateTime` and `instant`.
//!
//! v2: `YYYY[MM[DD[HH[MM[SS[.S[S[S[S]]]]]]]]][+/-ZZZZ]`. FHIR keeps the precision of the
//! source with two exceptions FHIR itself imposes:
//!
//! - a FHIR time always has seconds, so `HH` and `HHMM` get `:00` seconds;
//! - a FHIR dateTime with a time **requires** a time zone. A v2 time without a zone is local
//!   time of the sender, which the message does not name. Inventing `+00:00` would move the
//!   instant by hours, and emitting no zone is invalid FHIR, so unless
//!   [`MapOptions::assume_offset_minutes`](crate::MapOptions::assume_offset_minutes) names the
//!   sender's offset the value is kept **to the day** (date precision), with a warning.
//!
//! A `date` element takes the date part only (a zone on a date is dropped: FHIR dates have none).

use std::fmt::Write as _;

/// A parsed v2 timestamp. Fields beyond the source precision are `None`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ts {
    pub year: u16,
    pub month: Option<u8>,
    pub day: Option<u8>,
    pub hour: Option<u8>,
    pub minute: Option<u8>,
    pub second: Option<u8>,
    /// Fraction-of-second digits, as written.
    pub fraction: Option<String>,
    /// Offset from UTC in minutes.
    pub offset: Option<i32>,
}

/// Why a timestamp could not be read (plain words: the value itself is never echoed).
pub type TsError = &'static str;

fn two(bytes: &[u8], at: usize) -> Option<u8> {
    let hi = bytes.get(at).filter(|b| b.is_ascii_digit())?;
    let lo = bytes.get(at + 1).filter(|b| b.is_ascii_digit())?;
    Some((hi - b'0') * 10 + (lo - b'0'))
}

fn days_in_month(year: u16, month: u8) -> u8 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ => {
            let leap =
                (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400);
            if leap {
                29
            } else {
                28
            }
        }
    }
}

/// Parse a v2 TS/DTM/DT (component 1 only; the deprecated degree-of-precision component is
/// ignored: the digits carry the precision).
pub fn parse(text: &str) -> Result<Ts, TsError> {
    let text = text.trim();
    let (body, zone) = match text.find(['+', '-']) {
        Some(at) => (&text[..at], Some(&text[at..])),
        None => (text, None),
    };
    let (digits, fraction) = match body.split_once('.') {
        Some((d, f)) => (d, Some(f)),
        None => (body, None),
    };
    let b = digits.as_bytes();
    if !b.iter().all(u8::is_ascii_digit) {
        return Err("a timestamp may contain only digits, one '.' and a +/-ZZZZ time zone");
    }
    if !matches!(b.len(), 4 | 6 | 8 | 10 | 12 | 14) {
        return Err("a timestamp needs 4, 6, 8, 10, 12 or 14 digits before any fraction or zone");
    }
    let year = u16::from(two(b, 0).unwrap_or(0)) * 100 + u16::from(two(b, 2).unwrap_or(0));
    if year == 0 {
        return Err("year 0000 is not a date");
    }
    let month = two(b, 4);
    if let Some(m) = month {
        if !(1..=12).contains(&m) {
            return Err("month out of range");
        }
    }
    let day = two(b, 6);
    if let (Some(d), Some(m)) = (day, month) {
        if d == 0 || d > days_in_month(year, m) {
            return Err("day out of range for its month");
        }
    }
    let hour = two(b, 8);
    if hour.is_some_and(|h| h > 23) {
        return Err("hour out of range");
    }
    let minute = two(b, 10);
    if minute.is_some_and(|m| m > 59) {
        return Err("minute out of range");
    }
    let second = two(b, 12);
    if second.is_some_and(|s| s > 59) {
        return Err("second out of range");
    }
    let fraction = match fraction {
        None => None,
        Some(f) => {
            if second.is_none() {
                return Err("a fraction of a second needs seconds");
            }
            if f.is_empty() || f.len() > 9 || !f.bytes().all(|b| b.is_ascii_digit()) {
                return Err("the fraction of a second must be 1 to 9 digits");
            }
            Some(f.to_string())
        }
    };
    let offset = match zone {
        None => None,
        Some(z) => {
            let zb = z.as_bytes();
            let (Some(hh), Some(mm)) = (two(zb, 1), two(zb, 3)) else {
                return Err("a time zone must be +ZZZZ or -ZZZZ");
            };
            if zb.len() != 5 || mm > 59 || hh > 14 || (hh == 14 && mm > 0) {
                return Err("a time zone must be +ZZZZ or -ZZZZ within ±14:00");
            }
            let minutes = i32::from(hh) * 60 + i32::from(mm);
            Some(if zb[0] == b'-' { -minutes } else { minutes })
        }
    };
    Ok(Ts {
        year,
        month,
        day,
        hour,
        minute,
        second,
        fraction,
        offset,
    })
}

impl Ts {
    /// The FHIR `date` (YYYY, YYYY-MM or YYYY-MM-DD).
    pub fn date(&self) -> String {
        let mut out = String::with_capacity(10);
        self.push_date(&mut out);
        out
    }

    /// [`Ts::date`] appended to `out` (digits pushed by hand: `format!` was a visible part of
    /// the mapping's run time, and every resource has a few dates).
    fn push_date(&self, out: &mut String) {
        push_padded(out, u32::from(self.year), 4);
        if let Some(m) = self.month {
            out.push('-');
            push_padded(out, u32::from(m), 2);
            if let Some(d) = self.day {
                out.push('-');
                push_padded(out, u32::from(d), 2);
            }
        }
    }

    /// Does the value carry a time of day?
    pub fn has_time(&self) -> bool {
        self.hour.is_some()
    }

    fn time_with_zone(&self, offset: i32) -> String {
        let mut out = String::with_capacity(26 + self.fraction.as_ref().map_or(0, |f| f.len() + 1));
        self.push_date(&mut out);
        out.push('T');
        push_padded(&mut out, u32::from(self.hour.unwrap_or(0)), 2);
        out.push(':');
        push_padded(&mut out, u32::from(self.minute.unwrap_or(0)), 2);
        out.push(':');
        push_padded(&mut out, u32::from(self.second.unwrap_or(0)), 2);
        if let Some(f) = &self.fraction {
            out.push('.');
            out.push_str(f);
        }
        out.push(if offset < 0 { '-' } else { '+' });
        let abs = offset.unsigned_abs();
        push_padded(&mut out, abs / 60, 2);
        out.push(':');
        push_padded(&mut out, abs % 60, 2);
        out
    }

    /// The FHIR `dateTime`. `Err` carries the value kept to the day when the time has no zone
    /// and none is assumed.
    pub fn date_time(&self, assume_offset: Option<i32>) -> Result<String, String> {
        if !self.has_time() {
            return Ok(self.date());
        }
        match self.offset.or(assume_offset) {
            Some(offset) => Ok(self.time_with_zone(offset)),
            None => Err(self.date()),
        }
    }

    /// The FHIR `instant`: needs at least minutes and a zone (seconds default to `:00`).
    pub fn instant(&self, assume_offset: Option<i32>) -> Option<String> {
        let offset = self.offset.or(assume_offset)?;
        self.minute?;
        Some(self.time_with_zone(offset))
    }
}

/// `n` zero-padded to `width` digits, as `format!("{n:0width$}")` writes it.
fn push_padded(out: &mut String, n: u32, width: u32) {
    if n >= 10u32.pow(width) {
        // Wider than the padding: written in full, as `format!` would.
        let _ = write!(out, "{n}");
        return;
    }
    let mut div = 10u32.pow(width - 1);
    while div > 0 {
        // A single decimal digit, so the cast cannot truncate.
        out.push(char::from(b'0' + (n / div % 10) as u8));
        div /= 10;
    }
}

impl Ts {
    /// This time plus a number of minutes (same zone; seconds and fraction kept). `None`
    /// without a day, or when the result leaves years 1-9999.
    pub fn plus_minutes(&self, minutes: i64) -> Option<Ts> {
        use chrono::{Datelike, NaiveDate, TimeDelta, Timelike};
        let start = NaiveDate::from_ymd_opt(
            i32::from(self.year),
            u32::from(self.month?),
            u32::from(self.day?),
        )?
        .and_hms_opt(
            u32::from(self.hour.unwrap_or(0)),
            u32::from(self.minute.unwrap_or(0)),
            0,
        )?;
        let end = start.checked_add_signed(TimeDelta::try_minutes(minutes)?)?;
        if !(1..=9999).contains(&end.year()) {
            return None;
        }
        Some(Ts {
            year: u16::try_from(end.year()).ok()?,
            month: Some(u8::try_from(end.month()).ok()?),
            day: Some(u8::try_from(end.day()).ok()?),
            hour: Some(u8::try_from(end.hour()).ok()?),
            minute: Some(u8::try_from(end.minute()).ok()?),
            second: self.second,
            fraction: self.fraction.clone(),
            offset: self.offset,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn precisions() {
        assert_eq!(parse("1961").unwrap().date(), "1961");
        assert_eq!(parse("196106").unwrap().date(), "1961-06");
        assert_eq!(
            parse("19610615").unwrap().date_time(None).unwrap(),
            "1961-06-15"
        );
        assert_eq!(
            parse("20141006062700+0700")
                .unwrap()
                .date_time(None)
                .unwrap(),
            "2014-10-06T06:27:00+07:00"
        );
        assert_eq!(
            parse("200801311600+0215").unwrap().date_time(None).unwrap(),
            "2008-01-31T16:00:00+02:15"
        );
        assert_eq!(
            parse("20150624084727.655-0500")
                .unwrap()
                .date_time(None)
                .unwrap(),
            "2015-06-24T08:47:27.655-05:00"
        );
    }

    #[test]
    fn time_without_zone_is_kept_to_the_day_unless_an_offset_is_assumed() {
        let ts = parse("20060131155500").unwrap();
        assert_eq!(ts.date_time(None), Err("2006-01-31".to_string()));
        assert_eq!(
            ts.date_time(Some(-300)).unwrap(),
            "2006-01-31T15:55:00-05:00"
        );
        assert_eq!(ts.instant(None), None);
    }

    #[test]
    fn adding_minutes_carries_over_days_and_years() {
        let ts = parse("20231231233000+0100").unwrap();
        let later = ts.plus_minutes(45).unwrap();
        assert_eq!(later.date_time(None).unwrap(), "2024-01-01T00:15:00+01:00");
        let leap = parse("202402282300").unwrap().plus_minutes(120).unwrap();
        assert_eq!(leap.date(), "2024-02-29");
    }

    #[test]
    fn bad_values() {
        for bad in [
            "",
            "2014x",
            "201413",
            "20140230",
            "2014010125",
            "0000",
            "20140101+07",
            "2014.5",
            "20140101120000.",
            "20140101+1500",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
        assert!(parse("20000229").is_ok());
        assert!(parse("19000229").is_err());
    }
}
