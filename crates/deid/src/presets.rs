//! Built-in policies.

/// The built-in presets, by name: `safe-harbor` (all 18 HIPAA Safe Harbor identifiers, in
/// structured fields and free text) and `limited-data-set` (keeps dates, city, state, ZIP).
pub const PRESETS: [(&str, &str); 2] = [
    ("safe-harbor", include_str!("../presets/safe-harbor.json")),
    (
        "limited-data-set",
        include_str!("../presets/limited-data-set.json"),
    ),
];

/// A preset's policy text by name.
pub fn preset(name: &str) -> Option<&'static str> {
    PRESETS
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, text)| *text)
}
