//! The `ft` binary end to end, in temporary directories: outputs, exit codes, and one-paragraph errors
//! (never a panic) on bad input.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures")
}

fn ft(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ft")).args(args).output().expect("ft runs")
}

fn text(out: &Output) -> (String, String) {
    (String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// A failure: non-zero exit, an `error:` line on stderr, no panic, nothing on stdout.
fn assert_clean_failure(out: &Output) -> String {
    let (stdout, stderr) = text(out);
    assert!(!out.status.success(), "expected failure, got success: {stdout}");
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.starts_with("error: "), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(stdout.is_empty(), "{stdout}");
    stderr
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
}

#[test]
fn inspect_reports_counts_and_device() {
    let out = ft(&["inspect", fixtures().join("tiny").to_str().unwrap()]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.contains("2 layers · hidden 32 · 4 heads"), "{stdout}");
    assert!(stdout.contains("labels     3 (negative, neutral, positive)"), "{stdout}");
    assert!(stdout.contains("device     flex") || stdout.contains("device     ndarray"), "{stdout}");
    // 141·32 + 64·32 + 2·32 + 2·32 embeddings; head 3·32 + 3.
    assert!(stdout.contains("embeddings                  6,688  checkpoint"), "{stdout}");
    assert!(stdout.contains("head (classifier)              99  checkpoint"), "{stdout}");
}

#[test]
fn inspect_minilm_counts_the_packaged_checkpoint() {
    let out = ft(&["inspect", "minilm-l6"]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}\n  (fetch the asset with `cargo run -p ft-cli -- fetch minilm-l6`)");
    assert!(stdout.contains("loaded     22,713,216 parameters in 103 tensors"), "{stdout}");
    assert!(stdout.contains("file       104 tensors holding 22,713,728 values"), "{stdout}");
    assert!(stdout.contains("ignored    embeddings.position_ids"), "{stdout}");
    assert!(stdout.contains("fresh      classifier.weight, classifier.bias (770 parameters)"), "{stdout}");
}

#[test]
fn inspect_missing_config_is_one_paragraph() {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&fixtures().join("tiny"), dir.path());
    std::fs::remove_file(dir.path().join("config.json")).unwrap();
    let stderr = assert_clean_failure(&ft(&["inspect", dir.path().to_str().unwrap()]));
    assert!(stderr.contains("missing config.json"), "{stderr}");
}

#[test]
fn inspect_truncated_weights_is_one_paragraph() {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&fixtures().join("tiny"), dir.path());
    let path = dir.path().join("model.safetensors");
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..1000]).unwrap();
    let stderr = assert_clean_failure(&ft(&["inspect", dir.path().to_str().unwrap()]));
    assert!(stderr.contains("damaged or truncated"), "{stderr}");
}

#[test]
fn inspect_wrong_shape_names_the_tensor() {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&fixtures().join("tiny"), dir.path());
    // A config that disagrees with the weights: the file's tensors are 32 wide.
    let config = std::fs::read_to_string(dir.path().join("config.json")).unwrap();
    let config = config.replace("\"intermediate_size\": 64", "\"intermediate_size\": 48");
    std::fs::write(dir.path().join("config.json"), config).unwrap();
    let stderr = assert_clean_failure(&ft(&["inspect", dir.path().to_str().unwrap()]));
    assert!(
        stderr.contains("intermediate.dense.weight has shape [64, 32], but config.json implies [48, 32]"),
        "{stderr}"
    );
}

#[test]
fn unknown_model_and_device_are_clear() {
    let stderr = assert_clean_failure(&ft(&["inspect", "no-such-model"]));
    assert!(stderr.contains("not a known asset") && stderr.contains("minilm-l6"), "{stderr}");
    let tiny = fixtures().join("tiny");
    let stderr = assert_clean_failure(&ft(&["inspect", tiny.to_str().unwrap(), "--device", "tpu"]));
    assert!(stderr.contains("--device \"tpu\""), "{stderr}");
}

#[cfg(not(feature = "wgpu"))]
#[test]
fn wgpu_without_feature_names_the_feature() {
    let tiny = fixtures().join("tiny");
    let stderr = assert_clean_failure(&ft(&["inspect", tiny.to_str().unwrap(), "--device", "wgpu"]));
    assert!(stderr.contains("--features wgpu"), "{stderr}");
}

/// The same check for the backend CI leaves out (CI builds flex + wgpu, so the test above is compiled
/// only in builds without wgpu): one code path names the missing feature for every backend.
#[cfg(not(feature = "ndarray"))]
#[test]
fn ndarray_without_feature_names_the_feature() {
    let tiny = fixtures().join("tiny");
    let stderr = assert_clean_failure(&ft(&["inspect", tiny.to_str().unwrap(), "--device", "ndarray"]));
    assert!(stderr.contains("--features ndarray") && stderr.contains("compiled in: flex"), "{stderr}");
}

/// `--device auto` says where it landed and why: a GPU when the build has wgpu and the machine a GPU
/// adapter; otherwise the CPU, naming the reason (no wgpu in the build, no adapter, or only software
/// ones such as lavapipe).
#[test]
fn auto_device_says_which_and_why() {
    let tiny = fixtures().join("tiny");
    let out = ft(&["inspect", tiny.to_str().unwrap(), "--device", "auto"]);
    let (_, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    let line = stderr.lines().find(|l| l.starts_with("device     auto → ")).unwrap_or_else(|| panic!("{stderr}"));
    let gpus = ft_model::wgpu_adapters().iter().filter(|a| a.is_gpu).count();
    if cfg!(feature = "wgpu") && gpus > 0 {
        assert!(line.contains("auto → wgpu:") && line.contains("a GPU was found"), "{line}");
    } else {
        assert!(line.contains("auto → flex (CPU)"), "{line}");
        if !cfg!(feature = "wgpu") {
            assert!(line.contains("--features wgpu"), "{line}");
        } else if ft_model::wgpu_adapters().is_empty() {
            assert!(line.contains("no wgpu adapter"), "{line}");
        } else {
            assert!(line.contains("only software ones: wgpu:0 = "), "{line}");
        }
    }
}

/// An adapter index that does not exist is refused with the list of adapters found.
#[cfg(feature = "wgpu")]
#[test]
fn missing_wgpu_adapter_lists_the_adapters() {
    let tiny = fixtures().join("tiny");
    let stderr = assert_clean_failure(&ft(&["inspect", tiny.to_str().unwrap(), "--device", "wgpu:9"]));
    assert!(stderr.contains("--device wgpu:9: no such wgpu adapter") && stderr.contains("adapters: "), "{stderr}");
    assert!(stderr.contains("mesa-vulkan-drivers"), "{stderr}");
}

#[test]
fn convert_writes_a_loadable_model_and_refuses_to_clobber() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("out");
    let legacy = fixtures().join("tiny-legacy");
    let out = ft(&["convert", legacy.to_str().unwrap(), out_dir.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out).1);
    let out = ft(&["inspect", out_dir.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out).1);
    let stderr = assert_clean_failure(&ft(&["convert", legacy.to_str().unwrap(), out_dir.to_str().unwrap()]));
    assert!(stderr.contains("--overwrite"), "{stderr}");
}

#[test]
fn help_lists_every_command() {
    let (stdout, _) = text(&ft(&["--help"]));
    for cmd in ["inspect", "fetch", "convert"] {
        assert!(stdout.contains(cmd), "{stdout}");
    }
    let (stdout, _) = text(&ft(&["inspect", "--help"]));
    for flag in ["--device", "--labels", "--reinit-head", "--seed"] {
        assert!(stdout.contains(flag), "{stdout}");
    }
}

#[test]
fn fetch_list_names_the_model() {
    let out = ft(&["fetch", "--list"]);
    let (stdout, _) = text(&out);
    assert!(out.status.success());
    assert!(stdout.contains("minilm-l6") && stdout.contains("Apache-2.0"), "{stdout}");
}

#[test]
fn bench_step_prints_one_json_measurement() {
    let out = ft(&[
        "bench", "step", "--shape", "tiny", "--mode", "full", "--batch", "4", "--seq", "8", "--warmup", "1", "--iters",
        "2",
    ]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    let v: serde_json::Value = serde_json::from_str(stdout.trim()).expect("one JSON object");
    assert_eq!(v["times"].as_array().map(Vec::len), Some(2), "{v}");
    assert!(v["times"].as_array().unwrap().iter().all(|t| t.as_f64().is_some_and(|t| t > 0.0)), "{v}");
    assert_eq!(v["examples_per_iter"], 4);
    assert!(v["flops"].as_f64().unwrap() > 0.0);
    // The hidden command is not advertised, and bad workloads are clean errors.
    assert!(!text(&ft(&["--help"])).0.contains("bench"));
    let err = assert_clean_failure(&ft(&["bench", "step", "--shape", "tiny", "--seq", "65"]));
    assert!(err.contains("65") && err.contains("positions"), "{err}");
    let err = assert_clean_failure(&ft(&["bench", "step", "--shape", "huge"]));
    assert!(err.contains("tiny or minilm"), "{err}");
}

#[test]
fn bench_tokenize_counts_sentences() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("s.txt");
    std::fs::write(&input, "a good movie\nthe worst film ever made\nfine\n").unwrap();
    let model = fixtures().join("tiny");
    let out = ft(&[
        "bench",
        "tokenize",
        "--model",
        model.to_str().unwrap(),
        "--input",
        input.to_str().unwrap(),
        "--iters",
        "1",
    ]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    let v: serde_json::Value = serde_json::from_str(stdout.trim()).expect("one JSON object");
    assert_eq!(v["sentences"], 3);
    assert!(v["tokens"].as_u64().unwrap() >= 3 * 3, "{v}");
    assert!(v["padded_cells"].as_u64().unwrap() >= v["tokens"].as_u64().unwrap(), "{v}");
}
