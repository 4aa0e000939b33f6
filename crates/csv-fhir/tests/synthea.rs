//! The Synthea preset over the synthetic fixture (`fixtures/csv/synthea/`), end to end.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use salus_csv_fhir::{read_csv, CsvLimits, Mapping, RowOutcome};
use serde_json::Value;

const TABLES: &[&str] = &[
    "patients",
    "encounters",
    "conditions",
    "medications",
    "observations",
    "allergies",
    "immunizations",
    "procedures",
];

const P1: &str = "8b0e6c2a-3f1d-4c55-9a70-1d2e3f4a5b61";
const P2: &str = "c4d7f9e1-2b3a-4e6f-8c1d-5a9b0e7f3c22";
const P4: &str = "9a8b7c6d-5e4f-4321-9fed-cba987654304";

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/csv/synthea")
        .join(name)
}

fn preset() -> Mapping {
    match Mapping::from_toml(Mapping::preset_text("synthea").unwrap()) {
        Ok(m) => m,
        Err(errors) => panic!("the synthea preset does not load: {errors:#?}"),
    }
}

/// Every resource of one fixture file, in row order; panics on a rejected row.
fn map_file(mapping: &Mapping, table: &str) -> Vec<Value> {
    let file = format!("{table}.csv");
    let bytes = std::fs::read(fixture(&file)).unwrap();
    let mut out = Vec::new();
    let summary = read_csv(
        &mut bytes.as_slice(),
        &file,
        mapping,
        &CsvLimits::default(),
        &mut |outcome| {
            match outcome {
                RowOutcome::Mapped { resources, .. } => out.extend(resources),
                RowOutcome::Rejected {
                    row,
                    column,
                    reason,
                } => {
                    panic!("{file} row {row} rejected ({column:?}): {reason}")
                }
            }
            Ok(())
        },
    )
    .unwrap_or_else(|e| panic!("{file}: {e}"));
    assert_eq!(summary.table, table);
    assert_eq!(summary.rows as usize, out.len());
    out
}

fn all(mapping: &Mapping) -> BTreeMap<&'static str, Vec<Value>> {
    TABLES.iter().map(|t| (*t, map_file(mapping, t))).collect()
}

fn reference_to(v: &Value) -> String {
    format!(
        "{}/{}",
        v["resourceType"].as_str().unwrap(),
        v["id"].as_str().unwrap()
    )
}

#[test]
fn preset_is_available() {
    assert!(Mapping::preset("synthea").is_some());
    assert!(Mapping::preset("nope").is_none());
    assert_eq!(preset().name(), "synthea");
    assert_eq!(Mapping::preset_names().collect::<Vec<_>>(), ["synthea"]);
}

#[test]
fn every_resource_is_valid_fhir_r4() {
    let mapping = preset();
    let mut count = 0;
    for (table, resources) in all(&mapping) {
        assert!(!resources.is_empty(), "{table}");
        for r in resources {
            if let Err(issues) = salus_fhir::schema::validate(&r) {
                panic!("{table}: {r:#}\n{issues:#?}");
            }
            count += 1;
        }
    }
    assert_eq!(count, 4 + 6 + 6 + 3 + 10 + 2 + 2 + 3);
}

#[test]
fn ids_are_the_same_on_every_run_and_unique() {
    let first = all(&preset());
    let second = all(&preset());
    assert_eq!(first, second);
    let mut seen = BTreeSet::new();
    for resources in first.values() {
        for r in resources {
            assert!(salus_fhir::ids::is_valid_id(r["id"].as_str().unwrap()));
            assert!(
                seen.insert(reference_to(r)),
                "duplicate {}",
                reference_to(r)
            );
        }
    }
    // The id is derive_id of csv|<mapping>|<Type>|<key>.
    let patients = &first["patients"];
    assert_eq!(
        patients[0]["id"],
        salus_fhir::ids::derive_id(&format!("csv|synthea|Patient|{P1}"))
    );
}

#[test]
fn references_resolve_to_the_resources_of_the_other_tables() {
    let mapping = preset();
    let tables = all(&mapping);
    let patients: BTreeSet<String> = tables["patients"].iter().map(reference_to).collect();
    let encounters: BTreeSet<String> = tables["encounters"].iter().map(reference_to).collect();
    for (table, resources) in &tables {
        if *table == "patients" {
            continue;
        }
        let patient_element = match *table {
            "allergies" | "immunizations" => "patient",
            _ => "subject",
        };
        for r in resources {
            let subject = r[patient_element]["reference"].as_str().unwrap();
            assert!(patients.contains(subject), "{table}: {subject}");
            if *table != "encounters" {
                let encounter = r["encounter"]["reference"].as_str().unwrap();
                assert!(encounters.contains(encounter), "{table}: {encounter}");
            }
        }
    }
    // The patients table's id for a key is the id other tables refer to.
    let patients_table = mapping.table_for("patients.csv", &[]).unwrap();
    let condition = &tables["conditions"][0];
    assert_eq!(
        condition["subject"]["reference"],
        format!("Patient/{}", patients_table.id_for_key(P1))
    );
}

#[test]
fn patient_values() {
    let patients = map_file(&preset(), "patients");
    let ada = &patients[0];
    assert_eq!(ada["resourceType"], "Patient");
    assert_eq!(ada["meta"]["source"], "urn:salus:csv:synthea:patients");
    assert_eq!(ada["gender"], "female");
    assert_eq!(ada["birthDate"], "1988-04-12");
    assert!(ada.get("deceasedDateTime").is_none());
    assert_eq!(ada["name"][0]["family"], "Quillfeather");
    assert_eq!(ada["name"][0]["given"], serde_json::json!(["Ada"]));
    assert_eq!(ada["name"][0]["prefix"], serde_json::json!(["Mrs."]));
    assert!(ada["name"][0].get("suffix").is_none());
    assert_eq!(
        ada["name"][1],
        serde_json::json!({"use": "maiden", "family": "Brindlewood"})
    );
    assert_eq!(ada["identifier"][0]["value"], P1);
    assert_eq!(
        ada["identifier"][1]["system"],
        "http://hl7.org/fhir/sid/us-ssn"
    );
    assert_eq!(ada["identifier"][1]["value"], "999-41-2207");
    assert_eq!(ada["maritalStatus"]["coding"][0]["code"], "M");
    let address = &ada["address"][0];
    assert_eq!(address["postalCode"], "66604");
    assert_eq!(address["district"], "Shawnee County");
    assert_eq!(address["state"], "Kansas");
    assert_eq!(
        address["extension"][0],
        serde_json::json!({"url": "http://salus.example/fhir/StructureDefinition/county-fips",
                           "valueString": "20177"})
    );
    // Decimals keep their digits.
    assert_eq!(
        address["extension"][1]["extension"][0]["valueDecimal"].to_string(),
        "39.04731"
    );
    assert_eq!(
        ada["extension"][0]["extension"][0]["valueCoding"]["code"],
        "2106-3"
    );

    // A second given name, no passport, and a quoted address with a comma.
    let ben = &patients[1];
    assert_eq!(
        ben["name"][0]["given"],
        serde_json::json!(["Ben", "Marlow"])
    );
    assert_eq!(ben["address"][0]["line"][0], "77 Imaginary Rd, Apt 4");
    let ids: Vec<&str> = ben["identifier"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|i| i["type"]["coding"][0]["code"].as_str())
        .collect();
    assert_eq!(ids, ["SS", "DL"], "the empty PASSPORT leaves no identifier");
    assert_eq!(ben["name"].as_array().unwrap().len(), 1, "no maiden name");

    // A leading zero in a ZIP code is kept; race "other" keeps only its text.
    let cora = &patients[2];
    assert_eq!(cora["address"][0]["postalCode"], "02139");
    assert_eq!(cora["address"][0]["extension"][0]["valueString"], "25017");
    let dev = &patients[3];
    assert_eq!(dev["deceasedDateTime"], "2021-03-14");
    assert_eq!(
        dev["extension"][0]["extension"],
        serde_json::json!([{"url": "text", "valueString": "other"}])
    );
    assert_eq!(dev["name"][0]["suffix"], serde_json::json!(["Jr."]));
}

#[test]
fn phq9_and_gad7_observations() {
    let mapping = preset();
    let observations = map_file(&mapping, "observations");
    let p1 = format!(
        "Patient/{}",
        mapping
            .table_for("patients.csv", &[])
            .unwrap()
            .id_for_key(P1)
    );
    let phq9: Vec<&Value> = observations
        .iter()
        .filter(|o| {
            o["code"]["coding"][0]["code"] == "44261-6" && o["subject"]["reference"] == p1.as_str()
        })
        .collect();
    assert_eq!(phq9.len(), 2);
    let first = phq9[0];
    assert_eq!(first["status"], "final");
    assert_eq!(first["code"]["coding"][0]["system"], "http://loinc.org");
    assert_eq!(first["effectiveDateTime"], "2022-03-01T14:10:00Z");
    assert_eq!(first["valueQuantity"]["value"], serde_json::json!(14.0));
    assert_eq!(first["valueQuantity"]["value"].to_string(), "14.0");
    assert_eq!(first["valueQuantity"]["unit"], "{score}");
    assert_eq!(
        first["valueQuantity"]["system"],
        "http://unitsofmeasure.org"
    );
    assert_eq!(first["category"][0]["coding"][0]["code"], "survey");
    assert_eq!(phq9[1]["valueQuantity"]["value"].to_string(), "9.0");

    let gad7 = observations
        .iter()
        .find(|o| {
            o["code"]["coding"][0]["code"] == "70274-6" && o["subject"]["reference"] == p1.as_str()
        })
        .unwrap();
    assert_eq!(gad7["valueQuantity"]["value"].to_string(), "8.0");

    // A text observation has valueString and no quantity.
    let smoking = observations
        .iter()
        .find(|o| o["code"]["coding"][0]["code"] == "72166-2")
        .unwrap();
    assert_eq!(smoking["valueString"], "Never smoked tobacco (finding)");
    assert!(smoking.get("valueQuantity").is_none());
    assert_eq!(
        map_file(&mapping, "observations")
            .iter()
            .find(|o| o["code"]["coding"][0]["code"] == "29463-7")
            .unwrap()["valueQuantity"]["value"]
            .to_string(),
        "82.30"
    );
}

#[test]
fn conditions_medications_and_the_rest() {
    let mapping = preset();
    let conditions = map_file(&mapping, "conditions");
    assert_eq!(
        conditions[0]["code"]["coding"][0]["system"],
        "http://snomed.info/sct"
    );
    assert_eq!(conditions[0]["code"]["coding"][0]["code"], "370143000");
    assert_eq!(
        conditions[0]["clinicalStatus"]["coding"][0]["code"],
        "active"
    );
    assert_eq!(conditions[0]["onsetDateTime"], "2022-03-01");
    let resolved = &conditions[3];
    assert_eq!(resolved["clinicalStatus"]["coding"][0]["code"], "resolved");
    assert_eq!(resolved["abatementDateTime"], "2023-06-01");

    let medications = map_file(&mapping, "medications");
    assert_eq!(medications[0]["resourceType"], "MedicationRequest");
    assert_eq!(medications[0]["status"], "active");
    assert_eq!(
        medications[0]["medicationCodeableConcept"]["coding"][0]["code"],
        "312940"
    );
    assert_eq!(medications[0]["authoredOn"], "2022-04-05T15:20:00Z");
    let p4 = format!(
        "Patient/{}",
        mapping
            .table_for("patients.csv", &[])
            .unwrap()
            .id_for_key(P4)
    );
    let stopped = medications
        .iter()
        .find(|m| m["subject"]["reference"] == p4.as_str())
        .unwrap();
    assert_eq!(stopped["status"], "stopped");
    assert_eq!(
        stopped["dispenseRequest"]["validityPeriod"]["end"],
        "2021-01-15T10:30:00Z"
    );

    let allergies = map_file(&mapping, "allergies");
    let penicillin = &allergies[0];
    assert_eq!(
        penicillin["code"]["coding"][0]["system"],
        "http://www.nlm.nih.gov/research/umls/rxnorm"
    );
    assert_eq!(penicillin["category"], serde_json::json!(["medication"]));
    assert_eq!(penicillin["reaction"].as_array().unwrap().len(), 1);
    assert_eq!(penicillin["reaction"][0]["severity"], "mild");
    let peanut = &allergies[1];
    assert_eq!(peanut["reaction"][1]["severity"], "severe");
    assert_eq!(
        peanut["reaction"][1]["manifestation"][0]["coding"][0]["code"],
        "39579001"
    );

    let immunizations = map_file(&mapping, "immunizations");
    assert_eq!(immunizations[0]["vaccineCode"]["coding"][0]["code"], "140");
    assert_eq!(
        immunizations[0]["occurrenceDateTime"],
        "2022-03-01T14:20:00Z"
    );
    assert_eq!(immunizations[0]["primarySource"], true);

    let encounters = map_file(&mapping, "encounters");
    assert_eq!(encounters[0]["class"]["code"], "AMB");
    assert_eq!(encounters[5]["class"]["code"], "VR");
    assert_eq!(encounters[0]["period"]["end"], "2022-03-01T14:30:00Z");
    assert!(encounters[0].get("reasonCode").is_none());

    let procedures = map_file(&mapping, "procedures");
    assert_eq!(
        procedures[1]["reasonCode"][0]["coding"][0]["code"],
        "21897009"
    );
    let p2 = format!(
        "Patient/{}",
        mapping
            .table_for("patients.csv", &[])
            .unwrap()
            .id_for_key(P2)
    );
    assert_eq!(procedures[1]["subject"]["reference"], p2.as_str());
}

#[test]
fn files_are_matched_by_name_and_by_header() {
    let mapping = preset();
    for table in TABLES {
        let text = std::fs::read_to_string(fixture(&format!("{table}.csv"))).unwrap();
        let header: Vec<&str> = text.lines().next().unwrap().split(',').collect();
        assert_eq!(
            mapping
                .table_for(&format!("out/csv/{table}.csv"), &[])
                .unwrap()
                .name(),
            *table
        );
        assert_eq!(
            mapping
                .table_for(&format!("{}.CSV.gz", table.to_uppercase()), &[])
                .unwrap()
                .name(),
            *table
        );
        assert_eq!(
            mapping
                .table_for("export-renamed.csv", &header)
                .map(|t| t.name()),
            Some(*table),
            "by header"
        );
    }
    assert!(mapping.table_for("other.csv", &["A", "B"]).is_none());
}
