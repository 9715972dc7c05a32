//! Adam over one flat parameter vector, with burn's arithmetic, and burn's per-tensor
//! gradient-norm clipping.

use super::{Real, vectorized};

/// Adam's settings: PyTorch's β₁ = 0.9, β₂ = 0.999, and ε = 1e-8 as the library uses.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdamSettings {
    /// β₁.
    pub beta_1: f32,
    /// β₂.
    pub beta_2: f32,
    /// ε.
    pub epsilon: f32,
}

impl Default for AdamSettings {
    fn default() -> Self {
        Self {
            beta_1: 0.9,
            beta_2: 0.999,
            epsilon: 1e-8,
        }
    }
}

/// Adam's moments and step count, as kept in a resumable training state.
#[derive(Clone, Debug, PartialEq)]
pub struct AdamState {
    /// First moments, in θ's order.
    pub moment_1: Vec<f64>,
    /// Second moments.
    pub moment_2: Vec<f64>,
    /// Steps taken.
    pub time: i32,
}

/// Adam's moments and step count for a parameter vector.
#[derive(Clone, Debug)]
pub struct Adam<T> {
    settings: AdamSettings,
    moment_1: Vec<T>,
    moment_2: Vec<T>,
    time: i32,
}

impl<T: Real> Adam<T> {
    /// Zero moments for `len` parameters.
    pub fn new(settings: AdamSettings, len: usize) -> Self {
        Self {
            settings,
            moment_1: vec![T::ZERO; len],
            moment_2: vec![T::ZERO; len],
            time: 0,
        }
    }

    /// The moments (as f64, exact for f32 and f64) and the step count, to resume from.
    pub fn state(&self) -> AdamState {
        let wide = |v: &[T]| v.iter().map(|x| x.to_f64()).collect();
        AdamState {
            moment_1: wide(&self.moment_1),
            moment_2: wide(&self.moment_2),
            time: self.time,
        }
    }

    /// Continues from `state` (taken by [`Self::state`] from an optimiser of the same length).
    ///
    /// # Errors
    /// If the moments do not have this optimiser's length.
    pub fn restore(&mut self, state: &AdamState) -> Result<(), String> {
        let n = self.moment_1.len();
        if state.moment_1.len() != n || state.moment_2.len() != n {
            return Err(format!(
                "Adam state for {} parameters, the model has {n}",
                state.moment_1.len()
            ));
        }
        let narrow = |v: &[f64]| v.iter().map(|&x| T::from_f64(x)).collect();
        self.moment_1 = narrow(&state.moment_1);
        self.moment_2 = narrow(&state.moment_2);
        self.time = state.time;
        Ok(())
    }

    /// One step: θ ← θ − lr · m̂ / (√v̂ + ε).
    ///
    /// The same operations in the same order as burn's `Adam` (bias corrections folded into
    /// one factor, computed in f32), so that given the same gradients both give the same bits.
    ///
    /// # Panics
    /// If `theta` and `grad` do not have the length the optimiser was made for.
    pub fn step(&mut self, lr: f64, theta: &mut [T], grad: &[T]) {
        assert!(theta.len() == self.moment_1.len() && grad.len() == theta.len());
        self.time += 1;
        let s = self.settings;
        let bias_correction_2 = (1.0 - s.beta_2.powi(self.time)).sqrt();
        let factor = bias_correction_2 / (1.0 - s.beta_1.powi(self.time));
        let c = |v: f32| T::from_f64(f64::from(v));
        let (b1, b1c, b2, b2c) = (
            c(s.beta_1),
            c(1.0 - s.beta_1),
            c(s.beta_2),
            c(1.0 - s.beta_2),
        );
        let (factor, eps, lr) = (c(factor), c(s.epsilon * bias_correction_2), T::from_f64(lr));
        let (m1, m2) = (&mut self.moment_1, &mut self.moment_2);
        let k = Constants {
            b1,
            b1c,
            b2,
            b2c,
            factor,
            eps,
            lr,
        };
        vectorized(
            #[inline(always)]
            || {
                // Blocks of 32, whose independent square roots and divisions overlap.
                let (p, p_tail) = theta.as_chunks_mut::<32>();
                let (g, g_tail) = grad.as_chunks::<32>();
                let (m, m_tail) = m1.as_chunks_mut::<32>();
                let (v, v_tail) = m2.as_chunks_mut::<32>();
                for (((p, g), m), v) in p.iter_mut().zip(g).zip(m.iter_mut()).zip(v.iter_mut()) {
                    for i in 0..32 {
                        k.update(&mut p[i], g[i], &mut m[i], &mut v[i]);
                    }
                }
                for (((p, &g), m), v) in p_tail
                    .iter_mut()
                    .zip(g_tail)
                    .zip(m_tail.iter_mut())
                    .zip(v_tail.iter_mut())
                {
                    k.update(p, g, m, v);
                }
            },
        );
    }
}

/// The per-step constants of the update.
struct Constants<T> {
    b1: T,
    b1c: T,
    b2: T,
    b2c: T,
    factor: T,
    eps: T,
    lr: T,
}

impl<T: Real> Constants<T> {
    /// One parameter's update, in burn's order of operations.
    #[inline(always)]
    fn update(&self, p: &mut T, g: T, m: &mut T, v: &mut T) {
        *m = *m * self.b1 + g * self.b1c;
        *v = *v * self.b2 + (g * g) * self.b2c;
        let update = (*m * self.factor) / (v.sqrt() + self.eps);
        *p -= update * self.lr;
    }
}

/// Scales each segment of `grad` (one per parameter tensor, by length) so that its L2 norm is
/// at most `max_norm`, as burn's `GradientClipping::Norm` does for each parameter.
pub fn clip_segments<T: Real>(grad: &mut [T], segments: &[usize], max_norm: f64) {
    let mut rest = grad;
    for &len in segments {
        let (seg, tail) = rest.split_at_mut(len);
        rest = tail;
        let norm = seg.iter().fold(T::ZERO, |acc, &g| acc + g * g).sqrt();
        let coef = T::from_f64(max_norm) / (norm + T::MIN_POSITIVE);
        if coef < T::ONE {
            seg.iter_mut().for_each(|g| *g *= coef);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_steps_move_by_the_learning_rate() {
        // With bias correction, Adam's first step is lr · g/|g| (up to ε) per coordinate.
        let mut adam = Adam::<f64>::new(AdamSettings::default(), 3);
        let mut theta = vec![1.0, 2.0, 3.0];
        adam.step(0.1, &mut theta, &[0.5, -2.0, 0.0]);
        assert!((theta[0] - 0.9).abs() < 1e-7);
        assert!((theta[1] - 2.1).abs() < 1e-7);
        assert_eq!(theta[2], 3.0);
        // A constant gradient keeps the step at lr.
        adam.step(0.1, &mut theta, &[0.5, -2.0, 0.0]);
        assert!((theta[0] - 0.8).abs() < 1e-6, "{}", theta[0]);
    }

    #[test]
    fn a_restored_optimiser_continues_bit_for_bit() {
        let grads = [[0.5f32, -2.0, 0.25], [0.1, 0.3, -0.7], [-1.0, 0.2, 0.05]];
        let mut adam = Adam::<f32>::new(AdamSettings::default(), 3);
        let mut theta = vec![1.0f32, 2.0, 3.0];
        adam.step(0.1, &mut theta, &grads[0]);
        let saved = adam.state();
        let mut resumed = Adam::<f32>::new(AdamSettings::default(), 3);
        resumed.restore(&saved).unwrap();
        let mut theta_resumed = theta.clone();
        for g in &grads[1..] {
            adam.step(0.1, &mut theta, g);
            resumed.step(0.1, &mut theta_resumed, g);
        }
        assert_eq!(theta, theta_resumed);
        assert!(
            Adam::<f32>::new(AdamSettings::default(), 2)
                .restore(&saved)
                .is_err()
        );
    }

    #[test]
    fn clipping_bounds_each_segment_norm() {
        let mut g: Vec<f64> = vec![3.0, 4.0, 0.1, 0.1];
        clip_segments(&mut g, &[2, 2], 1.0);
        assert!((g[0] - 0.6).abs() < 1e-12 && (g[1] - 0.8).abs() < 1e-12);
        assert_eq!(&g[2..], &[0.1, 0.1]);
    }
}
