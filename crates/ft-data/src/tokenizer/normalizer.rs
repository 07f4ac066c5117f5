//! BERT normalization: clean control characters and whitespace, space out CJK ideographs, strip
//! accents, lowercase — in that order, exactly as tokenizers' `normalizers/bert.rs` does.
//!
//! The character classes come from the same crates tokenizers uses (`unicode_categories`,
//! `unicode-normalization-alignments`), so both pipelines see the same Unicode version.

use unicode_categories::UnicodeCategories;
use unicode_normalization_alignments::UnicodeNormalization;

/// `\t`, `\n`, `\r` and everything Rust calls whitespace (`char::is_whitespace`).
pub(crate) fn is_whitespace(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r') || c.is_whitespace()
}

/// Control characters removed by `clean_text`: categories Cc, Cf, Co, except `\t \n \r` (whitespace).
pub(crate) fn is_control(c: char) -> bool {
    !matches!(c, '\t' | '\n' | '\r') && c.is_other()
}

/// The CJK ideograph blocks BERT splits one character per word (not kana, not Hangul).
pub(crate) fn is_chinese_char(c: char) -> bool {
    matches!(
        c as u32,
        0x4E00..=0x9FFF
            | 0x3400..=0x4DBF
            | 0x20000..=0x2A6DF
            | 0x2A700..=0x2B73F
            | 0x2B740..=0x2B81F
            | 0x2B920..=0x2CEAF
            | 0xF900..=0xFAFF
            | 0x2F800..=0x2FA1F
    )
}

/// The switches of HF's `BertNormalizer` (all on for uncased BERT).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BertNormalizer {
    /// Drop control characters, U+0000 and U+FFFD; map every whitespace character to a space.
    pub clean_text: bool,
    /// Put spaces around CJK ideographs so each becomes its own word.
    pub handle_chinese_chars: bool,
    /// NFD, then drop non-spacing marks (Mn).
    pub strip_accents: bool,
    /// Lowercase, character by character (`char::to_lowercase`, so a final Σ becomes σ, not ς).
    pub lowercase: bool,
}

impl BertNormalizer {
    /// Normalizes `text`, replacing the contents of `out`.
    pub fn normalize(&self, text: &str, out: &mut String) {
        out.clear();
        let mut cleaned = String::with_capacity(text.len() + 8);
        for c in text.chars() {
            if self.clean_text {
                if c == '\0' || c == '\u{fffd}' || is_control(c) {
                    continue;
                }
                if is_whitespace(c) {
                    cleaned.push(' ');
                    continue;
                }
            }
            if self.handle_chinese_chars && is_chinese_char(c) {
                cleaned.push(' ');
                cleaned.push(c);
                cleaned.push(' ');
            } else {
                cleaned.push(c);
            }
        }
        // Stripping happens before lowercasing (tokenizers' order, unlike the old Python BertTokenizer).
        let push_lower = |out: &mut String, c: char| {
            if self.lowercase {
                out.extend(c.to_lowercase());
            } else {
                out.push(c);
            }
        };
        if self.strip_accents {
            for (c, _) in cleaned.as_str().nfd() {
                if !c.is_mark_nonspacing() {
                    push_lower(out, c);
                }
            }
        } else {
            for c in cleaned.chars() {
                push_lower(out, c);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const UNCASED: BertNormalizer =
        BertNormalizer { clean_text: true, handle_chinese_chars: true, strip_accents: true, lowercase: true };

    fn norm(n: BertNormalizer, s: &str) -> String {
        let mut out = String::new();
        n.normalize(s, &mut out);
        out
    }

    #[test]
    fn table() {
        let cases = [
            ("Hello World", "hello world"),
            ("café NAÏVE", "cafe naive"),
            ("a\tb\nc\rd", "a b c d"),
            ("a\u{0}b\u{fffd}c\u{7}d", "abcd"),
            ("zero\u{200b}width", "zerowidth"),
            ("nel\u{85}x", "nelx"),
            ("nb\u{a0}sp", "nb sp"),
            ("中文", " 中  文 "),
            ("ΣΊΣΥΦΟΣ", "σισυφοσ"),
            ("İ", "i"),
            ("が", "か"),
            ("Ø", "ø"),
        ];
        for (input, expected) in cases {
            assert_eq!(norm(UNCASED, input), expected, "{input:?}");
        }
    }

    #[test]
    fn cased_keeps_accents_and_case() {
        let cased = BertNormalizer { strip_accents: false, lowercase: false, ..UNCASED };
        assert_eq!(norm(cased, "Café\tX"), "Café X");
    }

    #[test]
    fn chinese_ranges_edges() {
        assert!(is_chinese_char('\u{4e00}') && is_chinese_char('\u{9fff}') && is_chinese_char('\u{2b920}'));
        assert!(!is_chinese_char('\u{2b820}') && !is_chinese_char('\u{3007}') && !is_chinese_char('が'));
    }
}
