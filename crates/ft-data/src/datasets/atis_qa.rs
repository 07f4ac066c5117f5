//! `atis-qa`: extractive questions derived from ATIS's slots (the `atis` utterances of
//! [`super::atis`], same train / validation / test split). The context is the utterance (its words
//! joined by spaces); for every slot type that occurs exactly once in it, one question — from
//! [`TEMPLATES`] when the type has one, else "What is the {type in words}?" — whose gold answer is
//! the slot's words, with its character start. Written as the JSON Lines HF `datasets` writes for
//! SQuAD: `{"id", "title", "context", "question", "answers": {"text": [...], "answer_start": [...]}}`.
//!
//! Derived data: it tests span extraction on short contexts, not reading comprehension; real SQuAD
//! files are read through the same format.

use super::atis::Utterance;
use std::collections::BTreeMap;

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

/// The questions of one split: `(id, context, question, answer text, answer start)` rows in utterance
/// order, then slot-type order.
pub fn questions(split: &str, utterances: &[Utterance]) -> Vec<serde_json::Value> {
    let mut out = Vec::new();
    for (n, u) in utterances.iter().enumerate() {
        let context = u.words.join(" ");
        // Character start of each word in the context.
        let mut starts = Vec::with_capacity(u.words.len());
        let mut at = 0;
        for w in &u.words {
            starts.push(at);
            at += w.chars().count() + 1;
        }
        for (slot, spans) in chunks(u) {
            let [(a, b)] = spans.as_slice() else { continue };
            let text = u.words[*a..*b].join(" ");
            out.push(serde_json::json!({
                "id": format!("{split}-{n}-{slot}"),
                "title": "atis",
                "context": context,
                "question": question(&slot),
                "answers": {"text": [text], "answer_start": [starts[*a]]},
            }));
        }
    }
    out
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
}
