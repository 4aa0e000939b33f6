//! `OperationOutcome`: the one shape of every problem Salus reports, over HTTP and in ingest
//! reports alike.

use serde::Serialize;
use serde_json::{json, Value};

/// `OperationOutcome.issue.severity`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Fatal,
    Error,
    Warning,
    Information,
}

/// The subset of the FHIR `issue-type` value set that Salus reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum IssueCode {
    Invalid,
    Structure,
    Required,
    Value,
    Invariant,
    NotSupported,
    NotFound,
    Conflict,
    Duplicate,
    TooLong,
    Processing,
    Exception,
    Informational,
    Security,
    Login,
    Forbidden,
}

/// One issue: what is wrong (`diagnostics`), where (`expression`, FHIRPath-like element paths).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issue {
    pub severity: Severity,
    pub code: IssueCode,
    pub diagnostics: String,
    pub expression: Vec<String>,
}

impl Issue {
    pub fn error(code: IssueCode, diagnostics: impl Into<String>) -> Self {
        Issue {
            severity: Severity::Error,
            code,
            diagnostics: diagnostics.into(),
            expression: Vec::new(),
        }
    }

    pub fn warning(code: IssueCode, diagnostics: impl Into<String>) -> Self {
        Issue {
            severity: Severity::Warning,
            ..Issue::error(code, diagnostics)
        }
    }

    /// Attach the element the issue is about.
    pub fn at(mut self, expression: impl Into<String>) -> Self {
        self.expression.push(expression.into());
        self
    }

    fn to_json(&self) -> Value {
        let mut issue = json!({
            "severity": self.severity,
            "code": self.code,
            "diagnostics": self.diagnostics,
        });
        if !self.expression.is_empty() {
            issue["expression"] = json!(self.expression);
        }
        issue
    }
}

/// A FHIR `OperationOutcome` under construction.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OperationOutcome {
    pub issues: Vec<Issue>,
}

impl OperationOutcome {
    pub fn new(issues: Vec<Issue>) -> Self {
        OperationOutcome { issues }
    }

    pub fn single(issue: Issue) -> Self {
        OperationOutcome {
            issues: vec![issue],
        }
    }

    /// The first issue's diagnostics, for one-line summaries.
    pub fn summary(&self) -> String {
        match self.issues.as_slice() {
            [] => "no issues".to_owned(),
            [one] => one.diagnostics.clone(),
            [first, rest @ ..] => format!("{} (and {} more)", first.diagnostics, rest.len()),
        }
    }

    pub fn is_error(&self) -> bool {
        self.issues
            .iter()
            .any(|i| matches!(i.severity, Severity::Error | Severity::Fatal))
    }

    pub fn to_json(&self) -> Value {
        let issues: Vec<Value> = if self.issues.is_empty() {
            vec![Issue {
                severity: Severity::Information,
                code: IssueCode::Informational,
                diagnostics: "All OK".to_owned(),
                expression: Vec::new(),
            }
            .to_json()]
        } else {
            self.issues.iter().map(Issue::to_json).collect()
        };
        json!({"resourceType": "OperationOutcome", "issue": issues})
    }
}

impl Serialize for OperationOutcome {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.to_json().serialize(serializer)
    }
}

impl From<Issue> for OperationOutcome {
    fn from(issue: Issue) -> Self {
        OperationOutcome::single(issue)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_fhir_shape() {
        let oo = OperationOutcome::single(
            Issue::error(IssueCode::Value, "bad date").at("Patient.birthDate"),
        );
        let v = oo.to_json();
        assert_eq!(v["resourceType"], "OperationOutcome");
        assert_eq!(v["issue"][0]["severity"], "error");
        assert_eq!(v["issue"][0]["code"], "value");
        assert_eq!(v["issue"][0]["expression"][0], "Patient.birthDate");
        assert!(oo.is_error());
    }

    #[test]
    fn kebab_case_codes() {
        let v = OperationOutcome::single(Issue::error(IssueCode::NotSupported, "x")).to_json();
        assert_eq!(v["issue"][0]["code"], "not-supported");
        let v = OperationOutcome::single(Issue::error(IssueCode::TooLong, "x")).to_json();
        assert_eq!(v["issue"][0]["code"], "too-long");
    }

    #[test]
    fn empty_outcome_is_all_ok() {
        let v = OperationOutcome::default().to_json();
        assert_eq!(v["issue"][0]["severity"], "information");
    }
}
