//! Random and quasi-random search: a `[search]` block beside `[grid]`.
//!
//! ```toml
//! [search]
//! method = "sobol"          # or "random" (default)
//! budget = 6                # trials per group
//! per = ["objective"]       # [grid] axes whose values each get their own trials
//! search_seed = 0
//! lr = { log_uniform = [1e-4, 1e-2] }
//! "objective.sigma" = { uniform = [0.05, 0.5] }
//! "model.hidden" = { int = [32, 256] }
//! batch = { choice = [64, 128, 256] }
//! ```
//!
//! The block becomes ordinary sweep structure before anything else reads the file: the `per`
//! axes leave `[grid]` and, with the drawn values, form one more `[[zip]]` (each group's
//! value repeated `budget` times beside its trials), which the rest of `[grid]` multiplies as
//! usual. So runs, ids, resume, sharding and Slurm work as for any sweep, and `list` and
//! `--dry-run` show the trials. A family parameter (`objective.sigma`) is merged into the
//! group's entry for that family (or the `[defaults]` one).
//!
//! Draws are deterministic: each group's points come from `search_seed` and the group's own
//! values (not its position), and point k does not depend on the budget, so adding a group
//! or raising the budget keeps every earlier trial and its run id.

mod parse;
pub mod points;
pub mod prune;

use sha2::{Digest, Sha256};

use super::params::Params;
use super::plan::Plan;
use super::source::{Diagnostics, Sources, Span};
use super::tree::{Entry, Kind, Node};
use prune::Prune;

/// The block's own keys; every other key is a range.
const SETTINGS: [&str; 5] = ["method", "budget", "per", "search_seed", "prune"];

/// How a parameter is drawn from a point u ∈ [0, 1).
#[derive(Clone, Debug, PartialEq)]
enum Range {
    LogUniform(f64, f64),
    Uniform(f64, f64),
    Int(i64, i64),
    Choice(Vec<Node>),
}

impl Range {
    fn value(&self, u: f64, span: Span, key: &str) -> Node {
        let scalar = |v: toml::Value| Node::scalar(span, key, v);
        match self {
            Range::LogUniform(a, b) => scalar(toml::Value::Float(round(
                (a.ln() + u * (b.ln() - a.ln())).exp(),
            ))),
            Range::Uniform(a, b) => scalar(toml::Value::Float(round(a + u * (b - a)))),
            Range::Int(a, b) => {
                let width = (b - a + 1) as f64;
                scalar(toml::Value::Integer(a + ((u * width) as i64).min(b - a)))
            }
            Range::Choice(items) => {
                let i = ((u * items.len() as f64) as usize).min(items.len() - 1);
                items[i].rekeyed(key)
            }
        }
    }
}

/// Six significant digits: drawn values read well in tables and file names, and stay exact
/// through TOML and JSON.
fn round(v: f64) -> f64 {
    if v == 0.0 || !v.is_finite() {
        return v;
    }
    let digits = 5 - v.abs().log10().floor() as i32;
    let scale = 10f64.powi(digits);
    (v * scale).round() / scale
}

/// A parsed `[search]` block.
struct Search {
    sobol: bool,
    budget: usize,
    per: Vec<(String, Span)>,
    seed: u64,
    /// (key as written, where the family parameter goes, range, where it is written).
    ranges: Vec<(String, Target, Range, Span)>,
    span: Span,
    /// `[search.prune]`: rungs, η, and where it is written.
    prune: Option<(Vec<usize>, usize, Span)>,
}

/// Where a drawn value goes.
#[derive(Clone, Debug, PartialEq)]
enum Target {
    /// A run parameter (`lr`, `steps`).
    Param(String),
    /// A family entry's parameter (`objective.sigma`).
    Family(String, String),
}

/// Rewrites the `[search]` block of `root` into `[[zip]]` structure (see the module
/// documentation); a file without one is returned as it is.
pub fn expand(
    mut root: Node,
    sources: &Sources,
    params: &Params,
) -> Result<(Node, Option<(Prune, Span)>), Diagnostics> {
    let Kind::Table(entries) = &mut root.kind else {
        return Ok((root, None));
    };
    let Some(at) = entries.iter().position(|e| e.name == "search") else {
        return Ok((root, None));
    };
    let block = entries.remove(at);
    let search = parse::parse(&block.node, sources, params)?;
    let prune = search.prune.as_ref().map(|(rungs, eta, span)| {
        let prune = Prune {
            rungs: rungs.clone(),
            reduction_factor: *eta,
            searched: search
                .ranges
                .iter()
                .map(|(_, t, _, _)| match t {
                    Target::Param(p) => (None, p.clone()),
                    Target::Family(f, field) => (Some(f.clone()), field.clone()),
                })
                .collect(),
        };
        (prune, *span)
    });
    let mut errors = Diagnostics::default();
    let diag = |span: Span, key: &str, message: String| sources.diagnostic(span, key, message);

    // The per axes leave [grid]; their values make the groups.
    let mut axes: Vec<(String, Vec<Node>)> = Vec::new();
    if let Some(grid) = entries.iter_mut().find(|e| e.name == "grid")
        && let Kind::Table(grid_entries) = &mut grid.node.kind
    {
        for (axis, span) in &search.per {
            match grid_entries.iter().position(|e| &e.name == axis) {
                Some(i) => match grid_entries.remove(i).node.kind {
                    Kind::Array(values) if values.iter().all(|v| !has_subgrid(v)) => {
                        axes.push((axis.clone(), values));
                    }
                    _ => errors.push(diag(
                        *span,
                        "search.per",
                        format!(
                            "grid.{axis} must be a list of single values (no sub-grids) to \
                             split the search by it"
                        ),
                    )),
                },
                None => errors.push(diag(
                    *span,
                    "search.per",
                    format!("\"{axis}\" is not an axis of [grid]"),
                )),
            }
        }
    } else if let Some((axis, span)) = search.per.first() {
        errors.push(diag(
            *span,
            "search.per",
            format!("\"{axis}\" is not an axis of [grid] (there is no [grid])"),
        ));
    }
    // A family parameter needs to know the family entry it belongs to.
    let defaults = entries
        .iter()
        .find(|e| e.name == "defaults")
        .map(|e| e.node.clone());
    let grid_axes: Vec<String> = entries
        .iter()
        .find(|e| e.name == "grid")
        .and_then(|g| g.node.entries())
        .map(|e| e.iter().map(|e| e.name.clone()).collect())
        .unwrap_or_default();
    for (key, target, _, span) in &search.ranges {
        let name = match target {
            Target::Param(p) => p,
            Target::Family(f, _) => f,
        };
        if grid_axes.contains(name) && matches!(target, Target::Param(_)) {
            errors.push(diag(
                *span,
                &format!("search.{key}"),
                format!("{name} is also an axis of [grid]: a parameter varies in one place"),
            ));
        }
        if let Target::Family(fam, _) = target
            && !axes.iter().any(|(a, _)| a == fam)
        {
            if grid_axes.contains(fam) {
                errors.push(diag(
                    *span,
                    &format!("search.{key}"),
                    format!("{fam} varies in [grid]: add it to search.per, so each {fam} gets its own trials"),
                ));
            } else if defaults.as_ref().and_then(|d| d.get(fam)).is_none() {
                errors.push(diag(
                    *span,
                    &format!("search.{key}"),
                    format!("set defaults.{fam} (or a [grid] axis in search.per), so that this parameter has an entry to go into"),
                ));
            }
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }

    // Every group: the per axes' values, in grid order.
    let mut groups: Vec<Vec<Node>> = vec![Vec::new()];
    for (_, values) in &axes {
        groups = groups
            .into_iter()
            .flat_map(|g| {
                values.iter().map(move |v| {
                    let mut g = g.clone();
                    g.push(v.clone());
                    g
                })
            })
            .collect();
    }
    let zip_index = entries
        .iter()
        .find(|e| e.name == "zip")
        .and_then(|z| match &z.node.kind {
            Kind::Array(items) => Some(items.len()),
            _ => None,
        })
        .unwrap_or(0);
    let zip_key = format!("zip[{zip_index}]");
    // One row per trial: the group's per-axis values, the drawn run parameters, and family
    // entries completed with their drawn fields; the rows become the zip's columns.
    let mut columns: Vec<(String, Vec<Node>)> = Vec::new();
    for group in &groups {
        let seed = group_seed(search.seed, group);
        let dim = search.ranges.len();
        let points = if search.sobol {
            points::sobol(search.budget, dim, seed)
        } else {
            points::random(search.budget, dim, seed)
        };
        for u in &points {
            let mut row: Vec<(String, Node)> = axes
                .iter()
                .zip(group)
                .map(|((axis, _), value)| (axis.clone(), value.clone()))
                .collect();
            for ((_, target, range, span), &ui) in search.ranges.iter().zip(u) {
                match target {
                    Target::Param(p) => row.push((p.clone(), range.value(ui, *span, p))),
                    Target::Family(fam, field) => {
                        let at = match row.iter().position(|(name, _)| name == fam) {
                            Some(at) => at,
                            None => {
                                let base = defaults
                                    .as_ref()
                                    .and_then(|d| d.get(fam))
                                    .cloned()
                                    .unwrap_or_else(|| Node::table(*span, "", Vec::new()));
                                row.push((fam.clone(), base));
                                row.len() - 1
                            }
                        };
                        let entry = as_entry(row[at].1.clone());
                        row[at].1 = with_field(entry, field, range.value(ui, *span, field), *span);
                    }
                }
            }
            for (name, node) in row {
                let at = match columns.iter().position(|(c, _)| *c == name) {
                    Some(at) => at,
                    None => {
                        columns.push((name.clone(), Vec::new()));
                        columns.len() - 1
                    }
                };
                let key = format!("{zip_key}.{name}[{}]", columns[at].1.len());
                columns[at].1.push(node.rekeyed(&key));
            }
        }
    }
    let zip = Node::table(
        search.span,
        zip_key.clone(),
        columns
            .into_iter()
            .map(|(name, values)| Entry {
                node: Node {
                    span: search.span,
                    key: format!("{zip_key}.{name}"),
                    kind: Kind::Array(values),
                },
                name,
                key_span: search.span,
            })
            .collect(),
    );
    match entries.iter_mut().find(|e| e.name == "zip") {
        Some(existing) => match &mut existing.node.kind {
            Kind::Array(items) => items.push(zip),
            _ => {
                return Err(Diagnostics(vec![sources.diagnostic(
                    existing.node.span,
                    "zip",
                    "must be a list of tables ([[zip]])",
                )]));
            }
        },
        None => entries.push(Entry {
            name: "zip".into(),
            key_span: search.span,
            node: Node {
                span: search.span,
                key: "zip".into(),
                kind: Kind::Array(vec![zip]),
            },
        }),
    }
    Ok((root, prune))
}

/// `plan` with its pruning rule, after checking that every trial has a held-out loss to be
/// compared on.
pub fn with_prune(
    mut plan: Plan,
    prune: Option<(Prune, Span)>,
    sources: &Sources,
) -> Result<Plan, Diagnostics> {
    let Some((prune, span)) = prune else {
        return Ok(plan);
    };
    let blind = plan.jobs.iter().any(|j| {
        let c = &j.config;
        !c.objective.caps().trains || (c.train.val_samples == 0 && c.dataset.has_exact_score())
    });
    if blind {
        return Err(Diagnostics(vec![sources.diagnostic(
            span,
            "search.prune",
            "trials are compared on their held-out loss: set val_samples (e.g. 1000), and \
             search objectives that train",
        )]));
    }
    plan.prune = Some(prune);
    Ok(plan)
}

/// Whether an entry expands as a sub-grid (a table with a list of plain values).
fn has_subgrid(node: &Node) -> bool {
    node.entries()
        .is_some_and(|e| e.iter().any(super::spec::is_subgrid))
}

/// A family value as a table entry (`"dsm"` → `{ name = "dsm" }`).
fn as_entry(node: Node) -> Node {
    match &node.kind {
        Kind::Scalar(v @ toml::Value::String(_)) => Node::table(
            node.span,
            node.key.clone(),
            vec![Entry {
                name: "name".into(),
                key_span: node.span,
                node: Node::scalar(node.span, "name", v.clone()),
            }],
        ),
        _ => node,
    }
}

/// A table node with `field` set to `value`.
fn with_field(mut entry: Node, field: &str, value: Node, span: Span) -> Node {
    if let Kind::Table(entries) = &mut entry.kind {
        entries.retain(|e| e.name != field);
        entries.push(Entry {
            name: field.to_string(),
            key_span: span,
            node: value,
        });
    }
    entry
}

/// The seed of one group's points: `search_seed` and the group's values.
fn group_seed(seed: u64, group: &[Node]) -> u64 {
    let text: Vec<String> = group.iter().map(|n| n.to_value().to_string()).collect();
    let digest = Sha256::digest(format!("{seed}:{}", text.join("|")).as_bytes());
    u64::from_le_bytes(digest[..8].try_into().unwrap_or([0; 8]))
}

#[cfg(test)]
mod tests;
