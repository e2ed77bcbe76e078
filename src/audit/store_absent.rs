//! The audit store of the web build: none. Audits live in SQLite files, and the web build has no
//! SQLite (rusqlite's bundled C library does not build for `wasm32-unknown-unknown`, and a page
//! could not keep the file on disk anyway). So no [`Audit`] can exist there: creating or opening
//! one says why, and every query is on a value that cannot be made. The web page shows the audit
//! entries disabled with the reason.

use super::rows::ImageEntry;
use super::setup::{Settings, Setup};
pub use super::status::{Filter, ImageStatus, MissingFile, Origin, Patience, Prediction, Progress};
use super::verdict::{NewVerdict, VerdictId};
use super::{AuditError, Result};
use std::path::Path;

/// Why there are no audits on the web page.
const NO_SQLITE: &str = "audits are SQLite files, which the web build cannot keep: audit in the desktop app";

/// No value of this type exists.
#[derive(Debug)]
enum Never {}

/// An audit file, which the web build never has.
#[derive(Debug)]
pub struct Audit(Never);

impl Audit {
    pub fn create(_: &Path, _: &Setup) -> Result<Audit> {
        Err(AuditError::BadRequest(NO_SQLITE.into()))
    }

    pub fn open_with(_: &Path, _: Patience) -> Result<Audit> {
        Err(AuditError::BadRequest(NO_SQLITE.into()))
    }

    pub fn settings(&self) -> Result<Settings> {
        match self.0 {}
    }

    pub fn annotator(&self) -> Result<Option<String>> {
        match self.0 {}
    }

    pub fn set_annotator(&mut self, _: &str) -> Result<()> {
        match self.0 {}
    }

    pub fn classes(&self) -> Result<Vec<String>> {
        match self.0 {}
    }

    pub fn images(&self) -> Result<Vec<ImageEntry>> {
        match self.0 {}
    }

    pub fn missing_files(&self) -> Result<Vec<MissingFile>> {
        match self.0 {}
    }

    pub fn record(&mut self, _: &NewVerdict) -> Result<VerdictId> {
        match self.0 {}
    }

    pub fn record_prediction(&mut self, _: &str, _: &Prediction) -> Result<()> {
        match self.0 {}
    }

    pub fn prediction(&self, _: &str) -> Result<Option<Prediction>> {
        match self.0 {}
    }

    pub fn progress(&self) -> Result<Progress> {
        match self.0 {}
    }

    pub fn list(&self, _: &Filter) -> Result<Vec<ImageStatus>> {
        match self.0 {}
    }

    pub fn next_unaudited(&self, _: Option<&str>) -> Result<Option<ImageEntry>> {
        match self.0 {}
    }

    pub fn resume(&self) -> Result<Option<ImageEntry>> {
        match self.0 {}
    }
}
