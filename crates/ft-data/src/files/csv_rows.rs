//! CSV and TSV rows through the `csv` crate, as raw bytes so that bad UTF-8 is reported per field.
//! The bytes pass through [`RowGuard`] on the way, which bounds a record's size and catches a quote
//! left open to the end of the file.

use super::csv_guard::{RowGuard, Tripped};
use super::sniff::{Sniffed, sniff};
use super::{Columns, DEFAULT_TEXT_COLUMNS, Format, RawLabel, RawRow, check_distinct, non_empty};
use crate::DataError;
use std::io::Read;
use std::path::{Path, PathBuf};

/// Rows of a delimited file with a header.
pub(crate) struct CsvRows<R: Read> {
    path: PathBuf,
    format: Format,
    max_row_bytes: usize,
    reader: csv::Reader<RowGuard<Sniffed<R>>>,
    header: Vec<String>,
    text: (usize, String),
    pair: Option<(usize, String)>,
    /// `None` when reading texts only.
    label: Option<(usize, String)>,
    record: csv::ByteRecord,
    done: bool,
}

impl<R: Read> CsvRows<R> {
    /// Reads the header from `reader` (named `path` in messages) and finds the columns; without
    /// `with_label`, the label column is not looked for.
    pub(crate) fn new(
        path: &Path,
        reader: R,
        format: Format,
        columns: &Columns,
        with_label: bool,
        max_row_bytes: usize,
    ) -> Result<Self, DataError> {
        let delimiter = if format == Format::Tsv { b'\t' } else { b',' };
        let quoting = format == Format::Csv;
        let guard = RowGuard::new(sniff(path, reader)?, quoting, delimiter, max_row_bytes);
        let mut reader = csv::ReaderBuilder::new()
            .delimiter(delimiter)
            .quoting(quoting)
            .flexible(true)
            .has_headers(true)
            .buffer_capacity(1 << 16)
            .from_reader(guard);
        let header: Vec<String> = match reader.byte_headers() {
            Ok(h) => h.iter().map(|h| String::from_utf8_lossy(h).trim().to_string()).collect(),
            Err(e) => return Err(read_error(path, &reader, max_row_bytes, 1, &e)),
        };
        let find = |name: &str| header.iter().position(|h| h == name);
        let missing = |column: String, fix: String| DataError::MissingColumn {
            path: path.to_path_buf(),
            line: 1,
            column,
            available: header.clone(),
            fix,
        };
        let text = match &columns.text {
            Some(name) => find(name)
                .map(|i| (i, name.clone()))
                .ok_or_else(|| missing(name.clone(), "pass --text-column with one of the columns above".into()))?,
            None => DEFAULT_TEXT_COLUMNS.iter().find_map(|name| find(name).map(|i| (i, name.to_string()))).ok_or_else(
                || missing(DEFAULT_TEXT_COLUMNS.join("` or `"), "name the text column with --text-column".into()),
            )?,
        };
        let pair = match &columns.text_pair {
            Some(name) => Some(find(name).map(|i| (i, name.clone())).ok_or_else(|| {
                missing(name.clone(), "pass --text-pair-column with one of the columns above".into())
            })?),
            None => None,
        };
        let label =
            match with_label {
                true => Some(find(&columns.label).map(|i| (i, columns.label.clone())).ok_or_else(|| {
                    missing(columns.label.clone(), "name the label column with --label-column".into())
                })?),
                false => None,
            };
        check_distinct(
            &text.1,
            columns.text.is_none(),
            pair.as_ref().map(|p| p.1.as_str()),
            label.as_ref().map(|l| l.1.as_str()),
        )?;
        Ok(Self {
            path: path.to_path_buf(),
            format,
            max_row_bytes,
            reader,
            header,
            text,
            pair,
            label,
            record: csv::ByteRecord::new(),
            done: false,
        })
    }

    /// The text column in use.
    pub(crate) fn text_column(&self) -> &str {
        &self.text.1
    }

    fn field(&self, line: u64, (index, name): &(usize, String)) -> Result<String, DataError> {
        let bytes = self.record.get(*index).unwrap_or_default();
        match std::str::from_utf8(bytes) {
            Ok(s) => Ok(s.to_string()),
            Err(e) => Err(DataError::InvalidUtf8 {
                path: self.path.clone(),
                line,
                column: name.clone(),
                byte: e.valid_up_to(),
            }),
        }
    }

    fn row(&mut self) -> Result<RawRow, DataError> {
        let line = match self.record.position() {
            Some(p) => self.reader.get_mut().record_line(p.byte()).unwrap_or(p.line()),
            None => 0,
        };
        if self.record.len() != self.header.len() {
            return Err(self.wrong_field_count(line));
        }
        let text = non_empty(&self.path, line, &self.text.1, self.field(line, &self.text)?)?;
        let pair = match &self.pair {
            Some(col) => Some(non_empty(&self.path, line, &col.1, self.field(line, col)?)?),
            None => None,
        };
        let label = match &self.label {
            Some(col) => self.field(line, col)?,
            None => String::new(),
        };
        Ok(RawRow { line, text, pair, label: RawLabel::Field(label) })
    }

    /// A row with too few or too many fields: when a quoted field spans lines, that field's stray
    /// quote is the likely cause, and the error points at the line where it opened.
    fn wrong_field_count(&self, line: u64) -> DataError {
        let newlines = |f: &[u8]| f.iter().filter(|&&b| b == b'\n').count() as u64;
        let spanning = self.record.iter().position(|f| f.contains(&b'\n'));
        match spanning {
            Some(i) if self.format == Format::Csv => {
                let opened = line + self.record.iter().take(i).map(newlines).sum::<u64>();
                DataError::QuoteSpansRows {
                    path: self.path.clone(),
                    line: opened,
                    lines: newlines(self.record.get(i).unwrap_or_default()) + 1,
                    found: self.record.len(),
                    expected: self.header.len(),
                }
            }
            _ => DataError::WrongFieldCount {
                path: self.path.clone(),
                line,
                found: self.record.len(),
                expected: self.header.len(),
                header: self.header.clone(),
            },
        }
    }
}

/// The error for a failed read: the guard's reason when it stopped the read, else the crate's.
fn read_error<R: Read>(
    path: &Path,
    reader: &csv::Reader<RowGuard<R>>,
    limit: usize,
    row_line: u64,
    e: &csv::Error,
) -> DataError {
    let path = path.to_path_buf();
    match reader.get_ref().tripped() {
        Some(Tripped::TooLong { open_quote: Some(quote_line), lines, .. }) => DataError::UnclosedQuote {
            path,
            line: quote_line,
            reach: format!(
                "it runs on over {lines} lines, past the row size limit of {}",
                crate::error::byte_size(limit)
            ),
        },
        Some(Tripped::TooLong { row_line, .. }) => DataError::RowTooLong { path, line: row_line, limit },
        Some(Tripped::OpenQuoteAtEnd { quote_line, lines }) => DataError::UnclosedQuote {
            path,
            line: quote_line,
            reach: if lines == 1 {
                "it runs to the end of the file".into()
            } else {
                format!("it runs to the end of the file, over {lines} lines")
            },
        },
        None => {
            let line = e.position().map_or(row_line, |p| p.line());
            DataError::Csv { path, line, message: e.to_string() }
        }
    }
}

impl<R: Read> Iterator for CsvRows<R> {
    type Item = Result<RawRow, DataError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let start_line = self.reader.position().line();
        let mut record = std::mem::take(&mut self.record);
        let read = self.reader.read_byte_record(&mut record);
        self.record = record;
        match read {
            Ok(true) => Some(self.row()),
            Ok(false) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                Some(Err(read_error(&self.path, &self.reader, self.max_row_bytes, start_line, &e)))
            }
        }
    }
}
