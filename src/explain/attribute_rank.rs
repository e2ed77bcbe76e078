//! Which attribute explains a match: Plummer et al. ("Why do These Match?", ECCV 2020) pair a
//! similarity saliency map with the attribute whose activation map agrees with it. Their public
//! code leaves the ranking unfinished (`tools/sane_eval.py` stops at an `assert False`); Lantern's
//! rule, exactly:
//!
//! For the query `q` with attribute maps `A_a` (an attribute model, [`AttributeMaps`]) and its
//! similarity saliency `S` (a map over `q` explaining its match with the reference):
//!
//! 1. `s` = `S` averaged over the cells of the attribute maps' grid (each input pixel counts
//!    for the cell it falls in), then min-max normalised to `[0, 1]`;
//! 2. `d_a = || softmax(A_a) - softmax(s / tau) ||_2`, softmaxes over the grid's positions and
//!    `tau` = [`SALIENCY_TEMPERATURE`] (the distance the attribute model is trained to shrink,
//!    [`attribute_distances`]);
//! 3. agreement `g_a = (max_b d_b - d_a) / (max_b d_b - min_b d_b)` over all values `b` (the
//!    distance negated and scaled to `[0, 1]`; 1 for every value when all distances are equal);
//! 4. confidence `c_a = sigmoid(mean A_a)`, the attribute model's probability for `q`;
//! 5. `score_a = w c_a + (1 - w) g_a`; values ranked by score, highest first (ties: lower index).
//!
//! `w = 1` is the confidence-only baseline (the attribute the model is surest of, whatever the
//! saliency); `w = 0` ranks by agreement alone.

use crate::map::WeightMap;
use crate::models::Labels;
use crate::models::attributes::AttributeMaps;
use crate::models::network::host_values;
use burn::tensor::activation::softmax;
use burn::tensor::{Device, Tensor, TensorData};
use serde::{Deserialize, Serialize};

/// `tau`: the saliency target is `softmax(s / tau)` for `s` in `[0, 1]`, so its most salient
/// position is at most `e^10` times as likely as its least. (The authors softmax raw RISE sums in
/// the hundreds, which makes their target nearly one-hot.)
pub const SALIENCY_TEMPERATURE: f32 = 0.1;

/// The default weight `w` of confidence against agreement.
pub const DEFAULT_WEIGHT: f32 = 0.5;

/// `d_a = ||softmax(A_a) - softmax(s / tau)||_2` for every image and value: maps `[n, A, h, w]`
/// (raw), saliency `[n, h * w]` in `[0, 1]`; `[n, A]`, differentiable.
pub fn attribute_distances(maps: Tensor<4>, saliency: Tensor<2>) -> Tensor<2> {
    let [n, a, h, w] = maps.dims();
    let p = softmax(maps.reshape([n, a, h * w]), 2);
    let q = softmax(saliency / SALIENCY_TEMPERATURE, 1).reshape([n, 1, h * w]).expand([n, a, h * w]);
    ((p - q).powi_scalar(2).sum_dim(2) + 1e-12).sqrt().reshape([n, a])
}

/// `map` averaged over a `width x height` grid of cells, then min-max normalised.
pub fn pooled_saliency(map: &WeightMap, width: usize, height: usize) -> Vec<f32> {
    let mut sum = vec![0.0f64; width * height];
    let mut count = vec![0usize; width * height];
    for y in 0..map.height {
        let cy = y * height / map.height.max(1);
        for x in 0..map.width {
            let cx = x * width / map.width.max(1);
            sum[cy * width + cx] += f64::from(map.values[y * map.width + x]);
            count[cy * width + cx] += 1;
        }
    }
    let mut pooled = WeightMap::new(
        width,
        height,
        sum.iter().zip(&count).map(|(s, &c)| if c > 0 { (s / c as f64) as f32 } else { 0.0 }).collect(),
    );
    pooled.normalize();
    pooled.values
}

/// One attribute value's place in the ranking.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RankedAttribute {
    /// Index of the value in the attribute model's outputs.
    pub index: usize,
    /// The attribute (`colour`) and its value (`red`), from the label `colour=red`; a label
    /// without `=` is the name, with an empty value.
    pub name: String,
    pub value: String,
    /// `c_a`, `d_a`, `g_a` and `score_a` of the rule above.
    pub confidence: f32,
    pub distance: f32,
    pub agreement: f32,
    pub score: f32,
}

/// Split a label `name=value`.
pub fn split_label(label: &str) -> (String, String) {
    match label.split_once('=') {
        Some((n, v)) => (n.trim().to_string(), v.trim().to_string()),
        None => (label.to_string(), String::new()),
    }
}

/// Every attribute value ranked for the query with maps `attributes` and saliency `saliency`,
/// by the rule of the module documentation with weight `weight`.
pub fn rank_attributes(
    attributes: &AttributeMaps,
    saliency: &WeightMap,
    labels: &Labels,
    weight: f32,
) -> Vec<RankedAttribute> {
    let (w, h, k) = (attributes.width, attributes.height, attributes.maps.len());
    let device = Device::flex();
    let s = pooled_saliency(saliency, w, h);
    let maps = Tensor::<4>::from_data(TensorData::new(attributes.maps.concat(), [1, k, h, w]), &device);
    let d = host_values(attribute_distances(maps, Tensor::from_data(TensorData::new(s, [1, w * h]), &device)));
    let (lo, hi) = d.iter().fold((f32::INFINITY, f32::NEG_INFINITY), |(l, u), &v| (l.min(v), u.max(v)));
    let weight = weight.clamp(0.0, 1.0);
    let mut ranked: Vec<RankedAttribute> = (0..k)
        .map(|a| {
            let agreement = if hi > lo { (hi - d[a]) / (hi - lo) } else { 1.0 };
            let confidence = attributes.probabilities[a];
            let (name, value) = split_label(&labels.name(a));
            RankedAttribute {
                index: a,
                name,
                value,
                confidence,
                distance: d[a],
                agreement,
                score: weight * confidence + (1.0 - weight) * agreement,
            }
        })
        .collect();
    ranked.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.index.cmp(&b.index)));
    ranked
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two 2x2 maps: value 0 fires top-left, value 1 bottom-right; value 1 is more confident.
    fn maps() -> AttributeMaps {
        AttributeMaps {
            width: 2,
            height: 2,
            maps: vec![vec![4.0, 0.0, 0.0, 0.0], vec![0.0, 0.0, 0.0, 4.0]],
            probabilities: vec![0.6, 0.9],
        }
    }

    fn top_left_saliency() -> WeightMap {
        // 4x4 input: the top-left 2x2 block is salient.
        let mut v = vec![0.0; 16];
        for p in [0, 1, 4, 5] {
            v[p] = 1.0;
        }
        WeightMap::new(4, 4, v)
    }

    #[test]
    fn saliency_agreement_can_outrank_confidence_and_w_1_is_confidence_only() {
        let labels = Labels::from_names(vec!["colour=red".into(), "texture=dots".into()]);
        let by_conf = rank_attributes(&maps(), &top_left_saliency(), &labels, 1.0);
        assert_eq!(by_conf[0].index, 1);
        assert_eq!((by_conf[0].name.as_str(), by_conf[0].value.as_str()), ("texture", "dots"));
        let paper = rank_attributes(&maps(), &top_left_saliency(), &labels, 0.5);
        assert_eq!(paper[0].index, 0, "{paper:?}");
        assert_eq!((paper[0].agreement, paper[1].agreement), (1.0, 0.0));
        assert!((paper[0].score - (0.5 * 0.6 + 0.5)).abs() < 1e-6);
        assert!(paper[0].distance < paper[1].distance);
    }

    #[test]
    fn distances_follow_their_definition() {
        let s = pooled_saliency(&top_left_saliency(), 2, 2);
        assert!((s[0] - 1.0).abs() < 1e-6 && s[1..] == [0.0, 0.0, 0.0], "{s:?}");
        let q = crate::models::scores::softmax(&s.iter().map(|v| v / SALIENCY_TEMPERATURE).collect::<Vec<_>>());
        let p = crate::models::scores::softmax(&maps().maps[1]);
        let expected = p.iter().zip(&q).map(|(a, b)| (a - b) * (a - b)).sum::<f32>().sqrt();
        let m = maps();
        let t = Tensor::<4>::from_data(TensorData::new(m.maps.concat(), [1, 2, 2, 2]), &Device::flex());
        let d = host_values(attribute_distances(t, Tensor::from_data(TensorData::new(s, [1, 4]), &Device::flex())));
        assert!((d[1] - expected).abs() < 1e-5, "{} vs {expected}", d[1]);
        assert_eq!(split_label("size"), ("size".to_string(), String::new()));
    }

    #[test]
    fn equal_distances_give_full_agreement() {
        let m = AttributeMaps { width: 1, height: 1, maps: vec![vec![1.0], vec![2.0]], probabilities: vec![0.2, 0.3] };
        let r = rank_attributes(&m, &WeightMap::new(2, 2, vec![0.5; 4]), &Labels::default(), 0.5);
        assert!(r.iter().all(|a| a.agreement == 1.0));
        assert_eq!(r[0].index, 1);
    }
}
