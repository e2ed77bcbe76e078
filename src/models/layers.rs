//! The layers the hand-written networks are built of, and their inference on burn tensors:
//! convolutions (with BatchNorm folded in at load), affine BatchNorm, residual blocks, stages,
//! linear layers and the classifier heads ([`super::network`] chains them; [`super::plan`] compiles
//! the same layers for the CPU).

use burn::tensor::activation::relu;
use burn::tensor::module::{adaptive_avg_pool2d, conv2d, linear, max_pool2d};
use burn::tensor::ops::{ConvOptions, MaxPoolOptions};
use burn::tensor::{Tensor, TensorData};

use super::state_dict::Loader;

/// A tensor's values on the host, as `f32` (converting from any float dtype): every read of a
/// tensor's values goes through here (and [`crate::device::read`], which waits for a GPU).
pub fn host_values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    crate::device::read(t).try_into_vec_as::<f32>().expect("float tensors convert to f32")
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
