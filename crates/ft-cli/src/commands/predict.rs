//! `ft predict`: a trained model's predictions as JSON lines, one per input text — from arguments, a
//! data file (`--data`, CSV / TSV / JSONL, labels not needed) or stdin (`-`, one text per line).
//!
//! Input is read, tokenized and run in chunks of `--batch-size` rows and each chunk's lines are written
//! before the next chunk is read, so a file of any length is never held in memory. The models are
//! ft-infer's `Predictor` (sequence heads) and `TokenPredictor` (entities), shared with `ft eval` and
//! `ft demo`; they run through `ft_infer::outputs`, the function training's evaluations use.

use super::Served;
use anyhow::{Context, bail};
use ft_data::{Columns, TextReader};
use ft_infer::{Prediction, Predictor, TokenPredictor};
use ft_train::run_config::RunConfig;
use serde::Serialize;
use serde::ser::SerializeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Arguments of `ft predict`.
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
    /// Texts to classify; `-` reads one text per line from stdin (blank lines are skipped).
    #[arg(conflicts_with = "data")]
    texts: Vec<String>,
    /// A data file (CSV, TSV or JSONL with a header) whose text column is classified.
    #[arg(long)]
    data: Option<PathBuf>,
    /// Keep only the K most probable classes in `probs` (most probable first).
    #[arg(long)]
    top_k: Option<usize>,
    /// Rows per batch (and per chunk read from the input).
    #[arg(long, default_value_t = 32)]
    batch_size: usize,
    /// Tokens per text, special tokens included [default: the run's max_len (run.toml), else 128].
    #[arg(long)]
    max_len: Option<usize>,
    /// Text column of --data [default: the run's, else sentence, then text].
    #[arg(long)]
    text_column: Option<String>,
    /// Second text column of --data, for sentence-pair models [default: the run's].
    #[arg(long)]
    text_pair_column: Option<String>,
    /// With --data: skip bad rows (each reported on stderr with its file:line) instead of stopping.
    #[arg(long)]
    skip_bad_rows: bool,
    /// Where to run: cpu, flex, ndarray, wgpu, wgpu:N, auto.
    #[arg(long, default_value = "cpu")]
    device: String,
    /// Longest line (row) accepted from stdin or --data, in bytes.
    #[arg(long, default_value_t = ft_data::DEFAULT_MAX_ROW_BYTES)]
    max_row_bytes: usize,
    /// Token-classification models: how the tokens of a word agree on a label — simple, first,
    /// average or max, as transformers' pipeline `aggregation_strategy`.
    #[arg(long, default_value = "first")]
    aggregation: ft_eval::Aggregation,
    /// Token-classification models: entity types left out (`--ignore-labels ""` keeps every group).
    #[arg(long, value_delimiter = ',', default_value = "O")]
    ignore_labels: Vec<String>,
    /// Question-answering models: the question (with --context), or use --data with a SQuAD file.
    #[arg(long, requires = "context", conflicts_with_all = ["data", "texts"])]
    question: Option<String>,
    /// Question-answering models: the text the answer is cut from.
    #[arg(long, requires = "question")]
    context: Option<String>,
    /// Question-answering models: context tokens shared by consecutive windows [default: the run's
    /// doc_stride (run.toml), else 128, at most a quarter of --max-len].
    #[arg(long)]
    doc_stride: Option<usize>,
    /// Question-answering models: the longest answer, in tokens.
    #[arg(long, default_value_t = ft_infer::qa::DEFAULT_MAX_ANSWER_LENGTH)]
    max_answer_length: usize,
    /// Multi-label models: predict a label when its sigmoid exceeds this probability, for every label
    /// [default: the thresholds saved with the model (config.json `ft_thresholds`), else 0.5].
    #[arg(long, value_name = "P")]
    threshold: Option<f64>,
}

/// The model `ft predict` runs: a sequence head (a prediction per text) or a token head (entities).
enum Model {
    Sequence(Served<Predictor>),
    Tokens(Served<TokenPredictor>),
}

impl Model {
    fn run(&self) -> Option<&RunConfig> {
        match self {
            Self::Sequence(p) => p.run.as_ref(),
            Self::Tokens(p) => p.run.as_ref(),
        }
    }

    /// The output lines of a chunk of inputs.
    fn lines(&self, chunk: &[(String, Option<String>)], args: &Args) -> anyhow::Result<Vec<String>> {
        match self {
            Self::Sequence(p) => {
                let predictions = p.predict(chunk, args.batch_size, args.top_k)?;
                Ok(chunk
                    .iter()
                    .zip(&predictions)
                    .map(|((text, pair), p)| prediction_json(p, text, pair.as_deref()))
                    .collect())
            }
            Self::Tokens(p) => {
                if chunk.iter().any(|(_, pair)| pair.is_some()) {
                    bail!("a token-classification model reads one text per line, not sentence pairs");
                }
                let texts: Vec<&str> = chunk.iter().map(|(t, _)| t.as_str()).collect();
                let entities = p.entities(&texts, args.aggregation, &args.ignore_labels)?;
                Ok(texts.iter().zip(&entities).map(|(t, e)| entities_json(t, e)).collect())
            }
        }
    }
}

/// `--threshold P` for a multi-label model: every label decided at `P` instead of the saved thresholds.
pub(crate) fn override_threshold(p: &mut Served<Predictor>, t: f64) -> anyhow::Result<()> {
    if p.space.kind != ft_data::LabelKind::MultiLabel {
        bail!(
            "--threshold applies to multi-label models; {} is not one (its config.json has problem_type {})",
            p.dir.display(),
            p.space.kind.problem_type()
        );
    }
    let t = ft_infer::Thresholds::check(t, "--threshold").map_err(anyhow::Error::msg)?;
    p.inner.thresholds = ft_infer::Thresholds::Uniform(t);
    Ok(())
}

/// The task a model directory was saved for (sequence classification when config.json names none).
pub(crate) fn task_of(model: &str) -> anyhow::Result<ft_model::Task> {
    let dir = ft_assets::resolve_model(model).with_context(|| format!("resolving model `{model}`"))?;
    Ok(ft_model::BertConfig::from_file(&dir.join("config.json"))
        .ok()
        .and_then(|c| ft_model::Task::of_config(&c))
        .unwrap_or(ft_model::Task::SequenceClassification))
}

/// A token model's output line: `{"text": …, "entities": [{"type", "start", "end", "text", "score"}]}`.
pub fn entities_json(text: &str, entities: &[ft_eval::EntitySpan]) -> String {
    serde_json::json!({ "text": text, "entities": entities }).to_string()
}

/// `{label: p, …}` in the given order.
struct Probs<'a>(&'a [(String, f64)]);

impl Serialize for Probs<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (name, p) in self.0 {
            map.serialize_entry(name, p)?;
        }
        map.end()
    }
}

/// One output line.
#[derive(Serialize)]
struct Line<'a> {
    text: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    text_pair: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    label: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    labels: Option<&'a [String]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    score: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    probs: Option<Probs<'a>>,
}

/// The JSON line of prediction `p` for `text` (and `pair`).
pub fn prediction_json(p: &Prediction, text: &str, pair: Option<&str>) -> String {
    {
        let mut line = Line { text, text_pair: pair, label: None, labels: None, score: None, probs: None };
        match p {
            Prediction::Class { label, score, probs } => {
                (line.label, line.score, line.probs) = (Some(label.as_str()), Some(*score), Some(Probs(probs)))
            }
            Prediction::Labels { labels, probs } => {
                (line.labels, line.probs) = (Some(labels.as_slice()), Some(Probs(probs)))
            }
            Prediction::Value { score } => line.score = Some(*score),
        }
        serde_json::to_string(&line).unwrap_or_default()
    }
}

/// Where the texts come from.
enum Source {
    Texts(std::vec::IntoIter<String>),
    Stdin(ft_data::TextLines<std::io::StdinLock<'static>>),
    File(TextReader, bool),
}

impl Source {
    /// The next row, or `None` at the end.
    fn next(&mut self) -> anyhow::Result<Option<(String, Option<String>)>> {
        match self {
            Source::Texts(it) => Ok(it.next().map(|t| (t, None))),
            Source::Stdin(lines) => loop {
                match lines.next() {
                    None => return Ok(None),
                    Some(Ok(row)) if ft_data::is_blank(&row.text) => continue,
                    Some(Ok(row)) => return Ok(Some((row.text, None))),
                    Some(Err(e)) => return Err(e.into()),
                }
            },
            Source::File(reader, skip_bad_rows) => loop {
                match reader.next() {
                    None => return Ok(None),
                    Some(Ok(row)) => return Ok(Some((row.text, row.pair))),
                    Some(Err(e)) if *skip_bad_rows && e.is_row_error() => eprintln!("skipped: {e}"),
                    Some(Err(e)) => return Err(e.into()),
                }
            },
        }
    }
}

/// `ft predict --data FILE` of tagged sentences (CoNLL columns, or JSONL `tokens`) with a token model:
/// every word with its predicted tag, `word TAG` per line and a blank line after each sentence (the
/// predictions file of transformers' run_ner); a word past `--max-len` gets `O`, and how many did is
/// said on stderr.
fn tag_conll(p: &Served<TokenPredictor>, path: &Path, args: &Args) -> anyhow::Result<()> {
    let d = p.run.as_ref().map(|r| &r.data);
    let columns = ft_data::TagColumns { token: d.and_then(|d| d.token_column).unwrap_or(0), tag: None };
    let reader = ft_data::TaggedReader::open_words(path, None, columns, args.max_row_bytes)
        .with_context(|| format!("reading {}", path.display()))?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let (mut cut, mut sentences) = (0usize, Vec::with_capacity(args.batch_size));
    let mut rows = reader.peekable();
    while rows.peek().is_some() || !sentences.is_empty() {
        match rows.next() {
            Some(Ok(row)) => sentences.push(row.words),
            Some(Err(e)) if args.skip_bad_rows && e.is_row_error() => eprintln!("skipped: {e}"),
            Some(Err(e)) => return Err(e.into()),
            None => {}
        }
        if sentences.len() < args.batch_size && rows.peek().is_some() {
            continue;
        }
        let words: Vec<Vec<&str>> = sentences.iter().map(|s| s.iter().map(String::as_str).collect()).collect();
        for (sentence, tags) in words.iter().zip(p.tag_words(&words)?) {
            for (word, tag) in sentence.iter().zip(tags) {
                cut += usize::from(tag.is_none());
                if let Err(e) = writeln!(out, "{word} {}", tag.as_deref().unwrap_or("O")) {
                    return closed_pipe_is_fine(e);
                }
            }
            if let Err(e) = writeln!(out) {
                return closed_pipe_is_fine(e);
            }
        }
        sentences.clear();
    }
    if cut > 0 {
        eprintln!("warning: {cut} words lay past --max-len {} and were written with O; raise --max-len", p.max_len);
    }
    out.flush().or_else(closed_pipe_is_fine)
}

/// `ft predict` with a question-answering model: `--question` and `--context`, or every question of
/// `--data` (SQuAD v1.1 JSON, or JSON Lines of `{"id", "context", "question"}`), one JSON line each:
/// `{"id", "question", "answer", "start", "end", "score"}` — `start`/`end` are characters of the
/// context, `score` the answer's probability among the n-best (utils_qa's softmax over start + end
/// logits).
fn run_qa(args: &Args) -> anyhow::Result<()> {
    let mut p = super::serve(&args.model, &args.device, args.max_len, ft_infer::QaPredictor::load)?;
    if let Some(stride) = args.doc_stride.or(p.run.as_ref().map(|r| r.data.doc_stride)) {
        p.inner.stride = stride;
    }
    let questions: Vec<(String, String, String)> = match (&args.question, &args.context, &args.data) {
        (Some(q), Some(c), _) => vec![(String::new(), q.clone(), c.clone())],
        (None, None, Some(path)) => read_questions(path, args)?,
        _ => bail!(
            "a question-answering model needs --question \"…\" --context \"…\", or --data FILE (SQuAD JSON or JSONL)"
        ),
    };
    if !stdout_is_open() {
        bail!("stdout is closed: the predictions would go nowhere; redirect it to a file (> predictions.jsonl)");
    }
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    for (id, question, context) in questions {
        let answers = p.answer(&question, &context, ft_infer::qa::DEFAULT_N_BEST, args.max_answer_length)?;
        let best = &answers[0];
        let line = serde_json::json!({
            "id": if id.is_empty() { serde_json::Value::Null } else { id.into() },
            "question": question,
            "answer": best.text,
            "start": best.offsets.map(|o| o.0),
            "end": best.offsets.map(|o| o.1),
            "score": best.probability,
        });
        if let Err(e) = writeln!(out, "{line}") {
            return closed_pipe_is_fine(e);
        }
    }
    out.flush().or_else(closed_pipe_is_fine)
}

/// The questions of a SQuAD JSON or JSONL file: `(id, question, context)`.
fn read_questions(path: &Path, args: &Args) -> anyhow::Result<Vec<(String, String, String)>> {
    let rows = ft_data::read_qa_file(path, args.max_row_bytes)?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        match row {
            Ok(e) => out.push((e.id, e.question, e.context)),
            Err(e) if args.skip_bad_rows && e.is_row_error() => eprintln!("skipped: {e}"),
            Err(e) => return Err(e.into()),
        }
    }
    Ok(out)
}

fn columns(args: &Args, run: Option<&RunConfig>) -> Columns {
    let d = run.map(|r| &r.data);
    Columns {
        text: args.text_column.clone().or_else(|| d.and_then(|d| d.text_column.clone())),
        text_pair: args.text_pair_column.clone().or_else(|| d.and_then(|d| d.text_pair_column.clone())),
        label: "label".into(),
    }
}

pub fn run(mut args: Args) -> anyhow::Result<()> {
    let (model, _merged) = super::convert::with_adapter(&args.model, args.adapter.as_deref(), &args.device)?;
    args.model = model;
    if args.batch_size == 0 {
        bail!("--batch-size 0: a batch needs at least one text");
    }
    if args.top_k == Some(0) {
        bail!("--top-k 0: keep at least one class");
    }
    let task = task_of(&args.model)?;
    if task == ft_model::Task::QuestionAnswering {
        return run_qa(&args);
    }
    if args.question.is_some() {
        bail!("--question/--context: {} is a {task} model, not a question-answering one", args.model);
    }
    match (&args.data, args.texts.as_slice()) {
        (None, []) => bail!("nothing to predict: give texts, `-` to read lines from stdin, or --data FILE"),
        (Some(path), _) if !path.is_file() => bail!("{}: no such file (--data)", path.display()),
        _ => {}
    }
    if let Some(i) = args.texts.iter().position(|t| t != "-" && ft_data::is_blank(t)) {
        bail!("text {} is empty (or only whitespace); give it some text — training rejects empty texts too", i + 1);
    }
    if !stdout_is_open() {
        bail!("stdout is closed: the predictions would go nowhere; redirect it to a file (> predictions.jsonl)");
    }
    let model = match task {
        ft_model::Task::SequenceClassification => {
            let mut p = super::serve(&args.model, &args.device, args.max_len, Predictor::load)?;
            if let Some(t) = args.threshold {
                override_threshold(&mut p, t)?;
            }
            Model::Sequence(p)
        }
        ft_model::Task::TokenClassification => {
            Model::Tokens(super::serve(&args.model, &args.device, args.max_len, TokenPredictor::load)?)
        }
        ft_model::Task::QuestionAnswering => unreachable!("answered by run_qa above"),
    };
    if let (Model::Tokens(p), Some(path)) = (&model, &args.data)
        && ft_data::is_tagged_file(path, None, args.max_row_bytes)?
    {
        return tag_conll(p, path, &args);
    }
    let mut source = match (&args.data, args.texts.as_slice()) {
        (Some(path), _) => Source::File(
            TextReader::open_with_limit(path, None, &columns(&args, model.run()), args.max_row_bytes)
                .with_context(|| format!("reading {}", path.display()))?,
            args.skip_bad_rows,
        ),
        (None, [dash]) if dash == "-" => {
            Source::Stdin(ft_data::TextLines::new(Path::new("<stdin>"), std::io::stdin().lock(), args.max_row_bytes))
        }
        (None, _) => Source::Texts(args.texts.clone().into_iter()),
    };
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut chunk: Vec<(String, Option<String>)> = Vec::with_capacity(args.batch_size);
    loop {
        let row = source.next()?;
        let end = row.is_none();
        chunk.extend(row);
        if chunk.len() == args.batch_size || (end && !chunk.is_empty()) {
            for line in model.lines(&chunk, &args)? {
                if let Err(e) = writeln!(out, "{line}") {
                    return closed_pipe_is_fine(e);
                }
            }
            if let Err(e) = out.flush() {
                return closed_pipe_is_fine(e);
            }
            chunk.clear();
        }
        if end {
            return Ok(());
        }
    }
}

/// Whether stdout was open when ft started. Rust's runtime reopens a closed descriptor 1 on
/// `/dev/null` read-write before `main` (`ft predict … >&-`), so the predictions would vanish and ft
/// exit 0; a shell's own `> /dev/null` opens it write-only, which is left alone.
fn stdout_is_open() -> bool {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: F_GETFL only queries the descriptor's status flags; it reads no memory of ours.
        let flags = unsafe { libc::fcntl(1, libc::F_GETFL) };
        if flags == -1 {
            return false;
        }
        let read_write = flags & libc::O_ACCMODE == libc::O_RDWR;
        let dev_null = std::fs::read_link("/proc/self/fd/1").is_ok_and(|p| p == Path::new("/dev/null"));
        !(read_write && dev_null)
    }
    #[cfg(not(target_os = "linux"))]
    true
}

/// Output into a closed pipe (`ft predict … | head`) ends the command quietly.
fn closed_pipe_is_fine(e: std::io::Error) -> anyhow::Result<()> {
    if e.kind() == std::io::ErrorKind::BrokenPipe { Ok(()) } else { Err(e).context("writing predictions to stdout") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probs_keep_their_order_in_json() {
        let p = Prediction::Class {
            label: "pos".into(),
            score: 0.75,
            probs: vec![("pos".into(), 0.75), ("neg".into(), 0.25)],
        };
        assert_eq!(
            prediction_json(&p, "good \"film\"", None),
            r#"{"text":"good \"film\"","label":"pos","score":0.75,"probs":{"pos":0.75,"neg":0.25}}"#
        );
        let p = Prediction::Labels { labels: vec!["a".into()], probs: vec![("a".into(), 0.5)] };
        assert_eq!(
            prediction_json(&p, "t", Some("u")),
            r#"{"text":"t","text_pair":"u","labels":["a"],"probs":{"a":0.5}}"#
        );
        assert_eq!(prediction_json(&Prediction::Value { score: 2.5 }, "t", None), r#"{"text":"t","score":2.5}"#);
    }
}
