//! The one inference graph every supported classifier is loaded into: a chain of named stages
//! followed by a classifier head. A "layer" is a cut in that chain, so running up to a layer
//! ([`Network::forward_to`]) and from it ([`Network::forward_from`]) is all the explanation
//! methods need. BatchNorm inside composite stages is folded into the preceding convolution at
//! load time (inference only), which is exact up to float rounding and saves a pass per layer.

use burn::tensor::{Tensor, TensorData};

use super::labels::Labels;
pub use super::layers::{
    Act, Affine, Block, Conv, ConvSpec, Head, Linear, Padding, Skip, Stage, boost_lu, global_average_pool, host_values,
    load_batchnorm, load_conv, load_conv_bn, load_linear,
};
use super::onnx::{self, OnnxNet};
use super::plan::{Plan, Planned};
use super::scores::OutputKind;
use crate::imaging::Preprocess;
use std::sync::Arc;

/// A named cut in the chain that can be explained.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerInfo {
    /// torchvision-style module name, e.g. `layer4` or `features.29`.
    pub name: String,
    /// Number of stages run to produce this layer's output.
    pub cut: usize,
    /// Channels of the activation at this layer.
    pub channels: usize,
    /// Other name of the same activation (`layer4` and `layer4.1`), if any.
    pub same_as: Option<String>,
}

/// How a network computes: a chain of stages and a head written in Rust, or an ONNX graph run by
/// the interpreter.
#[derive(Debug, Clone)]
pub enum Body {
    Chain {
        stages: Vec<Stage>,
        head: Head,
        /// The stages compiled for the CPU's forward-only passes ([`Network::forward_values`]),
        /// on first use.
        plan: Planned,
    },
    /// An ONNX graph, and CAM's head when the graph ends in global average pooling and one
    /// linear layer (the value it pools, and that layer).
    Graph {
        net: Arc<OnnxNet>,
        cam: Option<(usize, Linear)>,
        /// The graph read as a chain of stages and compiled for the CPU's forward-only passes,
        /// on first use.
        chain: GraphChain,
    },
}

/// An ONNX graph read as a chain of stages with its CAM head ([`onnx::chain`]) and that chain's
/// plan: the same planned CPU path as a hand-written chain's. Made on first use, shared by the
/// network's clones; `None` inside for a graph that does not read as a chain.
#[derive(Debug, Clone, Default)]
pub struct GraphChain(Arc<std::sync::OnceLock<Option<(onnx::chain::Chain, Head)>>>, Planned);

impl GraphChain {
    /// The chain, its head and its plan, if the graph reads as one and the plan compiles.
    pub fn get(&self, net: &OnnxNet, cam: &Option<(usize, Linear)>) -> Option<(&onnx::chain::Chain, &Head, &Plan)> {
        let (chain, head) = self
            .0
            .get_or_init(|| {
                let (pooled, fc) = cam.as_ref()?;
                let chain = onnx::chain::lift(&net.graph, *pooled)?;
                Some((chain, Head::GapLinear(fc.clone())))
            })
            .as_ref()?;
        Some((chain, head, self.1.get(&chain.stages)?))
    }
}

impl Body {
    /// A chain of `stages` then `head`, its plan not compiled yet.
    pub fn chain(stages: Vec<Stage>, head: Head) -> Body {
        Body::Chain { stages, head, plan: Planned::default() }
    }
}

/// What the rest of the network needs besides the activations at a cut: nothing for a chain,
/// the values that skip over the cut and a transformer's prefix tokens for a graph.
#[derive(Debug, Clone, Default)]
pub struct Resume(Option<Arc<onnx::Resume>>);

/// A loaded classifier.
#[derive(Debug, Clone)]
pub struct Network {
    /// Architecture name, e.g. `resnet50`.
    pub arch: String,
    pub body: Body,
    pub layers: Vec<LayerInfo>,
    pub preprocess: Preprocess,
    pub labels: Labels,
    /// The layer explained when none is chosen: the feature map the classifier pools.
    pub default_layer: String,
    /// How the output is read: softmax classes, sigmoid labels or an embedding.
    pub output: OutputKind,
}

impl Network {
    /// A network running an ONNX graph; its layers are the graph's map tensors, named by their
    /// module when they are one's output (else by their ONNX name, the other name in `same_as`).
    pub fn from_onnx(
        net: Arc<OnnxNet>,
        preprocess: Preprocess,
        labels: Labels,
        arch: String,
    ) -> crate::error::Result<Network> {
        let layers: Vec<LayerInfo> = net
            .layers
            .iter()
            .map(|l| {
                let layout = net.layout(l.value);
                let channels = match (layout, l.dims.as_slice()) {
                    (Some(onnx::tokens::Layout::ChannelsFirst), [_, c, _, _]) => *c,
                    (_, dims) => *dims.last().unwrap_or(&0),
                };
                let name = l.module.clone().unwrap_or_else(|| l.tensor.clone());
                let same_as = (name != l.tensor).then(|| l.tensor.clone());
                LayerInfo { name, cut: l.value, channels, same_as }
            })
            .collect();
        let default_layer = net
            .default_layer()
            .and_then(|d| layers.iter().find(|l| l.cut == d.value))
            .map(|l| l.name.clone())
            .ok_or_else(|| {
                crate::error::LanternError::Mismatch(format!("{arch}: the graph has no tensor a map can be read from"))
            })?;
        let cam = net.cam_head.as_ref().map(|h| (h.pooled, Linear { weight: h.weight.clone(), bias: h.bias.clone() }));
        Ok(Network {
            arch,
            body: Body::Graph { net, cam, chain: GraphChain::default() },
            layers,
            preprocess,
            labels,
            default_layer,
            output: OutputKind::Softmax,
        })
    }

    /// The hand-written stages (none for a graph).
    pub fn stages(&self) -> &[Stage] {
        match &self.body {
            Body::Chain { stages, .. } => stages,
            Body::Graph { .. } => &[],
        }
    }

    /// The hand-written head (none for a graph).
    pub fn head(&self) -> Option<&Head> {
        match &self.body {
            Body::Chain { head, .. } => Some(head),
            Body::Graph { .. } => None,
        }
    }

    /// The ONNX graph, for a network loaded from one.
    pub fn graph(&self) -> Option<&Arc<OnnxNet>> {
        match &self.body {
            Body::Graph { net: g, .. } => Some(g),
            Body::Chain { .. } => None,
        }
    }

    /// The layer called `name`: a listed name, its other name, or for a graph any module path
    /// (its output) or ONNX tensor name.
    pub fn find_layer(&self, name: &str) -> Option<&LayerInfo> {
        if let Some(l) = self.layers.iter().find(|l| l.name == name || l.same_as.as_deref() == Some(name)) {
            return Some(l);
        }
        let value = self.graph()?.resolve(name)?.value;
        self.layers.iter().find(|l| l.cut == value)
    }

    /// The cut at the network's input (the image itself): stage 0 of a chain, the input value of
    /// a graph.
    pub fn input_cut(&self) -> usize {
        match &self.body {
            Body::Chain { .. } => 0,
            Body::Graph { net: g, .. } => g.graph.input,
        }
    }

    /// The cut after the last stage, what the head reads (a chain's stage count; a graph's output).
    pub fn output_cut(&self) -> usize {
        match &self.body {
            Body::Chain { stages, .. } => stages.len(),
            Body::Graph { net: g, .. } => g.graph.output,
        }
    }

    /// Run the network up to `cut` and keep what the rest needs besides the activations.
    pub fn forward_to_resumable(&self, x: Tensor<4>, cut: usize) -> (Tensor<4>, Resume) {
        match &self.body {
            Body::Chain { stages, .. } => (stages[..cut].iter().fold(x, |h, s| s.forward(h)), Resume(None)),
            Body::Graph { net: g, .. } => {
                let (a, resume) = g.forward_to(x, cut).unwrap_or_else(|e| panic!("{}: {e}", self.arch));
                (a, Resume(Some(Arc::new(resume))))
            }
        }
    }

    /// The plan of forward-only passes on the CPU ([`super::plan`]) and the cut `cut` is in
    /// its stages: a chain's, or a graph's that reads as one ([`GraphChain`]); `None` elsewhere.
    fn planned(&self, cut: usize, device: &burn::tensor::Device) -> Option<(&Plan, &Head, usize)> {
        if *device != burn::tensor::Device::flex() {
            return None;
        }
        match &self.body {
            Body::Chain { stages, head, plan } => Some((plan.get(stages)?, head, cut)),
            Body::Graph { net, cam, chain } => {
                let (chain, head, plan) = chain.get(net, cam)?;
                Some((plan, head, *chain.cuts.get(&cut)?))
            }
        }
    }

    /// [`Network::forward_to_resumable`] for an input that needs no gradient through it: on the
    /// CPU the planned path runs up to `cut` (nothing skips over a cut inside a chain).
    pub fn forward_to_values(&self, x: Tensor<4>, cut: usize) -> (Tensor<4>, Resume) {
        let device = x.device();
        if let Some((plan, _, stage)) = self.planned(cut, &device).filter(|(p, _, stage)| p.ends_at(*stage)) {
            let dims = x.dims();
            if let Some(a) = plan.activations(&host_values(x.clone()), dims, stage, &device) {
                return (a, Resume(None));
            }
        }
        self.forward_to_resumable(x, cut)
    }

    /// Run the first `cut` stages (for a graph: up to the value `cut`).
    pub fn forward_to(&self, x: Tensor<4>, cut: usize) -> Tensor<4> {
        self.forward_to_resumable(x, cut).0
    }

    /// Run from the activations `a` at `cut` to the logits `[N, classes]`, with what
    /// [`Network::forward_to_resumable`] kept (a graph's values that skip over the cut).
    pub fn forward_from_resumed(&self, a: Tensor<4>, resume: &Resume, cut: usize) -> Tensor<2> {
        match &self.body {
            Body::Chain { stages, head, .. } => head.forward(stages[cut..].iter().fold(a, |h, s| s.forward(h))),
            Body::Graph { net: g, .. } => {
                g.forward_from(a, resume.0.as_deref(), cut).unwrap_or_else(|e| panic!("{}: {e}", self.arch))
            }
        }
    }

    /// Run the stages after `cut` and the head: logits `[N, classes]`. For a graph, only where
    /// nothing skips over the cut (the input, or a clean cut); else use
    /// [`Network::forward_from_resumed`].
    pub fn forward_from(&self, a: Tensor<4>, cut: usize) -> Tensor<2> {
        self.forward_from_resumed(a, &Resume(None), cut)
    }

    /// Logits of the whole network.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        self.forward_from(x, self.input_cut())
    }

    /// Logits `[N, classes]` of a batch of images given as `[N, C, H, W]` host values: the entry
    /// point of forward-only passes (no gradient). On the CPU a chain, or a graph that reads as
    /// one, runs its plan ([`super::plan`]); elsewhere, burn's [`Network::forward`].
    pub fn forward_values(&self, values: Vec<f32>, dims: [usize; 4], device: &burn::tensor::Device) -> Tensor<2> {
        self.forward_values_from(values, dims, &Resume(None), self.input_cut(), device)
    }

    /// Logits from the activations at `cut` given as `[N, C, H, W]` host values, with what
    /// [`Network::forward_to_resumable`] kept: [`Network::forward_values`] from a layer.
    pub fn forward_values_from(
        &self,
        values: Vec<f32>,
        dims: [usize; 4],
        resume: &Resume,
        cut: usize,
        device: &burn::tensor::Device,
    ) -> Tensor<2> {
        if let Some(logits) =
            self.planned(cut, device).and_then(|(plan, head, stage)| plan.logits(head, &values, dims, stage, device))
        {
            return logits;
        }
        self.forward_from_resumed(Tensor::from_data(TensorData::new(values, dims), device), resume, cut)
    }

    /// `dS/dx` for the batch `x`, where `score` maps the logits `[N, classes]` to one score per
    /// image `[N, 1]`: on the CPU, for a chain or a graph that reads as one, the plan's backward
    /// pass ([`super::plan`]); `None` elsewhere (the caller takes burn's autodiff).
    pub fn planned_input_gradient(
        &self,
        x: &Tensor<4>,
        score: &(dyn Fn(Tensor<2>) -> Tensor<2> + Sync),
    ) -> Option<Tensor<4>> {
        let device = x.device();
        let (plan, head, stage) = self.planned(self.input_cut(), &device)?;
        (stage == 0).then(|| plan.input_gradient(head, &host_values(x.clone()), x.dims(), score, &device))
    }

    /// Bytes (f32) of every stage's output for the input `x`, summed over the stages: runs them
    /// once on `x` (for a graph: its map tensors' sizes from the dry run at load, times the batch).
    pub fn stage_output_bytes(&self, x: &Tensor<4>) -> u64 {
        match &self.body {
            Body::Chain { stages, .. } => {
                let (_, total) = stages.iter().fold((x.clone(), 0u64), |(h, total), s| {
                    let out = s.forward(h);
                    let elements: usize = out.dims().iter().product();
                    (out, total + elements as u64 * 4)
                });
                total
            }
            Body::Graph { net: g, .. } => {
                let [n, _, _, _] = x.dims();
                let per_image: usize = g.layers.iter().map(|l| l.dims.iter().product::<usize>()).sum();
                (per_image * n) as u64 * 4
            }
        }
    }

    pub fn classes(&self) -> usize {
        match &self.body {
            Body::Chain { head, .. } => head.classes(),
            Body::Graph { net: g, .. } => g.classes,
        }
    }

    /// The device the weights live on.
    pub fn device(&self) -> burn::tensor::Device {
        match &self.body {
            Body::Chain { head: Head::GapLinear(fc) | Head::BoostedCam { fc, .. }, .. } => fc.weight.device(),
            Body::Chain { head: Head::PoolMlp { layers, .. }, .. } => layers[0].0.weight.device(),
            Body::Graph { net: g, .. } => g.graph.device.clone(),
        }
    }

    /// Whether the stages after `cut` are nothing and the head is GAP + linear: the setting of
    /// CAM, where the map is the classifier's weights applied to the activations.
    pub fn cam_weights_at(&self, cut: usize) -> Option<&Linear> {
        match &self.body {
            Body::Chain { stages, head: Head::GapLinear(fc) | Head::BoostedCam { fc, .. }, .. }
                if cut == stages.len() =>
            {
                Some(fc)
            }
            Body::Graph { cam, .. } => cam.as_ref().filter(|(pooled, _)| *pooled == cut).map(|(_, fc)| fc),
            _ => None,
        }
    }

    /// BoostLU's `alpha` of a class-activation-map head (1 for a plain GAP + linear head); `None`
    /// when the head is not one.
    pub fn boost(&self) -> Option<f32> {
        match self.head()? {
            Head::GapLinear(_) => Some(1.0),
            Head::BoostedCam { alpha, .. } => Some(*alpha),
            Head::PoolMlp { .. } => None,
        }
    }

    /// The same network with BoostLU's `alpha` on its class activation maps (`alpha = 1`: the
    /// plain GAP + linear head); `None` when the head is not GAP + linear. Only the head
    /// changes: activations computed up to any layer stay valid.
    pub fn boosted(&self, alpha: f32) -> Option<Network> {
        let (stages, fc, plan) = match &self.body {
            Body::Chain { stages, head: Head::GapLinear(fc) | Head::BoostedCam { fc, .. }, plan } => {
                (stages.clone(), fc.clone(), plan.clone())
            }
            _ => return None,
        };
        let head = if alpha == 1.0 { Head::GapLinear(fc) } else { Head::BoostedCam { fc, alpha } };
        // The plan covers the stages alone, which stay the same.
        Some(Network { body: Body::Chain { stages, head, plan }, ..self.clone() })
    }
}

#[cfg(test)]
mod tests {
    use crate::models::{self, StateDict};
    use burn::tensor::{Device, Tensor};

    #[test]
    fn stage_output_bytes_grow_with_the_input_area() {
        let device = Device::flex();
        let net = models::build(&StateDict::seeded(&models::layout("resnet18", 10).unwrap(), 4), "resnet18", &device)
            .unwrap();
        let small = net.stage_output_bytes(&Tensor::zeros([1, 3, 32, 32], &device));
        let large = net.stage_output_bytes(&Tensor::zeros([1, 3, 64, 64], &device));
        // The stem alone outputs 64 channels at half resolution.
        assert!(small >= 64 * 16 * 16 * 4, "{small}");
        assert_eq!(large, 4 * small);
    }
}
