//! Pair saliency for similarity models: why does an embedding model find a query `q` and a
//! reference `r` alike? Each method gives a map over the query; [`pair_maps`] swaps the roles
//! for the map over the reference. The methods follow Plummer et al., "Why do These Match?
//! Explaining the Behavior of Image Similarity Models" (ECCV 2020), and their code
//! (`lib/misc/saliency_maps.py` of VisionLearningGroup/SANE); `f` is the embedding model and
//! `cos` the cosine similarity ([`Objective::Similarity`]).
//!
//! - **Similarity RISE**: random masks `M_i` on the query (RISE's masks, [`RiseMasks`]: an
//!   `s x s` grid kept with probability `p`, shifted and bilinearly upsampled; defaults 2000
//!   masks, 8x8, `p = 0.5`), `s_i = cos(f(q * M_i), f(r))`, and
//!   `S = sum_i s_i M_i / mean_i M_i`: each pixel's sum normalised by how often it was kept,
//!   not by `N p` as classification RISE ([`super::perturbation::rise`]).
//! - **Similarity sliding window**: an occluder (zero in normalised input, the dataset mean)
//!   moved over the query; the value at each window position is `1 - cos(f(q_occluded), f(r))`,
//!   and the grid of positions is upsampled bilinearly (corners aligned) to the input. The
//!   authors' setting at 112 px is a 32 px window at stride 4 over the image padded by 8 px
//!   (25 x 25 positions); [`SlidingWindow::scaled`] scales all three to the input side.
//! - **Grad-CAM** of the similarity: `sum_k mean(dS/dA^k) A^k` with `S = cos(f(q), f(r))`, the
//!   registry's Grad-CAM on the similarity objective.
//!
//! **Variable reference** ([`ReferenceMode::Masked`]): the reference is masked too, with `K`
//! further random masks `R_j` (the authors use 30), and the query map is the mean of the maps
//! against each masked reference. For RISE and the sliding window the map is linear in the
//! scores, so this is one pass over the query masks with `s_i = mean_j cos(f(q * M_i), f(r * R_j))`
//! (the authors recompute the query's passes for every `R_j`; the result is the same). Grad-CAM
//! averages the `K` maps.

use super::activations::activations;
use super::objective::Objective;
use super::pair_method::PairMethodSpec;
use super::pair_params::{CELLS, KEEP, MASKS, PairSettings, ReferenceMode};
use super::perturbation::{MaskedScores, RiseMasks, masked_batch, run_masked};
use super::registry::Method;
use crate::control::Control;
use crate::error::{LanternError, Result};
use crate::map::{Interpolation, WeightMap};
use crate::models::embedding::embed;
use crate::models::{Network, OutputKind};
use burn::tensor::{Tensor, TensorData};
use serde::{Deserialize, Serialize};

/// Similarity RISE (see the module documentation).
pub const SIMILARITY_RISE: PairMethodSpec = PairMethodSpec {
    name: "rise",
    title: "Similarity RISE",
    aliases: &[],
    formula: "sum_i cos(f(q * M_i), f(r)) M_i / mean_i M_i over random masks",
    long: true,
    params: &[MASKS, CELLS, KEEP],
    entry: |run| {
        let s = run.settings;
        let [_, _, h, w] = run.query.dims();
        let masks = RiseMasks::generate(s.masks, s.cells, s.keep, h, w, s.seed);
        similarity_rise(run.net, run.query, run.references, &masks, s.batch, run.control)
    },
};

/// The similarity sliding window, at the authors' setting scaled to the input
/// ([`SlidingWindow::scaled`]).
pub const SLIDING_WINDOW: PairMethodSpec = PairMethodSpec {
    name: "sliding-window",
    title: "Sliding window",
    aliases: &["window", "slide"],
    formula: "1 - cos(f(q with a window occluded), f(r)), upsampled",
    long: true,
    params: &[],
    entry: |run| {
        let [_, _, h, w] = run.query.dims();
        let window = SlidingWindow::scaled(h.min(w));
        similarity_sliding_window(run.net, run.query, run.references, window, run.settings.batch, run.control)
    },
};

/// Grad-CAM of the similarity at the model's default layer.
pub const SIMILARITY_GRADCAM: PairMethodSpec = PairMethodSpec {
    name: "gradcam",
    title: "Grad-CAM (similarity)",
    aliases: &[],
    formula: "sum_k mean(dS/dA^k) A^k with S = cos(f(q), f(r))",
    long: false,
    params: &[],
    entry: |run| similarity_gradcam(run.net, run.query, run.references),
};

/// Check `net` outputs an embedding.
fn check_embedding(net: &Network) -> Result<()> {
    if net.output == OutputKind::Embedding {
        Ok(())
    } else {
        Err(LanternError::Mismatch(format!(
            "{} is not an embedding model (use models::embedding::penultimate to compare its features)",
            net.arch
        )))
    }
}

/// The embeddings the query is compared with (L2-normalised), from the preprocessed reference
/// `r` (`[1, 3, H, W]`). Masked references use masks drawn from `seed + 1`, so they differ from
/// the query's.
pub fn reference_embeddings(net: &Network, r: &Tensor<4>, settings: &PairSettings) -> Result<Vec<Vec<f32>>> {
    check_embedding(net)?;
    match settings.reference {
        ReferenceMode::Fixed => Ok(embed(net, r.clone())),
        ReferenceMode::Masked { count } => {
            let [_, c, h, w] = r.dims();
            let masks = RiseMasks::generate(count, settings.cells, settings.keep, h, w, settings.seed.wrapping_add(1));
            let image = crate::models::network::host_values(r.clone());
            let mut out = Vec::with_capacity(count);
            for start in (0..count).step_by(settings.batch.max(1)) {
                let end = (start + settings.batch.max(1)).min(count);
                let ms: Vec<Vec<f32>> = (start..end).map(|i| masks.mask(i)).collect();
                let values = masked_batch(&image, None, &ms, c);
                out.extend(embed(net, Tensor::from_data(TensorData::new(values, [end - start, c, h, w]), &r.device())));
            }
            Ok(out)
        }
    }
}

/// `mean_j cos(y, e_j)` over the reference embeddings.
fn mean_similarity(objectives: &[Objective], output: &[f32]) -> f32 {
    objectives.iter().map(|o| o.score_row(output)).sum::<f32>() / objectives.len().max(1) as f32
}

fn similarity_objectives(references: &[Vec<f32>]) -> Result<Vec<Objective>> {
    if references.is_empty() {
        return Err(LanternError::BadArgument("no reference embedding to compare with".into()));
    }
    Ok(references.iter().map(|r| Objective::Similarity { reference: r.clone() }).collect())
}

/// Similarity RISE's running sums.
struct SimilarityRise {
    objectives: Vec<Objective>,
    width: usize,
    height: usize,
    /// `sum_i s_i M_i`.
    weighted: Vec<f64>,
    /// `sum_i M_i`.
    coverage: Vec<f64>,
    count: usize,
}

impl MaskedScores for SimilarityRise {
    fn add(&mut self, mask: &[f32], output: &[f32]) {
        let s = f64::from(mean_similarity(&self.objectives, output));
        for ((w, c), &m) in self.weighted.iter_mut().zip(&mut self.coverage).zip(mask) {
            *w += s * f64::from(m);
            *c += f64::from(m);
        }
        self.count += 1;
    }

    /// `sum_i s_i M_i / mean_i M_i` (0 where no mask kept the pixel).
    fn map(&self) -> WeightMap {
        let n = self.count.max(1) as f64;
        let values = self
            .weighted
            .iter()
            .zip(&self.coverage)
            .map(|(w, c)| if *c > 0.0 { (w / (c / n)) as f32 } else { 0.0 })
            .collect();
        WeightMap::new(self.width, self.height, values)
    }
}

/// Similarity RISE over the preprocessed query `q` against `references` (see the module
/// documentation), `batch` masked queries per pass.
pub fn similarity_rise(
    net: &Network,
    q: &Tensor<4>,
    references: &[Vec<f32>],
    masks: &RiseMasks,
    batch: usize,
    control: &mut Control,
) -> Result<WeightMap> {
    check_embedding(net)?;
    let objectives = similarity_objectives(references)?;
    let [_, _, h, w] = q.dims();
    let mut sum = SimilarityRise {
        objectives,
        width: w,
        height: h,
        weighted: vec![0.0; h * w],
        coverage: vec![0.0; h * w],
        count: 0,
    };
    run_masked(net, q, masks.len(), &|i| masks.mask(i), batch, control, &mut sum)?;
    Ok(sum.map())
}

/// Occluder positions of the sliding window: `positions` per axis at offsets
/// `i * stride - pad`, each hiding a `window x window` square (clipped to the image).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlidingWindow {
    pub window: usize,
    pub stride: usize,
    pub pad: usize,
}

impl SlidingWindow {
    /// The authors' 112 px setting (window 32, stride 4, padding 8) scaled to a `side` pixel
    /// input: `round(32 side / 112)`, `max(1, round(4 side / 112))`, `round(8 side / 112)`.
    pub fn scaled(side: usize) -> Self {
        let scale = |v: f64| (v * side as f64 / 112.0).round() as usize;
        Self { window: scale(32.0).max(1), stride: scale(4.0).max(1), pad: scale(8.0) }
    }

    /// Window positions per axis for an axis of `len` pixels: `floor((len + 2 pad - window) /
    /// stride) + 1` (25 for the authors' setting at 112 px).
    pub fn positions(&self, len: usize) -> usize {
        (len + 2 * self.pad).saturating_sub(self.window) / self.stride.max(1) + 1
    }

    /// Mask of position `i` (row-major over the `positions x positions` grid) for an `h x w`
    /// input: 0 under the window, 1 elsewhere.
    pub fn mask(&self, i: usize, h: usize, w: usize) -> Vec<f32> {
        let cols = self.positions(w);
        let (gy, gx) = (i / cols, i % cols);
        let span = |g: usize, len: usize| {
            let start = (g * self.stride) as isize - self.pad as isize;
            let end = start + self.window as isize;
            (start.clamp(0, len as isize) as usize, end.clamp(0, len as isize) as usize)
        };
        let (y0, y1) = span(gy, h);
        let (x0, x1) = span(gx, w);
        let mut m = vec![1.0f32; h * w];
        for y in y0..y1 {
            m[y * w + x0..y * w + x1].fill(0.0);
        }
        m
    }
}

/// The sliding window's grid of `1 - cos` values, filled in mask order.
struct SlideGrid {
    objectives: Vec<Objective>,
    rows: usize,
    cols: usize,
    width: usize,
    height: usize,
    values: Vec<f32>,
}

impl MaskedScores for SlideGrid {
    fn add(&mut self, _mask: &[f32], output: &[f32]) {
        self.values.push(1.0 - mean_similarity(&self.objectives, output));
    }

    /// The grid (positions not yet run are 0) upsampled to the input, corners aligned.
    fn map(&self) -> WeightMap {
        let mut grid = self.values.clone();
        grid.resize(self.rows * self.cols, 0.0);
        WeightMap::new(self.cols, self.rows, grid).resized(self.width, self.height, Interpolation::BilinearAlignCorners)
    }
}

/// Similarity sliding window over the preprocessed query `q` against `references`.
pub fn similarity_sliding_window(
    net: &Network,
    q: &Tensor<4>,
    references: &[Vec<f32>],
    window: SlidingWindow,
    batch: usize,
    control: &mut Control,
) -> Result<WeightMap> {
    check_embedding(net)?;
    let objectives = similarity_objectives(references)?;
    let [_, _, h, w] = q.dims();
    let (rows, cols) = (window.positions(h), window.positions(w));
    let mut grid = SlideGrid { objectives, rows, cols, width: w, height: h, values: Vec::with_capacity(rows * cols) };
    run_masked(net, q, rows * cols, &|i| window.mask(i, h, w), batch, control, &mut grid)?;
    Ok(grid.map())
}

/// Grad-CAM of `cos(f(q), e_j)` at the model's default layer, averaged over the references
/// (each map post-processed as Grad-CAM's: ReLU, normalise, resize, ReLU, normalise).
pub fn similarity_gradcam(net: &Network, q: &Tensor<4>, references: &[Vec<f32>]) -> Result<WeightMap> {
    check_embedding(net)?;
    let objectives = similarity_objectives(references)?;
    let acts = activations(net, q.clone(), &net.default_layer)?;
    let mut mean: Option<WeightMap> = None;
    for o in &objectives {
        let map = super::explain(net, &acts, Method::GradCam, o)?.map;
        mean = Some(match mean {
            None => map,
            Some(mut m) => {
                m.values.iter_mut().zip(&map.values).for_each(|(a, b)| *a += b);
                m
            }
        });
    }
    let mut map = mean.expect("at least one reference");
    let k = objectives.len() as f32;
    map.values.iter_mut().for_each(|v| *v /= k);
    Ok(map)
}

/// Grad-CAM of the similarity for a whole batch at once, each image `x_i` (`[n, 3, H, W]`,
/// preprocessed) against its own reference embedding `references[i]`, at the model's default
/// layer and at that layer's resolution, ReLU'd and min-max normalised (the first steps of
/// Grad-CAM's post-processing, without the resize). What a trainer needs many of; one image's
/// map with the full post-processing is [`similarity_gradcam`].
pub fn batch_gradcam(net: &Network, x: Tensor<4>, references: &[Vec<f32>]) -> Result<Vec<WeightMap>> {
    check_embedding(net)?;
    let n = x.dims()[0];
    if references.len() != n {
        return Err(LanternError::Mismatch(format!("{n} images but {} references", references.len())));
    }
    let layer = super::activations::find_layer(net, &net.default_layer)?.clone();
    let (a, resume) = net.forward_to_resumable(x, layer.cut);
    let leaf = a.clone().autodiff().require_grad();
    let y = net.forward_from_resumed(leaf.clone(), &resume, layer.cut);
    let k = y.dims()[1];
    let flat: Vec<f32> = references.iter().flat_map(|r| crate::models::embedding::normalized(r)).collect();
    if flat.len() != n * k {
        return Err(LanternError::Mismatch(format!("reference embeddings must have the model's {k} values")));
    }
    let r = Tensor::<2>::from_data(TensorData::new(flat, [n, k]), &y.device());
    let norm = (y.clone() * y.clone()).sum_dim(1).sqrt().clamp_min(1e-8);
    let cos = (y * r).sum_dim(1) / norm;
    let grads = cos.sum().backward();
    let g = leaf
        .grad(&grads)
        .ok_or_else(|| LanternError::Internal("the layer's gradient could not be computed".into()))?
        .without_autodiff();
    let [_, c, h, w] = a.dims();
    let (a, g) = (crate::models::network::host_values(a), crate::models::network::host_values(g));
    let block = c * h * w;
    Ok((0..n)
        .map(|i| {
            let maps = |v: &[f32]| super::activations::FeatureMaps {
                channels: c,
                height: h,
                width: w,
                values: v[i * block..(i + 1) * block].to_vec(),
            };
            let mut m = WeightMap::new(w, h, super::cam::grad_cam(&maps(&a), &maps(&g)));
            m.relu();
            m.normalize();
            m
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::network::{Body, Head, Linear};
    use burn::tensor::Device;

    /// An embedding "model" whose output is the mean of each input channel over the left and
    /// the right half of the image: 6 values, so what a mask hides changes it predictably.
    fn halves_model(side: usize) -> Network {
        let device = Device::flex();
        // A 1x1 convolution would do nothing; the stages are empty and the head pools. To see
        // halves, the head is an adaptive pool to 1x2 followed by the identity.
        let mut eye = vec![0.0f32; 36];
        for i in 0..6 {
            eye[i * 6 + i] = 1.0;
        }
        let id = Linear {
            weight: Tensor::from_data(TensorData::new(eye, [6, 6]), &device),
            bias: Tensor::zeros([6], &device),
        };
        let mut net = crate::models::demo::network(&device).unwrap();
        net.body = Body::chain(
            vec![],
            Head::PoolMlp { pool: [1, 2], layers: vec![(id, crate::models::network::Act::Identity)] },
        );
        net.layers.clear();
        net.output = OutputKind::Embedding;
        net.preprocess.resize = side as u32;
        net.preprocess.crop = side as u32;
        net
    }

    fn image(values: impl Fn(usize, usize, usize) -> f32, side: usize) -> Tensor<4> {
        let mut v = Vec::new();
        for c in 0..3 {
            for y in 0..side {
                for x in 0..side {
                    v.push(values(c, y, x));
                }
            }
        }
        Tensor::from_data(TensorData::new(v, [1, 3, side, side]), &Device::flex())
    }

    #[test]
    fn similarity_rise_normalises_each_pixel_by_how_often_it_was_kept() {
        let side = 16;
        let net = halves_model(side);
        // Query: red on the left, blue on the right; reference: red on the left only.
        let q = image(|c, _, x| if (c == 0 && x < 8) || (c == 2 && x >= 8) { 1.0 } else { 0.0 }, side);
        let r = image(|c, _, x| if c == 0 && x < 8 { 1.0 } else { 0.0 }, side);
        let refs = reference_embeddings(&net, &r, &PairSettings::default()).unwrap();
        let masks = RiseMasks::generate(300, 4, 0.5, side, side, 9);
        let map = similarity_rise(&net, &q, &refs, &masks, 64, &mut Control::none()).unwrap();
        // By hand: s_i, then sum_i s_i M_i / mean_i M_i.
        let ys: Vec<f32> = (0..masks.len())
            .map(|i| {
                let m = masks.mask(i);
                let qv = crate::models::network::host_values(q.clone());
                let masked: Vec<f32> = qv.iter().enumerate().map(|(j, v)| v * m[j % (side * side)]).collect();
                let y = crate::models::network::host_values(
                    net.forward(Tensor::from_data(TensorData::new(masked, [1, 3, side, side]), &Device::flex())),
                );
                crate::models::embedding::cosine(&y, &refs[0])
            })
            .collect();
        for p in [0, 5, 77, 200, 255] {
            let kept: f64 = (0..masks.len()).map(|i| f64::from(masks.mask(i)[p])).sum::<f64>() / masks.len() as f64;
            let sum: f64 = (0..masks.len()).map(|i| f64::from(ys[i]) * f64::from(masks.mask(i)[p])).sum();
            let expected = (sum / kept) as f32;
            assert!(
                (map.values[p] - expected).abs() <= 1e-3 * expected.abs().max(1.0),
                "pixel {p}: {} vs {expected}",
                map.values[p]
            );
        }
        // The shared red half explains the match: the left half is more salient than the right.
        let half = |left: bool| -> f32 {
            (0..side * side).filter(|p| (p % side < 8) == left).map(|p| map.values[p]).sum::<f32>()
                / (side * side / 2) as f32
        };
        assert!(half(true) > half(false) * 1.05, "left {} right {}", half(true), half(false));
    }

    #[test]
    fn the_sliding_window_reproduces_the_authors_grid_at_112_pixels() {
        let w = SlidingWindow::scaled(112);
        assert_eq!(w, SlidingWindow { window: 32, stride: 4, pad: 8 });
        assert_eq!(w.positions(112), 25);
        // Position (0, 0) hides rows and columns 0..24 (the window starts 8 px outside).
        let m = w.mask(0, 112, 112);
        assert_eq!(m.iter().filter(|v| **v == 0.0).count(), 24 * 24);
        assert_eq!(m[23 * 112 + 23], 0.0);
        assert_eq!(m[24], 1.0);
        // Position (1, 2): rows -4..28, columns 0..32.
        let m = w.mask(25 + 2, 112, 112);
        assert_eq!(m.iter().filter(|v| **v == 0.0).count(), 28 * 32);
        assert_eq!(SlidingWindow::scaled(64), SlidingWindow { window: 18, stride: 2, pad: 5 });
    }

    #[test]
    fn the_sliding_window_scores_occluding_the_shared_half_highest() {
        let side = 16;
        let net = halves_model(side);
        let q = image(|c, _, x| if (c == 0 && x < 8) || (c == 2 && x >= 8) { 1.0 } else { 0.0 }, side);
        let r = image(|c, _, x| if c == 0 && x < 8 { 1.0 } else { 0.0 }, side);
        let refs = reference_embeddings(&net, &r, &PairSettings::default()).unwrap();
        let window = SlidingWindow { window: 4, stride: 4, pad: 0 };
        let map = similarity_sliding_window(&net, &q, &refs, window, 7, &mut Control::none()).unwrap();
        assert_eq!((map.width, map.height), (side, side));
        // Corners aligned: map pixel (0, 0) is grid cell (0, 0), which hides a red patch.
        let left = map.values[0];
        let right = map.values[side - 1];
        assert!(left > right && right >= -1e-6, "{left} {right}");
        let (lo, hi) = map.min_max();
        assert!(hi <= 1.0 && lo >= -1e-6);
    }

    #[test]
    fn variable_reference_averages_over_masked_references_and_settings_are_checked() {
        let side = 16;
        let net = halves_model(side);
        let r = image(|c, y, x| ((c + y + x) % 3) as f32 * 0.5, side);
        let settings = PairSettings {
            reference: ReferenceMode::Masked { count: 5 },
            cells: 4,
            batch: 2,
            ..PairSettings::default()
        };
        let refs = reference_embeddings(&net, &r, &settings).unwrap();
        assert_eq!(refs.len(), 5);
        assert!(refs.iter().all(|e| (e.iter().map(|v| v * v).sum::<f32>() - 1.0).abs() < 1e-5));
        assert_ne!(refs[0], refs[1]);
        assert!(PairSettings { keep: 0.0, ..PairSettings::default() }.validate().is_err());
        assert!(
            PairSettings { reference: ReferenceMode::Masked { count: 0 }, ..PairSettings::default() }
                .validate()
                .is_err()
        );
        let classifier = crate::models::demo::network(&Device::flex()).unwrap();
        let err = reference_embeddings(&classifier, &r, &PairSettings::default()).unwrap_err();
        assert!(err.to_string().contains("not an embedding model"), "{err}");
    }

    #[test]
    fn batched_gradcam_equals_one_image_at_a_time() {
        let device = Device::flex();
        let net = crate::models::embedding::penultimate(crate::models::demo::network(&device).unwrap());
        let pre = &net.preprocess;
        let images: Vec<Tensor<4>> =
            (0..3).map(|i| pre.tensor(&crate::datasets::synth::generate(2, i, 80).image, &device)).collect();
        let refs: Vec<Vec<f32>> = images.iter().map(|x| embed(&net, x.clone()).remove(0)).collect();
        let partners = [refs[1].clone(), refs[2].clone(), refs[0].clone()];
        let batch = batch_gradcam(&net, Tensor::cat(images.clone(), 0), &partners).unwrap();
        for (i, x) in images.iter().enumerate() {
            let acts = activations(&net, x.clone(), &net.default_layer).unwrap();
            let g = super::super::activations::gradient(
                &net,
                &acts,
                Objective::Similarity { reference: partners[i].clone() },
            )
            .unwrap();
            let mut one =
                WeightMap::new(acts.maps.width, acts.maps.height, super::super::cam::grad_cam(&acts.maps, &g));
            one.relu();
            one.normalize();
            assert_eq!((batch[i].width, batch[i].height), (one.width, one.height));
            for (a, b) in batch[i].values.iter().zip(&one.values) {
                assert!((a - b).abs() < 1e-4, "image {i}: {a} vs {b}");
            }
            assert!(one.values.iter().any(|v| *v > 0.5), "a non-trivial map");
        }
    }
}
