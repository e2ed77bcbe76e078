//! A procedural localisation benchmark with exact ground truth.
//!
//! Every image holds one object on a cluttered background. The object's shape is its class
//! (circle, square, triangle, star, cross, ring); its colour, texture (solid, stripes, dots,
//! checks) and size are attributes drawn independently. The background is smooth value noise
//! with grain, thin lines and distractor blobs that reuse the objects' colours and textures but
//! never a class shape, so only the shape tells the class. The object's mask is exact: pixels are
//! either object or not (no antialiasing), and its box is the mask's extent.
//!
//! Everything follows from `(seed, index)`: the same call gives the same image everywhere.

use crate::map::PixelBox;
use crate::seeded::Rng;
use image::{GrayImage, Luma, Rgb, RgbImage};
use serde::{Deserialize, Serialize};
use std::f32::consts::{PI, TAU};

/// The classes: the object's shape.
pub const SHAPES: [&str; 6] = ["circle", "square", "triangle", "star", "cross", "ring"];
/// Object colours (also used by distractors).
pub const COLOURS: [(&str, [u8; 3]); 6] = [
    ("red", [225, 45, 40]),
    ("green", [45, 185, 70]),
    ("blue", [55, 95, 235]),
    ("yellow", [240, 215, 45]),
    ("magenta", [215, 55, 205]),
    ("cyan", [45, 205, 215]),
];
pub const TEXTURES: [&str; 4] = ["solid", "stripes", "dots", "checks"];
/// Object diameter as a fraction of the image side, per size attribute.
pub const SIZES: [(&str, f32, f32); 3] = [("small", 0.22, 0.30), ("medium", 0.32, 0.42), ("large", 0.45, 0.58)];

/// The attribute values of one object, as indices into the tables above.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attributes {
    pub shape: usize,
    pub colour: usize,
    pub texture: usize,
    pub size: usize,
}

impl Attributes {
    /// `(attribute, value)` names, e.g. `("colour", "red")`.
    pub fn named(&self) -> [(&'static str, &'static str); 4] {
        [
            ("shape", SHAPES[self.shape]),
            ("colour", COLOURS[self.colour].0),
            ("texture", TEXTURES[self.texture]),
            ("size", SIZES[self.size].0),
        ]
    }
}

/// One generated image with its ground truth.
#[derive(Debug, Clone)]
pub struct SynthSample {
    pub image: RgbImage,
    /// 255 on the object, 0 elsewhere.
    pub mask: GrayImage,
    pub bbox: PixelBox,
    /// The class: index into [`SHAPES`].
    pub class: usize,
    pub attributes: Attributes,
}

/// A placed, rotated object: maps image pixels into its own unit frame.
struct Placement {
    cx: f32,
    cy: f32,
    radius: f32,
    cos: f32,
    sin: f32,
}

impl Placement {
    /// Pixel centre `(x, y)` in the object's frame, where the shape spans `[-1, 1]`.
    fn local(&self, x: u32, y: u32) -> (f32, f32) {
        let dx = (x as f32 + 0.5 - self.cx) / self.radius;
        let dy = (y as f32 + 0.5 - self.cy) / self.radius;
        (dx * self.cos + dy * self.sin, -dx * self.sin + dy * self.cos)
    }
}

fn inside_polygon(px: f32, py: f32, poly: &[(f32, f32)]) -> bool {
    let mut inside = false;
    let mut j = poly.len() - 1;
    for i in 0..poly.len() {
        let (xi, yi) = poly[i];
        let (xj, yj) = poly[j];
        if (yi > py) != (yj > py) && px < (xj - xi) * (py - yi) / (yj - yi) + xi {
            inside = !inside;
        }
        j = i;
    }
    inside
}

fn regular_polygon(points: usize, outer: f32, inner: f32) -> Vec<(f32, f32)> {
    let n = if inner > 0.0 { points * 2 } else { points };
    (0..n)
        .map(|i| {
            let r = if inner > 0.0 && i % 2 == 1 { inner } else { outer };
            let a = -PI / 2.0 + TAU * i as f32 / n as f32;
            (r * a.cos(), r * a.sin())
        })
        .collect()
}

/// Whether the shape covers the point `(u, v)` of its unit frame.
fn covers(shape: usize, u: f32, v: f32) -> bool {
    let r2 = u * u + v * v;
    match SHAPES[shape] {
        "circle" => r2 <= 0.92 * 0.92,
        "square" => u.abs().max(v.abs()) <= 0.72,
        "triangle" => inside_polygon(u, v, &regular_polygon(3, 1.0, 0.0)),
        "star" => inside_polygon(u, v, &regular_polygon(5, 1.0, 0.45)),
        "cross" => (u.abs() <= 0.3 && v.abs() <= 0.95) || (v.abs() <= 0.3 && u.abs() <= 0.95),
        _ => (0.5 * 0.5..=0.95 * 0.95).contains(&r2),
    }
}

/// Texture pattern: true where the second (darker) tone is drawn. `period` is in pixels.
fn pattern(texture: usize, u: f32, v: f32, period: f32) -> bool {
    let (a, b) = (u / period, v / period);
    match TEXTURES[texture] {
        "stripes" => (a.floor() as i64).rem_euclid(2) == 1,
        "dots" => {
            let (fa, fb) = (a - a.round(), b - b.round());
            fa * fa + fb * fb < 0.28 * 0.28
        }
        "checks" => (a.floor() as i64 + b.floor() as i64).rem_euclid(2) == 1,
        _ => false,
    }
}

fn shade(c: [u8; 3], k: f32) -> [u8; 3] {
    c.map(|v| (f32::from(v) * k).round().clamp(0.0, 255.0) as u8)
}

/// Smooth value noise in `[0, 1]`: a random `cells x cells` grid, bilinearly interpolated.
fn value_noise(rng: &mut Rng, size: u32, cells: usize) -> Vec<f32> {
    let grid: Vec<f32> = (0..(cells + 1) * (cells + 1)).map(|_| rng.f32()).collect();
    let mut out = Vec::with_capacity((size * size) as usize);
    for y in 0..size {
        for x in 0..size {
            let gx = x as f32 / size as f32 * cells as f32;
            let gy = y as f32 / size as f32 * cells as f32;
            let (ix, iy) = (gx.floor() as usize, gy.floor() as usize);
            let (fx, fy) = (gx - ix as f32, gy - iy as f32);
            let at = |i: usize, j: usize| grid[j * (cells + 1) + i];
            let top = at(ix, iy) * (1.0 - fx) + at(ix + 1, iy) * fx;
            let bottom = at(ix, iy + 1) * (1.0 - fx) + at(ix + 1, iy + 1) * fx;
            out.push(top * (1.0 - fy) + bottom * fy);
        }
    }
    out
}

fn background(rng: &mut Rng, size: u32) -> RgbImage {
    let dark = [rng.range(25.0, 80.0), rng.range(25.0, 80.0), rng.range(25.0, 80.0)];
    let light = [rng.range(90.0, 160.0), rng.range(90.0, 160.0), rng.range(90.0, 160.0)];
    let cells = 3 + rng.below(5);
    let noise = value_noise(rng, size, cells);
    let mut img = RgbImage::new(size, size);
    for (i, px) in img.pixels_mut().enumerate() {
        let t = noise[i];
        let grain = rng.normal() * 6.0;
        px.0 = [0, 1, 2].map(|c| (dark[c] * (1.0 - t) + light[c] * t + grain).round().clamp(0.0, 255.0) as u8);
    }
    img
}

fn draw_lines(rng: &mut Rng, img: &mut RgbImage) {
    let size = img.width() as f32;
    for _ in 0..2 + rng.below(3) {
        let (x0, y0) = (rng.range(0.0, size), rng.range(0.0, size));
        let angle = rng.range(0.0, TAU);
        let len = rng.range(0.3, 0.9) * size;
        let colour = shade(COLOURS[rng.below(COLOURS.len())].1, rng.range(0.5, 0.9));
        let steps = (len * 2.0) as usize;
        for s in 0..steps {
            let t = s as f32 / 2.0;
            let (x, y) = (x0 + t * angle.cos(), y0 + t * angle.sin());
            if x >= 0.0 && y >= 0.0 && x < size && y < size {
                img.put_pixel(x as u32, y as u32, Rgb(colour));
            }
        }
    }
}

/// Irregular blobs (random-radius polygons), coloured and textured like objects.
fn draw_distractors(rng: &mut Rng, img: &mut RgbImage) {
    let size = img.width();
    for _ in 0..3 + rng.below(4) {
        let radius = rng.range(0.05, 0.10) * size as f32;
        let (cx, cy) = (rng.range(0.0, size as f32), rng.range(0.0, size as f32));
        let vertices = 5 + rng.below(4);
        let poly: Vec<(f32, f32)> = (0..vertices)
            .map(|i| {
                let a = TAU * (i as f32 + rng.range(-0.3, 0.3)) / vertices as f32;
                let r = rng.range(0.35, 1.0);
                (r * a.cos(), r * a.sin())
            })
            .collect();
        let colour = COLOURS[rng.below(COLOURS.len())].1;
        let texture = rng.below(TEXTURES.len());
        let period = (radius / 2.5).max(2.0);
        let p = Placement { cx, cy, radius, cos: 1.0, sin: 0.0 };
        paint(img, &p, |u, v| inside_polygon(u, v, &poly), colour, texture, period, None);
    }
}

/// Paint pixels the shape covers; mark them in `mask` when given.
fn paint(
    img: &mut RgbImage,
    p: &Placement,
    covers: impl Fn(f32, f32) -> bool,
    colour: [u8; 3],
    texture: usize,
    period: f32,
    mut mask: Option<&mut GrayImage>,
) {
    let size = img.width();
    let reach = p.radius * 1.5;
    let x0 = (p.cx - reach).floor().max(0.0) as u32;
    let y0 = (p.cy - reach).floor().max(0.0) as u32;
    let x1 = ((p.cx + reach).ceil() as u32).min(size);
    let y1 = ((p.cy + reach).ceil() as u32).min(size);
    let second = shade(colour, 0.45);
    for y in y0..y1 {
        for x in x0..x1 {
            let (u, v) = p.local(x, y);
            if covers(u, v) {
                let tone = if pattern(texture, u * p.radius, v * p.radius, period) { second } else { colour };
                img.put_pixel(x, y, Rgb(tone));
                if let Some(m) = mask.as_deref_mut() {
                    m.put_pixel(x, y, Luma([255]));
                }
            }
        }
    }
}

/// Generate image `index` of the dataset with this `seed`, `size x size` pixels.
pub fn generate(seed: u64, index: u64, size: u32) -> SynthSample {
    let mut rng = Rng::for_item(seed, index);
    let attributes = Attributes {
        shape: rng.below(SHAPES.len()),
        colour: rng.below(COLOURS.len()),
        texture: rng.below(TEXTURES.len()),
        size: rng.below(SIZES.len()),
    };
    let mut image = clutter(&mut rng, size);

    let (_, lo, hi) = SIZES[attributes.size];
    let radius = rng.range(lo, hi) * size as f32 / 2.0;
    let margin = radius * 1.02;
    let cx = rng.range(margin, size as f32 - margin);
    let cy = rng.range(margin, size as f32 - margin);
    let mask = draw_object(&mut rng, &mut image, &attributes, (cx, cy), radius);
    let bbox = mask_box(&mask);
    SynthSample { image, mask, bbox, class: attributes.shape, attributes }
}

/// The cluttered scene objects are drawn on: value noise with grain, lines, distractor blobs.
pub(super) fn clutter(rng: &mut Rng, size: u32) -> RgbImage {
    let mut image = background(rng, size);
    draw_lines(rng, &mut image);
    draw_distractors(rng, &mut image);
    image
}

/// Draw an object of `attributes` centred at `centre` with `radius` (every shape lies within the
/// circle of that radius), rotated by an angle drawn from `rng` (circles and rings are not);
/// returns its exact mask, 255 on the pixels it painted.
pub(super) fn draw_object(
    rng: &mut Rng,
    image: &mut RgbImage,
    attributes: &Attributes,
    centre: (f32, f32),
    radius: f32,
) -> GrayImage {
    let angle = if matches!(SHAPES[attributes.shape], "circle" | "ring") { 0.0 } else { rng.range(0.0, TAU) };
    let placement = Placement { cx: centre.0, cy: centre.1, radius, cos: angle.cos(), sin: angle.sin() };
    let period = (radius / 3.0).max(2.5);
    let mut mask = GrayImage::new(image.width(), image.height());
    let shape = attributes.shape;
    paint(
        image,
        &placement,
        |u, v| covers(shape, u, v),
        COLOURS[attributes.colour].1,
        attributes.texture,
        period,
        Some(&mut mask),
    );
    mask
}

/// The tight box around a mask's nonzero pixels (`(0, 0, 0, 0)` for an empty mask).
pub fn mask_box(mask: &GrayImage) -> PixelBox {
    let mut b = PixelBox { x0: u32::MAX, y0: u32::MAX, x1: 0, y1: 0 };
    for (x, y, p) in mask.enumerate_pixels() {
        if p.0[0] > 0 {
            b.x0 = b.x0.min(x);
            b.y0 = b.y0.min(y);
            b.x1 = b.x1.max(x);
            b.y1 = b.y1.max(y);
        }
    }
    if b.x0 == u32::MAX { PixelBox { x0: 0, y0: 0, x1: 0, y1: 0 } } else { b }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_with_exact_masks_and_boxes() {
        let a = generate(5, 17, 96);
        let b = generate(5, 17, 96);
        assert_eq!(a.image, b.image);
        assert_eq!(a.mask, b.mask);
        assert_ne!(generate(5, 18, 96).image, a.image);
        let on = a.mask.pixels().filter(|p| p.0[0] == 255).count();
        assert!(on > 50, "object has {on} pixels");
        assert!(a.mask.pixels().all(|p| p.0[0] == 0 || p.0[0] == 255));
        assert_eq!(a.bbox, mask_box(&a.mask));
        assert_eq!(a.class, a.attributes.shape);
    }

    #[test]
    fn every_class_and_attribute_value_occurs() {
        let samples: Vec<SynthSample> = (0..300).map(|i| generate(1, i, 64)).collect();
        for (c, shape) in SHAPES.iter().enumerate() {
            assert!(samples.iter().any(|s| s.class == c), "no {shape}");
        }
        for t in 0..TEXTURES.len() {
            assert!(samples.iter().any(|s| s.attributes.texture == t));
        }
        // Objects fit in the image, and bigger size classes give bigger boxes on average.
        let mean_area = |size: usize| {
            let s: Vec<&SynthSample> = samples.iter().filter(|s| s.attributes.size == size).collect();
            s.iter().map(|s| s.bbox.area() as f64).sum::<f64>() / s.len() as f64
        };
        assert!(mean_area(0) < mean_area(1) && mean_area(1) < mean_area(2));
    }

    /// The bundled demo images were written by `lantern synth --seed 777 --size 224` (the first
    /// image of each class): the generator still draws them pixel for pixel.
    #[test]
    fn the_bundled_demo_images_are_regenerated_exactly() {
        let samples: Vec<SynthSample> = (0..40).map(|i| generate(777, i, 224)).collect();
        for (name, bytes) in crate::models::demo::IMAGES {
            let shape = name.trim_end_matches(".png");
            let class = SHAPES.iter().position(|s| *s == shape).unwrap();
            let first = samples.iter().find(|s| s.class == class).expect("every class among the first 40");
            let png = image::load_from_memory(bytes).unwrap().into_rgb8();
            assert!(png == first.image, "{name}");
        }
    }

    #[test]
    fn ring_has_a_hole() {
        let (u, v) = (0.0, 0.0);
        assert!(!covers(5, u, v) && covers(5, 0.7, 0.0) && covers(0, u, v));
    }
}
