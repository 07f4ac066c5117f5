//! Where fetched assets live, and how a directory is written so that no reader ever sees half of it.

use crate::AssetError;
use std::path::{Path, PathBuf};

/// The cache root: `$FT_HOME`, else `$XDG_CACHE_HOME/ft`, else `~/.cache/ft`.
pub fn ft_home() -> PathBuf {
    if let Some(home) = std::env::var_os("FT_HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(home);
    }
    if let Some(xdg) = std::env::var_os("XDG_CACHE_HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(xdg).join("ft");
    }
    let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("."));
    home.join(".cache").join("ft")
}

/// Builds a directory with `fill` in a temporary sibling, then renames it to `dest`.
///
/// If `dest` appears meanwhile (another process finished first), that one is kept and ours dropped, so
/// concurrent test binaries fetching the same asset are safe.
pub fn write_dir_atomically(dest: &Path, fill: impl FnOnce(&Path) -> Result<(), AssetError>) -> Result<(), AssetError> {
    let parent = dest.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(AssetError::io(parent))?;
    let mut builder = tempfile::Builder::new();
    builder.prefix(".ft-partial-");
    // The temporary directory becomes `dest`: give it mkdir's mode (0777 less the umask, 0755 under the
    // usual 022) instead of tempfile's private 0700, so that other users can read the cache.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(0o777));
    }
    let tmp = builder.tempdir_in(parent).map_err(AssetError::io(parent))?;
    fill(tmp.path())?;
    let tmp_path = tmp.keep();
    match std::fs::rename(&tmp_path, dest) {
        Ok(()) => Ok(()),
        Err(_) if dest.is_dir() => {
            let _ = std::fs::remove_dir_all(&tmp_path);
            Ok(())
        }
        Err(source) => {
            let _ = std::fs::remove_dir_all(&tmp_path);
            Err(AssetError::Io { path: dest.to_path_buf(), source })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_fill_leaves_nothing_behind() {
        let root = tempfile::tempdir().unwrap();
        let dest = root.path().join("asset");
        let err = write_dir_atomically(&dest, |tmp| {
            std::fs::write(tmp.join("half"), b"x").unwrap();
            Err(AssetError::MissingMember { archive: "a.whl".into(), member: "m".into() })
        });
        assert!(err.is_err());
        assert!(!dest.exists());
        assert_eq!(std::fs::read_dir(root.path()).unwrap().count(), 0, "temp dir left behind");
    }

    /// The permission bits a plainly created file gets here: 0666 less the process umask.
    #[cfg(unix)]
    fn plain_file_mode(dir: &Path) -> u32 {
        use std::os::unix::fs::PermissionsExt;
        let probe = dir.join("probe");
        std::fs::write(&probe, b"").unwrap();
        let mode = std::fs::metadata(&probe).unwrap().permissions().mode() & 0o777;
        std::fs::remove_file(probe).unwrap();
        mode
    }

    #[cfg(unix)]
    #[test]
    fn atomically_written_directory_is_readable_by_others_as_the_umask_allows() {
        use std::os::unix::fs::PermissionsExt;
        let root = tempfile::tempdir().unwrap();
        let dest = root.path().join("asset");
        write_dir_atomically(&dest, |tmp| std::fs::write(tmp.join("f"), b"x").map_err(AssetError::io(tmp))).unwrap();
        let dir_mode = std::fs::metadata(&dest).unwrap().permissions().mode() & 0o777;
        // mkdir gives 0777 & !umask, a file 0666 & !umask: their read/write bits agree (0755 and 0644
        // under umask 022), where tempfile's own 0700 would not.
        let file_mode = plain_file_mode(root.path());
        assert_eq!(dir_mode & 0o666, file_mode, "directory mode {dir_mode:o}, plain file {file_mode:o}");
        assert_eq!(dir_mode & 0o100, 0o100, "owner can enter it");
    }

    #[test]
    fn successful_fill_appears_whole() {
        let root = tempfile::tempdir().unwrap();
        let dest = root.path().join("a").join("asset");
        write_dir_atomically(&dest, |tmp| std::fs::write(tmp.join("f"), b"hello").map_err(AssetError::io(tmp)))
            .unwrap();
        assert_eq!(std::fs::read(dest.join("f")).unwrap(), b"hello");
    }
}
