//! Training the attribute predictor ([`AttributeCnn`]) on the procedural benchmark's 13
//! attribute values ([`synth_attributes`]), through the shared loop ([`super::fit`]), as Plummer
//! et al. train theirs (`tools/train_attribute_classifier.py` of VisionLearningGroup/SANE):
//! attribute classification plus a term that pulls the map of one of the image's true
//! attributes toward where a similarity model looks,
//!
//! `L = BCE(sigmoid(y), t) + lambda * mean_i min_{a in true(i)} || softmax(A_a^i) - softmax(s_i / tau) ||_2`
//!
//! with `y_a = mean A_a` the scores, `t` the 0/1 targets, softmaxes over the map's positions and
//! `s_i` image `i`'s similarity saliency: Grad-CAM of `cos(f(x_i), f(x_j))` at the embedding
//! model's last layer (the same resolution as the attribute maps), ReLU'd and min-max normalised,
//! `j` the image of the batch that agrees with `i` on the most properties ([`agreement`]; the
//! authors pair each image with images of its class). `tau` is the temperature of the target
//! ([`crate::explain::attribute_rank::SALIENCY_TEMPERATURE`]). Differences from the authors, and why: the classification term is binary
//! cross-entropy on the sigmoid scores (they apply a smooth L1 loss to a softmax of the scores;
//! our values are independent labels); and the saliency is Grad-CAM computed on the fly instead
//! of RISE maps cached in advance (2000 masked passes per training image would take hours on two
//! CPU cores; Grad-CAM takes one forward and backward pass).
//!
//! On the outfits benchmark ([`Scenes::Outfits`]) an image's true values are those any of its
//! items wears, and its partner `j` the outfit of the batch meeting the most of the match rule's
//! conditions with it, so the saliency target is where the embedding model looks for a match.

use super::embedding::RunFiles;
use super::fit::{self, Event, FitConfig, Fitted, Goal, Loss, Monitor, Schedule, StepAt, Task};
use super::history::Named;
use super::scenes::{Scenes, Truth};
use crate::control::Control;
use crate::datasets::synth_attributes::{self, COUNT};
use crate::error::{LanternError, Result};
use crate::explain::attribute_rank::attribute_distances;
use crate::explain::similarity::batch_gradcam;
use crate::imaging::Preprocess;
use crate::map::{Interpolation, WeightMap};
use crate::models::attributes::AttributeCnn;
use crate::models::embedding::{self, embed};
use crate::models::network::host_values;
use crate::models::{Network, init};
use burn::module::Module;
use burn::optim::AdamConfig;
use burn::tensor::{Device, Tensor, TensorData};
use serde::Serialize;

/// What to train.
#[derive(Debug, Clone, Serialize)]
pub struct AttributeConfig {
    pub widths: Vec<usize>,
    pub sizes: (u32, u32),
    pub train_count: usize,
    pub val_count: usize,
    pub epochs: usize,
    pub batch: usize,
    pub learning_rate: f64,
    /// `lambda`, the weight of the saliency-agreement term (0 trains a plain classifier).
    pub saliency_weight: f64,
    pub seed: u64,
    pub val_seed: u64,
    pub patience: Option<usize>,
    /// SHA-256 of the embedding model's file, part of the run's identity.
    pub embedding_digest: String,
    /// The images drawn: single objects or outfits with their match rule.
    pub scenes: Scenes,
}

/// For every image, the other image of the batch it agrees with most (the first on ties), from
/// the pairwise agreements `[i][j]`.
pub fn partners(agreements: &[Vec<usize>]) -> Vec<usize> {
    (0..agreements.len())
        .map(|i| {
            (0..agreements.len())
                .filter(|&j| j != i)
                .max_by_key(|&j| (agreements[i][j], std::cmp::Reverse(j)))
                .unwrap_or(i)
        })
        .collect()
}

/// Each image's similarity saliency against its partner (`partners[i]`, an index into the batch),
/// resized to `size` when the embedding model's layer has another resolution: `n x (w * h)`
/// values in `[0, 1]`.
pub fn saliency_targets(net: &Network, x: Tensor<4>, partners: &[usize], size: (usize, usize)) -> Result<Vec<f32>> {
    let e = embed(net, x.clone());
    let refs: Vec<Vec<f32>> = partners.iter().map(|&j| e[j].clone()).collect();
    let maps = batch_gradcam(net, x, &refs)?;
    Ok(maps
        .into_iter()
        .flat_map(|m: WeightMap| {
            if (m.width, m.height) == size {
                m.values
            } else {
                m.resized(size.0, size.1, Interpolation::Bilinear).values
            }
        })
        .collect())
}

/// 0/1 targets `[n, COUNT]`: 1 on the values each image shows.
fn targets(truths: &[Truth]) -> Vec<f32> {
    let mut t = vec![0.0f32; truths.len() * COUNT];
    for (i, truth) in truths.iter().enumerate() {
        for v in truth.values() {
            t[i * COUNT + v] = 1.0;
        }
    }
    t
}

/// Binary cross-entropy with logits, averaged: `max(z, 0) - z t + log(1 + e^-|z|)`.
fn bce_with_logits(z: Tensor<2>, t: Tensor<2>) -> Tensor<1> {
    let loss = z.clone().clamp_min(0.0) - z.clone() * t + z.abs().neg().exp().log1p();
    loss.mean()
}

/// `min_{a true} ||softmax(A_a) - softmax(s / tau)||_2` per image (`[n]`), from the raw maps
/// `[n, A, h, w]`, the targets `[n, A]` and the saliency `[n, h * w]` ([`attribute_distances`]).
pub fn saliency_distance(maps: Tensor<4>, targets: Tensor<2>, saliency: Tensor<2>) -> Tensor<1> {
    let n = maps.dims()[0];
    let d = attribute_distances(maps, saliency);
    // Values the image does not have are pushed out of the minimum.
    let d = d + (targets.neg() + 1.0) * 10.0;
    d.min_dim(1).reshape([n])
}

/// Per-group accuracy (the most probable value of each group is a true one: the true one of a
/// single object, one an item of an outfit wears) and the mean saliency distance, over images
/// `0..count` of `seed`.
pub fn evaluate(
    model: &AttributeCnn,
    embedder: &Network,
    scenes: &Scenes,
    seed: u64,
    count: usize,
    sizes: (u32, u32),
    device: &Device,
) -> Result<([f64; 3], f64)> {
    let pre = embedding::preprocess();
    let plain = device.clone().without_autodiff();
    let model = model.valid();
    let mut right = [0usize; 3];
    let mut distance = 0.0f64;
    for start in (0..count).step_by(64) {
        let end = (start + 64).min(count);
        let (x, truths) = scenes.draw(seed, start..end, sizes, &pre, &plain);
        let (scores, maps) = model.forward(x.clone());
        let [n, _, h, w] = maps.dims();
        let s = saliency_targets(embedder, x, &partners(&scenes.agreements(&truths)), (w, h))?;
        let t = targets(&truths);
        let d = saliency_distance(
            maps,
            Tensor::from_data(TensorData::new(t, [n, COUNT]), &plain),
            Tensor::from_data(TensorData::new(s, [n, h * w]), &plain),
        );
        distance += host_values(d).iter().map(|&v| f64::from(v)).sum::<f64>();
        let scores = host_values(scores);
        for (i, truth) in truths.iter().enumerate() {
            let row = &scores[i * COUNT..(i + 1) * COUNT];
            let values = truth.values();
            for (g, range) in synth_attributes::ranges().into_iter().enumerate() {
                let best = range
                    .clone()
                    .max_by(|&x, &y| row[x].total_cmp(&row[y]).then(y.cmp(&x)))
                    .expect("groups are not empty");
                right[g] += usize::from(values.contains(&best));
            }
        }
    }
    let d = count.max(1) as f64;
    Ok((right.map(|r| r as f64 / d), distance / d))
}

/// The attribute predictor as the loop's [`Task`].
struct AttributeTask<'a> {
    config: &'a AttributeConfig,
    embedder: &'a Network,
    pre: Preprocess,
    device: Device,
}

impl Task for AttributeTask<'_> {
    type Model = AttributeCnn;

    fn train_len(&self) -> usize {
        self.config.train_count
    }

    fn loss(&mut self, model: &AttributeCnn, items: &[usize], at: StepAt) -> Result<Loss> {
        let c = self.config;
        let plain = self.device.clone().without_autodiff();
        let first = at.epoch * c.train_count;
        let (x, truths) = c.scenes.draw(c.seed, items.iter().map(|i| first + i), c.sizes, &self.pre, &plain);
        let (scores, maps) = model.forward(x.clone().autodiff());
        let [n, _, h, w] = maps.dims();
        let t = Tensor::<2>::from_data(TensorData::new(targets(&truths), [n, COUNT]), &self.device);
        let bce = bce_with_logits(scores, t.clone());
        let s = saliency_targets(self.embedder, x, &partners(&c.scenes.agreements(&truths)), (w, h))?;
        let s = Tensor::<2>::from_data(TensorData::new(s, [n, h * w]), &self.device);
        let heat = saliency_distance(maps, t, s).mean();
        let terms = vec![
            ("bce".into(), f64::from(host_values(bce.clone().detach())[0])),
            ("saliency_distance".into(), f64::from(host_values(heat.clone().detach())[0])),
        ];
        Ok(Loss { value: bce + heat * c.saliency_weight as f32, terms })
    }

    fn validate(&mut self, model: &AttributeCnn, _epoch: usize, _control: &Control) -> Result<Named> {
        let c = self.config;
        let (acc, distance) =
            evaluate(model, self.embedder, &c.scenes, c.val_seed, c.val_count, c.sizes, &self.device)?;
        Ok(vec![
            ("val_accuracy".into(), acc.iter().sum::<f64>() / 3.0),
            ("val_colour".into(), acc[0]),
            ("val_texture".into(), acc[1]),
            ("val_size".into(), acc[2]),
            ("val_saliency_distance".into(), distance),
        ])
    }
}

/// Train (or resume training) the attribute predictor; `embedder` is the similarity model whose
/// saliency the maps are pulled toward (any model: a classifier is read through its
/// penultimate features).
pub fn train(
    config: &AttributeConfig,
    embedder: &Network,
    files: &RunFiles,
    device: &Device,
    control: &mut Control,
    on_event: &mut dyn FnMut(Event<'_>),
) -> Result<Fitted<AttributeCnn>> {
    if config.widths.is_empty() {
        return Err(LanternError::BadArgument("training needs at least one block width".into()));
    }
    if config.batch < 2 {
        return Err(LanternError::BadArgument(
            "the saliency term pairs images of a batch: batches need at least 2 images".into(),
        ));
    }
    let device = device.clone().autodiff();
    let model = init::seeded(&device, config.seed, || AttributeCnn::new(&config.widths, COUNT, &device));
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
    let mut task = AttributeTask { config, embedder, pre: embedding::preprocess(), device: device.clone() };
    fit::fit(&mut task, model, AdamConfig::new().init(), &fit_config, control, on_event)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::datasets::synth::Attributes;

    fn tensor<const D: usize>(values: Vec<f32>, shape: [usize; D]) -> Tensor<D> {
        Tensor::from_data(TensorData::new(values, shape), &Device::flex())
    }

    #[test]
    fn the_saliency_term_is_the_smallest_distance_over_true_attributes() {
        // One image, 2 attribute maps of 2 positions; attribute 0 true, 1 not.
        let maps = tensor(vec![0.0, 0.0, 5.0, -5.0], [1, 2, 1, 2]);
        let saliency = tensor(vec![1.0, 0.0], [1, 2]);
        let q = crate::models::scores::softmax(&[1.0 / crate::explain::attribute_rank::SALIENCY_TEMPERATURE, 0.0]);
        // Map 0 is uniform: distance from q; map 1 is closer but not true.
        let d0 = ((0.5 - q[0]).powi(2) + (0.5 - q[1]).powi(2)).sqrt();
        let d = host_values(saliency_distance(maps.clone(), tensor(vec![1.0, 0.0], [1, 2]), saliency.clone()))[0];
        assert!((d - d0).abs() < 1e-5, "{d} vs {d0}");
        let both = host_values(saliency_distance(maps, tensor(vec![1.0, 1.0], [1, 2]), saliency))[0];
        assert!(both < d0 * 0.1, "attribute 1's map follows the saliency: {both}");
    }

    #[test]
    fn bce_matches_its_definition_and_partners_agree_most() {
        let z = [2.0f32, -1.0];
        let t = [1.0f32, 0.0];
        let expected: f32 = z
            .iter()
            .zip(&t)
            .map(|(z, t)| {
                -(t * crate::models::scores::sigmoid(*z).ln()
                    + (1.0 - t) * (1.0 - crate::models::scores::sigmoid(*z)).ln())
            })
            .sum::<f32>()
            / 2.0;
        let got = host_values(bce_with_logits(tensor(z.to_vec(), [1, 2]), tensor(t.to_vec(), [1, 2])))[0];
        assert!((got - expected).abs() < 1e-6);
        let a = [
            Attributes { shape: 0, colour: 0, texture: 0, size: 0 },
            Attributes { shape: 1, colour: 1, texture: 1, size: 1 },
            Attributes { shape: 0, colour: 0, texture: 2, size: 2 },
            Attributes { shape: 1, colour: 1, texture: 1, size: 0 },
        ]
        .map(Truth::Object);
        assert_eq!(partners(&Scenes::Objects.agreements(&a)), vec![2, 3, 0, 1]);
        assert_eq!(
            targets(&a[..1]).iter().enumerate().filter(|(_, v)| **v == 1.0).map(|(i, _)| i).collect::<Vec<_>>(),
            vec![0, 6, 10]
        );
    }

    #[test]
    fn a_tiny_run_trains_with_both_terms_logged() {
        let dir = tempfile::tempdir().unwrap();
        let device = Device::flex();
        let embedder = embedding::penultimate(crate::models::demo::network(&device).unwrap());
        let config = AttributeConfig {
            widths: vec![4, 6, 8],
            sizes: (40, 48),
            train_count: 8,
            val_count: 4,
            epochs: 1,
            batch: 4,
            learning_rate: 0.01,
            saliency_weight: 0.5,
            seed: 1,
            val_seed: 2,
            patience: None,
            embedding_digest: "test".into(),
            scenes: Scenes::Objects,
        };
        let files = RunFiles { checkpoints: None, log: Some(dir.path().join("log.csv")) };
        let fitted = train(&config, &embedder, &files, &device, &mut Control::none(), &mut |_| {}).unwrap();
        let r = &fitted.history[0];
        assert!(r.get("bce").unwrap() > 0.0 && r.get("saliency_distance").unwrap() > 0.0);
        let log = std::fs::read_to_string(dir.path().join("log.csv")).unwrap();
        assert_eq!(
            log.lines().next(),
            Some("epoch,loss,bce,saliency_distance,val_accuracy,val_colour,val_texture,val_size,val_saliency_distance")
        );
        let outfits =
            AttributeConfig { scenes: Scenes::Outfits(crate::datasets::synth_outfits::MatchRule::default()), ..config };
        let fitted =
            train(&outfits, &embedder, &RunFiles::default(), &device, &mut Control::none(), &mut |_| {}).unwrap();
        assert!((0.0..=1.0).contains(&fitted.history[0].get("val_accuracy").unwrap()));
    }
}
