//! Reading the user's dataset files row by row: CSV, TSV and JSONL with named columns, streamed (one
//! row in memory at a time), every problem reported with its file:line. Token-tagged sentences (CoNLL
//! columns, JSONL `tokens`/`tags`) are read by [`TaggedReader`] under the same rules.
//!
//! Columns are chosen like transformers' `run_classification.py`: the text column is `--text-column`,
//! else `sentence`, else `text`; an optional `--text-pair-column`; the label column is `--label-column`
//! (default `label`); the three must name different columns.
//!
//! Every reader takes its bytes from any [`Read`] (a file by default) and refuses what would cost
//! unbounded memory or give silently wrong rows: a row longer than the row size limit
//! ([`DEFAULT_MAX_ROW_BYTES`] unless told otherwise), UTF-16 or binary input, and a CSV quote left open
//! to the end of the file.

mod conll;
mod csv_guard;
mod csv_rows;
mod jsonl_rows;
mod lines;
mod sniff;
pub mod squad;
pub mod tagged;
mod tagged_jsonl;
mod text;

pub use squad::{QaAnswer, QaExample, SquadJsonlRows, is_qa_file, read_qa_file, read_squad_json};
pub use tagged::{RawTag, TagColumns, TaggedReader, TaggedRow, is_tagged_file};
pub use text::{TextLines, TextReader, TextRow};

use crate::DataError;
use std::fs::File;
use std::io::Read;
use std::path::Path;

/// The longest row (a CSV/TSV record, a JSONL line, a line of text) read by default: 1 MiB. Longer
/// rows are errors, found while reading, before the row is held in memory.
pub const DEFAULT_MAX_ROW_BYTES: usize = 1 << 20;

/// A data file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Comma-separated, RFC 4180 quoting (`"a, b"`, `""` for a quote), header row.
    Csv,
    /// Tab-separated, read literally: no quoting, so a field cannot hold a tab or a newline; header row.
    Tsv,
    /// One JSON object per line.
    Jsonl,
    /// CoNLL columns: one token per line, a blank line between sentences (token tagging only).
    Conll,
}

impl Format {
    /// From the file name: `.csv`, `.tsv`/`.tab`, `.jsonl`/`.ndjson`/`.json` (each line one object),
    /// `.conll`/`.txt` (CoNLL columns).
    pub fn from_path(path: &Path) -> Result<Self, DataError> {
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
        match ext.as_str() {
            "csv" => Ok(Self::Csv),
            "tsv" | "tab" => Ok(Self::Tsv),
            "jsonl" | "ndjson" | "json" => Ok(Self::Jsonl),
            "conll" | "txt" => Ok(Self::Conll),
            _ => Err(DataError::UnknownFormat { path: path.to_path_buf() }),
        }
    }
}

impl std::str::FromStr for Format {
    type Err = DataError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "csv" => Ok(Self::Csv),
            "tsv" => Ok(Self::Tsv),
            "jsonl" | "json" | "ndjson" => Ok(Self::Jsonl),
            "conll" => Ok(Self::Conll),
            _ => Err(DataError::Options(format!("--format {s:?}: use csv, tsv, jsonl or conll"))),
        }
    }
}

/// Which columns hold the text, the optional second text and the label.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Columns {
    /// `--text-column`; `None` tries `sentence`, then `text`.
    pub text: Option<String>,
    /// `--text-pair-column`: a second text, giving token type 1.
    pub text_pair: Option<String>,
    /// `--label-column` (default `label`).
    pub label: String,
}

impl Default for Columns {
    fn default() -> Self {
        Self { text: None, text_pair: None, label: "label".into() }
    }
}

impl Columns {
    /// Checks that the columns named explicitly are different ones: a text column that is also the
    /// label column would train the model on its answers. (The readers check again once a default
    /// text column is chosen.)
    pub fn check(&self) -> Result<(), DataError> {
        match (&self.text, &self.text_pair) {
            (Some(text), pair) => check_distinct(text, false, pair.as_deref(), Some(&self.label)),
            (None, Some(pair)) if *pair == self.label => Err(clash("--text-pair-column", "--label-column", pair)),
            (None, _) => Ok(()),
        }
    }
}

/// Two flags naming one column.
fn clash(a: &str, b: &str, column: &str) -> DataError {
    let harm = if b == "--label-column" {
        "the model would be trained to read its labels"
    } else {
        "the pair would be the text repeated"
    };
    DataError::Options(format!("{a} and {b} both name column `{column}`: {harm}; name two different columns"))
}

/// Refuses a column used for two purposes. `text_defaulted`: the text column was chosen by default,
/// not by `--text-column`.
pub(crate) fn check_distinct(
    text: &str,
    text_defaulted: bool,
    pair: Option<&str>,
    label: Option<&str>,
) -> Result<(), DataError> {
    let text_flag = if text_defaulted { "the default text column" } else { "--text-column" };
    if label == Some(text) {
        return Err(clash(text_flag, "--label-column", text));
    }
    match pair {
        Some(pair) if pair == text => Err(clash("--text-pair-column", text_flag, pair)),
        Some(pair) if label == Some(pair) => Err(clash("--text-pair-column", "--label-column", pair)),
        _ => Ok(()),
    }
}

/// The text columns tried, in order, when `--text-column` is not given.
pub const DEFAULT_TEXT_COLUMNS: [&str; 2] = ["sentence", "text"];

/// A label as the file wrote it; what it means is decided later (see [`crate::labels`]).
#[derive(Debug, Clone, PartialEq)]
pub enum RawLabel {
    /// A CSV/TSV field: a class name, an integer, a float, or a separator-joined list.
    Field(String),
    /// A JSON string (a class name, never a number: `"1.5"` stays a name, as in HF datasets).
    JsonString(String),
    /// A JSON number, as written.
    JsonNumber {
        /// The number's text.
        text: String,
        /// Written with a fraction or exponent.
        is_float: bool,
    },
    /// A JSON array of strings or numbers: multi-label.
    JsonList(Vec<String>),
}

/// One row: where it is, its text(s) and its label.
#[derive(Debug, Clone, PartialEq)]
pub struct RawRow {
    /// Line of the row's start (1-based; line 1 is the header of CSV/TSV).
    pub line: u64,
    /// The text.
    pub text: String,
    /// The second text, when a pair column is used.
    pub pair: Option<String>,
    /// The label.
    pub label: RawLabel,
}

/// Streams the rows of one file (or of any reader, with [`RowReader::from_reader`]).
pub struct RowReader<R: Read = File> {
    inner: Inner<R>,
}

enum Inner<R: Read> {
    Csv(Box<csv_rows::CsvRows<R>>),
    Jsonl(Box<jsonl_rows::JsonlRows<R>>),
}

impl RowReader<File> {
    /// Opens `path` with the default row size limit; CSV/TSV headers are checked against `columns`
    /// here. `format` `None` goes by the file name.
    pub fn open(path: &Path, format: Option<Format>, columns: &Columns) -> Result<Self, DataError> {
        Self::open_with_limit(path, format, columns, DEFAULT_MAX_ROW_BYTES)
    }

    /// [`open`](Self::open) with a row size limit in bytes (`--max-row-bytes`).
    pub fn open_with_limit(
        path: &Path,
        format: Option<Format>,
        columns: &Columns,
        max_row_bytes: usize,
    ) -> Result<Self, DataError> {
        Self::open_inner(path, format, columns, true, max_row_bytes)
    }

    pub(crate) fn open_inner(
        path: &Path,
        format: Option<Format>,
        columns: &Columns,
        with_label: bool,
        max_row_bytes: usize,
    ) -> Result<Self, DataError> {
        let format = match format {
            Some(f) => f,
            None => Format::from_path(path)?,
        };
        let file = File::open(path).map_err(DataError::io(path))?;
        RowReader::new(path, file, format, columns, with_label, max_row_bytes)
    }
}

impl<R: Read> RowReader<R> {
    /// The rows of `reader`, a whole file's bytes in `format`; `name` stands for it in messages.
    /// CSV/TSV headers are checked against `columns` here.
    pub fn from_reader(
        name: &Path,
        reader: R,
        format: Format,
        columns: &Columns,
        max_row_bytes: usize,
    ) -> Result<Self, DataError> {
        Self::new(name, reader, format, columns, true, max_row_bytes)
    }

    pub(crate) fn new(
        name: &Path,
        reader: R,
        format: Format,
        columns: &Columns,
        with_label: bool,
        max_row_bytes: usize,
    ) -> Result<Self, DataError> {
        if max_row_bytes == 0 {
            return Err(DataError::Options(format!(
                "--max-row-bytes 0: every row would be too long; use a positive limit (the default is {DEFAULT_MAX_ROW_BYTES})"
            )));
        }
        let inner = match format {
            Format::Csv | Format::Tsv => {
                Inner::Csv(Box::new(csv_rows::CsvRows::new(name, reader, format, columns, with_label, max_row_bytes)?))
            }
            Format::Jsonl => {
                Inner::Jsonl(Box::new(jsonl_rows::JsonlRows::new(name, reader, columns, with_label, max_row_bytes)?))
            }
            Format::Conll => {
                return Err(DataError::Options(format!(
                    "{}: CoNLL columns hold token tags, not a text and a label; read it as token classification (--label-kind token-classes)",
                    name.display()
                )));
            }
        };
        Ok(Self { inner })
    }

    /// The text column in use (after defaults), once known (CSV: at open; JSONL: after the first row).
    pub fn text_column(&self) -> Option<&str> {
        match &self.inner {
            Inner::Csv(r) => Some(r.text_column()),
            Inner::Jsonl(r) => r.text_column(),
        }
    }
}

impl<R: Read> Iterator for RowReader<R> {
    type Item = Result<RawRow, DataError>;

    fn next(&mut self) -> Option<Self::Item> {
        match &mut self.inner {
            Inner::Csv(r) => r.next(),
            Inner::Jsonl(r) => r.next(),
        }
    }
}

/// Whether `text` is empty for the model: nothing but whitespace and the invisible characters BERT's
/// normalizer deletes (controls, format characters such as U+200B and U+FEFF, U+0000, U+FFFD), so
/// that it would be tokenized to `[CLS] [SEP]` alone. Training refuses such texts; prediction should
/// too ([`check_text`]).
pub fn is_blank(text: &str) -> bool {
    use crate::tokenizer::normalizer::{is_control, is_whitespace};
    text.chars().all(|c| is_whitespace(c) || is_control(c) || c == '\0' || c == '\u{fffd}')
}

/// [`DataError::EmptyText`] for a [blank](is_blank) text at `path:line` in `column`, the error
/// training gives; `Ok` otherwise.
pub fn check_text(path: &Path, line: u64, column: &str, text: &str) -> Result<(), DataError> {
    if is_blank(text) {
        Err(DataError::EmptyText { path: path.to_path_buf(), line, column: column.to_string() })
    } else {
        Ok(())
    }
}

/// `text` unless it is [blank](is_blank).
pub(crate) fn non_empty(path: &Path, line: u64, column: &str, text: String) -> Result<String, DataError> {
    check_text(path, line, column, &text).map(|()| text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_from_extension() {
        assert_eq!(Format::from_path(Path::new("a/train.CSV")).unwrap(), Format::Csv);
        assert_eq!(Format::from_path(Path::new("x.tsv")).unwrap(), Format::Tsv);
        assert_eq!(Format::from_path(Path::new("x.jsonl")).unwrap(), Format::Jsonl);
    }

    /// Regression: the message suggested a `--format` flag that the CLI does not have.
    #[test]
    fn unknown_format_error_names_the_extensions_not_a_flag() {
        let err = Format::from_path(Path::new("x.parquet")).unwrap_err().to_string();
        assert_eq!(err, "x.parquet: unknown data format; name the file *.csv, *.tsv or *.jsonl");
    }

    #[test]
    fn columns_used_twice_are_refused() {
        let cols = |text: Option<&str>, pair: Option<&str>, label: &str| Columns {
            text: text.map(String::from),
            text_pair: pair.map(String::from),
            label: label.into(),
        };
        let err = |c: Columns| c.check().unwrap_err().to_string();
        assert_eq!(
            err(cols(Some("label"), None, "label")),
            "--text-column and --label-column both name column `label`: the model would be trained to read its labels; name two different columns"
        );
        assert_eq!(
            err(cols(Some("q"), Some("q"), "label")),
            "--text-pair-column and --text-column both name column `q`: the pair would be the text repeated; name two different columns"
        );
        assert!(
            err(cols(Some("q"), Some("y"), "y"))
                .starts_with("--text-pair-column and --label-column both name column `y`")
        );
        assert!(err(cols(None, Some("y"), "y")).starts_with("--text-pair-column and --label-column"));
        assert!(cols(Some("q"), Some("a"), "label").check().is_ok());
        assert!(Columns::default().check().is_ok());
        // A default text column that is the label column is caught once chosen.
        let err = check_distinct("text", true, None, Some("text")).unwrap_err().to_string();
        assert!(err.starts_with("the default text column and --label-column both name column `text`"), "{err}");
    }

    #[test]
    fn blank_texts() {
        for blank in ["", " ", "\t\r\n", "\u{a0}\u{3000}", "\u{200b}", "\u{feff} ", "\0\u{fffd}\u{7}"] {
            assert!(is_blank(blank), "{blank:?}");
        }
        for text in ["a", " . ", "\u{200b}x", "中"] {
            assert!(!is_blank(text), "{text:?}");
        }
        let err = check_text(Path::new("in.csv"), 4, "text", " ").unwrap_err().to_string();
        assert_eq!(err, "in.csv:4: empty text in column `text`; remove the row, or pass --skip-bad-rows");
        assert!(check_text(Path::new("in.csv"), 4, "text", "ok").is_ok());
    }
}
