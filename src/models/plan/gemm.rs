//! The GEMM both convolution paths make ([`super::conv`]'s direct one and [`super::winograd`]),
//! through the `gemm` crate burn Flex itself calls, and how it uses the threads.

use gemm::{Parallelism, gemm};

/// How the GEMMs of a convolution cut into `tiles` parallel tiles use the threads: each tile on
/// one thread, or each GEMM split over all of them when there are fewer tiles than threads.
pub fn parallelism(tiles: usize) -> Parallelism {
    if tiles < rayon::current_num_threads() { Parallelism::Rayon(0) } else { Parallelism::None }
}

/// `dst[M, N] = lhs[M, K] rhs[K, N]` with `[m, n, k]`, each matrix row-major with its columns
/// contiguous and its rows `*_row` values apart.
///
/// # Safety
/// Each pointer must address its whole matrix at those strides, and `dst` no other.
pub unsafe fn matmul(
    [m, n, k]: [usize; 3],
    dst: *mut f32,
    dst_row: usize,
    lhs: *const f32,
    lhs_row: usize,
    rhs: *const f32,
    parallelism: Parallelism,
) {
    // SAFETY: the caller's contract; `rhs` rows are `n` apart.
    unsafe {
        gemm(
            m,
            n,
            k,
            dst,
            1,
            dst_row as isize,
            false,
            lhs,
            1,
            lhs_row as isize,
            rhs,
            1,
            n as isize,
            0.0,
            1.0,
            false,
            false,
            false,
            parallelism,
        )
    }
}
