//! The image types of the app: where an image comes from, an image decoded in the two forms the
//! views need, and how far the loading of something has got.

use crate::imaging;
use image::{RgbImage, RgbaImage};
use std::path::PathBuf;
use std::sync::Arc;

/// A file the web page was given (dropped on it or picked in the browser's dialog): its name
/// and contents, as a page never learns a file's path.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FileBytes {
    pub name: String,
    pub bytes: Arc<[u8]>,
}

/// Where an image comes from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ImageSource {
    File(PathBuf),
    /// An image given to the web page.
    Given(FileBytes),
    /// A bundled demo image.
    Bytes {
        name: String,
        bytes: &'static [u8],
    },
    /// A camera frame kept as an image (frozen in camera mode), named for its place in the
    /// capture.
    Captured {
        name: String,
        image: Arc<RgbImage>,
    },
}

impl ImageSource {
    pub fn name(&self) -> String {
        match self {
            ImageSource::File(p) => {
                p.file_name().map_or_else(|| p.display().to_string(), |n| n.to_string_lossy().to_string())
            }
            ImageSource::Bytes { name, .. } | ImageSource::Captured { name, .. } => name.clone(),
            ImageSource::Given(file) => file.name.clone(),
        }
    }

    pub fn decode(&self) -> crate::error::Result<RgbImage> {
        match self {
            ImageSource::File(p) => imaging::load_image(p),
            ImageSource::Bytes { name, bytes } => imaging::decode_image_bytes(bytes, std::path::Path::new(name)),
            ImageSource::Given(file) => imaging::decode_image_bytes(&file.bytes, std::path::Path::new(&file.name)),
            ImageSource::Captured { image, .. } => Ok((**image).clone()),
        }
    }
}

/// A decoded image, kept in the two forms the views need.
#[derive(Debug, Clone)]
pub struct Decoded {
    pub rgb: Arc<RgbImage>,
    pub rgba: Arc<RgbaImage>,
}

impl Decoded {
    /// Both forms of `rgb`.
    pub fn new(rgb: Arc<RgbImage>) -> Self {
        let rgba = Arc::new(image::DynamicImage::ImageRgb8((*rgb).clone()).into_rgba8());
        Self { rgb, rgba }
    }
}

/// How far the loading of a gallery image, thumbnail or mask has got.
pub enum LoadState<T> {
    No,
    Pending,
    Ready(T),
    Failed(String),
}

impl<T> LoadState<T> {
    /// The loaded value, or why there is none, from a loading job's answer.
    pub fn from_result<E: std::fmt::Display>(result: Result<T, E>) -> Self {
        match result {
            Ok(v) => LoadState::Ready(v),
            Err(e) => LoadState::Failed(e.to_string()),
        }
    }
}
