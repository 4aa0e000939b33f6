//! A fixed amount of mapping work, for instruction counts that a shared machine's timing noise
//! does not blur: `valgrind --tool=callgrind target/release/examples/map_count [ROUNDS]`.
//! Each round parses and maps every ADT/ORU sample once (as `map_speed` does with `MODE=map`).

use std::hint::black_box;
use std::path::PathBuf;

use salus_hl7v2::Message;
use salus_hl7v2_fhir::{map_message, MapOptions};

/// The allocator of the salus binary, so that the count is the pipeline's.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let rounds: usize = std::env::args()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(20);
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/fixtures/external/hl7v2/microsoft-fhir-converter/input");
    let mut texts = Vec::new();
    for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let wanted = name.ends_with(".hl7")
            && (name.starts_with("ADT") || name.contains("ORU") || name.starts_with("LRI"));
        if wanted {
            if let Ok(text) = std::fs::read_to_string(entry.path()) {
                texts.push((name, text));
            }
        }
    }
    texts.sort();
    let options = MapOptions::default();
    let mut messages = 0usize;
    for _ in 0..rounds {
        for (_, text) in &texts {
            let Ok(message) = Message::parse(text) else {
                continue;
            };
            if let Ok(mapped) = map_message(&message, &options) {
                black_box(mapped);
                messages += 1;
            }
        }
    }
    println!("{messages} messages");
}
