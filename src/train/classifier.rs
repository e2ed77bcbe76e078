//! Training the demo classifier on the procedural benchmark with burn's autodiff.
//!
//! The network is the one [`crate::models::lantern_cnn`] loads: `blocks.{i}` (3x3 conv, BatchNorm,
//! ReLU, 2x2 max-pool but after the last) and `fc` after global average pooling. Images are
//! generated on the fly from `(seed, index)` at a size drawn per image (so the model does not
//! depend on the source resolution) and preprocessed as the model's input; the validation split
//! uses another seed. Loss is cross-entropy, the optimiser Adam with a cosine learning-rate decay.

use crate::models::network::host_values;
use crate::datasets::synth::{self, SHAPES};
use crate::error::{LanternError, Result};
use crate::models::scores::top_k;
use crate::imaging::Preprocess;
use crate::models::lantern_cnn;
use crate::seeded::Rng;
use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::loss::CrossEntropyLossConfig;
use burn::nn::{BatchNorm, BatchNormConfig, Linear, LinearConfig, PaddingConfig2d};
use burn::optim::{AdamConfig, GradientsParams};
use burn::store::{BurnToPyTorchAdapter, ModuleSnapshot, SafetensorsStore};
use burn::tensor::activation::relu;
use burn::tensor::module::max_pool2d;
use burn::tensor::ops::MaxPoolOptions;
use burn::tensor::{Device, Int, Tensor, TensorData};
use serde::Serialize;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

#[derive(Module, Debug)]
pub struct ConvBlock {
    conv: Conv2d,
    bn: BatchNorm,
}

/// The trainable twin of `lantern_cnn`; its parameter paths are the weights file's keys.
#[derive(Module, Debug)]
pub struct DemoNet {
    blocks: Vec<ConvBlock>,
    fc: Linear,
}

impl DemoNet {
    pub fn new(widths: &[usize], classes: usize, device: &Device) -> Self {
        let mut cin = 3;
        let blocks = widths
            .iter()
            .map(|&cout| {
                let conv = Conv2dConfig::new([cin, cout], [3, 3])
                    .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                    .with_bias(false)
                    .init(device);
                cin = cout;
                ConvBlock { conv, bn: BatchNormConfig::new(cout).init(device) }
            })
            .collect();
        Self { blocks, fc: LinearConfig::new(cin, classes).init(device) }
    }

    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        let n = self.blocks.len();
        let mut h = x;
        for (i, b) in self.blocks.iter().enumerate() {
            h = relu(b.bn.forward(b.conv.forward(h)));
            if i + 1 < n {
                h = max_pool2d(h, MaxPoolOptions::new([2, 2]).with_stride([2, 2]));
            }
        }
        let [batch, c, _, _] = h.dims();
        self.fc.forward(h.mean_dim(3).mean_dim(2).reshape([batch, c]))
    }

    /// Save as a PyTorch-style safetensors file (BatchNorm `weight`/`bias`, linear `[out, in]`),
    /// replacing `path` only once the new file is complete.
    pub fn save(&self, path: &Path) -> Result<()> {
        let mut store = SafetensorsStore::from_file(path).with_to_adapter(BurnToPyTorchAdapter).overwrite(true);
        self.save_into(&mut store).map_err(|e| LanternError::Invalid(format!("{}: {e}", path.display())))
    }
}

/// What to train.
#[derive(Debug, Clone, Serialize)]
pub struct TrainConfig {
    pub widths: Vec<usize>,
    /// Smallest and largest side of the generated images, in pixels.
    pub sizes: (u32, u32),
    pub train_count: usize,
    pub val_count: usize,
    pub epochs: usize,
    pub batch: usize,
    pub learning_rate: f64,
    pub seed: u64,
    pub val_seed: u64,
}

/// One epoch's numbers.
#[derive(Debug, Clone, Serialize)]
pub struct EpochLog {
    pub epoch: usize,
    pub loss: f64,
    pub train_accuracy: f64,
    pub val_accuracy: f64,
}

/// The side of generated image `i`: uniform in `sizes`, fixed by `(seed, i)`.
pub fn image_size(seed: u64, i: usize, sizes: (u32, u32)) -> u32 {
    let (lo, hi) = (sizes.0.min(sizes.1), sizes.0.max(sizes.1));
    let mut rng = Rng::for_item(seed ^ 0x51_7E5, i as u64);
    lo + rng.below((hi - lo + 1) as usize) as u32
}

/// A batch of generated images as a normalised tensor and their classes.
fn batch(seed: u64, indices: std::ops::Range<usize>, sizes: (u32, u32), pre: &Preprocess, device: &Device) -> (Tensor<4>, Vec<usize>) {
    let mut values = Vec::new();
    let mut classes = Vec::new();
    for i in indices.clone() {
        let s = synth::generate(seed, i as u64, image_size(seed, i, sizes));
        values.extend(pre.normalize(&pre.model_view(&s.image)));
        classes.push(s.class);
    }
    let (h, w) = (pre.crop as usize, pre.crop as usize);
    (Tensor::from_data(TensorData::new(values, [indices.len(), 3, h, w]), device), classes)
}

fn correct(logits: Tensor<2>, classes: &[usize]) -> usize {
    let [n, k] = logits.dims();
    let values = host_values(logits);
    (0..n).filter(|&i| top_k(&values[i * k..(i + 1) * k], 1)[0].0 == classes[i]).count()
}

/// Accuracy of `model` on `count` images of the `seed` split, in inference mode.
pub fn evaluate(model: &DemoNet, seed: u64, count: usize, sizes: (u32, u32), device: &Device) -> f64 {
    let pre = lantern_cnn::preprocess();
    let plain = device.clone().without_autodiff();
    let model = model.clone().valid();
    let mut right = 0;
    for start in (0..count).step_by(64) {
        let end = (start + 64).min(count);
        let (x, classes) = batch(seed, start..end, sizes, &pre, &plain);
        right += correct(model.forward(x), &classes);
    }
    right as f64 / count.max(1) as f64
}

/// Train; `progress(epoch, step, steps, loss)` is called after every step and
/// `on_epoch(log, model)` after every epoch (to save a checkpoint, for instance); `stop` ends
/// training early (the model so far is returned).
pub fn train(
    config: &TrainConfig,
    device: &Device,
    stop: &AtomicBool,
    mut progress: impl FnMut(usize, usize, usize, f64),
    mut on_epoch: impl FnMut(&EpochLog, &DemoNet) -> Result<()>,
) -> Result<DemoNet> {
    if config.widths.is_empty() || config.batch == 0 || config.train_count < config.batch {
        return Err(LanternError::Invalid("training needs widths, a batch size and at least one batch of images".into()));
    }
    let device = device.clone().autodiff();
    // Seeded initial weights: the same command trains the same model (up to the rounding of
    // multi-threaded reductions).
    device.seed(config.seed);
    let pre = lantern_cnn::preprocess();
    let mut model = DemoNet::new(&config.widths, SHAPES.len(), &device);
    let mut optim = AdamConfig::new().init();
    let loss_fn = CrossEntropyLossConfig::new().init(&device);
    let steps = config.train_count / config.batch;
    let total = (steps * config.epochs).max(1) as f64;
    for epoch in 0..config.epochs {
        let (mut loss_sum, mut right) = (0.0, 0usize);
        for step in 0..steps {
            if stop.load(Ordering::Relaxed) {
                return Ok(model);
            }
            // Each epoch sees fresh images: index space advances by train_count per epoch.
            let first = epoch * config.train_count + step * config.batch;
            let (x, classes) = batch(config.seed, first..first + config.batch, config.sizes, &pre, &device);
            let targets = Tensor::<1, Int>::from_data(
                TensorData::new(classes.iter().map(|&c| c as i64).collect::<Vec<_>>(), [classes.len()]),
                &device,
            );
            let logits = model.forward(x);
            right += correct(logits.clone().detach(), &classes);
            let loss = loss_fn.forward(logits, targets);
            let loss_value = f64::from(loss.clone().into_scalar::<f32>());
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            let t = (epoch * steps + step) as f64 / total;
            let lr = config.learning_rate * 0.5 * (1.0 + (std::f64::consts::PI * t).cos());
            model = optim.step(lr, model, grads);
            loss_sum += loss_value;
            progress(epoch, step, steps, loss_value);
        }
        let log = EpochLog {
            epoch,
            loss: loss_sum / steps as f64,
            train_accuracy: right as f64 / (steps * config.batch) as f64,
            val_accuracy: evaluate(&model, config.val_seed, config.val_count, config.sizes, &device),
        };
        on_epoch(&log, &model)?;
    }
    Ok(model)
}
