//! Resampling of single-channel `f32` maps, with OpenCV's `cv2.resize` conventions, which is
//! what pytorch-grad-cam uses to bring a feature-resolution map to the input size.
//!
//! Source coordinate of destination pixel `d`: `s = (d + 0.5) * src/dst - 0.5`
//! (pixel centres aligned, `align_corners=False`).
//! * bilinear: taps `floor(s)` and `floor(s) + 1` with weights `1 - f`, `f`; outside the source
//!   the nearest edge pixel is used (`f = 0`).
//! * bicubic: Keys' cubic convolution with `A = -0.75` on taps `floor(s) - 1 ..= floor(s) + 2`,
//!   edge pixels replicated.
//!
//! [`Interpolation::BilinearAlignCorners`] instead maps corner to corner,
//! `s = d * (src - 1) / (dst - 1)`, as PyTorch's `UpsamplingBilinear2d` (Score-CAM uses it).

use serde::{Deserialize, Serialize};

/// How [`resize`] interpolates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Interpolation {
    /// `cv2.INTER_LINEAR`.
    #[default]
    Bilinear,
    /// `cv2.INTER_CUBIC`.
    Bicubic,
    /// Bilinear with corners aligned (`align_corners=True`).
    BilinearAlignCorners,
}

/// Taps and weights along one axis: for every destination index, `(first source index, weights)`
/// over consecutive, edge-clamped source indices.
struct AxisKernel {
    taps: Vec<[usize; 4]>,
    weights: Vec<[f32; 4]>,
}

impl AxisKernel {
    fn new(src: usize, dst: usize, interpolation: Interpolation) -> Self {
        let scale = src as f64 / dst as f64;
        let last = src as isize - 1;
        let clamp = |i: isize| i.clamp(0, last) as usize;
        let mut taps = Vec::with_capacity(dst);
        let mut weights = Vec::with_capacity(dst);
        for d in 0..dst {
            if interpolation == Interpolation::BilinearAlignCorners {
                let s = if dst > 1 { d as f64 * (src - 1) as f64 / (dst - 1) as f64 } else { 0.0 };
                let i = (s.floor() as isize).min(last);
                let f = (s - i as f64) as f32;
                taps.push([clamp(i), clamp(i + 1), clamp(i), clamp(i)]);
                weights.push([1.0 - f, f, 0.0, 0.0]);
                continue;
            }
            let s = ((d as f64 + 0.5) * scale - 0.5) as f32;
            let base = s.floor();
            let mut f = s - base;
            let mut i = base as isize;
            match interpolation {
                Interpolation::Bilinear => {
                    if i < 0 {
                        i = 0;
                        f = 0.0;
                    }
                    if i >= last {
                        i = last;
                        f = 0.0;
                    }
                    taps.push([clamp(i), clamp(i + 1), clamp(i), clamp(i)]);
                    weights.push([1.0 - f, f, 0.0, 0.0]);
                }
                Interpolation::Bicubic => {
                    taps.push([clamp(i - 1), clamp(i), clamp(i + 1), clamp(i + 2)]);
                    weights.push(cubic_weights(f));
                }
                Interpolation::BilinearAlignCorners => unreachable!("handled above"),
            }
        }
        Self { taps, weights }
    }
}

/// Keys' cubic convolution weights for fractional offset `x`, `A = -0.75` (OpenCV's choice).
fn cubic_weights(x: f32) -> [f32; 4] {
    const A: f32 = -0.75;
    let w0 = ((A * (x + 1.0) - 5.0 * A) * (x + 1.0) + 8.0 * A) * (x + 1.0) - 4.0 * A;
    let w1 = ((A + 2.0) * x - (A + 3.0)) * x * x + 1.0;
    let w2 = ((A + 2.0) * (1.0 - x) - (A + 3.0)) * (1.0 - x) * (1.0 - x) + 1.0;
    [w0, w1, w2, 1.0 - w0 - w1 - w2]
}

/// Resample a row-major `src_w x src_h` map to `dst_w x dst_h` (horizontal pass, then vertical).
/// An empty source or destination gives an empty (or all-zero) result.
pub fn resize(
    src: &[f32],
    src_w: usize,
    src_h: usize,
    dst_w: usize,
    dst_h: usize,
    interpolation: Interpolation,
) -> Vec<f32> {
    if src_w == 0 || src_h == 0 || src.len() != src_w * src_h {
        return vec![0.0; dst_w * dst_h];
    }
    if src_w == dst_w && src_h == dst_h {
        return src.to_vec();
    }
    let kx = AxisKernel::new(src_w, dst_w, interpolation);
    let ky = AxisKernel::new(src_h, dst_h, interpolation);
    let mut rows = vec![0.0f32; src_h * dst_w];
    for y in 0..src_h {
        let row = &src[y * src_w..(y + 1) * src_w];
        for (x, (t, w)) in kx.taps.iter().zip(&kx.weights).enumerate() {
            rows[y * dst_w + x] = row[t[0]] * w[0] + row[t[1]] * w[1] + row[t[2]] * w[2] + row[t[3]] * w[3];
        }
    }
    let mut out = vec![0.0f32; dst_w * dst_h];
    for (y, (t, w)) in ky.taps.iter().zip(&ky.weights).enumerate() {
        for x in 0..dst_w {
            out[y * dst_w + x] = rows[t[0] * dst_w + x] * w[0]
                + rows[t[1] * dst_w + x] * w[1]
                + rows[t[2] * dst_w + x] * w[2]
                + rows[t[3] * dst_w + x] * w[3];
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bilinear_matches_opencv_on_a_2x2_upscale() {
        // cv2.resize(np.float32([[0, 1], [2, 3]]), (4, 4)) gives these rows.
        let out = resize(&[0.0, 1.0, 2.0, 3.0], 2, 2, 4, 4, Interpolation::Bilinear);
        let expected = [
            0.0, 0.25, 0.75, 1.0, //
            0.5, 0.75, 1.25, 1.5, //
            1.5, 1.75, 2.25, 2.5, //
            2.0, 2.25, 2.75, 3.0,
        ];
        for (o, e) in out.iter().zip(expected) {
            assert!((o - e).abs() < 1e-6, "{out:?}");
        }
    }

    #[test]
    fn bicubic_reproduces_constants_and_overshoots_edges_like_keys() {
        let flat = resize(&[0.7; 9], 3, 3, 7, 5, Interpolation::Bicubic);
        assert!(flat.iter().all(|v| (v - 0.7).abs() < 1e-6));
        // A step edge: Keys' kernel with A = -0.75 overshoots below 0 next to the step.
        let step = resize(&[0.0, 0.0, 1.0, 1.0], 4, 1, 8, 1, Interpolation::Bicubic);
        assert!(step.iter().any(|&v| v < 0.0));
        assert!((cubic_weights(0.0)[1] - 1.0).abs() < 1e-6);
        assert!(cubic_weights(0.3).iter().sum::<f32>() - 1.0 < 1e-6);
    }

    #[test]
    fn align_corners_maps_corner_to_corner() {
        // torch.nn.UpsamplingBilinear2d(size=(1, 5))(tensor([[[[0., 4.]]]])) = [0, 1, 2, 3, 4]
        assert_eq!(resize(&[0.0, 4.0], 2, 1, 5, 1, Interpolation::BilinearAlignCorners), vec![0.0, 1.0, 2.0, 3.0, 4.0]);
    }

    #[test]
    fn downscale_and_identity() {
        let src: Vec<f32> = (0..16).map(|v| v as f32).collect();
        assert_eq!(resize(&src, 4, 4, 4, 4, Interpolation::Bilinear), src);
        // Halving with centres aligned averages each 2x2 block.
        let half = resize(&src, 4, 4, 2, 2, Interpolation::Bilinear);
        assert_eq!(half, vec![2.5, 4.5, 10.5, 12.5]);
        assert_eq!(resize(&[], 0, 0, 2, 1, Interpolation::Bilinear), vec![0.0, 0.0]);
    }
}
