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

use crate::control::Control;
use crate::error::{LanternError, Result};
use crate::explain::Objective;
use crate::imaging::blurred;
use crate::map::WeightMap;
use crate::models::Network;
use crate::models::network::host_values;
use burn::tensor::Tensor;
use serde::{Deserialize, Serialize};

/// Which game.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Game {
    Deletion,
    Insertion,
}

/// The objective's bounded score (a class's probability) after each step, and the normalised
/// area under it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CausalCurve {
    pub game: Game,
    pub objective: Objective,
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

/// Pixel indices by decreasing map value (ties by index).
pub fn salient_order(map: &WeightMap) -> Vec<usize> {
    let mut order: Vec<usize> = (0..map.values.len()).collect();
    order.sort_by(|&a, &b| map.values[b].total_cmp(&map.values[a]).then(a.cmp(&b)));
    order
}

/// How one game is played.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GameOptions {
    pub game: Game,
    /// Pixels changed per step.
    pub step: usize,
    /// Images per forward pass.
    pub batch: usize,
}

/// Run a deletion or insertion game on `x` (`[1, 3, H, W]`, normalised) for `objective` (scored
/// on its bounded scale: a class's probability), changing `options.step` pixels per step,
/// `options.batch` images per forward pass, with `control`'s cancel flag and progress over the
/// steps.
pub fn causal_curve(
    net: &Network,
    x: &Tensor<4>,
    map: &WeightMap,
    objective: &Objective,
    options: GameOptions,
    control: &mut Control,
) -> Result<CausalCurve> {
    let GameOptions { game, step, batch } = options;
    objective.check(net)?;
    let [_, c, h, w] = x.dims();
    if map.width != w || map.height != h {
        return Err(LanternError::Mismatch(format!("map is {}x{}, the input {w}x{h}", map.width, map.height)));
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
        control.check()?;
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
        let logits = net.forward_values(values, [n, c, h, w], &x.device());
        let classes = logits.dims()[1];
        let logits = host_values(logits);
        for row in logits.chunks(classes) {
            scores.push(objective.bounded_row(row, net.output));
        }
        done += n;
        control.report(done.min(steps + 1), steps + 1, None);
    }
    let auc = auc(&scores);
    Ok(CausalCurve { game, objective: objective.clone(), scores, auc })
}

/// Both games with RISE's settings (one image row of pixels per step), for `objective`.
pub fn deletion_and_insertion(
    net: &Network,
    x: &Tensor<4>,
    map: &WeightMap,
    objective: &Objective,
    batch: usize,
    control: &mut Control,
) -> Result<(CausalCurve, CausalCurve)> {
    let step = map.width;
    let del = causal_curve(net, x, map, objective, GameOptions { game: Game::Deletion, step, batch }, control)?;
    let ins = causal_curve(net, x, map, objective, GameOptions { game: Game::Insertion, step, batch }, control)?;
    Ok((del, ins))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auc_is_the_normalised_trapezoid() {
        assert!((auc(&[1.0, 0.5, 0.0]) - 0.5).abs() < 1e-12);
        assert!((auc(&[1.0, 1.0]) - 1.0).abs() < 1e-12);
    }
}
