//! The fuzz targets on stable, for CI: each replays its committed corpus `fuzz/corpus/<target>/`, then
//! runs mutations of it (bit flips, byte changes, truncations, insertions of bytes and format tokens,
//! removals, splices with other corpus files) and some random inputs. A panic fails the test with the
//! input in hex.
//!
//! Mutated cases per target: [`CASES`], times the factor in `FT_FUZZ_CASES_FACTOR` for a long run
//! (`FT_FUZZ_CASES_FACTOR=1000 cargo test --workspace --features wgpu --locked --release --test smoke`)
//! where no fuzzing toolchain is available.
//!
//! `write_seeds` (ignored) regenerates the `seed-*` files of the corpus.

use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

/// Mutated inputs per target in one smoke run (the corpus replay comes on top). Chosen so that the
/// whole test stays under a minute in the dev profile on two cores.
const CASES: &[(&str, u32)] = &[
    ("safetensors_header", 40_000),
    ("config_json", 60_000),
    ("tokenizer_json", 30_000),
    ("vocab_txt", 20_000),
    ("csv_rows", 20_000),
    ("tsv_rows", 20_000),
    ("jsonl_rows", 20_000),
    ("conll_rows", 20_000),
    ("squad_rows", 20_000),
    ("trainer_state", 60_000),
    ("run_toml", 60_000),
    ("checkpoint", 3_000),
];

fn corpus_dir(target: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus").join(target)
}

fn corpus(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = corpus_dir(target);
    let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}; the corpus is committed", dir.display()));
    let mut files: Vec<(String, Vec<u8>)> = entries
        .map(|e| e.expect("a corpus entry").path())
        .filter(|p| p.is_file())
        .map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), std::fs::read(&p).expect("a corpus file")))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "{}: empty corpus", dir.display());
    files
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Runs `target` on `input`; the panic message and the input on failure.
fn run(name: &str, target: ft_fuzz::Target, input: &[u8]) -> Result<(), String> {
    catch_unwind(AssertUnwindSafe(|| target(input))).map_err(|panic| {
        let message = panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default();
        let text = if input.len() <= 4096 { format!("\ninput as text: b\"{}\"", input.escape_ascii()) } else { String::new() };
        format!(
            "{name} panicked: {message}\ninput ({} bytes, hex): {}{text}\nreproduce: write the hex to fuzz/corpus/{name}/crash-… (xxd -r -p) and rerun",
            input.len(),
            hex(input)
        )
    })
}

/// Tokens of the formats, inserted whole so that mutations reach past the first syntax error.
const TOKENS: &[&[u8]] = &[
    b"\"",
    b",",
    b"\n",
    b"\r\n",
    b"\t",
    b"{",
    b"}",
    b"[",
    b"]",
    b":",
    b"=",
    b"null",
    b"true",
    b"-1",
    b"0",
    b"1e999",
    b"18446744073709551615",
    b"4294967296",
    b"\"\"",
    b"[PAD]",
    b"##",
    b"\xff",
    b"\xc3",
    b"\0",
    b"nan",
    b"[training]",
    b"[data]",
    b"\"dtype\":\"F16\"",
    b"\"shape\":[]",
    b"\"data_offsets\":[0,0]",
];

#[derive(Debug, Clone)]
enum Mutation {
    FlipBit { at: usize, bit: u8 },
    SetByte { at: usize, byte: u8 },
    Truncate { at: usize },
    Insert { at: usize, bytes: Vec<u8> },
    InsertToken { at: usize, token: usize },
    Remove { at: usize, len: usize },
    Duplicate { at: usize, len: usize },
    Splice { other: usize, from: usize, at: usize, len: usize },
    SetLittleEndian { at: usize, value: u64, width: u8 },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let at = any::<usize>();
    prop_oneof![
        (at, 0u8..8).prop_map(|(at, bit)| Mutation::FlipBit { at, bit }),
        (at, any::<u8>()).prop_map(|(at, byte)| Mutation::SetByte { at, byte }),
        at.prop_map(|at| Mutation::Truncate { at }),
        (at, prop::collection::vec(any::<u8>(), 1..16)).prop_map(|(at, bytes)| Mutation::Insert { at, bytes }),
        (at, 0..TOKENS.len()).prop_map(|(at, token)| Mutation::InsertToken { at, token }),
        (at, 1usize..64).prop_map(|(at, len)| Mutation::Remove { at, len }),
        (at, 1usize..64).prop_map(|(at, len)| Mutation::Duplicate { at, len }),
        (any::<usize>(), at, at, 1usize..256).prop_map(|(other, from, at, len)| Mutation::Splice {
            other,
            from,
            at,
            len
        }),
        (at, prop_oneof![Just(0u64), Just(1), Just(u64::MAX), Just(1 << 31), Just(1 << 32), any::<u64>()], 1u8..=8)
            .prop_map(|(at, value, width)| Mutation::SetLittleEndian { at, value, width }),
    ]
}

fn apply(input: &mut Vec<u8>, m: &Mutation, corpus: &[(String, Vec<u8>)]) {
    let n = input.len();
    let pos = |at: usize| if n == 0 { 0 } else { at % (n + 1) };
    match m {
        Mutation::FlipBit { at, bit } if n > 0 => input[at % n] ^= 1 << bit,
        Mutation::SetByte { at, byte } if n > 0 => input[at % n] = *byte,
        Mutation::Truncate { at } => input.truncate(pos(*at)),
        Mutation::Insert { at, bytes } => drop(input.splice(pos(*at)..pos(*at), bytes.iter().copied())),
        Mutation::InsertToken { at, token } => drop(input.splice(pos(*at)..pos(*at), TOKENS[*token].iter().copied())),
        Mutation::Remove { at, len } => {
            let start = pos(*at);
            input.drain(start..(start + len).min(n));
        }
        Mutation::Duplicate { at, len } => {
            let start = pos(*at);
            let piece = input[start..(start + len).min(n)].to_vec();
            input.splice(start..start, piece);
        }
        Mutation::Splice { other, from, at, len } => {
            let donor = &corpus[other % corpus.len()].1;
            if !donor.is_empty() {
                let from = from % donor.len();
                let piece = &donor[from..(from + len).min(donor.len())];
                input.splice(pos(*at)..pos(*at), piece.iter().copied());
            }
        }
        Mutation::SetLittleEndian { at, value, width } if n > 0 => {
            let start = at % n;
            let end = (start + *width as usize).min(n);
            input[start..end].copy_from_slice(&value.to_le_bytes()[..end - start]);
        }
        _ => {}
    }
}

fn smoke(name: &str) {
    let target = ft_fuzz::TARGETS.iter().find(|(n, _)| *n == name).expect("a known target").1;
    let corpus = corpus(name);
    let failures: Vec<String> = corpus
        .iter()
        .filter_map(|(file, bytes)| run(name, target, bytes).err().map(|e| format!("{file}: {e}")))
        .collect();
    assert!(failures.is_empty(), "corpus inputs of {name} fail:\n{}", failures.join("\n\n"));

    let factor: u32 = std::env::var("FT_FUZZ_CASES_FACTOR").ok().and_then(|v| v.parse().ok()).unwrap_or(1);
    let cases = CASES.iter().find(|(n, _)| *n == name).expect("cases for every target").1.saturating_mul(factor);
    let config = Config { cases, failure_persistence: None, max_shrink_iters: 2000, ..Config::default() };
    let mutated = (0..corpus.len(), prop::collection::vec(mutation(), 1..8)).prop_map(|(i, ms)| {
        let mut input = corpus[i].1.clone();
        for m in &ms {
            apply(&mut input, m, &corpus);
        }
        input
    });
    let inputs = prop_oneof![9 => mutated, 1 => prop::collection::vec(any::<u8>(), 0..512)];
    let result = TestRunner::new(config).run(&inputs, |input| run(name, target, &input).map_err(TestCaseError::fail));
    if let Err(e) = result {
        panic!("{e}");
    }
}

#[test]
fn every_target_has_cases_and_a_corpus() {
    let tested = include_str!("smoke.rs");
    for (name, _) in ft_fuzz::TARGETS {
        assert!(tested.contains(&format!("\n    {name},\n")), "{name}: not in smoke_tests!");
        assert!(CASES.iter().any(|(n, _)| n == name), "{name}: no entry in CASES");
        assert!(corpus_dir(name).is_dir(), "{name}: no corpus directory");
    }
}

/// The valid seeds get past the parsers, so that their mutations explore what lies behind them (a
/// harness that refused every input, say after a file format change, would fuzz nothing).
#[test]
fn valid_seeds_are_accepted() {
    let seed = |target: &str, name: &str| std::fs::read(corpus_dir(target).join(format!("seed-{name}"))).unwrap();
    for name in ["stepped", "fresh", "stepped-checksums"] {
        assert!(ft_fuzz::checkpoint_loads(&seed("checkpoint", name)), "checkpoint seed-{name} does not load");
    }
    let config = ft_fuzz::fixtures::micro_config();
    for name in ["micro", "micro-no-prefix", "micro-legacy", "micro-no-pooler", "micro-f16", "micro-extras"] {
        let bytes = seed("safetensors_header", name);
        let checked = ft_model::check_safetensors::<ft_model::BertForSequenceClassification>(
            &bytes,
            &config,
            &Default::default(),
            Path::new(name),
        );
        assert!(checked.is_ok(), "safetensors seed-{name}: {checked:?}");
    }
    for name in ["tiny", "micro", "minimal"] {
        let text = String::from_utf8(seed("config_json", name)).unwrap();
        let config = ft_model::BertConfig::from_json_str(&text, Path::new(name));
        assert!(config.is_ok(), "config seed-{name}: {config:?}");
    }
    for name in ["fresh", "best"] {
        let state = serde_json::from_slice::<ft_train::checkpoint::TrainerState>(&seed("trainer_state", name));
        assert!(state.is_ok(), "trainer_state seed-{name}: {state:?}");
    }
    for name in ["default", "full"] {
        let text = String::from_utf8(seed("run_toml", name)).unwrap();
        let config = toml::from_str::<ft_train::run_config::RunConfig>(&text);
        assert!(config.is_ok(), "run_toml seed-{name}: {config:?}");
    }
}

macro_rules! smoke_tests {
    ($($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                smoke(stringify!($name));
            }
        )*
    };
}

smoke_tests!(
    safetensors_header,
    config_json,
    tokenizer_json,
    vocab_txt,
    csv_rows,
    tsv_rows,
    jsonl_rows,
    conll_rows,
    squad_rows,
    trainer_state,
    run_toml,
    checkpoint,
);

/// Writes the seeds of every target to `fuzz/corpus/<target>/seed-<name>`.
#[test]
#[ignore = "regenerates fuzz/corpus/*/seed-*; run with --ignored write_seeds"]
fn write_seeds() {
    let tiny = std::fs::read(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/tiny/model.safetensors"))
        .expect("fixtures/tiny/model.safetensors");
    for seed in ft_fuzz::seeds::all(&tiny) {
        let dir = corpus_dir(seed.target);
        std::fs::create_dir_all(&dir).expect("creating a corpus directory");
        std::fs::write(dir.join(format!("seed-{}", seed.name)), &seed.bytes).expect("writing a seed");
    }
}
