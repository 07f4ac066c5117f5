//! Labels: what kind they are (single-label classes, multi-label, regression, one class per token),
//! the label set of the training file (or the names given), and each row's label in that set.
//!
//! Detection follows transformers' `run_classification.py` on what HF datasets would infer: integers or
//! names → single-label; numbers with a fraction or exponent (all of them numbers) → regression; JSON
//! arrays → multi-label. A separator-joined string (`sports,tech`) is multi-label only when asked for
//! (`--label-kind multi-label`), since a comma can be part of a class name.

use crate::DataError;
use crate::files::RawLabel;
use std::collections::HashMap;
use std::path::Path;

/// What a label is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LabelKind {
    /// One class per row (`problem_type = single_label_classification`).
    SingleLabel,
    /// Any number of classes per row (`multi_label_classification`).
    MultiLabel,
    /// One number per row (`regression`).
    Regression,
    /// One class per word of a tagged sentence (NER, slots: `BertForTokenClassification`); the
    /// sub-tokens that carry no label are ignored ([`crate::IGNORE_INDEX`]). Read from CoNLL/JSONL
    /// tagged files by [`crate::tagging`].
    TokenClasses,
    /// An answer span (start and end token) per window of a question's context: extractive question
    /// answering (`BertForQuestionAnswering`). Read from SQuAD files by [`crate::qa`].
    Spans,
}

impl LabelKind {
    /// The `problem_type` string of a HF `config.json`. Token classes give
    /// `single_label_classification` (one class per token, cross-entropy): HF's token heads ignore the
    /// field, and transformers refuses any value outside its three.
    pub fn problem_type(self) -> &'static str {
        match self {
            Self::SingleLabel | Self::TokenClasses | Self::Spans => "single_label_classification",
            Self::MultiLabel => "multi_label_classification",
            Self::Regression => "regression",
        }
    }
}

impl std::str::FromStr for LabelKind {
    type Err = DataError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().replace('_', "-").as_str() {
            "single-label" | "single" | "classification" => Ok(Self::SingleLabel),
            "multi-label" | "multi" => Ok(Self::MultiLabel),
            "regression" => Ok(Self::Regression),
            "token-classes" | "token-classification" | "tokens" | "ner" => Ok(Self::TokenClasses),
            "spans" | "question-answering" | "qa" => Ok(Self::Spans),
            _ => Err(DataError::Options(format!(
                "--label-kind {s:?}: use single-label, multi-label, regression, token-classes or spans"
            ))),
        }
    }
}

/// The labels of a dataset, as the model sees them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelSpace {
    /// The kind.
    pub kind: LabelKind,
    /// Class names in id order (`id2label`); empty for regression.
    pub names: Vec<String>,
}

impl LabelSpace {
    /// Outputs of the classifier: the number of classes, 1 for regression, 2 (start, end) for spans.
    pub fn num_labels(&self) -> usize {
        match self.kind {
            LabelKind::Regression => 1,
            LabelKind::Spans => 2,
            _ => self.names.len(),
        }
    }

    /// The id of a class name.
    pub fn id(&self, name: &str) -> Option<u32> {
        self.names.iter().position(|n| n == name).and_then(|i| u32::try_from(i).ok())
    }
}

/// How labels are read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelOptions {
    /// Force a kind (`--label-kind`); `None` detects it from the training file.
    pub kind: Option<LabelKind>,
    /// Separator of multi-label fields in CSV/TSV and JSON strings (`--label-separator`, default `,`).
    pub separator: String,
    /// The label set, in id order (`--labels`), instead of the sorted labels of the training file.
    /// Every label of every file must be one of them; integer tags (HF `datasets`' `ner_tags`) are
    /// indices into them. Use it when validation or test hold labels the training file lacks.
    pub names: Option<Vec<String>>,
}

impl Default for LabelOptions {
    fn default() -> Self {
        Self { kind: None, separator: ",".into(), names: None }
    }
}

/// One row's label after reading: class ids (one or more) or a value.
#[derive(Debug, Clone, PartialEq)]
pub enum RowLabel {
    /// Class ids (interned ids while the training file is read, final ids after).
    Classes(Vec<u32>),
    /// A regression target.
    Value(f32),
}

fn label_text(raw: &RawLabel) -> String {
    match raw {
        RawLabel::Field(s) | RawLabel::JsonString(s) => s.clone(),
        RawLabel::JsonNumber { text, .. } => text.clone(),
        RawLabel::JsonList(items) => format!("[{}]", items.join(", ")),
    }
}

fn parse_value(s: &str) -> Option<f32> {
    s.trim().parse::<f32>().ok().filter(|v| v.is_finite())
}

/// Collects the label names of the training file, then decides the kind and the sorted label set.
#[derive(Debug, Default)]
pub struct LabelCollector {
    names: Vec<String>,
    index: HashMap<String, u32>,
    /// The names were given (`LabelOptions::names`): no others are taken, and their order is kept.
    fixed: bool,
    any_list: bool,
    any_json_string: bool,
    any_float: bool,
}

impl LabelCollector {
    /// A collector for `opts`: empty, or holding the given names (in their order) and no others.
    pub fn new(opts: &LabelOptions) -> Self {
        let mut c = Self::default();
        if let Some(names) = &opts.names {
            for n in names {
                c.intern(n.trim());
            }
            c.fixed = true;
        }
        c
    }

    fn intern(&mut self, name: &str) -> u32 {
        if let Some(&i) = self.index.get(name) {
            return i;
        }
        let i = self.names.len() as u32;
        self.names.push(name.to_string());
        self.index.insert(name.to_string(), i);
        i
    }

    /// Reads one training label (kind `forced`, or not yet known).
    pub fn add(
        &mut self,
        raw: &RawLabel,
        opts: &LabelOptions,
        path: &Path,
        line: u64,
        column: &str,
    ) -> Result<RowLabel, DataError> {
        let bad = bad_label(raw, path, line, column);
        let parts = non_empty_parts(raw, opts, &bad)?;
        match (opts.kind, raw) {
            (Some(LabelKind::Regression), RawLabel::JsonList(_)) => Err(bad("is a list, not a number")),
            (Some(LabelKind::Regression), _) => {
                parse_value(&parts[0]).map(RowLabel::Value).ok_or_else(|| bad("is not a number"))
            }
            (Some(LabelKind::SingleLabel), RawLabel::JsonList(_)) => {
                Err(bad("is a list, but the labels are single-label"))
            }
            _ => {
                match raw {
                    RawLabel::JsonList(_) => self.any_list = true,
                    RawLabel::JsonString(_) => self.any_json_string = true,
                    RawLabel::JsonNumber { is_float: true, .. } => self.any_float = true,
                    RawLabel::Field(s) if s.contains(['.', 'e', 'E']) => self.any_float = true,
                    _ => {}
                }
                if self.fixed
                    && let Some(p) = parts.iter().find(|p| !self.index.contains_key(p.as_str()))
                {
                    return Err(DataError::UnknownLabel {
                        path: path.to_path_buf(),
                        line,
                        label: p.clone(),
                        known: self.names.clone(),
                    });
                }
                Ok(RowLabel::Classes(parts.iter().map(|p| self.intern(p)).collect()))
            }
        }
    }

    /// The kind and label set, plus the map from interned ids to final ids (empty for regression).
    pub fn finish(self, opts: &LabelOptions) -> (LabelSpace, Vec<u32>, Option<Vec<f32>>) {
        let all_int = !self.names.is_empty() && self.names.iter().all(|n| n.trim().parse::<i64>().is_ok());
        let all_numbers = !self.names.is_empty() && self.names.iter().all(|n| parse_value(n).is_some());
        let kind = opts.kind.unwrap_or(if self.any_list {
            LabelKind::MultiLabel
        } else if all_numbers && !all_int && self.any_float && !self.any_json_string {
            LabelKind::Regression
        } else {
            LabelKind::SingleLabel
        });
        if kind == LabelKind::Regression {
            let values = self.names.iter().map(|n| parse_value(n).unwrap_or(f32::NAN)).collect();
            return (LabelSpace { kind, names: Vec::new() }, Vec::new(), Some(values));
        }
        // Sorted and stable: numerically when every label is an integer (so "10" comes after "9"),
        // else by the names' bytes.
        let mut order: Vec<u32> = (0..self.names.len() as u32).collect();
        if self.fixed {
            // Given names keep their order.
        } else if all_int {
            order.sort_by_key(|&i| self.names[i as usize].trim().parse::<i64>().unwrap_or(0));
        } else {
            order.sort_by(|&a, &b| self.names[a as usize].cmp(&self.names[b as usize]));
        }
        let mut remap = vec![0u32; self.names.len()];
        for (new, &old) in order.iter().enumerate() {
            remap[old as usize] = new as u32;
        }
        let names = order.iter().map(|&i| self.names[i as usize].clone()).collect();
        (LabelSpace { kind, names }, remap, None)
    }
}

/// The class names of one raw label: a list's items, a field split on the separator when the kind
/// is multi-label, else the field itself (trimmed).
fn split_label(raw: &RawLabel, opts: &LabelOptions) -> Vec<String> {
    match raw {
        RawLabel::JsonList(items) => items.iter().map(|s| s.trim().to_string()).collect(),
        RawLabel::Field(s) | RawLabel::JsonString(s)
            if opts.kind == Some(LabelKind::MultiLabel) && !opts.separator.is_empty() =>
        {
            s.split(opts.separator.as_str()).map(|p| p.trim().to_string()).filter(|p| !p.is_empty()).collect()
        }
        RawLabel::Field(s) | RawLabel::JsonString(s) => vec![s.trim().to_string()],
        RawLabel::JsonNumber { text, .. } => vec![text.clone()],
    }
}

/// The error for a bad label at `path:line`, given the problem.
fn bad_label<'a>(raw: &'a RawLabel, path: &'a Path, line: u64, column: &'a str) -> impl Fn(&str) -> DataError + 'a {
    move |problem: &str| DataError::BadLabel {
        path: path.to_path_buf(),
        line,
        column: column.to_string(),
        label: label_text(raw),
        problem: problem.to_string(),
    }
}

/// The label's parts (one, or several for multi-label), none of them empty.
fn non_empty_parts(
    raw: &RawLabel,
    opts: &LabelOptions,
    bad: &impl Fn(&str) -> DataError,
) -> Result<Vec<String>, DataError> {
    let parts = split_label(raw, opts);
    if parts.is_empty() || parts.iter().any(|p| p.is_empty()) {
        return Err(bad("is empty"));
    }
    Ok(parts)
}

/// Reads a validation/test label against the training file's label set.
pub fn lookup(
    raw: &RawLabel,
    space: &LabelSpace,
    opts: &LabelOptions,
    path: &Path,
    line: u64,
    column: &str,
) -> Result<RowLabel, DataError> {
    let bad = bad_label(raw, path, line, column);
    let opts = LabelOptions { kind: Some(space.kind), separator: opts.separator.clone(), names: None };
    let parts = non_empty_parts(raw, &opts, &bad)?;
    match space.kind {
        LabelKind::Regression => parse_value(&parts[0]).map(RowLabel::Value).ok_or_else(|| bad("is not a number")),
        LabelKind::SingleLabel if parts.len() > 1 || matches!(raw, RawLabel::JsonList(_)) => {
            Err(bad("is a list, but the training labels are single-label"))
        }
        _ => parts
            .iter()
            .map(|p| {
                space.id(p).ok_or_else(|| DataError::UnknownLabel {
                    path: path.to_path_buf(),
                    line,
                    label: p.clone(),
                    known: space.names.clone(),
                })
            })
            .collect::<Result<Vec<_>, _>>()
            .map(RowLabel::Classes),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn detect(raws: &[RawLabel], opts: &LabelOptions) -> (LabelSpace, Vec<RowLabel>) {
        let mut c = LabelCollector::default();
        let rows: Vec<RowLabel> =
            raws.iter().map(|r| c.add(r, opts, Path::new("t.csv"), 2, "label").unwrap()).collect();
        let (space, remap, values) = c.finish(opts);
        let rows = rows
            .into_iter()
            .map(|r| match (r, &values) {
                (RowLabel::Classes(ids), Some(v)) => RowLabel::Value(v[ids[0] as usize]),
                (RowLabel::Classes(ids), None) => RowLabel::Classes(ids.iter().map(|&i| remap[i as usize]).collect()),
                (v, _) => v,
            })
            .collect();
        (space, rows)
    }

    fn fields(v: &[&str]) -> Vec<RawLabel> {
        v.iter().map(|s| RawLabel::Field(s.to_string())).collect()
    }

    #[test]
    fn names_sort_by_bytes_ints_numerically() {
        let (space, rows) = detect(&fields(&["tech", "sports", "tech"]), &LabelOptions::default());
        assert_eq!((space.kind, space.names.clone()), (LabelKind::SingleLabel, vec!["sports".into(), "tech".into()]));
        assert_eq!(rows, [RowLabel::Classes(vec![1]), RowLabel::Classes(vec![0]), RowLabel::Classes(vec![1])]);
        let (space, _) = detect(&fields(&["10", "9", "2"]), &LabelOptions::default());
        assert_eq!(space.names, ["2", "9", "10"]);
    }

    #[test]
    fn floats_are_regression_but_json_strings_are_names() {
        let (space, rows) = detect(&fields(&["0.5", "1", "2.25"]), &LabelOptions::default());
        assert_eq!(space.kind, LabelKind::Regression);
        assert_eq!(rows, [RowLabel::Value(0.5), RowLabel::Value(1.0), RowLabel::Value(2.25)]);
        let raws = [RawLabel::JsonString("0.5".into()), RawLabel::JsonString("1.5".into())];
        assert_eq!(detect(&raws, &LabelOptions::default()).0.kind, LabelKind::SingleLabel);
    }

    #[test]
    fn lists_are_multi_label_and_separators_when_forced() {
        let raws = [RawLabel::JsonList(vec!["b".into(), "a".into()]), RawLabel::JsonList(vec!["c".into()])];
        let (space, rows) = detect(&raws, &LabelOptions::default());
        assert_eq!((space.kind, space.names.len()), (LabelKind::MultiLabel, 3));
        assert_eq!(rows[0], RowLabel::Classes(vec![1, 0]));
        let opts = LabelOptions { kind: Some(LabelKind::MultiLabel), separator: "|".into(), names: None };
        let (space, _) = detect(&fields(&["x|y", "z"]), &opts);
        assert_eq!(space.names, ["x", "y", "z"]);
    }

    #[test]
    fn given_names_keep_their_order_and_refuse_others() {
        let opts = LabelOptions { names: Some(vec!["z".into(), "a".into(), "m".into()]), ..Default::default() };
        let mut c = LabelCollector::new(&opts);
        let row = c.add(&RawLabel::Field("a".into()), &opts, Path::new("t.csv"), 2, "label").unwrap();
        let err = c.add(&RawLabel::Field("b".into()), &opts, Path::new("t.csv"), 3, "label").unwrap_err();
        assert_eq!(err.line(), Some(3));
        let (space, remap, _) = c.finish(&opts);
        assert_eq!(space.names, ["z", "a", "m"], "given order, unused names kept");
        assert_eq!(row, RowLabel::Classes(vec![1]));
        assert_eq!(remap, [0, 1, 2]);
    }

    #[test]
    fn unknown_label_names_file_line_label_and_known() {
        let space = LabelSpace { kind: LabelKind::SingleLabel, names: vec!["sports".into(), "tech".into()] };
        let err = lookup(
            &RawLabel::Field("sprots".into()),
            &space,
            &LabelOptions::default(),
            Path::new("v.jsonl"),
            418,
            "label",
        )
        .unwrap_err()
        .to_string();
        assert_eq!(
            err,
            "v.jsonl:418: label \"sprots\" is not one of [sports, tech] (the labels of the training file); fix the row or add it to the training data"
        );
    }

    #[test]
    fn unparsable_and_empty_labels() {
        let opts = LabelOptions { kind: Some(LabelKind::Regression), ..Default::default() };
        let mut c = LabelCollector::default();
        let err =
            c.add(&RawLabel::Field("high".into()), &opts, Path::new("t.csv"), 3, "score").unwrap_err().to_string();
        assert!(err.starts_with("t.csv:3: label \"high\" in column `score` is not a number"), "{err}");
        let err =
            c.add(&RawLabel::Field(" ".into()), &LabelOptions::default(), Path::new("t.csv"), 4, "label").unwrap_err();
        assert!(err.to_string().contains("is empty"), "{err}");
    }
}
