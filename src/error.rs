//! The library's error type: every failure a user can cause (a bad file, a wrong flag) ends up
//! here as a readable one-line message, never a panic.

use std::path::{Path, PathBuf};

/// What went wrong, worded for the person who gave Lantern the input.
#[derive(Debug, thiserror::Error)]
pub enum LanternError {
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },

    #[error("{}: not a readable image ({reason})", path.display())]
    Image { path: PathBuf, reason: String },

    #[error("{}: image is {width}x{height} ({:.1} megapixels), over the {limit} megapixel limit", path.display(), *width as f64 * *height as f64 / 1e6)]
    ImageTooLarge { path: PathBuf, width: u32, height: u32, limit: u32 },

    #[error("{}: not a model file Lantern can read ({reason})", path.display())]
    ModelFile { path: PathBuf, reason: String },

    #[error("the weights fit no known architecture: {0}")]
    Architecture(String),

    #[error("unknown layer '{layer}'; this model's layers are: {available}")]
    UnknownLayer { layer: String, available: String },

    #[error("class {index} is out of range: the model has {classes} classes (0..{classes})")]
    ClassOutOfRange { index: usize, classes: usize },

    #[error("{method} cannot explain this model: {reason}")]
    MethodNotApplicable { method: String, reason: String },

    #[error("{0}")]
    Invalid(String),

    #[error("cancelled")]
    Cancelled,
}

impl LanternError {
    /// An I/O error tied to the file it happened on.
    pub fn io(path: &Path, source: std::io::Error) -> Self {
        Self::Io { path: path.to_path_buf(), source }
    }
}

/// Result with [`LanternError`].
pub type Result<T, E = LanternError> = std::result::Result<T, E>;
