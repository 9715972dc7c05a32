//! `runner best DIR --by val_loss --per objective [--per dataset] [--seeds 100,101,102]`:
//! picks, in each group, the configuration with the best mean `--by` metric over its seeds,
//! and reports that configuration's metrics as mean ± sd over seeds. Any metric column that
//! says which way it improves may select, except those that need the true data distribution
//! (the Fisher divergence, KL, …: [`Column::oracle`]), which only `--oracle` allows. Trials a
//! search pruned count as candidates that lost.
//!
//! With `--seeds`, the winners run again on the fresh seeds (into `DIR/best/`, resumable
//! like any sweep) and the table reports those runs: tuning on one seed set and reporting on
//! another is one command. The table is printed and written to `DIR/best.md` and
//! `DIR/best.csv`, which `runner report` shows.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context as _, Result};
use indicatif::MultiProgress;
use scorematch::RunConfig;

use super::execute::{Execution, execute_plan};
use super::{BAD_INPUT, read_runs};
use crate::cli::BestArgs;
use crate::columns::{self, Better, Role, Table};
use crate::job::{Job, SweepInfo};
use crate::report::readable;
use crate::store::{BEST_CSV, BEST_MD, METRICS_FILE, RUNS_CSV};
use crate::sweep::{Loaded, Plan, Sources};

/// One group's winner.
#[derive(Clone, Debug, PartialEq)]
pub struct Winner {
    /// The group's values of the `--per` columns.
    pub group: Vec<String>,
    /// The winning configuration (config_id).
    pub config_id: String,
    /// Its runs' rows (one per seed).
    pub rows: Vec<Vec<String>>,
    /// Its mean selection number.
    pub score: f64,
    /// Configurations that competed in the group, those a search pruned included.
    pub candidates: usize,
}

/// One configuration's runs in a group.
#[derive(Default)]
struct Candidate {
    /// Its ok runs with a number to select by.
    rows: Vec<Vec<String>>,
    /// Whether a search pruned one of its runs (it lost).
    pruned: bool,
}

/// The winners of `table`: per group of `per` values, the config_id with the best mean `by`
/// (lowest, or highest where `better` is [`Better::Higher`]) over its ok runs (ties: the
/// smaller config_id). A configuration with a pruned run counts as a candidate and never
/// wins.
pub fn select(table: &Table, by: &str, better: Better, per: &[String]) -> Vec<Winner> {
    let mut groups: BTreeMap<Vec<String>, BTreeMap<String, Candidate>> = BTreeMap::new();
    for row in &table.rows {
        let pruned = table.get(row, "status") == "pruned";
        let selectable = table.get(row, "status") == "ok" && number(table.get(row, by)).is_some();
        if !pruned && !selectable {
            continue;
        }
        let group = per.iter().map(|c| table.get(row, c).to_string()).collect();
        let candidate = groups
            .entry(group)
            .or_default()
            .entry(table.get(row, "config_id").to_string())
            .or_default();
        if pruned {
            candidate.pruned = true;
        } else {
            candidate.rows.push(row.clone());
        }
    }
    let mean = |rows: &[Vec<String>]| {
        let values: Vec<f64> = rows
            .iter()
            .filter_map(|r| number(table.get(r, by)))
            .collect();
        values.iter().sum::<f64>() / values.len() as f64
    };
    groups
        .into_iter()
        .filter_map(|(group, configs)| {
            let candidates = configs.len();
            let (config_id, rows, score) = configs
                .into_iter()
                .filter(|(_, c)| !c.pruned && !c.rows.is_empty())
                .map(|(id, c)| {
                    let score = mean(&c.rows);
                    (id, c.rows, score)
                })
                .min_by(|a, b| {
                    let order = a.2.total_cmp(&b.2);
                    let order = if better == Better::Higher {
                        order.reverse()
                    } else {
                        order
                    };
                    order.then(a.0.cmp(&b.0))
                })?;
            Some(Winner {
                score,
                group,
                config_id,
                rows,
                candidates,
            })
        })
        .collect()
}

fn number(cell: &str) -> Option<f64> {
    cell.parse::<f64>().ok().filter(|v| v.is_finite())
}

/// mean ± sd (n) of a column over rows; empty when no row has a number.
fn mean_sd(table: &Table, rows: &[Vec<String>], name: &str) -> String {
    let v: Vec<f64> = rows
        .iter()
        .filter_map(|r| number(table.get(r, name)))
        .collect();
    if v.is_empty() {
        return String::new();
    }
    let n = v.len() as f64;
    let mean = v.iter().sum::<f64>() / n;
    let sd = if v.len() > 1 {
        (v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt()
    } else {
        0.0
    };
    format!("{} ± {} ({})", readable(mean), readable(sd), v.len())
}

/// The table of `winners` (from `table`): group, the winner's parameters that differ from the
/// other candidates, the selection number and every reported metric, as rows of cells.
pub fn render(table: &Table, winners: &[Winner], by: &str, per: &[String]) -> Vec<Vec<String>> {
    let varying = table.varying(Role::Param);
    let params: Vec<&str> = varying
        .iter()
        .map(String::as_str)
        .filter(|c| *c != "seed" && !per.iter().any(|p| p == c))
        .collect();
    let metrics: Vec<&str> = columns::metrics(|c| c.in_summary)
        .map(|c| c.name)
        .filter(|m| {
            *m != by
                && winners
                    .iter()
                    .any(|w| w.rows.iter().any(|r| number(table.get(r, m)).is_some()))
        })
        .collect();
    let mut header: Vec<String> = per.to_vec();
    header.extend(["config_id".to_string(), "candidates".to_string()]);
    header.extend(params.iter().map(|p| p.to_string()));
    header.push(by.to_string());
    header.extend(metrics.iter().map(|m| m.to_string()));
    let mut out = vec![header];
    for w in winners {
        let mut row = w.group.clone();
        row.push(w.config_id.clone());
        row.push(w.candidates.to_string());
        row.extend(params.iter().map(|p| table.get(&w.rows[0], p).to_string()));
        row.push(mean_sd(table, &w.rows, by));
        row.extend(metrics.iter().map(|m| mean_sd(table, &w.rows, m)));
        out.push(row);
    }
    out
}

fn markdown(rows: &[Vec<String>]) -> String {
    let line = |r: &Vec<String>| format!("| {} |\n", r.join(" | "));
    let mut out = line(&rows[0]);
    out.push_str(&format!("|{}\n", "---|".repeat(rows[0].len())));
    for r in &rows[1..] {
        out.push_str(&line(r));
    }
    out
}

/// `runner best`.
pub fn best(args: BestArgs, multi: Option<MultiProgress>) -> Result<ExitCode> {
    let Some(by) = columns::selectors(args.oracle).find(|c| c.name == args.by) else {
        let names = |oracle| {
            columns::selectors(oracle)
                .filter(|c| c.oracle == oracle)
                .map(|c| c.name)
                .collect::<Vec<_>>()
                .join(", ")
        };
        if columns::selectors(true).any(|c| c.name == args.by) {
            eprintln!(
                "--by {}: it needs the true data distribution (as do {}), which real data does \
                 not come with, and would choose the configuration by the number it then \
                 reports; select by a number from the data ({}), or add --oracle to select by \
                 it anyway",
                args.by,
                names(true),
                names(false)
            );
        } else {
            eprintln!(
                "--by {}: not a metric that says which way it improves (one of: {})",
                args.by,
                names(false)
            );
        }
        return Ok(ExitCode::from(BAD_INPUT));
    };
    let better = by.better.unwrap_or(Better::Lower);
    let table = match read_runs(&args.dir) {
        Ok(t) => t,
        Err(code) => return Ok(code),
    };
    let csv = args.dir.join(RUNS_CSV);
    if let Some(bad) = args.per.iter().find(|p| table.index(p).is_none()) {
        eprintln!("--per {bad}: {} has no column \"{bad}\"", csv.display());
        return Ok(ExitCode::from(BAD_INPUT));
    }
    let winners = select(&table, &args.by, better, &args.per);
    if winners.is_empty() {
        eprintln!(
            "{}: no ok run has a {} (record it with val_samples, or use data from a file)",
            csv.display(),
            args.by
        );
        return Ok(ExitCode::from(BAD_INPUT));
    }
    let tuned = render(&table, &winners, &args.by, &args.per);
    let mut text = format!(
        "## Best configuration per {} by {} (mean over the tuning seeds)\n\n",
        if args.per.is_empty() {
            "sweep".to_string()
        } else {
            args.per.join(" × ")
        },
        args.by,
    );
    if by.oracle {
        text.push_str(&format!(
            "Selected by {}, which uses the true data distribution (--oracle): the table \
             reports the configuration that number chose.\n\n",
            args.by
        ));
    }
    text.push_str(&markdown(&tuned));
    let mut written = tuned;
    let mut code = ExitCode::SUCCESS;
    if !args.seeds.is_empty() {
        let (fresh, fresh_code) = rerun(&args, &winners, &table, multi)?;
        code = fresh_code;
        text.push_str(&format!(
            "\n## The same configurations on fresh seeds {:?}\n\n{}",
            args.seeds,
            markdown(&fresh)
        ));
        written = fresh;
    }
    print!("{text}");
    crate::store::write_atomic(&args.dir.join(BEST_MD), text.as_bytes())?;
    let csv_bytes: Vec<u8> = written.iter().flat_map(|r| columns::encode(r)).collect();
    crate::store::write_atomic(&args.dir.join(BEST_CSV), &csv_bytes)?;
    Ok(code)
}

/// Runs each winner on `args.seeds` into `DIR/best/` and renders those runs.
fn rerun(
    args: &BestArgs,
    winners: &[Winner],
    table: &Table,
    multi: Option<MultiProgress>,
) -> Result<(Vec<Vec<String>>, ExitCode)> {
    let sweep = Arc::new(SweepInfo {
        name: "best".into(),
        description: format!("winners by {} on fresh seeds", args.by),
    });
    let mut jobs = Vec::new();
    for w in winners {
        let id = table.get(&w.rows[0], "run_id");
        let config = read_config(&args.dir.join("runs").join(id))?;
        for &seed in &args.seeds {
            jobs.push(Job::new(
                RunConfig {
                    seed,
                    ..config.clone()
                },
                sweep.clone(),
            ));
        }
    }
    let out = args.dir.join("best");
    let plan = Plan::of_jobs(sweep, jobs);
    let ex = Execution {
        out: out.clone(),
        fresh: false,
        dry_run: false,
        jobs: args.jobs.map(|j| j as usize),
        threads: None,
        gpu_jobs: 1,
        command_line: std::env::args().collect::<Vec<_>>().join(" "),
    };
    let executed = execute_plan(
        Loaded {
            plan,
            sources: Sources::default(),
            document: toml::Table::new(),
        },
        &ex,
        multi,
    )?;
    let fresh = Table::read(&out.join(RUNS_CSV))?;
    // The same groups, each fixed to its winner: the fresh runs of that configuration.
    let rerun: Vec<Winner> = winners
        .iter()
        .map(|w| Winner {
            rows: fresh
                .rows
                .iter()
                .filter(|r| fresh.get(r, "config_id") == w.config_id)
                .cloned()
                .collect(),
            ..w.clone()
        })
        .collect();
    Ok((render(&fresh, &rerun, &args.by, &args.per), executed.code))
}

fn read_config(run_dir: &Path) -> Result<RunConfig> {
    let path = run_dir.join(METRICS_FILE);
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let record: serde_json::Value = serde_json::from_str(&text)?;
    serde_json::from_value(record["config"].clone())
        .with_context(|| format!("reading the configuration in {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(rows: &[(&str, &str, &str, &str, &str)]) -> Table {
        // objective, config_id, seed, val_loss, fisher
        let header = [
            "status",
            "objective",
            "config_id",
            "seed",
            "val_loss",
            "fisher",
            "run_id",
        ];
        Table {
            header: header.iter().map(|h| h.to_string()).collect(),
            rows: rows
                .iter()
                .map(|(o, c, s, v, f)| {
                    ["ok", o, c, s, v, f, "r"]
                        .iter()
                        .map(|x| x.to_string())
                        .collect()
                })
                .collect(),
        }
    }

    #[test]
    fn the_best_is_what_a_hand_computation_picks() {
        let t = table(&[
            ("ism", "a", "0", "1.0", "0.1"),
            ("ism", "a", "1", "3.0", "0.1"), // mean 2.0
            ("ism", "b", "0", "1.5", "9.0"),
            ("ism", "b", "1", "1.7", "9.0"), // mean 1.6: best by val_loss, worst by Fisher
            ("dsm", "c", "0", "0.5", "1.0"),
            ("dsm", "d", "0", "0.4", "2.0"),
            ("dsm", "d", "1", "", "2.0"), // no val_loss: not counted
        ]);
        let w = select(&t, "val_loss", Better::Lower, &["objective".to_string()]);
        assert_eq!(w.len(), 2);
        // Groups in name order: dsm, ism.
        assert_eq!(
            (w[0].group[0].as_str(), w[0].config_id.as_str()),
            ("dsm", "d")
        );
        assert_eq!((w[0].score, w[0].rows.len(), w[0].candidates), (0.4, 1, 2));
        assert_eq!((w[1].config_id.as_str(), w[1].rows.len()), ("b", 2));
        assert!((w[1].score - 1.6).abs() < 1e-12);
        // One group for the whole sweep without --per.
        let all = select(&t, "val_loss", Better::Lower, &[]);
        assert_eq!((all.len(), all[0].config_id.as_str()), (1, "d"));
        // Where higher is better, the highest mean wins.
        let highest = select(&t, "val_loss", Better::Higher, &[]);
        assert_eq!(highest[0].config_id, "a");
        let rows = render(&t, &w, "val_loss", &["objective".to_string()]);
        assert_eq!(rows[0][..3], ["objective", "config_id", "candidates"]);
        assert_eq!(
            rows[2],
            ["ism", "b", "2", "1.600 ± 0.1414 (2)", "9.000 ± 0 (2)"]
        );
    }

    #[test]
    fn pruned_trials_are_candidates_that_lose() {
        let mut t = table(&[
            ("ism", "a", "0", "2.0", ""),
            ("ism", "b", "0", "0.1", ""), // the lowest, but its other seed was pruned
            ("ism", "b", "1", "0.1", ""),
            ("ism", "c", "0", "0.5", ""),
            ("ism", "d", "0", "0.2", ""), // pruned only
        ]);
        t.rows[2][0] = "pruned".into();
        t.rows[4][0] = "pruned".into();
        let w = select(&t, "val_loss", Better::Lower, &[]);
        assert_eq!(w.len(), 1);
        assert_eq!((w[0].config_id.as_str(), w[0].candidates), ("c", 4));
    }

    #[test]
    fn the_selectors_are_the_registry_metrics_without_the_oracle_ones() {
        let plain: Vec<&str> = columns::selectors(false).map(|c| c.name).collect();
        for name in ["val_loss", "model_ksd", "sample_mmd", "test_loglik"] {
            assert!(plain.contains(&name), "{name} missing from {plain:?}");
        }
        for name in [
            "fisher",
            "fisher_sigma",
            "kl",
            "sample_ksd",
            "mode_coverage",
        ] {
            assert!(!plain.contains(&name), "{name} in {plain:?}");
            assert!(columns::selectors(true).any(|c| c.name == name), "{name}");
        }
        // Counts and identifiers never select.
        assert!(!columns::selectors(true).any(|c| c.name == "steps_done" || c.name == "seed"));
    }
}
