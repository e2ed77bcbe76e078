//! COCO instances (`annotations.json` in the dataset folder, images under `images/` or beside
//! it): boxes `[x, y, width, height]` and segmentations as polygons, uncompressed RLE
//! (`counts` as numbers) or compressed RLE (`counts` as a string, pycocotools' encoding).
//! An image's class is its largest annotation's category; its ground truth is every annotation
//! of that category.

use super::{Dataset, MaskSource, Sample, clamp_box, read_text};
use crate::error::{LanternError, Result};
use crate::imaging::MAX_MEGAPIXELS;
use image::{GrayImage, Luma};
use imageproc::point::Point;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;

/// One object's segmentation.
#[derive(Debug, Clone, PartialEq)]
pub enum Segmentation {
    /// Polygons as flat `[x0, y0, x1, y1, ...]` lists.
    Polygons(Vec<Vec<f64>>),
    /// Run lengths over the column-major pixel order, starting with a run of zeros.
    Rle { width: u32, height: u32, counts: Vec<u32> },
}

#[derive(Deserialize)]
struct File {
    images: Vec<Image>,
    annotations: Vec<Annotation>,
    categories: Vec<Category>,
}

#[derive(Deserialize)]
struct Image {
    id: u64,
    file_name: String,
    width: u32,
    height: u32,
}

#[derive(Deserialize)]
struct Annotation {
    image_id: u64,
    category_id: u64,
    bbox: [f64; 4],
    #[serde(default)]
    segmentation: Option<RawSegmentation>,
    #[serde(default)]
    area: Option<f64>,
}

/// A segmentation as the file spells it: polygons, or an RLE object whose counts are numbers
/// (uncompressed) or a string (pycocotools' compressed encoding).
#[derive(Deserialize)]
#[serde(untagged)]
enum RawSegmentation {
    Polygons(Vec<Vec<f64>>),
    Rle { counts: RawCounts },
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawCounts {
    Numbers(Vec<u32>),
    Compressed(String),
}

#[derive(Deserialize)]
struct Category {
    id: u64,
    name: String,
}

/// Longest count of a compressed RLE string, in characters: 7 characters carry 35 bits, enough
/// for any difference of two 32-bit counts with its sign.
const MAX_RLE_CHARS: u32 = 7;

/// Decode pycocotools' compressed RLE string (6-bit characters from '0', 5 payload bits, a
/// continuation bit, sign extension, and counts after the second coded as differences).
/// Counts must fit in 32 bits, as pycocotools' do.
pub fn decode_rle_string(s: &str) -> std::result::Result<Vec<u32>, String> {
    let bytes = s.as_bytes();
    let mut counts: Vec<u32> = Vec::new();
    let mut p = 0;
    while p < bytes.len() {
        let (mut x, mut k) = (0i64, 0u32);
        loop {
            let Some(&b) = bytes.get(p) else { return Err("truncated RLE string".into()) };
            if !(48..48 + 64).contains(&b) {
                return Err(format!("invalid RLE character '{}'", b as char));
            }
            if k == MAX_RLE_CHARS {
                return Err(format!("an RLE count longer than {MAX_RLE_CHARS} characters at byte {p}"));
            }
            let c = i64::from(b - 48);
            x |= (c & 0x1f) << (5 * k);
            p += 1;
            k += 1;
            if c & 0x20 == 0 {
                if c & 0x10 != 0 {
                    x |= -1i64 << (5 * k);
                }
                break;
            }
        }
        if counts.len() > 2 {
            x += i64::from(counts[counts.len() - 2]);
        }
        let run = u32::try_from(x).map_err(|_| format!("RLE run length {x} is out of range (0..2^32)"))?;
        counts.push(run);
    }
    Ok(counts)
}

fn parse_segmentation(raw: &RawSegmentation, width: u32, height: u32) -> std::result::Result<Segmentation, String> {
    match raw {
        RawSegmentation::Polygons(polys) => Ok(Segmentation::Polygons(polys.clone())),
        RawSegmentation::Rle { counts } => {
            let counts = match counts {
                RawCounts::Numbers(n) => n.clone(),
                RawCounts::Compressed(s) => decode_rle_string(s)?,
            };
            let total: u64 = counts.iter().map(|&c| u64::from(c)).sum();
            if total != u64::from(width) * u64::from(height) {
                return Err(format!(
                    "RLE covers {total} pixels, the image has {}",
                    u64::from(width) * u64::from(height)
                ));
            }
            Ok(Segmentation::Rle { width, height, counts })
        }
    }
}

/// Paint the union of `parts` into a `width x height` mask (255 on the object). Masks over
/// [`MAX_MEGAPIXELS`] are refused, as images are.
pub fn rasterize(width: u32, height: u32, parts: &[Segmentation]) -> Result<GrayImage> {
    if u64::from(width) * u64::from(height) > u64::from(MAX_MEGAPIXELS) * 1_000_000 {
        return Err(LanternError::BadArgument(format!(
            "a {width}x{height} COCO mask is over the {MAX_MEGAPIXELS} megapixel limit"
        )));
    }
    let mut mask = GrayImage::new(width, height);
    for part in parts {
        match part {
            Segmentation::Polygons(polys) => {
                for poly in polys {
                    let corners: Vec<(f64, f64)> = poly.chunks_exact(2).map(|c| (c[0], c[1])).collect();
                    let mut pts: Vec<Point<i32>> = clip_to_frame(corners, width, height)
                        .into_iter()
                        .map(|(x, y)| Point::new(x.round() as i32, y.round() as i32))
                        .collect();
                    pts.dedup();
                    if pts.len() > 1 && pts.first() == pts.last() {
                        pts.pop();
                    }
                    if pts.len() >= 3 {
                        imageproc::drawing::draw_polygon_mut(&mut mask, &pts, Luma([255]));
                    }
                }
            }
            Segmentation::Rle { width: w, height: h, counts } => {
                if (*w, *h) != (width, height) {
                    return Err(LanternError::BadArgument(format!("RLE of {w}x{h} for a {width}x{height} image")));
                }
                let mut pos = 0u64;
                for (i, &run) in counts.iter().enumerate() {
                    if i % 2 == 1 {
                        for p in pos..pos + u64::from(run) {
                            let (x, y) = ((p / u64::from(height)) as u32, (p % u64::from(height)) as u32);
                            mask.put_pixel(x, y, Luma([255]));
                        }
                    }
                    pos += u64::from(run);
                }
            }
        }
    }
    Ok(mask)
}

/// Largest coordinate magnitude kept as is; farther corners are clamped to it first, so the
/// clipping arithmetic below stays finite (no image is a million billion pixels wide).
const FAR: f64 = 1e15;

/// How far outside its image a polygon may reach before it is cut, in pixels.
const FRAME_MARGIN: f64 = 4096.0;

/// A polygon cut to the frame [`FRAME_MARGIN`] pixels around a `width x height` image
/// (Sutherland-Hodgman, one frame side at a time), so that far-away corners neither overflow
/// `i32` nor send the rasterizer along edges billions of pixels long. COCO polygons lie on
/// their image, and any within the frame is returned as is; a cut edge keeps its line, up to
/// the rounding of the new corner on the frame, thousands of pixels away.
fn clip_to_frame(corners: Vec<(f64, f64)>, width: u32, height: u32) -> Vec<(f64, f64)> {
    let m = FRAME_MARGIN;
    let (x0, y0, x1, y1) = (-m, -m, f64::from(width) + m, f64::from(height) + m);
    if corners.iter().all(|&(x, y)| (x0..=x1).contains(&x) && (y0..=y1).contains(&y)) {
        return corners;
    }
    let mut poly: Vec<(f64, f64)> =
        corners.into_iter().map(|(x, y)| (x.clamp(-FAR, FAR), y.clamp(-FAR, FAR))).collect();
    // Each side: which axis, its value, and whether inside means below it.
    for (axis_x, bound, below) in [(true, x0, false), (true, x1, true), (false, y0, false), (false, y1, true)] {
        let coord = |p: (f64, f64)| if axis_x { p.0 } else { p.1 };
        let inside = |p: (f64, f64)| if below { coord(p) <= bound } else { coord(p) >= bound };
        let cross = |a: (f64, f64), b: (f64, f64)| {
            let t = (bound - coord(a)) / (coord(b) - coord(a));
            if axis_x { (bound, a.1 + t * (b.1 - a.1)) } else { (a.0 + t * (b.0 - a.0), bound) }
        };
        let mut out = Vec::with_capacity(poly.len() + 2);
        for (i, &b) in poly.iter().enumerate() {
            let a = poly[(i + poly.len() - 1) % poly.len()];
            match (inside(a), inside(b)) {
                (true, true) => out.push(b),
                (true, false) => out.push(cross(a, b)),
                (false, true) => {
                    out.push(cross(a, b));
                    out.push(b);
                }
                (false, false) => {}
            }
        }
        poly = out;
    }
    poly
}

pub fn read(dir: &Path) -> Result<Dataset> {
    let path = dir.join("annotations.json");
    let text = read_text(&path)?;
    let file: File = serde_json::from_str(&text).map_err(|e| {
        LanternError::BadArgument(format!("{}: line {}, column {}: {e}", path.display(), e.line(), e.column()))
    })?;
    let mut categories: Vec<&Category> = file.categories.iter().collect();
    categories.sort_by_key(|c| c.id);
    let class_of = |id: u64| categories.iter().position(|c| c.id == id);
    let mut by_image: BTreeMap<u64, Vec<(usize, &Annotation)>> = BTreeMap::new();
    for (i, a) in file.annotations.iter().enumerate() {
        by_image.entry(a.image_id).or_default().push((i, a));
    }
    let images_dir = if dir.join("images").is_dir() { dir.join("images") } else { dir.to_path_buf() };
    let mut samples = Vec::new();
    for img in &file.images {
        let Some(anns) = by_image.get(&img.id) else { continue };
        let size = |a: &Annotation| a.area.unwrap_or(a.bbox[2] * a.bbox[3]);
        let largest = anns.iter().max_by(|a, b| size(a.1).total_cmp(&size(b.1))).map(|a| a.1).expect("non-empty");
        let class = class_of(largest.category_id).ok_or_else(|| {
            LanternError::BadArgument(format!(
                "{}: annotation of image {} has unknown category_id {}",
                path.display(),
                img.id,
                largest.category_id
            ))
        })?;
        let mut boxes = Vec::new();
        let mut parts = Vec::new();
        for (i, a) in anns.iter().filter(|a| a.1.category_id == largest.category_id) {
            let [x, y, w, h] = a.bbox;
            boxes.extend(clamp_box(x, y, x + w, y + h, img.width, img.height));
            if let Some(seg) = &a.segmentation {
                parts.push(parse_segmentation(seg, img.width, img.height).map_err(|e| {
                    LanternError::BadArgument(format!("{}: annotations[{i}].segmentation: {e}", path.display()))
                })?);
            }
        }
        let mask = (!parts.is_empty()).then_some(MaskSource::Coco { width: img.width, height: img.height, parts });
        samples.push(Sample {
            id: img.id.to_string(),
            image: images_dir.join(&img.file_name),
            class: Some(class),
            boxes,
            mask,
        });
    }
    Ok(Dataset { classes: categories.iter().map(|c| c.name.clone()).collect(), samples })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn polygons_are_cut_only_far_outside_their_image() {
        let near = vec![(-30.5, 2.0), (50.0, -100.0), (20.0, 40.0)];
        assert_eq!(clip_to_frame(near.clone(), 16, 12), near);
        let far = clip_to_frame(vec![(-1e300, 5.0), (1e300, 5.0), (0.0, 1e12)], 16, 12);
        assert!(
            far.iter().all(|&(x, y)| (-4096.0..=4112.0).contains(&x) && (-4096.0..=4108.0).contains(&y)),
            "{far:?}"
        );
        // The cut triangle still covers rows 5 and below across the whole 16x12 image.
        let m = rasterize(16, 12, &[Segmentation::Polygons(vec![vec![-1e300, 5.0, 1e300, 5.0, 0.0, 1e12]])]).unwrap();
        assert!(m.enumerate_pixels().all(|(_, y, p)| (p.0[0] == 255) == (y >= 5)));
    }

    #[test]
    fn rle_string_decodes_like_pycocotools() {
        // pycocotools.mask.encode of a 4x3 (h x w) mask with a 2x2 block at rows 1-2, cols 1-2
        // gives counts [5, 2, 2, 2, 1] and the string "5220O" (the last count as a difference, -1).
        assert_eq!(decode_rle_string("5220O").unwrap(), vec![5, 2, 2, 2, 1]);
        assert!(decode_rle_string("5\u{7f}").is_err());
        // A difference taking the fifth count below zero ("M" is -3), and the 32-bit limit.
        assert!(decode_rle_string("5220M").unwrap_err().contains("out of range"));
        assert_eq!(decode_rle_string("oooooo3").unwrap(), vec![u32::MAX]);
        assert!(decode_rle_string("ooooooo3").unwrap_err().contains("longer than 7"));
        let m = rasterize(3, 4, &[Segmentation::Rle { width: 3, height: 4, counts: vec![5, 2, 2, 2, 1] }]).unwrap();
        let on: Vec<(u32, u32)> = m.enumerate_pixels().filter(|p| p.2.0[0] == 255).map(|p| (p.0, p.1)).collect();
        assert_eq!(on, vec![(1, 1), (2, 1), (1, 2), (2, 2)]);
    }
}
