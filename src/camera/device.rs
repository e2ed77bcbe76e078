//! A real camera, read through `nokhwa` (Video4Linux on Linux, Media Foundation on Windows,
//! AVFoundation on macOS), at the highest frame rate it offers, each frame decoded to RGB.

use super::{Frame, FrameSource};
use crate::error::{LanternError, Result};
use image::RgbImage;
use nokhwa::Camera;
use nokhwa::pixel_format::RgbFormat;
use nokhwa::utils::{ApiBackend, CameraIndex, RequestedFormat, RequestedFormatType};
use std::sync::Arc;

/// Whether the system has a camera with this index.
pub fn check(index: u32) -> Result<()> {
    let cameras = nokhwa::query(ApiBackend::Auto)
        .map_err(|e| LanternError::BadArgument(format!("no camera could be listed: {e}")))?;
    match cameras.len() {
        0 => Err(LanternError::BadArgument("no camera found on this machine".into())),
        n if index as usize >= n => {
            Err(LanternError::BadArgument(format!("there is no camera {index}: this machine has {n} (0..{n})")))
        }
        _ => Ok(()),
    }
}

/// An open camera, streaming.
pub struct DeviceCamera {
    camera: Camera,
    index: u64,
}

impl DeviceCamera {
    /// Open camera `index` and start its stream.
    pub fn open(index: u32) -> Result<Self> {
        check(index)?;
        let format = RequestedFormat::new::<RgbFormat>(RequestedFormatType::AbsoluteHighestFrameRate);
        let opening =
            |e: nokhwa::NokhwaError| LanternError::BadArgument(format!("camera {index} cannot be opened: {e}"));
        let mut camera = Camera::new(CameraIndex::Index(index), format).map_err(opening)?;
        camera.open_stream().map_err(opening)?;
        Ok(Self { camera, index: 0 })
    }
}

impl FrameSource for DeviceCamera {
    fn next_frame(&mut self) -> Result<Frame> {
        let failed = |e: nokhwa::NokhwaError| LanternError::Device(format!("reading the camera: {e}"));
        let decoded = self.camera.frame().map_err(failed)?.decode_image::<RgbFormat>().map_err(failed)?;
        let (width, height) = (decoded.width(), decoded.height());
        // Through raw bytes: nokhwa may build on another version of the `image` crate.
        let image = RgbImage::from_raw(width, height, decoded.into_raw()).ok_or_else(|| {
            LanternError::Device(format!("the camera gave a {width}x{height} frame of the wrong size"))
        })?;
        let index = self.index;
        self.index += 1;
        Ok(Frame { index, image: Arc::new(image), object: None })
    }
}
