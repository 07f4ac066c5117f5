//! Readers on arbitrary bytes (proptest): the row readers, the text readers and the tokenizer loaders
//! return rows or errors, never panic, and hold at most the row size limit of any one row.

use ft_data::{Columns, Format, RowReader, TextLines, TextReader, Tokenizer};
use proptest::prelude::*;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

fn tiny() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/tiny")
}

fn tokenizers() -> &'static [Tokenizer; 2] {
    static TOKS: OnceLock<[Tokenizer; 2]> = OnceLock::new();
    TOKS.get_or_init(|| [Tokenizer::from_dir(&tiny()).unwrap(), Tokenizer::from_vocab(&tiny()).unwrap()])
}

/// Bytes that matter to the parsers, often, and any byte, sometimes.
fn input() -> impl Strategy<Value = Vec<u8>> {
    let special =
        prop::sample::select(b"\",\t\n\r {}[]:\\tlabex0123\0\xff\xfe\xef\xbb\xbf\xc3\xa9\xe4\xb8\xad".to_vec());
    let byte = prop_oneof![4 => special, 1 => any::<u8>()];
    let prefix = prop::sample::select(vec![
        &b""[..],
        b"text,label\n",
        b"text\tlabel\n",
        b"{\"text\": \"",
        b"\xef\xbb\xbftext,label\n",
        b"\xff\xfe",
    ]);
    (prefix, prop::collection::vec(byte, 0..300)).prop_map(|(p, rest)| [p, &rest[..]].concat())
}

fn columns() -> impl Strategy<Value = Columns> {
    let name = prop::sample::select(vec!["text", "label", "a", "t"]);
    (prop::option::of(name.clone()), prop::option::of(name.clone()), name).prop_map(|(text, pair, label)| Columns {
        text: text.map(String::from),
        text_pair: pair.map(String::from),
        label: label.into(),
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn row_readers_never_panic(bytes in input(), columns in columns(), max in prop_oneof![1usize..40, Just(1 << 20)]) {
        for format in [Format::Csv, Format::Tsv, Format::Jsonl] {
            let name = Path::new("in");
            if let Ok(rows) = RowReader::from_reader(name, &bytes[..], format, &columns, max) {
                let mut last = 0;
                for row in rows {
                    let Ok(row) = row else { continue };
                    prop_assert!(row.line >= last, "line numbers go back: {} after {last}", row.line);
                    last = row.line;
                    prop_assert!(!ft_data::is_blank(&row.text));
                    prop_assert!(row.text.len() <= max);
                    for tok in tokenizers() {
                        let enc = tok.encode(&row.text, row.pair.as_deref(), 16).unwrap();
                        prop_assert!(enc.len() <= 16 && enc.ids.iter().all(|&i| i <= tok.max_token_id()));
                    }
                }
            }
            if let Ok(rows) = TextReader::from_reader(name, &bytes[..], format, &columns, max) {
                rows.for_each(drop);
            }
        }
        for line in TextLines::new(Path::new("<stdin>"), &bytes[..], max).flatten() {
            prop_assert!(line.text.len() <= max);
        }
    }

    #[test]
    fn tokenizer_files_never_panic(bytes in input(), at in 0usize..6000, which in 0usize..3) {
        let dir = tempfile::tempdir().unwrap();
        let mut json = std::fs::read(tiny().join("tokenizer.json")).unwrap();
        let mut vocab = std::fs::read(tiny().join("vocab.txt")).unwrap();
        // Splice the bytes into a real file (most of it stays valid), or replace a file with them.
        match which {
            0 => {
                let at = at.min(json.len());
                json.splice(at..(at + bytes.len()).min(json.len()), bytes.iter().copied());
            }
            1 => {
                let at = at.min(vocab.len());
                vocab.splice(at..(at + bytes.len()).min(vocab.len()), bytes.iter().copied());
            }
            _ => std::fs::write(dir.path().join("tokenizer_config.json"), &bytes).unwrap(),
        }
        std::fs::write(dir.path().join("tokenizer.json"), &json).unwrap();
        std::fs::write(dir.path().join("vocab.txt"), &vocab).unwrap();
        for tok in [Tokenizer::from_dir(dir.path()), Tokenizer::from_vocab(dir.path())].into_iter().flatten() {
            let text = String::from_utf8_lossy(&bytes);
            if let Ok(enc) = tok.encode(&text, Some("a pair"), 32) {
                prop_assert!(enc.ids.iter().all(|&i| i <= tok.max_token_id()));
            }
        }
    }
}
