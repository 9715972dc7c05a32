//! Training loss curves: one panel per objective (their losses have different offsets and
//! scales), one line per run, coloured by configuration.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::figure::{Axis, Drawn, Figure, Scale, colour, font};

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

impl LossPlot {
    fn grid(&self) -> (usize, usize) {
        let cols = self.panels.len().clamp(1, COLUMNS);
        (self.panels.len().div_ceil(cols).max(1), cols)
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
        (cols as u32 * 420, rows as u32 * 330 + 30)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Drawn<DB> {
        let root = root.titled(&self.title, font(18))?;
        let (rows, cols) = self.grid();
        for (panel, area) in self.panels.iter().zip(root.split_evenly((rows, cols))) {
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
            let mut labelled = std::collections::BTreeSet::new();
            for curve in &panel.curves {
                let c = colour(curve.colour);
                let pts: Vec<(f64, f64)> = curve
                    .points
                    .iter()
                    .filter_map(|&(x, y)| Some((x, scale.at(y)?.clamp(y_range.start, y_range.end))))
                    .collect();
                let drawn = chart.draw_series(LineSeries::new(pts, c.mix(0.8).stroke_width(1)))?;
                if !curve.label.is_empty() && labelled.insert(curve.label.clone()) {
                    drawn.label(curve.label.clone()).legend(move |(x, y)| {
                        PathElement::new(vec![(x, y), (x + 16, y)], c.stroke_width(2))
                    });
                }
            }
            if !labelled.is_empty() && labelled.len() <= 8 {
                chart
                    .configure_series_labels()
                    .label_font(font(12))
                    .background_style(WHITE.mix(0.85))
                    .border_style(RGBColor(160, 160, 160))
                    .position(SeriesLabelPosition::UpperRight)
                    .draw()?;
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
}
