//! Extractive question answering: SQuAD v1.1's exact match and F1, as its official evaluation script
//! computes them (checked against the script's functions on `fixtures/squad_golden.json`).
//!
//! An answer is normalised before it is compared: lower-cased, ASCII punctuation (Python's
//! `string.punctuation`) removed, the words `a`, `an`, `the` removed where they stand alone (the
//! script's `\b(a|an|the)\b`), and whitespace collapsed (Python's `str.split`, which also splits at
//! the separators U+001C..U+001F). Exact match is 1 when the normalised strings are equal; F1 is over
//! the normalised words (a multiset intersection), 0 when no word is shared — so an answer that
//! normalises to nothing scores F1 0 even against a gold answer that does too (EM 1), as in v1.1.
//! A question scores the maximum over its gold answers; a corpus the mean, times 100.
//!
//! Python's `\w` (for `\b`) is `str.isalnum()` or `_`; here it is `char::is_alphanumeric` or `_`. The
//! two differ only on a few combining marks of non-Latin scripts (Unicode's Other_Alphabetic), which
//! change the result only when one sits right beside a stand-alone `a`, `an` or `the`.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::check;
use crate::error::EvalError;

/// `string.punctuation`.
const PUNCTUATION: &str = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";

fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Python's `str.isspace` (what `str.split()` splits at).
fn is_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// `re.sub(r"\b(a|an|the)\b", " ", text)`: each article that starts after a non-word character (or
/// the start) and ends before one (or the end) becomes a space.
fn remove_articles(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let is_article_at = |i: usize, word: &str| {
        let n = word.chars().count();
        chars.len() >= i + n
            && chars[i..i + n].iter().copied().eq(word.chars())
            && chars.get(i + n).is_none_or(|&c| !is_word(c))
    };
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        let after_boundary = i == 0 || !is_word(chars[i - 1]);
        match ["a", "an", "the"].into_iter().find(|w| after_boundary && is_article_at(i, w)) {
            Some(article) => {
                out.push(' ');
                i += article.len();
            }
            None => {
                out.push(chars[i]);
                i += 1;
            }
        }
    }
    out
}

/// The script's `normalize_answer`: lower case, no punctuation, no articles, single spaces.
///
/// ```
/// assert_eq!(ft_eval::normalize_answer("The  Eiffel-Tower!"), "eiffeltower");
/// assert_eq!(ft_eval::normalize_answer("an apple a day"), "apple day");
/// ```
pub fn normalize_answer(s: &str) -> String {
    let lower = s.to_lowercase();
    let no_punc: String = lower.chars().filter(|c| !PUNCTUATION.contains(*c)).collect();
    remove_articles(&no_punc).split(is_space).filter(|w| !w.is_empty()).collect::<Vec<_>>().join(" ")
}

/// 1 when `prediction` and `truth` normalise to the same string, else 0.
pub fn exact_match(prediction: &str, truth: &str) -> f64 {
    if normalize_answer(prediction) == normalize_answer(truth) { 1.0 } else { 0.0 }
}

/// The word-level F1 of the normalised answers (0 when they share no word).
pub fn f1(prediction: &str, truth: &str) -> f64 {
    let (p, t) = (normalize_answer(prediction), normalize_answer(truth));
    let (p, t): (Vec<&str>, Vec<&str>) =
        (p.split(' ').filter(|w| !w.is_empty()).collect(), t.split(' ').filter(|w| !w.is_empty()).collect());
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for w in &t {
        *counts.entry(w).or_default() += 1;
    }
    let mut same = 0usize;
    for w in &p {
        if let Some(n) = counts.get_mut(w)
            && *n > 0
        {
            *n -= 1;
            same += 1;
        }
    }
    if same == 0 {
        return 0.0;
    }
    let precision = same as f64 / p.len() as f64;
    let recall = same as f64 / t.len() as f64;
    2.0 * precision * recall / (precision + recall)
}

/// SQuAD v1.1 scores of a set of questions, in percent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SquadScores {
    /// Mean over the questions of the best exact match against their gold answers, × 100.
    pub exact_match: f64,
    /// Mean over the questions of the best F1 against their gold answers, × 100.
    pub f1: f64,
    /// Number of questions.
    pub total: usize,
}

impl SquadScores {
    /// Scores `predictions[i]` against the gold answers `answers[i]` of question `i`.
    ///
    /// Errors: no question, different numbers of predictions and questions, a question without a
    /// gold answer (the script's `max` of nothing).
    ///
    /// ```
    /// let s = ft_eval::SquadScores::compute(&["Denver Broncos", "1990"], &[vec!["the Denver Broncos"], vec!["1991", "1990s"]])?;
    /// assert_eq!((s.exact_match, s.f1, s.total), (50.0, 50.0, 2));
    /// # Ok::<(), ft_eval::EvalError>(())
    /// ```
    pub fn compute<P: AsRef<str>, A: AsRef<[T]>, T: AsRef<str>>(
        predictions: &[P],
        answers: &[A],
    ) -> Result<Self, EvalError> {
        check::non_empty("predictions", predictions.len())?;
        check::same_len("predictions", predictions.len(), "answers", answers.len())?;
        let (mut em, mut f) = (0.0, 0.0);
        for (i, (p, golds)) in predictions.iter().zip(answers).enumerate() {
            let golds = golds.as_ref();
            if golds.is_empty() {
                return Err(EvalError::NoGoldAnswer { question: i });
            }
            let best = |metric: fn(&str, &str) -> f64| {
                golds.iter().map(|g| metric(p.as_ref(), g.as_ref())).fold(f64::NEG_INFINITY, f64::max)
            };
            em += best(exact_match);
            f += best(f1);
        }
        let n = predictions.len() as f64;
        Ok(SquadScores { exact_match: 100.0 * em / n, f1: 100.0 * f / n, total: predictions.len() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalisation_by_hand() {
        assert_eq!(normalize_answer("  The Cat sat on THE mat. "), "cat sat on mat");
        assert_eq!(normalize_answer("theater an"), "theater");
        assert_eq!(normalize_answer("a-n apple"), "apple", "punctuation goes first: a-n → an");
        assert_eq!(normalize_answer("don't"), "dont");
        assert_eq!(normalize_answer("...!"), "");
        assert_eq!(normalize_answer("x\u{1c}y\u{a0}z"), "x y z");
        assert_eq!(normalize_answer("Café — “quoted”"), "café — “quoted”", "only ASCII punctuation is removed");
    }

    #[test]
    fn scores_by_hand() {
        assert_eq!(exact_match("The answer", "answer."), 1.0);
        // 2 shared words of 3 predicted and 2 true: P 2/3, R 1.
        assert_eq!(f1("big red dog", "red dog"), 2.0 * (2.0 / 3.0) / (2.0 / 3.0 + 1.0));
        // Repeated words count once per occurrence (a multiset).
        assert_eq!(f1("dog dog", "dog"), 2.0 * 0.5 / 1.5);
        // Both empty after normalisation: exact, yet F1 0 (v1.1's rule).
        assert_eq!((exact_match("the", "!"), f1("the", "!")), (1.0, 0.0));
        let e = SquadScores::compute(&["x"], &[Vec::<&str>::new()]).unwrap_err();
        assert_eq!(e, EvalError::NoGoldAnswer { question: 0 });
    }
}
