//! `org/name` models from a Hub, against the loopback Hub of `common/hub_server.rs`: the first
//! download into HuggingFace's cache layout, a cache hit, offline mode, a missing file, a wrong token,
//! a redirect, a connection dropped mid-file, a sharded checkpoint, a pickle-only repository.

mod common;

use common::hub_server::{COMMIT, HubServer, write_shards};
use ft_assets::hub::{HubRepo, HubSettings, fetch_model};
use std::path::{Path, PathBuf};

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures")
}

fn settings(server: &HubServer, cache: &Path, token: Option<&str>) -> HubSettings {
    HubSettings {
        endpoint: server.endpoint.clone(),
        cache: cache.to_path_buf(),
        token: token.map(String::from),
        offline: false,
    }
}

fn same_as_tiny(snapshot: &Path) {
    for f in ["config.json", "model.safetensors", "tokenizer.json", "vocab.txt"] {
        assert_eq!(
            std::fs::read(snapshot.join(f)).unwrap(),
            std::fs::read(fixtures().join("tiny").join(f)).unwrap(),
            "{f}"
        );
    }
}

#[test]
fn first_download_cache_hit_and_offline() {
    let shards = tempfile::tempdir().unwrap();
    write_shards(shards.path());
    let server = HubServer::start(shards.path());
    let cache = tempfile::tempdir().unwrap();
    let repo = HubRepo::parse("org/tiny").unwrap();
    let snapshot = fetch_model(&repo, &settings(&server, cache.path(), None)).unwrap();
    // HuggingFace's layout: snapshots/<commit>/<file> → ../../blobs/<etag>, refs/main = the commit.
    let root = cache.path().join("models--org--tiny");
    assert_eq!(snapshot, root.join("snapshots").join(COMMIT));
    same_as_tiny(&snapshot);
    assert_eq!(std::fs::read_to_string(root.join("refs/main")).unwrap(), COMMIT);
    #[cfg(unix)]
    assert!(std::fs::read_link(snapshot.join("model.safetensors")).unwrap().starts_with("../../blobs"));
    assert!(!std::fs::read_dir(root.join("blobs")).unwrap().any(|e| e.unwrap().path().extension().is_some()));
    let gets = server.count("GET");
    assert_eq!(gets, 6, "config, weights and 4 tokenizer files");

    // Cache hit: HEADs only, no byte downloaded again.
    assert_eq!(fetch_model(&repo, &settings(&server, cache.path(), None)).unwrap(), snapshot);
    assert_eq!(server.count("GET"), gets);

    // Offline: no request at all, the same snapshot; a revision never fetched is refused.
    let before = server.seen.lock().unwrap().len();
    let mut offline = settings(&server, cache.path(), None);
    offline.offline = true;
    assert_eq!(fetch_model(&repo, &offline).unwrap(), snapshot);
    let other = HubRepo::parse("org/tiny@v2").unwrap();
    let err = fetch_model(&other, &offline).unwrap_err().to_string();
    assert!(err.contains("offline") && err.contains("v2"), "{err}");
    assert_eq!(server.seen.lock().unwrap().len(), before);

    // A revision given as the commit resolves to the same snapshot.
    let pinned = HubRepo::parse(&format!("org/tiny@{COMMIT}")).unwrap();
    assert_eq!(fetch_model(&pinned, &settings(&server, cache.path(), None)).unwrap(), snapshot);
}

#[test]
fn refusals_name_the_problem_and_never_the_token() {
    let shards = tempfile::tempdir().unwrap();
    write_shards(shards.path());
    let server = HubServer::start(shards.path());
    let cache = tempfile::tempdir().unwrap();
    let private = HubRepo::parse("org/private").unwrap();
    let err = fetch_model(&private, &settings(&server, cache.path(), None)).unwrap_err().to_string();
    assert!(err.contains("refused access (401)") && err.contains("set HF_TOKEN"), "{err}");
    let err = fetch_model(&private, &settings(&server, cache.path(), Some("wrong-secret"))).unwrap_err().to_string();
    assert!(err.contains("HF_TOKEN was sent and is not accepted") && !err.contains("wrong-secret"), "{err}");
    let snapshot = fetch_model(&private, &settings(&server, cache.path(), Some("good-token"))).unwrap();
    same_as_tiny(&snapshot);

    let empty = HubRepo::parse("org/empty").unwrap();
    let err = fetch_model(&empty, &settings(&server, cache.path(), None)).unwrap_err().to_string();
    assert!(err.contains("no config.json"), "{err}");
    let missing = HubRepo::parse("org/nothing-here").unwrap();
    let err = fetch_model(&missing, &settings(&server, cache.path(), None)).unwrap_err().to_string();
    assert!(err.contains("RepositoryNotFound") && err.contains("check the id"), "{err}");
    let revision = HubRepo::parse("org/tiny@nope").unwrap();
    let err = fetch_model(&revision, &settings(&server, cache.path(), None)).unwrap_err().to_string();
    assert!(err.contains("no revision nope"), "{err}");
    let torch = HubRepo::parse("org/torch").unwrap();
    let err = fetch_model(&torch, &settings(&server, cache.path(), None)).unwrap_err().to_string();
    assert!(err.contains("only pytorch_model.bin") && err.contains("safe_serialization"), "{err}");
    let unreachable =
        HubSettings { endpoint: "http://127.0.0.1:9".into(), cache: cache.path().into(), token: None, offline: false };
    let err = fetch_model(&HubRepo::parse("org/flaky").unwrap(), &unreachable).unwrap_err().to_string();
    assert!(err.contains("HF_HUB_OFFLINE=1"), "{err}");
    // Unreachable, but the revision is cached (org/private above): the cached snapshot, as Python does.
    assert_eq!(fetch_model(&private, &unreachable).unwrap(), snapshot);
}

#[test]
fn redirects_dropped_connections_and_shards() {
    let shards = tempfile::tempdir().unwrap();
    write_shards(shards.path());
    let server = HubServer::start(shards.path());
    let cache = tempfile::tempdir().unwrap();

    // A renamed repository: followed, and cached under the name asked for.
    let renamed = HubRepo::parse("org/old-name").unwrap();
    same_as_tiny(&fetch_model(&renamed, &settings(&server, cache.path(), None)).unwrap());

    // The first GET of the weights stops halfway: resumed with a Range request, complete and exact.
    let flaky = HubRepo::parse("org/flaky").unwrap();
    same_as_tiny(&fetch_model(&flaky, &settings(&server, cache.path(), None)).unwrap());
    assert!(server.seen.lock().unwrap().iter().any(|s| s.path.starts_with("/org/flaky") && s.range.is_some()));

    // A sharded checkpoint: the index and every shard it names.
    let sharded = HubRepo::parse("org/sharded").unwrap();
    let snapshot = fetch_model(&sharded, &settings(&server, cache.path(), None)).unwrap();
    for f in ["model.safetensors.index.json", "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"] {
        assert_eq!(std::fs::read(snapshot.join(f)).unwrap(), std::fs::read(shards.path().join(f)).unwrap(), "{f}");
    }
    assert!(!snapshot.join("model.safetensors").exists());
}
