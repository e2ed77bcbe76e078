//! The GEMM both convolution paths make ([`super::conv`]'s direct one and [`super::winograd`]),
//! through the `gemm` crate burn Flex itself calls, and how it uses the threads.

use gemm::{Parallelism, gemm};

/// How the GEMMs of a convolution cut into `tiles` parallel tiles use the threads: each tile on
/// one thread, or each GEMM split over all of them when there are fewer tiles than threads.
pub fn parallelism(tiles: usize) -> Parallelism {
    if tiles < rayon::current_num_threads() { Parallelism::Rayon(0) } else { Parallelism::None }
}

/// The size of the chunks `total` items are cut into for the threads: at most `most`, and as
/// large as it can be while the thread with the most chunks (they are dealt out evenly) has at
/// most 1/8 more items than an even share. A batch of one image has few tiles in its deep
/// layers, where the largest chunk leaves a thread idle part of the time (ResNet-50's 28 x 28
/// maps: 784 output pixels, one tile of 512 and one of 272; now 441 and 343).
pub fn balanced(total: usize, most: usize) -> usize {
    let threads = rayon::current_num_threads();
    let most = most.max(1);
    if threads < 2 || total <= 1 {
        return most;
    }
    let even = total as f64 / threads as f64;
    (1..=most)
        .rev()
        .find(|&size| {
            let chunks = total.div_ceil(size);
            let heaviest = chunks.div_ceil(threads) * size;
            heaviest.min(total) as f64 <= 1.125 * even
        })
        .unwrap_or(1)
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

#[cfg(test)]
mod tests {
    use super::balanced;

    fn with_threads<T: Send>(threads: usize, f: impl FnOnce() -> T + Send) -> T {
        rayon::ThreadPoolBuilder::new().num_threads(threads).build().expect("a thread pool").install(f)
    }

    #[test]
    fn chunks_are_dealt_evenly_to_two_threads() {
        with_threads(2, || {
            // One image's 28 x 28 map: 441 + 343 (within 1/8 of an even share) instead of
            // 512 + 272.
            assert_eq!(balanced(784, 512), 441);
            // A 7 x 7 map, smaller than one chunk: 27 + 22.
            assert_eq!(balanced(49, 512), 27);
            // Many chunks already balance: the largest size stays.
            assert_eq!(balanced(100_000, 512), 512);
            // Odd totals of a few items cannot be within 1/8 (3 items: 2 + 1): those take size 1.
            assert_eq!(balanced(3, 512), 1);
            for total in [2, 100, 3136, 12544] {
                let size = balanced(total, 512);
                let chunks = total.div_ceil(size);
                let heaviest = (chunks.div_ceil(2) * size).min(total);
                assert!(size <= 512 && heaviest as f64 <= 1.125 * total as f64 / 2.0, "{total}: {size}");
            }
        });
    }

    #[test]
    fn one_thread_takes_the_largest_chunks() {
        with_threads(1, || assert_eq!(balanced(784, 512), 512));
    }
}
