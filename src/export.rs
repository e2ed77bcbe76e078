//! Writing explanations to disk: overlay PNGs, the raw map as `.npy` (float32) and as a 16-bit
//! grayscale PNG, and a JSON record. Files are written to a temporary name and renamed into
//! place, so an interrupted export never leaves a half-written file under the final name.

use crate::error::{LanternError, Result};
use crate::map::WeightMap;
use image::{ImageBuffer, Luma, RgbImage};
use npyz::WriterBuilder;
use serde::Serialize;
use std::io::Write;
use std::path::Path;

/// Write `bytes` to `path` through a temporary sibling and a rename.
pub fn write_atomic(path: &Path, write: impl FnOnce(&mut std::fs::File) -> std::io::Result<()>) -> Result<()> {
    let tmp = path.with_extension(format!(
        "{}.partial",
        path.extension().and_then(|e| e.to_str()).unwrap_or("tmp")
    ));
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
        img.write_to(&mut std::io::BufWriter::new(f), image::ImageFormat::Png)
            .map_err(std::io::Error::other)
    })
}

/// An RGB image as PNG.
pub fn write_rgb_png(path: &Path, img: &RgbImage) -> Result<()> {
    encode_png(path, img)
}

/// The map as a 16-bit grayscale PNG (`round(clamp(v, 0, 1) * 65535)`).
pub fn write_map_png16(path: &Path, map: &WeightMap) -> Result<()> {
    let img: ImageBuffer<Luma<u16>, Vec<u16>> =
        ImageBuffer::from_raw(map.width as u32, map.height as u32, map.to_u16()).expect("width*height values");
    encode_png(path, &img)
}

/// The map as a `float32` `.npy` array of shape `(height, width)`.
pub fn write_map_npy(path: &Path, map: &WeightMap) -> Result<()> {
    write_atomic(path, |f| {
        let mut w = npyz::WriteOptions::<f32>::new()
            .default_dtype()
            .shape(&[map.height as u64, map.width as u64])
            .writer(std::io::BufWriter::new(f))
            .begin_nd()?;
        w.extend(map.values.iter().copied())?;
        w.finish()
    })
}

/// Any serialisable record as pretty JSON.
pub fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    let text = serde_json::to_string_pretty(value).map_err(|e| LanternError::Invalid(e.to_string()))?;
    write_atomic(path, |f| f.write_all(text.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn npy_and_png16_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let map = WeightMap::new(3, 2, vec![0.0, 0.5, 1.0, 0.25, 0.75, 0.1]);
        let npy = dir.path().join("m.npy");
        write_map_npy(&npy, &map).unwrap();
        let bytes = std::fs::read(&npy).unwrap();
        let arr = npyz::NpyFile::new(&bytes[..]).unwrap();
        assert_eq!(arr.shape(), &[2, 3]);
        assert_eq!(arr.into_vec::<f32>().unwrap(), map.values);
        let png = dir.path().join("m.png");
        write_map_png16(&png, &map).unwrap();
        let back = image::open(&png).unwrap().into_luma16();
        assert_eq!(back.get_pixel(2, 0).0[0], 65535);
        assert_eq!(back.get_pixel(1, 0).0[0], 32768);
        assert!(!dir.path().join("m.png.partial").exists());
    }
}

/// One class with its probability.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Prediction {
    pub index: usize,
    pub label: String,
    pub probability: f32,
}

/// Everything needed to know where an exported map came from.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Record {
    pub image: String,
    pub image_size: [u32; 2],
    pub model: String,
    pub arch: String,
    pub device: String,
    pub method: String,
    pub layer: String,
    pub target: Prediction,
    pub predictions: Vec<Prediction>,
    pub preprocess: crate::imaging::Preprocess,
    /// Where the map lies in the original image: `[x, y, width, height]` in pixels.
    pub crop_in_original: [f64; 4],
    pub map_size: [usize; 2],
    pub timing_ms: crate::explain::Timing,
    /// Deletion and insertion AUC (RISE protocol) when `--faithfulness` was asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deletion_auc: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub insertion_auc: Option<f64>,
    /// Files written for this map, by kind (`overlay`, `npy`, `png16`, `json`).
    pub files: std::collections::BTreeMap<String, String>,
}
