//! Dates: plausibility checks for pattern matches, month names after a preposition, and shifting
//! a date by a number of days while keeping its format.

use std::sync::OnceLock;

use chrono::{Datelike, Duration, NaiveDate};
use regex::Regex;

use crate::patterns::{floor_boundary, MONTH};
use crate::{Candidate, Category};

const MONTHS: [&str; 12] = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];

/// Month number (1-based) of a month name or abbreviation (`Sept`, `sep`, `March`).
fn month_of(word: &str) -> Option<u32> {
    let w = word.trim_end_matches('.').to_ascii_lowercase();
    if w.len() < 3 {
        return None;
    }
    MONTHS
        .iter()
        .position(|m| m.starts_with(&w) || (w == "sept" && *m == "september"))
        .map(|i| i as u32 + 1)
}

/// Words before ventilator settings and hemodynamic ratios written like partial dates, matched
/// as whole words of the 20 bytes before (`ac` is assist-control, not the end of `cardiac`).
const VENT_WORDS: &[&str] = &[
    "psv", "ps", "cpap", "bipap", "peep", "flowby", "vent", "vents", "setting", "settings", "imv",
    "simv", "fio2", "co/ci", "ipap", "epap", "pcv", "ac", "a/c", "bi-pap", "prvc", "flow",
];

/// Whether the text just before a partial date names ventilator settings ("PSV 10/5",
/// "flowby 6/3", "CO/CI 5/3", "weaned to 10/5").
fn after_vent_words(text: &str, start: usize) -> bool {
    let from = floor_boundary(text, start.saturating_sub(20));
    let mut ctx = text[from..start].to_ascii_lowercase();
    // A word cut by the window is not a word ("cardi|ac arrest").
    if text[..from]
        .chars()
        .next_back()
        .is_some_and(|c| c.is_ascii_alphanumeric())
    {
        let cut = ctx
            .find(|c: char| !c.is_ascii_alphanumeric())
            .unwrap_or(ctx.len());
        ctx.replace_range(..cut, "");
    }
    if ctx.contains("co/ci") || ctx.contains("a/c") || ctx.contains("mask") {
        return true;
    }
    let words: Vec<&str> = ctx
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    let n = words.len();
    let near = &words[n.saturating_sub(3)..];
    // "mask ventilation 10/5" is a setting; "wean from vent and extubate 3/11" a date.
    if words.iter().any(|w| VENT_WORDS.contains(w))
        || near[near.len().saturating_sub(2)..]
            .iter()
            .any(|w| w.starts_with("vent"))
    {
        return true;
    }
    // "wean down to 10/5" is a setting; "wean for extubation 10/3" is a date.
    near.iter().any(|w| w.starts_with("wean")) && near.last().is_some_and(|w| *w == "to")
        || words.last().is_some_and(|w| w.starts_with("wean"))
}

/// Whether the word right before `start` names a setting or links one to its value ("PSV",
/// "to", "of").
fn last_word_is_setting(text: &str, start: usize) -> bool {
    let head = text[..start].trim_end_matches([' ', '(', ':', '=', '-']);
    let word: String = head
        .chars()
        .rev()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '/')
        .collect::<String>()
        .chars()
        .rev()
        .collect::<String>()
        .to_ascii_lowercase();
    // "R AC", "left ac": the antecubital fossa, not assist-control.
    if word == "ac" {
        let side: String = head[..head.len() - 2]
            .trim_end()
            .chars()
            .rev()
            .take_while(char::is_ascii_alphabetic)
            .collect();
        if matches!(
            side.to_ascii_lowercase().as_str(),
            "r" | "l" | "tfel" | "thgir"
        ) {
            return false;
        }
    }
    word.is_empty()
        || VENT_WORDS.contains(&word.as_str())
        || word.starts_with("vent")
        || word.chars().any(|c| c.is_ascii_digit())
        || matches!(
            word.as_str(),
            "to" | "of" | "at" | "on" | "from" | "and" | "is" | "was"
        )
}

/// A partial `m/d` with a valid month and day at the start of `s`; its length.
fn leading_month_day(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    let digits = |from: usize| b[from..].iter().take_while(|c| c.is_ascii_digit()).count();
    let m_len = digits(0);
    if !(1..=2).contains(&m_len) || b.get(m_len) != Some(&b'/') {
        return None;
    }
    let d_len = digits(m_len + 1);
    if !(1..=2).contains(&d_len) || b.get(m_len + 1 + d_len).is_some_and(u8::is_ascii_digit) {
        return None;
    }
    let m: u32 = s[..m_len].parse().ok()?;
    let d: u32 = s[m_len + 1..m_len + 1 + d_len].parse().ok()?;
    ((1..=12).contains(&m) && (1..=31).contains(&d)).then_some(m_len + 1 + d_len)
}

/// The day of a partial `m/d`.
fn day_of(md: &str) -> Option<u32> {
    md.split_once('/').and_then(|(_, d)| d.parse().ok())
}

/// A partial `m/d` that ends right before `end`.
fn trailing_month_day(text: &str, end: usize) -> bool {
    let head = &text[..end];
    let start = head
        .char_indices()
        .rev()
        .take_while(|(_, c)| c.is_ascii_digit() || *c == '/')
        .last()
        .map_or(end, |(i, _)| i);
    leading_month_day(&text[start..end]) == Some(end - start)
}

/// Words of measurements and settings written right before a ratio ("PS10/5", "BP-120/80",
/// "SpO2"), after which a number glued to the word is no date.
const MEASURE_WORDS: &[&str] = &[
    "bp", "hr", "rr", "ps", "psv", "peep", "cpap", "bipap", "cvp", "pap", "pa", "co", "ci", "svr",
    "sv", "tv", "vt", "abg", "vbg", "sat", "sats", "map", "pcwp", "wedge", "ac", "imv", "simv",
    "ipap", "epap", "fio", "spo", "pao", "pco", "o", "gcs", "nbp", "nibp", "abp", "art", "pain",
    "grade", "motor", "strength", "ratio", "tid", "bid", "x",
];

/// A numeric date glued to a word of two letters or more: `Some(true)` after a dash or a dot
/// ("LA-10/3", "Kensington.8/31"), `Some(false)` right after the letters ("fx4/97"); `None`
/// when the word is short, a measurement or the date follows a digit.
fn glued_to_word(text: &str, start: usize) -> Option<bool> {
    let head = &text[..start];
    let (head, sep) = match head.strip_suffix(['-', '.']) {
        Some(h) => (h, true),
        None => (head, false),
    };
    let letters = head
        .chars()
        .rev()
        .take_while(char::is_ascii_alphabetic)
        .count();
    if letters < 2 {
        return None;
    }
    let word = head[head.len() - letters..].to_ascii_lowercase();
    // "SpO2/15", "FiO2/50": a gas, not a word.
    if !sep && word.ends_with('o') {
        return None;
    }
    // A word that ends in digits before its letters ("2nd", "x2") or a measurement is no word
    // a date is glued to.
    let glued_word_start = head.len() - letters;
    if head[..glued_word_start]
        .chars()
        .next_back()
        .is_some_and(|c| c.is_ascii_digit())
        || MEASURE_WORDS.contains(&word.as_str())
        || VENT_WORDS.contains(&word.as_str())
    {
        return None;
    }
    Some(sep)
}

/// A month and a two-digit year, a full date, or a month and a day past 12.
fn clearly_a_date(s: &str) -> bool {
    let parts: Vec<&str> = s.split('/').collect();
    match parts.as_slice() {
        [_, _, _] => true,
        [m, d] => {
            let (Ok(m), Ok(d)) = (m.parse::<u32>(), d.parse::<u32>()) else {
                return false;
            };
            (1..=12).contains(&m) && (13..=99).contains(&d) && d.to_string().len() == 2
        }
        _ => false,
    }
}

/// Whether a partial `m/d` at `start..end` is a date; `before` and `after` are the characters
/// around it as the caller judges them (`None` when glued to a word or another date part).
fn partial_date(
    text: &str,
    start: usize,
    end: usize,
    before: Option<char>,
    after: Option<char>,
) -> bool {
    let s = &text[start..end];
    let mut it = s.split('/');
    let (Some(Ok(m)), Some(Ok(d))) = (
        it.next().map(str::parse::<u32>),
        it.next().map(str::parse::<u32>),
    ) else {
        return false;
    };
    // A month and a two-digit year (`8/87`).
    let month_year =
        (1..=12).contains(&m) && (32..=99).contains(&d) && s.len() - s.find('/').unwrap_or(0) == 3;
    if !(1..=12).contains(&m) || !((1..=31).contains(&d) || month_year) {
        return false;
    }
    // A range of two dates ("10/15-10/16", "6/30-7/2").
    let range_left = after == Some('-') && leading_month_day(&text[end + 1..]).is_some();
    let range_right = before == Some('-') && trailing_month_day(text, start - 1);
    if range_left || range_right {
        // Not a range of fractions ("crackles 1/3-1/2"): one side at least has a day that
        // is no small denominator ("6/30-7/2").
        let other_day = if range_left {
            day_of(&text[end + 1..end + 1 + leading_month_day(&text[end + 1..]).unwrap_or(0)])
        } else {
            let head = &text[..start - 1];
            let from = head
                .rfind(|c: char| !(c.is_ascii_digit() || c == '/'))
                .map_or(0, |i| i + 1);
            day_of(&head[from..])
        };
        return !month_year
            && (d > 4 || other_day.is_some_and(|o| o > 4))
            && !after_vent_words(text, start);
    }
    // A day past 10 right after a word that is no setting nor a figure ("wean from vent and
    // extubate 3/11", "PICC in R AC 11/17") is a date even near ventilator words.
    let setting_day = d <= 10 || last_word_is_setting(text, start);
    if setting_day && after_vent_words(text, start) {
        return false;
    }
    if matches!(before, Some('/' | '.' | '-' | '+' | 'x' | 'X' | '*'))
        || before.is_some_and(|c| c.is_ascii_digit())
    {
        return false;
    }
    if matches!(after, Some('/' | '-' | '.' | '%'))
        && text[end..]
            .chars()
            .nth(1)
            .is_some_and(|c| c.is_ascii_digit())
    {
        return false;
    }
    if after.is_some_and(|c| c.is_ascii_digit() || c == '%') {
        return false;
    }
    if month_year {
        return !matches!(after, Some('/' | '-' | '.'))
            || !text[end..]
                .chars()
                .nth(1)
                .is_some_and(|c| c.is_ascii_digit());
    }
    // Simple fractions, motor strength (x/5), pain scores (x/10).
    if m < d && d <= 4 || d == 5 && m <= 5 || m == d && m <= 2 {
        return false;
    }
    if d == 10 {
        let ctx = text[floor_boundary(text, start.saturating_sub(24))..start].to_ascii_lowercase();
        let after_ctx = text[end..floor_boundary(text, end + 12)].to_ascii_lowercase();
        if ctx.contains("pain")
            || ctx.contains("scale")
            || ctx.contains("rat")
            || ctx.contains("cp")
            || ctx.contains("angina")
            || after_ctx.contains("pain")
            || after_ctx.contains("cp")
            || after_ctx.contains("angina")
        {
            return false;
        }
    }
    true
}

/// Two partial dates written together ("10/03/10/04", a treatment on two days): each is a
/// partial date by itself and the second falls in the month after the first at the latest.
fn date_pair(
    text: &str,
    start: usize,
    end: usize,
    before: Option<char>,
    after: Option<char>,
) -> bool {
    let s = &text[start..end];
    let Some(mid) = s.match_indices('/').nth(1).map(|(i, _)| start + i) else {
        return false;
    };
    let day = |md: &str| -> Option<u32> {
        let (m, d) = md.split_once('/')?;
        Some(m.parse::<u32>().ok()? * 31 + d.parse::<u32>().ok()?)
    };
    let (Some(first), Some(second)) = (day(&text[start..mid]), day(&text[mid + 1..end])) else {
        return false;
    };
    first < second
        && second - first <= 62
        && partial_date(text, start, mid, before, None)
        && partial_date(text, mid + 1, end, None, after)
}

/// Whether a date-pattern match is a date and not a fraction, a strength score or a pain score.
pub(crate) fn plausible(text: &str, start: usize, end: usize) -> bool {
    let s = &text[start..end];
    let mut before = text[..start].chars().next_back();
    let after = text[end..].chars().next();
    if before.is_some_and(char::is_alphanumeric) || matches!(before, Some('-' | '.')) {
        match glued_to_word(text, start) {
            // "fx4/97": only what cannot be a ratio or a count after a word (a month and a
            // year, a full date, a day past 12).
            Some(false) if !clearly_a_date(s) => return false,
            // "UO-9/10", "Kensington.8/31": judged as if a space stood before.
            Some(_) => before = None,
            // Inside a number or a word ("12/3" of "112/3", "L4/5"), as the pattern's word
            // boundary used to exclude; a dash or dot after a number keeps its meaning below.
            None if before.is_some_and(char::is_alphanumeric) => return false,
            None => {}
        }
    }
    if let Some(slash) = s.find('/') {
        if !s.contains(char::is_alphabetic) {
            match (s.matches('/').count(), s.find('.')) {
                (1, None) => return partial_date(text, start, end, before, after),
                // "11/21.93": a month, a day and a two-digit year after a dot.
                (1, Some(dot)) => {
                    return s.len() - dot == 3
                        && dot - slash == 3
                        && !YEAR_UNITS.contains(&word_after(text, end).as_str())
                        && partial_date(text, start, start + dot, before, None)
                }
                // "10/03/10/04": two days written together, the second after the first.
                (3, None) => return date_pair(text, start, end, before, after),
                _ => {}
            }
        }
    }
    if !s.contains(char::is_alphabetic) {
        // Full numeric date: consistent separators, a valid month and day in m/d or d/m order.
        let seps: Vec<char> = s.chars().filter(|c| !c.is_ascii_digit()).collect();
        if seps.len() != 2 || seps[0] != seps[1] {
            return false;
        }
        let parts: Vec<u32> = s.split(seps[0]).filter_map(|p| p.parse().ok()).collect();
        if parts.len() != 3 {
            return false;
        }
        let ok = |m: u32, d: u32| (1..=12).contains(&m) && (1..=31).contains(&d);
        if s.split(seps[0]).next().is_some_and(|p| p.len() == 4) {
            return ok(parts[1], parts[2]);
        }
        if matches!(before, Some('.' | '/')) || matches!(after, Some('/' | '%')) {
            return false;
        }
        let last = s.rsplit(seps[0]).next().unwrap_or("");
        if last.len() == 4 && !(last.starts_with("19") || last.starts_with("20")) {
            return false;
        }
        return ok(parts[0], parts[1]) || ok(parts[1], parts[0]);
    }
    // Forms with a month name: a lowercase "dec" or "mar" with only a day is a word ("dec 2 L").
    let first = s
        .split(|c: char| !c.is_alphanumeric())
        .find(|w| !w.is_empty())
        .unwrap_or("");
    if (first == "dec" || first == "mar") && !s.chars().filter(char::is_ascii_digit).count().ge(&4)
    {
        return false;
    }
    true
}

fn month_alone_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(
            r"(?i)\b(?:in|on|since|until|till|by|during|early|late|mid|mid-|last|next|this|of|from|through)\s+(January|February|March|April|May|June|July|August|September|October|November|December|Jan|Feb|Mar|Apr|Aug|Sept|Sep|Oct|Nov|Dec)\b(\.?\s+of\s+\d{4})?",
        )
        .expect("static pattern")
    })
}

fn ordinal_day_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(r"(?i)\b(?:on|the|since|until|by)\s+((?:[12]?\d|3[01])(?:st|nd|rd|th))\b")
            .expect("static pattern")
    })
}

/// A month name after a temporal preposition (`in May`, `in march of 2022`), and a day of the
/// month said as an ordinal (`on the 11th.`).
///
/// In lower or upper case a month that is also a word needs a year (`this may help`, `BY MAR`
/// stay); an ordinal needs an end of phrase after it (`the 5th ICS`, `the 4th floor` stay).
pub(crate) fn month_alone(text: &str, out: &mut Vec<Candidate>) {
    for c in month_alone_re().captures_iter(text) {
        let Some(g) = c.get(1) else { continue };
        let word = g.as_str();
        let capitalized = word.starts_with(|c: char| c.is_uppercase())
            && word[1..].chars().all(char::is_lowercase);
        let with_year = c.get(2).is_some();
        let ambiguous = matches!(
            word.to_ascii_lowercase().as_str(),
            "may" | "mar" | "march" | "dec"
        );
        if !(capitalized || with_year || !ambiguous) {
            continue;
        }
        let end = c.get(2).map_or(g.end(), |y| y.end());
        out.push(Candidate {
            start: g.start(),
            end,
            category: Category::Date,
            priority: 69,
        });
    }
    for c in ordinal_day_re().captures_iter(text) {
        let Some(g) = c.get(1) else { continue };
        let rest = text[g.end()..].trim_start_matches(' ');
        let ends_phrase = rest.is_empty()
            || rest.starts_with(['.', ',', ';', ')', '"', '\n'])
            || rest.to_ascii_lowercase().starts_with("of ")
            || rest.to_ascii_lowercase().starts_with("at ");
        if ends_phrase {
            out.push(Candidate {
                start: g.start(),
                end: g.end(),
                category: Category::Date,
                priority: 69,
            });
        }
    }
}

fn month_short_year_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(&format!(
            r"(?i)\b(\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?)?({MONTH})\.?(\s+\d{{1,2}}(?:st|nd|rd|th)?)?,\s*'?(\d{{2}})\b"
        ))
        .expect("static pattern")
    })
}

/// A month name with a two-digit year after a comma: `28 Oct, 88`, `Oct 28, 88`, `Nov, 96`.
/// The year is no measurement (`Nov 2, 10 units`), and a month that is also a word (`may`,
/// `mar`, `dec`) needs a day or a capital.
pub(crate) fn month_short_year(text: &str, out: &mut Vec<Candidate>) {
    for c in month_short_year_re().captures_iter(text) {
        let (Some(all), Some(month), Some(year)) = (c.get(0), c.get(2), c.get(4)) else {
            continue;
        };
        let with_day = c.get(1).is_some() || c.get(3).is_some();
        let word = month.as_str();
        let ambiguous = matches!(
            word.to_ascii_lowercase().as_str(),
            "may" | "mar" | "march" | "dec"
        ) && !word.starts_with(|ch: char| ch.is_ascii_uppercase());
        if measured(text, year.start(), year.end()) || (ambiguous && !with_day) {
            continue;
        }
        out.push(Candidate {
            start: day_range_start(text, all.start()),
            end: year.end(),
            category: Category::Date,
            // Over the shorter `28 Oct` of the date pattern.
            priority: 71,
        });
    }
}

/// The start of a range of days before a date written day first (`1-2 Nov`, `1->2 nov, 96`,
/// `3 to 5 March`): the first day when it is a smaller day than the date's; else `start`.
pub(crate) fn day_range_start(text: &str, start: usize) -> usize {
    let digits = text[start..].bytes().take_while(u8::is_ascii_digit).count();
    let Ok(day) = text[start..start + digits].parse::<u32>() else {
        return start;
    };
    let head = text[..start].trim_end_matches(' ');
    let Some(head) = head
        .strip_suffix("->")
        .or_else(|| head.strip_suffix('-'))
        .or_else(|| head.strip_suffix(" to"))
    else {
        return start;
    };
    let head = head.trim_end_matches(' ');
    let first_len = head.bytes().rev().take_while(u8::is_ascii_digit).count();
    let from = head.len() - first_len;
    let glued = head[..from]
        .chars()
        .next_back()
        .is_some_and(|c| c.is_alphanumeric() || matches!(c, '/' | '.' | '-'));
    match head[from..].parse::<u32>() {
        Ok(first) if first_len <= 2 && (1..day).contains(&first) && !glued => from,
        _ => start,
    }
}

fn shift(date: NaiveDate, days: i64) -> Option<NaiveDate> {
    date.checked_add_signed(Duration::try_days(days)?)
}

/// The four-digit years taken as years (of birth, of an event) rather than other numbers.
const YEARS: std::ops::RangeInclusive<u32> = 1900..=2029;

/// Year of a two-digit year: 00-29 → 2000s, 30-99 → 1900s.
fn expand_year(y: i32, digits: usize) -> i32 {
    if digits == 2 {
        if y < 30 {
            2000 + y
        } else {
            1900 + y
        }
    } else {
        y
    }
}

fn pad(v: u32, width: usize) -> String {
    format!("{v:0width$}")
}

/// Width to render a numeric part like `original`: two digits when it had a leading zero.
fn w(original: &str) -> usize {
    if original.len() == 2 && original.starts_with('0') {
        2
    } else {
        1
    }
}

fn render_year(y: i32, digits: usize) -> String {
    if digits == 2 {
        format!("{:02}", y.rem_euclid(100))
    } else {
        format!("{y:04}")
    }
}

/// Renders a month number like `template` (full name, abbreviation, dot, case).
fn render_month(m: u32, template: &str) -> String {
    let dot = template.ends_with('.');
    let t = template.trim_end_matches('.');
    let full = MONTHS[(m - 1) as usize];
    let name = if t.len() > 4
        || t.eq_ignore_ascii_case("may")
        || t.eq_ignore_ascii_case("june")
        || t.eq_ignore_ascii_case("july")
    {
        full.to_string()
    } else if t.len() == 4 && full == "september" {
        "sept".to_string()
    } else {
        full[..3].to_string()
    };
    let cased = if t.chars().all(|c| c.is_ascii_uppercase()) {
        name.to_ascii_uppercase()
    } else if t.starts_with(|c: char| c.is_ascii_uppercase()) {
        let mut s = name;
        s[..1].make_ascii_uppercase();
        s
    } else {
        name
    };
    if dot && cased.len() <= 4 {
        format!("{cased}.")
    } else {
        cased
    }
}

/// The ordinal suffix of a day (`st`, `nd`, `rd`, `th`), in the case of `template`.
fn suffix(d: u32, template: &str) -> String {
    let s = match (d % 10, d % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    if template.chars().any(|c| c.is_ascii_uppercase()) {
        s.to_ascii_uppercase()
    } else {
        s.to_string()
    }
}

fn named_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(
            r"^(?:(?P<m1>[A-Za-z]+\.?)(?P<s1>\s+)(?P<d1>\d{1,2})(?P<o1>[A-Za-z]{2})?(?P<c1>,?\s+)?(?P<y1>\d{4})?|(?P<d2>\d{1,2})(?P<o2>[A-Za-z]{2})?(?P<s2>\s+(?:of\s+)?)(?P<m2>[A-Za-z]+\.?)(?P<c2>,?\s+)?(?P<y2>\d{4})?)$",
        )
        .expect("static pattern")
    })
}

/// Shifts a date by `days`, keeping its format. `None` when the text is not a full or a
/// day-and-month date (e.g. `March 2019`), or the result is out of range.
pub(crate) fn shift_text(s: &str, days: i64) -> Option<String> {
    if !s.contains(char::is_alphabetic) {
        let sep = s.chars().find(|c| !c.is_ascii_digit())?;
        let parts: Vec<&str> = s.split(sep).collect();
        let num = |p: &str| p.parse::<u32>().ok();
        match parts.as_slice() {
            [y, m, d] if y.len() == 4 => {
                let date = NaiveDate::from_ymd_opt(y.parse().ok()?, num(m)?, num(d)?)?;
                let n = shift(date, days)?;
                Some(format!(
                    "{:04}{sep}{}{sep}{}",
                    n.year(),
                    pad(n.month(), m.len()),
                    pad(n.day(), d.len())
                ))
            }
            [a, b, y] => {
                let year = expand_year(y.parse().ok()?, y.len());
                let (m, d, swapped) = if num(a)? > 12 {
                    (num(b)?, num(a)?, true)
                } else {
                    (num(a)?, num(b)?, false)
                };
                let n = shift(NaiveDate::from_ymd_opt(year, m, d)?, days)?;
                let (first, second) = if swapped {
                    (pad(n.day(), w(a)), pad(n.month(), w(b)))
                } else {
                    (pad(n.month(), w(a)), pad(n.day(), w(b)))
                };
                Some(format!(
                    "{first}{sep}{second}{sep}{}",
                    render_year(n.year(), y.len())
                ))
            }
            [m, d] => {
                // No year: a day of a leap year, so 2/29 stays valid.
                let n = shift(NaiveDate::from_ymd_opt(2000, num(m)?, num(d)?)?, days)?;
                Some(format!(
                    "{}{sep}{}",
                    pad(n.month(), w(m)),
                    pad(n.day(), w(d))
                ))
            }
            _ => None,
        }
    } else {
        let c = named_re().captures(s)?;
        let (mt, sp, dt, ord, comma, yt, month_first) = if c.name("m1").is_some() {
            (
                c.name("m1")?,
                c.name("s1")?,
                c.name("d1")?,
                c.name("o1"),
                c.name("c1"),
                c.name("y1"),
                true,
            )
        } else {
            (
                c.name("m2")?,
                c.name("s2")?,
                c.name("d2")?,
                c.name("o2"),
                c.name("c2"),
                c.name("y2"),
                false,
            )
        };
        let month = month_of(mt.as_str())?;
        let day: u32 = dt.as_str().parse().ok()?;
        let year: i32 = match yt {
            Some(y) => y.as_str().parse().ok()?,
            None => 2000,
        };
        let n = shift(NaiveDate::from_ymd_opt(year, month, day)?, days)?;
        let mname = render_month(n.month(), mt.as_str());
        let dstr = pad(n.day(), w(dt.as_str()));
        let ostr = ord.map(|o| suffix(n.day(), o.as_str())).unwrap_or_default();
        let ystr = match yt {
            Some(_) => format!(
                "{}{:04}",
                comma.map(|c| c.as_str()).unwrap_or(" "),
                n.year()
            ),
            None => String::new(),
        };
        Some(if month_first {
            format!("{mname}{}{dstr}{ostr}{ystr}", sp.as_str())
        } else {
            format!("{dstr}{ostr}{}{mname}{ystr}", sp.as_str())
        })
    }
}

/// Events of a medical history after which a bare two-digit number is a year (`CABG 81`,
/// `MI 92`, `CVA in 94`).
const YEAR_EVENTS: &[&str] = &[
    "mi",
    "ami",
    "imi",
    "nqwmi",
    "cabg",
    "redo",
    "avr",
    "mvr",
    "ptca",
    "cva",
    "tia",
    "stent",
    "pacer",
    "pacemaker",
    "aicd",
    "ablation",
    "cardioversion",
    "mastectomy",
    "mastectomies",
    "lumpectomy",
    "cholecystectomy",
    "hysterectomy",
    "resection",
    "transplant",
    "dx",
    "diagnosed",
];

/// Units and measurement words after which, or before which, a number is not a year.
const YEAR_UNITS: &[&str] = &[
    "cc", "ccs", "ml", "mls", "l", "mg", "mcg", "g", "gm", "gms", "kg", "u", "units", "unit",
    "cal", "kcal", "calories", "hrs", "hr", "h", "hours", "hour", "min", "mins", "minutes", "pm",
    "am", "x", "mmhg", "mm", "cm", "meq", "mEq", "lbs", "lb", "ns", "d5w", "ivf", "tv", "vt", "io",
    "i/o", "uo", "total", "intake", "output", "neg", "pos", "positive", "negative", "bolus", "at",
    "until", "till", "by", "around", "approx", "about", "from", "to", "between", "q", "before",
    "after", "mv", "plt", "plts", "wbc", "glucose", "fs", "bs", "kcals", "years", "yrs", "yr",
    "days", "months", "weeks", "wks", "ago", "times", "degrees", "feet", "ft", "hob", "yo", "y/o",
];

/// Words before `30'` that make it a length or an angle, not a year.
const NOT_YEAR_BEFORE_QUOTE: &[&str] = &[
    "hob",
    "x",
    "ambulated",
    "ambulate",
    "ambulating",
    "walked",
    "walking",
    "walk",
    "amb",
    "up",
    "elevated",
    "elevate",
    "at",
    "to",
    "about",
    "approx",
    "distance",
    "head",
    "hb",
    "bed",
];

fn year_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(
            r"(?x)
            ['\u{2019}](\d{2})(?:[sS])?\b            # '92, '90s
            | \b(\d{2})'                             # 74'
            | \b((?:19|20)\d{2})(?:[sS]\b|\b)        # 1992, 1980s
            ",
        )
        .expect("static pattern")
    })
}

/// Whether `year` beside the word `event` is a year of that event: the word is an event
/// ("MI", "PTCA") and the number is not a measurement.
fn event_year(text: &str, event: regex::Match<'_>, year: regex::Match<'_>) -> bool {
    YEAR_EVENTS.contains(&event.as_str().to_ascii_lowercase().as_str())
        && !measured(text, year.start(), year.end())
}

fn year_candidate(start: usize, end: usize) -> Candidate {
    Candidate {
        start,
        end,
        category: Category::Date,
        priority: 67,
    }
}

fn year_event_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        let words = YEAR_EVENTS.join("|");
        Regex::new(&format!(r"(?i)\b(0\d)\s+({words})\b")).expect("static pattern")
    })
}

fn event_year_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        let words = YEAR_EVENTS.join("|");
        Regex::new(&format!(
            r"(?i)\b({words})(?:\s+x\s?\d)?\s+(?:in\s+)?(\d{{2}})\b"
        ))
        .expect("static pattern")
    })
}

/// The word before byte `i` (lower case), skipping spaces and a few punctuation marks.
fn word_before(text: &str, i: usize) -> String {
    let head = &text[..i];
    let head = head.trim_end_matches([' ', '\t', '(', ',', '~', '@', ':', '=', '-']);
    let w: String = head
        .chars()
        .rev()
        .take_while(|c| c.is_alphanumeric() || *c == '/')
        .collect();
    w.chars().rev().collect::<String>().to_lowercase()
}

/// The word after byte `i` (lower case), skipping spaces.
fn word_after(text: &str, i: usize) -> String {
    text[i..]
        .trim_start_matches([' ', '\t'])
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '/')
        .collect::<String>()
        .to_lowercase()
}

/// Whether the number at `start..end` is followed or preceded by a measurement, a time or a
/// range of times.
fn measured(text: &str, start: usize, end: usize) -> bool {
    let before = text[..start].chars().next_back();
    let after = text[end..].chars().next();
    if before.is_some_and(|c| {
        c.is_ascii_digit() || matches!(c, '.' | '/' | ':' | '+' | '#' | '$' | '*' | 'x' | 'X')
    }) {
        return true;
    }
    // A negative number ("los -1963"), not the end of a range ("1999-2001").
    if before == Some('-')
        && !text[..start - 1]
            .chars()
            .next_back()
            .is_some_and(|c| c.is_ascii_digit())
    {
        return true;
    }
    if after.is_some_and(|c| c.is_ascii_digit() || matches!(c, '%' | '/' | ':'))
        || (matches!(after, Some('.' | ','))
            && text[end + 1..].starts_with(|c: char| c.is_ascii_digit()))
    {
        return true;
    }
    let next = word_after(text, end);
    if YEAR_UNITS.contains(&next.as_str())
        && !matches!(
            next.as_str(),
            "at" | "to"
                | "from"
                | "by"
                | "until"
                | "till"
                | "around"
                | "about"
                | "approx"
                | "between"
                | "before"
                | "after"
        )
    {
        return true;
    }
    let prev = word_before(text, start);
    YEAR_UNITS.contains(&prev.as_str())
}

/// Years alone in a date context: `'92`, `74'`, `1992`, `1980s`, `(1997)`, `CABG 81`. A
/// four-digit number that may be a 24-hour time (`1900`, `2015`) is a year only after `in`,
/// `of`, `year` or a medical event, and never before `hrs` or as part of a range of times.
pub(crate) fn years(text: &str, out: &mut Vec<Candidate>) {
    let bytes = text.as_bytes();
    let found_from = out.len();
    for c in year_re().captures_iter(text) {
        let (g, kind) = match (c.get(1), c.get(2), c.get(3)) {
            (Some(g), _, _) => (g, 1),
            (_, Some(g), _) => (g, 2),
            (_, _, Some(g)) => (g, 3),
            _ => continue,
        };
        let (s, e) = (g.start(), g.end());
        match kind {
            1 => {
                // Not feet and inches (5'10) nor a possessive.
                let q = c.get(0).map_or(s, |m| m.start());
                if q > 0 && bytes[q - 1].is_ascii_digit() {
                    continue;
                }
                if text[e..].starts_with(['"', '\'']) {
                    continue;
                }
            }
            2 => {
                // 90's is a range of values, not a year.
                let rest = &text[e + 1..];
                if rest.starts_with(['s', 'S'])
                    || rest.starts_with(|ch: char| ch.is_ascii_digit() || ch == '"')
                {
                    continue;
                }
                if s > 0 && matches!(bytes[s - 1], b'.' | b'/' | b'-' | b':') {
                    continue;
                }
                if NOT_YEAR_BEFORE_QUOTE.contains(&word_before(text, s).as_str()) {
                    continue;
                }
            }
            _ => {
                let v: u32 = g.as_str().parse().unwrap_or(0);
                if v > *YEARS.end() {
                    continue;
                }
                if measured(text, s, e) {
                    continue;
                }
                // Shift times: "1900-0700", "0700-1900".
                let after = &text[e..];
                let dash_num = |r: &str| {
                    r.trim_start_matches([' ', '-']).len() < r.len()
                        && r.trim_start_matches([' ', '-', '>'])
                            .chars()
                            .take_while(char::is_ascii_digit)
                            .count()
                            == 4
                };
                let range_other = after
                    .strip_prefix('-')
                    .or_else(|| after.strip_prefix(" - "))
                    .map(|r| {
                        r.chars()
                            .take_while(char::is_ascii_digit)
                            .collect::<String>()
                    });
                if let Some(o) = &range_other {
                    if o.len() == 4 {
                        let ov: u32 = o.parse().unwrap_or(0);
                        if !YEARS.contains(&ov) || ov < v {
                            continue;
                        }
                    }
                }
                if dash_num(after) && range_other.is_none() {
                    continue;
                }
                let mut range_end = false;
                let head = text[..s].trim_end_matches([' ', '-']);
                if head.len() >= 4
                    && head.ends_with(|ch: char| ch.is_ascii_digit())
                    && text[..s].ends_with('-')
                {
                    // The end of a range: a year only if the start is one.
                    let o: String = head
                        .chars()
                        .rev()
                        .take_while(char::is_ascii_digit)
                        .collect();
                    let ov: u32 = o.chars().rev().collect::<String>().parse().unwrap_or(0);
                    if o.len() != 4 || !YEARS.contains(&ov) || ov > v {
                        continue;
                    }
                    range_end = true;
                }
                let maybe_time = (v % 100) < 60 && !(1960..=1999).contains(&v) && !range_end;
                if maybe_time {
                    let prev = word_before(text, s);
                    let round = v.is_multiple_of(5);
                    let ok = matches!(prev.as_str(), "in" | "of" | "year" | "is" | "s/p")
                        || (prev == "since" && !round)
                        || YEAR_EVENTS.contains(&prev.as_str());
                    if !ok {
                        continue;
                    }
                }
            }
        }
        // "1980s", "'90s": the decade's `s` goes with the year.
        out.push(year_candidate(s, e + plural_s(text, e)));
    }
    // "09 PTCA": a two-digit year with its leading zero before an event (a count has none).
    for c in year_event_re().captures_iter(text) {
        let (Some(g), Some(w)) = (c.get(1), c.get(2)) else {
            continue;
        };
        if !event_year(text, w, g) {
            continue;
        }
        out.push(year_candidate(g.start(), g.end()));
    }
    for c in event_year_re().captures_iter(text) {
        let (Some(w), Some(g)) = (c.get(1), c.get(2)) else {
            continue;
        };
        if !event_year(text, w, g) {
            continue;
        }
        let after = &text[g.end()..];
        if after.starts_with(['\'', '-']) || after.trim_start().starts_with(['%', '-']) {
            continue;
        }
        out.push(year_candidate(g.start(), g.end()));
    }
    year_lists(text, found_from, out);
}

/// 1 when an `s` of a decade follows the year ending at `end` ("1980s", "'90S"), else 0.
fn plural_s(text: &str, end: usize) -> usize {
    let rest = &text.as_bytes()[end..];
    usize::from(
        matches!(rest.first(), Some(b's' | b'S'))
            && !rest.get(1).is_some_and(u8::is_ascii_alphanumeric),
    )
}

fn year_list_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(r"^(?:\s*,\s*(?:and\s+)?|\s+and\s+|\s*&\s*)(\d{2}|\d{4})\b")
            .expect("static pattern")
    })
}

/// More years of a list after a year found from `out[from..]` ("CVA in 94 and 00", "MI 1992,
/// 1998"): a number of as many digits that is no measurement.
fn year_lists(text: &str, from: usize, out: &mut Vec<Candidate>) {
    let mut i = from;
    while i < out.len() {
        let (start, end) = (out[i].start, out[i].end);
        let digits = text[start..end].bytes().filter(u8::is_ascii_digit).count();
        if let Some(g) = year_list_re().captures(&text[end..]).and_then(|c| c.get(1)) {
            let (s, e) = (end + g.start(), end + g.end());
            let century_ok =
                digits == 2 || text[s..e].parse().is_ok_and(|y: u32| YEARS.contains(&y));
            if e - s == digits && century_ok && !measured(text, s, e) {
                // Pushed at the end: a third year of the list is looked for from it.
                out.push(year_candidate(s, e));
            }
        }
        i += 1;
    }
}
