//! A steward's policy text: parsing and validation never panic, and a policy that parses runs
//! on a small resource without panicking (its expressions under the FHIRPath budget).
#![no_main]

use libfuzzer_sys::fuzz_target;
use salus_deid::{DefaultKeys, Engine, IdentityBook, Origin, Policy, Run};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(policy) = Policy::parse(text) else { return };
    let today = chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
    let Ok(engine) = Engine::build(policy, DefaultKeys::derive(b"fuzz"), today) else { return };
    let resource = serde_json::json!({"resourceType": "Patient", "id": "p", "name": [{"family": "Doe", "given": ["Jan"]}],
        "birthDate": "1970-01-01", "text": {"status": "generated", "div": "<div>Jan Doe</div>"}});
    let mut run = Run::new([0; 32], &engine);
    let _ = engine.deidentify(resource, &Origin::default(), &IdentityBook::new(), &mut run);
});
