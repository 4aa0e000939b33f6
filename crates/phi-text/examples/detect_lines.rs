//! Local debugging: print what is detected in each line of standard input.
//!
//!     echo "Son Bobby visited" | cargo run --release -p salus-phi-text --example detect_lines

use std::io::BufRead;

use salus_phi_text::{Options, PatientIdentity, Scrubber};

fn main() {
    let scrubber = Scrubber::new(Options::new()).expect("options");
    let id = PatientIdentity::empty();
    for line in std::io::stdin().lock().lines().map_while(Result::ok) {
        let spans = scrubber.detect(&line, &id);
        let found: Vec<String> = spans
            .iter()
            .map(|s| format!("[{}:{}]", s.category.name(), &line[s.start..s.end]))
            .collect();
        println!("{line}\n    -> {}", found.join(" "));
    }
}
