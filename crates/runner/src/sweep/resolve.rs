//! Grid expansion: the cartesian product of the axes, and each point's parameters merged
//! over the defaults into a `RunConfig`-shaped tree that still knows where every value came
//! from.

use super::source::Span;
use super::spec::{Axis, Setting};
use super::tree::{Entry, Kind, Node};

/// Every point of the product of `axes`, the first axis varying slowest. No axes: one point.
pub fn product(axes: &[Axis]) -> Vec<Vec<&Setting>> {
    let mut points: Vec<Vec<&Setting>> = vec![Vec::new()];
    for axis in axes {
        points = points
            .into_iter()
            .flat_map(|p| {
                axis.choices.iter().map(move |choice| {
                    let mut p = p.clone();
                    p.extend(choice.iter());
                    p
                })
            })
            .collect();
    }
    points
}

/// The run parameters of one point: `defaults`, then the point's settings in order.
pub fn resolve(defaults: &[Setting], point: &[&Setting], root_span: Span) -> Node {
    let mut root = Node::table(root_span, "", Vec::new());
    for s in defaults.iter().chain(point.iter().copied()) {
        set(&mut root, &s.path, &s.node);
    }
    root
}

/// Puts `value` at `path`, merging into what is there.
fn set(node: &mut Node, path: &[String], value: &Node) {
    let Some((first, rest)) = path.split_first() else {
        merge(node, value);
        return;
    };
    if !matches!(node.kind, Kind::Table(_)) {
        *node = Node::table(value.span, value.key.clone(), Vec::new());
    }
    let Kind::Table(entries) = &mut node.kind else {
        return;
    };
    let pos = match entries.iter().position(|e| &e.name == first) {
        Some(p) => p,
        None => {
            let child = if rest.is_empty() {
                value.clone()
            } else {
                Node::table(value.span, value.key.clone(), Vec::new())
            };
            entries.push(Entry {
                name: first.clone(),
                key_span: value.span,
                node: child,
            });
            if rest.is_empty() {
                return;
            }
            entries.len() - 1
        }
    };
    set(&mut entries[pos].node, rest, value);
}

/// Tables merge key by key, except that a table naming another variant (`name`) replaces the
/// entry whole; any other value replaces what was there.
fn merge(base: &mut Node, over: &Node) {
    match (&mut base.kind, &over.kind) {
        (Kind::Table(b), Kind::Table(o)) if same_variant(b, o) => {
            for e in o {
                match b.iter_mut().find(|x| x.name == e.name) {
                    Some(existing) => {
                        merge(&mut existing.node, &e.node);
                        existing.key_span = e.key_span;
                    }
                    None => b.push(e.clone()),
                }
            }
            base.span = over.span;
            base.key = over.key.clone();
        }
        _ => *base = over.clone(),
    }
}

fn same_variant(a: &[Entry], b: &[Entry]) -> bool {
    let name = |t: &[Entry]| {
        t.iter()
            .find(|e| e.name == "name")
            .map(|e| e.node.to_value())
    };
    match (name(a), name(b)) {
        (Some(x), Some(y)) => x == y,
        _ => true,
    }
}

/// The deepest node along `path` (segments such as `dim` or `components[0]`) and how many
/// segments it matched.
pub fn locate<'a>(root: &'a Node, path: &[&str]) -> (&'a Node, usize) {
    let mut node = root;
    for (i, seg) in path.iter().enumerate() {
        match step(node, seg) {
            Some(child) => node = child,
            None => return (node, i),
        }
    }
    (node, path.len())
}

/// The child `seg` (`key` or `key[i][j]…`) of a node.
fn step<'a>(node: &'a Node, seg: &str) -> Option<&'a Node> {
    let (name, mut rest) = seg.split_at(seg.find('[').unwrap_or(seg.len()));
    let mut node = node.get(name)?;
    while let Some(close) = rest.find(']') {
        let index: usize = rest.get(1..close)?.parse().ok()?;
        node = match &node.kind {
            Kind::Array(items) => items.get(index)?,
            _ => return None,
        };
        rest = &rest[close + 1..];
    }
    Some(node)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sweep::params::Params;
    use crate::sweep::source::Sources;
    use crate::sweep::spec::check;

    fn points(text: &str) -> Vec<toml::Value> {
        let mut s = Sources::default();
        let id = s.add("s.toml", text, true);
        let root = Node::parse_document(&s, id, "").unwrap();
        let (spec, errors) = check(&root, &s, &Params::new(), "t");
        assert!(errors.is_empty(), "{errors}");
        product(&spec.grid)
            .iter()
            .map(|p| resolve(&spec.defaults, p, root.span).to_value())
            .collect()
    }

    #[test]
    fn the_grid_is_a_cartesian_product_first_axis_slowest() {
        let p = points("[grid]\nseed = [0, 1]\nobjective = [\"esm\", \"ism\", \"ssm\"]\n");
        assert_eq!(p.len(), 6);
        let pairs: Vec<(i64, &str)> = p
            .iter()
            .map(|v| {
                (
                    v["seed"].as_integer().unwrap(),
                    v["objective"]["name"].as_str().unwrap(),
                )
            })
            .collect();
        assert_eq!(pairs[..4], [(0, "esm"), (0, "ism"), (0, "ssm"), (1, "esm")]);
    }

    #[test]
    fn zip_pairs_instead_of_crossing() {
        let p = points(
            "[grid]\nseed = [0, 1]\n[[zip]]\ndataset = [{ name = \"gaussian\", dim = 2 }, { name = \"gaussian\", dim = 50 }]\nsteps = [1000, 4000]\n",
        );
        assert_eq!(p.len(), 4);
        for v in &p {
            let dim = v["dataset"]["dim"].as_integer().unwrap();
            let steps = v["train"]["steps"].as_integer().unwrap();
            assert!(
                (dim, steps) == (2, 1000) || (dim, steps) == (50, 4000),
                "{v}"
            );
        }
    }

    #[test]
    fn entries_merge_over_defaults_of_the_same_variant_only() {
        let p = points(
            "[defaults]\nmodel = { name = \"mlp\", hidden = 16 }\nobjective = { name = \"dsm\", sigma = 0.3 }\nsteps = 5\n[grid]\nmodel = [{ name = \"mlp\", depth = 3 }, \"linear\"]\nobjective = [\"dsm\", \"esm\"]\n",
        );
        assert_eq!(p.len(), 4);
        let mlp_dsm = &p[0];
        assert_eq!(mlp_dsm["model"]["hidden"].as_integer(), Some(16));
        assert_eq!(mlp_dsm["model"]["depth"].as_integer(), Some(3));
        assert_eq!(mlp_dsm["objective"]["sigma"].as_float(), Some(0.3));
        assert_eq!(mlp_dsm["train"]["steps"].as_integer(), Some(5));
        let linear_esm = &p[3];
        assert_eq!(linear_esm["model"].as_table().unwrap().len(), 1);
        assert_eq!(linear_esm["objective"].as_table().unwrap().len(), 1);
    }

    #[test]
    fn values_keep_their_origin_after_merging() {
        let mut s = Sources::default();
        let id = s.add(
            "s.toml",
            "[defaults]\nmodel = { name = \"mlp\", activation = \"relu\" }\n[grid]\nmodel = [{ hidden = 8 }]\n",
            true,
        );
        let root = Node::parse_document(&s, id, "").unwrap();
        let (spec, _) = check(&root, &s, &Params::new(), "t");
        let r = resolve(&spec.defaults, &product(&spec.grid)[0], root.span);
        let (act, n) = locate(&r, &["model", "activation"]);
        assert_eq!(
            (act.key.as_str(), n, s.line(act.span)),
            ("defaults.model.activation", 2, 2)
        );
        let (hidden, _) = locate(&r, &["model", "hidden"]);
        assert_eq!(
            (hidden.key.as_str(), s.line(hidden.span)),
            ("grid.model[0].hidden", 4)
        );
        let (model, n) = locate(&r, &["model", "depth"]);
        assert_eq!((model.key.as_str(), n), ("grid.model[0]", 1));
    }

    #[test]
    fn paths_with_indices_reach_list_elements() {
        let mut s = Sources::default();
        let id = s.add(
            "s.toml",
            "[defaults]\ndataset = { name = \"gmm\", components = [\n  { weight = 1.0, mean = [0.0], std = 1.0 },\n  { weight = -1.0, mean = [1.0], std = 1.0 },\n] }\n",
            true,
        );
        let root = Node::parse_document(&s, id, "").unwrap();
        let (spec, _) = check(&root, &s, &Params::new(), "t");
        let r = resolve(&spec.defaults, &[], root.span);
        let (w, n) = locate(&r, &["dataset", "components[1]", "weight"]);
        assert_eq!(
            (w.key.as_str(), n, s.line(w.span)),
            ("defaults.dataset.components[1].weight", 3, 4)
        );
    }
}
