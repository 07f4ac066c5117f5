//! The chapter's step 3: which parts of the pretrained model stay fixed. Frozen parameters get no
//! gradients (burn records no backward for them) and therefore no optimizer state.

use crate::TrainError;
use burn::module::Module;
use ft_model::Head;
use std::fmt;
use std::str::FromStr;

/// `--freeze`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Freeze {
    /// Train everything.
    #[default]
    None,
    /// Freeze the whole encoder (`model.bert`, BERT's pooler included): only the head trains — the
    /// classifier, and the dense layer of RoBERTa's, DistilBERT's and ELECTRA's classification heads
    /// (ft's pooler there) and DeBERTa's `pooler`, as freezing `model.roberta` leaves them in
    /// transformers.
    Encoder,
    /// Freeze the embedding layer (and DeBERTa's relative-position embeddings).
    Embeddings,
    /// Freeze the embeddings and the lowest N encoder layers (DeBERTa-v2's convolution goes with the
    /// first).
    Bottom(usize),
}

impl FromStr for Freeze {
    type Err = TrainError;
    fn from_str(s: &str) -> Result<Self, TrainError> {
        match s {
            "none" => Ok(Self::None),
            "encoder" => Ok(Self::Encoder),
            "embeddings" => Ok(Self::Embeddings),
            other => other.strip_prefix("bottom:").and_then(|n| n.parse().ok()).map(Self::Bottom).ok_or_else(|| {
                TrainError::Config(format!("--freeze \"{other}\": use none, encoder, embeddings or bottom:N"))
            }),
        }
    }
}

impl fmt::Display for Freeze {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::None => write!(f, "none"),
            Self::Encoder => write!(f, "encoder"),
            Self::Embeddings => write!(f, "embeddings"),
            Self::Bottom(n) => write!(f, "bottom:{n}"),
        }
    }
}

impl Freeze {
    /// Applies the freeze to `model` (which should live on an autodiff device).
    pub fn apply<H: Head>(self, model: H) -> Result<H, TrainError> {
        let layers = model.bert().encoder.layer.len();
        Ok(match self {
            Self::None => model,
            Self::Encoder => model.map_bert(|bert| {
                let mut bert = bert.no_grad();
                bert.pooler = bert.pooler.map(|p| if p.in_head { p.set_require_grad(true) } else { p });
                bert
            }),
            Self::Embeddings => model.map_bert(|mut bert| {
                bert.embeddings = bert.embeddings.no_grad();
                bert.encoder = freeze_relative_positions(bert.encoder);
                bert
            }),
            Self::Bottom(n) => {
                if n > layers {
                    return Err(TrainError::Config(format!(
                        "--freeze bottom:{n}: the model has only {layers} layers; use bottom:0 … bottom:{layers}"
                    )));
                }
                model.map_bert(|mut bert| {
                    bert.embeddings = bert.embeddings.no_grad();
                    bert.encoder = freeze_relative_positions(bert.encoder);
                    if n > 0 {
                        bert.encoder.conv = bert.encoder.conv.map(|c| c.no_grad());
                    }
                    bert.encoder.layer = bert
                        .encoder
                        .layer
                        .into_iter()
                        .enumerate()
                        .map(|(i, l)| if i < n { l.no_grad() } else { l })
                        .collect();
                    bert
                })
            }
        })
    }
}

/// DeBERTa's relative-position embeddings (and their LayerNorm) are position embeddings shared by
/// every layer: they freeze with the embeddings. DeBERTa-v2's convolution belongs to the first layer.
fn freeze_relative_positions(mut encoder: ft_model::bert::layer::BertEncoder) -> ft_model::bert::layer::BertEncoder {
    encoder.rel_embeddings = encoder.rel_embeddings.map(|e| e.no_grad());
    encoder.layer_norm = encoder.layer_norm.map(|n| n.no_grad());
    encoder
}
