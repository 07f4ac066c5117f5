//! `ft explain`: which words drove a model's output — Integrated Gradients (default), gradient ×
//! input or attention rollout (ft-infer's `Explainer`, `TokenExplainer`, `QaExplainer`): a sequence
//! classifier's class, each entity a token classifier finds, a QA model's answer start and end — for
//! texts given as arguments, read from stdin (`-`) or a data file (`--question` / `--context` for QA). Each text is shown on the terminal with its words coloured by the
//! sign and size of their attribution (plain `word(+0.31)` when stdout is not a terminal), or written as
//! JSON lines (`--json`) and as a self-contained HTML page (`--html FILE`).

use super::Served;
use crate::report::html::escape;
use anyhow::{Context, bail};
use ft_data::{Columns, TextReader};
use ft_infer::{Explainer, Explanation, Method, QaExplainer, Rule, TokenExplainer};
use ft_train::run_config::RunConfig;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

/// Arguments of `ft explain`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Model directory (an `ft train` output, or any HF sequence-classification checkpoint).
    #[arg(long)]
    model: String,
    /// An adapter directory to put on --model first (as `ft predict --adapter`).
    #[arg(long, value_name = "DIR")]
    adapter: Option<PathBuf>,
    /// Texts to explain; `-` reads one text per line from stdin (blank lines are skipped).
    #[arg(conflicts_with = "data")]
    texts: Vec<String>,
    /// The second text of a sentence pair, for every text given as an argument.
    #[arg(long, conflicts_with = "data")]
    text_pair: Option<String>,
    /// A data file (CSV, TSV or JSONL with a header) whose texts are explained.
    #[arg(long)]
    data: Option<PathBuf>,
    /// Text column of --data [default: sentence, then text].
    #[arg(long)]
    text_column: Option<String>,
    /// Second text column of --data, for sentence-pair models.
    #[arg(long)]
    text_pair_column: Option<String>,
    /// The class to explain [default: the predicted one].
    #[arg(long, value_name = "LABEL")]
    target: Option<String>,
    /// ig (Integrated Gradients), grad-x-input, or rollout (attention rollout; forward only).
    #[arg(long, default_value = "ig")]
    method: String,
    /// Integrated Gradients: interpolation steps between the baseline and the text.
    #[arg(long, default_value_t = 50)]
    steps: usize,
    /// Integrated Gradients: gauss-legendre or riemann-trapezoid (Captum's two rules).
    #[arg(long, default_value = "gauss-legendre")]
    rule: String,
    /// Integrated Gradients: steps run at once.
    #[arg(long, default_value_t = 16)]
    batch_size: usize,
    /// Tokens per text, special tokens included [default: the run's max_len (run.toml), else 128].
    #[arg(long)]
    max_len: Option<usize>,
    /// Print one JSON object per text (tokens, words with character offsets, attributions, target,
    /// probability, completeness gap) instead of the highlighted text.
    #[arg(long)]
    json: bool,
    /// Also write the explanations as a self-contained HTML page (no scripts).
    #[arg(long, value_name = "FILE")]
    html: Option<PathBuf>,
    /// Token-classification models: entity types left out (`--ignore-labels ""` keeps every group).
    #[arg(long, value_delimiter = ',', default_value = "O")]
    ignore_labels: Vec<String>,
    /// Question-answering models: the question (with --context).
    #[arg(long, requires = "context", conflicts_with_all = ["data", "texts"])]
    question: Option<String>,
    /// Question-answering models: the text the answer is cut from.
    #[arg(long, requires = "question")]
    context: Option<String>,
    /// Question-answering models: context tokens shared by consecutive windows [default: the run's
    /// doc_stride, else 128, at most a quarter of --max-len].
    #[arg(long)]
    doc_stride: Option<usize>,
    /// Question-answering models: the longest answer, in tokens.
    #[arg(long, default_value_t = ft_infer::qa::DEFAULT_MAX_ANSWER_LENGTH)]
    max_answer_length: usize,
    /// Where to run: cpu, flex, ndarray, wgpu, wgpu:N, auto.
    #[arg(long, default_value = "cpu")]
    device: String,
    /// Longest line (row) accepted from stdin or --data, in bytes.
    #[arg(long, default_value_t = ft_data::DEFAULT_MAX_ROW_BYTES)]
    max_row_bytes: usize,
}

fn method(args: &Args) -> anyhow::Result<Method> {
    Ok(match args.method.as_str() {
        "ig" | "integrated-gradients" => {
            let rule = match args.rule.as_str() {
                "gauss-legendre" => Rule::GaussLegendre,
                "riemann-trapezoid" => Rule::RiemannTrapezoid,
                other => bail!("--rule {other}: use gauss-legendre or riemann-trapezoid"),
            };
            if args.steps == 0 || (rule == Rule::RiemannTrapezoid && args.steps < 2) {
                bail!(
                    "--steps {}: give at least {} steps",
                    args.steps,
                    if rule == Rule::GaussLegendre { 1 } else { 2 }
                );
            }
            Method::IntegratedGradients { steps: args.steps, rule }
        }
        "grad-x-input" => Method::GradXInput,
        "rollout" => Method::Rollout,
        other => bail!("--method {other}: use ig, grad-x-input or rollout"),
    })
}

pub fn run(mut args: Args) -> anyhow::Result<()> {
    let method = method(&args)?;
    if args.batch_size == 0 {
        bail!("--batch-size 0: run at least one step at a time");
    }
    let (model, _merged) = super::convert::with_adapter(&args.model, args.adapter.as_deref(), &args.device)?;
    args.model = model;
    let task = super::predict::task_of(&args.model)?;
    if let Some(html) = &args.html
        && html.is_dir()
    {
        bail!("--html {}: is a directory; name a file (explanations.html)", html.display());
    }
    let question = match (task, &args.question, &args.context) {
        (ft_model::Task::QuestionAnswering, Some(q), Some(c)) => {
            if ft_data::is_blank(q) || ft_data::is_blank(c) {
                bail!("--question and --context need some text");
            }
            Some((q.clone(), c.clone()))
        }
        (ft_model::Task::QuestionAnswering, _, _) => {
            bail!("{} is a question-answering model: give --question and --context", args.model)
        }
        (task, Some(_), _) => {
            bail!("--question/--context: {} is a {task} model, not a question-answering one", args.model)
        }
        _ => None,
    };
    if question.is_none() {
        match (&args.data, args.texts.as_slice()) {
            (None, []) => bail!("nothing to explain: give texts, `-` to read lines from stdin, or --data FILE"),
            (Some(path), _) if !path.is_file() => bail!("{}: no such file (--data)", path.display()),
            _ => {}
        }
        if let Some(i) = args.texts.iter().position(|t| t != "-" && ft_data::is_blank(t)) {
            bail!("text {} is empty (or only whitespace); give it some text", i + 1);
        }
    }
    if args.target.is_some() && task != ft_model::Task::SequenceClassification {
        bail!(
            "--target: a {task} model explains what it predicted (each entity, or the answer's start and end); leave --target out"
        );
    }
    let model = match task {
        ft_model::Task::SequenceClassification => {
            Model::Sequence(super::serve(&args.model, &args.device, args.max_len, Explainer::load)?)
        }
        ft_model::Task::TokenClassification => {
            Model::Tokens(super::serve(&args.model, &args.device, args.max_len, TokenExplainer::load)?)
        }
        ft_model::Task::QuestionAnswering => {
            let mut served = super::serve(&args.model, &args.device, args.max_len, QaExplainer::load)?;
            let stride = args.doc_stride.or(served.run.as_ref().map(|r| r.data.doc_stride));
            if let Some(stride) = stride {
                let p = served.inner.predictor_mut();
                p.stride = stride.min(p.max_len / 4);
            }
            Model::Qa(served)
        }
    };
    let rows = match &question {
        Some((q, c)) => vec![(q.clone(), Some(c.clone()))],
        None => read_rows(&args, model.run())?,
    };
    let color = !args.json && std::io::stdout().is_terminal();
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut all = Vec::new();
    for (i, (text, pair)) in rows.iter().enumerate() {
        let explanations = model
            .explain(text, pair.as_deref(), &args, method)
            .with_context(|| format!("explaining text {}", i + 1))?;
        if explanations.is_empty() {
            log::warn!("text {}: no entity predicted, nothing to explain", i + 1);
        }
        for e in explanations {
            if e.gap_too_large() {
                log::warn!(
                    "text {} ({}): the completeness gap {:.2e} is {:.1}% of |F(x) − F(baseline)| = {:.2e}; raise --steps (e.g. --steps {})",
                    i + 1,
                    e.target,
                    e.completeness_gap.unwrap_or_default(),
                    100.0 * e.completeness_gap.unwrap_or_default()
                        / (e.score - e.baseline_score.unwrap_or_default()).abs(),
                    (e.score - e.baseline_score.unwrap_or_default()).abs(),
                    args.steps * 4
                );
            }
            let line = if args.json { json_line(&e, text, pair.as_deref())? } else { terminal(&e, method, color) };
            if let Err(err) = writeln!(out, "{line}").and_then(|_| out.flush()) {
                if err.kind() == std::io::ErrorKind::BrokenPipe {
                    return Ok(());
                }
                return Err(err).context("writing to stdout");
            }
            if args.html.is_some() {
                all.push((text.clone(), pair.clone(), e));
            }
        }
    }
    if let Some(path) = &args.html {
        ft_train::atomic::write_atomically(path, html(&all, method, &model.dir()).as_bytes())
            .with_context(|| format!("writing {}", path.display()))?;
        eprintln!("wrote      {}", path.display());
    }
    Ok(())
}

/// The model explained, by its head.
enum Model {
    Sequence(Served<Explainer>),
    Tokens(Served<TokenExplainer>),
    Qa(Served<QaExplainer>),
}

impl Model {
    fn run(&self) -> Option<&RunConfig> {
        match self {
            Self::Sequence(m) => m.run.as_ref(),
            Self::Tokens(m) => m.run.as_ref(),
            Self::Qa(m) => m.run.as_ref(),
        }
    }

    fn dir(&self) -> PathBuf {
        match self {
            Self::Sequence(m) => m.predictor().dir.clone(),
            Self::Tokens(m) => m.predictor().dir.clone(),
            Self::Qa(m) => m.predictor().dir.clone(),
        }
    }

    /// The explanations of one input: one for a sequence classifier, one per entity, or the answer's
    /// start and end (`text` the question, `pair` the context).
    fn explain(&self, text: &str, pair: Option<&str>, args: &Args, method: Method) -> anyhow::Result<Vec<Explanation>> {
        Ok(match self {
            Self::Sequence(m) => vec![m.explain(text, pair, args.target.as_deref(), method, args.batch_size)?],
            Self::Tokens(m) => {
                if pair.is_some() {
                    bail!("a token-classification model reads one text, not a sentence pair");
                }
                m.explain(text, &args.ignore_labels, method, args.batch_size)?
            }
            Self::Qa(m) => {
                let context = pair.unwrap_or_default();
                let (answer, explanations) =
                    m.explain(text, context, args.max_answer_length, method, args.batch_size)?;
                eprintln!("answer     {:?} (probability {:.3} among the candidates)", answer.text, answer.probability);
                explanations
            }
        })
    }
}

/// The texts: arguments (each with --text-pair), stdin lines, or the rows of --data.
fn read_rows(args: &Args, run: Option<&RunConfig>) -> anyhow::Result<Vec<(String, Option<String>)>> {
    match (&args.data, args.texts.as_slice()) {
        (Some(path), _) => {
            let d = run.map(|r| &r.data);
            let columns = Columns {
                text: args.text_column.clone().or_else(|| d.and_then(|d| d.text_column.clone())),
                text_pair: args.text_pair_column.clone().or_else(|| d.and_then(|d| d.text_pair_column.clone())),
                label: "label".into(),
            };
            let reader = TextReader::open_with_limit(path, None, &columns, args.max_row_bytes)
                .with_context(|| format!("reading {}", path.display()))?;
            let mut rows = Vec::new();
            for row in reader {
                let row = row.with_context(|| format!("reading {}", path.display()))?;
                rows.push((row.text, row.pair));
            }
            Ok(rows)
        }
        (None, [dash]) if dash == "-" => {
            let lines = ft_data::TextLines::new(Path::new("<stdin>"), std::io::stdin().lock(), args.max_row_bytes);
            let mut rows = Vec::new();
            for line in lines {
                let line = line?;
                if !ft_data::is_blank(&line.text) {
                    rows.push((line.text, args.text_pair.clone()));
                }
            }
            Ok(rows)
        }
        (None, texts) => Ok(texts.iter().map(|t| (t.clone(), args.text_pair.clone())).collect()),
    }
}

/// What the header line says about the method.
fn method_note(e: &Explanation, method: Method) -> String {
    match method {
        Method::IntegratedGradients { steps, rule } => format!(
            "integrated gradients, {steps} steps ({}), completeness gap {:.1e}",
            rule.name(),
            e.completeness_gap.unwrap_or_default()
        ),
        Method::GradXInput => "gradient × input".into(),
        Method::Rollout => "attention rollout from [CLS]".into(),
    }
}

/// The text(s) with each word's attribution: ANSI colours (green for, red against the target; brighter
/// for larger) on a terminal, `word(+0.031)` otherwise.
fn terminal(e: &Explanation, method: Method, color: bool) -> String {
    let scale = e.words.iter().fold(0f64, |m, w| m.max(w.score.abs())).max(f64::MIN_POSITIVE);
    let mut line = format!("{} {:.3}  [{}]\n", e.target, e.score, method_note(e, method));
    let mut sequence = 0;
    for w in &e.words {
        if w.sequence != sequence {
            line.push_str(" ||");
            sequence = w.sequence;
        }
        if color {
            let level = (w.score.abs() / scale * 4.0).ceil().clamp(1.0, 4.0) as usize;
            let code = match (w.score >= 0.0, level) {
                (true, 1) => "32",
                (true, 2) => "1;32",
                (true, _) => "1;37;42",
                (false, 1) => "31",
                (false, 2) => "1;31",
                (false, _) => "1;37;41",
            };
            line.push_str(&format!(" \x1b[{code}m{}\x1b[0m", w.text));
        } else {
            line.push_str(&format!(" {}({:+.3})", w.text, w.score));
        }
    }
    line
}

fn json_line(e: &Explanation, text: &str, pair: Option<&str>) -> anyhow::Result<String> {
    let mut v = serde_json::to_value(e)?;
    v["text"] = text.into();
    if let Some(p) = pair {
        v["text_pair"] = p.into();
    }
    Ok(serde_json::to_string(&v)?)
}

/// A self-contained page: each text with its words' backgrounds green (for) or red (against) in
/// proportion to their attribution, the score on hover.
fn html(all: &[(String, Option<String>, Explanation)], method: Method, model: &Path) -> String {
    let mut body = String::new();
    for (text, pair, e) in all {
        let scale = e.words.iter().fold(0f64, |m, w| m.max(w.score.abs())).max(f64::MIN_POSITIVE);
        body.push_str(&format!(
            "<section><h2>{} <span class=\"p\">{:.3}</span></h2><p class=\"m\">{}; largest |attribution| {:.3}</p>",
            escape(&e.target),
            e.score,
            escape(&method_note(e, method)),
            scale
        ));
        for (seq, source) in [(0u8, Some(text.as_str())), (1, pair.as_deref())] {
            let Some(source) = source else { continue };
            let chars: Vec<char> = source.chars().collect();
            let mut at = 0;
            body.push_str("<p class=\"t\">");
            for w in e.words.iter().filter(|w| w.sequence == seq) {
                let (start, end) = w.offsets;
                body.push_str(&escape(&chars[at.min(chars.len())..start.min(chars.len())].iter().collect::<String>()));
                let alpha = (w.score.abs() / scale * 0.8).min(0.8);
                let rgb = if w.score >= 0.0 { "22,163,74" } else { "220,38,38" };
                body.push_str(&format!(
                    "<span style=\"background:rgba({rgb},{alpha:.3})\" title=\"{:+.4}\">{}</span>",
                    w.score,
                    escape(&chars[start.min(chars.len())..end.min(chars.len())].iter().collect::<String>())
                ));
                at = end;
            }
            body.push_str(&escape(&chars[at.min(chars.len())..].iter().collect::<String>()));
            body.push_str("</p>");
        }
        body.push_str("</section>\n");
    }
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>ft explain</title><style>\
         body{{font:16px/1.6 system-ui,sans-serif;max-width:60em;margin:2em auto;padding:0 1em;color:#111}}\
         section{{border-top:1px solid #ddd;padding:.5em 0}} h2{{font-size:1.1em;margin:.2em 0}} .p{{color:#555}}\
         .m{{color:#666;font-size:.85em;margin:0}} .t span{{border-radius:3px;padding:0 1px}}\
         </style></head><body><h1>Why the model said that</h1><p class=\"m\">{} — green words raise the score of the \
         class shown, red words lower it; the shades are relative to each text's largest attribution; hover a \
         word for its value.</p>\n{body}</body></html>\n",
        escape(&model.display().to_string())
    )
}
