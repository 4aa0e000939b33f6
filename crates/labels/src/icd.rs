//! ICD-10-CM codes and prefix ranges, compiled into one sorted table of disjoint segments.
//!
//! A range `F10-F19` means every code whose leading characters fall between `F10` and `F19`:
//! `F10`, `F10.20`, `F19.99` all match, `F20` does not. A single code `B20` is the range `B20-B20`:
//! the category and everything under it. Codes are compared without the dot and in upper case, so
//! `F32.9`, `F329` and `f32.9` are the same code.
//!
//! Each range becomes the half-open interval `[start, end + '~')` on normalized codes: `~` sorts
//! after every digit and letter, so the bound lies above every code that `end` is a prefix of and
//! below every code after it. The intervals of all value sets (minus their exclusions) are cut into
//! disjoint segments, each with the union of the labels that cover it; a lookup is one binary
//! search.

use crate::LabelSet;

/// The longest normalized code accepted (ICD-10-CM codes have at most 7 characters).
const MAX_LEN: usize = 8;

/// Sorts after every character of a normalized code.
const ABOVE: u8 = b'~';

/// A normalized code on the stack: no allocation per lookup.
#[derive(Clone, Copy)]
pub(crate) struct Normalized {
    bytes: [u8; MAX_LEN],
    len: usize,
}

impl Normalized {
    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

/// `F32.9` → `F329`: drops dots, upper-cases letters, trims surrounding whitespace. `None` for
/// anything that cannot be an ICD-10-CM code (wrong characters, too long, too short).
pub(crate) fn normalize(code: &str) -> Option<Normalized> {
    let mut out = Normalized {
        bytes: [0; MAX_LEN],
        len: 0,
    };
    for b in code.trim().bytes() {
        match b {
            b'.' => continue,
            b'0'..=b'9' | b'A'..=b'Z' | b'a'..=b'z' => {
                if out.len == MAX_LEN {
                    return None;
                }
                out.bytes[out.len] = b.to_ascii_uppercase();
                out.len += 1;
            }
            _ => return None,
        }
    }
    (out.len >= 3).then_some(out)
}

/// Checks the shape of a code written in the data file: a letter, a digit, then 1 to 5 digits or
/// letters (dot optional after the third character).
pub(crate) fn parse_data_code(code: &str) -> Result<Vec<u8>, &'static str> {
    if code != code.trim() {
        return Err("surrounding whitespace");
    }
    if let Some(dot) = code.find('.') {
        if dot != 3 || code[dot + 1..].contains('.') {
            return Err("a dot may only follow the three-character category");
        }
    }
    let Some(n) = normalize(code) else {
        return Err("not an ICD-10-CM code (letter, digit, then 1 to 5 letters or digits)");
    };
    let b = n.as_bytes();
    if b.len() > 7
        || !b[0].is_ascii_uppercase()
        || !b[1].is_ascii_digit()
        || code.bytes().any(|c| c.is_ascii_lowercase())
    {
        return Err(
            "not an ICD-10-CM code (upper-case letter, digit, then 1 to 5 letters or digits)",
        );
    }
    Ok(b.to_vec())
}

/// A prefix range `start..=end` (both normalized), as written in the data file.
#[derive(Debug, Clone)]
pub(crate) struct PrefixRange {
    pub(crate) start: Vec<u8>,
    pub(crate) end: Vec<u8>,
}

impl PrefixRange {
    /// `"F10-F19"` or `"B20"`.
    pub(crate) fn parse(text: &str) -> Result<PrefixRange, String> {
        let (start, end) = match text.split_once('-') {
            Some((a, b)) => (a, b),
            None => (text, text),
        };
        let start = parse_data_code(start).map_err(|e| format!("bad range \"{text}\": {e}"))?;
        let end = parse_data_code(end).map_err(|e| format!("bad range \"{text}\": {e}"))?;
        if start > end {
            return Err(format!("bad range \"{text}\": start is after end"));
        }
        Ok(PrefixRange { start, end })
    }

    /// The half-open interval on normalized codes.
    fn interval(&self) -> Interval {
        let mut upper = self.end.clone();
        upper.push(ABOVE);
        (self.start.clone(), upper)
    }
}

/// One value set's ranges as the table compiler needs them.
pub(crate) struct RangeSet {
    pub(crate) include: Vec<PrefixRange>,
    pub(crate) exclude: Vec<PrefixRange>,
    pub(crate) labels: LabelSet,
}

/// A half-open interval `[start, end)` on normalized codes.
type Interval = (Vec<u8>, Vec<u8>);

/// One value set's ranges as intervals.
struct Intervals {
    include: Vec<Interval>,
    exclude: Vec<Interval>,
    labels: LabelSet,
}

/// Disjoint segments sorted by start: segment `i` covers `[starts[i], starts[i + 1])`.
#[derive(Debug, Default)]
pub(crate) struct RangeTable {
    starts: Vec<Box<[u8]>>,
    labels: Vec<LabelSet>,
}

impl RangeTable {
    pub(crate) fn compile(sets: &[RangeSet]) -> RangeTable {
        let intervals: Vec<Intervals> = sets
            .iter()
            .map(|s| Intervals {
                include: s.include.iter().map(PrefixRange::interval).collect(),
                exclude: s.exclude.iter().map(PrefixRange::interval).collect(),
                labels: s.labels,
            })
            .collect();
        let mut bounds: Vec<Vec<u8>> = intervals
            .iter()
            .flat_map(|s| s.include.iter().chain(&s.exclude))
            .flat_map(|(a, b)| [a.clone(), b.clone()])
            .collect();
        bounds.sort();
        bounds.dedup();

        let within = |point: &[u8], list: &[Interval]| {
            list.iter()
                .any(|(a, b)| a.as_slice() <= point && point < b.as_slice())
        };
        let mut table = RangeTable::default();
        for bound in bounds {
            // Labels are constant over a segment (every interval edge is a bound), so its first
            // point stands for all of it.
            let labels = intervals
                .iter()
                .filter(|s| within(&bound, &s.include) && !within(&bound, &s.exclude))
                .fold(LabelSet::EMPTY, |acc, s| acc.union(s.labels));
            if table.labels.last() == Some(&labels)
                || (table.labels.is_empty() && labels.is_empty())
            {
                continue; // same as the segment before: merge
            }
            table.starts.push(bound.into_boxed_slice());
            table.labels.push(labels);
        }
        table
    }

    pub(crate) fn lookup(&self, code: &str) -> LabelSet {
        let Some(code) = normalize(code) else {
            return LabelSet::EMPTY;
        };
        let code = code.as_bytes();
        match self.starts.partition_point(|s| s.as_ref() <= code) {
            0 => LabelSet::EMPTY,
            i => self.labels[i - 1],
        }
    }

    /// Number of segments, for tests.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.starts.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Label;

    fn set(include: &[&str], exclude: &[&str], labels: &[Label]) -> RangeSet {
        RangeSet {
            include: include
                .iter()
                .map(|r| PrefixRange::parse(r).unwrap())
                .collect(),
            exclude: exclude
                .iter()
                .map(|r| PrefixRange::parse(r).unwrap())
                .collect(),
            labels: labels.iter().fold(LabelSet::EMPTY, |s, l| s.with(*l)),
        }
    }

    #[test]
    fn normalizes_dots_case_and_whitespace() {
        assert_eq!(normalize("F32.9").unwrap().as_bytes(), b"F329");
        assert_eq!(normalize(" f32.a ").unwrap().as_bytes(), b"F32A");
        assert!(normalize("F3").is_none());
        assert!(normalize("F32-9").is_none());
        assert!(normalize("F32.999999").is_none());
        assert!(normalize("").is_none());
    }

    #[test]
    fn data_codes_are_checked() {
        assert!(parse_data_code("F10").is_ok());
        assert!(parse_data_code("O98.7").is_ok());
        assert!(parse_data_code("f10").is_err());
        assert!(parse_data_code("F1.0").is_err());
        assert!(parse_data_code("10F").is_err());
        assert!(parse_data_code(" F10").is_err());
        assert!(PrefixRange::parse("F19-F10").is_err());
        assert!(PrefixRange::parse("F10-").is_err());
    }

    #[test]
    fn prefix_ranges_with_exclusions() {
        let table = RangeTable::compile(&[
            set(&["F01-F99"], &["F10-F19"], &[Label::Psy, Label::Mh]),
            set(&["F10-F19"], &["F17"], &[Label::Sud]),
            set(&["B20", "O98.7"], &[], &[Label::Hiv]),
        ]);
        let psy = LabelSet::EMPTY.with(Label::Psy).with(Label::Mh);
        let sud = LabelSet::EMPTY.with(Label::Sud);
        let hiv = LabelSet::EMPTY.with(Label::Hiv);
        for (code, want) in [
            ("F01", psy),
            ("F01.50", psy),
            ("F09", psy),
            ("F10", sud),
            ("F11.20", sud),
            ("F1120", sud),
            ("F16.99", sud),
            ("F17", LabelSet::EMPTY),
            ("F17.210", LabelSet::EMPTY),
            ("F18.10", sud),
            ("F19.99", sud),
            ("F20.9", psy),
            ("F32.9", psy),
            ("F99", psy),
            ("G30.9", LabelSet::EMPTY),
            ("F00", LabelSet::EMPTY),
            ("E11.9", LabelSet::EMPTY),
            ("B20", hiv),
            ("B19.9", LabelSet::EMPTY),
            ("B21", LabelSet::EMPTY),
            ("O98.71", hiv),
            ("O98.6", LabelSet::EMPTY),
            ("O98.8", LabelSet::EMPTY),
            ("Z99", LabelSet::EMPTY),
            ("A00", LabelSet::EMPTY),
        ] {
            assert_eq!(table.lookup(code), want, "{code}");
        }
        // Adjacent segments with the same labels are merged.
        assert!(table.len() <= 12, "{}", table.len());
    }
}
