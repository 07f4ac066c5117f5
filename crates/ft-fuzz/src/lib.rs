//! ft-fuzz: the bodies of ft's fuzz targets — every file ft reads from a user or from a previous run,
//! fed arbitrary bytes through ft's own readers. A target returns quietly on any input: errors are the
//! expected answer to bad bytes, and a panic (or an abort, a hang, an allocation past the limit) is a
//! bug in ft or below it.
//!
//! Place: beside the pipeline, not in it. `fuzz/` wraps each function in a libFuzzer target (nightly,
//! `cargo fuzz run <target>`); `tests/smoke.rs` replays the committed corpus `fuzz/corpus/<target>/` and
//! mutations of it on stable, so CI exercises the same bodies without a fuzzing toolchain.
//!
//! ```
//! // Bytes in, nothing out: each call either returns or panics with the bug.
//! ft_fuzz::config_json(br#"{"vocab_size": 1e999, "hidden_size": -1}"#);
//! for (name, target) in ft_fuzz::TARGETS {
//!     target(b"\xff\x00 not a file of any kind");
//!     assert!(!name.is_empty());
//! }
//! ```

#![warn(missing_docs)]

pub mod fixtures;
pub mod frame;
mod scratch;
pub mod seeds;

use ft_data::files::{DEFAULT_MAX_ROW_BYTES, RowReader, TextReader};
use ft_data::{Columns, DataOptions, Format, TagColumns, TaggedReader, TokenOptions, Tokenizer};
use ft_model::burn::optim::ModuleOptimizer;
use ft_model::burn::tensor::Device;
use ft_model::checkpoint::save::classification_config;
use ft_model::{
    BertConfig, BertForSequenceClassification, LoadOptions, check_safetensors, check_safetensors_header,
    load_pretrained,
};
use ft_train::checkpoint::{TrainerState, load_checkpoint};
use ft_train::run_config::RunConfig;
use std::path::Path;

/// For the `init` of the libFuzzer targets: a panic that ft catches itself (it turns the `tokenizers`
/// crate's and burn's panics on damaged files into errors) is not a crash. libfuzzer-sys's own hook
/// aborts on every panic, caught or not; this one prints the message and lets it unwind, so only a
/// panic that reaches the target's caller aborts (libfuzzer-sys does that after its `catch_unwind`).
/// The smoke test has the same rule.
pub fn libfuzzer_init() {
    std::panic::set_hook(Box::new(|info| eprintln!("panic (a crash unless ft catches it): {info}")));
}

/// A fuzz body: any bytes in, returns unless it found a bug.
pub type Target = fn(&[u8]);

/// Every target by name; the names are those of `fuzz/fuzz_targets/<name>.rs` and `fuzz/corpus/<name>/`.
pub const TARGETS: &[(&str, Target)] = &[
    ("safetensors_header", safetensors_header),
    ("config_json", config_json),
    ("tokenizer_json", tokenizer_json),
    ("vocab_txt", vocab_txt),
    ("csv_rows", csv_rows),
    ("tsv_rows", tsv_rows),
    ("jsonl_rows", jsonl_rows),
    ("conll_rows", conll_rows),
    ("squad_rows", squad_rows),
    ("trainer_state", trainer_state),
    ("run_toml", run_toml),
    ("checkpoint", checkpoint),
];

/// Load options the safetensors target tries each file with: the config's head, and a 3-class head
/// that replaces a classifier of another size.
fn load_options() -> [LoadOptions; 2] {
    let relabel = LoadOptions {
        labels: Some(vec!["a".into(), "b".into(), "c".into()]),
        reinit_classifier: true,
        ..Default::default()
    };
    [LoadOptions::default(), relabel]
}

/// `model.safetensors` against the micro config: ft's header parser and tensor table check
/// ([`check_safetensors_header`]), the finiteness scan of the data ([`check_safetensors`]), and, for a
/// file that passes both, the whole [`load_pretrained`] (burn-store applying the tensors).
pub fn safetensors_header(data: &[u8]) {
    let config = fixtures::micro_config();
    let path = Path::new("fuzz/model.safetensors");
    let mut loadable = false;
    for options in load_options() {
        let header = check_safetensors_header::<BertForSequenceClassification>(data, &config, &options, path);
        let full = check_safetensors::<BertForSequenceClassification>(data, &config, &options, path);
        // The data check only adds to the header check.
        assert!(header.is_ok() || full.is_err(), "check_safetensors accepted what the header check refused");
        loadable |= full.is_ok();
    }
    if loadable {
        scratch::with(|s| {
            let files = [("config.json", fixtures::MICRO_CONFIG_JSON.as_bytes()), ("model.safetensors", data)];
            let _ = load_pretrained::<BertForSequenceClassification>(
                &s.write("model", &files),
                &LoadOptions::default(),
                &fixtures::cpu(),
            );
        });
    }
}

/// `config.json`: [`BertConfig::from_json_str`] (serde + `validate`, what `from_file` does after
/// reading); for a valid config, what ft derives from it, the config `save_pretrained` writes from it
/// (which must read back unchanged), and the comparison with a real safetensors header.
pub fn config_json(data: &[u8]) {
    // `from_file` reads the file as UTF-8 text first; other bytes are an I/O error there.
    let Ok(text) = std::str::from_utf8(data) else { return };
    let path = Path::new("fuzz/config.json");
    let Ok(config) = BertConfig::from_json_str(text, path) else { return };
    let _ = (config.activation(), config.head_dim(), config.classifier_dropout_prob());
    // A config is compared with a checkpoint's header before it is used to build anything.
    scratch::with(|s| {
        let _ = check_safetensors_header::<BertForSequenceClassification>(
            s.micro_safetensors(),
            &config,
            &LoadOptions::default(),
            path,
        );
    });
    // Label names are only built once a checkpoint bounds the head (the loader refuses more than
    // MAX_FRESH_VALUES fresh values); a bare config may claim any count.
    if config.labels_count() <= 1024 {
        let saved = classification_config(&config, config.labels_count());
        let json = serde_json::to_string_pretty(&saved).expect("a valid config serialises");
        match BertConfig::from_json_str(&json, path) {
            Ok(back) => {
                let (a, b) = (serde_json::to_value(&back), serde_json::to_value(&saved));
                let same = matches!((&a, &b), (Ok(a), Ok(b)) if same_json(a, b));
                assert!(same, "config.json written by save_pretrained reads back different:\n{back:?}\n{saved:?}");
            }
            Err(e) => panic!("config.json written by save_pretrained does not read back: {e}\n{json}"),
        }
    }
}

/// JSON equality with floats allowed one unit in the last place apart. serde_json's default float
/// parser (without its `float_roundtrip` feature) is not correctly rounded: about one f64 in ten that
/// serde_json writes reads back one ULP away (`0.9856906946328695` → `0.9856906946328696`;
/// `"layer_norm_eps": 1e-24` → 1.0000000000000001e-24). Found by these targets and reported; the
/// tolerance keeps the round-trip checks from stopping on it without hiding anything larger.
fn same_json(a: &serde_json::Value, b: &serde_json::Value) -> bool {
    use serde_json::Value;
    match (a, b) {
        (Value::Number(x), Value::Number(y)) if x.is_f64() || y.is_f64() => match (x.as_f64(), y.as_f64()) {
            (Some(x), Some(y)) => x == y || (x.signum() == y.signum() && x.to_bits().abs_diff(y.to_bits()) <= 1),
            _ => false,
        },
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same_json(x, y)),
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|((kx, vx), (ky, vy))| kx == ky && same_json(vx, vy))
        }
        _ => a == b,
    }
}

/// Sample texts encoded by every tokenizer that loads: accents, CJK, a special token inside a word,
/// control characters, and a pair.
const TEXTS: [(&str, Option<&str>); 3] = [
    ("Hello, World! naïve café 北京 [SEP]x[MASK]", Some("a second\ttext\u{0}\u{200d}")),
    ("   ", None),
    ("ab cd ef gh ij kl mn op qr st uv wx yz", Some("1 2 3 4 5 6 7 8 9 10 11 12")),
];

/// Encodes [`TEXTS`] with `tokenizer` at a few lengths, down to one too small for the special tokens.
/// What ft relies on downstream is checked: at most `max_len` tokens (positions), one entry per token
/// in every field, no id past `max_token_id` (the bound the model's vocabulary is checked against),
/// and offsets inside the characters of their own sequence (added specials: `(0, 0)`).
fn exercise(tokenizer: &Tokenizer) {
    let _ = (tokenizer.pad_id(), tokenizer.vocab_size(), tokenizer.token_to_id("[CLS]"));
    let max_id = tokenizer.max_token_id();
    for (text, pair) in TEXTS {
        for max_len in [512, 8, 3, 1, 0] {
            if let Ok(enc) = tokenizer.encode(text, pair, max_len) {
                assert!(enc.len() <= max_len, "encoding of {} tokens exceeds max_len {max_len}", enc.len());
                assert!(enc.is_aligned(), "encoding fields of different lengths: {enc:?}");
                let past = enc.ids.iter().find(|&&id| id > max_id);
                assert!(past.is_none(), "id {past:?} exceeds max_token_id {max_id}");
                for (&(start, end), seq) in enc.offsets.iter().zip(&enc.sequence_ids) {
                    let chars = match seq {
                        Some(0) => text.chars().count(),
                        Some(_) => pair.map_or(0, |p| p.chars().count()),
                        None => 0,
                    };
                    assert!(start <= end && end <= chars, "offsets ({start}, {end}) outside {chars} chars: {enc:?}");
                }
            }
        }
    }
}

/// `tokenizer.json` (with the fixture's `tokenizer_config.json` and `special_tokens_map.json` beside
/// it): [`Tokenizer::from_tokenizer_json`], then encoding a few texts with what loaded.
pub fn tokenizer_json(data: &[u8]) {
    scratch::with(|s| {
        let files = [
            ("tokenizer.json", data),
            ("tokenizer_config.json", fixtures::TINY_TOKENIZER_CONFIG),
            ("special_tokens_map.json", fixtures::TINY_SPECIAL_TOKENS),
        ];
        if let Ok(tokenizer) = Tokenizer::from_tokenizer_json(&s.write("tokenizer-json", &files)) {
            exercise(&tokenizer);
        }
    });
}

/// `vocab.txt` (with the fixture's `tokenizer_config.json` and `special_tokens_map.json` beside it):
/// [`Tokenizer::from_vocab`] (ft's own BERT pipeline), then encoding a few texts with what loaded.
pub fn vocab_txt(data: &[u8]) {
    scratch::with(|s| {
        let files = [
            ("vocab.txt", data),
            ("tokenizer_config.json", fixtures::TINY_TOKENIZER_CONFIG),
            ("special_tokens_map.json", fixtures::TINY_SPECIAL_TOKENS),
        ];
        if let Ok(tokenizer) = Tokenizer::from_vocab(&s.write("vocab", &files)) {
            exercise(&tokenizer);
        }
    });
}

/// Reads `data` as a data file of `format`, one of three ways chosen by `pick % 3` (callers pass the
/// input's length, so the mutator reaches all three): every row of a [`RowReader`] (default columns,
/// default row size limit) from memory; every text of a [`TextReader`] (with a pair column, a 64-byte
/// row limit) from memory; or [`ft_data::dataset::read_train`] on the file (labels detected, bad rows
/// skipped, texts tokenized by the fixture tokenizer, a 256-byte row limit). One reader per input:
/// building a CSV reader (the `csv` crate's DFA) was most of an execution, three per input ran at
/// 1,400 executions a second.
fn rows(data: &[u8], format: Format, name: &str, pick: usize) {
    let path = Path::new(name);
    // The readers stop after an error; the cap only guards against one that would not.
    let cap = data.len() + 2;
    match pick % 3 {
        0 => {
            if let Ok(reader) = RowReader::from_reader(path, data, format, &Columns::default(), DEFAULT_MAX_ROW_BYTES) {
                reader.take(cap).for_each(drop);
            }
        }
        1 => {
            let pair = Columns { text: Some("text".into()), text_pair: Some("pair".into()), label: "label".into() };
            if let Ok(reader) = TextReader::from_reader(path, data, format, &pair, 64) {
                reader.take(cap).for_each(drop);
            }
        }
        _ => scratch::with(|s| {
            let path = s.write("rows", &[(name, data)]).join(name);
            let options = DataOptions {
                format: Some(format),
                skip_bad_rows: true,
                max_len: 16,
                max_row_bytes: 256,
                ..Default::default()
            };
            let _ = ft_data::dataset::read_train(&path, s.tokenizer(), &options);
        }),
    }
}

/// Tagged sentences (token classification) in `format`, one of four ways chosen by `pick % 4` (as in
/// [`rows`]): the streaming reader with or without tags, or the whole training path (label set,
/// alignment, tokenization) through a file, with or without `label_all_tokens`.
fn tagged(data: &[u8], format: Format, name: &str, pick: usize) {
    let path = Path::new(name);
    let cap = data.len() + 2;
    match pick % 4 {
        p @ (0 | 1) => {
            let with_tags = p == 0;
            if let Ok(reader) =
                TaggedReader::new(path, data, format, TagColumns::default(), with_tags, DEFAULT_MAX_ROW_BYTES)
            {
                reader.take(cap).for_each(drop);
            }
        }
        p => scratch::with(|s| {
            let path = s.write("tagged", &[(name, data)]).join(name);
            let options = DataOptions {
                format: Some(format),
                skip_bad_rows: true,
                max_len: 16,
                max_row_bytes: 256,
                tokens: TokenOptions { columns: TagColumns::default(), label_all_tokens: p == 3 },
                ..Default::default()
            };
            let _ = ft_data::tagging::read_tagged_train(&path, s.tokenizer(), &options);
        }),
    }
}

/// A CoNLL training file (a word per line, whitespace-separated columns, blank lines between
/// sentences, `-DOCSTART-` skipped): see [`tagged`].
pub fn conll_rows(data: &[u8]) {
    tagged(data, Format::Conll, "train.conll", data.len());
}

/// A CSV training file (RFC 4180 quoting, header row): see [`rows`].
pub fn csv_rows(data: &[u8]) {
    rows(data, Format::Csv, "train.csv", data.len());
}

/// A TSV training file (no quoting, header row): see [`rows`].
pub fn tsv_rows(data: &[u8]) {
    rows(data, Format::Tsv, "train.tsv", data.len());
}

/// A JSON Lines training file (one object per line), by the input's parity: as rows (see [`rows`])
/// or as tagged sentences (`{"tokens", "tags"}`: see [`tagged`]).
pub fn jsonl_rows(data: &[u8]) {
    match data.len() % 2 {
        0 => rows(data, Format::Jsonl, "train.jsonl", data.len() / 2),
        _ => tagged(data, Format::Jsonl, "tagged.jsonl", data.len() / 2),
    }
}

/// A question-answering file: the bytes as a SQuAD v1.1 JSON document ([`ft_data::read_squad_json`])
/// and as `datasets` JSON Lines ([`ft_data::files::SquadJsonlRows`]); the first questions that read
/// are cut into context windows with their answer positions ([`ft_data::qa::windows`]).
pub fn squad_rows(data: &[u8]) {
    let path = Path::new("train.json");
    let mut examples = Vec::new();
    if let Ok(rows) = ft_data::read_squad_json(path, data) {
        examples.extend(rows.into_iter().flatten());
    }
    if let Ok(rows) = ft_data::files::SquadJsonlRows::new(Path::new("train.jsonl"), data, 256) {
        examples.extend(rows.take(data.len() + 2).flatten());
    }
    scratch::with(|s| {
        for (i, e) in examples.iter().take(4).enumerate() {
            let answer = e.answers.first().map(|a| (a.start, a.text.as_str()));
            let _ = ft_data::qa::windows(s.tokenizer(), i, &e.question, &e.context, answer, 24, 4);
        }
    });
}

/// `trainer_state.json` as `load_checkpoint` reads it; a state that reads must write back and read
/// again the same (checkpoints are written from it), floats within the one-ULP drift of serde_json's
/// default parser (see [`same_json`]; `tests/smoke.rs` pins that drift as a failing test of its own).
pub fn trainer_state(data: &[u8]) {
    let Ok(state) = serde_json::from_slice::<TrainerState>(data) else { return };
    let json = serde_json::to_vec_pretty(&state).expect("a trainer state serialises");
    let back: TrainerState = serde_json::from_slice(&json).expect("a written trainer state reads back");
    let (a, b) = (serde_json::to_value(&back), serde_json::to_value(&state));
    let same = matches!((&a, &b), (Ok(a), Ok(b)) if same_json(a, b));
    assert!(same, "trainer_state.json reads back different:\n{back:?}\n{state:?}");
}

/// `run.toml` (or a `--config` file): [`RunConfig`] as `RunConfig::read` parses it, the training
/// settings' validation, and the write-back (`to_toml`) that `--resume` reads again: it must parse and
/// serialise to the same text.
pub fn run_toml(data: &[u8]) {
    // `RunConfig::read` reads the file to a string first; other bytes are an I/O error there.
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(config) = toml::from_str::<RunConfig>(text) else { return };
    let _ = config.training.validate();
    let _ = config.changes_on_resume(&RunConfig::default());
    let written = config.to_toml().expect("a run config that reads also writes");
    let back: RunConfig =
        toml::from_str(&written).unwrap_or_else(|e| panic!("run.toml does not read back: {e}\n{written}"));
    assert_eq!(back.to_toml().ok().as_deref(), Some(written.as_str()), "run.toml reads back different");
}

/// A checkpoint directory (framed in one input, see [`frame`]) loaded by [`load_checkpoint`] into the
/// micro model and its AdamW, on the autodiff CPU device, as a resumed run does; a checkpoint that
/// loads must then train one step.
pub fn checkpoint(data: &[u8]) {
    if let Some((model, optim, device)) = load_framed_checkpoint(data) {
        let _ = fixtures::train_one_step(model, optim, &device);
    }
}

/// Whether a framed checkpoint loads: the smoke test checks that the seeds do, so that the target
/// keeps reaching burn's readers behind the checksums.
pub fn checkpoint_loads(data: &[u8]) -> bool {
    load_framed_checkpoint(data).is_some()
}

type Loaded = (BertForSequenceClassification, ModuleOptimizer, Device);

fn load_framed_checkpoint(data: &[u8]) -> Option<Loaded> {
    let [state, model, optim, sums] = frame::split_checkpoint(data);
    let [state_name, model_name, optim_name, sums_name] = frame::CHECKPOINT_FILES;
    let files = [(state_name, state), (model_name, model), (optim_name, optim)];
    let sums = if sums.is_empty() { frame::checksums(&files) } else { sums.to_vec() };
    scratch::with(|s| {
        let mut all = files.to_vec();
        all.push((sums_name, &sums));
        let dir = s.write("checkpoint", &all);
        let (device, model, optim) = s.skeleton();
        let (model, optim, _state) = load_checkpoint(&dir, model.clone(), optim.clone()).ok()?;
        Some((model, optim, device.clone()))
    })
}
