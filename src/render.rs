//! CPU rendering of maps for exports: the colourised map alone and the map blended over its image.
//! The app's WGSL overlay computes the same blend per pixel, so an exported PNG looks like the view;
//! [`decorate`] adds what the app draws on top of it (boxes, the colour bar).

use crate::colormap::Colormap;
use crate::imaging::Geometry;
use crate::map::{Interpolation, PixelBox, WeightMap};
use image::{Rgb, RgbImage};
use plotters::prelude::*;
#[cfg(not(target_arch = "wasm32"))]
use plotters::style::FontStyle;
use serde::{Deserialize, Serialize};
#[cfg(not(target_arch = "wasm32"))]
use std::sync::Once;

/// Predicted boxes are drawn in yellow, in the app and in exports.
pub const PREDICTED_BOX: [u8; 3] = [255, 230, 40];
/// Ground truth is drawn in green, in the app and in exports.
pub const TRUTH_BOX: [u8; 3] = [40, 230, 90];

/// Register egui's bundled Ubuntu Light as plotters' "sans-serif", once: text in exported
/// pictures and plots never depends on the system's fonts. (On the web, plotters draws text with
/// the browser's fonts and takes no registered one.)
pub fn register_font() {
    #[cfg(not(target_arch = "wasm32"))]
    {
        static ONCE: Once = Once::new();
        ONCE.call_once(|| {
            plotters::style::register_font("sans-serif", FontStyle::Normal, epaint_default_fonts::UBUNTU_LIGHT)
                .unwrap_or_else(|_| panic!("the bundled font parses"));
        });
    }
}

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
    pub const ALL: [ViewMode; 5] =
        [ViewMode::Overlay, ViewMode::MapOnly, ViewMode::Foreground, ViewMode::Background, ViewMode::Wipe];

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
                if px < wipe_x {
                    p.0
                } else {
                    blended
                }
            }
        };
        if look.contour {
            let here = above(mx, my);
            let edge =
                (mx + 1 < x1 - x0 && above(mx + 1, my) != here) || (my + 1 < y1 - y0 && above(mx, my + 1) != here);
            if edge {
                p.0 = [255, 255, 255];
            }
        }
    }
    out
}

/// What an exported view shows besides the map, as the app draws it.
#[derive(Debug, Clone, Default)]
pub struct Decorations {
    /// Predicted boxes, in image pixels (inclusive corners), drawn in [`PREDICTED_BOX`] yellow.
    pub predicted: Vec<PixelBox>,
    /// Ground-truth boxes, in image pixels, drawn in [`TRUTH_BOX`] green.
    pub truth: Vec<PixelBox>,
    /// A colour bar labelled with the map's value range `(min, max)`, in a panel right of the image.
    pub colour_bar: Option<(Colormap, (f32, f32))>,
}

/// Outline `b` with a `thickness`-pixel line inside its extent, clipped to the image.
fn outline(image: &mut RgbImage, b: &PixelBox, colour: [u8; 3], thickness: u32) {
    let (w, h) = image.dimensions();
    if w == 0 || h == 0 {
        return;
    }
    let (x0, y0, x1, y1) = (b.x0.min(w - 1), b.y0.min(h - 1), b.x1.min(w - 1), b.y1.min(h - 1));
    for y in y0..=y1 {
        for x in x0..=x1 {
            let edge = x < x0 + thickness || x + thickness > x1 || y < y0 + thickness || y + thickness > y1;
            if edge {
                image.put_pixel(x, y, Rgb(colour));
            }
        }
    }
}

/// `view` with its boxes outlined and, when asked, a colour-bar panel added on the right: a
/// vertical gradient of the colormap from the map's maximum (top) to its minimum (bottom),
/// labelled with both values and the midpoint.
pub fn decorate(view: &RgbImage, d: &Decorations) -> RgbImage {
    let (w, h) = view.dimensions();
    let mut image = view.clone();
    let thickness = (w.min(h) / 250).max(2);
    for b in &d.truth {
        outline(&mut image, b, TRUTH_BOX, thickness);
    }
    for b in &d.predicted {
        outline(&mut image, b, PREDICTED_BOX, thickness);
    }
    let Some((colormap, (lo, hi))) = d.colour_bar else { return image };
    let text = (h / 24).clamp(11, 48);
    let panel = (text * 5).max(w / 12);
    let mut out = RgbImage::from_pixel(w + panel, h, Rgb([24, 24, 28]));
    image::imageops::replace(&mut out, &image, 0, 0);
    let (bx0, bx1) = (w + text / 2, w + text / 2 + (panel / 5).max(8));
    let (by0, by1) = (h / 10 + text / 2, (h - h / 10).saturating_sub(text / 2).max(h / 10 + text / 2 + 2));
    for y in by0..by1 {
        let t = 1.0 - (y - by0) as f32 / (by1 - by0 - 1).max(1) as f32;
        let colour = colormap.color(t);
        for x in bx0..bx1.min(w + panel) {
            out.put_pixel(x, y, Rgb(colour));
        }
    }
    register_font();
    let mid = by0 + (by1 - by0) / 2;
    let labels = [(hi, by0), ((lo + hi) / 2.0, mid), (lo, by1.saturating_sub(1))];
    {
        let (width, height) = out.dimensions();
        let root = BitMapBackend::with_buffer(&mut out, (width, height)).into_drawing_area();
        let style = ("sans-serif", text as f64).into_font().color(&RGBColor(230, 230, 230)).pos(
            plotters::style::text_anchor::Pos::new(
                plotters::style::text_anchor::HPos::Left,
                plotters::style::text_anchor::VPos::Center,
            ),
        );
        for (value, y) in labels {
            // A label that does not fit is left out rather than failing the export.
            let _ = root.draw(&Text::new(format!("{value:.2}"), ((bx1 + text / 3) as i32, y as i32), style.clone()));
        }
        let _ = root.present();
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

    #[test]
    fn decorate_outlines_boxes_inside_their_extent() {
        let img = RgbImage::from_pixel(40, 30, Rgb([0, 0, 0]));
        let b = PixelBox { x0: 5, y0: 6, x1: 20, y1: 25 };
        let t = PixelBox { x0: 30, y0: 0, x1: 60, y1: 10 };
        let out = decorate(&img, &Decorations { predicted: vec![b], truth: vec![t], colour_bar: None });
        assert_eq!(out.dimensions(), (40, 30), "no colour bar, no panel");
        assert_eq!(out.get_pixel(5, 6).0, PREDICTED_BOX);
        assert_eq!(out.get_pixel(20, 25).0, PREDICTED_BOX);
        assert_eq!(out.get_pixel(12, 15).0, [0, 0, 0], "the inside stays");
        assert_eq!(out.get_pixel(4, 6).0, [0, 0, 0], "nothing outside the box");
        assert_eq!(out.get_pixel(39, 0).0, TRUTH_BOX, "a box past the edge is clipped");
    }

    #[test]
    fn decorate_adds_a_labelled_colour_bar() {
        let img = RgbImage::from_pixel(240, 200, Rgb([0, 0, 0]));
        let out = decorate(&img, &Decorations { colour_bar: Some((Colormap::Gray, (0.0, 1.0))), ..Default::default() });
        let (w, h) = out.dimensions();
        assert!(w > 240 && h == 200, "a panel is added on the right");
        assert_eq!(out.get_pixel(10, 10).0, [0, 0, 0], "the view is kept");
        // Text size 11 px, so the bar spans x 245..256 and y 25..175: white (max) at the top to
        // black (min) at the bottom.
        let (top, bottom) = (out.get_pixel(250, 26).0[0], out.get_pixel(250, 173).0[0]);
        assert!(top > 240 && bottom < 15, "top {top}, bottom {bottom}");
        // Labels: light text pixels right of the bar.
        let text =
            (0..h).flat_map(|y| (260..w).map(move |x| (x, y))).filter(|&(x, y)| out.get_pixel(x, y).0[0] > 150).count();
        assert!(text > 20, "the value labels are drawn ({text} light pixels)");
    }
}
