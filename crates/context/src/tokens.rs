//! Counting tokens with the encodings OpenAI's models use (tiktoken's `o200k_base`, `cl100k_base`),
//! carried in the binary: no download at run time.

use std::sync::OnceLock;

use tiktoken_rs::CoreBPE;

/// A tokenizer by its tiktoken name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Tokenizer {
    #[default]
    O200kBase,
    Cl100kBase,
}

static O200K: OnceLock<Option<CoreBPE>> = OnceLock::new();
static CL100K: OnceLock<Option<CoreBPE>> = OnceLock::new();

impl Tokenizer {
    /// `o200k_base` or `cl100k_base`.
    pub fn parse(name: &str) -> Option<Tokenizer> {
        match name {
            "o200k_base" => Some(Tokenizer::O200kBase),
            "cl100k_base" => Some(Tokenizer::Cl100kBase),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Tokenizer::O200kBase => "o200k_base",
            Tokenizer::Cl100kBase => "cl100k_base",
        }
    }

    /// The encoding, built once per process (building it takes a noticeable fraction of a
    /// second; counting is then fast). `None` only if the embedded table is corrupt.
    fn encoding(self) -> Option<&'static CoreBPE> {
        let cell = match self {
            Tokenizer::O200kBase => &O200K,
            Tokenizer::Cl100kBase => &CL100K,
        };
        cell.get_or_init(|| match self {
            Tokenizer::O200kBase => tiktoken_rs::o200k_base().ok(),
            Tokenizer::Cl100kBase => tiktoken_rs::cl100k_base().ok(),
        })
        .as_ref()
    }

    /// Build the encoding now (a server does this at start, so no request pays for it).
    pub fn warm(self) -> bool {
        self.encoding().is_some()
    }

    /// The number of tokens of `text`. Text that looks like a special token (`<|endoftext|>`)
    /// is counted as ordinary text, as a chat API treats message content.
    pub fn count(self, text: &str) -> Result<usize, crate::ContextError> {
        let encoding = self
            .encoding()
            .ok_or(crate::ContextError::Tokenizer(self.name()))?;
        Ok(encoding.encode_ordinary(text).len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_match_tiktoken() {
        // Values from tiktoken (Python) for the same strings.
        assert_eq!(Tokenizer::Cl100kBase.count("hello world").unwrap(), 2);
        assert_eq!(Tokenizer::O200kBase.count("hello world").unwrap(), 2);
        assert_eq!(Tokenizer::O200kBase.count("").unwrap(), 0);
        assert!(Tokenizer::O200kBase.count("<|endoftext|>").unwrap() > 1);
    }

    #[test]
    fn names_round_trip() {
        for t in [Tokenizer::O200kBase, Tokenizer::Cl100kBase] {
            assert_eq!(Tokenizer::parse(t.name()), Some(t));
        }
        assert_eq!(Tokenizer::parse("gpt2"), None);
    }
}
