//! FHIRPath on arbitrary text: parsing never panics, and whatever parses evaluates on a small
//! fixed resource without panicking and within its step budget.
#![no_main]

use libfuzzer_sys::fuzz_target;
use salus_fhirpath::{parse, EvalError, Evaluator};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(expr) = parse(text) else {
        return;
    };
    let resource = serde_json::json!({
        "resourceType": "Patient", "id": "p1",
        "name": [{"family": "Doe", "given": ["A", "B"], "_given": [null, {"id": "x"}]}],
        "birthDate": "1980-05-17",
        "_birthDate": {"extension": [{"url": "u", "valueDateTime": "1980-05-17T10:00:00Z"}]},
        "contained": [{"resourceType": "Observation", "status": "final", "code": {"text": "c"}, "valueQuantity": {"value": 1.5}}]
    });
    let budget = 100_000;
    match Evaluator::r4().with_budget(budget).evaluate(&expr, &resource) {
        Ok(items) => assert!(items.len() as u64 <= budget),
        Err(EvalError::BudgetExceeded(b)) => assert_eq!(b, budget),
        Err(_) => {}
    }
});
