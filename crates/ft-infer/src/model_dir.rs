//! What every predictor checks when it opens a model directory: the directory itself, the
//! tokenizer against the embedding table, and the number of tokens per text.

use crate::InferError;
use ft_data::Tokenizer;
use std::path::{Path, PathBuf};

/// Tokens per text when neither the caller nor the run says: 128, or fewer if the model has fewer
/// positions.
pub const DEFAULT_MAX_LEN: usize = 128;

/// The directory of `model` (a directory, or a packaged asset fetched on first use).
pub fn resolve(model: &str) -> Result<PathBuf, InferError> {
    ft_assets::resolve_model(model)
        .map_err(|source| InferError::Resolve { spec: model.to_string(), source: Box::new(source) })
}

/// A tokenizer must not emit an id the model's embedding table lacks (the backend's gather would
/// read out of bounds).
pub fn check_tokenizer_fits(tokenizer: &Tokenizer, vocab_size: usize, dir: &Path) -> Result<(), InferError> {
    let max_id = tokenizer.max_token_id() as usize;
    if max_id >= vocab_size {
        return Err(InferError::Config(format!(
            "{}: the tokenizer emits ids up to {max_id}, but config.json says vocab_size {vocab_size} (ids 0..{}); the tokenizer files and the model do not belong together — use the model's own tokenizer.json / vocab.txt",
            dir.display(),
            vocab_size.saturating_sub(1)
        )));
    }
    Ok(())
}

/// `max_len` if given (checked against the model's `positions`), else [`DEFAULT_MAX_LEN`] capped at
/// `positions`.
pub fn max_len(max_len: Option<usize>, positions: usize) -> Result<usize, InferError> {
    let max_len = max_len.unwrap_or(DEFAULT_MAX_LEN.min(positions));
    if max_len > positions || max_len < 3 {
        return Err(InferError::Config(format!(
            "--max-len {max_len}: must be between 3 and the model's {positions} positions"
        )));
    }
    Ok(max_len)
}

/// The tokenizer of the model in `dir`, checked against its `vocab_size`.
pub fn tokenizer(dir: &Path, vocab_size: usize) -> Result<Tokenizer, InferError> {
    let tokenizer = Tokenizer::from_dir(dir)
        .map_err(|source| InferError::Tokenizer { dir: dir.to_path_buf(), source: Box::new(source) })?;
    check_tokenizer_fits(&tokenizer, vocab_size, dir)?;
    Ok(tokenizer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_len_defaults_to_128_within_the_positions() {
        assert_eq!(max_len(None, 512).unwrap(), 128);
        assert_eq!(max_len(None, 64).unwrap(), 64);
        assert_eq!(max_len(Some(256), 512).unwrap(), 256);
        assert!(max_len(Some(513), 512).unwrap_err().to_string().contains("between 3 and the model's 512"));
        assert!(max_len(Some(2), 512).is_err());
    }
}
