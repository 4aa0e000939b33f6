//! OIDs to FHIR system URIs, from the table in `data/code_systems.tsv`.

use std::collections::HashMap;
use std::sync::OnceLock;

static TABLE: &str = include_str!("../data/code_systems.tsv");

fn table() -> &'static HashMap<&'static str, &'static str> {
    static MAP: OnceLock<HashMap<&'static str, &'static str>> = OnceLock::new();
    MAP.get_or_init(|| {
        TABLE
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            .filter_map(|l| {
                let mut cols = l.split('\t');
                Some((cols.next()?.trim(), cols.next()?.trim()))
            })
            .collect()
    })
}

/// The FHIR `system` for a code system or identifier namespace given as an OID (or a UUID,
/// which some documents use as a root). Unknown OIDs become `urn:oid:<OID>`.
pub fn system_uri(root: &str) -> String {
    let root = root.trim();
    if let Some(uri) = table().get(root) {
        return (*uri).to_owned();
    }
    if is_uuid(root) {
        format!("urn:uuid:{}", root.to_ascii_lowercase())
    } else if root.contains(':') {
        // Already a URI (R2.1 allows none, but some senders write one).
        root.to_owned()
    } else {
        format!("urn:oid:{root}")
    }
}

/// Whether the OID is listed in the table (a known code system).
pub fn is_known(root: &str) -> bool {
    table().contains_key(root.trim())
}

pub(crate) fn is_uuid(text: &str) -> bool {
    let b = text.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// OIDs the mappings test for.
pub mod oid {
    pub const SNOMED: &str = "2.16.840.1.113883.6.96";
    pub const LOINC: &str = "2.16.840.1.113883.6.1";
    pub const RXNORM: &str = "2.16.840.1.113883.6.88";
    pub const CVX: &str = "2.16.840.1.113883.12.292";
    pub const SSN: &str = "2.16.840.1.113883.4.1";
    pub const NPI: &str = "2.16.840.1.113883.4.6";
    pub const RACE_ETHNICITY: &str = "2.16.840.1.113883.6.238";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_oids() {
        assert_eq!(
            system_uri("2.16.840.1.113883.6.96"),
            "http://snomed.info/sct"
        );
        assert_eq!(system_uri(" 2.16.840.1.113883.6.1 "), "http://loinc.org");
        assert_eq!(
            system_uri("2.16.840.1.113883.6.88"),
            "http://www.nlm.nih.gov/research/umls/rxnorm"
        );
        assert_eq!(system_uri("1.2.3.4"), "urn:oid:1.2.3.4");
        assert_eq!(
            system_uri("DB6E6E2B-3E5A-4C5F-9C3A-2D3E4F5A6B7C"),
            "urn:uuid:db6e6e2b-3e5a-4c5f-9c3a-2d3e4f5a6b7c"
        );
        assert!(is_known(oid::CVX));
        assert!(!is_known("1.2.3"));
        // Every line of the table has an OID and a URI.
        for line in TABLE.lines().filter(|l| !l.starts_with('#')) {
            let cols: Vec<&str> = line.split('\t').collect();
            assert!(cols.len() >= 2 && cols[1].contains(':'), "bad line: {line}");
        }
    }
}
