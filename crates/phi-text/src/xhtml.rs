//! XHTML narrative scrubbing: text nodes and human-readable attribute values are scrubbed, markup
//! is kept.

use crate::{Counts, PatientIdentity, Replacement, Scrubbed, Scrubber};

/// Attributes whose values are structure, not text: kept as they are.
const STRUCTURAL: &[&str] = &[
    "xmlns",
    "class",
    "id",
    "style",
    "lang",
    "xml:lang",
    "colspan",
    "rowspan",
    "span",
    "width",
    "height",
    "border",
    "cellpadding",
    "cellspacing",
    "valign",
    "align",
    "dir",
    "type",
    "scope",
    "headers",
    "start",
    "value",
    "rules",
    "frame",
    "char",
    "charoff",
    "shape",
    "coords",
    "name",
    "accesskey",
    "tabindex",
    "nowrap",
];

const PUA: u32 = 0xE000;

/// Decodes entities; an unknown named entity becomes a private-use character standing for it.
fn decode(s: &str, unknown: &mut Vec<String>) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        let end = rest[1..]
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '#'))
            .map(|e| e + 1);
        match end {
            Some(e) if e > 1 && rest[e..].starts_with(';') => {
                let name = &rest[1..e];
                let decoded = match name {
                    "amp" => Some('&'),
                    "lt" => Some('<'),
                    "gt" => Some('>'),
                    "quot" => Some('"'),
                    "apos" => Some('\''),
                    _ if name.starts_with("#x") || name.starts_with("#X") => {
                        u32::from_str_radix(&name[2..], 16)
                            .ok()
                            .and_then(char::from_u32)
                    }
                    _ if name.starts_with('#') => {
                        name[1..].parse::<u32>().ok().and_then(char::from_u32)
                    }
                    _ => None,
                };
                match decoded {
                    Some(c) if !(PUA..PUA + 0x1000).contains(&(c as u32)) => out.push(c),
                    _ if unknown.len() < 0x1000 => {
                        out.push(char::from_u32(PUA + unknown.len() as u32).unwrap_or('?'));
                        unknown.push(rest[..=e].to_string());
                    }
                    _ => out.push_str("&amp;"),
                }
                rest = &rest[e + 1..];
            }
            _ => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Escapes for XML, restoring unknown entities.
fn encode(s: &str, unknown: &[String], quote: Option<char>, out: &mut String) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' if quote == Some('"') => out.push_str("&quot;"),
            '\'' if quote == Some('\'') => out.push_str("&apos;"),
            c if (PUA..PUA + 0x1000).contains(&(c as u32)) => {
                match unknown.get((c as u32 - PUA) as usize) {
                    Some(e) => out.push_str(e),
                    None => out.push(c),
                }
            }
            c => out.push(c),
        }
    }
}

/// Scrubs one piece of character data; writes it back unchanged when nothing was found.
fn text(
    sc: &Scrubber,
    raw: &str,
    id: &PatientIdentity,
    r: &Replacement,
    quote: Option<char>,
    counts: &mut Counts,
    out: &mut String,
) {
    if raw.is_empty() {
        return;
    }
    let mut unknown = Vec::new();
    let decoded = decode(raw, &mut unknown);
    let s = sc.scrub(&decoded, id, r);
    if s.counts.total() == 0 {
        out.push_str(raw);
    } else {
        counts.add(&s.counts);
        encode(&s.text, &unknown, quote, out);
    }
}

/// Scrubs the attribute values of one start tag (`<a href="…" title="…">`).
fn tag(
    sc: &Scrubber,
    raw: &str,
    id: &PatientIdentity,
    r: &Replacement,
    counts: &mut Counts,
    out: &mut String,
) {
    let mut rest = raw;
    // Next attribute value: name = "value".
    while let Some(eq) = rest.find('=') {
        let after = rest[eq + 1..].trim_start();
        let q = match after.chars().next() {
            Some(c @ ('"' | '\'')) => c,
            _ => break,
        };
        let vstart = rest.len() - after.len() + 1;
        let Some(vlen) = rest[vstart..].find(q) else {
            break;
        };
        let name = rest[..eq]
            .trim_end()
            .rsplit(|c: char| c.is_whitespace() || c == '<')
            .next()
            .unwrap_or("")
            .to_ascii_lowercase();
        out.push_str(&rest[..vstart]);
        let value = &rest[vstart..vstart + vlen];
        if STRUCTURAL.contains(&name.as_str()) || name.starts_with("xmlns") {
            out.push_str(value);
        } else {
            text(sc, value, id, r, Some(q), counts, out);
        }
        rest = &rest[vstart + vlen..];
    }
    out.push_str(rest);
}

pub(crate) fn scrub(sc: &Scrubber, div: &str, id: &PatientIdentity, r: &Replacement) -> Scrubbed {
    let mut out = String::with_capacity(div.len() + 16);
    let mut counts = Counts::default();
    let mut rest = div;
    while !rest.is_empty() {
        let Some(lt) = rest.find('<') else {
            text(sc, rest, id, r, None, &mut counts, &mut out);
            break;
        };
        text(sc, &rest[..lt], id, r, None, &mut counts, &mut out);
        rest = &rest[lt..];
        if let Some(body) = rest.strip_prefix("<!--") {
            let end = body.find("-->").unwrap_or(body.len());
            out.push_str("<!--");
            text(sc, &body[..end], id, r, None, &mut counts, &mut out);
            rest = &body[end..];
            if let Some(r2) = rest.strip_prefix("-->") {
                out.push_str("-->");
                rest = r2;
            }
        } else if let Some(body) = rest.strip_prefix("<![CDATA[") {
            let end = body.find("]]>").unwrap_or(body.len());
            out.push_str("<![CDATA[");
            let s = sc.scrub(&body[..end], id, r);
            counts.add(&s.counts);
            out.push_str(&s.text.replace("]]>", "]]&gt;"));
            rest = &body[end..];
            if let Some(r2) = rest.strip_prefix("]]>") {
                out.push_str("]]>");
                rest = r2;
            }
        } else if rest.starts_with("<?") || rest.starts_with("<!") {
            let end = rest.find('>').map(|e| e + 1).unwrap_or(rest.len());
            out.push_str(&rest[..end]);
            rest = &rest[end..];
        } else {
            // A tag: up to the '>' outside quotes.
            let mut quote: Option<char> = None;
            let mut end = rest.len();
            for (i, c) in rest.char_indices().skip(1) {
                match (quote, c) {
                    (None, '"' | '\'') => quote = Some(c),
                    (Some(q), c) if c == q => quote = None,
                    (None, '>') => {
                        end = i + 1;
                        break;
                    }
                    _ => {}
                }
            }
            if rest.starts_with("</") {
                out.push_str(&rest[..end]);
            } else {
                tag(sc, &rest[..end], id, r, &mut counts, &mut out);
            }
            rest = &rest[end..];
        }
    }
    Scrubbed { text: out, counts }
}
