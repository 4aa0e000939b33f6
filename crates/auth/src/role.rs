//! Roles, the actions requests perform, and the one function that decides.

use std::fmt;

use crate::scope::{Interaction, ScopeSet};

/// The contract's roles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// Hospital IT feeding data in: ingest, create, update.
    Integrator,
    /// Reads records and asks for patient summaries.
    Clinician,
    /// De-identification policies and de-identified export.
    Steward,
    /// Reads the audit trail.
    Auditor,
    /// Everything.
    Admin,
}

impl Role {
    pub const ALL: [Role; 5] = [
        Role::Integrator,
        Role::Clinician,
        Role::Steward,
        Role::Auditor,
        Role::Admin,
    ];

    pub fn parse(text: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == text)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Integrator => "integrator",
            Role::Clinician => "clinician",
            Role::Steward => "steward",
            Role::Auditor => "auditor",
            Role::Admin => "admin",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who is asking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    /// A bearer token made with `salus token create`: its id and name.
    Token { id: String, name: String },
    /// A SMART Backend Services client, through an access token issued to it.
    Client { id: String, name: String },
}

impl Subject {
    /// A stable identifier for the audit trail: `token/ID` or `client/ID`.
    pub fn reference(&self) -> String {
        match self {
            Subject::Token { id, .. } => format!("token/{id}"),
            Subject::Client { id, .. } => format!("client/{id}"),
        }
    }

    pub fn name(&self) -> &str {
        match self {
            Subject::Token { name, .. } | Subject::Client { name, .. } => name,
        }
    }
}

/// An authenticated caller: who, in what role, with which scopes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub subject: Subject,
    pub role: Role,
    pub scopes: ScopeSet,
}

/// What a request does, as authorization sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Read or vread one resource.
    Read {
        resource_type: String,
    },
    /// Search one type.
    Search {
        resource_type: String,
    },
    Create {
        resource_type: String,
    },
    Update {
        resource_type: String,
    },
    Delete {
        resource_type: String,
    },
    /// A batch or transaction Bundle; each entry is authorized again as what it does.
    Bundle,
    /// `POST /ingest`: any type may be created or updated.
    Ingest,
    /// Bulk export of every type; de-identified or not.
    Export {
        deidentified: bool,
    },
    /// A patient summary (`$summary`, `$llm-context`): reads every type of one patient.
    Summary,
    /// Read de-identification policies, or preview one.
    PolicyRead,
    /// Create, change or delete a de-identification policy.
    PolicyWrite,
    /// Read or search the audit trail.
    AuditRead,
}

impl Action {
    /// A short name for logs and the audit trail (`read`, `search`, …).
    pub fn name(&self) -> &'static str {
        match self {
            Action::Read { .. } => "read",
            Action::Search { .. } => "search",
            Action::Create { .. } => "create",
            Action::Update { .. } => "update",
            Action::Delete { .. } => "delete",
            Action::Bundle => "batch",
            Action::Ingest => "ingest",
            Action::Export { .. } => "export",
            Action::Summary => "summary",
            Action::PolicyRead => "policy-read",
            Action::PolicyWrite => "policy-change",
            Action::AuditRead => "audit-read",
        }
    }

    /// The roles that may perform it.
    pub fn roles(&self) -> &'static [Role] {
        use Role::*;
        match self {
            Action::Read { .. } | Action::Search { .. } | Action::Summary => &[Clinician, Admin],
            Action::Create { .. }
            | Action::Update { .. }
            | Action::Delete { .. }
            | Action::Bundle
            | Action::Ingest => &[Integrator, Admin],
            Action::Export { deidentified: true } | Action::PolicyRead | Action::PolicyWrite => {
                &[Steward, Admin]
            }
            // Identified bulk data leaves only with the administrator's role.
            Action::Export {
                deidentified: false,
            } => &[Admin],
            Action::AuditRead => &[Auditor, Admin],
        }
    }

    /// The SMART scope interactions it needs, on which type (`None`: every type).
    fn needs(&self) -> Vec<(Option<&str>, Interaction)> {
        use Interaction::*;
        match self {
            Action::Read { resource_type } => vec![(Some(resource_type), Read)],
            Action::Search { resource_type } => vec![(Some(resource_type), Search)],
            Action::Create { resource_type } => vec![(Some(resource_type), Create)],
            Action::Update { resource_type } => vec![(Some(resource_type), Update)],
            Action::Delete { resource_type } => vec![(Some(resource_type), Delete)],
            // The entries are checked one by one.
            Action::Bundle => vec![],
            Action::Ingest => vec![(None, Create), (None, Update)],
            Action::Export { .. } | Action::Summary => vec![(None, Read), (None, Search)],
            Action::AuditRead => vec![(Some("AuditEvent"), Read), (Some("AuditEvent"), Search)],
            // Policies are not FHIR resources: the role decides.
            Action::PolicyRead | Action::PolicyWrite => vec![],
        }
    }
}

/// Why a request is refused (403). The message names the rule, never request content.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Denial(pub String);

/// The one authorization decision: the principal's role must allow the action and its scopes
/// must cover what the action touches.
pub fn authorize(principal: &Principal, action: &Action) -> Result<(), Denial> {
    let roles = action.roles();
    if !roles.contains(&principal.role) {
        let allowed: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
        return Err(Denial(format!(
            "the role '{}' may not {} (allowed: {})",
            principal.role,
            describe(action),
            allowed.join(", ")
        )));
    }
    for (resource_type, interaction) in action.needs() {
        if !principal.scopes.allows(resource_type, interaction) {
            let letter = match interaction {
                Interaction::Create => 'c',
                Interaction::Read => 'r',
                Interaction::Update => 'u',
                Interaction::Delete => 'd',
                Interaction::Search => 's',
            };
            return Err(Denial(format!(
                "the access token's scopes do not allow this: it needs system/{}.{letter}",
                resource_type.unwrap_or("*")
            )));
        }
    }
    Ok(())
}

fn describe(action: &Action) -> String {
    match action {
        Action::Read { resource_type } => format!("read {resource_type} resources"),
        Action::Search { resource_type } => format!("search {resource_type} resources"),
        Action::Create { resource_type } => format!("create {resource_type} resources"),
        Action::Update { resource_type } => format!("update {resource_type} resources"),
        Action::Delete { resource_type } => format!("delete {resource_type} resources"),
        Action::Bundle => "submit batch or transaction Bundles".into(),
        Action::Ingest => "ingest data".into(),
        Action::Export { deidentified: true } => "export de-identified data".into(),
        Action::Export {
            deidentified: false,
        } => "export identified data".into(),
        Action::Summary => "request patient summaries".into(),
        Action::PolicyRead => "read de-identification policies".into(),
        Action::PolicyWrite => "change de-identification policies".into(),
        Action::AuditRead => "read the audit trail".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn principal(role: Role, scopes: &str) -> Principal {
        Principal {
            subject: Subject::Token {
                id: "t1".into(),
                name: "test".into(),
            },
            role,
            scopes: ScopeSet::parse(scopes).unwrap(),
        }
    }

    #[test]
    fn roles_follow_the_contract() {
        let read = Action::Read {
            resource_type: "Patient".into(),
        };
        let ingest = Action::Ingest;
        let audit = Action::AuditRead;
        let cases = [
            (Role::Clinician, &read, true),
            (Role::Integrator, &read, false),
            (Role::Auditor, &read, false),
            (Role::Admin, &read, true),
            (Role::Integrator, &ingest, true),
            (Role::Clinician, &ingest, false),
            (Role::Auditor, &audit, true),
            (Role::Clinician, &audit, false),
            (Role::Steward, &Action::Export { deidentified: true }, true),
            (
                Role::Steward,
                &Action::Export {
                    deidentified: false,
                },
                false,
            ),
        ];
        for (role, action, expected) in cases {
            let got = authorize(&principal(role, "system/*.cruds"), action).is_ok();
            assert_eq!(got, expected, "{role} {action:?}");
        }
    }

    #[test]
    fn scopes_narrow_a_role() {
        let p = principal(Role::Clinician, "system/Observation.rs");
        let obs = Action::Search {
            resource_type: "Observation".into(),
        };
        let pat = Action::Read {
            resource_type: "Patient".into(),
        };
        assert!(authorize(&p, &obs).is_ok());
        let denial = authorize(&p, &pat).unwrap_err();
        assert!(denial.0.contains("system/Patient.r"), "{denial}");
        assert!(
            authorize(&p, &Action::Summary).is_err(),
            "a summary reads every type"
        );
    }
}
