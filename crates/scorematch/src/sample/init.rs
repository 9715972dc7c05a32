//! Initial distributions of the Langevin samplers.

use rand::RngExt as _;
use serde::{Deserialize, Serialize};

use crate::error::ParamError;
use crate::rng::{Rng, normals};

/// Parameters of `normal`: N(0, scale² I).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NormalInit {
    /// Standard deviation of every coordinate (default 1).
    #[serde(default = "one")]
    pub scale: f64,
}

fn one() -> f64 {
    1.0
}

/// Parameters of `uniform`: uniform on the box [lo, hi]^D.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UniformInit {
    /// Lower end of every coordinate.
    pub lo: f64,
    /// Upper end of every coordinate.
    pub hi: f64,
}

/// Where the chains start: `{ name = "normal", scale = 1.0 }` or
/// `{ name = "uniform", lo = -8.0, hi = 8.0 }`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "name")]
pub enum InitialDistribution {
    /// `normal`: N(0, scale² I).
    #[serde(rename = "normal")]
    Normal(NormalInit),
    /// `uniform`: uniform on [lo, hi]^D.
    #[serde(rename = "uniform")]
    Uniform(UniformInit),
}

impl Default for InitialDistribution {
    fn default() -> Self {
        InitialDistribution::Normal(NormalInit { scale: 1.0 })
    }
}

impl InitialDistribution {
    /// Names of every initial distribution.
    pub const NAMES: [&'static str; 2] = ["normal", "uniform"];

    /// N(0, scale² I).
    pub fn normal(scale: f64) -> Self {
        InitialDistribution::Normal(NormalInit { scale })
    }

    /// The distribution's name.
    pub fn name(&self) -> &'static str {
        match self {
            InitialDistribution::Normal(_) => "normal",
            InitialDistribution::Uniform(_) => "uniform",
        }
    }

    /// Every problem with the parameters.
    pub fn validate(&self) -> Vec<ParamError> {
        let mut errors = Vec::new();
        match self {
            InitialDistribution::Normal(p) => {
                if !(p.scale > 0.0 && p.scale.is_finite()) {
                    errors.push(ParamError::new(
                        "scale",
                        format!("must be positive, got {}", p.scale),
                    ));
                }
            }
            InitialDistribution::Uniform(p) => {
                if !(p.lo.is_finite() && p.hi.is_finite() && p.lo < p.hi) {
                    errors.push(ParamError::new(
                        "hi",
                        format!("must be finite and above lo = {}, got {}", p.lo, p.hi),
                    ));
                }
            }
        }
        errors
    }

    /// `n` starting points in `dim` dimensions.
    ///
    /// # Shapes
    /// - returns `[n, dim]`, row-major
    pub fn sample(&self, n: usize, dim: usize, rng: &mut Rng) -> Vec<f64> {
        match self {
            InitialDistribution::Normal(p) => normals(rng, n * dim)
                .into_iter()
                .map(|z| p.scale * z)
                .collect(),
            InitialDistribution::Uniform(p) => (0..n * dim)
                .map(|_| p.lo + (p.hi - p.lo) * rng.random::<f64>())
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::{Stream, rng};

    #[test]
    fn every_initial_distribution_parses_and_has_its_moments() {
        for (name, extra, mean, var) in [
            ("normal", "scale = 2.0", 0.0, 4.0),
            ("uniform", "lo = -1.0\nhi = 3.0", 1.0, 16.0 / 12.0),
        ] {
            let init: InitialDistribution =
                toml::from_str(&format!("name = \"{name}\"\n{extra}")).unwrap();
            assert_eq!(init.name(), name);
            assert!(init.validate().is_empty());
            let x = init.sample(50_000, 2, &mut rng(0, Stream::Sampler));
            let m = x.iter().sum::<f64>() / x.len() as f64;
            let v = x.iter().map(|a| (a - m).powi(2)).sum::<f64>() / x.len() as f64;
            assert!(
                (m - mean).abs() < 0.03 && (v - var).abs() < 0.03 * var,
                "{name}: {m} {v}"
            );
        }
        assert!(InitialDistribution::NAMES.contains(&InitialDistribution::default().name()));
    }

    #[test]
    fn bad_initial_distributions_name_their_keys() {
        let err = toml::from_str::<InitialDistribution>("name = \"gauss\"")
            .unwrap_err()
            .to_string();
        assert!(err.contains("normal") && err.contains("uniform"), "{err}");
        let keys = |s: &str| -> Vec<String> {
            toml::from_str::<InitialDistribution>(s)
                .unwrap()
                .validate()
                .into_iter()
                .map(|e| e.key)
                .collect()
        };
        assert_eq!(keys("name = \"normal\"\nscale = -1.0"), ["scale"]);
        assert_eq!(keys("name = \"uniform\"\nlo = 1.0\nhi = 1.0"), ["hi"]);
        assert!(toml::from_str::<InitialDistribution>("name = \"uniform\"\nlo = 0.0").is_err());
    }
}
