//! Live frames: a [`FrameSource`] (a real camera through `nokhwa`, in builds with the `camera`
//! feature, or [`synthetic::SyntheticCamera`], a moving procedural scene), a capture thread that
//! keeps only the newest frame ([`capture::Capture`], never a queue: frames nobody took are
//! counted as dropped) and the rates shown to the user ([`slot::Rate`]).

pub mod capture;
#[cfg(feature = "camera")]
mod device;
pub mod slot;
pub mod synthetic;

use crate::error::Result;
use crate::map::PixelBox;
use image::RgbImage;
use std::sync::Arc;

/// One captured frame.
#[derive(Debug, Clone)]
pub struct Frame {
    /// Its place in the capture (0 for the first frame).
    pub index: u64,
    pub image: Arc<RgbImage>,
    /// The moving object's box, in frame pixels, when the source knows it (the synthetic scene).
    pub object: Option<PixelBox>,
}

/// Something that gives frames one after another, at the rate it can.
pub trait FrameSource {
    /// The next frame, waiting until the source has one.
    fn next_frame(&mut self) -> Result<Frame>;
}

/// Which camera to open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CameraChoice {
    /// The system's camera with this index (0: the first).
    Device(u32),
    /// The moving procedural scene of [`synthetic`] (for tests, and a talk without a camera).
    Synthetic,
}

impl CameraChoice {
    /// Read `--camera`'s value: a camera index, or `synthetic`.
    pub fn parse(text: &str) -> std::result::Result<Self, String> {
        match text.trim() {
            "synthetic" => Ok(CameraChoice::Synthetic),
            t => t
                .parse()
                .map(CameraChoice::Device)
                .map_err(|_| format!("'{t}' is not a camera: give its index (0 for the first) or 'synthetic'")),
        }
    }
}

impl std::fmt::Display for CameraChoice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CameraChoice::Device(i) => write!(f, "camera {i}"),
            CameraChoice::Synthetic => f.write_str("synthetic camera"),
        }
    }
}

/// Why this build cannot open a real camera.
#[cfg(not(feature = "camera"))]
pub const NO_CAMERA_SUPPORT: &str = "this build of Lantern has no camera support: build it with \
     `cargo build --release --features camera` (on Linux this needs libclang and the V4L2 headers), \
     or try the moving synthetic scene with `lantern open --camera synthetic`";

/// Whether `choice` can be opened: the camera exists (and this build can read cameras). A
/// missing camera is the user's to fix, so it is a [`LanternError::BadArgument`].
pub fn check(choice: CameraChoice) -> Result<()> {
    match choice {
        CameraChoice::Synthetic => Ok(()),
        #[cfg(feature = "camera")]
        CameraChoice::Device(index) => device::check(index),
        #[cfg(not(feature = "camera"))]
        CameraChoice::Device(_) => Err(crate::error::LanternError::BadArgument(NO_CAMERA_SUPPORT.into())),
    }
}

/// Open `choice` as a source of frames (on the thread that will read it: a camera handle may not
/// move between threads).
pub fn open(choice: CameraChoice) -> Result<Box<dyn FrameSource>> {
    match choice {
        CameraChoice::Synthetic => Ok(Box::new(synthetic::SyntheticCamera::new(synthetic::SEED))),
        #[cfg(feature = "camera")]
        CameraChoice::Device(index) => Ok(Box::new(device::DeviceCamera::open(index)?)),
        #[cfg(not(feature = "camera"))]
        CameraChoice::Device(_) => Err(crate::error::LanternError::BadArgument(NO_CAMERA_SUPPORT.into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(not(feature = "camera"))]
    use crate::error::LanternError;

    #[test]
    fn a_camera_is_an_index_or_the_synthetic_scene() {
        assert_eq!(CameraChoice::parse("0"), Ok(CameraChoice::Device(0)));
        assert_eq!(CameraChoice::parse(" 2 "), Ok(CameraChoice::Device(2)));
        assert_eq!(CameraChoice::parse("synthetic"), Ok(CameraChoice::Synthetic));
        assert!(CameraChoice::parse("webcam").unwrap_err().contains("'webcam' is not a camera"));
        assert!(check(CameraChoice::Synthetic).is_ok());
        #[cfg(not(feature = "camera"))]
        for result in [check(CameraChoice::Device(0)).err(), open(CameraChoice::Device(0)).err()] {
            assert!(matches!(result, Some(LanternError::BadArgument(m)) if m.contains("no camera support")));
        }
    }
}
