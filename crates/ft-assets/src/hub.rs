//! HuggingFace Hub model ids (`org/name[@revision]`): the files ft needs downloaded into the standard
//! HuggingFace cache, so that Python and ft share downloads.
//!
//! Done by hand over HTTP (ureq), the protocol `huggingface_hub` speaks: `HEAD
//! {endpoint}/{repo}/resolve/{revision}/{file}` without following redirects gives the commit
//! (`X-Repo-Commit`), the blob's id (`X-Linked-Etag` for LFS files, else `ETag`) and where the bytes are
//! (`Location`: a relative one is a renamed repository, followed; an absolute one is the CDN); the bytes
//! go to `blobs/<etag>.incomplete`, resumed with `Range` after a dropped connection, checked against
//! the announced length, then renamed to `blobs/<etag>` and linked from `snapshots/<commit>/<file>`;
//! `refs/<revision>` records the commit. The cache root is `$HF_HUB_CACHE`, else `$HF_HOME/hub`, else
//! `~/.cache/huggingface/hub`. `HF_ENDPOINT` replaces the endpoint, `HF_TOKEN` is sent as a bearer token
//! (never printed), `HF_HUB_OFFLINE=1` (or `--offline`) resolves from the cache alone.
//!
//! A file that is never complete is never where the cache looks: a killed download leaves only an
//! `.incomplete` file, which the next run resumes.

use crate::AssetError;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The endpoint when `HF_ENDPOINT` is not set.
pub const DEFAULT_ENDPOINT: &str = "https://huggingface.co";

/// A Hub model id with the revision to fetch (`main` unless `@revision` is given).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HubRepo {
    /// `org/name`.
    pub id: String,
    /// A branch, tag or commit.
    pub revision: String,
}

impl HubRepo {
    /// Parses `org/name` or `org/name@revision`; `None` for anything else.
    pub fn parse(spec: &str) -> Option<Self> {
        let (id, revision) = match spec.split_once('@') {
            Some((id, rev)) if !rev.is_empty() && !rev.contains(['/', '\\']) || rev_is_ref(rev) => (id, rev),
            Some(_) => return None,
            None => (spec, "main"),
        };
        let (org, name) = id.split_once('/')?;
        let ok = |s: &str| {
            !s.is_empty()
                && !s.starts_with(['.', '-'])
                && s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        };
        (ok(org) && ok(name)).then(|| Self { id: id.to_string(), revision: revision.to_string() })
    }

    /// The cache folder of the repository: `models--org--name`.
    pub fn folder(&self) -> String {
        format!("models--{}", self.id.replace('/', "--"))
    }
}

/// `refs/pr/1`-style revisions contain a slash.
fn rev_is_ref(rev: &str) -> bool {
    rev.starts_with("refs/pr/") && rev[8..].chars().all(|c| c.is_ascii_digit()) && rev.len() > 8
}

/// Where and how to reach the Hub.
#[derive(Debug, Clone)]
pub struct HubSettings {
    /// `HF_ENDPOINT` or [`DEFAULT_ENDPOINT`], without a trailing slash.
    pub endpoint: String,
    /// The cache root (`…/huggingface/hub`).
    pub cache: PathBuf,
    /// `HF_TOKEN`, sent as `Authorization: Bearer …`.
    pub token: Option<String>,
    /// Resolve from the cache alone.
    pub offline: bool,
}

impl HubSettings {
    /// From the environment, as `huggingface_hub` reads it.
    pub fn from_env() -> Self {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
        let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("."));
        let cache = var("HF_HUB_CACHE").map(PathBuf::from).unwrap_or_else(|| {
            var("HF_HOME").map(PathBuf::from).unwrap_or_else(|| home.join(".cache").join("huggingface")).join("hub")
        });
        let offline =
            var("HF_HUB_OFFLINE").is_some_and(|v| matches!(v.to_lowercase().as_str(), "1" | "true" | "yes" | "on"));
        Self {
            endpoint: var("HF_ENDPOINT").unwrap_or_else(|| DEFAULT_ENDPOINT.into()).trim_end_matches('/').to_string(),
            cache,
            token: var("HF_TOKEN"),
            offline,
        }
    }
}

/// What a snapshot directory of the cache is: `(org/name, commit)` for
/// `…/models--org--name/snapshots/<commit>`, `None` for any other directory.
pub fn snapshot_of(dir: &Path) -> Option<(String, String)> {
    let commit = dir.file_name()?.to_str()?.to_string();
    let snapshots = dir.parent()?;
    if snapshots.file_name()? != "snapshots" {
        return None;
    }
    let folder = snapshots.parent()?.file_name()?.to_str()?;
    let (org, name) = folder.strip_prefix("models--")?.split_once("--")?;
    Some((format!("{org}/{name}"), commit))
}

/// Files a model directory may hold besides the weights; absent ones are skipped.
const OPTIONAL_FILES: [&str; 4] = ["tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt"];

/// The snapshot directory of `repo` with `config.json`, the weights (`model.safetensors`, or
/// `model.safetensors.index.json` and its shards) and the tokenizer files, downloading what the cache
/// lacks. Offline, the snapshot `refs/<revision>` names must already be complete.
pub fn fetch_model(repo: &HubRepo, settings: &HubSettings) -> Result<PathBuf, AssetError> {
    let root = settings.cache.join(repo.folder());
    if settings.offline {
        return offline_snapshot(repo, &root);
    }
    let client = Client::new(settings);
    let config = match client.file(repo, &root, "config.json") {
        // The Hub cannot be reached but the revision is cached: use it, as huggingface_hub does.
        Err(e) if client.unreachable.get() => match offline_snapshot(repo, &root) {
            Ok(snapshot) => {
                log::warn!("{e}; using the cached snapshot {}", snapshot.display());
                return Ok(snapshot);
            }
            Err(_) => return Err(e),
        },
        other => other?,
    };
    let config = config.ok_or_else(|| AssetError::Hub {
        id: repo.id.clone(),
        reason: format!("the repository has no config.json at revision {}; is it a model repository?", repo.revision),
    })?;
    let snapshot = config.parent().map(Path::to_path_buf).unwrap_or_default();
    if client.file(repo, &root, "model.safetensors")?.is_none() {
        let Some(index) = client.file(repo, &root, "model.safetensors.index.json")? else {
            let torch = client.head(repo, "pytorch_model.bin")?.is_some();
            return Err(AssetError::Hub {
                id: repo.id.clone(),
                reason: if torch {
                    "the repository has only pytorch_model.bin (a pickle, which can run code when loaded); ft reads \
                     safetensors: convert it once in Python (`from transformers import AutoModel; \
                     AutoModel.from_pretrained(ID).save_pretrained(DIR, safe_serialization=True)`) and pass --model DIR"
                        .into()
                } else {
                    format!("no model.safetensors or model.safetensors.index.json at revision {}", repo.revision)
                },
            });
        };
        for shard in shard_names(&index)? {
            client.file(repo, &root, &shard)?.ok_or_else(|| AssetError::Hub {
                id: repo.id.clone(),
                reason: format!("model.safetensors.index.json names {shard}, which the repository does not have"),
            })?;
        }
    }
    for name in OPTIONAL_FILES {
        client.file(repo, &root, name)?;
    }
    Ok(snapshot)
}

/// The shard files of a `model.safetensors.index.json` (its `weight_map` values), in order, once each.
pub fn shard_names(index: &Path) -> Result<Vec<String>, AssetError> {
    let text = std::fs::read_to_string(index).map_err(|e| AssetError::Io { path: index.to_path_buf(), source: e })?;
    let bad = |reason: String| AssetError::Hub { id: index.display().to_string(), reason };
    let value: serde_json::Value = serde_json::from_str(&text).map_err(|e| bad(format!("not JSON: {e}")))?;
    let map = value["weight_map"].as_object().ok_or_else(|| bad("no `weight_map` object".into()))?;
    let mut shards: Vec<String> = Vec::new();
    for v in map.values() {
        let name = v.as_str().ok_or_else(|| bad(format!("`weight_map` holds {v}")))?;
        if name.contains("..") || name.starts_with('/') {
            return Err(bad(format!("shard name {name:?} leaves the repository")));
        }
        if !shards.iter().any(|s| s == name) {
            shards.push(name.to_string());
        }
    }
    Ok(shards)
}

fn offline_snapshot(repo: &HubRepo, root: &Path) -> Result<PathBuf, AssetError> {
    let commit = match std::fs::read_to_string(root.join("refs").join(&repo.revision)) {
        Ok(c) => c.trim().to_string(),
        Err(_) => repo.revision.clone(),
    };
    let snapshot = root.join("snapshots").join(&commit);
    if snapshot.join("config.json").is_file() {
        return Ok(snapshot);
    }
    Err(AssetError::Hub {
        id: repo.id.clone(),
        reason: format!(
            "offline (HF_HUB_OFFLINE or --offline) and revision {} is not in the cache {}; run once online to download it",
            repo.revision,
            root.display()
        ),
    })
}

/// What a HEAD of a file said.
struct Meta {
    commit: String,
    etag: String,
    /// Where to GET the bytes.
    url: String,
    size: Option<u64>,
}

struct Client<'a> {
    agent: ureq::Agent,
    settings: &'a HubSettings,
    /// Set when a request failed below HTTP (no connection, DNS, TLS).
    unreachable: std::cell::Cell<bool>,
}

impl<'a> Client<'a> {
    fn new(settings: &'a HubSettings) -> Self {
        let config = ureq::Agent::config_builder()
            .max_redirects(0)
            .http_status_as_error(false)
            .timeout_connect(Some(Duration::from_secs(20)))
            .user_agent(concat!("ft/", env!("CARGO_PKG_VERSION")))
            .build();
        Self { agent: config.into(), settings, unreachable: std::cell::Cell::new(false) }
    }

    fn url(&self, repo: &HubRepo, file: &str) -> String {
        format!("{}/{}/resolve/{}/{}", self.settings.endpoint, repo.id, repo.revision, file)
    }

    fn authorised<B>(&self, request: ureq::RequestBuilder<B>) -> ureq::RequestBuilder<B> {
        match &self.settings.token {
            Some(t) => request.header("Authorization", format!("Bearer {t}")),
            None => request,
        }
    }

    /// HEAD of `file`: `None` when the repository has no such file (404 with `EntryNotFound`).
    fn head(&self, repo: &HubRepo, file: &str) -> Result<Option<Meta>, AssetError> {
        let mut url = self.url(repo, file);
        for _ in 0..5 {
            let response = self.authorised(self.agent.head(&url)).call().map_err(|e| self.net(repo, file, e))?;
            let status = response.status().as_u16();
            let header = |k: &str| response.headers().get(k).and_then(|v| v.to_str().ok()).map(str::to_string);
            let location = header("location");
            match status {
                // A renamed repository: the same path under another name, relative to the endpoint.
                300..=399 if relative(&location) => {
                    url = format!("{}{}", self.settings.endpoint, location.unwrap_or_default());
                }
                // 2xx: the Hub serves the file; 3xx elsewhere: an LFS file on the CDN.
                200..=399 => {
                    let commit = header("x-repo-commit").ok_or_else(|| AssetError::Hub {
                        id: repo.id.clone(),
                        reason: format!(
                            "{file}: the answer has no X-Repo-Commit; is HF_ENDPOINT ({}) a Hub?",
                            self.settings.endpoint
                        ),
                    })?;
                    let etag = header("x-linked-etag").or_else(|| header("etag")).ok_or_else(|| AssetError::Hub {
                        id: repo.id.clone(),
                        reason: format!("{file}: the server sent no ETag"),
                    })?;
                    let etag = etag.trim_start_matches("W/").trim_matches('"').to_string();
                    if etag.is_empty() || etag.contains(['/', '\\', '.']) {
                        return Err(AssetError::Hub {
                            id: repo.id.clone(),
                            reason: format!("{file}: unusable ETag {etag:?}"),
                        });
                    }
                    if commit.is_empty() || commit.contains(['/', '\\', '.']) {
                        return Err(AssetError::Hub {
                            id: repo.id.clone(),
                            reason: format!("{file}: unusable commit {commit:?}"),
                        });
                    }
                    let size =
                        header("x-linked-size").or_else(|| header("content-length")).and_then(|s| s.parse().ok());
                    let url = if status >= 300 { location.unwrap_or(url) } else { url };
                    return Ok(Some(Meta { commit, etag, url, size }));
                }
                401 | 403 => {
                    return Err(AssetError::Hub {
                        id: repo.id.clone(),
                        reason: format!(
                            "{file}: the Hub refused access ({status}): the repository is private or gated, or it does not exist; {}",
                            if self.settings.token.is_some() {
                                "HF_TOKEN was sent and is not accepted for it"
                            } else {
                                "set HF_TOKEN to a token that can read it"
                            }
                        ),
                    });
                }
                404 => {
                    return match header("x-error-code").as_deref() {
                        Some("EntryNotFound") | None => Ok(None),
                        Some("RevisionNotFound") => Err(AssetError::Hub {
                            id: repo.id.clone(),
                            reason: format!("no revision {} (a branch, tag or commit)", repo.revision),
                        }),
                        Some(code) => Err(AssetError::Hub {
                            id: repo.id.clone(),
                            reason: format!(
                                "not found ({code}): check the id, or set HF_TOKEN for a private repository"
                            ),
                        }),
                    };
                }
                _ => {
                    return Err(AssetError::Hub {
                        id: repo.id.clone(),
                        reason: format!("{file}: the Hub answered {status}"),
                    });
                }
            }
        }
        Err(AssetError::Hub { id: repo.id.clone(), reason: format!("{file}: too many redirects") })
    }

    fn net(&self, repo: &HubRepo, file: &str, e: ureq::Error) -> AssetError {
        self.unreachable.set(true);
        AssetError::Hub {
            id: repo.id.clone(),
            reason: format!(
                "{file}: {e} (endpoint {}); set HF_HUB_OFFLINE=1 or pass --offline to use the cache alone",
                self.settings.endpoint
            ),
        }
    }

    /// `file` of `repo` in the snapshot of its commit, downloaded when the cache lacks its blob;
    /// `None` when the repository has no such file.
    fn file(&self, repo: &HubRepo, root: &Path, file: &str) -> Result<Option<PathBuf>, AssetError> {
        let Some(meta) = self.head(repo, file)? else { return Ok(None) };
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |e| AssetError::Io { path, source: e }
        };
        let blobs = root.join("blobs");
        let snapshot = root.join("snapshots").join(&meta.commit);
        let target = snapshot.join(file);
        std::fs::create_dir_all(&blobs).map_err(io(&blobs))?;
        let blob = blobs.join(&meta.etag);
        if !blob.is_file() {
            // One download of a blob at a time, across processes (another ft or Python may share the cache).
            let lock_path = blobs.join(format!("{}.lock", meta.etag));
            let lock = std::fs::File::create(&lock_path).map_err(io(&lock_path))?;
            lock.lock().map_err(io(&lock_path))?;
            if !blob.is_file() {
                self.download(repo, file, &meta, &blob)?;
            }
            drop(lock);
            let _ = std::fs::remove_file(&lock_path);
        }
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(io(parent))?;
        }
        if !target.is_file() {
            let _ = std::fs::remove_file(&target);
            link(&blob, &target).map_err(io(&target))?;
        }
        if repo.revision != meta.commit {
            let refs = root.join("refs");
            let ref_path = refs.join(&repo.revision);
            if let Some(parent) = ref_path.parent() {
                std::fs::create_dir_all(parent).map_err(io(parent))?;
            }
            if std::fs::read_to_string(&ref_path).ok().as_deref() != Some(meta.commit.as_str()) {
                std::fs::write(&ref_path, &meta.commit).map_err(io(&ref_path))?;
            }
        }
        Ok(Some(target))
    }

    /// The bytes of `meta.url` into `blob`, through `blob.incomplete`: resumed with `Range` after a
    /// dropped connection (three tries), the length checked, then renamed into place.
    fn download(&self, repo: &HubRepo, file: &str, meta: &Meta, blob: &Path) -> Result<(), AssetError> {
        let partial = blob.with_extension("incomplete");
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |e| AssetError::Io { path, source: e }
        };
        log::info!(
            "downloading {}/{file} ({})",
            repo.id,
            meta.size.map(human).unwrap_or_else(|| "size unknown".into())
        );
        // A bar for files over 10 MB (indicatif draws nothing when stderr is not a terminal).
        let bar = match meta.size {
            Some(size) if size > 10 << 20 => {
                let bar = indicatif::ProgressBar::new(size);
                bar.set_style(
                    indicatif::ProgressStyle::with_template(
                        "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
                    )
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
                );
                bar.set_message(format!("{}/{file}", repo.id));
                Some(bar)
            }
            _ => None,
        };
        let mut last_error = String::new();
        for _attempt in 0..4 {
            let have = std::fs::metadata(&partial).map(|m| m.len()).unwrap_or(0);
            if let Some(bar) = &bar {
                bar.set_position(have);
            }
            if meta.size.is_some_and(|s| have > s) {
                std::fs::remove_file(&partial).map_err(io(&partial))?;
                continue;
            }
            let mut request = self.agent.get(&meta.url);
            // The token goes to the Hub itself, not to a CDN it redirects to.
            if meta.url.starts_with(&self.settings.endpoint) {
                request = self.authorised(request);
            }
            if have > 0 {
                request = request.header("Range", format!("bytes={have}-"));
            }
            let response = match request.call() {
                Ok(r) => r,
                Err(e) => {
                    last_error = e.to_string();
                    continue;
                }
            };
            let status = response.status().as_u16();
            let append = match status {
                206 => true,
                200 => false,
                other => {
                    return Err(AssetError::Hub {
                        id: repo.id.clone(),
                        reason: format!("{file}: the download answered {other}"),
                    });
                }
            };
            let mut out = std::fs::OpenOptions::new()
                .create(true)
                .append(append)
                .write(true)
                .truncate(!append)
                .open(&partial)
                .map_err(io(&partial))?;
            let mut reader = response.into_body().into_reader();
            let mut buf = vec![0u8; 1 << 16];
            let copied: std::io::Result<()> = loop {
                match reader.read(&mut buf) {
                    Ok(0) => break Ok(()),
                    Ok(n) => {
                        out.write_all(&buf[..n]).map_err(io(&partial))?;
                        if let Some(bar) = &bar {
                            bar.inc(n as u64);
                        }
                    }
                    Err(e) => break Err(e),
                }
            };
            out.sync_all().map_err(io(&partial))?;
            drop(out);
            if let Err(e) = copied {
                last_error = e.to_string();
                log::warn!("{}/{file}: the connection dropped ({e}); resuming", repo.id);
                continue;
            }
            let got = std::fs::metadata(&partial).map_err(io(&partial))?.len();
            if meta.size.is_some_and(|s| got != s) {
                last_error = format!("{got} bytes of {}", meta.size.unwrap_or_default());
                continue;
            }
            if let Some(bar) = &bar {
                bar.finish_and_clear();
            }
            return std::fs::rename(&partial, blob).map_err(io(blob));
        }
        Err(AssetError::Hub {
            id: repo.id.clone(),
            reason: format!(
                "{file}: the download did not complete ({last_error}); what arrived is kept in {} and the next run resumes it",
                partial.display()
            ),
        })
    }
}

/// Whether a `Location` header is relative to the endpoint (a renamed repository).
fn relative(location: &Option<String>) -> bool {
    location.as_deref().is_some_and(|l| l.starts_with('/'))
}

/// `snapshots/<commit>/<file>` → the blob, as `huggingface_hub` links it (a relative symlink; a copy
/// where symlinks are not allowed).
fn link(blob: &Path, target: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        let depth = target
            .strip_prefix(blob.parent().and_then(Path::parent).unwrap_or(Path::new("")))
            .map(|p| p.components().count())
            .unwrap_or(0);
        let mut relative = PathBuf::new();
        for _ in 1..depth {
            relative.push("..");
        }
        relative.push("blobs");
        relative.push(blob.file_name().unwrap_or_default());
        if std::os::unix::fs::symlink(&relative, target).is_ok() {
            return Ok(());
        }
    }
    std::fs::copy(blob, target).map(|_| ())
}

fn human(bytes: u64) -> String {
    match bytes {
        b if b >= 1 << 30 => format!("{:.1} GB", b as f64 / (1u64 << 30) as f64),
        b if b >= 1 << 20 => format!("{:.1} MB", b as f64 / (1u64 << 20) as f64),
        b => format!("{:.1} KB", b as f64 / 1024.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_revisions_parse() {
        assert_eq!(HubRepo::parse("org/name"), Some(HubRepo { id: "org/name".into(), revision: "main".into() }));
        let r = HubRepo::parse("google/bert_uncased_L-2_H-128_A-2@v1.0").unwrap();
        assert_eq!((r.id.as_str(), r.revision.as_str()), ("google/bert_uncased_L-2_H-128_A-2", "v1.0"));
        assert_eq!(HubRepo::parse("org/name@refs/pr/3").unwrap().revision, "refs/pr/3");
        for bad in ["name", "org/", "/name", "a/b/c", "org/name@", "../x", "org/na me", "org/name@a/b"] {
            assert_eq!(HubRepo::parse(bad), None, "{bad}");
        }
        assert_eq!(HubRepo::parse("org/name").unwrap().folder(), "models--org--name");
    }
}
