//! The column table of `runs.csv`: every column in order, with its meaning and how it is
//! presented. Metric columns come from the library's registries of model metrics
//! ([`ModelMetric`]) and sample metrics ([`SampleMetric`]), which declare each metric's
//! presentation next to it; the others are declared here.

use std::sync::LazyLock;

use scorematch::evaluation::ModelMetric;
use scorematch::metric::SampleMetric;

use super::{Column, id, info, metric, param};

/// Every fixed column, in order: identity, the parameters everyone filters by (short names),
/// metrics (the training loss, the model metrics, what explains them, the sample metrics and
/// their sampler floors),
/// then cost (time, throughput, how the run computed). Every other parameter of the run's
/// configuration is a generated column ([`super::params`]) placed after the short-named
/// parameters. A new metric is one line in its registry; a new report value that is no
/// metric is one entry here; a new configuration field needs none.
pub static COLUMNS: LazyLock<Vec<Column>> = LazyLock::new(|| {
    let model = ModelMetric::ALL
        .iter()
        .map(|m| Column::from(m.presentation()));
    let sample = SampleMetric::ALL
        .iter()
        .map(|m| Column::from(m.presentation()));
    let floor = SampleMetric::ALL
        .iter()
        .map(|m| Column::from(m.floor_presentation()));
    IDENTITY_AND_PARAMETERS
        .iter()
        .chain(TRAINING)
        .copied()
        .chain(model)
        .chain(DETAILS.iter().copied())
        .chain(sample)
        .chain(floor)
        .chain(SAMPLING_AND_COST.iter().copied())
        .collect()
});

/// Identity, then the parameters everyone filters by.
const IDENTITY_AND_PARAMETERS: &[Column] = &[
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
];

/// What training measured of itself.
const TRAINING: &[Column] = &[metric(
    "final_loss",
    "report.final_loss",
    "last recorded training loss (DSM losses use the λ(σ)=σ² weighting ½‖σ s(x̃)+ε‖²)",
)
.labelled("final loss", "final training loss")
.lower_is_better()
.in_summary()
.on_page()];

/// What explains the model metrics: early stopping's choice, why density figures are empty.
const DETAILS: &[Column] = &[
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
    info(
        "density_note",
        "report.density.note",
        "why test_loglik and kl are empty for a model with an energy (e.g. log Z too uncertain)",
    ),
];

/// How the sampler behaved, then cost.
const SAMPLING_AND_COST: &[Column] = &[
    metric(
        "sample_acceptance",
        "report.sample.acceptance",
        "mala: fraction of the proposals accepted",
    )
    .labelled("acceptance", "MALA acceptance rate"),
    metric(
        "sample_rhat",
        "report.sample.rhat",
        "langevin, mala, annealed (last level): split-R̂ of ‖x‖² over the chains in the second half of their steps; ≈ 1 when the chains have mixed, above 1.01–1.1 when they still remember their start",
    )
    .labelled("R̂", "split-R̂ of the sampler's chains")
    .lower_is_better(),
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
