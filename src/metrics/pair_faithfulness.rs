//! Deletion and insertion for similarity maps, as Plummer et al. ("Why do These Match?
//! Explaining the Behavior of Image Similarity Models", ECCV 2020) measure them in their code
//! (`lib/datasets/saliency/data_loader.py` of VisionLearningGroup/SANE):
//!
//! For thresholds `t = 0, 0.01, ..., 1` ([`STEPS`] = 101) the `n_t = max(round(t P), 1)` pixels
//! of highest saliency (of `P`) are
//! * insertion: kept from the query, every other pixel set to a flat background;
//! * deletion: set to the flat background, every other pixel kept;
//!
//! the background being a white image ([`WHITE`], normalised as the model's input). The score
//! at each step is `cos(f(q_t), f(r))`, the cosine similarity of the altered query's embedding to
//! the unaltered reference's. Each pair's curve is min-max normalised,
//! `(s_t - min s) / (max s - min s)` ([`normalised`]; a flat curve, which the authors' code turns
//! into NaNs, is all zeros here), and the score of a method is the area under the normalised
//! curve over `t in [0, 1]` (trapezoids), times 100 ([`auc_percent`]). The authors average
//! the normalised curves over pairs before taking the area; the area is linear, so that is the
//! mean of the per-pair areas.

use super::faithfulness::{auc, salient_order};
use crate::control::Control;
use crate::error::{LanternError, Result};
use crate::map::WeightMap;
use crate::models::Network;
use crate::models::embedding::{cosine, embed};
use crate::models::network::host_values;
use burn::tensor::{Tensor, TensorData};
use serde::{Deserialize, Serialize};

/// Thresholds per curve: `t = 0, 0.01, ..., 1`.
pub const STEPS: usize = 101;

/// The authors' flat background colour.
pub const WHITE: [u8; 3] = [255, 255, 255];

/// One pair's raw deletion and insertion curves (cosines, [`STEPS`] values each).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PairCurves {
    pub deletion: Vec<f32>,
    pub insertion: Vec<f32>,
}

impl PairCurves {
    /// `(deletion, insertion)` areas of the normalised curves, times 100.
    pub fn aucs(&self) -> (f64, f64) {
        (auc_percent(&self.deletion), auc_percent(&self.insertion))
    }
}

/// `n_t = max(round(t P), 1)` pixels changed at each threshold, for `pixels = P`.
pub fn pixel_counts(pixels: usize) -> Vec<usize> {
    (0..STEPS).map(|i| ((pixels as f64 * i as f64 / (STEPS - 1) as f64).round() as usize).max(1).min(pixels)).collect()
}

/// `(s - min s) / (max s - min s)`; all zeros for a flat curve.
pub fn normalised(scores: &[f32]) -> Vec<f32> {
    let (lo, hi) = scores.iter().fold((f32::INFINITY, f32::NEG_INFINITY), |(l, u), &v| (l.min(v), u.max(v)));
    if hi > lo { scores.iter().map(|v| (v - lo) / (hi - lo)).collect() } else { vec![0.0; scores.len()] }
}

/// `100 x` the trapezoid area under the normalised curve, its points evenly spaced over `[0, 1]`.
pub fn auc_percent(scores: &[f32]) -> f64 {
    100.0 * auc(&normalised(scores))
}

/// A flat image of `colour` in `net`'s normalised input space: `c` channel planes of `plane`
/// values, `(colour / 255 - mean) / std`.
pub fn flat_background(net: &Network, colour: [u8; 3], channels: usize, plane: usize) -> Vec<f32> {
    let p = &net.preprocess;
    (0..channels)
        .flat_map(|c| {
            std::iter::repeat_n((f32::from(colour[c.min(2)]) / 255.0 - p.mean[c.min(2)]) / p.std[c.min(2)], plane)
        })
        .collect()
}

/// Deletion and insertion curves of `map` over the preprocessed query `q` (`[1, 3, H, W]`, the
/// map at the same `W x H`) against the reference embedding `reference`, `batch` images per
/// forward pass, with `control`'s cancel flag and progress over the `2 x 101` images.
pub fn pair_curves(
    net: &Network,
    q: &Tensor<4>,
    map: &WeightMap,
    reference: &[f32],
    background: [u8; 3],
    batch: usize,
    control: &mut Control,
) -> Result<PairCurves> {
    let [_, c, h, w] = q.dims();
    if map.width != w || map.height != h {
        return Err(LanternError::Mismatch(format!("map is {}x{}, the input {w}x{h}", map.width, map.height)));
    }
    let plane = h * w;
    let image = host_values(q.clone());
    let flat = flat_background(net, background, c, plane);
    let order = salient_order(map);
    let counts = pixel_counts(plane);
    // Image `i < STEPS` is insertion at threshold `i`, image `STEPS + i` deletion at threshold `i`.
    let altered = |i: usize| -> Vec<f32> {
        let (insert, n) = if i < STEPS { (true, counts[i]) } else { (false, counts[i - STEPS]) };
        let mut top = vec![false; plane];
        for &p in &order[..n] {
            top[p] = true;
        }
        let mut v = Vec::with_capacity(c * plane);
        for ch in 0..c {
            let base = ch * plane;
            v.extend((0..plane).map(|p| if top[p] == insert { image[base + p] } else { flat[base + p] }));
        }
        v
    };
    let total = 2 * STEPS;
    let batch = batch.max(1);
    let mut scores = Vec::with_capacity(total);
    for start in (0..total).step_by(batch) {
        control.check()?;
        let end = (start + batch).min(total);
        let values: Vec<f32> = (start..end).flat_map(altered).collect();
        let e = embed(net, Tensor::from_data(TensorData::new(values, [end - start, c, h, w]), &q.device()));
        scores.extend(e.iter().map(|e| cosine(e, reference)));
        control.report(end, total, None);
    }
    let deletion = scores.split_off(STEPS);
    Ok(PairCurves { deletion, insertion: scores })
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Device;

    #[test]
    fn the_area_of_a_hand_made_curve() {
        // Normalised to [0, 1, 0.5] over t = 0, 0.5, 1: trapezoids 0.25 + 0.375.
        assert!((auc_percent(&[0.5, 0.9, 0.7]) - 62.5).abs() < 1e-9);
        // A straight fall over 101 steps covers half the square, whatever its scale.
        let fall: Vec<f32> = (0..STEPS).map(|i| 0.8 - 0.6 * i as f32 / 100.0).collect();
        assert!((auc_percent(&fall) - 50.0).abs() < 1e-4);
        // A flat curve scores 0.
        assert_eq!(auc_percent(&[0.3; STEPS]), 0.0);
        assert_eq!(normalised(&[2.0, 4.0, 3.0]), vec![0.0, 1.0, 0.5]);
    }

    #[test]
    fn thresholds_change_at_least_one_pixel_and_end_with_all() {
        let n = pixel_counts(64 * 64);
        assert_eq!(n.len(), 101);
        assert_eq!((n[0], n[1], n[50], n[100]), (1, 41, 2048, 4096));
        assert!(n.windows(2).all(|w| w[0] <= w[1]));
    }

    #[test]
    fn curves_start_and_end_where_the_protocol_says() {
        let device = Device::flex();
        let net = crate::models::embedding::penultimate(crate::models::demo::network(&device).unwrap());
        let q = net.preprocess.tensor(&crate::datasets::synth::generate(4, 0, 64).image, &device);
        let r = net.preprocess.tensor(&crate::datasets::synth::generate(4, 1, 64).image, &device);
        let reference = embed(&net, r).remove(0);
        let [_, _, h, w] = q.dims();
        let map = WeightMap::new(w, h, (0..w * h).map(|i| ((i * 7919) % 1000) as f32).collect());
        let curves = pair_curves(&net, &q, &map, &reference, WHITE, 37, &mut Control::none()).unwrap();
        assert_eq!((curves.deletion.len(), curves.insertion.len()), (STEPS, STEPS));
        // Every pixel inserted is the query; every pixel deleted is the white image.
        let whole = cosine(&embed(&net, q.clone()).remove(0), &reference);
        let flat =
            Tensor::<4>::from_data(TensorData::new(flat_background(&net, WHITE, 3, h * w), [1, 3, h, w]), &device);
        let blank = cosine(&embed(&net, flat).remove(0), &reference);
        assert!((curves.insertion[STEPS - 1] - whole).abs() < 1e-4, "{} vs {whole}", curves.insertion[STEPS - 1]);
        assert!((curves.deletion[STEPS - 1] - blank).abs() < 1e-4, "{} vs {blank}", curves.deletion[STEPS - 1]);
        let (d, i) = curves.aucs();
        assert!((0.0..=100.0).contains(&d) && (0.0..=100.0).contains(&i));
        let wrong = WeightMap::new(w + 1, h, vec![0.0; (w + 1) * h]);
        assert!(pair_curves(&net, &q, &wrong, &reference, WHITE, 8, &mut Control::none()).is_err());
    }
}
