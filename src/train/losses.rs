//! Loss terms of the trainers, as functions of tensors (any device, autodiff or not). Each returns
//! a one-element tensor.

use burn::tensor::activation::{log_softmax, relu, softmax};
use burn::tensor::{Device, Tensor, TensorData};

/// Rows of a one-hot matrix `[n, classes]` for `targets`, on `device`.
pub fn one_hot(targets: &[usize], classes: usize, device: &Device) -> Tensor<2> {
    let mut v = vec![0f32; targets.len() * classes];
    for (i, &t) in targets.iter().enumerate() {
        v[i * classes + t] = 1.0;
    }
    Tensor::from_data(TensorData::new(v, [targets.len(), classes]), device)
}

/// Cross-entropy `-mean_i log softmax(z_i)[y_i]` with `y` given one-hot.
pub fn cross_entropy(logits: Tensor<2>, one_hot: Tensor<2>) -> Tensor<1> {
    -(log_softmax(logits, 1) * one_hot).sum_dim(1).mean()
}

/// Background suppression `-mean_i log(1 - p_i[y_i])`, `p = softmax(z)`: zero when the class
/// has no probability left on the input, large when it keeps all of it (clamped at `1e-6`).
pub fn suppression(logits: Tensor<2>, one_hot: Tensor<2>) -> Tensor<1> {
    let p = (softmax(logits, 1) * one_hot).sum_dim(1);
    -(p.neg().add_scalar(1.0).clamp_min(1e-6).log()).mean()
}

/// Area `mean(M)` of maps `[n, 1, h, w]`: the share of the image the maps keep.
pub fn area(maps: Tensor<4>) -> Tensor<1> {
    maps.mean()
}

/// Anisotropic total variation `mean |M(x+1, y) - M(x, y)| + mean |M(x, y+1) - M(x, y)|`
/// (Rudin, Osher & Fatemi 1992), zero for a constant map.
pub fn total_variation(maps: Tensor<4>) -> Tensor<1> {
    let [n, c, h, w] = maps.dims();
    let dx = maps.clone().slice([0..n, 0..c, 0..h, 1..w]) - maps.clone().slice([0..n, 0..c, 0..h, 0..w - 1]);
    let dy = maps.clone().slice([0..n, 0..c, 1..h, 0..w]) - maps.slice([0..n, 0..c, 0..h - 1, 0..w]);
    dx.abs().mean() + dy.abs().mean()
}

/// Rows scaled to unit length (`1e-8` guards a zero row).
pub fn unit_rows(e: Tensor<2>) -> Tensor<2> {
    let norm = e.clone().powi_scalar(2).sum_dim(1).sqrt().clamp_min(1e-8);
    e / norm
}

/// Squared Euclidean distance between matching rows: `[n, d] x [n, d] -> [n, 1]`.
fn distance(a: Tensor<2>, b: Tensor<2>) -> Tensor<2> {
    (a - b).powi_scalar(2).sum_dim(1)
}

/// Triplet loss `mean_i max(0, |a_i - p_i|^2 - |a_i - n_i|^2 + margin)` on unit-length
/// embeddings (Schroff et al., "FaceNet", CVPR 2015).
pub fn triplet(anchor: Tensor<2>, positive: Tensor<2>, negative: Tensor<2>, margin: f64) -> Tensor<1> {
    let (a, p, n) = (unit_rows(anchor), unit_rows(positive), unit_rows(negative));
    relu(distance(a.clone(), p) - distance(a, n) + margin).mean()
}

/// Batch-hard triplet loss over the rows of `e` labelled `classes` (Hermans, Beyer & Leibe, "In
/// Defense of the Triplet Loss for Person Re-Identification", 2017): every row that has another
/// row of its class and a row of another class is an anchor, with its farthest same-class row as
/// positive and its nearest other-class row as negative; distances are squared, between unit
/// rows. `None` when no row is an anchor.
pub fn batch_hard_triplet(e: Tensor<2>, classes: &[usize], margin: f64) -> Option<Tensor<1>> {
    let n = classes.len();
    let device = e.device();
    let same = |i: usize, j: usize| i != j && classes[i] == classes[j];
    let anchors: Vec<f32> = (0..n)
        .map(|i| {
            let pos = (0..n).any(|j| same(i, j));
            let neg = (0..n).any(|j| classes[i] != classes[j]);
            f32::from(u8::from(pos && neg))
        })
        .collect();
    let count: f32 = anchors.iter().sum();
    if count == 0.0 {
        return None;
    }
    let matrix = |f: &dyn Fn(usize, usize) -> f32| {
        let v: Vec<f32> = (0..n * n).map(|k| f(k / n, k % n)).collect();
        Tensor::<2>::from_data(TensorData::new(v, [n, n]), &device)
    };
    let positives = matrix(&|i, j| f32::from(u8::from(same(i, j))));
    // Squared distances between unit rows lie in [0, 4]: +8 keeps non-negatives out of the min.
    let not_negatives = matrix(&|i, j| if classes[i] != classes[j] { 0.0 } else { 8.0 });
    let u = unit_rows(e);
    let d = (u.clone().matmul(u.transpose()).neg().mul_scalar(2.0).add_scalar(2.0)).clamp_min(0.0);
    let hardest_positive = (d.clone() * positives).max_dim(1);
    let hardest_negative = (d + not_negatives).min_dim(1);
    let weights = Tensor::<2>::from_data(TensorData::new(anchors, [n, 1]), &device);
    Some((relu(hardest_positive - hardest_negative + margin) * weights).sum().div_scalar(count))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::network::host_values;

    fn dev() -> Device {
        Device::flex()
    }

    fn t2(v: Vec<f32>, shape: [usize; 2]) -> Tensor<2> {
        Tensor::from_data(TensorData::new(v, shape), &dev())
    }

    fn value(t: Tensor<1>) -> f32 {
        host_values(t)[0]
    }

    #[test]
    fn area_and_total_variation_of_constant_and_striped_maps() {
        let constant = Tensor::<4>::full([2, 1, 5, 7], 0.3, &dev());
        assert!((value(area(constant.clone())) - 0.3).abs() < 1e-6);
        assert!(value(total_variation(constant)).abs() < 1e-7);
        // Vertical stripes 0, 1, 0, 1: every horizontal step is 1, no vertical step.
        let stripes: Vec<f32> = (0..4 * 4).map(|k| (k % 4 % 2) as f32).collect();
        let m = Tensor::<4>::from_data(TensorData::new(stripes, [1, 1, 4, 4]), &dev());
        assert!((value(area(m.clone())) - 0.5).abs() < 1e-6);
        assert!((value(total_variation(m)) - 1.0).abs() < 1e-6);
    }

    #[test]
    fn cross_entropy_and_suppression_on_known_logits() {
        // Two classes, logits (ln 3, 0): p = (0.75, 0.25).
        let logits = t2(vec![3f32.ln(), 0.0, 3f32.ln(), 0.0], [2, 2]);
        let y = one_hot(&[0, 1], 2, &dev());
        let ce = value(cross_entropy(logits.clone(), y.clone()));
        assert!((ce - (-(0.75f32.ln() + 0.25f32.ln()) / 2.0)).abs() < 1e-5, "{ce}");
        let s = value(suppression(logits, y));
        assert!((s - (-(0.25f32.ln() + 0.75f32.ln()) / 2.0)).abs() < 1e-5, "{s}");
        assert_eq!(host_values(one_hot(&[2, 0], 3, &dev())), [0.0, 0.0, 1.0, 1.0, 0.0, 0.0]);
    }

    #[test]
    fn triplet_losses_on_known_embeddings() {
        // a = p: distance 0; a orthogonal to n: squared distance 2. Loss max(0, 0 - 2 + m).
        let a = t2(vec![2.0, 0.0], [1, 2]);
        let p = t2(vec![5.0, 0.0], [1, 2]);
        let n = t2(vec![0.0, 3.0], [1, 2]);
        assert!(value(triplet(a.clone(), p.clone(), n.clone(), 0.2)).abs() < 1e-6);
        assert!((value(triplet(a.clone(), p.clone(), n.clone(), 2.5)) - 0.5).abs() < 1e-5);
        // Swapped: 2 - 0 + 0.2.
        assert!((value(triplet(a, n, p, 0.2)) - 2.2).abs() < 1e-5);

        // Rows 0, 1 of class 0 at 90 degrees; row 2 of class 1 opposite row 0 (distance 4),
        // at distance 2 from row 1. Anchor 0: pos 2, neg 4 -> 0; anchor 1: pos 2, neg 2 -> m.
        // Row 2 has no positive. Mean over the two anchors: m / 2.
        let e = t2(vec![1.0, 0.0, 0.0, 1.0, -1.0, 0.0], [3, 2]);
        let l = value(batch_hard_triplet(e.clone(), &[0, 0, 1], 0.3).unwrap());
        assert!((l - 0.15).abs() < 1e-5, "{l}");
        assert!(batch_hard_triplet(e, &[0, 1, 2], 0.3).is_none(), "no row has a positive");
    }
}
