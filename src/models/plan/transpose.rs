//! Input gradients of packed convolutions, for the planned backward pass ([`super::backward`]).
//! For `y[o] = Σ_k w[k] x[s o + k - p]` (per axis, channels summed) the gradient with respect to
//! the input is the transposed convolution
//!
//! `dx[i] = Σ_{o, k : s o + k - p = i} w[k] dy[o]`.
//!
//! With stride 1 that is itself a convolution of `dy` with the kernel flipped in both axes and
//! `C_in` and `C_out` swapped, padded by `k - 1 - p`: it runs as any packed convolution does
//! (Winograd included). Otherwise it is one GEMM per tile of output pixels,
//! `cols[M, K] = dy[M, C_out] Wᵀ[C_out, K]`, whose rows are added back onto the input pixels
//! they were gathered from (col2im). A depthwise convolution's is the same sum, channel by
//! channel.

use super::Nhwc;
use super::buffers::Buffers;
use super::conv::{Kernel, PackedConv, TILE, TILE_VALUES, Transposed};
use super::gemm::{matmul, parallelism};
use crate::models::layers::{Act, Padding};
use rayon::prelude::*;
use std::sync::OnceLock;

impl PackedConv {
    /// `dL/dx` of this convolution (without its activation: `dy` is the gradient with respect to
    /// `conv(x) + b`) for an `h x w` input.
    pub fn input_gradient(&self, dy: &Nhwc, h: usize, w: usize, buffers: &Buffers) -> Nhwc {
        let dense = match &self.kernel {
            Kernel::Depthwise(taps) => return self.depthwise_gradient(dy, taps, h, w, buffers),
            Kernel::Dense(dense) | Kernel::Winograd { dense, .. } => dense,
        };
        match self.transposed.get_or_init(|| self.transpose(dense)) {
            Transposed::Conv(t) => {
                let dx = t.forward(dy, None, Act::Identity, buffers);
                debug_assert_eq!((dx.h, dx.w, dx.c), (h, w, self.cin));
                dx
            }
            Transposed::Scatter(wt) => self.scatter_gradient(dy, wt, h, w, buffers),
        }
    }

    /// The padding of the stride-1 convolution that computes the input gradient, `k - 1 - p` on
    /// each side; `None` when there is none (a stride, asymmetric padding, or more than `k - 1`).
    fn transposed_padding(&self) -> Option<Padding> {
        if self.stride != 1 || self.kh != self.kw {
            return None;
        }
        match self.padding {
            Padding::Fixed(p) if p < self.kh => Some(Padding::Fixed(self.kh - 1 - p)),
            Padding::Same if self.kh % 2 == 1 => Some(Padding::Same),
            _ => None,
        }
    }

    /// How the input gradient of the dense `[K, C_out]` weights `dense` is computed.
    fn transpose(&self, dense: &[f32]) -> Transposed {
        let (cin, cout, taps) = (self.cin, self.cout, self.kh * self.kw);
        match self.transposed_padding() {
            Some(padding) => {
                // Flipped taps, input and output channels swapped: [(t' C_out + co), ci].
                let mut packed = vec![0.0f32; taps * cin * cout];
                for t in 0..taps {
                    for co in 0..cout {
                        for ci in 0..cin {
                            packed[(t * cout + co) * cin + ci] = dense[((taps - 1 - t) * cin + ci) * cout + co];
                        }
                    }
                }
                Transposed::Conv(Box::new(PackedConv {
                    cin: cout,
                    cout: cin,
                    kh: self.kh,
                    kw: self.kw,
                    stride: 1,
                    padding,
                    act: Act::Identity,
                    bias: vec![0.0; cin],
                    kernel: Kernel::dense(packed, self.kh, self.kw, 1, cout, cin),
                    transposed: OnceLock::new(),
                }))
            }
            None => {
                let k = taps * cin;
                let mut wt = vec![0.0f32; cout * k];
                for (kk, row) in dense.chunks(cout).enumerate() {
                    for (co, v) in row.iter().enumerate() {
                        wt[co * k + kk] = *v;
                    }
                }
                Transposed::Scatter(wt)
            }
        }
    }

    /// The input gradient as a GEMM per tile of output pixels and col2im, one image per task.
    fn scatter_gradient(&self, dy: &Nhwc, wt: &[f32], h: usize, w: usize, buffers: &Buffers) -> Nhwc {
        let (oh, ow, top, left) = self.geometry(h, w);
        debug_assert_eq!((dy.h, dy.w, dy.c), (oh, ow, self.cout));
        let (cin, cout) = (self.cin, self.cout);
        let k = self.kh * self.kw * cin;
        let rows = (TILE_VALUES / k).clamp(16, 512);
        let mut dx = Nhwc { n: dy.n, h, w, c: cin, values: buffers.take(dy.n * h * w * cin) };
        let parallelism = parallelism(dy.n);
        let pixels = oh * ow;
        dx.values.par_chunks_mut(h * w * cin).enumerate().for_each(|(image, dst)| {
            dst.fill(0.0);
            TILE.with_borrow_mut(|tile| {
                for first in (0..pixels).step_by(rows) {
                    let m = rows.min(pixels - first);
                    tile.resize(m * k, 0.0);
                    let lhs = &dy.values[(image * pixels + first) * cout..(image * pixels + first + m) * cout];
                    // SAFETY: `lhs` is `[m, cout]`, `wt` is `[cout, k]` and `tile` is `[m, k]`,
                    // all row-major.
                    unsafe { matmul([m, k, cout], tile.as_mut_ptr(), k, lhs.as_ptr(), cout, wt.as_ptr(), parallelism) };
                    for (j, row) in tile.chunks(k).enumerate() {
                        let (oy, ox) = ((first + j) / ow, (first + j) % ow);
                        for ky in 0..self.kh {
                            let Some(iy) = (oy * self.stride + ky).checked_sub(top).filter(|&y| y < h) else {
                                continue;
                            };
                            for kx in 0..self.kw {
                                let Some(ix) = (ox * self.stride + kx).checked_sub(left).filter(|&x| x < w) else {
                                    continue;
                                };
                                let src = &row[(ky * self.kw + kx) * cin..(ky * self.kw + kx + 1) * cin];
                                let at = (iy * w + ix) * cin;
                                for (d, s) in dst[at..at + cin].iter_mut().zip(src) {
                                    *d += s;
                                }
                            }
                        }
                    }
                }
            });
        });
        dx
    }

    /// A depthwise convolution's input gradient: each output pixel's gradient times each tap,
    /// added onto the input pixel under it, channel by channel.
    fn depthwise_gradient(&self, dy: &Nhwc, taps: &[f32], h: usize, w: usize, buffers: &Buffers) -> Nhwc {
        let (oh, ow, top, left) = self.geometry(h, w);
        let c = self.cout;
        let mut dx = Nhwc { n: dy.n, h, w, c, values: buffers.take(dy.n * h * w * c) };
        dx.values.par_chunks_mut(h * w * c).enumerate().for_each(|(image, dst)| {
            dst.fill(0.0);
            for oy in 0..oh {
                for ox in 0..ow {
                    let g = dy.pixel(image, oy, ox);
                    for ky in 0..self.kh {
                        let Some(iy) = (oy * self.stride + ky).checked_sub(top).filter(|&y| y < h) else { continue };
                        for kx in 0..self.kw {
                            let Some(ix) = (ox * self.stride + kx).checked_sub(left).filter(|&x| x < w) else {
                                continue;
                            };
                            let tap = &taps[(ky * self.kw + kx) * c..(ky * self.kw + kx + 1) * c];
                            let at = (iy * w + ix) * c;
                            for ((d, g), t) in dst[at..at + c].iter_mut().zip(g).zip(tap) {
                                *d += g * t;
                            }
                        }
                    }
                }
            }
        });
        dx
    }
}
