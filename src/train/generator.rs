//! Training the weight-map generator ([`crate::models::generator`]) against a frozen classifier
//! `f`, through the shared loop ([`super::fit`]), with the objectives of seed paper 000
//! ("Learning a Weight Map for Weakly-Supervised Localization").
//!
//! With `M = G(I)` in `[0, 1]`, the foreground `I⊙M` and background `I⊙(1−M)` are taken in
//! pixel space (masked pixels turn black: in the classifier's normalised units,
//! `x_fg = x·M + b·(1−M)` with `b = −mean/std`). `y` is the label, or `f(I)`'s prediction with
//! `--target prediction`; `e(·)` is `f`'s penultimate features (the pooled features of a GAP +
//! linear head), compared as unit vectors.
//!
//! - **classifier** (the paper's main objective): `w_ce · CE(f(I⊙M), y)` keeps what `f` needs to
//!   recognise the class, plus `w_bg · −log(1 − p_f(y | I⊙(1−M)))`, which leaves no evidence for
//!   `y` outside the map;
//! - **siamese**: triplet loss 1, `w_t1 · max(0, |e(I) − e(I⊙M)|² − |e(I) − e(I⊙(1−M))|² + m)`
//!   pulls the foreground's embedding to the image's and pushes the background's away; triplet
//!   loss 2, `w_t2 ·` batch-hard triplet over the foregrounds' embeddings labelled `y`, pulls
//!   same-class foregrounds together and pushes other classes' apart;
//! - **both**: the sum of the two.
//!
//! Every objective adds the area prior `w_area · mean(M)` (without it the all-ones map is a
//! solution of every term above) and optionally `w_tv · TV(M)` (smoothness). `f` stays frozen:
//! it is an inference graph whose weights are constants, so gradients reach only `G`.
//!
//! Validation, after every epoch, on a held-out split: MaxBoxAccV2 of the maps against the
//! ground-truth boxes (wsolevaluation's sweep, [`crate::metrics::wsol`]) when the split has
//! boxes, which then picks the best epoch and drives early stopping (the paper stresses stopping
//! before the maps over-segment); else the validation loss. Also logged: the mean area of the
//! maps and `f`'s accuracy on the foregrounds.

use super::fit::{self, Event, FitConfig, Fitted, Goal, Loss, Monitor, Schedule, StepAt, Task};
use super::history::{EpochRecord, Named};
use super::losses;
use crate::control::Control;
use crate::datasets::{self, Format, Sample};
use crate::error::{LanternError, Result};
use crate::evaluation::protocol::{self, Protocol};
use crate::imaging::{self, Preprocess};
use crate::map::{PixelBox, WeightMap};
use crate::metrics::wsol::{BoxAccuracy, cam_thresholds};
use crate::models::generator::{Decoder, GeneratorMeta, GeneratorShape, encode};
use crate::models::network::host_values;
use crate::models::scores::top_k;
use crate::models::{self, Network, init};
use burn::optim::AdamConfig;
use burn::tensor::{Device, Tensor, TensorData};
use serde::Serialize;
use std::path::{Path, PathBuf};

crate::names::named_enum! {
    /// What the generator is trained to do (see the module documentation).
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
    pub enum Objective ("objective") {
        Classifier = "classifier",
        Siamese = "siamese",
        Both = "both",
    }
}

crate::names::named_enum! {
    /// The class `y` the losses use.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
    pub enum ClassTarget ("target") {
        /// The ground-truth label.
        Label = "label",
        /// `f(I)`'s top-1 class (no label needed).
        Prediction = "prediction",
    }
}

/// The weights of the loss terms (0 switches a term off) and the triplet margin.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct LossWeights {
    /// Cross-entropy of `f` on the foreground (classifier objective).
    pub ce: f64,
    /// Suppression of `y` on the background (classifier objective).
    pub background: f64,
    /// Triplet loss 1: image, foreground, background (siamese objective).
    pub triplet_image: f64,
    /// Triplet loss 2: foregrounds of the same and other classes (siamese objective).
    pub triplet_class: f64,
    /// Triplet margin, on squared distances between unit embeddings (in `[0, 4]`).
    pub margin: f64,
    /// Area prior `mean(M)`.
    pub area: f64,
    /// Total variation of `M`.
    pub tv: f64,
}

impl Default for LossWeights {
    /// `ce 1`, `background 0`, `triplet_image 1`, `triplet_class 1`, `margin 0.2` (FaceNet's),
    /// `area 2`, `tv 0.1`. Chosen on the demo classifier (2-epoch pilots of 800 procedural
    /// images, validation MaxBoxAccV2 on 200 held-out ones): the background term lowered it
    /// (75 with `background 1, area 2` against 92 with `background 0, area 2`; 84 with
    /// `background 1, area 5`), and `area 2` edged out `area 0.5` (92 against 90).
    fn default() -> Self {
        Self { ce: 1.0, background: 0.0, triplet_image: 1.0, triplet_class: 1.0, margin: 0.2, area: 2.0, tv: 0.1 }
    }
}

/// Where the training and validation images come from.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum GeneratorData {
    /// Procedural images drawn on the fly, fresh every epoch: item `i` of epoch `e` is image
    /// `e * count + i` of `seed`, its side drawn from `sizes`, resized to the classifier's input.
    /// Validation: `val_count` images of `val_seed` at the classifier's input side.
    Synth { seed: u64, count: usize, sizes: (u32, u32), val_seed: u64, val_count: usize },
    /// A dataset folder; a seeded draw of `val_count` samples is held out for validation.
    /// Images are framed as `lantern eval` frames them (wsolevaluation's protocol).
    Folder { dir: PathBuf, format: Format, val_count: usize },
}

/// What to train.
#[derive(Debug, Clone, Serialize)]
pub struct GeneratorConfig {
    /// The classifier's weights file (its SHA-256 goes into the generator's metadata).
    pub classifier: PathBuf,
    /// Its architecture, when the file's key layout should not decide it.
    pub arch: Option<String>,
    pub data: GeneratorData,
    pub objective: Objective,
    pub target: ClassTarget,
    pub weights: LossWeights,
    /// Classifier layers the decoder reads, finest first (default: all).
    pub taps: Option<Vec<String>>,
    /// Decoder widths, one per tap (default: a quarter of the tap's channels, at least 8).
    pub widths: Option<Vec<usize>>,
    pub epochs: usize,
    pub batch: usize,
    pub learning_rate: f64,
    pub seed: u64,
    /// Stop after this many epochs without a better validation score.
    pub patience: Option<usize>,
}

/// Where the run keeps its files.
#[derive(Debug, Clone, Default)]
pub struct GeneratorFiles {
    /// Checkpoint folder; a run finds its own checkpoints there and resumes.
    pub checkpoints: Option<PathBuf>,
    /// CSV log, one row per epoch.
    pub log: Option<PathBuf>,
}

/// A finished run: the loop's result and the metadata a generator file of it carries.
pub struct TrainedGenerator {
    pub fitted: Fitted<Decoder>,
    pub meta: GeneratorMeta,
    /// The metric that picked the best epoch.
    pub monitor: String,
}

impl TrainedGenerator {
    /// The best epoch's decoder (the last one when no epoch was scored).
    pub fn best(&self) -> &Decoder {
        self.fitted.best.as_ref().map_or(&self.fitted.model, |b| &b.model)
    }

    /// Save the best epoch's decoder with its metadata.
    pub fn save(&self, path: &Path) -> Result<()> {
        crate::models::generator::Generator::save(self.best(), &self.meta, path)
    }
}

/// One validation image with its ground truth in the model's frame.
struct ValItem {
    x: Vec<f32>,
    class: Option<usize>,
    boxes: Vec<PixelBox>,
}

/// The training images.
enum Source {
    Synth { seed: u64, count: usize, sizes: (u32, u32) },
    Folder(Vec<Sample>),
}

/// A sample's image framed as `lantern eval` frames it, normalised, with its ground truth.
fn framed(sample: &Sample, pre: &Preprocess) -> Result<(Vec<f32>, protocol::Truth)> {
    let image = imaging::load_image(&sample.image)?;
    let g = Protocol::Wsol.geometry(pre, image.width(), image.height());
    let truth = protocol::truth_in_view(sample, &g)?;
    Ok((pre.normalize(&g.view(&image)), truth))
}

/// The generator as the loop's [`Task`].
struct GeneratorTask<'a> {
    config: &'a GeneratorConfig,
    /// The frozen classifier on the training (autodiff) device and on the plain device.
    net: Network,
    plain: Network,
    cuts: Vec<usize>,
    source: Source,
    val: Vec<ValItem>,
    side: usize,
    /// The normalised value of a black pixel, `[1, 3, 1, 1]` values.
    black: [f32; 3],
}

/// The loss of a batch and its named terms.
struct Terms {
    total: Tensor<1>,
    named: Named,
    maps: Tensor<4>,
    foreground_logits: Tensor<2>,
}

impl GeneratorTask<'_> {
    fn train_batch(&self, items: &[usize], epoch: usize, device: &Device) -> Result<(Tensor<4>, Vec<Option<usize>>)> {
        match &self.source {
            Source::Synth { seed, count, sizes } => {
                let pre = &self.net.preprocess;
                let (x, attributes) =
                    super::classifier::batch(*seed, items.iter().map(|i| epoch * count + i), *sizes, pre, device);
                Ok((x, attributes.into_iter().map(|a| Some(a.shape)).collect()))
            }
            Source::Folder(samples) => {
                let mut values = Vec::with_capacity(items.len() * 3 * self.side * self.side);
                let mut classes = Vec::with_capacity(items.len());
                for &i in items {
                    let (x, _) = framed(&samples[i], &self.net.preprocess)?;
                    values.extend(x);
                    classes.push(samples[i].class);
                }
                Ok((
                    Tensor::from_data(TensorData::new(values, [items.len(), 3, self.side, self.side]), device),
                    classes,
                ))
            }
        }
    }

    /// Every loss term of `decoder` on the batch `x` under classifier `net` (on `x`'s device).
    fn terms(&self, net: &Network, decoder: &Decoder, x: Tensor<4>, labels: &[Option<usize>]) -> Result<Terms> {
        let device = x.device();
        let [n, _, h, w] = x.dims();
        let head = net.head().ok_or_else(|| LanternError::MethodNotApplicable {
            method: "the weight-map generator".into(),
            reason: "its decoder reads the classifier's stages, which Lantern trains on its hand-written networks only, not on ONNX graphs".into(),
        })?;
        let (taps, last) = encode(net, x.clone(), &self.cuts);
        let taps: Vec<Tensor<4>> = taps.into_iter().map(Tensor::detach).collect();
        let (image_features, image_logits) = head.features_and_logits(last.detach());
        let targets: Vec<usize> = match self.config.target {
            ClassTarget::Prediction => argmax_rows(image_logits),
            ClassTarget::Label => labels
                .iter()
                .map(|c| {
                    c.ok_or_else(|| {
                        LanternError::BadArgument("an image has no class label: train with --target prediction".into())
                    })
                })
                .collect::<Result<_>>()?,
        };
        let maps = decoder.forward(taps, [h, w]);
        let black = Tensor::<4>::from_data(TensorData::new(self.black.to_vec(), [1, 3, 1, 1]), &device);
        let keep = maps.clone().expand([n, 3, h, w]);
        let inverse = keep.clone().neg().add_scalar(1.0);
        let foreground = x.clone() * keep.clone() + black.clone() * inverse.clone();
        let background = x * inverse + black * keep;
        let run = |input: Tensor<4>| head.features_and_logits(net.forward_to(input, net.output_cut()));
        let (fg_features, fg_logits) = run(foreground);
        let y = losses::one_hot(&targets, net.classes(), &device);
        let w = &self.config.weights;
        let classifier = matches!(self.config.objective, Objective::Classifier | Objective::Both);
        let siamese = matches!(self.config.objective, Objective::Siamese | Objective::Both);
        let needs_background = (classifier && w.background > 0.0) || (siamese && w.triplet_image > 0.0);
        let (bg_features, bg_logits) = if needs_background {
            let (f, l) = run(background);
            (Some(f), Some(l))
        } else {
            (None, None)
        };
        // (name, weight, term), in the order they are logged.
        let mut parts: Vec<(&str, f64, Tensor<1>)> = Vec::new();
        if classifier {
            parts.push(("ce", w.ce, losses::cross_entropy(fg_logits.clone(), y.clone())));
            if let Some(l) = bg_logits.filter(|_| w.background > 0.0) {
                parts.push(("background", w.background, losses::suppression(l, y)));
            }
        }
        if siamese {
            if let Some(bg) = bg_features {
                parts.push((
                    "triplet_image",
                    w.triplet_image,
                    losses::triplet(image_features.detach(), fg_features.clone(), bg, w.margin),
                ));
            }
            if w.triplet_class > 0.0 {
                let t = losses::batch_hard_triplet(fg_features, &targets, w.margin)
                    .unwrap_or_else(|| Tensor::zeros([1], &device));
                parts.push(("triplet_class", w.triplet_class, t));
            }
        }
        parts.push(("area", w.area, losses::area(maps.clone())));
        if w.tv > 0.0 {
            parts.push(("tv", w.tv, losses::total_variation(maps.clone())));
        }
        let mut named = Vec::with_capacity(parts.len());
        let mut total: Option<Tensor<1>> = None;
        for (name, weight, term) in parts {
            named.push((name.to_string(), f64::from(term.clone().into_scalar::<f32>())));
            let weighted = term.mul_scalar(weight);
            total = Some(match total {
                Some(t) => t + weighted,
                None => weighted,
            });
        }
        let total = total.expect("the area term is always there");
        Ok(Terms { total, named, maps, foreground_logits: fg_logits })
    }
}

fn argmax_rows(logits: Tensor<2>) -> Vec<usize> {
    let [n, k] = logits.dims();
    let v = host_values(logits);
    (0..n).map(|i| top_k(&v[i * k..(i + 1) * k], 1)[0].0).collect()
}

impl Task for GeneratorTask<'_> {
    type Model = Decoder;

    fn train_len(&self) -> usize {
        match &self.source {
            Source::Synth { count, .. } => *count,
            Source::Folder(samples) => samples.len(),
        }
    }

    fn loss(&mut self, model: &Decoder, items: &[usize], at: StepAt) -> Result<Loss> {
        let device = self.net.device();
        let (x, labels) = self.train_batch(items, at.epoch, &device)?;
        let t = self.terms(&self.net, model, x, &labels)?;
        Ok(Loss { value: t.total, terms: t.named })
    }

    fn validate(&mut self, model: &Decoder, _epoch: usize, control: &Control) -> Result<Named> {
        let device = self.plain.device();
        let mut boxes = BoxAccuracy::v2(cam_thresholds(0.01));
        let (mut loss, mut area, mut right, mut labelled, mut with_boxes) = (0.0, 0.0, 0usize, 0usize, false);
        for chunk in self.val.chunks(32) {
            control.check()?;
            let n = chunk.len();
            let values: Vec<f32> = chunk.iter().flat_map(|v| v.x.iter().copied()).collect();
            let x = Tensor::from_data(TensorData::new(values, [n, 3, self.side, self.side]), &device);
            let labels: Vec<Option<usize>> = chunk.iter().map(|v| v.class).collect();
            let t = self.terms(&self.plain, model, x, &labels)?;
            loss += f64::from(t.total.into_scalar::<f32>()) * n as f64;
            area += t.named.iter().find(|(k, _)| k == "area").map_or(0.0, |a| a.1) * n as f64;
            for (item, predicted) in chunk.iter().zip(argmax_rows(t.foreground_logits)) {
                if let Some(c) = item.class {
                    labelled += 1;
                    right += usize::from(c == predicted);
                }
            }
            let maps = host_values(t.maps);
            let plane = self.side * self.side;
            for (i, item) in chunk.iter().enumerate() {
                if !item.boxes.is_empty() {
                    with_boxes = true;
                    boxes.add(
                        &WeightMap::new(self.side, self.side, maps[i * plane..(i + 1) * plane].to_vec()),
                        &item.boxes,
                    );
                }
            }
        }
        let count = self.val.len().max(1) as f64;
        let mut metrics = vec![("val_loss".to_string(), loss / count), ("val_area".to_string(), area / count)];
        if labelled > 0 {
            metrics.push(("val_fg_accuracy".into(), right as f64 / labelled as f64));
        }
        if with_boxes {
            metrics.push(("val_maxboxacc_v2".into(), boxes.mean_max_accuracy()));
        }
        Ok(metrics)
    }
}

/// The training and validation images of `data` for a classifier with preprocessing `pre`.
fn sources(data: &GeneratorData, pre: &Preprocess, seed: u64, control: &Control) -> Result<(Source, Vec<ValItem>)> {
    match data {
        GeneratorData::Synth { seed, count, sizes, val_seed, val_count } => {
            let side = pre.crop.max(1);
            let val = (0..*val_count)
                .map(|i| {
                    let s = crate::datasets::synth::generate(*val_seed, i as u64, side);
                    ValItem { x: pre.normalize(&s.image), class: Some(s.class), boxes: vec![s.bbox] }
                })
                .collect();
            Ok((Source::Synth { seed: *seed, count: *count, sizes: *sizes }, val))
        }
        GeneratorData::Folder { dir, format, val_count } => {
            let dataset = datasets::open(dir, *format)?;
            if dataset.samples.len() <= *val_count {
                return Err(LanternError::BadArgument(format!(
                    "{}: {} images, not enough to hold out {val_count} for validation",
                    dir.display(),
                    dataset.samples.len()
                )));
            }
            let order =
                fit::epoch_order(dataset.samples.len(), true, seed ^ crate::seeded::fnv1a("generator.validation"), 0);
            let mut val = Vec::with_capacity(*val_count);
            for &i in &order[..*val_count] {
                control.check()?;
                let sample = &dataset.samples[i];
                let (x, truth) = framed(sample, pre)?;
                val.push(ValItem { x, class: sample.class, boxes: truth.boxes });
            }
            let train = order[*val_count..].iter().map(|&i| dataset.samples[i].clone()).collect();
            Ok((Source::Folder(train), val))
        }
    }
}

/// Train (or resume training) a generator for `config.classifier`; `on_event` receives the
/// loop's progress and `control` cancels between steps, leaving a checkpoint to resume from.
pub fn train(
    config: &GeneratorConfig,
    files: &GeneratorFiles,
    device: &Device,
    control: &mut Control,
    on_event: &mut dyn FnMut(Event<'_>),
) -> Result<TrainedGenerator> {
    let plain_device = device.clone().without_autodiff();
    let device = plain_device.clone().autodiff();
    let plain = models::load(&config.classifier, config.arch.as_deref(), &plain_device)?;
    let net = models::load(&config.classifier, config.arch.as_deref(), &device)?;
    let sha256 = crate::digest::sha256_file(&config.classifier).map_err(|e| LanternError::io(&config.classifier, e))?;
    let pre = plain.preprocess.clone();
    if pre.crop == 0 {
        return Err(LanternError::Mismatch(
            "the generator trains at the classifier's fixed input side; this model has no crop size".into(),
        ));
    }
    let shape = GeneratorShape::for_network(&plain, config.taps.as_deref(), config.widths.as_deref())?;
    let cuts = shape.cuts(&plain)?;
    let (source, val) = sources(&config.data, &pre, config.seed, control)?;
    if config.target == ClassTarget::Label && val.iter().any(|v| v.class.is_some_and(|c| c >= plain.classes())) {
        return Err(LanternError::Mismatch(format!(
            "the dataset has more classes than the classifier's {}",
            plain.classes()
        )));
    }
    let black = [0, 1, 2].map(|c| -pre.mean[c] / pre.std[c]);
    let has_boxes = val.iter().any(|v| !v.boxes.is_empty());
    let monitor = if has_boxes {
        Monitor { metric: "val_maxboxacc_v2".into(), goal: Goal::Maximize }
    } else {
        Monitor { metric: "val_loss".into(), goal: Goal::Minimize }
    };
    let task_identity = serde_json::json!({ "config": config, "classifier_sha256": sha256, "shape": shape });
    let fit_config = FitConfig {
        epochs: config.epochs,
        batch: config.batch,
        shuffle: matches!(config.data, GeneratorData::Folder { .. }),
        seed: config.seed,
        schedule: Schedule::Cosine(config.learning_rate),
        monitor: Some(monitor.clone()),
        patience: config.patience,
        task: task_identity,
        checkpoints: files.checkpoints.clone(),
        log: files.log.clone(),
    };
    let decoder = init::seeded(&device, config.seed, || Decoder::new(&shape, &device));
    let side = pre.crop as usize;
    let mut task = GeneratorTask { config, net, plain, cuts, source, val, side, black };
    let fitted = fit::fit(&mut task, decoder, AdamConfig::new().init(), &fit_config, control, on_event)?;
    let meta = GeneratorMeta {
        classifier_sha256: sha256,
        classifier_arch: task.plain.arch.clone(),
        input_size: pre.crop,
        shape,
        objective: config.objective.to_string(),
        training: serde_json::to_value(config)
            .map_err(|e| LanternError::Internal(format!("training configuration: {e}")))?,
    };
    Ok(TrainedGenerator { fitted, meta, monitor: monitor.metric })
}

/// PNG plots of a run's history into `dir`: the loss terms, and the validation metrics in
/// percent (MaxBoxAccV2 as it is, the map area and the foreground accuracy times 100), against
/// the epoch. Returns the files written.
pub fn write_plots(dir: &Path, history: &[EpochRecord]) -> Result<Vec<PathBuf>> {
    use crate::evaluation::plots::{Series, xy_plot};
    let Some(first) = history.first() else { return Ok(Vec::new()) };
    std::fs::create_dir_all(dir).map_err(|e| LanternError::io(dir, e))?;
    let last = history.last().map_or(1, |r| r.epoch).max(2) as f64;
    let series = |names: Vec<&str>, scale: &dyn Fn(&str) -> f64| -> Vec<Series> {
        names
            .into_iter()
            .map(|n| Series {
                name: n.to_string(),
                points: history.iter().filter_map(|r| Some((r.epoch as f64, r.get(n)? * scale(n)))).collect(),
            })
            .collect()
    };
    let terms: Vec<&str> = first.terms.iter().map(|(n, _)| n.as_str()).chain(std::iter::once("val_loss")).collect();
    let metrics: Vec<&str> = first.metrics.iter().map(|(n, _)| n.as_str()).filter(|n| *n != "val_loss").collect();
    let plots = [
        ("loss.png", "Generator training: loss terms", "loss", series(terms, &|_| 1.0)),
        (
            "validation.png",
            "Generator validation",
            "percent",
            series(metrics, &|n| if n == "val_maxboxacc_v2" { 1.0 } else { 100.0 }),
        ),
    ];
    let mut written = Vec::new();
    for (name, title, unit, s) in plots {
        let top = s.iter().flat_map(|s| s.points.iter().map(|p| p.1)).fold(1e-3, f64::max);
        let path = dir.join(name);
        xy_plot(&path, title, ("epoch", 1.0..last), (unit, 0.0..top * 1.05), &s)?;
        written.push(path);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::lantern_cnn::LanternCnn;
    use std::sync::atomic::{AtomicBool, Ordering};

    fn classifier(dir: &Path) -> PathBuf {
        let device = Device::flex().autodiff();
        let cnn = init::seeded(&device, 5, || LanternCnn::new(&[4, 6, 8], 6, &device));
        let path = dir.join("tiny.safetensors");
        cnn.save(&path).unwrap();
        path
    }

    fn tiny(classifier: PathBuf, objective: Objective) -> GeneratorConfig {
        GeneratorConfig {
            classifier,
            arch: None,
            data: GeneratorData::Synth { seed: 3, count: 8, sizes: (48, 64), val_seed: 4, val_count: 6 },
            objective,
            target: ClassTarget::Label,
            weights: LossWeights { background: 1.0, ..LossWeights::default() },
            taps: None,
            widths: Some(vec![4, 4, 4]),
            epochs: 2,
            batch: 4,
            learning_rate: 0.01,
            seed: 9,
            patience: None,
        }
    }

    fn files(dir: &Path) -> GeneratorFiles {
        GeneratorFiles { checkpoints: Some(dir.join("checkpoints")), log: Some(dir.join("log.csv")) }
    }

    #[test]
    fn every_objective_logs_its_terms_and_validates_with_maxboxacc() {
        let dir = tempfile::tempdir().unwrap();
        let path = classifier(dir.path());
        for (objective, terms) in [
            (Objective::Classifier, vec!["loss", "ce", "background", "area", "tv"]),
            (Objective::Siamese, vec!["loss", "triplet_image", "triplet_class", "area", "tv"]),
            (Objective::Both, vec!["loss", "ce", "background", "triplet_image", "triplet_class", "area", "tv"]),
        ] {
            let mut config = tiny(path.clone(), objective);
            config.epochs = 1;
            let run = tempfile::tempdir().unwrap();
            let trained =
                train(&config, &files(run.path()), &Device::flex(), &mut Control::none(), &mut |_| {}).unwrap();
            let r = &trained.fitted.history[0];
            assert_eq!(r.terms.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(), terms, "{objective}");
            let metrics: Vec<&str> = r.metrics.iter().map(|(n, _)| n.as_str()).collect();
            assert_eq!(metrics, ["val_loss", "val_area", "val_fg_accuracy", "val_maxboxacc_v2"]);
            let acc = r.get("val_maxboxacc_v2").unwrap();
            assert!((0.0..=100.0).contains(&acc));
            assert_eq!(trained.monitor, "val_maxboxacc_v2");
            let area = r.get("val_area").unwrap();
            assert!(area > 0.0 && area < 1.0, "{area}");
        }
    }

    #[test]
    fn a_cancelled_run_resumes_to_the_same_generator_and_saves_its_metadata() {
        let dir = tempfile::tempdir().unwrap();
        let config = tiny(classifier(dir.path()), Objective::Classifier);
        let straight = tempfile::tempdir().unwrap();
        let done = train(&config, &files(straight.path()), &Device::flex(), &mut Control::none(), &mut |_| {}).unwrap();

        let broken = tempfile::tempdir().unwrap();
        let cancel = AtomicBool::new(false);
        let mut steps = 0;
        let first = train(&config, &files(broken.path()), &Device::flex(), &mut Control::new(&cancel), &mut |e| {
            if let Event::Step { .. } = e {
                steps += 1;
                if steps == 3 {
                    cancel.store(true, Ordering::Relaxed);
                }
            }
        });
        assert!(matches!(first, Err(LanternError::Cancelled)));
        let resumed =
            train(&config, &files(broken.path()), &Device::flex(), &mut Control::none(), &mut |_| {}).unwrap();
        let (a, b) = (done.fitted.history.last().unwrap(), resumed.fitted.history.last().unwrap());
        for ((n, x), (_, y)) in a.terms.iter().chain(&a.metrics).zip(b.terms.iter().chain(&b.metrics)) {
            assert!((x - y).abs() <= 1e-4 * x.abs().max(1.0), "{n}: {x} vs {y}");
        }

        let out = dir.path().join("g.safetensors");
        resumed.save(&out).unwrap();
        let sha = crate::digest::sha256_file(&config.classifier).unwrap();
        let g = crate::models::generator::Generator::load_for(&out, &sha, &Device::flex()).unwrap();
        assert_eq!(g.meta.objective, "classifier");
        assert_eq!(g.meta.input_size, 112);
        assert_eq!(g.meta.training["weights"]["area"], 2.0);
        let plots = write_plots(&dir.path().join("plots"), &resumed.fitted.history).unwrap();
        assert_eq!(plots.len(), 2);
        assert!(plots.iter().all(|p| std::fs::metadata(p).unwrap().len() > 1000));
    }

    #[test]
    fn prediction_targets_need_no_labels_and_a_small_folder_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let mut config = tiny(classifier(dir.path()), Objective::Classifier);
        config.target = ClassTarget::Prediction;
        config.epochs = 1;
        let trained = train(&config, &GeneratorFiles::default(), &Device::flex(), &mut Control::none(), &mut |_| {})
            .expect("prediction targets train without labels");
        assert_eq!(trained.fitted.history.len(), 1, "one epoch");
        assert!(trained.fitted.history[0].get("loss").is_some_and(f64::is_finite));
        let data = dir.path().join("data");
        crate::datasets::synth_folder::write(&data, 4, 1, 48, |_| {}).unwrap();
        config.data = GeneratorData::Folder { dir: data, format: Format::Synth, val_count: 4 };
        let err = train(&config, &GeneratorFiles::default(), &Device::flex(), &mut Control::none(), &mut |_| {})
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("not enough to hold out 4 for validation"), "{err}");
    }
}
