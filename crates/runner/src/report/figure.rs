//! Rendering figures with plotters to PNG and SVG, with text in a bundled font (DejaVu Sans,
//! `crates/runner/assets/`) so that no system font library or font file is needed.

use std::ops::Range;
use std::sync::OnceLock;

use anyhow::{Result, anyhow};
use plotters::coord::Shift;
use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint, Ranged};
use plotters::coord::types::RangedCoordf64;
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

/// A linear or log10 axis: values are drawn at [`Scale::at`].
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
}

/// Most labelled ticks on a numeric axis.
const MAX_TICKS: i64 = 8;

/// An axis as drawn: its range and ticks (in drawn units) and how ticks are labelled. Log
/// axes have their ticks exactly at powers of ten, labelled `10⁻²`, and span whole decades
/// around the data; linear axes have ticks at 1, 2 or 5 × a power of ten; categorical axes
/// have one tick per category at 0, 1, ….
#[derive(Clone, Debug, PartialEq)]
pub struct Axis {
    /// How values map to drawn positions (linear for categories).
    pub scale: Scale,
    /// The drawn range.
    pub range: Range<f64>,
    /// Drawn positions of the labelled ticks.
    pub ticks: Vec<f64>,
    /// The distance between ticks (drawn units).
    step: f64,
    /// Tick `i`'s label on a categorical axis (empty on numeric axes).
    categories: Vec<String>,
}

impl Axis {
    /// A numeric axis covering `values` (those `scale` cannot draw are left out).
    pub fn numeric(scale: Scale, values: &[f64]) -> Axis {
        let drawn: Vec<f64> = values.iter().filter_map(|&v| scale.at(v)).collect();
        let (lo, hi) = if drawn.is_empty() {
            (0.0, 1.0)
        } else {
            bounds(&drawn)
        };
        if scale.log {
            log_axis(lo, hi)
        } else {
            linear_axis(lo, hi)
        }
    }

    /// A categorical axis: category `i` at position `i`.
    pub fn categorical(categories: Vec<String>) -> Axis {
        let n = categories.len().max(1) as f64;
        Axis {
            scale: Scale { log: false },
            range: -0.5..n - 0.5,
            ticks: (0..categories.len()).map(|i| i as f64).collect(),
            step: 1.0,
            categories,
        }
    }

    /// Whether the axis shows categories.
    pub fn is_categorical(&self) -> bool {
        !self.categories.is_empty()
    }

    /// The label of the tick at drawn position `at`.
    pub fn label(&self, at: f64) -> String {
        if self.is_categorical() {
            let i = at.round();
            return (i >= 0.0)
                .then(|| self.categories.get(i as usize))
                .flatten()
                .cloned()
                .unwrap_or_default();
        }
        if self.scale.log {
            return power_of_ten(at.round() as i32);
        }
        if at.abs() < self.step * 1e-9 {
            return "0".to_string();
        }
        let top = self.range.start.abs().max(self.range.end.abs());
        let digits = (top.log10().floor() - self.step.log10().floor()) as i32 + 1;
        significant(at, digits.clamp(1, 8))
    }

    /// The plotters coordinate: the range with exactly [`Axis::ticks`] as its key points.
    pub fn coord(&self) -> Ticked {
        Ticked {
            inner: self.range.clone().into(),
            ticks: self.ticks.clone(),
        }
    }
}

/// A plotters coordinate whose ticks (and grid lines) are given, not chosen by plotters.
#[derive(Clone)]
pub struct Ticked {
    inner: RangedCoordf64,
    ticks: Vec<f64>,
}

impl Ranged for Ticked {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        self.inner.map(value, limit)
    }

    fn key_points<Hint: KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        if hint.weight().allow_light_points() {
            Vec::new()
        } else {
            self.ticks.clone()
        }
    }

    fn range(&self) -> Range<f64> {
        self.inner.range()
    }
}

/// A log axis over drawn (log10) positions `lo..=hi`: ticks at every `step`-th power of ten
/// from the one at or below the smallest value to the one at or above the largest (at least
/// two), the range padded by 4% of their span.
fn log_axis(lo: f64, hi: f64) -> Axis {
    // Powers of ten written in decimal are not always exact: 1e-9 of a decade is slack.
    let mut first = (lo + 1e-9).floor() as i64;
    let mut last = ((hi - 1e-9).ceil() as i64).max(first + 1);
    let step = (last - first + MAX_TICKS - 1) / MAX_TICKS;
    first = first.div_euclid(step) * step;
    last = -((-last).div_euclid(step) * step);
    let pad = 0.04 * (last - first) as f64;
    Axis {
        scale: Scale { log: true },
        range: first as f64 - pad..last as f64 + pad,
        ticks: (first..=last)
            .step_by(step as usize)
            .map(|e| e as f64)
            .collect(),
        step: step as f64,
        categories: Vec::new(),
    }
}

/// A linear axis over `lo..=hi`, padded by 5% (around a single value: 5% of its size, or
/// ±0.05), with ticks at a round step.
fn linear_axis(lo: f64, hi: f64) -> Axis {
    let pad = if hi > lo {
        (hi - lo) * 0.05
    } else {
        0.05 * lo.abs().max(1.0)
    };
    let range = lo - pad..hi + pad;
    let rough = (range.end - range.start) / MAX_TICKS as f64;
    let power = 10f64.powf(rough.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * power)
        .find(|s| *s >= rough)
        .unwrap_or(10.0 * power);
    let first = (range.start / step).ceil() as i64;
    let last = (range.end / step).floor() as i64;
    Axis {
        scale: Scale { log: false },
        ticks: (first..=last).map(|k| k as f64 * step).collect(),
        range,
        step,
        categories: Vec::new(),
    }
}

/// `10` with `exponent` as a superscript: `10⁻²`, `10⁰`, `10³`.
pub fn power_of_ten(exponent: i32) -> String {
    const DIGITS: [char; 10] = ['⁰', '¹', '²', '³', '⁴', '⁵', '⁶', '⁷', '⁸', '⁹'];
    let mut out = String::from("10");
    if exponent < 0 {
        out.push('⁻');
    }
    for c in exponent.unsigned_abs().to_string().chars() {
        if let Some(d) = c.to_digit(10) {
            out.push(DIGITS[d as usize]);
        }
    }
    out
}

/// The width in pixels of `text` in the figure font at `size` (estimated if the font cannot
/// measure it).
pub fn text_width(text: &str, size: u32) -> u32 {
    FontDesc::new(FAMILY.into(), size.into(), FontStyle::Normal)
        .box_size(text)
        .map(|(w, _)| w)
        .unwrap_or_else(|_| (text.chars().count() as f64 * size as f64 * 0.62).ceil() as u32)
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
        assert_eq!(significant(0.031622, 3), "0.0316");
        assert_eq!(significant(1500.0, 3), "1500");
        assert_eq!(significant(2.5e-5, 2), "2.5e-5");
    }

    #[test]
    fn log_ticks_are_the_powers_of_ten_covering_the_data_and_none_between() {
        let log = Scale { log: true };
        // The σ axis: 0.016 … 0.063 read as three odd ticks; now 10⁻² and 10⁻¹.
        let a = Axis::numeric(log, &[0.016, 0.025, 0.063]);
        assert_eq!(a.ticks, [-2.0, -1.0]);
        let labels: Vec<String> = a.ticks.iter().map(|&t| a.label(t)).collect();
        assert_eq!(labels, ["10⁻²", "10⁻¹"]);
        assert!(a.range.start < -2.0 && a.range.end > -1.0);
        // Data from 0.003 to 20: every decade from 10⁻³ to 10², each exactly once.
        let b = Axis::numeric(log, &[0.003, 0.5, 20.0, -1.0, 0.0]);
        assert_eq!(b.ticks, [-3.0, -2.0, -1.0, 0.0, 1.0, 2.0]);
        assert_eq!(b.label(0.0), "10⁰");
        assert_eq!(b.label(2.0), "10²");
        // Values at a power of ten need no decade beyond it.
        let c = Axis::numeric(log, &[0.01, 1.0]);
        assert_eq!(c.ticks, [-2.0, -1.0, 0.0]);
        let d = Axis::numeric(log, &[1e-3]);
        assert_eq!(d.ticks, [-3.0, -2.0]);
        // Over many decades every other (or third …) power, still only powers of ten, still
        // covering the data.
        let e = Axis::numeric(log, &[1e-9, 1e6]);
        assert!(e.ticks.len() <= MAX_TICKS as usize + 1, "{:?}", e.ticks);
        assert!(e.ticks[0] <= -9.0 && *e.ticks.last().unwrap() >= 6.0);
        assert!(e.ticks.iter().all(|t| t.fract() == 0.0));
        assert_eq!(power_of_ten(-12), "10⁻¹²");
    }

    #[test]
    fn linear_ticks_are_round_and_labelled_with_the_digits_that_tell_them_apart() {
        let a = Axis::numeric(Scale { log: false }, &[0.0, 1.0]);
        let labels: Vec<String> = a.ticks.iter().map(|&t| a.label(t)).collect();
        assert_eq!(labels, ["0", "0.2", "0.4", "0.6", "0.8", "1"]);
        let b = Axis::numeric(Scale { log: false }, &[103.5, 104.0]);
        assert_eq!(b.label(b.ticks[1]), "103.6");
        let c = Axis::categorical(vec!["dsm".into(), "esm".into()]);
        assert_eq!(c.ticks, [0.0, 1.0]);
        assert_eq!(
            (c.label(0.0), c.label(1.0), c.label(2.0)),
            ("dsm".into(), "esm".into(), String::new())
        );
    }
}
