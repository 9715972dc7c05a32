//! `--set KEY=VALUE`: replaces (or adds) one value of the sweep file before it is checked,
//! so overrides are checked exactly like the file itself.

use super::source::{Diagnostic, Sources, Span};
use super::tree::{Entry, Kind, Node, child_key};

/// One step of an override's key path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Segment {
    /// A table key.
    Key(String),
    /// An array index.
    Index(usize),
}

/// A value to put at a key path of the sweep file.
#[derive(Clone, Debug)]
pub struct Override {
    /// Where: `defaults.steps`, `grid.objective[0].sigma`.
    pub path: Vec<Segment>,
    /// The value, located in its own source (the override as typed).
    pub value: Node,
}

/// Renders a key path as written in the file.
pub fn path_string(path: &[Segment]) -> String {
    let mut s = String::new();
    for seg in path {
        match seg {
            Segment::Key(k) => s = child_key(&s, k),
            Segment::Index(i) => s.push_str(&format!("[{i}]")),
        }
    }
    s
}

/// Parses a key path such as `grid.objective[1].sigma`.
pub fn parse_path(key: &str) -> Result<Vec<Segment>, String> {
    let mut path = Vec::new();
    for part in key.split('.') {
        let (name, mut rest) = match part.find('[') {
            Some(i) => (&part[..i], &part[i..]),
            None => (part, ""),
        };
        if name.is_empty() {
            return Err(format!(
                "`{key}` is not a key path (e.g. defaults.steps or grid.seed)"
            ));
        }
        path.push(Segment::Key(name.to_string()));
        while !rest.is_empty() {
            let close = rest
                .find(']')
                .ok_or_else(|| format!("unclosed `[` in `{key}`"))?;
            let index = rest[1..close]
                .parse::<usize>()
                .map_err(|_| format!("`{}` is not an array index in `{key}`", &rest[1..close]))?;
            path.push(Segment::Index(index));
            rest = &rest[close + 1..];
            if !rest.is_empty() && !rest.starts_with('[') {
                return Err(format!("unexpected `{rest}` in `{key}`"));
            }
        }
    }
    Ok(path)
}

impl Override {
    /// Parses `KEY=VALUE` as given to `--set`; VALUE is a TOML value (`200`, `[0, 1]`,
    /// `"ndarray"`, `{ name = "dsm" }`), and a bare word that is not one is taken as a string.
    pub fn parse(sources: &mut Sources, arg: &str) -> Result<Override, Diagnostic> {
        let label = format!("--set {arg}");
        let Some((key, text)) = arg.split_once('=') else {
            let id = sources.add(label, arg, false);
            return Err(sources.diagnostic(
                Span::new(id, 0..0),
                arg,
                "expected KEY=VALUE (e.g. defaults.steps=200)",
            ));
        };
        let key = key.trim();
        let text = text.trim();
        let id = sources.add(label, text, false);
        let path = parse_path(key).map_err(|m| sources.diagnostic(Span::new(id, 0..0), key, m))?;
        let key_string = path_string(&path);
        let value = match Node::parse_value(sources, id, &key_string) {
            Ok(node) => node,
            Err(_) => Node::scalar(
                Span::new(id, 0..text.len()),
                key_string,
                toml::Value::String(text.to_string()),
            ),
        };
        Ok(Override { path, value })
    }

    /// An override from a typed value, shown in messages as `label` (e.g. `--dim 10`).
    pub fn from_value(sources: &mut Sources, label: &str, key: &str, value: toml::Value) -> Self {
        let id = sources.add(label, "", false);
        let path = parse_path(key).unwrap_or_else(|_| vec![Segment::Key(key.to_string())]);
        let key_string = path_string(&path);
        Override {
            value: node_from_value(value, Span::new(id, 0..0), &key_string),
            path,
        }
    }

    /// Puts the value in place in `root`, creating tables on the way.
    pub fn apply(&self, root: &mut Node, sources: &Sources) -> Result<(), Diagnostic> {
        let span = self.value.span;
        let full = path_string(&self.path);
        let fail = |msg: String| sources.diagnostic(span, full.clone(), msg);
        let mut node = root;
        for (i, seg) in self.path.iter().enumerate() {
            let last = i + 1 == self.path.len();
            let here = path_string(&self.path[..=i]);
            let described = node.described();
            node = match (seg, &mut node.kind) {
                (Segment::Key(k), Kind::Table(entries)) => {
                    let pos = match entries.iter().position(|e| &e.name == k) {
                        Some(p) => p,
                        None => {
                            entries.push(Entry {
                                name: k.clone(),
                                key_span: span,
                                node: Node::table(span, here.clone(), Vec::new()),
                            });
                            entries.len() - 1
                        }
                    };
                    &mut entries[pos].node
                }
                (Segment::Index(idx), Kind::Array(items)) => {
                    let len = items.len();
                    items.get_mut(*idx).ok_or_else(|| {
                        fail(format!(
                            "index {idx} is out of range (the list has {len} values)"
                        ))
                    })?
                }
                (Segment::Key(_), _) => {
                    return Err(fail(format!(
                        "`{}` is {}, not a table",
                        path_string(&self.path[..i]),
                        described
                    )));
                }
                (Segment::Index(_), _) => {
                    return Err(fail(format!(
                        "`{}` is {}, not a list",
                        path_string(&self.path[..i]),
                        described
                    )));
                }
            };
            if last {
                *node = self.value.rekeyed(&here);
            }
        }
        Ok(())
    }
}

/// A tree node for a plain value, every part located at `span`.
pub fn node_from_value(value: toml::Value, span: Span, key: &str) -> Node {
    let kind = match value {
        toml::Value::Array(items) => Kind::Array(
            items
                .into_iter()
                .enumerate()
                .map(|(i, v)| node_from_value(v, span, &format!("{key}[{i}]")))
                .collect(),
        ),
        toml::Value::Table(t) => Kind::Table(
            t.into_iter()
                .map(|(k, v)| Entry {
                    node: node_from_value(v, span, &child_key(key, &k)),
                    name: k,
                    key_span: span,
                })
                .collect(),
        ),
        scalar => Kind::Scalar(scalar),
    };
    Node {
        span,
        key: key.to_string(),
        kind,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(text: &str) -> (Sources, Node) {
        let mut s = Sources::default();
        let id = s.add("s.toml", text, true);
        let root = Node::parse_document(&s, id, "").unwrap();
        (s, root)
    }

    #[test]
    fn paths_parse_keys_and_indices() {
        assert_eq!(
            parse_path("grid.objective[1].sigma").unwrap(),
            vec![
                Segment::Key("grid".into()),
                Segment::Key("objective".into()),
                Segment::Index(1),
                Segment::Key("sigma".into()),
            ]
        );
        assert_eq!(
            path_string(&parse_path("zip[0].steps").unwrap()),
            "zip[0].steps"
        );
        assert!(parse_path("grid..seed").is_err());
        assert!(parse_path("grid.seed[x]").is_err());
    }

    #[test]
    fn set_replaces_adds_and_parses_toml_values() {
        let (mut s, mut root) = doc("[defaults]\nsteps = 2000\n[grid]\nseed = [0, 1, 2]\n");
        for arg in [
            "defaults.steps=200",
            "grid.seed=[7]",
            "defaults.backend=ndarray",
            "defaults.model.hidden=16",
        ] {
            Override::parse(&mut s, arg)
                .unwrap()
                .apply(&mut root, &s)
                .unwrap();
        }
        let v = root.to_value();
        assert_eq!(v["defaults"]["steps"].as_integer(), Some(200));
        assert_eq!(v["grid"]["seed"].as_array().unwrap().len(), 1);
        assert_eq!(v["defaults"]["backend"].as_str(), Some("ndarray"));
        assert_eq!(v["defaults"]["model"]["hidden"].as_integer(), Some(16));
        let seed = root.get("grid").unwrap().get("seed").unwrap();
        assert_eq!(s.location(seed.span), "--set grid.seed=[7]");
        match &seed.kind {
            Kind::Array(items) => assert_eq!(items[0].key, "grid.seed[0]"),
            _ => panic!(),
        }
    }

    #[test]
    fn set_errors_name_the_key() {
        let (mut s, mut root) = doc("[grid]\nseed = [0]\n");
        let e = Override::parse(&mut s, "grid.seed[3]=1")
            .unwrap()
            .apply(&mut root, &s)
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "--set grid.seed[3]=1: grid.seed[3]: index 3 is out of range (the list has 1 values)"
        );
        let e = Override::parse(&mut s, "grid.seed.x=1")
            .unwrap()
            .apply(&mut root, &s)
            .unwrap_err();
        assert_eq!(e.message, "`grid.seed` is an array, not a table");
        assert!(Override::parse(&mut s, "nokey").is_err());
    }
}
