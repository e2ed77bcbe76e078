//! ImageFolder: one sub-folder per class (sorted by name, as torchvision numbers them), images
//! inside. No boxes or masks: only classification and the perturbation metrics apply.

use super::{Dataset, Sample};
use crate::error::{LanternError, Result};
use std::path::Path;

/// The extensions of the formats the `image` crate is built to decode here.
pub const EXTENSIONS: [&str; 8] = ["png", "jpg", "jpeg", "webp", "bmp", "tif", "tiff", "gif"];

/// Whether a path has an image file extension Lantern decodes.
pub fn is_image(path: &Path) -> bool {
    path.extension().and_then(|e| e.to_str()).is_some_and(|e| EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

/// Image files directly inside `dir`, sorted by name.
pub fn images_in(dir: &Path) -> Result<Vec<std::path::PathBuf>> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| LanternError::io(dir, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && is_image(p))
        .collect();
    files.sort();
    Ok(files)
}

pub fn read(dir: &Path) -> Result<Dataset> {
    let mut classes: Vec<String> = std::fs::read_dir(dir)
        .map_err(|e| LanternError::io(dir, e))?
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().to_string())
        .collect();
    classes.sort();
    if classes.is_empty() {
        return Err(LanternError::BadArgument(format!(
            "{}: no class sub-folders (expected <class>/<image>)",
            dir.display()
        )));
    }
    let mut samples = Vec::new();
    for (class, name) in classes.iter().enumerate() {
        for image in images_in(&dir.join(name))? {
            let id =
                format!("{name}/{}", image.file_stem().map(|s| s.to_string_lossy().to_string()).unwrap_or_default());
            samples.push(Sample { id, image, class: Some(class), boxes: Vec::new(), mask: None });
        }
    }
    Ok(Dataset { classes, samples })
}

#[cfg(test)]
mod tests {
    use super::EXTENSIONS;

    #[test]
    fn every_listed_extension_can_be_decoded() {
        for ext in EXTENSIONS {
            let format = image::ImageFormat::from_extension(ext).unwrap_or_else(|| panic!("{ext}: no image format"));
            assert!(format.reading_enabled(), "{ext} is listed but its decoder is not built in");
        }
    }
}
