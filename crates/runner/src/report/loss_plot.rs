//! Training loss curves: one panel per objective (their losses have different offsets and
//! scales), one line per run, coloured by configuration; the legend in a margin right of the
//! panels, where it hides no curve.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::figure::{Axis, Drawn, Figure, Scale, colour, font, text_width};

/// One run's loss curve.
#[derive(Clone, Debug, PartialEq)]
pub struct Curve {
    /// Legend text (runs of one configuration share it and its colour).
    pub label: String,
    /// Colour index.
    pub colour: usize,
    /// (step, loss) points with finite losses.
    pub points: Vec<(f64, f64)>,
}

/// The curves of one objective.
#[derive(Clone, Debug, PartialEq)]
pub struct Panel {
    /// Panel title.
    pub title: String,
    /// Curves.
    pub curves: Vec<Curve>,
}

/// Loss curves in panels side by side (wrapping after three).
#[derive(Clone, Debug, PartialEq)]
pub struct LossPlot {
    /// Title above the panels.
    pub title: String,
    /// Panels.
    pub panels: Vec<Panel>,
}

/// Columns of panels.
const COLUMNS: usize = 3;
/// Legend text size.
const LEGEND_FONT: u32 = 12;
/// Height of one legend line.
const LEGEND_LINE: i32 = 18;
/// Legend entries drawn at most (the rest are counted on one more line).
const LEGEND_MAX: usize = 30;

impl LossPlot {
    fn grid(&self) -> (usize, usize) {
        let cols = self.panels.len().clamp(1, COLUMNS);
        (self.panels.len().div_ceil(cols).max(1), cols)
    }

    /// The legend's entries, first seen first: (label, colour index).
    fn entries(&self) -> Vec<(&str, usize)> {
        let mut out: Vec<(&str, usize)> = Vec::new();
        for c in self.panels.iter().flat_map(|p| &p.curves) {
            if !c.label.is_empty() && !out.iter().any(|(l, _)| *l == c.label) {
                out.push((&c.label, c.colour));
            }
        }
        out
    }

    /// Width of the legend's margin right of the panels (0 without entries).
    fn legend_width(&self) -> u32 {
        self.entries()
            .iter()
            .take(LEGEND_MAX)
            .map(|(l, _)| text_width(l, LEGEND_FONT))
            .max()
            .map_or(0, |w| w.max(90) + 52)
    }

    /// The legend in the margin `area`: one line sample and label per entry.
    fn draw_legend<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Drawn<DB> {
        let entries = self.entries();
        let text = font(LEGEND_FONT).pos(Pos::new(HPos::Left, VPos::Center));
        let shown = entries.len().min(LEGEND_MAX);
        let lines = shown + usize::from(entries.len() > shown);
        let (width, _) = area.dim_in_pixel();
        let bottom = 40 + 8 + lines as i32 * LEGEND_LINE;
        area.draw(&Rectangle::new(
            [(4, 40), (width as i32 - 8, bottom)],
            RGBColor(160, 160, 160).stroke_width(1),
        ))?;
        let mut y = 44 + LEGEND_LINE / 2;
        for (label, index) in &entries[..shown] {
            let c = colour(*index);
            area.draw(&PathElement::new(vec![(10, y), (34, y)], c.stroke_width(2)))?;
            area.draw_text(label, &text, (42, y))?;
            y += LEGEND_LINE;
        }
        if entries.len() > shown {
            area.draw_text(&format!("… {} more", entries.len() - shown), &text, (42, y))?;
        }
        Ok(())
    }
}

/// The y range shown: the losses after the first tenth of training (the first steps' losses
/// would flatten the rest), widened to include the final values.
fn y_values(panel: &Panel) -> Vec<f64> {
    let last_step = panel
        .curves
        .iter()
        .flat_map(|c| c.points.iter().map(|p| p.0))
        .fold(0.0, f64::max);
    let late: Vec<f64> = panel
        .curves
        .iter()
        .flat_map(|c| &c.points)
        .filter(|p| p.0 >= 0.1 * last_step)
        .map(|p| p.1)
        .collect();
    if late.is_empty() {
        panel
            .curves
            .iter()
            .flat_map(|c| &c.points)
            .map(|p| p.1)
            .collect()
    } else {
        late
    }
}

impl Figure for LossPlot {
    fn size(&self) -> (u32, u32) {
        let (rows, cols) = self.grid();
        (
            cols as u32 * 420 + self.legend_width(),
            rows as u32 * 330 + 30,
        )
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Drawn<DB> {
        let root = root.titled(&self.title, font(18))?;
        let (rows, cols) = self.grid();
        let (width, _) = root.dim_in_pixel();
        let legend_width = self.legend_width();
        let (panels, legend) = root.split_horizontally(width - legend_width);
        if legend_width > 0 {
            self.draw_legend(&legend)?;
        }
        for (panel, area) in self.panels.iter().zip(panels.split_evenly((rows, cols))) {
            let ys = y_values(panel);
            let y_axis = Axis::numeric(Scale::fitting(&ys, false), &ys);
            let steps: Vec<f64> = panel
                .curves
                .iter()
                .flat_map(|c| &c.points)
                .map(|p| p.0)
                .collect();
            let x_axis = Axis::numeric(Scale { log: false }, &steps);
            let mut chart = ChartBuilder::on(&area)
                .caption(&panel.title, font(15))
                .margin(8)
                .x_label_area_size(36)
                .y_label_area_size(56)
                .build_cartesian_2d(x_axis.coord(), y_axis.coord())?;
            chart
                .configure_mesh()
                .x_desc("step")
                .y_desc("loss")
                .label_style(font(12))
                .axis_desc_style(font(13))
                .x_label_formatter(&|v| x_axis.label(*v))
                .y_label_formatter(&|v| y_axis.label(*v))
                .bold_line_style(RGBColor(225, 225, 225))
                .draw()?;
            let (scale, y_range) = (y_axis.scale, y_axis.range.clone());
            for curve in &panel.curves {
                let c = colour(curve.colour);
                let pts: Vec<(f64, f64)> = curve
                    .points
                    .iter()
                    .filter_map(|&(x, y)| Some((x, scale.at(y)?.clamp(y_range.start, y_range.end))))
                    .collect();
                chart.draw_series(LineSeries::new(pts, c.mix(0.8).stroke_width(1)))?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_steps_do_not_set_the_y_range() {
        let panel = Panel {
            title: "dsm".into(),
            curves: vec![Curve {
                label: String::new(),
                colour: 0,
                points: vec![(1.0, 1000.0), (50.0, 2.0), (100.0, 1.0)],
            }],
        };
        assert_eq!(y_values(&panel), vec![2.0, 1.0]);
        let plot = LossPlot {
            title: "loss".into(),
            panels: vec![panel.clone(); 4],
        };
        assert_eq!(plot.grid(), (2, 3));
        assert_eq!(plot.size(), (1260, 690));
    }

    #[test]
    fn the_legend_takes_a_margin_right_of_the_panels_wide_enough_for_its_labels() {
        let curve = |label: &str, colour| Curve {
            label: label.into(),
            colour,
            points: vec![(1.0, 1.0), (2.0, 0.5)],
        };
        let long = "sigma=0.05 model.hidden=128 lr_schedule.name=warmup_cosine";
        let plot = LossPlot {
            title: "loss".into(),
            panels: vec![
                Panel {
                    title: "dsm".into(),
                    curves: vec![curve("a", 0), curve(long, 1)],
                },
                Panel {
                    title: "ism".into(),
                    curves: vec![curve("a", 0)],
                },
            ],
        };
        assert_eq!(plot.entries(), vec![("a", 0), (long, 1)]);
        let margin = plot.legend_width();
        assert!(margin >= text_width(long, LEGEND_FONT) + 42, "{margin}");
        // The panels keep their width; the legend adds its margin to the figure.
        assert_eq!(plot.size(), (2 * 420 + margin, 360));
        let svg = String::from_utf8(crate::report::figure::svg(&plot).unwrap()).unwrap();
        assert!(svg.contains(long), "the legend's label is drawn");
    }
}
