//! The multi-label variant of the procedural benchmark ([`super::synth`]): one to four objects of
//! distinct shapes per image on the same cluttered scene, each with its exact mask and box; the
//! image's labels are the set of shapes present. Objects never overlap (their bounding circles
//! are placed at least a pixel apart), so every mask is exactly the pixels its object painted.
//!
//! The **single positive label** setting of partially annotated multi-label classification
//! (Cole et al., "Multi-Label Learning from Single Positive Labels", CVPR 2021; Kim et al., CVPR
//! 2023): each image's observed annotation is one of its labels, drawn uniformly, and every other
//! label is unobserved ([`observed_positive`]).
//!
//! Everything follows from `(seed, index)`, on streams of their own: the same seed gives other
//! images here than in the single-object benchmark, and the observed label never changes the image.
//!
//! On disk ([`write`], `lantern synth --multilabel`): `images/<id>.png`, `masks/<id>_<class>.png`
//! (255 on that object), `classes.txt`, and `multilabel.json`:
//!
//! ```json
//! {"seed": 1, "size": 64, "classes": ["circle", ...],
//!  "images": [{"id": "000000", "file": "images/000000.png", "width": 64, "height": 64,
//!              "labels": [0, 3], "observed": 3,
//!              "objects": [{"class": 0, "class_name": "circle", "mask": "masks/000000_0.png",
//!                           "box": [x0, y0, x1, y1], "attributes": {"colour": "red", ...}}, ...]}]}
//! ```
//!
//! Boxes are corners inclusive, in image pixels; `labels` is sorted; `observed` is one of them.

use super::synth::{self, Attributes, COLOURS, SHAPES, TEXTURES};
use crate::error::{LanternError, Result};
use crate::files::write_json;
use crate::map::PixelBox;
use crate::seeded::{Rng, fnv1a};
use image::{GrayImage, RgbImage};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// Most objects in one image.
pub const MAX_OBJECTS: usize = 4;
/// Object diameter as a fraction of the image side, per size attribute (smaller than the
/// single-object benchmark's, so four objects fit).
pub const SIZES: [(&str, f32, f32); 3] = [("small", 0.18, 0.24), ("medium", 0.24, 0.31), ("large", 0.31, 0.38)];
/// The annotations file of a folder written by [`write`].
pub const ANNOTATIONS: &str = "multilabel.json";

/// Draws of a centre before an object is shrunk to fit.
const PLACEMENT_TRIES: usize = 64;

/// One object of an image.
#[derive(Debug, Clone)]
pub struct Object {
    pub attributes: Attributes,
    /// 255 on the object, 0 elsewhere.
    pub mask: GrayImage,
    pub bbox: PixelBox,
}

/// One generated multi-label image.
#[derive(Debug, Clone)]
pub struct MultiSample {
    pub image: RgbImage,
    /// One per label, in drawing order; their shapes are distinct.
    pub objects: Vec<Object>,
}

impl MultiSample {
    /// The labels (shape indices) present, ascending.
    pub fn labels(&self) -> Vec<usize> {
        let mut l: Vec<usize> = self.objects.iter().map(|o| o.attributes.shape).collect();
        l.sort_unstable();
        l
    }

    /// The object of shape `class`, if present.
    pub fn object(&self, class: usize) -> Option<&Object> {
        self.objects.iter().find(|o| o.attributes.shape == class)
    }
}

/// Generate image `index` of the multi-label set with this `seed`, `size x size` pixels.
pub fn generate(seed: u64, index: u64, size: u32) -> MultiSample {
    let mut rng = Rng::for_item(seed ^ fnv1a("synth.multilabel"), index);
    let count = 1 + rng.below(MAX_OBJECTS);
    let mut shapes: Vec<usize> = (0..SHAPES.len()).collect();
    for i in 0..count {
        let j = i + rng.below(SHAPES.len() - i);
        shapes.swap(i, j);
    }
    let attributes: Vec<Attributes> = shapes[..count]
        .iter()
        .map(|&shape| Attributes {
            shape,
            colour: rng.below(COLOURS.len()),
            texture: rng.below(TEXTURES.len()),
            size: rng.below(SIZES.len()),
        })
        .collect();
    let mut image = synth::clutter(&mut rng, size);
    let mut placed: Vec<((f32, f32), f32)> = Vec::new();
    let mut objects = Vec::with_capacity(count);
    for a in attributes {
        let (_, lo, hi) = SIZES[a.size];
        let (centre, radius) = place(&mut rng, (lo, hi), size, &placed);
        placed.push((centre, radius));
        let mask = synth::draw_object(&mut rng, &mut image, &a, centre, radius);
        let bbox = synth::mask_box(&mask);
        objects.push(Object { attributes: a, mask, bbox });
    }
    MultiSample { image, objects }
}

/// A centre and radius for a new object: the radius drawn from its diameter range `(lo, hi)` (a
/// fraction of the side), centres drawn until the object's circle lies inside the image and at
/// least a pixel from every placed one; after [`PLACEMENT_TRIES`] misses the radius shrinks by a
/// fifth and the search starts over.
fn place(rng: &mut Rng, (lo, hi): (f32, f32), size: u32, placed: &[((f32, f32), f32)]) -> ((f32, f32), f32) {
    let side = size as f32;
    let mut radius = rng.range(lo, hi) * side / 2.0;
    loop {
        let margin = radius * 1.02;
        for _ in 0..PLACEMENT_TRIES {
            let c = (rng.range(margin, side - margin), rng.range(margin, side - margin));
            let clear =
                placed.iter().all(|&((x, y), r)| ((c.0 - x).powi(2) + (c.1 - y).powi(2)).sqrt() >= radius + r + 1.0);
            if clear {
                return (c, radius);
            }
        }
        radius *= 0.8;
    }
}

/// The one observed positive label of image `index` with these `labels` (the single positive
/// label setting), drawn uniformly on its own stream.
pub fn observed_positive(seed: u64, index: u64, labels: &[usize]) -> usize {
    let mut rng = Rng::for_item(seed ^ fnv1a("synth.multilabel.observed"), index);
    labels[rng.below(labels.len())]
}

/// One object's entry in `multilabel.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ObjectAnnotation {
    pub class: usize,
    pub class_name: String,
    /// Mask path relative to the dataset folder.
    pub mask: String,
    /// `[x0, y0, x1, y1]`, corners inclusive.
    #[serde(rename = "box")]
    pub bbox: [u32; 4],
    pub attributes: BTreeMap<String, String>,
}

impl ObjectAnnotation {
    pub fn pixel_box(&self) -> PixelBox {
        PixelBox { x0: self.bbox[0], y0: self.bbox[1], x1: self.bbox[2], y1: self.bbox[3] }
    }
}

/// One image's entry in `multilabel.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImageAnnotation {
    pub id: String,
    /// Image path relative to the dataset folder.
    pub file: String,
    pub width: u32,
    pub height: u32,
    /// Every label present, ascending.
    pub labels: Vec<usize>,
    /// The single observed positive label.
    pub observed: usize,
    pub objects: Vec<ObjectAnnotation>,
}

/// `multilabel.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MultiAnnotations {
    pub seed: u64,
    pub size: u32,
    pub classes: Vec<String>,
    pub images: Vec<ImageAnnotation>,
}

/// Generate `count` images with `seed` at `size` pixels into `dir`; `progress(done)` after each.
pub fn write(
    dir: &Path,
    count: usize,
    seed: u64,
    size: u32,
    mut progress: impl FnMut(usize),
) -> Result<MultiAnnotations> {
    super::synth_folder::prepare(dir, size, ["images", "masks"].map(String::from))?;
    let mut images = Vec::with_capacity(count);
    for i in 0..count {
        let s = generate(seed, i as u64, size);
        let id = format!("{i:06}");
        let file = format!("images/{id}.png");
        crate::files::write_rgb_png(&dir.join(&file), &s.image)?;
        let mut objects = Vec::with_capacity(s.objects.len());
        for o in &s.objects {
            let class = o.attributes.shape;
            let mask = format!("masks/{id}_{class}.png");
            crate::files::write_gray_png(&dir.join(&mask), &o.mask)?;
            objects.push(ObjectAnnotation {
                class,
                class_name: SHAPES[class].to_string(),
                mask,
                bbox: [o.bbox.x0, o.bbox.y0, o.bbox.x1, o.bbox.y1],
                attributes: o
                    .attributes
                    .named()
                    .iter()
                    .filter(|(k, _)| *k != "shape")
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            });
        }
        let labels = s.labels();
        let observed = observed_positive(seed, i as u64, &labels);
        images.push(ImageAnnotation { id, file, width: size, height: size, labels, observed, objects });
        progress(i + 1);
    }
    let annotations = MultiAnnotations { seed, size, classes: SHAPES.iter().map(|s| s.to_string()).collect(), images };
    crate::files::write_atomic(&dir.join("classes.txt"), |f| {
        use std::io::Write;
        f.write_all((SHAPES.join("\n") + "\n").as_bytes())
    })?;
    write_json(&dir.join(ANNOTATIONS), &annotations)?;
    Ok(annotations)
}

/// Read `multilabel.json` of a folder written by [`write`], checking that labels, the observed
/// label and the objects agree.
pub fn read(dir: &Path) -> Result<MultiAnnotations> {
    let path = dir.join(ANNOTATIONS);
    let text = std::fs::read_to_string(&path).map_err(|e| LanternError::io(&path, e))?;
    let a: MultiAnnotations = serde_json::from_str(&text).map_err(|e| {
        LanternError::BadArgument(format!("{}: line {}, column {}: {e}", path.display(), e.line(), e.column()))
    })?;
    let bad = |id: &str, what: String| LanternError::BadArgument(format!("{}: image {id}: {what}", path.display()));
    for img in &a.images {
        let mut classes: Vec<usize> = img.objects.iter().map(|o| o.class).collect();
        classes.sort_unstable();
        if img.labels.is_empty() || img.labels.iter().any(|&c| c >= a.classes.len()) {
            return Err(bad(
                &img.id,
                format!("labels {:?} are not a non-empty set of the {} classes", img.labels, a.classes.len()),
            ));
        }
        if classes != img.labels {
            return Err(bad(&img.id, format!("labels {:?} but objects of classes {classes:?}", img.labels)));
        }
        if !img.labels.contains(&img.observed) {
            return Err(bad(
                &img.id,
                format!("the observed label {} is not among its labels {:?}", img.observed, img.labels),
            ));
        }
    }
    Ok(a)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objects_are_distinct_shapes_with_exact_disjoint_masks_and_tight_boxes() {
        let mut counts = [0usize; MAX_OBJECTS + 1];
        for i in 0..200 {
            let s = generate(3, i, 64);
            let labels = s.labels();
            counts[labels.len()] += 1;
            assert!((1..=MAX_OBJECTS).contains(&labels.len()));
            let mut dedup = labels.clone();
            dedup.dedup();
            assert_eq!(dedup, labels, "distinct shapes");
            let mut owner = vec![None; 64 * 64];
            for (k, o) in s.objects.iter().enumerate() {
                assert!(o.mask.pixels().all(|p| p.0[0] == 0 || p.0[0] == 255));
                let on = o.mask.pixels().filter(|p| p.0[0] == 255).count();
                assert!(on >= 20, "image {i}: object {k} has {on} pixels");
                assert_eq!(o.bbox, synth::mask_box(&o.mask));
                for (p, px) in o.mask.pixels().enumerate() {
                    if px.0[0] == 255 {
                        assert!(owner[p].is_none(), "image {i}: objects overlap at pixel {p}");
                        owner[p] = Some(k);
                    }
                }
            }
            // The image shows each object's pixels as drawn: recolouring happened only there.
            assert_eq!(s.image, generate(3, i, 64).image);
            let observed = observed_positive(3, i, &labels);
            assert!(labels.contains(&observed));
            assert_eq!(observed, observed_positive(3, i, &labels));
        }
        assert!(counts[1..].iter().all(|&c| c > 20), "every object count occurs: {counts:?}");
        assert_ne!(generate(3, 0, 64).image, synth::generate(3, 0, 64).image, "a stream of its own");
    }

    #[test]
    fn the_observed_label_is_uniform_over_the_labels() {
        let labels = [1, 2, 4, 5];
        let mut seen = [0usize; 6];
        for i in 0..4000 {
            seen[observed_positive(9, i, &labels)] += 1;
        }
        for &l in &labels {
            assert!((850..1150).contains(&seen[l]), "{seen:?}");
        }
        assert_eq!(seen[0] + seen[3], 0);
    }

    #[test]
    fn writes_and_reads_back_with_checked_annotations() {
        let dir = tempfile::tempdir().unwrap();
        let a = write(dir.path(), 5, 4, 48, |_| {}).unwrap();
        assert_eq!(read(dir.path()).unwrap(), a);
        for (i, img) in a.images.iter().enumerate() {
            let s = generate(4, i as u64, 48);
            assert_eq!(image::open(dir.path().join(&img.file)).unwrap().into_rgb8(), s.image);
            assert_eq!(img.labels, s.labels());
            for o in &img.objects {
                let mask = image::open(dir.path().join(&o.mask)).unwrap().into_luma8();
                assert_eq!(mask, s.object(o.class).unwrap().mask);
                assert_eq!(synth::mask_box(&mask), o.pixel_box());
            }
        }
        let mut broken = a.clone();
        broken.images[0].observed = (0..6).find(|c| !broken.images[0].labels.contains(c)).unwrap();
        write_json(&dir.path().join(ANNOTATIONS), &broken).unwrap();
        let e = read(dir.path()).unwrap_err().to_string();
        assert!(e.contains("image 000000") && e.contains("observed"), "{e}");
        assert!(write(dir.path(), 1, 1, 8, |_| {}).is_err());
    }
}
