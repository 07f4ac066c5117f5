//! Token attributions: why a sequence classifier gave its score ([`Explainer`], `ft explain`).
//!
//! The explained score `F` is what the user reads: the softmax probability of the target class
//! (single-label), its sigmoid (multi-label) or the value (regression); the target is the predicted
//! class unless one is asked for. Three methods:
//!
//! - **Integrated Gradients** (Sundararajan et al., 2017) on the word embeddings, as Captum's
//!   `LayerIntegratedGradients` on `bert.embeddings.word_embeddings`: the baseline is the text with
//!   every token but `[CLS]` / `[SEP]` replaced by `[PAD]` (positions and token types kept — Captum's
//!   BERT tutorial), `attr = (x − x') · Σₖ wₖ ∇F(x' + αₖ(x − x'))` with Captum's Gauss-Legendre
//!   (default) or Riemann-trapezoid nodes and weights, the steps run in batches. Completeness says
//!   `Σ attr = F(x) − F(x')`; the gap is reported.
//! - **Gradient × input** (one backward): `x · ∇F(x)`, Captum's `LayerGradientXActivation`.
//! - **Attention rollout** (Abnar & Zuidema, 2020; forward only): per layer the heads' mean `A`,
//!   `Â = 0.5·A + 0.5·I`, `R = Â_L ⋯ Â_1`; a token's score is `R[0, j]`, what the first position —
//!   the `[CLS]` the pooler reads — draws on it. Scores are non-negative and sum to 1.
//!
//! Token scores are summed over the hidden dimension; [`Explanation::words`] sums them per word on the
//! original text. Checked against Captum 0.9.0 and a NumPy rollout (`fixtures/explain_golden.safetensors`).

use crate::{InferError, Predictor};
use ft_data::{Encoding, LabelKind};
use ft_model::burn::module::Module;
use ft_model::burn::tensor::activation::{sigmoid, softmax};
use ft_model::burn::tensor::{Device, Int, Tensor, TensorData};
use ft_model::{Head, ModelInputs};

/// How Integrated Gradients places its steps between the baseline and the input (Captum's `method`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// Gauss-Legendre nodes and weights on [0, 1] (Captum's default, `gausslegendre`).
    GaussLegendre,
    /// Captum's `riemann_trapezoid`: `steps` (at least 2) evenly spaced points, both ends included,
    /// each weighted 1/steps and the ends half that (Captum's weights; they sum to (steps − 1)/steps).
    RiemannTrapezoid,
}

impl Rule {
    /// The `steps` interpolation points α in [0, 1] and their weights, as Captum's
    /// `approximation_parameters`.
    pub fn nodes(self, steps: usize) -> (Vec<f64>, Vec<f64>) {
        match self {
            Self::GaussLegendre => {
                let (x, w) = gauss_legendre(steps);
                (x.iter().map(|x| 0.5 * (1.0 + x)).collect(), w.iter().map(|w| 0.5 * w).collect())
            }
            // Captum's `riemann_trapezoid` as it is: points 1/(n−1) apart but weights 1/n (the ends
            // halved), so the weights sum to (n−1)/n and the gap shrinks only as 1/n. Kept for parity;
            // Gauss-Legendre is the default.
            Self::RiemannTrapezoid => {
                let n = steps.max(2);
                let alphas = (0..n).map(|i| i as f64 / (n as f64 - 1.0)).collect();
                let weights =
                    (0..n).map(|i| if i == 0 || i == n - 1 { 0.5 / n as f64 } else { 1.0 / n as f64 }).collect();
                (alphas, weights)
            }
        }
    }

    /// The CLI's name.
    pub fn name(self) -> &'static str {
        match self {
            Self::GaussLegendre => "gauss-legendre",
            Self::RiemannTrapezoid => "riemann-trapezoid",
        }
    }
}

/// Nodes (ascending) and weights of the `n`-point Gauss-Legendre rule on [−1, 1], by Newton's method
/// on the Legendre recurrence (what NumPy's `leggauss` gives, to rounding).
pub fn gauss_legendre(n: usize) -> (Vec<f64>, Vec<f64>) {
    let mut nodes = Vec::with_capacity(n);
    let mut weights = Vec::with_capacity(n);
    for i in 0..n {
        let mut x = (std::f64::consts::PI * (i as f64 + 0.75) / (n as f64 + 0.5)).cos();
        let mut derivative = 1.0;
        for _ in 0..100 {
            let (mut p0, mut p1) = (1.0, x);
            for k in 2..=n {
                let k = k as f64;
                (p0, p1) = (p1, ((2.0 * k - 1.0) * x * p1 - (k - 1.0) * p0) / k);
            }
            let (pn, pn1) = if n == 1 { (x, 1.0) } else { (p1, p0) };
            derivative = n as f64 * (x * pn - pn1) / (x * x - 1.0);
            let step = pn / derivative;
            x -= step;
            if step.abs() < 1e-16 {
                break;
            }
        }
        nodes.push(x);
        weights.push(2.0 / ((1.0 - x * x) * derivative * derivative));
    }
    nodes.reverse();
    weights.reverse();
    (nodes, weights)
}

/// Which attribution to compute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// Integrated Gradients with `steps` points by `rule`.
    IntegratedGradients {
        /// Interpolation points (Captum's `n_steps`).
        steps: usize,
        /// Their placement.
        rule: Rule,
    },
    /// Gradient × input.
    GradXInput,
    /// Attention rollout.
    Rollout,
}

impl Method {
    /// The CLI's name (`ig`, `grad-x-input`, `rollout`).
    pub fn name(self) -> &'static str {
        match self {
            Self::IntegratedGradients { .. } => "ig",
            Self::GradXInput => "grad-x-input",
            Self::Rollout => "rollout",
        }
    }
}

/// One token's attribution.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct TokenScore {
    /// The token as the vocabulary writes it (`##s`, `[CLS]`).
    pub token: String,
    /// Its attribution.
    pub score: f64,
    /// Which text it came from: 0 the text, 1 the pair, `None` for `[CLS]` / `[SEP]`.
    pub sequence: Option<u8>,
    /// Character offsets `(start, end)` in its own text.
    pub offsets: (usize, usize),
}

/// One word's attribution: its tokens' sum.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct WordScore {
    /// The word as it stands in the original text.
    pub text: String,
    /// Its attribution.
    pub score: f64,
    /// 0 the text, 1 the pair.
    pub sequence: u8,
    /// Character offsets `(start, end)` in its own text.
    pub offsets: (usize, usize),
}

/// The attribution of one text's score.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Explanation {
    /// `ig`, `grad-x-input` or `rollout`.
    pub method: &'static str,
    /// The explained class (its name; `value` for regression).
    pub target: String,
    /// Its index among the model's outputs.
    pub target_index: usize,
    /// `F(x)`: the target's probability (or the value).
    pub score: f64,
    /// `F(x')` at the baseline (Integrated Gradients only).
    pub baseline_score: Option<f64>,
    /// `|Σ attributions − (F(x) − F(x'))|` (Integrated Gradients only).
    pub completeness_gap: Option<f64>,
    /// Every token, `[CLS]` and `[SEP]` included.
    pub tokens: Vec<TokenScore>,
    /// Every word of the text(s), in order.
    pub words: Vec<WordScore>,
}

impl Explanation {
    /// Whether the completeness gap exceeds 1% of `|F(x) − F(x')|` (then more steps help).
    pub fn gap_too_large(&self) -> bool {
        match (self.completeness_gap, self.baseline_score) {
            (Some(gap), Some(base)) => gap > 0.01 * (self.score - base).abs(),
            _ => false,
        }
    }
}

/// A sequence classifier ready to be explained: the model frozen (no weight gradients, no dropout) on
/// the autodiff flavour of its device, its tokenizer and labels.
pub struct Explainer {
    predictor: Predictor,
}

impl Explainer {
    /// Loads `model` as [`Predictor::load`] does, on the autodiff flavour of `device`.
    pub fn load(model: &str, device: Device, max_len: Option<usize>) -> Result<Self, InferError> {
        let mut predictor = Predictor::load(model, device.autodiff(), max_len)?;
        predictor.model = predictor.model.freeze();
        Ok(Self { predictor })
    }

    /// The predictor underneath (labels, tokenizer, model directory).
    pub fn predictor(&self) -> &Predictor {
        &self.predictor
    }

    /// Explains `text` (with `pair`) for `target` (a class name; the predicted class when `None`)
    /// by `method`, running at most `batch_size` interpolation steps at once.
    pub fn explain(
        &self,
        text: &str,
        pair: Option<&str>,
        target: Option<&str>,
        method: Method,
        batch_size: usize,
    ) -> Result<Explanation, InferError> {
        let p = &self.predictor;
        let encoding = p.tokenizer.encode(text, pair, p.max_len).map_err(|e| InferError::Data(Box::new(e)))?;
        let device = &p.device;
        let t = encoding.len();
        let ids = |ids: Vec<i64>| Tensor::<2, Int>::from_data(TensorData::new(ids, [1, t]), device);
        let input_ids = ids(encoding.ids.iter().map(|&i| i as i64).collect());
        let types = ids(encoding.type_ids.iter().map(|&i| i as i64).collect());
        let logits = host(p.model.logits(ModelInputs::new(input_ids, types, Tensor::ones([1, t], device)))?)?;
        if let Some(bad) = logits.iter().find(|x| !x.is_finite()) {
            return Err(InferError::NonFinite { value: *bad, text: text.to_string() });
        }
        let (target_index, target_name) = self.target(&logits, target)?;
        let objective = Objective { kind: p.space.kind, target: target_index };
        let f_x = objective.host(&logits);

        let scores = attribute(
            &p.model,
            &encoding,
            p.tokenizer.pad_id(),
            &|logits| objective.tensor(logits),
            0,
            method,
            batch_size,
            device,
        )?;
        Ok(explanation(&p.tokenizer, &encoding, (text, pair), method, (target_name, target_index), f_x, scores))
    }

    /// Integrated Gradients of class `target`'s score for an already encoded example (`ids`, `type_ids`,
    /// as a split's examples hold them): each token's text (`##` pieces as the vocabulary writes them)
    /// and attribution, and `F(x)`. The baseline keeps the tokenizer's `[CLS]` / `[SEP]` ids (and any
    /// other special token of the vocabulary) and puts `[PAD]` elsewhere, as for text.
    pub fn explain_ids(
        &self,
        ids: &[u32],
        type_ids: &[u8],
        target: usize,
        steps: usize,
        batch_size: usize,
    ) -> Result<(Vec<(String, f64)>, f64), InferError> {
        let p = &self.predictor;
        let t = ids.len();
        let device = &p.device;
        let tensor = |v: Vec<i64>| Tensor::<2, Int>::from_data(TensorData::new(v, [1, t]), device);
        let input_ids = tensor(ids.iter().map(|&i| i as i64).collect());
        let types = tensor(type_ids.iter().map(|&i| i as i64).collect());
        let special: Vec<u32> =
            ["[CLS]", "[SEP]", "<s>", "</s>"].iter().filter_map(|s| p.tokenizer.token_to_id(s)).collect();
        let pad = p.tokenizer.pad_id();
        let base = tensor(ids.iter().map(|&i| if special.contains(&i) { i as i64 } else { pad as i64 }).collect());
        let objective = Objective { kind: p.space.kind, target };
        let logits =
            host(p.model.logits(ModelInputs::new(input_ids.clone(), types.clone(), Tensor::ones([1, t], device)))?)?;
        let (scores, _) = integrated_gradients(
            &p.model,
            &input_ids,
            &types,
            &base,
            &|logits| objective.tensor(logits),
            Rule::GaussLegendre,
            steps,
            batch_size,
        )?;
        let tokens = ids
            .iter()
            .zip(scores)
            .map(|(&id, s)| (p.tokenizer.id_to_token(id).unwrap_or_else(|| format!("[{id}]")), s))
            .collect();
        Ok((tokens, objective.host(&logits)))
    }

    /// The target's index and name: the asked class, else the predicted one.
    fn target(&self, logits: &[f32], asked: Option<&str>) -> Result<(usize, String), InferError> {
        let space = &self.predictor.space;
        if space.kind == LabelKind::Regression {
            if let Some(a) = asked {
                return Err(InferError::Config(format!(
                    "--target {a}: a regression model has one output (its value); leave --target out"
                )));
            }
            return Ok((0, "value".into()));
        }
        match asked {
            Some(a) => space.names.iter().position(|n| n == a).map(|i| (i, a.to_string())).ok_or_else(|| {
                InferError::Config(format!(
                    "--target {a}: not a label of this model; its labels: {}",
                    space.names.join(", ")
                ))
            }),
            None => {
                let best = (0..logits.len()).fold(0, |b, k| if logits[k] > logits[b] { k } else { b });
                Ok((best, space.names.get(best).cloned().unwrap_or_else(|| best.to_string())))
            }
        }
    }
}

/// A token-classification model ready to be explained: each predicted entity's score — the mean,
/// over the entity's words, of the probability of the word's label at its first sub-token (with
/// `first` aggregation, the score `ft predict` prints for the entity) — is attributed to the tokens.
pub struct TokenExplainer {
    predictor: crate::TokenPredictor,
}

impl TokenExplainer {
    /// Loads `model` as [`crate::TokenPredictor::load`] does, frozen on the autodiff flavour of
    /// `device`.
    pub fn load(model: &str, device: Device, max_len: Option<usize>) -> Result<Self, InferError> {
        let mut predictor = crate::TokenPredictor::load(model, device.autodiff(), max_len)?;
        predictor.model = predictor.model.freeze();
        Ok(Self { predictor })
    }

    /// The predictor underneath.
    pub fn predictor(&self) -> &crate::TokenPredictor {
        &self.predictor
    }

    /// One explanation per entity predicted in `text` (types in `ignore` left out), in order; the
    /// target names the entity (`LOC "Paris"`) and `target_index` is its first token.
    pub fn explain(
        &self,
        text: &str,
        ignore: &[String],
        method: Method,
        batch_size: usize,
    ) -> Result<Vec<Explanation>, InferError> {
        let p = &self.predictor;
        let entities = p.entities(&[text], ft_eval::Aggregation::First, ignore)?.pop().unwrap_or_default();
        let encoding = p.tokenizer.encode(text, None, p.max_len).map_err(|e| InferError::Data(Box::new(e)))?;
        let device = &p.device;
        let t = encoding.len();
        let ids = |v: Vec<i64>| Tensor::<2, Int>::from_data(TensorData::new(v, [1, t]), device);
        let input_ids = ids(encoding.ids.iter().map(|&i| i as i64).collect());
        let types = ids(encoding.type_ids.iter().map(|&i| i as i64).collect());
        let logits = p.model.logits(ModelInputs::new(input_ids, types, Tensor::ones([1, t], device)))?;
        let c = p.labels.len();
        let probs = host(softmax(logits, 2))?; // [1, T, C]
        let mut out = Vec::with_capacity(entities.len());
        for entity in &entities {
            // The first sub-token of every word inside the entity, with the label it was given there.
            let mut picks: Vec<(usize, usize)> = Vec::new();
            let mut last_word = None;
            for j in 0..t {
                let (Some(0), Some(word)) = (encoding.sequence_ids[j], encoding.word_ids[j]) else { continue };
                let (start, end) = encoding.offsets[j];
                if last_word == Some(word) || start < entity.start || end > entity.end {
                    last_word = Some(word);
                    continue;
                }
                last_word = Some(word);
                let row = &probs[j * c..(j + 1) * c];
                let label = (0..c).fold(0, |b, k| if row[k] > row[b] { k } else { b });
                picks.push((j, label));
            }
            if picks.is_empty() {
                continue;
            }
            let f_x = picks.iter().map(|&(j, k)| probs[j * c + k] as f64).sum::<f64>() / picks.len() as f64;
            let score = entity_score(&picks);
            let scores =
                attribute(&p.model, &encoding, p.tokenizer.pad_id(), &score, picks[0].0, method, batch_size, device)?;
            let target = (format!("{} \"{}\"", entity.entity_type, entity.text), picks[0].0);
            out.push(explanation(&p.tokenizer, &encoding, (text, None), method, target, f_x, scores));
        }
        Ok(out)
    }
}

/// An extractive question-answering model ready to be explained: the best answer's start and its end
/// are explained apart — the softmax over the window's tokens of the start (end) logits at the
/// answer's start (end) token — in the window the answer came from.
pub struct QaExplainer {
    predictor: crate::QaPredictor,
}

impl QaExplainer {
    /// Loads `model` as [`crate::QaPredictor::load`] does, frozen on the autodiff flavour of `device`.
    pub fn load(model: &str, device: Device, max_len: Option<usize>) -> Result<Self, InferError> {
        let mut predictor = crate::QaPredictor::load(model, device.autodiff(), max_len)?;
        predictor.model = predictor.model.freeze();
        Ok(Self { predictor })
    }

    /// The predictor underneath.
    pub fn predictor(&self) -> &crate::QaPredictor {
        &self.predictor
    }

    /// The predictor underneath (its `stride` may be set).
    pub fn predictor_mut(&mut self) -> &mut crate::QaPredictor {
        &mut self.predictor
    }

    /// The best answer to `question` in `context` (at most `max_answer_length` tokens), and the two
    /// explanations of its start and its end; words of the question are sequence 0, of the context 1.
    pub fn explain(
        &self,
        question: &str,
        context: &str,
        max_answer_length: usize,
        method: Method,
        batch_size: usize,
    ) -> Result<(ft_eval::Answer, Vec<Explanation>), InferError> {
        let p = &self.predictor;
        let answers = p.answer(question, context, crate::qa::DEFAULT_N_BEST, max_answer_length)?;
        let Some(answer) = answers.into_iter().next() else {
            return Err(InferError::Task("no answer to explain".into()));
        };
        let Some((window, start, end)) = answer.source else {
            return Err(InferError::Task(format!(
                "the model found no answer span in the context (utils_qa's \"{}\"); nothing to explain",
                answer.text
            )));
        };
        let question = question.trim_start();
        let windows = p.tokenizer.encode_windows(question, context, p.max_len, p.stride)?;
        let encoding = &windows[window];
        let device = &p.device;
        let t = encoding.len();
        let ids = |v: Vec<i64>| Tensor::<2, Int>::from_data(TensorData::new(v, [1, t]), device);
        let input_ids = ids(encoding.ids.iter().map(|&i| i as i64).collect());
        let types = ids(encoding.type_ids.iter().map(|&i| i as i64).collect());
        let logits = p.model.logits(ModelInputs::new(input_ids, types, Tensor::ones([1, t], device)))?; // [1, T, 2]
        let mut out = Vec::with_capacity(2);
        for (which, k, position) in [("start", 0usize, start), ("end", 1, end)] {
            let f_x = host(softmax(logits.clone().slice([0..1, 0..t, k..k + 1]).reshape([1, t]), 1))?[position] as f64;
            let score = span_score(k, position);
            let scores =
                attribute(&p.model, encoding, p.tokenizer.pad_id(), &score, position, method, batch_size, device)?;
            let target = (format!("{which} of \"{}\"", answer.text), position);
            out.push(explanation(&p.tokenizer, encoding, (question, Some(context)), method, target, f_x, scores));
        }
        Ok((answer, out))
    }
}

/// A token classifier's entity score from its logits `[N, T, C]`: the mean over `picks` (token,
/// label) of the softmax probability of the label at the token → `[N]`.
pub fn entity_score(picks: &[(usize, usize)]) -> impl Fn(Tensor<3>) -> Tensor<1> + '_ {
    move |logits: Tensor<3>| {
        let [n, _, _] = logits.dims();
        let device = logits.device();
        let probs = softmax(logits, 2);
        let mut sum: Option<Tensor<1>> = None;
        for &(j, k) in picks {
            let v = probs.clone().slice([0..n, j..j + 1, k..k + 1]).reshape([n]);
            sum = Some(match sum {
                None => v,
                Some(s) => s + v,
            });
        }
        // No pick, no score (callers explain entities of at least one word).
        sum.map(|s| s.div_scalar(picks.len() as f64)).unwrap_or_else(|| Tensor::zeros([n], &device))
    }
}

/// A QA model's start (`k` 0) or end (`k` 1) score from its logits `[N, T, 2]`: the softmax over the
/// tokens of that logit, at `position` → `[N]`.
pub fn span_score(k: usize, position: usize) -> impl Fn(Tensor<3>) -> Tensor<1> {
    move |logits: Tensor<3>| {
        let [n, t, _] = logits.dims();
        softmax(logits.slice([0..n, 0..t, k..k + 1]).reshape([n, t]), 1)
            .slice([0..n, position..position + 1])
            .reshape([n])
    }
}

/// Integrated Gradients of `score` (the explained output `[N]` of the head's logits) for one example (`input_ids`, `token_type_ids` `[1, T]`) against
/// `baseline_ids` `[1, T]` on `model` (frozen, on an autodiff device), `steps` points by `rule` run
/// `batch_size` at a time: the attribution of each token (summed over the hidden dimension) and
/// `F(baseline)`.
#[allow(clippy::too_many_arguments)]
pub fn integrated_gradients<H: Head>(
    model: &H,
    input_ids: &Tensor<2, Int>,
    token_type_ids: &Tensor<2, Int>,
    baseline_ids: &Tensor<2, Int>,
    score: &dyn Fn(H::Logits) -> Tensor<1>,
    rule: Rule,
    steps: usize,
    batch_size: usize,
) -> Result<(Vec<f64>, f64), InferError> {
    if steps == 0 {
        return Err(InferError::Config("--steps 0: Integrated Gradients needs at least one step".into()));
    }
    let [_, t] = input_ids.dims();
    let device = input_ids.device();
    let mask = Tensor::<2, Int>::ones([1, t], &device);
    let words = model.bert().embeddings.words(input_ids.clone()).detach(); // [1, T, H]
    let base = model.bert().embeddings.words(baseline_ids.clone()).detach();
    // F at the path's start: the baseline's word embeddings under the text's ids. For BERT that is the
    // baseline's own forward; RoBERTa numbers positions from the ids (padding apart), and the path never
    // changes them, so the baseline forward would not be the path's end.
    let start = ModelInputs {
        input_ids: input_ids.clone(),
        token_type_ids: token_type_ids.clone(),
        attention_mask: mask.clone(),
        inputs_embeds: Some(base.clone()),
    };
    let base_score = host(score(model.logits(start)?))?[0] as f64;
    let diff = words - base.clone(); // [1, T, H]
    let (alphas, weights) = rule.nodes(steps);
    let h = diff.dims()[2];
    let mut total = vec![0f64; t * h];
    let batch_size = batch_size.max(1);
    for (alphas, weights) in alphas.chunks(batch_size).zip(weights.chunks(batch_size)) {
        let n = alphas.len();
        let column = |v: &[f64], device: &Device| {
            let v: Vec<f32> = v.iter().map(|&x| x as f32).collect();
            Tensor::<1>::from_data(TensorData::new(v, [n]), device).reshape([n, 1, 1])
        };
        let scaled =
            (base.clone().repeat_dim(0, n) + diff.clone().repeat_dim(0, n) * column(alphas, &device)).require_grad();
        let inputs = ModelInputs {
            input_ids: input_ids.clone().repeat_dim(0, n),
            token_type_ids: token_type_ids.clone().repeat_dim(0, n),
            attention_mask: mask.clone().repeat_dim(0, n),
            inputs_embeds: Some(scaled.clone()),
        };
        let f = score(model.logits(inputs)?);
        let grads = f.sum().backward();
        let g = scaled.grad(&grads).ok_or_else(|| {
            InferError::Tensor("no gradient reached the word embeddings (is the model frozen?)".into())
        })?; // [n, T, H]
        let weighted = (g.clone() * column(weights, &g.device())).sum_dim(0); // [1, T, H]
        for (acc, v) in total.iter_mut().zip(host(weighted)?) {
            *acc += v as f64;
        }
    }
    let diff = host(diff)?;
    let scores = per_token(&total.iter().zip(&diff).map(|(g, d)| g * *d as f64).collect::<Vec<_>>(), t);
    Ok((scores, base_score))
}

/// Gradient × input of `score` for one example `[1, T]`: `x · ∇score(x)` on the word embeddings,
/// summed per token.
pub fn grad_x_input<H: Head>(
    model: &H,
    input_ids: &Tensor<2, Int>,
    token_type_ids: &Tensor<2, Int>,
    score: &dyn Fn(H::Logits) -> Tensor<1>,
) -> Result<Vec<f64>, InferError> {
    let [_, t] = input_ids.dims();
    let mask = Tensor::<2, Int>::ones([1, t], &input_ids.device());
    let x = model.bert().embeddings.words(input_ids.clone()).detach().require_grad(); // [1, T, H]
    let inputs = ModelInputs {
        input_ids: input_ids.clone(),
        token_type_ids: token_type_ids.clone(),
        attention_mask: mask,
        inputs_embeds: Some(x.clone()),
    };
    let grads = score(model.logits(inputs)?).sum().backward();
    let g = x
        .grad(&grads)
        .ok_or_else(|| InferError::Tensor("no gradient reached the word embeddings (is the model frozen?)".into()))?;
    let (g, x) = (host(g)?, host(x.detach())?);
    Ok(per_token(&g.iter().zip(&x).map(|(g, x)| *g as f64 * *x as f64).collect::<Vec<_>>(), t))
}

/// Row `row` of the attention rollout of one example `[1, T]` (see [`rollout`]), one score per token.
/// Under prompt tuning the maps also cover the `P` virtual tokens first: `row` counts them (row 0 is
/// the first virtual token, which the pooler reads) and only the text's `T` columns are returned.
pub fn rollout_row(
    bert: &ft_model::BertModel,
    input_ids: &Tensor<2, Int>,
    token_type_ids: &Tensor<2, Int>,
    row: usize,
) -> Result<Vec<f64>, InferError> {
    let attentions = bert.attentions(input_ids.clone(), Some(token_type_ids.clone()), None)?;
    let mut layers = Vec::with_capacity(attentions.len());
    for a in attentions {
        let [_, heads, rows, cols] = a.dims();
        layers.push((host(a)?, heads, rows, cols));
    }
    let virtual_tokens = bert.embeddings.num_virtual_tokens();
    Ok(rollout(&layers, row)?.split_off(virtual_tokens))
}

/// One example explained by `method` for `score`: each token's attribution and, for Integrated
/// Gradients, `F(baseline)`. `rollout_from` is the position whose rollout row is read.
#[allow(clippy::too_many_arguments)]
fn attribute<H: Head>(
    model: &H,
    encoding: &Encoding,
    pad_id: u32,
    score: &dyn Fn(H::Logits) -> Tensor<1>,
    rollout_from: usize,
    method: Method,
    batch_size: usize,
    device: &Device,
) -> Result<(Vec<f64>, Option<f64>), InferError> {
    let t = encoding.len();
    let ids = |v: Vec<i64>| Tensor::<2, Int>::from_data(TensorData::new(v, [1, t]), device);
    let input_ids = ids(encoding.ids.iter().map(|&i| i as i64).collect());
    let types = ids(encoding.type_ids.iter().map(|&i| i as i64).collect());
    Ok(match method {
        Method::IntegratedGradients { steps, rule } => {
            let baseline_ids = ids(baseline(encoding, pad_id));
            let (scores, base) =
                integrated_gradients(model, &input_ids, &types, &baseline_ids, score, rule, steps, batch_size)?;
            (scores, Some(base))
        }
        Method::GradXInput => (grad_x_input(model, &input_ids, &types, score)?, None),
        Method::Rollout => (rollout_row(model.bert(), &input_ids, &types, rollout_from)?, None),
    })
}

/// The explanation of one score: tokens and words with their attributions, and the completeness gap.
#[allow(clippy::too_many_arguments)]
fn explanation(
    tokenizer: &ft_data::Tokenizer,
    encoding: &Encoding,
    (text, pair): (&str, Option<&str>),
    method: Method,
    (target, target_index): (String, usize),
    score: f64,
    (token_scores, baseline_score): (Vec<f64>, Option<f64>),
) -> Explanation {
    let tokens: Vec<TokenScore> = (0..encoding.len())
        .map(|i| TokenScore {
            token: tokenizer.id_to_token(encoding.ids[i]).unwrap_or_else(|| format!("[{}]", encoding.ids[i])),
            score: token_scores[i],
            sequence: encoding.sequence_ids[i],
            offsets: encoding.offsets[i],
        })
        .collect();
    let words = word_scores(encoding, &token_scores, text, pair);
    let completeness_gap = baseline_score.map(|b| (token_scores.iter().sum::<f64>() - (score - b)).abs());
    Explanation { method: method.name(), target, target_index, score, baseline_score, completeness_gap, tokens, words }
}

/// The explained score of the target: the softmax probability of class `target` (single-label), its
/// sigmoid (multi-label) or output `target` itself (regression).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Objective {
    /// How the outputs read (a sequence classifier's kinds).
    pub kind: LabelKind,
    /// The output explained.
    pub target: usize,
}

impl Objective {
    /// `F` of each row of `logits` `[N, C]` → `[N]`, on the device.
    pub fn tensor(&self, logits: Tensor<2>) -> Tensor<1> {
        let [n, _] = logits.dims();
        let k = self.target;
        match self.kind {
            LabelKind::MultiLabel => sigmoid(logits.slice([0..n, k..k + 1])).reshape([n]),
            LabelKind::Regression => logits.slice([0..n, k..k + 1]).reshape([n]),
            // A sequence classifier's other kind: single-label.
            _ => softmax(logits, 1).slice([0..n, k..k + 1]).reshape([n]),
        }
    }

    /// `F` of one row of logits on the host.
    pub fn host(&self, logits: &[f32]) -> f64 {
        let k = self.target;
        match self.kind {
            LabelKind::MultiLabel => crate::sigmoid(logits[k]),
            LabelKind::Regression => logits[k] as f64,
            _ => crate::softmax_rows(logits, logits.len())[k],
        }
    }
}

/// Captum's BERT-tutorial baseline: the tokens of the text(s) replaced by `[PAD]`, the template's
/// `[CLS]` / `[SEP]` kept.
pub fn baseline(encoding: &Encoding, pad_id: u32) -> Vec<i64> {
    encoding
        .ids
        .iter()
        .zip(&encoding.special_tokens_mask)
        .map(|(&id, &special)| if special == 1 { id as i64 } else { pad_id as i64 })
        .collect()
}

/// `[T·H]` values summed per token.
fn per_token(values: &[f64], t: usize) -> Vec<f64> {
    let h = values.len() / t.max(1);
    values.chunks(h.max(1)).map(|c| c.iter().sum()).collect()
}

/// Attention rollout from every layer's probabilities `[1, heads, T, T]` (host, row-major): row `row`
/// of `Â_L ⋯ Â_1`, `Â = 0.5·mean_heads(A) + 0.5·I`, in f64.
pub fn rollout(layers: &[(Vec<f32>, usize, usize, usize)], row: usize) -> Result<Vec<f64>, InferError> {
    let mut product: Option<Vec<f64>> = None;
    let mut size = 0;
    for (values, heads, rows, cols) in layers {
        let (heads, t) = (*heads, *rows);
        if rows != cols || values.len() != heads * t * t {
            return Err(InferError::Tensor(format!(
                "attention probabilities of shape [1, {heads}, {rows}, {cols}]: rollout needs square maps (no prefix tuning)"
            )));
        }
        size = t;
        let mut a = vec![0f64; t * t];
        for hd in 0..heads {
            for (i, v) in values[hd * t * t..(hd + 1) * t * t].iter().enumerate() {
                a[i] += *v as f64 / heads as f64;
            }
        }
        for (i, v) in a.iter_mut().enumerate() {
            *v = 0.5 * *v + if i / t == i % t { 0.5 } else { 0.0 };
        }
        product = Some(match product {
            None => a,
            Some(r) => {
                let mut out = vec![0f64; t * t];
                for i in 0..t {
                    for k in 0..t {
                        let aik = a[i * t + k];
                        for j in 0..t {
                            out[i * t + j] += aik * r[k * t + j];
                        }
                    }
                }
                out
            }
        });
    }
    if row >= size.max(1) {
        return Err(InferError::Tensor(format!("rollout row {row} of a {size}-token example")));
    }
    Ok(product.map(|r| r[row * size..(row + 1) * size].to_vec()).unwrap_or_default())
}

/// Token scores summed per word (`word_ids` within each sequence), each word cut from its text by the
/// characters its tokens cover.
fn word_scores(encoding: &Encoding, scores: &[f64], text: &str, pair: Option<&str>) -> Vec<WordScore> {
    let mut words: Vec<WordScore> = Vec::new();
    let mut last: Option<(u8, u32)> = None;
    for (i, &score) in scores.iter().enumerate().take(encoding.len()) {
        let (Some(seq), Some(word)) = (encoding.sequence_ids[i], encoding.word_ids[i]) else { continue };
        let (start, end) = encoding.offsets[i];
        match words.last_mut() {
            Some(w) if last == Some((seq, word)) => {
                w.score += score;
                w.offsets.1 = w.offsets.1.max(end);
            }
            _ => words.push(WordScore { text: String::new(), score, sequence: seq, offsets: (start, end) }),
        }
        last = Some((seq, word));
    }
    for w in &mut words {
        let source = if w.sequence == 0 { text } else { pair.unwrap_or_default() };
        w.text = source.chars().skip(w.offsets.0).take(w.offsets.1.saturating_sub(w.offsets.0)).collect();
    }
    words
}

/// A tensor's values on the host as f32.
fn host<const D: usize>(t: Tensor<D>) -> Result<Vec<f32>, InferError> {
    t.into_data()
        .convert::<f32>()
        .try_to_vec::<f32>()
        .map_err(|e| InferError::Tensor(format!("reading a tensor: {e:?}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// NumPy's `leggauss` for 3 and 5 points, and the weights summing to 2 for 50.
    #[test]
    fn gauss_legendre_matches_numpy() {
        let (x, w) = gauss_legendre(3);
        let r = (0.6f64).sqrt();
        for (a, b) in x.iter().zip([-r, 0.0, r]) {
            assert!((a - b).abs() < 1e-15, "{x:?}");
        }
        for (a, b) in w.iter().zip([5.0 / 9.0, 8.0 / 9.0, 5.0 / 9.0]) {
            assert!((a - b).abs() < 1e-15, "{w:?}");
        }
        let (x, _) = gauss_legendre(5);
        assert!((x[0] + 0.906_179_845_938_664).abs() < 1e-14 && (x[1] + 0.538_469_310_105_683).abs() < 1e-14);
        let (_, w) = gauss_legendre(50);
        assert!((w.iter().sum::<f64>() - 2.0).abs() < 1e-13);
        let (a, w) = Rule::RiemannTrapezoid.nodes(5);
        assert_eq!(a, [0.0, 0.25, 0.5, 0.75, 1.0]);
        assert_eq!(w, [0.1, 0.2, 0.2, 0.2, 0.1]);
    }

    /// Two layers of one head on two tokens, by hand.
    #[test]
    fn rollout_by_hand() {
        let a1 = vec![1.0f32, 0.0, 0.5, 0.5];
        let a2 = vec![0.0f32, 1.0, 0.0, 1.0];
        // Â1 = [[1, 0], [.25, .75]], Â2 = [[.5, .5], [0, 1]]; Â2·Â1 first row = [.625, .375].
        let r = rollout(&[(a1, 1, 2, 2), (a2, 1, 2, 2)], 0).unwrap();
        assert!((r[0] - 0.625).abs() < 1e-12 && (r[1] - 0.375).abs() < 1e-12, "{r:?}");
    }
}
