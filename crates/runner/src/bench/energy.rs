//! Energy networks against score networks of the same width and depth: the cost of one step of
//! each objective. An energy network's score is its reverse pass, so a step differentiates a
//! reverse pass (and, for ISM and the sliced objectives, its tangents); the table shows what
//! that costs, each model on the engine a sweep would give it (fused on flex).

use std::io::Write;

use anyhow::{Result, anyhow};
use serde::{Deserialize, Serialize};

use scorematch::Backend;

use super::{BenchCase, BenchSettings, run_case};

/// Objectives compared (the peers' names).
pub const OBJECTIVES: [&str; 5] = ["esm", "ism", "ssm", "ssm_vr", "dsm"];
/// Dimensions compared (gaussian data).
pub const DIMS: [usize; 3] = [2, 10, 50];

/// One objective at one dimension: both models' steps per second.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EnergyRow {
    /// The objective.
    pub objective: String,
    /// Dimension D (gaussian).
    pub dim: usize,
    /// The backend.
    pub backend: String,
    /// Steps/s of the energy network.
    pub energy: f64,
    /// Its engine (fused or reference).
    pub energy_kernels: String,
    /// Steps/s of the score network of the same size.
    pub mlp: f64,
    /// Its engine.
    pub mlp_kernels: String,
    /// How many times longer an energy-network step takes: mlp / energy.
    pub cost: f64,
}

/// Measures every (objective, dimension) of `objectives` (all of [`OBJECTIVES`] if empty) on
/// each backend with one thread, printing a line per row to `out`.
pub fn energy_rows(
    backends: &[Backend],
    objectives: &[String],
    settings: &BenchSettings,
    out: &mut dyn Write,
) -> Result<Vec<EnergyRow>> {
    let io = |e: std::io::Error| anyhow!("writing the report: {e}");
    let mut rows = Vec::new();
    for &backend in backends {
        for objective in OBJECTIVES
            .iter()
            .filter(|o| objectives.is_empty() || objectives.iter().any(|x| x == *o))
        {
            for dim in DIMS {
                let case = |model: &str| BenchCase {
                    objective: objective.to_string(),
                    dataset: "gaussian".into(),
                    dim,
                    backend,
                    threads: 1,
                    model: model.into(),
                };
                let energy = run_case(&case("energy"), settings)?;
                let mlp = run_case(&case("mlp"), settings)?;
                let row = EnergyRow {
                    objective: objective.to_string(),
                    dim,
                    backend: backend.name().into(),
                    energy: energy.steps_per_sec,
                    energy_kernels: energy.kernels.name().into(),
                    mlp: mlp.steps_per_sec,
                    mlp_kernels: mlp.kernels.name().into(),
                    cost: mlp.steps_per_sec / energy.steps_per_sec,
                };
                writeln!(
                    out,
                    "energy {:<7} D={:<3} {:<8} {:>9.1} steps/s ({}) vs score network {:>9.1} ({}): {:.2}× the cost",
                    row.objective,
                    row.dim,
                    row.backend,
                    row.energy,
                    row.energy_kernels,
                    row.mlp,
                    row.mlp_kernels,
                    row.cost
                )
                .map_err(io)?;
                rows.push(row);
            }
        }
    }
    Ok(rows)
}
