//! The report's charts, drawn with plotters' SVG backend into strings: line charts (loss, learning rate,
//! validation metrics over steps), the confusion matrix as a heat map and per-class F1 bars.
//!
//! Text goes into the SVG as `<text>` elements (plotters escapes it) that the browser lays out; no font
//! is loaded here, so plotters' size estimates are approximate and the layouts leave room for that.

use anyhow::anyhow;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// Series colours (Tableau 10), in order.
pub const PALETTE: [RGBColor; 8] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
];

const FONT: &str = "sans-serif";
const INK: RGBColor = RGBColor(40, 40, 40);

/// How a series is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mark {
    /// A thin, light line (raw values under a smoothed curve).
    Faint,
    /// A line.
    Line,
    /// A line with a dot at every point (few points, such as evaluations).
    LineDots,
}

/// One named series of `(x, y)` points.
#[derive(Debug, Clone)]
pub struct Series {
    /// Legend text.
    pub name: String,
    /// Points, in x order.
    pub points: Vec<(f64, f64)>,
    /// Colour.
    pub color: RGBColor,
    /// How it is drawn.
    pub mark: Mark,
}

fn err(e: impl std::fmt::Display) -> anyhow::Error {
    anyhow!("drawing the report's charts: {e}")
}

/// Draws into an SVG string of `size` pixels.
fn svg(
    size: (u32, u32),
    draw: impl FnOnce(&DrawingArea<SVGBackend, Shift>) -> anyhow::Result<()>,
) -> anyhow::Result<String> {
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, size).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        draw(&root)?;
        root.present().map_err(err)?;
    }
    Ok(out)
}

/// `lo..hi` widened by 5% (and made non-empty), for an axis.
fn padded(lo: f64, hi: f64) -> (f64, f64) {
    if !(lo.is_finite() && hi.is_finite()) {
        return (0.0, 1.0);
    }
    if hi - lo < 1e-12 {
        let d = if lo.abs() > 1e-12 { lo.abs() * 0.1 } else { 1.0 };
        return (lo - d, hi + d);
    }
    let d = (hi - lo) * 0.05;
    (lo - d, hi + d)
}

/// A line chart of `series` against the step. `y_range` fixes the y axis (e.g. `0..1` for scores).
pub fn line_chart(
    title: &str,
    y_desc: &str,
    series: &[Series],
    y_range: Option<(f64, f64)>,
    legend: SeriesLabelPosition,
    size: (u32, u32),
) -> anyhow::Result<String> {
    let all = || series.iter().flat_map(|s| s.points.iter());
    // Steps start at 0, so that a curve of a few evaluations is placed within the whole run.
    let (x0, x1) = all().fold((0.0, f64::NEG_INFINITY), |(a, b): (f64, f64), p| (a.min(p.0), b.max(p.0)));
    let (y0, y1) = all().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), p| (a.min(p.1), b.max(p.1)));
    let (x0, x1) = if x1 > x0 { (x0, x1) } else { padded(x0, x1) };
    let (y0, y1) = y_range.unwrap_or_else(|| padded(y0, y1));
    svg(size, |root| {
        let mut chart = ChartBuilder::on(root)
            .caption(title, (FONT, 24).into_font().color(&INK))
            .margin(12)
            .x_label_area_size(48)
            .y_label_area_size(78)
            .build_cartesian_2d(x0..x1, y0..y1)
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc("step")
            .y_desc(y_desc)
            .light_line_style(RGBColor(235, 235, 235))
            .bold_line_style(RGBColor(215, 215, 215))
            .axis_style(RGBColor(150, 150, 150))
            .label_style((FONT, 16).into_font().color(&INK))
            .axis_desc_style((FONT, 16).into_font().color(&INK))
            .x_label_formatter(&|x| format!("{x:.0}"))
            .y_label_formatter(&|y| short(*y))
            .draw()
            .map_err(err)?;
        for s in series {
            let (width, color) = match s.mark {
                Mark::Faint => (1, s.color.mix(0.35)),
                _ => (2, s.color.to_rgba()),
            };
            let drawn =
                chart.draw_series(LineSeries::new(s.points.iter().copied(), color.stroke_width(width))).map_err(err)?;
            if s.mark != Mark::Faint {
                let c = s.color;
                drawn
                    .label(s.name.as_str())
                    .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], c.stroke_width(3)));
            }
            if s.mark == Mark::LineDots {
                chart.draw_series(s.points.iter().map(|&p| Circle::new(p, 3, s.color.filled()))).map_err(err)?;
            }
        }
        if series.iter().any(|s| s.mark != Mark::Faint) {
            chart
                .configure_series_labels()
                .position(legend)
                .background_style(WHITE.mix(0.85))
                .border_style(RGBColor(200, 200, 200))
                .label_font((FONT, 16).into_font().color(&INK))
                .draw()
                .map_err(err)?;
        }
        Ok(())
    })
}

/// A compact axis label: `0.0003` → `3.0e-4`, `12.5` → `12.5`.
fn short(y: f64) -> String {
    let a = y.abs();
    if a != 0.0 && !(1e-2..1e5).contains(&a) {
        format!("{y:.1e}")
    } else {
        format!("{y:.3}").trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

/// Blends white → `to` by `t` in [0, 1].
fn shade(t: f64, to: RGBColor) -> RGBColor {
    let t = t.clamp(0.0, 1.0);
    let mix = |c: u8| (255.0 - (255.0 - c as f64) * t).round() as u8;
    RGBColor(mix(to.0), mix(to.1), mix(to.2))
}

/// `name` cut to `max` characters (with an ellipsis), for axis labels.
fn clip(name: &str, max: usize) -> String {
    if name.chars().count() <= max { name.to_string() } else { name.chars().take(max - 1).collect::<String>() + "…" }
}

/// The confusion matrix (rows true, columns predicted) as a heat map: each cell shaded by its share of
/// its row (the recall of the row's class on the diagonal), with the count written in it.
pub fn heat_map(labels: &[String], confusion: &[Vec<usize>]) -> anyhow::Result<String> {
    let n = labels.len().max(1);
    let cell = (420 / n as i32).clamp(18, 90);
    let left = 130;
    let top = 60;
    let size = ((left + cell * n as i32 + 30) as u32, (top + cell * n as i32 + 70) as u32);
    let font = |px: i32| (FONT, px as f64).into_font().color(&INK);
    let count_px = (cell / 3).clamp(12, 24);
    svg(size, |root| {
        root.draw(&Text::new("confusion matrix", (10, 10), font(24))).map_err(err)?;
        let side = |i: usize| top + cell * i as i32;
        for (t, row) in confusion.iter().enumerate() {
            let total: usize = row.iter().sum();
            for (p, &count) in row.iter().enumerate() {
                let share = if total == 0 { 0.0 } else { count as f64 / total as f64 };
                let base = if t == p { PALETTE[0] } else { PALETTE[3] };
                let (x, y) = (left + cell * p as i32, side(t));
                root.draw(&Rectangle::new([(x, y), (x + cell, y + cell)], shade(share * 0.9, base).filled()))
                    .map_err(err)?;
                root.draw(&Rectangle::new([(x, y), (x + cell, y + cell)], WHITE.stroke_width(1))).map_err(err)?;
                let ink = if share > 0.55 { WHITE } else { INK };
                let style = (FONT, count_px as f64).into_font().color(&ink).pos(Pos::new(HPos::Center, VPos::Center));
                root.draw(&Text::new(count.to_string(), (x + cell / 2, y + cell / 2), style)).map_err(err)?;
            }
        }
        let label_px = (cell / 3).clamp(12, 18);
        for (i, name) in labels.iter().enumerate() {
            let right = (FONT, label_px as f64).into_font().color(&INK).pos(Pos::new(HPos::Right, VPos::Center));
            root.draw(&Text::new(clip(name, 16), (left - 6, side(i) + cell / 2), right)).map_err(err)?;
            let below = (FONT, label_px as f64)
                .into_font()
                .transform(FontTransform::Rotate90)
                .color(&INK)
                .pos(Pos::new(HPos::Left, VPos::Center));
            root.draw(&Text::new(clip(name, 10), (left + cell * i as i32 + cell / 2, side(n) + 6), below))
                .map_err(err)?;
        }
        let axis = |px| (FONT, px as f64).into_font().color(&RGBColor(110, 110, 110));
        root.draw(&Text::new("rows: true class · columns: predicted", (10, 38), axis(16))).map_err(err)?;
        Ok(())
    })
}

/// Precision, recall and F1 of each class as grouped horizontal bars (F1 solid, P and R light).
pub fn class_bars(labels: &[String], scores: &[(f64, f64, f64)]) -> anyhow::Result<String> {
    let n = labels.len().max(1);
    // Three bars of BAR pixels per class, a gap between classes.
    const BAR: i32 = 12;
    let row = 3 * (BAR + 1) + 16;
    let left = 130;
    let top = 60;
    let width = 440;
    let size = ((left + width + 70) as u32, (top + row * n as i32 + 50) as u32);
    let font = |px: f64| (FONT, px).into_font().color(&INK);
    svg(size, |root| {
        root.draw(&Text::new("per-class scores", (10, 10), font(24.0))).map_err(err)?;
        let legend = [("F1", PALETTE[0]), ("precision", PALETTE[1]), ("recall", PALETTE[2])];
        for (k, (name, color)) in legend.iter().enumerate() {
            let x = left + 120 * k as i32;
            root.draw(&Rectangle::new([(x, 37), (x + 14, 51)], color.filled())).map_err(err)?;
            root.draw(&Text::new(*name, (x + 20, 35), font(18.0))).map_err(err)?;
        }
        let x_of = |v: f64| left + (v.clamp(0.0, 1.0) * width as f64).round() as i32;
        for tick in 0..=4 {
            let v = tick as f64 / 4.0;
            let x = x_of(v);
            let bottom = top + row * n as i32;
            root.draw(&PathElement::new(vec![(x, top - 4), (x, bottom)], RGBColor(225, 225, 225).stroke_width(1)))
                .map_err(err)?;
            let style = font(17.0).pos(Pos::new(HPos::Center, VPos::Top));
            root.draw(&Text::new(format!("{v:.2}"), (x, bottom + 4), style)).map_err(err)?;
        }
        for (i, (name, &(p, r, f1))) in labels.iter().zip(scores).enumerate() {
            let y = top + row * i as i32;
            let right = font(19.0).pos(Pos::new(HPos::Right, VPos::Center));
            root.draw(&Text::new(clip(name, 14), (left - 8, y + 3 * (BAR + 1) / 2), right)).map_err(err)?;
            for (k, (v, color, alpha)) in
                [(f1, PALETTE[0], 1.0), (p, PALETTE[1], 0.8), (r, PALETTE[2], 0.8)].into_iter().enumerate()
            {
                let top_y = y + (BAR + 1) * k as i32;
                root.draw(&Rectangle::new(
                    [(left, top_y), (x_of(v).max(left + 1), top_y + BAR)],
                    color.mix(alpha).filled(),
                ))
                .map_err(err)?;
                if k == 0 {
                    let style = font(17.0).pos(Pos::new(HPos::Left, VPos::Center));
                    root.draw(&Text::new(format!("{v:.3}"), (x_of(v) + 4, top_y + BAR / 2), style)).map_err(err)?;
                }
            }
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charts_are_svg_with_escaped_text() {
        let s = Series {
            name: "train <loss>".into(),
            points: vec![(1.0, 0.7), (2.0, 0.5)],
            color: PALETTE[0],
            mark: Mark::Line,
        };
        let svg = line_chart("loss & more", "loss", &[s], None, SeriesLabelPosition::UpperRight, (400, 300)).unwrap();
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"), "{svg}");
        assert!(svg.contains("train &lt;loss&gt;") && svg.contains("loss &amp; more"), "{svg}");
        let labels = vec!["neg".to_string(), "pos".to_string()];
        let svg = heat_map(&labels, &[vec![5, 1], vec![2, 7]]).unwrap();
        assert!(svg.contains("\n7\n</text>"), "{svg}");
        let svg = class_bars(&labels, &[(0.7, 0.8, 0.75), (0.9, 0.8, 0.85)]).unwrap();
        assert!(svg.contains("0.850"), "{svg}");
    }

    #[test]
    fn single_point_and_flat_series_still_draw() {
        let s = Series { name: "acc".into(), points: vec![(10.0, 0.5)], color: PALETTE[1], mark: Mark::LineDots };
        let svg =
            line_chart("m", "score", &[s], Some((0.0, 1.0)), SeriesLabelPosition::LowerRight, (300, 200)).unwrap();
        assert!(svg.contains("<circle"));
        assert_eq!(padded(2.0, 2.0), (1.8, 2.2));
        assert_eq!(short(0.0003), "3.0e-4");
        assert_eq!(short(0.25), "0.25");
    }
}
