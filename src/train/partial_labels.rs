//! Losses for partially annotated multi-label training, as youngwk/BridgeGapExplanationPAMC
//! (Kim et al., CVPR 2023, `losses.py`) computes them after Kim et al., "Large Loss Matters in
//! Weakly Supervised Multi-Label Classification", CVPR 2022.
//!
//! Observed labels are 1 (positive) or 0 (unobserved). Every scheme starts from binary
//! cross-entropy with unobserved labels taken as negatives (**AN**), `l_ic = BCE(y_ic, o_ic)`.
//! From the second epoch on, the large-loss schemes pick, among the unobserved entries of the
//! batch, those whose loss is at least the `k`-th largest (ties enter together) and
//!
//! - **LL-R** (rejection) sets their loss to 0;
//! - **LL-Ct** (temporary correction) replaces it by `BCE(y_ic, 1)` for this step;
//! - **LL-Cp** (permanent correction) does the same and sets the observed label to 1 for good.
//!
//! `k = ceil(B C (1 - clean_rate))` for LL-R and LL-Ct, where `clean_rate` starts at 1 and drops
//! by `delta_rel` after every epoch; `k = ceil(B C delta_rel)` for LL-Cp. `delta_rel` is 0.5 %,
//! 0.2 % and 0.1 % for R, Ct and Cp. The batch loss is the mean over all `B C` entries.
//!
//! One detail differs from the authors' code, where an observed positive could be picked when
//! `k` exceeds the unobserved entries with a positive loss (their masked losses are 0 and the
//! threshold would be 0): only unobserved entries are ever picked here. With `k` a few percent of
//! the batch the two never differ.

use crate::error::{LanternError, Result};
use burn::tensor::Tensor;
use burn::tensor::TensorData;
use burn::tensor::activation::softplus;
use serde::{Deserialize, Serialize};

crate::names::named_enum! {
    /// How unobserved labels are treated.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
    #[serde(rename_all = "kebab-case")]
    pub enum Scheme ("scheme") {
        /// Assume negative: plain BCE.
        An = "an",
        /// Large loss rejection.
        LlR = "ll-r" | "llr",
        /// Large loss temporary correction.
        LlCt = "ll-ct" | "llct",
        /// Large loss permanent correction.
        LlCp = "ll-cp" | "llcp",
    }
}

impl Scheme {
    /// The name the papers use: AN, LL-R, LL-Ct, LL-Cp.
    pub fn title(self) -> &'static str {
        match self {
            Scheme::An => "AN",
            Scheme::LlR => "LL-R",
            Scheme::LlCt => "LL-Ct",
            Scheme::LlCp => "LL-Cp",
        }
    }

    /// The authors' `delta_rel` (`config.py`: 0.5, 0.2, 0.1 percent); 0 for AN.
    pub fn delta_rel(self) -> f64 {
        match self {
            Scheme::An => 0.0,
            Scheme::LlR => 0.5 / 100.0,
            Scheme::LlCt => 0.2 / 100.0,
            Scheme::LlCp => 0.1 / 100.0,
        }
    }

    /// `clean_rate` during epoch `epoch` (from 0): 1, then `delta_rel` less after every epoch,
    /// subtracted one epoch at a time in `f64` as the authors' loop does.
    pub fn clean_rate(self, epoch: usize) -> f64 {
        (0..epoch).fold(1.0, |rate, _| rate - self.delta_rel())
    }

    /// How many unobserved entries of a `batch x classes` batch are modified in epoch `epoch`
    /// (from 0): none for AN and in the first epoch; the count is at most `batch * classes`.
    pub fn k(self, batch: usize, classes: usize, epoch: usize) -> usize {
        let rate = self.clean_rate(epoch);
        if self == Scheme::An || rate == 1.0 {
            return 0;
        }
        let entries = (batch * classes) as f64;
        let k = match self {
            Scheme::LlCp => (entries * self.delta_rel()).ceil(),
            _ => (entries * (1.0 - rate)).ceil(),
        };
        (k.max(0.0) as usize).min(batch * classes)
    }
}

/// The entries to modify: among the unobserved ones (`observed == 0`), those whose loss is at
/// least the `k`-th largest unobserved loss. `losses` and `observed` are row-major `[B, C]`.
pub fn large_losses(losses: &[f32], observed: &[f32], k: usize) -> Vec<bool> {
    let mut unobserved: Vec<f32> = losses.iter().zip(observed).filter(|(_, o)| **o == 0.0).map(|(l, _)| *l).collect();
    if k == 0 || unobserved.is_empty() {
        return vec![false; losses.len()];
    }
    let k = k.min(unobserved.len());
    unobserved.sort_by(|a, b| b.total_cmp(a));
    let threshold = unobserved[k - 1];
    losses.iter().zip(observed).map(|(&l, &o)| o == 0.0 && l >= threshold).collect()
}

/// `BCE(y, t) = softplus(y) - t y` elementwise (`binary_cross_entropy_with_logits` without
/// reduction), for logits `y` and targets `t` in `[0, 1]`.
pub fn bce_with_logits(logits: Tensor<2>, targets: Tensor<2>) -> Tensor<2> {
    softplus(logits.clone(), 1.0) - targets * logits
}

/// A batch's loss under `scheme` in epoch `epoch`.
pub struct BatchLoss {
    /// The mean over all entries, on the logits' device.
    pub value: Tensor<1>,
    /// The modified entries, row-major `[B, C]` (for LL-Cp, the labels to set to 1).
    pub modified: Vec<bool>,
}

/// The loss of `logits` (`[B, C]`) against the observed labels (row-major, 1 or 0).
pub fn batch_loss(logits: Tensor<2>, observed: &[f32], scheme: Scheme, epoch: usize) -> Result<BatchLoss> {
    let [b, c] = logits.dims();
    if observed.len() != b * c || observed.iter().any(|&o| o != 0.0 && o != 1.0) {
        return Err(LanternError::BadArgument(format!("observed labels must be {b} x {c} zeros and ones")));
    }
    let device = logits.device();
    let targets = Tensor::<2>::from_data(TensorData::new(observed.to_vec(), [b, c]), &device);
    let losses = bce_with_logits(logits.clone(), targets.clone());
    let k = scheme.k(b, c, epoch);
    if k == 0 {
        return Ok(BatchLoss { value: losses.mean(), modified: vec![false; b * c] });
    }
    let host = crate::models::network::host_values(losses.clone().detach());
    let modified = large_losses(&host, observed, k);
    let mask = Tensor::<2>::from_data(
        TensorData::new(modified.iter().map(|&m| f32::from(u8::from(m))).collect::<Vec<f32>>(), [b, c]),
        &device,
    );
    let kept = losses * (mask.clone().neg() + 1.0);
    let value = match scheme {
        Scheme::LlR => kept,
        _ => kept + bce_with_logits(logits, targets.neg() + 1.0) * mask,
    };
    Ok(BatchLoss { value: value.mean(), modified })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::network::host_values;
    use burn::tensor::Device;

    fn softplus64(x: f64) -> f64 {
        x.max(0.0) + (-x.abs()).exp().ln_1p()
    }

    #[test]
    fn k_follows_the_clean_rate_schedule_of_each_scheme() {
        // 16 images x 20 classes = 320 entries (the authors' batch on Pascal VOC).
        assert_eq!(Scheme::LlR.k(16, 20, 0), 0, "the first epoch is plain AN");
        assert_eq!(Scheme::LlR.k(16, 20, 1), 2, "ceil(320 * 0.005) = ceil(1.6)");
        assert_eq!(Scheme::LlR.k(16, 20, 4), 7, "ceil(320 * 0.02) = ceil(6.4)");
        assert_eq!(Scheme::LlCt.k(16, 20, 3), 2, "ceil(320 * 0.006) = ceil(1.92)");
        assert_eq!(Scheme::LlCp.k(16, 20, 1), 1, "ceil(320 * 0.001)");
        assert_eq!(Scheme::LlCp.k(16, 20, 9), 1, "constant for LL-Cp");
        assert_eq!(Scheme::An.k(16, 20, 9), 0);
        assert_eq!(Scheme::LlR.k(2, 3, 500), 6, "never more than the batch");
        assert!((Scheme::LlR.clean_rate(2) - 0.99).abs() < 1e-15);
        // The schedule is subtracted epoch by epoch, as the authors' `P['clean_rate'] -= delta`.
        assert_eq!(Scheme::LlCt.clean_rate(3), 1.0 - 0.002 - 0.002 - 0.002);
    }

    #[test]
    fn large_losses_pick_unobserved_entries_at_or_above_the_kth_with_ties() {
        let losses = [0.9, 2.0, 0.3, 1.5, 1.5, 0.1];
        let observed = [0.0, 1.0, 0.0, 0.0, 0.0, 0.0];
        // Unobserved losses, descending: 1.5, 1.5, 0.9, 0.3, 0.1. The observed 2.0 never counts.
        assert_eq!(
            large_losses(&losses, &observed, 1),
            [false, false, false, true, true, false],
            "a tie enters together"
        );
        assert_eq!(large_losses(&losses, &observed, 3), [true, false, false, true, true, false]);
        assert_eq!(large_losses(&losses, &observed, 0), [false; 6]);
        assert_eq!(large_losses(&losses, &observed, 99), [true, false, true, true, true, true]);
    }

    /// A hand-made batch of 2 images x 3 labels: the loss of each scheme against numbers
    /// computed here in `f64`.
    #[test]
    fn each_scheme_computes_its_loss_on_a_hand_made_batch() {
        let device = Device::flex();
        let y = [2.0f32, -1.0, 3.0, 0.5, 1.0, -2.0];
        let observed = [1.0f32, 0.0, 0.0, 0.0, 1.0, 0.0];
        let logits = || Tensor::<2>::from_data(TensorData::new(y.to_vec(), [2, 3]), &device);
        let bce = |x: f32, t: f32| softplus64(f64::from(x)) - f64::from(t) * f64::from(x);
        let an: Vec<f64> = y.iter().zip(&observed).map(|(&x, &t)| bce(x, t)).collect();
        let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
        let value = |l: BatchLoss| f64::from(host_values(l.value)[0]);

        // Epoch 0: every scheme is AN.
        for scheme in [Scheme::An, Scheme::LlR, Scheme::LlCt, Scheme::LlCp] {
            let l = batch_loss(logits(), &observed, scheme, 0).unwrap();
            assert!(l.modified.iter().all(|m| !m));
            assert!((value(l) - mean(&an)).abs() < 1e-6, "{scheme}");
        }
        // Epoch 1: LL-R has k = ceil(6 * 0.005) = 1. The largest unobserved loss is entry 2
        // (logit 3 taken as negative: softplus(3) = 3.049).
        let r = batch_loss(logits(), &observed, Scheme::LlR, 1).unwrap();
        assert_eq!(r.modified, [false, false, true, false, false, false]);
        let mut rejected = an.clone();
        rejected[2] = 0.0;
        assert!((value(r) - mean(&rejected)).abs() < 1e-6);
        // LL-Ct: the same entry, with BCE against 1 instead.
        let ct = batch_loss(logits(), &observed, Scheme::LlCt, 1).unwrap();
        assert_eq!(ct.modified, [false, false, true, false, false, false]);
        let mut corrected = an.clone();
        corrected[2] = bce(3.0, 1.0);
        assert!((value(ct) - mean(&corrected)).abs() < 1e-6);
        // LL-Cp: k = ceil(6 * 0.001) = 1 as well, same loss; its labels change in the trainer.
        let cp = batch_loss(logits(), &observed, Scheme::LlCp, 5).unwrap();
        assert_eq!(cp.modified, [false, false, true, false, false, false]);
        assert!((value(cp) - mean(&corrected)).abs() < 1e-6);
        // Later epochs modify more entries for LL-R: epoch 40 gives k = ceil(6 * 0.2) = 2.
        let r40 = batch_loss(logits(), &observed, Scheme::LlR, 40).unwrap();
        assert_eq!(r40.modified, [false, false, true, true, false, false], "then entry 3 (logit 0.5)");
        assert!(batch_loss(logits(), &[0.5; 6], Scheme::An, 0).is_err());
    }

    #[test]
    fn the_corrected_loss_pulls_the_logit_up_and_rejection_leaves_it_alone() {
        let device = Device::flex().autodiff();
        let observed = [1.0f32, 0.0];
        let grad = |scheme| {
            let leaf = Tensor::<2>::from_data(TensorData::new(vec![1.0f32, 4.0], [1, 2]), &device).require_grad();
            let l = batch_loss(leaf.clone(), &observed, scheme, 1).unwrap();
            let g = leaf.grad(&l.value.backward()).unwrap();
            host_values(g)
        };
        assert!(grad(Scheme::An)[1] > 0.0, "AN pushes the unobserved logit down");
        assert_eq!(grad(Scheme::LlR)[1], 0.0, "rejected: no gradient");
        assert!(grad(Scheme::LlCt)[1] < 0.0, "corrected: pulled up");
    }
}
