//! `runner bench`: the throughput benchmark of [`crate::bench`].

use std::process::ExitCode;

use crate::bench::{
    BenchCase, BenchSettings, ENERGY, FINITE_DIFFERENCES, MEMORY_LINE, SuiteOptions, memory_case,
    run_suite,
};
use anyhow::{Context as _, Result};
use scorematch::Backend;

use crate::cli::BenchArgs;

/// Runs the benchmark suite (or, as a child of one, one peak-memory case).
pub fn bench(args: BenchArgs) -> Result<ExitCode> {
    if let Some(case) = &args.memory_case {
        let case = BenchCase::parse(case)?;
        let mib = memory_case(&case, 0)?;
        println!("{MEMORY_LINE}{mib}");
        return Ok(ExitCode::SUCCESS);
    }
    let backends = if args.backends.is_empty() {
        Backend::compiled()
            .into_iter()
            .filter(|b| !b.is_gpu())
            .collect()
    } else {
        args.backends
            .iter()
            .map(|b| Backend::from_name(b))
            .collect::<scorematch::Result<Vec<_>>>()?
    };
    let cases = args
        .case
        .iter()
        .map(|c| BenchCase::parse(c))
        .collect::<Result<Vec<_>>>()?;
    let only_cases = !cases.is_empty();
    let settings = if args.quick {
        BenchSettings {
            repeats: 1,
            seconds_per_repeat: 0.2,
            ..BenchSettings::default()
        }
    } else {
        BenchSettings {
            repeats: args.repeats.max(1),
            seconds_per_repeat: args.seconds,
            ..BenchSettings::default()
        }
    };
    let exe = std::env::current_exe().context("finding the runner binary")?;
    let opts = SuiteOptions {
        peers: args.peers,
        out_dir: args.out,
        backends,
        threads: args.threads,
        objectives: args.objectives,
        dims: args.dims,
        cases,
        gemm_probe: !only_cases,
        settings,
        memory_driver: (!only_cases && !args.no_memory).then(|| (exe, vec!["bench".to_string()])),
        scaling: !only_cases && !args.no_scaling,
        pairs: [
            (!args.no_energy).then_some(ENERGY),
            (!args.no_fd).then_some(FINITE_DIFFERENCES),
        ]
        .into_iter()
        .flatten()
        .filter(|_| !only_cases)
        .collect(),
    };
    run_suite(&opts, &mut std::io::stdout()).context("benchmark")?;
    Ok(ExitCode::SUCCESS)
}
