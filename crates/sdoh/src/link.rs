//! Linking a patient's address to the SVI row of where they live, as five Observations.
//!
//! # Which address
//!
//! [`usable_address`]: the first address with `use` `home` and no `period.end`; else the first
//! with no `period.end` whose `use` is absent or `temp` (Synthea writes no `use`). An address
//! that has ended, or whose `use` is `old`, `work` or `billing`, is not where the patient
//! lives, so it is never used: such a patient is [`Unmatched`]. There is no clock here, so
//! "current" means "no end date", not "an end date in the future".
//!
//! # Which geography, in this order
//!
//! 1. The extension [`COUNTY_FIPS_EXTENSION`] on the address (`valueString`): an 11-digit
//!    census tract FIPS code (matched to a tract table directly, or to its county, the first 5
//!    digits, in a county table) or a 5-digit county FIPS code. A value of any other shape is
//!    [`UnmatchedReason::BadFipsExtension`]: the address claims a place that cannot be read,
//!    and falling back to its ZIP could put the patient somewhere else.
//! 2. The `postalCode` (`12345` or ZIP+4 `12345-6789`) through the HUD-USPS crosswalk, to the
//!    county holding most of the ZIP's residences (see `crosswalk`).
//!
//! Synthea's patients carry a `geolocation` extension (latitude, longitude) but no FIPS code;
//! turning coordinates into a county needs boundary files and is not done (no guessing). A
//! Synthea patient without `postalCode` (the `spezi-synthea-v3` bundles) is unmatched.
//!
//! # The Observations
//!
//! One per measure ([`SVI_MEASURES`]: overall, themes 1-4), each:
//!
//! | element | value |
//! |---|---|
//! | `id` | `derive_id("sdoh|svi|<patient id>|<measure code>")`: one per patient and measure, not per vintage, so that re-linking changes nothing and a new vintage or a new address updates the same Observation |
//! | `meta.tag` | `http://salus.example/fhir/CodeSystem/provenance#derived`: computed by Salus, not recorded by a clinician |
//! | `extension` | [`DATASET_EXTENSION`] with `name` (`CDC/ATSDR SVI 2020 county`) and `vintage` (`2020`) |
//! | `status` | `final` |
//! | `category` | `social-history` (observation-category) and `sdoh` (US Core category) |
//! | `code` | [`SVI_SYSTEM`] `svi-overall`, `svi-theme1-socioeconomic`, … |
//! | `subject` | `Patient/<id>` |
//! | `effectivePeriod` | the vintage year, `2020-01-01` to `2020-12-31` |
//! | `valueQuantity` | the percentile rank as written (`0.5493`), unit `percentile rank`, UCUM `1` (a rank in 0..1 is a pure number; FHIR R4 Observation has no `valueDecimal`) |
//! | `dataAbsentReason` | instead of the value when CDC wrote -999: `unknown`. The Observation is still produced: skipping it would leave an earlier vintage's value standing as current under the same id |
//! | `method` | how the address was matched: [`SVI_SYSTEM`] `match-address-county-fips`, `match-address-tract-fips` or `match-zip-crosswalk`, with text (`ZIP via HUD-USPS crosswalk 2023Q1, residential ratio 0.972`) |
//! | `component` | the geography of the SVI row: `county-fips` (or `tract-fips`) `valueString` and `area-name` `valueString` (`Shawnee County, Kansas`) |
//!
//! The geography is a component rather than `focus` (which needs a Reference to a resource
//! Salus does not have) or an extension (components are searchable and every FHIR reader
//! shows them). Note that a county FIPS code is a geographic subdivision smaller than a state,
//! a HIPAA identifier: de-identification policies must treat these components as such.

use serde_json::{Map, Value};

use crate::crosswalk::ZipCounty;
use crate::svi::{Geography, SviRow, SviTable};
use crate::{
    coding, concept, derived_meta, obj, COUNTY_FIPS_EXTENSION, DATASET_EXTENSION, SVI_SYSTEM,
};

/// One SVI measure: the code Salus gives it, the CDC column it comes from, and what it means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SviMeasure {
    /// Code in [`SVI_SYSTEM`].
    pub code: &'static str,
    /// The CDC column.
    pub column: &'static str,
    /// Display.
    pub display: &'static str,
    /// Definition, after CDC/ATSDR's documentation.
    pub definition: &'static str,
}

/// The five measures, overall first, in [`SviRow::percentile`] order.
pub const SVI_MEASURES: [SviMeasure; 5] = [
    SviMeasure {
        code: "svi-overall",
        column: "RPL_THEMES",
        display: "SVI overall percentile ranking",
        definition: "CDC/ATSDR Social Vulnerability Index overall percentile ranking of the area (RPL_THEMES) among all areas of the same geography in the US: 0 is least, 1 most vulnerable. Source: CDC/ATSDR SVI documentation (https://www.atsdr.cdc.gov/placeandhealth/svi/).",
    },
    SviMeasure {
        code: "svi-theme1-socioeconomic",
        column: "RPL_THEME1",
        display: "SVI theme 1 percentile ranking: socioeconomic status",
        definition: "CDC/ATSDR SVI percentile ranking for theme 1, socioeconomic status (RPL_THEME1: below 150% poverty, unemployed, housing cost burden, no high school diploma, no health insurance).",
    },
    SviMeasure {
        code: "svi-theme2-household",
        column: "RPL_THEME2",
        display: "SVI theme 2 percentile ranking: household characteristics",
        definition: "CDC/ATSDR SVI percentile ranking for theme 2, household characteristics (RPL_THEME2: aged 65 and older, aged 17 and younger, civilian with a disability, single-parent households, English language proficiency).",
    },
    SviMeasure {
        code: "svi-theme3-minority",
        column: "RPL_THEME3",
        display: "SVI theme 3 percentile ranking: racial and ethnic minority status",
        definition: "CDC/ATSDR SVI percentile ranking for theme 3, racial and ethnic minority status (RPL_THEME3).",
    },
    SviMeasure {
        code: "svi-theme4-housing-transportation",
        column: "RPL_THEME4",
        display: "SVI theme 4 percentile ranking: housing type and transportation",
        definition: "CDC/ATSDR SVI percentile ranking for theme 4, housing type and transportation (RPL_THEME4: multi-unit structures, mobile homes, crowding, no vehicle, group quarters).",
    },
];

/// How an address was matched: codes in [`SVI_SYSTEM`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchMethod {
    /// A county FIPS code on the address.
    AddressCountyFips,
    /// A census tract FIPS code on the address.
    AddressTractFips,
    /// The ZIP code, through the HUD-USPS crosswalk.
    ZipCrosswalk,
}

impl MatchMethod {
    /// The code in [`SVI_SYSTEM`].
    pub fn code(self) -> &'static str {
        match self {
            MatchMethod::AddressCountyFips => "match-address-county-fips",
            MatchMethod::AddressTractFips => "match-address-tract-fips",
            MatchMethod::ZipCrosswalk => "match-zip-crosswalk",
        }
    }

    fn display(self) -> &'static str {
        match self {
            MatchMethod::AddressCountyFips => "address county FIPS",
            MatchMethod::AddressTractFips => "address tract FIPS",
            MatchMethod::ZipCrosswalk => "ZIP via HUD-USPS crosswalk",
        }
    }
}

/// Why a patient could not be linked. Never carries a value from the patient.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum UnmatchedReason {
    #[error("not a Patient resource")]
    NotAPatient,
    #[error("the patient has no valid id")]
    NoPatientId,
    #[error("the patient has no address")]
    NoAddress,
    #[error(
        "the patient has no current residential address (only ended, old, work or billing ones)"
    )]
    NoCurrentAddress,
    #[error("the address is outside the United States")]
    OutsideUnitedStates,
    #[error(
        "the address's county-fips extension is not a 5-digit county or 11-digit tract FIPS code"
    )]
    BadFipsExtension,
    #[error("the address has neither a ZIP code nor a FIPS code")]
    NoZipOrFips,
    #[error("the address's postal code is not a US ZIP code")]
    BadZip,
    #[error("the address has only a ZIP code and no ZIP-to-county crosswalk was given")]
    NoCrosswalk,
    #[error("the ZIP code is not in the crosswalk")]
    ZipNotInCrosswalk,
    #[error("the SVI table is tract level and the address gives no tract FIPS code")]
    NeedsTract,
    #[error("the county or tract is not in the SVI table")]
    NotInTable,
}

/// A patient that could not be linked, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("patient not linked to SVI: {reason}")]
pub struct Unmatched {
    pub reason: UnmatchedReason,
}

impl From<UnmatchedReason> for Unmatched {
    fn from(reason: UnmatchedReason) -> Self {
        Unmatched { reason }
    }
}

/// Observation parts that depend only on the table: one object per measure with everything
/// up to `effectivePeriod` (`id` and `subject` left null), cloned per patient. A clone copies
/// the key hashes with the table instead of hashing every key again.
#[derive(Debug, Clone)]
pub(crate) struct Templates {
    observations: Vec<Map<String, Value>>,
    area_code: Value,
    area_name_code: Value,
    absent: Value,
}

impl Templates {
    pub(crate) fn new(vintage: u16, geography: Geography) -> Templates {
        let dataset = Value::Array(vec![obj([
            ("url", Value::from(DATASET_EXTENSION)),
            (
                "extension",
                Value::Array(vec![
                    obj([
                        ("url", Value::from("name")),
                        (
                            "valueString",
                            Value::from(crate::svi::dataset_name(vintage, geography)),
                        ),
                    ]),
                    obj([
                        ("url", Value::from("vintage")),
                        ("valueString", Value::from(vintage.to_string())),
                    ]),
                ]),
            ),
        ])]);
        let category = Value::Array(vec![
            concept(
                "http://terminology.hl7.org/CodeSystem/observation-category",
                "social-history",
                "Social History",
            ),
            concept(crate::US_CORE_CATEGORY, "sdoh", "SDOH"),
        ]);
        let period = obj([
            ("start", Value::from(format!("{vintage:04}-01-01"))),
            ("end", Value::from(format!("{vintage:04}-12-31"))),
        ]);
        let observations = SVI_MEASURES
            .iter()
            .map(|m| {
                let mut o = Map::with_capacity(12);
                o.insert("resourceType".into(), Value::from("Observation"));
                o.insert("id".into(), Value::Null);
                o.insert("meta".into(), derived_meta());
                o.insert("extension".into(), dataset.clone());
                o.insert("status".into(), Value::from("final"));
                o.insert("category".into(), category.clone());
                let mut code = match concept(SVI_SYSTEM, m.code, m.display) {
                    Value::Object(c) => c,
                    _ => Map::new(),
                };
                code.insert("text".into(), Value::from(m.display));
                o.insert("code".into(), Value::Object(code));
                o.insert("subject".into(), Value::Null);
                o.insert("effectivePeriod".into(), period.clone());
                o
            })
            .collect();
        let (area, area_display) = match geography {
            Geography::County => ("county-fips", "County FIPS code"),
            Geography::Tract => ("tract-fips", "Census tract FIPS code"),
        };
        Templates {
            observations,
            area_code: obj([
                (
                    "coding",
                    Value::Array(vec![coding(SVI_SYSTEM, area, area_display)]),
                ),
                ("text", Value::from(area_display)),
            ]),
            area_name_code: obj([
                (
                    "coding",
                    Value::Array(vec![coding(SVI_SYSTEM, "area-name", "Area name")]),
                ),
                ("text", Value::from("Area name")),
            ]),
            absent: obj([
                (
                    "coding",
                    Value::Array(vec![coding(
                        "http://terminology.hl7.org/CodeSystem/data-absent-reason",
                        "unknown",
                        "Unknown",
                    )]),
                ),
                (
                    "text",
                    Value::from("CDC/ATSDR SVI has no value for this area (-999)"),
                ),
            ]),
        }
    }
}

/// The address [`link_patient`] uses (see the module documentation for the rule).
pub fn usable_address(patient: &Value) -> Option<&Value> {
    let addresses = patient.get("address")?.as_array()?;
    let current = |a: &&Value| {
        a.is_object()
            && a.get("period")
                .and_then(|p| p.get("end"))
                .is_none_or(Value::is_null)
    };
    fn use_of(a: &Value) -> Option<&str> {
        a.get("use").and_then(Value::as_str)
    }
    addresses
        .iter()
        .filter(current)
        .find(|a| use_of(a) == Some("home"))
        .or_else(|| {
            addresses
                .iter()
                .filter(current)
                .find(|a| matches!(use_of(a), None | Some("temp")))
        })
}

/// Where the address is, as the SVI table's FIPS code, and how it was found.
struct Located<'t> {
    row: &'t SviRow,
    method: MatchMethod,
    /// The crosswalk's residential ratio, for ZIP matches.
    ratio: Option<f64>,
}

fn locate<'t>(
    address: &Value,
    svi: &'t SviTable,
    crosswalk: Option<&ZipCounty>,
) -> Result<Located<'t>, UnmatchedReason> {
    if let Some(country) = address.get("country").and_then(Value::as_str) {
        let c = country.trim();
        let us = [
            "US",
            "USA",
            "United States",
            "United States of America",
            "U.S.",
            "U.S.A.",
        ]
        .iter()
        .any(|n| c.eq_ignore_ascii_case(n));
        if !us && !c.is_empty() {
            return Err(UnmatchedReason::OutsideUnitedStates);
        }
    }
    let fips_extension = address
        .get("extension")
        .and_then(Value::as_array)
        .and_then(|e| {
            e.iter()
                .find(|x| x.get("url").and_then(Value::as_str) == Some(COUNTY_FIPS_EXTENSION))
        });
    if let Some(extension) = fips_extension {
        let fips = extension
            .get("valueString")
            .and_then(Value::as_str)
            .ok_or(UnmatchedReason::BadFipsExtension)?;
        let (key, method) = if crate::table::digits(fips, 11) {
            let key = match svi.geography() {
                Geography::Tract => fips,
                Geography::County => fips.get(..5).unwrap_or(fips),
            };
            (key, MatchMethod::AddressTractFips)
        } else if crate::table::digits(fips, 5) {
            if svi.geography() == Geography::Tract {
                return Err(UnmatchedReason::NeedsTract);
            }
            (fips, MatchMethod::AddressCountyFips)
        } else {
            return Err(UnmatchedReason::BadFipsExtension);
        };
        let row = svi.row(key).ok_or(UnmatchedReason::NotInTable)?;
        return Ok(Located {
            row,
            method,
            ratio: None,
        });
    }
    let postal = match address.get("postalCode").and_then(Value::as_str) {
        Some(p) if !p.trim().is_empty() => p.trim(),
        _ => return Err(UnmatchedReason::NoZipOrFips),
    };
    let zip = zip5(postal).ok_or(UnmatchedReason::BadZip)?;
    let crosswalk = crosswalk.ok_or(UnmatchedReason::NoCrosswalk)?;
    if svi.geography() == Geography::Tract {
        return Err(UnmatchedReason::NeedsTract);
    }
    let (county, ratio) = crosswalk
        .county_for(zip)
        .ok_or(UnmatchedReason::ZipNotInCrosswalk)?;
    let row = svi.row(county).ok_or(UnmatchedReason::NotInTable)?;
    Ok(Located {
        row,
        method: MatchMethod::ZipCrosswalk,
        ratio: Some(ratio),
    })
}

/// The 5-digit ZIP of `12345`, `12345-6789` or `123456789`.
fn zip5(postal: &str) -> Option<&str> {
    let b = postal.as_bytes();
    let ok = match b.len() {
        5 | 9 => b.iter().all(u8::is_ascii_digit),
        10 => b[5] == b'-' && b[..5].iter().chain(&b[6..]).all(u8::is_ascii_digit),
        _ => false,
    };
    ok.then(|| postal.get(..5)).flatten()
}

/// Link one patient: the five SVI Observations of where they live (see the module
/// documentation), or why not. `crosswalk` is needed only for addresses without a FIPS code.
pub fn link_patient(
    patient: &Value,
    svi: &SviTable,
    crosswalk: Option<&ZipCounty>,
) -> Result<Vec<Value>, Unmatched> {
    if patient.get("resourceType").and_then(Value::as_str) != Some("Patient") {
        return Err(UnmatchedReason::NotAPatient.into());
    }
    let id = patient
        .get("id")
        .and_then(Value::as_str)
        .filter(|id| salus_fhir::ids::is_valid_id(id))
        .ok_or(UnmatchedReason::NoPatientId)?;
    let has_address = patient
        .get("address")
        .and_then(Value::as_array)
        .is_some_and(|a| !a.is_empty());
    if !has_address {
        return Err(UnmatchedReason::NoAddress.into());
    }
    let address = usable_address(patient).ok_or(UnmatchedReason::NoCurrentAddress)?;
    let located = locate(address, svi, crosswalk)?;
    Ok(observations(id, &located, svi, crosswalk))
}

fn observations(
    patient_id: &str,
    located: &Located<'_>,
    svi: &SviTable,
    crosswalk: Option<&ZipCounty>,
) -> Vec<Value> {
    let t = &svi.templates;
    let row = located.row;
    let method_text = match (located.method, located.ratio, crosswalk) {
        (MatchMethod::ZipCrosswalk, Some(ratio), Some(c)) => format!(
            "{} {}, residential ratio {ratio:.3}",
            located.method.display(),
            c.vintage()
        ),
        _ => located.method.display().to_string(),
    };
    let method = obj([
        (
            "coding",
            Value::Array(vec![coding(
                SVI_SYSTEM,
                located.method.code(),
                located.method.display(),
            )]),
        ),
        ("text", Value::from(method_text)),
    ]);
    let mut components = vec![obj([
        ("code", t.area_code.clone()),
        ("valueString", Value::from(row.fips.as_str())),
    ])];
    // CDC's text, but a table is input: only a valid FHIR string goes in.
    if crate::fhir_string(&row.location) {
        components.push(obj([
            ("code", t.area_name_code.clone()),
            ("valueString", Value::from(row.location.as_str())),
        ]));
    }
    let components = Value::Array(components);
    let subject = obj([("reference", Value::from(format!("Patient/{patient_id}")))]);
    let mut out = Vec::with_capacity(SVI_MEASURES.len());
    for (i, (measure, template)) in SVI_MEASURES.iter().zip(&t.observations).enumerate() {
        let mut o = template.clone();
        let id = salus_fhir::ids::derive_id(&format!("sdoh|svi|{patient_id}|{}", measure.code));
        if let Some(slot) = o.get_mut("id") {
            *slot = Value::from(id);
        }
        if let Some(slot) = o.get_mut("subject") {
            *slot = subject.clone();
        }
        match row.texts.get(i).cloned().flatten() {
            Some(number) => {
                o.insert(
                    "valueQuantity".into(),
                    obj([
                        ("value", Value::Number(number)),
                        ("unit", Value::from("percentile rank")),
                        ("system", Value::from("http://unitsofmeasure.org")),
                        ("code", Value::from("1")),
                    ]),
                );
            }
            None => {
                o.insert("dataAbsentReason".into(), t.absent.clone());
            }
        }
        o.insert("method".into(), method.clone());
        o.insert("component".into(), components.clone());
        out.push(Value::Object(o));
    }
    out
}

/// The FHIR CodeSystem of [`SVI_SYSTEM`]: the measures, the geography components and the
/// match methods.
pub fn svi_code_system() -> Value {
    let mut concepts: Vec<Value> = SVI_MEASURES
        .iter()
        .map(|m| {
            obj([
                ("code", Value::from(m.code)),
                ("display", Value::from(m.display)),
                ("definition", Value::from(m.definition)),
            ])
        })
        .collect();
    let others = [
        ("county-fips", "County FIPS code", "The 5-digit FIPS code (state and county) of the county whose SVI row the Observation reports."),
        ("tract-fips", "Census tract FIPS code", "The 11-digit FIPS code (state, county and tract) of the census tract whose SVI row the Observation reports."),
        ("area-name", "Area name", "The area as CDC/ATSDR's SVI table describes it (its LOCATION column), e.g. 'Shawnee County, Kansas'."),
        ("match-address-county-fips", "address county FIPS", "The area was found from a county FIPS code recorded on the patient's address."),
        ("match-address-tract-fips", "address tract FIPS", "The area was found from a census tract FIPS code recorded on the patient's address."),
        ("match-zip-crosswalk", "ZIP via HUD-USPS crosswalk", "The area was found from the address's ZIP code through the HUD-USPS ZIP-to-county crosswalk: the county with the largest share of the ZIP's residential addresses."),
    ];
    concepts.extend(others.iter().map(|(code, display, definition)| {
        obj([
            ("code", Value::from(*code)),
            ("display", Value::from(*display)),
            ("definition", Value::from(*definition)),
        ])
    }));
    let count = concepts.len();
    obj([
        ("resourceType", Value::from("CodeSystem")),
        ("id", Value::from("svi-measure")),
        ("url", Value::from(SVI_SYSTEM)),
        ("version", Value::from("1.0.0")),
        ("name", Value::from("SalusSviMeasure")),
        ("title", Value::from("Salus CDC/ATSDR Social Vulnerability Index measures")),
        ("status", Value::from("active")),
        ("experimental", Value::from(false)),
        ("publisher", Value::from("Salus")),
        (
            "description",
            Value::from(
                "Codes Salus uses for Observations of the CDC/ATSDR Social Vulnerability Index (SVI) of the area a patient lives in: the overall and four theme percentile rankings, the geography they describe, and how the patient's address was matched to it. The SVI is produced by the Centers for Disease Control and Prevention / Agency for Toxic Substances and Disease Registry (CDC/ATSDR), Geospatial Research, Analysis, and Services Program; cite as 'Centers for Disease Control and Prevention/Agency for Toxic Substances and Disease Registry/Geospatial Research, Analysis, and Services Program. CDC/ATSDR Social Vulnerability Index [year] Database [geography]' (https://www.atsdr.cdc.gov/placeandhealth/svi/).",
            ),
        ),
        ("caseSensitive", Value::from(true)),
        ("content", Value::from("complete")),
        ("count", Value::from(count)),
        ("concept", Value::Array(concepts)),
    ])
}
