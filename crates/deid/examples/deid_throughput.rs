//! Throughput of a policy over NDJSON files, on one thread (the engine only: files are read
//! and parsed before the clock starts, and output is serialized but not written).
//!
//!     cargo run --release -p salus-deid --example deid_throughput -- safe-harbor DIR [ROUNDS]
//!
//! Prints one JSON line: resources, seconds, resources per second.

use std::time::Instant;

use chrono::NaiveDate;
use salus_deid::{DefaultKeys, Engine, IdentityBook, Origin, Policy, Run};
use serde_json::Value;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 3 {
        eprintln!("usage: deid_throughput POLICY DIR [ROUNDS]");
        std::process::exit(1);
    }
    let text = salus_deid::preset(&args[1])
        .map(str::to_string)
        .unwrap_or_else(|| std::fs::read_to_string(&args[1]).expect("policy file"));
    let policy = Policy::parse(&text).unwrap_or_else(|p| panic!("{p}"));
    let engine = Engine::build(
        policy,
        DefaultKeys::derive(b"benchmark"),
        NaiveDate::from_ymd_opt(2026, 11, 28).expect("date"),
    )
    .expect("engine");
    let rounds: usize = args.get(3).and_then(|r| r.parse().ok()).unwrap_or(3);
    let mut resources: Vec<Value> = Vec::new();
    let mut entries: Vec<_> = std::fs::read_dir(&args[2])
        .expect("dir")
        .flatten()
        .collect();
    entries.sort_by_key(|e| e.path());
    for entry in entries {
        let path = entry.path();
        if path.extension().is_some_and(|e| e == "ndjson") {
            for line in std::fs::read_to_string(&path).expect("read").lines() {
                let Ok(v) = serde_json::from_str::<Value>(line) else {
                    continue;
                };
                // Export logs and other non-resources in the directory are not part of the run.
                if v.get("resourceType").is_some() {
                    resources.push(v);
                }
            }
        }
    }
    let mut book = IdentityBook::new();
    for r in &resources {
        book.add_resource(r);
    }
    let mut best = f64::MAX;
    let mut bytes = 0usize;
    for _ in 0..rounds {
        let batch = resources.clone();
        let mut run = Run::new([7; 32], &engine);
        let start = Instant::now();
        bytes = 0;
        for r in batch {
            let out = engine
                .deidentify(r, &Origin::default(), &book, &mut run)
                .expect("deidentify");
            bytes += serde_json::to_string(&out).expect("serialize").len();
        }
        best = best.min(start.elapsed().as_secs_f64());
    }
    println!(
        "{{\"resources\": {}, \"seconds\": {:.4}, \"resources_per_s\": {:.0}, \"output_bytes\": {}}}",
        resources.len(),
        best,
        resources.len() as f64 / best,
        bytes
    );
}
