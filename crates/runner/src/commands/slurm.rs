//! `runner slurm`: a sweep as a Slurm job array, one shard per task, and a job that runs
//! `runner report` when the array has ended.
//!
//! Both batch scripts are saved in `<out>/slurm/`; the array's is printed (a dry run) unless
//! `--submit` hands them to `sbatch`. Finished runs are skipped by every task, so submitting
//! again finishes only what is missing.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use anyhow::{Context as _, Result, bail};

use super::{default_out, invalid, warn};
use crate::cli::SlurmArgs;
use crate::shard::default_count;
use crate::store::{Store, write_atomic};

/// Array tasks when `--shards` is not given: about one per pending run, at most about this
/// many (see [`default_count`]).
pub const DEFAULT_MAX_SHARDS: usize = 100;

/// Writes the batch scripts and, with `--submit`, submits them.
pub fn slurm(args: SlurmArgs) -> Result<ExitCode> {
    let loaded = match crate::sweep::load(&args.file.file, &args.file.set) {
        Ok(l) => l,
        Err(d) => return Ok(invalid(&d)),
    };
    warn(&loaded.plan.warnings);
    let plan = &loaded.plan;
    let name = &plan.sweep.name;
    let out = args.out.clone().unwrap_or_else(|| default_out(name));
    let out = std::path::absolute(&out)
        .with_context(|| format!("resolving the output directory {}", out.display()))?;
    let statuses = match Store::existing(&out) {
        Some(store) => store.statuses()?,
        None => Default::default(),
    };
    let total = plan.jobs.len();
    let pending_ids: Vec<&str> = plan
        .jobs
        .iter()
        .filter(|j| !statuses.get(&j.id).is_some_and(|s| s.is_complete()))
        .map(|j| j.id.as_str())
        .collect();
    let pending = pending_ids.len();
    if pending == 0 {
        println!(
            "{name}: all {total} runs are done in {}; nothing to submit (`runner report {}` summarises them)",
            out.display(),
            out.display()
        );
        return Ok(ExitCode::SUCCESS);
    }
    let array = ArrayJob {
        name: job_name(name),
        runner: std::env::current_exe().context("finding the runner binary")?,
        file: std::fs::canonicalize(&args.file.file)
            .with_context(|| format!("resolving {}", args.file.file.display()))?,
        set: args.file.set.clone(),
        out,
        shards: args.shards.map_or_else(
            || {
                default_count(
                    &pending_ids,
                    args.cpus_per_task as usize,
                    DEFAULT_MAX_SHARDS,
                ) as usize
            },
            |n| n as usize,
        ),
        cpus_per_task: args.cpus_per_task,
        partition: args.partition.clone(),
        time: args.time.clone(),
        mem: args.mem.clone(),
    };
    array.check()?;
    let logs = array.out.join("slurm").join("logs");
    std::fs::create_dir_all(&logs).with_context(|| format!("creating {}", logs.display()))?;
    let array_path = array.script_path("");
    let report_path = array.script_path("-report");
    let script = array.array_script(pending, total);
    write_atomic(&array_path, script.as_bytes())?;
    write_atomic(&report_path, array.report_script().as_bytes())?;
    eprintln!(
        "{name}: {pending} of {total} runs to do → {} array task{} × {} core{}",
        array.shards,
        if array.shards == 1 { "" } else { "s" },
        array.cpus_per_task,
        if array.cpus_per_task == 1 { "" } else { "s" },
    );
    if !args.submit {
        print!("{script}");
        eprintln!(
            "dry run: wrote {} and {}; add --submit to submit both (the report job after the array)",
            array_path.display(),
            report_path.display()
        );
        return Ok(ExitCode::SUCCESS);
    }
    let array_id = sbatch(&[], &array_path)?;
    println!(
        "submitted job array {array_id}: {} tasks for {pending} runs (logs in {})",
        array.shards,
        logs.display()
    );
    let report_id = sbatch(&[format!("--dependency=afterany:{array_id}")], &report_path)?;
    println!(
        "submitted report job {report_id}: `runner report {}` once job {array_id} has ended",
        array.out.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// What the batch scripts are made of.
#[derive(Clone, Debug)]
struct ArrayJob {
    /// Slurm job name (and script file name).
    name: String,
    /// Absolute path of the runner binary.
    runner: PathBuf,
    /// Absolute path of the sweep file.
    file: PathBuf,
    /// `--set` overrides, passed on.
    set: Vec<String>,
    /// Absolute output directory.
    out: PathBuf,
    /// Array tasks.
    shards: usize,
    /// Cores per task (= concurrent runs in a task).
    cpus_per_task: u32,
    /// `--partition`.
    partition: Option<String>,
    /// `--time`.
    time: Option<String>,
    /// `--mem`.
    mem: Option<String>,
}

impl ArrayJob {
    /// Refuses values that cannot go into an `#SBATCH` line.
    fn check(&self) -> Result<()> {
        let out = self.out.to_string_lossy();
        let values = [
            ("--out", Some(out.as_ref())),
            ("--partition", self.partition.as_deref()),
            ("--time", self.time.as_deref()),
            ("--mem", self.mem.as_deref()),
        ];
        for (flag, value) in values {
            if let Some(v) = value
                && (v.is_empty() || v.contains(|c: char| c.is_whitespace() || "\"'#".contains(c)))
            {
                bail!("{flag} `{v}` cannot go into an #SBATCH line: no spaces, quotes or `#`");
            }
        }
        Ok(())
    }

    /// `<out>/slurm/<name><suffix>.sbatch`.
    fn script_path(&self, suffix: &str) -> PathBuf {
        self.out
            .join("slurm")
            .join(format!("{}{suffix}.sbatch", self.name))
    }

    /// `#SBATCH` lines shared by both scripts.
    fn resource_lines(&self) -> String {
        let mut s = String::new();
        for (key, value) in [
            ("partition", &self.partition),
            ("time", &self.time),
            ("mem", &self.mem),
        ] {
            if let Some(v) = value {
                s += &format!("#SBATCH --{key}={v}\n");
            }
        }
        s
    }

    /// The job array: task K runs shard K of the sweep.
    fn array_script(&self, pending: usize, total: usize) -> String {
        let n = self.shards;
        let c = self.cpus_per_task;
        let mut sweep = format!(
            "{} sweep {} --out {} --shard \"$SLURM_ARRAY_TASK_ID/{n}\" --jobs {c} --threads 1",
            quote(&self.runner),
            quote(&self.file),
            quote(&self.out),
        );
        for s in &self.set {
            sweep += &format!(" --set {}", quote(Path::new(s)));
        }
        format!(
            "#!/bin/bash
# Written by `runner slurm` ({pending} of {total} runs to do). Task K of the array runs shard
# K/{n} of the sweep (runs chosen by a hash of their id) into one shared output directory;
# finished runs are skipped, so submitting again finishes only what is missing. N is written
# out (not $SLURM_ARRAY_TASK_COUNT) so `sbatch --array=K this-file` reruns shard K alone.
#SBATCH --job-name={name}
#SBATCH --array=0-{last}
#SBATCH --cpus-per-task={c}
{resources}#SBATCH --output={out}/slurm/logs/%x-%A_%a.out
set -euo pipefail
exec {sweep}
",
            name = self.name,
            last = n - 1,
            resources = self.resource_lines(),
            out = self.out.display(),
        )
    }

    /// The report job, submitted to start once the array has ended, however it ended.
    fn report_script(&self) -> String {
        format!(
            "#!/bin/bash
# Written by `runner slurm`: summarises the sweep's results once its job array has ended
# (submitted with --dependency=afterany:<array job id>).
#SBATCH --job-name={name}-report
#SBATCH --cpus-per-task=1
{resources}#SBATCH --output={out}/slurm/logs/%x-%j.out
set -euo pipefail
exec {runner} report {quoted_out}
",
            name = self.name,
            resources = self.resource_lines(),
            out = self.out.display(),
            runner = quote(&self.runner),
            quoted_out = quote(&self.out),
        )
    }
}

/// A sweep name as a Slurm job name: letters, digits, `-`, `_` and `.`, others as `_`.
fn job_name(sweep: &str) -> String {
    let name: String = sweep
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    if name.is_empty() {
        "sweep".to_string()
    } else {
        name
    }
}

/// A word for the shell: in single quotes, each `'` written as `'\''`.
fn quote(word: &Path) -> String {
    format!("'{}'", word.to_string_lossy().replace('\'', r"'\''"))
}

/// Runs `sbatch --parsable ARGS SCRIPT` and returns the job id it prints.
fn sbatch(args: &[String], script: &Path) -> Result<String> {
    let output = Command::new("sbatch")
        .arg("--parsable")
        .args(args)
        .arg(script)
        .output()
        .context("running sbatch (is Slurm installed and sbatch on PATH?)")?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        bail!(
            "sbatch {} failed ({}): {}",
            script.display(),
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    // `<id>` or `<id>;<cluster>`.
    let id = stdout.trim().split(';').next().unwrap_or_default();
    if id.is_empty() || !id.chars().all(|c| c.is_ascii_digit()) {
        bail!(
            "sbatch {} printed `{}`, not a job id",
            script.display(),
            stdout.trim()
        );
    }
    Ok(id.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job() -> ArrayJob {
        ArrayJob {
            name: "noise".into(),
            runner: "/opt/bin/runner".into(),
            file: "/home/me/it's.toml".into(),
            set: vec!["defaults.steps=100".into()],
            out: "/scratch/noise".into(),
            shards: 3,
            cpus_per_task: 4,
            partition: Some("cpu".into()),
            time: None,
            mem: Some("4G".into()),
        }
    }

    #[test]
    fn the_array_script_runs_shard_k_of_n_in_each_task() {
        let script = job().array_script(5, 9);
        let lines: Vec<&str> = script.lines().collect();
        assert_eq!(lines[0], "#!/bin/bash");
        for line in [
            "#SBATCH --job-name=noise",
            "#SBATCH --array=0-2",
            "#SBATCH --cpus-per-task=4",
            "#SBATCH --partition=cpu",
            "#SBATCH --mem=4G",
            "#SBATCH --output=/scratch/noise/slurm/logs/%x-%A_%a.out",
            r#"exec '/opt/bin/runner' sweep '/home/me/it'\''s.toml' --out '/scratch/noise' --shard "$SLURM_ARRAY_TASK_ID/3" --jobs 4 --threads 1 --set 'defaults.steps=100'"#,
        ] {
            assert!(lines.contains(&line), "{line} missing from\n{script}");
        }
        assert!(!script.contains("--time"));
        // sbatch reads #SBATCH lines only before the first command.
        let first_command = lines.iter().position(|l| !l.starts_with('#')).unwrap();
        assert!(
            lines[first_command..]
                .iter()
                .all(|l| !l.starts_with("#SBATCH"))
        );
    }

    #[test]
    fn the_report_script_reports_the_output_directory() {
        let script = job().report_script();
        assert!(script.contains("#SBATCH --job-name=noise-report\n"));
        assert!(script.contains("#SBATCH --partition=cpu\n"));
        assert!(script.ends_with("exec '/opt/bin/runner' report '/scratch/noise'\n"));
    }

    #[test]
    fn values_that_break_sbatch_lines_are_refused() {
        assert!(job().check().is_ok());
        let mut bad = job();
        bad.time = Some("1:00 #x".into());
        let err = bad.check().unwrap_err().to_string();
        assert!(err.starts_with("--time `1:00 #x`"), "{err}");
        let mut bad = job();
        bad.out = "/my results".into();
        assert!(bad.check().is_err());
    }

    #[test]
    fn job_names_keep_only_safe_characters() {
        assert_eq!(job_name("noise levels/σ"), "noise_levels__");
        assert_eq!(job_name("a-b_c.1"), "a-b_c.1");
        assert_eq!(job_name(""), "sweep");
    }
}
