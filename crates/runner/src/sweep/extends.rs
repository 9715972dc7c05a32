//! Composing sweep files: `extends = "base.toml"` (or a list of files) at the top of a sweep
//! reads the base files first and lays the sweep over them.
//!
//! The order, documented in README: bases in the order listed (each itself resolved first,
//! so chains work), then the file itself; a later value overrides an earlier one.
//! - Tables (`[defaults]`, `[grid]`, inline tables such as `model = { … }`) merge key by
//!   key, recursively; a family entry whose `name` differs replaces the earlier one whole
//!   (`model = { name = "energy" }` does not inherit the MLP's `hidden`), as grid entries do.
//! - Everything else — scalars, lists, `[[zip]]`, `[[include]]`, `[[exclude]]` — is replaced.
//! - `name` is never inherited: a sweep without one is named after its own file.
//!
//! Base paths are relative to the file that names them. Every value keeps the file and line
//! it was written at, so errors point at the base or the child, wherever the value came from;
//! a cycle is refused at the `extends` line that closes it.

use std::path::{Path, PathBuf};

use super::source::{Diagnostic, Sources};
use super::tree::{Entry, Kind, Node};

/// The key that names base files.
pub const EXTENDS: &str = "extends";

/// `root` (read from the file `name`) laid over its base files, with `extends` removed.
pub fn resolve(root: Node, name: &str, sources: &mut Sources) -> Result<Node, Diagnostic> {
    let mut chain = vec![identity(Path::new(name))];
    expand(root, name, sources, &mut chain)
}

/// A file's identity for cycle detection: its canonical path where it exists.
fn identity(path: &Path) -> PathBuf {
    path.canonicalize().unwrap_or_else(|_| path.to_path_buf())
}

fn expand(
    mut root: Node,
    name: &str,
    sources: &mut Sources,
    chain: &mut Vec<PathBuf>,
) -> Result<Node, Diagnostic> {
    let Some(extends) = take_entry(&mut root, EXTENDS) else {
        return Ok(root);
    };
    let files = match &extends.node.kind {
        Kind::Scalar(toml::Value::String(s)) => vec![(s.clone(), extends.node.span)],
        Kind::Array(items) => items
            .iter()
            .map(|n| match &n.kind {
                Kind::Scalar(toml::Value::String(s)) => Ok((s.clone(), n.span)),
                _ => Err(n.span),
            })
            .collect::<Result<_, _>>()
            .map_err(|span| sources.diagnostic(span, EXTENDS, "must be a file name (a string)"))?,
        _ => {
            return Err(sources.diagnostic(
                extends.node.span,
                EXTENDS,
                "must be a file name or a list of file names",
            ));
        }
    };
    let dir = Path::new(name).parent().unwrap_or(Path::new(""));
    let mut merged: Option<Node> = None;
    for (file, span) in files {
        let path = dir.join(&file);
        let shown = path.display().to_string();
        let id = identity(&path);
        if chain.contains(&id) {
            let cycle: Vec<String> = chain
                .iter()
                .chain([&id])
                .map(|p| {
                    p.file_name()
                        .map_or(shown.clone(), |f| f.to_string_lossy().into_owned())
                })
                .collect();
            return Err(sources.diagnostic(
                span,
                EXTENDS,
                format!("a cycle: {}", cycle.join(" → ")),
            ));
        }
        let text = std::fs::read_to_string(&path)
            .map_err(|e| sources.diagnostic(span, EXTENDS, format!("cannot read {shown}: {e}")))?;
        let source = sources.add(shown.clone(), text, true);
        let mut base = Node::parse_document(sources, source, "")?;
        chain.push(id);
        base = expand(base, &shown, sources, chain)?;
        chain.pop();
        take_entry(&mut base, "name");
        merged = Some(match merged {
            Some(earlier) => merge(earlier, base),
            None => base,
        });
    }
    Ok(match merged {
        Some(base) => merge(base, root),
        None => root,
    })
}

/// Removes and returns the top-level entry `key` of a table node.
fn take_entry(node: &mut Node, key: &str) -> Option<Entry> {
    let Kind::Table(entries) = &mut node.kind else {
        return None;
    };
    let at = entries.iter().position(|e| e.name == key)?;
    Some(entries.remove(at))
}

/// The `name` of a family entry (`{ name = "mlp", … }`).
fn family_name(node: &Node) -> Option<&str> {
    node.get("name").and_then(Node::as_str)
}

/// `over` laid over `base` (see the module documentation).
fn merge(base: Node, over: Node) -> Node {
    let renamed = matches!(
        (family_name(&base), family_name(&over)),
        (Some(a), Some(b)) if a != b
    );
    match (base.kind, over.kind) {
        (Kind::Table(mut entries), Kind::Table(over_entries)) if !renamed => {
            for entry in over_entries {
                match entries.iter().position(|e| e.name == entry.name) {
                    Some(at) => {
                        let earlier = entries.remove(at);
                        entries.insert(
                            at,
                            Entry {
                                node: merge(earlier.node, entry.node),
                                ..entry
                            },
                        );
                    }
                    None => entries.push(entry),
                }
            }
            Node {
                span: over.span,
                key: over.key,
                kind: Kind::Table(entries),
            }
        }
        (_, kind) => Node {
            span: over.span,
            key: over.key,
            kind,
        },
    }
}

#[cfg(test)]
mod tests;
