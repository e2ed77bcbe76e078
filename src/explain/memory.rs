//! Batch sizes that fit in free memory.
//!
//! The perturbation and sampling methods run their model passes in batches of `Params::batch`
//! images. That number is an upper bound: before such a method runs, the batch is lowered so that
//! one batch's working set (per image, twice the bytes of every stage's output, an allowance for
//! the convolutions' im2col buffers and the backward pass of the gradient methods) stays within
//! half of the memory the system reports free, and for gradient passes within a fixed budget
//! too ([`fit_gradient_batch`]). Batch size never changes a map, only how many images share a
//! model pass.

/// Fraction of the free memory one batch may take.
const BUDGET_SHARE: u64 = 2;
/// The working set a batch of gradient passes may take, however much memory is free: burn's
/// backward pass keeps every activation of the batch, and past about this size a larger batch is
/// slower per image, not faster. Measured on ResNet-50 at 224² (52 MB per image by
/// [`working_bytes_per_image`]; release build, 2 threads, Integrated Gradients with 50 steps):
/// batch 12: 8.6 s, 16: 8.5 s, 19: 7.9 s, 20: 8.1 s, 24: 13.2 s, 32: 11.9 s; SmoothGrad with 50
/// samples at 16: 8.6 s, at 32: 10.8 s. 1 GiB allows 20 images there, and hundreds on small models.
const GRADIENT_BATCH_BYTES: u64 = 1 << 30;
/// Working bytes per image, as a multiple of the bytes of all stage outputs.
const WORKING_SET_FACTOR: u64 = 2;

/// Bytes the system can still hand out without swapping (Linux `MemAvailable`); `None` where it
/// cannot be read.
pub fn available_bytes() -> Option<u64> {
    parse_mem_available(&std::fs::read_to_string("/proc/meminfo").ok()?)
}

/// `MemAvailable` of a `/proc/meminfo` text, in bytes.
fn parse_mem_available(meminfo: &str) -> Option<u64> {
    let line = meminfo.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kib.checked_mul(1024)
}

/// A batch's working bytes per image, from the bytes of every stage's output for one image.
pub fn working_bytes_per_image(stage_output_bytes: u64) -> u64 {
    stage_output_bytes.saturating_mul(WORKING_SET_FACTOR).max(1)
}

/// The largest batch, at most `requested` and at least 1, whose working set
/// (`per_image` bytes each) fits in `1 / BUDGET_SHARE` of `available` bytes; `requested` when
/// the free memory is unknown.
pub fn fit_batch(requested: usize, per_image: u64, available: Option<u64>) -> usize {
    let requested = requested.max(1);
    let Some(available) = available else { return requested };
    let fits = (available / BUDGET_SHARE) / per_image.max(1);
    requested.min(usize::try_from(fits).unwrap_or(usize::MAX)).max(1)
}

/// [`fit_batch`] for gradient passes: also within [`GRADIENT_BATCH_BYTES`].
pub fn fit_gradient_batch(requested: usize, per_image: u64, available: Option<u64>) -> usize {
    let budget = GRADIENT_BATCH_BYTES * BUDGET_SHARE;
    fit_batch(requested, per_image, Some(available.map_or(budget, |a| a.min(budget))))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MB: u64 = 1 << 20;

    #[test]
    fn reads_mem_available_in_bytes() {
        let text = "MemTotal:       24000000 kB\nMemFree:         1000 kB\nMemAvailable:   2048 kB\n";
        assert_eq!(parse_mem_available(text), Some(2048 * 1024));
        assert_eq!(parse_mem_available("MemTotal: 5 kB\n"), None);
        assert_eq!(parse_mem_available("MemAvailable: lots kB\n"), None);
    }

    #[test]
    fn the_requested_batch_is_kept_when_it_fits() {
        assert_eq!(fit_batch(32, 50 * MB, Some(20_000 * MB)), 32);
        assert_eq!(fit_batch(32, 50 * MB, None), 32);
    }

    #[test]
    fn the_batch_shrinks_to_half_the_free_memory_and_never_below_one() {
        // 1000 MB free: 500 MB for the batch, 10 images of 50 MB.
        assert_eq!(fit_batch(32, 50 * MB, Some(1000 * MB)), 10);
        assert_eq!(fit_batch(32, 50 * MB, Some(10 * MB)), 1);
        assert_eq!(fit_batch(0, 50 * MB, Some(1000 * MB)), 1);
        assert_eq!(fit_batch(32, 0, Some(0)), 1);
    }

    #[test]
    fn gradient_batches_stay_within_their_own_budget_too() {
        // ResNet-50 at 224²: 52,183,040 bytes per image, 20 images in 1 GiB, however much is free.
        let resnet50 = 52_183_040;
        assert_eq!(fit_gradient_batch(32, resnet50, Some(20_000 * MB)), 20);
        assert_eq!(fit_gradient_batch(32, resnet50, None), 20);
        // Less free memory still lowers it; small models keep the requested batch.
        assert_eq!(fit_gradient_batch(32, resnet50, Some(500 * MB)), 5);
        assert_eq!(fit_gradient_batch(32, MB, Some(20_000 * MB)), 32);
    }

    #[test]
    fn the_working_set_is_twice_the_stage_outputs() {
        assert_eq!(working_bytes_per_image(100), 200);
        assert_eq!(working_bytes_per_image(0), 1);
        assert_eq!(working_bytes_per_image(u64::MAX), u64::MAX);
    }
}
