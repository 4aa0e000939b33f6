//! The small FHIR parsers (dates, references, search queries) on arbitrary text: no panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = salus_fhir::date::parse_range(text);
        let _ = salus_fhir::reference::parse(text);
        let pairs: Vec<(String, String)> = text
            .split('&')
            .map(|p| {
                let (k, v) = p.split_once('=').unwrap_or((p, ""));
                (k.to_owned(), v.to_owned())
            })
            .collect();
        let _ = salus_fhir::search::parse_query("Observation", &pairs, true);
    }
});
