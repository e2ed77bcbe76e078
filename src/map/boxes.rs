//! Boxes from a thresholded map, found the way clovaai/wsolevaluation's
//! `compute_bboxes_from_scoremaps` finds them (Choe et al., "Evaluating Weakly Supervised Object
//! Localization Methods Right", CVPR 2020):
//!
//! 1. quantise the map to 8 bits, `q = uint8(clamp(m, 0, 1) * 255)` (truncation);
//! 2. keep the pixels with `q > int(threshold * max(q))`;
//! 3. trace every border of the kept regions (Suzuki-Abe, as OpenCV's `findContours` with
//!    `RETR_TREE`: outer borders and hole borders; the image is framed by background, as OpenCV
//!    pads it);
//! 4. one box per border (`All`, MaxBoxAccV2's multi-contour mode) or only the border of largest
//!    polygon area (`Largest`, MaxBoxAcc V1); a box is the border's bounding rectangle
//!    `(x, y, x + w, y + h)` with `x + w` and `y + h` clamped to the last column and row.
//!
//! Ties in area go to the first border in OpenCV's output order, which is a depth-first
//! pre-order of the border tree with siblings in reverse order of discovery (raster scan); the
//! fixtures made with wsolevaluation and OpenCV exercise this.
//!
//! With no region above the threshold the result is the single box `(0, 0, 0, 0)`, as there.

use super::WeightMap;
use image::GrayImage;
use imageproc::contours::{Contour, find_contours_with_threshold};
use serde::{Deserialize, Serialize};

/// Which borders become boxes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum BoxMode {
    /// Only the border enclosing the largest area (MaxBoxAcc).
    Largest,
    /// Every border (MaxBoxAccV2's `multi_contour_eval`).
    All,
}

/// A box in pixel coordinates, corners inclusive (`x0 <= x1`, `y0 <= y1`), so its area is
/// `(x1 - x0 + 1) * (y1 - y0 + 1)`: the +1 convention of wsolevaluation's IoU.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PixelBox {
    pub x0: u32,
    pub y0: u32,
    pub x1: u32,
    pub y1: u32,
}

impl PixelBox {
    /// Area with the +1 convention.
    pub fn area(&self) -> u64 {
        (self.x1 as u64 + 1).saturating_sub(self.x0 as u64) * (self.y1 as u64 + 1).saturating_sub(self.y0 as u64)
    }

    /// Intersection over union with the +1 convention; 0 for degenerate pairs.
    pub fn iou(&self, other: &PixelBox) -> f64 {
        let w = (self.x1.min(other.x1) as i64 - self.x0.max(other.x0) as i64 + 1).max(0);
        let h = (self.y1.min(other.y1) as i64 - self.y0.max(other.y0) as i64 + 1).max(0);
        let inter = (w * h) as f64;
        let union = self.area() as f64 + other.area() as f64 - inter;
        if union <= 0.0 { 0.0 } else { inter / union }
    }
}

/// The 8-bit image wsolevaluation thresholds: `uint8(clamp(m, 0, 1) * 255)`.
pub(crate) fn quantize(map: &WeightMap) -> GrayImage {
    let bytes = map.values.iter().map(|&v| (f64::from(v.clamp(0.0, 1.0)) * 255.0) as u8).collect();
    GrayImage::from_raw(map.width as u32, map.height as u32, bytes).expect("a WeightMap holds width*height values")
}

/// Boxes of the regions above `threshold` (a fraction in `[0, 1)` of the map's maximum).
pub fn boxes_at_threshold(map: &WeightMap, threshold: f32, mode: BoxMode) -> Vec<PixelBox> {
    boxes_from_quantized(&quantize(map), threshold as f64, mode)
}

/// The boxes of every region of `map` above threshold `i / 100`, for `i` in `0..100` (the map
/// quantized once; a view reads the boxes of any threshold from the list without recomputing).
pub fn threshold_boxes(map: &WeightMap) -> Vec<Vec<PixelBox>> {
    let q = quantize(map);
    (0..100).map(|i| boxes_from_quantized(&q, f64::from(i) / 100.0, BoxMode::All)).collect()
}

/// The boxes at `threshold` of a [`threshold_boxes`] list: those of the largest `i / 100` not
/// above it (with slack for sliders that land a hair under a hundredth).
pub fn boxes_at(boxes: &[Vec<PixelBox>], threshold: f32) -> &[PixelBox] {
    let i = ((threshold * 100.0 + 1e-3).floor().max(0.0) as usize).min(99);
    boxes.get(i).map_or(&[], Vec::as_slice)
}

/// As [`boxes_at_threshold`] on an already quantised map, so a threshold sweep quantises once.
pub(crate) fn boxes_from_quantized(q: &GrayImage, threshold: f64, mode: BoxMode) -> Vec<PixelBox> {
    let (width, height) = q.dimensions();
    if width == 0 || height == 0 {
        return vec![PixelBox { x0: 0, y0: 0, x1: 0, y1: 0 }];
    }
    let max = q.pixels().map(|p| p.0[0]).max().unwrap_or(0);
    let cut = (threshold * f64::from(max)) as i64;
    let contours = if cut >= 255 { Vec::new() } else { framed_contours(q, cut.max(0) as u8) };
    if contours.is_empty() {
        return vec![PixelBox { x0: 0, y0: 0, x1: 0, y1: 0 }];
    }
    let order = opencv_order(&contours);
    let chosen: Vec<&Contour<i64>> = match mode {
        BoxMode::All => order.iter().map(|&i| &contours[i]).collect(),
        BoxMode::Largest => {
            let mut best = order[0];
            let mut best_area = twice_area(&contours[best]);
            for &i in &order[1..] {
                let a = twice_area(&contours[i]);
                if a > best_area {
                    best = i;
                    best_area = a;
                }
            }
            vec![&contours[best]]
        }
    };
    chosen.into_iter().map(|c| bounding_box(c, width, height)).collect()
}

/// Borders of the pixels above `cut`, with the image framed by one pixel of background (as
/// OpenCV frames it, so regions touching the edge are traced like any other).
fn framed_contours(q: &GrayImage, cut: u8) -> Vec<Contour<i64>> {
    let (w, h) = q.dimensions();
    let mut framed = GrayImage::new(w + 2, h + 2);
    image::imageops::replace(&mut framed, q, 1, 1);
    let mut contours: Vec<Contour<i64>> = find_contours_with_threshold(&framed, cut);
    for c in &mut contours {
        for p in &mut c.points {
            p.x -= 1;
            p.y -= 1;
        }
    }
    contours
}

/// OpenCV's order of `RETR_TREE` contours: depth-first pre-order of the tree, siblings in reverse
/// order of discovery. `contours` is in discovery order, each with its parent's index.
fn opencv_order(contours: &[Contour<i64>]) -> Vec<usize> {
    let mut children: Vec<Vec<usize>> = vec![Vec::new(); contours.len()];
    let mut stack = Vec::new();
    for (i, c) in contours.iter().enumerate() {
        match c.parent {
            Some(p) => children[p].push(i),
            None => stack.push(i),
        }
    }
    let mut order = Vec::with_capacity(contours.len());
    while let Some(i) = stack.pop() {
        order.push(i);
        stack.extend_from_slice(&children[i]);
    }
    order
}

/// Twice the shoelace area of a border polygon (OpenCV's `contourArea` times two, exact).
fn twice_area(c: &Contour<i64>) -> i64 {
    let n = c.points.len();
    if n < 3 {
        return 0;
    }
    let mut twice = 0i64;
    for i in 0..n {
        let p = c.points[i];
        let q = c.points[(i + 1) % n];
        twice += p.x * q.y - q.x * p.y;
    }
    twice.abs()
}

/// `cv2.boundingRect` turned into wsolevaluation's corner box.
fn bounding_box(c: &Contour<i64>, width: u32, height: u32) -> PixelBox {
    let min_x = c.points.iter().map(|p| p.x).min().unwrap_or(0);
    let max_x = c.points.iter().map(|p| p.x).max().unwrap_or(0);
    let min_y = c.points.iter().map(|p| p.y).min().unwrap_or(0);
    let max_y = c.points.iter().map(|p| p.y).max().unwrap_or(0);
    PixelBox {
        x0: min_x as u32,
        y0: min_y as u32,
        x1: ((max_x + 1) as u32).min(width - 1),
        y1: ((max_y + 1) as u32).min(height - 1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map_with(width: usize, height: usize, on: &[(usize, usize, usize, usize, f32)]) -> WeightMap {
        let mut values = vec![0.0; width * height];
        for &(x0, y0, x1, y1, v) in on {
            for y in y0..=y1 {
                for x in x0..=x1 {
                    values[y * width + x] = v;
                }
            }
        }
        WeightMap::new(width, height, values)
    }

    #[test]
    fn one_blob_gives_its_box_extended_by_one() {
        let m = map_with(10, 8, &[(2, 1, 5, 3, 1.0)]);
        let b = m.boxes(0.5, BoxMode::Largest);
        assert_eq!(b, vec![PixelBox { x0: 2, y0: 1, x1: 6, y1: 4 }]);
    }

    #[test]
    fn boxes_clamp_at_the_border() {
        let m = map_with(6, 6, &[(3, 3, 5, 5, 1.0)]);
        assert_eq!(m.boxes(0.2, BoxMode::Largest), vec![PixelBox { x0: 3, y0: 3, x1: 5, y1: 5 }]);
    }

    #[test]
    fn largest_and_all_contours() {
        let m = map_with(20, 10, &[(1, 1, 3, 3, 0.9), (8, 2, 16, 8, 1.0)]);
        let largest = m.boxes(0.5, BoxMode::Largest);
        assert_eq!(largest, vec![PixelBox { x0: 8, y0: 2, x1: 17, y1: 9 }]);
        let all = m.boxes(0.5, BoxMode::All);
        assert_eq!(all.len(), 2);
        assert!(all.contains(&PixelBox { x0: 1, y0: 1, x1: 4, y1: 4 }));
        // The lower blob (0.9 -> q = 229) falls below a 0.95 cut of max q = 255 (cut 242).
        assert_eq!(m.boxes(0.95, BoxMode::All).len(), 1);
    }

    #[test]
    fn a_ring_has_an_outer_and_a_hole_border() {
        let mut m = map_with(12, 12, &[(2, 2, 9, 9, 1.0)]);
        for y in 4..=7 {
            for x in 4..=7 {
                m.values[y * 12 + x] = 0.0;
            }
        }
        assert_eq!(m.boxes(0.5, BoxMode::All).len(), 2);
    }

    #[test]
    fn regions_on_the_left_edge_are_found_and_ties_go_to_the_last_discovered() {
        // A vertical line in column 0 (missed without the frame) and an equal line in column 5.
        let m = map_with(8, 6, &[(0, 1, 0, 3, 1.0), (5, 1, 5, 3, 1.0)]);
        assert_eq!(m.boxes(0.5, BoxMode::All).len(), 2);
        // Both have area 0; OpenCV lists the later-discovered (column 5) first, so it wins.
        assert_eq!(m.boxes(0.5, BoxMode::Largest), vec![PixelBox { x0: 5, y0: 1, x1: 6, y1: 4 }]);
    }

    #[test]
    fn empty_or_all_below_threshold_gives_the_zero_box() {
        let m = WeightMap::new(5, 5, vec![0.0; 25]);
        assert_eq!(m.boxes(0.5, BoxMode::All), vec![PixelBox { x0: 0, y0: 0, x1: 0, y1: 0 }]);
    }

    #[test]
    fn iou_uses_the_plus_one_convention() {
        let a = PixelBox { x0: 0, y0: 0, x1: 9, y1: 9 };
        let b = PixelBox { x0: 5, y0: 0, x1: 14, y1: 9 };
        assert!((a.iou(&b) - 50.0 / 150.0).abs() < 1e-12);
        assert_eq!(a.iou(&a), 1.0);
        assert_eq!(a.area(), 100);
    }
}
