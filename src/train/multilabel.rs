//! Training a multi-label classifier with single positive labels (Kim et al., "Bridging the Gap
//! between Model Explanations in Partially Annotated Multi-label Classification", CVPR 2023, and
//! their code, youngwk/BridgeGapExplanationPAMC), through the shared loop ([`super::fit`]).
//!
//! - **Data**: `images` multi-label procedural images ([`synth_multi`]) drawn with `seed` at the
//!   model's input side; the last `val_fraction` of them (20 % by default, as theirs) form a fully
//!   labelled validation set, the rest are training images whose only observed label is one
//!   positive drawn per image (the single positive label setting); every other label is
//!   unobserved, taken as negative by the loss.
//! - **Model**: the demo CNN ([`LanternCnn`]) whose head is `CAM = conv1x1(features)`, then
//!   BoostLU with `alpha` (1: off), then global average pooling gives the logits, in training and
//!   in inference ([`LanternCnn::forward_boosted`]); the file records the sigmoid output and
//!   `alpha` ([`RunAs`]).
//! - **Loss**: the scheme's ([`partial_labels`]): AN, LL-R, LL-Ct or LL-Cp; LL-Cp's corrected
//!   labels are the task's state, saved with every checkpoint.
//! - **Optimiser**: Adam at a constant learning rate, the head at `head_lr_factor` (10) times the
//!   backbone's; the best epoch is the one with the highest validation mAP.

use super::fit::{self, Event, FitConfig, Fitted, Goal, Loss, Monitor, Schedule, StepAt, Task};
use super::history::Named;
use super::partial_labels::{Scheme, batch_loss};
use crate::control::Control;
use crate::datasets::synth::SHAPES;
use crate::datasets::synth_multi;
use crate::error::{LanternError, Result};
use crate::imaging::Preprocess;
use crate::metrics::average_precision::mean_average_precision;
use crate::models::OutputKind;
use crate::models::init;
use crate::models::lantern_cnn::{self, LanternCnn};
use crate::models::metadata::RunAs;
use crate::models::network::host_values;
use burn::module::ParamGroup;
use burn::optim::AdamConfig;
use burn::optim::lr_scheduler::module_lr_scheduler::{ModuleLearningRate, ModuleLrScheduler};
use burn::tensor::{Device, Tensor, TensorData};
use serde::{Deserialize, Serialize};

/// What to train.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MultiLabelConfig {
    pub widths: Vec<usize>,
    /// Image side and model input, pixels.
    pub size: u32,
    /// Images drawn with `seed`: training and validation together.
    pub images: usize,
    /// Share of `images` held out, fully labelled, for validation.
    pub val_fraction: f64,
    pub epochs: usize,
    pub batch: usize,
    /// The backbone's learning rate.
    pub learning_rate: f64,
    /// The head's learning rate over the backbone's.
    pub head_lr_factor: f64,
    pub scheme: Scheme,
    /// BoostLU's `alpha` on the class activation maps (1: no BoostLU).
    pub alpha: f32,
    pub seed: u64,
}

impl MultiLabelConfig {
    /// The sizes of the training and validation sets.
    pub fn split(&self) -> (usize, usize) {
        let val = ((self.images as f64) * self.val_fraction).round() as usize;
        (self.images - val.min(self.images), val.min(self.images))
    }

    /// A clear error for settings no run can use.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(LanternError::BadArgument(m));
        if self.widths.is_empty() || self.widths.contains(&0) {
            return bad("--widths needs at least one block, each of width 1 or more".into());
        }
        if !(32..=512).contains(&self.size) {
            return bad(format!("--size must be from 32 to 512 pixels, got {}", self.size));
        }
        if !(self.val_fraction > 0.0 && self.val_fraction < 1.0) {
            return bad(format!("--val-fraction must be between 0 and 1, got {}", self.val_fraction));
        }
        let (train, val) = self.split();
        if train < self.batch.max(1) || val == 0 {
            return bad(format!(
                "{} images give {train} training images (batch {}) and {val} validation images: too few",
                self.images, self.batch
            ));
        }
        let positive = |v: f64| v > 0.0 && v.is_finite();
        if !positive(self.learning_rate) || !positive(self.head_lr_factor) {
            return bad("learning rates must be positive".into());
        }
        if !(1.0..=crate::models::metadata::MAX_BOOST_ALPHA).contains(&self.alpha) {
            return bad(format!(
                "--alpha must be from 1 to {}, got {}",
                crate::models::metadata::MAX_BOOST_ALPHA,
                self.alpha
            ));
        }
        Ok(())
    }

    /// The preprocessing of the model: `size x size`, inputs scaled to `[-1, 1]`.
    pub fn preprocess(&self) -> Preprocess {
        Preprocess { resize: self.size, crop: self.size, ..lantern_cnn::preprocess() }
    }

    /// How the trained model runs, as its file records it.
    pub fn run_as(&self) -> RunAs {
        RunAs { output: Some(OutputKind::Sigmoid), boost_alpha: self.alpha, input_size: Some(self.size) }
    }
}

/// The generated images, normalised, with their labels.
struct Images {
    /// `[n, 3, size, size]`, row-major.
    values: Vec<f32>,
    /// Every label present, per image.
    labels: Vec<Vec<usize>>,
    /// The single observed positive, per image.
    observed: Vec<usize>,
    /// Floats per image.
    stride: usize,
}

impl Images {
    fn generate(config: &MultiLabelConfig, pre: &Preprocess, control: &Control) -> Result<Self> {
        let stride = 3 * (config.size as usize).pow(2);
        let mut images = Images {
            values: Vec::with_capacity(config.images * stride),
            labels: Vec::new(),
            observed: Vec::new(),
            stride,
        };
        for i in 0..config.images {
            if i % 256 == 0 {
                control.check()?;
            }
            let s = synth_multi::generate(config.seed, i as u64, config.size);
            images.values.extend(pre.normalize(&pre.model_view(&s.image)));
            let labels = s.labels();
            images.observed.push(synth_multi::observed_positive(config.seed, i as u64, &labels));
            images.labels.push(labels);
        }
        Ok(images)
    }

    fn batch(&self, items: impl ExactSizeIterator<Item = usize>, side: usize, device: &Device) -> Tensor<4> {
        let n = items.len();
        let mut values = Vec::with_capacity(n * self.stride);
        for i in items {
            values.extend_from_slice(&self.values[i * self.stride..(i + 1) * self.stride]);
        }
        Tensor::from_data(TensorData::new(values, [n, 3, side, side]), device)
    }
}

/// The multi-label classifier as the loop's [`Task`].
struct MultiLabel<'a> {
    config: &'a MultiLabelConfig,
    images: Images,
    train: usize,
    /// Observed labels of the training images, row-major `[train, classes]` (1 positive, 0
    /// unobserved); LL-Cp turns entries to 1 as it goes.
    observed: Vec<f32>,
    device: Device,
}

impl MultiLabel<'_> {
    /// mAP of `model` (inference mode) on the validation images.
    fn validation_map(&self, model: &LanternCnn, control: &Control) -> Result<f64> {
        let classes = SHAPES.len();
        let plain = self.device.clone().without_autodiff();
        let side = self.config.size as usize;
        let mut scores = Vec::new();
        let mut truth = Vec::new();
        for start in (self.train..self.config.images).step_by(64) {
            control.check()?;
            let end = (start + 64).min(self.config.images);
            scores.extend(host_values(
                model.forward_boosted(self.images.batch(start..end, side, &plain), self.config.alpha),
            ));
            for labels in &self.images.labels[start..end] {
                truth.extend((0..classes).map(|c| labels.contains(&c)));
            }
        }
        Ok(mean_average_precision(&scores, &truth, classes).0)
    }
}

impl Task for MultiLabel<'_> {
    type Model = LanternCnn;

    fn train_len(&self) -> usize {
        self.train
    }

    fn loss(&mut self, model: &LanternCnn, items: &[usize], at: StepAt) -> Result<Loss> {
        let classes = SHAPES.len();
        let x = self.images.batch(items.iter().copied(), self.config.size as usize, &self.device);
        let observed: Vec<f32> =
            items.iter().flat_map(|&i| self.observed[i * classes..(i + 1) * classes].iter().copied()).collect();
        let logits = model.forward_boosted(x, self.config.alpha);
        let loss = batch_loss(logits, &observed, self.config.scheme, at.epoch)?;
        let modified = loss.modified.iter().filter(|&&m| m).count();
        if self.config.scheme == Scheme::LlCp {
            for (k, _) in loss.modified.iter().enumerate().filter(|(_, m)| **m) {
                let (row, c) = (k / classes, k % classes);
                self.observed[items[row] * classes + c] = 1.0;
            }
        }
        Ok(Loss { value: loss.value, terms: vec![("modified".into(), modified as f64)] })
    }

    fn validate(&mut self, model: &LanternCnn, _epoch: usize, control: &Control) -> Result<Named> {
        Ok(vec![("val_map".into(), self.validation_map(model, control)?)])
    }

    fn learning_rates(&self, model: &LanternCnn, lr: f64) -> ModuleLearningRate {
        ModuleLrScheduler::new(lr)
            .with_group(ParamGroup::ids_from_module(model.head().clone()), lr * self.config.head_lr_factor)
            .step()
    }

    fn state(&self) -> serde_json::Value {
        if self.config.scheme != Scheme::LlCp {
            return serde_json::Value::Null;
        }
        let positives: Vec<usize> =
            self.observed.iter().enumerate().filter(|(_, o)| **o == 1.0).map(|(k, _)| k).collect();
        serde_json::json!({ "positives": positives })
    }

    fn restore(&mut self, state: serde_json::Value) -> Result<()> {
        if state.is_null() {
            return Ok(());
        }
        let positives: Vec<usize> = serde_json::from_value(state["positives"].clone())
            .map_err(|e| LanternError::BadArgument(format!("checkpoint: corrected labels: {e}")))?;
        if positives.iter().any(|&k| k >= self.observed.len()) {
            return Err(LanternError::BadArgument(
                "checkpoint: a corrected label lies outside the training set".into(),
            ));
        }
        self.observed.iter_mut().for_each(|o| *o = 0.0);
        for k in positives {
            self.observed[k] = 1.0;
        }
        Ok(())
    }
}

/// Train (or resume training) a multi-label classifier; `files` as the classifier's.
pub fn train(
    config: &MultiLabelConfig,
    files: &super::classifier::TrainFiles,
    device: &Device,
    control: &mut Control,
    on_event: &mut dyn FnMut(Event<'_>),
) -> Result<Fitted<LanternCnn>> {
    config.validate()?;
    let device = device.clone().autodiff();
    let classes = SHAPES.len();
    let images = Images::generate(config, &config.preprocess(), control)?;
    let (train, _) = config.split();
    let mut observed = vec![0.0f32; train * classes];
    for (i, &c) in images.observed[..train].iter().enumerate() {
        observed[i * classes + c] = 1.0;
    }
    let model = init::seeded(&device, config.seed, || LanternCnn::new(&config.widths, classes, &device));
    let fit_config = FitConfig {
        epochs: config.epochs,
        batch: config.batch,
        shuffle: true,
        seed: config.seed,
        schedule: Schedule::Constant(config.learning_rate),
        monitor: Some(Monitor { metric: "val_map".into(), goal: Goal::Maximize }),
        patience: None,
        task: serde_json::to_value(config)
            .map_err(|e| LanternError::Internal(format!("training configuration: {e}")))?,
        checkpoints: files.checkpoints.clone(),
        log: files.log.clone(),
    };
    let mut task = MultiLabel { config, images, train, observed, device: device.clone() };
    fit::fit(&mut task, model, AdamConfig::new().init(), &fit_config, control, on_event)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::classifier::TrainFiles;
    use burn::module::Module;
    use std::sync::atomic::{AtomicBool, Ordering};

    fn tiny(scheme: Scheme, alpha: f32) -> MultiLabelConfig {
        MultiLabelConfig {
            widths: vec![4, 8],
            size: 32,
            images: 30,
            val_fraction: 0.2,
            epochs: 3,
            batch: 8,
            learning_rate: 0.01,
            head_lr_factor: 10.0,
            scheme,
            alpha,
            seed: 3,
        }
    }

    #[test]
    fn the_split_holds_out_a_fifth_and_bad_settings_are_refused() {
        let c = tiny(Scheme::An, 1.0);
        assert_eq!(c.split(), (24, 6));
        c.validate().unwrap();
        for broken in [
            MultiLabelConfig { widths: vec![], ..c.clone() },
            MultiLabelConfig { size: 8, ..c.clone() },
            MultiLabelConfig { val_fraction: 1.0, ..c.clone() },
            MultiLabelConfig { images: 5, ..c.clone() },
            MultiLabelConfig { alpha: 0.5, ..c.clone() },
            MultiLabelConfig { learning_rate: 0.0, ..c.clone() },
        ] {
            assert!(broken.validate().is_err(), "{broken:?}");
        }
    }

    /// LL-Cp corrects labels for good: a run cancelled mid-way resumes with the corrected labels
    /// of its checkpoint and ends with the same weights as a run never interrupted.
    #[test]
    fn ll_cp_resumes_with_its_corrected_labels_to_the_same_model() {
        let config = MultiLabelConfig { epochs: 4, ..tiny(Scheme::LlCp, 5.0) };
        let weights = |dir: &std::path::Path, cancel_at: Option<usize>| {
            let files = TrainFiles { checkpoints: Some(dir.join("ck")), log: Some(dir.join("log.csv")) };
            if let Some(at) = cancel_at {
                let flag = AtomicBool::new(false);
                let mut steps = 0;
                let r = train(&config, &files, &Device::flex(), &mut Control::new(&flag), &mut |e| {
                    if let Event::Step { .. } = e {
                        steps += 1;
                        if steps == at {
                            flag.store(true, Ordering::Relaxed);
                        }
                    }
                });
                assert!(matches!(r, Err(LanternError::Cancelled)), "{r:?}");
            }
            let fitted = train(&config, &files, &Device::flex(), &mut Control::none(), &mut |_| {}).unwrap();
            let path = dir.join("m.safetensors");
            fitted.model.save_as(&path, &config.run_as()).unwrap();
            (crate::models::StateDict::load(&path).unwrap(), std::fs::read_to_string(dir.join("log.csv")).unwrap())
        };
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        let (straight, log) = weights(a.path(), None);
        // 3 steps per epoch: cancel in the third epoch, after labels were corrected in the second.
        let (resumed, resumed_log) = weights(b.path(), Some(8));
        for (key, t) in &straight.tensors {
            let scale = t.values.iter().fold(1e-3f32, |m, v| m.max(v.abs()));
            for (x, y) in t.values.iter().zip(&resumed.tensors[key].values) {
                assert!((x - y).abs() <= 1e-5 * scale, "{key}: {x} vs {y}");
            }
        }
        assert_eq!(log.lines().next(), Some("epoch,loss,modified,val_map"));
        assert_eq!(log.lines().count(), 5);
        assert_eq!(log.lines().count(), resumed_log.lines().count());
        let modified: f64 = log.lines().skip(2).map(|l| l.split(',').nth(2).unwrap().parse::<f64>().unwrap()).sum();
        assert!(modified > 0.0, "LL-Cp modified labels after the first epoch:\n{log}");
        let net = crate::models::load(&a.path().join("m.safetensors"), None, &Device::flex()).unwrap();
        assert_eq!((net.output, net.boost(), net.preprocess.crop), (OutputKind::Sigmoid, Some(5.0), 32));
    }

    /// The head's parameters get ten times the backbone's rate, the rest the base rate.
    #[test]
    fn the_head_learns_at_ten_times_the_rate() {
        let device = Device::flex().autodiff();
        let config = tiny(Scheme::An, 1.0);
        let model = LanternCnn::new(&config.widths, SHAPES.len(), &device);
        let task = MultiLabel {
            config: &config,
            images: Images { values: vec![], labels: vec![], observed: vec![], stride: 0 },
            train: 0,
            observed: vec![],
            device,
        };
        let rates = task.learning_rates(&model, 0.5);
        let mut seen = Vec::new();
        model.head().clone().visit(&mut RateCollector { rates: &rates, seen: &mut seen });
        assert_eq!(seen, vec![5.0, 5.0], "fc weight and bias");
        assert_eq!(rates.base(), 0.5);
    }

    struct RateCollector<'a> {
        rates: &'a ModuleLearningRate,
        seen: &'a mut Vec<f64>,
    }

    impl burn::module::ModuleVisitor for RateCollector<'_> {
        fn visit_float<const D: usize>(&mut self, param: &burn::module::Param<Tensor<D>>) {
            self.seen.push(self.rates.lr_from_param(param.id, None));
        }
    }
}
