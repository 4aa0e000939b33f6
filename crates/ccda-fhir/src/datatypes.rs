//! HL7 v3 data types to FHIR data types.
//!
//! | v3 | FHIR | Notes |
//! |---|---|---|
//! | II | Identifier | `root` + `extension` → system (OID table) + value; `root` alone → `urn:ietf:rfc:3986` + `urn:oid:…`/`urn:uuid:…`; `nullFlavor="MSK"` → value absent with data-absent-reason `masked` |
//! | CD, CE, CV, CO | CodeableConcept | the code and every `translation` as codings, `originalText` (text or a `<reference>` to narrative) as `text`; a `nullFlavor` code with no translation or text is absent |
//! | TS | date / dateTime / instant | precision as written; a time without a zone is kept to the day unless the options name the sender's offset |
//! | IVL_TS | Period | `low`/`high`, or `value`/`center` as start |
//! | PQ | Quantity | value digits kept, UCUM unit as `code` |
//! | PN | HumanName | `use` L→official, P→nickname, C→old… |
//! | AD | Address | `use` HP/H→home, WP→work, TMP→temp, OLD/BAD→old |
//! | TEL | ContactPoint | `tel:`, `fax:`, `mailto:`, `http(s):` |

use roxmltree::Node;
use serde_json::{json, Map, Value};

use crate::codes::system_uri;
use crate::ctx::Ctx;
use crate::xml::El;

/// The data-absent-reason extension URL.
pub const DATA_ABSENT: &str = "http://hl7.org/fhir/StructureDefinition/data-absent-reason";

/// Which FHIR time type an element takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeKind {
    Date,
    DateTime,
    Instant,
}

impl<'a, 'i> Ctx<'a, 'i> {
    /// An II as an Identifier. `None` for a nullFlavor id (other than a masked one) or one
    /// without a root.
    pub fn identifier(&self, ii: Node) -> Option<Value> {
        let root = ii.attr("root");
        let ext = ii.attr("extension");
        if let Some(nf) = ii.null_flavor() {
            // A masked identifier (a masked SSN): the system is known, the value withheld.
            if nf == "MSK" {
                let root = root?;
                return Some(json!({
                    "system": system_uri(root),
                    "_value": {"extension": [{"url": DATA_ABSENT, "valueCode": "masked"}]}
                }));
            }
            return None;
        }
        let root = root?;
        Some(match ext {
            Some(ext) => json!({"system": system_uri(root), "value": ext}),
            None => {
                let value = if crate::codes::is_uuid(root) {
                    format!("urn:uuid:{}", root.to_ascii_lowercase())
                } else {
                    format!("urn:oid:{root}")
                };
                json!({"system": "urn:ietf:rfc:3986", "value": value})
            }
        })
    }

    /// Every usable `id` child of a node as Identifiers.
    pub fn identifiers(&self, node: Node) -> Vec<Value> {
        node.children_named("id")
            .filter_map(|id| self.identifier(id))
            .collect()
    }

    /// A CD/CE as a Coding (the code itself only, no translations).
    pub fn coding(&self, cd: Node) -> Option<Value> {
        if cd.null_flavor().is_some() && cd.attr("code").is_none() {
            return None;
        }
        let code = cd.attr("code")?;
        let mut coding = Map::new();
        if let Some(system) = cd.attr("codeSystem") {
            coding.insert("system".into(), json!(system_uri(system)));
        }
        coding.insert("code".into(), json!(code));
        if let Some(display) = cd.attr("displayName") {
            coding.insert("display".into(), json!(display));
        }
        Some(Value::Object(coding))
    }

    /// A CD/CE as a CodeableConcept: the code, its translations, and its original text.
    pub fn concept(&self, cd: Node) -> Option<Value> {
        let mut codings: Vec<Value> = Vec::new();
        if let Some(c) = self.coding(cd) {
            codings.push(c);
        }
        for t in cd.children_named("translation") {
            if let Some(c) = self.coding(t) {
                if !codings.contains(&c) {
                    codings.push(c);
                }
            }
        }
        let text = cd.child("originalText").and_then(|t| self.text_of(t));
        if codings.is_empty() && text.is_none() {
            return None;
        }
        let mut out = Map::new();
        put_array(&mut out, "coding", codings);
        if let Some(text) = text {
            out.insert("text".into(), json!(text));
        }
        Some(Value::Object(out))
    }

    /// The FHIR time of a TS element's `value`. A bad value is a warning and `None`.
    pub fn time(&mut self, ts: Node, kind: TimeKind) -> Option<String> {
        let value = ts.attr("value")?;
        let parsed = match salus_hl7v2_fhir::ts::parse(value) {
            Ok(t) => t,
            Err(why) => {
                self.warn(ts, format!("the time is not an HL7 TS ({why}); left out"));
                return None;
            }
        };
        let offset = self.options.assume_offset_minutes;
        match kind {
            TimeKind::Date => Some(parsed.date()),
            TimeKind::DateTime => match parsed.date_time(offset) {
                Ok(t) => Some(t),
                Err(day) => {
                    self.warn(
                        ts,
                        "the time has no time zone; kept to the day (FHIR requires a zone with a time)",
                    );
                    Some(day)
                }
            },
            TimeKind::Instant => parsed.instant(offset),
        }
    }

    /// An IVL_TS (or a TS) as a Period: `low`/`high`; a `value` or `center` is the start.
    pub fn period(&mut self, ivl: Node) -> Option<Value> {
        let mut out = Map::new();
        if let Some(low) = ivl.child("low") {
            if let Some(t) = self.time(low, TimeKind::DateTime) {
                out.insert("start".into(), json!(t));
            }
        }
        if !out.contains_key("start") {
            let point = ivl.child("center").unwrap_or(ivl);
            if let Some(t) = self.time(point, TimeKind::DateTime) {
                out.insert("start".into(), json!(t));
            }
        }
        if let Some(high) = ivl.child("high") {
            if let Some(t) = self.time(high, TimeKind::DateTime) {
                out.insert("end".into(), json!(t));
            }
        }
        (!out.is_empty()).then_some(Value::Object(out))
    }

    /// An effectiveTime as a FHIR `effective[x]`-style choice: `("DateTime", t)` for a point
    /// (`value`, or `low` alone), `("Period", p)` for an interval with an end.
    pub fn effective(&mut self, et: Node) -> Option<(&'static str, Value)> {
        if et.attr("value").is_some() && et.child("low").is_none() && et.child("high").is_none() {
            return self
                .time(et, TimeKind::DateTime)
                .map(|t| ("DateTime", json!(t)));
        }
        let period = self.period(et)?;
        if period.get("end").is_none() {
            return Some(("DateTime", period["start"].clone()));
        }
        Some(("Period", period))
    }

    /// A PQ as a Quantity. A value that is not a decimal is a warning.
    pub fn quantity(&mut self, pq: Node) -> Option<Value> {
        let mut out = Map::new();
        if let Some(v) = pq.attr("value") {
            match decimal(v) {
                Some(n) => {
                    out.insert("value".into(), n);
                }
                None => {
                    self.warn(pq, "the quantity's value is not a decimal number; left out");
                    return None;
                }
            }
        }
        if let Some(unit) = pq.attr("unit") {
            out.insert("unit".into(), json!(unit));
            if unit != "1" || out.contains_key("value") {
                out.insert("system".into(), json!("http://unitsofmeasure.org"));
                out.insert("code".into(), json!(unit));
            }
        }
        (!out.is_empty()).then_some(Value::Object(out))
    }

    /// A PN as a HumanName.
    pub fn human_name(&self, pn: Node) -> Option<Value> {
        if pn.null_flavor().is_some() && pn.children().all(|c| !c.is_element()) {
            return None;
        }
        let mut out = Map::new();
        if let Some(u) = pn.attr("use").and_then(name_use) {
            out.insert("use".into(), json!(u));
        }
        let part = |n: Node| {
            let t = n.text_content();
            (!t.is_empty()).then_some(t)
        };
        let family: Vec<String> = pn.children_named("family").filter_map(part).collect();
        if !family.is_empty() {
            out.insert("family".into(), json!(family.join(" ")));
        }
        for (element, name) in [
            ("given", "given"),
            ("prefix", "prefix"),
            ("suffix", "suffix"),
        ] {
            let parts: Vec<Value> = pn
                .children_named(element)
                .filter_map(part)
                .map(Value::from)
                .collect();
            if !parts.is_empty() {
                out.insert(name.into(), Value::Array(parts));
            }
        }
        if out.keys().all(|k| k == "use") {
            // A name written as plain text.
            let text = pn.text_content();
            if text.is_empty() {
                return None;
            }
            out.insert("text".into(), json!(text));
        }
        Some(Value::Object(out))
    }

    /// An AD as an Address.
    pub fn address(&mut self, ad: Node) -> Option<Value> {
        if ad.null_flavor().is_some() && ad.children().all(|c| !c.is_element()) {
            return None;
        }
        let mut out = Map::new();
        if let Some(u) = ad.attr("use").and_then(address_use) {
            out.insert("use".into(), json!(u));
        }
        let lines: Vec<Value> = ad
            .children_named("streetAddressLine")
            .filter(|l| l.null_flavor().is_none())
            .map(|l| l.text_content())
            .filter(|l| !l.is_empty())
            .map(Value::from)
            .collect();
        put_array(&mut out, "line", lines);
        for (element, name) in [
            ("city", "city"),
            ("county", "district"),
            ("state", "state"),
            ("postalCode", "postalCode"),
            ("country", "country"),
        ] {
            if let Some(v) = ad
                .child(element)
                .filter(|n| n.null_flavor().is_none())
                .map(|n| n.text_content())
                .filter(|t| !t.is_empty())
            {
                out.insert(name.into(), json!(v));
            }
        }
        if let Some(p) = ad.child("useablePeriod").and_then(|p| self.period(p)) {
            out.insert("period".into(), p);
        }
        if out.keys().all(|k| k == "use") {
            let text = ad.text_content();
            if text.is_empty() {
                return None;
            }
            out.insert("text".into(), json!(text));
        }
        Some(Value::Object(out))
    }

    /// A TEL as a ContactPoint.
    pub fn contact_point(&self, tel: Node) -> Option<Value> {
        if tel.null_flavor().is_some() {
            return None;
        }
        let raw = tel.attr("value")?;
        let (system, value) = match raw.split_once(':') {
            Some((scheme, rest)) => match scheme.to_ascii_lowercase().as_str() {
                "tel" => ("phone", rest),
                "fax" => ("fax", rest),
                "mailto" => ("email", rest),
                "http" | "https" => ("url", raw),
                _ => ("other", raw),
            },
            None if raw.contains('@') => ("email", raw),
            None => ("phone", raw),
        };
        let value = value.trim_start_matches('/').trim();
        if value.is_empty() {
            return None;
        }
        let mut out = Map::new();
        out.insert("system".into(), json!(system));
        out.insert("value".into(), json!(value));
        if let Some(u) = tel.attr("use").and_then(telecom_use) {
            out.insert("use".into(), json!(u));
        }
        Some(Value::Object(out))
    }

    /// Names, addresses and telecoms of a person or organization, as FHIR arrays.
    pub fn contact_parts(&mut self, holder: Node, into: &mut Map<String, Value>) {
        let names: Vec<Value> = holder
            .children_named("name")
            .filter_map(|n| self.human_name(n))
            .collect();
        let telecoms: Vec<Value> = holder
            .children_named("telecom")
            .filter_map(|t| self.contact_point(t))
            .collect();
        let addresses: Vec<Value> = holder
            .children_named("addr")
            .collect::<Vec<_>>()
            .into_iter()
            .filter_map(|a| self.address(a))
            .collect();
        put_array(into, "name", names);
        put_array(into, "telecom", telecoms);
        put_array(into, "address", addresses);
    }
}

/// Insert an array element only when it has members: FHIR forbids empty arrays.
pub fn put_array(into: &mut Map<String, Value>, key: &str, values: Vec<Value>) {
    if !values.is_empty() {
        into.insert(key.into(), Value::Array(values));
    }
}

/// A decimal literal as a JSON number with its digits as written (`.5` → `0.5`, `+1` → `1`).
pub fn decimal(text: &str) -> Option<Value> {
    let t = text.trim();
    let t = t.strip_prefix('+').unwrap_or(t);
    let fixed;
    let t = if let Some(rest) = t.strip_prefix('.') {
        fixed = format!("0.{rest}");
        fixed.as_str()
    } else if let Some(rest) = t.strip_prefix("-.") {
        fixed = format!("-0.{rest}");
        fixed.as_str()
    } else {
        t
    };
    let ok = {
        let digits = t.strip_prefix('-').unwrap_or(t);
        let (int, frac) = digits.split_once('.').unwrap_or((digits, "0"));
        !int.is_empty()
            && int.bytes().all(|b| b.is_ascii_digit())
            && !frac.is_empty()
            && frac.bytes().all(|b| b.is_ascii_digit())
    };
    if !ok {
        return None;
    }
    serde_json::from_str::<serde_json::Number>(t)
        .ok()
        .map(Value::Number)
}

/// An INT literal as a JSON integer.
pub fn integer(text: &str) -> Option<Value> {
    let t = text.trim();
    let digits = t.strip_prefix('-').unwrap_or(t);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) || digits.len() > 18 {
        return None;
    }
    t.parse::<i64>().ok().map(Value::from)
}

fn name_use(code: &str) -> Option<&'static str> {
    // Several codes may be listed; the first one FHIR knows decides.
    code.split_whitespace().find_map(|c| match c {
        "L" | "OR" => Some("official"),
        "P" | "A" => Some("nickname"),
        "C" => Some("old"),
        "ASGN" | "SRCH" | "PHON" | "SNDX" => Some("usual"),
        "ANON" => Some("anonymous"),
        "M" => Some("maiden"),
        _ => None,
    })
}

fn address_use(code: &str) -> Option<&'static str> {
    code.split_whitespace().find_map(|c| match c {
        "H" | "HP" | "HV" => Some("home"),
        "WP" | "DIR" | "PUB" => Some("work"),
        "TMP" => Some("temp"),
        "OLD" | "BAD" => Some("old"),
        _ => None,
    })
}

fn telecom_use(code: &str) -> Option<&'static str> {
    code.split_whitespace().find_map(|c| match c {
        "H" | "HP" | "HV" => Some("home"),
        "WP" | "DIR" | "PUB" => Some("work"),
        "MC" | "PG" => Some("mobile"),
        "TMP" => Some("temp"),
        "BAD" => Some("old"),
        _ => None,
    })
}

/// `administrativeGenderCode` → FHIR `gender`.
pub fn gender(code: Node) -> Option<&'static str> {
    if code.null_flavor().is_some() && code.attr("code").is_none() {
        return Some("unknown");
    }
    Some(match code.attr("code")? {
        "M" | "m" => "male",
        "F" | "f" => "female",
        "UN" | "O" => "other",
        "U" | "UNK" => "unknown",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_keep_their_digits() {
        assert_eq!(decimal("1.50").unwrap().to_string(), "1.50");
        assert_eq!(decimal(".5").unwrap().to_string(), "0.5");
        assert_eq!(decimal("+7").unwrap().to_string(), "7");
        assert_eq!(decimal("-0.25").unwrap().to_string(), "-0.25");
        assert!(decimal("1e3").is_none());
        assert!(decimal("abc").is_none());
        assert!(decimal("1.").is_none());
        assert!(decimal("").is_none());
        assert_eq!(integer("12"), Some(json!(12)));
        assert!(integer("1.2").is_none());
    }
}
