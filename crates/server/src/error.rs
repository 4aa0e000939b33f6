//! Every error the API returns is an `OperationOutcome` with a 4xx or 5xx status.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use salus_fhir::{Issue, IssueCode, OperationOutcome};

use crate::FHIR_JSON;

/// An error answer: a status and the OperationOutcome that explains it.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub outcome: OperationOutcome,
}

impl ApiError {
    pub fn new(status: StatusCode, issues: Vec<Issue>) -> Self {
        ApiError {
            status,
            outcome: OperationOutcome::new(issues),
        }
    }

    pub fn bad_request(code: IssueCode, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, vec![Issue::error(code, message)])
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            vec![Issue::error(IssueCode::NotFound, message)],
        )
    }

    /// A failure of ours. The detail goes to the log (it holds no PHI: store errors describe
    /// operations, not content); the client gets a request-independent message.
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        tracing::error!(error = %detail, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            vec![Issue::error(
                IssueCode::Exception,
                "the server failed to process the request; the failure has been logged",
            )],
        )
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.status, self.outcome.summary())
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        HttpResponse::build(self.status)
            .content_type(FHIR_JSON)
            .body(self.outcome.to_json().to_string())
    }
}

impl From<salus_store::StoreError> for ApiError {
    fn from(e: salus_store::StoreError) -> Self {
        match e {
            salus_store::StoreError::Write(w @ salus_store::WriteError::VersionConflict { .. }) => {
                Self::new(
                    StatusCode::PRECONDITION_FAILED,
                    vec![Issue::error(IssueCode::Conflict, w.to_string())],
                )
            }
            other => Self::internal(other),
        }
    }
}

impl From<actix_web::error::BlockingError> for ApiError {
    fn from(e: actix_web::error::BlockingError) -> Self {
        Self::internal(e)
    }
}
