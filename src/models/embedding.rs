//! Embedding networks: models whose output is a vector compared by cosine similarity.
//!
//! Lantern's own ([`EmbeddingCnn`], architecture `lantern_embedding`) is the demo CNN's trunk
//! (`blocks.{i}`: 3x3 convolution, BatchNorm, ReLU, 2x2 max-pool between blocks), global average
//! pooling and one linear layer `embed` to `dim` values; the embedding is that vector
//! L2-normalised, `e = z / |z|`. Any classifier serves as an embedding model too: [`penultimate`]
//! cuts its head before the last linear layer, so its output is the feature vector the classifier
//! reads (ResNet's pooled 512/2048 values, VGG's second 4096-wide layer).
//!
//! An embedding [`Network`] outputs `z` unnormalised: every use of it (the similarity objective,
//! retrieval) is a cosine, which does not see the scale, and [`embed`] returns `e`.

use super::labels::Labels;
use super::lantern_cnn::{self, ConvBlock, new_blocks, trunk};
use super::network::{Body, Head, Linear, Network, global_average_pool, host_values, load_linear};
use super::scores::OutputKind;
use super::state_dict::Loader;
use crate::error::Result;
use crate::imaging::Preprocess;
use burn::module::Module;
use burn::nn::LinearConfig;
use burn::tensor::{Device, Tensor, TensorData};
use std::path::Path;

/// Architecture name of [`EmbeddingCnn`] weights files.
pub const ARCH: &str = "lantern_embedding";
/// Side of the square input the similarity models are trained on.
pub const INPUT: u32 = 64;

/// The preprocessing of the similarity models: `INPUT x INPUT`, inputs scaled to `[-1, 1]`.
pub fn preprocess() -> Preprocess {
    Preprocess { resize: INPUT, crop: INPUT, mean: [0.5; 3], std: [0.5; 3] }
}

/// The trainable embedding network; its parameter paths are the weights file's keys.
#[derive(Module, Debug)]
pub struct EmbeddingCnn {
    blocks: Vec<ConvBlock>,
    embed: burn::nn::Linear,
}

impl EmbeddingCnn {
    /// A freshly initialised network: one block per entry of `widths`, `dim` outputs.
    pub fn new(widths: &[usize], dim: usize, device: &Device) -> Self {
        let cin = widths.last().copied().unwrap_or(3);
        Self { blocks: new_blocks(widths, device), embed: LinearConfig::new(cin, dim).init(device) }
    }

    /// L2-normalised embeddings `[n, dim]` of a batch `[n, 3, h, w]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        let z = self.embed.forward(global_average_pool(trunk(&self.blocks, x)));
        let norm = (z.clone() * z.clone()).sum_dim(1).sqrt().clamp_min(1e-8);
        z / norm
    }

    /// Save as the file [`build`] loads.
    pub fn save(&self, path: &Path) -> Result<()> {
        lantern_cnn::save_module(self, path)
    }
}

/// Build a `lantern_embedding` network of `dim` outputs from `l`'s tensors.
pub fn build(l: &Loader, dim: usize) -> Result<Network> {
    let (stages, layers, cin) = lantern_cnn::load_trunk(l, ARCH)?;
    let head = Head::GapLinear(load_linear(l, "embed", cin, dim));
    let default_layer = layers.last().map(|l| l.name.clone()).unwrap_or_default();
    Ok(Network {
        arch: ARCH.into(),
        body: Body::chain(stages, head),
        layers,
        preprocess: preprocess(),
        labels: Labels::default(),
        default_layer,
        output: OutputKind::Embedding,
    })
}

/// The identity map on `n` values as a linear layer (weight `I`, bias 0): `x I + 0 = x` exactly.
fn identity_linear(n: usize, device: &Device) -> Linear {
    let mut w = vec![0.0f32; n * n];
    for i in 0..n {
        w[i * n + i] = 1.0;
    }
    Linear { weight: Tensor::from_data(TensorData::new(w, [n, n]), device), bias: Tensor::zeros([n], device) }
}

/// `net` as an embedding model: unchanged if its output already is an embedding, else cut before
/// its last linear layer (a GAP + linear head, or a BoostLU CAM head, becomes GAP alone, written as an identity layer so
/// every method that reads the head still applies; an MLP head loses its last layer).
pub fn penultimate(mut net: Network) -> Network {
    if net.output == OutputKind::Embedding {
        return net;
    }
    let device = net.device();
    net.body = match net.body {
        // The stages stay, and so does their plan.
        Body::Chain { stages, head, plan } => Body::Chain {
            stages,
            plan,
            head: match head {
                Head::GapLinear(fc) | Head::BoostedCam { fc, .. } => {
                    Head::GapLinear(identity_linear(fc.weight.dims()[0], &device))
                }
                Head::PoolMlp { pool, mut layers } => {
                    if layers.len() > 1 {
                        layers.pop();
                    }
                    Head::PoolMlp { pool, layers }
                }
            },
        },
        // An ONNX graph's output is compared as it is: export the embedding model itself.
        graph @ Body::Graph { .. } => graph,
    };
    net.output = OutputKind::Embedding;
    net.labels = Labels::default();
    net
}

/// `v / |v|` (zeros stay zeros).
pub fn normalized(v: &[f32]) -> Vec<f32> {
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if n > 0.0 { v.iter().map(|x| x / n).collect() } else { v.to_vec() }
}

/// Cosine similarity of two vectors (0 when either is zero).
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let na = a.iter().map(|x| x * x).sum::<f32>().sqrt();
    let nb = b.iter().map(|x| x * x).sum::<f32>().sqrt();
    if na > 0.0 && nb > 0.0 { dot / (na * nb) } else { 0.0 }
}

/// L2-normalised embeddings of a preprocessed batch `[n, 3, h, w]`, one vector per image.
pub fn embed(net: &Network, x: Tensor<4>) -> Vec<Vec<f32>> {
    let y = net.forward(x);
    let [_, k] = y.dims();
    host_values(y).chunks(k.max(1)).map(normalized).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::StateDict;

    fn input(n: usize, side: usize, seed: u64) -> Tensor<4> {
        let values = crate::seeded::normal("embedding.test", n * 3 * side * side, seed);
        Tensor::from_data(TensorData::new(values, [n, 3, side, side]), &Device::flex())
    }

    #[test]
    fn saved_weights_load_as_an_embedding_network_computing_the_same_vectors() {
        let device = Device::flex().autodiff();
        let model = crate::models::init::seeded(&device, 3, || EmbeddingCnn::new(&[4, 8], 5, &device));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("e.safetensors");
        model.save(&path).unwrap();
        let net = crate::models::load(&path, None, &Device::flex()).unwrap();
        assert_eq!((net.arch.as_str(), net.classes(), net.output), (ARCH, 5, OutputKind::Embedding));
        let x = input(2, 20, 1);
        let ours = embed(&net, x.clone());
        let theirs = host_values(model.valid().forward(x));
        for (i, v) in ours.iter().enumerate() {
            assert!((v.iter().map(|a| a * a).sum::<f32>() - 1.0).abs() < 1e-5);
            for (a, b) in v.iter().zip(&theirs[i * 5..(i + 1) * 5]) {
                assert!((a - b).abs() < 1e-4, "{v:?} vs {theirs:?}");
            }
        }
        let dict = StateDict::load(&path).unwrap();
        assert!(dict.contains("embed.weight") && !dict.contains("fc.weight"));
    }

    #[test]
    fn a_classifier_embeds_with_its_pooled_features() {
        let device = Device::flex();
        let dict = StateDict::seeded(&crate::models::layout("resnet18", 10).unwrap(), 4);
        let net = crate::models::build(&dict, "resnet18", &device).unwrap();
        let x = input(1, 32, 2);
        let pooled = host_values(global_average_pool(net.forward_to(x.clone(), net.output_cut())));
        let cut = penultimate(net);
        assert_eq!((cut.classes(), cut.output), (512, OutputKind::Embedding));
        assert_eq!(host_values(cut.forward(x)), pooled, "the identity head passes the features through exactly");
        let again = penultimate(cut.clone());
        assert_eq!(again.classes(), 512, "an embedding model is left as it is");
    }

    #[test]
    fn cosine_and_normalisation() {
        assert!((cosine(&[1.0, 0.0], &[1.0, 1.0]) - std::f32::consts::FRAC_1_SQRT_2).abs() < 1e-6);
        assert_eq!(cosine(&[0.0, 0.0], &[1.0, 1.0]), 0.0);
        assert_eq!(normalized(&[3.0, 4.0]), vec![0.6, 0.8]);
    }
}
