//! Attribute predictors with one spatial activation map per attribute value (Plummer et al.,
//! "Why do These Match? Explaining the Behavior of Image Similarity Models", ECCV 2020, and their
//! `AttributePredictor`): a convolutional trunk, then a bias-free 3x3 convolution `heatmap` from
//! the trunk's channels to `A` maps `A_a`; the score of value `a` is the global average of its map,
//! `y_a = mean_ij A_a[i, j]`, and its probability `sigmoid(y_a)`. The maps, softmax-normalised over
//! space, say where in the image each value is seen.
//!
//! Lantern's [`AttributeCnn`] (architecture `lantern_attributes`) uses the demo CNN's trunk. As an
//! inference [`Network`] the `heatmap` convolution is the last stage (layer `heatmap`, the default
//! layer) and the head is global average pooling with an identity layer, so every explanation
//! method applies to an attribute as well ([`crate::explain::Objective::Attribute`]).

use super::embedding::preprocess;
use super::labels::Labels;
use super::lantern_cnn::{self, ConvBlock, new_blocks, trunk};
use super::network::{
    Act, Body, ConvSpec, Head, LayerInfo, Linear, Network, Stage, global_average_pool, host_values, load_conv,
};
use super::scores::{OutputKind, sigmoid};
use super::state_dict::Loader;
use crate::error::{LanternError, Result};
use burn::module::Module;
use burn::nn::PaddingConfig2d;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::tensor::{Device, Tensor, TensorData};
use std::path::Path;

/// Architecture name of [`AttributeCnn`] weights files.
pub const ARCH: &str = "lantern_attributes";
/// The layer whose channels are the attribute maps.
pub const MAPS_LAYER: &str = "heatmap";

/// The trainable attribute predictor; its parameter paths are the weights file's keys.
#[derive(Module, Debug)]
pub struct AttributeCnn {
    blocks: Vec<ConvBlock>,
    heatmap: Conv2d,
}

impl AttributeCnn {
    /// A freshly initialised predictor: one trunk block per entry of `widths`, `attributes` maps.
    pub fn new(widths: &[usize], attributes: usize, device: &Device) -> Self {
        let cin = widths.last().copied().unwrap_or(3);
        let heatmap = Conv2dConfig::new([cin, attributes], [3, 3])
            .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
            .with_bias(false)
            .init(device);
        Self { blocks: new_blocks(widths, device), heatmap }
    }

    /// Scores `[n, A]` (logits: the spatial means of the maps) and the raw maps `[n, A, h, w]`.
    pub fn forward(&self, x: Tensor<4>) -> (Tensor<2>, Tensor<4>) {
        let maps = self.heatmap.forward(trunk(&self.blocks, x));
        (global_average_pool(maps.clone()), maps)
    }

    /// Save as the file [`build`] loads.
    pub fn save(&self, path: &Path) -> Result<()> {
        lantern_cnn::save_module(self, path)
    }
}

/// Build a `lantern_attributes` network with `attributes` maps from `l`'s tensors.
pub fn build(l: &Loader, attributes: usize) -> Result<Network> {
    let (mut stages, mut layers, cin) = lantern_cnn::load_trunk(l, ARCH)?;
    stages.push(Stage::Conv(load_conv(l, "heatmap", ConvSpec::new(cin, attributes, 3, 1), false, Act::Identity)));
    layers.push(LayerInfo { name: MAPS_LAYER.into(), cut: stages.len(), channels: attributes, same_as: None });
    let device = l.device();
    let mut eye = vec![0.0f32; attributes * attributes];
    for a in 0..attributes {
        eye[a * attributes + a] = 1.0;
    }
    let head = Head::GapLinear(Linear {
        weight: Tensor::from_data(TensorData::new(eye, [attributes, attributes]), device),
        bias: Tensor::zeros([attributes], device),
    });
    Ok(Network {
        arch: ARCH.into(),
        body: Body::chain(stages, head),
        layers,
        preprocess: preprocess(),
        labels: Labels::default(),
        default_layer: MAPS_LAYER.into(),
        output: OutputKind::Sigmoid,
    })
}

/// One image's attribute maps and scores.
#[derive(Debug, Clone, PartialEq)]
pub struct AttributeMaps {
    pub width: usize,
    pub height: usize,
    /// Raw map `A_a` of every value, `height * width` values each.
    pub maps: Vec<Vec<f32>>,
    /// `sigmoid(mean A_a)` of every value.
    pub probabilities: Vec<f32>,
}

/// The attribute maps of image 0 of a preprocessed batch, from an attribute network (one with a
/// `heatmap` layer).
pub fn attribute_maps(net: &Network, x: Tensor<4>) -> Result<AttributeMaps> {
    let layer = net.layers.iter().find(|l| l.name == MAPS_LAYER).ok_or_else(|| {
        LanternError::Mismatch(format!("{} is not an attribute model (it has no '{MAPS_LAYER}' layer)", net.arch))
    })?;
    let a = net.forward_to(x.narrow(0, 0, 1), layer.cut);
    let [_, k, h, w] = a.dims();
    let values = host_values(a);
    let maps: Vec<Vec<f32>> = values.chunks(h * w).map(<[f32]>::to_vec).collect();
    let probabilities = maps.iter().map(|m| sigmoid(m.iter().sum::<f32>() / (h * w) as f32)).collect();
    debug_assert_eq!(maps.len(), k);
    Ok(AttributeMaps { width: w, height: h, maps, probabilities })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::StateDict;

    #[test]
    fn saved_weights_load_with_maps_whose_means_are_the_scores() {
        let device = Device::flex().autodiff();
        let model = crate::models::init::seeded(&device, 5, || AttributeCnn::new(&[4, 6, 8], 7, &device));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.safetensors");
        model.save(&path).unwrap();
        let dict = StateDict::load(&path).unwrap();
        assert_eq!(dict.shape("heatmap.weight"), Some(&[7, 8, 3, 3][..]));
        assert!(!dict.contains("heatmap.bias"));
        let net = crate::models::load(&path, None, &Device::flex()).unwrap();
        assert_eq!((net.arch.as_str(), net.classes(), net.output), (ARCH, 7, OutputKind::Sigmoid));
        assert_eq!(net.default_layer, MAPS_LAYER);
        let values = crate::seeded::normal("attributes.test", 3 * 24 * 24, 1);
        let x = Tensor::<4>::from_data(TensorData::new(values, [1, 3, 24, 24]), &Device::flex());
        let maps = attribute_maps(&net, x.clone()).unwrap();
        assert_eq!((maps.width, maps.height, maps.maps.len()), (6, 6, 7), "two 2x2 pools: 24 -> 6");
        let (scores, raw) = model.valid().forward(x.clone());
        let (scores, raw) = (host_values(scores), host_values(raw));
        let scale = raw.iter().fold(1e-3f32, |m, v| m.max(v.abs()));
        for (a, b) in maps.maps.concat().iter().zip(&raw) {
            assert!((a - b).abs() <= 1e-4 * scale, "{a} vs {b}");
        }
        let logits = host_values(net.forward(x));
        for a in 0..7 {
            assert!((logits[a] - scores[a]).abs() <= 1e-4 * scale);
            assert!((maps.probabilities[a] - sigmoid(scores[a])).abs() < 1e-5);
        }
    }

    #[test]
    fn a_classifier_has_no_attribute_maps() {
        let net = crate::models::demo::network(&Device::flex()).unwrap();
        let x = Tensor::<4>::zeros([1, 3, 32, 32], &Device::flex());
        assert!(attribute_maps(&net, x).unwrap_err().to_string().contains("not an attribute model"));
    }
}
