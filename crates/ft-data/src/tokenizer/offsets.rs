//! Byte offsets → character offsets. Both pipelines find a token's text as a byte range of the
//! original string; [`Encoding::offsets`](super::Encoding::offsets) are in characters, as Python
//! `tokenizers` gives them (its binding encodes with `OffsetType::Char`, whose `BytesToCharOffsetConverter`
//! maps the byte where a character starts to that character's index).

/// Rewrites `offsets`, byte ranges of `text` on character boundaries, as character ranges.
///
/// Linear in `text` when the offsets come in order (they do, up to a few steps back inside one
/// word), and free for ASCII text, where bytes are characters.
pub fn bytes_to_chars(text: &str, offsets: &mut [(usize, usize)]) {
    if text.is_ascii() {
        return;
    }
    let (mut starts, mut ends) = (CharCounter::new(text), CharCounter::new(text));
    for (start, end) in offsets.iter_mut() {
        *start = starts.chars_before(*start);
        *end = ends.chars_before(*end);
    }
}

/// Counts the characters before a byte position, resuming from the last position asked for.
struct CharCounter<'a> {
    bytes: &'a [u8],
    byte: usize,
    chars: usize,
}

impl<'a> CharCounter<'a> {
    fn new(text: &'a str) -> Self {
        Self { bytes: text.as_bytes(), byte: 0, chars: 0 }
    }

    /// The number of characters that start before byte `at` (its character index on a boundary).
    fn chars_before(&mut self, at: usize) -> usize {
        let at = at.min(self.bytes.len());
        if at < self.byte {
            (self.byte, self.chars) = (0, 0);
        }
        // A character starts at every byte that is not a UTF-8 continuation byte (0b10xx_xxxx).
        self.chars += self.bytes[self.byte..at].iter().filter(|&&b| (b as i8) >= -0x40).count();
        self.byte = at;
        self.chars
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chars(text: &str, offsets: &[(usize, usize)]) -> Vec<(usize, usize)> {
        let mut v = offsets.to_vec();
        bytes_to_chars(text, &mut v);
        v
    }

    #[test]
    fn table() {
        // "😀 café 中": 😀 is 4 bytes, é 2, 中 3.
        let text = "😀 café 中";
        assert_eq!(
            chars(text, &[(0, 4), (5, 8), (8, 10), (5, 10), (11, 14), (0, 0)]),
            [(0, 1), (2, 5), (5, 6), (2, 6), (7, 8), (0, 0)]
        );
        assert_eq!(chars("abc", &[(0, 3), (1, 2)]), [(0, 3), (1, 2)], "ASCII: bytes are characters");
    }

    #[test]
    fn going_back_restarts_the_count() {
        // Two word pieces of one original character ("İ" lowercased to "i" + U+0307 when accents stay).
        assert_eq!(chars("éİé", &[(2, 4), (2, 4), (0, 2), (4, 6)]), [(1, 2), (1, 2), (0, 1), (2, 3)]);
    }

    #[test]
    fn past_the_end_or_inside_a_character_does_not_panic() {
        assert_eq!(chars("é", &[(1, 9)]), [(1, 1)]);
    }
}
