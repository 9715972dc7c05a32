//! Stage one: the sweep file's tree → a checked [`SweepSpec`]. Every structural mistake
//! (unknown keys, wrong types, empty lists, unknown names, unequal zips) is collected here
//! with its location; values are checked against the library in stage two.

use std::collections::HashMap;

use super::params::{Params, family};
use super::size::DEFAULT_MAX_RUNS;
use super::source::{Diagnostics, Sources, Span};
use super::tree::{Entry, Kind, Node};

/// Entry keys whose value is itself a list (an external method's `command`, a file data
/// set's `columns`): never a sub-grid.
pub const LIST_VALUED: [&str; 2] = ["command", "columns"];

/// Whether an entry's key holds a sub-grid: a list of plain values, unless the key's value is
/// a list by nature ([`LIST_VALUED`]).
pub fn is_subgrid(e: &Entry) -> bool {
    e.node.is_list_of_scalars() && !LIST_VALUED.contains(&e.name.as_str())
}

/// How many runs a table entry stands for: the product of its sub-grid lists' lengths,
/// nested tables included.
fn combinations(node: &Node) -> u128 {
    match &node.kind {
        Kind::Table(entries) => entries
            .iter()
            .map(|e| match &e.node.kind {
                Kind::Array(items) if is_subgrid(e) => items.len() as u128,
                Kind::Table(_) => combinations(&e.node),
                _ => 1,
            })
            .fold(1u128, u128::saturating_mul),
        _ => 1,
    }
}

/// The top-level keys of a sweep file.
pub const SECTIONS: [&str; 10] = [
    "extends",
    "search",
    "name",
    "description",
    "max_runs",
    "defaults",
    "grid",
    "zip",
    "include",
    "exclude",
];

/// Where parameters of a data set, model or objective go, for those who write them alone.
const HINTS: [(&str, &str); 8] = [
    (
        "sigma",
        "σ belongs to an objective: objective = [{ name = \"dsm\", sigma = [0.1, 0.5] }]",
    ),
    (
        "dim",
        "dim belongs to a data set: dataset = [{ name = \"gaussian\", dim = [2, 10] }]",
    ),
    (
        "projections",
        "projections belong to an objective: objective = [{ name = \"ssm\", projections = [1, 4] }]",
    ),
    (
        "hidden",
        "hidden belongs to a model: model = { name = \"mlp\", hidden = 64 }",
    ),
    (
        "depth",
        "depth belongs to a model: model = { name = \"mlp\", depth = 3 }",
    ),
    (
        "activation",
        "activation belongs to a model: model = { name = \"mlp\", activation = \"tanh\" }",
    ),
    (
        "name",
        "name a data set, model or objective inside its entry: objective = { name = \"dsm\" }",
    ),
    (
        "levels",
        "levels belong to an objective: objective = { name = \"dsm-multi\", levels = 10 }",
    ),
];

/// A parameter set to one value: `steps = 200`.
#[derive(Clone, Debug)]
pub struct Setting {
    /// Where the value goes in `RunConfig`: `["train", "steps"]`.
    pub path: Vec<String>,
    /// The value, with its location.
    pub node: Node,
}

/// One way runs vary: a list of choices, each setting one or more parameters.
#[derive(Clone, Debug)]
pub struct Axis {
    /// The axis in the file: `grid.seed`, `zip[0]`.
    pub key: String,
    /// Where it is written.
    pub span: Span,
    /// The choices, in file order.
    pub choices: Vec<Vec<Setting>>,
}

impl Axis {
    /// An axis of one parameter taking each of `values`.
    fn of(key: &str, span: Span, path: &[String], values: Vec<Node>) -> Self {
        Axis {
            key: key.to_string(),
            span,
            choices: values
                .into_iter()
                .map(|node| {
                    vec![Setting {
                        path: path.to_vec(),
                        node,
                    }]
                })
                .collect(),
        }
    }
}

/// An `[[exclude]]` rule: a run is dropped when every condition matches it.
#[derive(Clone, Debug)]
pub struct Rule {
    /// `exclude[0]`.
    pub key: String,
    /// Where the rule is written.
    pub span: Span,
    /// The conditions.
    pub conditions: Vec<Condition>,
}

/// One condition of a rule: the parameter at `path` matches one of `alternatives` (a table
/// matches when each of its keys matches).
#[derive(Clone, Debug)]
pub struct Condition {
    /// Where in `RunConfig`.
    pub path: Vec<String>,
    /// Accepted values.
    pub alternatives: Vec<Node>,
}

/// A sweep file after stage one.
#[derive(Clone, Debug)]
pub struct SweepSpec {
    /// The sweep's name (its output directory's name).
    pub name: String,
    /// What it is for.
    pub description: String,
    /// `[defaults]`, in file order.
    pub defaults: Vec<Setting>,
    /// The axes of `[grid]` and each `[[zip]]` group, crossed.
    pub grid: Vec<Axis>,
    /// Each `[[include]]`: further axes crossed among themselves, added to the grid's runs.
    pub include: Vec<Vec<Axis>>,
    /// `[[exclude]]` rules, applied to the grid's runs.
    pub exclude: Vec<Rule>,
    /// Where problems with no better location are reported.
    pub fallback: Span,
    /// The most runs the sweep may expand to ([`size::check`]).
    pub max_runs: u64,
}

/// Checks the structure of a sweep file.
pub fn check(
    root: &Node,
    sources: &Sources,
    params: &Params,
    default_name: &str,
) -> (SweepSpec, Diagnostics) {
    let mut c = Checker {
        sources,
        params,
        errors: Diagnostics::default(),
        varying: HashMap::new(),
        max_runs: DEFAULT_MAX_RUNS,
    };
    let mut spec = SweepSpec {
        name: default_name.to_string(),
        description: String::new(),
        defaults: Vec::new(),
        grid: Vec::new(),
        include: Vec::new(),
        exclude: Vec::new(),
        fallback: root.span,
        max_runs: DEFAULT_MAX_RUNS,
    };
    let Some(entries) = root.entries() else {
        c.err(root.span, "sweep", "a sweep file is a table");
        return (spec, c.errors);
    };
    // The limit first: it bounds every expansion below.
    if let Some(e) = entries.iter().find(|e| e.name == "max_runs") {
        match e.node.to_value().as_integer() {
            Some(n) if n >= 1 => c.max_runs = n as u64,
            Some(n) => c.err(
                e.node.span,
                &e.node.key,
                format!("must be at least 1, got {n}"),
            ),
            None => c.expected(&e.node, "a positive integer"),
        }
        spec.max_runs = c.max_runs;
    }
    // [grid] first, so zips that clash with it are the ones reported.
    let mut ordered: Vec<&Entry> = entries.iter().collect();
    ordered.sort_by_key(|e| e.name != "grid");
    for e in ordered {
        let node = &e.node;
        match e.name.as_str() {
            "name" => {
                if let Some(name) = c.string(node) {
                    c.check_name(node, name);
                    spec.name = name.to_string();
                }
            }
            "description" => {
                if let Some(d) = c.string(node) {
                    spec.description = d.to_string();
                }
            }
            "max_runs" => {}
            "defaults" => {
                if let Some(entries) = c.table(node) {
                    spec.fallback = node.span;
                    spec.defaults = c.defaults(entries);
                }
            }
            "grid" => {
                if let Some(entries) = c.table(node) {
                    spec.grid.extend(c.grid(entries));
                }
            }
            "zip" => {
                for (i, t) in c.tables(node).into_iter().enumerate() {
                    if let Some(axis) = c.zip(t, &format!("zip[{i}]")) {
                        spec.grid.push(axis);
                    }
                }
            }
            "include" => {
                for t in c.tables(node) {
                    spec.include.push(c.include(t));
                }
            }
            "exclude" => {
                for (i, t) in c.tables(node).into_iter().enumerate() {
                    if let Some(rule) = c.rule(t, &format!("exclude[{i}]")) {
                        spec.exclude.push(rule);
                    }
                }
            }
            other if c.params.path(other).is_some() => c.err(
                e.key_span,
                other,
                format!(
                    "did you mean defaults.{other}? (a parameter goes in [defaults], or in [grid] \
                     as a list to vary it)"
                ),
            ),
            other => c.err(
                e.key_span,
                other,
                format!("unknown key (expected one of: {})", SECTIONS.join(", ")),
            ),
        }
    }
    (spec, c.errors)
}

struct Checker<'a> {
    sources: &'a Sources,
    params: &'a Params,
    errors: Diagnostics,
    /// Parameters that already vary, and the axis they vary in.
    varying: HashMap<Vec<String>, String>,
    /// The most runs the sweep may expand to.
    max_runs: u64,
}

impl Checker<'_> {
    fn err(&mut self, span: Span, key: &str, message: impl Into<String>) {
        self.errors
            .push(self.sources.diagnostic(span, key, message));
    }

    fn expected(&mut self, node: &Node, what: &str) {
        self.err(
            node.span,
            &node.key,
            format!("expected {what}, found {}", node.described()),
        );
    }

    fn string<'n>(&mut self, node: &'n Node) -> Option<&'n str> {
        let s = node.as_str();
        if s.is_none() {
            self.expected(node, "a string");
        }
        s
    }

    fn table<'n>(&mut self, node: &'n Node) -> Option<&'n [Entry]> {
        let t = node.entries();
        if t.is_none() {
            self.expected(node, "a table");
        }
        t
    }

    /// The tables of `[[section]]`.
    fn tables<'n>(&mut self, node: &'n Node) -> Vec<&'n Node> {
        match &node.kind {
            Kind::Array(items) if items.iter().all(|i| i.entries().is_some()) => {
                items.iter().collect()
            }
            _ => {
                self.expected(node, &format!("a list of tables ([[{}]])", node.key));
                Vec::new()
            }
        }
    }

    fn check_name(&mut self, node: &Node, name: &str) {
        let ok = !name.is_empty()
            && !name.starts_with('.')
            && name
                .chars()
                .all(|ch| ch.is_ascii_alphanumeric() || matches!(ch, '-' | '_' | '.'));
        if !ok {
            self.err(
                node.span,
                &node.key,
                format!("\"{name}\" cannot name a directory (use letters, digits, -, _ and .)"),
            );
        }
    }

    /// The `RunConfig` path of a parameter key.
    fn param(&mut self, e: &Entry) -> Option<Vec<String>> {
        match self.params.path(&e.name) {
            Some(path) => Some(path.into_iter().map(String::from).collect()),
            None => {
                let names = self.params.names().join(", ");
                let hint = HINTS
                    .iter()
                    .find(|(k, _)| *k == e.name)
                    .map(|(_, h)| format!("; {h}"))
                    .unwrap_or_default();
                self.err(
                    e.key_span,
                    &e.node.key,
                    format!(
                        "unknown parameter \"{}\" (expected one of: {names}){hint}",
                        e.name
                    ),
                );
                None
            }
        }
    }

    /// A value for `path`, with `"dsm"` read as `{ name = "dsm" }` for families.
    fn value(&mut self, path: &[String], node: &Node) -> Node {
        match (path, node.as_str()) {
            ([key], Some(name)) if family(key).is_some() => {
                let name_node = Node::scalar(
                    node.span,
                    node.key.clone(),
                    toml::Value::String(name.to_string()),
                );
                Node::table(
                    node.span,
                    node.key.clone(),
                    vec![Entry {
                        name: "name".to_string(),
                        key_span: node.span,
                        node: name_node,
                    }],
                )
            }
            _ => node.clone(),
        }
    }

    /// An entry's sub-grid: a table whose keys hold lists of scalars, directly or in a
    /// nested table (an external method's `args = { lr = [1e-3, 1e-2] }`), stands for every
    /// combination of them; anything else stands for itself.
    fn expand(&mut self, node: &Node) -> Vec<Node> {
        let Kind::Table(entries) = &node.kind else {
            return vec![node.clone()];
        };
        let count = combinations(node);
        if count > u128::from(self.max_runs) {
            self.err(
                node.span,
                &node.key,
                format!(
                    "this entry's lists expand to {count} combinations, more than max_runs = {} \
                     (raise the limit with max_runs = N at the top of the file)",
                    self.max_runs
                ),
            );
            return Vec::new();
        }
        let mut combos: Vec<Vec<Entry>> = vec![Vec::new()];
        for e in entries {
            let options: Vec<Node> = match &e.node.kind {
                Kind::Table(_) => {
                    let nested = self.expand(&e.node);
                    if nested.is_empty() {
                        return Vec::new();
                    }
                    nested
                }
                Kind::Array(items) if is_subgrid(e) => {
                    if items.is_empty() {
                        self.err(
                            e.node.span,
                            &e.node.key,
                            "empty list: give at least one value",
                        );
                        return Vec::new();
                    }
                    items.clone()
                }
                _ => vec![e.node.clone()],
            };
            combos = combos
                .into_iter()
                .flat_map(|combo| {
                    options.iter().map(move |o| {
                        let mut c = combo.clone();
                        c.push(Entry {
                            name: e.name.clone(),
                            key_span: e.key_span,
                            node: o.clone(),
                        });
                        c
                    })
                })
                .collect();
        }
        combos
            .into_iter()
            .map(|entries| Node::table(node.span, node.key.clone(), entries))
            .collect()
    }

    /// Checks the name of a family entry against the library's names.
    fn check_family(&mut self, path: &[String], node: &Node) -> bool {
        let [key] = path else { return true };
        let Some(fam) = family(key) else { return true };
        let Some(entries) = node.entries() else {
            self.expected(
                node,
                &format!(
                    "a {key} name or a table such as {{ name = \"{}\" }}",
                    fam.names[0]
                ),
            );
            return false;
        };
        let Some(name) = entries.iter().find(|e| e.name == "name").map(|e| &e.node) else {
            return true;
        };
        match name.as_str() {
            Some(n) if fam.names.contains(&n) => true,
            Some(n) => {
                self.err(
                    name.span,
                    &name.key,
                    format!(
                        "unknown {key} \"{n}\" (expected one of: {})",
                        fam.names.join(", ")
                    ),
                );
                false
            }
            None => {
                self.expected(name, &format!("a {key} name"));
                false
            }
        }
    }

    /// The entries a list element (or a single value) stands for, checked.
    fn choices(&mut self, path: &[String], node: &Node) -> Vec<Node> {
        let value = self.value(path, node);
        self.expand(&value)
            .into_iter()
            .filter(|n| self.check_family(path, n))
            .collect()
    }

    /// The values a list (each element) or a single value stands for, each expanded and
    /// checked; `None` for an empty list.
    fn values(&mut self, path: &[String], node: &Node) -> Option<Vec<Node>> {
        let items: Vec<&Node> = match &node.kind {
            Kind::Array(items) if items.is_empty() => {
                self.err(node.span, &node.key, "empty list: give at least one value");
                return None;
            }
            Kind::Array(items) => items.iter().collect(),
            _ => vec![node],
        };
        Some(
            items
                .into_iter()
                .flat_map(|item| self.choices(path, item))
                .collect(),
        )
    }
}

mod sections;

#[cfg(test)]
mod tests;
