//! The rows an audit holds that more than one part of `audit/` reads: the dataset's images (from
//! the setup, stored by the store) and the agreement between two raters (computed by the merge,
//! stored and exported).

use super::verdict::serialize_boxes;
use crate::map::PixelBox;
use serde::Serialize;

/// One image of the audited dataset.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ImageEntry {
    pub id: String,
    /// Index in the dataset's order.
    pub position: usize,
    /// Path relative to the dataset folder (absolute when the image lay outside it).
    pub file: String,
    /// Ground-truth class.
    pub class: Option<usize>,
    pub width: Option<u32>,
    pub height: Option<u32>,
    /// Ground-truth boxes.
    #[serde(serialize_with = "serialize_boxes")]
    pub boxes: Vec<PixelBox>,
}

/// How much two raters agree.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PairAgreement {
    pub rater_a: String,
    pub rater_b: String,
    /// Images both judged.
    pub images: usize,
    /// Of those, images with the same verdict.
    pub agreed: usize,
    /// Cohen's kappa on the images both judged accept or reject.
    pub kappa: Option<f64>,
    pub kappa_images: usize,
    /// Mean IoU of the two raters' corrected boxes.
    pub mean_iou: Option<f64>,
    pub iou_images: usize,
}

impl PairAgreement {
    /// The fraction of commonly judged images with the same verdict.
    pub fn agreement(&self) -> Option<f64> {
        (self.images > 0).then(|| self.agreed as f64 / self.images as f64)
    }
}
