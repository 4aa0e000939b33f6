//! Free text: the bridge to `salus-phi-text`, and each patient's own identifiers taken from
//! the structured record (the strongest clue to what must not survive in their notes).

use std::collections::{BTreeMap, HashMap};

use chrono::NaiveDate;
use salus_phi_text::{Category, Options, PatientIdentity, Replacement, Scrubber};
use serde_json::Value;

use crate::policy::FreeTextSettings;

pub(crate) fn category_exists(name: &str) -> bool {
    Category::from_name(name).is_some()
}

pub(crate) fn category_names() -> Vec<&'static str> {
    Category::ALL.iter().map(|c| c.name()).collect()
}

/// The scrubber a policy asks for (categories kept, e.g. dates in a limited data set).
pub struct TextScrubber {
    scrubber: Scrubber,
    empty: PatientIdentity,
}

/// Scrubbed text and per-category counts.
pub(crate) struct TextOutcome {
    pub text: String,
    pub counts: BTreeMap<String, u64>,
}

impl TextOutcome {
    pub fn changed(&self) -> bool {
        !self.counts.is_empty()
    }
}

impl TextScrubber {
    pub fn new(settings: &FreeTextSettings) -> Result<TextScrubber, String> {
        let keep: Vec<Category> = settings
            .keep_categories
            .iter()
            .filter_map(|n| Category::from_name(n))
            .collect();
        let scrubber = Scrubber::new(Options::new().keep(keep))
            .map_err(|e| format!("free-text scrubber: {e}"))?;
        Ok(TextScrubber {
            scrubber,
            empty: PatientIdentity::empty(),
        })
    }

    /// Scrubs `text` (an XHTML fragment when `xhtml`). `surrogate_key`: consistent surrogates
    /// instead of tags; `shift_days`: dates move by this many days instead of becoming `[DATE]`.
    pub(crate) fn scrub(
        &self,
        text: &str,
        xhtml: bool,
        identity: Option<&PatientIdentity>,
        surrogate_key: Option<&str>,
        shift_days: Option<i64>,
    ) -> TextOutcome {
        let identity = identity.unwrap_or(&self.empty);
        let replacement = match surrogate_key.map(|k| Replacement::surrogates(k.as_bytes())) {
            Some(Ok(r)) => r,
            _ => Replacement::tags(),
        }
        .shift_dates(shift_days);
        let scrubbed = if xhtml {
            self.scrubber.scrub_xhtml(text, identity, &replacement)
        } else {
            self.scrubber.scrub(text, identity, &replacement)
        };
        TextOutcome {
            counts: scrubbed
                .counts
                .iter()
                .map(|(c, n)| (c.name().to_string(), n as u64))
                .collect(),
            text: scrubbed.text,
        }
    }
}

/// Each patient's own identifiers, by patient id, gathered from Patient resources before their
/// other resources are de-identified.
#[derive(Default)]
pub struct IdentityBook {
    patients: HashMap<String, PatientIdentity>,
}

impl IdentityBook {
    pub fn new() -> IdentityBook {
        IdentityBook::default()
    }

    pub fn len(&self) -> usize {
        self.patients.len()
    }

    pub fn is_empty(&self) -> bool {
        self.patients.is_empty()
    }

    pub fn get(&self, patient_id: &str) -> Option<&PatientIdentity> {
        self.patients.get(patient_id)
    }

    /// Learns from a Patient (or the Patients in a Bundle, or contained); other resources are
    /// ignored.
    pub fn add_resource(&mut self, resource: &Value) {
        match resource.get("resourceType").and_then(Value::as_str) {
            Some("Patient") => {
                if let Some(id) = resource.get("id").and_then(Value::as_str) {
                    self.patients.insert(id.to_string(), identity_of(resource));
                }
            }
            Some("Bundle") => {
                for entry in resource
                    .get("entry")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    if let Some(r) = entry.get("resource") {
                        self.add_resource(r);
                    }
                }
            }
            _ => {}
        }
        for contained in resource
            .get("contained")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            self.add_resource(contained);
        }
    }
}

/// A Patient's names (and their contacts'), identifiers, telecom, address parts and birth date.
fn identity_of(patient: &Value) -> PatientIdentity {
    let mut b = PatientIdentity::builder();
    let mut names: Vec<&Value> = array(patient, "name").collect();
    for contact in array(patient, "contact") {
        names.extend(contact.get("name"));
        for t in array(contact, "telecom") {
            b = add_telecom(b, t);
        }
        if let Some(a) = contact.get("address") {
            b = add_address(b, a);
        }
    }
    for name in names {
        let given: Vec<&str> = array(name, "given").filter_map(Value::as_str).collect();
        let family = name.get("family").and_then(Value::as_str).unwrap_or("");
        if !given.is_empty() || !family.is_empty() {
            b = b.name(given, family);
        }
        if let Some(text) = name.get("text").and_then(Value::as_str) {
            let words: Vec<&str> = text.split_whitespace().collect();
            if let Some((last, first)) = words.split_last() {
                b = b.name(first.to_vec(), last);
            }
        }
    }
    for identifier in array(patient, "identifier") {
        if let Some(v) = identifier.get("value").and_then(Value::as_str) {
            b = b.identifier(v);
        }
    }
    for t in array(patient, "telecom") {
        b = add_telecom(b, t);
    }
    for a in array(patient, "address") {
        b = add_address(b, a);
    }
    if let Some(d) = patient
        .get("birthDate")
        .and_then(Value::as_str)
        .and_then(|s| NaiveDate::parse_from_str(s.get(..10)?, "%Y-%m-%d").ok())
    {
        b = b.birth_date(d);
    }
    // Extensions that name relatives or places (mother's maiden name, birth place).
    for ext in array(patient, "extension") {
        if let Some(s) = ext.get("valueString").and_then(Value::as_str) {
            b = b.name(Vec::<&str>::new(), s);
        }
        if let Some(a) = ext.get("valueAddress") {
            b = add_address(b, a);
        }
    }
    b.build()
}

fn add_telecom(
    b: salus_phi_text::PatientIdentityBuilder,
    t: &Value,
) -> salus_phi_text::PatientIdentityBuilder {
    let Some(v) = t.get("value").and_then(Value::as_str) else {
        return b;
    };
    match t.get("system").and_then(Value::as_str) {
        Some("email") => b.email(v),
        Some("phone") | Some("fax") | Some("pager") | Some("sms") | None => b.phone(v),
        _ => b.identifier(v),
    }
}

fn add_address(
    mut b: salus_phi_text::PatientIdentityBuilder,
    a: &Value,
) -> salus_phi_text::PatientIdentityBuilder {
    for line in array(a, "line").filter_map(Value::as_str) {
        b = b.street(line);
    }
    if let Some(c) = a.get("city").and_then(Value::as_str) {
        b = b.city(c);
    }
    if let Some(z) = a.get("postalCode").and_then(Value::as_str) {
        b = b.zip(z);
    }
    b
}

fn array<'a>(v: &'a Value, key: &str) -> impl Iterator<Item = &'a Value> {
    v.get(key).and_then(Value::as_array).into_iter().flatten()
}
