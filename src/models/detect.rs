//! Telling the architecture of a state dict from its tensor names and shapes.

use super::resnet::ResNetConfig;
use super::state_dict::StateDict;
use crate::error::{LanternError, Result};

/// Every architecture name Lantern can build, as `--arch` accepts it.
pub const ARCHITECTURES: [&str; 18] = [
    "resnet18",
    "resnet34",
    "resnet50",
    "resnet101",
    "resnet152",
    "vgg11",
    "vgg11_bn",
    "vgg13",
    "vgg13_bn",
    "vgg16",
    "vgg16_bn",
    "vgg19",
    "vgg19_bn",
    "mobilenet_v2",
    "efficientnet_lite0",
    "lantern_cnn",
    super::embedding::ARCH,
    super::attributes::ARCH,
];

/// The architecture whose key layout `dict` has.
pub fn detect(dict: &StateDict) -> Result<String> {
    if dict.contains("layer1.0.conv1.weight") && dict.contains("conv1.weight") {
        let bottleneck = dict.contains("layer1.0.conv3.weight");
        let blocks = [1, 2, 3, 4].map(|i| dict.count_indexed(&format!("layer{i}"), "conv1.weight"));
        return ResNetConfig::VARIANTS
            .iter()
            .find(|(_, c)| c.bottleneck == bottleneck && c.blocks == blocks)
            .map(|(n, _)| n.to_string())
            .ok_or_else(|| {
                LanternError::Architecture(format!(
                    "a ResNet with {} blocks {blocks:?} per stage, which is none of ResNet-18/34/50/101/152",
                    if bottleneck { "bottleneck" } else { "basic" }
                ))
            });
    }
    if dict.contains("blocks.0.conv.weight") && dict.contains("embed.weight") {
        return Ok(super::embedding::ARCH.into());
    }
    if dict.contains("blocks.0.conv.weight") && dict.contains("heatmap.weight") {
        return Ok(super::attributes::ARCH.into());
    }
    if dict.contains("blocks.0.conv.weight") && dict.contains("fc.weight") {
        return Ok("lantern_cnn".into());
    }
    if dict.contains("features.1.conv.0.0.weight") && dict.contains("features.18.0.weight") {
        return Ok("mobilenet_v2".into());
    }
    if dict.contains("_conv_stem.weight") && dict.contains("_blocks.0._depthwise_conv.weight") {
        let blocks = dict.count_indexed("_blocks", "_depthwise_conv.weight");
        if blocks == 16 && dict.shape("_conv_head.weight") == Some(&[1280, 320, 1, 1][..]) {
            return Ok("efficientnet_lite0".into());
        }
        return Err(LanternError::Architecture(format!(
            "an EfficientNet with {blocks} blocks, which is not EfficientNet-Lite0 (16 blocks, 320->1280 head)"
        )));
    }
    if dict.contains("classifier.6.weight") && dict.contains("features.0.weight") {
        let convs = dict
            .indices_with("features", "weight")
            .into_iter()
            .filter(|i| dict.shape(&format!("features.{i}.weight")).is_some_and(|s| s.len() == 4))
            .count();
        let depth = match convs {
            8 => 11,
            10 => 13,
            13 => 16,
            16 => 19,
            n => {
                return Err(LanternError::Architecture(format!(
                    "a VGG with {n} convolutions, which is none of VGG-11/13/16/19 (8, 10, 13, 16)"
                )));
            }
        };
        let bn = dict.contains("features.1.running_mean");
        return Ok(format!("vgg{depth}{}", if bn { "_bn" } else { "" }));
    }
    let sample: Vec<&str> = dict.tensors.keys().take(6).map(String::as_str).collect();
    Err(LanternError::Architecture(format!(
        "unrecognised key layout (first keys: {}); name one with --arch ({})",
        sample.join(", "),
        ARCHITECTURES.join(", ")
    )))
}

/// The key of the final classifier's weight for an architecture, whose first dimension is the
/// number of classes.
pub fn classifier_key(arch: &str) -> &'static str {
    if arch.starts_with("resnet") || arch == "lantern_cnn" {
        "fc.weight"
    } else if arch == super::embedding::ARCH {
        "embed.weight"
    } else if arch == super::attributes::ARCH {
        "heatmap.weight"
    } else if arch.starts_with("vgg") {
        "classifier.6.weight"
    } else if arch == "mobilenet_v2" {
        "classifier.1.weight"
    } else {
        "_fc.weight"
    }
}
