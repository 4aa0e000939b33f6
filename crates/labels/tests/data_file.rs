//! The embedded data file: it compiles, and what it holds.

use salus_labels::Labeller;

#[test]
fn builtin_data_compiles() {
    let labeller = Labeller::from_toml(include_str!("../data/sensitivity.toml"))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(labeller.version(), Labeller::builtin().version());
    println!("data version {}", labeller.version());
    println!(
        "{:<24} {:<44} {:>6} {:>7} {:>8}  labels",
        "value set", "system", "codes", "ranges", "excluded"
    );
    for set in labeller.value_sets() {
        let labels: Vec<&str> = set.labels.iter().map(|l| l.code).collect();
        println!(
            "{:<24} {:<44} {:>6} {:>7} {:>8}  {}",
            set.id,
            set.system,
            set.codes,
            set.ranges,
            set.excluded_ranges,
            labels.join(" ")
        );
    }
}
