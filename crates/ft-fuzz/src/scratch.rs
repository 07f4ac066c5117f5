//! Per-thread scratch space for the targets whose ft API takes a path: one temporary directory (in
//! `/dev/shm` where there is one, so a write is a memory copy), created on first use and rewritten by
//! every execution, plus what is expensive to build and the same for every input (the fixture
//! tokenizer, the micro model and its optimizer).
//!
//! Per thread, because the smoke test runs targets on several test threads at once; the directory is
//! removed when its thread ends (libFuzzer's single thread exits the process without that, leaving one
//! small directory behind per fuzzing process).

use crate::fixtures;
use ft_data::Tokenizer;
use ft_model::BertForSequenceClassification;
use ft_model::burn::optim::ModuleOptimizer;
use ft_model::burn::tensor::Device;
use std::cell::OnceCell;
use std::path::{Path, PathBuf};

/// A thread's scratch directory and cached fixtures.
pub struct Scratch {
    dir: tempfile::TempDir,
    tokenizer: OnceCell<Tokenizer>,
    skeleton: OnceCell<(Device, BertForSequenceClassification, ModuleOptimizer)>,
    micro_safetensors: OnceCell<Vec<u8>>,
}

thread_local! {
    static SCRATCH: Scratch = Scratch::new();
}

/// Runs `f` with this thread's scratch space.
pub fn with<R>(f: impl FnOnce(&Scratch) -> R) -> R {
    SCRATCH.with(f)
}

impl Scratch {
    fn new() -> Self {
        let mut builder = tempfile::Builder::new();
        builder.prefix("ft-fuzz-");
        let shm = Path::new("/dev/shm");
        let dir = if shm.is_dir() { builder.tempdir_in(shm) } else { builder.tempdir() };
        let dir = dir.expect("a temporary directory for the fuzz inputs");
        Self { dir, tokenizer: OnceCell::new(), skeleton: OnceCell::new(), micro_safetensors: OnceCell::new() }
    }

    /// An empty-or-reused subdirectory `name` of the scratch directory.
    pub fn subdir(&self, name: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::create_dir_all(&path).expect("creating a scratch directory");
        path
    }

    /// Writes `files` (name, bytes) into `subdir(name)` and returns its path.
    pub fn write(&self, name: &str, files: &[(&str, &[u8])]) -> PathBuf {
        let dir = self.subdir(name);
        for (file, bytes) in files {
            std::fs::write(dir.join(file), bytes).expect("writing a scratch file");
        }
        dir
    }

    /// The fixture tokenizer (`fixtures/tiny/tokenizer.json`), loaded once per thread.
    pub fn tokenizer(&self) -> &Tokenizer {
        self.tokenizer.get_or_init(|| {
            let dir = self.write(
                "tiny-tokenizer",
                &[
                    ("tokenizer.json", fixtures::TINY_TOKENIZER_JSON),
                    ("tokenizer_config.json", fixtures::TINY_TOKENIZER_CONFIG),
                    ("special_tokens_map.json", fixtures::TINY_SPECIAL_TOKENS),
                ],
            );
            Tokenizer::from_dir(&dir).expect("the fixture tokenizer loads")
        })
    }

    /// The autodiff CPU device, the micro model on it and a fresh AdamW for it: the skeleton a
    /// checkpoint is loaded into, as the trainer builds it.
    pub fn skeleton(&self) -> &(Device, BertForSequenceClassification, ModuleOptimizer) {
        self.skeleton.get_or_init(|| {
            let device = fixtures::cpu().autodiff();
            let model = fixtures::micro_model(&device);
            let optim = fixtures::micro_optimizer(&model);
            (device, model, optim)
        })
    }

    /// A valid `model.safetensors` for the micro config, as `save_pretrained` writes it.
    pub fn micro_safetensors(&self) -> &[u8] {
        self.micro_safetensors.get_or_init(|| {
            let out = self.subdir("micro-saved").join("model");
            let config = fixtures::micro_config();
            ft_model::save_pretrained(&fixtures::micro_model(&fixtures::cpu()), &config, &out, None, true)
                .expect("saving the micro model");
            std::fs::read(out.join("model.safetensors")).expect("reading the saved micro model")
        })
    }
}
