//! read_csv never panics, whatever the bytes, and every row it maps is valid FHIR R4.

use proptest::prelude::*;
use salus_csv_fhir::{read_csv, CsvLimits, Mapping, RowOutcome};

const FILES: &[&str] = &[
    "patients.csv",
    "encounters.csv",
    "conditions.csv",
    "medications.csv",
    "observations.csv",
    "allergies.csv",
    "immunizations.csv",
    "procedures.csv",
    "unknown.csv",
];

fn fixture_header(file: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/csv/synthea")
        .join(file);
    std::fs::read_to_string(path)
        .map(|t| t.lines().next().unwrap_or_default().to_owned())
        .unwrap_or_else(|_| "A,B".into())
}

fn run(mapping: &Mapping, file: &str, bytes: &[u8], limits: &CsvLimits) {
    let mut rows = 0u64;
    let mut last_row = 0u64;
    let result = read_csv(&mut &bytes[..], file, mapping, limits, &mut |outcome| {
        rows += 1;
        let row = match &outcome {
            RowOutcome::Mapped { row, resources } => {
                for r in resources {
                    if let Err(issues) = salus_fhir::schema::validate(r) {
                        panic!("{file}: invalid resource {r}: {issues:?}");
                    }
                }
                *row
            }
            RowOutcome::Rejected { row, reason, .. } => {
                assert!(!reason.is_empty());
                *row
            }
        };
        assert!(row > last_row, "rows go forward: {row} after {last_row}");
        last_row = row;
        Ok(())
    });
    if let Ok(summary) = result {
        assert_eq!(summary.rows, rows);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600), file in 0..FILES.len()) {
        let mapping = Mapping::preset("synthea").unwrap();
        run(&mapping, FILES[file], &bytes, &CsvLimits::default());
        run(&mapping, FILES[file], &bytes, &CsvLimits { max_field_bytes: 3, max_record_bytes: 7 });
    }

    #[test]
    fn arbitrary_rows_under_a_real_header_never_panic(
        file in 0..FILES.len() - 1,
        cells in proptest::collection::vec(
            proptest::collection::vec(
                prop_oneof![
                    Just(String::new()),
                    "[a-zA-Z0-9 ,.\"\n\r{}|%-]{0,12}",
                    "(19|20)[0-9]{2}-[01][0-9]-[0-3][0-9]",
                    "20[0-9]{2}-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-5][0-9]Z",
                    "-?[0-9]{1,4}(\\.[0-9]{1,3})?",
                    prop_oneof![Just("M".to_owned()), Just("F".to_owned()), Just("numeric".to_owned()), Just("text".to_owned()), Just("wellness".to_owned()), Just("SNOMED-CT".to_owned())],
                    any::<String>(),
                ],
                0..30,
            ),
            0..6,
        ),
        quote in any::<bool>(),
        exact in any::<bool>(),
    ) {
        let mapping = Mapping::preset("synthea").unwrap();
        let mut text = fixture_header(FILES[file]);
        let width = text.split(',').count();
        text.push('\n');
        for row in &cells {
            let mut row = row.clone();
            if exact {
                // As many fields as the header, so that rows get as far as the mapping.
                row.resize(width, String::new());
            }
            let fields: Vec<String> = row
                .iter()
                .map(|c| if quote { format!("\"{}\"", c.replace('"', "\"\"")) } else { c.clone() })
                .collect();
            text.push_str(&fields.join(","));
            text.push('\n');
        }
        run(&mapping, FILES[file], text.as_bytes(), &CsvLimits::default());
    }
}
