//! The one error type of ft-model. Every variant names the file, the tensor or key, what was expected,
//! what was found, and how to fix it.

use std::path::PathBuf;

/// Everything that can go wrong building, loading or saving a model.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// A file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The path involved.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The model directory lacks a file the loader needs.
    #[error("{}: missing {file}; a model directory holds config.json and model.safetensors (as save_pretrained writes them)", dir.display())]
    MissingFile {
        /// The model directory.
        dir: PathBuf,
        /// The file looked for.
        file: &'static str,
    },
    /// `config.json` is not valid JSON or lacks a required key.
    #[error("{}: not a valid BERT config: {source}", path.display())]
    ConfigJson {
        /// The config file.
        path: PathBuf,
        /// The serde error (names the key, line and column).
        #[source]
        source: serde_json::Error,
    },
    /// `config.json` parsed, but describes something ft cannot build.
    #[error("{}: {reason}", path.display())]
    Config {
        /// The config file.
        path: PathBuf,
        /// What is wrong, and the fix.
        reason: String,
    },
    /// The safetensors file is damaged (truncated, bad header).
    #[error("{}: not a readable safetensors file ({reason}); the file is damaged or truncated — fetch or save it again", path.display())]
    Safetensors {
        /// The weights file.
        path: PathBuf,
        /// What the parser said.
        reason: String,
    },
    /// A tensor's shape does not match what config.json implies.
    #[error("{}: tensor {name} has shape {found:?}, but config.json implies {expected:?}{hint}", path.display())]
    ShapeMismatch {
        /// The weights file.
        path: PathBuf,
        /// The tensor name as in the file.
        name: String,
        /// Shape implied by config.json.
        expected: Vec<usize>,
        /// Shape in the file.
        found: Vec<usize>,
        /// Extra advice (e.g. how to re-initialise a head).
        hint: String,
    },
    /// Tensors the model needs are absent from the checkpoint.
    #[error("{}: missing tensor{} {} (config.json says {layers} layers{}){hint}", path.display(), if names.len() > 1 { "s" } else { "" }, list(names), file_layers.map(|n| format!(", file has {n}")).unwrap_or_default())]
    MissingTensors {
        /// The weights file.
        path: PathBuf,
        /// Names (HF naming, with or without the `bert.` prefix as the file has it) of the missing tensors.
        names: Vec<String>,
        /// `num_hidden_layers` from the config.
        layers: usize,
        /// How many encoder layers the file holds tensors of, when known.
        file_layers: Option<usize>,
        /// Extra advice.
        hint: String,
    },
    /// A tensor holds NaN or infinite values: the checkpoint is corrupt (a diverged run, a bad export).
    #[error("{}: tensor {name} holds {nan} NaN / {inf} inf values (first at index {first}); the checkpoint is corrupt — re-download or re-export it", path.display())]
    NonFinite {
        /// The weights file.
        path: PathBuf,
        /// The tensor name as in the file.
        name: String,
        /// How many values are NaN.
        nan: usize,
        /// How many values are +inf or -inf.
        inf: usize,
        /// Flat (row-major) index of the first non-finite value.
        first: usize,
    },
    /// A tensor has a data type ft cannot load.
    #[error("{}: tensor {name} has dtype {dtype}; ft loads F32, F16 and BF16 weights", path.display())]
    DType {
        /// The weights file.
        path: PathBuf,
        /// The tensor name.
        name: String,
        /// The dtype found.
        dtype: String,
    },
    /// burn-store refused to apply the tensors (should not happen after our own checks).
    #[error("{}: could not apply the weights: {reason}", path.display())]
    Apply {
        /// The weights file.
        path: PathBuf,
        /// burn-store's message.
        reason: String,
    },
    /// The output directory is unusable.
    #[error("{}: {reason}", path.display())]
    Output {
        /// The directory.
        path: PathBuf,
        /// What is wrong, and the fix.
        reason: String,
    },
    /// `--device` names a backend this build does not have, or one that is unusable here.
    #[error("{0}")]
    Device(String),
    /// Inputs given to `forward` are inconsistent.
    #[error("{0}")]
    Input(String),
}

fn list(names: &[String]) -> String {
    const SHOWN: usize = 6;
    let mut s = names.iter().take(SHOWN).cloned().collect::<Vec<_>>().join(", ");
    if names.len() > SHOWN {
        s.push_str(&format!(" and {} more", names.len() - SHOWN));
    }
    s
}

impl ModelError {
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| Self::Io { path, source }
    }
}
