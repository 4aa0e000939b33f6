//! AL1 → AllergyIntolerance, DG1 → Condition (and Encounter.diagnosis), PR1 → Procedure.

use salus_hl7v2::{Rep, Segment};
use serde_json::Value;

use crate::datatypes::{self, cwe, practitioner, Person};
use crate::tables;
use crate::v2::{RepExt, SegExt};
use crate::{ids, member, put, put_opt, Ctx};

/// The (system, code-or-text) of a CodeableConcept, for keys.
pub(crate) fn concept_key(concept: &Value) -> (String, String) {
    // Read by scanning the small objects (`member`), not by hashed look-ups.
    let coding = member(concept, "coding")
        .as_array()
        .and_then(|c| c.first())
        .unwrap_or(&Value::Null);
    let system = member(coding, "system").as_str().unwrap_or("").to_string();
    let code = member(coding, "code")
        .as_str()
        .or_else(|| member(concept, "text").as_str())
        .unwrap_or("")
        .to_string();
    (system, code)
}

/// A coded field whose system may come from an older "coding method" field (DG1-2, PR1-2).
fn coded_with_method(seg: &Segment<'_>, field: usize, method_field: usize) -> Option<Value> {
    let rep: Rep<'_> = seg.rep(field);
    let method = seg.v(method_field);
    let default = datatypes::system_for(&method, None);
    cwe(&rep, default.as_deref())
}

/// AL1 → AllergyIntolerance.
pub(crate) fn map_al1(ctx: &mut Ctx<'_>, seg: &Segment<'_>) {
    let Some(code) = cwe(&seg.rep(3), None) else {
        ctx.warn(
            seg,
            Some(3),
            "allergy without allergen code or text: not mapped",
        );
        return;
    };
    let (system, key) = concept_key(&code);
    let patient = ctx.patient_id().to_string();
    let id = ids::id("AllergyIntolerance", &[&patient, &system, &key]);
    let mut r = ctx.resource("AllergyIntolerance", &id);
    // clinicalStatus is required unless the record is entered-in-error (ait-1); AL1 lists the
    // patient's current allergies.
    r.insert(
        "clinicalStatus".into(),
        datatypes::concept(
            "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical",
            "active",
            "Active",
        ),
    );
    let (kind, category) = tables::allergen_type(&seg.v(2));
    put_opt(&mut r, "type", kind);
    put_opt(&mut r, "category", category.map(|c| jv!([c])));
    r.insert("code".into(), code);
    r.insert("patient".into(), ctx.patient_ref());
    let identified = seg.v(6);
    put_opt(&mut r, "onsetDateTime", ctx.date_time(seg, 6, &identified));

    let severity_code = seg.v(4);
    let severity = tables::allergy_severity(&severity_code);
    if severity.is_none() && !severity_code.is_empty() && !severity_code.eq_ignore_ascii_case("U") {
        ctx.warn(seg, Some(4), "allergy severity not in table 0128");
    }
    let manifestations: Vec<Value> = seg
        .reps(5)
        .iter()
        .map(|rep| rep.text().trim().to_string())
        .filter(|t| !t.is_empty())
        .map(|t| jv!({ "text": t }))
        .collect();
    if manifestations.is_empty() {
        // A reaction needs a manifestation: with a severity alone, say how bad as criticality.
        if let Some(s) = severity {
            r.insert(
                "criticality".into(),
                Value::String(if s == "severe" { "high" } else { "low" }.into()),
            );
        }
    } else {
        let mut reaction = serde_json::Map::new();
        reaction.insert("manifestation".into(), Value::Array(manifestations));
        put_opt(&mut reaction, "severity", severity);
        r.insert("reaction".into(), jv!([reaction]));
    }
    ctx.push(r);
}

/// The coded element of DG1-3 / PR1-3 (coding method in field 2), with the description of
/// field 4 as its text; the description alone when there is no code. `None`, with a warning,
/// when there is neither.
fn code_or_description(ctx: &mut Ctx<'_>, seg: &Segment<'_>, what: &str) -> Option<Value> {
    let code = coded_with_method(seg, 3, 2).or_else(|| {
        let text = seg.rep(4).text().trim().to_string();
        (!text.is_empty()).then(|| jv!({ "text": text }))
    });
    let Some(mut code) = code else {
        ctx.warn(
            seg,
            Some(3),
            format!("{what} without code or description: not mapped"),
        );
        return None;
    };
    let description = seg.v(4);
    if code.get("text").is_none() && !description.is_empty() {
        code["text"] = Value::String(description.into_owned());
    }
    Some(code)
}

/// DG1 → Condition (category encounter-diagnosis) and an Encounter.diagnosis entry.
pub(crate) fn map_dg1(ctx: &mut Ctx<'_>, seg: &Segment<'_>) {
    let Some(code) = code_or_description(ctx, seg, "diagnosis") else {
        return;
    };
    let (system, key) = concept_key(&code);
    let patient = ctx.patient_id().to_string();
    let encounter = ctx.encounter().cloned().unwrap_or_else(|| "-".into());
    let id = ids::id("Condition", &[&patient, &encounter, &system, &key]);
    let mut r = ctx.resource("Condition", &id);
    let verification = match seg.v(6).to_ascii_uppercase().as_str() {
        "F" => Some(("confirmed", "Confirmed")),
        "A" | "W" => Some(("provisional", "Provisional")),
        _ => None,
    };
    if let Some((c, d)) = verification {
        r.insert(
            "verificationStatus".into(),
            datatypes::concept(
                "http://terminology.hl7.org/CodeSystem/condition-ver-status",
                c,
                d,
            ),
        );
    }
    r.insert(
        "category".into(),
        jv!([datatypes::concept(
            tables::CONDITION_CATEGORY,
            "encounter-diagnosis",
            "Encounter Diagnosis"
        )]),
    );
    r.insert("code".into(), code);
    r.insert("subject".into(), ctx.patient_ref());
    put_opt(&mut r, "encounter", ctx.encounter_ref());
    let onset = seg.v(5);
    put_opt(&mut r, "onsetDateTime", ctx.date_time(seg, 5, &onset));
    ctx.push(r);

    // The encounter lists its diagnoses, with their role (DG1-6) and rank (DG1-15).
    let role = match seg.v(6).to_ascii_uppercase().as_str() {
        "A" => Some(("AD", "Admission diagnosis")),
        "F" => Some(("DD", "Discharge diagnosis")),
        _ => None,
    };
    let rank = seg.v(15).parse::<u32>().ok().filter(|r| *r > 0);
    if let Some(at) = ctx.encounter_index {
        let mut entry = serde_json::Map::new();
        entry.insert(
            "condition".into(),
            jv!({ "reference": crate::reference_to("Condition", &id) }),
        );
        if let Some((c, d)) = role {
            entry.insert(
                "use".into(),
                datatypes::concept(tables::DIAGNOSIS_ROLE, c, d),
            );
        }
        put_opt(&mut entry, "rank", rank);
        if let Some(encounter) = ctx.at(at) {
            let list = encounter
                .entry("diagnosis")
                .or_insert_with(|| Value::Array(Vec::new()));
            if let Value::Array(list) = list {
                list.push(Value::Object(entry));
            }
        }
    }
}

/// PR1 → Procedure (status completed: PR1 reports procedures performed).
pub(crate) fn map_pr1(ctx: &mut Ctx<'_>, seg: &Segment<'_>) {
    let Some(code) = code_or_description(ctx, seg, "procedure") else {
        return;
    };
    let (system, key) = concept_key(&code);
    let patient = ctx.patient_id().to_string();
    let encounter = ctx.encounter().cloned().unwrap_or_else(|| "-".into());
    let when = seg.v(5);
    let id = ids::id("Procedure", &[&patient, &encounter, &system, &key, &when]);
    let mut r = ctx.resource("Procedure", &id);
    r.insert("status".into(), Value::String("completed".into()));
    r.insert("code".into(), code);
    r.insert("subject".into(), ctx.patient_ref());
    put_opt(&mut r, "encounter", ctx.encounter_ref());
    put_opt(&mut r, "performedDateTime", ctx.date_time(seg, 5, &when));
    let mut performers = Vec::new();
    for field in [11, 12, 8] {
        for rep in seg.reps(field) {
            if let Some(actor) = practitioner(ctx, &Person::xcn(&rep)) {
                performers.push(jv!({ "actor": actor }));
            }
        }
    }
    put(&mut r, "performer", performers);
    ctx.push(r);
}
