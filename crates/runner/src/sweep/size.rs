//! The size of a sweep, counted before anything is expanded. A typo such as eight axes of a
//! hundred values (10^16 runs) is refused at once, with the count and the line of its
//! largest axis, instead of being built until memory runs out.

use super::source::{Diagnostic, Sources};
use super::spec::{Axis, SweepSpec};

/// Runs a sweep may expand to unless its file raises the limit (`max_runs = N` at the top
/// level, or `--set max_runs=N`).
pub const DEFAULT_MAX_RUNS: u64 = 100_000;

/// The product of `factors`, saturating instead of overflowing.
pub fn product(factors: impl IntoIterator<Item = usize>) -> u128 {
    factors
        .into_iter()
        .fold(1u128, |acc, f| acc.saturating_mul(f as u128))
}

/// Points of the grid and the includes, before `[[exclude]]` and de-duplication: an upper
/// bound on the runs, counted without building them.
pub fn points(spec: &SweepSpec) -> u128 {
    let grid = if spec.grid.is_empty() && !spec.include.is_empty() {
        0
    } else {
        product(spec.grid.iter().map(|a| a.choices.len()))
    };
    spec.include.iter().fold(grid, |sum, axes| {
        sum.saturating_add(product(axes.iter().map(|a| a.choices.len())))
    })
}

/// The refusal of `spec` if it has more points than its `max_runs`, located at its largest
/// axis.
pub fn check(spec: &SweepSpec, sources: &Sources) -> Option<Diagnostic> {
    let count = points(spec);
    if count <= u128::from(spec.max_runs) {
        return None;
    }
    let largest = spec
        .grid
        .iter()
        .chain(spec.include.iter().flatten())
        .min_by_key(|a| std::cmp::Reverse(a.choices.len()))?; // the first of the largest
    let factors = |axes: &[Axis]| {
        let f: Vec<String> = axes.iter().map(|a| a.choices.len().to_string()).collect();
        f.join(" × ")
    };
    let mut terms = vec![factors(&spec.grid)];
    terms.extend(spec.include.iter().map(|axes| factors(axes)));
    Some(sources.diagnostic(
        largest.span,
        &largest.key,
        format!(
            "the sweep expands to {} runs ({}), more than max_runs = {}; nothing was expanded \
             (raise the limit with max_runs = N at the top of the file, or --set max_runs=N)",
            shown(count),
            terms.join(" + "),
            spec.max_runs
        ),
    ))
}

/// A count as digits, or "more than 10^38" when it saturated.
fn shown(count: u128) -> String {
    if count == u128::MAX {
        "more than 10^38".to_string()
    } else {
        count.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::super::load_str;

    fn errors(text: &str) -> Vec<String> {
        match load_str("s.toml", text, &[]) {
            Ok(loaded) => panic!("accepted {} runs", loaded.plan.jobs.len()),
            Err(d) => d.0.iter().map(ToString::to_string).collect(),
        }
    }

    #[test]
    fn eight_axes_of_a_hundred_values_are_refused_with_their_count() {
        let list = |offset: usize| {
            let values: Vec<String> = (0..100).map(|i| (i + offset).to_string()).collect();
            format!("[{}]", values.join(", "))
        };
        let keys = [
            "seed",
            "steps",
            "batch",
            "eval_samples",
            "pool_size",
            "log_every",
            "eval_seed",
            "lr",
        ];
        let mut text =
            String::from("[defaults]\ndataset = \"8gaussians\"\nobjective = \"esm\"\n[grid]\n");
        for key in keys {
            let values = list(1);
            let values = if key == "lr" {
                values.replace(", ", ".0, ")
            } else {
                values
            };
            text.push_str(&format!("{key} = {values}\n"));
        }
        let errors = errors(&text);
        assert_eq!(
            errors,
            [format!(
                "s.toml:5: grid.seed: the sweep expands to 10000000000000000 runs ({}), more \
                 than max_runs = 100000; nothing was expanded (raise the limit with max_runs = N \
                 at the top of the file, or --set max_runs=N)",
                ["100"; 8].join(" × ")
            )]
        );
    }

    #[test]
    fn the_limit_is_the_file_s_own_and_counts_includes() {
        let grid = "[defaults]\ndataset = \"8gaussians\"\nobjective = \"esm\"\n[grid]\nseed = [0, 1, 2]\n[[include]]\nseed = [7, 8]\n";
        let accepted = load_str("s.toml", &format!("max_runs = 5\n{grid}"), &[]).unwrap();
        assert_eq!(accepted.plan.jobs.len(), 5);
        assert_eq!(
            errors(&format!("max_runs = 4\n{grid}")),
            [
                "s.toml:6: grid.seed: the sweep expands to 5 runs (3 + 2), more than max_runs = 4; \
              nothing was expanded (raise the limit with max_runs = N at the top of the file, or \
              --set max_runs=N)"
            ]
        );
        let raised = load_str(
            "s.toml",
            &format!("max_runs = 4\n{grid}"),
            &["max_runs=5".into()],
        );
        assert_eq!(raised.unwrap().plan.jobs.len(), 5);
        assert_eq!(
            errors(&format!("max_runs = 0\n{grid}")),
            ["s.toml:1: max_runs: must be at least 1, got 0"]
        );
    }

    #[test]
    fn an_entry_whose_lists_explode_is_refused_before_they_are_built() {
        let list: Vec<String> = (1..=1000).map(|i| format!("{}.0", i)).collect();
        let list = format!("[{}]", list.join(", "));
        let text = format!(
            "[defaults]\ndataset = \"8gaussians\"\n[grid]\nobjective = [{{ name = \"dsm-multi\", sigma_min = {list}, sigma_max = {list} }}]\n"
        );
        assert_eq!(
            errors(&text),
            [
                "s.toml:4: grid.objective[0]: this entry's lists expand to 1000000 combinations, \
              more than max_runs = 100000 (raise the limit with max_runs = N at the top of the \
              file)"
            ]
        );
    }
}
