//! VGG-11/13/16/19, with and without BatchNorm (Simonyan & Zisserman, "Very Deep Convolutional
//! Networks for Large-Scale Image Recognition", ICLR 2015), in torchvision's layout: every module
//! of `features` is its own layer (`features.0` conv, `features.1` BN or ReLU, ...), then
//! `avgpool` to 7x7 and `classifier.{0,3,6}`.

use super::labels::Labels;
use super::network::{Act, Body, ConvSpec, Head, LayerInfo, Network, Stage, load_batchnorm, load_conv, load_linear};
use super::scores::OutputKind;
use super::state_dict::Loader;
use crate::error::Result;
use crate::imaging::Preprocess;

/// A `features` entry: a 3x3 convolution with this many output channels, or a 2x2 max-pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VggItem {
    Conv(usize),
    Pool,
}

use VggItem::{Conv as C, Pool as M};

const A: &[VggItem] = &[C(64), M, C(128), M, C(256), C(256), M, C(512), C(512), M, C(512), C(512), M];
const B: &[VggItem] = &[C(64), C(64), M, C(128), C(128), M, C(256), C(256), M, C(512), C(512), M, C(512), C(512), M];
const D: &[VggItem] = &[
    C(64),
    C(64),
    M,
    C(128),
    C(128),
    M,
    C(256),
    C(256),
    C(256),
    M,
    C(512),
    C(512),
    C(512),
    M,
    C(512),
    C(512),
    C(512),
    M,
];
const E: &[VggItem] = &[
    C(64),
    C(64),
    M,
    C(128),
    C(128),
    M,
    C(256),
    C(256),
    C(256),
    C(256),
    M,
    C(512),
    C(512),
    C(512),
    C(512),
    M,
    C(512),
    C(512),
    C(512),
    C(512),
    M,
];

/// Feature configuration of a VGG depth (11, 13, 16 or 19).
pub fn config(depth: usize) -> Option<&'static [VggItem]> {
    match depth {
        11 => Some(A),
        13 => Some(B),
        16 => Some(D),
        19 => Some(E),
        _ => None,
    }
}

/// Build `vgg{depth}` or `vgg{depth}_bn` from `l`'s tensors.
pub fn build(name: &str, items: &[VggItem], batch_norm: bool, l: &Loader, classes: usize) -> Result<Network> {
    let mut stages = Vec::new();
    let mut layers = Vec::new();
    let mut cin = 3;
    let mut push = |stage: Stage, channels: usize, stages: &mut Vec<Stage>| {
        let index = stages.len();
        stages.push(stage);
        layers.push(LayerInfo { name: format!("features.{index}"), cut: index + 1, channels, same_as: None });
    };
    for item in items {
        match *item {
            VggItem::Pool => push(Stage::MaxPool { kernel: 2, stride: 2, padding: 0 }, cin, &mut stages),
            VggItem::Conv(cout) => {
                let key = format!("features.{}", stages.len());
                push(
                    Stage::Conv(load_conv(l, &key, ConvSpec::new(cin, cout, 3, 1), true, Act::Identity)),
                    cout,
                    &mut stages,
                );
                if batch_norm {
                    let key = format!("features.{}", stages.len());
                    push(Stage::Affine(load_batchnorm(l, &key, cout, 1e-5, Act::Identity)), cout, &mut stages);
                }
                push(Stage::Act(Act::Relu), cout, &mut stages);
                cin = cout;
            }
        }
    }
    let head = Head::PoolMlp {
        pool: [7, 7],
        layers: vec![
            (load_linear(l, "classifier.0", cin * 49, 4096), Act::Relu),
            (load_linear(l, "classifier.3", 4096, 4096), Act::Relu),
            (load_linear(l, "classifier.6", 4096, classes), Act::Identity),
        ],
    };
    let default_layer = layers.last().map(|li: &LayerInfo| li.name.clone()).unwrap_or_default();
    Ok(Network {
        arch: name.to_string(),
        body: Body::chain(stages, head),
        layers,
        preprocess: Preprocess::imagenet(),
        labels: Labels::default(),
        default_layer,
        output: OutputKind::Softmax,
    })
}
