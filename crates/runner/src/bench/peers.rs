//! The peers' table (PyTorch and JAX on the same machine kind) and our results next to it.

use std::io::Write;
use std::path::Path;

use anyhow::{Context as _, Result};
use serde::{Deserialize, Serialize};

use scorematch::{Backend, Kernels};

use super::{BenchCase, BenchResult};

/// One row of the peers' table.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PeerRow {
    /// `jax` or `torch`.
    pub framework: String,
    /// Its version.
    pub version: String,
    /// esm, ism, ssm, ssm_vr, dsm.
    pub objective: String,
    /// `gaussian` or `8gaussians`.
    pub dataset: String,
    /// Dimension D.
    pub dim: usize,
    /// Intra-op threads.
    pub threads: usize,
    /// Batch size.
    pub batch: usize,
    /// Hidden width.
    pub hidden: usize,
    /// Median steps per second.
    pub steps_per_sec_median: f64,
    /// Timed runs behind the median.
    pub runs: usize,
}

/// Reads the peers' table (CSV with [`PeerRow`]'s columns).
pub fn read_peers(path: &Path) -> Result<Vec<PeerRow>> {
    let mut reader = csv::Reader::from_path(path).with_context(|| path.display().to_string())?;
    reader
        .deserialize()
        .map(|row| row.with_context(|| path.display().to_string()))
        .collect()
}

/// Every distinct (objective, data set, dimension, threads) case of the peers' table, in
/// table order, on `backend`.
pub fn peer_cases(peers: &[PeerRow], backend: Backend) -> Vec<BenchCase> {
    let mut cases: Vec<BenchCase> = Vec::new();
    for p in peers {
        let case = BenchCase {
            objective: p.objective.clone(),
            dataset: p.dataset.clone(),
            dim: p.dim,
            backend,
            threads: p.threads,
            model: "mlp".into(),
        };
        if !cases.contains(&case) {
            cases.push(case);
        }
    }
    cases
}

/// Our result next to the peers' for the same objective, data set, dimension and threads.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    /// esm, ism, ssm, ssm_vr, dsm.
    pub objective: String,
    /// The data set.
    pub dataset: String,
    /// Dimension D.
    pub dim: usize,
    /// Our backend.
    pub backend: String,
    /// Threads.
    pub threads: usize,
    /// fused or reference.
    pub kernels: String,
    /// Our median steps per second.
    pub ours: f64,
    /// Our best repeat (the least disturbed by other processes).
    pub ours_best: f64,
    /// Our median steps per CPU-second of the running thread (one-thread cases).
    pub ours_cpu: Option<f64>,
    /// The fastest peer's framework.
    pub best_peer: String,
    /// The fastest peer's steps per second.
    pub best_peer_steps: f64,
    /// ours / best peer.
    pub ratio_best: f64,
    /// JAX's steps per second.
    pub jax: Option<f64>,
    /// ours / JAX.
    pub ratio_jax: Option<f64>,
    /// PyTorch's steps per second.
    pub torch: Option<f64>,
    /// GFLOP/s in our matrix products.
    pub gflops: f64,
    /// The ceiling of the fused implementation: steps/s if every multiply-add of its matrix
    /// products ran at the core's FMA peak ([`scorematch::kernels::rates::fma_peak_rate`]) and nothing else took time
    /// (one-thread fused cases; `None` otherwise or without a peak measurement).
    pub ceiling: Option<f64>,
    /// ceiling / best peer: the largest ratio this implementation could show.
    pub ceiling_ratio: Option<f64>,
    /// Timed repeats and steps per repeat behind our median.
    pub repeats: usize,
    /// Steps per repeat.
    pub steps: usize,
}

/// Compares `result` with the peers' rows of its case; `None` if no peer ran it.
/// `peak_gflops` is the one-core FMA peak, for the ceiling of one-thread cases.
pub fn compare(
    result: &BenchResult,
    peers: &[PeerRow],
    peak_gflops: Option<f64>,
) -> Option<Comparison> {
    let c = &result.case;
    let same: Vec<&PeerRow> = peers
        .iter()
        .filter(|p| {
            p.objective == c.objective
                && p.dataset == c.dataset
                && p.dim == c.dim
                && p.threads == c.threads
        })
        .collect();
    let best = same
        .iter()
        .max_by(|a, b| a.steps_per_sec_median.total_cmp(&b.steps_per_sec_median))?;
    let of = |name: &str| {
        same.iter()
            .find(|p| p.framework == name)
            .map(|p| p.steps_per_sec_median)
    };
    let jax = of("jax");
    let ceiling = peak_gflops
        .filter(|_| c.threads == 1 && result.kernels == Kernels::Fused)
        .map(|peak| peak * 1e9 / result.flops_per_step);
    Some(Comparison {
        objective: c.objective.clone(),
        dataset: c.dataset.clone(),
        dim: c.dim,
        backend: c.backend.name().to_string(),
        threads: c.threads,
        kernels: result.kernels.name().to_string(),
        ours: result.steps_per_sec,
        ours_best: result.repeats.iter().copied().fold(0.0, f64::max),
        ours_cpu: result.cpu_steps_per_sec,
        best_peer: best.framework.clone(),
        best_peer_steps: best.steps_per_sec_median,
        ratio_best: result.steps_per_sec / best.steps_per_sec_median,
        jax,
        ratio_jax: jax.map(|j| result.steps_per_sec / j),
        torch: of("torch"),
        gflops: result.gflops(),
        ceiling,
        ceiling_ratio: ceiling.map(|x| x / best.steps_per_sec_median),
        repeats: result.repeats.len(),
        steps: result.steps,
    })
}

/// Writes `rows` as CSV (with a header) to `path`, creating its directory.
pub fn write_csv<R: Serialize>(path: &Path, rows: &[R]) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| dir.display().to_string())?;
    }
    let mut w = csv::Writer::from_path(path).with_context(|| path.display().to_string())?;
    for r in rows {
        w.serialize(r).with_context(|| path.display().to_string())?;
    }
    w.flush().with_context(|| path.display().to_string())
}

/// Prints the comparison table.
pub fn print_table(out: &mut dyn Write, rows: &[Comparison]) -> std::io::Result<()> {
    writeln!(
        out,
        "{:<7} {:<10} {:>4} {:<8} {:>3} {:<9} {:>9} {:>9} {:>9} {:>9} {:>6} {:>7} {:>8} {:>7} {:>9}",
        "loss",
        "data",
        "D",
        "backend",
        "thr",
        "kernels",
        "ours/s",
        "best/s",
        "cpu/s",
        "peer/s",
        "peer",
        "×peer",
        "×jax",
        "GFLOP/s",
        "×peer@pk"
    )?;
    for r in rows {
        writeln!(
            out,
            "{:<7} {:<10} {:>4} {:<8} {:>3} {:<9} {:>9.1} {:>9.1} {:>9} {:>9.1} {:>6} {:>7.2} {:>8} {:>7.1} {:>9}",
            r.objective,
            r.dataset,
            r.dim,
            r.backend,
            r.threads,
            r.kernels,
            r.ours,
            r.ours_best,
            r.ours_cpu.map_or("-".into(), |x| format!("{x:.1}")),
            r.best_peer_steps,
            r.best_peer,
            r.ratio_best,
            r.ratio_jax.map_or("-".into(), |x| format!("{x:.2}")),
            r.gflops,
            r.ceiling_ratio.map_or("-".into(), |x| format!("{x:.2}"))
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_committed_peer_table_parses_and_compares() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../results/reference/peer_throughput.csv");
        let peers = read_peers(&path).unwrap();
        assert_eq!(peers.len(), 100);
        let cases = peer_cases(&peers, Backend::Flex);
        assert_eq!(cases.len(), 50);
        let result = BenchResult {
            case: BenchCase {
                objective: "esm".into(),
                dataset: "gaussian".into(),
                dim: 2,
                backend: Backend::Flex,
                threads: 1,
                model: "mlp".into(),
            },
            steps_per_sec: 3743.4,
            cpu_steps_per_sec: None,
            repeats: vec![3743.4],
            steps: 100,
            kernels: Kernels::Fused,
            trace_path: None,
            flops_per_step: 1e6,
        };
        let c = compare(&result, &peers, Some(100.0)).unwrap();
        assert_eq!(c.best_peer, "jax");
        assert!((c.ratio_best - 2.0).abs() < 1e-12);
        assert_eq!(c.torch, Some(800.3));
        assert!((c.gflops - 3.7434).abs() < 1e-9);
        // 100 GFLOP/s over 1 MFLOP per step: 100 000 steps/s, against JAX's 1871.7.
        assert!((c.ceiling.unwrap() - 1e5).abs() < 1e-6);
        assert!((c.ceiling_ratio.unwrap() - 1e5 / 1871.7).abs() < 1e-9);
        assert!(compare(&result, &peers, None).unwrap().ceiling.is_none());
    }
}
