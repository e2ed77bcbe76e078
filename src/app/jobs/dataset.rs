//! Reading a dataset folder (its format detected) with its ground truth, as a background task.

use crate::datasets::{Dataset, Format};
use crate::error::{LanternError, Result};
use std::path::PathBuf;

/// A dataset read, from its folder, and what to tell the user.
pub struct OpenedDataset {
    pub dir: PathBuf,
    pub dataset: Dataset,
    pub message: String,
}

impl std::fmt::Debug for OpenedDataset {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "OpenedDataset({}, {} images)", self.dir.display(), self.dataset.samples.len())
    }
}

/// Read the dataset in `dir`; one without images is refused.
pub fn open(dir: PathBuf) -> Result<OpenedDataset> {
    let format = Format::detect(&dir);
    let dataset = crate::datasets::open(&dir, format)?;
    if dataset.samples.is_empty() {
        return Err(LanternError::malformed(&dir, format!("the {format} dataset has no images")));
    }
    let message = format!("{}: {} images with {format} ground truth", dir.display(), dataset.samples.len());
    Ok(OpenedDataset { dir, dataset, message })
}
