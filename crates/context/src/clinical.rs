//! Clinical knowledge the summary needs: which codes are which measure, their severity bands,
//! which findings are safety findings, which are social risks.

use salus_labels::{ICD10CM, SNOMED};

/// A scored mental-health instrument whose totals are trended.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Measure {
    /// Its short name, as clinicians say it.
    pub name: &'static str,
    /// What it measures.
    pub construct: &'static str,
    /// The LOINC code of its total score.
    pub total_code: &'static str,
    /// Severity bands: (lowest score of the band, band name), ascending.
    pub bands: &'static [(f64, &'static str)],
    /// The change in points that counts as a real change rather than noise.
    pub meaningful_change: f64,
}

/// PHQ-9 (Kroenke, Spitzer & Williams 2001): 0–4 minimal, 5–9 mild, 10–14 moderate, 15–19
/// moderately severe, 20–27 severe; a 5-point change is clinically meaningful.
pub const PHQ9: Measure = Measure {
    name: "PHQ-9",
    construct: "depression severity",
    total_code: "44261-6",
    bands: &[
        (0.0, "minimal"),
        (5.0, "mild"),
        (10.0, "moderate"),
        (15.0, "moderately severe"),
        (20.0, "severe"),
    ],
    meaningful_change: 5.0,
};

/// GAD-7 (Spitzer et al. 2006): 0–4 minimal, 5–9 mild, 10–14 moderate, 15–21 severe; a
/// 4-point change is taken as meaningful.
pub const GAD7: Measure = Measure {
    name: "GAD-7",
    construct: "anxiety severity",
    total_code: "70274-6",
    bands: &[
        (0.0, "minimal"),
        (5.0, "mild"),
        (10.0, "moderate"),
        (15.0, "severe"),
    ],
    meaningful_change: 4.0,
};

/// PHQ-2: 3 or more is a positive depression screen.
pub const PHQ2: Measure = Measure {
    name: "PHQ-2",
    construct: "depression screen",
    total_code: "55758-7",
    bands: &[(0.0, "negative screen"), (3.0, "positive screen")],
    meaningful_change: 2.0,
};

pub const MEASURES: &[Measure] = &[PHQ9, GAD7, PHQ2];

impl Measure {
    /// The band a score falls in.
    pub fn band(&self, score: f64) -> &'static str {
        self.bands
            .iter()
            .rev()
            .find(|(low, _)| score >= *low)
            .map_or(self.bands[0].1, |(_, name)| name)
    }
}

/// PHQ-9 item 9: "Thoughts that you would be better off dead, or of hurting yourself".
pub const PHQ9_ITEM9: &str = "44260-8";

/// LOINC answer codes of PHQ-9 items, with their scores.
pub const PHQ_ANSWERS: &[(&str, f64)] = &[
    ("LA6568-5", 0.0),
    ("LA6569-3", 1.0),
    ("LA6570-1", 2.0),
    ("LA6571-9", 3.0),
];

/// SNOMED CT concepts of suicide risk: suicidal thoughts, suicidal ideation, suicide attempt,
/// intentional self-harm, at risk for suicide.
pub const SUICIDE_SNOMED: &[&str] = &[
    "6471006",   // Suicidal thoughts
    "82313006",  // Suicide attempt
    "44301001",  // Suicide
    "248062006", // Self-injurious behaviour
    "276853009", // Self inflicted injury
    "225444004", // At risk for suicide
];

/// ICD-10-CM codes (prefixes) of suicide risk: suicidal ideations R45.851, personal history of
/// self-harm Z91.5, suicide attempt T14.91, intentional self-harm X71–X83.
pub const SUICIDE_ICD10_PREFIXES: &[&str] = &[
    "R45.851", "R45851", "Z91.5", "Z915", "T14.91", "T1491", "X71", "X72", "X73", "X74", "X75",
    "X76", "X77", "X78", "X79", "X80", "X81", "X82", "X83",
];

/// Whether a CodeableConcept names a suicide-risk finding.
pub fn is_suicide_risk(concept: &serde_json::Value) -> bool {
    crate::json::codings(concept).any(|(system, code)| match system {
        SNOMED => SUICIDE_SNOMED.contains(&code),
        ICD10CM => {
            let code = code.to_ascii_uppercase();
            SUICIDE_ICD10_PREFIXES.iter().any(|p| code.starts_with(p))
        }
        _ => false,
    })
}

/// SNOMED CT findings that are social circumstances (as Synthea and EHR problem lists record
/// them): they belong with social risks, not with disorders.
pub const SOCIAL_FINDINGS_SNOMED: &[&str] = &[
    "73595000",          // Stress
    "160903007",         // Full-time employment
    "160904001",         // Part-time employment
    "741062008",         // Not in labor force
    "73438004",          // Unemployed
    "423315002",         // Limited social contact
    "706893006",         // Victim of intimate partner abuse
    "424393004",         // Reports of violence in the environment
    "266948004",         // Has a criminal record
    "5251000175109",     // Received certificate of high school equivalency
    "224362002",         // Received higher education
    "224295006",         // Only received primary school education
    "105480006",         // Refugee
    "32911000",          // Homeless
    "446654005",         // Refugee (person)
    "10939881000119105", // Unhealthy alcohol drinking behavior
    "422650009",         // Social isolation
    "713458007",         // Lack of access to transportation
    "1148744000",        // Transport too expensive
    "733423003",         // Food insecurity
    "160968000",         // Risk activity involvement
    "1156191002",        // Housing unsatisfactory
    "5281000175105",     // Lives in unsafe housing
];

/// LOINC codes of social-risk screening questions and panels that count as social even without
/// an `sdoh` or `social-history` category.
pub const SDOH_LOINC: &[&str] = &[
    "88122-7", // Hunger Vital Sign: worried food would run out
    "88123-5", // Hunger Vital Sign: food did not last
    "88124-3", // Hunger Vital Sign: food insecurity risk
    "71802-3", // Housing status
    "93025-5", // PRAPARE panel
    "96777-8", // AHC HRSN screening panel
    "76513-1", // How hard is it to pay for the very basics
];

/// Whether a resource's category marks it as social (SDoH or social history).
pub fn is_social_category(resource: &serde_json::Value) -> bool {
    crate::json::category_has(resource, "category", "sdoh")
        || crate::json::category_has(resource, "category", "social-history")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn bands_follow_the_published_cut_points() {
        assert_eq!(PHQ9.band(0.0), "minimal");
        assert_eq!(PHQ9.band(4.0), "minimal");
        assert_eq!(PHQ9.band(5.0), "mild");
        assert_eq!(PHQ9.band(14.0), "moderate");
        assert_eq!(PHQ9.band(19.0), "moderately severe");
        assert_eq!(PHQ9.band(27.0), "severe");
        assert_eq!(GAD7.band(9.0), "mild");
        assert_eq!(GAD7.band(15.0), "severe");
        assert_eq!(PHQ2.band(3.0), "positive screen");
    }

    #[test]
    fn suicide_risk_by_snomed_and_icd10() {
        assert!(is_suicide_risk(
            &json!({"coding": [{"system": SNOMED, "code": "6471006"}]})
        ));
        assert!(is_suicide_risk(
            &json!({"coding": [{"system": ICD10CM, "code": "R45.851"}]})
        ));
        assert!(!is_suicide_risk(
            &json!({"coding": [{"system": ICD10CM, "code": "F32.1"}]})
        ));
    }
}
