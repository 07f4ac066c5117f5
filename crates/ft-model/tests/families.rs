//! The other encoder families against transformers (the reference decides): tiny random RoBERTa,
//! XLM-RoBERTa, DistilBERT, ELECTRA and DeBERTa-v2/v3 checkpoints written by transformers' own `save_pretrained`, and
//! what transformers computes from them (`xtask/py/generate_fixtures.py family-goldens`): a padded batch
//! of six inputs with a pair and one truncated to 64 tokens, through the sequence head, the token head
//! and the QA head on the same encoder. Tolerance: 1e-4 absolute on every value, padding positions
//! included (RoBERTa numbers them apart; a QA softmax reads them).

mod common;

use common::{Golden, assert_close, cpu, fixtures, values};
use ft_model::burn::tensor::Device;
use ft_model::{
    BertForQuestionAnswering, BertForSequenceClassification, BertForTokenClassification, Family, Head, LoadOptions,
    ModelInputs, load_pretrained, save_pretrained,
};
use std::path::{Path, PathBuf};

const TOL: f32 = 1e-4;

/// (golden prefix, fixture directory, family).
const FAMILIES: &[(&str, &str, Family)] = &[
    ("roberta", "tiny-roberta", Family::Roberta),
    ("xlm-roberta", "tiny-xlmr", Family::XlmRoberta),
    ("distilbert", "tiny-distilbert", Family::DistilBert),
    ("electra", "tiny-electra", Family::Electra),
    // DeBERTa-v3's settings (shared position keys, log buckets) and v2's (separate position
    // projections, clamped positions, absolute positions, token types, the convolution).
    ("deberta-v3", "tiny-deberta-v3", Family::DebertaV2),
    ("deberta-v2", "tiny-deberta-v2", Family::DebertaV2),
    // Three layers (global, local, global) with a ±4 window, mean pooling, no biases; its token and
    // QA heads read every token through `head` (dense → GELU → norm), QA's Linear is `classifier`.
    ("modernbert", "tiny-modernbert", Family::ModernBert),
];

fn golden() -> Golden {
    Golden::open("families_golden.safetensors")
}

fn inputs(golden: &Golden, prefix: &str, device: &Device) -> ModelInputs {
    ModelInputs::new(
        golden.ids(&format!("{prefix}.input_ids"), device),
        golden.ids(&format!("{prefix}.token_type_ids"), device),
        golden.ids(&format!("{prefix}.attention_mask"), device),
    )
}

#[test]
fn every_family_matches_transformers_through_the_sequence_head() {
    let (golden, device) = (golden(), cpu());
    for &(prefix, dir, family) in FAMILIES {
        let loaded =
            load_pretrained::<BertForSequenceClassification>(&fixtures().join(dir), &LoadOptions::default(), &device)
                .unwrap();
        assert_eq!(loaded.config.family(), family);
        let r = &loaded.report;
        assert!(
            r.fresh.is_empty() && r.unexpected.is_empty(),
            "{dir}: fresh {:?} unexpected {:?}",
            r.fresh,
            r.unexpected
        );
        let ModelInputs { input_ids, token_type_ids, attention_mask, .. } = inputs(&golden, prefix, &device);
        let out = loaded.model.forward(input_ids, Some(token_type_ids), Some(attention_mask)).unwrap();
        let (hidden, _) = golden.f32(&format!("{prefix}.last_hidden_state"));
        let (logits, _) = golden.f32(&format!("{prefix}.logits"));
        let a = assert_close(&format!("{dir} last_hidden_state"), &values(out.bert.last_hidden_state), &hidden, TOL);
        let b = assert_close(&format!("{dir} logits"), &values(out.logits), &logits, TOL);
        eprintln!("{dir}: last_hidden_state max abs diff {a:.2e}, logits {b:.2e}");
    }
}

/// `fixtures/<dir>` copied to `to`.
fn copy_fixture(dir: &str, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(fixtures().join(dir)).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
}

/// `fixtures/<dir>` turned into a checkpoint of another head as transformers saves one: the sequence
/// head's tensors replaced by the golden's `<prefix>.<task>.*` (`classifier.*` / `qa_outputs.*`), the
/// config's architecture and labels those of the head.
fn head_checkpoint(tmp: &Path, dir: &str, prefix: &str, task: &str, family: Family) -> PathBuf {
    let out = tmp.join(format!("{dir}-{task}"));
    copy_fixture(dir, &out);
    let bytes = std::fs::read(out.join("model.safetensors")).unwrap();
    let file = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let golden_bytes = std::fs::read(fixtures().join("families_golden.safetensors")).unwrap();
    let golden = safetensors::SafeTensors::deserialize(&golden_bytes).unwrap();
    let mut views: Vec<(String, safetensors::tensor::TensorView<'_>)> = file
        .tensors()
        .into_iter()
        // The sequence head's tensors go (ModernBERT's `head` too: its token and QA heads have their own).
        .filter(|(name, _)| {
            let head = name.starts_with("classifier.") || name.starts_with("pre_classifier.");
            !(head || family == Family::ModernBert && name.starts_with("head."))
        })
        .collect();
    let head = format!("{prefix}.{task}.");
    for (name, view) in golden.tensors() {
        if let Some(rest) = name.strip_prefix(&head)
            && rest != "logits"
        {
            views.push((rest.to_string(), view));
        }
    }
    std::fs::write(out.join("model.safetensors"), safetensors::serialize(views, None).unwrap()).unwrap();
    let config_path = out.join("config.json");
    let mut config: serde_json::Value = serde_json::from_slice(&std::fs::read(&config_path).unwrap()).unwrap();
    let (arch, labels) = match task {
        "token" => (family.architecture(ft_model::Task::TokenClassification), 5),
        _ => (family.architecture(ft_model::Task::QuestionAnswering), 2),
    };
    config["architectures"] = serde_json::json!([arch]);
    config["id2label"] = (0..labels).map(|i| (i.to_string(), serde_json::json!(format!("L{i}")))).collect();
    config["label2id"] = (0..labels).map(|i| (format!("L{i}"), serde_json::json!(i))).collect();
    config["problem_type"] = serde_json::Value::Null;
    std::fs::write(&config_path, serde_json::to_vec_pretty(&config).unwrap()).unwrap();
    out
}

fn check_head<H: Head<Logits = ft_model::burn::tensor::Tensor<3>>>(task: &str) {
    let (golden, device) = (golden(), cpu());
    let tmp = tempfile::tempdir().unwrap();
    for &(prefix, dir, family) in FAMILIES {
        let model_dir = head_checkpoint(tmp.path(), dir, prefix, task, family);
        let loaded = load_pretrained::<H>(&model_dir, &LoadOptions::default(), &device).unwrap();
        let r = &loaded.report;
        assert!(
            r.fresh.is_empty() && r.unexpected.is_empty(),
            "{dir} {task}: fresh {:?} unexpected {:?}",
            r.fresh,
            r.unexpected
        );
        let logits = loaded.model.logits(inputs(&golden, prefix, &device)).unwrap();
        let (want, shape) = golden.f32(&format!("{prefix}.{task}.logits"));
        assert_eq!(logits.dims().to_vec(), shape, "{dir} {task}");
        let d = assert_close(&format!("{dir} {task} logits"), &values(logits), &want, TOL);
        eprintln!("{dir} {task}: logits max abs diff {d:.2e} (every position, padding included)");
        // Saved back under the checkpoint's own names and shapes (ModernBERT's fused Wqkv and its QA
        // `classifier` included), less what the head leaves alone by design (DeBERTa's sequence pooler).
        let out = tmp.path().join(format!("{dir}-{task}-saved"));
        save_pretrained(&loaded.model, &loaded.config, &out, None, false).unwrap();
        let table = |path: &Path| -> Vec<(String, Vec<usize>)> {
            let bytes = std::fs::read(path).unwrap();
            let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
            let mut t: Vec<_> = st.tensors().into_iter().map(|(n, v)| (n, v.shape().to_vec())).collect();
            t.sort();
            t
        };
        let mut want: Vec<_> = table(&model_dir.join("model.safetensors"));
        want.retain(|(n, _)| !loaded.report.ignored.contains(n));
        assert_eq!(table(&out.join("model.safetensors")), want, "{dir} {task}: saved tensors");
    }
}

#[test]
fn every_family_matches_transformers_through_the_token_head() {
    check_head::<BertForTokenClassification>("token");
}

#[test]
fn every_family_matches_transformers_through_the_qa_head() {
    check_head::<BertForQuestionAnswering>("qa");
}

/// What ft saves is what transformers saved: the same tensor names and shapes (so transformers'
/// `AutoModelForSequenceClassification` loads it), the family's architecture and config keys, and
/// reloading in ft gives the same logits.
#[test]
fn every_family_saves_under_transformers_names() {
    let (golden, device) = (golden(), cpu());
    let tmp = tempfile::tempdir().unwrap();
    for &(prefix, dir, family) in FAMILIES {
        let source = fixtures().join(dir);
        let loaded =
            load_pretrained::<BertForSequenceClassification>(&source, &LoadOptions::default(), &device).unwrap();
        let out = tmp.path().join(dir);
        save_pretrained(&loaded.model, &loaded.config, &out, Some(&source), false).unwrap();
        let table = |path: &Path| -> Vec<(String, Vec<usize>)> {
            let bytes = std::fs::read(path).unwrap();
            let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
            let mut t: Vec<_> = st.tensors().into_iter().map(|(n, v)| (n, v.shape().to_vec())).collect();
            t.sort();
            t
        };
        assert_eq!(table(&out.join("model.safetensors")), table(&source.join("model.safetensors")), "{dir}");
        let saved: serde_json::Value =
            serde_json::from_slice(&std::fs::read(out.join("config.json")).unwrap()).unwrap();
        let original: serde_json::Value =
            serde_json::from_slice(&std::fs::read(source.join("config.json")).unwrap()).unwrap();
        assert_eq!(saved["model_type"], original["model_type"], "{dir}");
        assert_eq!(
            saved["architectures"],
            serde_json::json!([family.architecture(ft_model::Task::SequenceClassification)])
        );
        for (key, value) in original.as_object().unwrap() {
            if saved.get(key) != Some(value)
                && !["transformers_version", "dtype", "architectures"].contains(&key.as_str())
            {
                // Keys transformers writes with their defaults may be left out only if ft reads them so.
                assert!(saved.get(key).is_some(), "{dir}: config.json key {key} was not written back");
                panic!("{dir}: config.json key {key}: {} written as {}", value, saved[key]);
            }
        }
        if family == Family::DistilBert {
            assert!(saved.get("hidden_size").is_none() && saved["dim"] == 32, "{saved}");
        }
        let again = load_pretrained::<BertForSequenceClassification>(&out, &LoadOptions::default(), &device).unwrap();
        let a = again.model.logits(inputs(&golden, prefix, &device)).unwrap();
        let (want, _) = golden.f32(&format!("{prefix}.logits"));
        assert_close(&format!("{dir} reloaded"), &values(a), &want, TOL);
    }
}

/// A base checkpoint (no head) of RoBERTa with its pretraining pooler and LM head, as the Hub's
/// `roberta-base` holds them: the pooler and `lm_head` are left alone (transformers'
/// `RobertaForSequenceClassification` has neither), the head's dense layer and classifier start fresh
/// and the report says so in RoBERTa's names.
#[test]
fn a_roberta_base_checkpoint_gets_a_fresh_classification_head() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("base");
    copy_fixture("tiny-roberta", &dir);
    let bytes = std::fs::read(dir.join("model.safetensors")).unwrap();
    let file = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let mut views: Vec<(String, safetensors::tensor::TensorView<'_>)> =
        file.tensors().into_iter().filter(|(n, _)| !n.starts_with("classifier.")).collect();
    let dense_w = file.tensor("classifier.dense.weight").unwrap();
    let dense_b = file.tensor("classifier.dense.bias").unwrap();
    views.push(("roberta.pooler.dense.weight".into(), dense_w.clone()));
    views.push(("roberta.pooler.dense.bias".into(), dense_b.clone()));
    views.push(("lm_head.dense.bias".into(), dense_b));
    std::fs::write(dir.join("model.safetensors"), safetensors::serialize(views, None).unwrap()).unwrap();
    let config_path = dir.join("config.json");
    let mut config: serde_json::Value = serde_json::from_slice(&std::fs::read(&config_path).unwrap()).unwrap();
    config["architectures"] = serde_json::json!(["RobertaForMaskedLM"]);
    std::fs::write(&config_path, serde_json::to_vec(&config).unwrap()).unwrap();

    let loaded = load_pretrained::<BertForSequenceClassification>(&dir, &LoadOptions::default(), &cpu()).unwrap();
    let r = &loaded.report;
    assert_eq!(r.ignored.len(), 3, "{:?}", r.ignored);
    assert!(r.unexpected.is_empty(), "{:?}", r.unexpected);
    assert_eq!(r.fresh, ["bert.pooler.dense.weight", "bert.pooler.dense.bias", "classifier.weight", "classifier.bias"]);
    let notes = r.notes.join("\n");
    assert!(notes.contains("classifier.dense (the RoBERTa sequence head's dense layer) initialised fresh"), "{notes}");
    // The pretraining pooler's values are not taken for the head's dense layer.
    let pooler = loaded.model.bert.pooler.as_ref().unwrap();
    let (want, _) = {
        let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
        let v = st.tensor("classifier.dense.bias").unwrap();
        (v.data().chunks_exact(4).map(|b| f32::from_le_bytes(b.try_into().unwrap())).collect::<Vec<f32>>(), ())
    };
    let got = values(pooler.dense.bias.as_ref().unwrap().val());
    assert!(got.iter().all(|&b| b == 0.0) && want.iter().any(|&b| b != 0.0), "fresh bias must be 0: {got:?}");
}

/// A model type ft does not build is refused with the list of those it does.
#[test]
fn unknown_model_types_are_refused_with_the_supported_list() {
    let err = ft_model::BertConfig::from_json_str(
        r#"{"model_type": "funnel", "vocab_size": 10, "hidden_size": 8, "num_hidden_layers": 1,
            "num_attention_heads": 2, "intermediate_size": 16}"#,
        Path::new("m/config.json"),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("funnel") && err.contains("distilbert, electra, deberta-v2, modernbert"), "{err}");
}

/// DistilBERT's fixed sinusoidal positions are not built: refused by name, not loaded as learned ones.
#[test]
fn distilbert_sinusoidal_positions_are_refused() {
    let path = fixtures().join("tiny-distilbert/config.json");
    let mut config: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    config["sinusoidal_pos_embds"] = true.into();
    let err = ft_model::BertConfig::from_json_str(&config.to_string(), &path).unwrap_err().to_string();
    assert!(err.contains("tiny-distilbert/config.json") && err.contains("sinusoidal_pos_embds"), "{err}");
}

/// DeBERTa settings ft does not build are refused by key, not loaded wrong.
#[test]
fn deberta_settings_ft_does_not_build_are_refused() {
    let path = fixtures().join("tiny-deberta-v3/config.json");
    let original: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    for (key, value, says) in [
        ("pos_att_type", serde_json::json!(["p2p"]), "pos_att_type \"p2p\""),
        ("embedding_size", serde_json::json!(16), "embedding_size 16"),
        ("attention_head_size", serde_json::json!(4), "attention_head_size"),
        ("conv_kernel_size", serde_json::json!(2), "conv_kernel_size 2"),
        ("pooler_hidden_act", serde_json::json!("swishy"), "pooler_hidden_act \"swishy\""),
        ("position_buckets", serde_json::json!("many"), "position_buckets"),
    ] {
        let mut config = original.clone();
        config[key] = value;
        let err = ft_model::BertConfig::from_json_str(&config.to_string(), &path).unwrap_err().to_string();
        assert!(err.contains("tiny-deberta-v3/config.json") && err.contains(says), "{key}: {err}");
    }
    // pos_att_type as older configs write it: one string.
    let mut config = original;
    config["pos_att_type"] = "c2p|p2c".into();
    let parsed = ft_model::BertConfig::from_json_str(&config.to_string(), &path).unwrap();
    let d = parsed.disentangled().unwrap();
    assert!(d.c2p && d.p2c && d.share_att_key && d.relative && d.norm_rel_ebd);
    assert_eq!((d.span(), d.scale_factor()), (8, 3));
}

/// ModernBERT's `classifier_pooling: cls` (its default) on the same weights: the head reads the first
/// token instead of the mean — transformers' logits for it, from the generator's second forward.
#[test]
fn modernbert_cls_pooling() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("cls");
    copy_fixture("tiny-modernbert", &dir);
    let path = dir.join("config.json");
    let mut config: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    config["classifier_pooling"] = "cls".into();
    std::fs::write(&path, serde_json::to_vec(&config).unwrap()).unwrap();
    let (golden, device) = (golden(), cpu());
    let loaded = load_pretrained::<BertForSequenceClassification>(&dir, &LoadOptions::default(), &device).unwrap();
    let logits = loaded.model.logits(inputs(&golden, "modernbert", &device)).unwrap();
    let (want, _) = golden.f32("modernbert.cls_logits");
    let d = assert_close("tiny-modernbert cls pooling", &values(logits), &want, TOL);
    eprintln!("tiny-modernbert cls pooling: logits max abs diff {d:.2e}");
}

/// ModernBERT settings ft does not build are refused by key, not loaded wrong.
#[test]
fn modernbert_settings_ft_does_not_build_are_refused() {
    let path = fixtures().join("tiny-modernbert/config.json");
    let original: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    for (key, value, says) in [
        ("layer_types", serde_json::json!(["full_attention"]), "layer_types has 1 entries for 3 layers"),
        ("layer_types", serde_json::json!(["full_attention", "chunked", "full_attention"]), "layer_types holds"),
        ("classifier_pooling", serde_json::json!("max"), "classifier_pooling is \"max\""),
        (
            "rope_parameters",
            serde_json::json!({"full_attention": {"rope_type": "yarn", "rope_theta": 1e4}}),
            "rope_type is \"yarn\"",
        ),
        ("classifier_activation", serde_json::json!("swishy"), "classifier_activation \"swishy\""),
        ("norm_bias", serde_json::json!("no"), "norm_bias"),
    ] {
        let mut config = original.clone();
        config[key] = value;
        let err = ft_model::BertConfig::from_json_str(&config.to_string(), &path).unwrap_err().to_string();
        assert!(err.contains("tiny-modernbert/config.json") && err.contains(says), "{key}: {err}");
    }
    // Older configs: global_attn_every_n_layers and the two rope thetas as keys of their own.
    let mut config = original;
    let object = config.as_object_mut().unwrap();
    object.remove("layer_types");
    object.remove("rope_parameters");
    object.insert("global_rope_theta".into(), 5e4.into());
    let parsed = ft_model::BertConfig::from_json_str(&config.to_string(), &path).unwrap();
    let m = parsed.modern().unwrap();
    assert_eq!(m.local, [false, true, false]);
    assert_eq!((m.global_theta, m.local_theta, m.window), (5e4, 1e4, 4));
}

/// The Hub's DeBERTa-v3 and ModernBERT checkpoints are masked-LM models: DeBERTa's `lm_predictions` and
/// ModernBERT's `decoder` are left alone; ModernBERT's `head` (its MLM transform, which its
/// `…ForSequenceClassification` reuses) loads, DeBERTa's `pooler` and both classifiers start fresh.
#[test]
fn masked_lm_checkpoints_of_deberta_and_modernbert_get_a_fresh_head() {
    let tmp = tempfile::tempdir().unwrap();
    for (fixture, architecture, extra, fresh) in [
        (
            "tiny-deberta-v3",
            "DebertaV2ForMaskedLM",
            "lm_predictions.lm_head.bias",
            &["bert.pooler.dense.weight", "bert.pooler.dense.bias", "classifier.weight", "classifier.bias"][..],
        ),
        ("tiny-modernbert", "ModernBertForMaskedLM", "decoder.bias", &["classifier.weight", "classifier.bias"][..]),
    ] {
        let dir = tmp.path().join(fixture);
        copy_fixture(fixture, &dir);
        let bytes = std::fs::read(dir.join("model.safetensors")).unwrap();
        let file = safetensors::SafeTensors::deserialize(&bytes).unwrap();
        let bias = file.tensor("classifier.bias").unwrap();
        let mut views: Vec<(String, safetensors::tensor::TensorView<'_>)> = file
            .tensors()
            .into_iter()
            .filter(|(n, _)| !n.starts_with("classifier.") && !n.starts_with("pooler."))
            .collect();
        views.push((extra.to_string(), bias));
        std::fs::write(dir.join("model.safetensors"), safetensors::serialize(views, None).unwrap()).unwrap();
        let config_path = dir.join("config.json");
        let mut config: serde_json::Value = serde_json::from_slice(&std::fs::read(&config_path).unwrap()).unwrap();
        config["architectures"] = serde_json::json!([architecture]);
        std::fs::write(&config_path, serde_json::to_vec(&config).unwrap()).unwrap();
        let loaded = load_pretrained::<BertForSequenceClassification>(&dir, &LoadOptions::default(), &cpu()).unwrap();
        let r = &loaded.report;
        assert_eq!(r.ignored, [extra], "{fixture}");
        assert!(r.unexpected.is_empty(), "{fixture}: {:?}", r.unexpected);
        assert_eq!(r.fresh, fresh, "{fixture}");
    }
}

/// A ModernBERT checkpoint with a layer's fused projection missing, or of a shape that is not three
/// projections, is refused naming `Wqkv` as the file spells it.
#[test]
fn modernbert_missing_or_bad_wqkv_is_named_as_the_file_spells_it() {
    let tmp = tempfile::tempdir().unwrap();
    for (case, keep_rows) in [("missing", None), ("bad shape", Some(32usize))] {
        let dir = tmp.path().join(case.replace(' ', "-"));
        copy_fixture("tiny-modernbert", &dir);
        let bytes = std::fs::read(dir.join("model.safetensors")).unwrap();
        let file = safetensors::SafeTensors::deserialize(&bytes).unwrap();
        let name = "model.layers.1.attn.Wqkv.weight";
        let mut views: Vec<(String, safetensors::tensor::TensorView<'_>)> =
            file.tensors().into_iter().filter(|(n, _)| n != name).collect();
        let original = file.tensor(name).unwrap();
        if let Some(rows) = keep_rows {
            let cut = &original.data()[..rows * 32 * 4];
            views.push((
                name.into(),
                safetensors::tensor::TensorView::new(original.dtype(), vec![rows, 32], cut).unwrap(),
            ));
        }
        std::fs::write(dir.join("model.safetensors"), safetensors::serialize(views, None).unwrap()).unwrap();
        let err = load_pretrained::<BertForSequenceClassification>(&dir, &LoadOptions::default(), &cpu())
            .unwrap_err()
            .to_string();
        assert!(err.contains("model.layers.1.attn.Wqkv.weight"), "{case}: {err}");
    }
}
