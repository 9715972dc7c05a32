//! The `runner` front end of scorematch: declarative sweeps (TOML) expanded into checked
//! runs, executed in parallel, recorded as one tidy CSV row per run.
//!
//! - [`sweep`]: sweep file → checked spec → runs ([`job::Job`]), with located errors
//! - [`exec`]: parallel execution, one rayon pool per run, panics caught
//! - [`store`]: the output directory, crash-safe; [`columns`]: the `runs.csv` columns
//! - [`report`]: aggregation over seeds; [`listing`]: the grid as a table
//! - [`shard`]: splitting a sweep over processes or machines (`--shard K/N`, `runner slurm`)
//! - [`bench`]: training throughput against the peers (`runner bench`)
//! - [`cli`], [`commands`]: the command line

pub mod bench;
pub mod cli;
pub mod columns;
pub mod commands;
pub mod exec;
pub mod job;
pub mod listing;
pub mod logging;
pub mod report;
pub mod shard;
pub mod store;
pub mod sweep;
