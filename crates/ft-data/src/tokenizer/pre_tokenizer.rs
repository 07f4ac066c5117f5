//! BERT pre-tokenization: split on whitespace (removed) and on punctuation (kept, one character per
//! word), as tokenizers' `pre_tokenizers/bert.rs` does. Each word comes with its byte offset, which
//! word ids and offsets are built from.

use unicode_categories::UnicodeCategories;

/// ASCII punctuation (including `$ + < = > ^ ` | ~`, which Unicode files as symbols) or Unicode P*.
pub(crate) fn is_bert_punctuation(c: char) -> bool {
    c.is_ascii_punctuation() || c.is_punctuation()
}

/// Calls `word(start, word)` for each word of an already normalized `text`, in order; `start` is
/// the word's byte offset in `text`.
pub fn for_each_word(text: &str, mut word: impl FnMut(usize, &str)) {
    let mut start: Option<usize> = None;
    for (i, c) in text.char_indices() {
        if c.is_whitespace() || is_bert_punctuation(c) {
            if let Some(s) = start.take() {
                word(s, &text[s..i]);
            }
            if !c.is_whitespace() {
                word(i, &text[i..i + c.len_utf8()]);
            }
        } else if start.is_none() {
            start = Some(i);
        }
    }
    if let Some(s) = start {
        word(s, &text[s..]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<(&str, (usize, usize))> {
        let mut v = Vec::new();
        for_each_word(s, |start, w| v.push((start, start + w.len())));
        v.into_iter().map(|(a, b)| (&s[a..b], (a, b))).collect()
    }

    #[test]
    fn table() {
        // The example of tokenizers' own test, with its offsets.
        assert_eq!(
            words("Hey friend!     How are you?!?"),
            [
                ("Hey", (0, 3)),
                ("friend", (4, 10)),
                ("!", (10, 11)),
                ("How", (16, 19)),
                ("are", (20, 23)),
                ("you", (24, 27)),
                ("?", (27, 28)),
                ("!", (28, 29)),
                ("?", (29, 30)),
            ]
        );
        assert_eq!(words("don't"), [("don", (0, 3)), ("'", (3, 4)), ("t", (4, 5))]);
        let plain = |s| words(s).into_iter().map(|(w, _)| w).collect::<Vec<_>>();
        assert_eq!(plain("a$b+c~d"), ["a", "$", "b", "+", "c", "~", "d"]);
        assert_eq!(words("«x»—y"), [("«", (0, 2)), ("x", (2, 3)), ("»", (3, 5)), ("—", (5, 8)), ("y", (8, 9))]);
        assert_eq!(plain("∑x"), ["∑x"], "math symbols (Sm) are not punctuation");
        assert!(words("   ").is_empty());
        assert!(words("").is_empty());
    }
}
