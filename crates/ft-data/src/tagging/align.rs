//! Word tags → one label per token, as transformers' `run_ner.py` (`tokenize_and_align_labels` with
//! `is_split_into_words=True`): the first token of each word gets the word's tag id, the special
//! tokens get [`IGNORE_INDEX`], and the other tokens of a word get [`IGNORE_INDEX`] too — or, with
//! `label_all_tokens`, the word's tag with `B-X` turned into `I-X` (`b_to_i_label`).

/// The label of a token the loss and the metrics skip (PyTorch's `CrossEntropyLoss` `ignore_index`).
pub const IGNORE_INDEX: i64 = -100;

/// run_ner's `b_to_i_label`: for each label id, the id of its `I-` form when it is a `B-` label whose
/// `I-` form (every `B-` in the name replaced by `I-`, as Python's `str.replace`) is a label too;
/// else the id itself.
pub fn b_to_i(names: &[String]) -> Vec<u32> {
    (0..names.len())
        .map(|i| {
            let name = &names[i];
            let target = name.starts_with("B-").then(|| name.replace("B-", "I-"));
            let found = target.and_then(|t| names.iter().position(|n| *n == t));
            u32::try_from(found.unwrap_or(i)).unwrap_or(u32::MAX)
        })
        .collect()
}

/// One sentence aligned: a label per token, and where its words start.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AlignedTags {
    /// A label per token: a class id or [`IGNORE_INDEX`].
    pub labels: Vec<i64>,
    /// The position of the first token of each word that kept a token, in word order.
    pub word_starts: Vec<u32>,
    /// Words of the sentence that gave no token: cut off at `max_len` (after the last token kept,
    /// when the sentence filled `max_len`).
    pub words_cut: u32,
    /// Words that gave no token although the sentence was not cut there (a word the normalizer
    /// empties, such as a lone U+200B): their tags are lost, as in run_ner.
    pub words_empty: u32,
}

/// Aligns the tag ids of a sentence's words (`word_labels[w]` for word `w`) to its tokens, whose words
/// are `word_ids` (an [`Encoding`](crate::Encoding)'s). `b_to_i` is [`b_to_i`] of the label names,
/// used with `label_all_tokens`; `truncated`: the encoding reached `max_len`.
pub fn align(
    word_ids: &[Option<u32>],
    word_labels: &[u32],
    label_all_tokens: bool,
    b_to_i: &[u32],
    truncated: bool,
) -> AlignedTags {
    let mut out = AlignedTags { labels: Vec::with_capacity(word_ids.len()), ..Default::default() };
    let mut previous: Option<u32> = None;
    let mut seen = vec![false; word_labels.len()];
    for (pos, &word) in word_ids.iter().enumerate() {
        let label = match word {
            None => IGNORE_INDEX,
            Some(w) => match word_labels.get(w as usize) {
                None => IGNORE_INDEX,
                Some(&id) if word != previous => {
                    seen[w as usize] = true;
                    out.word_starts.push(pos as u32);
                    i64::from(id)
                }
                Some(&id) if label_all_tokens => i64::from(b_to_i.get(id as usize).copied().unwrap_or(id)),
                Some(_) => IGNORE_INDEX,
            },
        };
        out.labels.push(label);
        previous = word;
    }
    let last_kept = seen.iter().rposition(|&s| s).map_or(0, |i| i + 1);
    let missing_before = seen[..last_kept].iter().filter(|&&s| !s).count() as u32;
    let after = (seen.len() - last_kept) as u32;
    if truncated {
        out.words_cut = after;
        out.words_empty = missing_before;
    } else {
        out.words_empty = missing_before + after;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn b_to_i_as_run_ner() {
        let n = names(&["B-LOC", "B-MISC", "I-LOC", "O", "B-B-X", "I-I-X", "B-Y"]);
        // B-MISC has no I-MISC; B-B-X becomes I-I-X (every "B-" replaced); B-Y has no I-Y.
        assert_eq!(b_to_i(&n), [2, 1, 2, 3, 5, 5, 6]);
    }

    #[test]
    fn first_sub_token_only_or_all() {
        // [CLS] Peter(1 token) Black ##burn(2) visits(1) [SEP]; tags B-PER I-PER O.
        let n = names(&["B-PER", "I-PER", "O"]);
        let word_ids = [None, Some(0), Some(1), Some(1), Some(2), None];
        let got = align(&word_ids, &[0, 1, 2], false, &b_to_i(&n), false);
        assert_eq!(got.labels, [-100, 0, 1, -100, 2, -100]);
        assert_eq!(got.word_starts, [1, 2, 4]);
        assert_eq!((got.words_cut, got.words_empty), (0, 0));
        // label_all_tokens: a B- word's other pieces become I-.
        let word_ids = [None, Some(0), Some(0), Some(1), Some(1), None];
        let got = align(&word_ids, &[0, 2], true, &b_to_i(&n), false);
        assert_eq!(got.labels, [-100, 0, 1, 2, 2, -100]);
    }

    #[test]
    fn cut_and_empty_words_are_counted() {
        // Words 0..5: word 1 gave no token; the sentence filled max_len after word 2.
        let word_ids = [None, Some(0), Some(2), None];
        let got = align(&word_ids, &[0, 0, 0, 0, 0], false, &[0], true);
        assert_eq!((got.words_cut, got.words_empty), (2, 1));
        let got = align(&word_ids, &[0, 0, 0, 0, 0], false, &[0], false);
        assert_eq!((got.words_cut, got.words_empty), (0, 3));
    }
}
