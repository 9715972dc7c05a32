//! Metrics of a trained score.

mod fisher;

pub use fisher::fisher_divergence;
