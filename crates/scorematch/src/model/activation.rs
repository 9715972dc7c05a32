//! Activations with their first derivative written as tensor ops, so that reverse mode can
//! differentiate act′(z) with respect to the parameters (needed by ISM and SSM, which put the
//! Jacobian of the network into the loss).
//!
//! The logistic function σ uses burn's fused `sigmoid` op in f32, and in f64 the stable
//! form e^{min(z, 0)} / (1 + e^{−|z|}) with tensor ops, because burn's generic `sigmoid`
//! computes in f32 even for f64 tensors on some backends. Neither form overflows: a naive
//! 1 / (1 + e^{−z}) gives e^{−z} = ∞ for z < −88 in f32 and a NaN gradient.

use burn::tensor::activation::sigmoid;
use burn::tensor::{DType, Tensor};
use serde::{Deserialize, Serialize};

/// A pointwise nonlinearity.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Activation {
    /// z·σ(z) (the default).
    #[default]
    Silu,
    /// log(1 + eᶻ).
    Softplus,
    /// tanh z.
    Tanh,
    /// z for z > 0, eᶻ − 1 otherwise.
    Elu,
    /// max(z, 0); its second derivative is zero, so ISM/SSM cannot train it.
    Relu,
}

impl Activation {
    /// Every activation.
    pub const ALL: [Activation; 5] = [
        Activation::Silu,
        Activation::Softplus,
        Activation::Tanh,
        Activation::Elu,
        Activation::Relu,
    ];

    /// The name used in sweep files.
    pub fn name(self) -> &'static str {
        match self {
            Activation::Silu => "silu",
            Activation::Softplus => "softplus",
            Activation::Tanh => "tanh",
            Activation::Elu => "elu",
            Activation::Relu => "relu",
        }
    }

    /// Whether act″ is non-zero, i.e. whether objectives that differentiate the network's
    /// Jacobian (ISM, SSM, SSM-VR) get a useful gradient through it.
    pub fn has_curvature(self) -> bool {
        self != Activation::Relu
    }

    /// f(z).
    ///
    /// # Shapes
    /// - `z`: any shape → same shape
    pub fn apply<const D: usize>(self, z: Tensor<D>) -> Tensor<D> {
        match self {
            Activation::Silu => z.clone() * logistic(z),
            Activation::Softplus => softplus(z),
            Activation::Tanh => z.tanh(),
            Activation::Elu => z.clone().clamp_min(0.0) + z.clamp_max(0.0).exp() - 1.0,
            Activation::Relu => z.clamp_min(0.0),
        }
    }

    /// f(z) and f′(z), sharing intermediate results.
    ///
    /// # Shapes
    /// - `z`: any shape → two tensors of the same shape
    pub fn apply_with_derivative<const D: usize>(self, z: Tensor<D>) -> (Tensor<D>, Tensor<D>) {
        match self {
            Activation::Silu => {
                let s = logistic(z.clone());
                let f = z.clone() * s.clone();
                // f′ = σ(z)(1 + z(1 − σ(z))) = σ(z) + f(1 − σ(z))
                let df = s.clone() + f.clone() * (s.neg() + 1.0);
                (f, df)
            }
            Activation::Softplus => (softplus(z.clone()), logistic(z)),
            Activation::Tanh => {
                let t = z.tanh();
                let df = t.clone().powi_scalar(2).neg() + 1.0;
                (t, df)
            }
            Activation::Elu => {
                let e = z.clone().clamp_max(0.0).exp();
                (z.clamp_min(0.0) + e.clone() - 1.0, e)
            }
            Activation::Relu => {
                let positive = z.clone().greater_elem(0.0);
                let df = z.zeros_like().mask_fill(positive, 1.0);
                (z.clamp_min(0.0), df)
            }
        }
    }

    /// f(z), f′(z) and f″(z), sharing intermediate results (what an energy network's
    /// Hessian-vector products and Laplacian need).
    ///
    /// # Shapes
    /// - `z`: any shape → three tensors of the same shape
    pub fn apply_with_two_derivatives<const D: usize>(
        self,
        z: Tensor<D>,
    ) -> (Tensor<D>, Tensor<D>, Tensor<D>) {
        match self {
            Activation::Silu => {
                let s = logistic(z.clone());
                let f = z.clone() * s.clone();
                let ds = s.clone() * (s.clone().neg() + 1.0);
                let df = s.clone() + f.clone() * (s.clone().neg() + 1.0);
                // f″ = σ′ (2 + z (1 − 2σ))
                let d2f = ds * ((s * -2.0 + 1.0) * z + 2.0);
                (f, df, d2f)
            }
            Activation::Softplus => {
                let s = logistic(z.clone());
                let d2f = s.clone() * (s.clone().neg() + 1.0);
                (softplus(z), s, d2f)
            }
            Activation::Tanh => {
                let t = z.tanh();
                let df = t.clone().powi_scalar(2).neg() + 1.0;
                let d2f = t.clone() * df.clone() * -2.0;
                (t, df, d2f)
            }
            Activation::Elu => {
                let e = z.clone().clamp_max(0.0).exp();
                let d2f = e.clone().mask_fill(z.clone().greater_elem(0.0), 0.0);
                (z.clamp_min(0.0) + e.clone() - 1.0, e, d2f)
            }
            Activation::Relu => {
                let (f, df) = self.apply_with_derivative(z);
                let d2f = df.zeros_like();
                (f, df, d2f)
            }
        }
    }
}

/// σ(z) = 1 / (1 + e^{−z}) in the tensor's own precision, without overflow.
fn logistic<const D: usize>(z: Tensor<D>) -> Tensor<D> {
    if z.dtype() == DType::F64 {
        z.clone().clamp_max(0.0).exp() / (z.abs().neg().exp() + 1.0)
    } else {
        sigmoid(z)
    }
}

/// log(1 + eᶻ) = max(z, 0) + log1p(e^{−|z|}), stable for large |z|.
fn softplus<const D: usize>(z: Tensor<D>) -> Tensor<D> {
    z.clone().clamp_min(0.0) + z.abs().neg().exp().log1p()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::{Backend, Ctx, Precision, to_host};

    fn reference(act: Activation, z: f64) -> f64 {
        match act {
            Activation::Silu => z / (1.0 + (-z).exp()),
            Activation::Softplus => z.exp().ln_1p(),
            Activation::Tanh => z.tanh(),
            Activation::Elu => {
                if z > 0.0 {
                    z
                } else {
                    z.exp() - 1.0
                }
            }
            Activation::Relu => z.max(0.0),
        }
    }

    #[test]
    fn values_and_derivatives_match_scalar_references_in_f64() {
        let zs = [-800.0, -30.0, -3.1, -0.7, -1e-3, 0.2, 1.3, 4.0, 25.0];
        for backend in Backend::compiled_cpu() {
            let ctx = Ctx::new(backend.device().unwrap(), Precision::F64);
            for act in Activation::ALL {
                let (f, df) = act.apply_with_derivative(ctx.vector(&zs));
                let plain = to_host(act.apply(ctx.vector(&zs))).unwrap();
                let (f, df) = (to_host(f).unwrap(), to_host(df).unwrap());
                for (i, &z) in zs.iter().enumerate() {
                    let h = 1e-6;
                    let fd = (reference(act, z + h) - reference(act, z - h)) / (2.0 * h);
                    assert!((f[i] - reference(act, z)).abs() < 1e-13, "{act:?} f({z})");
                    assert!((plain[i] - f[i]).abs() < 1e-15, "{act:?} apply({z})");
                    assert!(
                        (df[i] - fd).abs() < 1e-8,
                        "{act:?} f'({z}) = {} vs {fd}",
                        df[i]
                    );
                }
            }
        }
    }

    #[test]
    fn second_derivatives_match_finite_differences_of_the_first_in_f64() {
        let zs = [-800.0, -30.0, -3.1, -0.7, -1e-3, 0.2, 1.3, 4.0, 25.0];
        let ctx = Ctx::new(Backend::Flex.device().unwrap(), Precision::F64);
        for act in Activation::ALL {
            let (f, df, d2f) = act.apply_with_two_derivatives(ctx.vector(&zs));
            let (f1, df1) = act.apply_with_derivative(ctx.vector(&zs));
            assert_eq!(to_host(f).unwrap(), to_host(f1).unwrap(), "{act:?}");
            assert_eq!(to_host(df).unwrap(), to_host(df1).unwrap(), "{act:?}");
            let d2f = to_host(d2f).unwrap();
            let h = 1e-6;
            let slope = |z: f64| to_host(act.apply_with_derivative(ctx.vector(&[z])).1).unwrap()[0];
            for (i, &z) in zs.iter().enumerate() {
                // ELU's and ReLU's f′ jump at 0; z = −1e-3 is close enough to be inside.
                if matches!(act, Activation::Elu | Activation::Relu) && z.abs() < 10.0 * h {
                    continue;
                }
                let fd = (slope(z + h) - slope(z - h)) / (2.0 * h);
                assert!(
                    (d2f[i] - fd).abs() < 1e-7 * (1.0 + fd.abs()),
                    "{act:?} f''({z}) = {} vs {fd}",
                    d2f[i]
                );
            }
        }
    }

    #[test]
    fn f32_gradients_stay_finite_far_in_the_tails() {
        // z = −100 overflows e^{−z} in f32; the gradient of every activation must stay finite.
        for backend in Backend::compiled_cpu() {
            let ctx = Ctx::new(backend.device().unwrap().autodiff(), Precision::F32);
            for act in Activation::ALL {
                let z = ctx
                    .vector(&[-100.0, -50.0, 0.0, 50.0, 100.0])
                    .require_grad();
                let (f, df) = act.apply_with_derivative(z.clone());
                let grads = (f.sum() + df.sum()).backward();
                let g = to_host(z.grad(&grads).unwrap()).unwrap();
                assert!(
                    g.iter().all(|v| v.is_finite()),
                    "{backend:?} {act:?}: {g:?}"
                );
            }
        }
    }

    #[test]
    fn only_relu_lacks_curvature() {
        let flat: Vec<_> = Activation::ALL
            .into_iter()
            .filter(|a| !a.has_curvature())
            .collect();
        assert_eq!(flat, [Activation::Relu]);
    }
}
