//! Print what one HL7 v2 file maps to (development aid): `cargo run --example dump FILE`.

use salus_hl7v2::Message;
use salus_hl7v2_fhir::{map_message, MapOptions};

fn main() {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: dump FILE.hl7");
        std::process::exit(2);
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("{path}: {e}");
            std::process::exit(1);
        }
    };
    let message = match Message::parse(&text) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("{path}: {e}");
            std::process::exit(1);
        }
    };
    match map_message(&message, &MapOptions::default()) {
        Ok(mapped) => {
            for r in &mapped.resources {
                println!("{r}");
            }
            for w in &mapped.warnings {
                eprintln!("warning: {w:?}");
            }
            for m in &mapped.merges {
                eprintln!("merge: {m:?}");
            }
            if let Some(u) = mapped.unsupported {
                eprintln!("unsupported: {u}");
            }
        }
        Err(e) => {
            eprintln!("{path}: {e}");
            std::process::exit(1);
        }
    }
}
