//! `atis-qa`: extractive questions derived from ATIS's slots (the `atis` utterances of
//! [`super::atis`], same train / validation / test split). The context is the utterance (its words
//! joined by spaces); for every slot type that occurs exactly once in it, one question — from
//! [`TEMPLATES`] when the type has one, else "What is the {type in words}?" — whose gold answer is
//! the slot's words, with its character start. Written as the JSON Lines HF `datasets` writes for
//! SQuAD: `{"id", "title", "context", "question", "answers": {"text": [...], "answer_start": [...]}}`.
//!
//! Derived data: it tests span extraction on short contexts, not reading comprehension; real SQuAD
//! files are read through the same format.
//!
//! `atis-qa-long` ([`long_questions`]) asks the same questions, each about a long context: the
//! utterance with other utterances of its split around it — drawn (seeded) among those that do not hold
//! the question's slot type, so that the answer stays the only one of its kind — until the context
//! reaches a length drawn between 350 and 1,500 word pieces (all-MiniLM-L6-v2's WordPiece). Utterances
//! are joined as sentences (`". "`). Most contexts then need several windows of 384, and the answer
//! sits anywhere in them: it tests the windows, the stride and the choice over windows.

use super::atis::Utterance;
use crate::rng::Rng;
use std::collections::{BTreeMap, BTreeSet};

/// Word pieces of an `atis-qa-long` context: drawn uniformly in this range (the utterance that would
/// push it past the upper end is not added).
pub const LONG_PIECES: (usize, usize) = (350, 1_500);
/// Seed of the `atis-qa-long` draws (split `k` uses stream `k`).
pub const LONG_SEED: u64 = 42;

/// A question per slot type (ATIS's most frequent ones); the others get the generic template.
pub const TEMPLATES: &[(&str, &str)] = &[
    ("fromloc.city_name", "Which city does the trip leave from?"),
    ("toloc.city_name", "Which city does the trip go to?"),
    ("stoploc.city_name", "Which city does the trip stop in?"),
    ("city_name", "Which city is it about?"),
    ("fromloc.airport_name", "Which airport does the trip leave from?"),
    ("toloc.airport_name", "Which airport does the trip go to?"),
    ("airport_name", "Which airport is it about?"),
    ("fromloc.state_name", "Which state does the trip leave from?"),
    ("toloc.state_name", "Which state does the trip go to?"),
    ("depart_date.day_name", "On which day does it leave?"),
    ("depart_date.month_name", "In which month does it leave?"),
    ("depart_date.day_number", "On which day of the month does it leave?"),
    ("depart_date.date_relative", "When, relative to today, does it leave?"),
    ("depart_time.time", "At what time does it leave?"),
    ("depart_time.time_relative", "Before or after what time does it leave?"),
    ("depart_time.period_of_day", "At what time of day does it leave?"),
    ("arrive_date.day_name", "On which day does it arrive?"),
    ("arrive_time.time", "At what time does it arrive?"),
    ("arrive_time.time_relative", "Before or after what time does it arrive?"),
    ("arrive_time.period_of_day", "At what time of day does it arrive?"),
    ("airline_name", "Which airline is it?"),
    ("airline_code", "What is the airline's code?"),
    ("class_type", "Which class of travel?"),
    ("round_trip", "One way or round trip?"),
    ("cost_relative", "How expensive should it be?"),
    ("fare_amount", "How much is the fare?"),
    ("fare_basis_code", "What is the fare basis code?"),
    ("flight_mod", "Which flight of the day is it?"),
    ("flight_stop", "How many stops, or none?"),
    ("flight_number", "Which flight number?"),
    ("flight_time", "Which flight time is asked?"),
    ("aircraft_code", "Which aircraft?"),
    ("meal", "Which meal?"),
    ("meal_description", "What kind of meal?"),
    ("transport_type", "Which kind of transport?"),
    ("economy", "Is it economy?"),
    ("or", "Which alternative is offered?"),
];

/// "What is the {type in words}?": `depart_date.year` → "What is the depart date year?".
pub fn generic_question(slot: &str) -> String {
    let words: Vec<&str> = slot.split(['.', '_']).filter(|w| !w.is_empty()).collect();
    format!("What is the {}?", words.join(" "))
}

/// The question for a slot type.
pub fn question(slot: &str) -> String {
    TEMPLATES.iter().find(|(s, _)| *s == slot).map(|(_, q)| q.to_string()).unwrap_or_else(|| generic_question(slot))
}

/// The slot chunks of an utterance: type → every `(first word, end word)` (BIO; an `I-` that does not
/// continue a chunk of its type starts one, as seqeval's lenient reading).
fn chunks(u: &Utterance) -> BTreeMap<String, Vec<(usize, usize)>> {
    let mut out: BTreeMap<String, Vec<(usize, usize)>> = BTreeMap::new();
    let mut open: Option<(String, usize)> = None;
    for (i, tag) in u.tags.iter().chain(std::iter::once(&"O".to_string())).enumerate() {
        let (kind, ty) = match tag.split_once('-') {
            Some((k, t)) if k == "B" || k == "I" => (k, t),
            _ => ("O", ""),
        };
        let continues = kind == "I" && open.as_ref().is_some_and(|(t, _)| t == ty);
        if !continues {
            if let Some((t, start)) = open.take() {
                out.entry(t).or_default().push((start, i));
            }
            if kind != "O" {
                open = Some((ty.to_string(), i));
            }
        }
    }
    out
}

/// One question about an utterance: its slot type, the answer's words and its character start in the
/// utterance (words joined by spaces).
struct Asked {
    utterance: usize,
    slot: String,
    text: String,
    start: usize,
}

/// Every question of a split, in utterance order, then slot-type order.
fn asked(utterances: &[Utterance]) -> Vec<Asked> {
    let mut out = Vec::new();
    for (n, u) in utterances.iter().enumerate() {
        // Character start of each word in the context.
        let mut starts = Vec::with_capacity(u.words.len());
        let mut at = 0;
        for w in &u.words {
            starts.push(at);
            at += w.chars().count() + 1;
        }
        for (slot, spans) in chunks(u) {
            let [(a, b)] = spans.as_slice() else { continue };
            out.push(Asked { utterance: n, slot, text: u.words[*a..*b].join(" "), start: starts[*a] });
        }
    }
    out
}

fn row(split: &str, q: &Asked, context: &str, start: usize) -> serde_json::Value {
    serde_json::json!({
        "id": format!("{split}-{}-{}", q.utterance, q.slot),
        "title": "atis",
        "context": context,
        "question": question(&q.slot),
        "answers": {"text": [q.text], "answer_start": [start]},
    })
}

/// The questions of one split: `(id, context, question, answer text, answer start)` rows in utterance
/// order, then slot-type order.
pub fn questions(split: &str, utterances: &[Utterance]) -> Vec<serde_json::Value> {
    asked(utterances).iter().map(|q| row(split, q, &utterances[q.utterance].words.join(" "), q.start)).collect()
}

/// `atis-qa-long`: the questions of [`questions`], each context grown with other utterances of the split
/// (see the module's documentation). `pieces[i]` is the number of word pieces of utterance `i` (its words
/// joined by spaces, no special tokens); `stream` seeds the draws. Errors when a slot type leaves no
/// utterance to draw from.
pub fn long_questions(
    split: &str,
    utterances: &[Utterance],
    pieces: &[usize],
    stream: u64,
) -> Result<Vec<serde_json::Value>, String> {
    let texts: Vec<String> = utterances.iter().map(|u| u.words.join(" ")).collect();
    let types: Vec<BTreeSet<String>> = utterances.iter().map(|u| chunks(u).into_keys().collect()).collect();
    let mut rng = Rng::with_stream(LONG_SEED, stream);
    let (low, high) = LONG_PIECES;
    let mut out = Vec::new();
    for q in asked(utterances) {
        let own = pieces[q.utterance];
        let target = low + rng.below((high - low + 1) as u64) as usize;
        let budget = target.saturating_sub(own);
        let before_budget = rng.below(budget as u64 + 1) as usize;
        let mut draw = |have: &mut usize, goal: usize, total: &mut usize| -> Result<Vec<usize>, String> {
            let mut picked = Vec::new();
            let mut tries = 0usize;
            while *have < goal {
                tries += 1;
                if tries > 100_000 {
                    return Err(format!("atis-qa-long: no utterance of {split} without slot type {}", q.slot));
                }
                let j = rng.below(utterances.len() as u64) as usize;
                if j == q.utterance || types[j].contains(&q.slot) {
                    continue;
                }
                if *total + pieces[j] > high {
                    break;
                }
                picked.push(j);
                *have += pieces[j];
                *total += pieces[j];
            }
            Ok(picked)
        };
        let mut total = own;
        let before = draw(&mut 0, before_budget, &mut total)?;
        let after = draw(&mut 0, target.saturating_sub(total), &mut total)?;
        let mut context = String::new();
        for &j in &before {
            context.push_str(&texts[j]);
            context.push_str(". ");
        }
        let start = context.chars().count() + q.start;
        context.push_str(&texts[q.utterance]);
        for &j in &after {
            context.push_str(". ");
            context.push_str(&texts[j]);
        }
        out.push(row(split, &q, &context, start));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u(words: &str, tags: &str) -> Utterance {
        Utterance {
            words: words.split(' ').map(String::from).collect(),
            tags: tags.split(' ').map(String::from).collect(),
            intents: vec!["atis_flight".into()],
        }
    }

    #[test]
    fn one_question_per_slot_type_that_occurs_once() {
        let utt = u(
            "flights from new york to boston or denver on monday",
            "O O B-fromloc.city_name I-fromloc.city_name O B-toloc.city_name B-or B-toloc.city_name O B-depart_date.day_name",
        );
        let q = questions("train", &[utt]);
        let rows: Vec<(String, String, String, u64)> = q
            .iter()
            .map(|r| {
                (
                    r["id"].as_str().unwrap().to_string(),
                    r["question"].as_str().unwrap().to_string(),
                    r["answers"]["text"][0].as_str().unwrap().to_string(),
                    r["answers"]["answer_start"][0].as_u64().unwrap(),
                )
            })
            .collect();
        // toloc.city_name occurs twice: no question for it.
        assert_eq!(
            rows,
            [
                ("train-0-depart_date.day_name".into(), "On which day does it leave?".into(), "monday".into(), 45),
                (
                    "train-0-fromloc.city_name".into(),
                    "Which city does the trip leave from?".into(),
                    "new york".into(),
                    13
                ),
                ("train-0-or".into(), "Which alternative is offered?".into(), "or".into(), 32),
            ]
        );
        let context = q[0]["context"].as_str().unwrap();
        assert_eq!(&context[45..51], "monday");
        assert_eq!(generic_question("return_date.day_number"), "What is the return date day number?");
    }

    /// atis-qa-long: the same questions in the same order; contexts between the bounds; the answer's
    /// start points at it; the utterances added around it never hold the question's slot type.
    #[test]
    fn long_contexts_keep_the_question_and_stay_in_bounds() {
        let mut utts = vec![u(
            "flights from denver to boston on monday",
            "O O B-fromloc.city_name O B-toloc.city_name O B-depart_date.day_name",
        )];
        for k in 0..40 {
            if k % 2 == 0 {
                utts.push(u("show me fares to atlanta please", "O O O O B-toloc.city_name O"));
            } else {
                utts.push(u("from dallas in the morning", "O B-fromloc.city_name O O B-depart_time.period_of_day"));
            }
        }
        // Pretend every word is 7 word pieces: contexts of 350-1,500 pieces need 10-43 utterances.
        let pieces: Vec<usize> = utts.iter().map(|u| u.words.len() * 7).collect();
        let short = questions("train", &utts);
        let long = long_questions("train", &utts, &pieces, 0).unwrap();
        assert_eq!(short.len(), long.len());
        let again = long_questions("train", &utts, &pieces, 0).unwrap();
        assert_eq!(long, again, "seeded");
        for (s, l) in short.iter().zip(&long) {
            assert_eq!(
                (&s["id"], &s["question"], &s["answers"]["text"]),
                (&l["id"], &l["question"], &l["answers"]["text"])
            );
            let context = l["context"].as_str().unwrap();
            let (text, start) =
                (l["answers"]["text"][0].as_str().unwrap(), l["answers"]["answer_start"][0].as_u64().unwrap() as usize);
            let at: String = context.chars().skip(start).take(text.chars().count()).collect();
            assert_eq!(at, text);
            let sentences: Vec<&str> = context.split(". ").collect();
            let total: usize = sentences.iter().map(|t| t.split(' ').count() * 7).sum();
            assert!((LONG_PIECES.0..=LONG_PIECES.1).contains(&total), "{total}");
            let own = utts[0].words.join(" ");
            if l["id"].as_str().unwrap().starts_with("train-0-") {
                assert_eq!(sentences.iter().filter(|t| **t == own).count(), 1);
                let slot = l["id"].as_str().unwrap().trim_start_matches("train-0-");
                let others_have = |t: &&&str| {
                    **t != own
                        && ((slot == "fromloc.city_name" && t.contains("dallas"))
                            || (slot == "toloc.city_name" && t.contains("atlanta")))
                };
                assert!(!sentences.iter().any(|t| others_have(&t)), "{slot}: {context}");
            }
        }
    }
}
