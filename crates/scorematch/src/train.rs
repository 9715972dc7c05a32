//! One training run: data pool and evaluation set, model initialisation, Adam on the
//! objective, Fisher divergences before and after, and — when the run has a sampler — samples
//! of the trained score with their quality.

use std::time::Instant;

use burn::module::Module;
use serde::{Deserialize, Serialize};

use crate::backend::Ctx;
use crate::config::RunConfig;
use crate::data::Density;
use crate::engine::{Kernels, Trainer, TrainingData};
use crate::error::{Result, check};
use crate::metric::fisher_divergence;
use crate::model::{ScoreModel, TracePath};
use crate::objective::ObjectiveConfig;
use crate::rng::{Stream, normals, rng};
use crate::sample::{ModelScore, SampleProgress, SampleReport, sample_and_evaluate};

/// Receives progress during training.
pub trait Progress {
    /// Called after each optimiser step (1-based) with the run's total steps.
    fn step(&mut self, _step: usize, _total: usize) {}
    /// Called with each recorded loss value.
    fn loss(&mut self, _step: usize, _loss: f64) {}
    /// Called after each sampler step (1-based) with the sampler's total steps.
    fn sample_step(&mut self, _step: usize, _total: usize) {}
}

/// Forwards a sampler's progress to [`Progress::sample_step`].
struct SamplerSteps<'a>(&'a mut dyn Progress);

impl SampleProgress for SamplerSteps<'_> {
    fn step(&mut self, step: usize, total: usize) {
        self.0.sample_step(step, total);
    }
}

/// Ignores progress.
pub struct NoProgress;

impl Progress for NoProgress {}

/// How a run ended.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    /// Trained for all its steps with finite losses.
    Ok,
    /// The loss or the parameters became non-finite; training stopped early.
    Diverged,
}

/// One recorded point of the loss curve.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct LossPoint {
    /// Optimiser step (1-based).
    pub step: usize,
    /// Loss of that step's batch.
    pub loss: f64,
}

/// The numbers of one run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainReport {
    /// How the run ended.
    pub status: RunStatus,
    /// Why it diverged, if it did.
    pub message: Option<String>,
    /// Steps actually taken.
    pub steps_done: usize,
    /// Last recorded loss.
    pub final_loss: Option<f64>,
    /// Fisher divergence against p of the initial model.
    pub fisher_init: f64,
    /// Fisher divergence against p after training (missing if diverged).
    pub fisher: Option<f64>,
    /// Fisher divergence against p_σ of the initial model, for objectives with a noise level
    /// on data sets whose p_σ has a closed form.
    pub fisher_sigma_init: Option<f64>,
    /// Fisher divergence against p_σ after training.
    pub fisher_sigma: Option<f64>,
    /// Wall time of the training loop in seconds (evaluation excluded).
    pub train_seconds: f64,
    /// Optimiser steps per second.
    pub steps_per_sec: f64,
    /// Which exact-trace path ISM used.
    pub trace_path: Option<TracePath>,
    /// Which implementation computed the steps (`fused` or `reference`).
    pub kernels: Kernels,
    /// The loss every `log_every` steps.
    pub loss_curve: Vec<LossPoint>,
    /// The sampler's samples in numbers (missing without a sampler or after divergence).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sample: Option<SampleReport>,
}

/// A finished run: its report and what later stages (samplers, plots) need.
pub struct Trained {
    /// The numbers.
    pub report: TrainReport,
    /// The trained model, as an inference copy on `ctx`'s device.
    pub model: ScoreModel,
    /// Plain (non-autodiff) context of the run's device and precision.
    pub ctx: Ctx,
    /// The data density.
    pub density: Box<dyn Density>,
    /// The sampler's samples, row-major `[sample_metrics.samples, dim]` (missing without a
    /// sampler or after divergence).
    pub samples: Option<Vec<f64>>,
}

/// The evaluation points of one density with their exact scores.
struct EvalSet {
    x: Vec<f64>,
    score: Vec<f64>,
}

/// Trains one run.
pub fn train(cfg: &RunConfig, progress: &mut dyn Progress) -> Result<Trained> {
    check(cfg.validate())?;
    check(cfg.check_environment())?;
    let device = cfg.backend.device()?;
    let ctx = Ctx::new(device.autodiff(), cfg.train.precision);
    let plain = ctx.inference();
    let density = cfg.dataset.build()?;
    let dim = density.dim();
    let tc = &cfg.train;

    let pool = density.sample(tc.pool_size, &mut rng(cfg.seed, Stream::Pool));
    let pool_scores = if cfg.objective.uses_data_scores() {
        density.scores(&pool)
    } else {
        Vec::new()
    };

    // Evaluation sets come from the evaluation seed alone, so they are the same for every
    // run seed and Fisher numbers are comparable across runs.
    let mut eval_rng = rng(tc.eval_seed, Stream::Eval);
    let eval_x = density.sample(tc.eval_samples, &mut eval_rng);
    let eval = EvalSet {
        score: density.scores(&eval_x),
        x: eval_x,
    };
    let sigma = cfg.objective.sigma();
    let noised = sigma.and_then(|s| density.noised(s));
    let eval_noised = match (sigma, &noised) {
        (Some(s), Some(q)) => {
            let x: Vec<f64> = eval
                .x
                .iter()
                .zip(normals(&mut eval_rng, eval.x.len()))
                .map(|(x, e)| x + s * e)
                .collect();
            Some(EvalSet {
                score: q.scores(&x),
                x,
            })
        }
        _ => None,
    };
    // Noise-conditional models are evaluated at the objective's (smallest) noise level.
    let eval_sigma = sigma.filter(|_| cfg.model.is_noise_conditional());
    let fishers = |model: &ScoreModel| -> Result<(f64, Option<f64>)> {
        let m = model.valid();
        let f = fisher_divergence(&m, &eval.x, &eval.score, dim, eval_sigma, &plain)?;
        let fs = match &eval_noised {
            Some(e) => Some(fisher_divergence(
                &m, &e.x, &e.score, dim, eval_sigma, &plain,
            )?),
            None => None,
        };
        Ok((f, fs))
    };

    let model = cfg
        .model
        .init(dim, &pool, &ctx, &mut rng(cfg.seed, Stream::Init))?;
    let (fisher_init, fisher_sigma_init) = fishers(&model)?;
    let trace_path = match &cfg.objective {
        ObjectiveConfig::Ism(p) => Some(model.trace_path(p.trace)),
        _ => None,
    };

    let data = TrainingData {
        dim,
        pool,
        pool_scores,
        noised: noised.as_deref(),
    };
    let mut trainer = Trainer::new(
        &cfg.objective,
        tc,
        cfg.backend,
        model,
        trace_path.unwrap_or_default(),
        data,
        &ctx,
        rng(cfg.seed, Stream::Train),
    )?;
    let kernels = trainer.kernels();
    let mut loss_curve = Vec::new();
    let mut message = None;
    let mut steps_done = 0;
    let start = Instant::now();
    for step in 1..=tc.steps {
        let read_loss = step % tc.log_every == 0 || step == tc.steps || step == 1;
        if let Some(value) = trainer.step(read_loss)? {
            progress.loss(step, value);
            loss_curve.push(LossPoint { step, loss: value });
            if !value.is_finite() {
                message = Some(format!("loss became {value} at step {step}"));
                break;
            }
        }
        steps_done = step;
        progress.step(step, tc.steps);
    }
    let train_seconds = start.elapsed().as_secs_f64();
    let model = trainer.into_model()?;

    let (fisher, fisher_sigma) = fishers(&model)?;
    if message.is_none() && !fisher.is_finite() {
        message = Some(format!("Fisher divergence is {fisher} after training"));
    }
    let diverged = message.is_some();
    let model = model.valid();
    // The score is evaluated at the noise level it was trained for (ignored by models that
    // do not condition on σ).
    let sampled = if diverged {
        None
    } else {
        sample_and_evaluate(
            &cfg.sampler,
            &cfg.sample_metrics,
            &ModelScore::new(&model, &plain, dim),
            sigma,
            density.as_ref(),
            cfg.seed,
            &mut SamplerSteps(progress),
        )?
    };
    let (sample, samples) = match sampled {
        Some(s) => (Some(s.report), Some(s.samples)),
        None => (None, None),
    };
    let report = TrainReport {
        status: if diverged {
            RunStatus::Diverged
        } else {
            RunStatus::Ok
        },
        message,
        steps_done,
        final_loss: loss_curve.last().map(|p| p.loss),
        fisher_init,
        fisher: (!diverged).then_some(fisher),
        fisher_sigma_init,
        fisher_sigma: fisher_sigma.filter(|_| !diverged),
        train_seconds,
        steps_per_sec: if train_seconds > 0.0 {
            steps_done as f64 / train_seconds
        } else {
            0.0
        },
        trace_path,
        kernels,
        loss_curve,
        sample,
    };
    Ok(Trained {
        report,
        model,
        ctx: plain,
        density,
        samples,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::{Backend, to_host};
    use crate::data::GaussianParams;
    use crate::model::closed_form::gaussian_closed_form;
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
            fisher < 1e-2 * r.fisher_init,
            "{} -> {fisher}",
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
        for metric in crate::metric::SampleMetric::ALL {
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
}
