//! Tokenization throughput (sentences/s) on real text: rt-snippets review snippets through the MiniLM
//! tokenizer, both loading paths (tokenizer.json via the `tokenizers` crate, vocab.txt via ft's BERT
//! pipeline), one thread and all threads (rayon).
//!
//! `cargo bench -p ft-data --bench tokenize -- --warm-up-time 1 --measurement-time 3`
//! (fetches rt-snippets and minilm-l6 on first use).

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ft_data::Tokenizer;
use std::hint::black_box;

const SENTENCES: usize = 2048;
const MAX_LEN: usize = 128;

fn sentences() -> Vec<String> {
    let dir = ft_data::datasets::ensure("rt-snippets").unwrap_or_else(|e| panic!("{e}"));
    let text = std::fs::read_to_string(dir.join("train.tsv")).expect("train.tsv");
    text.lines().skip(1).filter_map(|l| l.split_once('\t')).map(|(_, t)| t.to_string()).take(SENTENCES).collect()
}

fn bench(c: &mut Criterion) {
    let model = ft_assets::resolve_model("minilm-l6").unwrap_or_else(|e| panic!("{e}"));
    let texts = sentences();
    let inputs: Vec<(&str, Option<&str>)> = texts.iter().map(|t| (t.as_str(), None)).collect();
    let tokenizers = [
        ("tokenizer.json", Tokenizer::from_tokenizer_json(&model).unwrap()),
        ("vocab.txt", Tokenizer::from_vocab(&model).unwrap()),
    ];
    let mut group = c.benchmark_group("tokenize");
    group.throughput(Throughput::Elements(inputs.len() as u64));
    for (name, tok) in &tokenizers {
        group.bench_function(format!("{name}/1 thread"), |b| {
            b.iter(|| {
                for (t, p) in &inputs {
                    black_box(tok.encode(t, *p, MAX_LEN).unwrap());
                }
            })
        });
        group.bench_function(format!("{name}/parallel"), |b| {
            b.iter(|| black_box(tok.encode_batch(&inputs, MAX_LEN).unwrap()))
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
