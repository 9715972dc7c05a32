//! The expanded grid as a table: run ids, the parameters that vary, and what is done.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use serde_json::json;

use crate::columns::{self, COLUMNS, Role};
use crate::job::Job;
use crate::store::record::{Derived, Status};
use crate::sweep::Plan;

/// The `runs.csv` cells a job's configuration determines (results empty).
pub fn planned_row(job: &Job) -> Vec<String> {
    columns::row(&json!({
        "run_id": job.id,
        "config_id": job.config_id,
        "sweep": job.sweep.name,
        "derived": Derived::of(&job.config),
        "config": job.config,
    }))
}

/// Parameter columns that tell `rows` apart ([`columns::varies`]); the data set and
/// objective when none does.
pub fn varying_columns(rows: &[Vec<String>]) -> Vec<usize> {
    let varying: Vec<usize> = COLUMNS
        .iter()
        .enumerate()
        .filter(|(i, c)| {
            c.role == Role::Param && columns::varies(c.name, rows.iter().map(|r| r[*i].as_str()))
        })
        .map(|(i, _)| i)
        .collect();
    if varying.is_empty() {
        ["dataset", "objective"]
            .iter()
            .filter_map(|n| COLUMNS.iter().position(|c| c.name == *n))
            .collect()
    } else {
        varying
    }
}

/// Sets each job's label to the parameters that vary across `jobs`.
pub fn label_jobs(jobs: &mut [Job]) {
    let rows: Vec<Vec<String>> = jobs.iter().map(planned_row).collect();
    let cols = varying_columns(&rows);
    for (job, row) in jobs.iter_mut().zip(&rows) {
        job.label = cols
            .iter()
            .filter(|&&i| !row[i].is_empty())
            .map(|&i| format!("{}={}", COLUMNS[i].name, row[i]))
            .collect::<Vec<_>>()
            .join(" ");
    }
}

/// The plan as a table, with each run's state under `out`, and a closing count line:
/// `N runs: D done, P pending`.
pub fn render(plan: &Plan, statuses: &BTreeMap<String, Status>, out: &Path) -> String {
    let rows: Vec<Vec<String>> = plan.jobs.iter().map(planned_row).collect();
    let cols = varying_columns(&rows);
    let mut header: Vec<String> = vec!["run_id".into(), "status".into()];
    header.extend(cols.iter().map(|&i| COLUMNS[i].name.to_string()));
    let mut cells = vec![header];
    let (mut done, mut failed) = (0, 0);
    for (job, row) in plan.jobs.iter().zip(&rows) {
        let status = match statuses.get(&job.id) {
            Some(s) if s.is_complete() => {
                done += 1;
                s.as_str()
            }
            Some(_) => {
                failed += 1;
                "failed"
            }
            None => "pending",
        };
        let mut line = vec![job.id.clone(), status.to_string()];
        line.extend(cols.iter().map(|&i| row[i].clone()));
        cells.push(line);
    }
    let mut s = String::new();
    let _ = write!(s, "{}", plan.sweep.name);
    if !plan.sweep.description.is_empty() {
        let _ = write!(s, ": {}", plan.sweep.description);
    }
    s.push('\n');
    s.push_str(&aligned(&cells));
    let total = plan.jobs.len();
    let _ = write!(s, "{total} runs: {done} done, {} pending", total - done);
    if failed > 0 {
        let _ = write!(s, " ({failed} failed, to retry)");
    }
    let _ = writeln!(s, " in {}", out.display());
    if plan.excluded + plan.duplicates > 0 {
        let _ = writeln!(
            s,
            "({} points: {} excluded, {} duplicates)",
            plan.points, plan.excluded, plan.duplicates
        );
    }
    s
}

/// Rows of cells as left-aligned columns.
pub fn aligned(rows: &[Vec<String>]) -> String {
    let widths: Vec<usize> = (0..rows.first().map_or(0, Vec::len))
        .map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
        .collect();
    let mut s = String::new();
    for r in rows {
        let line: Vec<String> = r
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        s.push_str(line.join("  ").trim_end());
        s.push('\n');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sweep::load_str;

    #[test]
    fn labels_and_tables_show_what_varies() {
        let mut loaded = load_str(
            "s.toml",
            "name = \"t\"\n[defaults]\ndataset = \"8gaussians\"\n[grid]\nobjective = [{ name = \"dsm\", sigma = [0.1, 0.5] }]\nseed = [0, 1]\n",
            &[],
        )
        .unwrap();
        label_jobs(&mut loaded.plan.jobs);
        assert_eq!(loaded.plan.jobs[1].label, "sigma=0.1 seed=1");
        let mut statuses = BTreeMap::new();
        statuses.insert(loaded.plan.jobs[0].id.clone(), Status::Ok);
        statuses.insert(loaded.plan.jobs[1].id.clone(), Status::Failed);
        let table = render(&loaded.plan, &statuses, Path::new("out"));
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines[0], "t");
        assert!(
            lines[1].starts_with("run_id        status   sigma  seed"),
            "{table}"
        );
        assert!(
            lines[2].contains(" ok ") && lines[3].contains(" failed "),
            "{table}"
        );
        assert_eq!(
            lines[6],
            "4 runs: 1 done, 3 pending (1 failed, to retry) in out"
        );
    }

    #[test]
    fn columns_align() {
        let rows = vec![
            vec!["a".to_string(), "bbb".to_string()],
            vec!["cc".to_string(), "d".to_string()],
        ];
        assert_eq!(aligned(&rows), "a   bbb\ncc  d\n");
    }
}
