//! A camera without hardware: the moving procedural scene of
//! [`crate::datasets::synth_motion`], one frame every [`INTERVAL`], each with the object's box.
//! `lantern open --camera synthetic` opens it; tests use it to check that the live explanation
//! follows the object.

use super::{Frame, FrameSource};
use crate::datasets::synth_motion::MovingScene;
use crate::error::Result;
use std::sync::Arc;
use web_time::{Duration, Instant};

/// The scene shown (its background, object and path follow from it).
pub const SEED: u64 = 7;
/// The side of the square frames, pixels.
pub const SIZE: u32 = 224;
/// Time between frames: 30 frames a second, as a common webcam.
pub const INTERVAL: Duration = Duration::from_micros(33_333);

/// The moving scene, paced like a camera.
pub struct SyntheticCamera {
    scene: MovingScene,
    index: u64,
    next_due: Option<Instant>,
}

impl SyntheticCamera {
    pub fn new(seed: u64) -> Self {
        Self { scene: MovingScene::new(seed, SIZE), index: 0, next_due: None }
    }
}

impl FrameSource for SyntheticCamera {
    /// Frame `index` of the scene, once its time has come (frames are not made faster than a
    /// camera would give them; a late reader gets the next frame at once, not a burst).
    fn next_frame(&mut self) -> Result<Frame> {
        let now = Instant::now();
        if let Some(due) = self.next_due.filter(|due| *due > now) {
            std::thread::sleep(due - now);
        }
        self.next_due = Some(self.next_due.map_or(now, |due| due.max(now)) + INTERVAL);
        let frame = self.scene.frame(self.index);
        let index = self.index;
        self.index += 1;
        Ok(Frame { index, image: Arc::new(frame.image), object: Some(frame.bbox) })
    }
}
