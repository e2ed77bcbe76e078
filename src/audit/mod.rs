//! Localisation audits: annotators step through a dataset, compare the explanation's predicted
//! boxes with the ground truth and record a verdict per image (accept, reject or flag, with an
//! optional corrected box and a comment).
//!
//! One audit is one SQLite file ([`Audit`]). The store is built so that a verdict reported as
//! saved survives a crash, a `SIGKILL` or a power cut: write-ahead logging with
//! `synchronous=FULL` (the log is fsynced at every commit), one transaction per verdict, and the
//! verdict's row id handed back only after the commit returned. Several windows or processes may
//! write to one file: each write takes SQLite's write lock up front, waits for it (busy timeout),
//! retries, and reports [`AuditError::Busy`] when the file stays locked. A file that is damaged,
//! belongs to another program or was written by a newer Lantern is refused with a clear error
//! before anything is written to it.
//!
//! [`export`] writes audits as CSV, JSON or COCO; [`merge`] combines the audits of several
//! annotators and measures how much they agree (Cohen's kappa, box IoU).

#[cfg(not(target_arch = "wasm32"))]
pub mod export;
#[cfg(not(target_arch = "wasm32"))]
pub mod merge;
mod rows;
#[cfg(not(target_arch = "wasm32"))]
mod schema;
mod setup;
mod status;
#[cfg(not(target_arch = "wasm32"))]
mod store;
/// The web build has no SQLite (see `store_absent.rs`).
#[cfg(target_arch = "wasm32")]
#[path = "store_absent.rs"]
mod store;
pub mod verdict;

pub use crate::digest::sha256_file;
pub use rows::{ImageEntry, PairAgreement};
#[cfg(not(target_arch = "wasm32"))]
pub use schema::SCHEMA_VERSION;
pub use setup::{ModelCheck, ModelRef, NewAudit, Settings, Setup};
pub use store::{Audit, Filter, ImageStatus, MissingFile, Origin, Patience, Prediction, Progress};
pub use verdict::{NewVerdict, Verdict, VerdictId, VerdictKind, parse_box};

use crate::error::LanternError;
use std::path::PathBuf;
use std::time::Duration;

/// Why an audit operation failed, worded for the annotator.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("{}: no such audit file (create one with `lantern audit new`)", path.display())]
    Missing { path: PathBuf },

    #[error("{}: already exists; an audit file is never overwritten (choose another name)", path.display())]
    Exists { path: PathBuf },

    #[error("{}: not a Lantern audit ({reason}); the file was left untouched", path.display())]
    Foreign { path: PathBuf, reason: String },

    #[error("{}: the audit file is damaged ({reason}); the file was left untouched, restore it from a copy", path.display())]
    Corrupt { path: PathBuf, reason: String },

    #[error("{}: written by a newer Lantern (audit schema v{found}; this Lantern reads up to v{supported}); the file was left untouched", path.display())]
    Newer { path: PathBuf, found: i64, supported: i64 },

    #[error("{}: busy: another window or process kept the audit locked for {:.1} s; nothing was saved, close the other writer or try again", path.display(), waited.as_secs_f64())]
    Busy { path: PathBuf, waited: Duration },

    #[error("unknown image id '{id}' (this audit's images are listed by `lantern audit export`)")]
    UnknownImage { id: String },

    /// A request the audit cannot take: no annotator, an IoU or box out of range, a bad path.
    #[error("{0}")]
    BadRequest(String),

    /// Audits that cannot be combined (different settings, fewer than two).
    #[error("{0}")]
    Incompatible(String),

    /// An export could not be written.
    #[error("{0}")]
    Export(String),

    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },

    #[cfg(not(target_arch = "wasm32"))]
    #[error("{}: {source}", path.display())]
    Sqlite { path: PathBuf, source: rusqlite::Error },
}

/// Result with [`AuditError`].
pub type Result<T, E = AuditError> = std::result::Result<T, E>;

impl From<AuditError> for LanternError {
    fn from(e: AuditError) -> Self {
        match e {
            AuditError::Io { path, source } => LanternError::Io { path, source },
            e @ (AuditError::Busy { .. } | AuditError::Export(_)) => LanternError::AuditFailed(e.to_string()),
            #[cfg(not(target_arch = "wasm32"))]
            e @ AuditError::Sqlite { .. } => LanternError::AuditFailed(e.to_string()),
            other => LanternError::AuditRefused(other.to_string()),
        }
    }
}
