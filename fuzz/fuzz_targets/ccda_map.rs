//! C-CDA parse and map: no input may panic. The bytes are tried as a whole document, and (when
//! they are text) as the body of a minimal document, so that the section mappers see
//! arbitrary entries and not only the parser's refusals.
#![no_main]

use libfuzzer_sys::fuzz_target;
use salus_ccda_fhir::{map_bytes, Limits, MapOptions};

const HEAD: &str = r#"<ClinicalDocument xmlns="urn:hl7-org:v3" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:sdtc="urn:hl7-org:sdtc"><id root="1.2.3" extension="fuzz"/><recordTarget><patientRole><id root="1.2.3.4" extension="p"/></patientRole></recordTarget><component><structuredBody>"#;
const TAIL: &str = "</structuredBody></component></ClinicalDocument>";

fuzz_target!(|data: &[u8]| {
    let limits = Limits::default();
    let options = MapOptions::default();
    let _ = map_bytes(data, &limits, &options);
    if let Ok(text) = std::str::from_utf8(data) {
        let doc = format!("{HEAD}{text}{TAIL}");
        let _ = map_bytes(doc.as_bytes(), &limits, &options);
    }
});
