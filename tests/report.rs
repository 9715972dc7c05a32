//! End-to-end tests of the report (`runner report`, the end of `runner sweep`): its files,
//! its figures, and the page as headless Chromium renders it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A tiny sweep over σ, dimension, objectives and seeds, with a sampler: every kind of figure.
const SWEEP: &str = r#"
name = "tiny_report"

[defaults]
steps = 20
batch = 32
eval_samples = 200
pool_size = 512
log_every = 5
model = { name = "mlp", hidden = 16 }
sampler = { name = "langevin", steps = 10 }

[defaults.sample_metrics]
samples = 100
reference_samples = 100

[grid]
dataset = ["8gaussians", { name = "gaussian", dim = [2, 3] }]
objective = ["esm", { name = "dsm", sigma = [0.1, 0.5] }]
seed = [0, 1]
"#;

fn runner(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_runner"))
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn ok(out: &Output) {
    assert!(
        out.status.success(),
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        text(&out.stdout),
        text(&out.stderr)
    );
}

/// Runs the sweep into `<tmp>/results/tiny_report` with `extra` flags.
fn sweep(extra: &[&str]) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("tiny.toml"), SWEEP).unwrap();
    let mut args = vec!["sweep", "tiny.toml"];
    args.extend(extra);
    ok(&runner(tmp.path(), &args));
    let out = tmp.path().join("results/tiny_report");
    (tmp, out)
}

/// An RGB or RGBA PNG as (width, height, RGB pixels).
fn decode(path: &Path) -> (u32, u32, Vec<[u8; 3]>) {
    let file = std::io::BufReader::new(std::fs::File::open(path).unwrap());
    let mut reader = png::Decoder::new(file).read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    let channels = match info.color_type {
        png::ColorType::Rgb => 3,
        png::ColorType::Rgba => 4,
        other => panic!("{}: unexpected colour type {other:?}", path.display()),
    };
    let pixels = buf[..info.buffer_size()]
        .chunks_exact(channels)
        .map(|p| [p[0], p[1], p[2]])
        .collect();
    (info.width, info.height, pixels)
}

/// Pixels that are clearly coloured (not white, grey or black): plotted series.
fn coloured(pixels: &[[u8; 3]]) -> usize {
    pixels
        .iter()
        .filter(|p| p.iter().max().unwrap() - p.iter().min().unwrap() > 60)
        .count()
}

/// Pixels that are not near-white.
fn inked(pixels: &[[u8; 3]]) -> usize {
    pixels.iter().filter(|p| p.iter().any(|&c| c < 200)).count()
}

fn files(dir: &Path) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

/// The `src="…"` targets of the page's images.
fn image_sources(html: &str) -> Vec<String> {
    html.split("<img src=\"")
        .skip(1)
        .map(|s| s.split('"').next().unwrap().to_string())
        .collect()
}

#[test]
fn a_sweep_writes_every_figure_and_a_page_that_links_them() {
    let (_tmp, out) = sweep(&[]);
    let report = out.join("report");
    let names = files(&report);
    let mut expected = vec!["index.html".to_string()];
    for stem in [
        "fisher_vs_sigma_8gaussians",
        "fisher_vs_sigma_gaussian",
        "fisher_sigma_vs_sigma_8gaussians",
        "sample_mmd_vs_sigma_8gaussians",
        "mode_coverage_vs_sigma_8gaussians",
        "fisher_vs_dim_gaussian",
        "sample_mmd_vs_dim_gaussian",
        "fisher_vs_train_s_8gaussians",
        "fisher_vs_train_s_gaussian",
        "loss_8gaussians",
        "loss_gaussian",
    ] {
        expected.push(format!("{stem}.png"));
        expected.push(format!("{stem}.svg"));
    }
    for e in &expected {
        assert!(names.contains(e), "missing {e} in {names:?}");
    }
    // One score-field figure per objective and 2-D data set: the 3-D runs have none.
    let fields: Vec<&String> = names
        .iter()
        .filter(|n| n.starts_with("field_") && n.ends_with(".png"))
        .collect();
    assert_eq!(fields.len(), 4, "{fields:?}");
    for (dataset, objective) in [
        ("8gaussians", "esm"),
        ("8gaussians", "dsm"),
        ("gaussian", "dsm"),
    ] {
        let prefix = format!("field_{dataset}_{objective}_");
        assert!(
            fields.iter().any(|f| f.starts_with(&prefix)),
            "{prefix}: {fields:?}"
        );
    }
    // Every PNG decodes, has its figure's size and is drawn on, with coloured series.
    for name in names.iter().filter(|n| n.ends_with(".png")) {
        let (w, h, pixels) = decode(&report.join(name));
        assert!(w >= 400 && h >= 300, "{name}: {w}×{h}");
        let inked = inked(&pixels) as f64 / pixels.len() as f64;
        assert!(inked > 0.01, "{name}: only {inked:.4} of the pixels drawn");
        assert!(coloured(&pixels) > 50, "{name}: no coloured series");
        let svg = std::fs::read_to_string(report.join(name.replace(".png", ".svg"))).unwrap();
        assert!(
            svg.starts_with("<svg") && svg.contains("<text"),
            "{name}: svg"
        );
    }
    // The page shows every PNG by a relative link, each with a caption naming its runs.
    let html = std::fs::read_to_string(report.join("index.html")).unwrap();
    let sources: BTreeSet<String> = image_sources(&html).into_iter().collect();
    let pngs: BTreeSet<String> = names
        .iter()
        .filter(|n| n.ends_with(".png"))
        .cloned()
        .collect();
    assert_eq!(sources, pngs);
    assert_eq!(html.matches("<figcaption>").count(), pngs.len());
    assert!(
        html.contains("from 6 ok runs in 3 configurations"),
        "{html}"
    );
    assert!(html.contains("href=\"../runs.csv\""));
    assert!(html.contains("<th>objective</th>") && html.contains("<td>dsm</td>"));
    // The 2-D runs keep their score field and samples; the 3-D runs keep neither.
    let runs = std::fs::read_to_string(out.join("runs.csv")).unwrap();
    let mut r = csv::Reader::from_reader(runs.as_bytes());
    let header = r.headers().unwrap().clone();
    let col = |n: &str| header.iter().position(|h| h == n).unwrap();
    let mut two_d = 0;
    for rec in r.records() {
        let rec = rec.unwrap();
        let dir = out.join("runs").join(&rec[col("run_id")]);
        let is_2d = &rec[col("dim")] == "2";
        two_d += usize::from(is_2d);
        assert_eq!(dir.join("field.json").is_file(), is_2d, "{}", dir.display());
        assert_eq!(
            dir.join("samples.csv").is_file(),
            is_2d,
            "{}",
            dir.display()
        );
    }
    assert_eq!(two_d, 12);
    assert_fields_show_the_best_runs(&out, &names);
    assert_every_series_is_drawn(&report.join("fisher_vs_sigma_8gaussians.svg"));
}

/// For each 2-D data set and objective the field figure shows the run with the lowest Fisher
/// divergence (README, Report).
fn assert_fields_show_the_best_runs(out: &Path, names: &BTreeSet<String>) {
    let mut r = csv::Reader::from_path(out.join("runs.csv")).unwrap();
    let header = r.headers().unwrap().clone();
    let col = |n: &str| header.iter().position(|h| h == n).unwrap();
    let mut best: std::collections::BTreeMap<(String, String), (f64, String)> = Default::default();
    for rec in r.records() {
        let rec = rec.unwrap();
        if &rec[col("dim")] != "2" {
            continue;
        }
        let fisher: f64 = rec[col("fisher")].parse().unwrap();
        let key = (
            rec[col("dataset")].to_string(),
            rec[col("objective")].to_string(),
        );
        let entry = best.entry(key).or_insert((f64::INFINITY, String::new()));
        if fisher < entry.0 {
            *entry = (fisher, rec[col("run_id")].to_string());
        }
    }
    assert_eq!(best.len(), 4);
    for ((dataset, objective), (_, id)) in best {
        let name = format!("field_{dataset}_{objective}_{}.png", &id[..10]);
        assert!(names.contains(&name), "{name} not in {names:?}");
    }
}

/// One element of an SVG file: its tag and attributes.
struct Element {
    tag: String,
    attrs: std::collections::BTreeMap<String, String>,
}

impl Element {
    fn attr(&self, key: &str) -> &str {
        self.attrs.get(key).map_or("", String::as_str)
    }
}

/// The `<polyline>`, `<line>` and `<circle>` elements of `svg`.
fn shapes(svg: &str) -> Vec<Element> {
    svg.split('<')
        .filter_map(|el| {
            let (tag, rest) = el.split_once(' ')?;
            if !matches!(tag, "polyline" | "line" | "circle") {
                return None;
            }
            let attrs = rest
                .split("\" ")
                .filter_map(|kv| {
                    let (k, v) = kv.trim().split_once("=\"")?;
                    // The last attribute ends the element: `"/>`.
                    let v = v.trim_end().trim_end_matches('>').trim_end_matches('/');
                    Some((k.to_string(), v.trim_end_matches('"').to_string()))
                })
                .collect();
            Some(Element {
                tag: tag.to_string(),
                attrs,
            })
        })
        .collect()
}

/// DSM's Fisher against σ on 8gaussians (σ = 0.1 and 0.5, two seeds each) with ESM as a
/// dashed reference: the series' line, its points and their error bars, and the reference's
/// dashes and its ±1 sd band are all in the SVG, in their series' colours.
fn assert_every_series_is_drawn(path: &Path) {
    let svg = std::fs::read_to_string(path).unwrap();
    let shapes = shapes(&svg);
    let (dsm, esm) = ("#1F77B4", "#FF7F0E"); // the palette's first two colours
    let count = |f: &dyn Fn(&Element) -> bool| shapes.iter().filter(|e| f(e)).count();
    // DSM: one line through both points (plus its legend sample), a dot per point.
    let lines: Vec<&Element> = shapes
        .iter()
        .filter(|e| e.tag == "polyline" && e.attr("stroke") == dsm && e.attr("stroke-width") == "2")
        .collect();
    assert_eq!(lines.len(), 2, "{}: dsm lines", path.display());
    assert!(
        lines.iter().any(|e| {
            let xs: BTreeSet<&str> = e
                .attr("points")
                .split_whitespace()
                .map(|p| p.split(',').next().unwrap())
                .collect();
            xs.len() == 2
        }),
        "{}: no dsm line joins two σ",
        path.display()
    );
    // A dot per point and the legend's marker.
    assert_eq!(
        count(&|e| e.tag == "circle" && e.attr("fill") == dsm),
        3,
        "{}: dsm points",
        path.display()
    );
    // An error bar per point: a vertical stroke of non-zero length and two caps.
    let bars = count(&|e| {
        e.tag == "line"
            && e.attr("stroke") == dsm
            && e.attr("x1") == e.attr("x2")
            && e.attr("y1") != e.attr("y2")
    });
    let caps =
        count(&|e| e.tag == "line" && e.attr("stroke") == dsm && e.attr("y1") == e.attr("y2"));
    assert_eq!((bars, caps), (2, 4), "{}: dsm error bars", path.display());
    // ESM: a dashed horizontal line across the plot (many short segments at one height) and
    // the fainter dashes of its ±1 sd band.
    let dashes: Vec<&Element> = shapes
        .iter()
        .filter(|e| e.tag == "polyline" && e.attr("stroke") == esm && e.attr("stroke-width") == "2")
        .collect();
    assert!(
        dashes.len() > 20,
        "{}: {} esm dashes",
        path.display(),
        dashes.len()
    );
    let heights: BTreeSet<&str> = dashes
        .iter()
        .map(|e| {
            e.attr("points")
                .split_whitespace()
                .next()
                .unwrap()
                .split(',')
                .nth(1)
                .unwrap()
        })
        .collect();
    assert!(
        heights.len() <= 2,
        "{}: esm dashes at {heights:?}",
        path.display()
    ); // + legend
    assert!(
        count(&|e| e.attr("stroke") == esm && e.attr("opacity") == "0.7") > 20,
        "{}: no sd band for esm",
        path.display()
    );
}

#[test]
fn no_report_skips_the_figures_and_report_draws_them_for_a_chosen_run() {
    let (_tmp, out) = sweep(&["--no-report"]);
    assert!(out.join("summary.md").is_file());
    assert!(!out.join("report").exists());
    let runs = std::fs::read_to_string(out.join("runs.csv")).unwrap();
    let mut r = csv::Reader::from_reader(runs.as_bytes());
    let header = r.headers().unwrap().clone();
    let col = |n: &str| header.iter().position(|h| h == n).unwrap();
    let recs: Vec<csv::StringRecord> = r.records().map(|r| r.unwrap()).collect();
    let pick = |dim: &str| {
        recs.iter()
            .find(|r| &r[col("dim")] == dim && &r[col("objective")] == "dsm")
            .map(|r| r[col("run_id")].to_string())
            .unwrap()
    };
    let (flat, deep) = (pick("2"), pick("3"));
    let dir = out.to_str().unwrap();
    let report = runner(Path::new("."), &["report", dir, "--run", &flat[..12]]);
    ok(&report);
    assert!(text(&report.stdout).contains("report/index.html"));
    let fields: Vec<String> = files(&out.join("report"))
        .into_iter()
        .filter(|n| n.starts_with("field_") && n.ends_with(".png"))
        .collect();
    assert_eq!(fields.len(), 1, "{fields:?}");
    assert!(fields[0].contains(&flat[..10]), "{fields:?} {flat}");
    // A run without a score field, or an unknown one, is a clear error.
    let bad = runner(Path::new("."), &["report", dir, "--run", &deep]);
    assert!(!bad.status.success());
    assert!(
        text(&bad.stderr).contains("has no field.json"),
        "{}",
        text(&bad.stderr)
    );
    let unknown = runner(Path::new("."), &["report", dir, "--run", "zzzz"]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(
        text(&unknown.stderr).contains(&format!("no run zzzz in {dir}")),
        "{}",
        text(&unknown.stderr)
    );
}

/// Debian's `chromium` (scripts/setup.sh installs it) or another name for it.
fn chromium() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    [
        "chromium",
        "chromium-browser",
        "google-chrome",
        "google-chrome-stable",
    ]
    .iter()
    .flat_map(|name| std::env::split_paths(&path).map(move |d| d.join(name)))
    .find(|p| p.is_file())
}

fn headless(browser: &Path, profile: &Path, args: &[&str]) -> Output {
    let out = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--hide-scrollbars",
            "--virtual-time-budget=10000",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "chromium failed: {:?}\n{}",
        out.status.code(),
        text(&out.stderr)
    );
    out
}

#[test]
fn the_page_renders_its_figures_in_headless_chromium() {
    let Some(browser) = chromium() else {
        common::tools::skip(
            "the_page_renders_its_figures_in_headless_chromium",
            "no chromium on PATH (Debian's `chromium` package)",
        );
        return;
    };
    let (tmp, out) = sweep(&[]);
    let index = out.join("report/index.html").canonicalize().unwrap();
    let url = format!("file://{}", index.display());
    let profile = tmp.path().join("chromium-profile");
    let pngs = files(&out.join("report"))
        .into_iter()
        .filter(|n| n.ends_with(".png"))
        .count();
    // The page's script marks how many images loaded with a non-zero natural width.
    let dom = headless(&browser, &profile, &["--dump-dom", &url]);
    let dom = text(&dom.stdout);
    let mark = format!("data-figures-loaded=\"{pngs}/{pngs}\"");
    assert!(
        dom.contains(&mark),
        "expected {mark} in the rendered page:\n{dom}"
    );
    assert!(!dom.contains("<p class=\"missing\">"));
    // The screenshot shows the figures: plotted series are the page's only coloured pixels.
    let shot = tmp.path().join("page.png");
    headless(
        &browser,
        &profile,
        &[
            &format!("--screenshot={}", shot.display()),
            "--window-size=1300,2600",
            &url,
        ],
    );
    let (w, h, pixels) = decode(&shot);
    assert_eq!((w, h), (1300, 2600));
    let inked = inked(&pixels) as f64 / pixels.len() as f64;
    assert!(
        inked > 0.02,
        "the screenshot is nearly blank ({inked:.4} drawn)"
    );
    let coloured = coloured(&pixels);
    assert!(
        coloured > 5000,
        "no figures visible: {coloured} coloured pixels"
    );
}

/// A 2-D energy run's field figure adds the learned density: its contours in their own colour,
/// from the log density kept in field.json.
#[test]
fn an_energy_run_draws_its_learned_density() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(
        tmp.path().join("e.toml"),
        "name = \"e\"\n[defaults]\nsteps = 1500\nbatch = 64\neval_samples = 200\npool_size = 512\n\
         dataset = \"8gaussians\"\nobjective = \"esm\"\nmodel = { name = \"energy\", hidden = 32 }\n",
    )
    .unwrap();
    ok(&runner(tmp.path(), &["sweep", "e.toml"]));
    let out = tmp.path().join("results/e");
    let report = out.join("report");
    let field = files(&report)
        .into_iter()
        .find(|n| n.starts_with("field_8gaussians_esm_") && n.ends_with(".svg"))
        .unwrap();
    let svg = std::fs::read_to_string(report.join(&field)).unwrap();
    let green = shapes(&svg)
        .into_iter()
        .filter(|e| e.tag == "polyline" && e.attr("stroke") == "#2CA02C")
        .count();
    assert!(
        green > 50,
        "{field}: {green} segments of the learned density's contours"
    );
    let html = std::fs::read_to_string(report.join("index.html")).unwrap();
    assert!(html.contains("The learned density p̃_θ"), "caption");
    let runs = std::fs::read_dir(out.join("runs"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap();
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(runs.path().join("field.json")).unwrap())
            .unwrap();
    assert_eq!(
        json["learned_log_density"].as_array().unwrap().len(),
        60 * 60
    );
}
