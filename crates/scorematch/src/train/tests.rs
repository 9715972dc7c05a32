//! Whole runs: closed forms, determinism, divergence, sampling, stopping.

use super::*;
use crate::backend::{Backend, to_host};
use crate::data::GaussianParams;
use crate::model::closed_form::gaussian_closed_form;
use crate::rng::{Stream, rng};
use burn::module::{Module, ModuleVisitor, Param};
use burn::tensor::Tensor;

fn config(s: &str) -> RunConfig {
    toml::from_str(s).unwrap()
}

/// The linear model's weight matrix W (s = x W + b).
fn linear_weight(model: &ScoreModel) -> Vec<f64> {
    struct First(Option<Vec<f64>>);
    impl ModuleVisitor for First {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            if D == 2 && self.0.is_none() {
                self.0 = Some(to_host(param.val()).unwrap());
            }
        }
    }
    let mut f = First(None);
    model.visit(&mut f);
    f.0.unwrap()
}

#[test]
fn esm_drives_fisher_down_a_hundredfold_at_d10() {
    let t = train(
        &config(
            "dataset = { name = \"gaussian\", dim = 10 }\n\
             objective = { name = \"esm\" }\n\
             train = { steps = 2000, eval_samples = 2000 }",
        ),
        &mut NoProgress,
    )
    .unwrap();
    let r = &t.report;
    assert_eq!(r.status, RunStatus::Ok);
    let fisher = r.fisher.unwrap();
    assert!(
        fisher < 1e-2 * r.fisher_init.unwrap(),
        "{:?} -> {fisher}",
        r.fisher_init
    );
    assert_eq!(r.loss_curve.last().unwrap().step, 2000);
}

#[test]
fn same_config_gives_the_same_numbers() {
    let cfg = config(
        "dataset = { name = \"8gaussians\" }\n\
         objective = { name = \"ssm-vr\" }\n\
         model = { name = \"mlp\", hidden = 16 }\n\
         train = { steps = 30, batch = 32, eval_samples = 500, pool_size = 1000 }\n\
         seed = 4",
    );
    let a = train(&cfg, &mut NoProgress).unwrap().report;
    let b = train(&cfg, &mut NoProgress).unwrap().report;
    assert_eq!(a.loss_curve, b.loss_curve);
    assert_eq!(a.fisher, b.fisher);
    let mut other = cfg.clone();
    other.seed = 5;
    let c = train(&other, &mut NoProgress).unwrap().report;
    assert_ne!(a.fisher, c.fisher);
    // Another seed initialises differently (the evaluation set stays the same).
    assert_ne!(a.fisher_init, c.fisher_init);
}

#[test]
#[cfg_attr(
    not(feature = "ndarray"),
    ignore = "built without the ndarray feature: cargo test --features ndarray"
)]
fn backends_agree_on_a_run() {
    let mut cfg = config(
        "dataset = { name = \"gaussian\", dim = 3 }\n\
         objective = { name = \"ism\" }\n\
         model = { name = \"mlp\", hidden = 16 }\n\
         train = { steps = 20, batch = 16, eval_samples = 500, pool_size = 1000, precision = \"f64\" }",
    );
    let flex = train(&cfg, &mut NoProgress).unwrap().report;
    cfg.backend = Backend::Ndarray;
    let nd = train(&cfg, &mut NoProgress).unwrap().report;
    let (a, b) = (flex.fisher.unwrap(), nd.fisher.unwrap());
    assert!((a - b).abs() < 1e-9 * a, "{a} vs {b}");
}

#[test]
fn ism_on_the_linear_model_converges_to_the_closed_form() {
    let cfg = config(
        "dataset = { name = \"gaussian\", dim = 3, data_seed = 1 }\n\
         model = { name = \"linear\", init = \"zeros\" }\n\
         objective = { name = \"ism\" }\n\
         train = { steps = 3000, batch = 512, lr = 0.01, pool_size = 4000, eval_samples = 1000, precision = \"f64\" }",
    );
    let t = train(&cfg, &mut NoProgress).unwrap();
    let pool = t.density.sample(4000, &mut rng(cfg.seed, Stream::Pool));
    let fit = gaussian_closed_form(&pool, 3).unwrap();
    let w = linear_weight(&t.model);
    for i in 0..3 {
        for j in 0..3 {
            let want = -fit.precision[(i, j)];
            assert!(
                (w[i * 3 + j] - want).abs() < 0.05 * (1.0 + want.abs()),
                "W[{i},{j}] = {} vs {want}",
                w[i * 3 + j]
            );
        }
    }
    // Starting at the closed form, ISM training stays there and Fisher is tiny.
    let at_optimum = config(
        "dataset = { name = \"gaussian\", dim = 3, data_seed = 1 }\n\
         model = { name = \"linear\", init = \"closed-form\" }\n\
         objective = { name = \"ism\" }\n\
         train = { steps = 0, pool_size = 4000, eval_samples = 5000, precision = \"f64\" }",
    );
    let r = train(&at_optimum, &mut NoProgress).unwrap().report;
    assert!(r.fisher.unwrap() < 0.01 * (0.5 * 3.0), "{:?}", r.fisher);
}

#[test]
fn dsm_on_the_linear_model_finds_the_noised_precision() {
    let sigma = 0.5;
    let cfg = config(&format!(
        "dataset = {{ name = \"gaussian\", dim = 2 }}\n\
         model = {{ name = \"linear\", init = \"zeros\" }}\n\
         objective = {{ name = \"dsm\", sigma = {sigma} }}\n\
         train = {{ steps = 4000, batch = 1024, lr = 0.01, eval_samples = 1000, precision = \"f64\" }}"
    ));
    let t = train(&cfg, &mut NoProgress).unwrap();
    let g = GaussianParams {
        dim: 2,
        data_seed: 0,
    }
    .covariance();
    let want = (g + nalgebra::DMatrix::<f64>::identity(2, 2) * sigma * sigma)
        .try_inverse()
        .unwrap();
    let w = linear_weight(&t.model);
    for i in 0..2 {
        for j in 0..2 {
            let want = -want[(i, j)];
            assert!(
                (w[i * 2 + j] - want).abs() < 0.05 * (1.0 + want.abs()),
                "W[{i},{j}] = {} vs {want}",
                w[i * 2 + j]
            );
        }
    }
    // It learns p_σ, not p: Fisher against p_σ is far smaller than against p.
    let r = &t.report;
    assert!(r.fisher_sigma.unwrap() < 0.1 * r.fisher.unwrap(), "{r:?}");
}

#[test]
fn a_diverging_run_is_reported_not_raised() {
    let cfg = config(
        "dataset = { name = \"8gaussians\" }\n\
         objective = { name = \"ism\" }\n\
         model = { name = \"mlp\", hidden = 8 }\n\
         train = { steps = 200, lr = 1e30, batch = 16, log_every = 1, eval_samples = 100, pool_size = 100 }\n\
         sampler = { name = \"langevin\", steps = 5 }",
    );
    let t = train(&cfg, &mut NoProgress).unwrap();
    let r = t.report;
    assert_eq!(r.status, RunStatus::Diverged);
    assert!(r.message.is_some() && r.fisher.is_none());
    assert!(r.steps_done < 200);
    // A diverged model is not sampled.
    assert!(r.sample.is_none() && t.samples.is_none());
}

/// Asks for a stop once `.0` steps are done.
struct StopAfter(usize, usize);

impl Progress for StopAfter {
    fn step(&mut self, step: usize, _total: usize) {
        self.1 = step;
    }

    fn stop_requested(&self) -> bool {
        self.1 >= self.0
    }
}

#[test]
fn a_stop_request_abandons_training_at_the_next_step() {
    let cfg = config(
        "dataset = { name = \"8gaussians\" }\n\
         objective = { name = \"esm\" }\n\
         model = { name = \"mlp\", hidden = 8 }\n\
         train = { steps = 50, batch = 16, eval_samples = 100, pool_size = 100 }",
    );
    let mut progress = StopAfter(3, 0);
    match train(&cfg, &mut progress) {
        Err(crate::Error::Interrupted { step }) => assert_eq!((step, progress.1), (3, 3)),
        other => panic!("not interrupted: {:?}", other.map(|t| t.report)),
    }
}

/// Counts sampler steps.
struct CountSampleSteps(usize, usize);

impl Progress for CountSampleSteps {
    fn sample_step(&mut self, step: usize, total: usize) {
        assert_eq!(step, self.0 + 1);
        (self.0, self.1) = (step, total);
    }
}

#[test]
fn a_run_with_a_sampler_reports_its_samples_and_keeps_them() {
    let run = |steps: usize| {
        config(&format!(
            "dataset = {{ name = \"8gaussians\" }}\n\
             objective = {{ name = \"dsm-multi\", sigma_min = 0.05, sigma_max = 4.0, levels = 8 }}\n\
             model = {{ name = \"mlp\", hidden = 32, noise_conditional = true }}\n\
             train = {{ steps = {steps}, batch = 128, lr = 0.003, eval_samples = 300, pool_size = 2000 }}\n\
             sampler = {{ name = \"annealed\", sigma_max = 4.0, sigma_min = 0.05, levels = 8, steps_per_level = 20, step_size = 2.5e-4 }}\n\
             sample_metrics = {{ samples = 300, reference_samples = 300, swd_directions = 16 }}\n\
             seed = 1"
        ))
    };
    let mut progress = CountSampleSteps(0, 0);
    let t = train(&run(400), &mut progress).unwrap();
    assert_eq!(progress.0, 160);
    assert_eq!(progress.1, 160);
    let s = t.report.sample.clone().unwrap();
    assert_eq!(
        (s.sampler.as_str(), s.samples, s.message),
        ("annealed", 300, None)
    );
    let samples = t.samples.unwrap();
    assert_eq!(samples.len(), 600);
    assert!(samples.iter().all(|v| v.is_finite()));
    for &metric in crate::metric::SampleMetric::ALL {
        assert!(
            s.metrics.get(metric).is_some_and(f64::is_finite),
            "{metric:?}"
        );
    }
    // The same run gives the same numbers; the untrained model generates far worse.
    let again = train(&run(400), &mut NoProgress)
        .unwrap()
        .report
        .sample
        .unwrap();
    assert_eq!(again.metrics, s.metrics);
    let untrained = train(&run(0), &mut NoProgress)
        .unwrap()
        .report
        .sample
        .unwrap();
    eprintln!("trained {:?}\nuntrained {:?}", s.metrics, untrained.metrics);
    let swd = |m: &crate::metric::SampleMetrics| m.sample_swd.unwrap();
    assert!(swd(&s.metrics) < 0.5 * swd(&untrained.metrics));
}

/// A small run with the given extra `train` settings.
fn small_run(extra: &str) -> Trained {
    train(
        &config(&format!(
            "dataset = {{ name = \"gaussian\", dim = 2 }}\nobjective = {{ name = \"ism\" }}\n\
             model = {{ name = \"mlp\", hidden = 32 }}\n\
             train = {{ steps = 300, batch = 16, pool_size = 16, lr = 0.01, log_every = 10, \
             eval_samples = 500, precision = \"f64\", {extra} }}"
        )),
        &mut NoProgress,
    )
    .unwrap()
}

#[test]
fn an_ema_with_decay_zero_is_no_ema_and_a_real_one_changes_the_model() {
    let plain = small_run("val_samples = 200");
    let zero = small_run("val_samples = 200, ema = 0.0");
    assert_eq!(plain.report.fisher, zero.report.fisher);
    assert_eq!(plain.report.val_curve, zero.report.val_curve);
    let averaged = small_run("val_samples = 200, ema = 0.9");
    assert_ne!(plain.report.fisher, averaged.report.fisher);
    // The training losses are those of the raw weights either way.
    assert_eq!(plain.report.loss_curve, averaged.report.loss_curve);
}

#[test]
fn a_schedule_changes_the_steps_and_constant_is_the_default() {
    let plain = small_run("val_samples = 0");
    let constant = small_run("lr_schedule = { name = \"constant\" }");
    assert_eq!(plain.report.loss_curve, constant.report.loss_curve);
    let cosine = small_run("lr_schedule = { name = \"cosine\" }");
    // The first step has the full rate either way; later ones differ.
    assert_eq!(plain.report.loss_curve[0], cosine.report.loss_curve[0]);
    assert_ne!(plain.report.loss_curve, cosine.report.loss_curve);
}

#[test]
fn early_stopping_stops_after_patience_and_keeps_the_best_weights() {
    // ISM on 16 points overfits them: the held-out loss falls, then rises.
    let t = small_run("val_samples = 400, early_stopping = { patience = 3 }");
    let r = &t.report;
    assert!(r.stopped_early, "{:?}", r.val_curve);
    let (best_i, best) = r
        .val_curve
        .iter()
        .enumerate()
        .min_by(|a, b| a.1.loss.total_cmp(&b.1.loss))
        .unwrap();
    // It stopped exactly `patience` evaluations after the best one.
    assert_eq!(r.val_curve.len(), best_i + 1 + 3, "{:?}", r.val_curve);
    assert_eq!(r.best_step, Some(best.step));
    assert_eq!(r.val_loss, Some(best.loss));
    assert_eq!(r.steps_done, r.val_curve.last().unwrap().step);
    // The kept model is the best one: its validation loss is the best value.
    let cfg = config(
        "dataset = { name = \"gaussian\", dim = 2 }\nobjective = { name = \"ism\" }\n\
         model = { name = \"mlp\", hidden = 32 }\n\
         train = { steps = 300, batch = 16, pool_size = 16, lr = 0.01, log_every = 10, \
         eval_samples = 500, precision = \"f64\", val_samples = 400, \
         early_stopping = { patience = 3 } }",
    );
    let setup = RunSetup::new(&cfg).unwrap();
    let val = validation::Validation::new(&cfg, &setup).unwrap();
    let kept = val.loss(&t.model.flat_params().unwrap()).unwrap();
    assert!((kept - best.loss).abs() < 1e-12, "{kept} vs {}", best.loss);
    // Without early stopping the same run trains all its steps.
    let full = small_run("val_samples = 400");
    assert_eq!(full.report.steps_done, 300);
    assert!(!full.report.stopped_early);
}

#[test]
fn early_stopping_needs_a_validation_set() {
    let cfg = config(
        "dataset = { name = \"gaussian\", dim = 2 }\nobjective = { name = \"esm\" }\n\
         train = { early_stopping = { patience = 3 }, ema = 1.5 }",
    );
    let keys: Vec<String> = cfg.validate().into_iter().map(|e| e.key).collect();
    assert_eq!(keys, ["train.ema", "train.early_stopping"]);
}

#[test]
fn a_run_on_data_from_a_file_is_judged_on_its_test_split() {
    let iris = concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/iris.csv");
    let cfg = config(&format!(
        "dataset = {{ name = \"file\", path = \"{iris}\", columns = [0, 1, 2, 3], standardize = true }}\n\
         objective = {{ name = \"dsm\", sigma = 0.5 }}\nmodel = {{ name = \"mlp\", hidden = 32 }}\n\
         sampler = {{ name = \"langevin\", steps = 100 }}\n\
         sample_metrics = {{ samples = 200 }}\n\
         train = {{ steps = 400, batch = 32, log_every = 50 }}"
    ));
    assert!(cfg.validate().is_empty(), "{:?}", cfg.validate());
    let r = train(&cfg, &mut NoProgress).unwrap().report;
    assert_eq!(r.status, RunStatus::Ok);
    // No true score: no Fisher divergence, no KL, no KSD of the samples.
    assert_eq!(
        (r.fisher_init, r.fisher, r.density.is_none()),
        (None, None, true)
    );
    let metrics = &r.sample.as_ref().unwrap().metrics;
    assert!(metrics.sample_ksd.is_none() && metrics.sample_mmd.is_some());
    assert!(r.model_ksd.is_some_and(f64::is_finite));
    // The held-out loss on the 30 test rows is recorded without asking, and training on
    // the other 120 lowers it (DSM: the noise keeps a finite sample from being overfitted).
    let (first, last) = (r.val_curve[0].loss, r.val_loss.unwrap());
    assert_eq!(r.val_curve.len(), 8);
    assert!(last < first - 0.5, "held-out loss {first} -> {last}");
    // ESM needs the true score; a batch larger than the training split is refused.
    let esm = config(&format!(
        "dataset = {{ name = \"file\", path = \"{iris}\", columns = [0, 1] }}\n\
         objective = {{ name = \"esm\" }}\ntrain = {{ batch = 500 }}"
    ));
    let errors: Vec<String> = esm.validate().iter().map(|e| e.to_string()).collect();
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(errors[0].contains("true score"), "{errors:?}");
    assert!(errors[1].contains("120 training rows"), "{errors:?}");
}
