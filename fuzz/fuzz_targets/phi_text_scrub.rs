//! Free-text PHI scrubbing on arbitrary input: detect, scrub (tags and surrogates, with a date
//! shift) and XHTML scrubbing must never panic, and spans must lie on char boundaries.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use salus_phi_text::{Options, PatientIdentity, Replacement, Scrubber};

fn scrubber() -> &'static Scrubber {
    static S: OnceLock<Scrubber> = OnceLock::new();
    S.get_or_init(|| Scrubber::new(Options::new()).expect("default options"))
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let id = PatientIdentity::builder()
        .name(["Ann"], "Lee")
        .identifier("12345")
        .phone("555-123-4567")
        .birth_ymd(1950, 2, 28)
        .build();
    for span in scrubber().detect(text, &id) {
        assert!(text.is_char_boundary(span.start) && text.is_char_boundary(span.end));
    }
    let shift = i64::from(data.first().copied().unwrap_or(0)) * 37 - 4000;
    let _ = scrubber().scrub(text, &id, &Replacement::tags().shift_dates(Some(shift)));
    if let Ok(r) = Replacement::surrogates(b"fuzz-key-0123456789") {
        let _ = scrubber().scrub(text, &id, &r.clone().shift_dates(Some(-shift)));
        let _ = scrubber().scrub_xhtml(text, &id, &r);
    }
});
