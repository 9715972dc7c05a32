//! Sample quality: how close generated samples are to the data density, by the metrics of
//! this module ([`SampleMetric`]), against a reference sample drawn from the density itself.
//!
//! The reference sample and the SWD directions come from `rng(reference_seed, Metric)`, so
//! they are the same for every run seed and sampler: metrics are comparable across runs of
//! one data set. With the defaults (1000 samples, 1000 reference points, 128 directions) all
//! metrics together take about 0.4 s in the test build, mostly the eight RBF kernel
//! evaluations on the 2·10⁶ pairs of the MMDs; the cost grows as (samples + reference)².
//!
//! In a run file:
//! ```toml
//! [sample_metrics]
//! samples = 1000             # drawn by the sampler
//! reference_samples = 1000   # drawn from the data density
//! reference_seed = 0
//! swd_directions = 128
//! mmd_bandwidths = [0.1, 0.2, 0.5, 1.0, 2.0, 5.0]
//! mode_radius = 3.0
//! metrics = ["mmd", "mmd_multi", "energy", "swd", "ksd", "mode_coverage", "mode_weight_tv", "far_fraction"]
//! floor = true               # also the sampler floor: the sampler on the exact score
//! ```

use serde::{Deserialize, Serialize};

use super::modes::{ModeStats, mode_statistics};
use super::presentation::{Better::*, Presentation, Shown};
use super::swd::random_directions;
use super::{energy, ksd, mmd, modes, swd};
use crate::data::Density;
use crate::error::ParamError;
use crate::rng::{Stream, rng};

/// What a metric's value is computed from: the samples, the reference sample drawn from the
/// data density, and what the settings derive from them once for all metrics.
pub struct MetricInputs<'a> {
    /// The generated samples, `[n, dim]`.
    pub samples: &'a [f64],
    /// The data density's score at the samples, `[n, dim]`.
    pub scores: &'a [f64],
    /// The reference sample from the data density, `[m, dim]`.
    pub reference: &'a [f64],
    /// Dimension.
    pub dim: usize,
    /// The sliced Wasserstein distance's random unit directions, `[k, dim]`.
    pub directions: &'a [f64],
    /// Mode statistics of the samples, for densities with modes (when a metric needs them).
    pub modes: Option<&'a ModeStats>,
    /// The settings.
    pub cfg: &'a SampleMetricsConfig,
}

/// Makes [`SampleMetric`] and [`SampleMetrics`] from the registry's lines
/// `Variant(column) = "name", modes: bool, value: function, presentation;`: the names run
/// files use, the CSV column each fills (a field of [`SampleMetrics`]), whether it needs the
/// density's modes, the function (in the metric's own file) that computes it from
/// [`MetricInputs`], and how the column is presented (see [`Presentation`]: `doc`, `label`,
/// `axis`, `better`, `shown` in `[Summary, Page, Plotted]`, `oracle`: whether it needs the
/// true data distribution).
macro_rules! sample_metrics {
    ($($(#[doc = $doc:literal])* $variant:ident($column:ident) = $name:literal,
        modes: $modes:literal, value: $value:path,
        doc: $col_doc:literal, label: $label:literal, axis: $axis:literal,
        better: $better:expr, shown: [$($shown:ident),*], oracle: $oracle:literal;)+) => {
        /// A sample-quality metric, as named in `sample_metrics.metrics`.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum SampleMetric {
            $($(#[doc = $doc])* #[serde(rename = $name)] $variant,)+
        }

        impl SampleMetric {
            /// Every metric, in the order of the CSV columns.
            pub const ALL: &'static [SampleMetric] = &[$(SampleMetric::$variant),+];

            /// Names of every metric.
            pub const NAMES: &'static [&'static str] = &[$($name),+];

            /// The metric's name in run files.
            pub fn name(self) -> &'static str {
                match self { $(SampleMetric::$variant => $name),+ }
            }

            /// The CSV column the metric fills (the field of [`SampleMetrics`]).
            pub fn column(self) -> &'static str {
                match self { $(SampleMetric::$variant => stringify!($column)),+ }
            }

            /// Whether the metric needs the density's modes (mixtures only).
            pub fn needs_modes(self) -> bool {
                match self { $(SampleMetric::$variant => $modes),+ }
            }

            /// The metric's column and how it is shown.
            pub fn presentation(self) -> Presentation {
                match self {
                    $(SampleMetric::$variant => Presentation::new(
                        stringify!($column),
                        concat!("report.sample.metrics.", stringify!($column)),
                        $col_doc,
                        $label,
                        $axis,
                        $better,
                        &[$(Shown::$shown),*],
                        $oracle,
                    ),)+
                }
            }

            /// The column of the metric's sampler floor (`<column>_floor`): the same metric of
            /// the same sampler, settings and seed run on the data's exact score.
            pub fn floor_presentation(self) -> Presentation {
                match self {
                    $(SampleMetric::$variant => Presentation::new(
                        concat!(stringify!($column), "_floor"),
                        concat!("report.sample.floor.", stringify!($column)),
                        concat!(
                            "`", stringify!($column), "` of the same sampler, settings and seed \
                             on the data's exact score: the sampler's share (see Samplers)"
                        ),
                        concat!($label, " floor"),
                        concat!($axis, " (exact score)"),
                        $better,
                        &[],
                        true,
                    ),)+
                }
            }

            /// The metric's value (`None` where it does not apply).
            fn value(self, inputs: &MetricInputs<'_>) -> Option<f64> {
                match self { $(SampleMetric::$variant => $value(inputs)),+ }
            }
        }

        /// The sample-quality numbers of one run; `None` where a metric was not requested,
        /// does not apply (mode metrics on a density without modes) or could not be computed.
        #[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
        pub struct SampleMetrics {
            $($(#[doc = $doc])* pub $column: Option<f64>,)+
        }

        impl SampleMetrics {
            /// The value of `metric`.
            pub fn get(&self, metric: SampleMetric) -> Option<f64> {
                match metric { $(SampleMetric::$variant => self.$column),+ }
            }

            fn slot(&mut self, metric: SampleMetric) -> &mut Option<f64> {
                match metric { $(SampleMetric::$variant => &mut self.$column),+ }
            }
        }
    };
}

sample_metrics! {
    /// `mmd`: unbiased MMD², RBF kernel with the median-heuristic bandwidth of the reference.
    Mmd(sample_mmd) = "mmd", modes: false, value: mmd::median_heuristic_value,
        doc: "unbiased MMD² (RBF kernel, median-heuristic bandwidth) between the samples and fresh data samples",
        label: "MMD²", axis: "MMD² of samples",
        better: Some(Lower), shown: [Page, Plotted, Summary], oracle: false;
    /// `mmd_multi`: unbiased MMD², sum of RBF kernels over `mmd_bandwidths`.
    MmdMulti(sample_mmd_multi) = "mmd_multi", modes: false, value: mmd::multi_bandwidth_value,
        doc: "unbiased MMD² with a sum of RBF kernels over fixed bandwidths",
        label: "MMD² (multi)", axis: "multi-bandwidth MMD² of samples",
        better: Some(Lower), shown: [Page, Plotted], oracle: false;
    /// `energy`: energy distance.
    Energy(sample_energy) = "energy", modes: false, value: energy::value,
        doc: "energy distance between the samples and fresh data samples",
        label: "energy", axis: "energy distance of samples",
        better: Some(Lower), shown: [Page, Plotted], oracle: false;
    /// `swd`: sliced Wasserstein-2 distance over `swd_directions` random directions.
    Swd(sample_swd) = "swd", modes: false, value: swd::value,
        doc: "sliced Wasserstein-2 distance (random directions) between the samples and fresh data samples",
        label: "SWD", axis: "sliced Wasserstein-2 of samples",
        better: Some(Lower), shown: [Page, Plotted], oracle: false;
    /// `ksd`: kernel Stein discrepancy² (IMQ kernel) of the samples under the data's score,
    /// needing no reference sample.
    Ksd(sample_ksd) = "ksd", modes: false, value: ksd::value,
        doc: "kernel Stein discrepancy² (IMQ kernel, U-statistic) of the samples (up to 1000) under the data's exact score: no reference sample; scatters around 0 for exact samples",
        label: "sample KSD²", axis: "kernel Stein discrepancy² of samples",
        better: Some(Lower), shown: [Page, Plotted], oracle: true;
    /// `mode_coverage`: fraction of the mixture's modes with a sample within `mode_radius`
    /// standard deviations (mixtures only).
    ModeCoverage(mode_coverage) = "mode_coverage", modes: true, value: modes::coverage_value,
        doc: "mixtures: fraction of modes with at least one sample within 3 std",
        label: "mode coverage", axis: "mode coverage",
        better: Some(Higher), shown: [Page, Plotted], oracle: true;
    /// `mode_weight_tv`: total variation between empirical and true mode weights (mixtures
    /// only).
    ModeWeightTv(mode_weight_tv) = "mode_weight_tv", modes: true, value: modes::weight_tv_value,
        doc: "mixtures: total-variation distance between the samples' mode weights (nearest mode) and the true weights",
        label: "mode TV", axis: "mode-weight TV distance",
        better: Some(Lower), shown: [Page, Plotted, Summary], oracle: true;
    /// `far_fraction`: fraction of samples beyond `mode_radius` std of every mode (mixtures
    /// only).
    FarFraction(far_fraction) = "far_fraction", modes: true, value: modes::far_fraction_value,
        doc: "mixtures: fraction of samples farther than 3 std from every mode",
        label: "far fraction", axis: "fraction of samples far from modes",
        better: Some(Lower), shown: [Page, Plotted], oracle: true;
}

/// Settings of the sample-quality evaluation that follows a sampler.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SampleMetricsConfig {
    /// Number of samples the sampler draws (default 1000).
    #[serde(default = "default_samples")]
    pub samples: usize,
    /// Size of the reference sample drawn from the data density (default 1000).
    #[serde(default = "default_samples")]
    pub reference_samples: usize,
    /// Seed of the reference sample and the SWD directions, the same for every run seed
    /// (default 0).
    #[serde(default)]
    pub reference_seed: u64,
    /// Number of random directions of the sliced Wasserstein distance (default 128).
    #[serde(default = "default_directions")]
    pub swd_directions: usize,
    /// Bandwidths of `mmd_multi`'s summed RBF kernels (default [0.1, 0.2, 0.5, 1, 2, 5]: from
    /// the 8gaussians mode width to the spread of the gmm examples).
    #[serde(default = "default_bandwidths")]
    pub mmd_bandwidths: Vec<f64>,
    /// Radius, in standard deviations, within which a sample is near a mode (default 3).
    #[serde(default = "default_radius")]
    pub mode_radius: f64,
    /// The metrics to compute (default: all of them).
    #[serde(default = "default_metrics")]
    pub metrics: Vec<SampleMetric>,
    /// Also run the sampler on the data's exact score and record its metrics as the sampler
    /// floor (default true; written only when false, so run ids of configurations without
    /// it do not change).
    #[serde(default = "default_floor", skip_serializing_if = "is_default_floor")]
    pub floor: bool,
}

fn default_samples() -> usize {
    1000
}
fn default_directions() -> usize {
    128
}
fn default_bandwidths() -> Vec<f64> {
    vec![0.1, 0.2, 0.5, 1.0, 2.0, 5.0]
}
fn default_radius() -> f64 {
    3.0
}
fn default_metrics() -> Vec<SampleMetric> {
    SampleMetric::ALL.to_vec()
}
fn default_floor() -> bool {
    true
}
fn is_default_floor(floor: &bool) -> bool {
    *floor == default_floor()
}

impl Default for SampleMetricsConfig {
    fn default() -> Self {
        Self {
            samples: default_samples(),
            reference_samples: default_samples(),
            reference_seed: 0,
            swd_directions: default_directions(),
            mmd_bandwidths: default_bandwidths(),
            mode_radius: default_radius(),
            metrics: default_metrics(),
            floor: default_floor(),
        }
    }
}

impl SampleMetricsConfig {
    /// Whether these are the default settings (left out when a run is written back).
    pub fn is_default(&self) -> bool {
        *self == Self::default()
    }

    /// Every problem with the settings.
    pub fn validate(&self) -> Vec<ParamError> {
        let mut errors = Vec::new();
        for (key, value, min) in [
            ("samples", self.samples, 2),
            ("reference_samples", self.reference_samples, 2),
            ("swd_directions", self.swd_directions, 1),
        ] {
            if value < min {
                errors.push(ParamError::new(
                    key,
                    format!("must be at least {min}, got {value}"),
                ));
            }
        }
        if self.mmd_bandwidths.is_empty() {
            errors.push(ParamError::new("mmd_bandwidths", "give at least one"));
        }
        if let Some(h) = self
            .mmd_bandwidths
            .iter()
            .find(|h| !(**h > 0.0 && h.is_finite()))
        {
            errors.push(ParamError::new(
                "mmd_bandwidths",
                format!("must all be positive, got {h}"),
            ));
        }
        if !(self.mode_radius > 0.0 && self.mode_radius.is_finite()) {
            errors.push(ParamError::new(
                "mode_radius",
                format!("must be positive, got {}", self.mode_radius),
            ));
        }
        errors
    }
}

/// The requested metrics of `samples` against a reference sample of `density`.
///
/// `samples` should be finite; a metric that comes out non-finite is left `None`.
///
/// # Shapes
/// - `samples`: `[n, density.dim()]`, row-major
pub fn sample_metrics(
    samples: &[f64],
    density: &dyn Density,
    cfg: &SampleMetricsConfig,
) -> SampleMetrics {
    let dim = density.dim();
    let mut metric_rng = rng(cfg.reference_seed, Stream::Metric);
    // Data read from a file are compared with their test split.
    let reference = match density.test_split() {
        Some(test) => test[..cfg.reference_samples.min(test.len() / dim) * dim].to_vec(),
        None => density.sample(cfg.reference_samples, &mut metric_rng),
    };
    let directions = random_directions(dim, cfg.swd_directions, &mut metric_rng);
    let mode_stats: Option<ModeStats> = if cfg.metrics.iter().any(|m| m.needs_modes()) {
        density
            .modes()
            .map(|modes| mode_statistics(samples, dim, &modes, cfg.mode_radius))
    } else {
        None
    };
    let scores = if cfg.metrics.contains(&SampleMetric::Ksd) && density.test_split().is_none() {
        density.scores(samples)
    } else {
        Vec::new()
    };
    let inputs = MetricInputs {
        samples,
        scores: &scores,
        reference: &reference,
        dim,
        directions: &directions,
        modes: mode_stats.as_ref(),
        cfg,
    };
    let mut out = SampleMetrics::default();
    for &metric in &cfg.metrics {
        *out.slot(metric) = metric.value(&inputs).filter(|v| v.is_finite());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::DatasetConfig;

    fn density(s: &str) -> Box<dyn Density> {
        toml::from_str::<DatasetConfig>(s).unwrap().build().unwrap()
    }

    fn small() -> SampleMetricsConfig {
        toml::from_str("reference_samples = 400\nswd_directions = 32").unwrap()
    }

    #[test]
    fn every_registered_metric_parses_and_fills_its_column_only() {
        let gmm = density("name = \"8gaussians\"");
        let x = gmm.sample(300, &mut rng(1, Stream::Sampler));
        for (&metric, &name) in SampleMetric::ALL.iter().zip(SampleMetric::NAMES) {
            assert_eq!(metric.name(), name);
            let cfg: SampleMetricsConfig = toml::from_str(&format!(
                "reference_samples = 300\nswd_directions = 8\nmetrics = [\"{name}\"]"
            ))
            .unwrap();
            assert!(cfg.validate().is_empty());
            let m = sample_metrics(&x, gmm.as_ref(), &cfg);
            for &other in SampleMetric::ALL {
                assert_eq!(m.get(other).is_some(), other == metric, "{name}: {m:?}");
            }
        }
        // Without modes, the mode metrics are empty and the others are not.
        let m = sample_metrics(
            &x,
            density("name = \"standard_normal\"\ndim = 2").as_ref(),
            &small(),
        );
        for &metric in SampleMetric::ALL {
            assert_eq!(m.get(metric).is_none(), metric.needs_modes(), "{m:?}");
        }
    }

    #[test]
    fn unknown_metrics_and_bad_settings_name_their_keys() {
        let err = toml::from_str::<SampleMetricsConfig>("metrics = [\"fid\"]")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("mmd_multi") && err.contains("far_fraction"),
            "{err}"
        );
        let err = toml::from_str::<SampleMetricsConfig>("sample = 10")
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown field `sample`"), "{err}");
        let cfg: SampleMetricsConfig = toml::from_str(
            "samples = 1\nreference_samples = 0\nswd_directions = 0\n\
             mmd_bandwidths = [1.0, -2.0]\nmode_radius = 0.0",
        )
        .unwrap();
        let keys: Vec<String> = cfg.validate().into_iter().map(|e| e.key).collect();
        assert_eq!(
            keys,
            [
                "samples",
                "reference_samples",
                "swd_directions",
                "mmd_bandwidths",
                "mode_radius"
            ]
        );
        assert!(SampleMetricsConfig::default().validate().is_empty());
        assert!(
            toml::from_str::<SampleMetricsConfig>("")
                .unwrap()
                .is_default()
        );
    }

    #[test]
    fn the_data_itself_scores_near_zero_and_a_collapsed_sample_does_not() {
        let gmm = density("name = \"8gaussians\"");
        let cfg = small();
        let exact = sample_metrics(
            &gmm.sample(400, &mut rng(3, Stream::Sampler)),
            gmm.as_ref(),
            &cfg,
        );
        // Points piled at the origin: the "mean" of the mixture.
        let collapsed = sample_metrics(&vec![0.0; 800], gmm.as_ref(), &cfg);
        for metric in [
            SampleMetric::Mmd,
            SampleMetric::MmdMulti,
            SampleMetric::Energy,
            SampleMetric::Swd,
            SampleMetric::ModeWeightTv,
            SampleMetric::FarFraction,
        ] {
            let (good, bad) = (exact.get(metric).unwrap(), collapsed.get(metric).unwrap());
            // SWD between two finite samples is biased upwards (≈ 0.17 here, against 1.43).
            let floor = if metric == SampleMetric::Swd {
                0.15
            } else {
                0.1
            };
            assert!(
                bad > 0.05 && good.abs() < floor * bad,
                "{metric:?}: {good} vs {bad}"
            );
        }
        assert_eq!(exact.mode_coverage, Some(1.0));
        assert_eq!(collapsed.mode_coverage, Some(0.0));
    }
}
