//! Parse speed on the Microsoft FHIR-Converter sample messages.
//!
//! `cargo run --release -p salus-hl7v2 --example parse_speed [DIR] [ROUNDS]`
//!
//! DIR defaults to `../shared/fixtures/external/hl7v2/microsoft-fhir-converter/input` next to
//! the repository; ROUNDS (default 20000) is how many times each message is parsed. Prints
//! messages per second for a bare parse, and for a parse followed by reading every field of
//! every segment down to decoded subcomponents (an upper bound on what a mapping reads).

use std::time::Instant;

use salus_hl7v2::{decode_text, Message};

fn main() {
    let mut args = std::env::args().skip(1);
    let dir = args.next().unwrap_or_else(|| {
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../../shared/fixtures/external/hl7v2/microsoft-fhir-converter/input"
        )
        .to_string()
    });
    let rounds: usize = args.next().and_then(|r| r.parse().ok()).unwrap_or(20_000);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        eprintln!("no sample messages at {dir}");
        return;
    };
    let mut texts: Vec<String> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "hl7"))
        .filter_map(|p| std::fs::read(p).ok())
        .map(|bytes| decode_text(&bytes).into_owned())
        .collect();
    texts.sort();
    let bytes: usize = texts.iter().map(String::len).sum();
    println!(
        "{} messages, {} bytes on average, {rounds} rounds",
        texts.len(),
        bytes / texts.len().max(1)
    );

    let start = Instant::now();
    let mut segments = 0usize;
    for _ in 0..rounds {
        for text in &texts {
            let msg = Message::parse(text).expect("sample parses");
            segments += msg.segments().len();
        }
    }
    report(
        "parse",
        start,
        rounds * texts.len(),
        rounds * bytes,
        segments,
    );

    let start = Instant::now();
    let mut chars = 0usize;
    for _ in 0..rounds / 4 {
        for text in &texts {
            let msg = Message::parse(text).expect("sample parses");
            for segment in msg.segments() {
                for field in segment.fields() {
                    for rep in field.repetitions() {
                        for comp in rep.components() {
                            chars += comp.subs().map(|s| comp.decode(s).len()).sum::<usize>();
                        }
                    }
                }
            }
        }
    }
    report(
        "parse + walk everything",
        start,
        rounds / 4 * texts.len(),
        rounds / 4 * bytes,
        chars,
    );
}

fn report(what: &str, start: Instant, messages: usize, bytes: usize, checksum: usize) {
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{what}: {:.0} messages/s, {:.0} MB/s (checksum {checksum})",
        messages as f64 / secs,
        bytes as f64 / secs / 1e6
    );
}
