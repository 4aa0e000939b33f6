//! Fitting the sections into a token budget, by priority, and rendering the messages.
//!
//! Sections are filled in priority order and the result is always a prefix of that order:
//! once a section cannot be shown whole, what is left of it becomes a summary line (when that
//! fits) and no lower section is started, so a lower-priority fact never displaces a higher
//! one. Items are priced one line at a time; the rendered messages are then counted exactly
//! and, should joining lines have cost a token more than their parts, items come off the end
//! until the count is within the budget.

use std::collections::HashSet;

use crate::sections::{summary_line, Clock, Draft, Item};
use crate::tokens::Tokenizer;
use crate::{CitedItem, ContextError, Message, Section};

/// Tokens kept free for a chat API's per-message framing (about 4 a message and 3 to prime the
/// reply, as OpenAI documents it), so that the messages fit the budget however they are sent.
pub const FRAMING_RESERVE: usize = 11;

/// What the fitting produced.
pub struct Fitted {
    pub sections: Vec<Section>,
    pub messages: Vec<Message>,
    pub token_count: usize,
    /// Resources the sections could have stated and do not (the budget, or an older value of a
    /// result shown by its latest).
    pub left_out: usize,
    /// Every resource cited.
    pub cited: Vec<String>,
}

/// The fixed text around the sections.
pub struct Frame<'a> {
    pub system: &'a str,
    pub header: &'a str,
}

/// A statement as the prompt shows it: the text, then its sources in brackets. A statement
/// about many resources (a summary line) shows its first and last source and how many there
/// are; the JSON `cite` keeps every one.
fn line_of(text: &str, cite: &[String]) -> String {
    match cite {
        [] => format!("- {text}\n"),
        [first, .., last] if cite.len() > MAX_CITES_SHOWN => {
            format!("- {text} [{first} … {last}, {} resources]\n", cite.len())
        }
        _ => format!("- {text} [{}]\n", cite.join(", ")),
    }
}

/// More sources than this on one line are abbreviated in the prompt.
const MAX_CITES_SHOWN: usize = 3;

fn line(item: &Item) -> String {
    line_of(&item.text, &item.cite)
}

fn heading(title: &str) -> String {
    format!("\n## {title}\n")
}

/// The user message: the header, then each section.
pub fn render_user(header: &str, sections: &[Section]) -> String {
    let mut out = String::from(header);
    for s in sections {
        out.push_str(&heading(&s.title));
        for i in &s.items {
            out.push_str(&line_of(&i.text, &i.cite));
        }
    }
    out
}

fn messages(frame: &Frame<'_>, sections: &[Section]) -> Vec<Message> {
    vec![
        Message {
            role: "system".into(),
            content: frame.system.to_owned(),
        },
        Message {
            role: "user".into(),
            content: render_user(frame.header, sections),
        },
    ]
}

fn count_messages(tokenizer: Tokenizer, messages: &[Message]) -> Result<usize, ContextError> {
    messages
        .iter()
        .map(|m| tokenizer.count(&m.content))
        .sum::<Result<usize, _>>()
}

fn cited_item(i: &Item) -> CitedItem {
    CitedItem {
        text: i.text.clone(),
        cite: i.cite.clone(),
    }
}

pub fn fit(
    drafts: &[Draft],
    frame: &Frame<'_>,
    tokenizer: Tokenizer,
    max_tokens: usize,
    clock: Clock,
) -> Result<Fitted, ContextError> {
    let fixed = tokenizer.count(frame.system)? + tokenizer.count(frame.header)? + FRAMING_RESERVE;
    if fixed > max_tokens {
        return Err(ContextError::BudgetTooSmall {
            max_tokens,
            needed: fixed,
        });
    }
    let mut remaining = max_tokens - fixed;
    let mut sections: Vec<Section> = Vec::new();
    for draft in drafts {
        if draft.items.is_empty() {
            continue;
        }
        let head = tokenizer.count(&heading(draft.title))?;
        let mut shown: Vec<CitedItem> = Vec::new();
        let mut used = 0;
        let limit = draft.cap.min(draft.items.len());
        let mut next = 0;
        while next < limit {
            let cost = tokenizer.count(&line(&draft.items[next]))?
                + if shown.is_empty() { head } else { 0 };
            if used + cost > remaining {
                break;
            }
            shown.push(cited_item(&draft.items[next]));
            used += cost;
            next += 1;
        }
        // The section is whole when every item is shown or summarised; otherwise no lower
        // section starts.
        let mut overflowed = next < limit;
        if let Some(summary) = summary_line(&draft.items[next..], draft.in_time, clock) {
            let cost = tokenizer.count(&line(&summary))? + if shown.is_empty() { head } else { 0 };
            if used + cost <= remaining {
                shown.push(cited_item(&summary));
                used += cost;
            } else {
                overflowed = true;
            }
        }
        remaining -= used;
        if !shown.is_empty() {
            sections.push(Section {
                title: draft.title.to_owned(),
                items: shown,
            });
        }
        if overflowed {
            break;
        }
    }

    // The exact count of what is sent.
    let mut rendered = messages(frame, &sections);
    let mut token_count = count_messages(tokenizer, &rendered)?;
    while token_count + FRAMING_RESERVE > max_tokens {
        let Some(last) = sections.last_mut() else {
            break;
        };
        last.items.pop();
        if last.items.is_empty() {
            sections.pop();
        }
        rendered = messages(frame, &sections);
        token_count = count_messages(tokenizer, &rendered)?;
    }

    let mut cited: Vec<String> = Vec::new();
    let mut seen = HashSet::new();
    for s in &sections {
        for i in &s.items {
            for c in &i.cite {
                if seen.insert(c.clone()) {
                    cited.push(c.clone());
                }
            }
        }
    }
    let mut candidates = HashSet::new();
    for d in drafts {
        for i in &d.items {
            candidates.extend(i.cite.iter().cloned());
        }
        candidates.extend(d.superseded.iter().cloned());
    }
    let left_out = candidates.difference(&seen).count();
    Ok(Fitted {
        sections,
        messages: rendered,
        token_count,
        left_out,
        cited,
    })
}
