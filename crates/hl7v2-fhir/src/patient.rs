//! PID → Patient, NK1 → RelatedPerson, ADT A40 (PID + MRG) → a merge.

use salus_hl7v2::{Message, Rep, Segment};
use serde_json::{Map, Value};

use crate::datatypes::{self, authority_name, cwe, cx, xad, xpn, xtn};
use crate::tables;
use crate::v2::{RepExt, SegExt};
use crate::{ids, put, put_opt, same_value, Ctx, MapError, Merge, PatientId};

/// The patient a PID (or an MRG-1) names: the repetition of `field` typed MR, else the first
/// one with an id; its authority is CX-4, else the options' default, else MSH-4.
pub(crate) fn identify(
    ctx: &Ctx<'_>,
    seg: &Segment<'_>,
    field: usize,
) -> Result<PatientId, MapError> {
    let reps: Vec<Rep<'_>> = seg
        .reps(field)
        .into_iter()
        .filter(|r| !r.c(1).is_empty())
        .collect();
    let chosen = reps
        .iter()
        .find(|r| r.c(5).eq_ignore_ascii_case("MR"))
        .or_else(|| reps.first());
    let Some(rep) = chosen else {
        return Err(MapError {
            segment: seg.id().to_string(),
            segment_index: seg.index(),
            field: Some(field),
            reason: "no patient identifier: the patient cannot be identified".into(),
        });
    };
    let mut authority = authority_name(rep, 4);
    if authority.is_empty() {
        authority = default_authority(ctx);
    }
    let id = ids::id("Patient", &[&authority, &rep.c(1)]);
    Ok(PatientId { id, authority })
}

/// The authority of identifiers that name none.
fn default_authority(ctx: &Ctx<'_>) -> String {
    ctx.options
        .default_assigning_authority
        .clone()
        .unwrap_or_else(|| ctx.sending_facility.clone())
}

/// Identifiers of a CX list, without duplicates.
fn identifiers(ctx: &mut Ctx<'_>, seg: &Segment<'_>, field: usize, out: &mut Vec<Value>) {
    let fallback = default_authority(ctx);
    for rep in seg.reps(field) {
        if let Some(id) = cx(ctx, seg, field, &rep, Some(&fallback)) {
            if !out.iter().any(|x| same_value(x, &id)) {
                out.push(id);
            }
        }
    }
}

/// PID → Patient.
pub(crate) fn map_pid(ctx: &mut Ctx<'_>, seg: &Segment<'_>) {
    let id = ctx.patient_id().to_string();
    let r = patient_resource(ctx, seg, &id);
    ctx.patient_index = Some(ctx.push(r));
}

fn patient_resource(ctx: &mut Ctx<'_>, seg: &Segment<'_>, id: &str) -> Map<String, Value> {
    let mut r = ctx.resource("Patient", id);
    let mut extensions = Vec::new();
    extensions.extend(race_or_ethnicity(ctx, seg, 10, tables::US_CORE_RACE));
    extensions.extend(race_or_ethnicity(ctx, seg, 22, tables::US_CORE_ETHNICITY));
    let maiden = seg.s(6, 1, 1);
    if !maiden.is_empty() {
        extensions.push(jv!({
            "url": "http://hl7.org/fhir/StructureDefinition/patient-mothersMaidenName",
            "valueString": maiden
        }));
    }
    put(&mut r, "extension", extensions);

    // PID-3 the identifier list; PID-2 and PID-4 (external and alternate ids, deprecated
    // since 2.3.1 but still sent); PID-19 SSN; PID-20 driver's licence.
    let mut identifier = Vec::new();
    identifiers(ctx, seg, 3, &mut identifier);
    for field in [2, 4] {
        for rep in seg.reps(field) {
            if let Some(i) = cx(ctx, seg, field, &rep, None) {
                if !identifier.iter().any(|x| same_value(x, &i)) {
                    identifier.push(i);
                }
            }
        }
    }
    let ssn = seg.v(19);
    if !ssn.is_empty() {
        identifier.push(jv!({
            "type": datatypes::concept(&tables::v2_system("0203"), "SS", "Social Security number"),
            "system": tables::US_SSN,
            "value": ssn
        }));
    }
    let licence = seg.v(20);
    if !licence.is_empty() {
        identifier.push(jv!({
            "type": datatypes::concept(&tables::v2_system("0203"), "DL", "Driver's license number"),
            "value": licence
        }));
    }
    put(&mut r, "identifier", identifier);

    // PID-5 the names, PID-9 aliases (an alias without a name type is `usual`).
    let mut names: Vec<Value> = seg.reps(5).iter().filter_map(xpn).collect();
    for alias in seg.reps(9).iter().filter_map(xpn) {
        let mut alias = alias;
        if alias.get("use").is_none() {
            alias["use"] = Value::String("usual".into());
        }
        if !names.iter().any(|x| same_value(x, &alias)) {
            names.push(alias);
        }
    }
    // XPN-15 "called by" (v2.7+): the name the patient goes by, a `nickname`.
    for rep in seg.reps(5) {
        let called = rep.c(15);
        if !called.is_empty() {
            let nickname = jv!({ "use": "nickname", "given": [called.as_ref()] });
            if !names.iter().any(|x| same_value(x, &nickname)) {
                names.push(nickname);
            }
        }
    }
    put(&mut r, "name", names);

    let mut telecom = Vec::new();
    telecom.extend(seg.reps(13).iter().filter_map(|t| xtn(t, Some("home"))));
    telecom.extend(seg.reps(14).iter().filter_map(|t| xtn(t, Some("work"))));
    put(&mut r, "telecom", telecom);

    let sex = seg.v(8);
    if !sex.is_empty() {
        match tables::gender(&sex) {
            Some(g) => put(&mut r, "gender", g),
            None => ctx.warn(seg, Some(8), "administrative sex not in table 0001"),
        }
    }
    let birth = seg.v(7);
    put_opt(&mut r, "birthDate", ctx.date(seg, 7, &birth));

    let death = seg.v(29);
    if !death.is_empty() {
        put_opt(&mut r, "deceasedDateTime", ctx.date_time(seg, 29, &death));
    } else {
        match yes_no(&seg.v(30)) {
            Some(b) => {
                r.insert("deceasedBoolean".into(), Value::Bool(b));
            }
            None if seg.has(30) => ctx.warn(seg, Some(30), "death indicator is not Y or N"),
            None => {}
        }
    }

    let addresses: Vec<Value> = seg.reps(11).iter().filter_map(xad).collect();
    put(&mut r, "address", addresses);

    let marital = seg.v(16);
    if !marital.is_empty() {
        let mut codings = Vec::new();
        if let Some((system, code, display)) = tables::marital_status(&marital) {
            codings.push(jv!({ "system": system, "code": code, "display": display }));
        }
        codings.extend(datatypes::coding(
            Some(&tables::v2_system("0002")),
            &marital,
            &seg.c(16, 2),
        ));
        r.insert("maritalStatus".into(), jv!({ "coding": codings }));
    }

    let multiple_order = seg.v(25);
    if let Ok(n) = multiple_order.parse::<u32>() {
        r.insert("multipleBirthInteger".into(), jv!(n));
    } else if let Some(b) = yes_no(&seg.v(24)) {
        r.insert("multipleBirthBoolean".into(), Value::Bool(b));
    }

    if let Some(language) = language(&seg.rep(15)) {
        r.insert(
            "communication".into(),
            jv!([{ "language": language, "preferred": true }]),
        );
    }
    r
}

/// Table 0136 (and the "YES"/"NO" some senders write).
fn yes_no(v: &str) -> Option<bool> {
    match v.to_ascii_uppercase().as_str() {
        "Y" | "YES" => Some(true),
        "N" | "NO" => Some(false),
        _ => None,
    }
}

/// PID-15 (table 0296, in practice ISO 639) → a BCP-47 language when it is one.
fn language(rep: &Rep<'_>) -> Option<Value> {
    let code = rep.c(1);
    if code.is_empty() {
        return cwe(rep, None);
    }
    let lower = code.to_ascii_lowercase();
    // ISO 639-2 three-letter codes of the most common languages → their BCP-47 two letters.
    let bcp47 = match lower.as_str() {
        "eng" => Some("en"),
        "spa" => Some("es"),
        "fra" | "fre" => Some("fr"),
        "deu" | "ger" => Some("de"),
        "ita" => Some("it"),
        "por" => Some("pt"),
        "zho" | "chi" => Some("zh"),
        "vie" => Some("vi"),
        "kor" => Some("ko"),
        "rus" => Some("ru"),
        "ara" => Some("ar"),
        "jpn" => Some("ja"),
        "tgl" => Some("tl"),
        "hin" => Some("hi"),
        "pol" => Some("pl"),
        "nld" | "dut" => Some("nl"),
        _ => None,
    }
    .map(str::to_string)
    .or_else(|| {
        let b = lower.as_bytes();
        let looks = (b.len() == 2 && b.iter().all(u8::is_ascii_alphabetic))
            || (b.len() == 5 && b[2] == b'-' && lower.split('-').all(|p| p.len() == 2));
        looks.then_some(code.to_string())
    });
    match bcp47 {
        Some(tag) => {
            let mut cc = Map::new();
            cc.insert(
                "coding".into(),
                jv!([datatypes::coding(Some("urn:ietf:bcp:47"), &tag, &rep.c(2))]),
            );
            put(&mut cc, "text", rep.c(2).as_ref());
            Some(Value::Object(cc))
        }
        None => cwe(rep, Some(&tables::v2_system("0296"))),
    }
}

/// PID-10 (race) or PID-22 (ethnicity) → the US Core extension: CDC codes in the OMB
/// categories as `ombCategory`, other CDC codes as `detailed`, and the required `text`.
fn race_or_ethnicity(
    ctx: &mut Ctx<'_>,
    seg: &Segment<'_>,
    field: usize,
    url: &str,
) -> Option<Value> {
    let reps = seg.reps(field);
    if reps.is_empty() {
        return None;
    }
    let ethnicity = field == 22;
    let mut parts = Vec::new();
    let mut texts = Vec::new();
    let mut not_cdc = false;
    for rep in &reps {
        let mut code = rep.c(1).into_owned();
        let mut display = rep.c(2).into_owned();
        if ethnicity && !tables::is_cdc_race_code(&code) {
            if let Some((c, d)) = tables::legacy_ethnicity(&code) {
                code = c.to_string();
                if display.is_empty() {
                    display = d.to_string();
                }
            }
        }
        if tables::is_cdc_race_code(&code) {
            let omb = if ethnicity {
                tables::omb_ethnicity(&code)
            } else {
                tables::omb_race(&code)
            };
            if display.is_empty() {
                display = omb.unwrap_or("").to_string();
            }
            let kind = if omb.is_some() {
                "ombCategory"
            } else {
                "detailed"
            };
            parts.push(jv!({
                "url": kind,
                "valueCoding": datatypes::coding(Some(tables::CDC_RACE_ETHNICITY), &code, &display)
            }));
        } else if code.eq_ignore_ascii_case("UNK") || code.eq_ignore_ascii_case("ASKU") {
            let upper = code.to_ascii_uppercase();
            let d = if upper == "UNK" {
                "Unknown"
            } else {
                "Asked but no answer"
            };
            if ethnicity || upper == "UNK" || upper == "ASKU" {
                parts.push(jv!({
                    "url": "ombCategory",
                    "valueCoding": { "system": tables::V3_NULL_FLAVOR, "code": upper, "display": d }
                }));
            }
            if display.is_empty() {
                display = d.to_string();
            }
        } else {
            not_cdc = true;
        }
        let text = if display.is_empty() { code } else { display };
        if !text.is_empty() && !texts.contains(&text) {
            texts.push(text);
        }
    }
    if not_cdc {
        ctx.warn(
            seg,
            Some(field),
            "code is not a CDC Race & Ethnicity code (urn:oid:2.16.840.1.113883.6.238): kept as text only",
        );
    }
    if texts.is_empty() {
        return None;
    }
    parts.push(jv!({ "url": "text", "valueString": texts.join(", ") }));
    Some(jv!({ "url": url, "extension": parts }))
}

/// The id of a RelatedPerson of the patient from an NK1, GT1 or IN1 segment: its set id
/// (field 1), else its position among the segments of its kind, with `role` (`guarantor`,
/// `insured`) when it is not a next of kin.
pub(crate) fn related_person_id(
    ctx: &Ctx<'_>,
    seg: &Segment<'_>,
    role: Option<&str>,
    position: usize,
) -> String {
    let set_id = seg.v(1);
    let position = position.to_string();
    let key_part = if set_id.is_empty() {
        position.as_str()
    } else {
        set_id.as_ref()
    };
    let patient = ctx.patient_id();
    match role {
        None => ids::id("RelatedPerson", &[patient, key_part]),
        Some(role) => ids::id("RelatedPerson", &[patient, role, key_part]),
    }
}

/// NK1 → RelatedPerson.
pub(crate) fn map_nk1(ctx: &mut Ctx<'_>, seg: &Segment<'_>) {
    ctx.nk1_position += 1;
    let id = related_person_id(ctx, seg, None, ctx.nk1_position);
    let mut r = ctx.resource("RelatedPerson", &id);
    r.insert("patient".into(), ctx.patient_ref());

    let mut relationship = Vec::new();
    let rel = seg.rep(3);
    let rel_code = rel.c(1).to_ascii_uppercase();
    if !rel.blank() {
        let mut codings = Vec::new();
        if let Some((code, display)) = tables::relationship_role_code(&rel_code) {
            codings.push(jv!({ "system": tables::V3_ROLE_CODE, "code": code, "display": display }));
        }
        if let Some(Value::Object(mut original)) = cwe(&rel, Some(&tables::v2_system("0063"))) {
            if let Some(Value::Array(c)) = original.remove("coding") {
                codings.extend(c);
            }
            let mut cc = Map::new();
            put(&mut cc, "coding", codings);
            put_opt(&mut cc, "text", original.remove("text"));
            relationship.push(Value::Object(cc));
        }
    }
    for role in seg.reps(7) {
        let code = role.c(1).to_ascii_uppercase();
        let display = tables::contact_role_display(&code).unwrap_or("");
        let display = if role.c(2).is_empty() {
            display.to_string()
        } else {
            role.c(2).into_owned()
        };
        if let Some(c) = datatypes::table_concept("0131", &code, &display) {
            relationship.push(c);
        }
    }
    put(&mut r, "relationship", relationship);

    let names: Vec<Value> = seg.reps(2).iter().filter_map(xpn).collect();
    put(&mut r, "name", names);
    let mut telecom = Vec::new();
    telecom.extend(seg.reps(5).iter().filter_map(|t| xtn(t, Some("home"))));
    telecom.extend(seg.reps(6).iter().filter_map(|t| xtn(t, Some("work"))));
    put(&mut r, "telecom", telecom);
    let sex = seg.v(15);
    put_opt(&mut r, "gender", tables::gender(&sex));
    let birth = seg.v(16);
    put_opt(&mut r, "birthDate", ctx.date(seg, 16, &birth));
    let addresses: Vec<Value> = seg.reps(4).iter().filter_map(xad).collect();
    put(&mut r, "address", addresses);
    if r.len() <= 4 {
        // Nothing beyond the patient reference: not a person anyone can contact.
        ctx.warn(
            seg,
            None,
            "next of kin without name, relationship, address or telecom",
        );
        return;
    }
    ctx.push(r);
}

/// ADT A40: each PID with the MRG after it. The survivor gets `link replaces`, the retired
/// patient (MRG-1) `active: false` and `link replaced-by`, and a [`Merge`] is recorded.
pub(crate) fn map_merge(ctx: &mut Ctx<'_>, message: &Message<'_>) -> Result<(), MapError> {
    let segments = message.segments();
    let mut any = false;
    for (i, pid) in segments.iter().enumerate() {
        if pid.id() != "PID" {
            continue;
        }
        let mrg = segments[i + 1..]
            .iter()
            .take_while(|s| s.id() != "PID")
            .find(|s| s.id() == "MRG");
        let Some(mrg) = mrg else {
            return Err(MapError {
                segment: "PID".into(),
                segment_index: pid.index(),
                field: None,
                reason: "an A40 merge needs an MRG segment after each PID".into(),
            });
        };
        let survivor = identify(ctx, pid, 3)?;
        let retired = identify(ctx, mrg, 1)?;
        if survivor.id == retired.id {
            ctx.warn(
                mrg,
                Some(1),
                "the prior identifier is the surviving patient's own: nothing to merge",
            );
            continue;
        }
        ctx.set_patient(survivor.clone());
        let mut r = patient_resource(ctx, pid, &survivor.id);
        r.insert(
            "link".into(),
            jv!([{ "other": { "reference": crate::reference_to("Patient", &retired.id) }, "type": "replaces" }]),
        );
        ctx.push(r);

        let mut old = ctx.resource("Patient", &retired.id);
        let mut identifier = Vec::new();
        identifiers(ctx, mrg, 1, &mut identifier);
        put(&mut old, "identifier", identifier);
        old.insert("active".into(), Value::Bool(false));
        old.insert(
            "link".into(),
            jv!([{ "other": { "reference": crate::reference_to("Patient", &survivor.id) }, "type": "replaced-by" }]),
        );
        ctx.push(old);
        ctx.merges.push(Merge {
            survivor: survivor.id,
            retired: retired.id,
        });
        any = true;
    }
    if !any && !segments.iter().any(|s| s.id() == "PID") {
        return Err(MapError {
            segment: "MSH".into(),
            segment_index: 0,
            field: None,
            reason: "an A40 merge needs a PID segment (the surviving patient)".into(),
        });
    }
    Ok(())
}
