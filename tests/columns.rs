//! Self-describing results, end to end: every parameter a sweep varies is a column of
//! `runs.csv`, of `runner list`, of the summaries; the summaries show the metrics the sweep
//! measured; `curves.csv` holds every run's curves.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;

use common::{Sandbox, TINY, ok, read_csv, read_csv_with_header, text};

const IRIS: &str = include_str!("../data/iris.csv");

#[test]
fn a_sampler_sweep_shows_its_step_sizes_in_every_table() {
    let s = Sandbox::new();
    let file = s.write(
        "samp.toml",
        &format!(
            "name = \"samp\"\n{TINY}dataset = \"8gaussians\"\n\
             sample_metrics = {{ samples = 200, reference_samples = 200 }}\n[grid]\n\
             sampler = [{{ name = \"langevin\", steps = 20, step_size = [0.001, 0.01, 0.1] }}]\n\
             seed = [0, 1]\nobjective = [\"ism\"]\n"
        ),
    );
    let f = file.to_str().unwrap();
    let listed = text(&s.runner(&["list", f]).stdout);
    let header = listed.lines().nth(1).unwrap();
    assert!(
        header.contains("sampler.step_size") && header.contains("seed"),
        "{listed}"
    );
    ok(&s.runner(&["sweep", f]));
    let dir = s.path("results/samp");
    // The report draws each sample metric against the step size, and no training metric.
    let report = dir.join("report");
    assert!(
        report
            .join("sample_mmd_vs_sampler.step_size_8gaussians.svg")
            .exists()
    );
    assert!(
        !report
            .join("fisher_vs_sampler.step_size_8gaussians.svg")
            .exists()
    );
    let page = std::fs::read_to_string(report.join("index.html")).unwrap();
    assert!(
        page.contains("Sample quality against the sampler"),
        "{page}"
    );
    let rows = read_csv(&dir.join("runs.csv"));
    assert_eq!(rows.len(), 6);
    let steps: BTreeSet<&str> = rows
        .iter()
        .map(|r| r["sampler.step_size"].as_str())
        .collect();
    assert_eq!(steps, BTreeSet::from(["0.001", "0.01", "0.1"]));
    assert!(
        rows.iter()
            .all(|r| r["sampler"] == "langevin" && r["sampler.steps"] == "20")
    );
    let (header, summary) = read_csv_with_header(&dir.join("summary.csv"));
    assert!(
        header.contains(&"sampler.step_size".to_string()),
        "{header:?}"
    );
    assert_eq!(summary.len(), 3);
    let md = std::fs::read_to_string(dir.join("summary.md")).unwrap();
    let table_header = md.lines().find(|l| l.starts_with("| ")).unwrap();
    assert!(
        table_header.contains("sampler.step_size") && table_header.contains("MMD²"),
        "{md}"
    );
    // Fisher divergence against p_σ has no value without a noise level: not shown.
    assert!(!table_header.contains("p_σ"), "{md}");
    for step in ["0.001", "0.01", "0.1"] {
        assert!(
            md.lines().any(|l| l.starts_with(&format!("| {step} |"))),
            "{md}"
        );
    }
    // Every run's loss curve, in one long table.
    let curves = read_csv(&dir.join("curves.csv"));
    let ids: BTreeSet<&str> = curves.iter().map(|r| r["run_id"].as_str()).collect();
    assert_eq!(ids, rows.iter().map(|r| r["run_id"].as_str()).collect());
    // 20 steps logged every 5: steps 1, 5, 10, 15, 20 (the first and every fifth).
    let per_run = curves
        .iter()
        .filter(|r| r["run_id"] == rows[0]["run_id"])
        .count();
    let logged =
        std::fs::read_to_string(dir.join("runs").join(&rows[0]["run_id"]).join("loss.csv"))
            .unwrap()
            .lines()
            .count()
            - 1;
    assert_eq!(per_run, logged);
}

#[test]
fn a_file_data_sweep_shows_its_file_and_the_held_out_numbers() {
    let s = Sandbox::new();
    s.write("iris.csv", IRIS);
    let file = s.write(
        "d.toml",
        &format!(
            "name = \"d\"\n{TINY}[grid]\ndataset = [{{ name = \"file\", path = \"iris.csv\", \
             columns = [\"sepal_length\", \"petal_length\"], standardize = [true, false] }}]\n\
             objective = [\"ism\"]\nseed = [0, 1]\n"
        ),
    );
    ok(&s.runner(&["sweep", file.to_str().unwrap(), "--no-report"]));
    let dir = s.path("results/d");
    let rows = read_csv(&dir.join("runs.csv"));
    assert_eq!(rows.len(), 4);
    for r in &rows {
        assert_eq!(r["dataset.path"], "iris.csv");
        assert_eq!(r["dataset.columns"], r#"["sepal_length","petal_length"]"#);
        assert_eq!(r["dataset.content_hash"].len(), 16, "{r:?}");
    }
    let standardized: BTreeSet<&str> = rows
        .iter()
        .map(|r| r["dataset.standardize"].as_str())
        .collect();
    assert_eq!(standardized, BTreeSet::from(["false", "true"]));
    let md = std::fs::read_to_string(dir.join("summary.md")).unwrap();
    let table_header = md.lines().find(|l| l.starts_with("| ")).unwrap();
    assert!(table_header.contains("dataset.standardize"), "{md}");
    assert!(
        table_header.contains("val loss") && table_header.contains("model KSD²"),
        "{md}"
    );
    assert!(
        !table_header.contains("Fisher"),
        "file data have no Fisher divergence: {md}"
    );
}
