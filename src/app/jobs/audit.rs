//! Creating an audit of a dataset folder (a background task); the app opens it when created.

use crate::audit::{Audit, NewAudit, Setup};
use crate::error::Result;
use std::path::PathBuf;

/// A created audit file, and what to tell the user.
#[derive(Debug)]
pub struct CreatedAudit {
    pub file: PathBuf,
    pub message: String,
}

/// Create the audit `new` describes in `file`.
pub fn create(new: &NewAudit, file: PathBuf) -> Result<CreatedAudit> {
    let setup = Setup::from_dataset(new)?;
    Audit::create(&file, &setup)?;
    let message = format!("Created {} with {} images", file.display(), setup.images.len());
    Ok(CreatedAudit { file, message })
}
