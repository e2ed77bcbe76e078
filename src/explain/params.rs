//! Every method's settings ([`Params`]), with the reference libraries' defaults, and what each
//! parameter takes ([`ParamSpec`], generic over the settings it lives in, so the pair methods'
//! parameters are described the same way): the CLI's flags and checks and the app's controls are
//! drawn from these.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

crate::names::named_enum! {
    /// Integration rule of Integrated Gradients, as Captum names them.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
    pub enum IntegrationRule ("integration rule") {
        #[default]
        GaussLegendre = "gausslegendre" | "gauss_legendre" | "gauss-legendre",
        RiemannTrapezoid = "riemann_trapezoid" | "trapezoid" | "riemann-trapezoid",
        RiemannLeft = "riemann_left" | "left" | "riemann-left",
        RiemannRight = "riemann_right" | "right" | "riemann-right",
        RiemannMiddle = "riemann_middle" | "middle" | "riemann-middle",
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

impl Baseline {
    /// The names users type for the baselines that are not an image.
    pub const NAMES: [&'static str; 3] = ["zeros", "black", "blurred"];

    /// The name users type (`image` for a custom one).
    pub fn name(&self) -> &'static str {
        match self {
            Baseline::Zeros => "zeros",
            Baseline::Black => "black",
            Baseline::Blurred => "blurred",
            Baseline::Custom(_) => "image",
        }
    }

    /// The baseline named `name` (not an image).
    pub fn named(name: &str) -> Result<Self, String> {
        match name.trim().to_ascii_lowercase().as_str() {
            "zeros" | "zero" => Ok(Baseline::Zeros),
            "black" => Ok(Baseline::Black),
            "blurred" | "blur" => Ok(Baseline::Blurred),
            _ => Err(format!("unknown baseline '{name}' (choose zeros, black, blurred, or an image file)")),
        }
    }
}

crate::names::named_enum! {
    /// How a 3-channel input attribution becomes one map (Captum's `visualize_image_attr` options).
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
    pub enum Reduction ("reduction") {
        /// Sum over channels, then absolute value (Captum `sign="absolute_value"`).
        #[default]
        AbsoluteSum = "absolute" | "abs" | "absolute_value" | "absolute-value" | "abs_sum" | "abs-sum",
        /// Sum over channels, positive part (`sign="positive"`).
        PositiveSum = "positive" | "pos",
        /// Sum over channels, negative part, as magnitudes (`sign="negative"`).
        NegativeSum = "negative" | "neg",
        /// Largest absolute value over channels (Simonyan et al.'s saliency map).
        MaxAbsolute = "max_abs" | "max-abs" | "maxabs" | "max",
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
    /// The parameters a method file declares for itself, by flag ([`Params::number`]).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub extra: BTreeMap<String, f64>,
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
            extra: BTreeMap::new(),
        }
    }
}

/// The largest seed a flag takes: integers are exact in an `f64` up to 2^53.
pub const MAX_SEED: f64 = 9_007_199_254_740_992.0;

/// A parameter a method reads: its command-line flag, its label in the app, and what values it
/// takes, in the settings `P` of its methods ([`Params`] for the registry's methods, the pair
/// settings for the pair methods). The command's flags, `lantern methods`, the validation and the
/// app's controls are all drawn from these; the default is `P::default()`'s.
#[derive(Debug)]
pub struct ParamSpec<P: 'static = Params> {
    /// The command-line flag, without dashes.
    pub flag: &'static str,
    pub label: &'static str,
    /// One line for `--help`.
    pub help: &'static str,
    pub kind: ParamKind<P>,
}

/// What values a parameter takes.
#[derive(Debug)]
pub enum ParamKind<P: 'static = Params> {
    Number(Number<P>),
    Choice(Choice<P>),
}

/// A number in a range (inclusive) and where it lives in the settings `P`.
#[derive(Debug)]
pub struct Number<P: 'static = Params> {
    pub min: f64,
    pub max: f64,
    /// Whole numbers only.
    pub integer: bool,
    /// Drawn on a logarithmic slider.
    pub logarithmic: bool,
    pub get: fn(&P) -> f64,
    pub set: fn(&mut P, f64),
}

/// One of a few named values (an enum of [`crate::names::named_enum!`], or the baseline).
#[derive(Debug)]
pub struct Choice<P: 'static = Params> {
    /// The names offered, in menu order.
    pub names: fn() -> Vec<&'static str>,
    /// The current value's name.
    pub get: fn(&P) -> &'static str,
    /// Set the value a user typed (a name or an alias); `Err` with the choices otherwise.
    pub set: fn(&mut P, &str) -> Result<(), String>,
    /// Also takes an image file, loaded and preprocessed like the input (the baseline).
    pub image: Option<fn(&mut P, Vec<f32>)>,
}

// Copied by value whatever `P` is (they hold function pointers, never a `P`), which derive
// would only allow for a `P: Copy`.
macro_rules! copy_whatever_the_settings {
    ($($t:ident),*) => {$(
        impl<P> Clone for $t<P> {
            fn clone(&self) -> Self {
                *self
            }
        }
        impl<P> Copy for $t<P> {}
    )*};
}
copy_whatever_the_settings!(ParamSpec, ParamKind, Number, Choice);

/// A set of settings whose every parameter is a [`ParamSpec`]: what a command turns into flags
/// and checks ([`Params`] with the registry's parameters, the pair settings with the pair
/// registry's).
pub trait ParamSet: Default + Sized + 'static {
    /// Every parameter, each once (by flag).
    fn all() -> Vec<ParamSpec<Self>>;

    /// `Err` naming the first parameter outside its range.
    fn validate(&self) -> Result<(), String> {
        Self::all().iter().try_for_each(|p| p.check(self))
    }
}

impl<P> Number<P> {
    /// `Err` with a one-line reason when `value` is outside the range (or not whole).
    pub fn check(&self, flag: &str, value: f64) -> Result<(), String> {
        let whole = !self.integer || value.fract() == 0.0;
        // Settings are stored as f32: a bound typed as a flag (0.01) comes back a hair outside.
        let slack = if self.integer { 0.0 } else { 1e-6 };
        if value.is_finite() && whole && (self.min * (1.0 - slack)..=self.max * (1.0 + slack)).contains(&value) {
            return Ok(());
        }
        let kind = if self.integer { "a whole number" } else { "a number" };
        Err(format!("--{flag} must be {kind} from {} to {}, got {value}", self.min, self.max))
    }

    /// `value` as a flag's default is written: whole numbers without a point, others as the
    /// `f32` they are stored in (0.15, not 0.15000000596).
    pub fn format(&self, value: f64) -> String {
        if self.integer { format!("{}", value as u64) } else { format!("{}", value as f32) }
    }
}

impl<P> ParamSpec<P> {
    /// `Err` with a one-line reason when `p`'s value of this parameter is not one it takes.
    pub fn check(&self, p: &P) -> Result<(), String> {
        match &self.kind {
            ParamKind::Number(n) => n.check(self.flag, (n.get)(p)),
            ParamKind::Choice(_) => Ok(()),
        }
    }

    /// The value of this parameter in `p`, as typed on the command line.
    pub fn text(&self, p: &P) -> String {
        match &self.kind {
            ParamKind::Number(n) => n.format((n.get)(p)),
            ParamKind::Choice(c) => (c.get)(p).to_string(),
        }
    }

    /// Set this parameter of `p` from what was typed (`--flag text`); not checked against the
    /// range (see [`ParamSpec::check`]). An image baseline is set by the caller, who can load it.
    pub fn parse(&self, p: &mut P, text: &str) -> Result<(), String> {
        match &self.kind {
            ParamKind::Number(n) => {
                let v: f64 = text.trim().parse().map_err(|_| format!("--{}: '{text}' is not a number", self.flag))?;
                (n.set)(p, v);
                Ok(())
            }
            ParamKind::Choice(c) => (c.set)(p, text).map_err(|e| format!("--{}: {e}", self.flag)),
        }
    }

    /// The range of a number, the names of a choice: what `lantern methods` lists.
    pub fn describe(&self) -> String {
        match &self.kind {
            ParamKind::Number(n) => format!("--{} {}..{}", self.flag, n.min, n.max),
            ParamKind::Choice(c) => format!("--{} {}", self.flag, (c.names)().join("|")),
        }
    }
}

/// Images per model pass.
pub const BATCH: ParamSpec = ParamSpec {
    flag: "batch",
    label: "batch",
    help: "Images per model pass for sampling and perturbation methods.",
    kind: ParamKind::Number(Number {
        min: 1.0,
        max: 1024.0,
        integer: true,
        logarithmic: true,
        get: |p| p.batch as f64,
        set: |p, v| p.batch = v as usize,
    }),
};

/// Seed of the random draws.
pub const SEED: ParamSpec = ParamSpec {
    flag: "seed",
    label: "seed",
    help: "Seed of SmoothGrad's noise and RISE's masks.",
    kind: ParamKind::Number(Number {
        min: 0.0,
        max: MAX_SEED,
        integer: true,
        logarithmic: false,
        get: |p| p.seed as f64,
        set: |p, v| p.seed = v as u64,
    }),
};

/// SmoothGrad samples.
pub const SAMPLES: ParamSpec = ParamSpec {
    flag: "samples",
    label: "samples",
    help: "SmoothGrad samples.",
    kind: ParamKind::Number(Number {
        min: 1.0,
        max: 1000.0,
        integer: true,
        logarithmic: true,
        get: |p| p.smoothgrad_samples as f64,
        set: |p, v| p.smoothgrad_samples = v as usize,
    }),
};

/// SmoothGrad noise standard deviation, normalised input units.
pub const SIGMA: ParamSpec = ParamSpec {
    flag: "sigma",
    label: "noise sigma",
    help: "SmoothGrad noise standard deviation, in normalised input units.",
    kind: ParamKind::Number(Number {
        min: 0.0,
        max: 10.0,
        integer: false,
        logarithmic: false,
        get: |p| f64::from(p.smoothgrad_sigma),
        set: |p, v| p.smoothgrad_sigma = v as f32,
    }),
};

/// Integrated Gradients steps.
pub const STEPS: ParamSpec = ParamSpec {
    flag: "steps",
    label: "steps",
    help: "Integrated Gradients steps.",
    kind: ParamKind::Number(Number {
        min: 2.0,
        max: 1000.0,
        integer: true,
        logarithmic: true,
        get: |p| p.ig_steps as f64,
        set: |p, v| p.ig_steps = v as usize,
    }),
};

/// Occlusion window side, pixels.
pub const WINDOW: ParamSpec = ParamSpec {
    flag: "window",
    label: "window",
    help: "Occlusion window side, pixels.",
    kind: ParamKind::Number(Number {
        min: 1.0,
        max: 1024.0,
        integer: true,
        logarithmic: true,
        get: |p| p.occlusion_window as f64,
        set: |p, v| p.occlusion_window = v as usize,
    }),
};

/// Occlusion stride, pixels.
pub const STRIDE: ParamSpec = ParamSpec {
    flag: "stride",
    label: "stride",
    help: "Occlusion stride, pixels.",
    kind: ParamKind::Number(Number {
        min: 1.0,
        max: 1024.0,
        integer: true,
        logarithmic: true,
        get: |p| p.occlusion_stride as f64,
        set: |p, v| p.occlusion_stride = v as usize,
    }),
};

/// RISE masks.
pub const MASKS: ParamSpec = ParamSpec {
    flag: "masks",
    label: "masks",
    help: "RISE masks.",
    kind: ParamKind::Number(Number {
        min: 1.0,
        max: 100_000.0,
        integer: true,
        logarithmic: true,
        get: |p| p.rise_masks as f64,
        set: |p, v| p.rise_masks = v as usize,
    }),
};

/// RISE grid cells per side.
pub const CELLS: ParamSpec = ParamSpec {
    flag: "cells",
    label: "grid cells",
    help: "RISE grid cells per side.",
    kind: ParamKind::Number(Number {
        min: 1.0,
        max: 64.0,
        integer: true,
        logarithmic: false,
        get: |p| p.rise_cells as f64,
        set: |p, v| p.rise_cells = v as usize,
    }),
};

/// Probability of a RISE cell being kept; 0 would keep nothing and divide by zero.
pub const KEEP: ParamSpec = ParamSpec {
    flag: "keep",
    label: "keep probability",
    help: "Probability of a RISE grid cell being kept.",
    kind: ParamKind::Number(Number {
        min: 0.01,
        max: 1.0,
        integer: false,
        logarithmic: false,
        get: |p| f64::from(p.rise_keep),
        set: |p, v| p.rise_keep = v as f32,
    }),
};

/// BoostLU's `alpha` on the positive part of the class activation map (1: no boost).
pub const BOOST_ALPHA: ParamSpec = ParamSpec {
    flag: "boost-alpha",
    label: "BoostLU alpha",
    help: "BoostLU's alpha for the boostcam method (1: no boost).",
    kind: ParamKind::Number(Number {
        min: 1.0,
        max: crate::models::metadata::MAX_BOOST_ALPHA as f64,
        integer: false,
        logarithmic: true,
        get: |p| f64::from(p.boost_alpha),
        set: |p, v| p.boost_alpha = v as f32,
    }),
};

/// The early-stopping RISE's tolerance: mean per-pixel change of the normalised map per batch.
pub const TOLERANCE: ParamSpec = ParamSpec {
    flag: "tolerance",
    label: "stop below change",
    help: "RISE with early stop (approximate): stop once the normalised map changes by less than this per pixel and batch, twice in a row.",
    kind: ParamKind::Number(Number {
        min: 1e-6,
        max: 0.5,
        integer: false,
        logarithmic: true,
        get: |p| f64::from(p.rise_tolerance),
        set: |p, v| p.rise_tolerance = v as f32,
    }),
};

/// Channels the top-k Score-CAM scores.
pub const TOP_K: ParamSpec = ParamSpec {
    flag: "top-k",
    label: "channels (top k)",
    help: "Score-CAM on the top-k channels (approximate): channels scored, by activation variance.",
    kind: ParamKind::Number(Number {
        min: 1.0,
        max: 100_000.0,
        integer: true,
        logarithmic: true,
        get: |p| p.score_cam_top_k as f64,
        set: |p, v| p.score_cam_top_k = v as usize,
    }),
};

/// The share of attention values attention rollout discards per block.
pub const DISCARD: ParamSpec = ParamSpec {
    flag: "discard",
    label: "discard ratio",
    help: "Attention rollout: share of each block's smallest attention values discarded.",
    kind: ParamKind::Number(Number {
        min: 0.0,
        max: 1.0,
        integer: false,
        logarithmic: false,
        get: |p| f64::from(p.rollout_discard),
        set: |p, v| p.rollout_discard = v as f32,
    }),
};

/// Integrated Gradients' integration rule.
pub const RULE: ParamSpec = ParamSpec {
    flag: "rule",
    label: "rule",
    help: "Integrated Gradients rule: riemann_left, riemann_right, riemann_middle, riemann_trapezoid, gausslegendre.",
    kind: ParamKind::Choice(Choice {
        names: || IntegrationRule::ALL.iter().map(|r| r.as_str()).collect(),
        get: |p| p.ig_rule.as_str(),
        set: |p, s| {
            p.ig_rule = s.parse()?;
            Ok(())
        },
        image: None,
    }),
};

/// The baseline of Integrated Gradients and Occlusion.
pub const BASELINE: ParamSpec = ParamSpec {
    flag: "baseline",
    label: "baseline",
    help: "Baseline of Integrated Gradients and Occlusion: zeros, black, blurred, or an image file.",
    kind: ParamKind::Choice(Choice {
        names: || Baseline::NAMES.to_vec(),
        get: |p| p.baseline.name(),
        set: |p, s| {
            p.baseline = Baseline::named(s)?;
            Ok(())
        },
        image: Some(|p, values| p.baseline = Baseline::Custom(values)),
    }),
};

/// How an input attribution's channels become one map.
pub const REDUCTION: ParamSpec = ParamSpec {
    flag: "reduction",
    label: "channels",
    help: "How input attributions become one map: absolute, positive, negative, max_abs.",
    kind: ParamKind::Choice(Choice {
        names: || Reduction::ALL.iter().map(|r| r.as_str()).collect(),
        get: |p| p.reduction.as_str(),
        set: |p, s| {
            p.reduction = s.parse()?;
            Ok(())
        },
        image: None,
    }),
};

/// The parameters every method run shares, whichever methods declare them: the batch size of
/// long methods and the seed of the random ones.
pub const COMMON: [ParamSpec; 2] = [BATCH, SEED];

impl Params {
    /// A parameter a method file declares for itself (kept in [`Params::extra`] by its flag), or
    /// `default` when it was never set.
    pub fn number(&self, flag: &str, default: f64) -> f64 {
        self.extra.get(flag).copied().unwrap_or(default)
    }

    /// Set a parameter a method file declares for itself.
    pub fn set_number(&mut self, flag: &str, value: f64) {
        self.extra.insert(flag.to_string(), value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn number(spec: &ParamSpec) -> &Number {
        match &spec.kind {
            ParamKind::Number(n) => n,
            ParamKind::Choice(_) => panic!("{} is a choice", spec.flag),
        }
    }

    const NUMBERS: [ParamSpec; 14] = [
        BATCH,
        SEED,
        SAMPLES,
        SIGMA,
        STEPS,
        WINDOW,
        STRIDE,
        MASKS,
        CELLS,
        KEEP,
        BOOST_ALPHA,
        TOLERANCE,
        TOP_K,
        DISCARD,
    ];

    #[test]
    fn defaults_are_valid_and_ranges_reject_what_breaks_a_method() {
        for spec in NUMBERS {
            spec.check(&Params::default()).unwrap();
        }
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
            (number(&spec).set)(&mut p, bad);
            let err = spec.check(&p).unwrap_err();
            assert!(err.contains(&format!("--{}", spec.flag)), "{err}");
        }
    }

    #[test]
    fn bounds_survive_the_round_trip_through_f32() {
        for spec in NUMBERS {
            let mut p = Params::default();
            (number(&spec).set)(&mut p, number(&spec).min);
            spec.check(&p).unwrap_or_else(|e| panic!("{}: {e}", spec.flag));
        }
    }

    #[test]
    fn get_reads_what_set_wrote() {
        for spec in NUMBERS {
            let mut p = Params::default();
            (number(&spec).set)(&mut p, number(&spec).max);
            assert_eq!((number(&spec).get)(&p), number(&spec).max, "{}", spec.flag);
        }
    }

    #[test]
    fn choices_parse_names_and_aliases_and_show_their_names() {
        let mut p = Params::default();
        assert_eq!(
            (RULE.text(&p), BASELINE.text(&p), REDUCTION.text(&p)),
            ("gausslegendre".into(), "zeros".into(), "absolute".into())
        );
        RULE.parse(&mut p, "riemann-left").unwrap();
        REDUCTION.parse(&mut p, "max_abs").unwrap();
        BASELINE.parse(&mut p, "blur").unwrap();
        assert_eq!(
            (p.ig_rule, p.reduction, p.baseline.clone()),
            (IntegrationRule::RiemannLeft, Reduction::MaxAbsolute, Baseline::Blurred)
        );
        let err = RULE.parse(&mut p, "simpson").unwrap_err();
        assert!(err.starts_with("--rule") && err.contains("riemann_trapezoid"), "{err}");
        assert!(BASELINE.parse(&mut p, "photo.png").is_err(), "an image is loaded by the caller");
        assert_eq!(SIGMA.text(&Params::default()), "0.15");
        assert_eq!(MASKS.text(&Params::default()), "4000");
        assert_eq!(RULE.describe(), "--rule gausslegendre|riemann_trapezoid|riemann_left|riemann_right|riemann_middle");
    }

    #[test]
    fn a_method_file_keeps_its_own_parameters_by_flag() {
        let mut p = Params::default();
        assert_eq!(p.number("grid", 7.0), 7.0);
        p.set_number("grid", 3.0);
        assert_eq!(p.number("grid", 7.0), 3.0);
        let back: Params = serde_json::from_str(&serde_json::to_string(&p).unwrap()).unwrap();
        assert_eq!(back, p);
        let plain = serde_json::to_string(&Params::default()).unwrap();
        assert!(!plain.contains("extra"), "settings without them are written as before: {plain}");
    }
}
