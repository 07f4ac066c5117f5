//! CSV and TSV rows through the `csv` crate, as raw bytes so that bad UTF-8 is reported per field.

use super::{Columns, DEFAULT_TEXT_COLUMNS, Format, RawLabel, RawRow, non_empty};
use crate::DataError;
use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};

/// Rows of a delimited file with a header.
pub struct CsvRows {
    path: PathBuf,
    reader: csv::Reader<BufReader<File>>,
    header: Vec<String>,
    text: (usize, String),
    pair: Option<(usize, String)>,
    /// `None` when reading texts only.
    label: Option<(usize, String)>,
    record: csv::ByteRecord,
    done: bool,
}

impl CsvRows {
    /// Opens the file and finds the columns; without `with_label`, the label column is not looked for.
    pub fn open(path: &Path, format: Format, columns: &Columns, with_label: bool) -> Result<Self, DataError> {
        let file = File::open(path).map_err(DataError::io(path))?;
        let mut reader = csv::ReaderBuilder::new()
            .delimiter(if format == Format::Tsv { b'\t' } else { b',' })
            .quoting(format == Format::Csv)
            .flexible(true)
            .has_headers(true)
            .from_reader(BufReader::with_capacity(1 << 16, file));
        let header: Vec<String> = reader
            .byte_headers()
            .map_err(|e| csv_error(path, &e))?
            .iter()
            .map(|h| String::from_utf8_lossy(h).trim().to_string())
            .collect();
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
        Ok(Self {
            path: path.to_path_buf(),
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
    pub fn text_column(&self) -> &str {
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

    fn row(&self) -> Result<RawRow, DataError> {
        let line = self.record.position().map_or(0, |p| p.line());
        if self.record.len() != self.header.len() {
            return Err(DataError::WrongFieldCount {
                path: self.path.clone(),
                line,
                found: self.record.len(),
                expected: self.header.len(),
                header: self.header.clone(),
            });
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
}

fn csv_error(path: &Path, e: &csv::Error) -> DataError {
    let line = e.position().map_or(0, |p| p.line());
    DataError::Csv { path: path.to_path_buf(), line, message: e.to_string() }
}

impl Iterator for CsvRows {
    type Item = Result<RawRow, DataError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
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
                Some(Err(csv_error(&self.path, &e)))
            }
        }
    }
}
