//! Which procedural images the similarity trainers ([`super::embedding`], [`super::attributes`])
//! draw, and what two of them have in common:
//!
//! - [`Scenes::Objects`], the single-object benchmark ([`crate::datasets::synth`]): two images
//!   agree on how many of shape, colour, texture and size they share (0 to 4;
//!   [`synth_attributes::agreement`]);
//! - [`Scenes::Outfits`], the outfits benchmark ([`crate::datasets::synth_outfits`]): two outfits
//!   agree on how many conditions of the match rule they meet ([`MatchRule::agreement`]), so a
//!   model trained on it learns that rule's notion of a match and nothing else.

use crate::datasets::synth::Attributes;
use crate::datasets::synth_attributes::{self, indices};
use crate::datasets::synth_outfits::{self, MatchRule, Wearing};
use crate::imaging::Preprocess;
use burn::tensor::{Device, Tensor};
use serde::Serialize;

/// The images a trainer draws.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub enum Scenes {
    #[default]
    Objects,
    Outfits(MatchRule),
}

/// The ground truth of one drawn image.
#[derive(Debug, Clone, PartialEq)]
pub enum Truth {
    Object(Attributes),
    Outfit(Wearing),
}

impl Truth {
    /// The attribute values ([`synth_attributes`] indices) the image shows, ascending.
    pub fn values(&self) -> Vec<usize> {
        match self {
            Truth::Object(a) => indices(a).to_vec(),
            Truth::Outfit(w) => synth_outfits::values(w),
        }
    }
}

impl Scenes {
    /// Images `indices` of `seed` (sides drawn in `sizes`) as a normalised tensor, with their
    /// ground truths.
    pub fn draw(
        &self,
        seed: u64,
        indices: impl ExactSizeIterator<Item = usize>,
        sizes: (u32, u32),
        pre: &Preprocess,
        device: &Device,
    ) -> (Tensor<4>, Vec<Truth>) {
        match self {
            Scenes::Objects => {
                let (x, a) = super::classifier::batch(seed, indices, sizes, pre, device);
                (x, a.into_iter().map(Truth::Object).collect())
            }
            Scenes::Outfits(_) => super::classifier::drawn_batch(seed, indices, sizes, pre, device, |s, i, side| {
                let o = synth_outfits::generate(s, i, side);
                let w = o.wearing();
                (o.image, Truth::Outfit(w))
            }),
        }
    }

    /// What two images have in common (see the module documentation); 0 for truths of the
    /// other kind of scene.
    pub fn agreement(&self, a: &Truth, b: &Truth) -> usize {
        match (self, a, b) {
            (Scenes::Objects, Truth::Object(a), Truth::Object(b)) => synth_attributes::agreement(a, b),
            (Scenes::Outfits(rule), Truth::Outfit(a), Truth::Outfit(b)) => rule.agreement(a, b),
            _ => 0,
        }
    }

    /// The agreement of every pair of `truths`, `[i][j]`.
    pub fn agreements(&self, truths: &[Truth]) -> Vec<Vec<usize>> {
        truths.iter().map(|a| truths.iter().map(|b| self.agreement(a, b)).collect()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_kinds_draw_images_with_their_truths_and_agreements() {
        let pre = crate::models::embedding::preprocess();
        let device = Device::flex();
        let rule = MatchRule::default();
        for scenes in [Scenes::Objects, Scenes::Outfits(rule.clone())] {
            let (x, truths) = scenes.draw(5, 0..3, (48, 64), &pre, &device);
            assert_eq!(x.dims(), [3, 3, 64, 64]);
            let a = scenes.agreements(&truths);
            let top = if scenes == Scenes::Objects { 4 } else { rule.size() };
            assert!((0..3).all(|i| a[i][i] == top), "{a:?}");
            assert!(truths.iter().all(|t| t.values().len() >= 3));
        }
        let object = Truth::Object(Attributes { shape: 0, colour: 1, texture: 2, size: 0 });
        assert_eq!(object.values(), vec![1, 8, 10]);
        assert_eq!(Scenes::Outfits(rule).agreement(&object, &object), 0);
    }
}
