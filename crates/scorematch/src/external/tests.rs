use super::*;
use crate::data::read_table_now;
use crate::rng::normals;

fn config(text: &str) -> RunConfig {
    toml::from_str(text).unwrap()
}

fn dir(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("scorematch-external-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

const RUN: &str = "dataset = { name = \"gaussian\", dim = 3 }\nobjective = { name = \"none\" }\nseed = 4\n\
                   model = { name = \"external\", command = [\"true\"], args = { bandwidth = 0.5, label = \"x\" } }\n\
                   train = { pool_size = 64, eval_samples = 40 }\nsample_metrics = { samples = 50, reference_samples = 50 }";

fn read(path: &std::path::Path, dim: usize) -> Vec<f64> {
    let t = read_table_now(path).unwrap();
    t.numeric(&(0..dim).collect::<Vec<_>>(), "x").unwrap()
}

#[test]
fn the_protocol_round_trips_exactly() {
    let cfg = config(RUN);
    let d = dir("roundtrip");
    let prepared = prepare(&cfg, &d).unwrap();
    // The inputs read back exactly, in both formats, and are the built-in runs' points.
    let density = cfg.dataset.build().unwrap();
    let pool = density.sample(64, &mut rng(4, Stream::Pool));
    assert_eq!(read(&d.join("train.csv"), 3), pool);
    assert_eq!(read(&d.join("train.npy"), 3), pool);
    let eval = read(&d.join("eval.csv"), 3);
    assert_eq!(eval, prepared.sets.x);
    assert_eq!(read(&d.join("eval.npy"), 3), eval);
    let run: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.join(RUN_JSON)).unwrap()).unwrap();
    assert_eq!(run["protocol"], 1);
    assert_eq!(run["seed"], 4);
    assert_eq!(run["dataset"]["dim"], 3);
    assert_eq!(run["args"]["bandwidth"], 0.5);
    assert_eq!(run["inputs"]["eval"]["rows"], 40);
    // The exact score written back gives a Fisher divergence of exactly 0, and the scores a
    // command writes are read back exactly: half the exact score gives ½·¼·E‖s‖².
    let exact = density.scores(&eval);
    std::fs::write(d.join("scores.csv"), csv_bytes(&exact, 3)).unwrap();
    let (report, samples) = evaluate(&cfg, &prepared, &d, 1.5).unwrap();
    assert_eq!(report.fisher, Some(0.0));
    assert_eq!((report.train_seconds, samples), (1.5, None));
    let half: Vec<f64> = exact.iter().map(|v| 0.5 * v).collect();
    std::fs::write(d.join("scores.npy"), crate::data::npy_bytes(&half, 40, 3)).unwrap();
    let (report, _) = evaluate(&cfg, &prepared, &d, 1.0).unwrap();
    let want = 0.125 * exact.iter().map(|v| v * v).sum::<f64>() / 40.0;
    assert!((report.fisher.unwrap() - want).abs() < 1e-12 * want);
    // Samples and a reported training time are picked up.
    std::fs::write(d.join("samples.csv"), csv_bytes(&pool[..150], 3)).unwrap();
    std::fs::write(d.join("result.json"), "{\"train_seconds\": 0.25}").unwrap();
    let (report, samples) = evaluate(&cfg, &prepared, &d, 1.0).unwrap();
    assert_eq!(samples.unwrap().len(), 150);
    assert_eq!(report.method_seconds, Some(0.25));
    assert!(report.sample.unwrap().metrics.sample_mmd.is_some());
}

#[test]
fn missing_misshapen_and_non_finite_outputs_are_errors_naming_the_file() {
    let cfg = config(RUN);
    let d = dir("bad");
    let prepared = prepare(&cfg, &d).unwrap();
    let message = |d: &std::path::Path| evaluate(&cfg, &prepared, d, 0.0).unwrap_err().to_string();
    assert!(
        message(&d).contains("no scores.csv or scores.npy"),
        "{}",
        message(&d)
    );
    std::fs::write(d.join("scores.csv"), csv_bytes(&vec![0.0; 39 * 3], 3)).unwrap();
    assert!(
        message(&d).contains("scores.csv has 39 rows, there are 40"),
        "{}",
        message(&d)
    );
    std::fs::write(d.join("scores.csv"), csv_bytes(&vec![0.0; 40 * 2], 2)).unwrap();
    assert!(message(&d).contains("2 columns"), "{}", message(&d));
    let mut values = vec![0.0; 120];
    values[7] = f64::NAN;
    std::fs::write(d.join("scores.csv"), csv_bytes(&values, 3)).unwrap();
    assert!(
        message(&d).contains("scores.csv:3: column 1 is NaN"),
        "{}",
        message(&d)
    );
    // The protocol has no header: a first row that is not numeric is named as such, whether
    // it is a header over the right number of rows or the whole file is text.
    let mut text = b"dx,dy,dz\n".to_vec();
    text.extend(csv_bytes(&vec![0.0; 120], 3));
    std::fs::write(d.join("scores.csv"), &text).unwrap();
    assert!(
        message(&d).contains("scores.csv:1: column 0: \"dx\" is not a number"),
        "{}",
        message(&d)
    );
    std::fs::write(d.join("scores.csv"), "a,b,c\n".repeat(40)).unwrap();
    assert!(
        message(&d).contains("scores.csv:1: column 0: \"a\" is not a number"),
        "{}",
        message(&d)
    );
}

#[test]
fn with_a_noise_level_the_noised_points_and_their_scores_are_exchanged_too() {
    let cfg = config(&RUN.replace(
        "objective = { name = \"none\" }",
        "objective = { name = \"dsm\", sigma = 0.5 }",
    ));
    assert!(cfg.validate().is_empty(), "{:?}", cfg.validate());
    let d = dir("noised");
    let prepared = prepare(&cfg, &d).unwrap();
    let run: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.join(RUN_JSON)).unwrap()).unwrap();
    assert_eq!(
        (run["sigma"].as_f64(), run["objective"].as_str()),
        (Some(0.5), Some("dsm"))
    );
    let density = cfg.dataset.build().unwrap();
    let eval = read(&d.join("eval.csv"), 3);
    let noised = read(&d.join("eval_noised.npy"), 3);
    std::fs::write(d.join("scores.csv"), csv_bytes(&density.scores(&eval), 3)).unwrap();
    let err = evaluate(&cfg, &prepared, &d, 0.0).unwrap_err().to_string();
    assert!(err.contains("no scores_noised"), "{err}");
    let exact = density.noised(0.5).unwrap().scores(&noised);
    std::fs::write(d.join("scores_noised.csv"), csv_bytes(&exact, 3)).unwrap();
    let (report, _) = evaluate(&cfg, &prepared, &d, 0.0).unwrap();
    assert_eq!((report.fisher, report.fisher_sigma), (Some(0.0), Some(0.0)));
    // The noised points are those a built-in run is judged on: eval + σ·(next normals).
    let mut r = rng(0, Stream::Eval);
    let x = density.sample(40, &mut r);
    let want: Vec<f64> = x
        .iter()
        .zip(normals(&mut r, 120))
        .map(|(x, e)| x + 0.5 * e)
        .collect();
    assert_eq!(noised, want);
}
