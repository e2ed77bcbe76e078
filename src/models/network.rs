//! The one inference graph every supported classifier is loaded into: a chain of named stages
//! followed by a classifier head. A "layer" is a cut in that chain, so running up to a layer
//! ([`Network::forward_to`]) and from it ([`Network::forward_from`]) is all the explanation
//! methods need. BatchNorm inside composite stages is folded into the preceding convolution at
//! load time (inference only), which is exact up to float rounding and saves a pass per layer.

use burn::tensor::activation::relu;
use burn::tensor::module::{adaptive_avg_pool2d, conv2d, linear, max_pool2d};
use burn::tensor::ops::{ConvOptions, MaxPoolOptions};
use burn::tensor::{Tensor, TensorData};

use super::labels::Labels;
use super::onnx::{self, OnnxNet};
use super::plan::Planned;
use super::scores::OutputKind;
use super::state_dict::Loader;
use crate::imaging::Preprocess;
use std::sync::Arc;

/// A tensor's values on the host, as `f32` (converting from any float dtype).
pub fn host_values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().try_into_vec_as::<f32>().expect("float tensors convert to f32")
}

/// Activation applied after a stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Act {
    Identity,
    Relu,
    Relu6,
}

impl Act {
    pub fn apply<const D: usize>(self, x: Tensor<D>) -> Tensor<D> {
        match self {
            Act::Identity => x,
            Act::Relu => relu(x),
            Act::Relu6 => x.clamp(0.0, 6.0),
        }
    }
}

/// Zero padding of a convolution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Padding {
    /// The same number of pixels on every side (PyTorch's `padding=p`).
    Fixed(usize),
    /// TensorFlow's `SAME`: output size `ceil(in / stride)`, total padding
    /// `max((out - 1) * stride + kernel - in, 0)` split with the extra pixel after.
    Same,
}

impl Padding {
    pub fn sides(self, input: usize, kernel: usize, stride: usize) -> (usize, usize) {
        match self {
            Padding::Fixed(p) => (p, p),
            Padding::Same => {
                let out = input.div_ceil(stride);
                let total = ((out - 1) * stride + kernel).saturating_sub(input);
                (total / 2, total - total / 2)
            }
        }
    }
}

/// A 2-D convolution (with any BatchNorm folded in) and its activation.
#[derive(Debug, Clone)]
pub struct Conv {
    pub weight: Tensor<4>,
    pub bias: Option<Tensor<1>>,
    pub stride: usize,
    pub padding: Padding,
    pub groups: usize,
    pub act: Act,
}

impl Conv {
    /// Zero padding `(before, after)` along an axis of length `input` for a kernel of `kernel`.
    pub fn padding_sides(&self, input: usize, kernel: usize) -> (usize, usize) {
        self.padding.sides(input, kernel, self.stride)
    }

    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let [_, _, h, w] = x.dims();
        let [_, _, kh, kw] = self.weight.dims();
        let ph = self.padding_sides(h, kh);
        let pw = self.padding_sides(w, kw);
        let options = ConvOptions::new_with_padding([self.stride; 2], [ph, pw], [1, 1], self.groups);
        self.act.apply(conv2d(x, self.weight.clone(), self.bias.clone(), options))
    }
}

/// Shape of a convolution to load.
#[derive(Debug, Clone, Copy)]
pub struct ConvSpec {
    pub cin: usize,
    pub cout: usize,
    pub kernel: usize,
    pub stride: usize,
    pub padding: Padding,
    pub groups: usize,
}

impl ConvSpec {
    pub fn new(cin: usize, cout: usize, kernel: usize, stride: usize) -> Self {
        Self { cin, cout, kernel, stride, padding: Padding::Fixed(kernel / 2), groups: 1 }
    }

    /// Depthwise: one filter per channel.
    pub fn depthwise(channels: usize, kernel: usize, stride: usize) -> Self {
        Self { groups: channels, ..Self::new(channels, channels, kernel, stride) }
    }

    /// TensorFlow `SAME` padding instead of `kernel / 2` on each side.
    pub fn same(mut self) -> Self {
        self.padding = Padding::Same;
        self
    }

    fn weight_shape(&self) -> [usize; 4] {
        [self.cout, self.cin / self.groups, self.kernel, self.kernel]
    }
}

/// BatchNorm in inference: `y = (x - mean) / sqrt(var + eps) * gamma + beta = x * scale + shift`.
fn bn_scale_shift(l: &Loader, prefix: &str, channels: usize, eps: f32) -> (Vec<f32>, Vec<f32>) {
    let gamma = l.values(&format!("{prefix}.weight"), &[channels]);
    let beta = l.values(&format!("{prefix}.bias"), &[channels]);
    let mean = l.values(&format!("{prefix}.running_mean"), &[channels]);
    let var = l.values(&format!("{prefix}.running_var"), &[channels]);
    l.ignore(&format!("{prefix}.num_batches_tracked"));
    let scale: Vec<f32> = (0..channels).map(|c| gamma[c] / (var[c] + eps).sqrt()).collect();
    let shift: Vec<f32> = (0..channels).map(|c| beta[c] - mean[c] * scale[c]).collect();
    (scale, shift)
}

/// A plain convolution `{prefix}.weight` (and `{prefix}.bias` when `bias`).
pub fn load_conv(l: &Loader, prefix: &str, spec: ConvSpec, bias: bool, act: Act) -> Conv {
    let weight = l.tensor(&format!("{prefix}.weight"), spec.weight_shape());
    let bias = bias.then(|| l.tensor(&format!("{prefix}.bias"), [spec.cout]));
    Conv { weight, bias, stride: spec.stride, padding: spec.padding, groups: spec.groups, act }
}

/// A bias-free convolution followed by a BatchNorm, folded into one convolution:
/// `W' = W * scale[c_out]`, `b' = shift`.
pub fn load_conv_bn(l: &Loader, conv: &str, bn: &str, spec: ConvSpec, eps: f32, act: Act) -> Conv {
    let shape = spec.weight_shape();
    let mut w = l.values(&format!("{conv}.weight"), &shape);
    let (scale, shift) = bn_scale_shift(l, bn, spec.cout, eps);
    let per_out = w.len() / spec.cout;
    for (o, chunk) in w.chunks_mut(per_out).enumerate() {
        for v in chunk {
            *v *= scale[o];
        }
    }
    let device = l.device();
    Conv {
        weight: Tensor::from_data(TensorData::new(w, shape), device),
        bias: Some(Tensor::from_data(TensorData::new(shift, [spec.cout]), device)),
        stride: spec.stride,
        padding: spec.padding,
        groups: spec.groups,
        act,
    }
}

/// Per-channel affine map (an unfolded inference BatchNorm) and its activation.
#[derive(Debug, Clone)]
pub struct Affine {
    pub scale: Tensor<4>,
    pub shift: Tensor<4>,
    pub act: Act,
}

pub fn load_batchnorm(l: &Loader, prefix: &str, channels: usize, eps: f32, act: Act) -> Affine {
    let (scale, shift) = bn_scale_shift(l, prefix, channels, eps);
    let device = l.device();
    Affine {
        scale: Tensor::from_data(TensorData::new(scale, [1, channels, 1, 1]), device),
        shift: Tensor::from_data(TensorData::new(shift, [1, channels, 1, 1]), device),
        act,
    }
}

/// The shortcut of a residual block.
#[derive(Debug, Clone)]
pub enum Skip {
    None,
    Identity,
    Projection(Conv),
}

/// A chain of convolutions with an optional shortcut added before the final activation:
/// ResNet's basic and bottleneck blocks, MobileNetV2's inverted residuals.
#[derive(Debug, Clone)]
pub struct Block {
    pub main: Vec<Conv>,
    pub skip: Skip,
    pub post: Act,
}

impl Block {
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let shortcut = match &self.skip {
            Skip::None => None,
            Skip::Identity => Some(x.clone()),
            Skip::Projection(c) => Some(c.forward(x.clone())),
        };
        let y = self.main.iter().fold(x, |h, c| c.forward(h));
        let y = match shortcut {
            Some(s) => y + s,
            None => y,
        };
        self.post.apply(y)
    }
}

/// One step of the chain.
#[derive(Debug, Clone)]
pub enum Stage {
    Conv(Conv),
    Affine(Affine),
    Act(Act),
    MaxPool { kernel: usize, stride: usize, padding: usize },
    Block(Block),
}

impl Stage {
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        match self {
            Stage::Conv(c) => c.forward(x),
            Stage::Affine(a) => a.act.apply(x * a.scale.clone() + a.shift.clone()),
            Stage::Act(a) => a.apply(x),
            Stage::MaxPool { kernel, stride, padding } => {
                max_pool2d(x, MaxPoolOptions::new([*kernel; 2]).with_stride([*stride; 2]).with_padding([*padding; 2]))
            }
            Stage::Block(b) => b.forward(x),
        }
    }
}

/// A fully connected layer; `weight` is stored `[in, out]` (PyTorch's transposed).
#[derive(Debug, Clone)]
pub struct Linear {
    pub weight: Tensor<2>,
    pub bias: Tensor<1>,
}

impl Linear {
    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        linear(x, self.weight.clone(), Some(self.bias.clone()))
    }

    pub fn out_features(&self) -> usize {
        self.weight.dims()[1]
    }

    /// The layer applied at every position of `[N, K, H, W]` (a 1x1 convolution with its weights
    /// and bias): the class activation maps `[N, C, H, W]` of a GAP + linear head.
    pub fn forward_channels(&self, x: Tensor<4>) -> Tensor<4> {
        let [n, k, h, w] = x.dims();
        let rows = x.permute([0, 2, 3, 1]).reshape([n * h * w, k]);
        self.forward(rows).reshape([n, h, w, self.out_features()]).permute([0, 3, 1, 2])
    }
}

/// Load PyTorch's `{prefix}.weight` `[out, in]` and `{prefix}.bias`.
pub fn load_linear(l: &Loader, prefix: &str, input: usize, output: usize) -> Linear {
    let w = l.tensor(&format!("{prefix}.weight"), [output, input]);
    Linear { weight: w.transpose(), bias: l.tensor(&format!("{prefix}.bias"), [output]) }
}

/// BoostLU (Kim et al., "Bridging the Gap between Model Explanations in Partially Annotated
/// Multi-label Classification", CVPR 2023): `alpha * x` where `x > 0`, `x` elsewhere, written
/// `x + (alpha - 1) relu(x)` so autodiff sees the same piecewise-linear function.
pub fn boost_lu<const D: usize>(x: Tensor<D>, alpha: f32) -> Tensor<D> {
    if alpha == 1.0 {
        return x;
    }
    x.clone() + relu(x) * (alpha - 1.0)
}

/// The classifier after the last stage.
#[derive(Debug, Clone)]
pub enum Head {
    /// Global average pooling then one linear layer: the head CAM needs.
    GapLinear(Linear),
    /// The same weights read as a 1x1 convolution giving class activation maps, BoostLU with
    /// `alpha != 1` on them, then global average pooling: `y_c = mean_ij BoostLU(w_c . A_ij + b_c)`
    /// (Kim et al., CVPR 2023). With `alpha = 1` it is [`Head::GapLinear`], since pooling and a
    /// linear map commute.
    BoostedCam { fc: Linear, alpha: f32 },
    /// Adaptive average pooling to `pool`, flatten, then linear layers with activations (VGG).
    PoolMlp { pool: [usize; 2], layers: Vec<(Linear, Act)> },
}

impl Head {
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        self.features_and_logits(x).1
    }

    /// The penultimate features (what the last linear layer reads: the pooled features of a
    /// GAP + linear head) and the logits.
    pub fn features_and_logits(&self, x: Tensor<4>) -> (Tensor<2>, Tensor<2>) {
        match self {
            Head::GapLinear(fc) => {
                let features = global_average_pool(x);
                (features.clone(), fc.forward(features))
            }
            Head::BoostedCam { fc, alpha } => {
                (global_average_pool(x.clone()), global_average_pool(boost_lu(fc.forward_channels(x), *alpha)))
            }
            Head::PoolMlp { pool, layers } => {
                let p = adaptive_avg_pool2d(x, *pool);
                let [n, c, h, w] = p.dims();
                let (last, hidden) = layers.split_last().expect("an MLP head has a layer");
                let features = hidden.iter().fold(p.reshape([n, c * h * w]), |h, (fc, act)| act.apply(fc.forward(h)));
                (features.clone(), last.1.apply(last.0.forward(features)))
            }
        }
    }

    pub fn classes(&self) -> usize {
        match self {
            Head::GapLinear(fc) | Head::BoostedCam { fc, .. } => fc.out_features(),
            Head::PoolMlp { layers, .. } => layers.last().map_or(0, |(fc, _)| fc.out_features()),
        }
    }
}

/// Mean over the spatial dimensions: `[N, C, H, W] -> [N, C]`.
pub fn global_average_pool(x: Tensor<4>) -> Tensor<2> {
    let [n, c, _, _] = x.dims();
    x.mean_dim(3).mean_dim(2).reshape([n, c])
}

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
    Graph { net: Arc<OnnxNet>, cam: Option<(usize, Linear)> },
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
            body: Body::Graph { net, cam },
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

    /// [`Network::forward_to_resumable`] for an input that needs no gradient through it: on the
    /// CPU a chain runs its plan ([`super::plan`]) up to `cut`.
    pub fn forward_to_values(&self, x: Tensor<4>, cut: usize) -> (Tensor<4>, Resume) {
        let device = x.device();
        if let Body::Chain { stages, plan, .. } = &self.body
            && device == burn::tensor::Device::flex()
            && let Some(plan) = plan.get(stages).filter(|p| p.ends_at(cut))
        {
            let dims = x.dims();
            if let Some(a) = plan.activations(&host_values(x.clone()), dims, cut, &device) {
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
    /// point of forward-only passes (no gradient). On the CPU a chain runs its plan
    /// ([`super::plan`]); elsewhere, burn's [`Network::forward`].
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
        if let Body::Chain { stages, head, plan } = &self.body
            && *device == burn::tensor::Device::flex()
            && let Some(logits) = plan.get(stages).and_then(|p| p.logits(head, &values, dims, cut, device))
        {
            return logits;
        }
        self.forward_from_resumed(Tensor::from_data(TensorData::new(values, dims), device), resume, cut)
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
