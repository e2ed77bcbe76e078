//! Winograd's minimal filtering F(2 x 2, 3 x 3) for stride-1 3 x 3 dense convolutions (Lavin &
//! Gray 2016, "Fast Algorithms for Convolutional Neural Networks"). Each 2 x 2 output tile `Y` of
//! one output channel comes from the 4 x 4 input patch `d` under it (tiles 2 apart, zero outside
//! the image) and each 3 x 3 filter `g` as
//!
//! `Y = Aᵀ [ Σ_ci (G g Gᵀ) ⊙ (Bᵀ d B) ] A`
//!
//! with
//!
//! ```text
//!      | 1  0 -1  0 |        | 1    0    0  |
//! Bᵀ = | 0  1  1  0 |    G = | 1/2  1/2  1/2 |    Aᵀ = | 1  1  1  0 |
//!      | 0 -1  1  0 |        | 1/2 -1/2  1/2 |         | 0  1 -1 -1 |
//!      | 0  1  0 -1 |        | 0    0    1  |
//! ```
//!
//! The sum over input channels of the element-wise products is, for each of the 16 elements `e`
//! of the 4 x 4 tile, one GEMM `M_e[T, C_out] = V_e[T, C_in] U_e[C_in, C_out]` over a block of `T`
//! tiles, with `U = G g Gᵀ` transformed once at load and `V = Bᵀ d B` per tile. That is 16
//! multiplies per 2 x 2 output tile and channel pair instead of 36, 2.25x fewer; the transforms
//! themselves are additions only (G's halves aside). F(2 x 2, 3 x 3)'s matrices hold only 0, ±1
//! and ±1/2, so it is well conditioned in `f32`: its error stays within a few ulps of the direct
//! sum's (the larger tiles, F(4 x 4, 3 x 3) and up, lose digits).

use super::Nhwc;
use super::gemm::{balanced, matmul, parallelism};
use rayon::prelude::*;
use std::cell::RefCell;

/// `G`, the filter transform.
const G: [[f32; 3]; 4] = [[1.0, 0.0, 0.0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0.0, 0.0, 1.0]];

/// Tiles per block, whatever the channels: `V` and `M` then take `128 * 16 * (C_in + C_out)`
/// values, 1 MiB for 64 channels. Measured on ResNet-50's 3 x 3 convolutions (56 x 56 x 64 to
/// 7 x 7 x 512, one thread): 64 tiles are slower on the deep layers, 256 on the first.
const BLOCK_TILES: usize = 128;

/// The fewest input and output channels for which Winograd pays. Measured at 56 x 56 on one
/// thread against the dense path: 1.3x faster at 64 channels, even at 32, 1.3x slower at 16
/// (the transforms cost more than the multiplies they save).
const MIN_CHANNELS: usize = 64;

thread_local! {
    /// Each thread's transformed inputs and products, reused by every convolution it runs.
    static BLOCK: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
}

/// Whether a dense convolution with this kernel, stride and channels runs as F(2 x 2, 3 x 3).
pub(super) fn pays(kh: usize, kw: usize, stride: usize, cin: usize, cout: usize) -> bool {
    kh == 3 && kw == 3 && stride == 1 && cin >= MIN_CHANNELS && cout >= MIN_CHANNELS
}

/// `U = G g Gᵀ` for every channel pair, from dense 3 x 3 weights `W[(ky * 3 + kx) * C_in + ci][co]`:
/// `U[(i * 4 + j) * C_in + ci][co]`, 16 row-major `[C_in, C_out]` matrices.
pub(super) fn weights(dense: &[f32], cin: usize, cout: usize) -> Vec<f32> {
    let mut u = vec![0.0f32; 16 * cin * cout];
    for ci in 0..cin {
        for co in 0..cout {
            let g = |ky: usize, kx: usize| dense[((ky * 3 + kx) * cin + ci) * cout + co];
            for (i, row) in G.iter().enumerate() {
                for (j, col) in G.iter().enumerate() {
                    let term =
                        |(ky, a): (usize, &f32)| a * col.iter().enumerate().map(|(kx, b)| g(ky, kx) * b).sum::<f32>();
                    u[((i * 4 + j) * cin + ci) * cout + co] = row.iter().enumerate().map(term).sum();
                }
            }
        }
    }
    u
}

/// The convolution of `x` (`C_in` channels) by F(2 x 2, 3 x 3) with weights `u` (from
/// [`weights`]) into `out` (`C_out` channels, `oh x ow` pixels, the input padded by `top` and
/// `left` before), then `finish(rows, first)` on each block's output rows from row `first`: the
/// same epilogue as the direct path. Blocks of whole tile rows (two output rows each, one at an
/// odd bottom edge) run in parallel, so each block's output rows are contiguous; a block
/// holds `V` and `M` as `[T][16][C]`, the 16 GEMMs reading them at a row stride of `16 C`.
pub(super) fn convolve(
    x: &Nhwc,
    u: &[f32],
    [cin, cout]: [usize; 2],
    g: [usize; 4],
    out: &mut [f32],
    finish: impl Fn(&mut [f32], usize) + Sync,
) {
    let [oh, ow, top, left] = g;
    let (tile_rows, tile_cols) = (oh.div_ceil(2), ow.div_ceil(2));
    let band = balanced(x.n * tile_rows, (BLOCK_TILES / tile_cols).max(1));
    // The first output row of tile row `q` over the whole batch (`q` up to their count).
    let row_of = |q: usize| q / tile_rows * oh + (q % tile_rows) * 2;
    let mut blocks = Vec::new();
    let mut rest = out;
    for start in (0..x.n * tile_rows).step_by(band) {
        let end = (start + band).min(x.n * tile_rows);
        let (dst, tail) = rest.split_at_mut((row_of(end) - row_of(start)) * ow * cout);
        blocks.push((start..end, dst));
        rest = tail;
    }
    let parallelism = parallelism(blocks.len());
    blocks.into_par_iter().for_each(|(rows, dst)| {
        let t = rows.len() * tile_cols;
        BLOCK.with_borrow_mut(|block| {
            block.resize(16 * t * (cin + cout), 0.0);
            let (v, m) = block.split_at_mut(16 * t * cin);
            for (j, patch) in v.chunks_exact_mut(16 * cin).enumerate() {
                let q = rows.start + j / tile_cols;
                input_tile(x, [top, left], q / tile_rows, 2 * (q % tile_rows), 2 * (j % tile_cols), patch);
            }
            for el in 0..16 {
                // SAFETY: `v` holds `t` rows of 16 `cin`-vectors and `m` of 16 `cout`-vectors,
                // element `el` of each row `el * c` values in; `u` is 16 `[cin, cout]` matrices.
                unsafe {
                    matmul(
                        [t, cout, cin],
                        m[el * cout..].as_mut_ptr(),
                        16 * cout,
                        v[el * cin..].as_ptr(),
                        16 * cin,
                        u[el * cin * cout..].as_ptr(),
                        parallelism,
                    )
                }
            }
            let first_row = row_of(rows.start);
            for (j, product) in m.chunks_exact_mut(16 * cout).enumerate() {
                let q = rows.start + j / tile_cols;
                let (row, col) = (row_of(q) - first_row, 2 * (j % tile_cols));
                let height = (oh - 2 * (q % tile_rows)).min(2);
                output_tile(product, cout, [row, col], [height, (ow - col).min(2)], ow, dst);
            }
        });
        finish(dst, row_of(rows.start) * ow);
    });
}

/// `V = Bᵀ d B` of the 4 x 4 input patch under the output tile at (`oy`, `ox`) of `image`,
/// into `patch` as 16 `C_in`-vectors, element `(i, j)` at `i * 4 + j`.
fn input_tile(x: &Nhwc, [top, left]: [usize; 2], image: usize, oy: usize, ox: usize, patch: &mut [f32]) {
    for (k, dst) in patch.chunks_exact_mut(x.c).enumerate() {
        let iy = (oy + k / 4).checked_sub(top).filter(|&y| y < x.h);
        let ix = (ox + k % 4).checked_sub(left).filter(|&v| v < x.w);
        match (iy, ix) {
            (Some(iy), Some(ix)) => dst.copy_from_slice(x.pixel(image, iy, ix)),
            _ => dst.fill(0.0),
        }
    }
    both_axes(patch, x.c, input_pass);
}

/// `Y = Aᵀ M A` of one tile's products (16 `C_out`-vectors, overwritten), its `height x width`
/// (clipped at the output's edge) pixels written at (`row`, `col`) of `dst`, rows `ow` pixels wide.
fn output_tile(
    product: &mut [f32],
    cout: usize,
    [row, col]: [usize; 2],
    [height, width]: [usize; 2],
    ow: usize,
    dst: &mut [f32],
) {
    both_axes(product, cout, output_pass);
    for i in 0..height {
        for j in 0..width {
            let at = ((row + i) * ow + col + j) * cout;
            dst[at..at + cout].copy_from_slice(&product[(i * 4 + j) * cout..(i * 4 + j + 1) * cout]);
        }
    }
}

/// A 1-D transform of four vectors in place, applied by [`both_axes`].
type Pass = fn([&mut [f32]; 4]);

/// `pass` down the columns, then along the rows, of a 4 x 4 tile of `c`-vectors (element `(i, j)`
/// at `i * 4 + j`): `Xᵀ t X` when `pass` maps a column `t` to `Xᵀ t`.
fn both_axes(tile: &mut [f32], c: usize, pass: Pass) {
    let mut it = tile.chunks_exact_mut(c);
    let mut v: [&mut [f32]; 16] = std::array::from_fn(|_| it.next().expect("a tile holds 16 vectors"));
    for lines in [[0, 4, 8, 12], [1, 5, 9, 13], [2, 6, 10, 14], [3, 7, 11, 15]].into_iter().chain([
        [0, 1, 2, 3],
        [4, 5, 6, 7],
        [8, 9, 10, 11],
        [12, 13, 14, 15],
    ]) {
        let four = v.get_disjoint_mut(lines).expect("distinct elements");
        pass(four.map(|s| &mut **s));
    }
}

/// `Bᵀ d` on four vectors: `(d0 - d2, d1 + d2, d2 - d1, d1 - d3)`.
fn input_pass([d0, d1, d2, d3]: [&mut [f32]; 4]) {
    for (((a, b), c), d) in d0.iter_mut().zip(d1.iter_mut()).zip(d2.iter_mut()).zip(d3.iter_mut()) {
        let (x0, x1, x2, x3) = (*a, *b, *c, *d);
        *a = x0 - x2;
        *b = x1 + x2;
        *c = x2 - x1;
        *d = x1 - x3;
    }
}

/// `Aᵀ m` on four vectors, into the first two: `(m0 + m1 + m2, m1 - m2 - m3)`.
fn output_pass([m0, m1, m2, m3]: [&mut [f32]; 4]) {
    for (((a, b), c), d) in m0.iter_mut().zip(m1.iter_mut()).zip(m2.iter()).zip(m3.iter()) {
        let (x0, x1) = (*a, *b);
        *a = x0 + x1 + c;
        *b = x1 - c - d;
    }
}
