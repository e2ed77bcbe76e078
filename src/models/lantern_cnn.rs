//! Lantern's small demo classifier: `blocks.{i}` = 3x3 convolution, BatchNorm, ReLU, and a 2x2
//! max-pool after every block but the last, then global average pooling and `fc`. With a GAP +
//! linear head, CAM applies to its last block. The multi-label variant reads `fc` as a 1x1
//! convolution giving class activation maps, boosts them with BoostLU and pools them
//! ([`LanternCnn::forward_boosted`]); its file records `alpha` and the sigmoid output in its
//! metadata ([`super::metadata`]).
//!
//! One definition serves both uses: [`LanternCnn`] is the trainable burn module (`lantern train
//! classifier`, `lantern train multilabel`), and [`build`] loads its weights file into the shared
//! inference [`Network`]. Both
//! read the shape of the network from the constants and [`pooled`] below, and the module's field
//! names are the weights file's keys (`blocks.{i}.conv.weight`, `blocks.{i}.bn.running_var`,
//! `fc.weight`, ...), which the unit tests check against what [`build`] asks for.

use super::labels::Labels;
use super::metadata::RunAs;
use super::network::{Act, Body, ConvSpec, Head, LayerInfo, Network, Stage, boost_lu, load_conv_bn, load_linear};
use super::scores::OutputKind;
use super::state_dict::Loader;
use crate::error::{LanternError, Result};
use crate::imaging::Preprocess;
use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, Linear, LinearConfig, PaddingConfig2d};
use burn::store::{BurnToPyTorchAdapter, ModuleSnapshot, SafetensorsStore};
use burn::tensor::activation::relu;
use burn::tensor::module::max_pool2d;
use burn::tensor::ops::MaxPoolOptions;
use burn::tensor::{Device, Tensor};
use std::path::Path;

/// BatchNorm's epsilon (PyTorch's default), in training and when folded for inference.
const EPS: f32 = 1e-5;
/// Side of every convolution kernel; padding `KERNEL / 2` keeps the spatial size.
const KERNEL: usize = 3;
/// Side and stride of the max-pooling between blocks.
const POOL: usize = 2;

/// Whether block `i` of `blocks` is followed by a max-pool (all but the last are).
pub fn pooled(i: usize, blocks: usize) -> bool {
    i + 1 < blocks
}

/// The preprocessing the demo model is trained with: 112x112, inputs scaled to `[-1, 1]`.
pub fn preprocess() -> Preprocess {
    Preprocess { resize: 112, crop: 112, mean: [0.5; 3], std: [0.5; 3] }
}

/// The convolutional trunk of a `blocks.{i}` weights file as inference stages (BatchNorm folded,
/// 2x2 max-pool after every block but the last), its layers, and the last block's width. Block
/// widths come from the file. Shared by the demo classifier and the embedding and attribute
/// networks ([`super::similarity_nets`]).
pub fn load_trunk(l: &Loader, arch: &str) -> Result<(Vec<Stage>, Vec<LayerInfo>, usize)> {
    let blocks = l.dict().count_indexed("blocks", "conv.weight");
    if blocks == 0 {
        return Err(LanternError::Architecture(format!("{arch}: no blocks.0.conv.weight")));
    }
    let mut stages = Vec::new();
    let mut layers = Vec::new();
    let mut cin = 3;
    for i in 0..blocks {
        let cout = l.shape(&format!("blocks.{i}.conv.weight")).map_or(0, |s| s[0]);
        let p = format!("blocks.{i}");
        let spec = ConvSpec::new(cin, cout, KERNEL, 1);
        stages.push(Stage::Conv(load_conv_bn(l, &format!("{p}.conv"), &format!("{p}.bn"), spec, EPS, Act::Relu)));
        if pooled(i, blocks) {
            stages.push(Stage::MaxPool { kernel: POOL, stride: POOL, padding: 0 });
        }
        layers.push(LayerInfo { name: p, cut: stages.len(), channels: cout, same_as: None });
        cin = cout;
    }
    Ok((stages, layers, cin))
}

/// Build the demo CNN from `l`'s tensors; block widths come from the file.
pub fn build(l: &Loader, classes: usize) -> Result<Network> {
    let (stages, layers, cin) = load_trunk(l, "lantern_cnn")?;
    let head = Head::GapLinear(load_linear(l, "fc", cin, classes));
    let default_layer = layers.last().map(|l| l.name.clone()).unwrap_or_default();
    Ok(Network {
        arch: "lantern_cnn".into(),
        body: Body::chain(stages, head),
        layers,
        preprocess: preprocess(),
        labels: Labels::default(),
        default_layer,
        output: OutputKind::Softmax,
    })
}

/// One block of the trainable network: convolution (no bias) and BatchNorm.
#[derive(Module, Debug)]
pub struct ConvBlock {
    conv: Conv2d,
    bn: BatchNorm,
}

/// The demo CNN as a trainable burn module; its parameter paths are the weights file's keys.
#[derive(Module, Debug)]
pub struct LanternCnn {
    blocks: Vec<ConvBlock>,
    fc: Linear,
}

/// Freshly initialised trunk blocks, one per entry of `widths` (burn's default initialisers,
/// drawn from `device`'s random generator); the last block's width is `widths.last()`.
pub fn new_blocks(widths: &[usize], device: &Device) -> Vec<ConvBlock> {
    let mut cin = 3;
    widths
        .iter()
        .map(|&cout| {
            let pad = KERNEL / 2;
            let conv = Conv2dConfig::new([cin, cout], [KERNEL, KERNEL])
                .with_padding(PaddingConfig2d::Explicit(pad, pad, pad, pad))
                .with_bias(false)
                .init(device);
            cin = cout;
            ConvBlock { conv, bn: BatchNormConfig::new(cout).with_epsilon(f64::from(EPS)).init(device) }
        })
        .collect()
}

/// The trunk's feature map of a batch `[n, 3, h, w]`: every block, max-pooled after all but the last.
pub fn trunk(blocks: &[ConvBlock], x: Tensor<4>) -> Tensor<4> {
    let n = blocks.len();
    let mut h = x;
    for (i, b) in blocks.iter().enumerate() {
        h = relu(b.bn.forward(b.conv.forward(h)));
        if pooled(i, n) {
            h = max_pool2d(h, MaxPoolOptions::new([POOL, POOL]).with_stride([POOL, POOL]));
        }
    }
    h
}

/// Save a trainable module as a PyTorch-style safetensors file (BatchNorm `weight`/`bias`,
/// linear `[out, in]`), replacing `path` only once the new file is complete. What is saved is
/// the inference-mode copy, whose BatchNorm running statistics include the last training batch
/// (burn applies each update only at the next read).
pub fn save_module<M: Module>(model: &M, path: &Path) -> Result<()> {
    let mut store = SafetensorsStore::from_file(path).with_to_adapter(BurnToPyTorchAdapter).overwrite(true);
    model.valid().save_into(&mut store).map_err(|e| LanternError::Internal(format!("{}: {e}", path.display())))
}

impl LanternCnn {
    /// A freshly initialised network with one block per entry of `widths` (see [`new_blocks`]).
    pub fn new(widths: &[usize], classes: usize, device: &Device) -> Self {
        let cin = widths.last().copied().unwrap_or(3);
        Self { blocks: new_blocks(widths, device), fc: LinearConfig::new(cin, classes).init(device) }
    }

    /// The linear classifier (the 1x1 convolution of the multi-label head).
    pub fn head(&self) -> &Linear {
        &self.fc
    }

    /// The last block's activations `A` of a batch `[n, 3, h, w]`.
    pub fn features(&self, x: Tensor<4>) -> Tensor<4> {
        trunk(&self.blocks, x)
    }

    /// Logits of a batch `[n, 3, h, w]`: `fc(mean_ij A_ij)`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        let h = self.features(x);
        let [batch, c, _, _] = h.dims();
        self.fc.forward(h.mean_dim(3).mean_dim(2).reshape([batch, c]))
    }

    /// Logits from the boosted class activation maps, the multi-label head of Kim et al.
    /// (CVPR 2023): `CAM = fc(A_ij)` at every position (a 1x1 convolution), `y = mean_ij
    /// BoostLU(CAM)`. With `alpha = 1` it equals [`LanternCnn::forward`] up to rounding.
    pub fn forward_boosted(&self, x: Tensor<4>, alpha: f32) -> Tensor<2> {
        let cam = self.fc.forward(self.features(x).permute([0, 2, 3, 1]));
        let [batch, _, _, c] = cam.dims();
        boost_lu(cam, alpha).mean_dim(2).mean_dim(1).reshape([batch, c])
    }

    /// Save as a PyTorch-style safetensors file (see [`save_module`]), the file [`build`] loads.
    pub fn save(&self, path: &Path) -> Result<()> {
        self.save_as(path, &RunAs::default())
    }

    /// [`LanternCnn::save`] with `run` (output kind, BoostLU's `alpha`) in the file's metadata.
    pub fn save_as(&self, path: &Path, run: &RunAs) -> Result<()> {
        let store = SafetensorsStore::from_file(path).with_to_adapter(BurnToPyTorchAdapter).overwrite(true);
        let mut store = run.entries().into_iter().fold(store, |s, (k, v)| s.metadata(k, v));
        self.valid().save_into(&mut store).map_err(|e| LanternError::Internal(format!("{}: {e}", path.display())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::network::host_values;
    use burn::tensor::TensorData;

    /// A small network whose BatchNorm running statistics have moved away from (0, 1), so
    /// folding them matters.
    fn trained_a_little(widths: &[usize], classes: usize) -> LanternCnn {
        let device = Device::flex().autodiff();
        let model = crate::models::init::seeded(&device, 11, || LanternCnn::new(widths, classes, &device));
        for i in 0..3 {
            let n = 4 * 3 * 24 * 24;
            let values: Vec<f32> =
                crate::seeded::normal("lantern_cnn.test", n, i).iter().map(|v| 0.5 + v * (1.0 + i as f32)).collect();
            let _ = model.forward(Tensor::from_data(TensorData::new(values, [4, 3, 24, 24]), &device));
        }
        model
    }

    #[test]
    fn module_parameters_are_the_keys_the_loader_reads() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("net.safetensors");
        trained_a_little(&[4, 8, 8], 6).save(&path).unwrap();
        let dict = crate::models::StateDict::load(&path).unwrap();
        let mut saved: Vec<(String, Vec<usize>)> =
            dict.tensors.iter().map(|(k, t)| (k.clone(), t.shape.clone())).collect();
        saved.sort();
        assert_eq!(saved.len(), 3 * 5 + 2, "conv weight and four BatchNorm tensors per block, fc weight and bias");
        let blocks = [4, 8, 8];
        let mut expected = vec![("fc.bias".to_string(), vec![6]), ("fc.weight".to_string(), vec![6, 8])];
        let mut cin = 3;
        for (i, &c) in blocks.iter().enumerate() {
            expected.push((format!("blocks.{i}.conv.weight"), vec![c, cin, 3, 3]));
            for leaf in ["weight", "bias", "running_mean", "running_var"] {
                expected.push((format!("blocks.{i}.bn.{leaf}"), vec![c]));
            }
            cin = c;
        }
        expected.sort();
        assert_eq!(saved, expected);
        assert_eq!(crate::models::detect(&dict).unwrap(), "lantern_cnn");
    }

    #[test]
    fn the_inference_graph_computes_what_the_module_computes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("net.safetensors");
        let model = trained_a_little(&[4, 8, 6], 5);
        model.save(&path).unwrap();
        let plain = Device::flex();
        let net = crate::models::load(&path, None, &plain).unwrap();
        assert_eq!(net.arch, "lantern_cnn");
        assert_eq!(net.classes(), 5);
        let values: Vec<f32> = (0..2 * 3 * 40 * 40).map(|i| ((i * 37 % 101) as f32 / 50.0) - 1.0).collect();
        let x = Tensor::<4>::from_data(TensorData::new(values, [2, 3, 40, 40]), &plain);
        let ours = host_values(net.forward(x.clone()));
        let theirs = host_values(model.valid().forward(x));
        assert_eq!(ours.len(), 10);
        let scale = theirs.iter().fold(0f32, |m, v| m.max(v.abs()));
        assert!(scale > 1e-3, "logits are not trivially zero: {theirs:?}");
        for (a, b) in ours.iter().zip(&theirs) {
            assert!((a - b).abs() <= 1e-4 * scale.max(1.0), "{ours:?} vs {theirs:?}");
        }
    }

    /// `BoostLU(x) = alpha x` for `x > 0`, `x` otherwise, by hand on a CAM of one position per class.
    #[test]
    fn boost_lu_scales_the_positive_part_only() {
        let device = Device::flex();
        let x = Tensor::<2>::from_data(TensorData::new(vec![-2.0f32, -0.5, 0.0, 0.5, 3.0], [1, 5]), &device);
        assert_eq!(host_values(boost_lu(x.clone(), 5.0)), vec![-2.0, -0.5, 0.0, 2.5, 15.0]);
        assert_eq!(host_values(boost_lu(x, 1.0)), vec![-2.0, -0.5, 0.0, 0.5, 3.0]);
    }

    #[test]
    fn the_boosted_module_and_the_loaded_network_agree_and_alpha_travels_in_the_metadata() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("multi.safetensors");
        let model = trained_a_little(&[4, 6], 3);
        let run = RunAs { output: Some(OutputKind::Sigmoid), boost_alpha: 5.0, input_size: Some(16) };
        model.save_as(&path, &run).unwrap();
        let plain = Device::flex();
        let net = crate::models::load(&path, None, &plain).unwrap();
        assert_eq!((net.output, net.boost()), (OutputKind::Sigmoid, Some(5.0)));
        assert_eq!((net.preprocess.resize, net.preprocess.crop), (16, 16));
        let values: Vec<f32> = (0..2 * 3 * 16 * 16).map(|i| ((i * 53 % 97) as f32 / 48.0) - 1.0).collect();
        let x = Tensor::<4>::from_data(TensorData::new(values, [2, 3, 16, 16]), &plain);
        let valid = model.valid();
        let boosted = host_values(valid.forward_boosted(x.clone(), 5.0));
        let ours = host_values(net.forward(x.clone()));
        let plain_logits = host_values(valid.forward(x.clone()));
        let scale = boosted.iter().fold(1e-3f32, |m, v| m.max(v.abs()));
        for (a, b) in ours.iter().zip(&boosted) {
            assert!((a - b).abs() <= 1e-4 * scale.max(1.0), "{ours:?} vs {boosted:?}");
        }
        // BoostLU changes the logits; alpha = 1 is the plain GAP + linear head.
        assert!(
            boosted.iter().zip(&plain_logits).any(|(a, b)| (a - b).abs() > 1e-3),
            "{boosted:?} vs {plain_logits:?}"
        );
        for (a, b) in host_values(valid.forward_boosted(x.clone(), 1.0)).iter().zip(&plain_logits) {
            assert!((a - b).abs() <= 1e-4 * scale.max(1.0));
        }
        let unboosted = host_values(net.boosted(1.0).unwrap().forward(x));
        for (a, b) in unboosted.iter().zip(&plain_logits) {
            assert!((a - b).abs() <= 1e-4 * scale.max(1.0), "{unboosted:?} vs {plain_logits:?}");
        }
    }
}
