//! Reading a `[search]` block: its settings, the parameters it draws and their ranges, and
//! its `[search.prune]` table.

use super::{Range, SETTINGS, Search, Target, points};
use crate::sweep::params::{Params, family};
use crate::sweep::source::{Diagnostics, Sources, Span};
use crate::sweep::tree::{Kind, Node};

/// The block at `node`, or every problem with it.
pub(super) fn parse(
    node: &Node,
    sources: &Sources,
    params: &Params,
) -> Result<Search, Diagnostics> {
    let mut errors = Diagnostics::default();
    let d = |span: Span, key: &str, message: String| sources.diagnostic(span, key, message);
    let Some(entries) = node.entries() else {
        return Err(Diagnostics(vec![d(
            node.span,
            "search",
            "must be a table ([search])".into(),
        )]));
    };
    let mut search = Search {
        sobol: false,
        budget: 0,
        per: Vec::new(),
        seed: 0,
        ranges: Vec::new(),
        span: node.span,
        prune: None,
    };
    let mut budget_set = false;
    for e in entries {
        let key = format!("search.{}", e.name);
        let v = e.node.to_value();
        match e.name.as_str() {
            "method" => match v.as_str() {
                Some("random") => search.sobol = false,
                Some("sobol") => search.sobol = true,
                _ => errors.push(d(
                    e.node.span,
                    &key,
                    "must be \"random\" or \"sobol\"".into(),
                )),
            },
            "budget" => match v.as_integer() {
                Some(n) if n >= 1 => {
                    search.budget = n as usize;
                    budget_set = true;
                }
                _ => errors.push(d(e.node.span, &key, "must be a whole number ≥ 1".into())),
            },
            "search_seed" => match v.as_integer() {
                Some(n) if n >= 0 => search.seed = n as u64,
                _ => errors.push(d(e.node.span, &key, "must be a whole number ≥ 0".into())),
            },
            "per" => match &e.node.kind {
                Kind::Array(items) if items.iter().all(|i| i.as_str().is_some()) => {
                    search.per = items
                        .iter()
                        .map(|i| (i.as_str().unwrap_or_default().to_string(), i.span))
                        .collect();
                }
                _ => errors.push(d(
                    e.node.span,
                    &key,
                    "must be a list of [grid] axis names".into(),
                )),
            },
            "prune" => match prune_settings(&e.node) {
                Ok((rungs, eta)) => search.prune = Some((rungs, eta, e.node.span)),
                Err((span, message)) => errors.push(d(span, &key, message)),
            },
            name => match (target(name, params), range(&e.node)) {
                (Ok(t), Ok(r)) => search.ranges.push((name.to_string(), t, r, e.node.span)),
                (Err(m), _) | (_, Err(m)) => errors.push(d(e.node.span, &key, m)),
            },
        }
    }
    if !budget_set && errors.is_empty() {
        errors.push(d(
            node.span,
            "search.budget",
            "missing: how many trials per group".into(),
        ));
    }
    if search.ranges.is_empty() && errors.is_empty() {
        errors.push(d(
            node.span,
            "search",
            format!(
                "no parameter to search: add ranges such as lr = {{ log_uniform = [1e-4, 1e-2] }} \
                 beside {}",
                SETTINGS.join(", ")
            ),
        ));
    }
    if search.sobol && search.ranges.len() > points::SOBOL_DIMS {
        errors.push(d(
            node.span,
            "search.method",
            format!("sobol draws at most {} parameters", points::SOBOL_DIMS),
        ));
    }
    if errors.is_empty() {
        Ok(search)
    } else {
        Err(errors)
    }
}

/// Where the parameter written as `name` goes.
fn target(name: &str, params: &Params) -> Result<Target, String> {
    let name = name.strip_prefix("train.").unwrap_or(name);
    match name.split_once('.') {
        Some((fam, field)) if family(fam).is_some() && !field.contains('.') => {
            Ok(Target::Family(fam.to_string(), field.to_string()))
        }
        None if params.path(name).is_some() && family(name).is_none() => {
            Ok(Target::Param(name.to_string()))
        }
        _ => Err(format!(
            "unknown parameter \"{name}\" (search a run parameter such as lr, or a family's, \
             such as objective.sigma)"
        )),
    }
}

/// The range written at `node`.
fn range(node: &Node) -> Result<Range, String> {
    let pair = |v: &toml::Value| -> Option<(f64, f64)> {
        let a = v.as_array()?;
        let num = |x: &toml::Value| x.as_float().or_else(|| x.as_integer().map(|i| i as f64));
        match a.as_slice() {
            [x, y] => Some((num(x)?, num(y)?)),
            _ => None,
        }
    };
    let entries = node
        .entries()
        .filter(|e| e.len() == 1)
        .ok_or("must be one of { log_uniform = [a, b] }, { uniform = [a, b] }, { int = [a, b] }, { choice = [...] }")?;
    let (kind, value) = (&entries[0].name, entries[0].node.to_value());
    match kind.as_str() {
        "log_uniform" => match pair(&value) {
            Some((a, b)) if a > 0.0 && a < b => Ok(Range::LogUniform(a, b)),
            _ => Err("log_uniform takes [a, b] with 0 < a < b".into()),
        },
        "uniform" => match pair(&value) {
            Some((a, b)) if a < b => Ok(Range::Uniform(a, b)),
            _ => Err("uniform takes [a, b] with a < b".into()),
        },
        "int" => match value.as_array().map(Vec::as_slice) {
            Some([toml::Value::Integer(a), toml::Value::Integer(b)]) if a <= b => {
                Ok(Range::Int(*a, *b))
            }
            _ => Err("int takes [a, b], whole numbers with a ≤ b".into()),
        },
        "choice" => match &entries[0].node.kind {
            Kind::Array(items) if !items.is_empty() => Ok(Range::Choice(items.clone())),
            _ => Err("choice takes a non-empty list".into()),
        },
        other => Err(format!(
            "unknown range \"{other}\" (expected log_uniform, uniform, int or choice)"
        )),
    }
}

/// The rungs and η of a `[search.prune]` table, or where and why it is wrong.
fn prune_settings(node: &Node) -> Result<(Vec<usize>, usize), (Span, String)> {
    let entries = node
        .entries()
        .ok_or((node.span, "must be a table: [search.prune]".to_string()))?;
    let mut rungs = None;
    let mut eta = 3;
    for e in entries {
        let v = e.node.to_value();
        match e.name.as_str() {
            "method" if v.as_str() == Some("asha") => {}
            "method" => return Err((e.node.span, "the method is \"asha\"".into())),
            "metric" if v.as_str() == Some("val_loss") => {}
            "metric" => {
                return Err((e.node.span, "trials are compared on \"val_loss\"".into()));
            }
            "reduction_factor" => match v.as_integer() {
                Some(n) if n >= 2 => eta = n as usize,
                _ => {
                    return Err((
                        e.node.span,
                        "reduction_factor must be a whole number ≥ 2".into(),
                    ));
                }
            },
            "rungs" => {
                let steps: Option<Vec<usize>> = v.as_array().and_then(|a| {
                    a.iter()
                        .map(|x| x.as_integer().filter(|&n| n >= 1).map(|n| n as usize))
                        .collect()
                });
                match steps {
                    Some(s) if !s.is_empty() && s.windows(2).all(|w| w[0] < w[1]) => {
                        rungs = Some(s);
                    }
                    _ => {
                        return Err((
                            e.node.span,
                            "rungs must be increasing step counts, e.g. [200, 400, 800]".into(),
                        ));
                    }
                }
            }
            other => {
                return Err((
                    e.key_span,
                    format!(
                        "unknown key \"{other}\" (expected rungs, reduction_factor, method, metric)"
                    ),
                ));
            }
        }
    }
    let rungs = rungs.ok_or((
        node.span,
        "missing rungs: the steps at which trials are compared".to_string(),
    ))?;
    Ok((rungs, eta))
}
