//! Stage two: a checked [`SweepSpec`] → the runs. Each point of the grid is read by the
//! library's own types (`RunConfig`) and checked by its `validate()`; every problem is mapped
//! back to the place in the file its value came from.

use std::collections::HashSet;
use std::sync::Arc;

use scorematch::RunConfig;

use super::params::Params;
use super::resolve::{locate, product, resolve};
use super::source::{Diagnostic, Diagnostics, Sources};
use super::spec::{Condition, SweepSpec};
use super::tree::{Kind, Node};
use crate::job::{Job, SweepInfo};

/// The runs of a sweep.
#[derive(Clone, Debug)]
pub struct Plan {
    /// Name and description.
    pub sweep: Arc<SweepInfo>,
    /// Distinct runs, in grid order (then includes).
    pub jobs: Vec<Job>,
    /// Points of the grid and the includes, before exclusion and de-duplication.
    pub points: usize,
    /// Points dropped by `[[exclude]]`.
    pub excluded: usize,
    /// Points that resolved to a run already in the plan.
    pub duplicates: usize,
    /// Things worth knowing that are not errors (an exclude rule that matches nothing).
    pub warnings: Diagnostics,
    /// One run per distinct (backend, precision), located where its backend was given: what
    /// [`Plan::check_environment`] checks.
    environment: Vec<(RunConfig, Diagnostic)>,
    /// The search's early termination (`[search.prune]`), if any.
    pub prune: Option<crate::sweep::search::prune::Prune>,
}

impl Plan {
    /// A plan of runs made elsewhere than from a sweep file (winners rerun on fresh seeds):
    /// no grid, and no environment check beyond what each run does when it starts.
    pub fn of_jobs(sweep: Arc<SweepInfo>, jobs: Vec<Job>) -> Self {
        Self {
            sweep,
            points: jobs.len(),
            jobs,
            excluded: 0,
            duplicates: 0,
            warnings: Diagnostics::default(),
            environment: Vec::new(),
            prune: None,
        }
    }

    /// Whether this machine can run every run: each distinct (backend, precision) opens its
    /// device once. Kept apart from planning because it depends on the machine, not the file
    /// (`list` and `slurm` plan on a login node for the machines that will run).
    pub fn check_environment(&self) -> Result<(), Diagnostics> {
        let mut errors = Diagnostics::default();
        for (config, at) in &self.environment {
            for e in config.check_environment() {
                let mut d = at.clone();
                if e.key != "backend" {
                    d.key = format!("{} ({})", d.key, e.key);
                }
                d.message = e.message;
                errors.push(d);
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }
}

/// A resolved point: its parameters with their origins, and the library's reading of them.
struct Candidate {
    resolved: Node,
    config: RunConfig,
    from_grid: bool,
}

/// Expands and checks every run of `spec`.
pub fn plan(spec: &SweepSpec, sources: &Sources, params: &Params) -> Result<Plan, Diagnostics> {
    let mut errors = Diagnostics::default();
    let mut candidates = Vec::new();
    let mut points = 0;
    let grid_points = if spec.grid.is_empty() && !spec.include.is_empty() {
        Vec::new()
    } else {
        product(&spec.grid)
    };
    let include_points = spec.include.iter().flat_map(|axes| product(axes));
    for (point, from_grid) in grid_points
        .into_iter()
        .map(|p| (p, true))
        .chain(include_points.map(|p| (p, false)))
    {
        points += 1;
        let resolved = resolve(&spec.defaults, &point, spec.fallback);
        match read_config(&resolved, sources, params) {
            Ok(config) => candidates.push(Candidate {
                resolved,
                config,
                from_grid,
            }),
            Err(e) => errors.extend(e),
        }
    }

    let mut used = vec![false; spec.exclude.len()];
    let mut excluded = 0;
    let mut kept = Vec::new();
    for c in candidates {
        let value = toml::Value::try_from(&c.config).ok();
        let hit = if c.from_grid {
            spec.exclude.iter().position(|rule| {
                rule.conditions
                    .iter()
                    .all(|cond| condition_matches(cond, value.as_ref()))
            })
        } else {
            None
        };
        match hit {
            Some(i) => {
                used[i] = true;
                excluded += 1;
            }
            None => kept.push(c),
        }
    }

    for c in &kept {
        for e in c.config.validate() {
            errors.push(diagnose(&c.resolved, sources, spec, &e.key, &e.message));
        }
    }
    if !errors.is_empty() {
        errors.sort();
        return Err(errors);
    }

    let mut warnings = Diagnostics::default();
    for (rule, used) in spec.exclude.iter().zip(used) {
        if !used {
            warnings.push(sources.diagnostic(rule.span, &rule.key, "matches no run of the grid"));
        }
    }
    let sweep = Arc::new(SweepInfo {
        name: spec.name.clone(),
        description: spec.description.clone(),
    });
    let mut environment: Vec<(RunConfig, Diagnostic)> = Vec::new();
    for c in &kept {
        let pair = (c.config.backend, c.config.train.precision);
        if !environment
            .iter()
            .any(|(e, _)| (e.backend, e.train.precision) == pair)
        {
            let at = diagnose(&c.resolved, sources, spec, "backend", "");
            environment.push((c.config.clone(), at));
        }
    }
    let mut seen = HashSet::new();
    let mut jobs = Vec::new();
    for c in kept {
        let job = Job::new(c.config, sweep.clone());
        if seen.insert(job.id.clone()) {
            jobs.push(job);
        }
    }
    Ok(Plan {
        duplicates: points - excluded - jobs.len(),
        sweep,
        jobs,
        points,
        excluded,
        warnings,
        environment,
        prune: None,
    })
}

/// A diagnostic for the run parameter at dotted `key`, located where its value was written
/// (or the nearest enclosing value that was).
fn diagnose(
    resolved: &Node,
    sources: &Sources,
    spec: &SweepSpec,
    key: &str,
    message: &str,
) -> Diagnostic {
    let path: Vec<&str> = key.split('.').collect();
    let (node, matched) = locate(resolved, &path);
    if matched == 0 {
        return sources.diagnostic(spec.fallback, key, message);
    }
    let rest = path[matched..].join(".");
    let shown = if rest.is_empty() {
        node.key.clone()
    } else {
        format!("{}.{rest}", node.key)
    };
    sources.diagnostic(node.span, shown, message)
}

/// Reads the resolved parameters as a `RunConfig`; on failure, finds which values serde
/// refused by reading each one alone.
fn read_config(
    resolved: &Node,
    sources: &Sources,
    params: &Params,
) -> Result<RunConfig, Vec<Diagnostic>> {
    let err = match resolved.to_value().try_into::<RunConfig>() {
        Ok(mut cfg) => {
            cfg.pin_data_files();
            return Ok(cfg);
        }
        Err(e) => e,
    };
    let fields = params.run_fields();
    // Reading one field alone fails only with "missing field" for the others, unless the
    // field itself is wrong.
    let own_error = |table: toml::Table, allow_any_missing: bool| -> Option<String> {
        let msg = toml::Value::Table(table)
            .try_into::<RunConfig>()
            .err()?
            .message()
            .to_string();
        let missing = missing_field(&msg);
        match missing {
            Some(f) if allow_any_missing || fields.contains(&f) => None,
            _ => Some(msg),
        }
    };
    let mut found = Vec::new();
    for entry in resolved.entries().unwrap_or_default() {
        let alone = toml::Table::from_iter([(entry.name.clone(), entry.node.to_value())]);
        let Some(msg) = own_error(alone, false) else {
            continue;
        };
        let mut blamed = false;
        if let Kind::Table(children) = &entry.node.kind {
            let name = entry.node.get("name").map(Node::to_value);
            for child in children.iter().filter(|c| c.name != "name") {
                let mut inner = toml::Table::new();
                if let Some(n) = &name {
                    inner.insert("name".into(), n.clone());
                }
                inner.insert(child.name.clone(), child.node.to_value());
                let probe =
                    toml::Table::from_iter([(entry.name.clone(), toml::Value::Table(inner))]);
                if let Some(m) = own_error(probe, true) {
                    found.push(sources.diagnostic(child.node.span, child.node.key.clone(), m));
                    blamed = true;
                }
            }
        }
        if !blamed {
            found.push(sources.diagnostic(entry.node.span, entry.node.key.clone(), msg));
        }
    }
    if found.is_empty() {
        let d = match missing_field(err.message()) {
            Some(field) => sources.diagnostic(
                resolved.span,
                field,
                format!("no {field} given: set one in [defaults] or vary it in [grid]"),
            ),
            None => sources.diagnostic(resolved.span, "run", err.message()),
        };
        found.push(d);
    }
    Err(found)
}

/// Whether a problem found here may only follow from a value stage one refused (and
/// dropped): a missing field or parameter.
pub fn may_follow_from_dropped_values(d: &Diagnostic) -> bool {
    d.message.starts_with("missing field") || d.message.contains(" given: set one in [defaults]")
}

/// The field of a serde "missing field `x`" message.
fn missing_field(message: &str) -> Option<&str> {
    message.strip_prefix("missing field `")?.split('`').next()
}

fn condition_matches(cond: &Condition, config: Option<&toml::Value>) -> bool {
    let mut actual = config;
    for seg in &cond.path {
        actual = actual.and_then(|v| v.get(seg));
    }
    cond.alternatives
        .iter()
        .any(|alt| value_matches(&alt.to_value(), actual))
}

/// Whether `actual` matches `pattern`: tables by each of the pattern's keys, numbers by value.
fn value_matches(pattern: &toml::Value, actual: Option<&toml::Value>) -> bool {
    use toml::Value as V;
    let Some(actual) = actual else { return false };
    match (pattern, actual) {
        (V::Table(p), V::Table(_)) => p.iter().all(|(k, pv)| value_matches(pv, actual.get(k))),
        (V::Integer(a), V::Float(b)) | (V::Float(b), V::Integer(a)) => (*a as f64) == *b,
        _ => pattern == actual,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sweep::{Loaded, load_str};

    fn load(text: &str) -> Result<Plan, Vec<String>> {
        load_str("s.toml", text, &[])
            .map(|Loaded { plan, .. }| plan)
            .map_err(|d| d.0.iter().map(ToString::to_string).collect())
    }

    const TINY: &str = "[defaults]\nsteps = 20\nbatch = 32\neval_samples = 200\npool_size = 512\nmodel = { name = \"mlp\", hidden = 16 }\n";

    #[test]
    fn seven_sigmas_times_four_objectives_run_esm_once() {
        let plan = load(&format!(
            "{TINY}[grid]\ndataset = [\"8gaussians\", {{ name = \"gaussian\", dim = 10 }}]\nseed = [0, 1, 2]\nobjective = [\n  {{ name = \"dsm\", sigma = [0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0] }},\n  \"esm\", \"ism\", \"ssm-vr\",\n]\n"
        ))
        .unwrap();
        assert_eq!(plan.jobs.len(), 2 * 3 * (7 + 3));
        let esm = plan
            .jobs
            .iter()
            .filter(|j| j.config.objective.name() == "esm")
            .count();
        assert_eq!(esm, 6);
    }

    #[test]
    fn exclude_drops_matching_runs_and_include_adds_runs() {
        let plan = load(&format!(
            "{TINY}[grid]\ndataset = [{{ name = \"gaussian\", dim = [2, 50] }}]\nobjective = [\"ism\", \"esm\"]\n[[exclude]]\nobjective = \"ism\"\ndataset = {{ name = \"gaussian\", dim = 50 }}\n[[include]]\ndataset = \"funnel\"\nobjective = \"ssm\"\nseed = [4, 5]\n"
        ))
        .unwrap();
        assert_eq!(plan.points, 6);
        assert_eq!(plan.excluded, 1);
        let runs: Vec<(String, usize, u64)> = plan
            .jobs
            .iter()
            .map(|j| {
                (
                    j.config.objective.name().to_string(),
                    j.config.dataset.dim(),
                    j.config.seed,
                )
            })
            .collect();
        assert_eq!(
            runs,
            [
                ("ism".into(), 2, 0),
                ("esm".into(), 2, 0),
                ("esm".into(), 50, 0),
                ("ssm".into(), 2, 4),
                ("ssm".into(), 2, 5)
            ]
        );
        assert!(plan.warnings.is_empty());
    }

    #[test]
    fn excluding_an_invalid_combination_makes_the_sweep_valid() {
        let base = format!(
            "{TINY}[grid]\nmodel = [{{ name = \"mlp\", hidden = 16, activation = [\"silu\", \"relu\"] }}]\nobjective = [\"ism\", \"dsm\"]\ndataset = [\"8gaussians\"]\n"
        );
        let errors = load(&base).unwrap_err();
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(
            errors[0].starts_with(
                "s.toml:8: grid.model[0].activation[1]: relu has zero second derivative"
            ),
            "{errors:?}"
        );
        let plan = load(&format!(
            "{base}[[exclude]]\nmodel = {{ activation = \"relu\" }}\nobjective = \"ism\"\n"
        ))
        .unwrap();
        assert_eq!(plan.jobs.len(), 3);
    }

    #[test]
    fn library_errors_point_at_the_value_that_caused_them() {
        let errors = load(&format!(
            "{TINY}lr = -1.0\n[grid]\ndataset = [{{ name = \"8gaussians\", dim = 1 }}, {{ name = \"gaussian\", dimm = 3 }}, {{ name = \"gaussian\", dim = \"ten\" }}, \"gaussian\"]\nobjective = [\"esm\"]\n"
        ))
        .unwrap_err();
        let want = [
            "s.toml:7: defaults.lr: must be positive, got -1",
            "s.toml:9: grid.dataset[0].dim: must be at least 2, got 1",
            "s.toml:9: grid.dataset[1].dimm: unknown field `dimm`, expected `dim` or `data_seed`",
            "s.toml:9: grid.dataset[2].dim: invalid type: string \"ten\", expected usize",
            "s.toml:9: grid.dataset[3]: missing field `dim`",
        ];
        assert_eq!(errors, want);
        let errors = load(&format!(
            "{TINY}[grid]\ndataset = [\"8gaussians\"]\nobjective = [\"esm\"]\nseed = [\"zero\", 1]\nbackend = [\"tpu\"]\n"
        ))
        .unwrap_err();
        assert_eq!(
            errors,
            [
                "s.toml:10: grid.seed[0]: invalid type: string \"zero\", expected u64",
                "s.toml:11: grid.backend[0]: unknown variant `tpu`, expected one of `flex`, `ndarray`, `wgpu`",
            ]
        );
    }

    #[test]
    fn lists_inside_a_default_table_are_values() {
        let plan = load(
            "[defaults]\ndataset = \"8gaussians\"\nobjective = \"esm\"\nsampler = { name = \"langevin\", steps = 5 }\nsample_metrics = { metrics = [\"mmd\", \"mode_weight_tv\"] }\n",
        )
        .unwrap();
        assert_eq!(plan.jobs.len(), 1);
        let metrics = &plan.jobs[0].config.sample_metrics.metrics;
        assert_eq!(
            metrics,
            &[
                scorematch::metric::SampleMetric::Mmd,
                scorematch::metric::SampleMetric::ModeWeightTv
            ]
        );
        // Where one value is wanted, the library's reading says so at the list's line.
        let errors = load(
            "[defaults]\nobjective = \"esm\"\ndataset = { name = \"gaussian\", dim = [2, 3] }\n",
        )
        .unwrap_err();
        assert_eq!(
            errors,
            ["s.toml:3: defaults.dataset.dim: invalid type: sequence, expected usize"]
        );
    }

    #[test]
    fn a_missing_data_set_says_where_to_give_one() {
        let errors = load("[grid]\nobjective = [\"esm\"]\n").unwrap_err();
        assert_eq!(
            errors,
            ["s.toml:1: dataset: no dataset given: set one in [defaults] or vary it in [grid]"]
        );
    }

    #[test]
    fn identical_points_become_one_run() {
        let plan = load(&format!(
            "{TINY}[grid]\nobjective = [\"esm\", \"esm\"]\ndataset = [\"8gaussians\"]\n"
        ))
        .unwrap();
        assert_eq!((plan.points, plan.duplicates, plan.jobs.len()), (2, 1, 1));
    }

    #[test]
    fn an_exclude_rule_matching_nothing_is_a_warning() {
        let plan = load(&format!("{TINY}[grid]\nobjective = [\"esm\"]\ndataset = [\"8gaussians\"]\n[[exclude]]\nobjective = \"ism\"\n")).unwrap();
        assert_eq!(
            plan.warnings.to_string(),
            "s.toml:10: exclude[0]: matches no run of the grid"
        );
    }
}
