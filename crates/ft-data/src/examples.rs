//! [`Examples`]: a tokenized split kept compactly — all token ids in one flat buffer (`u16` when the
//! vocabulary fits, else `u32`), one byte per token type, offsets per example — plus the labels.
//! Texts are not kept: a 1 GB CSV costs about its token count × 3 bytes. Nor are the word ids,
//! offsets and special-tokens mask of an [`Encoding`]: sequence classification never reads them, and
//! token classification keeps only what it needs of them — a label per token (`i16`, parallel to the
//! ids) and the position of each word's first token, to map predictions back to words.

use crate::batch::{Batch, Labels};
use crate::labels::LabelSpace;
use crate::qa::{QaQuestion, Window};
use crate::tagging::{AlignedTags, IGNORE_INDEX};
use crate::tokenizer::Encoding;
use std::sync::Arc;

/// The offsets of a token outside the context (question and special tokens) in
/// [`ExampleLabels::Spans`].
const NOT_CONTEXT: (u32, u32) = (u32::MAX, u32::MAX);

/// Token ids, as narrow as the vocabulary allows.
#[derive(Debug, Clone, PartialEq, Eq)]
enum TokenIds {
    U16(Vec<u16>),
    U32(Vec<u32>),
}

impl TokenIds {
    fn len(&self) -> usize {
        match self {
            Self::U16(v) => v.len(),
            Self::U32(v) => v.len(),
        }
    }
}

/// The labels of every example of a split.
#[derive(Debug, Clone, PartialEq)]
pub enum ExampleLabels {
    /// One class id per example.
    Single(Vec<u32>),
    /// Class ids of example `i` are `ids[offsets[i]..offsets[i + 1]]`.
    Multi {
        /// Start of each example's ids, plus the end.
        offsets: Vec<u32>,
        /// All class ids.
        ids: Vec<u32>,
    },
    /// One target per example.
    Regression(Vec<f32>),
    /// Token classification: a label per token, parallel to the token ids (a class id or
    /// [`IGNORE_INDEX`]), and per example the positions of its words' first tokens.
    Tokens {
        /// A label per token of every example, flat like the ids.
        labels: Vec<i16>,
        /// Positions (within its example) of the first token of each word that kept a token.
        word_starts: Vec<u32>,
        /// Start of each example's `word_starts`, plus the end.
        word_offsets: Vec<u32>,
        /// Words of each example cut off by `max_len`.
        words_cut: Vec<u32>,
    },
    /// Extractive question answering: every example is one window of a question's context
    /// ([`crate::qa::windows`]).
    Spans {
        /// Start and end token of the answer in each window (`[0, 0]`, the `[CLS]` token, when the
        /// window does not hold it).
        positions: Vec<[u32; 2]>,
        /// The question (an index into `questions`) of each window: `overflow_to_sample_mapping`.
        window_question: Vec<u32>,
        /// Character offsets into the question's context of every token, flat like the ids
        /// (`(u32::MAX, u32::MAX)` outside the context); empty when not kept (training windows are
        /// never turned back into answers).
        offsets: Vec<(u32, u32)>,
        /// The questions the windows come from, with their contexts and gold answers.
        questions: Arc<Vec<QaQuestion>>,
    },
}

impl ExampleLabels {
    /// An empty store of the same kind.
    fn empty_like(&self) -> Self {
        match self {
            Self::Single(_) => Self::Single(Vec::new()),
            Self::Multi { .. } => Self::Multi { offsets: vec![0], ids: Vec::new() },
            Self::Regression(_) => Self::Regression(Vec::new()),
            Self::Tokens { .. } => Self::empty_tokens(),
            Self::Spans { questions, .. } => Self::Spans {
                positions: Vec::new(),
                window_question: Vec::new(),
                offsets: Vec::new(),
                questions: Arc::clone(questions),
            },
        }
    }

    fn empty_tokens() -> Self {
        Self::Tokens { labels: Vec::new(), word_starts: Vec::new(), word_offsets: vec![0], words_cut: Vec::new() }
    }
}

/// A tokenized split: ids, token types and labels, nothing else.
#[derive(Debug, Clone, PartialEq)]
pub struct Examples {
    ids: TokenIds,
    type_ids: Vec<u8>,
    offsets: Vec<usize>,
    labels: ExampleLabels,
    num_labels: usize,
    pad_id: u32,
}

impl Examples {
    /// An empty split; `vocab_size` decides the id width.
    pub fn new(vocab_size: usize, pad_id: u32, labels: &LabelSpace) -> Self {
        let ids =
            if vocab_size <= usize::from(u16::MAX) + 1 { TokenIds::U16(Vec::new()) } else { TokenIds::U32(Vec::new()) };
        let labels_store = match labels.kind {
            crate::LabelKind::SingleLabel => ExampleLabels::Single(Vec::new()),
            crate::LabelKind::MultiLabel => ExampleLabels::Multi { offsets: vec![0], ids: Vec::new() },
            crate::LabelKind::Regression => ExampleLabels::Regression(Vec::new()),
            crate::LabelKind::TokenClasses => ExampleLabels::empty_tokens(),
            crate::LabelKind::Spans => ExampleLabels::Spans {
                positions: Vec::new(),
                window_question: Vec::new(),
                offsets: Vec::new(),
                questions: Arc::new(Vec::new()),
            },
        };
        Self {
            ids,
            type_ids: Vec::new(),
            offsets: vec![0],
            labels: labels_store,
            num_labels: labels.num_labels(),
            pad_id,
        }
    }

    /// Appends one example. `classes` is used for single/multi-label splits, `value` for regression.
    ///
    /// An id too wide for the width chosen from `vocab_size` (a tokenizer whose ids exceed its
    /// vocabulary size) widens the storage to `u32` rather than failing.
    ///
    /// # Panics
    /// If the label does not match the split's kind (a bug in the caller, never user data).
    pub fn push(&mut self, enc: &Encoding, classes: &[u32], value: f32) {
        self.push_ids(enc);
        match &mut self.labels {
            ExampleLabels::Single(v) => v.push(classes[0]),
            ExampleLabels::Multi { offsets, ids } => {
                ids.extend_from_slice(classes);
                offsets.push(ids.len() as u32);
            }
            ExampleLabels::Regression(v) => v.push(value),
            ExampleLabels::Tokens { .. } => panic!("push on a token-classification split; use push_tokens"),
            ExampleLabels::Spans { .. } => panic!("push on a question-answering split; use from_windows"),
        }
    }

    /// A question-answering split: one example per window, labelled with its answer span, and the
    /// questions they come from (`window.example` indexes `questions`). With `keep_offsets`, the
    /// context offsets of every token are kept too, so that predictions can be turned back into
    /// answers ([`Examples::context_offsets`]); training windows do not need them.
    ///
    /// # Panics
    /// If a window names a question beyond `questions` (a bug in the caller, never user data).
    pub fn from_windows(
        vocab_size: usize,
        pad_id: u32,
        windows: &[Window],
        questions: Vec<QaQuestion>,
        keep_offsets: bool,
    ) -> Self {
        let space = LabelSpace { kind: crate::LabelKind::Spans, names: Vec::new() };
        let mut out = Self::new(vocab_size, pad_id, &space);
        let (mut positions, mut window_question, mut offsets) =
            (Vec::with_capacity(windows.len()), Vec::with_capacity(windows.len()), Vec::new());
        for w in windows {
            assert!(w.example < questions.len(), "window of question {} of {}", w.example, questions.len());
            out.push_ids(&w.encoding);
            positions.push([w.start_position as u32, w.end_position as u32]);
            window_question.push(w.example as u32);
            if keep_offsets {
                offsets.extend(
                    w.encoding
                        .offsets
                        .iter()
                        .zip(&w.encoding.sequence_ids)
                        .map(|(&(a, b), &s)| if s == Some(1) { (a as u32, b as u32) } else { NOT_CONTEXT }),
                );
            }
        }
        out.labels = ExampleLabels::Spans { positions, window_question, offsets, questions: Arc::new(questions) };
        out
    }

    /// Appends one tagged sentence: its tokens and their aligned labels (one per token of `enc`).
    ///
    /// # Panics
    /// If the split is not a token-classification split, or `tags` does not have one label per
    /// token (bugs in the caller, never user data).
    pub fn push_tokens(&mut self, enc: &Encoding, tags: &AlignedTags) {
        assert_eq!(tags.labels.len(), enc.len(), "one label per token");
        self.push_ids(enc);
        match &mut self.labels {
            ExampleLabels::Tokens { labels, word_starts, word_offsets, words_cut } => {
                // Class ids are below i16::MAX (checked when the label space is built).
                labels.extend(tags.labels.iter().map(|&l| l as i16));
                word_starts.extend_from_slice(&tags.word_starts);
                word_offsets.push(word_starts.len() as u32);
                words_cut.push(tags.words_cut);
            }
            _ => panic!("push_tokens on a sentence-level split; use push"),
        }
    }

    fn push_ids(&mut self, enc: &Encoding) {
        let narrow = enc.ids.iter().all(|&i| u16::try_from(i).is_ok());
        if let (TokenIds::U16(v), false) = (&self.ids, narrow) {
            self.ids = TokenIds::U32(v.iter().map(|&i| u32::from(i)).collect());
        }
        match &mut self.ids {
            // Every id fits: checked above.
            TokenIds::U16(v) => v.extend(enc.ids.iter().map(|&i| i as u16)),
            TokenIds::U32(v) => v.extend_from_slice(&enc.ids),
        }
        self.type_ids.extend_from_slice(&enc.type_ids);
        self.offsets.push(self.ids.len());
    }

    /// The same tokens with other labels (one per example, checked by the caller).
    pub(crate) fn with_labels(mut self, labels: ExampleLabels, num_labels: usize) -> Self {
        self.labels = labels;
        self.num_labels = num_labels;
        self
    }

    /// Number of examples.
    pub fn len(&self) -> usize {
        self.offsets.len() - 1
    }

    /// Whether there are no examples.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Tokens of example `i` (special tokens included).
    pub fn length(&self, i: usize) -> usize {
        self.offsets[i + 1] - self.offsets[i]
    }

    /// Tokens of every example, for the batch planner.
    pub fn lengths(&self) -> Vec<u32> {
        self.offsets.windows(2).map(|w| (w[1] - w[0]) as u32).collect()
    }

    /// Total tokens.
    pub fn total_tokens(&self) -> usize {
        self.ids.len()
    }

    /// Bytes held by ids, token types, offsets and labels.
    pub fn memory_bytes(&self) -> usize {
        let ids = match &self.ids {
            TokenIds::U16(v) => v.len() * 2,
            TokenIds::U32(v) => v.len() * 4,
        };
        let labels = match &self.labels {
            ExampleLabels::Single(v) => v.len() * 4,
            ExampleLabels::Multi { offsets, ids } => (offsets.len() + ids.len()) * 4,
            ExampleLabels::Regression(v) => v.len() * 4,
            ExampleLabels::Tokens { labels, word_starts, word_offsets, words_cut } => {
                labels.len() * 2 + (word_starts.len() + word_offsets.len() + words_cut.len()) * 4
            }
            ExampleLabels::Spans { positions, window_question, offsets, questions } => {
                positions.len() * 8
                    + window_question.len() * 4
                    + offsets.len() * 8
                    + questions
                        .iter()
                        .map(|q| q.id.len() + q.context.len() + q.answers.iter().map(String::len).sum::<usize>())
                        .sum::<usize>()
            }
        };
        ids + self.type_ids.len() + self.offsets.len() * std::mem::size_of::<usize>() + labels
    }

    /// The ids of example `i`, widened.
    pub fn ids(&self, i: usize) -> Vec<u32> {
        let r = self.offsets[i]..self.offsets[i + 1];
        match &self.ids {
            TokenIds::U16(v) => v[r].iter().map(|&x| u32::from(x)).collect(),
            TokenIds::U32(v) => v[r].to_vec(),
        }
    }

    /// The token types of example `i`.
    pub fn type_ids(&self, i: usize) -> &[u8] {
        &self.type_ids[self.offsets[i]..self.offsets[i + 1]]
    }

    /// The labels.
    pub fn labels(&self) -> &ExampleLabels {
        &self.labels
    }

    /// Number of classifier outputs (classes, or 1 for regression).
    pub fn num_labels(&self) -> usize {
        self.num_labels
    }

    /// The class ids of example `i` (empty for regression and token classification).
    pub fn classes(&self, i: usize) -> &[u32] {
        match &self.labels {
            ExampleLabels::Single(v) => std::slice::from_ref(&v[i]),
            ExampleLabels::Multi { offsets, ids } => &ids[offsets[i] as usize..offsets[i + 1] as usize],
            ExampleLabels::Regression(_) | ExampleLabels::Tokens { .. } | ExampleLabels::Spans { .. } => &[],
        }
    }

    /// Question answering: the questions the windows come from; empty for other splits.
    pub fn questions(&self) -> &[QaQuestion] {
        match &self.labels {
            ExampleLabels::Spans { questions, .. } => questions,
            _ => &[],
        }
    }

    /// Question answering: the question (an index into [`Examples::questions`]) of window `i`.
    pub fn window_question(&self, i: usize) -> Option<usize> {
        match &self.labels {
            ExampleLabels::Spans { window_question, .. } => window_question.get(i).map(|&q| q as usize),
            _ => None,
        }
    }

    /// Question answering: the answer's start and end token in window `i` (`(0, 0)` when the window
    /// does not hold it).
    pub fn span(&self, i: usize) -> Option<(usize, usize)> {
        match &self.labels {
            ExampleLabels::Spans { positions, .. } => positions.get(i).map(|p| (p[0] as usize, p[1] as usize)),
            _ => None,
        }
    }

    /// Question answering: the character offsets into its context of every token of window `i`
    /// (`None` outside the context), when they were kept ([`Examples::from_windows`]).
    pub fn context_offsets(&self, i: usize) -> Option<Vec<Option<(usize, usize)>>> {
        match &self.labels {
            ExampleLabels::Spans { offsets, .. } if !offsets.is_empty() => Some(
                offsets[self.offsets[i]..self.offsets[i + 1]]
                    .iter()
                    .map(|&o| (o != NOT_CONTEXT).then_some((o.0 as usize, o.1 as usize)))
                    .collect(),
            ),
            _ => None,
        }
    }

    /// Token classification: the label of each token of example `i` (a class id or
    /// [`IGNORE_INDEX`]); empty for sentence-level splits.
    pub fn token_labels(&self, i: usize) -> Vec<i64> {
        match &self.labels {
            ExampleLabels::Tokens { labels, .. } => {
                labels[self.offsets[i]..self.offsets[i + 1]].iter().map(|&l| i64::from(l)).collect()
            }
            _ => Vec::new(),
        }
    }

    /// Token classification: the position of the first token of each word of example `i` that kept
    /// a token; empty for sentence-level splits.
    pub fn word_starts(&self, i: usize) -> &[u32] {
        match &self.labels {
            ExampleLabels::Tokens { word_starts, word_offsets, .. } => {
                &word_starts[word_offsets[i] as usize..word_offsets[i + 1] as usize]
            }
            _ => &[],
        }
    }

    /// Token classification: words of example `i` cut off by `max_len`; 0 for sentence-level splits.
    pub fn words_cut(&self, i: usize) -> u32 {
        match &self.labels {
            ExampleLabels::Tokens { words_cut, .. } => words_cut[i],
            _ => 0,
        }
    }

    /// A stratification key per example: the class for single-label, 0 otherwise.
    pub(crate) fn strata(&self) -> Vec<u32> {
        match &self.labels {
            ExampleLabels::Single(v) => v.clone(),
            _ => vec![0; self.len()],
        }
    }

    /// A new split holding `indices`, in that order.
    pub fn select(&self, indices: &[u32]) -> Self {
        let mut out = Self {
            ids: match &self.ids {
                TokenIds::U16(_) => TokenIds::U16(Vec::new()),
                TokenIds::U32(_) => TokenIds::U32(Vec::new()),
            },
            type_ids: Vec::new(),
            offsets: vec![0],
            labels: self.labels.empty_like(),
            num_labels: self.num_labels,
            pad_id: self.pad_id,
        };
        for &i in indices {
            let i = i as usize;
            let r = self.offsets[i]..self.offsets[i + 1];
            match (&mut out.ids, &self.ids) {
                (TokenIds::U16(o), TokenIds::U16(s)) => o.extend_from_slice(&s[r.clone()]),
                (TokenIds::U32(o), TokenIds::U32(s)) => o.extend_from_slice(&s[r.clone()]),
                _ => unreachable!("same width by construction"),
            }
            out.type_ids.extend_from_slice(&self.type_ids[r.clone()]);
            out.offsets.push(out.ids.len());
            match (&mut out.labels, &self.labels) {
                (ExampleLabels::Single(o), ExampleLabels::Single(s)) => o.push(s[i]),
                (ExampleLabels::Multi { offsets, ids }, ExampleLabels::Multi { .. }) => {
                    ids.extend_from_slice(self.classes(i));
                    offsets.push(ids.len() as u32);
                }
                (ExampleLabels::Regression(o), ExampleLabels::Regression(s)) => o.push(s[i]),
                (
                    ExampleLabels::Tokens { labels, word_starts, word_offsets, words_cut },
                    ExampleLabels::Tokens { labels: s_labels, words_cut: s_cut, .. },
                ) => {
                    labels.extend_from_slice(&s_labels[r]);
                    word_starts.extend_from_slice(self.word_starts(i));
                    word_offsets.push(word_starts.len() as u32);
                    words_cut.push(s_cut[i]);
                }
                (
                    ExampleLabels::Spans { positions, window_question, offsets, .. },
                    ExampleLabels::Spans { positions: s_pos, window_question: s_q, offsets: s_off, .. },
                ) => {
                    positions.push(s_pos[i]);
                    window_question.push(s_q[i]);
                    if !s_off.is_empty() {
                        offsets.extend_from_slice(&s_off[r]);
                    }
                }
                _ => unreachable!("same kind by construction"),
            }
        }
        out
    }

    /// Pads the examples `indices` to the longest of them (rounded up to `pad_to_multiple_of`), right
    /// padding with the pad id, mask 0 and token type 0 — what HF's `DataCollatorWithPadding` does.
    pub fn collate(&self, indices: &[u32], pad_to_multiple_of: Option<usize>) -> Batch {
        let b = indices.len();
        let longest = indices.iter().map(|&i| self.length(i as usize)).max().unwrap_or(0);
        let t = match pad_to_multiple_of {
            Some(m) if m > 1 => longest.div_ceil(m) * m,
            _ => longest,
        };
        let mut input_ids = vec![i64::from(self.pad_id); b * t];
        let mut token_type_ids = vec![0i64; b * t];
        let mut attention_mask = vec![0i64; b * t];
        for (row, &i) in indices.iter().enumerate() {
            let i = i as usize;
            let r = self.offsets[i]..self.offsets[i + 1];
            let base = row * t;
            match &self.ids {
                TokenIds::U16(v) => {
                    for (k, &id) in v[r.clone()].iter().enumerate() {
                        input_ids[base + k] = i64::from(id);
                    }
                }
                TokenIds::U32(v) => {
                    for (k, &id) in v[r.clone()].iter().enumerate() {
                        input_ids[base + k] = i64::from(id);
                    }
                }
            }
            for (k, &tt) in self.type_ids[r.clone()].iter().enumerate() {
                token_type_ids[base + k] = i64::from(tt);
            }
            attention_mask[base..base + r.len()].fill(1);
        }
        let labels = match &self.labels {
            ExampleLabels::Single(v) => Labels::Classes(indices.iter().map(|&i| i64::from(v[i as usize])).collect()),
            ExampleLabels::Multi { .. } => {
                let c = self.num_labels;
                let mut hot = vec![0f32; b * c];
                for (row, &i) in indices.iter().enumerate() {
                    for &k in self.classes(i as usize) {
                        hot[row * c + k as usize] = 1.0;
                    }
                }
                Labels::MultiHot { values: hot, num_labels: c }
            }
            ExampleLabels::Regression(v) => Labels::Values(indices.iter().map(|&i| v[i as usize]).collect()),
            ExampleLabels::Tokens { labels, .. } => {
                // [B, T], padding ignored by the loss like the special tokens.
                let mut out = vec![IGNORE_INDEX; b * t];
                for (row, &i) in indices.iter().enumerate() {
                    let i = i as usize;
                    for (k, &l) in labels[self.offsets[i]..self.offsets[i + 1]].iter().enumerate() {
                        out[row * t + k] = i64::from(l);
                    }
                }
                Labels::TokenClasses(out)
            }
            ExampleLabels::Spans { positions, .. } => {
                Labels::Spans(indices.iter().flat_map(|&i| positions[i as usize].map(i64::from)).collect())
            }
        };
        Batch { input_ids, token_type_ids, attention_mask, batch_size: b, seq_len: t, labels }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::LabelKind;

    /// Only the ids and token types matter here: `Examples` keeps nothing else.
    fn enc(ids: &[u32], first: usize) -> Encoding {
        let type_ids = (0..ids.len()).map(|k| u8::from(k >= first)).collect();
        Encoding { ids: ids.to_vec(), type_ids, ..Encoding::default() }
    }

    #[test]
    fn collate_pads_right_with_mask_zero() {
        let space = LabelSpace { kind: LabelKind::SingleLabel, names: vec!["a".into(), "b".into()] };
        let mut ex = Examples::new(100, 0, &space);
        ex.push(&enc(&[2, 7, 3], 3), &[1], 0.0);
        ex.push(&enc(&[2, 8, 3, 9, 3], 3), &[0], 0.0);
        let b = ex.collate(&[0, 1], None);
        assert_eq!((b.batch_size, b.seq_len), (2, 5));
        assert_eq!(b.input_ids, [2, 7, 3, 0, 0, 2, 8, 3, 9, 3]);
        assert_eq!(b.token_type_ids, [0, 0, 0, 0, 0, 0, 0, 0, 1, 1]);
        assert_eq!(b.attention_mask, [1, 1, 1, 0, 0, 1, 1, 1, 1, 1]);
        assert_eq!(b.labels, Labels::Classes(vec![1, 0]));
        let b = ex.collate(&[0], Some(8));
        assert_eq!(b.seq_len, 8);
        assert_eq!(b.input_ids, [2, 7, 3, 0, 0, 0, 0, 0]);
    }

    #[test]
    fn wide_vocabularies_use_u32_and_select_copies() {
        let space = LabelSpace { kind: LabelKind::MultiLabel, names: vec!["x".into(), "y".into(), "z".into()] };
        let mut ex = Examples::new(100_000, 0, &space);
        ex.push(&enc(&[101, 70_000, 102], 3), &[0, 2], 0.0);
        ex.push(&enc(&[101, 102], 2), &[], 0.0);
        assert_eq!(ex.ids(0), [101, 70_000, 102]);
        let sel = ex.select(&[1, 0]);
        assert_eq!(sel.ids(1), [101, 70_000, 102]);
        let b = sel.collate(&[0, 1], None);
        assert_eq!(b.labels, Labels::MultiHot { values: vec![0.0, 0.0, 0.0, 1.0, 0.0, 1.0], num_labels: 3 });
        assert_eq!(ex.memory_bytes(), 5 * 4 + 5 + 3 * std::mem::size_of::<usize>() + (3 + 2) * 4);
    }

    /// Regression: a tokenizer emitting ids past its vocabulary size panicked in `push`.
    #[test]
    fn an_id_wider_than_the_vocabulary_widens_the_storage() {
        let space = LabelSpace { kind: LabelKind::SingleLabel, names: vec!["a".into()] };
        let mut ex = Examples::new(100, 0, &space);
        ex.push(&enc(&[2, 7, 3], 3), &[0], 0.0);
        ex.push(&enc(&[2, 70_000, 3], 3), &[0], 0.0);
        assert_eq!((ex.ids(0), ex.ids(1)), (vec![2, 7, 3], vec![2, 70_000, 3]));
        assert_eq!(ex.collate(&[1], None).input_ids, [2, 70_000, 3]);
    }
}
