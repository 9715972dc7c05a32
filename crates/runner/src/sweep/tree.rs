//! The sweep file as a tree of values that remember where they were written: the span in
//! their source and their key path in the file (`grid.objective[1].sigma`).

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::source::{Diagnostic, SourceId, Sources, Span};

/// A value of the sweep file with its location.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    /// Where the value is written.
    pub span: Span,
    /// Its key path in the file, e.g. `grid.objective[1]`.
    pub key: String,
    /// The value.
    pub kind: Kind,
}

/// What a [`Node`] holds.
#[derive(Clone, Debug, PartialEq)]
pub enum Kind {
    /// A string, number, boolean or date.
    Scalar(toml::Value),
    /// An array.
    Array(Vec<Node>),
    /// A table, its entries in the order they are written.
    Table(Vec<Entry>),
}

/// One `key = value` of a table.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    /// The key.
    pub name: String,
    /// Where the key is written.
    pub key_span: Span,
    /// The value.
    pub node: Node,
}

/// The key path of `name` inside the table at `parent`.
pub fn child_key(parent: &str, name: &str) -> String {
    if parent.is_empty() {
        name.to_string()
    } else {
        format!("{parent}.{name}")
    }
}

impl Node {
    /// A scalar node.
    pub fn scalar(span: Span, key: impl Into<String>, value: toml::Value) -> Self {
        Self {
            span,
            key: key.into(),
            kind: Kind::Scalar(value),
        }
    }

    /// A table node.
    pub fn table(span: Span, key: impl Into<String>, entries: Vec<Entry>) -> Self {
        Self {
            span,
            key: key.into(),
            kind: Kind::Table(entries),
        }
    }

    /// Parses a TOML document of source `source` into a tree whose keys start at `prefix`.
    pub fn parse_document(
        sources: &Sources,
        source: SourceId,
        prefix: &str,
    ) -> Result<Node, Diagnostic> {
        let text = sources.get(source).map(|s| s.text.as_str()).unwrap_or("");
        match DeTable::parse(text) {
            Ok(table) => {
                let span = table.span();
                Ok(from_de(
                    Spanned::new(span, DeValue::Table(table.into_inner())),
                    source,
                    prefix,
                ))
            }
            Err(e) => Err(syntax_error(sources, source, &e)),
        }
    }

    /// Parses one TOML value (as written after `=`) of source `source`.
    pub fn parse_value(sources: &Sources, source: SourceId, key: &str) -> Result<Node, Diagnostic> {
        let text = sources.get(source).map(|s| s.text.as_str()).unwrap_or("");
        match DeValue::parse(text) {
            Ok(v) => Ok(from_de(v, source, key)),
            Err(e) => Err(syntax_error(sources, source, &e)),
        }
    }

    /// The table's entries, if it is one.
    pub fn entries(&self) -> Option<&[Entry]> {
        match &self.kind {
            Kind::Table(e) => Some(e),
            _ => None,
        }
    }

    /// The entry `name` of a table.
    pub fn get(&self, name: &str) -> Option<&Node> {
        self.entries()?
            .iter()
            .find(|e| e.name == name)
            .map(|e| &e.node)
    }

    /// The string value, if the node is a string.
    pub fn as_str(&self) -> Option<&str> {
        match &self.kind {
            Kind::Scalar(toml::Value::String(s)) => Some(s),
            _ => None,
        }
    }

    /// Whether this is an array whose elements are all scalars (a list of values).
    pub fn is_list_of_scalars(&self) -> bool {
        match &self.kind {
            Kind::Array(items) => items.iter().all(|i| matches!(i.kind, Kind::Scalar(_))),
            _ => false,
        }
    }

    /// The kind of value, in words, for messages.
    pub fn type_name(&self) -> &'static str {
        match &self.kind {
            Kind::Scalar(v) => v.type_str(),
            Kind::Array(_) => "array",
            Kind::Table(_) => "table",
        }
    }

    /// The kind of value with its article (`an array`, `a string`), for messages.
    pub fn described(&self) -> &'static str {
        match self.type_name() {
            "array" => "an array",
            "integer" => "an integer",
            "string" => "a string",
            "float" => "a float",
            "boolean" => "a boolean",
            "datetime" => "a datetime",
            _ => "a table",
        }
    }

    /// The plain TOML value.
    pub fn to_value(&self) -> toml::Value {
        match &self.kind {
            Kind::Scalar(v) => v.clone(),
            Kind::Array(items) => toml::Value::Array(items.iter().map(Node::to_value).collect()),
            Kind::Table(entries) => toml::Value::Table(
                entries
                    .iter()
                    .map(|e| (e.name.clone(), e.node.to_value()))
                    .collect(),
            ),
        }
    }

    /// The same value with every key path re-rooted at `key` (for values moved elsewhere).
    pub fn rekeyed(&self, key: &str) -> Node {
        let kind = match &self.kind {
            Kind::Scalar(v) => Kind::Scalar(v.clone()),
            Kind::Array(items) => Kind::Array(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, n)| n.rekeyed(&format!("{key}[{i}]")))
                    .collect(),
            ),
            Kind::Table(entries) => Kind::Table(
                entries
                    .iter()
                    .map(|e| Entry {
                        name: e.name.clone(),
                        key_span: e.key_span,
                        node: e.node.rekeyed(&child_key(key, &e.name)),
                    })
                    .collect(),
            ),
        };
        Node {
            span: self.span,
            key: key.to_string(),
            kind,
        }
    }
}

fn syntax_error(sources: &Sources, source: SourceId, e: &toml::de::Error) -> Diagnostic {
    let span = Span::new(source, e.span().unwrap_or(0..0));
    sources.diagnostic(span, "syntax", e.message().trim().replace('\n', " "))
}

/// Converts toml's spanned tree, keeping file order (toml sorts keys; spans do not lie).
fn from_de(value: Spanned<DeValue<'_>>, source: SourceId, key: &str) -> Node {
    let span = Span::new(source, value.span());
    let kind = match value.into_inner() {
        DeValue::Table(table) => {
            let mut entries: Vec<Entry> = table
                .into_iter()
                .map(|(k, v)| {
                    let name = k.get_ref().to_string();
                    let node = from_de(v, source, &child_key(key, &name));
                    Entry {
                        key_span: Span::new(source, k.span()),
                        name,
                        node,
                    }
                })
                .collect();
            entries.sort_by_key(|e| (e.key_span.start, e.node.span.start));
            Kind::Table(entries)
        }
        DeValue::Array(items) => Kind::Array(
            items
                .into_iter()
                .enumerate()
                .map(|(i, v)| from_de(v, source, &format!("{key}[{i}]")))
                .collect(),
        ),
        scalar => Kind::Scalar(scalar_value(scalar, span)),
    };
    Node {
        span,
        key: key.to_string(),
        kind,
    }
}

/// A scalar as a plain TOML value, converted by toml's own deserializer.
fn scalar_value(value: DeValue<'_>, span: Span) -> toml::Value {
    use serde::Deserialize as _;
    let fallback = match &value {
        DeValue::String(s) => toml::Value::String(s.to_string()),
        DeValue::Boolean(b) => toml::Value::Boolean(*b),
        DeValue::Datetime(d) => toml::Value::Datetime(*d),
        DeValue::Integer(i) => toml::Value::String(i.as_str().to_string()),
        DeValue::Float(f) => toml::Value::String(f.as_str().to_string()),
        DeValue::Array(_) | DeValue::Table(_) => toml::Value::String(String::new()),
    };
    let de = toml::de::ValueDeserializer::from(Spanned::new(span.start..span.end, value));
    toml::Value::deserialize(de).unwrap_or(fallback)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> (Sources, Node) {
        let mut s = Sources::default();
        let id = s.add("t.toml", text, true);
        let node = Node::parse_document(&s, id, "").unwrap();
        (s, node)
    }

    #[test]
    fn keys_keep_file_order_and_paths() {
        let (s, root) = parse("zeta = 1\nalpha = [1, { b = 2.5 }]\n[grid]\nseed = [0]\n");
        let names: Vec<_> = root
            .entries()
            .unwrap()
            .iter()
            .map(|e| e.name.as_str())
            .collect();
        assert_eq!(names, ["zeta", "alpha", "grid"]);
        let b = match &root.get("alpha").unwrap().kind {
            Kind::Array(items) => items[1].get("b").unwrap().clone(),
            _ => panic!(),
        };
        assert_eq!(b.key, "alpha[1].b");
        assert_eq!(b.to_value(), toml::Value::Float(2.5));
        let seed = root.get("grid").unwrap().get("seed").unwrap();
        assert_eq!(seed.key, "grid.seed");
        assert_eq!(s.line(seed.span), 4);
        assert!(seed.is_list_of_scalars());
    }

    #[test]
    fn syntax_errors_point_at_their_line() {
        let mut s = Sources::default();
        let id = s.add("bad.toml", "a = 1\nb = [1,\nc = 3\n", true);
        let d = Node::parse_document(&s, id, "").unwrap_err();
        assert!(d.location.starts_with("bad.toml:"), "{d}");
        assert_eq!(d.key, "syntax");
    }

    #[test]
    fn integers_and_floats_convert_exactly() {
        let (_, root) = parse("a = 0x10\nb = 1_000\nc = -2.5e-3\nd = inf\n");
        assert_eq!(root.get("a").unwrap().to_value(), toml::Value::Integer(16));
        assert_eq!(
            root.get("b").unwrap().to_value(),
            toml::Value::Integer(1000)
        );
        assert_eq!(
            root.get("c").unwrap().to_value(),
            toml::Value::Float(-2.5e-3)
        );
        assert_eq!(
            root.get("d").unwrap().to_value(),
            toml::Value::Float(f64::INFINITY)
        );
    }
}
