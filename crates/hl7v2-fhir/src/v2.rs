//! Small conveniences over the parser's segments and repetitions.
//!
//! Every value the mapping reads goes through [`clean`]: trimmed (senders pad fields with
//! spaces, and FHIR `code`/`id` values may not start or end with whitespace) and the explicit
//! null `""` read as empty (a FHIR resource is replaced whole, so "delete this value" and "no
//! value" both mean: leave the element out).

use std::borrow::Cow;

use salus_hl7v2::{Comp, Rep, Segment};

/// `s.trim()`, answered without the Unicode scan when both ends are visible ASCII (nearly
/// every value: `trim` was a few percent of the mapping). Every Unicode white space character
/// is either ASCII or starts and ends with a non-ASCII byte, so the shortcut is exact.
pub fn trim(s: &str) -> &str {
    let bytes = s.as_bytes();
    match (bytes.first(), bytes.last()) {
        (Some(&a), Some(&b)) if a.is_ascii_graphic() && b.is_ascii_graphic() => s,
        _ => s.trim(),
    }
}

/// Trim, and read the explicit null as empty.
pub fn clean(value: Cow<'_, str>) -> Cow<'_, str> {
    match value {
        Cow::Borrowed(s) => {
            let t = trim(s);
            Cow::Borrowed(if t == "\"\"" { "" } else { t })
        }
        Cow::Owned(s) => {
            let t = trim(&s);
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
            .all(|c| c.subs().all(|s| trim(s).is_empty() || s == "\"\""))
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
        let delimiters = Delimiters::of(self);
        self.field(n)
            .repetitions()
            .filter(|r| !delimiters.blank(r))
            .collect()
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
        let delimiters = Delimiters::of(self);
        self.field(n).repetitions().any(|r| !delimiters.blank(&r))
    }
}

/// A segment's component and subcomponent separators, for [`Delimiters::blank`].
struct Delimiters {
    component: char,
    subcomponent: char,
}

impl Delimiters {
    fn of(seg: &Segment<'_>) -> Self {
        let encoding = seg.encoding();
        Delimiters {
            component: encoding.component_separator(),
            subcomponent: encoding.subcomponent_separator(),
        }
    }

    /// [`RepExt::blank`], answered at the first character when it is visible ASCII text (no
    /// separator, no quote): its subcomponent then has a value. Nearly every repetition
    /// starts so, and the full check walks every component and subcomponent.
    fn blank(&self, rep: &Rep<'_>) -> bool {
        match rep.raw().chars().next() {
            Some(c)
                if c.is_ascii_graphic()
                    && c != '"'
                    && c != self.component
                    && c != self.subcomponent =>
            {
                false
            }
            _ => rep.blank(),
        }
    }
}

/// How many components [`Parts`] keeps split; the data types mapped read up to XCN-13 and
/// XPN-15, and a component beyond this is still found (by scanning), just not cached.
const SPLIT_COMPONENTS: usize = 16;

/// A repetition split into its components once.
///
/// `Rep::component(n)` scans the repetition from its start on every call, and the data type
/// mappings read a dozen components of the same repetition: splitting once and indexing made
/// those reads the cheapest part of a data type instead of the dearest.
#[derive(Clone, Copy)]
pub struct Parts<'a> {
    rep: Rep<'a>,
    comps: [Comp<'a>; SPLIT_COMPONENTS],
    len: usize,
    /// What an absent component reads as.
    empty: Comp<'a>,
}

impl<'a> Parts<'a> {
    pub fn new(rep: &Rep<'a>) -> Self {
        // Component 0 does not exist: an empty component with the repetition's delimiters.
        let empty = rep.component(0);
        let mut comps = [empty; SPLIT_COMPONENTS];
        let mut len = 0;
        for (slot, comp) in comps.iter_mut().zip(rep.components()) {
            *slot = comp;
            len += 1;
        }
        Parts {
            rep: *rep,
            comps,
            len,
            empty,
        }
    }

    /// Component `n`, 1-based, as [`Rep::component`] returns it.
    pub fn component(&self, n: usize) -> Comp<'a> {
        match n.checked_sub(1) {
            Some(i) if i < self.len => self.comps[i],
            // All slots used: there may be more components than were split.
            Some(_) if self.len == SPLIT_COMPONENTS => self.rep.component(n),
            _ => self.empty,
        }
    }
}

impl<'a> RepExt<'a> for Parts<'a> {
    fn c(&self, n: usize) -> Cow<'a, str> {
        clean(self.component(n).value())
    }

    fn s(&self, n: usize, s: usize) -> Cow<'a, str> {
        clean(self.component(n).sub_value(s))
    }

    fn text(&self) -> Cow<'a, str> {
        self.rep.text()
    }

    fn blank(&self) -> bool {
        self.comps[..self.len]
            .iter()
            .all(|c| c.subs().all(|s| trim(s).is_empty() || s == "\"\""))
            && (self.len < SPLIT_COMPONENTS || self.rep.blank())
    }
}
