//! The procedural benchmark on disk: `images/<class>/<id>.png` (an ImageFolder), `masks/<id>.png`
//! (255 on the object), `classes.txt`, and `annotations.json` with every image's class, box and
//! attributes.

use super::synth::{self, SHAPES};
use crate::error::{LanternError, Result};
use crate::files::write_json;
use crate::map::PixelBox;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// One image's entry in `annotations.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Annotation {
    pub id: String,
    /// Image path relative to the dataset folder.
    pub file: String,
    /// Mask path relative to the dataset folder.
    pub mask: String,
    pub class: usize,
    pub class_name: String,
    /// `[x0, y0, x1, y1]`, corners inclusive.
    #[serde(rename = "box")]
    pub bbox: [u32; 4],
    pub attributes: BTreeMap<String, String>,
    pub width: u32,
    pub height: u32,
}

/// `annotations.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Annotations {
    pub seed: u64,
    pub size: u32,
    pub classes: Vec<String>,
    pub images: Vec<Annotation>,
}

/// Check a benchmark's image side (`--size`) and create the folders it is written into
/// (`subfolders` of `dir`): what every procedural writer does first.
pub fn prepare(dir: &Path, size: u32, subfolders: impl IntoIterator<Item = String>) -> Result<()> {
    if !(32..=1024).contains(&size) {
        return Err(LanternError::BadArgument(format!("--size must be between 32 and 1024 pixels, got {size}")));
    }
    for sub in subfolders {
        let p = dir.join(sub);
        std::fs::create_dir_all(&p).map_err(|e| LanternError::io(&p, e))?;
    }
    Ok(())
}

/// Generate `count` images with `seed` at `size` pixels into `dir`; `progress(done)` after each.
pub fn write(dir: &Path, count: usize, seed: u64, size: u32, mut progress: impl FnMut(usize)) -> Result<Annotations> {
    prepare(dir, size, std::iter::once("masks".to_string()).chain(SHAPES.iter().map(|n| format!("images/{n}"))))?;
    let mut images = Vec::with_capacity(count);
    for i in 0..count {
        let s = synth::generate(seed, i as u64, size);
        let id = format!("{i:06}");
        let file = format!("images/{}/{id}.png", SHAPES[s.class]);
        let mask = format!("masks/{id}.png");
        crate::files::write_rgb_png(&dir.join(&file), &s.image)?;
        let mask_path = dir.join(&mask);
        crate::files::write_gray_png(&mask_path, &s.mask)?;
        images.push(Annotation {
            id,
            file,
            mask,
            class: s.class,
            class_name: SHAPES[s.class].to_string(),
            bbox: [s.bbox.x0, s.bbox.y0, s.bbox.x1, s.bbox.y1],
            attributes: s.attributes.named().iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            width: size,
            height: size,
        });
        progress(i + 1);
    }
    let annotations = Annotations { seed, size, classes: SHAPES.iter().map(|s| s.to_string()).collect(), images };
    let classes = dir.join("classes.txt");
    crate::files::write_atomic(&classes, |f| {
        use std::io::Write;
        f.write_all((SHAPES.join("\n") + "\n").as_bytes())
    })?;
    write_json(&dir.join("annotations.json"), &annotations)?;
    Ok(annotations)
}

/// Read `annotations.json` of a folder written by [`write`].
pub fn read(dir: &Path) -> Result<Annotations> {
    let path = dir.join("annotations.json");
    let text = std::fs::read_to_string(&path).map_err(|e| LanternError::io(&path, e))?;
    let a: Annotations = serde_json::from_str(&text).map_err(|e| {
        LanternError::BadArgument(format!("{}: line {}, column {}: {e}", path.display(), e.line(), e.column()))
    })?;
    for img in &a.images {
        if img.class >= a.classes.len() {
            return Err(LanternError::BadArgument(format!(
                "{}: image {} has class {} of {}",
                path.display(),
                img.id,
                img.class,
                a.classes.len()
            )));
        }
    }
    Ok(a)
}

impl Annotation {
    pub fn pixel_box(&self) -> PixelBox {
        PixelBox { x0: self.bbox[0], y0: self.bbox[1], x1: self.bbox[2], y1: self.bbox[3] }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_and_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let a = write(dir.path(), 4, 9, 64, |_| {}).unwrap();
        assert_eq!(read(dir.path()).unwrap(), a);
        let first = &a.images[0];
        let img = image::open(dir.path().join(&first.file)).unwrap().into_rgb8();
        assert_eq!(img, synth::generate(9, 0, 64).image);
        let mask = image::open(dir.path().join(&first.mask)).unwrap().into_luma8();
        assert_eq!(synth::mask_box(&mask), first.pixel_box());
        assert!(write(dir.path(), 1, 1, 8, |_| {}).is_err());
        std::fs::write(dir.path().join("annotations.json"), "{\"seed\": 1,").unwrap();
        assert!(read(dir.path()).unwrap_err().to_string().contains("line 1"));
    }
}
