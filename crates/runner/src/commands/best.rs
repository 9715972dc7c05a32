//! `runner best DIR --by val_loss --per objective [--per dataset] [--seeds 100,101,102]`:
//! picks, in each group, the configuration with the lowest mean held-out number over its
//! seeds, and reports that configuration's metrics as mean ± sd over seeds. Selection never
//! uses the Fisher divergence or anything else that needs the true score.
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

use super::BAD_INPUT;
use super::execute::{Execution, execute_plan};
use crate::cli::BestArgs;
use crate::columns::{self, Role, Table};
use crate::job::{Job, SweepInfo};
use crate::report::readable;
use crate::store::{BEST_CSV, BEST_MD, METRICS_FILE, RUNS_CSV};
use crate::sweep::{Loaded, Plan, Sources};

/// Numbers a selection may use: held out, no true score needed.
pub const SELECTORS: [&str; 2] = ["val_loss", "model_ksd"];

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
    /// Configurations compared in the group.
    pub candidates: usize,
}

/// The winners of `table`: per group of `per` values, the config_id with the lowest mean
/// `by` over its ok runs (ties: the smaller config_id).
pub fn select(table: &Table, by: &str, per: &[String]) -> Vec<Winner> {
    let mut groups: BTreeMap<Vec<String>, BTreeMap<String, Vec<Vec<String>>>> = BTreeMap::new();
    for row in &table.rows {
        if table.get(row, "status") != "ok" || number(table.get(row, by)).is_none() {
            continue;
        }
        let group = per.iter().map(|c| table.get(row, c).to_string()).collect();
        groups
            .entry(group)
            .or_default()
            .entry(table.get(row, "config_id").to_string())
            .or_default()
            .push(row.clone());
    }
    groups
        .into_iter()
        .filter_map(|(group, configs)| {
            let candidates = configs.len();
            let mean = |rows: &[Vec<String>]| {
                let values: Vec<f64> = rows
                    .iter()
                    .filter_map(|r| number(table.get(r, by)))
                    .collect();
                values.iter().sum::<f64>() / values.len() as f64
            };
            let (config_id, rows) = configs
                .into_iter()
                .min_by(|a, b| mean(&a.1).total_cmp(&mean(&b.1)).then(a.0.cmp(&b.0)))?;
            Some(Winner {
                score: mean(&rows),
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
    let params: Vec<&str> = columns::header()
        .into_iter()
        .filter(|c| {
            columns::column(c).is_some_and(|col| col.role == Role::Param)
                && !per.iter().any(|p| p == c)
                && *c != "seed"
                && columns::varies(c, table.rows.iter().map(|r| table.get(r, c)))
        })
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
    if !SELECTORS.contains(&args.by.as_str()) {
        eprintln!(
            "--by {}: select by a held-out number ({}); the Fisher divergence and the other \
             true-score metrics must not choose the configuration they then report",
            args.by,
            SELECTORS.join(", ")
        );
        return Ok(ExitCode::from(BAD_INPUT));
    }
    let csv = args.dir.join(RUNS_CSV);
    let table = match Table::read(&csv) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("{}: {e:#}", args.dir.display());
            return Ok(ExitCode::from(BAD_INPUT));
        }
    };
    if let Some(bad) = args.per.iter().find(|p| table.index(p).is_none()) {
        eprintln!("--per {bad}: {} has no column \"{bad}\"", csv.display());
        return Ok(ExitCode::from(BAD_INPUT));
    }
    let winners = select(&table, &args.by, &args.per);
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
        "## Best configuration per {} by {} (mean over the tuning seeds)\n\n{}",
        if args.per.is_empty() {
            "sweep".to_string()
        } else {
            args.per.join(" × ")
        },
        args.by,
        markdown(&tuned)
    );
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
        let w = select(&t, "val_loss", &["objective".to_string()]);
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
        let all = select(&t, "val_loss", &[]);
        assert_eq!((all.len(), all[0].config_id.as_str()), (1, "d"));
        let rows = render(&t, &w, "val_loss", &["objective".to_string()]);
        assert_eq!(rows[0][..3], ["objective", "config_id", "candidates"]);
        assert_eq!(
            rows[2],
            ["ism", "b", "2", "1.600 ± 0.1414 (2)", "9.000 ± 0 (2)"]
        );
    }
}
