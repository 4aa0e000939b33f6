//! The document body, section by section.
//!
//! A section is recognised by its LOINC code and, where the code is missing or unusual, by its
//! templateId (any extension, so R1.1 and R2.1 both match). Each entry of a recognised section
//! goes to that section's mapper; the mappers recognise entries by their templateId and fall
//! back on the entry's shape. Nested sections (`component/section` inside a section) are
//! walked too. Sections that hold narrative only (history of present illness, review of
//! systems …) have no entries to map: their text stays in the document the DocumentReference
//! keeps.
//!
//! | Section | LOINC | templateId (2.16.840.1.113883.10.20.22.2.…) | Resources |
//! |---|---|---|---|
//! | Problems | 11450-4 | 5, 5.1 | Condition (problem-list-item) |
//! | Health Concerns | 75310-3 | 58 | Condition (health-concern) |
//! | Discharge / admission diagnosis | 11535-2, 46241-6 | 24, 43 | Condition (encounter-diagnosis) |
//! | Allergies | 48765-2 | 6, 6.1 | AllergyIntolerance |
//! | Medications (and admission, discharge) | 10160-0, 42346-7, 10183-2 | 1, 1.1, 44, 11, 11.1 | MedicationStatement (moodCode EVN) or MedicationRequest (INT) |
//! | Medications administered | 29549-3 | 38 | MedicationAdministration |
//! | Immunizations | 11369-6 | 2, 2.1 | Immunization |
//! | Procedures | 47519-4 | 7, 7.1 | Procedure (Observation for procedure-activity observations) |
//! | Encounters | 46240-8 | 22, 22.1 | Encounter |
//! | Family History | 10157-6 | 15 | FamilyMemberHistory |
//! | Results | 30954-2 | 3, 3.1 | DiagnosticReport, Observation (laboratory) |
//! | Vital Signs | 8716-3 | 4, 4.1 | Observation (vital-signs) |
//! | Social History | 29762-2 | 17 | Observation (social-history, SDoH), Patient birth sex |
//! | Mental Status, Functional Status, assessment scales | 10190-7, 47420-5 | 56, 14 | Observation (survey / exam) with `hasMember` items |
//! | Goals | 61146-7 | 60 | Goal |
//! | Plan of Treatment | 18776-5 | 10 | CarePlan, ServiceRequest |
//! | Assessment, Assessment and Plan | 51848-0, 51847-2 | 8, 9 | by entry template |

use roxmltree::Node;

use crate::ctx::Ctx;
use crate::header::map_practitioner;
use crate::xml::El;

pub mod allergies;
pub mod assessments;
pub mod encounters;
pub mod family_history;
pub mod goals;
pub mod immunizations;
pub mod medications;
pub mod observation;
pub mod plan;
pub mod problems;
pub mod procedures;
pub mod results;
pub mod social_history;
pub mod vitals;

/// What a section holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SectionKind {
    Problems,
    HealthConcerns,
    DischargeDiagnosis,
    AdmissionDiagnosis,
    Allergies,
    Medications,
    AdmissionMedications,
    DischargeMedications,
    MedicationsAdministered,
    Immunizations,
    Procedures,
    Encounters,
    FamilyHistory,
    Results,
    VitalSigns,
    SocialHistory,
    MentalStatus,
    FunctionalStatus,
    Goals,
    PlanOfTreatment,
    Assessment,
    /// A section Salus does not map entries of (payers, medical equipment, advance directives,
    /// narrative-only sections): its entries are reported, the document keeps them.
    Other,
}

const T: &str = "2.16.840.1.113883.10.20.22.2.";

/// (LOINC section code, templateId suffixes, kind).
const SECTIONS: &[(&str, &[&str], SectionKind)] = &[
    ("11450-4", &["5", "5.1"], SectionKind::Problems),
    ("75310-3", &["58"], SectionKind::HealthConcerns),
    ("11535-2", &["24"], SectionKind::DischargeDiagnosis),
    ("46241-6", &["43"], SectionKind::AdmissionDiagnosis),
    ("48765-2", &["6", "6.1"], SectionKind::Allergies),
    ("10160-0", &["1", "1.1"], SectionKind::Medications),
    ("42346-7", &["44"], SectionKind::AdmissionMedications),
    (
        "10183-2",
        &["11", "11.1"],
        SectionKind::DischargeMedications,
    ),
    ("29549-3", &["38"], SectionKind::MedicationsAdministered),
    ("11369-6", &["2", "2.1"], SectionKind::Immunizations),
    ("47519-4", &["7", "7.1"], SectionKind::Procedures),
    ("46240-8", &["22", "22.1"], SectionKind::Encounters),
    ("10157-6", &["15"], SectionKind::FamilyHistory),
    ("30954-2", &["3", "3.1"], SectionKind::Results),
    ("8716-3", &["4", "4.1"], SectionKind::VitalSigns),
    ("29762-2", &["17"], SectionKind::SocialHistory),
    ("10190-7", &["56"], SectionKind::MentalStatus),
    ("47420-5", &["14"], SectionKind::FunctionalStatus),
    ("61146-7", &["60"], SectionKind::Goals),
    ("18776-5", &["10"], SectionKind::PlanOfTreatment),
    ("51848-0", &["8"], SectionKind::Assessment),
    ("51847-2", &["9"], SectionKind::Assessment),
];

/// The kind of a section, from its code, else its templateIds.
pub fn section_kind(section: Node) -> SectionKind {
    let code = section.child("code").and_then(|c| c.attr("code"));
    if let Some(code) = code {
        if let Some((_, _, kind)) = SECTIONS.iter().find(|(c, _, _)| *c == code) {
            return *kind;
        }
    }
    for t in section.template_ids() {
        if let Some(suffix) = t.strip_prefix(T) {
            if let Some((_, _, kind)) = SECTIONS.iter().find(|(_, s, _)| s.contains(&suffix)) {
                return *kind;
            }
        }
    }
    SectionKind::Other
}

/// Walk `component/structuredBody/component/section`, nested sections included.
pub fn map_body(ctx: &mut Ctx) {
    let Some(body) = ctx
        .doc
        .root_element()
        .path(&["component", "structuredBody"])
    else {
        return;
    };
    for component in body.children_named("component") {
        if let Some(section) = component.child("section") {
            map_section(ctx, section);
        }
    }
}

fn map_section(ctx: &mut Ctx, section: Node) {
    if section.null_flavor().is_some() {
        return; // "no information": nothing to map
    }
    let kind = section_kind(section);
    let mut planned = Vec::new();
    for entry in section.children_named("entry") {
        let Some(el) = entry
            .children()
            .find(|c| c.is_element() && c.tag_name().namespace() == Some(crate::xml::V3))
        else {
            continue;
        };
        if kind == SectionKind::PlanOfTreatment {
            planned.extend(plan::map(ctx, el));
        } else {
            map_entry(ctx, kind, el);
        }
    }
    if kind == SectionKind::PlanOfTreatment {
        plan::care_plan(ctx, section, planned);
    }
    for component in section.children_named("component") {
        if let Some(nested) = component.child("section") {
            map_section(ctx, nested);
        }
    }
}

/// Map one entry's act (`act`, `observation`, `organizer`, `substanceAdministration`, …).
pub fn map_entry(ctx: &mut Ctx, kind: SectionKind, el: Node) {
    use SectionKind as K;
    match kind {
        K::Problems | K::HealthConcerns | K::DischargeDiagnosis | K::AdmissionDiagnosis => {
            problems::map(ctx, kind, el)
        }
        K::Allergies => allergies::map(ctx, el),
        K::Medications
        | K::AdmissionMedications
        | K::DischargeMedications
        | K::MedicationsAdministered => medications::map(ctx, kind, el),
        K::Immunizations => immunizations::map(ctx, el),
        K::Procedures => procedures::map(ctx, el),
        K::Encounters => encounters::map(ctx, el),
        K::FamilyHistory => family_history::map(ctx, el),
        K::Results => results::map(ctx, el),
        K::VitalSigns => vitals::map(ctx, el),
        K::SocialHistory => social_history::map(ctx, el),
        K::MentalStatus | K::FunctionalStatus => assessments::map(ctx, kind, el),
        K::Goals => goals::map(ctx, el),
        K::PlanOfTreatment => {
            plan::map(ctx, el);
        }
        K::Assessment => map_by_template(ctx, el),
        K::Other => ctx.skip(
            el,
            "entries of this section are not mapped to FHIR (the document keeps them)",
        ),
    }
}

/// An entry whose section does not say what it is (Assessment sections): its templateId does.
fn map_by_template(ctx: &mut Ctx, el: Node) {
    const E: &str = "2.16.840.1.113883.10.20.22.4.";
    let is = |s: &str| el.has_template(&format!("{E}{s}"));
    if is("3") || is("4") || is("132") {
        problems::map(ctx, SectionKind::Problems, el)
    } else if is("69") {
        assessments::map(ctx, SectionKind::MentalStatus, el)
    } else if is("121") {
        goals::map(ctx, el)
    } else if is("39") || is("40") || is("41") || is("44") || is("42") {
        plan::map(ctx, el);
    } else {
        ctx.skip(
            el,
            "an entry of a kind this section's mapping does not know",
        );
    }
}

/// The `Practitioner/…` reference of an entry's first author with a person, mapping the
/// Practitioner. Falls back on nothing: an entry without an author has none.
pub fn author_ref(ctx: &mut Ctx, el: Node) -> Option<String> {
    el.children_named("author")
        .filter_map(|a| a.child("assignedAuthor"))
        .find_map(|a| map_practitioner(ctx, a, "assignedPerson"))
}

/// `statusCode/@code`.
pub fn status_code<'a>(el: Node<'a, '_>) -> Option<&'a str> {
    el.child("statusCode").and_then(|s| s.attr("code"))
}

/// Whether the act is negated (`negationInd="true"`).
pub fn negated(el: Node) -> bool {
    el.attr("negationInd") == Some("true")
}

/// The acts of an element's `entryRelationship`s (optionally of one `typeCode`).
pub fn related<'a, 'i>(
    el: Node<'a, 'i>,
    type_code: Option<&'static str>,
) -> impl Iterator<Item = Node<'a, 'i>> {
    el.children()
        .filter(|r| r.is_element() && r.tag_name().name() == "entryRelationship")
        .filter(move |r| type_code.is_none_or(|t| r.attr("typeCode") == Some(t)))
        .filter_map(|r| {
            r.children()
                .find(|c| c.is_element() && c.tag_name().namespace() == Some(crate::xml::V3))
        })
}
