//! Tests that need a system tool (Chromium, Slurm, a Vulkan adapter) run where it is
//! installed, skip visibly where it is not, and fail under CI, where `.ci/run` installs every
//! tool first (scripts/setup.sh): a CI run that silently tested less would be a green lie.
//!
//! Shared by the runner's end-to-end tests (`mod common`) and the library's wgpu test
//! (included by path).

use std::io::Write as _;

/// Whether missing tools are failures: under `.ci/run` (which sets `SCOREMATCH_CI=1`) or any
/// CI service that sets `CI` (to anything but empty, `0` or `false`).
pub fn strict() -> bool {
    let set = |key: &str| {
        std::env::var(key)
            .is_ok_and(|v| !v.is_empty() && v != "0" && !v.eq_ignore_ascii_case("false"))
    };
    set("SCOREMATCH_CI") || set("CI")
}

/// Reports that `test` cannot run because `why`, and returns so the caller can return.
///
/// Under CI this panics. Elsewhere it writes one `SKIPPED` line straight to the process's
/// stderr: libtest captures only the `print!` family, so the line shows in `cargo test`'s
/// output without `--nocapture`.
pub fn skip(test: &str, why: &str) {
    assert!(
        !strict(),
        "{test}: {why}; under CI every tool must be installed (scripts/setup.sh)"
    );
    let _ = writeln!(
        std::io::stderr().lock(),
        "SKIPPED {test}: {why} (scripts/setup.sh installs it; under CI this fails)"
    );
}
