//! One optimizer step, in nanoGPT's order: set lr → forward → loss → backward (per micro-batch, the
//! loss scaled by 1/N for N-way accumulation) → clip → optimizer step.

use crate::TrainError;
use crate::clip::clip_grad_norm;
use crate::schedule::Schedule;
use burn::module::Module;
use burn::optim::{GradientsAccumulator, GradientsParams, ModuleOptimizer};
use burn::tensor::{Device, Tensor};
use ft_model::{BertForSequenceClassification, Head, ModelInputs, Targets};

/// The three `[B, T]` input tensors of a batch (ft-model's type, named here as the loop names it).
pub type Inputs = ModelInputs;

/// What one optimizer step did.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepStats {
    /// Optimizer step index (0-based).
    pub step: usize,
    /// Learning rate used.
    pub lr: f64,
    /// Global gradient norm before clipping.
    pub grad_norm: f64,
}

/// Model + optimizer + schedule, stepping one micro-batch at a time. `M` is the module trained: the
/// whole classifier, or only a head over cached features.
pub struct Stepper<M: Module = BertForSequenceClassification> {
    model: Option<M>,
    optim: ModuleOptimizer,
    /// The learning-rate schedule.
    pub schedule: Schedule,
    /// Global-norm clipping threshold (`None`: no clipping, norm still measured).
    pub max_grad_norm: Option<f64>,
    /// Micro-batches per optimizer step.
    pub grad_accum: usize,
    step: usize,
    micro: usize,
    seed: u64,
    accum: GradientsAccumulator<M>,
}

/// The dropout seed of one micro-batch: a function of the run's seed and the position only, so a
/// resumed run draws the same masks as an uninterrupted one.
fn micro_seed(seed: u64, step: usize, micro: usize) -> u64 {
    let mut z = seed ^ ((step as u64) << 20 | micro as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z ^ (z >> 31)
}

impl<M: Module> Stepper<M> {
    /// A stepper over `model` (on an autodiff device, frozen parts already frozen).
    pub fn new(
        model: M,
        optim: ModuleOptimizer,
        schedule: Schedule,
        max_grad_norm: Option<f64>,
        grad_accum: usize,
    ) -> Result<Self, TrainError> {
        if grad_accum == 0 {
            return Err(TrainError::Config("--grad-accum 0: accumulate over at least 1 micro-batch".into()));
        }
        Ok(Self {
            model: Some(model),
            optim,
            schedule,
            max_grad_norm,
            grad_accum,
            step: 0,
            micro: 0,
            seed: 0,
            accum: GradientsAccumulator::new(),
        })
    }

    /// Seeds dropout: each micro-batch's masks depend only on `seed` and its position.
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Continues from a checkpoint taken after `steps_done` optimizer steps.
    pub fn resume_at(mut self, steps_done: usize) -> Self {
        self.step = steps_done;
        self
    }

    /// The model being trained.
    pub fn model(&self) -> &M {
        self.model.as_ref().expect("model is present between steps")
    }

    /// Takes the model and optimizer back (e.g. to save them).
    pub fn into_parts(self) -> (M, ModuleOptimizer) {
        (self.model.expect("model is present between steps"), self.optim)
    }

    /// The optimizer (for checkpoints).
    pub fn optimizer(&self) -> &ModuleOptimizer {
        &self.optim
    }

    /// Optimizer steps taken so far.
    pub fn steps_done(&self) -> usize {
        self.step
    }

    /// Forward and loss (by `forward_loss`, which returns the mean loss `[1]`), then backward, on one
    /// micro-batch; returns the (unscaled) mean loss. After `grad_accum` micro-batches, call
    /// [`Stepper::optimizer_step`]. `device` is where the batch lives (its RNG drives dropout).
    pub fn micro_step_with(
        &mut self,
        device: &Device,
        forward_loss: impl FnOnce(&M) -> Result<Tensor<1>, TrainError>,
    ) -> Result<f32, TrainError> {
        let model = self.model.as_ref().expect("model is present between steps");
        device.seed(micro_seed(self.seed, self.step, self.micro));
        let loss = forward_loss(model)?;
        let value = loss.clone().into_scalar::<f32>();
        if !value.is_finite() {
            return Err(TrainError::NonFinite {
                loss: value,
                step: self.step,
                micro: self.micro,
                last_good: String::new(),
            });
        }
        let scaled = if self.grad_accum > 1 { loss.div_scalar(self.grad_accum as f64) } else { loss };
        let grads = GradientsParams::from_grads(scaled.backward(), model);
        self.accum.accumulate(model, grads);
        self.micro += 1;
        Ok(value)
    }

    /// Clips the accumulated gradients and applies one AdamW step at the schedule's lr.
    pub fn optimizer_step(&mut self) -> StepStats {
        let lr = self.schedule.lr(self.step);
        let mut grads = self.accum.grads();
        let model = self.model.take().expect("model is present between steps");
        let grad_norm = match self.max_grad_norm {
            Some(max) => clip_grad_norm(&model, &mut grads, max),
            None => crate::clip::global_norm(&model, &grads),
        };
        self.model = Some(self.optim.step(lr, model, grads));
        let stats = StepStats { step: self.step, lr, grad_norm };
        self.step += 1;
        self.micro = 0;
        stats
    }
}

impl<H: Head> Stepper<H> {
    /// [`Stepper::micro_step_with`] for a whole model on one batch: the head's forward and loss.
    pub fn micro_step(&mut self, inputs: Inputs, targets: Targets) -> Result<f32, TrainError> {
        let device = inputs.input_ids.device();
        self.micro_step_with(&device, |model| Ok(H::loss(model.logits(inputs)?, targets)?))
    }
}
