//! `BertForQuestionAnswering` against transformers (the reference decides): fixtures/tiny-qa — the tiny
//! encoder under a fresh `qa_outputs` Linear(H, 2), saved by transformers — its start/end logits for
//! the tiny batch, the loss for answer spans (positions beyond the window clamped and ignored, negative
//! ones clamped to 0) and the gradient of `qa_outputs`, from `xtask/py/generate_fixtures.py
//! qa-model-goldens`. Tolerances: logits 1e-4 absolute (as every forward golden), loss 1e-5 relative,
//! gradients 1e-5 absolute.

mod common;

use common::{Golden, assert_close, cpu, fixtures, values};
use ft_model::burn::optim::GradientsParams;
use ft_model::burn::tensor::{Int, Tensor, TensorData};
use ft_model::{
    BertForQuestionAnswering, BertForSequenceClassification, Head, LoadOptions, ModelInputs, Targets, Task,
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

fn spans(golden: &Golden, device: &ft_model::burn::tensor::Device) -> Targets {
    let (v, shape) = golden.i64("batch.spans");
    Targets::Spans(Tensor::<2, Int>::from_data(TensorData::new(v, [shape[0], shape[1]]), device))
}

#[test]
fn qa_head_logits_and_loss_match_transformers() {
    let device = cpu();
    let loaded =
        load_pretrained::<BertForQuestionAnswering>(&fixtures().join("tiny-qa"), &LoadOptions::default(), &device)
            .unwrap();
    assert!(loaded.report.fresh.is_empty(), "fresh {:?}", loaded.report.fresh);
    assert!(loaded.report.unexpected.is_empty(), "unexpected {:?}", loaded.report.unexpected);
    assert!(loaded.model.bert.pooler.is_none(), "the QA head has no pooler (add_pooling_layer=False)");
    assert_eq!(Task::of_config(&loaded.config), Some(Task::QuestionAnswering));
    let golden = Golden::open("tiny_qa_golden.safetensors");
    let logits = loaded.model.logits(inputs(&golden, &device)).unwrap();
    assert_eq!(logits.dims(), [6, 64, 2]);
    let (want, _) = golden.f32("batch.logits");
    let worst = assert_close("tiny-qa batch.logits", &values(logits.clone()), &want, TOL);
    let loss = BertForQuestionAnswering::loss(logits, spans(&golden, &device)).unwrap().into_scalar::<f32>();
    let (want_loss, _) = golden.f32("batch.loss");
    let rel = ((loss - want_loss[0]) / want_loss[0]).abs();
    assert!(rel <= 1e-5, "loss {loss} vs transformers {} (rel {rel:.2e})", want_loss[0]);
    eprintln!("tiny-qa: logits max abs diff {worst:.2e}, loss rel {rel:.2e}");
}

/// fixtures/tiny-qa with every dropout at 0: the golden gradient was taken in eval mode.
fn without_dropout(into: &Path) {
    std::fs::create_dir_all(into).unwrap();
    for entry in std::fs::read_dir(fixtures().join("tiny-qa")).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), into.join(entry.file_name())).unwrap();
    }
    let path = into.join("config.json");
    let mut config: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    for key in ["hidden_dropout_prob", "attention_probs_dropout_prob"] {
        config[key] = serde_json::json!(0.0);
    }
    std::fs::write(&path, serde_json::to_vec(&config).unwrap()).unwrap();
}

#[test]
fn qa_head_gradient_matches_pytorch() {
    let tmp = tempfile::tempdir().unwrap();
    without_dropout(tmp.path());
    let device = cpu().autodiff();
    let loaded = load_pretrained::<BertForQuestionAnswering>(tmp.path(), &LoadOptions::default(), &device).unwrap();
    let golden = Golden::open("tiny_qa_golden.safetensors");
    let model = loaded.model;
    let loss = BertForQuestionAnswering::loss(model.logits(inputs(&golden, &device)).unwrap(), spans(&golden, &device))
        .unwrap();
    let grads = GradientsParams::from_grads(loss.backward(), &model);
    let weight = grads.get::<2>(model.qa_outputs.weight.id).expect("qa_outputs.weight has a gradient");
    let bias = grads.get::<1>(model.qa_outputs.bias.as_ref().unwrap().id).expect("qa_outputs.bias has a gradient");
    // burn's Linear weight is [in, out]; PyTorch's [out, in].
    let (want_w, _) = golden.f32("batch.grad.qa_outputs.weight");
    let (want_b, _) = golden.f32("batch.grad.qa_outputs.bias");
    let a = assert_close("grad qa_outputs.weight", &values(weight.transpose()), &want_w, 1e-5);
    let b = assert_close("grad qa_outputs.bias", &values(bias), &want_b, 1e-5);
    let worst = a.max(b);
    eprintln!("tiny-qa: qa_outputs gradient max abs diff {worst:.2e}");
}

/// ft saves a QA model under transformers' names (no pooler, `qa_outputs`), and reads its own save
/// back; a sequence head is never built from it (its classifier would be fresh).
#[test]
fn qa_save_round_trip_keeps_the_head() {
    let device = cpu();
    let loaded =
        load_pretrained::<BertForQuestionAnswering>(&fixtures().join("tiny-qa"), &LoadOptions::default(), &device)
            .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("saved");
    save_pretrained(&loaded.model, &loaded.config, &out, Some(&fixtures().join("tiny-qa")), false).unwrap();
    let config: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("config.json")).unwrap()).unwrap();
    assert_eq!(config["architectures"][0], "BertForQuestionAnswering");
    let bytes = std::fs::read(out.join("model.safetensors")).unwrap();
    let names: Vec<String> =
        safetensors::SafeTensors::deserialize(&bytes).unwrap().names().into_iter().map(String::from).collect();
    assert!(names.iter().all(|n| !n.contains("pooler")), "{names:?}");
    assert!(names.contains(&"qa_outputs.weight".to_string()), "{names:?}");
    let back = load_pretrained::<BertForQuestionAnswering>(&out, &LoadOptions::default(), &device).unwrap();
    assert!(back.report.fresh.is_empty());
    let golden = Golden::open("tiny_qa_golden.safetensors");
    let a = values(loaded.model.logits(inputs(&golden, &device)).unwrap());
    let b = values(back.model.logits(inputs(&golden, &device)).unwrap());
    assert_eq!(a, b, "a save and load gives the same logits");
    let seq = load_pretrained::<BertForSequenceClassification>(&out, &LoadOptions::default(), &device).unwrap();
    assert!(seq.report.fresh.iter().any(|n| n.starts_with("classifier")), "{:?}", seq.report.fresh);
}
