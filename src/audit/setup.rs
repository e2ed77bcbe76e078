//! What an audit is about: the dataset (folder, format, image list and a digest of it), the model
//! file with its SHA-256, the explanation method and the box threshold. Read once when the audit
//! is created, with the dataset readers of [`crate::datasets`].

use super::rows::ImageEntry;
use super::verdict::{checked_annotator, corners};
use crate::datasets::{self, Format};
use crate::digest::sha256_file;
use crate::error::{LanternError, Result};
use crate::explain::Method;
use serde::Serialize;
use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// How `lantern audit new` was asked to set up an audit.
#[derive(Debug, Clone, PartialEq)]
pub struct NewAudit {
    pub data: PathBuf,
    pub format: Format,
    pub model: Option<PathBuf>,
    pub method: Option<Method>,
    /// Fraction of the map's maximum above which pixels form the predicted boxes.
    pub threshold: f32,
    pub annotator: Option<String>,
}

/// A model file and its SHA-256 when the audit began.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelRef {
    pub path: PathBuf,
    pub sha256: String,
}

/// Whether the model file is still the one the audit began with.
#[derive(Debug, Clone, PartialEq)]
pub enum ModelCheck {
    Unchanged,
    Changed { sha256: String },
    Missing,
}

impl ModelRef {
    /// Hash the file again and compare.
    pub fn check(&self) -> ModelCheck {
        match sha256_file(&self.path) {
            Ok(h) if h == self.sha256 => ModelCheck::Unchanged,
            Ok(sha256) => ModelCheck::Changed { sha256 },
            Err(_) => ModelCheck::Missing,
        }
    }
}

/// The settings an audit keeps.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Settings {
    /// The dataset folder (absolute).
    pub dataset: PathBuf,
    #[serde(serialize_with = "display")]
    pub format: Format,
    /// SHA-256 over the image list: id, file, class and boxes of every image, in order.
    pub dataset_digest: String,
    pub model: Option<ModelRef>,
    #[serde(serialize_with = "display_opt")]
    pub method: Option<Method>,
    pub threshold: f32,
}

impl Settings {
    /// Where an image's file is: its stored path under the dataset folder (or as stored, when
    /// the image lay outside the folder).
    pub fn image_path(&self, image: &ImageEntry) -> PathBuf {
        let file = Path::new(&image.file);
        if file.is_absolute() { file.to_path_buf() } else { self.dataset.join(file) }
    }
}

/// Everything a new audit file starts with.
#[derive(Debug, Clone, PartialEq)]
pub struct Setup {
    pub settings: Settings,
    pub annotator: Option<String>,
    pub classes: Vec<String>,
    pub images: Vec<ImageEntry>,
    /// Per-image problems found while reading (an unreadable image size), for the user.
    pub warnings: Vec<String>,
}

impl Setup {
    /// Read the dataset, hash the model and check the settings.
    pub fn from_dataset(new: &NewAudit) -> Result<Setup> {
        if !(0.0..1.0).contains(&new.threshold) {
            return Err(LanternError::BadArgument(format!("--threshold must be in [0, 1), got {}", new.threshold)));
        }
        let annotator =
            new.annotator.as_deref().map(checked_annotator).transpose().map_err(LanternError::BadArgument)?;
        let dataset = datasets::open(&new.data, new.format)?;
        if dataset.samples.is_empty() {
            return Err(LanternError::BadArgument(format!("{}: no images found", new.data.display())));
        }
        let root = std::fs::canonicalize(&new.data).map_err(|e| LanternError::io(&new.data, e))?;
        let mut seen = HashSet::new();
        let mut warnings = Vec::new();
        let mut images = Vec::with_capacity(dataset.samples.len());
        for (position, s) in dataset.samples.iter().enumerate() {
            if !seen.insert(s.id.as_str()) {
                return Err(LanternError::BadArgument(format!(
                    "{}: two images have the id '{}'",
                    new.data.display(),
                    s.id
                )));
            }
            let relative = s.image.strip_prefix(&new.data).or_else(|_| s.image.strip_prefix(&root)).unwrap_or(&s.image);
            let file = relative
                .to_str()
                .ok_or_else(|| LanternError::BadArgument(format!("{}: the file name is not UTF-8", s.image.display())))?
                .to_string();
            let (width, height) = match image::image_dimensions(&s.image) {
                Ok((w, h)) => (Some(w), Some(h)),
                Err(e) => {
                    warnings.push(format!(
                        "image {}: size unreadable ({}: {e}); its boxes are not checked against it",
                        s.id,
                        s.image.display()
                    ));
                    (None, None)
                }
            };
            images.push(ImageEntry {
                id: s.id.clone(),
                position,
                file,
                class: s.class,
                width,
                height,
                boxes: s.boxes.clone(),
            });
        }
        let model = match &new.model {
            Some(path) => {
                let sha256 = sha256_file(path).map_err(|e| LanternError::io(path, e))?;
                Some(ModelRef { path: std::fs::canonicalize(path).map_err(|e| LanternError::io(path, e))?, sha256 })
            }
            None => None,
        };
        let settings = Settings {
            dataset: root,
            format: new.format,
            dataset_digest: dataset_digest(&images),
            model,
            method: new.method,
            threshold: new.threshold,
        };
        Ok(Setup { settings, annotator, classes: dataset.classes, images, warnings })
    }
}

/// SHA-256 over one line per image, `id \t file \t class \t boxes \n`, in dataset order: two
/// audits with the same digest judged the same images with the same ground truth.
pub(crate) fn dataset_digest(images: &[ImageEntry]) -> String {
    let mut hasher = crate::digest::Hasher::default();
    for im in images {
        let class = im.class.map(|c| c.to_string()).unwrap_or_default();
        let boxes: Vec<[u32; 4]> = im.boxes.iter().map(corners).collect();
        hasher.update(format!("{}\t{}\t{class}\t{boxes:?}\n", im.id, im.file).as_bytes());
    }
    hasher.finish()
}

fn display<T: std::fmt::Display, S: serde::Serializer>(v: &T, s: S) -> std::result::Result<S::Ok, S::Error> {
    s.collect_str(v)
}

fn display_opt<T: std::fmt::Display, S: serde::Serializer>(
    v: &Option<T>,
    s: S,
) -> std::result::Result<S::Ok, S::Error> {
    match v {
        Some(v) => s.collect_str(v),
        None => s.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::map::PixelBox;

    #[test]
    fn the_dataset_digest_changes_with_any_ground_truth() {
        let im = ImageEntry {
            id: "a".into(),
            position: 0,
            file: "a.png".into(),
            class: Some(1),
            width: Some(8),
            height: Some(8),
            boxes: vec![PixelBox { x0: 0, y0: 0, x1: 3, y1: 3 }],
        };
        let base = dataset_digest(std::slice::from_ref(&im));
        assert_eq!(base.len(), 64);
        let mut other = im.clone();
        other.boxes[0].x1 = 4;
        assert_ne!(dataset_digest(&[other]), base);
        let mut other = im.clone();
        other.class = Some(2);
        assert_ne!(dataset_digest(&[other]), base);
        let mut other = im.clone();
        other.width = Some(9);
        assert_eq!(dataset_digest(&[other]), base, "the size is read from the file, not ground truth");
    }

    #[test]
    fn annotator_names_are_trimmed_and_must_be_printable() {
        assert_eq!(checked_annotator("  ana ").unwrap(), "ana");
        assert!(checked_annotator("   ").is_err());
        assert!(checked_annotator("a\nb").is_err());
    }
}
