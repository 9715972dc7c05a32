//! The column table of `runs.csv`: every column in order, with its meaning and how it is
//! presented.

use super::{Column, id, info, metric, param};

/// Every fixed column, in order: identity, the parameters everyone filters by (short names),
/// metrics, then cost (time, throughput, how the run computed). Every other parameter of the
/// run's configuration is a generated column ([`super::params`]) placed after the short-named
/// parameters. A new report value is one entry here; a new configuration field needs none.
pub const COLUMNS: &[Column] = &[
    id(
        "run_id",
        "run_id",
        "hash of the run's resolved configuration; its directory is runs/<run_id>/",
    ),
    info(
        "sweep",
        "sweep",
        "name of the sweep that ran it",
    ),
    info(
        "status",
        "status",
        "ok; diverged (the loss or the final Fisher divergence became non-finite, training stopped); failed (error or panic); pruned (stopped at a rung by a search's [search.prune] rule)",
    ),
    info(
        "error",
        "error",
        "why the run diverged or failed; empty when ok",
    ),
    id(
        "config_id",
        "config_id",
        "hash of the configuration without its seed: the seeds of one configuration share it",
    ),
    id(
        "train_id",
        "train_id",
        "hash of the configuration without its sampler and sample metrics: the runs of one trained model share it",
    ),
    info(
        "trained_in",
        "trained_in",
        "the run whose trained model this run sampled from (a sweep trains each train_id once); empty when it trained itself",
    ),
    param(
        "dataset",
        "config.dataset.name",
        "data set",
    ),
    param(
        "dim",
        "derived.dim",
        "dimension D of the data",
    )
    .labelled("dim", "dimension D"),
    param(
        "model",
        "config.model.name",
        "score model",
    ),
    param(
        "objective",
        "config.objective.name",
        "training objective",
    ),
    param(
        "sigma",
        "derived.sigma",
        "noise level σ the objective targets (dsm; esm with sigma; smallest level of dsm-multi, ssm-multi, ssm-vr-multi); empty for objectives on clean data",
    )
    .labelled("sigma", "noise level σ"),
    param(
        "backend",
        "config.backend",
        "burn backend",
    ),
    param(
        "seed",
        "config.seed",
        "run seed (initialisation, training pool, batches, noise)",
    ),
    param(
        "steps",
        "config.train.steps",
        "optimiser steps asked for",
    ),
    param(
        "batch",
        "config.train.batch",
        "batch size",
    ),
    param(
        "lr",
        "config.train.lr",
        "Adam learning rate",
    ),
    param(
        "sampler",
        "config.sampler.name",
        "sampler run after training (see Samplers); empty without one",
    ),
    metric(
        "final_loss",
        "report.final_loss",
        "last recorded training loss (DSM losses use the λ(σ)=σ² weighting ½‖σ s(x̃)+ε‖²)",
    )
    .labelled("final loss", "final training loss")
    .lower_is_better()
    .in_summary()
    .on_page(),
    metric(
        "fisher_init",
        "report.fisher_init",
        "Fisher divergence ½E_p‖s_θ − ∇log p‖² of the initial model",
    )
    .labelled("Fisher at init", "Fisher divergence to p at initialisation")
    .lower_is_better()
    .in_summary()
    .on_page()
    .oracle(),
    metric(
        "fisher",
        "report.fisher",
        "Fisher divergence against p after training; empty if diverged",
    )
    .labelled("Fisher", "Fisher divergence to p")
    .lower_is_better()
    .in_summary()
    .on_page()
    .plotted()
    .oracle(),
    metric(
        "fisher_sigma_init",
        "report.fisher_sigma_init",
        "Fisher divergence against the noised data p_σ of the initial model (objectives with σ, data sets with a closed-form p_σ)",
    )
    .labelled("Fisher vs p_σ at init", "Fisher divergence to p_σ at initialisation")
    .lower_is_better()
    .oracle(),
    metric(
        "fisher_sigma",
        "report.fisher_sigma",
        "Fisher divergence against p_σ after training",
    )
    .labelled("Fisher vs p_σ", "Fisher divergence to p_σ")
    .lower_is_better()
    .in_summary()
    .on_page()
    .plotted()
    .oracle(),
    metric(
        "val_loss",
        "report.val_loss",
        "with val_samples: the objective's loss on a held-out set from the data density (the best one under early stopping, else the last); for ISM and SSM-VR the Fisher divergence up to a constant",
    )
    .labelled("val loss", "held-out loss")
    .lower_is_better()
    .on_page()
    .in_summary(),
    info(
        "best_step",
        "report.best_step",
        "with early_stopping: the step whose weights were kept",
    ),
    info(
        "stopped_early",
        "report.stopped_early",
        "true when early stopping ended training before steps",
    ),
    metric(
        "model_ksd",
        "report.model_ksd",
        "kernel Stein discrepancy² (IMQ kernel, U-statistic) of up to 1000 evaluation points under the trained score: a goodness of fit from data alone, with or without a sampler",
    )
    .labelled("model KSD²", "kernel Stein discrepancy² of the data under the model")
    .lower_is_better()
    .on_page()
    .plotted()
    .in_summary(),
    metric(
        "asymmetry",
        "report.asymmetry",
        "relative squared Frobenius norm E‖J − Jᵀ‖²_F / E‖J‖²_F of the trained score's Jacobian J on up to 1000 evaluation points: how far it is from a gradient field (0 up to rounding for models with an energy)",
    )
    .labelled(
        "J asymmetry²",
        "Jacobian asymmetry, squared: ‖J − Jᵀ‖²_F / ‖J‖²_F",
    )
    .lower_is_better()
    .on_page(),
    metric(
        "test_loglik",
        "report.density.test_loglik",
        "models with an energy: mean log p_θ(x) = −E_θ(x) − log Z_θ over the evaluation set",
    )
    .labelled("test log-lik", "test log-likelihood")
    .higher_is_better()
    .on_page()
    .plotted(),
    metric(
        "kl",
        "report.density.kl",
        "models with an energy: KL(p‖p_θ) = E_p[log p − log p_θ] over the evaluation set (p is known exactly)",
    )
    .labelled("KL", "KL(p‖p_θ)")
    .lower_is_better()
    .in_summary()
    .on_page()
    .plotted()
    .oracle(),
    metric(
        "log_z",
        "report.density.log_z",
        "models with an energy: log Z_θ = log ∫ e^{−E_θ}, by quadrature on a box covering the data (D ≤ 3) or importance sampling",
    )
    .labelled("log Z", "log Z_θ"),
    metric(
        "log_z_se",
        "report.density.log_z_se",
        "error of log Z_θ: the last grid refinement's change (quadrature) or the standard error (importance sampling)",
    )
    .labelled("log Z error", "error of log Z_θ")
    .lower_is_better(),
    info(
        "density_note",
        "report.density.note",
        "why test_loglik and kl are empty for a model with an energy (e.g. log Z too uncertain)",
    ),
    metric(
        "sample_mmd",
        "report.sample.metrics.sample_mmd",
        "unbiased MMD² (RBF kernel, median-heuristic bandwidth) between the samples and fresh data samples",
    )
    .labelled("MMD²", "MMD² of samples")
    .lower_is_better()
    .on_page()
    .plotted()
    .in_summary(),
    metric(
        "sample_energy",
        "report.sample.metrics.sample_energy",
        "energy distance between the samples and fresh data samples",
    )
    .labelled("energy", "energy distance of samples")
    .lower_is_better()
    .on_page()
    .plotted(),
    metric(
        "sample_swd",
        "report.sample.metrics.sample_swd",
        "sliced Wasserstein-2 distance (random directions) between the samples and fresh data samples",
    )
    .labelled("SWD", "sliced Wasserstein-2 of samples")
    .lower_is_better()
    .on_page()
    .plotted(),
    metric(
        "sample_ksd",
        "report.sample.metrics.sample_ksd",
        "kernel Stein discrepancy² (IMQ kernel, U-statistic) of the samples (up to 1000) under the data's exact score: no reference sample; scatters around 0 for exact samples",
    )
    .labelled("sample KSD²", "kernel Stein discrepancy² of samples")
    .lower_is_better()
    .on_page()
    .plotted()
    .oracle(),
    metric(
        "mode_coverage",
        "report.sample.metrics.mode_coverage",
        "mixtures: fraction of modes with at least one sample within 3 std",
    )
    .labelled("mode coverage", "mode coverage")
    .higher_is_better()
    .on_page()
    .plotted()
    .oracle(),
    metric(
        "mode_weight_tv",
        "report.sample.metrics.mode_weight_tv",
        "mixtures: total-variation distance between the samples' mode weights (nearest mode) and the true weights",
    )
    .labelled("mode TV", "mode-weight TV distance")
    .lower_is_better()
    .on_page()
    .plotted()
    .in_summary()
    .oracle(),
    metric(
        "far_fraction",
        "report.sample.metrics.far_fraction",
        "mixtures: fraction of samples farther than 3 std from every mode",
    )
    .labelled("far fraction", "fraction of samples far from modes")
    .lower_is_better()
    .on_page()
    .plotted()
    .oracle(),
    metric(
        "sample_mmd_multi",
        "report.sample.metrics.sample_mmd_multi",
        "unbiased MMD² with a sum of RBF kernels over fixed bandwidths",
    )
    .labelled("MMD² (multi)", "multi-bandwidth MMD² of samples")
    .lower_is_better()
    .on_page()
    .plotted(),
    metric(
        "sample_acceptance",
        "report.sample.acceptance",
        "mala: fraction of the proposals accepted",
    )
    .labelled("acceptance", "MALA acceptance rate"),
    metric(
        "train_s",
        "report.train_seconds",
        "wall time of the training loop in seconds (evaluation excluded)",
    )
    .labelled("train s", "training wall time (s)")
    .lower_is_better()
    .on_page(),
    metric(
        "steps_per_sec",
        "report.steps_per_sec",
        "optimiser steps per second",
    )
    .labelled("steps/s", "optimiser steps per second")
    .higher_is_better()
    .in_summary(),
    metric(
        "steps_done",
        "report.steps_done",
        "optimiser steps taken (fewer than steps if diverged)",
    )
    .labelled("steps done", "optimiser steps taken"),
    metric(
        "sample_s",
        "report.sample.sample_seconds",
        "wall time of sampling in seconds",
    )
    .labelled("sample s", "sampling wall time (s)")
    .lower_is_better(),
    metric(
        "method_seconds",
        "report.method_seconds",
        "external methods: the training time the command reported in result.json (train_s is the command's whole wall time)",
    )
    .labelled("method s", "method's own training time (s)")
    .lower_is_better(),
    info(
        "kernels",
        "report.kernels",
        "training engine that ran the steps: fused (host kernels) or reference (burn)",
    ),
    info(
        "trace_path",
        "report.trace_path",
        "exact-trace path ISM used",
    ),
    info(
        "threads",
        "threads",
        "threads the run's tensor work used",
    ),
    info(
        "version",
        "version",
        "scorematch version that ran it",
    ),
];
