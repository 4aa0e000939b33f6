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
//! | Pre-operative, post-procedure diagnosis; procedure findings, indications, complications | 10219-4, 59769-0, 59776-5, 59768-2, 55109-3 | 34, 36, 28, 29, 37 | Condition (encounter-diagnosis) |
//! | Allergies | 48765-2 | 6, 6.1 | AllergyIntolerance |
//! | Medications (and admission, discharge) | 10160-0, 42346-7, 10183-2 | 1, 1.1, 44, 11, 11.1 | MedicationStatement (moodCode EVN) or MedicationRequest (INT) |
//! | Medications administered | 29549-3 | 38 | MedicationAdministration |
//! | Anesthesia | 59774-0 | 25 | MedicationAdministration, Procedure |
//! | Immunizations | 11369-6 | 2, 2.1 | Immunization |
//! | Procedures | 47519-4 | 7, 7.1 | Procedure (all three procedure-activity templates) |
//! | Medical Equipment | 46264-8 | 23 | Procedure (device placements); supplies are reported, not mapped |
//! | Encounters | 46240-8 | 22, 22.1 | Encounter |
//! | Family History | 10157-6 | 15 | FamilyMemberHistory |
//! | Results | 30954-2 | 3, 3.1 | DiagnosticReport, Observation (laboratory) |
//! | Vital Signs | 8716-3 | 4, 4.1 | Observation (vital-signs) |
//! | Social History | 29762-2 | 17 | Observation (social-history, SDoH), Patient birth sex |
//! | Mental Status, Functional Status, assessment scales | 10190-7, 47420-5 | 56, 14 | Observation (survey / exam) with `hasMember` items; a problem observation there (functional status problem) → Condition |
//! | Nutrition | 61144-2 | 57 | Observation (exam): nutritional status and assessments |
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
    /// Pre-operative and post-procedure diagnosis, procedure findings, indications and
    /// complications (procedure and operative notes).
    ProcedureDiagnosis,
    Allergies,
    Medications,
    AdmissionMedications,
    DischargeMedications,
    MedicationsAdministered,
    /// Anesthesia (procedure and operative notes): the agents given and the procedure.
    Anesthesia,
    Immunizations,
    Procedures,
    /// Medical Equipment: implanted devices' procedures.
    MedicalEquipment,
    Encounters,
    FamilyHistory,
    Results,
    VitalSigns,
    SocialHistory,
    MentalStatus,
    FunctionalStatus,
    Nutrition,
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
    ("10219-4", &["34"], SectionKind::ProcedureDiagnosis),
    ("59769-0", &["36"], SectionKind::ProcedureDiagnosis),
    ("59776-5", &["28"], SectionKind::ProcedureDiagnosis),
    ("59768-2", &["29"], SectionKind::ProcedureDiagnosis),
    ("55109-3", &["37"], SectionKind::ProcedureDiagnosis),
    ("48765-2", &["6", "6.1"], SectionKind::Allergies),
    ("10160-0", &["1", "1.1"], SectionKind::Medications),
    ("42346-7", &["44"], SectionKind::AdmissionMedications),
    (
        "10183-2",
        &["11", "11.1"],
        SectionKind::DischargeMedications,
    ),
    ("29549-3", &["38"], SectionKind::MedicationsAdministered),
    ("59774-0", &["25"], SectionKind::Anesthesia),
    ("11369-6", &["2", "2.1"], SectionKind::Immunizations),
    ("47519-4", &["7", "7.1"], SectionKind::Procedures),
    ("46264-8", &["23"], SectionKind::MedicalEquipment),
    ("46240-8", &["22", "22.1"], SectionKind::Encounters),
    ("10157-6", &["15"], SectionKind::FamilyHistory),
    ("30954-2", &["3", "3.1"], SectionKind::Results),
    ("8716-3", &["4", "4.1"], SectionKind::VitalSigns),
    ("29762-2", &["17"], SectionKind::SocialHistory),
    ("10190-7", &["56"], SectionKind::MentalStatus),
    ("47420-5", &["14"], SectionKind::FunctionalStatus),
    ("61144-2", &["57"], SectionKind::Nutrition),
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
/// A top-level section and the resources its entries became (for the Composition).
pub struct MappedSection<'a, 'i> {
    pub section: Node<'a, 'i>,
    pub entries: Vec<String>,
}

/// Walk `component/structuredBody/component/section`, nested sections included.
pub fn map_body<'a, 'i>(ctx: &mut Ctx<'a, 'i>) -> Vec<MappedSection<'a, 'i>> {
    let Some(body) = ctx
        .doc
        .root_element()
        .path(&["component", "structuredBody"])
    else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for component in body.children_named("component") {
        if let Some(section) = component.child("section") {
            let start = ctx.len();
            map_section(ctx, section);
            out.push(MappedSection {
                section,
                entries: ctx.references_since(start),
            });
        }
    }
    out
}

fn map_section(ctx: &mut Ctx, section: Node) {
    if section.null_flavor().is_some() {
        return; // "no information": nothing to map
    }
    let kind = section_kind(section);
    if kind == SectionKind::Other {
        let entries = section.children_named("entry").count();
        if entries > 0 {
            // Not an error in the document: Salus does not map this section (payers, medical
            // equipment, advance directives …). The DocumentReference keeps it.
            ctx.warn(
                section,
                format!(
                    "a section Salus does not map to FHIR resources ({entries} {}); the stored document keeps it",
                    if entries == 1 { "entry" } else { "entries" }
                ),
            );
        }
    }
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
        K::Problems
        | K::HealthConcerns
        | K::DischargeDiagnosis
        | K::AdmissionDiagnosis
        | K::ProcedureDiagnosis => problems::map(ctx, kind, el),
        K::Allergies => allergies::map(ctx, el),
        K::Medications
        | K::AdmissionMedications
        | K::DischargeMedications
        | K::MedicationsAdministered => medications::map(ctx, kind, el),
        K::Anesthesia if el.tag_name().name() == "procedure" => procedures::map(ctx, el),
        K::Anesthesia => medications::map(ctx, K::MedicationsAdministered, el),
        K::Immunizations => immunizations::map(ctx, el),
        K::Procedures => procedures::map(ctx, el),
        K::MedicalEquipment if el.tag_name().name() == "procedure" => procedures::map(ctx, el),
        // Not an error in the document: supplies are not mapped; the stored document keeps them.
        K::MedicalEquipment => ctx.warn(
            el,
            "a medical equipment supply or device organizer; not mapped to a FHIR resource (the stored document keeps it)",
        ),
        K::Encounters => encounters::map(ctx, el),
        K::FamilyHistory => family_history::map(ctx, el),
        K::Results => results::map(ctx, el),
        K::VitalSigns => vitals::map(ctx, el),
        K::SocialHistory => social_history::map(ctx, el),
        // A functional or cognitive status problem (4.68, 4.73; R2.1 also marks them 4.4) is a
        // problem observation: a Condition.
        K::MentalStatus | K::FunctionalStatus
            if ["4", "68", "73"]
                .iter()
                .any(|t| el.has_template(&format!("2.16.840.1.113883.10.20.22.4.{t}"))) =>
        {
            problems::map(ctx, K::Problems, el)
        }
        K::MentalStatus | K::FunctionalStatus => assessments::map(ctx, kind, el),
        K::Nutrition => map_nutrition(ctx, el),
        K::Goals => goals::map(ctx, el),
        K::PlanOfTreatment => {
            plan::map(ctx, el);
        }
        K::Assessment => map_by_template(ctx, el),
        K::Other => {} // reported once for the section by `map_section`
    }
}

/// Nutritional Status Observation (4.124) and the Nutrition Assessments (4.138) it holds: each
/// an Observation in category `exam`, as C-CDA on FHIR and Microsoft's converter map them.
fn map_nutrition(ctx: &mut Ctx, el: Node) {
    if el.tag_name().name() != "observation" {
        ctx.skip(
            el,
            "a nutrition entry that is not an observation; not mapped",
        );
        return;
    }
    observation::map_observation(ctx, el, "exam", None);
    for assessment in related(el, Some("SUBJ")) {
        if assessment.tag_name().name() == "observation" {
            observation::map_observation(ctx, assessment, "exam", None);
        }
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

/// The observations of an organizer's components; a component that is something else is
/// reported (`what` names the organizer: "result", "vital signs").
pub fn organizer_observations<'a, 'i>(
    ctx: &mut Ctx,
    org: Node<'a, 'i>,
    what: &str,
) -> Vec<Node<'a, 'i>> {
    let mut out = Vec::new();
    for c in org.children_named("component") {
        let Some(el) = c.children().find(|n| n.is_element()) else {
            continue;
        };
        if el.tag_name().name() == "observation" {
            out.push(el);
        } else {
            ctx.skip(
                el,
                format!("a {what} organizer component that is not an observation"),
            );
        }
    }
    out
}

/// The `Practitioner/…` references of an act's `performer/assignedEntity`s (each mapped), in
/// order, without repeats.
pub fn performer_refs(ctx: &mut Ctx, el: Node) -> Vec<String> {
    let entities: Vec<Node> = el
        .children_named("performer")
        .filter_map(|p| p.child("assignedEntity"))
        .collect();
    let mut refs: Vec<String> = Vec::new();
    for e in entities {
        if let Some(r) = map_practitioner(ctx, e, "assignedPerson") {
            if !refs.contains(&r) {
                refs.push(r);
            }
        }
    }
    refs
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
