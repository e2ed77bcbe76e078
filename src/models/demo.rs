//! The bundled demo: Lantern's small CNN trained on the procedural benchmark
//! (`assets/demo/README.md` has the exact command that made it) and a handful of held-out images
//! from that benchmark. The app opens on them; `lantern eval` uses the model by default.

use super::{Labels, Network, StateDict, build};
use crate::datasets::synth::SHAPES;
use crate::error::Result;
use burn::tensor::Device;

const WEIGHTS: &[u8] = include_bytes!("../../assets/demo/lantern_cnn.safetensors");

/// The demo images, by file name.
pub const IMAGES: [(&str, &[u8]); 6] = [
    ("star.png", include_bytes!("../../assets/demo/images/star.png")),
    ("ring.png", include_bytes!("../../assets/demo/images/ring.png")),
    ("triangle.png", include_bytes!("../../assets/demo/images/triangle.png")),
    ("cross.png", include_bytes!("../../assets/demo/images/cross.png")),
    ("circle.png", include_bytes!("../../assets/demo/images/circle.png")),
    ("square.png", include_bytes!("../../assets/demo/images/square.png")),
];

/// The demo classifier on `device`, with the shape names as labels.
pub fn network(device: &Device) -> Result<Network> {
    let dict = StateDict::from_safetensors_bytes(WEIGHTS, "bundled demo classifier")?;
    let mut net = build(&dict, "lantern_cnn", device)?;
    net.labels = Labels::from_names(SHAPES.iter().map(|s| s.to_string()).collect());
    Ok(net)
}
