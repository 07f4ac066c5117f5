//! Properties every input must satisfy: accuracy is the confusion matrix's trace over its total, scores
//! do not depend on which id a class has, perfect predictions score 1, every metric stays in its range,
//! and ROC-AUC equals the Mann–Whitney statistic with average ranks (an independent formula for ties).

use ft_eval::{
    ClassificationReport, MultilabelReport, RegressionReport, TaggingReport, log_loss, ranks, roc_auc, roc_auc_binary,
    spearman,
};
use proptest::collection::vec;
use proptest::prelude::*;

/// `(num_classes, y_true, y_pred)` with 1..=8 classes and 1..200 samples.
fn labels() -> impl Strategy<Value = (usize, Vec<usize>, Vec<usize>)> {
    (1..=8usize, 1..200usize).prop_flat_map(|(c, n)| (Just(c), vec(0..c, n), vec(0..c, n)))
}

/// Labels plus a permutation of the class ids.
fn labels_and_permutation() -> impl Strategy<Value = (usize, Vec<usize>, Vec<usize>, Vec<usize>)> {
    labels().prop_flat_map(|(c, t, p)| (Just(c), Just(t), Just(p), Just((0..c).collect::<Vec<_>>()).prop_shuffle()))
}

/// `(num_classes, y_true, probs)` with 2..=6 classes; rows are normalised positive weights.
fn probabilities() -> impl Strategy<Value = (usize, Vec<usize>, Vec<f64>)> {
    (2..=6usize, 1..120usize).prop_flat_map(|(c, n)| {
        let rows = vec(vec(0u16..=64, c), n).prop_map(move |rows| {
            rows.into_iter()
                .flat_map(|w| {
                    let w: Vec<f64> = w.into_iter().map(|x| f64::from(x) + 0.5).collect();
                    let sum: f64 = w.iter().sum();
                    w.into_iter().map(move |x| x / sum)
                })
                .collect::<Vec<f64>>()
        });
        (Just(c), vec(0..c, n), rows)
    })
}

fn in_unit(x: f64) -> bool {
    (0.0..=1.0).contains(&x)
}

const TAGS: [&str; 8] = ["O", "O", "B-PER", "I-PER", "B-LOC", "I-LOC", "E-LOC", "S-PER"];

/// Sentences of tags for y_true and y_pred, of equal lengths.
fn tagged() -> impl Strategy<Value = (Vec<Vec<&'static str>>, Vec<Vec<&'static str>>)> {
    vec(1..12usize, 1..8).prop_flat_map(|lengths| {
        let sentences =
            |lengths: &[usize]| lengths.iter().map(|&l| vec(prop::sample::select(&TAGS[..]), l)).collect::<Vec<_>>();
        (sentences(&lengths), sentences(&lengths))
    })
}

proptest! {
    #[test]
    fn accuracy_is_trace_over_total((c, t, p) in labels()) {
        let r = ClassificationReport::compute(&t, &p, c).unwrap();
        let trace: usize = (0..c).map(|k| r.confusion[k][k]).sum();
        let total: usize = r.confusion.iter().flatten().sum();
        prop_assert_eq!(total, t.len());
        prop_assert_eq!(r.accuracy, trace as f64 / total as f64);
        prop_assert_eq!(r.accuracy, ft_eval::accuracy(&t, &p).unwrap());
        // Single-label data: micro precision = recall = F1 = accuracy.
        prop_assert_eq!(r.micro_avg.f1, r.accuracy);
    }

    #[test]
    fn scores_do_not_depend_on_class_ids((c, t, p, perm) in labels_and_permutation()) {
        let a = ClassificationReport::compute(&t, &p, c).unwrap();
        let relabel = |v: &[usize]| v.iter().map(|&k| perm[k]).collect::<Vec<_>>();
        let b = ClassificationReport::compute(&relabel(&t), &relabel(&p), c).unwrap();
        // Sums run in another order, hence 1e-12 rather than equality.
        prop_assert!((a.macro_avg.f1 - b.macro_avg.f1).abs() < 1e-12, "{} vs {}", a.macro_avg.f1, b.macro_avg.f1);
        prop_assert!((a.weighted_avg.f1 - b.weighted_avg.f1).abs() < 1e-12);
        prop_assert!((a.mcc - b.mcc).abs() < 1e-12);
        prop_assert_eq!(a.accuracy, b.accuracy);
        for k in 0..c {
            prop_assert_eq!(a.per_class[k], b.per_class[perm[k]]);
            for j in 0..c {
                prop_assert_eq!(a.confusion[k][j], b.confusion[perm[k]][perm[j]]);
            }
        }
    }

    #[test]
    fn perfect_predictions_score_one((c, t, _p) in labels()) {
        let r = ClassificationReport::compute(&t, &t, c).unwrap();
        prop_assert_eq!(r.accuracy, 1.0);
        prop_assert_eq!((r.macro_avg.f1, r.micro_avg.f1, r.weighted_avg.f1), (1.0, 1.0, 1.0));
        let distinct = (0..c).filter(|k| t.contains(k)).count();
        if distinct >= 2 {
            prop_assert!((r.mcc - 1.0).abs() < 1e-12, "mcc {}", r.mcc);
        } else {
            // A single class: MCC's denominator is 0, and scikit-learn answers 0.
            prop_assert_eq!(r.mcc, 0.0);
        }
        // One-hot probabilities rank every positive first: AUC 1 wherever it is defined.
        if c >= 2 && (0..c).all(|k| t.contains(&k)) {
            let probs: Vec<f64> = t.iter().flat_map(|&y| (0..c).map(move |k| f64::from(u8::from(k == y)))).collect();
            prop_assert_eq!(roc_auc(&t, &probs, c).unwrap(), 1.0);
            prop_assert!(log_loss(&t, &probs, c).unwrap() < 1e-15);
        }
    }

    #[test]
    fn classification_metrics_stay_in_range((c, t, p) in labels()) {
        let r = ClassificationReport::compute(&t, &p, c).unwrap();
        for s in &r.per_class {
            prop_assert!(in_unit(s.precision) && in_unit(s.recall) && in_unit(s.f1), "{:?}", s);
        }
        for a in [r.macro_avg, r.micro_avg, r.weighted_avg] {
            prop_assert!(in_unit(a.precision) && in_unit(a.recall) && in_unit(a.f1), "{:?}", a);
        }
        prop_assert!(in_unit(r.accuracy));
        prop_assert!((-1.0 - 1e-12..=1.0 + 1e-12).contains(&r.mcc), "mcc {}", r.mcc);
    }

    #[test]
    fn probability_metrics_stay_in_range((c, t, probs) in probabilities()) {
        let loss = log_loss(&t, &probs, c).unwrap();
        prop_assert!((0.0..=-f64::EPSILON.ln()).contains(&loss), "log_loss {}", loss);
        match roc_auc(&t, &probs, c) {
            Ok(auc) => prop_assert!(in_unit(auc), "roc_auc {}", auc),
            Err(e) => prop_assert!(matches!(e, ft_eval::EvalError::RocUndefined { .. }), "{}", e),
        }
    }

    #[test]
    fn roc_auc_is_the_mann_whitney_statistic(
        (truth, scores) in (2..150usize).prop_flat_map(|n| (vec(any::<bool>(), n), vec(0..6i32, n)))
    ) {
        let scores: Vec<f64> = scores.into_iter().map(f64::from).collect();
        let pos = truth.iter().filter(|&&b| b).count();
        let neg = truth.len() - pos;
        prop_assume!(pos > 0 && neg > 0);
        // U = (sum of positive ranks − P(P+1)/2); ties get average ranks, i.e. count one half.
        let r = ranks(&scores);
        let rank_sum: f64 = r.iter().zip(&truth).filter(|(_, b)| **b).map(|(x, _)| x).sum();
        let u = rank_sum - (pos * (pos + 1)) as f64 / 2.0;
        let auc = roc_auc_binary(&truth, &scores).unwrap();
        prop_assert!((auc - u / (pos * neg) as f64).abs() < 1e-12, "{} vs {}", auc, u / (pos * neg) as f64);
    }

    #[test]
    fn multilabel_metrics_stay_in_range(
        (l, t, p) in (1..6usize, 1..40usize)
            .prop_flat_map(|(l, n)| (Just(l), vec(any::<bool>(), n * l), vec(any::<bool>(), n * l)))
    ) {
        let r = MultilabelReport::compute(&t, &p, l).unwrap();
        prop_assert!(in_unit(r.subset_accuracy) && in_unit(r.hamming_loss));
        for a in [r.micro_avg, r.macro_avg] {
            prop_assert!(in_unit(a.precision) && in_unit(a.recall) && in_unit(a.f1), "{:?}", a);
        }
        let perfect = MultilabelReport::compute(&t, &t, l).unwrap();
        prop_assert_eq!((perfect.subset_accuracy, perfect.hamming_loss), (1.0, 0.0));
        prop_assert_eq!(perfect.micro_avg.f1, if t.contains(&true) { 1.0 } else { 0.0 });
    }

    #[test]
    fn regression_metrics_stay_in_range(
        (t, p) in (1..60usize).prop_flat_map(|n| (vec(-20i32..20, n), vec(-20i32..20, n)))
    ) {
        let t: Vec<f64> = t.into_iter().map(f64::from).collect();
        let p: Vec<f64> = p.into_iter().map(f64::from).collect();
        let r = RegressionReport::compute(&t, &p).unwrap();
        prop_assert!(r.mse >= 0.0 && r.mae >= 0.0 && r.mae * r.mae <= r.mse + 1e-9);
        for v in [r.pearson, r.spearman].into_iter().flatten() {
            prop_assert!((-1.0..=1.0).contains(&v), "{}", v);
        }
        // Spearman only sees ranks: an increasing map of y_true changes nothing.
        if let Some(s) = r.spearman {
            let moved: Vec<f64> = t.iter().map(|x| 3.0 * x + 1.0).collect();
            prop_assert!((spearman(&moved, &p).unwrap() - s).abs() < 1e-12);
        }
        let perfect = RegressionReport::compute(&t, &t).unwrap();
        prop_assert_eq!((perfect.mse, perfect.mae), (0.0, 0.0));
    }

    #[test]
    fn tagging_metrics_stay_in_range((t, p) in tagged()) {
        let r = TaggingReport::compute(&t, &p).unwrap();
        for a in [r.micro_avg, r.macro_avg, r.weighted_avg] {
            prop_assert!(in_unit(a.precision) && in_unit(a.recall) && in_unit(a.f1), "{:?}", a);
        }
        prop_assert!(in_unit(r.token_accuracy));
        let perfect = TaggingReport::compute(&t, &t).unwrap();
        let any_entity = !perfect.per_type.is_empty();
        prop_assert_eq!(perfect.micro_avg.f1, if any_entity { 1.0 } else { 0.0 });
        prop_assert_eq!(perfect.token_accuracy, 1.0);
    }
}
