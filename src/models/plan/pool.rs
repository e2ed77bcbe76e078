//! Pooling (and max pooling's input gradient) and per-channel maps on channels-last activations.

use super::Nhwc;
use super::buffers::Buffers;
use crate::models::layers::Act;
use rayon::prelude::*;

/// Max pooling with a `kernel x kernel` window, `stride` and `padding` on each side, as
/// PyTorch's `MaxPool2d` (padding never wins: the maximum over the window's pixels inside the
/// image), output size `floor((in + 2p - k) / s) + 1`.
pub fn max_pool(x: &Nhwc, kernel: usize, stride: usize, padding: usize, buffers: &Buffers) -> Nhwc {
    let oh = (x.h + 2 * padding - kernel) / stride + 1;
    let ow = (x.w + 2 * padding - kernel) / stride + 1;
    let c = x.c;
    let mut out = Nhwc { n: x.n, h: oh, w: ow, c, values: buffers.take(x.n * oh * ow * c) };
    out.values.par_chunks_mut(ow * c).enumerate().for_each(|(r, dst)| {
        let (image, oy) = (r / oh, r % oh);
        dst.fill(f32::NEG_INFINITY);
        for ox in 0..ow {
            let acc = &mut dst[ox * c..(ox + 1) * c];
            for ky in 0..kernel {
                let Some(iy) = (oy * stride + ky).checked_sub(padding).filter(|&y| y < x.h) else { continue };
                for kx in 0..kernel {
                    let Some(ix) = (ox * stride + kx).checked_sub(padding).filter(|&v| v < x.w) else { continue };
                    for (a, &v) in acc.iter_mut().zip(x.pixel(image, iy, ix)) {
                        if v > *a || v.is_nan() {
                            *a = v;
                        }
                    }
                }
            }
        }
    });
    out
}

/// Max pooling's input gradient: each output's gradient goes to the first pixel of its window,
/// in scan order, whose value is the output's (padding never holds the maximum).
pub fn max_pool_gradient(
    x: &Nhwc,
    y: &Nhwc,
    dy: &Nhwc,
    [kernel, stride, padding]: [usize; 3],
    buffers: &Buffers,
) -> Nhwc {
    let c = x.c;
    let mut dx = Nhwc { n: x.n, h: x.h, w: x.w, c, values: buffers.take(x.values.len()) };
    dx.values.par_chunks_mut(x.h * x.w * c).enumerate().for_each(|(image, dst)| {
        dst.fill(0.0);
        for oy in 0..y.h {
            for ox in 0..y.w {
                let (max, g) = (y.pixel(image, oy, ox), dy.pixel(image, oy, ox));
                for ch in 0..c {
                    'window: for ky in 0..kernel {
                        let Some(iy) = (oy * stride + ky).checked_sub(padding).filter(|&v| v < x.h) else { continue };
                        for kx in 0..kernel {
                            let Some(ix) = (ox * stride + kx).checked_sub(padding).filter(|&v| v < x.w) else {
                                continue;
                            };
                            let v = x.pixel(image, iy, ix)[ch];
                            if v == max[ch] || (v.is_nan() && max[ch].is_nan()) {
                                dst[(iy * x.w + ix) * c + ch] += g[ch];
                                break 'window;
                            }
                        }
                    }
                }
            }
        }
    });
    dx
}

/// Global average pooling: `[N, H, W, C] -> [N, C]`, the mean over the `H * W` pixels.
pub fn global_average(x: &Nhwc) -> Vec<f32> {
    let plane = x.h * x.w;
    let mut out = vec![0.0f32; x.n * x.c];
    out.par_chunks_mut(x.c).enumerate().for_each(|(image, dst)| {
        for pixel in x.values[image * plane * x.c..(image + 1) * plane * x.c].chunks(x.c) {
            for (a, v) in dst.iter_mut().zip(pixel) {
                *a += v;
            }
        }
        for a in dst.iter_mut() {
            *a /= plane as f32;
        }
    });
    out
}

/// `act(x * scale[c] + shift[c])` in place.
pub fn affine(x: &mut Nhwc, scale: &[f32], shift: &[f32], act: Act) {
    let c = x.c;
    x.values.par_chunks_mut(c * 64).for_each(|chunk| {
        for pixel in chunk.chunks_mut(c) {
            for ((v, s), t) in pixel.iter_mut().zip(scale).zip(shift) {
                *v = *v * s + t;
            }
            super::activate(act, pixel);
        }
    });
}
