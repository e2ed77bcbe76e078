//! How an image and its ground truth become the frame the model sees.
//!
//! * **wsol** (default for datasets with ground truth) is clovaai/wsolevaluation's evaluation
//!   protocol (Choe et al., CVPR 2020): the whole image resized to `S x S` with no crop
//!   (torchvision `Resize((S, S))`, PIL bilinear), boxes scaled corner by corner as its
//!   `resize_bbox` does, `int(x * S / width)`, and masks resized with OpenCV's `INTER_NEAREST`,
//!   as its `load_mask_image` does. `S` is the model's input side (224 for the ImageNet models,
//!   wsolevaluation's `_RESIZE_LENGTH`).
//! * **crop** is the model's own classification recipe: shorter side resized, center crop. Boxes
//!   are cut by the crop and masks cropped, with the same resampling rules.
//!
//! The model's normalisation (mean, std) applies under both.

use crate::datasets::Sample;
use crate::error::{LanternError, Result};
use crate::imaging::{Geometry, Preprocess};
use crate::map::PixelBox;
use image::GrayImage;
use serde::{Deserialize, Serialize};

/// wsolevaluation's frame side when the model does not fix one.
const WSOL_SIDE: u32 = 224;

crate::names::named_enum! {
    /// Which frame `lantern eval` evaluates in.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
    #[serde(rename_all = "lowercase")]
    pub enum Protocol ("protocol") {
        /// wsolevaluation's: the image stretched to a square of the model's side.
        Wsol = "wsol",
        /// The model's own preprocessing (resize and centre crop).
        Crop = "crop",
    }
}

impl Protocol {
    /// The model input's frame for a `width x height` image.
    pub fn geometry(self, pre: &Preprocess, width: u32, height: u32) -> Geometry {
        match self {
            Self::Wsol => {
                let side = wsol_side(pre);
                Geometry::stretched((width, height), (side, side))
            }
            Self::Crop => pre.geometry(width, height),
        }
    }

    /// One sentence for the report header.
    pub fn describe(self, pre: &Preprocess) -> String {
        match self {
            Self::Wsol => {
                let s = wsol_side(pre);
                format!(
                    "wsolevaluation's: every image resized to {s}x{s} with no crop, boxes and masks scaled to it (nearest for masks); the model's mean/std normalisation"
                )
            }
            Self::Crop => {
                let resize = if pre.resize > 0 {
                    format!("shorter side resized to {}", pre.resize)
                } else {
                    "size kept".to_string()
                };
                let crop = if pre.crop > 0 { format!("center crop {0}x{0}", pre.crop) } else { "no crop".to_string() };
                format!(
                    "the model's recipe: {resize}, {crop}, boxes and masks cut by the crop (nearest for masks); the model's mean/std normalisation"
                )
            }
        }
    }
}

/// The model's input side: its crop, else its resize, else wsolevaluation's 224.
fn wsol_side(pre: &Preprocess) -> u32 {
    [pre.crop, pre.resize].into_iter().find(|&s| s > 0).unwrap_or(WSOL_SIDE)
}

/// Ground truth in the model input's frame.
pub struct Truth {
    pub boxes: Vec<PixelBox>,
    /// 1 foreground, 0 background, per model-input pixel.
    pub mask: Option<Vec<u8>>,
}

/// wsolevaluation's `resize_bbox` on one coordinate: `int(x * new / old)`, in that order, then
/// the crop offset removed.
fn scale(x: u32, new: u32, old: u32, offset: u32) -> f64 {
    (f64::from(x) * f64::from(new) / f64::from(old)).trunc() - f64::from(offset)
}

/// Move a sample's boxes and mask from the original image into the frame `g`.
pub fn truth_in_view(sample: &Sample, g: &Geometry) -> Result<Truth> {
    let (cw, ch) = g.crop_size;
    let boxes = sample
        .boxes
        .iter()
        .filter_map(|b| {
            let x0 = scale(b.x0, g.resized.0, g.original.0, g.crop_origin.0);
            let y0 = scale(b.y0, g.resized.1, g.original.1, g.crop_origin.1);
            let x1 = scale(b.x1, g.resized.0, g.original.0, g.crop_origin.0);
            let y1 = scale(b.y1, g.resized.1, g.original.1, g.crop_origin.1);
            if x1 < 0.0 || y1 < 0.0 || x0 >= f64::from(cw) || y0 >= f64::from(ch) {
                return None;
            }
            crate::datasets::clamp_box(x0, y0, x1, y1, cw, ch)
        })
        .collect();
    let mask = match &sample.mask {
        None => None,
        Some(source) => {
            let m: GrayImage = source.load()?;
            if m.dimensions() != g.original {
                return Err(LanternError::Mismatch(format!(
                    "{}: mask is {}x{}, the image {}x{}",
                    sample.id,
                    m.width(),
                    m.height(),
                    g.original.0,
                    g.original.1
                )));
            }
            let resized = resize_nearest_opencv(&m, g.resized.0, g.resized.1);
            let view = image::imageops::crop_imm(&resized, g.crop_origin.0, g.crop_origin.1, cw, ch).to_image();
            Some(view.pixels().map(|p| u8::from(p.0[0] > 127)).collect())
        }
    };
    Ok(Truth { boxes, mask })
}

/// OpenCV's `resize(..., INTER_NEAREST)`: output pixel `x` takes input pixel
/// `min(floor(x * (1 / (out / in))), in - 1)`, the scale inverted as OpenCV does (not centred,
/// and not `x * in / out`, which differs in the last bit for some sizes).
pub fn resize_nearest_opencv(image: &GrayImage, width: u32, height: u32) -> GrayImage {
    let (iw, ih) = image.dimensions();
    let index = |out: u32, size_in: u32, size_out: u32| {
        let inverse = 1.0 / (f64::from(size_out) / f64::from(size_in));
        ((f64::from(out) * inverse).floor() as u32).min(size_in - 1)
    };
    let xs: Vec<u32> = (0..width).map(|x| index(x, iw, width)).collect();
    GrayImage::from_fn(width, height, |x, y| *image.get_pixel(xs[x as usize], index(y, ih, height)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::datasets::MaskSource;
    use serde_json::Value;
    use std::path::PathBuf;

    fn fixtures() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/wsol_protocol")
    }

    /// Image, boxes and mask against wsolevaluation's own `resize_bbox` and `load_mask_image` and
    /// torchvision's `Resize((224, 224))` (tests/reference/make_wsol_protocol_fixtures.py).
    #[test]
    fn wsol_frame_matches_wsolevaluation_and_torchvision() {
        let dir = fixtures();
        let expected: Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("expected.json")).unwrap()).unwrap();
        let pre = Preprocess::imagenet();
        let px = |v: &Value| -> Vec<[u32; 4]> {
            v.as_array().unwrap().iter().map(|b| std::array::from_fn(|i| b[i].as_u64().unwrap() as u32)).collect()
        };
        for s in expected["samples"].as_array().unwrap() {
            let name = s["name"].as_str().unwrap();
            let image = crate::imaging::load_image(&dir.join(format!("{name}.png"))).unwrap();
            let g = Protocol::Wsol.geometry(&pre, image.width(), image.height());
            let torchvision = image::open(dir.join(format!("{name}_224.png"))).unwrap().into_rgb8();
            assert!(g.view(&image) == torchvision, "{name}: the 224x224 view differs from torchvision's");
            let sample = Sample {
                id: name.into(),
                image: dir.join(format!("{name}.png")),
                class: None,
                boxes: px(&s["boxes"]).iter().map(|b| PixelBox { x0: b[0], y0: b[1], x1: b[2], y1: b[3] }).collect(),
                mask: Some(MaskSource::File(dir.join(format!("{name}_mask.png")))),
            };
            let truth = truth_in_view(&sample, &g).unwrap();
            let got: Vec<[u32; 4]> = truth.boxes.iter().map(|b| [b.x0, b.y0, b.x1, b.y1]).collect();
            assert_eq!(got, px(&s["resized_boxes"]), "{name}: boxes");
            let reference = image::open(dir.join(format!("{name}_mask_224.png"))).unwrap().into_luma8();
            let want: Vec<u8> = reference.pixels().map(|p| u8::from(p.0[0] > 0)).collect();
            let mask = truth.mask.unwrap();
            let wrong = mask.iter().zip(&want).filter(|(a, b)| a != b).count();
            assert_eq!(wrong, 0, "{name}: {wrong} mask pixels differ from OpenCV's INTER_NEAREST");
            assert!(want.contains(&1) && want.contains(&0), "{name}: the mask has both classes");
        }
    }

    #[test]
    fn crop_protocol_cuts_boxes_by_the_center_crop() {
        let pre = Preprocess { resize: 100, crop: 100, mean: [0.0; 3], std: [1.0; 3] };
        // 200x100: the crop keeps x 50..150 of the 200-wide resized image (no scaling).
        let g = Protocol::Crop.geometry(&pre, 200, 100);
        assert_eq!((g.resized, g.crop_origin, g.crop_size), ((200, 100), (50, 0), (100, 100)));
        let sample =
            |b: PixelBox| Sample { id: "a".into(), image: PathBuf::new(), class: None, boxes: vec![b], mask: None };
        let left = truth_in_view(&sample(PixelBox { x0: 0, y0: 10, x1: 40, y1: 20 }), &g).unwrap();
        assert!(left.boxes.is_empty(), "a box left of the crop is dropped");
        let cut = truth_in_view(&sample(PixelBox { x0: 30, y0: 10, x1: 80, y1: 20 }), &g).unwrap();
        assert_eq!(cut.boxes, vec![PixelBox { x0: 0, y0: 10, x1: 30, y1: 20 }]);
        let w = Protocol::Wsol.geometry(&pre, 200, 100);
        let whole = truth_in_view(&sample(PixelBox { x0: 0, y0: 10, x1: 40, y1: 20 }), &w).unwrap();
        assert_eq!(whole.boxes, vec![PixelBox { x0: 0, y0: 10, x1: 20, y1: 20 }], "wsol keeps it, scaled by 100/200");
        assert!(Protocol::Crop.describe(&pre).contains("shorter side resized to 100, center crop 100x100"));
        assert!(Protocol::Wsol.describe(&pre).contains("100x100 with no crop"));
        assert_eq!("WSOL".parse::<Protocol>(), Ok(Protocol::Wsol));
        assert!("center".parse::<Protocol>().is_err());
    }

    #[test]
    fn opencv_nearest_takes_the_floor_of_the_inverted_scale() {
        let src = GrayImage::from_fn(36, 1, |x, _| image::Luma([x as u8]));
        let got: Vec<u8> = resize_nearest_opencv(&src, 224, 1).pixels().map(|p| p.0[0]).collect();
        // Values of cv2.resize(np.arange(36, dtype=np.uint8)[None], (224, 1),
        // interpolation=cv2.INTER_NEAREST): at 168, 168 * (1 / (224 / 36)) = 26.999... gives 26
        // where 168 * 36 / 224 = 27 exactly; at 6, not centred ((6 + 0.5) * 36 / 224 -> 1).
        assert_eq!((got[6], got[12], got[168], got[223]), (0, 1, 26, 35));
    }
}
