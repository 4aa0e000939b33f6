//! OBR → DiagnosticReport, OBX → Observation, SPM (or OBR-15) → Specimen.
//!
//! # OBX-5 by OBX-2 value type
//!
//! | OBX-2 | value |
//! |---|---|
//! | NM | valueQuantity (OBX-6 as UCUM when OBX-6.3 says UCUM or the unit is spelled as UCUM, else unit text); a value that is no number becomes valueString, with a warning; a repeated NM (which v2 does not allow, but senders send) becomes one component per repetition, with a warning, so no number is lost |
//! | SN | `<`/`<=`/`>`/`>=` + number → valueQuantity with comparator; `n-m` → valueRange; `n:m`, `n/m` → valueRatio; anything else valueString |
//! | ST, TX, FT | valueString, repetitions joined by a newline (FT keeps its formatting, escapes decoded) |
//! | CE, CWE, CNE, CF | valueCodeableConcept |
//! | DT | valueDateTime (date precision) |
//! | TS, DTM | valueDateTime |
//! | TM | valueTime |
//! | other (ED, RP, …) | no value, with a warning |
//!
//! Category: `laboratory` in ORU, `vital-signs` for the LOINC codes of the FHIR vital-signs
//! profiles in any message; none for other OBX outside ORU (an ADT or VXU OBX is rarely a lab
//! result).

use std::collections::HashMap;

use salus_hl7v2::{Rep, Segment};
use serde_json::{Map, Number, Value};

use crate::clinical::concept_key;
use crate::datatypes::{
    self, cwe, decimal, ei, order_identifiers, practitioner, quantity, unit, Person, Unit,
};
use crate::order;
use crate::tables;
use crate::v2::{RepExt, SegExt};
use crate::{ids, put, put_opt, Ctx, Family};

/// The report being filled (OBR until the next OBR).
#[derive(Debug, Default)]
pub(crate) struct ReportState {
    pub index: usize,
    /// The ServiceRequest the report fulfils.
    pub request: String,
    pub order_key: Vec<String>,
    pub effective: Option<String>,
}

/// Occurrences of each (order, code, sub-id), so two OBX with one code get different ids.
#[derive(Debug, Default)]
pub(crate) struct Counts(HashMap<String, usize, crate::ids::FastHash>);

impl Counts {
    fn next(&mut self, key: String) -> usize {
        let n = self.0.entry(key).or_insert(0);
        *n += 1;
        *n
    }
}

/// OBR (in ORU) → DiagnosticReport.
pub(crate) fn map_obr(ctx: &mut Ctx<'_>, seg: &Segment<'_>) {
    let order_key = order::order_key(ctx, seg);
    // The order the result answers (the same id an ORM for it gets: its placer number).
    if !ctx.order.pending {
        ctx.order = order::OrderState::default();
    }
    let request = order::emit_request(ctx, Some(seg));
    let note_target = ctx.note_target;
    let mut parts: Vec<&str> = order_key.iter().map(String::as_str).collect();
    let id = ids::id("DiagnosticReport", &parts);
    let mut r = ctx.resource("DiagnosticReport", &id);

    let (placer, filler) = order::placer_filler(ctx, seg);
    let identifiers = order_identifiers(ctx, &placer, &filler);
    put(&mut r, "identifier", identifiers);
    r.insert(
        "basedOn".into(),
        jv!([{ "reference": crate::reference_to("ServiceRequest", &request) }]),
    );
    let status_code = seg.v(25);
    r.insert(
        "status".into(),
        Value::String(tables::report_status(&status_code).into()),
    );
    let section = seg.v(24);
    let category = if section.is_empty() {
        datatypes::concept(&tables::v2_system("0074"), "LAB", "Laboratory")
    } else {
        datatypes::concept(&tables::v2_system("0074"), &section, "")
    };
    r.insert("category".into(), jv!([category]));
    let code = cwe(&seg.rep(4), None).unwrap_or_else(|| {
        ctx.warn(
            seg,
            Some(4),
            "report without a code (OBR-4): code is 'unknown'",
        );
        jv!({ "text": "unknown" })
    });
    r.insert("code".into(), code);
    r.insert("subject".into(), ctx.patient_ref());
    put_opt(&mut r, "encounter", ctx.encounter_ref());
    let (start, end) = (seg.v(7), seg.v(8));
    let start = ctx.date_time(seg, 7, &start);
    let end = ctx.date_time(seg, 8, &end);
    match (&start, end) {
        (Some(s), Some(e)) => {
            r.insert(
                "effectivePeriod".into(),
                jv!({ "start": s.clone(), "end": e }),
            );
        }
        (Some(s), None) => {
            r.insert("effectiveDateTime".into(), Value::String(s.clone()));
        }
        (None, Some(e)) => {
            r.insert("effectivePeriod".into(), jv!({ "end": e }));
        }
        (None, None) => {}
    }
    let issued = seg.v(22);
    put_opt(&mut r, "issued", ctx.instant(seg, 22, &issued));
    let mut performers = Vec::new();
    for rep in seg.reps(34) {
        performers.extend(practitioner(ctx, &Person::cnn(&rep, 1)));
    }
    put(&mut r, "performer", performers);
    let mut interpreters = Vec::new();
    for rep in seg.reps(32) {
        interpreters.extend(practitioner(ctx, &Person::cnn(&rep, 1)));
    }
    put(&mut r, "resultsInterpreter", interpreters);

    let index = ctx.push(r);
    // R4 DiagnosticReport has no note element: an NTE right after OBR goes to the order.
    ctx.note_target = note_target;
    ctx.last_observation = None;
    ctx.report = Some(ReportState {
        index,
        request,
        order_key: order_key.clone(),
        effective: start,
    });

    // Before SPM (v2.5) the specimen was OBR-15.
    let source = seg.rep(15);
    if !source.blank() {
        parts.push("OBR-15");
        let specimen_id = ids::id("Specimen", &parts);
        let mut s = ctx.resource("Specimen", &specimen_id);
        let kind = source.component(1);
        let code = crate::v2::clean(kind.sub_value(1));
        let text = crate::v2::clean(kind.sub_value(2));
        let system = datatypes::system_for(&crate::v2::clean(kind.sub_value(3)), None);
        let mut cc = Map::new();
        put(
            &mut cc,
            "coding",
            datatypes::coding(system.as_deref(), &code, &text)
                .into_iter()
                .collect::<Vec<_>>(),
        );
        put(&mut cc, "text", text.as_ref());
        put(&mut s, "type", cc);
        s.insert("subject".into(), ctx.patient_ref());
        if let Some(when) = ctx.report.as_ref().and_then(|r| r.effective.clone()) {
            s.insert("collection".into(), jv!({ "collectedDateTime": when }));
        }
        ctx.push(s);
        add_reference(
            ctx,
            index,
            "specimen",
            crate::reference_to("Specimen", &specimen_id),
        );
    }
}

/// Append a reference to an array element of the resource at `index`.
fn add_reference(ctx: &mut Ctx<'_>, index: usize, element: &str, reference: String) {
    if let Some(resource) = ctx.at(index) {
        let list = resource
            .entry(element)
            .or_insert_with(|| Value::Array(Vec::new()));
        if let Value::Array(list) = list {
            let value = jv!({ "reference": reference });
            if !list.iter().any(|x| crate::same_value(x, &value)) {
                list.push(value);
            }
        }
    }
}

/// OBX → Observation.
pub(crate) fn map_obx(ctx: &mut Ctx<'_>, seg: &Segment<'_>) {
    let Some(code) = cwe(&seg.rep(3), None) else {
        ctx.warn(
            seg,
            Some(3),
            "observation without a code (OBX-3): not mapped",
        );
        return;
    };
    let (system, code_key) = concept_key(&code);
    let sub_id = seg.v(4);
    let order_key: Vec<String> = match (&ctx.report, ctx.family) {
        (Some(report), _) => report.order_key.clone(),
        (None, Family::Vaccination) if ctx.order.filler.0.is_empty() => vec![
            ctx.patient_id().to_string(),
            ctx.encounter().cloned().unwrap_or_else(|| "-".into()),
            seg.v(14).into_owned(),
        ],
        (None, Family::Vaccination) => vec![
            "filler".into(),
            ctx.order.filler.1.clone(),
            ctx.order.filler.0.clone(),
        ],
        (None, _) => vec![
            ctx.patient_id().to_string(),
            ctx.encounter().cloned().unwrap_or_else(|| "-".into()),
            seg.v(14).into_owned(),
        ],
    };
    let mut parts: Vec<&str> = order_key.iter().map(String::as_str).collect();
    // `<order key>|<system>|<code>|<sub-id>`, pushed piece by piece (no `join` + `format!`).
    let mut count_key =
        String::with_capacity(parts.iter().map(|p| p.len() + 1).sum::<usize>() + 64);
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            count_key.push('|');
        }
        count_key.push_str(part);
    }
    for part in [system.as_str(), code_key.as_str(), sub_id.as_ref()] {
        count_key.push('|');
        count_key.push_str(part);
    }
    let n = ctx.obx_counts.next(count_key).to_string();
    parts.extend([
        system.as_str(),
        code_key.as_str(),
        sub_id.as_ref(),
        n.as_str(),
    ]);
    let id = ids::id("Observation", &parts);
    let mut r = ctx.resource("Observation", &id);

    let status = tables::observation_status(&seg.v(11));
    r.insert("status".into(), Value::String(status.into()));
    let loinc = system == tables::LOINC;
    let category = if loinc && tables::is_vital_sign_loinc(&code_key) {
        Some(("vital-signs", "Vital Signs"))
    } else if ctx.family == Family::Results {
        Some(("laboratory", "Laboratory"))
    } else {
        None
    };
    if let Some((c, d)) = category {
        r.insert(
            "category".into(),
            jv!([datatypes::concept(tables::OBSERVATION_CATEGORY, c, d)]),
        );
    }
    r.insert("code".into(), code);
    r.insert("subject".into(), ctx.patient_ref());
    if let Some(report) = &ctx.report {
        r.insert(
            "basedOn".into(),
            jv!([{ "reference": crate::reference_to("ServiceRequest", &report.request) }]),
        );
    }
    put_opt(&mut r, "encounter", ctx.encounter_ref());
    if let Some(imm) = ctx.immunization {
        if let Some(reference) = ctx.resources.get(imm).and_then(|v| v["id"].as_str()) {
            r.insert(
                "partOf".into(),
                jv!([{ "reference": crate::reference_to("Immunization", reference) }]),
            );
        }
    }
    let observed = seg.v(14);
    let effective = ctx
        .date_time(seg, 14, &observed)
        .or_else(|| ctx.report.as_ref().and_then(|r| r.effective.clone()));
    put_opt(&mut r, "effectiveDateTime", effective);
    let mut performers = Vec::new();
    for rep in seg.reps(16) {
        performers.extend(practitioner(ctx, &Person::xcn(&rep)));
    }
    put(&mut r, "performer", performers);

    let units = unit(&seg.rep(6));
    value(ctx, seg, &units, &mut r);

    let interpretation: Vec<Value> = seg
        .reps(8)
        .iter()
        .filter_map(|rep| {
            let flag = rep.c(1);
            match tables::interpretation(&flag) {
                Some((c, d)) => Some(datatypes::concept(tables::V3_INTERPRETATION, c, d)),
                None => cwe(rep, Some(&tables::v2_system("0078"))),
            }
        })
        .collect();
    put(&mut r, "interpretation", interpretation);
    let range = seg.rep(7).text().trim().to_string();
    if !range.is_empty() {
        r.insert(
            "referenceRange".into(),
            jv!([reference_range(&range, &units)]),
        );
    }

    let index = ctx.push(r);
    ctx.last_observation = Some(index);
    if let Some(report) = ctx.report.as_ref().map(|r| r.index) {
        add_reference(
            ctx,
            report,
            "result",
            crate::reference_to("Observation", &id),
        );
    }
}

/// OBX-5 by OBX-2 (see the module documentation).
fn value(ctx: &mut Ctx<'_>, seg: &Segment<'_>, units: &Unit, r: &mut Map<String, Value>) {
    let reps = seg.reps(5);
    let Some(first) = reps.first() else {
        return;
    };
    let kind = seg.v(2).to_ascii_uppercase();
    let joined = || {
        reps.iter()
            .map(|rep| rep.text().trim_end().to_string())
            .collect::<Vec<_>>()
            .join("\n")
    };
    if reps.len() > 1 && kind == "NM" {
        // NM does not repeat in v2, yet senders repeat it ("60~120"): keeping only the first
        // would lose the others, so each repetition becomes a component with the
        // observation's code, and the Observation itself has no value.
        let numbers: Option<Vec<Number>> = reps.iter().map(|rep| decimal(&rep.c(1))).collect();
        if let (Some(numbers), Some(code)) = (numbers, r.get("code").cloned()) {
            ctx.warn(
                seg,
                Some(5),
                "repeated numeric value: each repetition kept as a component",
            );
            let components: Vec<Value> = numbers
                .into_iter()
                .map(|n| jv!({ "code": code.clone(), "valueQuantity": quantity(n, units) }))
                .collect();
            r.insert("component".into(), Value::Array(components));
            return;
        }
    }
    if reps.len() > 1 && !matches!(kind.as_str(), "ST" | "TX" | "FT") {
        ctx.warn(
            seg,
            Some(5),
            "repeated value of a type that does not repeat: first repetition kept",
        );
    }
    match kind.as_str() {
        "NM" => match decimal(&first.c(1)) {
            Some(n) => {
                r.insert("valueQuantity".into(), quantity(n, units));
            }
            None => {
                ctx.warn(
                    seg,
                    Some(5),
                    "OBX-2 says NM but the value is not a number: kept as text",
                );
                r.insert(
                    "valueString".into(),
                    Value::String(first.text().trim().to_string()),
                );
            }
        },
        "SN" => structured_numeric(ctx, seg, first, units, r),
        "ST" | "TX" | "FT" => {
            let text = joined();
            if !text.trim().is_empty() {
                r.insert("valueString".into(), Value::String(text));
            }
        }
        "CE" | "CWE" | "CNE" | "CF" => {
            put_opt(r, "valueCodeableConcept", cwe(first, None));
        }
        "DT" => {
            let raw = first.c(1);
            put_opt(r, "valueDateTime", ctx.date(seg, 5, &raw));
        }
        "TS" | "DTM" => {
            let raw = first.c(1);
            put_opt(r, "valueDateTime", ctx.date_time(seg, 5, &raw));
        }
        "TM" => match time(&first.c(1)) {
            Some(t) => {
                r.insert("valueTime".into(), Value::String(t));
            }
            None => ctx.warn(seg, Some(5), "not a valid time (HHMM[SS])"),
        },
        "" => {
            ctx.warn(seg, Some(2), "value without a value type: kept as text");
            r.insert("valueString".into(), Value::String(joined()));
        }
        _ => ctx.warn(
            seg,
            Some(5),
            "value type not mapped to an Observation value",
        ),
    }
}

/// TM `HH[MM[SS]]` → FHIR time `hh:mm:ss` (a zone, which FHIR time cannot carry, is dropped).
fn time(raw: &str) -> Option<String> {
    let digits = raw.split(['+', '-']).next().unwrap_or("");
    let digits = digits.split('.').next().unwrap_or("");
    let b = digits.as_bytes();
    if !matches!(b.len(), 2 | 4 | 6) || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let part = |i: usize| -> u32 {
        b.get(i..i + 2)
            .map(|p| u32::from(p[0] - b'0') * 10 + u32::from(p[1] - b'0'))
            .unwrap_or(0)
    };
    let (h, m, s) = (part(0), part(2), part(4));
    (h < 24 && m < 60 && s < 60).then(|| format!("{h:02}:{m:02}:{s:02}"))
}

/// SN: 1 comparator, 2 number, 3 separator/suffix, 4 second number.
fn structured_numeric(
    ctx: &mut Ctx<'_>,
    seg: &Segment<'_>,
    rep: &Rep<'_>,
    units: &Unit,
    r: &mut Map<String, Value>,
) {
    let comparator = rep.c(1);
    let n1 = decimal(&rep.c(2));
    let separator = rep.c(3);
    let n2 = decimal(&rep.c(4));
    let plain = |q: Number| {
        let mut v = Map::new();
        v.insert("value".into(), Value::Number(q));
        Value::Object(v)
    };
    match (separator.as_ref(), n1, n2) {
        ("-", Some(a), Some(b)) if comparator.is_empty() || comparator == "=" => {
            r.insert(
                "valueRange".into(),
                jv!({ "low": quantity(a, units), "high": quantity(b, units) }),
            );
        }
        (":" | "/", Some(a), Some(b)) if comparator.is_empty() || comparator == "=" => {
            r.insert(
                "valueRatio".into(),
                jv!({ "numerator": plain(a), "denominator": plain(b) }),
            );
        }
        ("", Some(a), None) => match comparator.as_ref() {
            "" | "=" => {
                r.insert("valueQuantity".into(), quantity(a, units));
            }
            "<" | "<=" | ">" | ">=" => {
                let mut q = quantity(a, units);
                q["comparator"] = Value::String(comparator.into_owned());
                r.insert("valueQuantity".into(), q);
            }
            _ => {
                ctx.warn(
                    seg,
                    Some(5),
                    "structured numeric comparator FHIR has no counterpart for: kept as text",
                );
                r.insert(
                    "valueString".into(),
                    Value::String(rep.text().trim().to_string()),
                );
            }
        },
        _ => {
            let text = [comparator.as_ref(), &rep.c(2), &separator, &rep.c(4)].concat();
            if !text.is_empty() {
                r.insert("valueString".into(), Value::String(text));
            }
        }
    }
}

/// OBX-7 → referenceRange: `low-high`, `<high`, `>low` as quantities (with the result's
/// unit), and always the text as written.
fn reference_range(text: &str, units: &Unit) -> Value {
    let mut range = Map::new();
    let t = text.trim();
    let mut low = None;
    let mut high = None;
    if let Some(rest) = t.strip_prefix("<=").or_else(|| t.strip_prefix('<')) {
        high = decimal(rest);
    } else if let Some(rest) = t.strip_prefix(">=").or_else(|| t.strip_prefix('>')) {
        low = decimal(rest);
    } else if let Some(at) = t.get(1..).and_then(|s| s.find('-')).map(|i| i + 1) {
        // The first character may be a minus sign of the low bound.
        if let (Some(a), Some(b)) = (decimal(&t[..at]), decimal(&t[at + 1..])) {
            low = Some(a);
            high = Some(b);
        }
    }
    put_opt(&mut range, "low", low.map(|n| quantity(n, units)));
    put_opt(&mut range, "high", high.map(|n| quantity(n, units)));
    range.insert("text".into(), Value::String(t.to_string()));
    Value::Object(range)
}

/// SPM → Specimen, referenced from the current report.
pub(crate) fn map_spm(ctx: &mut Ctx<'_>, seg: &Segment<'_>) {
    ctx.spm_position += 1;
    let ids_field = seg.rep(2);
    let placer = ei(&ids_field, Some(1));
    let filler = ei(&ids_field, Some(2));
    let position = ctx.spm_position.to_string();
    let set_id = seg.v(1);
    let order_key = ctx
        .report
        .as_ref()
        .map(|r| r.order_key.clone())
        .unwrap_or_else(|| ctx.order.key.clone());
    let id = if !filler.0.is_empty() {
        ids::id("Specimen", &["filler", &filler.1, &filler.0])
    } else if !placer.0.is_empty() {
        ids::id("Specimen", &["placer", &placer.1, &placer.0])
    } else {
        let mut parts: Vec<&str> = order_key.iter().map(String::as_str).collect();
        parts.push(if set_id.is_empty() {
            &position
        } else {
            &set_id
        });
        ids::id("Specimen", &parts)
    };
    let reference = crate::reference_to("Specimen", &id);
    if !ctx.has(&reference) {
        let mut r = ctx.resource("Specimen", &id);
        let identifiers = order_identifiers(ctx, &placer, &filler);
        put(&mut r, "identifier", identifiers);
        match seg.v(20).to_ascii_uppercase().as_str() {
            "Y" => put(&mut r, "status", "available"),
            "N" => put(&mut r, "status", "unavailable"),
            _ => {}
        }
        put_opt(
            &mut r,
            "type",
            cwe(&seg.rep(4), Some(&tables::v2_system("0487"))),
        );
        r.insert("subject".into(), ctx.patient_ref());
        let received = seg.v(18);
        put_opt(&mut r, "receivedTime", ctx.date_time(seg, 18, &received));
        let collected = seg.rep(17);
        let (start, end) = (collected.s(1, 1), collected.s(2, 1));
        let start = ctx.date_time(seg, 17, &start);
        let end = ctx.date_time(seg, 17, &end);
        let mut collection = Map::new();
        match (start, end) {
            (Some(s), Some(e)) => {
                collection.insert(
                    "collectedPeriod".into(),
                    jv!({ "start": s.clone(), "end": e }),
                );
            }
            (Some(s), None) => {
                collection.insert("collectedDateTime".into(), Value::String(s));
            }
            _ => {}
        }
        put_opt(
            &mut collection,
            "bodySite",
            cwe(&seg.rep(8), Some(&tables::v2_system("0163"))),
        );
        put(&mut r, "collection", collection);
        ctx.push(r);
    }
    if let Some(report) = ctx.report.as_ref().map(|r| r.index) {
        add_reference(ctx, report, "specimen", reference);
    } else if let Some(request) = ctx.order.request {
        add_reference(ctx, request, "specimen", reference);
    }
}
