//! `runner bench`: training throughput by the peers' protocol (PyTorch and JAX on the same
//! machine kind, `results/reference/peer_throughput.csv`).
//!
//! The protocol: batches of 256 drawn with replacement from a fixed pool of 65,536
//! pre-generated samples (generation not timed); steps per second count everything else in a
//! step (batch gather, noise, loss, gradient, Adam update), after 50 warm-up steps; the median
//! over repeats. A step here is exactly what a sweep's run executes: the library's
//! `RunSetup` and `Trainer`, reading the loss back every 50 steps as training does. A case
//! runs inside a rayon pool of its thread count.
//!
//! Also: the core's FMA peak and a GEMM-rate probe (measured by the library, which owns the
//! kernels), each case's FLOP rate and ceiling, the peak memory of one full run (in a child
//! process), the throughput of two concurrent single-thread runs, and paired cases (energy
//! against score networks, finite-difference SSM against SSM).

mod case;
mod measure;
mod pairs;
mod peers;
mod suite;

pub use case::BenchCase;
pub use measure::{
    BenchResult, BenchSettings, MEMORY_ARG, MEMORY_LINE, Scaling, concurrent_scaling, in_pool,
    memory_case, peak_rss_mib, run_case, spawn_memory_case, thread_cpu_seconds,
};
pub use pairs::{ENERGY, FINITE_DIFFERENCES, PairRow, PairedComparison, Variant, pair_rows};
pub use peers::{Comparison, PeerRow, compare, peer_cases, print_table, read_peers, write_csv};
pub use suite::{
    GemmRow, MemoryRow, ScalingRow, SuiteOptions, SuiteReport, load_average, machine, run_suite,
};

/// Size of the pool batches are drawn from.
pub const POOL: usize = 65_536;
/// Batch size of every case.
pub const BATCH: usize = 256;
/// Warm-up steps before timing.
pub const WARMUP: usize = 50;
/// The loss is read back every this many steps, as in training.
pub const LOG_EVERY: usize = 50;
