//! The seed inputs of each target: small valid files of every kind ft reads (and a few near misses),
//! from which the fuzzer mutates. `tests/smoke.rs`'s ignored `write_seeds` writes them to
//! `fuzz/corpus/<target>/seed-<name>`.

use crate::{fixtures, frame, scratch};
use ft_train::checkpoint::{Best, Contents, TrainerState, save_checkpoint};
use ft_train::run_config::RunConfig;
use safetensors::{Dtype, SafeTensors};

/// One seed: its target, a file name, the bytes.
pub struct Seed {
    /// Target name (a key of [`crate::TARGETS`]).
    pub target: &'static str,
    /// File name under `fuzz/corpus/<target>/`, without the `seed-` prefix.
    pub name: &'static str,
    /// The input.
    pub bytes: Vec<u8>,
}

fn seed(target: &'static str, name: &'static str, bytes: impl Into<Vec<u8>>) -> Seed {
    Seed { target, name, bytes: bytes.into() }
}

/// Every seed of every target. `tiny_safetensors` is `fixtures/tiny/model.safetensors` (only its header
/// is kept).
pub fn all(tiny_safetensors: &[u8]) -> Vec<Seed> {
    let mut out = Vec::new();
    out.extend(safetensors_seeds(tiny_safetensors));
    out.extend([
        seed("config_json", "tiny", fixtures::TINY_CONFIG_JSON),
        seed("config_json", "micro", fixtures::MICRO_CONFIG_JSON),
        seed(
            "config_json",
            "minimal",
            r#"{"vocab_size":5,"hidden_size":2,"num_hidden_layers":1,"num_attention_heads":1,"intermediate_size":2,"hidden_act":"gelu_new","classifier_dropout":0.5,"problem_type":"regression","num_labels":1}"#,
        ),
        seed("tokenizer_json", "tiny", fixtures::TINY_TOKENIZER_JSON),
        seed("vocab_txt", "tiny", fixtures::TINY_VOCAB_TXT),
        seed("vocab_txt", "crlf-duplicates", "[PAD]\r\n[UNK]\r\n[CLS]\r\n[SEP]\r\n[MASK]\r\nab\r\n##c\r\nab\r\n\r\n"),
        seed("csv_rows", "basic", "text,label\ngreat movie,pos\n\"awful, boring\",neg\n"),
        seed(
            "csv_rows",
            "pairs-multilabel",
            "id,text,pair,label\n1,\"a \"\"quoted\"\"\nline\",second,\"x,y\"\n2,b,c,y\n3,,d,x\n4,e,f\n",
        ),
        seed("csv_rows", "regression", "sentence,label\nok,0.5\nfine,-1e3\nbad,nan\n"),
        seed("tsv_rows", "basic", "text\tlabel\ngreat movie\tpos\nawful \"film\"\tneg\n"),
        seed("tsv_rows", "pairs", "text\tpair\tlabel\ta\tb\t1\nc\td\t2\ne\t\t3\nf\tg\n"),
        seed("tsv_rows", "bad-utf8", b"text\tlabel\n\xff\xfe bytes\tpos\nok\t\xc3\n".as_slice()),
        seed(
            "jsonl_rows",
            "kinds",
            "{\"text\": \"great\", \"label\": \"pos\"}\n\n{\"text\": \"bad\", \"label\": 1}\n{\"text\": \"so-so\", \"label\": 0.5}\n",
        ),
        seed(
            "jsonl_rows",
            "pairs-lists",
            "{\"sentence\": \"a\", \"pair\": \"b\", \"label\": [\"x\", \"y\"]}\n{\"sentence\": null, \"label\": []}\n[1, 2]\n{\"sentence\": \"c\", \"label\": {\"k\": 1}}\n",
        ),
        seed(
            "jsonl_rows",
            "tagged",
            "{\"tokens\": [\"Peter\", \"flew\"], \"tags\": [\"B-PER\", \"O\"]}\n{\"tokens\": [\"x\"], \"ner_tags\": [0]}\n",
        ),
        seed(
            "conll_rows",
            "basic",
            "-DOCSTART- -X- O\n\nPeter NNP B-PER\nBlackburn NNP I-PER\nflew VBD O\n\nParis NNP B-LOC\n",
        ),
        seed(
            "squad_rows",
            "squad-json",
            r#"{"version": "1.1", "data": [{"title": "Broncos", "paragraphs": [{"context": "The Denver Broncos won in Zürich.", "qas": [{"id": "q1", "question": "Who won?", "answers": [{"text": "Denver Broncos", "answer_start": 4}]}, {"id": "q2", "question": "Where?", "answers": [{"text": "Zürich", "answer_start": 26}, {"text": "x", "answer_start": 99}]}]}]}]}"#,
        ),
        seed(
            "squad_rows",
            "datasets-jsonl",
            "{\"id\": \"1\", \"title\": \"t\", \"context\": \"café au lait\", \"question\": \"what?\", \"answers\": {\"text\": [\"lait\"], \"answer_start\": [8]}}\n\n{\"context\": \"no answer\", \"question\": \"q\"}\n{\"context\": \"abc\", \"question\": \"q\", \"answers\": {\"text\": [\"c\", \"d\"], \"answer_start\": [2]}}\n",
        ),
        seed("conll_rows", "ragged", "a B-X\nb\n\t\nc d e I-X\n\n\n\u{e9}t\u{e9} O\r\n"),
        seed("trainer_state", "fresh", state_json(None)),
        seed(
            "trainer_state",
            "best",
            state_json(Some(Best {
                step: 40,
                metric: "accuracy".into(),
                value: 0.875,
                checkpoint: "checkpoints/step-00000040".into(),
            })),
        ),
        seed("run_toml", "default", RunConfig::default().to_toml().expect("the default run config serialises")),
        seed("run_toml", "full", run_config_full()),
    ]);
    out.extend(checkpoint_seeds());
    out
}

fn state_json(best: Option<Best>) -> Vec<u8> {
    let state = TrainerState {
        step: 40,
        epoch: 1,
        batch_in_epoch: 3,
        seed: 42,
        evals_without_improvement: 0,
        best,
        contents: Contents::Model,
    };
    serde_json::to_vec_pretty(&state).expect("a trainer state serialises")
}

fn run_config_full() -> String {
    let mut c = RunConfig { model: Some("tiny".into()), device: Some("cpu".into()), ..Default::default() };
    c.data.train = Some("/data/train.csv".into());
    c.data.text_pair_column = Some("pair".into());
    c.data.label_kind = Some("multi_label".into());
    c.training.max_steps = Some(10);
    c.training.freeze = "bottom:1".into();
    c.to_toml().expect("a run config serialises")
}

/// The micro model's `model.safetensors` and variants: keys without `bert.` (sentence-transformers),
/// LayerNorm `gamma`/`beta` (old BERT), no pooler, F16 weights, ignored extras; and the header of the
/// tiny fixture.
fn safetensors_seeds(tiny: &[u8]) -> Vec<Seed> {
    let micro = scratch::with(|s| s.micro_safetensors().to_vec());
    let st = SafeTensors::deserialize(&micro).expect("the saved micro model is valid safetensors");
    let mut tensors: Vec<(String, Dtype, Vec<usize>, Vec<u8>)> =
        st.tensors().into_iter().map(|(k, v)| (k, v.dtype(), v.shape().to_vec(), v.data().to_vec())).collect();
    tensors.sort_by(|a, b| a.0.cmp(&b.0));
    let write = |tensors: &[(String, Dtype, Vec<usize>, Vec<u8>)]| {
        let views: Vec<(String, safetensors::tensor::TensorView)> = tensors
            .iter()
            .map(|(k, d, s, b)| (k.clone(), safetensors::tensor::TensorView::new(*d, s.clone(), b).expect("a view")))
            .collect();
        safetensors::serialize(views, None).expect("serialising a seed")
    };
    let renamed = |f: &dyn Fn(&str) -> String| -> Vec<_> {
        tensors.iter().map(|(k, d, s, b)| (f(k), *d, s.clone(), b.clone())).collect()
    };
    let no_prefix = renamed(&|k| k.trim_start_matches("bert.").to_string());
    let legacy =
        renamed(&|k| k.replace("LayerNorm.weight", "LayerNorm.gamma").replace("LayerNorm.bias", "LayerNorm.beta"));
    let no_pooler: Vec<_> = tensors.iter().filter(|t| !t.0.contains("pooler")).cloned().collect();
    let f16: Vec<_> = tensors
        .iter()
        .map(|(k, _, s, b)| {
            // f32 → f16 by truncating the bit pattern's precision is enough for a seed: the values are small.
            let halves: Vec<u8> = b
                .chunks_exact(4)
                .flat_map(|w| f32_to_f16(f32::from_le_bytes([w[0], w[1], w[2], w[3]])).to_le_bytes())
                .collect();
            (k.clone(), Dtype::F16, s.clone(), halves)
        })
        .collect();
    let mut extras = tensors.clone();
    extras.push((
        "bert.embeddings.position_ids".into(),
        Dtype::I64,
        vec![1, 8],
        (0..8i64).flat_map(i64::to_le_bytes).collect(),
    ));
    extras.push(("cls.predictions.bias".into(), Dtype::F32, vec![12], vec![0; 48]));
    let header_len = tiny.get(..8).map_or(0, |b| u64::from_le_bytes(b.try_into().expect("8 bytes")) as usize);
    vec![
        seed("safetensors_header", "micro", micro.clone()),
        seed("safetensors_header", "micro-no-prefix", write(&no_prefix)),
        seed("safetensors_header", "micro-legacy", write(&legacy)),
        seed("safetensors_header", "micro-no-pooler", write(&no_pooler)),
        seed("safetensors_header", "micro-f16", write(&f16)),
        seed("safetensors_header", "micro-extras", write(&extras)),
        seed("safetensors_header", "tiny-header-only", tiny[..(8 + header_len).min(tiny.len())].to_vec()),
    ]
}

/// Round-to-nearest f32 → IEEE half for normal values in half's range, zero below it.
fn f32_to_f16(v: f32) -> u16 {
    let bits = v.to_bits();
    let sign = ((bits >> 16) & 0x8000) as u16;
    let exp = ((bits >> 23) & 0xff) as i32 - 127 + 15;
    if exp <= 0 {
        return sign;
    }
    let mantissa = ((bits >> 13) & 0x3ff) as u16;
    sign | ((exp.min(30) as u16) << 10) | mantissa
}

/// Checkpoints of the micro model: after one training step (AdamW moments present), and before any
/// (empty optimizer state), each with `checksums.json` left to the target; and the stepped one with
/// the checksums ft-train wrote.
fn checkpoint_seeds() -> Vec<Seed> {
    scratch::with(|s| {
        let (device, model, optim) = s.skeleton();
        let (trained, trained_optim) =
            fixtures::train_one_step(model.clone(), optim.clone(), device).expect("one step of the micro model");
        let state = TrainerState {
            step: 1,
            epoch: 0,
            batch_in_epoch: 1,
            seed: 1,
            evals_without_improvement: 0,
            best: None,
            contents: Contents::Model,
        };
        let mut out = Vec::new();
        for (name, m, o) in [("stepped", &trained, &trained_optim), ("fresh", model, optim)] {
            let dir = s.subdir("seed-checkpoints").join(name);
            let path = save_checkpoint(&dir, m, o, &state, 1).expect("saving a seed checkpoint");
            let read = |f: &str| std::fs::read(path.join(f)).expect("reading a seed checkpoint");
            let [state, model, optim, sums] = frame::CHECKPOINT_FILES.map(read);
            out.push(seed("checkpoint", name, frame::join_checkpoint([&state, &model, &optim, &[]])));
            if name == "stepped" {
                let framed = frame::join_checkpoint([&state, &model, &optim, &sums]);
                out.push(seed("checkpoint", "stepped-checksums", framed));
            }
        }
        out
    })
}
