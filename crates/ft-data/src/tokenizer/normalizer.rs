//! BERT normalization: clean control characters and whitespace, space out CJK ideographs, strip
//! accents, lowercase — in that order, exactly as tokenizers' `normalizers/bert.rs` does.
//!
//! The character classes come from the same crates tokenizers uses (`unicode_categories`,
//! `unicode-normalization-alignments`), so both pipelines see the same Unicode version.
//!
//! Every normalized character remembers the original character it came from (its *alignment*,
//! as tokenizers' `NormalizedString` keeps one per byte), so that a token's offsets point at the
//! original text: `"É"` normalizes to `"e"`, whose alignment is the two bytes of `É`.

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

/// A normalized text, with the original byte range behind each of its bytes.
#[derive(Debug, Clone, Default)]
pub struct Normalized {
    text: String,
    /// For each byte of `text`: the byte range of the original character it came from. Empty when
    /// `identity`.
    alignments: Vec<(usize, usize)>,
    /// Byte `i` of `text` came from byte `i` of the original (ASCII text that lost no character).
    identity: bool,
    /// Scratch space of [`BertNormalizer::normalize`] (kept for its allocation): the text after
    /// cleaning and CJK spacing, and the original range of each of its *characters*.
    cleaned: String,
    cleaned_alignments: Vec<(usize, usize)>,
}

impl Normalized {
    /// The normalized text.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The original byte range behind the normalized bytes `start..end`: from the start of the
    /// first one's original character to the end of the last one's, as tokenizers'
    /// `NormalizedString::convert_offsets`. An empty or out-of-range span is returned as it is
    /// (tokenizers does the same; no token is empty).
    pub fn original(&self, start: usize, end: usize) -> (usize, usize) {
        if self.identity {
            return (start, end);
        }
        let last = end.checked_sub(1).and_then(|e| self.alignments.get(e));
        match (self.alignments.get(start), last) {
            (Some(first), Some(last)) if start < end => (first.0, last.1),
            _ => (start, end),
        }
    }
}

impl BertNormalizer {
    /// Normalizes `text` into `out` (replacing its contents); alignments are byte ranges of `text`.
    pub fn normalize(&self, text: &str, out: &mut Normalized) {
        let Normalized { text: normalized, alignments, identity, cleaned, cleaned_alignments } = out;
        normalized.clear();
        alignments.clear();
        cleaned.clear();
        cleaned_alignments.clear();
        // ASCII that keeps every character (most text) maps byte for byte: no CJK, nothing to
        // decompose, and lowercasing and whitespace mapping keep one byte per byte.
        *identity = text.is_ascii() && !(self.clean_text && text.chars().any(|c| c == '\0' || is_control(c)));
        if *identity {
            normalized.extend(text.chars().map(|c| {
                let c = if self.clean_text && is_whitespace(c) { ' ' } else { c };
                if self.lowercase { c.to_ascii_lowercase() } else { c }
            }));
            return;
        }
        for (i, c) in text.char_indices() {
            let range = (i, i + c.len_utf8());
            let mut push = |c: char| {
                cleaned.push(c);
                cleaned_alignments.push(range);
            };
            if self.clean_text {
                if c == '\0' || c == '\u{fffd}' || is_control(c) {
                    continue;
                }
                if is_whitespace(c) {
                    push(' ');
                    continue;
                }
            }
            // The spaces around an ideograph share its alignment, as in tokenizers.
            if self.handle_chinese_chars && is_chinese_char(c) {
                push(' ');
                push(c);
                push(' ');
            } else {
                push(c);
            }
        }
        // Every character a lowercase mapping yields keeps the alignment of the one it came from.
        let mut emit = |c: char, range: (usize, usize)| {
            let mut push = |c: char| {
                normalized.push(c);
                alignments.extend(std::iter::repeat_n(range, c.len_utf8()));
            };
            if self.lowercase {
                c.to_lowercase().for_each(&mut push);
            } else {
                push(c);
            }
        };
        // Stripping happens before lowercasing (tokenizers' order, unlike the old Python BertTokenizer).
        if self.strip_accents {
            // NFD reports each output character with a `change`, which tokenizers'
            // `NormalizedString::transform` turns into alignments: a character that replaces the
            // next input character (and drops `-change` more after it, when negative) takes that
            // input character's alignment; an inserted one (`change > 0`, a decomposition's tail)
            // takes the alignment of the input character before it.
            let mut next: usize = 0; // the next character of `cleaned` the decomposition consumes
            let fallback = (text.len(), text.len());
            for (c, change) in cleaned.as_str().nfd() {
                let range = if change > 0 {
                    next.checked_sub(1).and_then(|p| cleaned_alignments.get(p)).copied().unwrap_or((0, 0))
                } else {
                    let range = cleaned_alignments.get(next).copied().unwrap_or(fallback);
                    next += 1 + change.unsigned_abs();
                    range
                };
                // Dropping marks leaves the kept characters' alignments as they are (tokenizers' `filter`).
                if !c.is_mark_nonspacing() {
                    emit(c, range);
                }
            }
        } else {
            for (c, &range) in cleaned.chars().zip(cleaned_alignments.iter()) {
                emit(c, range);
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
        let mut out = Normalized::default();
        n.normalize(s, &mut out);
        out.as_str().to_string()
    }

    /// Each normalized character with the original text behind it.
    fn aligned(n: BertNormalizer, s: &str) -> Vec<(char, &str)> {
        let mut out = Normalized::default();
        n.normalize(s, &mut out);
        let text = out.as_str();
        text.char_indices()
            .map(|(i, c)| {
                let (a, b) = out.original(i, i + c.len_utf8());
                (c, &s[a..b])
            })
            .collect()
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
    fn alignments_point_at_the_original_characters() {
        assert_eq!(aligned(UNCASED, "Ça\u{7}\tÉ"), [('c', "Ç"), ('a', "a"), (' ', "\t"), ('e', "É")]);
        assert_eq!(aligned(UNCASED, "e\u{301}x"), [('e', "e"), ('x', "x")], "a dropped mark leaves no trace");
        assert_eq!(aligned(UNCASED, "中"), [(' ', "中"), ('中', "中"), (' ', "中")]);
        let cased = BertNormalizer { strip_accents: false, ..UNCASED };
        assert_eq!(aligned(cased, "İ"), [('i', "İ"), ('\u{307}', "İ")], "both characters of a lowercase expansion");
        let mut out = Normalized::default();
        UNCASED.normalize("Ab\u{0}C", &mut out);
        assert_eq!((out.as_str(), out.original(0, 3), out.original(2, 3)), ("abc", (0, 4), (3, 4)));
        // The ASCII shortcut (nothing removed) and the general path (\x0b removed) agree.
        UNCASED.normalize("Ab\tC", &mut out);
        assert_eq!((out.as_str(), out.original(1, 3)), ("ab c", (1, 3)));
        UNCASED.normalize("Ab\tC\x0b", &mut out);
        assert_eq!((out.as_str(), out.original(1, 3)), ("ab c", (1, 3)));
        assert_eq!(aligned(UNCASED, "A\tB"), [('a', "A"), (' ', "\t"), ('b', "B")]);
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
