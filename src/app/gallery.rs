//! The images being browsed: the demo images, a folder or files. The current image and its
//! neighbours are decoded by the worker ahead of time; thumbnails load in the background; full
//! images far from the current one are let go so a large folder does not fill memory.

use super::images::ImageSource;
pub use super::images::{Decoded, LoadState};
use super::jobs::Event;
use super::jobs::image::{LoadImage, LoadMask, LoadThumbnail};
use super::lane::JobError;
use super::worker::Worker;
use image::RgbImage;
use std::path::PathBuf;
use std::sync::Arc;

/// A dataset image's ground truth, in original-image pixels.
pub struct Truth {
    pub class: Option<usize>,
    pub class_name: Option<String>,
    pub boxes: Vec<crate::map::PixelBox>,
    pub mask: Option<crate::datasets::MaskSource>,
    /// The mask, loaded by the worker when the image is shown (its tint is a
    /// [`super::textures::Textures`] texture).
    pub mask_image: LoadState<Arc<image::GrayImage>>,
}

pub struct GalleryImage {
    pub id: u64,
    pub source: ImageSource,
    /// Ground truth, when the image comes from a dataset.
    pub truth: Option<Truth>,
    pub image: LoadState<Decoded>,
    pub thumb: LoadState<RgbImage>,
}

impl GalleryImage {
    fn new(id: u64, source: ImageSource) -> Self {
        Self { id, source, truth: None, image: LoadState::No, thumb: LoadState::No }
    }

    pub fn loaded(&self) -> bool {
        matches!(self.image, LoadState::Ready(_))
    }

    pub fn decoded(&self) -> Option<&Decoded> {
        match &self.image {
            LoadState::Ready(d) => Some(d),
            _ => None,
        }
    }

    pub fn name(&self) -> String {
        self.source.name()
    }
}

#[derive(Default)]
pub struct Gallery {
    pub images: Vec<GalleryImage>,
    pub index: usize,
}

/// How many images around the current one stay decoded.
const KEEP: usize = 2;
/// Thumbnails requested at most (a huge folder still opens at once).
const THUMBNAILS: usize = 500;

impl Gallery {
    pub fn set(&mut self, sources: Vec<ImageSource>, next_id: &mut u64) {
        self.images = sources
            .into_iter()
            .map(|s| {
                *next_id += 1;
                GalleryImage::new(*next_id, s)
            })
            .collect();
        self.index = 0;
    }

    /// The bundled demo images.
    pub fn set_demo(&mut self, next_id: &mut u64) {
        let sources = crate::models::demo::IMAGES
            .iter()
            .map(|(name, bytes)| ImageSource::Bytes { name: name.to_string(), bytes })
            .collect();
        self.set(sources, next_id);
    }

    pub fn set_files(&mut self, files: Vec<PathBuf>, next_id: &mut u64) {
        self.set(files.into_iter().map(ImageSource::File).collect(), next_id);
    }

    /// Show a dataset's images with their ground truth.
    pub fn set_dataset(&mut self, dataset: crate::datasets::Dataset, next_id: &mut u64) {
        let sources = dataset.samples.iter().map(|s| ImageSource::File(s.image.clone())).collect();
        self.set(sources, next_id);
        for (img, sample) in self.images.iter_mut().zip(dataset.samples) {
            img.truth = Some(Truth {
                class: sample.class,
                class_name: sample.class.and_then(|c| dataset.classes.get(c).cloned()),
                boxes: sample.boxes,
                mask: sample.mask,
                mask_image: LoadState::No,
            });
        }
    }

    /// Add `source` after the other images and show it.
    pub fn push(&mut self, source: ImageSource, next_id: &mut u64) {
        *next_id += 1;
        self.images.push(GalleryImage::new(*next_id, source));
        self.index = self.images.len() - 1;
    }

    pub fn len(&self) -> usize {
        self.images.len()
    }

    pub fn is_empty(&self) -> bool {
        self.images.is_empty()
    }

    pub fn current(&self) -> Option<&GalleryImage> {
        self.images.get(self.index)
    }

    /// Move by `delta` (wrapping); false when there is nothing to move to.
    pub fn step(&mut self, delta: isize) -> bool {
        let n = self.images.len() as isize;
        if n < 2 {
            return false;
        }
        self.index = (self.index as isize + delta).rem_euclid(n) as usize;
        true
    }

    pub fn select(&mut self, index: usize) -> bool {
        if index < self.images.len() && index != self.index {
            self.index = index;
            return true;
        }
        false
    }

    /// Ask the worker for the current image, its neighbours and thumbnails; release far images.
    pub fn request_loads(&mut self, worker: &Worker<Event>) {
        let n = self.images.len();
        if n == 0 {
            return;
        }
        for offset in [0isize, 1, -1] {
            let i = (self.index as isize + offset).rem_euclid(n as isize) as usize;
            let img = &mut self.images[i];
            if matches!(img.image, LoadState::No) {
                img.image = LoadState::Pending;
                let id = img.id;
                worker.load(LoadImage { id, source: img.source.clone() }, move |result| Event::ImageLoaded {
                    id,
                    result,
                });
            }
            request_mask(img, worker);
        }
        for (i, img) in self.images.iter_mut().enumerate() {
            let distance = (i as isize - self.index as isize)
                .unsigned_abs()
                .min(n - (i as isize - self.index as isize).unsigned_abs());
            if distance > KEEP && matches!(img.image, LoadState::Ready(_)) {
                img.image = LoadState::No;
            }
            if n > 1 && i < THUMBNAILS && matches!(img.thumb, LoadState::No) {
                img.thumb = LoadState::Pending;
                let id = img.id;
                worker.load(LoadThumbnail(img.source.clone()), move |result| Event::Thumbnail { id, result });
            }
        }
    }

    /// Ask the worker for image `id`'s ground-truth mask, if it has one not asked for yet (the Pair
    /// view's reference, which need not be near the current image).
    pub fn request_mask_of(&mut self, id: u64, worker: &Worker<Event>) {
        if let Some(img) = self.images.iter_mut().find(|i| i.id == id) {
            request_mask(img, worker);
        }
    }

    pub fn loaded(&mut self, id: u64, result: Result<Arc<RgbImage>, JobError>) {
        if let Some(img) = self.images.iter_mut().find(|i| i.id == id) {
            img.image = LoadState::from_result(result.map(Decoded::new));
        }
    }

    pub fn mask_loaded(&mut self, id: u64, result: Result<Arc<image::GrayImage>, JobError>) {
        if let Some(t) = self.images.iter_mut().find(|i| i.id == id).and_then(|i| i.truth.as_mut()) {
            t.mask_image = LoadState::from_result(result);
        }
    }

    pub fn thumbnail(&mut self, id: u64, result: Result<RgbImage, JobError>) {
        if let Some(img) = self.images.iter_mut().find(|i| i.id == id) {
            img.thumb = LoadState::from_result(result);
        }
    }
}

/// Ask the worker for `img`'s ground-truth mask, if it has one not asked for yet.
fn request_mask(img: &mut GalleryImage, worker: &Worker<Event>) {
    if let Some(t) = img.truth.as_mut()
        && let (Some(mask), LoadState::No) = (&t.mask, &t.mask_image)
    {
        t.mask_image = LoadState::Pending;
        let id = img.id;
        worker.load(LoadMask(mask.clone()), move |result| Event::MaskLoaded { id, result });
    }
}
