//! Rendering figures with plotters to PNG and SVG, with text in a bundled font (DejaVu Sans,
//! `crates/runner/assets/`) so that no system font library or font file is needed.

use std::ops::Range;
use std::sync::OnceLock;

use anyhow::{Result, anyhow};
use plotters::coord::Shift;
use plotters::prelude::*;

/// DejaVu Sans (license: `assets/DejaVuSans-LICENSE.txt`).
static FONT: &[u8] = include_bytes!("../../assets/DejaVuSans.ttf");

/// The font family every figure's text uses.
pub const FAMILY: &str = "sans-serif";

/// Series colours (Tableau 10), cycled.
pub const PALETTE: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

/// The `i`-th series colour.
pub fn colour(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

/// Registers the bundled font under [`FAMILY`] (once per process).
pub fn register_font() -> Result<()> {
    static DONE: OnceLock<bool> = OnceLock::new();
    let ok = DONE
        .get_or_init(|| plotters::style::register_font(FAMILY, FontStyle::Normal, FONT).is_ok());
    anyhow::ensure!(*ok, "the bundled font could not be loaded");
    Ok(())
}

/// What drawing on backend `DB` returns.
pub type Drawn<DB> =
    std::result::Result<(), DrawingAreaErrorKind<<DB as DrawingBackend>::ErrorType>>;

/// A figure that can be drawn on any plotters backend.
pub trait Figure {
    /// Width and height in pixels.
    fn size(&self) -> (u32, u32);
    /// Draws the figure on `root` (already filled white).
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Drawn<DB>;
}

fn drawing<E: std::error::Error + Send + Sync>(e: DrawingAreaErrorKind<E>) -> anyhow::Error {
    anyhow!("drawing failed: {e}")
}

/// The figure as a PNG file.
pub fn png<F: Figure>(figure: &F) -> Result<Vec<u8>> {
    register_font()?;
    let (w, h) = figure.size();
    let mut pixels = vec![255u8; w as usize * h as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut pixels, (w, h)).into_drawing_area();
        root.fill(&WHITE).map_err(drawing)?;
        figure.draw(&root).map_err(drawing)?;
        root.present().map_err(drawing)?;
    }
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, w, h);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header()?;
    writer.write_image_data(&pixels)?;
    writer.finish()?;
    Ok(out)
}

/// The figure as an SVG file.
pub fn svg<F: Figure>(figure: &F) -> Result<Vec<u8>> {
    register_font()?;
    let mut text = String::new();
    {
        let root = SVGBackend::with_string(&mut text, figure.size()).into_drawing_area();
        root.fill(&WHITE).map_err(drawing)?;
        figure.draw(&root).map_err(drawing)?;
        root.present().map_err(drawing)?;
    }
    Ok(text.into_bytes())
}

/// A linear or log10 axis: values are drawn at [`Scale::at`] and labelled by their value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Scale {
    /// Whether the axis is logarithmic.
    pub log: bool,
}

impl Scale {
    /// Log when every value is positive and they span more than a factor of 3 (or when `log`
    /// is asked and possible); linear otherwise.
    pub fn fitting(values: &[f64], prefer_log: bool) -> Scale {
        let finite: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
        let positive = !finite.is_empty() && finite.iter().all(|&v| v > 0.0);
        let (lo, hi) = bounds(&finite);
        Scale {
            log: positive && (prefer_log || hi / lo > 3.0),
        }
    }

    /// Where `v` is drawn (`None` if a log axis cannot show it).
    pub fn at(self, v: f64) -> Option<f64> {
        match (self.log, v) {
            (_, v) if !v.is_finite() => None,
            (true, v) if v <= 0.0 => None,
            (true, v) => Some(v.log10()),
            (false, v) => Some(v),
        }
    }

    /// The drawn range covering `values`, padded by 5% (a unit range around a single value).
    pub fn range(self, values: &[f64]) -> Range<f64> {
        let drawn: Vec<f64> = values.iter().filter_map(|&v| self.at(v)).collect();
        if drawn.is_empty() {
            return 0.0..1.0;
        }
        let (lo, hi) = bounds(&drawn);
        let pad = if hi > lo {
            (hi - lo) * 0.05
        } else {
            0.5 * lo.abs().max(1.0) * if self.log { 1.0 } else { 0.1 }
        };
        lo - pad..hi + pad
    }

    /// The label of drawn position `at` on an axis showing `range` (drawn units), with the
    /// significant digits that tell its ticks (about ten per axis) apart.
    pub fn label(self, at: f64, range: &Range<f64>) -> String {
        let step = ((range.end - range.start) / 10.0).abs();
        if self.log {
            let rel = 10f64.powf(step) - 1.0;
            let digits = 1 - rel.log10().floor() as i32;
            significant(10f64.powf(at), digits.clamp(2, 8))
        } else {
            let top = range.start.abs().max(range.end.abs());
            let digits = if step > 0.0 && top > 0.0 {
                (top.log10().floor() - step.log10().floor()) as i32 + 1
            } else {
                3
            };
            significant(at, digits.clamp(1, 8))
        }
    }

    /// The axis description with "(log)" added on log axes.
    pub fn describe(self, name: &str) -> String {
        if self.log {
            format!("{name} (log)")
        } else {
            name.to_string()
        }
    }
}

/// Smallest and largest value (0, 1 when empty).
fn bounds(values: &[f64]) -> (f64, f64) {
    let lo = values.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if lo.is_finite() && hi.is_finite() {
        (lo, hi)
    } else {
        (0.0, 1.0)
    }
}

/// `v` with `digits` significant digits (trailing zeros dropped; scientific outside
/// 1e-3 … 1e5).
pub fn significant(v: f64, digits: i32) -> String {
    if v == 0.0 || !v.is_finite() {
        return format!("{v}");
    }
    let digits = digits.max(1);
    let e = v.abs().log10().floor() as i32;
    if (-3..5).contains(&e) {
        let s = format!("{v:.*}", (digits - 1 - e).max(0) as usize);
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s
        }
    } else {
        format!("{v:.*e}", (digits - 1) as usize)
    }
}

/// Caption font of a given size.
pub fn font(size: u32) -> TextStyle<'static> {
    (FAMILY, size).into_font().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Cross;

    impl Figure for Cross {
        fn size(&self) -> (u32, u32) {
            (120, 80)
        }

        fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Drawn<DB> {
            root.draw(&PathElement::new(vec![(0, 0), (119, 79)], colour(3)))?;
            root.draw_text("Aσ", &font(20), (10, 10))
        }
    }

    #[test]
    fn figures_render_to_png_and_svg_with_the_bundled_font() {
        let bytes = png(&Cross).unwrap();
        let decoder = png::Decoder::new(std::io::Cursor::new(bytes));
        let mut reader = decoder.read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut buf).unwrap();
        assert_eq!((info.width, info.height), (120, 80));
        // The red diagonal (anti-aliased) and dark text pixels are there.
        let px = |x: usize, y: usize| &buf[(y * 120 + x) * 3..(y * 120 + x) * 3 + 3];
        let p = px(60, 40);
        assert!(p[0] > 200 && p[1] < 100 && p[2] < 100, "{p:?}");
        assert_eq!(px(100, 20), &[255, 255, 255]);
        let dark = buf.chunks(3).filter(|p| p.iter().all(|&c| c < 100)).count();
        assert!(dark > 20, "no text drawn: {dark} dark pixels");
        let svg = String::from_utf8(svg(&Cross).unwrap()).unwrap();
        assert!(svg.starts_with("<svg") && svg.contains("Aσ"), "{svg}");
    }

    #[test]
    fn scales_pick_log_for_wide_positive_ranges() {
        assert!(Scale::fitting(&[0.01, 1.0], false).log);
        assert!(!Scale::fitting(&[1.0, 2.0], false).log);
        assert!(Scale::fitting(&[1.0, 2.0], true).log);
        assert!(!Scale::fitting(&[-1.0, 100.0], true).log);
        let s = Scale { log: true };
        assert_eq!(s.at(100.0), Some(2.0));
        assert_eq!(s.at(0.0), None);
        let r = s.range(&[1.0, 100.0]);
        assert!((r.start + 0.1).abs() < 1e-12 && (r.end - 2.1).abs() < 1e-12);
        assert_eq!(s.label(-2.0, &(-2.0..0.0)), "0.01");
        assert_eq!(s.label(-1.5, &(-2.0..0.0)), "0.032");
        // Ticks of a narrow linear range keep the digits that tell them apart.
        let lin = Scale { log: false };
        assert_eq!(lin.label(103.55, &(103.5..104.0)), "103.55");
        assert_eq!(lin.label(103.6, &(103.5..104.0)), "103.6");
        assert_eq!(lin.label(0.5, &(0.0..1.0)), "0.5");
        assert_eq!(significant(0.031622, 3), "0.0316");
        assert_eq!(significant(1500.0, 3), "1500");
        assert_eq!(significant(2.5e-5, 2), "2.5e-5");
    }
}
