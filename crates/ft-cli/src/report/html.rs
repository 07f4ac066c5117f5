//! The page: a header with the run's facts, the final metrics, the training curves, validation metrics
//! over steps, the class-level charts and table, and the configuration. Inline CSS, inline SVG, no
//! script, no external resource (`<link rel="icon" href="data:,">` stops even the favicon request).

use super::Report;
use super::plots::{self, Mark, PALETTE, Series};
use plotters::chart::SeriesLabelPosition;
use std::fmt::Write;

/// Training-loss points drawn at most (the smoothed curve is computed on all of them first).
const MAX_POINTS: usize = 1500;
/// Metrics that are losses (lower is better, unbounded): drawn on the loss chart, not the score chart.
const LOSSES: [&str; 5] = ["loss", "log_loss", "mse", "mae", "hamming_loss"];
/// Metrics shown first, in this order; the rest follow by name.
const ORDER: [&str; 9] =
    ["accuracy", "exact_match", "macro_f1", "weighted_f1", "micro_f1", "mcc", "roc_auc", "log_loss", "loss"];

const STYLE: &str = "
body { font-family: system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif; margin: 0; background: #f5f6f8; color: #222; }
header { background: #1f3b57; color: #fff; padding: 18px 32px; }
header h1 { margin: 0 0 6px 0; font-size: 24px; font-weight: 600; }
header .facts span { margin-right: 22px; font-size: 14px; opacity: 0.9; }
header .facts b { font-weight: 600; }
main { padding: 12px 32px 32px 32px; }
section { background: #fff; border-radius: 8px; box-shadow: 0 1px 3px rgba(0,0,0,0.12); margin: 16px 0; padding: 14px 20px; }
h2 { font-size: 18px; margin: 4px 0 12px 0; font-weight: 600; }
.grid { display: flex; flex-wrap: wrap; gap: 16px; align-items: flex-start; }
.grid > div { flex: 1 1 460px; }
svg { max-width: 100%; height: auto; }
table { border-collapse: collapse; font-size: 14px; }
th, td { padding: 5px 12px; text-align: right; border-bottom: 1px solid #e4e4e4; }
th:first-child, td:first-child { text-align: left; }
thead th { border-bottom: 2px solid #bbb; }
tr.avg td { color: #555; }
.big { font-size: 28px; font-weight: 600; color: #1f77b4; }
.note { color: #666; font-size: 14px; }
.ex { line-height: 1.9; margin: 10px 0; } .ex .w { border-radius: 3px; padding: 0 2px; }
.ok { color: #15803d; } .bad { color: #b91c1c; }
pre { background: #f7f7f7; padding: 10px 14px; border-radius: 6px; font-size: 13px; overflow-x: auto; }
footer { color: #888; font-size: 12px; padding: 0 32px 20px 32px; }
";

/// `s` with `& < > "` escaped for HTML text and attributes.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            _ => out.push(c),
        }
    }
    out
}

/// Metric names in display order.
fn ordered<'a>(names: impl IntoIterator<Item = &'a String>) -> Vec<String> {
    let mut names: Vec<String> = names.into_iter().cloned().collect();
    names.sort();
    names.dedup();
    names.sort_by_key(|n| ORDER.iter().position(|o| o == n).unwrap_or(ORDER.len()));
    names
}

/// Debiased exponential moving average (TensorBoard's smoothing) with weight `w`.
fn smooth(points: &[(f64, f64)], w: f64) -> Vec<(f64, f64)> {
    let (mut s, mut debias) = (0.0, 1.0);
    points
        .iter()
        .map(|&(x, y)| {
            s = w * s + (1.0 - w) * y;
            debias *= w;
            (x, s / (1.0 - debias))
        })
        .collect()
}

/// At most `max` of `points`, evenly spaced, the last one kept.
fn thin(points: Vec<(f64, f64)>, max: usize) -> Vec<(f64, f64)> {
    if points.len() <= max {
        return points;
    }
    let k = points.len().div_ceil(max);
    let last = points.last().copied();
    let mut out: Vec<(f64, f64)> = points.into_iter().step_by(k).collect();
    if out.last().copied() != last
        && let Some(p) = last
    {
        out.push(p);
    }
    out
}

fn training(r: &Report, out: &mut String) -> anyhow::Result<()> {
    out.push_str("<section><h2>Training</h2>");
    if r.train.is_empty() {
        out.push_str("<p class=\"note\">No training log (no <code>log.jsonl</code> next to this model).</p></section>");
        return Ok(());
    }
    let loss: Vec<(f64, f64)> = r.train.iter().map(|p| (p.step, p.loss)).collect();
    let mut series = Vec::new();
    if loss.len() > 20 {
        let smoothed = smooth(&loss, 0.9);
        series.push(Series {
            name: "train (raw)".into(),
            points: thin(loss, MAX_POINTS),
            color: PALETTE[0],
            mark: Mark::Faint,
        });
        series.push(Series {
            name: "train (smoothed)".into(),
            points: thin(smoothed, MAX_POINTS),
            color: PALETTE[0],
            mark: Mark::Line,
        });
    } else {
        series.push(Series { name: "train".into(), points: loss, color: PALETTE[0], mark: Mark::LineDots });
    }
    let val_loss: Vec<(f64, f64)> = r
        .evals
        .iter()
        .filter(|e| e.split == "validation")
        .filter_map(|e| e.metrics.get("loss").map(|&v| (e.step, v)))
        .collect();
    if !val_loss.is_empty() {
        series.push(Series { name: "validation".into(), points: val_loss, color: PALETTE[1], mark: Mark::LineDots });
    }
    let lr: Vec<(f64, f64)> = thin(r.train.iter().map(|p| (p.step, p.lr)).collect(), MAX_POINTS);
    let lr = [Series { name: "learning rate".into(), points: lr, color: PALETTE[2], mark: Mark::Line }];
    write!(
        out,
        "<div class=\"grid\"><div>{}</div><div>{}</div></div></section>",
        plots::line_chart("loss", "loss", &series, None, SeriesLabelPosition::UpperRight, (620, 380))?,
        plots::line_chart("learning rate", "lr", &lr, None, SeriesLabelPosition::UpperRight, (620, 380))?
    )?;
    Ok(())
}

fn validation(r: &Report, out: &mut String) -> anyhow::Result<()> {
    let evals: Vec<_> = r.evals.iter().filter(|e| e.split == "validation").collect();
    if evals.is_empty() {
        return Ok(());
    }
    let names = ordered(evals.iter().flat_map(|e| e.metrics.keys()));
    let series: Vec<Series> = names
        .iter()
        .filter(|n| !LOSSES.contains(&n.as_str()))
        .enumerate()
        .map(|(i, name)| Series {
            name: name.clone(),
            points: evals.iter().filter_map(|e| e.metrics.get(name).map(|&v| (e.step, v))).collect(),
            color: PALETTE[i % PALETTE.len()],
            mark: Mark::LineDots,
        })
        .collect();
    if series.is_empty() {
        return Ok(());
    }
    let lo = series.iter().flat_map(|s| &s.points).map(|p| p.1).fold(0.0f64, f64::min);
    let hi = series.iter().flat_map(|s| &s.points).map(|p| p.1).fold(1.0f64, f64::max);
    write!(
        out,
        "<section><h2>Validation metrics over steps</h2>{}</section>",
        plots::line_chart(
            "validation",
            "score",
            &series,
            Some((lo.min(0.0), hi.max(1.0) + 0.02)),
            SeriesLabelPosition::LowerRight,
            (1000, 400)
        )?
    )?;
    Ok(())
}

fn results(r: &Report, out: &mut String) -> anyhow::Result<()> {
    if r.results.is_empty() {
        return Ok(());
    }
    out.push_str("<section><h2>Results</h2>");
    let main = r.results.iter().rev().find_map(|(split, m)| m.get("accuracy").map(|a| (split, a)));
    if let Some((split, acc)) = main {
        write!(out, "<p><span class=\"big\">{:.2}%</span> accuracy on {}</p>", acc * 100.0, escape(split))?;
    } else if let Some((split, em, f1)) =
        r.results.iter().rev().find_map(|(split, m)| Some((split, m.get("exact_match")?, m.get("f1")?)))
    {
        // Question answering: SQuAD's scores, already 0–100.
        write!(
            out,
            "<p><span class=\"big\">{em:.2}</span> exact match · <span class=\"big\">{f1:.2}</span> F1 on {}</p>",
            escape(split)
        )?;
    }
    out.push_str("<table><thead><tr><th>metric</th>");
    for (split, _) in &r.results {
        write!(out, "<th>{}</th>", escape(split))?;
    }
    out.push_str("</tr></thead><tbody>");
    for name in ordered(r.results.iter().flat_map(|(_, m)| m.keys())) {
        write!(out, "<tr><td>{}</td>", escape(&name))?;
        for (_, m) in &r.results {
            match m.get(&name) {
                Some(v) => write!(out, "<td>{v:.4}</td>")?,
                None => out.push_str("<td></td>"),
            }
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table></section>");
    Ok(())
}

fn classes(r: &Report, out: &mut String) -> anyhow::Result<()> {
    let Some(c) = &r.classes else { return Ok(()) };
    let rep = &c.report;
    let scores: Vec<(f64, f64, f64)> = rep.per_class.iter().map(|s| (s.precision, s.recall, s.f1)).collect();
    write!(
        out,
        "<section><h2>Classes ({}, {} examples)</h2><div class=\"grid\"><div>{}</div><div>{}</div></div>",
        escape(&c.split),
        rep.num_samples,
        plots::heat_map(&c.labels, &rep.confusion)?,
        plots::class_bars(&c.labels, &scores)?
    )?;
    out.push_str("<table><thead><tr><th>class</th><th>precision</th><th>recall</th><th>F1</th><th>support</th></tr></thead><tbody>");
    for (name, s) in c.labels.iter().zip(&rep.per_class) {
        write!(
            out,
            "<tr><td>{}</td><td>{:.4}</td><td>{:.4}</td><td>{:.4}</td><td>{}</td></tr>",
            escape(name),
            s.precision,
            s.recall,
            s.f1,
            s.support
        )?;
    }
    for (name, a) in [("macro avg", &rep.macro_avg), ("micro avg", &rep.micro_avg), ("weighted avg", &rep.weighted_avg)]
    {
        write!(
            out,
            "<tr class=\"avg\"><td>{name}</td><td>{:.4}</td><td>{:.4}</td><td>{:.4}</td><td>{}</td></tr>",
            a.precision, a.recall, a.f1, rep.num_samples
        )?;
    }
    write!(out, "</tbody></table><p class=\"note\">accuracy {:.4} · MCC {:.4}</p></section>", rep.accuracy, rep.mcc)?;
    Ok(())
}

/// A few validation examples with their words highlighted by attribution to the predicted class
/// (green for, red against, shades relative to the example's largest), right ones first.
fn explanations(r: &Report, out: &mut String) -> anyhow::Result<()> {
    if r.explanations.is_empty() {
        return Ok(());
    }
    out.push_str(
        "<section><h2>Why the model said that (validation examples)</h2><p class=\"note\">Integrated \
         Gradients (50 steps) of the predicted class's probability on the word embeddings, as <code>ft \
         explain</code>: green words raised it, red words lowered it; shades are relative to each example's \
         largest attribution; hover a word for its value. The most confident right and wrong predictions.</p>",
    );
    for e in &r.explanations {
        let right = e.gold == e.predicted;
        write!(
            out,
            "<p class=\"ex\"><b class=\"{}\">{}</b> predicted <b>{}</b> ({:.3}), true <b>{}</b><br>",
            if right { "ok" } else { "bad" },
            if right { "right" } else { "wrong" },
            escape(&e.predicted),
            e.probability,
            escape(&e.gold)
        )?;
        let scale = e.words.iter().fold(0f64, |m, (_, s)| m.max(s.abs())).max(f64::MIN_POSITIVE);
        for (word, score) in &e.words {
            let alpha = (score.abs() / scale * 0.8).min(0.8);
            let rgb = if *score >= 0.0 { "22,163,74" } else { "220,38,38" };
            write!(
                out,
                "<span class=\"w\" style=\"background:rgba({rgb},{alpha:.3})\" title=\"{score:+.4}\">{}</span> ",
                escape(word)
            )?;
        }
        out.push_str("</p>");
    }
    out.push_str("</section>");
    Ok(())
}

fn entities(r: &Report, out: &mut String) -> anyhow::Result<()> {
    let Some(e) = &r.entities else { return Ok(()) };
    let rep = &e.report;
    let types: Vec<String> = rep.per_type.keys().cloned().collect();
    let scores: Vec<(f64, f64, f64)> = rep.per_type.values().map(|s| (s.precision, s.recall, s.f1)).collect();
    write!(
        out,
        "<section><h2>Entities ({}, {} sentences)</h2><div class=\"grid\"><div>{}</div><div>{}</div></div>\
         <p class=\"note\">Rows: the true type of each entity; columns: the type predicted for exactly its \
         words (O: no entity there). Row O: predicted entities that are none.</p>",
        escape(&e.split),
        rep.num_sentences,
        plots::heat_map(&e.confusion.types, &e.confusion.counts)?,
        plots::class_bars(&types, &scores)?
    )?;
    out.push_str("<table><thead><tr><th>type</th><th>precision</th><th>recall</th><th>F1</th><th>support</th></tr></thead><tbody>");
    for (name, s) in &rep.per_type {
        write!(
            out,
            "<tr><td>{}</td><td>{:.4}</td><td>{:.4}</td><td>{:.4}</td><td>{}</td></tr>",
            escape(name),
            s.precision,
            s.recall,
            s.f1,
            s.support
        )?;
    }
    let support: usize = rep.per_type.values().map(|s| s.support).sum();
    for (name, a) in [("micro avg", &rep.micro_avg), ("macro avg", &rep.macro_avg), ("weighted avg", &rep.weighted_avg)]
    {
        write!(
            out,
            "<tr class=\"avg\"><td>{name}</td><td>{:.4}</td><td>{:.4}</td><td>{:.4}</td><td>{support}</td></tr>",
            a.precision, a.recall, a.f1
        )?;
    }
    write!(
        out,
        "</tbody></table><p class=\"note\">entity-level scores as seqeval (micro avg = run_ner.py's overall) · token accuracy {:.4} over {} labelled tokens</p></section>",
        rep.token_accuracy, rep.num_tokens
    )?;
    Ok(())
}

/// The whole page.
pub fn page(r: &Report) -> anyhow::Result<String> {
    let mut out = String::with_capacity(64 * 1024);
    write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title>\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <link rel=\"icon\" href=\"data:,\"><style>{STYLE}</style></head><body>\n<header><h1>{}</h1><div class=\"facts\">",
        escape(&r.title),
        escape(&r.title)
    )?;
    for (what, value) in &r.facts {
        write!(out, "<span>{} <b>{}</b></span>", escape(what), escape(value))?;
    }
    out.push_str("</div></header><main>\n");
    results(r, &mut out)?;
    training(r, &mut out)?;
    validation(r, &mut out)?;
    classes(r, &mut out)?;
    entities(r, &mut out)?;
    explanations(r, &mut out)?;
    if let Some(config) = &r.config {
        write!(out, "<section><h2>Configuration (run.toml)</h2><pre>{}</pre></section>", escape(config))?;
    }
    writeln!(out, "</main><footer>written by ft {}</footer></body></html>", env!("CARGO_PKG_VERSION"))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{ClassResults, Metrics, TrainPoint};

    #[test]
    fn smoothing_is_debiased_and_thinning_keeps_the_last_point() {
        let s = smooth(&[(1.0, 2.0), (2.0, 2.0), (3.0, 2.0)], 0.9);
        assert!(s.iter().all(|p| (p.1 - 2.0).abs() < 1e-12), "{s:?}");
        let t = thin((0..10).map(|i| (i as f64, 0.0)).collect(), 4);
        assert_eq!(t.iter().map(|p| p.0).collect::<Vec<_>>(), [0.0, 3.0, 6.0, 9.0]);
    }

    #[test]
    fn page_is_self_contained_and_escaped() {
        let labels = vec!["<neg>".to_string(), "pos".to_string()];
        let report = ft_eval::ClassificationReport::compute(&[0, 0, 1, 1], &[0, 1, 1, 1], 2).unwrap();
        let r = Report {
            title: "run & co".into(),
            facts: vec![("model".into(), "m".into())],
            train: (1..30).map(|s| TrainPoint { step: s as f64, loss: 1.0 / s as f64, lr: 1e-3 }).collect(),
            results: vec![("test".into(), Metrics::from([("accuracy".into(), 0.75)]))],
            classes: Some(ClassResults { split: "test".into(), labels, report }),
            config: Some("model = \"<x>\"".into()),
            ..Default::default()
        };
        let html = page(&r).unwrap();
        assert!(html.contains("run &amp; co") && html.contains("&lt;neg&gt;") && html.contains("&lt;x&gt;"));
        assert!(html.contains("75.00%"));
        assert_eq!(html.matches("<svg").count(), 4, "loss, lr, heat map, bars");
        // Nothing to fetch: no script, no external source, style sheet or font (the SVGs' xmlns is a name).
        for banned in ["<script", "src=", "href=\"http", "url(", "@import", "<link rel=\"stylesheet\""] {
            assert!(!html.contains(banned), "{banned}");
        }
    }

    #[test]
    fn token_runs_show_per_type_scores_and_the_entity_confusion() {
        let gold = [vec!["B-PER", "I-PER", "O", "B-LOC"], vec!["B-ORG", "O", "B-LOC", "O"]];
        let pred = [vec!["B-ORG", "I-ORG", "O", "B-LOC"], vec!["B-ORG", "I-ORG", "O", "B-PER"]];
        let entities = crate::report::EntityResults {
            split: "test".into(),
            report: ft_eval::TaggingReport::compute(&gold, &pred).unwrap(),
            confusion: ft_eval::EntityConfusion::compute(&gold, &pred).unwrap(),
        };
        let r = Report { title: "ner".into(), entities: Some(entities), ..Default::default() };
        let html = page(&r).unwrap();
        assert!(html.contains("<h2>Entities (test, 2 sentences)</h2>"), "{html}");
        assert_eq!(html.matches("<svg").count(), 2, "heat map, bars");
        // LOC: its one prediction is right, 1 of its 2 true entities found.
        assert!(
            html.contains("<tr><td>LOC</td><td>1.0000</td><td>0.5000</td><td>0.6667</td><td>2</td></tr>"),
            "{html}"
        );
        assert!(html.contains("token accuracy 0.3750 over 8 labelled tokens"), "{html}");
    }
}
