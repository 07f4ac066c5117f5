//! How a multi-label model's rows of logits become label sets: label `k` is predicted when
//! `sigmoid(logit_k) > t_k`. One threshold for every label (`--threshold`, default 0.5: a positive
//! logit, what transformers' multi-label examples do) or one per label, tuned on validation
//! (`--tune-thresholds`, [`ft_eval::tune_thresholds`]). A model ft saves keeps anything but the
//! default in `config.json`'s [`Thresholds::CONFIG_KEY`] (label name → threshold; transformers keeps
//! the key and ignores it), and `ft eval` / `ft predict` decide with it.

use ft_model::{BertConfig, ModelError};
use std::path::Path;

/// The threshold of each label of a multi-label model.
#[derive(Debug, Clone, PartialEq)]
pub enum Thresholds {
    /// The same probability threshold for every label.
    Uniform(f64),
    /// One probability threshold per label, in label-id order.
    PerLabel(Vec<f64>),
}

impl Default for Thresholds {
    fn default() -> Self {
        Self::Uniform(Self::DEFAULT)
    }
}

/// `1 / (1 + e^-x)` in f64.
pub fn sigmoid(x: f32) -> f64 {
    1.0 / (1.0 + (-f64::from(x)).exp())
}

impl Thresholds {
    /// The `config.json` key: an object from label name to threshold.
    pub const CONFIG_KEY: &'static str = "ft_thresholds";
    /// transformers' implicit choice: a positive logit.
    pub const DEFAULT: f64 = 0.5;

    /// Label `k`'s threshold.
    pub fn get(&self, k: usize) -> f64 {
        match self {
            Self::Uniform(t) => *t,
            Self::PerLabel(v) => v.get(k).copied().unwrap_or(Self::DEFAULT),
        }
    }

    /// Whether this is the default (nothing to save).
    pub fn is_default(&self) -> bool {
        match self {
            Self::Uniform(t) => *t == Self::DEFAULT,
            Self::PerLabel(v) => v.iter().all(|&t| t == Self::DEFAULT),
        }
    }

    /// The decisions for row-major `[N, C]` logits: `sigmoid(logit) > threshold` per cell.
    pub fn decide(&self, logits: &[f32], num_labels: usize) -> Vec<bool> {
        logits.iter().enumerate().map(|(i, &x)| sigmoid(x) > self.get(i % num_labels.max(1))).collect()
    }

    /// A threshold given on the command line: a probability strictly between 0 and 1.
    pub fn check(t: f64, flag: &str) -> Result<f64, String> {
        if t.is_finite() && t > 0.0 && t < 1.0 {
            Ok(t)
        } else {
            Err(format!("{flag} {t}: a probability threshold must be strictly between 0 and 1 (default 0.5)"))
        }
    }

    /// The thresholds saved in `config` for the labels `names` (label-id order); `None` when the key
    /// is absent. A label missing from the object, a name that is not a label or a value outside
    /// (0, 1) is an error naming `path`.
    pub fn of_config(config: &BertConfig, names: &[String], path: &Path) -> Result<Option<Self>, ModelError> {
        let Some(value) = config.extra.get(Self::CONFIG_KEY) else { return Ok(None) };
        let bad = |reason: String| ModelError::Config {
            path: path.to_path_buf(),
            reason: format!("`{}`: {reason} (delete the key to decide at 0.5)", Self::CONFIG_KEY),
        };
        let object =
            value.as_object().ok_or_else(|| bad(format!("is {value}; expected {{\"label\": threshold, …}}")))?;
        if let Some(unknown) = object.keys().find(|k| !names.contains(k)) {
            return Err(bad(format!("`{unknown}` is not one of the model's labels ({})", names.join(", "))));
        }
        let thresholds = names
            .iter()
            .map(|name| {
                let v = object.get(name).ok_or_else(|| bad(format!("no threshold for label `{name}`")))?;
                v.as_f64()
                    .and_then(|t| Self::check(t, "").ok())
                    .ok_or_else(|| bad(format!("label `{name}` has {v}; expected a number strictly between 0 and 1")))
            })
            .collect::<Result<Vec<f64>, ModelError>>()?;
        Ok(Some(Self::PerLabel(thresholds)))
    }

    /// Writes these thresholds into `config` for the labels `names` (the key is removed for the
    /// default).
    pub fn write_to(&self, config: &mut BertConfig, names: &[String]) {
        if self.is_default() {
            config.extra.remove(Self::CONFIG_KEY);
            return;
        }
        let object: serde_json::Map<String, serde_json::Value> =
            names.iter().enumerate().map(|(k, n)| (n.clone(), self.get(k).into())).collect();
        config.extra.insert(Self::CONFIG_KEY.into(), object.into());
    }

    /// `name 0.35, other 0.5, …` for messages.
    pub fn describe(&self, names: &[String]) -> String {
        match self {
            Self::Uniform(t) => format!("{t} for every label"),
            Self::PerLabel(_) => {
                names.iter().enumerate().map(|(k, n)| format!("{n} {}", self.get(k))).collect::<Vec<_>>().join(", ")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> BertConfig {
        BertConfig::from_json_str(
            r#"{"vocab_size":5,"hidden_size":2,"num_hidden_layers":1,"num_attention_heads":1,"intermediate_size":2}"#,
            Path::new("config.json"),
        )
        .unwrap()
    }

    #[test]
    fn decisions_compare_the_sigmoid_with_each_labels_threshold() {
        // sigmoid(0) = 0.5 is not above 0.5; sigmoid(-1) = 0.269 is above 0.25.
        let logits = [0.0f32, -1.0, 0.1, -2.0];
        assert_eq!(Thresholds::default().decide(&logits, 2), [false, false, true, false]);
        assert_eq!(Thresholds::PerLabel(vec![0.5, 0.25]).decide(&logits, 2), [false, true, true, false]);
        assert_eq!(Thresholds::Uniform(0.2).decide(&logits, 2), [true, true, true, false]);
    }

    #[test]
    fn thresholds_round_trip_through_config_and_bad_values_name_the_key() {
        let names = vec!["a".to_string(), "b".to_string()];
        let mut c = config();
        Thresholds::default().write_to(&mut c, &names);
        assert!(!c.extra.contains_key(Thresholds::CONFIG_KEY));
        assert_eq!(Thresholds::of_config(&c, &names, Path::new("config.json")).unwrap(), None);
        Thresholds::PerLabel(vec![0.35, 0.5]).write_to(&mut c, &names);
        assert_eq!(c.extra[Thresholds::CONFIG_KEY], serde_json::json!({"a": 0.35, "b": 0.5}));
        let back = Thresholds::of_config(&c, &names, Path::new("config.json")).unwrap().unwrap();
        assert_eq!(back, Thresholds::PerLabel(vec![0.35, 0.5]));

        for (value, needle) in [
            (serde_json::json!({"a": 0.3}), "no threshold for label `b`"),
            (serde_json::json!({"a": 0.3, "b": 1.0}), "label `b` has 1.0"),
            (serde_json::json!({"a": 0.3, "b": 0.2, "c": 0.1}), "`c` is not one of the model's labels"),
            (serde_json::json!(0.3), "expected {\"label\": threshold"),
        ] {
            c.extra.insert(Thresholds::CONFIG_KEY.into(), value);
            let err = Thresholds::of_config(&c, &names, Path::new("m/config.json")).unwrap_err().to_string();
            assert!(err.contains(needle) && err.contains("m/config.json") && err.contains("ft_thresholds"), "{err}");
        }
        assert!(Thresholds::check(0.0, "--threshold").unwrap_err().contains("--threshold 0"));
        assert!(Thresholds::check(f64::NAN, "--threshold").is_err());
        assert_eq!(Thresholds::check(0.3, "--threshold"), Ok(0.3));
    }
}
