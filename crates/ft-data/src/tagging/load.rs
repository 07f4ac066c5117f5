//! Tagged files → tokenized, aligned [`Examples`]: the training file decides the label set (its sorted
//! unique tags, run_ner's `get_label_list`, unless names are given), validation and test are read
//! against it (a tag it lacks is a file:line error). Sentences are tokenized in parallel chunks.

use super::align::{align, b_to_i};
use crate::dataset::{DataOptions, SplitReport, note_skipped};
use crate::files::{Format, RawTag, TaggedReader, TaggedRow};
use crate::labels::{LabelKind, LabelSpace};
use crate::{DataError, Examples, Tokenizer};
use std::collections::BTreeSet;
use std::path::Path;

/// Sentences tokenized together (in parallel).
const CHUNK_ROWS: usize = 4096;

/// The line of word `i` of `row`: CoNLL puts one word per line; JSONL a sentence per line.
fn word_line(row: &TaggedRow, conll: bool, i: usize) -> u64 {
    if conll { row.line + i as u64 } else { row.line }
}

fn is_conll(path: &Path, options: &DataOptions) -> Result<bool, DataError> {
    Ok(match options.format {
        Some(f) => f == Format::Conll,
        None => Format::from_path(path)? == Format::Conll,
    })
}

fn open(path: &Path, options: &DataOptions) -> Result<TaggedReader, DataError> {
    TaggedReader::open(path, options.format, options.tokens.columns, options.max_row_bytes)
}

/// The name of a tag: itself, or for an integer id the given label name.
fn tag_name<'a>(tag: &'a RawTag, names: Option<&'a [String]>, path: &Path, line: u64) -> Result<&'a str, DataError> {
    match (tag, names) {
        (RawTag::Name(n), _) => Ok(n),
        (RawTag::Id(i), Some(names)) => names.get(*i as usize).map(String::as_str).ok_or_else(|| DataError::BadTags {
            path: path.to_path_buf(),
            line,
            problem: format!("tag id {i}, but only {} label names were given (ids 0..{})", names.len(), names.len()),
        }),
        (RawTag::Id(i), None) => Err(DataError::BadTags {
            path: path.to_path_buf(),
            line,
            problem: format!(
                "tag {i} is an integer id (as HF `datasets` writes `ner_tags`); give the label names in id order (--labels O,B-PER,I-PER,...) or write the tags as names"
            ),
        }),
    }
}

/// The label space of a training file: the given names in their order, else its sorted unique tags.
/// A first pass over the file that reads tags only (bad rows are left to the second pass).
fn label_space(path: &Path, options: &DataOptions) -> Result<LabelSpace, DataError> {
    let given = options.labels.names.as_deref();
    let names: Vec<String> = match given {
        Some(names) => names.iter().map(|n| n.trim().to_string()).collect(),
        None => {
            let mut set = BTreeSet::new();
            for row in open(path, options)?.flatten() {
                for tag in &row.tags {
                    if let Ok(name) = tag_name(tag, None, path, row.line) {
                        set.insert(name.to_string());
                    }
                }
            }
            set.into_iter().collect()
        }
    };
    if names.len() > i16::MAX as usize {
        return Err(DataError::Options(format!(
            "{}: {} distinct tags; at most {} are supported",
            path.display(),
            names.len(),
            i16::MAX
        )));
    }
    Ok(LabelSpace { kind: LabelKind::TokenClasses, names })
}

/// Reads a tagged training file: the label set comes from it (or from `options.labels.names`).
pub fn read_tagged_train(
    path: &Path,
    tokenizer: &Tokenizer,
    options: &DataOptions,
) -> Result<(Examples, LabelSpace, SplitReport), DataError> {
    let space = label_space(path, options)?;
    let (ex, report) = read_tagged_with_labels(path, tokenizer, options, &space)?;
    Ok((ex, space, report))
}

/// Reads a tagged validation or test file against the training file's labels.
pub fn read_tagged_with_labels(
    path: &Path,
    tokenizer: &Tokenizer,
    options: &DataOptions,
    space: &LabelSpace,
) -> Result<(Examples, SplitReport), DataError> {
    let conll = is_conll(path, options)?;
    let given = options.labels.names.as_deref();
    let to_i = b_to_i(&space.names);
    let mut ex = Examples::new(tokenizer.max_token_id() as usize + 1, tokenizer.pad_id(), space);
    let mut report = SplitReport { path: path.to_path_buf(), ..Default::default() };
    let mut skipped = (0usize, Vec::new());
    let mut pending: Vec<(Vec<String>, Vec<u32>)> = Vec::with_capacity(CHUNK_ROWS);
    let max_len = options.max_len;
    let mut flush = |pending: &mut Vec<(Vec<String>, Vec<u32>)>, report: &mut SplitReport| {
        let sentences: Vec<Vec<&str>> =
            pending.iter().map(|(words, _)| words.iter().map(String::as_str).collect()).collect();
        let encodings = tokenizer.encode_words_batch(&sentences, max_len)?;
        for (enc, (words, ids)) in encodings.iter().zip(pending.iter()) {
            let aligned = align(&enc.word_ids, ids, options.tokens.label_all_tokens, &to_i, enc.len() >= max_len);
            report.rows += 1;
            report.tokens += enc.len();
            report.at_max_len += usize::from(enc.len() == max_len);
            report.words += words.len();
            report.words_cut += aligned.words_cut as usize;
            report.words_empty += aligned.words_empty as usize;
            ex.push_tokens(enc, &aligned);
        }
        pending.clear();
        Ok::<(), DataError>(())
    };
    for row in open(path, options)? {
        let row = row.and_then(|row| {
            let ids = row
                .tags
                .iter()
                .enumerate()
                .map(|(i, tag)| {
                    let line = word_line(&row, conll, i);
                    let name = tag_name(tag, given, path, line)?;
                    space.id(name).ok_or_else(|| DataError::UnknownLabel {
                        path: path.to_path_buf(),
                        line,
                        label: name.to_string(),
                        known: space.names.clone(),
                    })
                })
                .collect::<Result<Vec<u32>, _>>()?;
            Ok((row.words, ids))
        });
        match row {
            Ok(sentence) => {
                pending.push(sentence);
                if pending.len() == CHUNK_ROWS {
                    flush(&mut pending, &mut report)?;
                }
            }
            Err(e) if options.skip_bad_rows && e.is_row_error() => note_skipped(&mut skipped, &e),
            Err(e) => return Err(e),
        }
    }
    flush(&mut pending, &mut report)?;
    (report.skipped, report.first_skipped) = skipped;
    if report.rows == 0 {
        return Err(DataError::NoRows { path: path.to_path_buf(), skipped: report.skipped });
    }
    if report.skipped > 0 || report.words_cut > 0 {
        log::warn!("{report}");
    }
    Ok((ex, report))
}
