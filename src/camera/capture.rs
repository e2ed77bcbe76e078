//! The capture thread: it opens a camera and reads frames as fast as the camera gives them into a
//! [`LatestSlot`], so whoever reads the feed gets the newest frame and never a backlog.

use super::slot::{LatestSlot, Rate};
use super::{CameraChoice, Frame};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use web_time::Instant;

/// What the capture thread shares with the reader.
#[derive(Default)]
struct Feed {
    slot: LatestSlot<Frame>,
    captured: Rate,
    /// Why the camera could not be opened or stopped giving frames.
    failed: Option<String>,
}

/// A camera read on a thread of its own. Dropping it stops the thread after the frame it waits
/// for (the reader never waits on it).
pub struct Capture {
    feed: Arc<Mutex<Feed>>,
    stop: Arc<AtomicBool>,
}

impl Capture {
    /// Open `choice` on a new thread and read it until dropped; `repaint` is called after every
    /// frame (and after a failure).
    pub fn start(choice: CameraChoice, repaint: impl Fn() + Send + 'static) -> Self {
        let feed = Arc::new(Mutex::new(Feed::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let (thread_feed, thread_stop) = (Arc::clone(&feed), Arc::clone(&stop));
        let spawned = std::thread::Builder::new().name("lantern-camera".into()).spawn(move || {
            // A camera driver that panics (nokhwa unwraps when a stream it drops was lost)
            // ends the feed with the reason instead of a silent thread.
            let read = std::panic::AssertUnwindSafe(|| read(choice, &thread_feed, &thread_stop, &repaint));
            if let Err(panic) = std::panic::catch_unwind(read) {
                let why = crate::error::panic_message(panic.as_ref()).unwrap_or_else(|| "it panicked".into());
                lock(&thread_feed).failed = Some(format!("{choice} failed: {why}"));
                repaint();
            }
        });
        if let Err(e) = spawned {
            lock(&feed).failed = Some(format!("could not start the camera thread: {e}"));
        }
        Self { feed, stop }
    }

    /// The newest frame, if nobody took it yet; it is taken (see [`LatestSlot::take`]).
    pub fn take(&self) -> Option<Frame> {
        lock(&self.feed).slot.take()
    }

    /// The newest frame captured, taken or not.
    pub fn newest(&self) -> Option<Frame> {
        lock(&self.feed).slot.newest().cloned()
    }

    /// Frames captured, and frames replaced before anyone took them.
    pub fn counts(&self) -> (u64, u64) {
        let feed = lock(&self.feed);
        (feed.slot.put_count(), feed.slot.dropped())
    }

    /// Frames captured per second, lately.
    pub fn fps(&self) -> f64 {
        lock(&self.feed).captured.per_second(Instant::now())
    }

    /// Why the camera could not be opened, or stopped giving frames.
    pub fn failed(&self) -> Option<String> {
        lock(&self.feed).failed.clone()
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// The feed, even if a reader panicked while holding it (its plain counters stay usable).
fn lock(feed: &Mutex<Feed>) -> MutexGuard<'_, Feed> {
    feed.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The capture thread: open the camera, then put each frame in the slot until told to stop.
fn read(choice: CameraChoice, feed: &Mutex<Feed>, stop: &AtomicBool, repaint: &dyn Fn()) {
    let mut source = match super::open(choice) {
        Ok(source) => source,
        Err(e) => {
            lock(feed).failed = Some(e.to_string());
            return repaint();
        }
    };
    while !stop.load(Ordering::Relaxed) {
        match source.next_frame() {
            Ok(frame) => {
                let mut feed = lock(feed);
                feed.slot.put(frame);
                feed.captured.tick(Instant::now());
            }
            Err(e) => {
                lock(feed).failed = Some(format!("{choice} stopped: {e}"));
                return repaint();
            }
        }
        repaint();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn the_synthetic_camera_fills_the_slot_with_its_newest_frame_until_dropped() {
        let capture = Capture::start(CameraChoice::Synthetic, || {});
        let start = Instant::now();
        while capture.counts().0 < 3 {
            assert!(start.elapsed() < Duration::from_secs(30), "no frames");
            std::thread::sleep(Duration::from_millis(5));
        }
        assert!(capture.failed().is_none());
        let first = capture.take().expect("an untaken frame");
        std::thread::sleep(Duration::from_millis(200));
        let (captured, dropped) = capture.counts();
        let newest = capture.take().expect("newer frames came");
        assert!(newest.index > first.index && newest.index + 1 >= captured);
        assert!(dropped >= 1, "frames nobody took while we slept are dropped: {captured} {dropped}");
        drop(capture);
    }
}
