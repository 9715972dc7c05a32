//! Stage one, section by section: `[defaults]`, `[grid]`, `[[zip]]`, `[[include]]` and
//! `[[exclude]]`.

use super::{Axis, Checker, Condition, Rule, Setting};
use crate::sweep::tree::{Entry, Kind, Node};

impl Checker<'_> {
    pub(super) fn defaults(&mut self, entries: &[Entry]) -> Vec<Setting> {
        let mut settings = Vec::new();
        for e in entries {
            let Some(path) = self.param(e) else { continue };
            let node = self.value(&path, &e.node);
            // A list inside a table is a value there (`sample_metrics = { metrics = ["mmd"] }`);
            // the library's reading of it says where a single value was wanted.
            let lists: Vec<&Node> = match &node.kind {
                Kind::Array(_) if node.is_list_of_scalars() => vec![&node],
                _ => Vec::new(),
            };
            if !lists.is_empty() {
                for l in lists {
                    self.err(
                        l.span,
                        &l.key,
                        "[defaults] holds one value per parameter; lists of values go under [grid]",
                    );
                }
                continue;
            }
            if self.check_family(&path, &node) {
                settings.push(Setting { path, node });
            }
        }
        settings
    }

    pub(super) fn note_varying(&mut self, path: &[String], node: &Node, axis: &str) -> bool {
        if let Some(first) = self.varying.get(path) {
            let first = first.clone();
            self.err(
                node.span,
                &node.key,
                format!(
                    "{} already varies in {first}; a parameter varies in one place",
                    path.join(".")
                ),
            );
            return false;
        }
        self.varying.insert(path.to_vec(), axis.to_string());
        true
    }

    pub(super) fn grid(&mut self, entries: &[Entry]) -> Vec<Axis> {
        let mut axes = Vec::new();
        for e in entries {
            let Some(path) = self.param(e) else { continue };
            let node = &e.node;
            match &node.kind {
                Kind::Scalar(v) => {
                    self.err(
                        node.span,
                        &node.key,
                        format!("an axis is a list of values (write {} = [{v}])", e.name),
                    );
                    continue;
                }
                Kind::Array(items) if items.is_empty() => {
                    self.err(
                        node.span,
                        &node.key,
                        "empty list: an axis needs at least one value",
                    );
                    continue;
                }
                _ => {}
            }
            if !self.note_varying(&path, node, &node.key) {
                continue;
            }
            if let Some(values) = self.values(&path, node) {
                axes.push(Axis::of(&node.key, node.span, &path, values));
            }
        }
        axes
    }

    pub(super) fn zip(&mut self, table: &Node, key: &str) -> Option<Axis> {
        let entries = table.entries()?;
        if entries.is_empty() {
            self.err(
                table.span,
                key,
                "empty [[zip]]: give the lists that vary together",
            );
            return None;
        }
        let mut columns: Vec<(Vec<String>, &Node, &[Node])> = Vec::new();
        let mut ok = true;
        for e in entries {
            let Some(path) = self.param(e) else {
                ok = false;
                continue;
            };
            match &e.node.kind {
                Kind::Array(items) if !items.is_empty() => {
                    ok &= self.note_varying(&path, &e.node, key);
                    columns.push((path, &e.node, items));
                }
                _ => {
                    self.err(
                        e.node.span,
                        &e.node.key,
                        "a zipped parameter is a non-empty list of values",
                    );
                    ok = false;
                }
            }
        }
        if let Some((_, first, first_items)) = columns.first() {
            let n = first_items.len();
            for (_, node, items) in &columns[1..] {
                if items.len() != n {
                    self.err(
                        node.span,
                        &node.key,
                        format!(
                            "has {} values but {} has {n}: zipped lists have equal lengths",
                            items.len(),
                            first.key
                        ),
                    );
                    ok = false;
                }
            }
        }
        if !ok {
            return None;
        }
        let n = columns.first().map_or(0, |c| c.2.len());
        let mut choices = Vec::new();
        for i in 0..n {
            let mut combos: Vec<Vec<Setting>> = vec![Vec::new()];
            for (path, _, items) in &columns {
                let options = self.choices(path, &items[i]);
                combos = combos
                    .into_iter()
                    .flat_map(|c| {
                        options.iter().map(move |o| {
                            let mut c = c.clone();
                            c.push(Setting {
                                path: path.clone(),
                                node: o.clone(),
                            });
                            c
                        })
                    })
                    .collect();
            }
            choices.extend(combos);
        }
        Some(Axis {
            key: key.to_string(),
            span: table.span,
            choices,
        })
    }

    pub(super) fn include(&mut self, table: &Node) -> Vec<Axis> {
        let entries = table.entries().unwrap_or_default();
        if entries.is_empty() {
            self.err(
                table.span,
                &table.key,
                "empty [[include]]: give the parameters of the runs to add",
            );
        }
        let mut axes = Vec::new();
        for e in entries {
            let Some(path) = self.param(e) else { continue };
            if let Some(values) = self.values(&path, &e.node) {
                axes.push(Axis::of(&e.node.key, e.node.span, &path, values));
            }
        }
        axes
    }

    pub(super) fn rule(&mut self, table: &Node, key: &str) -> Option<Rule> {
        let entries = table.entries()?;
        if entries.is_empty() {
            self.err(
                table.span,
                key,
                "empty [[exclude]]: give the parameters of the runs to drop",
            );
            return None;
        }
        let mut conditions = Vec::new();
        for e in entries {
            let Some(path) = self.param(e) else { continue };
            if let Some(alternatives) = self.values(&path, &e.node) {
                conditions.push(Condition { path, alternatives });
            }
        }
        Some(Rule {
            key: key.to_string(),
            span: table.span,
            conditions,
        })
    }
}
