//! Encoder families: BERT and the models built from the same layers — RoBERTa, XLM-RoBERTa,
//! DistilBERT, ELECTRA, DeBERTa-v2/v3. ft builds every family as one BERT-shaped module tree (embeddings → post-LN
//! encoder layers → optional pooler → head); what differs between them is written here, once:
//!
//! | family | `model_type` | names | positions | token types | sequence head (on `[CLS]`) |
//! |---|---|---|---|---|---|
//! | BERT | `bert` | `bert.*` | `0..T` | yes | `pooler.dense` → tanh → dropout → `classifier` |
//! | RoBERTa, XLM-R | `roberta`, `xlm-roberta` | `roberta.*` | `pad+1…`, padding at `pad` | 1 type | dropout → `classifier.dense` → tanh → dropout → `classifier.out_proj` |
//! | DistilBERT | `distilbert` | `distilbert.transformer.layer.*` (`q_lin`, `sa_layer_norm`, `ffn.lin1`, …) | `0..T` | none | `pre_classifier` → ReLU → dropout → `classifier` |
//! | ELECTRA | `electra` | `electra.*`, `embeddings_project` | `0..T` | yes | dropout → `classifier.dense` → GELU → dropout → `classifier.out_proj` |
//! | ModernBERT | `modernbert` | `model.layers.N.attn.Wqkv` (split into q/k/v), `mlp.Wi`, `head.dense` | rotary (in the attention) | none | pooled (`cls` or `mean`) → `head.dense` → act → `head.norm` → dropout → `classifier` |
//! | DeBERTa-v2/v3 | `deberta-v2` | `deberta.*`, `query_proj`, `rel_embeddings` | relative (disentangled attention), absolute only with `position_biased_input` | `type_vocab_size` (0 in v3) | dropout → `pooler.dense` → GELU → dropout → `classifier` |
//!
//! Inside ft every tensor has its BERT name (`bert.encoder.layer.0.attention.self.query.weight`, the
//! *canonical* name); [`Family::load_rules`] turn a file's names into canonical ones and
//! [`Family::save_rules`] turn them back, so the loader, the saver, freezing and PEFT are written once.
//! The head's sequence classifier maps onto ft's pooler + classifier: RoBERTa's `classifier.dense`
//! *is* ft's `bert.pooler.dense` (with a dropout before it and its activation), its
//! `classifier.out_proj` ft's `classifier`. DeBERTa's attention adds relative-position scores to
//! BERT's (see [`crate::bert::disentangled`]); its layers are otherwise BERT's.

use crate::heads::task::Task;
use crate::{BertConfig, HiddenAct};
use regex::Regex;
use std::sync::LazyLock;

/// An encoder family ft loads and saves (`config.json`'s `model_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Family {
    /// `bert` (and checkpoints that are BERT under another name: MiniLM, sentence-transformers).
    Bert,
    /// `roberta`: byte-level BPE, positions after the padding index, no token types (one row).
    Roberta,
    /// `xlm-roberta`: RoBERTa's layers with a SentencePiece (Unigram) vocabulary.
    XlmRoberta,
    /// `distilbert`: six BERT layers under other names, no token types, no pooler.
    DistilBert,
    /// `electra` (the discriminator): BERT layers, embeddings of `embedding_size` projected to the
    /// hidden size.
    Electra,
    /// `deberta-v2` (DeBERTa-v2 and v3): BERT's post-LN layers with disentangled attention —
    /// content-to-position and position-to-content scores over shared relative-position embeddings,
    /// log buckets, a mask on queries as well as keys, and v2's optional convolution after layer 0.
    DebertaV2,
    /// `modernbert`: pre-LayerNorm layers with rotary positions, gated MLPs, alternating global and
    /// local (sliding-window) attention, a final LayerNorm and no biases by default (see
    /// [`crate::bert::modern`]).
    ModernBert,
}

/// How position ids are made from the input ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Positions {
    /// `0, 1, …, T-1` (BERT, DistilBERT, ELECTRA).
    FromZero,
    /// RoBERTa's `create_position_ids_from_input_ids`: `pad + 1, pad + 2, …` counting only
    /// non-padding tokens, and `pad` on padding.
    AfterPadding {
        /// `pad_token_id`, also the padding row of the position table.
        pad: usize,
    },
    /// No absolute position table: DeBERTa without `position_biased_input` (positions enter through
    /// its relative attention only).
    None,
}

impl Family {
    /// Every family, in the order the README lists them.
    pub const ALL: &'static [Family] = &[
        Self::Bert,
        Self::Roberta,
        Self::XlmRoberta,
        Self::DistilBert,
        Self::Electra,
        Self::DebertaV2,
        Self::ModernBert,
    ];

    /// The family of a `model_type`, if ft has it.
    pub fn of_model_type(model_type: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|f| f.model_type() == model_type)
    }

    /// `config.json`'s `model_type`.
    pub fn model_type(self) -> &'static str {
        match self {
            Self::Bert => "bert",
            Self::Roberta => "roberta",
            Self::XlmRoberta => "xlm-roberta",
            Self::DistilBert => "distilbert",
            Self::Electra => "electra",
            Self::DebertaV2 => "deberta-v2",
            Self::ModernBert => "modernbert",
        }
    }

    /// The family's name as people write it (`RoBERTa`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Bert => "BERT",
            Self::Roberta => "RoBERTa",
            Self::XlmRoberta => "XLM-RoBERTa",
            Self::DistilBert => "DistilBERT",
            Self::Electra => "ELECTRA",
            Self::DebertaV2 => "DeBERTa-v2",
            Self::ModernBert => "ModernBERT",
        }
    }

    /// The start of transformers' class names (`Roberta` in `RobertaForSequenceClassification`).
    pub fn class_prefix(self) -> &'static str {
        match self {
            Self::Bert => "Bert",
            Self::Roberta => "Roberta",
            Self::XlmRoberta => "XLMRoberta",
            Self::DistilBert => "DistilBert",
            Self::Electra => "Electra",
            Self::DebertaV2 => "DebertaV2",
            Self::ModernBert => "ModernBert",
        }
    }

    /// transformers' class for `task` on this family (`RobertaForTokenClassification`).
    pub fn architecture(self, task: Task) -> String {
        format!("{}{}", self.class_prefix(), task.class_suffix())
    }

    /// The task of an `architectures` entry of any family (`ElectraForQuestionAnswering` →
    /// question answering).
    pub fn task_of_architecture(architecture: &str) -> Option<Task> {
        Self::ALL.iter().find_map(|f| {
            let suffix = architecture.strip_prefix(f.class_prefix())?;
            Task::ALL.iter().copied().find(|t| t.class_suffix() == suffix)
        })
    }

    /// The position ids this family computes for `config`.
    pub fn positions(self, config: &BertConfig) -> Positions {
        match self {
            Self::Roberta | Self::XlmRoberta => Positions::AfterPadding { pad: config.pad_token_id.unwrap_or(1) },
            Self::DebertaV2 if !config.extra_bool("position_biased_input", true) => Positions::None,
            Self::ModernBert => Positions::None,
            _ => Positions::FromZero,
        }
    }

    /// The activation of the sequence head's dense layer (ft's pooler): tanh for BERT's pooler and
    /// RoBERTa's classification head, ReLU after DistilBERT's `pre_classifier`, GELU in ELECTRA's head,
    /// DeBERTa's `pooler_hidden_act` (GELU by default; validated when the config is read).
    pub fn pooler_activation(self, config: &BertConfig) -> HiddenAct {
        match self {
            Self::Bert | Self::Roberta | Self::XlmRoberta => HiddenAct::Tanh,
            Self::DistilBert => HiddenAct::Relu,
            Self::Electra => HiddenAct::Gelu,
            Self::DebertaV2 => {
                HiddenAct::parse(config.extra_str("pooler_hidden_act").unwrap_or("gelu")).unwrap_or(HiddenAct::Gelu)
            }
            Self::ModernBert => {
                HiddenAct::parse(config.extra_str("classifier_activation").unwrap_or("gelu")).unwrap_or(HiddenAct::Gelu)
            }
        }
    }

    /// Dropout on the `[CLS]` state before the sequence head's dense layer: RoBERTa's and ELECTRA's
    /// classification heads have it (the classifier dropout), DeBERTa's `ContextPooler` its
    /// `pooler_dropout`; BERT's pooler and DistilBERT's `pre_classifier` do not.
    pub fn pooler_dropout(self, config: &BertConfig) -> f64 {
        match self {
            Self::Roberta | Self::XlmRoberta | Self::Electra => config.classifier_dropout_prob(),
            Self::DebertaV2 => config.extra_f64("pooler_dropout").unwrap_or(0.0),
            Self::Bert | Self::DistilBert | Self::ModernBert => 0.0,
        }
    }

    /// The file name of the QA head's Linear where it is not `qa_outputs` (ModernBERT's `classifier`).
    pub fn qa_classifier_name(self, task: Task) -> Option<&'static str> {
        (self == Self::ModernBert && task == Task::QuestionAnswering).then_some("classifier")
    }

    /// Whether the token and QA heads read every token through the sequence head's dense layer
    /// (ModernBERT's `head`: dense → act → norm, before their dropout and classifier); ft builds the
    /// pooler for them then.
    pub fn head_transform(self) -> bool {
        self == Self::ModernBert
    }

    /// Dropout after the embeddings' LayerNorm: ModernBERT's `embedding_dropout`, else
    /// `hidden_dropout_prob`.
    pub fn embedding_dropout(self, config: &BertConfig) -> f64 {
        match self {
            Self::ModernBert => config.extra_f64("embedding_dropout").unwrap_or(0.0),
            _ => config.hidden_dropout_prob,
        }
    }

    /// Dropout after the attention output's dense layer: DistilBERT has none there.
    pub fn attention_output_dropout(self, config: &BertConfig) -> f64 {
        match self {
            Self::DistilBert => 0.0,
            // ModernBERT's `out_drop` after `Wo` is its attention dropout.
            Self::ModernBert => config.attention_probs_dropout_prob,
            _ => config.hidden_dropout_prob,
        }
    }

    /// Dropout before the token classifier: the classifier dropout, except DistilBERT's, which uses
    /// its `dropout` (`hidden_dropout_prob` here; the classifier dropout is its `seq_classif_dropout`).
    pub fn token_classifier_dropout(self, config: &BertConfig) -> f64 {
        match self {
            Self::DistilBert | Self::DebertaV2 => config.hidden_dropout_prob,
            _ => config.classifier_dropout_prob(),
        }
    }

    /// Dropout before `qa_outputs`: DistilBERT's `qa_dropout` (0.1 by default); the other families
    /// have none.
    pub fn qa_dropout(self, config: &BertConfig) -> f64 {
        match self {
            // ModernBERT's QA head: `head` → dropout → `classifier`.
            Self::ModernBert => config.classifier_dropout_prob(),
            Self::DistilBert => config.extra.get("qa_dropout").and_then(|v| v.as_f64()).unwrap_or(0.1),
            _ => 0.0,
        }
    }

    /// Tokens one input may have: `max_position_embeddings`, less RoBERTa's `pad + 1` rows that no
    /// token's position uses (514 positions hold 512 tokens).
    pub fn max_tokens(self, config: &BertConfig) -> usize {
        match self.positions(config) {
            Positions::FromZero | Positions::None => config.max_position_embeddings,
            Positions::AfterPadding { pad } => config.max_position_embeddings.saturating_sub(pad + 1),
        }
    }

    /// File name → canonical name, applied in order (each to the result of the one before, as
    /// burn-store's remapper applies its patterns), before [`crate::checkpoint::names::canonical`]'s
    /// BERT rules. Tensors that match [`Family::ignored`] are not renamed at all.
    pub fn load_rules(self) -> &'static [(Regex, &'static str)] {
        static ROBERTA: LazyLock<Vec<(Regex, &str)>> = LazyLock::new(|| {
            rules(&[
                (r"^roberta\.", "bert."),
                (r"^classifier\.dense\.", "bert.pooler.dense."),
                (r"^classifier\.out_proj\.", "classifier."),
            ])
        });
        static ELECTRA: LazyLock<Vec<(Regex, &str)>> = LazyLock::new(|| {
            rules(&[
                (r"^(electra\.)?embeddings_project\.", "bert.embeddings.project."),
                (r"^electra\.", "bert."),
                (r"^classifier\.dense\.", "bert.pooler.dense."),
                (r"^classifier\.out_proj\.", "classifier."),
            ])
        });
        static DISTILBERT: LazyLock<Vec<(Regex, &str)>> = LazyLock::new(|| {
            let layer = r"^transformer\.layer\.(\d+)\.";
            rules(&[
                (r"^distilbert\.", ""),
                (&format!(r"{layer}attention\.q_lin\."), "bert.encoder.layer.$1.attention.self.query."),
                (&format!(r"{layer}attention\.k_lin\."), "bert.encoder.layer.$1.attention.self.key."),
                (&format!(r"{layer}attention\.v_lin\."), "bert.encoder.layer.$1.attention.self.value."),
                (&format!(r"{layer}attention\.out_lin\."), "bert.encoder.layer.$1.attention.output.dense."),
                (&format!(r"{layer}sa_layer_norm\."), "bert.encoder.layer.$1.attention.output.LayerNorm."),
                (&format!(r"{layer}ffn\.lin1\."), "bert.encoder.layer.$1.intermediate.dense."),
                (&format!(r"{layer}ffn\.lin2\."), "bert.encoder.layer.$1.output.dense."),
                (&format!(r"{layer}output_layer_norm\."), "bert.encoder.layer.$1.output.LayerNorm."),
                (layer, "bert.encoder.layer.$1."),
                (r"^embeddings\.", "bert.embeddings."),
                (r"^pre_classifier\.", "bert.pooler.dense."),
            ])
        });
        static DEBERTA: LazyLock<Vec<(Regex, &str)>> = LazyLock::new(|| {
            rules(&[
                (r"^deberta\.", "bert."),
                (r"\.attention\.self\.(query|key|value)_proj\.", ".attention.self.$1."),
                (r"^pooler\.dense\.", "bert.pooler.dense."),
            ])
        });
        static MODERNBERT: LazyLock<Vec<(Regex, &str)>> = LazyLock::new(|| {
            let layer = r"^model\.layers\.(\d+)\.";
            rules(&[
                (r"^model\.embeddings\.tok_embeddings\.", "bert.embeddings.word_embeddings."),
                (r"^model\.embeddings\.norm\.", "bert.embeddings.LayerNorm."),
                (&format!(r"{layer}attn\.Wqkv\."), "bert.encoder.layer.$1.attention.self.qkv."),
                (&format!(r"{layer}attn\.Wq\."), "bert.encoder.layer.$1.attention.self.query."),
                (&format!(r"{layer}attn\.Wk\."), "bert.encoder.layer.$1.attention.self.key."),
                (&format!(r"{layer}attn\.Wv\."), "bert.encoder.layer.$1.attention.self.value."),
                (&format!(r"{layer}attn\.Wo\."), "bert.encoder.layer.$1.attention.output.dense."),
                (&format!(r"{layer}attn_norm\."), "bert.encoder.layer.$1.attn_norm."),
                (&format!(r"{layer}mlp_norm\."), "bert.encoder.layer.$1.output.LayerNorm."),
                (&format!(r"{layer}mlp\.Wi\."), "bert.encoder.layer.$1.intermediate.dense."),
                (&format!(r"{layer}mlp\.Wo\."), "bert.encoder.layer.$1.output.dense."),
                (r"^model\.final_norm\.", "bert.encoder.final_norm."),
                (r"^head\.dense\.", "bert.pooler.dense."),
                (r"^head\.norm\.", "bert.pooler.norm."),
                (layer, "bert.encoder.layer.$1."),
                (r"^model\.", "bert."),
            ])
        });
        match self {
            Self::Bert => &[],
            Self::Roberta | Self::XlmRoberta => &ROBERTA,
            Self::DistilBert => &DISTILBERT,
            Self::Electra => &ELECTRA,
            Self::DebertaV2 => &DEBERTA,
            Self::ModernBert => &MODERNBERT,
        }
    }

    /// Canonical name → file name for a model of `task`, applied in order after the module → canonical
    /// renames. The inverse of [`Family::load_rules`] (a unit test checks every tensor both ways).
    pub fn save_rules(self, task: Task) -> &'static [(Regex, &'static str)] {
        // The sequence head's dense layer and classifier under RoBERTa's and ELECTRA's names; the
        // classifier first, so that the dense layer renamed to `classifier.dense` is not renamed again.
        static ROBERTA_SEQ: LazyLock<Vec<(Regex, &str)>> = LazyLock::new(|| {
            rules(&[
                (r"^classifier\.", "classifier.out_proj."),
                (r"^bert\.pooler\.dense\.", "classifier.dense."),
                (r"^bert\.", "roberta."),
            ])
        });
        static ROBERTA: LazyLock<Vec<(Regex, &str)>> = LazyLock::new(|| rules(&[(r"^bert\.", "roberta.")]));
        static ELECTRA_SEQ: LazyLock<Vec<(Regex, &str)>> = LazyLock::new(|| {
            rules(&[
                (r"^classifier\.", "classifier.out_proj."),
                (r"^bert\.pooler\.dense\.", "classifier.dense."),
                (r"^bert\.embeddings\.project\.", "electra.embeddings_project."),
                (r"^bert\.", "electra."),
            ])
        });
        static ELECTRA: LazyLock<Vec<(Regex, &str)>> = LazyLock::new(|| {
            rules(&[(r"^bert\.embeddings\.project\.", "electra.embeddings_project."), (r"^bert\.", "electra.")])
        });
        static DISTILBERT: LazyLock<Vec<(Regex, &str)>> = LazyLock::new(|| {
            rules(&[
                (
                    r"^bert\.encoder\.layer\.(\d+)\.attention\.self\.query\.",
                    "distilbert.transformer.layer.$1.attention.q_lin.",
                ),
                (
                    r"^bert\.encoder\.layer\.(\d+)\.attention\.self\.key\.",
                    "distilbert.transformer.layer.$1.attention.k_lin.",
                ),
                (
                    r"^bert\.encoder\.layer\.(\d+)\.attention\.self\.value\.",
                    "distilbert.transformer.layer.$1.attention.v_lin.",
                ),
                (
                    r"^bert\.encoder\.layer\.(\d+)\.attention\.output\.dense\.",
                    "distilbert.transformer.layer.$1.attention.out_lin.",
                ),
                (
                    r"^bert\.encoder\.layer\.(\d+)\.attention\.output\.LayerNorm\.",
                    "distilbert.transformer.layer.$1.sa_layer_norm.",
                ),
                (r"^bert\.encoder\.layer\.(\d+)\.intermediate\.dense\.", "distilbert.transformer.layer.$1.ffn.lin1."),
                (r"^bert\.encoder\.layer\.(\d+)\.output\.dense\.", "distilbert.transformer.layer.$1.ffn.lin2."),
                (
                    r"^bert\.encoder\.layer\.(\d+)\.output\.LayerNorm\.",
                    "distilbert.transformer.layer.$1.output_layer_norm.",
                ),
                (r"^bert\.encoder\.layer\.(\d+)\.", "distilbert.transformer.layer.$1."),
                (r"^bert\.embeddings\.", "distilbert.embeddings."),
                (r"^bert\.pooler\.dense\.", "pre_classifier."),
            ])
        });
        // DeBERTa's sequence head: `ContextPooler` is the model's top-level `pooler`.
        static DEBERTA_SEQ: LazyLock<Vec<(Regex, &str)>> = LazyLock::new(|| {
            rules(&[
                (r"^bert\.pooler\.dense\.", "pooler.dense."),
                (r"\.attention\.self\.(query|key|value)\.", ".attention.self.${1}_proj."),
                (r"^bert\.", "deberta."),
            ])
        });
        static DEBERTA: LazyLock<Vec<(Regex, &str)>> = LazyLock::new(|| {
            rules(&[
                (r"\.attention\.self\.(query|key|value)\.", ".attention.self.${1}_proj."),
                (r"^bert\.", "deberta."),
            ])
        });
        static MODERNBERT: LazyLock<Vec<(Regex, &str)>> = LazyLock::new(|| {
            let layer = r"^bert\.encoder\.layer\.(\d+)\.";
            rules(&[
                (r"^bert\.embeddings\.word_embeddings\.", "model.embeddings.tok_embeddings."),
                (r"^bert\.embeddings\.LayerNorm\.", "model.embeddings.norm."),
                (&format!(r"{layer}attention\.self\.qkv\."), "model.layers.$1.attn.Wqkv."),
                (&format!(r"{layer}attention\.self\.query\."), "model.layers.$1.attn.Wq."),
                (&format!(r"{layer}attention\.self\.key\."), "model.layers.$1.attn.Wk."),
                (&format!(r"{layer}attention\.self\.value\."), "model.layers.$1.attn.Wv."),
                (&format!(r"{layer}attention\.output\.dense\."), "model.layers.$1.attn.Wo."),
                (&format!(r"{layer}attn_norm\."), "model.layers.$1.attn_norm."),
                (&format!(r"{layer}output\.LayerNorm\."), "model.layers.$1.mlp_norm."),
                (&format!(r"{layer}intermediate\.dense\."), "model.layers.$1.mlp.Wi."),
                (&format!(r"{layer}output\.dense\."), "model.layers.$1.mlp.Wo."),
                (layer, "model.layers.$1."),
                (r"^bert\.encoder\.final_norm\.", "model.final_norm."),
                (r"^bert\.pooler\.dense\.", "head.dense."),
                (r"^bert\.pooler\.norm\.", "head.norm."),
                (r"^bert\.", "model."),
            ])
        });
        static MODERNBERT_QA: LazyLock<Vec<(Regex, &str)>> = LazyLock::new(|| {
            let mut table = vec![(Regex::new(r"^qa_outputs\.").expect("a valid pattern"), "classifier.")];
            table.extend(MODERNBERT.iter().cloned());
            table
        });
        match (self, task) {
            (Self::Bert, _) => &[],
            (Self::ModernBert, Task::QuestionAnswering) => &MODERNBERT_QA,
            (Self::ModernBert, _) => &MODERNBERT,
            (Self::DebertaV2, Task::SequenceClassification) => &DEBERTA_SEQ,
            (Self::DebertaV2, _) => &DEBERTA,
            (Self::Roberta | Self::XlmRoberta, Task::SequenceClassification) => &ROBERTA_SEQ,
            (Self::Roberta | Self::XlmRoberta, _) => &ROBERTA,
            (Self::Electra, Task::SequenceClassification) => &ELECTRA_SEQ,
            (Self::Electra, _) => &ELECTRA,
            (Self::DistilBert, _) => &DISTILBERT,
        }
    }

    /// Whether a file tensor is known and deliberately not loaded: pretraining heads (`lm_head`,
    /// `cls`, ELECTRA's `discriminator_predictions`, DistilBERT's `vocab_*`), buffers
    /// (`position_ids`), and RoBERTa's pretraining pooler, which transformers'
    /// `RobertaFor*` classes do not have (their sequence head's dense layer is `classifier.dense`),
    /// and DeBERTa's masked-LM heads (`lm_predictions`, `mask_predictions`).
    pub fn ignored(self, file_key: &str) -> bool {
        static IGNORED: LazyLock<Regex> =
            LazyLock::new(|| Regex::new(r"(^|\.)position_ids$|^(bert\.)?cls\.").expect("a valid pattern"));
        static ROBERTA: LazyLock<Regex> =
            LazyLock::new(|| Regex::new(r"^lm_head\.|^(roberta\.)?pooler\.").expect("a valid pattern"));
        static ELECTRA: LazyLock<Regex> = LazyLock::new(|| {
            Regex::new(r"^(discriminator_predictions|generator_predictions|generator_lm_head)\.")
                .expect("a valid pattern")
        });
        static DISTILBERT: LazyLock<Regex> =
            LazyLock::new(|| Regex::new(r"^vocab_(transform|layer_norm|projector)\.").expect("a valid pattern"));
        static MODERNBERT: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^decoder\.").expect("a valid pattern"));
        static DEBERTA: LazyLock<Regex> =
            LazyLock::new(|| Regex::new(r"^(deberta\.)?(lm_predictions|mask_predictions)\.").expect("a valid pattern"));
        IGNORED.is_match(file_key)
            || match self {
                Self::Bert => false,
                Self::Roberta | Self::XlmRoberta => ROBERTA.is_match(file_key),
                Self::Electra => ELECTRA.is_match(file_key),
                Self::DistilBert => DISTILBERT.is_match(file_key),
                Self::DebertaV2 => DEBERTA.is_match(file_key),
                Self::ModernBert => MODERNBERT.is_match(file_key),
            }
    }

    /// The file name of canonical tensor `canonical` in a model of `task` saved by ft.
    pub fn file_name(self, task: Task, canonical: &str) -> String {
        apply(self.save_rules(task), canonical)
    }
}

impl std::fmt::Display for Family {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

fn rules(table: &[(&str, &'static str)]) -> Vec<(Regex, &'static str)> {
    table.iter().map(|(p, r)| (Regex::new(p).expect("a valid pattern"), *r)).collect()
}

/// `name` through `rules` in order, each on the result of the one before (burn-store's semantics).
pub(crate) fn apply(rules: &[(Regex, &str)], name: &str) -> String {
    let mut out = name.to_string();
    for (pattern, replacement) in rules {
        if pattern.is_match(&out) {
            out = pattern.replace_all(&out, *replacement).into_owned();
        }
    }
    out
}

/// The keys of DistilBERT's `config.json` and the BERT keys ft reads them as.
pub(crate) const DISTILBERT_KEYS: &[(&str, &str)] = &[
    ("dim", "hidden_size"),
    ("n_layers", "num_hidden_layers"),
    ("n_heads", "num_attention_heads"),
    ("hidden_dim", "intermediate_size"),
    ("activation", "hidden_act"),
    ("dropout", "hidden_dropout_prob"),
    ("attention_dropout", "attention_probs_dropout_prob"),
    ("seq_classif_dropout", "classifier_dropout"),
];

/// DistilBERT's defaults (`DistilBertConfig.__init__`) for the keys ft renames.
fn distilbert_default(key: &str) -> Option<serde_json::Value> {
    Some(match key {
        "dim" => 768.into(),
        "n_layers" => 6.into(),
        "n_heads" => 12.into(),
        "hidden_dim" => 3072.into(),
        "activation" => "gelu".into(),
        "dropout" => 0.1.into(),
        "attention_dropout" => 0.1.into(),
        "seq_classif_dropout" => 0.2.into(),
        _ => return None,
    })
}

/// Rewrites a `config.json` object of `model_type` into the keys [`BertConfig`] reads: DistilBERT's
/// `dim`, `n_layers`, … become `hidden_size`, `num_hidden_layers`, … (their defaults where absent),
/// with no token types and LayerNorm ε 1e-12 (DistilBERT's constants); RoBERTa's padding id defaults
/// to 1. Other families' configs already use BERT's keys. Returns the reason when the config asks
/// for something ft does not build.
pub(crate) fn normalise_config(value: &mut serde_json::Value) -> Result<(), String> {
    let Some(object) = value.as_object_mut() else { return Ok(()) };
    let model_type = object.get("model_type").and_then(|v| v.as_str()).unwrap_or("bert").to_string();
    match Family::of_model_type(&model_type) {
        Some(Family::DistilBert) => {
            if object.get("sinusoidal_pos_embds").and_then(|v| v.as_bool()) == Some(true) {
                return Err("sinusoidal_pos_embds is true; ft loads DistilBERT with learned positions only".into());
            }
            for (theirs, ours) in DISTILBERT_KEYS {
                let value = object.remove(*theirs).or_else(|| distilbert_default(theirs));
                object.remove(*ours);
                if let Some(value) = value {
                    object.insert((*ours).into(), value);
                }
            }
            object.insert("type_vocab_size".into(), 0.into());
            object.insert("layer_norm_eps".into(), 1e-12.into());
            object.entry("vocab_size").or_insert(30522.into());
            object.entry("pad_token_id").or_insert(0.into());
        }
        Some(Family::Roberta | Family::XlmRoberta) if object.get("pad_token_id").is_none_or(|v| v.is_null()) => {
            object.insert("pad_token_id".into(), 1.into());
        }
        Some(Family::ModernBert) => {
            for (theirs, ours) in MODERNBERT_KEYS {
                let value = object.remove(*theirs).or_else(|| modernbert_default(theirs));
                object.remove(*ours);
                if let Some(value) = value {
                    object.insert((*ours).into(), value);
                }
            }
            object.insert("type_vocab_size".into(), 0.into());
            object.entry("classifier_dropout").or_insert(0.0.into());
            if object.get("pad_token_id").is_none_or(|v| v.is_null()) {
                object.insert("pad_token_id".into(), 50283.into());
            }
        }
        // `DebertaV2Config`'s defaults where they differ from BERT's.
        Some(Family::DebertaV2) => {
            object.entry("type_vocab_size").or_insert(0.into());
            object.entry("layer_norm_eps").or_insert(1e-7.into());
            object.entry("vocab_size").or_insert(128100.into());
            if object.get("pad_token_id").is_none_or(|v| v.is_null()) {
                object.insert("pad_token_id".into(), 0.into());
            }
        }
        _ => {}
    }
    Ok(())
}

/// The keys of ModernBERT's `config.json` that ft reads as BERT's.
pub(crate) const MODERNBERT_KEYS: &[(&str, &str)] = &[
    ("hidden_activation", "hidden_act"),
    ("norm_eps", "layer_norm_eps"),
    ("attention_dropout", "attention_probs_dropout_prob"),
    ("mlp_dropout", "hidden_dropout_prob"),
];

/// ModernBERT's defaults (`ModernBertConfig`) for the keys ft renames.
fn modernbert_default(key: &str) -> Option<serde_json::Value> {
    Some(match key {
        "hidden_activation" => "gelu".into(),
        "norm_eps" => 1e-5.into(),
        "attention_dropout" | "mlp_dropout" => 0.0.into(),
        _ => return None,
    })
}

/// The inverse of [`normalise_config`] on a serialised [`BertConfig`]: DistilBERT's and ModernBERT's
/// own keys back.
pub(crate) fn denormalise_config(value: &mut serde_json::Value) {
    let Some(object) = value.as_object_mut() else { return };
    if object.get("model_type").and_then(|v| v.as_str()) == Some(Family::ModernBert.model_type()) {
        for (theirs, ours) in MODERNBERT_KEYS {
            if let Some(value) = object.remove(*ours) {
                object.insert((*theirs).into(), value);
            }
        }
        for key in ["type_vocab_size", "position_embedding_type"] {
            object.remove(key);
        }
        return;
    }
    if object.get("model_type").and_then(|v| v.as_str()) != Some(Family::DistilBert.model_type()) {
        return;
    }
    for (theirs, ours) in DISTILBERT_KEYS {
        if let Some(value) = object.remove(*ours) {
            let value = match (*theirs, value) {
                // transformers' default when classifier_dropout was null (ft resolves it the same).
                ("seq_classif_dropout", serde_json::Value::Null) => 0.2.into(),
                (_, value) => value,
            };
            object.insert((*theirs).into(), value);
        }
    }
    for key in ["type_vocab_size", "layer_norm_eps", "position_embedding_type"] {
        object.remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkpoint::names::{FileKey, canonical_for_task, encoder_tensors};

    fn config(model_type: &str) -> BertConfig {
        let mut v = serde_json::json!({
            "model_type": model_type, "vocab_size": 100, "hidden_size": 32, "num_hidden_layers": 2,
            "num_attention_heads": 4, "intermediate_size": 64, "max_position_embeddings": 66,
            "type_vocab_size": 1, "pad_token_id": 1
        });
        if model_type == "distilbert" {
            v = serde_json::json!({"model_type": "distilbert", "vocab_size": 100, "dim": 32, "n_layers": 2,
                "n_heads": 4, "hidden_dim": 64, "max_position_embeddings": 64});
        }
        if model_type == "electra" {
            v["embedding_size"] = 16.into();
        }
        BertConfig::from_json_str(&v.to_string(), std::path::Path::new("config.json")).unwrap()
    }

    #[test]
    fn every_tensor_goes_to_its_file_name_and_back() {
        for &family in Family::ALL {
            let config = config(family.model_type());
            for &task in Task::ALL {
                let pooler = task == Task::SequenceClassification || family.head_transform();
                let mut names: Vec<String> = encoder_tensors(&config, pooler).into_iter().map(|t| t.name).collect();
                names
                    .push(if task == Task::QuestionAnswering { "qa_outputs.bias" } else { "classifier.weight" }.into());
                names.push("bert.encoder.layer.1.attention.self.prefix_key".into());
                names.push("bert.encoder.layer.0.output.adapter.down.weight".into());
                for name in names {
                    let file = family.file_name(task, &name);
                    assert_eq!(
                        canonical_for_task(family, task, &file),
                        FileKey::Tensor(name.clone()),
                        "{family} {task}: {file}"
                    );
                }
            }
        }
    }

    #[test]
    fn names_are_transformers_own() {
        let seq = Task::SequenceClassification;
        let d = Family::DistilBert;
        assert_eq!(
            d.file_name(seq, "bert.encoder.layer.3.attention.output.LayerNorm.weight"),
            "distilbert.transformer.layer.3.sa_layer_norm.weight"
        );
        assert_eq!(
            d.file_name(seq, "bert.encoder.layer.3.output.dense.bias"),
            "distilbert.transformer.layer.3.ffn.lin2.bias"
        );
        assert_eq!(d.file_name(seq, "bert.pooler.dense.weight"), "pre_classifier.weight");
        assert_eq!(d.file_name(seq, "classifier.weight"), "classifier.weight");
        let r = Family::Roberta;
        assert_eq!(r.file_name(seq, "bert.pooler.dense.weight"), "classifier.dense.weight");
        assert_eq!(r.file_name(seq, "classifier.bias"), "classifier.out_proj.bias");
        assert_eq!(r.file_name(Task::TokenClassification, "classifier.bias"), "classifier.bias");
        assert_eq!(r.file_name(seq, "bert.embeddings.LayerNorm.weight"), "roberta.embeddings.LayerNorm.weight");
        let e = Family::Electra;
        assert_eq!(e.file_name(seq, "bert.embeddings.project.weight"), "electra.embeddings_project.weight");
        assert!(r.ignored("roberta.pooler.dense.weight") && r.ignored("lm_head.dense.bias"));
        assert!(e.ignored("discriminator_predictions.dense.weight") && d.ignored("vocab_projector.bias"));
        assert!(Family::Bert.ignored("bert.embeddings.position_ids") && !Family::Bert.ignored("classifier.bias"));
    }

    #[test]
    fn architectures_of_every_family() {
        assert_eq!(Family::XlmRoberta.architecture(Task::QuestionAnswering), "XLMRobertaForQuestionAnswering");
        for &family in Family::ALL {
            for &task in Task::ALL {
                assert_eq!(Family::task_of_architecture(&family.architecture(task)), Some(task));
            }
        }
        assert_eq!(Family::task_of_architecture("RobertaForMaskedLM"), None);
    }

    #[test]
    fn distilbert_config_round_trips_through_bert_keys() {
        let c = config("distilbert");
        assert_eq!((c.hidden_size, c.num_hidden_layers, c.intermediate_size, c.type_vocab_size), (32, 2, 64, 0));
        assert_eq!(c.classifier_dropout, Some(0.2));
        let back = c.to_json_value();
        for key in ["dim", "n_layers", "n_heads", "hidden_dim", "activation", "dropout", "seq_classif_dropout"] {
            assert!(back.get(key).is_some(), "{key} missing in {back}");
        }
        for key in ["hidden_size", "type_vocab_size", "layer_norm_eps", "hidden_dropout_prob"] {
            assert!(back.get(key).is_none(), "{key} written in {back}");
        }
        let again = BertConfig::from_json_str(&back.to_string(), std::path::Path::new("config.json")).unwrap();
        assert_eq!(again, c);
        let mut sinusoidal = back.clone();
        sinusoidal["sinusoidal_pos_embds"] = true.into();
        let err = BertConfig::from_json_str(&sinusoidal.to_string(), std::path::Path::new("config.json")).unwrap_err();
        assert!(err.to_string().contains("sinusoidal_pos_embds"), "{err}");
    }

    #[test]
    fn roberta_positions_leave_the_padding_rows_out() {
        let c = config("roberta");
        assert_eq!(Family::Roberta.positions(&c), Positions::AfterPadding { pad: 1 });
        assert_eq!(Family::Roberta.max_tokens(&c), 64);
        assert_eq!(Family::Bert.max_tokens(&config("bert")), 66);
    }
}
