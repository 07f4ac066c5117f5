//! `Explainer` on fixtures/tiny against Captum 0.9.0 (`fixtures/explain_golden.safetensors`, written by
//! `xtask/py/generate_fixtures.py explain-goldens`): the same tokens, target and probabilities (1e-5);
//! Integrated Gradients (Gauss-Legendre 50 and 300 steps, Riemann-trapezoid 50) and gradient × input per
//! token within 1e-4 of the largest attribution of the case (the relative tolerance); the
//! attention rollout within 1e-5 of NumPy's; and with 300 steps the completeness gap below 1e-3.

use ft_infer::{Explainer, Method, Rule};
use ft_model::DeviceSpec;
use safetensors::SafeTensors;
use serde_json::Value;
use std::path::PathBuf;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures")
}

/// A golden tensor as f64 values (F32 or I64 in the file).
fn values(st: &SafeTensors, name: &str) -> Vec<f64> {
    let t = st.tensor(name).unwrap_or_else(|e| panic!("{name}: {e}"));
    match t.dtype() {
        safetensors::Dtype::F32 => {
            t.data().chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().unwrap()) as f64).collect()
        }
        safetensors::Dtype::I64 => {
            t.data().chunks_exact(8).map(|c| i64::from_le_bytes(c.try_into().unwrap()) as f64).collect()
        }
        other => panic!("{name}: {other:?}"),
    }
}

/// `[T, H]` summed per token.
fn per_token(v: &[f64], t: usize) -> Vec<f64> {
    v.chunks(v.len() / t).map(|c| c.iter().sum()).collect()
}

fn max_abs_diff(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f64::max)
}

#[test]
fn attributions_equal_captum_and_numpy() {
    let bytes = std::fs::read(fixtures().join("explain_golden.safetensors")).unwrap();
    let golden = SafeTensors::deserialize(&bytes).unwrap();
    let manifest: Value = serde_json::from_slice(&std::fs::read(fixtures().join("manifest.json")).unwrap()).unwrap();
    let cases = manifest["cases"]["explain_golden.safetensors"]["cases"].as_array().unwrap();
    let device = DeviceSpec::Cpu.device().unwrap();
    let explainer = Explainer::load(&fixtures().join("tiny").display().to_string(), device, None).unwrap();
    let mut worst = [0f64; 3];
    for (i, case) in cases.iter().enumerate() {
        let (text, pair) = (case["text"].as_str().unwrap(), case["pair"].as_str());
        let p = format!("case{i}.");
        let ids = values(&golden, &(p.clone() + "input_ids"));
        let t = ids.len();
        let target = values(&golden, &(p.clone() + "target"))[0] as usize;
        let f = values(&golden, &(p.clone() + "f"));
        let run = |method| explainer.explain(text, pair, None, method, 16).unwrap();

        for (rule, name, steps) in [
            (Rule::GaussLegendre, "gausslegendre", 50),
            (Rule::RiemannTrapezoid, "riemann_trapezoid", 50),
            (Rule::GaussLegendre, "gausslegendre", 300),
        ] {
            let got = run(Method::IntegratedGradients { steps, rule });
            assert_eq!(got.target_index, target, "{text}");
            assert_eq!(got.tokens.len(), t, "{text}: tokens");
            assert!((got.score - f[0]).abs() < 1e-5 && (got.baseline_score.unwrap() - f[1]).abs() < 1e-5, "{text}");
            let want = per_token(&values(&golden, &format!("{p}ig.{name}.{steps}")), t);
            let scores: Vec<f64> = got.tokens.iter().map(|s| s.score).collect();
            let scale = want.iter().fold(0f64, |m, v| m.max(v.abs()));
            let rel = max_abs_diff(&scores, &want) / scale;
            println!(
                "{text:?} ig {name} {steps}: max diff / max |attr| {rel:.2e}, gap {:.2e}",
                got.completeness_gap.unwrap()
            );
            assert!(rel <= 1e-4, "{text} ig {name} {steps}: {scores:?} vs {want:?}");
            worst[0] = worst[0].max(rel);
            // Captum's own convergence delta: the same gap, to float rounding.
            let delta = values(&golden, &format!("{p}ig.{name}.{steps}.delta"))[0].abs();
            assert!((got.completeness_gap.unwrap() - delta).abs() < 1e-5, "{text}: gap vs Captum's delta {delta}");
            if steps == 300 {
                assert!(got.completeness_gap.unwrap() < 1e-3, "{text}: completeness gap");
            }
        }

        let got = run(Method::GradXInput);
        let want = per_token(&values(&golden, &(p.clone() + "grad_x_input")), t);
        let scale = want.iter().fold(0f64, |m, v| m.max(v.abs()));
        let rel = max_abs_diff(&got.tokens.iter().map(|s| s.score).collect::<Vec<_>>(), &want) / scale;
        assert!(rel <= 1e-4, "{text} grad × input: {rel:e}");
        worst[1] = worst[1].max(rel);

        let got = run(Method::Rollout);
        let rollout = values(&golden, &(p.clone() + "rollout"));
        let diff = max_abs_diff(&got.tokens.iter().map(|s| s.score).collect::<Vec<_>>(), &rollout[..t]);
        assert!(diff <= 1e-5, "{text} rollout: {diff:e}");
        assert!((got.tokens.iter().map(|s| s.score).sum::<f64>() - 1.0).abs() < 1e-5);
        worst[2] = worst[2].max(diff);

        // Words: the text's words in order, each the sum of its tokens.
        let got = run(Method::GradXInput);
        let words: Vec<&str> = got.words.iter().filter(|w| w.sequence == 0).map(|w| w.text.as_str()).collect();
        let expected: Vec<String> = text
            .split_whitespace()
            .flat_map(|w| {
                let mut parts = Vec::new();
                let mut cur = String::new();
                for ch in w.chars() {
                    if ch.is_ascii_punctuation() {
                        if !cur.is_empty() {
                            parts.push(std::mem::take(&mut cur));
                        }
                        parts.push(ch.to_string());
                    } else {
                        cur.push(ch);
                    }
                }
                if !cur.is_empty() {
                    parts.push(cur);
                }
                parts
            })
            .collect();
        assert_eq!(words, expected, "{text}");
        let total: f64 = got.words.iter().map(|w| w.score).sum();
        let special: f64 = got.tokens.iter().filter(|t| t.sequence.is_none()).map(|t| t.score).sum();
        let all: f64 = got.tokens.iter().map(|t| t.score).sum();
        assert!((total + special - all).abs() < 1e-9);
    }
    println!(
        "worst: ig {:.2e}, grad × input {:.2e} (relative to the largest attribution), rollout {:.2e} (abs)",
        worst[0], worst[1], worst[2]
    );
}

/// fixtures/<dir> loaded for head `H`, frozen on the CPU's autodiff device.
fn frozen<H: ft_model::Head>(dir: &str) -> H {
    let device = DeviceSpec::Cpu.device().unwrap().autodiff();
    let loaded =
        ft_model::load_pretrained::<H>(&fixtures().join(dir), &ft_model::LoadOptions::default(), &device).unwrap();
    loaded.model.freeze()
}

fn ids_tensor(v: &[f64]) -> ft_model::burn::tensor::Tensor<2, ft_model::burn::tensor::Int> {
    let device = DeviceSpec::Cpu.device().unwrap().autodiff();
    let v: Vec<i64> = v.iter().map(|&x| x as i64).collect();
    let n = v.len();
    ft_model::burn::tensor::Tensor::from_data(ft_model::burn::tensor::TensorData::new(v, [1, n]), &device)
}

/// The entity score of a token classifier and the start / end scores of a QA model (`entity_score`,
/// `span_score`, what `TokenExplainer` / `QaExplainer` explain) through Integrated Gradients, against
/// Captum on fixtures/tiny-token and fixtures/tiny-qa.
#[test]
fn token_and_span_attributions_equal_captum() {
    let bytes = std::fs::read(fixtures().join("explain_golden.safetensors")).unwrap();
    let golden = SafeTensors::deserialize(&bytes).unwrap();
    let check = |name: &str, got: (Vec<f64>, f64), f_base: f64| {
        let want = per_token(&values(&golden, &format!("{name}.ig.gausslegendre.50")), got.0.len());
        let scale = want.iter().fold(0f64, |m, v| m.max(v.abs()));
        let rel = max_abs_diff(&got.0, &want) / scale;
        println!("{name}: max diff / max |attr| {rel:.2e}, F(baseline) {:.2e} off", (got.1 - f_base).abs());
        assert!(rel <= 1e-4, "{name}: {:?} vs {want:?}", got.0);
        assert!((got.1 - f_base).abs() < 1e-5, "{name}: F(baseline)");
    };

    let model = frozen::<ft_model::BertForTokenClassification>("tiny-token");
    let ids = ids_tensor(&values(&golden, "token.input_ids"));
    let base = ids_tensor(&values(&golden, "token.baseline_ids"));
    let types = ids.zeros_like();
    let picks: Vec<(usize, usize)> =
        values(&golden, "token.picks").chunks(2).map(|p| (p[0] as usize, p[1] as usize)).collect();
    let score = ft_infer::entity_score(&picks);
    let got = ft_infer::integrated_gradients(&model, &ids, &types, &base, &score, Rule::GaussLegendre, 50, 16).unwrap();
    check("token", got, values(&golden, "token.f")[1]);

    let model = frozen::<ft_model::BertForQuestionAnswering>("tiny-qa");
    let ids = ids_tensor(&values(&golden, "qa.input_ids"));
    let base = ids_tensor(&values(&golden, "qa.baseline_ids"));
    let types = ids_tensor(&values(&golden, "qa.token_type_ids"));
    for (k, name) in [(0, "qa.start"), (1, "qa.end")] {
        let position = values(&golden, &format!("{name}.position"))[0] as usize;
        let score = ft_infer::span_score(k, position);
        let got =
            ft_infer::integrated_gradients(&model, &ids, &types, &base, &score, Rule::GaussLegendre, 50, 16).unwrap();
        check(name, got, values(&golden, &format!("{name}.f"))[1]);
    }
}

/// Under prompt tuning the attention maps cover the virtual tokens too: the rollout row is read from
/// the first virtual token (what the pooler reads) and only the text's columns are scores.
#[test]
fn rollout_under_prompt_tuning_scores_the_text_columns() {
    use ft_model::Head;
    let model = frozen::<ft_model::BertForSequenceClassification>("tiny");
    let device = DeviceSpec::Cpu.device().unwrap().autodiff();
    let settings = ft_model::PromptSettings { num_virtual_tokens: 3, init: ft_model::PromptInit::Random };
    let model = model.try_map_bert(|bert| ft_model::peft::prompt::attach(bert, &settings, 7, &device)).unwrap();
    let ids = ids_tensor(&[2.0, 50.0, 60.0, 70.0, 3.0]);
    let types = ids.zeros_like();
    let row = ft_infer::explain::rollout_row(model.bert(), &ids, &types, 0).unwrap();
    let maps = model.bert().attentions(ids.clone(), Some(types), None).unwrap();
    let layers: Vec<(Vec<f32>, usize, usize, usize)> = maps
        .into_iter()
        .map(|a| {
            let [_, h, r, c] = a.dims();
            (a.into_data().convert::<f32>().try_to_vec::<f32>().unwrap(), h, r, c)
        })
        .collect();
    assert_eq!(layers[0].2, 3 + 5, "the maps cover the virtual tokens");
    let full = ft_infer::explain::rollout(&layers, 0).unwrap();
    assert_eq!(row.len(), 5);
    assert_eq!(row, full[3..].to_vec());
    assert!(full[..3].iter().sum::<f64>() > 0.0);
}
