//! `cargo xtask gpu-check`: the wgpu checks for a machine with a real GPU, as one script.
//!
//! 1. one release build, `cargo test --release --workspace --features wgpu --no-run` (the tests and the
//!    `ft` binary they drive share it: building `-p ft-cli` alone would unify burn's features
//!    differently and compile burn twice), and `ft inspect fixtures/tiny --device auto` must land on a
//!    GPU adapter (not a software one such as lavapipe);
//! 2. the wgpu parity tests (tiny forward vs transformers, 6 AdamW steps vs PyTorch) on that GPU, from
//!    that build;
//! 3. `cargo xtask bench --quick --rows 1,2,3 --device wgpu` against PyTorch on CUDA.
//!
//! Everything printed is also written to `target/gpu-check/report.md`.

use crate::workspace_root;
use anyhow::{Context, Result, bail};
use std::fmt::Write as _;
use std::process::Command;
use std::time::Instant;

pub fn gpu_check() -> Result<i32> {
    let root = workspace_root()?;
    let out_dir = root.join("target").join("gpu-check");
    std::fs::create_dir_all(&out_dir).with_context(|| format!("creating {}", out_dir.display()))?;
    let t_all = Instant::now();
    let mut report = String::from("# cargo xtask gpu-check\n\n");

    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let test = |extra: &[&str]| {
        let mut c = Command::new(&cargo);
        c.args(["test", "--release", "--workspace", "--features", "wgpu"]).args(extra).current_dir(&root);
        c
    };
    eprintln!("gpu-check: cargo test --release --workspace --features wgpu --no-run");
    let t = Instant::now();
    let status = test(&["--no-run"]).status().context("starting cargo test --no-run")?;
    if !status.success() {
        bail!("building the tests with --features wgpu failed ({status})");
    }
    writeln!(report, "Build (release, `--features wgpu`): {:.0} s\n", t.elapsed().as_secs_f64())?;
    let ft = root.join("target").join("release").join("ft");
    let out = Command::new(&ft)
        .args(["inspect", "fixtures/tiny", "--device", "auto"])
        .current_dir(&root)
        .output()
        .context("running ft inspect --device auto")?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    let line = stderr.lines().find(|l| l.contains("auto →")).unwrap_or("").trim().to_string();
    eprintln!("gpu-check: {line}");
    if !out.status.success() || !line.contains("auto → wgpu") {
        bail!("no GPU adapter for wgpu on this machine ({line}); gpu-check is for a machine with a GPU\n{stderr}");
    }
    writeln!(report, "Device: `{line}`\n")?;

    {
        eprintln!("gpu-check: cargo test --release --workspace --features wgpu --test parity on_wgpu");
        let t = Instant::now();
        let out = test(&["--test", "parity", "on_wgpu", "--", "--nocapture"])
            .output()
            .context("starting cargo test --test parity")?;
        let text = String::from_utf8_lossy(&out.stderr);
        let lines: Vec<&str> = text
            .lines()
            .filter(|l| l.contains("wgpu") || l.contains("max abs diff") || l.contains("losses rel"))
            .collect();
        for l in &lines {
            eprintln!("  {l}");
        }
        writeln!(
            report,
            "- parity on wgpu (ft-model forward, ft-train steps): {} in {:.0} s\n{}",
            if out.status.success() { "passed" } else { "FAILED" },
            t.elapsed().as_secs_f64(),
            lines.iter().map(|l| format!("  - {l}\n")).collect::<String>()
        )?;
        if !out.status.success() {
            std::fs::write(out_dir.join("report.md"), &report)?;
            bail!("parity on wgpu failed:\n{text}");
        }
    }

    let args: Vec<String> = ["--quick", "--rows", "1,2,3", "--device", "wgpu", "--ft-bin"]
        .iter()
        .map(|s| s.to_string())
        .chain([ft.display().to_string()])
        .collect();
    crate::bench::bench(&args)?;
    let table = std::fs::read_to_string(root.join("target/bench/bench.md")).context("reading target/bench/bench.md")?;
    writeln!(report, "\n{table}\nReproduce: `cargo xtask gpu-check` ({:.0} s in all).", t_all.elapsed().as_secs_f64())?;
    std::fs::write(out_dir.join("report.md"), &report).context("writing target/gpu-check/report.md")?;
    println!("{report}");
    Ok(0)
}
