//! Learning-rate schedules, computed directly so that step 0 of a warmup really has lr 0 (as
//! transformers' `get_linear_schedule_with_warmup` / `get_cosine_schedule_with_warmup` do; burn's linear
//! scheduler refuses an initial lr of 0).

use serde::{Deserialize, Serialize};

/// The shape of the schedule after warmup.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ScheduleKind {
    /// Linear decay to 0 at the last step (transformers' default, `linear`).
    #[default]
    Linear,
    /// Half-cosine decay to 0 (`cosine`, `num_cycles = 0.5`).
    Cosine,
    /// Constant after warmup (`constant_with_warmup`; `constant` when warmup is 0).
    Constant,
}

impl std::str::FromStr for ScheduleKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "linear" => Ok(Self::Linear),
            "cosine" => Ok(Self::Cosine),
            "constant" | "constant_with_warmup" => Ok(Self::Constant),
            other => Err(format!("unknown schedule \"{other}\"; use linear, cosine or constant")),
        }
    }
}

/// A schedule: `lr(step) = base_lr · factor(step)` for optimizer steps `0..total_steps`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Schedule {
    /// Peak learning rate.
    pub base_lr: f64,
    /// Steps of linear warmup from 0.
    pub warmup_steps: usize,
    /// Total optimizer steps.
    pub total_steps: usize,
    /// What happens after warmup.
    pub kind: ScheduleKind,
}

impl Schedule {
    /// Warmup steps from a ratio of the total, rounded up as transformers' `get_warmup_steps` does.
    pub fn warmup_from_ratio(ratio: f64, total_steps: usize) -> usize {
        (ratio * total_steps as f64).ceil() as usize
    }

    /// The learning rate of optimizer step `step` (0-based).
    pub fn lr(&self, step: usize) -> f64 {
        self.base_lr * self.factor(step)
    }

    fn factor(&self, step: usize) -> f64 {
        let (s, w, t) = (step as f64, self.warmup_steps as f64, self.total_steps as f64);
        if step < self.warmup_steps {
            return s / w.max(1.0);
        }
        match self.kind {
            ScheduleKind::Constant => 1.0,
            ScheduleKind::Linear => ((t - s) / (t - w).max(1.0)).max(0.0),
            ScheduleKind::Cosine => {
                let progress = (s - w) / (t - w).max(1.0);
                (0.5 * (1.0 + (std::f64::consts::PI * progress).cos())).max(0.0)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linear_warmup_then_decay_like_transformers() {
        // get_linear_schedule_with_warmup(opt, 2, 6) with lr 1e-3: 0, 5e-4, 1e-3, 7.5e-4, 5e-4, 2.5e-4
        let s = Schedule { base_lr: 1e-3, warmup_steps: 2, total_steps: 6, kind: ScheduleKind::Linear };
        let lrs: Vec<f64> = (0..6).map(|i| s.lr(i)).collect();
        let want = [0.0, 0.5e-3, 1e-3, 0.75e-3, 0.5e-3, 0.25e-3];
        for (got, want) in lrs.iter().zip(want) {
            assert!((got - want).abs() < 1e-15, "{lrs:?}");
        }
        assert_eq!(s.lr(6), 0.0);
        assert_eq!(s.lr(10), 0.0);
    }

    #[test]
    fn cosine_and_constant() {
        let c = Schedule { base_lr: 1.0, warmup_steps: 0, total_steps: 4, kind: ScheduleKind::Cosine };
        // 0.5·(1 + cos(π·s/4)): 1, 0.853553, 0.5, 0.146447
        assert!((c.lr(0) - 1.0).abs() < 1e-12);
        assert!((c.lr(1) - 0.853_553_390_593_273_7).abs() < 1e-12);
        assert!((c.lr(2) - 0.5).abs() < 1e-12);
        let k = Schedule { base_lr: 2.0, warmup_steps: 4, total_steps: 10, kind: ScheduleKind::Constant };
        assert_eq!(k.lr(1), 0.5);
        assert_eq!(k.lr(9), 2.0);
    }

    #[test]
    fn warmup_ratio_rounds_up() {
        assert_eq!(Schedule::warmup_from_ratio(0.1, 961), 97);
        assert_eq!(Schedule::warmup_from_ratio(0.0, 100), 0);
    }
}
