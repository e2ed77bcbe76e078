//! The caption of an animation frame: one line of text (method, layer, class, and where the sweep
//! is) on a darkened strip across the top, in the bundled font exports use
//! ([`render::register_font`]).

use crate::render;
use image::RgbImage;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// The caption's colour.
const CAPTION_TEXT: [u8; 3] = [245, 245, 245];
/// How much of the picture's brightness shows through the strip behind the text.
const STRIP_SHADE: f32 = 0.3;

/// Draw `text` on a darkened strip across the top of `frame`; the text is made smaller until it
/// fits the width (down to 8 px, below which it is clipped). `picture_width` is the width of the
/// picture within the frame, which sets the text's preferred size.
pub fn draw_caption(frame: &mut RgbImage, picture_width: u32, text: &str) {
    let (w, h) = frame.dimensions();
    if text.is_empty() || w == 0 || h == 0 {
        return;
    }
    render::register_font();
    let margin = 4;
    let mut size = (picture_width.min(h) / 14).clamp(9, 28);
    while size > 8 && text_width(text, size) + 2 * margin > w {
        size -= 1;
    }
    let strip = (size + size / 2 + 2).min(h);
    for y in 0..strip {
        for x in 0..w {
            let p = frame.get_pixel_mut(x, y);
            p.0 = p.0.map(|c| (f32::from(c) * STRIP_SHADE).round() as u8);
        }
    }
    let root = BitMapBackend::with_buffer(frame, (w, h)).into_drawing_area();
    let [r, g, b] = CAPTION_TEXT;
    let style =
        ("sans-serif", f64::from(size)).into_font().color(&RGBColor(r, g, b)).pos(Pos::new(HPos::Left, VPos::Center));
    // A caption that cannot be drawn leaves the strip empty rather than failing the export.
    let _ = root.draw(&Text::new(text.to_string(), (margin as i32, (strip / 2) as i32), style));
    let _ = root.present();
}

/// The width `text` takes at `size` pixels in the bundled font.
fn text_width(text: &str, size: u32) -> u32 {
    render::register_font();
    ("sans-serif", f64::from(size)).into_font().box_size(text).map_or(0, |(w, _)| w)
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::Rgb;

    #[test]
    fn the_caption_is_light_text_on_a_dark_strip() {
        let mut frame = RgbImage::from_pixel(224, 224, Rgb([100, 100, 100]));
        draw_caption(&mut frame, 224, "RISE · input · circle · batch 3/8");
        let strip: Vec<[u8; 3]> =
            (0..20).flat_map(|y| (0..224).map(move |x| (x, y))).map(|(x, y)| frame.get_pixel(x, y).0).collect();
        let light = strip.iter().filter(|p| p[0] > 200).count();
        let dark = strip.iter().filter(|p| p[0] == 30).count();
        assert!(light > 30, "text is drawn ({light} light pixels)");
        assert!(dark > light, "on a darkened strip ({dark} dark pixels)");
        assert_eq!(frame.get_pixel(100, 200).0, [100, 100, 100], "below the strip the picture is kept");
    }

    #[test]
    fn a_long_caption_shrinks_to_fit() {
        let long = "Integrated Gradients · blocks.4 · triangle · threshold 0.95";
        assert!(text_width(long, 16) > 200);
        let mut frame = RgbImage::from_pixel(200, 100, Rgb([0, 0, 0]));
        draw_caption(&mut frame, 200, long);
        let right_edge_lit = (0..20).any(|y| frame.get_pixel(199, y).0[0] > 200);
        assert!(!right_edge_lit, "the text stops before the edge");
    }
}
