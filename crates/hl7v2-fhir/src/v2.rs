//! Small conveniences over the parser's segments and repetitions.
//!
//! Every value the mapping reads goes through [`clean`]: trimmed (senders pad fields with
//! spaces, and FHIR `code`/`id` values may not start or end with whitespace) and the explicit
//! null `""` read as empty (a FHIR resource is replaced whole, so "delete this value" and "no
//! value" both mean: leave the element out).

use std::borrow::Cow;

use salus_hl7v2::{Rep, Segment};

/// Trim, and read the explicit null as empty.
pub fn clean(value: Cow<'_, str>) -> Cow<'_, str> {
    match value {
        Cow::Borrowed(s) => {
            let t = s.trim();
            Cow::Borrowed(if t == "\"\"" { "" } else { t })
        }
        Cow::Owned(s) => {
            let t = s.trim();
            if t == "\"\"" {
                Cow::Borrowed("")
            } else if t.len() == s.len() {
                Cow::Owned(s)
            } else {
                Cow::Owned(t.to_string())
            }
        }
    }
}

/// Reading a repetition (or a whole field's first repetition).
pub trait RepExt<'a> {
    /// Component `n` (1-based), its first subcomponent, decoded and cleaned.
    fn c(&self, n: usize) -> Cow<'a, str>;
    /// Subcomponent `s` of component `n`, decoded and cleaned.
    fn s(&self, n: usize, s: usize) -> Cow<'a, str>;
    /// The whole repetition decoded as text (for ST/TX/FT values, where a stray component
    /// separator is part of the text).
    fn text(&self) -> Cow<'a, str>;
    /// No value in any component.
    fn blank(&self) -> bool;
}

impl<'a> RepExt<'a> for Rep<'a> {
    fn c(&self, n: usize) -> Cow<'a, str> {
        clean(self.component(n).value())
    }

    fn s(&self, n: usize, s: usize) -> Cow<'a, str> {
        clean(self.component(n).sub_value(s))
    }

    fn text(&self) -> Cow<'a, str> {
        let raw = self.raw();
        if raw == "\"\"" {
            return Cow::Borrowed("");
        }
        self.component(1).decode(raw)
    }

    fn blank(&self) -> bool {
        self.components()
            .all(|c| c.subs().all(|s| s.trim().is_empty() || s == "\"\""))
    }
}

/// Reading a segment's fields (HL7 numbering).
pub trait SegExt<'a> {
    /// The first repetition of field `n`.
    fn rep(&self, n: usize) -> Rep<'a>;
    /// The non-blank repetitions of field `n`.
    fn reps(&self, n: usize) -> Vec<Rep<'a>>;
    /// Field `n`, first repetition, component 1.
    fn v(&self, n: usize) -> Cow<'a, str>;
    /// Field `n`, first repetition, component `c`.
    fn c(&self, n: usize, c: usize) -> Cow<'a, str>;
    /// Field `n`, first repetition, component `c`, subcomponent `s`.
    fn s(&self, n: usize, c: usize, s: usize) -> Cow<'a, str>;
    /// Does field `n` hold anything?
    fn has(&self, n: usize) -> bool;
}

impl<'a> SegExt<'a> for Segment<'a> {
    fn rep(&self, n: usize) -> Rep<'a> {
        self.field(n).rep(0)
    }

    fn reps(&self, n: usize) -> Vec<Rep<'a>> {
        self.field(n).repetitions().filter(|r| !r.blank()).collect()
    }

    fn v(&self, n: usize) -> Cow<'a, str> {
        self.rep(n).c(1)
    }

    fn c(&self, n: usize, c: usize) -> Cow<'a, str> {
        self.rep(n).c(c)
    }

    fn s(&self, n: usize, c: usize, s: usize) -> Cow<'a, str> {
        self.rep(n).s(c, s)
    }

    fn has(&self, n: usize) -> bool {
        self.field(n).repetitions().any(|r| !r.blank())
    }
}
