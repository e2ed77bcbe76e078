//! A moving scene from the procedural benchmark: one object of [`super::synth`] glides over a
//! fixed cluttered background along a Lissajous path, frame by frame. It stands in for a camera
//! (`lantern open --camera synthetic`) and lets tests check that an explanation follows the
//! object: every frame knows the object's exact box.
//!
//! Everything follows from the seed and the frame index: the same frame is the same picture
//! everywhere.

use super::synth::{self, Attributes, COLOURS, SHAPES, SIZES, TEXTURES};
use crate::map::PixelBox;
use crate::seeded::Rng;
use image::RgbImage;
use std::f32::consts::TAU;

/// Frames per horizontal sweep of the path.
const PERIOD_X: f32 = 120.0;
/// Frames per vertical sweep of the path (not a multiple of the horizontal one, so the object
/// visits the whole frame).
const PERIOD_Y: f32 = 75.0;

/// One frame of the scene with its ground truth.
#[derive(Debug, Clone)]
pub struct MotionFrame {
    pub image: RgbImage,
    /// The object's tight box, in frame pixels.
    pub bbox: PixelBox,
    /// The object's class: index into [`SHAPES`].
    pub class: usize,
}

/// A scene whose object moves: its background, object and path are fixed by the seed.
#[derive(Debug, Clone)]
pub struct MovingScene {
    seed: u64,
    size: u32,
    background: RgbImage,
    attributes: Attributes,
    radius: f32,
}

impl MovingScene {
    /// The scene of `seed`, `size x size` pixels: a medium-sized object of a shape, colour and
    /// texture drawn from the seed.
    pub fn new(seed: u64, size: u32) -> Self {
        let mut rng = Rng::for_item(seed, u64::MAX);
        let attributes = Attributes {
            shape: rng.below(SHAPES.len()),
            colour: rng.below(COLOURS.len()),
            texture: rng.below(TEXTURES.len()),
            size: 1,
        };
        let background = synth::clutter(&mut rng, size);
        let (_, lo, hi) = SIZES[attributes.size];
        let radius = (lo + hi) / 2.0 * size as f32 / 2.0;
        Self { seed, size, background, attributes, radius }
    }

    /// The object's centre in frame `index`: `margin + span * (1 + sin(2 pi index / period)) / 2`
    /// on each axis, so the object never leaves the frame.
    fn centre(&self, index: u64) -> (f32, f32) {
        let margin = self.radius * 1.02;
        let span = self.size as f32 - 2.0 * margin;
        let t = index as f32;
        let along = |period: f32, phase: f32| margin + span * (1.0 + (TAU * t / period + phase).sin()) / 2.0;
        (along(PERIOD_X, 0.0), along(PERIOD_Y, 1.0))
    }

    /// Frame `index`: the background with the object drawn at its place on the path (always at
    /// the same angle), and the object's box.
    pub fn frame(&self, index: u64) -> MotionFrame {
        let mut image = self.background.clone();
        // The same generator for every frame: the object keeps its angle as it moves.
        let mut rng = Rng::for_item(self.seed, 0);
        let mask = synth::draw_object(&mut rng, &mut image, &self.attributes, self.centre(index), self.radius);
        MotionFrame { image, bbox: synth::mask_box(&mask), class: self.attributes.shape }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_object_moves_over_a_fixed_background_and_its_box_follows_it() {
        let scene = MovingScene::new(3, 128);
        let (a, b) = (scene.frame(0), scene.frame(10));
        assert_eq!(scene.frame(10).image, b.image, "frames are deterministic");
        assert_ne!(a.bbox, b.bbox, "the object moved");
        assert_eq!(a.class, b.class);
        // Outside both boxes the two frames are the same picture.
        let outside = |x: u32, y: u32, r: &PixelBox| x < r.x0 || x > r.x1 || y < r.y0 || y > r.y1;
        for (x, y, p) in a.image.enumerate_pixels() {
            if outside(x, y, &a.bbox) && outside(x, y, &b.bbox) {
                assert_eq!(p, b.image.get_pixel(x, y), "background at ({x}, {y})");
            }
        }
        // The box has the object's size and stays inside the frame along the path.
        for i in (0..600).step_by(7) {
            let f = scene.frame(i);
            let (w, h) = (f.bbox.x1 - f.bbox.x0 + 1, f.bbox.y1 - f.bbox.y0 + 1);
            assert!(w > 10 && h > 10 && f.bbox.x1 < 128 && f.bbox.y1 < 128, "frame {i}: {:?}", f.bbox);
        }
    }
}
