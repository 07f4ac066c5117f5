//! How many tokens of each sequence survive truncation: HF's `longest_first` strategy
//! (tokenizers' `utils/truncation.rs::truncate_encodings`), reproduced case by case; and the
//! overflowing windows of a sequence cut with a stride (`Encoding::truncate`), as question answering
//! cuts long contexts.

/// Lengths `(n1, n2)` kept of sequences of `len_a` and `len_b` tokens for a `budget` of tokens
/// (max length minus the special tokens).
///
/// Only the longer sequence is cut when the shorter fits in half the budget; otherwise both get half
/// (the first sequence's half rounded down, except that a longer *first* sequence gets the odd token).
pub fn longest_first(len_a: usize, len_b: usize, budget: usize) -> (usize, usize) {
    if budget == 0 {
        return (0, 0);
    }
    if len_a + len_b <= budget {
        return (len_a, len_b);
    }
    let (mut n1, mut n2) = (len_a, len_b);
    let swap = n1 > n2;
    if swap {
        std::mem::swap(&mut n1, &mut n2);
    }
    // n1 is the shorter one.
    n2 = if n1 > budget { n1 } else { n1.max(budget - n1) };
    if n1 + n2 > budget {
        n1 = budget / 2;
        n2 = n1 + budget % 2;
    }
    if swap {
        std::mem::swap(&mut n1, &mut n2);
    }
    (n1.min(len_a), n2.min(len_b))
}

/// Tokens kept of a single sequence.
pub fn single(len: usize, budget: usize) -> usize {
    len.min(budget)
}

/// The windows `[start, stop)` of a sequence of `len` tokens cut to `max_len` tokens each, every
/// window after the first starting `max_len - stride` tokens after the previous one (so consecutive
/// windows share `stride` tokens), the last one ending at `len`: tokenizers' `Encoding::truncate`
/// with a stride (the first window is the encoding, the others its `overflowing`). One window when
/// the sequence fits. Needs `stride < max_len` when it does not (the caller checks).
pub fn windows(len: usize, max_len: usize, stride: usize) -> Vec<(usize, usize)> {
    if len <= max_len {
        return vec![(0, len)];
    }
    let step = max_len.saturating_sub(stride).max(1);
    let mut out = Vec::with_capacity(len.div_ceil(step));
    let mut start = 0;
    loop {
        let stop = (start + max_len).min(len);
        out.push((start, stop));
        if stop == len {
            return out;
        }
        start += step;
    }
}

/// The windows of a context of `len_b` tokens after a question of `len_a` tokens, `added` special
/// tokens around them, at most `max_len` tokens each (transformers' `truncation="only_second"` with
/// `stride` and `return_overflowing_tokens=True`): one window when everything fits; otherwise the
/// context's room (`max_len - len_a - added`) must be more than `stride`, else the question is too long
/// (HF raises a truncation error, or panics on the stride).
pub fn context_windows(
    len_a: usize,
    len_b: usize,
    added: usize,
    max_len: usize,
    stride: usize,
) -> Result<Vec<(usize, usize)>, crate::DataError> {
    if len_a + len_b + added <= max_len {
        return Ok(vec![(0, len_b)]);
    }
    let room = max_len.saturating_sub(len_a + added);
    if room == 0 || stride >= room {
        return Err(crate::DataError::QuestionTooLong { question_tokens: len_a, max_len, stride, room });
    }
    Ok(windows(len_b, room, stride))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_by_hand() {
        assert_eq!(windows(5, 8, 2), [(0, 5)]);
        assert_eq!(windows(10, 4, 1), [(0, 4), (3, 7), (6, 10)]);
        // The last window may be short and overlap more than the stride.
        assert_eq!(windows(11, 4, 1), [(0, 4), (3, 7), (6, 10), (9, 11)]);
        assert_eq!(windows(10, 5, 0), [(0, 5), (5, 10)]);
        // A question of 3 tokens and 3 specials leave 4 of 10 for the context.
        assert_eq!(context_windows(3, 10, 3, 10, 1).unwrap(), [(0, 4), (3, 7), (6, 10)]);
        assert_eq!(context_windows(3, 4, 3, 10, 9).unwrap(), [(0, 4)], "fits: no stride check");
        assert!(context_windows(3, 10, 3, 10, 4).is_err(), "stride 4 is not below the room of 4");
        assert!(context_windows(7, 10, 3, 10, 0).is_err(), "no room at all");
    }

    #[test]
    fn table() {
        // (len_a, len_b, budget) -> kept
        let cases = [
            ((3, 4, 10), (3, 4)), // fits
            ((6, 2, 4), (2, 2)),  // shorter 2 fits in half: n2 = max(2, 2) = 2
            ((6, 2, 5), (3, 2)),  // only the longer is cut: 5 - 2
            ((2, 6, 5), (2, 3)),
            ((6, 5, 6), (3, 3)), // both over half: 6 / 2 each
            ((6, 5, 7), (4, 3)), // odd budget: the longer (first, swapped back) gets the odd token
            ((5, 6, 7), (3, 4)),
            ((3, 3, 5), (2, 3)), // equal lengths, odd budget: second gets the odd token
            ((10, 1, 3), (2, 1)),
            ((1, 10, 3), (1, 2)),
            ((4, 7, 1), (0, 1)),
            ((4, 7, 0), (0, 0)),
        ];
        for ((a, b, budget), expected) in cases {
            assert_eq!(longest_first(a, b, budget), expected, "longest_first({a}, {b}, {budget})");
        }
    }

    #[test]
    fn never_over_budget_never_over_length() {
        for a in 0..12 {
            for b in 0..12 {
                for budget in 0..25 {
                    let (n1, n2) = longest_first(a, b, budget);
                    assert!(n1 <= a && n2 <= b && n1 + n2 <= budget, "{a} {b} {budget}");
                    if a + b <= budget {
                        assert_eq!((n1, n2), (a, b));
                    }
                }
            }
        }
    }
}
