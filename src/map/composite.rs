//! Foreground and background images of the weight-map generator paper (WSOL as a learned weight
//! map): foreground `I * M`, background `I * (1 - M)`, per pixel and channel, with `M` the map
//! clamped to `[0, 1]` and resized to the image.

use super::{Interpolation, WeightMap};
use image::RgbImage;

fn blend(image: &RgbImage, map: &WeightMap, keep: impl Fn(f32) -> f32) -> RgbImage {
    let (w, h) = image.dimensions();
    let m = if map.width == w as usize && map.height == h as usize {
        map.clone()
    } else {
        map.resized(w as usize, h as usize, Interpolation::Bilinear)
    };
    let mut out = image.clone();
    for (i, px) in out.pixels_mut().enumerate() {
        let k = keep(m.values[i].clamp(0.0, 1.0));
        for c in &mut px.0 {
            *c = (f32::from(*c) * k).round() as u8;
        }
    }
    out
}

/// `I * M`: the image where the map is high.
pub fn foreground(image: &RgbImage, map: &WeightMap) -> RgbImage {
    blend(image, map, |m| m)
}

/// `I * (1 - M)`: the image where the map is low.
pub fn background(image: &RgbImage, map: &WeightMap) -> RgbImage {
    blend(image, map, |m| 1.0 - m)
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::Rgb;

    #[test]
    fn foreground_and_background_split_the_image() {
        let img = RgbImage::from_pixel(2, 1, Rgb([200, 100, 50]));
        let map = WeightMap::new(2, 1, vec![1.0, 0.25]);
        let fg = foreground(&img, &map);
        let bg = background(&img, &map);
        assert_eq!(fg.get_pixel(0, 0).0, [200, 100, 50]);
        assert_eq!(bg.get_pixel(0, 0).0, [0, 0, 0]);
        assert_eq!(fg.get_pixel(1, 0).0, [50, 25, 13]);
        assert_eq!(bg.get_pixel(1, 0).0, [150, 75, 38]);
    }

    #[test]
    fn map_is_resized_to_the_image() {
        let img = RgbImage::from_pixel(4, 4, Rgb([100, 100, 100]));
        let map = WeightMap::new(2, 2, vec![1.0; 4]);
        assert!(foreground(&img, &map).pixels().all(|p| p.0 == [100, 100, 100]));
    }
}
