//! Recall, precision and throughput on the PhysioNet deid gold standard; prints JSON.
//!
//!     cargo run --release -p salus-phi-text --example physionet_eval [-- DIR] [--misses]
//!
//! DIR defaults to `../shared/fixtures/external/deid/physionet-deid-1.1` next to the repository.
//! `PHI_EVAL_PATIENTS=1-90` restricts the run to a range of patient numbers (inclusive), so rules
//! can be developed on some patients and checked on the others.

use std::time::Instant;

use salus_phi_text::{eval, Options, PatientIdentity, Replacement, Scrubber};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let default = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/fixtures/external/deid/physionet-deid-1.1"
    );
    let dir = args
        .iter()
        .find(|a| !a.starts_with("--"))
        .cloned()
        .unwrap_or_else(|| default.to_string());
    let (Ok(text), Ok(phrase)) = (
        std::fs::read_to_string(format!("{dir}/id.text")),
        std::fs::read_to_string(format!("{dir}/id-phi.phrase")),
    ) else {
        println!("{{\"skipped\": true, \"reason\": \"fixture not found\"}}");
        return;
    };
    let mut notes = eval::load(&text, &phrase);
    if let Ok(range) = std::env::var("PHI_EVAL_PATIENTS") {
        let (lo, hi) = range.split_once('-').unwrap_or((&range, &range));
        let lo: u32 = lo.trim().parse().expect("PHI_EVAL_PATIENTS: first patient");
        let hi: u32 = hi.trim().parse().expect("PHI_EVAL_PATIENTS: last patient");
        notes.retain(|n| (lo..=hi).contains(&n.patient));
    }
    let scrubber = Scrubber::new(Options::new()).expect("options");
    let report = eval::evaluate(&scrubber, &notes);
    if args.iter().any(|a| a == "--misses") {
        // Local debugging only: prints gold text that was missed and false positives.
        let id = PatientIdentity::empty();
        for n in &notes {
            let spans = scrubber.detect(&n.text, &id);
            for (s, e, c) in &n.gold {
                let covered = (*s..*e).all(|i| {
                    !n.text.as_bytes()[i].is_ascii_alphanumeric()
                        || spans.iter().any(|sp| sp.start <= i && i < sp.end)
                });
                if !covered {
                    let a = n.text.floor_char_boundary(s.saturating_sub(30));
                    let b = n.text.ceil_char_boundary(e + 20);
                    eprintln!(
                        "MISS {c}: {:?} [{}] {:?}",
                        &n.text[a..*s],
                        &n.text[*s..*e],
                        &n.text[*e..b]
                    );
                }
            }
            for sp in &spans {
                let ok = n.gold.iter().any(|(s, e, _)| sp.start < *e && *s < sp.end);
                if !ok {
                    let a = n.text.floor_char_boundary(sp.start.saturating_sub(30));
                    let b = n.text.ceil_char_boundary(sp.end + 20);
                    eprintln!(
                        "FP {}: {:?} [{}] {:?}",
                        sp.category,
                        &n.text[a..sp.start],
                        &n.text[sp.start..sp.end],
                        &n.text[sp.end..b]
                    );
                }
            }
        }
    }
    // Throughput: scrub every note with tags on one thread, best of 3.
    let bytes: usize = notes.iter().map(|n| n.text.len()).sum();
    let id = PatientIdentity::empty();
    let r = Replacement::tags().shift_dates(Some(17));
    let mut best = f64::MAX;
    for _ in 0..3 {
        let t = Instant::now();
        let mut n_out = 0usize;
        for n in &notes {
            n_out += scrubber.scrub(&n.text, &id, &r).text.len();
        }
        std::hint::black_box(n_out);
        best = best.min(t.elapsed().as_secs_f64());
    }
    let mbps = bytes as f64 / 1e6 / best;
    let recall: Vec<String> = report
        .recall
        .iter()
        .map(|(c, t)| {
            format!(
                "\"{c}\": {{\"gold\": {}, \"found\": {}, \"recall\": {:.4}}}",
                t.total,
                t.hits,
                t.ratio()
            )
        })
        .collect();
    let precision: Vec<String> = report
        .precision
        .iter()
        .map(|(c, t)| {
            format!(
                "\"{c}\": {{\"detected\": {}, \"correct\": {}, \"precision\": {:.4}}}",
                t.total,
                t.hits,
                t.ratio()
            )
        })
        .collect();
    println!(
        "{{\n  \"notes\": {},\n  \"bytes\": {bytes},\n  \"seconds\": {best:.4},\n  \"phi_text_mb_per_s\": {mbps:.2},\n  \"recall\": {:.4},\n  \"recall_safe_harbor\": {:.4},\n  \"precision\": {:.4},\n  \"gold_spans\": {},\n  \"detected_spans\": {},\n  \"recall_by_gold_category\": {{{}}},\n  \"precision_by_detected_category\": {{{}}}\n}}",
        notes.len(),
        report.recall_all.ratio(),
        report.recall_safe_harbor.ratio(),
        report.precision_all.ratio(),
        report.recall_all.total,
        report.precision_all.total,
        recall.join(", "),
        precision.join(", ")
    );
}
