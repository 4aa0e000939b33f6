//! Key facts of a list of FHIR resources (ours, or the entries of Microsoft FHIR-Converter's
//! Bundle), and their comparison by meaning.
//!
//! # What is compared
//!
//! * The count of each resource type (`count.<Type>`), except `Medication`: Microsoft puts a
//!   drug on a separate Medication resource that the statement references, Salus puts it in
//!   `medicationCodeableConcept`. The reference is resolved (below), so the drug is compared
//!   where it means something; a count of Medication resources would only compare the two
//!   representations.
//! * Per resource, key fields, after pairing the resources of one type across the two lists by
//!   a natural key, never by id (ids differ by design):
//!
//! | Type | Paired by | Key fields |
//! |---|---|---|
//! | Patient | (the one patient) | identifier (system\|value), name.family, name.given, birthDate, gender, address.line/city/state/postalCode, telecom, race, ethnicity (OMB category codes) |
//! | Practitioner | identifier (system\|value), else name | name.family, name.given |
//! | Organization | identifier, else name | name |
//! | Condition | code | code, clinicalStatus, verificationStatus, category, onset, abatement |
//! | AllergyIntolerance | substance (`code`, else the first `reaction.substance`) | code, clinicalStatus, manifestation, severity, onset |
//! | MedicationStatement, MedicationRequest, MedicationAdministration | medication code (a `medicationReference` is resolved to the Medication's code) | medication, status, effective (effective start or authoredOn), dose (value unit), route |
//! | Observation | code (+ day of effective when several share a code) | code, value, status, effective, category, interpretation |
//! | Immunization | vaccineCode + day of occurrence | vaccineCode, occurrence, status, lotNumber |
//! | Procedure | code | code, status, performed (start) |
//! | Encounter | identifier, else type code | class, status, period.start, period.end, type |
//! | DiagnosticReport | code | code, status, effective (start), result count |
//! | FamilyMemberHistory | relationship code | relationship, condition (codes) |
//! | Goal | description code | description |
//! | DocumentReference | type code | type |
//!
//! A resource one side has and the other has not is one comparison (`…only-ours` or
//! `…only-theirs`), which disagrees. A field one side has and the other has not disagrees; a field neither has is not
//! counted.
//!
//! # How values are compared
//!
//! * **Codes** by (system, code) of a coding. A concept agrees when the primary (first) coding
//!   of either side is among the other side's codings, so a translation on one side matching
//!   the code on the other agrees, but two concepts that only share a third coding do not.
//!   Systems are compared after one normalization: `urn:oid:<OID>` is read as the URI the
//!   crate's own code-system table gives that OID (`urn:oid:2.16.840.1.113883.6.1` is
//!   `http://loinc.org`): the same code system, named two ways. A coding without a system
//!   does not match one with a system. Lists of concepts (categories, manifestations) agree
//!   when they have the same number of concepts and each of ours agrees with a different one
//!   of theirs.
//! * **Times** (date, dateTime, instant):
//!   1. the same text agrees;
//!   2. both with a time of day and a zone: the same instant agrees (`10:00-05:00` is
//!      `15:00Z`);
//!   3. the same precision: the same digits as written agree;
//!   4. different precisions agree only when the more precise value adds nothing: its digits
//!      begin with the other's and the rest are zeros of a time of day (midnight), i.e. a date
//!      padded to `T00:00:00±zone`. Ours `2014-10-01` and theirs `2014-10-01T00:00:00-05:00`
//!      agree (the source said the day; the padding is no information). Ours `2014-10-01`
//!      and theirs `2014-10-01T09:30:00-05:00` disagree (one side has a time the other has
//!      not: either we lost it or they invented the zone, which the differences file says).
//!      A year or month never agrees with a day, nor a day with a day plus a non-midnight
//!      time. Fractions of a second are not compared.
//! * **Quantities** as `value unit` with the number written canonically (`13.20` is `13.2`),
//!   the unit being `unit`, else `code`. Integers, strings and booleans as text.
//! * Statuses and other codes (`status`, `gender`) as text.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde_json::Value;

/// One key field's value.
#[derive(Debug, Clone, PartialEq)]
pub enum Val {
    /// One or more concepts, each its codings as `system|code`, the primary one first.
    Concepts(Vec<Vec<String>>),
    /// Times (date, dateTime or instant as written).
    Times(Vec<String>),
    /// Anything else, as text.
    Texts(BTreeSet<String>),
}

/// The key fields of one resource.
pub type Fields = BTreeMap<String, Val>;

/// One resource reduced to what is compared.
#[derive(Debug, Clone)]
pub struct Item {
    pub kind: String,
    /// What pairs it with a resource on the other side (codings, identifiers, a name): any
    /// value in common pairs.
    pub key: Vec<String>,
    /// The label part naming it (`8302-2`, `patient`).
    pub label: String,
    /// The day it happened, to tell apart resources sharing a key.
    pub when: Option<String>,
    pub fields: Fields,
}

/// What one list of resources says.
#[derive(Debug, Default)]
pub struct Facts {
    pub counts: BTreeMap<String, usize>,
    pub items: Vec<Item>,
}

/// One comparison.
#[derive(Debug, Clone)]
pub struct Comparison {
    /// `count.Observation`, `Patient[patient].birthDate`, `Observation[8867-4].only-theirs` …
    pub field: String,
    pub ours: String,
    pub theirs: String,
    pub agree: bool,
}

/// A code system named by OID, as the URI the crate names it by.
fn system(s: &str) -> String {
    match s.strip_prefix("urn:oid:") {
        Some(oid) => salus_ccda_fhir::codes::system_uri(oid),
        None => s.to_string(),
    }
}

/// A number written canonically.
fn number(s: &str) -> String {
    match s.parse::<f64>() {
        Ok(f) => format!("{f}"),
        Err(_) => s.to_string(),
    }
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Value::Number(n) => Some(number(&n.to_string())),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A CodeableConcept (or a Coding) as `system|code` strings, the first coding first.
fn concept(cc: &Value) -> Option<Vec<String>> {
    let one = |c: &Value| -> Option<String> {
        let code = c["code"].as_str()?.trim();
        if code.is_empty() {
            return None;
        }
        Some(format!(
            "{}|{code}",
            c["system"].as_str().map(system).unwrap_or_default()
        ))
    };
    let codes: Vec<String> = match cc.get("coding").and_then(Value::as_array) {
        Some(list) => list.iter().filter_map(one).collect(),
        None => one(cc).into_iter().collect(),
    };
    (!codes.is_empty()).then_some(codes)
}

fn concepts<'a>(list: impl IntoIterator<Item = &'a Value>) -> Option<Val> {
    let all: Vec<Vec<String>> = list.into_iter().filter_map(concept).collect();
    (!all.is_empty()).then_some(Val::Concepts(all))
}

fn array(v: &Value) -> impl Iterator<Item = &Value> {
    v.as_array().into_iter().flatten()
}

fn put(f: &mut Fields, name: &str, v: Option<Val>) {
    if let Some(v) = v {
        f.insert(name.to_string(), v);
    }
}

fn put_concept(f: &mut Fields, name: &str, cc: &Value) {
    put(f, name, concept(cc).map(|c| Val::Concepts(vec![c])));
}

fn put_text(f: &mut Fields, name: &str, v: &Value) {
    put(f, name, text(v).map(|t| Val::Texts(BTreeSet::from([t]))));
}

fn texts(values: impl IntoIterator<Item = String>) -> Option<Val> {
    let set: BTreeSet<String> = values
        .into_iter()
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
        .collect();
    (!set.is_empty()).then_some(Val::Texts(set))
}

fn put_time(f: &mut Fields, name: &str, t: Option<&str>) {
    if let Some(t) = t.filter(|t| !t.is_empty()) {
        f.insert(name.to_string(), Val::Times(vec![t.to_string()]));
    }
}

/// The first of `<prefix>DateTime`, `<prefix>Period.start`, `<prefix>Instant` (a resource has
/// one of them at most).
fn start<'a>(r: &'a Value, prefix: &str) -> Option<&'a str> {
    r[format!("{prefix}DateTime")]
        .as_str()
        .or_else(|| r[format!("{prefix}Period")]["start"].as_str())
        .or_else(|| r[format!("{prefix}Instant")].as_str())
}

fn quantity(q: &Value) -> Option<String> {
    let value = q["value"].as_number().map(|n| number(&n.to_string()))?;
    let unit = q["unit"]
        .as_str()
        .or_else(|| q["code"].as_str())
        .unwrap_or("")
        .trim();
    Some(format!("{value} {unit}").trim().to_string())
}

fn value_of(r: &Value) -> Option<Val> {
    if let Some(q) = r.get("valueQuantity") {
        return texts(quantity(q));
    }
    if let Some(cc) = r.get("valueCodeableConcept") {
        return concepts([cc]).or_else(|| texts(cc["text"].as_str().map(str::to_string)));
    }
    for k in ["valueInteger", "valueString", "valueBoolean"] {
        if let Some(v) = r.get(k) {
            return texts(text(v));
        }
    }
    if let Some(t) = r.get("valueDateTime").and_then(Value::as_str) {
        return Some(Val::Times(vec![t.to_string()]));
    }
    if let Some(p) = r.get("valuePeriod") {
        let low = p["start"].as_str().unwrap_or("");
        let high = p["end"].as_str().unwrap_or("");
        return texts([format!("{low}..{high}")]);
    }
    if let Some(q) = r.get("valueRange") {
        let low = quantity(&q["low"]).unwrap_or_default();
        let high = quantity(&q["high"]).unwrap_or_default();
        return texts([format!("{low}..{high}")]);
    }
    if let Some(q) = r.get("valueRatio") {
        let n = quantity(&q["numerator"]).unwrap_or_default();
        let d = quantity(&q["denominator"]).unwrap_or_default();
        return texts([format!("{n}/{d}")]);
    }
    None
}

fn identifiers(r: &Value) -> Vec<String> {
    array(&r["identifier"])
        .filter_map(|i| {
            let value = i["value"].as_str()?.trim();
            Some(format!(
                "{}|{value}",
                i["system"].as_str().map(system).unwrap_or_default()
            ))
        })
        .collect()
}

fn names(r: &Value, f: &mut Fields) {
    let names: Vec<&Value> = array(&r["name"]).collect();
    put(
        f,
        "name.family",
        texts(
            names
                .iter()
                .filter_map(|n| n["family"].as_str().map(str::to_string)),
        ),
    );
    put(
        f,
        "name.given",
        texts(
            names
                .iter()
                .flat_map(|n| array(&n["given"]))
                .filter_map(|g| g.as_str().map(str::to_string)),
        ),
    );
}

/// The codes of a US Core race or ethnicity extension's `ombCategory` parts (codes only:
/// Microsoft writes them without a system).
fn omb(r: &Value, url_end: &str) -> Option<Val> {
    texts(
        array(&r["extension"])
            .filter(|e| e["url"].as_str().is_some_and(|u| u.ends_with(url_end)))
            .flat_map(|e| array(&e["extension"]))
            .filter(|e| e["url"] == "ombCategory")
            .filter_map(|e| e["valueCoding"]["code"].as_str().map(str::to_string)),
    )
}

fn first_code(key: &[String]) -> String {
    key.first()
        .map(|c| c.rsplit('|').next().unwrap_or(c).to_string())
        .unwrap_or_else(|| "-".into())
}

fn day(t: Option<&str>) -> Option<String> {
    t.map(|t| t.get(..10).unwrap_or(t).to_string())
}

/// Identifiers as pairing keys: as written, and with `urn:uuid:<OID>` (Microsoft's spelling
/// of a root-only OID id, which is not a UUID) read as `urn:oid:<OID>`. Only pairing uses
/// this; the `identifier` field compares the values as written.
fn id_keys(r: &Value) -> Vec<String> {
    let mut keys = identifiers(r);
    for k in keys.clone() {
        if let Some((system, value)) = k.split_once('|') {
            if let Some(rest) = value.strip_prefix("urn:uuid:") {
                if rest.len() != 36 {
                    keys.push(format!("{system}|urn:oid:{rest}"));
                }
            }
        }
    }
    keys
}

/// `Medication/<id>` (and `#<id>` for a contained one) → the drug's codings.
type Drugs = HashMap<String, Vec<String>>;

fn drug(r: &Value, drugs: &Drugs) -> Option<Vec<String>> {
    if let Some(c) = concept(&r["medicationCodeableConcept"]) {
        return Some(c);
    }
    let reference = r["medicationReference"]["reference"].as_str()?;
    if let Some(local) = reference.strip_prefix('#') {
        return array(&r["contained"])
            .find(|c| c["id"] == local)
            .and_then(|m| concept(&m["code"]));
    }
    drugs.get(reference).cloned()
}

/// The pairing key, label, day and fields of one resource; `None` for types not compared.
fn describe(r: &Value, drugs: &Drugs) -> Option<Item> {
    let kind = r["resourceType"].as_str()?.to_string();
    let mut f = Fields::new();
    let mut when = None;
    let key: Vec<String> = match kind.as_str() {
        "Patient" => {
            put(&mut f, "identifier", texts(identifiers(r)));
            names(r, &mut f);
            put_time(&mut f, "birthDate", r["birthDate"].as_str());
            put_text(&mut f, "gender", &r["gender"]);
            let addresses: Vec<&Value> = array(&r["address"]).collect();
            put(
                &mut f,
                "address.line",
                texts(
                    addresses
                        .iter()
                        .flat_map(|a| array(&a["line"]))
                        .filter_map(|l| l.as_str().map(str::to_string)),
                ),
            );
            for part in ["city", "state", "postalCode"] {
                put(
                    &mut f,
                    &format!("address.{part}"),
                    texts(
                        addresses
                            .iter()
                            .filter_map(|a| a[part].as_str().map(str::to_string)),
                    ),
                );
            }
            put(
                &mut f,
                "telecom",
                texts(array(&r["telecom"]).filter_map(|t| t["value"].as_str().map(str::to_string))),
            );
            put(&mut f, "race", omb(r, "us-core-race"));
            put(&mut f, "ethnicity", omb(r, "us-core-ethnicity"));
            vec!["patient".into()]
        }
        "Practitioner" => {
            names(r, &mut f);
            // Identifiers, and the name: Microsoft writes a root-only OID id as `urn:uuid:<OID>`,
            // so an identifier alone would not pair them.
            let mut key = id_keys(r);
            key.extend(array(&r["name"]).filter_map(|n| {
                let given: Vec<&str> = array(&n["given"]).filter_map(Value::as_str).collect();
                Some(
                    format!("name|{} {}", given.join(" "), n["family"].as_str()?)
                        .trim()
                        .to_string(),
                )
            }));
            key
        }
        "Organization" => {
            put_text(&mut f, "name", &r["name"]);
            let mut key = id_keys(r);
            key.extend(r["name"].as_str().map(|n| format!("name|{}", n.trim())));
            key
        }
        "Condition" => {
            put_concept(&mut f, "code", &r["code"]);
            put_concept(&mut f, "clinicalStatus", &r["clinicalStatus"]);
            put_concept(&mut f, "verificationStatus", &r["verificationStatus"]);
            put(&mut f, "category", concepts(array(&r["category"])));
            put_time(&mut f, "onset", start(r, "onset"));
            put_time(&mut f, "abatement", start(r, "abatement"));
            when = day(start(r, "onset"));
            concept(&r["code"]).unwrap_or_default()
        }
        "AllergyIntolerance" => {
            let substance = concept(&r["code"])
                .or_else(|| array(&r["reaction"]).find_map(|x| concept(&x["substance"])));
            put(
                &mut f,
                "code",
                substance.clone().map(|s| Val::Concepts(vec![s])),
            );
            put_concept(&mut f, "clinicalStatus", &r["clinicalStatus"]);
            put(
                &mut f,
                "manifestation",
                concepts(array(&r["reaction"]).flat_map(|x| array(&x["manifestation"]))),
            );
            put(
                &mut f,
                "severity",
                texts(array(&r["reaction"]).filter_map(|x| text(&x["severity"]))),
            );
            put_time(&mut f, "onset", start(r, "onset"));
            when = day(start(r, "onset"));
            substance.unwrap_or_default()
        }
        "MedicationStatement" | "MedicationRequest" | "MedicationAdministration" => {
            let med = drug(r, drugs);
            put(
                &mut f,
                "medication",
                med.clone().map(|m| Val::Concepts(vec![m])),
            );
            put_text(&mut f, "status", &r["status"]);
            let effective = start(r, "effective").or_else(|| r["authoredOn"].as_str());
            put_time(&mut f, "effective", effective);
            when = day(effective);
            // MedicationAdministration.dosage is one object, the others a list.
            let dosage = match &r["dosage"] {
                Value::Array(list) => list.first().cloned().unwrap_or(Value::Null),
                other => other.clone(),
            };
            let dosage = if dosage.is_null() {
                array(&r["dosageInstruction"])
                    .next()
                    .cloned()
                    .unwrap_or(Value::Null)
            } else {
                dosage
            };
            let dose = dosage
                .get("dose")
                .or_else(|| dosage["doseAndRate"][0].get("doseQuantity"))
                .and_then(quantity);
            put(&mut f, "dose", texts(dose));
            put_concept(&mut f, "route", &dosage["route"]);
            med.unwrap_or_default()
        }
        "Observation" => {
            put_concept(&mut f, "code", &r["code"]);
            put(&mut f, "value", value_of(r));
            put_text(&mut f, "status", &r["status"]);
            put_time(&mut f, "effective", start(r, "effective"));
            put(&mut f, "category", concepts(array(&r["category"])));
            put(
                &mut f,
                "interpretation",
                concepts(array(&r["interpretation"])),
            );
            when = day(start(r, "effective"));
            concept(&r["code"]).unwrap_or_default()
        }
        "Immunization" => {
            put_concept(&mut f, "vaccineCode", &r["vaccineCode"]);
            put_time(&mut f, "occurrence", r["occurrenceDateTime"].as_str());
            put_text(&mut f, "status", &r["status"]);
            put_text(&mut f, "lotNumber", &r["lotNumber"]);
            when = day(r["occurrenceDateTime"].as_str());
            concept(&r["vaccineCode"]).unwrap_or_default()
        }
        "Procedure" => {
            put_concept(&mut f, "code", &r["code"]);
            put_text(&mut f, "status", &r["status"]);
            put_time(&mut f, "performed", start(r, "performed"));
            when = day(start(r, "performed"));
            concept(&r["code"]).unwrap_or_default()
        }
        "Encounter" => {
            put_concept(&mut f, "class", &r["class"]);
            put_text(&mut f, "status", &r["status"]);
            put_time(&mut f, "period.start", r["period"]["start"].as_str());
            put_time(&mut f, "period.end", r["period"]["end"].as_str());
            put(&mut f, "type", concepts(array(&r["type"])));
            when = day(r["period"]["start"].as_str());
            let mut key = id_keys(r);
            key.extend(array(&r["type"]).filter_map(concept).flatten());
            key
        }
        "DiagnosticReport" => {
            put_concept(&mut f, "code", &r["code"]);
            put_text(&mut f, "status", &r["status"]);
            put_time(&mut f, "effective", start(r, "effective"));
            let results = array(&r["result"]).count();
            put(
                &mut f,
                "result.count",
                (results > 0).then(|| Val::Texts(BTreeSet::from([results.to_string()]))),
            );
            when = day(start(r, "effective"));
            concept(&r["code"]).unwrap_or_default()
        }
        "FamilyMemberHistory" => {
            put_concept(&mut f, "relationship", &r["relationship"]);
            put(
                &mut f,
                "condition",
                concepts(array(&r["condition"]).map(|c| &c["code"])),
            );
            concept(&r["relationship"]).unwrap_or_default()
        }
        "Goal" => {
            put_concept(&mut f, "description", &r["description"]);
            concept(&r["description"]).unwrap_or_default()
        }
        "DocumentReference" => {
            put_concept(&mut f, "type", &r["type"]);
            concept(&r["type"]).unwrap_or_else(|| vec!["(no type)".into()])
        }
        _ => return None,
    };
    let label = match kind.as_str() {
        "Patient" => "patient".to_string(),
        // By name when there is one, else by the first identifier's value.
        "Practitioner" | "Organization" | "Encounter" => key
            .iter()
            .find(|k| k.starts_with("name|"))
            .or(key.first())
            .map(|k| k.rsplit('|').next().unwrap_or(k).to_string())
            .unwrap_or_else(|| "-".into()),
        _ => first_code(&key),
    };
    Some(Item {
        kind,
        key,
        label,
        when,
        fields: f,
    })
}

/// The facts of a list of resources.
pub fn facts(resources: &[Value]) -> Facts {
    let mut drugs = Drugs::new();
    for r in resources {
        if r["resourceType"] == "Medication" {
            if let (Some(id), Some(code)) = (r["id"].as_str(), concept(&r["code"])) {
                drugs.insert(format!("Medication/{id}"), code);
            }
        }
    }
    let mut out = Facts::default();
    for r in resources {
        let Some(kind) = r["resourceType"].as_str() else {
            continue;
        };
        if kind != "Medication" {
            *out.counts.entry(kind.to_string()).or_insert(0) += 1;
        }
        out.items.extend(describe(r, &drugs));
    }
    out
}

/// `(local digits, zone offset in seconds)` of a FHIR time; the fraction of a second dropped.
fn parse_time(s: &str) -> (String, Option<i64>) {
    let (body, zone) = if let Some(b) = s.strip_suffix('Z') {
        (b, Some(0))
    } else if let Some(at) = s.get(10..).and_then(|t| t.rfind(['+', '-'])) {
        let at = at + 10;
        let z = &s[at..];
        let sign = if z.starts_with('-') { -1 } else { 1 };
        let h: i64 = z.get(1..3).and_then(|x| x.parse().ok()).unwrap_or(0);
        let m: i64 = z.get(4..6).and_then(|x| x.parse().ok()).unwrap_or(0);
        (&s[..at], Some(sign * (h * 3600 + m * 60)))
    } else {
        (s, None)
    };
    let body = body.split('.').next().unwrap_or(body);
    (body.chars().filter(char::is_ascii_digit).collect(), zone)
}

fn epoch(digits: &str, offset: i64) -> Option<i64> {
    let n = |r: std::ops::Range<usize>| -> Option<i64> { digits.get(r)?.parse().ok() };
    let (y, m, d) = (n(0..4)?, n(4..6)?, n(6..8)?);
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * ((m + 9) % 12) + 2) / 5 + d - 1;
    let days = era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468;
    let secs = days * 86_400 + n(8..10)? * 3600 + n(10..12)? * 60 + n(12..14).unwrap_or(0);
    Some(secs - offset)
}

/// Two times by meaning: see the module documentation for the rule.
pub fn same_time(a: &str, b: &str) -> bool {
    if a == b {
        return true;
    }
    let ((da, za), (db, zb)) = (parse_time(a), parse_time(b));
    if da.len() > 8 && db.len() > 8 {
        if let (Some(za), Some(zb)) = (za, zb) {
            return epoch(&da, za).is_some() && epoch(&da, za) == epoch(&db, zb);
        }
    }
    if da.len() == db.len() {
        return da == db;
    }
    let (short, long) = if da.len() < db.len() {
        (&da, &db)
    } else {
        (&db, &da)
    };
    short.len() == 8 && long.starts_with(short.as_str()) && long[8..].bytes().all(|c| c == b'0')
}

fn concept_agrees(a: &[String], b: &[String]) -> bool {
    a.first().is_some_and(|p| b.contains(p)) || b.first().is_some_and(|p| a.contains(p))
}

/// Whether every item of `a` pairs with a different item of `b` (same length).
fn matched<T>(a: &[T], b: &[T], eq: impl Fn(&T, &T) -> bool) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut used = vec![false; b.len()];
    a.iter()
        .all(|x| match (0..b.len()).find(|&i| !used[i] && eq(x, &b[i])) {
            Some(i) => {
                used[i] = true;
                true
            }
            None => false,
        })
}

pub fn agrees(a: &Val, b: &Val) -> bool {
    match (a, b) {
        (Val::Concepts(x), Val::Concepts(y)) => matched(x, y, |p, q| concept_agrees(p, q)),
        (Val::Times(x), Val::Times(y)) => matched(x, y, |p, q| same_time(p, q)),
        (Val::Texts(x), Val::Texts(y)) => x == y,
        _ => false,
    }
}

fn show(v: Option<&Val>) -> String {
    match v {
        None => "(none)".into(),
        Some(Val::Concepts(c)) => c
            .iter()
            .map(|c| c.join(" + "))
            .collect::<Vec<_>>()
            .join(" ; "),
        Some(Val::Times(t)) => t.join(" ; "),
        Some(Val::Texts(t)) => t.iter().cloned().collect::<Vec<_>>().join(" ; "),
    }
}

/// Pair our items of one type with theirs: first those sharing a key value and the day, then
/// those sharing a key value.
fn pair<'a>(ours: &[&'a Item], theirs: &[&'a Item]) -> Vec<(Option<&'a Item>, Option<&'a Item>)> {
    let mut taken = vec![false; theirs.len()];
    let mut partner: Vec<Option<usize>> = vec![None; ours.len()];
    // A name pairs only what no identifier paired (two organizations may share a name).
    let shares = |a: &Item, b: &Item, by_name: bool| {
        a.key
            .iter()
            .filter(|k| k.starts_with("name|") == by_name)
            .any(|k| b.key.contains(k))
    };
    for (by_name, same_day) in [(false, true), (false, false), (true, true), (true, false)] {
        for (i, a) in ours.iter().enumerate() {
            if partner[i].is_some() {
                continue;
            }
            let found = (0..theirs.len()).find(|&j| {
                !taken[j]
                    && shares(a, theirs[j], by_name)
                    && (!same_day || a.when == theirs[j].when)
            });
            if let Some(j) = found {
                taken[j] = true;
                partner[i] = Some(j);
            }
        }
    }
    let mut out: Vec<(Option<&Item>, Option<&Item>)> = ours
        .iter()
        .zip(&partner)
        .map(|(a, p)| (Some(*a), p.map(|j| theirs[j])))
        .collect();
    out.extend(
        theirs
            .iter()
            .zip(&taken)
            .filter(|(_, t)| !**t)
            .map(|(b, _)| (None, Some(*b))),
    );
    out
}

/// Compare our facts with theirs.
pub fn compare(ours: &Facts, theirs: &Facts) -> Vec<Comparison> {
    let mut out = Vec::new();
    let types: BTreeSet<&String> = ours.counts.keys().chain(theirs.counts.keys()).collect();
    for t in &types {
        let a = ours.counts.get(*t).copied().unwrap_or(0);
        let b = theirs.counts.get(*t).copied().unwrap_or(0);
        out.push(Comparison {
            field: format!("count.{t}"),
            ours: a.to_string(),
            theirs: b.to_string(),
            agree: a == b,
        });
    }
    for t in types {
        let a: Vec<&Item> = ours.items.iter().filter(|i| &i.kind == t).collect();
        let b: Vec<&Item> = theirs.items.iter().filter(|i| &i.kind == t).collect();
        let pairs = pair(&a, &b);
        // Labels: `Type[code]`, with `@day` when several pairs share the code, `#n` when that
        // is not enough.
        let base = |p: &(Option<&Item>, Option<&Item>)| {
            let item = p.0.or(p.1).expect("a pair has a side");
            item.label.clone()
        };
        let mut by_base: BTreeMap<String, usize> = BTreeMap::new();
        for p in &pairs {
            *by_base.entry(base(p)).or_insert(0) += 1;
        }
        let mut used: BTreeMap<String, usize> = BTreeMap::new();
        for p in &pairs {
            let mut label = base(p);
            if by_base[&label] > 1 {
                let when =
                    p.0.and_then(|i| i.when.clone())
                        .or_else(|| p.1.and_then(|i| i.when.clone()));
                label = format!("{label}@{}", when.unwrap_or_else(|| "-".into()));
            }
            let n = used.entry(label.clone()).or_insert(0);
            *n += 1;
            if *n > 1 {
                label = format!("{label}#{n}");
            }
            let name = format!("{t}[{label}]");
            match p {
                (Some(x), Some(y)) => {
                    let fields: BTreeSet<&String> =
                        x.fields.keys().chain(y.fields.keys()).collect();
                    for field in fields {
                        let (u, v) = (x.fields.get(field), y.fields.get(field));
                        let agree = matches!((u, v), (Some(u), Some(v)) if agrees(u, v));
                        out.push(Comparison {
                            field: format!("{name}.{field}"),
                            ours: show(u),
                            theirs: show(v),
                            agree,
                        });
                    }
                }
                (x, y) => out.push(Comparison {
                    // Which side has it is in the name, so that an explanation of one
                    // direction does not cover the other.
                    field: format!(
                        "{name}.{}",
                        if x.is_some() {
                            "only-ours"
                        } else {
                            "only-theirs"
                        }
                    ),
                    ours: if x.is_some() { "present" } else { "absent" }.into(),
                    theirs: if y.is_some() { "present" } else { "absent" }.into(),
                    agree: false,
                }),
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_by_meaning() {
        // The same instant in two zones.
        assert!(same_time(
            "2014-10-06T06:27:00+07:00",
            "2014-10-06T04:57:00+05:30"
        ));
        assert!(!same_time(
            "2014-10-06T06:27:00+07:00",
            "2014-10-06T06:27:00+05:30"
        ));
        // A day padded to midnight adds nothing.
        assert!(same_time("2014-10-01", "2014-10-01T00:00:00-05:00"));
        // A time of day the other side has not is a difference.
        assert!(!same_time("2014-10-01", "2014-10-01T09:30:00-05:00"));
        assert!(!same_time("2014-10", "2014-10-01"));
        assert!(!same_time("2014-10-07", "2014-10-06"));
        assert!(same_time(
            "2014-10-06T06:27:00.000Z",
            "2014-10-06T06:27:00Z"
        ));
    }

    #[test]
    fn concepts_by_primary_code() {
        let ours = vec![
            "http://snomed.info/sct|1".to_string(),
            "http://x|2".to_string(),
        ];
        let theirs = vec!["http://x|2".to_string()];
        assert!(concept_agrees(&ours, &theirs));
        let other = vec!["http://y|3".to_string(), "http://x|2".to_string()];
        assert!(!concept_agrees(&ours, &other));
        assert_eq!(system("urn:oid:2.16.840.1.113883.6.1"), "http://loinc.org");
    }
}
