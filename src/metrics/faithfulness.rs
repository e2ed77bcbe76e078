//! Deletion and insertion (Petsiuk et al., "RISE: Randomized Input Sampling for Explanation of
//! Black-box Models", BMVC 2018): pixels are changed in order of decreasing saliency, `step` at a
//! time, and the probability of the class is recorded after every step.
//!
//! * deletion: from the image towards the substrate `0` (in normalised input space);
//! * insertion: from a blurred image (11x11 Gaussian kernel, sigma 5, zero padding, as the RISE
//!   code's `gkern(11, 5)`) towards the image.
//!
//! The score is the area under the curve normalised to the unit interval,
//! `(sum(s) - s_0 / 2 - s_n / 2) / n`. Perturbed images are run through the model in batches.

use crate::models::network::host_values;
use crate::error::{LanternError, Result};
use crate::explain::softmax;
use crate::map::WeightMap;
use crate::models::Network;
use burn::tensor::module::conv2d;
use burn::tensor::ops::ConvOptions;
use burn::tensor::{Tensor, TensorData};
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicBool, Ordering};

/// Which game.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Game {
    Deletion,
    Insertion,
}

/// Probability of the class after each step, and the normalised area under it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CausalCurve {
    pub game: Game,
    pub class: usize,
    /// `scores[i]`: after `i * step` pixels changed (`scores[0]` is the start image).
    pub scores: Vec<f32>,
    pub auc: f64,
}

/// RISE's normalised trapezoid area.
pub fn auc(scores: &[f32]) -> f64 {
    if scores.len() < 2 {
        return scores.first().map_or(0.0, |&s| f64::from(s));
    }
    let sum: f64 = scores.iter().map(|&s| f64::from(s)).sum();
    let n = scores.len();
    (sum - f64::from(scores[0]) / 2.0 - f64::from(scores[n - 1]) / 2.0) / (n - 1) as f64
}

/// The 1-D factor of `gkern(klen, sigma)`: SciPy's `gaussian_filter` (truncate 4, reflect mode) of
/// a unit impulse at the centre of a `klen`-long signal.
fn gaussian_kernel_1d(klen: usize, sigma: f64) -> Vec<f64> {
    let radius = (4.0 * sigma + 0.5) as i64;
    let weights: Vec<f64> = (-radius..=radius).map(|x| (-0.5 * (x * x) as f64 / (sigma * sigma)).exp()).collect();
    let total: f64 = weights.iter().sum();
    let n = klen as i64;
    let reflect = |i: i64| {
        let period = 2 * n;
        let m = i.rem_euclid(period);
        if m < n { m } else { period - 1 - m }
    };
    let centre = n / 2;
    (0..n)
        .map(|i| {
            (-radius..=radius)
                .filter(|&o| reflect(i + o) == centre)
                .map(|o| weights[(o + radius) as usize] / total)
                .sum()
        })
        .collect()
}

/// The insertion substrate: each channel convolved with the 11x11 RISE kernel, zero padded.
pub fn blurred(x: &Tensor<4>) -> Tensor<4> {
    let k = gaussian_kernel_1d(11, 5.0);
    let mut kernel = Vec::with_capacity(3 * 121);
    for _ in 0..3 {
        for a in &k {
            for b in &k {
                kernel.push((a * b) as f32);
            }
        }
    }
    let w = Tensor::from_data(TensorData::new(kernel, [3, 1, 11, 11]), &x.device());
    conv2d(x.clone(), w, None, ConvOptions::new([1, 1], [5, 5], [1, 1], 3))
}

/// Pixel indices by decreasing map value (ties by index).
fn salient_order(map: &WeightMap) -> Vec<usize> {
    let mut order: Vec<usize> = (0..map.values.len()).collect();
    order.sort_by(|&a, &b| map.values[b].total_cmp(&map.values[a]).then(a.cmp(&b)));
    order
}

/// Run a deletion or insertion game on `x` (`[1, 3, H, W]`, normalised) for `class`, changing
/// `step` pixels per step, `batch` images per forward pass. `cancel` stops it with
/// [`LanternError::Cancelled`]; `progress(done, total)` follows the steps.
#[allow(clippy::too_many_arguments)]
pub fn causal_curve(
    net: &Network,
    x: &Tensor<4>,
    map: &WeightMap,
    class: usize,
    game: Game,
    step: usize,
    batch: usize,
    cancel: &AtomicBool,
    mut progress: impl FnMut(usize, usize),
) -> Result<CausalCurve> {
    let [_, c, h, w] = x.dims();
    if map.width != w || map.height != h {
        return Err(LanternError::Invalid(format!("map is {}x{}, the input {w}x{h}", map.width, map.height)));
    }
    let (step, batch) = (step.max(1), batch.max(1));
    let plane = h * w;
    let image = host_values(x.clone());
    let substrate = match game {
        Game::Deletion => vec![0.0; c * plane],
        Game::Insertion => host_values(blurred(x)),
    };
    let (mut current, target) = match game {
        Game::Deletion => (image, substrate),
        Game::Insertion => (substrate, image),
    };
    let order = salient_order(map);
    let steps = plane.div_ceil(step);
    let mut scores = Vec::with_capacity(steps + 1);
    let mut done = 0;
    while done <= steps {
        if cancel.load(Ordering::Relaxed) {
            return Err(LanternError::Cancelled);
        }
        let n = batch.min(steps + 1 - done);
        let mut values = Vec::with_capacity(n * c * plane);
        for i in done..done + n {
            values.extend_from_slice(&current);
            if i < steps {
                for &p in &order[i * step..((i + 1) * step).min(plane)] {
                    for ch in 0..c {
                        current[ch * plane + p] = target[ch * plane + p];
                    }
                }
            }
        }
        let logits = net.forward(Tensor::from_data(TensorData::new(values, [n, c, h, w]), &x.device()));
        let classes = logits.dims()[1];
        let logits = host_values(logits);
        for row in logits.chunks(classes) {
            scores.push(softmax(row)[class]);
        }
        done += n;
        progress(done.min(steps + 1), steps + 1);
    }
    let auc = auc(&scores);
    Ok(CausalCurve { game, class, scores, auc })
}

/// Both games with RISE's settings (one image row of pixels per step), for `class`.
pub fn deletion_and_insertion(net: &Network, x: &Tensor<4>, map: &WeightMap, class: usize, batch: usize) -> Result<(CausalCurve, CausalCurve)> {
    let never = AtomicBool::new(false);
    let step = map.width;
    let del = causal_curve(net, x, map, class, Game::Deletion, step, batch, &never, |_, _| {})?;
    let ins = causal_curve(net, x, map, class, Game::Insertion, step, batch, &never, |_, _| {})?;
    Ok((del, ins))
}

/// The two curves as CSV (`fraction,deletion,insertion`) and as a PNG plot.
pub fn write_curves(csv: &std::path::Path, png: &std::path::Path, title: &str, del: &CausalCurve, ins: &CausalCurve) -> Result<()> {
    use std::io::Write;
    let n = del.scores.len().max(ins.scores.len());
    let mut text = String::from("fraction,deletion,insertion\n");
    for i in 0..n {
        let f = i as f64 / (n.max(2) - 1) as f64;
        let cell = |c: &CausalCurve| c.scores.get(i).map_or(String::new(), |v| v.to_string());
        text.push_str(&format!("{f},{},{}\n", cell(del), cell(ins)));
    }
    crate::export::write_atomic(csv, |file| file.write_all(text.as_bytes()))?;
    let points = |c: &CausalCurve| {
        let m = (c.scores.len().max(2) - 1) as f64;
        c.scores.iter().enumerate().map(|(i, &v)| (i as f64 / m, f64::from(v))).collect()
    };
    crate::evaluation::plots::line_plot(
        png,
        &format!("{title}: deletion and insertion"),
        "fraction of pixels",
        "class probability",
        1.0,
        &[
            crate::evaluation::plots::Series { name: format!("deletion (AUC {:.3})", del.auc), points: points(del) },
            crate::evaluation::plots::Series { name: format!("insertion (AUC {:.3})", ins.auc), points: points(ins) },
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auc_is_the_normalised_trapezoid() {
        assert!((auc(&[1.0, 0.5, 0.0]) - 0.5).abs() < 1e-12);
        assert!((auc(&[1.0, 1.0]) - 1.0).abs() < 1e-12);
    }

    #[test]
    fn kernel_matches_scipy_gaussian_filter_of_a_delta() {
        // scipy.ndimage.gaussian_filter(delta_11x11, 5).sum(0), the 1-D factor of RISE's gkern(11, 5).
        let expected = [0.08795815, 0.08889612, 0.0904742, 0.09219112, 0.09348939, 0.09398206];
        let k = gaussian_kernel_1d(11, 5.0);
        for (i, e) in expected.iter().enumerate() {
            assert!((k[i] - e).abs() < 1e-8 && (k[10 - i] - e).abs() < 1e-8, "{k:?}");
        }
    }
}
