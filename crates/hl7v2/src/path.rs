//! The small path language of [`crate::Message::get`] and [`crate::Segment::get`].

/// A position inside a segment; every number 1-based.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FieldPath {
    pub(crate) field: usize,
    pub(crate) repetition: usize,
    pub(crate) component: usize,
    pub(crate) subcomponent: usize,
}

/// Splits `PID[2]-5.1` into the segment id, its occurrence (default 1) and the field part.
pub(crate) fn split_segment(path: &str) -> Option<(&str, usize, &str)> {
    let id = path.get(..3)?;
    let rest = path.get(3..)?;
    let (occurrence, rest) = bracketed(rest)?;
    let rest = rest.strip_prefix(['-', '.'])?;
    Some((id, occurrence.unwrap_or(1), rest))
}

/// Parses `5`, `5.2`, `5[2].1.3`: field, optional repetition in brackets, component,
/// subcomponent. Zero is refused everywhere (all numbers are 1-based) except for the field,
/// where 0 is the segment id.
pub(crate) fn parse_field_path(path: &str) -> Option<FieldPath> {
    let (field, rest) = number(path)?;
    let (repetition, rest) = bracketed(rest)?;
    let mut numbers = [1usize; 2];
    let mut rest = rest;
    for slot in &mut numbers {
        let Some(after_dot) = rest.strip_prefix('.') else {
            break;
        };
        let (n, after) = number(after_dot)?;
        *slot = n;
        rest = after;
    }
    let [component, subcomponent] = numbers;
    let repetition = repetition.unwrap_or(1);
    if !rest.is_empty() || repetition == 0 || component == 0 || subcomponent == 0 {
        return None;
    }
    Some(FieldPath {
        field,
        repetition,
        component,
        subcomponent,
    })
}

/// An optional `[n]` at the start of `s`.
fn bracketed(s: &str) -> Option<(Option<usize>, &str)> {
    let Some(inner) = s.strip_prefix('[') else {
        return Some((None, s));
    };
    let (n, rest) = number(inner)?;
    let rest = rest.strip_prefix(']')?;
    (n > 0).then_some((Some(n), rest))
}

/// Leading decimal digits of `s` (at least one, at most 6 so it cannot overflow).
fn number(s: &str) -> Option<(usize, &str)> {
    let len = s.bytes().take_while(u8::is_ascii_digit).count();
    if len == 0 || len > 6 {
        return None;
    }
    let (digits, rest) = s.split_at_checked(len)?;
    Some((digits.parse().ok()?, rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fp(field: usize, repetition: usize, component: usize, subcomponent: usize) -> FieldPath {
        FieldPath {
            field,
            repetition,
            component,
            subcomponent,
        }
    }

    #[test]
    fn field_paths() {
        assert_eq!(parse_field_path("5"), Some(fp(5, 1, 1, 1)));
        assert_eq!(parse_field_path("5.2"), Some(fp(5, 1, 2, 1)));
        assert_eq!(parse_field_path("5[2].1.3"), Some(fp(5, 2, 1, 3)));
        assert_eq!(parse_field_path("0"), Some(fp(0, 1, 1, 1)));
        for bad in [
            "", "x", "5.", "5.0", "5[0]", "5[1", "5.2.3.4", "5a", "9999999",
        ] {
            assert_eq!(parse_field_path(bad), None, "{bad}");
        }
    }

    #[test]
    fn segment_paths() {
        assert_eq!(split_segment("PID-5.1"), Some(("PID", 1, "5.1")));
        assert_eq!(split_segment("OBX[3].5"), Some(("OBX", 3, "5")));
        assert_eq!(split_segment("PID"), None);
        assert_eq!(split_segment("PI"), None);
        assert_eq!(split_segment("éé-1"), None);
        assert_eq!(split_segment("OBX[0]-5"), None);
    }
}
