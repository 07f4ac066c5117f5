//! How many tokens of each sequence survive truncation: HF's `longest_first` strategy
//! (tokenizers' `utils/truncation.rs::truncate_encodings`), reproduced case by case.

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

#[cfg(test)]
mod tests {
    use super::*;

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
