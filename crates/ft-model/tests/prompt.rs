//! Prompt tuning against PEFT 0.21.2: `fixtures/tiny-prompt` is the prompt-tuning adapter (5 virtual
//! tokens, SEQ_CLS) PEFT trained on fixtures/tiny (`xtask/py/generate_fixtures.py prompt-goldens`).
//! ft loads it and must give PEFT's logits (1e-5); saving writes PEFT's file back; what prompt tuning
//! is not built for is refused.

mod common;

use common::{Golden, assert_close, cpu, fixtures, values};
use ft_model::peft::prompt::{PromptInit, PromptSettings, attach, load_adapter, save_adapter};
use ft_model::{BertForSequenceClassification, BertForTokenClassification, Head, LoadOptions, load_pretrained};
use std::collections::BTreeMap;
use std::path::Path;

fn tiny() -> ft_model::PretrainedModel<BertForSequenceClassification> {
    load_pretrained::<BertForSequenceClassification>(&fixtures().join("tiny"), &LoadOptions::default(), &cpu()).unwrap()
}

fn tensors(path: &Path) -> BTreeMap<String, (Vec<usize>, Vec<u8>)> {
    let bytes = std::fs::read(path).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    st.tensors().into_iter().map(|(n, v)| (n, (v.shape().to_vec(), v.data().to_vec()))).collect()
}

#[test]
fn peft_prompt_adapter_loads_with_peft_logits_and_saves_back() {
    let golden = Golden::open("prompt_parity.safetensors");
    let base = tiny();
    let (model, settings) = load_adapter(base.model, &base.config, &fixtures().join("tiny-prompt"), &cpu()).unwrap();
    assert_eq!(settings, PromptSettings { num_virtual_tokens: 5, init: PromptInit::Random });
    let device = cpu();
    let out = model
        .forward(
            golden.ids("batch.input_ids", &device),
            Some(golden.ids("batch.token_type_ids", &device)),
            Some(golden.ids("batch.attention_mask", &device)),
        )
        .unwrap();
    let [b, t, _] = out.bert.last_hidden_state.dims();
    assert_eq!((b, t), (6, 64), "5 virtual tokens + 59 text positions");
    let (want, _) = golden.f32("logits");
    let worst = assert_close("logits with PEFT's prompt", &values(out.logits), &want, 1e-5);
    eprintln!("prompt tuning logits: max abs diff {worst:.2e}");

    let dir = tempfile::tempdir().unwrap();
    let saved = dir.path().join("prompt");
    save_adapter(&model, &settings, &base.config, Some("tiny"), &saved, false).unwrap();
    let (ours, peft) = (
        tensors(&saved.join("adapter_model.safetensors")),
        tensors(&fixtures().join("tiny-prompt/adapter_model.safetensors")),
    );
    assert_eq!(ours, peft, "the saved adapter differs from PEFT's file");
    let (back, _) = load_adapter(tiny().model, &base.config, &saved, &cpu()).unwrap();
    assert_eq!(back.bert().embeddings.num_virtual_tokens(), 5);
}

#[test]
fn prompts_start_seeded_and_are_refused_where_they_do_not_fit() {
    let base = tiny();
    let settings = PromptSettings { num_virtual_tokens: 3, init: PromptInit::Vocab };
    let bert = attach(base.model.bert().clone(), &settings, 9, &cpu()).unwrap();
    // Vocab init: each virtual token is a row of the word embeddings.
    let words = values(bert.embeddings.word_embeddings.weight.val());
    let prompt = values(bert.embeddings.prompt.as_ref().unwrap().weight.val());
    for row in prompt.chunks(32) {
        assert!(words.chunks(32).any(|w| w == row), "{row:?} is no word embedding");
    }
    let too_many = PromptSettings { num_virtual_tokens: 64, init: PromptInit::Random };
    let err = attach(base.model.bert().clone(), &too_many, 9, &cpu()).unwrap_err().to_string();
    assert!(err.contains("--virtual-tokens 64"), "{err}");
    let token =
        load_pretrained::<BertForTokenClassification>(&fixtures().join("tiny-token"), &LoadOptions::default(), &cpu())
            .unwrap();
    let err =
        load_adapter(token.model, &token.config, &fixtures().join("tiny-prompt"), &cpu()).unwrap_err().to_string();
    assert!(err.contains("built for sequence classification"), "{err}");
}

/// PEFT's prompt tuning on the other families (`xtask/py/generate_fixtures.py family-lora-goldens`: 5
/// virtual tokens on tiny RoBERTa, DistilBERT, DeBERTa-v3 and ModernBERT, the head's own dense layer in
/// `modules_to_save`, every trainable tensor perturbed): ft loads each adapter with PEFT's logits
/// (1e-4, the family tolerance) — RoBERTa's positions after the virtual tokens, DeBERTa's relative
/// positions and ModernBERT's rotary ones over them, ModernBERT's mean over them — and saves it back
/// with PEFT's tensor names and shapes and `modules_to_save`, reloading to the same logits.
#[test]
fn peft_prompt_adapters_on_every_family_load_and_save_under_its_names() {
    const FAMILY_TOL: f32 = 1e-4;
    let golden = Golden::open("families_golden.safetensors");
    let prompt = Golden::open("families_prompt_golden.safetensors");
    let device = cpu();
    let tmp = tempfile::tempdir().unwrap();
    for (key, fixture) in [
        ("roberta", "tiny-roberta"),
        ("distilbert", "tiny-distilbert"),
        ("deberta-v3", "tiny-deberta-v3"),
        ("modernbert", "tiny-modernbert"),
    ] {
        let base = load_pretrained::<BertForSequenceClassification>(
            &fixtures().join(fixture),
            &LoadOptions::default(),
            &device,
        )
        .unwrap();
        let adapter_dir = fixtures().join(format!("{fixture}-prompt"));
        let (model, settings) = load_adapter(base.model.clone(), &base.config, &adapter_dir, &device).unwrap();
        assert_eq!(settings.num_virtual_tokens, 5);
        // The golden's inputs cut to 64 − 5 tokens, as the generator fed them.
        let cut = |name: &str| {
            let ids = golden.ids(&format!("{key}.{name}"), &device);
            let [b, _] = ids.dims();
            ids.slice([0..b, 0..59])
        };
        let run = |m: &BertForSequenceClassification| {
            let out = m.forward(cut("input_ids"), Some(cut("token_type_ids")), Some(cut("attention_mask"))).unwrap();
            values(out.logits)
        };
        let (want, _) = prompt.f32(&format!("{key}.logits"));
        let d = assert_close(&format!("{fixture} + PEFT prompt"), &run(&model), &want, FAMILY_TOL);
        let out = tmp.path().join(fixture);
        save_adapter(&model, &settings, &base.config, Some(fixture), &out, false).unwrap();
        let shapes = |path: &Path| -> BTreeMap<String, Vec<usize>> {
            tensors(path).into_iter().map(|(n, (shape, _))| (n, shape)).collect()
        };
        assert_eq!(
            shapes(&out.join("adapter_model.safetensors")),
            shapes(&adapter_dir.join("adapter_model.safetensors")),
            "{fixture}: ft's prompt adapter holds other tensors than PEFT's"
        );
        let ours: serde_json::Value =
            serde_json::from_slice(&std::fs::read(out.join("adapter_config.json")).unwrap()).unwrap();
        let theirs: serde_json::Value =
            serde_json::from_slice(&std::fs::read(adapter_dir.join("adapter_config.json")).unwrap()).unwrap();
        for m in ours["modules_to_save"].as_array().unwrap() {
            assert!(theirs["modules_to_save"].as_array().unwrap().contains(m), "{fixture}: {m} not in PEFT's {theirs}");
        }
        let (again, _) = load_adapter(base.model.clone(), &base.config, &out, &device).unwrap();
        assert_close(&format!("{fixture} prompt saved and reloaded"), &run(&again), &want, FAMILY_TOL);
        eprintln!("{fixture}: PEFT prompt adapter logits max abs diff {d:.2e}");
    }
}

/// Prefix tuning on RoBERTa and ELECTRA, whose attention is BERT's (`xtask/py/generate_fixtures.py
/// family-lora-goldens`: `add_prefix`'s reference module, 4 positions per layer, the head perturbed,
/// the adapter in PEFT's layout): ft loads it with the reference's logits (1e-4) and saves it back with
/// the same tensors under the family's names.
#[test]
fn prefix_adapters_on_roberta_and_electra_load_and_save_under_their_names() {
    use ft_model::peft::prefix;
    const FAMILY_TOL: f32 = 1e-4;
    let golden = Golden::open("families_golden.safetensors");
    let want = Golden::open("families_prefix_golden.safetensors");
    let device = cpu();
    let tmp = tempfile::tempdir().unwrap();
    for (key, fixture) in [("roberta", "tiny-roberta"), ("electra", "tiny-electra")] {
        let base = load_pretrained::<BertForSequenceClassification>(
            &fixtures().join(fixture),
            &LoadOptions::default(),
            &device,
        )
        .unwrap();
        let adapter_dir = fixtures().join(format!("{fixture}-prefix"));
        let (model, settings) = prefix::load_adapter(base.model.clone(), &base.config, &adapter_dir, &device).unwrap();
        let run = |m: &BertForSequenceClassification| {
            let ids = |name: &str| golden.ids(&format!("{key}.{name}"), &device);
            values(
                m.forward(ids("input_ids"), Some(ids("token_type_ids")), Some(ids("attention_mask"))).unwrap().logits,
            )
        };
        let (logits, _) = want.f32(&format!("{key}.logits"));
        let d = assert_close(&format!("{fixture} + prefix"), &run(&model), &logits, FAMILY_TOL);
        let out = tmp.path().join(fixture);
        prefix::save_adapter(&model, &base.config, Some(fixture), &out, false).unwrap();
        let shapes = |path: &Path| -> BTreeMap<String, Vec<usize>> {
            tensors(path).into_iter().map(|(n, (shape, _))| (n, shape)).collect()
        };
        assert_eq!(
            shapes(&out.join("adapter_model.safetensors")),
            shapes(&adapter_dir.join("adapter_model.safetensors")),
            "{fixture}"
        );
        let (again, s2) = prefix::load_adapter(base.model.clone(), &base.config, &out, &device).unwrap();
        assert_eq!(s2, settings);
        assert_close(&format!("{fixture} prefix saved and reloaded"), &run(&again), &logits, FAMILY_TOL);
        eprintln!("{fixture}: prefix logits max abs diff {d:.2e}");
    }
}
