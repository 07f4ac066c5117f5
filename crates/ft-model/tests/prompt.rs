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
