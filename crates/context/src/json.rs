//! Reading the few FHIR R4 elements summaries need from resources as JSON.

use chrono::{DateTime, Utc};
use serde_json::Value;

/// A CodeableConcept's words: its `text`, else the first coding's `display`, else the first
/// coding's `code`.
pub fn concept_text(concept: &Value) -> Option<String> {
    if let Some(text) = concept.get("text").and_then(Value::as_str) {
        if !text.trim().is_empty() {
            return Some(text.trim().to_owned());
        }
    }
    let codings = concept.get("coding")?.as_array()?;
    codings
        .iter()
        .find_map(|c| c.get("display").and_then(Value::as_str))
        .or_else(|| {
            codings
                .iter()
                .find_map(|c| c.get("code").and_then(Value::as_str))
        })
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
}

/// The `(system, code)` pairs of a CodeableConcept.
pub fn codings(concept: &Value) -> impl Iterator<Item = (&str, &str)> {
    concept
        .get("coding")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|c| {
            Some((
                c.get("system").and_then(Value::as_str).unwrap_or_default(),
                c.get("code").and_then(Value::as_str)?,
            ))
        })
}

/// Whether a CodeableConcept carries `code` in `system`.
pub fn has_coding(concept: &Value, system: &str, code: &str) -> bool {
    codings(concept).any(|(s, c)| s == system && c == code)
}

/// The first coding code of a CodeableConcept, in any system.
pub fn first_code(concept: &Value) -> Option<&str> {
    codings(concept).next().map(|(_, c)| c)
}

/// A string element.
pub fn str_at<'a>(value: &'a Value, key: &str) -> Option<&'a str> {
    value.get(key).and_then(Value::as_str)
}

/// The `Type/id` of a resource.
pub fn reference_of(resource: &Value) -> Option<String> {
    Some(format!(
        "{}/{}",
        str_at(resource, "resourceType")?,
        str_at(resource, "id")?
    ))
}

/// Whether any CodeableConcept in the array `key` carries `code` (any system).
pub fn category_has(resource: &Value, key: &str, code: &str) -> bool {
    resource
        .get(key)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .any(|c| codings(c).any(|(_, c)| c == code))
}

/// The clinically meaningful date of a resource, as written: when it happened or was found,
/// not when it was stored.
pub fn clinical_date(resource: &Value) -> Option<&str> {
    const DIRECT: &[&str] = &[
        "effectiveDateTime",
        "effectiveInstant",
        "onsetDateTime",
        "performedDateTime",
        "occurrenceDateTime",
        "authoredOn",
        "recordedDate",
        "recorded",
        "issued",
        "dateAsserted",
        "date",
        "created",
    ];
    const PERIODS: &[&str] = &[
        "effectivePeriod",
        "onsetPeriod",
        "performedPeriod",
        "occurrencePeriod",
        "period",
    ];
    for key in DIRECT {
        if let Some(s) = str_at(resource, key) {
            return Some(s);
        }
    }
    for key in PERIODS {
        if let Some(s) = resource.get(*key).and_then(|p| str_at(p, "start")) {
            return Some(s);
        }
    }
    None
}

/// A FHIR date, dateTime or instant as an instant (the start of its range).
pub fn instant(text: &str) -> Option<DateTime<Utc>> {
    let range = salus_fhir::date::parse_range(text)?;
    DateTime::from_timestamp_micros(range.lo)
}

/// A resource's clinical date as an instant.
pub fn clinical_instant(resource: &Value) -> Option<DateTime<Utc>> {
    clinical_date(resource).and_then(instant)
}

/// A number from `valueQuantity.value` or `valueInteger` (or `valueDecimal`).
pub fn numeric_value(observation: &Value) -> Option<f64> {
    if let Some(q) = observation.get("valueQuantity") {
        return q.get("value").and_then(number);
    }
    observation
        .get("valueInteger")
        .or_else(|| observation.get("valueDecimal"))
        .and_then(number)
}

fn number(value: &Value) -> Option<f64> {
    value
        .as_f64()
        .or_else(|| value.as_str().and_then(|s| s.parse().ok()))
}

/// A number as a person writes it: no trailing `.0`.
pub fn format_number(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        let s = format!("{n:.3}");
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    }
}

/// A Quantity as `value unit`.
pub fn quantity_text(q: &Value) -> Option<String> {
    let value = q.get("value").and_then(number)?;
    let unit = str_at(q, "unit").or_else(|| str_at(q, "code"));
    Some(match unit {
        Some(u) if !u.is_empty() && u != "1" && u != "{score}" => {
            format!("{} {u}", format_number(value))
        }
        _ => format_number(value),
    })
}

/// An Observation's value in words: a quantity, a concept, a string, a boolean, an integer.
pub fn value_text(observation: &Value) -> Option<String> {
    if let Some(q) = observation.get("valueQuantity") {
        return quantity_text(q);
    }
    if let Some(c) = observation.get("valueCodeableConcept") {
        return concept_text(c);
    }
    if let Some(s) = str_at(observation, "valueString") {
        return Some(s.trim().to_owned());
    }
    if let Some(b) = observation.get("valueBoolean").and_then(Value::as_bool) {
        return Some(if b { "yes" } else { "no" }.to_owned());
    }
    if let Some(n) = observation.get("valueInteger").and_then(number) {
        return Some(format_number(n));
    }
    None
}

/// The first code of a status-like CodeableConcept (`clinicalStatus`, `verificationStatus`).
pub fn status_code<'a>(resource: &'a Value, key: &str) -> Option<&'a str> {
    resource.get(key).and_then(first_code)
}

/// The display of a Reference, or `None`.
pub fn reference_display(reference: &Value) -> Option<&str> {
    str_at(reference, "display").filter(|s| !s.trim().is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn concept_text_prefers_text_then_display_then_code() {
        assert_eq!(
            concept_text(&json!({"text": "Depression", "coding": [{"display": "x"}]})).as_deref(),
            Some("Depression")
        );
        assert_eq!(
            concept_text(&json!({"coding": [{"code": "1"}, {"display": "Shown"}]})).as_deref(),
            Some("Shown")
        );
        assert_eq!(
            concept_text(&json!({"coding": [{"code": "F32.9"}]})).as_deref(),
            Some("F32.9")
        );
        assert_eq!(concept_text(&json!({})), None);
    }

    #[test]
    fn numbers_read_and_print_plainly() {
        assert_eq!(
            numeric_value(&json!({"valueQuantity": {"value": 12}})),
            Some(12.0)
        );
        assert_eq!(numeric_value(&json!({"valueInteger": 3})), Some(3.0));
        assert_eq!(format_number(12.0), "12");
        assert_eq!(format_number(36.65), "36.65");
        assert_eq!(
            quantity_text(&json!({"value": 72.5, "unit": "kg"})).as_deref(),
            Some("72.5 kg")
        );
    }

    #[test]
    fn clinical_date_takes_the_event_not_the_storage_time() {
        let obs = json!({"effectiveDateTime": "2024-05-01", "meta": {"lastUpdated": "2026-01-01"}});
        assert_eq!(clinical_date(&obs), Some("2024-05-01"));
        let enc = json!({"period": {"start": "2023-01-02T10:00:00Z"}});
        assert_eq!(clinical_date(&enc), Some("2023-01-02T10:00:00Z"));
    }
}
