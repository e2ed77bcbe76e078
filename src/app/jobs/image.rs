//! Loading images: a gallery image (kept by the worker for the explanations), its thumbnail,
//! and a dataset image's ground-truth mask.

use crate::app::images::ImageSource;
use crate::app::worker::{Cache, Job};
use crate::control::Control;
use crate::error::Result;
use image::{GrayImage, RgbImage};
use std::sync::Arc;

/// Side of the box a thumbnail fits in, pixels.
pub const THUMBNAIL_SIDE: u32 = 96;

/// Decode gallery image `id`; the worker keeps it for the explanations.
pub struct LoadImage {
    pub id: u64,
    pub source: ImageSource,
}

impl Job for LoadImage {
    type Output = Arc<RgbImage>;

    fn run(self, cache: &mut Cache, _: &mut Control) -> Result<Arc<RgbImage>> {
        let image = Arc::new(self.source.decode()?);
        cache.images.insert(self.id, Arc::clone(&image));
        Ok(image)
    }
}

/// An image's thumbnail.
pub struct LoadThumbnail(pub ImageSource);

impl Job for LoadThumbnail {
    type Output = RgbImage;

    fn run(self, _: &mut Cache, _: &mut Control) -> Result<RgbImage> {
        let img = self.0.decode()?;
        let (w, h) = thumbnail_size(img.width(), img.height(), THUMBNAIL_SIDE);
        Ok(image::imageops::thumbnail(&img, w, h))
    }
}

/// A dataset image's ground-truth mask.
pub struct LoadMask(pub crate::datasets::MaskSource);

impl Job for LoadMask {
    type Output = Arc<GrayImage>;

    fn run(self, _: &mut Cache, _: &mut Control) -> Result<Arc<GrayImage>> {
        self.0.load().map(Arc::new)
    }
}

/// The size of a thumbnail that fits a `side x side` box and keeps the aspect ratio, at least
/// one pixel each way (a 10000 x 1 panorama must not become 96 x 0).
fn thumbnail_size(width: u32, height: u32, side: u32) -> (u32, u32) {
    let (w, h) = (u64::from(width.max(1)), u64::from(height.max(1)));
    let side = u64::from(side);
    let (tw, th) = if w >= h { (side, (side * h / w).max(1)) } else { ((side * w / h).max(1), side) };
    (tw as u32, th as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thumbnails_of_extreme_aspect_ratios_stay_inside_the_box_and_are_never_empty() {
        assert_eq!(thumbnail_size(10_000, 1, 96), (96, 1));
        assert_eq!(thumbnail_size(1, 10_000, 96), (1, 96));
        assert_eq!(thumbnail_size(200, 100, 96), (96, 48));
        assert_eq!(thumbnail_size(100, 200, 96), (48, 96));
        assert_eq!(thumbnail_size(0, 0, 96), (96, 96));
    }
}
