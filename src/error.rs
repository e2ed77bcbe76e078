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

    /// A flag, setting or argument outside what it may be (`--limit 0`, a negative std).
    #[error("{0}")]
    BadArgument(String),

    /// An input file Lantern can open but whose content is wrong (annotations, labels, a config).
    #[error("{}: {reason}", path.display())]
    Malformed { path: PathBuf, reason: String },

    /// Inputs that are each fine but do not fit together (a map of another size than its image,
    /// dataset classes the model lacks, audits of different settings).
    #[error("{0}")]
    Mismatch(String),

    /// An output (a plot, a CSV, a report) could not be written.
    #[error("{}: could not write ({reason})", path.display())]
    Output { path: PathBuf, reason: String },

    /// An audit file refused what was asked: it is missing, damaged, foreign or newer, or cannot
    /// hold the verdict given. The file is left untouched.
    #[error("{0}")]
    AuditRefused(String),

    /// The audit database failed (kept busy by another writer, or an SQLite error); nothing was
    /// saved.
    #[error("{0}")]
    AuditFailed(String),

    /// Training stopped because the loss stopped being a number.
    #[error("training diverged: {0}")]
    Diverged(String),

    /// The compute device failed or is not available.
    #[error("device: {0}")]
    Device(String),

    /// An error of the web page's compute worker, as it said it (the worker runs in its own wasm
    /// instance, so only the text crosses).
    #[cfg(target_arch = "wasm32")]
    #[error("{0}")]
    Computed(String),

    /// A broken promise inside Lantern, not caused by the input.
    #[error("internal error: {0}")]
    Internal(String),

    #[error("cancelled")]
    Cancelled,
}

impl LanternError {
    /// An I/O error tied to the file it happened on.
    pub fn io(path: &Path, source: std::io::Error) -> Self {
        Self::Io { path: path.to_path_buf(), source }
    }

    /// Writing to standard output failed (a full disk behind a redirect, a closed terminal).
    pub fn stdout(source: std::io::Error) -> Self {
        Self::Output { path: PathBuf::from("standard output"), reason: source.to_string() }
    }

    /// A [`LanternError::Malformed`] for `path`.
    pub fn malformed(path: &Path, reason: impl Into<String>) -> Self {
        Self::Malformed { path: path.to_path_buf(), reason: reason.into() }
    }

    /// Whether the person who ran Lantern caused this by what they gave it (a missing or corrupt
    /// file, a flag out of range), rather than the machine or Lantern failing. The CLI exits 2 for
    /// these and 1 for the rest.
    pub fn is_bad_input(&self) -> bool {
        use std::io::ErrorKind;
        match self {
            Self::Io { source, .. } => {
                matches!(source.kind(), ErrorKind::NotFound | ErrorKind::InvalidData | ErrorKind::InvalidInput)
            }
            Self::Image { .. }
            | Self::ImageTooLarge { .. }
            | Self::ModelFile { .. }
            | Self::Architecture(_)
            | Self::UnknownLayer { .. }
            | Self::ClassOutOfRange { .. }
            | Self::MethodNotApplicable { .. }
            | Self::BadArgument(_)
            | Self::Malformed { .. }
            | Self::Mismatch(_)
            | Self::AuditRefused(_) => true,
            Self::Output { .. }
            | Self::AuditFailed(_)
            | Self::Diverged(_)
            | Self::Device(_)
            | Self::Internal(_)
            | Self::Cancelled => false,
            // The compute worker's text no longer says which it was.
            #[cfg(target_arch = "wasm32")]
            Self::Computed(_) => false,
        }
    }
}

/// Result with [`LanternError`].
pub type Result<T, E = LanternError> = std::result::Result<T, E>;

/// The message a caught panic carried (`panic!` with a literal or a formatted string), if any.
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> Option<String> {
    payload.downcast_ref::<&str>().map(|s| s.to_string()).or_else(|| payload.downcast_ref::<String>().cloned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Error, ErrorKind};

    #[test]
    fn missing_or_corrupt_inputs_are_bad_input_and_failing_machines_are_not() {
        let io = |kind| LanternError::io(Path::new("x"), Error::from(kind));
        assert!(io(ErrorKind::NotFound).is_bad_input());
        assert!(io(ErrorKind::InvalidData).is_bad_input());
        assert!(!io(ErrorKind::StorageFull).is_bad_input());
        assert!(!io(ErrorKind::PermissionDenied).is_bad_input());
        assert!(LanternError::BadArgument("--limit must be at least 1".into()).is_bad_input());
        assert!(LanternError::malformed(Path::new("a.json"), "line 3: not JSON").is_bad_input());
        assert!(LanternError::Mismatch("map is 2x2, the input 4x4".into()).is_bad_input());
        assert!(!LanternError::stdout(Error::from(ErrorKind::StorageFull)).is_bad_input());
        assert!(!LanternError::Device("no adapter".into()).is_bad_input());
        assert!(!LanternError::Diverged("the loss is NaN".into()).is_bad_input());
        assert!(!LanternError::Cancelled.is_bad_input());
    }

    #[test]
    fn messages_name_the_file_and_the_reason() {
        let e = LanternError::malformed(Path::new("ann/a.json"), "line 3: not JSON");
        assert_eq!(e.to_string(), "ann/a.json: line 3: not JSON");
        let e = LanternError::stdout(Error::from(ErrorKind::StorageFull));
        assert!(e.to_string().starts_with("standard output: could not write ("), "{e}");
    }
}
