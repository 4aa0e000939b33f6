//! Element paths: `birthDate`, `name[0].given[1]`, `code.coding[0].system`.
//!
//! A path is element names joined by `.`, each optionally followed by one `[n]` index. An
//! element with an index is an array; without one, an object or a value. Indices order the
//! elements of an array; they are not positions in the output, because arrays are compacted
//! (an element whose columns are all empty is left out and the next one moves up: FHIR arrays
//! have no holes).

/// The largest array index a path may use. Mappings name a handful of repetitions; a large
/// index is a typo, and this keeps the plan small.
pub const MAX_INDEX: u32 = 99;

/// The deepest path accepted (FHIR's deepest useful paths have 6 or 7 steps).
pub const MAX_DEPTH: usize = 12;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Key(String),
    Index(u32),
}

/// Parse a path into steps, or say what is wrong with it.
pub fn parse(path: &str) -> Result<Vec<Step>, String> {
    if path.is_empty() {
        return Err(
            "the path is empty: name an element, e.g. `birthDate` or `name[0].family`".into(),
        );
    }
    let mut steps = Vec::new();
    for (n, part) in path.split('.').enumerate() {
        let (name, index) = match part.find('[') {
            Some(open) => {
                let Some(inner) = part[open + 1..].strip_suffix(']') else {
                    return Err(format!(
                        "step {} `{part}`: an index is written `[n]` at the end of the step",
                        n + 1
                    ));
                };
                let index: u32 = match inner.parse() {
                    Ok(i) if inner.bytes().all(|b| b.is_ascii_digit()) => i,
                    _ => {
                        return Err(format!(
                            "step {} `{part}`: the index must be a number from 0 to {MAX_INDEX}",
                            n + 1
                        ))
                    }
                };
                if index > MAX_INDEX {
                    return Err(format!(
                        "step {} `{part}`: index {index} is larger than {MAX_INDEX}",
                        n + 1
                    ));
                }
                (&part[..open], Some(index))
            }
            None => (part, None),
        };
        if !is_element_name(name) {
            return Err(format!(
                "step {} `{part}`: `{name}` is not an element name (a letter, then letters, digits or `_`)",
                n + 1
            ));
        }
        if n == 0 && matches!(name, "resourceType" | "id" | "meta") {
            return Err(format!(
                "`{name}` is set by Salus (the type, the derived id and meta.source): use the table's `resource` and `id`"
            ));
        }
        steps.push(Step::Key(name.to_owned()));
        if let Some(i) = index {
            steps.push(Step::Index(i));
        }
    }
    if steps.len() > MAX_DEPTH {
        return Err(format!("the path is deeper than {MAX_DEPTH} steps"));
    }
    Ok(steps)
}

fn is_element_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    matches!(bytes.next(), Some(b) if b.is_ascii_alphabetic())
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// Steps back to the path's text (for messages).
pub fn display(steps: &[Step]) -> String {
    let mut out = String::new();
    for step in steps {
        match step {
            Step::Key(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(k);
            }
            Step::Index(i) => {
                out.push('[');
                out.push_str(&i.to_string());
                out.push(']');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_paths() {
        assert_eq!(
            parse("name[0].given[1]").unwrap(),
            vec![
                Step::Key("name".into()),
                Step::Index(0),
                Step::Key("given".into()),
                Step::Index(1)
            ]
        );
        assert_eq!(
            parse("birthDate").unwrap(),
            vec![Step::Key("birthDate".into())]
        );
        assert_eq!(
            display(&parse("code.coding[0].code").unwrap()),
            "code.coding[0].code"
        );
    }

    #[test]
    fn rejects_bad_paths() {
        for bad in [
            "",
            "name[",
            "name[x]",
            "name[-1]",
            "name[100]",
            "name[0]x",
            ".a",
            "a..b",
            "a b",
            "1abc",
            "id",
            "meta.source",
            "name[0][1]",
            "a[+1]",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
        let deep = vec!["a"; 13].join(".");
        assert!(parse(&deep).is_err());
    }
}
