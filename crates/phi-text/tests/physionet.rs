//! Recall and precision on the PhysioNet deid gold standard (patients 1-130), in "patterns +
//! dictionaries" mode (empty identity). Definitions: `salus_phi_text::eval`.
//!
//! The floors asserted are just below the figures this version reaches (measured: recall 0.982,
//! Safe Harbor recall 0.982, precision 0.933): both meet the product targets (recall 0.98,
//! precision 0.85).

use salus_phi_text::{eval, Options, Scrubber};

#[test]
fn physionet_gold_standard() {
    let dir = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/fixtures/external/deid/physionet-deid-1.1"
    );
    let (Ok(text), Ok(phrase)) = (
        std::fs::read_to_string(format!("{dir}/id.text")),
        std::fs::read_to_string(format!("{dir}/id-phi.phrase")),
    ) else {
        eprintln!("skipped: the PhysioNet deid fixture is not at {dir}");
        return;
    };
    let notes = eval::load(&text, &phrase);
    assert_eq!(notes.len(), 2038);
    let scrubber = Scrubber::new(Options::new()).unwrap();
    let report = eval::evaluate(&scrubber, &notes);
    eprintln!(
        "recall {:.4} (safe harbor {:.4}), precision {:.4}",
        report.recall_all.ratio(),
        report.recall_safe_harbor.ratio(),
        report.precision_all.ratio()
    );
    for (c, t) in &report.recall {
        eprintln!("  recall {c}: {}/{} = {:.4}", t.hits, t.total, t.ratio());
    }
    for (c, t) in &report.precision {
        eprintln!("  precision {c}: {}/{} = {:.4}", t.hits, t.total, t.ratio());
    }
    assert_eq!(report.recall_all.total, 1501);
    assert!(
        report.recall_all.ratio() >= 0.975,
        "recall {}",
        report.recall_all.ratio()
    );
    assert!(report.recall_safe_harbor.ratio() >= 0.975);
    assert!(
        report.precision_all.ratio() >= 0.92,
        "precision {}",
        report.precision_all.ratio()
    );
    assert!(report.recall["Date"].ratio() >= 0.98);
    assert!(report.recall["DateYear"].ratio() >= 0.95);
    assert!(report.recall["HCPName"].ratio() >= 0.97);
    assert!(report.recall["Location"].ratio() >= 0.85);
    assert!(report.recall["RelativeProxyName"].ratio() >= 0.83);
    assert!(report.recall["Phone"].ratio() >= 0.95);
    assert!(report.precision[&salus_phi_text::Category::Name].ratio() >= 0.89);
    assert!(report.precision[&salus_phi_text::Category::Date].ratio() >= 0.95);
}
