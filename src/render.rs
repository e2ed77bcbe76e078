//! CPU rendering of maps for exports: the colourised map alone and the map blended over its image.
//! The app's WGSL overlay computes the same blend per pixel, so an exported PNG looks like the view.

use crate::colormap::Colormap;
use crate::imaging::Geometry;
use crate::map::{Interpolation, WeightMap};
use image::{Rgb, RgbImage};
use serde::{Deserialize, Serialize};

/// How the map is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ViewMode {
    Overlay,
    MapOnly,
    /// `I * M`.
    Foreground,
    /// `I * (1 - M)`.
    Background,
    /// Image left of a divider, overlay right of it.
    Wipe,
}

impl ViewMode {
    pub const ALL: [ViewMode; 5] = [ViewMode::Overlay, ViewMode::MapOnly, ViewMode::Foreground, ViewMode::Background, ViewMode::Wipe];

    pub fn label(self) -> &'static str {
        match self {
            ViewMode::Overlay => "Overlay",
            ViewMode::MapOnly => "Map only",
            ViewMode::Foreground => "Foreground I·M",
            ViewMode::Background => "Background I·(1−M)",
            ViewMode::Wipe => "Before/after wipe",
        }
    }

    /// The shader's mode number.
    pub fn code(self) -> u32 {
        match self {
            ViewMode::Overlay => 0,
            ViewMode::MapOnly => 1,
            ViewMode::Foreground => 2,
            ViewMode::Background => 3,
            ViewMode::Wipe => 4,
        }
    }
}

/// How a map is drawn over its image.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OverlayStyle {
    pub colormap: Colormap,
    /// Weight of the map's colour: `out = (1 - alpha) * image + alpha * colour`.
    pub alpha: f32,
    /// Map values are raised to this power before colouring (1 keeps them).
    pub gamma: f32,
}

impl Default for OverlayStyle {
    fn default() -> Self {
        Self { colormap: Colormap::Jet, alpha: 0.5, gamma: 1.0 }
    }
}

impl OverlayStyle {
    fn shade(&self, v: f32) -> [u8; 3] {
        let v = v.clamp(0.0, 1.0);
        let v = if self.gamma == 1.0 { v } else { v.powf(self.gamma) };
        self.colormap.color(v)
    }
}

/// The map alone in colour, one pixel per value.
pub fn colorize(map: &WeightMap, style: &OverlayStyle) -> RgbImage {
    let mut out = RgbImage::new(map.width as u32, map.height as u32);
    for (px, &v) in out.pixels_mut().zip(&map.values) {
        *px = Rgb(style.shade(v));
    }
    out
}

fn blend(a: u8, b: u8, alpha: f32) -> u8 {
    (f32::from(a) * (1.0 - alpha) + f32::from(b) * alpha).round().clamp(0.0, 255.0) as u8
}

/// `image` with `map` blended over it; the map is resized to the image.
pub fn overlay(image: &RgbImage, map: &WeightMap, style: &OverlayStyle) -> RgbImage {
    let (w, h) = image.dimensions();
    let m = map.resized(w as usize, h as usize, Interpolation::Bilinear);
    let alpha = style.alpha.clamp(0.0, 1.0);
    let mut out = image.clone();
    for (px, &v) in out.pixels_mut().zip(&m.values) {
        let c = style.shade(v);
        px.0 = [blend(px.0[0], c[0], alpha), blend(px.0[1], c[1], alpha), blend(px.0[2], c[2], alpha)];
    }
    out
}

/// `map` (covering the model's input crop) placed back onto the full original image: the map is
/// resized to the crop's extent in the original and blended there; outside the crop the image is
/// shown dimmed, since the model never saw it.
pub fn overlay_on_original(image: &RgbImage, map: &WeightMap, geometry: &Geometry, style: &OverlayStyle) -> RgbImage {
    let (x, y, cw, ch) = geometry.crop_in_original();
    let (w, h) = image.dimensions();
    let x0 = x.round().max(0.0) as u32;
    let y0 = y.round().max(0.0) as u32;
    let x1 = ((x + cw).round() as u32).min(w);
    let y1 = ((y + ch).round() as u32).min(h);
    let mut out = image.clone();
    for px in out.pixels_mut() {
        px.0 = px.0.map(|c| c / 3);
    }
    if x1 <= x0 || y1 <= y0 {
        return out;
    }
    let region = image::imageops::crop_imm(image, x0, y0, x1 - x0, y1 - y0).to_image();
    let blended = overlay(&region, map, style);
    image::imageops::replace(&mut out, &blended, i64::from(x0), i64::from(y0));
    out
}

/// Everything that decides how a view looks, for the CPU renderer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ViewLook {
    pub style: OverlayStyle,
    pub mode: ViewMode,
    /// Wipe divider as a fraction of the image width.
    pub wipe: f32,
    /// Contour level, drawn in white when `contour` is set.
    pub threshold: f32,
    pub contour: bool,
}

/// The view at the image's full resolution, as the GPU overlay draws it: `map` (covering the
/// model's crop) resized bilinearly to its extent in the image; outside the crop the image is
/// dimmed.
pub fn render_view(image: &RgbImage, map: &WeightMap, geometry: &Geometry, look: &ViewLook) -> RgbImage {
    let (w, h) = image.dimensions();
    let (x, y, cw, ch) = geometry.crop_in_original();
    let x0 = x.round().max(0.0) as u32;
    let y0 = y.round().max(0.0) as u32;
    let x1 = ((x + cw).round() as u32).min(w).max(x0 + 1);
    let y1 = ((y + ch).round() as u32).min(h).max(y0 + 1);
    let m = map.resized((x1 - x0) as usize, (y1 - y0) as usize, Interpolation::Bilinear);
    let alpha = look.style.alpha.clamp(0.0, 1.0);
    let wipe_x = (look.wipe.clamp(0.0, 1.0) * w as f32) as u32;
    let mut out = image.clone();
    let above = |mx: u32, my: u32| m.values[(my * (x1 - x0) + mx) as usize] >= look.threshold;
    for (px, py, p) in out.enumerate_pixels_mut() {
        if px < x0 || py < y0 || px >= x1 || py >= y1 {
            p.0 = p.0.map(|c| (f32::from(c) * 0.35).round() as u8);
            continue;
        }
        let (mx, my) = (px - x0, py - y0);
        let v = m.values[(my * (x1 - x0) + mx) as usize].clamp(0.0, 1.0);
        let colour = look.style.shade(v);
        let blended = [0, 1, 2].map(|c| blend(p.0[c], colour[c], alpha));
        p.0 = match look.mode {
            ViewMode::Overlay => blended,
            ViewMode::MapOnly => colour,
            ViewMode::Foreground => p.0.map(|c| (f32::from(c) * v).round() as u8),
            ViewMode::Background => p.0.map(|c| (f32::from(c) * (1.0 - v)).round() as u8),
            ViewMode::Wipe => {
                if px < wipe_x { p.0 } else { blended }
            }
        };
        if look.contour {
            let here = above(mx, my);
            let edge = (mx + 1 < x1 - x0 && above(mx + 1, my) != here) || (my + 1 < y1 - y0 && above(mx, my + 1) != here);
            if edge {
                p.0 = [255, 255, 255];
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::imaging::Preprocess;

    #[test]
    fn overlay_blends_by_alpha() {
        let img = RgbImage::from_pixel(2, 1, Rgb([100, 100, 100]));
        let map = WeightMap::new(2, 1, vec![0.0, 1.0]);
        let style = OverlayStyle { colormap: Colormap::Gray, alpha: 0.5, gamma: 1.0 };
        let out = overlay(&img, &map, &style);
        assert_eq!(out.get_pixel(0, 0).0, [50, 50, 50]);
        assert_eq!(out.get_pixel(1, 0).0, [178, 178, 178]);
        assert_eq!(colorize(&map, &style).get_pixel(1, 0).0, [255, 255, 255]);
    }

    #[test]
    fn render_view_modes() {
        let img = RgbImage::from_pixel(4, 4, Rgb([200, 100, 50]));
        let p = Preprocess { resize: 0, crop: 0, mean: [0.0; 3], std: [1.0; 3] };
        let g = p.geometry(4, 4);
        let map = WeightMap::new(2, 2, vec![0.25; 4]);
        let style = OverlayStyle { colormap: Colormap::Gray, alpha: 0.5, gamma: 1.0 };
        let look = |mode| ViewLook { style, mode, wipe: 0.5, threshold: 0.9, contour: false };
        assert_eq!(render_view(&img, &map, &g, &look(ViewMode::Foreground)).get_pixel(1, 1).0, [50, 25, 13]);
        assert_eq!(render_view(&img, &map, &g, &look(ViewMode::Background)).get_pixel(1, 1).0, [150, 75, 38]);
        assert_eq!(render_view(&img, &map, &g, &look(ViewMode::MapOnly)).get_pixel(1, 1).0, [64, 64, 64]);
        let wipe = render_view(&img, &map, &g, &look(ViewMode::Wipe));
        assert_eq!(wipe.get_pixel(0, 0).0, [200, 100, 50]);
        assert_eq!(wipe.get_pixel(3, 0).0, render_view(&img, &map, &g, &look(ViewMode::Overlay)).get_pixel(3, 0).0);
    }

    #[test]
    fn overlay_on_original_covers_only_the_crop() {
        let img = RgbImage::from_pixel(300, 200, Rgb([90, 90, 90]));
        let p = Preprocess { resize: 200, crop: 200, mean: [0.0; 3], std: [1.0; 3] };
        let g = p.geometry(300, 200);
        let map = WeightMap::new(2, 2, vec![1.0; 4]);
        let style = OverlayStyle { colormap: Colormap::Gray, alpha: 1.0, gamma: 1.0 };
        let out = overlay_on_original(&img, &map, &g, &style);
        assert_eq!(out.get_pixel(10, 100).0, [30, 30, 30]);
        assert_eq!(out.get_pixel(150, 100).0, [255, 255, 255]);
    }
}
