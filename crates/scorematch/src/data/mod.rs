//! Data sets with closed-form scores.
//!
//! Every data set can draw samples, evaluate its log density (up to a constant) and its exact
//! score ∇ₓ log p(x), and — where one exists — give the density convolved with N(0, σ²I), so
//! that Fisher divergences are exact. All of it runs on the host in f64.
//!
//! Adding a data set: one file with its parameter struct (implementing [`DataSet`]) and its
//! [`Density`], plus one line in the registry ([`DatasetConfig`]).

mod banana;
mod eight_gaussians;
mod file;
mod funnel;
mod gaussian;
mod gmm;
mod standard_normal;

pub use banana::{Banana, BananaParams};
pub use eight_gaussians::EightGaussiansParams;
pub use file::{ColumnRef, Empirical, FileParams, Table, npy_bytes, read_table, read_table_now};
pub use funnel::{Funnel, FunnelParams};
pub use gaussian::{FullGaussian, GaussianParams};
pub use gmm::{Component, Gmm, GmmParams, GmmPreset};
pub use standard_normal::StandardNormalParams;

use serde::{Deserialize, Serialize};

use crate::error::{ParamError, Result, check};
use crate::rng::Rng;

/// One mode of a mixture: its weight, mean and per-coordinate standard deviation.
#[derive(Clone, Debug, PartialEq)]
pub struct Mode {
    /// Mixture weight (the weights of a mixture sum to 1).
    pub weight: f64,
    /// Mean vector.
    pub mean: Vec<f64>,
    /// Standard deviation of each coordinate.
    pub std: Vec<f64>,
}

/// A probability density with an exact score.
///
/// Points are rows of a row-major `[n, dim]` slice.
pub trait Density: Send + Sync {
    /// Dimension of the sample space.
    fn dim(&self) -> usize;

    /// Draws `n` samples.
    ///
    /// # Shapes
    /// - returns `[n, dim]`, row-major
    fn sample(&self, n: usize, rng: &mut Rng) -> Vec<f64>;

    /// log p(x) up to an additive constant, for one point `x` of length `dim`.
    fn log_density(&self, x: &[f64]) -> f64;

    /// log ∫ exp(log_density): the constant that normalises [`Density::log_density`], so that
    /// log p(x) = log_density(x) − log_normalizer() exactly (KL divergences, likelihoods).
    fn log_normalizer(&self) -> f64;

    /// The score ∇ₓ log p(x) of one point, written to `out` (both of length `dim`).
    fn score_into(&self, x: &[f64], out: &mut [f64]);

    /// The density of x + σε, ε ~ N(0, I), when it has a closed form.
    fn noised(&self, sigma: f64) -> Option<Box<dyn Density>>;

    /// The modes, for mixtures (used by mode-coverage metrics).
    fn modes(&self) -> Option<Vec<Mode>> {
        None
    }

    /// The held-out rows of an empirical data set (read from a file), `[m, dim]`. Such a
    /// data set has no exact score, log density or p_σ: its score methods return NaN, and
    /// every caller that needs them checks this first and leaves those metrics empty.
    fn test_split(&self) -> Option<&[f64]> {
        None
    }

    /// Scores of many points.
    ///
    /// # Shapes
    /// - `x`: `[n, dim]` → `[n, dim]`
    fn scores(&self, x: &[f64]) -> Vec<f64> {
        let d = self.dim();
        let mut out = vec![0.0; x.len()];
        for (xi, oi) in x.chunks_exact(d).zip(out.chunks_exact_mut(d)) {
            self.score_into(xi, oi);
        }
        out
    }
}

/// A data set's parameters as a sweep file gives them: what every data set declares.
pub trait DataSet {
    /// Whether the noised density p_σ = p * N(0, σ²I) has a closed form (so objectives can
    /// target it and the Fisher divergence against it is exact).
    const CLOSED_FORM_NOISED: bool;

    /// Whether the data set has an exact score and log density (closed-form densities do;
    /// data read from files do not, and their Fisher divergences are left empty).
    const EXACT_SCORE: bool;

    /// What makes the data set hard, in a phrase (`runner tasks` lists it).
    const CHALLENGE: &'static str;

    /// Dimension of the sample space.
    fn dim(&self) -> usize;

    /// Every problem with the parameters (keys relative to the data set's block).
    fn validate(&self) -> Vec<ParamError>;

    /// The density (call after [`DataSet::validate`]).
    fn density(&self) -> Result<Box<dyn Density>>;

    /// A typical instance in `dim` dimensions (for registry-wide tests and examples).
    fn example(dim: usize) -> Self;
}

/// Makes [`DatasetConfig`] from the registry's lines `Variant(Params) = "name";`: the enum
/// sweep files deserialise into, its names, and the dispatch of [`DataSet`] to the variant's
/// parameters.
macro_rules! datasets {
    ($($(#[doc = $doc:literal])* $variant:ident($params:ty) = $name:literal;)+) => {
        /// A data set as named in a sweep file: `{ name = "gaussian", dim = 10 }`.
        #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
        #[serde(tag = "name")]
        pub enum DatasetConfig {
            $($(#[doc = $doc])* #[serde(rename = $name)] $variant($params),)+
        }

        impl DatasetConfig {
            /// Every data set's name, in registry order.
            pub const NAMES: &'static [&'static str] = &[$($name),+];

            /// Every data set's example in `dim` dimensions, in registry order.
            pub fn examples(dim: usize) -> Vec<Self> {
                vec![$(Self::$variant(<$params as DataSet>::example(dim))),+]
            }

            /// The data set's name.
            pub fn name(&self) -> &'static str {
                match self { $(Self::$variant(_) => $name),+ }
            }

            /// Dimension of the sample space.
            pub fn dim(&self) -> usize {
                match self { $(Self::$variant(p) => p.dim()),+ }
            }

            /// Whether the noised density p_σ has a closed form (see
            /// [`DataSet::CLOSED_FORM_NOISED`]).
            pub fn has_closed_form_noised(&self) -> bool {
                match self { $(Self::$variant(_) => <$params as DataSet>::CLOSED_FORM_NOISED),+ }
            }

            /// What makes the data set hard (see [`DataSet::CHALLENGE`]).
            pub fn challenge(&self) -> &'static str {
                match self { $(Self::$variant(_) => <$params as DataSet>::CHALLENGE),+ }
            }

            /// Whether the data set has an exact score (see [`DataSet::EXACT_SCORE`]).
            pub fn has_exact_score(&self) -> bool {
                match self { $(Self::$variant(_) => <$params as DataSet>::EXACT_SCORE),+ }
            }

            /// Every problem with the parameters (empty when valid).
            pub fn validate(&self) -> Vec<ParamError> {
                match self { $(Self::$variant(p) => DataSet::validate(p)),+ }
            }

            /// The density, after validation.
            pub fn build(&self) -> Result<Box<dyn Density>> {
                check(self.validate())?;
                match self { $(Self::$variant(p) => p.density()),+ }
            }
        }
    };
}

datasets! {
    /// `gaussian`: N(0, Σ) with a seeded random covariance.
    Gaussian(GaussianParams) = "gaussian";
    /// `standard_normal`: N(0, I).
    StandardNormal(StandardNormalParams) = "standard_normal";
    /// `8gaussians`: eight modes on a circle of radius 2.
    EightGaussians(EightGaussiansParams) = "8gaussians";
    /// `gmm`: any isotropic or diagonal Gaussian mixture, or a preset.
    Gmm(GmmParams) = "gmm";
    /// `funnel`: Neal's funnel.
    Funnel(FunnelParams) = "funnel";
    /// `banana`: a twisted Gaussian.
    Banana(BananaParams) = "banana";
    /// `file`: rows of a CSV or `.npy` file, split into training and test rows (no exact
    /// score).
    File(FileParams) = "file";
}

/// `dim` must be at least `min`.
pub(crate) fn check_dim(dim: usize, min: usize, errors: &mut Vec<ParamError>) {
    if dim < min {
        errors.push(ParamError::new(
            "dim",
            format!("must be at least {min}, got {dim}"),
        ));
    }
}

#[cfg(test)]
pub(crate) mod testing {
    //! Checks every data set must pass.

    use super::*;
    use crate::rng::{Stream, rng};

    /// The analytic score equals central finite differences of the log density.
    pub fn assert_score_matches_log_density(density: &dyn Density, points: &[f64], tol: f64) {
        let d = density.dim();
        let h = 1e-5;
        for x in points.chunks_exact(d) {
            let mut score = vec![0.0; d];
            density.score_into(x, &mut score);
            let mut xp = x.to_vec();
            for i in 0..d {
                xp[i] = x[i] + h;
                let up = density.log_density(&xp);
                xp[i] = x[i] - h;
                let down = density.log_density(&xp);
                xp[i] = x[i];
                let fd = (up - down) / (2.0 * h);
                let scale = 1.0 + fd.abs();
                assert!(
                    (score[i] - fd).abs() <= tol * scale,
                    "coordinate {i} at {x:?}: analytic {} vs finite difference {fd}",
                    score[i]
                );
            }
        }
    }

    /// Sample mean and (biased) covariance, row-major `[d, d]`.
    pub fn moments(x: &[f64], d: usize) -> (Vec<f64>, Vec<f64>) {
        let n = x.len() / d;
        let mut mean = vec![0.0; d];
        for row in x.chunks_exact(d) {
            for (m, v) in mean.iter_mut().zip(row) {
                *m += v / n as f64;
            }
        }
        let mut cov = vec![0.0; d * d];
        for row in x.chunks_exact(d) {
            for i in 0..d {
                for j in 0..d {
                    cov[i * d + j] += (row[i] - mean[i]) * (row[j] - mean[j]) / n as f64;
                }
            }
        }
        (mean, cov)
    }

    /// Points to test scores at: samples of the density, a little spread out.
    pub fn probe_points(density: &dyn Density, n: usize) -> Vec<f64> {
        density
            .sample(n, &mut rng(99, Stream::Eval))
            .into_iter()
            .map(|v| 1.2 * v + 0.05)
            .collect()
    }

    /// The noised density's score equals the score of an independently computed p_σ at points.
    pub fn assert_noised_is_consistent(density: &dyn Density, sigma: f64) {
        let noised = density.noised(sigma).expect("closed-form p_σ");
        let pts = probe_points(density, 20);
        assert_score_matches_log_density(noised.as_ref(), &pts, 1e-6);
        // Sampling p_σ as x + σε matches the noised density's second moments.
        let d = density.dim();
        let n = 100_000;
        let mut r = rng(5, Stream::Eval);
        let mut x = density.sample(n, &mut r);
        for (v, e) in x.iter_mut().zip(crate::rng::normals(&mut r, n * d)) {
            *v += sigma * e;
        }
        let y = noised.sample(n, &mut rng(6, Stream::Eval));
        let (mx, cx) = moments(&x, d);
        let (my, cy) = moments(&y, d);
        for (a, b) in mx.iter().zip(&my).chain(cx.iter().zip(&cy)) {
            assert!((a - b).abs() < 0.05 * (1.0 + b.abs()), "{a} vs {b}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> std::result::Result<DatasetConfig, String> {
        toml::from_str(s).map_err(|e| e.to_string())
    }

    #[test]
    fn every_registered_data_set_builds_and_scores() {
        let examples = DatasetConfig::examples(3);
        assert_eq!(examples.len(), DatasetConfig::NAMES.len());
        for (cfg, name) in examples.iter().zip(DatasetConfig::NAMES) {
            assert_eq!(cfg.name(), *name);
            assert_eq!(cfg.dim(), 3, "{name}");
            // Examples round-trip through a sweep file's TOML.
            let text = toml::to_string(cfg).unwrap();
            assert_eq!(&parse(&text).unwrap(), cfg, "{text}");
            let density = cfg.build().unwrap();
            assert_eq!(density.dim(), cfg.dim());
            // The declared capability is the density's own: an exact score exactly where
            // there is no held-out split standing in for it.
            assert_eq!(
                cfg.has_exact_score(),
                density.test_split().is_none(),
                "{name}"
            );
            if cfg.has_exact_score() {
                let pts = testing::probe_points(density.as_ref(), 10);
                testing::assert_score_matches_log_density(density.as_ref(), &pts, 1e-5);
            }
            // The declared capability is the density's own: a closed-form p_σ exists exactly
            // where the data set says so.
            assert_eq!(
                cfg.has_closed_form_noised(),
                density.noised(0.3).is_some(),
                "{name}"
            );
        }
    }

    #[test]
    fn unknown_names_and_keys_are_refused_with_the_valid_ones() {
        let err = parse("name = \"gausian\"\ndim = 3").unwrap_err();
        assert!(
            err.contains("gaussian") && err.contains("8gaussians"),
            "{err}"
        );
        let err = parse("name = \"gaussian\"\ndim = 3\ndimm = 4").unwrap_err();
        assert!(err.contains("unknown field `dimm`"), "{err}");
    }

    #[test]
    fn unsupported_dims_are_reported_by_key() {
        let cfg = parse("name = \"8gaussians\"\ndim = 1").unwrap();
        let errors = cfg.validate();
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].key, "dim");
        assert!(cfg.build().is_err());
    }

    #[test]
    fn configs_round_trip_through_toml() {
        for s in [
            "name = \"gaussian\"\ndim = 4\ndata_seed = 3",
            "name = \"8gaussians\"",
            "name = \"gmm\"\npreset = \"grid25\"",
            "name = \"funnel\"\ndim = 5",
        ] {
            let cfg = parse(s).unwrap();
            let back = parse(&toml::to_string(&cfg).unwrap()).unwrap();
            assert_eq!(cfg, back);
        }
    }
}
