//! Format readers that turn raw exports into validated resources and push them into a [`Sink`].
//!
//! Readers are pure: they read from any `BufRead` (a file, standard input, an HTTP body) and
//! never touch the database, the network or the clock. Opening files and writing resources are
//! the caller's business, through the [`Sink`] it passes in.

pub mod bundle;
pub mod ccda;
pub mod csv;
pub mod derive;
pub mod detect;
pub mod hl7v2;
pub mod ndjson;
pub mod report;
pub mod sink;

pub use derive::DerivingSink;
pub use sink::VecSink;

use std::io::{BufRead, BufReader, Read};

use salus_fhir::{Issue, IssueCode};

pub use detect::Format;
pub use report::{Counts, IngestReport, Notice, Rejection, WriteOutcome};
pub use sink::{PatientMerge, Sink, SinkError};

/// Limits that keep memory bounded whatever the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The longest NDJSON line accepted; a longer one is rejected and skipped.
    pub max_line_bytes: usize,
    /// The largest whole JSON document (a Bundle or single resource) accepted.
    pub max_document_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_line_bytes: 64 << 20,
            max_document_bytes: 256 << 20,
        }
    }
}

/// Read a whole stream of at most `cap` bytes. `None` when it is longer: one byte more than the
/// cap is read to tell, never more, so memory stays bounded whatever the input.
pub(crate) fn read_capped(
    reader: &mut dyn BufRead,
    cap: usize,
) -> Result<Option<Vec<u8>>, SinkError> {
    let mut bytes = Vec::new();
    reader
        .take(cap as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(SinkError::input)?;
    Ok((bytes.len() <= cap).then_some(bytes))
}

/// Wrap a stream so that gzip-compressed input is decompressed transparently (detected from
/// the gzip magic bytes, not from a file name).
pub fn decompress(reader: impl Read + 'static) -> std::io::Result<Box<dyn BufRead>> {
    let mut reader = BufReader::with_capacity(256 << 10, reader);
    let magic = reader.fill_buf()?;
    if magic.starts_with(&[0x1f, 0x8b]) {
        Ok(Box::new(BufReader::with_capacity(
            256 << 10,
            flate2::bufread::MultiGzDecoder::new(reader),
        )))
    } else {
        Ok(Box::new(reader))
    }
}

/// Read one input stream named `file` in the given format (or detected when `Format::Auto`)
/// and push what it holds into the sink. Returns the number of records read (lines, entries).
///
/// A malformed record becomes a rejection in the sink and reading goes on; only an I/O error
/// of the stream itself or a sink failure stops it.
pub fn read_stream(
    reader: &mut dyn BufRead,
    file: &str,
    format: Format,
    limits: &Limits,
    sink: &mut dyn Sink,
) -> Result<u64, SinkError> {
    read_stream_with(reader, file, format, limits, &ReadOptions::default(), sink)
}

/// The Synthea preset, loaded (and checked against the FHIR schema) once per process rather
/// than once per file of an export.
fn synthea_mapping() -> Option<&'static salus_csv_fhir::Mapping> {
    static PRESET: std::sync::OnceLock<Option<salus_csv_fhir::Mapping>> =
        std::sync::OnceLock::new();
    PRESET
        .get_or_init(|| salus_csv_fhir::Mapping::preset("synthea"))
        .as_ref()
}

fn is_csv_name(file: &str) -> bool {
    let lower = file.to_ascii_lowercase();
    lower.ends_with(".csv") || lower.ends_with(".csv.gz")
}

/// What some formats need besides the bytes.
#[derive(Debug, Clone, Default)]
pub struct ReadOptions {
    /// The mapping CSV files are read with; the Synthea preset when `None`.
    pub csv_mapping: Option<std::sync::Arc<salus_csv_fhir::Mapping>>,
}

/// [`read_stream`] with options.
pub fn read_stream_with(
    reader: &mut dyn BufRead,
    file: &str,
    format: Format,
    limits: &Limits,
    options: &ReadOptions,
    sink: &mut dyn Sink,
) -> Result<u64, SinkError> {
    let format = match format {
        Format::Auto => {
            let head = reader.fill_buf().map_err(SinkError::input)?;
            match detect::detect(head) {
                // CSV has no signature of its own: a `.csv` name says it.
                Format::Unknown if is_csv_name(file) => Format::Csv,
                detected => detected,
            }
        }
        other => other,
    };
    let reject_file = |sink: &mut dyn Sink, code, message: String| {
        sink.rejected(Rejection::file(file, Issue::error(code, message)))
            .map(|()| 0)
    };
    match format {
        Format::Empty => reject_file(
            sink,
            IssueCode::Required,
            "the file is empty: it holds no FHIR resources".into(),
        ),
        Format::Ndjson | Format::Auto => ndjson::read(reader, file, limits, sink),
        Format::Bundle => bundle::read_document(reader, file, limits, sink),
        Format::Hl7v2 => hl7v2::read(
            reader,
            file,
            limits,
            &salus_hl7v2_fhir::MapOptions::default(),
            sink,
        ),
        Format::Ccda => ccda::read(
            reader,
            file,
            limits,
            &salus_ccda_fhir::MapOptions::default(),
            sink,
        ),
        Format::Csv => {
            let mapping = match &options.csv_mapping {
                Some(m) => m.as_ref(),
                None => synthea_mapping().ok_or_else(|| {
                    SinkError::new("the Synthea CSV mapping preset does not load")
                })?,
            };
            csv::read(reader, file, mapping, sink)
        }
        Format::Unknown => reject_file(
            sink,
            IssueCode::NotSupported,
            "the content is not FHIR JSON or NDJSON; give --format if it is another supported format".into(),
        ),
        // Reference tables are not resources: the caller stores them (it has the store).
        Format::Svi | Format::ZipCounty => reject_file(
            sink,
            IssueCode::NotSupported,
            format!("{format} tables are reference data, loaded by `salus ingest --format {format}` or POST /ingest?format={format}"),
        ),
    }
}
