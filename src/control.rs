//! Progress reporting and cancellation for long work (methods, exports, training): a caller hands in a flag it may set
//! from another thread and, optionally, a callback that receives progress and partial maps.

use crate::error::{LanternError, Result};
use crate::map::WeightMap;
use std::sync::atomic::{AtomicBool, Ordering};

/// How far a long method has come; `partial` is the map from the work done so far, when the
/// method can give one.
#[derive(Debug, Clone, Copy)]
pub struct Progress<'a> {
    pub done: usize,
    pub total: usize,
    pub partial: Option<&'a WeightMap>,
}

/// Cancellation flag and progress callback of one method run.
pub struct Control<'a> {
    cancel: &'a AtomicBool,
    on_progress: Option<&'a mut dyn FnMut(Progress<'_>)>,
}

static NEVER: AtomicBool = AtomicBool::new(false);

impl<'a> Control<'a> {
    /// No cancellation, no progress.
    pub fn none() -> Control<'static> {
        Control { cancel: &NEVER, on_progress: None }
    }

    pub fn new(cancel: &'a AtomicBool) -> Self {
        Self { cancel, on_progress: None }
    }

    pub fn with_progress(cancel: &'a AtomicBool, on_progress: &'a mut dyn FnMut(Progress<'_>)) -> Self {
        Self { cancel, on_progress: Some(on_progress) }
    }

    /// The cancel flag, for a nested run that reports its own progress (or none).
    pub fn cancel_flag(&self) -> &'a AtomicBool {
        self.cancel
    }

    /// `Err(Cancelled)` once the flag is set.
    pub fn check(&self) -> Result<()> {
        if self.cancel.load(Ordering::Relaxed) { Err(LanternError::Cancelled) } else { Ok(()) }
    }

    pub fn report(&mut self, done: usize, total: usize, partial: Option<&WeightMap>) {
        if let Some(f) = self.on_progress.as_mut() {
            f(Progress { done, total, partial });
        }
    }

    /// Whether anyone listens for partial maps (computing them has a cost).
    pub fn wants_partials(&self) -> bool {
        self.on_progress.is_some()
    }
}
