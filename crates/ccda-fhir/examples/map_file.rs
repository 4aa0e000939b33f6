//! Map C-CDA files and print what they became: `cargo run -p salus-ccda-fhir --example
//! map_file -- FILE...` prints each resource as one JSON line, then the skipped entries and
//! warnings (positions and rules only) on standard error. A debugging aid for mappings.

use salus_ccda_fhir::{map_bytes, Limits, MapOptions};

fn main() {
    let mut failed = false;
    for path in std::env::args().skip(1) {
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) => {
                eprintln!("{path}: {e}");
                failed = true;
                continue;
            }
        };
        match map_bytes(&bytes, &Limits::default(), &MapOptions::default()) {
            Err(e) => {
                eprintln!("{path}: {e}");
                failed = true;
            }
            Ok(mapped) => {
                for r in &mapped.resources {
                    println!("{}", r.resource);
                }
                for s in &mapped.skipped {
                    eprintln!("{path}: skipped {}: {}", s.position, s.reason);
                }
                for w in &mapped.warnings {
                    eprintln!("{path}: warning {}: {}", w.position, w.reason);
                }
            }
        }
    }
    if failed {
        std::process::exit(1);
    }
}
