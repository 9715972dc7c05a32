//! Test helpers: random networks, finite-difference Jacobians, and parameter access for
//! checking gradients with respect to θ.

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
use burn::tensor::{Tensor, TensorData};

use super::{Activation, MlpParams, ModelConfig, ScoreModel};
use crate::backend::{Ctx, to_host};
use crate::rng::{Stream, rng};

/// A small random MLP.
pub fn random_mlp(
    activation: Activation,
    depth: usize,
    dim: usize,
    noise_conditional: bool,
    ctx: &Ctx,
    seed: u64,
) -> ScoreModel {
    ModelConfig::Mlp(MlpParams {
        hidden: 6,
        depth,
        activation,
        noise_conditional,
    })
    .init(dim, &[], ctx, &mut rng(seed, Stream::Init))
    .unwrap()
}

/// A small random network of the model family `name` (`mlp` or `energy`), width 6.
pub fn random_net(
    name: &str,
    activation: Activation,
    depth: usize,
    dim: usize,
    noise_conditional: bool,
    ctx: &Ctx,
    seed: u64,
) -> ScoreModel {
    let config = match name {
        "energy" => ModelConfig::Energy(super::EnergyParams {
            hidden: 6,
            depth,
            activation,
            noise_conditional,
        }),
        _ => {
            return random_mlp(activation, depth, dim, noise_conditional, ctx, seed);
        }
    };
    config
        .init(dim, &[], ctx, &mut rng(seed, Stream::Init))
        .unwrap()
}

/// ∂s_j/∂x_i by central differences, as `[B][j][i]` flattened row-major.
pub fn fd_jacobian(
    model: &ScoreModel,
    x: &[f64],
    dim: usize,
    sigma: Option<&[f64]>,
    ctx: &Ctx,
) -> Vec<f64> {
    let rows = x.len() / dim;
    let h = 1e-5;
    let sigma = sigma.map(|s| ctx.matrix(s, rows, 1));
    let eval =
        |x: &[f64]| to_host(model.forward(ctx.matrix(x, rows, dim), sigma.as_ref())).unwrap();
    let mut jac = vec![0.0; rows * dim * dim];
    for i in 0..dim {
        let shift = |d: f64| -> Vec<f64> {
            let mut y = x.to_vec();
            for r in 0..rows {
                y[r * dim + i] += d;
            }
            y
        };
        let (up, down) = (eval(&shift(h)), eval(&shift(-h)));
        for r in 0..rows {
            for j in 0..dim {
                jac[(r * dim + j) * dim + i] = (up[r * dim + j] - down[r * dim + j]) / (2.0 * h);
            }
        }
    }
    jac
}

/// Every float parameter's values on the host, in visiting order.
pub fn param_values(model: &ScoreModel) -> Vec<Vec<f64>> {
    struct Collect(Vec<Vec<f64>>);
    impl ModuleVisitor for Collect {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            self.0.push(to_host(param.val()).unwrap());
        }
    }
    let mut c = Collect(Vec::new());
    model.visit(&mut c);
    c.0
}

/// Every float parameter's gradient on the host, in visiting order.
pub fn param_grads(model: &ScoreModel, grads: &burn::tensor::Gradients) -> Vec<Vec<f64>> {
    super::param_grads(model, grads).unwrap()
}

/// A copy of `model` whose parameter number `which` has `delta` added to entry `entry`.
pub fn perturbed(model: &ScoreModel, which: usize, entry: usize, delta: f64) -> ScoreModel {
    struct Perturb {
        index: usize,
        which: usize,
        entry: usize,
        delta: f64,
    }
    impl ModuleMapper for Perturb {
        fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
            let hit = self.index == self.which;
            self.index += 1;
            if !hit {
                return param;
            }
            let (id, t, _) = param.consume();
            let mut values = to_host(t.clone()).unwrap();
            values[self.entry] += self.delta;
            let new =
                Tensor::from_data(TensorData::new(values, t.shape()), (&t.device(), t.dtype()));
            Param::initialized(id, new)
        }
    }
    model.clone().map(&mut Perturb {
        index: 0,
        which,
        entry,
        delta,
    })
}
