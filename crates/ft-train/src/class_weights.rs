//! `--class-weights none|balanced|FILE`: a weight per class in the loss, for rare classes.
//!
//! Single-label: PyTorch's `CrossEntropyLoss(weight=w)` (the weighted mean). `balanced` is
//! scikit-learn's `compute_class_weight("balanced")`: `n_samples / (n_classes · count[c])` over the
//! training split. Multi-label: `BCEWithLogitsLoss(pos_weight=p)`, the weight of each class's positives;
//! `balanced` is `negatives[c] / positives[c]` (the usual choice, which balances each class's two sides).
//! `FILE`: one `label weight` line per class (whitespace-separated; blank lines and `#` comments
//! skipped), every class of the run once, each weight finite and positive.

use crate::TrainError;
use ft_data::{LabelKind, LoadedData};
use std::path::Path;

/// What `--class-weights` asks for.
#[derive(Debug, Clone, PartialEq)]
pub enum ClassWeights {
    /// Every class counts the same (transformers' losses).
    None,
    /// From the training split's class counts.
    Balanced,
    /// Read from a file.
    File(std::path::PathBuf),
}

impl ClassWeights {
    /// Parses `none`, `balanced` or a file path.
    pub fn parse(spec: &str) -> Self {
        match spec {
            "none" | "" => Self::None,
            "balanced" => Self::Balanced,
            path => Self::File(path.into()),
        }
    }

    /// The weights for `data`'s classes (in label order), `None` for [`ClassWeights::None`]. Refused
    /// for regression, token tags and answer spans, for a class the training split lacks (`balanced`)
    /// and for a file that does not give every class one positive weight.
    pub fn resolve(&self, data: &LoadedData) -> Result<Option<Vec<f32>>, TrainError> {
        if *self == Self::None {
            return Ok(None);
        }
        let kind = data.labels.kind;
        if !matches!(kind, LabelKind::SingleLabel | LabelKind::MultiLabel) {
            return Err(TrainError::Config(format!(
                "--class-weights: for single- and multi-label classification; these labels are {kind:?}"
            )));
        }
        let names = &data.labels.names;
        let weights = match self {
            Self::None => unreachable!("handled above"),
            Self::Balanced => {
                let mut positives = vec![0usize; names.len()];
                for i in 0..data.train.len() {
                    for &c in data.train.classes(i) {
                        positives[c as usize] += 1;
                    }
                }
                if let Some(c) = positives.iter().position(|&n| n == 0) {
                    return Err(TrainError::Config(format!(
                        "--class-weights balanced: class {} has no training example, so no weight; give the \
                         weights in a file (--class-weights FILE) or add examples of it",
                        names[c]
                    )));
                }
                match kind {
                    LabelKind::SingleLabel => balanced(&positives),
                    _ => pos_weight_balanced(&positives, data.train.len())?
                        .into_iter()
                        .zip(names)
                        .map(|(w, name)| {
                            w.ok_or_else(|| {
                                TrainError::Config(format!(
                                    "--class-weights balanced: class {name} is in every training example, so it \
                                     has no negatives to balance; give the weights in a file"
                                ))
                            })
                        })
                        .collect::<Result<Vec<f64>, _>>()?,
                }
            }
            Self::File(path) => read_file(path, names)?,
        };
        Ok(Some(weights.into_iter().map(|w| w as f32).collect()))
    }
}

/// scikit-learn's `compute_class_weight("balanced")`: `n / (classes · count[c])`.
pub fn balanced(counts: &[usize]) -> Vec<f64> {
    let n: usize = counts.iter().sum();
    counts.iter().map(|&c| n as f64 / (counts.len() as f64 * c as f64)).collect()
}

/// `negatives / positives` per class over `n` rows; `None` for a class with no negatives.
pub fn pos_weight_balanced(positives: &[usize], n: usize) -> Result<Vec<Option<f64>>, TrainError> {
    Ok(positives.iter().map(|&p| (p < n).then(|| (n - p) as f64 / p as f64)).collect())
}

/// A `label weight` file, in the order of `names`.
fn read_file(path: &Path, names: &[String]) -> Result<Vec<f64>, TrainError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        TrainError::Config(format!("--class-weights {}: {e} (expected none, balanced or a file)", path.display()))
    })?;
    let mut weights: Vec<Option<f64>> = vec![None; names.len()];
    for (i, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let at = format!("{}:{}", path.display(), i + 1);
        let (label, weight) = line
            .rsplit_once(char::is_whitespace)
            .ok_or_else(|| TrainError::Config(format!("{at}: expected `label weight`, found {line:?}")))?;
        let label = label.trim();
        let weight: f64 = weight
            .parse()
            .ok()
            .filter(|w: &f64| w.is_finite() && *w > 0.0)
            .ok_or_else(|| TrainError::Config(format!("{at}: weight {weight:?} is not a positive number")))?;
        let c = names.iter().position(|n| n == label).ok_or_else(|| {
            TrainError::Config(format!("{at}: {label:?} is not a class of this run (classes: {})", names.join(", ")))
        })?;
        if weights[c].replace(weight).is_some() {
            return Err(TrainError::Config(format!("{at}: class {label:?} is given twice")));
        }
    }
    let missing: Vec<&str> = names.iter().zip(&weights).filter(|(_, w)| w.is_none()).map(|(n, _)| n.as_str()).collect();
    if !missing.is_empty() {
        return Err(TrainError::Config(format!(
            "{}: no weight for class(es) {}; give every class one `label weight` line",
            path.display(),
            missing.join(", ")
        )));
    }
    Ok(weights.into_iter().flatten().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// scikit-learn's numbers, from `fixtures/class_weights_golden.json` (`compute_class_weight`).
    #[test]
    fn balanced_matches_scikit_learn() {
        let golden: serde_json::Value =
            serde_json::from_str(include_str!("../../../fixtures/class_weights_golden.json")).unwrap();
        let b = &golden["balanced"];
        let c = b["num_classes"].as_u64().unwrap() as usize;
        let mut counts = vec![0usize; c];
        for l in b["labels"].as_array().unwrap() {
            counts[l.as_u64().unwrap() as usize] += 1;
        }
        let want: Vec<f64> = b["weights"].as_array().unwrap().iter().map(|w| w.as_f64().unwrap()).collect();
        let got = balanced(&counts);
        for (g, w) in got.iter().zip(&want) {
            assert!((g - w).abs() < 1e-12, "{got:?} vs {want:?}");
        }
        assert_eq!(pos_weight_balanced(&[1, 3, 4], 4).unwrap(), [Some(3.0), Some(1.0 / 3.0), None]);
    }

    #[test]
    fn weight_files_are_checked() {
        let dir = tempfile::tempdir().unwrap();
        let names = ["ham".to_string(), "spam".to_string()];
        let write = |text: &str| {
            let p = dir.path().join("w.txt");
            std::fs::write(&p, text).unwrap();
            p
        };
        let ok = write("# weights\nspam 6.5\n\nham\t1\n");
        assert_eq!(read_file(&ok, &names).unwrap(), [1.0, 6.5]);
        let cases = [
            ("ham 1\n", "no weight for class(es) spam"),
            ("ham 1\nspam -2\n", ":2: weight \"-2\" is not a positive number"),
            ("ham 1\nspam 2\neggs 3\n", ":3: \"eggs\" is not a class of this run"),
            ("ham 1\nham 2\nspam 1\n", ":2: class \"ham\" is given twice"),
            ("ham\n", ":1: expected `label weight`"),
        ];
        for (text, want) in cases {
            let err = read_file(&write(text), &names).unwrap_err().to_string();
            assert!(err.contains(want), "{text:?}: {err}");
        }
        let err = read_file(&dir.path().join("absent.txt"), &names).unwrap_err().to_string();
        assert!(err.contains("expected none, balanced or a file"), "{err}");
    }
}
