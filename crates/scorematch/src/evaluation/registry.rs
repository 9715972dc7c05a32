//! The registry of model metrics: one line per metric of a score model, with the function
//! that computes it from [`ModelInputs`] and its column's presentation. The runner makes its
//! metric columns from these lines.

use super::{ModelInputs, Scorer};
use crate::error::Result;
use crate::metric::Better::{Higher, Lower};
use crate::metric::{
    KSD_POINTS, Presentation, Shown, asymmetry, fisher_divergence, fisher_divergence_of_scores,
    kernel_stein_discrepancy,
};

/// Makes [`ModelMetric`] and [`ModelMetricValues`] from the registry's lines
/// `Variant(name) = value: function, path, doc, label, axis, better, shown, oracle;`: the
/// column name (a field of [`ModelMetricValues`]), the function computing it, where it sits in
/// the run record, and how it is presented (see [`Presentation`]; `oracle`: whether it needs
/// the true data distribution).
macro_rules! model_metrics {
    ($($(#[doc = $doc:literal])* $variant:ident($name:ident) = value: $value:path,
        path: $path:literal, doc: $col_doc:literal, label: $label:literal, axis: $axis:literal,
        better: $better:expr, shown: [$($shown:ident),*], oracle: $oracle:literal;)+) => {
        /// A metric of a score model.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum ModelMetric {
            $($(#[doc = $doc])* $variant,)+
        }

        impl ModelMetric {
            /// Every metric, in the order of the columns.
            pub const ALL: &'static [ModelMetric] = &[$(ModelMetric::$variant),+];

            /// The metric's column name.
            pub fn name(self) -> &'static str {
                match self { $(ModelMetric::$variant => stringify!($name)),+ }
            }

            /// The metric's column and how it is shown.
            pub fn presentation(self) -> Presentation {
                match self {
                    $(ModelMetric::$variant => Presentation::new(
                        stringify!($name),
                        $path,
                        $col_doc,
                        $label,
                        $axis,
                        $better,
                        &[$(Shown::$shown),*],
                        $oracle,
                    ),)+
                }
            }

            /// The metric's value (`None` where it does not apply).
            pub fn value(self, inputs: &ModelInputs<'_>) -> Result<Option<f64>> {
                match self { $(ModelMetric::$variant => $value(inputs)),+ }
            }
        }

        /// The model metrics of one evaluation; `None` where a metric was not computed or
        /// does not apply.
        #[derive(Clone, Debug, Default, PartialEq)]
        pub struct ModelMetricValues {
            $($(#[doc = $doc])* pub $name: Option<f64>,)+
        }

        impl ModelMetricValues {
            /// The value of `metric`.
            pub fn get(&self, metric: ModelMetric) -> Option<f64> {
                match metric { $(ModelMetric::$variant => self.$name),+ }
            }

            pub(super) fn slot(&mut self, metric: ModelMetric) -> &mut Option<f64> {
                match metric { $(ModelMetric::$variant => &mut self.$name),+ }
            }
        }
    };
}

model_metrics! {
    /// Fisher divergence against p of the initial model.
    FisherInit(fisher_init) = value: fisher, path: "report.fisher_init",
        doc: "Fisher divergence ½E_p‖s_θ − ∇log p‖² of the initial model",
        label: "Fisher at init", axis: "Fisher divergence to p at initialisation",
        better: Some(Lower), shown: [Summary, Page], oracle: true;
    /// Fisher divergence against p after training.
    Fisher(fisher) = value: fisher, path: "report.fisher",
        doc: "Fisher divergence against p after training; empty if diverged",
        label: "Fisher", axis: "Fisher divergence to p",
        better: Some(Lower), shown: [Summary, Page, Plotted], oracle: true;
    /// Fisher divergence against p_σ of the initial model.
    FisherSigmaInit(fisher_sigma_init) = value: fisher_sigma, path: "report.fisher_sigma_init",
        doc: "Fisher divergence against the noised data p_σ of the initial model (objectives with σ, data sets with a closed-form p_σ)",
        label: "Fisher vs p_σ at init", axis: "Fisher divergence to p_σ at initialisation",
        better: Some(Lower), shown: [], oracle: true;
    /// Fisher divergence against p_σ after training.
    FisherSigma(fisher_sigma) = value: fisher_sigma, path: "report.fisher_sigma",
        doc: "Fisher divergence against p_σ after training",
        label: "Fisher vs p_σ", axis: "Fisher divergence to p_σ",
        better: Some(Lower), shown: [Summary, Page, Plotted], oracle: true;
    /// The objective's loss on the held-out set.
    ValLoss(val_loss) = value: held_out_loss, path: "report.val_loss",
        doc: "with val_samples: the objective's loss on a held-out set from the data density (the best one under early stopping, else the last); for ISM and SSM-VR the Fisher divergence up to a constant",
        label: "val loss", axis: "held-out loss",
        better: Some(Lower), shown: [Page, Summary], oracle: false;
    /// Kernel Stein discrepancy² of the evaluation points under the model's score.
    ModelKsd(model_ksd) = value: model_ksd, path: "report.model_ksd",
        doc: "kernel Stein discrepancy² (IMQ kernel, U-statistic) of up to 1000 evaluation points under the trained score: a goodness of fit from data alone, with or without a sampler",
        label: "model KSD²", axis: "kernel Stein discrepancy² of the data under the model",
        better: Some(Lower), shown: [Page, Plotted, Summary], oracle: false;
    /// How far the score's Jacobian is from symmetric.
    Asymmetry(asymmetry) = value: jacobian_asymmetry, path: "report.asymmetry",
        doc: "relative squared Frobenius norm E‖J − Jᵀ‖²_F / E‖J‖²_F of the trained score's Jacobian J on up to 1000 evaluation points: how far it is from a gradient field (0 up to rounding for models with an energy)",
        label: "J asymmetry²", axis: "Jacobian asymmetry, squared: ‖J − Jᵀ‖²_F / ‖J‖²_F",
        better: Some(Lower), shown: [Page], oracle: false;
    /// Mean log-likelihood of the evaluation points (models with an energy).
    TestLoglik(test_loglik) = value: test_loglik, path: "report.density.test_loglik",
        doc: "models with an energy: mean log p_θ(x) = −E_θ(x) − log Z_θ over the evaluation set",
        label: "test log-lik", axis: "test log-likelihood",
        better: Some(Higher), shown: [Page, Plotted], oracle: false;
    /// KL(p‖p_θ) (models with an energy).
    Kl(kl) = value: kl, path: "report.density.kl",
        doc: "models with an energy: KL(p‖p_θ) = E_p[log p − log p_θ] over the evaluation set (p is known exactly)",
        label: "KL", axis: "KL(p‖p_θ)",
        better: Some(Lower), shown: [Summary, Page, Plotted], oracle: true;
    /// log Z_θ (models with an energy).
    LogZ(log_z) = value: log_z, path: "report.density.log_z",
        doc: "models with an energy: log Z_θ = log ∫ e^{−E_θ}, by quadrature on a box covering the data (D ≤ 3) or importance sampling",
        label: "log Z", axis: "log Z_θ",
        better: None, shown: [], oracle: false;
    /// The error of log Z_θ.
    LogZSe(log_z_se) = value: log_z_se, path: "report.density.log_z_se",
        doc: "error of log Z_θ: the last grid refinement's change (quadrature) or the standard error (importance sampling)",
        label: "log Z error", axis: "error of log Z_θ",
        better: Some(Lower), shown: [], oracle: false;
}

/// ½ mean ‖s − ∇log p‖² on the evaluation points (data with an exact score): a model's by
/// its forward passes, given scores on the host.
fn fisher(i: &ModelInputs<'_>) -> Result<Option<f64>> {
    let (Some(exact), dim) = (&i.sets.score, i.sets.dim) else {
        return Ok(None);
    };
    match &i.scorer {
        Scorer::Model { model, ctx, sigma } => {
            fisher_divergence(model, &i.sets.x, exact, dim, *sigma, ctx).map(Some)
        }
        Scorer::Given { eval, .. } => Ok(Some(fisher_divergence_of_scores(eval, exact, dim))),
    }
}

/// ½ mean ‖s − ∇log p_σ‖² on the noised points (data with an exact score and a closed-form
/// p_σ).
fn fisher_sigma(i: &ModelInputs<'_>) -> Result<Option<f64>> {
    let (Some(_), Some(noised), dim) = (&i.sets.score, &i.sets.noised, i.sets.dim) else {
        return Ok(None);
    };
    let Some(exact) = &noised.score else {
        return Ok(None);
    };
    match &i.scorer {
        Scorer::Model { model, ctx, sigma } => {
            fisher_divergence(model, &noised.x, exact, dim, *sigma, ctx).map(Some)
        }
        Scorer::Given { noised, .. } => {
            Ok(noised.map(|s| fisher_divergence_of_scores(s, exact, dim)))
        }
    }
}

fn held_out_loss(i: &ModelInputs<'_>) -> Result<Option<f64>> {
    Ok(i.val_loss)
}

/// KSD² of (up to [`KSD_POINTS`]) evaluation points under the scores.
fn model_ksd(i: &ModelInputs<'_>) -> Result<Option<f64>> {
    let rows = KSD_POINTS.min(i.sets.rows());
    let scores = i.scorer.scores_at(i.sets, rows)?;
    let points = &i.sets.x[..rows * i.sets.dim];
    Ok(Some(kernel_stein_discrepancy(points, &scores, i.sets.dim)).filter(|v| v.is_finite()))
}

/// The Jacobian asymmetry of a model (given scores have no Jacobian).
fn jacobian_asymmetry(i: &ModelInputs<'_>) -> Result<Option<f64>> {
    match &i.scorer {
        Scorer::Model { model, ctx, sigma } => asymmetry(model, &i.sets.x, i.sets.dim, *sigma, ctx),
        Scorer::Given { .. } => Ok(None),
    }
}

fn test_loglik(i: &ModelInputs<'_>) -> Result<Option<f64>> {
    Ok(i.density_fit()?.and_then(|f| f.test_loglik))
}

fn kl(i: &ModelInputs<'_>) -> Result<Option<f64>> {
    Ok(i.density_fit()?.and_then(|f| f.kl))
}

fn log_z(i: &ModelInputs<'_>) -> Result<Option<f64>> {
    Ok(i.density_fit()?.and_then(|f| f.log_z))
}

fn log_z_se(i: &ModelInputs<'_>) -> Result<Option<f64>> {
    Ok(i.density_fit()?.and_then(|f| f.log_z_se))
}
