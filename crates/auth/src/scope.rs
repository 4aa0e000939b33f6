//! SMART App Launch scopes for backend services: `system/<Type|*>.<cruds>` (v2) and the v1 forms
//! `system/<Type|*>.read|write|*`, which SMART v2 servers still accept.
//!
//! Only the `system/` context is meaningful to a backend client; `patient/` and `user/` scopes
//! belong to user-facing launches and are refused when a client asks for them.

use std::fmt;

/// One FHIR interaction a scope can allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Interaction {
    Create,
    Read,
    Update,
    Delete,
    Search,
}

impl Interaction {
    fn letter(self) -> char {
        match self {
            Interaction::Create => 'c',
            Interaction::Read => 'r',
            Interaction::Update => 'u',
            Interaction::Delete => 'd',
            Interaction::Search => 's',
        }
    }
}

/// One granted scope: a resource type (or `*`) and the interactions it allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    /// `None` for `*`.
    pub resource_type: Option<String>,
    pub interactions: Vec<Interaction>,
}

impl Scope {
    /// Parse one scope. `Err` says why it is not a `system/` resource scope.
    pub fn parse(text: &str) -> Result<Scope, String> {
        let rest = text.strip_prefix("system/").ok_or_else(|| {
            format!("'{text}': only system/ scopes are granted to backend services")
        })?;
        let (resource, permissions) = rest
            .split_once('.')
            .ok_or_else(|| format!("'{text}': expected system/<Type or *>.<permissions>"))?;
        let valid_type = resource == "*"
            || (resource
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_uppercase())
                && resource.chars().all(|c| c.is_ascii_alphanumeric()));
        if !valid_type {
            return Err(format!(
                "'{text}': '{resource}' is not a resource type or *"
            ));
        }
        // SMART v2 allows a query after `?` to narrow a scope; Salus does not evaluate those,
        // and granting the wider scope instead would be wrong, so they are refused.
        if permissions.contains('?') {
            return Err(format!(
                "'{text}': scopes narrowed by a query are not supported"
            ));
        }
        let interactions = match permissions {
            "read" => vec![Interaction::Read, Interaction::Search],
            "write" => vec![
                Interaction::Create,
                Interaction::Update,
                Interaction::Delete,
            ],
            "*" => vec![
                Interaction::Create,
                Interaction::Read,
                Interaction::Update,
                Interaction::Delete,
                Interaction::Search,
            ],
            v2 => parse_v2(v2).ok_or_else(|| {
                format!(
                    "'{text}': permissions are read, write, * or letters of cruds in that order"
                )
            })?,
        };
        Ok(Scope {
            resource_type: (resource != "*").then(|| resource.to_owned()),
            interactions,
        })
    }

    fn allows(&self, resource_type: Option<&str>, interaction: Interaction) -> bool {
        let type_matches = match (&self.resource_type, resource_type) {
            (None, _) => true,
            (Some(granted), Some(wanted)) => granted == wanted,
            // An action over every type needs a wildcard scope.
            (Some(_), None) => false,
        };
        type_matches && self.interactions.contains(&interaction)
    }
}

/// `cruds` letters, each at most once and in that order (`rs`, `cud`, …).
fn parse_v2(permissions: &str) -> Option<Vec<Interaction>> {
    let order = [
        Interaction::Create,
        Interaction::Read,
        Interaction::Update,
        Interaction::Delete,
        Interaction::Search,
    ];
    let mut out = Vec::new();
    let mut next = 0;
    for c in permissions.chars() {
        let at = order[next..].iter().position(|i| i.letter() == c)? + next;
        out.push(order[at]);
        next = at + 1;
    }
    (!out.is_empty()).then_some(out)
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let letters: String = self.interactions.iter().map(|i| i.letter()).collect();
        write!(
            f,
            "system/{}.{letters}",
            self.resource_type.as_deref().unwrap_or("*")
        )
    }
}

/// The scopes a principal holds.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ScopeSet {
    scopes: Vec<Scope>,
}

impl ScopeSet {
    /// Every interaction on every type: what a token made with `salus token create` carries
    /// (its role still limits it).
    pub fn all() -> ScopeSet {
        ScopeSet {
            scopes: vec![Scope::parse("system/*.cruds").expect("a valid scope")],
        }
    }

    /// Parse a space-separated scope string; every scope must parse.
    pub fn parse(text: &str) -> Result<ScopeSet, Vec<String>> {
        let mut scopes = Vec::new();
        let mut problems = Vec::new();
        for part in text.split_ascii_whitespace() {
            match Scope::parse(part) {
                Ok(s) => scopes.push(s),
                Err(e) => problems.push(e),
            }
        }
        if problems.is_empty() {
            Ok(ScopeSet { scopes })
        } else {
            Err(problems)
        }
    }

    /// Whether some scope allows `interaction` on `resource_type` (`None`: on every type).
    pub fn allows(&self, resource_type: Option<&str>, interaction: Interaction) -> bool {
        self.scopes
            .iter()
            .any(|s| s.allows(resource_type, interaction))
    }

    /// The part of `self` that `granted` also covers: what a client asking for `self` gets
    /// when it was registered with `granted` (`system/*.rs` asked of `system/Patient.r` gives
    /// `system/Patient.r`).
    pub fn within(&self, granted: &ScopeSet) -> ScopeSet {
        let mut scopes: Vec<Scope> = Vec::new();
        for asked in &self.scopes {
            for g in &granted.scopes {
                let resource_type = match (&asked.resource_type, &g.resource_type) {
                    (None, t) | (t, None) => t.clone(),
                    (Some(a), Some(b)) if a == b => Some(a.clone()),
                    _ => continue,
                };
                let interactions: Vec<Interaction> = asked
                    .interactions
                    .iter()
                    .copied()
                    .filter(|i| g.interactions.contains(i))
                    .collect();
                if !interactions.is_empty() {
                    scopes.push(Scope {
                        resource_type,
                        interactions,
                    });
                }
            }
        }
        ScopeSet { scopes }
    }

    pub fn is_empty(&self) -> bool {
        self.scopes.is_empty()
    }
}

impl fmt::Display for ScopeSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.scopes.iter().map(Scope::to_string).collect();
        f.write_str(&parts.join(" "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v2_and_v1_forms() {
        let s = ScopeSet::parse("system/Patient.rs system/Observation.read").unwrap();
        assert!(s.allows(Some("Patient"), Interaction::Read));
        assert!(s.allows(Some("Patient"), Interaction::Search));
        assert!(!s.allows(Some("Patient"), Interaction::Create));
        assert!(s.allows(Some("Observation"), Interaction::Search));
        assert!(!s.allows(Some("Condition"), Interaction::Read));
        assert!(!s.allows(None, Interaction::Read), "no wildcard granted");
        let all = ScopeSet::parse("system/*.cruds").unwrap();
        assert!(all.allows(None, Interaction::Delete));
        assert_eq!(s.to_string(), "system/Patient.rs system/Observation.rs");
    }

    #[test]
    fn refuses_what_it_cannot_honour() {
        for bad in [
            "patient/Patient.rs",
            "user/*.read",
            "system/Patient.sr",
            "system/Patient.rr",
            "system/Patient.",
            "system/patient.rs",
            "system/Observation.rs?category=laboratory",
            "openid",
        ] {
            assert!(Scope::parse(bad).is_err(), "{bad} was accepted");
        }
    }

    #[test]
    fn a_request_is_narrowed_to_the_registration() {
        let granted = ScopeSet::parse("system/Patient.rs system/Observation.r").unwrap();
        let asked = ScopeSet::parse("system/*.cruds").unwrap();
        let got = asked.within(&granted);
        assert!(
            !got.allows(None, Interaction::Read),
            "no wildcard was granted"
        );
        assert_eq!(got.to_string(), "system/Patient.rs system/Observation.r");
        let asked = ScopeSet::parse("system/Patient.cruds system/Observation.rs").unwrap();
        assert_eq!(
            asked.within(&granted).to_string(),
            "system/Patient.rs system/Observation.r"
        );
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn parsing_never_panics_and_printing_round_trips(text in "[ -~]{0,80}") {
            if let Ok(scopes) = ScopeSet::parse(&text) {
                prop_assert_eq!(ScopeSet::parse(&scopes.to_string()).unwrap(), scopes);
            }
        }

        #[test]
        fn every_valid_scope_round_trips(
            resource in "(\\*|[A-Z][a-zA-Z]{0,20})",
            letters in proptest::sample::subsequence(vec!['c', 'r', 'u', 'd', 's'], 1..=5),
        ) {
            let text = format!("system/{resource}.{}", letters.iter().collect::<String>());
            let scope = Scope::parse(&text).unwrap();
            prop_assert_eq!(scope.to_string(), text);
        }
    }
}
