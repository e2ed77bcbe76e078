//! The blurred image of RISE's insertion game and of the `blurred` baseline.

use burn::tensor::module::conv2d;
use burn::tensor::ops::ConvOptions;
use burn::tensor::{Tensor, TensorData};

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

/// `x` (`[N, 3, H, W]`) with each channel convolved with the 11x11 RISE kernel, zero padded.
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

#[cfg(test)]
mod tests {
    use super::*;

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
