//! `ft train --model org/name` against the loopback Hub (`ft-assets/tests/common/hub_server.rs`):
//! HF_ENDPOINT points at it, HF_HOME at a temporary cache; the run trains on the downloaded snapshot
//! and a second command (`ft inspect`, offline) finds the model in the cache with no request.

#[path = "../../ft-assets/tests/common/hub_server.rs"]
mod hub_server;

use std::path::PathBuf;
use std::process::Command;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures")
}

#[test]
fn train_on_a_hub_id_then_find_it_offline() {
    let shards = tempfile::tempdir().unwrap();
    hub_server::write_shards(shards.path());
    let server = hub_server::HubServer::start(shards.path());
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("hf");
    let mut data = String::from("text,label\n");
    for i in 0..40 {
        data.push_str(if i % 2 == 0 { "good fun movie,positive\n" } else { "bad boring film,negative\n" });
    }
    let train = dir.path().join("train.csv");
    std::fs::write(&train, data).unwrap();
    let out = dir.path().join("run");
    let ft = || {
        let mut c = Command::new(env!("CARGO_BIN_EXE_ft"));
        c.env("HF_ENDPOINT", &server.endpoint)
            .env("HF_HOME", &home)
            .env_remove("HF_HUB_OFFLINE")
            .env_remove("HF_TOKEN");
        c.env_remove("HF_HUB_CACHE");
        c
    };
    let o = ft()
        .args(["train", "--model", "org/tiny", "--train", train.to_str().unwrap(), "--output", out.to_str().unwrap()])
        .args(["--max-steps", "2", "--batch-size", "8", "--max-len", "16", "--reinit-head"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let snapshot = home.join("hub/models--org--tiny/snapshots").join(hub_server::COMMIT);
    assert_eq!(
        std::fs::read(snapshot.join("model.safetensors")).unwrap(),
        std::fs::read(fixtures().join("tiny/model.safetensors")).unwrap()
    );
    assert!(out.join("model.safetensors").is_file());
    // The output records which commit `main` was.
    let config: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("config.json")).unwrap()).unwrap();
    assert_eq!(
        config["ft_base_model"],
        serde_json::json!({"hub": "org/tiny", "revision": "main", "commit": hub_server::COMMIT})
    );
    // A sharded checkpoint downloads and loads.
    let o = ft().args(["inspect", "org/sharded"]).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let requests = server.seen.lock().unwrap().len();
    let o = ft().env("HF_HUB_OFFLINE", "1").args(["inspect", "org/tiny"]).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = ft().args(["fetch", "org/tiny", "--offline"]).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), snapshot.display().to_string());
    assert_eq!(server.seen.lock().unwrap().len(), requests, "offline: no request");
    // Offline, a model never fetched is refused with the way out.
    let o = ft().args(["fetch", "org/flaky", "--offline"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && stderr.contains("run once online"), "{stderr}");
}
