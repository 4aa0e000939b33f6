//! Nothing panics on any input, and what is derived is valid FHIR whatever the response holds.

use proptest::prelude::*;
use salus_sdoh::{derive_from_response, link_patient, SviTable, ZipCounty, COUNTY_FIPS_EXTENSION};
use serde_json::{json, Map, Value};

fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        "[ -~]{0,12}".prop_map(Value::from),
        prop::sample::select(vec![
            "44260-8",
            "LA6568-5",
            "LA6570-1",
            "88122-7",
            "LA28397-0",
            "71802-3",
            "LA31995-6",
            "http://loinc.org",
            "/93042-0/71802-3",
            "valueCoding",
            " ",
            "",
            "\t x",
        ])
        .prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec(
                (
                    prop::sample::select(vec![
                        "linkId",
                        "code",
                        "answer",
                        "item",
                        "valueCoding",
                        "valueInteger",
                        "valueDecimal",
                        "valueString",
                        "valueQuantity",
                        "system",
                        "display",
                        "extension",
                        "url",
                        "valueDecimal",
                        "text",
                        "valueDate",
                        "valueTime",
                        "valueBoolean",
                    ]),
                    inner
                ),
                0..5
            )
            .prop_map(|pairs| Value::Object(
                pairs
                    .into_iter()
                    .map(|(k, v)| (k.to_string(), v))
                    .collect::<Map<_, _>>()
            )),
        ]
    })
}

const CODES: &[&str] = &[
    "44250-9",
    "44255-8",
    "44259-0",
    "44254-1",
    "44251-7",
    "44258-2",
    "44252-5",
    "44253-3",
    "44260-8",
    "44261-6",
    "55758-7",
    "69725-0",
    "70274-6",
    "88122-7",
    "88123-5",
    "88124-3",
    "71802-3",
    "96778-6",
    "93030-5",
    "96779-4",
    "95618-5",
    "95617-7",
    "95616-9",
    "95615-1",
    "95614-4",
    "93031-3",
    "93025-5",
    "93042-0",
    "96777-8",
    "not-a-code",
];
const ANSWERS: &[&str] = &[
    "LA6568-5",
    "LA6569-3",
    "LA6570-1",
    "LA6571-9",
    "LA28397-0",
    "LA6729-3",
    "LA28398-8",
    "LA19952-3",
    "LA31994-9",
    "LA31995-6",
    "LA31996-4",
    "LA33-6",
    "LA32-8",
    "LA6482-9",
    "LA30125-1",
    "bad code",
    " LA1-1",
    "",
];

fn answer() -> impl Strategy<Value = Value> {
    prop_oneof![
        (
            prop::sample::select(ANSWERS),
            prop::option::of("[ -~]{0,8}")
        )
            .prop_map(|(code, display)| {
                let mut c = json!({"system": "http://loinc.org", "code": code});
                if let Some(d) = display {
                    c["display"] = json!(d);
                }
                json!({"valueCoding": c})
            }),
        any::<i32>().prop_map(|i| json!({"valueInteger": i})),
        (0u32..100_000).prop_map(|i| json!({"valueDecimal": f64::from(i) / 100.0})),
        "[ -~]{0,10}".prop_map(|s| json!({"valueString": s})),
        "[0-9:.T-]{0,12}".prop_map(|s| json!({"valueDate": s})),
        "[0-9:.]{0,12}".prop_map(|s| json!({"valueTime": s})),
        any::<bool>().prop_map(|b| json!({"valueBoolean": b})),
        any_json().prop_map(|v| json!({"valueQuantity": v})),
        any_json().prop_map(|v| json!({"valueCoding": v})),
        any_json(),
    ]
}

fn item(depth: u32) -> BoxedStrategy<Value> {
    let leaf = (
        prop::sample::select(CODES),
        prop::bool::ANY,
        prop::collection::vec(answer(), 0..3),
    )
        .prop_map(|(code, as_link, answers)| {
            let mut i = if as_link {
                json!({"linkId": format!("/{code}")})
            } else {
                json!({"linkId": "q", "code": [{"system": "http://loinc.org", "code": code}]})
            };
            if !answers.is_empty() {
                i["answer"] = Value::Array(answers);
            }
            i
        });
    if depth == 0 {
        return leaf.boxed();
    }
    prop_oneof![
        3 => leaf,
        1 => (prop::sample::select(CODES), prop::collection::vec(item(depth - 1), 0..4))
            .prop_map(|(code, items)| json!({"linkId": format!("/{code}"), "item": items})),
    ]
    .boxed()
}

fn response() -> impl Strategy<Value = Value> {
    (
        prop::sample::select(vec![
            "http://loinc.org/q/44249-1",
            "http://example.org/Questionnaire/prapare",
            "urn:x",
            "http://example.org/gad-7",
            "http://example.org/ahc-hrsn",
            "http://example.org/hvs",
        ]),
        prop::sample::select(vec![
            "completed",
            "in-progress",
            "amended",
            "stopped",
            "weird",
        ]),
        prop::sample::select(vec!["2024-01-02", "2024-01-02T03:04:05Z", "yesterday"]),
        prop::collection::vec(item(2), 0..12),
    )
        .prop_map(|(q, status, authored, items)| {
            json!({
                "resourceType": "QuestionnaireResponse", "id": "prop-1", "questionnaire": q,
                "status": status, "subject": {"reference": "Patient/p"}, "authored": authored,
                "item": items
            })
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn derived_resources_are_valid_fhir(qr in response()) {
        let d = derive_from_response(&qr);
        for r in &d.resources {
            if let Err(issues) = salus_fhir::schema::validate(r) {
                panic!("invalid {}: {issues:?}\n{r:#}\nfrom {qr:#}", r["resourceType"]);
            }
        }
        prop_assert_eq!(&d, &derive_from_response(&qr));
    }

    #[test]
    fn any_json_derives_without_panicking(items in prop::collection::vec(any_json(), 0..6), q in "[ -~]{0,30}") {
        let qr = json!({
            "resourceType": "QuestionnaireResponse", "id": "x", "questionnaire": q,
            "status": "completed", "subject": {"reference": "Patient/p"}, "item": items
        });
        let _ = derive_from_response(&qr);
        let _ = derive_from_response(&Value::Array(vec![qr]));
    }

    #[test]
    fn tables_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..400), header in prop::bool::ANY) {
        let mut input = Vec::new();
        if header {
            input.extend_from_slice(b"FIPS,ST_ABBR,STATE,COUNTY,LOCATION,RPL_THEMES,RPL_THEME1,RPL_THEME2,RPL_THEME3,RPL_THEME4,ZIP,RES_RATIO,TOT_RATIO\n");
        }
        input.extend_from_slice(&bytes);
        let _ = SviTable::read(&mut input.as_slice(), 2020);
        let _ = ZipCounty::read(&mut input.as_slice(), "2023Q1".into());
    }

    #[test]
    fn linking_never_panics(address in any_json(), fips in "[0-9a-z]{0,12}", zip in "[0-9 -]{0,11}") {
        let svi = SviTable::read(&mut &b"FIPS,ST_ABBR,STATE,COUNTY,LOCATION,RPL_THEMES,RPL_THEME1,RPL_THEME2,RPL_THEME3,RPL_THEME4\n20177,KS,Kansas,Shawnee,x,0.5,0.1,-999,0.3,1\n"[..], 2020).unwrap();
        let zc = ZipCounty::read(&mut &b"ZIP,COUNTY,RES_RATIO,TOT_RATIO\n66601,20177,1,1\n"[..], "2023Q1".into()).unwrap();
        let p = json!({"resourceType": "Patient", "id": "p", "address": [address, {"postalCode": zip, "extension": [{"url": COUNTY_FIPS_EXTENSION, "valueString": fips}]}]});
        if let Ok(obs) = link_patient(&p, &svi, Some(&zc)) {
            for o in &obs {
                prop_assert!(salus_fhir::schema::validate(o).is_ok());
            }
        }
    }
}

#[test]
fn the_schema_check_is_real() {
    assert!(salus_fhir::schema::validate(
        &json!({"resourceType": "Observation", "status": "bogus", "code": {"text": "x"}})
    )
    .is_err());
    assert!(salus_fhir::schema::validate(&json!({"resourceType": "Observation", "status": "final", "code": {"text": "x"}, "valueQuantity": {"value": "1"}})).is_err());
}
