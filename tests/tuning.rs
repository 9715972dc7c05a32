//! A tuned comparison end to end: a seeded search per objective, killed mid-way and resumed
//! without renumbering its runs, then `runner best` picking each objective's configuration
//! by the held-out loss and rerunning it on fresh seeds, and the report showing the table.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{Sandbox, ok, read_csv, run_ids, text};

const TUNED: &str = r#"name = "tuned"
[defaults]
steps = 300
batch = 32
eval_samples = 200
pool_size = 512
log_every = 50
val_samples = 200
model = { name = "mlp", hidden = 16 }
[grid]
dataset = ["banana"]
objective = ["ism", "ssm-vr"]
seed = [0, 1]
[search]
method = "sobol"
budget = 6
per = ["objective"]
search_seed = 3
lr = { log_uniform = [1e-4, 3e-2] }
"#;

#[test]
fn a_tuned_comparison_runs_resumes_and_reports_its_best_configurations() {
    let s = Sandbox::new();
    let file = s.write("tuned.toml", TUNED);
    let f = file.to_str().unwrap();
    // 2 objectives × 6 trials × 2 seeds, and `list` shows the trials' learning rates.
    let ids = run_ids(&file);
    assert_eq!(ids.len(), 24);
    let listed = text(&s.runner(&["list", f]).stdout);
    assert!(
        listed.contains(" lr") && listed.contains("24 runs: 0 done, 24 pending"),
        "{listed}"
    );

    let csv = s.path("results/tuned/runs.csv");
    let rows = || std::fs::read_to_string(&csv).map_or(0, |t| t.lines().count().saturating_sub(1));
    let mut child = s
        .command(&["sweep", f, "--jobs", "1", "--no-report"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while rows() < 3 && start.elapsed() < Duration::from_secs(120) {
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    // The kill interrupted the sweep: some runs were recorded, not all.
    let recorded = rows();
    assert!(
        recorded > 0 && recorded < 24,
        "{recorded} rows after the kill"
    );
    ok(&s.runner(&["sweep", f, "--no-report"]));
    let done = read_csv(&csv);
    let done_ids: BTreeSet<String> = done.iter().map(|r| r["run_id"].clone()).collect();
    assert_eq!(done.len(), 24);
    assert_eq!(done_ids, ids, "the resumed sweep ran the same trials");

    let dir = s.path("results/tuned");
    let d = dir.to_str().unwrap();
    // Selecting by Fisher is refused without --oracle: it needs the true score.
    let out = s.runner(&["best", d, "--by", "fisher"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("true data distribution"),
        "{}",
        text(&out.stderr)
    );

    let out = s.runner(&[
        "best",
        d,
        "--by",
        "val_loss",
        "--per",
        "objective",
        "--seeds",
        "7,8",
    ]);
    ok(&out);
    // The winners by hand: per objective, the config with the lowest mean val_loss.
    for objective in ["ism", "ssm-vr"] {
        let mut by_config: std::collections::BTreeMap<&str, Vec<f64>> = Default::default();
        for r in done.iter().filter(|r| r["objective"] == objective) {
            by_config
                .entry(&r["config_id"])
                .or_default()
                .push(r["val_loss"].parse().unwrap());
        }
        let mean = |v: &Vec<f64>| v.iter().sum::<f64>() / v.len() as f64;
        let (best, _) = by_config
            .iter()
            .min_by(|a, b| mean(a.1).total_cmp(&mean(b.1)))
            .unwrap();
        let table = std::fs::read_to_string(dir.join("best.md")).unwrap();
        assert!(
            table
                .lines()
                .any(|l| l.starts_with(&format!("| {objective} | {best} | 6 |"))),
            "{objective}: {best} not the winner in\n{table}"
        );
    }
    // The winners ran again on seeds 7 and 8, and the report shows the table.
    let fresh = read_csv(&dir.join("best/runs.csv"));
    assert_eq!(fresh.len(), 4);
    let seeds: BTreeSet<&str> = fresh.iter().map(|r| r["seed"].as_str()).collect();
    assert_eq!(seeds, BTreeSet::from(["7", "8"]));
    ok(&s.runner(&["report", d]));
    let page = std::fs::read_to_string(dir.join("report/index.html")).unwrap();
    assert!(
        page.contains("Best configurations"),
        "no best table in the report"
    );
}

#[test]
fn asha_prunes_exactly_the_trials_its_rule_says_and_they_are_not_retried() {
    let s = Sandbox::new();
    let file = s.write(
        "pruned.toml",
        &format!(
            "{}[search.prune]\nrungs = [100, 200]\nreduction_factor = 3\n",
            TUNED
                .replace("name = \"tuned\"", "name = \"pruned\"")
                .replace("budget = 6", "budget = 9")
        ),
    );
    let f = file.to_str().unwrap();
    ok(&s.runner(&["sweep", f, "--jobs", "1", "--no-report"]));
    let dir = s.path("results/pruned");
    let rows = read_csv(&dir.join("runs.csv"));
    assert_eq!(rows.len(), 36);
    let pruned: Vec<_> = rows.iter().filter(|r| r["status"] == "pruned").collect();
    assert!(
        !pruned.is_empty() && pruned.len() < 36,
        "{} pruned",
        pruned.len()
    );
    for r in &rows {
        let steps: usize = r["steps_done"].parse().unwrap();
        match r["status"].as_str() {
            "pruned" => assert!(steps == 100 || steps == 200, "{r:?}"),
            "ok" => assert_eq!(steps, 300),
            other => panic!("{other}: {r:?}"),
        }
    }
    // Replay the ledger in the order it was written: a run stops at the first rung where
    // the rule says so, and only there.
    // One bracket per objective and seed (the runs that differ only in lr): 9 trials each.
    let brackets: Vec<_> = std::fs::read_dir(dir.join("prune"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(brackets.len(), 4, "{brackets:?}");
    let row_of = |id: &str| rows.iter().find(|r| r["run_id"] == id).unwrap();
    // A run's held-out loss at a rung, from its own val_loss.csv (evaluated every 50 steps,
    // so at the rung itself).
    let val_loss_at = |id: &str, rung: usize| -> f64 {
        let curve = std::fs::read_to_string(dir.join("runs").join(id).join("val_loss.csv"))
            .unwrap_or_else(|e| panic!("{id}: {e}"));
        let line = curve
            .lines()
            .find(|l| l.split(',').next() == Some(rung.to_string().as_str()))
            .unwrap_or_else(|| panic!("{id}: no held-out loss at step {rung}:\n{curve}"));
        line.split(',').nth(1).unwrap().parse().unwrap()
    };
    let mut stopped_at: std::collections::BTreeMap<String, usize> = Default::default();
    for path in &brackets {
        let text = std::fs::read_to_string(path).unwrap();
        let mut seen: std::collections::BTreeMap<usize, Vec<f64>> = Default::default();
        let mut ids: std::collections::BTreeMap<usize, BTreeSet<&str>> = Default::default();
        for line in text.lines() {
            let cells: Vec<&str> = line.split(',').collect();
            let (rung, id, value): (usize, &str, f64) = (
                cells[0].parse().unwrap(),
                cells[1],
                cells[2].parse().unwrap(),
            );
            // The ledger holds the run's own held-out loss at that rung.
            assert_eq!(value, val_loss_at(id, rung), "{id} at {rung}");
            assert!(ids.entry(rung).or_default().insert(id), "{id} twice");
            let at = seen.entry(rung).or_default();
            at.push(value);
            let keep = (at.len() / 3).max(1);
            if at.iter().filter(|&&v| v < value).count() >= keep {
                stopped_at.insert(id.to_string(), rung);
            }
        }
        // Every trial of the bracket reached the first rung; the second holds exactly those
        // that were not pruned at the first; all share one objective and seed.
        let first = &ids[&100];
        assert_eq!(first.len(), 9, "{}", path.display());
        let went_on: BTreeSet<&str> = first
            .iter()
            .copied()
            .filter(|id| row_of(id)["steps_done"] != "100")
            .collect();
        assert_eq!(ids.get(&200).cloned().unwrap_or_default(), went_on);
        let groups: BTreeSet<(&str, &str)> = first
            .iter()
            .map(|id| {
                let r = row_of(id);
                (r["objective"].as_str(), r["seed"].as_str())
            })
            .collect();
        assert_eq!(groups.len(), 1, "{groups:?}");
    }
    let by_status: std::collections::BTreeMap<String, usize> = pruned
        .iter()
        .map(|r| (r["run_id"].clone(), r["steps_done"].parse().unwrap()))
        .collect();
    assert_eq!(stopped_at, by_status);
    // The summary counts them.
    ok(&s.runner(&["report", dir.to_str().unwrap()]));
    let summary = read_csv(&dir.join("summary.csv"));
    let counted: usize = summary
        .iter()
        .map(|r| r["pruned"].parse::<usize>().unwrap())
        .sum();
    assert_eq!(counted, pruned.len());
    // Every trial competed in `best`, the pruned ones too (they lose): 9 per objective.
    let out = s.runner(&["best", dir.to_str().unwrap(), "--per", "objective"]);
    ok(&out);
    let best = read_csv(&dir.join("best.csv"));
    assert_eq!(best.len(), 2);
    for b in &best {
        assert_eq!(b["candidates"], "9", "{b:?}");
        assert!(
            !pruned.iter().any(|p| p["config_id"] == b["config_id"]),
            "a pruned configuration won: {b:?}"
        );
    }
    // The count has teeth: some configuration has no ok run at all.
    let ids: BTreeSet<&str> = rows.iter().map(|r| r["config_id"].as_str()).collect();
    assert!(
        ids.iter().any(|id| {
            rows.iter()
                .filter(|r| r["config_id"] == *id)
                .all(|r| r["status"] == "pruned")
        }),
        "no configuration was pruned on every seed"
    );
    // Pruned runs are results: the same sweep again runs nothing.
    let again = text(&s.runner(&["sweep", f, "--no-report"]).stdout);
    assert!(again.contains("0 runs in"), "{again}");
}
