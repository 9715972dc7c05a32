//! The mixing diagnostic of a sampler's chains: split-R̂ (Gelman et al., *Bayesian Data
//! Analysis*, 3rd ed., §11.4) of the scalar ‖x‖² over the samples, which are independent
//! chains run side by side.
//!
//! A sampler with a stationary phase (Langevin and MALA: all their steps; annealed Langevin:
//! its last level) announces it with [`ChainWatch::new`] and shows the chains to it after
//! every step. The watch keeps ‖x‖² of every chain at up to [`SNAPSHOTS`] evenly spaced steps
//! of the phase's second half (the first half is burn-in); each chain's snapshots are split
//! into a first and a second half, and R̂ compares the variance between these 2n half-chains
//! with the variance within them. R̂ ≈ 1 when the chains have forgotten where they started and
//! agree; R̂ ≫ 1 when they still differ (chains stuck in different modes, or too few steps).
//! Samplers that transport noise to data (the reverse SDE, the probability flow and the
//! predictor–corrector sampler) have no stationary phase and no R̂.

/// The most snapshots a watch keeps of each chain.
pub const SNAPSHOTS: usize = 50;

/// ‖x‖² of every chain at evenly spaced steps of the second half of a stationary phase.
#[derive(Debug)]
pub struct ChainWatch {
    /// Steps of the phase.
    steps: usize,
    /// Steps seen so far.
    seen: usize,
    /// Steps between snapshots.
    stride: usize,
    /// One snapshot per kept step: ‖x‖² of each chain.
    snapshots: Vec<Vec<f64>>,
}

impl ChainWatch {
    /// A watch over a phase of `steps` steps.
    pub fn new(steps: usize) -> Self {
        let second_half = steps - steps / 2;
        Self {
            steps,
            seen: 0,
            stride: second_half.div_ceil(SNAPSHOTS).max(1),
            snapshots: Vec::new(),
        }
    }

    /// The chains `x` (`[n, dim]`, row-major) after one more step of the phase.
    pub fn observe(&mut self, x: &[f64], dim: usize) {
        self.seen += 1;
        let start = self.steps / 2;
        if self.seen > start
            && self.seen <= self.steps
            && (self.seen - start).is_multiple_of(self.stride)
        {
            self.snapshots.push(
                x.chunks_exact(dim)
                    .map(|row| row.iter().map(|v| v * v).sum())
                    .collect(),
            );
        }
    }

    /// Split-R̂ of the kept snapshots (`None` with fewer than 4 of them, or when not finite).
    pub fn rhat(&self) -> Option<f64> {
        split_rhat(&self.snapshots)
    }
}

/// Split-R̂ of `snapshots[t][chain]`: each chain's sequence split into its first and second
/// half, then R̂ = √(((L − 1)/L·W + B/L)/W) over the 2n half-chains of length L, with W the
/// mean within-chain variance and B/L the variance of the chain means. `None` with fewer than
/// 4 snapshots, no chains, or a result that is not finite (chains that do not move at all).
pub fn split_rhat(snapshots: &[Vec<f64>]) -> Option<f64> {
    let len = snapshots.len() / 2;
    let chains = snapshots.first()?.len();
    if len < 2 || chains == 0 {
        return None;
    }
    // The half-chains: the first `len` snapshots of each chain, then the last `len`.
    let halves = [&snapshots[..len], &snapshots[snapshots.len() - len..]];
    let mut means = Vec::with_capacity(2 * chains);
    let mut variances = Vec::with_capacity(2 * chains);
    for half in halves {
        for c in 0..chains {
            let mean = half.iter().map(|s| s[c]).sum::<f64>() / len as f64;
            let var = half.iter().map(|s| (s[c] - mean).powi(2)).sum::<f64>() / (len - 1) as f64;
            means.push(mean);
            variances.push(var);
        }
    }
    let m = means.len() as f64;
    let grand = means.iter().sum::<f64>() / m;
    let between = means.iter().map(|v| (v - grand).powi(2)).sum::<f64>() / (m - 1.0);
    let within = variances.iter().sum::<f64>() / m;
    let l = len as f64;
    let pooled = (l - 1.0) / l * within + between;
    Some((pooled / within).sqrt()).filter(|r| r.is_finite())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{DatasetConfig, Density};
    use crate::progress::NoProgress;
    use crate::rng::{Stream, normals, rng};
    use crate::sample::{ExactScore, SamplerConfig};

    #[test]
    fn independent_draws_give_one_and_chains_apart_give_far_more() {
        let mut r = rng(0, Stream::Sampler);
        let iid: Vec<Vec<f64>> = (0..40).map(|_| normals(&mut r, 200)).collect();
        let rhat = split_rhat(&iid).unwrap();
        assert!((rhat - 1.0).abs() < 0.02, "{rhat}");
        // Chains that wander about their own levels 0, 1, 2, … (sd 0.1 around them).
        let apart: Vec<Vec<f64>> = (0..40)
            .map(|_| {
                normals(&mut r, 20)
                    .iter()
                    .enumerate()
                    .map(|(c, e)| c as f64 + 0.1 * e)
                    .collect()
            })
            .collect();
        let rhat = split_rhat(&apart).unwrap();
        assert!(rhat > 10.0, "{rhat}");
        // A drift within each chain shows in the split halves even when chains agree: a
        // linear trend 0 … 39 gives half-means 20 apart against a within-half sd of 5.9,
        // R̂ ≈ √((35 + 100)/35) ≈ 2.
        let drifting: Vec<Vec<f64>> = (0..40)
            .map(|t| {
                normals(&mut r, 20)
                    .iter()
                    .map(|e| t as f64 + 0.1 * e)
                    .collect()
            })
            .collect();
        let rhat = split_rhat(&drifting).unwrap();
        assert!((1.7..2.3).contains(&rhat), "{rhat}");
        assert_eq!(split_rhat(&iid[..3]), None);
        assert_eq!(split_rhat(&[]), None);
    }

    #[test]
    fn a_watch_keeps_evenly_spaced_snapshots_of_the_second_half() {
        let mut watch = ChainWatch::new(1000);
        for step in 1..=1000 {
            watch.observe(&[step as f64, 0.0], 2);
        }
        assert_eq!(watch.snapshots.len(), SNAPSHOTS);
        assert_eq!(watch.snapshots[0], [510.0f64.powi(2)]);
        assert_eq!(watch.snapshots[SNAPSHOTS - 1], [1000.0f64.powi(2)]);
        let mut short = ChainWatch::new(5);
        for step in 1..=5 {
            short.observe(&[step as f64], 1);
        }
        assert_eq!(short.snapshots.len(), 3);
    }

    /// R̂ of a sampler's chains on the exact score: mixed chains ≈ 1, chains that barely move
    /// from a wide start ≫ 1.
    fn langevin_rhat(density: &dyn Density, extra: &str) -> Option<f64> {
        let cfg: SamplerConfig = toml::from_str(&format!("name = \"langevin\"\n{extra}")).unwrap();
        cfg.sample_measured(
            &ExactScore::new(density),
            None,
            300,
            &mut rng(1, Stream::Sampler),
            &mut NoProgress,
        )
        .unwrap()
        .unwrap()
        .1
        .rhat
    }

    #[test]
    fn mixed_langevin_chains_have_rhat_near_one_and_stuck_ones_far_above() {
        let g = toml::from_str::<DatasetConfig>("name = \"standard_normal\"\ndim = 2")
            .unwrap()
            .build()
            .unwrap();
        let mixed = langevin_rhat(g.as_ref(), "steps = 2000\nstep_size = 0.05").unwrap();
        assert!((mixed - 1.0).abs() < 0.05, "{mixed}");
        let stuck = langevin_rhat(
            g.as_ref(),
            "steps = 200\nstep_size = 1e-5\ninit = { name = \"uniform\", lo = -8.0, hi = 8.0 }",
        )
        .unwrap();
        assert!(stuck > 3.0, "{stuck}");
    }
}
