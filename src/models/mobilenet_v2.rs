//! MobileNetV2 (Sandler et al., "MobileNetV2: Inverted Residuals and Linear Bottlenecks",
//! CVPR 2018) in torchvision's layout: `features.0` stem, `features.1`..`features.17` inverted
//! residual blocks, `features.18` the 1x1 expansion to 1280 channels, `classifier.1`.

use super::labels::Labels;
use super::network::{
    Act, Block, Body, Conv, ConvSpec, Head, LayerInfo, Network, Skip, Stage, load_conv_bn, load_linear,
};
use super::scores::OutputKind;
use super::state_dict::Loader;
use crate::error::Result;
use crate::imaging::Preprocess;

const EPS: f32 = 1e-5;

/// `(expansion t, output channels c, repeats n, first stride s)` per block group.
const SETTINGS: [(usize, usize, usize, usize); 7] =
    [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)];

/// Build torchvision's `mobilenet_v2` (width 1.0) from `l`'s tensors.
pub fn build(l: &Loader, classes: usize) -> Result<Network> {
    let mut stages =
        vec![Stage::Conv(load_conv_bn(l, "features.0.0", "features.0.1", ConvSpec::new(3, 32, 3, 2), EPS, Act::Relu6))];
    let mut layers = vec![LayerInfo { name: "features.0".into(), cut: 1, channels: 32, same_as: None }];
    let mut cin = 32;
    for (t, c, n, s) in SETTINGS {
        for i in 0..n {
            let stride = if i == 0 { s } else { 1 };
            let p = format!("features.{}.conv", stages.len());
            let hidden = cin * t;
            let mut main: Vec<Conv> = Vec::new();
            let mut k = 0;
            if t != 1 {
                main.push(load_conv_bn(
                    l,
                    &format!("{p}.0.0"),
                    &format!("{p}.0.1"),
                    ConvSpec::new(cin, hidden, 1, 1),
                    EPS,
                    Act::Relu6,
                ));
                k = 1;
            }
            main.push(load_conv_bn(
                l,
                &format!("{p}.{k}.0"),
                &format!("{p}.{k}.1"),
                ConvSpec::depthwise(hidden, 3, stride),
                EPS,
                Act::Relu6,
            ));
            main.push(load_conv_bn(
                l,
                &format!("{p}.{}", k + 1),
                &format!("{p}.{}", k + 2),
                ConvSpec::new(hidden, c, 1, 1),
                EPS,
                Act::Identity,
            ));
            let skip = if stride == 1 && cin == c { Skip::Identity } else { Skip::None };
            stages.push(Stage::Block(Block { main, skip, post: Act::Identity }));
            layers.push(LayerInfo {
                name: format!("features.{}", stages.len() - 1),
                cut: stages.len(),
                channels: c,
                same_as: None,
            });
            cin = c;
        }
    }
    stages.push(Stage::Conv(load_conv_bn(
        l,
        "features.18.0",
        "features.18.1",
        ConvSpec::new(cin, 1280, 1, 1),
        EPS,
        Act::Relu6,
    )));
    layers.push(LayerInfo {
        name: "features.18".into(),
        cut: stages.len(),
        channels: 1280,
        same_as: Some("features".into()),
    });
    layers.push(LayerInfo {
        name: "features".into(),
        cut: stages.len(),
        channels: 1280,
        same_as: Some("features.18".into()),
    });
    let head = Head::GapLinear(load_linear(l, "classifier.1", 1280, classes));
    Ok(Network {
        arch: "mobilenet_v2".into(),
        body: Body::chain(stages, head),
        layers,
        preprocess: Preprocess::imagenet(),
        labels: Labels::default(),
        default_layer: "features.18".into(),
        output: OutputKind::Softmax,
    })
}
