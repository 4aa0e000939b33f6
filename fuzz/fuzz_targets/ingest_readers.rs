//! Every ingest reader on arbitrary bytes: no panic, bounded work.
#![no_main]

use libfuzzer_sys::fuzz_target;
use salus_ingest::{read_stream, Format, Limits, VecSink};

fuzz_target!(|data: &[u8]| {
    let limits = Limits { max_line_bytes: 1 << 16, max_document_bytes: 1 << 20 };
    for format in [Format::Auto, Format::Ndjson, Format::Bundle, Format::Hl7v2] {
        let mut sink = VecSink::default();
        let mut reader = data;
        let _ = read_stream(&mut reader, "fuzz", format, &limits, &mut sink);
    }
});
