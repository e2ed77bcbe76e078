//! A user's image file, as the explain and eval commands take it: decoded under the size limits
//! of `lantern::imaging`, then preprocessed into a model input with the ImageNet recipe (resize +
//! center crop) and with wsolevaluation's protocol (stretched to 224x224). Any panic or abort is
//! a finding; a clean `Err` is the expected answer to a bad file.

#![no_main]

use lantern::evaluation::Protocol;
use lantern::imaging::{Preprocess, decode_image_bytes};
use libfuzzer_sys::fuzz_target;
use std::path::Path;
use std::sync::LazyLock;

static DEVICE: LazyLock<burn::tensor::Device> = LazyLock::new(burn::tensor::Device::flex);

fuzz_target!(|data: &[u8]| {
    let Ok(image) = decode_image_bytes(data, Path::new("fuzz-input")) else { return };
    let pre = Preprocess::imagenet();
    let x = pre.tensor(&image, &DEVICE);
    assert_eq!(x.dims(), [1, 3, 224, 224]);
    let g = Protocol::Wsol.geometry(&pre, image.width(), image.height());
    let x = pre.view_tensor(&g.view(&image), &DEVICE);
    assert_eq!(x.dims(), [1, 3, 224, 224]);
});
