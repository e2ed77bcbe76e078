//! Decoding images safely and preprocessing them into a model's input tensor.
//!
//! Decoding checks the header before any pixel is read: images over [`MAX_MEGAPIXELS`] are
//! refused, and the decoder runs under `image::Limits`, so a decompression bomb cannot exhaust
//! memory. Preprocessing reproduces torchvision's `Resize(shorter side)` + `CenterCrop` +
//! `ToTensor` + `Normalize` on PIL images bit for bit: the resize is PIL's antialiased bilinear
//! resample in 8-bit fixed point, horizontal pass first.

mod blur;

use crate::error::{LanternError, Result};
pub use blur::blurred;
use burn::tensor::{Device, Tensor, TensorData};
use image::{DynamicImage, ImageDecoder, ImageReader, Limits, RgbImage};
use serde::{Deserialize, Serialize};
use std::io::{BufRead, Cursor, Seek};
use std::ops::Range;
use std::path::Path;

/// Largest image Lantern decodes, in megapixels.
pub const MAX_MEGAPIXELS: u32 = 100;

/// Decode an image file (PNG, JPEG, WebP, BMP, TIFF, GIF's first frame) to 8-bit RGB.
pub fn load_image(path: &Path) -> Result<RgbImage> {
    let reader = ImageReader::open(path).map_err(|e| LanternError::io(path, e))?;
    decode(reader, path)
}

/// Decode an image held in memory; `name` is used in error messages.
pub fn decode_image_bytes(bytes: &[u8], name: &Path) -> Result<RgbImage> {
    decode(ImageReader::new(Cursor::new(bytes)), name)
}

fn decode<R: BufRead + Seek>(reader: ImageReader<R>, path: &Path) -> Result<RgbImage> {
    let bad = |reason: String| LanternError::Image { path: path.to_path_buf(), reason };
    let mut reader = reader.with_guessed_format().map_err(|e| LanternError::io(path, e))?;
    if reader.format().is_none() {
        return Err(bad("unrecognised file format".into()));
    }
    let mut limits = Limits::default();
    limits.max_alloc = Some(u64::from(MAX_MEGAPIXELS) * 1_000_000 * 8 + (64 << 20));
    reader.limits(limits);
    let decoder = reader.into_decoder().map_err(|e| bad(e.to_string()))?;
    let (width, height) = decoder.dimensions();
    if u64::from(width) * u64::from(height) > u64::from(MAX_MEGAPIXELS) * 1_000_000 {
        return Err(LanternError::ImageTooLarge { path: path.to_path_buf(), width, height, limit: MAX_MEGAPIXELS });
    }
    if width == 0 || height == 0 {
        return Err(bad("image has no pixels".into()));
    }
    let image = DynamicImage::from_decoder(decoder).map_err(|e| bad(e.to_string()))?;
    Ok(image.into_rgb8())
}

/// A model's input specification: torchvision's `Resize(resize)` on the shorter side,
/// `CenterCrop(crop)`, then `(x / 255 - mean) / std` per channel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Preprocess {
    /// Target length of the shorter side; 0 keeps the image size.
    pub resize: u32,
    /// Side of the square center crop; 0 keeps the whole resized image.
    pub crop: u32,
    pub mean: [f32; 3],
    pub std: [f32; 3],
}

impl Preprocess {
    /// The ImageNet recipe of torchvision's classifiers: 256, 224, ImageNet mean and std.
    pub fn imagenet() -> Self {
        Self { resize: 256, crop: 224, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] }
    }

    /// Check the spec is usable (positive std, finite numbers).
    pub fn validate(&self) -> Result<()> {
        if self.std.iter().any(|s| !s.is_finite() || *s <= 0.0) {
            return Err(LanternError::BadArgument(format!("std must be positive, got {:?}", self.std)));
        }
        if self.mean.iter().any(|m| !m.is_finite()) {
            return Err(LanternError::BadArgument(format!("mean must be finite, got {:?}", self.mean)));
        }
        Ok(())
    }

    /// Where the model's input lies in the original image.
    pub fn geometry(&self, width: u32, height: u32) -> Geometry {
        let (rw, rh) = resized_size(width, height, self.resize);
        let (cw, ch) = if self.crop == 0 { (rw, rh) } else { (self.crop.min(rw), self.crop.min(rh)) };
        let left = round_half_even(f64::from(rw - cw) / 2.0);
        let top = round_half_even(f64::from(rh - ch) / 2.0);
        Geometry { resized: (rw, rh), crop_origin: (left, top), crop_size: (cw, ch), original: (width, height) }
    }

    /// The image as the model sees it, before normalisation: resized and cropped RGB.
    pub fn model_view(&self, image: &RgbImage) -> RgbImage {
        self.geometry(image.width(), image.height()).view(image)
    }

    /// Normalised CHW values of an already resized and cropped view.
    pub fn normalize(&self, view: &RgbImage) -> Vec<f32> {
        let (w, h) = view.dimensions();
        let plane = w as usize * h as usize;
        let mut out = vec![0.0f32; 3 * plane];
        for (i, px) in view.pixels().enumerate() {
            for c in 0..3 {
                out[c * plane + i] = (f32::from(px.0[c]) / 255.0 - self.mean[c]) / self.std[c];
            }
        }
        out
    }

    /// The model input: a `[1, 3, H, W]` tensor on `device`.
    pub fn tensor(&self, image: &RgbImage, device: &Device) -> Tensor<4> {
        self.view_tensor(&self.model_view(image), device)
    }

    /// An already resized and cropped view (see [`Geometry::view`]) as a normalised
    /// `[1, 3, H, W]` tensor on `device`.
    pub fn view_tensor(&self, view: &RgbImage, device: &Device) -> Tensor<4> {
        let (w, h) = view.dimensions();
        Tensor::from_data(TensorData::new(self.normalize(view), [1, 3, h as usize, w as usize]), device)
    }
}

/// How the model input maps onto the original image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Geometry {
    pub original: (u32, u32),
    pub resized: (u32, u32),
    pub crop_origin: (u32, u32),
    pub crop_size: (u32, u32),
}

impl Geometry {
    /// The whole image resized to exactly `size` (width, height), aspect ratio not kept, no crop:
    /// torchvision's `Resize((h, w))`, as wsolevaluation's evaluation transform.
    pub fn stretched(original: (u32, u32), size: (u32, u32)) -> Self {
        Self { original, resized: size, crop_origin: (0, 0), crop_size: size }
    }

    /// `image` (of size `original`) resized to `resized` with PIL's bilinear resample, then cut to
    /// the crop. Only the crop is computed (see [`resize_bilinear_pil_window`]): the resized image
    /// of a sliver (say 22000x1 pixels, whose shorter side resized to 256 makes it 5632000x256)
    /// would not fit in memory.
    pub fn view(&self, image: &RgbImage) -> RgbImage {
        resize_bilinear_pil_window(image, self.resized, self.crop_origin, self.crop_size)
    }

    /// The crop as a rectangle `(x, y, w, h)` in original-image pixels.
    pub fn crop_in_original(&self) -> (f64, f64, f64, f64) {
        let sx = f64::from(self.original.0) / f64::from(self.resized.0);
        let sy = f64::from(self.original.1) / f64::from(self.resized.1);
        (
            f64::from(self.crop_origin.0) * sx,
            f64::from(self.crop_origin.1) * sy,
            f64::from(self.crop_size.0) * sx,
            f64::from(self.crop_size.1) * sy,
        )
    }

    /// A box of a `map_size` map over the crop, in original-image pixels (corners inclusive).
    pub fn map_box_in_original(&self, b: &crate::map::PixelBox, map_size: (usize, usize)) -> crate::map::PixelBox {
        let (cx, cy, cw, ch) = self.crop_in_original();
        let (sx, sy) = (cw / map_size.0.max(1) as f64, ch / map_size.1.max(1) as f64);
        let max = |n: u32| f64::from(n.max(1) - 1);
        let x = |v: f64| (cx + v * sx).floor().clamp(0.0, max(self.original.0)) as u32;
        let y = |v: f64| (cy + v * sy).floor().clamp(0.0, max(self.original.1)) as u32;
        crate::map::PixelBox {
            x0: x(f64::from(b.x0)),
            y0: y(f64::from(b.y0)),
            x1: x(f64::from(b.x1) + 1.0 - 1e-9),
            y1: y(f64::from(b.y1) + 1.0 - 1e-9),
        }
    }
}

/// torchvision's `Resize(int)`: the shorter side becomes `short`, the longer side
/// `int(short * long / shorter)`, saturated at `u32::MAX` (reached only by aspect ratios over
/// 16 million to 1).
fn resized_size(width: u32, height: u32, short: u32) -> (u32, u32) {
    if short == 0 {
        return (width, height);
    }
    let long_of = |long: u32, shorter: u32| {
        ((u64::from(short) * u64::from(long)) / u64::from(shorter.max(1))).clamp(1, u64::from(u32::MAX)) as u32
    };
    if width <= height { (short, long_of(height, width)) } else { (long_of(width, height), short) }
}

/// Python's `round()`: halves go to the even neighbour.
fn round_half_even(x: f64) -> u32 {
    let r = x.round();
    let v = if (x - x.trunc()).abs() == 0.5 && r % 2.0 != 0.0 { r - x.signum() } else { r };
    v.max(0.0) as u32
}

/// One axis of PIL's resample: for each output index in `outputs` (of `0..out_size`), the first
/// input index and the fixed-point weights of the triangle filter stretched by the downscale
/// factor.
fn pil_coefficients(in_size: u32, out_size: u32, outputs: Range<u32>) -> Vec<(usize, Vec<i32>)> {
    const PRECISION_BITS: i32 = 32 - 8 - 2;
    let scale = f64::from(in_size) / f64::from(out_size);
    let filter_scale = scale.max(1.0);
    let support = filter_scale;
    outputs
        .map(|xx| {
            let center = (f64::from(xx) + 0.5) * scale;
            let xmin = ((center - support + 0.5) as i64).max(0) as usize;
            let xmax = ((center + support + 0.5) as i64).min(i64::from(in_size)) as usize;
            let raw: Vec<f64> = (xmin..xmax)
                .map(|x| {
                    let t = ((x as f64 - center + 0.5) / filter_scale).abs();
                    if t < 1.0 { 1.0 - t } else { 0.0 }
                })
                .collect();
            let total: f64 = raw.iter().sum();
            let fixed = raw
                .iter()
                .map(|w| {
                    let w = if total != 0.0 { w / total } else { *w };
                    let s = w * f64::from(1 << PRECISION_BITS);
                    if w < 0.0 { (-0.5 + s) as i32 } else { (0.5 + s) as i32 }
                })
                .collect();
            (xmin, fixed)
        })
        .collect()
}

fn clip8(acc: i64) -> u8 {
    (acc >> 22).clamp(0, 255) as u8
}

/// PIL's `Image.resize(size, BILINEAR)` for RGB images: horizontal pass then vertical pass,
/// each rounded to 8 bits, as `ImagingResample` does.
pub fn resize_bilinear_pil(image: &RgbImage, width: u32, height: u32) -> RgbImage {
    resize_bilinear_pil_window(image, (width, height), (0, 0), (width, height))
}

/// The `window` (width, height) at `origin` of [`resize_bilinear_pil`]`(image, size)`, bit for
/// bit, computing nothing outside it: each output pixel has its own taps, and the horizontal pass
/// runs once per input row the window's vertical taps read, each row's result added into the
/// rows it feeds at once, so memory stays the window's size whatever the image's. The window
/// must lie inside `size`.
pub fn resize_bilinear_pil_window(
    image: &RgbImage,
    size: (u32, u32),
    origin: (u32, u32),
    window: (u32, u32),
) -> RgbImage {
    let row_len = window.0 as usize * 3;
    if row_len == 0 || window.1 == 0 {
        return RgbImage::new(window.0, window.1);
    }
    let stride = image.width() as usize * 3;
    let src = image.as_raw();
    let cx = (image.width() != size.0).then(|| pil_coefficients(image.width(), size.0, origin.0..origin.0 + window.0));
    // Input row `y` through the horizontal pass, the window's columns only.
    let horizontal = |y: usize, out: &mut [u8]| {
        let line = &src[y * stride..(y + 1) * stride];
        match &cx {
            None => out.copy_from_slice(&line[origin.0 as usize * 3..][..row_len]),
            Some(cx) => {
                for (x, (xmin, taps)) in cx.iter().enumerate() {
                    for c in 0..3 {
                        let acc = taps
                            .iter()
                            .enumerate()
                            .fold(1i64 << 21, |acc, (k, &t)| acc + i64::from(line[(xmin + k) * 3 + c]) * i64::from(t));
                        out[x * 3 + c] = clip8(acc);
                    }
                }
            }
        }
    };
    let mut out = vec![0u8; window.1 as usize * row_len];
    if image.height() == size.1 {
        for (y, row) in out.chunks_exact_mut(row_len).enumerate() {
            horizontal(origin.1 as usize + y, row);
        }
    } else {
        let cy = pil_coefficients(image.height(), size.1, origin.1..origin.1 + window.1);
        let mut acc = vec![1i64 << 21; out.len()];
        let mut line = vec![0u8; row_len];
        let first = cy.iter().map(|(m, _)| *m).min().unwrap_or(0);
        let end = cy.iter().map(|(m, taps)| m + taps.len()).max().unwrap_or(first);
        // Output rows' tap ranges start and end in increasing order; `lo` is the first whose
        // range has not ended before input row `r`.
        let mut lo = 0;
        for r in first..end {
            horizontal(r, &mut line);
            while lo < cy.len() && cy[lo].0 + cy[lo].1.len() <= r {
                lo += 1;
            }
            for (y, (ymin, taps)) in cy.iter().enumerate().skip(lo) {
                if *ymin > r {
                    break;
                }
                let t = i64::from(taps[r - ymin]);
                for (a, &v) in acc[y * row_len..(y + 1) * row_len].iter_mut().zip(&line) {
                    *a += i64::from(v) * t;
                }
            }
        }
        for (o, a) in out.iter_mut().zip(acc) {
            *o = clip8(a);
        }
    }
    RgbImage::from_raw(window.0, window.1, out).expect("buffer sized window width*height*3")
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::Rgb;

    #[test]
    fn torchvision_resize_and_crop_geometry() {
        let p = Preprocess::imagenet();
        let g = p.geometry(640, 480);
        assert_eq!(g.resized, (341, 256));
        assert_eq!(g.crop_origin, (58, 16));
        assert_eq!(g.crop_size, (224, 224));
        // (257 - 224) / 2 = 16.5 rounds to the even 16, as Python's round does.
        assert_eq!(round_half_even(16.5), 16);
        assert_eq!(round_half_even(17.5), 18);
        assert_eq!(round_half_even(3.2), 3);
    }

    #[test]
    fn stretched_geometry_resizes_the_whole_image_without_a_crop() {
        let g = Geometry::stretched((640, 480), (224, 224));
        assert_eq!((g.resized, g.crop_origin, g.crop_size), ((224, 224), (0, 0), (224, 224)));
        assert_eq!(g.crop_in_original(), (0.0, 0.0, 640.0, 480.0));
        let mut img = RgbImage::from_pixel(40, 10, Rgb([0, 0, 0]));
        img.put_pixel(0, 0, Rgb([255, 255, 255]));
        let view = Geometry::stretched((40, 10), (8, 8)).view(&img);
        assert_eq!(view.dimensions(), (8, 8));
        assert!(view.get_pixel(0, 0).0[0] > 0, "the left edge is kept, not cropped away");
        let p = Preprocess::imagenet();
        assert_eq!(p.geometry(40, 10).view(&img), p.model_view(&img));
    }

    #[test]
    fn pil_resize_keeps_constant_images_and_averages_on_halving() {
        let flat = RgbImage::from_pixel(9, 7, Rgb([10, 200, 255]));
        let r = resize_bilinear_pil(&flat, 4, 13);
        assert!(r.pixels().all(|p| p.0 == [10, 200, 255]));
        let mut stripes = RgbImage::new(4, 1);
        for x in 0..4 {
            stripes.put_pixel(x, 0, Rgb([if x % 2 == 0 { 0 } else { 100 }; 3]));
        }
        // Halving stretches the triangle filter to support 2: output 0 (centre 1.0) weighs inputs
        // 0, 1, 2 by .75, .75, .25 and output 1 (centre 3.0) inputs 1, 2, 3 by .25, .75, .75,
        // normalised: 100 * .75 / 1.75 = 42.9 and 100 * 1.0 / 1.75 = 57.1 (checked against PIL).
        let half = resize_bilinear_pil(&stripes, 2, 1);
        assert_eq!(half.get_pixel(0, 0).0[0], 43);
        assert_eq!(half.get_pixel(1, 0).0[0], 57);
    }

    #[test]
    fn a_window_of_the_resize_is_the_crop_of_the_whole_resize() {
        let img = RgbImage::from_fn(37, 23, |x, y| Rgb([(x * 7 + y * 3) as u8, (x * y) as u8, ((x ^ y) * 5) as u8]));
        // Downscale, upscale, one axis each way, one axis unchanged, the whole image.
        for (size, origin, window) in [
            ((20, 9), (3, 2), (12, 6)),
            ((80, 61), (11, 30), (40, 31)),
            ((16, 50), (2, 7), (12, 30)),
            ((37, 11), (5, 0), (30, 11)),
            ((90, 23), (40, 4), (50, 12)),
            ((37, 23), (0, 0), (37, 23)),
        ] {
            let whole = resize_bilinear_pil(&img, size.0, size.1);
            let crop = image::imageops::crop_imm(&whole, origin.0, origin.1, window.0, window.1).to_image();
            assert_eq!(resize_bilinear_pil_window(&img, size, origin, window), crop, "{size:?} {origin:?} {window:?}");
        }
        assert_eq!(resize_bilinear_pil_window(&img, (10, 10), (0, 0), (0, 4)).dimensions(), (0, 4));
    }

    #[test]
    fn slivers_resize_to_a_model_input_without_overflow() {
        let p = Preprocess::imagenet();
        let g = p.geometry(20_000_000, 1);
        assert_eq!((g.resized, g.crop_size), ((u32::MAX, 256), (224, 224)), "the long side saturates");
        let sliver = RgbImage::from_fn(30_000, 1, |x, _| Rgb([(x % 256) as u8, 0, 0]));
        assert_eq!(p.model_view(&sliver).dimensions(), (224, 224));
    }

    #[test]
    fn normalize_and_tensor_shape() {
        let p = Preprocess { resize: 0, crop: 0, mean: [0.5; 3], std: [0.5; 3] };
        let img = RgbImage::from_pixel(3, 2, Rgb([255, 0, 51]));
        let v = p.normalize(&p.model_view(&img));
        assert_eq!(v.len(), 18);
        assert!((v[0] - 1.0).abs() < 1e-6 && (v[6] + 1.0).abs() < 1e-6 && (v[12] + 0.6).abs() < 1e-6);
        assert!(Preprocess { std: [0.0, 1.0, 1.0], ..p.clone() }.validate().is_err());
    }

    #[test]
    fn rejects_non_images_and_truncated_files() {
        let junk = decode_image_bytes(b"definitely not an image", Path::new("junk.bin"));
        assert!(matches!(junk, Err(LanternError::Image { .. })), "{junk:?}");
        let mut png = Vec::new();
        RgbImage::from_pixel(32, 32, Rgb([1, 2, 3]))
            .write_to(&mut Cursor::new(&mut png), image::ImageFormat::Png)
            .unwrap();
        let truncated = decode_image_bytes(&png[..png.len() / 2], Path::new("half.png"));
        assert!(matches!(truncated, Err(LanternError::Image { .. })), "{truncated:?}");
        let whole = decode_image_bytes(&png, Path::new("ok.png")).unwrap();
        assert_eq!((whole.width(), whole.height(), whole.get_pixel(5, 7).0), (32, 32, [1, 2, 3]));
    }

    #[test]
    fn refuses_images_over_the_pixel_limit_from_the_header_alone() {
        // A BMP header claiming 20000 x 20000 pixels, with no pixel data behind it.
        let mut bmp = Vec::new();
        let (w, h) = (20_000i32, 20_000i32);
        bmp.extend_from_slice(b"BM");
        bmp.extend_from_slice(&(54u32 + 3).to_le_bytes());
        bmp.extend_from_slice(&[0; 4]);
        bmp.extend_from_slice(&54u32.to_le_bytes());
        bmp.extend_from_slice(&40u32.to_le_bytes());
        bmp.extend_from_slice(&w.to_le_bytes());
        bmp.extend_from_slice(&h.to_le_bytes());
        bmp.extend_from_slice(&1u16.to_le_bytes());
        bmp.extend_from_slice(&24u16.to_le_bytes());
        bmp.extend_from_slice(&[0; 24]);
        bmp.extend_from_slice(&[0; 3]);
        let r = decode_image_bytes(&bmp, Path::new("bomb.bmp"));
        assert!(matches!(r, Err(LanternError::ImageTooLarge { width: 20_000, .. })), "{r:?}");
    }
}
