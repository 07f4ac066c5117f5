//! ft-data turns a user's files into batches: text → token ids (identical to HF's fast BERT
//! tokenizer) → compact tokenized splits with labels → padded `[B, T]` batches.
//!
//! Place in the pipeline: `files → ft-data → Batch {input_ids, token_type_ids, attention_mask, labels}
//! → ft-model`. It does not depend on ft-model; only [`Batch::to_tensors`] (in `tensors.rs`) touches
//! burn.
//!
//! - [`Tokenizer`]: `tokenizer.json` through the `tokenizers` crate, or the BERT WordPiece pipeline
//!   rebuilt from `vocab.txt` (one file per stage in [`tokenizer`]).
//! - [`files`]: CSV / TSV / JSONL rows, streamed with a row size limit, every bad row named by
//!   file:line; [`TextLines`] for plain lines (stdin) under the same limit.
//! - [`labels`]: single-label, multi-label or regression, detected like transformers'
//!   `run_classification.py`; the label set comes from the training file.
//! - [`tagging`]: token classification (NER, slots) as transformers' `run_ner.py`: CoNLL / JSONL
//!   tagged sentences, labels aligned to sub-tokens, `[B, T]` labels, predictions back to tags.
//! - [`qa`]: extractive question answering as transformers' `run_qa.py`: SQuAD JSON / JSON Lines,
//!   questions with contexts cut into overlapping windows, answer spans as start and end tokens.
//! - [`dataset::load`]: files → [`Examples`] (tokenized once, in parallel), with a stratified
//!   validation split when there is no validation file.
//! - [`batching`]: the batches of an epoch (optionally grouped by length), seeded; padding waste.
//! - [`datasets`]: real datasets fetched from pinned packages (`rt-snippets`, `sms-spam`,
//!   `conll2003`, `atis-slots`, `atis-intents`).
//!
//! ```
//! use ft_data::{BatchOptions, DataFiles, DataOptions, Tokenizer, plan_epoch};
//! # let dir = tempfile::tempdir()?;
//! # let train = dir.path().join("train.csv");
//! # std::fs::write(&train, "text,label\ngreat movie,pos\nawful film,neg\nfun plot,pos\nboring,neg\n")?;
//! let model_dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/tiny");
//! let tokenizer = Tokenizer::from_dir(&model_dir)?;
//! let files = DataFiles { train, validation: None, test: None };
//! let data = ft_data::dataset::load(&files, &tokenizer, &DataOptions { validation_split: 0.25, ..Default::default() })?;
//! assert_eq!(data.labels.names, ["neg", "pos"]);
//! let batches = plan_epoch(&data.train.lengths(), &BatchOptions::train(2, 0), 0);
//! let batch = data.train.collate(&batches[0], None); // [B, T] buffers + labels
//! assert_eq!(batch.input_ids.len(), batch.batch_size * batch.seq_len);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![warn(missing_docs)]

pub mod batch;
pub mod batching;
pub mod dataset;
pub mod datasets;
mod error;
pub mod examples;
pub mod files;
pub mod labels;
pub mod qa;
pub mod rng;
pub mod split;
pub mod tagging;
mod tensors;
pub mod tokenizer;

pub use batch::{Batch, Labels};
pub use batching::{BatchOptions, PaddingStats, padding_stats, plan_epoch};
pub use dataset::{DataFiles, DataOptions, LoadedData, SplitReport};
pub use datasets::{DatasetAsset, KNOWN_DATASETS, find_dataset};
pub use error::DataError;
pub use examples::Examples;
pub use files::{
    Columns, DEFAULT_MAX_ROW_BYTES, Format, QaAnswer, QaExample, RawTag, RowReader, TagColumns, TaggedReader,
    TaggedRow, TextLines, TextReader, TextRow, check_text, is_blank, is_qa_file, is_tagged_file, read_qa_file,
    read_squad_json,
};
pub use labels::{LabelKind, LabelOptions, LabelSpace};
pub use qa::QaQuestion;
pub use tagging::{IGNORE_INDEX, TokenOptions};
pub use tensors::LabelTensor;
pub use tokenizer::{Encoding, Tokenizer, TokenizerSource};
