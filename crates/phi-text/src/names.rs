//! Names and places by dictionaries and context.
//!
//! Rules, in order (each token is a word of letters with inner `'` or `-`):
//! - **title**: after `Dr`, `Mr`, `Mrs`, `Ms`, `Miss`, `NP`, `MD`, … the next word is a name
//!   unless it is a stop word; an initial or a given name before it extends the name; `and` + a
//!   word continues a list of names (`Drs. Okafor and Lindgren`).
//!   `MD`, `MS` and `NP` are titles only before a plain space and a name-like word (`MS: sedated`,
//!   `see MD notes`, `4L NP` are not names); after `Dr.` a clinical word that is in the name lists
//!   is a name (`Dr. Moody`).
//! - **credential**: words before `RN`, `MD`, `RRT`, `BSN`, … (`Wanda Pruitt, RN`); an initial
//!   there needs its dot and no digit before it.
//! - **aware**: an unknown word (not English, not one edit from an English word, not a service)
//!   before `aware`, `notified`, `paged`, … (`Zelko aware`), with a given name before it.
//! - **relation**: after `wife`, `son`, `daughter`, `proxy`, … a given name (even one that is a
//!   clinical word, `son Bill`), a capitalized word, or an unknown word that is not a misspelling
//!   of an English word (`dtr marisol`).
//! - **initial**: `E. Thorne` (an initial with a dot then a word), except organisms (`E. coli`);
//!   an English or clinical word too when `aware`, `notified`, … follows or `per` precedes.
//! - **dictionary**: a given name or surname that is not also an English or clinical word.
//! - **extension**: a capitalized or dictionary word next to a name is part of it.
//! - **propagation**: a word found as a name (or place) by context is a name everywhere in the
//!   same text, unless it is a stop word or a common English word.
//! - **places**: words before `hospital`, `memorial`, `regional`, `medical center`, `rehab`, …
//!   (facility names; in single-case text not English words, except facility-name words such as
//!   `Sacred`, `Holy`); `Holy Cross`, `Sacred Heart`, `St. Mary's`, `University of X`; a word
//!   followed by a floor number after `transfer to`, or an unknown word of five letters or more
//!   followed by one digit after `to`/`from` (a ward); hospital acronyms (`MGH`) after
//!   `to`/`at`/`from`; U.S. cities from the dictionaries, capitalized or after `lives in`,
//!   `from`, …; states and countries only where one lives (`lives in`, `born in`) or after a
//!   city and a comma (`Albany, Vermont`).
//!
//! Capitalization is evidence only when the text is in mixed case (not all capitals, not all
//! lower case).

use crate::dict::{self, Dictionaries, HashSet};
use crate::{Candidate, Category};

const TITLES: &[&str] = &[
    "dr",
    "drs",
    "doctor",
    "mr",
    "mrs",
    "ms",
    "miss",
    "mister",
    "prof",
    "professor",
    "np",
    "ho",
    "md",
    "dr's",
    "drs'",
];
const CREDENTIALS: &[&str] = &[
    "rn", "md", "np", "rrt", "bsn", "lpn", "cna", "phd", "msw", "licsw", "lcsw", "pharmd", "crnp",
    "aprn", "rph", "pa-c", "mph", "lsw", "cnm", "dds", "ms", "ot", "pt",
];
const RELATIONS: &[&str] = &[
    "wife",
    "husband",
    "son",
    "sons",
    "daughter",
    "daughters",
    "dtr",
    "dau",
    "mother",
    "father",
    "mom",
    "dad",
    "sister",
    "brother",
    "sis",
    "bro",
    "niece",
    "neice",
    "nephew",
    "aunt",
    "uncle",
    "cousin",
    "grandson",
    "granddaughter",
    "grandaughter",
    "grandchild",
    "grandmother",
    "grandfather",
    "friend",
    "neighbor",
    "neighbour",
    "partner",
    "fiance",
    "fiancee",
    "girlfriend",
    "boyfriend",
    "spouse",
    "proxy",
    "hcp",
    "guardian",
    "stepdaughter",
    "stepson",
    "step-daughter",
    "step-son",
    "in-law",
    "sil",
    "dil",
    "goddaughter",
    "godson",
    "caregiver",
    "roommate",
    "companion",
    "person",
    "spokesperson",
    "contact",
    "named",
    "name",
];
/// Words before a ward's name and number ("to", "on", "per Westbriar 3 RN", "plan: …").
const WARD_BEFORE: &[&str] = &["to", "from", "on", "at", "per", "transfer", "plan"];

/// Short forms of given names that the name lists lack or hold as common words: names only
/// right after a relation word ("son Bobby", "BROTHER TONY", "daughter Dot").
const NICKNAMES: &[&str] = &[
    "rob", "bob", "bobby", "bill", "billy", "vinny", "vin", "hank", "jim", "jimmy", "tom", "tommy",
    "dick", "rick", "ricky", "ron", "ronnie", "don", "donnie", "dan", "danny", "joe", "joey", "ed",
    "eddie", "al", "sue", "susie", "pat", "patty", "peg", "peggy", "kate", "katie", "liz", "beth",
    "meg", "jen", "jenny", "sal", "lou", "ted", "teddy", "ray", "art", "mike", "matt", "nick",
    "ben", "sam", "tony", "vince", "chuck", "chris", "dave", "steve", "andy", "fred", "frank",
    "greg", "jeff", "ken", "kenny", "larry", "phil", "pete", "rich", "rose", "dot", "dottie",
    "bea", "connie", "terry", "jerry", "gerry", "barb", "deb", "debbie", "cathy", "kathy",
];

/// Verbs whose object is the person reached ("unable to reach Bobby", "paged Tavi").
const CONTACT_OBJECT_VERBS: &[&str] = &[
    "reach",
    "reached",
    "contacted",
    "contact",
    "phoned",
    "telephoned",
    "updated",
    "told",
    "reassured",
    "paged",
    "emailed",
    "texted",
];
/// Words of conversation before "with" or "to" and the person ("spoke at length with Tavi").
const CONVERSATION: &[&str] = &[
    "spoke",
    "spoken",
    "speak",
    "speaking",
    "talked",
    "talk",
    "talking",
    "discussed",
    "discussion",
    "conversation",
    "met",
    "meeting",
    "explained",
    "consult",
    "consulted",
    "conference",
    "communicated",
];

/// Words before a phone number of a person ("cell# 555-…").
const PHONE_WORDS: &[&str] = &[
    "cell",
    "cellphone",
    "cell#",
    "home",
    "work",
    "pager",
    "beeper",
    "phone",
    "tel",
    "mobile",
];
/// Visits and calls of relatives after a social section header ("social: bob visited").
const VISITS: &[&str] = &[
    "visited", "visiting", "visits", "called", "calls", "phoned", "came", "here", "in",
];

/// Clinical roles written in parentheses after a person's name ("(resident)").
const ROLES: &[&str] = &[
    "resident",
    "attending",
    "fellow",
    "intern",
    "surgeon",
    "cardiologist",
    "pcp",
    "physician",
    "nurse",
    "hcp",
    "proxy",
    "guardian",
];

/// Given names that are far more often common words in notes ("will", "may", "mark"): never a
/// name by list context alone.
const COMMON_GIVEN: &[&str] = &[
    "will", "may", "mark", "hope", "else", "ace", "said", "page", "trace", "max", "min", "mo",
    "day", "ed", "art", "rose", "grant", "chase", "joy", "faith", "sunny",
];

/// Words after a name that report to a clinician ("Smith aware"); the first five make a name of
/// an unknown word before them.
const AWARE: &[&str] = &[
    "aware", "notified", "paged", "informed", "updated", "called", "ordered", "here", "in",
];
/// Services and teams that are made aware like people ("ortho aware").
const SERVICES: &[&str] = &[
    "ortho",
    "neurosurg",
    "nsurg",
    "cards",
    "cardiology",
    "renal",
    "pulm",
    "pulmonary",
    "onc",
    "heme",
    "ent",
    "gyn",
    "uro",
    "urology",
    "vasc",
    "surg",
    "surgery",
    "anesthesia",
    "pharmacy",
    "nutrition",
    "echo",
    "csru",
    "micu",
    "ccu",
    "sicu",
    "tsicu",
    "neuro",
    "cardiac",
    "ctsurg",
    "nsg",
    "rt",
    "resp",
    "ems",
    "transplant",
    "psych",
    "hepatology",
    "gi",
    "ep",
    "ir",
    "radiology",
    "nephrology",
    "oncology",
    "hematology",
    "dermatology",
    "derm",
    "neurology",
    "icu",
    "eicu",
    "team",
    "teams",
    "fellow",
    "resident",
    "intern",
    "attending",
    "house",
    "covering",
    "family",
    "pt",
    "patient",
    "wife",
    "husband",
    "son",
    "daughter",
    "all",
    "everyone",
    "midlevel",
    "midlevels",
    "nsurg",
    "ctsurgery",
    "cvicu",
    "ortho's",
    "cmo",
];
/// Languages and nationalities, written in lower case in notes ("daughter, russian speaking").
const LANGUAGES: &[&str] = &[
    "russian",
    "italian",
    "spanish",
    "chinese",
    "portuguese",
    "greek",
    "polish",
    "haitian",
    "vietnamese",
    "korean",
    "creole",
    "cantonese",
    "mandarin",
    "french",
    "german",
    "arabic",
    "hebrew",
    "yiddish",
    "hindi",
    "urdu",
    "farsi",
    "japanese",
    "cambodian",
    "khmer",
    "somali",
    "amharic",
    "albanian",
    "armenian",
    "ukrainian",
    "irish",
    "english",
    "american",
    "hispanic",
    "latino",
    "latina",
    "asian",
    "african",
    "caucasian",
    "jewish",
    "catholic",
    "muslim",
    "protestant",
    "christian",
    "baptist",
];
const ORGANISMS: &[&str] = &[
    "coli",
    "aureus",
    "aeruginosa",
    "diff",
    "difficile",
    "dif",
    "pylori",
    "pneumoniae",
    "epidermidis",
    "faecalis",
    "faecium",
    "albicans",
    "glabrata",
    "influenzae",
    "cloacae",
    "marcescens",
    "mirabilis",
    "fragilis",
    "jirovecii",
    "carinii",
    "pneumonia",
    "cepacia",
    "maltophilia",
    "baumannii",
    "viridans",
    "pyogenes",
    "agalactiae",
    "enterococcus",
    "m",
    "d",
    "o",
    "r",
    "l",
    "s",
    "p",
    "q",
    "b",
    "t",
    "c",
    "e",
];
const FACILITY: &[&str] = &[
    "memorial",
    "regional",
    "hospital",
    "hosp",
    "rehab",
    "clinic",
    "infirmary",
    "hospice",
    "campus",
    "vamc",
    "va",
    "nursing",
    "health",
    "medical",
    "med",
    "center",
];
/// A hospital's units and emergency room, written after its name ("Tillman MICU").
const UNIT_WORDS: &[&str] = &[
    "ew", "er", "ed", "micu", "ccu", "sicu", "icu", "csru", "pacu", "cvicu", "tsicu", "nicu",
    "picu", "ctic", "cticu",
];
/// Verbs of going before "to" and a place.
const GOING: &[&str] = &[
    "went",
    "go",
    "goes",
    "going",
    "gone",
    "sent",
    "taken",
    "came",
    "come",
    "flew",
    "drove",
    "return",
    "returned",
    "returning",
    "back",
];
/// Destinations in a hospital and other places that are no facility names, capitalized in notes
/// ("went to Radiology", "transferred to Floor", "from Home").
const DESTINATION_STOP: &[&str] = &[
    "floor",
    "unit",
    "ct",
    "mri",
    "rehab",
    "home",
    "cath",
    "lab",
    "radiology",
    "angio",
    "angiography",
    "dialysis",
    "surgery",
    "endoscopy",
    "echo",
    "ultrasound",
    "x-ray",
    "xray",
    "nuclear",
    "medicine",
    "stepdown",
    "step-down",
    "tele",
    "telemetry",
    "bed",
    "chair",
    "commode",
    "bathroom",
    "sleep",
    "hospice",
    "shelter",
    "morgue",
    "recovery",
    "holding",
    "pre-op",
    "preop",
    "post-op",
    "postop",
    "bedside",
    "emergency",
    "triage",
    "admitting",
    "interventional",
    "vascular",
    "cardiology",
    "oncology",
    "neurology",
    "pulmonary",
    "psychiatry",
    "nursing",
    "outside",
    "work",
    "school",
    "church",
    "dinner",
    "lunch",
    "breakfast",
    "bathroom",
    "toilet",
    "shower",
    "procedure",
    "operating",
    "cardiac",
    "medical",
    "surgical",
    "trauma",
    "coronary",
    "intensive",
    "critical",
    "acute",
    "pediatric",
    "baseline",
    "left",
    "right",
    "bilateral",
    "today",
    "tonight",
    "tomorrow",
    "yesterday",
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
    "january",
    "february",
    "march",
    "april",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
    "patient",
    "family",
    "pharmacy",
    "blood",
    "bank",
    "pathology",
    "physical",
    "occupational",
    "therapy",
    "speech",
    "social",
];
/// Words that end facility names but need a name before them that is no English word
/// ("Brantwood Adventist", "Tidewater House", "Brightwood Assisted Living").
const FACILITY_OF_NAME: &[&str] = &[
    "adventist",
    "methodist",
    "presbyterian",
    "lutheran",
    "house",
    "manor",
    "assisted",
];
/// Words of facility names that are English words ("Sacred Heart Memorial", "Cedar Regional").
const FACILITY_NAME_WORDS: &[&str] = &[
    "memorial",
    "regional",
    "general",
    "community",
    "sacred",
    "heart",
    "holy",
    "cross",
    "mercy",
    "union",
    "good",
    "samaritan",
    "providence",
    "baptist",
    "methodist",
    "presbyterian",
    "lutheran",
    "adventist",
    "university",
    "children's",
    "st",
    "saint",
    "hospital",
    "medical",
    "center",
    "hosp",
];
const LOC_STOP: &[&str] = &[
    "outside",
    "other",
    "another",
    "community",
    "local",
    "area",
    "city",
    "state",
    "county",
    "children's",
    "veterans",
    "psych",
    "psychiatric",
    "acute",
    "chronic",
    "long-term",
    "term",
    "long",
    "rehabilitation",
    "general",
    "private",
    "public",
    "teaching",
    "university",
    "u",
    "your",
    "osh",
    "home",
    "house",
    "apartment",
    "shelter",
    "nursing",
    "rehab",
    "hospital",
    "hosp",
    "floor",
    "room",
    "bed",
    "unit",
    "level",
];
const TRANSFER: &[&str] = &[
    "transfer",
    "transferred",
    "transfered",
    "transfering",
    "transferring",
    "xfer",
    "xferred",
    "xfered",
    "txd",
    "admitted",
    "admit",
    "c/o",
    "callout",
    "sent",
    "moved",
    "discharged",
    "returned",
    "transported",
    "brought",
];
/// Verbs of place beyond those of living ([`LIVING_VERBS`]): a city after either is a place
/// ("visiting in Albany", "lives in Albany").
const PLACE_VERBS: &[&str] = &[
    "grew",
    "vacation",
    "visiting",
    "trip",
    "traveled",
    "travelled",
    "drove",
    "flew",
    "from",
    "works",
    "worked",
    "stays",
    "staying",
];
/// Verbs of living: the context in which a state or a country is taken ("lives in Ohio", "born
/// in Peru"); codes need "in" or "near" after them ("moved to OR" is the operating room).
const LIVING_VERBS: &[&str] = &[
    "lives",
    "live",
    "living",
    "lived",
    "resides",
    "reside",
    "resided",
    "born",
    "moved",
    "relocated",
    "raised",
];
/// Verbs of going before a place: context for a city of several words or one that is no common
/// word ("returned to new haven"; "returned to normal" stays).
const GOING_VERBS: &[&str] = &[
    "returned",
    "returning",
    "went",
    "flying",
    "flew",
    "moving",
    "driving",
    "drove",
];
/// Adverbs between a verb of living or going and the place ("lives nearby in X").
const PLACE_ADVERBS: &[&str] = &[
    "nearby",
    "alone",
    "now",
    "currently",
    "locally",
    "back",
    "home",
    "here",
    "there",
    "together",
    "mostly",
    "still",
    "also",
    "usually",
];

#[derive(Debug, Clone)]
struct Token {
    start: usize,
    end: usize,
    lower: String,
    /// First letter capital.
    title: bool,
    /// All letters capital.
    upper: bool,
    /// Dictionary facts, looked up once.
    f: Flags,
    /// Which cue lists hold the word (`CUE_*` bits), looked up once.
    cue: u16,
}

#[derive(Debug, Clone, Copy, Default)]
struct Flags {
    stop: bool,
    clinical: bool,
    english: bool,
    weak: bool,
    first: bool,
    last: bool,
    /// First word of a city, state or country (of any length).
    place_start: bool,
}

fn token(dict: &Dictionaries, text: &str, start: usize, end: usize) -> Token {
    let word = &text[start..end];
    let title = word.chars().next().is_some_and(char::is_uppercase);
    let upper = word.chars().all(|c| !c.is_lowercase());
    let lower = word.to_lowercase();
    let bits = dict.word_flags.get(&lower).copied().unwrap_or(0);
    let f = Flags {
        stop: bits & dict::STOP != 0,
        clinical: bits & dict::CLINICAL_BIT != 0,
        english: bits & dict::ENGLISH_BIT != 0,
        weak: bits & dict::WEAK_BIT != 0,
        first: bits & dict::FIRST != 0,
        last: bits & dict::LAST != 0,
        place_start: bits & dict::PLACE != 0,
    };
    let mut cue = cue_table().get(lower.as_str()).copied().unwrap_or(0);
    if is_relation(&lower) {
        cue |= CUE_RELATION;
    }
    Token {
        start,
        end,
        lower,
        title,
        upper,
        f,
        cue,
    }
}

const CUE_TITLE: u16 = 1;
const CUE_CREDENTIAL: u16 = 2;
const CUE_RELATION: u16 = 4;
/// The first five words of `AWARE`.
const CUE_AWARE: u16 = 8;
const CUE_FACILITY: u16 = 16;
const CUE_FACILITY_OF_NAME: u16 = 32;
const CUE_WARD_BEFORE: u16 = 64;
const CUE_UNIT: u16 = 128;

/// The cue lists that are tested for every word, as bits per word: one lookup instead of a scan
/// of each list.
fn cue_table() -> &'static dict::HashMap<&'static str, u16> {
    static TABLE: std::sync::OnceLock<dict::HashMap<&'static str, u16>> =
        std::sync::OnceLock::new();
    TABLE.get_or_init(|| {
        let mut t: dict::HashMap<&'static str, u16> = dict::HashMap::default();
        for (list, bit) in [
            (TITLES, CUE_TITLE),
            (CREDENTIALS, CUE_CREDENTIAL),
            (RELATIONS, CUE_RELATION),
            (&AWARE[..5], CUE_AWARE),
            (FACILITY, CUE_FACILITY),
            (FACILITY_OF_NAME, CUE_FACILITY_OF_NAME),
            (WARD_BEFORE, CUE_WARD_BEFORE),
            (UNIT_WORDS, CUE_UNIT),
        ] {
            for w in list {
                *t.entry(w).or_insert(0) |= bit;
            }
        }
        t
    })
}

/// Kinship words as relation cues: the list, and any `…-in-law` ("dtr-in-law").
fn is_relation(l: &str) -> bool {
    RELATIONS.contains(&l) || l.ends_with("-in-law") || l.ends_with("-in-laws")
}

/// A misspelt kinship word ("dauther", "grandon"): same first two and last two letters as a
/// relation word of five letters or more and a length at most two letters away. Only taken as
/// such when not capitalized ("Brewer" after "brother" may be a name).
fn near_relation(l: &str) -> bool {
    let b = l.as_bytes();
    b.len() >= 4
        && RELATIONS.iter().any(|r| {
            let r = r.as_bytes();
            r.len() >= 5
                && r.len().abs_diff(b.len()) <= 2
                && r[..2] == b[..2]
                && r[r.len() - 2..] == b[b.len() - 2..]
        })
}

/// Relation words that name a role rather than kin; they are not split out of a hyphenated word
/// ("contact-person" stays one word).
fn splits_compound(l: &str) -> bool {
    is_relation(l) && !matches!(l, "name" | "named" | "person" | "contact" | "in-law")
}

/// The parts of a hyphenated word written with a kinship word glued to a name or a header
/// ("DAUGHTER-TRINA", "SOCIAL-daughter"): the relation rule needs them as separate words. Other
/// hyphenated words, and relations that hold a hyphen themselves ("step-son", "son-in-law"), stay
/// whole.
fn split_relation_compound(text: &str, start: usize, end: usize) -> Vec<(usize, usize)> {
    let word = &text[start..end];
    let lower = word.to_lowercase();
    if is_relation(&lower) || lower.len() != word.len() {
        return vec![(start, end)];
    }
    let mut parts = Vec::new();
    let mut from = 0;
    for (i, _) in word.match_indices('-') {
        parts.push((from, i));
        from = i + 1;
    }
    parts.push((from, word.len()));
    if !parts.iter().any(|&(a, b)| splits_compound(&lower[a..b])) {
        return vec![(start, end)];
    }
    parts
        .into_iter()
        .map(|(a, b)| (start + a, start + b))
        .collect()
}

fn tokenize(dict: &Dictionaries, text: &str) -> Vec<Token> {
    let mut out = Vec::new();
    let mut it = text.char_indices().peekable();
    while let Some((i, c)) = it.next() {
        if !c.is_alphabetic() {
            continue;
        }
        let start = i;
        let mut end = i + c.len_utf8();
        while let Some(&(j, d)) = it.peek() {
            if d.is_alphabetic() {
                end = j + d.len_utf8();
                it.next();
            } else if matches!(d, '\'' | '-' | '\u{2019}') {
                // Inner apostrophe or hyphen only when a letter follows.
                let rest = &text[j + d.len_utf8()..];
                if rest.chars().next().is_some_and(char::is_alphabetic) {
                    it.next();
                } else {
                    break;
                }
            } else {
                break;
            }
        }
        if text[start..end].contains('-') {
            for (a, b) in split_relation_compound(text, start, end) {
                out.push(token(dict, text, a, b));
            }
        } else {
            out.push(token(dict, text, start, end));
        }
    }
    out
}

struct Ctx<'a> {
    text: &'a str,
    dict: &'a Dictionaries,
    toks: Vec<Token>,
    /// Whether capitalization carries information (mixed-case text).
    informative: bool,
    marks: Vec<Option<(Category, u8)>>,
    /// Words found by context, to propagate.
    found: dict::HashMap<String, Category>,
    /// Given names and surnames that are also common words ("Dusty", "Bill"), found as names by
    /// context: propagated only where capitalization (or single-case text) allows a name.
    found_common: HashSet<String>,
}

impl<'a> Ctx<'a> {
    fn lower(&self, i: usize) -> &str {
        &self.toks[i].lower
    }

    /// The text between token i-1 and token i.
    fn gap(&self, i: usize) -> &str {
        if i == 0 || i >= self.toks.len() {
            return "";
        }
        &self.text[self.toks[i - 1].end..self.toks[i].start]
    }

    /// Token i follows token i-1 closely on the same line (spaces, `.`, `,`, `:`, `(`, `/`).
    fn tight(&self, i: usize) -> bool {
        let g = self.gap(i);
        g.len() <= 3
            && !g.contains('\n')
            && g.chars()
                .all(|c| matches!(c, ' ' | '.' | ',' | ':' | '(' | '/' | '\t'))
    }

    /// Token i follows token i-1 with a space, or a colon and a space.
    fn spaced_or_colon(&self, i: usize) -> bool {
        matches!(self.gap(i), " " | ": " | ":")
    }

    /// Token i follows token i-1 with spaces (and at most a dot) only.
    fn spaced(&self, i: usize) -> bool {
        let g = self.gap(i);
        !g.is_empty() && g.len() <= 3 && g.chars().all(|c| c == ' ' || c == '.')
    }

    /// The gap after a title: spaces, a dot, or a closing apostrophe (`Drs' Okafor`).
    fn title_gap(&self, i: usize) -> bool {
        let g = self.gap(i);
        !g.is_empty() && g.len() <= 3 && g.chars().all(|c| matches!(c, ' ' | '.' | '\''))
    }

    fn is_initial(&self, i: usize) -> bool {
        self.toks[i].lower.chars().count() == 1
    }

    /// A one-letter word that is an English word or an abbreviation more often than an initial.
    fn is_english_initial(&self, i: usize) -> bool {
        matches!(
            self.lower(i),
            "a" | "i" | "o" | "l" | "w" | "x" | "c" | "s" | "p"
        ) && !self.text[self.toks[i].end..].starts_with('.')
    }

    /// Capitalization marks the word as a proper noun.
    fn cap(&self, i: usize) -> bool {
        let t = &self.toks[i];
        self.informative && t.title && !(t.upper && t.lower.len() <= 4 && t.lower.len() > 1)
    }

    fn blocked(&self, i: usize) -> bool {
        self.toks[i].f.stop || self.toks[i].f.clinical
    }

    /// A stop word, or a clinical word that is in no name list.
    fn blocked_unless_name(&self, i: usize) -> bool {
        let f = self.toks[i].f;
        f.stop || (f.clinical && !f.first && !f.last)
    }

    fn plain_name(&self, i: usize) -> bool {
        let f = self.toks[i].f;
        (f.first || f.last) && !f.weak && !f.clinical && !f.stop
    }

    fn mark(&mut self, i: usize, category: Category, priority: u8, propagate: bool) {
        let better = match self.marks[i] {
            Some((_, p)) => priority > p,
            None => true,
        };
        if better {
            self.marks[i] = Some((category, priority));
        }
        let l = &self.toks[i].lower;
        let f = self.toks[i].f;
        if propagate && l.chars().count() >= 3 && !f.english && !f.weak && !f.clinical && !f.stop {
            self.found.entry(l.clone()).or_insert(category);
        } else if category == Category::Name
            && priority >= 40
            && l.chars().count() >= 3
            && (f.first || f.last || NICKNAMES.contains(&l.as_str()))
            && !f.clinical
            && !f.stop
            && !COMMON_GIVEN.contains(&l.as_str())
        {
            self.found_common.insert(l.clone());
        }
    }

    /// The next name of a list after the name at token `i`: "X and Y", "X & Y", and with
    /// `commas` "X, Y" or "X/Y". The item is a given name of the lists (also one that is a common
    /// word, "and Roger") or, in mixed-case text, a capitalized word that is no English or
    /// clinical word.
    fn next_list_item(&self, i: usize, commas: bool) -> Option<usize> {
        let len = self.toks.len();
        let n = if i + 2 < len
            && self.lower(i + 1) == "and"
            && self.gap(i + 1) == " "
            && self.gap(i + 2) == " "
        {
            i + 2
        } else if i + 1 < len
            && (matches!(self.gap(i + 1), " & " | "&")
                || (commas && matches!(self.gap(i + 1), ", " | "," | "/" | " / ")))
        {
            i + 1
        } else {
            return None;
        };
        let l = self.lower(n);
        let f = self.toks[n].f;
        let word_ok = !f.stop
            && l.chars().count() >= 2
            && !self.in_list(n, CREDENTIALS)
            && !self.in_list(n, TITLES)
            && !is_relation(l)
            && !SERVICES.contains(&l)
            && !LANGUAGES.contains(&l)
            && (self.cap(n) || !self.informative);
        let given = (f.first || NICKNAMES.contains(&l)) && !COMMON_GIVEN.contains(&l);
        let unknown = self.informative
            && self.cap(n)
            && !f.english
            && !f.clinical
            && !f.weak
            && !self.dict.near_english(l);
        (word_ok && (given || unknown)).then_some(n)
    }

    /// A word that may be a person's name after a conversation verb: a given name of the lists
    /// (also one that is a common word, "Bobby") or a word that is no English or clinical word nor
    /// a misspelling of one; capitalized in mixed-case text.
    fn contact_name(&self, k: usize) -> bool {
        let l = self.lower(k);
        let f = self.toks[k].f;
        if f.stop
            || self.in_list(k, CREDENTIALS)
            || self.in_list(k, TITLES)
            || is_relation(l)
            || SERVICES.contains(&l)
            || LANGUAGES.contains(&l)
            || (self.informative && !self.cap(k))
        {
            return false;
        }
        let given =
            (f.first || NICKNAMES.contains(&l)) && !f.clinical && !COMMON_GIVEN.contains(&l);
        let unknown = !f.english
            && !f.clinical
            && !f.weak
            && l.chars().count() >= 4
            && !l.contains(['-', '\''])
            && !self.dict.near_english(l);
        given || unknown
    }

    /// A word that may be part of a name before a role in parentheses: a name of the lists or,
    /// capitalized (or in single-case text), a word that is no English or clinical word.
    fn paren_name_word(&self, k: usize) -> bool {
        let l = self.lower(k);
        let f = self.toks[k].f;
        if f.stop || self.cue(k, CUE_CREDENTIAL | CUE_TITLE) || is_relation(l) {
            return false;
        }
        if self.informative && !self.toks[k].title {
            return false;
        }
        let name = (f.first || f.last || NICKNAMES.contains(&l)) && !COMMON_GIVEN.contains(&l);
        let unknown = !f.english
            && !f.clinical
            && !f.weak
            && l.chars().count() >= 3
            && !SERVICES.contains(&l)
            && !LANGUAGES.contains(&l)
            && !self.dict.near_english(l);
        name || unknown || (self.is_initial(k) && self.toks[k].title)
    }

    /// Whether token i is in the cue list of `bit` (`CUE_*`).
    fn cue(&self, i: usize, bit: u16) -> bool {
        self.toks[i].cue & bit != 0
    }

    fn in_list(&self, i: usize, list: &[&str]) -> bool {
        list.contains(&self.lower(i))
    }
}

/// Finds names and places in `text`.
pub(crate) fn detect(dict: &Dictionaries, text: &str, out: &mut Vec<Candidate>) {
    let toks = tokenize(dict, text);
    if toks.is_empty() {
        return;
    }
    let (mut lower_n, mut title_n, mut n) = (0usize, 0usize, 0usize);
    for t in toks.iter().filter(|t| t.lower.len() >= 2) {
        n += 1;
        if t.upper {
            continue;
        }
        if t.title {
            title_n += 1;
        } else {
            lower_n += 1;
        }
    }
    let informative = n > 0 && lower_n * 10 >= n * 3 && title_n > 0 && title_n * 10 < n * 6;
    let len = toks.len();
    let mut cx = Ctx {
        text,
        dict,
        toks,
        informative,
        marks: vec![None; len],
        found: dict::HashMap::default(),
        found_common: HashSet::default(),
    };

    for i in 0..len {
        // Title rule.
        if i + 1 < len && cx.cue(i, CUE_TITLE) && cx.title_gap(i + 1) && !cx.toks[i + 1].f.stop {
            // "MD", "MS" and "NP" are titles only before a name-like word and a plain space
            // ("MS: sedated", "see MD notes", "4L NP" are not names).
            let weak_title = matches!(cx.lower(i), "md" | "ms" | "np" | "ho");
            let l1 = cx.lower(i + 1);
            // "NP grace made aware": a given name that is also a clinical word, when a report
            // word follows.
            let reported_given = weak_title
                && i + 2 < len
                && cx.toks[i + 1].f.first
                && !COMMON_GIVEN.contains(&l1)
                && (cx.cue(i + 2, CUE_AWARE)
                    || (cx.lower(i + 2) == "made" && i + 3 < len && cx.cue(i + 3, CUE_AWARE)));
            let next_ok = if reported_given {
                cx.gap(i + 1) == " "
            } else if weak_title {
                cx.gap(i + 1) == " "
                    && !cx.blocked(i + 1)
                    && l1.len() >= 2
                    && (cx.dict.is_plain_name(l1)
                        || (cx.cap(i + 1) && !cx.dict.is_english(l1))
                        // "NP CAROL", "NP grace made aware": a given name of the lists.
                        || (cx.dict.first.contains(l1)
                            && !matches!(l1, "will" | "may" | "mark" | "hope" | "page" | "else"))
                        || (!cx.informative
                            && !cx.dict.is_english(l1)
                            && (cx.dict.is_name(l1)
                                || (l1.len() >= 4 && !cx.dict.near_english(l1)))))
            } else {
                // After "Dr." even a clinical word that is a name list entry is a name
                // ("Dr. Moody", "Dr. Price").
                !cx.toks[i + 1].f.clinical
                    || cx.dict.is_name(l1)
                    || cx.cap(i + 1)
                    || !cx.informative
            };
            if next_ok {
                let mut j = i + 1;
                cx.mark(j, Category::Name, 46, true);
                let mut steps = 0;
                while j + 1 < len && steps < 2 && cx.spaced(j + 1) && !cx.blocked(j + 1) {
                    let extend = cx.is_initial(j)
                        || cx.dict.first.contains(cx.lower(j))
                        || cx.lower(j) == "o";
                    if !extend {
                        break;
                    }
                    j += 1;
                    steps += 1;
                    cx.mark(j, Category::Name, 46, true);
                }
                // "Drs. A and B", "Dr. A / B".
                if j + 2 < len && (cx.lower(j + 1) == "and" || cx.gap(j + 1).trim() == "/") {
                    let k = if cx.lower(j + 1) == "and" {
                        j + 2
                    } else {
                        j + 1
                    };
                    if cx.tight(k) || cx.lower(j + 1) == "and" {
                        let l = cx.lower(k);
                        if !cx.blocked(k)
                            && !cx.cue(k, CUE_CREDENTIAL)
                            && (cx.dict.is_name(l) || !cx.dict.is_english(l))
                        {
                            cx.mark(k, Category::Name, 44, true);
                        }
                    }
                }
            }
        }
        // "Dr Will Ashby", "Dr. Art White": after a doctor's title, a given name that is also a
        // common word, when a capitalized word follows.
        if i + 2 < len
            && matches!(cx.lower(i), "dr" | "doctor" | "drs")
            && cx.title_gap(i + 1)
            && cx.toks[i + 1].f.stop
            && cx.dict.first.contains(cx.lower(i + 1))
            && cx.informative
            && cx.toks[i + 1].title
            && cx.toks[i + 2].title
            && cx.spaced(i + 2)
            && !cx.toks[i + 2].f.stop
        {
            cx.mark(i + 1, Category::Name, 46, false);
            cx.mark(i + 2, Category::Name, 46, true);
        }
        // Credential rule. A name that is also a clinical word is a name here ("Carla Vance,
        // RN", "Lorna Tyler, RN").
        if i + 1 < len
            && cx.cue(i + 1, CUE_CREDENTIAL)
            && cx.tight(i + 1)
            && !cx.blocked_unless_name(i)
        {
            let l = cx.lower(i);
            // "doreen moody, rn": a given name, a word and a comma make even a lower-case
            // credential one.
            let signed = i > 0
                && cx.spaced(i)
                && cx.dict.first.contains(cx.lower(i - 1))
                && cx.gap(i + 1).starts_with(',');
            let cred_upper = cx.toks[i + 1].upper || !cx.informative || signed;
            // An initial right before a credential needs its dot and no digit before it ("4L
            // NP" is a flow of oxygen, "w/ MD" a preposition).
            let initial_ok = !cx.is_initial(i)
                || (cx.text[cx.toks[i].end..].starts_with('.')
                    && !cx.text[..cx.toks[i].start].ends_with(|c: char| c.is_ascii_digit()));
            let after_initial =
                i > 0 && cx.is_initial(i - 1) && cx.spaced(i) && !cx.is_english_initial(i - 1);
            // "doreen moody, rn": a surname that is also a word, after a given name.
            let after_given = i > 0
                && cx.spaced(i)
                && cx.dict.first.contains(cx.lower(i - 1))
                && !cx.toks[i - 1].f.stop;
            let namey = cx.dict.is_name(l)
                || !cx.dict.is_english(l)
                || cx.is_initial(i)
                || ((after_initial || after_given) && l.len() >= 3);
            if cred_upper
                && namey
                && initial_ok
                && !cx.text[..cx.toks[i].start].ends_with(|c: char| c.is_ascii_digit())
                && !matches!(cx.lower(i + 1), "pt" | "ot" | "ms")
            {
                cx.mark(i, Category::Name, 44, !cx.is_initial(i));
                let mut j = i;
                let mut steps = 0;
                while j > 0 && steps < 2 && cx.spaced(j) && !cx.blocked_unless_name(j - 1) {
                    let p = j - 1;
                    let ok = cx.is_initial(p)
                        || cx.dict.is_name(cx.lower(p))
                        || (cx.cap(p) && !cx.dict.is_english(cx.lower(p)));
                    if !ok {
                        break;
                    }
                    cx.mark(p, Category::Name, 44, !cx.is_initial(p));
                    j = p;
                    steps += 1;
                }
            }
        }
        // Relation rule.
        if i + 1 < len && cx.cue(i, CUE_RELATION) {
            let mut k = i + 1;
            if k < len && matches!(cx.lower(k), "is" | "named" | "was") && cx.tight(k) {
                k += 1;
            }
            let g = if k < len { cx.gap(k) } else { "" };
            let ok_gap = g.len() <= 4 && !g.contains('\n') && !g.contains('.');
            let name_after_relation = k < len && {
                let l = cx.lower(k);
                let f = cx.toks[k].f;
                // A capitalized name list word, even a clinical one ("Husband Rich").
                (!f.stop && (f.first || f.last) && cx.cap(k) && cx.informative) ||
                NICKNAMES.contains(&l) ||
                // A given name that is also a clinical word ("son Bill", "daughter Dot"), or a
                // word that is neither English nor clinical ("dtr marisol").
                (!f.stop
                    && f.first
                    && !matches!(
                        l,
                        "will"
                            | "may"
                            | "mark"
                            | "hope"
                            | "else"
                            | "ace"
                            | "said"
                            | "page"
                            | "trace"
                            | "max"
                            | "min"
                            | "mo"
                            | "day"
                            | "ed"
                    ))
                    || (!cx.blocked(k)
                        && !f.english
                        && !f.weak
                        && l.chars().count() >= 4
                        && !l.contains(['-', '\''])
                        && !matches!(
                            cx.lower(i),
                            "contact"
                                | "name"
                                | "named"
                                | "person"
                                | "spokesperson"
                                | "caregiver"
                                | "companion"
                        )
                        && !cx.in_list(k, CREDENTIALS)
                        && !LANGUAGES.contains(&l)
                        && (!near_relation(l) || cx.cap(k))
                        && !cx.dict.near_english(l))
            };
            if k < len
                && ok_gap
                && (!cx.blocked(k) || name_after_relation)
                && !is_relation(cx.lower(k))
            {
                let l = cx.lower(k);
                if cx.dict.first.contains(l)
                    || cx.cap(k)
                    || (cx.dict.last.contains(l) && !cx.dict.weak.contains(l))
                    || name_after_relation
                {
                    cx.mark(k, Category::Name, 43, true);
                    let mut last = k;
                    if k + 1 < len && cx.spaced(k + 1) && !cx.blocked(k + 1) {
                        let l2 = cx.lower(k + 1);
                        if cx.cap(k + 1)
                            || cx.dict.is_plain_name(l2)
                            || (!cx.informative && cx.dict.last.contains(l2))
                        {
                            cx.mark(k + 1, Category::Name, 43, true);
                            last = k + 1;
                        }
                    }
                    // "Sons Tobias, Leopold and Gus": the rest of a list of names.
                    let mut items = 0;
                    while items < 4 {
                        let Some(n) = cx.next_list_item(last, true) else {
                            break;
                        };
                        cx.mark(n, Category::Name, 43, true);
                        last = n;
                        items += 1;
                    }
                }
            }
        }
        // Conversation: "spoke at length with Tavi", "explained in depth to Tavi", "unable to
        // reach Bobby": the person spoken to.
        if i >= 1 && cx.toks[i - 1].lower.len() >= 2 && cx.gap(i) == " " {
            let prev = cx.lower(i - 1);
            let object = prev.len() >= 4 && cx.in_list(i - 1, CONTACT_OBJECT_VERBS);
            let with_to = matches!(prev, "with" | "to")
                && (i.saturating_sub(5)..i - 1).any(|k| {
                    cx.in_list(k, CONVERSATION)
                        && !cx.text[cx.toks[k].end..cx.toks[i].start].contains(['\n', '.', ';'])
                });
            if (object || with_to) && cx.contact_name(i) {
                cx.mark(i, Category::Name, 42, true);
            }
        }
        // Role in parentheses: "Otto Brandvold (resident)", "GRETA LINDQVIST (DAUGHTER)": the
        // one or two words before it are the person's name.
        if i >= 1
            && matches!(cx.gap(i), " (" | "(")
            && cx.text[cx.toks[i].end..].starts_with(')')
            && (is_relation(cx.lower(i)) || cx.in_list(i, ROLES) || cx.in_list(i, CREDENTIALS))
            && !matches!(cx.lower(i), "name" | "named" | "person" | "contact")
        {
            let mut k = i - 1;
            let mut steps = 0;
            while steps < 2 && cx.paren_name_word(k) {
                cx.mark(k, Category::Name, 43, !cx.is_initial(k));
                steps += 1;
                if k == 0 || !cx.spaced(k) {
                    break;
                }
                k -= 1;
            }
        }
        // A name before a phone number: "Greta Lindqvist cell# 555-…", "Tavi Okonjo home 555…".
        if i >= 1
            && cx.text[cx.toks[i].end..]
                .trim_start_matches([' ', '#', ':', '-', '.'])
                .starts_with(|c: char| c.is_ascii_digit())
            && cx.in_list(i, PHONE_WORDS)
            && cx.spaced(i)
        {
            let mut k = i - 1;
            let mut steps = 0;
            while steps < 2 && !cx.is_initial(k) && cx.paren_name_word(k) {
                cx.mark(k, Category::Name, 42, true);
                steps += 1;
                if k == 0 || !cx.spaced(k) {
                    break;
                }
                k -= 1;
            }
        }
        // "Social: tony visited": a given name that is also a common word, right after a social
        // or family section header and before a visit or a call.
        if i >= 1
            && i + 1 < len
            && matches!(
                cx.lower(i - 1),
                "social" | "family" | "soc" | "psychosocial" | "visitors"
            )
            && matches!(cx.gap(i).trim(), ":" | "-" | "->" | ":-")
            && cx.in_list(i + 1, VISITS)
            && cx.spaced(i + 1)
        {
            let l = cx.lower(i);
            let f = cx.toks[i].f;
            if (f.first || NICKNAMES.contains(&l))
                && !f.stop
                && !COMMON_GIVEN.contains(&l)
                && (!cx.informative || !cx.toks[i].upper)
            {
                cx.mark(i, Category::Name, 42, true);
            }
        }
        // "J SMITH ORDERED": an initial without its dot, a surname and a report word.
        if i + 2 < len
            && cx.toks[i].upper
            && cx.toks[i].lower.len() <= 4
            && cx.is_initial(i)
            && !cx.is_english_initial(i)
            && cx.gap(i + 1) == " "
            && cx.in_list(i + 2, &AWARE[..7])
            && cx.spaced_or_colon(i + 2)
            && (i == 0
                || !cx.text[..cx.toks[i].start]
                    .trim_end()
                    .ends_with(|c: char| c.is_ascii_digit()))
        {
            let l = cx.lower(i + 1);
            if cx.dict.last.contains(l) && !cx.toks[i + 1].f.stop && !cx.toks[i + 1].f.clinical {
                cx.mark(i, Category::Name, 42, false);
                cx.mark(i + 1, Category::Name, 42, true);
            }
        }
        // Initial rule: "E. Thorne".
        if i + 1 < len
            && cx.is_initial(i)
            && cx.text[cx.toks[i].end..].starts_with(". ")
            && cx.spaced(i + 1)
        {
            let before_dot = i > 0 && cx.text[..cx.toks[i].start].ends_with('.');
            let l = cx.lower(i + 1);
            let after_dot =
                cx.text[cx.toks[i + 1].end..].starts_with('.') && cx.toks[i + 1].lower.len() == 1;
            // "E. Welsh aware", "per Z. Miller": a reporting verb after or "per" before makes
            // even an English or clinical word a surname.
            let reported = (i + 2 < len && cx.in_list(i + 2, AWARE) && cx.spaced_or_colon(i + 2))
                || (i > 0
                    && matches!(
                        cx.lower(i - 1),
                        "per" | "by" | "called" | "paged" | "notified"
                    ));
            let g = cx.gap(i);
            if !before_dot
                && !after_dot
                && l.len() >= 2
                && !cx.toks[i + 1].f.stop
                && (!cx.blocked(i + 1) || reported)
                && !ORGANISMS.contains(&l)
                && (cx.cap(i + 1) || !cx.informative)
                && cx.toks[i].title == cx.toks[i + 1].title
                && (cx.dict.is_name(l) || !cx.dict.is_english(l) || reported)
                && (i == 0
                    || g.chars().all(char::is_whitespace)
                    || g.ends_with(", ")
                    || g.ends_with("- ")
                    || (reported && (g.ends_with(". ") || g.ends_with('-'))))
            {
                cx.mark(i, Category::Name, 42, false);
                cx.mark(i + 1, Category::Name, 42, true);
            }
        }
        // Aware rule: "Zelko aware", "grace zelinski aware", "Dr" left out.
        if i >= 1 && cx.cue(i, CUE_AWARE) && cx.spaced_or_colon(i) {
            let k = i - 1;
            let l = cx.lower(k);
            let f = cx.toks[k].f;
            if !cx.blocked(k)
                && !f.english
                && !f.weak
                && l.chars().count() >= 3
                && !SERVICES.contains(&l)
                && !LANGUAGES.contains(&l)
                && !l.contains(['-', '\''])
                && !cx.dict.near_english(l)
                && !cx.in_list(k, CREDENTIALS)
                && !cx.in_list(k, TITLES)
                && (cx.cap(k) || !cx.informative)
            {
                cx.mark(k, Category::Name, 41, true);
                if k > 0
                    && cx.spaced(k)
                    && !cx.toks[k - 1].f.stop
                    && cx.dict.first.contains(cx.lower(k - 1))
                {
                    cx.mark(k - 1, Category::Name, 41, false);
                }
            }
        }
        // Given name + unknown word: "martin fenwick", "patty tolliver", in any case. The second
        // word is no English word nor one edit from one, and not clinical.
        if i + 1 < len
            && cx.gap(i + 1) == " "
            && cx.dict.first.contains(cx.lower(i))
            && !cx.toks[i].f.stop
            && !cx.toks[i].f.clinical
            && cx.lower(i).chars().count() >= 3
            && cx.toks[i].title == cx.toks[i + 1].title
            // In capitals the unknown word is as often a misspelt drug ("ORAL AMNIODARONE"),
            // and a colour before a misspelt test ("green guiac") is no name.
            && !cx.toks[i].upper
            && !matches!(cx.lower(i), "green" | "brown" | "white" | "black" | "gray" | "grey" | "rose" | "ruby" | "amber" | "olive" | "oral")
        {
            let next = cx.lower(i + 1);
            let f = cx.toks[i + 1].f;
            if next.chars().count() >= 4
                && !f.english
                && !f.weak
                && !f.clinical
                && !f.stop
                && !cx.dict.near_english(next)
                && !next.contains(['-', '\''])
                && !SERVICES.contains(&next)
                && !LANGUAGES.contains(&next)
            {
                cx.mark(i, Category::Name, 40, false);
                cx.mark(i + 1, Category::Name, 40, true);
            }
        }
        // Dictionary rule.
        if cx.plain_name(i) && (!cx.informative || cx.toks[i].title || cx.toks[i].f.first) {
            cx.mark(i, Category::Name, 40, false);
        }
    }
    propagate(&mut cx);
    // Coordination: "Both Greta and Dusty are proxies" — a given name joined by "and" to a
    // name found by context is a name too.
    for i in 0..len {
        if matches!(cx.marks[i], Some((Category::Name, p)) if p >= 37) {
            if let Some(n) = cx.next_list_item(i, false) {
                cx.mark(n, Category::Name, 41, true);
            }
        }
    }
    // Extension: capitalized or dictionary words next to a name.
    for _ in 0..2 {
        for i in 0..len {
            if !matches!(cx.marks[i], Some((Category::Name, _))) {
                continue;
            }
            for k in [i + 1, i.wrapping_sub(1)] {
                // A surname that is also a clinical word, right after a name ("CARLA VANCE").
                let clinical_surname = k == i + 1
                    && k < len
                    && cx.toks[k].f.clinical
                    && !cx.toks[k].f.stop
                    && cx.dict.last.contains(cx.lower(k))
                    && (cx.cap(k) || !cx.informative);
                if k >= len || cx.marks[k].is_some() || (cx.blocked(k) && !clinical_surname) {
                    continue;
                }
                let gap_ok = if k > i { cx.spaced(k) } else { cx.spaced(i) };
                if !gap_ok
                    || cx.in_list(k, CREDENTIALS)
                    || cx.in_list(k, TITLES)
                    || is_relation(cx.lower(k))
                {
                    continue;
                }
                let lk = cx.lower(k);
                let unknown =
                    !cx.toks[k].f.english && !cx.dict.weak.contains(lk) && lk.chars().count() >= 2;
                // "martin fenwick", "pat tolliver": a surname in lower case after a given name of
                // the lists, when it is no English word nor a misspelling of one.
                let lower_surname = k == i + 1
                    && unknown
                    && lk.chars().count() >= 4
                    && cx.dict.first.contains(cx.lower(i))
                    && !cx.dict.near_english(lk)
                    && !cx.toks[k].f.clinical;
                // "martin fenwick": a given name of the lists (also a common word) right before
                // a surname of the lists that was found as a name.
                let given_before_surname = k + 1 == i
                    && cx.toks[k].f.first
                    && cx.toks[i].f.last
                    && !cx.toks[k].f.clinical
                    && !COMMON_GIVEN.contains(&lk)
                    && cx.toks[k].title == cx.toks[i].title
                    && lk.chars().count() >= 3;
                let ok = clinical_surname
                    || lower_surname
                    || given_before_surname
                    || (unknown && (cx.cap(k) || !cx.informative))
                    || cx.dict.is_plain_name(lk)
                    || (cx.is_initial(k) && (cx.toks[k].title || !cx.informative) && k < i);
                if ok {
                    cx.mark(k, Category::Name, 39, !cx.is_initial(k));
                }
            }
        }
    }
    places(&mut cx);
    propagate(&mut cx);
    for (i, m) in cx.marks.iter().enumerate() {
        if let Some((category, priority)) = m {
            let t = &cx.toks[i];
            let mut end = t.end;
            // A trailing possessive stays outside the span; a dot after an initial joins it.
            if t.lower.chars().count() == 1 && cx.text[end..].starts_with('.') {
                end += 1;
            }
            // A ward's number glued to its name ("Kensington4") is part of the place.
            if *category == Category::Location {
                let rest = &cx.text.as_bytes()[end..];
                let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
                if (1..=2).contains(&digits)
                    && !rest.get(digits).is_some_and(|b| b.is_ascii_alphanumeric())
                {
                    end += digits;
                }
            }
            out.push(Candidate {
                start: t.start,
                end,
                category: *category,
                priority: *priority,
            });
        }
    }
}

/// Propagation: a word found as a name or place by context is one wherever else it occurs in
/// the text, unless another rule marked it there. A name that is also a common word needs a
/// capital there in mixed-case text ("wife Dusty" makes "Dusty called" a name, not "dusty").
fn propagate(cx: &mut Ctx<'_>) {
    if cx.found.is_empty() && cx.found_common.is_empty() {
        return;
    }
    for i in 0..cx.toks.len() {
        if cx.marks[i].is_some() {
            continue;
        }
        let t = &cx.toks[i];
        if let Some(c) = cx.found.get(&t.lower) {
            cx.marks[i] = Some((*c, 37));
        } else if cx.found_common.contains(&t.lower) && (!cx.informative || (t.title && !t.upper)) {
            cx.marks[i] = Some((Category::Name, 37));
        }
    }
}

/// A word that may be part of a facility's name found by context: a name of the lists or a word
/// that is no English, clinical or service word; capitalized in mixed-case text.
fn facility_name_word(cx: &Ctx<'_>, k: usize) -> bool {
    let l = cx.lower(k);
    let f = cx.toks[k].f;
    // A clinical word that is also a name ("Reed") only with a capital.
    let clinical = f.clinical && !((f.first || f.last) && (cx.cap(k) || !cx.informative));
    if f.stop
        || clinical
        || LOC_STOP.contains(&l)
        || SERVICES.contains(&l)
        || LANGUAGES.contains(&l)
        || cx.cue(k, CUE_UNIT)
        || DESTINATION_STOP.contains(&l)
        || l.chars().count() < 3
        || (cx.informative && !cx.cap(k))
    {
        return false;
    }
    // In mixed case a capital is evidence enough for a word one letter off an English word.
    f.first || f.last || !f.english && (cx.informative || !cx.dict.near_english(l))
}

/// Places by context cues:
/// - a hospital's unit after its name: "sent to Gorham Reed EW", "transferred to Tillman MICU";
/// - an employer: "works for Brightline Health", "works at Acme";
/// - a facility after "went to", "transferred to", "from": "went to Seabrook on 3/6", "surgeon
///   from Seabrook" (a capitalized word that is not a clinical destination: "went to Radiology"
///   stays);
/// - regions: "the Eastern Shore", "the North Shore";
/// - a list of facilities: "screened by Brightwood Rehab and Tillman".
fn place_cues(cx: &mut Ctx<'_>) {
    let len = cx.toks.len();
    for i in 0..len {
        // Unit after a facility name.
        if i >= 2 && cx.cue(i, CUE_UNIT) && cx.toks[i].upper && cx.gap(i) == " " {
            let mut j = i;
            let mut names = 0;
            while j > 0 && names < 3 && cx.gap(j) == " " && facility_name_word(cx, j - 1) {
                j -= 1;
                names += 1;
            }
            if names > 0 && j > 0 && matches!(cx.lower(j - 1), "to" | "from" | "at" | "into") {
                for k in j..i {
                    cx.mark(k, Category::Location, 41, true);
                }
            }
        }
        // Employer.
        if i >= 1
            && matches!(cx.lower(i - 1), "for" | "at" | "by")
            && cx.gap(i) == " "
            && i >= 2
            && matches!(
                cx.lower(i - 2),
                "works" | "worked" | "working" | "employed" | "employee" | "job"
            )
        {
            let mut k = i;
            while k < len && k < i + 3 && (k == i || cx.gap(k) == " ") {
                let lk = cx.lower(k);
                let f = cx.toks[k].f;
                let ok = !f.stop
                    && !f.clinical
                    && !LOC_STOP.contains(&lk)
                    && (cx.cap(k)
                        || !f.english
                        || f.place_start
                        || f.first
                        || f.last
                        || cx.cue(k, CUE_FACILITY));
                if !ok {
                    break;
                }
                cx.mark(k, Category::Location, 36, false);
                k += 1;
            }
        }
        // A facility after a verb of going and "to", or after "from" (mixed-case text only:
        // the capital is the evidence).
        if cx.informative
            && i >= 2
            && cx.gap(i) == " "
            && cx.toks[i].title
            && !cx.toks[i].upper
            && matches!(cx.lower(i - 1), "to" | "from" | "at")
            && (cx.in_list(i - 2, GOING)
                || cx.in_list(i - 2, TRANSFER)
                || cx.lower(i - 1) == "from")
            && !(i + 1 < len && cx.gap(i + 1) == " " && cx.toks[i + 1].title)
        {
            let f = cx.toks[i].f;
            let l = cx.lower(i);
            let facility_like = !f.stop
                && !f.clinical
                && !LOC_STOP.contains(&l)
                && !DESTINATION_STOP.contains(&l)
                && !cx.cue(i, CUE_UNIT)
                && !SERVICES.contains(&l)
                && !LANGUAGES.contains(&l)
                && !f.place_start
                && !(f.first || f.last)
                && l.chars().count() >= 4;
            if facility_like {
                cx.mark(i, Category::Location, 36, true);
            }
        }
        // Regions.
        if i + 1 < len
            && matches!(
                cx.lower(i),
                "eastern"
                    | "western"
                    | "northern"
                    | "southern"
                    | "north"
                    | "south"
                    | "east"
                    | "west"
            )
            && matches!(
                cx.lower(i + 1),
                "shore" | "coast" | "end" | "side" | "county"
            )
            && cx.gap(i + 1) == " "
            && (cx.informative && cx.toks[i].title && cx.toks[i + 1].title
                || !cx.informative && i > 0 && cx.lower(i - 1) == "the")
        {
            cx.mark(i, Category::Location, 36, false);
            cx.mark(i + 1, Category::Location, 36, false);
        }
    }
    // A list of facilities: "Brightwood Rehab and Tillman".
    for i in 0..len.saturating_sub(2) {
        // "Brightwood Rehab": a facility word after a place ends the place's name.
        let place = matches!(cx.marks[i], Some((Category::Location, _)))
            || (i > 0
                && cx.cue(i, CUE_FACILITY)
                && matches!(cx.marks[i - 1], Some((Category::Location, _))));
        if place
            && matches!(cx.lower(i + 1), "and" | "or")
            && cx.gap(i + 1) == " "
            && cx.gap(i + 2) == " "
            && cx.marks[i + 2].is_none()
            && !cx.toks[i + 2].f.english
            && facility_name_word(cx, i + 2)
        {
            cx.mark(i + 2, Category::Location, 36, true);
        }
    }
}

/// A misspelt "hospital" ("hospiatal", "hosptial"): `hosp` and seven to nine letters, not a
/// word of the English list ("hospitals", "hospitable").
fn is_hospital_typo(l: &str) -> bool {
    l.starts_with("hosp")
        && (7..=9).contains(&l.len())
        && l != "hospital"
        && !l.starts_with("hospice")
        && !matches!(l, "hospitals" | "hospitable" | "hospitably")
}

fn places(cx: &mut Ctx<'_>) {
    let len = cx.toks.len();
    for i in 0..len {
        // The word is copied to the stack: `cx` is mutated below while it is read.
        let mut buf = [0u8; 32];
        let owned: String;
        let l: &str = {
            let w = cx.lower(i);
            if w.len() <= buf.len() {
                buf[..w.len()].copy_from_slice(w.as_bytes());
                std::str::from_utf8(&buf[..w.len()]).unwrap_or_default()
            } else {
                owned = w.to_string();
                &owned
            }
        };
        let hospital_typo = is_hospital_typo(l);
        let named_facility = cx.cue(i, CUE_FACILITY_OF_NAME);
        if !(cx.cue(i, CUE_FACILITY)
            || hospital_typo
            || named_facility
            || l == "st"
            || l == "saint"
            || l == "sacred"
            || l.len() <= 5
            || (i >= 1 && cx.cue(i - 1, CUE_WARD_BEFORE)))
        {
            continue;
        }
        // Facility names before a facility word.
        // "Assisted Living", "Tidewater House", "Brantwood Adventist": in a facility name only
        // after a word that is no English word (checked below), like "rehab".
        let named_facility = named_facility
            && match l {
                "assisted" => i + 1 < len && cx.lower(i + 1) == "living",
                // Not "house diet", "house officer".
                "house" | "manor" => {
                    cx.toks[i].title
                        && i > 0
                        && cx.gap(i) == " "
                        && !(i + 1 < len
                            && matches!(
                                cx.lower(i + 1),
                                "diet" | "officer" | "officers" | "staff" | "call" | "md"
                            ))
                }
                _ => true,
            };
        let facility = hospital_typo
            || named_facility
            || cx.cue(i, CUE_FACILITY)
                && match l {
                    "medical" | "med" | "health" => {
                        i + 1 < len
                            && matches!(cx.lower(i + 1), "center" | "ctr" | "centre" | "campus")
                    }
                    "nursing" => i + 1 < len && matches!(cx.lower(i + 1), "home" | "facility"),
                    "center" => i > 0 && !matches!(cx.lower(i - 1), "medical" | "med" | "health"),
                    "va" => cx.toks[i].upper,
                    _ => true,
                };
        if facility && i > 0 {
            let mut j = i;
            let mut steps = 0;
            while j > 0 && steps < 3 && cx.spaced(j) {
                let p = j - 1;
                let lp = cx.lower(p);
                if LOC_STOP.contains(&lp)
                    || cx.dict.is_stop(lp) && !matches!(lp, "sinai")
                    || cx.in_list(p, TRANSFER)
                {
                    break;
                }
                // In mixed case a word in lower case is a facility's name only when it is no
                // English or clinical word nor a misspelling of one ("at brookfield hospital").
                if cx.informative
                    && !cx.toks[p].title
                    && !(steps == 0
                        && matches!(l, "hospital" | "hosp" | "medical" | "memorial")
                        && lp.len() >= 5
                        && !cx.toks[p].f.english
                        && !cx.toks[p].f.clinical
                        && !cx.toks[p].f.weak
                        && !cx.dict.near_english(lp))
                {
                    break;
                }
                // Before "House" or "Manor" only a word that is no English word ("White House"
                // stays); before the other names of facilities a surname will do ("Carter
                // Assisted Living").
                let f = cx.toks[p].f;
                if named_facility
                    && f.english
                    && (matches!(l, "house" | "manor") || !(f.first || f.last))
                {
                    break;
                }
                if (!cx.informative || l == "rehab")
                    && cx.toks[p].f.english
                    && !FACILITY_NAME_WORDS.contains(&lp)
                    && !cx.toks[p].f.place_start
                {
                    break;
                }
                cx.mark(
                    p,
                    Category::Location,
                    38,
                    !cx.dict.weak.contains(lp) || steps == 0,
                );
                j = p;
                steps += 1;
            }
            // A facility word that is part of the name goes with it ("Wexley Memorial",
            // "Cedar Regional"); a generic one stays out ("Dunmore Hospital").
            if steps > 0
                && FACILITY_NAME_WORDS.contains(&l)
                && !matches!(l, "hospital" | "hosp" | "medical" | "center")
            {
                cx.mark(i, Category::Location, 38, false);
            }
        }
        // Saint X.
        if (l == "st" || l == "saint")
            && i + 1 < len
            && cx.spaced(i + 1)
            && (cx.toks[i + 1].title || !cx.informative)
            && !cx.blocked(i + 1)
        {
            let base = cx
                .lower(i + 1)
                .trim_end_matches("'s")
                .trim_end_matches("\u{2019}s");
            let next_is_facility =
                (i + 2 < len && cx.cue(i + 2, CUE_FACILITY)) || cx.dict.first.contains(base);
            if next_is_facility {
                cx.mark(i, Category::Location, 38, false);
                cx.mark(i + 1, Category::Location, 38, false);
            }
        }
        // Facility names made of English words: "Holy Cross", "Sacred Heart (Memorial)".
        if i + 1 < len
            && cx.spaced(i + 1)
            && matches!(
                (cx.lower(i), cx.lower(i + 1)),
                ("holy", "cross" | "family" | "name" | "spirit")
                    | ("sacred", "heart")
                    | ("good", "samaritan")
            )
        {
            cx.mark(i, Category::Location, 38, false);
            cx.mark(i + 1, Category::Location, 38, false);
            let mut k = i + 2;
            while k < len && cx.spaced(k) && FACILITY_NAME_WORDS.contains(&cx.lower(k)) {
                cx.mark(k, Category::Location, 38, false);
                k += 1;
            }
        }
        // "University of Vermont (Medical Center)", "U of MD".
        if (l == "university" || l == "u")
            && i + 2 < len
            && cx.lower(i + 1) == "of"
            && cx.spaced(i + 1)
            && cx.spaced(i + 2)
            && (cx.toks[i + 2].f.place_start
                || cx
                    .dict
                    .state_codes
                    .contains(&cx.lower(i + 2).to_uppercase()))
        {
            for k in i..i + 3 {
                cx.mark(k, Category::Location, 38, false);
            }
        }
        // Ward: "transfer to X 2", "intubated on X 6", "plan: X 2 when bed available".
        if i >= 2 && cx.cue(i - 1, CUE_WARD_BEFORE) && cx.tight(i) && !cx.dict.is_english(l) {
            let to_from = matches!(cx.lower(i - 1), "to" | "from");
            // "c/o" (called out) is split by the tokenizer: it is read from the text.
            // Only the three bytes before the word are compared: lower-casing the text before
            // it would cost the note's length at every candidate.
            let called_out = || {
                let head = cx.text[..cx.toks[i - 1].start].trim_end().as_bytes();
                head.len() >= 3 && head[head.len() - 3..].eq_ignore_ascii_case(b"c/o")
            };
            let verb = to_from
                && (cx.in_list(i - 2, TRANSFER)
                    || (i >= 3 && cx.in_list(i - 3, TRANSFER))
                    || called_out());
            let rest = &cx.text[cx.toks[i].end..];
            let digits = rest
                .strip_prefix(' ')
                .map(|r| r.chars().take_while(char::is_ascii_digit).count())
                .unwrap_or(0);
            let after = rest.chars().nth(1 + digits);
            // Without a transfer verb: "to Westbriar 2" (one digit, an unknown long word).
            let verb = verb
                || (digits == 1
                    && l.len() >= 5
                    // "to Xxxxx 2.5" is a dose, "on X 6." a ward at the end of a sentence.
                    && !(after == Some('.')
                        && rest
                            .chars()
                            .nth(2 + digits)
                            .is_some_and(|c| c.is_ascii_digit()))
                    && !cx.dict.near_english(l)
                    && !cx.toks[i].f.clinical);
            // A transfer verb and an unknown word, without a number ("transferred to
            // Westbriar.").
            // In mixed case a long word in lower case will do as a destination ("transferred
            // to westbriar if stable").
            let lower_ward =
                cx.informative && !cx.toks[i].title && l.len() >= 7 && cx.lower(i - 1) == "to";
            let unknown_ward = verb
                && digits == 0
                && l.len() >= 5
                && !cx.dict.near_english(l)
                && !cx.toks[i].f.clinical
                && !cx.toks[i].f.weak
                && !cx.cue(i, CUE_UNIT)
                && !SERVICES.contains(&l)
                && !DESTINATION_STOP.contains(&l)
                && !LANGUAGES.contains(&l)
                && (cx.cap(i) || !cx.informative || lower_ward);
            // A ward's number ends the phrase ("to X 2 when", not "to X 2.5 mcg"); a word
            // known by no list may go on ("to Westbriar if stable").
            if verb
                && (((1..=2).contains(&digits) && !after.is_some_and(char::is_alphanumeric))
                    || unknown_ward)
                && !cx.blocked(i)
                && !LOC_STOP.contains(&l)
                && l.len() >= 3
            {
                cx.mark(i, Category::Location, 38, true);
            }
        }
        // Hospital acronyms: "to MGH".
        if i >= 1
            && (2..=5).contains(&l.len())
            && (l.ends_with('h') || l.ends_with("mc"))
            && (cx.toks[i].upper || !cx.informative)
        {
            let prev = cx.lower(i - 1);
            let digit_before = cx.text[..cx.toks[i].start].ends_with(|c: char| c.is_ascii_digit());
            // "to MGH", "leave GH", or the hospital's emergency room or unit after it ("GH EW").
            let unit_after = i + 1 < len
                && cx.spaced(i + 1)
                && matches!(
                    cx.lower(i + 1),
                    "ew" | "er" | "ed" | "micu" | "ccu" | "sicu" | "icu"
                );
            if !digit_before
                && (matches!(
                    prev,
                    "to" | "at" | "from" | "@" | "the" | "into" | "by" | "in" | "leave" | "left"
                ) || unit_after)
                && !cx.dict.is_english(l)
                && !matches!(
                    l,
                    "osh"
                        | "nh"
                        | "th"
                        | "ph"
                        | "bh"
                        | "each"
                        | "with"
                        | "much"
                        | "such"
                        | "both"
                        | "bath"
                        | "path"
                        | "meth"
                        | "mouth"
                        | "teeth"
                        | "death"
                        | "birth"
                        | "rash"
                        | "push"
                        | "wash"
                        | "gush"
                        | "high"
                        | "sigh"
                        | "ash"
                        | "fresh"
                        | "flush"
                        | "pdh"
                        | "ldh"
                        | "tsh"
                        | "adh"
                        | "hh"
                        | "ch"
                        | "usoh"
                        | "soh"
                )
                && !cx.dict.is_stop(l)
            {
                cx.mark(i, Category::Location, 38, true);
            }
        }
    }
    place_cues(cx);
    // Dictionary places: windows of three, two and one words.
    let mut i = 0;
    while i < len {
        let mut matched = 0;
        for w in (1..=3).rev() {
            if !cx.toks[i].f.place_start {
                break;
            }
            if i + w > len || (1..w).any(|k| cx.gap(i + k) != " ") {
                continue;
            }
            // One word is looked up as it is; several are joined (an allocation).
            let key: std::borrow::Cow<'_, str> = if w == 1 {
                std::borrow::Cow::Borrowed(cx.lower(i))
            } else {
                std::borrow::Cow::Owned(
                    (i..i + w)
                        .map(|k| cx.lower(k))
                        .collect::<Vec<_>>()
                        .join(" "),
                )
            };
            let key: &str = &key;
            let prep = |k: usize| matches!(cx.lower(k), "in" | "to" | "from" | "near" | "of");
            // "lives nearby in X", "returned home to X": an adverb between the verb and the
            // preposition.
            let after_verb = |verbs: &[&str]| {
                i >= 1
                    && (cx.in_list(i - 1, verbs)
                        || (i >= 2 && prep(i - 1) && cx.in_list(i - 2, verbs))
                        || (i >= 3
                            && prep(i - 1)
                            && cx.in_list(i - 2, PLACE_ADVERBS)
                            && cx.in_list(i - 3, verbs)
                            && cx.gap(i - 1) == " "
                            && cx.gap(i - 2) == " "))
            };
            // A state or a country only in an address ("Albany, Vermont") or where one
            // lives ("lives in Ohio"): named alone, it is a trip or an origin more often than
            // an identifier ("went back to Ohio", "from the Azores").
            if cx.dict.states.contains(key) || cx.dict.countries.contains(key) {
                let after_city = i > 0
                    && cx.gap(i) == ", "
                    && matches!(cx.marks[i - 1], Some((Category::Location, _)));
                if after_city || after_verb(LIVING_VERBS) {
                    for k in i..i + w {
                        cx.mark(k, Category::State, 30, false);
                    }
                    matched = w;
                    break;
                }
                // Named alone, a state is read as the state, not as a town of the same name.
                continue;
            }
            let city = (w == 1 && cx.dict.cities1.contains(key))
                || (w > 1 && cx.dict.cities_multi.contains(key));
            if !city {
                continue;
            }
            let evidence = (i..i + w).all(|k| cx.cap(k)) || !cx.informative;
            let context = after_verb(LIVING_VERBS) || after_verb(PLACE_VERBS);
            let going = after_verb(GOING_VERBS);
            let common = w == 1
                && (cx.dict.weak.contains(key)
                    || cx.blocked(i)
                    || cx.dict.is_name(key)
                    || cx.dict.is_english(key));
            // A city of several words after a verb of living or going is one even when its
            // first word is a stop word ("returned to new haven").
            if (evidence && !common)
                || (context && (w > 1 || !cx.blocked(i)))
                || (going && (w > 1 || !common))
            {
                for k in i..i + w {
                    cx.mark(k, Category::Location, 35, false);
                }
                matched = w;
                break;
            }
        }
        // State codes after "City," ("Albany, NY").
        if matched == 0
            && cx.toks[i].upper
            && cx.toks[i].lower.len() == 2
            && i > 0
            && cx.gap(i) == ", "
            && cx
                .dict
                .state_codes
                .contains(&cx.toks[i].lower.to_uppercase())
            && matches!(cx.marks[i - 1], Some((Category::Location, _)))
        {
            cx.mark(i, Category::State, 30, false);
        }
        // A state code after a verb of living: "lives in DC" ("moved to OR" is the operating
        // room: only verbs of living count).
        if matched == 0
            && cx.informative
            && cx.toks[i].upper
            && cx.toks[i].lower.len() == 2
            && i >= 2
            && matches!(cx.lower(i - 1), "in" | "near")
            && cx.in_list(i - 2, LIVING_VERBS)
            && !matches!(cx.lower(i), "or" | "me" | "in" | "ok" | "hi")
            && cx
                .dict
                .state_codes
                .contains(&cx.toks[i].lower.to_uppercase())
        {
            cx.mark(i, Category::State, 30, false);
        }
        i += matched.max(1);
    }
}
