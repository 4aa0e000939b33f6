//! The store as an ingest [`Sink`]: resources are buffered and written a batch per transaction.

use salus_fhir::PreparedResource;
use salus_ingest::{IngestReport, Notice, Rejection, Sink, SinkError};

use crate::write::WriteRequest;
use crate::Store;

/// Writes what readers push, `batch_size` resources per transaction, and keeps the report.
///
/// A batch is all-or-nothing: a crash leaves no half-written batch, and a re-run finds the
/// committed batches `unchanged`. Call [`StoreSink::finish`] to write the last batch.
pub struct StoreSink<'a> {
    store: &'a Store,
    batch: Vec<WriteRequest>,
    batch_size: usize,
    clock: &'a dyn Fn() -> i64,
    pub report: IngestReport,
    /// Called after each committed batch with the number of resources written so far.
    pub progress: Option<Box<dyn FnMut(u64) + 'a>>,
    written: u64,
}

impl<'a> StoreSink<'a> {
    /// `clock` gives "now" in microseconds since the epoch for each batch.
    pub fn new(store: &'a Store, batch_size: usize, clock: &'a dyn Fn() -> i64) -> Self {
        StoreSink {
            store,
            batch: Vec::with_capacity(batch_size),
            batch_size: batch_size.max(1),
            clock,
            report: IngestReport::default(),
            progress: None,
            written: 0,
        }
    }

    fn flush(&mut self) -> Result<(), SinkError> {
        if self.batch.is_empty() {
            return Ok(());
        }
        let batch = std::mem::take(&mut self.batch);
        let n = batch.len() as u64;
        let written = self.store.write(batch, (self.clock)()).map_err(|e| {
            SinkError::new(format!(
                "writing a batch of {n} resources failed (nothing of it was kept): {e}"
            ))
        })?;
        for w in &written {
            self.report.count(&w.resource_type, w.outcome);
        }
        self.written += n;
        if let Some(progress) = self.progress.as_mut() {
            progress(self.written);
        }
        Ok(())
    }

    /// Write what is buffered and hand back the report.
    pub fn finish(mut self) -> Result<IngestReport, SinkError> {
        self.flush()?;
        Ok(self.report)
    }
}

impl Sink for StoreSink<'_> {
    fn resource(
        &mut self,
        resource: PreparedResource,
        file: &str,
        position: &str,
    ) -> Result<(), SinkError> {
        self.batch.push(WriteRequest {
            resource,
            source: Some(format!("{file} {position}")),
            if_match: None,
        });
        if self.batch.len() >= self.batch_size {
            self.flush()?;
        }
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
