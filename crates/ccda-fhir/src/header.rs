//! The document header: the patient, the people and organizations around the document, the
//! encounter it documents, and the DocumentReference that keeps the document itself.

use base64::Engine as _;
use roxmltree::Node;
use serde_json::{json, Map, Value};

use crate::codes::{oid, system_uri};
use crate::ctx::{escape, Ctx};
use crate::datatypes::{gender, put_array, TimeKind};
use crate::xml::{El, SDTC};
use crate::DocumentError;

/// What the header yielded that the DocumentReference refers to.
#[derive(Debug, Default)]
pub struct Header {
    authors: Vec<String>,
    custodian: Option<String>,
    authenticator: Option<String>,
    service_period: Option<Value>,
}

const US_CORE: &str = "http://hl7.org/fhir/us/core/StructureDefinition";
/// OMB race categories (CDC Race and Ethnicity codes); other codes are "detailed".
const OMB_RACE: [&str; 5] = ["1002-5", "2028-9", "2054-5", "2076-8", "2106-3"];
const OMB_ETHNICITY: [&str; 2] = ["2135-2", "2186-5"];

pub fn map_header(ctx: &mut Ctx) -> Result<Header, DocumentError> {
    let root = ctx.doc.root_element();
    ctx.document_time = root
        .child("effectiveTime")
        .and_then(|t| ctx.time(t, TimeKind::DateTime));
    let Some(role) = root.path(&["recordTarget", "patientRole"]) else {
        return Err(DocumentError::at(
            "/ClinicalDocument",
            "the document has no recordTarget/patientRole: a C-CDA document must say whom it is about",
        ));
    };
    map_patient(ctx, role);

    let mut header = Header::default();
    for author in root.children_named("author") {
        if let Some(r) = map_author(ctx, author) {
            header.authors.push(r);
        }
    }
    ctx.author = header
        .authors
        .iter()
        .find(|r| r.starts_with("Practitioner/"))
        .cloned();
    if let Some(org) = root.path(&[
        "custodian",
        "assignedCustodian",
        "representedCustodianOrganization",
    ]) {
        header.custodian = map_organization(ctx, org);
    }
    if let Some(entity) = root.path(&["legalAuthenticator", "assignedEntity"]) {
        header.authenticator = map_practitioner(ctx, entity, "assignedPerson");
    }
    for a in root.children_named("authenticator") {
        if let Some(entity) = a.child("assignedEntity") {
            map_practitioner(ctx, entity, "assignedPerson");
        }
    }
    if let Some(event) = root.path(&["documentationOf", "serviceEvent"]) {
        header.service_period = event.child("effectiveTime").and_then(|t| ctx.period(t));
        for performer in event.children_named("performer") {
            if let Some(entity) = performer.child("assignedEntity") {
                map_practitioner(ctx, entity, "assignedPerson");
            }
        }
    }
    if let Some(enc) = root.path(&["componentOf", "encompassingEncounter"]) {
        map_encompassing_encounter(ctx, enc);
    }
    Ok(header)
}

fn map_patient(ctx: &mut Ctx, role: Node) {
    let patient_id = patient_key(role)
        .map(|key| salus_fhir::ids::derive_id(&format!("ccda|Patient|{key}")))
        .unwrap_or_else(|| {
            ctx.warn(
                role,
                "the patient has no identifier (other than an SSN): a later document about the same patient will make another Patient",
            );
            ctx.positional_id("Patient", role)
        });
    ctx.patient = format!("Patient/{patient_id}");
    let mut p = Map::new();
    p.insert("resourceType".into(), json!("Patient"));
    p.insert("id".into(), json!(patient_id));
    p.insert(
        "meta".into(),
        json!({"profile": [format!("{US_CORE}/us-core-patient")]}),
    );
    let ids = ctx.identifiers(role);
    put_array(&mut p, "identifier", ids);
    let person = role.child("patient");
    let mut extensions = Vec::new();
    if let Some(person) = person {
        extensions.extend(race_extension(ctx, person));
        extensions.extend(ethnicity_extension(ctx, person));
    }
    put_array(&mut p, "extension", extensions);
    if let Some(person) = person {
        let names: Vec<Value> = person
            .children_named("name")
            .filter_map(|n| ctx.human_name(n))
            .collect();
        put_array(&mut p, "name", names);
    }
    let telecoms: Vec<Value> = role
        .children_named("telecom")
        .filter_map(|t| ctx.contact_point(t))
        .collect();
    put_array(&mut p, "telecom", telecoms);
    if let Some(person) = person {
        if let Some(g) = person.child("administrativeGenderCode").and_then(gender) {
            p.insert("gender".into(), json!(g));
        }
        if let Some(b) = person.child("birthTime") {
            if let Some(d) = ctx.time(b, TimeKind::Date) {
                p.insert("birthDate".into(), json!(d));
            }
        }
        if let Some(dead) = person.child_ns(SDTC, "deceasedInd") {
            let time = person
                .child_ns(SDTC, "deceasedTime")
                .and_then(|t| ctx.time(t, TimeKind::DateTime));
            match (dead.attr("value"), time) {
                (_, Some(t)) => {
                    p.insert("deceasedDateTime".into(), json!(t));
                }
                (Some("true"), None) => {
                    p.insert("deceasedBoolean".into(), json!(true));
                }
                (Some("false"), None) => {
                    p.insert("deceasedBoolean".into(), json!(false));
                }
                _ => {}
            }
        } else if let Some(t) = person
            .child_ns(SDTC, "deceasedTime")
            .and_then(|t| ctx.time(t, TimeKind::DateTime))
        {
            p.insert("deceasedDateTime".into(), json!(t));
        }
    }
    let addresses: Vec<Value> = role
        .children_named("addr")
        .collect::<Vec<_>>()
        .into_iter()
        .filter_map(|a| ctx.address(a))
        .collect();
    put_array(&mut p, "address", addresses);
    if let Some(person) = person {
        if let Some(m) = person
            .child("maritalStatusCode")
            .and_then(|c| ctx.concept(c))
        {
            p.insert("maritalStatus".into(), m);
        }
        let languages: Vec<Value> = person
            .children_named("languageCommunication")
            .filter_map(|lc| {
                let code = lc.child("languageCode")?.attr("code")?;
                let mut c = Map::new();
                c.insert(
                    "language".into(),
                    json!({"coding": [{"system": "urn:ietf:bcp:47", "code": code}]}),
                );
                if let Some(pref) = lc.child("preferenceInd").and_then(|p| p.attr("value")) {
                    c.insert("preferred".into(), json!(pref == "true"));
                }
                Some(Value::Object(c))
            })
            .collect();
        put_array(&mut p, "communication", languages);
    }
    let patient_ref = ctx.patient.clone();
    ctx.push(Value::Object(p), role);
    // After the Patient, which comes first in the output.
    if let Some(org) = role.child("providerOrganization") {
        if let Some(r) = map_organization(ctx, org) {
            if let Some(Value::Object(p)) = ctx.resource_mut(&patient_ref) {
                p.insert("managingOrganization".into(), json!({"reference": r}));
            }
        }
    }
    if let Some(person) = person {
        for guardian in person.children_named("guardian") {
            map_guardian(ctx, guardian, &patient_ref);
        }
    }
}

/// `root|extension` of the first patient identifier that is neither an SSN nor masked.
fn patient_key(role: Node) -> Option<String> {
    Ctx::id_key_where(role, |id| id.attr("root") != Some(oid::SSN))
}

/// Race or ethnicity codes as the US Core extension: OMB categories, detailed codes, text.
fn omb_extension(ctx: &Ctx, person: Node, element: &str, omb: &[&str], url: &str) -> Option<Value> {
    let codes: Vec<Node> = person
        .children()
        .filter(|c| c.is_element() && c.tag_name().name() == element)
        .filter(|c| matches!(c.tag_name().namespace(), Some(crate::xml::V3) | Some(SDTC)))
        .collect();
    let mut parts = Vec::new();
    let mut texts = Vec::new();
    let mut seen = Vec::new();
    for c in &codes {
        let Some(code) = c.attr("code") else {
            continue;
        };
        if seen.contains(&code) {
            continue;
        }
        seen.push(code);
        let mut coding = Map::new();
        coding.insert("system".into(), json!(system_uri(oid::RACE_ETHNICITY)));
        coding.insert("code".into(), json!(code));
        if let Some(d) = c.attr("displayName") {
            coding.insert("display".into(), json!(d));
            texts.push(d.to_owned());
        }
        let kind = if omb.contains(&code) {
            "ombCategory"
        } else {
            "detailed"
        };
        parts.push(json!({"url": kind, "valueCoding": Value::Object(coding)}));
    }
    if parts.is_empty() {
        // A nullFlavor race (declined, unknown) has only text in US Core.
        let declined = codes.iter().find_map(|c| c.null_flavor())?;
        let text = match declined {
            "ASKU" => "Asked but unknown",
            "UNK" => "Unknown",
            _ => "Not stated",
        };
        let _ = ctx;
        return Some(json!({"url": url, "extension": [{"url": "text", "valueString": text}]}));
    }
    parts.push(json!({"url": "text", "valueString": texts.join(", ")}));
    Some(json!({"url": url, "extension": parts}))
}

fn race_extension(ctx: &Ctx, person: Node) -> Option<Value> {
    omb_extension(
        ctx,
        person,
        "raceCode",
        &OMB_RACE,
        &format!("{US_CORE}/us-core-race"),
    )
}

fn ethnicity_extension(ctx: &Ctx, person: Node) -> Option<Value> {
    omb_extension(
        ctx,
        person,
        "ethnicGroupCode",
        &OMB_ETHNICITY,
        &format!("{US_CORE}/us-core-ethnicity"),
    )
}

fn map_guardian(ctx: &mut Ctx, guardian: Node, patient_ref: &str) {
    let id = ctx.resource_id("RelatedPerson", guardian);
    let mut r = Map::new();
    r.insert("resourceType".into(), json!("RelatedPerson"));
    r.insert("id".into(), json!(id));
    let ids = ctx.identifiers(guardian);
    put_array(&mut r, "identifier", ids);
    r.insert("patient".into(), json!({"reference": patient_ref}));
    let mut relationship = vec![json!({"coding": [{
        "system": "http://terminology.hl7.org/CodeSystem/v3-RoleCode",
        "code": "GUARD",
        "display": "guardian"
    }]})];
    if let Some(c) = guardian.child("code").and_then(|c| ctx.concept(c)) {
        relationship.push(c);
    }
    r.insert("relationship".into(), Value::Array(relationship));
    let mut parts = Map::new();
    if let Some(person) = guardian.child("guardianPerson") {
        ctx.contact_parts(person, &mut parts);
    }
    let mut own = Map::new();
    ctx.contact_parts(guardian, &mut own);
    if let Some(n) = parts.remove("name") {
        r.insert("name".into(), n);
    }
    for key in ["telecom", "address"] {
        if let Some(v) = own.remove(key) {
            r.insert(key.into(), v);
        }
    }
    ctx.push(Value::Object(r), guardian);
}

/// An `author`: a person (Practitioner, with their organization) or a system (Device).
fn map_author(ctx: &mut Ctx, author: Node) -> Option<String> {
    let assigned = author.child("assignedAuthor")?;
    if is_oneself(assigned) {
        // A document the patient wrote: its author is the Patient.
        return Some(ctx.patient.clone());
    }
    if let Some(device) = assigned.child("assignedAuthoringDevice") {
        let id = ctx.resource_id("Device", assigned);
        let mut d = Map::new();
        d.insert("resourceType".into(), json!("Device"));
        d.insert("id".into(), json!(id));
        let ids = ctx.identifiers(assigned);
        put_array(&mut d, "identifier", ids);
        let model = device
            .child("manufacturerModelName")
            .map(|m| m.text_content())
            .filter(|t| !t.is_empty());
        let software = device
            .child("softwareName")
            .map(|m| m.text_content())
            .filter(|t| !t.is_empty());
        if let Some(m) = &model {
            d.insert("manufacturer".into(), json!(m));
            d.insert(
                "deviceName".into(),
                json!([{"name": m, "type": "model-name"}]),
            );
        }
        if let Some(s) = software {
            d.insert("version".into(), json!([{"value": s}]));
        }
        if let Some(org) = assigned.child("representedOrganization") {
            if let Some(r) = map_organization(ctx, org) {
                d.insert("owner".into(), json!({"reference": r}));
            }
        }
        return Some(ctx.push_shared(Value::Object(d), assigned));
    }
    let reference = map_practitioner(ctx, assigned, "assignedPerson");
    if let Some(org) = assigned.child("representedOrganization") {
        map_organization(ctx, org);
    }
    reference
}

/// An assigned entity (`assignedAuthor`, `assignedEntity`) as a Practitioner. `None` when it
/// names no one (no id, no person).
pub fn map_practitioner(ctx: &mut Ctx, entity: Node, person_element: &str) -> Option<String> {
    // The patient signing or writing for themselves is no practitioner (and must not become
    // one carrying the patient's identifiers).
    if is_oneself(entity) {
        return None;
    }
    let person = entity.child(person_element);
    let id_key = Ctx::id_key(entity);
    let names: Vec<Value> = person
        .map(|p| {
            p.children_named("name")
                .filter_map(|n| ctx.human_name(n))
                .collect()
        })
        .unwrap_or_default();
    // `<id nullFlavor="UNK"/>` and `<name nullFlavor="UNK"/>` name no one.
    if id_key.is_none() && names.is_empty() {
        return None;
    }
    let id = match id_key {
        Some(_) => ctx.resource_id("Practitioner", entity),
        // Without an id, the same name in one document is the same person (an author named on
        // every entry is one Practitioner, not one per entry).
        None => salus_fhir::ids::derive_id(&format!(
            "ccda|Practitioner|{}|name|{}",
            ctx.doc_key,
            Value::Array(names.clone())
        )),
    };
    let mut p = Map::new();
    p.insert("resourceType".into(), json!("Practitioner"));
    p.insert("id".into(), json!(id));
    let ids = ctx.identifiers(entity);
    put_array(&mut p, "identifier", ids);
    put_array(&mut p, "name", names);
    let mut own = Map::new();
    ctx.contact_parts(entity, &mut own);
    for key in ["telecom", "address"] {
        if let Some(v) = own.remove(key) {
            p.insert(key.into(), v);
        }
    }
    if let Some(q) = entity.child("code").and_then(|c| ctx.concept(c)) {
        p.insert("qualification".into(), json!([{"code": q}]));
    }
    Some(ctx.push_shared(Value::Object(p), entity))
}

/// Whether an assigned entity is the patient (`code` ONESELF, HL7 RoleCode "self").
fn is_oneself(entity: Node) -> bool {
    entity.child("code").and_then(|c| c.attr("code")) == Some("ONESELF")
}

/// An organization element as an Organization. `None` when it names nothing.
pub fn map_organization(ctx: &mut Ctx, org: Node) -> Option<String> {
    let name = org
        .children_named("name")
        .map(|n| n.text_content())
        .find(|t| !t.is_empty());
    let id = match (Ctx::id_key(org), &name) {
        (None, None) => return None,
        (Some(_), _) => ctx.resource_id("Organization", org),
        // Without an id, one name in one document is one organization (a vaccine maker named
        // on four immunizations is one Organization).
        (None, Some(name)) => salus_fhir::ids::derive_id(&format!(
            "ccda|Organization|{}|name|{}",
            ctx.doc_key,
            escape(name)
        )),
    };
    let mut o = Map::new();
    o.insert("resourceType".into(), json!("Organization"));
    o.insert("id".into(), json!(id));
    let ids = ctx.identifiers(org);
    put_array(&mut o, "identifier", ids);
    if let Some(name) = name {
        o.insert("name".into(), json!(name));
    }
    let telecoms: Vec<Value> = org
        .children_named("telecom")
        .filter_map(|t| ctx.contact_point(t))
        .collect();
    put_array(&mut o, "telecom", telecoms);
    let addresses: Vec<Value> = org
        .children_named("addr")
        .collect::<Vec<_>>()
        .into_iter()
        .filter_map(|a| ctx.address(a))
        .collect();
    put_array(&mut o, "address", addresses);
    Some(ctx.push_shared(Value::Object(o), org))
}

/// `componentOf/encompassingEncounter` → Encounter (and its Location).
fn map_encompassing_encounter(ctx: &mut Ctx, enc: Node) {
    let id = ctx.resource_id("Encounter", enc);
    let mut e = Map::new();
    e.insert("resourceType".into(), json!("Encounter"));
    e.insert("id".into(), json!(id));
    let ids = ctx.identifiers(enc);
    put_array(&mut e, "identifier", ids);
    let period = enc.child("effectiveTime").and_then(|t| ctx.period(t));
    let finished = period.as_ref().is_some_and(|p| p.get("end").is_some());
    e.insert(
        "status".into(),
        json!(if finished { "finished" } else { "unknown" }),
    );
    let code = enc.child("code");
    e.insert("class".into(), encounter_class(code));
    if let Some(t) = code.and_then(|c| ctx.concept(c)) {
        e.insert("type".into(), json!([t]));
    }
    e.insert("subject".into(), json!({"reference": ctx.patient}));
    let mut participants = Vec::new();
    for p in enc.children_named("encounterParticipant") {
        if let Some(entity) = p.child("assignedEntity") {
            if let Some(r) = map_practitioner(ctx, entity, "assignedPerson") {
                let mut part = Map::new();
                if let Some(t) = p.attr("typeCode") {
                    part.insert(
                        "type".into(),
                        json!([{"coding": [{
                            "system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType",
                            "code": t
                        }]}]),
                    );
                }
                part.insert("individual".into(), json!({"reference": r}));
                participants.push(Value::Object(part));
            }
        }
    }
    if let Some(entity) = enc.path(&["responsibleParty", "assignedEntity"]) {
        if let Some(r) = map_practitioner(ctx, entity, "assignedPerson") {
            participants.push(json!({
                "type": [{"coding": [{
                    "system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType",
                    "code": "RESP"
                }]}],
                "individual": {"reference": r}
            }));
        }
    }
    put_array(&mut e, "participant", participants);
    if let Some(p) = period {
        e.insert("period".into(), p);
    }
    if let Some(d) = enc
        .child("dischargeDispositionCode")
        .and_then(|c| ctx.concept(c))
    {
        e.insert("hospitalization".into(), json!({"dischargeDisposition": d}));
    }
    if let Some(facility) = enc.path(&["location", "healthCareFacility"]) {
        if let Some(r) = map_location(ctx, facility) {
            e.insert("location".into(), json!([{"location": {"reference": r}}]));
        }
    }
    let reference = ctx.push(Value::Object(e), enc);
    ctx.encounter = Some(reference);
}

/// The encounter class from the encounter code when it is an HL7 ActCode; FHIR requires a
/// class, so an encounter coded otherwise gets the `UNK` null flavor rather than a guess.
pub fn encounter_class(code: Option<Node>) -> Value {
    let act_code = code.and_then(|c| {
        std::iter::once(c)
            .chain(c.children_named("translation"))
            .find(|c| c.attr("codeSystem") == Some("2.16.840.1.113883.5.4"))
    });
    match act_code.and_then(|c| c.attr("code")) {
        Some(code) => json!({
            "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
            "code": code
        }),
        None => json!({
            "system": "http://terminology.hl7.org/CodeSystem/v3-NullFlavor",
            "code": "UNK"
        }),
    }
}

/// A `healthCareFacility` (or a `participantRole` of class SDLOC) as a Location.
pub fn map_location(ctx: &mut Ctx, facility: Node) -> Option<String> {
    let place = facility
        .child("location")
        .or_else(|| facility.child("playingEntity"));
    let name = place
        .and_then(|p| p.child("name"))
        .map(|n| n.text_content())
        .filter(|t| !t.is_empty());
    if Ctx::id_key(facility).is_none() && name.is_none() {
        return None;
    }
    let id = ctx.resource_id("Location", facility);
    let mut l = Map::new();
    l.insert("resourceType".into(), json!("Location"));
    l.insert("id".into(), json!(id));
    let ids = ctx.identifiers(facility);
    put_array(&mut l, "identifier", ids);
    if let Some(n) = name {
        l.insert("name".into(), json!(n));
    }
    if let Some(t) = facility.child("code").and_then(|c| ctx.concept(c)) {
        l.insert("type".into(), json!([t]));
    }
    if let Some(a) = place
        .and_then(|p| p.child("addr"))
        .or_else(|| facility.child("addr"))
    {
        if let Some(a) = ctx.address(a) {
            l.insert("address".into(), a);
        }
    }
    if let Some(org) = facility.child("serviceProviderOrganization") {
        if let Some(r) = map_organization(ctx, org) {
            l.insert("managingOrganization".into(), json!({"reference": r}));
        }
    }
    Some(ctx.push_shared(Value::Object(l), facility))
}

/// The document's structure as a Composition: what a FHIR document says the C-CDA header
/// and section list say. FHIR requires a date, an author and a title; a document without a
/// time or author gets no Composition (with a warning) rather than invented ones.
pub fn map_composition(
    ctx: &mut Ctx,
    header: &Header,
    sections: &[crate::sections::MappedSection],
) {
    let root = ctx.doc.root_element();
    let Some(date) = ctx.document_time.clone() else {
        ctx.warn(root, "the document has no usable effectiveTime: no Composition is made (FHIR requires its date)");
        return;
    };
    let authors: Vec<Value> = header
        .authors
        .iter()
        .map(|r| json!({"reference": r}))
        .collect();
    if authors.is_empty() {
        ctx.warn(
            root,
            "the document names no author: no Composition is made (FHIR requires one)",
        );
        return;
    }
    let id = salus_fhir::ids::derive_id(&format!("ccda|Composition|{}", ctx.doc_key));
    let mut c = Map::new();
    c.insert("resourceType".into(), json!("Composition"));
    c.insert("id".into(), json!(id));
    if let Some(ident) = root
        .child("setId")
        .or_else(|| root.child("id"))
        .and_then(|i| ctx.identifier(i))
    {
        c.insert("identifier".into(), ident);
    }
    c.insert("status".into(), json!("final"));
    let doc_type = root
        .child("code")
        .and_then(|t| ctx.concept(t))
        .unwrap_or_else(|| json!({"text": "Clinical document"}));
    c.insert("type".into(), doc_type.clone());
    c.insert("subject".into(), json!({"reference": ctx.patient}));
    if let Some(e) = &ctx.encounter {
        c.insert("encounter".into(), json!({"reference": e}));
    }
    c.insert("date".into(), json!(date));
    c.insert("author".into(), Value::Array(authors));
    let title = root
        .child("title")
        .map(|t| t.text_content())
        .filter(|t| !t.is_empty())
        .or_else(|| doc_type["coding"][0]["display"].as_str().map(str::to_owned))
        .unwrap_or_else(|| "Clinical document".to_owned());
    c.insert("title".into(), json!(title));
    if let Some(code) = root
        .child("confidentialityCode")
        .and_then(|c| c.attr("code"))
    {
        if matches!(code, "U" | "L" | "M" | "N" | "R" | "V") {
            c.insert("confidentiality".into(), json!(code));
        }
    }
    if let Some(a) = &header.authenticator {
        let mut attester = Map::new();
        attester.insert("mode".into(), json!("legal"));
        if let Some(t) = root
            .path(&["legalAuthenticator", "time"])
            .and_then(|t| ctx.time(t, TimeKind::DateTime))
        {
            attester.insert("time".into(), json!(t));
        }
        attester.insert("party".into(), json!({"reference": a}));
        c.insert("attester".into(), json!([Value::Object(attester)]));
    }
    if let Some(cu) = &header.custodian {
        c.insert("custodian".into(), json!({"reference": cu}));
    }
    if let Some(p) = &header.service_period {
        c.insert("event".into(), json!([{"period": p}]));
    }
    let mut out_sections = Vec::new();
    for s in sections {
        let mut sec = Map::new();
        let title = s
            .section
            .child("title")
            .map(|t| t.text_content())
            .filter(|t| !t.is_empty());
        if let Some(t) = &title {
            sec.insert("title".into(), json!(t));
        }
        if let Some(code) = s.section.child("code").and_then(|c| ctx.concept(c)) {
            sec.insert("code".into(), code);
        }
        let text = s
            .section
            .child("text")
            .map(|t| t.text_content())
            .filter(|t| !t.is_empty());
        if let Some(t) = text {
            // The narrative's words; its CDA markup (tables, lists) is in the stored document.
            sec.insert(
                "text".into(),
                json!({"status": "additional", "div": xhtml_div(&t)}),
            );
        }
        if !s.entries.is_empty() {
            let entries: Vec<Value> = s.entries.iter().map(|r| json!({"reference": r})).collect();
            sec.insert("entry".into(), Value::Array(entries));
        } else if s.section.null_flavor().is_some() {
            sec.insert(
                "emptyReason".into(),
                json!({"coding": [{
                    "system": "http://terminology.hl7.org/CodeSystem/list-empty-reason",
                    "code": "unavailable"
                }]}),
            );
        }
        if sec.contains_key("text") || sec.contains_key("entry") || sec.contains_key("emptyReason")
        {
            out_sections.push(Value::Object(sec));
        }
    }
    put_array(&mut c, "section", out_sections);
    ctx.push(Value::Object(c), root);
}

/// Text as an XHTML `div` (FHIR narrative): escaped, in the XHTML namespace.
pub fn xhtml_div(text: &str) -> String {
    format!(
        "<div xmlns=\"http://www.w3.org/1999/xhtml\">{}</div>",
        xhtml_escape(text)
    )
}

/// Text made safe inside XHTML: `&`, `<` and `>` escaped.
pub fn xhtml_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The whole document as a DocumentReference: the original bytes as an `application/xml`
/// attachment, and for an unstructured document (`nonXMLBody`) its content as a second one.
pub fn map_document_reference(ctx: &mut Ctx, header: &Header, original: &[u8]) {
    let root = ctx.doc.root_element();
    let id = salus_fhir::ids::derive_id(&format!("ccda|DocumentReference|{}", ctx.doc_key));
    let mut d = Map::new();
    d.insert("resourceType".into(), json!("DocumentReference"));
    d.insert("id".into(), json!(id));
    if let Some(master) = root.child("id").and_then(|i| ctx.identifier(i)) {
        d.insert("masterIdentifier".into(), master);
    }
    if let Some(set) = root.child("setId").and_then(|i| ctx.identifier(i)) {
        d.insert("identifier".into(), json!([set]));
    }
    d.insert("status".into(), json!("current"));
    d.insert("docStatus".into(), json!("final"));
    if let Some(t) = root.child("code").and_then(|c| ctx.concept(c)) {
        d.insert("type".into(), t);
    }
    d.insert(
        "category".into(),
        json!([{"coding": [{
            "system": "http://hl7.org/fhir/us/core/CodeSystem/us-core-documentreference-category",
            "code": "clinical-note",
            "display": "Clinical Note"
        }]}]),
    );
    d.insert("subject".into(), json!({"reference": ctx.patient}));
    if let Some(t) = root
        .child("effectiveTime")
        .and_then(|t| ctx.time(t, TimeKind::Instant))
    {
        d.insert("date".into(), json!(t));
    }
    if !header.authors.is_empty() {
        let authors: Vec<Value> = header
            .authors
            .iter()
            .map(|r| json!({"reference": r}))
            .collect();
        d.insert("author".into(), Value::Array(authors));
    }
    if let Some(a) = &header.authenticator {
        d.insert("authenticator".into(), json!({"reference": a}));
    }
    if let Some(c) = &header.custodian {
        d.insert("custodian".into(), json!({"reference": c}));
    }
    let relates: Vec<Value> = root
        .children_named("relatedDocument")
        .filter_map(|rel| {
            let code = match rel.attr("typeCode")? {
                "RPLC" => "replaces",
                "APND" => "appends",
                "XFRM" => "transforms",
                _ => return None,
            };
            let parent = rel.child("parentDocument")?;
            let ident = parent.child("id").and_then(|i| ctx.identifier(i))?;
            Some(json!({"code": code, "target": {"identifier": ident}}))
        })
        .collect();
    put_array(&mut d, "relatesTo", relates);
    if let Some(title) = root
        .child("title")
        .map(|t| t.text_content())
        .filter(|t| !t.is_empty())
    {
        d.insert("description".into(), json!(title));
    }
    if let Some(c) = root
        .child("confidentialityCode")
        .and_then(|c| ctx.coding(c))
    {
        d.insert("securityLabel".into(), json!([{"coding": [c]}]));
    }
    let mut attachment = Map::new();
    attachment.insert("contentType".into(), json!("application/xml"));
    if let Some(lang) = root.child("languageCode").and_then(|l| l.attr("code")) {
        attachment.insert("language".into(), json!(lang));
    }
    attachment.insert(
        "data".into(),
        json!(base64::engine::general_purpose::STANDARD.encode(original)),
    );
    attachment.insert("size".into(), json!(original.len()));
    if let Some(title) = root
        .child("title")
        .map(|t| t.text_content())
        .filter(|t| !t.is_empty())
    {
        attachment.insert("title".into(), json!(title));
    }
    let format_code = if root.has_template("2.16.840.1.113883.10.20.22.1.1")
        && root
            .children_named("templateId")
            .any(|t| t.attr("extension").is_some())
    {
        "urn:hl7-org:sdwg:ccda-structuredBody:2.1"
    } else {
        "urn:hl7-org:sdwg:ccda-structuredBody:1.1"
    };
    let mut content = vec![json!({
        "attachment": Value::Object(attachment),
        "format": {
            "system": "http://ihe.net/fhir/ihe.formatcode.fhir/CodeSystem/formatcode",
            "code": format_code
        }
    })];
    if let Some(body) = root.path(&["component", "nonXMLBody", "text"]) {
        if let Some(a) = non_xml_attachment(ctx, body) {
            content.push(json!({"attachment": a}));
        }
    }
    d.insert("content".into(), Value::Array(content));
    let mut context = Map::new();
    if let Some(e) = &ctx.encounter {
        context.insert("encounter".into(), json!([{"reference": e}]));
    }
    if let Some(p) = &header.service_period {
        context.insert("period".into(), p.clone());
    }
    if !context.is_empty() {
        d.insert("context".into(), Value::Object(context));
    }
    ctx.push(Value::Object(d), root);
}

/// The body of an unstructured document: base64 as given, or text encoded.
fn non_xml_attachment(ctx: &mut Ctx, text: Node) -> Option<Value> {
    let media = text.attr("mediaType").unwrap_or("text/plain");
    if let Some(r) = text.child("reference").and_then(|r| r.attr("value")) {
        return Some(json!({"contentType": media, "url": r}));
    }
    let raw: String = text
        .children()
        .filter(|c| c.is_text())
        .filter_map(|c| c.text())
        .collect();
    let data = if text.attr("representation") == Some("B64") {
        let compact: String = raw.split_whitespace().collect();
        if base64::engine::general_purpose::STANDARD
            .decode(compact.as_bytes())
            .is_err()
        {
            ctx.warn(
                text,
                "the nonXMLBody text is marked B64 but is not base64; left out",
            );
            return None;
        }
        compact
    } else {
        base64::engine::general_purpose::STANDARD.encode(raw.trim().as_bytes())
    };
    if data.is_empty() {
        return None;
    }
    Some(json!({"contentType": media, "data": data}))
}
