//! Activation buffers reused from one layer and one batch to the next, so the planned path does
//! not map fresh pages for every layer's output (glibc serves buffers above its mmap threshold,
//! 128 KiB by default, with fresh zero pages that fault on first touch).

use std::sync::Mutex;

/// Buffers kept for reuse at most, per thread: enough for a residual block's live values in
/// each thread's sub-batch ([`super::Plan::logits`]).
const KEPT_PER_THREAD: usize = 8;

/// A pool of `f32` buffers.
#[derive(Default)]
pub struct Buffers(Mutex<Vec<Vec<f32>>>);

impl std::fmt::Debug for Buffers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let held = self.0.lock().map(|b| b.len()).unwrap_or(0);
        write!(f, "Buffers({held} held)")
    }
}

impl Buffers {
    /// A buffer of `len` values, reusing a held one: the shortest that already holds `len`
    /// values (no value written), else the smallest whose capacity fits (zeros written past its
    /// values), else the largest (grown). A run that repeats the same sizes (every batch through
    /// the same network) then finds each size held at its length and writes nothing. Its contents
    /// are unspecified: callers overwrite every value.
    pub fn take(&self, len: usize) -> Vec<f32> {
        let mut held = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let shortest = |key: fn(&Vec<f32>) -> usize| {
            held.iter().enumerate().filter(|(_, b)| key(b) >= len).min_by_key(|(_, b)| key(b)).map(|(i, _)| i)
        };
        let fit = shortest(Vec::len)
            .or_else(|| shortest(Vec::capacity))
            .or_else(|| held.iter().enumerate().max_by_key(|(_, b)| b.capacity()).map(|(i, _)| i));
        let mut buffer = fit.map(|i| held.swap_remove(i)).unwrap_or_default();
        drop(held);
        buffer.resize(len, 0.0);
        buffer
    }

    /// Hand `buffer` back for reuse (dropped when enough are held).
    pub fn give(&self, buffer: Vec<f32>) {
        let mut held = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if held.len() < KEPT_PER_THREAD * rayon::current_num_threads() {
            held.push(buffer);
        } else if let Some(smallest) = held.iter_mut().min_by_key(|b| b.capacity())
            && smallest.capacity() < buffer.capacity()
        {
            *smallest = buffer;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Buffers;

    #[test]
    fn a_buffer_already_holding_enough_values_is_preferred() {
        let pool = Buffers::default();
        let (mut long, short) = (pool.take(1000), pool.take(400));
        long.truncate(10);
        let (long_ptr, short_ptr) = (long.as_ptr(), short.as_ptr());
        pool.give(long);
        pool.give(short);
        // The short buffer holds 400 values: taking 300 writes none, though the long one's
        // capacity fits too; 900 needs the long one's capacity.
        let (a, b) = (pool.take(300), pool.take(900));
        assert_eq!((a.as_ptr(), b.as_ptr()), (short_ptr, long_ptr));
    }

    #[test]
    fn a_returned_buffer_is_reused_without_a_new_allocation() {
        let pool = Buffers::default();
        let a = pool.take(1000);
        let pointer = a.as_ptr();
        pool.give(a);
        let b = pool.take(800);
        assert_eq!(b.len(), 800);
        assert_eq!(b.as_ptr(), pointer);
    }
}
