//! `runner plot` end to end: a tiny sweep over σ and objectives, then Fisher against σ by
//! objective on log axes, and a clear error for an unknown column.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;

use common::{Sandbox, TINY, ok, text};

/// A σ grid on the shared tiny training settings.
fn sweep() -> String {
    format!(
        "name = \"p\"\n{TINY}[grid]\ndataset = [\"8gaussians\"]\n\
         objective = [\"esm\", {{ name = \"dsm\", sigma = [0.03, 0.1, 0.5] }}]\nseed = [0, 1]\n"
    )
}

/// The contents of the SVG's `<text>` elements.
fn texts(svg: &str) -> BTreeSet<String> {
    svg.split("<text")
        .skip(1)
        .filter_map(|t| {
            Some(
                t.split_once('>')?
                    .1
                    .split("</text>")
                    .next()?
                    .trim()
                    .to_string(),
            )
        })
        .collect()
}

#[test]
fn plot_draws_a_column_against_another_and_names_unknown_columns() {
    let s = Sandbox::new();
    let file = s.write("p.toml", &sweep());
    ok(&s.runner(&["sweep", file.to_str().unwrap(), "--no-report"]));
    let args = [
        "plot",
        "results/p",
        "--x",
        "sigma",
        "--y",
        "fisher",
        "--hue",
        "objective",
        "--logx",
        "--logy",
    ];
    let out = s.runner(&args);
    ok(&out);
    let stem = "results/p/plots/fisher_vs_sigma_by_objective_logx_logy";
    let stdout = text(&out.stdout);
    for ext in ["svg", "png"] {
        assert!(stdout.contains(&format!("wrote {stem}.{ext}")), "{stdout}");
        assert!(s.path(&format!("{stem}.{ext}")).is_file(), "{stem}.{ext}");
    }
    let svg = std::fs::read_to_string(s.path(&format!("{stem}.svg"))).unwrap();
    let texts = texts(&svg);
    // Axis labels from the column registry, the legend's title and entries (esm has no σ:
    // a dashed reference), and ticks at powers of ten only: σ from 0.03 to 0.5 spans
    // 10⁻² … 10⁰.
    for want in [
        "noise level σ",
        "Fisher divergence to p",
        "objective",
        "dsm",
        "esm (no sigma)",
        "10⁻²",
        "10⁻¹",
        "10⁰",
    ] {
        assert!(
            texts.contains(want),
            "{want} not in the SVG's texts {texts:?}"
        );
    }
    let decimal: Vec<&String> = texts.iter().filter(|t| t.parse::<f64>().is_ok()).collect();
    assert!(
        decimal.is_empty(),
        "ticks between powers of ten: {decimal:?}"
    );
    // --out picks the files' path.
    let out = s.runner(&[
        "plot",
        "results/p",
        "--x",
        "objective",
        "--y",
        "fisher",
        "--out",
        "fig/by_objective",
    ]);
    ok(&out);
    assert!(s.path("fig/by_objective.svg").is_file() && s.path("fig/by_objective.png").is_file());
    // An unknown column: exit 2, one line naming it and the close names.
    let bad = s.runner(&["plot", "results/p", "--x", "sigma", "--y", "fishr"]);
    assert_eq!(bad.status.code(), Some(2), "{}", text(&bad.stderr));
    let err = text(&bad.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(
        err.contains("--y fishr")
            && err.contains("has no column \"fishr\"")
            && err.contains("close names: fisher"),
        "{err}"
    );
}
