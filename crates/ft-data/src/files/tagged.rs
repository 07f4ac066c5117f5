//! Token-tagged sentences (NER, dialogue slots): CoNLL columns ([`Format::Conll`]) or JSON Lines with
//! `tokens` and `tags`/`ner_tags` lists, read as [`TaggedRow`]s with the same row size limit and
//! file:line errors as the sentence readers.
//!
//! Which files are tagged ([`is_tagged_file`]): a `.conll` file, a `.txt` file whose first line of
//! data has at least two whitespace-separated columns, a file read with `format: Some(Conll)`, and a
//! JSONL file whose first object has a `tokens` key. CSV and TSV files are never tagged.

use super::conll::ConllRows;
use super::lines::{Line, read_line, trim_newline};
use super::tagged_jsonl::{TOKENS_KEY, TaggedJsonlRows};
use super::{DEFAULT_MAX_ROW_BYTES, Format};
use crate::DataError;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

/// Where the token and the tag are on a CoNLL line (0-based column indices).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TagColumns {
    /// The token column (`--token-column`, default 0: the first).
    pub token: usize,
    /// The tag column (`--tag-column`); `None` is the last column of each line.
    pub tag: Option<usize>,
}

impl TagColumns {
    /// Refuses a tag column that is the token column.
    pub fn check(&self) -> Result<(), DataError> {
        match self.tag {
            Some(tag) if tag == self.token => Err(DataError::Options(format!(
                "--token-column and --tag-column are both column {tag}: the model would be trained to read its tags; name two different columns"
            ))),
            _ => Ok(()),
        }
    }
}

/// A tag as the file wrote it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RawTag {
    /// A tag name (`B-PER`, `O`).
    Name(String),
    /// An integer id into label names given with the options (`ner_tags` of HF `datasets`).
    Id(u64),
}

impl std::fmt::Display for RawTag {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Name(s) => f.write_str(s),
            Self::Id(n) => write!(f, "{n}"),
        }
    }
}

/// One tagged sentence: its words and (unless reading for prediction) one tag per word.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaggedRow {
    /// Line where the sentence starts (1-based).
    pub line: u64,
    /// The words (CoNLL tokens), as written.
    pub words: Vec<String>,
    /// One tag per word; empty when tags are not read.
    pub tags: Vec<RawTag>,
}

/// Streams the sentences of one tagged file.
pub struct TaggedReader<R: Read = File> {
    inner: Inner<R>,
}

enum Inner<R: Read> {
    Conll(Box<ConllRows<R>>),
    Jsonl(Box<TaggedJsonlRows<R>>),
}

impl TaggedReader<File> {
    /// Opens `path` (tags read) with a row size limit; `format` `None` goes by the file name.
    pub fn open(
        path: &Path,
        format: Option<Format>,
        columns: TagColumns,
        max_row_bytes: usize,
    ) -> Result<Self, DataError> {
        Self::open_inner(path, format, columns, true, max_row_bytes)
    }

    /// Opens `path` for its words only (prediction): the tag column is neither required nor read.
    pub fn open_words(
        path: &Path,
        format: Option<Format>,
        columns: TagColumns,
        max_row_bytes: usize,
    ) -> Result<Self, DataError> {
        Self::open_inner(path, format, columns, false, max_row_bytes)
    }

    fn open_inner(
        path: &Path,
        format: Option<Format>,
        columns: TagColumns,
        with_tags: bool,
        max_row_bytes: usize,
    ) -> Result<Self, DataError> {
        let format = match format {
            Some(f) => f,
            None => Format::from_path(path)?,
        };
        let file = File::open(path).map_err(DataError::io(path))?;
        TaggedReader::new(path, file, format, columns, with_tags, max_row_bytes)
    }
}

impl<R: Read> TaggedReader<R> {
    /// The sentences of `reader`, a whole file's bytes in `format` (CoNLL or JSONL); `name` stands
    /// for it in messages.
    pub fn new(
        name: &Path,
        reader: R,
        format: Format,
        columns: TagColumns,
        with_tags: bool,
        max_row_bytes: usize,
    ) -> Result<Self, DataError> {
        if max_row_bytes == 0 {
            return Err(DataError::Options(format!(
                "--max-row-bytes 0: every row would be too long; use a positive limit (the default is {DEFAULT_MAX_ROW_BYTES})"
            )));
        }
        let inner = match format {
            Format::Conll => Inner::Conll(Box::new(ConllRows::new(name, reader, columns, with_tags, max_row_bytes)?)),
            Format::Jsonl => Inner::Jsonl(Box::new(TaggedJsonlRows::new(name, reader, with_tags, max_row_bytes)?)),
            Format::Csv | Format::Tsv => {
                return Err(DataError::Options(format!(
                    "{}: token tags are read from CoNLL columns or JSONL ({{\"tokens\": [...], \"tags\": [...]}}), not CSV/TSV",
                    name.display()
                )));
            }
        };
        Ok(Self { inner })
    }
}

impl<R: Read> Iterator for TaggedReader<R> {
    type Item = Result<TaggedRow, DataError>;

    fn next(&mut self) -> Option<Self::Item> {
        match &mut self.inner {
            Inner::Conll(r) => r.next(),
            Inner::Jsonl(r) => r.next(),
        }
    }
}

/// Whether `path` holds token-tagged sentences (see the [module docs](self) for the rule). Reads at
/// most its first line of data, within `max_row_bytes`.
pub fn is_tagged_file(path: &Path, format: Option<Format>, max_row_bytes: usize) -> Result<bool, DataError> {
    let by_name = format.is_none();
    let format = match format {
        Some(f) => f,
        None => Format::from_path(path)?,
    };
    let is_txt = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("txt"));
    match format {
        Format::Csv | Format::Tsv => Ok(false),
        Format::Conll if !(by_name && is_txt) => Ok(true),
        Format::Conll | Format::Jsonl => {
            let file = File::open(path).map_err(DataError::io(path))?;
            let first = first_data_line(path, file, max_row_bytes, format == Format::Conll)?;
            Ok(match (format, first) {
                (_, None) => format == Format::Conll,
                (Format::Conll, Some(line)) => line.split_whitespace().nth(1).is_some(),
                (_, Some(line)) => {
                    serde_json::from_str::<serde_json::Value>(&line).ok().is_some_and(|v| v.get(TOKENS_KEY).is_some())
                }
            })
        }
    }
}

/// The first line that is not blank (nor, for CoNLL, a `-DOCSTART-` line).
pub(crate) fn first_data_line(path: &Path, file: File, max: usize, conll: bool) -> Result<Option<String>, DataError> {
    let mut reader = BufReader::new(super::sniff::sniff(path, file)?);
    let mut buf = Vec::new();
    loop {
        match read_line(&mut reader, &mut buf, max).map_err(DataError::io(path))? {
            Line::Eof | Line::TooLong => return Ok(None),
            Line::Read => {
                let line = String::from_utf8_lossy(trim_newline(&buf));
                let first = line.split_whitespace().next();
                if first.is_some() && !(conll && first == Some("-DOCSTART-")) {
                    return Ok(Some(line.into_owned()));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn which_files_are_tagged() {
        let dir = tempfile::tempdir().unwrap();
        let file = |name: &str, text: &str| {
            let p = dir.path().join(name);
            std::fs::write(&p, text).unwrap();
            p
        };
        let max = 1 << 20;
        let table = [
            (file("a.conll", "EU B-ORG\n"), None, true),
            (file("b.txt", "-DOCSTART- O\n\nEU NNP B-ORG\n"), None, true),
            (file("c.txt", "just words\n"), None, true),
            (file("d.txt", "one\n"), None, false),
            (file("e.jsonl", "\n{\"tokens\": [\"a\"], \"tags\": [\"O\"]}\n"), None, true),
            (file("f.jsonl", "{\"text\": \"a\", \"label\": \"x\"}\n"), None, false),
            (file("g.csv", "tokens,tags\n"), None, false),
            (file("h.data", "one\n"), Some(Format::Conll), true),
        ];
        for (path, format, tagged) in table {
            assert_eq!(is_tagged_file(&path, format, max).unwrap(), tagged, "{}", path.display());
        }
        assert!(TaggedReader::open(&dir.path().join("g.csv"), None, TagColumns::default(), max).is_err());
    }

    #[test]
    fn same_column_twice_is_refused() {
        let err = TagColumns { token: 1, tag: Some(1) }.check().unwrap_err().to_string();
        assert!(err.starts_with("--token-column and --tag-column are both column 1"), "{err}");
    }
}
