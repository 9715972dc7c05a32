//! Samplers against exact scores: parsing, validation, and what they generate.

use super::*;
use crate::config::RunConfig;
use crate::data::{DatasetConfig, Density, GaussianParams};
use crate::metric::{SampleMetrics, SampleMetricsConfig};
use crate::progress::NoProgress;
use crate::rng::{Stream, rng};

fn sampler(s: &str) -> SamplerConfig {
    toml::from_str(s).unwrap()
}

fn density(s: &str) -> Box<dyn Density> {
    toml::from_str::<DatasetConfig>(s).unwrap().build().unwrap()
}

/// Samples of `sampler` on the exact score of `density`, with their metrics.
fn run_exact(
    sampler: &SamplerConfig,
    density: &dyn Density,
    sigma: Option<f64>,
    samples: usize,
    seed: u64,
) -> (Vec<f64>, SampleMetrics) {
    let metrics = SampleMetricsConfig {
        samples,
        reference_samples: samples,
        swd_directions: 64,
        ..SampleMetricsConfig::default()
    };
    let out = sample_and_evaluate(
        sampler,
        &metrics,
        &ExactScore::new(density),
        sigma,
        density,
        seed,
        &mut NoProgress,
    )
    .unwrap()
    .unwrap();
    assert_eq!(out.report.sampler, sampler.name());
    assert_eq!(out.report.message, None);
    (out.samples, out.report.metrics)
}

/// Counts progress calls and checks they run 1, 2, … total.
struct Count(usize, usize);

impl SampleProgress for Count {
    fn step(&mut self, step: usize, total: usize) {
        assert_eq!(step, self.0 + 1);
        self.0 = step;
        self.1 = total;
    }
}

#[test]
fn every_registered_sampler_parses_builds_and_samples() {
    let g = density("name = \"gaussian\"\ndim = 2");
    let score = ExactScore::new(g.as_ref());
    for &name in SamplerConfig::NAMES {
        let extra = match name {
            "langevin" => "steps = 20",
            "annealed" => "levels = 3\nsteps_per_level = 5",
            "reverse_sde" | "probability_flow" | "pc" => "steps = 20",
            _ => "",
        };
        let cfg = sampler(&format!("name = \"{name}\"\n{extra}"));
        assert_eq!(cfg.name(), name);
        assert!(cfg.validate().is_empty(), "{name}");
        let back: SamplerConfig = toml::from_str(&toml::to_string(&cfg).unwrap()).unwrap();
        assert_eq!(back, cfg);
        let mut count = Count(0, 0);
        let x = cfg
            .sample(
                &score,
                Some(0.1),
                30,
                &mut rng(0, Stream::Sampler),
                &mut count,
            )
            .unwrap();
        assert_eq!(count.0, cfg.total_steps(), "{name}");
        match x {
            None => assert!(cfg.is_none()),
            Some(x) => {
                assert_eq!(x.len(), 60, "{name}");
                assert!(x.iter().all(|v| v.is_finite()), "{name}");
                assert_eq!(count.1, cfg.total_steps());
            }
        }
    }
    assert_eq!(SamplerConfig::default(), sampler("name = \"none\""));
}

#[test]
fn unknown_samplers_and_bad_parameters_name_their_keys() {
    let err = toml::from_str::<SamplerConfig>("name = \"ula\"")
        .unwrap_err()
        .to_string();
    for &name in SamplerConfig::NAMES {
        assert!(err.contains(name), "{err}");
    }
    let err = toml::from_str::<SamplerConfig>("name = \"langevin\"\nstep = 0.1")
        .unwrap_err()
        .to_string();
    assert!(err.contains("unknown field `step`"), "{err}");
    assert!(toml::from_str::<SamplerConfig>("name = \"none\"\nsteps = 3").is_err());
    let keys =
        |s: &str| -> Vec<String> { sampler(s).validate().into_iter().map(|e| e.key).collect() };
    assert_eq!(
        keys(
            "name = \"langevin\"\nsteps = 0\nstep_size = -0.1\n\
             init = { name = \"normal\", scale = 0.0 }"
        ),
        ["steps", "step_size", "init.scale"]
    );
    assert_eq!(
        keys(
            "name = \"annealed\"\nsigma_min = 2.0\nlevels = 0\nsteps_per_level = 0\n\
             init = { name = \"uniform\", lo = 1.0, hi = 0.0 }"
        ),
        ["sigma_max", "levels", "steps_per_level", "init.hi"]
    );
    assert_eq!(
        keys("name = \"reverse_sde\"\nsigma_min = 0.0\nsteps = 0"),
        ["sigma_min", "steps"]
    );
    assert_eq!(
        keys("name = \"probability_flow\"\nsigma_max = 0.01"),
        ["sigma_max"]
    );
    // A sampler refuses to run with bad parameters, and Langevin's denoising needs σ.
    let g = density("name = \"standard_normal\"\ndim = 2");
    let score = ExactScore::new(g.as_ref());
    let mut r = rng(0, Stream::Sampler);
    assert!(
        sampler("name = \"langevin\"\nsteps = 0")
            .sample(&score, None, 4, &mut r, &mut NoProgress)
            .is_err()
    );
    let err = sampler("name = \"langevin\"\ndenoise = true")
        .sample(&score, None, 4, &mut r, &mut NoProgress)
        .unwrap_err()
        .to_string();
    assert!(err.contains("denoise"), "{err}");
}

#[test]
fn run_configs_cross_check_the_sampler_against_the_model_and_objective() {
    let keys = |s: &str| -> Vec<String> {
        toml::from_str::<RunConfig>(s)
            .unwrap()
            .validate()
            .into_iter()
            .map(|e| e.key)
            .collect()
    };
    let base = "dataset = { name = \"8gaussians\" }\n";
    for name in ["annealed", "reverse_sde", "probability_flow"] {
        assert_eq!(
            keys(&format!(
                "{base}objective = {{ name = \"dsm\" }}\nsampler = {{ name = \"{name}\" }}"
            )),
            ["sampler"],
            "{name}"
        );
        assert!(
            keys(&format!(
                "{base}objective = {{ name = \"dsm-multi\" }}\n\
                 model = {{ name = \"mlp\", noise_conditional = true }}\n\
                 sampler = {{ name = \"{name}\" }}"
            ))
            .is_empty()
        );
    }
    // A noise-conditional energy network has a density at each σ (exp(−E/σ)), so MALA runs
    // on it.
    assert!(
        keys(&format!(
            "{base}objective = {{ name = \"dsm-multi\" }}\n\
             model = {{ name = \"energy\", noise_conditional = true }}\n\
             sampler = {{ name = \"mala\" }}"
        ))
        .is_empty()
    );
    assert_eq!(
        keys(&format!(
            "{base}objective = {{ name = \"ism\" }}\n\
             sampler = {{ name = \"langevin\", denoise = true }}"
        )),
        ["sampler.denoise"]
    );
    assert!(
        keys(&format!(
            "{base}objective = {{ name = \"dsm\", sigma = 0.1 }}\n\
             sampler = {{ name = \"langevin\", denoise = true }}"
        ))
        .is_empty()
    );
    assert_eq!(
        keys(&format!(
            "{base}objective = {{ name = \"esm\" }}\n\
             sampler = {{ name = \"langevin\", steps = 0 }}\n\
             sample_metrics = {{ samples = 1, metrics = [\"swd\"] }}"
        )),
        ["sampler.steps", "sample_metrics.samples"]
    );
    // Without a sampler nothing changes: old run files parse and write back as before.
    let cfg: RunConfig =
        toml::from_str(&format!("{base}objective = {{ name = \"esm\" }}")).unwrap();
    assert!(cfg.sampler.is_none() && cfg.sample_metrics.is_default());
    // The floor is written only when turned off, so the run ids of older files stay.
    let some: RunConfig = toml::from_str(&format!(
        "{base}objective = {{ name = \"esm\" }}\nsample_metrics = {{ samples = 500 }}"
    ))
    .unwrap();
    assert!(some.sample_metrics.floor);
    let text = toml::to_string(&some).unwrap();
    assert!(!text.contains("floor"), "{text}");
    let off: RunConfig = toml::from_str(&format!(
        "{base}objective = {{ name = \"esm\" }}\nsample_metrics = {{ floor = false }}"
    ))
    .unwrap();
    assert!(!off.sample_metrics.floor && !off.sample_metrics.is_default());
    let text = toml::to_string(&off).unwrap();
    assert!(text.contains("floor = false"), "{text}");
    assert_eq!(toml::from_str::<RunConfig>(&text).unwrap(), off);
    let text = toml::to_string(&cfg).unwrap();
    assert!(
        !text.contains("sampler") && !text.contains("sample_metrics"),
        "{text}"
    );
    let with = toml::from_str::<RunConfig>(&format!(
        "{base}objective = {{ name = \"esm\" }}\nsampler = {{ name = \"langevin\" }}\n\
         sample_metrics = {{ samples = 500 }}"
    ))
    .unwrap();
    let back: RunConfig = toml::from_str(&toml::to_string(&with).unwrap()).unwrap();
    assert_eq!(back, with);
}

#[test]
fn langevin_with_the_exact_score_reproduces_a_gaussian() {
    let g = density("name = \"gaussian\"\ndim = 2");
    let long = sampler("name = \"langevin\"\nsteps = 400\nstep_size = 0.01");
    let (_, good) = run_exact(&long, g.as_ref(), None, 800, 1);
    // Too few steps: the chains are still near N(0, I), not N(0, Σ).
    let short = sampler("name = \"langevin\"\nsteps = 3\nstep_size = 0.01");
    let (_, bad) = run_exact(&short, g.as_ref(), None, 800, 1);
    eprintln!("gaussian langevin: {good:?}\n  3 steps: {bad:?}");
    let (mmd, bad_mmd) = (good.sample_mmd.unwrap(), bad.sample_mmd.unwrap());
    assert!(
        mmd.abs() < 3e-3 && bad_mmd > 5.0 * mmd.abs(),
        "{mmd} vs {bad_mmd}"
    );
    assert!(good.sample_energy.unwrap() < 0.01, "{good:?}");
    // SWD between finite samples has a positive floor (≈ 0.1 at 800 points here).
    let (swd, bad_swd) = (good.sample_swd.unwrap(), bad.sample_swd.unwrap());
    assert!(swd < 0.15 && bad_swd > 2.0 * swd, "{swd} vs {bad_swd}");
    assert_eq!(good.mode_coverage, None);
}

#[test]
fn langevin_with_the_exact_score_covers_all_eight_gaussians() {
    let g = density("name = \"8gaussians\"");
    let s = sampler(
        "name = \"langevin\"\nsteps = 300\nstep_size = 0.002\n\
         init = { name = \"uniform\", lo = -3.0, hi = 3.0 }",
    );
    let (_, m) = run_exact(&s, g.as_ref(), None, 800, 2);
    eprintln!("8gaussians langevin: {m:?}");
    assert_eq!(m.mode_coverage, Some(1.0));
    assert!(m.far_fraction.unwrap() < 0.05, "{m:?}");
    assert!(m.mode_weight_tv.unwrap() < 0.08, "{m:?}");
}

/// Sample covariance, row-major `[d, d]`.
fn covariance(x: &[f64], d: usize) -> Vec<f64> {
    crate::data::testing::moments(x, d).1
}

/// 10⁴ samples of `sampler` on the exact score of `g` (sampler seed `seed`) and the relative
/// Frobenius error of their covariance against `want`.
fn covariance_error(
    sampler: &SamplerConfig,
    g: &dyn Density,
    want: &nalgebra::DMatrix<f64>,
    seed: u64,
) -> (Vec<f64>, f64) {
    let x = sampler
        .sample(
            &ExactScore::new(g),
            None,
            10_000,
            &mut rng(seed, Stream::Sampler),
            &mut NoProgress,
        )
        .unwrap()
        .unwrap();
    let cov = covariance(&x, 3);
    let err = (0..9)
        .map(|k| (cov[k] - want[(k / 3, k % 3)]).powi(2))
        .sum::<f64>()
        .sqrt()
        / want.norm();
    (x, err)
}

#[test]
fn reverse_sde_and_probability_flow_reproduce_a_gaussian_covariance() {
    let p = GaussianParams {
        dim: 3,
        data_seed: 2,
    };
    let g = p.build().unwrap();
    let want = p.covariance();
    let text =
        |name: &str| format!("name = \"{name}\"\nsigma_max = 20.0\nsigma_min = 0.01\nsteps = 500");
    let mut flows = Vec::new();
    for name in ["reverse_sde", "probability_flow"] {
        let (x, err) = covariance_error(&sampler(&text(name)), &g, &want, 3);
        eprintln!("{name}: covariance relative error {err:.4}");
        // Sampling noise of a covariance from 10⁴ points is ≈ 1.5%.
        assert!(err < 0.05, "{name}: relative error {err}");
        flows.push(x);
    }
    // The flow of a Gaussian is linear: x(0) = (Σ + σ_min²)^{1/2} (Σ + σ_max²)^{-1/2} x(1).
    // The ODE solver must follow it point by point from the same prior draws.
    let params = VeSdeParams {
        sigma_min: 0.01,
        sigma_max: 20.0,
        steps: 500,
        denoise: false,
    };
    let start = params.prior(10_000, 3, &mut rng(3, Stream::Sampler));
    let eig = want.clone().symmetric_eigen();
    let scale = eig.eigenvalues.map(|l| ((l + 1e-4) / (l + 400.0)).sqrt());
    let map =
        &eig.eigenvectors * nalgebra::DMatrix::from_diagonal(&scale) * eig.eigenvectors.transpose();
    let mut worst: f64 = 0.0;
    for (x1, x0) in start.chunks_exact(3).zip(flows[1].chunks_exact(3)) {
        let exact = &map * nalgebra::DVector::from_column_slice(x1);
        let diff = (nalgebra::DVector::from_column_slice(x0) - &exact).norm();
        worst = worst.max(diff / exact.norm());
    }
    eprintln!("probability_flow: worst relative deviation from the exact flow {worst:.2e}");
    assert!(worst < 2e-3, "{worst}");
}

/// Predictor–corrector with the exact noised scores, both predictors: the covariance of a 3-D
/// Gaussian (as the reverse SDE above) and the mode weights of 8gaussians.
#[test]
fn predictor_corrector_reproduces_a_gaussian_and_the_eight_mode_weights() {
    let p = GaussianParams {
        dim: 3,
        data_seed: 2,
    };
    let g = p.build().unwrap();
    let want = p.covariance();
    for predictor in ["reverse_diffusion", "euler_maruyama"] {
        let pc = sampler(&format!(
            "name = \"pc\"\nsigma_max = 20.0\nsteps = 300\npredictor = \"{predictor}\""
        ));
        let (_, err) = covariance_error(&pc, &g, &want, 5);
        eprintln!("pc ({predictor}): covariance relative error {err:.4}");
        assert!(err < 0.05, "{predictor}: relative error {err}");
    }
    let eight = density("name = \"8gaussians\"");
    let pc = sampler("name = \"pc\"\nsigma_max = 10.0\nsteps = 300\ndenoise = true");
    let (_, m) = run_exact(&pc, eight.as_ref(), None, 2000, 6);
    eprintln!("pc on 8gaussians: {m:?}");
    assert_eq!(m.mode_coverage, Some(1.0), "{m:?}");
    // Eight equal weights from 2000 samples: the TV's sampling noise is about 0.03.
    assert!(m.mode_weight_tv.unwrap() < 0.06, "{m:?}");
    // Exact samples of a 2-D Gaussian mode lie beyond 3 std with probability e^{−4.5} = 0.011.
    assert!(m.far_fraction.unwrap() < 0.025, "{m:?}");
}

/// Song & Ermon's (2019, §3.2.2, Fig. 3) example: p = 0.8 N((5, 5), I) + 0.2 N((−5, −5), I),
/// chains started uniformly on [−8, 8]², 1000 samples, exact scores (of p for Langevin, of
/// p_σ for annealed Langevin). Plain Langevin (α = 0.05, 1000 steps) cannot cross between the
/// modes, so each mode keeps the chains that started in its basin — about half of the box
/// each — and the weights come out near 0.5/0.5. Annealed Langevin (σ from 10, about the
/// distance between the modes, to 0.1 over 10 levels, 300 steps per level, α = 5e-4) mixes
/// while p_σ is still unimodal and recovers 0.8/0.2; started at σ_max = 1 it cannot.
/// Seen (seed 4): weight TV 0.296 (plain), 0.007 (annealed, upper mode 0.793), 0.286
/// (annealed from σ_max = 1); all three cover both modes. With only 100 steps per level the
/// annealed chains do not settle at the levels where the modes separate and the upper mode
/// gets 0.76–0.78 (TV 0.017–0.041 over seeds 4–7): fewer steps cost weight accuracy.
#[test]
fn annealed_langevin_gets_the_mode_weights_that_plain_langevin_misses() {
    let g = density(
        "name = \"gmm\"\ncomponents = [\n\
         { weight = 0.8, mean = [5.0, 5.0], std = 1.0 },\n\
         { weight = 0.2, mean = [-5.0, -5.0], std = 1.0 },\n]",
    );
    let init = "init = { name = \"uniform\", lo = -8.0, hi = 8.0 }";
    let plain = sampler(&format!(
        "name = \"langevin\"\nsteps = 1000\nstep_size = 0.05\n{init}"
    ));
    let annealed = |sigma_max: f64| {
        sampler(&format!(
            "name = \"annealed\"\nsigma_max = {sigma_max}\nsigma_min = 0.1\nlevels = 10\n\
             steps_per_level = 300\nstep_size = 5e-4\n{init}"
        ))
    };
    let (_, p) = run_exact(&plain, g.as_ref(), None, 1000, 4);
    let (x, a) = run_exact(&annealed(10.0), g.as_ref(), None, 1000, 4);
    let (_, low) = run_exact(&annealed(1.0), g.as_ref(), None, 1000, 4);
    let tv = |m: &SampleMetrics| m.mode_weight_tv.unwrap();
    eprintln!(
        "mode weight TV: plain {:.3}, annealed {:.3}, annealed from σ_max = 1 {:.3}\n\
         plain {p:?}\nannealed {a:?}\nlow {low:?}",
        tv(&p),
        tv(&a),
        tv(&low)
    );
    for m in [&p, &a, &low] {
        assert_eq!(m.mode_coverage, Some(1.0));
    }
    assert!(tv(&p) > 0.2, "plain Langevin: {p:?}");
    assert!(tv(&low) > 0.2, "annealed from σ_max = 1: {low:?}");
    assert!(tv(&a) < 0.04, "annealed: {a:?}");
    // The upper mode's share, directly (binomial sd 0.013).
    let upper = x.chunks_exact(2).filter(|r| r[0] + r[1] > 0.0).count() as f64 / 1000.0;
    assert!((upper - 0.8).abs() < 0.04, "{upper}");
    assert!(
        a.sample_mmd.unwrap() < 0.1 * p.sample_mmd.unwrap(),
        "{a:?} vs {p:?}"
    );
}

#[test]
fn a_diverging_sampler_is_reported_without_metrics() {
    let g = density("name = \"8gaussians\"");
    let out = sample_and_evaluate(
        &sampler("name = \"langevin\"\nsteps = 500\nstep_size = 1000.0"),
        &SampleMetricsConfig {
            samples: 50,
            ..SampleMetricsConfig::default()
        },
        &ExactScore::new(g.as_ref()),
        None,
        g.as_ref(),
        0,
        &mut NoProgress,
    )
    .unwrap()
    .unwrap();
    let message = out.report.message.unwrap();
    assert!(
        message.contains("of 50 samples are not finite"),
        "{message}"
    );
    assert_eq!(out.report.metrics, SampleMetrics::default());
    assert_eq!(out.samples.len(), 100);
}

#[test]
fn denoising_is_the_posterior_mean_of_a_gaussian() {
    // For p = N(0, Σ): x + σ² ∇log p_σ(x) = Σ (Σ + σ²I)⁻¹ x.
    let p = GaussianParams {
        dim: 2,
        data_seed: 1,
    };
    let g = p.build().unwrap();
    let sigma = 0.5;
    let sigma_cov = p.covariance();
    let shrink = &sigma_cov
        * (&sigma_cov + nalgebra::DMatrix::<f64>::identity(2, 2) * (sigma * sigma))
            .try_inverse()
            .unwrap();
    let x0 = [0.3, -1.2, 2.0, 0.7];
    let mut x = x0.to_vec();
    denoise(&mut x, &ExactScore::new(&g), sigma).unwrap();
    for (got, row) in x.chunks_exact(2).zip(x0.chunks_exact(2)) {
        let want = &shrink * nalgebra::DVector::from_column_slice(row);
        assert!((got[0] - want[0]).abs() < 1e-12 && (got[1] - want[1]).abs() < 1e-12);
    }
    // Langevin on p_σ then denoised: covariance Σ (Σ + σ²I)⁻¹ Σ, below Σ + σ²I and Σ.
    let run = |denoise: bool| {
        sampler(&format!(
            "name = \"langevin\"\nsteps = 300\nstep_size = 0.01\ndenoise = {denoise}"
        ))
        .sample(
            &ExactScore::new(&g),
            Some(sigma),
            10_000,
            &mut rng(5, Stream::Sampler),
            &mut NoProgress,
        )
        .unwrap()
        .unwrap()
    };
    let noisy = covariance(&run(false), 2);
    let clean = covariance(&run(true), 2);
    let want_noisy = &sigma_cov + nalgebra::DMatrix::<f64>::identity(2, 2) * (sigma * sigma);
    let want_clean = &shrink * &sigma_cov;
    for k in 0..4 {
        let (i, j) = (k / 2, k % 2);
        assert!(
            (noisy[k] - want_noisy[(i, j)]).abs() < 0.06,
            "{noisy:?} vs {want_noisy}"
        );
        assert!(
            (clean[k] - want_clean[(i, j)]).abs() < 0.04,
            "{clean:?} vs {want_clean}"
        );
    }
}
