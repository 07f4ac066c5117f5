//! The first bytes of a data file, checked before any parser sees them: a UTF-8 byte-order mark is
//! dropped (so the first column is `text`, not `\u{feff}text`); UTF-16 (a byte-order mark, or NUL
//! bytes between the characters of the first line) and binary data are refused with what to do,
//! instead of showing up later as mangled column names.

use crate::DataError;
use std::io::{Chain, Cursor, Read};
use std::path::Path;

/// How much of a file is looked at before parsing.
const HEAD_BYTES: u64 = 4096;

const UTF8_BOM: &[u8] = b"\xef\xbb\xbf";

/// A reader whose first bytes were already read, checked and put back in front.
pub(crate) type Sniffed<R> = Chain<Cursor<Vec<u8>>, R>;

/// Reads the head of `reader`, checks it with [`check_head`] and gives the bytes back in front of the
/// rest, without the UTF-8 byte-order mark.
pub(crate) fn sniff<R: Read>(path: &Path, mut reader: R) -> Result<Sniffed<R>, DataError> {
    let mut head = Vec::new();
    (&mut reader).take(HEAD_BYTES).read_to_end(&mut head).map_err(DataError::io(path))?;
    let skip = check_head(path, &head)?;
    head.drain(..skip);
    Ok(Cursor::new(head).chain(reader))
}

/// Checks the start of a text stream: how many bytes to skip (a UTF-8 byte-order mark), or an error
/// when the stream is UTF-16 or binary. `head` holds the first line, or at least its first bytes.
pub(crate) fn check_head(path: &Path, head: &[u8]) -> Result<usize, DataError> {
    let refuse = |what: String, fix: &str| DataError::NotUtf8Text { path: path.to_path_buf(), what, fix: fix.into() };
    const RESAVE: &str = "re-save it as UTF-8";
    if head.starts_with(b"\xff\xfe") {
        return Err(refuse("UTF-16 (byte-order mark FF FE)".into(), RESAVE));
    }
    if head.starts_with(b"\xfe\xff") {
        return Err(refuse("UTF-16 (byte-order mark FE FF)".into(), RESAVE));
    }
    let skip = if head.starts_with(UTF8_BOM) { UTF8_BOM.len() } else { 0 };
    let first_line = &head[skip..];
    let first_line = first_line.iter().position(|&b| b == b'\n').map_or(first_line, |end| &first_line[..end]);
    let (mut even, mut odd) = (0usize, 0usize);
    for (i, &b) in first_line.iter().enumerate() {
        if b == 0 {
            if i % 2 == 0 {
                even += 1;
            } else {
                odd += 1;
            }
        }
    }
    // ASCII in UTF-16 is every character followed (LE) or preceded (BE) by a NUL byte.
    let half = first_line.len() / 2;
    match (even, odd) {
        (0, 0) => Ok(skip),
        (0, n) if n * 2 >= half => Err(refuse(
            "UTF-16 LE without a byte-order mark (NUL bytes between the characters of the first line)".into(),
            RESAVE,
        )),
        (n, 0) if n * 2 >= half => Err(refuse(
            "UTF-16 BE without a byte-order mark (NUL bytes between the characters of the first line)".into(),
            RESAVE,
        )),
        (e, o) => Err(refuse(
            format!("binary data, not text ({} NUL bytes in the first line)", e + o),
            "is this the right file? A data file is UTF-8 text: CSV, TSV or JSON Lines",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(bytes: &[u8]) -> Result<Vec<u8>, String> {
        let mut out = Vec::new();
        match sniff(Path::new("t.csv"), bytes) {
            Ok(mut r) => {
                r.read_to_end(&mut out).unwrap();
                Ok(out)
            }
            Err(e) => Err(e.to_string()),
        }
    }

    fn utf16le(s: &str) -> Vec<u8> {
        s.encode_utf16().flat_map(u16::to_le_bytes).collect()
    }

    #[test]
    fn utf8_passes_and_its_bom_is_dropped() {
        assert_eq!(head(b"text,label\na,b\n").unwrap(), b"text,label\na,b\n");
        assert_eq!(head(b"\xef\xbb\xbftext\n").unwrap(), b"text\n");
        assert_eq!(head(b"").unwrap(), b"");
        // Longer than the head: the rest follows unchanged.
        let long = "x".repeat(10_000);
        assert_eq!(head(long.as_bytes()).unwrap(), long.as_bytes());
    }

    #[test]
    fn utf16_is_refused_with_the_fix() {
        let mut le = b"\xff\xfe".to_vec();
        le.extend(utf16le("text,label\n"));
        assert_eq!(head(&le).unwrap_err(), "t.csv: looks like UTF-16 (byte-order mark FF FE); re-save it as UTF-8");
        let be: Vec<u8> = b"\xfe\xff".iter().copied().chain("text".encode_utf16().flat_map(u16::to_be_bytes)).collect();
        assert_eq!(head(&be).unwrap_err(), "t.csv: looks like UTF-16 (byte-order mark FE FF); re-save it as UTF-8");
        let err = head(&utf16le("text,label\nhi,x\n")).unwrap_err();
        assert!(err.starts_with("t.csv: looks like UTF-16 LE without a byte-order mark"), "{err}");
        let be: Vec<u8> = "text,label\n".encode_utf16().flat_map(u16::to_be_bytes).collect();
        let err = head(&be).unwrap_err();
        assert!(err.starts_with("t.csv: looks like UTF-16 BE without a byte-order mark"), "{err}");
    }

    #[test]
    fn nul_bytes_are_binary() {
        let err = head(&[0u8; 8192]).unwrap_err();
        assert!(err.starts_with("t.csv: looks like binary data, not text (4096 NUL bytes"), "{err}");
        assert!(err.ends_with("is this the right file? A data file is UTF-8 text: CSV, TSV or JSON Lines"));
        // A NUL after the first line is left to the parser (it is a bad field, not a bad file).
        assert!(head(b"text\na\0b\n").is_ok());
    }
}
