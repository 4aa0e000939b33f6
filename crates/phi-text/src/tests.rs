use super::*;

fn scrubber() -> &'static Scrubber {
    static S: std::sync::OnceLock<Scrubber> = std::sync::OnceLock::new();
    S.get_or_init(|| Scrubber::new(Options::new()).unwrap())
}

fn identity() -> PatientIdentity {
    PatientIdentity::builder()
        .name(["Johnathan", "Quincy"], "Zabrowski")
        .identifier("MRN-884422")
        .phone("(617) 555-0142")
        .email("jz@example.com")
        .street("12 Elmwood Terrace")
        .city("Somerville")
        .zip("02144")
        .birth_ymd(1980, 3, 7)
        .build()
}

#[test]
fn planted_identifiers_become_tags() {
    let s = scrubber();
    let text = "Johnathan Zabrowski (MRN-884422) called from 617.555.0142, email jz@example.com. \
                Lives at 12 Elmwood Terrace, Somerville 02144. DOB 03/07/1980. Zabrowski's wife agreed.";
    let out = s.scrub(text, &identity(), &Replacement::tags());
    assert_eq!(
        out.text,
        "[NAME] ([ID]) called from [PHONE], email [EMAIL]. \
                Lives at [ADDRESS], [LOCATION] [ZIP]. DOB [DATE]. [NAME]'s wife agreed."
    );
    for v in identity().values() {
        assert!(
            !out.text.to_lowercase().contains(&v.to_lowercase()),
            "{v} survived"
        );
    }
    assert_eq!(out.counts.get(Category::Name), 2);
    assert_eq!(out.counts.get(Category::Phone), 1);
}

#[test]
fn name_variants_of_the_patient() {
    let s = scrubber();
    let id = identity();
    for text in [
        "ZABROWSKI, JOHNATHAN seen",
        "J. Zabrowski seen",
        "zabrowski, johnathan seen",
        "JQZ seen",
        "J.Q.Z. seen",
    ] {
        let out = s.scrub(text, &id, &Replacement::tags());
        assert!(out.text.starts_with("[NAME]"), "{text} -> {}", out.text);
        assert!(out.text.ends_with(" seen"));
    }
}

#[test]
fn birth_date_formats_of_the_patient() {
    let s = scrubber();
    for text in [
        "born 1980-03-07 ok",
        "born 3/7/80 ok",
        "born March 7, 1980 ok",
        "born 7 Mar 1980 ok",
        "born 03/07/1980 ok",
    ] {
        let out = s.scrub(text, &identity(), &Replacement::tags());
        assert_eq!(out.text, "born [DATE] ok", "{text}");
    }
}

#[test]
fn patterns_without_identity() {
    let s = scrubber();
    let id = PatientIdentity::empty();
    let text = "SSN 123-45-6789, fax: 617-555-0199, see https://example.org/x and 10.1.2.3. MRN: 1234567. acct # AB12345. Seen by Dr. Okonkwo on 4/12.";
    let out = s.scrub(text, &id, &Replacement::tags());
    assert_eq!(
        out.text,
        "SSN [SSN], fax: [FAX], see [URL] and [IP]. MRN: [ID]. acct # [ID]. Seen by Dr. [NAME] on [DATE]."
    );
    assert!(!format!("{:?}", out).contains("Okonkwo"));
}

#[test]
fn addresses_and_zip() {
    let s = scrubber();
    let out = s.scrub(
        "Lives at 45 Oak Avenue Apt 3, Boston, MA 02118.",
        &PatientIdentity::empty(),
        &Replacement::tags(),
    );
    assert_eq!(out.text, "Lives at [ADDRESS], [LOCATION], [STATE] [ZIP].");
}

#[test]
fn dates_are_shifted_keeping_format() {
    let s = scrubber();
    let id = PatientIdentity::empty();
    let r = Replacement::tags().shift_dates(Some(10));
    let cases = [
        ("on 03/07/1980.", "on 03/17/1980."),
        ("on 1980-03-07.", "on 1980-03-17."),
        ("on 3/7/80.", "on 3/17/80."),
        ("on March 7, 1980.", "on March 17, 1980."),
        ("on 7 Mar 1980.", "on 17 Mar 1980."),
        ("on 12/25.", "on 1/4."),
        ("on Dec 28, 1999.", "on Jan 7, 2000."),
        ("in March 2019.", "in [DATE]."),
    ];
    for (input, expected) in cases {
        assert_eq!(s.scrub(input, &id, &r).text, expected, "{input}");
    }
    assert_eq!(
        s.scrub("on 03/07/1980.", &id, &Replacement::tags()).text,
        "on [DATE]."
    );
}

#[test]
fn ages_over_89() {
    let s = scrubber();
    let id = PatientIdentity::empty();
    let key = Replacement::surrogates(b"0123456789abcdef0123").unwrap();
    assert_eq!(
        s.scrub("92 yo woman", &id, &Replacement::tags()).text,
        "[AGE] yo woman"
    );
    assert_eq!(s.scrub("92 yo woman", &id, &key).text, "90+ yo woman");
    assert_eq!(
        s.scrub("age 95, stable", &id, &Replacement::tags()).text,
        "age [AGE], stable"
    );
    assert_eq!(
        s.scrub("a ninety-three year old man", &id, &Replacement::tags())
            .text,
        "a [AGE] year old man"
    );
    assert_eq!(
        s.scrub("a 67 yo man", &id, &Replacement::tags()).text,
        "a 67 yo man"
    );
}

#[test]
fn clinical_words_are_not_names() {
    let s = scrubber();
    let id = PatientIdentity::empty();
    // "May" after "in" is a date (a month of a date related to the patient); "Will" and
    // "brown" are not names.
    let out = s.scrub(
        "Patient denies chest pain. Will follow up in May. Brown sputum, foley in place.",
        &id,
        &Replacement::tags(),
    );
    assert_eq!(
        out.text,
        "Patient denies chest pain. Will follow up in [DATE]. Brown sputum, foley in place."
    );
    let out = s.scrub(
        "Pt may need 1/2 NS. Strength 5/5. Pain 4/10.",
        &id,
        &Replacement::tags(),
    );
    assert_eq!(out.text, "Pt may need 1/2 NS. Strength 5/5. Pain 4/10.");
}

#[test]
fn context_names() {
    let s = scrubber();
    let id = PatientIdentity::empty();
    let out = s.scrub(
        "Dr. Okafor aware. Wife Maribel called. Wanda Pruitt, RN. Mrs. Lindgren resting.",
        &id,
        &Replacement::tags(),
    );
    assert_eq!(
        out.text,
        "Dr. [NAME] aware. Wife [NAME] called. [NAME], RN. Mrs. [NAME] resting."
    );
}

#[test]
fn surrogates_are_consistent_and_keyed() {
    let s = scrubber();
    let id = identity();
    let a = Replacement::surrogates(b"key-number-one-0123").unwrap();
    let b = Replacement::surrogates(b"key-number-two-0123").unwrap();
    let t = "Johnathan Zabrowski called. Later Zabrowski called 617-555-0142.";
    let x = s.scrub(t, &id, &a).text;
    let y = s.scrub(t, &id, &a).text;
    let z = s.scrub(t, &id, &b).text;
    assert_eq!(x, y);
    assert_ne!(x, z);
    assert!(!x.contains("Zabrowski") && !x.contains("555-0142"), "{x}");
    // The same surname gets the same surrogate in both places.
    let words: Vec<&str> = x.split_whitespace().collect();
    assert_eq!(words[1], words[4], "{x}");
    // Phone keeps its format.
    let phone = words.last().unwrap().trim_end_matches('.');
    assert_eq!(phone.len(), "617-555-0142".len());
    assert_eq!(&phone[3..4], "-");
    assert_eq!(
        Replacement::surrogates(b"short").unwrap_err(),
        ConfigError::ShortKey(5)
    );
}

#[test]
fn limited_data_set_keeps_dates_and_places() {
    let s = Scrubber::new(Options::limited_data_set()).unwrap();
    let out = s.scrub(
        "Dr. Okonkwo saw her on 4/12 in Boston, MA 02118.",
        &PatientIdentity::empty(),
        &Replacement::tags(),
    );
    assert_eq!(out.text, "Dr. [NAME] saw her on 4/12 in Boston, MA 02118.");
}

#[test]
fn xhtml_keeps_markup() {
    let s = scrubber();
    let div = r#"<div xmlns="http://www.w3.org/1999/xhtml"><p class="x" title="Johnathan Zabrowski">Seen by <b>Dr. Okonkwo</b> &amp; wife Maribel on 03/07/1980 &lt;ok&gt;&nbsp;</p><!-- Zabrowski --><img src="a.png" alt="photo of Zabrowski"/></div>"#;
    let out = s.scrub_xhtml(div, &identity(), &Replacement::tags());
    assert_eq!(
        out.text,
        r#"<div xmlns="http://www.w3.org/1999/xhtml"><p class="x" title="[NAME]">Seen by <b>Dr. [NAME]</b> &amp; wife [NAME] on [DATE] &lt;ok&gt;&nbsp;</p><!-- [NAME] --><img src="a.png" alt="photo of [NAME]"/></div>"#
    );
    // Unchanged text keeps its entities byte for byte.
    let plain = "<div><p>stable &#233; &amp; calm</p></div>";
    assert_eq!(
        s.scrub_xhtml(plain, &identity(), &Replacement::tags()).text,
        plain
    );
}

#[test]
fn non_ascii_offsets_on_char_boundaries() {
    let s = scrubber();
    let text = "Señora José Zabrowski — née 3/7/80, café ☕ Dr. Müller aware.";
    for sp in s.detect(text, &identity()) {
        assert!(text.is_char_boundary(sp.start) && text.is_char_boundary(sp.end));
    }
    let out = s.scrub(text, &identity(), &Replacement::tags());
    assert!(
        !out.text.contains("Zabrowski") && !out.text.contains("Müller"),
        "{}",
        out.text
    );
}

#[test]
fn reports_hold_no_text() {
    let s = scrubber();
    let out = s.scrub("Johnathan Zabrowski", &identity(), &Replacement::tags());
    let dbg = format!(
        "{:?} {:?} {:?}",
        out,
        identity(),
        Replacement::surrogates(b"0123456789abcdefxyz").unwrap()
    );
    assert!(
        !dbg.contains("Zabrowski") && !dbg.contains("0123456789"),
        "{dbg}"
    );
    assert_eq!(Category::from_name("ssn"), Some(Category::Ssn));
}

mod prop {
    use super::*;
    use proptest::prelude::*;

    fn name_part() -> impl Strategy<Value = String> {
        "[A-Z][a-z]{3,9}".prop_map(|s| s)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn scrub_never_panics(text in "\\PC{0,200}") {
            let s = scrubber();
            let out = s.scrub(&text, &identity(), &Replacement::tags().shift_dates(Some(-400)));
            let _ = s.scrub_xhtml(&text, &identity(), &Replacement::surrogates(b"0123456789abcdef").unwrap());
            for sp in s.detect(&text, &identity()) {
                prop_assert!(text.is_char_boundary(sp.start) && text.is_char_boundary(sp.end));
            }
            prop_assert!(out.counts.total() <= text.len());
        }

        #[test]
        fn planted_identifiers_never_survive(
            given in name_part(), family in name_part(), mrn in "[0-9]{6,9}",
            phone in "[2-9][0-9]{2}-[0-9]{3}-[0-9]{4}",
            filler in proptest::collection::vec("[a-z]{2,8}|[0-9]{1,3}|[.,;:()]", 0..12),
            shape in 0usize..4,
        ) {
            let id = PatientIdentity::builder().name([given.as_str()], &family).identifier(&mrn).phone(&phone).build();
            let name = match shape {
                0 => format!("{given} {family}"),
                1 => format!("{family}, {given}"),
                2 => format!("{}'s", family.to_uppercase()),
                _ => given.to_lowercase(),
            };
            let text = format!("{} {name} {} mrn {mrn} call {} {}", filler.join(" "), filler.join(" "), phone.replace('-', " "), filler.join(""));
            let s = scrubber();
            for r in [Replacement::tags(), Replacement::surrogates(b"0123456789abcdef").unwrap()] {
                let out = s.scrub(&text, &id, &r).text.to_lowercase();
                prop_assert!(!out.contains(&family.to_lowercase()), "{}", out);
                prop_assert!(!out.contains(&mrn), "{}", out);
                let digits: String = out.chars().filter(char::is_ascii_digit).collect();
                let pd: String = phone.chars().filter(char::is_ascii_digit).collect();
                prop_assert!(!digits.contains(&pd), "{}", out);
            }
        }
    }
}

#[test]
fn years_in_date_contexts() {
    let s = scrubber();
    let id = PatientIdentity::empty();
    let out = s.scrub(
        "PMH: MI '92, CABG 81, CVA 74'. Lumpectomy in 1983 (1997), since 1998, 1999-2001.",
        &id,
        &Replacement::tags(),
    );
    assert_eq!(
        out.text,
        "PMH: MI '[DATE], CABG [DATE], CVA [DATE]'. Lumpectomy in [DATE] ([DATE]), since [DATE], [DATE]-[DATE]."
    );
    // Times, volumes, values in the 90's and lengths are not years.
    let text = "Shift 1900-0700. UO 1950 cc at 2000. Sats in the 90's. HOB 30'. Given 1980 mg. \
                Neg 1963 since mn.";
    assert_eq!(s.scrub(text, &id, &Replacement::tags()).text, text);
    // Off by option, and kept with dates.
    for o in [
        Options::new().years(false),
        Options::new().keep([Category::Date]),
    ] {
        let s = Scrubber::new(o).unwrap();
        assert!(s.detect("s/p CABG in 1992", &id).is_empty());
    }
}

#[test]
fn clinical_abbreviations_are_not_names() {
    let s = scrubber();
    let id = PatientIdentity::empty();
    for text in [
        "RESP: O2 SATS 95% ON 4L NP. MS: SEDATED ON PROPOFOL. SEE MD NOTES.",
        "Family in, spoke w/ MD re: plan. ms: alert, cooperative.",
        "Vent on PSV 10/5, 40%. Cpap 5 with flowby 6/3. Episode of CP 5/10.",
    ] {
        assert_eq!(s.scrub(text, &id, &Replacement::tags()).text, text);
    }
    let out = s.scrub(
        "Dr. Moody aware. T. Marsh aware. Son Jack called. Transfer to Kensington 2 when bed avail.",
        &id,
        &Replacement::tags(),
    );
    assert_eq!(
        out.text,
        "Dr. [NAME] aware. [NAME] aware. Son [NAME] called. Transfer to [LOCATION] 2 when bed avail."
    );
}

/// Names that are also clinical words after a credential or a relation word, and given names
/// from the Census lists (each was missed before).
#[test]
fn names_by_credentials_relations_and_census_lists() {
    let s = scrubber();
    let id = PatientIdentity::empty();
    let tag = |t: &str| s.scrub(t, &id, &Replacement::tags()).text;
    assert_eq!(
        tag("Report given to Carla Vance, RN at the bedside."),
        "Report given to [NAME], RN at the bedside."
    );
    assert_eq!(
        tag("Social: Husband Rich Okafor in to visit, son here later."),
        "Social: Husband [NAME] in to visit, son here later."
    );
    // A given name from the Census lists ("Raelene"), and clinical words that the Census
    // lists hold as given names ("Ami", "Perla") stay.
    assert_eq!(
        tag("She was seen today and Raelene Okafor called the unit."),
        "She was seen today and [NAME] called the unit."
    );
    assert_eq!(
        tag("Admitted with an AMI on Sunday. Neuro: PERLA."),
        "Admitted with an AMI on Sunday. Neuro: PERLA."
    );
}

/// Partial dates in ranges and after words that merely end like ventilator settings, ordinal
/// days and month names with a year, and what must stay.
#[test]
fn partial_dates_ranges_and_ordinals() {
    let s = scrubber();
    let id = PatientIdentity::empty();
    let tag = |t: &str| s.scrub(t, &id, &Replacement::tags()).text;
    assert_eq!(
        tag("Monitor culture reports from 10/15-10/16. Cardiac arrest 9/11."),
        "Monitor culture reports from [DATE]-[DATE]. Cardiac arrest [DATE]."
    );
    assert_eq!(
        tag("Plan to wean for extubation 10/3. Wean down to 10/5 today."),
        "Plan to wean for extubation [DATE]. Wean down to 10/5 today."
    );
    assert_eq!(
        tag("Crackles 1/3-1/2 up. On CPAP/PS of 12/5 overnight."),
        "Crackles 1/3-1/2 up. On CPAP/PS of 12/5 overnight."
    );
    assert_eq!(
        tag("Cultures drawn on the 11th. Line in the 5th ICS."),
        "Cultures drawn on the [DATE]. Line in the 5th ICS."
    );
    assert_eq!(
        tag("in march of 2022 pt was admitted; this may help."),
        "in [DATE] pt was admitted; this may help."
    );
}

/// A facility word that is part of the name is covered with it; a ward after "on" is a place.
#[test]
fn facility_names_and_wards() {
    let s = scrubber();
    let id = PatientIdentity::empty();
    let tag = |t: &str| s.scrub(t, &id, &Replacement::tags()).text;
    assert_eq!(
        tag("He works at Wexley Memorial as an aide."),
        "He works at [LOCATION] as an aide."
    );
    assert_eq!(
        tag("PT. INTUBATED ON WESTBRIAR 2 FOR ACUTE RESPIRATORY FAILURE."),
        "PT. INTUBATED ON [LOCATION] 2 FOR ACUTE RESPIRATORY FAILURE."
    );
    assert_eq!(
        tag("PLAN: WESTBRIAR 2 WHEN BED AVAIL. ASYSTOLIC ON WESTBRIAR 6."),
        "PLAN: [LOCATION] 2 WHEN BED AVAIL. ASYSTOLIC ON [LOCATION] 6."
    );
    assert_eq!(
        tag("found unresponsive, brought to GH EW today"),
        "found unresponsive, brought to [LOCATION] EW today"
    );
    // A dose after "to" is not a ward.
    assert_eq!(
        tag("increased levophed to 2.5 mcg"),
        "increased levophed to 2.5 mcg"
    );
}

/// Given names that are also common words, after titles, relation words and before credentials.
#[test]
fn common_word_names_in_name_contexts() {
    let s = scrubber();
    let id = PatientIdentity::empty();
    let tag = |t: &str| s.scrub(t, &id, &Replacement::tags()).text;
    assert_eq!(
        tag("BP 88/40. NP CAROL MADE AWARE, HESPAN GIVEN."),
        "BP 88/40. NP [NAME] MADE AWARE, HESPAN GIVEN."
    );
    assert_eq!(
        tag("Plan explained by Dr Will Ashby (attending) to the family."),
        "Plan explained by Dr [NAME] (attending) to the family."
    );
    assert_eq!(
        tag("LIVES ALONE. SON BOBBY VISITS DAILY."),
        "LIVES ALONE. SON [NAME] VISITS DAILY."
    );
    assert_eq!(
        tag("report given to doreen moody, rn"),
        "report given to [NAME], rn"
    );
    assert_eq!(
        tag("CONTACT PERSON CARLA VANCE AT HOME."),
        "CONTACT PERSON [NAME] AT HOME."
    );
    assert_eq!(
        tag("his wife (201/324/1423) called"),
        "his wife ([PHONE]) called"
    );
    assert_eq!(
        tag("Ask to page the family.\n\nGus Brennick (son) cell phone on file."),
        "Ask to page the family.\n\n[NAME] (son) cell phone on file."
    );
    assert_eq!(
        tag("SPOKE WITH HO LINDGREN REGARDING PLAN."),
        "SPOKE WITH HO [NAME] REGARDING PLAN."
    );
    assert_eq!(
        tag("also intubated 6/30-7/2 for CHF; crackles 1/3-1/2 up."),
        "also intubated [DATE]-[DATE] for CHF; crackles 1/3-1/2 up."
    );
    assert_eq!(
        tag("soft brown guiac neg stool"),
        "soft brown guiac neg stool"
    );
    // The same words outside those contexts stay.
    assert_eq!(
        tag("Will rob the line of flow; the art line is out."),
        "Will rob the line of flow; the art line is out."
    );
}

/// Scrubs with tags and no identity.
fn tagged(text: &str) -> String {
    scrubber()
        .scrub(text, &PatientIdentity::empty(), &Replacement::tags())
        .text
}

/// Relatives and proxies: kinship words glued to a name or a header, `-in-law`, lists of names,
/// names joined by "and", and common-word given names found once and recurring.
#[test]
fn relatives_in_lists_compounds_and_recurrences() {
    assert_eq!(
        tagged("SOCIAL-son Desmond in to visit. Follow-up x-ray in am."),
        "SOCIAL-son [NAME] in to visit. Follow-up x-ray in am."
    );
    assert_eq!(
        tagged("SOCIAL:NIECE-ODALYS---555-0147 CALLED"),
        "SOCIAL:NIECE-[NAME]---[PHONE] CALLED"
    );
    assert_eq!(
        tagged("social: his sister-in-law Odalys Brennick was in to visit."),
        "social: his sister-in-law [NAME] was in to visit."
    );
    // A misspelt kinship word after a relation is no name.
    assert_eq!(
        tagged("SOCIAL-son & dauther visited."),
        "SOCIAL-son & dauther visited."
    );
    assert_eq!(
        tagged("Brothers Tobias, Leopold and Gus in to visit today."),
        "Brothers [NAME], [NAME] and [NAME] in to visit today."
    );
    assert_eq!(
        tagged("Son Peter, Lasix given and tolerated well."),
        "Son [NAME], Lasix given and tolerated well."
    );
    // "Dusty" is an English word: found after "son", it is a name where it recurs capitalized,
    // and "and Dusty" joins a name found by context.
    assert_eq!(
        tagged("Son Dusty called at noon. Later Dusty visited; a dusty shelf."),
        "Son [NAME] called at noon. Later [NAME] visited; a dusty shelf."
    );
    assert_eq!(
        tagged(
            "Zuberi Okonjo cell 555-0100. Both Zuberi and Dusty are proxies; Zuberi and Will agree."
        ),
        "[NAME] cell [PHONE]. Both [NAME] and [NAME] are proxies; [NAME] and Will agree."
    );
    assert_eq!(
        tagged("social: tony visited during the evening. Social: family in to visit."),
        "social: [NAME] visited during the evening. Social: family in to visit."
    );
}

/// People named by their role in parentheses, by the conversation they had, before their phone
/// number, as an initial without its dot, or after "NP" when made aware.
#[test]
fn names_by_role_conversation_and_phone() {
    assert_eq!(
        tagged(
            "PLAN INCLUDES TAP...OTTO BRANDVOLD (RESIDENT) WORKING. SPOKE TO CARDIOLOGY (FELLOW)."
        ),
        "PLAN INCLUDES TAP...[NAME] (RESIDENT) WORKING. SPOKE TO CARDIOLOGY (FELLOW)."
    );
    assert_eq!(
        tagged("Team has spoken at length with Zuberi Okonjo by phone. Spoke with Cardiology."),
        "Team has spoken at length with [NAME] by phone. Spoke with Cardiology."
    );
    assert_eq!(
        tagged("Unable to reach Bobby.. will retry. Unable to reach goal."),
        "Unable to reach [NAME].. will retry. Unable to reach goal."
    );
    assert_eq!(
        tagged("Devoted son. Greta Lindqvist cell# 410-555-0199. Discharged home 3 days ago."),
        "Devoted son. [NAME] cell# [PHONE]. Discharged home 3 days ago."
    );
    assert_eq!(
        tagged("BP LOW, J SMITH ORDERED EPI. GAVE 2 L NS ORDERED BY TEAM."),
        "BP LOW, [NAME] ORDERED EPI. GAVE 2 L NS ORDERED BY TEAM."
    );
    assert_eq!(
        tagged("Rate 40 in sinus. NP grace made aware. Saying grace made her calm."),
        "Rate 40 in sinus. NP [NAME] made aware. Saying grace made her calm."
    );
    assert_eq!(
        tagged("contact was made with martin fenwick of ethics. mark fenwick"),
        "contact was made with [NAME] of ethics. mark [NAME]"
    );
}

/// Facilities by context: names before "Adventist", "Assisted Living", "House", a misspelt
/// "hospital", a unit; employers; places gone to; regions; lists of facilities.
#[test]
fn facilities_by_context_cues() {
    assert_eq!(
        tagged(
            "Admitted from Brantwood Adventist for cath. Pt on house diet, House officer aware."
        ),
        "Admitted from [LOCATION] for cath. Pt on house diet, House officer aware."
    );
    assert_eq!(
        tagged("58 YR OLD ADMITTED TO BRANTWOOD HOSPIATAL. WAS HOSPITALIZED IN MAY."),
        "58 YR OLD ADMITTED TO [LOCATION] HOSPIATAL. WAS HOSPITALIZED IN MAY."
    );
    assert_eq!(
        tagged("She was sent to Quillan Reed EW and then transferred to Cardiac ICU."),
        "She was sent to [LOCATION] EW and then transferred to Cardiac ICU."
    );
    assert_eq!(
        tagged("He works for brightline health. She works for a living."),
        "He works for [LOCATION]. She works for a living."
    );
    assert_eq!(
        tagged("Pt went to Marbrook for pain. Surgeon from Marbrook here. Went to Radiology for CT. Came from Home."),
        "Pt went to [LOCATION] for pain. Surgeon from [LOCATION] here. Went to Radiology for CT. Came from Home."
    );
    assert_eq!(
        tagged("Was on vacation on the Eastern Shore when it began; pain on the east side."),
        "Was on vacation on the [LOCATION] when it began; pain on the east side."
    );
    assert_eq!(
        tagged("PT SCREENED BY ALBANY REHAB AND KRAVENDALE. PT AND OT TO SEE."),
        "PT SCREENED BY [LOCATION] REHAB AND [LOCATION]. PT AND OT TO SEE."
    );
    assert_eq!(
        tagged("Pt slated to go to rehab(sacred heart Memorial) today."),
        "Pt slated to go to rehab([LOCATION]) today."
    );
    assert_eq!(
        tagged("He had TURP at brantwood hospital. Then at outside hospital and psych hospital."),
        "He had TURP at [LOCATION] hospital. Then at outside hospital and psych hospital."
    );
    assert_eq!(
        tagged("PT IS 80 YO WOMAN ADMITTED TO WESTBRIAR7 W/ CHF."),
        "PT IS 80 YO WOMAN ADMITTED TO [LOCATION] W/ CHF."
    );
}

/// Cities and states after verbs of living and going, with an adverb between.
#[test]
fn places_after_living_and_going() {
    assert_eq!(
        tagged("He lives nearby in hyattsville and visits. A friend lives in VT. Pt moved to OR at 3pm."),
        "He lives nearby in [LOCATION] and visits. A friend lives in [STATE]. Pt moved to OR at 3pm."
    );
    assert_eq!(
        tagged("Daughter returned to new canaan today; pt returned to normal rhythm."),
        "Daughter returned to [LOCATION] today; pt returned to normal rhythm."
    );
}

/// Dates glued to a word, past-10 days near ventilator words, "March of 1991", a year with its
/// leading zero before an event; and the ratios that stay.
#[test]
fn glued_and_partial_dates() {
    assert_eq!(
        tagged("s/p pelvic fx4/97, UO-9/10 good, line LA-10/3, sent to Westbriar.8/31."),
        "s/p pelvic fx[DATE], UO-[DATE] good, line LA-[DATE], sent to [LOCATION].[DATE]."
    );
    for text in [
        "Disc at L4/5 and C5/6. PS10/5, SpO2/15, BP-120/80.",
        "Pt on CPAP .4%, 5/18. simv 900 10/25 50%.",
    ] {
        assert_eq!(tagged(text), text);
    }
    assert_eq!(
        tagged("Wean from vent and extubate 3/11. PICC in R AC 11/17. Vent on PSV 10/5."),
        "Wean from vent and extubate [DATE]. PICC in R AC [DATE]. Vent on PSV 10/5."
    );
    assert_eq!(
        tagged("IN THIS CASE MARCH OF 1991. March to the unit."),
        "IN THIS CASE [DATE]. March to the unit."
    );
    assert_eq!(
        tagged("PMH: NIDDM. 09 PTCA to LCX. 2 stents placed."),
        "PMH: NIDDM. [DATE] PTCA to LCX. 2 stents placed."
    );
}

/// Dates with a two-digit year after a month name, ranges of days, two partial dates written
/// together, a month and day with a year after a dot; and the numbers that stay.
#[test]
fn short_years_day_ranges_and_glued_dates() {
    assert_eq!(
        tagged("Seen 14 Mar, 97 and again Feb 20, 98. Away 3->4 Jan, 99 and 5-6 June."),
        "Seen [DATE] and again [DATE]. Away [DATE] and [DATE]."
    );
    assert_eq!(
        tagged("Infusions given 09/14/09/15, last labs 12/02.97 here."),
        "Infusions given [DATE], last labs [DATE] here."
    );
    for text in [
        "Strength 4/5/4/5 in both legs. Gtt at 3/12.5 mg per hour.",
        "Vent weaned to 10/05/10/06 overnight. Dose 5/10.25 cc.",
        "Takes 2-3 tabs, then 1-2 units.",
    ] {
        assert_eq!(tagged(text), text);
    }
    // A month with a day keeps its date; the units after it stay.
    assert_eq!(
        tagged("Started Nov 2, 10 units of insulin."),
        "Started [DATE], 10 units of insulin."
    );
}

/// A decade's `s` and the further years of a list go with the year.
#[test]
fn decades_and_lists_of_years() {
    assert_eq!(
        tagged("PMH: MI in 1970s, CABG 88 and 93, CVA 1999, 2003."),
        "PMH: MI in [DATE], CABG [DATE] and [DATE], CVA [DATE], [DATE]."
    );
    let text = "Sats in the 90s. Given 1992 mg and 2010 mg.";
    assert_eq!(tagged(text), text);
    assert_eq!(
        tagged("CVA 1999 and 3000 steps daily."),
        "CVA [DATE] and 3000 steps daily."
    );
    // The event's year is one; the count after "and" is not.
    assert_eq!(
        tagged("s/p CABG 81 and 2 stents. MI 92 and 40 mg of lasix."),
        "s/p CABG [DATE] and 2 stents. MI [DATE] and 40 mg of lasix."
    );
}

/// A phone number in parentheses with a digit too many, a pager after "PG"; ranges of values
/// shaped like local numbers stay unless a phone word is before them.
#[test]
fn phone_numbers_and_ranges_of_values() {
    assert_eq!(
        tagged("Son can be reached (617 555 01234) at night. PG 45678"),
        "Son can be reached [PHONE] at night. PG [PHONE]"
    );
    let text = "SVR 900-1300, TV 500-1000, passed 800-1000 cc. BNP 1200 pg/ml.";
    assert_eq!(tagged(text), text);
    assert_eq!(tagged("Home phone 555-1234."), "Home phone [PHONE].");
}

/// An address after a list of values, a ZIP code after a word in capitals that is no state.
#[test]
fn ip_and_zip_need_their_context() {
    for text in [
        "Gas on these settings: 60/41/7.41.22.3 noted.",
        "HEPARIN AT 12000, RECHECK PTT IN 6 HRS.",
    ] {
        assert_eq!(tagged(text), text);
    }
    assert_eq!(
        tagged("Mailed to Albany, NY 12207 and to host 10.2.3.4 today."),
        "Mailed to [LOCATION], [STATE] [ZIP] and to host [IP] today."
    );
}

/// States and countries only where one lives or in an address.
#[test]
fn states_only_in_addresses_and_where_one_lives() {
    assert_eq!(
        tagged("She lives in Ohio. Mail goes to Albany, Vermont."),
        "She lives in [STATE]. Mail goes to [LOCATION], [STATE]."
    );
    let text = "Her sister in Ohio called. He went back to Vermont. She is from the Azores.";
    assert_eq!(tagged(text), text);
}

/// A ward after "c/o to" (called out to), and a long unknown word in lower case after a
/// transfer to; hospital destinations and clinical words stay.
#[test]
fn wards_after_call_outs_and_transfers() {
    assert_eq!(
        tagged("Plan: c/o to westbriar if stable. Transferred to Kravendale today."),
        "Plan: c/o to [LOCATION] if stable. Transferred to [LOCATION] today."
    );
    for text in [
        "Pt c/o to floor when bed ready. Returned from angio on time.",
        "Blood sent from plasmapheresis line. Transferred to telemetry at noon.",
    ] {
        assert_eq!(tagged(text), text);
    }
}
