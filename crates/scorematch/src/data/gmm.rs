//! `gmm`: a Gaussian mixture with isotropic or diagonal components, given in the sweep file
//! or by a preset. p_σ is again a mixture, with variances s² + σ².
//!
//! Presets (all in the first two coordinates; further coordinates, up to `dim`, are centred
//! at 0 with the same standard deviation):
//! - `grid25`: 25 equal-weight modes on the 5×5 grid {−4, −2, 0, 2, 4}², std 0.1;
//! - `rings`: 36 equal-weight modes on three concentric circles of radius 1, 2 and 3 (6, 12
//!   and 18 modes, evenly spaced), std 0.1.

use serde::{Deserialize, Serialize};

use super::{DataSet, Density, Mode, check_dim};
use crate::error::{ParamError, Result};
use crate::rng::{Rng, normals};
use rand::RngExt as _;

/// A named mixture.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GmmPreset {
    /// 5×5 grid of modes, spacing 2, std 0.1.
    Grid25,
    /// Modes on three concentric circles, std 0.1.
    Rings,
}

/// Standard deviation of a component: one value for all coordinates, or one per coordinate.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Std {
    /// Isotropic: the same std in every coordinate.
    Isotropic(f64),
    /// Diagonal: one std per coordinate.
    Diagonal(Vec<f64>),
}

/// One mixture component as written in a sweep file:
/// `{ weight = 0.8, mean = [5.0, 5.0], std = 1.0 }`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Component {
    /// Relative weight (> 0; weights are normalised to sum to 1).
    pub weight: f64,
    /// Mean vector; its length is the data dimension.
    pub mean: Vec<f64>,
    /// Standard deviation.
    pub std: Std,
}

/// Parameters of `gmm`: either `preset` (with optional `dim` ≥ 2) or `components`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GmmParams {
    /// A named mixture.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preset: Option<GmmPreset>,
    /// Dimension for presets (default 2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dim: Option<usize>,
    /// Explicit components.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub components: Vec<Component>,
}

impl GmmParams {
    /// Dimension of the mixture.
    pub fn dim(&self) -> usize {
        match (&self.preset, self.components.first()) {
            (Some(_), _) => self.dim.unwrap_or(2),
            (None, Some(c)) => c.mean.len(),
            (None, None) => 0,
        }
    }

    /// The density (call after [`GmmParams::validate`]).
    pub fn build(&self) -> Gmm {
        let d = self.dim();
        let modes = match self.preset {
            Some(GmmPreset::Grid25) => {
                let mut centres = Vec::new();
                for i in 0..5 {
                    for j in 0..5 {
                        centres.push([2.0 * i as f64 - 4.0, 2.0 * j as f64 - 4.0]);
                    }
                }
                planar_modes(&centres, 0.1, d)
            }
            Some(GmmPreset::Rings) => {
                let mut centres = Vec::new();
                for (radius, count) in [(1.0, 6), (2.0, 12), (3.0, 18)] {
                    for k in 0..count {
                        let angle = std::f64::consts::TAU * k as f64 / count as f64;
                        centres.push([radius * angle.cos(), radius * angle.sin()]);
                    }
                }
                planar_modes(&centres, 0.1, d)
            }
            None => self
                .components
                .iter()
                .map(|c| Mode {
                    weight: c.weight,
                    mean: c.mean.clone(),
                    std: match &c.std {
                        Std::Isotropic(s) => vec![*s; d],
                        Std::Diagonal(s) => s.clone(),
                    },
                })
                .collect(),
        };
        Gmm::new(modes)
    }
}

impl DataSet for GmmParams {
    const CLOSED_FORM_NOISED: bool = true;
    const EXACT_SCORE: bool = true;
    const CHALLENGE: &'static str =
        "many modes: a mixture (rings or a grid of components) to cover and weigh";

    fn dim(&self) -> usize {
        GmmParams::dim(self)
    }

    fn validate(&self) -> Vec<ParamError> {
        let mut errors = Vec::new();
        match (&self.preset, self.components.is_empty()) {
            (Some(_), false) => errors.push(ParamError::new(
                "components",
                "give either `preset` or `components`, not both",
            )),
            (None, true) => errors.push(ParamError::new(
                "components",
                "give `components` (a list of { weight, mean, std }) or a `preset` \
                 (expected one of: grid25, rings)",
            )),
            (Some(_), true) => check_dim(self.dim(), 2, &mut errors),
            (None, false) => {
                if self.dim.is_some() {
                    errors.push(ParamError::new(
                        "dim",
                        "only for presets: with `components` the dimension is the means' length",
                    ));
                }
                let d = self.dim();
                check_dim(d, 1, &mut errors);
                for (k, c) in self.components.iter().enumerate() {
                    let key = |field: &str| format!("components[{k}].{field}");
                    if !(c.weight > 0.0 && c.weight.is_finite()) {
                        errors.push(ParamError::new(key("weight"), "must be positive"));
                    }
                    if c.mean.len() != d {
                        errors.push(ParamError::new(
                            key("mean"),
                            format!("has length {}, the first component's has {d}", c.mean.len()),
                        ));
                    }
                    let stds = match &c.std {
                        Std::Isotropic(s) => vec![*s],
                        Std::Diagonal(s) => {
                            if s.len() != d {
                                errors.push(ParamError::new(
                                    key("std"),
                                    format!("has length {}, expected {d}", s.len()),
                                ));
                            }
                            s.clone()
                        }
                    };
                    if stds.iter().any(|s| !(*s > 0.0 && s.is_finite())) {
                        errors.push(ParamError::new(key("std"), "must be positive"));
                    }
                }
            }
        }
        errors
    }

    fn density(&self) -> Result<Box<dyn Density>> {
        Ok(Box::new(self.build()))
    }

    fn example(dim: usize) -> Self {
        Self {
            preset: Some(GmmPreset::Rings),
            dim: Some(dim),
            components: Vec::new(),
        }
    }
}

/// Equal-weight isotropic modes centred at `centres` in the first two coordinates of `dim`.
pub(crate) fn planar_modes(centres: &[[f64; 2]], std: f64, dim: usize) -> Vec<Mode> {
    centres
        .iter()
        .map(|c| {
            let mut mean = vec![0.0; dim];
            mean[..2].copy_from_slice(c);
            Mode {
                weight: 1.0,
                mean,
                std: vec![std; dim],
            }
        })
        .collect()
}

/// A mixture of diagonal Gaussians.
#[derive(Clone, Debug)]
pub struct Gmm {
    modes: Vec<Mode>,
    log_weights: Vec<f64>,
}

impl Gmm {
    /// The mixture of `modes`; weights are normalised to sum to 1.
    pub fn new(mut modes: Vec<Mode>) -> Self {
        let total: f64 = modes.iter().map(|m| m.weight).sum();
        for m in &mut modes {
            m.weight /= total;
        }
        let log_weights = modes.iter().map(|m| m.weight.ln()).collect();
        Self { modes, log_weights }
    }

    /// log w_k + log N(x; μ_k, diag s_k²) (without the 2π constant) for every component.
    fn component_log_densities(&self, x: &[f64]) -> Vec<f64> {
        self.modes
            .iter()
            .zip(&self.log_weights)
            .map(|(m, lw)| {
                lw - x
                    .iter()
                    .zip(&m.mean)
                    .zip(&m.std)
                    .map(|((xi, mu), s)| (xi - mu).powi(2) / (2.0 * s * s) + s.ln())
                    .sum::<f64>()
            })
            .collect()
    }
}

fn log_sum_exp(v: &[f64]) -> f64 {
    let max = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    max + v.iter().map(|x| (x - max).exp()).sum::<f64>().ln()
}

impl Density for Gmm {
    fn dim(&self) -> usize {
        self.modes.first().map_or(0, |m| m.mean.len())
    }

    fn sample(&self, n: usize, rng: &mut Rng) -> Vec<f64> {
        let d = self.dim();
        let mut out = normals(rng, n * d);
        for row in out.chunks_exact_mut(d) {
            let u: f64 = rng.random();
            let mut acc = 0.0;
            let mode = self
                .modes
                .iter()
                .find(|m| {
                    acc += m.weight;
                    u < acc
                })
                .or(self.modes.last());
            if let Some(m) = mode {
                for ((x, mu), s) in row.iter_mut().zip(&m.mean).zip(&m.std) {
                    *x = mu + s * *x;
                }
            }
        }
        out
    }

    fn log_density(&self, x: &[f64]) -> f64 {
        log_sum_exp(&self.component_log_densities(x))
    }

    fn log_normalizer(&self) -> f64 {
        // The components are normalised up to (2π)^{D/2}; the weights to their sum.
        let d = self.modes.first().map_or(0, |m| m.mean.len());
        0.5 * d as f64 * std::f64::consts::TAU.ln() + log_sum_exp(&self.log_weights)
    }

    fn score_into(&self, x: &[f64], out: &mut [f64]) {
        let logs = self.component_log_densities(x);
        let total = log_sum_exp(&logs);
        out.fill(0.0);
        for (m, l) in self.modes.iter().zip(&logs) {
            let r = (l - total).exp();
            for ((o, (xi, mu)), s) in out.iter_mut().zip(x.iter().zip(&m.mean)).zip(&m.std) {
                *o -= r * (xi - mu) / (s * s);
            }
        }
    }

    fn noised(&self, sigma: f64) -> Option<Box<dyn Density>> {
        let modes = self
            .modes
            .iter()
            .map(|m| Mode {
                weight: m.weight,
                mean: m.mean.clone(),
                std: m
                    .std
                    .iter()
                    .map(|s| (s * s + sigma * sigma).sqrt())
                    .collect(),
            })
            .collect();
        Some(Box::new(Gmm::new(modes)))
    }

    fn modes(&self) -> Option<Vec<Mode>> {
        Some(self.modes.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;
    use crate::rng::{Stream, rng};

    fn unequal() -> GmmParams {
        toml::from_str(
            "components = [
               { weight = 0.8, mean = [5.0, 5.0], std = 1.0 },
               { weight = 0.2, mean = [-5.0, -5.0], std = [1.0, 0.5] },
             ]",
        )
        .unwrap()
    }

    #[test]
    fn samples_follow_the_mode_weights() {
        let g = unequal().build();
        let x = g.sample(100_000, &mut rng(0, Stream::Pool));
        let frac = x.chunks_exact(2).filter(|p| p[0] > 0.0).count() as f64 / 100_000.0;
        assert!((frac - 0.8).abs() < 0.01, "{frac}");
        let lower: Vec<f64> = x
            .chunks_exact(2)
            .filter(|p| p[0] < 0.0)
            .flatten()
            .copied()
            .collect();
        let (mean, cov) = moments(&lower, 2);
        assert!((mean[0] + 5.0).abs() < 0.03 && (mean[1] + 5.0).abs() < 0.03);
        assert!((cov[3] - 0.25).abs() < 0.02, "{}", cov[3]);
    }

    #[test]
    fn scores_match_finite_differences() {
        for p in [
            unequal(),
            toml::from_str("preset = \"grid25\"").unwrap(),
            toml::from_str("preset = \"rings\"\ndim = 3").unwrap(),
        ] {
            assert!(p.validate().is_empty());
            let g = p.build();
            assert_score_matches_log_density(&g, &probe_points(&g, 20), 1e-5);
        }
    }

    #[test]
    fn noised_mixture_is_consistent() {
        assert_noised_is_consistent(&unequal().build(), 0.7);
    }

    #[test]
    fn presets_have_their_mode_counts() {
        let count = |s: &str| {
            toml::from_str::<GmmParams>(s)
                .unwrap()
                .build()
                .modes()
                .unwrap()
                .len()
        };
        assert_eq!(count("preset = \"grid25\""), 25);
        assert_eq!(count("preset = \"rings\""), 36);
    }

    #[test]
    fn bad_components_are_reported_by_key() {
        let p: GmmParams = toml::from_str(
            "components = [
               { weight = 1.0, mean = [0.0, 0.0], std = 1.0 },
               { weight = -1.0, mean = [0.0], std = 0.0 },
             ]",
        )
        .unwrap();
        let keys: Vec<String> = p.validate().into_iter().map(|e| e.key).collect();
        assert_eq!(
            keys,
            [
                "components[1].weight",
                "components[1].mean",
                "components[1].std"
            ]
        );
        let p: GmmParams = toml::from_str("").unwrap();
        assert_eq!(p.validate()[0].key, "components");
    }
}
