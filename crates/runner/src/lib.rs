//! The `runner` front end of scorematch: declarative sweeps (TOML) expanded into checked
//! runs, executed in parallel, recorded as one tidy CSV row per run.

pub mod columns;
pub mod exec;
pub mod job;
pub mod store;
pub mod sweep;
