//! A 2-D run side by side: the exact score field, the learned one (quiver plots) and the
//! sampler's samples, each over contour lines of the data density.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::contour::Segment;
use super::figure::{Drawn, Figure, colour, font};

/// What one panel shows over the contours.
#[derive(Clone, Debug, PartialEq)]
pub enum Layer {
    /// Arrows `(point, vector)`, already scaled to plot units.
    Arrows(Vec<([f64; 2], [f64; 2])>),
    /// Points.
    Points(Vec<[f64; 2]>),
    /// Contour lines of another function (a learned density), innermost level first.
    Contours(Vec<Vec<Segment>>),
}

/// One panel.
#[derive(Clone, Debug, PartialEq)]
pub struct Panel {
    /// Panel title.
    pub title: String,
    /// What is drawn over the contours.
    pub layer: Layer,
    /// Colour index.
    pub colour: usize,
}

/// Panels over the same box and contours.
#[derive(Clone, Debug, PartialEq)]
pub struct FieldPlot {
    /// Title above the panels.
    pub title: String,
    /// x range.
    pub x: [f64; 2],
    /// y range.
    pub y: [f64; 2],
    /// Contour lines of log p, innermost (highest) level first.
    pub contours: Vec<Vec<Segment>>,
    /// Panels, left to right.
    pub panels: Vec<Panel>,
}

/// Scales score vectors for drawing: a vector as long as `reference` (e.g. the median exact
/// score norm) is drawn `cell` long, longer ones are capped at 1.5 `cell`.
pub fn arrow(v: [f64; 2], reference: f64, cell: f64) -> [f64; 2] {
    let norm = v[0].hypot(v[1]);
    if !(norm.is_finite() && norm > 0.0 && reference > 0.0) {
        return [0.0, 0.0];
    }
    let len = (norm / reference).min(1.5) * cell;
    [v[0] / norm * len, v[1] / norm * len]
}

/// Points inside the box.
pub fn inside(points: &[[f64; 2]], x: [f64; 2], y: [f64; 2]) -> Vec<[f64; 2]> {
    points
        .iter()
        .copied()
        .filter(|p| (x[0]..=x[1]).contains(&p[0]) && (y[0]..=y[1]).contains(&p[1]))
        .collect()
}

impl Figure for FieldPlot {
    fn size(&self) -> (u32, u32) {
        (self.panels.len().max(1) as u32 * 400, 430)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Drawn<DB> {
        let root = root.titled(&self.title, font(17))?;
        let areas = root.split_evenly((1, self.panels.len().max(1)));
        let levels = self.contours.len().max(1) as f64;
        for (panel, area) in self.panels.iter().zip(areas) {
            let mut chart = ChartBuilder::on(&area)
                .caption(&panel.title, font(14))
                .margin(8)
                .x_label_area_size(42)
                .y_label_area_size(52)
                .build_cartesian_2d(self.x[0]..self.x[1], self.y[0]..self.y[1])?;
            chart
                .configure_mesh()
                .disable_mesh()
                .x_desc("x₁")
                .y_desc("x₂")
                .axis_desc_style(font(13))
                .label_style(font(11))
                .x_labels(5)
                .y_labels(5)
                .draw()?;
            for (k, segments) in self.contours.iter().enumerate() {
                // Inner levels darker.
                let shade = (90.0 + 130.0 * k as f64 / levels) as u8;
                let style = RGBColor(shade, shade, shade.saturating_add(20)).stroke_width(1);
                chart.draw_series(
                    segments
                        .iter()
                        .map(|s| PathElement::new(vec![s[0], s[1]], style)),
                )?;
            }
            let c = colour(panel.colour);
            match &panel.layer {
                Layer::Contours(levels) => {
                    for segments in levels {
                        chart.draw_series(
                            segments
                                .iter()
                                .map(|s| PathElement::new(vec![s[0], s[1]], c.stroke_width(2))),
                        )?;
                    }
                }
                Layer::Points(points) => {
                    chart.draw_series(
                        points
                            .iter()
                            .map(|p| Circle::new((p[0], p[1]), 2, c.mix(0.6).filled())),
                    )?;
                }
                Layer::Arrows(arrows) => {
                    for &(p, v) in arrows {
                        let tip = (p[0] + v[0], p[1] + v[1]);
                        let mut paths = vec![vec![(p[0], p[1]), tip]];
                        let (hx, hy) = (-v[0] * 0.3, -v[1] * 0.3);
                        for s in [1.0, -1.0] {
                            // The head: the shaft's last 30%, turned by ±25°.
                            let (sin, cos) = (s * 0.4226, 0.9063);
                            let head = (hx * cos - hy * sin, hx * sin + hy * cos);
                            paths.push(vec![tip, (tip.0 + head.0, tip.1 + head.1)]);
                        }
                        chart.draw_series(
                            paths
                                .into_iter()
                                .map(|pts| PathElement::new(pts, c.stroke_width(1))),
                        )?;
                    }
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arrows_keep_direction_and_cap_their_length() {
        let a = arrow([3.0, 4.0], 5.0, 0.2);
        assert!((a[0] - 0.12).abs() < 1e-12 && (a[1] - 0.16).abs() < 1e-12);
        let long = arrow([30.0, 40.0], 5.0, 0.2);
        assert!((long[0].hypot(long[1]) - 0.3).abs() < 1e-12);
        assert_eq!(arrow([0.0, 0.0], 1.0, 0.2), [0.0, 0.0]);
        assert_eq!(arrow([f64::NAN, 0.0], 1.0, 0.2), [0.0, 0.0]);
        assert_eq!(
            inside(&[[0.0, 0.0], [2.0, 0.0]], [-1.0, 1.0], [-1.0, 1.0]),
            vec![[0.0, 0.0]]
        );
    }
}
