//! Training the embedding network ([`EmbeddingCnn`]) on the procedural benchmark, through the
//! shared loop ([`super::fit`]).
//!
//! Images are generated on the fly as for the classifier ([`super::classifier`]): item `i` of
//! epoch `e` is image `e * train_count + i` of the training seed. Two images *agree* on
//! `a(i, j)` of their four properties (shape, colour, texture, size; [`agreement`]), and the loss
//! asks the cosine similarity `S_ij` of their embeddings to follow it: a triplet loss over every
//! triplet of the batch in which `j` agrees with the anchor `i` more than `k` does, with a margin
//! that grows with the difference,
//!
//! `L = mean_{(i,j,k): a_ij > a_ik} max(0, m (a_ij - a_ik) - S_ij + S_ik)`
//!
//! (Schroff et al., "FaceNet", CVPR 2015, for the triplet loss; a graded margin so that more
//! shared properties mean a larger similarity). Validation retrieves, for every image of the
//! validation seed, its nearest neighbour among the others and reports how many properties
//! they share.
//!
//! On the outfits benchmark ([`Scenes::Outfits`]) `a(i, j)` is instead the number of the match
//! rule's conditions two outfits meet, so the model learns the rule's notion of a match (the
//! tops' colour and texture, say) and nothing else; validation then reports how many conditions
//! an image and its nearest neighbour meet and how often that neighbour matches it.

use super::fit::{self, Event, FitConfig, Fitted, Goal, Loss, Monitor, Schedule, StepAt, Task};
use super::history::Named;
use super::scenes::{Scenes, Truth};
use crate::control::Control;
use crate::datasets::synth::Attributes;
use crate::datasets::synth_attributes::{agreement, shared};
use crate::datasets::synth_outfits::MatchRule;
use crate::error::{LanternError, Result};
use crate::imaging::Preprocess;
use crate::models::embedding::{self, EmbeddingCnn, cosine};
use crate::models::init;
use crate::models::network::host_values;
use burn::module::Module;
use burn::optim::AdamConfig;
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor, TensorData};
use serde::Serialize;
use std::path::PathBuf;

/// What to train.
#[derive(Debug, Clone, Serialize)]
pub struct EmbeddingConfig {
    pub widths: Vec<usize>,
    /// Embedding dimension.
    pub dim: usize,
    /// Smallest and largest side of the generated images, in pixels.
    pub sizes: (u32, u32),
    pub train_count: usize,
    pub val_count: usize,
    pub epochs: usize,
    pub batch: usize,
    pub learning_rate: f64,
    /// Margin per property of agreement, `m`.
    pub margin: f64,
    pub seed: u64,
    pub val_seed: u64,
    /// Stop after this many epochs without a better validation agreement.
    pub patience: Option<usize>,
    /// The images drawn: single objects or outfits with their match rule.
    pub scenes: Scenes,
}

/// Where a run keeps its files.
#[derive(Debug, Clone, Default)]
pub struct RunFiles {
    /// Checkpoint folder; a run finds its own checkpoints there and resumes.
    pub checkpoints: Option<PathBuf>,
    /// CSV log of the epochs.
    pub log: Option<PathBuf>,
}

/// The graded-margin triplet loss of a batch's cosine matrix `s` (`[n, n]`) given the pairwise
/// agreements, and the fraction of its triplets that violate their margin.
pub fn triplet_loss(s: Tensor<2>, agreements: &[Vec<usize>], margin: f64) -> (Tensor<1>, f64) {
    let n = agreements.len();
    let device = s.device();
    let mut margins = vec![0.0f32; n * n * n];
    let mut valid = vec![0.0f32; n * n * n];
    let mut count = 0usize;
    for (i, row) in agreements.iter().enumerate() {
        for j in (0..n).filter(|&j| j != i) {
            for k in (0..n).filter(|&k| k != i && k != j) {
                if row[j] > row[k] {
                    let at = (i * n + j) * n + k;
                    margins[at] = (margin * (row[j] - row[k]) as f64) as f32;
                    valid[at] = 1.0;
                    count += 1;
                }
            }
        }
    }
    let margins = Tensor::<3>::from_data(TensorData::new(margins, [n, n, n]), &device);
    let valid = Tensor::<3>::from_data(TensorData::new(valid, [n, n, n]), &device);
    let s_ij = s.clone().reshape([n, n, 1]).expand([n, n, n]);
    let s_ik = s.reshape([n, 1, n]).expand([n, n, n]);
    let hinge = relu(margins - s_ij + s_ik) * valid.clone();
    let violated = host_values(hinge.clone().detach().greater_elem(0.0).float() * valid).iter().sum::<f32>() as f64;
    let loss = hinge.sum() / count.max(1) as f32;
    (loss, violated / count.max(1) as f64)
}

/// Nearest-neighbour retrieval on held-out images: for each image, how many of its four
/// properties its nearest other image shares, and which.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetrievalQuality {
    /// Mean number of shared properties (0 to 4).
    pub agreement: f64,
    /// Fraction of nearest neighbours with the same shape, colour, texture, size.
    pub same: [f64; 4],
}

/// The other image whose embedding is nearest image `i`'s (largest cosine), if any.
fn nearest(embeddings: &[Vec<f32>], i: usize) -> Option<usize> {
    (0..embeddings.len())
        .filter(|&j| j != i)
        .max_by(|&a, &b| cosine(&embeddings[i], &embeddings[a]).total_cmp(&cosine(&embeddings[i], &embeddings[b])))
}

/// [`RetrievalQuality`] of L2-normalised `embeddings` of images with `attributes`.
pub fn retrieval_quality(embeddings: &[Vec<f32>], attributes: &[Attributes]) -> RetrievalQuality {
    let n = embeddings.len();
    let mut total = 0usize;
    let mut same = [0usize; 4];
    for i in 0..n {
        let Some(j) = nearest(embeddings, i) else {
            continue;
        };
        let (a, b) = (&attributes[i], &attributes[j]);
        total += agreement(a, b);
        same[0] += usize::from(a.shape == b.shape);
        let common = shared(a, b);
        for (g, slot) in same[1..].iter_mut().enumerate() {
            *slot += usize::from(common.iter().any(|&v| crate::datasets::synth_attributes::group(v) == g));
        }
    }
    let d = n.max(1) as f64;
    RetrievalQuality { agreement: total as f64 / d, same: same.map(|c| c as f64 / d) }
}

/// Nearest-neighbour retrieval on held-out outfits under a match rule: the mean number of the
/// rule's conditions an image and its nearest other image meet, and how often they match.
pub fn rule_retrieval(embeddings: &[Vec<f32>], truths: &[Truth], rule: &MatchRule) -> (f64, f64) {
    let scenes = Scenes::Outfits(rule.clone());
    let (mut total, mut matched) = (0usize, 0usize);
    for i in 0..embeddings.len() {
        if let Some(j) = nearest(embeddings, i) {
            let a = scenes.agreement(&truths[i], &truths[j]);
            total += a;
            matched += usize::from(a == rule.size());
        }
    }
    let d = embeddings.len().max(1) as f64;
    (total as f64 / d, matched as f64 / d)
}

/// Embeddings of images `0..count` of `seed` with their ground truths, in inference mode.
pub fn embed_split(
    model: &EmbeddingCnn,
    scenes: &Scenes,
    seed: u64,
    count: usize,
    sizes: (u32, u32),
    device: &Device,
) -> (Vec<Vec<f32>>, Vec<Truth>) {
    let pre = embedding::preprocess();
    let plain = device.clone().without_autodiff();
    let model = model.valid();
    let mut out = Vec::with_capacity(count);
    let mut attrs = Vec::with_capacity(count);
    for start in (0..count).step_by(64) {
        let (x, a) = scenes.draw(seed, start..(start + 64).min(count), sizes, &pre, &plain);
        let y = model.forward(x);
        let dim = y.dims()[1];
        out.extend(host_values(y).chunks(dim).map(<[f32]>::to_vec));
        attrs.extend(a);
    }
    (out, attrs)
}

/// The embedding network as the loop's [`Task`].
struct EmbeddingTask<'a> {
    config: &'a EmbeddingConfig,
    pre: Preprocess,
    device: Device,
}

impl Task for EmbeddingTask<'_> {
    type Model = EmbeddingCnn;

    fn train_len(&self) -> usize {
        self.config.train_count
    }

    fn loss(&mut self, model: &EmbeddingCnn, items: &[usize], at: StepAt) -> Result<Loss> {
        let c = self.config;
        let first = at.epoch * c.train_count;
        let (x, truths) = c.scenes.draw(c.seed, items.iter().map(|i| first + i), c.sizes, &self.pre, &self.device);
        let e = model.forward(x);
        let s = e.clone().matmul(e.transpose());
        let (value, violated) = triplet_loss(s, &c.scenes.agreements(&truths), c.margin);
        Ok(Loss { value, terms: vec![("violated".into(), violated)] })
    }

    fn validate(&mut self, model: &EmbeddingCnn, _epoch: usize, _control: &Control) -> Result<Named> {
        let c = self.config;
        let (e, truths) = embed_split(model, &c.scenes, c.val_seed, c.val_count, c.sizes, &self.device);
        if let Scenes::Outfits(rule) = &c.scenes {
            let (agreement, matched) = rule_retrieval(&e, &truths, rule);
            return Ok(vec![("val_agreement".into(), agreement), ("val_match".into(), matched)]);
        }
        let a: Vec<Attributes> =
            truths.into_iter().filter_map(|t| if let Truth::Object(a) = t { Some(a) } else { None }).collect();
        let q = retrieval_quality(&e, &a);
        Ok(vec![
            ("val_agreement".into(), q.agreement),
            ("val_shape".into(), q.same[0]),
            ("val_colour".into(), q.same[1]),
            ("val_texture".into(), q.same[2]),
            ("val_size".into(), q.same[3]),
        ])
    }
}

/// Train (or resume training) the embedding network.
pub fn train(
    config: &EmbeddingConfig,
    files: &RunFiles,
    device: &Device,
    control: &mut Control,
    on_event: &mut dyn FnMut(Event<'_>),
) -> Result<Fitted<EmbeddingCnn>> {
    if config.widths.is_empty() || config.dim == 0 {
        return Err(LanternError::BadArgument(
            "training needs at least one block width and an embedding dimension".into(),
        ));
    }
    if config.batch < 3 {
        return Err(LanternError::BadArgument("a triplet loss needs batches of at least 3 images".into()));
    }
    let device = device.clone().autodiff();
    let model = init::seeded(&device, config.seed, || EmbeddingCnn::new(&config.widths, config.dim, &device));
    let fit_config = FitConfig {
        epochs: config.epochs,
        batch: config.batch,
        shuffle: false,
        seed: config.seed,
        schedule: Schedule::Cosine(config.learning_rate),
        monitor: Some(Monitor { metric: "val_agreement".into(), goal: Goal::Maximize }),
        patience: config.patience,
        task: serde_json::to_value(config)
            .map_err(|e| LanternError::Internal(format!("training configuration: {e}")))?,
        checkpoints: files.checkpoints.clone(),
        log: files.log.clone(),
    };
    let mut task = EmbeddingTask { config, pre: embedding::preprocess(), device: device.clone() };
    fit::fit(&mut task, model, AdamConfig::new().init(), &fit_config, control, on_event)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(s: &[[f32; 3]; 3]) -> Tensor<2> {
        Tensor::from_data(TensorData::new(s.iter().flatten().copied().collect::<Vec<_>>(), [3, 3]), &Device::flex())
    }

    #[test]
    fn the_triplet_loss_counts_only_ordered_triplets_with_graded_margins() {
        // Anchor 0 agrees with 1 on 3 properties and with 2 on 1: triplet (0, 1, 2), margin
        // 0.1 * 2; anchor 1 gives (1, 0, 2) the same way; anchor 2 agrees with both on 1: none.
        let a = vec![vec![4, 3, 1], vec![3, 4, 1], vec![1, 1, 4]];
        let s = host(&[[1.0, 0.5, 0.4], [0.5, 1.0, 0.2], [0.4, 0.2, 1.0]]);
        let (loss, violated) = triplet_loss(s, &a, 0.1);
        // (0,1,2): max(0, 0.2 - 0.5 + 0.4) = 0.1; (1,0,2): max(0, 0.2 - 0.5 + 0.2) = 0.
        let loss = host_values(loss)[0];
        assert!((loss - 0.05).abs() < 1e-6, "{loss}");
        assert_eq!(violated, 0.5);
    }

    #[test]
    fn retrieval_quality_reads_the_nearest_neighbour() {
        let attrs = [
            Attributes { shape: 0, colour: 0, texture: 0, size: 0 },
            Attributes { shape: 0, colour: 0, texture: 1, size: 2 },
            Attributes { shape: 1, colour: 3, texture: 1, size: 2 },
        ];
        // 0 and 1 are each other's neighbours; 2's neighbour is 1.
        let e = vec![vec![1.0, 0.0], vec![0.9, 0.1], vec![0.5, 0.5]];
        let q = retrieval_quality(&e, &attrs);
        assert!((q.agreement - (2.0 + 2.0 + 2.0) / 3.0).abs() < 1e-12);
        assert_eq!(q.same, [2.0 / 3.0, 2.0 / 3.0, 1.0 / 3.0, 1.0 / 3.0]);
    }

    #[test]
    fn rule_retrieval_reads_the_nearest_neighbour_under_the_rule() {
        let top = |colour, texture| Some(Attributes { shape: 0, colour, texture, size: 0 });
        let truths = [
            Truth::Outfit([top(1, 1), top(0, 0), None, None]),
            Truth::Outfit([top(1, 1), top(2, 2), None, None]),
            Truth::Outfit([top(1, 3), top(0, 0), None, None]),
        ];
        // 0 and 2 are each other's neighbours (they meet 1 condition); 1's neighbour is 0 (a match).
        let e = vec![vec![1.0, 0.0], vec![0.8, -0.6], vec![0.9, 0.1]];
        let (agreement, matched) = rule_retrieval(&e, &truths, &MatchRule::default());
        assert!((agreement - 4.0 / 3.0).abs() < 1e-12);
        assert!((matched - 1.0 / 3.0).abs() < 1e-12);
    }

    #[test]
    fn a_tiny_run_trains_and_its_validation_is_logged() {
        let dir = tempfile::tempdir().unwrap();
        let config = EmbeddingConfig {
            widths: vec![4, 6],
            dim: 8,
            sizes: (32, 40),
            train_count: 8,
            val_count: 6,
            epochs: 2,
            batch: 4,
            learning_rate: 0.01,
            margin: 0.1,
            seed: 3,
            val_seed: 4,
            patience: None,
            scenes: Scenes::Objects,
        };
        let files = RunFiles { checkpoints: Some(dir.path().join("ck")), log: Some(dir.path().join("log.csv")) };
        let fitted = train(&config, &files, &Device::flex(), &mut Control::none(), &mut |_| {}).unwrap();
        assert_eq!(fitted.history.len(), 2);
        let log = std::fs::read_to_string(dir.path().join("log.csv")).unwrap();
        assert_eq!(
            log.lines().next(),
            Some("epoch,loss,violated,val_agreement,val_shape,val_colour,val_texture,val_size")
        );
        let q = fitted.history[1].get("val_agreement").unwrap();
        assert!((0.0..=4.0).contains(&q));
        let outfits = EmbeddingConfig { epochs: 1, scenes: Scenes::Outfits(MatchRule::default()), ..config.clone() };
        let files = RunFiles { checkpoints: None, log: Some(dir.path().join("outfits.csv")) };
        let fitted = train(&outfits, &files, &Device::flex(), &mut Control::none(), &mut |_| {}).unwrap();
        let log = std::fs::read_to_string(dir.path().join("outfits.csv")).unwrap();
        assert_eq!(log.lines().next(), Some("epoch,loss,violated,val_agreement,val_match"));
        let matched = fitted.history[0].get("val_match").unwrap();
        assert!((0.0..=1.0).contains(&matched));
        assert!(
            train(
                &EmbeddingConfig { batch: 2, ..config },
                &RunFiles::default(),
                &Device::flex(),
                &mut Control::none(),
                &mut |_| {}
            )
            .is_err()
        );
    }
}
