//! Sweep files: TOML → checked spec → runs.
//!
//! Reading happens in two stages. [`spec::check`] checks the file's structure (sections,
//! parameter names, lists, family names) and [`plan::plan`] expands the grid and has the
//! library read and validate every run. Both collect every problem with its location; nothing
//! runs unless the whole file is valid.

pub mod extends;
pub mod overrides;
pub mod params;
pub mod plan;
pub mod resolve;
pub mod search;
pub mod size;
pub mod source;
pub mod spec;
pub mod tree;

use std::path::Path;

pub use overrides::Override;
pub use params::Params;
pub use plan::Plan;
pub use source::{Diagnostic, Diagnostics, Sources, Span};

/// A sweep read and checked.
#[derive(Clone, Debug)]
pub struct Loaded {
    /// Its runs.
    pub plan: Plan,
    /// The texts it was read from (the file first).
    pub sources: Sources,
    /// The sweep as run: the file with its bases merged in and the overrides applied.
    pub document: toml::Table,
}

/// A value set from a command-line flag, shown in messages as its label (`--dim 10`).
#[derive(Clone, Debug)]
pub struct FlagValue {
    /// The flag as typed.
    pub label: String,
    /// Where it goes in the sweep file (`defaults.dataset.dim`).
    pub key: String,
    /// The value.
    pub value: toml::Value,
}

/// Reads, overrides and checks the sweep file at `path`. `sets` are `KEY=VALUE` overrides.
pub fn load(path: &Path, sets: &[String]) -> Result<Loaded, Diagnostics> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| {
        let mut s = Sources::default();
        let id = s.add(shown.clone(), "", false);
        Diagnostics(vec![s.diagnostic(
            Span::new(id, 0..0),
            "file",
            format!("cannot read: {e}"),
        )])
    })?;
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "sweep".to_string());
    load_text(&shown, &text, &stem, sets, &[])
}

/// [`load`] for text already in memory, shown in messages as `name`.
pub fn load_str(name: &str, text: &str, sets: &[String]) -> Result<Loaded, Diagnostics> {
    let stem = Path::new(name)
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "sweep".to_string());
    load_text(name, text, &stem, sets, &[])
}

/// Reads a sweep from `text` (shown as `name`), applies `sets` then `flags`, and checks it.
/// `default_name` names the sweep when the text does not.
pub fn load_text(
    name: &str,
    text: &str,
    default_name: &str,
    sets: &[String],
    flags: &[FlagValue],
) -> Result<Loaded, Diagnostics> {
    let mut sources = Sources::default();
    let file = sources.add(name, text, true);
    let root = tree::Node::parse_document(&sources, file, "").map_err(|d| Diagnostics(vec![d]))?;
    let mut root = extends::resolve(root, name, &mut sources).map_err(|d| Diagnostics(vec![d]))?;
    let mut errors = Diagnostics::default();
    let mut all = Vec::new();
    for arg in sets {
        match Override::parse(&mut sources, arg) {
            Ok(o) => all.push(o),
            Err(d) => errors.push(d),
        }
    }
    for f in flags {
        all.push(Override::from_value(
            &mut sources,
            &f.label,
            &f.key,
            f.value.clone(),
        ));
    }
    for o in &all {
        if let Err(d) = o.apply(&mut root, &sources) {
            errors.push(d);
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let document = match root.to_value() {
        toml::Value::Table(t) => t,
        _ => toml::Table::new(),
    };
    let params = Params::new();
    let (root, prune) = search::expand(root, &sources, &params)?;
    let (spec, mut errors) = spec::check(&root, &sources, &params, default_name);
    // Counted before stage two builds a single run.
    if let Some(d) = size::check(&spec, &sources) {
        errors.push(d);
        errors.sort();
        return Err(errors);
    }
    // Values are checked even when the structure is not right, so one pass reports all it
    // can; a missing field there may just be a value stage one already refused.
    match plan::plan(&spec, &sources, &params) {
        Ok(plan) if errors.is_empty() => {
            return search::with_prune(plan, prune, &sources).map(|plan| Loaded {
                plan,
                sources,
                document,
            });
        }
        Ok(_) => {}
        Err(more) if errors.is_empty() => return Err(more),
        Err(more) => errors.extend(
            more.0
                .into_iter()
                .filter(|d| !plan::may_follow_from_dropped_values(d)),
        ),
    }
    errors.sort();
    Err(errors)
}
