//! Training throughput against PyTorch and JAX: the peers' protocol on every case of their
//! table, a GEMM-rate probe, peak memory of one run at D = 100 and two concurrent runs.
//!
//! ```sh
//! cargo run --release -p scorematch --example bench -- [--quick] [--backends flex,ndarray]
//!     [--threads 1,2] [--objectives esm,ism] [--dims 2,10] [--repeats 5] [--seconds 0.5]
//!     [--peers results/reference/peer_throughput.csv] [--out results/bench]
//!     [--no-memory] [--no-scaling] [--case objective/dataset/dim/backend/threads]...
//! ```
//! `--quick` is one repeat of 0.2 s per case; `--case` runs only the cases given (no GEMM
//! probe, memory or scaling runs). Tables go to stdout, CSV files to `--out`.

use std::path::PathBuf;
use std::process::ExitCode;

use scorematch::Backend;
use scorematch::bench::{
    BenchCase, BenchSettings, MEMORY_ARG, MEMORY_LINE, SuiteOptions, memory_case, run_suite,
};

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench: {e}");
            ExitCode::FAILURE
        }
    }
}

fn list<T>(value: &str, parse: impl Fn(&str) -> Result<T, String>) -> Result<Vec<T>, String> {
    value.split(',').map(|v| parse(v.trim())).collect()
}

fn run() -> Result<(), String> {
    let mut args = std::env::args().skip(1);
    let mut opts = SuiteOptions {
        peers: PathBuf::from("results/reference/peer_throughput.csv"),
        out_dir: PathBuf::from("results/bench"),
        backends: Backend::ALL.to_vec(),
        threads: vec![1, 2],
        objectives: Vec::new(),
        dims: Vec::new(),
        cases: Vec::new(),
        gemm_probe: true,
        settings: BenchSettings::default(),
        memory_driver: Some(std::env::current_exe().map_err(|e| e.to_string())?),
        scaling: true,
    };
    let number = |v: &str| v.parse::<usize>().map_err(|e| format!("{v}: {e}"));
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            MEMORY_ARG => {
                let case = BenchCase::parse(&value()?).map_err(|e| e.to_string())?;
                let mib = memory_case(&case, 0).map_err(|e| e.to_string())?;
                println!("{MEMORY_LINE}{mib}");
                return Ok(());
            }
            "--quick" => {
                opts.settings.repeats = 1;
                opts.settings.seconds_per_repeat = 0.2;
            }
            "--backends" => {
                opts.backends = list(&value()?, |v| {
                    Backend::from_name(v).map_err(|e| e.to_string())
                })?
            }
            "--threads" => opts.threads = list(&value()?, number)?,
            "--objectives" => opts.objectives = list(&value()?, |v| Ok(v.to_string()))?,
            "--dims" => opts.dims = list(&value()?, number)?,
            "--repeats" => opts.settings.repeats = number(&value()?)?,
            "--seconds" => {
                let v = value()?;
                opts.settings.seconds_per_repeat = v.parse().map_err(|e| format!("{v}: {e}"))?
            }
            "--peers" => opts.peers = PathBuf::from(value()?),
            "--out" => opts.out_dir = PathBuf::from(value()?),
            "--case" => {
                opts.cases
                    .push(BenchCase::parse(&value()?).map_err(|e| e.to_string())?);
                opts.memory_driver = None;
                opts.scaling = false;
                opts.gemm_probe = false;
            }
            "--no-memory" => opts.memory_driver = None,
            "--no-scaling" => opts.scaling = false,
            other => return Err(format!("unknown argument {other} (see the source's doc)")),
        }
    }
    run_suite(&opts, &mut std::io::stdout()).map_err(|e| e.to_string())?;
    Ok(())
}
