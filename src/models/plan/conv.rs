//! Convolutions on channels-last activations, packed once at load: a dense convolution is one
//! GEMM `Y[M, C_out] = X[M, K] W[K, C_out]` over the `M = N * H_out * W_out` output pixels with
//! `K = k_h * k_w * C_in` (a 1x1, stride-1 convolution reads `X` in place; a k x k one gathers
//! `X` tile by tile into a per-thread buffer, never the whole im2col matrix), and a depthwise
//! one is a direct loop over the channels. Bias, the convolution's activation, a residual and
//! the activation after it are applied to each tile while it is in cache:
//! `y = post(act(x * w + b) + r)`, the order [`crate::models::layers::Block`] computes them in.

use super::Nhwc;
use super::buffers::Buffers;
use super::gemm::{balanced, matmul, parallelism};
use super::winograd;
use crate::models::layers::{Act, Conv, Padding, host_values};
use rayon::prelude::*;
use std::cell::RefCell;
use std::sync::OnceLock;

/// Values of one thread's im2col tile at most (4 MiB), which caps the output rows per tile.
pub(super) const TILE_VALUES: usize = 1 << 20;

thread_local! {
    /// Each thread's im2col tile, reused by every convolution it runs.
    pub(super) static TILE: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
}

/// How the weights are stored.
#[derive(Debug, Clone)]
pub(super) enum Kernel {
    /// `W[(ky * k_w + kx) * C_in + ci][co]`, row-major `[K, C_out]`: the GEMM's right-hand side.
    Dense(Vec<f32>),
    /// A stride-1 3 x 3 kernel transformed for Winograd's F(2 x 2, 3 x 3): `U[e][ci][co]`, 16
    /// row-major `[C_in, C_out]` matrices (see [`super::winograd`]), and the dense `[K, C_out]`
    /// weights its input gradient is made from ([`super::transpose`]).
    Winograd { u: Vec<f32>, dense: Vec<f32> },
    /// `W[(ky * k_w + kx) * C + ch]`: one filter per channel.
    Depthwise(Vec<f32>),
}

/// A convolution with its weights laid out for channels-last input.
#[derive(Debug, Clone)]
pub struct PackedConv {
    pub(super) cin: usize,
    pub(super) cout: usize,
    pub(super) kh: usize,
    pub(super) kw: usize,
    pub(super) stride: usize,
    pub(super) padding: Padding,
    pub act: Act,
    pub(super) bias: Vec<f32>,
    pub(super) kernel: Kernel,
    /// The convolution that computes this one's input gradient, made on first use.
    pub(super) transposed: OnceLock<Transposed>,
}

impl PackedConv {
    /// Pack `conv`'s weights; `None` for a grouped convolution that is neither dense nor
    /// depthwise.
    pub fn pack(conv: &Conv) -> Option<Self> {
        let [cout, per_group, kh, kw] = conv.weight.dims();
        let cin = per_group * conv.groups;
        let w = host_values(conv.weight.clone());
        let taps = kh * kw;
        let kernel = if conv.groups == 1 {
            let mut packed = vec![0.0f32; taps * cin * cout];
            for co in 0..cout {
                for ci in 0..cin {
                    for t in 0..taps {
                        packed[(t * cin + ci) * cout + co] = w[(co * cin + ci) * taps + t];
                    }
                }
            }
            Kernel::dense(packed, kh, kw, conv.stride, cin, cout)
        } else if per_group == 1 && conv.groups == cout {
            let mut packed = vec![0.0f32; taps * cout];
            for ch in 0..cout {
                for t in 0..taps {
                    packed[t * cout + ch] = w[ch * taps + t];
                }
            }
            Kernel::Depthwise(packed)
        } else {
            return None;
        };
        let bias = conv.bias.clone().map_or_else(|| vec![0.0; cout], host_values);
        Some(Self {
            cin,
            cout,
            kh,
            kw,
            stride: conv.stride,
            padding: conv.padding,
            act: conv.act,
            bias,
            kernel,
            transposed: OnceLock::new(),
        })
    }

    /// Fold a following per-channel affine map `y * scale + shift` (an unfolded BatchNorm) into
    /// the weights and bias: `W' = W * scale[co]`, `b' = b * scale + shift`. Only valid while the
    /// convolution's own activation is the identity. Winograd weights scale the same way, as
    /// `G (s g) Gᵀ = s (G g Gᵀ)`: every layout keeps `C_out` innermost.
    pub fn fold_affine(&mut self, scale: &[f32], shift: &[f32]) {
        let weights: Vec<&mut Vec<f32>> = match &mut self.kernel {
            Kernel::Dense(w) | Kernel::Depthwise(w) => vec![w],
            Kernel::Winograd { u, dense } => vec![u, dense],
        };
        for row in weights.into_iter().flat_map(|w| w.chunks_mut(self.cout)) {
            for (v, s) in row.iter_mut().zip(scale) {
                *v *= s;
            }
        }
        self.transposed = OnceLock::new();
        for ((b, s), t) in self.bias.iter_mut().zip(scale).zip(shift) {
            *b = *b * s + t;
        }
    }

    /// Output height and width and the padding before each axis, for an `h x w` input.
    pub(super) fn geometry(&self, h: usize, w: usize) -> (usize, usize, usize, usize) {
        let (top, bottom) = self.padding.sides(h, self.kh, self.stride);
        let (left, right) = self.padding.sides(w, self.kw, self.stride);
        let oh = (h + top + bottom - self.kh) / self.stride + 1;
        let ow = (w + left + right - self.kw) / self.stride + 1;
        (oh, ow, top, left)
    }

    /// `post(act(conv(x) + b) + residual)`, into a buffer from `buffers`; `residual` has the
    /// output's shape.
    pub fn forward(&self, x: &Nhwc, residual: Option<&[f32]>, post: Act, buffers: &Buffers) -> Nhwc {
        let (oh, ow, top, left) = self.geometry(x.h, x.w);
        let mut out = Nhwc { n: x.n, h: oh, w: ow, c: self.cout, values: buffers.take(x.n * oh * ow * self.cout) };
        let g = Geometry { oh, ow, top, left };
        let epilogue = Epilogue { residual, post };
        match &self.kernel {
            Kernel::Dense(w) => self.dense(x, w, g, epilogue, &mut out.values),
            Kernel::Winograd { u, .. } => {
                let finish = |dst: &mut [f32], first: usize| self.finish(dst, first, epilogue);
                winograd::convolve(x, u, [self.cin, self.cout], [g.oh, g.ow, g.top, g.left], &mut out.values, finish)
            }
            Kernel::Depthwise(w) => self.depthwise(x, w, g, epilogue, &mut out.values),
        }
        out
    }

    /// Bias, activation, residual and the activation after it, on the output rows from `first`,
    /// in one pass over the tile with both activations known at compile time.
    fn finish(&self, dst: &mut [f32], first: usize, e: Epilogue) {
        let residual = e.residual.map(|r| &r[first * self.cout..first * self.cout + dst.len()]);
        let bias = self.bias.as_slice();
        match e.post {
            Act::Identity => fused(dst, bias, residual, self.act, |v| v),
            Act::Relu => fused(dst, bias, residual, self.act, super::relu),
            Act::Relu6 => fused(dst, bias, residual, self.act, super::relu6),
        }
    }

    fn dense(&self, x: &Nhwc, w: &[f32], g: Geometry, e: Epilogue, out: &mut [f32]) {
        let (cin, cout) = (self.cin, self.cout);
        let k = self.kh * self.kw * cin;
        let (th, bh) = self.padding.sides(x.h, self.kh, self.stride);
        let (tw, bw) = self.padding.sides(x.w, self.kw, self.stride);
        let in_place = self.kh == 1 && self.kw == 1 && self.stride == 1 && th + bh + tw + bw == 0;
        let rows = balanced(out.len() / cout, (TILE_VALUES / k).clamp(16, 512));
        let tiles = out.len().div_ceil(rows * cout);
        let parallelism = parallelism(tiles);
        out.par_chunks_mut(rows * cout).enumerate().for_each(|(t, dst)| {
            let (first, m) = (t * rows, dst.len() / cout);
            // SAFETY: `lhs` holds `m` rows of `k` values, `w` is `[k, cout]` and `dst` is
            // `[m, cout]`, all row-major.
            let run = |lhs: *const f32, dst: &mut [f32]| unsafe {
                matmul([m, cout, k], dst.as_mut_ptr(), cout, lhs, k, w.as_ptr(), parallelism)
            };
            if in_place {
                run(x.values[first * cin..(first + m) * cin].as_ptr(), dst);
            } else {
                TILE.with_borrow_mut(|tile| {
                    tile.resize(m * k, 0.0);
                    self.gather(x, g, first, tile);
                    run(tile.as_ptr(), dst);
                });
            }
            self.finish(dst, first, e);
        });
    }

    /// The im2col rows of output pixels `first..first + tile.len() / K`: for each, the input
    /// pixels under the kernel (zero outside the image), channels innermost.
    fn gather(&self, x: &Nhwc, g: Geometry, first: usize, tile: &mut [f32]) {
        let cin = self.cin;
        let k = self.kh * self.kw * cin;
        for (j, row) in tile.chunks_mut(k).enumerate() {
            let p = first + j;
            let (image, oy, ox) = (p / (g.oh * g.ow), p / g.ow % g.oh, p % g.ow);
            for ky in 0..self.kh {
                let iy = (oy * self.stride + ky).checked_sub(g.top).filter(|&y| y < x.h);
                for kx in 0..self.kw {
                    let ix = (ox * self.stride + kx).checked_sub(g.left).filter(|&v| v < x.w);
                    let dst = &mut row[(ky * self.kw + kx) * cin..(ky * self.kw + kx + 1) * cin];
                    match (iy, ix) {
                        (Some(iy), Some(ix)) => dst.copy_from_slice(x.pixel(image, iy, ix)),
                        _ => dst.fill(0.0),
                    }
                }
            }
        }
    }

    fn depthwise(&self, x: &Nhwc, w: &[f32], g: Geometry, e: Epilogue, out: &mut [f32]) {
        let c = self.cout;
        out.par_chunks_mut(g.ow * c).enumerate().for_each(|(r, dst)| {
            let (image, oy) = (r / g.oh, r % g.oh);
            dst.fill(0.0);
            for ox in 0..g.ow {
                let acc = &mut dst[ox * c..(ox + 1) * c];
                for ky in 0..self.kh {
                    let Some(iy) = (oy * self.stride + ky).checked_sub(g.top).filter(|&y| y < x.h) else {
                        continue;
                    };
                    for kx in 0..self.kw {
                        let Some(ix) = (ox * self.stride + kx).checked_sub(g.left).filter(|&v| v < x.w) else {
                            continue;
                        };
                        let taps = &w[(ky * self.kw + kx) * c..(ky * self.kw + kx + 1) * c];
                        for ((a, v), t) in acc.iter_mut().zip(x.pixel(image, iy, ix)).zip(taps) {
                            *a += v * t;
                        }
                    }
                }
            }
            self.finish(dst, r * g.ow, e);
        });
    }
}

/// How a convolution's input gradient is computed (see [`super::transpose`]).
#[derive(Debug, Clone)]
pub(super) enum Transposed {
    /// Stride 1, padding at most `k - 1` on each side: a convolution of the output gradient.
    Conv(Box<PackedConv>),
    /// `Wᵀ`, row-major `[C_out, K]`: a GEMM and col2im.
    Scatter(Vec<f32>),
}

impl Kernel {
    /// Dense `[K, C_out]` weights `packed`, as Winograd's where it pays.
    pub(super) fn dense(packed: Vec<f32>, kh: usize, kw: usize, stride: usize, cin: usize, cout: usize) -> Self {
        if winograd::pays(kh, kw, stride, cin, cout) {
            Kernel::Winograd { u: winograd::weights(&packed, cin, cout), dense: packed }
        } else {
            Kernel::Dense(packed)
        }
    }
}

/// [`PackedConv::finish`] with the convolution's activation `act` made a type.
#[inline(always)]
fn fused<P: Fn(f32) -> f32 + Copy>(dst: &mut [f32], bias: &[f32], residual: Option<&[f32]>, act: Act, post: P) {
    match act {
        Act::Identity => epilogue(dst, bias, residual, |v| v, post),
        Act::Relu => epilogue(dst, bias, residual, super::relu, post),
        Act::Relu6 => epilogue(dst, bias, residual, super::relu6, post),
    }
}

/// `y = post(act(y + b) + r)` on rows of `bias.len()` values.
#[inline(always)]
fn epilogue<A: Fn(f32) -> f32, P: Fn(f32) -> f32>(
    dst: &mut [f32],
    bias: &[f32],
    residual: Option<&[f32]>,
    act: A,
    post: P,
) {
    let c = bias.len();
    match residual {
        Some(r) => {
            for (row, r) in dst.chunks_mut(c).zip(r.chunks(c)) {
                for ((v, b), s) in row.iter_mut().zip(bias).zip(r) {
                    *v = post(act(*v + b) + s);
                }
            }
        }
        None => {
            for row in dst.chunks_mut(c) {
                for (v, b) in row.iter_mut().zip(bias) {
                    *v = post(act(*v + b));
                }
            }
        }
    }
}

/// Output size and leading padding of one convolution on one input size.
#[derive(Debug, Clone, Copy)]
struct Geometry {
    oh: usize,
    ow: usize,
    top: usize,
    left: usize,
}

/// What follows the convolution on each output tile.
#[derive(Debug, Clone, Copy)]
struct Epilogue<'a> {
    residual: Option<&'a [f32]>,
    post: Act,
}

#[cfg(test)]
mod winograd_tests {
    use super::{Kernel, PackedConv};
    use crate::models::layers::{Act, Conv, Padding};
    use crate::models::plan::Nhwc;
    use crate::models::plan::buffers::Buffers;
    use crate::models::plan::winograd::{pays, weights};
    use burn::tensor::{Device, Tensor, TensorData};

    /// `count` values in [-1, 1), fixed by `seed`.
    fn values(count: usize, seed: u64) -> Vec<f32> {
        crate::seeded::uniform("winograd", count, seed).into_iter().map(|u| u as f32).collect()
    }

    /// A convolution, its weights `[C_out, C_in, 3, 3]` and bias.
    struct Case {
        n: usize,
        h: usize,
        w: usize,
        cin: usize,
        cout: usize,
        padding: Padding,
        act: Act,
        residual: bool,
        post: Act,
    }

    impl Case {
        fn conv(&self, weight: &[f32], bias: &[f32]) -> Conv {
            let device = Device::flex();
            Conv {
                weight: Tensor::from_data(TensorData::new(weight.to_vec(), [self.cout, self.cin, 3, 3]), &device),
                bias: Some(Tensor::from_data(TensorData::new(bias.to_vec(), [self.cout]), &device)),
                stride: 1,
                padding: self.padding,
                groups: 1,
                act: self.act,
            }
        }

        /// `post(act(conv(x) + b) + r)` by the direct sum, channels last.
        fn reference(&self, x: &Nhwc, weight: &[f32], bias: &[f32], r: Option<&[f32]>) -> Vec<f32> {
            let (top, bottom) = self.padding.sides(self.h, 3, 1);
            let (left, right) = self.padding.sides(self.w, 3, 1);
            let (oh, ow) = (self.h + top + bottom - 2, self.w + left + right - 2);
            let mut out = Vec::with_capacity(self.n * oh * ow * self.cout);
            for image in 0..self.n {
                for oy in 0..oh {
                    for ox in 0..ow {
                        for co in 0..self.cout {
                            let mut sum = f64::from(bias[co]);
                            for ky in 0..3 {
                                for kx in 0..3 {
                                    let (Some(iy), Some(ix)) =
                                        ((oy + ky).checked_sub(top), (ox + kx).checked_sub(left))
                                    else {
                                        continue;
                                    };
                                    if iy >= self.h || ix >= self.w {
                                        continue;
                                    }
                                    for (ci, v) in x.pixel(image, iy, ix).iter().enumerate() {
                                        sum +=
                                            f64::from(*v) * f64::from(weight[((co * self.cin + ci) * 3 + ky) * 3 + kx]);
                                    }
                                }
                            }
                            let mut y = [sum as f32];
                            crate::models::plan::activate(self.act, &mut y);
                            if let Some(r) = r {
                                y[0] += r[out.len()];
                            }
                            crate::models::plan::activate(self.post, &mut y);
                            out.push(y[0]);
                        }
                    }
                }
            }
            out
        }

        /// Winograd's output against the direct sum, to 1e-4 of the largest magnitude.
        fn check(&self, seed: u64) {
            let weight = values(self.cout * self.cin * 9, seed);
            let bias = values(self.cout, seed + 1);
            let x = Nhwc {
                n: self.n,
                h: self.h,
                w: self.w,
                c: self.cin,
                values: values(self.n * self.h * self.w * self.cin, seed + 2),
            };
            let mut packed = PackedConv::pack(&self.conv(&weight, &bias)).expect("a dense convolution packs");
            if let Kernel::Dense(w) = &packed.kernel {
                packed.kernel = Kernel::Winograd { u: weights(w, self.cin, self.cout), dense: w.clone() };
            }
            let expected_len = self.reference(&x, &weight, &bias, None).len();
            let residual = self.residual.then(|| values(expected_len, seed + 3));
            let expected = self.reference(&x, &weight, &bias, residual.as_deref());
            let got = packed.forward(&x, residual.as_deref(), self.post, &Buffers::default());
            assert_eq!(got.values.len(), expected.len());
            assert_close(&got.values, &expected, &format!("{}x{}", self.h, self.w));
        }
    }

    /// `got` within 1e-4 of the largest magnitude in `expected` (not all zero).
    fn assert_close(got: &[f32], expected: &[f32], what: &str) {
        let scale = expected.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        assert!(scale > 0.0);
        let worst = got.iter().zip(expected).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
        assert!(worst <= 1e-4 * scale, "{what}: max error {worst} of values up to {scale}");
    }

    #[test]
    fn winograd_matches_the_direct_sum_on_even_and_odd_maps() {
        let case = |n, h, w, cin, cout| Case {
            n,
            h,
            w,
            cin,
            cout,
            padding: Padding::Fixed(1),
            act: Act::Relu,
            residual: true,
            post: Act::Relu,
        };
        case(1, 56, 56, 35, 40).check(1);
        case(3, 7, 7, 37, 45).check(2);
        case(2, 5, 6, 5, 3).check(3);
        case(4, 14, 14, 20, 33).check(4);
    }

    #[test]
    fn winograd_matches_the_direct_sum_without_padding_or_with_same_padding() {
        let case = |h, w, padding, act| Case {
            n: 2,
            h,
            w,
            cin: 9,
            cout: 17,
            padding,
            act,
            residual: false,
            post: Act::Identity,
        };
        case(8, 8, Padding::Fixed(0), Act::Identity).check(5);
        case(7, 9, Padding::Fixed(0), Act::Relu6).check(6);
        case(9, 7, Padding::Same, Act::Identity).check(7);
        case(6, 5, Padding::Fixed(2), Act::Identity).check(8);
    }

    #[test]
    fn a_folded_affine_scales_winograd_weights_as_it_scales_dense_ones() {
        let case = Case {
            n: 1,
            h: 10,
            w: 10,
            cin: 64,
            cout: 64,
            padding: Padding::Fixed(1),
            act: Act::Identity,
            residual: false,
            post: Act::Identity,
        };
        let weight = values(64 * 64 * 9, 9);
        let bias = values(64, 10);
        let (scale, shift) = (values(64, 11), values(64, 12));
        let mut packed = PackedConv::pack(&case.conv(&weight, &bias)).expect("a dense convolution packs");
        assert!(matches!(packed.kernel, Kernel::Winograd { .. }), "64 channels run as Winograd");
        packed.fold_affine(&scale, &shift);
        let folded: Vec<f32> = weight.iter().enumerate().map(|(i, w)| w * scale[i / (64 * 9)]).collect();
        let folded_bias: Vec<f32> = bias.iter().zip(&scale).zip(&shift).map(|((b, s), t)| b * s + t).collect();
        let x = Nhwc { n: 1, h: 10, w: 10, c: 64, values: values(10 * 10 * 64, 13) };
        let expected = case.reference(&x, &folded, &folded_bias, None);
        let got = packed.forward(&x, None, Act::Identity, &Buffers::default());
        assert_close(&got.values, &expected, "folded");
    }

    #[test]
    fn only_stride_1_3x3_convolutions_with_enough_channels_use_winograd() {
        assert!(pays(3, 3, 1, 64, 64));
        assert!(!pays(3, 3, 2, 64, 64));
        assert!(!pays(1, 1, 1, 64, 64));
        assert!(!pays(3, 3, 1, 32, 64));
    }
}
