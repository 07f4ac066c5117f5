//! `cargo xtask bench`: ft and PyTorch + transformers on identical workloads, side by side in one run.
//!
//! Rows 1–4 are short workloads measured in separate processes (`ft bench …` and `xtask/py/bench.py …`),
//! alternating ft, PyTorch, ft, PyTorch… with warm-up iterations in every process; a row's figure is
//! the median of all timed iterations of its side. Rows 5–6 are whole training runs (`ft train` and
//! `xtask/py/reference_train.py`), run once per side. The table (markdown) and every raw measurement
//! (JSON) go to `target/bench/`; `--update-readme` also writes the table into README.md between the
//! `<!-- bench:begin -->` and `<!-- bench:end -->` markers.

use crate::{build_ft, dataset_dir, ensure_venv, number_at, read_json, venv_python, workspace_root};
use anyhow::{Context, Result, bail};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

const BENCH_SCRIPT: &str = "xtask/py/bench.py";
const REFERENCE_SCRIPT: &str = "xtask/py/reference_train.py";
const README_BEGIN: &str = "<!-- bench:begin -->";
const README_END: &str = "<!-- bench:end -->";

struct BenchArgs {
    quick: bool,
    rows: Option<Vec<usize>>,
    rounds: usize,
    threads: usize,
    ft_bin: Option<PathBuf>,
    update_readme: bool,
    /// ft's `--device` for rows 1–3; a wgpu device sets PyTorch on CUDA.
    device: String,
}

impl BenchArgs {
    /// PyTorch's device for rows 1–3: CUDA when ft runs on a GPU.
    fn torch_device(&self) -> &'static str {
        if self.device.starts_with("wgpu") || self.device == "gpu" { "cuda" } else { "cpu" }
    }
}

fn parse_args(rest: &[String]) -> Result<BenchArgs> {
    let mut args = BenchArgs {
        quick: false,
        rows: None,
        rounds: 2,
        threads: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        ft_bin: None,
        update_readme: false,
        device: "cpu".into(),
    };
    let mut it = rest.iter();
    while let Some(flag) = it.next() {
        let mut value = || it.next().with_context(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--quick" => args.quick = true,
            "--update-readme" => args.update_readme = true,
            "--rows" => {
                let list = value()?;
                let rows = list
                    .split(',')
                    .map(|r| r.trim().parse::<usize>().ok().filter(|n| (1..=8).contains(n)))
                    .collect::<Option<Vec<_>>>()
                    .with_context(|| format!("--rows {list}: expected numbers 1-8 separated by commas"))?;
                args.rows = Some(rows);
            }
            "--rounds" => {
                args.rounds = value()?.parse().ok().filter(|&n| n >= 1).context("--rounds: expected a number >= 1")?
            }
            "--threads" => {
                args.threads = value()?.parse().ok().filter(|&n| n >= 1).context("--threads: expected a number >= 1")?
            }
            "--ft-bin" => args.ft_bin = Some(PathBuf::from(value()?)),
            "--device" => args.device = value()?.clone(),
            other => bail!("bench: unknown option `{other}` (see `cargo xtask help`)"),
        }
    }
    Ok(args)
}

/// One measured side of a row.
#[derive(Clone)]
struct Side {
    /// Median seconds per iteration (rows 1–4) or per run (rows 5–6).
    seconds: f64,
    /// Examples (or sentences) per second.
    rate: f64,
    peak_rss_mib: Option<f64>,
    /// Test accuracy, for the training rows.
    accuracy: Option<f64>,
    raw: Vec<Value>,
}

struct Row {
    row: usize,
    name: String,
    shapes: String,
    unit: &'static str,
    flops: Option<f64>,
    ft: Side,
    pytorch: Vec<(String, Side)>,
    note: String,
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n == 0 {
        f64::NAN
    } else if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// Runs `cmd`, which prints one JSON object as the last line of its stdout.
fn json_of(mut cmd: Command, what: &str) -> Result<Value> {
    let out = cmd.stderr(Stdio::inherit()).output().with_context(|| format!("starting {what}"))?;
    if !out.status.success() {
        bail!("{what} failed ({})", out.status);
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout
        .lines()
        .rev()
        .find(|l| l.trim_start().starts_with('{'))
        .with_context(|| format!("{what} printed no JSON line; its output was:\n{stdout}"))?;
    serde_json::from_str(line).with_context(|| format!("{what}: not JSON: {line}"))
}

fn times_of(v: &Value) -> Vec<f64> {
    v["times"].as_array().map(|a| a.iter().filter_map(Value::as_f64).collect()).unwrap_or_default()
}

fn rss_mib(v: &Value) -> Option<f64> {
    v["peak_rss_kib"].as_f64().map(|k| k / 1024.0)
}

/// Alternates ft and PyTorch processes `rounds` times and summarises each side.
fn alternate(
    rounds: usize,
    mut ft: impl FnMut() -> Result<Value>,
    mut py: impl FnMut() -> Result<Value>,
) -> Result<(Side, Side)> {
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        a.push(ft()?);
        b.push(py()?);
    }
    let side = |raw: Vec<Value>| {
        let times: Vec<f64> = raw.iter().flat_map(times_of).collect();
        let per_iter = raw.first().and_then(|v| v["examples_per_iter"].as_f64()).unwrap_or(1.0);
        let seconds = median(times);
        let rss = raw.iter().filter_map(rss_mib).fold(None, |m: Option<f64>, x| Some(m.map_or(x, |m| m.max(x))));
        Side { seconds, rate: per_iter / seconds, peak_rss_mib: rss, accuracy: None, raw }
    };
    Ok((side(a), side(b)))
}

/// rt-snippets sentences repeated to `n` lines, one per line (the benchmark's tokenization input).
fn sentences_file(data_dir: &Path, n: usize, out_dir: &Path) -> Result<PathBuf> {
    let mut sentences = Vec::new();
    for split in ["train.tsv", "validation.tsv", "test.tsv"] {
        let path = data_dir.join(split);
        let text = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
        sentences.extend(text.lines().skip(1).filter_map(|l| l.split_once('\t')).map(|(_, t)| t.to_string()));
    }
    if sentences.is_empty() {
        bail!("{}: no sentences", data_dir.display());
    }
    let mut out = String::new();
    for s in sentences.iter().cycle().take(n) {
        out.push_str(s);
        out.push('\n');
    }
    let path = out_dir.join(format!("sentences-{n}.txt"));
    std::fs::write(&path, out).with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}

pub fn bench(rest: &[String]) -> Result<i32> {
    let args = parse_args(rest)?;
    let root = workspace_root()?;
    let out_dir = root.join("target").join("bench");
    std::fs::create_dir_all(&out_dir).with_context(|| format!("creating {}", out_dir.display()))?;
    let wanted = |row: usize| match &args.rows {
        Some(rows) => rows.contains(&row),
        None => !args.quick || row <= 4,
    };
    let ft = match &args.ft_bin {
        Some(p) if p.is_file() => p.clone(),
        Some(p) => bail!("--ft-bin {}: no such file", p.display()),
        None => build_ft(&root)?,
    };
    let venv = ensure_venv()?;
    let python = venv_python(&venv);
    let threads = args.threads.to_string();
    let model_dir = ft_assets::resolve_model("minilm-l6").context("resolving the packaged model `minilm-l6`")?;
    let t_all = Instant::now();
    let mut rows: Vec<Row> = Vec::new();

    let ft_cmd = |extra: &[&str]| {
        let mut c = Command::new(&ft);
        c.args(extra).env("RAYON_NUM_THREADS", &threads).current_dir(&root);
        c
    };
    let py_cmd = |script: &str, extra: &[&str]| {
        let mut c = Command::new(&python);
        c.arg(root.join(script)).args(extra).current_dir(&root);
        c
    };

    // Rows 1–3: steps and forward passes of the MiniLM-L6 shape.
    let (iters, warmup) = if args.quick { ("3", "1") } else { ("5", "2") };
    let mut step_cases: Vec<(usize, &str, usize, usize)> = Vec::new();
    for (row, mode) in [(1, "full"), (2, "frozen")] {
        if wanted(row) {
            if !args.quick {
                step_cases.push((row, mode, 32, 128));
            }
            step_cases.push((row, mode, 32, 64));
        }
    }
    if wanted(3) {
        step_cases.push((3, "inference", 32, 128));
        step_cases.push((3, "inference", 1, 128));
    }
    if wanted(7) {
        if !args.quick {
            step_cases.push((7, "lora", 32, 128));
        }
        step_cases.push((7, "lora", 32, 64));
    }
    for (row, mode, batch, seq) in step_cases {
        let (b, s) = (batch.to_string(), seq.to_string());
        let common =
            ["--shape", "minilm", "--mode", mode, "--batch", &b, "--seq", &s, "--warmup", warmup, "--iters", iters];
        eprintln!("bench: row {row}, {mode} b{batch}×s{seq}");
        let (ft_side, py_side) = alternate(
            args.rounds,
            || {
                json_of(
                    ft_cmd(&[&["bench", "step"][..], &common[..], &["--device", &args.device][..]].concat()),
                    "ft bench step",
                )
            },
            || {
                let extra = ["--threads", &threads, "--device", args.torch_device()];
                json_of(py_cmd(BENCH_SCRIPT, &[&["step"][..], &common[..], &extra[..]].concat()), BENCH_SCRIPT)
            },
        )?;
        let flops = ft_side.raw.first().and_then(|v| v["flops"].as_f64());
        let name = match mode {
            "full" => "training step, full fine-tuning",
            "frozen" => "training step, encoder frozen",
            "lora" => "training step, LoRA (r 8 on `query,value`; PEFT 0.21.2 on the PyTorch side)",
            _ => "inference",
        };
        rows.push(Row {
            row,
            name: name.into(),
            shapes: format!("MiniLM-L6 shape, batch {batch} × seq {seq}"),
            unit: "examples/s",
            flops,
            ft: ft_side,
            pytorch: vec![("PyTorch".into(), py_side)],
            note: String::new(),
        });
    }

    // Row 8: explaining one text, Integrated Gradients (`ft explain`) against Captum.
    if wanted(8) {
        let (iters, warmup) = if args.quick { ("2", "1") } else { ("3", "1") };
        let common = [
            "--shape", "minilm", "--seq", "64", "--steps", "50", "--batch", "16", "--warmup", warmup, "--iters", iters,
        ];
        eprintln!("bench: row 8, integrated gradients, 50 steps, seq 64");
        let (ft_side, py_side) = alternate(
            args.rounds,
            || json_of(ft_cmd(&[&["bench", "explain"][..], &common[..]].concat()), "ft bench explain"),
            || {
                let extra = ["--threads", &threads];
                json_of(py_cmd(BENCH_SCRIPT, &[&["explain"][..], &common[..], &extra[..]].concat()), BENCH_SCRIPT)
            },
        )?;
        rows.push(Row {
            row: 8,
            name: "explanation: Integrated Gradients, 50 Gauss-Legendre steps (Captum 0.9.0 on the PyTorch side)"
                .into(),
            shapes: "MiniLM-L6 shape, one text of 64 tokens, 16 steps per batch".into(),
            unit: "texts/s",
            flops: None,
            ft: ft_side,
            pytorch: vec![("Captum".into(), py_side)],
            note: String::new(),
        });
    }

    // Row 4: tokenization + batching.
    let data_dir = if wanted(4) || wanted(5) || wanted(6) { Some(dataset_dir(&ft, "rt-snippets")?) } else { None };
    if wanted(4) {
        let n = if args.quick { 10_000 } else { 100_000 };
        let file = sentences_file(data_dir.as_ref().expect("fetched above"), n, &out_dir)?;
        let f = file.display().to_string();
        let m = model_dir.display().to_string();
        eprintln!("bench: row 4, tokenization of {n} sentences");
        let (ft_side, py_side) = alternate(
            args.rounds,
            || {
                json_of(
                    ft_cmd(&["bench", "tokenize", "--model", &m, "--input", &f, "--max-len", "128"]),
                    "ft bench tokenize",
                )
            },
            || {
                json_of(
                    py_cmd(
                        BENCH_SCRIPT,
                        &["tokenize", "--model-dir", &m, "--input", &f, "--max-len", "128", "--threads", &threads],
                    ),
                    BENCH_SCRIPT,
                )
            },
        )?;
        let tokenizer = ft_side.raw.first().and_then(|v| v["tokenizer"].as_str()).unwrap_or("?").to_string();
        rows.push(Row {
            row: 4,
            name: "tokenization + batching".into(),
            shapes: format!("{n} rt-snippets sentences, max_len 128, batches of 32 padded per batch"),
            unit: "sentences/s",
            flops: None,
            ft: ft_side,
            pytorch: vec![("tokenizers encode_batch".into(), py_side)],
            note: format!("ft's tokenizer: {tokenizer}"),
        });
    }

    // Rows 5–6: whole runs on rt-snippets.
    let run_ft = |name: &str, extra: &[&str]| -> Result<Side> {
        let dir = out_dir.join(name);
        let mut args: Vec<&str> =
            // The reference's BertForSequenceClassification reads the pooler: so does ft here.
            vec!["train", "--model", "minilm-l6", "--dataset", "rt-snippets", "--pooling", "pooler", "--quiet", "--overwrite"];
        let d = dir.display().to_string();
        args.extend(["--output", &d]);
        args.extend(extra);
        eprintln!("bench: ft {}", args.join(" "));
        let t = Instant::now();
        let status = ft_cmd(&args).status().context("starting ft train")?;
        if !status.success() {
            bail!("ft train failed ({status})");
        }
        let wall = t.elapsed().as_secs_f64();
        let m = read_json(&dir.join("metrics.json"))?;
        let train = number_at(&m, &["examples", "train"]).unwrap_or(f64::NAN);
        let epochs = number_at(&m, &["epochs"]).unwrap_or(1.0);
        Ok(Side {
            seconds: wall,
            rate: train * epochs / wall,
            peak_rss_mib: number_at(&m, &["peak_rss_kib"]).map(|k| k / 1024.0),
            accuracy: number_at(&m, &["test", "accuracy"]),
            raw: vec![m],
        })
    };
    let run_py = |name: &str, extra: &[&str]| -> Result<Side> {
        let out = out_dir.join(format!("{name}.json"));
        let m = model_dir.display().to_string();
        let d = data_dir.as_ref().expect("fetched above").display().to_string();
        let o = out.display().to_string();
        let mut a: Vec<&str> = vec!["--model", &m, "--data", &d, "--out", &o, "--threads", &threads];
        a.extend(extra);
        eprintln!("bench: reference {}", a.join(" "));
        let t = Instant::now();
        let status = py_cmd(REFERENCE_SCRIPT, &a).status().context("starting the reference")?;
        if !status.success() {
            bail!("{REFERENCE_SCRIPT} failed ({status})");
        }
        let wall = t.elapsed().as_secs_f64();
        let r = read_json(&out)?;
        let train = number_at(&r, &["examples", "train"]).unwrap_or(f64::NAN);
        let epochs = number_at(&r, &["recipe", "epochs"]).unwrap_or(1.0);
        Ok(Side {
            seconds: wall,
            rate: train * epochs / wall,
            peak_rss_mib: number_at(&r, &["peak_rss_kib"]).map(|k| k / 1024.0),
            accuracy: number_at(&r, &["test", "accuracy"]),
            raw: vec![r],
        })
    };
    if wanted(5) {
        // ft's defaults (max_len 128, dynamic padding with length grouping, lr 5e-5, no warmup).
        let ft_side = run_ft("row5-ft", &["--epochs", "1"])?;
        let common = ["--epochs", "1", "--max-len", "128", "--warmup-ratio", "0", "--lr", "5e-5"];
        let padded = run_py("row5-pytorch-max-length", &[&common[..], &["--padding", "max_length"][..]].concat())?;
        let dynamic = run_py("row5-pytorch-dynamic", &[&common[..], &["--padding", "dynamic"][..]].concat())?;
        rows.push(Row {
            row: 5,
            name: "one epoch end to end (read, tokenize, train, evaluate)".into(),
            shapes: "rt-snippets (10,246 train, 1,281 + 1,281 evaluated), MiniLM-L6, batch 32, max_len 128, lr 5e-5"
                .into(),
            unit: "train examples/s of wall time",
            flops: None,
            ft: ft_side,
            pytorch: vec![
                ("transformers, padding to max_seq_length (run_classification default)".into(), padded),
                ("transformers, dynamic padding".into(), dynamic),
            ],
            note: "one run per side".into(),
        });
    }
    if wanted(6) {
        let common =
            ["--epochs", "3", "--max-len", "128", "--lr", "1e-3", "--warmup-ratio", "0", "--freeze", "encoder"];
        let ft_side = run_ft("row6-ft", &common)?;
        let py = run_py("row6-pytorch", &[&common[..], &["--padding", "dynamic"][..]].concat())?;
        rows.push(Row {
            row: 6,
            name: "frozen-encoder recipe, 3 epochs".into(),
            shapes: "rt-snippets, MiniLM-L6 frozen, head trained at lr 1e-3, batch 32, max_len 128".into(),
            unit: "train examples/s of wall time",
            flops: None,
            ft: ft_side,
            pytorch: vec![("transformers, encoder recomputed every epoch (dynamic padding)".into(), py)],
            note: "ft caches the pooled features once; one run per side".into(),
        });
    }

    let on_gpu = args.torch_device() == "cuda";
    let ceiling = if args.quick || on_gpu { None } else { peak_gflops(&python, &root, &threads) };
    rows.sort_by_key(|r| r.row);
    let versions = rows
        .iter()
        .flat_map(|r| r.pytorch.iter())
        .find_map(|(_, s)| s.raw.first().and_then(|v| v.get("versions")).cloned())
        .unwrap_or(Value::Null);
    let mut table = markdown(&rows, args.threads, ceiling, &versions);
    if on_gpu {
        let first = |side: &Side| side.raw.first().and_then(|v| v["device"].as_str().map(String::from));
        let ft_dev = rows.first().and_then(|r| first(&r.ft)).unwrap_or_else(|| args.device.clone());
        let py_dev = rows.first().and_then(|r| r.pytorch.first().and_then(|(_, s)| first(s))).unwrap_or_default();
        table = format!("**On a GPU**: ft on `{ft_dev}`, PyTorch on CUDA (`{py_dev}`); rows 1–3 only.\n\n{table}");
    }
    println!("\n{table}");
    let json_rows: Vec<Value> = rows
        .iter()
        .map(|r| {
            let side = |s: &Side| {
                json!({"seconds": s.seconds, "rate": s.rate, "peak_rss_mib": s.peak_rss_mib, "accuracy": s.accuracy, "raw": s.raw})
            };
            json!({
                "row": r.row, "name": r.name, "shapes": r.shapes, "unit": r.unit, "flops": r.flops, "note": r.note,
                "ft": side(&r.ft),
                "pytorch": r.pytorch.iter().map(|(n, s)| json!({"name": n, "result": side(s)})).collect::<Vec<_>>(),
            })
        })
        .collect();
    let report = json!({
        "threads": args.threads, "quick": args.quick, "rounds": args.rounds, "ceiling_gflops": ceiling,
        "versions": versions, "seconds": t_all.elapsed().as_secs_f64(), "rows": json_rows, "table": table,
    });
    let json_path = out_dir.join("bench.json");
    std::fs::write(&json_path, serde_json::to_string_pretty(&report)? + "\n")
        .with_context(|| format!("writing {}", json_path.display()))?;
    std::fs::write(out_dir.join("bench.md"), &table).context("writing target/bench/bench.md")?;
    eprintln!("bench: {:.0}s in all; wrote {} and bench.md", t_all.elapsed().as_secs_f64(), json_path.display());
    if args.update_readme {
        update_readme(&root.join("README.md"), &table, &args)?;
    }
    Ok(0)
}

/// What a large square fp32 matrix product reaches through PyTorch on these cores: the practical
/// ceiling the GFLOP/s of rows 1–3 are set against.
fn peak_gflops(python: &Path, root: &Path, threads: &str) -> Option<f64> {
    let code = format!(
        "import torch,time\ntorch.set_num_threads({threads})\na=torch.randn(2048,2048);b=torch.randn(2048,2048)\n\
         [a@b for _ in range(3)]\nbest=1e9\nfor _ in range(10):\n t=time.perf_counter();a@b;best=min(best,time.perf_counter()-t)\n\
         print(2*2048**3/best/1e9)"
    );
    let out = Command::new(python).args(["-c", &code]).current_dir(root).output().ok()?;
    String::from_utf8_lossy(&out.stdout).trim().parse().ok()
}

/// The instruction-set paths that ft's CPU kernels choose at run time on this machine (gemm's
/// micro-kernels and burn-flex's element-wise kernels test the same CPU features).
fn isa_paths() -> &'static str {
    #[cfg(target_arch = "x86_64")]
    {
        let avx512 = ["avx512f", "avx512vl", "avx512dq", "avx512bw"];
        let has = |f: &str| match f {
            "avx512f" => std::is_x86_feature_detected!("avx512f"),
            "avx512vl" => std::is_x86_feature_detected!("avx512vl"),
            "avx512dq" => std::is_x86_feature_detected!("avx512dq"),
            "avx512bw" => std::is_x86_feature_detected!("avx512bw"),
            _ => false,
        };
        if avx512.iter().all(|f| has(f)) {
            return "AVX-512 (gemm's `avx512f` micro-kernels, burn-flex's AVX-512 element-wise kernels)";
        }
        if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
            return "AVX2 + FMA (gemm's `fma` micro-kernels, burn-flex's AVX2 element-wise kernels)";
        }
        "baseline x86-64 (no AVX2)"
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        "not x86-64: the compiler's baseline for this target"
    }
}

fn markdown(rows: &[Row], threads: usize, ceiling: Option<f64>, versions: &Value) -> String {
    let mut t = String::new();
    t.push_str(&format!(
        "{threads} thread(s) per side; rows 1–4: median of the timed iterations of alternated processes \
         (warm-up excluded); rows 5–6: one run per side, wall time of the whole process. \
         PyTorch side: torch {} / transformers {} / tokenizers {} (CPU, eager attention).{}\n\n",
        versions["torch"].as_str().unwrap_or("?"),
        versions["transformers"].as_str().unwrap_or("?"),
        versions["tokenizers"].as_str().unwrap_or("?"),
        ceiling
            .map(|c| format!(" Ceiling: a 2048³ fp32 matmul in PyTorch reaches {c:.0} GFLOP/s on these cores."))
            .unwrap_or_default()
    ));
    t.push_str(&format!("ISA paths ft's CPU kernels take on this machine: {}.\n\n", isa_paths()));
    t.push_str("| row | workload | shapes | ft | PyTorch | ft / PyTorch | GFLOP/s ft / PyTorch | peak RSS ft / PyTorch (MiB) |\n");
    t.push_str("|---:|---|---|---:|---:|---:|---:|---:|\n");
    let fmt_rate = |x: f64| {
        if x >= 1000.0 {
            format!("{:.0}", x)
        } else if x >= 10.0 {
            format!("{x:.1}")
        } else {
            format!("{x:.2}")
        }
    };
    let fmt_rss = |x: Option<f64>| x.map_or("?".to_string(), |x| format!("{x:.0}"));
    for r in rows {
        for (name, py) in &r.pytorch {
            let acc = |s: &Side| s.accuracy.map(|a| format!(", test acc. {:.2}%", 100.0 * a)).unwrap_or_default();
            let gflops = r
                .flops
                .map(|f| format!("{:.0} / {:.0}", f / r.ft.seconds / 1e9, f / py.seconds / 1e9))
                .unwrap_or_else(|| "–".into());
            t.push_str(&format!(
                "| {} | {} | {}{} | {} {}{} | {} ({name}){} | **{:.2}×** | {gflops} | {} / {} |\n",
                r.row,
                r.name,
                r.shapes,
                if r.note.is_empty() { String::new() } else { format!("; {}", r.note) },
                fmt_rate(r.ft.rate),
                r.unit,
                acc(&r.ft),
                fmt_rate(py.rate),
                acc(py),
                r.ft.rate / py.rate,
                fmt_rss(r.ft.peak_rss_mib),
                fmt_rss(py.peak_rss_mib),
            ));
        }
    }
    t
}

fn update_readme(path: &Path, table: &str, args: &BenchArgs) -> Result<()> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let (Some(b), Some(e)) = (text.find(README_BEGIN), text.find(README_END)) else {
        bail!("{}: no {README_BEGIN} … {README_END} section to update", path.display());
    };
    if e < b {
        bail!("{}: {README_END} comes before {README_BEGIN}", path.display());
    }
    let mut command = String::from("cargo xtask bench");
    if args.quick {
        command.push_str(" --quick");
    }
    if args.device != "cpu" {
        command.push_str(&format!(" --device {}", args.device));
    }
    if let Some(rows) = &args.rows {
        command.push_str(&format!(" --rows {}", rows.iter().map(|r| r.to_string()).collect::<Vec<_>>().join(",")));
    }
    let new = format!(
        "{}{README_BEGIN}\n<!-- generated by `{command} --update-readme`; edit the generator, not this table -->\n\n{table}\nReproduce: `{command}`.\n{}",
        &text[..b],
        &text[e..]
    );
    let tmp = path.with_extension("md.tmp");
    std::fs::write(&tmp, new).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("replacing {}", path.display()))?;
    eprintln!("bench: README.md updated");
    Ok(())
}
