//! Lines read with a size limit: a line may be at most `max_row_bytes` long, and reading stops at the
//! limit, so a file with no newline (`/dev/zero`, a 10 GB one-line dump) costs at most the limit in
//! memory instead of all of it.

use std::io::{self, BufRead};

/// What [`read_line`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Line {
    /// End of input; nothing was read.
    Eof,
    /// A line (its newline kept, when it had one).
    Read,
    /// A line longer than the limit: `buf` holds its first bytes, the rest is left unread.
    TooLong,
}

/// Reads one line into `buf` (cleared first), stopping once it holds more than `max` bytes besides
/// its newline.
pub(crate) fn read_line(reader: &mut impl BufRead, buf: &mut Vec<u8>, max: usize) -> io::Result<Line> {
    buf.clear();
    loop {
        let available = match reader.fill_buf() {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if available.is_empty() {
            return Ok(if buf.is_empty() { Line::Eof } else { Line::Read });
        }
        let (take, newline) = match available.iter().position(|&b| b == b'\n') {
            Some(i) => (i + 1, true),
            None => (available.len(), false),
        };
        let content = buf.len() + take - usize::from(newline);
        if content > max {
            let fits = (max + 1).saturating_sub(buf.len()).min(take);
            buf.extend_from_slice(&available[..fits]);
            reader.consume(fits);
            return Ok(Line::TooLong);
        }
        buf.extend_from_slice(&available[..take]);
        reader.consume(take);
        if newline {
            return Ok(Line::Read);
        }
    }
}

/// `line` without its `\n` or `\r\n`.
pub(crate) fn trim_newline(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufReader, Read};

    fn lines(input: &[u8], max: usize, capacity: usize) -> Vec<(Line, Vec<u8>)> {
        let mut reader = BufReader::with_capacity(capacity, input);
        let mut buf = Vec::new();
        let mut out = Vec::new();
        loop {
            let got = read_line(&mut reader, &mut buf, max).unwrap();
            out.push((got, buf.clone()));
            if got != Line::Read {
                return out;
            }
        }
    }

    #[test]
    fn table() {
        use Line::*;
        for capacity in [1, 2, 3, 64] {
            assert_eq!(
                lines(b"ab\ncde\n\nf", 3, capacity),
                [
                    (Read, b"ab\n".to_vec()),
                    (Read, b"cde\n".to_vec()),
                    (Read, b"\n".to_vec()),
                    (Read, b"f".to_vec()),
                    (Eof, vec![])
                ],
                "capacity {capacity}"
            );
            assert_eq!(lines(b"abcd\nx\n", 3, capacity), [(TooLong, b"abcd".to_vec())], "capacity {capacity}");
            assert_eq!(lines(b"", 3, capacity), [(Eof, vec![])]);
        }
    }

    #[test]
    fn an_endless_line_costs_the_limit_not_the_input() {
        let mut endless = io::BufReader::new(io::repeat(0));
        let mut buf = Vec::new();
        assert_eq!(read_line(&mut endless, &mut buf, 1000).unwrap(), Line::TooLong);
        assert_eq!(buf.len(), 1001);
        // The rest is still there, unread.
        let mut next = [1u8; 4];
        endless.read_exact(&mut next).unwrap();
        assert_eq!(next, [0; 4]);
    }

    #[test]
    fn newlines_are_trimmed() {
        assert_eq!(trim_newline(b"a\r\n"), b"a");
        assert_eq!(trim_newline(b"a\n"), b"a");
        assert_eq!(trim_newline(b"a"), b"a");
        assert_eq!(trim_newline(b"a\r"), b"a");
    }
}
