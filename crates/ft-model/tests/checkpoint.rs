//! Loading and saving checkpoints: the round trip is exact, and every bad directory is a clear error
//! naming the file, the tensor and the shapes.

mod common;

use common::{cpu, fixtures};
use ft_model::{LoadOptions, ModelError, load_pretrained, save_pretrained};
use std::collections::BTreeMap;
use std::path::Path;

/// All tensors of a safetensors file: name → (dtype, shape, bytes).
fn tensors(path: &Path) -> BTreeMap<String, (String, Vec<usize>, Vec<u8>)> {
    let bytes = std::fs::read(path).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    st.iter()
        .map(|(k, v)| (k.to_string(), (format!("{:?}", v.dtype()), v.shape().to_vec(), v.data().to_vec())))
        .collect()
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
}

/// Rewrites `dir/model.safetensors` through `edit`, which gets and returns name → (dtype, shape, bytes).
fn rewrite(dir: &Path, edit: impl FnOnce(&mut BTreeMap<String, (String, Vec<usize>, Vec<u8>)>)) {
    let path = dir.join("model.safetensors");
    let mut all = tensors(&path);
    edit(&mut all);
    let views: Vec<(String, safetensors::tensor::TensorView<'_>)> = all
        .iter()
        .map(|(k, (dtype, shape, data))| {
            let dtype = match dtype.as_str() {
                "F32" => safetensors::Dtype::F32,
                "I64" => safetensors::Dtype::I64,
                other => panic!("{other}"),
            };
            (k.clone(), safetensors::tensor::TensorView::new(dtype, shape.clone(), data).unwrap())
        })
        .collect();
    safetensors::serialize_to_file(views, None, &path).unwrap();
}

fn load_err(dir: &Path, options: &LoadOptions) -> String {
    let err = load_pretrained::<ft_model::BertForSequenceClassification>(dir, options, &cpu())
        .expect_err("loading should fail");
    err.to_string()
}

#[test]
fn round_trip_is_exact() {
    let device = cpu();
    let original = load_pretrained::<ft_model::BertForSequenceClassification>(
        &fixtures().join("tiny"),
        &LoadOptions::default(),
        &device,
    )
    .unwrap();
    let out = tempfile::tempdir().unwrap();
    let saved = out.path().join("model");
    save_pretrained(&original.model, &original.config, &saved, Some(&fixtures().join("tiny")), false).unwrap();
    for f in ["config.json", "model.safetensors", "tokenizer.json", "vocab.txt", "tokenizer_config.json"] {
        assert!(saved.join(f).is_file(), "{f} not written");
    }
    // Same names, dtypes, shapes and bytes as transformers' own save.
    assert_eq!(tensors(&saved.join("model.safetensors")), tensors(&fixtures().join("tiny/model.safetensors")));
    // And loading what we saved, then saving again, changes nothing.
    let again =
        load_pretrained::<ft_model::BertForSequenceClassification>(&saved, &LoadOptions::default(), &device).unwrap();
    assert!(again.report.fresh.is_empty());
    let saved2 = out.path().join("model2");
    save_pretrained(&again.model, &again.config, &saved2, Some(&saved), false).unwrap();
    assert_eq!(tensors(&saved2.join("model.safetensors")), tensors(&saved.join("model.safetensors")));
    let config: serde_json::Value = serde_json::from_slice(&std::fs::read(saved.join("config.json")).unwrap()).unwrap();
    assert_eq!(config["architectures"][0], "BertForSequenceClassification");
    assert_eq!(config["id2label"]["2"], "positive");
    assert_eq!(config["label2id"]["negative"], 0);
    assert_eq!(config["problem_type"], "single_label_classification");
}

#[test]
fn legacy_checkpoint_saves_in_canonical_names() {
    let device = cpu();
    let legacy = load_pretrained::<ft_model::BertForSequenceClassification>(
        &fixtures().join("tiny-legacy"),
        &LoadOptions::default(),
        &device,
    )
    .unwrap();
    let out = tempfile::tempdir().unwrap();
    let saved = out.path().join("m");
    save_pretrained(&legacy.model, &legacy.config, &saved, None, false).unwrap();
    assert_eq!(tensors(&saved.join("model.safetensors")), tensors(&fixtures().join("tiny/model.safetensors")));
}

#[test]
fn save_refuses_a_non_empty_directory_and_keeps_it() {
    let device = cpu();
    let loaded = load_pretrained::<ft_model::BertForSequenceClassification>(
        &fixtures().join("tiny"),
        &LoadOptions::default(),
        &device,
    )
    .unwrap();
    let out = tempfile::tempdir().unwrap();
    std::fs::write(out.path().join("notes.txt"), "mine").unwrap();
    let err = save_pretrained(&loaded.model, &loaded.config, out.path(), None, false).unwrap_err().to_string();
    assert!(err.contains("--overwrite"), "{err}");
    assert_eq!(std::fs::read_to_string(out.path().join("notes.txt")).unwrap(), "mine");
    // With overwrite the directory is replaced whole; no temporary siblings are left.
    save_pretrained(&loaded.model, &loaded.config, out.path(), None, true).unwrap();
    assert!(!out.path().join("notes.txt").exists());
    assert!(out.path().join("model.safetensors").is_file());
    let parent = out.path().parent().unwrap();
    let leftovers: Vec<_> = std::fs::read_dir(parent)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with(".ft-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn missing_config_json_is_named() {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&fixtures().join("tiny"), dir.path());
    std::fs::remove_file(dir.path().join("config.json")).unwrap();
    let err = load_err(dir.path(), &LoadOptions::default());
    assert!(err.contains("missing config.json"), "{err}");
}

#[test]
fn truncated_safetensors_is_reported_as_damaged() {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&fixtures().join("tiny"), dir.path());
    let path = dir.path().join("model.safetensors");
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
    let err = load_err(dir.path(), &LoadOptions::default());
    assert!(err.contains("model.safetensors") && err.contains("truncated"), "{err}");
}

#[test]
fn wrong_shape_names_tensor_and_both_shapes() {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&fixtures().join("tiny"), dir.path());
    rewrite(dir.path(), |all| {
        let t = all.get_mut("bert.encoder.layer.1.intermediate.dense.weight").unwrap();
        t.1 = vec![32, 64]; // transposed: [in, out] instead of HF's [out, in]
    });
    let err = load_err(dir.path(), &LoadOptions::default());
    assert!(
        err.contains("bert.encoder.layer.1.intermediate.dense.weight")
            && err.contains("[32, 64]")
            && err.contains("[64, 32]"),
        "{err}"
    );
}

#[test]
fn missing_encoder_tensor_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&fixtures().join("tiny"), dir.path());
    rewrite(dir.path(), |all| {
        all.retain(|k, _| !k.starts_with("bert.encoder.layer.1."));
    });
    let err = load_err(dir.path(), &LoadOptions::default());
    assert!(
        err.contains("missing tensor bert.encoder.layer.1.")
            && err.contains("config.json says 2 layers, file has 1")
            && err.contains("no tensors of layer 1"),
        "{err}"
    );
    // Part of a layer gone: every missing tensor is listed.
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&fixtures().join("tiny"), dir.path());
    rewrite(dir.path(), |all| {
        all.retain(|k, _| !k.starts_with("bert.encoder.layer.1.output."));
    });
    let err = load_err(dir.path(), &LoadOptions::default());
    assert!(
        err.contains(
            "missing tensors bert.encoder.layer.1.output.dense.weight, bert.encoder.layer.1.output.dense.bias"
        ) && err.contains("2 layers, file has 2"),
        "{err}"
    );
}

#[test]
fn head_of_the_wrong_size_needs_reinit() {
    let dir = fixtures().join("tiny");
    let labels = Some(vec!["a".to_string(), "b".to_string()]);
    let err = load_err(&dir, &LoadOptions { labels: labels.clone(), ..Default::default() });
    assert!(err.contains("classifier.weight") && err.contains("--reinit-head") && err.contains("3 labels"), "{err}");
    let loaded = load_pretrained::<ft_model::BertForSequenceClassification>(
        &dir,
        &LoadOptions { labels, reinit_classifier: true, seed: 7, pooling: None },
        &cpu(),
    )
    .unwrap();
    assert_eq!(loaded.model.classifier.weight.dims(), [32, 2]);
    assert_eq!(loaded.config.label_names(), ["a", "b"]);
    assert!(loaded.report.fresh.contains(&"classifier.weight".to_string()));
}

#[test]
fn fresh_head_is_seeded_and_scaled_like_transformers() {
    let device = cpu();
    let options = |seed| LoadOptions { labels: None, reinit_classifier: false, seed, pooling: None };
    let head = |seed| {
        let m = load_pretrained::<ft_model::BertForSequenceClassification>(
            &fixtures().join("tiny-no-pooler"),
            &options(seed),
            &device,
        )
        .unwrap();
        (common::values(m.model.classifier.weight.val()), common::values(m.model.classifier.bias.unwrap().val()))
    };
    let (w1, b1) = head(1);
    let (w1again, _) = head(1);
    let (w2, _) = head(2);
    assert_eq!(w1, w1again, "same seed, same head");
    assert_ne!(w1, w2, "another seed, another head");
    assert!(b1.iter().all(|&b| b == 0.0), "bias starts at zero");
    let std = (w1.iter().map(|w| w * w).sum::<f32>() / w1.len() as f32).sqrt();
    // config.json of the tiny model says initializer_range 0.2.
    assert!((std - 0.2).abs() < 0.05, "std {std}");
}

#[test]
fn errors_are_typed() {
    let dir = tempfile::tempdir().unwrap();
    let err = load_pretrained::<ft_model::BertForSequenceClassification>(dir.path(), &LoadOptions::default(), &cpu())
        .unwrap_err();
    assert!(matches!(err, ModelError::MissingFile { file: "config.json", .. }), "{err}");
}

#[cfg(unix)]
#[test]
fn saved_model_is_readable_by_others_as_the_umask_allows() {
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let loaded = load_pretrained::<ft_model::BertForSequenceClassification>(
        &fixtures().join("tiny"),
        &LoadOptions::default(),
        &cpu(),
    )
    .unwrap();
    let out = tempfile::tempdir().unwrap();
    // What this process's umask leaves of 0666 on a plainly created file (0644 under umask 022).
    let probe = out.path().join("probe");
    std::fs::write(&probe, b"").unwrap();
    let plain = mode(&probe);
    let saved = out.path().join("model");
    save_pretrained(&loaded.model, &loaded.config, &saved, Some(&fixtures().join("tiny")), false).unwrap();
    // The directory gets mkdir's 0777 less the umask, so its read/write bits are a plain file's (where
    // a private temporary directory would be 0700); every file gets a plain file's mode.
    assert_eq!(mode(&saved) & 0o666, plain, "directory {:o}, plain file {plain:o}", mode(&saved));
    assert_eq!(mode(&saved) & 0o100, 0o100);
    for f in ["config.json", "model.safetensors"] {
        assert_eq!(mode(&saved.join(f)), plain, "{f}: {:o}, plain file {plain:o}", mode(&saved.join(f)));
    }
}

/// A sharded checkpoint (`model.safetensors.index.json` + shards, as transformers writes large models)
/// loads to the same model as the single file; a missing shard or a tensor in two shards is named.
#[test]
fn sharded_checkpoint_loads_like_the_single_file() {
    let tiny = fixtures().join("tiny");
    let dir = tempfile::tempdir().unwrap();
    let sharded = dir.path().join("sharded");
    copy_dir(&tiny, &sharded);
    std::fs::remove_file(sharded.join("model.safetensors")).unwrap();
    let all = tensors(&tiny.join("model.safetensors"));
    let names: Vec<&String> = all.keys().collect();
    let mut map = serde_json::Map::new();
    for (i, group) in names.chunks(names.len().div_ceil(3)).enumerate() {
        let file = format!("model-0000{}-of-00003.safetensors", i + 1);
        let views: Vec<(String, safetensors::tensor::TensorView<'_>)> = group
            .iter()
            .map(|n| {
                let (dtype, shape, bytes) = &all[*n];
                let dtype = if dtype == "F32" { safetensors::Dtype::F32 } else { safetensors::Dtype::I64 };
                (n.to_string(), safetensors::tensor::TensorView::new(dtype, shape.clone(), bytes).unwrap())
            })
            .collect();
        for n in group {
            map.insert(n.to_string(), file.clone().into());
        }
        safetensors::serialize_to_file(views, None, &sharded.join(&file)).unwrap();
    }
    let index = sharded.join("model.safetensors.index.json");
    std::fs::write(&index, serde_json::json!({"metadata": {}, "weight_map": map}).to_string()).unwrap();
    let device = cpu();
    let load =
        |d: &Path| load_pretrained::<ft_model::BertForSequenceClassification>(d, &LoadOptions::default(), &device);
    let (single, from_shards) = (load(&tiny).unwrap(), load(&sharded).unwrap());
    assert!(from_shards.report.fresh.is_empty());
    let out = dir.path().join("saved");
    save_pretrained(&from_shards.model, &from_shards.config, &out, None, false).unwrap();
    let saved_single = dir.path().join("saved-single");
    save_pretrained(&single.model, &single.config, &saved_single, None, false).unwrap();
    assert_eq!(tensors(&out.join("model.safetensors")), tensors(&saved_single.join("model.safetensors")));

    // A shard missing, then a tensor in two shards.
    std::fs::rename(sharded.join("model-00002-of-00003.safetensors"), dir.path().join("away")).unwrap();
    let err = load_err(&sharded, &LoadOptions::default());
    assert!(err.contains("names shard model-00002-of-00003.safetensors"), "{err}");
    std::fs::copy(sharded.join("model-00001-of-00003.safetensors"), sharded.join("model-00002-of-00003.safetensors"))
        .unwrap();
    let err = load_err(&sharded, &LoadOptions::default());
    assert!(err.contains("is in two shards"), "{err}");
}
