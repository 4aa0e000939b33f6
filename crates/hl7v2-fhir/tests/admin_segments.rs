//! GT1, IN1 insured, IN2, DB1, PDA, ACC, RF1 and repeated NM values, on synthetic messages
//! (no real person's data).

use salus_hl7v2::Message;
use salus_hl7v2_fhir::{map_message, MapOptions, Mapped};
use serde_json::Value;

const MSH: &str =
    "MSH|^~\\&|REG|HOSP|SALUS|HOSP|20240301101500+0100||ADT^A01^ADT_A01|CTRL9001|P|2.8";
const PID: &str = "PID|1||MRN900^^^HOSP^MR||TESTPERSON^ALEX^^^^^L^^^^^^^^Lex||19800215|F|||1 MAIN ST^^SPRINGFIELD^IL^62701^USA||||||||999-00-1234";
const PV1: &str = "PV1|1|I|WARD^101^A^HOSP||||||||||||||||V900^^^HOSP^VN|||||||||||||||||||||||||20240301090000+0100";

/// A segment with the given fields (HL7 numbering) set and the others empty.
fn seg(id: &str, fields: &[(usize, &str)]) -> String {
    let last = fields.iter().map(|(n, _)| *n).max().unwrap_or(0);
    let mut parts = vec![String::new(); last + 1];
    parts[0] = id.to_string();
    for (n, v) in fields {
        parts[*n] = (*v).to_string();
    }
    parts.join("|")
}

fn map(extra: &[&str]) -> Mapped {
    let mut segments = vec![MSH, PID, PV1];
    segments.extend_from_slice(extra);
    let text = segments.join("\r");
    let message = Message::parse(&text).expect("test message parses");
    let mapped = map_message(&message, &MapOptions::default()).expect("test message maps");
    for r in &mapped.resources {
        if let Err(issues) = salus_fhir::schema::validate(r) {
            panic!("{} invalid: {issues:?}\n{r:#}", r["resourceType"]);
        }
    }
    mapped
}

fn all<'a>(m: &'a Mapped, kind: &str) -> Vec<&'a Value> {
    m.resources
        .iter()
        .filter(|r| r["resourceType"] == kind)
        .collect()
}

fn patient(m: &Mapped) -> &Value {
    all(m, "Patient")[0]
}

fn identifier_values(r: &Value) -> Vec<&str> {
    r["identifier"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|i| i["value"].as_str())
        .collect()
}

fn type_of<'a>(r: &'a Value, value: &str) -> Option<&'a str> {
    r["identifier"]
        .as_array()?
        .iter()
        .find(|i| i["value"] == value)?["type"]["coding"][0]["code"]
        .as_str()
}

#[test]
fn xpn_called_by_is_a_nickname() {
    let m = map(&[]);
    let names = patient(&m)["name"].as_array().expect("names");
    assert!(names
        .iter()
        .any(|n| n["use"] == "nickname" && n["given"][0] == "Lex"));
}

#[test]
fn guarantor_who_is_someone_else_is_a_related_person() {
    let gt1 = seg(
        "GT1",
        &[
            (1, "1"),
            (2, "G77^^^HOSP^GN"),
            (3, "TESTGUARANTOR^SAM"),
            (5, "2 OAK RD^^SPRINGFIELD^IL^62702"),
            (6, "^PRN^PH^^1^217^5550111"),
            (8, "19750101"),
            (9, "M"),
            (11, "PAR"),
            (12, "999-00-5678"),
        ],
    );
    let m = map(&[&gt1]);
    let related = all(&m, "RelatedPerson");
    assert_eq!(related.len(), 1);
    let g = related[0];
    assert_eq!(g["name"][0]["family"], "TESTGUARANTOR");
    assert_eq!(g["address"][0]["city"], "SPRINGFIELD");
    assert_eq!(g["gender"], "male");
    assert_eq!(g["relationship"][0]["coding"][0]["code"], "PRN");
    assert!(identifier_values(g).contains(&"999-00-5678"));
    // Nothing of the guarantor lands on the Patient.
    assert!(!identifier_values(patient(&m)).contains(&"G77"));
}

#[test]
fn guarantor_who_is_the_patient_adds_to_the_patient() {
    let gt1 = seg(
        "GT1",
        &[
            (1, "1"),
            (2, "G77^^^HOSP^GN"),
            (3, "TESTPERSON^ALEXANDRA"),
            (5, "9 BILLING WAY^^SPRINGFIELD^IL^62703"),
            (11, "SEL"),
            (12, "999-00-1234"),
            (19, "E55^^^EMPLOYERX^EI"),
        ],
    );
    let m = map(&[&gt1]);
    assert!(all(&m, "RelatedPerson").is_empty());
    let p = patient(&m);
    let ids = identifier_values(p);
    assert!(ids.contains(&"G77") && ids.contains(&"E55"));
    // The same SSN as PID-19 is not repeated.
    assert_eq!(ids.iter().filter(|v| **v == "999-00-1234").count(), 1);
    let names = p["name"].as_array().expect("names");
    assert!(names.iter().any(|n| n["given"][0] == "ALEXANDRA"));
    let lines: Vec<&Value> = p["address"]
        .as_array()
        .expect("addresses")
        .iter()
        .map(|a| &a["line"][0])
        .collect();
    assert!(lines.contains(&&Value::from("9 BILLING WAY")));
}

#[test]
fn insured_other_than_the_patient_is_the_coverage_subscriber() {
    let in1 = seg(
        "IN1",
        &[
            (1, "1"),
            (2, "PLAN1^Plan One"),
            (3, "PAYER1^^^HOSP"),
            (4, "TEST INSURER"),
            (16, "TESTPERSON^JORDAN"),
            (17, "SPO^Spouse"),
            (18, "19790303"),
            (19, "1 MAIN ST^^SPRINGFIELD^IL^62701"),
            (36, "POL-1"),
            (43, "M"),
            (49, "INS-77^^^PAYER1^MB"),
        ],
    );
    let in2 = seg("IN2", &[(1, "E1^^^EMPLOYERX^EI"), (2, "999-00-4321")]);
    let m = map(&[&in1, &in2]);
    let related = all(&m, "RelatedPerson");
    assert_eq!(related.len(), 1);
    let insured = related[0];
    assert_eq!(insured["name"][0]["given"][0], "JORDAN");
    assert_eq!(insured["birthDate"], "1979-03-03");
    let ids = identifier_values(insured);
    assert!(ids.contains(&"INS-77") && ids.contains(&"999-00-4321") && ids.contains(&"E1"));
    let coverage = all(&m, "Coverage")[0];
    assert_eq!(
        coverage["subscriber"]["reference"],
        format!("RelatedPerson/{}", insured["id"].as_str().unwrap_or(""))
    );
    // The insured's SSN is not the patient's.
    assert!(!identifier_values(patient(&m)).contains(&"999-00-4321"));
}

#[test]
fn in2_program_numbers_are_patient_identifiers() {
    let in1 = seg(
        "IN1",
        &[(1, "1"), (2, "PLAN1"), (3, "PAYER1^^^HOSP"), (17, "SEL")],
    );
    let in2 = seg(
        "IN2",
        &[
            (1, "1"),
            (6, "MEDICARE-1"),
            (7, "TESTCASE^HEAD"),
            (8, "MEDICAID-1"),
            (10, "MIL-1"),
            (61, "MEMBER-1^^^PAYER1"),
        ],
    );
    let m = map(&[&in1, &in2]);
    let p = patient(&m);
    assert_eq!(type_of(p, "MEDICARE-1"), Some("MC"));
    assert_eq!(type_of(p, "MEDICAID-1"), Some("MA"));
    assert_eq!(type_of(p, "MIL-1"), Some("MI"));
    assert_eq!(type_of(p, "MEMBER-1"), Some("MB"));
    // A bare IN2-1 (some senders put a set id there) is no identifier.
    assert!(!identifier_values(p).contains(&"1"));
    // The Medicaid case name is not the patient's name.
    let names = p["name"].as_array().expect("names");
    assert!(!names.iter().any(|n| n["family"] == "TESTCASE"));
    assert!(all(&m, "RelatedPerson").is_empty());
}

#[test]
fn db1_identifies_the_disabled_patient_only() {
    let m = map(&["DB1|1|PT|DIS-1^^^STATE^PN|Y|20240101"]);
    assert!(identifier_values(patient(&m)).contains(&"DIS-1"));
    let m = map(&["DB1|1|GT|DIS-2^^^STATE^PN|Y|20240101"]);
    assert!(!identifier_values(patient(&m)).contains(&"DIS-2"));
    assert!(m.warnings.iter().any(|w| w.segment == "DB1"));
}

#[test]
fn pda_gives_cause_of_death_certification_and_autopsy() {
    let m = map(&["PDA|I21.9^Acute myocardial infarction, unspecified^I10|WARD^101|Y|20240302120000+0100|D1^TESTDOCTOR^PAT|Y|20240303090000+0100^20240303110000+0100|D2^TESTPATHOLOGIST^KIM|N"]);
    let conditions = all(&m, "Condition");
    assert_eq!(conditions.len(), 1);
    assert_eq!(conditions[0]["code"]["coding"][0]["code"], "I21.9");
    assert_eq!(
        conditions[0]["category"][0]["coding"][0]["code"],
        "16100001"
    );
    let procedures = all(&m, "Procedure");
    let codes: Vec<&Value> = procedures
        .iter()
        .map(|p| &p["code"]["coding"][0]["code"])
        .collect();
    assert!(codes.contains(&&Value::from("308646001")));
    assert!(codes.contains(&&Value::from("29240004")));
    let autopsy = procedures
        .iter()
        .find(|p| p["code"]["coding"][0]["code"] == "29240004")
        .expect("autopsy");
    assert_eq!(
        autopsy["performedPeriod"]["end"],
        "2024-03-03T11:00:00+01:00"
    );
    let observations = all(&m, "Observation");
    let by_code = |code: &str| {
        observations
            .iter()
            .find(|o| o["code"]["coding"][0]["code"] == code)
            .map(|o| o["valueCodeableConcept"]["coding"][0]["code"].clone())
    };
    assert_eq!(by_code("85699-7"), Some(Value::from("Y")));
    assert_eq!(by_code("74497-9"), Some(Value::from("N")));
}

#[test]
fn acc_is_an_injury_incident_observation() {
    let acc = seg(
        "ACC",
        &[
            (1, "20240215"),
            (2, "MV^Motor vehicle^HL70050"),
            (3, "Parking lot"),
            (5, "N"),
            (6, "N"),
            (8, "Car collision at low speed"),
            (13, "ACC-1"),
        ],
    );
    let m = map(&[&acc]);
    let o = all(&m, "Observation")[0];
    assert_eq!(o["code"]["coding"][0]["code"], "11374-6");
    assert_eq!(o["valueString"], "Car collision at low speed");
    assert_eq!(o["effectiveDateTime"], "2024-02-15");
    assert_eq!(o["identifier"][0]["value"], "ACC-1");
    assert!(o["note"][0]["text"]
        .as_str()
        .is_some_and(|t| t.contains("Parking lot")));
}

#[test]
fn rf1_is_a_referral_service_request() {
    let rf1 = seg(
        "RF1",
        &[
            (1, "P^Pending^HL70283"),
            (2, "S^STAT^HL70280"),
            (3, "PSY^Psychiatric^HL70281"),
            (6, "REF-1^HOSP"),
            (7, "20240301"),
            (8, "20240601"),
            (9, "20240301103000+0100"),
            (10, "F32.1^Depression^I10"),
        ],
    );
    let m = map(&[&rf1]);
    let sr = all(&m, "ServiceRequest")[0];
    assert_eq!(sr["status"], "active");
    assert_eq!(sr["intent"], "order");
    assert_eq!(sr["priority"], "stat");
    assert_eq!(sr["code"]["coding"][0]["code"], "3457005");
    assert_eq!(sr["identifier"][0]["value"], "REF-1");
    assert_eq!(sr["reasonCode"][0]["coding"][0]["code"], "F32.1");
    assert_eq!(sr["occurrencePeriod"]["start"], "2024-03-01");
    // The same referral re-sent is the same resource.
    let again = map(&[&seg("RF1", &[(1, "A"), (2, "R"), (6, "REF-1^HOSP")])]);
    assert_eq!(all(&again, "ServiceRequest")[0]["id"], sr["id"]);
}

#[test]
fn repeated_numeric_value_keeps_every_repetition() {
    let m = map(&["OBX|1|NM|8867-4^Heart rate^LN||60~120|/min^^UCUM|||||F"]);
    let o = all(&m, "Observation")[0];
    assert!(o.get("valueQuantity").is_none());
    let values: Vec<&Value> = o["component"]
        .as_array()
        .expect("components")
        .iter()
        .map(|c| &c["valueQuantity"]["value"])
        .collect();
    assert_eq!(values.len(), 2);
    assert_eq!(o["component"][1]["code"]["coding"][0]["code"], "8867-4");
    assert!(m.warnings.iter().any(|w| w.segment == "OBX"));
}
