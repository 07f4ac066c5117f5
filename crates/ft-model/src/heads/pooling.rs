//! What the sequence head reads from the encoder: the pooler (transformers' `BertForSequenceClassification`),
//! the `[CLS]` state, or the mean or max over the real tokens (sentence-transformers' `Pooling` module).
//!
//! A checkpoint trained for sentence embeddings (all-MiniLM-L6-v2) was trained through mean pooling and
//! its pooler never was; [`Pooling::detect`] finds that in the directory's sentence-transformers files
//! (`modules.json`, `1_Pooling/config.json`). The choice is saved in `config.json` under
//! [`Pooling::CONFIG_KEY`] (transformers keeps unknown keys and ignores them) and read back by ft.

use crate::bert::model::BertOutputs;
use crate::{BertConfig, ModelError};
use burn::tensor::{Int, Tensor};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::Path;
use std::str::FromStr;

/// How `[B, T, H]` hidden states become the `[B, H]` vector the sequence head classifies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Pooling {
    /// The pooler: `tanh(W·h_[CLS] + b)`, as transformers' `BertForSequenceClassification`.
    #[default]
    Pooler,
    /// The last hidden state of `[CLS]`, no pooler.
    Cls,
    /// The mean of the last hidden states over real tokens (attention mask 1), specials included, as
    /// sentence-transformers' `pooling_mode_mean_tokens`.
    Mean,
    /// The element-wise max over real tokens, as sentence-transformers' `pooling_mode_max_tokens`.
    Max,
}

impl Pooling {
    /// Every pooling, in the order the CLI lists them.
    pub const ALL: &'static [Pooling] = &[Pooling::Pooler, Pooling::Cls, Pooling::Mean, Pooling::Max];

    /// The `config.json` key ft saves its choice under (absent: the pooler).
    pub const CONFIG_KEY: &'static str = "ft_pooling";

    /// The CLI's and `config.json`'s name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Pooler => "pooler",
            Self::Cls => "cls",
            Self::Mean => "mean",
            Self::Max => "max",
        }
    }

    /// Whether transformers' `BertForSequenceClassification` computes the same thing (only the pooler).
    pub fn transformers_compatible(self) -> bool {
        self == Self::Pooler
    }

    /// The pooling saved in `config` ([`Self::CONFIG_KEY`]); `None` when the key is absent.
    pub fn of_config(config: &BertConfig, path: &Path) -> Result<Option<Self>, ModelError> {
        let Some(value) = config.extra.get(Self::CONFIG_KEY) else { return Ok(None) };
        value.as_str().and_then(|s| s.parse().ok()).map(Some).ok_or_else(|| ModelError::Config {
            path: path.to_path_buf(),
            reason: format!(
                "`{}` is {value}; expected one of {} (or delete the key for the pooler)",
                Self::CONFIG_KEY,
                Self::names()
            ),
        })
    }

    /// Writes this pooling into `config` (the key is removed for the pooler, transformers' own).
    pub fn write_to(self, config: &mut BertConfig) {
        if self == Self::Pooler {
            config.extra.remove(Self::CONFIG_KEY);
        } else {
            config.extra.insert(Self::CONFIG_KEY.into(), self.name().into());
        }
    }

    /// What a checkpoint directory says its pooling is, with where that came from: `config.json`'s
    /// [`Self::CONFIG_KEY`] (a model ft saved), else sentence-transformers' `modules.json` +
    /// `1_Pooling/config.json`, else the pooler ("transformers' default"). A sentence-transformers
    /// pooling ft does not have (`mean_sqrt_len`, several modes at once) is an error naming the file.
    pub fn detect(dir: &Path, config: &BertConfig) -> Result<(Self, String), ModelError> {
        let config_path = dir.join("config.json");
        if let Some(p) = Self::of_config(config, &config_path)? {
            return Ok((p, format!("{} in {}", Self::CONFIG_KEY, config_path.display())));
        }
        if let Some(found) = sentence_transformers_pooling(dir)? {
            return Ok(found);
        }
        let architecture = config.family().architecture(crate::Task::SequenceClassification);
        Ok((Self::Pooler, format!("transformers' {architecture}")))
    }

    /// Pools the encoder's outputs. `attention_mask` `[B, T]` (1 on real tokens) is read by
    /// [`Self::Mean`] and [`Self::Max`].
    ///
    /// # Shapes
    /// - `outputs.last_hidden_state`: `[B, T, H]`, `attention_mask`: `[B, T]`
    /// - output: `[B, H]`
    pub fn pool(self, outputs: &BertOutputs, attention_mask: Tensor<2, Int>) -> Result<Tensor<2>, ModelError> {
        let h = outputs.last_hidden_state.clone();
        let [b, t, width] = h.dims();
        Ok(match self {
            Self::Pooler => outputs.pooler_output.clone().ok_or_else(|| {
                ModelError::Input("pooling `pooler` needs the encoder's pooler, and this one has none".into())
            })?,
            Self::Cls => h.narrow(1, 0, 1).reshape([b, width]),
            Self::Mean => {
                // sum(h · m) / clamp(sum(m), 1e-9), as sentence-transformers.
                let mask = attention_mask.float().unsqueeze_dim::<3>(2); // [B, T, 1]
                let sum = (h * mask.clone().expand([b, t, width])).sum_dim(1).reshape([b, width]);
                let count = mask.sum_dim(1).reshape([b, 1]).clamp_min(1e-9);
                sum / count
            }
            Self::Max => {
                // Padding set to -1e9 before the max, as sentence-transformers.
                let pad = attention_mask.equal_elem(0).unsqueeze_dim::<3>(2).expand([b, t, width]);
                h.mask_fill(pad, -1e9).max_dim(1).reshape([b, width])
            }
        })
    }

    fn names() -> String {
        Self::ALL.iter().map(|p| p.name()).collect::<Vec<_>>().join(", ")
    }
}

impl fmt::Display for Pooling {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Pooling {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        Self::ALL
            .iter()
            .copied()
            .find(|p| p.name() == s)
            .ok_or_else(|| format!("unknown pooling \"{s}\"; use one of {}", Self::names()))
    }
}

/// sentence-transformers' pooling of `dir`: the `Pooling` module of `modules.json` and its
/// `config.json` (`pooling_mode` or the `pooling_mode_*_tokens` flags). `None` without `modules.json`
/// or without a `Pooling` module in it.
fn sentence_transformers_pooling(dir: &Path) -> Result<Option<(Pooling, String)>, ModelError> {
    let modules_path = dir.join("modules.json");
    let Some(modules) = read_json(&modules_path)? else { return Ok(None) };
    let bad = |path: &Path, reason: String| ModelError::Config { path: path.to_path_buf(), reason };
    let Some(list) = modules.as_array() else {
        return Err(bad(&modules_path, "is not a JSON array of modules (sentence-transformers' modules.json)".into()));
    };
    let pooling_module = list.iter().find(|m| {
        m.get("type").and_then(|t| t.as_str()).is_some_and(|t| t.ends_with("models.Pooling") || t == "Pooling")
    });
    let Some(module) = pooling_module else { return Ok(None) };
    let sub = module.get("path").and_then(|p| p.as_str()).unwrap_or("1_Pooling");
    let config_path = dir.join(sub).join("config.json");
    let Some(config) = read_json(&config_path)? else {
        return Err(bad(
            &config_path,
            format!("is missing; {} names a Pooling module in `{sub}`", modules_path.display()),
        ));
    };
    let modes: Vec<String> = match config.get("pooling_mode").and_then(|m| m.as_str()) {
        Some(mode) => vec![mode.to_string()],
        None => ["cls", "mean", "max", "mean_sqrt_len", "weightedmean", "lasttoken"]
            .into_iter()
            .filter(|m| {
                config
                    .get(format!("pooling_mode_{m}_token"))
                    .or(config.get(format!("pooling_mode_{m}_tokens")))
                    .and_then(|v| v.as_bool())
                    == Some(true)
            })
            .map(String::from)
            .collect(),
    };
    let pooling = match modes.as_slice() {
        [m] if m == "cls" => Pooling::Cls,
        [m] if m == "mean" => Pooling::Mean,
        [m] if m == "max" => Pooling::Max,
        _ => {
            return Err(bad(
                &config_path,
                format!(
                    "sets sentence-transformers pooling {modes:?}; ft pools with one of cls, mean or max: \
                     pass --pooling to choose"
                ),
            ));
        }
    };
    Ok(Some((pooling, format!("sentence-transformers' {}", config_path.display()))))
}

/// A JSON file, `None` when it does not exist.
fn read_json(path: &Path) -> Result<Option<serde_json::Value>, ModelError> {
    match std::fs::read_to_string(path) {
        Ok(text) => serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| ModelError::Config { path: path.to_path_buf(), reason: format!("is not valid JSON: {e}") }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(ModelError::io(path)(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::DeviceSpec;
    use burn::tensor::{Device, TensorData};

    fn cpu() -> Device {
        DeviceSpec::Cpu.device().unwrap()
    }

    /// Two rows of three tokens, H = 2; the second row has one padding token.
    fn outputs() -> (BertOutputs, Tensor<2, Int>) {
        let d = cpu();
        let h = [[1.0f32, -2.0], [3.0, 4.0], [5.0, 0.0], [-1.0, 2.0], [7.0, -6.0], [100.0, 100.0]];
        let h = Tensor::<3>::from_data(TensorData::new(h.concat(), [2, 3, 2]), &d);
        let pooled = Tensor::<2>::from_data(TensorData::new(vec![0.5f32, 0.5, -0.5, -0.5], [2, 2]), &d);
        let mask = Tensor::<2, Int>::from_data(TensorData::new(vec![1i64, 1, 1, 1, 1, 0], [2, 3]), &d);
        (BertOutputs { last_hidden_state: h, pooler_output: Some(pooled) }, mask)
    }

    fn values(t: Tensor<2>) -> Vec<f32> {
        t.into_data().convert::<f32>().try_to_vec::<f32>().unwrap()
    }

    #[test]
    fn each_pooling_by_hand() {
        let (out, mask) = outputs();
        assert_eq!(values(Pooling::Pooler.pool(&out, mask.clone()).unwrap()), [0.5, 0.5, -0.5, -0.5]);
        assert_eq!(values(Pooling::Cls.pool(&out, mask.clone()).unwrap()), [1.0, -2.0, -1.0, 2.0]);
        // Row 2 ignores its padded (100, 100).
        assert_eq!(values(Pooling::Mean.pool(&out, mask.clone()).unwrap()), [3.0, 2.0 / 3.0, 3.0, -2.0]);
        assert_eq!(values(Pooling::Max.pool(&out, mask).unwrap()), [5.0, 4.0, 7.0, 2.0]);
    }

    #[test]
    fn names_round_trip_and_config_key() {
        for &p in Pooling::ALL {
            assert_eq!(p.name().parse::<Pooling>().unwrap(), p);
        }
        assert!("avg".parse::<Pooling>().unwrap_err().contains("pooler, cls, mean, max"));
        let path = Path::new("config.json");
        let mut config: BertConfig =
            serde_json::from_str(include_str!("../../../../fixtures/tiny/config.json")).unwrap();
        assert_eq!(Pooling::of_config(&config, path).unwrap(), None);
        Pooling::Mean.write_to(&mut config);
        assert_eq!(Pooling::of_config(&config, path).unwrap(), Some(Pooling::Mean));
        Pooling::Pooler.write_to(&mut config);
        assert!(!config.extra.contains_key(Pooling::CONFIG_KEY));
        config.extra.insert(Pooling::CONFIG_KEY.into(), "avg".into());
        let err = Pooling::of_config(&config, path).unwrap_err().to_string();
        assert!(err.contains("ft_pooling") && err.contains("pooler, cls, mean, max"), "{err}");
    }

    #[test]
    fn sentence_transformers_files_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let config: BertConfig = serde_json::from_str(include_str!("../../../../fixtures/tiny/config.json")).unwrap();
        assert_eq!(Pooling::detect(dir.path(), &config).unwrap().0, Pooling::Pooler);
        let modules = r#"[{"idx":0,"name":"0","path":"","type":"sentence_transformers.models.Transformer"},
            {"idx":1,"name":"1","path":"1_Pooling","type":"sentence_transformers.models.Pooling"}]"#;
        std::fs::write(dir.path().join("modules.json"), modules).unwrap();
        let err = Pooling::detect(dir.path(), &config).unwrap_err().to_string();
        assert!(err.contains("1_Pooling") && err.contains("missing"), "{err}");
        std::fs::create_dir(dir.path().join("1_Pooling")).unwrap();
        let flags = |cls: bool, mean: bool| {
            format!(
                r#"{{"word_embedding_dimension": 384, "pooling_mode_cls_token": {cls},
                "pooling_mode_mean_tokens": {mean}, "pooling_mode_max_tokens": false,
                "pooling_mode_mean_sqrt_len_tokens": false}}"#
            )
        };
        std::fs::write(dir.path().join("1_Pooling/config.json"), flags(false, true)).unwrap();
        let (p, why) = Pooling::detect(dir.path(), &config).unwrap();
        assert_eq!(p, Pooling::Mean);
        assert!(why.contains("sentence-transformers") && why.contains("1_Pooling"), "{why}");
        std::fs::write(dir.path().join("1_Pooling/config.json"), flags(true, true)).unwrap();
        let err = Pooling::detect(dir.path(), &config).unwrap_err().to_string();
        assert!(err.contains("--pooling"), "{err}");
        std::fs::write(dir.path().join("1_Pooling/config.json"), r#"{"pooling_mode": "cls"}"#).unwrap();
        assert_eq!(Pooling::detect(dir.path(), &config).unwrap().0, Pooling::Cls);
        // A model ft saved says so itself, first.
        let mut saved = config.clone();
        Pooling::Max.write_to(&mut saved);
        assert_eq!(Pooling::detect(dir.path(), &saved).unwrap().0, Pooling::Max);
    }
}
