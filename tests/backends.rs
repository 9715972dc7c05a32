//! Backends end to end: which engine each run used (the `kernels` column), and a wgpu sweep
//! refused before anything runs where wgpu cannot run.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Sandbox, TINY, ok, read_csv, text};

#[test]
fn the_kernels_column_says_which_engine_ran_each_run() {
    let s = Sandbox::new();
    // flex runs on the fused kernels unless told otherwise; ndarray (when compiled in) and
    // any `kernels = "reference"` run on burn's autodiff.
    let ndarray = if cfg!(feature = "ndarray") {
        "[[include]]\nbackend = \"ndarray\"\nobjective = [\"esm\", \"ism\"]\n"
    } else {
        ""
    };
    s.write(
        "b.toml",
        &format!(
            "name = \"b\"\n{TINY}dataset = \"8gaussians\"\n[grid]\nkernels = [\"auto\", \"reference\"]\nobjective = [\"esm\", \"ism\"]\n{ndarray}"
        ),
    );
    ok(&s.runner(&["sweep", "b.toml", "--no-report"]));
    let rows = read_csv(&s.path("results/b/runs.csv"));
    let mut seen: Vec<String> = rows
        .iter()
        .map(|r| {
            assert_eq!(r["status"], "ok", "{r:?}");
            format!("{} {} {}", r["backend"], r["objective"], r["kernels"])
        })
        .collect();
    seen.sort();
    let mut expected = vec![
        "flex esm fused",
        "flex esm reference",
        "flex ism fused",
        "flex ism reference",
    ];
    if cfg!(feature = "ndarray") {
        expected.extend(["ndarray esm reference", "ndarray ism reference"]);
    }
    assert_eq!(seen, expected);
}

/// Without the `wgpu` feature the sweep names what to rebuild with; with it, on a machine
/// whose Vulkan driver is hidden (as on a fresh machine), wgpu finds at most Mesa's OpenGL
/// fallback, and the device check refuses it. Either way: one line at the line that names
/// the backend, exit 2, nothing run.
#[test]
fn a_wgpu_sweep_where_wgpu_cannot_run_is_refused_before_anything_runs() {
    let s = Sandbox::new();
    s.write(
        "g.toml",
        &format!(
            "name = \"g\"\n{TINY}backend = \"wgpu\"\n[grid]\ndataset = [\"8gaussians\"]\nobjective = [\"esm\"]\n"
        ),
    );
    for cmd in ["validate", "sweep", "run"] {
        let args: &[&str] = match cmd {
            "run" => &[
                "run",
                "--dataset",
                "8gaussians",
                "--objective",
                "esm",
                "--backend",
                "wgpu",
            ],
            _ => &[cmd, "g.toml"],
        };
        let out = s
            .command(args)
            .env("VK_ICD_FILENAMES", "/nonexistent.json")
            .output()
            .unwrap();
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{cmd}: {stderr}");
        let location = if cmd == "run" {
            "--backend wgpu: defaults.backend"
        } else {
            "g.toml:10: defaults.backend"
        };
        if cfg!(feature = "wgpu") {
            let lines: Vec<&str> = stderr.lines().collect();
            assert_eq!(lines.len(), 2, "{cmd}: {stderr}");
            let prefix = format!("{location}: backend `wgpu` is not available: ");
            assert!(lines[0].starts_with(&prefix), "{cmd}: {stderr}");
            assert!(
                lines[0].ends_with(
                    "(install a Vulkan driver (e.g. Debian's mesa-vulkan-drivers, a CPU \
                     fallback) or use flex or ndarray)"
                ),
                "{cmd}: {stderr}"
            );
            assert_eq!(lines[1], "1 error; nothing was run");
        } else {
            let available = if cfg!(feature = "ndarray") {
                "flex, ndarray"
            } else {
                "flex"
            };
            assert_eq!(
                stderr,
                format!(
                    "{location}: wgpu is not compiled into this build (rebuild with \
                     `--features wgpu`; available: {available})\n1 error; nothing was run\n"
                ),
                "{cmd}"
            );
        }
        assert!(!s.path("results").exists(), "{cmd} wrote results");
    }
}
