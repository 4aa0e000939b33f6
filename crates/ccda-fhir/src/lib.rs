//! C-CDA documents (R2.1 and R1.1) mapped to FHIR R4 resources, section by section.
//!
//! [`map_bytes`] takes a document's bytes and returns the resources it describes as
//! `serde_json::Value` objects, each with `resourceType`, a deterministic `id`, `meta.source`
//! and the XPath-like position of the element it came from. The mapping is pure: no I/O, no
//! clock; every time comes from the document.
//!
//! # Safety
//!
//! See [`xml`]: DTDs are refused (so no external entity and no entity expansion can exist),
//! the document size and node count are bounded, and the root must be `ClinicalDocument` in
//! `urn:hl7-org:v3`. A document that fails is a [`DocumentError`] with a position and a
//! plain reason.
//!
//! # What is mapped
//!
//! | Part | Resources |
//! |---|---|
//! | `recordTarget` | Patient (identifiers, names, address, telecom, birth date, gender, marital status, race and ethnicity as US Core extensions, language, deceased), RelatedPerson (guardian) |
//! | `author`, `legalAuthenticator`, `authenticator`, `documentationOf/serviceEvent/performer` | Practitioner (or Device for a system author) |
//! | `custodian`, represented and provider organizations | Organization |
//! | `componentOf/encompassingEncounter` | Encounter, Location |
//! | the document's structure | Composition: type, date, authors, attester, custodian, and one section per top-level section with its title, code, narrative text and the resources its entries became |
//! | the whole document | DocumentReference holding the original XML (base64, `application/xml`) |
//! | sections (by LOINC section code and templateId) | see [`sections`] |
//!
//! An entry that cannot be mapped is in [`Mapped::skipped`] with its position; a field that
//! cannot be mapped is in [`Mapped::warnings`] and left out. Neither ever holds a value from
//! the document: only positions and rules.
//!
//! # Resource ids
//!
//! Every id is `salus_fhir::ids::derive_id(key)` (UUID v5) with
//! `key = ccda|<Type>|<root>|<extension>` of the entry's first `id`, so that the same act in
//! two documents (or the same document ingested twice) is one resource. An entry without an
//! id is keyed by the document id and its position (`ccda|<Type>|<doc root>|<doc ext>|<xpath>`),
//! stable for that document. The Patient is keyed by its first identifier that is not an SSN
//! (so a later document about the same patient adds to the same Patient).

pub mod codes;
mod ctx;
pub mod datatypes;
mod header;
pub mod sections;
pub mod xml;

use serde_json::Value;

pub use ctx::Ctx;
pub use xml::{DocumentError, Limits};

/// How to read what the document leaves implicit.
#[derive(Debug, Clone, Default)]
pub struct MapOptions {
    /// The sender's UTC offset in minutes, for times written without a zone. When `None`
    /// such times are kept to the day (FHIR requires a zone with a time).
    pub assume_offset_minutes: Option<i32>,
}

/// One mapped resource and the element it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct MappedResource {
    pub resource: Value,
    /// XPath-like position of the source element.
    pub position: String,
}

/// A field or entry that could not be mapped: where, and which rule it broke.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MapIssue {
    pub position: String,
    pub reason: String,
}

/// What one document mapped to.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Mapped {
    /// The resources: the Patient first, the DocumentReference last. No two share type and id.
    pub resources: Vec<MappedResource>,
    /// Fields left out; the entry they are in was kept.
    pub warnings: Vec<MapIssue>,
    /// Entries that could not be mapped at all; the rest of the document was.
    pub skipped: Vec<MapIssue>,
}

/// Decode, parse and map one document.
pub fn map_bytes(
    bytes: &[u8],
    limits: &Limits,
    options: &MapOptions,
) -> Result<Mapped, DocumentError> {
    if bytes.len() > limits.max_document_bytes {
        return Err(DocumentError::at(
            "document",
            format!(
                "the document is larger than {} bytes; C-CDA documents that large are refused",
                limits.max_document_bytes
            ),
        ));
    }
    let text = xml::decode(bytes)?;
    let doc = xml::parse(&text, limits)?;
    map_document(&doc, bytes, options)
}

/// Map a parsed document. `original` is the document as received, kept in the
/// DocumentReference.
pub fn map_document(
    doc: &roxmltree::Document<'_>,
    original: &[u8],
    options: &MapOptions,
) -> Result<Mapped, DocumentError> {
    let mut ctx = Ctx::new(doc, options);
    let header = header::map_header(&mut ctx)?;
    let sections = sections::map_body(&mut ctx);
    header::map_composition(&mut ctx, &header, &sections);
    header::map_document_reference(&mut ctx, &header, original);
    let (resources, warnings, skipped) = ctx.finish();
    Ok(Mapped {
        resources,
        warnings,
        skipped,
    })
}
