//! Dataset files as users bring them: formats, columns, label kinds, and every bad-row case with the
//! message it gives (file:line, what, the fix).

use ft_data::dataset::{load, read_train};
use ft_data::{Columns, DataError, DataFiles, DataOptions, LabelKind, LabelOptions, Labels, Tokenizer};
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
        labels: LabelOptions { kind: Some(LabelKind::MultiLabel), separator: "|".into() },
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
