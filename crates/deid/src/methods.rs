//! The value transformations, with Microsoft's documented semantics: partial redaction of
//! dates, ages and ZIP codes, keyed date shifting, HMAC-SHA256 hashing (of a reference's id
//! part only), AES encryption and perturbation.

use aes::cipher::{block_padding::Pkcs7, BlockDecryptMut, BlockEncryptMut, KeyIvInit};
use base64::Engine as _;
use chrono::{Datelike, Duration, NaiveDate};
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Ages above this are identifying (HIPAA Safe Harbor): such dates lose even their year.
const AGE_THRESHOLD: i32 = 89;
/// Microsoft's date-shift range: offsets fall in `-RANGE..=RANGE` days.
const DATE_SHIFT_RANGE: i64 = 50;
const DATE_SHIFT_SEED: i64 = 131;

/// The parts of a FHIR date or dateTime that matter here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DateParts {
    pub year: i32,
    pub month: Option<u32>,
    pub day: Option<u32>,
    /// `T…` with the zone, as written (dateTime with a time only).
    pub time: Option<String>,
}

/// Reads a FHIR `date`, `dateTime` or `instant` (`YYYY`, `YYYY-MM`, `YYYY-MM-DD`,
/// `YYYY-MM-DDThh:mm:ss[.f](Z|±hh:mm)`). `None` when it isn't one.
pub fn parse_date(text: &str) -> Option<DateParts> {
    let b = text.as_bytes();
    let digits = |r: std::ops::Range<usize>| -> Option<u32> {
        let s = text.get(r)?;
        if s.bytes().all(|c| c.is_ascii_digit()) {
            s.parse().ok()
        } else {
            None
        }
    };
    let year = digits(0..4)? as i32;
    if year == 0 {
        return None;
    }
    if b.len() == 4 {
        return Some(DateParts {
            year,
            month: None,
            day: None,
            time: None,
        });
    }
    if b.get(4) != Some(&b'-') {
        return None;
    }
    let month = digits(5..7).filter(|m| (1..=12).contains(m))?;
    if b.len() == 7 {
        return Some(DateParts {
            year,
            month: Some(month),
            day: None,
            time: None,
        });
    }
    if b.get(7) != Some(&b'-') {
        return None;
    }
    let day = digits(8..10).filter(|d| (1..=31).contains(d))?;
    NaiveDate::from_ymd_opt(year, month, day)?;
    // As Microsoft's (unanchored) pattern does: a time counts only when it is complete, and
    // anything else after the day is ignored.
    let time = text
        .get(10..)
        .filter(|t| is_fhir_time_with_zone(t))
        .map(str::to_string);
    Some(DateParts {
        year,
        month: Some(month),
        day: Some(day),
        time,
    })
}

/// `Thh:mm:ss[.f+](Z|±hh:mm)`, as a FHIR dateTime's time part must be.
fn is_fhir_time_with_zone(t: &str) -> bool {
    let b = t.as_bytes();
    let two = |i: usize, max: u8| -> bool {
        b.get(i..i + 2).is_some_and(|d| {
            d.iter().all(u8::is_ascii_digit) && (d[0] - b'0') * 10 + (d[1] - b'0') <= max
        })
    };
    if b.len() < 10
        || b[0] != b'T'
        || !two(1, 23)
        || b[3] != b':'
        || !two(4, 59)
        || b[6] != b':'
        || !two(7, 60)
    {
        return false;
    }
    let mut i = 9;
    if b.get(i) == Some(&b'.') {
        let digits = b[i + 1..].iter().take_while(|c| c.is_ascii_digit()).count();
        if digits == 0 {
            return false;
        }
        i += 1 + digits;
    }
    match b.get(i) {
        Some(b'Z') => i + 1 == b.len(),
        Some(b'+' | b'-') => {
            i + 6 == b.len() && two(i + 1, 14) && b[i + 3] == b':' && two(i + 4, 59)
        }
        _ => false,
    }
}

/// Would a person born on this date be over 89 on `today`?
pub fn over_age_threshold(d: &DateParts, today: NaiveDate) -> bool {
    let month = d.month.unwrap_or(1);
    let day = d.day.unwrap_or(1);
    let before_birthday = today.month() < month || (today.month() == month && today.day() < day);
    let age = today.year() - d.year - i32::from(before_birthday);
    age > AGE_THRESHOLD
}

/// Redacts a date: with partial dates kept, the year stays unless the date implies an age over
/// 89; otherwise (and then) it goes entirely. Text that is not a date is returned unchanged.
pub fn redact_date(text: &str, partial: bool, today: NaiveDate) -> Option<String> {
    if !partial {
        return None;
    }
    match parse_date(text) {
        Some(d) if over_age_threshold(&d, today) => None,
        Some(d) => Some(format!("{:04}", d.year)),
        None => Some(text.to_string()),
    }
}

/// Microsoft's keyed offset: a rolling hash of `prefix + key` folded into `-50..=50` days.
pub fn microsoft_date_offset(prefix: &str, key: &str) -> i64 {
    let mut offset: i64 = 0;
    for b in prefix.bytes().chain(key.bytes()) {
        offset = (offset * DATE_SHIFT_SEED + i64::from(b)) % (2 * DATE_SHIFT_RANGE + 1);
    }
    offset - DATE_SHIFT_RANGE
}

/// Salus's patient-scope offset: HMAC-SHA256 of the patient's id, never zero (a zero shift
/// would leave every date as it was), in `-50..=-1 ∪ 1..=50` days.
pub fn patient_date_offset(patient_id: &str, key: &str) -> i64 {
    let digest = hmac_sha256(
        key.as_bytes(),
        format!("salus-date-shift:{patient_id}").as_bytes(),
    );
    let n = u64::from_be_bytes(digest[..8].try_into().unwrap_or([0; 8]));
    let magnitude = (n % DATE_SHIFT_RANGE as u64) as i64 + 1;
    if n & (1 << 63) == 0 {
        magnitude
    } else {
        -magnitude
    }
}

/// What shifting did to a date.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Shifted {
    /// Moved by the offset (times of day are zeroed, the zone kept).
    Moved(String),
    /// Not a full date, or too old: redacted as `redact` would (year kept or removed).
    Redacted(Option<String>),
    /// Not a date at all: left alone.
    Unchanged,
}

/// A shifted `instant` as Microsoft's serializer writes it: seconds without a zero fraction,
/// and UTC as `+00:00`.
pub fn instant_form(shifted: &str) -> String {
    let Some(t) = shifted.find('T') else {
        return shifted.to_string();
    };
    let (date, time) = shifted.split_at(t);
    let zone_at = time.find(['Z', '+', '-']).unwrap_or(time.len());
    let clock = time[..zone_at].split('.').next().unwrap_or("");
    let zone = match &time[zone_at..] {
        "Z" => "+00:00",
        z => z,
    };
    format!("{date}{clock}{zone}")
}

pub fn shift_date(text: &str, offset_days: i64, partial: bool, today: NaiveDate) -> Shifted {
    let Some(d) = parse_date(text) else {
        return Shifted::Unchanged;
    };
    let (Some(month), Some(day)) = (d.month, d.day) else {
        return Shifted::Redacted(redact_date(text, partial, today));
    };
    if over_age_threshold(&d, today) {
        return Shifted::Redacted(redact_date(text, partial, today));
    }
    let Some(date) = NaiveDate::from_ymd_opt(d.year, month, day)
        .and_then(|x| x.checked_add_signed(Duration::days(offset_days)))
    else {
        return Shifted::Redacted(redact_date(text, partial, today));
    };
    let mut out = date.format("%Y-%m-%d").to_string();
    if let Some(time) = &d.time {
        // hh:mm:ss[.fff] → 00:00:00[.000]; the zone stays.
        let zone_at = time[1..]
            .find(['Z', '+', '-'])
            .map_or(time.len(), |i| i + 1);
        out.push('T');
        out.extend(
            time[1..zone_at]
                .chars()
                .map(|c| if c.is_ascii_digit() { '0' } else { c }),
        );
        out.push_str(&time[zone_at..]);
    }
    Shifted::Moved(out)
}

/// Partial ZIP redaction: the first three digits stay (`12345` → `12300`), except for the
/// restricted three-digit areas (fewer than 20,000 people), which become all zeros.
pub fn redact_postal_code(code: &str, restricted: &[String]) -> String {
    let zero = |s: &str| -> String {
        s.chars()
            .map(|c| if c.is_ascii_digit() { '0' } else { c })
            .collect()
    };
    if restricted.iter().any(|r| code.starts_with(r.as_str())) {
        return zero(code);
    }
    match code.char_indices().nth(3) {
        Some((i, _)) => format!("{}{}", &code[..i], zero(&code[i..])),
        None => code.to_string(),
    }
}

pub fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut mac =
        <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC accepts keys of any length");
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// Microsoft's cryptoHash: lower-case hex of HMAC-SHA256 over the UTF-8 text.
#[cfg(test)]
pub fn crypto_hash(text: &str, key: &str) -> String {
    CryptoHasher::new(key).hash(text)
}

/// Microsoft's cryptoHash under one key, keyed once: HMAC's inner and outer key blocks are
/// hashed when the engine is built, not again for every id and reference.
#[derive(Clone)]
pub struct CryptoHasher(Hmac<Sha256>);

impl CryptoHasher {
    pub fn new(key: &str) -> CryptoHasher {
        CryptoHasher(
            <Hmac<Sha256> as Mac>::new_from_slice(key.as_bytes())
                .expect("HMAC accepts keys of any length"),
        )
    }

    /// Lower-case hex of HMAC-SHA256 over the UTF-8 text.
    pub fn hash(&self, text: &str) -> String {
        let mut mac = self.0.clone();
        mac.update(text.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }
}

/// Reference forms whose id part alone is transformed, as Microsoft's patterns define them:
/// literal (`[http(s)://base/]Type/id[/_history/vid]`), `urn:oid:` and `urn:uuid:`. Parsed by
/// hand: this runs on every reference of every resource.
pub struct ReferencePatterns {
    resource_types: std::collections::HashSet<String, rustc_hash::FxBuildHasher>,
}

/// Where `/_history/` first starts in a reference. Its underscores are looked for (memchr)
/// rather than the whole needle: a substring search costs more to set up than to run on
/// strings this short, and this runs on every reference.
fn history_at(reference: &str) -> Option<usize> {
    let mut from = 0;
    while let Some(i) = reference[from..].find('_') {
        let underscore = from + i;
        if underscore > 0 && reference.as_bytes()[underscore - 1..].starts_with(b"/_history/") {
            return Some(underscore - 1);
        }
        from = underscore + 1;
    }
    None
}

fn is_id(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
}

impl ReferencePatterns {
    pub fn new(resource_types: &[String]) -> ReferencePatterns {
        ReferencePatterns {
            resource_types: resource_types.iter().cloned().collect(),
        }
    }

    /// (prefix, id, suffix) of a reference whose id can be transformed alone.
    fn split<'r>(&self, reference: &'r str) -> Option<(&'r str, &'r str, &'r str)> {
        if let Some(oid) = reference.strip_prefix("urn:oid:") {
            let mut parts = oid.split('.');
            let first_ok = parts.next().is_some_and(|p| matches!(p, "0" | "1" | "2"));
            let mut count = 0;
            let rest_ok = parts.all(|p| {
                count += 1;
                !p.is_empty()
                    && p.bytes().all(|b| b.is_ascii_digit())
                    && (p == "0" || !p.starts_with('0'))
            });
            return (first_ok && rest_ok && count > 0).then_some(("urn:oid:", oid, ""));
        }
        if let Some(uuid) = reference.strip_prefix("urn:uuid:") {
            let b = uuid.as_bytes();
            let ok = b.len() == 36
                && b.iter().enumerate().all(|(i, c)| match i {
                    8 | 13 | 18 | 23 => *c == b'-',
                    _ => c.is_ascii_hexdigit(),
                });
            return ok.then_some(("urn:uuid:", uuid, ""));
        }
        // [base/]Type/id[/_history/vid]
        let (body, suffix) = match history_at(reference) {
            Some(i) if is_id(&reference[i + "/_history/".len()..]) => reference.split_at(i),
            Some(_) => return None,
            None => (reference, ""),
        };
        let id_start = body.rfind('/')? + 1;
        let id = &body[id_start..];
        let before = &body[..id_start - 1];
        let type_start = before.rfind('/').map_or(0, |i| i + 1);
        let ty = &before[type_start..];
        if !is_id(id) || !self.resource_types.contains(ty) {
            return None;
        }
        let base = &before[..type_start];
        let base_ok = base.is_empty()
            || ((base.starts_with("http://") || base.starts_with("https://"))
                && base.split_once("://").is_some_and(|(_, rest)| {
                    rest.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"\\/.:%$".contains(&b))
                }));
        base_ok.then(|| (&reference[..id_start], id, suffix))
    }

    /// Applies `transform` to the id part of a reference (`Patient/123/_history/2` →
    /// `Patient/<t(123)>/_history/2`, `#c1` → `#<t(c1)>`), or to the whole text when it has no
    /// recognisable id.
    pub fn transform_id(&self, reference: &str, transform: &dyn Fn(&str) -> String) -> String {
        let (prefix, id, suffix) = match reference.strip_prefix('#') {
            Some(internal) => ("#", internal, ""),
            None => match self.split(reference) {
                Some(parts) => parts,
                None => return transform(reference),
            },
        };
        let id = transform(id);
        let mut out = String::with_capacity(prefix.len() + id.len() + suffix.len());
        out.push_str(prefix);
        out.push_str(&id);
        out.push_str(suffix);
        out
    }
}

type Aes128CbcEnc = cbc::Encryptor<aes::Aes128>;
type Aes192CbcEnc = cbc::Encryptor<aes::Aes192>;
type Aes256CbcEnc = cbc::Encryptor<aes::Aes256>;
type Aes128CbcDec = cbc::Decryptor<aes::Aes128>;
type Aes192CbcDec = cbc::Decryptor<aes::Aes192>;
type Aes256CbcDec = cbc::Decryptor<aes::Aes256>;

/// Microsoft's encrypt: AES-CBC with PKCS#7 padding, the 16-byte IV first, all in base64.
/// `key` is 16, 24 or 32 bytes (checked when the policy is parsed).
pub fn encrypt(plain: &str, key: &[u8], iv: [u8; 16]) -> Option<String> {
    let data = plain.as_bytes();
    let cipher = match key.len() {
        16 => Aes128CbcEnc::new_from_slices(key, &iv)
            .ok()?
            .encrypt_padded_vec_mut::<Pkcs7>(data),
        24 => Aes192CbcEnc::new_from_slices(key, &iv)
            .ok()?
            .encrypt_padded_vec_mut::<Pkcs7>(data),
        32 => Aes256CbcEnc::new_from_slices(key, &iv)
            .ok()?
            .encrypt_padded_vec_mut::<Pkcs7>(data),
        _ => return None,
    };
    let mut out = iv.to_vec();
    out.extend(cipher);
    Some(base64::engine::general_purpose::STANDARD.encode(out))
}

/// Reverses [`encrypt`] (for a steward holding the key). `None` on a wrong key or bad input.
pub fn decrypt(encoded: &str, key: &[u8]) -> Option<String> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .ok()?;
    if bytes.len() < 32 {
        return None;
    }
    let (iv, data) = bytes.split_at(16);
    let plain = match key.len() {
        16 => Aes128CbcDec::new_from_slices(key, iv)
            .ok()?
            .decrypt_padded_vec_mut::<Pkcs7>(data)
            .ok()?,
        24 => Aes192CbcDec::new_from_slices(key, iv)
            .ok()?
            .decrypt_padded_vec_mut::<Pkcs7>(data)
            .ok()?,
        32 => Aes256CbcDec::new_from_slices(key, iv)
            .ok()?
            .decrypt_padded_vec_mut::<Pkcs7>(data)
            .ok()?,
        _ => return None,
    };
    String::from_utf8(plain).ok()
}

/// Rounds half to even at `digits` decimals, as .NET's `decimal.Round` does, and writes the
/// shortest text for it.
pub fn round_to_text(value: f64, digits: u32) -> String {
    let factor = 10f64.powi(digits as i32);
    let scaled = value * factor;
    let floor = scaled.floor();
    let diff = scaled - floor;
    let rounded = if (diff - 0.5).abs() < 1e-9 {
        if floor % 2.0 == 0.0 {
            floor
        } else {
            floor + 1.0
        }
    } else {
        scaled.round()
    };
    let text = format!("{:.*}", digits as usize, rounded / factor);
    if text.contains('.') {
        let trimmed = text.trim_end_matches('0').trim_end_matches('.');
        if trimmed == "-0" {
            "0".into()
        } else {
            trimmed.to_string()
        }
    } else if text == "-0" {
        "0".into()
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 28).unwrap()
    }

    proptest! {
        #[test]
        fn history_is_found_where_a_substring_search_finds_it(s in "[/_historyé]{0,40}") {
            prop_assert_eq!(history_at(&s), s.find("/_history/"));
        }
    }

    #[test]
    fn microsoft_offset_for_their_test_key() {
        // patient-basic in Microsoft's tests: id "example", key "123" → +41 days.
        assert_eq!(microsoft_date_offset("example", "123"), 41);
    }

    #[test]
    fn shifting_keeps_the_zone_and_zeroes_the_time() {
        assert_eq!(
            shift_date("2000-01-01T01:01:01-01:00", 41, true, today()),
            Shifted::Moved("2000-02-11T00:00:00-01:00".into())
        );
        assert_eq!(
            shift_date("2015-02-07T13:28:17.239+02:00", -3, true, today()),
            Shifted::Moved("2015-02-04T00:00:00.000+02:00".into())
        );
        assert_eq!(
            shift_date("2000-01-01", 41, true, today()),
            Shifted::Moved("2000-02-11".into())
        );
        assert_eq!(
            shift_date("2001-01-01Z", 41, true, today()),
            Shifted::Moved("2001-02-11".into())
        );
        assert_eq!(
            shift_date("2001-01-01T10:00", 41, true, today()),
            Shifted::Moved("2001-02-11".into())
        );
        assert_eq!(
            instant_form("2014-08-25T00:00:00.000Z"),
            "2014-08-25T00:00:00+00:00"
        );
        assert_eq!(
            shift_date("2002", 41, true, today()),
            Shifted::Redacted(Some("2002".into()))
        );
        assert_eq!(
            shift_date("2002-05", 41, false, today()),
            Shifted::Redacted(None)
        );
        // Over 89 years ago: removed even with partial dates.
        assert_eq!(
            shift_date("1920-05-01", 41, true, today()),
            Shifted::Redacted(None)
        );
    }

    #[test]
    fn postal_codes() {
        let restricted = vec!["036".to_string()];
        assert_eq!(redact_postal_code("12345", &restricted), "12300");
        assert_eq!(redact_postal_code("03601", &restricted), "00000");
        assert_eq!(redact_postal_code("12345-6789", &restricted), "12300-0000");
        assert_eq!(redact_postal_code("12", &restricted), "12");
    }

    #[test]
    fn references_hash_only_their_id() {
        let p = ReferencePatterns::new(&["Patient".to_string(), "Organization".to_string()]);
        let t = |s: &str| format!("<{s}>");
        assert_eq!(p.transform_id("Patient/123", &t), "Patient/<123>");
        assert_eq!(
            p.transform_id("http://x.org/fhir/Patient/a-1/_history/2", &t),
            "http://x.org/fhir/Patient/<a-1>/_history/2"
        );
        assert_eq!(p.transform_id("#c1", &t), "#<c1>");
        assert_eq!(p.transform_id("urn:oid:1.2.3", &t), "urn:oid:<1.2.3>");
        assert_eq!(p.transform_id("Unknown/1", &t), "<Unknown/1>");
        assert_eq!(
            p.transform_id("urn:uuid:04121321-4af5-424c-a0e1-ed3aab1c349d", &t),
            "urn:uuid:<04121321-4af5-424c-a0e1-ed3aab1c349d>"
        );
        assert_eq!(
            p.transform_id("ftp://x/Patient/1", &t),
            "<ftp://x/Patient/1>"
        );
        assert_eq!(
            p.transform_id("Patient/1/_history/", &t),
            "<Patient/1/_history/>"
        );
    }

    #[test]
    fn encryption_round_trips() {
        let key = b"0123456789abcdef";
        let c = encrypt("Jane Doe", key, [7; 16]).unwrap();
        assert_ne!(c, "Jane Doe");
        assert_eq!(decrypt(&c, key).as_deref(), Some("Jane Doe"));
        assert_eq!(decrypt(&c, b"fedcba9876543210"), None);
    }

    #[test]
    fn crypto_hash_is_hmac_sha256_hex() {
        // RFC 4231 test case 2.
        assert_eq!(
            crypto_hash("what do ya want for nothing?", "Jefe"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn rounding_is_half_to_even() {
        assert_eq!(round_to_text(2.5, 0), "2");
        assert_eq!(round_to_text(3.5, 0), "4");
        assert_eq!(round_to_text(12.3456, 2), "12.35");
        assert_eq!(round_to_text(-0.001, 2), "0");
    }

    #[test]
    fn patient_offsets_are_never_zero_and_stay_in_range() {
        for i in 0..500 {
            let o = patient_date_offset(&format!("p{i}"), "k");
            assert!(o != 0 && o.abs() <= 50);
        }
        assert_eq!(
            patient_date_offset("p1", "k"),
            patient_date_offset("p1", "k")
        );
    }
}
