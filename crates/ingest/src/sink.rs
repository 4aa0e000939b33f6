//! Where readers put what they read.
//!
//! Readers *push* into a sink rather than hand out an iterator: one input record can become
//! several resources (a Bundle's entries) or none (a rejection), and a push interface lets each
//! reader say exactly that, in input order, without buffering. It also lets one reader serve
//! every destination: the store, the de-identifier, a test's `Vec`.

use std::fmt;

use salus_fhir::PreparedResource;

use crate::report::{Notice, Rejection};

/// A failure that stops reading: the destination failed, or the input stream could not be read.
/// A bad *record* is never a `SinkError`; it is a [`Rejection`].
#[derive(Debug)]
pub struct SinkError {
    pub message: String,
}

impl SinkError {
    pub fn new(message: impl Into<String>) -> Self {
        SinkError {
            message: message.into(),
        }
    }

    pub fn input(err: std::io::Error) -> Self {
        SinkError::new(format!("cannot read the input: {err}"))
    }
}

impl fmt::Display for SinkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for SinkError {}

/// A patient merge (HL7 v2 ADT^A40): the retired patient's resources move to the survivor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatientMerge {
    /// The id of the Patient that remains.
    pub survivor: String,
    /// The id of the Patient merged into it.
    pub retired: String,
}

/// Receives what a reader found, in input order.
pub trait Sink {
    /// A valid resource, with where it came from (`file`, `position`).
    fn resource(
        &mut self,
        resource: PreparedResource,
        file: &str,
        position: &str,
    ) -> Result<(), SinkError>;

    /// A valid resource to store only if none with its type and id exists yet (an existing one
    /// is left as it is). Sinks without stored state take it as [`Sink::resource`].
    fn resource_if_absent(
        &mut self,
        resource: PreparedResource,
        file: &str,
        position: &str,
    ) -> Result<(), SinkError> {
        self.resource(resource, file, position)
    }

    /// A record that could not be turned into a valid resource.
    fn rejected(&mut self, rejection: Rejection) -> Result<(), SinkError>;

    /// Something worth telling the user that is not an error. Ignored by default.
    fn notice(&mut self, _notice: Notice) -> Result<(), SinkError> {
        Ok(())
    }

    /// The resources and merges pushed from here to [`Sink::end_unit`] belong together (one
    /// HL7 v2 message): a sink that writes in batches commits them in one transaction.
    fn begin_unit(&mut self) -> Result<(), SinkError> {
        Ok(())
    }

    /// The end of a unit begun with [`Sink::begin_unit`].
    fn end_unit(&mut self) -> Result<(), SinkError> {
        Ok(())
    }

    /// Merge two patients, after the resources pushed before it (a destination without
    /// patients of its own, such as a de-identified export, has nothing to move).
    fn merge(&mut self, merge: PatientMerge, file: &str, position: &str) -> Result<(), SinkError>;
}

/// A sink that keeps everything in memory: for tests and for small, database-free work.
#[derive(Debug, Default)]
pub struct VecSink {
    pub resources: Vec<(PreparedResource, String)>,
    pub rejected: Vec<Rejection>,
    pub notices: Vec<Notice>,
    pub merges: Vec<PatientMerge>,
}

impl Sink for VecSink {
    fn resource(
        &mut self,
        resource: PreparedResource,
        _file: &str,
        position: &str,
    ) -> Result<(), SinkError> {
        self.resources.push((resource, position.to_owned()));
        Ok(())
    }

    fn rejected(&mut self, rejection: Rejection) -> Result<(), SinkError> {
        self.rejected.push(rejection);
        Ok(())
    }

    fn notice(&mut self, notice: Notice) -> Result<(), SinkError> {
        self.notices.push(notice);
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
}
