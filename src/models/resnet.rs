//! ResNet-18/34/50/101/152 (He et al., "Deep Residual Learning for Image Recognition", CVPR 2016)
//! with torchvision's key layout (`conv1`, `bn1`, `layer1.0.conv1`, ..., `fc`); bottleneck blocks
//! put the stride on the 3x3 convolution (torchvision's "ResNet v1.5").

use super::labels::Labels;
use super::network::{Act, Block, Body, ConvSpec, Head, LayerInfo, Network, Skip, Stage, load_conv_bn, load_linear};
use super::scores::OutputKind;
use super::state_dict::Loader;
use crate::error::Result;
use crate::imaging::Preprocess;

const EPS: f32 = 1e-5;

/// Block type and blocks per stage of a ResNet depth.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResNetConfig {
    pub bottleneck: bool,
    pub blocks: [usize; 4],
}

impl ResNetConfig {
    pub const VARIANTS: [(&'static str, ResNetConfig); 5] = [
        ("resnet18", ResNetConfig { bottleneck: false, blocks: [2, 2, 2, 2] }),
        ("resnet34", ResNetConfig { bottleneck: false, blocks: [3, 4, 6, 3] }),
        ("resnet50", ResNetConfig { bottleneck: true, blocks: [3, 4, 6, 3] }),
        ("resnet101", ResNetConfig { bottleneck: true, blocks: [3, 4, 23, 3] }),
        ("resnet152", ResNetConfig { bottleneck: true, blocks: [3, 8, 36, 3] }),
    ];

    pub fn named(name: &str) -> Option<Self> {
        Self::VARIANTS.iter().find(|(n, _)| *n == name).map(|(_, c)| *c)
    }

    fn expansion(&self) -> usize {
        if self.bottleneck { 4 } else { 1 }
    }
}

/// Build a ResNet of the named depth from `l`'s tensors; `classes` comes from the file's `fc`.
pub fn build(name: &str, config: ResNetConfig, l: &Loader, classes: usize) -> Result<Network> {
    let mut stages = vec![
        Stage::Conv(load_conv_bn(l, "conv1", "bn1", ConvSpec::new(3, 64, 7, 2), EPS, Act::Relu)),
        Stage::MaxPool { kernel: 3, stride: 2, padding: 1 },
    ];
    let mut layers = vec![LayerInfo { name: "maxpool".into(), cut: 2, channels: 64, same_as: None }];
    let mut cin = 64;
    for (li, &count) in config.blocks.iter().enumerate() {
        let planes = 64 << li;
        let cout = planes * config.expansion();
        for b in 0..count {
            let stride = if li > 0 && b == 0 { 2 } else { 1 };
            let p = format!("layer{}.{b}", li + 1);
            let main = if config.bottleneck {
                vec![
                    load_conv_bn(
                        l,
                        &format!("{p}.conv1"),
                        &format!("{p}.bn1"),
                        ConvSpec::new(cin, planes, 1, 1),
                        EPS,
                        Act::Relu,
                    ),
                    load_conv_bn(
                        l,
                        &format!("{p}.conv2"),
                        &format!("{p}.bn2"),
                        ConvSpec::new(planes, planes, 3, stride),
                        EPS,
                        Act::Relu,
                    ),
                    load_conv_bn(
                        l,
                        &format!("{p}.conv3"),
                        &format!("{p}.bn3"),
                        ConvSpec::new(planes, cout, 1, 1),
                        EPS,
                        Act::Identity,
                    ),
                ]
            } else {
                vec![
                    load_conv_bn(
                        l,
                        &format!("{p}.conv1"),
                        &format!("{p}.bn1"),
                        ConvSpec::new(cin, planes, 3, stride),
                        EPS,
                        Act::Relu,
                    ),
                    load_conv_bn(
                        l,
                        &format!("{p}.conv2"),
                        &format!("{p}.bn2"),
                        ConvSpec::new(planes, cout, 3, 1),
                        EPS,
                        Act::Identity,
                    ),
                ]
            };
            let skip = if stride != 1 || cin != cout {
                Skip::Projection(load_conv_bn(
                    l,
                    &format!("{p}.downsample.0"),
                    &format!("{p}.downsample.1"),
                    ConvSpec::new(cin, cout, 1, stride),
                    EPS,
                    Act::Identity,
                ))
            } else {
                Skip::Identity
            };
            stages.push(Stage::Block(Block { main, skip, post: Act::Relu }));
            let last = b + 1 == count;
            let stage_name = format!("layer{}", li + 1);
            layers.push(LayerInfo {
                name: p.clone(),
                cut: stages.len(),
                channels: cout,
                same_as: last.then(|| stage_name.clone()),
            });
            if last {
                layers.push(LayerInfo { name: stage_name, cut: stages.len(), channels: cout, same_as: Some(p) });
            }
            cin = cout;
        }
    }
    let head = Head::GapLinear(load_linear(l, "fc", cin, classes));
    Ok(Network {
        arch: name.to_string(),
        body: Body::chain(stages, head),
        layers,
        preprocess: Preprocess::imagenet(),
        labels: Labels::default(),
        default_layer: "layer4".into(),
        output: OutputKind::Softmax,
    })
}
