//! A fully connected layer y = x W + b with PyTorch's default initialisation.

use burn::module::{Module, Param};
use burn::tensor::Tensor;
use rand::RngExt as _;

use super::ParamTensor;
use crate::backend::{Ctx, to_host};
use crate::error::Result;
use crate::rng::Rng;

/// y = x W + b.
#[derive(Module, Debug)]
pub struct Dense {
    /// Weight, `[inputs, outputs]`.
    pub weight: Param<Tensor<2>>,
    /// Bias, `[outputs]`.
    pub bias: Param<Tensor<1>>,
}

impl Dense {
    /// Weights and biases drawn from U(−1/√inputs, 1/√inputs), as `torch.nn.Linear`.
    pub fn init(inputs: usize, outputs: usize, ctx: &Ctx, rng: &mut Rng) -> Self {
        let bound = 1.0 / (inputs as f64).sqrt();
        let mut draw = |n: usize| -> Vec<f64> {
            (0..n)
                .map(|_| bound * (2.0 * rng.random::<f64>() - 1.0))
                .collect()
        };
        let weight = draw(inputs * outputs);
        let bias = draw(outputs);
        Self::from_values(&weight, &bias, inputs, outputs, ctx)
    }

    /// A layer with the given row-major weight `[inputs, outputs]` and bias `[outputs]`.
    pub fn from_values(
        weight: &[f64],
        bias: &[f64],
        inputs: usize,
        outputs: usize,
        ctx: &Ctx,
    ) -> Self {
        Self {
            weight: Param::from_tensor(ctx.matrix(weight, inputs, outputs)),
            bias: Param::from_tensor(ctx.vector(bias)),
        }
    }

    /// x W + b.
    ///
    /// # Shapes
    /// - `x`: `[batch, inputs]` → `[batch, outputs]`
    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        x.matmul(self.weight.val()) + self.bias.val().unsqueeze_dim(0)
    }

    /// (inputs, outputs).
    pub fn dims(&self) -> (usize, usize) {
        let [inputs, outputs] = self.weight.val().dims();
        (inputs, outputs)
    }

    /// The names and shapes of the values [`Self::append_values`] writes: `{prefix}weight`
    /// `[inputs, outputs]` and `{prefix}bias` `[outputs]`.
    pub fn layout(&self, prefix: &str) -> [ParamTensor; 2] {
        let (inputs, outputs) = self.dims();
        [
            ParamTensor::new(format!("{prefix}weight"), vec![inputs, outputs]),
            ParamTensor::new(format!("{prefix}bias"), vec![outputs]),
        ]
    }

    /// The weight (row-major) followed by the bias, appended to `out` as f64.
    pub fn append_values(&self, out: &mut Vec<f64>) -> Result<()> {
        out.extend(to_host(self.weight.val())?);
        out.extend(to_host(self.bias.val())?);
        Ok(())
    }

    /// A layer of the same size with the values [`Self::append_values`] wrote, read from the
    /// start of `values`; returns it and the rest of `values`.
    pub fn with_values<'a>(&self, values: &'a [f64], ctx: &Ctx) -> (Self, &'a [f64]) {
        let (inputs, outputs) = self.dims();
        let (weight, rest) = values.split_at(inputs * outputs);
        let (bias, rest) = rest.split_at(outputs);
        (Self::from_values(weight, bias, inputs, outputs, ctx), rest)
    }
}

/// The layout of a stack of layers (input first): `layers.{i}.weight` and `layers.{i}.bias`.
pub fn stack_layout<'a>(layers: impl IntoIterator<Item = &'a Dense>) -> Vec<ParamTensor> {
    layers
        .into_iter()
        .enumerate()
        .flat_map(|(i, layer)| layer.layout(&format!("layers.{i}.")))
        .collect()
}
