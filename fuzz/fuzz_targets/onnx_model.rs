//! A user's ONNX file: the bytes are parsed and checked (`proto::parse`, no external data
//! allowed), then planned and dry-run on a zero image by `OnnxNet::from_model`, the path every
//! `.onnx` file takes in the CLI and the app. `OnnxNet::open` guards that path against panics;
//! the target calls it unguarded, so any panic or abort is a finding.

#![no_main]

use burn::tensor::Device;
use lantern::models::onnx::{OnnxNet, proto};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(model) = proto::parse(data, None) {
        let _ = OnnxNet::from_model(model, &Device::flex());
    }
});
