//! `ft eval`: a trained model's scores on a labelled file — per-class precision / recall / F1 with
//! support, macro / micro / weighted averages, accuracy, MCC, log-loss, ROC-AUC and the confusion matrix
//! as a table (or `--json`), and optionally `report.html`.
//!
//! It evaluates exactly as `ft train` evaluates its test split: the file is read against the model's
//! labels by `ft_data::dataset::read_with_labels`, run in file order by `ft_infer::outputs` and
//! scored by `ft_train::eval::metrics` (ft-eval underneath). With a run directory, `max_len`, the
//! evaluation batch size and the columns default to the run's (`run.toml`), so `ft eval` on a run's
//! model and test file gives the run's test numbers exactly.

use super::{Served, thousands};
use crate::report::{self, Report};
use anyhow::Context;
use ft_data::{Columns, DataOptions, LabelKind, LabelOptions, LabelSpace, TagColumns, TokenOptions};
use ft_eval::{ClassificationReport, TaggingReport};
use ft_infer::{Outputs, Predictor, TokenPredictor, argmax_rows, gold_classes, softmax_rows};
use std::path::PathBuf;

/// Arguments of `ft eval`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Model directory (an `ft train` output, or any HF sequence-classification checkpoint).
    #[arg(long)]
    model: String,
    /// An adapter directory to put on --model (LoRA merged, prompt / prefix / bottleneck attached, in
    /// memory); --model may also be
    /// the adapter directory itself when its adapter_config.json names the base.
    #[arg(long, value_name = "DIR")]
    adapter: Option<PathBuf>,
    /// Labelled data (CSV, TSV or JSONL with a header); its labels must be the model's (id2label).
    #[arg(long)]
    data: PathBuf,
    /// Examples per batch [default: the run's eval_batch_size (run.toml), else 64].
    #[arg(long)]
    batch_size: Option<usize>,
    /// Tokens per example, special tokens included [default: the run's max_len, else 128].
    #[arg(long)]
    max_len: Option<usize>,
    /// Text column [default: the run's, else sentence, then text].
    #[arg(long)]
    text_column: Option<String>,
    /// Second text column, for sentence pairs [default: the run's].
    #[arg(long)]
    text_pair_column: Option<String>,
    /// Label column [default: the run's, else label].
    #[arg(long)]
    label_column: Option<String>,
    /// Where to run: cpu, flex, ndarray, wgpu, wgpu:N, auto.
    #[arg(long, default_value = "cpu")]
    device: String,
    /// Print one JSON object (ft-eval's report, log-loss, ROC-AUC, the training metrics) instead of tables.
    #[arg(long)]
    json: bool,
    /// Also write an HTML report (confusion-matrix heat map, per-class bars; the training curves when
    /// the model directory is a run).
    #[arg(long)]
    report: Option<PathBuf>,
    /// Longest row (line) accepted in the data file, in bytes.
    #[arg(long, default_value_t = ft_data::DEFAULT_MAX_ROW_BYTES)]
    max_row_bytes: usize,
    /// Question-answering models: context tokens shared by consecutive windows [default: the run's
    /// doc_stride (run.toml), else 128, at most a quarter of --max-len].
    #[arg(long)]
    doc_stride: Option<usize>,
    /// Multi-label models: predict a label when its sigmoid exceeds this probability, for every label
    /// [default: the thresholds saved with the model (config.json `ft_thresholds`), else 0.5].
    #[arg(long, value_name = "P")]
    threshold: Option<f64>,
}

pub fn run(mut args: Args, quiet: bool) -> anyhow::Result<()> {
    let (model, _merged) = super::convert::with_adapter(&args.model, args.adapter.as_deref(), &args.device)?;
    args.model = model;
    match super::predict::task_of(&args.model)? {
        ft_model::Task::TokenClassification => return run_tokens(&args, quiet),
        ft_model::Task::QuestionAnswering => return run_qa(&args, quiet),
        ft_model::Task::SequenceClassification => {}
    }
    let mut p = super::serve(&args.model, &args.device, args.max_len, Predictor::load)?;
    if let Some(t) = args.threshold {
        super::predict::override_threshold(&mut p, t)?;
    }
    let run = p.run.as_ref();
    let batch_size = args.batch_size.or(run.map(|r| r.training.eval_batch_size)).unwrap_or(64);
    if batch_size == 0 {
        anyhow::bail!("--batch-size 0: a batch needs at least one example");
    }
    let d = run.map(|r| &r.data);
    let options = DataOptions {
        columns: Columns {
            text: args.text_column.clone().or_else(|| d.and_then(|d| d.text_column.clone())),
            text_pair: args.text_pair_column.clone().or_else(|| d.and_then(|d| d.text_pair_column.clone())),
            label: args.label_column.clone().or_else(|| d.map(|d| d.label_column.clone())).unwrap_or("label".into()),
        },
        labels: LabelOptions {
            kind: Some(p.space.kind),
            separator: d.map(|d| d.label_separator.clone()).unwrap_or(",".into()),
            names: None,
        },
        max_len: p.max_len,
        max_row_bytes: args.max_row_bytes,
        ..Default::default()
    };
    let (examples, read) = ft_data::dataset::read_with_labels(&args.data, &p.tokenizer, &options, &p.space)
        .with_context(|| {
            format!(
                "reading {} against the model's labels [{}] (id2label in {})",
                args.data.display(),
                p.space.names.join(", "),
                p.dir.join("config.json").display()
            )
        })?;
    if !quiet {
        eprintln!("model      {} ({} on {})", p.dir.display(), labels_line(&p), p.resolved.describe()?);
        eprintln!("data       {read}");
        eprintln!(
            "settings   max_len {}, batch size {}{}",
            p.max_len,
            batch_size,
            if run.is_some() { " (defaults from run.toml)" } else { "" }
        );
    }
    let outputs = ft_infer::logits(&p.model, &examples, batch_size, &p.device)?;
    let metrics = ft_train::eval::metrics(&outputs, p.space.kind, &p.thresholds);
    if let Some(warning) =
        ft_train::eval::never_predicted_warning(&outputs, p.space.kind, &p.thresholds, &p.space.names, "data")
    {
        eprintln!("{warning}");
    }
    let multi = match p.space.kind {
        LabelKind::MultiLabel => {
            let truth: Vec<bool> = outputs
                .labels
                .iter()
                .flat_map(|l| match l {
                    ft_data::Labels::MultiHot { values, .. } => values.iter().map(|&y| y > 0.5).collect(),
                    _ => Vec::new(),
                })
                .collect();
            let pred = p.thresholds.decide(&outputs.logits, outputs.num_labels);
            Some(ft_eval::MultilabelReport::compute(&truth, &pred, outputs.num_labels)?)
        }
        _ => None,
    };
    let c = outputs.num_labels;
    let classes = match p.space.kind {
        LabelKind::SingleLabel => {
            let gold = gold_classes(&outputs.labels);
            let probs = softmax_rows(&outputs.logits, c);
            let rep = ClassificationReport::compute(&gold, &argmax_rows(&outputs.logits, c), c)?;
            Some((rep, ft_eval::log_loss(&gold, &probs, c).ok(), ft_eval::roc_auc(&gold, &probs, c).ok()))
        }
        _ => None,
    };

    if args.json {
        let mut v = serde_json::json!({
            "model": p.dir,
            "data": args.data,
            "num_examples": examples.len(),
            "labels": p.space.names,
            "problem_type": p.space.kind.problem_type(),
            "max_len": p.max_len,
            "batch_size": batch_size,
            "metrics": metrics,
        });
        if let Some((rep, log_loss, auc)) = &classes {
            v["report"] = serde_json::to_value(rep)?;
            v["log_loss"] = serde_json::json!(log_loss);
            v["roc_auc"] = serde_json::json!(auc);
        }
        if let Some(rep) = &multi {
            v["report"] = serde_json::to_value(rep)?;
            v["thresholds"] = (0..p.space.names.len()).map(|k| p.thresholds.get(k)).collect();
        }
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        match &classes {
            Some((rep, log_loss, auc)) => print_tables(&p.space.names, rep, *log_loss, *auc),
            None if multi.is_some() => {
                if let Some(rep) = &multi {
                    print_label_table(&p.space.names, rep, &p.thresholds);
                }
                for (k, v) in &metrics {
                    println!("{k:<16} {v:.4}");
                }
            }
            None => {
                for (k, v) in &metrics {
                    println!("{k:<16} {v:.4}");
                }
            }
        }
    }

    if let Some(path) = &args.report {
        let name = split_name(&args);
        let classes = report::class_results(&name, &p.space, &outputs);
        write_report(&args, path, &p.dir, examples.len(), &metrics, |page| page.classes = classes, quiet)?;
    }
    Ok(())
}

/// The data file's name, as the page calls the split.
fn split_name(args: &Args) -> String {
    args.data.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or("data".into())
}

/// `--report PATH`: the run's page (when the model directory is a run) with this file's results;
/// `fill` adds the class- or entity-level part.
fn write_report(
    args: &Args,
    path: &std::path::Path,
    dir: &std::path::Path,
    examples: usize,
    metrics: &ft_train::eval::Metrics,
    fill: impl FnOnce(&mut Report),
    quiet: bool,
) -> anyhow::Result<()> {
    let mut page = if dir.join("log.jsonl").is_file() { Report::read_run(dir)? } else { Report::default() };
    page.title = format!("ft eval · {} on {}", dir.display(), args.data.display());
    page.facts.insert(0, ("model".into(), dir.display().to_string()));
    page.facts.insert(1, ("data".into(), format!("{} ({} examples)", args.data.display(), examples)));
    let name = split_name(args);
    page.results.retain(|(split, _)| split != &name);
    page.results.push((name, metrics.clone()));
    fill(&mut page);
    page.write(path).with_context(|| format!("writing {}", path.display()))?;
    if !quiet {
        eprintln!("report     {}", path.display());
    }
    Ok(())
}

/// `ft eval` of a token-classification model on a tagged file: seqeval's entity-level scores per
/// type and averaged, and token accuracy, over the words that fit in `max_len` (as `ft train` scores
/// its validation split).
fn run_tokens(args: &Args, quiet: bool) -> anyhow::Result<()> {
    let p = super::serve(&args.model, &args.device, args.max_len, TokenPredictor::load)?;
    let run = p.run.as_ref();
    let batch_size = args.batch_size.or(run.map(|r| r.training.eval_batch_size)).unwrap_or(64);
    if batch_size == 0 {
        anyhow::bail!("--batch-size 0: a batch needs at least one example");
    }
    let d = run.map(|r| &r.data);
    let space = LabelSpace { kind: LabelKind::TokenClasses, names: p.labels.clone() };
    let options = DataOptions {
        labels: LabelOptions {
            kind: Some(LabelKind::TokenClasses),
            names: Some(p.labels.clone()),
            ..Default::default()
        },
        tokens: TokenOptions {
            columns: TagColumns {
                token: d.and_then(|d| d.token_column).unwrap_or(0),
                tag: d.and_then(|d| d.tag_column),
            },
            label_all_tokens: d.is_some_and(|d| d.label_all_tokens),
        },
        max_len: p.max_len,
        max_row_bytes: args.max_row_bytes,
        ..Default::default()
    };
    let (examples, read) = ft_data::dataset::read_with_labels(&args.data, &p.tokenizer, &options, &space)
        .with_context(|| {
            format!("reading {} against the model's tags [{}]", args.data.display(), p.labels.join(", "))
        })?;
    if !quiet {
        eprintln!("model      {} (token classification, {} tags: {})", args.model, p.labels.len(), p.labels.join(", "));
        eprintln!("data       {read}");
    }
    let Outputs::Tokens(tokens) = ft_infer::outputs(&p.model, &examples, batch_size, &p.device)? else {
        anyhow::bail!("the token head returned rows of logits");
    };
    let metrics = ft_train::eval::token_metrics(&tokens, &p.labels)?;
    let tags = |v: &[Vec<u32>]| -> Vec<Vec<String>> {
        v.iter().map(|s| s.iter().map(|&c| p.labels.get(c as usize).cloned().unwrap_or_default()).collect()).collect()
    };
    let rep = TaggingReport::compute(&tags(&tokens.gold), &tags(&tokens.pred))?;
    let entities = report::entity_results(&split_name(args), &p.labels, &tokens);
    if let Some(path) = &args.report {
        let fill = |page: &mut Report| page.entities = entities.clone();
        write_report(args, path, &p.dir, examples.len(), &metrics, fill, quiet)?;
    }
    if args.json {
        let v = serde_json::json!({
            "model": args.model,
            "data": args.data,
            "num_sentences": examples.len(),
            "labels": p.labels,
            "task": "token-classification",
            "max_len": p.max_len,
            "batch_size": batch_size,
            "metrics": metrics,
            "report": rep,
            "entity_confusion": entities.as_ref().map(|e| &e.confusion),
        });
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    let w = rep.per_type.keys().map(|n| n.chars().count()).max().unwrap_or(0).max("weighted avg".len());
    println!("{:<w$}  {:>9}  {:>9}  {:>9}  {:>9}", "entity", "precision", "recall", "f1", "support");
    for (name, s) in &rep.per_type {
        println!("{name:<w$}  {:>9.4}  {:>9.4}  {:>9.4}  {:>9}", s.precision, s.recall, s.f1, thousands(s.support));
    }
    println!();
    let support: usize = rep.per_type.values().map(|s| s.support).sum();
    for (name, a) in [("micro avg", &rep.micro_avg), ("macro avg", &rep.macro_avg), ("weighted avg", &rep.weighted_avg)]
    {
        println!("{name:<w$}  {:>9.4}  {:>9.4}  {:>9.4}  {:>9}", a.precision, a.recall, a.f1, thousands(support));
    }
    println!();
    println!(
        "token accuracy {:.4} over {} labelled tokens of {} sentences",
        rep.token_accuracy,
        thousands(rep.num_tokens),
        thousands(rep.num_sentences)
    );
    if let Some(loss) = metrics.get("loss") {
        println!("loss           {loss:.4}");
    }
    Ok(())
}

/// `ft eval` of a question-answering model on a SQuAD file (v1.1 JSON or JSONL with answers): every
/// question answered as `ft predict` does, scored with SQuAD v1.1's exact match and F1 against its gold
/// answers, and how many answers came from each context window.
fn run_qa(args: &Args, quiet: bool) -> anyhow::Result<()> {
    if args.report.is_some() {
        anyhow::bail!("--report: report.html is not written for question-answering models yet; use --json");
    }
    let mut p = super::serve(&args.model, &args.device, args.max_len, ft_infer::QaPredictor::load)?;
    if let Some(stride) = args.doc_stride.or(p.run.as_ref().map(|r| r.data.doc_stride)) {
        p.inner.stride = stride;
    }
    let path = &args.data;
    let rows = ft_data::read_qa_file(path, args.max_row_bytes)?;
    let mut examples = Vec::with_capacity(rows.len());
    for row in rows {
        let e = row?;
        if e.answers.is_empty() {
            anyhow::bail!(
                "{}: {}: question {:?} has no gold answer; `ft eval` scores answers against them (use `ft predict` to only answer)",
                path.display(),
                e.at,
                e.id
            );
        }
        examples.push(e);
    }
    if !quiet {
        eprintln!(
            "model      {} (question answering, windows of {} tokens sharing {})",
            args.model, p.max_len, p.stride
        );
        eprintln!("data       {}: {} questions", path.display(), thousands(examples.len()));
    }
    let (mut predictions, mut windows_used) = (Vec::with_capacity(examples.len()), std::collections::BTreeMap::new());
    for e in &examples {
        let best =
            p.answer(&e.question, &e.context, ft_infer::qa::DEFAULT_N_BEST, ft_infer::qa::DEFAULT_MAX_ANSWER_LENGTH)?;
        let best = best.into_iter().next().expect("best_answers returns at least the 'empty' answer");
        *windows_used.entry(best.source.map(|s| s.0)).or_insert(0usize) += 1;
        predictions.push(best.text);
    }
    let answers: Vec<Vec<&str>> =
        examples.iter().map(|e| e.answers.iter().map(|a| a.text.as_str()).collect()).collect();
    let scores = ft_eval::SquadScores::compute(&predictions, &answers)?;
    let by_window: Vec<(String, usize)> = windows_used
        .iter()
        .map(|(w, n)| (w.map_or("none (\"empty\")".to_string(), |w| format!("window {w}")), *n))
        .collect();
    if args.json {
        let v = serde_json::json!({
            "model": args.model,
            "data": args.data,
            "task": "question-answering",
            "max_len": p.max_len,
            "doc_stride": p.stride,
            "metrics": {"exact_match": scores.exact_match, "f1": scores.f1, "total": scores.total},
            "answers_by_window": by_window.iter().map(|(w, n)| serde_json::json!({"window": w, "answers": n})).collect::<Vec<_>>(),
        });
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    println!("exact match {:.2}", scores.exact_match);
    println!("f1          {:.2}", scores.f1);
    println!("questions   {}", thousands(scores.total));
    for (w, n) in by_window {
        println!("answers from {w}: {}", thousands(n));
    }
    Ok(())
}

fn labels_line(p: &Served<Predictor>) -> String {
    match p.space.kind {
        LabelKind::Regression => "regression".into(),
        _ => format!("{} labels: {}", p.space.names.len(), p.space.names.join(", ")),
    }
}

/// Multi-label: each label's threshold, precision, recall, F1 and support, and the averages.
fn print_label_table(names: &[String], rep: &ft_eval::MultilabelReport, thresholds: &ft_infer::Thresholds) {
    let w = names.iter().map(|n| n.chars().count()).max().unwrap_or(0).max("macro avg".len());
    println!("{:<w$}  {:>9}  {:>9}  {:>9}  {:>9}  {:>9}", "label", "threshold", "precision", "recall", "f1", "support");
    for (k, (name, s)) in names.iter().zip(&rep.per_label).enumerate() {
        println!(
            "{name:<w$}  {:>9}  {:>9.4}  {:>9.4}  {:>9.4}  {:>9}",
            thresholds.get(k),
            s.precision,
            s.recall,
            s.f1,
            thousands(s.support)
        );
    }
    println!();
    for (name, a) in [("micro avg", &rep.micro_avg), ("macro avg", &rep.macro_avg)] {
        println!("{name:<w$}  {:>9}  {:>9.4}  {:>9.4}  {:>9.4}", "", a.precision, a.recall, a.f1);
    }
    println!();
}

/// The per-class table with averages, the scalar scores and the confusion matrix.
fn print_tables(names: &[String], rep: &ClassificationReport, log_loss: Option<f64>, auc: Option<f64>) {
    let w = names.iter().map(|n| n.chars().count()).max().unwrap_or(0).max("weighted avg".len());
    println!("{:<w$}  {:>9}  {:>9}  {:>9}  {:>9}", "class", "precision", "recall", "f1", "support");
    for (name, s) in names.iter().zip(&rep.per_class) {
        println!("{name:<w$}  {:>9.4}  {:>9.4}  {:>9.4}  {:>9}", s.precision, s.recall, s.f1, thousands(s.support));
    }
    println!();
    for (name, a) in [("macro avg", &rep.macro_avg), ("micro avg", &rep.micro_avg), ("weighted avg", &rep.weighted_avg)]
    {
        println!(
            "{name:<w$}  {:>9.4}  {:>9.4}  {:>9.4}  {:>9}",
            a.precision,
            a.recall,
            a.f1,
            thousands(rep.num_samples)
        );
    }
    println!();
    let correct: usize = (0..rep.confusion.len()).map(|i| rep.confusion[i][i]).sum();
    println!("accuracy   {:.4} ({} of {})", rep.accuracy, thousands(correct), thousands(rep.num_samples));
    println!("mcc        {:.4}", rep.mcc);
    let or_na = |v: Option<f64>| v.map(|v| format!("{v:.4}")).unwrap_or("n/a (a class has no example)".into());
    println!("log-loss   {}", or_na(log_loss));
    println!("roc-auc    {}", or_na(auc));
    println!();
    println!("confusion matrix (rows: true class, columns: predicted)");
    let cw = names
        .iter()
        .map(|n| n.chars().count())
        .chain(rep.confusion.iter().flatten().map(|c| thousands(*c).len()))
        .max()
        .unwrap_or(1);
    let lw = names.iter().map(|n| n.chars().count()).max().unwrap_or(0);
    print!("{:<lw$}", "");
    for n in names {
        print!("  {n:>cw$}");
    }
    println!();
    for (n, row) in names.iter().zip(&rep.confusion) {
        print!("{n:<lw$}");
        for c in row {
            print!("  {:>cw$}", thousands(*c));
        }
        println!();
    }
}
