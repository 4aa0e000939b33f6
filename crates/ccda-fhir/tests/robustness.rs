//! No input panics the parser or the mappers, and what they refuse is refused with a position
//! and a reason. The sample documents are cut at arbitrary points and have arbitrary bytes
//! replaced, and arbitrary text is mapped as a document body (the `ccda_map` fuzz target does
//! the same without bounds).

use proptest::prelude::*;
use salus_ccda_fhir::{map_bytes, Limits, MapOptions};

const SAMPLE: &str = include_str!("../../../fixtures/ccda/mental_health_ccd.xml");

const HEAD: &str = r#"<ClinicalDocument xmlns="urn:hl7-org:v3" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><id root="1.2.3" extension="p"/><recordTarget><patientRole><id root="1.2.3.4" extension="x"/></patientRole></recordTarget><component><structuredBody>"#;
const TAIL: &str = "</structuredBody></component></ClinicalDocument>";

fn map(bytes: &[u8]) {
    match map_bytes(bytes, &Limits::default(), &MapOptions::default()) {
        Ok(mapped) => {
            // Whatever maps is one Patient and one DocumentReference at least.
            assert!(mapped
                .resources
                .iter()
                .any(|r| r.resource["resourceType"] == "Patient"));
            for r in &mapped.resources {
                assert!(
                    r.position.starts_with("/ClinicalDocument"),
                    "{}",
                    r.position
                );
            }
        }
        Err(e) => {
            assert!(!e.position.is_empty() && !e.reason.is_empty(), "{e:?}");
        }
    }
}

#[test]
fn the_sample_maps_and_every_truncation_is_refused_cleanly() {
    map(SAMPLE.as_bytes());
    // Every cut that ends inside the root element is a syntax error with a position.
    for cut in (0..SAMPLE.len()).step_by(97) {
        let head = &SAMPLE.as_bytes()[..cut];
        if let Err(e) = map_bytes(head, &Limits::default(), &MapOptions::default()) {
            assert!(!e.reason.is_empty());
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        map(&bytes);
    }

    #[test]
    fn mutated_samples_never_panic(
        edits in proptest::collection::vec((0usize..SAMPLE.len(), any::<u8>()), 1..8),
        cut in 0usize..SAMPLE.len(),
    ) {
        let mut bytes = SAMPLE.as_bytes().to_vec();
        for (at, b) in edits {
            bytes[at] = b;
        }
        map(&bytes);
        map(&bytes[..cut]);
    }

    #[test]
    fn arbitrary_bodies_never_panic(body in "(<(section|entry|observation|act|organizer|value|code|effectiveTime|low|high|component|entryRelationship|substanceAdministration)( (code|value|xsi:type|nullFlavor|root|unit|typeCode|moodCode)=\"[A-Za-z0-9.:#-]{0,8}\")*/?>|</(section|entry|observation|act|component)>|[a-z ]{0,5}){0,40}") {
        let doc = format!("{HEAD}{body}{TAIL}");
        map(doc.as_bytes());
    }
}
