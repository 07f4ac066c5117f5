//! JSON Lines rows: one object per line, read line by line (blank lines skipped).

use super::{Columns, DEFAULT_TEXT_COLUMNS, RawLabel, RawRow, non_empty};
use crate::DataError;
use serde_json::{Map, Value};
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

/// Rows of a JSONL file.
pub struct JsonlRows {
    path: PathBuf,
    reader: BufReader<File>,
    columns: Columns,
    /// Whether the label key is read (not when reading texts only).
    with_label: bool,
    /// Resolved from the first row when `--text-column` is not given.
    text_column: Option<String>,
    line: u64,
    buf: Vec<u8>,
}

impl JsonlRows {
    /// Opens the file; without `with_label`, the label key is not read.
    pub fn open(path: &Path, columns: &Columns, with_label: bool) -> Result<Self, DataError> {
        let file = File::open(path).map_err(DataError::io(path))?;
        Ok(Self {
            path: path.to_path_buf(),
            reader: BufReader::with_capacity(1 << 16, file),
            columns: columns.clone(),
            with_label,
            text_column: columns.text.clone(),
            line: 0,
            buf: Vec::new(),
        })
    }

    /// The text column in use, once known.
    pub fn text_column(&self) -> Option<&str> {
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
        // A UTF-8 byte order mark before the first object is not part of it.
        let bytes =
            if self.line == 1 { self.buf.strip_prefix(b"\xef\xbb\xbf").unwrap_or(&self.buf) } else { &self.buf };
        let text = match std::str::from_utf8(bytes) {
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

impl Iterator for JsonlRows {
    type Item = Result<RawRow, DataError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            self.buf.clear();
            match self.reader.read_until(b'\n', &mut self.buf) {
                Ok(0) => return None,
                Ok(_) => {
                    self.line += 1;
                    if self.buf.iter().all(u8::is_ascii_whitespace) {
                        continue;
                    }
                    return Some(self.row());
                }
                Err(e) => return Some(Err(DataError::Io { path: self.path.clone(), source: e })),
            }
        }
    }
}
