//! A run checkpointed after step k and resumed ends with the same parameters, bit for bit, as the
//! uninterrupted run — dropout included (its masks depend only on the seed and the position).

use ft_model::burn::module::Module;
use ft_model::burn::tensor::{Device, Int, Tensor, TensorData};
use ft_model::{BertForSequenceClassification, DeviceSpec, LoadOptions, load_pretrained};
use ft_train::checkpoint::{Contents, TrainerState, list_checkpoints, load_checkpoint, save_checkpoint};
use ft_train::{AdamWSettings, Freeze, Inputs, Schedule, ScheduleKind, Stepper, Targets, adamw};
use std::path::PathBuf;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures")
}

struct Batches(Vec<u8>);

impl Batches {
    fn ints(&self, name: &str) -> (Vec<i64>, Vec<usize>) {
        let st = safetensors::SafeTensors::deserialize(&self.0).unwrap();
        let v = st.tensor(name).unwrap();
        (v.data().chunks_exact(8).map(|b| i64::from_le_bytes(b.try_into().unwrap())).collect(), v.shape().to_vec())
    }
    fn batch(&self, i: usize, device: &Device) -> (Inputs, Targets) {
        let t2 = |name: &str| {
            let (v, s) = self.ints(&format!("batch{i}.{name}"));
            Tensor::<2, Int>::from_data(TensorData::new(v, [s[0], s[1]]), device)
        };
        let (labels, s) = self.ints(&format!("batch{i}.labels"));
        let inputs = Inputs {
            input_ids: t2("input_ids"),
            token_type_ids: t2("token_type_ids"),
            attention_mask: t2("attention_mask"),
            inputs_embeds: None,
        };
        (inputs, Targets::Classes(Tensor::from_data(TensorData::new(labels, [s[0]]), device)))
    }
}

const STEPS: usize = 6;
const ACCUM: usize = 2;
const SEED: u64 = 1234;

fn fresh(device: &Device, freeze: Freeze) -> Stepper {
    // fixtures/tiny keeps its dropout 0.1: the masks must be reproduced too.
    let loaded = load_pretrained::<ft_model::BertForSequenceClassification>(
        &fixtures().join("tiny"),
        &LoadOptions::default(),
        device,
    )
    .unwrap();
    let model = freeze.apply(loaded.model).unwrap();
    let optim = adamw(&model, &AdamWSettings::default()).unwrap();
    let schedule = Schedule { base_lr: 1e-3, warmup_steps: 2, total_steps: STEPS, kind: ScheduleKind::Linear };
    Stepper::new(model, optim, schedule, Some(1.0), ACCUM).unwrap().with_seed(SEED)
}

fn run(stepper: &mut Stepper, batches: &Batches, device: &Device, steps: std::ops::Range<usize>) {
    for step in steps {
        for micro in 0..ACCUM {
            let (inputs, targets) = batches.batch((step * ACCUM + micro) % 12, device);
            stepper.micro_step(inputs, targets).unwrap();
        }
        stepper.optimizer_step();
    }
}

fn params(model: &BertForSequenceClassification) -> Vec<Vec<f32>> {
    let mut out = Vec::new();
    struct V<'a>(&'a mut Vec<Vec<f32>>);
    impl ft_model::burn::module::ModuleVisitor for V<'_> {
        fn visit_float<const D: usize>(&mut self, p: &ft_model::burn::module::Param<Tensor<D>>) {
            self.0.push(p.val().into_data().convert::<f32>().try_to_vec::<f32>().unwrap());
        }
    }
    model.visit(&mut V(&mut out));
    out
}

#[test]
fn resumed_run_equals_uninterrupted_run_bit_for_bit() {
    let batches = Batches(std::fs::read(fixtures().join("train_parity.safetensors")).unwrap());
    let device = DeviceSpec::Cpu.device().unwrap().autodiff();
    let dir = tempfile::tempdir().unwrap();

    // Uninterrupted, with a checkpoint after step 3.
    let mut a = fresh(&device, Freeze::Bottom(1));
    run(&mut a, &batches, &device, 0..3);
    let state = TrainerState {
        step: 3,
        epoch: 0,
        batch_in_epoch: 6,
        seed: SEED,
        evals_without_improvement: 0,
        best: None,
        contents: Contents::Model,
    };
    let ckpt = save_checkpoint(dir.path(), a.model(), a.optimizer(), &state, 2).unwrap();
    run(&mut a, &batches, &device, 3..STEPS);
    let want = params(a.model());

    // Resumed from the checkpoint into a fresh process-like state.
    let skeleton = fresh(&device, Freeze::Bottom(1));
    let (model, optim) = skeleton.into_parts();
    let (model, optim, restored) = load_checkpoint(&ckpt, model, optim).unwrap();
    assert_eq!(restored, state);
    let schedule = Schedule { base_lr: 1e-3, warmup_steps: 2, total_steps: STEPS, kind: ScheduleKind::Linear };
    let mut b =
        Stepper::new(model, optim, schedule, Some(1.0), ACCUM).unwrap().with_seed(SEED).resume_at(restored.step);
    run(&mut b, &batches, &device, 3..STEPS);
    let got = params(b.model());

    assert_eq!(got.len(), want.len());
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        assert!(g == w, "parameter {i} differs after resume (first values {:?} vs {:?})", &g[..3], &w[..3]);
    }
    // Something did train, and dropout took part: another seed gives other parameters.
    let start = params(fresh(&device, Freeze::Bottom(1)).model());
    assert_ne!(start, want);
    let mut c = fresh(&device, Freeze::Bottom(1)).with_seed(SEED + 1);
    run(&mut c, &batches, &device, 0..STEPS);
    assert_ne!(params(c.model()), want, "dropout masks should depend on the seed");
}

#[test]
fn checkpoints_keep_the_last_k_and_the_best() {
    let device = DeviceSpec::Cpu.device().unwrap().autodiff();
    let dir = tempfile::tempdir().unwrap();
    let s = fresh(&device, Freeze::Encoder);
    let mut state = TrainerState {
        step: 1,
        epoch: 0,
        batch_in_epoch: 2,
        seed: SEED,
        evals_without_improvement: 0,
        best: None,
        contents: Contents::Model,
    };
    let first = save_checkpoint(dir.path(), s.model(), s.optimizer(), &state, 2).unwrap();
    state.best =
        Some(ft_train::checkpoint::Best { step: 1, metric: "accuracy".into(), value: 0.5, checkpoint: first.clone() });
    for step in 2..=5 {
        state.step = step;
        save_checkpoint(dir.path(), s.model(), s.optimizer(), &state, 2).unwrap();
    }
    let names: Vec<String> =
        list_checkpoints(dir.path()).iter().map(|p| p.file_name().unwrap().to_string_lossy().into_owned()).collect();
    assert_eq!(names, ["step-00000001", "step-00000004", "step-00000005"]);
    // No temporary directories are left behind.
    let hidden = std::fs::read_dir(dir.path())
        .unwrap()
        .filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().starts_with('.'))
        .count();
    assert_eq!(hidden, 0);
}
