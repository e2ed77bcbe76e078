//! [`WeightMap`]: a per-pixel importance map, the one result type every explanation method
//! returns, and the operations the viewer, the CLI and the metrics apply to it.
//!
//! Nothing here depends on burn or egui: a map is a plain row-major `Vec<f32>`.

pub(crate) mod boxes;
mod resize;

pub use boxes::{BoxMode, PixelBox, boxes_at_threshold};
pub use resize::{Interpolation, resize};

use serde::{Deserialize, Serialize};

/// Where a map came from, carried into every export.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Provenance {
    /// Method name as `lantern methods` lists it, e.g. `gradcam`.
    pub method: String,
    /// Layer the method explained, e.g. `layer4`; empty for input-space methods.
    pub layer: String,
    /// Class index the map explains, when it explains one class.
    pub target: Option<usize>,
    /// Human-readable description of what the map explains (the class's label, when the model
    /// has labels).
    pub target_label: String,
    /// Architecture of the model, e.g. `resnet50`.
    pub model: String,
}

/// A 2-D map of importance values, row-major, `values.len() == width * height`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WeightMap {
    pub width: usize,
    pub height: usize,
    pub values: Vec<f32>,
    pub provenance: Provenance,
}

impl WeightMap {
    /// A map from raw values.
    ///
    /// # Panics
    /// When `values.len() != width * height`; callers build maps from tensors whose shape
    /// they know, so a mismatch is a programming error, not bad user input.
    pub fn new(width: usize, height: usize, values: Vec<f32>) -> Self {
        assert_eq!(values.len(), width * height, "WeightMap values must be width*height");
        Self { width, height, values, provenance: Provenance::default() }
    }

    /// The same map with its provenance set.
    pub fn with_provenance(mut self, provenance: Provenance) -> Self {
        self.provenance = provenance;
        self
    }

    /// Value at pixel `(x, y)`, `None` outside the map.
    pub fn get(&self, x: usize, y: usize) -> Option<f32> {
        (x < self.width && y < self.height).then(|| self.values[y * self.width + x])
    }

    /// Smallest and largest value (`(0, 0)` for an empty map). NaNs are ignored.
    pub fn min_max(&self) -> (f32, f32) {
        let mut lo = f32::INFINITY;
        let mut hi = f32::NEG_INFINITY;
        for &v in self.values.iter().filter(|v| !v.is_nan()) {
            lo = lo.min(v);
            hi = hi.max(v);
        }
        if lo > hi { (0.0, 0.0) } else { (lo, hi) }
    }

    /// `max(x, 0)` in place: the ReLU every CAM method applies before normalising.
    pub fn relu(&mut self) {
        for v in &mut self.values {
            *v = v.max(0.0);
        }
    }

    /// Min-max normalisation in the order pytorch-grad-cam's `scale_cam_image` uses:
    /// `x -= min(x); x /= (1e-7 + max(x))`. NaNs become 0 first.
    pub fn normalize(&mut self) {
        for v in &mut self.values {
            if v.is_nan() {
                *v = 0.0;
            }
        }
        let (lo, _) = self.min_max();
        for v in &mut self.values {
            *v -= lo;
        }
        let (_, hi) = self.min_max();
        let scale = 1e-7 + hi;
        for v in &mut self.values {
            *v /= scale;
        }
    }

    /// This map resampled to `width x height` (see [`resize`]).
    pub fn resized(&self, width: usize, height: usize, interpolation: Interpolation) -> Self {
        Self {
            width,
            height,
            values: resize(&self.values, self.width, self.height, width, height, interpolation),
            provenance: self.provenance.clone(),
        }
    }

    /// Binary mask of the pixels strictly above `threshold`.
    pub fn threshold(&self, threshold: f32) -> Vec<bool> {
        self.values.iter().map(|&v| v > threshold).collect()
    }

    /// Boxes around the regions above `threshold` (a fraction of the map's maximum), found
    /// as clovaai/wsolevaluation finds them; see [`boxes_at_threshold`].
    pub fn boxes(&self, threshold: f32, mode: BoxMode) -> Vec<PixelBox> {
        boxes_at_threshold(self, threshold, mode)
    }

    /// The map quantised to 16 bits (`round(clamp(x, 0, 1) * 65535)`), for 16-bit PNG export.
    pub fn to_u16(&self) -> Vec<u16> {
        self.values.iter().map(|&v| (v.clamp(0.0, 1.0) * 65535.0).round() as u16).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_follows_pytorch_grad_cam_order() {
        let mut m = WeightMap::new(2, 2, vec![1.0, 2.0, 3.0, 5.0]);
        m.normalize();
        let expected = [0.0, 0.25, 0.5, 1.0];
        for (v, e) in m.values.iter().zip(expected) {
            assert!((v - e * 4.0 / (4.0 + 1e-7)).abs() < 1e-6, "{v} vs {e}");
        }
    }

    #[test]
    fn normalize_constant_map_gives_zeros_not_nan() {
        let mut m = WeightMap::new(3, 1, vec![2.0, 2.0, 2.0]);
        m.normalize();
        assert_eq!(m.values, vec![0.0, 0.0, 0.0]);
        let mut n = WeightMap::new(2, 1, vec![f32::NAN, 1.0]);
        n.normalize();
        assert_eq!(n.values, vec![0.0, 1.0 / (1.0 + 1e-7)]);
    }

    #[test]
    fn relu_and_threshold() {
        let mut m = WeightMap::new(4, 1, vec![-1.0, 0.0, 0.4, 0.9]);
        m.relu();
        assert_eq!(m.values, vec![0.0, 0.0, 0.4, 0.9]);
        assert_eq!(m.threshold(0.4), vec![false, false, false, true]);
        assert_eq!(m.get(3, 0), Some(0.9));
        assert_eq!(m.get(4, 0), None);
    }

    #[test]
    fn u16_quantisation_clamps() {
        let m = WeightMap::new(3, 1, vec![-0.5, 0.5, 2.0]);
        assert_eq!(m.to_u16(), vec![0, 32768, 65535]);
    }
}
