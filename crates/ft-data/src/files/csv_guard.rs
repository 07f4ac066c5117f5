//! A reader between a CSV/TSV file and the `csv` crate that follows the record structure byte by
//! byte, as csv-core's state machine does (RFC 4180 quoting, `""` escapes, `\r`/`\n` terminators),
//! to stop two things the crate lets through:
//!
//! - a record longer than the row limit: the crate would buffer all of it (a file of NUL bytes with
//!   no newline grew to gigabytes); here reading fails once the record passes the limit;
//! - a quote that is never closed: the crate ends the field at the end of the file without a word,
//!   merging every following row into it; here reading fails at the end with the quote's line.
//!
//! Reading fails with an I/O error; [`RowGuard::tripped`] then says why, for the caller's message.
//!
//! It also keeps the line where each record starts: the crate's own record position is taken before
//! it skips blank lines and before it consumes the `\n` of a `\r\n`, so in files with either it
//! names the line above the record.

use std::collections::VecDeque;
use std::io::{self, Read};

/// Where the parser is, as in csv-core's `NfaState` (without comments and escapes, which ft does
/// not turn on).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Between records (blank lines are skipped here).
    StartRecord,
    StartField,
    InField,
    InQuotedField,
    /// A quote inside a quoted field: `""` (an escaped quote) or the closing quote.
    QuoteInQuotedField,
}

/// Why the guard stopped reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tripped {
    /// A record longer than the limit.
    TooLong {
        /// The line where the record starts.
        row_line: u64,
        /// The line of a quote still open at that point, if any.
        open_quote: Option<u64>,
        /// Lines read of the record so far.
        lines: u64,
    },
    /// The input ended inside a quoted field.
    OpenQuoteAtEnd {
        /// The line where the quote opened.
        quote_line: u64,
        /// Lines from the quote to the end.
        lines: u64,
    },
}

/// The guarding reader.
pub(crate) struct RowGuard<R> {
    inner: R,
    quoting: bool,
    delimiter: u8,
    max_row_bytes: usize,
    state: State,
    /// Line of the next byte (1-based).
    line: u64,
    /// Bytes of the current record so far, terminator excluded.
    row_bytes: usize,
    row_line: u64,
    quote_line: u64,
    last_was_newline: bool,
    tripped: Option<Tripped>,
    /// Offset of the next byte.
    offset: u64,
    /// `(offset, line)` of the first byte of each record read ahead of the parser.
    starts: VecDeque<(u64, u64)>,
}

impl<R: Read> RowGuard<R> {
    /// Guards `inner`; `quoting` is off for TSV, which has no quoted fields.
    pub(crate) fn new(inner: R, quoting: bool, delimiter: u8, max_row_bytes: usize) -> Self {
        Self {
            inner,
            quoting,
            delimiter,
            max_row_bytes,
            state: State::StartRecord,
            line: 1,
            row_bytes: 0,
            row_line: 1,
            quote_line: 1,
            last_was_newline: false,
            tripped: None,
            offset: 0,
            starts: VecDeque::new(),
        }
    }

    /// The line of the first record that starts at or after byte `offset` — the line of the record
    /// the parser reports at `offset` — forgetting the records before it.
    pub(crate) fn record_line(&mut self, offset: u64) -> Option<u64> {
        while self.starts.front().is_some_and(|&(start, _)| start < offset) {
            self.starts.pop_front();
        }
        self.starts.front().map(|&(_, line)| line)
    }

    /// Why reading stopped, when the guard stopped it.
    pub(crate) fn tripped(&self) -> Option<Tripped> {
        self.tripped
    }

    /// Lines from `from` to the last byte read, both included.
    fn lines_since(&self, from: u64) -> u64 {
        let current = if self.last_was_newline { self.line.saturating_sub(1) } else { self.line };
        current.saturating_sub(from) + 1
    }

    /// Steps over one byte; `false` when it takes the record past the limit.
    fn step(&mut self, b: u8) -> bool {
        use State::*;
        let term = b == b'\n' || b == b'\r';
        if self.state == StartRecord && !term {
            // csv-core's step from StartRecord to StartField reads no byte: `b` is handled there.
            self.state = StartField;
            self.row_line = self.line;
            self.row_bytes = 0;
            self.starts.push_back((self.offset, self.line));
        }
        self.offset += 1;
        self.state = match (self.state, b) {
            (StartRecord, _) => StartRecord,
            (StartField, b'"') if self.quoting => {
                self.quote_line = self.line;
                InQuotedField
            }
            (StartField | InField | QuoteInQuotedField, _) if b == self.delimiter => StartField,
            (StartField | InField | QuoteInQuotedField, _) if term => StartRecord,
            (InQuotedField, b'"') => QuoteInQuotedField,
            (InQuotedField, _) => InQuotedField,
            (QuoteInQuotedField, b'"') => InQuotedField,
            (StartField | InField | QuoteInQuotedField, _) => InField,
        };
        if b == b'\n' {
            self.line += 1;
        }
        self.last_was_newline = b == b'\n';
        if self.state != StartRecord {
            self.row_bytes += 1;
            if self.row_bytes > self.max_row_bytes {
                let open_quote = (self.state == InQuotedField).then_some(self.quote_line);
                let lines = self.lines_since(self.row_line);
                self.tripped = Some(Tripped::TooLong { row_line: self.row_line, open_quote, lines });
                return false;
            }
        }
        true
    }
}

fn stopped() -> io::Error {
    io::Error::other("stopped by the row guard")
}

impl<R: Read> Read for RowGuard<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.tripped.is_some() {
            return Err(stopped());
        }
        let n = self.inner.read(buf)?;
        if n == 0 && !buf.is_empty() && self.state == State::InQuotedField {
            self.tripped =
                Some(Tripped::OpenQuoteAtEnd { quote_line: self.quote_line, lines: self.lines_since(self.quote_line) });
            return Err(stopped());
        }
        for (i, &b) in buf[..n].iter().enumerate() {
            if !self.step(b) {
                // Hand over what came before; the next read fails.
                return if i == 0 { Err(stopped()) } else { Ok(i) };
            }
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(input: &[u8], quoting: bool, max: usize) -> (Vec<u8>, Option<Tripped>) {
        let mut guard = RowGuard::new(input, quoting, b',', max);
        let mut out = Vec::new();
        let mut buf = [0u8; 3];
        loop {
            match guard.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => out.extend_from_slice(&buf[..n]),
                Err(_) => break,
            }
        }
        (out, guard.tripped())
    }

    #[test]
    fn well_formed_input_passes_unchanged() {
        let input = b"text,label\r\n\"a, \"\"b\"\"\nc\",x\n\n\"\",y\nab\"c,z";
        assert_eq!(run(input, true, 32), (input.to_vec(), None));
    }

    #[test]
    fn records_longer_than_the_limit_stop_reading() {
        // Line 3 starts a 6-byte record; limit 5.
        let (out, tripped) = run(b"ab\ncd\nefghij\nk\n", true, 5);
        assert_eq!(tripped, Some(Tripped::TooLong { row_line: 3, open_quote: None, lines: 1 }));
        assert_eq!(out, b"ab\ncd\nefghi");
        // A quoted newline does not end the record: its sixth byte, `c` on line 4, is one too many.
        let (_, tripped) = run(b"h\n\"a\nb\nc\"\n", true, 5);
        assert_eq!(tripped, Some(Tripped::TooLong { row_line: 2, open_quote: Some(2), lines: 3 }));
        // Without quoting (TSV) it does.
        assert_eq!(run(b"h\n\"a\nb\nc\"\n", false, 5).1, None);
        // Exactly at the limit is fine.
        assert_eq!(run(b"abcde\nabcde", true, 5).1, None);
    }

    #[test]
    fn record_lines_skip_blank_lines_and_crlf() {
        let input = b"h\r\na\r\n\r\n\n\"b\nc\"\nd";
        let mut guard = RowGuard::new(&input[..], true, b',', 100);
        std::io::copy(&mut guard, &mut std::io::sink()).unwrap();
        // As the parser reports them: after `h\r` (offset 2), after `a\r` (5), after `"b\nc"` (15).
        assert_eq!(guard.record_line(0), Some(1));
        assert_eq!(guard.record_line(2), Some(2));
        assert_eq!(guard.record_line(5), Some(5));
        assert_eq!(guard.record_line(15), Some(7));
        assert_eq!(guard.record_line(17), None);
    }

    #[test]
    fn a_quote_open_at_the_end_names_its_line() {
        let (out, tripped) = run(b"text,label\na,b\n\"oops,c\nd,e\n", true, 100);
        assert_eq!(tripped, Some(Tripped::OpenQuoteAtEnd { quote_line: 3, lines: 2 }));
        assert_eq!(out, b"text,label\na,b\n\"oops,c\nd,e\n");
        assert_eq!(run(b"x,\"y", true, 100).1, Some(Tripped::OpenQuoteAtEnd { quote_line: 1, lines: 1 }));
        // A quote inside an unquoted field is literal; a closed quote at the very end is fine.
        assert_eq!(run(b"ab\"c\nd", true, 100).1, None);
        assert_eq!(run(b"\"a\"\"\"", true, 100).1, None);
        assert_eq!(run(b"\"a\"\"", true, 100).1, Some(Tripped::OpenQuoteAtEnd { quote_line: 1, lines: 1 }));
    }
}
