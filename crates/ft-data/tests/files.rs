//! Dataset files as users bring them: formats, columns, label kinds, and every bad-row case with the
//! message it gives (file:line, what, the fix).

use ft_data::dataset::{load, read_train};
use ft_data::{
    Columns, DataError, DataFiles, DataOptions, Format, LabelKind, LabelOptions, Labels, RowReader, TextReader,
    Tokenizer,
};
use std::path::{Path, PathBuf};

fn tokenizer() -> Tokenizer {
    Tokenizer::from_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/tiny")).unwrap()
}

fn write(dir: &Path, name: &str, content: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, content).unwrap();
    path
}

fn train_err(name: &str, content: &[u8], options: &DataOptions) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), name, content);
    let err = read_train(&path, &tokenizer(), options).unwrap_err();
    // Messages start with the file name and line: make them independent of the temp dir.
    err.to_string().replace(&format!("{}/", dir.path().display()), "")
}

#[test]
fn csv_tsv_jsonl_give_the_same_examples() {
    let dir = tempfile::tempdir().unwrap();
    let csv = write(dir.path(), "a.csv", b"sentence,label\n\"good, fun\",pos\nbad movie,neg\n");
    let tsv = write(dir.path(), "a.tsv", b"label\tsentence\npos\tgood, fun\nneg\tbad movie\n");
    let jsonl = write(
        dir.path(),
        "a.jsonl",
        b"{\"sentence\": \"good, fun\", \"label\": \"pos\"}\n\n{\"sentence\": \"bad movie\", \"label\": \"neg\"}\n",
    );
    let tok = tokenizer();
    let opts = DataOptions::default();
    let (a, la, ra) = read_train(&csv, &tok, &opts).unwrap();
    let (b, lb, _) = read_train(&tsv, &tok, &opts).unwrap();
    let (c, lc, _) = read_train(&jsonl, &tok, &opts).unwrap();
    assert_eq!(a, b);
    assert_eq!(a, c);
    assert_eq!((la.kind, la.names.clone()), (LabelKind::SingleLabel, vec!["neg".to_string(), "pos".to_string()]));
    assert_eq!((la.clone(), la), (lb, lc));
    assert_eq!(ra.rows, 2);
}

#[test]
fn text_column_defaults_to_sentence_then_text_and_pairs_get_type_1() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "p.csv", b"text,second,label\nthe movie,was good,1\nbad,very bad,0\n");
    let opts = DataOptions {
        columns: Columns { text_pair: Some("second".into()), ..Columns::default() },
        ..DataOptions::default()
    };
    let (ex, labels, _) = read_train(&path, &tokenizer(), &opts).unwrap();
    assert_eq!(labels.names, ["0", "1"]);
    assert!(ex.type_ids(0).contains(&1) && ex.type_ids(0)[0] == 0);
    let b = ex.collate(&[0, 1], None);
    assert_eq!(b.labels, Labels::Classes(vec![1, 0]));
}

#[test]
fn regression_and_multi_label_files() {
    let dir = tempfile::tempdir().unwrap();
    let reg = write(dir.path(), "r.csv", b"text,label\na,0.5\nb,3\n");
    let (ex, labels, _) = read_train(&reg, &tokenizer(), &DataOptions::default()).unwrap();
    assert_eq!((labels.kind, labels.num_labels()), (LabelKind::Regression, 1));
    assert_eq!(ex.collate(&[0, 1], None).labels, Labels::Values(vec![0.5, 3.0]));

    let multi = write(
        dir.path(),
        "m.jsonl",
        b"{\"text\": \"a\", \"label\": [\"x\", \"z\"]}\n{\"text\": \"b\", \"label\": [\"y\"]}\n",
    );
    let (ex, labels, _) = read_train(&multi, &tokenizer(), &DataOptions::default()).unwrap();
    assert_eq!((labels.kind, labels.names.len()), (LabelKind::MultiLabel, 3));
    assert_eq!(
        ex.collate(&[0, 1], None).labels,
        Labels::MultiHot { values: vec![1.0, 0.0, 1.0, 0.0, 1.0, 0.0], num_labels: 3 }
    );

    let joined = write(dir.path(), "j.csv", b"text,label\na,x|z\nb,y\n");
    let opts = DataOptions {
        labels: LabelOptions { kind: Some(LabelKind::MultiLabel), separator: "|".into(), names: None },
        ..DataOptions::default()
    };
    let (_, labels, _) = read_train(&joined, &tokenizer(), &opts).unwrap();
    assert_eq!(labels.names, ["x", "y", "z"]);
}

#[test]
fn missing_column_lists_the_columns_that_exist() {
    let err = train_err("t.csv", b"review,stars\nfine,5\n", &DataOptions::default());
    assert_eq!(
        err,
        "t.csv:1: no column `sentence` or `text` (columns: review, stars); name the text column with --text-column"
    );
    let opts =
        DataOptions { columns: Columns { text: Some("review".into()), ..Columns::default() }, ..Default::default() };
    let err = train_err("t.csv", b"review,stars\nfine,5\n", &opts);
    assert_eq!(err, "t.csv:1: no column `label` (columns: review, stars); name the label column with --label-column");
}

#[test]
fn wrong_field_count_names_the_line() {
    let err = train_err("t.csv", b"text,label\na,pos\nb,pos,extra\n", &DataOptions::default());
    assert_eq!(
        err,
        "t.csv:3: 3 fields, but the header has 2 (text, label); quote fields that contain the delimiter, or fix the row"
    );
}

#[test]
fn invalid_utf8_names_line_column_and_byte() {
    let err = train_err("t.csv", b"text,label\nok,pos\ncaf\xe9,neg\n", &DataOptions::default());
    assert_eq!(
        err,
        "t.csv:3: column `text` is not valid UTF-8 (bad byte at offset 3 of the field); re-save the file as UTF-8"
    );
    let err = train_err("t.jsonl", b"{\"text\": \"caf\xe9\", \"label\": 1}\n", &DataOptions::default());
    assert!(err.starts_with("t.jsonl:1: column `(whole line)` is not valid UTF-8"), "{err}");
}

#[test]
fn empty_text_is_an_error_with_the_fix() {
    let err = train_err("t.tsv", b"text\tlabel\nfine\tpos\n  \tneg\n", &DataOptions::default());
    assert_eq!(err, "t.tsv:3: empty text in column `text`; remove the row, or pass --skip-bad-rows");
}

#[test]
fn unparsable_label_is_an_error() {
    let opts = DataOptions {
        labels: LabelOptions { kind: Some(LabelKind::Regression), ..LabelOptions::default() },
        ..DataOptions::default()
    };
    let err = train_err("t.csv", b"text,label\na,0.5\nb,high\n", &opts);
    assert_eq!(
        err,
        "t.csv:3: label \"high\" in column `label` is not a number; fix the row, pass --label-kind, or pass --skip-bad-rows"
    );
    let err = train_err("t.jsonl", b"{\"text\": \"a\", \"label\": null}\n", &DataOptions::default());
    assert!(err.starts_with("t.jsonl:1: label \"null\" in column `label` is not a string, number or list"), "{err}");
}

#[test]
fn jsonl_errors() {
    let err = train_err("t.jsonl", b"{\"text\": \"a\", \"label\": 1}\n{\"text\": \"b\"\n", &DataOptions::default());
    assert!(err.starts_with("t.jsonl:2: not a JSON object: EOF while parsing"), "{err}");
    let err = train_err(
        "t.jsonl",
        b"{\"text\": \"a\", \"label\": 1}\n{\"txt\": \"b\", \"label\": 1}\n",
        &DataOptions::default(),
    );
    assert_eq!(err, "t.jsonl:2: no key `text` in this row (keys: label, txt); add it, or pass --skip-bad-rows");
}

#[test]
fn unseen_validation_label_names_file_line_label_and_known_labels() {
    let dir = tempfile::tempdir().unwrap();
    let train = write(
        dir.path(),
        "train.jsonl",
        b"{\"text\": \"a\", \"label\": \"sports\"}\n{\"text\": \"b\", \"label\": \"tech\"}\n",
    );
    let mut val = b"{\"text\": \"x\", \"label\": \"tech\"}\n".repeat(417);
    val.extend_from_slice(b"{\"text\": \"c\", \"label\": \"sprots\"}\n");
    let validation = write(dir.path(), "validation.jsonl", &val);
    let files = DataFiles { train, validation: Some(validation.clone()), test: None };
    let err = load(&files, &tokenizer(), &DataOptions::default()).unwrap_err();
    assert!(matches!(err, DataError::UnknownLabel { line: 418, .. }));
    assert_eq!(
        err.to_string(),
        format!(
            "{}:418: label \"sprots\" is not one of [sports, tech] (the labels of the training file); fix the row or add it to the training data",
            validation.display()
        )
    );
}

#[test]
fn skip_bad_rows_reports_count_and_first_few() {
    let dir = tempfile::tempdir().unwrap();
    let mut content = b"text,label\n".to_vec();
    for i in 0..20 {
        content.extend_from_slice(format!("row {i},pos\n").as_bytes());
    }
    content.extend_from_slice(b" ,pos\na,b,c\ncaf\xe9,neg\n,neg\n ,neg\n ,neg\n ,neg\n");
    let path = write(dir.path(), "t.csv", &content);
    let opts = DataOptions { skip_bad_rows: true, ..DataOptions::default() };
    let (ex, _, report) = read_train(&path, &tokenizer(), &opts).unwrap();
    assert_eq!((ex.len(), report.rows, report.skipped, report.first_skipped.len()), (20, 20, 7, 5));
    assert!(report.first_skipped[0].contains("t.csv:22: empty text"), "{:?}", report.first_skipped);
    assert!(report.first_skipped[1].contains("t.csv:23: 3 fields"), "{:?}", report.first_skipped);
    assert!(report.to_string().contains("skipped 7 bad rows"), "{report}");
}

#[test]
fn no_validation_file_gives_a_stratified_seeded_split() {
    let dir = tempfile::tempdir().unwrap();
    let mut content = b"text,label\n".to_vec();
    for i in 0..100 {
        let label = if i % 4 == 0 { "rare" } else { "common" };
        content.extend_from_slice(format!("the movie {i},{label}\n").as_bytes());
    }
    let train = write(dir.path(), "train.csv", &content);
    let files = DataFiles { train, validation: None, test: None };
    let opts = DataOptions { validation_split: 0.2, seed: 7, ..DataOptions::default() };
    let data = load(&files, &tokenizer(), &opts).unwrap();
    assert!(data.validation_from_train);
    assert_eq!((data.train.len(), data.validation.len()), (80, 20));
    let rare = (0..data.validation.len()).filter(|&i| data.validation.classes(i) == [1]).count();
    assert_eq!(rare, 5, "20% of the 25 rare rows");
    let again = load(&files, &tokenizer(), &opts).unwrap();
    assert_eq!(again.validation, data.validation);
}

#[test]
fn long_texts_are_truncated_to_max_len() {
    let dir = tempfile::tempdir().unwrap();
    let long = "the movie was good ".repeat(50);
    let path = write(dir.path(), "t.csv", format!("text,label\n{long},1\nshort,0\n").as_bytes());
    let opts = DataOptions { max_len: 16, ..DataOptions::default() };
    let (ex, _, report) = read_train(&path, &tokenizer(), &opts).unwrap();
    assert_eq!((ex.length(0), report.at_max_len), (16, 1));
}

#[test]
fn byte_order_marks_are_ignored() {
    let dir = tempfile::tempdir().unwrap();
    let csv = write(dir.path(), "bom.csv", b"\xef\xbb\xbftext,label\ngood,pos\n");
    let jsonl = write(dir.path(), "bom.jsonl", b"\xef\xbb\xbf{\"text\": \"good\", \"label\": \"pos\"}\n");
    let (a, _, _) = read_train(&csv, &tokenizer(), &DataOptions::default()).unwrap();
    let (b, _, _) = read_train(&jsonl, &tokenizer(), &DataOptions::default()).unwrap();
    assert_eq!(a, b);
}

/// Regression: a data file with no newline (`/dev/zero`) grew memory to gigabytes; a NUL-filled file
/// is now refused as binary at once, and an endless row stops at the row size limit.
#[test]
fn endless_rows_stop_at_the_row_size_limit() {
    #[cfg(unix)]
    {
        let err = RowReader::open(Path::new("/dev/zero"), Some(Format::Csv), &Columns::default()).err().unwrap();
        assert!(err.to_string().starts_with("/dev/zero: looks like binary data, not text"), "{err}");
    }
    for format in [Format::Csv, Format::Tsv, Format::Jsonl] {
        let header: &[u8] = match format {
            Format::Csv => b"text,label\n",
            Format::Tsv => b"text\tlabel\n",
            Format::Jsonl | Format::Conll => b"",
        };
        let endless = std::io::Read::chain(header, std::io::repeat(b'x'));
        let rows = RowReader::from_reader(Path::new("in"), endless, format, &Columns::default(), 1000);
        let err = rows.and_then(|mut r| r.next().unwrap()).unwrap_err();
        let line = if format == Format::Jsonl { 1 } else { 2 };
        assert!(matches!(err, DataError::RowTooLong { line: l, limit: 1000, .. } if l == line), "{format:?}: {err}");
    }
    // Tagged files too: an endless line, and an endless sentence of short lines.
    for (format, body) in [(Format::Conll, b"x".as_slice()), (Format::Jsonl, b"x"), (Format::Conll, b"a O\n")] {
        let endless = std::io::Read::chain(&b""[..], std::io::Read::take(ft_data_repeat(body), u64::MAX));
        let mut rows =
            ft_data::TaggedReader::new(Path::new("in"), endless, format, Default::default(), true, 1000).unwrap();
        let err = rows.next().unwrap().unwrap_err();
        assert!(matches!(err, DataError::RowTooLong { line: 1, limit: 1000, .. }), "{format:?}: {err}");
        assert!(rows.next().is_none());
    }
}

/// `body` repeated forever.
fn ft_data_repeat(body: &'static [u8]) -> impl std::io::Read {
    struct Cycle(&'static [u8], usize);
    impl std::io::Read for Cycle {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            for b in buf.iter_mut() {
                *b = self.0[self.1 % self.0.len()];
                self.1 += 1;
            }
            Ok(buf.len())
        }
    }
    Cycle(body, 0)
}

/// Regression: a 10 MB single-line row was read whole before anything looked at it.
#[test]
fn a_row_over_the_limit_is_an_error_with_its_line_and_the_fix() {
    let long = "word ".repeat(2_000_000);
    let csv = format!("text,label\nshort,a\n{long},b\n");
    let err = train_err("t.csv", csv.as_bytes(), &DataOptions::default());
    assert_eq!(
        err,
        "t.csv:3: a row longer than 1 MiB starts here; is this the right file? If it is, raise the limit with --max-row-bytes"
    );
    let jsonl = format!("{{\"text\": \"{long}\", \"label\": 1}}\n");
    let err = train_err("t.jsonl", jsonl.as_bytes(), &DataOptions::default());
    assert!(err.starts_with("t.jsonl:1: a row longer than 1 MiB starts here"), "{err}");
    // The limit is an option; a row at the limit is fine.
    let small = DataOptions { max_row_bytes: 10, ..DataOptions::default() };
    let err = train_err("t.tsv", b"text\tlabel\nabcdefgh\tb\nabcdefgh\tbc\n", &small);
    assert!(err.starts_with("t.tsv:3: a row longer than 10 bytes starts here"), "{err}");
    assert_eq!(DataOptions::default().max_row_bytes, 1_048_576);
    assert_eq!(ft_data::DEFAULT_MAX_ROW_BYTES, 1 << 20);
}

/// Regression: an unclosed quote merged every following row into one field without a word.
#[test]
fn an_unclosed_quote_names_the_line_where_it_opened() {
    let mut csv = b"text,label\ngood,pos\n\"bad, neg\n".to_vec();
    for i in 0..10 {
        csv.extend_from_slice(format!("row {i},pos\n").as_bytes());
    }
    let err = train_err("train.csv", &csv, &DataOptions::default());
    assert_eq!(
        err,
        "train.csv:3: a quoted field opened here is never closed (it runs to the end of the file, over 11 lines); close the quote or escape it as \"\""
    );
    // Past the row size limit, the open quote is named rather than the size.
    let small = DataOptions { max_row_bytes: 30, ..DataOptions::default() };
    let err = train_err("train.csv", &csv, &small);
    assert!(err.starts_with("train.csv:3: a quoted field opened here is never closed (it runs on over 4 lines, past the row size limit of 30 bytes)"), "{err}");
    // Closed later, it swallows the rows in between: the row's field count gives it away.
    let csv = b"text,label\ngood,pos\n\"bad,neg\nfine,pos\nsaid \"hi, there\",neg\nlast,pos\n";
    let err = train_err("train.csv", csv, &DataOptions::default());
    assert_eq!(
        err,
        "train.csv:3: a quoted field opened here runs over 3 lines, leaving this row 3 fields where the header has 2; close the quote where the field ends or escape it as \"\""
    );
    // A quoted field over several lines with the right field count is a multi-line text.
    let dir = tempfile::tempdir().unwrap();
    let ok = write(dir.path(), "ok.csv", b"text,label\n\"line one\nline two\",pos\nnext,neg\n");
    let (ex, _, report) = read_train(&ok, &tokenizer(), &DataOptions::default()).unwrap();
    assert_eq!((ex.len(), report.rows), (2, 2));
}

/// Regression: UTF-16 files showed mangled column names (`\u{fffd}\u{fffd}t\0e\0x\0t\0`).
#[test]
fn utf16_files_are_refused_with_the_fix() {
    let utf16 = |bom: &[u8], s: &str| -> Vec<u8> {
        bom.iter().copied().chain(s.encode_utf16().flat_map(u16::to_le_bytes)).collect()
    };
    for name in ["t.csv", "t.tsv", "t.jsonl"] {
        let err = train_err(name, &utf16(b"\xff\xfe", "text,label\na,b\n"), &DataOptions::default());
        assert_eq!(err, format!("{name}: looks like UTF-16 (byte-order mark FF FE); re-save it as UTF-8"));
        let err = train_err(name, &utf16(b"", "text,label\na,b\n"), &DataOptions::default());
        assert!(err.starts_with(&format!("{name}: looks like UTF-16 LE without a byte-order mark")), "{err}");
    }
}

/// Regression: `--text-column label --label-column label` trained the model on its labels.
#[test]
fn text_and_label_columns_must_differ() {
    let same =
        DataOptions { columns: Columns { text: Some("label".into()), ..Columns::default() }, ..DataOptions::default() };
    let expected = "--text-column and --label-column both name column `label`: the model would be trained to read its labels; name two different columns";
    assert_eq!(train_err("t.csv", b"text,label\na,b\n", &same), expected);
    assert_eq!(train_err("t.jsonl", b"{\"text\": \"a\", \"label\": \"b\"}\n", &same), expected);
    // Through the defaults: no --text-column, so `text` is used, and --label-column text.
    let defaulted =
        DataOptions { columns: Columns { label: "text".into(), ..Columns::default() }, ..DataOptions::default() };
    for (name, content) in [("t.csv", &b"text,label\na,b\n"[..]), ("t.jsonl", b"{\"text\": \"a\", \"label\": \"b\"}\n")]
    {
        let err = train_err(name, content, &defaulted);
        assert!(err.starts_with("the default text column and --label-column both name column `text`"), "{err}");
    }
    let pair = DataOptions {
        columns: Columns { text_pair: Some("text".into()), ..Columns::default() },
        ..DataOptions::default()
    };
    let err = train_err("t.csv", b"text,label\na,b\n", &pair);
    assert!(err.starts_with("--text-pair-column and the default text column both name column `text`"), "{err}");
}

/// Regression: training and prediction disagreed on what an empty text is; both use `is_blank`.
#[test]
fn invisible_only_text_is_empty_text() {
    let err = train_err("t.csv", "text,label\nfine,pos\n\u{200b}\u{feff},neg\n".as_bytes(), &DataOptions::default());
    assert_eq!(err, "t.csv:3: empty text in column `text`; remove the row, or pass --skip-bad-rows");
    assert!(ft_data::is_blank("") && ft_data::is_blank(" \t") && !ft_data::is_blank("a"));
}

#[test]
fn readers_take_any_reader() {
    let columns = Columns::default();
    let csv: &[u8] = b"text,label\n\"a, b\",x\nc,y\n";
    let rows: Vec<_> = RowReader::from_reader(Path::new("mem.csv"), csv, Format::Csv, &columns, 100)
        .unwrap()
        .map(|r| r.map(|r| (r.line, r.text)))
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(rows, [(2, "a, b".to_string()), (3, "c".to_string())]);
    let jsonl: &[u8] = b"{\"text\": \"q\"}\n";
    let texts: Vec<_> = TextReader::from_reader(Path::new("mem.jsonl"), jsonl, Format::Jsonl, &columns, 100)
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    assert_eq!(texts[0].text, "q");
    let err = RowReader::from_reader(Path::new("mem.csv"), csv, Format::Csv, &columns, 0).err().unwrap().to_string();
    assert!(err.starts_with("--max-row-bytes 0:"), "{err}");
}

/// Regression: after a `\r\n` or a blank line, CSV rows were reported one line (or more) too early.
#[test]
fn crlf_and_blank_lines_keep_line_numbers() {
    let err = train_err("t.csv", b"text,label\r\na,pos\r\n,neg\r\n", &DataOptions::default());
    assert!(err.starts_with("t.csv:3: empty text"), "{err}");
    let err = train_err("t.csv", b"text,label\na,pos\n\n\n\"\",neg\n", &DataOptions::default());
    assert!(err.starts_with("t.csv:5: empty text"), "{err}");
    let err = train_err("t.tsv", b"text\tlabel\r\n\r\na\tpos\tx\r\n", &DataOptions::default());
    assert!(err.starts_with("t.tsv:3: 3 fields"), "{err}");
    let err = train_err(
        "t.jsonl",
        b"{\"text\": \"a\", \"label\": 1}\r\n{\"text\": \" \", \"label\": 1}\r\n",
        &DataOptions::default(),
    );
    assert!(err.starts_with("t.jsonl:2: empty text"), "{err}");
}
