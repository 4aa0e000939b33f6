//! HL7 v2 tables and their FHIR counterparts, as data.
//!
//! Each function is a `match` over the v2 code (exact, upper-cased where v2 is case-insensitive
//! in practice) and returns `None` for a code the table does not know: the caller then keeps the
//! v2 code as a coding in the `v2-0xxx` system rather than guessing.

use std::borrow::Cow;

/// `http://terminology.hl7.org/CodeSystem/v2-0203` and friends: the FHIR URI of a v2 table.
pub fn v2_table_system(table: &str) -> String {
    format!("http://terminology.hl7.org/CodeSystem/v2-{table}")
}

/// [`v2_table_system`] without building a string for the tables this mapping names (a system
/// is written into nearly every coding, so the `format!` showed in profiles).
pub(crate) fn v2_system(table: &str) -> Cow<'static, str> {
    Cow::Borrowed(match table {
        "0002" => "http://terminology.hl7.org/CodeSystem/v2-0002",
        "0007" => "http://terminology.hl7.org/CodeSystem/v2-0007",
        "0023" => "http://terminology.hl7.org/CodeSystem/v2-0023",
        "0050" => "http://terminology.hl7.org/CodeSystem/v2-0050",
        "0063" => "http://terminology.hl7.org/CodeSystem/v2-0063",
        "0069" => "http://terminology.hl7.org/CodeSystem/v2-0069",
        "0074" => "http://terminology.hl7.org/CodeSystem/v2-0074",
        "0078" => "http://terminology.hl7.org/CodeSystem/v2-0078",
        "0086" => "http://terminology.hl7.org/CodeSystem/v2-0086",
        "0092" => "http://terminology.hl7.org/CodeSystem/v2-0092",
        "0112" => "http://terminology.hl7.org/CodeSystem/v2-0112",
        "0131" => "http://terminology.hl7.org/CodeSystem/v2-0131",
        "0136" => "http://terminology.hl7.org/CodeSystem/v2-0136",
        "0162" => "http://terminology.hl7.org/CodeSystem/v2-0162",
        "0163" => "http://terminology.hl7.org/CodeSystem/v2-0163",
        "0203" => "http://terminology.hl7.org/CodeSystem/v2-0203",
        "0270" => "http://terminology.hl7.org/CodeSystem/v2-0270",
        "0276" => "http://terminology.hl7.org/CodeSystem/v2-0276",
        "0281" => "http://terminology.hl7.org/CodeSystem/v2-0281",
        "0296" => "http://terminology.hl7.org/CodeSystem/v2-0296",
        "0336" => "http://terminology.hl7.org/CodeSystem/v2-0336",
        "0443" => "http://terminology.hl7.org/CodeSystem/v2-0443",
        "0487" => "http://terminology.hl7.org/CodeSystem/v2-0487",
        _ => return Cow::Owned(v2_table_system(table)),
    })
}

pub const V3_ACT_CODE: &str = "http://terminology.hl7.org/CodeSystem/v3-ActCode";
pub const V3_NULL_FLAVOR: &str = "http://terminology.hl7.org/CodeSystem/v3-NullFlavor";
pub const V3_MARITAL_STATUS: &str = "http://terminology.hl7.org/CodeSystem/v3-MaritalStatus";
pub const V3_ROLE_CODE: &str = "http://terminology.hl7.org/CodeSystem/v3-RoleCode";
pub const V3_INTERPRETATION: &str =
    "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation";
pub const V3_PARTICIPATION_TYPE: &str =
    "http://terminology.hl7.org/CodeSystem/v3-ParticipationType";
pub const V3_CONFIDENTIALITY: &str = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality";
pub const V3_ACT_REASON: &str = "http://terminology.hl7.org/CodeSystem/v3-ActReason";
pub const CDC_RACE_ETHNICITY: &str = "urn:oid:2.16.840.1.113883.6.238";
pub const UCUM: &str = "http://unitsofmeasure.org";
pub const LOINC: &str = "http://loinc.org";
pub const OBSERVATION_CATEGORY: &str = "http://terminology.hl7.org/CodeSystem/observation-category";
pub const CONDITION_CATEGORY: &str = "http://terminology.hl7.org/CodeSystem/condition-category";
pub const SUBSCRIBER_RELATIONSHIP: &str =
    "http://terminology.hl7.org/CodeSystem/subscriber-relationship";
pub const DIAGNOSIS_ROLE: &str = "http://terminology.hl7.org/CodeSystem/diagnosis-role";
pub const US_CORE_RACE: &str = "http://hl7.org/fhir/us/core/StructureDefinition/us-core-race";
pub const US_CORE_ETHNICITY: &str =
    "http://hl7.org/fhir/us/core/StructureDefinition/us-core-ethnicity";
pub const US_CORE_DOC_CATEGORY: &str =
    "http://hl7.org/fhir/us/core/CodeSystem/us-core-documentreference-category";
pub const MVX: &str = "http://hl7.org/fhir/sid/mvx";
pub const CVX: &str = "http://hl7.org/fhir/sid/cvx";
pub const US_SSN: &str = "http://hl7.org/fhir/sid/us-ssn";
pub const US_NPI: &str = "http://hl7.org/fhir/sid/us-npi";
/// Medicare beneficiary numbers (FHIR identifier registry).
pub const US_MEDICARE: &str = "http://hl7.org/fhir/sid/us-medicare";

/// Table 0396 (coding systems): the FHIR system URI for a v2 coding-system name.
///
/// Accepts the registered names and the spellings senders commonly use instead ("LOINC",
/// "SNOMED", "RXNORM"). `HL7nnnn` and `HL7nnn` become the v2 table's FHIR code system.
pub fn coding_system(name: &str) -> Option<String> {
    coding_system_cow(name).map(Cow::into_owned)
}

/// [`coding_system`] without copying the fixed URIs (every CWE asks for one).
pub(crate) fn coding_system_cow(name: &str) -> Option<Cow<'static, str>> {
    // Upper-cased on the stack: the names are short, and this runs for every coding.
    let name = name.trim();
    let mut buffer = [0u8; 16];
    let owned;
    let upper: &str = match buffer.get_mut(..name.len()) {
        Some(slot) => {
            slot.copy_from_slice(name.as_bytes());
            slot.make_ascii_uppercase();
            // ASCII upper-casing keeps UTF-8 valid; the fallback is never taken.
            std::str::from_utf8(slot).unwrap_or_default()
        }
        None => {
            owned = name.to_ascii_uppercase();
            &owned
        }
    };
    let fixed = match upper {
        "LN" | "LOINC" => LOINC,
        "SCT" | "SNOMED" | "SNOMEDCT" | "SNOMED-CT" | "SNM" => "http://snomed.info/sct",
        "I10" | "I10C" | "ICD10CM" | "ICD-10-CM" | "ICD10" => "http://hl7.org/fhir/sid/icd-10-cm",
        "I10P" | "ICD10PCS" => "http://www.cms.gov/Medicare/Coding/ICD10",
        "I9" | "I9C" | "I9CM" | "I9M" | "ICD9" | "ICD9CM" => "http://hl7.org/fhir/sid/icd-9-cm",
        "CVX" => CVX,
        "MVX" => MVX,
        "RXNORM" | "RXN" => "http://www.nlm.nih.gov/research/umls/rxnorm",
        "NDC" => "http://hl7.org/fhir/sid/ndc",
        "UCUM" => UCUM,
        "C4" | "C5" | "CPT" | "CPT4" => "http://www.ama-assn.org/go/cpt",
        "HCPCS" | "HCPC" => "https://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets",
        "CDCREC" => CDC_RACE_ETHNICITY,
        "NCIT" => "http://ncicb.nci.nih.gov/xml/owl/EVS/Thesaurus.owl",
        "DCM" => "http://dicom.nema.org/resources/ontology/DCM",
        "ISO+" | "ISO639" => "urn:ietf:bcp:47",
        "NUCC" | "NUCCPT" | "HCPT" => "http://nucc.org/provider-taxonomy",
        "NPI" => US_NPI,
        _ => {
            // HL7nnnn / HL7nnn: a v2 table (HL70005 is race, HL70189 ethnicity...).
            if let Some(digits) = upper.strip_prefix("HL7") {
                if (3..=4).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()) {
                    return Some(Cow::Owned(v2_table_system(&format!("{digits:0>4}"))));
                }
            }
            return None;
        }
    };
    Some(Cow::Borrowed(fixed))
}

/// Table 0001 (administrative sex) → FHIR administrative-gender.
pub fn gender(code: &str) -> Option<&'static str> {
    Some(match code.to_ascii_uppercase().as_str() {
        "F" => "female",
        "M" => "male",
        "O" | "A" | "N" | "X" => "other",
        "U" => "unknown",
        _ => return None,
    })
}

/// Table 0002 (marital status) → v3-MaritalStatus (`UNK` is in v3-NullFlavor), with display.
pub fn marital_status(code: &str) -> Option<(&'static str, &'static str, &'static str)> {
    let (system, code, display) = match code.to_ascii_uppercase().as_str() {
        "A" | "E" => (V3_MARITAL_STATUS, "L", "Legally Separated"),
        "D" => (V3_MARITAL_STATUS, "D", "Divorced"),
        "M" => (V3_MARITAL_STATUS, "M", "Married"),
        "S" => (V3_MARITAL_STATUS, "S", "Never Married"),
        "W" => (V3_MARITAL_STATUS, "W", "Widowed"),
        "C" => (V3_MARITAL_STATUS, "C", "Common Law"),
        "G" | "P" | "R" => (V3_MARITAL_STATUS, "T", "Domestic partner"),
        "N" => (V3_MARITAL_STATUS, "A", "Annulled"),
        "I" => (V3_MARITAL_STATUS, "I", "Interlocutory"),
        "B" => (V3_MARITAL_STATUS, "U", "unmarried"),
        "U" | "T" => (V3_NULL_FLAVOR, "UNK", "unknown"),
        "O" => (V3_NULL_FLAVOR, "OTH", "other"),
        _ => return None,
    };
    Some((system, code, display))
}

/// Table 0004 (patient class) → Encounter.class in v3-ActCode.
///
/// | PV1-2 | class |
/// |---|---|
/// | E emergency | EMER |
/// | I inpatient | IMP |
/// | O outpatient | AMB |
/// | P preadmit | PRENC |
/// | R recurring patient | AMB (recurring visits are ambulatory) |
/// | B obstetrics | IMP |
/// | H home health (local use) | HH |
/// | V virtual (local use) | VR |
///
/// Anything else (C commercial account, N not applicable, U unknown, empty) has no ActCode:
/// Encounter.class is required, so it becomes v3-NullFlavor `UNK`.
pub fn patient_class(code: &str) -> Option<(&'static str, &'static str)> {
    Some(match code.to_ascii_uppercase().as_str() {
        "E" => ("EMER", "emergency"),
        "I" | "B" => ("IMP", "inpatient encounter"),
        "O" | "R" => ("AMB", "ambulatory"),
        "P" => ("PRENC", "pre-admission"),
        "H" => ("HH", "home health"),
        "V" => ("VR", "virtual"),
        _ => return None,
    })
}

/// Table 0063 (relationship) → v3-RoleCode, for RelatedPerson.relationship.
pub fn relationship_role_code(code: &str) -> Option<(&'static str, &'static str)> {
    Some(match code.to_ascii_uppercase().as_str() {
        "SPO" => ("SPS", "spouse"),
        "WIF" => ("WIFE", "wife"),
        "HUS" => ("HUSB", "husband"),
        "DOM" => ("DOMPART", "domestic partner"),
        "CHD" => ("CHILD", "child"),
        "SON" => ("SON", "natural son"),
        "DAU" => ("DAUC", "daughter"),
        "NCH" => ("NCHILD", "natural child"),
        "STP" | "SCH" => ("STPCHLD", "step child"),
        "FCH" => ("CHLDFOST", "foster child"),
        "ADC" => ("CHLDADOPT", "adopted child"),
        "MTH" => ("MTH", "mother"),
        "FTH" => ("FTH", "father"),
        "PAR" => ("PRN", "parent"),
        "SIB" => ("SIB", "sibling"),
        "BRO" => ("BRO", "brother"),
        "SIS" => ("SIS", "sister"),
        "GRP" => ("GRPRN", "grandparent"),
        "GCH" => ("GRNDCHILD", "grandchild"),
        "GRD" => ("GUARD", "guardian"),
        "FND" => ("FRND", "unrelated friend"),
        "EXF" => ("EXT", "extended family member"),
        "SEL" => ("ONESELF", "self"),
        "NBR" => ("NBOR", "neighbor"),
        "ROM" => ("ROOM", "roommate"),
        _ => return None,
    })
}

/// Table 0063 (and the older table 0344 in IN1-17) → Coverage.relationship
/// (`subscriber-relationship`).
pub fn subscriber_relationship(code: &str) -> Option<&'static str> {
    Some(match code.to_ascii_uppercase().as_str() {
        "SEL" | "01" | "1" => "self",
        "SPO" | "WIF" | "HUS" | "02" | "2" => "spouse",
        "DOM" => "common",
        "CHD" | "SON" | "DAU" | "NCH" | "STP" | "SCH" | "FCH" | "ADC" | "03" | "3" | "04" | "4"
        | "05" | "5" | "06" | "6" | "07" | "7" => "child",
        "PAR" | "MTH" | "FTH" | "18" => "parent",
        "15" => "injured",
        "OTH" | "EMR" | "EME" | "GRD" | "GRP" | "SIB" | "BRO" | "SIS" | "FND" | "EXF" | "08"
        | "09" | "10" | "11" | "12" | "13" | "14" | "16" | "17" | "19" => "other",
        _ => return None,
    })
}

/// Table 0078 (abnormal flags) → v3-ObservationInterpretation, whose codes mostly coincide.
pub fn interpretation(code: &str) -> Option<(&'static str, &'static str)> {
    Some(match code {
        "L" => ("L", "Low"),
        "H" => ("H", "High"),
        "LL" => ("LL", "Critical low"),
        "HH" => ("HH", "Critical high"),
        "LU" => ("LU", "Significantly low"),
        "HU" => ("HU", "Significantly high"),
        "<" => ("<", "Off scale low"),
        ">" => (">", "Off scale high"),
        "N" => ("N", "Normal"),
        "A" => ("A", "Abnormal"),
        "AA" => ("AA", "Critical abnormal"),
        "U" => ("U", "Significant change up"),
        "D" => ("D", "Significant change down"),
        "B" => ("B", "Better"),
        "W" => ("W", "Worse"),
        "S" => ("S", "Susceptible"),
        "R" => ("R", "Resistant"),
        "I" => ("I", "Intermediate"),
        "MS" => ("MS", "moderately susceptible"),
        "VS" => ("VS", "very susceptible"),
        "NEG" => ("NEG", "Negative"),
        "POS" => ("POS", "Positive"),
        "IND" => ("IND", "Indeterminate"),
        "DET" => ("DET", "Detected"),
        "ND" => ("ND", "Not detected"),
        "AC" => ("AC", "Anti-complementary substances present"),
        "QCF" => ("QCF", "Quality control failure"),
        "RR" => ("RR", "Reactive"),
        "NR" => ("NR", "Non-reactive"),
        "WR" => ("WR", "Weakly reactive"),
        "TOX" => ("TOX", "Cytotoxic substance present"),
        "E" => ("E", "Equivocal"),
        "EX" => ("EX", "outside threshold"),
        "EXP" => ("EXP", "Expected"),
        "UNE" => ("UNE", "Unexpected"),
        _ => return None,
    })
}

/// Table 0085 (observation result status, OBX-11) → Observation.status.
///
/// | OBX-11 | status |
/// |---|---|
/// | F final, U changed to final | final |
/// | C corrected | corrected |
/// | A amended (v2.9) | amended |
/// | P preliminary, R not verified, S partial | preliminary |
/// | I in process, O order detail only | registered |
/// | D deletes the OBX, W posted as wrong | entered-in-error |
/// | X cannot be obtained, N not asked | cancelled |
/// | empty or other | unknown |
pub fn observation_status(code: &str) -> &'static str {
    match code.to_ascii_uppercase().as_str() {
        "F" | "U" => "final",
        "C" => "corrected",
        "A" => "amended",
        "P" | "R" | "S" => "preliminary",
        "I" | "O" => "registered",
        "D" | "W" => "entered-in-error",
        "X" | "N" => "cancelled",
        _ => "unknown",
    }
}

/// Table 0123 (result status, OBR-25) → DiagnosticReport.status.
///
/// | OBR-25 | status |
/// |---|---|
/// | O order received, I in process | registered |
/// | S scheduled, A some results | partial |
/// | P preliminary, R not verified | preliminary |
/// | F final | final |
/// | C corrected | corrected |
/// | X cancelled | cancelled |
/// | empty or other (Y, Z) | unknown |
pub fn report_status(code: &str) -> &'static str {
    match code.to_ascii_uppercase().as_str() {
        "O" | "I" => "registered",
        "S" | "A" => "partial",
        "P" | "R" => "preliminary",
        "F" => "final",
        "C" => "corrected",
        "X" => "cancelled",
        _ => "unknown",
    }
}

/// Table 0128 (allergy severity, AL1-4) → AllergyIntolerance.reaction.severity.
pub fn allergy_severity(code: &str) -> Option<&'static str> {
    Some(match code.to_ascii_uppercase().as_str() {
        "SV" => "severe",
        "MO" => "moderate",
        "MI" => "mild",
        _ => return None,
    })
}

/// Table 0127 (allergen type, AL1-2) → (AllergyIntolerance.type, category).
pub fn allergen_type(code: &str) -> (Option<&'static str>, Option<&'static str>) {
    match code.to_ascii_uppercase().as_str() {
        "DA" => (Some("allergy"), Some("medication")),
        "FA" => (Some("allergy"), Some("food")),
        "EA" | "AA" | "PA" | "LA" => (Some("allergy"), Some("environment")),
        "MA" => (Some("allergy"), None),
        "DI" => (Some("intolerance"), Some("medication")),
        "FI" => (Some("intolerance"), Some("food")),
        "MC" => (None, None),
        _ => (None, None),
    }
}

/// Table 0189 (ethnic group) in its pre-CDC single-letter form → the CDC code.
pub fn legacy_ethnicity(code: &str) -> Option<(&'static str, &'static str)> {
    Some(match code.to_ascii_uppercase().as_str() {
        "H" => ("2135-2", "Hispanic or Latino"),
        "N" => ("2186-5", "Not Hispanic or Latino"),
        _ => return None,
    })
}

/// The five OMB race categories (US Core `ombCategory`), by CDC code.
pub fn omb_race(code: &str) -> Option<&'static str> {
    Some(match code {
        "1002-5" => "American Indian or Alaska Native",
        "2028-9" => "Asian",
        "2054-5" => "Black or African American",
        "2076-8" => "Native Hawaiian or Other Pacific Islander",
        "2106-3" => "White",
        _ => return None,
    })
}

/// The two OMB ethnicity categories.
pub fn omb_ethnicity(code: &str) -> Option<&'static str> {
    Some(match code {
        "2135-2" => "Hispanic or Latino",
        "2186-5" => "Not Hispanic or Latino",
        _ => return None,
    })
}

/// Does this look like a CDC Race & Ethnicity code (`nnnn-n`)?
pub fn is_cdc_race_code(code: &str) -> bool {
    let b = code.as_bytes();
    b.len() == 6 && b[..4].iter().all(u8::is_ascii_digit) && b[4] == b'-' && b[5].is_ascii_digit()
}

/// Table 0190 (address type, XAD-7) → (Address.use, Address.type).
pub fn address_use_type(code: &str) -> (Option<&'static str>, Option<&'static str>) {
    match code.to_ascii_uppercase().as_str() {
        "H" | "P" => (Some("home"), None),
        "B" | "O" => (Some("work"), None),
        "C" => (Some("temp"), None),
        "BA" | "OLD" => (Some("old"), None),
        "BI" => (Some("billing"), None),
        "M" | "SH" => (None, Some("postal")),
        _ => (None, None),
    }
}

/// Table 0200 (name type, XPN-7) → HumanName.use.
pub fn name_use(code: &str) -> Option<&'static str> {
    Some(match code.to_ascii_uppercase().as_str() {
        "L" | "C" | "R" => "official",
        "D" | "A" | "T" => "usual",
        "M" => "maiden",
        "N" => "nickname",
        "S" => "anonymous",
        "BAD" => "old",
        "NB" | "TEMP" => "temp",
        _ => return None,
    })
}

/// Table 0201 (telecommunication use, XTN-2) → ContactPoint.use.
pub fn telecom_use(code: &str) -> Option<&'static str> {
    Some(match code.to_ascii_uppercase().as_str() {
        "PRN" | "ORN" => "home",
        "WPN" => "work",
        "VHN" => "temp",
        _ => return None,
    })
}

/// Table 0202 (telecommunication equipment, XTN-3) → ContactPoint.system.
pub fn telecom_system(code: &str) -> Option<&'static str> {
    Some(match code.to_ascii_uppercase().as_str() {
        "PH" | "CP" | "SAT" => "phone",
        "FX" => "fax",
        "BP" => "pager",
        "INTERNET" | "X.400" => "email",
        "MD" | "TDD" | "TTY" => "other",
        _ => return None,
    })
}

/// Table 0203 (identifier type): the display for the codes Salus sees most.
pub fn identifier_type_display(code: &str) -> Option<&'static str> {
    Some(match code {
        "MR" => "Medical record number",
        "SS" => "Social Security number",
        "VN" => "Visit number",
        "AN" => "Account number",
        "PI" => "Patient internal identifier",
        "PT" => "Patient external identifier",
        "DL" => "Driver's license number",
        "NPI" => "National provider identifier",
        "PLAC" => "Placer Identifier",
        "FILL" => "Filler Identifier",
        "PN" => "Person number",
        "MA" => "Patient Medicaid number",
        "MC" => "Patient's Medicare number",
        "PPN" => "Passport number",
        "EN" => "Employer number",
        "MB" => "Member Number",
        "MI" => "Military ID number",
        _ => return None,
    })
}

/// Table 0038 (order status, ORC-5) → ServiceRequest.status.
pub fn order_status(code: &str) -> Option<&'static str> {
    Some(match code.to_ascii_uppercase().as_str() {
        "A" | "IP" | "SC" => "active",
        "CA" | "DC" | "RP" => "revoked",
        "CM" => "completed",
        "ER" => "entered-in-error",
        "HD" => "on-hold",
        _ => return None,
    })
}

/// Table 0119 (order control, ORC-1) → ServiceRequest.status, when ORC-5 is empty.
pub fn order_control_status(code: &str) -> Option<&'static str> {
    Some(match code.to_ascii_uppercase().as_str() {
        "NW" | "OK" | "RL" | "XO" | "XX" | "SC" | "SN" | "NA" | "RP" | "RO" | "CH" | "PA"
        | "RE" | "XR" => "active",
        "CA" | "OC" | "CR" | "DC" | "DR" | "OD" | "OR" => "revoked",
        "HD" | "HR" | "OH" => "on-hold",
        _ => return None,
    })
}

/// Table 0271 (document completion status, TXA-17) → DocumentReference.docStatus.
pub fn document_completion(code: &str) -> Option<&'static str> {
    Some(match code.to_ascii_uppercase().as_str() {
        "AU" | "LA" => "final",
        "DI" | "DO" | "IN" | "IP" | "PA" | "PR" => "preliminary",
        _ => return None,
    })
}

/// Table 0275 (document availability status, TXA-19) → DocumentReference.status.
pub fn document_availability(code: &str) -> Option<&'static str> {
    Some(match code.to_ascii_uppercase().as_str() {
        "AV" | "UN" => "current",
        "OB" | "RE" => "superseded",
        "CA" | "PU" => "entered-in-error",
        _ => return None,
    })
}

/// Table 0272 (document confidentiality status, TXA-18) → v3-Confidentiality.
pub fn confidentiality(code: &str) -> Option<(&'static str, &'static str)> {
    Some(match code.to_ascii_uppercase().as_str() {
        "V" => ("V", "very restricted"),
        "R" => ("R", "restricted"),
        "U" => ("N", "normal"),
        _ => return None,
    })
}

/// Table 0322 (completion status, RXA-20) → (Immunization.status, isSubpotent).
///
/// | RXA-20 | status |
/// |---|---|
/// | CP complete, empty | completed |
/// | PA partially administered | completed, `isSubpotent: true` |
/// | NA not administered | not-done |
/// | RE refused | not-done, statusReason RXA-18 or v3-ActReason PATOBJ |
pub fn immunization_status(code: &str) -> Option<(&'static str, bool)> {
    Some(match code.to_ascii_uppercase().as_str() {
        "CP" | "" => ("completed", false),
        "PA" => ("completed", true),
        "NA" | "RE" => ("not-done", false),
        _ => return None,
    })
}

/// Table 0131 (contact role, NK1-7): display for the codes FHIR's PatientContactRelationship
/// value set takes straight from v2.
pub fn contact_role_display(code: &str) -> Option<&'static str> {
    Some(match code.to_ascii_uppercase().as_str() {
        "C" => "Emergency Contact",
        "E" => "Employer",
        "F" => "Federal Agency",
        "I" => "Insurance Company",
        "N" => "Next-of-Kin",
        "O" => "Other",
        "S" => "State Agency",
        "U" => "Unknown",
        _ => return None,
    })
}

/// LOINC codes of the FHIR vital-signs profiles (category `vital-signs` instead of laboratory).
pub fn is_vital_sign_loinc(code: &str) -> bool {
    matches!(
        code,
        "85353-1"
            | "9279-1"
            | "8867-4"
            | "2708-6"
            | "59408-5"
            | "8310-5"
            | "8302-2"
            | "8306-3"
            | "9843-4"
            | "29463-7"
            | "3141-9"
            | "39156-5"
            | "85354-9"
            | "8480-6"
            | "8462-4"
            | "8478-0"
            | "59576-9"
            | "8289-1"
            | "77606-2"
    )
}

/// Units that are valid UCUM as written, for OBX-6 without a coding system: a conservative
/// list (a unit not in it stays text only, which is never wrong).
pub fn looks_ucum(unit: &str) -> bool {
    matches!(
        unit,
        "%" | "g"
            | "kg"
            | "mg"
            | "ug"
            | "ng"
            | "pg"
            | "L"
            | "dL"
            | "mL"
            | "uL"
            | "fL"
            | "m"
            | "cm"
            | "mm"
            | "s"
            | "min"
            | "h"
            | "d"
            | "wk"
            | "mo"
            | "a"
            | "/min"
            | "{beats}/min"
            | "{breaths}/min"
            | "mm[Hg]"
            | "Cel"
            | "[degF]"
            | "[lb_av]"
            | "[in_i]"
            | "kg/m2"
            | "g/dL"
            | "g/L"
            | "mg/dL"
            | "mg/L"
            | "ug/dL"
            | "ug/L"
            | "ng/mL"
            | "ng/dL"
            | "pg/mL"
            | "mmol/L"
            | "umol/L"
            | "nmol/L"
            | "pmol/L"
            | "mol/L"
            | "meq/L"
            | "mEq/L"
            | "U/L"
            | "[IU]/L"
            | "m[IU]/L"
            | "u[IU]/mL"
            | "10*3/uL"
            | "10*6/uL"
            | "10*9/L"
            | "10*12/L"
            | "/uL"
            | "mL/min"
            | "mL/min/{1.73_m2}"
            | "mm/h"
            | "fL/cell"
            | "pg/cell"
            | "{ratio}"
            | "1"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coding_systems() {
        assert_eq!(coding_system("LN").as_deref(), Some(LOINC));
        assert_eq!(
            coding_system("I10").as_deref(),
            Some("http://hl7.org/fhir/sid/icd-10-cm")
        );
        assert_eq!(
            coding_system("HL70203").as_deref(),
            Some("http://terminology.hl7.org/CodeSystem/v2-0203")
        );
        assert_eq!(
            coding_system("HL7163").as_deref(),
            Some("http://terminology.hl7.org/CodeSystem/v2-0163")
        );
        assert_eq!(coding_system("99LOCAL"), None);
    }

    #[test]
    fn cdc_codes() {
        assert!(is_cdc_race_code("2106-3"));
        assert!(!is_cdc_race_code("1"));
        assert_eq!(omb_race("2028-9"), Some("Asian"));
    }
}
