//! Task heads: `BertFor*` = `{ bert, dropout, classifier }`, as in transformers.

pub mod sequence_classification;
