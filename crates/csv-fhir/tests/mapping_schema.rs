//! Every mapping shipped validates against `schemas/csv-mapping.schema.json`, and the schema
//! refuses what the loader refuses where a schema can tell.

use serde_json::Value;

const SCHEMA: &str = include_str!("../../../schemas/csv-mapping.schema.json");

fn validator() -> jsonschema::Validator {
    let schema: Value = serde_json::from_str(SCHEMA).unwrap();
    jsonschema::options()
        .should_validate_formats(false)
        .build(&schema)
        .expect("the mapping schema compiles")
}

fn errors(validator: &jsonschema::Validator, toml_text: &str) -> Vec<String> {
    let json: Value = toml::from_str(toml_text).expect("valid TOML");
    validator
        .iter_errors(&json)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect()
}

#[test]
fn the_schema_is_draft_2020_12() {
    let schema: Value = serde_json::from_str(SCHEMA).unwrap();
    assert_eq!(
        schema["$schema"],
        "https://json-schema.org/draft/2020-12/schema"
    );
}

#[test]
fn every_shipped_mapping_validates() {
    let validator = validator();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("mappings");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("toml") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let errs = errors(&validator, &text);
        assert!(errs.is_empty(), "{}: {errs:#?}", path.display());
        salus_csv_fhir::Mapping::from_toml(&text)
            .unwrap_or_else(|e| panic!("{}: {e:#?}", path.display()));
        checked += 1;
    }
    assert!(checked >= 1);
    for name in salus_csv_fhir::Mapping::preset_names() {
        let text = salus_csv_fhir::Mapping::preset_text(name).unwrap();
        assert!(errors(&validator, text).is_empty(), "{name}");
    }
}

#[test]
fn the_schema_refuses_bad_mappings() {
    let validator = validator();
    let base = |field: &str| {
        format!(
            "name = \"m\"\n[[table]]\nname = \"t\"\nfiles = [\"t.csv\"]\nresource = \"Patient\"\nid = \"{{Id}}\"\n[[table.field]]\n{field}\n"
        )
    };
    assert!(errors(
        &validator,
        &base("path = \"birthDate\"\ncolumn = \"B\"\ntype = \"date\"")
    )
    .is_empty());
    for bad in [
        "path = \"birthDate\"\ncolumn = \"B\"\ntype = \"datetime\"",
        "path = \"birthDate\"\ncolum = \"B\"",
        "path = \"birthDate\"",
        "path = \"birthDate\"\ncolumn = \"B\"\nvalue = \"x\"",
        "path = \"name[x].family\"\ncolumn = \"B\"",
        "path = \"gender\"\ncolumn = \"G\"\nunmapped = \"drop\"",
        "path = \"gender\"\nvalue = \"x\"\nmap = { M = \"male\" }",
        "path = \"encounter\"\nreference = \"encounters\"",
        "path = \"x\"\ncolumn = \"B\"\nwhen = { column = \"C\" }",
    ] {
        assert!(
            !errors(&validator, &base(bad)).is_empty(),
            "accepted: {bad}"
        );
    }
    assert!(!errors(&validator, "name = \"Bad Name\"\ntable = []").is_empty());
    assert!(
        !errors(
            &validator,
            "name = \"m\"\n[[table]]\nname = \"t\"\nresource = \"Patient\"\nid = \"{Id}\""
        )
        .is_empty(),
        "no files and no header"
    );
}
