//! MDM T02: TXA + OBX → DocumentReference.
//!
//! The note text is every TX/FT/ST OBX-5 line, in order, joined by newlines, as one
//! `text/plain; charset=utf-8` attachment (base64). An ED OBX (encapsulated data, Base64) is an
//! attachment of its own with its MIME type. status: TXA-19 (table 0275: OB/RE superseded,
//! CA/PU entered-in-error) else `current`; docStatus: TXA-17 (table 0271: AU/LA final;
//! DI/DO/IN/IP/PA/PR preliminary); securityLabel: TXA-18 (table 0272: V very restricted,
//! R restricted, U normal).

use salus_hl7v2::Segment;
use serde_json::{Map, Value};

use crate::datatypes::{self, cwe, ei, ei_identifier, practitioner, Person};
use crate::tables;
use crate::v2::{RepExt, SegExt};
use crate::{ids, put, put_opt, Ctx};

/// The document being assembled.
#[derive(Debug, Default)]
pub(crate) struct DocumentState {
    pub index: Option<usize>,
    pub lines: Vec<String>,
    pub attachments: Vec<Value>,
}

/// TXA → DocumentReference (content added by [`finish`]).
pub(crate) fn map_txa(ctx: &mut Ctx<'_>, seg: &Segment<'_>) {
    if ctx.document.index.is_some() {
        ctx.warn(seg, None, "a second TXA in one message: not mapped");
        return;
    }
    let number = ei(&seg.rep(12), None);
    let when_raw = {
        let activity = seg.v(4);
        if activity.is_empty() {
            seg.v(6)
        } else {
            activity
        }
    };
    let kind = seg.v(2);
    let id = if number.0.is_empty() {
        ids::id("DocumentReference", &[ctx.patient_id(), &kind, &when_raw])
    } else {
        let authority = crate::order::authority(&number);
        ids::id("DocumentReference", &[&authority, &number.0])
    };
    let mut r = ctx.resource("DocumentReference", &id);
    put_opt(
        &mut r,
        "masterIdentifier",
        ei_identifier(ctx, &number, None),
    );
    let availability = seg.v(19);
    let status = tables::document_availability(&availability).unwrap_or("current");
    r.insert("status".into(), Value::String(status.into()));
    let completion = seg.v(17);
    match tables::document_completion(&completion) {
        Some(s) => put(&mut r, "docStatus", s),
        None if !completion.is_empty() => ctx.warn(
            seg,
            Some(17),
            "document completion status not in table 0271",
        ),
        None => {}
    }
    put_opt(
        &mut r,
        "type",
        cwe(&seg.rep(2), Some(&tables::v2_system("0270"))),
    );
    r.insert(
        "category".into(),
        jv!([datatypes::concept(
            tables::US_CORE_DOC_CATEGORY,
            "clinical-note",
            "Clinical Note"
        )]),
    );
    r.insert("subject".into(), ctx.patient_ref());
    let field = if seg.v(4).is_empty() { 6 } else { 4 };
    put_opt(&mut r, "date", ctx.instant(seg, field, &when_raw));
    let mut authors = Vec::new();
    for field in [5, 9] {
        for rep in seg.reps(field) {
            if let Some(a) = practitioner(ctx, &Person::xcn(&rep)) {
                if !authors.iter().any(|x| crate::same_value(x, &a)) {
                    authors.push(a);
                }
            }
        }
    }
    put(&mut r, "author", authors);
    if let Some(rep) = seg.reps(10).first() {
        put_opt(
            &mut r,
            "authenticator",
            practitioner(ctx, &Person::xcn(rep)),
        );
    }
    if let Some((code, display)) = tables::confidentiality(&seg.v(18)) {
        r.insert(
            "securityLabel".into(),
            jv!([datatypes::concept(
                tables::V3_CONFIDENTIALITY,
                code,
                display
            )]),
        );
    }
    if let Some(encounter) = ctx.encounter_ref() {
        r.insert("context".into(), jv!({ "encounter": [encounter] }));
    }
    ctx.document.index = Some(ctx.push(r));
}

/// OBX in MDM: a line of the note, or an encapsulated attachment.
pub(crate) fn map_obx(ctx: &mut Ctx<'_>, seg: &Segment<'_>) {
    if ctx.document.index.is_none() {
        ctx.warn(
            seg,
            None,
            "document content without a TXA before it: not mapped",
        );
        return;
    }
    let kind = seg.v(2).to_ascii_uppercase();
    match kind.as_str() {
        "TX" | "FT" | "ST" => {
            for rep in seg.field(5).repetitions() {
                let text = if rep.is_null() {
                    String::new()
                } else {
                    rep.text().trim_end().to_string()
                };
                ctx.document.lines.push(text);
            }
        }
        "ED" => {
            let rep = seg.rep(5);
            let (major, minor) = (rep.c(2).to_ascii_lowercase(), rep.c(3).to_ascii_lowercase());
            let content_type = match (major.as_str(), minor.as_str()) {
                ("", _) | (_, "") => "application/octet-stream".to_string(),
                // v2 writes "TEXT" as the type of data; MIME calls it "text".
                (m, s) => format!("{m}/{s}"),
            };
            let encoding = rep.c(4).to_ascii_uppercase();
            let data = rep.c(5);
            let mut attachment = Map::new();
            attachment.insert("contentType".into(), Value::String(content_type));
            match encoding.as_str() {
                _ if data.is_empty() => {}
                "BASE64" if crate::ids::is_base64(&data) => {
                    let compact: String = data.chars().filter(|c| !c.is_whitespace()).collect();
                    attachment.insert("data".into(), Value::String(compact));
                }
                "A" => {
                    attachment.insert(
                        "data".into(),
                        Value::String(crate::ids::base64(data.as_bytes())),
                    );
                }
                _ => ctx.warn(
                    seg,
                    Some(5),
                    "encapsulated data is neither valid Base64 nor ASCII: not mapped",
                ),
            }
            ctx.document.attachments.push(Value::Object(attachment));
        }
        _ => ctx.warn(
            seg,
            Some(2),
            "value type is not part of a document's text: not mapped",
        ),
    }
}

/// Put the collected text and attachments into the DocumentReference.
pub(crate) fn finish(ctx: &mut Ctx<'_>) {
    let Some(index) = ctx.document.index else {
        return;
    };
    let mut content = Vec::new();
    let text = ctx.document.lines.join("\n");
    let text = text.trim_end();
    if !text.is_empty() {
        content.push(jv!({ "attachment": {
            "contentType": "text/plain; charset=utf-8",
            "data": crate::ids::base64(text.as_bytes())
        }}));
    }
    for attachment in std::mem::take(&mut ctx.document.attachments) {
        content.push(jv!({ "attachment": attachment }));
    }
    if content.is_empty() {
        // content is required: an empty text attachment says "no text was sent".
        content.push(jv!({ "attachment": { "contentType": "text/plain; charset=utf-8" } }));
    }
    if let Some(r) = ctx.at(index) {
        r.insert("content".into(), Value::Array(content));
        // Keep `context` last, where FHIR lists it.
        if let Some(context) = r.remove("context") {
            r.insert("context".into(), context);
        }
    }
}
