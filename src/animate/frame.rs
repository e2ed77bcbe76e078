//! One frame of an animation: the view as exports render it ([`render::render_view`], then
//! [`render::decorate`]'s boxes and colour bar), a wipe divider when the view is a wipe, and a
//! caption strip across the top of the picture.

use super::caption::draw_caption;
use crate::imaging::Geometry;
use crate::map::{PixelBox, WeightMap};
use crate::render::{self, Decorations, ViewLook, ViewMode};
use image::{Rgb, RgbImage};

/// The divider between image and map in a wipe, as the app draws it.
const DIVIDER: [u8; 3] = [255, 255, 255];

/// What one frame shows.
pub struct FrameSpec<'a> {
    pub map: &'a WeightMap,
    pub look: ViewLook,
    /// Predicted boxes in image pixels.
    pub boxes: Vec<PixelBox>,
    pub caption: String,
}

/// The frame for `spec` over `image`: the image's own resolution, plus the colour-bar panel
/// [`render::decorate`] adds on the right.
pub fn compose(image: &RgbImage, geometry: &Geometry, spec: &FrameSpec<'_>) -> RgbImage {
    let mut view = render::render_view(image, spec.map, geometry, &spec.look);
    if spec.look.mode == ViewMode::Wipe {
        draw_divider(&mut view, spec.look.wipe);
    }
    let decorations = Decorations {
        predicted: spec.boxes.clone(),
        truth: Vec::new(),
        colour_bar: Some((spec.look.style.colormap, spec.map.min_max())),
    };
    let mut frame = render::decorate(&view, &decorations);
    draw_caption(&mut frame, view.width(), &spec.caption);
    frame
}

/// A vertical line two pixels wide at `wipe` (a fraction of the width).
fn draw_divider(view: &mut RgbImage, wipe: f32) {
    let (w, h) = view.dimensions();
    if w == 0 {
        return;
    }
    let x = ((wipe.clamp(0.0, 1.0) * w as f32) as u32).min(w - 1);
    for dx in x.saturating_sub(1)..=x {
        for y in 0..h {
            view.put_pixel(dx, y, Rgb(DIVIDER));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::colormap::Colormap;
    use crate::imaging::Preprocess;
    use crate::render::OverlayStyle;

    fn look(mode: ViewMode, wipe: f32) -> ViewLook {
        let style = OverlayStyle { colormap: Colormap::Gray, alpha: 0.5, gamma: 1.0 };
        ViewLook { style, mode, wipe, threshold: 0.5, contour: false }
    }

    #[test]
    fn a_frame_is_the_decorated_view_with_a_divider() {
        let image = RgbImage::from_pixel(120, 100, Rgb([0, 0, 0]));
        let geometry = Preprocess { resize: 0, crop: 0, mean: [0.0; 3], std: [1.0; 3] }.geometry(120, 100);
        let map = WeightMap::new(2, 2, vec![0.0, 1.0, 0.0, 1.0]);
        let spec = FrameSpec { map: &map, look: look(ViewMode::Wipe, 0.5), boxes: Vec::new(), caption: String::new() };
        let frame = compose(&image, &geometry, &spec);
        let bare = render::decorate(
            &image,
            &Decorations { colour_bar: Some((Colormap::Gray, (0.0, 1.0))), ..Default::default() },
        );
        assert_eq!(frame.dimensions(), bare.dimensions(), "the image's size plus the colour bar's panel");
        assert_eq!(frame.get_pixel(60, 50).0, DIVIDER, "the divider at the middle");
        assert_eq!(frame.get_pixel(20, 50).0, [0, 0, 0], "the image left of it");
        assert_ne!(frame.get_pixel(110, 50).0, [0, 0, 0], "the overlay right of it");
    }
}
