//! The BERT encoder, one file per group of HF classes.

pub mod attention;
pub mod disentangled;
pub mod embeddings;
pub mod layer;
pub mod model;
pub mod modern;
