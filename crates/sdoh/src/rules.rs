//! The screening data: instruments, scores, and which answers are positive for which social
//! risk. Every code here is a real LOINC or SNOMED CT code; where each rule comes from is
//! written beside it (the sources are listed in the crate documentation).
//!
//! Kept as Rust constants rather than a TSV read at start-up: the table is part of the code's
//! behaviour, it is checked by the compiler, and there is nothing to parse (or fail) at run
//! time.

/// LOINC.
pub const LOINC: &str = "http://loinc.org";
/// SNOMED CT.
pub const SNOMED: &str = "http://snomed.info/sct";
/// The Gravity Project's category codes (SDOH Clinical Care IG).
pub const SDOHCC_CATEGORY: &str =
    "http://hl7.org/fhir/us/sdoh-clinicalcare/CodeSystem/SDOHCC-CodeSystemTemporaryCodes";

/// A screening instrument Salus derives findings from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Instrument {
    /// CMS Accountable Health Communities Health-Related Social Needs screening tool, core
    /// questions (LOINC 96777-8).
    AhcHrsn,
    /// AHC HRSN supplemental questions (LOINC 97023-6).
    AhcHrsnSupplemental,
    /// NACHC PRAPARE (LOINC 93025-5).
    Prapare,
    /// Hunger Vital Sign (LOINC 88121-9).
    HungerVitalSign,
    /// PHQ-2 (LOINC 55757-9).
    Phq2,
    /// PHQ-9 (LOINC 44249-1).
    Phq9,
    /// GAD-7 (LOINC 69737-5).
    Gad7,
}

impl Instrument {
    /// Every instrument, in the order detection tries item codes (most specific first).
    pub const ALL: [Instrument; 7] = [
        Instrument::Phq9,
        Instrument::Gad7,
        Instrument::Prapare,
        Instrument::AhcHrsn,
        Instrument::AhcHrsnSupplemental,
        Instrument::Phq2,
        Instrument::HungerVitalSign,
    ];

    /// The LOINC panel code.
    pub fn panel_code(self) -> &'static str {
        match self {
            Instrument::AhcHrsn => "96777-8",
            Instrument::AhcHrsnSupplemental => "97023-6",
            Instrument::Prapare => "93025-5",
            Instrument::HungerVitalSign => "88121-9",
            Instrument::Phq2 => "55757-9",
            Instrument::Phq9 => "44249-1",
            Instrument::Gad7 => "69737-5",
        }
    }

    /// The panel's name (LOINC's, shortened where LOINC's is long).
    pub fn panel_display(self) -> &'static str {
        match self {
            Instrument::AhcHrsn => "Accountable health communities (AHC) health-related social needs screening (HRSN) tool",
            Instrument::AhcHrsnSupplemental => "Accountable health communities (AHC) health-related social needs (HRSN) supplemental questions",
            Instrument::Prapare => "Protocol for Responding to and Assessing Patients' Assets, Risks, and Experiences [PRAPARE]",
            Instrument::HungerVitalSign => "Hunger Vital Sign [HVS]",
            Instrument::Phq2 => "Patient Health Questionnaire-2 (PHQ-2)",
            Instrument::Phq9 => "PHQ-9 quick depression assessment panel [Reported.PHQ]",
            Instrument::Gad7 => "Generalized anxiety disorder 7 item (GAD-7)",
        }
    }

    /// A short name for warnings.
    pub fn name(self) -> &'static str {
        match self {
            Instrument::AhcHrsn => "AHC HRSN",
            Instrument::AhcHrsnSupplemental => "AHC HRSN supplemental",
            Instrument::Prapare => "PRAPARE",
            Instrument::HungerVitalSign => "Hunger Vital Sign",
            Instrument::Phq2 => "PHQ-2",
            Instrument::Phq9 => "PHQ-9",
            Instrument::Gad7 => "GAD-7",
        }
    }

    /// A social-needs instrument (its Observations get the US Core `sdoh` category and the
    /// social-risk rules apply), as opposed to a mental-health one.
    pub fn is_sdoh(self) -> bool {
        !matches!(self, Instrument::Phq2 | Instrument::Phq9 | Instrument::Gad7)
    }

    /// Words that name the instrument in a `questionnaire` canonical URL (lower case).
    pub(crate) fn url_words(self) -> &'static [&'static str] {
        match self {
            Instrument::AhcHrsn => &["ahc-hrsn", "ahc_hrsn", "ahchrsn", "hrsn"],
            Instrument::AhcHrsnSupplemental => &[],
            Instrument::Prapare => &["prapare"],
            Instrument::HungerVitalSign => &[
                "hunger-vital-sign",
                "hungervitalsign",
                "hunger_vital_sign",
                "hvs",
            ],
            Instrument::Phq2 => &["phq-2", "phq2", "phq_2"],
            Instrument::Phq9 => &["phq-9", "phq9", "phq_9"],
            Instrument::Gad7 => &["gad-7", "gad7", "gad_7"],
        }
    }

    /// Item codes that only this instrument (of those here) asks: one of them in a response
    /// names the instrument when its `questionnaire` does not.
    pub(crate) fn distinctive_items(self) -> &'static [&'static str] {
        match self {
            // PHQ-9 items 3-9 and the PHQ-9 total (items 1-2 are PHQ-2's too).
            Instrument::Phq9 => &[
                "44259-0", "44254-1", "44251-7", "44258-2", "44252-5", "44253-3", "44260-8",
                "44261-6", "69722-7",
            ],
            Instrument::Gad7 => &[
                "69725-0", "68509-9", "69733-4", "69734-2", "69735-9", "69689-8", "69736-7",
                "70274-6", "69726-8",
            ],
            // PRAPARE's own section and question codes (LOINC 93025-5 panel).
            Instrument::Prapare => &[
                "93043-8", "93042-0", "93041-2", "93040-4", "93039-6", "93038-8", "93035-4",
                "93034-7", "93033-9", "93031-3", "93029-7", "93028-9", "93027-1", "93026-3",
                "63586-2", "56799-0", "54899-0", "82589-3", "67875-5", "76437-3", "56051-6",
                "63512-8", "76501-6",
            ],
            // AHC HRSN core questions 2 (housing problems), 5 (utilities), 7-10 (safety).
            Instrument::AhcHrsn => &[
                "96778-6", "96779-4", "95618-5", "95617-7", "95616-9", "95615-1", "95614-4",
            ],
            // AHC HRSN supplemental: financial strain, employment, family support, … .
            Instrument::AhcHrsnSupplemental => &[
                "76513-1", "96780-2", "96781-0", "93159-2", "97027-7", "96782-8", "89555-7",
                "68516-4", "68517-2", "96842-0", "95530-2", "68524-8",
            ],
            Instrument::Phq2 => &["55758-7"],
            Instrument::HungerVitalSign => &["88122-7", "88123-5", "88124-3"],
        }
    }
}

/// A scored instrument: its items, how answers score, its total and severity bands.
#[derive(Debug)]
pub(crate) struct Scale {
    pub instrument: Instrument,
    /// The scored items (every one needed for a total).
    pub items: &'static [&'static str],
    /// The total score's LOINC code and name.
    pub total: (&'static str, &'static str),
    pub max: i64,
    /// Severity bands: (lowest score, code, display, text).
    pub bands: &'static [(i64, &'static str, &'static str, &'static str)],
}

/// LOINC answer list LL358-3 ("Not at all" … "Nearly every day"), shared by PHQ-2, PHQ-9 and
/// GAD-7, scored 0-3 (Kroenke, Spitzer & Williams 2001; Spitzer et al. 2006).
pub(crate) const FREQUENCY_SCORES: [(&str, i64); 4] = [
    ("LA6568-5", 0), // Not at all
    ("LA6569-3", 1), // Several days
    ("LA6570-1", 2), // More than half the days
    ("LA6571-9", 3), // Nearly every day
];

/// PHQ-9 item 9, thoughts that you would be better off dead or of hurting yourself.
pub(crate) const PHQ9_ITEM9: &str = "44260-8";
/// "Not at all".
pub(crate) const NOT_AT_ALL: &str = "LA6568-5";

pub(crate) const PHQ9: Scale = Scale {
    instrument: Instrument::Phq9,
    // US Core PHQ-9 Questionnaire order: interest, down, sleep, tired, appetite, failure,
    // concentrating, slow/restless, better off dead.
    items: &[
        "44250-9", "44255-8", "44259-0", "44254-1", "44251-7", "44258-2", "44252-5", "44253-3",
        "44260-8",
    ],
    total: (
        "44261-6",
        "Patient Health Questionnaire 9 item (PHQ-9) total score [Reported]",
    ),
    max: 27,
    // Kroenke, Spitzer & Williams 2001 (J Gen Intern Med 16:606).
    bands: &[
        (0, "minimal", "Minimal", "Minimal depression (PHQ-9 0-4)"),
        (5, "mild", "Mild", "Mild depression (PHQ-9 5-9)"),
        (
            10,
            "moderate",
            "Moderate",
            "Moderate depression (PHQ-9 10-14)",
        ),
        (
            15,
            "moderately-severe",
            "Moderately severe",
            "Moderately severe depression (PHQ-9 15-19)",
        ),
        (20, "severe", "Severe", "Severe depression (PHQ-9 20-27)"),
    ],
};

pub(crate) const PHQ2: Scale = Scale {
    instrument: Instrument::Phq2,
    items: &["44250-9", "44255-8"],
    total: (
        "55758-7",
        "Patient Health Questionnaire 2 item (PHQ-2) total score [Reported]",
    ),
    max: 6,
    // Kroenke, Spitzer & Williams 2003 (Med Care 41:1284): 3 or more is a positive screen.
    bands: &[
        (
            0,
            "negative",
            "Negative screen",
            "PHQ-2 below 3: negative depression screen",
        ),
        (
            3,
            "positive",
            "Positive screen",
            "PHQ-2 3 or more: positive depression screen",
        ),
    ],
};

pub(crate) const GAD7: Scale = Scale {
    instrument: Instrument::Gad7,
    items: &[
        "69725-0", "68509-9", "69733-4", "69734-2", "69735-9", "69689-8", "69736-7",
    ],
    total: (
        "70274-6",
        "Generalized anxiety disorder 7 item (GAD-7) total score [Reported.PHQ]",
    ),
    max: 21,
    // Spitzer, Kroenke, Williams & Löwe 2006 (Arch Intern Med 166:1092).
    bands: &[
        (0, "minimal", "Minimal", "Minimal anxiety (GAD-7 0-4)"),
        (5, "mild", "Mild", "Mild anxiety (GAD-7 5-9)"),
        (10, "moderate", "Moderate", "Moderate anxiety (GAD-7 10-14)"),
        (15, "severe", "Severe", "Severe anxiety (GAD-7 15-21)"),
    ],
};

/// AHC HRSN questions 7-10 (interpersonal safety), answers scored 1-5; a sum of 11 or more
/// means the person might not be safe (CMS, "The Accountable Health Communities
/// Health-Related Social Needs Screening Tool", 2017).
pub(crate) const SAFETY_ITEMS: [&str; 4] = ["95618-5", "95617-7", "95616-9", "95615-1"];
pub(crate) const SAFETY_TOTAL: (&str, &str) =
    ("95614-4", "Interpersonal safety total score [AHC HRSN]");
pub(crate) const SAFETY_THRESHOLD: i64 = 11;
pub(crate) const SAFETY_SCORES: [(&str, i64); 5] = [
    ("LA6270-8", 1),  // Never
    ("LA10066-1", 2), // Rarely
    ("LA10082-8", 3), // Sometimes
    ("LA16644-9", 4), // Fairly often
    ("LA6482-9", 5),  // Frequently
];

/// Hunger Vital Sign question 3, food insecurity risk, and its answers.
pub(crate) const HVS_ITEMS: [&str; 2] = ["88122-7", "88123-5"];
pub(crate) const HVS_RISK: (&str, &str) = ("88124-3", "Food insecurity risk [HVS]");
pub(crate) const AT_RISK: (&str, &str) = ("LA19952-3", "At risk");
pub(crate) const NO_RISK: (&str, &str) = ("LA19983-8", "No risk");
/// "Often true", "Sometimes true": either answer to either question is a positive screen
/// (Hager et al. 2010, Pediatrics 126:e26; the HVS Questionnaire's own help text).
pub(crate) const HVS_POSITIVE: [&str; 2] = ["LA28397-0", "LA6729-3"];
/// "Never true".
pub(crate) const HVS_NEGATIVE: &str = "LA28398-8";

/// A Gravity Project SDOH domain: its code in [`SDOHCC_CATEGORY`] and display.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Domain {
    pub code: &'static str,
    pub display: &'static str,
    /// `category.text` for `sdoh-category-unspecified` (the IG's advice for domains not yet in
    /// its value set).
    pub text: Option<&'static str>,
}

const fn domain(code: &'static str, display: &'static str) -> Domain {
    Domain {
        code,
        display,
        text: None,
    }
}

pub const FOOD: Domain = domain("food-insecurity", "Food Insecurity");
pub const HOUSING_INSTABILITY: Domain = domain("housing-instability", "Housing Instability");
pub const HOMELESSNESS: Domain = domain("homelessness", "Homelessness");
pub const INADEQUATE_HOUSING: Domain = domain("inadequate-housing", "Inadequate Housing");
pub const TRANSPORTATION: Domain = domain("transportation-insecurity", "Transportation Insecurity");
pub const UTILITY: Domain = domain("utility-insecurity", "Utility Insecurity");
pub const FINANCIAL: Domain = domain("financial-insecurity", "Financial Insecurity");
pub const MATERIAL_HARDSHIP: Domain = domain("material-hardship", "Material Hardship");
pub const MEDICAL_COST: Domain = domain("medical-cost-burden", "Medical Cost Burden");
pub const STRESS: Domain = domain("stress", "Stress");
pub const SOCIAL_CONNECTION: Domain = domain("social-connection", "Social Connection");
pub const EMPLOYMENT: Domain = domain("employment-status", "Employment Status");
pub const EDUCATION: Domain = domain("educational-attainment", "Educational Attainment");
pub const INSURANCE: Domain = domain(
    "health-insurance-coverage-status",
    "Health Insurance Coverage Status",
);
pub const VETERAN: Domain = domain("veteran-status", "Veteran Status");
pub const IPV: Domain = domain("intimate-partner-violence", "Intimate Partner Violence");
pub const INTERPERSONAL_SAFETY: Domain = Domain {
    code: "sdoh-category-unspecified",
    display: "SDOH Category Unspecified",
    text: Some("Interpersonal safety"),
};

/// The domains a question is about, whatever the answer: the IG assigns
/// `Observation.category` "based on the question and its complete allowed set of answers"
/// (SDOH Clinical Care IG, Assessment Instruments, examples 1-3).
pub(crate) const QUESTION_DOMAINS: &[(&str, &[Domain])] = &[
    ("88122-7", &[FOOD]),
    ("88123-5", &[FOOD]),
    ("88124-3", &[FOOD]),
    // IG example 2: living situation is about both.
    ("71802-3", &[HOMELESSNESS, HOUSING_INSTABILITY]),
    ("93033-9", &[HOUSING_INSTABILITY]),
    ("96778-6", &[INADEQUATE_HOUSING]),
    ("93030-5", &[TRANSPORTATION]),
    ("96779-4", &[UTILITY]),
    ("95618-5", &[INTERPERSONAL_SAFETY]),
    ("95617-7", &[INTERPERSONAL_SAFETY]),
    ("95616-9", &[INTERPERSONAL_SAFETY]),
    ("95615-1", &[INTERPERSONAL_SAFETY]),
    ("95614-4", &[INTERPERSONAL_SAFETY]),
    ("76513-1", &[FINANCIAL]),
    ("93031-3", &[MATERIAL_HARDSHIP]),
    ("93029-7", &[SOCIAL_CONNECTION]),
    ("93038-8", &[STRESS]),
    ("67875-5", &[EMPLOYMENT]),
    ("82589-3", &[EDUCATION]),
    ("76437-3", &[INSURANCE]),
    ("93034-7", &[VETERAN]),
    ("76501-6", &[IPV]),
    ("93026-3", &[INTERPERSONAL_SAFETY]),
];

/// A health concern a positive answer suggests: SNOMED CT code and display.
pub type ConditionCode = (&'static str, &'static str);

pub const FOOD_INSECURITY: ConditionCode = ("733423003", "Food insecurity");
pub const HOUSING_INSTABILITY_FINDING: ConditionCode = ("1156191002", "Housing instability");
pub const HOMELESS: ConditionCode = ("32911000", "Homeless");
pub const HOUSING_UNSATISFACTORY: ConditionCode = ("105531004", "Housing unsatisfactory");
pub const NO_TRANSPORTATION: ConditionCode = ("713458007", "Lack of access to transportation");
pub const FINANCIAL_INSECURITY: ConditionCode = ("1184702004", "Financial insecurity");
pub const STRESS_FINDING: ConditionCode = ("73595000", "Stress");
pub const SOCIAL_ISOLATION: ConditionCode = ("422650009", "Social isolation");
pub const UNEMPLOYED: ConditionCode = ("73438004", "Unemployed");

/// AHC HRSN question 2 (96778-6): pests, mold, lead paint or pipes, lack of heat, oven or
/// stove not working, smoke detectors missing or not working, water leaks ("None of the above",
/// LA9-3, is the only negative answer).
const HOUSING_PROBLEMS: [&str; 7] = [
    "LA31996-4",
    "LA28580-1",
    "LA31997-2",
    "LA31998-0",
    "LA31999-8",
    "LA32000-4",
    "LA32001-2",
];

/// A positive-answer rule: an answer to a question that suggests a social risk.
#[derive(Debug)]
pub(crate) struct Rule {
    pub item: &'static str,
    pub answers: &'static [&'static str],
    pub domain: Domain,
    /// The health concern to derive, where the IG (or a rule it points to) derives one.
    pub condition: Option<ConditionCode>,
}

/// The positive answers. Sources, by row:
///
/// - HVS: Hager et al. 2010 and the IG's HVS example (Condition 733423003 with evidence the
///   question 3 Observation). Questions 1-2 carry no Condition themselves: the Condition
///   follows question 3 (given or computed), so that a given "No risk" is not overridden.
/// - Living situation 71802-3: AHC HRSN guide (answers 2 and 3 positive); the IG's
///   assessment-instruments page, example 5 (LA31994-9 housing instability, LA31995-6
///   homelessness); PRAPARE's "I do not have housing" and the IG's
///   SDOHCC-ConditionHomelessExample (32911000).
/// - 93033-9, worried about losing housing (PRAPARE): "Yes".
/// - 96778-6 housing problems (AHC): any problem but "None of the above" (AHC HRSN guide).
/// - 93030-5 transportation: AHC "Yes"; PRAPARE's two "Yes, it has kept me from …" answers.
/// - 96779-4 utilities (AHC): "Yes" and "Already shut off". No Condition: the IG notes the
///   utility domain is not yet developed (assessment-instruments page, example 3).
/// - 76513-1 financial strain (AHC supplemental): "Very hard", "Hard", "Somewhat hard".
/// - 93031-3 unmet material needs (PRAPARE, multi-select): food → food insecurity; utilities;
///   medicine or health care → medical cost burden; clothing, child care, phone, other →
///   material hardship (the IG's PRAPARE child-care and clothing need examples).
/// - 93038-8 stress (PRAPARE): "Quite a bit", "Very much".
/// - 93029-7 social contact (PRAPARE): "Less than once a week".
/// - 67875-5 employment (PRAPARE): "Unemployed" (seeking work), and the IG's
///   SDOHCC-ConditionUnemployedExample (73438004).
/// - 82589-3 education: "Less than high school degree"; 76437-3 insurance: "None/uninsured".
/// - 76501-6 afraid of a partner (PRAPARE): "Yes"; 93026-3 safe where you live: "No".
///   Findings only, never a Condition: a derived violence Condition in the record can reach
///   whoever else reads it (a shared portal), and needs a clinician's judgement first.
#[rustfmt::skip]
pub(crate) const RULES: &[Rule] = &[
    rule("88122-7", &HVS_POSITIVE, FOOD, None),
    rule("88123-5", &HVS_POSITIVE, FOOD, None),
    rule("88124-3", &["LA19952-3"], FOOD, Some(FOOD_INSECURITY)),
    rule("71802-3", &["LA31994-9"], HOUSING_INSTABILITY, Some(HOUSING_INSTABILITY_FINDING)),
    rule("71802-3", &["LA31995-6", "LA30190-5"], HOMELESSNESS, Some(HOMELESS)),
    rule("93033-9", &["LA33-6"], HOUSING_INSTABILITY, Some(HOUSING_INSTABILITY_FINDING)),
    rule("96778-6", &HOUSING_PROBLEMS, INADEQUATE_HOUSING, Some(HOUSING_UNSATISFACTORY)),
    rule("93030-5", &["LA33-6", "LA30133-5", "LA30134-3"], TRANSPORTATION, Some(NO_TRANSPORTATION)),
    rule("96779-4", &["LA33-6", "LA32002-0"], UTILITY, None),
    rule("76513-1", &["LA15832-1", "LA14745-6", "LA22683-9"], FINANCIAL, Some(FINANCIAL_INSECURITY)),
    rule("93031-3", &["LA30125-1"], FOOD, Some(FOOD_INSECURITY)),
    rule("93031-3", &["LA30124-4"], UTILITY, None),
    rule("93031-3", &["LA30128-5"], MEDICAL_COST, None),
    rule("93031-3", &["LA30126-9", "LA30127-7", "LA30129-3", "LA46-8"], MATERIAL_HARDSHIP, None),
    rule("93038-8", &["LA13902-4", "LA13914-9"], STRESS, Some(STRESS_FINDING)),
    rule("93029-7", &["LA27722-0"], SOCIAL_CONNECTION, Some(SOCIAL_ISOLATION)),
    rule("67875-5", &["LA17956-6"], EMPLOYMENT, Some(UNEMPLOYED)),
    rule("82589-3", &["LA30191-3"], EDUCATION, None),
    rule("76437-3", &["LA30194-7"], INSURANCE, None),
    rule("76501-6", &["LA33-6"], IPV, None),
    rule("93026-3", &["LA32-8"], INTERPERSONAL_SAFETY, None),
];

const fn rule(
    item: &'static str,
    answers: &'static [&'static str],
    domain: Domain,
    condition: Option<ConditionCode>,
) -> Rule {
    Rule {
        item,
        answers,
        domain,
        condition,
    }
}

/// The rule an answer to an item matches, if any.
pub(crate) fn rule_for(item: &str, answer: &str) -> Option<&'static Rule> {
    RULES
        .iter()
        .find(|r| r.item == item && r.answers.contains(&answer))
}

/// The domains of a question (see [`QUESTION_DOMAINS`]).
pub(crate) fn question_domains(item: &str) -> &'static [Domain] {
    QUESTION_DOMAINS
        .iter()
        .find(|(code, _)| *code == item)
        .map_or(&[], |(_, d)| d)
}
