//! Entity spans from per-token scores, as transformers' `pipeline("token-classification")` groups
//! them (`TokenClassificationPipeline.gather_pre_entities` / `aggregate` / `group_entities`, 5.24):
//! tokens become words (a token is a continuation of the previous word when its vocabulary string is
//! longer or shorter than the text it covers, as for WordPiece's `##ing`), words take a label by the
//! aggregation strategy, and adjacent words of one type (`B-X I-X …`, or the same plain label) become
//! one entity with the mean score, its character span, and its text cut from the original.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

use crate::error::EvalError;

/// How the tokens of a word agree on one label (transformers' `aggregation_strategy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Aggregation {
    /// Each token keeps its own label; adjacent tokens of one type are grouped.
    Simple,
    /// A word takes its first token's label and score.
    First,
    /// A word takes the label of its tokens' mean scores.
    Average,
    /// A word takes the label of its single most confident token.
    Max,
}

impl FromStr for Aggregation {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "simple" => Ok(Self::Simple),
            "first" => Ok(Self::First),
            "average" => Ok(Self::Average),
            "max" => Ok(Self::Max),
            other => Err(format!("unknown aggregation \"{other}\"; use simple, first, average or max")),
        }
    }
}

impl fmt::Display for Aggregation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Simple => "simple",
            Self::First => "first",
            Self::Average => "average",
            Self::Max => "max",
        })
    }
}

/// One token of a sentence as the model saw it.
#[derive(Debug, Clone, PartialEq)]
pub struct ScoredToken {
    /// The vocabulary string (`convert_ids_to_tokens`), e.g. `##ing`.
    pub token: String,
    /// Whether it is the unknown token (its text then counts as a word of its own).
    pub unknown: bool,
    /// Character span `[start, end)` in the sentence.
    pub start: usize,
    /// End of the span.
    pub end: usize,
    /// Softmax over the labels.
    pub probs: Vec<f64>,
}

/// An entity found in a text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EntitySpan {
    /// The type (`PER`; a label without `B-`/`I-` is its own type).
    #[serde(rename = "type")]
    pub entity_type: String,
    /// First character (Python string index).
    pub start: usize,
    /// One past the last character.
    pub end: usize,
    /// `sentence[start..end]`.
    pub text: String,
    /// Mean score of its words (or tokens, with [`Aggregation::Simple`]).
    pub score: f64,
}

/// A word (or, for `Simple`, a token) with its chosen label.
struct Labelled {
    label: usize,
    score: f64,
    start: usize,
    end: usize,
}

fn argmax(p: &[f64]) -> usize {
    // numpy's argmax: the first of equal maxima.
    (0..p.len()).fold(0, |best, k| if p[k] > p[best] { k } else { best })
}

/// `(B or I, type)` as the pipeline's `get_tag`: a label without `B-`/`I-` continues as `I`.
fn tag(label: &str) -> (char, &str) {
    if let Some(t) = label.strip_prefix("B-") {
        ('B', t)
    } else if let Some(t) = label.strip_prefix("I-") {
        ('I', t)
    } else {
        ('I', label)
    }
}

/// The entity spans of `sentence` from its non-special `tokens` (in order), with `labels` the model's
/// `id2label`; groups whose type is in `ignore` (the pipeline's `ignore_labels`, default `["O"]`) are
/// left out.
pub fn entity_spans(
    sentence: &str,
    tokens: &[ScoredToken],
    labels: &[String],
    aggregation: Aggregation,
    ignore: &[String],
) -> Result<Vec<EntitySpan>, EvalError> {
    if let Some(t) = tokens.iter().find(|t| t.probs.len() != labels.len()) {
        return Err(EvalError::LengthMismatch {
            a: "token scores",
            len_a: t.probs.len(),
            b: "labels",
            len_b: labels.len(),
        });
    }
    let chars: Vec<char> = sentence.chars().collect();
    let text_of = |start: usize, end: usize| -> String {
        chars.get(start.min(chars.len())..end.min(chars.len())).map(|c| c.iter().collect()).unwrap_or_default()
    };
    let labelled: Vec<Labelled> = match aggregation {
        Aggregation::Simple => tokens
            .iter()
            .map(|t| {
                let k = argmax(&t.probs);
                Labelled { label: k, score: t.probs[k], start: t.start, end: t.end }
            })
            .collect(),
        _ => {
            // Words: a token continues the previous word when its string and its text differ in
            // length (`##` pieces), unless it is the unknown token.
            let mut words: Vec<Vec<&ScoredToken>> = Vec::new();
            for t in tokens {
                let covered = t.end.saturating_sub(t.start);
                let subword = !t.unknown && t.token.chars().count() != covered;
                match words.last_mut() {
                    Some(word) if subword => word.push(t),
                    _ => words.push(vec![t]),
                }
            }
            words.iter().map(|w| word_label(w, aggregation)).collect()
        }
    };
    // Adjacent words of one type (not starting a new `B-`) form one entity.
    let mut groups: Vec<Vec<&Labelled>> = Vec::new();
    for l in &labelled {
        let (bi, ty) = tag(&labels[l.label]);
        match groups.last_mut() {
            Some(group) if bi != 'B' && tag(&labels[group[group.len() - 1].label]).1 == ty => group.push(l),
            _ => groups.push(vec![l]),
        }
    }
    Ok(groups
        .into_iter()
        .filter_map(|group| {
            let first = &labels[group[0].label];
            let entity_type = first.split_once('-').map_or(first.as_str(), |(_, t)| t).to_string();
            if ignore.contains(&entity_type) {
                return None;
            }
            let (start, end) = (group[0].start, group[group.len() - 1].end);
            let score = group.iter().map(|l| l.score).sum::<f64>() / group.len() as f64;
            Some(EntitySpan { entity_type, start, end, text: text_of(start, end), score })
        })
        .collect())
}

/// The pipeline's `aggregate_word`.
fn word_label(word: &[&ScoredToken], aggregation: Aggregation) -> Labelled {
    let (start, end) = (word[0].start, word[word.len() - 1].end);
    let (label, score) = match aggregation {
        Aggregation::Simple | Aggregation::First => {
            let k = argmax(&word[0].probs);
            (k, word[0].probs[k])
        }
        Aggregation::Max => {
            // The first token whose top score is the largest (Python's max keeps the first).
            let best = word.iter().fold(word[0], |best, t| {
                let top = |t: &ScoredToken| t.probs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                if top(t) > top(best) { t } else { best }
            });
            let k = argmax(&best.probs);
            (k, best.probs[k])
        }
        Aggregation::Average => {
            let c = word[0].probs.len();
            let mean: Vec<f64> =
                (0..c).map(|k| word.iter().map(|t| t.probs[k]).sum::<f64>() / word.len() as f64).collect();
            let k = argmax(&mean);
            (k, mean[k])
        }
    };
    Labelled { label, score, start, end }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tok(token: &str, start: usize, end: usize, probs: &[f64]) -> ScoredToken {
        ScoredToken { token: token.into(), unknown: false, start, end, probs: probs.to_vec() }
    }

    fn labels() -> Vec<String> {
        ["O", "B-PER", "I-PER"].iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn words_agree_and_b_i_words_group_into_one_entity() {
        // "peter black ##burn": B-PER, then I-PER on "black", O-ish on "##burn".
        let s = "Peter Blackburn";
        let tokens = [
            tok("peter", 0, 5, &[0.1, 0.8, 0.1]),
            tok("black", 6, 11, &[0.2, 0.1, 0.7]),
            tok("##burn", 11, 15, &[0.6, 0.1, 0.3]),
        ];
        let o = vec!["O".to_string()];
        let first = entity_spans(s, &tokens, &labels(), Aggregation::First, &o).unwrap();
        // first: "blackburn" takes "black"'s I-PER (0.7); the group's score is the mean (0.8 + 0.7) / 2.
        assert_eq!(first.len(), 1);
        assert_eq!((first[0].entity_type.as_str(), first[0].start, first[0].end), ("PER", 0, 15));
        assert_eq!(first[0].text, "Peter Blackburn");
        assert!((first[0].score - 0.75).abs() < 1e-12);
        // average: "blackburn" = mean(0.2, 0.6)=0.4 O vs mean(0.7, 0.3)=0.5 I-PER → I-PER, score 0.5.
        let avg = entity_spans(s, &tokens, &labels(), Aggregation::Average, &o).unwrap();
        assert!((avg[0].score - (0.8 + 0.5) / 2.0).abs() < 1e-12);
        // simple: "##burn" is O on its own, so the entity ends at "black".
        let simple = entity_spans(s, &tokens, &labels(), Aggregation::Simple, &o).unwrap();
        assert_eq!((simple[0].start, simple[0].end), (0, 11));
        // Keeping O shows the last group too.
        let all = entity_spans(s, &tokens, &labels(), Aggregation::Simple, &[]).unwrap();
        assert_eq!(all.last().map(|e| (e.entity_type.as_str(), e.start, e.end)), Some(("O", 11, 15)));
    }

    #[test]
    fn a_new_b_starts_a_new_entity_and_unknown_tokens_are_words() {
        let s = "ab cd";
        let mut unk = tok("[UNK]", 3, 5, &[0.1, 0.8, 0.1]);
        unk.unknown = true;
        let tokens = [tok("ab", 0, 2, &[0.1, 0.8, 0.1]), unk];
        let e = entity_spans(s, &tokens, &labels(), Aggregation::Max, &["O".into()]).unwrap();
        assert_eq!(e.iter().map(|e| (e.start, e.end)).collect::<Vec<_>>(), [(0, 2), (3, 5)]);
        let bad = entity_spans(s, &[tok("ab", 0, 2, &[1.0])], &labels(), Aggregation::Max, &[]);
        assert!(bad.is_err());
    }
}
