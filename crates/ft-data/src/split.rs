//! A validation split carved from the training file when there is no validation file: stratified by
//! class, seeded, deterministic; both parts keep file order.

use crate::DataError;
use crate::rng::Rng;

/// Indices `(train, validation)` for examples with stratum `strata[i]` (their class; all 0 when not
/// stratified): each class gives `round(fraction × its size)` examples to validation, chosen by a
/// seeded shuffle, leaving at least one of each class to training. With at least 2 examples,
/// validation is never empty.
pub fn stratified_split(strata: &[u32], fraction: f64, seed: u64) -> Result<(Vec<u32>, Vec<u32>), DataError> {
    if !(fraction > 0.0 && fraction < 1.0) {
        return Err(DataError::Options(format!(
            "--validation-split {fraction}: must be strictly between 0 and 1 (e.g. 0.1), or pass a validation file"
        )));
    }
    let classes = strata.iter().copied().max().map_or(0, |m| m as usize + 1);
    let mut by_class: Vec<Vec<u32>> = vec![Vec::new(); classes];
    for (i, &s) in strata.iter().enumerate() {
        by_class[s as usize].push(i as u32);
    }
    let mut rng = Rng::new(seed);
    let mut validation = Vec::new();
    let mut largest: Option<(usize, Vec<u32>)> = None;
    for members in &mut by_class {
        rng.shuffle(members);
        // Keep at least one example of every class for training.
        let take = ((fraction * members.len() as f64).round() as usize).min(members.len().saturating_sub(1));
        validation.extend_from_slice(&members[..take]);
        if largest.as_ref().is_none_or(|(n, _)| members.len() > *n) {
            largest = Some((members.len(), members.clone()));
        }
    }
    if validation.is_empty()
        && strata.len() >= 2
        && let Some((_, members)) = largest
    {
        validation.push(members[0]);
    }
    validation.sort_unstable();
    let mut is_val = vec![false; strata.len()];
    for &i in &validation {
        is_val[i as usize] = true;
    }
    let train = (0..strata.len() as u32).filter(|&i| !is_val[i as usize]).collect();
    Ok((train, validation))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proportions_per_class() {
        // 80 of class 0, 20 of class 1: 10% gives 8 + 2.
        let strata: Vec<u32> = (0..100).map(|i| u32::from(i % 5 == 0)).collect();
        let (train, val) = stratified_split(&strata, 0.1, 1).unwrap();
        assert_eq!((train.len(), val.len()), (90, 10));
        assert_eq!(val.iter().filter(|&&i| strata[i as usize] == 1).count(), 2);
        assert!(val.windows(2).all(|w| w[0] < w[1]), "file order");
        assert_eq!(stratified_split(&strata, 0.1, 1).unwrap().1, val, "same seed, same split");
        assert_ne!(stratified_split(&strata, 0.1, 2).unwrap().1, val);
    }

    #[test]
    fn tiny_inputs_still_get_a_validation_row() {
        let (train, val) = stratified_split(&[0, 0, 0], 0.1, 0).unwrap();
        assert_eq!((train.len(), val.len()), (2, 1));
        assert!(stratified_split(&[0], 1.5, 0).unwrap_err().to_string().contains("--validation-split 1.5"));
    }
}
