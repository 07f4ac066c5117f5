//! Reading the user's dataset files row by row: CSV, TSV and JSONL with named columns, streamed (one
//! row in memory at a time), every problem reported with its file:line.
//!
//! Columns are chosen like transformers' `run_classification.py`: the text column is `--text-column`,
//! else `sentence`, else `text`; an optional `--text-pair-column`; the label column is `--label-column`
//! (default `label`).

mod csv_rows;
mod jsonl_rows;

use crate::DataError;
use std::path::Path;

/// A data file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Comma-separated, RFC 4180 quoting (`"a, b"`, `""` for a quote), header row.
    Csv,
    /// Tab-separated, read literally: no quoting, so a field cannot hold a tab or a newline; header row.
    Tsv,
    /// One JSON object per line.
    Jsonl,
}

impl Format {
    /// From the file name: `.csv`, `.tsv`/`.tab`, `.jsonl`/`.ndjson`/`.json` (each line one object).
    pub fn from_path(path: &Path) -> Result<Self, DataError> {
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
        match ext.as_str() {
            "csv" => Ok(Self::Csv),
            "tsv" | "tab" => Ok(Self::Tsv),
            "jsonl" | "ndjson" | "json" => Ok(Self::Jsonl),
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
            _ => Err(DataError::Options(format!("--format {s:?}: use csv, tsv or jsonl"))),
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

/// Streams the rows of one file.
pub struct RowReader {
    inner: Inner,
}

enum Inner {
    Csv(Box<csv_rows::CsvRows>),
    Jsonl(Box<jsonl_rows::JsonlRows>),
}

impl RowReader {
    /// Opens `path`; CSV/TSV headers are checked against `columns` here.
    pub fn open(path: &Path, format: Option<Format>, columns: &Columns) -> Result<Self, DataError> {
        Self::open_inner(path, format, columns, true)
    }

    fn open_inner(path: &Path, format: Option<Format>, columns: &Columns, with_label: bool) -> Result<Self, DataError> {
        let format = match format {
            Some(f) => f,
            None => Format::from_path(path)?,
        };
        let inner = match format {
            Format::Csv | Format::Tsv => {
                Inner::Csv(Box::new(csv_rows::CsvRows::open(path, format, columns, with_label)?))
            }
            Format::Jsonl => Inner::Jsonl(Box::new(jsonl_rows::JsonlRows::open(path, columns, with_label)?)),
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

impl Iterator for RowReader {
    type Item = Result<RawRow, DataError>;

    fn next(&mut self) -> Option<Self::Item> {
        match &mut self.inner {
            Inner::Csv(r) => r.next(),
            Inner::Jsonl(r) => r.next(),
        }
    }
}

/// One row read for prediction: where it is and its text(s), no label.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextRow {
    /// Line of the row's start (1-based; line 1 is the header of CSV/TSV).
    pub line: u64,
    /// The text.
    pub text: String,
    /// The second text, when a pair column is used.
    pub pair: Option<String>,
}

/// Streams the texts of one file, for prediction: like [`RowReader`], but the label column is neither
/// required nor read (a file with labels works too; they are ignored).
pub struct TextReader {
    rows: RowReader,
}

impl TextReader {
    /// Opens `path`; CSV/TSV headers are checked for the text columns of `columns` here.
    pub fn open(path: &Path, format: Option<Format>, columns: &Columns) -> Result<Self, DataError> {
        Ok(Self { rows: RowReader::open_inner(path, format, columns, false)? })
    }

    /// The text column in use, once known (CSV: at open; JSONL: after the first row).
    pub fn text_column(&self) -> Option<&str> {
        self.rows.text_column()
    }
}

impl Iterator for TextReader {
    type Item = Result<TextRow, DataError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.rows.next().map(|row| row.map(|r| TextRow { line: r.line, text: r.text, pair: r.pair }))
    }
}

/// `text` unless it is empty after trimming.
pub(crate) fn non_empty(path: &Path, line: u64, column: &str, text: String) -> Result<String, DataError> {
    if text.trim().is_empty() {
        Err(DataError::EmptyText { path: path.to_path_buf(), line, column: column.to_string() })
    } else {
        Ok(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_from_extension() {
        assert_eq!(Format::from_path(Path::new("a/train.CSV")).unwrap(), Format::Csv);
        assert_eq!(Format::from_path(Path::new("x.tsv")).unwrap(), Format::Tsv);
        assert_eq!(Format::from_path(Path::new("x.jsonl")).unwrap(), Format::Jsonl);
        let err = Format::from_path(Path::new("x.parquet")).unwrap_err().to_string();
        assert!(err.contains("x.parquet") && err.contains("--format"), "{err}");
    }

    #[test]
    fn text_reader_needs_no_label_column() {
        let dir = tempfile::tempdir().unwrap();
        let csv = dir.path().join("in.csv");
        std::fs::write(&csv, "id,text\n1,hello there\n2,\"a, b\"\n").unwrap();
        let rows: Vec<TextRow> =
            TextReader::open(&csv, None, &Columns::default()).unwrap().map(Result::unwrap).collect();
        let texts: Vec<(u64, &str)> = rows.iter().map(|r| (r.line, r.text.as_str())).collect();
        assert_eq!(texts, [(2, "hello there"), (3, "a, b")]);
        // The labelled reader still requires the label column.
        let err = RowReader::open(&csv, None, &Columns::default()).err().unwrap().to_string();
        assert!(err.contains("label"), "{err}");

        let jsonl = dir.path().join("in.jsonl");
        std::fs::write(
            &jsonl,
            "{\"q\": \"is it?\", \"a\": \"yes\"}\n\n{\"q\": \"no?\", \"a\": \"no\", \"label\": 3}\n",
        )
        .unwrap();
        let columns = Columns { text: Some("q".into()), text_pair: Some("a".into()), label: "label".into() };
        let rows: Vec<TextRow> = TextReader::open(&jsonl, None, &columns).unwrap().map(Result::unwrap).collect();
        assert_eq!(rows[0], TextRow { line: 1, text: "is it?".into(), pair: Some("yes".into()) });
        assert_eq!(rows[1], TextRow { line: 3, text: "no?".into(), pair: Some("no".into()) });
    }
}
