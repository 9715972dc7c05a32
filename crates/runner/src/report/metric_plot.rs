//! A number against a parameter, mean ± one standard deviation over seeds: one line (or one
//! set of points) per series, one panel per facet, the legend in a margin right of the
//! panels. The report's metric figures and `runner plot` both draw with it.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::figure::{Axis, Drawn, Figure, Scale, colour, font, text_width};

/// One point: x, mean over seeds, standard deviation.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Point {
    /// Position on the x axis (the category's index on a categorical axis).
    pub x: f64,
    /// Mean.
    pub y: f64,
    /// Standard deviation (missing with a single seed).
    pub sd: Option<f64>,
}

/// Points sharing a label (e.g. one objective).
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    /// Legend text; series of the same label share a colour across panels.
    pub label: String,
    /// Points, sorted by x.
    pub points: Vec<Point>,
}

/// One panel (facet).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Panel {
    /// Title above the panel (empty: none).
    pub title: String,
    /// Series drawn as points (joined by lines if the plot's `lines`).
    pub series: Vec<Series>,
    /// Series without an x value (e.g. objectives that have no σ): dashed horizontal lines
    /// at their first point's mean, across the whole x range, dotted at ± sd.
    pub references: Vec<Series>,
}

/// How an axis is scaled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AxisScale {
    /// Log when the values allow and (x) always or (y) span more than a factor of 3.
    Auto,
    /// Log10 (values ≤ 0 are not drawn).
    Log,
    /// Linear.
    Linear,
}

/// Numbers against one parameter, in panels sharing their axes.
#[derive(Clone, Debug, PartialEq)]
pub struct MetricPlot {
    /// Title above the panels.
    pub title: String,
    /// x axis label.
    pub x_name: String,
    /// y axis label.
    pub y_name: String,
    /// The x axis' categories, point `x = i` standing for `categories[i]`; empty: numeric x.
    pub categories: Vec<String>,
    /// x axis scale (numeric x only).
    pub x_scale: AxisScale,
    /// y axis scale.
    pub y_scale: AxisScale,
    /// Title of the legend (empty: none).
    pub legend_title: String,
    /// Panels, left to right, wrapping after three.
    pub panels: Vec<Panel>,
    /// Whether to join each series' points (numeric x only).
    pub lines: bool,
}

/// A rectangle in pixels, `left..right` × `top..bottom` (ends excluded).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rect {
    /// Left edge.
    pub left: i32,
    /// Top edge.
    pub top: i32,
    /// Right edge (excluded).
    pub right: i32,
    /// Bottom edge (excluded).
    pub bottom: i32,
}

/// Where everything goes: the figure's size, each panel's area and plotting rectangle (the
/// axes' inside), the legend's box.
#[derive(Clone, Debug, PartialEq)]
pub struct Layout {
    /// Width and height.
    pub size: (u32, u32),
    /// Each panel's area (title, axis labels and plotting rectangle).
    pub panels: Vec<Rect>,
    /// Each panel's plotting rectangle.
    pub plots: Vec<Rect>,
    /// The legend's box, right of every panel (`None` without legend entries).
    pub legend: Option<Rect>,
}

/// Height of the figure's title band.
const TITLE: i32 = 34;
/// Height of a panel's title band (when panels have titles).
const PANEL_TITLE: i32 = 24;
/// Space around each chart.
const MARGIN: i32 = 10;
/// Height of the x tick labels and axis description.
const X_LABELS: i32 = 48;
/// Width of the y tick labels and axis description.
const Y_LABELS: i32 = 80;
/// Panels per row.
const COLUMNS: usize = 3;
/// Legend text size.
const LEGEND_FONT: u32 = 13;
/// Height of one legend line.
const LEGEND_LINE: i32 = 20;
/// Width of a legend entry's line sample.
const SAMPLE: i32 = 28;

/// One legend entry: its text, colour index and whether it is a dashed reference.
#[derive(Clone, Debug, PartialEq)]
struct Entry {
    label: String,
    dashed: bool,
}

impl MetricPlot {
    /// The legend's entries, first seen first: a label's colour is its entry's index.
    fn entries(&self) -> Vec<Entry> {
        let mut out: Vec<Entry> = Vec::new();
        for (dashed, s) in self
            .panels
            .iter()
            .flat_map(|p| p.series.iter().map(|s| (false, s)))
            .chain(
                self.panels
                    .iter()
                    .flat_map(|p| p.references.iter().map(|s| (true, s))),
            )
        {
            if !out.iter().any(|e| e.label == s.label) {
                out.push(Entry {
                    label: s.label.clone(),
                    dashed,
                });
            }
        }
        out
    }

    fn colour_of(&self, entries: &[Entry], label: &str) -> RGBColor {
        colour(entries.iter().position(|e| e.label == label).unwrap_or(0))
    }

    /// The panels' area, plotting rectangles and the legend box.
    pub fn layout(&self) -> Layout {
        let n = self.panels.len().max(1);
        let cols = n.min(COLUMNS);
        let rows = n.div_ceil(cols);
        let (pw, ph) = if n == 1 { (640, 440) } else { (440, 340) };
        let titled = self.panels.iter().any(|p| !p.title.is_empty());
        let caption = if titled { PANEL_TITLE } else { 0 };
        let panels: Vec<Rect> = (0..n)
            .map(|k| {
                let (left, top) = ((k % cols) as i32 * pw, TITLE + (k / cols) as i32 * ph);
                Rect {
                    left,
                    top,
                    right: left + pw,
                    bottom: top + ph,
                }
            })
            .collect();
        let plots = panels
            .iter()
            .map(|p| Rect {
                left: p.left + MARGIN + Y_LABELS,
                top: p.top + caption + MARGIN,
                right: p.right - MARGIN,
                bottom: p.bottom - MARGIN - X_LABELS,
            })
            .collect();
        let entries = self.entries();
        let panels_right = cols as i32 * pw;
        let legend = (!entries.is_empty()).then(|| {
            let widest = entries
                .iter()
                .map(|e| text_width(&e.label, LEGEND_FONT) as i32 + SAMPLE + 18)
                .chain(
                    (!self.legend_title.is_empty())
                        .then(|| text_width(&self.legend_title, LEGEND_FONT) as i32 + 10),
                )
                .max()
                .unwrap_or(0);
            let lines = entries.len() as i32 + i32::from(!self.legend_title.is_empty());
            let top = TITLE + caption + MARGIN;
            Rect {
                left: panels_right + 4,
                top,
                right: panels_right + 4 + widest,
                bottom: top + lines * LEGEND_LINE + 8,
            }
        });
        let width = legend.map_or(panels_right, |l| l.right + 12);
        let height = (TITLE + rows as i32 * ph).max(legend.map_or(0, |l| l.bottom + 12));
        Layout {
            size: (width as u32, height as u32),
            panels,
            plots,
            legend,
        }
    }

    fn all_points(&self) -> impl Iterator<Item = &Point> {
        self.panels
            .iter()
            .flat_map(|p| p.series.iter().chain(&p.references))
            .flat_map(|s| &s.points)
    }

    /// The x and y axes, shared by every panel.
    fn axes(&self) -> (Axis, Axis) {
        let xs: Vec<f64> = self
            .panels
            .iter()
            .flat_map(|p| &p.series)
            .flat_map(|s| &s.points)
            .map(|p| p.x)
            .collect();
        let means: Vec<f64> = self.all_points().map(|p| p.y).collect();
        let pick = |scale: AxisScale, values: &[f64], prefer_log: bool| match scale {
            AxisScale::Auto => Scale::fitting(values, prefer_log),
            AxisScale::Log => Scale { log: true },
            AxisScale::Linear => Scale { log: false },
        };
        let x = if self.categories.is_empty() {
            Axis::numeric(pick(self.x_scale, &xs, true), &xs)
        } else {
            Axis::categorical(self.categories.clone())
        };
        let y_scale = pick(self.y_scale, &means, false);
        // The bars' ends are in range too, but a log axis leaves out those below zero.
        let mut ys = means;
        for p in self.all_points() {
            if let Some(sd) = p.sd {
                ys.extend(
                    [p.y + sd, p.y - sd]
                        .into_iter()
                        .filter(|v| y_scale.at(*v).is_some()),
                );
            }
        }
        (x, Axis::numeric(y_scale, &ys))
    }

    /// Draws the figure and returns each panel's plotting rectangle as plotters made it.
    fn draw_panels<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
    ) -> Result<Vec<Rect>, DrawingAreaErrorKind<DB::ErrorType>> {
        let layout = self.layout();
        let entries = self.entries();
        let (x_axis, y_axis) = self.axes();
        let centred = |size| font(size).pos(Pos::new(HPos::Center, VPos::Center));
        root.draw_text(
            &self.title,
            &centred(18),
            (layout.size.0 as i32 / 2, TITLE / 2),
        )?;
        let mut drawn = Vec::new();
        for ((panel, area), plot) in self.panels.iter().zip(&layout.panels).zip(&layout.plots) {
            if !panel.title.is_empty() {
                root.draw_text(
                    &panel.title,
                    &centred(15),
                    ((area.left + area.right) / 2, area.top + PANEL_TITLE / 2),
                )?;
            }
            // The chart's area starts below the panel titles' band.
            let top = plot.top - MARGIN;
            let sub = root.clone().shrink(
                (area.left, top),
                ((area.right - area.left) as u32, (area.bottom - top) as u32),
            );
            drawn.push(self.draw_panel(&sub, panel, &entries, &x_axis, &y_axis)?);
        }
        if let Some(legend) = layout.legend {
            self.draw_legend(root, legend, &entries)?;
        }
        Ok(drawn)
    }

    /// One panel; returns its plotting rectangle.
    fn draw_panel<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
        panel: &Panel,
        entries: &[Entry],
        x_axis: &Axis,
        y_axis: &Axis,
    ) -> Result<Rect, DrawingAreaErrorKind<DB::ErrorType>> {
        let mut chart = ChartBuilder::on(area)
            .margin(MARGIN as u32)
            .x_label_area_size(X_LABELS as u32)
            .y_label_area_size(Y_LABELS as u32)
            .build_cartesian_2d(x_axis.coord(), y_axis.coord())?;
        chart
            .configure_mesh()
            .x_desc(&self.x_name)
            .y_desc(&self.y_name)
            .label_style(font(13))
            .axis_desc_style(font(14))
            .x_label_formatter(&|v| x_axis.label(*v))
            .y_label_formatter(&|v| y_axis.label(*v))
            .bold_line_style(RGBColor(225, 225, 225))
            .draw()?;
        let (xs, ys) = (x_axis.scale, y_axis.scale);
        let y_range = y_axis.range.clone();
        let clamp = |v: f64| v.clamp(y_range.start, y_range.end);
        let categorical = x_axis.is_categorical();
        let n = panel.series.len() as f64;
        for (k, s) in panel.series.iter().enumerate() {
            let c = self.colour_of(entries, &s.label);
            // Series side by side within a category.
            let dodge = if categorical && n > 1.0 {
                (k as f64 - (n - 1.0) / 2.0) * 0.3 / n
            } else {
                0.0
            };
            let pts: Vec<(f64, f64)> = s
                .points
                .iter()
                .filter_map(|p| Some((xs.at(p.x)? + dodge, ys.at(p.y)?)))
                .collect();
            if self.lines && !categorical {
                chart.draw_series(LineSeries::new(pts.clone(), c.stroke_width(2)))?;
            }
            chart.draw_series(pts.iter().map(|&p| Circle::new(p, 4, c.filled())))?;
            for p in &s.points {
                let (Some(x), Some((lo, hi))) = (xs.at(p.x), bar(ys, p)) else {
                    continue;
                };
                chart.draw_series(std::iter::once(ErrorBar::new_vertical(
                    x + dodge,
                    clamp(lo),
                    clamp(ys.at(p.y).unwrap_or(lo)),
                    clamp(hi),
                    c.stroke_width(1),
                    6,
                )))?;
            }
        }
        let x_range = x_axis.range.clone();
        for s in &panel.references {
            let c = self.colour_of(entries, &s.label);
            let Some(p) = s.points.first() else { continue };
            let Some(y) = ys.at(p.y) else { continue };
            let line = [(x_range.start, y), (x_range.end, y)];
            chart.draw_series(DashedLineSeries::new(line, 8, 5, c.stroke_width(2)))?;
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
        let (x, y) = chart.plotting_area().get_pixel_range();
        Ok(Rect {
            left: x.start,
            top: y.start,
            right: x.end,
            bottom: y.end,
        })
    }

    /// The legend: a framed box with its title and one line per entry.
    fn draw_legend<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
        rect: Rect,
        entries: &[Entry],
    ) -> Drawn<DB> {
        root.draw(&Rectangle::new(
            [(rect.left, rect.top), (rect.right, rect.bottom)],
            RGBColor(160, 160, 160).stroke_width(1),
        ))?;
        let text = font(LEGEND_FONT).pos(Pos::new(HPos::Left, VPos::Center));
        let mut y = rect.top + 4 + LEGEND_LINE / 2;
        if !self.legend_title.is_empty() {
            root.draw_text(&self.legend_title, &text, (rect.left + 6, y))?;
            y += LEGEND_LINE;
        }
        for entry in entries {
            let c = self.colour_of(entries, &entry.label);
            let (x0, x1) = (rect.left + 6, rect.left + 6 + SAMPLE);
            if entry.dashed {
                for k in 0..3 {
                    let a = x0 + k * 10;
                    root.draw(&PathElement::new(
                        vec![(a, y), (a + 6, y)],
                        c.stroke_width(2),
                    ))?;
                }
            } else {
                root.draw(&PathElement::new(vec![(x0, y), (x1, y)], c.stroke_width(2)))?;
                root.draw(&Circle::new(((x0 + x1) / 2, y), 4, c.filled()))?;
            }
            root.draw_text(&entry.label, &text, (x1 + 8, y))?;
            y += LEGEND_LINE;
        }
        Ok(())
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
        self.layout().size
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Drawn<DB> {
        self.draw_panels(root).map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(x: f64, y: f64) -> Point {
        Point {
            x,
            y,
            sd: Some(y / 2.0),
        }
    }

    fn plot(panels: usize) -> MetricPlot {
        let series = |label: &str, scale: f64| Series {
            label: label.into(),
            points: vec![
                p(0.01, 1e-3 * scale),
                p(0.1, 1e-1 * scale),
                p(1.0, 0.5 * scale),
            ],
        };
        MetricPlot {
            title: "Fisher divergence against σ".into(),
            x_name: "noise level σ".into(),
            y_name: "Fisher divergence to p".into(),
            categories: vec![],
            x_scale: AxisScale::Auto,
            y_scale: AxisScale::Auto,
            legend_title: "objective".into(),
            panels: (0..panels)
                .map(|k| Panel {
                    title: if panels > 1 {
                        format!("dataset = d{k}")
                    } else {
                        String::new()
                    },
                    series: vec![
                        series("dsm", 1.0),
                        series("a much longer series label", 3.0),
                    ],
                    references: vec![Series {
                        label: "esm (no σ)".into(),
                        points: vec![Point {
                            x: f64::NAN,
                            y: 0.2,
                            sd: None,
                        }],
                    }],
                })
                .collect(),
            lines: true,
        }
    }

    /// Draws `plot` on a bitmap and returns the plotting rectangles plotters made.
    fn drawn_plots(plot: &MetricPlot) -> Vec<Rect> {
        super::super::figure::register_font().unwrap();
        let (w, h) = plot.size();
        let mut pixels = vec![255u8; w as usize * h as usize * 3];
        let root = BitMapBackend::with_buffer(&mut pixels, (w, h)).into_drawing_area();
        plot.draw_panels(&root).unwrap()
    }

    #[test]
    fn the_legend_lies_right_of_every_plotting_rectangle() {
        for panels in [1, 2, 4] {
            let plot = plot(panels);
            let layout = plot.layout();
            let legend = layout.legend.unwrap();
            assert_eq!(layout.plots.len(), panels);
            for r in &layout.plots {
                assert!(legend.left >= r.right, "{legend:?} overlaps {r:?}");
                assert!(r.left < r.right && r.top < r.bottom);
            }
            // The legend fits in the figure and is tall enough for its title and 3 entries.
            assert!(legend.right <= layout.size.0 as i32 && legend.bottom <= layout.size.1 as i32);
            assert!(legend.bottom - legend.top >= 4 * LEGEND_LINE);
            // It is wide enough for the longest label.
            assert!(
                legend.right - legend.left
                    > text_width("a much longer series label", LEGEND_FONT) as i32 + SAMPLE
            );
            // The rectangles are where plotters draws the axes.
            assert_eq!(drawn_plots(&plot), layout.plots, "{panels} panels");
        }
        let none = MetricPlot {
            panels: vec![Panel::default()],
            ..plot(1)
        };
        assert_eq!(none.layout().legend, None);
    }

    #[test]
    fn series_of_one_label_share_a_colour_across_panels() {
        let plot = plot(2);
        let entries = plot.entries();
        let labels: Vec<&str> = entries.iter().map(|e| e.label.as_str()).collect();
        assert_eq!(labels, ["dsm", "a much longer series label", "esm (no σ)"]);
        assert_eq!(entries.iter().filter(|e| e.dashed).count(), 1);
        assert_eq!(plot.colour_of(&entries, "esm (no σ)"), colour(2));
    }

    #[test]
    fn log_axes_need_positive_values() {
        let mut plot = plot(1);
        let (x, y) = plot.axes();
        assert!(x.scale.log && y.scale.log);
        assert_eq!(x.ticks, [-2.0, -1.0, 0.0]);
        plot.panels[0].series[0].points[0].y = -1.0;
        assert!(!plot.axes().1.scale.log);
        plot.y_scale = AxisScale::Log;
        assert!(plot.axes().1.scale.log);
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
        let svg = String::from_utf8(super::super::figure::svg(&plot).unwrap()).unwrap();
        assert!(
            svg.contains("10⁻²") && svg.contains("noise level σ"),
            "{svg}"
        );
    }
}
