//! What an audit's queries answer, apart from the file that holds it: how far it has got, each
//! image's latest verdict and cached prediction, the filters of the audit view, and how long a
//! write waits for another writer.

use super::rows::ImageEntry;
use super::verdict::{Verdict, VerdictKind, serialize_boxes};
use crate::map::PixelBox;
use serde::Serialize;
use std::path::PathBuf;
use std::time::Duration;

/// How long a write waits for another writer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Patience {
    /// SQLite's busy timeout for one attempt.
    pub timeout: Duration,
    /// Further attempts after the first has timed out.
    pub retries: u32,
}

impl Default for Patience {
    fn default() -> Self {
        Self { timeout: Duration::from_secs(5), retries: 2 }
    }
}

/// What the model predicted for an image, cached so filters work before the image is judged.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Prediction {
    pub class: Option<usize>,
    #[serde(serialize_with = "serialize_boxes")]
    pub boxes: Vec<PixelBox>,
    /// IoU of the best-matching predicted box with the ground truth.
    pub iou: Option<f64>,
}

/// How far an audit has got.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Progress {
    /// Images with at least one verdict.
    pub audited: usize,
    pub total: usize,
    /// Images whose latest verdict is accept, reject or flag.
    pub accepted: usize,
    pub rejected: usize,
    pub flagged: usize,
    /// Verdict rows, counting changed minds.
    pub verdicts: usize,
}

/// An image with its latest verdict and cached prediction.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageStatus {
    pub image: ImageEntry,
    pub latest: Option<Verdict>,
    pub prediction: Option<Prediction>,
}

impl ImageStatus {
    /// The IoU the annotator saw at the latest verdict, else the cached prediction's.
    pub fn iou(&self) -> Option<f64> {
        self.latest.as_ref().and_then(|v| v.iou).or_else(|| self.prediction.as_ref().and_then(|p| p.iou))
    }

    /// Whether the predicted class (latest verdict's, else the cached one) differs from the
    /// ground truth; `None` when either is unknown.
    pub fn wrong_class(&self) -> Option<bool> {
        let predicted = self
            .latest
            .as_ref()
            .and_then(|v| v.predicted_class)
            .or_else(|| self.prediction.as_ref().and_then(|p| p.class));
        Some(predicted? != self.image.class?)
    }
}

/// Which images to list; the set conditions must all hold.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Filter {
    /// IoU known and below this value.
    pub iou_below: Option<f64>,
    /// Predicted class known and different from the ground truth.
    pub wrong_class: bool,
    /// Latest verdict is a flag.
    pub flagged: bool,
    /// No verdict yet.
    pub unaudited: bool,
}

impl Filter {
    pub fn matches(&self, s: &ImageStatus) -> bool {
        self.iou_below.is_none_or(|x| s.iou().is_some_and(|iou| iou < x))
            && (!self.wrong_class || s.wrong_class() == Some(true))
            && (!self.flagged || s.latest.as_ref().is_some_and(|v| v.kind == VerdictKind::Flag))
            && (!self.unaudited || s.latest.is_none())
    }
}

/// An image whose file is no longer where the audit expects it.
#[derive(Debug, Clone, PartialEq)]
pub struct MissingFile {
    pub image_id: String,
    pub path: PathBuf,
}

/// When the audit was created and by which Lantern.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Origin {
    pub created: String,
    pub lantern_version: String,
}
