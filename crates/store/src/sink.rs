//! The store as an ingest [`Sink`]: resources are buffered and written a batch per transaction,
//! on a writer thread of its own.
//!
//! Reading, parsing and validating (the caller's thread) overlap with database writes (the
//! writer thread); a bounded channel of two batches keeps memory bounded and makes a slow
//! database slow the reader down rather than pile batches up.

use std::sync::mpsc::{sync_channel, SyncSender};
use std::thread::JoinHandle;

use salus_fhir::PreparedResource;
use salus_ingest::{IngestReport, Notice, PatientMerge, Rejection, Sink, SinkError};

use crate::write::WriteRequest;
use crate::Store;

/// A load that wrote at least this many versions refreshes the planner's statistics.
const ANALYZE_AFTER_ROWS: usize = 1_000;

/// "Now" in microseconds since the epoch; the store asks once per batch.
pub type Clock = fn() -> i64;

type WriterResult = Result<IngestReport, String>;

/// What the writer thread commits in one transaction: resources, then the merges they carry.
struct Job {
    requests: Vec<WriteRequest>,
    merges: Vec<PatientMerge>,
}

/// Writes what readers push, `batch_size` resources per transaction, and keeps the report.
///
/// A batch is all-or-nothing: a crash leaves no half-written batch, and a re-run finds the
/// committed batches `unchanged`. Call [`StoreSink::finish`] to write the last batch and collect
/// the report; dropping the sink without it abandons the buffered batch. A unit (one HL7 v2
/// message, see [`Sink::begin_unit`]) is never split across batches, and its merges commit with
/// its resources.
pub struct StoreSink {
    batch: Vec<WriteRequest>,
    merges: Vec<PatientMerge>,
    in_unit: bool,
    batch_size: usize,
    sender: Option<SyncSender<Job>>,
    writer: Option<JoinHandle<WriterResult>>,
    /// Rejections and notices (the writer thread counts the resources).
    report: IngestReport,
    /// Called after each batch is handed to the writer, with the number of resources so far.
    pub progress: Option<Box<dyn FnMut(u64)>>,
    sent: u64,
}

impl StoreSink {
    pub fn new(store: &Store, batch_size: usize, clock: Clock) -> Self {
        let (sender, receiver) = sync_channel::<Job>(2);
        let store = store.clone();
        let writer = std::thread::Builder::new()
            .name("salus-ingest-writer".into())
            .spawn(move || {
                let mut report = IngestReport::default();
                let mut written_rows = 0usize;
                for Job { requests, merges } in receiver {
                    let n = requests.len();
                    let (written, moved) = store
                        .write_with_merges(&requests, &merges, clock(), false)
                        .map_err(|e| {
                            format!("writing a batch of {n} resources failed (nothing of that batch was kept): {e}")
                        })?;
                    for w in written.iter().chain(&moved) {
                        report.count(&w.resource_type, w.outcome);
                        written_rows += usize::from(w.outcome != salus_ingest::WriteOutcome::Unchanged);
                    }
                }
                if written_rows >= ANALYZE_AFTER_ROWS {
                    store
                        .analyze()
                        .map_err(|e| format!("refreshing planner statistics after the load failed: {e}"))?;
                }
                Ok(report)
            })
            .expect("spawn the ingest writer thread");
        StoreSink {
            batch: Vec::with_capacity(batch_size),
            merges: Vec::new(),
            in_unit: false,
            batch_size: batch_size.max(1),
            sender: Some(sender),
            writer: Some(writer),
            report: IngestReport::default(),
            progress: None,
            sent: 0,
        }
    }

    fn flush(&mut self) -> Result<(), SinkError> {
        if self.batch.is_empty() && self.merges.is_empty() {
            return Ok(());
        }
        let requests = std::mem::replace(&mut self.batch, Vec::with_capacity(self.batch_size));
        let merges = std::mem::take(&mut self.merges);
        let n = requests.len() as u64;
        let sent = self
            .sender
            .as_ref()
            .map(|s| s.send(Job { requests, merges }));
        if !matches!(sent, Some(Ok(()))) {
            // The writer stopped: its error says why.
            return Err(self
                .join_writer()
                .err()
                .unwrap_or_else(|| SinkError::new("the ingest writer stopped")));
        }
        self.sent += n;
        if let Some(progress) = self.progress.as_mut() {
            progress(self.sent);
        }
        Ok(())
    }

    fn join_writer(&mut self) -> Result<IngestReport, SinkError> {
        self.sender = None;
        match self.writer.take() {
            Some(handle) => match handle.join() {
                Ok(Ok(report)) => Ok(report),
                Ok(Err(message)) => Err(SinkError::new(message)),
                Err(_) => Err(SinkError::new("the ingest writer thread panicked")),
            },
            None => Err(SinkError::new("the ingest writer already stopped")),
        }
    }

    fn push(
        &mut self,
        resource: PreparedResource,
        file: &str,
        position: &str,
        create_only: bool,
    ) -> Result<(), SinkError> {
        self.batch.push(WriteRequest {
            resource,
            source: Some(format!("{file} {position}")),
            if_match: None,
            create_only,
        });
        if self.batch.len() >= self.batch_size && !self.in_unit {
            self.flush()?;
        }
        Ok(())
    }

    /// Write what is buffered, wait for the writer and hand back the report.
    pub fn finish(mut self) -> Result<IngestReport, SinkError> {
        self.flush()?;
        let counted = self.join_writer()?;
        let mut report = std::mem::take(&mut self.report);
        report.resources = counted.resources;
        Ok(report)
    }
}

impl Sink for StoreSink {
    fn resource(
        &mut self,
        resource: PreparedResource,
        file: &str,
        position: &str,
    ) -> Result<(), SinkError> {
        self.push(resource, file, position, false)
    }

    fn resource_if_absent(
        &mut self,
        resource: PreparedResource,
        file: &str,
        position: &str,
    ) -> Result<(), SinkError> {
        self.push(resource, file, position, true)
    }

    fn begin_unit(&mut self) -> Result<(), SinkError> {
        self.in_unit = true;
        Ok(())
    }

    fn end_unit(&mut self) -> Result<(), SinkError> {
        self.in_unit = false;
        if self.batch.len() >= self.batch_size {
            self.flush()?;
        }
        Ok(())
    }

    fn merge(
        &mut self,
        merge: PatientMerge,
        _file: &str,
        _position: &str,
    ) -> Result<(), SinkError> {
        self.merges.push(merge);
        Ok(())
    }

    fn rejected(&mut self, rejection: Rejection) -> Result<(), SinkError> {
        self.report.rejected.push(rejection);
        Ok(())
    }

    fn notice(&mut self, notice: Notice) -> Result<(), SinkError> {
        self.report.notices.push(notice);
        Ok(())
    }
}
