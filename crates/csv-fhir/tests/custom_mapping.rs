//! A mapping written for a made-up clinic export: the features the Synthea preset does not use.

use salus_csv_fhir::{read_csv, CsvError, CsvLimits, Mapping, RowOutcome};
use serde_json::{json, Value};

const MAPPING: &str = r#"
name = "clinic"
[defaults]
zone = "-06:00"

[[table]]
name = "people"
files = ["people*.csv"]
resource = "Patient"
id = "{SITE}|{MRN}"
field = [
  { path = "identifier[0].system", value = "urn:oid:1.2.3.4" },
  { path = "identifier[0].value", column = "MRN" },
  { path = "birthDate", column = "DOB", type = "date", format = "%m/%d/%Y" },
  { path = "gender", column = "SEX", type = "code", map = { M = "male", F = "female" }, default = "unknown" },
  { path = "active", column = "STATUS", type = "boolean", map = { A = "true", I = "false" }, unmapped = "omit" },
  { path = "name[0].text", column = "NAME", unmapped = "keep", map = { "-" = "unknown" } },
]

[[table]]
name = "results"
header = ["MRN", "SITE", "TEST", "RESULT"]
resource = "Observation"
id = "{SITE}|{MRN}|{TEST}|{WHEN}"
patient = { key = "{SITE}|{MRN}" }
field = [
  { path = "status", value = "final", type = "code" },
  { path = "code.coding[0].system", value = "http://loinc.org" },
  { path = "code.coding[0].code", column = "TEST", type = "code", required = true },
  { path = "effectiveDateTime", column = "WHEN", type = "dateTime", format = "%Y-%m-%d %H:%M" },
  { path = "issued", column = "ISSUED", type = "instant", format = "fhir", optional = true },
  { path = "valueInteger", column = "RESULT", type = "integer", when = { column = "KIND", one_of = ["count", "score"] } },
  { path = "valueQuantity.value", column = "RESULT", type = "decimal", when = { column = "KIND", equals = "quantity" } },
  { path = "valueString", column = "RESULT", when = { column = "KIND", present = false } },
]

[[table]]
name = "notes"
header = ["MRN", "SITE", "TEST", "NOTE"]
resource = "Observation"
id = "{SITE}|{TEST}|{NOTE}"
patient = { column = "MRN" }
field = [
  { path = "status", value = "final", type = "code" },
  { path = "code.text", column = "TEST" },
  { path = "valueString", column = "NOTE" },
]
"#;

fn mapping() -> Mapping {
    Mapping::from_toml(MAPPING).unwrap_or_else(|e| panic!("{e:#?}"))
}

fn read(file: &str, text: &str) -> Result<Vec<RowOutcome>, CsvError> {
    let mut out = Vec::new();
    read_csv(
        &mut text.as_bytes(),
        file,
        &mapping(),
        &CsvLimits::default(),
        &mut |o| {
            out.push(o);
            Ok(())
        },
    )?;
    Ok(out)
}

fn resource(o: &RowOutcome) -> &Value {
    match o {
        RowOutcome::Mapped { resources, .. } => &resources[0],
        RowOutcome::Rejected { row, reason, .. } => panic!("row {row}: {reason}"),
    }
}

#[test]
fn defaults_maps_and_formats() {
    let out = read(
        "people_2024.csv",
        "SITE,MRN,DOB,SEX,STATUS,NAME\nA,1,02/17/1990,F,A,Ann\nA,2,12/01/1985,,X,-\nB|C,3,01/01/2000,M,I,Bo\n",
    )
    .unwrap();
    let ann = resource(&out[0]);
    assert_eq!(ann["birthDate"], "1990-02-17");
    assert_eq!(ann["gender"], "female");
    assert_eq!(ann["active"], true);
    let second = resource(&out[1]);
    assert_eq!(second["gender"], "unknown", "the default for an empty cell");
    assert!(second.get("active").is_none(), "unmapped = omit");
    assert_eq!(second["name"][0]["text"], "unknown");
    let third = resource(&out[2]);
    assert_eq!(third["active"], false);
    assert_eq!(third["name"][0]["text"], "Bo", "unmapped = keep");
    // `|` inside a key cell is encoded, so SITE "B|C" + MRN "3" is not SITE "B" + MRN "C|3".
    assert_eq!(
        third["id"],
        salus_fhir::ids::derive_id("csv|clinic|Patient|B%7CC|3")
    );
    for o in &out {
        salus_fhir::schema::validate(resource(o)).unwrap();
    }
}

#[test]
fn conditions_zones_and_composite_patient_keys() {
    let out = read(
        "lab-export.csv",
        "MRN,SITE,TEST,RESULT,KIND,WHEN,ISSUED\n\
         1,A,2345-7,98,count,2024-05-01 08:30,2024-05-01T09:00:00-06:00\n\
         1,A,2093-3,187.50,quantity,2024-05-01 08:30,\n\
         1,A,8251-1,cloudy,,2024-05-01 08:30,\n\
         1,A,2345-7,12.5,score,2024-05-02 08:30,\n\
         1,A,2345-7,1,count,2024-05-03 08:30,2024-05-03\n",
    )
    .unwrap();
    let first = resource(&out[0]);
    assert_eq!(first["effectiveDateTime"], "2024-05-01T08:30:00-06:00");
    assert_eq!(first["issued"], "2024-05-01T09:00:00-06:00");
    assert_eq!(first["valueInteger"], 98);
    let people = mapping();
    let people = people.table_for("people.csv", &[]).unwrap();
    assert_eq!(
        first["subject"],
        json!({"reference": format!("Patient/{}", people.id_for_key("A|1"))})
    );
    assert_eq!(
        resource(&out[1])["valueQuantity"]["value"].to_string(),
        "187.50"
    );
    assert_eq!(resource(&out[2])["valueString"], "cloudy");
    match &out[3] {
        RowOutcome::Rejected {
            row,
            column,
            reason,
        } => {
            assert_eq!((*row, column.as_deref()), (5, Some("RESULT")));
            assert!(
                reason.starts_with("column RESULT: not an integer"),
                "{reason}"
            );
        }
        other => panic!("{other:?}"),
    }
    match &out[4] {
        RowOutcome::Rejected { column, reason, .. } => {
            assert_eq!(column.as_deref(), Some("ISSUED"));
            assert!(reason.contains("not a FHIR instant"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn an_empty_patient_key_and_an_ambiguous_header() {
    let out = read("notes.csv", "MRN,SITE,TEST,NOTE\n,A,x,y\n").unwrap();
    match &out[0] {
        RowOutcome::Rejected {
            row,
            column,
            reason,
        } => {
            assert_eq!((*row, column.as_deref()), (2, Some("MRN")));
            assert!(
                reason.contains("every notes row must name its patient"),
                "{reason}"
            );
        }
        other => panic!("{other:?}"),
    }
    // A header that fits two tables as well, from a file whose name fits none.
    let e = read("x.csv", "MRN,SITE,TEST,RESULT,NOTE\n").unwrap_err();
    assert!(
        e.reason.contains("fits tables results and notes equally"),
        "{e}"
    );
}
