//! Where sweep text comes from (a file, or a command-line override), and diagnostics that
//! point back into it as `file:line: key: message`.

use std::fmt;

/// Identifies one [`Source`] within [`Sources`].
pub type SourceId = usize;

/// One piece of text a sweep is read from.
#[derive(Clone, Debug)]
pub struct Source {
    /// How locations in this source are shown: a file path, or the override as typed.
    pub name: String,
    /// The text itself.
    pub text: String,
    /// Whether locations carry a line number (files do, command-line overrides do not).
    pub has_lines: bool,
}

/// All sources of one sweep: the file first, then each override.
#[derive(Clone, Debug, Default)]
pub struct Sources {
    sources: Vec<Source>,
}

impl Sources {
    /// Adds a source and returns its id.
    pub fn add(
        &mut self,
        name: impl Into<String>,
        text: impl Into<String>,
        has_lines: bool,
    ) -> SourceId {
        self.sources.push(Source {
            name: name.into(),
            text: text.into(),
            has_lines,
        });
        self.sources.len() - 1
    }

    /// The source with id `id`.
    pub fn get(&self, id: SourceId) -> Option<&Source> {
        self.sources.get(id)
    }

    /// The 1-based line of a span (1 for sources without lines).
    pub fn line(&self, span: Span) -> usize {
        match self.get(span.source) {
            Some(s) if s.has_lines => {
                let end = span.start.min(s.text.len());
                s.text.as_bytes()[..end]
                    .iter()
                    .filter(|&&b| b == b'\n')
                    .count()
                    + 1
            }
            _ => 1,
        }
    }

    /// Where a span is, as printed: `file:line`, or the override as typed.
    pub fn location(&self, span: Span) -> String {
        match self.get(span.source) {
            Some(s) if s.has_lines => format!("{}:{}", s.name, self.line(span)),
            Some(s) => s.name.clone(),
            None => "<unknown>".to_string(),
        }
    }

    /// A diagnostic at `span`.
    pub fn diagnostic(
        &self,
        span: Span,
        key: impl Into<String>,
        message: impl Into<String>,
    ) -> Diagnostic {
        Diagnostic {
            location: self.location(span),
            order: (span.source, span.start),
            key: key.into(),
            message: message.into(),
        }
    }
}

/// A byte range within one source.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Span {
    /// Which source.
    pub source: SourceId,
    /// First byte.
    pub start: usize,
    /// One past the last byte.
    pub end: usize,
}

impl Span {
    /// A span of `range` in `source`.
    pub fn new(source: SourceId, range: std::ops::Range<usize>) -> Self {
        Self {
            source,
            start: range.start,
            end: range.end,
        }
    }
}

/// One problem with a sweep, printed as `file:line: key: message`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// `file:line`, or the command-line override it concerns.
    pub location: String,
    /// Position for sorting: source, then byte offset.
    order: (SourceId, usize),
    /// The key in the sweep file (`grid.objective[1]`, `defaults.steps`, …).
    pub key: String,
    /// What is wrong, listing valid choices where there are any.
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}: {}", self.location, self.key, self.message)
    }
}

/// Every problem found in a sweep, in source order, one per line.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl Diagnostics {
    /// Adds a diagnostic unless the same one is already there.
    pub fn push(&mut self, d: Diagnostic) {
        if !self.0.contains(&d) {
            self.0.push(d);
        }
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Sorts by position in the sources (stable, so equal positions keep their order).
    pub fn sort(&mut self) {
        self.0.sort_by_key(|d| d.order);
    }
}

impl Extend<Diagnostic> for Diagnostics {
    fn extend<I: IntoIterator<Item = Diagnostic>>(&mut self, iter: I) {
        for d in iter {
            self.push(d);
        }
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostics {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_map_to_one_based_lines() {
        let mut s = Sources::default();
        let f = s.add("sweep.toml", "a = 1\n\nb = [\n  2,\n]\n", true);
        let text = s.get(f).unwrap().text.clone();
        let at = |needle: &str| {
            let i = text.find(needle).unwrap();
            Span::new(f, i..i + needle.len())
        };
        assert_eq!(s.line(at("a")), 1);
        assert_eq!(s.line(at("b")), 3);
        assert_eq!(s.line(at("2")), 4);
        assert_eq!(s.location(at("2")), "sweep.toml:4");
        let o = s.add("--set grid.seed=[0]", "[0]", false);
        assert_eq!(s.location(Span::new(o, 0..3)), "--set grid.seed=[0]");
        let d = s.diagnostic(at("b"), "grid.b", "empty list");
        assert_eq!(d.to_string(), "sweep.toml:3: grid.b: empty list");
    }

    #[test]
    fn diagnostics_dedupe_and_sort_by_position() {
        let mut s = Sources::default();
        let f = s.add("x.toml", "one\ntwo\nthree\n", true);
        let mut ds = Diagnostics::default();
        ds.push(s.diagnostic(Span::new(f, 8..13), "c", "m"));
        ds.push(s.diagnostic(Span::new(f, 0..3), "a", "m"));
        ds.push(s.diagnostic(Span::new(f, 0..3), "a", "m"));
        ds.sort();
        assert_eq!(ds.to_string(), "x.toml:1: a: m\nx.toml:3: c: m");
    }
}
