//! Dictionaries (see `data/SOURCES.md`) and stop lists, compiled in.

use std::collections::HashSet as StdHashSet;
use std::hash::{BuildHasherDefault, Hasher};

/// FxHash (rustc's hasher): the sets are looked up for every word, and SipHash was the cost.
#[derive(Default, Clone, Copy)]
pub(crate) struct Fx(u64);

impl Hasher for Fx {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut b = [0u8; 8];
            b[..chunk.len()].copy_from_slice(chunk);
            self.0 = (self.0.rotate_left(5) ^ u64::from_le_bytes(b))
                .wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
        }
    }
    fn write_u8(&mut self, i: u8) {
        self.0 = (self.0.rotate_left(5) ^ u64::from(i)).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

pub(crate) type HashSet<T> = StdHashSet<T, BuildHasherDefault<Fx>>;
pub(crate) type HashMap<K, V> = std::collections::HashMap<K, V, BuildHasherDefault<Fx>>;

const FIRST_NAMES: &str = include_str!("../data/first_names.txt");
const LAST_NAMES: &str = include_str!("../data/last_names.txt");
const US_CITIES: &str = include_str!("../data/us_cities.txt");
const US_STATES: &str = include_str!("../data/us_states.txt");
const COUNTRIES: &str = include_str!("../data/countries.txt");
const NAME_WORDS: &str = include_str!("../data/name_words.txt");
const CENSUS_GIVEN_NAMES: &str = include_str!("../data/census_given_names.txt");
const ENGLISH: &str = include_str!("../data/english_words.txt");

/// Function words, verbs and clinical vocabulary that are never a name or a place, even after a
/// title or a relation word ("Dr. aware", "wife is").
const STRONG_STOP: &str = "a an the and or but nor of to in on at by for from with without within into onto \
upon over under after before during since until till via per vs than then that this these those there here \
is are was were be been being am has have had do does did done will would shall should can could may might \
must not no yes ok okay also as so if it its he she him her his hers they them their we us our you your i me my \
who whom whose which what when where why how all any both each few more most other some such only own same \
very just now again further once today tonight yesterday tomorrow am pm noc overnight night day days evening morning \
afternoon week weeks month months year years hour hours hr hrs min mins time times \
aware notified notify paged page called call calling spoke speak speaking talked talk discussed discuss updated update \
informed inform consulted consult following followed follow seen see saw examined exam evaluated eval came come \
coming in out up down off around made make ordered order orders wrote write written said says states stated \
state reports reported report requested request asked ask agreed agrees aware. here. present visit visited visiting \
arrived arrives left leaving returned return went go going gone gave give given took take taken placed started \
continues continue continued remains remain also well good better worse stable unstable \
patient patients pt pts pt's pts' family families team teams staff nurse nurses nursing rn rns md mds np nps \
doctor doctors dr drs physician physicians resident residents attending fellow fellows intern interns \
house officer officers ho hos surgeon surgeons service services unit units floor floors room rooms bed beds \
icu ccu micu sicu csru pacu tsicu nicu picu ed er or ir cath lab labs ward wards pod level levels step stepdown tele \
rehab hospital hospitals hosp clinic clinics center centre medical medicine med meds \
primary charge covering cover on-call oncall call night day evening new old covering \
wife husband son sons daughter daughters dtr dau mother father mom dad sister sisters brother brothers \
niece nephew aunt uncle cousin friend friends neighbor spouse partner proxy hcp guardian family \
pain heart lung lungs chest abd abdomen head neck back arm arms leg legs foot feet hand hands skin \
bp hr rr sat sats temp o2 co2 iv po pr sq im prn bid tid qid qd qhs hs ac pc npo dnr dni \
ng ngt ogt peg picc cvp art aline a-line swan ett trach vent cpap bipap peep fio2 abg vbg \
cbc chem lytes hct hgb wbc plt plts inr ptt pt/inr bun cr k na mg ca phos gluc bs fs \
neuro resp cv gi gu id endo heme skin social soc psych psychosocial dispo plan assessment \
ns lr d5w ivf kcl lasix heparin insulin coumadin dopamine levophed neo propofol fentanyl versed morphine \
ada mae perrl perrla nkda nka wnl aox3 a&ox3 cta ok mod min max sl sm lg \
cont con't cont'd contd w/ w/o s/p c/o r/o h/o b/l bil bilat lll rll rul lul \
dr. mr mrs ms miss mister sir madam prof professor \
bsn rrt lpn cna phd msw licsw lcsw pharmd crnp aprn pa-c mph \
male female man woman men women gentleman lady yo y/o yr yrs old age aged";

/// Words that are names only after a title or in a name context, never alone: modal verbs,
/// months and common words that the name lists share (the generated `name_words.txt` has more).
const WEAK: &str =
    "will may june april august march hope mark bill pat grant brown faith joy rose \
art sunny ivy major young king long little rich bell wade page cole white green black gray grey \
frank guy chase dean hunter lane miles price rich rock sterling stone story summer wood woods \
christian german french english irish hall hill holly lee ray royal sage sky star sun \
mercy sinai general university memorial holy sacred saint st central north south east west";

/// Clinical words that collide with given names or surnames and are too common in notes to be
/// taken for names without a title.
const CLINICAL: &str = "ada mae else ward lou norma lupe rosa sal ty ann sol val gene dawn \
chi tad don les jean lean bland bowel bowels stool ace ben jan bun bunny ed al el cam mac max mo \
may june bill said trace tracy scott hale aaron viola mina neva reed derek dee eva iva ova ida \
lyn lin lynn ron rod pa ca co cc mi ms fe ph md ma ra mg na ka gi gu ef ekg ecg echo cath \
page paige ryan dale dell del bell bo cal cort cory dex devin ellis fay ferris fox gail hardy \
harmony hayes holmes major mason may mercer miller moody noel nick parker pierce price rice \
rich rusty sandy stanley sterling stone trent tuck tyler vance wade walker warren wiley will \
wolf young ace abe alma ash bud buck cash chase clay cliff cloy cruz dash day duke earl ernest \
faith fern ford foster gay glen grace grant hope hunter iris ivy jack jade jewel joy june \
king lacy lance lane lily love marsh mark miles misty penny pearl rose ruby rusty sage \
sharon sky star stormy summer sunny terry tom victor violet vita wendy willow wren \
foley quinton hickman swan ganz asa brady tachy lue rue lle rle le ue nitro nph levo neo dopa \
lima rima svg milrinone nipride ativan lopressor captopril psv simv imv iabp cmv prvc synch jesus christ god lord \
ami perla dia allegra adria quintin lasix cipro colace vanco levo flagyl zosyn tylenol motrin advil aleve \
monday tuesday wednesday thursday friday saturday sunday";

pub(crate) const STOP: u8 = 1;
pub(crate) const CLINICAL_BIT: u8 = 2;
pub(crate) const WEAK_BIT: u8 = 4;
pub(crate) const FIRST: u8 = 8;
pub(crate) const LAST: u8 = 16;
pub(crate) const PLACE: u8 = 32;
pub(crate) const ENGLISH_BIT: u8 = 64;

/// Given names, surnames, places and stop lists, lowercase.
pub(crate) struct Dictionaries {
    pub first: HashSet<String>,
    pub last: HashSet<String>,
    /// City names of one word.
    pub cities1: HashSet<String>,
    /// City names of two or three words, space-separated.
    pub cities_multi: HashSet<String>,
    /// State names, lowercase, of one or two words.
    pub states: HashSet<String>,
    /// Two-letter state codes, uppercase.
    pub state_codes: HashSet<String>,
    pub countries: HashSet<String>,
    pub strong_stop: HashSet<String>,
    /// English words that are also names or places: a name only with context.
    pub weak: HashSet<String>,
    pub clinical: HashSet<String>,
    /// Lower-case English words (a name found by context is propagated only if it is not one).
    pub english: HashSet<&'static str>,
    /// Every word of the sets above with a bit per set (`STOP`, `CLINICAL`, …): one lookup per
    /// word of text instead of seven.
    pub word_flags: std::collections::HashMap<String, u8, BuildHasherDefault<Fx>>,
    /// For surrogates: the lists in order.
    pub first_list: Vec<&'static str>,
    pub last_list: Vec<&'static str>,
    pub city_list: Vec<&'static str>,
}

fn lines(s: &'static str) -> impl Iterator<Item = &'static str> {
    s.lines().map(str::trim).filter(|l| !l.is_empty())
}

impl Dictionaries {
    pub fn load(extra_stop: &[String]) -> Dictionaries {
        let lower = |s: &str| s.to_lowercase();
        let first: HashSet<String> = lines(FIRST_NAMES)
            .map(lower)
            .chain(lines(CENSUS_GIVEN_NAMES).map(String::from))
            .collect();
        let last: HashSet<String> = lines(LAST_NAMES).map(lower).collect();
        let mut cities1 = HashSet::default();
        let mut cities_multi = HashSet::default();
        for c in lines(US_CITIES) {
            let l = c.to_lowercase();
            let words = l.split_whitespace().count();
            if words == 1 {
                cities1.insert(l);
            } else if words <= 3 {
                cities_multi.insert(l.split_whitespace().collect::<Vec<_>>().join(" "));
            }
        }
        let mut states = HashSet::default();
        let mut state_codes = HashSet::default();
        for l in lines(US_STATES) {
            let mut it = l.split('\t');
            if let (Some(code), Some(name)) = (it.next(), it.next()) {
                state_codes.insert(code.to_string());
                states.insert(name.to_lowercase());
            }
        }
        let countries: HashSet<String> = lines(COUNTRIES)
            .filter(|c| c.split_whitespace().count() <= 2)
            .map(lower)
            .collect();
        let place_starts = cities1
            .iter()
            .chain(cities_multi.iter())
            .chain(states.iter())
            .chain(countries.iter())
            .filter_map(|c: &String| c.split_whitespace().next().map(String::from))
            .collect();
        let mut strong_stop: HashSet<String> =
            STRONG_STOP.split_whitespace().map(String::from).collect();
        strong_stop.extend(extra_stop.iter().map(|w| w.trim().to_lowercase()));
        let mut weak: HashSet<String> = lines(NAME_WORDS).map(lower).collect();
        weak.extend(WEAK.split_whitespace().map(String::from));
        let clinical: HashSet<String> = CLINICAL.split_whitespace().map(String::from).collect();
        let english: HashSet<&'static str> = lines(ENGLISH).collect();
        let mut word_flags: std::collections::HashMap<String, u8, BuildHasherDefault<Fx>> =
            Default::default();
        for (set, bit) in [
            (&strong_stop, STOP),
            (&clinical, CLINICAL_BIT),
            (&weak, WEAK_BIT),
            (&first, FIRST),
            (&last, LAST),
            (&place_starts, PLACE),
        ] {
            for w in set.iter() {
                *word_flags.entry(w.clone()).or_insert(0) |= bit;
            }
        }
        for w in english.iter() {
            *word_flags.entry((*w).to_string()).or_insert(0) |= ENGLISH_BIT;
        }
        Dictionaries {
            word_flags,
            first,
            last,
            cities1,
            cities_multi,
            states,
            state_codes,
            countries,
            strong_stop,
            weak,
            clinical,
            english,
            first_list: lines(FIRST_NAMES).collect(),
            last_list: lines(LAST_NAMES).collect(),
            city_list: lines(US_CITIES).collect(),
        }
    }

    pub fn is_name(&self, l: &str) -> bool {
        self.first.contains(l) || self.last.contains(l)
    }

    pub fn is_stop(&self, l: &str) -> bool {
        self.strong_stop.contains(l)
    }

    /// A word that may be a name by itself (no context): in a name list and not an English or
    /// clinical word.
    /// A lower-case English word.
    pub fn is_english(&self, l: &str) -> bool {
        self.english.contains(l)
    }

    /// Whether a lower-case ASCII word is one edit (a letter inserted, deleted, replaced or two
    /// letters swapped) away from an English word: a misspelling more likely than a name.
    pub fn near_english(&self, l: &str) -> bool {
        if !l.is_ascii() || l.len() < 3 {
            return false;
        }
        let b = l.as_bytes();
        let mut buf: Vec<u8> = Vec::with_capacity(b.len() + 1);
        let hit = |v: &[u8]| std::str::from_utf8(v).is_ok_and(|w| self.english.contains(w));
        for i in 0..b.len() {
            buf.clear();
            buf.extend_from_slice(&b[..i]);
            buf.extend_from_slice(&b[i + 1..]);
            if hit(&buf) {
                return true;
            }
            if i + 1 < b.len() {
                buf.clear();
                buf.extend_from_slice(b);
                buf.swap(i, i + 1);
                if hit(&buf) {
                    return true;
                }
            }
        }
        for i in 0..=b.len() {
            for c in b'a'..=b'z' {
                buf.clear();
                buf.extend_from_slice(&b[..i]);
                buf.push(c);
                buf.extend_from_slice(&b[i..]);
                if hit(&buf) {
                    return true;
                }
                if i < b.len() && b[i] != c {
                    buf.clear();
                    buf.extend_from_slice(b);
                    buf[i] = c;
                    if hit(&buf) {
                        return true;
                    }
                }
            }
        }
        false
    }

    pub fn is_plain_name(&self, l: &str) -> bool {
        self.is_name(l) && !self.weak.contains(l) && !self.clinical.contains(l) && !self.is_stop(l)
    }
}
