//! `lantern open`: what the window opens. A path that is an audit file (a `.db` or a file that
//! starts with SQLite's header) opens audit mode on it; the others are images and folders.
//! `--camera` adds a camera shown live, checked before the window opens.

use super::Outcome;
use crate::camera::CameraChoice;
use crate::error::{LanternError, Result};
use std::io::Read;
use std::path::{Path, PathBuf};

/// The first bytes of every SQLite database, hence of every audit file.
const SQLITE_HEADER: &[u8; 16] = b"SQLite format 3\0";

/// Whether `path` names an audit file: a `.db` file, or any file with SQLite's header.
pub fn is_audit(path: &Path) -> bool {
    if !path.is_file() {
        return false;
    }
    if path.extension().is_some_and(|e| e.eq_ignore_ascii_case("db")) {
        return true;
    }
    let mut head = [0u8; 16];
    std::fs::File::open(path).and_then(|mut f| f.read_exact(&mut head)).is_ok() && head == *SQLITE_HEADER
}

/// The window for `paths`, `model` and `camera`: an audit alone (it names its own images and
/// model), or images and folders with a model, and a camera that exists (none, or a build
/// without camera support, is an error: the window does not open).
pub fn window(paths: Vec<PathBuf>, model: Option<PathBuf>, camera: Option<CameraChoice>) -> Result<Outcome> {
    if let Some(choice) = camera {
        crate::camera::check(choice)?;
    }
    let (audits, paths): (Vec<PathBuf>, Vec<PathBuf>) = paths.into_iter().partition(|p| is_audit(p));
    match audits.as_slice() {
        [] => Ok(Outcome::Window { paths, model, audit: None, camera }),
        [audit] if paths.is_empty() && model.is_none() && camera.is_none() => {
            Ok(Outcome::Window { paths, model, audit: Some(audit.clone()), camera })
        }
        [_] => Err(LanternError::BadArgument(
            "an audit opens its own images and model: give it alone, without images, --model or --camera".into(),
        )),
        _ => Err(LanternError::BadArgument("open one audit at a time".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_audit_is_known_by_its_extension_or_its_sqlite_header() {
        let dir = tempfile::tempdir().unwrap();
        let (db, renamed, image) = (dir.path().join("a.db"), dir.path().join("audit"), dir.path().join("x.png"));
        std::fs::write(&db, b"").unwrap();
        std::fs::write(&renamed, b"SQLite format 3\0rest of the file").unwrap();
        std::fs::write(&image, b"\x89PNG\r\n\x1a\n").unwrap();
        assert!(is_audit(&db) && is_audit(&renamed));
        assert!(!is_audit(&image) && !is_audit(dir.path()) && !is_audit(&dir.path().join("gone.db")));
        let audit = Outcome::Window { paths: vec![], model: None, audit: Some(db.clone()), camera: None };
        assert_eq!(window(vec![db.clone()], None, None).unwrap(), audit);
        assert!(window(vec![db.clone(), image.clone()], None, None).is_err());
        assert!(window(vec![db.clone()], Some(image.clone()), None).is_err());
        assert!(window(vec![db.clone()], None, Some(CameraChoice::Synthetic)).is_err());
        assert!(window(vec![db, renamed], None, None).is_err());
        let images = Outcome::Window { paths: vec![image.clone()], model: None, audit: None, camera: None };
        assert_eq!(window(vec![image], None, None).unwrap(), images);
    }
}
