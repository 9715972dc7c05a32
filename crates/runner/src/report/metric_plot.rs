//! Metrics against a parameter (σ, dimension, wall time): one line per series, error bars of
//! one standard deviation over seeds, log axes where the values span decades.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::figure::{Drawn, Figure, Scale, colour, font};

/// One point: x, mean of the metric over seeds, its standard deviation.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Point {
    /// Position on the x axis.
    pub x: f64,
    /// Mean.
    pub y: f64,
    /// Standard deviation (missing with a single seed).
    pub sd: Option<f64>,
}

/// Points sharing a label (e.g. one objective).
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    /// Legend text.
    pub label: String,
    /// Points, sorted by x.
    pub points: Vec<Point>,
}

/// A metric against one parameter.
#[derive(Clone, Debug, PartialEq)]
pub struct MetricPlot {
    /// Title above the chart.
    pub title: String,
    /// x axis name.
    pub x_name: String,
    /// y axis name.
    pub y_name: String,
    /// Series drawn as points (joined by lines if `lines`).
    pub series: Vec<Series>,
    /// Series without an x value (e.g. objectives that have no σ): dashed horizontal lines
    /// at their mean, across the whole x range.
    pub references: Vec<Series>,
    /// Whether to join each series' points.
    pub lines: bool,
}

impl MetricPlot {
    fn scales(&self) -> (Scale, Scale) {
        let xs: Vec<f64> = self
            .all()
            .filter(|p| p.x.is_finite())
            .map(|p| p.x)
            .collect();
        let ys: Vec<f64> = self.all().map(|p| p.y).collect();
        (Scale::fitting(&xs, true), Scale::fitting(&ys, false))
    }

    fn all(&self) -> impl Iterator<Item = &Point> {
        self.series
            .iter()
            .chain(&self.references)
            .flat_map(|s| &s.points)
    }
}

/// The lower and upper ends of an error bar on `scale` (a log axis shows no bar below 0).
fn bar(scale: Scale, p: &Point) -> Option<(f64, f64)> {
    let sd = p.sd?;
    let hi = scale.at(p.y + sd)?;
    let lo = scale.at(p.y - sd).unwrap_or(scale.at(p.y)? - 1.0);
    Some((lo, hi))
}

impl Figure for MetricPlot {
    fn size(&self) -> (u32, u32) {
        (760, 480)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Drawn<DB> {
        let (xs, ys) = self.scales();
        let x_values: Vec<f64> = self
            .series
            .iter()
            .flat_map(|s| &s.points)
            .map(|p| p.x)
            .collect();
        let mut y_values: Vec<f64> = self.all().map(|p| p.y).collect();
        y_values.extend(self.all().filter_map(|p| Some(p.y + p.sd?)));
        let x_range = xs.range(&x_values);
        let y_range = ys.range(&y_values);
        let mut chart = ChartBuilder::on(root)
            .caption(&self.title, font(18))
            .margin(12)
            .x_label_area_size(44)
            .y_label_area_size(64)
            .build_cartesian_2d(x_range.clone(), y_range.clone())?;
        chart
            .configure_mesh()
            .x_desc(xs.describe(&self.x_name))
            .y_desc(ys.describe(&self.y_name))
            .label_style(font(13))
            .axis_desc_style(font(14))
            .x_label_formatter(&|v| xs.label(*v, &x_range))
            .y_label_formatter(&|v| ys.label(*v, &y_range))
            .light_line_style(RGBColor(235, 235, 235))
            .draw()?;
        let clamp = |v: f64| v.clamp(y_range.start, y_range.end);
        for (k, s) in self.series.iter().enumerate() {
            let c = colour(k);
            let pts: Vec<(f64, f64)> = s
                .points
                .iter()
                .filter_map(|p| Some((xs.at(p.x)?, ys.at(p.y)?)))
                .collect();
            let legend = if self.lines {
                chart.draw_series(LineSeries::new(pts.clone(), c.stroke_width(2)))?
            } else {
                chart.draw_series(pts.iter().map(|&p| Circle::new(p, 5, c.filled())))?
            };
            legend.label(s.label.clone()).legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 18, y)], c.stroke_width(2))
            });
            if self.lines {
                chart.draw_series(pts.iter().map(|&p| Circle::new(p, 3, c.filled())))?;
            }
            for p in &s.points {
                let (Some(x), Some((lo, hi))) = (xs.at(p.x), bar(ys, p)) else {
                    continue;
                };
                chart.draw_series(std::iter::once(ErrorBar::new_vertical(
                    x,
                    clamp(lo),
                    clamp(ys.at(p.y).unwrap_or(lo)),
                    clamp(hi),
                    c.stroke_width(1),
                    6,
                )))?;
            }
        }
        for (k, s) in self.references.iter().enumerate() {
            let c = colour(self.series.len() + k);
            let Some(p) = s.points.first() else { continue };
            let Some(y) = ys.at(p.y) else { continue };
            let line = [(x_range.start, y), (x_range.end, y)];
            chart
                .draw_series(DashedLineSeries::new(line, 8, 5, c.stroke_width(2)))?
                .label(s.label.clone())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 18, y)], c.stroke_width(2))
                });
            if let Some((lo, hi)) = bar(ys, p) {
                for v in [lo, hi] {
                    let v = clamp(v);
                    chart.draw_series(DashedLineSeries::new(
                        [(x_range.start, v), (x_range.end, v)],
                        2,
                        6,
                        c.mix(0.7).stroke_width(1),
                    ))?;
                }
            }
        }
        chart
            .configure_series_labels()
            .label_font(font(13))
            .background_style(WHITE.mix(0.85))
            .border_style(RGBColor(160, 160, 160))
            .position(SeriesLabelPosition::UpperRight)
            .draw()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_axes_need_positive_values() {
        let p = |x, y| Point {
            x,
            y,
            sd: Some(y / 2.0),
        };
        let mut plot = MetricPlot {
            title: "t".into(),
            x_name: "σ".into(),
            y_name: "Fisher".into(),
            series: vec![Series {
                label: "dsm".into(),
                points: vec![p(0.01, 1e-3), p(0.1, 1e-1)],
            }],
            references: vec![],
            lines: true,
        };
        assert_eq!(plot.scales(), (Scale { log: true }, Scale { log: true }));
        plot.series[0].points[0].y = -1.0;
        assert_eq!(plot.scales().1, Scale { log: false });
        // A bar reaching below zero on a log axis ends one decade below the mean.
        let b = bar(
            Scale { log: true },
            &Point {
                x: 1.0,
                y: 1.0,
                sd: Some(2.0),
            },
        )
        .unwrap();
        assert!((b.0 + 1.0).abs() < 1e-12 && (b.1 - 3f64.log10()).abs() < 1e-12);
        let png = super::super::figure::png(&plot).unwrap();
        assert!(png.len() > 1000);
    }
}
