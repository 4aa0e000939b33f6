//! Evaluation against a gold standard in the PhysioNet `deid` format.
//!
//! `id.text` holds records `START_OF_RECORD=<patient>||||<note>||||\n<text>||||END_OF_RECORD`;
//! `id-phi.phrase` holds one gold span a line: `<patient> <note> <start> <end> <category> <text>`,
//! offsets 0-based, end-exclusive, counted in characters from the first character after the
//! header's newline.
//!
//! **Definitions.**
//! - *Recall* (span level): a gold span is **found** when every alphanumeric character in it is
//!   covered by some detected span, whatever the detected category. Recall = found / gold spans,
//!   overall and per gold category.
//! - *Precision* (span level): a detected span is **correct** when it covers at least one
//!   alphanumeric character of some gold span. Precision = correct / detected spans, overall and
//!   per detected category. A detection the gold does not mark (e.g. a hospital unit number, an
//!   age over 89 if the gold has none) counts against precision.
//! - *Safe Harbor recall* leaves out the gold `DateYear` spans (a year alone may stay under HIPAA
//!   Safe Harbor; this crate detects them by default, see `Options::years`).
//!
//! Offsets are converted from characters to bytes before comparison.

use std::collections::BTreeMap;

use crate::{Category, PatientIdentity, Scrubber, Span};

/// One note of the corpus.
#[derive(Debug, Clone)]
pub struct Note {
    /// Patient number.
    pub patient: u32,
    /// Note number.
    pub note: u32,
    /// The note text.
    pub text: String,
    /// Gold spans: byte offsets and the gold category name.
    pub gold: Vec<(usize, usize, String)>,
}

/// Parses `id.text` and `id-phi.phrase`. Records without a gold line have no gold spans.
pub fn load(text: &str, phrase: &str) -> Vec<Note> {
    let mut notes = Vec::new();
    let mut index: BTreeMap<(u32, u32), usize> = BTreeMap::new();
    for rec in text.split("START_OF_RECORD=").skip(1) {
        let mut parts = rec.splitn(3, "||||");
        let (Some(p), Some(n), Some(rest)) = (parts.next(), parts.next(), parts.next()) else {
            continue;
        };
        let (Ok(patient), Ok(note)) = (p.trim().parse::<u32>(), n.trim().parse::<u32>()) else {
            continue;
        };
        let body = rest.strip_prefix('\n').unwrap_or(rest);
        let body = body
            .rsplit_once("||||END_OF_RECORD")
            .map(|(b, _)| b)
            .unwrap_or(body);
        index.insert((patient, note), notes.len());
        notes.push(Note {
            patient,
            note,
            text: body.to_string(),
            gold: Vec::new(),
        });
    }
    for line in phrase.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 5 {
            continue;
        }
        let nums: Vec<Option<usize>> = f[..4].iter().map(|x| x.parse().ok()).collect();
        let (Some(p), Some(n), Some(s), Some(e)) = (nums[0], nums[1], nums[2], nums[3]) else {
            continue;
        };
        let Some(&i) = index.get(&(p as u32, n as u32)) else {
            continue;
        };
        let t = &notes[i].text;
        let byte = |c: usize| t.char_indices().nth(c).map(|(b, _)| b).unwrap_or(t.len());
        let (bs, be) = (byte(s), byte(e));
        notes[i].gold.push((bs, be, f[4].to_string()));
    }
    notes
}

/// Counts for one category.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Tally {
    /// Spans (gold for recall, detected for precision).
    pub total: usize,
    /// Found (recall) or correct (precision).
    pub hits: usize,
}

impl Tally {
    /// hits / total (1 when there is nothing to count).
    pub fn ratio(&self) -> f64 {
        if self.total == 0 {
            1.0
        } else {
            self.hits as f64 / self.total as f64
        }
    }
}

/// The figures of one evaluation run.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// Recall per gold category.
    pub recall: BTreeMap<String, Tally>,
    /// Precision per detected category.
    pub precision: BTreeMap<Category, Tally>,
    /// Overall recall.
    pub recall_all: Tally,
    /// Recall without `DateYear`.
    pub recall_safe_harbor: Tally,
    /// Overall precision.
    pub precision_all: Tally,
}

/// Scores detected spans against the gold spans of one note.
pub fn score(note: &Note, spans: &[Span], report: &mut Report) {
    let t = note.text.as_bytes();
    let mut covered = vec![false; t.len()];
    for s in spans {
        for c in covered.iter_mut().take(s.end.min(t.len())).skip(s.start) {
            *c = true;
        }
    }
    let mut gold_mask = vec![false; t.len()];
    for (s, e, cat) in &note.gold {
        let (s, e) = ((*s).min(t.len()), (*e).min(t.len()));
        let found = (s..e).all(|i| !t[i].is_ascii_alphanumeric() || covered[i]);
        for (i, m) in gold_mask.iter_mut().enumerate().take(e).skip(s) {
            if t[i].is_ascii_alphanumeric() {
                *m = true;
            }
        }
        for tally in [
            report.recall.entry(cat.clone()).or_default(),
            &mut report.recall_all,
        ] {
            tally.total += 1;
            tally.hits += found as usize;
        }
        if cat != "DateYear" {
            report.recall_safe_harbor.total += 1;
            report.recall_safe_harbor.hits += found as usize;
        }
    }
    for s in spans {
        let ok = (s.start..s.end.min(t.len())).any(|i| gold_mask[i]);
        for tally in [
            report.precision.entry(s.category).or_default(),
            &mut report.precision_all,
        ] {
            tally.total += 1;
            tally.hits += ok as usize;
        }
    }
}

/// Detects with an empty identity over every note and scores.
pub fn evaluate(scrubber: &Scrubber, notes: &[Note]) -> Report {
    let mut report = Report::default();
    let id = PatientIdentity::empty();
    for n in notes {
        let spans = scrubber.detect(&n.text, &id);
        score(n, &spans, &mut report);
    }
    report
}
