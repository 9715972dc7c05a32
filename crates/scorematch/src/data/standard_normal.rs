//! `standard_normal`: N(0, I) in D dimensions (the data of the sliced score matching
//! scalability experiment); p_σ = N(0, (1 + σ²) I).

use serde::{Deserialize, Serialize};

use super::{DataSet, Density, FullGaussian, check_dim};
use crate::error::{ParamError, Result};

/// Parameters of `standard_normal`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StandardNormalParams {
    /// Dimension D ≥ 1.
    pub dim: usize,
}

impl StandardNormalParams {
    /// The density.
    pub fn build(&self) -> FullGaussian {
        FullGaussian::isotropic(self.dim, 1.0)
    }
}

impl DataSet for StandardNormalParams {
    const CLOSED_FORM_NOISED: bool = true;
    const EXACT_SCORE: bool = true;
    const CHALLENGE: &'static str =
        "dimension: N(0, I), easy per coordinate, for scaling to large D";

    fn dim(&self) -> usize {
        self.dim
    }

    fn validate(&self) -> Vec<ParamError> {
        let mut errors = Vec::new();
        check_dim(self.dim, 1, &mut errors);
        errors
    }

    fn density(&self) -> Result<Box<dyn Density>> {
        Ok(Box::new(self.build()))
    }

    fn example(dim: usize) -> Self {
        Self { dim }
    }
}

#[cfg(test)]
mod tests {
    use super::super::Density;
    use super::super::testing::*;
    use super::*;

    #[test]
    fn score_is_minus_x() {
        let g = StandardNormalParams { dim: 3 }.build();
        let mut out = [0.0; 3];
        g.score_into(&[1.0, -2.0, 0.5], &mut out);
        assert_eq!(out, [-1.0, 2.0, -0.5]);
        assert_noised_is_consistent(&g, 1.0);
    }
}
