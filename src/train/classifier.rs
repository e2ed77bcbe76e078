//! Training the demo classifier ([`LanternCnn`]) on the procedural benchmark, through the shared
//! loop ([`super::fit`]).
//!
//! Images are generated on the fly from `(seed, index)` at a size drawn per image (so the model
//! does not depend on the source resolution) and preprocessed as the model's input. Every epoch
//! sees fresh images: item `i` of epoch `e` is image `e * train_count + i`, in order (they are
//! independent draws already, so there is nothing to shuffle). The validation split uses another
//! seed. Loss is cross-entropy, the optimiser Adam with a cosine learning-rate decay.

use super::fit::{self, Event, FitConfig, Fitted, Goal, Loss, Monitor, Schedule, StepAt, Task};
use super::history::Named;
use crate::control::Control;
use crate::datasets::synth::{self, Attributes, SHAPES};
use crate::error::{LanternError, Result};
use crate::imaging::Preprocess;
use crate::models::init;
use crate::models::lantern_cnn::{self, LanternCnn};
use crate::models::network::host_values;
use crate::models::scores::top_k;
use crate::seeded::Rng;
use burn::module::Module;
use burn::nn::loss::{CrossEntropyLoss, CrossEntropyLossConfig};
use burn::optim::AdamConfig;
use burn::tensor::{Device, Int, Tensor, TensorData};
use serde::Serialize;
use std::path::PathBuf;

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
    /// Stop after this many epochs without a better validation accuracy.
    pub patience: Option<usize>,
}

/// Where the run keeps its files.
#[derive(Debug, Clone, Default)]
pub struct TrainFiles {
    /// Checkpoint folder; a run finds its own checkpoints there and resumes.
    pub checkpoints: Option<PathBuf>,
    /// CSV log: `epoch,loss,train_accuracy,val_accuracy`.
    pub log: Option<PathBuf>,
}

/// The side of generated image `i`: uniform in `sizes`, fixed by `(seed, i)`.
pub fn image_size(seed: u64, i: usize, sizes: (u32, u32)) -> u32 {
    let (lo, hi) = (sizes.0.min(sizes.1), sizes.0.max(sizes.1));
    let mut rng = Rng::for_item(seed ^ 0x51_7E5, i as u64);
    lo + rng.below((hi - lo + 1) as usize) as u32
}

/// Generated images `indices` as a normalised tensor and their attributes (the class is the
/// shape).
pub(super) fn batch(
    seed: u64,
    indices: impl ExactSizeIterator<Item = usize>,
    sizes: (u32, u32),
    pre: &Preprocess,
    device: &Device,
) -> (Tensor<4>, Vec<Attributes>) {
    drawn_batch(seed, indices, sizes, pre, device, |seed, i, side| {
        let s = synth::generate(seed, i, side);
        (s.image, s.attributes)
    })
}

/// Images `indices` drawn by `draw(seed, index, side)` (which returns the image and its ground
/// truth) at the sides [`image_size`] gives, as a normalised tensor, with their ground truths.
pub(super) fn drawn_batch<T>(
    seed: u64,
    indices: impl ExactSizeIterator<Item = usize>,
    sizes: (u32, u32),
    pre: &Preprocess,
    device: &Device,
    draw: impl Fn(u64, u64, u32) -> (image::RgbImage, T),
) -> (Tensor<4>, Vec<T>) {
    let n = indices.len();
    let mut values = Vec::new();
    let mut truths = Vec::with_capacity(n);
    for i in indices {
        let (image, truth) = draw(seed, i as u64, image_size(seed, i, sizes));
        values.extend(pre.normalize(&pre.model_view(&image)));
        truths.push(truth);
    }
    let (h, w) = (pre.crop as usize, pre.crop as usize);
    (Tensor::from_data(TensorData::new(values, [n, 3, h, w]), device), truths)
}

fn classes(attributes: &[Attributes]) -> Vec<usize> {
    attributes.iter().map(|a| a.shape).collect()
}

fn correct(logits: Tensor<2>, classes: &[usize]) -> usize {
    let [n, k] = logits.dims();
    let values = host_values(logits);
    (0..n).filter(|&i| top_k(&values[i * k..(i + 1) * k], 1)[0].0 == classes[i]).count()
}

/// Accuracy of `model` on `count` images of the `seed` split, in inference mode.
pub fn evaluate(model: &LanternCnn, seed: u64, count: usize, sizes: (u32, u32), device: &Device) -> f64 {
    let pre = lantern_cnn::preprocess();
    let plain = device.clone().without_autodiff();
    let model = model.valid();
    let mut right = 0;
    for start in (0..count).step_by(64) {
        let end = (start + 64).min(count);
        let (x, attributes) = batch(seed, start..end, sizes, &pre, &plain);
        right += correct(model.forward(x), &classes(&attributes));
    }
    right as f64 / count.max(1) as f64
}

/// The classifier as the loop's [`Task`].
struct Classifier<'a> {
    config: &'a TrainConfig,
    pre: Preprocess,
    loss: CrossEntropyLoss,
    device: Device,
}

impl Task for Classifier<'_> {
    type Model = LanternCnn;

    fn train_len(&self) -> usize {
        self.config.train_count
    }

    fn loss(&mut self, model: &LanternCnn, items: &[usize], at: StepAt) -> Result<Loss> {
        let first = at.epoch * self.config.train_count;
        let (x, attributes) =
            batch(self.config.seed, items.iter().map(|i| first + i), self.config.sizes, &self.pre, &self.device);
        let classes = classes(&attributes);
        let targets = Tensor::<1, Int>::from_data(
            TensorData::new(classes.iter().map(|&c| c as i64).collect::<Vec<_>>(), [classes.len()]),
            &self.device,
        );
        let logits = model.forward(x);
        let right = correct(logits.clone().detach(), &classes);
        Ok(Loss {
            value: self.loss.forward(logits, targets),
            terms: vec![("train_accuracy".into(), right as f64 / items.len() as f64)],
        })
    }

    fn validate(&mut self, model: &LanternCnn, _epoch: usize, _control: &Control) -> Result<Named> {
        let c = self.config;
        Ok(vec![("val_accuracy".into(), evaluate(model, c.val_seed, c.val_count, c.sizes, &self.device))])
    }
}

/// Train (or resume training) the demo classifier; `on_event` receives the loop's progress.
/// `control` cancels between steps, leaving a checkpoint to resume from.
pub fn train(
    config: &TrainConfig,
    files: &TrainFiles,
    device: &Device,
    control: &mut Control,
    on_event: &mut dyn FnMut(Event<'_>),
) -> Result<Fitted<LanternCnn>> {
    if config.widths.is_empty() {
        return Err(LanternError::BadArgument("training needs at least one block width".into()));
    }
    let device = device.clone().autodiff();
    // Seeded initial weights: the same command trains the same model (up to the rounding of
    // multi-threaded reductions).
    let model = init::seeded(&device, config.seed, || LanternCnn::new(&config.widths, SHAPES.len(), &device));
    let fit_config = FitConfig {
        epochs: config.epochs,
        batch: config.batch,
        shuffle: false,
        seed: config.seed,
        schedule: Schedule::Cosine(config.learning_rate),
        monitor: Some(Monitor { metric: "val_accuracy".into(), goal: Goal::Maximize }),
        patience: config.patience,
        task: serde_json::to_value(config)
            .map_err(|e| LanternError::Internal(format!("training configuration: {e}")))?,
        checkpoints: files.checkpoints.clone(),
        log: files.log.clone(),
    };
    let mut task = Classifier {
        config,
        pre: lantern_cnn::preprocess(),
        loss: CrossEntropyLossConfig::new().init(&device),
        device: device.clone(),
    };
    fit::fit(&mut task, model, AdamConfig::new().init(), &fit_config, control, on_event)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::StateDict;
    use std::sync::atomic::{AtomicBool, Ordering};

    fn tiny() -> TrainConfig {
        TrainConfig {
            widths: vec![4, 6],
            sizes: (48, 64),
            train_count: 12,
            val_count: 6,
            epochs: 2,
            batch: 4,
            learning_rate: 0.01,
            seed: 7,
            val_seed: 8,
            patience: None,
        }
    }

    fn files(dir: &std::path::Path) -> TrainFiles {
        TrainFiles { checkpoints: Some(dir.join("checkpoints")), log: Some(dir.join("log.csv")) }
    }

    /// Train (or finish training) in `dir`; the tensors of the weights file it writes.
    fn weights_after(dir: &std::path::Path, config: &TrainConfig) -> StateDict {
        let fitted = train(config, &files(dir), &Device::flex(), &mut Control::none(), &mut |_| {}).unwrap();
        let path = dir.join("out.safetensors");
        fitted.model.save(&path).unwrap();
        StateDict::load(&path).unwrap()
    }

    #[test]
    fn a_cancelled_classifier_resumes_to_the_same_model_and_log() {
        let config = tiny();
        let straight = tempfile::tempdir().unwrap();
        let expected = weights_after(straight.path(), &config);

        let broken = tempfile::tempdir().unwrap();
        let cancel = AtomicBool::new(false);
        let mut steps = 0;
        let first = train(&config, &files(broken.path()), &Device::flex(), &mut Control::new(&cancel), &mut |e| {
            if let Event::Step { .. } = e {
                steps += 1;
                // Mid-way through the second epoch (3 steps per epoch).
                if steps == 4 {
                    cancel.store(true, Ordering::Relaxed);
                }
            }
        });
        assert!(matches!(first, Err(LanternError::Cancelled)), "{first:?}");
        let resumed = weights_after(broken.path(), &config);

        assert_eq!(expected.tensors.keys().collect::<Vec<_>>(), resumed.tensors.keys().collect::<Vec<_>>());
        for (key, a) in &expected.tensors {
            let b = &resumed.tensors[key];
            let scale = a.values.iter().fold(1e-3f32, |m, v| m.max(v.abs()));
            for (x, y) in a.values.iter().zip(&b.values) {
                assert!((x - y).abs() <= 1e-5 * scale, "{key}: {x} vs {y}");
            }
        }
        let log = std::fs::read_to_string(broken.path().join("log.csv")).unwrap();
        let straight_log = std::fs::read_to_string(straight.path().join("log.csv")).unwrap();
        assert_eq!(log.lines().next(), Some("epoch,loss,train_accuracy,val_accuracy"));
        assert_eq!(log.lines().count(), 3);
        for (a, b) in log.lines().zip(straight_log.lines()).skip(1) {
            let parse = |l: &str| l.split(',').map(|v| v.parse::<f64>().unwrap()).collect::<Vec<_>>();
            for (x, y) in parse(a).iter().zip(parse(b)) {
                assert!((x - y).abs() <= 1e-5 * x.abs().max(1.0), "{a} vs {b}");
            }
        }
    }
}
