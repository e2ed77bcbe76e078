//! Lantern's small demo classifier: `blocks.{i}` = 3x3 convolution, BatchNorm, ReLU, and a 2x2
//! max-pool after every block but the last, then global average pooling and `fc`. With a GAP +
//! linear head, CAM applies to its last block. Trained by `lantern train classifier` on the
//! procedural benchmark; the widths are read from the weights file.

use super::labels::Labels;
use super::scores::OutputKind;
use super::network::{Act, ConvSpec, Head, LayerInfo, Network, Stage, load_conv_bn, load_linear};
use super::state_dict::Loader;
use crate::error::{LanternError, Result};
use crate::imaging::Preprocess;

const EPS: f32 = 1e-5;

/// The preprocessing the demo model is trained with: 112x112, inputs scaled to `[-1, 1]`.
pub fn preprocess() -> Preprocess {
    Preprocess { resize: 112, crop: 112, mean: [0.5; 3], std: [0.5; 3] }
}

/// Build the demo CNN from `l`'s tensors; block widths come from the file.
pub fn build(l: &Loader, classes: usize) -> Result<Network> {
    let blocks = l.dict().count_indexed("blocks", "conv.weight");
    if blocks == 0 {
        return Err(LanternError::Architecture("lantern_cnn: no blocks.0.conv.weight".into()));
    }
    let mut stages = Vec::new();
    let mut layers = Vec::new();
    let mut cin = 3;
    for i in 0..blocks {
        let cout = l.shape(&format!("blocks.{i}.conv.weight")).map_or(0, |s| s[0]);
        let p = format!("blocks.{i}");
        stages.push(Stage::Conv(load_conv_bn(l, &format!("{p}.conv"), &format!("{p}.bn"), ConvSpec::new(cin, cout, 3, 1), EPS, Act::Relu)));
        if i + 1 < blocks {
            stages.push(Stage::MaxPool { kernel: 2, stride: 2, padding: 0 });
        }
        layers.push(LayerInfo { name: p, cut: stages.len(), channels: cout, same_as: None });
        cin = cout;
    }
    let head = Head::GapLinear(load_linear(l, "fc", cin, classes));
    let default_layer = format!("blocks.{}", blocks - 1);
    Ok(Network { arch: "lantern_cnn".into(), stages, head, layers, preprocess: preprocess(), labels: Labels::default(), default_layer, output: OutputKind::Softmax })
}
