//! PHI in free text: detection and replacement.
//!
//! Free text in FHIR resources (narrative `div`s, `Annotation.text`, string values, text
//! attachments) can hold any identifier. A [`Scrubber`] finds them three ways and replaces each
//! found span by a typed tag (`[NAME]`) or by a consistent surrogate:
//!
//! 1. **The patient's own identifiers**, passed in by the caller as a [`PatientIdentity`] taken
//!    from the structured record: names and their variants, identifier values, phone numbers in any
//!    formatting, e-mail addresses, address parts and birth dates in many formats.
//! 2. **Patterns**: phone and fax numbers, e-mail, SSN, account and record numbers, URLs, IP
//!    addresses, dates, ages over 89, ZIP codes, street addresses.
//! 3. **Dictionaries with context**: given names, surnames, U.S. cities, states and countries (see
//!    `data/SOURCES.md`), used only with context (titles such as `Dr.`, relations such as `wife`,
//!    credentials such as `RN`, capitalization, a stop list of English words that are also names),
//!    and names or places found by context elsewhere in the same text.
//!
//! The scrubber is built once ([`Scrubber::new`] compiles its regexes and dictionaries) and shared
//! across threads. It is pure: no I/O, no clock, no randomness; surrogates are chosen by
//! HMAC-SHA256 under a caller's key, and dates are shifted by a caller's number of days.
//!
//! **Invariant:** errors, reports and `Debug` output never contain text content; [`Counts`] only
//! has per-category numbers.
//!
//! # Decisions
//! - Years alone are detected as dates when the context makes them years (`'92`, `74'`, `1992`,
//!   `1980s`, `in 2004`, `CABG 81`): Safe Harbor allows a year, but a year next to a clinical
//!   event identifies, and the product would rather over-redact. Four-digit numbers that may be
//!   24-hour times (`1900`, `2015`) need `in`, `of` or an event before them; numbers next to a unit
//!   are never years. [`Options::years`] turns this off. A year alone becomes `[DATE]` (it is not
//!   shifted).
//! - A month name alone is a date only when capitalized after a temporal preposition (`in May`,
//!   `since March`); `may` as a modal verb and `Will` as a verb are not flagged.
//! - A date without a year (`3/7`, `March 7`) is shifted as a day of a leap year (so `2/29` stays
//!   valid) and keeps its format; a month and a year without a day (`March 2019`) cannot be shifted
//!   exactly and always becomes `[DATE]`.
//! - Ages over 89 become `90+` with surrogates and `[AGE]` with tags; the unit (`yo`) is kept.
//! - States and countries have their own category ([`Category::State`]), so a limited data set
//!   policy can keep them together with cities ([`Category::Location`]), ZIP codes and dates
//!   ([`Options::limited_data_set`]).

mod dates;
mod dict;
pub mod eval;
mod identity;
mod names;
mod patterns;
mod surrogate;
mod xhtml;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

pub use identity::{PatientIdentity, PatientIdentityBuilder};

/// The kind of a PHI span. [`Category::name`] gives a stable snake_case name, [`Category::tag`]
/// the replacement tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Category {
    /// A person's name (patient, relative, clinician).
    Name,
    /// A date more precise than a year.
    Date,
    /// An age over 89.
    Age,
    /// A telephone or pager number.
    Phone,
    /// A fax number.
    Fax,
    /// An e-mail address.
    Email,
    /// A social security number.
    Ssn,
    /// A record, account or other identifier number.
    Id,
    /// A URL.
    Url,
    /// An IP address.
    Ip,
    /// A ZIP code.
    Zip,
    /// A street address.
    Address,
    /// A city, town or other geographic subdivision or facility name.
    Location,
    /// A U.S. state or a country.
    State,
}

impl Category {
    /// Every category, in a fixed order.
    pub const ALL: [Category; 14] = [
        Category::Name,
        Category::Date,
        Category::Age,
        Category::Phone,
        Category::Fax,
        Category::Email,
        Category::Ssn,
        Category::Id,
        Category::Url,
        Category::Ip,
        Category::Zip,
        Category::Address,
        Category::Location,
        Category::State,
    ];

    /// Stable snake_case name (for reports and configuration).
    pub fn name(self) -> &'static str {
        match self {
            Category::Name => "name",
            Category::Date => "date",
            Category::Age => "age",
            Category::Phone => "phone",
            Category::Fax => "fax",
            Category::Email => "email",
            Category::Ssn => "ssn",
            Category::Id => "id",
            Category::Url => "url",
            Category::Ip => "ip",
            Category::Zip => "zip",
            Category::Address => "address",
            Category::Location => "location",
            Category::State => "state",
        }
    }

    /// The category with this snake_case name.
    pub fn from_name(name: &str) -> Option<Category> {
        Category::ALL.into_iter().find(|c| c.name() == name)
    }

    /// The replacement tag, e.g. `[NAME]`.
    pub fn tag(self) -> &'static str {
        match self {
            Category::Name => "[NAME]",
            Category::Date => "[DATE]",
            Category::Age => "[AGE]",
            Category::Phone => "[PHONE]",
            Category::Fax => "[FAX]",
            Category::Email => "[EMAIL]",
            Category::Ssn => "[SSN]",
            Category::Id => "[ID]",
            Category::Url => "[URL]",
            Category::Ip => "[IP]",
            Category::Zip => "[ZIP]",
            Category::Address => "[ADDRESS]",
            Category::Location => "[LOCATION]",
            Category::State => "[STATE]",
        }
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A detected span: byte offsets into the text (always on char boundaries), end exclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Span {
    /// First byte.
    pub start: usize,
    /// One past the last byte.
    pub end: usize,
    /// What was found.
    pub category: Category,
}

/// A configuration error. Never contains text content.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    /// A surrogate key shorter than 16 bytes.
    #[error("the surrogate key must be at least 16 bytes, got {0}")]
    ShortKey(usize),
    /// An extra stop word is empty or not a single word.
    #[error("extra stop word number {0} is empty or has a space")]
    BadStopWord(usize),
    /// A built-in pattern failed to compile (a bug).
    #[error("built-in pattern {0} failed to compile")]
    Pattern(&'static str),
}

/// What to detect. Built once and validated by [`Scrubber::new`].
#[derive(Debug, Clone)]
pub struct Options {
    keep: BTreeSet<Category>,
    extra_stop_words: Vec<String>,
    years: bool,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            keep: BTreeSet::new(),
            extra_stop_words: Vec::new(),
            years: true,
        }
    }
}

impl Options {
    /// Detect every category (HIPAA Safe Harbor, and states too).
    pub fn new() -> Options {
        Options::default()
    }

    /// A limited data set: dates, ages, cities and other places, states and ZIP codes are kept.
    pub fn limited_data_set() -> Options {
        Options::new().keep([
            Category::Date,
            Category::Age,
            Category::Location,
            Category::State,
            Category::Zip,
        ])
    }

    /// Leave these categories alone (neither reported nor replaced).
    pub fn keep(mut self, categories: impl IntoIterator<Item = Category>) -> Options {
        self.keep.extend(categories);
        self
    }

    /// Words never taken for names or places (e.g. a site's own jargon), compared
    /// case-insensitively.
    pub fn stop_words(mut self, words: impl IntoIterator<Item = impl Into<String>>) -> Options {
        self.extra_stop_words
            .extend(words.into_iter().map(Into::into));
        self
    }

    /// Whether years alone in a date context (`'92`, `in 1998`, `CABG 81`, `(1997)`) are
    /// detected as [`Category::Date`]; on by default. Safe Harbor allows a year, but in a clinical
    /// note a year next to an event identifies; `keep(Category::Date)` keeps them as well.
    pub fn years(mut self, on: bool) -> Options {
        self.years = on;
        self
    }

    /// Whether a category is detected.
    pub fn detects(&self, category: Category) -> bool {
        !self.keep.contains(&category)
    }
}

/// How found spans are replaced.
#[derive(Clone)]
pub struct Replacement {
    surrogate_key: Option<Vec<u8>>,
    date_shift_days: Option<i64>,
}

impl fmt::Debug for Replacement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Replacement")
            .field("surrogates", &self.surrogate_key.is_some())
            .field("date_shift_days", &self.date_shift_days)
            .finish()
    }
}

impl Replacement {
    /// Replace every span by its category's tag (`[NAME]`); dates become `[DATE]` unless a shift
    /// is set with [`Replacement::shift_dates`].
    pub fn tags() -> Replacement {
        Replacement {
            surrogate_key: None,
            date_shift_days: None,
        }
    }

    /// Replace spans by surrogates chosen with HMAC-SHA256 under `key` (at least 16 bytes): the
    /// same value gets the same surrogate under the same key.
    pub fn surrogates(key: &[u8]) -> Result<Replacement, ConfigError> {
        if key.len() < 16 {
            return Err(ConfigError::ShortKey(key.len()));
        }
        Ok(Replacement {
            surrogate_key: Some(key.to_vec()),
            date_shift_days: None,
        })
    }

    /// Shift dates by this many days (the patient's offset for structured dates), keeping their
    /// format; `None` turns dates into `[DATE]`.
    pub fn shift_dates(mut self, days: Option<i64>) -> Replacement {
        self.date_shift_days = days;
        self
    }

    /// The date shift, if any.
    pub fn date_shift_days(&self) -> Option<i64> {
        self.date_shift_days
    }
}

/// Per-category counts of replaced spans. Holds no text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts(BTreeMap<Category, usize>);

impl Counts {
    /// The count for one category.
    pub fn get(&self, category: Category) -> usize {
        self.0.get(&category).copied().unwrap_or(0)
    }

    /// All spans replaced.
    pub fn total(&self) -> usize {
        self.0.values().sum()
    }

    /// Non-zero counts by category.
    pub fn iter(&self) -> impl Iterator<Item = (Category, usize)> + '_ {
        self.0.iter().map(|(c, n)| (*c, *n))
    }

    /// Adds another report to this one.
    pub fn add(&mut self, other: &Counts) {
        for (c, n) in other.iter() {
            *self.0.entry(c).or_insert(0) += n;
        }
    }

    fn bump(&mut self, category: Category) {
        *self.0.entry(category).or_insert(0) += 1;
    }
}

/// Scrubbed text and what was replaced.
#[derive(Clone, PartialEq, Eq)]
pub struct Scrubbed {
    /// The text with every span replaced.
    pub text: String,
    /// Per-category counts of replaced spans.
    pub counts: Counts,
}

impl fmt::Debug for Scrubbed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scrubbed")
            .field("text_len", &self.text.len())
            .field("counts", &self.counts)
            .finish()
    }
}

/// The detector and replacer: build once, share across threads.
pub struct Scrubber {
    options: Options,
    dict: dict::Dictionaries,
    patterns: patterns::Patterns,
}

impl fmt::Debug for Scrubber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scrubber")
            .field("options", &self.options)
            .finish()
    }
}

/// A candidate span before overlaps are resolved; a higher priority wins an overlap.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Candidate {
    pub start: usize,
    pub end: usize,
    pub category: Category,
    pub priority: u8,
}

impl Scrubber {
    /// Compiles patterns and dictionaries.
    pub fn new(options: Options) -> Result<Scrubber, ConfigError> {
        for (i, w) in options.extra_stop_words.iter().enumerate() {
            if w.trim().is_empty() || w.trim().contains(char::is_whitespace) {
                return Err(ConfigError::BadStopWord(i));
            }
        }
        let dict = dict::Dictionaries::load(&options.extra_stop_words);
        let patterns = patterns::Patterns::new()?;
        Ok(Scrubber {
            options,
            dict,
            patterns,
        })
    }

    /// The options this scrubber was built with.
    pub fn options(&self) -> &Options {
        &self.options
    }

    /// PHI spans in `text`: sorted, non-overlapping, on char boundaries, only of detected
    /// categories.
    pub fn detect(&self, text: &str, identity: &PatientIdentity) -> Vec<Span> {
        let mut cands: Vec<Candidate> = Vec::new();
        identity::detect(identity, text, &mut cands);
        self.patterns
            .detect(text, &self.dict.state_codes, &mut cands);
        if self.options.years {
            dates::years(text, &mut cands);
        }
        names::detect(&self.dict, text, &mut cands);
        resolve(text, cands, &self.options)
    }

    /// Replaces every detected span in `text`.
    pub fn scrub(
        &self,
        text: &str,
        identity: &PatientIdentity,
        replacement: &Replacement,
    ) -> Scrubbed {
        let spans = self.detect(text, identity);
        let mut out = String::with_capacity(text.len() + 16);
        let mut counts = Counts::default();
        let mut last = 0;
        for s in spans {
            out.push_str(&text[last..s.start]);
            let value = &text[s.start..s.end];
            surrogate::replace(&self.dict, s.category, value, replacement, &mut out);
            counts.bump(s.category);
            last = s.end;
        }
        out.push_str(&text[last..]);
        Scrubbed { text: out, counts }
    }

    /// Scrubs an XHTML narrative `div`: text content and human-readable attributes (`title`,
    /// `alt`, `href`, …) are scrubbed; tags, structural attributes, comments' markers and entity
    /// references that need no change are kept. A text node in which PHI was found is written
    /// back escaped (`&amp;`, `&lt;`, `&gt;`), so a well-formed input stays well-formed.
    pub fn scrub_xhtml(
        &self,
        div: &str,
        identity: &PatientIdentity,
        replacement: &Replacement,
    ) -> Scrubbed {
        xhtml::scrub(self, div, identity, replacement)
    }
}

/// Picks non-overlapping candidates (priority, then length, then position), drops kept
/// categories, snaps to char boundaries and merges adjacent name spans.
fn resolve(text: &str, mut cands: Vec<Candidate>, options: &Options) -> Vec<Span> {
    cands.retain(|c| {
        c.start < c.end
            && c.end <= text.len()
            && text.is_char_boundary(c.start)
            && text.is_char_boundary(c.end)
    });
    cands.sort_by(|a, b| {
        b.priority
            .cmp(&a.priority)
            .then((b.end - b.start).cmp(&(a.end - a.start)))
            .then(a.start.cmp(&b.start))
    });
    // Accepted intervals keyed by start.
    let mut taken: BTreeMap<usize, (usize, Category)> = BTreeMap::new();
    for c in cands {
        let overlaps_before = taken
            .range(..c.end)
            .next_back()
            .is_some_and(|(_, (e, _))| *e > c.start);
        if overlaps_before {
            continue;
        }
        taken.insert(c.start, (c.end, c.category));
    }
    let mut spans: Vec<Span> = Vec::with_capacity(taken.len());
    for (start, (end, category)) in taken {
        if !options.detects(category) {
            continue;
        }
        if let Some(prev) = spans.last_mut() {
            if prev.category == category
                && matches!(
                    category,
                    Category::Name | Category::Location | Category::Address
                )
                && text[prev.end..start]
                    .chars()
                    .all(|c| c == ' ' || c == '.' || c == '-')
                && start - prev.end <= 2
            {
                prev.end = end;
                continue;
            }
        }
        spans.push(Span {
            start,
            end,
            category,
        });
    }
    spans
}

#[cfg(test)]
mod tests;
