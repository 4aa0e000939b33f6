//! Pattern detectors: e-mail, URL, IP, SSN, phone and fax, identifiers, dates, ages, street
//! addresses, ZIP codes.

use regex::Regex;

use crate::dict::HashSet;
use crate::{dates, Candidate, Category, ConfigError};

pub(crate) struct Patterns {
    email: Regex,
    url: Regex,
    ip: Regex,
    ssn: Regex,
    phone: Regex,
    pager: Regex,
    id: Regex,
    long_number: Regex,
    date: Regex,
    age: Regex,
    address: Regex,
    zip: Regex,
}

fn re(name: &'static str, pattern: &str) -> Result<Regex, ConfigError> {
    Regex::new(pattern).map_err(|_| ConfigError::Pattern(name))
}

pub(crate) const MONTH: &str = r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)";

impl Patterns {
    pub fn new() -> Result<Patterns, ConfigError> {
        let date = format!(
            r"(?ix)
            \b(?:
              \d{{4}}-\d{{1,2}}-\d{{1,2}}                                   # 1980-03-07
            | \d{{1,2}}-\d{{1,2}}-(?:\d{{4}}|\d{{2}})(?:\b|$)               # 3-7-80 (one separator kind:
            | \d{{1,2}}\.\d{{1,2}}\.(?:\d{{4}}|\d{{2}})(?:\b|$)             # 10/15-10/16 is a range)
            | {m}\.?\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+\d{{4}}                 # March 7, 1980
            | \d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?{m}\.?,?\s+\d{{4}}      # 7 Mar 1980
            | {m}\.?\s+\d{{1,2}}(?:st|nd|rd|th)?\b                          # March 7
            | \d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?{m}\b                   # 7th of March
            | {m}\.?,?\s+(?:\d{{4}}|'\d{{2}})                               # March 2019
            | {m}\.?\s+of\s+\d{{4}}                                        # March of 2019
            )
            # Numeric dates may be glued to a word (fx4/97, LA-10/3): no boundary before
            # them here, dates::plausible decides.
            | \d{{1,2}}/\d{{1,2}}/\d{{1,2}}/\d{{1,2}}(?:\b|$)                # 10/03/10/04
            | \d{{1,2}}/\d{{1,2}}/(?:\d{{4}}|\d{{2}})(?:\b|$)
            | \d{{1,2}}/\d{{1,2}}\.\d{{2}}(?:\b|$)                         # 11/21.93
            | \d{{1,2}}/\d{{1,2}}                                          # 3/7
            ",
            m = MONTH
        );
        Ok(Patterns {
            email: re(
                "email",
                r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}",
            )?,
            url: re("url", r#"(?i)\b(?:https?://|ftp://|www\.)[^\s<>"']+"#)?,
            ip: re("ip", r"\b(?:\d{1,3}\.){3}\d{1,3}\b")?,
            ssn: re(
                "ssn",
                r"(?i)\b\d{3}-\d{2}-\d{4}\b|\b(?:ssn|ss#|social security(?: number| no\.?)?)\s*[:#]?\s*\d{9}\b",
            )?,
            phone: re(
                "phone",
                r"(?ix)
                (?:\+?1[\s.\-]?)?
                (?:\(\d{3}\)\s?|\b\d{3}\s?[\s.\-/]?\s?)\d{3}\s?[\s.\-]?\s?\d{4}\b
                (?:\s*(?:x|ext\.?|extension)\s*\d{1,5}\b)?
                | \b\d{3}-\d{4}\b
                | \b\d{3}/\d{3}/\d{4}\b
                # A number in parentheses with a digit too many is still a phone number.
                | \([2-9]\d{2}[\s.\-]\d{3}[\s.\-]\d{5}\)",
            )?,
            pager: re(
                "pager",
                r"(?i)\b(?:pager|pgr|pg|beeper|beep|cell|phone|tel|ph)\b\s*(?:number|no\.?|num)?\s*[:#]?\s*#?\s*(\d{4,7})\b",
            )?,
            id: re(
                "id",
                r"(?ix)
                \b(?:mrn|mr\#|medical\s+record(?:\s+(?:number|no\.?|\#))?|record(?:\s+(?:number|no\.?))?
                  |acct|account|ref|reference|policy|member(?:\s+id)?|claim|unit\s+no\.?
                  |license|lic|certificate|cert|serial|health\s+plan|beneficiary|vin|id)
                \s*(?:number|no\.?|num|\#)?\s*[:\#]?\s*\#?\s*
                ([A-Za-z]{0,4}\d[A-Za-z0-9\-]{2,})",
            )?,
            long_number: re("long_number", r"\b\d{7,}\b")?,
            date: re("date", &date)?,
            age: re(
                "age",
                r"(?ix)
                \b(9\d|1[0-1]\d)\s*(?:-\s*)?(?:yo|y/o|y\.o\.?|yrs?|years?|year-old)\b
                | \b(?:age|aged)\s*:?\s*(9\d|1[0-1]\d)\b
                | \b((?:ninety|one\s+hundred)(?:[\s\-](?:one|two|three|four|five|six|seven|eight|nine))?)[\s\-]+(?:years?|yrs?|yo)\b",
            )?,
            address: re(
                "address",
                r"(?x)
                \b\d{1,6}\s+(?:[NSEW]\.?\s+)?(?:[A-Z][A-Za-z']+\s+){1,3}
                (?:Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Court|Ct|Place|Pl|Way|Terrace|Ter
                  |Circle|Cir|Parkway|Pkwy|Highway|Hwy|Square|Sq|Trail|Plaza|Row|Alley)\b\.?
                (?:,?\s*(?:Apt|Apartment|Suite|Ste|Unit|\#)\.?\s*\#?\s*[A-Za-z0-9\-]+)?
                | (?i:\bp\.?\s?o\.?\s+box\s+\d+)",
            )?,
            zip: re(
                "zip",
                r"(?x)
                (?i:\bzip(?:\s*code)?\s*:?\s*)(\d{5}(?:-\d{4})?)\b
                | \b([A-Z]{2}),?\s+(\d{5}(?:-\d{4})?)\b",
            )?,
        })
    }

    /// Pattern candidates; `state_codes` (two capitals) tell a ZIP code after a state code from a
    /// number after a word in capitals ("AT 23000").
    pub fn detect(&self, text: &str, state_codes: &HashSet<String>, out: &mut Vec<Candidate>) {
        let push = |out: &mut Vec<Candidate>, start, end, category, priority| {
            out.push(Candidate {
                start,
                end,
                category,
                priority,
            });
        };
        for m in self.email.find_iter(text) {
            push(out, m.start(), m.end(), Category::Email, 90);
        }
        for m in self.url.find_iter(text) {
            let s = m.as_str().trim_end_matches(['.', ',', ')', ';', ':']);
            push(out, m.start(), m.start() + s.len(), Category::Url, 88);
        }
        for m in self.ip.find_iter(text) {
            // "80/48/7.45.34.7": the end of a list of values, not an address.
            let glued = text[..m.start()].ends_with(['/', '.']);
            if !glued
                && m.as_str()
                    .split('.')
                    .all(|p| p.parse::<u16>().is_ok_and(|v| v <= 255))
            {
                push(out, m.start(), m.end(), Category::Ip, 86);
            }
        }
        for m in self.ssn.find_iter(text) {
            push(out, m.start(), m.end(), Category::Ssn, 85);
        }
        for m in self.phone.find_iter(text) {
            let before = &text[floor_boundary(text, m.start().saturating_sub(16))..m.start()]
                .to_ascii_lowercase();
            if value_range(m.as_str()) && !PHONE_CUES.iter().any(|w| before.contains(w)) {
                continue;
            }
            let fax = before.contains("fax");
            push(
                out,
                m.start(),
                m.end(),
                if fax { Category::Fax } else { Category::Phone },
                80,
            );
        }
        for c in self.pager.captures_iter(text) {
            if let Some(g) = c.get(1) {
                push(out, g.start(), g.end(), Category::Phone, 79);
            }
        }
        for c in self.id.captures_iter(text) {
            if let Some(g) = c.get(1) {
                push(out, g.start(), g.end(), Category::Id, 75);
            }
        }
        for m in self.long_number.find_iter(text) {
            push(out, m.start(), m.end(), Category::Id, 74);
        }
        for m in self.date.find_iter(text) {
            if dates::plausible(text, m.start(), m.end()) {
                // "1-2 Nov": a range of days before a date written day first.
                let start = if m.as_str().contains(char::is_alphabetic) {
                    dates::day_range_start(text, m.start())
                } else {
                    m.start()
                };
                push(out, start, m.end(), Category::Date, 70);
            }
        }
        dates::month_alone(text, out);
        dates::month_short_year(text, out);
        for c in self.age.captures_iter(text) {
            if let Some(g) = c.get(1).or_else(|| c.get(2)).or_else(|| c.get(3)) {
                push(out, g.start(), g.end(), Category::Age, 65);
            }
        }
        for m in self.address.find_iter(text) {
            push(out, m.start(), m.end(), Category::Address, 60);
        }
        for c in self.zip.captures_iter(text) {
            let after_state = c
                .get(2)
                .is_some_and(|code| state_codes.contains(code.as_str()));
            if let Some(g) = c.get(1).or_else(|| c.get(3).filter(|_| after_state)) {
                push(out, g.start(), g.end(), Category::Zip, 55);
            }
        }
    }
}

/// Words before a phone number that make a number shaped like a range one ("cell 555-1234").
const PHONE_CUES: &[&str] = &[
    "phone", "tel", "cell", "pager", "beeper", "call", "#", "number", "ph", "home", "work", "fax",
    "mobile", "contact",
];

/// `ddd-dddd` read as a range of values rather than a local number: the second number is larger
/// than the first and below 2000 ("SVR 900-1300", "TV 500-1000", "HR 100-1112").
fn value_range(s: &str) -> bool {
    let Some((lo, hi)) = s.split_once('-') else {
        return false;
    };
    let (Ok(lo), Ok(hi)) = (lo.parse::<u32>(), hi.parse::<u32>()) else {
        return false;
    };
    lo.to_string().len() == 3 && lo < hi && hi < 2000
}

/// The largest char boundary at or below `i`.
pub(crate) fn floor_boundary(text: &str, mut i: usize) -> usize {
    if i >= text.len() {
        return text.len();
    }
    while !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}
