//! Predictions per token → tag sequences per sentence, for seqeval (`ft_eval::tagging`).
//!
//! [`labelled_tags`] is run_ner's `compute_metrics`: from a `[B, T]` batch, keep the positions whose
//! label is not [`IGNORE_INDEX`] — one per word without `label_all_tokens`, every sub-token with it.
//! [`word_tags`] keeps one position per word (its first token) whatever `label_all_tokens` was, and
//! counts the words cut off by `max_len`, which neither list holds.

use super::IGNORE_INDEX;
use crate::{DataError, Examples};

/// True and predicted tags of a set of sentences, sentence by sentence.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TagSequences {
    /// The reference tags of each sentence.
    pub true_tags: Vec<Vec<String>>,
    /// The predicted tags of each sentence, as long as its reference.
    pub pred_tags: Vec<Vec<String>>,
    /// Words cut off by `max_len` in these sentences: in neither list (always 0 from
    /// [`labelled_tags`], which sees only the batch).
    pub words_cut: usize,
}

fn name<'a>(names: &'a [String], id: i64, what: &str) -> Result<&'a str, DataError> {
    usize::try_from(id)
        .ok()
        .and_then(|i| names.get(i))
        .map(String::as_str)
        .ok_or_else(|| DataError::Options(format!("{what} class id {id} is not one of the {} labels", names.len())))
}

/// run_ner's `compute_metrics` on one batch: `labels` and `predictions` are `[B, T]` row-major (the
/// batch's [`Labels::TokenClasses`](crate::Labels::TokenClasses) and the argmax of the logits); each
/// row gives the tags at its positions whose label is not [`IGNORE_INDEX`].
pub fn labelled_tags(
    labels: &[i64],
    predictions: &[i64],
    seq_len: usize,
    names: &[String],
) -> Result<TagSequences, DataError> {
    if labels.len() != predictions.len() || seq_len == 0 || !labels.len().is_multiple_of(seq_len) {
        return Err(DataError::Options(format!(
            "labels ({}) and predictions ({}) must both be [B, T] with T = {seq_len}",
            labels.len(),
            predictions.len()
        )));
    }
    let mut out = TagSequences::default();
    for (l_row, p_row) in labels.chunks(seq_len).zip(predictions.chunks(seq_len)) {
        let (mut t, mut p) = (Vec::new(), Vec::new());
        for (&l, &pred) in l_row.iter().zip(p_row) {
            if l != IGNORE_INDEX {
                t.push(name(names, l, "label")?.to_string());
                p.push(name(names, pred, "predicted")?.to_string());
            }
        }
        out.true_tags.push(t);
        out.pred_tags.push(p);
    }
    Ok(out)
}

/// Word-level tags of the examples `indices` of a split: `predictions` is `[B, T]` row-major over
/// those examples in that order (`T` = `seq_len`, the batch's padded length, at least each example's
/// length); each word is read at its first token.
pub fn word_tags(
    examples: &Examples,
    indices: &[u32],
    predictions: &[i64],
    seq_len: usize,
    names: &[String],
) -> Result<TagSequences, DataError> {
    if predictions.len() != indices.len() * seq_len {
        return Err(DataError::Options(format!(
            "predictions ({}) must be [B, T] = [{}, {seq_len}]",
            predictions.len(),
            indices.len()
        )));
    }
    let mut out = TagSequences::default();
    for (row, &i) in indices.iter().enumerate() {
        let i = i as usize;
        if examples.length(i) > seq_len {
            return Err(DataError::Options(format!(
                "example {i} has {} tokens, more than T = {seq_len}",
                examples.length(i)
            )));
        }
        let labels = examples.token_labels(i);
        let (mut t, mut p) = (Vec::new(), Vec::new());
        for &pos in examples.word_starts(i) {
            let pos = pos as usize;
            t.push(name(names, labels[pos], "label")?.to_string());
            p.push(name(names, predictions[row * seq_len + pos], "predicted")?.to_string());
        }
        out.true_tags.push(t);
        out.pred_tags.push(p);
        out.words_cut += examples.words_cut(i) as usize;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tagging::{align, b_to_i};
    use crate::{Encoding, LabelKind, LabelSpace};

    fn names() -> Vec<String> {
        ["B-PER", "I-PER", "O"].iter().map(|s| s.to_string()).collect()
    }

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn compute_metrics_keeps_labelled_positions() {
        // Two rows of T = 4: [CLS] Peter Black ##burn | [CLS] visits [SEP] pad.
        let labels = [-100, 0, 1, -100, -100, 2, -100, -100];
        let preds = [2, 0, 2, 1, 0, 2, 1, 1];
        let got = labelled_tags(&labels, &preds, 4, &names()).unwrap();
        assert_eq!(got.true_tags, [s(&["B-PER", "I-PER"]), s(&["O"])]);
        assert_eq!(got.pred_tags, [s(&["B-PER", "O"]), s(&["O"])]);
        assert!(labelled_tags(&labels, &[9; 8], 4, &names()).is_err(), "a class id past the labels");
        assert!(labelled_tags(&labels, &preds[..4], 4, &names()).is_err());
    }

    #[test]
    fn word_level_reads_first_tokens_even_with_label_all_tokens() {
        let space = LabelSpace { kind: LabelKind::TokenClasses, names: names() };
        let mut ex = Examples::new(100, 0, &space);
        // [CLS] Black ##burn visits [SEP]: words 0 (2 tokens) and 1, plus a third word cut off.
        let word_ids = vec![None, Some(0), Some(0), Some(1), None];
        let enc = Encoding { ids: vec![2, 10, 11, 12, 3], type_ids: vec![0; 5], word_ids, ..Encoding::default() };
        let aligned = align(&enc.word_ids, &[0, 2, 2], true, &b_to_i(&names()), true);
        assert_eq!(aligned.labels, [-100, 0, 1, 2, -100]);
        ex.push_tokens(&enc, &aligned);
        let batch = ex.collate(&[0], Some(8));
        let crate::Labels::TokenClasses(labels) = &batch.labels else { panic!("{:?}", batch.labels) };
        assert_eq!(labels, &[-100, 0, 1, 2, -100, -100, -100, -100]);
        let preds = [2, 0, 2, 2, 0, 0, 0, 0];
        let words = word_tags(&ex, &[0], &preds, 8, &names()).unwrap();
        assert_eq!((words.true_tags[0].clone(), words.pred_tags[0].clone()), (s(&["B-PER", "O"]), s(&["B-PER", "O"])));
        assert_eq!(words.words_cut, 1);
        // run_ner's way counts the sub-token too.
        let all = labelled_tags(labels, &preds, 8, &names()).unwrap();
        assert_eq!(all.true_tags[0], s(&["B-PER", "I-PER", "O"]));
        assert_eq!(all.pred_tags[0], s(&["B-PER", "O", "O"]));
    }
}
