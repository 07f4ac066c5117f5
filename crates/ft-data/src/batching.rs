//! Which examples go together: the order of an epoch and its cut into batches, with optional length
//! grouping like transformers' `group_by_length` (`LengthGroupedSampler`), plus the padding it costs.
//!
//! Grouping: shuffle all indices, cut them into mega-batches of `mega_batches × batch_size`, sort each
//! mega-batch by length (longest first), cut it into batches, shuffle the batches, and put the batch
//! holding the longest example first (so an out-of-memory shows at step 1, as in transformers).

use crate::rng::Rng;

/// How an epoch is cut into batches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchOptions {
    /// Examples per batch (the last batch may be smaller unless `drop_last`).
    pub batch_size: usize,
    /// Shuffle every epoch (training); off for evaluation.
    pub shuffle: bool,
    /// Group examples of similar length into the same batch.
    pub group_by_length: bool,
    /// Batches per mega-batch; `None` is transformers' `min(n / (4 × batch_size), 50)`, at least 1.
    pub mega_batches: Option<usize>,
    /// Drop a last, smaller batch.
    pub drop_last: bool,
    /// Seed; epoch `e` uses stream `e` of it.
    pub seed: u64,
}

impl BatchOptions {
    /// Training defaults: shuffled, grouped by length, keep the last batch.
    pub fn train(batch_size: usize, seed: u64) -> Self {
        Self { batch_size, shuffle: true, group_by_length: true, mega_batches: None, drop_last: false, seed }
    }

    /// Evaluation: file order, no shuffling, no grouping.
    pub fn eval(batch_size: usize) -> Self {
        Self { batch_size, shuffle: false, group_by_length: false, mega_batches: None, drop_last: false, seed: 0 }
    }
}

/// The batches of epoch `epoch` over examples of the given `lengths` (tokens each): lists of example
/// indices. Deterministic for `(lengths, options, epoch)`.
///
/// # Panics
/// If `batch_size` is 0 (a configuration error caught when settings are validated).
pub fn plan_epoch(lengths: &[u32], options: &BatchOptions, epoch: u64) -> Vec<Vec<u32>> {
    assert!(options.batch_size > 0, "batch_size must be positive");
    let n = lengths.len();
    let bs = options.batch_size;
    let mut rng = Rng::with_stream(options.seed, epoch);
    let mut order: Vec<u32> = (0..n as u32).collect();
    if options.shuffle {
        rng.shuffle(&mut order);
    }
    let mut batches: Vec<Vec<u32>> = if options.group_by_length && n > 0 {
        let mult = options.mega_batches.unwrap_or_else(|| (n / (bs * 4)).min(50)).max(1);
        let mut batches = Vec::with_capacity(n.div_ceil(bs));
        for mega in order.chunks_mut(mult * bs) {
            // Stable sort: ties keep the shuffled order, so the result depends only on the seed.
            mega.sort_by(|&a, &b| lengths[b as usize].cmp(&lengths[a as usize]));
            batches.extend(mega.chunks(bs).map(<[u32]>::to_vec));
        }
        if options.shuffle {
            rng.shuffle(&mut batches);
        }
        let longest = (0..batches.len()).max_by_key(|&i| {
            (batches[i].iter().map(|&k| lengths[k as usize]).max().unwrap_or(0), std::cmp::Reverse(i))
        });
        if let Some(i) = longest {
            batches.swap(0, i);
        }
        batches
    } else {
        order.chunks(bs).map(<[u32]>::to_vec).collect()
    };
    if options.drop_last {
        batches.retain(|b| b.len() == bs);
    }
    batches
}

/// Tokens in an epoch's padded batches versus real tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PaddingStats {
    /// Real tokens (sum of lengths).
    pub real_tokens: u64,
    /// Tokens the padded batches hold (`Σ B × T`).
    pub padded_tokens: u64,
    /// Batches.
    pub batches: usize,
}

impl PaddingStats {
    /// Padding tokens per real token: 0 means no waste, 1 means half of every batch is padding.
    pub fn waste(&self) -> f64 {
        if self.real_tokens == 0 {
            0.0
        } else {
            (self.padded_tokens - self.real_tokens) as f64 / self.real_tokens as f64
        }
    }

    /// Padded tokens per real token (`1 + waste`).
    pub fn ratio(&self) -> f64 {
        if self.real_tokens == 0 { 1.0 } else { self.padded_tokens as f64 / self.real_tokens as f64 }
    }
}

/// What padding `batches` costs with dynamic padding (to the longest row, rounded up to
/// `pad_to_multiple_of`).
pub fn padding_stats(lengths: &[u32], batches: &[Vec<u32>], pad_to_multiple_of: Option<usize>) -> PaddingStats {
    let mut stats = PaddingStats { batches: batches.len(), ..Default::default() };
    for batch in batches {
        let longest = batch.iter().map(|&i| lengths[i as usize] as usize).max().unwrap_or(0);
        let t = match pad_to_multiple_of {
            Some(m) if m > 1 => longest.div_ceil(m) * m,
            _ => longest,
        };
        stats.padded_tokens += (t * batch.len()) as u64;
        stats.real_tokens += batch.iter().map(|&i| u64::from(lengths[i as usize])).sum::<u64>();
    }
    stats
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eval_keeps_file_order() {
        let batches = plan_epoch(&[5, 3, 9, 1, 2], &BatchOptions::eval(2), 0);
        assert_eq!(batches, vec![vec![0, 1], vec![2, 3], vec![4]]);
    }

    #[test]
    fn padding_stats_by_hand() {
        // Batches [5, 3] -> T 5, 10 slots; [9, 1] -> T 9, 18 slots; [2] -> 2. Real 20, padded 30.
        let lengths = [5, 3, 9, 1, 2];
        let batches = plan_epoch(&lengths, &BatchOptions::eval(2), 0);
        let s = padding_stats(&lengths, &batches, None);
        assert_eq!((s.real_tokens, s.padded_tokens, s.batches), (20, 30, 3));
        assert!((s.waste() - 0.5).abs() < 1e-12);
        // Multiple of 8: T 8, 16, 8 -> 16 + 32 + 8 = 56.
        assert_eq!(padding_stats(&lengths, &batches, Some(8)).padded_tokens, 56);
    }

    #[test]
    fn grouping_puts_similar_lengths_together_and_longest_first() {
        let lengths: Vec<u32> = (0..64).map(|i| (i * 37 % 64) + 1).collect();
        let opts = BatchOptions { mega_batches: Some(8), ..BatchOptions::train(8, 3) };
        let batches = plan_epoch(&lengths, &opts, 0);
        assert_eq!(batches.len(), 8);
        assert!(batches[0].iter().any(|&i| lengths[i as usize] == 64));
        let grouped = padding_stats(&lengths, &batches, None);
        let plain =
            padding_stats(&lengths, &plan_epoch(&lengths, &BatchOptions { group_by_length: false, ..opts }, 0), None);
        assert_eq!(
            grouped.padded_tokens,
            grouped.real_tokens + 8 * 28,
            "one mega-batch: sorted runs of 8 consecutive lengths"
        );
        assert!(grouped.waste() < plain.waste());
    }

    #[test]
    fn epochs_differ_seeds_repeat() {
        let lengths = vec![4u32; 100];
        let opts = BatchOptions::train(10, 42);
        assert_eq!(plan_epoch(&lengths, &opts, 1), plan_epoch(&lengths, &opts, 1));
        assert_ne!(plan_epoch(&lengths, &opts, 1), plan_epoch(&lengths, &opts, 2));
    }
}
