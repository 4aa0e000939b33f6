//! Map CSV files with a mapping and print what they became: `cargo run -p salus-csv-fhir
//! --example map_file -- [--mapping FILE.toml | --preset NAME] FILE.csv...` prints each
//! resource as one JSON line, and rejected rows (row, column, reason) on standard error. A
//! debugging aid for mappings.

use salus_csv_fhir::{read_csv, CsvLimits, Mapping, RowOutcome};

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mapping = if args.first().map(String::as_str) == Some("--mapping") && args.len() > 1 {
        let text = std::fs::read_to_string(&args[1]).unwrap_or_else(|e| {
            eprintln!("{}: {e}", args[1]);
            std::process::exit(2)
        });
        args.drain(..2);
        match Mapping::from_toml(&text) {
            Ok(m) => m,
            Err(errors) => {
                for e in errors {
                    eprintln!("{e}");
                }
                std::process::exit(2);
            }
        }
    } else {
        let name = if args.first().map(String::as_str) == Some("--preset") && args.len() > 1 {
            let n = args[1].clone();
            args.drain(..2);
            n
        } else {
            "synthea".to_owned()
        };
        Mapping::preset(&name).unwrap_or_else(|| {
            eprintln!("no preset {name}");
            std::process::exit(2)
        })
    };
    let mut failed = false;
    for path in &args {
        let mut file = match std::fs::File::open(path) {
            Ok(f) => std::io::BufReader::new(f),
            Err(e) => {
                eprintln!("{path}: {e}");
                failed = true;
                continue;
            }
        };
        let result = read_csv(
            &mut file,
            path,
            &mapping,
            &CsvLimits::default(),
            &mut |outcome| {
                match outcome {
                    RowOutcome::Mapped { resources, .. } => {
                        for r in resources {
                            println!("{r}");
                        }
                    }
                    RowOutcome::Rejected { row, reason, .. } => {
                        eprintln!("{path}: row {row}: {reason}")
                    }
                }
                Ok(())
            },
        );
        if let Err(e) = result {
            eprintln!("{path}: {e}");
            failed = true;
        }
    }
    if failed {
        std::process::exit(1);
    }
}
