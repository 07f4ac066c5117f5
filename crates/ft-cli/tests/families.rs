//! `ft train` / `ft inspect` / `ft predict` on every encoder family ft loads besides BERT (the tiny
//! RoBERTa, XLM-R, DistilBERT, ELECTRA and DeBERTa checkpoints transformers wrote for
//! `crates/ft-model/tests/families.rs`): each trains to a model saved under the family's own names,
//! and the family is shown.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures")
}

fn ft(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ft")).args(args).output().expect("ft runs")
}

/// `ft train --model fixtures/<fixture> --train <train> --output <out>` and `extra` flags.
fn train(fixture: &str, train: &Path, out: &Path, extra: &[&str]) -> Output {
    let model = fixtures().join(fixture);
    let mut args = vec![
        "train",
        "--model",
        model.to_str().unwrap(),
        "--train",
        train.to_str().unwrap(),
        "--output",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    ft(&args)
}

/// Positive and negative words every tiny vocabulary has.
fn write_data(dir: &Path, rows: usize) -> PathBuf {
    let pos = ["good", "great", "fun", "love"];
    let neg = ["bad", "awful", "boring", "hate"];
    let mut text = String::from("text,label\n");
    for i in 0..rows {
        let words = if i % 2 == 0 { pos } else { neg };
        let label = if i % 2 == 0 { "positive" } else { "negative" };
        text.push_str(&format!("{} {} movie,{label}\n", words[i % 4], words[(i / 3) % 4]));
    }
    let path = dir.join("train.csv");
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn every_family_trains_saves_under_its_names_and_is_shown() {
    let dir = tempfile::tempdir().unwrap();
    let train_csv = write_data(dir.path(), 96);
    // (fixture, family shown, its class prefix, the prefix of its encoder tensors, freezing)
    for (fixture, family, class, prefix, freeze) in [
        ("tiny-roberta", "RoBERTa", "Roberta", "roberta.encoder.layer.1.", "none"),
        ("tiny-xlmr", "XLM-RoBERTa", "XLMRoberta", "roberta.encoder.layer.1.", "bottom:1"),
        ("tiny-distilbert", "DistilBERT", "DistilBert", "distilbert.transformer.layer.1.", "none"),
        ("tiny-electra", "ELECTRA", "Electra", "electra.encoder.layer.1.", "encoder"),
        ("tiny-deberta-v3", "DeBERTa-v2", "DebertaV2", "deberta.encoder.layer.1.", "embeddings"),
        ("tiny-deberta-v2", "DeBERTa-v2", "DebertaV2", "deberta.encoder.layer.1.", "bottom:1"),
        ("tiny-modernbert", "ModernBERT", "ModernBert", "model.layers.1.attn.Wqkv.", "bottom:1"),
    ] {
        let out = dir.path().join(fixture);
        let o = train(
            fixture,
            &train_csv,
            &out,
            &[
                "--epochs",
                "6",
                "--batch-size",
                "8",
                "--lr",
                "5e-3",
                "--max-len",
                "16",
                "--reinit-head",
                "--freeze",
                freeze,
                "--seed",
                "3",
            ],
        );
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(o.status.success(), "{fixture}: {err}");
        if freeze == "encoder" {
            // The head's dense layer (ft's pooler) trains with the classifier, as freezing
            // `model.electra` leaves it in transformers: 32·32 + 32 + 2·32 + 2.
            assert!(err.contains("1,122 of 22,098 parameters trainable"), "{fixture}: {err}");
            assert!(err.contains("pooled features of"), "{fixture}: {err}");
        }
        let metrics: serde_json::Value =
            serde_json::from_slice(&std::fs::read(out.join("metrics.json")).unwrap()).unwrap();
        let accuracy = metrics["validation"]["accuracy"].as_f64().unwrap_or(0.0);
        assert!(accuracy > 0.6, "{fixture}: validation accuracy {accuracy}: {metrics}");
        let bytes = std::fs::read(out.join("model.safetensors")).unwrap();
        let names = safetensors::SafeTensors::deserialize(&bytes).unwrap().names().len();
        let saved = safetensors::SafeTensors::deserialize(&bytes).unwrap();
        assert!(saved.names().iter().any(|n| n.starts_with(prefix)), "{fixture}: no {prefix}* among {names} tensors");
        assert!(!saved.names().iter().any(|n| n.starts_with("bert.")), "{fixture}: saved under BERT's names");
        let inspect = ft(&["inspect", out.to_str().unwrap()]);
        let stdout = String::from_utf8_lossy(&inspect.stdout);
        assert!(inspect.status.success() && stdout.contains(&format!("family     {family}")), "{fixture}: {stdout}");
        assert!(stdout.contains(&format!("({class}ForSequenceClassification)")), "{fixture}: {stdout}");
        let predict = ft(&["predict", "--model", out.to_str().unwrap(), "great good movie"]);
        assert!(predict.status.success(), "{fixture}: {}", String::from_utf8_lossy(&predict.stderr));
    }
}

#[test]
fn peft_on_another_family_is_refused_before_training() {
    let dir = tempfile::tempdir().unwrap();
    let train_csv = write_data(dir.path(), 16);
    let out = dir.path().join("run");
    for (fixture, method, family, works) in [
        ("tiny-deberta-v3", "prefix", "DeBERTa-v2", "lora, adapters or prompt"),
        ("tiny-distilbert", "prefix", "DistilBERT", "lora, adapters or prompt"),
        ("tiny-modernbert", "adapters", "ModernBERT", "lora or prompt"),
        ("tiny-modernbert", "prefix", "ModernBERT", "lora or prompt"),
    ] {
        let o = train(fixture, &train_csv, &out, &["--peft", method]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success() && err.contains(&format!("--peft {method} on a {family} model")), "{err}");
        assert!(err.contains(&format!("use --peft {works}")), "{err}");
        assert!(!out.exists());
    }
}

/// `--peft prompt` on the other families: PEFT's prompt adapter (`prompt_embeddings` and the head
/// under the family's names, its own dense layer included) is written and `ft predict` reads the run.
#[test]
fn prompt_tuning_trains_on_every_family() {
    let dir = tempfile::tempdir().unwrap();
    let train_csv = write_data(dir.path(), 48);
    for (fixture, head) in [
        ("tiny-roberta", "base_model.classifier.dense.weight"),
        ("tiny-distilbert", "base_model.pre_classifier.weight"),
        ("tiny-deberta-v3", "base_model.pooler.dense.weight"),
        ("tiny-modernbert", "base_model.head.norm.weight"),
    ] {
        let out = dir.path().join(fixture);
        let names =
            train_adapter(fixture, &train_csv, &out, &["--peft", "prompt", "--virtual-tokens", "4", "--lr", "1e-2"]);
        assert!(
            names.contains(&"prompt_embeddings".to_string()) && names.contains(&head.to_string()),
            "{fixture}: {names:?}"
        );
        same_predictions_with_the_adapter_on_the_base(fixture, &out);
    }
}

/// `--peft lora` on the other families: the adapter is written under the family's names (PEFT's
/// `target_modules` in them: `q_lin`, `query_proj`), with the head's own dense layer in
/// `modules_to_save`, and `ft predict` reads the run back.
#[test]
fn lora_trains_on_every_family() {
    let dir = tempfile::tempdir().unwrap();
    let train_csv = write_data(dir.path(), 48);
    for (fixture, layer, targets, head) in [
        (
            "tiny-roberta",
            "roberta.encoder.layer.1.attention.self.value.lora_B.weight",
            "[\"query\",\"value\"]",
            "classifier",
        ),
        (
            "tiny-distilbert",
            "distilbert.transformer.layer.1.attention.v_lin.lora_B.weight",
            "[\"q_lin\",\"v_lin\"]",
            "pre_classifier",
        ),
        (
            "tiny-deberta-v3",
            "deberta.encoder.layer.1.attention.self.value_proj.lora_B.weight",
            "[\"query_proj\",\"value_proj\"]",
            "pooler",
        ),
        (
            "tiny-electra",
            "electra.encoder.layer.1.attention.self.value.lora_B.weight",
            "[\"query\",\"value\"]",
            "classifier",
        ),
        // query and value name ModernBERT's fused Wqkv: one branch over the three.
        ("tiny-modernbert", "model.layers.1.attn.Wqkv.lora_B.weight", "[\"Wqkv\"]", "head"),
    ] {
        let out = dir.path().join(fixture);
        let names = train_adapter(fixture, &train_csv, &out, &["--peft", "lora", "--lr", "5e-3"]);
        assert!(names.contains(&format!("base_model.model.{layer}")), "{fixture}: {names:?}");
        assert!(names.iter().any(|n| n.starts_with(&format!("base_model.model.{head}."))), "{fixture}: {names:?}");
        let config: serde_json::Value =
            serde_json::from_slice(&std::fs::read(out.join("adapter/adapter_config.json")).unwrap()).unwrap();
        assert_eq!(config["target_modules"].to_string(), targets, "{fixture}");
        assert!(config["modules_to_save"].as_array().unwrap().iter().any(|m| m == head), "{fixture}: {config}");
        same_predictions_with_the_adapter_on_the_base(fixture, &out);
    }
}

/// RoBERTa's 66-row position table holds 64 tokens (rows 0 and 1 come before its first position): a
/// longer `--max-len` is refused saying so.
#[test]
fn roberta_max_len_counts_the_rows_before_the_first_position() {
    let dir = tempfile::tempdir().unwrap();
    let train_csv = write_data(dir.path(), 16);
    let out = dir.path().join("run");
    let o = train("tiny-roberta", &train_csv, &out, &["--max-len", "65"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && err.contains("the model's 64 positions"), "{err}");
    assert!(err.contains("is 66, less the 2 rows RoBERTa keeps before its first position"), "{err}");
    assert!(!out.exists());
}

/// `ft explain` on every family: Integrated Gradients' completeness holds (the attributions sum to
/// F(x) − F(x') within 1e-3 of it), RoBERTa's id-derived positions included — F(x') is taken at the
/// path's start (the baseline's embeddings under the text's ids), not from the baseline ids' forward.
#[test]
fn explain_is_complete_on_every_family() {
    for fixture in [
        "tiny-roberta",
        "tiny-xlmr",
        "tiny-distilbert",
        "tiny-electra",
        "tiny-deberta-v3",
        "tiny-deberta-v2",
        "tiny-modernbert",
    ] {
        let model = fixtures().join(fixture);
        let o = ft(&["explain", "--model", model.to_str().unwrap(), "the movie was good", "--json", "--steps", "100"]);
        assert!(o.status.success(), "{fixture}: {}", String::from_utf8_lossy(&o.stderr));
        let line = String::from_utf8_lossy(&o.stdout).lines().next().unwrap_or_default().to_string();
        let json: serde_json::Value = serde_json::from_str(&line).unwrap();
        let (gap, delta) = (
            json["completeness_gap"].as_f64().unwrap(),
            (json["score"].as_f64().unwrap() - json["baseline_score"].as_f64().unwrap()).abs(),
        );
        assert!(gap <= 1e-3 * delta.max(1e-3), "{fixture}: gap {gap:.2e} against |F(x) − F(x')| {delta:.2e}");
    }
}

/// `--freeze encoder` on a family whose classification head has its own dense layer (RoBERTa's
/// `classifier.dense`, DeBERTa's `pooler`): the `[CLS]` states are cached and that layer trains with
/// the classifier on them — to the same model as the loop that runs the frozen encoder every step
/// (`--no-cache-features`), with dropout 0 and one batch order (`--no-group-by-length`): every tensor
/// within 1e-5 (measured: 4.0e-6 on RoBERTa's `classifier.dense.bias`, 2.4e-6 on DeBERTa's
/// `pooler.dense.bias`, ≤ 4e-7 elsewhere — the features are encoded in other batches, so they differ
/// by f32 rounding, which Adam's normalised steps enlarge on the biases' small gradients; a head dense
/// layer left untrained on either side would differ by far more).
#[test]
fn cached_features_train_the_head_dense_layer_as_the_full_loop_does() {
    let dir = tempfile::tempdir().unwrap();
    let train_csv = write_data(dir.path(), 48);
    for fixture in ["tiny-roberta", "tiny-deberta-v3"] {
        let model = dir.path().join(format!("{fixture}-no-dropout"));
        std::fs::create_dir_all(&model).unwrap();
        for entry in std::fs::read_dir(fixtures().join(fixture)).unwrap() {
            let entry = entry.unwrap();
            std::fs::copy(entry.path(), model.join(entry.file_name())).unwrap();
        }
        let config_path = model.join("config.json");
        let mut config: serde_json::Value = serde_json::from_slice(&std::fs::read(&config_path).unwrap()).unwrap();
        for key in ["hidden_dropout_prob", "attention_probs_dropout_prob", "classifier_dropout", "pooler_dropout"] {
            config[key] = 0.0.into();
        }
        std::fs::write(&config_path, serde_json::to_vec(&config).unwrap()).unwrap();
        let mut tensors = Vec::new();
        for cached in [true, false] {
            let out = dir.path().join(format!("{fixture}-{cached}"));
            let mut extra = vec![
                "--epochs",
                "2",
                "--batch-size",
                "8",
                "--lr",
                "1e-3",
                "--max-len",
                "16",
                "--reinit-head",
                "--freeze",
                "encoder",
                "--seed",
                "5",
                "--no-group-by-length",
            ];
            if !cached {
                extra.push("--no-cache-features");
            }
            let o = train(model.to_str().unwrap(), &train_csv, &out, &extra);
            let err = String::from_utf8_lossy(&o.stderr);
            assert!(o.status.success(), "{fixture}: {err}");
            assert_eq!(err.contains("pooled features of"), cached, "{fixture}: {err}");
            tensors.push(std::fs::read(out.join("model.safetensors")).unwrap());
        }
        let (a, b) = (
            safetensors::SafeTensors::deserialize(&tensors[0]).unwrap(),
            safetensors::SafeTensors::deserialize(&tensors[1]).unwrap(),
        );
        let floats = |v: safetensors::tensor::TensorView<'_>| -> Vec<f32> {
            v.data().chunks_exact(4).map(|b| f32::from_le_bytes(b.try_into().unwrap())).collect()
        };
        let mut worst = 0f32;
        for name in a.names() {
            let (x, y) = (floats(a.tensor(name).unwrap()), floats(b.tensor(name).unwrap()));
            let d = x.iter().zip(&y).map(|(p, q)| (p - q).abs()).fold(0f32, f32::max);
            assert!(d <= 1e-5, "{fixture}: {name} differs by {d:.2e} between the cached and the full loop");
            worst = worst.max(d);
        }
        eprintln!("{fixture}: cached vs full loop, every tensor within {worst:.2e}");
    }
}

/// `--peft prefix` on RoBERTa and ELECTRA (their attention is BERT's): the prefixes in PEFT's
/// `prompt_embeddings` and the head under the family's names; `--adapter` on the base predicts as the run.
#[test]
fn prefix_tuning_trains_on_roberta_and_electra() {
    let dir = tempfile::tempdir().unwrap();
    let train_csv = write_data(dir.path(), 48);
    for (fixture, head) in [
        ("tiny-roberta", "base_model.classifier.out_proj.weight"),
        ("tiny-electra", "base_model.classifier.dense.weight"),
    ] {
        let out = dir.path().join(fixture);
        let names =
            train_adapter(fixture, &train_csv, &out, &["--peft", "prefix", "--virtual-tokens", "4", "--lr", "1e-2"]);
        assert!(names.contains(&"prompt_embeddings".to_string()) && names.contains(&head.to_string()), "{names:?}");
        same_predictions_with_the_adapter_on_the_base(fixture, &out);
    }
}

/// `--peft adapters` on the post-LayerNorm families: the adapters, LayerNorms and head are written under
/// the family's names, and the base model with `--adapter` predicts exactly what the run's own
/// directory does.
#[test]
fn bottleneck_adapters_train_on_the_post_layernorm_families() {
    let dir = tempfile::tempdir().unwrap();
    let train_csv = write_data(dir.path(), 48);
    for (fixture, name) in [
        ("tiny-roberta", "roberta.encoder.layer.1.attention.output.adapter.down.weight"),
        ("tiny-distilbert", "distilbert.transformer.layer.1.output.adapter.up.weight"),
        ("tiny-deberta-v3", "deberta.encoder.layer.0.output.adapter.down.weight"),
        ("tiny-electra", "classifier.dense.weight"),
    ] {
        let out = dir.path().join(fixture);
        let flags = ["--peft", "adapters", "--adapter-reduction", "4", "--lr", "1e-2"];
        let names = train_adapter(fixture, &train_csv, &out, &flags);
        assert!(names.contains(&name.to_string()), "{fixture}: {names:?}");
        assert!(!names.iter().any(|n| n.starts_with("bert.")), "{fixture}: BERT's names in {names:?}");
        same_predictions_with_the_adapter_on_the_base(fixture, &out);
    }
}

/// `ft predict` from the run's own directory and from the base model with `--adapter RUN/adapter`
/// print the same (the adapter's `ft_config.json` is in the family's own keys, so DistilBERT's
/// `n_layers` survive the round trip).
fn same_predictions_with_the_adapter_on_the_base(fixture: &str, out: &Path) {
    let text = ["great good movie", "awful boring movie"];
    let own = ft(&["predict", "--model", out.to_str().unwrap(), text[0], text[1]]);
    let base = fixtures().join(fixture);
    let adapter = out.join("adapter");
    let put =
        ft(&["predict", "--model", base.to_str().unwrap(), "--adapter", adapter.to_str().unwrap(), text[0], text[1]]);
    assert!(own.status.success(), "{fixture}: {}", String::from_utf8_lossy(&own.stderr));
    assert!(put.status.success(), "{fixture}: {}", String::from_utf8_lossy(&put.stderr));
    assert_eq!(own.stdout, put.stdout, "{fixture}: the adapter on the base predicts otherwise");
}

/// `ft train --peft …` on `fixture` (2 epochs of tiny batches, a fresh head, `flags` added): the
/// tensor names of the adapter file it wrote.
fn train_adapter(fixture: &str, train_csv: &Path, out: &Path, flags: &[&str]) -> Vec<String> {
    let mut args = vec!["--epochs", "2", "--batch-size", "8", "--max-len", "16", "--reinit-head"];
    args.extend_from_slice(flags);
    let o = train(fixture, train_csv, out, &args);
    assert!(o.status.success(), "{fixture}: {}", String::from_utf8_lossy(&o.stderr));
    let bytes = std::fs::read(out.join("adapter/adapter_model.safetensors")).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    st.names().into_iter().map(str::to_string).collect()
}
