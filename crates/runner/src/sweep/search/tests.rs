use super::super::load_str;

const BASE: &str = "name = \"s\"\n[defaults]\nsteps = 10\nbatch = 16\neval_samples = 100\npool_size = 256\n\
                    model = { name = \"mlp\", hidden = 8 }\n";

fn sweep(search: &str) -> String {
    format!(
        "{BASE}[grid]\ndataset = [\"banana\"]\nobjective = [\"ism\", {{ name = \"dsm\", sigma = 0.1 }}]\nseed = [0, 1]\n\
         [search]\n{search}"
    )
}

/// (objective, lr, hidden, sigma) of every run, in plan order.
fn trials(text: &str) -> Vec<(String, f64, u64, Option<f64>, u64)> {
    let loaded = load_str("s.toml", text, &[]).unwrap_or_else(|d| panic!("{d}"));
    loaded
        .plan
        .jobs
        .iter()
        .map(|j| {
            let model = serde_json::to_value(&j.config.model).unwrap();
            (
                j.config.objective.name().to_string(),
                j.config.train.lr,
                model["hidden"].as_u64().unwrap(),
                j.config.objective.sigma(),
                j.config.seed,
            )
        })
        .collect()
}

fn errors(text: &str) -> Vec<String> {
    match load_str("s.toml", text, &[]) {
        Ok(_) => panic!("loaded"),
        Err(d) => d.0.iter().map(ToString::to_string).collect(),
    }
}

#[test]
fn a_seeded_search_gives_the_same_trials_every_time_a_golden_list() {
    let text = sweep(
        "method = \"random\"\nbudget = 3\nper = [\"objective\"]\nsearch_seed = 7\n\
         lr = { log_uniform = [1e-4, 1e-2] }\n\"model.hidden\" = { int = [16, 64] }\n",
    );
    let runs = trials(&text);
    // 2 objectives × 3 trials × 2 seeds.
    assert_eq!(runs.len(), 12);
    let golden: Vec<(String, f64, u64)> = runs
        .iter()
        .filter(|r| r.4 == 0)
        .map(|r| (r.0.clone(), r.1, r.2))
        .collect();
    let want = GOLDEN
        .iter()
        .map(|(o, l, h)| (o.to_string(), *l, *h))
        .collect::<Vec<_>>();
    assert_eq!(golden, want);
    // Each trial runs for both seeds; dsm keeps its σ from the grid.
    for r in &runs {
        assert!(
            (1e-4..=1e-2).contains(&r.1) && (16..=64).contains(&r.2),
            "{r:?}"
        );
        assert_eq!(r.3, (r.0 == "dsm").then_some(0.1));
    }
    // The same file again: the same trials and run ids.
    assert_eq!(trials(&text), runs);
    // A larger budget keeps the first trials; another objective leaves the others' trials.
    let more = trials(&text.replace("budget = 3", "budget = 5"));
    for r in &runs {
        assert!(more.contains(r), "{r:?} lost when the budget grew");
    }
    let added = trials(&text.replace("\"ism\", ", "\"ism\", \"ssm-vr\", "));
    for r in &runs {
        assert!(added.contains(r), "{r:?} lost when an objective was added");
    }
}

/// The trials of search_seed 7 (lr, model.hidden), per objective.
const GOLDEN: [(&str, f64, u64); 6] = [
    ("ism", 0.000100929, 47),
    ("ism", 0.000514866, 38),
    ("ism", 0.00323799, 44),
    ("dsm", 0.00102004, 20),
    ("dsm", 0.00524563, 24),
    ("dsm", 0.000103545, 22),
];

#[test]
fn family_parameters_go_into_their_entries_and_sobol_draws_too() {
    let text = sweep(
        "method = \"sobol\"\nbudget = 4\nper = [\"objective\"]\n\
         \"objective.sigma\" = { uniform = [0.05, 0.5] }\nbatch = { choice = [16, 32] }\n",
    )
    .replace("\"ism\", ", "");
    let loaded = load_str("s.toml", &text, &[]).unwrap_or_else(|d| panic!("{d}"));
    let jobs = &loaded.plan.jobs;
    assert_eq!(jobs.len(), 8);
    let sigmas: std::collections::BTreeSet<String> = jobs
        .iter()
        .map(|j| format!("{:?}", j.config.objective.sigma()))
        .collect();
    assert_eq!(sigmas.len(), 4, "{sigmas:?}");
    assert!(
        jobs.iter()
            .all(|j| [16, 32].contains(&j.config.train.batch))
    );
}

#[test]
fn search_mistakes_are_located_one_line_each() {
    let found = errors(&sweep(
        "budget = 0\nper = [\"model\"]\nlr = { log_uniform = [0, 1] }\nfoo = { uniform = [0, 1] }\n",
    ));
    assert_eq!(found.len(), 3, "{found:?}");
    assert!(
        found[0].starts_with("s.toml:13: search.budget: must be a whole number"),
        "{found:?}"
    );
    assert!(
        found[1].starts_with("s.toml:15: search.lr: log_uniform takes"),
        "{found:?}"
    );
    assert!(
        found[2].starts_with("s.toml:16: search.foo: unknown parameter"),
        "{found:?}"
    );
    let found = errors(&sweep(
        "budget = 2\nper = [\"model\"]\nlr = { uniform = [0.001, 0.01] }\n",
    ));
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0].contains("s.toml:14: search.per: \"model\" is not an axis of [grid]"),
        "{found:?}"
    );
    let found = errors(&sweep(
        "budget = 2\n\"objective.sigma\" = { uniform = [0.1, 0.2] }\n",
    ));
    assert!(
        found[0].contains("objective varies in [grid]: add it to search.per"),
        "{found:?}"
    );
}

#[test]
fn pruning_needs_held_out_losses_and_well_formed_rungs() {
    let text = sweep(
        "budget = 2\nper = [\"objective\"]\nlr = { log_uniform = [1e-4, 1e-2] }\n\
         [search.prune]\nrungs = [5]\n",
    );
    let found = errors(&text);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0].starts_with("s.toml:16: search.prune: trials are compared on their held-out loss"),
        "{found:?}"
    );
    let with_val = text.replace("steps = 10\n", "steps = 10\nval_samples = 50\n");
    let loaded = load_str("s.toml", &with_val, &[]).unwrap_or_else(|d| panic!("{d}"));
    let prune = loaded.plan.prune.unwrap();
    assert_eq!((prune.rungs, prune.reduction_factor), (vec![5], 3));
    assert_eq!(prune.searched, [(None, "lr".to_string())]);
    let found = errors(&with_val.replace("rungs = [5]", "rungs = [5, 3]"));
    assert!(
        found[0].contains("search.prune: rungs must be increasing"),
        "{found:?}"
    );
}
