//! BERT pre-tokenization: split on whitespace (removed) and on punctuation (kept, one character per
//! word), as tokenizers' `pre_tokenizers/bert.rs` does.

use unicode_categories::UnicodeCategories;

/// ASCII punctuation (including `$ + < = > ^ ` | ~`, which Unicode files as symbols) or Unicode P*.
pub(crate) fn is_bert_punctuation(c: char) -> bool {
    c.is_ascii_punctuation() || c.is_punctuation()
}

/// Calls `word` for each word of an already normalized `text`, in order.
pub fn for_each_word(text: &str, mut word: impl FnMut(&str)) {
    let mut start: Option<usize> = None;
    for (i, c) in text.char_indices() {
        if c.is_whitespace() || is_bert_punctuation(c) {
            if let Some(s) = start.take() {
                word(&text[s..i]);
            }
            if !c.is_whitespace() {
                word(&text[i..i + c.len_utf8()]);
            }
        } else if start.is_none() {
            start = Some(i);
        }
    }
    if let Some(s) = start {
        word(&text[s..]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<String> {
        let mut v = Vec::new();
        for_each_word(s, |w| v.push(w.to_string()));
        v
    }

    #[test]
    fn table() {
        // The example of tokenizers' own test, without offsets.
        assert_eq!(words("Hey friend!     How are you?!?"), ["Hey", "friend", "!", "How", "are", "you", "?", "!", "?"]);
        assert_eq!(words("don't"), ["don", "'", "t"]);
        assert_eq!(words("a$b+c~d"), ["a", "$", "b", "+", "c", "~", "d"]);
        assert_eq!(words("«x»—y"), ["«", "x", "»", "—", "y"]);
        assert_eq!(words("∑x"), ["∑x"], "math symbols (Sm) are not punctuation");
        assert!(words("   ").is_empty());
        assert!(words("").is_empty());
    }
}
