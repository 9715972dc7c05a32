//! Contour lines of a function sampled on a regular grid (marching squares).

/// A line segment between two points.
pub type Segment = [(f64, f64); 2];

/// A function's values on an `n × n` grid over `x × y`, x fastest.
#[derive(Clone, Debug, PartialEq)]
pub struct Grid {
    /// The x range.
    pub x: [f64; 2],
    /// The y range.
    pub y: [f64; 2],
    /// Points per axis.
    pub n: usize,
    /// Values, point `(i, j)` at index `j * n + i`.
    pub values: Vec<f64>,
}

impl Grid {
    /// `f` evaluated on an `n × n` grid (n ≥ 2).
    pub fn of(x: [f64; 2], y: [f64; 2], n: usize, mut f: impl FnMut(f64, f64) -> f64) -> Grid {
        let n = n.max(2);
        let mut values = Vec::with_capacity(n * n);
        for j in 0..n {
            for i in 0..n {
                let (px, py) = (coord(x, i, n), coord(y, j, n));
                values.push(f(px, py));
            }
        }
        Grid { x, y, n, values }
    }

    /// The segments of the level set {f = level}: in each grid cell the points where f
    /// crosses `level` on the cell's edges (linearly interpolated), joined pairwise.
    pub fn contour(&self, level: f64) -> Vec<Segment> {
        let n = self.n;
        let v = |i: usize, j: usize| self.values[j * n + i];
        let p = |i: usize, j: usize| (coord(self.x, i, n), coord(self.y, j, n));
        let mut out = Vec::new();
        for j in 0..n - 1 {
            for i in 0..n - 1 {
                // Corners counter-clockwise; edges between consecutive corners.
                let corners = [(i, j), (i + 1, j), (i + 1, j + 1), (i, j + 1)];
                let mut crossings = Vec::with_capacity(4);
                for k in 0..4 {
                    let (a, b) = (corners[k], corners[(k + 1) % 4]);
                    let (va, vb) = (v(a.0, a.1), v(b.0, b.1));
                    if !(va.is_finite() && vb.is_finite()) || (va >= level) == (vb >= level) {
                        continue;
                    }
                    let t = (level - va) / (vb - va);
                    let (pa, pb) = (p(a.0, a.1), p(b.0, b.1));
                    crossings.push((pa.0 + t * (pb.0 - pa.0), pa.1 + t * (pb.1 - pa.1)));
                }
                for pair in crossings.chunks_exact(2) {
                    out.push([pair[0], pair[1]]);
                }
            }
        }
        out
    }

    /// The largest finite value (−∞ if none).
    pub fn max(&self) -> f64 {
        self.values
            .iter()
            .copied()
            .filter(|v| v.is_finite())
            .fold(f64::NEG_INFINITY, f64::max)
    }
}

fn coord(r: [f64; 2], k: usize, n: usize) -> f64 {
    r[0] + (r[1] - r[0]) * k as f64 / (n - 1) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_contour_of_a_paraboloid_is_a_circle() {
        let g = Grid::of([-2.0, 2.0], [-2.0, 2.0], 41, |x, y| x * x + y * y);
        let segs = g.contour(1.0);
        assert!(segs.len() > 30, "{}", segs.len());
        for s in &segs {
            for (x, y) in s {
                let r = (x * x + y * y).sqrt();
                assert!((r - 1.0).abs() < 0.01, "point at radius {r}");
            }
        }
        // The circle is closed: every endpoint is shared by two segments.
        let total: f64 = segs
            .iter()
            .map(|[a, b]| ((a.0 - b.0).powi(2) + (a.1 - b.1).powi(2)).sqrt())
            .sum();
        assert!((total - 2.0 * std::f64::consts::PI).abs() < 0.02, "{total}");
        assert!(g.contour(100.0).is_empty());
        assert_eq!(g.max(), 8.0);
    }
}
