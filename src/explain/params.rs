//! Every method's settings ([`Params`]), with the reference libraries' defaults, and the range of
//! each numeric one ([`PARAMS`]): the CLI validates flags against it and the app's controls are
//! drawn from it.

use serde::{Deserialize, Serialize};
use std::str::FromStr;

/// Integration rule of Integrated Gradients, as Captum names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum IntegrationRule {
    RiemannLeft,
    RiemannRight,
    RiemannMiddle,
    RiemannTrapezoid,
    #[default]
    GaussLegendre,
}

impl IntegrationRule {
    pub const ALL: [IntegrationRule; 5] =
        [Self::GaussLegendre, Self::RiemannTrapezoid, Self::RiemannLeft, Self::RiemannRight, Self::RiemannMiddle];
}

impl FromStr for IntegrationRule {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().replace('-', "_").as_str() {
            "riemann_left" | "left" => Ok(Self::RiemannLeft),
            "riemann_right" | "right" => Ok(Self::RiemannRight),
            "riemann_middle" | "middle" => Ok(Self::RiemannMiddle),
            "riemann_trapezoid" | "trapezoid" => Ok(Self::RiemannTrapezoid),
            "gausslegendre" | "gauss_legendre" => Ok(Self::GaussLegendre),
            _ => Err(format!(
                "unknown integration rule '{s}' (riemann_left, riemann_right, riemann_middle, riemann_trapezoid, gausslegendre)"
            )),
        }
    }
}

/// The reference input of Integrated Gradients and of occlusion's replaced windows.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub enum Baseline {
    /// Zeros in normalised input space (Captum's default: the dataset mean colour).
    #[default]
    Zeros,
    /// A black image (pixel value 0 before normalisation).
    Black,
    /// The input blurred with a Gaussian (sigma 5 px).
    Blurred,
    /// Any image, already normalised and of the input's shape `[3 * H * W]`.
    Custom(Vec<f32>),
}

/// How a 3-channel input attribution becomes one map (Captum's `visualize_image_attr` options).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Reduction {
    /// Sum over channels, then absolute value (Captum `sign="absolute_value"`).
    #[default]
    AbsoluteSum,
    /// Sum over channels, positive part (`sign="positive"`).
    PositiveSum,
    /// Sum over channels, negative part, as magnitudes (`sign="negative"`).
    NegativeSum,
    /// Largest absolute value over channels (Simonyan et al.'s saliency map).
    MaxAbsolute,
}

impl Reduction {
    pub const ALL: [Reduction; 4] = [Self::AbsoluteSum, Self::PositiveSum, Self::NegativeSum, Self::MaxAbsolute];
}

impl FromStr for Reduction {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().replace('-', "_").as_str() {
            "abs" | "absolute" | "absolute_value" | "abs_sum" => Ok(Self::AbsoluteSum),
            "positive" | "pos" => Ok(Self::PositiveSum),
            "negative" | "neg" => Ok(Self::NegativeSum),
            "max_abs" | "maxabs" | "max" => Ok(Self::MaxAbsolute),
            _ => Err(format!("unknown reduction '{s}' (absolute, positive, negative, max_abs)")),
        }
    }
}

/// Every method's settings, with the reference libraries' defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Params {
    /// Images per model pass for the perturbation and sampling methods.
    pub batch: usize,
    /// Seed of SmoothGrad's noise and RISE's masks.
    pub seed: u64,
    pub smoothgrad_samples: usize,
    /// Noise standard deviation in normalised input units (Captum's `stdevs`).
    pub smoothgrad_sigma: f32,
    pub ig_steps: usize,
    pub ig_rule: IntegrationRule,
    pub baseline: Baseline,
    /// Occlusion window side and stride, in pixels.
    pub occlusion_window: usize,
    pub occlusion_stride: usize,
    pub rise_masks: usize,
    /// RISE grid cells per side.
    pub rise_cells: usize,
    /// Probability of a RISE cell being kept.
    pub rise_keep: f32,
    pub reduction: Reduction,
    /// BoostLU's `alpha` for the BoostLU CAM (Kim et al., CVPR 2023; their default 5).
    #[serde(default = "default_boost_alpha")]
    pub boost_alpha: f32,
    /// RISE with early stop (approximate): stop once the normalised map's mean per-pixel change
    /// over one batch falls under this, on two batches in a row.
    #[serde(default = "default_rise_tolerance")]
    pub rise_tolerance: f32,
    /// Score-CAM on the top-k channels (approximate): how many channels, by activation variance.
    #[serde(default = "default_score_cam_top_k")]
    pub score_cam_top_k: usize,
    /// Attention rollout: the fraction of each block's smallest fused attention values set to 0
    /// (0 keeps all, as Abnar & Zuidema).
    #[serde(default)]
    pub rollout_discard: f32,
}

/// Measured on EfficientNet-Lite0 photos at batch 32 (`benches/approximate_modes.py`): RISE
/// stops after about 1,150 of 4,000 masks with a map correlating 0.95-0.96 with the exact one.
fn default_rise_tolerance() -> f32 {
    0.01
}

fn default_score_cam_top_k() -> usize {
    256
}

fn default_boost_alpha() -> f32 {
    5.0
}

impl Default for Params {
    fn default() -> Self {
        Self {
            batch: 32,
            seed: 0,
            smoothgrad_samples: 16,
            smoothgrad_sigma: 0.15,
            ig_steps: 50,
            ig_rule: IntegrationRule::GaussLegendre,
            baseline: Baseline::Zeros,
            occlusion_window: 16,
            occlusion_stride: 8,
            rise_masks: 4000,
            rise_cells: 7,
            rise_keep: 0.5,
            reduction: Reduction::AbsoluteSum,
            boost_alpha: default_boost_alpha(),
            rise_tolerance: default_rise_tolerance(),
            score_cam_top_k: default_score_cam_top_k(),
            rollout_discard: 0.0,
        }
    }
}

/// A numeric parameter: its command-line flag, its label in the app, its valid range (inclusive)
/// and where it lives in [`Params`].
#[derive(Debug, Clone, Copy)]
pub struct ParamSpec {
    /// The `lantern explain` flag, without dashes.
    pub flag: &'static str,
    pub label: &'static str,
    pub min: f64,
    pub max: f64,
    /// Whole numbers only.
    pub integer: bool,
    /// Drawn on a logarithmic slider.
    pub logarithmic: bool,
    pub get: fn(&Params) -> f64,
    pub set: fn(&mut Params, f64),
}

impl ParamSpec {
    /// `Err` with a one-line reason when `value` is outside the range (or not whole).
    pub fn check(&self, value: f64) -> Result<(), String> {
        let whole = !self.integer || value.fract() == 0.0;
        // Settings are stored as f32: a bound typed as a flag (0.01) comes back a hair outside.
        let slack = if self.integer { 0.0 } else { 1e-6 };
        if value.is_finite() && whole && (self.min * (1.0 - slack)..=self.max * (1.0 + slack)).contains(&value) {
            return Ok(());
        }
        let kind = if self.integer { "a whole number" } else { "a number" };
        Err(format!("--{} must be {kind} from {} to {}, got {value}", self.flag, self.min, self.max))
    }
}

/// Images per model pass.
pub const BATCH: ParamSpec = ParamSpec {
    flag: "batch",
    label: "batch",
    min: 1.0,
    max: 1024.0,
    integer: true,
    logarithmic: true,
    get: |p| p.batch as f64,
    set: |p, v| p.batch = v as usize,
};
/// SmoothGrad samples.
pub const SAMPLES: ParamSpec = ParamSpec {
    flag: "samples",
    label: "samples",
    min: 1.0,
    max: 1000.0,
    integer: true,
    logarithmic: true,
    get: |p| p.smoothgrad_samples as f64,
    set: |p, v| p.smoothgrad_samples = v as usize,
};
/// SmoothGrad noise standard deviation, normalised input units.
pub const SIGMA: ParamSpec = ParamSpec {
    flag: "sigma",
    label: "noise sigma",
    min: 0.0,
    max: 10.0,
    integer: false,
    logarithmic: false,
    get: |p| f64::from(p.smoothgrad_sigma),
    set: |p, v| p.smoothgrad_sigma = v as f32,
};
/// Integrated Gradients steps.
pub const STEPS: ParamSpec = ParamSpec {
    flag: "steps",
    label: "steps",
    min: 2.0,
    max: 1000.0,
    integer: true,
    logarithmic: true,
    get: |p| p.ig_steps as f64,
    set: |p, v| p.ig_steps = v as usize,
};
/// Occlusion window side, pixels.
pub const WINDOW: ParamSpec = ParamSpec {
    flag: "window",
    label: "window",
    min: 1.0,
    max: 1024.0,
    integer: true,
    logarithmic: true,
    get: |p| p.occlusion_window as f64,
    set: |p, v| p.occlusion_window = v as usize,
};
/// Occlusion stride, pixels.
pub const STRIDE: ParamSpec = ParamSpec {
    flag: "stride",
    label: "stride",
    min: 1.0,
    max: 1024.0,
    integer: true,
    logarithmic: true,
    get: |p| p.occlusion_stride as f64,
    set: |p, v| p.occlusion_stride = v as usize,
};
/// RISE masks.
pub const MASKS: ParamSpec = ParamSpec {
    flag: "masks",
    label: "masks",
    min: 1.0,
    max: 100_000.0,
    integer: true,
    logarithmic: true,
    get: |p| p.rise_masks as f64,
    set: |p, v| p.rise_masks = v as usize,
};
/// RISE grid cells per side.
pub const CELLS: ParamSpec = ParamSpec {
    flag: "cells",
    label: "grid cells",
    min: 1.0,
    max: 64.0,
    integer: true,
    logarithmic: false,
    get: |p| p.rise_cells as f64,
    set: |p, v| p.rise_cells = v as usize,
};
/// Probability of a RISE cell being kept; 0 would keep nothing and divide by zero.
pub const KEEP: ParamSpec = ParamSpec {
    flag: "keep",
    label: "keep probability",
    min: 0.01,
    max: 1.0,
    integer: false,
    logarithmic: false,
    get: |p| f64::from(p.rise_keep),
    set: |p, v| p.rise_keep = v as f32,
};

/// BoostLU's `alpha` on the positive part of the class activation map (1: no boost).
pub const BOOST_ALPHA: ParamSpec = ParamSpec {
    flag: "boost-alpha",
    label: "BoostLU alpha",
    min: 1.0,
    max: crate::models::metadata::MAX_BOOST_ALPHA as f64,
    integer: false,
    logarithmic: true,
    get: |p| f64::from(p.boost_alpha),
    set: |p, v| p.boost_alpha = v as f32,
};

/// The early-stopping RISE's tolerance: mean per-pixel change of the normalised map per batch.
pub const TOLERANCE: ParamSpec = ParamSpec {
    flag: "tolerance",
    label: "stop below change",
    min: 1e-6,
    max: 0.5,
    integer: false,
    logarithmic: true,
    get: |p| f64::from(p.rise_tolerance),
    set: |p, v| p.rise_tolerance = v as f32,
};

/// Channels the top-k Score-CAM scores.
pub const TOP_K: ParamSpec = ParamSpec {
    flag: "top-k",
    label: "channels (top k)",
    min: 1.0,
    max: 100_000.0,
    integer: true,
    logarithmic: true,
    get: |p| p.score_cam_top_k as f64,
    set: |p, v| p.score_cam_top_k = v as usize,
};

/// The share of attention values attention rollout discards per block.
pub const DISCARD: ParamSpec = ParamSpec {
    flag: "discard",
    label: "discard ratio",
    min: 0.0,
    max: 1.0,
    integer: false,
    logarithmic: false,
    get: |p| f64::from(p.rollout_discard),
    set: |p, v| p.rollout_discard = v as f32,
};

/// Every numeric parameter.
pub const PARAMS: [ParamSpec; 13] =
    [BATCH, SAMPLES, SIGMA, STEPS, WINDOW, STRIDE, MASKS, CELLS, KEEP, BOOST_ALPHA, TOLERANCE, TOP_K, DISCARD];

impl Params {
    /// `Err` naming the first parameter outside its range.
    pub fn validate(&self) -> Result<(), String> {
        PARAMS.iter().try_for_each(|p| p.check((p.get)(self)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_ranges_reject_what_breaks_a_method() {
        Params::default().validate().unwrap();
        for (spec, bad) in [
            (KEEP, 0.0),
            (KEEP, 1.5),
            (STEPS, 1.0),
            (WINDOW, 0.0),
            (MASKS, 0.0),
            (CELLS, 0.0),
            (SIGMA, f64::NAN),
            (BOOST_ALPHA, 0.5),
            (TOLERANCE, 0.0),
            (TOP_K, 0.0),
            (DISCARD, 1.5),
        ] {
            let mut p = Params::default();
            (spec.set)(&mut p, bad);
            let err = p.validate().unwrap_err();
            assert!(err.contains(&format!("--{}", spec.flag)), "{err}");
        }
    }

    #[test]
    fn bounds_survive_the_round_trip_through_f32() {
        for spec in PARAMS {
            let mut p = Params::default();
            (spec.set)(&mut p, spec.min);
            p.validate().unwrap_or_else(|e| panic!("{}: {e}", spec.flag));
        }
    }

    #[test]
    fn get_reads_what_set_wrote() {
        for spec in PARAMS {
            let mut p = Params::default();
            (spec.set)(&mut p, spec.max);
            assert_eq!((spec.get)(&p), spec.max, "{}", spec.flag);
        }
    }
}
