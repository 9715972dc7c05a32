//! Data sets read from files, end to end: a sweep on the shipped Iris table judged on its
//! test split, a file's contents in its runs' ids, and one-line errors for bad files.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Sandbox, ok, read_csv, text};

const IRIS: &str = include_str!("../data/iris.csv");

fn sweep_text(path: &str, extra: &str) -> String {
    format!(
        "name = \"d\"\n[defaults]\n\
         dataset = {{ name = \"file\", path = \"{path}\", columns = [\"sepal_length\", \"petal_length\"], standardize = true }}\n\
         steps = 60\nbatch = 32\npool_size = 512\nlog_every = 20\n\
         model = {{ name = \"mlp\", hidden = 16 }}\n\
         sampler = {{ name = \"langevin\", steps = 20 }}\n\
         sample_metrics = {{ samples = 100, reference_samples = 30 }}\n{extra}\
         [grid]\nobjective = [{{ name = \"dsm\", sigma = 0.3 }}, \"ssm-vr\"]\nseed = [0, 1]\n"
    )
}

#[test]
fn a_sweep_on_a_file_is_judged_on_the_test_split_and_follows_the_file() {
    let s = Sandbox::new();
    s.write("iris.csv", IRIS);
    let file = s.write("d.toml", &sweep_text("iris.csv", ""));
    let f = file.to_str().unwrap();
    // With its report: file data have no exact field, so they get no field figure.
    ok(&s.runner(&["sweep", f]));
    assert!(s.path("results/d/report/index.html").exists());
    let rows = read_csv(&s.path("results/d/runs.csv"));
    assert_eq!(rows.len(), 4);
    for r in &rows {
        assert_eq!(r["status"], "ok", "{r:?}");
        assert_eq!(r["dataset"], "file");
        assert_eq!(r["dim"], "2");
        // No true score: Fisher and the samples' KSD are empty, with the reason in README.
        for empty in ["fisher", "fisher_init", "sample_ksd", "kl"] {
            assert_eq!(r[empty], "", "{empty}: {r:?}");
        }
        for number in ["val_loss", "model_ksd", "sample_mmd"] {
            assert!(
                r[number].parse::<f64>().unwrap().is_finite(),
                "{number}: {r:?}"
            );
        }
    }
    // The report names the data set by its file: figure files and titles say iris.csv; and
    // `runner report` on the results makes it again.
    ok(&s.runner(&["report", "results/d"]));
    let loss = std::fs::read_to_string(s.path("results/d/report/loss_iris_csv.svg")).unwrap();
    assert!(loss.contains("Training loss — iris.csv"), "{loss}");
    let page = std::fs::read_to_string(s.path("results/d/report/index.html")).unwrap();
    assert!(!page.contains("— file"), "{page}");
    // Editing the file changes its runs' ids: all four run again.
    s.write("iris.csv", &IRIS.replacen("5.1,3.5", "5.2,3.5", 1));
    let listed = text(&s.runner(&["list", f]).stdout);
    assert!(listed.contains("4 runs: 0 done, 4 pending"), "{listed}");
    ok(&s.runner(&["sweep", f, "--no-report"]));
    assert_eq!(read_csv(&s.path("results/d/runs.csv")).len(), 8);
}

#[test]
fn every_bad_file_is_a_one_line_error_at_the_sweep_line() {
    let s = Sandbox::new();
    s.write("ragged.csv", "a,b\n1,2\n3,4,5\n");
    s.write("words.csv", "sepal_length,petal_length\n1,2\n3,four\n");
    s.write("nan.csv", "sepal_length,petal_length\n1,2\nnan,4\n");
    let short: String = std::iter::once("sepal_length,petal_length\n".to_string())
        .chain((0..20).map(|k| format!("{k},{}\n", k * k)))
        .collect();
    s.write("short.csv", &short);
    for (path, want) in [
        ("missing.csv", "missing.csv: cannot read (no such file)"),
        (
            "ragged.csv",
            "ragged.csv:3: 3 fields, where the first row has 2",
        ),
        (
            "words.csv",
            "words.csv:3: column 1 (\"petal_length\"): \"four\" is not a number",
        ),
        ("nan.csv", "nan.csv:3: column 0 (\"sepal_length\") is nan"),
        (
            "short.csv",
            "short.csv: 16 training rows (after holding out 0.2), fewer than a batch of 32",
        ),
    ] {
        let file = s.write("bad.toml", &sweep_text(path, ""));
        let out = s.runner(&["validate", file.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(2), "{path}");
        let err = text(&out.stderr);
        let first = err.lines().next().unwrap();
        assert!(
            first.ends_with(&format!("bad.toml:3: defaults.dataset.path: {want}")),
            "{path}: {err}"
        );
        assert_eq!(err.lines().count(), 2, "{err}"); // the error and the count
    }
}

#[test]
fn an_empty_column_list_is_a_one_line_error_naming_the_key() {
    let s = Sandbox::new();
    s.write("iris.csv", IRIS);
    let text_of = sweep_text("iris.csv", "").replace(
        "columns = [\"sepal_length\", \"petal_length\"]",
        "columns = []",
    );
    let file = s.write("bad.toml", &text_of);
    let out = s.runner(&["validate", file.to_str().unwrap()]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    let first = err.lines().next().unwrap();
    assert!(
        first.ends_with("bad.toml:3: defaults.dataset.columns: is empty: name at least one column, or leave it out to use them all"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 2, "{err}");
}
