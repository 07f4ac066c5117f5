//! JSON Lines rows: one object per line, read line by line (blank lines skipped), each line at most
//! the row size limit.

use super::lines::{Line, read_line};
use super::sniff::{Sniffed, sniff};
use super::{Columns, DEFAULT_TEXT_COLUMNS, RawLabel, RawRow, check_distinct, non_empty};
use crate::DataError;
use serde_json::{Map, Value};
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

/// Rows of a JSONL file.
pub(crate) struct JsonlRows<R: Read> {
    path: PathBuf,
    reader: BufReader<Sniffed<R>>,
    max_row_bytes: usize,
    columns: Columns,
    /// Whether the label key is read (not when reading texts only).
    with_label: bool,
    /// Resolved from the first row when `--text-column` is not given.
    text_column: Option<String>,
    line: u64,
    buf: Vec<u8>,
    done: bool,
}

impl<R: Read> JsonlRows<R> {
    /// Rows of `reader` (named `path` in messages); without `with_label`, the label key is not read.
    pub(crate) fn new(
        path: &Path,
        reader: R,
        columns: &Columns,
        with_label: bool,
        max_row_bytes: usize,
    ) -> Result<Self, DataError> {
        // The keys named by flags can be checked now; a default text key once the first row shows it.
        if let Some(text) = &columns.text {
            check_distinct(text, false, columns.text_pair.as_deref(), with_label.then_some(columns.label.as_str()))?;
        }
        Ok(Self {
            path: path.to_path_buf(),
            reader: BufReader::with_capacity(1 << 16, sniff(path, reader)?),
            max_row_bytes,
            columns: columns.clone(),
            with_label,
            text_column: columns.text.clone(),
            line: 0,
            buf: Vec::new(),
            done: false,
        })
    }

    /// The text column in use, once known.
    pub(crate) fn text_column(&self) -> Option<&str> {
        self.text_column.as_deref()
    }

    fn keys(obj: &Map<String, Value>) -> Vec<String> {
        obj.keys().cloned().collect()
    }

    fn text(&self, obj: &Map<String, Value>, key: &str) -> Result<String, DataError> {
        match obj.get(key) {
            Some(Value::String(s)) => non_empty(&self.path, self.line, key, s.clone()),
            Some(Value::Null) => {
                Err(DataError::EmptyText { path: self.path.clone(), line: self.line, column: key.into() })
            }
            Some(other) => Err(DataError::Json {
                path: self.path.clone(),
                line: self.line,
                message: format!("key `{key}` holds {other}, expected a string"),
            }),
            None => Err(DataError::MissingKey {
                path: self.path.clone(),
                line: self.line,
                key: key.into(),
                available: Self::keys(obj),
            }),
        }
    }

    fn label(&self, obj: &Map<String, Value>) -> Result<RawLabel, DataError> {
        let key = &self.columns.label;
        let bad = |label: String, problem: &str| DataError::BadLabel {
            path: self.path.clone(),
            line: self.line,
            column: key.clone(),
            label,
            problem: problem.into(),
        };
        let scalar = |v: &Value| match v {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        };
        match obj.get(key) {
            None => Err(DataError::MissingKey {
                path: self.path.clone(),
                line: self.line,
                key: key.clone(),
                available: Self::keys(obj),
            }),
            Some(Value::String(s)) => Ok(RawLabel::JsonString(s.clone())),
            Some(Value::Bool(b)) => Ok(RawLabel::JsonString(b.to_string())),
            Some(Value::Number(n)) => Ok(RawLabel::JsonNumber { text: n.to_string(), is_float: n.is_f64() }),
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| {
                    scalar(v).ok_or_else(|| {
                        bad(Value::Array(items.clone()).to_string(), "holds a list item that is not a string or number")
                    })
                })
                .collect::<Result<Vec<_>, _>>()
                .map(RawLabel::JsonList),
            Some(v @ Value::Null) | Some(v @ Value::Object(_)) => {
                Err(bad(v.to_string(), "is not a string, number or list"))
            }
        }
    }

    fn row(&mut self) -> Result<RawRow, DataError> {
        let text = match std::str::from_utf8(&self.buf) {
            Ok(t) => t,
            Err(e) => {
                return Err(DataError::InvalidUtf8 {
                    path: self.path.clone(),
                    line: self.line,
                    column: "(whole line)".into(),
                    byte: e.valid_up_to(),
                });
            }
        };
        let obj = match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(obj)) => obj,
            Ok(other) => {
                return Err(DataError::Json {
                    path: self.path.clone(),
                    line: self.line,
                    message: format!("found {}", kind(&other)),
                });
            }
            Err(e) => return Err(DataError::Json { path: self.path.clone(), line: self.line, message: e.to_string() }),
        };
        let text_key = match &self.text_column {
            Some(k) => k.clone(),
            None => {
                let found = DEFAULT_TEXT_COLUMNS.iter().find(|k| obj.contains_key(**k)).ok_or_else(|| {
                    DataError::MissingColumn {
                        path: self.path.clone(),
                        line: self.line,
                        column: DEFAULT_TEXT_COLUMNS.join("` or `"),
                        available: Self::keys(&obj),
                        fix: "name the text key with --text-column".into(),
                    }
                })?;
                let with_label = self.with_label.then_some(self.columns.label.as_str());
                check_distinct(found, true, self.columns.text_pair.as_deref(), with_label)?;
                self.text_column = Some(found.to_string());
                found.to_string()
            }
        };
        let text = self.text(&obj, &text_key)?;
        let pair = match &self.columns.text_pair {
            Some(k) => Some(self.text(&obj, k)?),
            None => None,
        };
        let label = if self.with_label { self.label(&obj)? } else { RawLabel::Field(String::new()) };
        Ok(RawRow { line: self.line, text, pair, label })
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

impl<R: Read> Iterator for JsonlRows<R> {
    type Item = Result<RawRow, DataError>;

    fn next(&mut self) -> Option<Self::Item> {
        while !self.done {
            let read = read_line(&mut self.reader, &mut self.buf, self.max_row_bytes);
            self.line += 1;
            match read {
                Ok(Line::Eof) => self.done = true,
                Ok(Line::Read) if self.buf.iter().all(u8::is_ascii_whitespace) => continue,
                Ok(Line::Read) => return Some(self.row()),
                Ok(Line::TooLong) => {
                    self.done = true;
                    let limit = self.max_row_bytes;
                    return Some(Err(DataError::RowTooLong { path: self.path.clone(), line: self.line, limit }));
                }
                Err(e) => {
                    self.done = true;
                    return Some(Err(DataError::Io { path: self.path.clone(), source: e }));
                }
            }
        }
        None
    }
}
