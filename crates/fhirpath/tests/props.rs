//! Property tests: no input makes the parser or the evaluator panic, and evaluation stays
//! within its budget.

use proptest::prelude::*;
use salus_fhirpath::{parse, EvalError, Evaluator};
use serde_json::json;

fn resource() -> serde_json::Value {
    json!({
        "resourceType": "Patient", "id": "p1",
        "name": [{"family": "Doe", "given": ["A", "B"], "_given": [null, {"id": "x"}]}],
        "birthDate": "1980-05-17", "_birthDate": {"extension": [{"url": "u", "valueDateTime": "1980-05-17T10:00:00Z"}]},
        "telecom": [{"system": "phone", "value": "555"}],
        "contained": [{"resourceType": "Observation", "status": "final", "code": {"text": "c"}, "valueQuantity": {"value": 1.5}}],
        "multipleBirthInteger": 2
    })
}

/// Small expressions from a grammar of the supported constructs.
fn expr() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        Just("name".to_string()),
        Just("name.given".to_string()),
        Just("birthDate".to_string()),
        Just("$this".to_string()),
        Just("%resource".to_string()),
        Just("contained".to_string()),
        Just("'abc'".to_string()),
        Just("@2020-01-01".to_string()),
        Just("@2020-01-01T10:00:00Z".to_string()),
        Just("{}".to_string()),
        Just("true".to_string()),
        Just("5 'mg'".to_string()),
        (-5i64..50).prop_map(|i| i.to_string()),
        Just("1.5".to_string()),
        Just("nodesByType('date')".to_string()),
        Just("descendants()".to_string()),
    ];
    leaf.prop_recursive(4, 48, 3, |inner| {
        let op = prop_oneof![
            Just("+"),
            Just("-"),
            Just("*"),
            Just("/"),
            Just("div"),
            Just("mod"),
            Just("&"),
            Just("|"),
            Just("="),
            Just("!="),
            Just("~"),
            Just("<"),
            Just(">="),
            Just("and"),
            Just("or"),
            Just("xor"),
            Just("implies"),
            Just("in"),
            Just("contains"),
        ];
        let func = prop_oneof![
            Just("where"),
            Just("select"),
            Just("exists"),
            Just("all"),
            Just("repeat"),
            Just("substring"),
            Just("startsWith"),
            Just("contains"),
            Just("skip"),
            Just("take"),
            Just("union"),
            Just("matches"),
            Just("indexOf"),
        ];
        let nullary = prop_oneof![
            Just("first()"),
            Just("last()"),
            Just("count()"),
            Just("empty()"),
            Just("not()"),
            Just("children()"),
            Just("descendants()"),
            Just("toString()"),
            Just("length()"),
            Just("distinct()"),
            Just("ofType(date)"),
            Just("is(string)"),
            Just("lower()"),
        ];
        prop_oneof![
            (inner.clone(), op, inner.clone()).prop_map(|(a, o, b)| format!("({a}) {o} ({b})")),
            (inner.clone(), func, inner.clone()).prop_map(|(a, f, b)| format!("({a}).{f}({b})")),
            (inner.clone(), nullary).prop_map(|(a, f)| format!("({a}).{f}")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a})[{b}]")),
            (inner.clone(), inner.clone(), inner)
                .prop_map(|(a, b, c)| format!("iif({a}, {b}, {c})")),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn parser_never_panics(src in "\\PC{0,80}") {
        let _ = parse(&src);
    }

    #[test]
    fn parser_never_panics_on_fhirpath_like_text(src in "[a-z$%@'()\\[\\]{}.,|&=<>!~+*/ 0-9TZ:-]{0,60}") {
        if let Ok(e) = parse(&src) {
            let r = resource();
            let _ = Evaluator::r4().with_budget(20_000).evaluate(&e, &r);
        }
    }

    #[test]
    fn evaluation_never_panics_and_respects_the_budget(src in expr()) {
        let e = parse(&src).map_err(|e| TestCaseError::fail(format!("{src}: {e}")))?;
        let r = resource();
        match Evaluator::r4().with_budget(50_000).evaluate(&e, &r) {
            Ok(items) => prop_assert!(items.len() <= 50_000),
            Err(EvalError::BudgetExceeded(b)) => prop_assert_eq!(b, 50_000),
            Err(_) => {}
        }
    }
}
