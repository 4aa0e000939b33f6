//! MLLP load: `mllp_load ADDR CONNECTIONS SECONDS TEMPLATE.hl7...` sends HL7 v2 messages over
//! CONNECTIONS concurrent connections for SECONDS, each waiting for its ACK before the next as
//! interface engines do, and prints one JSON line: messages/s, ACK codes, ACK latency.
//!
//! Every message is a template with its identifiers made unique (MSH-10, PID-3, PV1-19, ORC-2/3,
//! OBR-2/3 prefixed with the connection and message number), so that each one creates new
//! resources, as a live feed does, rather than finding them unchanged.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// Fields whose values identify the patient, visit, order or message.
const UNIQUE: &[(&str, usize)] = &[
    ("MSH", 10),
    ("PID", 3),
    ("PV1", 19),
    ("ORC", 2),
    ("ORC", 3),
    ("OBR", 2),
    ("OBR", 3),
];

fn personalise(template: &str, tag: &str) -> String {
    let mut out = String::with_capacity(template.len() + 64);
    for segment in template.split(['\r', '\n']).filter(|s| !s.is_empty()) {
        let sep = segment.as_bytes().get(3).map_or('|', |&b| b as char);
        let id = segment.get(..3).unwrap_or("");
        let mut fields: Vec<String> = segment.split(sep).map(str::to_owned).collect();
        for (seg, n) in UNIQUE {
            // MSH-1 is the separator itself, so MSH-n is the n-th piece after the split.
            let index = if id == "MSH" { n - 1 } else { *n };
            if id == *seg && fields.get(index).is_some_and(|f| !f.is_empty()) {
                fields[index] = format!("{tag}{}", fields[index]);
            }
        }
        out.push_str(&fields.join(&sep.to_string()));
        out.push('\r');
    }
    out
}

fn read_ack(stream: &mut TcpStream, buf: &mut Vec<u8>) -> std::io::Result<String> {
    buf.clear();
    let mut chunk = [0u8; 4096];
    loop {
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..n]);
        if buf.ends_with(&[0x1c, b'\r']) {
            let text = String::from_utf8_lossy(&buf[1..buf.len() - 2]);
            let code = text
                .split('\r')
                .find(|s| s.starts_with("MSA|"))
                .and_then(|s| s.split('|').nth(1))
                .unwrap_or("?")
                .to_owned();
            return Ok(code);
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 4 {
        eprintln!("usage: mllp_load ADDR CONNECTIONS SECONDS TEMPLATE.hl7...");
        std::process::exit(2);
    }
    let addr = args[0].clone();
    let connections: usize = args[1].parse().expect("CONNECTIONS is a number");
    let seconds: f64 = args[2].parse().expect("SECONDS is a number");
    let templates: Vec<String> = args[3..]
        .iter()
        .map(|p| std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{p}: {e}")))
        .collect();
    let budget = Duration::from_secs_f64(seconds);
    let start = Instant::now();
    let workers: Vec<_> = (0..connections)
        .map(|c| {
            let addr = addr.clone();
            let templates = templates.clone();
            std::thread::spawn(move || {
                let mut stream = TcpStream::connect(&addr).expect("connect");
                stream.set_nodelay(true).ok();
                let mut latencies = Vec::new();
                let mut codes = std::collections::BTreeMap::<String, u64>::new();
                let mut buf = Vec::new();
                let mut i = 0usize;
                while start.elapsed() < budget {
                    let template = &templates[i % templates.len()];
                    let message = personalise(template, &format!("L{c}x{i}-"));
                    let mut frame = vec![0x0b];
                    frame.extend_from_slice(message.as_bytes());
                    frame.extend_from_slice(&[0x1c, b'\r']);
                    let sent = Instant::now();
                    stream.write_all(&frame).expect("send");
                    let code = read_ack(&mut stream, &mut buf).expect("read the ACK");
                    latencies.push(sent.elapsed());
                    *codes.entry(code).or_default() += 1;
                    i += 1;
                }
                (latencies, codes)
            })
        })
        .collect();
    let mut latencies = Vec::new();
    let mut codes = std::collections::BTreeMap::<String, u64>::new();
    for w in workers {
        let (l, c) = w.join().expect("a sender thread");
        latencies.extend(l);
        for (k, v) in c {
            *codes.entry(k).or_default() += v;
        }
    }
    let elapsed = start.elapsed().as_secs_f64();
    latencies.sort();
    let pct = |p: f64| {
        latencies
            .get(((latencies.len() as f64 * p) as usize).min(latencies.len().saturating_sub(1)))
            .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    };
    let codes_json: Vec<String> = codes.iter().map(|(k, v)| format!("\"{k}\": {v}")).collect();
    println!(
        "{{\"connections\": {connections}, \"messages\": {}, \"seconds\": {elapsed:.3}, \"messages_per_s\": {:.0}, \"ack_codes\": {{{}}}, \"ack_latency_ms\": {{\"p50\": {:.2}, \"p99\": {:.2}}}}}",
        latencies.len(),
        latencies.len() as f64 / elapsed,
        codes_json.join(", "),
        pct(0.50),
        pct(0.99)
    );
}
