//! Token classification files end to end: CoNLL and JSONL give the same examples, detection picks
//! the task from the file, the label set is the training file's sorted tags, unknown tags and short
//! lines are file:line errors (skippable), integer tags need names, truncation is counted, batches
//! are `[B, T]` with -100.

use ft_data::dataset::load;
use ft_data::tagging::{labelled_tags, word_tags};
use ft_data::{
    DataFiles, DataOptions, IGNORE_INDEX, LabelKind, LabelOptions, Labels, TagColumns, TokenOptions, Tokenizer,
};
use std::path::{Path, PathBuf};

fn tokenizer() -> Tokenizer {
    Tokenizer::from_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/tiny")).unwrap()
}

fn write(dir: &Path, name: &str, content: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, content).unwrap();
    path
}

const CONLL: &str = "-DOCSTART- -X- -X- O\n\nEU NNP B-NP B-ORG\nrejects VBZ B-VP O\nGerman JJ B-NP B-MISC\n\nPeter NNP B-NP B-PER\nBlackburn NNP I-NP I-PER\n";
const JSONL: &str = "{\"tokens\": [\"EU\", \"rejects\", \"German\"], \"tags\": [\"B-ORG\", \"O\", \"B-MISC\"]}\n{\"tokens\": [\"Peter\", \"Blackburn\"], \"ner_tags\": [\"B-PER\", \"I-PER\"]}\n";

fn files(train: PathBuf, validation: Option<PathBuf>) -> DataFiles {
    DataFiles { train, validation, test: None }
}

#[test]
fn conll_and_jsonl_give_the_same_examples_and_the_task_is_detected() {
    let dir = tempfile::tempdir().unwrap();
    let conll = write(dir.path(), "train.conll", CONLL);
    let jsonl = write(dir.path(), "train.jsonl", JSONL);
    let tok = tokenizer();
    let opts = DataOptions::default();
    let a = load(&files(conll.clone(), Some(conll.clone())), &tok, &opts).unwrap();
    let b = load(&files(jsonl.clone(), Some(jsonl)), &tok, &opts).unwrap();
    assert_eq!(a.labels.kind, LabelKind::TokenClasses);
    // run_ner's get_label_list: the sorted unique tags of training.
    assert_eq!(a.labels.names, ["B-MISC", "B-ORG", "B-PER", "I-PER", "O"]);
    assert_eq!(a.labels, b.labels);
    assert_eq!(a.train, b.train);
    assert_eq!(a.train.len(), 2);
    assert_eq!((a.reports[0].words, a.reports[0].words_cut), (5, 0));
    let batch = a.train.collate(&[0, 1], None);
    let Labels::TokenClasses(labels) = &batch.labels else { panic!("{:?}", batch.labels) };
    assert_eq!(labels.len(), batch.batch_size * batch.seq_len);
    // Each row: -100 at [CLS], [SEP] and padding; one label per word.
    for row in labels.chunks(batch.seq_len) {
        assert_eq!(row[0], IGNORE_INDEX);
    }
    let per_row: Vec<usize> =
        labels.chunks(batch.seq_len).map(|r| r.iter().filter(|&&l| l != IGNORE_INDEX).count()).collect();
    assert_eq!(per_row, [3, 2]);
    // Predictions equal to the labels give the tags back, per word.
    let preds: Vec<i64> = labels.iter().map(|&l| l.max(0)).collect();
    let seqs = labelled_tags(labels, &preds, batch.seq_len, &a.labels.names).unwrap();
    assert_eq!(seqs.true_tags, [vec!["B-ORG", "O", "B-MISC"], vec!["B-PER", "I-PER"]]);
    assert_eq!(seqs.true_tags, seqs.pred_tags);
    assert_eq!(word_tags(&a.train, &[0, 1], &preds, batch.seq_len, &a.labels.names).unwrap(), seqs);
}

#[test]
fn tag_column_and_label_all_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let conll = write(dir.path(), "t.txt", CONLL);
    let opts = DataOptions {
        tokens: TokenOptions { columns: TagColumns { token: 0, tag: Some(2) }, label_all_tokens: true },
        ..DataOptions::default()
    };
    let data = load(&files(conll, None), &tokenizer(), &DataOptions { validation_split: 0.5, ..opts }).unwrap();
    assert_eq!(data.labels.names, ["B-NP", "B-VP", "I-NP"], "the chunk column");
    // Every sub-token of a word is labelled: no -100 between [CLS] and [SEP].
    let all: Vec<u32> = (0..data.train.len() as u32).collect();
    let b = data.train.collate(&all, None);
    let Labels::TokenClasses(labels) = &b.labels else { panic!() };
    let lengths = b.lengths();
    for (row, len) in labels.chunks(b.seq_len).zip(lengths) {
        assert!(row[1..len - 1].iter().all(|&l| l >= 0), "{row:?}");
    }
}

#[test]
fn unknown_tags_short_lines_and_skipping() {
    let dir = tempfile::tempdir().unwrap();
    let train = write(dir.path(), "train.conll", CONLL);
    let valid = write(dir.path(), "valid.conll", "a O\nb B-LOC\n\nc\n\nd O\n");
    let tok = tokenizer();
    let strip = |s: String| s.replace(&format!("{}/", dir.path().display()), "");
    let err =
        strip(load(&files(train.clone(), Some(valid.clone())), &tok, &DataOptions::default()).unwrap_err().to_string());
    assert_eq!(
        err,
        "valid.conll:2: label \"B-LOC\" is not one of [B-MISC, B-ORG, B-PER, I-PER, O] (the labels of the training file); fix the row or add it to the training data"
    );
    let skip = DataOptions { skip_bad_rows: true, ..DataOptions::default() };
    let data = load(&files(train.clone(), Some(valid)), &tok, &skip).unwrap();
    assert_eq!((data.validation.len(), data.reports[1].skipped), (1, 2));
    assert!(
        data.reports[1].first_skipped[1]
            .starts_with(&format!("{}:4: 1 column(s)", dir.path().join("valid.conll").display()))
    );
    // Given names: their order, and the validation tag is then known.
    let names: Vec<String> =
        ["O", "B-LOC", "B-MISC", "B-ORG", "B-PER", "I-PER"].iter().map(|s| s.to_string()).collect();
    let given = DataOptions { labels: LabelOptions { names: Some(names.clone()), ..LabelOptions::default() }, ..skip };
    let valid = write(dir.path(), "valid2.conll", "a O\nb B-LOC\n");
    let data = load(&files(train, Some(valid)), &tok, &given).unwrap();
    assert_eq!(data.labels.names, names);
}

#[test]
fn integer_tags_need_names_and_mismatches_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let ints = write(dir.path(), "t.jsonl", "{\"tokens\": [\"EU\", \"rejects\"], \"ner_tags\": [3, 0]}\n");
    let tok = tokenizer();
    let err = load(&files(ints.clone(), None), &tok, &DataOptions::default()).unwrap_err().to_string();
    assert!(err.contains("t.jsonl:1: tag 3 is an integer id") && err.contains("--labels"), "{err}");
    let names: Vec<String> = ["O", "B-PER", "I-PER", "B-ORG"].iter().map(|s| s.to_string()).collect();
    let opts = DataOptions {
        labels: LabelOptions { names: Some(names), ..LabelOptions::default() },
        validation_split: 0.5,
        ..DataOptions::default()
    };
    let twice = write(dir.path(), "t2.jsonl", &format!("{0}{0}", std::fs::read_to_string(&ints).unwrap()));
    let data = load(&files(twice, None), &tok, &opts).unwrap();
    let l = data.train.token_labels(0);
    assert_eq!(l.iter().filter(|&&x| x >= 0).copied().collect::<Vec<_>>(), [3, 0]);
    let bad = write(dir.path(), "bad.jsonl", "{\"tokens\": [\"a\", \"b\"], \"tags\": [\"O\"]}\n");
    let err = load(&files(bad, None), &tok, &DataOptions::default()).unwrap_err().to_string();
    assert!(
        err.ends_with("bad.jsonl:1: 2 tokens but 1 tags; give one tag per token, or pass --skip-bad-rows"),
        "{err}"
    );
}

#[test]
fn words_cut_by_max_len_are_counted() {
    let dir = tempfile::tempdir().unwrap();
    let train = write(dir.path(), "t.conll", "a O\nb O\nc O\nd O\ne O\n\nf O\n");
    let opts = DataOptions { max_len: 4, ..DataOptions::default() };
    let data = load(&files(train.clone(), Some(train)), &tokenizer(), &opts).unwrap();
    // [CLS] a b [SEP]: 3 of the first sentence's 5 words cut.
    assert_eq!((data.reports[0].words, data.reports[0].words_cut, data.reports[0].at_max_len), (6, 3, 1));
    assert!(data.reports[0].to_string().contains("6 words, 3 cut off by max length"), "{}", data.reports[0]);
    assert_eq!(data.train.words_cut(0), 3);
}
