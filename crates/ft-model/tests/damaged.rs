//! Damaged and absurd model directories, built in a temp dir from the tiny fixture: each is a clear
//! error naming the file, the key or tensor, and what was expected — never a panic, never an aborted
//! allocation, never a Debug print.

mod common;

use common::{cpu, fixtures};
use ft_model::{BertConfig, LoadOptions, ModelError, check_safetensors, check_safetensors_header, load_pretrained};
use safetensors::Dtype;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

type Tensors = BTreeMap<String, (Dtype, Vec<usize>, Vec<u8>)>;

/// A copy of `fixtures/<name>` in a fresh temp dir.
fn copy_of(name: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(fixtures().join(name)).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), dir.path().join(entry.file_name())).unwrap();
    }
    dir
}

/// Rewrites `dir/config.json` through `edit`.
fn edit_config(dir: &Path, edit: impl FnOnce(&mut serde_json::Value)) {
    let path = dir.join("config.json");
    let mut config: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    edit(&mut config);
    std::fs::write(path, serde_json::to_string_pretty(&config).unwrap()).unwrap();
}

/// Rewrites `dir/model.safetensors` through `edit`, which gets and returns name → (dtype, shape, bytes).
fn edit_weights(dir: &Path, edit: impl FnOnce(&mut Tensors)) {
    let path = dir.join("model.safetensors");
    let bytes = std::fs::read(&path).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let mut all: Tensors =
        st.iter().map(|(k, v)| (k.to_string(), (v.dtype(), v.shape().to_vec(), v.data().to_vec()))).collect();
    edit(&mut all);
    let views: Vec<(String, safetensors::tensor::TensorView<'_>)> = all
        .iter()
        .map(|(k, (dtype, shape, data))| {
            (k.clone(), safetensors::tensor::TensorView::new(*dtype, shape.clone(), data).unwrap())
        })
        .collect();
    safetensors::serialize_to_file(views, None, &path).unwrap();
}

/// Sets f32 values of one tensor.
fn poke(all: &mut Tensors, name: &str, values: &[(usize, f32)]) {
    let (dtype, _, data) = all.get_mut(name).unwrap();
    assert_eq!(*dtype, Dtype::F32);
    for &(i, v) in values {
        data[4 * i..4 * i + 4].copy_from_slice(&v.to_le_bytes());
    }
}

fn load_err(dir: &Path, options: &LoadOptions) -> ModelError {
    load_pretrained::<ft_model::BertForSequenceClassification>(dir, options, &cpu()).expect_err("loading should fail")
}

/// Checks the things every message must do: name the file, and read as prose, not as a Debug dump.
fn assert_plain(err: &ModelError, file: &Path) -> String {
    let msg = err.to_string();
    assert!(msg.starts_with(&file.display().to_string()), "does not start with {}: {msg}", file.display());
    for debug in ["Io(", "Custom {", "kind:", "Error(", "Some("] {
        assert!(!msg.contains(debug), "Debug output in: {msg}");
    }
    msg
}

fn weights(dir: &Path) -> PathBuf {
    dir.join("model.safetensors")
}

#[test]
fn absurd_layer_count_is_compared_with_the_header_before_anything_is_allocated() {
    let dir = copy_of("tiny");
    edit_config(dir.path(), |c| c["num_hidden_layers"] = 1_000_000_000.into());
    let err = load_err(dir.path(), &LoadOptions::default());
    assert!(matches!(err, ModelError::MissingTensors { file_layers: Some(2), .. }), "{err}");
    let msg = assert_plain(&err, &weights(dir.path()));
    assert!(
        msg.contains(
            "missing tensor bert.encoder.layer.2.attention.self.query.weight (config.json says 1000000000 layers, file has 2)"
        ),
        "{msg}"
    );
}

#[test]
fn missing_layer_is_named_as_the_file_spells_it_without_the_bert_prefix() {
    let dir = copy_of("tiny");
    edit_weights(dir.path(), |all| {
        *all = std::mem::take(all)
            .into_iter()
            .map(|(k, v)| (k.strip_prefix("bert.").map(str::to_string).unwrap_or(k), v))
            .collect();
    });
    // The unprefixed file itself loads…
    load_pretrained::<ft_model::BertForSequenceClassification>(dir.path(), &LoadOptions::default(), &cpu()).unwrap();
    // …and a config with more layers names the tensor in the file's own spelling.
    edit_config(dir.path(), |c| c["num_hidden_layers"] = 6.into());
    let msg = load_err(dir.path(), &LoadOptions::default()).to_string();
    assert!(
        msg.contains(
            "missing tensor encoder.layer.2.attention.self.query.weight (config.json says 6 layers, file has 2)"
        ),
        "{msg}"
    );
}

#[test]
fn huge_sizes_in_config_are_shape_mismatches_with_expected_and_found() {
    for (key, value, tensor, expected, found) in [
        (
            "intermediate_size",
            1u64 << 40,
            "bert.encoder.layer.0.intermediate.dense.weight",
            "[1099511627776, 32]",
            "[64, 32]",
        ),
        ("vocab_size", 1_000_000_000_000, "bert.embeddings.word_embeddings.weight", "[1000000000000, 32]", "[141, 32]"),
        ("hidden_size", 1 << 20, "bert.embeddings.word_embeddings.weight", "[141, 1048576]", "[141, 32]"),
    ] {
        let dir = copy_of("tiny");
        edit_config(dir.path(), |c| c[key] = value.into());
        let err = load_err(dir.path(), &LoadOptions::default());
        assert!(matches!(err, ModelError::ShapeMismatch { .. }), "{key}: {err}");
        let msg = assert_plain(&err, &weights(dir.path()));
        assert!(msg.contains(tensor) && msg.contains(expected) && msg.contains(found), "{key}: {msg}");
    }
}

#[test]
fn config_sizes_that_overflow_name_the_key_and_the_file() {
    for (key, value) in [("intermediate_size", u64::MAX), ("num_hidden_layers", u64::MAX), ("vocab_size", 1 << 62)] {
        let dir = copy_of("tiny");
        edit_config(dir.path(), |c| c[key] = value.into());
        let err = load_err(dir.path(), &LoadOptions::default());
        assert!(matches!(err, ModelError::Config { .. }), "{key}: {err}");
        let msg = assert_plain(&err, &dir.path().join("config.json"));
        assert!(msg.contains(key), "{key}: {msg}");
    }
}

#[test]
fn huge_fresh_head_is_refused_before_it_is_allocated() {
    // tiny-no-pooler has no classifier either: its head is always initialised fresh.
    let dir = copy_of("tiny-no-pooler");
    edit_config(dir.path(), |c| {
        c["num_labels"] = (1u64 << 30).into();
        c.as_object_mut().unwrap().remove("id2label");
        c.as_object_mut().unwrap().remove("label2id");
    });
    let err = load_err(dir.path(), &LoadOptions::default());
    let msg = assert_plain(&err, &dir.path().join("config.json"));
    assert!(msg.contains("freshly initialised") && msg.contains("1073741824 labels"), "{msg}");
    // The same with a head in the file of another size, replaced on request.
    let dir = copy_of("tiny");
    edit_config(dir.path(), |c| {
        c["num_labels"] = (1u64 << 30).into();
        c.as_object_mut().unwrap().remove("id2label");
    });
    let options = LoadOptions { reinit_classifier: true, ..Default::default() };
    let msg = load_err(dir.path(), &options).to_string();
    assert!(msg.contains("freshly initialised"), "{msg}");
}

#[test]
fn nan_weight_fails_at_load_naming_the_tensor_and_the_first_index() {
    let dir = copy_of("tiny");
    let name = "bert.encoder.layer.0.output.dense.weight";
    edit_weights(dir.path(), |all| poke(all, name, &[(17, f32::NAN), (18, f32::NAN), (300, -f32::NAN)]));
    let err = load_err(dir.path(), &LoadOptions::default());
    assert!(matches!(err, ModelError::NonFinite { nan: 3, inf: 0, first: 17, .. }), "{err}");
    let msg = assert_plain(&err, &weights(dir.path()));
    assert!(
        msg.contains(&format!("tensor {name} holds 3 NaN / 0 inf values (first at index 17)"))
            && msg.contains("re-download or re-export"),
        "{msg}"
    );
}

#[test]
fn infinite_bias_fails_at_load() {
    let dir = copy_of("tiny");
    edit_weights(dir.path(), |all| {
        poke(all, "bert.embeddings.LayerNorm.bias", &[(5, f32::INFINITY), (2, f32::NEG_INFINITY)])
    });
    let msg = load_err(dir.path(), &LoadOptions::default()).to_string();
    assert!(msg.contains("bert.embeddings.LayerNorm.bias holds 0 NaN / 2 inf values (first at index 2)"), "{msg}");
}

#[test]
fn nan_in_a_head_that_is_replaced_does_not_matter() {
    let dir = copy_of("tiny");
    edit_weights(dir.path(), |all| poke(all, "classifier.weight", &[(0, f32::NAN)]));
    let options =
        LoadOptions { labels: Some(vec!["a".into(), "b".into()]), reinit_classifier: true, ..Default::default() };
    let loaded = load_pretrained::<ft_model::BertForSequenceClassification>(dir.path(), &options, &cpu()).unwrap();
    assert!(common::values(loaded.model.classifier.weight.val()).iter().all(|v| v.is_finite()));
}

#[test]
fn corrupt_safetensors_files_are_clear_errors_with_the_path() {
    let original = std::fs::read(fixtures().join("tiny/model.safetensors")).unwrap();
    let n = u64::from_le_bytes(original[..8].try_into().unwrap()) as usize;
    let header = std::str::from_utf8(&original[8..8 + n]).unwrap().to_string();
    let with_header = |h: &str| {
        let mut out = (h.len() as u64).to_le_bytes().to_vec();
        out.extend_from_slice(h.as_bytes());
        out.extend_from_slice(&original[8 + n..]);
        out
    };
    let mut length_too_large = original.clone();
    length_too_large[..8].copy_from_slice(&(original.len() as u64 * 2).to_le_bytes());
    let invalid_json = with_header(&header.replacen("{\"dtype\"", "{dtype\"", 1));
    // The first data offset moved past the end of the data.
    let out_of_range = with_header(&header.replacen("\"data_offsets\":[0,", "\"data_offsets\":[999999999,", 1));
    let unknown_dtype = with_header(&header.replacen("\"F32\"", "\"F33\"", 1));
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("empty", vec![], "8-byte header length"),
        ("three bytes", vec![1, 2, 3], "8-byte header length"),
        ("header length larger than the file", length_too_large, "header length says"),
        ("invalid JSON header", invalid_json, "not a valid tensor table"),
        ("offsets out of range", out_of_range, "invalid offset"),
        ("unknown dtype", unknown_dtype, "F33"),
        ("truncated data", original[..original.len() - 100].to_vec(), "but the file holds"),
        ("trailing bytes", [original.as_slice(), &[0; 16]].concat(), "but the file holds"),
    ];
    for (what, bytes, want) in cases {
        let dir = copy_of("tiny");
        std::fs::write(weights(dir.path()), &bytes).unwrap();
        let err = load_err(dir.path(), &LoadOptions::default());
        assert!(matches!(err, ModelError::Safetensors { .. }), "{what}: {err}");
        let msg = assert_plain(&err, &weights(dir.path()));
        assert!(msg.contains(want) && msg.contains("damaged or truncated"), "{what}: want {want:?} in {msg}");
    }
}

#[test]
fn unsupported_weight_dtype_is_named() {
    let dir = copy_of("tiny");
    edit_weights(dir.path(), |all| {
        let (dtype, shape, data) = all.get_mut("bert.pooler.dense.bias").unwrap();
        let values: Vec<f64> = data.chunks_exact(4).map(|b| f32::from_le_bytes(b.try_into().unwrap()) as f64).collect();
        *data = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        *dtype = Dtype::F64;
        assert_eq!(shape, &[32]);
    });
    let err = load_err(dir.path(), &LoadOptions::default());
    let msg = assert_plain(&err, &weights(dir.path()));
    assert!(msg.contains("bert.pooler.dense.bias has dtype F64") && msg.contains("F32, F16 and BF16"), "{msg}");
}

fn tiny_config() -> BertConfig {
    let path = fixtures().join("tiny/config.json");
    BertConfig::from_json_str(&std::fs::read_to_string(&path).unwrap(), &path).unwrap()
}

#[test]
fn header_check_needs_no_device_and_agrees_with_load() {
    let bytes = std::fs::read(fixtures().join("tiny/model.safetensors")).unwrap();
    let path = Path::new("tiny/model.safetensors");
    let report = check_safetensors::<ft_model::BertForSequenceClassification>(
        &bytes,
        &tiny_config(),
        &LoadOptions::default(),
        path,
    )
    .unwrap();
    let loaded = load_pretrained::<ft_model::BertForSequenceClassification>(
        &fixtures().join("tiny"),
        &LoadOptions::default(),
        &cpu(),
    )
    .unwrap();
    assert_eq!(report.applied, loaded.report.applied);
    assert_eq!(report.file_values, loaded.report.file_values);
    assert!(report.fresh.is_empty());
    let mut absurd = tiny_config();
    absurd.num_hidden_layers = usize::MAX / 64;
    let msg = check_safetensors_header::<ft_model::BertForSequenceClassification>(
        &bytes,
        &absurd,
        &LoadOptions::default(),
        path,
    )
    .unwrap_err()
    .to_string();
    assert!(msg.contains("file has 2") || msg.contains("too large"), "{msg}");
}

/// A small deterministic fuzz of the header reader: every truncation of the header, and single bytes
/// overwritten with values that break JSON, numbers and lengths, must come back as `Ok` or as a
/// `ModelError` — a panic fails the test.
#[test]
fn header_reader_never_panics_on_mutated_bytes() {
    let original = std::fs::read(fixtures().join("tiny/model.safetensors")).unwrap();
    let n = u64::from_le_bytes(original[..8].try_into().unwrap()) as usize;
    let config = tiny_config();
    let path = Path::new("m/model.safetensors");
    let mut errors = 0;
    for len in (0..8 + n + 64).step_by(7) {
        let bytes = &original[..len.min(original.len())];
        errors += check_safetensors_header::<ft_model::BertForSequenceClassification>(
            bytes,
            &config,
            &LoadOptions::default(),
            path,
        )
        .is_err() as usize;
    }
    for i in (0..8 + n).step_by(3) {
        for value in [0u8, b'"', b'9', b'-', b'}', 0xff] {
            let mut bytes = original.clone();
            bytes[i] = value;
            if let Err(e) = check_safetensors::<ft_model::BertForSequenceClassification>(
                &bytes,
                &config,
                &LoadOptions::default(),
                path,
            ) {
                assert!(e.to_string().starts_with("m/model.safetensors"), "{e}");
                errors += 1;
            }
        }
    }
    assert!(errors > 100, "mutations should mostly fail: {errors}");
}
