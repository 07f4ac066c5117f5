//! Question answering files: SQuAD v1.1 JSON (`{"data": [{"title", "paragraphs": [{"context", "qas":
//! [{"id", "question", "answers": [{"text", "answer_start"}]}]}]}]}`) and the JSON Lines HF `datasets`
//! writes for SQuAD (`{"id", "title", "context", "question", "answers": {"text": [...],
//! "answer_start": [...]}}`, one question per line).
//!
//! Every answer is checked: `answer_start` (in characters of the context, as Python indexes strings)
//! must point at the answer's text. A question that fails is an error naming its line (JSONL) or its
//! JSON path (`data[3].paragraphs[0].qas[7]`), never skipped silently; with `--skip-bad-rows` the
//! caller counts and reports it instead.

use super::lines::{Line, read_line};
use super::sniff::{Sniffed, sniff};
use crate::DataError;
use serde_json::{Map, Value};
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

/// A gold answer: its text and where it starts in the context.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QaAnswer {
    /// The answer as written in the file.
    pub text: String,
    /// Its first character in the context (Unicode scalar values).
    pub start: usize,
}

/// One question about one context.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QaExample {
    /// The question's id (`id`; generated from its place when the file has none).
    pub id: String,
    /// The article's title (may be empty).
    pub title: String,
    /// The text the answer is cut from.
    pub context: String,
    /// The question.
    pub question: String,
    /// The gold answers (SQuAD's dev set has several per question); empty for a file read for
    /// prediction only.
    pub answers: Vec<QaAnswer>,
    /// Where it is: `line 12` (JSONL) or `data[0].paragraphs[3].qas[1]` (SQuAD JSON).
    pub at: String,
}

fn bad(path: &Path, at: &str, problem: impl Into<String>) -> DataError {
    DataError::BadQa { path: path.to_path_buf(), at: at.to_string(), problem: problem.into() }
}

fn string(obj: &Map<String, Value>, key: &str, path: &Path, at: &str) -> Result<String, DataError> {
    match obj.get(key) {
        Some(Value::String(s)) => Ok(s.clone()),
        Some(other) => Err(bad(path, at, format!("`{key}` is {other}, expected a string"))),
        None => Err(bad(
            path,
            at,
            format!(
                "no key `{key}` (keys: {}); add it, or pass --skip-bad-rows",
                obj.keys().cloned().collect::<Vec<_>>().join(", ")
            ),
        )),
    }
}

/// Checks that every answer's start points at its text in `context`.
fn check_answers(context: &str, answers: &[QaAnswer], path: &Path, at: &str) -> Result<(), DataError> {
    let chars: Vec<char> = context.chars().collect();
    for (k, a) in answers.iter().enumerate() {
        let n = a.text.chars().count();
        let found: String = chars.get(a.start..a.start + n).map(|s| s.iter().collect()).unwrap_or_default();
        if a.start + n > chars.len() || found != a.text {
            let shown: String = chars.iter().skip(a.start).take(n.max(1)).collect();
            return Err(bad(
                path,
                at,
                format!(
                    "answer {k}: answer_start {} points at {shown:?}, not at the answer {:?} (the context has {} characters; answer_start counts characters from 0); fix the offset, or pass --skip-bad-rows",
                    a.start,
                    a.text,
                    chars.len()
                ),
            ));
        }
    }
    Ok(())
}

fn start_of(v: &Value, path: &Path, at: &str) -> Result<usize, DataError> {
    v.as_u64()
        .map(|n| n as usize)
        .ok_or_else(|| bad(path, at, format!("answer_start is {v}, expected a non-negative integer")))
}

/// A `datasets`-style row: `answers` is `{"text": [...], "answer_start": [...]}`; a SQuAD-style list of
/// `{"text", "answer_start"}` objects is read too.
fn answers_of(obj: &Map<String, Value>, path: &Path, at: &str) -> Result<Vec<QaAnswer>, DataError> {
    match obj.get("answers") {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Object(a)) => {
            let list = |key: &str| match a.get(key) {
                Some(Value::Array(v)) => Ok(v.clone()),
                other => {
                    Err(bad(path, at, format!("answers.{key} is {}, expected a list", other.unwrap_or(&Value::Null))))
                }
            };
            let (texts, starts) = (list("text")?, list("answer_start")?);
            if texts.len() != starts.len() {
                return Err(bad(
                    path,
                    at,
                    format!(
                        "answers has {} texts but {} answer_start values; give one start per text",
                        texts.len(),
                        starts.len()
                    ),
                ));
            }
            texts
                .iter()
                .zip(&starts)
                .map(|(t, s)| match t {
                    Value::String(text) => Ok(QaAnswer { text: text.clone(), start: start_of(s, path, at)? }),
                    other => Err(bad(path, at, format!("answers.text holds {other}, expected strings"))),
                })
                .collect()
        }
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(k, item)| {
                let Value::Object(o) = item else {
                    return Err(bad(
                        path,
                        at,
                        format!("answers[{k}] is {item}, expected {{\"text\", \"answer_start\"}}"),
                    ));
                };
                let text = string(o, "text", path, &format!("{at}.answers[{k}]"))?;
                let start =
                    start_of(o.get("answer_start").unwrap_or(&Value::Null), path, &format!("{at}.answers[{k}]"))?;
                Ok(QaAnswer { text, start })
            })
            .collect(),
        Some(other) => {
            Err(bad(path, at, format!("`answers` is {other}, expected {{\"text\": [...], \"answer_start\": [...]}}")))
        }
    }
}

/// Every question of a SQuAD v1.1 JSON document (`bytes`, named `path` in messages), in file order:
/// each an example or the error of that question (bad rows are reported, not skipped, here).
pub fn read_squad_json(path: &Path, bytes: &[u8]) -> Result<Vec<Result<QaExample, DataError>>, DataError> {
    let doc: Value = serde_json::from_slice(bytes)
        .map_err(|e| bad(path, &format!("line {}", e.line()), format!("not JSON ({e})")))?;
    let Some(data) = doc.get("data").and_then(Value::as_array) else {
        return Err(bad(
            path,
            "(top level)",
            "no `data` list: a SQuAD file is {\"data\": [{\"title\", \"paragraphs\": [{\"context\", \"qas\": [...]}]}]}",
        ));
    };
    let mut out = Vec::new();
    for (i, article) in data.iter().enumerate() {
        let at_article = format!("data[{i}]");
        let Some(article) = article.as_object() else {
            out.push(Err(bad(path, &at_article, "expected an object with `title` and `paragraphs`")));
            continue;
        };
        let title = article.get("title").and_then(Value::as_str).unwrap_or_default().to_string();
        let Some(paragraphs) = article.get("paragraphs").and_then(Value::as_array) else {
            out.push(Err(bad(path, &at_article, "no `paragraphs` list")));
            continue;
        };
        for (j, paragraph) in paragraphs.iter().enumerate() {
            let at_paragraph = format!("{at_article}.paragraphs[{j}]");
            let Some(paragraph) = paragraph.as_object() else {
                out.push(Err(bad(path, &at_paragraph, "expected an object with `context` and `qas`")));
                continue;
            };
            let context = match string(paragraph, "context", path, &at_paragraph) {
                Ok(c) => c,
                Err(e) => {
                    out.push(Err(e));
                    continue;
                }
            };
            let Some(qas) = paragraph.get("qas").and_then(Value::as_array) else {
                out.push(Err(bad(path, &at_paragraph, "no `qas` list")));
                continue;
            };
            for (k, qa) in qas.iter().enumerate() {
                let at = format!("{at_paragraph}.qas[{k}]");
                let example = (|| {
                    let Some(qa) = qa.as_object() else {
                        return Err(bad(path, &at, "expected an object with `id`, `question` and `answers`"));
                    };
                    let question = string(qa, "question", path, &at)?;
                    let id = qa.get("id").and_then(Value::as_str).map(str::to_string).unwrap_or_else(|| at.clone());
                    let answers = answers_of(qa, path, &at)?;
                    check_answers(&context, &answers, path, &at)?;
                    Ok(QaExample {
                        id,
                        title: title.clone(),
                        context: context.clone(),
                        question,
                        answers,
                        at: at.clone(),
                    })
                })();
                out.push(example);
            }
        }
    }
    Ok(out)
}

/// Whether `head` (a file's first bytes) starts a SQuAD v1.1 JSON document: an object whose first key
/// is `data` or `version`.
fn is_squad_json_head(head: &[u8]) -> bool {
    let text = String::from_utf8_lossy(head);
    let rest = text.trim_start_matches('\u{feff}').trim_start();
    let Some(rest) = rest.strip_prefix('{') else { return false };
    let rest = rest.trim_start();
    rest.starts_with("\"data\"") || rest.starts_with("\"version\"")
}

/// Whether `path` is a SQuAD v1.1 JSON document (a `.json` file whose top-level object starts with
/// `data` or `version`) rather than JSON Lines.
fn is_squad_json(path: &Path) -> Result<bool, DataError> {
    if !path.extension().is_some_and(|e| e.eq_ignore_ascii_case("json")) {
        return Ok(false);
    }
    let mut head = Vec::new();
    std::fs::File::open(path).and_then(|f| f.take(4096).read_to_end(&mut head)).map_err(DataError::io(path))?;
    Ok(is_squad_json_head(&head))
}

/// Whether `path` holds questions with contexts (extractive QA): a SQuAD v1.1 JSON document, or JSON
/// Lines whose first row has `question` and `context` keys. A CSV, TSV or CoNLL file never does.
pub fn is_qa_file(path: &Path, max_row_bytes: usize) -> Result<bool, DataError> {
    if is_squad_json(path)? {
        return Ok(true);
    }
    let ext = path.extension().map(|e| e.to_string_lossy().to_ascii_lowercase()).unwrap_or_default();
    if !matches!(ext.as_str(), "jsonl" | "json" | "ndjson") {
        return Ok(false);
    }
    let file = std::fs::File::open(path).map_err(DataError::io(path))?;
    Ok(super::tagged::first_data_line(path, file, max_row_bytes, false)?
        .and_then(|line| serde_json::from_str::<Value>(&line).ok())
        .is_some_and(|v| v.get("question").is_some() && v.get("context").is_some()))
}

/// Every question of a QA file, in file order, each an example or the error of that question: SQuAD
/// v1.1 JSON for a `.json` file whose top-level object starts with `data` (or `version`), else
/// `datasets` JSON Lines (rows longer than `max_row_bytes` are errors).
pub fn read_qa_file(path: &Path, max_row_bytes: usize) -> Result<Vec<Result<QaExample, DataError>>, DataError> {
    if is_squad_json(path)? {
        let bytes = std::fs::read(path).map_err(DataError::io(path))?;
        read_squad_json(path, &bytes)
    } else {
        let file = std::fs::File::open(path).map_err(DataError::io(path))?;
        Ok(SquadJsonlRows::new(path, file, max_row_bytes)?.collect())
    }
}

/// The questions of a JSON Lines file, one object per line, streamed.
pub struct SquadJsonlRows<R: Read> {
    path: PathBuf,
    reader: BufReader<Sniffed<R>>,
    max_row_bytes: usize,
    line: u64,
    buf: Vec<u8>,
    done: bool,
}

impl<R: Read> SquadJsonlRows<R> {
    /// Questions of `reader` (named `path` in messages); rows longer than `max_row_bytes` are errors.
    pub fn new(path: &Path, reader: R, max_row_bytes: usize) -> Result<Self, DataError> {
        Ok(Self {
            path: path.to_path_buf(),
            reader: BufReader::with_capacity(1 << 16, sniff(path, reader)?),
            max_row_bytes,
            line: 0,
            buf: Vec::new(),
            done: false,
        })
    }

    fn row(&self) -> Result<QaExample, DataError> {
        let at = format!("line {}", self.line);
        let path = self.path.as_path();
        let text = std::str::from_utf8(&self.buf).map_err(|e| DataError::InvalidUtf8 {
            path: self.path.clone(),
            line: self.line,
            column: "(whole line)".into(),
            byte: e.valid_up_to(),
        })?;
        let obj = match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(obj)) => obj,
            Ok(_) | Err(_) => {
                return Err(bad(
                    path,
                    &at,
                    "not a JSON object; each line must be one object such as {\"id\": \"1\", \"context\": \"…\", \"question\": \"…\", \"answers\": {\"text\": [\"…\"], \"answer_start\": [0]}}",
                ));
            }
        };
        let context = string(&obj, "context", path, &at)?;
        let question = string(&obj, "question", path, &at)?;
        let id = match obj.get("id") {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            _ => at.clone(),
        };
        let title = obj.get("title").and_then(Value::as_str).unwrap_or_default().to_string();
        let answers = answers_of(&obj, path, &at)?;
        check_answers(&context, &answers, path, &at)?;
        Ok(QaExample { id, title, context, question, answers, at })
    }
}

impl<R: Read> Iterator for SquadJsonlRows<R> {
    type Item = Result<QaExample, DataError>;

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

    fn jsonl(input: &str) -> Vec<Result<QaExample, String>> {
        SquadJsonlRows::new(Path::new("q.jsonl"), input.as_bytes(), 1 << 20)
            .unwrap()
            .map(|r| r.map_err(|e| e.to_string()))
            .collect()
    }

    #[test]
    fn datasets_rows_with_character_offsets() {
        let got = jsonl(concat!(
            "{\"id\": \"a\", \"title\": \"T\", \"context\": \"Café in Zürich\", \"question\": \"Where?\", ",
            "\"answers\": {\"text\": [\"Zürich\", \"in Zürich\"], \"answer_start\": [8, 5]}}\n",
            "\n",
            "{\"context\": \"x\", \"question\": \"y\"}\n",
        ));
        let a = got[0].as_ref().unwrap();
        assert_eq!((a.id.as_str(), a.title.as_str(), a.at.as_str()), ("a", "T", "line 1"));
        assert_eq!(
            a.answers,
            [QaAnswer { text: "Zürich".into(), start: 8 }, QaAnswer { text: "in Zürich".into(), start: 5 }]
        );
        let b = got[1].as_ref().unwrap();
        assert_eq!((b.id.as_str(), b.answers.len()), ("line 3", 0), "no answers: read for prediction");
    }

    #[test]
    fn a_start_that_misses_the_answer_names_the_line() {
        let got = jsonl(concat!(
            "{\"id\": \"a\", \"context\": \"Café in Zürich\", \"question\": \"Where?\", ",
            "\"answers\": {\"text\": [\"Zürich\"], \"answer_start\": [9]}}\n",
            "{\"id\": \"b\", \"context\": \"abc\", \"question\": \"q\", \"answers\": {\"text\": [\"c\", \"d\"], \"answer_start\": [2]}}\n",
            "{\"id\": \"c\", \"context\": \"abc\", \"question\": \"q\", \"answers\": {\"text\": [\"bcd\"], \"answer_start\": [1]}}\n",
            "{\"id\": \"d\", \"question\": \"q\"}\n",
        ));
        let err = |i: usize| got[i].clone().unwrap_err();
        assert!(
            err(0).starts_with(
                "q.jsonl: line 1: answer 0: answer_start 9 points at \"ürich\", not at the answer \"Zürich\""
            ),
            "{}",
            err(0)
        );
        assert!(err(1).contains("line 2: answers has 2 texts but 1 answer_start values"), "{}", err(1));
        assert!(err(2).contains("line 3: answer 0: answer_start 1 points at \"bc\""), "{}", err(2));
        assert!(err(3).contains("line 4: no key `context` (keys: id, question)"), "{}", err(3));
    }

    #[test]
    fn squad_json_with_paths_in_errors() {
        let doc = r#"{"version": "1.1", "data": [{"title": "Broncos", "paragraphs": [{"context": "The Denver Broncos won.",
            "qas": [{"id": "q1", "question": "Who won?", "answers": [{"text": "Denver Broncos", "answer_start": 4}, {"text": "The Denver Broncos", "answer_start": 0}]},
                    {"id": "q2", "question": "Who?", "answers": [{"text": "Broncos", "answer_start": 3}]}]}]}]}"#;
        let got = read_squad_json(Path::new("dev.json"), doc.as_bytes()).unwrap();
        let q1 = got[0].as_ref().unwrap();
        assert_eq!((q1.id.as_str(), q1.title.as_str(), q1.answers.len()), ("q1", "Broncos", 2));
        assert_eq!(q1.at, "data[0].paragraphs[0].qas[0]");
        let e = got[1].as_ref().unwrap_err().to_string();
        assert!(
            e.starts_with("dev.json: data[0].paragraphs[0].qas[1]: answer 0: answer_start 3 points at \" Denver\""),
            "{e}"
        );
        let e = read_squad_json(Path::new("x.json"), b"{\"version\": \"1.1\"}").unwrap_err().to_string();
        assert!(e.contains("no `data` list"), "{e}");
    }
}
