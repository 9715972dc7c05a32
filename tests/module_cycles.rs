//! No import cycle between the top-level modules of either crate (docs/architecture.md's
//! layering). A top-level module is a file or folder directly under `crates/<crate>/src`; a
//! path `crate::x…` in module a's code is an edge a → x, and so is `super::x` that climbs out
//! of a to the crate root. Comments and `#[cfg(test)]` items are left out (tests may reach
//! anywhere), and `crate::Name` of a name that lib.rs re-exports counts as its module.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// Edges between top-level modules, each with one place it is written (`file:line`).
type Graph = BTreeMap<String, BTreeMap<String, String>>;

/// `text` with comments and the contents of string and character literals blanked, line
/// for line (blanked text becomes spaces, so line numbers stay).
fn blank_literals(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let blank = |c: char| if c == '\n' { '\n' } else { ' ' };
    let at = |i: usize, s: &str| {
        s.chars()
            .enumerate()
            .all(|(k, c)| chars.get(i + k) == Some(&c))
    };
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let after_ident = i > 0 && (chars[i - 1].is_alphanumeric() || chars[i - 1] == '_');
        if at(i, "//") {
            while i < chars.len() && chars[i] != '\n' {
                out.push(' ');
                i += 1;
            }
        } else if at(i, "/*") {
            let mut depth = 0;
            while i < chars.len() {
                if at(i, "/*") {
                    depth += 1;
                    out.push_str("  ");
                    i += 2;
                } else if at(i, "*/") {
                    depth -= 1;
                    out.push_str("  ");
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    out.push(blank(chars[i]));
                    i += 1;
                }
            }
        } else if c == 'r' && !after_ident && (at(i + 1, "\"") || at(i + 1, "#")) {
            // A raw string r"…" or r#"…"#: it ends at a quote followed by as many #.
            let hashes = chars[i + 1..].iter().take_while(|&&h| h == '#').count();
            if chars.get(i + 1 + hashes) != Some(&'"') {
                out.push(c);
                i += 1;
                continue;
            }
            let close: String = std::iter::once('"')
                .chain((0..hashes).map(|_| '#'))
                .collect();
            out.push(' ');
            out.extend((0..hashes).map(|_| ' '));
            out.push('"');
            i += 2 + hashes;
            while i < chars.len() && !at(i, &close) {
                out.push(blank(chars[i]));
                i += 1;
            }
            out.push('"');
            out.extend((0..hashes).map(|_| ' '));
            i += 1 + hashes;
        } else if c == '"' {
            out.push('"');
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                if chars[i] == '\\' {
                    out.push(' ');
                    i += 1;
                }
                if i < chars.len() {
                    out.push(blank(chars[i]));
                    i += 1;
                }
            }
            out.push('"');
            i += 1;
        } else if c == '\'' && (at(i + 1, "\\") || chars.get(i + 2) == Some(&'\'')) {
            // A character literal ('x', '\n', '\u{7f}'), not a lifetime.
            out.push('\'');
            i += 1;
            while i < chars.len() && chars[i] != '\'' {
                if chars[i] == '\\' {
                    out.push(' ');
                    i += 1;
                }
                out.push(' ');
                i += 1;
            }
            out.push('\'');
            i += 1;
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

/// The code of `text` without comments, literals' contents and the items marked
/// `#[cfg(test)]`, line for line.
fn code_only(text: &str) -> String {
    let mut code = blank_literals(text);
    const MARK: &str = "#[cfg(test)]";
    while let Some(start) = code.find(MARK) {
        // The attribute and the item after it: up to its `;` or its closing brace.
        let mut depth = 0usize;
        let mut end = code.len();
        for (k, c) in code[start + MARK.len()..].char_indices() {
            match c {
                '{' => depth += 1,
                '}' if depth == 1 => {
                    end = start + MARK.len() + k + 1;
                    break;
                }
                '}' => depth = depth.saturating_sub(1),
                ';' if depth == 0 => {
                    end = start + MARK.len() + k + 1;
                    break;
                }
                _ => {}
            }
        }
        let blanked: String = code[start..end]
            .chars()
            .map(|c| if c == '\n' { '\n' } else { ' ' })
            .collect();
        code.replace_range(start..end, &blanked);
    }
    code
}

/// The identifier at the start of `s`, if any.
fn ident(s: &str) -> Option<&str> {
    let end = s
        .find(|c: char| !(c.is_alphanumeric() || c == '_'))
        .unwrap_or(s.len());
    (end > 0).then(|| &s[..end])
}

/// The first names of the paths in the group that starts right after `crate::{` in `s`
/// (`crate::{a::X, b, c::{D, E}}` → a, b, c).
fn group_heads(s: &str) -> Vec<&str> {
    let mut heads = Vec::new();
    let mut depth = 1usize;
    let mut item_start = true;
    for (k, c) in s.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    break;
                }
            }
            ',' if depth == 1 => item_start = true,
            c if c.is_whitespace() => {}
            _ if item_start && depth == 1 => {
                heads.extend(ident(&s[k..]));
                item_start = false;
            }
            _ => {}
        }
    }
    heads
}

/// Names that lib.rs re-exports (`pub use module::{Name, …};`), mapped to their module.
fn reexports(lib: &str) -> BTreeMap<String, String> {
    let mut names = BTreeMap::new();
    for statement in code_only(lib).split(';') {
        let Some(path) = statement.trim().strip_prefix("pub use ") else {
            continue;
        };
        let Some((module, rest)) = path.split_once("::") else {
            continue;
        };
        let rest = rest.trim_start_matches('{').trim_end_matches('}');
        for item in rest.split(',') {
            let item = item.trim();
            let name = item.rsplit(" as ").next().unwrap_or(item);
            let name = name.rsplit("::").next().unwrap_or(name).trim();
            if !name.is_empty() && name != "self" {
                names.insert(name.to_string(), module.to_string());
            }
        }
    }
    names
}

/// The import graph between the top-level modules of the crate whose sources are in `src`.
fn graph_of(src: &Path) -> Graph {
    let lib = fs::read_to_string(src.join("lib.rs")).unwrap_or_default();
    let exported = reexports(&lib);
    let mut graph = Graph::new();
    let mut files = Vec::new();
    collect_rs(src, &mut files);
    for file in files {
        let rel = file.strip_prefix(src).unwrap();
        let parts: Vec<String> = rel
            .iter()
            .map(|p| p.to_string_lossy().into_owned())
            .collect();
        let top = parts[0].trim_end_matches(".rs").to_string();
        if parts.len() == 1 && (top == "lib" || top == "main") {
            continue;
        }
        // Module depth below the crate root: `a.rs` and `a/mod.rs` are 1, `a/b.rs` is 2.
        let depth = if parts.last().is_some_and(|p| p == "mod.rs") {
            parts.len() - 1
        } else {
            parts.len()
        };
        let code = code_only(&fs::read_to_string(&file).unwrap());
        let targets = graph.entry(top.clone()).or_default();
        // (byte offset, name) of each path out of the module.
        let mut names = Vec::new();
        for (k, _) in code.match_indices("crate::") {
            let after = &code[k + "crate::".len()..];
            match after.strip_prefix('{') {
                Some(group) => names.extend(group_heads(group).into_iter().map(|n| (k, n))),
                None => names.extend(ident(after).map(|n| (k, n))),
            }
        }
        for (k, _) in code.match_indices("super::") {
            // Only the first `super` of a chain, climbing out of the top-level module.
            if code[..k].ends_with("super::") {
                continue;
            }
            let mut after = &code[k..];
            let mut climbs = 0;
            while let Some(rest) = after.strip_prefix("super::") {
                climbs += 1;
                after = rest;
            }
            if climbs >= depth {
                names.extend(ident(after).map(|n| (k, n)));
            }
        }
        for (k, name) in names {
            let module = exported.get(name).map_or(name, String::as_str);
            if module != top && module != "self" && module != "super" {
                let line = code[..k].matches('\n').count() + 1;
                targets
                    .entry(module.to_string())
                    .or_insert_with(|| format!("{}:{line}", file.display()));
            }
        }
    }
    graph
}

/// Every `.rs` file under `dir` but test files (`tests.rs`, `…_tests.rs`, anything in a
/// `tests/` folder).
fn collect_rs(dir: &Path, files: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if path.is_dir() {
            if name != "tests" {
                collect_rs(&path, files);
            }
        } else if name.ends_with(".rs") && !name.ends_with("tests.rs") {
            files.push(path);
        }
    }
}

/// The strongly connected sets of more than one module (Tarjan), each sorted.
fn cycles(graph: &Graph) -> Vec<Vec<String>> {
    struct Walk<'a> {
        graph: &'a Graph,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on_stack: BTreeSet<&'a str>,
        found: Vec<Vec<String>>,
    }
    impl<'a> Walk<'a> {
        fn visit(&mut self, v: &'a str) {
            let i = self.index.len();
            self.index.insert(v, i);
            self.low.insert(v, i);
            self.stack.push(v);
            self.on_stack.insert(v);
            for w in self.graph.get(v).into_iter().flat_map(|t| t.keys()) {
                let w = w.as_str();
                if !self.index.contains_key(w) {
                    self.visit(w);
                    let low = self.low[v].min(self.low[w]);
                    self.low.insert(v, low);
                } else if self.on_stack.contains(w) {
                    let low = self.low[v].min(self.index[w]);
                    self.low.insert(v, low);
                }
            }
            if self.low[v] == self.index[v] {
                let mut set = Vec::new();
                loop {
                    let w = self.stack.pop().unwrap();
                    self.on_stack.remove(w);
                    set.push(w.to_string());
                    if w == v {
                        break;
                    }
                }
                if set.len() > 1 {
                    set.sort();
                    self.found.push(set);
                }
            }
        }
    }
    let mut walk = Walk {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        found: Vec::new(),
    };
    for v in graph.keys() {
        if !walk.index.contains_key(v.as_str()) {
            walk.visit(v);
        }
    }
    walk.found
}

/// Each cycle with its edges and where they are written; empty when there is none.
fn describe(graph: &Graph) -> String {
    let mut text = String::new();
    for set in cycles(graph) {
        text.push_str(&format!("cycle among {}:\n", set.join(", ")));
        for a in &set {
            for (b, place) in &graph[a] {
                if set.contains(b) {
                    text.push_str(&format!("    {a} -> {b}   ({place})\n"));
                }
            }
        }
    }
    text
}

/// A crate's sources in a temporary folder: (path under src, contents).
fn synthetic(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (path, text) in files {
        let path = dir.path().join(path);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, text).unwrap();
    }
    dir
}

#[test]
fn the_crates_have_no_import_cycle_between_top_level_modules() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap();
    let mut report = String::new();
    for name in ["scorematch", "runner"] {
        let graph = graph_of(&root.join("crates").join(name).join("src"));
        // The scan sees the crate: a few edges every layering keeps.
        let sample = match name {
            "scorematch" => ("train", "engine"),
            _ => ("commands", "sweep"),
        };
        assert!(
            graph
                .get(sample.0)
                .is_some_and(|t| t.contains_key(sample.1)),
            "{name}: no edge {} -> {} found: {graph:?}",
            sample.0,
            sample.1
        );
        let text = describe(&graph);
        if !text.is_empty() {
            report.push_str(&format!("{name}: {text}"));
        }
    }
    assert!(
        report.is_empty(),
        "import cycles (docs/architecture.md gives the layering):\n{report}"
    );
}

#[test]
fn a_cycle_through_a_multi_line_group_is_found_and_tests_and_comments_are_not_edges() {
    let dir = synthetic(&[
        ("lib.rs", "pub mod a;\npub mod b;\npub mod c;\n"),
        ("a.rs", "use crate::b::Thing;\n// crate::c in a comment\n"),
        (
            "b/mod.rs",
            "mod inner;\nconst Q: char = '\"';\nfn id<'a>(x: &'a str) -> &'a str { x }\nuse crate::{\n    c::Other,\n    std_like,\n};\n",
        ),
        ("b/inner.rs", "pub fn f() { super::super::a::g() }\n"),
        (
            "c.rs",
            "pub struct Other;\n#[cfg(test)]\nmod tests {\n    const B: char = '}';\n    use crate::a::X;\n}\nconst S: &str = \"http://crate::a\";\nconst R: &str = r#\"crate::b \" \"#;\n/* crate::a /* nested */ crate::b */\n",
        ),
        ("c/tests.rs", "use crate::b::Y;\n"),
        ("c/more_tests.rs", "use crate::b::Y;\n"),
    ]);
    let graph = graph_of(dir.path());
    assert_eq!(cycles(&graph), [vec!["a".to_string(), "b".to_string()]]);
    assert!(graph["b"]["a"].ends_with("inner.rs:1"), "{graph:?}");
    assert!(graph["b"].contains_key("c"));
    // Comments, strings and tests are not code.
    assert!(!graph["a"].contains_key("c"), "{graph:?}");
    assert!(
        !graph.contains_key("c") || graph["c"].is_empty(),
        "{graph:?}"
    );
    let text = describe(&graph);
    assert!(text.contains("a -> b"), "{text}");
    assert!(text.contains("b -> a"), "{text}");
}

#[test]
fn a_reexported_name_counts_as_its_module_and_a_layered_crate_has_no_cycle() {
    let layered = [
        (
            "lib.rs",
            "pub mod low;\npub mod high;\npub use low::Base;\n",
        ),
        ("low.rs", "pub struct Base;\n"),
        ("high.rs", "use crate::Base;\nuse super::low::Base as B;\n"),
    ];
    let graph = graph_of(synthetic(&layered).path());
    assert!(graph["high"].contains_key("low"), "{graph:?}");
    assert!(cycles(&graph).is_empty());
    assert_eq!(describe(&graph), "");

    let mut looped = layered.to_vec();
    looped[1] = ("low.rs", "pub struct Base;\nfn up() { crate::high::f() }\n");
    let graph = graph_of(synthetic(&looped).path());
    assert_eq!(
        cycles(&graph),
        [vec!["high".to_string(), "low".to_string()]]
    );
}
