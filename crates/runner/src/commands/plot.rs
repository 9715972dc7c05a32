//! `runner plot`: one column of `runs.csv` against another (see
//! [`crate::report::table_plot`]).

use std::process::ExitCode;

use anyhow::Result;

use super::{BAD_INPUT, read_runs};
use crate::cli::PlotArgs;
use crate::report::table_plot::{PlotSpec, figure, write_figure};
use crate::store::RUNS_CSV;

/// The folder of a results directory that figures go to by default.
const PLOTS_DIR: &str = "plots";

/// Draws the figure asked for and prints the paths written; exit 2 on an unknown column or
/// nothing to draw.
pub fn plot(args: PlotArgs) -> Result<ExitCode> {
    let table = match read_runs(&args.dir) {
        Ok(t) => t,
        Err(code) => return Ok(code),
    };
    let csv = args.dir.join(RUNS_CSV);
    let spec = PlotSpec {
        x: args.x,
        y: args.y,
        hue: args.hue,
        facet: args.facet,
        logx: args.logx,
        logy: args.logy,
    };
    for (flag, name) in spec.columns() {
        if table.index(name).is_none() {
            let close = close_names(name, &table.header);
            let hint = if close.is_empty() {
                "no column has a close name (see its header line)".to_string()
            } else {
                format!("close names: {}", close.join(", "))
            };
            eprintln!(
                "{flag} {name}: {} has no column \"{name}\"; {hint}",
                csv.display()
            );
            return Ok(ExitCode::from(BAD_INPUT));
        }
    }
    let plotted = match figure(&table, &spec) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("{}: {e:#}", csv.display());
            return Ok(ExitCode::from(BAD_INPUT));
        }
    };
    for w in &plotted.warnings {
        eprintln!("warning: {w}");
    }
    let base = args
        .out
        .unwrap_or_else(|| args.dir.join(PLOTS_DIR).join(spec.stem()));
    for path in write_figure(&plotted.plot, &base)? {
        println!("wrote {}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}

/// The names in `names` close to `name` (one contains the other, or at most a third of its
/// letters differ), closest first, at most five.
fn close_names<'a>(name: &str, names: &'a [String]) -> Vec<&'a str> {
    let wanted = name.to_lowercase();
    let mut scored: Vec<(usize, &str)> = names
        .iter()
        .filter_map(|n| {
            let lower = n.to_lowercase();
            let d = edit_distance(&wanted, &lower);
            let contains = lower.contains(&wanted) || wanted.contains(&lower);
            (contains || d <= (wanted.chars().count() / 3).max(1)).then_some((d, n.as_str()))
        })
        .collect();
    scored.sort();
    scored.into_iter().take(5).map(|(_, n)| n).collect()
}

/// Levenshtein distance between `a` and `b` (characters).
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let replaced = diagonal + usize::from(ca != *cb);
            diagonal = row[j + 1];
            row[j + 1] = replaced.min(row[j] + 1).min(diagonal + 1);
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_names_are_misspellings_and_containing_names() {
        let names: Vec<String> = ["sigma", "sigma_max", "seed", "fisher", "fisher_sigma"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(close_names("sgma", &names), ["sigma"]);
        assert_eq!(close_names("fisher", &names), ["fisher", "fisher_sigma"]);
        assert_eq!(close_names("fishr", &names), ["fisher"]);
        assert!(close_names("zzzzzz", &names).is_empty());
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
    }
}
