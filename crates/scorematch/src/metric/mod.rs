//! Metrics of a trained score (Fisher divergence, kernel Stein discrepancy of the evaluation
//! data), of a model's density (log Z, likelihood,
//! KL; [`likelihood`]) and of the samples it generates (MMD,
//! energy distance, sliced Wasserstein, kernel Stein discrepancy, mode statistics). The sample metrics run on the host
//! in f64.
//!
//! Adding a sample metric: one file with its function from [`MetricInputs`], plus one line in
//! the registry of `sample_quality.rs` (which makes [`SampleMetric`] and [`SampleMetrics`]),
//! with its presentation (label, which way is better, where it is shown), from which the
//! runner makes its column.

pub mod asymmetry;
mod energy;
mod fisher;
mod ksd;
pub mod likelihood;
mod mmd;
mod modes;
mod presentation;
mod sample_quality;
mod swd;

pub use asymmetry::asymmetry;
pub use energy::energy_distance;
pub use fisher::{fisher_divergence, fisher_divergence_of_scores};
pub use ksd::{KSD_POINTS, kernel_stein_discrepancy};
pub use likelihood::{DensityFit, density_fit};
pub use mmd::{MEDIAN_POINTS, median_bandwidth, mmd2_unbiased};
pub use modes::{ModeStats, mode_statistics};
pub use presentation::{Better, Presentation, Shown};
pub use sample_quality::{
    MetricInputs, SampleMetric, SampleMetrics, SampleMetricsConfig, sample_metrics,
};
pub use swd::{random_directions, sliced_wasserstein2, wasserstein2_sq_sorted};
