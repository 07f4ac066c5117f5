//! Tagged sentences as JSON Lines: `{"tokens": ["EU", "rejects"], "tags": ["B-ORG", "O"]}`, one object
//! per line. The tags may be under `tags` or `ner_tags` (what HF `datasets` writes for CoNLL-2003),
//! as strings, or as integer ids into label names given with the options.

use super::lines::{Line, read_line};
use super::sniff::{Sniffed, sniff};
use super::tagged::{RawTag, TaggedRow};
use crate::DataError;
use serde_json::{Map, Value};
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

/// The key of the words.
pub(crate) const TOKENS_KEY: &str = "tokens";
/// The keys tried for the tags, in order.
pub(crate) const TAGS_KEYS: [&str; 2] = ["tags", "ner_tags"];

/// Sentences of a tagged JSONL file.
pub(crate) struct TaggedJsonlRows<R: Read> {
    path: PathBuf,
    reader: BufReader<Sniffed<R>>,
    max_row_bytes: usize,
    with_tags: bool,
    line: u64,
    buf: Vec<u8>,
    done: bool,
}

impl<R: Read> TaggedJsonlRows<R> {
    /// Sentences of `reader` (named `path` in messages).
    pub(crate) fn new(path: &Path, reader: R, with_tags: bool, max_row_bytes: usize) -> Result<Self, DataError> {
        Ok(Self {
            path: path.to_path_buf(),
            reader: BufReader::with_capacity(1 << 16, sniff(path, reader)?),
            max_row_bytes,
            with_tags,
            line: 0,
            buf: Vec::new(),
            done: false,
        })
    }

    fn bad(&self, problem: String) -> DataError {
        DataError::BadTags { path: self.path.clone(), line: self.line, problem }
    }

    fn row(&self) -> Result<TaggedRow, DataError> {
        let text = std::str::from_utf8(&self.buf).map_err(|e| DataError::InvalidUtf8 {
            path: self.path.clone(),
            line: self.line,
            column: "(whole line)".into(),
            byte: e.valid_up_to(),
        })?;
        let obj = match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(obj)) => obj,
            Ok(_) => {
                return Err(self.bad(format!("not a JSON object; each line must be one object such as {}", example())));
            }
            Err(e) => {
                return Err(self.bad(format!("not JSON ({e}); each line must be one object such as {}", example())));
            }
        };
        let words = match obj.get(TOKENS_KEY) {
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| match v {
                    Value::String(s) => Ok(s.clone()),
                    other => Err(self.bad(format!("`{TOKENS_KEY}` holds {other}, expected strings only"))),
                })
                .collect::<Result<Vec<_>, _>>()?,
            Some(other) => return Err(self.bad(format!("`{TOKENS_KEY}` is {other}, expected a list of strings"))),
            None => return Err(self.missing(&obj, TOKENS_KEY)),
        };
        if words.is_empty() {
            return Err(self.bad(format!("`{TOKENS_KEY}` is empty; remove the row, or pass --skip-bad-rows")));
        }
        let tags = if self.with_tags { self.tags(&obj)? } else { Vec::new() };
        if self.with_tags && tags.len() != words.len() {
            return Err(DataError::TagCountMismatch {
                path: self.path.clone(),
                line: self.line,
                tokens: words.len(),
                tags: tags.len(),
            });
        }
        Ok(TaggedRow { line: self.line, words, tags })
    }

    fn missing(&self, obj: &Map<String, Value>, key: &str) -> DataError {
        DataError::MissingKey {
            path: self.path.clone(),
            line: self.line,
            key: key.into(),
            available: obj.keys().cloned().collect(),
        }
    }

    fn tags(&self, obj: &Map<String, Value>) -> Result<Vec<RawTag>, DataError> {
        let Some((key, value)) = TAGS_KEYS.iter().find_map(|k| obj.get(*k).map(|v| (*k, v))) else {
            return Err(self.missing(obj, &TAGS_KEYS.join("` or `")));
        };
        let Value::Array(items) = value else {
            return Err(self.bad(format!("`{key}` is {value}, expected a list of tags")));
        };
        items
            .iter()
            .map(|v| match v {
                Value::String(s) => Ok(RawTag::Name(s.clone())),
                Value::Number(n) => n.as_u64().map(RawTag::Id).ok_or_else(|| {
                    self.bad(format!("`{key}` holds {n}, expected a tag name or a non-negative integer id"))
                }),
                other => Err(self.bad(format!("`{key}` holds {other}, expected tag names (strings) or integer ids"))),
            })
            .collect()
    }
}

fn example() -> &'static str {
    "{\"tokens\": [\"EU\", \"rejects\"], \"tags\": [\"B-ORG\", \"O\"]}"
}

impl<R: Read> Iterator for TaggedJsonlRows<R> {
    type Item = Result<TaggedRow, DataError>;

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

#[cfg(test)]
mod tests {
    use super::*;

    /// A sentence read: its line, words and tags.
    type Sentence = (u64, Vec<String>, Vec<String>);

    fn read(input: &str) -> Vec<Result<Sentence, String>> {
        TaggedJsonlRows::new(Path::new("t.jsonl"), input.as_bytes(), true, 1 << 20)
            .unwrap()
            .map(|r| {
                r.map(|row| (row.line, row.words, row.tags.iter().map(ToString::to_string).collect()))
                    .map_err(|e| e.to_string())
            })
            .collect()
    }

    #[test]
    fn names_ids_and_both_keys() {
        let got = read(concat!(
            "{\"tokens\": [\"EU\", \"rejects\"], \"tags\": [\"B-ORG\", \"O\"]}\n",
            "\n",
            "{\"id\": \"0\", \"tokens\": [\"Peter\"], \"ner_tags\": [1], \"pos_tags\": [22]}\n",
        ));
        let s = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(got, [Ok((1, s(&["EU", "rejects"]), s(&["B-ORG", "O"]))), Ok((3, s(&["Peter"]), s(&["1"])))]);
    }

    #[test]
    fn bad_rows_name_their_line() {
        let got = read(concat!(
            "{\"tokens\": [\"a\", \"b\"], \"tags\": [\"O\"]}\n",
            "{\"tokens\": [\"a\"]}\n",
            "{\"tokens\": \"a b\", \"tags\": [\"O\"]}\n",
            "{\"tokens\": [\"a\"], \"tags\": [-1]}\n",
            "{\"tokens\": [], \"tags\": []}\n",
            "[1]\n",
            "{\"tokens\": [\"ok\"], \"tags\": [\"O\"]}\n",
        ));
        let err = |i: usize| got[i].clone().unwrap_err();
        assert_eq!(err(0), "t.jsonl:1: 2 tokens but 1 tags; give one tag per token, or pass --skip-bad-rows");
        assert_eq!(
            err(1),
            "t.jsonl:2: no key `tags` or `ner_tags` in this row (keys: tokens); add it, or pass --skip-bad-rows"
        );
        assert!(err(2).starts_with("t.jsonl:3: `tokens` is \"a b\", expected a list of strings"), "{}", err(2));
        assert!(err(3).starts_with("t.jsonl:4: `tags` holds -1"), "{}", err(3));
        assert!(err(4).starts_with("t.jsonl:5: `tokens` is empty"), "{}", err(4));
        assert!(err(5).starts_with("t.jsonl:6: not a JSON object"), "{}", err(5));
        assert!(got[6].is_ok());
    }
}
