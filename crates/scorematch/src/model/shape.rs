//! The architecture of an MLP (score or energy network) as the host kernels see it, and
//! where its parameters sit in the flat parameter vector θ.

use super::Activation;

/// The architecture of an MLP, and where its parameters sit in θ.
#[derive(Clone, Debug, PartialEq)]
pub struct MlpShape {
    /// Data dimension D (inputs and outputs).
    pub dim: usize,
    /// Widths of the hidden layers (none: the linear model s = x W + b).
    pub widths: Vec<usize>,
    /// The hidden layers' nonlinearity.
    pub activation: Activation,
    /// Whether ln σ is an extra input and the output is divided by σ.
    pub noise_conditional: bool,
    /// Whether the network outputs a scalar energy E (one output) whose score is −∇ₓE,
    /// rather than the score itself (D outputs).
    pub energy: bool,
}

impl MlpShape {
    /// Number of network inputs: D, or D + 1 with ln σ.
    pub fn inputs(&self) -> usize {
        self.dim + usize::from(self.noise_conditional)
    }

    /// Number of dense layers, the output layer included.
    pub fn layers(&self) -> usize {
        self.widths.len() + 1
    }

    /// (fan_in, fan_out) of dense layer `l` (the last one is the output layer).
    pub fn layer(&self, l: usize) -> (usize, usize) {
        let fan_in = if l == 0 {
            self.inputs()
        } else {
            self.widths[l - 1]
        };
        let outputs = if self.energy { 1 } else { self.dim };
        let fan_out = self.widths.get(l).copied().unwrap_or(outputs);
        (fan_in, fan_out)
    }

    /// Offset in θ of layer `l`'s weight; its bias follows it.
    pub fn offset(&self, l: usize) -> usize {
        (0..l)
            .map(|k| {
                let (i, o) = self.layer(k);
                i * o + o
            })
            .sum()
    }

    /// Length of θ.
    pub fn param_count(&self) -> usize {
        self.offset(self.layers())
    }

    /// The weight `[fan_in, fan_out]` and bias `[fan_out]` of layer `l` in `theta`.
    pub fn params<'a, T>(&self, theta: &'a [T], l: usize) -> (&'a [T], &'a [T]) {
        let (i, o) = self.layer(l);
        let at = self.offset(l);
        (&theta[at..at + i * o], &theta[at + i * o..at + i * o + o])
    }

    /// Mutable weight and bias of layer `l` in `theta`.
    pub fn params_mut<'a, T>(&self, theta: &'a mut [T], l: usize) -> (&'a mut [T], &'a mut [T]) {
        let (i, o) = self.layer(l);
        let at = self.offset(l);
        theta[at..at + i * o + o].split_at_mut(i * o)
    }

    /// Multiply-adds of one forward pass over `rows` rows (the matrix products only).
    pub fn forward_macs(&self, rows: usize) -> usize {
        (0..self.layers())
            .map(|l| {
                let (i, o) = self.layer(l);
                rows * i * o
            })
            .sum()
    }
}
