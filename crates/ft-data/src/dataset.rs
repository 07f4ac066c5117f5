//! From files to tokenized splits: [`load`] reads the training file (deciding the label kind and the
//! label set), the validation file or a stratified split of training, and the test file, tokenizing
//! in parallel chunks as it streams.
//!
//! Token classification is chosen by `labels.kind = Some(LabelKind::TokenClasses)`, or detected when
//! no kind is given and the training file is tagged ([`crate::files::is_tagged_file`]: `.conll`, a
//! `.txt` with at least two columns, JSONL with a `tokens` key); the tagged files then go through
//! [`crate::tagging`], and [`LoadedData::labels`] says `TokenClasses`.

use crate::examples::ExampleLabels;
use crate::files::{Columns, DEFAULT_MAX_ROW_BYTES, Format, RawRow, RowReader};
use crate::labels::{self, LabelCollector, LabelOptions, LabelSpace, RowLabel};
use crate::split::stratified_split;
use crate::tagging::{self, TokenOptions};
use crate::{DataError, Encoding, Examples, LabelKind, Tokenizer};
use std::path::{Path, PathBuf};

/// Rows tokenized together (in parallel); only this many raw texts are ever held.
const CHUNK_ROWS: usize = 4096;
/// Bad rows quoted in a report.
const QUOTED_BAD_ROWS: usize = 5;

/// The files of a dataset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataFiles {
    /// Training file (decides the label set).
    pub train: PathBuf,
    /// Validation file; without one, a split of training is used.
    pub validation: Option<PathBuf>,
    /// Test file.
    pub test: Option<PathBuf>,
}

/// How files are read and tokenized.
#[derive(Debug, Clone, PartialEq)]
pub struct DataOptions {
    /// Columns.
    pub columns: Columns,
    /// Force a format instead of the file extension.
    pub format: Option<Format>,
    /// Label kind and separator.
    pub labels: LabelOptions,
    /// Skip bad rows (reported) instead of failing on the first.
    pub skip_bad_rows: bool,
    /// Maximum tokens per example, special tokens included.
    pub max_len: usize,
    /// Fraction of training held out for validation when there is no validation file.
    pub validation_split: f64,
    /// Seed of that split.
    pub seed: u64,
    /// The longest row read (a CSV/TSV record or a JSONL line), in bytes; a longer one is an error,
    /// found before it is held in memory (`--max-row-bytes`).
    pub max_row_bytes: usize,
    /// Token classification: CoNLL columns and `label_all_tokens`.
    pub tokens: TokenOptions,
    /// Question answering: context tokens shared by consecutive windows (run_qa's `doc_stride`).
    pub doc_stride: usize,
}

impl Default for DataOptions {
    fn default() -> Self {
        Self {
            columns: Columns::default(),
            format: None,
            labels: LabelOptions::default(),
            skip_bad_rows: false,
            max_len: 128,
            validation_split: 0.1,
            seed: 42,
            max_row_bytes: DEFAULT_MAX_ROW_BYTES,
            tokens: TokenOptions::default(),
            doc_stride: crate::qa::DEFAULT_DOC_STRIDE,
        }
    }
}

/// What reading one file found.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SplitReport {
    /// The file.
    pub path: PathBuf,
    /// Examples kept.
    pub rows: usize,
    /// Bad rows skipped (with `skip_bad_rows`).
    pub skipped: usize,
    /// The first few skipped rows' errors.
    pub first_skipped: Vec<String>,
    /// Examples that reached `max_len` tokens (most of them truncated).
    pub at_max_len: usize,
    /// Tokens kept.
    pub tokens: usize,
    /// Token classification: words read (0 for sentence tasks).
    pub words: usize,
    /// Token classification: words cut off by `max_len` (no token kept, so no label and no
    /// prediction; run_ner drops them from evaluation without a word).
    pub words_cut: usize,
    /// Token classification: words that gave no token although not cut (the normalizer emptied
    /// them, e.g. a lone U+200B); their tags are lost as in run_ner.
    pub words_empty: usize,
    /// Question answering: context windows (examples) of the `rows` questions (0 for other tasks).
    pub windows: usize,
}

impl std::fmt::Display for SplitReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: {} rows, {} tokens, {} at max length",
            self.path.display(),
            self.rows,
            self.tokens,
            self.at_max_len
        )?;
        if self.windows > 0 {
            write!(f, " ({} questions in {} windows)", self.rows, self.windows)?;
        }
        if self.words > 0 {
            write!(f, "; {} words, {} cut off by max length", self.words, self.words_cut)?;
            if self.words_empty > 0 {
                write!(f, ", {} without any token", self.words_empty)?;
            }
        }
        if self.skipped > 0 {
            write!(f, "; skipped {} bad rows, first: {}", self.skipped, self.first_skipped.join(" | "))?;
        }
        Ok(())
    }
}

/// The tokenized splits of a dataset.
#[derive(Debug, Clone)]
pub struct LoadedData {
    /// Training examples.
    pub train: Examples,
    /// Validation examples (from the file, or split from training).
    pub validation: Examples,
    /// Test examples, when a test file was given.
    pub test: Option<Examples>,
    /// Label kind and names (from training).
    pub labels: LabelSpace,
    /// Whether validation was split from training.
    pub validation_from_train: bool,
    /// One report per file read.
    pub reports: Vec<SplitReport>,
}

/// Reads and tokenizes every file of `files`.
pub fn load(files: &DataFiles, tokenizer: &Tokenizer, options: &DataOptions) -> Result<LoadedData, DataError> {
    if is_qa_task(&files.train, options)? {
        return load_qa(files, tokenizer, options);
    }
    let tagged = is_token_task(&files.train, options)?;
    let (mut train, labels, train_report) = if tagged {
        tagging::read_tagged_train(&files.train, tokenizer, options)?
    } else {
        read_train(&files.train, tokenizer, options)?
    };
    let read_other = |path: &Path| {
        if tagged {
            tagging::read_tagged_with_labels(path, tokenizer, options, &labels)
        } else {
            read_with_labels(path, tokenizer, options, &labels)
        }
    };
    let mut reports = vec![train_report];
    let (validation, validation_from_train) = match &files.validation {
        Some(path) => {
            let (ex, report) = read_other(path)?;
            reports.push(report);
            (ex, false)
        }
        None => {
            let (t, v) = stratified_split(&train.strata(), options.validation_split, options.seed)?;
            let validation = train.select(&v);
            train = train.select(&t);
            (validation, true)
        }
    };
    let test = match &files.test {
        Some(path) => {
            let (ex, report) = read_other(path)?;
            reports.push(report);
            Some(ex)
        }
        None => None,
    };
    Ok(LoadedData { train, validation, test, labels, validation_from_train, reports })
}

/// Whether `train` is read as question answering: asked for with `LabelKind::Spans`, or (no kind
/// given) a SQuAD file ([`crate::files::is_qa_file`]).
pub fn is_qa_task(train: &Path, options: &DataOptions) -> Result<bool, DataError> {
    match options.labels.kind {
        Some(LabelKind::Spans) => Ok(true),
        Some(_) => Ok(false),
        None => crate::files::is_qa_file(train, options.max_row_bytes),
    }
}

/// Question answering: the questions of every file cut into windows once; without a validation file,
/// a seeded share of the training questions (all windows of a question on the same side).
fn load_qa(files: &DataFiles, tokenizer: &Tokenizer, options: &DataOptions) -> Result<LoadedData, DataError> {
    if options.doc_stride == 0 || options.doc_stride >= options.max_len {
        return Err(DataError::Options(format!(
            "--doc-stride {}: windows of --max-len {} tokens must share between 1 and {} context tokens (run_qa's defaults: --max-len 384 --doc-stride 128)",
            options.doc_stride,
            options.max_len,
            options.max_len.saturating_sub(1)
        )));
    }
    for path in std::iter::once(&files.train).chain(&files.validation).chain(&files.test) {
        let ext = path.extension().map(|e| e.to_string_lossy().to_ascii_lowercase()).unwrap_or_default();
        if !matches!(ext.as_str(), "json" | "jsonl" | "ndjson") {
            return Err(DataError::Options(format!(
                "{}: question answering reads SQuAD files — SQuAD v1.1 JSON (.json) or JSON Lines (.jsonl) with id, context, question and answers — not .{ext} files",
                path.display()
            )));
        }
    }
    let labels = LabelSpace { kind: LabelKind::Spans, names: Vec::new() };
    let (questions, mut train_report) = crate::qa::read_questions(&files.train, options)?;
    let mut reports = Vec::new();
    let (train, validation, validation_from_train) = match &files.validation {
        Some(path) => {
            let train = crate::qa::window_examples(questions, tokenizer, options, false, &mut train_report)?;
            reports.push(train_report);
            let (validation, report) = crate::qa::read_split(path, tokenizer, options, true)?;
            reports.push(report);
            (train, validation, false)
        }
        None => {
            let (t, v) = stratified_split(&vec![0; questions.len()], options.validation_split, options.seed)?;
            let mut slots: Vec<Option<crate::QaExample>> = questions.into_iter().map(Some).collect();
            let mut take = |idx: &[u32]| -> Vec<crate::QaExample> {
                idx.iter().filter_map(|&i| slots[i as usize].take()).collect()
            };
            let (train_q, val_q) = (take(&t), take(&v));
            let train = crate::qa::window_examples(train_q, tokenizer, options, false, &mut train_report)?;
            let mut val_report = SplitReport { path: files.train.clone(), ..Default::default() };
            let validation = crate::qa::window_examples(val_q, tokenizer, options, true, &mut val_report)?;
            reports.push(train_report);
            (train, validation, true)
        }
    };
    let test = match &files.test {
        Some(path) => {
            let (ex, report) = crate::qa::read_split(path, tokenizer, options, true)?;
            reports.push(report);
            Some(ex)
        }
        None => None,
    };
    Ok(LoadedData { train, validation, test, labels, validation_from_train, reports })
}

/// Whether `train` is read as token classification: asked for with `LabelKind::TokenClasses`, or
/// (no kind given) a tagged file.
pub fn is_token_task(train: &Path, options: &DataOptions) -> Result<bool, DataError> {
    match options.labels.kind {
        Some(LabelKind::TokenClasses) => Ok(true),
        Some(_) => Ok(false),
        None if crate::files::is_qa_file(train, options.max_row_bytes)? => Ok(false),
        None => crate::files::is_tagged_file(train, options.format, options.max_row_bytes),
    }
}

/// Counts a skipped bad row, quoting the first few.
pub(crate) fn note_skipped(skipped: &mut (usize, Vec<String>), e: &DataError) {
    skipped.0 += 1;
    if skipped.1.len() < QUOTED_BAD_ROWS {
        skipped.1.push(e.to_string());
    }
}

/// A chunk of rows waiting to be tokenized, with their labels already read.
struct Pending {
    rows: Vec<(RawRow, RowLabel)>,
}

impl Pending {
    fn flush(
        &mut self,
        tokenizer: &Tokenizer,
        max_len: usize,
        mut sink: impl FnMut(&Encoding, &RowLabel),
    ) -> Result<(), DataError> {
        let inputs: Vec<(&str, Option<&str>)> =
            self.rows.iter().map(|(r, _)| (r.text.as_str(), r.pair.as_deref())).collect();
        let encodings = tokenizer.encode_batch(&inputs, max_len)?;
        for (enc, (_, label)) in encodings.iter().zip(&self.rows) {
            sink(enc, label);
        }
        self.rows.clear();
        Ok(())
    }
}

/// Streams `path`, reading each label with `read_label`, tokenizing in chunks into `sink`.
fn stream(
    path: &Path,
    tokenizer: &Tokenizer,
    options: &DataOptions,
    mut read_label: impl FnMut(&RawRow, &str) -> Result<RowLabel, DataError>,
    mut sink: impl FnMut(&Encoding, &RowLabel),
) -> Result<SplitReport, DataError> {
    let mut report = SplitReport { path: path.to_path_buf(), ..Default::default() };
    let mut reader = RowReader::open_with_limit(path, options.format, &options.columns, options.max_row_bytes)?;
    let mut pending = Pending { rows: Vec::with_capacity(CHUNK_ROWS) };
    let label_column = options.columns.label.clone();
    let max_len = options.max_len;
    let mut count = |enc: &Encoding, label: &RowLabel| {
        report.rows += 1;
        report.tokens += enc.len();
        report.at_max_len += usize::from(enc.len() == max_len);
        sink(enc, label);
    };
    let mut skipped = (0usize, Vec::new());
    for row in reader.by_ref() {
        let row = row.and_then(|row| read_label(&row, &label_column).map(|label| (row, label)));
        match row {
            Ok(pair) => {
                pending.rows.push(pair);
                if pending.rows.len() == CHUNK_ROWS {
                    pending.flush(tokenizer, max_len, &mut count)?;
                }
            }
            Err(e) if options.skip_bad_rows && e.is_row_error() => note_skipped(&mut skipped, &e),
            Err(e) => return Err(e),
        }
    }
    pending.flush(tokenizer, max_len, &mut count)?;
    (report.skipped, report.first_skipped) = skipped;
    if report.rows == 0 {
        return Err(DataError::NoRows { path: path.to_path_buf(), skipped: report.skipped });
    }
    if report.skipped > 0 {
        log::warn!("{report}");
    }
    Ok(report)
}

/// Reads the training file: the label kind and set come from it.
pub fn read_train(
    path: &Path,
    tokenizer: &Tokenizer,
    options: &DataOptions,
) -> Result<(Examples, LabelSpace, SplitReport), DataError> {
    // Labels are interned while streaming; their final ids are known only at the end, so tokens go to
    // a provisional split whose labels are remapped afterwards.
    if options.labels.kind == Some(LabelKind::TokenClasses) {
        return Err(DataError::Options(format!(
            "{}: token classes are read from tagged files (CoNLL, JSONL with tokens/tags); use ft_data::tagging",
            path.display()
        )));
    }
    if options.labels.kind == Some(LabelKind::Spans) {
        return Err(DataError::Options(format!(
            "{}: answer spans are read from SQuAD files (JSON or JSON Lines); use ft_data::qa",
            path.display()
        )));
    }
    let mut collector = LabelCollector::new(&options.labels);
    let provisional = LabelSpace { kind: LabelKind::MultiLabel, names: Vec::new() };
    let mut ex = Examples::new(tokenizer.max_token_id() as usize + 1, tokenizer.pad_id(), &provisional);
    let mut values: Vec<f32> = Vec::new();
    let report = stream(
        path,
        tokenizer,
        options,
        |row, column| collector.add(&row.label, &options.labels, path, row.line, column),
        |enc, label| match label {
            RowLabel::Classes(ids) => ex.push(enc, ids, 0.0),
            RowLabel::Value(v) => {
                ex.push(enc, &[], 0.0);
                values.push(*v);
            }
        },
    )?;
    let (space, remap, interned_values) = collector.finish(&options.labels);
    let labels = match space.kind {
        LabelKind::Regression => match interned_values {
            // Detected: every label was interned as a name; its value is the parsed name.
            Some(v) if options.labels.kind.is_none() => {
                ExampleLabels::Regression((0..ex.len()).map(|i| v[ex.classes(i)[0] as usize]).collect())
            }
            _ => ExampleLabels::Regression(values),
        },
        LabelKind::SingleLabel => {
            ExampleLabels::Single((0..ex.len()).map(|i| remap[ex.classes(i)[0] as usize]).collect())
        }
        LabelKind::MultiLabel | LabelKind::TokenClasses | LabelKind::Spans => {
            let mut offsets = vec![0u32];
            let mut ids = Vec::new();
            for i in 0..ex.len() {
                ids.extend(ex.classes(i).iter().map(|&k| remap[k as usize]));
                offsets.push(ids.len() as u32);
            }
            ExampleLabels::Multi { offsets, ids }
        }
    };
    let out = ex.with_labels(labels, space.num_labels());
    Ok((out, space, report))
}

/// Reads a validation or test file against the training file's labels.
pub fn read_with_labels(
    path: &Path,
    tokenizer: &Tokenizer,
    options: &DataOptions,
    space: &LabelSpace,
) -> Result<(Examples, SplitReport), DataError> {
    if space.kind == LabelKind::TokenClasses {
        return tagging::read_tagged_with_labels(path, tokenizer, options, space);
    }
    if space.kind == LabelKind::Spans {
        return crate::qa::read_split(path, tokenizer, options, true);
    }
    let mut ex = Examples::new(tokenizer.max_token_id() as usize + 1, tokenizer.pad_id(), space);
    let report = stream(
        path,
        tokenizer,
        options,
        |row, column| labels::lookup(&row.label, space, &options.labels, path, row.line, column),
        |enc, label| match label {
            RowLabel::Classes(ids) => ex.push(enc, ids, 0.0),
            RowLabel::Value(v) => ex.push(enc, &[], *v),
        },
    )?;
    Ok((ex, report))
}
