//! A loopback HuggingFace Hub for tests: `/{repo}/resolve/{revision}/{file}` over HTTP/1.1 on
//! 127.0.0.1 with the headers the Hub sends (`X-Repo-Commit`, `ETag`, `Content-Length`, `Location`,
//! `X-Error-Code`), `Range` requests, and the repositories below. Every request is recorded.
//!
//! - `org/tiny`: fixtures/tiny (config, weights, tokenizer files).
//! - `org/private`: the same, only with `Authorization: Bearer good-token`.
//! - `org/old-name`: a renamed repository, redirected (307, relative `Location`) to `org/tiny`.
//! - `org/flaky`: as `org/tiny`, but the first GET of `model.safetensors` drops the connection halfway.
//! - `org/sharded`: config and tokenizer, `model.safetensors.index.json` and two shards.
//! - `org/torch`: config and a `pytorch_model.bin`, no safetensors.
//! - `org/empty`: a repository without files.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// One request the server saw.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub authorization: Option<String>,
    pub range: Option<String>,
}

pub struct HubServer {
    pub endpoint: String,
    pub seen: Arc<Mutex<Vec<Seen>>>,
}

pub const COMMIT: &str = "0123456789abcdef0123456789abcdef01234567";

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures")
}

fn sha(bytes: &[u8]) -> String {
    use sha2::Digest;
    format!("{:x}", sha2::Sha256::digest(bytes))
}

/// The files of each repository.
fn repos(sharded: &Path) -> BTreeMap<&'static str, BTreeMap<String, Vec<u8>>> {
    let tiny: BTreeMap<String, Vec<u8>> = std::fs::read_dir(fixtures().join("tiny"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), std::fs::read(&p).unwrap()))
        .collect();
    let mut out = BTreeMap::new();
    for name in ["org/tiny", "org/private", "org/flaky"] {
        out.insert(name, tiny.clone());
    }
    let mut shards: BTreeMap<String, Vec<u8>> =
        tiny.iter().filter(|(k, _)| *k != "model.safetensors").map(|(k, v)| (k.clone(), v.clone())).collect();
    for e in std::fs::read_dir(sharded).unwrap() {
        let p = e.unwrap().path();
        shards.insert(p.file_name().unwrap().to_string_lossy().into_owned(), std::fs::read(&p).unwrap());
    }
    out.insert("org/sharded", shards);
    let mut torch = BTreeMap::new();
    torch.insert("config.json".to_string(), tiny["config.json"].clone());
    torch.insert("pytorch_model.bin".to_string(), b"not a pickle".to_vec());
    out.insert("org/torch", torch);
    out.insert("org/empty", BTreeMap::new());
    out
}

impl HubServer {
    /// Starts the server on a free port; `sharded` holds `model.safetensors.index.json` and its shards.
    pub fn start(sharded: &Path) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let repos = Arc::new(repos(sharded));
        let dropped = Arc::new(AtomicBool::new(false));
        let log = seen.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let (repos, log, dropped) = (repos.clone(), log.clone(), dropped.clone());
                std::thread::spawn(move || handle(stream, &repos, &log, &dropped));
            }
        });
        Self { endpoint, seen }
    }

    /// The requests so far with this method.
    pub fn count(&self, method: &str) -> usize {
        self.seen.lock().unwrap().iter().filter(|s| s.method == method).count()
    }
}

fn handle(
    stream: TcpStream,
    repos: &BTreeMap<&str, BTreeMap<String, Vec<u8>>>,
    log: &Mutex<Vec<Seen>>,
    dropped: &AtomicBool,
) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() {
        return;
    }
    let mut parts = line.split_whitespace();
    let (method, path) = (parts.next().unwrap_or("").to_string(), parts.next().unwrap_or("").to_string());
    let mut headers = BTreeMap::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).is_err() || h.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.insert(k.trim().to_lowercase(), v.trim().to_string());
        }
    }
    let seen = Seen {
        method: method.clone(),
        path: path.clone(),
        authorization: headers.get("authorization").cloned(),
        range: headers.get("range").cloned(),
    };
    log.lock().unwrap().push(seen.clone());
    let mut out = stream;
    let respond = |out: &mut TcpStream, status: &str, extra: &[(String, String)], body: &[u8], head: bool| {
        let mut text = format!("HTTP/1.1 {status}\r\nConnection: close\r\nContent-Length: {}\r\n", body.len());
        for (k, v) in extra {
            text.push_str(&format!("{k}: {v}\r\n"));
        }
        text.push_str("\r\n");
        let _ = out.write_all(text.as_bytes());
        if !head {
            let _ = out.write_all(body);
        }
    };
    // /{org}/{name}/resolve/{revision}/{file}
    let segments: Vec<&str> = path.trim_start_matches('/').splitn(5, '/').collect();
    if segments.len() != 5 || segments[2] != "resolve" {
        respond(
            &mut out,
            "404 Not Found",
            &[("X-Error-Code".into(), "RepositoryNotFound".into())],
            b"no such route",
            method == "HEAD",
        );
        return;
    }
    let repo = format!("{}/{}", segments[0], segments[1]);
    let (revision, file) = (segments[3], segments[4]);
    let head = method == "HEAD";
    if repo == "org/old-name" {
        let location = format!("/org/tiny/resolve/{revision}/{file}");
        respond(&mut out, "307 Temporary Redirect", &[("Location".into(), location)], b"", head);
        return;
    }
    if repo == "org/private" && seen.authorization.as_deref() != Some("Bearer good-token") {
        respond(
            &mut out,
            "401 Unauthorized",
            &[("X-Error-Code".into(), "GatedRepo".into())],
            b"Invalid credentials",
            head,
        );
        return;
    }
    let Some(files) = repos.get(repo.as_str()) else {
        respond(
            &mut out,
            "404 Not Found",
            &[("X-Error-Code".into(), "RepositoryNotFound".into())],
            b"Repository not found",
            head,
        );
        return;
    };
    if revision != "main" && revision != COMMIT {
        respond(
            &mut out,
            "404 Not Found",
            &[("X-Error-Code".into(), "RevisionNotFound".into())],
            b"Invalid rev id",
            head,
        );
        return;
    }
    let Some(body) = files.get(file) else {
        respond(
            &mut out,
            "404 Not Found",
            &[("X-Error-Code".into(), "EntryNotFound".into())],
            b"Entry not found",
            head,
        );
        return;
    };
    let meta =
        vec![("ETag".to_string(), format!("\"{}\"", sha(body))), ("X-Repo-Commit".to_string(), COMMIT.to_string())];
    let from = seen
        .range
        .as_deref()
        .and_then(|r| r.strip_prefix("bytes="))
        .and_then(|r| r.trim_end_matches('-').parse::<usize>().ok());
    if head {
        respond(&mut out, "200 OK", &meta, body, true);
        return;
    }
    if let Some(from) = from {
        let mut extra = meta.clone();
        extra.push(("Content-Range".into(), format!("bytes {from}-{}/{}", body.len() - 1, body.len())));
        respond(&mut out, "206 Partial Content", &extra, &body[from.min(body.len())..], false);
        return;
    }
    if repo == "org/flaky" && file == "model.safetensors" && !dropped.swap(true, Ordering::SeqCst) {
        // Announce the whole file, send half, close.
        let mut text = format!("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: {}\r\n", body.len());
        for (k, v) in &meta {
            text.push_str(&format!("{k}: {v}\r\n"));
        }
        text.push_str("\r\n");
        let _ = out.write_all(text.as_bytes());
        let _ = out.write_all(&body[..body.len() / 2]);
        let _ = out.flush();
        let _ = out.shutdown(std::net::Shutdown::Both);
        return;
    }
    respond(&mut out, "200 OK", &meta, body, false);
    let _ = reader.read(&mut [0u8; 0]);
}

/// `model.safetensors.index.json` and two shards of fixtures/tiny's weights, written into `dir`.
pub fn write_shards(dir: &Path) {
    let bytes = std::fs::read(fixtures().join("tiny/model.safetensors")).unwrap();
    let tensors = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let mut names: Vec<String> = tensors.names().into_iter().map(String::from).collect();
    names.sort();
    let half = names.len() / 2;
    let mut map = serde_json::Map::new();
    for (i, group) in [&names[..half], &names[half..]].into_iter().enumerate() {
        let file = format!("model-0000{}-of-00002.safetensors", i + 1);
        let views: Vec<(String, safetensors::tensor::TensorView<'_>)> =
            group.iter().map(|n| (n.clone(), tensors.tensor(n).unwrap())).collect();
        for n in group {
            map.insert(n.clone(), file.clone().into());
        }
        safetensors::serialize_to_file(views, None, &dir.join(&file)).unwrap();
    }
    let index = serde_json::json!({"metadata": {"total_size": bytes.len()}, "weight_map": map});
    std::fs::write(dir.join("model.safetensors.index.json"), index.to_string()).unwrap();
}
