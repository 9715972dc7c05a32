//! Where samplers get their scores: a trained [`ScoreModel`] or an exact [`Density`].

use crate::backend::{Ctx, to_host};
use crate::data::Density;
use crate::error::{Error, ParamError, Result};
use crate::model::ScoreModel;

/// Rows a model evaluates per forward pass.
const CHUNK: usize = 4096;

/// A score function s(x) ≈ ∇ₓ log p(x), or s(x, σ) ≈ ∇ₓ log p_σ(x) for the data density
/// convolved with N(0, σ²I), evaluated for many points at once on the host.
pub trait ScoreFn {
    /// Dimension of the points.
    fn dim(&self) -> usize;

    /// The scores of the rows of `x` at noise level `sigma` (`None`: the clean score, or
    /// whatever a score that ignores σ computes).
    ///
    /// # Shapes
    /// - `x`: `[n, dim]` → `[n, dim]`, row-major
    fn score(&self, x: &[f64], sigma: Option<f64>) -> Result<Vec<f64>>;

    /// The unnormalised log density log p̃ of the rows of `x` (at noise level `sigma`), for
    /// scores that come from one; `None` for a free score network.
    ///
    /// # Shapes
    /// - `x`: `[n, dim]` → `n` values
    fn log_density(&self, x: &[f64], sigma: Option<f64>) -> Result<Option<Vec<f64>>>;
}

/// A trained model as a score function, evaluated in chunks on its device.
///
/// A noise-conditional model needs σ; other models ignore it (a model trained by DSM at one σ
/// approximates the score of p_σ whatever it is told).
pub struct ModelScore<'a> {
    model: &'a ScoreModel,
    ctx: &'a Ctx,
    dim: usize,
}

impl<'a> ModelScore<'a> {
    /// `model` (an inference copy, `valid()`) on `ctx`'s device, for points of dimension
    /// `dim`.
    pub fn new(model: &'a ScoreModel, ctx: &'a Ctx, dim: usize) -> Self {
        Self { model, ctx, dim }
    }
}

impl ScoreFn for ModelScore<'_> {
    fn dim(&self) -> usize {
        self.dim
    }

    fn score(&self, x: &[f64], sigma: Option<f64>) -> Result<Vec<f64>> {
        if sigma.is_none() && self.model.is_noise_conditional() {
            return Err(Error::InvalidConfig(vec![ParamError::new(
                "sampler",
                "a noise-conditional model needs a noise level σ to evaluate its score",
            )]));
        }
        let mut out = Vec::with_capacity(x.len());
        for chunk in x.chunks(CHUNK * self.dim) {
            let rows = chunk.len() / self.dim;
            let sigma = sigma.map(|s| self.ctx.matrix(&vec![s; rows], rows, 1));
            let s = self
                .model
                .forward(self.ctx.matrix(chunk, rows, self.dim), sigma.as_ref());
            out.extend(to_host(s)?);
        }
        Ok(out)
    }

    fn log_density(&self, x: &[f64], sigma: Option<f64>) -> Result<Option<Vec<f64>>> {
        let mut out = Vec::with_capacity(x.len() / self.dim);
        for chunk in x.chunks(CHUNK * self.dim) {
            let rows = chunk.len() / self.dim;
            let sigma = sigma.map(|s| self.ctx.matrix(&vec![s; rows], rows, 1));
            let Some(energy) = self
                .model
                .energy(self.ctx.matrix(chunk, rows, self.dim), sigma.as_ref())
            else {
                return Ok(None);
            };
            out.extend(to_host(energy)?.into_iter().map(|e| -e));
        }
        Ok(Some(out))
    }
}

/// The exact score of a density: ∇log p for σ = `None`, ∇log p_σ for σ = `Some(σ)` (where p_σ
/// has a closed form).
pub struct ExactScore<'a> {
    density: &'a dyn Density,
}

impl<'a> ExactScore<'a> {
    /// The exact score of `density`.
    pub fn new(density: &'a dyn Density) -> Self {
        Self { density }
    }
}

impl ScoreFn for ExactScore<'_> {
    fn dim(&self) -> usize {
        self.density.dim()
    }

    fn score(&self, x: &[f64], sigma: Option<f64>) -> Result<Vec<f64>> {
        match sigma {
            None => Ok(self.density.scores(x)),
            Some(s) => match self.density.noised(s) {
                Some(noised) => Ok(noised.scores(x)),
                None => Err(Error::InvalidConfig(vec![ParamError::new(
                    "sampler",
                    "the density has no closed-form noised density p_σ, so its exact score \
                     at σ > 0 is unknown",
                )])),
            },
        }
    }

    fn log_density(&self, x: &[f64], sigma: Option<f64>) -> Result<Option<Vec<f64>>> {
        let d = self.density.dim();
        let noised;
        let density = match sigma {
            None => self.density,
            Some(s) => match self.density.noised(s) {
                Some(q) => {
                    noised = q;
                    noised.as_ref()
                }
                None => return Ok(None),
            },
        };
        Ok(Some(
            x.chunks_exact(d).map(|p| density.log_density(p)).collect(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::{Backend, Precision};
    use crate::data::{DatasetConfig, GaussianParams};
    use crate::model::testing::random_mlp;
    use crate::model::{Activation, Dense, Linear};
    use crate::rng::{Stream, rng};

    fn ctx() -> Ctx {
        Ctx::new(Backend::Flex.device().unwrap(), Precision::F64)
    }

    #[test]
    fn a_linear_model_of_the_exact_score_agrees_with_the_density_across_chunks() {
        let g = GaussianParams {
            dim: 3,
            data_seed: 0,
        }
        .build()
        .unwrap();
        let ctx = ctx();
        // The exact score as a linear model: W = −Σ⁻¹, b = 0.
        let w: Vec<f64> = g.precision().iter().map(|v| -v).collect();
        let model = ScoreModel::Linear(Linear::from_dense(Dense::from_values(
            &w, &[0.0; 3], 3, 3, &ctx,
        )));
        // More rows than one chunk, so the chunking is exercised.
        let x = g.sample(CHUNK + 7, &mut rng(0, Stream::Sampler));
        let got = ModelScore::new(&model, &ctx, 3).score(&x, None).unwrap();
        let want = ExactScore::new(&g).score(&x, None).unwrap();
        assert_eq!(got.len(), want.len());
        for (a, b) in got.iter().zip(&want) {
            assert!((a - b).abs() < 1e-12 * (1.0 + b.abs()), "{a} vs {b}");
        }
    }

    #[test]
    fn sigma_selects_the_noised_density_and_is_required_by_conditional_models() {
        let gmm = toml::from_str::<DatasetConfig>("name = \"8gaussians\"")
            .unwrap()
            .build()
            .unwrap();
        let x = [1.0, 0.5, -0.3, 2.0];
        let exact = ExactScore::new(gmm.as_ref());
        assert_eq!(exact.score(&x, None).unwrap(), gmm.scores(&x));
        assert_eq!(
            exact.score(&x, Some(0.5)).unwrap(),
            gmm.noised(0.5).unwrap().scores(&x)
        );
        let funnel = toml::from_str::<DatasetConfig>("name = \"funnel\"\ndim = 2")
            .unwrap()
            .build()
            .unwrap();
        let err = ExactScore::new(funnel.as_ref())
            .score(&x, Some(0.5))
            .unwrap_err();
        assert!(err.to_string().contains("closed-form"), "{err}");

        let ctx = ctx();
        let model = random_mlp(Activation::Silu, 2, 2, true, &ctx, 0);
        let score = ModelScore::new(&model, &ctx, 2);
        assert!(score.score(&x, None).is_err());
        // s(x, σ) = f(x, log σ)/σ: a different σ gives a different score.
        let a = score.score(&x, Some(0.1)).unwrap();
        let b = score.score(&x, Some(1.0)).unwrap();
        assert!(a.iter().zip(&b).all(|(u, v)| u.is_finite() && u != v));
    }
}
