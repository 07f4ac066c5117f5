//! Extractive question answering's inputs, as transformers' `run_qa.py` prepares them: a question and
//! its context become one encoding per context window ([`Tokenizer::encode_windows`]), and the answer
//! (character span in the context) becomes a start and an end token in each window ([`positions`]).
//! [`read_split`] does it for a whole SQuAD file (JSON or JSON Lines): the windows are computed once,
//! in parallel, and kept as [`Examples`] — one example per window, with the questions alongside.

use crate::dataset::{DataOptions, SplitReport, note_skipped};
use crate::files::{QaExample, read_qa_file};
use crate::{DataError, Encoding, Examples, Tokenizer};
use rayon::prelude::*;
use std::path::Path;

/// run_qa.py's `doc_stride`: context tokens shared by consecutive windows.
pub const DEFAULT_DOC_STRIDE: usize = 128;

/// A question as kept for scoring: its id, its context and the texts of its gold answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QaQuestion {
    /// The question's id.
    pub id: String,
    /// The text answers are cut from.
    pub context: String,
    /// The gold answers' texts (SQuAD's dev set has several per question).
    pub answers: Vec<String>,
}

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

/// The questions of a QA file that can be trained on or scored: every question must have a gold
/// answer. Bad questions are errors, or (with `skip_bad_rows`) counted in the report.
pub fn read_questions(path: &Path, options: &DataOptions) -> Result<(Vec<QaExample>, SplitReport), DataError> {
    let mut report = SplitReport { path: path.to_path_buf(), ..Default::default() };
    let mut skipped = (0usize, Vec::new());
    let mut out = Vec::new();
    for row in read_qa_file(path, options.max_row_bytes)? {
        let row = row.and_then(|e| {
            if e.answers.is_empty() {
                Err(DataError::BadQa {
                    path: path.to_path_buf(),
                    at: e.at.clone(),
                    problem: format!(
                        "question {:?} has no gold answer; training and scoring need one (answers.text and answers.answer_start), or pass --skip-bad-rows",
                        e.id
                    ),
                })
            } else {
                Ok(e)
            }
        });
        match row {
            Ok(e) => out.push(e),
            Err(e) if options.skip_bad_rows && e.is_row_error() => note_skipped(&mut skipped, &e),
            Err(e) => return Err(e),
        }
    }
    (report.skipped, report.first_skipped) = skipped;
    if out.is_empty() {
        return Err(DataError::NoRows { path: path.to_path_buf(), skipped: report.skipped });
    }
    if report.skipped > 0 {
        log::warn!("{report}");
    }
    Ok((out, report))
}

/// Windows of every question of `questions` (labelled with the first gold answer, as run_qa trains),
/// computed in parallel, as [`Examples`]; `report` gets the counts. With `keep_offsets` the windows
/// can be turned back into answers (validation and test).
pub fn window_examples(
    questions: Vec<QaExample>,
    tokenizer: &Tokenizer,
    options: &DataOptions,
    keep_offsets: bool,
    report: &mut SplitReport,
) -> Result<Examples, DataError> {
    let per_question: Vec<Vec<Window>> = questions
        .par_iter()
        .enumerate()
        .with_min_len(16)
        .map(|(i, e)| {
            let answer = e.answers.first().map(|a| (a.start, a.text.as_str()));
            windows(tokenizer, i, &e.question, &e.context, answer, options.max_len, options.doc_stride).map_err(|err| {
                DataError::BadQa {
                    path: report.path.clone(),
                    at: e.at.clone(),
                    problem: format!("cannot cut the context into windows: {err}"),
                }
            })
        })
        .collect::<Result<_, _>>()?;
    let all: Vec<Window> = per_question.into_iter().flatten().collect();
    report.rows = questions.len();
    report.windows = all.len();
    report.tokens = all.iter().map(|w| w.encoding.len()).sum();
    report.at_max_len = all.iter().filter(|w| w.encoding.len() == options.max_len).count();
    let kept = questions
        .into_iter()
        .map(|e| QaQuestion { id: e.id, context: e.context, answers: e.answers.into_iter().map(|a| a.text).collect() })
        .collect();
    Ok(Examples::from_windows(tokenizer.max_token_id() as usize + 1, tokenizer.pad_id(), &all, kept, keep_offsets))
}

/// Reads a QA file ([`read_questions`]) and cuts it into windows ([`window_examples`]).
pub fn read_split(
    path: &Path,
    tokenizer: &Tokenizer,
    options: &DataOptions,
    keep_offsets: bool,
) -> Result<(Examples, SplitReport), DataError> {
    let (questions, mut report) = read_questions(path, options)?;
    let examples = window_examples(questions, tokenizer, options, keep_offsets, &mut report)?;
    Ok((examples, report))
}
