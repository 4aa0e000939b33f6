//! CSV exports to FHIR resources, through a declarative mapping (`salus-csv-fhir`).
//!
//! The mapping's table for a file is chosen by the file's name (and, failing that, its header
//! row). Each data row becomes the resources the table describes, validated like every other
//! resource; a row that cannot be mapped, or maps to invalid FHIR, is rejected with its row
//! (and column, when one is at fault) and reading goes on. A file that cannot be read at all
//! (no table matches it, its header lacks a column the table needs, it is not UTF-8) is
//! rejected whole. The reader holds one record at a time: memory is bounded by the record
//! limit, whatever the file's size.

use std::io::BufRead;

use salus_csv_fhir::{read_csv, CsvLimits, Mapping, RowOutcome, Stop};
use salus_fhir::{prepare, Issue, IssueCode};

use crate::report::Rejection;
use crate::sink::{Sink, SinkError};

/// Read one CSV file with `mapping` and push each row's resources. Returns the rows read.
pub fn read(
    reader: &mut dyn BufRead,
    file: &str,
    mapping: &Mapping,
    sink: &mut dyn Sink,
) -> Result<u64, SinkError> {
    let mut failure: Option<SinkError> = None;
    let mut on_row = |outcome: RowOutcome| -> Result<(), Stop> {
        let pushed = match outcome {
            RowOutcome::Mapped { row, resources } => push_row(sink, file, row, resources),
            RowOutcome::Rejected {
                row,
                column,
                reason,
            } => {
                let position = match &column {
                    Some(c) => format!("row {row}, column {c}"),
                    None => format!("row {row}"),
                };
                sink.rejected(Rejection::new(
                    file,
                    position,
                    vec![Issue::error(IssueCode::Invalid, reason)],
                ))
            }
        };
        pushed.map_err(|e| {
            failure = Some(e);
            Stop
        })
    };
    let summary = read_csv(reader, file, mapping, &CsvLimits::default(), &mut on_row);
    if let Some(e) = failure {
        return Err(e);
    }
    match summary {
        Ok(s) => Ok(s.rows),
        Err(e) => {
            let position = if e.position.is_empty() {
                "file".to_owned()
            } else {
                e.position.clone()
            };
            sink.rejected(Rejection::new(
                file,
                position,
                vec![Issue::error(IssueCode::Invalid, e.reason.clone())],
            ))?;
            Ok(0)
        }
    }
}

/// A row's resources are one unit: a row that yields a resource FHIR refuses is rejected
/// whole, so that no row is stored in part.
fn push_row(
    sink: &mut dyn Sink,
    file: &str,
    row: u64,
    resources: Vec<serde_json::Value>,
) -> Result<(), SinkError> {
    let position = format!("row {row}");
    let mut prepared = Vec::with_capacity(resources.len());
    for value in resources {
        let kind = value["resourceType"]
            .as_str()
            .unwrap_or("resource")
            .to_owned();
        match prepare(value) {
            Ok(p) => prepared.push(p),
            Err(mut issues) => {
                for i in &mut issues {
                    i.diagnostics = format!(
                        "the {kind} mapped from this row is not valid FHIR R4: {}",
                        i.diagnostics
                    );
                }
                return sink.rejected(Rejection::new(file, position, issues));
            }
        }
    }
    let unit = prepared.len() > 1;
    if unit {
        sink.begin_unit()?;
    }
    for p in prepared {
        sink.resource(p, file, &position)?;
    }
    if unit {
        sink.end_unit()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::VecSink;

    #[test]
    fn rows_become_resources_and_bad_rows_are_rejected_with_row_and_column() {
        let mapping = Mapping::preset("synthea").expect("the Synthea preset loads");
        let csv = "Id,BIRTHDATE,DEATHDATE,SSN,DRIVERS,PASSPORT,PREFIX,FIRST,LAST,SUFFIX,MAIDEN,MARITAL,RACE,ETHNICITY,GENDER,BIRTHPLACE,ADDRESS,CITY,STATE,COUNTY,ZIP,LAT,LON\n\
            p-1,1990-02-03,,999-11-2222,,,,Ana,Test,,,S,white,nonhispanic,F,Topeka KS US,1 Main St,Topeka,Kansas,Shawnee County,66604,39.0,-95.7\n\
            p-2,31/31/1990,,,,,,Bo,Test,,,M,white,nonhispanic,M,,2 Main St,Topeka,Kansas,Shawnee County,66604,39.0,-95.7\n";
        let mut sink = VecSink::default();
        let rows = read(&mut csv.as_bytes(), "patients.csv", &mapping, &mut sink).unwrap();
        assert_eq!(rows, 2);
        assert_eq!(sink.resources.len(), 1, "{:?}", sink.rejected);
        let patient = sink.resources[0].0.json();
        assert_eq!(patient["birthDate"], "1990-02-03");
        assert_eq!(sink.resources[0].1, "row 2");
        assert_eq!(sink.rejected.len(), 1);
        assert_eq!(sink.rejected[0].position, "row 3, column BIRTHDATE");
        let why = serde_json::to_string(&sink.rejected[0].outcome).unwrap();
        assert!(
            !why.contains("31/31"),
            "no cell value in the message: {why}"
        );
    }

    #[test]
    fn a_file_no_table_matches_is_one_rejection() {
        let mapping = Mapping::preset("synthea").unwrap();
        let mut sink = VecSink::default();
        read(
            &mut "a,b\n1,2\n".as_bytes(),
            "unknown.csv",
            &mapping,
            &mut sink,
        )
        .unwrap();
        assert!(sink.resources.is_empty());
        assert_eq!(sink.rejected.len(), 1);
    }
}
