//! Mapping validation: every problem at once, each with its table, field and a fix.

use salus_csv_fhir::{Mapping, MappingError};

fn errors(text: &str) -> Vec<MappingError> {
    match Mapping::from_toml(text) {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(e) => e,
    }
}

fn has(errors: &[MappingError], location: &str, reason_part: &str) -> bool {
    errors
        .iter()
        .any(|e| e.location == location && e.reason.contains(reason_part))
}

const GOOD: &str = r#"
name = "demo"
[[table]]
name = "people"
files = ["people.csv"]
resource = "Patient"
id = "{MRN}"
[[table.field]]
path = "birthDate"
column = "DOB"
type = "date"
format = "%m/%d/%Y"
[[table.field]]
path = "gender"
column = "SEX"
type = "code"
map = { M = "male", F = "female" }

[[table]]
name = "visits"
files = ["visits.csv"]
resource = "Encounter"
id = "{VISIT}"
patient = "MRN"
[[table.field]]
path = "status"
value = "finished"
type = "code"
[[table.field]]
path = "class.code"
value = "AMB"
type = "code"
"#;

#[test]
fn a_good_mapping_loads() {
    let m = Mapping::from_toml(GOOD).unwrap();
    assert_eq!(m.name(), "demo");
    assert_eq!(m.tables().len(), 2);
    let visits = m.table_for("visits.csv", &[]).unwrap();
    assert_eq!(visits.resource_type(), "Encounter");
    let columns: Vec<(&str, bool)> = visits.columns().collect();
    assert_eq!(columns, [("VISIT", true), ("MRN", true)]);
}

#[test]
fn every_problem_is_reported_at_once() {
    let text = r#"
name = "demo"
[[table]]
name = "people"
files = ["people.csv"]
resource = "Patient"
id = "{MRN}"
[[table.field]]
path = "birthDate"
column = "DOB"
type = "datetime"
[[table.field]]
path = "name[x].family"
column = "LAST"
[[table.field]]
path = "deceasedDateTime"
column = "DOD"
type = "dateTime"
format = "%Y-%m-%d %H:%M"
[[table.field]]
path = "gender"
colum = "SEX"
[[table.field]]
path = "active"
value = 1.5

[[table]]
name = "people"
files = ["people2.csv"]
resource = "Patinet"
id = "fixed"
"#;
    let e = errors(text);
    assert!(
        has(
            &e,
            "table people, field 1",
            "unknown type `datetime` (did you mean `dateTime`?)"
        ),
        "{e:#?}"
    );
    assert!(
        has(&e, "table people, field 2", "the index must be a number"),
        "{e:#?}"
    );
    assert!(
        has(&e, "table people, field 3", "has a time but no zone"),
        "{e:#?}"
    );
    assert!(
        has(
            &e,
            "table people, field 4",
            "unknown key `colum` (did you mean `column`?)"
        ),
        "{e:#?}"
    );
    assert!(
        has(
            &e,
            "table people, field 5",
            "a float, which would lose its digits"
        ),
        "{e:#?}"
    );
    assert!(
        has(&e, "table people", "a second table is named `people`"),
        "{e:#?}"
    );
    assert!(
        has(
            &e,
            "table people",
            "`Patinet` is not a FHIR R4 resource type"
        ),
        "{e:#?}"
    );
    assert!(
        has(
            &e,
            "table people",
            "names no column: every row would get the same id"
        ),
        "{e:#?}"
    );
    assert!(e.len() >= 8, "{e:#?}");
}

#[test]
fn paths_are_checked_against_fhir_r4() {
    let text = r#"
name = "demo"
[[table]]
name = "people"
files = ["people.csv"]
resource = "Patient"
id = "{MRN}"
[[table.field]]
path = "name[0].famly"
column = "LAST"
[[table.field]]
path = "birthDate"
column = "DOB"
type = "integer"
[[table.field]]
path = "address.city"
column = "CITY"

[[table]]
name = "labs"
files = ["labs.csv"]
resource = "Observation"
id = "{ID}"
patient = "MRN"
[[table.field]]
path = "valueString"
column = "RESULT"
"#;
    let e = errors(text);
    assert!(has(&e, "table people, field 1", "famly"), "{e:#?}");
    assert!(
        has(&e, "table people, field 2", "Patient.birthDate"),
        "{e:#?}"
    );
    assert!(
        has(&e, "table people, field 3", "give it an index"),
        "{e:#?}"
    );
    // The R4 JSON schema requires the elements that have no primitive extension (Observation's
    // code, not its status).
    assert!(
        has(&e, "table labs", "\"code\" is a required property"),
        "{e:#?}"
    );
    assert!(
        e.iter().any(|x| x.reason.contains("FHIR R4 requires it")),
        "{e:#?}"
    );
}

#[test]
fn sources_conflicts_and_references() {
    let text = r#"
name = "demo"
[[table]]
name = "people"
files = ["people.csv"]
resource = "Patient"
id = "{MRN}"
[[table.field]]
path = "gender"
value = "male"
type = "code"
[[table.field]]
path = "gender"
column = "SEX"
type = "code"
[[table.field]]
path = "name[0]"
column = "NAME"
[[table.field]]
path = "name[0].family"
column = "LAST"
[[table.field]]
path = "birthDate"
[[table.field]]
path = "active"
column = "A"
value = true
[[table.field]]
path = "maritalStatus.text"
column = "MS"
map = "nope"
[[table.field]]
path = "gender"
column = "G2"
type = "code"
map = { M = "two  spaces" }

[[table]]
name = "labs"
files = ["people.csv"]
resource = "Observation"
id = "{ID}"
patient = { column = "MRN", table = "labs" }
[[table.field]]
path = "encounter"
reference = "visits"
column = "V"

[[table]]
name = "orphans"
resource = "Condition"
id = "{ID}"
"#;
    let e = errors(text);
    assert!(
        has(&e, "table people, field 2", "a constant without `when`"),
        "{e:#?}"
    );
    assert!(
        has(&e, "table people, field 4", "conflicts with field 3"),
        "{e:#?}"
    );
    assert!(
        has(&e, "table people, field 5", "the field has no source"),
        "{e:#?}"
    );
    assert!(
        has(&e, "table people, field 6", "give only one of"),
        "{e:#?}"
    );
    assert!(
        has(&e, "table people, field 7", "map `nope` is not defined"),
        "{e:#?}"
    );
    assert!(
        has(&e, "table people, field 8", "are not valid code values"),
        "{e:#?}"
    );
    assert!(
        has(&e, "table labs, patient", "does not make Patient resources"),
        "{e:#?}"
    );
    assert!(
        has(&e, "table labs, field 1", "there is no such table"),
        "{e:#?}"
    );
    assert!(has(&e, "table labs", "is also table people's"), "{e:#?}");
    assert!(
        has(&e, "table orphans", "no `files` and no `header`"),
        "{e:#?}"
    );
}

#[test]
fn toml_syntax_errors_have_a_line() {
    let e = errors("name = \"demo\"\n[[table]\nname = 1\n");
    assert_eq!(e.len(), 1);
    assert!(e[0].location.starts_with("line 2"), "{e:?}");
    assert!(e[0].reason.starts_with("not valid TOML"), "{e:?}");
    let e = errors("");
    assert!(has(&e, "mapping", "`name` is missing"), "{e:#?}");
    assert!(has(&e, "mapping", "no tables"), "{e:#?}");
    let e = errors("name = \"demo\"\ncolour = 1\n[[table]]\nname = \"t\"\nfiles = \"t.csv\"\nresource = \"Patient\"\nid = \"{A}\"\nbogus = 2\n");
    assert!(has(&e, "mapping", "unknown key `colour`"), "{e:#?}");
    assert!(has(&e, "table t", "unknown key `bogus`"), "{e:#?}");
}

#[test]
fn zones_and_formats() {
    let field = |extra: &str| {
        format!(
            "name = \"m\"\n[[table]]\nname = \"t\"\nfiles = [\"t.csv\"]\nresource = \"Patient\"\nid = \"{{Id}}\"\n[[table.field]]\npath = \"deceasedDateTime\"\ncolumn = \"D\"\ntype = \"dateTime\"\n{extra}\n"
        )
    };
    assert!(Mapping::from_toml(&field("format = \"%Y-%m-%d %H:%M\"\nzone = \"-05:00\"")).is_ok());
    assert!(Mapping::from_toml(&field("format = \"%Y-%m-%d %H:%M:%S%z\"")).is_ok());
    assert!(Mapping::from_toml(&field("format = \"fhir\"")).is_ok());
    let e = errors(&field(
        "format = \"%Y-%m-%d %H:%M\"\nzone = \"America/Chicago\"",
    ));
    assert!(has(&e, "table t, field 1", "fixed UTC offset"), "{e:#?}");
    let e = errors(&field("format = \"%Y-%m-%d %!\""));
    assert!(
        has(&e, "table t, field 1", "not a valid chrono strftime format"),
        "{e:#?}"
    );
    let e = errors(&field("format = \"%Y-%m\""));
    assert!(
        has(&e, "table t, field 1", "does not give a whole date"),
        "{e:#?}"
    );
}
