//! Properties of batching (proptest): every example exactly once per epoch, masks sum to the true
//! lengths, nothing over max_len, pairs keep both segments, the same seed gives the same batches.

use ft_data::{BatchOptions, Encoding, Examples, LabelKind, LabelSpace, Tokenizer, plan_epoch};
use proptest::prelude::*;
use std::path::Path;
use std::sync::OnceLock;

fn tokenizer() -> &'static Tokenizer {
    static TOK: OnceLock<Tokenizer> = OnceLock::new();
    TOK.get_or_init(|| {
        Tokenizer::from_vocab(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/tiny")).unwrap()
    })
}

fn options() -> impl Strategy<Value = BatchOptions> {
    (1usize..17, any::<bool>(), any::<bool>(), proptest::option::of(1usize..6), any::<bool>(), any::<u64>()).prop_map(
        |(batch_size, shuffle, group_by_length, mega_batches, drop_last, seed)| BatchOptions {
            batch_size,
            shuffle,
            group_by_length,
            mega_batches,
            drop_last,
            seed,
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn every_example_once_per_epoch(lengths in proptest::collection::vec(2u32..130, 0..300), opts in options(), epoch in 0u64..4) {
        let batches = plan_epoch(&lengths, &opts, epoch);
        let mut seen: Vec<u32> = batches.iter().flatten().copied().collect();
        seen.sort_unstable();
        if opts.drop_last {
            let kept = lengths.len() / opts.batch_size * opts.batch_size;
            prop_assert_eq!(seen.len(), kept);
            prop_assert!(seen.windows(2).all(|w| w[0] < w[1]), "an example twice");
            prop_assert!(batches.iter().all(|b| b.len() == opts.batch_size));
        } else {
            prop_assert_eq!(seen, (0..lengths.len() as u32).collect::<Vec<_>>());
            prop_assert!(batches.iter().all(|b| !b.is_empty() && b.len() <= opts.batch_size));
        }
        // Same seed and epoch: same batches.
        prop_assert_eq!(&batches, &plan_epoch(&lengths, &opts, epoch));
    }

    #[test]
    fn masks_sum_to_lengths_and_nothing_exceeds_max_len(
        texts in proptest::collection::vec(("[a-z ,.!é中]{0,60}", proptest::option::of("[a-z ?]{0,40}")), 1..40),
        max_len in 3usize..48,
        pad_to in proptest::option::of(1usize..9),
        opts in options(),
    ) {
        let tok = tokenizer();
        let inputs: Vec<(&str, Option<&str>)> = texts.iter().map(|(t, p)| (t.as_str(), p.as_deref())).collect();
        let encodings = tok.encode_batch(&inputs, max_len).unwrap();
        let space = LabelSpace { kind: LabelKind::SingleLabel, names: vec!["a".into(), "b".into()] };
        let mut ex = Examples::new(tok.vocab_size(), tok.pad_id(), &space);
        for (i, enc) in encodings.iter().enumerate() {
            ex.push(enc, &[(i % 2) as u32], 0.0);
        }
        for (enc, (_, pair)) in encodings.iter().zip(&texts) {
            prop_assert!(enc.len() <= max_len);
            // Pairs keep both segments: [SEP] closes A, and B (type 1) ends with its own [SEP].
            let sep = tok.token_to_id("[SEP]").unwrap();
            let seps = enc.ids.iter().filter(|&&id| id == sep).count();
            prop_assert_eq!(seps, if pair.is_some() { 2 } else { 1 });
            prop_assert_eq!(enc.type_ids.contains(&1), pair.is_some());
        }
        for batch in plan_epoch(&ex.lengths(), &opts, 0) {
            let b = ex.collate(&batch, pad_to);
            let expected: Vec<usize> = batch.iter().map(|&i| encodings[i as usize].len()).collect();
            prop_assert_eq!(b.lengths(), expected.clone());
            prop_assert_eq!(b.input_ids.len(), b.batch_size * b.seq_len);
            prop_assert_eq!(b.seq_len, match pad_to { Some(m) if m > 1 => expected.iter().max().unwrap().div_ceil(m) * m, _ => *expected.iter().max().unwrap() });
            for (row, &i) in batch.iter().enumerate() {
                let enc: &Encoding = &encodings[i as usize];
                let ids: Vec<u32> = b.input_ids[row * b.seq_len..row * b.seq_len + enc.len()].iter().map(|&x| x as u32).collect();
                prop_assert_eq!(&ids, &enc.ids);
                prop_assert!(b.input_ids[row * b.seq_len + enc.len()..(row + 1) * b.seq_len].iter().all(|&x| x == i64::from(tok.pad_id())));
            }
        }
    }
}
