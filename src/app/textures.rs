//! The textures the UI makes while drawing: the thumbnails, the ground-truth masks' tints and the
//! views composited on the CPU (frames not drawn by wgpu, the label list's small maps).
//!
//! They are not part of [`super::state::AppState`] and change through no command: egui makes a
//! texture only on the UI thread, from a `&egui::Context`, at the moment a panel draws it, and
//! keeps it alive only while a handle is held. A cache of handles is therefore an effect of
//! drawing, not a change the user asked for; sent as a command it would be made again every
//! frame until the command was applied. So the app owns one `Textures`, apart from the state, and
//! passes it explicitly (`&mut`) to the panels that draw pictures; nothing else in it changes.

use super::images::LoadState;
use egui::TextureHandle;
use image::{GrayImage, RgbImage};
use std::collections::{HashMap, HashSet};

/// Texture handles by what they show.
#[derive(Default)]
pub struct Textures {
    /// Thumbnails, by gallery image id.
    thumbs: HashMap<u64, TextureHandle>,
    /// Ground-truth masks as translucent tints, by gallery image id.
    masks: HashMap<u64, TextureHandle>,
    /// CPU-composited views, by view id: the key of what each shows, and its texture.
    views: HashMap<u64, (u64, TextureHandle)>,
}

impl Textures {
    /// The thumbnail of image `id`, made from `thumb` once it is loaded.
    pub fn thumb(&mut self, ctx: &egui::Context, id: u64, thumb: &LoadState<RgbImage>) -> Option<TextureHandle> {
        if let (None, LoadState::Ready(t)) = (self.thumbs.get(&id), thumb) {
            let colour = egui::ColorImage::from_rgb([t.width() as usize, t.height() as usize], t.as_raw());
            self.thumbs.insert(id, ctx.load_texture(format!("thumb {id}"), colour, egui::TextureOptions::LINEAR));
        }
        self.thumbs.get(&id).cloned()
    }

    /// The tint of image `id`'s ground-truth mask: `colour` where the mask is set, clear elsewhere.
    pub fn mask(&mut self, ctx: &egui::Context, id: u64, mask: &GrayImage, colour: egui::Color32) -> TextureHandle {
        self.masks
            .entry(id)
            .or_insert_with(|| {
                let pixels: Vec<egui::Color32> =
                    mask.pixels().map(|p| if p.0[0] > 0 { colour } else { egui::Color32::TRANSPARENT }).collect();
                let image = egui::ColorImage::new([mask.width() as usize, mask.height() as usize], pixels);
                ctx.load_texture("lantern ground-truth mask", image, egui::TextureOptions::NEAREST)
            })
            .clone()
    }

    /// View `view`'s composite when it was made for `key`, else the one `make` makes now (kept
    /// for the next frames).
    pub fn view(&mut self, view: u64, key: u64, make: impl FnOnce() -> TextureHandle) -> TextureHandle {
        match self.views.get(&view) {
            Some((k, texture)) if *k == key => texture.clone(),
            _ => {
                let texture = make();
                self.views.insert(view, (key, texture.clone()));
                texture
            }
        }
    }

    /// Let go of the thumbnails and masks of images no longer open, once there are more of them
    /// than the `open` images: `ids` lists the open images' ids (asked only then).
    pub fn keep_images<I: IntoIterator<Item = u64>>(&mut self, open: usize, ids: impl FnOnce() -> I) {
        if self.thumbs.len() + self.masks.len() > 2 * open {
            let open: HashSet<u64> = ids().into_iter().collect();
            self.thumbs.retain(|id, _| open.contains(id));
            self.masks.retain(|id, _| open.contains(id));
        }
    }
}
