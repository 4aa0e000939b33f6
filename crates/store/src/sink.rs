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

/// When a batch is full: whichever limit is reached first.
///
/// Larger batches are faster (each transaction rewrites the index pages it touches, and the
/// ids' index pages are touched at random), but a batch is held in memory three times over
/// (being filled, queued, being written): the byte limit keeps memory bounded whatever the
/// resources' size, the count limit whatever their number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchLimits {
    /// Resources per transaction at most.
    pub resources: usize,
    /// Serialized bytes per transaction at most (a batch holds at least one resource).
    pub bytes: usize,
}

impl Default for BatchLimits {
    fn default() -> Self {
        BatchLimits {
            resources: 5_000,
            bytes: 8 << 20,
        }
    }
}

impl BatchLimits {
    fn full(&self, resources: usize, bytes: usize) -> bool {
        resources >= self.resources || bytes >= self.bytes
    }
}

type WriterResult = Result<IngestReport, String>;

/// What the writer thread commits in one transaction: resources, then the merges they carry.
struct Job {
    requests: Vec<WriteRequest>,
    merges: Vec<PatientMerge>,
}

/// Writes what readers push, a batch (see [`BatchLimits`]) per transaction, and keeps the report.
///
/// A batch is all-or-nothing: a crash leaves no half-written batch, and a re-run finds the
/// committed batches `unchanged`. Call [`StoreSink::finish`] to write the last batch and collect
/// the report; dropping the sink without it abandons the buffered batch. A unit (one HL7 v2
/// message, see [`Sink::begin_unit`]) is never split across batches, and its merges commit with
/// its resources.
pub struct StoreSink {
    batch: Vec<WriteRequest>,
    /// Serialized bytes in `batch`.
    batch_bytes: usize,
    merges: Vec<PatientMerge>,
    in_unit: bool,
    limits: BatchLimits,
    sender: Option<SyncSender<Job>>,
    writer: Option<JoinHandle<WriterResult>>,
    /// Rejections and notices (the writer thread counts the resources).
    report: IngestReport,
    /// Called after each batch is handed to the writer, with the number of resources so far.
    pub progress: Option<Box<dyn FnMut(u64)>>,
    sent: u64,
}

impl StoreSink {
    pub fn new(store: &Store, limits: BatchLimits, clock: Clock) -> Self {
        let limits = BatchLimits {
            resources: limits.resources.max(1),
            bytes: limits.bytes.max(1),
        };
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
            batch: Vec::new(),
            batch_bytes: 0,
            merges: Vec::new(),
            in_unit: false,
            limits,
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
        let requests = std::mem::take(&mut self.batch);
        self.batch_bytes = 0;
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
        self.batch_bytes += resource.stored.len();
        self.batch.push(WriteRequest {
            resource,
            source: Some(format!("{file} {position}")),
            if_match: None,
            create_only,
        });
        if !self.in_unit && self.limits.full(self.batch.len(), self.batch_bytes) {
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
        if self.limits.full(self.batch.len(), self.batch_bytes) {
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
