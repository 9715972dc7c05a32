//! Paired cases: one objective and model against a baseline at the same dimension, batch and
//! thread count, each on the engine a sweep would give it (fused on flex). Two comparisons:
//!
//! - **energy**: energy networks against score networks of the same width and depth, per
//!   objective. An energy network's score is its reverse pass, so a step differentiates a
//!   reverse pass (and, for ISM and the sliced objectives, its tangents).
//! - **fd**: finite-difference SSM (Pang et al. 2020) against SSM with the same projections,
//!   on both kinds of network: three forward passes against a forward pass with tangents.

use std::io::Write;

use anyhow::{Result, anyhow};
use serde::{Deserialize, Serialize};

use scorematch::Backend;

use super::{BenchCase, BenchSettings, run_case};

/// An objective and a model, by the peers' names: `("fd_ssm", "mlp")`.
pub type Variant = (&'static str, &'static str);

/// A family of paired cases.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PairedComparison {
    /// Its name, also the CSV file's stem.
    pub name: &'static str,
    /// (objective, model) measured against (baseline objective, baseline model); objectives
    /// by the peers' names.
    pub pairs: &'static [(Variant, Variant)],
    /// Dimensions (gaussian data).
    pub dims: &'static [usize],
}

/// Energy networks against score networks of the same size.
pub const ENERGY: PairedComparison = PairedComparison {
    name: "energy",
    pairs: &[
        (("esm", "energy"), ("esm", "mlp")),
        (("ism", "energy"), ("ism", "mlp")),
        (("ssm", "energy"), ("ssm", "mlp")),
        (("ssm_vr", "energy"), ("ssm_vr", "mlp")),
        (("dsm", "energy"), ("dsm", "mlp")),
    ],
    dims: &[2, 10, 50],
};

/// Finite-difference SSM against SSM, on score and energy networks.
pub const FINITE_DIFFERENCES: PairedComparison = PairedComparison {
    name: "fd",
    pairs: &[
        (("fd_ssm", "mlp"), ("ssm", "mlp")),
        (("fd_ssm_vr", "mlp"), ("ssm_vr", "mlp")),
        (("fd_ssm", "energy"), ("ssm", "energy")),
        (("fd_ssm_vr", "energy"), ("ssm_vr", "energy")),
    ],
    dims: &[2, 10, 50, 100],
};

/// One pair at one dimension: both cases' steps per second.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PairRow {
    /// The comparison it belongs to.
    pub comparison: String,
    /// Dimension D (gaussian).
    pub dim: usize,
    /// The backend.
    pub backend: String,
    /// The measured case's objective.
    pub objective: String,
    /// Its model.
    pub model: String,
    /// Its steps/s.
    pub steps_per_sec: f64,
    /// Its engine (fused or reference).
    pub kernels: String,
    /// The baseline's objective.
    pub baseline_objective: String,
    /// The baseline's model.
    pub baseline_model: String,
    /// The baseline's steps/s.
    pub baseline_steps_per_sec: f64,
    /// The baseline's engine.
    pub baseline_kernels: String,
    /// How many times longer the measured case's step takes: baseline / case steps/s.
    pub cost: f64,
}

/// Measures every pair of `comparison` whose objective or baseline objective is among
/// `objectives` (all if empty), at each of its dimensions, on each backend with one thread,
/// printing a line per row to `out`.
pub fn pair_rows(
    comparison: &PairedComparison,
    backends: &[Backend],
    objectives: &[String],
    settings: &BenchSettings,
    out: &mut dyn Write,
) -> Result<Vec<PairRow>> {
    let io = |e: std::io::Error| anyhow!("writing the report: {e}");
    let wanted = |o: &str| objectives.is_empty() || objectives.iter().any(|x| x == o);
    let mut rows = Vec::new();
    for &backend in backends {
        for &((objective, model), (base_objective, base_model)) in comparison
            .pairs
            .iter()
            .filter(|((o, _), (b, _))| wanted(o) || wanted(b))
        {
            for &dim in comparison.dims {
                let case = |objective: &str, model: &str| BenchCase {
                    objective: objective.into(),
                    dataset: "gaussian".into(),
                    dim,
                    backend,
                    threads: 1,
                    model: model.into(),
                };
                let measured = run_case(&case(objective, model), settings)?;
                let baseline = run_case(&case(base_objective, base_model), settings)?;
                let row = PairRow {
                    comparison: comparison.name.into(),
                    dim,
                    backend: backend.name().into(),
                    objective: objective.into(),
                    model: model.into(),
                    steps_per_sec: measured.steps_per_sec,
                    kernels: measured.kernels.name().into(),
                    baseline_objective: base_objective.into(),
                    baseline_model: base_model.into(),
                    baseline_steps_per_sec: baseline.steps_per_sec,
                    baseline_kernels: baseline.kernels.name().into(),
                    cost: baseline.steps_per_sec / measured.steps_per_sec,
                };
                writeln!(
                    out,
                    "{:<6} {:>9}/{:<6} D={:<3} {:<8} {:>9.1} steps/s ({}) vs {}/{} {:>9.1} ({}): {:.2}× the cost",
                    row.comparison,
                    row.objective,
                    row.model,
                    row.dim,
                    row.backend,
                    row.steps_per_sec,
                    row.kernels,
                    row.baseline_objective,
                    row.baseline_model,
                    row.baseline_steps_per_sec,
                    row.baseline_kernels,
                    row.cost
                )
                .map_err(io)?;
                rows.push(row);
            }
        }
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_paired_case_is_a_valid_run() {
        for comparison in [ENERGY, FINITE_DIFFERENCES] {
            for &((objective, model), (base_objective, base_model)) in comparison.pairs {
                for &dim in comparison.dims {
                    for (objective, model) in [(objective, model), (base_objective, base_model)] {
                        let case = BenchCase {
                            objective: objective.into(),
                            dataset: "gaussian".into(),
                            dim,
                            backend: Backend::Flex,
                            threads: 1,
                            model: model.into(),
                        };
                        let cfg = case.run_config(0, 1);
                        assert!(cfg.is_ok(), "{}: {cfg:?}", case.spec());
                    }
                }
            }
        }
    }
}
