//! Replacement of one span: a tag, a shifted date, or a surrogate chosen by HMAC-SHA256.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::dict::Dictionaries;
use crate::{dates, Category, Replacement};

type HmacSha256 = Hmac<Sha256>;

/// HMAC-SHA256(key, category name ‖ 0 ‖ normalized value).
fn mac(key: &[u8], category: Category, normalized: &str) -> [u8; 32] {
    // new_from_slice accepts keys of any length for HMAC.
    let mut m = match HmacSha256::new_from_slice(key) {
        Ok(m) => m,
        Err(_) => return [0; 32],
    };
    m.update(category.name().as_bytes());
    m.update(&[0]);
    m.update(normalized.as_bytes());
    m.finalize().into_bytes().into()
}

fn pick<'a>(list: &[&'a str], h: &[u8; 32], offset: usize) -> &'a str {
    if list.is_empty() {
        return "";
    }
    let i = u64::from_be_bytes([
        h[offset],
        h[offset + 1],
        h[offset + 2],
        h[offset + 3],
        h[offset + 4],
        h[offset + 5],
        h[offset + 6],
        h[offset + 7],
    ]);
    list[(i % list.len() as u64) as usize]
}

/// The case of `template` applied to `word`.
fn same_case(word: &str, template: &str) -> String {
    let letters: Vec<char> = template.chars().filter(|c| c.is_alphabetic()).collect();
    if letters.len() > 1 && letters.iter().all(|c| c.is_uppercase()) {
        word.to_uppercase()
    } else if letters.first().is_some_and(|c| c.is_lowercase()) {
        word.to_lowercase()
    } else {
        word.to_string()
    }
}

/// Digits and letters replaced from the HMAC stream, separators kept.
fn scramble(value: &str, h: &[u8; 32]) -> String {
    let mut n = 0usize;
    value
        .chars()
        .map(|c| {
            let b = h[n % 32] as u32 + (n / 32) as u32 * 7;
            if c.is_ascii_digit() {
                n += 1;
                char::from_digit(b % 10, 10).unwrap_or('0')
            } else if c.is_ascii_uppercase() {
                n += 1;
                (b'A' + (b % 26) as u8) as char
            } else if c.is_ascii_lowercase() {
                n += 1;
                (b'a' + (b % 26) as u8) as char
            } else {
                c
            }
        })
        .collect()
}

fn hex(h: &[u8; 32], n: usize) -> String {
    h.iter().take(n).map(|b| format!("{b:02x}")).collect()
}

/// Writes the replacement of `value` (a span of `category`) to `out`.
pub(crate) fn replace(
    dict: &Dictionaries,
    category: Category,
    value: &str,
    r: &Replacement,
    out: &mut String,
) {
    if category == Category::Date {
        if let Some(days) = r.date_shift_days {
            if let Some(s) = dates::shift_text(value, days) {
                out.push_str(&s);
                return;
            }
        }
        out.push_str(category.tag());
        return;
    }
    let Some(key) = r.surrogate_key.as_deref() else {
        out.push_str(category.tag());
        return;
    };
    let norm = |v: &str| {
        v.to_lowercase()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    };
    match category {
        Category::Age => out.push_str("90+"),
        Category::Name => {
            // Word by word, so "John Smith" and "Smith" share the surrogate for "Smith".
            let mut rest = value;
            while let Some(start) = rest.find(char::is_alphabetic) {
                out.push_str(&rest[..start]);
                let word_len = rest[start..]
                    .char_indices()
                    .find(|(_, c)| !(c.is_alphabetic() || *c == '\'' || *c == '-'))
                    .map(|(i, _)| i)
                    .unwrap_or(rest.len() - start);
                let word = &rest[start..start + word_len];
                let l = word.to_lowercase();
                let h = mac(key, category, &l);
                let s = if word.chars().count() == 1 {
                    ((b'A' + h[0] % 26) as char).to_string()
                } else if dict.first.contains(&l) && !dict.last.contains(&l) {
                    pick(&dict.first_list, &h, 0).to_string()
                } else {
                    pick(&dict.last_list, &h, 0).to_string()
                };
                out.push_str(&same_case(&s, word));
                rest = &rest[start + word_len..];
            }
            out.push_str(rest);
        }
        Category::Location => {
            let h = mac(key, category, &norm(value));
            out.push_str(&same_case(pick(&dict.city_list, &h, 0), value));
        }
        Category::State => out.push_str(category.tag()),
        Category::Email => {
            let h = mac(key, category, &norm(value));
            out.push_str(&format!("user{}@example.org", hex(&h, 5)));
        }
        Category::Url => {
            let h = mac(key, category, &norm(value));
            out.push_str(&format!("https://example.org/{}", hex(&h, 6)));
        }
        Category::Ip => {
            let h = mac(key, category, &norm(value));
            out.push_str(&format!("10.{}.{}.{}", h[0], h[1], h[2]));
        }
        Category::Address => {
            let h = mac(key, category, &norm(value));
            let n = u16::from_be_bytes([h[8], h[9]]) % 9000 + 100;
            out.push_str(&format!("{n} {} St", pick(&dict.last_list, &h, 0)));
        }
        Category::Ssn => {
            // Area numbers 900-999 are never issued.
            let h = mac(
                key,
                category,
                &value
                    .chars()
                    .filter(char::is_ascii_digit)
                    .collect::<String>(),
            );
            let s = scramble(value, &h);
            let mut chars: Vec<char> = s.chars().collect();
            if let Some(c) = chars.iter_mut().find(|c| c.is_ascii_digit()) {
                *c = '9';
            }
            out.extend(chars);
        }
        Category::Phone | Category::Fax | Category::Id | Category::Zip => {
            let normalized: String = value
                .chars()
                .filter(|c| c.is_ascii_alphanumeric())
                .collect::<String>()
                .to_lowercase();
            let h = mac(key, category, &normalized);
            out.push_str(&scramble(value, &h));
        }
        Category::Date => out.push_str(category.tag()),
    }
}
