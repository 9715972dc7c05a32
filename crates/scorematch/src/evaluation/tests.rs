use super::*;
use crate::train::{NoProgress, train};

fn config(text: &str) -> RunConfig {
    toml::from_str(text).unwrap()
}

/// A noise-level objective on a Gaussian (closed-form p_σ) with an energy model and a
/// held-out set: every model metric applies.
const EVERY_METRIC: &str = "dataset = { name = \"gaussian\", dim = 2 }\n\
    objective = { name = \"dsm\", sigma = 0.3 }\nmodel = { name = \"energy\", hidden = 8 }\n\
    train = { steps = 20, batch = 16, pool_size = 128, eval_samples = 64, val_samples = 32, \
    log_every = 10, precision = \"f64\" }";

/// A Gaussian fitted by the Gaussian family in closed form: a normalisable energy, so the
/// density-level metrics apply.
const DENSITY_METRICS: &str = "dataset = { name = \"gaussian\", dim = 2 }\n\
    objective = { name = \"ism\" }\nmodel = { name = \"expfam\" }\n\
    train = { pool_size = 512, eval_samples = 200, precision = \"f64\" }";

/// The value at a dotted `path` of the run record (`report.…`).
fn at<'v>(record: &'v serde_json::Value, path: &str) -> &'v serde_json::Value {
    path.split('.').fold(record, |v, key| &v[key])
}

#[test]
fn every_model_metric_is_computed_and_sits_where_it_says() {
    let records: Vec<serde_json::Value> = [EVERY_METRIC, DENSITY_METRICS]
        .into_iter()
        .map(|text| {
            let report = train(&config(text), &mut NoProgress).unwrap().report;
            serde_json::json!({ "report": report })
        })
        .collect();
    for &metric in ModelMetric::ALL {
        let p = metric.presentation();
        assert_eq!(p.name, metric.name());
        let values: Vec<Option<f64>> = records.iter().map(|r| at(r, p.path).as_f64()).collect();
        assert!(
            values.iter().any(|v| v.is_some_and(f64::is_finite)),
            "{}: {values:?} at {}",
            p.name,
            p.path
        );
        assert_ne!(p.label, p.name, "{}", p.name);
    }
    // The metrics of the Fisher divergence need the exact score; the held-out loss does not.
    let oracle = |m: ModelMetric| m.presentation().oracle;
    assert!(oracle(ModelMetric::Fisher) && oracle(ModelMetric::FisherSigmaInit));
    assert!(!oracle(ModelMetric::ValLoss) && !oracle(ModelMetric::ModelKsd));
}

#[test]
fn given_scores_are_judged_as_the_model_that_gives_them() {
    let cfg = config(EVERY_METRIC);
    let trained = train(&cfg, &mut NoProgress).unwrap();
    let density = cfg.dataset.build().unwrap();
    let sets = EvalSets::draw(&cfg, density.as_ref());
    let (model, ctx) = (&trained.model, &trained.ctx);
    let sigma = cfg
        .objective
        .sigma()
        .filter(|_| cfg.model.is_noise_conditional());
    let as_model = ModelInputs::new(
        Scorer::Model { model, ctx, sigma },
        &sets,
        density.as_ref(),
        &cfg,
    );
    let score = ModelScore::new(model, ctx, sets.dim);
    let eval = score.score(&sets.x, sigma).unwrap();
    let noised = score
        .score(&sets.noised.as_ref().unwrap().x, sigma)
        .unwrap();
    let given = ModelInputs::new(
        Scorer::Given {
            eval: &eval,
            noised: Some(&noised),
        },
        &sets,
        density.as_ref(),
        &cfg,
    );
    for metric in [
        ModelMetric::Fisher,
        ModelMetric::FisherSigma,
        ModelMetric::ModelKsd,
    ] {
        let (m, g) = (
            metric.value(&as_model).unwrap().unwrap(),
            metric.value(&given).unwrap().unwrap(),
        );
        assert!((m - g).abs() <= 1e-12 * m.abs(), "{metric:?}: {m} vs {g}");
    }
    // The trained run reported the same numbers.
    assert_eq!(
        trained.report.fisher,
        ModelMetric::Fisher.value(&as_model).unwrap()
    );
    // The exact scores, given, are at Fisher divergence 0 from p and from p_σ.
    let exact_noised = density
        .noised(0.3)
        .unwrap()
        .scores(&sets.noised.as_ref().unwrap().x);
    let exact = Scorer::Given {
        eval: sets.score.as_ref().unwrap(),
        noised: Some(&exact_noised),
    };
    let inputs = ModelInputs::new(exact, &sets, density.as_ref(), &cfg);
    let values = evaluate(ModelMetric::ALL, &inputs).unwrap();
    assert_eq!((values.fisher, values.fisher_sigma), (Some(0.0), Some(0.0)));
    // A model's Jacobian and energy are not there for given scores.
    assert_eq!((values.asymmetry, values.kl), (None, None));
}
