//! WordPiece: greedy longest-match-first split of one word into vocabulary pieces (`##` for pieces
//! that continue a word), the whole word becoming `[UNK]` when any part has no match — tokenizers'
//! `models/wordpiece/mod.rs`. Each piece comes with its byte range in the word; an `[UNK]` covers
//! the whole word.

use std::collections::HashMap;

/// A WordPiece vocabulary and its rules.
#[derive(Debug, Clone)]
pub struct WordPiece {
    vocab: HashMap<String, u32>,
    /// id → token (HF's `ids_to_tokens`: the inverse of `vocab`; an id whose line repeats a later
    /// token has none).
    tokens: Vec<Option<String>>,
    unk_id: u32,
    prefix: String,
    /// Longer words (in characters) are `[UNK]` outright.
    max_input_chars_per_word: usize,
}

impl WordPiece {
    /// A vocabulary with BERT's rules: prefix `##`, at most 100 characters per word.
    pub fn new(vocab: HashMap<String, u32>, unk_id: u32) -> Self {
        let size = vocab.values().map(|&id| id as usize + 1).max().unwrap_or(0);
        let mut tokens = vec![None; size];
        for (token, &id) in &vocab {
            tokens[id as usize] = Some(token.clone());
        }
        Self { vocab, tokens, unk_id, prefix: "##".into(), max_input_chars_per_word: 100 }
    }

    /// The token of an id, if the vocabulary has one.
    pub fn id_to_token(&self, id: u32) -> Option<&str> {
        self.tokens.get(id as usize)?.as_deref()
    }

    /// The id of a token, if the vocabulary has it.
    pub fn token_to_id(&self, token: &str) -> Option<u32> {
        self.vocab.get(token).copied()
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.vocab.len()
    }

    /// Whether the vocabulary is empty.
    pub fn is_empty(&self) -> bool {
        self.vocab.is_empty()
    }

    /// Appends the pieces of `word` to `out` as `(id, (start, end))`, byte offsets into `word`;
    /// `scratch` is a reusable buffer.
    pub fn tokenize(&self, word: &str, out: &mut Vec<(u32, (usize, usize))>, scratch: &mut String) {
        let unk = (self.unk_id, (0, word.len()));
        if word.chars().count() > self.max_input_chars_per_word {
            out.push(unk);
            return;
        }
        let mark = out.len();
        let mut start = 0;
        while start < word.len() {
            let mut end = word.len();
            let mut found = None;
            while start < end {
                let piece = &word[start..end];
                let id = if start == 0 {
                    self.vocab.get(piece)
                } else {
                    scratch.clear();
                    scratch.push_str(&self.prefix);
                    scratch.push_str(piece);
                    self.vocab.get(scratch.as_str())
                };
                if let Some(&id) = id {
                    found = Some(id);
                    break;
                }
                // Shorten by one character (not one byte).
                end -= piece.chars().next_back().map_or(1, char::len_utf8);
            }
            match found {
                Some(id) => {
                    out.push((id, (start, end)));
                    start = end;
                }
                None => {
                    out.truncate(mark);
                    out.push(unk);
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wp() -> WordPiece {
        let vocab = ["[UNK]", "un", "##believ", "##able", "a", "##b", "é"];
        WordPiece::new(vocab.iter().enumerate().map(|(i, t)| (t.to_string(), i as u32)).collect(), 0)
    }

    fn tokenize(w: &str) -> Vec<(u32, (usize, usize))> {
        let mut out = vec![(99, (9, 9))];
        wp().tokenize(w, &mut out, &mut String::new());
        out.remove(0);
        out
    }

    fn pieces(w: &str) -> Vec<u32> {
        tokenize(w).into_iter().map(|(id, _)| id).collect()
    }

    #[test]
    fn table() {
        assert_eq!(tokenize("unbelievable"), [(1, (0, 2)), (2, (2, 8)), (3, (8, 12))]);
        assert_eq!(tokenize("abbb"), [(4, (0, 1)), (5, (1, 2)), (5, (2, 3)), (5, (3, 4))]);
        assert_eq!(tokenize("é"), [(6, (0, 2))], "byte offsets");
        assert_eq!(tokenize("unx"), [(0, (0, 3))], "one unknown part makes the whole word [UNK]");
        assert_eq!(pieces("b"), [0], "a continuation piece cannot start a word");
        assert_eq!(tokenize("aa"), [(0, (0, 2))], "no `##a` in the vocabulary");
    }

    #[test]
    fn max_chars_per_word() {
        let mut v: Vec<u32> = vec![4];
        v.extend(std::iter::repeat_n(5, 99));
        assert_eq!(pieces(&format!("a{}", "b".repeat(99))), v, "100 characters are tokenized");
        assert_eq!(tokenize(&format!("a{}", "b".repeat(100))), [(0, (0, 101))], "101 characters are [UNK]");
        assert_eq!(tokenize(&"é".repeat(101)), [(0, (0, 202))], "characters, not bytes, are counted");
    }
}
