//! The command line around a finished sweep: runs named by id prefix, `--help` read from the
//! registries, `--set` hints and the saved `sweep.toml`, `compare` with missing
//! configurations, and `best` by any metric from the data (the true-score ones only with
//! `--oracle`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::{Sandbox, TINY, ok, read_csv_with_header, text};
use scorematch::Backend;
use scorematch::data::DatasetConfig;
use scorematch::model::ModelConfig;
use scorematch::objective::ObjectiveConfig;
use scorematch::sample::SamplerConfig;

/// Two objectives × two seeds on 2-D data, with a held-out loss and a short sampler.
fn small_sweep(s: &Sandbox) -> PathBuf {
    let file = s.write(
        "small.toml",
        &format!(
            "name = \"small\"\n{TINY}val_samples = 100\n\
             sampler = {{ name = \"langevin\", steps = 5 }}\n\
             [defaults.sample_metrics]\nsamples = 100\nreference_samples = 100\n\
             [grid]\ndataset = [\"8gaussians\"]\nobjective = [\"esm\", \"ism\"]\nseed = [0, 1]\n"
        ),
    );
    ok(&s.runner(&["sweep", file.to_str().unwrap(), "--no-report"]));
    s.path("results/small")
}

fn run_ids(dir: &Path) -> Vec<String> {
    let mut ids: Vec<String> = std::fs::read_dir(dir.join("runs"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    ids.sort();
    ids
}

#[test]
fn runs_are_named_by_a_unique_prefix_and_unknown_or_ambiguous_ones_are_refused() {
    let s = Sandbox::new();
    let dir = small_sweep(&s);
    let d = dir.to_str().unwrap();
    let id = run_ids(&dir)[0].clone();
    let prefix = &id[..6];

    ok(&s.runner(&["sample", d, "--run", prefix]));
    let (_, sampled) = read_csv_with_header(&dir.join("sampled.csv"));
    assert_eq!(sampled[0]["train_run_id"], id, "the whole id is recorded");
    ok(&s.runner(&["report", d, "--run", prefix]));
    assert!(dir.join("report/index.html").is_file());

    for command in ["sample", "report"] {
        let out = s.runner(&[command, d, "--run", "zzzz"]);
        assert_eq!(out.status.code(), Some(2), "{command}");
        assert!(
            text(&out.stderr).contains(&format!("no run zzzz in {d}")),
            "{command}: {}",
            text(&out.stderr)
        );
    }
    // A second directory starting with the same letters makes the prefix ambiguous.
    let twin = format!("{prefix}0000");
    std::fs::create_dir(dir.join("runs").join(&twin)).unwrap();
    for command in ["sample", "report"] {
        let out = s.runner(&[command, d, "--run", prefix]);
        assert_eq!(out.status.code(), Some(2), "{command}");
        let err = text(&out.stderr);
        assert!(
            err.contains(&format!("run {prefix} is ambiguous"))
                && err.contains(&format!("  {id}"))
                && err.contains(&format!("  {twin}")),
            "{command}: {err}"
        );
    }
}

#[test]
fn run_help_lists_every_registered_name_of_this_build() {
    let s = Sandbox::new();
    let out = s.runner(&["run", "--help"]);
    ok(&out);
    let help = text(&out.stdout);
    // The names a line lists after its first ": ".
    let listed = |start: &str| -> Vec<String> {
        let line = help
            .lines()
            .find(|l| l.trim_start().starts_with(start))
            .unwrap_or_else(|| panic!("no {start} line in\n{help}"));
        let (_, names) = line.split_once(": ").unwrap();
        let names = names.split(" [default").next().unwrap();
        names.split(", ").map(String::from).collect()
    };
    let lists = [
        ("--dataset", DatasetConfig::NAMES),
        ("--objective", ObjectiveConfig::NAMES),
        ("--model", ModelConfig::NAMES),
        ("Samplers", SamplerConfig::NAMES),
    ];
    for (start, names) in lists {
        assert_eq!(listed(start), names, "{start}");
    }
    let compiled: Vec<&str> = Backend::compiled().into_iter().map(Backend::name).collect();
    assert_eq!(listed("--backend"), compiled);
}

#[test]
fn a_parameter_set_at_the_top_level_says_where_it_belongs_and_sweep_toml_keeps_overrides() {
    let s = Sandbox::new();
    let file = s.write(
        "o.toml",
        &format!("name = \"o\"\n{TINY}[grid]\ndataset = [\"banana\"]\nobjective = [\"ism\"]\n"),
    );
    let f = file.to_str().unwrap();
    let out = s.runner(&["validate", f, "--set", "steps=10"]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains("--set steps=10: steps: did you mean defaults.steps?"),
        "{err}"
    );

    let sets = ["--set", "defaults.steps=7", "--set", "grid.seed=[3, 4]"];
    let mut args = vec!["sweep", f, "--no-report"];
    args.extend(sets);
    ok(&s.runner(&args));
    let saved = std::fs::read_to_string(s.path("results/o/sweep.toml")).unwrap();
    let doc: toml::Table = toml::from_str(&saved).unwrap();
    assert_eq!(doc["defaults"]["steps"].as_integer(), Some(7), "{saved}");
    assert_eq!(doc["grid"]["seed"].as_array().unwrap().len(), 2, "{saved}");
    // The saved file alone names the same runs: all done.
    let listed = s.runner(&["list", "results/o/sweep.toml", "--out", "results/o"]);
    ok(&listed);
    assert!(
        text(&listed.stdout).contains("2 runs: 2 done, 0 pending"),
        "{}",
        text(&listed.stdout)
    );
}

/// `runs.csv` of `dir` written to `to` with each row passed through `edit`, which drops
/// the row by returning false.
fn rewrite(dir: &Path, to: &Path, edit: impl Fn(&mut BTreeMap<String, String>) -> bool) {
    let (header, rows) = read_csv_with_header(&dir.join("runs.csv"));
    let mut w = csv::Writer::from_path(to).unwrap();
    w.write_record(&header).unwrap();
    for mut r in rows {
        if edit(&mut r) {
            w.write_record(header.iter().map(|h| &r[h])).unwrap();
        }
    }
    w.flush().unwrap();
}

#[test]
fn compare_lists_missing_configurations_apart_and_shared_only_ignores_them() {
    let s = Sandbox::new();
    let dir = small_sweep(&s);
    let reference = dir.join("runs.csv");
    let partial = s.path("partial.csv");
    rewrite(&dir, &partial, |r| r["objective"] != "ism");
    let (r, p) = (reference.to_str().unwrap(), partial.to_str().unwrap());

    let out = s.runner(&["compare", r, p]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(!stdout.contains("REGRESSION"), "{stdout}");
    assert!(
        stdout.contains("Missing from the new results (1):\n  objective=ism"),
        "{stdout}"
    );
    assert!(
        stdout.contains("1 configurations compared: 0 regressions, 0 improvements, 1 missing"),
        "{stdout}"
    );

    let out = s.runner(&["compare", r, p, "--shared-only"]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("1 missing"), "{stdout}");
    // A regression among the shared configurations still fails.
    let worse = s.path("worse.csv");
    rewrite(&dir, &worse, |r| {
        let fisher: f64 = r["fisher"].parse().unwrap();
        r.insert("fisher".into(), (10.0 * fisher).to_string());
        r["objective"] != "ism"
    });
    let out = s.runner(&["compare", r, worse.to_str().unwrap(), "--shared-only"]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("REGRESSION objective=esm"), "{stdout}");
}

#[test]
fn best_selects_by_any_data_metric_and_by_fisher_only_with_oracle() {
    let s = Sandbox::new();
    let dir = small_sweep(&s);
    let d = dir.to_str().unwrap();

    let out = s.runner(&["best", d, "--by", "sample_mmd"]);
    ok(&out);
    let table = std::fs::read_to_string(dir.join("best.md")).unwrap();
    assert!(table.contains("by sample_mmd"), "{table}");
    // The winner is the configuration with the lowest mean MMD², by hand.
    let (_, rows) = read_csv_with_header(&dir.join("runs.csv"));
    let mean = |objective: &str| {
        let v: Vec<f64> = rows
            .iter()
            .filter(|r| r["objective"] == objective)
            .map(|r| r["sample_mmd"].parse::<f64>().unwrap())
            .collect();
        v.iter().sum::<f64>() / v.len() as f64
    };
    let winner = if mean("esm") <= mean("ism") {
        "esm"
    } else {
        "ism"
    };
    let id = &rows.iter().find(|r| r["objective"] == winner).unwrap()["config_id"];
    assert!(
        table.contains(&format!("| {id} | 2 |")),
        "{winner}: {table}"
    );

    let out = s.runner(&["best", d, "--by", "fisher"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("--oracle"),
        "{}",
        text(&out.stderr)
    );
    let out = s.runner(&["best", d, "--by", "fisher", "--oracle"]);
    ok(&out);
    assert!(
        text(&out.stdout)
            .contains("Selected by fisher, which uses the true data distribution (--oracle)"),
        "{}",
        text(&out.stdout)
    );
    let out = s.runner(&["best", d, "--by", "seed"]);
    assert_eq!(out.status.code(), Some(2));
}
