//! `report.html`: one self-contained page per run or evaluation — loss and learning-rate curves,
//! validation metrics over steps, the confusion matrix as a heat map, per-class scores (token models:
//! per-type entity scores and the entity confusion) and the run's configuration. `ft train` writes it next to `metrics.json`; `ft eval --report PATH` writes one too.
//!
//! The page has no script and loads nothing: the charts are inline SVG drawn by plotters ([`plots`]),
//! the style sheet is inline. What it shows comes from the run directory (`log.jsonl`, `run.toml`,
//! `metrics.json`, see [`Report::read_run`]) plus the class-level results the caller computed.

pub(crate) mod html;
pub mod plots;

use anyhow::Context;
use ft_data::{LabelKind, LabelSpace};
use ft_eval::{ClassificationReport, EntityConfusion, TaggingReport};
use ft_infer::{Outputs, SplitOutputs, TokenOutputs};
use ft_train::RunSummary;
use ft_train::run_config::RunConfig;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Metric name → value.
pub type Metrics = BTreeMap<String, f64>;

/// One optimizer step of the training log.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainPoint {
    /// Optimizer steps done.
    pub step: f64,
    /// Training loss of the step.
    pub loss: f64,
    /// Learning rate used.
    pub lr: f64,
}

/// One evaluation of the training log.
#[derive(Debug, Clone, PartialEq)]
pub struct EvalPoint {
    /// Optimizer steps done.
    pub step: f64,
    /// `validation` (or `test`).
    pub split: String,
    /// The metrics.
    pub metrics: Metrics,
}

/// Class-level results of one split: what the heat map, the bars and the per-class table show.
#[derive(Debug, Clone)]
pub struct ClassResults {
    /// Which data (`test`, `validation`, a file name).
    pub split: String,
    /// Class names in id order.
    pub labels: Vec<String>,
    /// The scores, from ft-eval.
    pub report: ClassificationReport,
}

/// Entity-level results of a token model on one split: per-type scores and the entity confusion.
#[derive(Debug, Clone)]
pub struct EntityResults {
    /// Which data (`test`, `validation`, a file name).
    pub split: String,
    /// seqeval's scores, from ft-eval.
    pub report: TaggingReport,
    /// Which type each true entity was given.
    pub confusion: EntityConfusion,
}

/// Everything on the page.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// Page title.
    pub title: String,
    /// Facts shown under the title: `(what, value)`, e.g. `("model", "runs/demo")`.
    pub facts: Vec<(String, String)>,
    /// The training log's steps (empty when there is none).
    pub train: Vec<TrainPoint>,
    /// The training log's evaluations.
    pub evals: Vec<EvalPoint>,
    /// Final metrics per split, in display order.
    pub results: Vec<(String, Metrics)>,
    /// Class-level results, for single-label classification.
    pub classes: Option<ClassResults>,
    /// Entity-level results, for token classification.
    pub entities: Option<EntityResults>,
    /// A few validation examples explained (Integrated Gradients), right and wrong ones.
    pub explanations: Vec<ExplainedExample>,
    /// The run's configuration (`run.toml`), verbatim.
    pub config: Option<String>,
}

/// One validation example with the words that drove the model's prediction.
#[derive(Debug, Clone, PartialEq)]
pub struct ExplainedExample {
    /// The true class.
    pub gold: String,
    /// The predicted class.
    pub predicted: String,
    /// Its probability.
    pub probability: f64,
    /// The example's words (sub-tokens joined, special tokens left out) and their attributions to the
    /// predicted class.
    pub words: Vec<(String, f64)>,
}

/// How many validation examples `report.html` explains, and Integrated Gradients' steps for them.
pub const EXPLAINED_EXAMPLES: usize = 4;
const EXPLAIN_STEPS: usize = 50;

/// Up to [`EXPLAINED_EXAMPLES`] validation examples of a single-label run — the most confident right
/// and the most confident wrong predictions, half each when there are enough — explained on the saved
/// model in `dir` by Integrated Gradients (on the CPU).
pub fn explain_examples(dir: &Path, summary: &RunSummary) -> anyhow::Result<Vec<ExplainedExample>> {
    let (examples, Outputs::Rows(rows)) = &summary.validation_split else { return Ok(Vec::new()) };
    if summary.labels.kind != LabelKind::SingleLabel || rows.num_labels == 0 || examples.is_empty() {
        return Ok(Vec::new());
    }
    let c = rows.num_labels;
    let gold = ft_infer::gold_classes(&rows.labels);
    let probs = ft_infer::softmax_rows(&rows.logits, c);
    let pred = ft_infer::argmax_rows(&rows.logits, c);
    let confidence = |i: usize| probs[i * c + pred[i]];
    let mut right: Vec<usize> = (0..pred.len()).filter(|&i| pred[i] == gold[i]).collect();
    let mut wrong: Vec<usize> = (0..pred.len()).filter(|&i| pred[i] != gold[i]).collect();
    right.sort_by(|&a, &b| confidence(b).total_cmp(&confidence(a)));
    wrong.sort_by(|&a, &b| confidence(b).total_cmp(&confidence(a)));
    let half = EXPLAINED_EXAMPLES / 2;
    let take_wrong = wrong.len().min(EXPLAINED_EXAMPLES - right.len().min(half));
    let take_right = right.len().min(EXPLAINED_EXAMPLES - take_wrong);
    let chosen: Vec<usize> = right.iter().take(take_right).chain(wrong.iter().take(take_wrong)).copied().collect();
    let device = ft_model::DeviceSpec::Cpu.device()?;
    let explainer = ft_infer::Explainer::load(&dir.display().to_string(), device, None)?;
    let names = &summary.labels.names;
    let name = |k: usize| names.get(k).cloned().unwrap_or_else(|| k.to_string());
    let mut out = Vec::new();
    for i in chosen {
        let (tokens, probability) =
            explainer.explain_ids(&examples.ids(i), examples.type_ids(i), pred[i], EXPLAIN_STEPS, 16)?;
        out.push(ExplainedExample {
            gold: name(gold[i]),
            predicted: name(pred[i]),
            probability,
            words: join_pieces(&tokens),
        });
    }
    Ok(out)
}

/// Word pieces joined into words (`##`-continued pieces appended, scores summed); `[CLS]`, `[SEP]`,
/// `[PAD]` left out.
fn join_pieces(tokens: &[(String, f64)]) -> Vec<(String, f64)> {
    let mut words: Vec<(String, f64)> = Vec::new();
    for (token, score) in tokens {
        if matches!(token.as_str(), "[CLS]" | "[SEP]" | "[PAD]" | "<s>" | "</s>" | "<pad>") {
            continue;
        }
        match (token.strip_prefix("##"), words.last_mut()) {
            (Some(rest), Some(last)) => {
                last.0.push_str(rest);
                last.1 += score;
            }
            _ => words.push((token.clone(), *score)),
        }
    }
    words
}

impl Report {
    /// Reads what a run directory holds: `log.jsonl` (steps and evaluations; the `final` lines
    /// become `results`), `run.toml` and, when it has no `final` lines, `metrics.json`. Missing files
    /// leave their parts empty; a damaged `log.jsonl` line is skipped.
    pub fn read_run(dir: &Path) -> anyhow::Result<Self> {
        let mut report = Report::default();
        let log = dir.join("log.jsonl");
        if log.is_file() {
            let text = std::fs::read_to_string(&log).with_context(|| format!("reading {}", log.display()))?;
            report.add_log(&text);
        }
        let toml = dir.join("run.toml");
        if toml.is_file() {
            report.config =
                Some(std::fs::read_to_string(&toml).with_context(|| format!("reading {}", toml.display()))?);
        }
        if let Some(config) = report.config.as_deref().and_then(|t| toml::from_str::<RunConfig>(t).ok()) {
            let d = &config.data;
            let data = match (&d.dataset, &d.train) {
                (Some(name), _) => format!("dataset {name}"),
                (None, Some(train)) => train.display().to_string(),
                (None, None) => "?".into(),
            };
            report.facts.push(("trained on".into(), data));
            let t = &config.training;
            report
                .facts
                .push(("recipe".into(), format!("--freeze {} · lr {:e} · batch {}", t.freeze, t.lr, t.batch_size)));
        }
        let metrics = dir.join("metrics.json");
        if metrics.is_file() {
            let text = std::fs::read_to_string(&metrics).with_context(|| format!("reading {}", metrics.display()))?;
            if let Ok(value) = serde_json::from_str::<serde_json::Value>(&text) {
                if report.results.is_empty() {
                    for split in ["validation", "test"] {
                        if let Some(m) = as_metrics(&value[split]) {
                            report.results.push((split.to_string(), m));
                        }
                    }
                }
                if let (Some(steps), Some(secs)) = (value["steps"].as_u64(), value["train_seconds"].as_f64()) {
                    report.facts.push(("steps".into(), format!("{steps} in {secs:.0} s")));
                }
                if let Some(device) = value["device"].as_str() {
                    report.facts.push(("device".into(), device.to_string()));
                }
            }
        }
        Ok(report)
    }

    /// Adds the lines of a `log.jsonl`. A resumed run appends steps it had already logged before it
    /// was killed; the later lines win (points at or after a repeated step are dropped).
    pub fn add_log(&mut self, text: &str) {
        for line in text.lines() {
            let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else { continue };
            let step = v["step"].as_f64().unwrap_or(0.0);
            match v["kind"].as_str() {
                Some("train") => {
                    while self.train.last().is_some_and(|p| p.step >= step) {
                        self.train.pop();
                    }
                    let (Some(loss), Some(lr)) = (v["loss"].as_f64(), v["lr"].as_f64()) else { continue };
                    self.train.push(TrainPoint { step, loss, lr });
                }
                Some("eval") => {
                    let split = v["split"].as_str().unwrap_or("validation").to_string();
                    while self.evals.last().is_some_and(|p| p.step >= step && p.split == split) {
                        self.evals.pop();
                    }
                    if let Some(metrics) = as_metrics(&v["metrics"]) {
                        self.evals.push(EvalPoint { step, split, metrics });
                    }
                }
                Some("final") => {
                    let split = v["split"].as_str().unwrap_or("test").to_string();
                    if let Some(metrics) = as_metrics(&v["metrics"]) {
                        self.results.retain(|(s, _)| *s != split);
                        self.results.push((split, metrics));
                    }
                }
                _ => {}
            }
        }
    }

    /// The page, as HTML.
    pub fn render(&self) -> anyhow::Result<String> {
        html::page(self)
    }

    /// Renders and writes the page to `path` (atomically).
    pub fn write(&self, path: &Path) -> anyhow::Result<()> {
        let page = self.render()?;
        Ok(ft_train::atomic::write_atomically(path, page.as_bytes())?)
    }
}

/// The class-level results of single-label outputs (`None` for other kinds, or no example).
pub fn class_results(split: &str, labels: &LabelSpace, outputs: &SplitOutputs) -> Option<ClassResults> {
    if labels.kind != LabelKind::SingleLabel {
        return None;
    }
    let gold = ft_infer::gold_classes(&outputs.labels);
    let pred = ft_infer::argmax_rows(&outputs.logits, outputs.num_labels);
    let report = ClassificationReport::compute(&gold, &pred, outputs.num_labels).ok()?;
    Some(ClassResults { split: split.to_string(), labels: labels.names.clone(), report })
}

/// The entity-level results of a token model's outputs (`None` when no token was scored).
pub fn entity_results(split: &str, names: &[String], outputs: &TokenOutputs) -> Option<EntityResults> {
    let name = |c: &u32| names.get(*c as usize).map(String::as_str).unwrap_or("O");
    let tags = |v: &[Vec<u32>]| -> Vec<Vec<&str>> { v.iter().map(|s| s.iter().map(name).collect()).collect() };
    let (gold, pred) = (tags(&outputs.gold), tags(&outputs.pred));
    let report = TaggingReport::compute(&gold, &pred).ok()?;
    let confusion = EntityConfusion::compute(&gold, &pred).ok()?;
    Some(EntityResults { split: split.to_string(), report, confusion })
}

/// Writes `report.html` into a finished run's directory: its log, configuration and metrics, with the
/// class-level (or entity-level) results of the kept model's final outputs.
pub fn write_for_run(summary: &RunSummary) -> anyhow::Result<PathBuf> {
    let dir = &summary.out;
    let mut report = Report::read_run(dir)?;
    report.title = format!("ft train · {}", dir.display());
    report.facts.insert(0, ("model".into(), summary.model_spec.clone()));
    // A report without explanations is still a report: a failure here is a warning.
    match explain_examples(dir, summary) {
        Ok(e) => report.explanations = e,
        Err(e) => log::warn!("report.html: the validation examples could not be explained: {e:#}"),
    }
    match &summary.outputs {
        Outputs::Rows(rows) => report.classes = class_results(summary.final_split, &summary.labels, rows),
        Outputs::Tokens(tokens) => report.entities = entity_results(summary.final_split, &summary.labels.names, tokens),
        // Question answering: exact match and F1 are in the results and over steps; no class table.
        Outputs::Spans(_) => {}
    }
    let path = dir.join("report.html");
    report.write(&path)?;
    Ok(path)
}

/// A JSON object of numbers as metrics (non-numbers are left out); `None` if it is not an object.
fn as_metrics(v: &serde_json::Value) -> Option<Metrics> {
    let obj = v.as_object()?;
    Some(obj.iter().filter_map(|(k, v)| v.as_f64().map(|x| (k.clone(), x))).collect())
}

#[cfg(test)]
mod explain_tests {
    #[test]
    fn word_pieces_join_and_special_tokens_go() {
        let t = |s: &str, v: f64| (s.to_string(), v);
        let words = super::join_pieces(&[
            t("[CLS]", 0.5),
            t("un", 0.1),
            t("##watch", 0.2),
            t("##able", 0.3),
            t("!", -0.1),
            t("[SEP]", 0.2),
        ]);
        assert_eq!(words.len(), 2);
        assert_eq!(words[0].0, "unwatchable");
        assert!((words[0].1 - 0.6).abs() < 1e-12 && words[1] == t("!", -0.1));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resumed_logs_keep_the_later_lines() {
        let mut r = Report::default();
        r.add_log(concat!(
            "{\"kind\":\"train\",\"step\":1,\"loss\":0.9,\"lr\":1e-3}\n",
            "{\"kind\":\"train\",\"step\":2,\"loss\":0.8,\"lr\":1e-3}\n",
            "{\"kind\":\"eval\",\"step\":2,\"split\":\"validation\",\"metrics\":{\"accuracy\":0.5}}\n",
            "{\"kind\":\"train\",\"step\":3,\"loss\":0.7,\"lr\":1e-3}\n",
            "not json\n",
            "{\"kind\":\"train\",\"step\":3,\"loss\":0.6,\"lr\":1e-3}\n",
            "{\"kind\":\"final\",\"split\":\"test\",\"step\":3,\"metrics\":{\"accuracy\":0.75,\"note\":\"x\"}}\n",
        ));
        let steps: Vec<(f64, f64)> = r.train.iter().map(|p| (p.step, p.loss)).collect();
        assert_eq!(steps, [(1.0, 0.9), (2.0, 0.8), (3.0, 0.6)]);
        assert_eq!(r.evals.len(), 1);
        assert_eq!(r.results, [("test".to_string(), Metrics::from([("accuracy".to_string(), 0.75)]))]);
    }
}
