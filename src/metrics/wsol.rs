//! Weakly-supervised localisation metrics exactly as clovaai/wsolevaluation computes them
//! (Choe et al., "Evaluating Weakly Supervised Object Localization Methods Right", CVPR 2020).
//!
//! * **MaxBoxAcc**: for each CAM threshold `t` in `0, 0.01, ..., 0.99`, an image counts as correct
//!   when the box of its largest region above `t` has IoU >= 0.5 with a ground-truth box; the
//!   metric is the best accuracy over `t`.
//! * **MaxBoxAccV2**: boxes of every region (multi-contour), IoU thresholds 0.3, 0.5 and 0.7, each
//!   with its own best `t`; the mean of the three.
//! * **PxAP**: area under the pixel-wise precision-recall curve of the map against a mask,
//!   histograms pooled over all images, pixels marked 255 ignored.
//! * **GT-known / top-1 localisation** at the MaxBoxAcc-optimal threshold: IoU >= 0.5, and for
//!   top-1 also a correct class (Zhou et al., CVPR 2016).

use crate::map::boxes::{boxes_from_quantized, quantize};
use crate::map::{BoxMode, PixelBox, WeightMap};
use serde::{Deserialize, Serialize};

/// wsolevaluation's CAM thresholds: `t_i = i * interval` for `t_i < 1`.
pub fn cam_thresholds(interval: f64) -> Vec<f64> {
    let n = (1.0 / interval).ceil() as usize;
    (0..n).map(|i| i as f64 * interval).filter(|&t| t < 1.0).collect()
}

/// Best IoU between any of `boxes` and any of `gt`.
pub fn best_iou(boxes: &[PixelBox], gt: &[PixelBox]) -> f64 {
    boxes.iter().flat_map(|b| gt.iter().map(move |g| b.iou(g))).fold(0.0, f64::max)
}

/// Box accuracy over a threshold sweep, accumulated image by image.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BoxAccuracy {
    pub mode: BoxMode,
    pub thresholds: Vec<f64>,
    /// IoU thresholds in percent, e.g. `[30, 50, 70]`.
    pub iou_thresholds: Vec<u32>,
    /// `correct[k][t]`: images whose best IoU at CAM threshold `t` reaches `iou_thresholds[k]`.
    pub correct: Vec<Vec<u64>>,
    pub images: u64,
}

impl BoxAccuracy {
    pub fn new(mode: BoxMode, thresholds: Vec<f64>, iou_thresholds: Vec<u32>) -> Self {
        let correct = vec![vec![0; thresholds.len()]; iou_thresholds.len()];
        Self { mode, thresholds, iou_thresholds, correct, images: 0 }
    }

    /// MaxBoxAcc's setting: largest region, IoU 0.5.
    pub fn v1(thresholds: Vec<f64>) -> Self {
        Self::new(BoxMode::Largest, thresholds, vec![30, 50, 70])
    }

    /// MaxBoxAccV2's setting: every region, IoU 0.3, 0.5, 0.7.
    pub fn v2(thresholds: Vec<f64>) -> Self {
        Self::new(BoxMode::All, thresholds, vec![30, 50, 70])
    }

    /// The best IoU at every threshold for one map (values in `[0, 1]`).
    pub fn best_ious(&self, map: &WeightMap, gt: &[PixelBox]) -> Vec<f64> {
        let q = quantize(map);
        self.thresholds.iter().map(|&t| best_iou(&boxes_from_quantized(&q, t, self.mode), gt)).collect()
    }

    /// Add one image; returns its best IoU per threshold.
    pub fn add(&mut self, map: &WeightMap, gt: &[PixelBox]) -> Vec<f64> {
        let ious = self.best_ious(map, gt);
        self.add_ious(&ious);
        ious
    }

    /// Add one image from its precomputed best IoU per threshold.
    pub fn add_ious(&mut self, ious: &[f64]) {
        for (k, &iou_t) in self.iou_thresholds.iter().enumerate() {
            let cut = f64::from(iou_t) / 100.0;
            for (t, &iou) in ious.iter().enumerate() {
                if iou >= cut {
                    self.correct[k][t] += 1;
                }
            }
        }
        self.images += 1;
    }

    /// Accuracy in percent per threshold, for IoU threshold `iou` (e.g. 50).
    pub fn curve(&self, iou: u32) -> Vec<f64> {
        let k = self.iou_thresholds.iter().position(|&i| i == iou).expect("IoU threshold is tracked");
        self.correct[k].iter().map(|&c| c as f64 * 100.0 / self.images.max(1) as f64).collect()
    }

    /// Best accuracy over thresholds for IoU threshold `iou`, and the first threshold index reaching it.
    pub fn max_accuracy(&self, iou: u32) -> (f64, usize) {
        let curve = self.curve(iou);
        let mut best = (f64::NEG_INFINITY, 0);
        for (i, &a) in curve.iter().enumerate() {
            if a > best.0 {
                best = (a, i);
            }
        }
        best
    }

    /// Mean over the tracked IoU thresholds of the best accuracy (MaxBoxAccV2 for V2).
    pub fn mean_max_accuracy(&self) -> f64 {
        let sum: f64 = self.iou_thresholds.iter().map(|&i| self.max_accuracy(i).0).sum();
        sum / self.iou_thresholds.len() as f64
    }
}

/// GT-known and top-1 localisation accuracy (percent) at CAM threshold index `t`: the share of
/// images whose best IoU reaches 0.5, and of those whose class was also predicted right.
pub fn localization_accuracy(best_ious: &[Vec<f64>], class_correct: &[bool], t: usize) -> (f64, f64) {
    let n = best_ious.len().max(1) as f64;
    let hits: Vec<bool> = best_ious.iter().map(|ious| ious[t] >= 0.5).collect();
    let gt_known = hits.iter().filter(|&&h| h).count() as f64 * 100.0 / n;
    let top1 = hits.iter().zip(class_correct).filter(|&(&h, &c)| h && c).count() as f64 * 100.0 / n;
    (gt_known, top1)
}

/// PxAP: histograms of map values on foreground and background pixels, pooled over images.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PixelPrecision {
    /// Bin edges: the CAM thresholds, then 1, 2, 3.
    pub edges: Vec<f64>,
    pub foreground: Vec<f64>,
    pub background: Vec<f64>,
}

/// The PR curve and its area.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PrCurve {
    pub precision: Vec<f64>,
    pub recall: Vec<f64>,
    /// Area in percent.
    pub pxap: f64,
}

impl PixelPrecision {
    pub fn new(thresholds: &[f64]) -> Self {
        let mut edges = thresholds.to_vec();
        edges.extend([1.0, 2.0, 3.0]);
        let bins = edges.len() - 1;
        Self { edges, foreground: vec![0.0; bins], background: vec![0.0; bins] }
    }

    /// numpy.histogram's bin of `v`: `edges[j] <= v < edges[j + 1]`, the last bin closed.
    fn bin(&self, v: f64) -> Option<usize> {
        let last = self.edges.len() - 1;
        if v.is_nan() || v < self.edges[0] || v > self.edges[last] {
            return None;
        }
        if v == self.edges[last] {
            return Some(last - 1);
        }
        Some(self.edges.partition_point(|&e| e <= v) - 1)
    }

    /// Add one map with its mask (1 foreground, 0 background, 255 ignored), same size.
    pub fn add(&mut self, map: &WeightMap, mask: &[u8]) {
        for (&v, &m) in map.values.iter().zip(mask) {
            let Some(b) = self.bin(f64::from(v)) else { continue };
            match m {
                1 => self.foreground[b] += 1.0,
                0 => self.background[b] += 1.0,
                _ => {}
            }
        }
    }

    /// The PR curve over thresholds high to low and PxAP; `None` without any foreground pixel or
    /// without any counted pixel.
    pub fn curve(&self) -> Option<PrCurve> {
        let cumsum = |h: &[f64]| -> Vec<f64> {
            h.iter()
                .rev()
                .scan(0.0, |acc, v| {
                    *acc += v;
                    Some(*acc)
                })
                .collect()
        };
        let tp = cumsum(&self.foreground);
        let fp = cumsum(&self.background);
        let positives: f64 = self.foreground.iter().sum();
        if positives <= 0.0 || tp.iter().zip(&fp).all(|(a, b)| a + b <= 0.0) {
            return None;
        }
        let precision: Vec<f64> = tp.iter().zip(&fp).map(|(t, f)| t / (t + f)).collect();
        let recall: Vec<f64> = tp.iter().map(|t| t / positives).collect();
        let mut area = 0.0;
        for k in 1..tp.len() {
            if tp[k] + fp[k] != 0.0 {
                area += precision[k] * (recall[k] - recall[k - 1]);
            }
        }
        Some(PrCurve { precision, recall, pxap: area * 100.0 })
    }
}

/// Pointing game (Zhang et al., "Top-down Neural Attention by Excitation Backprop", ECCV 2016):
/// a hit when the map's maximum lies within `tolerance` pixels of the ground-truth mask.
pub fn pointing_game(map: &WeightMap, mask: &[bool], tolerance: usize) -> bool {
    let Some(best) = map.values.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).map(|(i, _)| i) else {
        return false;
    };
    let (bx, by) = ((best % map.width) as i64, (best / map.width) as i64);
    let t = tolerance as i64;
    for y in (by - t).max(0)..=(by + t).min(map.height as i64 - 1) {
        for x in (bx - t).max(0)..=(bx + t).min(map.width as i64 - 1) {
            let (dx, dy) = (x - bx, y - by);
            if dx * dx + dy * dy <= t * t && mask[y as usize * map.width + x as usize] {
                return true;
            }
        }
    }
    false
}

/// Relevance mass accuracy (Arras et al., "CLEVR-XAI", Information Fusion 2022): the share of
/// the map's positive mass inside the ground-truth mask.
pub fn relevance_mass(map: &WeightMap, mask: &[bool]) -> f64 {
    let (mut inside, mut total) = (0.0f64, 0.0f64);
    for (&v, &m) in map.values.iter().zip(mask) {
        let v = f64::from(v.max(0.0));
        total += v;
        if m {
            inside += v;
        }
    }
    if total > 0.0 { inside / total } else { 0.0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_are_i_times_interval() {
        let t = cam_thresholds(0.01);
        assert_eq!(t.len(), 100);
        assert_eq!(t[37], 37.0 * 0.01);
        assert_eq!(cam_thresholds(0.001).len(), 1000);
    }

    #[test]
    fn pxap_of_a_perfect_map_is_100() {
        let map = WeightMap::new(4, 1, vec![0.0, 0.2, 0.9, 1.0]);
        let mut p = PixelPrecision::new(&cam_thresholds(0.01));
        p.add(&map, &[0, 0, 1, 1]);
        assert!((p.curve().unwrap().pxap - 100.0).abs() < 1e-9);
        let mut q = PixelPrecision::new(&cam_thresholds(0.01));
        q.add(&map, &[255, 255, 0, 0]);
        assert!(q.curve().is_none(), "no foreground pixel");
    }

    #[test]
    fn pointing_and_mass() {
        let map = WeightMap::new(3, 1, vec![0.1, 0.2, 0.9]);
        assert!(pointing_game(&map, &[false, false, true], 0));
        assert!(!pointing_game(&map, &[true, false, false], 1));
        assert!(pointing_game(&map, &[true, false, false], 2));
        assert!((relevance_mass(&map, &[false, false, true]) - 0.75).abs() < 1e-6);
    }
}
