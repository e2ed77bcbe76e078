//! Activations at a layer and their gradients, by cutting the graph at that layer.
//!
//! `A = forward_to(x)` runs without autodiff; `A` is then lifted to a fresh autodiff leaf and only
//! `forward_from(A)` is recorded, so `dy_c/dA` costs the head's backward pass alone, and a second
//! objective reuses the same `A`.

use super::objective::Objective;
use crate::error::{LanternError, Result};
use crate::models::network::Resume;
use crate::models::network::host_values;
use crate::models::{LayerInfo, Network};
use burn::tensor::Tensor;
use web_time::{Duration, Instant};

/// A `[C, H, W]` block of numbers on the host (one image's activations or gradients).
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureMaps {
    pub channels: usize,
    pub height: usize,
    pub width: usize,
    pub values: Vec<f32>,
}

impl FeatureMaps {
    /// Copy image 0 of a `[N, C, H, W]` tensor to the host.
    pub fn from_tensor(t: &Tensor<4>) -> Self {
        let [_, c, h, w] = t.dims();
        let first = t.clone().slice([0..1, 0..c, 0..h, 0..w]);
        let values = host_values(first);
        Self { channels: c, height: h, width: w, values }
    }

    /// Spatial size `H * W`.
    pub fn plane(&self) -> usize {
        self.height * self.width
    }

    /// Channel `k` as a slice of `H * W` values.
    pub fn channel(&self, k: usize) -> &[f32] {
        &self.values[k * self.plane()..(k + 1) * self.plane()]
    }
}

/// One image's activations at one layer, with the logits they lead to.
#[derive(Debug, Clone)]
pub struct LayerActivations {
    pub layer: LayerInfo,
    /// `A` on the compute device, kept for gradient passes.
    pub tensor: Tensor<4>,
    /// What the rest of the network needs besides `A` (an ONNX graph's values that skip the layer).
    pub resume: Resume,
    /// `A` on the host.
    pub maps: FeatureMaps,
    /// Logits of image 0.
    pub logits: Vec<f32>,
    /// Size of the model input `(width, height)`, the size maps are resized to.
    pub input_size: (usize, usize),
    /// Time of the forward pass.
    pub forward_time: Duration,
}

/// Look up a layer by name, with the list of valid names in the error.
pub fn find_layer<'a>(net: &'a Network, name: &str) -> Result<&'a LayerInfo> {
    net.find_layer(name).ok_or_else(|| LanternError::UnknownLayer {
        layer: name.to_string(),
        available: net.layers.iter().map(|l| l.name.as_str()).collect::<Vec<_>>().join(", "),
    })
}

/// Run `x` (`[1, 3, H, W]`) up to `layer` and on to the logits, without autodiff.
pub fn activations(net: &Network, x: Tensor<4>, layer: &str) -> Result<LayerActivations> {
    let info = find_layer(net, layer)?.clone();
    let [_, _, h, w] = x.dims();
    let start = Instant::now();
    let (a, resume) = net.forward_to_values(x, info.cut);
    let logits = net.forward_from_resumed(a.clone(), &resume, info.cut);
    let logits = host_values(logits);
    let forward_time = start.elapsed();
    let maps = FeatureMaps::from_tensor(&a);
    Ok(LayerActivations { layer: info, tensor: a, resume, maps, logits, input_size: (w, h), forward_time })
}

/// `dS / dA` for image 0, through the head only, `S` the objective (a class's logit, a
/// similarity, ...).
pub fn gradient(net: &Network, acts: &LayerActivations, objective: impl Into<Objective>) -> Result<FeatureMaps> {
    let objective = objective.into();
    objective.check(net)?;
    let leaf = acts.tensor.clone().autodiff().require_grad();
    let output = net.forward_from_resumed(leaf.clone(), &acts.resume, acts.layer.cut);
    let grads = objective.score(output.narrow(0, 0, 1)).sum().backward();
    let g =
        leaf.grad(&grads).ok_or_else(|| LanternError::Internal("the layer's gradient could not be computed".into()))?;
    Ok(FeatureMaps::from_tensor(&g))
}
