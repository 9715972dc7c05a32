//! A results table against a reference table (what `runner compare` runs), configuration by
//! configuration, with tolerances from the spread over seeds.
//!
//! Both tables are aggregated over seeds ([`Summary`]); a configuration is matched by its
//! `config_id`, else by the values of the parameter columns the two tables share (so that a
//! new library field with a default, which changes every `config_id`, does not orphan the
//! reference). For each metric, with
//! means m_ref, m_new and seed standard deviations sd_ref, sd_new,
//!
//! tol = max(k · max(sd_ref, sd_new), rel · |m_ref|, abs),
//!
//! and a difference beyond `tol` in the worse direction (higher; lower for `mode_coverage`)
//! is a regression, in the better direction an improvement (reported, not an error). Fewer
//! `ok` runs than the reference, or a metric that is missing, is a regression too. A
//! reference configuration the new table lacks is reported apart from the regressions, as
//! missing (`runner compare` fails on it unless `--shared-only`). Numbers need not be bit-identical: a change of the floating-point
//! engine moves each seed's result by far less than the spread between seeds.

use std::collections::BTreeMap;

use super::{Group, Stat, Summary, readable};

/// The metrics compared by default.
pub const DEFAULT_METRICS: [&str; 4] = ["fisher", "fisher_sigma", "mode_weight_tv", "sample_swd"];

/// Tolerance settings.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Tolerance {
    /// Multiple k of the larger seed standard deviation.
    pub sds: f64,
    /// Relative floor, a fraction of the reference mean.
    pub rel: f64,
    /// Absolute floor.
    pub abs: f64,
}

/// What one comparison found.
#[derive(Clone, Debug, PartialEq)]
pub enum Finding {
    /// Fewer runs ended `ok` than in the reference.
    FewerOk {
        /// ok runs / runs in the reference.
        reference: (usize, usize),
        /// ok runs / runs now.
        now: (usize, usize),
    },
    /// A metric the reference has and the new table has not.
    MissingMetric(String),
    /// A metric outside its tolerance.
    Changed {
        /// The metric.
        metric: String,
        /// Reference statistics.
        reference: Stat,
        /// New statistics.
        now: Stat,
        /// The tolerance it was held to.
        tol: f64,
        /// Whether the change is for the worse.
        worse: bool,
    },
}

impl Finding {
    /// Whether the finding fails the comparison.
    pub fn is_regression(&self) -> bool {
        !matches!(self, Finding::Changed { worse: false, .. })
    }
}

/// The findings of one configuration.
#[derive(Clone, Debug, PartialEq)]
pub struct ConfigFindings {
    /// The configuration, as `param=value` for the parameters that vary in the reference.
    pub label: String,
    /// What was found (empty when everything is within tolerance).
    pub findings: Vec<Finding>,
}

/// The result of comparing two tables.
#[derive(Clone, Debug, PartialEq)]
pub struct Comparison {
    /// Configurations both tables hold, which were compared.
    pub compared: usize,
    /// Configurations with findings.
    pub configs: Vec<ConfigFindings>,
    /// Configurations of the reference that the new table does not have.
    pub missing: Vec<String>,
    /// Configurations of the new table that the reference does not have.
    pub new_configs: Vec<String>,
}

impl Comparison {
    /// Number of regressions.
    pub fn regressions(&self) -> usize {
        self.findings().filter(|f| f.is_regression()).count()
    }

    /// Number of improvements.
    pub fn improvements(&self) -> usize {
        self.findings().filter(|f| !f.is_regression()).count()
    }

    fn findings(&self) -> impl Iterator<Item = &Finding> {
        self.configs.iter().flat_map(|c| &c.findings)
    }
}

/// Whether a higher value of `metric` is better (as its column says).
fn higher_is_better(metric: &str) -> bool {
    crate::columns::column(metric).and_then(|c| c.better) == Some(crate::columns::Better::Higher)
}

/// A configuration as `param=value` for the parameters that vary in its table and are set,
/// with its `config_id`.
fn label(s: &Summary, g: &Group) -> String {
    let mut parts: Vec<String> = s
        .varying_params()
        .into_iter()
        .filter(|&i| !g.params[i].is_empty())
        .map(|i| format!("{}={}", s.params[i], g.params[i]))
        .collect();
    parts.push(format!("[{}]", g.config_id));
    parts.join(" ")
}

/// Compares `now` against `reference` on `metrics`: configurations are matched by
/// `config_id`, else by the values of the parameter columns both tables have.
pub fn compare(
    reference: &Summary,
    now: &Summary,
    metrics: &[String],
    tol: Tolerance,
) -> Comparison {
    let shared: Vec<&String> = reference
        .params
        .iter()
        .filter(|p| now.params.contains(p))
        .collect();
    let key = |s: &Summary, g: &Group| -> Vec<String> {
        shared
            .iter()
            .map(|p| {
                s.params
                    .iter()
                    .position(|q| q == *p)
                    .map_or_else(String::new, |i| g.params[i].clone())
            })
            .collect()
    };
    // A parameter key shared by several configurations of `now` (they differ in a field
    // runs.csv has no column for) identifies none of them.
    let mut key_counts: BTreeMap<Vec<String>, usize> = BTreeMap::new();
    for g in &now.groups {
        *key_counts.entry(key(now, g)).or_default() += 1;
    }
    let find = |r: &Group| -> Option<usize> {
        now.groups
            .iter()
            .position(|n| n.config_id == r.config_id)
            .or_else(|| {
                let k = key(reference, r);
                if key_counts.get(&k) == Some(&1) {
                    now.groups.iter().position(|n| key(now, n) == k)
                } else {
                    None
                }
            })
    };
    let stat = |s: &Summary, g: &Group, m: &str| -> Option<Stat> {
        s.metrics.iter().position(|x| x == m).map(|i| g.stats[i])
    };
    let mut configs = Vec::new();
    let mut missing = Vec::new();
    let mut matched = vec![false; now.groups.len()];
    for r in &reference.groups {
        let Some(i) = find(r) else {
            missing.push(label(reference, r));
            continue;
        };
        matched[i] = true;
        let n = &now.groups[i];
        let mut findings = Vec::new();
        if n.ok < r.ok {
            findings.push(Finding::FewerOk {
                reference: (r.ok, r.runs),
                now: (n.ok, n.runs),
            });
        }
        for m in metrics {
            let Some(rs) = stat(reference, r, m).filter(|s| s.mean.is_some()) else {
                continue;
            };
            let ns = stat(now, n, m).unwrap_or_default();
            if let Some(f) = check_metric(m, rs, ns, tol) {
                findings.push(f);
            }
        }
        if !findings.is_empty() {
            configs.push(ConfigFindings {
                label: label(reference, r),
                findings,
            });
        }
    }
    let new_configs = now
        .groups
        .iter()
        .zip(&matched)
        .filter(|(_, m)| !**m)
        .map(|(g, _)| label(now, g))
        .collect();
    Comparison {
        compared: reference.groups.len() - missing.len(),
        configs,
        missing,
        new_configs,
    }
}

/// The finding for one metric, if it is outside its tolerance or missing.
fn check_metric(metric: &str, reference: Stat, now: Stat, tol: Tolerance) -> Option<Finding> {
    let (Some(rm), Some(nm)) = (reference.mean, now.mean) else {
        return Some(Finding::MissingMetric(metric.to_string()));
    };
    let spread = reference.sd.unwrap_or(0.0).max(now.sd.unwrap_or(0.0));
    let allowed = (tol.sds * spread).max(tol.rel * rm.abs()).max(tol.abs);
    let diff = nm - rm;
    if diff.abs() <= allowed {
        return None;
    }
    Some(Finding::Changed {
        metric: metric.to_string(),
        reference,
        now,
        tol: allowed,
        worse: (diff > 0.0) != higher_is_better(metric),
    })
}

/// A stat as `mean ± sd (n)`.
fn show(s: &Stat) -> String {
    let mean = s.mean.map_or_else(|| "-".to_string(), readable);
    let sd = s.sd.map_or_else(|| "-".to_string(), readable);
    format!("{mean} ± {sd} (n={})", s.n)
}

/// The comparison as readable text: one line per finding, then the missing and the new
/// configurations under their own headings, then the counts.
pub fn render(c: &Comparison) -> String {
    let mut out = String::new();
    for cfg in &c.configs {
        for f in &cfg.findings {
            let tag = if f.is_regression() {
                "REGRESSION"
            } else {
                "improved  "
            };
            let what = match f {
                Finding::FewerOk { reference, now } => format!(
                    "ok runs {}/{} (reference {}/{})",
                    now.0, now.1, reference.0, reference.1
                ),
                Finding::MissingMetric(m) => format!("{m}: no value (the reference has one)"),
                Finding::Changed {
                    metric,
                    reference,
                    now,
                    tol,
                    ..
                } => format!(
                    "{metric}: {} vs reference {} (tolerance ±{})",
                    show(now),
                    show(reference),
                    readable(*tol)
                ),
            };
            out.push_str(&format!("{tag} {} | {what}\n", cfg.label));
        }
    }
    let mut section = |heading: &str, labels: &[String]| {
        if !labels.is_empty() {
            out.push_str(&format!("{heading} ({}):\n", labels.len()));
            for l in labels {
                out.push_str(&format!("  {l}\n"));
            }
        }
    };
    section("Missing from the new results", &c.missing);
    section("New, without a reference (not compared)", &c.new_configs);
    out.push_str(&format!(
        "{} configurations compared: {} regressions, {} improvements, {} missing, {} new\n",
        c.compared,
        c.regressions(),
        c.improvements(),
        c.missing.len(),
        c.new_configs.len()
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::columns::{Layout, Table};

    /// A runs table of (objective, seed, status, fisher) rows; config_id from the objective.
    fn summary(rows: &[(&str, u64, &str, f64)]) -> Summary {
        summary_with_ids(rows, "id")
    }

    /// The same with config ids `<prefix>-<objective>`.
    fn summary_with_ids(rows: &[(&str, u64, &str, f64)], prefix: &str) -> Summary {
        let header: Vec<String> = Layout::fixed().names().to_vec();
        let idx = |n: &str| header.iter().position(|h| h == n).unwrap();
        let rows = rows
            .iter()
            .map(|(objective, seed, status, fisher)| {
                let mut r = vec![String::new(); header.len()];
                r[idx("config_id")] = format!("{prefix}-{objective}");
                r[idx("objective")] = objective.to_string();
                r[idx("dataset")] = "8gaussians".into();
                r[idx("seed")] = seed.to_string();
                r[idx("status")] = status.to_string();
                if *status == "ok" {
                    r[idx("fisher")] = fisher.to_string();
                }
                r
            })
            .collect();
        Summary::of(&Table { header, rows }).unwrap()
    }

    const TOL: Tolerance = Tolerance {
        sds: 3.0,
        rel: 0.1,
        abs: 1e-6,
    };

    fn run(reference: &Summary, now: &Summary) -> Comparison {
        compare(reference, now, &["fisher".to_string()], TOL)
    }

    #[test]
    fn changes_within_the_seed_spread_pass_and_beyond_it_fail() {
        let reference = summary(&[
            ("esm", 0, "ok", 1.0),
            ("esm", 1, "ok", 1.2),
            ("esm", 2, "ok", 0.8),
            ("ism", 0, "ok", 2.0),
            ("ism", 1, "ok", 2.0),
        ]);
        // esm: sd 0.2, so ±0.6 passes; ism: sd 0, the 10 % floor applies.
        let same = summary(&[
            ("esm", 0, "ok", 1.5),
            ("esm", 1, "ok", 1.5),
            ("esm", 2, "ok", 1.5),
            ("ism", 0, "ok", 2.1),
            ("ism", 1, "ok", 2.1),
        ]);
        let c = run(&reference, &same);
        assert_eq!(c.regressions(), 0, "{}", render(&c));
        assert!(c.configs.is_empty());
        let worse = summary(&[
            ("esm", 0, "ok", 1.7),
            ("esm", 1, "ok", 1.7),
            ("esm", 2, "ok", 1.7),
            ("ism", 0, "ok", 1.0),
            ("ism", 1, "ok", 1.0),
        ]);
        let c = run(&reference, &worse);
        assert_eq!(c.regressions(), 1, "{}", render(&c));
        assert_eq!(c.configs.len(), 2);
        let text = render(&c);
        assert!(
            text.contains("REGRESSION objective=esm [id-esm] | fisher: 1.700"),
            "{text}"
        );
        assert!(text.contains("improved   objective=ism [id-ism]"), "{text}");
        assert!(text.ends_with(
            "2 configurations compared: 1 regressions, 1 improvements, 0 missing, 0 new\n"
        ));
    }

    #[test]
    fn lost_runs_and_metrics_are_regressions_and_lost_configurations_are_missing() {
        let reference = summary(&[
            ("esm", 0, "ok", 1.0),
            ("esm", 1, "ok", 1.0),
            ("ism", 0, "ok", 1.0),
        ]);
        let now = summary(&[
            ("esm", 0, "ok", 1.0),
            ("esm", 1, "diverged", 0.0),
            ("ssm", 0, "ok", 1.0),
        ]);
        let c = run(&reference, &now);
        let kinds: Vec<&Finding> = c.configs.iter().flat_map(|c| &c.findings).collect();
        assert!(matches!(
            kinds[..],
            [Finding::FewerOk {
                reference: (2, 2),
                now: (1, 2)
            }]
        ));
        assert_eq!(c.regressions(), 1);
        assert_eq!(c.compared, 1);
        assert_eq!(c.missing, ["objective=ism [id-ism]"]);
        assert_eq!(c.new_configs, ["objective=ssm [id-ssm]"]);
        let text = render(&c);
        assert!(
            text.contains(
                "Missing from the new results (1):\n  objective=ism [id-ism]\n\
                 New, without a reference (not compared) (1):\n  objective=ssm [id-ssm]\n"
            ),
            "{text}"
        );
        assert!(
            text.ends_with(
                "1 configurations compared: 1 regressions, 0 improvements, 1 missing, 1 new\n"
            ),
            "{text}"
        );
        let only_failed = summary(&[("esm", 0, "failed", 0.0), ("esm", 1, "failed", 0.0)]);
        let c = run(&reference, &only_failed);
        let text = render(&c);
        assert!(text.contains("fisher: no value"), "{text}");
    }

    #[test]
    fn configurations_match_by_id_else_by_their_parameters() {
        let reference = summary(&[("esm", 0, "ok", 1.0), ("ism", 0, "ok", 1.0)]);
        // New ids (a new library field): matched by the parameter columns.
        let renamed = summary_with_ids(&[("esm", 0, "ok", 5.0), ("ism", 0, "ok", 1.0)], "v2");
        let c = run(&reference, &renamed);
        assert_eq!(c.regressions(), 1, "{}", render(&c));
        assert!(c.new_configs.is_empty());
        // Two configurations with the same parameter columns: only the ids tell them apart.
        let mut twins = summary_with_ids(&[("esm", 0, "ok", 1.0), ("esm", 1, "ok", 9.0)], "x");
        twins.groups[0].config_id = "a".into();
        let mut other = twins.groups[0].clone();
        other.config_id = "b".into();
        other.stats = twins.groups[0].stats.clone();
        let f = twins.metrics.iter().position(|m| m == "fisher").unwrap();
        other.stats[f].mean = Some(100.0);
        twins.groups.push(other);
        let mut swapped = twins.clone();
        swapped.groups.reverse();
        assert_eq!(run(&twins, &swapped).regressions(), 0);
        let mut renamed = swapped.clone();
        for g in &mut renamed.groups {
            g.config_id.push('2');
        }
        let c = run(&twins, &renamed);
        assert_eq!(c.regressions(), 0, "ambiguous: {}", render(&c));
        assert_eq!((c.missing.len(), c.new_configs.len()), (2, 2));
    }

    #[test]
    fn higher_mode_coverage_is_better() {
        let s = |m| Stat {
            mean: Some(m),
            sd: Some(0.01),
            n: 3,
        };
        let f = check_metric("mode_coverage", s(1.0), s(0.5), TOL).unwrap();
        assert!(f.is_regression());
        let f = check_metric("fisher", s(1.0), s(0.5), TOL).unwrap();
        assert!(!f.is_regression());
        assert_eq!(check_metric("fisher", s(1.0), s(1.05), TOL), None);
    }
}
