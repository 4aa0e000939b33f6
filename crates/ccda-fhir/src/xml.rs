//! Safe XML parsing and the navigation helpers the mappings use.
//!
//! Safety comes from construction, not from filtering:
//!
//! - `roxmltree` is a non-validating parser that refuses any DTD (`allow_dtd: false`), so
//!   external entities (XXE) and entity-expansion bombs ("billion laughs") cannot exist: a
//!   document that declares one is rejected before any entity is read.
//! - The caller reads at most [`Limits::max_document_bytes`] (the whole input is in memory,
//!   so memory is bounded by that and the node count), and [`Limits::max_nodes`] bounds the
//!   tree.
//! - The root must be `ClinicalDocument` in the HL7 v3 namespace (`urn:hl7-org:v3`): a
//!   document in another namespace is not C-CDA, whatever its element names say.

use std::fmt::Write as _;

use roxmltree::{Document, Node, ParsingOptions};

/// The HL7 v3 namespace every C-CDA element is in.
pub const V3: &str = "urn:hl7-org:v3";
/// The SDTC extension namespace (`sdtc:raceCode`, `sdtc:deceasedInd`, …).
pub const SDTC: &str = "urn:hl7-org:sdtc";
/// `xsi:type`'s namespace.
pub const XSI: &str = "http://www.w3.org/2001/XMLSchema-instance";

/// Bounds on what one document may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The largest document accepted, in bytes. C-CDA documents are typically 10-500 KB; an
    /// embedded PDF can make one a few MB.
    pub max_document_bytes: usize,
    /// The most XML nodes (elements, text, attributes' owners) in one document.
    pub max_nodes: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_document_bytes: 32 << 20,
            max_nodes: 2_000_000,
        }
    }
}

/// Why a document could not be read as C-CDA: where (an XPath-like position or a line and
/// column) and why, in plain words. Never holds document text (it is PHI).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentError {
    /// `/ClinicalDocument/recordTarget`, or `line 3, column 7` for a syntax error.
    pub position: String,
    pub reason: String,
}

impl std::fmt::Display for DocumentError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.position, self.reason)
    }
}

impl std::error::Error for DocumentError {}

impl DocumentError {
    pub(crate) fn at(position: impl Into<String>, reason: impl Into<String>) -> Self {
        DocumentError {
            position: position.into(),
            reason: reason.into(),
        }
    }
}

/// Turn bytes into document text: UTF-8 (a byte-order mark dropped) or UTF-16 with a BOM.
/// Other encodings are refused: C-CDA requires UTF-8 in practice, and guessing would corrupt
/// names.
pub fn decode(bytes: &[u8]) -> Result<std::borrow::Cow<'_, str>, DocumentError> {
    let utf16 = |le: bool, body: &[u8]| -> Result<std::borrow::Cow<'_, str>, DocumentError> {
        let units: Vec<u16> = body
            .chunks_exact(2)
            .map(|c| {
                if le {
                    u16::from_le_bytes([c[0], c[1]])
                } else {
                    u16::from_be_bytes([c[0], c[1]])
                }
            })
            .collect();
        String::from_utf16(&units).map(Into::into).map_err(|_| {
            DocumentError::at("document", "the UTF-16 text holds an invalid character")
        })
    };
    match bytes {
        [0xEF, 0xBB, 0xBF, rest @ ..] => std::str::from_utf8(rest).map(Into::into),
        [0xFF, 0xFE, rest @ ..] => return utf16(true, rest),
        [0xFE, 0xFF, rest @ ..] => return utf16(false, rest),
        _ => std::str::from_utf8(bytes).map(Into::into),
    }
    .map_err(|e| {
        DocumentError::at(
            format!("byte {}", e.valid_up_to()),
            "the document is not UTF-8 text; re-export it as UTF-8",
        )
    })
}

/// Parse document text, refusing DTDs, oversized trees and any root but a v3
/// `ClinicalDocument`.
pub fn parse<'i>(text: &'i str, limits: &Limits) -> Result<Document<'i>, DocumentError> {
    if text.len() > limits.max_document_bytes {
        return Err(DocumentError::at(
            "document",
            format!(
                "the document is larger than {} bytes; C-CDA documents that large are refused",
                limits.max_document_bytes
            ),
        ));
    }
    let start = text.trim_start();
    if !start.starts_with('<') {
        return Err(DocumentError::at(
            "line 1",
            "this is not XML: a C-CDA document starts with `<?xml` or `<ClinicalDocument`",
        ));
    }
    let options = ParsingOptions {
        allow_dtd: false,
        nodes_limit: limits.max_nodes,
        ..ParsingOptions::default()
    };
    let doc = Document::parse_with_options(text, options).map_err(|e| syntax_error(&e, text))?;
    let root = doc.root_element();
    if root.tag_name().name() != "ClinicalDocument" || root.tag_name().namespace() != Some(V3) {
        let ns = root.tag_name().namespace().unwrap_or("no namespace");
        return Err(DocumentError::at(
            format!("/{}", root.tag_name().name()),
            format!(
                "the root element is `{}` in {ns}; a C-CDA document's root is `ClinicalDocument` in the namespace {V3}",
                root.tag_name().name()
            ),
        ));
    }
    Ok(doc)
}

fn syntax_error(e: &roxmltree::Error, text: &str) -> DocumentError {
    use roxmltree::Error as E;
    let line_col = |offset: usize| {
        let before = &text[..offset];
        let line = before.matches('\n').count() + 1;
        let col = before.rfind('\n').map_or(offset, |nl| offset - nl - 1) + 1;
        format!("line {line}, column {col}")
    };
    let pos = e.pos();
    let mut position = format!("line {}, column {}", pos.row, pos.col);
    let reason = match e {
        E::DtdDetected => {
            // roxmltree does not say where: find the declaration for the user.
            if let Some(at) = text.find("<!DOCTYPE") {
                position = line_col(at);
            }
            "the document has a DTD (`<!DOCTYPE`); DTDs are refused because they can declare external or recursively expanding entities. C-CDA needs none: remove it".to_owned()
        }
        E::NodesLimitReached | E::AttributesLimitReached | E::NamespacesLimitReached => {
            position = "document".into();
            "the document has more XML nodes than the limit allows".to_owned()
        }
        E::UnclosedRootNode | E::UnexpectedEndOfStream => {
            position = "end of document".into();
            "the document ends before its elements are closed (truncated?)".to_owned()
        }
        E::NoRootNode => {
            position = "document".into();
            "the document has no root element".to_owned()
        }
        E::UnknownNamespace(prefix, _) => {
            format!("the namespace prefix `{prefix}` is used but never declared")
        }
        E::UnknownEntityReference(..) => {
            "an entity reference that XML does not define (only &lt; &gt; &amp; &apos; &quot; and character references are allowed)".to_owned()
        }
        E::UnexpectedCloseTag(..) => "a closing tag does not match the element it closes".to_owned(),
        E::UnknownToken(_) => "malformed XML: an unexpected character".to_owned(),
        // Other roxmltree errors describe syntax without quoting element content.
        other => format!("malformed XML: {}", syntax_reason(other)),
    };
    DocumentError::at(position, reason)
}

/// roxmltree's own message without its position (ours is added separately). Its messages
/// name tags and attributes, not text content.
fn syntax_reason(e: &roxmltree::Error) -> String {
    let text = e.to_string();
    match text.rfind(" at ") {
        Some(at) => text[..at].to_owned(),
        None => text,
    }
}

/// Navigation over v3 elements. Every helper matches local names in the v3 namespace only,
/// so a foreign element that happens to be called `code` is never read as one.
pub trait El<'a, 'i: 'a>: Sized {
    fn node(&self) -> Node<'a, 'i>;

    /// The first v3 child element with this local name.
    fn child(&self, name: &str) -> Option<Node<'a, 'i>> {
        self.node().children().find(|c| {
            c.is_element() && c.tag_name().name() == name && c.tag_name().namespace() == Some(V3)
        })
    }

    /// Every v3 child element with this local name.
    fn children_named<'n>(&self, name: &'n str) -> impl Iterator<Item = Node<'a, 'i>> + 'n
    where
        'a: 'n,
        'i: 'n,
    {
        self.node().children().filter(move |c| {
            c.is_element() && c.tag_name().name() == name && c.tag_name().namespace() == Some(V3)
        })
    }

    /// The first child in another namespace (`sdtc:deceasedInd`).
    fn child_ns(&self, ns: &str, name: &str) -> Option<Node<'a, 'i>> {
        self.node().children().find(|c| {
            c.is_element() && c.tag_name().name() == name && c.tag_name().namespace() == Some(ns)
        })
    }

    /// Follow a path of v3 child names, taking the first match at each step.
    fn path(&self, names: &[&str]) -> Option<Node<'a, 'i>> {
        let mut at = self.node();
        for name in names {
            at = at.child(name)?;
        }
        Some(at)
    }

    /// A non-blank attribute value, trimmed.
    fn attr(&self, name: &str) -> Option<&'a str> {
        self.node()
            .attribute(name)
            .map(str::trim)
            .filter(|v| !v.is_empty())
    }

    /// `xsi:type` without its prefix (`CD`, `PQ`, `IVL_TS` …).
    fn xsi_type(&self) -> Option<&'a str> {
        let t = self.node().attribute((XSI, "type"))?;
        Some(t.rsplit(':').next().unwrap_or(t).trim())
    }

    /// `nullFlavor`, when present.
    fn null_flavor(&self) -> Option<&'a str> {
        self.attr("nullFlavor")
    }

    /// The roots of the element's `templateId` children.
    fn template_ids<'n>(&self) -> impl Iterator<Item = &'a str> + 'n
    where
        'a: 'n,
        'i: 'n,
    {
        self.children_named("templateId")
            .filter_map(|t| t.attr("root"))
    }

    /// Whether a `templateId` child has this root (any extension, so R1.1 and R2.1 both match).
    fn has_template(&self, root: &str) -> bool {
        self.template_ids().any(|t| t == root)
    }

    /// Text content of the element and its descendants, white space collapsed.
    fn text_content(&self) -> String {
        let mut out = String::new();
        for t in self.node().descendants().filter(|n| n.is_text()) {
            for word in t.text().unwrap_or_default().split_whitespace() {
                if !out.is_empty() {
                    out.push(' ');
                }
                out.push_str(word);
            }
        }
        out
    }

    /// An XPath-like position: `/ClinicalDocument/component/structuredBody/component[3]/section`.
    /// A step has an index (1-based, as XPath counts) only where siblings share its name.
    fn xpath(&self) -> String {
        let mut steps = Vec::new();
        let mut at = Some(self.node());
        while let Some(n) = at {
            if !n.is_element() {
                break;
            }
            let name = n.tag_name().name();
            let same = |s: &Node| s.is_element() && s.tag_name().name() == name;
            let before = n.prev_siblings().skip(1).filter(same).count();
            let indexed = before > 0 || n.next_siblings().skip(1).any(|s| same(&s));
            steps.push((name, indexed.then_some(before + 1)));
            at = n.parent_element();
        }
        let mut out = String::new();
        for (name, index) in steps.iter().rev() {
            out.push('/');
            out.push_str(name);
            if let Some(i) = index {
                let _ = write!(out, "[{i}]");
            }
        }
        out
    }
}

impl<'a, 'i: 'a> El<'a, 'i> for Node<'a, 'i> {
    fn node(&self) -> Node<'a, 'i> {
        *self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = r#"<?xml version="1.0"?>
<ClinicalDocument xmlns="urn:hl7-org:v3" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <templateId root="2.16.840.1.113883.10.20.22.1.1"/>
  <component><structuredBody>
    <component><section><code code="11450-4"/></section></component>
    <component><section><code code="48765-2"/><entry><act><code code=" x "/></act></entry></section></component>
  </structuredBody></component>
  <value xsi:type="xs:PQ" value="1"/>
</ClinicalDocument>"#;

    #[test]
    fn positions_are_xpath_like() {
        let doc = parse(DOC, &Limits::default()).unwrap();
        let act = doc
            .descendants()
            .find(|n| n.tag_name().name() == "act")
            .unwrap();
        assert_eq!(
            act.xpath(),
            "/ClinicalDocument/component/structuredBody/component[2]/section/entry/act"
        );
        assert_eq!(act.child("code").unwrap().attr("code"), Some("x"));
        let root = doc.root_element();
        assert!(root.has_template("2.16.840.1.113883.10.20.22.1.1"));
        assert_eq!(root.child("value").unwrap().xsi_type(), Some("PQ"));
    }

    #[test]
    fn refuses_what_is_not_ccda() {
        let l = Limits::default();
        let e = parse("hello", &l).unwrap_err();
        assert!(e.reason.contains("not XML"), "{e}");
        let e = parse("<ClinicalDocument/>", &l).unwrap_err();
        assert!(e.reason.contains("urn:hl7-org:v3"), "{e}");
        let e = parse(r#"<ClinicalDocument xmlns="urn:other"/>"#, &l).unwrap_err();
        assert!(e.reason.contains("urn:other"), "{e}");
        let xxe = r#"<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><ClinicalDocument xmlns="urn:hl7-org:v3">&e;</ClinicalDocument>"#;
        let e = parse(xxe, &l).unwrap_err();
        assert!(e.reason.contains("DTD"), "{e}");
        let e = parse(r#"<ClinicalDocument xmlns="urn:hl7-org:v3"><a>"#, &l).unwrap_err();
        assert_eq!(e.position, "end of document", "{e}");
        assert!(e.reason.contains("truncated"), "{e}");
        let e = parse("<ClinicalDocument xmlns=\"urn:hl7-org:v3\">\n  <a></b>", &l).unwrap_err();
        assert_eq!(e.position, "line 2, column 6", "{e}");
        let e = parse(
            "<?xml version=\"1.0\"?>\n\n<!DOCTYPE x>\n<ClinicalDocument/>",
            &l,
        )
        .unwrap_err();
        assert_eq!(e.position, "line 3, column 1", "{e}");
        let small = Limits {
            max_document_bytes: 10,
            ..l
        };
        assert!(parse(DOC, &small).unwrap_err().reason.contains("larger"));
    }

    #[test]
    fn decodes_utf8_and_utf16() {
        assert_eq!(decode(b"\xEF\xBB\xBF<a/>").unwrap(), "<a/>");
        let utf16: Vec<u8> = [0xFF, 0xFE]
            .into_iter()
            .chain("<a/>".encode_utf16().flat_map(|u| u.to_le_bytes()))
            .collect();
        assert_eq!(decode(&utf16).unwrap(), "<a/>");
        let e = decode(b"<a>\xff</a>").unwrap_err();
        assert_eq!(e.position, "byte 3");
    }
}
