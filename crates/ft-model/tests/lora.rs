//! LoRA against PEFT 0.21.2 (the reference decides): `fixtures/tiny-lora` is the adapter PEFT trained
//! on fixtures/tiny (r 4, alpha 8, targets query, value, output.dense; `xtask/py/generate_fixtures.py
//! lora-goldens`). ft loads it onto the tiny model and must give PEFT's logits; merging must give
//! `merge_and_unload`'s weights and logits; saving must write PEFT's file back (names, shapes, values);
//! bad adapter directories are refused with the file and the reason. Tolerance 1e-5 absolute.

mod common;

use common::{Golden, assert_close, cpu, fixtures, values};
use ft_model::peft::lora::{LoraSettings, adapted_layers, attach, merge};
use ft_model::{
    AdapterConfig, BertForSequenceClassification, Head, LoadOptions, load_adapter, load_pretrained, save_adapter,
    save_pretrained,
};
use std::collections::BTreeMap;
use std::path::Path;

const TOL: f32 = 1e-5;

fn tiny() -> ft_model::PretrainedModel<BertForSequenceClassification> {
    load_pretrained::<BertForSequenceClassification>(&fixtures().join("tiny"), &LoadOptions::default(), &cpu()).unwrap()
}

fn logits(model: &BertForSequenceClassification, golden: &Golden) -> Vec<f32> {
    let device = cpu();
    let out = model
        .forward(
            golden.ids("batch.input_ids", &device),
            Some(golden.ids("batch.token_type_ids", &device)),
            Some(golden.ids("batch.attention_mask", &device)),
        )
        .unwrap();
    values(out.logits)
}

/// Every tensor of a safetensors file as f32 values with its shape.
fn tensors(path: &Path) -> BTreeMap<String, (Vec<usize>, Vec<f32>)> {
    let bytes = std::fs::read(path).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    st.tensors()
        .into_iter()
        .map(|(name, v)| {
            let data = v.data().chunks_exact(4).map(|b| f32::from_le_bytes(b.try_into().unwrap())).collect();
            (name, (v.shape().to_vec(), data))
        })
        .collect()
}

#[test]
fn peft_adapter_loads_with_peft_logits() {
    let golden = Golden::open("lora_parity.safetensors");
    let base = tiny();
    let (model, adapter) = load_adapter(base.model, &base.config, &fixtures().join("tiny-lora"), &cpu()).unwrap();
    assert_eq!(adapter.lora.r, 4);
    assert_eq!(adapter.lora.scaling(), 2.0);
    assert_eq!(adapter.task_type.as_deref(), Some("SEQ_CLS"));
    // query, value, attention.output.dense, output.dense in each of the 2 layers.
    assert_eq!(adapted_layers(model.bert()).len(), 8);
    let got = logits(&model, &golden);
    let (want, _) = golden.f32("logits");
    let worst = assert_close("logits with PEFT's adapter", &got, &want, TOL);
    // The adapter matters: without it the logits are far from PEFT's.
    let plain = logits(&tiny().model, &golden);
    let apart = plain.iter().zip(&want).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
    assert!(apart > 1e-2, "the adapter changes the logits by only {apart}");
    eprintln!("LoRA logits: max abs diff {worst:.2e} (base model {apart:.2e} away)");
}

#[test]
fn merging_gives_peft_merge_and_unload() {
    let golden = Golden::open("lora_parity.safetensors");
    let base = tiny();
    let (model, _) = load_adapter(base.model, &base.config, &fixtures().join("tiny-lora"), &cpu()).unwrap();
    let merged = model.map_bert(merge);
    assert!(adapted_layers(merged.bert()).is_empty());
    let (want, _) = golden.f32("merged_logits");
    assert_close("merged logits", &logits(&merged, &golden), &want, TOL);
    let dir = tempfile::tempdir().unwrap();
    save_pretrained(&merged, &base.config, &dir.path().join("merged"), None, false).unwrap();
    let saved = tensors(&dir.path().join("merged/model.safetensors"));
    let mut compared = 0;
    for (name, (shape, got)) in &saved {
        let key = format!("merged.{name}");
        if golden.has(&key) {
            let (want, want_shape) = golden.f32(&key);
            assert_eq!(shape, &want_shape, "{name}");
            assert_close(&key, got, &want, TOL);
            compared += 1;
        }
    }
    assert_eq!(compared, 8);
}

/// Loading PEFT's file and saving it again writes the same tensors (names, shapes, values) and an
/// adapter_config.json that reads back to the same settings.
#[test]
fn saved_adapter_is_peft_format() {
    let base = tiny();
    let (model, adapter) = load_adapter(base.model, &base.config, &fixtures().join("tiny-lora"), &cpu()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("adapter");
    save_adapter(&model, &adapter.lora, &base.config, Some("tiny"), &out, false).unwrap();
    let ours = tensors(&out.join("adapter_model.safetensors"));
    let peft = tensors(&fixtures().join("tiny-lora/adapter_model.safetensors"));
    assert_eq!(ours.keys().collect::<Vec<_>>(), peft.keys().collect::<Vec<_>>());
    for (name, (shape, want)) in &peft {
        assert_eq!(&ours[name].0, shape, "{name}");
        assert_close(name, &ours[name].1, want, 0.0);
    }
    let back = AdapterConfig::read(&out).unwrap();
    assert_eq!(back.lora, adapter.lora);
    assert_eq!(back.base_model.as_deref(), Some("tiny"));
    assert_eq!(back.modules_to_save, ["classifier"]);
    let ft_config: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("ft_config.json")).unwrap()).unwrap();
    assert_eq!(ft_config["architectures"][0], "BertForSequenceClassification");
    // A second save over it is refused without overwrite, and nothing is touched.
    let err = save_adapter(&model, &adapter.lora, &base.config, None, &out, false).unwrap_err().to_string();
    assert!(err.contains("--overwrite"), "{err}");
}

/// A fresh branch changes nothing (B = 0); A is PEFT's kaiming-uniform, U(−1/√in, 1/√in), per layer.
#[test]
fn fresh_branches_start_at_the_base_model() {
    let golden = Golden::open("lora_parity.safetensors");
    let settings =
        LoraSettings { r: 4, alpha: 8.0, dropout: 0.1, targets: vec!["query".into(), "output.dense".into()] };
    let base = tiny();
    let before = logits(&base.model, &golden);
    let mut names = Vec::new();
    let model = base.model.map_bert(|bert| {
        let (bert, adapted) = attach(bert, &settings, Some(7), &cpu()).unwrap();
        names = adapted;
        bert
    });
    assert_eq!(
        names,
        [
            "bert.encoder.layer.0.attention.self.query",
            "bert.encoder.layer.0.attention.output.dense",
            "bert.encoder.layer.0.output.dense",
            "bert.encoder.layer.1.attention.self.query",
            "bert.encoder.layer.1.attention.output.dense",
            "bert.encoder.layer.1.output.dense",
        ]
    );
    assert_close("fresh LoRA logits", &logits(&model, &golden), &before, 0.0);
    let layer = &model.bert().encoder.layer[0];
    let a = values(layer.output.dense_lora.as_ref().unwrap().lora_a.weight.val());
    let bound = 1.0 / (64f32).sqrt(); // output.dense reads the intermediate size, 64
    assert!(a.iter().all(|v| v.abs() <= bound) && a.iter().any(|v| v.abs() > 0.8 * bound), "{a:?}");
    let targets_nothing = LoraSettings { targets: vec!["qkv".into()], ..settings };
    let err = attach(tiny().model.bert().clone(), &targets_nothing, Some(7), &cpu()).unwrap_err().to_string();
    assert!(err.contains("`qkv` matches no Linear layer"), "{err}");
}

/// What ft cannot compute or place is refused with the file and the reason, never ignored.
#[test]
fn bad_adapters_are_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let peft_config: serde_json::Value =
        serde_json::from_slice(&std::fs::read(fixtures().join("tiny-lora/adapter_config.json")).unwrap()).unwrap();
    let cases: Vec<(serde_json::Value, &str)> = vec![
        (serde_json::json!({"use_dora": true}), "`use_dora` is set"),
        (serde_json::json!({"use_rslora": true}), "rsLoRA"),
        (serde_json::json!({"target_modules": ".*query"}), "regular expression"),
        (serde_json::json!({"peft_type": "IA3"}), "ft loads LORA adapters"),
        (
            serde_json::json!({"r": 8}),
            "has shape [4, 32], but adapter_config.json (r 8) and the base model imply [8, 32]",
        ),
        (serde_json::json!({"target_modules": ["query"]}), "is not part of a LoRA adapter"),
        (serde_json::json!({"rank_pattern": {"query": 2}}), "`rank_pattern` is set"),
    ];
    for (i, (patch, needle)) in cases.into_iter().enumerate() {
        let case = dir.path().join(format!("case{i}"));
        std::fs::create_dir_all(&case).unwrap();
        let mut config = peft_config.clone();
        for (k, v) in patch.as_object().unwrap() {
            config[k] = v.clone();
        }
        std::fs::write(case.join("adapter_config.json"), serde_json::to_vec(&config).unwrap()).unwrap();
        std::fs::copy(fixtures().join("tiny-lora/adapter_model.safetensors"), case.join("adapter_model.safetensors"))
            .unwrap();
        let base = tiny();
        let err = load_adapter(base.model, &base.config, &case, &cpu()).unwrap_err().to_string();
        assert!(err.contains(needle) && err.contains(&format!("case{i}")), "case {i}: {err}");
    }
    let base = tiny();
    let err = load_adapter(base.model, &base.config, &fixtures().join("tiny"), &cpu()).unwrap_err().to_string();
    assert!(err.contains("adapter_config.json"), "{err}");
}

/// PEFT's LoRA on the other families (`xtask/py/generate_fixtures.py family-lora-goldens`: RoBERTa with
/// PEFT's default targets `query,value`, DistilBERT with `q_lin,v_lin`, DeBERTa-v3 with
/// `query_proj,value_proj`, ModernBERT with `Wqkv,Wo` (one branch over its fused projection), the head's own dense layer in `modules_to_save`, B and the head perturbed):
/// ft loads each adapter with PEFT's logits (1e-4, the family tolerance) and merged gives
/// `merge_and_unload`'s; ft saves it back under the family's names — the same tensors and shapes as
/// PEFT's file, the same `target_modules` and `modules_to_save` — and the saved adapter reloads to the
/// same logits. The targets may be given in BERT's names too: `query,value` adapts DistilBERT's
/// `q_lin`/`v_lin` and is written as PEFT needs it.
#[test]
fn peft_adapters_on_every_family_load_and_save_under_its_names() {
    const FAMILY_TOL: f32 = 1e-4;
    let golden = Golden::open("families_golden.safetensors");
    let lora = Golden::open("families_lora_golden.safetensors");
    let device = cpu();
    let tmp = tempfile::tempdir().unwrap();
    // (golden key, fixture, adapted layers, `query,value` in the family's names)
    for (key, fixture, adapted, in_family) in [
        ("roberta", "tiny-roberta", 4, &["query", "value"][..]),
        ("distilbert", "tiny-distilbert", 4, &["q_lin", "v_lin"][..]),
        ("deberta-v3", "tiny-deberta-v3", 4, &["query_proj", "value_proj"][..]),
        // Three layers × (the fused Wqkv, the attention's Wo, the MLP's Wo).
        ("modernbert", "tiny-modernbert", 9, &["Wqkv"][..]),
    ] {
        let base = load_pretrained::<BertForSequenceClassification>(
            &fixtures().join(fixture),
            &LoadOptions::default(),
            &device,
        )
        .unwrap();
        let adapter_dir = fixtures().join(format!("{fixture}-lora"));
        let (model, adapter) = load_adapter(base.model.clone(), &base.config, &adapter_dir, &device).unwrap();
        assert_eq!(adapted_layers(model.bert()).len(), adapted, "{fixture}");
        let run = |m: &BertForSequenceClassification| {
            let out = m
                .forward(
                    golden.ids(&format!("{key}.input_ids"), &device),
                    Some(golden.ids(&format!("{key}.token_type_ids"), &device)),
                    Some(golden.ids(&format!("{key}.attention_mask"), &device)),
                )
                .unwrap();
            values(out.logits)
        };
        let (want, _) = lora.f32(&format!("{key}.logits"));
        let d = assert_close(&format!("{fixture} + PEFT adapter"), &run(&model), &want, FAMILY_TOL);
        let (want_merged, _) = lora.f32(&format!("{key}.merged_logits"));
        let merged = model.clone().map_bert(merge);
        assert_close(&format!("{fixture} merged"), &run(&merged), &want_merged, FAMILY_TOL);

        let out = tmp.path().join(fixture);
        save_adapter(&model, &adapter.lora, &base.config, Some(fixture), &out, false).unwrap();
        let shapes = |path: &Path| -> BTreeMap<String, Vec<usize>> {
            tensors(path).into_iter().map(|(n, (shape, _))| (n, shape)).collect()
        };
        assert_eq!(
            shapes(&out.join("adapter_model.safetensors")),
            shapes(&adapter_dir.join("adapter_model.safetensors")),
            "{fixture}: ft's adapter file holds other tensors than PEFT's"
        );
        let ours = AdapterConfig::read(&out).unwrap();
        let mut theirs = adapter.clone();
        theirs.modules_to_save.retain(|m| m != "score");
        theirs.modules_to_save.dedup();
        let mut saved_targets = ours.lora.targets.clone();
        saved_targets.sort();
        let mut peft_targets = theirs.lora.targets.clone();
        peft_targets.sort();
        assert_eq!(saved_targets, peft_targets, "{fixture}: target_modules");
        let mut a = ours.modules_to_save.clone();
        let mut b = theirs.modules_to_save.clone();
        a.sort();
        b.sort();
        b.dedup();
        assert_eq!(a, b, "{fixture}: modules_to_save");
        let (again, _) = load_adapter(base.model.clone(), &base.config, &out, &device).unwrap();
        assert_close(&format!("{fixture} saved and reloaded"), &run(&again), &want, FAMILY_TOL);
        eprintln!("{fixture}: PEFT adapter logits max abs diff {d:.2e}");

        // Fresh branches from targets in BERT's names: the same layers, written in the family's names.
        let bert_names = LoraSettings { targets: vec!["query".into(), "value".into()], ..LoraSettings::default() };
        let fresh =
            base.model.clone().try_map_bert(|b| attach(b, &bert_names, Some(3), &device).map(|(b, _)| b)).unwrap();
        let fused = fixture == "tiny-modernbert";
        assert_eq!(adapted_layers(fresh.bert()).len(), if fused { 3 } else { 4 }, "{fixture}");
        let out = tmp.path().join(format!("{fixture}-bert-names"));
        save_adapter(&fresh, &bert_names, &base.config, None, &out, false).unwrap();
        let mut written = AdapterConfig::read(&out).unwrap().lora.targets;
        written.sort();
        assert_eq!(written, in_family, "{fixture}: BERT's names written in the family's");
    }
}
