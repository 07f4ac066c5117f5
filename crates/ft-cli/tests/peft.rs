//! `ft train --peft lora` end to end on the tiny fixture model: the run trains only the branches and
//! the head, writes the adapter alone in PEFT's format under OUTPUT/adapter and the merged model as
//! OUTPUT itself; the frozen weights are the base model's, bit for bit; `ft eval` on the merged model
//! reproduces the run's test metrics (computed with the unmerged branches); nonsense combinations are
//! refused before anything is written.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures")
}

fn ft(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ft")).args(args).output().expect("ft runs")
}

fn text(out: &[u8]) -> String {
    String::from_utf8_lossy(out).into_owned()
}

/// A small sentiment set the tiny vocabulary can read (as in tests/train.rs).
fn write_data(dir: &Path, rows: usize) -> (PathBuf, PathBuf) {
    let pos = ["good", "great", "fun", "love"];
    let neg = ["bad", "awful", "boring", "hate"];
    let mut state = 11u64;
    let mut next = || {
        state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (state >> 33) as usize
    };
    let (mut train, mut test) = (String::from("text,label\n"), String::from("text,label\n"));
    for i in 0..rows {
        let positive = next() % 2 == 0;
        let words: Vec<&str> =
            (0..2 + next() % 6).map(|_| if positive { pos[next() % 4] } else { neg[next() % 4] }).collect();
        let line = format!("{} movie,{}\n", words.join(" "), if positive { "positive" } else { "negative" });
        if i % 4 == 0 { test.push_str(&line) } else { train.push_str(&line) }
    }
    let (a, b) = (dir.join("train.csv"), dir.join("test.csv"));
    std::fs::write(&a, train).unwrap();
    std::fs::write(&b, test).unwrap();
    (a, b)
}

/// Every tensor of a safetensors file, as raw bytes with its shape.
fn tensors(path: &Path) -> BTreeMap<String, (Vec<usize>, Vec<u8>)> {
    let bytes = std::fs::read(path).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    st.tensors().into_iter().map(|(n, v)| (n, (v.shape().to_vec(), v.data().to_vec()))).collect()
}

#[test]
fn lora_trains_the_branches_and_head_and_saves_a_peft_adapter() {
    let dir = tempfile::tempdir().unwrap();
    let (train, test) = write_data(dir.path(), 160);
    let out = dir.path().join("run");
    let tiny = fixtures().join("tiny");
    let o = ft(&[
        "train",
        "--model",
        tiny.to_str().unwrap(),
        "--train",
        train.to_str().unwrap(),
        "--test",
        test.to_str().unwrap(),
        "--output",
        out.to_str().unwrap(),
        "--epochs",
        "2",
        "--batch-size",
        "8",
        "--lr",
        "5e-3",
        "--max-len",
        "24",
        "--reinit-head",
        "--seed",
        "5",
        "--peft",
        "lora",
        "--lora-r",
        "4",
        "--lora-targets",
        "query,value,intermediate.dense",
    ]);
    let stderr = text(&o.stderr);
    assert!(o.status.success(), "{stderr}");
    assert!(stderr.contains("peft       LoRA r 4 alpha 16 dropout 0.1 on 6 layers"), "{stderr}");
    // Branches: 6 layers × (in + out) × 4; head: 32 × 2 + 2.
    let branches = 2 * 4 * (32 + 32) + 2 * 4 * (32 + 32) + 2 * 4 * (32 + 64);
    assert_eq!(branches + 66, 1858);
    assert!(stderr.contains("1,858 of "), "{stderr}");

    // The adapter: PEFT's files, only branches and the head.
    let adapter = out.join("adapter");
    let config: serde_json::Value =
        serde_json::from_slice(&std::fs::read(adapter.join("adapter_config.json")).unwrap()).unwrap();
    assert_eq!(config["peft_type"], "LORA");
    assert_eq!(config["task_type"], "SEQ_CLS");
    assert_eq!(config["r"], 4);
    assert_eq!(config["target_modules"], serde_json::json!(["intermediate.dense", "query", "value"]));
    assert_eq!(config["modules_to_save"], serde_json::json!(["classifier"]));
    let saved = tensors(&adapter.join("adapter_model.safetensors"));
    assert_eq!(saved.len(), 6 * 2 + 2, "{:?}", saved.keys());
    assert!(saved.contains_key("base_model.model.bert.encoder.layer.1.intermediate.dense.lora_B.weight"));
    assert_eq!(saved["base_model.model.bert.encoder.layer.0.attention.self.query.lora_A.weight"].0, [4, 32]);
    assert_eq!(saved["base_model.model.classifier.weight"].0, [2, 32]);

    // The merged model: same names as the base, untargeted weights bit for bit the base's, targeted
    // ones moved.
    let merged = tensors(&out.join("model.safetensors"));
    let base = tensors(&tiny.join("model.safetensors"));
    assert!(!merged.keys().any(|k| k.contains("lora")), "{:?}", merged.keys());
    let mut moved = Vec::new();
    for (name, (shape, bytes)) in &base {
        if !name.starts_with("bert.") || name.ends_with("position_ids") {
            continue;
        }
        let (s, b) = &merged[name];
        assert_eq!(s, shape, "{name}");
        if b != bytes {
            moved.push(name.clone());
        }
    }
    moved.sort();
    let mut want: Vec<String> = (0..2)
        .flat_map(|l| {
            ["attention.self.query", "attention.self.value", "intermediate.dense"]
                .map(|m| format!("bert.encoder.layer.{l}.{m}.weight"))
        })
        .collect();
    want.sort();
    assert_eq!(moved, want, "only the adapted weights may differ from the base");

    // ft eval on the merged model gives the run's test metrics (the run scored the branches unmerged).
    let o = ft(&["eval", "--model", out.to_str().unwrap(), "--data", test.to_str().unwrap(), "--json"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let eval: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let metrics: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("metrics.json")).unwrap()).unwrap();
    let (a, b) = (eval["metrics"]["accuracy"].as_f64().unwrap(), metrics["test"]["accuracy"].as_f64().unwrap());
    assert_eq!(a, b, "eval {eval} vs run {metrics}");
    let run_toml = std::fs::read_to_string(out.join("run.toml")).unwrap();
    assert!(run_toml.contains("[training.peft]") && run_toml.contains("r = 4"), "{run_toml}");
}

#[test]
fn nonsense_peft_combinations_are_refused_before_anything_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let (train, _) = write_data(dir.path(), 40);
    let out = dir.path().join("run");
    let tiny = fixtures().join("tiny");
    let base = [
        "train",
        "--model",
        tiny.to_str().unwrap(),
        "--train",
        train.to_str().unwrap(),
        "--output",
        out.to_str().unwrap(),
        "--max-steps",
        "2",
        "--max-len",
        "24",
        "--reinit-head",
    ];
    for (extra, needle) in [
        (vec!["--peft", "lora", "--freeze", "encoder"], "--freeze encoder with --peft lora"),
        (vec!["--lora-r", "4"], "need --peft lora"),
        (vec!["--peft", "lora", "--lora-r", "0"], "--lora-r 0"),
        (vec!["--peft", "lora", "--lora-targets", "qkv"], "`qkv` matches no Linear layer"),
        (vec!["--peft", "ia3"], "--peft ia3: use lora, adapters, prompt or prefix"),
    ] {
        let o = ft(&[&base[..], &extra[..]].concat());
        let stderr = text(&o.stderr);
        assert!(!o.status.success() && stderr.contains(needle), "{extra:?}: {stderr}");
        assert!(!out.exists(), "{extra:?} left {}", out.display());
    }
}

/// `ft export --merge DIR` (alias of `ft convert --adapter DIR`): a run's adapter merged onto the base
/// gives the run's own merged model; PEFT's adapter (fixtures/tiny-lora) merges too, keeping the
/// base's labels.
#[test]
fn adapters_merge_into_plain_models() {
    let dir = tempfile::tempdir().unwrap();
    let (train, test) = write_data(dir.path(), 80);
    let out = dir.path().join("run");
    let tiny = fixtures().join("tiny");
    let o = ft(&[
        "train",
        "--model",
        tiny.to_str().unwrap(),
        "--train",
        train.to_str().unwrap(),
        "--output",
        out.to_str().unwrap(),
        "--max-steps",
        "6",
        "--batch-size",
        "8",
        "--lr",
        "5e-3",
        "--max-len",
        "24",
        "--reinit-head",
        "--peft",
        "lora",
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let merged = dir.path().join("merged");
    let adapter = out.join("adapter");
    let o = ft(&["export", tiny.to_str().unwrap(), merged.to_str().unwrap(), "--merge", adapter.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(text(&o.stderr).contains("merged     LoRA r 8 alpha 16"), "{}", text(&o.stderr));
    let (ours, run) = (tensors(&merged.join("model.safetensors")), tensors(&out.join("model.safetensors")));
    assert_eq!(ours.keys().collect::<Vec<_>>(), run.keys().collect::<Vec<_>>());
    for (name, (shape, bytes)) in &run {
        assert_eq!(&ours[name].0, shape, "{name}");
        let (a, b): (Vec<f32>, Vec<f32>) = (
            ours[name].1.chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().unwrap())).collect(),
            bytes.chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().unwrap())).collect(),
        );
        let diff = a.iter().zip(&b).map(|(x, y)| (x - y).abs()).fold(0f32, f32::max);
        assert!(diff <= 1e-6, "{name}: {diff}");
    }
    let config: serde_json::Value =
        serde_json::from_slice(&std::fs::read(merged.join("config.json")).unwrap()).unwrap();
    assert_eq!(config["id2label"], serde_json::json!({"0": "negative", "1": "positive"}));
    let o = ft(&["eval", "--model", merged.to_str().unwrap(), "--data", test.to_str().unwrap(), "--json"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let on_merged: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    // eval and predict merge an adapter on the fly: --model BASE --adapter DIR, or the adapter alone
    // (its adapter_config.json names the base).
    let o = ft(&[
        "eval",
        "--model",
        tiny.to_str().unwrap(),
        "--adapter",
        adapter.to_str().unwrap(),
        "--data",
        test.to_str().unwrap(),
        "--json",
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let on_adapter: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(on_adapter["metrics"], on_merged["metrics"]);
    let predict = |model: &str, extra: &[&str]| -> String {
        let mut args = vec!["predict", "--model", model];
        args.extend_from_slice(extra);
        args.extend(["good fun movie", "awful boring movie"]);
        let o = ft(&args);
        assert!(o.status.success(), "{}", text(&o.stderr));
        text(&o.stdout)
    };
    let want = predict(merged.to_str().unwrap(), &[]);
    assert_eq!(predict(adapter.to_str().unwrap(), &[]), want);
    assert_eq!(predict(tiny.to_str().unwrap(), &["--adapter", adapter.to_str().unwrap()]), want);

    // PEFT's own adapter (no ft_config.json): the base's labels.
    let from_peft = dir.path().join("from-peft");
    let o = ft(&[
        "convert",
        tiny.to_str().unwrap(),
        from_peft.to_str().unwrap(),
        "--adapter",
        fixtures().join("tiny-lora").to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let base: serde_json::Value = serde_json::from_slice(&std::fs::read(tiny.join("config.json")).unwrap()).unwrap();
    let config: serde_json::Value =
        serde_json::from_slice(&std::fs::read(from_peft.join("config.json")).unwrap()).unwrap();
    assert_eq!(config["id2label"], base["id2label"]);
    assert!(!tensors(&from_peft.join("model.safetensors")).keys().any(|k| k.contains("lora")));
}

/// A non-LoRA run's adapter directory serves as the run does: `ft eval --model BASE --adapter DIR`
/// reproduces the run's test metrics, and `ft predict` on the adapter directory alone (its
/// adapter_config.json names the base) prints the run's own predictions; `ft export --adapter`
/// writes a model that predicts the same.
fn adapter_serves_like_the_run(
    base: &Path,
    run: &Path,
    test: &Path,
    dir: &Path,
    tamper: (&str, serde_json::Value, &str),
) {
    let adapter = run.join("adapter");
    // The weights are as readable as the JSON beside them (the umask's mode, not safetensors' 0600).
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |f: &str| std::fs::metadata(adapter.join(f)).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode("adapter_model.safetensors"), mode("adapter_config.json"));
    }
    let o = ft(&[
        "eval",
        "--model",
        base.to_str().unwrap(),
        "--adapter",
        adapter.to_str().unwrap(),
        "--data",
        test.to_str().unwrap(),
        "--json",
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let eval: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let metrics: serde_json::Value = serde_json::from_slice(&std::fs::read(run.join("metrics.json")).unwrap()).unwrap();
    assert_eq!(eval["metrics"], metrics["test"], "eval with --adapter {eval} vs run {metrics}");
    let predict = |model: &Path| -> String {
        let o = ft(&["predict", "--model", model.to_str().unwrap(), "good fun movie", "awful boring movie"]);
        assert!(o.status.success(), "{}", text(&o.stderr));
        text(&o.stdout)
    };
    let want = predict(run);
    assert_eq!(predict(&adapter), want);
    let exported = dir.join("exported");
    let o = ft(&["export", base.to_str().unwrap(), exported.to_str().unwrap(), "--adapter", adapter.to_str().unwrap()]);
    let stderr = text(&o.stderr);
    assert!(o.status.success() && stderr.contains("attached") && stderr.contains("cannot be merged"), "{stderr}");
    assert_eq!(predict(&exported), want);
    // A damaged adapter_config.json is refused by name: `tamper` sets one key and names the message;
    // another peft_type is refused whatever the method.
    let (key, value, message) = tamper;
    for (key, value, message) in
        [(key, value, message), ("peft_type", "IA3".into(), "`peft_type` is IA3; ft loads LORA")]
    {
        let bad = dir.join(format!("bad-{key}"));
        std::fs::create_dir_all(&bad).unwrap();
        for f in ["adapter_model.safetensors", "ft_config.json"] {
            std::fs::copy(adapter.join(f), bad.join(f)).unwrap();
        }
        let mut config: serde_json::Value =
            serde_json::from_slice(&std::fs::read(adapter.join("adapter_config.json")).unwrap()).unwrap();
        config[key] = value;
        std::fs::write(bad.join("adapter_config.json"), config.to_string()).unwrap();
        let o = ft(&["predict", "--model", base.to_str().unwrap(), "--adapter", bad.to_str().unwrap(), "some text"]);
        let stderr = text(&o.stderr);
        assert!(!o.status.success() && stderr.contains(message) && stderr.contains("adapter_"), "{key}: {stderr}");
    }
}

/// A LoRA run killed after a checkpoint resumes to the same adapter and merged model, bit for bit
/// (the branches, their dropout and the optimizer state are in the checkpoint).
#[test]
fn killed_lora_run_resumes_to_the_same_adapter() {
    let dir = tempfile::tempdir().unwrap();
    let (train, _) = write_data(dir.path(), 150);
    let tiny = fixtures().join("tiny");
    let args = |out: &Path| -> Vec<String> {
        [
            "train",
            "--model",
            tiny.to_str().unwrap(),
            "--train",
            train.to_str().unwrap(),
            "--output",
            out.to_str().unwrap(),
            "--epochs",
            "2",
            "--batch-size",
            "8",
            "--lr",
            "5e-3",
            "--max-len",
            "24",
            "--reinit-head",
            "--save-every",
            "5",
            "--peft",
            "lora",
        ]
        .map(String::from)
        .to_vec()
    };
    let (whole, cut) = (dir.path().join("whole"), dir.path().join("cut"));
    let o = Command::new(env!("CARGO_BIN_EXE_ft")).args(args(&whole)).output().unwrap();
    assert!(o.status.success(), "{}", text(&o.stderr));
    let o =
        Command::new(env!("CARGO_BIN_EXE_ft")).args(args(&cut)).env("FT_TEST_ABORT_AFTER_STEP", "10").output().unwrap();
    assert!(!o.status.success(), "the run should have been killed");
    assert!(!cut.join("adapter").exists(), "a killed run must not leave an adapter");
    let o = ft(&["train", "--resume", cut.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    for file in ["model.safetensors", "adapter/adapter_model.safetensors"] {
        let (a, b) = (std::fs::read(whole.join(file)).unwrap(), std::fs::read(cut.join(file)).unwrap());
        assert!(a == b, "resumed {file} differs from the uninterrupted run's");
    }
}

/// LoRA goes through the head seam: a token-classification run saves a TOKEN_CLS adapter whose
/// `modules_to_save` is the token classifier, and its merged model evaluates like any token model.
#[test]
fn lora_trains_a_token_classifier() {
    let dir = tempfile::tempdir().unwrap();
    let (train, dev) = (dir.path().join("train.conll"), dir.path().join("dev.conll"));
    let mut conll = String::from("-DOCSTART- -X- O\n\n");
    for (i, sentence) in ["he was good", "the movie story was fun", "she is so fun", "you and the film"]
        .iter()
        .cycle()
        .take(24)
        .enumerate()
    {
        for word in sentence.split(' ') {
            let tag = match word {
                "he" | "she" | "you" => "B-PER",
                "movie" | "film" => "B-LOC",
                "story" => "I-LOC",
                _ => "O",
            };
            conll.push_str(&format!("{word} XX {tag}\n"));
        }
        conll.push('\n');
        if i == 11 {
            std::fs::write(&dev, &conll).unwrap();
        }
    }
    std::fs::write(&train, &conll).unwrap();
    let out = dir.path().join("run");
    let o = ft(&[
        "train",
        "--model",
        fixtures().join("tiny").to_str().unwrap(),
        "--train",
        train.to_str().unwrap(),
        "--validation",
        dev.to_str().unwrap(),
        "--output",
        out.to_str().unwrap(),
        "--max-steps",
        "4",
        "--batch-size",
        "4",
        "--max-len",
        "16",
        "--peft",
        "lora",
    ]);
    let stderr = text(&o.stderr);
    assert!(o.status.success(), "{stderr}");
    assert!(stderr.contains("BertForTokenClassification") && stderr.contains("peft       LoRA r 8"), "{stderr}");
    let config: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("adapter/adapter_config.json")).unwrap()).unwrap();
    assert_eq!(config["task_type"], "TOKEN_CLS");
    assert_eq!(config["modules_to_save"], serde_json::json!(["classifier"]));
    let saved = tensors(&out.join("adapter/adapter_model.safetensors"));
    assert_eq!(saved["base_model.model.classifier.weight"].0, [4, 32]); // B-LOC, B-PER, I-LOC, O
    let o = ft(&["eval", "--model", out.to_str().unwrap(), "--data", dev.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o.stderr));
}

/// `ft train --peft prompt`: only the virtual tokens and the head train; OUTPUT/adapter holds PEFT's
/// PROMPT_TUNING files; OUTPUT itself keeps the virtual tokens, and `ft eval` on it reproduces the
/// run's test metrics; too long a --max-len for the positions left is refused first.
#[test]
fn prompt_tuning_trains_virtual_tokens_and_saves_a_peft_adapter() {
    let dir = tempfile::tempdir().unwrap();
    let (train, test) = write_data(dir.path(), 120);
    let out = dir.path().join("run");
    let tiny = fixtures().join("tiny");
    let args = |max_len: &'static str| -> Vec<String> {
        [
            "train",
            "--model",
            tiny.to_str().unwrap(),
            "--train",
            train.to_str().unwrap(),
            "--test",
            test.to_str().unwrap(),
            "--output",
            out.to_str().unwrap(),
            "--epochs",
            "2",
            "--batch-size",
            "8",
            "--lr",
            "1e-2",
            "--max-len",
            max_len,
            "--reinit-head",
            "--pooling",
            "pooler",
            "--peft",
            "prompt",
            "--virtual-tokens",
            "4",
        ]
        .map(String::from)
        .to_vec()
    };
    let o = Command::new(env!("CARGO_BIN_EXE_ft")).args(args("62")).output().unwrap();
    assert!(!o.status.success() && text(&o.stderr).contains("use --max-len 60 or less"), "{}", text(&o.stderr));
    assert!(!out.exists());
    let o = Command::new(env!("CARGO_BIN_EXE_ft")).args(args("24")).output().unwrap();
    let stderr = text(&o.stderr);
    assert!(o.status.success(), "{stderr}");
    // 4 × 32 virtual-token values + the head's 32 × 2 + 2.
    assert!(stderr.contains("194 of ") && stderr.contains("prompt tuning: 4 virtual tokens"), "{stderr}");
    let config: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("adapter/adapter_config.json")).unwrap()).unwrap();
    assert_eq!(config["peft_type"], "PROMPT_TUNING");
    assert_eq!(config["num_virtual_tokens"], 4);
    let saved = tensors(&out.join("adapter/adapter_model.safetensors"));
    assert_eq!(
        saved.keys().collect::<Vec<_>>(),
        ["base_model.classifier.bias", "base_model.classifier.weight", "prompt_embeddings"]
    );
    assert_eq!(saved["prompt_embeddings"].0, [4, 32]);
    // The encoder did not move.
    let (model, base) = (tensors(&out.join("model.safetensors")), tensors(&tiny.join("model.safetensors")));
    for (name, value) in &base {
        if name.starts_with("bert.") && !name.ends_with("position_ids") {
            assert_eq!(&model[name], value, "{name} moved");
        }
    }
    assert_eq!(model["bert.embeddings.prompt.weight"], saved["prompt_embeddings"]);
    let o = ft(&["eval", "--model", out.to_str().unwrap(), "--data", test.to_str().unwrap(), "--json"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let eval: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let metrics: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("metrics.json")).unwrap()).unwrap();
    assert_eq!(eval["metrics"], metrics["test"], "eval {eval} vs run {metrics}");
    adapter_serves_like_the_run(
        &tiny,
        &out,
        &test,
        dir.path(),
        ("num_virtual_tokens", 5.into(), "has shape [4, 32], but config.json implies [5, 32]"),
    );
    // Explanations see the text's tokens only, the virtual tokens put before them left out.
    for method in ["ig", "grad-x-input", "rollout"] {
        let o = ft(&["explain", "--model", out.to_str().unwrap(), "good fun movie", "--method", method, "--json"]);
        assert!(o.status.success(), "{method}: {}", text(&o.stderr));
        let e: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(e["tokens"].as_array().unwrap().len(), 5, "{method}: {e}");
        assert_eq!(e["words"].as_array().unwrap().len(), 3, "{method}: {e}");
    }
}

/// `ft train --peft adapters`: Houlsby bottleneck adapters train with the LayerNorms and the head; the
/// rest of the encoder stays the base's; OUTPUT/adapter holds what trained; OUTPUT itself (config.json
/// `ft_adapters`) loads back in ft with its adapters and `ft eval` reproduces the run's metrics.
#[test]
fn bottleneck_adapters_train_and_load_back() {
    let dir = tempfile::tempdir().unwrap();
    let (train, test) = write_data(dir.path(), 120);
    let out = dir.path().join("run");
    let tiny = fixtures().join("tiny");
    let args = |reduction: &'static str| -> Vec<String> {
        [
            "train",
            "--model",
            tiny.to_str().unwrap(),
            "--train",
            train.to_str().unwrap(),
            "--test",
            test.to_str().unwrap(),
            "--output",
            out.to_str().unwrap(),
            "--epochs",
            "2",
            "--batch-size",
            "8",
            "--lr",
            "5e-3",
            "--max-len",
            "24",
            "--reinit-head",
            "--peft",
            "adapters",
            "--adapter-reduction",
            reduction,
        ]
        .map(String::from)
        .to_vec()
    };
    let o = Command::new(env!("CARGO_BIN_EXE_ft")).args(args("5")).output().unwrap();
    assert!(!o.status.success() && text(&o.stderr).contains("--adapter-reduction 5: must divide hidden_size 32"));
    assert!(!out.exists());
    let o = Command::new(env!("CARGO_BIN_EXE_ft")).args(args("4")).output().unwrap();
    let stderr = text(&o.stderr);
    assert!(o.status.success(), "{stderr}");
    // 4 adapters × (32·8 + 8 + 8·32 + 32) + 5 LayerNorms × 64 + the head's 66.
    assert_eq!(4 * (32 * 8 + 8 + 8 * 32 + 32) + 5 * 64 + 66, 2_594);
    assert!(stderr.contains("2,594 of ") && stderr.contains("bottleneck adapters (Houlsby, reduction 4"), "{stderr}");
    let config: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("adapter/adapter_config.json")).unwrap()).unwrap();
    assert_eq!(config["peft_type"], "BOTTLENECK");
    assert_eq!(config["reduction_factor"], 4);
    let saved = tensors(&out.join("adapter/adapter_model.safetensors"));
    assert_eq!(saved.len(), 4 * 4 + 5 * 2 + 2, "{:?}", saved.keys());
    assert_eq!(saved["bert.encoder.layer.0.attention.output.adapter.down.weight"].0, [8, 32]);
    let (model, base) = (tensors(&out.join("model.safetensors")), tensors(&tiny.join("model.safetensors")));
    for (name, value) in &base {
        if name.starts_with("bert.") && !name.ends_with("position_ids") && !name.contains("LayerNorm") {
            assert_eq!(&model[name], value, "{name} moved");
        }
    }
    let run_config: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("config.json")).unwrap()).unwrap();
    assert_eq!(run_config["ft_adapters"]["architecture"], "houlsby");
    let o = ft(&["eval", "--model", out.to_str().unwrap(), "--data", test.to_str().unwrap(), "--json"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let eval: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let metrics: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("metrics.json")).unwrap()).unwrap();
    assert_eq!(eval["metrics"], metrics["test"], "eval {eval} vs run {metrics}");
    adapter_serves_like_the_run(
        &tiny,
        &out,
        &test,
        dir.path(),
        ("reduction_factor", 8.into(), "has shape [8], but config.json implies [4]"),
    );
}

/// `ft train --peft prefix`: key/value prefixes in every layer and the head train; OUTPUT/adapter holds
/// PEFT's PREFIX_TUNING files (`prompt_embeddings` `[P, L·2·H]`); OUTPUT itself (config.json
/// `ft_prefix`) loads back in ft and `ft eval` reproduces the run's metrics.
#[test]
fn prefix_tuning_trains_and_loads_back() {
    let dir = tempfile::tempdir().unwrap();
    let (train, test) = write_data(dir.path(), 120);
    let out = dir.path().join("run");
    let tiny = fixtures().join("tiny");
    let o = ft(&[
        "train",
        "--model",
        tiny.to_str().unwrap(),
        "--train",
        train.to_str().unwrap(),
        "--test",
        test.to_str().unwrap(),
        "--output",
        out.to_str().unwrap(),
        "--epochs",
        "2",
        "--batch-size",
        "8",
        "--lr",
        "1e-2",
        "--max-len",
        "24",
        "--reinit-head",
        "--peft",
        "prefix",
        "--virtual-tokens",
        "3",
    ]);
    let stderr = text(&o.stderr);
    assert!(o.status.success(), "{stderr}");
    // 2 layers × (keys + values) × 3 × 32 + the head's 66.
    assert!(stderr.contains("450 of ") && stderr.contains("prefix tuning: 3 key/value positions"), "{stderr}");
    let config: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("adapter/adapter_config.json")).unwrap()).unwrap();
    assert_eq!(config["peft_type"], "PREFIX_TUNING");
    let saved = tensors(&out.join("adapter/adapter_model.safetensors"));
    assert_eq!(saved["prompt_embeddings"].0, [3, 2 * 2 * 32]);
    let (model, base) = (tensors(&out.join("model.safetensors")), tensors(&tiny.join("model.safetensors")));
    for (name, value) in &base {
        if name.starts_with("bert.") && !name.ends_with("position_ids") {
            assert_eq!(&model[name], value, "{name} moved");
        }
    }
    let o = ft(&["eval", "--model", out.to_str().unwrap(), "--data", test.to_str().unwrap(), "--json"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let eval: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let metrics: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("metrics.json")).unwrap()).unwrap();
    assert_eq!(eval["metrics"], metrics["test"], "eval {eval} vs run {metrics}");
    adapter_serves_like_the_run(
        &tiny,
        &out,
        &test,
        dir.path(),
        ("prefix_projection", true.into(), "`prefix_projection` is true"),
    );
}
