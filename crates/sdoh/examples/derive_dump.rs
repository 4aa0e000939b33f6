//! Print what one QuestionnaireResponse derives (development aid):
//! `cargo run -p salus-sdoh --example derive_dump FILE.json`.

fn main() {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: derive_dump QUESTIONNAIRE_RESPONSE.json");
        std::process::exit(2);
    };
    let qr: serde_json::Value = match std::fs::read_to_string(&path)
        .map_err(|e| e.to_string())
        .and_then(|t| serde_json::from_str(&t).map_err(|e| e.to_string()))
    {
        Ok(v) => v,
        Err(e) => {
            eprintln!("{path}: {e}");
            std::process::exit(1);
        }
    };
    let derived = salus_sdoh::derive_from_response(&qr);
    eprintln!("instrument: {:?}", derived.instrument);
    for r in &derived.resources {
        println!("{}", serde_json::to_string_pretty(r).unwrap_or_default());
    }
    for f in &derived.flags {
        eprintln!("flag: {f:?}");
    }
    for w in &derived.warnings {
        eprintln!("warning: {w}");
    }
}
