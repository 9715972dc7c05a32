//! `index.html`: the summary table and every figure with its caption, all links relative so
//! the page reads offline (open the file in a browser).

use std::fmt::Write as _;

use super::Summary;
use super::markdown::table;

/// The sections of the page, in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Section {
    /// Metrics against σ.
    Sigma,
    /// Metrics against the dimension.
    Dim,
    /// Metrics against wall time.
    Time,
    /// Sample metrics against a sampler parameter the sweep varies.
    Sampler,
    /// Score fields and samples of 2-D runs.
    Fields,
    /// Loss curves.
    Losses,
}

impl Section {
    /// The section's heading.
    pub fn heading(self) -> &'static str {
        match self {
            Section::Sigma => "Metrics against the noise level σ",
            Section::Dim => "Metrics against the dimension",
            Section::Time => "Metrics against wall time",
            Section::Sampler => "Sample quality against the sampler's settings",
            Section::Fields => "Score fields and samples (2-D data)",
            Section::Losses => "Training loss",
        }
    }
}

/// A figure written to the report: `<stem>.png` and `<stem>.svg`.
#[derive(Clone, Debug, PartialEq)]
pub struct Made {
    /// File name without extension.
    pub stem: String,
    /// Where it goes on the page.
    pub section: Section,
    /// Short title (image alt text).
    pub title: String,
    /// What it shows and from which runs.
    pub caption: String,
}

const STYLE: &str = "body{font-family:sans-serif;max-width:1300px;margin:1em auto;padding:0 1em;\
color:#222}table{border-collapse:collapse;font-size:13px}th,td{border:1px solid #ccc;\
padding:3px 6px;text-align:right}th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}\
figure{margin:1.2em 0}figure img{max-width:100%;border:1px solid #ddd}\
figcaption{font-size:14px;color:#444;max-width:1000px}a{color:#333}.missing{color:#a00}";

/// Marks the page with how many figures loaded (`data-figures-loaded="k/n"` on `<body>`)
/// and flags those that did not.
const SCRIPT: &str = "window.addEventListener('load',function(){var imgs=[].slice.call(\
document.images);var ok=imgs.filter(function(i){return i.complete&&i.naturalWidth>0});\
document.body.setAttribute('data-figures-loaded',ok.length+'/'+imgs.length);\
imgs.forEach(function(i){if(!(i.naturalWidth>0)){var p=document.createElement('p');\
p.className='missing';p.textContent='figure missing: '+i.getAttribute('src');\
i.parentNode.appendChild(p);}});});";

/// Escapes text for HTML.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The page; `best` is `runner best`'s table (header first), when there is one.
pub fn page(
    title: &str,
    summary: &Summary,
    figures: &[Made],
    best: Option<&[Vec<String>]>,
) -> String {
    let mut h = String::new();
    let t = escape(title);
    let runs: usize = summary.groups.iter().map(|g| g.runs).sum();
    let count = |f: fn(&super::Group) -> usize| summary.groups.iter().map(f).sum::<usize>();
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>{t} — scorematch report</title><style>{STYLE}</style></head>\n<body>\n\
         <h1>{t}</h1>\n<p>{runs} runs in {} configurations: {} ok, {} diverged, {} failed{}. \
         Data: <a href=\"../runs.csv\">runs.csv</a> (one row per run), \
         <a href=\"../summary.csv\">summary.csv</a> and <a href=\"../summary.md\">summary.md</a> \
         (per configuration); each run's files are in <code>../runs/&lt;run_id&gt;/</code>. \
         Click a figure for its SVG.</p>\n",
        summary.groups.len(),
        count(|g| g.ok),
        count(|g| g.diverged),
        count(|g| g.failed),
        super::markdown::pruned_words(count(|g| g.pruned))
    );
    let mut sections: Vec<Section> = figures.iter().map(|m| m.section).collect();
    sections.dedup();
    if !sections.is_empty() {
        h.push_str("<p>Figures: ");
        let links: Vec<String> = sections
            .iter()
            .map(|s| format!("<a href=\"#{s:?}\">{}</a>", escape(s.heading())))
            .collect();
        h.push_str(&links.join(" · "));
        h.push_str("</p>\n");
    }
    h.push_str(
        "<h2 id=\"summary\">Summary</h2>\n<p>Metrics: mean ± sd (n) over the ok runs (seeds) \
         of each configuration.</p>\n<table>\n<tr>",
    );
    let (header, rows) = table(summary, |c| c.on_page);
    for c in &header {
        let _ = write!(h, "<th>{}</th>", escape(c));
    }
    h.push_str("</tr>\n");
    for row in rows {
        h.push_str("<tr>");
        for c in row {
            let _ = write!(h, "<td>{}</td>", escape(&c));
        }
        h.push_str("</tr>\n");
    }
    h.push_str("</table>\n");
    if let Some(rows) = best.filter(|r| r.len() > 1) {
        h.push_str(
            "<h2 id=\"best\">Best configurations</h2>\n<p>From <code>runner best</code>: each \
             group's configuration with the best mean of the metric it was selected by, its \
             metrics as mean ± sd (n) over seeds (see <a href=\"../best.md\">best.md</a>).</p>\n<table>\n",
        );
        for (i, row) in rows.iter().enumerate() {
            let cell = if i == 0 { "th" } else { "td" };
            h.push_str("<tr>");
            for c in row {
                let _ = write!(h, "<{cell}>{}</{cell}>", escape(c));
            }
            h.push_str("</tr>\n");
        }
        h.push_str("</table>\n");
    }
    let mut current = None;
    for m in figures {
        if current != Some(m.section) {
            current = Some(m.section);
            let _ = writeln!(
                h,
                "<h2 id=\"{:?}\">{}</h2>",
                m.section,
                escape(m.section.heading())
            );
        }
        let stem = escape(&m.stem);
        let _ = writeln!(
            h,
            "<figure id=\"{stem}\"><a href=\"{stem}.svg\"><img src=\"{stem}.png\" alt=\"{}\"></a>\
             <figcaption>{}</figcaption></figure>",
            escape(&m.title),
            escape(&m.caption)
        );
    }
    if figures.is_empty() {
        h.push_str("<p>No figures: no run has finished with values to plot.</p>\n");
    }
    let _ = write!(h, "<script>{SCRIPT}</script>\n</body></html>\n");
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_links_every_figure_relatively_with_its_caption() {
        let summary = Summary {
            params: vec!["objective".into()],
            metrics: vec!["fisher".into()],
            groups: vec![],
        };
        let made = Made {
            stem: "fisher_vs_sigma_8gaussians".into(),
            section: Section::Sigma,
            title: "Fisher <σ>".into(),
            caption: "from 3 runs & more".into(),
        };
        let page = page("t", &summary, &[made], None);
        assert!(page.contains(
            "<a href=\"fisher_vs_sigma_8gaussians.svg\"><img src=\"fisher_vs_sigma_8gaussians.png\" alt=\"Fisher &lt;σ&gt;\"></a>"
        ));
        assert!(page.contains("<figcaption>from 3 runs &amp; more</figcaption>"));
        assert!(page.contains("<h2 id=\"Sigma\">"));
        assert!(!page.contains("file://") && !page.contains("src=\"/"));
    }
}
