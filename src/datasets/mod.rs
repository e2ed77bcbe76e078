//! Datasets with localisation ground truth: the procedural benchmark ([`synth`], its
//! multi-label variant [`synth_multi`] and its outfits variant [`synth_outfits`]) and readers for
//! the formats users have (ImageFolder, CUB-200-2011, Pascal VOC, COCO), all read into one
//! [`Dataset`] of [`Sample`]s. Malformed files are reported with the file and the line or field.

pub mod coco;
pub mod cub;
pub mod folder;
pub mod synth;
pub mod synth_attributes;
pub mod synth_folder;
pub mod synth_motion;
pub mod synth_multi;
pub mod synth_outfits;
pub mod voc;

use crate::error::{LanternError, Result};
use crate::map::PixelBox;
use image::GrayImage;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::{Path, PathBuf};

/// Where a sample's ground-truth mask comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum MaskSource {
    /// A grayscale image; nonzero pixels are the object.
    File(PathBuf),
    /// COCO segmentations of the image's objects (polygons or run-length encodings).
    Coco { width: u32, height: u32, parts: Vec<coco::Segmentation> },
    /// Several grayscale images of one size (an outfit's item masks); the mask is their union.
    Union(Vec<PathBuf>),
}

impl MaskSource {
    /// The mask as an image, 255 on the object.
    pub fn load(&self) -> Result<GrayImage> {
        match self {
            MaskSource::File(path) => {
                let img =
                    image::open(path).map_err(|e| LanternError::Image { path: path.clone(), reason: e.to_string() })?;
                let mut g = img.into_luma8();
                for p in g.pixels_mut() {
                    p.0[0] = if p.0[0] > 0 { 255 } else { 0 };
                }
                Ok(g)
            }
            MaskSource::Coco { width, height, parts } => coco::rasterize(*width, *height, parts),
            MaskSource::Union(paths) => {
                let mut union: Option<GrayImage> = None;
                for path in paths {
                    let g = MaskSource::File(path.clone()).load()?;
                    match union.as_mut() {
                        None => union = Some(g),
                        Some(u) if u.dimensions() == g.dimensions() => {
                            u.pixels_mut().zip(g.pixels()).for_each(|(a, b)| a.0[0] = a.0[0].max(b.0[0]));
                        }
                        Some(u) => {
                            return Err(LanternError::BadArgument(format!(
                                "{}: a {}x{} mask, the others are {}x{}",
                                path.display(),
                                g.width(),
                                g.height(),
                                u.width(),
                                u.height()
                            )));
                        }
                    }
                }
                union.ok_or_else(|| LanternError::BadArgument("a union of no masks".into()))
            }
        }
    }
}

/// One image with its ground truth.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub id: String,
    pub image: PathBuf,
    pub class: Option<usize>,
    /// Ground-truth boxes of the sample's class, in original image pixels, corners inclusive.
    pub boxes: Vec<PixelBox>,
    pub mask: Option<MaskSource>,
}

/// Samples and class names.
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    pub classes: Vec<String>,
    pub samples: Vec<Sample>,
}

crate::names::named_enum! {
    /// The dataset formats Lantern reads.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
    pub enum Format ("format") {
        Folder = "folder" | "imagefolder",
        Cub = "cub",
        Voc = "voc",
        Coco = "coco",
        Synth = "synth",
        Outfits = "outfits",
    }
}

impl Format {
    /// Whether `dir` holds the marker files of a format with ground truth (file-existence checks
    /// only: cheap enough for a UI thread; [`Format::detect`] then reads to decide which).
    pub fn has_ground_truth_files(dir: &Path) -> bool {
        dir.join("annotations.json").is_file()
            || dir.join(synth_outfits::ANNOTATIONS).is_file()
            || (dir.join("images.txt").is_file() && dir.join("bounding_boxes.txt").is_file())
            || (dir.join("Annotations").is_dir() && dir.join("JPEGImages").is_dir())
    }

    /// The format of a dataset folder, from the files that format keeps: `annotations.json` with
    /// COCO's `categories` or the benchmark's `seed`, the outfits benchmark's `outfits.json`, CUB's
    /// `images.txt` + `bounding_boxes.txt`, VOC's `Annotations/` + `JPEGImages/`; anything else is
    /// a plain image folder.
    pub fn detect(dir: &Path) -> Format {
        if dir.join(synth_outfits::ANNOTATIONS).is_file() {
            return Format::Outfits;
        }
        let annotations = dir.join("annotations.json");
        if annotations.is_file() {
            #[derive(Deserialize)]
            struct Keys {
                categories: Option<serde::de::IgnoredAny>,
                seed: Option<serde::de::IgnoredAny>,
            }
            if let Ok(keys) = std::fs::read_to_string(&annotations)
                .map_err(|_| ())
                .and_then(|t| serde_json::from_str::<Keys>(&t).map_err(|_| ()))
            {
                if keys.categories.is_some() {
                    return Format::Coco;
                }
                if keys.seed.is_some() {
                    return Format::Synth;
                }
            }
        }
        if dir.join("images.txt").is_file() && dir.join("bounding_boxes.txt").is_file() {
            return Format::Cub;
        }
        if dir.join("Annotations").is_dir() && dir.join("JPEGImages").is_dir() {
            return Format::Voc;
        }
        Format::Folder
    }
}

/// Read a dataset folder in `format`.
pub fn open(dir: &Path, format: Format) -> Result<Dataset> {
    if !dir.is_dir() {
        return Err(LanternError::BadArgument(format!("{}: not a folder", dir.display())));
    }
    match format {
        Format::Folder => folder::read(dir),
        Format::Cub => cub::read(dir),
        Format::Voc => voc::read(dir),
        Format::Coco => coco::read(dir),
        Format::Synth => {
            let a = synth_folder::read(dir)?;
            Ok(Dataset {
                classes: a.classes,
                samples: a
                    .images
                    .iter()
                    .map(|img| Sample {
                        id: img.id.clone(),
                        image: dir.join(&img.file),
                        class: Some(img.class),
                        boxes: vec![img.pixel_box()],
                        mask: Some(MaskSource::File(dir.join(&img.mask))),
                    })
                    .collect(),
            })
        }
        // An outfit has no class: its boxes are its items', its mask their union.
        Format::Outfits => {
            let a = synth_outfits::read(dir)?;
            Ok(Dataset {
                classes: a.slots,
                samples: a
                    .images
                    .iter()
                    .map(|img| Sample {
                        id: img.id.clone(),
                        image: dir.join(&img.file),
                        class: None,
                        boxes: img
                            .items
                            .iter()
                            .map(|i| PixelBox { x0: i.bbox[0], y0: i.bbox[1], x1: i.bbox[2], y1: i.bbox[3] })
                            .collect(),
                        mask: Some(MaskSource::Union(img.items.iter().map(|i| dir.join(&i.mask)).collect())),
                    })
                    .collect(),
            })
        }
    }
}

/// A "line N of FILE" error.
pub(crate) fn line_error(path: &Path, line: usize, what: impl fmt::Display) -> LanternError {
    LanternError::BadArgument(format!("{}:{line}: {what}", path.display()))
}

/// Read a text file, with the path in the error.
pub(crate) fn read_text(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|e| LanternError::io(path, e))
}

/// A box from floating-point corners, clamped to a `width x height` image; `None` when empty.
pub(crate) fn clamp_box(x0: f64, y0: f64, x1: f64, y1: f64, width: u32, height: u32) -> Option<PixelBox> {
    let (w, h) = (f64::from(width.max(1) - 1), f64::from(height.max(1) - 1));
    let b = PixelBox {
        x0: x0.clamp(0.0, w) as u32,
        y0: y0.clamp(0.0, h) as u32,
        x1: x1.clamp(0.0, w) as u32,
        y1: y1.clamp(0.0, h) as u32,
    };
    (b.x1 >= b.x0 && b.y1 >= b.y0 && x1 >= 0.0 && y1 >= 0.0).then_some(b)
}
