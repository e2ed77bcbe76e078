//! The perturbation members of the CAM family: channel weights come from running the model, not
//! from gradients.

use super::activations::{FeatureMaps, LayerActivations};
use super::cam::cam as weighted_channels;
use super::finish;
use super::method::{About, Entry, Family, LayerUse, Mechanism, MethodSpec, Output, Run};
use super::objective::Objective;
use super::params::TOP_K;
use crate::control::Control;
use crate::error::Result;
use crate::map::{Interpolation, resize};
use crate::models::Network;
use crate::models::network::host_values;
use burn::tensor::Tensor;
use std::collections::HashMap;

pub const SCORE_CAM: MethodSpec = MethodSpec {
    long: true,
    quick: true,
    ..MethodSpec::new(
        About {
            name: "scorecam",
            title: "Score-CAM",
            formula: "sum_k softmax_k(S(x * norm(up(A^k)))) A^k",
            paper: "Wang et al., CVPR-W 2020",
        },
        Mechanism {
            family: Family::Cam,
            layer: LayerUse::Chosen,
            gradients: false,
            entry: Entry::Input(|run| {
                channel_weighted(run, |net, x, acts, objective, batch, control| {
                    score_cam(net, x, acts, objective, batch, control)
                })
            }),
        },
    )
};

pub const ABLATION_CAM: MethodSpec = MethodSpec {
    name: "ablationcam",
    title: "Ablation-CAM",
    formula: "sum_k (S - S_without_A^k) / S * A^k",
    paper: "Desai & Ramaswamy, WACV 2020",
    quick: false,
    entry: Entry::Input(|run| {
        channel_weighted(run, |net, _, acts, objective, batch, control| {
            ablation_cam(net, acts, objective, batch, control)
        })
    }),
    ..SCORE_CAM
};

/// Score-CAM on the channels of highest activation variance only: an approximation, never the
/// default.
pub const SCORE_CAM_TOP_K: MethodSpec = MethodSpec {
    name: "scorecam-topk",
    title: "Score-CAM, top-k channels (approximate)",
    formula: "Score-CAM over the k channels of highest activation variance; the others weigh 0",
    params: &[TOP_K],
    quick: false,
    approximate: true,
    entry: Entry::Input(run_score_cam_top_k),
    ..SCORE_CAM
};

fn run_score_cam_top_k(run: &mut Run<'_, '_>) -> Result<Output> {
    let k = run.params.score_cam_top_k;
    let mut out = channel_weighted(run, move |net, x, acts, objective, batch, control| {
        score_cam_channels(net, x, acts, objective, ScoreCamOptions { batch, top_k: Some(k) }, control)
    })?;
    let channels = run.session.activations(run.layer)?.maps.channels;
    out.approximation =
        (k < channels).then(|| format!("scored the {k} of {channels} channels of highest activation variance"));
    Ok(out)
}

/// Run a channel-weighting method on the run's layer and finish its map.
fn channel_weighted(
    run: &mut Run<'_, '_>,
    weigh: impl Fn(&Network, &Tensor<4>, &LayerActivations, &Objective, usize, &mut Control) -> Result<(Vec<f32>, Vec<f32>)>,
) -> Result<Output> {
    let x = run.session.input().clone();
    let net = run.session.shared_network();
    let acts = run.session.activations(run.layer)?;
    let (raw, _) = weigh(&net, &x, acts, run.objective, run.params.batch, run.control)?;
    let map = finish(raw, acts.maps.width, acts.maps.height, acts.input_size);
    Ok(Output { map, attribution: None, forward_ms: super::ms(acts.forward_time), approximation: None })
}

fn softmax64(v: &[f32]) -> Vec<f32> {
    let max = v.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let e: Vec<f64> = v.iter().map(|&x| f64::from(x - max).exp()).collect();
    let s: f64 = e.iter().sum();
    e.into_iter().map(|x| (x / s) as f32).collect()
}

/// Score-CAM (Wang et al., "Score-CAM: Score-Weighted Visual Explanations for Convolutional
/// Neural Networks", CVPR workshops 2020), as pytorch-grad-cam computes it: each channel `A^k`
/// is upsampled to the input (bilinear, corners aligned), min-max normalised
/// (`(U - min) / (max - min + 1e-8)`) and multiplied into the input; the channel's score is the
/// objective's score of that input (a class logit for a class), the weights are the softmax of the scores over channels, and the
/// map is `sum_k w_k A^k`. Channels with the same mask (e.g. all-zero ones) are run once.
/// Returns the layer-resolution map and the weights.
pub fn score_cam(
    net: &Network,
    x: &Tensor<4>,
    acts: &LayerActivations,
    objective: impl Into<Objective>,
    batch: usize,
    control: &mut Control,
) -> Result<(Vec<f32>, Vec<f32>)> {
    score_cam_channels(net, x, acts, objective, ScoreCamOptions { batch, top_k: None }, control)
}

/// The `k` channels of highest activation variance (all of them when `k` is at least the
/// channel count), in channel order.
fn top_variance_channels(a: &FeatureMaps, k: usize) -> Vec<usize> {
    if k >= a.channels {
        return (0..a.channels).collect();
    }
    let variance = |ch: &[f32]| {
        let n = ch.len().max(1) as f64;
        let mean = ch.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
        ch.iter().map(|&v| (f64::from(v) - mean).powi(2)).sum::<f64>() / n
    };
    let v: Vec<f64> = (0..a.channels).map(|c| variance(a.channel(c))).collect();
    let mut order: Vec<usize> = (0..a.channels).collect();
    order.sort_by(|&i, &j| v[j].total_cmp(&v[i]).then(i.cmp(&j)));
    order.truncate(k);
    order.sort_unstable();
    order
}

/// How Score-CAM runs: inputs per model pass, and which channels it scores.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScoreCamOptions {
    /// Masked inputs per model pass.
    pub batch: usize,
    /// Score only the `k` channels of highest activation variance (the approximation); `None`
    /// scores every channel.
    pub top_k: Option<usize>,
}

/// [`score_cam`], or with `options.top_k` its approximation: only the `k` channels of highest
/// activation variance are scored, and the softmax runs over them (the others weigh 0).
pub fn score_cam_channels(
    net: &Network,
    x: &Tensor<4>,
    acts: &LayerActivations,
    objective: impl Into<Objective>,
    options: ScoreCamOptions,
    control: &mut Control,
) -> Result<(Vec<f32>, Vec<f32>)> {
    let ScoreCamOptions { batch, top_k } = options;
    let objective = objective.into();
    let a = &acts.maps;
    let chosen = top_variance_channels(a, top_k.unwrap_or(a.channels));
    let [_, c, h, w] = x.dims();
    let plane = h * w;
    let device = x.device();
    let image = host_values(x.clone());
    // Upsampled, normalised masks, deduplicated by content.
    let mut unique: Vec<Vec<f32>> = Vec::new();
    let mut seen: HashMap<Vec<u32>, usize> = HashMap::new();
    let mut which = Vec::with_capacity(chosen.len());
    for &k in &chosen {
        let mut m = resize(a.channel(k), a.width, a.height, w, h, Interpolation::BilinearAlignCorners);
        let lo = m.iter().copied().fold(f32::INFINITY, f32::min);
        let hi = m.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        for v in &mut m {
            *v = (*v - lo) / (hi - lo + 1e-8);
        }
        let key: Vec<u32> = m.iter().map(|v| v.to_bits()).collect();
        let id = *seen.entry(key).or_insert_with(|| {
            unique.push(m);
            unique.len() - 1
        });
        which.push(id);
    }
    let mut unique_scores = vec![0.0f32; unique.len()];
    let batch = batch.max(1);
    for start in (0..unique.len()).step_by(batch) {
        control.check()?;
        let end = (start + batch).min(unique.len());
        let mut values = Vec::with_capacity((end - start) * c * plane);
        for m in &unique[start..end] {
            for ch in 0..c {
                values.extend(image[ch * plane..(ch + 1) * plane].iter().zip(m).map(|(v, k)| v * k));
            }
        }
        let logits = net.forward_values(values, [end - start, c, h, w], &device);
        let s = host_values(objective.score(logits));
        unique_scores[start..end].copy_from_slice(&s);
        if control.wants_partials() {
            // Channels not scored yet do not count: weights over the scored ones only.
            let (scores, done) = spread(a.channels, &chosen, which.iter().map(|&u| (unique_scores[u], u < end)));
            let partial = partial_map(a, &scores, &done, acts.input_size);
            control.report(end, unique.len(), Some(&partial));
        } else {
            control.report(end, unique.len(), None);
        }
    }
    let scores: Vec<f32> = which.iter().map(|&u| unique_scores[u]).collect();
    let (chosen_weights, _) = spread(a.channels, &chosen, softmax64(&scores).into_iter().map(|w| (w, true)));
    Ok((weighted_channels(a, &chosen_weights), chosen_weights))
}

/// Per-channel values from values of the `chosen` channels: `(0, false)` for the others.
fn spread(channels: usize, chosen: &[usize], values: impl Iterator<Item = (f32, bool)>) -> (Vec<f32>, Vec<bool>) {
    let (mut out, mut flag) = (vec![0.0f32; channels], vec![false; channels]);
    for (&k, (v, f)) in chosen.iter().zip(values) {
        out[k] = v;
        flag[k] = f;
    }
    (out, flag)
}

fn partial_map(a: &FeatureMaps, scores: &[f32], done: &[bool], size: (usize, usize)) -> crate::map::WeightMap {
    let kept: Vec<f32> = scores.iter().zip(done).filter(|(_, d)| **d).map(|(s, _)| *s).collect();
    let soft = softmax64(&kept);
    let mut it = soft.into_iter();
    let weights: Vec<f32> = done.iter().map(|&d| if d { it.next().unwrap_or(0.0) } else { 0.0 }).collect();
    finish(weighted_channels(a, &weights), a.width, a.height, size)
}

/// Ablation-CAM (Desai & Ramaswamy, "Ablation-CAM: Visual Explanations for Deep Convolutional
/// Network via Gradient-free Localization", WACV 2020), as pytorch-grad-cam computes it: channel
/// `k` is replaced by 0 (or by `min(A) - 1e7` when the activations are not non-negative), the
/// layer's output runs through the rest of the network, and `w_k = (S - S_k) / S`, `S` the objective's score; the map is
/// `sum_k w_k A^k`. Only the part of the network after the layer runs. Returns the
/// layer-resolution map and the weights.
pub fn ablation_cam(
    net: &Network,
    acts: &LayerActivations,
    objective: impl Into<Objective>,
    batch: usize,
    control: &mut Control,
) -> Result<(Vec<f32>, Vec<f32>)> {
    let objective = objective.into();
    let a = &acts.maps;
    let (c, plane) = (a.channels, a.plane());
    let device = acts.tensor.device();
    let reference = objective.score_row(&acts.logits);
    let min = a.values.iter().copied().fold(f32::INFINITY, f32::min);
    let ablated = if min == 0.0 { 0.0 } else { min - 1e7 };
    let batch = batch.max(1);
    let mut weights = vec![0.0f32; c];
    for start in (0..c).step_by(batch) {
        control.check()?;
        let end = (start + batch).min(c);
        let mut values = Vec::with_capacity((end - start) * a.values.len());
        for k in start..end {
            let mut v = a.values.clone();
            v[k * plane..(k + 1) * plane].fill(ablated);
            values.extend(v);
        }
        let dims = [end - start, c, a.height, a.width];
        let logits = net.forward_values_from(values, dims, &acts.resume, acts.layer.cut, &device);
        let s = host_values(objective.score(logits));
        for (k, sk) in (start..end).zip(s) {
            weights[k] = (reference - sk) / reference;
        }
        if control.wants_partials() {
            let partial = finish(weighted_channels(a, &weights), a.width, a.height, acts.input_size);
            control.report(end, c, Some(&partial));
        } else {
            control.report(end, c, None);
        }
    }
    Ok((weighted_channels(a, &weights), weights))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_k_keeps_the_most_varied_channels_in_order() {
        // Four 1x2 channels with variances 0, 1, 0.25, 4.
        let a = FeatureMaps { channels: 4, height: 1, width: 2, values: vec![3.0, 3.0, 0.0, 2.0, 1.0, 2.0, 0.0, 4.0] };
        assert_eq!(top_variance_channels(&a, 2), vec![1, 3]);
        assert_eq!(top_variance_channels(&a, 3), vec![1, 2, 3]);
        assert_eq!(top_variance_channels(&a, 4), vec![0, 1, 2, 3]);
        assert_eq!(top_variance_channels(&a, 99), vec![0, 1, 2, 3]);
    }

    #[test]
    fn spread_puts_chosen_values_in_place() {
        let (v, f) = spread(4, &[1, 3], [(0.5, true), (0.25, false)].into_iter());
        assert_eq!(v, vec![0.0, 0.5, 0.0, 0.25]);
        assert_eq!(f, vec![false, true, false, false]);
    }
}
