//! Task heads: `BertFor*` = `{ bert, dropout, <head> }`, as in transformers, each implementing the
//! task seam [`task::Head`]. A new head is a file here plus a row in [`task::Task`].

pub mod pooling;
pub mod question_answering;
pub mod sequence_classification;
pub mod task;
pub mod token_classification;
