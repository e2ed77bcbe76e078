//! Explanation methods. Each returns a [`WeightMap`] at the model input's resolution, post-processed
//! as pytorch-grad-cam does: `relu`, min-max normalise, bilinear resize to the input, then `relu`
//! and normalise once more (its multi-layer aggregation step).

pub mod activations;
pub mod attention;
pub mod attribute_rank;
pub mod attribution;
pub mod backprop;
pub mod boost_cam;
pub mod cam;
mod dispatch;
pub mod eigen;
pub mod feature_ablation;
pub mod generator;
pub mod gradients;
pub mod matching;
pub mod memory;
pub mod method;
pub mod objective;
pub mod pair_method;
pub mod pair_params;
pub mod pair_registry;
pub mod params;
pub mod perturbation;
pub mod registry;
pub mod score_cam;
mod session;
pub mod similarity;

pub use crate::control::{Control, Progress};
pub use activations::{FeatureMaps, LayerActivations, activations, find_layer, gradient};
pub use attribution::Attribution;
use method::Output;
pub use method::{Entry, Family, LayerUse, MethodSpec, Needs};
pub use objective::Objective;
pub use params::{Baseline, IntegrationRule, Params, Reduction};
pub use registry::Method;
pub use session::Session;

use crate::error::{LanternError, Result};
use crate::map::{Interpolation, Provenance, WeightMap};
use crate::models::Network;
use crate::models::scores::ranked;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use web_time::{Duration, Instant};

/// Which class to explain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Target {
    /// The model's most probable class.
    #[default]
    Top1,
    Class(usize),
}

impl Target {
    /// The class index for these logits.
    pub fn resolve(self, logits: &[f32]) -> usize {
        match self {
            Target::Top1 => ranked(logits, 1).first().map_or(0, |t| t.0),
            Target::Class(c) => c,
        }
    }

    /// The objective for these logits: the resolved class.
    pub fn objective(self, logits: &[f32]) -> Objective {
        Objective::Class(self.resolve(logits))
    }
}

impl FromStr for Target {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.eq_ignore_ascii_case("top1") {
            return Ok(Target::Top1);
        }
        s.parse::<usize>().map(Target::Class).map_err(|_| format!("target must be 'top1' or a class index, got '{s}'"))
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Top1 => f.write_str("top1"),
            Target::Class(c) => write!(f, "{c}"),
        }
    }
}

/// How long an explanation took.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Timing {
    /// Forward pass to the layer and the logits (shared by every method on that layer).
    pub forward_ms: f64,
    /// The method itself: gradient pass and map computation.
    pub method_ms: f64,
}

/// A method's result.
#[derive(Debug, Clone)]
pub struct Explanation {
    pub map: WeightMap,
    pub method: Method,
    /// The explained layer; empty for input-space methods.
    pub layer: String,
    pub objective: Objective,
    pub timing: Timing,
    /// The per-channel input attribution, for input-space methods.
    pub attribution: Option<Attribution>,
    /// For an approximate method, what it skipped.
    pub approximation: Option<String>,
}

/// pytorch-grad-cam's post-processing of a layer-resolution map `cam` (`h x w`):
/// `relu`, normalise, bilinear resize to `size`, `relu`, normalise.
pub fn finish(cam: Vec<f32>, width: usize, height: usize, size: (usize, usize)) -> WeightMap {
    let mut m = WeightMap::new(width, height, cam);
    m.relu();
    m.normalize();
    let mut m = m.resized(size.0, size.1, Interpolation::Bilinear);
    m.relu();
    m.normalize();
    m
}

/// Explain `objective` with one of the methods that run from a layer's cached activations
/// ([`Method::cam_family`]); the others run through a [`Session`].
pub fn explain(
    net: &Network,
    acts: &LayerActivations,
    method: Method,
    objective: impl Into<Objective>,
) -> Result<Explanation> {
    let objective = objective.into();
    objective.check(net)?;
    let Entry::Layer(f) = method.spec().entry else {
        return Err(LanternError::Internal(format!("{} runs through an explain::Session", method.title())));
    };
    let start = Instant::now();
    let raw = f(net, acts, &objective)?;
    let map = finish(raw, acts.maps.width, acts.maps.height, acts.input_size);
    let output = Output { map, attribution: None, forward_ms: ms(acts.forward_time), approximation: None };
    Ok(explanation(net, method, &acts.layer.name, objective, start, output))
}

/// Assemble an [`Explanation`] of what a method output, with the map's provenance; `start` is
/// when the method started.
fn explanation(
    net: &Network,
    method: Method,
    layer: &str,
    objective: Objective,
    start: Instant,
    output: Output,
) -> Explanation {
    let Output { map, attribution, forward_ms, approximation } = output;
    let map = map.with_provenance(Provenance {
        method: method.name().into(),
        layer: layer.to_string(),
        target: objective.class(),
        target_label: objective.describe(&net.labels),
        model: net.arch.clone(),
    });
    Explanation {
        map,
        method,
        layer: layer.to_string(),
        objective,
        timing: Timing { forward_ms, method_ms: ms(start.elapsed()) },
        attribution,
        approximation,
    }
}

/// Why `method` cannot run on `net` at all, whatever the image (`None` when it can): what the app
/// greys out with the reason and what the method itself answers when asked. Covers what the
/// network's kind decides (an ONNX graph, attention blocks); a method may still refuse an
/// objective or a layer when it runs.
pub fn unavailable(net: &Network, method: Method) -> Option<String> {
    method.spec().needs.unmet(net)
}

/// [`unavailable`] as the error a method returns.
pub fn check_available(net: &Network, method: Method) -> Result<()> {
    method.spec().needs.check(net, method.title())
}

/// The layer CAM applies to, if the model has a GAP + linear head.
pub fn cam_layer(net: &Network) -> Option<&str> {
    net.layers.iter().find(|l| net.cam_weights_at(l.cut).is_some()).map(|l| l.name.as_str())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
