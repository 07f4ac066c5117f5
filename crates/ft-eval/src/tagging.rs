//! Token tagging (NER): entity chunks from B-/I-/E-/S-/O tags and entity-level precision, recall and F1,
//! as seqeval 1.2's default mode (`seqeval.metrics.f1_score(y_true, y_pred)`, conlleval-compatible).
//!
//! seqeval's default mode is lenient: `I-X` after `O` (or after another type) starts a chunk, a change of
//! type ends one, `E-`/`S-` tags close chunks, and a tag without a type (`B`, `I-`) has type `_`. The state
//! machine below is a line-for-line port of its `get_entities` / `end_of_chunk` / `start_of_chunk`. A tag
//! must start with `O`, `B`, `I`, `E` or `S` (seqeval reads the first character as the chunk tag and the
//! text after the first `-` as the type); anything else is an error here, where seqeval only warns.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::check;
use crate::classification::{Averages, ClassScores, ratio};
use crate::error::EvalError;

/// A chunk of one entity type: tokens `start..end` (end exclusive) of a sentence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entity {
    /// The type (`PER`, `LOC`, ...; `_` for a tag without one).
    pub entity_type: String,
    /// First token.
    pub start: usize,
    /// One past the last token.
    pub end: usize,
}

/// Entity-level scores over a corpus of tagged sentences.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaggingReport {
    /// Number of sentences.
    pub num_sentences: usize,
    /// Number of tokens.
    pub num_tokens: usize,
    /// Fraction of tokens whose tag is predicted exactly (`seqeval.metrics.accuracy_score`).
    pub token_accuracy: f64,
    /// Pooled over entity types: seqeval's default `precision_score`, `recall_score`, `f1_score`. An
    /// entity counts only if its type and both boundaries match.
    pub micro_avg: Averages,
    /// Unweighted mean over the types found in `y_true` or `y_pred`; 0 when there is none (seqeval: NaN).
    pub macro_avg: Averages,
    /// Mean weighted by support; 0 when `y_true` has no entity (as seqeval).
    pub weighted_avg: Averages,
    /// Scores per entity type (sorted by name), support = entities of the type in `y_true`.
    pub per_type: BTreeMap<String, ClassScores>,
}

impl TaggingReport {
    /// The report for sentences of tags, `y_true[i][j]` the tag of token `j` of sentence `i`
    /// (`Vec<Vec<String>>`, `&[&[&str]]`, ...).
    ///
    /// Errors: no sentence or no token, different numbers of sentences, a sentence with different lengths,
    /// a tag not starting with `O`, `B`, `I`, `E` or `S`.
    pub fn compute<S: AsRef<[T]>, T: AsRef<str>>(y_true: &[S], y_pred: &[S]) -> Result<Self, EvalError> {
        check::non_empty("y_true", y_true.len())?;
        check::same_len("y_true", y_true.len(), "y_pred", y_pred.len())?;
        // Per type: the (sentence, start, end) of every true and every predicted entity.
        type Spans = BTreeSet<(usize, usize, usize)>;
        let mut spans: BTreeMap<String, (Spans, Spans)> = BTreeMap::new();
        let (mut tokens, mut correct_tokens) = (0, 0);
        for (i, (t, p)) in y_true.iter().zip(y_pred).enumerate() {
            let (t, p) = (t.as_ref(), p.as_ref());
            if t.len() != p.len() {
                return Err(EvalError::SentenceLengthMismatch { sentence: i, len_true: t.len(), len_pred: p.len() });
            }
            tokens += t.len();
            correct_tokens += t.iter().zip(p).filter(|(a, b)| a.as_ref() == b.as_ref()).count();
            for e in extract("y_true", i, t)? {
                spans.entry(e.entity_type).or_default().0.insert((i, e.start, e.end));
            }
            for e in extract("y_pred", i, p)? {
                spans.entry(e.entity_type).or_default().1.insert((i, e.start, e.end));
            }
        }
        check::non_empty("y_true tokens", tokens)?;

        let (mut tp_all, mut pred_all, mut true_all) = (0, 0, 0);
        let mut per_type = BTreeMap::new();
        for (name, (t, p)) in spans {
            let tp = t.intersection(&p).count();
            (tp_all, pred_all, true_all) = (tp_all + tp, pred_all + p.len(), true_all + t.len());
            per_type.insert(name, seqeval_scores(tp, p.len(), t.len()));
        }
        let micro = seqeval_scores(tp_all, pred_all, true_all);
        Ok(TaggingReport {
            num_sentences: y_true.len(),
            num_tokens: tokens,
            token_accuracy: ratio(correct_tokens, tokens),
            micro_avg: Averages { precision: micro.precision, recall: micro.recall, f1: micro.f1 },
            macro_avg: Averages::mean(per_type.values()),
            weighted_avg: Averages::weighted(per_type.values()),
            per_type,
        })
    }
}

/// Which type each entity was given: rows are the true types, columns the predicted ones (the types
/// found in either, sorted, then `O`). Cell (t, p) counts true entities of type t predicted with the
/// same boundaries as type p; column `O` counts true entities whose exact span was not predicted as any
/// entity, row `O` predicted entities whose span is no true entity (`O`, `O` stays 0). The diagonal is
/// seqeval's true positives per type, row sums its support, column sums its predicted counts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntityConfusion {
    /// Row and column names: the entity types, then `O`.
    pub types: Vec<String>,
    /// `counts[true][predicted]`.
    pub counts: Vec<Vec<usize>>,
}

impl EntityConfusion {
    /// The confusion of sentences of tags (as [`TaggingReport::compute`] takes them, with its errors).
    pub fn compute<S: AsRef<[T]>, T: AsRef<str>>(y_true: &[S], y_pred: &[S]) -> Result<Self, EvalError> {
        check::same_len("y_true", y_true.len(), "y_pred", y_pred.len())?;
        // Per sentence: span → type, for the true and the predicted entities.
        let mut pairs: Vec<(Option<String>, Option<String>)> = Vec::new();
        for (i, (t, p)) in y_true.iter().zip(y_pred).enumerate() {
            let (t, p) = (t.as_ref(), p.as_ref());
            if t.len() != p.len() {
                return Err(EvalError::SentenceLengthMismatch { sentence: i, len_true: t.len(), len_pred: p.len() });
            }
            let mut predicted: BTreeMap<(usize, usize), String> =
                extract("y_pred", i, p)?.into_iter().map(|e| ((e.start, e.end), e.entity_type)).collect();
            for e in extract("y_true", i, t)? {
                pairs.push((Some(e.entity_type), predicted.remove(&(e.start, e.end))));
            }
            pairs.extend(predicted.into_values().map(|ty| (None, Some(ty))));
        }
        let mut types: Vec<String> =
            pairs.iter().flat_map(|(t, p)| [t, p]).flatten().cloned().collect::<BTreeSet<_>>().into_iter().collect();
        let none = types.len();
        let mut counts = vec![vec![0; none + 1]; none + 1];
        let at = |ty: &Option<String>| ty.as_ref().and_then(|ty| types.binary_search(ty).ok()).unwrap_or(none);
        for (t, p) in &pairs {
            counts[at(t)][at(p)] += 1;
        }
        types.push("O".into());
        Ok(EntityConfusion { types, counts })
    }
}

/// The entity chunks of one sentence's tags, as `seqeval.metrics.sequence_labeling.get_entities`
/// (with `end` exclusive).
///
/// Errors: a tag not starting with `O`, `B`, `I`, `E` or `S` (reported as sentence 0).
///
/// ```
/// let e = ft_eval::entities(&["B-PER", "I-PER", "O", "I-LOC"]).unwrap();
/// let spans: Vec<_> = e.iter().map(|e| (e.entity_type.as_str(), e.start, e.end)).collect();
/// assert_eq!(spans, [("PER", 0, 2), ("LOC", 3, 4)]);
/// ```
pub fn entities<T: AsRef<str>>(tags: &[T]) -> Result<Vec<Entity>, EvalError> {
    extract("tags", 0, tags)
}

/// seqeval's per-type arithmetic: P and R with 0/0 = 0, then F1 = 2PR / (P + R) (0 when P + R = 0).
fn seqeval_scores(tp: usize, predicted: usize, actual: usize) -> ClassScores {
    let (precision, recall) = (ratio(tp, predicted), ratio(tp, actual));
    let f1 = if precision + recall == 0.0 { 0.0 } else { 2.0 * precision * recall / (precision + recall) };
    ClassScores { precision, recall, f1, support: actual }
}

fn extract<T: AsRef<str>>(what: &'static str, sentence: usize, tags: &[T]) -> Result<Vec<Entity>, EvalError> {
    let mut chunks = Vec::new();
    // seqeval starts from prev_tag 'O', prev_type '' and appends one 'O' (type '_') to flush the last chunk.
    let (mut prev_tag, mut prev_type) = ('O', String::new());
    let mut begin = 0;
    for i in 0..=tags.len() {
        let (tag, ty) = match tags.get(i) {
            Some(t) => parse(t.as_ref()).ok_or_else(|| EvalError::InvalidTag {
                what,
                sentence,
                token: i,
                tag: t.as_ref().to_string(),
            })?,
            None => ('O', "_"),
        };
        if end_of_chunk(prev_tag, tag, &prev_type, ty) {
            chunks.push(Entity { entity_type: prev_type.clone(), start: begin, end: i });
        }
        if start_of_chunk(prev_tag, tag, &prev_type, ty) {
            begin = i;
        }
        prev_tag = tag;
        prev_type = ty.to_string();
    }
    Ok(chunks)
}

/// `("B-PER")` → `('B', "PER")`; the type is the text after the first `-` (all of it when there is no `-`),
/// `_` when empty. None for an empty tag or one not starting with O, B, I, E, S.
fn parse(tag: &str) -> Option<(char, &str)> {
    let mut chars = tag.chars();
    let t = chars.next().filter(|c| matches!(c, 'O' | 'B' | 'I' | 'E' | 'S'))?;
    let rest = chars.as_str();
    let ty = rest.split_once('-').map_or(rest, |(_, after)| after);
    Some((t, if ty.is_empty() { "_" } else { ty }))
}

/// seqeval's `end_of_chunk`: did a chunk end between the previous token and this one?
fn end_of_chunk(prev_tag: char, tag: char, prev_type: &str, ty: &str) -> bool {
    matches!(prev_tag, 'E' | 'S')
        || (matches!(prev_tag, 'B' | 'I') && matches!(tag, 'B' | 'S' | 'O'))
        || (prev_tag != 'O' && prev_type != ty)
}

/// seqeval's `start_of_chunk`: does a chunk start at this token?
fn start_of_chunk(prev_tag: char, tag: char, prev_type: &str, ty: &str) -> bool {
    matches!(tag, 'B' | 'S')
        || (matches!(prev_tag, 'E' | 'S' | 'O') && matches!(tag, 'E' | 'I'))
        || (tag != 'O' && prev_type != ty)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spans(tags: &[&str]) -> Vec<(String, usize, usize)> {
        entities(tags).unwrap().into_iter().map(|e| (e.entity_type, e.start, e.end)).collect()
    }

    fn s(t: &str, a: usize, b: usize) -> (String, usize, usize) {
        (t.to_string(), a, b)
    }

    #[test]
    fn chunks_the_lenient_way() {
        assert_eq!(spans(&["B-PER", "I-PER", "O", "B-LOC"]), [s("PER", 0, 2), s("LOC", 3, 4)]);
        // I- after O starts a chunk; a type change splits one; B- after B- starts a new one.
        assert_eq!(
            spans(&["O", "I-ORG", "I-ORG", "I-LOC", "B-LOC", "B-LOC"]),
            [s("ORG", 1, 3), s("LOC", 3, 4), s("LOC", 4, 5), s("LOC", 5, 6)]
        );
        // IOBES: S- is a chunk of one, E- closes.
        assert_eq!(spans(&["S-PER", "B-LOC", "E-LOC", "E-LOC"]), [s("PER", 0, 1), s("LOC", 1, 3), s("LOC", 3, 4)]);
        // No type: `_`. A type after the first '-' only.
        assert_eq!(spans(&["B", "I", "O", "B-A-B"]), [s("_", 0, 2), s("A-B", 3, 4)]);
        assert_eq!(spans(&["O", "O"]), []);
        assert_eq!(spans(&[]), []);
    }

    #[test]
    fn entity_scores_by_hand() {
        let y_true = vec![vec!["B-PER", "I-PER", "O", "B-LOC"], vec!["B-ORG", "O"]];
        let y_pred = vec![vec!["B-PER", "I-PER", "O", "O"], vec!["B-ORG", "B-LOC"]];
        // True: PER(0,0..2) LOC(0,3..4) ORG(1,0..1); predicted: PER(0,0..2) ORG(1,0..1) LOC(1,1..2).
        let r = TaggingReport::compute(&y_true, &y_pred).unwrap();
        let (p, rc) = (2.0 / 3.0, 2.0 / 3.0);
        assert_eq!(r.micro_avg, Averages { precision: p, recall: rc, f1: 2.0 * p * rc / (p + rc) });
        assert_eq!(r.per_type["LOC"], ClassScores { precision: 0.0, recall: 0.0, f1: 0.0, support: 1 });
        assert_eq!(r.per_type["PER"], ClassScores { precision: 1.0, recall: 1.0, f1: 1.0, support: 1 });
        assert_eq!(r.macro_avg.f1, (0.0 + 1.0 + 1.0) / 3.0);
        assert_eq!(r.token_accuracy, 4.0 / 6.0);
        assert_eq!((r.num_sentences, r.num_tokens), (2, 6));
    }

    #[test]
    fn entity_confusion_by_hand() {
        let y_true = [vec!["B-PER", "I-PER", "O", "B-LOC"], vec!["B-ORG", "O", "B-LOC", "O"]];
        let y_pred = [vec!["B-ORG", "I-ORG", "O", "B-LOC"], vec!["B-ORG", "I-ORG", "O", "B-PER"]];
        let c = EntityConfusion::compute(&y_true, &y_pred).unwrap();
        assert_eq!(c.types, ["LOC", "ORG", "PER", "O"]);
        // PER(0..2) → ORG; LOC(3) → LOC; ORG(0..1) missed (predicted 0..2); LOC(2) missed;
        // predicted ORG(0..2) of sentence 2 and PER(3) match nothing.
        assert_eq!(c.counts, [[1, 0, 0, 1], [0, 0, 0, 1], [0, 1, 0, 0], [0, 1, 1, 0]]);
        // The diagonal, row sums and column sums are seqeval's tp, support and predicted counts.
        let r = TaggingReport::compute(&y_true, &y_pred).unwrap();
        for (k, ty) in c.types[..3].iter().enumerate() {
            let s = &r.per_type[ty];
            assert_eq!(c.counts[k].iter().sum::<usize>(), s.support, "{ty}");
            let predicted: usize = c.counts.iter().map(|row| row[k]).sum();
            assert_eq!(ratio(c.counts[k][k], predicted), s.precision, "{ty}");
            assert_eq!(ratio(c.counts[k][k], s.support), s.recall, "{ty}");
        }
    }

    #[test]
    fn no_entities_anywhere_scores_zero() {
        let r = TaggingReport::compute(&[vec!["O", "O"]], &[vec!["O", "O"]]).unwrap();
        let zero = Averages { precision: 0.0, recall: 0.0, f1: 0.0 };
        assert_eq!((r.micro_avg, r.macro_avg, r.weighted_avg), (zero, zero, zero));
        assert!(r.per_type.is_empty());
        assert_eq!(r.token_accuracy, 1.0);
    }

    #[test]
    fn bad_input_is_an_error() {
        let none: [Vec<&str>; 0] = [];
        assert_eq!(TaggingReport::compute(&none, &none), Err(EvalError::Empty { what: "y_true" }));
        assert_eq!(
            TaggingReport::compute(&[vec![], vec![]], &[Vec::<&str>::new(), vec![]]),
            Err(EvalError::Empty { what: "y_true tokens" })
        );
        assert_eq!(
            TaggingReport::compute(&[vec!["O"], vec!["O", "O"]], &[vec!["O"], vec!["O"]]),
            Err(EvalError::SentenceLengthMismatch { sentence: 1, len_true: 2, len_pred: 1 })
        );
        assert_eq!(
            TaggingReport::compute(&[vec!["O", "b-per"]], &[vec!["O", "O"]]),
            Err(EvalError::InvalidTag { what: "y_true", sentence: 0, token: 1, tag: "b-per".into() })
        );
        assert!(matches!(entities(&["B-PER", ""]), Err(EvalError::InvalidTag { token: 1, .. })));
    }
}
