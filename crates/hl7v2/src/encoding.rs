//! The delimiters of a message, read from MSH-1 and MSH-2 (or FHS/BHS-1 and -2).

use crate::error::{ErrorKind, ParseError};

/// The encoding characters of a message: field separator (MSH-1) and the component,
/// repetition, escape and subcomponent characters (MSH-2), plus the truncation character that
/// v2.7 added as a fifth MSH-2 character.
///
/// Every delimiter is a printable, non-alphanumeric ASCII character and all are distinct.
/// Being ASCII matters beyond the standard: an ASCII byte never occurs inside a multi-byte UTF-8
/// sequence, so the parser can split `&str` on delimiter bytes and every piece is valid text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Encoding {
    pub(crate) field: u8,
    pub(crate) component: u8,
    pub(crate) repetition: u8,
    pub(crate) escape: u8,
    pub(crate) subcomponent: u8,
    pub(crate) truncation: Option<u8>,
}

/// Something the parser tolerated instead of rejecting; see [`crate::Message::warnings`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Warning {
    /// MSH-2 (or FHS/BHS-2) held the backslash escape character twice in a row, as in
    /// `^~\\&`. No valid MSH-2 has the same character in the escape and subcomponent
    /// positions; this is what a message looks like after being copied out of a Java or JSON
    /// string literal, so it is read as `^~\&`. Only a doubled backslash is tolerated: any
    /// other repeated delimiter is an error.
    DoubledEscapeCharacter,
}

impl Default for Encoding {
    fn default() -> Self {
        Encoding::STANDARD
    }
}

impl Encoding {
    /// The delimiters almost every sender uses: `|^~\&`, no truncation character.
    pub const STANDARD: Encoding = Encoding {
        field: b'|',
        component: b'^',
        repetition: b'~',
        escape: b'\\',
        subcomponent: b'&',
        truncation: None,
    };

    /// Delimiters that never split nor decode anything: `\r` cannot occur inside a segment,
    /// since segments are cut at CR and LF. Used for MSH-1 and MSH-2, which hold delimiters
    /// themselves and must be read as they are.
    pub(crate) const LITERAL: Encoding = Encoding {
        field: b'\r',
        component: b'\r',
        repetition: b'\r',
        escape: b'\r',
        subcomponent: b'\r',
        truncation: None,
    };

    /// Builds an encoding from its characters, checking them as the parser does: each a
    /// printable non-alphanumeric ASCII character, all distinct.
    pub fn new(
        field: char,
        component: char,
        repetition: char,
        escape: char,
        subcomponent: char,
        truncation: Option<char>,
    ) -> Result<Encoding, ParseError> {
        let byte = |c: char| -> Result<u8, ParseError> {
            u8::try_from(c)
                .ok()
                .filter(|b| is_delimiter(*b))
                .ok_or_else(|| ParseError::new(ErrorKind::BadEncoding(NOT_A_DELIMITER)))
        };
        let enc = Encoding {
            field: byte(field)?,
            component: byte(component)?,
            repetition: byte(repetition)?,
            escape: byte(escape)?,
            subcomponent: byte(subcomponent)?,
            truncation: truncation.map(byte).transpose()?,
        };
        if enc.has_duplicates() {
            return Err(ParseError::new(ErrorKind::BadEncoding(DUPLICATE)));
        }
        Ok(enc)
    }

    /// Reads the encoding characters of a header segment (`MSH`, `FHS` or `BHS` and what
    /// follows, without the segment terminator). On failure, returns the reason and the HL7
    /// field number at fault (1 or 2).
    pub(crate) fn from_header(
        segment: &str,
    ) -> Result<(Encoding, Option<Warning>), (ErrorKind, usize)> {
        let bytes = segment.as_bytes();
        // "MSH|^~\&" is the shortest header that holds every delimiter.
        let Some(&field) = bytes.get(3) else {
            return Err((ErrorKind::HeaderTooShort, 1));
        };
        if !is_delimiter(field) {
            return Err((ErrorKind::BadEncoding(BAD_FIELD_SEPARATOR), 1));
        }
        let rest = bytes.get(4..).unwrap_or_default();
        let msh2_len = memchr::memchr(field, rest).unwrap_or(rest.len());
        let msh2 = rest.get(..msh2_len).unwrap_or_default();
        if msh2.len() < 4 && msh2_len == rest.len() && bytes.len() < 8 {
            return Err((ErrorKind::HeaderTooShort, 2));
        }
        let mut warning = None;
        let chars: [u8; 5] = match *msh2 {
            [c, r, e, s] => [c, r, e, s, 0],
            [c, r, b'\\', b'\\', s] => {
                warning = Some(Warning::DoubledEscapeCharacter);
                [c, r, b'\\', s, 0]
            }
            [c, r, e, s, t] => [c, r, e, s, t],
            _ => return Err((ErrorKind::BadEncoding(BAD_LENGTH), 2)),
        };
        let [component, repetition, escape, subcomponent, truncation] = chars;
        let enc = Encoding {
            field,
            component,
            repetition,
            escape,
            subcomponent,
            truncation: (truncation != 0).then_some(truncation),
        };
        let used = [component, repetition, escape, subcomponent];
        if !used
            .iter()
            .chain(enc.truncation.as_ref())
            .all(|b| is_delimiter(*b))
        {
            return Err((ErrorKind::BadEncoding(NOT_A_DELIMITER), 2));
        }
        if enc.has_duplicates() {
            return Err((ErrorKind::BadEncoding(DUPLICATE), 2));
        }
        Ok((enc, warning))
    }

    fn has_duplicates(&self) -> bool {
        let all = self.bytes();
        let n = if self.truncation.is_some() { 6 } else { 5 };
        let all = all.get(..n).unwrap_or_default();
        all.iter()
            .enumerate()
            .any(|(i, a)| all.iter().skip(i + 1).any(|b| a == b))
    }

    fn bytes(&self) -> [u8; 6] {
        [
            self.field,
            self.component,
            self.repetition,
            self.escape,
            self.subcomponent,
            self.truncation.unwrap_or(0),
        ]
    }

    /// The field separator (MSH-1), usually `|`.
    pub fn field_separator(&self) -> char {
        char::from(self.field)
    }

    /// The component separator, usually `^`.
    pub fn component_separator(&self) -> char {
        char::from(self.component)
    }

    /// The repetition separator, usually `~`.
    pub fn repetition_separator(&self) -> char {
        char::from(self.repetition)
    }

    /// The escape character, usually `\`.
    pub fn escape_character(&self) -> char {
        char::from(self.escape)
    }

    /// The subcomponent separator, usually `&`.
    pub fn subcomponent_separator(&self) -> char {
        char::from(self.subcomponent)
    }

    /// The truncation character (v2.7+, usually `#`), when MSH-2 has a fifth character.
    pub fn truncation_character(&self) -> Option<char> {
        self.truncation.map(char::from)
    }

    /// MSH-2 as it would be written: `^~\&`, or `^~\&#` with a truncation character.
    pub fn msh2(&self) -> String {
        let mut s = String::with_capacity(5);
        s.push(self.component_separator());
        s.push(self.repetition_separator());
        s.push(self.escape_character());
        s.push(self.subcomponent_separator());
        if let Some(t) = self.truncation_character() {
            s.push(t);
        }
        s
    }
}

const NOT_A_DELIMITER: &str = "each must be a printable, non-alphanumeric ASCII character";
const BAD_FIELD_SEPARATOR: &str =
    "the field separator must be a printable, non-alphanumeric ASCII character";
const BAD_LENGTH: &str = "MSH-2 must hold 4 characters (5 with the v2.7 truncation character)";
const DUPLICATE: &str = "the same character is used for two delimiters";

/// Whether a byte can serve as a delimiter: printable, non-alphanumeric ASCII. Space is not
/// printable in this sense and is refused: it occurs in ordinary values.
fn is_delimiter(b: u8) -> bool {
    b.is_ascii_graphic() && !b.is_ascii_alphanumeric()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(s: &str) -> Result<Encoding, ErrorKind> {
        Encoding::from_header(s).map(|(e, _)| e).map_err(|(k, _)| k)
    }

    #[test]
    fn standard_and_custom_delimiters() {
        assert_eq!(read("MSH|^~\\&|A").unwrap(), Encoding::STANDARD);
        let e = read("MSH#!~$&#X").unwrap();
        assert_eq!(e.field_separator(), '#');
        assert_eq!(e.component_separator(), '!');
        assert_eq!(e.repetition_separator(), '~');
        assert_eq!(e.escape_character(), '$');
        assert_eq!(e.subcomponent_separator(), '&');
        assert_eq!(e.truncation_character(), None);
        assert_eq!(e.msh2(), "!~$&");
    }

    #[test]
    fn truncation_character_of_v27() {
        let e = read("MSH|^~\\&#|A").unwrap();
        assert_eq!(e.truncation_character(), Some('#'));
        assert_eq!(e.msh2(), "^~\\&#");
    }

    #[test]
    fn header_without_more_fields() {
        assert_eq!(read("MSH|^~\\&").unwrap(), Encoding::STANDARD);
    }

    #[test]
    fn rejects_bad_encodings() {
        assert_eq!(read("MSH"), Err(ErrorKind::HeaderTooShort));
        assert_eq!(read("MSH|^~"), Err(ErrorKind::HeaderTooShort));
        assert_eq!(
            read("MSHA^~\\&|"),
            Err(ErrorKind::BadEncoding(BAD_FIELD_SEPARATOR))
        );
        assert_eq!(
            read("MSH ^~\\& "),
            Err(ErrorKind::BadEncoding(BAD_FIELD_SEPARATOR))
        );
        assert_eq!(
            read("MSH|^~|A|B|C"),
            Err(ErrorKind::BadEncoding(BAD_LENGTH))
        );
        assert_eq!(
            read("MSH|^~\\&#!|A"),
            Err(ErrorKind::BadEncoding(BAD_LENGTH))
        );
        assert_eq!(read("MSH|^^\\&|A"), Err(ErrorKind::BadEncoding(DUPLICATE)));
        assert_eq!(read("MSH|^~\\&^|A"), Err(ErrorKind::BadEncoding(DUPLICATE)));
        assert_eq!(
            read("MSH|^A\\&|A"),
            Err(ErrorKind::BadEncoding(NOT_A_DELIMITER))
        );
        assert_eq!(
            read("MSH|^~\\é|A"),
            Err(ErrorKind::BadEncoding(NOT_A_DELIMITER))
        );
        assert_eq!(read("MSH|^~&&#|A"), Err(ErrorKind::BadEncoding(DUPLICATE)));
    }

    #[test]
    fn field_separator_cannot_be_reused_in_msh2() {
        // The second '|' ends MSH-2 early, so MSH-2 is too short rather than duplicated.
        assert_eq!(read("MSH|^~|&|A"), Err(ErrorKind::BadEncoding(BAD_LENGTH)));
        assert!(Encoding::new('|', '^', '~', '\\', '|', None).is_err());
    }

    #[test]
    fn doubled_escape_is_tolerated_with_a_warning() {
        let (e, w) = Encoding::from_header("MSH|^~\\\\&|A").unwrap();
        assert_eq!(e, Encoding::STANDARD);
        assert_eq!(w, Some(Warning::DoubledEscapeCharacter));
    }

    #[test]
    fn new_checks_characters() {
        assert!(Encoding::new('|', '^', '~', '\\', '&', Some('#')).is_ok());
        assert!(Encoding::new('|', 'a', '~', '\\', '&', None).is_err());
        assert!(Encoding::new('|', 'é', '~', '\\', '&', None).is_err());
    }
}
