//! Every hand-written architecture as a network to compare paths on: seeded weights, or the
//! bundled demo models for the families whose layout depends on their file.

use burn::tensor::Device;
use lantern::models::{self, Network, StateDict};

/// `arch` on the CPU, seeded weights (10 classes) or its bundled demo model.
pub fn network(arch: &str) -> Network {
    let device = Device::flex();
    match arch {
        "lantern_cnn" => models::demo::network(&device).unwrap(),
        a if a == models::embedding::ARCH => models::demo::embedding(&device).unwrap(),
        a if a == models::attributes::ARCH => models::demo::attributes(&device).unwrap(),
        _ => models::build(&StateDict::seeded(&models::layout(arch, 10).unwrap(), 7), arch, &device).unwrap(),
    }
}
