//! `ft train` end to end on the tiny fixture model: the output is a model that `ft inspect` (and
//! transformers) load, bad input is refused before anything is written, and a run killed after a
//! checkpoint resumes to the same parameters, bit for bit.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures")
}

fn ft(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ft")).args(args).output().expect("ft runs")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A small sentiment file the tiny vocabulary can read: positive and negative words.
fn write_data(dir: &Path, rows: usize) -> (PathBuf, PathBuf) {
    let pos = ["good", "great", "fun", "love"];
    let neg = ["bad", "awful", "boring", "hate"];
    let mut state = 7u64;
    let mut next = || {
        state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (state >> 33) as usize
    };
    let mut train = String::from("text,label\n");
    let mut test = String::from("text,label\n");
    for i in 0..rows {
        let positive = next() % 2 == 0;
        let words: Vec<&str> =
            (0..2 + next() % 6).map(|_| if positive { pos[next() % 4] } else { neg[next() % 4] }).collect();
        let line = format!("{} movie,{}\n", words.join(" "), if positive { "positive" } else { "negative" });
        if i % 5 == 0 { test.push_str(&line) } else { train.push_str(&line) }
    }
    let (a, b) = (dir.join("train.csv"), dir.join("test.csv"));
    std::fs::write(&a, train).unwrap();
    std::fs::write(&b, test).unwrap();
    (a, b)
}

fn base_args<'a>(train: &'a str, out: &'a str) -> Vec<&'a str> {
    vec![
        "train",
        "--model",
        "TINY",
        "--train",
        train,
        "--output",
        out,
        "--epochs",
        "2",
        "--batch-size",
        "8",
        "--lr",
        "2e-3",
        "--max-len",
        "32",
        "--reinit-head",
        "--seed",
        "3",
    ]
}

fn with_tiny<'a>(mut args: Vec<&'a str>, tiny: &'a str) -> Vec<String> {
    for a in args.iter_mut() {
        if *a == "TINY" {
            *a = tiny;
        }
    }
    args.into_iter().map(String::from).collect()
}

fn run(args: &[String]) -> Output {
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    ft(&refs)
}

#[test]
fn train_writes_a_loadable_model_with_metrics_and_logs() {
    let dir = tempfile::tempdir().unwrap();
    let (train, test) = write_data(dir.path(), 150);
    let out = dir.path().join("run");
    let tiny = fixtures().join("tiny");
    let mut args = with_tiny(base_args(train.to_str().unwrap(), out.to_str().unwrap()), tiny.to_str().unwrap());
    args.extend(["--test".to_string(), test.to_str().unwrap().to_string()]);
    let o = run(&args);
    assert!(o.status.success(), "{}", stderr(&o));
    for f in
        ["config.json", "model.safetensors", "tokenizer.json", "vocab.txt", "metrics.json", "log.jsonl", "run.toml"]
    {
        assert!(out.join(f).is_file(), "{f} missing");
    }
    let metrics: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("metrics.json")).unwrap()).unwrap();
    assert!(metrics["test"]["accuracy"].as_f64().unwrap() > 0.6, "{metrics}");
    assert_eq!(metrics["parameters"]["trainable"], metrics["parameters"]["total"]);
    let log = std::fs::read_to_string(out.join("log.jsonl")).unwrap();
    let steps = log.lines().filter(|l| l.contains("\"kind\":\"train\"")).count();
    assert_eq!(steps as u64, metrics["steps"].as_u64().unwrap());
    assert!(log.contains("\"grad_norm\""));
    // The output is a model: it loads, with the training labels as id2label.
    let o = ft(&["inspect", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("labels     2 (negative, positive)"));
}

#[test]
fn frozen_encoder_trains_only_the_head_from_cached_features() {
    let dir = tempfile::tempdir().unwrap();
    let (train, _) = write_data(dir.path(), 100);
    let out = dir.path().join("run");
    let tiny = fixtures().join("tiny");
    let mut args = with_tiny(base_args(train.to_str().unwrap(), out.to_str().unwrap()), tiny.to_str().unwrap());
    args.extend(["--freeze".to_string(), "encoder".to_string()]);
    let o = run(&args);
    let err = stderr(&o);
    assert!(o.status.success(), "{err}");
    assert!(err.contains("66 of 24,898 parameters trainable"), "{err}");
    assert!(err.contains("pooled features"), "{err}");
    let metrics: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("metrics.json")).unwrap()).unwrap();
    assert!(metrics["feature_cache_seconds"].is_number());
    // The encoder is untouched: its tensors equal the fixture's.
    let a = std::fs::read(out.join("model.safetensors")).unwrap();
    let b = std::fs::read(tiny.join("model.safetensors")).unwrap();
    let (a, b) =
        (safetensors::SafeTensors::deserialize(&a).unwrap(), safetensors::SafeTensors::deserialize(&b).unwrap());
    let name = "bert.encoder.layer.1.output.dense.weight";
    assert_eq!(a.tensor(name).unwrap().data(), b.tensor(name).unwrap().data());
}

#[test]
fn killed_run_resumes_to_the_same_parameters() {
    let dir = tempfile::tempdir().unwrap();
    let (train, _) = write_data(dir.path(), 150);
    let tiny = fixtures().join("tiny");
    let whole = dir.path().join("whole");
    let cut = dir.path().join("cut");
    let args = |out: &Path| {
        let mut a = with_tiny(base_args(train.to_str().unwrap(), out.to_str().unwrap()), tiny.to_str().unwrap());
        a.extend(["--save-every".to_string(), "5".to_string()]);
        a
    };
    let o = run(&args(&whole));
    assert!(o.status.success(), "{}", stderr(&o));

    // The same run, killed (abort: no unwinding, no cleanup) right after the checkpoint of step 10.
    let refs = args(&cut);
    let o = Command::new(env!("CARGO_BIN_EXE_ft")).args(&refs).env("FT_TEST_ABORT_AFTER_STEP", "10").output().unwrap();
    assert!(!o.status.success(), "the run should have been killed");
    assert!(!cut.join("model.safetensors").exists(), "a killed run must not leave a model");
    assert!(cut.join("checkpoints/step-00000010/trainer_state.json").is_file());

    let o = ft(&["train", "--resume", cut.to_str().unwrap()]);
    let err = stderr(&o);
    assert!(o.status.success(), "{err}");
    assert!(err.contains("resuming from") && err.contains("step 10"), "{err}");
    let a = std::fs::read(whole.join("model.safetensors")).unwrap();
    let b = std::fs::read(cut.join("model.safetensors")).unwrap();
    assert!(a == b, "resumed model differs from the uninterrupted one");
}

/// The frozen-encoder recipe (cached features) checkpoints the head alone: a run killed after a
/// checkpoint resumes from it to the uninterrupted run's model, bit for bit, taking the frozen rest
/// from the base model; a base model whose frozen parameters changed since is refused by name.
#[test]
fn frozen_encoder_checkpoints_hold_the_head_alone_and_resume_to_the_same_model() {
    let dir = tempfile::tempdir().unwrap();
    let (train, _) = write_data(dir.path(), 150);
    let base = dir.path().join("base");
    std::fs::create_dir_all(&base).unwrap();
    for entry in std::fs::read_dir(fixtures().join("tiny")).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), base.join(entry.file_name())).unwrap();
    }
    let args = |out: &Path| {
        let mut a = with_tiny(base_args(train.to_str().unwrap(), out.to_str().unwrap()), base.to_str().unwrap());
        a.extend(["--freeze", "encoder", "--save-every", "5"].map(String::from));
        a
    };
    let whole = dir.path().join("whole");
    let o = run(&args(&whole));
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("pooled features"), "{}", stderr(&o));

    let kill_at_10 = |out: &Path| {
        let refs = args(out);
        let o =
            Command::new(env!("CARGO_BIN_EXE_ft")).args(&refs).env("FT_TEST_ABORT_AFTER_STEP", "10").output().unwrap();
        assert!(!o.status.success(), "the run should have been killed");
        out.join("checkpoints/step-00000010")
    };
    let cut = dir.path().join("cut");
    let ckpt = kill_at_10(&cut);
    let state = std::fs::read_to_string(ckpt.join("trainer_state.json")).unwrap();
    assert!(state.contains("pooled-head") && state.contains("frozen_crc32"), "{state}");
    let head_bytes = std::fs::metadata(ckpt.join("model.bpk")).unwrap().len();
    let model_bytes = std::fs::metadata(base.join("model.safetensors")).unwrap().len();
    assert!(head_bytes * 10 < model_bytes, "checkpoint model.bpk {head_bytes} B vs the model's {model_bytes} B");

    let o = ft(&["train", "--resume", cut.to_str().unwrap()]);
    let err = stderr(&o);
    assert!(o.status.success(), "{err}");
    assert!(err.contains("resuming from") && err.contains("step 10"), "{err}");
    let a = std::fs::read(whole.join("model.safetensors")).unwrap();
    let b = std::fs::read(cut.join("model.safetensors")).unwrap();
    assert!(a == b, "resumed model differs from the uninterrupted one");

    // The base model edited under a killed run: one value of a frozen tensor changes.
    let cut2 = dir.path().join("cut2");
    kill_at_10(&cut2);
    let path = base.join("model.safetensors");
    let mut bytes = std::fs::read(&path).unwrap();
    let (header_len, meta) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
    let name = "bert.encoder.layer.1.output.dense.weight";
    let (start, _) = meta.tensors()[name].data_offsets;
    let at = 8 + header_len + start;
    let v = f32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) + 0.25;
    bytes[at..at + 4].copy_from_slice(&v.to_le_bytes());
    std::fs::write(&path, bytes).unwrap();
    let o = ft(&["train", "--resume", cut2.to_str().unwrap()]);
    let err = stderr(&o);
    assert!(!o.status.success(), "{err}");
    assert!(err.contains("not the ones the run started from"), "{err}");
    assert!(!cut2.join("model.safetensors").exists());
}

#[test]
fn existing_output_is_refused_and_kept() {
    let dir = tempfile::tempdir().unwrap();
    let (train, _) = write_data(dir.path(), 40);
    let out = dir.path().join("run");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("precious.txt"), "keep me").unwrap();
    let tiny = fixtures().join("tiny");
    let o = run(&with_tiny(base_args(train.to_str().unwrap(), out.to_str().unwrap()), tiny.to_str().unwrap()));
    assert!(!o.status.success());
    assert!(stderr(&o).contains("--overwrite"), "{}", stderr(&o));
    assert_eq!(std::fs::read_to_string(out.join("precious.txt")).unwrap(), "keep me");
}

/// Each bad input: non-zero exit, an `error:` naming the problem, no panic, no model written.
fn assert_refused(extra: &[&str], train_text: Option<&str>, expect: &str) {
    let dir = tempfile::tempdir().unwrap();
    let (train, _) = write_data(dir.path(), 40);
    if let Some(text) = train_text {
        std::fs::write(&train, text).unwrap();
    }
    let out = dir.path().join("run");
    let tiny = fixtures().join("tiny");
    let mut args = with_tiny(base_args(train.to_str().unwrap(), out.to_str().unwrap()), tiny.to_str().unwrap());
    for pair in extra.chunks(2) {
        match args.iter().position(|a| a == pair[0]) {
            Some(i) => args[i + 1] = pair[1].to_string(),
            None => args.extend(pair.iter().map(|s| s.to_string())),
        }
    }
    let o = run(&args);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("error: ") && !err.contains("panicked"), "{err}");
    assert!(err.contains(expect), "expected {expect:?} in: {err}");
    assert!(!out.join("config.json").exists() && !out.join("model.safetensors").exists());
}

#[test]
fn batch_size_zero_is_refused() {
    assert_refused(&["--batch-size", "0"], None, "--batch-size 0");
}

#[test]
fn max_len_beyond_positions_is_refused() {
    assert_refused(&["--max-len", "100"], None, "max_position_embeddings");
}

#[test]
fn single_class_is_refused() {
    assert_refused(
        &[],
        Some("text,label\ngood movie,positive\ngreat fun,positive\nlove it,positive\nfun fun,positive\n"),
        "single class",
    );
}

#[test]
fn empty_training_file_is_refused() {
    assert_refused(&[], Some("text,label\n"), "train.csv");
}

#[test]
fn config_file_is_read_flags_override_it_and_the_resolved_file_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let (train, _) = write_data(dir.path(), 60);
    let tiny = fixtures().join("tiny");
    let config = dir.path().join("run.toml");
    std::fs::write(
        &config,
        format!(
            "model = {:?}\nreinit_head = true\n[data]\ntrain = {:?}\nmax_len = 32\n[training]\nepochs = 1\nbatch_size = 8\nlr = 0.002\nseed = 5\n",
            tiny.to_str().unwrap(),
            train.to_str().unwrap()
        ),
    )
    .unwrap();
    let out = dir.path().join("run");
    let o =
        ft(&["train", "--config", config.to_str().unwrap(), "--output", out.to_str().unwrap(), "--batch-size", "4"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let resolved = std::fs::read_to_string(out.join("run.toml")).unwrap();
    assert!(resolved.contains("batch_size = 4"), "flag overrides the file: {resolved}");
    assert!(resolved.contains("seed = 5") && resolved.contains("max_len = 32"), "{resolved}");
    // 48 training rows (60 less the validation split) in batches of 4, one epoch.
    let metrics: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("metrics.json")).unwrap()).unwrap();
    assert_eq!(metrics["steps"], 11);
    // An unknown key is an error naming it.
    std::fs::write(&config, "[training]\nepocs = 2\n").unwrap();
    let o = ft(&["train", "--config", config.to_str().unwrap(), "--output", dir.path().join("x").to_str().unwrap()]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("epocs"), "{}", stderr(&o));
}

#[test]
fn diverging_loss_stops_with_the_step_and_writes_no_model() {
    let dir = tempfile::tempdir().unwrap();
    let (train, _) = write_data(dir.path(), 80);
    let out = dir.path().join("run");
    let tiny = fixtures().join("tiny");
    let mut args = with_tiny(base_args(train.to_str().unwrap(), out.to_str().unwrap()), tiny.to_str().unwrap());
    for (flag, value) in [("--lr", "1e30"), ("--epochs", "3")] {
        let i = args.iter().position(|a| a == flag).unwrap();
        args[i + 1] = value.to_string();
    }
    args.extend(["--max-grad-norm", "0", "--eval-every", "2"].map(String::from));
    let o = run(&args);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("training stopped") && err.contains("optimizer step"), "{err}");
    assert!(err.contains("last good checkpoint") || err.contains("no checkpoint was written"), "{err}");
    assert!(!out.join("config.json").exists());
}

/// `ft train --device wgpu` end to end on the tiny model (in CI: lavapipe, Debian's software Vulkan
/// driver). Every sentence has the same length, so the GPU compiles kernels for few shapes.
#[cfg(feature = "wgpu")]
#[test]
fn train_on_wgpu_writes_a_model_that_learned() {
    let dir = tempfile::tempdir().unwrap();
    let mut train = String::from("text,label\n");
    let mut test = String::from("text,label\n");
    let (pos, neg) = (["good", "great", "fun", "love"], ["bad", "awful", "boring", "hate"]);
    for i in 0..120 {
        let (words, label) = if i % 2 == 0 { (pos, "positive") } else { (neg, "negative") };
        let line = format!("{} {} movie,{label}\n", words[i % 4], words[(i / 4) % 4]);
        if i % 5 == 0 { test.push_str(&line) } else { train.push_str(&line) }
    }
    let (train_csv, test_csv) = (dir.path().join("train.csv"), dir.path().join("test.csv"));
    std::fs::write(&train_csv, train).unwrap();
    std::fs::write(&test_csv, test).unwrap();
    let out = dir.path().join("run");
    let tiny = fixtures().join("tiny");
    let mut args = with_tiny(base_args(train_csv.to_str().unwrap(), out.to_str().unwrap()), tiny.to_str().unwrap());
    args.extend(["--test", test_csv.to_str().unwrap(), "--device", "wgpu"].map(String::from));
    let t = std::time::Instant::now();
    let o = run(&args);
    assert!(o.status.success(), "{}", stderr(&o));
    eprintln!("ft train --device wgpu: {:.1} s\n{}", t.elapsed().as_secs_f64(), stderr(&o));
    let metrics: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("metrics.json")).unwrap()).unwrap();
    assert!(metrics["device"].as_str().unwrap().starts_with("wgpu"), "{metrics}");
    assert!(metrics["test"]["accuracy"].as_f64().unwrap() > 0.6, "{metrics}");
    let o = ft(&["inspect", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
}

/// `--pooling mean` end to end: printed with where it came from and the transformers note, saved as
/// `config.json`'s `ft_pooling`, honoured by the cached-feature path (frozen encoder), and read back by
/// `ft eval`, whose test metrics equal the run's exactly (a pooler-reading eval would not).
#[test]
fn mean_pooling_is_trained_saved_and_read_back() {
    let dir = tempfile::tempdir().unwrap();
    let (train, test) = write_data(dir.path(), 120);
    let tiny = fixtures().join("tiny");
    for (name, extra) in [("full", vec![]), ("frozen", vec!["--freeze", "encoder"])] {
        let out = dir.path().join(name);
        let mut args = with_tiny(base_args(train.to_str().unwrap(), out.to_str().unwrap()), tiny.to_str().unwrap());
        args.extend(["--pooling", "mean", "--test", test.to_str().unwrap()].map(String::from));
        args.extend(extra.iter().map(|s| s.to_string()));
        let o = run(&args);
        let err = stderr(&o);
        assert!(o.status.success(), "{err}");
        assert!(err.contains("pooling    mean (--pooling)"), "{err}");
        assert!(err.contains("has only the pooler"), "{err}");
        if name == "frozen" {
            assert!(err.contains("pooled features"), "{err}");
        }
        let config: serde_json::Value =
            serde_json::from_slice(&std::fs::read(out.join("config.json")).unwrap()).unwrap();
        assert_eq!(config["ft_pooling"], "mean", "{config}");
        assert!(std::fs::read_to_string(out.join("run.toml")).unwrap().contains("pooling = \"mean\""));
        let metrics: serde_json::Value =
            serde_json::from_slice(&std::fs::read(out.join("metrics.json")).unwrap()).unwrap();
        // The tiny model is random: only the fine-tuned one must learn; the linear probe only runs.
        if name == "full" {
            assert!(metrics["test"]["accuracy"].as_f64().unwrap() > 0.6, "{name}: {metrics}");
        }
        let o = ft(&["eval", "--model", out.to_str().unwrap(), "--data", test.to_str().unwrap(), "--json"]);
        assert!(o.status.success(), "{}", stderr(&o));
        let eval: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(eval["metrics"], metrics["test"], "{name}: eval {eval}\nrun {metrics}");
        // Without the key, the same weights are read through the pooler, and predict otherwise.
        let mut plain = config.clone();
        plain.as_object_mut().unwrap().remove("ft_pooling");
        std::fs::write(out.join("config.json"), plain.to_string()).unwrap();
        let o = ft(&["eval", "--model", out.to_str().unwrap(), "--data", test.to_str().unwrap(), "--json"]);
        assert!(o.status.success(), "{}", stderr(&o));
        let pooler: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_ne!(pooler["metrics"]["loss"], metrics["test"]["loss"], "{name}");
    }
}

/// `--pooling auto` (the default) reads sentence-transformers' files beside the checkpoint, as the
/// packaged all-MiniLM-L6-v2 has them; without them it is the pooler, as transformers.
#[test]
fn auto_pooling_follows_sentence_transformers_files() {
    let dir = tempfile::tempdir().unwrap();
    let (train, _) = write_data(dir.path(), 40);
    let model = dir.path().join("st-tiny");
    std::fs::create_dir_all(model.join("1_Pooling")).unwrap();
    for f in std::fs::read_dir(fixtures().join("tiny")).unwrap() {
        let f = f.unwrap().path();
        std::fs::copy(&f, model.join(f.file_name().unwrap())).unwrap();
    }
    let trained = |out: &str| {
        let out = dir.path().join(out);
        let args = with_tiny(base_args(train.to_str().unwrap(), out.to_str().unwrap()), model.to_str().unwrap());
        let o = run(&args);
        assert!(o.status.success(), "{}", stderr(&o));
        (stderr(&o), std::fs::read_to_string(out.join("config.json")).unwrap())
    };
    let (err, config) = trained("plain");
    assert!(err.contains("pooling    pooler (transformers' BertForSequenceClassification)"), "{err}");
    assert!(!config.contains("ft_pooling"), "{config}");
    std::fs::write(
        model.join("modules.json"),
        r#"[{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
            {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}]"#,
    )
    .unwrap();
    std::fs::write(
        model.join("1_Pooling/config.json"),
        r#"{"word_embedding_dimension": 32, "pooling_mode_cls_token": false, "pooling_mode_mean_tokens": true,
            "pooling_mode_max_tokens": false, "pooling_mode_mean_sqrt_len_tokens": false}"#,
    )
    .unwrap();
    let (err, config) = trained("st");
    assert!(err.contains("pooling    mean (sentence-transformers'"), "{err}");
    assert!(config.contains("\"ft_pooling\": \"mean\""), "{config}");
    // A pooling only the sequence head has is refused for the others, before anything is written.
    let out = dir.path().join("token");
    let conll = dir.path().join("train.conll");
    std::fs::write(&conll, "good O\nmovie B-X\n\nbad O\nfun B-X\n\n".repeat(10)).unwrap();
    let mut args = with_tiny(base_args(conll.to_str().unwrap(), out.to_str().unwrap()), model.to_str().unwrap());
    args.extend(["--pooling", "max"].map(String::from));
    let o = run(&args);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("pooling `max` is for sequence classification"), "{}", stderr(&o));
    assert!(!out.exists());
}

/// `--class-weights balanced` and `FILE`: the weights are printed with the loss they enter, kept in
/// run.toml (a file as an absolute path); a bad file or a regression run is refused before the
/// output directory exists.
#[test]
fn class_weights_are_resolved_printed_and_checked() {
    let dir = tempfile::tempdir().unwrap();
    let (train, _) = write_data(dir.path(), 60);
    let tiny = fixtures().join("tiny");
    let go = |out: &str, weights: &str| {
        let out = dir.path().join(out);
        let mut args = with_tiny(base_args(train.to_str().unwrap(), out.to_str().unwrap()), tiny.to_str().unwrap());
        args.extend(["--class-weights".to_string(), weights.to_string()]);
        (run(&args), out)
    };
    let (o, out) = go("balanced", "balanced");
    let err = stderr(&o);
    assert!(o.status.success(), "{err}");
    assert!(err.contains("loss       class weights (balanced): negative "), "{err}");
    assert!(std::fs::read_to_string(out.join("run.toml")).unwrap().contains("class_weights = \"balanced\""));

    let file = dir.path().join("weights.txt");
    std::fs::write(&file, "positive 1\nnegative 2.5\n").unwrap();
    let (o, out) = go("file", file.to_str().unwrap());
    let err = stderr(&o);
    assert!(o.status.success(), "{err}");
    assert!(err.contains("negative 2.5000, positive 1.0000"), "{err}");
    let toml = std::fs::read_to_string(out.join("run.toml")).unwrap();
    assert!(toml.contains(&format!("class_weights = \"{}\"", file.display())), "{toml}");

    std::fs::write(&file, "positive 1\n").unwrap();
    let (o, out) = go("missing", file.to_str().unwrap());
    assert!(!o.status.success());
    assert!(stderr(&o).contains("no weight for class(es) negative"), "{}", stderr(&o));
    assert!(!out.exists());
}
