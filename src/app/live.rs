//! Camera mode: the camera's capture thread, the newest frame shown (in the two forms the canvas
//! draws) and the explanation lane of the frames. The worker explains the newest frame whenever
//! it is free; frames captured while it was busy are replaced by newer ones, never queued, and
//! counted as dropped ([`crate::camera::slot::LatestSlot`]).

use super::images::Decoded;
use super::jobs::camera::ExplainedFrame;
use super::lane::{Finished, JobError, JobLane, Token, fresh_map_key};
use crate::camera::capture::Capture;
use crate::camera::slot::Rate;
use crate::camera::{CameraChoice, Frame};
use web_time::Instant;

/// A frame on screen: the frame, its pixels as the canvas draws them, and the key of its upload.
pub struct ShownFrame {
    pub frame: Frame,
    pub decoded: Decoded,
    /// Changes with every frame shown ([`fresh_map_key`] keys never repeat).
    pub key: u64,
}

/// The rates and counts the status bar shows.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CameraRates {
    /// Frames captured per second, lately.
    pub fps: f64,
    /// Frames explained per second, lately.
    pub explained_per_second: f64,
    pub captured: u64,
    pub explained: u64,
    /// Frames replaced by newer ones before the worker took them.
    pub dropped: u64,
}

impl std::fmt::Display for CameraRates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Camera: {:.1} fps, explained {:.1}/s, dropped {} of {}",
            self.fps, self.explained_per_second, self.dropped, self.captured
        )
    }
}

/// The open camera.
pub struct LiveCamera {
    pub choice: CameraChoice,
    capture: Capture,
    shown: Option<ShownFrame>,
    /// The frame being explained (by its index) and the last explained frame.
    lane: JobLane<u64, ExplainedFrame>,
    /// Changes whenever the explained frame does.
    map_key: u64,
    explained: Rate,
    explained_count: u64,
}

impl LiveCamera {
    /// Open `choice` on its capture thread; `repaint` is called after every frame.
    pub fn open(choice: CameraChoice, repaint: impl Fn() + Send + 'static) -> Self {
        Self {
            choice,
            capture: Capture::start(choice, repaint),
            shown: None,
            lane: JobLane::default(),
            map_key: 0,
            explained: Rate::default(),
            explained_count: 0,
        }
    }

    /// Why the camera could not be opened, or stopped.
    pub fn failed(&self) -> Option<String> {
        self.capture.failed()
    }

    /// Show the newest frame captured (once per UI frame).
    pub fn refresh(&mut self) {
        let Some(frame) = self.capture.newest() else { return };
        if self.shown.as_ref().is_some_and(|s| s.frame.index == frame.index) {
            return;
        }
        let decoded = Decoded::new(std::sync::Arc::clone(&frame.image));
        self.shown = Some(ShownFrame { frame, decoded, key: fresh_map_key() });
    }

    /// The frame on screen.
    pub fn shown(&self) -> Option<&ShownFrame> {
        self.shown.as_ref()
    }

    /// The newest frame nobody explained, when the worker is free for it (it is taken: the
    /// next one will be newer).
    pub fn next_to_explain(&mut self) -> Option<Frame> {
        if self.lane.pending() {
            return None;
        }
        self.capture.take()
    }

    /// Record that frame `index` was sent to the worker; its token goes with it.
    pub fn request(&mut self, index: u64) -> Token {
        self.lane.request(index)
    }

    /// The worker's answer for the frame with `token`.
    pub fn finish(&mut self, token: Token, result: Result<ExplainedFrame, JobError>) -> Finished {
        let finished = self.lane.finish(token, result);
        if matches!(finished, Finished::Done) {
            self.explained.tick(Instant::now());
            self.explained_count += 1;
            self.map_key = fresh_map_key();
        }
        finished
    }

    /// A frame is being explained.
    pub fn pending(&self) -> bool {
        self.lane.pending()
    }

    /// The last frame explained, with its explanation.
    pub fn explained(&self) -> Option<&ExplainedFrame> {
        self.lane.output()
    }

    /// The key of the map shown (changes with every explained frame).
    pub fn map_key(&self) -> u64 {
        self.map_key
    }

    /// The rates and counts, now.
    pub fn rates(&self) -> CameraRates {
        let now = Instant::now();
        let (captured, dropped) = self.capture.counts();
        CameraRates {
            fps: self.capture.fps(),
            explained_per_second: self.explained.per_second(now),
            captured,
            explained: self.explained_count,
            dropped,
        }
    }
}
