//! The outfits variant of the procedural benchmark ([`super::synth`]), after the Polyvore Outfits
//! of Plummer et al. ("Why do These Match?", ECCV 2020): each image is an outfit of two to four
//! *items* in separate regions (the image's quadrants: [`SLOTS`]), each item an object with its own
//! shape, colour, texture and size, drawn on the benchmark's cluttered scene with its exact mask.
//! The top and the bottom are always worn, the shoes and the bag each half the time.
//!
//! A [`MatchRule`] says when two outfits *match*: when they wear the rule's items and agree on the
//! rule's attribute groups there (`top:colour+texture`: the tops share colour and texture). A
//! similarity model trained on the rule (`lantern train embedding --outfits`) learns that notion
//! of match, so for a matching pair the attribute values that truly explain the match
//! ([`MatchRule::explaining`]) are known, and so is where they are (the rule's items' masks).
//!
//! Everything follows from `(seed, index)`, on a stream of its own.
//!
//! On disk ([`write`], `lantern synth --outfits`): `images/<id>.png`, `masks/<id>_<slot>.png`
//! (255 on that item) and `outfits.json`:
//!
//! ```json
//! {"seed": 1, "size": 64, "slots": ["top", "bottom", "shoes", "bag"],
//!  "images": [{"id": "000000", "file": "images/000000.png", "width": 64, "height": 64,
//!              "items": [{"slot": "top", "mask": "masks/000000_top.png", "box": [x0, y0, x1, y1],
//!                         "attributes": {"colour": "red", "shape": "star", ...}}, ...]}]}
//! ```

use super::synth::{self, Attributes, COLOURS, SHAPES, TEXTURES};
use super::synth_attributes::{GROUPS, indices};
use super::synth_multi::SIZES;
use crate::error::{LanternError, Result};
use crate::files::write_json;
use crate::map::PixelBox;
use crate::seeded::{Rng, fnv1a};
use image::{GrayImage, RgbImage};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// The item slots, each in its own quadrant: top (upper left), bottom (upper right), shoes (lower
/// left), bag (lower right).
pub const SLOTS: [&str; 4] = ["top", "bottom", "shoes", "bag"];
/// The annotations file of a folder written by [`write`].
pub const ANNOTATIONS: &str = "outfits.json";

/// What each slot wears (`None`: the outfit has no such item).
pub type Wearing = [Option<Attributes>; 4];

/// One item of an outfit.
#[derive(Debug, Clone)]
pub struct Item {
    /// Index into [`SLOTS`].
    pub slot: usize,
    pub attributes: Attributes,
    /// 255 on the item, 0 elsewhere.
    pub mask: GrayImage,
    pub bbox: PixelBox,
}

/// One generated outfit image.
#[derive(Debug, Clone)]
pub struct Outfit {
    pub image: RgbImage,
    /// In slot order.
    pub items: Vec<Item>,
}

impl Outfit {
    /// What each slot wears.
    pub fn wearing(&self) -> Wearing {
        let mut w = [None; 4];
        for item in &self.items {
            w[item.slot] = Some(item.attributes);
        }
        w
    }

    /// The item in `slot`, if worn.
    pub fn item(&self, slot: usize) -> Option<&Item> {
        self.items.iter().find(|i| i.slot == slot)
    }
}

/// The attribute values ([`super::synth_attributes`] indices) any item wears, ascending, without repeats.
pub fn values(w: &Wearing) -> Vec<usize> {
    let mut v: Vec<usize> = w.iter().flatten().flat_map(indices).collect();
    v.sort_unstable();
    v.dedup();
    v
}

/// Generate outfit `index` of the set with this `seed`, `size x size` pixels.
pub fn generate(seed: u64, index: u64, size: u32) -> Outfit {
    let mut rng = Rng::for_item(seed ^ fnv1a("synth.outfits"), index);
    let worn: Vec<usize> = (0..SLOTS.len()).filter(|&s| s < 2 || rng.below(2) == 1).collect();
    let attributes: Vec<Attributes> = worn
        .iter()
        .map(|_| Attributes {
            shape: rng.below(SHAPES.len()),
            colour: rng.below(COLOURS.len()),
            texture: rng.below(TEXTURES.len()),
            size: rng.below(SIZES.len()),
        })
        .collect();
    let mut image = synth::clutter(&mut rng, size);
    let half = size as f32 / 2.0;
    let items = worn
        .into_iter()
        .zip(attributes)
        .map(|(slot, a)| {
            let (_, lo, hi) = SIZES[a.size];
            let radius = rng.range(lo, hi) * size as f32 / 2.0;
            let margin = radius * 1.02;
            let (x0, y0) = ((slot % 2) as f32 * half, (slot / 2) as f32 * half);
            let centre = (rng.range(x0 + margin, x0 + half - margin), rng.range(y0 + margin, y0 + half - margin));
            let mask = synth::draw_object(&mut rng, &mut image, &a, centre, radius);
            let bbox = synth::mask_box(&mask);
            Item { slot, attributes: a, mask, bbox }
        })
        .collect();
    Outfit { image, items }
}

/// When two outfits match: both wear every slot of `slots` and agree there on every group of
/// `groups` (indices into [`GROUPS`]). Written `top:colour+texture` (slots comma-separated, then
/// groups joined by `+`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MatchRule {
    pub slots: Vec<usize>,
    pub groups: Vec<usize>,
}

impl Default for MatchRule {
    /// The tops share colour and texture.
    fn default() -> Self {
        Self { slots: vec![0], groups: vec![0, 1] }
    }
}

impl MatchRule {
    /// The (slot, group) conditions of the rule.
    fn conditions(&self) -> impl Iterator<Item = (usize, usize)> + '_ {
        self.slots.iter().flat_map(move |&s| self.groups.iter().map(move |&g| (s, g)))
    }

    /// How many of the rule's (slot, group) conditions two outfits meet: both wear the slot with
    /// the same value of the group. Two outfits match when all are met.
    pub fn agreement(&self, a: &Wearing, b: &Wearing) -> usize {
        self.conditions()
            .filter(|&(s, g)| matches!((a[s], b[s]), (Some(x), Some(y)) if indices(&x)[g] == indices(&y)[g]))
            .count()
    }

    /// Number of conditions, the agreement of a match.
    pub fn size(&self) -> usize {
        self.slots.len() * self.groups.len()
    }

    pub fn matches(&self, a: &Wearing, b: &Wearing) -> bool {
        self.agreement(a, b) == self.size()
    }

    /// The values of `w` the rule reads (its slots' values of its groups), ascending: for a
    /// matching pair, the attributes that truly explain the match.
    pub fn explaining(&self, w: &Wearing) -> Vec<usize> {
        let mut v: Vec<usize> = self.conditions().filter_map(|(s, g)| w[s].map(|a| indices(&a)[g])).collect();
        v.sort_unstable();
        v.dedup();
        v
    }
}

impl std::fmt::Display for MatchRule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let slots: Vec<&str> = self.slots.iter().map(|&s| SLOTS[s]).collect();
        let groups: Vec<&str> = self.groups.iter().map(|&g| GROUPS[g]).collect();
        write!(f, "{}:{}", slots.join(","), groups.join("+"))
    }
}

impl std::str::FromStr for MatchRule {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, String> {
        let usage =
            || format!("'{s}' is not a match rule like top:colour+texture (slots {SLOTS:?}, groups {GROUPS:?})");
        let (slots, groups) = s.split_once(':').ok_or_else(usage)?;
        let find = |names: &[&str], part: &str| names.iter().position(|n| *n == part.trim());
        let mut rule = Self {
            slots: slots.split(',').map(|p| find(&SLOTS, p)).collect::<Option<Vec<_>>>().ok_or_else(usage)?,
            groups: groups.split('+').map(|p| find(&GROUPS, p)).collect::<Option<Vec<_>>>().ok_or_else(usage)?,
        };
        rule.slots.sort_unstable();
        rule.slots.dedup();
        rule.groups.sort_unstable();
        rule.groups.dedup();
        Ok(rule)
    }
}

/// One item's entry in `outfits.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ItemAnnotation {
    /// A name of [`SLOTS`].
    pub slot: String,
    /// Mask path relative to the dataset folder.
    pub mask: String,
    /// `[x0, y0, x1, y1]`, corners inclusive.
    #[serde(rename = "box")]
    pub bbox: [u32; 4],
    /// shape, colour, texture, size.
    pub attributes: BTreeMap<String, String>,
}

/// One image's entry in `outfits.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutfitAnnotation {
    pub id: String,
    /// Image path relative to the dataset folder.
    pub file: String,
    pub width: u32,
    pub height: u32,
    pub items: Vec<ItemAnnotation>,
}

/// `outfits.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutfitAnnotations {
    pub seed: u64,
    pub size: u32,
    pub slots: Vec<String>,
    pub images: Vec<OutfitAnnotation>,
}

/// Generate `count` outfits with `seed` at `size` pixels into `dir`; `progress(done)` after each.
pub fn write(
    dir: &Path,
    count: usize,
    seed: u64,
    size: u32,
    mut progress: impl FnMut(usize),
) -> Result<OutfitAnnotations> {
    super::synth_folder::prepare(dir, size, ["images", "masks"].map(String::from))?;
    let mut images = Vec::with_capacity(count);
    for i in 0..count {
        let o = generate(seed, i as u64, size);
        let id = format!("{i:06}");
        let file = format!("images/{id}.png");
        crate::files::write_rgb_png(&dir.join(&file), &o.image)?;
        let mut items = Vec::with_capacity(o.items.len());
        for item in &o.items {
            let mask = format!("masks/{id}_{}.png", SLOTS[item.slot]);
            crate::files::write_gray_png(&dir.join(&mask), &item.mask)?;
            items.push(ItemAnnotation {
                slot: SLOTS[item.slot].to_string(),
                mask,
                bbox: [item.bbox.x0, item.bbox.y0, item.bbox.x1, item.bbox.y1],
                attributes: item.attributes.named().iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            });
        }
        images.push(OutfitAnnotation { id, file, width: size, height: size, items });
        progress(i + 1);
    }
    let annotations = OutfitAnnotations { seed, size, slots: SLOTS.iter().map(|s| s.to_string()).collect(), images };
    write_json(&dir.join(ANNOTATIONS), &annotations)?;
    Ok(annotations)
}

/// Read `outfits.json` of a folder written by [`write`], checking that every item names a slot
/// and no slot is worn twice.
pub fn read(dir: &Path) -> Result<OutfitAnnotations> {
    let path = dir.join(ANNOTATIONS);
    let text = std::fs::read_to_string(&path).map_err(|e| LanternError::io(&path, e))?;
    let a: OutfitAnnotations = serde_json::from_str(&text).map_err(|e| {
        LanternError::BadArgument(format!("{}: line {}, column {}: {e}", path.display(), e.line(), e.column()))
    })?;
    for img in &a.images {
        let mut seen = Vec::new();
        for item in &img.items {
            if !a.slots.contains(&item.slot) || seen.contains(&&item.slot) {
                return Err(LanternError::BadArgument(format!(
                    "{}: image {}: item slot '{}' is unknown or repeated (slots {:?})",
                    path.display(),
                    img.id,
                    item.slot,
                    a.slots
                )));
            }
            seen.push(&item.slot);
        }
    }
    Ok(a)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::datasets::synth_attributes;

    #[test]
    fn items_sit_in_their_own_quadrants_with_exact_masks() {
        let mut counts = [0usize; 5];
        for i in 0..200 {
            let o = generate(3, i, 64);
            counts[o.items.len()] += 1;
            assert!(o.item(0).is_some() && o.item(1).is_some(), "top and bottom are always worn");
            for item in &o.items {
                let on = item.mask.pixels().filter(|p| p.0[0] == 255).count();
                assert!(on >= 15, "image {i}: {} has {on} pixels", SLOTS[item.slot]);
                assert!(item.mask.pixels().all(|p| p.0[0] == 0 || p.0[0] == 255));
                assert_eq!(item.bbox, synth::mask_box(&item.mask));
                let (qx, qy) = ((item.slot % 2) as u32 * 32, (item.slot / 2) as u32 * 32);
                let b = item.bbox;
                assert!(b.x0 >= qx && b.x1 < qx + 32 && b.y0 >= qy && b.y1 < qy + 32, "image {i}: {b:?}");
            }
            assert_eq!(o.image, generate(3, i, 64).image);
        }
        assert!(counts[2] > 20 && counts[3] > 60 && counts[4] > 20, "{counts:?}");
        assert_ne!(generate(3, 0, 64).image, synth::generate(3, 0, 64).image, "a stream of its own");
    }

    #[test]
    fn the_rule_counts_conditions_and_names_the_explaining_values() {
        let a = |colour, texture, size| Some(Attributes { shape: 0, colour, texture, size });
        let x: Wearing = [a(2, 1, 0), a(0, 0, 0), None, a(5, 3, 2)];
        let y: Wearing = [a(2, 1, 2), a(0, 2, 1), a(1, 1, 1), None];
        let rule = MatchRule::default();
        assert_eq!((rule.agreement(&x, &y), rule.size()), (2, 2));
        assert!(rule.matches(&x, &y));
        assert_eq!(rule.explaining(&x), vec![2, 6 + 1]);
        let other: MatchRule = "bag , top:size".parse().unwrap();
        assert_eq!(other, MatchRule { slots: vec![0, 3], groups: vec![2] });
        assert_eq!(other.to_string(), "top,bag:size");
        // Tops differ in size; y has no bag.
        assert_eq!(other.agreement(&x, &y), 0);
        assert_eq!(other.agreement(&x, &x), 2);
        assert_eq!(values(&y), vec![0, 1, 2, 6 + 1, 6 + 2, 10 + 1, 10 + 2]);
        for bad in ["top", "hat:colour", "top:shape", "top:"] {
            assert!(bad.parse::<MatchRule>().is_err(), "{bad}");
        }
        assert_eq!(synth_attributes::names()[rule.explaining(&x)[1]], "texture=stripes");
    }

    #[test]
    fn writes_and_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let a = write(dir.path(), 4, 9, 48, |_| {}).unwrap();
        assert_eq!(read(dir.path()).unwrap(), a);
        for (i, img) in a.images.iter().enumerate() {
            let o = generate(9, i as u64, 48);
            assert_eq!(image::open(dir.path().join(&img.file)).unwrap().into_rgb8(), o.image);
            assert_eq!(img.items.len(), o.items.len());
            for (ann, item) in img.items.iter().zip(&o.items) {
                let mask = image::open(dir.path().join(&ann.mask)).unwrap().into_luma8();
                assert_eq!(mask, item.mask);
                assert_eq!(ann.slot, SLOTS[item.slot]);
            }
        }
        // Opened as a dataset (the app's gallery): the items' boxes, the union of their masks.
        assert_eq!(super::super::Format::detect(dir.path()), super::super::Format::Outfits);
        let d = super::super::open(dir.path(), super::super::Format::Outfits).unwrap();
        let o = generate(9, 0, 48);
        assert_eq!(d.samples[0].boxes, o.items.iter().map(|i| i.bbox).collect::<Vec<_>>());
        let union = d.samples[0].mask.as_ref().unwrap().load().unwrap();
        for (i, p) in union.pixels().enumerate() {
            assert_eq!(p.0[0] > 0, o.items.iter().any(|item| item.mask.as_raw()[i] > 0));
        }
        let mut broken = a.clone();
        broken.images[0].items[1].slot = "top".into();
        write_json(&dir.path().join(ANNOTATIONS), &broken).unwrap();
        assert!(read(dir.path()).unwrap_err().to_string().contains("image 000000"));
        assert!(write(dir.path(), 1, 1, 8, |_| {}).is_err());
    }
}
