//! Parse + map + serialise speed on one core, on Microsoft FHIR-Converter's sample ADT and
//! ORU messages: `cargo run --release --example map_speed [DIR]`.
//!
//! Each round parses every message, maps it, and serialises every resource to a JSON string,
//! as the ingest pipeline does; the figure is messages per second.

use std::hint::black_box;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use salus_hl7v2::Message;

/// The allocator of the salus binary, so that the figure is the pipeline's.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
use salus_hl7v2_fhir::{map_message, MapOptions};

fn main() {
    let dir = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../../../shared/fixtures/external/hl7v2/microsoft-fhir-converter/input")
        });
    let mut texts = Vec::new();
    let entries = match std::fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("{}: {e}", dir.display());
            std::process::exit(1);
        }
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("")
            .to_string();
        let wanted = name.ends_with(".hl7")
            && (name.starts_with("ADT") || name.contains("ORU") || name.starts_with("LRI"));
        if wanted {
            if let Ok(text) = std::fs::read_to_string(&path) {
                texts.push((name, text));
            }
        }
    }
    texts.sort();
    if texts.is_empty() {
        eprintln!("no ADT/ORU samples in {}", dir.display());
        std::process::exit(1);
    }
    let options = MapOptions::default();
    let bytes: usize = texts.iter().map(|(_, t)| t.len()).sum();
    println!(
        "{} messages ({} bytes): {}",
        texts.len(),
        bytes,
        texts
            .iter()
            .map(|(n, _)| n.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );

    // MODE=parse or MODE=map measures the earlier stages alone.
    let mode = std::env::var("MODE").unwrap_or_default();
    let run = |budget: Duration| -> (u64, u64, Duration) {
        let start = Instant::now();
        let (mut messages, mut resources) = (0u64, 0u64);
        while start.elapsed() < budget {
            for (_, text) in &texts {
                let Ok(message) = Message::parse(text) else {
                    continue;
                };
                if mode == "parse" {
                    black_box(&message);
                    messages += 1;
                    continue;
                }
                let Ok(mapped) = map_message(&message, &options) else {
                    continue;
                };
                if mode == "map" {
                    resources += mapped.resources.len() as u64;
                    black_box(mapped);
                    messages += 1;
                    continue;
                }
                for r in &mapped.resources {
                    let json = serde_json::to_string(r).unwrap_or_default();
                    black_box(json);
                    resources += 1;
                }
                messages += 1;
            }
        }
        (messages, resources, start.elapsed())
    };
    run(Duration::from_millis(300)); // warm-up
    let (messages, resources, elapsed) = run(Duration::from_secs(3));
    let secs = elapsed.as_secs_f64();
    println!(
        "{}: {:.0} messages/s, {:.0} resources/s ({messages} messages in {secs:.2} s, one thread)",
        if mode.is_empty() {
            "parse+map+serialise"
        } else {
            mode.as_str()
        },
        messages as f64 / secs,
        resources as f64 / secs
    );
}
