//! The patient's own identifiers, from the structured record, and their detection in text.

use std::collections::HashSet;
use std::fmt;
use std::sync::Arc;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use chrono::{Datelike, NaiveDate};

use crate::{Candidate, Category};

/// Identifiers of one patient taken from the structured record. Every value is matched in text
/// case-insensitively at word boundaries, with variants: names alone, `First Last`, `Last, First`,
/// `F. Last`, initials (`J.S.`, `JS` in capitals), possessives; phone and identifier digits in any
/// formatting; birth dates in many formats. `Debug` shows only how many values each field holds.
#[derive(Clone, Default)]
pub struct PatientIdentity {
    given: Vec<String>,
    family: Vec<String>,
    names: Vec<(Vec<String>, String)>,
    identifiers: Vec<String>,
    phones: Vec<String>,
    emails: Vec<String>,
    streets: Vec<String>,
    cities: Vec<String>,
    zips: Vec<String>,
    birth_dates: Vec<NaiveDate>,
    /// The literal variants compiled once, when the identity is built: an identity is matched
    /// against every text of its patient, often thousands.
    matcher: Option<Arc<Matcher>>,
}

/// The automaton over an identity's literal variants and each pattern's category.
struct Matcher {
    automaton: AhoCorasick,
    categories: Vec<Category>,
}

impl fmt::Debug for PatientIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PatientIdentity")
            .field("names", &self.names.len())
            .field("identifiers", &self.identifiers.len())
            .field("phones", &self.phones.len())
            .field("emails", &self.emails.len())
            .field(
                "address_parts",
                &(self.streets.len() + self.cities.len() + self.zips.len()),
            )
            .field("birth_dates", &self.birth_dates.len())
            .finish()
    }
}

impl PatientIdentity {
    /// An empty identity (patterns and dictionaries only).
    pub fn empty() -> PatientIdentity {
        PatientIdentity::default()
    }

    /// A builder.
    pub fn builder() -> PatientIdentityBuilder {
        PatientIdentityBuilder(PatientIdentity::default())
    }

    /// Whether no value was given.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
            && self.given.is_empty()
            && self.family.is_empty()
            && self.identifiers.is_empty()
            && self.phones.is_empty()
            && self.emails.is_empty()
            && self.streets.is_empty()
            && self.cities.is_empty()
            && self.zips.is_empty()
            && self.birth_dates.is_empty()
    }

    /// Every literal value, for tests that check nothing survives (digits of phones included).
    pub fn values(&self) -> Vec<String> {
        let mut v: Vec<String> = Vec::new();
        v.extend(self.given.iter().cloned());
        v.extend(self.family.iter().cloned());
        v.extend(self.identifiers.iter().cloned());
        v.extend(self.phones.iter().cloned());
        v.extend(self.emails.iter().cloned());
        v.extend(self.streets.iter().cloned());
        v.extend(self.cities.iter().cloned());
        v.extend(self.zips.iter().cloned());
        v
    }
}

/// Builds a [`PatientIdentity`]; empty and whitespace-only values are ignored.
#[derive(Debug, Clone, Default)]
pub struct PatientIdentityBuilder(PatientIdentity);

fn clean(s: &str) -> Option<String> {
    let t = s.split_whitespace().collect::<Vec<_>>().join(" ");
    (!t.is_empty()).then_some(t)
}

impl PatientIdentityBuilder {
    /// A name: given names (first, middle) and a family name.
    pub fn name<I, S>(mut self, given: I, family: &str) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let given: Vec<String> = given
            .into_iter()
            .filter_map(|g| clean(g.as_ref()))
            .collect();
        let family = clean(family).unwrap_or_default();
        self.0.given.extend(given.iter().cloned());
        if !family.is_empty() {
            self.0.family.push(family.clone());
        }
        if !given.is_empty() || !family.is_empty() {
            self.0.names.push((given, family));
        }
        self
    }

    /// An identifier value (MRN, insurance member id, …).
    pub fn identifier(mut self, value: &str) -> Self {
        self.0.identifiers.extend(clean(value));
        self
    }

    /// A phone or fax number in any formatting.
    pub fn phone(mut self, value: &str) -> Self {
        self.0.phones.extend(clean(value));
        self
    }

    /// An e-mail address.
    pub fn email(mut self, value: &str) -> Self {
        self.0.emails.extend(clean(value));
        self
    }

    /// A street line (`123 Main St`).
    pub fn street(mut self, value: &str) -> Self {
        self.0.streets.extend(clean(value));
        self
    }

    /// A city or district.
    pub fn city(mut self, value: &str) -> Self {
        self.0.cities.extend(clean(value));
        self
    }

    /// A ZIP or postal code.
    pub fn zip(mut self, value: &str) -> Self {
        self.0.zips.extend(clean(value));
        self
    }

    /// A birth date.
    pub fn birth_date(mut self, date: NaiveDate) -> Self {
        self.0.birth_dates.push(date);
        self
    }

    /// A birth date from year, month and day; an invalid date is ignored.
    pub fn birth_ymd(self, y: i32, m: u32, d: u32) -> Self {
        match NaiveDate::from_ymd_opt(y, m, d) {
            Some(date) => self.birth_date(date),
            None => self,
        }
    }

    /// The identity.
    pub fn build(self) -> PatientIdentity {
        let mut identity = self.0;
        let patterns = literal_patterns(&identity);
        identity.matcher = if patterns.is_empty() {
            None
        } else {
            AhoCorasickBuilder::new()
                .ascii_case_insensitive(true)
                .match_kind(MatchKind::Standard)
                .build(patterns.iter().map(|(p, _)| p.as_str()))
                .ok()
                .map(|automaton| {
                    Arc::new(Matcher {
                        automaton,
                        categories: patterns.into_iter().map(|(_, c)| c).collect(),
                    })
                })
        };
        identity
    }
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

fn date_variants(d: NaiveDate) -> Vec<String> {
    let (y, m, day) = (d.year(), d.month(), d.day());
    let yy = y.rem_euclid(100);
    let full = MONTHS[(m - 1) as usize];
    let abbr = &full[..3];
    let mut v = vec![
        format!("{y:04}-{m:02}-{day:02}"),
        format!("{m:02}/{day:02}/{y:04}"),
        format!("{m}/{day}/{y:04}"),
        format!("{m}/{day}/{yy:02}"),
        format!("{m:02}/{day:02}/{yy:02}"),
        format!("{m:02}-{day:02}-{y:04}"),
        format!("{m}-{day}-{y:04}"),
        format!("{m}-{day}-{yy:02}"),
        format!("{m:02}.{day:02}.{y:04}"),
        format!("{day}.{m}.{y:04}"),
        format!("{y:04}{m:02}{day:02}"),
    ];
    for name in [full, abbr] {
        v.push(format!("{name} {day}, {y}"));
        v.push(format!("{name} {day} {y}"));
        v.push(format!("{name}. {day}, {y}"));
        v.push(format!("{day} {name} {y}"));
        v.push(format!("{day} {name}, {y}"));
        v.push(format!("{day}-{name}-{y}"));
    }
    v
}

fn digits(s: &str) -> String {
    s.chars().filter(char::is_ascii_digit).collect()
}

/// The literal variants of an identity's values, each with its category.
fn literal_patterns(identity: &PatientIdentity) -> Vec<(String, Category)> {
    let mut patterns: Vec<(String, Category)> = Vec::new();
    let mut add = |s: String, c: Category| {
        if s.chars().filter(|c| c.is_alphanumeric()).count() >= 2 {
            patterns.push((s, c));
        }
    };
    for (given, family) in &identity.names {
        for g in given {
            add(g.clone(), Category::Name);
        }
        if !family.is_empty() {
            add(family.clone(), Category::Name);
            for part in family.split([' ', '-']) {
                add(part.to_string(), Category::Name);
            }
        }
        if let (Some(first), false) = (given.first(), family.is_empty()) {
            add(format!("{first} {family}"), Category::Name);
            add(format!("{family}, {first}"), Category::Name);
            add(format!("{family},{first}"), Category::Name);
            add(format!("{family} {first}"), Category::Name);
            if let Some(i) = first.chars().next() {
                add(format!("{i}. {family}"), Category::Name);
                add(format!("{i} {family}"), Category::Name);
                add(format!("{family}, {i}."), Category::Name);
            }
            let initials: String = given
                .iter()
                .chain(std::iter::once(family))
                .filter_map(|p| p.chars().next())
                .collect();
            let dotted: String = initials.chars().map(|c| format!("{c}.")).collect();
            add(dotted.clone(), Category::Name);
            add(
                dotted
                    .chars()
                    .filter(|c| *c != ' ')
                    .collect::<String>()
                    .replace('.', ". ")
                    .trim()
                    .to_string(),
                Category::Name,
            );
        }
    }
    for v in &identity.identifiers {
        add(v.clone(), Category::Id);
    }
    for v in &identity.emails {
        add(v.clone(), Category::Email);
    }
    for v in &identity.streets {
        add(v.clone(), Category::Address);
    }
    for v in &identity.cities {
        add(v.clone(), Category::Location);
    }
    for v in &identity.zips {
        add(v.clone(), Category::Zip);
    }
    for d in &identity.birth_dates {
        for v in date_variants(*d) {
            add(v, Category::Date);
        }
    }
    patterns
}

/// Finds the identity's values in `text`.
pub(crate) fn detect(identity: &PatientIdentity, text: &str, out: &mut Vec<Candidate>) {
    if identity.is_empty() || text.is_empty() {
        return;
    }
    if let Some(m) = &identity.matcher {
        // Every match, overlapping ones included: a long variant that fails the word-boundary
        // test must not hide a shorter one; overlaps are resolved later (longest wins).
        for hit in m.automaton.find_overlapping_iter(text) {
            let (s, e) = (hit.start(), hit.end());
            if word_boundary(text, s, e) {
                out.push(Candidate {
                    start: s,
                    end: e,
                    category: m.categories[hit.pattern().as_usize()],
                    priority: 100,
                });
            }
        }
    }
    // Initials without dots, in capitals only ("JS").
    for (given, family) in &identity.names {
        let initials: String = given
            .iter()
            .chain(std::iter::once(family))
            .filter_map(|p| p.chars().next())
            .collect::<String>()
            .to_uppercase();
        if initials.chars().count() >= 2 {
            for (i, _) in text.match_indices(initials.as_str()) {
                let e = i + initials.len();
                if word_boundary(text, i, e) {
                    out.push(Candidate {
                        start: i,
                        end: e,
                        category: Category::Name,
                        priority: 100,
                    });
                }
            }
        }
    }
    // Phones and numeric identifiers in any formatting: digit runs with separators.
    let mut wanted: HashSet<(String, Category)> = HashSet::new();
    for p in &identity.phones {
        let d = digits(p);
        if d.len() >= 7 {
            wanted.insert((d[d.len() - 7..].to_string(), Category::Phone));
            if d.len() >= 10 {
                wanted.insert((d[d.len() - 10..].to_string(), Category::Phone));
            }
            wanted.insert((d.clone(), Category::Phone));
        }
    }
    for v in &identity.identifiers {
        let d = digits(v);
        if d.len() >= 4 {
            wanted.insert((d, Category::Id));
        }
    }
    if wanted.is_empty() {
        return;
    }
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i].is_ascii_digit()
            || (bytes[i] == b'(' && bytes.get(i + 1).is_some_and(u8::is_ascii_digit))
            || bytes[i] == b'+'
        {
            // Extend over digits and separators, remembering the end of the last digit.
            let start = i;
            let mut j = i;
            let mut last_digit_end = i;
            let mut ds = String::new();
            while j < bytes.len()
                && (bytes[j].is_ascii_digit()
                    || matches!(bytes[j], b' ' | b'-' | b'.' | b'(' | b')' | b'+' | b'/'))
            {
                if bytes[j].is_ascii_digit() {
                    ds.push(bytes[j] as char);
                    last_digit_end = j + 1;
                }
                if bytes[j] == b' ' && bytes.get(j + 1) == Some(&b' ') {
                    break;
                }
                j += 1;
            }
            if !ds.is_empty() && (start == 0 || !bytes[start - 1].is_ascii_alphanumeric()) {
                for cat in [Category::Phone, Category::Id] {
                    // The whole run, or the run without a leading country code.
                    let hit = wanted.contains(&(ds.clone(), cat))
                        || (ds.len() == 11
                            && ds.starts_with('1')
                            && wanted.contains(&(ds[1..].to_string(), cat)));
                    if hit {
                        out.push(Candidate {
                            start,
                            end: last_digit_end,
                            category: cat,
                            priority: 100,
                        });
                    }
                }
            }
            i = j.max(i + 1);
        } else {
            i += 1;
        }
    }
}

/// True when `text[s..e]` starts and ends at word boundaries.
pub(crate) fn word_boundary(text: &str, s: usize, e: usize) -> bool {
    if !text.is_char_boundary(s) || !text.is_char_boundary(e) {
        return false;
    }
    let before = text[..s].chars().next_back();
    let after = text[e..].chars().next();
    let first = text[s..e].chars().next();
    let last = text[s..e].chars().next_back();
    let edge = |outside: Option<char>, inside: Option<char>| match (outside, inside) {
        (Some(o), Some(i)) => !(o.is_alphanumeric() && i.is_alphanumeric()),
        _ => true,
    };
    edge(before, first) && edge(after, last)
}
