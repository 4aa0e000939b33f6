//! HL7's own C-CDA examples (`shared/fixtures/external/ccda/hl7-ccda-examples`): a full R2.1
//! CCD, and fragments from the C-CDA examples repository (a recordTarget, a section, an entry
//! or a bare observation) that each show one rule. A fragment is not a document, so it is
//! wrapped into a minimal ClinicalDocument (`wrap`), in the place and section the fragment
//! belongs to, and the test says what it must map to.
//!
//! Every test also checks that the document is not rejected and that every resource is valid
//! against the FHIR R4 schema.

use std::path::{Path, PathBuf};

use salus_ccda_fhir::{map_bytes, Limits, MapOptions, Mapped};
use serde_json::Value;

const LOINC: &str = "http://loinc.org";
const SNOMED: &str = "http://snomed.info/sct";
const US_CORE: &str = "http://hl7.org/fhir/us/core/StructureDefinition";
const US_CORE_CATEGORY: &str = "http://hl7.org/fhir/us/core/CodeSystem/us-core-category";
const OBS_CATEGORY: &str = "http://terminology.hl7.org/CodeSystem/observation-category";
const DATA_ABSENT: &str = "http://hl7.org/fhir/StructureDefinition/data-absent-reason";

fn examples() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/fixtures/external/ccda/hl7-ccda-examples");
    if dir.is_dir() {
        Some(dir)
    } else {
        println!("skipped: {} is absent", dir.display());
        None
    }
}

/// Map a document; it must not be rejected, and every resource must be schema-valid.
fn map(xml: &[u8]) -> Mapped {
    let mapped = map_bytes(xml, &Limits::default(), &MapOptions::default())
        .unwrap_or_else(|e| panic!("the document is rejected: {e}"));
    let invalid: Vec<String> = mapped
        .resources
        .iter()
        .filter_map(|r| {
            salus_fhir::schema::validate(&r.resource)
                .err()
                .map(|issues| {
                    format!(
                        "{} at {}: {issues:?}",
                        r.resource["resourceType"], r.position
                    )
                })
        })
        .collect();
    assert!(
        invalid.is_empty(),
        "resources invalid against the FHIR schema: {invalid:#?}"
    );
    mapped
}

fn resources(m: &Mapped) -> Vec<&Value> {
    m.resources.iter().map(|r| &r.resource).collect()
}

fn of_type<'a>(m: &'a Mapped, kind: &str) -> Vec<&'a Value> {
    m.resources
        .iter()
        .map(|r| &r.resource)
        .filter(|r| r["resourceType"] == kind)
        .collect()
}

fn patient(m: &Mapped) -> &Value {
    let p = of_type(m, "Patient");
    assert_eq!(p.len(), 1, "one Patient");
    p[0]
}

/// Whether a CodeableConcept (or Coding) has `system|code` among its codings.
fn has_code(cc: &Value, system: &str, code: &str) -> bool {
    let one = |c: &Value| c["system"] == system && c["code"] == code;
    match cc.get("coding").and_then(Value::as_array) {
        Some(list) => list.iter().any(one),
        None => one(cc),
    }
}

/// The resources of a type whose `field` (a CodeableConcept) has the code.
fn coded<'a>(m: &'a Mapped, kind: &str, field: &str, system: &str, code: &str) -> Vec<&'a Value> {
    of_type(m, kind)
        .into_iter()
        .filter(|r| has_code(&r[field], system, code))
        .collect()
}

fn one_coded<'a>(m: &'a Mapped, kind: &str, field: &str, system: &str, code: &str) -> &'a Value {
    let found = coded(m, kind, field, system, code);
    assert_eq!(
        found.len(),
        1,
        "one {kind} with {field} {system}|{code}; the {kind} resources: {:#?}",
        of_type(m, kind)
            .iter()
            .map(|r| r[field].clone())
            .collect::<Vec<_>>()
    );
    found[0]
}

/// The resource a `Type/id` reference names.
fn resolve<'a>(m: &'a Mapped, reference: &Value) -> Option<&'a Value> {
    let (kind, id) = reference["reference"].as_str()?.split_once('/')?;
    m.resources
        .iter()
        .map(|r| &r.resource)
        .find(|r| r["resourceType"] == kind && r["id"] == id)
}

fn category_has(r: &Value, system: &str, code: &str) -> bool {
    r["category"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|c| has_code(c, system, code))
}

/// A fragment's text without its XML declaration.
fn fragment(dir: &Path, name: &str) -> String {
    let text = std::fs::read_to_string(dir.join("fragments").join(name))
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    let text = text.trim_start_matches('\u{feff}').trim_start();
    match text.strip_prefix("<?xml") {
        Some(rest) => rest[rest.find("?>").expect("the declaration ends") + 2..].to_string(),
        None => text.to_string(),
    }
}

/// The name of a fragment's first element (comments and processing instructions skipped).
fn root_element(text: &str) -> &str {
    let mut rest = text;
    loop {
        let at = rest.find('<').expect("the fragment has an element");
        rest = &rest[at..];
        if let Some(r) = rest.strip_prefix("<!--") {
            rest = &r[r.find("-->").expect("the comment ends") + 3..];
        } else if let Some(r) = rest.strip_prefix("<?") {
            rest = &r[r.find("?>").expect("the instruction ends") + 2..];
        } else {
            let name = &rest[1..];
            let end = name
                .find(|c: char| c.is_whitespace() || c == '>' || c == '/')
                .unwrap_or(name.len());
            return &name[..end];
        }
    }
}

/// The section an entry-level fragment goes in: LOINC section code, section templateId, title.
struct Section {
    code: &'static str,
    template: &'static str,
    title: &'static str,
}

const SOCIAL_HISTORY: Section = Section {
    code: "29762-2",
    template: "2.16.840.1.113883.10.20.22.2.17",
    title: "Social History",
};

const DEFAULT_RECORD_TARGET: &str = r#"<recordTarget>
    <patientRole>
      <id root="2.16.840.1.113883.19.5.99999.2" extension="998991"/>
      <patient>
        <name use="L"><given>Test</given><family>Patient</family></name>
        <administrativeGenderCode code="F" codeSystem="2.16.840.1.113883.5.1"/>
        <birthTime value="19700101"/>
      </patient>
    </patientRole>
  </recordTarget>"#;

/// A fragment wrapped into a minimal valid C-CDA R2.1 document: a recordTarget fragment in
/// the header, a section fragment in `structuredBody/component`, an entry (or a bare act,
/// which gets its `<entry>`) in a section of the given kind.
fn wrap(text: &str, section: Option<&Section>) -> String {
    let root = root_element(text);
    let (record_target, body) = match root {
        "recordTarget" => (text.to_string(), String::new()),
        "section" => (
            DEFAULT_RECORD_TARGET.to_string(),
            format!("<component>{text}</component>"),
        ),
        _ => {
            let s = section.expect("an entry fragment needs its section");
            let entry = if root == "entry" {
                text.to_string()
            } else {
                format!("<entry>{text}</entry>")
            };
            (
                DEFAULT_RECORD_TARGET.to_string(),
                format!(
                    r#"<component><section>
        <templateId root="{t}"/><templateId root="{t}" extension="2015-08-01"/>
        <code code="{c}" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC"/>
        <title>{title}</title><text>{title}</text>
        {entry}
      </section></component>"#,
                    t = s.template,
                    c = s.code,
                    title = s.title
                ),
            )
        }
    };
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<ClinicalDocument xmlns="urn:hl7-org:v3" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:sdtc="urn:hl7-org:sdtc">
  <realmCode code="US"/>
  <typeId root="2.16.840.1.113883.1.3" extension="POCD_HD000040"/>
  <templateId root="2.16.840.1.113883.10.20.22.1.1" extension="2015-08-01"/>
  <templateId root="2.16.840.1.113883.10.20.22.1.2" extension="2015-08-01"/>
  <id root="2.16.840.1.113883.19.5.99999.1" extension="fragment-test"/>
  <code code="34133-9" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Summarization of Episode Note"/>
  <title>Fragment test</title>
  <effectiveTime value="20230101120000-0500"/>
  <confidentialityCode code="N" codeSystem="2.16.840.1.113883.5.25"/>
  <languageCode code="en-US"/>
  {record_target}
  <author>
    <time value="20230101120000-0500"/>
    <assignedAuthor>
      <id root="2.16.840.1.113883.4.6" extension="1234567893"/>
      <assignedPerson><name><given>Test</given><family>Author</family></name></assignedPerson>
    </assignedAuthor>
  </author>
  <custodian><assignedCustodian><representedCustodianOrganization>
    <id root="2.16.840.1.113883.19.5"/><name>Test Custodian</name>
  </representedCustodianOrganization></assignedCustodian></custodian>
  <component><structuredBody>
    {body}
  </structuredBody></component>
</ClinicalDocument>
"#
    )
}

fn map_fragment(name: &str, section: Option<&Section>) -> Option<Mapped> {
    let dir = examples()?;
    let xml = wrap(&fragment(&dir, name), section);
    Some(map(xml.as_bytes()))
}

#[test]
fn the_wrapper_places_fragments() {
    assert_eq!(
        root_element("<!-- x --><observation a='1'/>"),
        "observation"
    );
    assert_eq!(root_element("<recordTarget>"), "recordTarget");
    let doc = wrap("<observation/>", Some(&SOCIAL_HISTORY));
    assert!(doc.contains("<entry><observation/></entry>"));
    assert!(doc.contains(r#"code="29762-2""#));
    let doc = wrap("<section/>", None);
    assert!(doc.contains("<component><section/></component>"));
    // The default patient is replaced by a recordTarget fragment, not added to.
    let doc = wrap("<recordTarget><patientRole/></recordTarget>", None);
    assert_eq!(doc.matches("<recordTarget>").count(), 1);
    // The wrapper alone is a document the mapper takes.
    let m = map(wrap("<section><code code=\"10164-2\"/></section>", None).as_bytes());
    assert_eq!(patient(&m)["birthDate"], "1970-01-01");
}

#[test]
fn ccd1_maps_whole() {
    let Some(dir) = examples() else { return };
    let bytes = std::fs::read(dir.join("CCD1_CCD.xml")).expect("CCD1_CCD.xml readable");
    let m = map(&bytes);

    // recordTarget: Eve Betterhalf, born 1975-05-01, female, SSN 444222222, Beaverton OR.
    let p = patient(&m);
    let names = p["name"].as_array().expect("names");
    assert!(
        names.iter().any(|n| n["family"] == "Betterhalf"
            && n["given"][0] == "Eve"
            && n["use"] == "official"),
        "{names:?}"
    );
    assert_eq!(p["birthDate"], "1975-05-01");
    assert_eq!(p["gender"], "female");
    assert!(p["identifier"]
        .as_array()
        .expect("identifiers")
        .iter()
        .any(|i| i["system"] == "http://hl7.org/fhir/sid/us-ssn" && i["value"] == "444222222"));
    assert_eq!(p["address"][0]["city"], "Beaverton");
    assert_eq!(p["address"][0]["postalCode"], "97867");
    assert!(!of_type(&m, "RelatedPerson").is_empty(), "the guardian");

    // Every section that has entries maps to its resource type.
    let missing: Vec<&str> = [
        "AllergyIntolerance",
        "Condition",
        "MedicationStatement",
        "Immunization",
        "Procedure",
        "Encounter",
        "FamilyMemberHistory",
        "DiagnosticReport",
        "Observation",
        "Practitioner",
        "Organization",
        "DocumentReference",
    ]
    .into_iter()
    .filter(|kind| of_type(&m, kind).is_empty())
    .collect();
    assert!(
        missing.is_empty(),
        "no resource of these types: {missing:?}"
    );

    // Results: hemoglobin 13.2 g/dL at 2008-03-19 08:30 -08:00, in the CBC panel.
    let hgb = one_coded(&m, "Observation", "code", LOINC, "718-7");
    assert_eq!(hgb["valueQuantity"]["value"].to_string(), "13.2");
    assert_eq!(hgb["valueQuantity"]["code"], "g/dL");
    assert_eq!(hgb["effectiveDateTime"], "2008-03-19T08:30:00-08:00");
    assert!(category_has(hgb, OBS_CATEGORY, "laboratory"));
    let cbc = one_coded(&m, "DiagnosticReport", "code", LOINC, "57021-8");
    assert!(cbc["result"]
        .as_array()
        .expect("results")
        .iter()
        .any(|r| resolve(&m, r).is_some_and(|o| has_code(&o["code"], LOINC, "718-7"))));

    // Vital signs: height 177 cm twice (2011-09-01 and 2012-09-10).
    let heights = coded(&m, "Observation", "code", LOINC, "8302-2");
    assert_eq!(heights.len(), 2, "two heights");
    for h in &heights {
        assert_eq!(h["valueQuantity"]["value"].to_string(), "177");
        assert_eq!(h["valueQuantity"]["code"], "cm");
        assert!(category_has(h, OBS_CATEGORY, "vital-signs"));
    }

    // Social history: smoking status ex-smoker.
    let smoking = one_coded(&m, "Observation", "code", LOINC, "72166-2");
    assert!(has_code(
        &smoking["valueCodeableConcept"],
        SNOMED,
        "8517006"
    ));

    // Allergy to penicillin (RxNorm 70618), reaction nausea.
    let allergy = one_coded(
        &m,
        "AllergyIntolerance",
        "code",
        "http://www.nlm.nih.gov/research/umls/rxnorm",
        "70618",
    );
    assert!(allergy["reaction"]
        .as_array()
        .expect("reactions")
        .iter()
        .flat_map(|r| r["manifestation"].as_array().into_iter().flatten())
        .any(|c| has_code(c, SNOMED, "422587007")));

    // Problems: pneumonia.
    assert!(!coded(&m, "Condition", "code", SNOMED, "233604007").is_empty());

    // Medications: Proventil (RxNorm 573621) from 2011-01-03, 2 puffs, inhaled (C38216).
    let med = coded(
        &m,
        "MedicationStatement",
        "medicationCodeableConcept",
        "http://www.nlm.nih.gov/research/umls/rxnorm",
        "573621",
    );
    assert!(!med.is_empty(), "the Proventil statement");
    let med = med[0];
    let start = med["effectivePeriod"]["start"]
        .as_str()
        .or(med["effectiveDateTime"].as_str());
    assert_eq!(start, Some("2011-01-03"));
    assert_eq!(
        med["dosage"][0]["doseAndRate"][0]["doseQuantity"]["value"].to_string(),
        "2"
    );
    assert!(has_code(
        &med["dosage"][0]["route"],
        "http://ncimeta.nci.nih.gov",
        "C38216"
    ));

    // Immunizations: influenza (CVX 88) in November 1999, completed.
    let flu: Vec<&Value> = coded(
        &m,
        "Immunization",
        "vaccineCode",
        "http://hl7.org/fhir/sid/cvx",
        "88",
    )
    .into_iter()
    .filter(|i| i["occurrenceDateTime"] == "1999-11")
    .collect();
    assert_eq!(flu.len(), 1, "the 1999 flu shot");
    assert_eq!(flu[0]["status"], "completed");

    // Procedures: colonoscopy.
    assert!(!coded(&m, "Procedure", "code", SNOMED, "73761001").is_empty());

    // Family history: father with myocardial infarction.
    assert!(of_type(&m, "FamilyMemberHistory")
        .iter()
        .any(|f| f["condition"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|c| has_code(&c["code"], SNOMED, "22298006"))));

    // The document itself.
    let doc = of_type(&m, "DocumentReference");
    assert!(doc.iter().any(|d| has_code(&d["type"], LOINC, "34133-9")));
}

#[test]
fn birth_sex_goes_on_the_patient() {
    let Some(m) = map_fragment("Birth_Sex.xml", Some(&SOCIAL_HISTORY)) else {
        return;
    };
    let p = patient(&m);
    let birth_sex: Vec<&Value> = p["extension"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["url"] == format!("{US_CORE}/us-core-birthsex"))
        .collect();
    assert_eq!(birth_sex.len(), 1, "the birthsex extension: {p:#}");
    assert_eq!(birth_sex[0]["valueCode"], "F");
    // It is a fact about the patient, not an observation besides it.
    assert!(
        coded(&m, "Observation", "code", LOINC, "76689-9").is_empty(),
        "no Observation for birth sex"
    );
}

#[test]
fn hunger_vital_sign_is_a_survey_with_its_items() {
    let Some(m) = map_fragment("Hunger_Vital_Signs_Assessment.xml", Some(&SOCIAL_HISTORY)) else {
        return;
    };
    let hvs = one_coded(&m, "Observation", "code", LOINC, "88121-9");
    assert_eq!(hvs["status"], "final");
    assert_eq!(hvs["effectiveDateTime"], "2012-02-14");
    // The summed score: INT 2.
    assert_eq!(hvs["valueInteger"], 2, "{hvs:#}");
    // A screening instrument (US Core Observation Screening Assessment: category survey), and
    // the Hunger Vital Sign is an SDOH (food insecurity) screening.
    assert!(category_has(hvs, OBS_CATEGORY, "survey"), "{hvs:#}");
    assert!(category_has(hvs, US_CORE_CATEGORY, "sdoh"), "{hvs:#}");
    // Its three COMP items (which all carry the same id in the fragment: they must still be
    // three Observations), each with its LOINC answer.
    let members: Vec<&Value> = hvs["hasMember"]
        .as_array()
        .expect("hasMember")
        .iter()
        .map(|r| resolve(&m, r).unwrap_or_else(|| panic!("{r} resolves")))
        .collect();
    for (question, answer) in [
        ("88122-7", "LA28397-0"),
        ("88123-5", "LA28397-0"),
        ("88124-3", "LA19952-3"),
    ] {
        let item = members
            .iter()
            .find(|o| has_code(&o["code"], LOINC, question))
            .unwrap_or_else(|| panic!("member {question} among {members:#?}"));
        assert!(
            has_code(&item["valueCodeableConcept"], LOINC, answer),
            "{question}: {item:#}"
        );
    }
}

#[test]
fn masked_ssn_is_kept_without_its_value() {
    let Some(dir) = examples() else { return };
    let xml = wrap(&fragment(&dir, "Masked_SSN_Header.xml"), None);
    let m = map(xml.as_bytes());
    let p = patient(&m);
    let ssn: Vec<&Value> = p["identifier"]
        .as_array()
        .expect("identifiers")
        .iter()
        .filter(|i| i["system"] == "http://hl7.org/fhir/sid/us-ssn")
        .collect();
    assert_eq!(ssn.len(), 2, "the SSN and the masked SSN: {ssn:#?}");
    assert!(ssn.iter().any(|i| i["value"] == "414122222"));
    let masked = ssn
        .iter()
        .find(|i| i.get("value").is_none())
        .expect("the masked one has no value");
    assert_eq!(masked["_value"]["extension"][0]["url"], DATA_ABSENT);
    assert_eq!(masked["_value"]["extension"][0]["valueCode"], "masked");
    // The masked text is not data (an id with nullFlavor MSK SHALL NOT be used): it appears
    // in no resource. (The DocumentReference's attachment is the original document, base64,
    // by design.)
    for r in resources(&m) {
        assert!(
            !r.to_string().contains("***-**-2222"),
            "{}",
            r["resourceType"]
        );
    }
    // The rest of the header still maps.
    assert_eq!(p["name"][0]["family"], "Maur");
    assert_eq!(p["name"][0]["given"][0], "Richard");
    assert_eq!(p["birthDate"], "1980-08-01");
    assert_eq!(p["gender"], "male");
    assert_eq!(p["address"][0]["city"], "Beaverton");
}

#[test]
fn phq9_panel_has_its_score_and_items() {
    let Some(m) = map_fragment("PHQ9_C-CDAR2.1.xml", None) else {
        return;
    };
    // The panel (44249-1) carries the total as its value (INT 12), interpretation high.
    let panel = one_coded(&m, "Observation", "code", LOINC, "44249-1");
    assert_eq!(panel["valueInteger"], 12, "{panel:#}");
    assert_eq!(panel["effectiveDateTime"], "2015-06-22");
    assert!(category_has(panel, OBS_CATEGORY, "survey"), "{panel:#}");
    assert!(panel["interpretation"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|c| has_code(
            c,
            "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation",
            "H"
        )));
    // The total score observation: 44261-6 = 12.
    let total = one_coded(&m, "Observation", "code", LOINC, "44261-6");
    assert_eq!(total["valueInteger"], 12, "{total:#}");
    // hasMember resolves to the total, the nine items and question 10.
    let members: Vec<&Value> = panel["hasMember"]
        .as_array()
        .expect("hasMember")
        .iter()
        .map(|r| resolve(&m, r).unwrap_or_else(|| panic!("{r} resolves")))
        .collect();
    let items = [
        ("44250-9", 0, "LA6568-5"),
        ("44255-8", 1, "LA6569-3"),
        ("44259-0", 2, "LA6570-1"),
        ("44254-1", 0, "LA6568-5"),
        ("44251-7", 1, "LA6569-3"),
        ("44258-2", 3, "LA6571-9"),
        ("44252-5", 2, "LA6570-1"),
        ("44253-3", 3, "LA6571-9"),
        ("44260-8", 0, "LA6568-5"),
    ];
    for (code, score, answer) in items {
        let item = members
            .iter()
            .find(|o| has_code(&o["code"], LOINC, code))
            .unwrap_or_else(|| panic!("item {code} is a member"));
        // The item has two values (INT score and the CO LOINC answer); FHIR has one value[x]:
        // either is the answer, but one must be there and be the fragment's.
        let answered =
            has_code(&item["valueCodeableConcept"], LOINC, answer) || item["valueInteger"] == score;
        assert!(answered, "item {code} answer: {item:#}");
    }
    assert!(members
        .iter()
        .any(|o| has_code(&o["code"], LOINC, "44261-6")));
    assert!(members
        .iter()
        .any(|o| has_code(&o["code"], LOINC, "69722-7")));
    assert_eq!(members.len(), 11, "total + 9 items + question 10");
}

#[test]
fn deceased_patient() {
    let Some(dir) = examples() else { return };
    let m = map(wrap(&fragment(&dir, "Patient_Deceased_Header.xml"), None).as_bytes());
    let p = patient(&m);
    // deceasedInd true with deceasedTime 20180315: the time says more than the flag.
    assert_eq!(p["deceasedDateTime"], "2018-03-15", "{p:#}");
    assert!(p.get("deceasedBoolean").is_none());
    assert_eq!(p["name"][0]["family"], "Rumpelstiltskin");
    assert_eq!(p["birthDate"], "1952-10-22");
    let race = p["extension"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|e| e["url"] == format!("{US_CORE}/us-core-race"))
        .expect("race");
    assert_eq!(race["extension"][0]["valueCoding"]["code"], "2106-3");
    // telecom nullFlavor NA: no ContactPoint.
    assert!(p.get("telecom").is_none());
}

#[test]
fn sdoh_goal() {
    let Some(m) = map_fragment("SDOH_Goal.xml", None) else {
        return;
    };
    let goals = of_type(&m, "Goal");
    assert_eq!(goals.len(), 1, "one Goal");
    let goal = goals[0];
    assert_eq!(goal["lifecycleStatus"], "active");
    assert_eq!(goal["startDate"], "2022-08-13");
    // The goal is "Housing adequate" (the observation's value) about social function (its
    // code): both must be in the Goal, as description or target.
    let text = goal.to_string();
    assert!(
        has_code(&goal["description"], SNOMED, "161036002")
            || has_code(&goal["description"], LOINC, "8689-2"),
        "description: {goal:#}"
    );
    assert!(
        text.contains("161036002"),
        "the goal value is kept: {goal:#}"
    );
    // The author is a provider: expressedBy.
    let by = resolve(&m, &goal["expressedBy"]).expect("expressedBy resolves");
    assert_eq!(by["resourceType"], "Practitioner");
    assert_eq!(by["name"][0]["family"], "Sixer");
    // The reason (Z59.1 inadequate housing, ICD-10-CM Z55–Z65) makes it an SDOH goal.
    assert!(category_has(goal, US_CORE_CATEGORY, "sdoh"), "{goal:#}");
    // The RSON Reason (Z59.1) is what the goal addresses: the fragment says "to link to an
    // ICD concept … an entryRelationship RSON to the Problem or Health concern.
    // Alternatively the Reason template can be used". R4 Goal has no reasonCode: addresses
    // (Condition | Observation …) is the only place the link survives.
    let addresses: Vec<&Value> = goal["addresses"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|a| resolve(&m, a))
        .collect();
    assert!(
        addresses
            .iter()
            .any(|r| r.to_string().contains("\"Z59.1\"")),
        "Goal.addresses resolves to nothing holding the Z59.1 reason: {goal:#}"
    );
}

#[test]
fn sdoh_problem() {
    let Some(m) = map_fragment("SDOH_Problem.xml", None) else {
        return;
    };
    let c = one_coded(&m, "Condition", "code", SNOMED, "445281000124101");
    assert!(has_code(
        &c["code"],
        "http://hl7.org/fhir/sid/icd-10-cm",
        "Z59.48"
    ));
    assert!(category_has(
        c,
        "http://terminology.hl7.org/CodeSystem/condition-category",
        "problem-list-item"
    ));
    // Food access (SNOMED 445281000124101, ICD-10-CM Z59.48 in Z55–Z65, "persons with
    // potential health hazards related to socioeconomic circumstances") is an SDOH problem.
    assert!(category_has(c, US_CORE_CATEGORY, "sdoh"), "{c:#}");
    assert_eq!(c["clinicalStatus"]["coding"][0]["code"], "active");
    let by = resolve(&m, &c["recorder"]).expect("recorder resolves");
    assert_eq!(by["name"][0]["family"], "Sixer");
}
