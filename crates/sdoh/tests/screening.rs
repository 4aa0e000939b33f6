//! Screening responses to Observations, findings and Conditions: the US Core examples (HVS,
//! PRAPARE, PHQ-9) against US Core's own Observations, and responses written here.

use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};

use salus_sdoh::{
    derive_from_response, Derived, FlagKind, Instrument, FLAGS_SYSTEM, SCORE_BAND_SYSTEM,
};
use serde_json::{json, Value};

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

fn external() -> Option<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures/external");
    if root.exists() {
        Some(root)
    } else {
        eprintln!(
            "skipped: {} is absent (shared external fixtures not installed)",
            root.display()
        );
        None
    }
}

fn load(path: &Path) -> Value {
    serde_json::from_reader(BufReader::new(
        File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
    ))
    .unwrap()
}

/// Derive, and check what every derivation must satisfy: valid FHIR, marked derived, derived
/// from the response, unique ids, references that resolve, the same result twice.
fn derive(qr: &Value) -> Derived {
    let derived = derive_from_response(qr);
    assert_eq!(
        derived,
        derive_from_response(qr),
        "deriving twice gives the same"
    );
    let qr_ref = format!(
        "QuestionnaireResponse/{}",
        qr["id"].as_str().unwrap_or_default()
    );
    let mut ids = std::collections::HashSet::new();
    for r in &derived.resources {
        if let Err(issues) = salus_fhir::schema::validate(r) {
            panic!("invalid {}: {issues:?}\n{r:#}", r["resourceType"]);
        }
        assert!(
            ids.insert(r["id"].as_str().unwrap().to_string()),
            "duplicate id"
        );
        assert!(has_coding(
            &r["meta"]["tag"],
            "http://salus.example/fhir/CodeSystem/provenance",
            "derived"
        ));
        if r["resourceType"] == "Observation" {
            assert!(r["derivedFrom"]
                .as_array()
                .unwrap()
                .iter()
                .any(|d| d["reference"] == qr_ref.as_str()));
        }
    }
    for r in &derived.resources {
        let refs = r["hasMember"]
            .as_array()
            .into_iter()
            .flatten()
            .chain(r["evidence"][0]["detail"].as_array().into_iter().flatten());
        for m in refs {
            let id = m["reference"]
                .as_str()
                .unwrap()
                .strip_prefix("Observation/")
                .unwrap();
            assert!(ids.contains(id), "dangling reference");
        }
    }
    derived
}

fn has_coding(list: &Value, system: &str, code: &str) -> bool {
    list.as_array()
        .into_iter()
        .flatten()
        .any(|c| c["system"] == system && c["code"] == code)
}

fn code_of(r: &Value) -> &str {
    r["code"]["coding"][0]["code"].as_str().unwrap_or_default()
}

fn with_code<'a>(d: &'a Derived, code: &str) -> Vec<&'a Value> {
    d.resources.iter().filter(|r| code_of(r) == code).collect()
}

fn one<'a>(d: &'a Derived, code: &str) -> &'a Value {
    let found = with_code(d, code);
    assert_eq!(found.len(), 1, "{code}: {} resources", found.len());
    found[0]
}

fn answer(o: &Value) -> &str {
    o["valueCodeableConcept"]["coding"][0]["code"]
        .as_str()
        .unwrap_or_default()
}

fn categories(r: &Value) -> Vec<(String, String)> {
    r["category"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|c| c["coding"].as_array().into_iter().flatten())
        .map(|c| {
            (
                c["system"].as_str().unwrap().to_string(),
                c["code"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn positive(o: &Value) -> bool {
    o["interpretation"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|i| i["coding"][0]["code"] == "POS")
}

fn band(o: &Value) -> Option<&str> {
    o["interpretation"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|i| i["coding"][0]["system"] == SCORE_BAND_SYSTEM)
        .and_then(|i| i["coding"][0]["code"].as_str())
}

fn id_of<'a>(d: &'a Derived, reference: &str) -> &'a Value {
    let id = reference.strip_prefix("Observation/").unwrap();
    d.resources.iter().find(|r| r["id"] == id).unwrap()
}

/// The LOINC code at the end of a US Core example id (`PRAPARE-item-example-93026-3`,
/// `…-32624-9-answer1`).
fn example_code(id: &str) -> String {
    let id = id.split("-answer").next().unwrap();
    let parts: Vec<&str> = id.rsplitn(3, '-').collect();
    format!("{}-{}", parts[1], parts[0])
}

/// Our Observation for a US Core example Observation: same code, and for multi-select items the
/// same answer.
fn counterpart<'a>(d: &'a Derived, example: &Value) -> &'a Value {
    let code = code_of(example);
    let candidates = with_code(d, code);
    assert!(!candidates.is_empty(), "no Observation for {code}");
    if candidates.len() == 1 {
        return candidates[0];
    }
    candidates
        .into_iter()
        .find(|o| answer(o) == answer(example))
        .unwrap_or_else(|| panic!("no {code} with the example's answer"))
}

/// An example and ours say the same: status, subject, derivedFrom, effective time, every
/// example category, the value, and (panels) members with the same codes in the same order.
fn compare(d: &Derived, example: &Value) {
    let ours = counterpart(d, example);
    let code = code_of(example);
    assert_eq!(ours["status"], example["status"], "{code}");
    assert_eq!(
        ours["subject"]["reference"], example["subject"]["reference"],
        "{code}"
    );
    assert_eq!(ours["derivedFrom"][0], example["derivedFrom"][0], "{code}");
    let when = |v: &Value| {
        salus_fhir::date::parse_range(v.as_str().unwrap())
            .unwrap()
            .lo
    };
    assert_eq!(
        when(&ours["effectiveDateTime"]),
        when(&example["effectiveDateTime"]),
        "{code}"
    );
    for c in categories(example) {
        // US Core 9's PHQ-9 examples add `disability-status`; a PHQ-9 is not that.
        if c.1 != "disability-status" {
            assert!(categories(ours).contains(&c), "{code}: category {c:?}");
        }
    }
    if let Some(cc) = example.get("valueCodeableConcept") {
        assert_eq!(
            ours["valueCodeableConcept"]["coding"][0]["code"], cc["coding"][0]["code"],
            "{code}"
        );
        assert_eq!(
            ours["valueCodeableConcept"]["coding"][0]["system"], cc["coding"][0]["system"],
            "{code}"
        );
        assert_eq!(ours["valueCodeableConcept"]["text"], cc["text"], "{code}");
    } else if let Some(q) = example.get("valueQuantity") {
        if example.get("hasMember").is_none() {
            assert_eq!(ours["valueQuantity"]["value"], q["value"], "{code}");
        }
    } else if let Some(s) = example.get("valueString") {
        // US Core writes PRAPARE's income (a decimal answer) and the PHQ-9 total (a decimal
        // answer) as strings; Salus keeps numbers as numbers.
        match ours.get("valueString") {
            Some(o) => assert_eq!(o, s, "{code}"),
            None => assert_eq!(
                ours["valueQuantity"]["value"].as_f64(),
                s.as_str().unwrap().parse::<f64>().ok(),
                "{code}"
            ),
        }
    }
    if let Some(members) = example.get("hasMember").and_then(Value::as_array) {
        let theirs: Vec<String> = members
            .iter()
            .map(|m| example_code(m["reference"].as_str().unwrap()))
            .collect();
        let ours: Vec<String> = ours["hasMember"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| code_of(id_of(d, m["reference"].as_str().unwrap())).to_string())
            .collect();
        assert_eq!(ours, theirs, "{code} members");
    }
}

fn examples(dir: &Path, prefix: &str) -> Vec<Value> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with(prefix))
        .collect();
    files.sort();
    files.iter().map(|p| load(p)).collect()
}

#[test]
fn hunger_vital_sign_matches_us_core() {
    let Some(root) = external() else { return };
    let dir = root.join("sdoh/us-core-screening");
    let d = derive(&load(
        &dir.join("QuestionnaireResponse-hunger-vital-sign-example.json"),
    ));
    assert_eq!(d.instrument, Some(Instrument::HungerVitalSign));
    assert!(d.warnings.is_empty(), "{:?}", d.warnings);
    let ex = examples(&dir, "Observation-HVS-");
    assert_eq!(ex.len(), 3);
    for e in &ex {
        compare(&d, e);
    }
    // Panel + three items + one Condition.
    assert_eq!(d.resources.len(), 5);
    // Both questions "Often true": positive, food insecurity.
    for code in ["88122-7", "88123-5", "88124-3"] {
        let o = one(&d, code);
        assert!(positive(o), "{code}");
        assert!(categories(o).contains(&(
            "http://hl7.org/fhir/us/sdoh-clinicalcare/CodeSystem/SDOHCC-CodeSystemTemporaryCodes"
                .into(),
            "food-insecurity".into()
        )));
    }
    assert_eq!(answer(one(&d, "88124-3")), "LA19952-3");
    let condition = one(&d, "733423003");
    assert_eq!(condition["resourceType"], "Condition");
    assert_eq!(
        condition["verificationStatus"]["coding"][0]["code"],
        "unconfirmed"
    );
    assert_eq!(condition["clinicalStatus"]["coding"][0]["code"], "active");
    let cats = categories(condition);
    assert!(cats.contains(&(
        "http://hl7.org/fhir/us/core/CodeSystem/condition-category".into(),
        "health-concern".into()
    )));
    assert!(cats.contains(&(
        "http://hl7.org/fhir/us/core/CodeSystem/us-core-category".into(),
        "sdoh".into()
    )));
    assert!(cats.iter().any(|c| c.1 == "food-insecurity"));
    // Evidence: question 3, as in the IG's SDOHCC-ConditionFoodInsecurityExample.
    let evidence = condition["evidence"][0]["detail"][0]["reference"]
        .as_str()
        .unwrap();
    assert_eq!(code_of(id_of(&d, evidence)), "88124-3");
    assert_eq!(
        condition["onsetPeriod"]["start"],
        "2020-09-10T21:56:54.671Z"
    );
    assert!(d.flags.is_empty());
}

#[test]
fn hvs_question_3_is_computed_when_missing() {
    let Some(root) = external() else { return };
    let mut qr = load(
        &root.join("sdoh/us-core-screening/QuestionnaireResponse-hunger-vital-sign-example.json"),
    );
    qr["item"].as_array_mut().unwrap().pop();
    qr["item"][0]["answer"][0]["valueCoding"] =
        json!({"system": "http://loinc.org", "code": "LA28398-8", "display": "Never true"});
    qr["item"][1]["answer"][0]["valueCoding"] =
        json!({"system": "http://loinc.org", "code": "LA6729-3", "display": "Sometimes true"});
    let d = derive(&qr);
    let risk = one(&d, "88124-3");
    assert_eq!(answer(risk), "LA19952-3");
    assert!(positive(risk));
    assert!(!positive(one(&d, "88122-7")));
    assert!(positive(one(&d, "88123-5")));
    // Derived from the two questions and the response.
    assert_eq!(risk["derivedFrom"].as_array().unwrap().len(), 3);
    assert_eq!(
        risk["id"],
        salus_fhir::ids::derive_id("sdoh|qr|hunger-vital-sign-example|finding|88124-3")
    );
    let panel = one(&d, "88121-9");
    assert_eq!(panel["hasMember"].as_array().unwrap().len(), 3);
    assert_eq!(
        one(&d, "733423003")["evidence"][0]["detail"][0]["reference"],
        format!("Observation/{}", risk["id"].as_str().unwrap())
    );

    // A given "No risk" against positive items is kept, warned, and gives no Condition.
    let mut given = load(
        &root.join("sdoh/us-core-screening/QuestionnaireResponse-hunger-vital-sign-example.json"),
    );
    given["item"][2]["answer"][0]["valueCoding"] =
        json!({"system": "http://loinc.org", "code": "LA19983-8", "display": "No risk"});
    let d = derive(&given);
    assert_eq!(answer(one(&d, "88124-3")), "LA19983-8");
    assert!(with_code(&d, "733423003").is_empty());
    assert_eq!(d.warnings.len(), 1, "{:?}", d.warnings);
}

#[test]
fn prapare_matches_us_core() {
    let Some(root) = external() else { return };
    let dir = root.join("sdoh/us-core-screening");
    let d = derive(&load(
        &dir.join("QuestionnaireResponse-PRAPARE-example.json"),
    ));
    assert_eq!(d.instrument, Some(Instrument::Prapare));
    assert!(d.warnings.is_empty(), "{:?}", d.warnings);
    let ex = examples(&dir, "Observation-PRAPARE-");
    assert_eq!(ex.len(), 26);
    for e in &ex {
        compare(&d, e);
    }
    // Every answer has an Observation: 23 answers (race and unmet needs have two each), 5
    // sections, the panel; and three Conditions.
    let observations = d
        .resources
        .iter()
        .filter(|r| r["resourceType"] == "Observation")
        .count();
    assert_eq!(observations, 23 + 5 + 1);
    // The panel is the response's own /93025-5 group.
    assert_eq!(
        one(&d, "93025-5")["id"],
        salus_fhir::ids::derive_id("sdoh|qr|prapare-example|/93025-5")
    );
    // Multi-select answers get their own ids.
    let race = with_code(&d, "32624-9");
    assert_eq!(race.len(), 2);
    assert_eq!(
        race[1]["id"],
        salus_fhir::ids::derive_id("sdoh|qr|prapare-example|/93043-8/32624-9|answer1")
    );
    // Positive answers.
    for (code, answer_code) in [
        ("71802-3", "LA30190-5"),
        ("67875-5", "LA17956-6"),
        ("93030-5", "LA30134-3"),
        ("82589-3", "LA30191-3"),
        ("93026-3", "LA32-8"),
    ] {
        let o = one(&d, code);
        assert_eq!(answer(o), answer_code);
        assert!(positive(o), "{code}");
    }
    for o in with_code(&d, "93031-3") {
        assert!(positive(o));
        assert!(categories(o).iter().any(|c| c.1 == "material-hardship"));
    }
    // Not positive: "Somewhat" stressed, "1 or 2 times a week", Medicaid, "choose not to answer".
    for code in ["93038-8", "93029-7", "76437-3", "93033-9", "76501-6"] {
        assert!(!positive(one(&d, code)), "{code}");
    }
    // The IG derives Homeless and Unemployed from this response's answers; transportation too.
    let conditions: Vec<&str> = d
        .resources
        .iter()
        .filter(|r| r["resourceType"] == "Condition")
        .map(code_of)
        .collect();
    assert_eq!(conditions, ["32911000", "73438004", "713458007"]);
    let homeless = one(&d, "32911000");
    assert!(categories(homeless).iter().any(|c| c.1 == "homelessness"));
    let evidence = homeless["evidence"][0]["detail"][0]["reference"]
        .as_str()
        .unwrap();
    assert_eq!(code_of(id_of(&d, evidence)), "71802-3");
    assert!(categories(one(&d, "713458007"))
        .iter()
        .any(|c| c.1 == "transportation-insecurity"));
    assert!(categories(one(&d, "73438004"))
        .iter()
        .any(|c| c.1 == "employment-status"));
}

#[test]
fn us_core_phq9_matches_and_keeps_its_total() {
    let Some(root) = external() else { return };
    let dir = root.join("consent-ips/mental-health/us-core");
    let d = derive(&load(&dir.join("QuestionnaireResponse-phq-9-example.json")));
    assert_eq!(d.instrument, Some(Instrument::Phq9));
    // The given total (12) is the sum of the items: no warning.
    assert!(d.warnings.is_empty(), "{:?}", d.warnings);
    for e in examples(&dir, "Observation-PHQ9-") {
        compare(&d, &e);
    }
    let total = one(&d, "44261-6");
    assert_eq!(
        total["valueQuantity"],
        json!({"value": 12, "unit": "{score}", "system": "http://unitsofmeasure.org", "code": "{score}"})
    );
    assert_eq!(band(total), Some("moderate"));
    // Mental-health screening: survey, not sdoh.
    assert_eq!(
        categories(total),
        [(
            "http://terminology.hl7.org/CodeSystem/observation-category".into(),
            "survey".into()
        )]
    );
    // Item 9 "Not at all": no flag.
    assert!(d.flags.is_empty());
    assert!(!positive(one(&d, "44260-8")));
    assert!(d
        .resources
        .iter()
        .all(|r| r["resourceType"] == "Observation"));
}

#[test]
fn phq9_without_total_gets_one_and_item_9_is_flagged() {
    let d = derive(&load(&data("qr-phq9-no-total.json")));
    assert_eq!(d.instrument, Some(Instrument::Phq9));
    assert!(d.warnings.is_empty(), "{:?}", d.warnings);
    let total = one(&d, "44261-6");
    assert_eq!(total["valueQuantity"]["value"], 13);
    assert_eq!(total["valueQuantity"]["code"], "{score}");
    assert_eq!(band(total), Some("moderate"));
    assert_eq!(
        total["interpretation"][0]["text"],
        "Moderate depression (PHQ-9 10-14)"
    );
    assert_eq!(
        total["id"],
        salus_fhir::ids::derive_id("sdoh|qr|phq9-no-total|total|44261-6")
    );
    // Derived from the response and the nine items.
    assert_eq!(total["derivedFrom"].as_array().unwrap().len(), 10);
    let panel = one(&d, "44249-1");
    assert_eq!(panel["hasMember"].as_array().unwrap().len(), 11);
    assert_eq!(panel["encounter"]["reference"], "Encounter/enc-1");
    assert_eq!(panel["performer"][0]["reference"], "Patient/pt-1");
    // No name copied from the subject's display.
    assert!(!serde_json::to_string(&d.resources)
        .unwrap()
        .contains("Secretname"));
    let item9 = one(&d, "44260-8");
    assert_eq!(d.flags.len(), 1);
    assert_eq!(d.flags[0].kind, FlagKind::SelfHarmRisk);
    assert_eq!(
        d.flags[0].resource,
        format!("Observation/{}", item9["id"].as_str().unwrap())
    );
    assert!(has_coding(
        &item9["meta"]["tag"],
        FLAGS_SYSTEM,
        "self-harm-risk"
    ));
    assert!(positive(item9));
    // The difficulty question is kept but not scored.
    assert_eq!(answer(one(&d, "69722-7")), "LA6573-5");
}

#[test]
fn phq9_incomplete_gets_no_total() {
    let d = derive(&load(&data("qr-phq9-incomplete.json")));
    assert!(with_code(&d, "44261-6").is_empty());
    assert_eq!(d.warnings.len(), 1, "{:?}", d.warnings);
    assert!(d.warnings[0].contains("no total computed"));
    // Item 9 is still flagged.
    assert_eq!(d.flags.len(), 1);
}

#[test]
fn a_given_total_that_disagrees_is_kept_and_warned() {
    let mut qr = load(&data("qr-phq9-no-total.json"));
    qr["item"]
        .as_array_mut()
        .unwrap()
        .push(json!({"linkId": "/44261-6", "text": "Total", "answer": [{"valueInteger": 21}]}));
    let d = derive(&qr);
    let total = one(&d, "44261-6");
    assert_eq!(total["valueQuantity"]["value"], 21);
    assert_eq!(band(total), Some("severe"));
    assert_eq!(d.warnings.len(), 1, "{:?}", d.warnings);
    assert!(!d.warnings[0].contains("21") && !d.warnings[0].contains("13"));
}

#[test]
fn gad7_total_and_band() {
    let d = derive(&load(&data("qr-gad7.json")));
    assert_eq!(d.instrument, Some(Instrument::Gad7));
    assert!(d.warnings.is_empty(), "{:?}", d.warnings);
    let total = one(&d, "70274-6");
    assert_eq!(total["valueQuantity"]["value"], 17);
    assert_eq!(band(total), Some("severe"));
    assert_eq!(one(&d, "69737-5")["hasMember"].as_array().unwrap().len(), 8);
    assert!(d.flags.is_empty());
}

#[test]
fn phq2_scored_from_ordinal_values() {
    let d = derive(&load(&data("qr-phq2.json")));
    assert_eq!(d.instrument, Some(Instrument::Phq2));
    let total = one(&d, "55758-7");
    assert_eq!(total["valueQuantity"]["value"], 3);
    assert_eq!(band(total), Some("positive"));
    // The answer's own coding (not LOINC) is kept with its ordinal value.
    let item = one(&d, "44250-9");
    assert_eq!(
        item["valueCodeableConcept"]["coding"][0]["extension"][0]["valueDecimal"],
        2
    );
}

#[test]
fn ahc_hrsn_housing_and_transportation() {
    let d = derive(&load(&data("qr-ahc-hrsn.json")));
    assert_eq!(d.instrument, Some(Instrument::AhcHrsn));
    assert!(d.warnings.is_empty(), "{:?}", d.warnings);
    let sdohcc =
        "http://hl7.org/fhir/us/sdoh-clinicalcare/CodeSystem/SDOHCC-CodeSystemTemporaryCodes";
    // The panel has the response's group as its code.
    let panel = one(&d, "96777-8");
    assert_eq!(panel["hasMember"].as_array().unwrap().len(), 11 + 2);
    // Living situation: positive for housing instability, categorised for both domains.
    let living = one(&d, "71802-3");
    assert!(positive(living));
    let cats = categories(living);
    assert!(cats.contains(&(sdohcc.into(), "housing-instability".into())));
    assert!(cats.contains(&(sdohcc.into(), "homelessness".into())));
    // Two housing problems: two Observations, one Condition with both as evidence.
    let problems = with_code(&d, "96778-6");
    assert_eq!(problems.len(), 2);
    assert!(problems.iter().all(|o| positive(o)));
    let inadequate = one(&d, "105531004");
    assert_eq!(
        inadequate["evidence"][0]["detail"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert!(categories(inadequate).contains(&(sdohcc.into(), "inadequate-housing".into())));
    let instability = one(&d, "1156191002");
    assert!(categories(instability).contains(&(sdohcc.into(), "housing-instability".into())));
    let transport = one(&d, "713458007");
    assert!(categories(transport).contains(&(sdohcc.into(), "transportation-insecurity".into())));
    for c in [inadequate, instability, transport] {
        assert_eq!(c["resourceType"], "Condition");
        assert!(categories(c).contains(&(
            "http://hl7.org/fhir/us/core/CodeSystem/condition-category".into(),
            "health-concern".into()
        )));
        assert!(categories(c).contains(&(
            "http://hl7.org/fhir/us/core/CodeSystem/us-core-category".into(),
            "sdoh".into()
        )));
        assert_eq!(c["verificationStatus"]["coding"][0]["code"], "unconfirmed");
        assert_eq!(c["subject"]["reference"], "Patient/pt-1");
    }
    assert_eq!(
        d.resources
            .iter()
            .filter(|r| r["resourceType"] == "Condition")
            .count(),
        3
    );
    // Food: both "Never true", so question 3 is computed "No risk", not positive.
    let food = one(&d, "88124-3");
    assert_eq!(answer(food), "LA19983-8");
    assert!(!positive(food));
    // Utilities "No": not positive. Safety 1+1+2+1 = 5: a total, not positive.
    assert!(!positive(one(&d, "96779-4")));
    let safety = one(&d, "95614-4");
    assert_eq!(safety["valueQuantity"]["value"], 5);
    assert!(!positive(safety));
}

#[test]
fn ahc_safety_of_11_or_more_is_positive_without_a_condition() {
    let mut qr = load(&data("qr-ahc-hrsn.json"));
    for i in 6..10 {
        qr["item"][0]["item"][i]["answer"][0]["valueCoding"] =
            json!({"system": "http://loinc.org", "code": "LA10082-8", "display": "Sometimes"});
    }
    let d = derive(&qr);
    let safety = one(&d, "95614-4");
    assert_eq!(safety["valueQuantity"]["value"], 12);
    assert!(positive(safety));
    assert_eq!(
        d.resources
            .iter()
            .filter(|r| r["resourceType"] == "Condition")
            .count(),
        3
    );
}

#[test]
fn refusals_and_warnings_never_echo_values() {
    let secret = "Zebediah-Quux";
    let base = json!({
        "resourceType": "QuestionnaireResponse", "id": "w1", "status": "completed",
        "questionnaire": "http://example.org/Questionnaire/phq-9",
        "subject": {"reference": "Patient/p"}, "authored": "2024-01-01",
        "item": [
            {"linkId": "/44250-9", "answer": [{"valueAttachment": {"title": secret}}]},
            {"linkId": "free-text", "text": secret, "answer": [{"valueString": secret}]},
            {"linkId": "/44255-8", "answer": [{"valueCoding": {"system": "http://loinc.org", "code": "LA6569-3"}}]}
        ]
    });
    let d = derive(&base);
    assert_eq!(d.instrument, Some(Instrument::Phq9));
    assert!(d.warnings.len() >= 3, "{:?}", d.warnings);
    for w in &d.warnings {
        assert!(!w.contains(secret), "{w}");
    }
    let unknown = json!({"resourceType": "QuestionnaireResponse", "id": "w2", "status": "completed", "subject": {"reference": "Patient/p"}, "item": [{"linkId": "a", "answer": [{"valueString": "x"}]}]});
    let d = derive(&unknown);
    assert!(d.resources.is_empty() && d.instrument.is_none());
    let mut error = base.clone();
    error["status"] = json!("entered-in-error");
    assert!(derive(&error).resources.is_empty());
    let mut no_id = base.clone();
    no_id.as_object_mut().unwrap().remove("id");
    assert!(derive_from_response(&no_id).resources.is_empty());
    let mut no_subject = base.clone();
    no_subject.as_object_mut().unwrap().remove("subject");
    assert!(derive(&no_subject).resources.is_empty());
    assert!(derive_from_response(&json!("nonsense"))
        .resources
        .is_empty());
    let mut in_progress = base;
    in_progress["status"] = json!("in-progress");
    assert!(derive(&in_progress)
        .resources
        .iter()
        .all(|r| r["status"] == "preliminary"));
}
