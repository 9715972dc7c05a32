//! How a metric is presented, declared next to the metric (in the model-metric registry of
//! [`crate::evaluation`] and the sample-metric registry of this module): the runner makes its
//! `runs.csv` columns, summaries, report tables and figures from these declarations.

/// Which way a metric improves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Better {
    /// Smaller values are better (divergences, distances, times).
    Lower,
    /// Larger values are better (mode coverage, likelihood).
    Higher,
}

/// A metric's column and how tables and figures show it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Presentation {
    /// Column name in `runs.csv`.
    pub name: &'static str,
    /// Dotted path of the value in the run record (`metrics.json`).
    pub path: &'static str,
    /// What the column means (README's column table).
    pub doc: &'static str,
    /// Short name in tables.
    pub label: &'static str,
    /// Long name on figure axes.
    pub axis: &'static str,
    /// Which way the metric improves (`None`: not a quality, e.g. log Z).
    pub better: Option<Better>,
    /// Shown in a sweep's summary.
    pub in_summary: bool,
    /// Shown in the report page's table.
    pub on_page: bool,
    /// Plotted in the report's figures.
    pub plotted: bool,
    /// Whether computing it needs the true data distribution (its exact score, its
    /// log-density or its mixture modes), which real data does not come with.
    pub oracle: bool,
}

/// Where a metric is shown: `[summary, page, plotted]` in a registry line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shown {
    /// In a sweep's summary.
    Summary,
    /// In the report page's table.
    Page,
    /// In the report's figures.
    Plotted,
}

impl Presentation {
    /// A presentation with `shown` turned into its flags (used by the registries' macros).
    #[allow(clippy::too_many_arguments)]
    pub(crate) const fn new(
        name: &'static str,
        path: &'static str,
        doc: &'static str,
        label: &'static str,
        axis: &'static str,
        better: Option<Better>,
        shown: &[Shown],
        oracle: bool,
    ) -> Self {
        let (mut in_summary, mut on_page, mut plotted) = (false, false, false);
        let mut i = 0;
        while i < shown.len() {
            match shown[i] {
                Shown::Summary => in_summary = true,
                Shown::Page => on_page = true,
                Shown::Plotted => plotted = true,
            }
            i += 1;
        }
        Self {
            name,
            path,
            doc,
            label,
            axis,
            better,
            in_summary,
            on_page,
            plotted,
            oracle,
        }
    }
}
