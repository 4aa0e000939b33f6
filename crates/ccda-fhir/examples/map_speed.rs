//! Parse + map speed on one core: `map_speed DIR [ROUNDS]` maps every `.xml`/`.ccda` file of
//! DIR ROUNDS times (default 5) and prints documents/s and resources/s. With `VALIDATE=1` each
//! resource is also checked against the FHIR R4 schema, as ingest does. `make bench` reports
//! the end-to-end figure (with the store); this one says how much of it is parsing and mapping.

use std::time::Instant;

use salus_ccda_fhir::{map_bytes, Limits, MapOptions};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(dir) = args.next() else {
        eprintln!("usage: map_speed DIR [ROUNDS]");
        std::process::exit(1);
    };
    let rounds: usize = args.next().and_then(|r| r.parse().ok()).unwrap_or(5);
    let validate = std::env::var("VALIDATE").is_ok_and(|v| v == "1");
    let mut docs: Vec<Vec<u8>> = std::fs::read_dir(&dir)
        .expect("a readable directory")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "xml" || e == "ccda"))
        .filter_map(|p| std::fs::read(p).ok())
        .collect();
    docs.sort();
    let (limits, options) = (Limits::default(), MapOptions::default());
    let started = Instant::now();
    let mut resources = 0usize;
    for _ in 0..rounds {
        for d in &docs {
            let Ok(m) = map_bytes(d, &limits, &options) else {
                continue;
            };
            resources += m.resources.len();
            if validate {
                for r in &m.resources {
                    let _ = salus_fhir::schema::validate(&r.resource);
                }
            }
        }
    }
    let secs = started.elapsed().as_secs_f64();
    let n = (docs.len() * rounds) as f64;
    println!(
        "{} documents x {rounds}: {:.1} documents/s, {:.0} resources/s{}",
        docs.len(),
        n / secs,
        resources as f64 / secs,
        if validate {
            " (with schema validation)"
        } else {
            ""
        }
    );
}
