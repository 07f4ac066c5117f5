//! Atomic outputs: a file is written through a temporary sibling and a rename; a model is staged and
//! moved in with `config.json` last. Readers see the old content or the new, never a part; the files
//! get the permissions a plain create would (the umask is honoured).

use crate::TrainError;
use std::io::Write;
use std::path::Path;

fn err(path: &Path, what: impl std::fmt::Display) -> TrainError {
    TrainError::Output(format!("{}: {what}", path.display()))
}

/// Writes `bytes` to `path` through a temporary sibling and a rename: readers see the old file or the
/// new one, never a part. The file gets the permissions a plain create would (0666 less the umask).
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), TrainError> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let mut tmp = temp_builder(".ft-write-", 0o666).tempfile_in(dir).map_err(|e| err(path, e))?;
    tmp.write_all(bytes).and_then(|_| tmp.as_file().sync_data()).map_err(|e| err(path, e))?;
    tmp.persist(path).map_err(|e| err(path, e.error))?;
    Ok(())
}

/// A `tempfile` builder whose file or directory is created with `mode` less the umask (tempfile's
/// own default, 0600/0700, would make outputs unreadable to other users).
pub fn temp_builder(prefix: &str, mode: u32) -> tempfile::Builder<'_, 'static> {
    let mut b = tempfile::Builder::new();
    b.prefix(prefix);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        b.permissions(std::fs::Permissions::from_mode(mode));
    }
    #[cfg(not(unix))]
    let _ = mode;
    b
}

/// Writes `model` as a HuggingFace model into `out`, replacing only the model's own files (config,
/// weights, tokenizer) and keeping everything else there (a run's metrics, logs, checkpoints). The
/// files are written to a staging directory first and moved in with config.json last, so `out` never
/// holds a loadable-looking but incomplete model. `tokenizer_from` is the directory whose tokenizer
/// files are copied along.
pub fn install_model<H: ft_model::Head>(
    model: &H,
    config: &ft_model::BertConfig,
    out: &Path,
    tokenizer_from: Option<&Path>,
) -> Result<(), TrainError> {
    std::fs::create_dir_all(out).map_err(|e| err(out, e))?;
    let staging = out.join(".model-staging");
    if staging.exists() {
        std::fs::remove_dir_all(&staging).map_err(|e| err(&staging, e))?;
    }
    ft_model::save_pretrained(model, config, &staging, tokenizer_from, false)
        .map_err(|source| TrainError::Save { dir: out.to_path_buf(), source: Box::new(source) })?;
    let mut names: Vec<String> = std::fs::read_dir(&staging)
        .map_err(|e| err(&staging, e))?
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort_by_key(|n| n == "config.json");
    for name in names {
        std::fs::rename(staging.join(&name), out.join(&name))
            .map_err(|e| err(out, format!("moving {name} into it: {e}")))?;
    }
    std::fs::remove_dir_all(&staging).ok();
    Ok(())
}
