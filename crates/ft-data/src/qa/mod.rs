//! Extractive question answering's inputs, as transformers' `run_qa.py` prepares them: a question and
//! its context become one encoding per context window ([`Tokenizer::encode_windows`]), and the answer
//! (character span in the context) becomes a start and an end token in each window ([`positions`]).

use crate::{DataError, Encoding, Tokenizer};

/// One window of a question's context, ready to train on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window {
    /// `[CLS] question [SEP] context window [SEP]`.
    pub encoding: Encoding,
    /// The example (question) it came from: transformers' `overflow_to_sample_mapping`.
    pub example: usize,
    /// Start token of the answer in this window; 0 ([CLS]) when the window does not hold all of it.
    pub start_position: usize,
    /// End token (inclusive) of the answer; 0 ([CLS]) as `start_position`.
    pub end_position: usize,
}

/// The start and end tokens of the answer `[start_char, end_char)` (characters of the context) in
/// `enc`, as `run_qa.py`'s `prepare_train_features`: `(0, 0)` — the `[CLS]` token — when there is no
/// answer (`None`) or the window's context does not cover all of it; else the last token starting at
/// or before `start_char` and the first token after which every token ends before `end_char`.
///
/// run_qa's scan for the start runs on past the window's context when the answer starts in its last
/// token (the `[SEP]` after it has offsets `(0, 0)`), and so labels the `[SEP]`: kept, for parity.
///
/// ```
/// use ft_data::qa::positions;
/// let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/tiny");
/// let tok = ft_data::Tokenizer::from_dir(&dir)?;
/// // [CLS] w ##h ##o ? [SEP] a ##b ##c ##d [SEP]: "bc" is characters 1..3 of the context.
/// let windows = tok.encode_windows("who?", "abcdefg", 11, 2)?;
/// assert_eq!(positions(&windows[0], Some((1, 3))), (7, 8));
/// assert_eq!(positions(&windows[2], Some((1, 3))), (0, 0), "not in the last window");
/// assert_eq!(positions(&windows[0], None), (0, 0));
/// # Ok::<(), ft_data::DataError>(())
/// ```
pub fn positions(enc: &Encoding, answer: Option<(usize, usize)>) -> (usize, usize) {
    const CLS: (usize, usize) = (0, 0);
    let Some((start_char, end_char)) = answer else { return CLS };
    let in_context = |i: &usize| enc.sequence_ids[*i] == Some(1);
    let (Some(first), Some(last)) = ((0..enc.len()).find(in_context), (0..enc.len()).rev().find(in_context)) else {
        return CLS;
    };
    let offsets = &enc.offsets;
    if !(offsets[first].0 <= start_char && offsets[last].1 >= end_char) {
        return CLS;
    }
    let mut start = first;
    while start < offsets.len() && offsets[start].0 <= start_char {
        start += 1;
    }
    let mut end = last;
    while offsets[end].1 >= end_char {
        // Stops inside the context: the first context token ends after a non-empty answer's start.
        if end == 0 {
            break;
        }
        end -= 1;
    }
    (start - 1, end + 1)
}

/// The windows of one question with its context and, for training, its answer (`answer_start`, in
/// characters of `context`, and the answer's text): `run_qa.py`'s `prepare_train_features` for one
/// example. Leading whitespace of the question is dropped first, as run_qa does.
pub fn windows(
    tokenizer: &Tokenizer,
    example: usize,
    question: &str,
    context: &str,
    answer: Option<(usize, &str)>,
    max_len: usize,
    stride: usize,
) -> Result<Vec<Window>, DataError> {
    let span = answer.map(|(start, text)| (start, start + text.chars().count()));
    Ok(tokenizer
        .encode_windows(question.trim_start(), context, max_len, stride)?
        .into_iter()
        .map(|encoding| {
            let (start_position, end_position) = positions(&encoding, span);
            Window { encoding, example, start_position, end_position }
        })
        .collect())
}
