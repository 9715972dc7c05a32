//! A sweep whose grid explodes (a typo such as eight axes of a hundred values) is refused at
//! once, with the count and a line, by every command that reads sweep files.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use common::{Sandbox, text};

#[test]
fn an_absurd_grid_is_refused_at_once_by_every_command() {
    let s = Sandbox::new();
    let axis = |offset: usize| {
        let v: Vec<String> = (0..100).map(|i| (i + offset).to_string()).collect();
        format!("[{}]", v.join(", "))
    };
    let mut file = String::from(
        "name = \"huge\"\n[defaults]\ndataset = \"8gaussians\"\nobjective = \"esm\"\n[grid]\n",
    );
    for key in [
        "seed",
        "steps",
        "batch",
        "eval_samples",
        "pool_size",
        "log_every",
        "eval_seed",
    ] {
        file.push_str(&format!("{key} = {}\n", axis(1)));
    }
    s.write("huge.toml", &file);
    let expected = format!(
        "huge.toml:6: grid.seed: the sweep expands to 100000000000000 runs ({}), more than \
         max_runs = 100000; nothing was expanded (raise the limit with max_runs = N at the top \
         of the file, or --set max_runs=N)\n1 error; nothing was run\n",
        ["100"; 7].join(" × ")
    );
    for cmd in [
        vec!["validate", "huge.toml"],
        vec!["list", "huge.toml"],
        vec!["sweep", "huge.toml"],
        vec!["slurm", "huge.toml"],
    ] {
        let start = Instant::now();
        let out = s.runner(&cmd);
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "{cmd:?} took {:?}",
            start.elapsed()
        );
        assert_eq!(out.status.code(), Some(2), "{cmd:?}");
        assert_eq!(text(&out.stderr), expected, "{cmd:?}");
    }
    assert!(!s.path("results").exists());
    // The limit is the file's to raise; a grid within it runs.
    let small = "max_runs = 2\n[defaults]\ndataset = \"8gaussians\"\nobjective = \"esm\"\n[grid]\nseed = [0, 1, 2]\n";
    s.write("small.toml", small);
    let out = s.runner(&["validate", "small.toml"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).starts_with(
            "small.toml:6: grid.seed: the sweep expands to 3 runs (3), more than max_runs = 2;"
        ),
        "{}",
        text(&out.stderr)
    );
    let out = s.runner(&["validate", "small.toml", "--set", "max_runs=3"]);
    common::ok(&out);
    assert!(
        text(&out.stdout).contains("ok: 3 runs"),
        "{}",
        text(&out.stdout)
    );
}
