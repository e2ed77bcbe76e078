//! EfficientNet-Lite0 (Tan & Le, "EfficientNet: Rethinking Model Scaling for Convolutional Neural
//! Networks", ICML 2019; the Lite variants drop squeeze-excitation and use ReLU6) in the key layout
//! of the `efficientnet_pytorch` / `efficientnet_lite_pytorch` packages: `_conv_stem`, `_bn0`,
//! `_blocks.{i}._expand_conv/_bn0/_depthwise_conv/_bn1/_project_conv/_bn2`, `_conv_head`, `_bn1`,
//! `_fc`. Convolutions use TensorFlow's `SAME` padding; BatchNorm epsilon is 1e-3.

use super::labels::Labels;
use super::network::{
    Act, Block, Body, Conv, ConvSpec, Head, LayerInfo, Network, Skip, Stage, load_batchnorm, load_conv, load_conv_bn,
    load_linear,
};
use super::scores::OutputKind;
use super::state_dict::Loader;
use crate::error::Result;
use crate::imaging::Preprocess;

const EPS: f32 = 1e-3;

/// `(repeats, kernel, first stride, expansion, input channels, output channels)` per block group
/// of Lite0 (width and depth multipliers 1.0).
const LITE0: [(usize, usize, usize, usize, usize, usize); 7] = [
    (1, 3, 1, 1, 32, 16),
    (2, 3, 2, 6, 16, 24),
    (2, 5, 2, 6, 24, 40),
    (3, 3, 2, 6, 40, 80),
    (3, 5, 1, 6, 80, 112),
    (4, 5, 2, 6, 112, 192),
    (1, 3, 1, 6, 192, 320),
];

/// The preprocessing the Lite0 weights were trained with: mean 0.498, std 0.502 per channel.
pub fn preprocess() -> Preprocess {
    Preprocess { resize: 256, crop: 224, mean: [0.498; 3], std: [0.502; 3] }
}

/// Build EfficientNet-Lite0 from `l`'s tensors.
pub fn build(l: &Loader, classes: usize) -> Result<Network> {
    let mut stages =
        vec![Stage::Conv(load_conv_bn(l, "_conv_stem", "_bn0", ConvSpec::new(3, 32, 3, 2).same(), EPS, Act::Relu6))];
    // The stem's output (after ReLU6) is no module's output in PyTorch, so it is not listed.
    let mut layers = Vec::new();
    for (repeats, kernel, stride, expand, cin, cout) in LITE0 {
        for r in 0..repeats {
            let (cin, stride) = if r == 0 { (cin, stride) } else { (cout, 1) };
            let i = stages.len() - 1;
            let p = format!("_blocks.{i}");
            let hidden = cin * expand;
            let mut main: Vec<Conv> = Vec::new();
            if expand != 1 {
                main.push(load_conv_bn(
                    l,
                    &format!("{p}._expand_conv"),
                    &format!("{p}._bn0"),
                    ConvSpec::new(cin, hidden, 1, 1).same(),
                    EPS,
                    Act::Relu6,
                ));
            }
            main.push(load_conv_bn(
                l,
                &format!("{p}._depthwise_conv"),
                &format!("{p}._bn1"),
                ConvSpec::depthwise(hidden, kernel, stride).same(),
                EPS,
                Act::Relu6,
            ));
            main.push(load_conv_bn(
                l,
                &format!("{p}._project_conv"),
                &format!("{p}._bn2"),
                ConvSpec::new(hidden, cout, 1, 1).same(),
                EPS,
                Act::Identity,
            ));
            let skip = if stride == 1 && cin == cout { Skip::Identity } else { Skip::None };
            stages.push(Stage::Block(Block { main, skip, post: Act::Identity }));
            layers.push(LayerInfo { name: p, cut: stages.len(), channels: cout, same_as: None });
        }
    }
    // The head convolution and its BatchNorm stay separate so `_conv_head` is the convolution's
    // own output, as a hook on that module sees it in PyTorch.
    stages.push(Stage::Conv(load_conv(l, "_conv_head", ConvSpec::new(320, 1280, 1, 1).same(), false, Act::Identity)));
    layers.push(LayerInfo { name: "_conv_head".into(), cut: stages.len(), channels: 1280, same_as: None });
    stages.push(Stage::Affine(load_batchnorm(l, "_bn1", 1280, EPS, Act::Relu6)));
    layers.push(LayerInfo { name: "features".into(), cut: stages.len(), channels: 1280, same_as: None });
    let head = Head::GapLinear(load_linear(l, "_fc", 1280, classes));
    Ok(Network {
        arch: "efficientnet_lite0".into(),
        body: Body::chain(stages, head),
        layers,
        preprocess: preprocess(),
        labels: Labels::default(),
        default_layer: "features".into(),
        output: OutputKind::Softmax,
    })
}
