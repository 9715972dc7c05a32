//! The expanded grid as a table: run ids, the parameters that vary, and what is done.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use serde_json::{Value, json};

use crate::columns::{Layout, Role, Table};
use crate::job::Job;
use crate::store::record::{Derived, Status};
use crate::sweep::Plan;

/// The record of a job before it runs: what its `runs.csv` row's parameters are read from.
pub fn planned_record(job: &Job) -> Value {
    json!({
        "run_id": job.id,
        "config_id": job.config_id,
        "sweep": job.sweep.name,
        "derived": Derived::of(&job.config),
        "config": job.config,
    })
}

/// The jobs' parameters as a table (the `runs.csv` columns, results empty).
pub fn planned_table(jobs: &[Job]) -> Table {
    let records: Vec<Value> = jobs.iter().map(planned_record).collect();
    let layout = Layout::of(&records);
    Table {
        header: layout.names().to_vec(),
        rows: records.iter().map(|r| layout.row(r)).collect(),
    }
}

/// Parameter columns that tell the rows of `table` apart ([`crate::columns::varies`]); the data set
/// and objective when none does.
pub fn varying_columns(table: &Table) -> Vec<String> {
    let mut varying = table.varying(Role::Param);
    if varying.is_empty() {
        varying = vec!["dataset".into(), "objective".into()];
    }
    varying
}

/// Sets each job's label to the parameters that vary across `jobs`.
pub fn label_jobs(jobs: &mut [Job]) {
    let table = planned_table(jobs);
    let cols = varying_columns(&table);
    for (job, row) in jobs.iter_mut().zip(&table.rows) {
        job.label = cols
            .iter()
            .map(|c| (c, table.get(row, c)))
            .filter(|(_, v)| !v.is_empty())
            .map(|(c, v)| format!("{c}={v}"))
            .collect::<Vec<_>>()
            .join(" ");
    }
}

/// The plan as a table, with each run's state under `out`, and a closing count line:
/// `N runs: D done, P pending`.
pub fn render(plan: &Plan, statuses: &BTreeMap<String, Status>, out: &Path) -> String {
    let table = planned_table(&plan.jobs);
    let cols = varying_columns(&table);
    let mut header: Vec<String> = vec!["run_id".into(), "status".into()];
    header.extend(cols.iter().cloned());
    let mut cells = vec![header];
    let (mut done, mut failed) = (0, 0);
    for (job, row) in plan.jobs.iter().zip(&table.rows) {
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
        line.extend(cols.iter().map(|c| table.get(row, c).to_string()));
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
