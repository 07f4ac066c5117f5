//! Special tokens written literally in the input (`[MASK]`, `[SEP]`, …) are matched on the raw text
//! before normalization, leftmost-longest, as tokenizers' `AddedVocabulary` does for tokens with
//! `normalized: false`; the rest of the text goes through the normal pipeline piece by piece. Each
//! piece comes with its byte range in the text, which offsets are counted from.

use std::ops::Range;

/// A piece of the input: plain text, or a special token's id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Piece<'a> {
    /// Text to normalize and tokenize.
    Text(&'a str),
    /// A special token matched literally.
    Special(u32),
}

/// The special tokens matched in raw text.
#[derive(Debug, Clone, Default)]
pub struct SpecialMatcher {
    /// `(content, id)`, longest first so that the first match at a position is the longest.
    tokens: Vec<(String, u32)>,
    first_bytes: Vec<u8>,
}

impl SpecialMatcher {
    /// A matcher for `(content, id)` pairs (empty contents are ignored).
    pub fn new(tokens: impl IntoIterator<Item = (String, u32)>) -> Self {
        let mut tokens: Vec<(String, u32)> = tokens.into_iter().filter(|(t, _)| !t.is_empty()).collect();
        tokens.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then_with(|| a.0.cmp(&b.0)));
        tokens.dedup_by(|a, b| a.0 == b.0);
        let mut first_bytes: Vec<u8> = tokens.iter().map(|(t, _)| t.as_bytes()[0]).collect();
        first_bytes.sort_unstable();
        first_bytes.dedup();
        Self { tokens, first_bytes }
    }

    /// Calls `piece` with each piece of `text` and its byte range, in order; empty text pieces are
    /// skipped.
    pub fn split<'a>(&self, text: &'a str, mut piece: impl FnMut(Range<usize>, Piece<'a>)) {
        let bytes = text.as_bytes();
        let mut start = 0;
        let mut i = 0;
        while i < bytes.len() {
            if self.first_bytes.binary_search(&bytes[i]).is_ok()
                && let Some((t, id)) = self.tokens.iter().find(|(t, _)| bytes[i..].starts_with(t.as_bytes()))
            {
                if start < i {
                    piece(start..i, Piece::Text(&text[start..i]));
                }
                piece(i..i + t.len(), Piece::Special(*id));
                i += t.len();
                start = i;
                continue;
            }
            i += 1;
        }
        if start < bytes.len() {
            piece(start..bytes.len(), Piece::Text(&text[start..]));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(s: &str) -> Vec<(Range<usize>, Piece<'_>)> {
        let m = SpecialMatcher::new([("[SEP]".to_string(), 3), ("[MASK]".to_string(), 4), ("[MASK]]".to_string(), 9)]);
        let mut v = Vec::new();
        m.split(s, |range, p| v.push((range, p)));
        v
    }

    #[test]
    fn table() {
        use Piece::*;
        assert_eq!(split("a [SEP] b"), [(0..2, Text("a ")), (2..7, Special(3)), (7..9, Text(" b"))]);
        assert_eq!(split("x[MASK][SEP]"), [(0..1, Text("x")), (1..7, Special(4)), (7..12, Special(3))]);
        assert_eq!(split("[MASK]]"), [(0..7, Special(9))], "leftmost-longest");
        assert_eq!(split("[sep] [SEP"), [(0..10, Text("[sep] [SEP"))], "matching is exact, on the raw text");
        assert_eq!(split("é[SEP]é"), [(0..2, Text("é")), (2..7, Special(3)), (7..9, Text("é"))], "byte ranges");
        assert!(split("").is_empty());
    }
}
