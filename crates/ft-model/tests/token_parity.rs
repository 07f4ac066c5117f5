//! `BertForTokenClassification` against transformers (the reference decides): fixtures/tiny-token —
//! the tiny encoder under a 5-label token classifier, saved by transformers — its logits for the tiny
//! batch, the loss with `-100` labels, and the classifier's gradient, from
//! `xtask/py/generate_fixtures.py token-goldens`. Tolerances: logits 1e-4 absolute (as every forward
//! golden), loss 1e-5 relative, gradients 1e-5 absolute.

mod common;

use common::{Golden, assert_close, cpu, fixtures, values};
use ft_model::burn::optim::GradientsParams;
use ft_model::burn::tensor::{Int, Tensor, TensorData};
use ft_model::{
    BertForSequenceClassification, BertForTokenClassification, Head, LoadOptions, ModelInputs, Targets, Task,
    load_pretrained, save_pretrained,
};
use std::path::Path;

const TOL: f32 = 1e-4;

fn inputs(golden: &Golden, device: &ft_model::burn::tensor::Device) -> ModelInputs {
    ModelInputs::new(
        golden.ids("batch.input_ids", device),
        golden.ids("batch.token_type_ids", device),
        golden.ids("batch.attention_mask", device),
    )
}

fn labels(golden: &Golden, device: &ft_model::burn::tensor::Device) -> Tensor<2, Int> {
    let (v, shape) = golden.i64("batch.labels");
    Tensor::from_data(TensorData::new(v, [shape[0], shape[1]]), device)
}

#[test]
fn token_head_logits_and_loss_match_transformers() {
    let device = cpu();
    let loaded =
        load_pretrained::<BertForTokenClassification>(&fixtures().join("tiny-token"), &LoadOptions::default(), &device)
            .unwrap();
    assert!(loaded.report.fresh.is_empty(), "fresh {:?}", loaded.report.fresh);
    assert!(loaded.report.unexpected.is_empty(), "unexpected {:?}", loaded.report.unexpected);
    assert!(loaded.model.bert.pooler.is_none(), "the token head has no pooler (add_pooling_layer=False)");
    assert_eq!(loaded.config.label_names(), ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]);
    let golden = Golden::open("tiny_token_golden.safetensors");
    let logits = loaded.model.logits(inputs(&golden, &device)).unwrap();
    assert_eq!(logits.dims(), [6, 64, 5]);
    let (want, _) = golden.f32("batch.logits");
    let worst = assert_close("tiny-token batch.logits", &values(logits.clone()), &want, TOL);
    let loss = BertForTokenClassification::loss(logits, Targets::TokenClasses(labels(&golden, &device)))
        .unwrap()
        .into_scalar::<f32>();
    let (want_loss, _) = golden.f32("batch.loss");
    let rel = ((loss - want_loss[0]) / want_loss[0]).abs();
    assert!(rel <= 1e-5, "loss {loss} vs transformers {} (rel {rel:.2e})", want_loss[0]);
    eprintln!("tiny-token: logits max abs diff {worst:.2e}, loss rel {rel:.2e}");
}

/// fixtures/tiny-token with every dropout at 0: the golden gradient was taken in eval mode.
fn without_dropout(into: &Path) {
    std::fs::create_dir_all(into).unwrap();
    for entry in std::fs::read_dir(fixtures().join("tiny-token")).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), into.join(entry.file_name())).unwrap();
    }
    let path = into.join("config.json");
    let mut config: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    for key in ["hidden_dropout_prob", "attention_probs_dropout_prob", "classifier_dropout"] {
        config[key] = serde_json::json!(0.0);
    }
    std::fs::write(&path, serde_json::to_vec(&config).unwrap()).unwrap();
}

#[test]
fn token_head_gradient_matches_pytorch() {
    let tmp = tempfile::tempdir().unwrap();
    without_dropout(tmp.path());
    let device = cpu().autodiff();
    let loaded = load_pretrained::<BertForTokenClassification>(tmp.path(), &LoadOptions::default(), &device).unwrap();
    let golden = Golden::open("tiny_token_golden.safetensors");
    let model = loaded.model;
    let loss = BertForTokenClassification::loss(
        model.logits(inputs(&golden, &device)).unwrap(),
        Targets::TokenClasses(labels(&golden, &device)),
    )
    .unwrap();
    let grads = GradientsParams::from_grads(loss.backward(), &model);
    let weight = grads.get::<2>(model.classifier.weight.id).expect("classifier.weight has a gradient");
    let bias = grads.get::<1>(model.classifier.bias.as_ref().unwrap().id).expect("classifier.bias has a gradient");
    // burn's Linear weight is [in, out]; PyTorch's [out, in].
    let (want_w, _) = golden.f32("batch.grad.classifier.weight");
    let (want_b, _) = golden.f32("batch.grad.classifier.bias");
    let a = assert_close("grad classifier.weight", &values(weight.transpose()), &want_w, 1e-5);
    let b = assert_close("grad classifier.bias", &values(bias), &want_b, 1e-5);
    eprintln!("tiny-token gradients: weight {a:.2e}, bias {b:.2e}");
}

#[test]
fn token_model_saves_what_transformers_names_and_reloads_the_same() {
    let device = cpu();
    let options = LoadOptions::default();
    let loaded =
        load_pretrained::<BertForTokenClassification>(&fixtures().join("tiny-token"), &options, &device).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("saved");
    save_pretrained(&loaded.model, &loaded.config, &out, Some(&fixtures().join("tiny-token")), false).unwrap();
    let config: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("config.json")).unwrap()).unwrap();
    assert_eq!(config["architectures"], serde_json::json!(["BertForTokenClassification"]));
    assert!(config.get("problem_type").is_none_or(|p| p.is_null()), "{config}");
    // The same tensor names and shapes as transformers wrote (no pooler).
    let names = |dir: &Path| {
        let bytes = std::fs::read(dir.join("model.safetensors")).unwrap();
        let file = safetensors::SafeTensors::deserialize(&bytes).unwrap();
        let mut v: Vec<(String, Vec<usize>)> =
            file.tensors().into_iter().map(|(n, t)| (n.to_string(), t.shape().to_vec())).collect();
        v.sort();
        v
    };
    assert_eq!(names(&out), names(&fixtures().join("tiny-token")));
    let again = load_pretrained::<BertForTokenClassification>(&out, &options, &device).unwrap();
    let golden = Golden::open("tiny_token_golden.safetensors");
    let a = values(loaded.model.logits(inputs(&golden, &device)).unwrap());
    let b = values(again.model.logits(inputs(&golden, &device)).unwrap());
    assert_eq!(a, b, "save → load changed the logits");
}

#[test]
fn a_sequence_checkpoint_gives_a_token_head_its_encoder_and_a_fresh_classifier() {
    let device = cpu();
    let options = LoadOptions {
        labels: Some(vec!["O".into(), "B-X".into(), "I-X".into()]),
        reinit_classifier: true,
        ..Default::default()
    };
    let loaded = load_pretrained::<BertForTokenClassification>(&fixtures().join("tiny"), &options, &device).unwrap();
    assert_eq!(loaded.report.fresh, ["classifier.weight", "classifier.bias"]);
    assert!(loaded.report.ignored.iter().any(|k| k.contains("pooler")), "{:?}", loaded.report.ignored);
    assert!(loaded.report.unexpected.is_empty(), "{:?}", loaded.report.unexpected);
    assert!(
        loaded.report.notes.iter().any(|n| n.contains("BertForSequenceClassification")),
        "{:?}",
        loaded.report.notes
    );
    assert_eq!(Task::of_config(&loaded.config), Some(Task::SequenceClassification));
    // The encoder is the file's: its last hidden state equals the sequence model's.
    let seq =
        load_pretrained::<BertForSequenceClassification>(&fixtures().join("tiny"), &LoadOptions::default(), &device)
            .unwrap();
    let golden = Golden::open("tiny_golden.safetensors");
    let ids = golden.ids("batch.input_ids", &device);
    let types = golden.ids("batch.token_type_ids", &device);
    let mask = golden.ids("batch.attention_mask", &device);
    let a = seq.model.bert.forward(ids.clone(), Some(types.clone()), Some(mask.clone())).unwrap();
    let b = loaded.model.bert.forward(ids, Some(types), Some(mask)).unwrap();
    assert!(b.pooler_output.is_none());
    assert_eq!(values(a.last_hidden_state), values(b.last_hidden_state));
}

#[test]
fn task_names_round_trip() {
    for task in Task::ALL {
        assert_eq!(task.name().parse::<Task>().unwrap(), *task);
        assert_eq!(Task::from_architecture(task.architecture()), Some(*task));
    }
    let e = "ner".parse::<Task>().unwrap_err();
    assert!(e.contains("sequence-classification, token-classification"), "{e}");
}
