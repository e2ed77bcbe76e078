//! Writing files: PNG, `.npy`, JSON and CSV. Every file is written to a temporary sibling,
//! synced and renamed into place, so an interrupted write never leaves a half-written file under
//! the final name. The bottom layer: it knows formats, not what Lantern stores in them.

use crate::error::{LanternError, Result};
use image::{ImageBuffer, Luma, RgbImage};
use npyz::WriterBuilder;
use serde::Serialize;
use std::collections::HashMap;
use std::io::Write;
use std::path::Path;

/// Write `bytes` to `path` through a temporary sibling and a rename.
pub fn write_atomic(path: &Path, write: impl FnOnce(&mut std::fs::File) -> std::io::Result<()>) -> Result<()> {
    let tmp = path.with_extension(format!("{}.partial", path.extension().and_then(|e| e.to_str()).unwrap_or("tmp")));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        write(&mut f)?;
        f.flush()?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(|e| LanternError::io(path, e))
}

fn encode_png<P: image::Pixel<Subpixel = S> + image::PixelWithColorType, S: image::Primitive>(
    path: &Path,
    img: &ImageBuffer<P, Vec<S>>,
) -> Result<()>
where
    [S]: image::EncodableLayout,
{
    write_atomic(path, |f| {
        img.write_to(&mut std::io::BufWriter::new(f), image::ImageFormat::Png).map_err(std::io::Error::other)
    })
}

/// An RGB image as PNG.
pub fn write_rgb_png(path: &Path, img: &RgbImage) -> Result<()> {
    encode_png(path, img)
}

/// A `width x height` 16-bit grayscale PNG of row-major `values`.
pub fn write_gray16_png(path: &Path, width: usize, height: usize, values: Vec<u16>) -> Result<()> {
    let img: ImageBuffer<Luma<u16>, Vec<u16>> =
        ImageBuffer::from_raw(width as u32, height as u32, values).ok_or_else(|| {
            LanternError::Mismatch(format!(
                "{}: {width}x{height} image from a different number of values",
                path.display()
            ))
        })?;
    encode_png(path, &img)
}

/// An 8-bit grayscale PNG (masks).
pub fn write_gray_png(path: &Path, img: &image::GrayImage) -> Result<()> {
    encode_png(path, img)
}

/// A `float32` `.npy` array of the given shape.
pub fn write_npy_f32(path: &Path, shape: &[u64], values: &[f32]) -> Result<()> {
    write_atomic(path, |f| {
        let mut w = npyz::WriteOptions::<f32>::new()
            .default_dtype()
            .shape(shape)
            .writer(std::io::BufWriter::new(f))
            .begin_nd()?;
        w.extend(values.iter().copied())?;
        w.finish()
    })
}

/// Any serialisable record as pretty JSON.
pub fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    let text = serde_json::to_string_pretty(value).map_err(|e| LanternError::Internal(e.to_string()))?;
    write_atomic(path, |f| f.write_all(text.as_bytes()))
}

/// A CSV file: a header row, then `rows` (quoted where needed, by the `csv` crate).
pub fn write_csv<R: AsRef<[String]>>(path: &Path, header: &[&str], rows: &[R]) -> Result<()> {
    write_atomic(path, |f| {
        let mut w = csv::Writer::from_writer(std::io::BufWriter::new(f));
        w.write_record(header)?;
        for row in rows {
            w.write_record(row.as_ref())?;
        }
        w.flush()
    })
}

/// A file name's stem, `image` when it has none.
pub fn file_stem(name: &str) -> String {
    Path::new(name).file_stem().map_or_else(|| "image".to_string(), |s| s.to_string_lossy().to_string())
}

/// File stems unique within one export: `cat.jpg` and `cat.png` become `cat` and `cat-2`.
pub fn unique_stems<'a>(names: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let mut seen: HashMap<String, usize> = HashMap::new();
    names
        .into_iter()
        .map(|name| {
            let s = file_stem(name);
            let n = seen.entry(s.clone()).or_insert(0);
            *n += 1;
            if *n == 1 { s } else { format!("{s}-{n}") }
        })
        .collect()
}

/// `name` as a file-name part: letters, digits, `-` and `_` kept, every other run of
/// characters one `_` (a label such as "tabby, tabby cat" becomes `tabby_tabby_cat`).
pub fn safe_name(name: &str) -> String {
    let mut out = String::new();
    for ch in name.chars() {
        if ch.is_alphanumeric() || ch == '-' || ch == '_' {
            out.push(ch);
        } else if !out.ends_with('_') {
            out.push('_');
        }
    }
    let trimmed = out.trim_matches('_');
    if trimmed.is_empty() { "label".to_string() } else { trimmed.to_string() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stems_never_collide() {
        assert_eq!(unique_stems(["cat.jpg", "cat.png", "dog.png", "a/cat.bmp"]), vec!["cat", "cat-2", "dog", "cat-3"]);
    }

    #[test]
    fn safe_names_keep_words_and_drop_separators() {
        assert_eq!(safe_name("tabby, tabby cat"), "tabby_tabby_cat");
        assert_eq!(safe_name("../x"), "x");
        assert_eq!(safe_name("???"), "label");
    }

    #[test]
    fn npy_and_png16_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let values = vec![0.0, 0.5, 1.0, 0.25, 0.75, 0.1];
        let npy = dir.path().join("m.npy");
        write_npy_f32(&npy, &[2, 3], &values).unwrap();
        let bytes = std::fs::read(&npy).unwrap();
        let arr = npyz::NpyFile::new(&bytes[..]).unwrap();
        assert_eq!(arr.shape(), &[2, 3]);
        assert_eq!(arr.into_vec::<f32>().unwrap(), values);
        let png = dir.path().join("m.png");
        write_gray16_png(&png, 3, 2, vec![0, 32768, 65535, 1, 2, 3]).unwrap();
        let back = image::open(&png).unwrap().into_luma16();
        assert_eq!(back.get_pixel(2, 0).0[0], 65535);
        assert_eq!(back.get_pixel(1, 0).0[0], 32768);
        assert!(!dir.path().join("m.png.partial").exists());
        assert!(write_gray16_png(&png, 4, 4, vec![0; 3]).is_err());
    }

    #[test]
    fn csv_quotes_what_needs_quoting() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.csv");
        write_csv(&path, &["name", "note"], &[vec!["a,b".to_string(), "say \"hi\"".to_string()]]).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "name,note\n\"a,b\",\"say \"\"hi\"\"\"\n");
    }
}
