//! ft-eval against scikit-learn 1.9 / scipy 1.17 / seqeval 1.2 on the generated cases of
//! `fixtures/metrics_golden.json` (written by `xtask/py/generate_fixtures.py metrics-goldens`).
//!
//! Tolerance: 1e-9, absolute for values up to 1 in magnitude and relative above (log-loss reaches 36).
//! A `null` in the file is a NaN of the reference; each test states the decision ft-eval takes there.
//! On failure every mismatch is listed with the case name and both values; `--nocapture` also prints
//! the largest deviation seen per metric.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::sync::OnceLock;

use ft_eval::{
    ClassificationReport, EvalError, MultilabelReport, RegressionReport, TaggingReport, entities, log_loss, pearson,
    roc_auc, roc_auc_binary, spearman,
};
use serde::Deserialize;

#[derive(Deserialize)]
struct Golden {
    tolerance: f64,
    classification: Vec<ClassificationCase>,
    binary_scores: Vec<BinaryCase>,
    multilabel: Vec<MultilabelCase>,
    regression: Vec<RegressionCase>,
    tagging: Vec<TaggingCase>,
}

#[derive(Deserialize)]
struct Avg {
    precision: Option<f64>,
    recall: Option<f64>,
    f1: Option<f64>,
}

#[derive(Deserialize)]
struct PerClass {
    precision: Vec<f64>,
    recall: Vec<f64>,
    f1: Vec<f64>,
    support: Vec<usize>,
}

#[derive(Deserialize)]
struct ClassificationCase {
    name: String,
    num_classes: usize,
    y_true: Vec<usize>,
    y_pred: Vec<usize>,
    probs: Vec<Vec<f64>>,
    expected: ClassificationExpected,
}

#[derive(Deserialize)]
struct ClassificationExpected {
    accuracy: f64,
    per_class: PerClass,
    #[serde(rename = "macro")]
    macro_avg: Avg,
    #[serde(rename = "micro")]
    micro_avg: Avg,
    #[serde(rename = "weighted")]
    weighted_avg: Avg,
    mcc: f64,
    confusion: Vec<Vec<usize>>,
    log_loss: f64,
    roc_auc: Option<f64>,
}

#[derive(Deserialize)]
struct BinaryCase {
    name: String,
    y_true: Vec<bool>,
    scores: Vec<f64>,
    expected: BinaryExpected,
}

#[derive(Deserialize)]
struct BinaryExpected {
    roc_auc: f64,
}

#[derive(Deserialize)]
struct MultilabelCase {
    name: String,
    num_labels: usize,
    y_true: Vec<Vec<bool>>,
    y_pred: Vec<Vec<bool>>,
    expected: MultilabelExpected,
}

#[derive(Deserialize)]
struct MultilabelExpected {
    subset_accuracy: f64,
    hamming_loss: f64,
    #[serde(rename = "micro")]
    micro_avg: Avg,
    #[serde(rename = "macro")]
    macro_avg: Avg,
    per_label: PerClass,
}

#[derive(Deserialize)]
struct RegressionCase {
    name: String,
    y_true: Vec<f64>,
    y_pred: Vec<f64>,
    expected: RegressionExpected,
}

#[derive(Deserialize)]
struct RegressionExpected {
    mse: f64,
    mae: f64,
    pearson: Option<f64>,
    spearman: Option<f64>,
}

#[derive(Deserialize)]
struct TaggingCase {
    name: String,
    y_true: Vec<Vec<String>>,
    y_pred: Vec<Vec<String>>,
    expected: TaggingExpected,
}

#[derive(Deserialize)]
struct TypeScores {
    precision: f64,
    recall: f64,
    f1: f64,
    support: usize,
}

#[derive(Deserialize)]
struct TaggingExpected {
    accuracy: f64,
    #[serde(rename = "micro")]
    micro_avg: Avg,
    #[serde(rename = "macro")]
    macro_avg: Avg,
    #[serde(rename = "weighted")]
    weighted_avg: Avg,
    per_type: BTreeMap<String, TypeScores>,
    /// `[sentence, type, start, end)`.
    entities_true: Vec<(usize, String, usize, usize)>,
    entities_pred: Vec<(usize, String, usize, usize)>,
}

fn golden() -> &'static Golden {
    static GOLDEN: OnceLock<Golden> = OnceLock::new();
    GOLDEN.get_or_init(|| {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/metrics_golden.json");
        let text = std::fs::read_to_string(path).unwrap_or_else(|e| {
            panic!("{path}: {e}; regenerate with `python xtask/py/generate_fixtures.py metrics-goldens`")
        });
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
    })
}

/// Collects mismatches (all of them, not just the first) and the largest deviation per metric.
struct Check {
    family: &'static str,
    tol: f64,
    failures: Vec<String>,
    max_dev: BTreeMap<String, f64>,
    cases: usize,
}

impl Check {
    fn new(family: &'static str) -> Self {
        let tol = golden().tolerance;
        assert_eq!(tol, 1e-9, "the tolerance recorded in the fixture changed");
        Check { family, tol, failures: Vec::new(), max_dev: BTreeMap::new(), cases: 0 }
    }

    fn num(&mut self, case: &str, metric: &str, got: f64, want: f64) {
        let dev = (got - want).abs();
        let entry = self.max_dev.entry(metric.to_string()).or_insert(0.0);
        *entry = entry.max(dev);
        if dev.is_nan() || dev > self.tol * want.abs().max(1.0) {
            self.failures.push(format!("{case}: {metric}: ft-eval {got:?}, reference {want:?} (|diff| {dev:.3e})"));
        }
    }

    fn nums(&mut self, case: &str, metric: &str, got: &[f64], want: &[f64]) {
        if got.len() != want.len() {
            self.failures.push(format!("{case}: {metric}: {} values, reference has {}", got.len(), want.len()));
        }
        for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
            self.num(case, &format!("{metric}[{i}]"), g, w);
        }
    }

    /// `want` None: the reference is NaN and ft-eval's documented decision is `none_means`.
    fn avg(&mut self, case: &str, metric: &str, got: &ft_eval::Averages, want: &Avg, none_means: f64) {
        for (part, g, w) in [
            ("precision", got.precision, &want.precision),
            ("recall", got.recall, &want.recall),
            ("f1", got.f1, &want.f1),
        ] {
            self.num(case, &format!("{metric}.{part}"), g, w.unwrap_or(none_means));
        }
    }

    fn exact<T: PartialEq + Debug>(&mut self, case: &str, metric: &str, got: T, want: T) {
        if got != want {
            self.failures.push(format!("{case}: {metric}: ft-eval {got:?}, reference {want:?}"));
        }
    }

    fn fail(&mut self, case: &str, msg: String) {
        self.failures.push(format!("{case}: {msg}"));
    }

    fn finish(self) {
        let mut metrics: BTreeMap<String, f64> = BTreeMap::new();
        for (m, d) in &self.max_dev {
            // Fold `per_class.f1[3]` into `per_class.f1`.
            let key = m.split('[').next().unwrap_or(m).to_string();
            let e = metrics.entry(key).or_insert(0.0);
            *e = e.max(*d);
        }
        let overall = metrics.values().fold(0.0f64, |a, &b| a.max(b));
        // One write, so parallel tests do not interleave their tables.
        let mut table = format!("{}: {} cases, max deviation {overall:.3e}\n", self.family, self.cases);
        for (m, d) in &metrics {
            table += &format!("    {m:<28} {d:.3e}\n");
        }
        eprint!("{table}");
        assert!(
            self.failures.is_empty(),
            "{} mismatches in {} (tolerance {:e}):\n{}",
            self.failures.len(),
            self.family,
            self.tol,
            self.failures.join("\n")
        );
    }
}

#[test]
fn classification_matches_scikit_learn() {
    let mut check = Check::new("classification");
    for case in &golden().classification {
        check.cases += 1;
        let (name, e, c) = (case.name.as_str(), &case.expected, case.num_classes);
        let r = match ClassificationReport::compute(&case.y_true, &case.y_pred, c) {
            Ok(r) => r,
            Err(err) => {
                check.fail(name, format!("ClassificationReport::compute failed: {err}"));
                continue;
            }
        };
        check.num(name, "accuracy", r.accuracy, e.accuracy);
        let col = |f: fn(&ft_eval::ClassScores) -> f64| r.per_class.iter().map(f).collect::<Vec<_>>();
        check.nums(name, "per_class.precision", &col(|s| s.precision), &e.per_class.precision);
        check.nums(name, "per_class.recall", &col(|s| s.recall), &e.per_class.recall);
        check.nums(name, "per_class.f1", &col(|s| s.f1), &e.per_class.f1);
        check.exact(
            name,
            "per_class.support",
            r.per_class.iter().map(|s| s.support).collect(),
            e.per_class.support.clone(),
        );
        check.avg(name, "macro", &r.macro_avg, &e.macro_avg, f64::NAN);
        check.avg(name, "micro", &r.micro_avg, &e.micro_avg, f64::NAN);
        check.avg(name, "weighted", &r.weighted_avg, &e.weighted_avg, f64::NAN);
        check.num(name, "mcc", r.mcc, e.mcc);
        check.exact(name, "confusion", &r.confusion, &e.confusion);

        let probs: Vec<f64> = case.probs.iter().flatten().copied().collect();
        match log_loss(&case.y_true, &probs, c) {
            Ok(v) => check.num(name, "log_loss", v, e.log_loss),
            Err(err) => check.fail(name, format!("log_loss failed: {err}")),
        }
        // Reference NaN (a class without positives or without negatives): ft-eval says RocUndefined.
        match (roc_auc(&case.y_true, &probs, c), e.roc_auc) {
            (Ok(v), Some(w)) => check.num(name, "roc_auc", v, w),
            (Err(EvalError::RocUndefined { .. }), None) => {}
            (got, want) => check.fail(name, format!("roc_auc: ft-eval {got:?}, reference {want:?}")),
        }
    }
    check.finish();
}

#[test]
fn binary_roc_auc_matches_scikit_learn() {
    let mut check = Check::new("binary_scores");
    for case in &golden().binary_scores {
        check.cases += 1;
        match roc_auc_binary(&case.y_true, &case.scores) {
            Ok(v) => check.num(&case.name, "roc_auc", v, case.expected.roc_auc),
            Err(err) => check.fail(&case.name, format!("roc_auc_binary failed: {err}")),
        }
    }
    check.finish();
}

#[test]
fn multilabel_matches_scikit_learn() {
    let mut check = Check::new("multilabel");
    for case in &golden().multilabel {
        check.cases += 1;
        let (name, e) = (case.name.as_str(), &case.expected);
        let flat = |m: &[Vec<bool>]| m.iter().flatten().copied().collect::<Vec<_>>();
        let r = match MultilabelReport::compute(&flat(&case.y_true), &flat(&case.y_pred), case.num_labels) {
            Ok(r) => r,
            Err(err) => {
                check.fail(name, format!("MultilabelReport::compute failed: {err}"));
                continue;
            }
        };
        check.num(name, "subset_accuracy", r.subset_accuracy, e.subset_accuracy);
        check.num(name, "hamming_loss", r.hamming_loss, e.hamming_loss);
        check.avg(name, "micro", &r.micro_avg, &e.micro_avg, f64::NAN);
        check.avg(name, "macro", &r.macro_avg, &e.macro_avg, f64::NAN);
        let col = |f: fn(&ft_eval::ClassScores) -> f64| r.per_label.iter().map(f).collect::<Vec<_>>();
        check.nums(name, "per_label.precision", &col(|s| s.precision), &e.per_label.precision);
        check.nums(name, "per_label.recall", &col(|s| s.recall), &e.per_label.recall);
        check.nums(name, "per_label.f1", &col(|s| s.f1), &e.per_label.f1);
        check.exact(
            name,
            "per_label.support",
            r.per_label.iter().map(|s| s.support).collect(),
            e.per_label.support.clone(),
        );
    }
    check.finish();
}

#[test]
fn regression_matches_scikit_learn_and_scipy() {
    let mut check = Check::new("regression");
    for case in &golden().regression {
        check.cases += 1;
        let (name, e) = (case.name.as_str(), &case.expected);
        let r = match RegressionReport::compute(&case.y_true, &case.y_pred) {
            Ok(r) => r,
            Err(err) => {
                check.fail(name, format!("RegressionReport::compute failed: {err}"));
                continue;
            }
        };
        check.num(name, "mse", r.mse, e.mse);
        check.num(name, "mae", r.mae, e.mae);
        // Reference NaN (constant input): None in the report, ConstantInput from the function.
        for (metric, got, standalone, want) in [
            ("pearson", r.pearson, pearson(&case.y_true, &case.y_pred), e.pearson),
            ("spearman", r.spearman, spearman(&case.y_true, &case.y_pred), e.spearman),
        ] {
            match (got, standalone, want) {
                (Some(g), Ok(s), Some(w)) => {
                    check.num(name, metric, g, w);
                    check.exact(name, metric, s, g);
                }
                (None, Err(EvalError::ConstantInput { .. }), None) => {}
                (got, standalone, want) => {
                    check.fail(name, format!("{metric}: report {got:?}, function {standalone:?}, reference {want:?}"))
                }
            }
        }
    }
    check.finish();
}

#[test]
fn tagging_matches_seqeval() {
    let mut check = Check::new("tagging");
    for case in &golden().tagging {
        check.cases += 1;
        let (name, e) = (case.name.as_str(), &case.expected);
        for (which, sentences, want) in
            [("entities_true", &case.y_true, &e.entities_true), ("entities_pred", &case.y_pred, &e.entities_pred)]
        {
            let mut got = Vec::new();
            for (i, s) in sentences.iter().enumerate() {
                match entities(s) {
                    Ok(es) => got.extend(es.into_iter().map(|x| (i, x.entity_type, x.start, x.end))),
                    Err(err) => check.fail(name, format!("{which}: sentence {i}: {err}")),
                }
            }
            check.exact(name, which, &got, want);
        }
        let r = match TaggingReport::compute(&case.y_true, &case.y_pred) {
            Ok(r) => r,
            Err(err) => {
                check.fail(name, format!("TaggingReport::compute failed: {err}"));
                continue;
            }
        };
        check.num(name, "token_accuracy", r.token_accuracy, e.accuracy);
        check.avg(name, "micro", &r.micro_avg, &e.micro_avg, f64::NAN);
        // seqeval's macro over no entity type is NaN; ft-eval answers 0.
        check.avg(name, "macro", &r.macro_avg, &e.macro_avg, 0.0);
        check.avg(name, "weighted", &r.weighted_avg, &e.weighted_avg, f64::NAN);
        check.exact(name, "per_type names", r.per_type.keys().collect::<Vec<_>>(), e.per_type.keys().collect());
        for (ty, want) in &e.per_type {
            let Some(got) = r.per_type.get(ty) else { continue };
            check.num(name, &format!("per_type.precision[{ty}]"), got.precision, want.precision);
            check.num(name, &format!("per_type.recall[{ty}]"), got.recall, want.recall);
            check.num(name, &format!("per_type.f1[{ty}]"), got.f1, want.f1);
            check.exact(name, &format!("per_type.support[{ty}]"), got.support, want.support);
        }
    }
    check.finish();
}

#[test]
fn the_fixture_has_at_least_twenty_cases() {
    let g = golden();
    let total =
        g.classification.len() + g.binary_scores.len() + g.multilabel.len() + g.regression.len() + g.tagging.len();
    assert!(total >= 20, "only {total} golden cases");
}
