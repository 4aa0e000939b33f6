//! Small, forgiving readers for the FHIR datatypes a Consent uses. Every reader accepts any
//! JSON and reports "absent" or "unreadable" instead of failing: a malformed Consent must never
//! panic the evaluator.

use serde_json::Value;

/// A code with an optional system, as in a FHIR `Coding` (display is never kept: it is text a
/// human wrote and may identify the patient).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Coding {
    pub system: Option<String>,
    pub code: String,
}

impl Coding {
    pub fn new(system: &str, code: &str) -> Self {
        Coding {
            system: Some(system.to_owned()),
            code: code.to_owned(),
        }
    }

    /// A code without a system (matches a pattern's code regardless of system only when the
    /// pattern, too, has no system).
    pub fn code_only(code: &str) -> Self {
        Coding {
            system: None,
            code: code.to_owned(),
        }
    }

    /// Whether `self`, used as a pattern from a Consent, names `other`. A pattern without a
    /// system matches on the code alone.
    pub(crate) fn names(&self, other: &Coding) -> bool {
        self.code == other.code && (self.system.is_none() || self.system == other.system)
    }
}

/// Read one FHIR `Coding` object. `None` when it is not an object or has no string `code`.
pub(crate) fn coding(v: &Value) -> Option<Coding> {
    let obj = v.as_object()?;
    let code = obj.get("code")?.as_str()?;
    let system = match obj.get("system") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return None,
    };
    Some(Coding {
        system,
        code: code.to_owned(),
    })
}

/// The codings of a `CodeableConcept`, or of a bare `Coding` (some elements, e.g.
/// `Encounter.class`, are Codings). Unreadable entries are skipped.
pub(crate) fn codings_of(v: &Value) -> Vec<Coding> {
    match v.get("coding") {
        Some(Value::Array(list)) => list.iter().filter_map(coding).collect(),
        Some(_) => Vec::new(),
        None => coding(v).into_iter().collect(),
    }
}

/// `Type/id` of a literal reference: `Type/id`, `Type/id/_history/n`, or an absolute URL
/// ending in `/Type/id`. `None` for anything else (contained `#x`, `urn:uuid:`, logical ids).
pub(crate) fn type_and_id(reference: &str) -> Option<(&str, &str)> {
    let base = match reference.find("/_history/") {
        Some(i) => &reference[..i],
        None => reference,
    };
    let absolute = base.contains("://");
    let mut parts = base.rsplit('/');
    let id = parts.next()?;
    let ty = parts.next()?;
    let rest_empty = parts.next().is_none();
    let valid_type = ty.chars().next().is_some_and(|c| c.is_ascii_uppercase())
        && ty.chars().all(|c| c.is_ascii_alphanumeric());
    let valid_id = !id.is_empty()
        && id.len() <= 64
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
    (valid_type && valid_id && (absolute || rest_empty)).then_some((ty, id))
}

/// Whether two literal references name the same resource (`Type/id` equal after
/// normalisation). Unreadable references name nothing.
pub(crate) fn same_resource(a: &str, b: &str) -> bool {
    matches!((type_and_id(a), type_and_id(b)), (Some(x), Some(y)) if x == y)
}

/// The `reference` string of a FHIR `Reference` object.
pub(crate) fn reference_of(v: &Value) -> Option<&str> {
    v.get("reference")?.as_str()
}

/// Whether a string is a valid FHIR resource id (and so safe to quote in diagnostics).
pub(crate) fn is_fhir_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reference_forms() {
        assert_eq!(type_and_id("Patient/pat-1"), Some(("Patient", "pat-1")));
        assert_eq!(
            type_and_id("Patient/pat-1/_history/3"),
            Some(("Patient", "pat-1"))
        );
        assert_eq!(
            type_and_id("https://ehr.example/fhir/R4/Patient/pat-1"),
            Some(("Patient", "pat-1"))
        );
        assert_eq!(
            type_and_id("foo/Patient/pat-1"),
            None,
            "relative references have exactly two segments"
        );
        assert_eq!(type_and_id("#contained"), None);
        assert_eq!(
            type_and_id("urn:uuid:2b3c0a1e-0000-0000-0000-000000000000"),
            None
        );
        assert_eq!(type_and_id("patient/pat-1"), None);
        assert_eq!(type_and_id("Patient/"), None);
        assert!(same_resource("Patient/pat-1", "http://x/Patient/pat-1"));
        assert!(!same_resource("Patient/pat-1", "Patient/pat-10"));
        assert!(!same_resource("Patient/pat-1", "Practitioner/pat-1"));
    }

    #[test]
    fn codings() {
        assert_eq!(
            codings_of(&json!({"coding": [{"system": "s", "code": "c"}, {"code": 3}, "x"]})),
            vec![Coding::new("s", "c")]
        );
        assert_eq!(
            codings_of(&json!({"system": "s", "code": "c"})),
            vec![Coding::new("s", "c")]
        );
        assert_eq!(codings_of(&json!({"coding": "nope"})), vec![]);
        assert_eq!(codings_of(&json!(17)), vec![]);
        assert!(Coding::code_only("PSY").names(&Coding::new("any", "PSY")));
        assert!(!Coding::new("a", "PSY").names(&Coding::new("b", "PSY")));
        assert!(!Coding::new("a", "PSY").names(&Coding::code_only("PSY")));
    }
}
