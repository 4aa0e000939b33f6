//! How fast rows are read and mapped: `cargo run --release -p salus-csv-fhir --example
//! map_speed [-- ROWS | DIR]`. Without a directory, generates ROWS (default 200,000) Synthea
//! observation rows in memory (numeric and text values; 500 patients, each patient's rows
//! together as Synthea writes them, 8 to an encounter) and maps them with the
//! `synthea` preset; with one, maps every `*.csv` file in it. Reports rows per second for
//! read + map (no validation, no store), the best of three runs.

use std::time::Instant;

use salus_csv_fhir::{read_csv, CsvLimits, Mapping, RowOutcome};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn generate(rows: usize) -> Vec<u8> {
    let mut out = String::with_capacity(rows * 200);
    out.push_str("DATE,PATIENT,ENCOUNTER,CATEGORY,CODE,DESCRIPTION,VALUE,UNITS,TYPE\n");
    let codes = [
        (
            "44261-6",
            "Patient Health Questionnaire 9 item (PHQ-9) total score [Reported]",
            "{score}",
            "survey",
        ),
        (
            "70274-6",
            "Generalized anxiety disorder 7 item (GAD-7) total score [Reported.PHQ]",
            "{score}",
            "survey",
        ),
        ("29463-7", "Body Weight", "kg", "vital-signs"),
        ("8480-6", "Systolic Blood Pressure", "mm[Hg]", "vital-signs"),
    ];
    for i in 0..rows {
        let patient = i * 500 / rows;
        let encounter = i / 8;
        let (day, minute) = (i % 28 + 1, i % 60);
        if i % 10 == 9 {
            out.push_str(&format!(
                "2022-03-{day:02}T14:{minute:02}:00Z,{patient:08x}-0000-4000-8000-000000000000,{encounter:08x}-1111-4000-8000-000000000000,social-history,72166-2,Tobacco smoking status,Never smoked tobacco (finding),,text\n"
            ));
        } else {
            let (code, description, unit, category) = codes[i % codes.len()];
            out.push_str(&format!(
                "2022-03-{day:02}T14:{minute:02}:00Z,{patient:08x}-0000-4000-8000-000000000000,{encounter:08x}-1111-4000-8000-000000000000,{category},{code},{description},{}.{},{unit},numeric\n",
                i % 27,
                i % 10
            ));
        }
    }
    out.into_bytes()
}

fn main() {
    let arg = std::env::args().nth(1);
    let mapping = Mapping::preset("synthea").expect("the synthea preset loads");
    let inputs: Vec<(String, Vec<u8>)> = match arg.as_deref() {
        Some(dir) if std::path::Path::new(dir).is_dir() => {
            let mut files: Vec<_> = std::fs::read_dir(dir)
                .expect("the directory can be read")
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().and_then(|e| e.to_str()) == Some("csv"))
                .collect();
            files.sort();
            files
                .into_iter()
                .map(|p| {
                    let name = p.file_name().unwrap().to_string_lossy().into_owned();
                    (name, std::fs::read(&p).expect("the file can be read"))
                })
                .collect()
        }
        other => {
            let rows = other.and_then(|n| n.parse().ok()).unwrap_or(200_000);
            vec![("observations.csv".to_owned(), generate(rows))]
        }
    };
    let bytes: usize = inputs.iter().map(|(_, b)| b.len()).sum();
    let mut best = f64::INFINITY;
    let (mut rows, mut mapped, mut rejected) = (0u64, 0u64, 0u64);
    for _ in 0..3 {
        (rows, mapped, rejected) = (0, 0, 0);
        let start = Instant::now();
        for (name, data) in &inputs {
            let mut reader = data.as_slice();
            let result = read_csv(
                &mut reader,
                name,
                &mapping,
                &CsvLimits::default(),
                &mut |o| {
                    match o {
                        RowOutcome::Mapped { resources, .. } => {
                            mapped += 1;
                            std::hint::black_box(resources);
                        }
                        RowOutcome::Rejected { .. } => rejected += 1,
                    }
                    Ok(())
                },
            );
            match result {
                Ok(summary) => rows += summary.rows,
                Err(e) => eprintln!("{name}: {e}"),
            }
        }
        best = best.min(start.elapsed().as_secs_f64());
    }
    println!(
        "{rows} rows ({mapped} mapped, {rejected} rejected), {:.1} MB, best of 3: {:.3} s = {:.0} rows/s ({:.0} MB/s)",
        bytes as f64 / 1e6,
        best,
        rows as f64 / best,
        bytes as f64 / 1e6 / best
    );
}
