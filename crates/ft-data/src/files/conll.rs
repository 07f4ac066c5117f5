//! CoNLL columns: one token per line, whitespace-separated columns (the token, then annotations such
//! as POS, chunk and NER tags), a blank line between sentences, `-DOCSTART-` lines skipped.
//!
//! Columns are split on runs of Unicode whitespace, as Python's `str.split()`. A sentence is one row:
//! its lines together may be at most the row size limit, so a file without blank lines costs the
//! limit in memory, not the file. A bad line makes its whole sentence a bad row (reported at the bad
//! line; `--skip-bad-rows` skips the sentence).

use super::lines::{Line, read_line, trim_newline};
use super::sniff::{Sniffed, sniff};
use super::tagged::{RawTag, TagColumns, TaggedRow};
use crate::DataError;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

/// The first column of a document separator line.
const DOCSTART: &str = "-DOCSTART-";

/// Sentences of a CoNLL file.
pub(crate) struct ConllRows<R: Read> {
    path: PathBuf,
    reader: BufReader<Sniffed<R>>,
    max_row_bytes: usize,
    columns: TagColumns,
    /// Whether the tag column is read (not when reading words for prediction).
    with_tags: bool,
    line: u64,
    buf: Vec<u8>,
    done: bool,
}

impl<R: Read> ConllRows<R> {
    /// Sentences of `reader` (named `path` in messages).
    pub(crate) fn new(
        path: &Path,
        reader: R,
        columns: TagColumns,
        with_tags: bool,
        max_row_bytes: usize,
    ) -> Result<Self, DataError> {
        columns.check()?;
        Ok(Self {
            path: path.to_path_buf(),
            reader: BufReader::with_capacity(1 << 16, sniff(path, reader)?),
            max_row_bytes,
            columns,
            with_tags,
            line: 0,
            buf: Vec::new(),
            done: false,
        })
    }

    /// Columns a line needs: the token column, and the tag column (the last, by default, which must
    /// then come after the token column).
    fn needed(&self) -> usize {
        let token = self.columns.token;
        match (self.with_tags, self.columns.tag) {
            (false, _) => token + 1,
            (true, None) => token + 2,
            (true, Some(tag)) => token.max(tag) + 1,
        }
    }

    fn too_few(&self, found: usize) -> DataError {
        DataError::TooFewColumns {
            path: self.path.clone(),
            line: self.line,
            found,
            needed: self.needed(),
            token_column: self.columns.token,
            tag_column: self.columns.tag.map_or("the last".into(), |t| t.to_string()),
        }
    }

    /// Reads the next sentence: `None` at the end of the file.
    fn sentence(&mut self) -> Option<Result<TaggedRow, DataError>> {
        let mut row = TaggedRow { line: 0, words: Vec::new(), tags: Vec::new() };
        let mut bytes = 0usize;
        // The first bad line of the sentence; the sentence is read to its end either way.
        let mut bad: Option<DataError> = None;
        loop {
            let read = read_line(&mut self.reader, &mut self.buf, self.max_row_bytes);
            match read {
                Ok(Line::Eof) => {
                    self.done = true;
                    break;
                }
                Ok(Line::Read) => self.line += 1,
                Ok(Line::TooLong) => {
                    self.done = true;
                    let line = if row.line == 0 { self.line + 1 } else { row.line };
                    return Some(Err(DataError::RowTooLong {
                        path: self.path.clone(),
                        line,
                        limit: self.max_row_bytes,
                    }));
                }
                Err(e) => {
                    self.done = true;
                    return Some(Err(DataError::Io { path: self.path.clone(), source: e }));
                }
            }
            let content = trim_newline(&self.buf);
            let text = match std::str::from_utf8(content) {
                Ok(t) => t,
                Err(e) => {
                    row.line = if row.line == 0 { self.line } else { row.line };
                    bad.get_or_insert(DataError::InvalidUtf8 {
                        path: self.path.clone(),
                        line: self.line,
                        column: "(whole line)".into(),
                        byte: e.valid_up_to(),
                    });
                    continue;
                }
            };
            let mut cols = text.split_whitespace();
            let Some(first) = cols.next() else {
                if row.line != 0 {
                    break; // a blank line ends the sentence
                }
                continue;
            };
            if first == DOCSTART {
                if row.line != 0 {
                    break;
                }
                continue;
            }
            if row.line == 0 {
                row.line = self.line;
            }
            bytes += content.len() + 1;
            if bytes > self.max_row_bytes {
                self.done = true;
                return Some(Err(DataError::RowTooLong {
                    path: self.path.clone(),
                    line: row.line,
                    limit: self.max_row_bytes,
                }));
            }
            if bad.is_some() {
                continue;
            }
            let cols: Vec<&str> = std::iter::once(first).chain(cols).collect();
            if cols.len() < self.needed() {
                bad = Some(self.too_few(cols.len()));
                continue;
            }
            row.words.push(cols[self.columns.token].to_string());
            if self.with_tags {
                let tag = self.columns.tag.map_or(cols[cols.len() - 1], |t| cols[t]);
                row.tags.push(RawTag::Name(tag.to_string()));
            }
        }
        match (row.line, bad) {
            (0, _) => None,
            (_, Some(e)) => Some(Err(e)),
            (_, None) => Some(Ok(row)),
        }
    }
}

impl<R: Read> Iterator for ConllRows<R> {
    type Item = Result<TaggedRow, DataError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        self.sentence()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A sentence read: its line, words and tags.
    type Sentence = (u64, Vec<String>, Vec<String>);

    fn read(input: &str, columns: TagColumns, max: usize) -> Vec<Result<Sentence, String>> {
        ConllRows::new(Path::new("t.conll"), input.as_bytes(), columns, true, max)
            .unwrap()
            .map(|r| {
                r.map(|row| (row.line, row.words, row.tags.iter().map(ToString::to_string).collect()))
                    .map_err(|e| e.to_string())
            })
            .collect()
    }

    fn ok(line: u64, words: &[&str], tags: &[&str]) -> Result<Sentence, String> {
        Ok((line, words.iter().map(|s| s.to_string()).collect(), tags.iter().map(|s| s.to_string()).collect()))
    }

    #[test]
    fn sentences_docstart_and_columns() {
        let text = "-DOCSTART- -X- -X- O\n\nEU NNP B-NP B-ORG\nrejects VBZ B-VP O\n\n\n\nPeter NNP B-NP B-PER\r\nBlackburn\tNNP I-NP I-PER";
        assert_eq!(
            read(text, TagColumns::default(), 1 << 20),
            [ok(3, &["EU", "rejects"], &["B-ORG", "O"]), ok(8, &["Peter", "Blackburn"], &["B-PER", "I-PER"])]
        );
        // Column 1 (POS) as the tags; a DOCSTART without a blank line before it still ends a sentence.
        let text = "a DT x\nb NN y\n-DOCSTART- -X- O\nc VB z\n";
        assert_eq!(
            read(text, TagColumns { token: 0, tag: Some(1) }, 1 << 20),
            [ok(1, &["a", "b"], &["DT", "NN"]), ok(4, &["c"], &["VB"])]
        );
        assert!(read("\n\n-DOCSTART- O\n\n", TagColumns::default(), 100).is_empty());
    }

    #[test]
    fn a_short_line_spoils_its_sentence_only() {
        let text = "a O\nb\nc O\n\nd B-X\n";
        let got = read(text, TagColumns::default(), 1 << 20);
        assert_eq!(
            got[0],
            Err("t.conll:2: 1 column(s), but the token column is 0 and the tag column is the last (2 columns needed); fix the line, choose other columns (--token-column, --tag-column), or pass --skip-bad-rows".into())
        );
        assert_eq!(got[1], ok(5, &["d"], &["B-X"]));
        let got = read("a b c\n", TagColumns { token: 0, tag: Some(3) }, 100);
        assert!(
            got[0].as_ref().unwrap_err().starts_with(
                "t.conll:1: 3 column(s), but the token column is 0 and the tag column is 3 (4 columns needed)"
            ),
            "{got:?}"
        );
    }

    #[test]
    fn bad_utf8_and_the_size_limit() {
        let got: Vec<_> =
            ConllRows::new(Path::new("t.conll"), &b"a O\nb\xff O\n\nc O\n"[..], TagColumns::default(), true, 100)
                .unwrap()
                .map(|r| r.map(|row| row.line).map_err(|e| e.line()))
                .collect();
        assert_eq!(got, [Err(Some(2)), Ok(4)]);
        // 3 lines of 4 bytes: the sentence passes 10 bytes at its third line; reported at its start.
        let got = read("x\n\nabc O\nabc O\nabc O\n", TagColumns::default(), 10);
        assert_eq!(got[0], Err("t.conll:1: 1 column(s), but the token column is 0 and the tag column is the last (2 columns needed); fix the line, choose other columns (--token-column, --tag-column), or pass --skip-bad-rows".into()));
        assert!(
            got[1].as_ref().unwrap_err().starts_with("t.conll:3: a row longer than 10 bytes starts here"),
            "{got:?}"
        );
        assert_eq!(got.len(), 2, "reading stops after a row over the limit");
    }
}
