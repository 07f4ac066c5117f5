//! Texts without labels, for prediction: the text columns of a data file ([`TextReader`]), or plain
//! lines from any reader such as stdin ([`TextLines`]), both with the row size limit.

use super::lines::{Line, read_line, trim_newline};
use super::sniff::check_head;
use super::{Columns, DEFAULT_MAX_ROW_BYTES, Format, RowReader};
use crate::DataError;
use std::fs::File;
use std::io::{BufRead, Read};
use std::path::{Path, PathBuf};

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
pub struct TextReader<R: Read = File> {
    rows: RowReader<R>,
}

impl TextReader<File> {
    /// Opens `path` with the default row size limit; CSV/TSV headers are checked for the text columns
    /// of `columns` here. `format` `None` goes by the file name.
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
        Ok(Self { rows: RowReader::open_inner(path, format, columns, false, max_row_bytes)? })
    }
}

impl<R: Read> TextReader<R> {
    /// The texts of `reader`, a whole file's bytes in `format`; `name` stands for it in messages.
    pub fn from_reader(
        name: &Path,
        reader: R,
        format: Format,
        columns: &Columns,
        max_row_bytes: usize,
    ) -> Result<Self, DataError> {
        Ok(Self { rows: RowReader::new(name, reader, format, columns, false, max_row_bytes)? })
    }

    /// The text column in use, once known (CSV: at open; JSONL: after the first row).
    pub fn text_column(&self) -> Option<&str> {
        self.rows.text_column()
    }
}

impl<R: Read> Iterator for TextReader<R> {
    type Item = Result<TextRow, DataError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.rows.next().map(|row| row.map(|r| TextRow { line: r.line, text: r.text, pair: r.pair }))
    }
}

/// Lines of text from any reader (stdin for `ft predict -`): numbered from 1, the line ending
/// removed, each at most `max_row_bytes` long — a longer line is an error found before it is held in
/// memory, and ends the reading. The first line is checked like a data file's: a UTF-8 byte-order
/// mark is dropped, UTF-16 and binary input are refused. Blank lines are given too, with their
/// numbers; skip or refuse them with [`is_blank`](super::is_blank).
///
/// ```
/// use ft_data::TextLines;
/// let input = "great movie\n\nawful\r\n".as_bytes();
/// let lines: Vec<_> = TextLines::new(std::path::Path::new("<stdin>"), input, 1 << 20).collect::<Result<_, _>>()?;
/// assert_eq!((lines[2].line, lines[2].text.as_str()), (3, "awful"));
/// assert!(ft_data::files::is_blank(&lines[1].text));
/// # Ok::<(), ft_data::DataError>(())
/// ```
pub struct TextLines<R> {
    name: PathBuf,
    reader: R,
    max_row_bytes: usize,
    line: u64,
    buf: Vec<u8>,
    done: bool,
}

impl<R: BufRead> TextLines<R> {
    /// The lines of `reader`; `name` (`<stdin>`, a path) stands for it in messages.
    pub fn new(name: &Path, reader: R, max_row_bytes: usize) -> Self {
        Self { name: name.to_path_buf(), reader, max_row_bytes, line: 0, buf: Vec::new(), done: false }
    }

    fn text(&self) -> Result<TextRow, DataError> {
        let mut bytes = trim_newline(&self.buf);
        if self.line == 1 {
            bytes = &bytes[check_head(&self.name, bytes)?..];
        }
        match std::str::from_utf8(bytes) {
            Ok(text) => Ok(TextRow { line: self.line, text: text.to_string(), pair: None }),
            Err(e) => Err(DataError::InvalidUtf8 {
                path: self.name.clone(),
                line: self.line,
                column: "(whole line)".into(),
                byte: e.valid_up_to(),
            }),
        }
    }
}

impl<R: BufRead> Iterator for TextLines<R> {
    type Item = Result<TextRow, DataError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let read = read_line(&mut self.reader, &mut self.buf, self.max_row_bytes);
        self.line += 1;
        let item = match read {
            Ok(Line::Eof) => None,
            Ok(Line::Read) => Some(self.text()),
            Ok(Line::TooLong) if self.line == 1 => {
                // Refuse UTF-16 or binary input for what it is, not for its length.
                let head = check_head(&self.name, &self.buf).err();
                let limit = self.max_row_bytes;
                Some(Err(head.unwrap_or(DataError::RowTooLong { path: self.name.clone(), line: 1, limit })))
            }
            Ok(Line::TooLong) => {
                Some(Err(DataError::RowTooLong { path: self.name.clone(), line: self.line, limit: self.max_row_bytes }))
            }
            Err(e) => Some(Err(DataError::Io { path: self.name.clone(), source: e })),
        };
        // Reading goes on after a bad line, not after a bad stream.
        self.done = match &item {
            None => true,
            Some(Err(e)) => !e.is_row_error(),
            Some(Ok(_)) => false,
        };
        item
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    fn lines(input: &[u8], max: usize) -> Vec<Result<(u64, String), String>> {
        TextLines::new(Path::new("<stdin>"), input, max)
            .map(|r| r.map(|t| (t.line, t.text)).map_err(|e| e.to_string()))
            .collect()
    }

    #[test]
    fn text_lines_are_numbered_and_trimmed() {
        let got = lines(b"\xef\xbb\xbfone\r\n\n  \nlast", 100);
        let want: Vec<Result<(u64, String), String>> =
            vec![Ok((1, "one".into())), Ok((2, "".into())), Ok((3, "  ".into())), Ok((4, "last".into()))];
        assert_eq!(got, want);
        assert!(lines(b"", 100).is_empty());
        // Bad UTF-8 is one bad line; reading goes on.
        let got = lines(b"ok\ncaf\xe9\nnext\n", 100);
        assert_eq!(got[1], Err("<stdin>:2: column `(whole line)` is not valid UTF-8 (bad byte at offset 3 of the field); re-save the file as UTF-8".into()));
        assert_eq!(got[2], Ok((3, "next".into())));
    }

    /// Regression: `ft predict -` read a line without a newline (`/dev/zero`) into memory whole.
    #[test]
    fn text_lines_stop_at_a_line_over_the_limit() {
        let got = lines(b"short\nthis one is long\nafter\n", 10);
        assert_eq!(got.len(), 2, "{got:?}");
        assert_eq!(
            got[1],
            Err("<stdin>:2: a row longer than 10 bytes starts here; is this the right file? If it is, raise the limit with --max-row-bytes".into())
        );
        let endless = std::io::BufReader::new(std::io::repeat(b'x'));
        let mut it = TextLines::new(Path::new("<stdin>"), endless, 1 << 20);
        assert!(matches!(it.next(), Some(Err(DataError::RowTooLong { line: 1, limit: 1_048_576, .. }))));
        assert!(it.next().is_none());
        // An endless run of NUL bytes is binary, said as such.
        let zeros = std::io::BufReader::new(std::io::repeat(0));
        let err = TextLines::new(Path::new("<stdin>"), zeros, 4096).next().unwrap().unwrap_err().to_string();
        assert!(err.starts_with("<stdin>: looks like binary data"), "{err}");
    }

    #[test]
    fn text_lines_refuse_utf16() {
        let input: Vec<u8> =
            b"\xff\xfe".iter().copied().chain("hi\n".encode_utf16().flat_map(u16::to_le_bytes)).collect();
        assert_eq!(
            lines(&input, 100),
            [Err("<stdin>: looks like UTF-16 (byte-order mark FF FE); re-save it as UTF-8".to_string())]
        );
    }
}
