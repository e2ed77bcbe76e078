//! The bundled demo: Lantern's small CNN trained on the procedural benchmark
//! (`assets/demo/README.md` has the exact command that made it) and a handful of held-out images
//! from that benchmark. The app opens on them; `lantern eval` uses the model by default.

use super::{Labels, Network, StateDict, build};
use crate::error::Result;
use burn::tensor::Device;

/// The demo classifier's safetensors bytes.
pub const WEIGHTS: &[u8] = include_bytes!("../../assets/demo/lantern_cnn.safetensors");
/// The weight-map generator trained for the demo classifier (`assets/demo/README.md` has the
/// command that made it).
pub const GENERATOR: &[u8] = include_bytes!("../../assets/demo/lantern_cnn.generator.safetensors");
/// The class names, one per line, as `lantern train classifier` wrote them beside the weights.
const LABELS: &str = include_str!("../../assets/demo/lantern_cnn.labels.txt");
/// The demo embedding model (`lantern train embedding`, see `assets/demo/README.md`).
pub const EMBEDDING: &[u8] = include_bytes!("../../assets/demo/lantern_embedding.safetensors");
/// The demo attribute model (`lantern train attributes` on the demo embedding's saliency).
pub const ATTRIBUTES: &[u8] = include_bytes!("../../assets/demo/lantern_attributes.safetensors");
/// The attribute values' names (`colour=red`, ...), as `lantern train attributes` wrote them.
const ATTRIBUTE_LABELS: &str = include_str!("../../assets/demo/lantern_attributes.labels.txt");

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
    net.labels = Labels::from_names(LABELS.lines().map(str::to_string).collect());
    Ok(net)
}

/// The demo embedding model on `device`.
pub fn embedding(device: &Device) -> Result<Network> {
    let dict = StateDict::from_safetensors_bytes(EMBEDDING, "bundled demo embedding model")?;
    build(&dict, super::embedding::ARCH, device)
}

/// The demo attribute model on `device`, with the attribute values' names as labels.
pub fn attributes(device: &Device) -> Result<Network> {
    let dict = StateDict::from_safetensors_bytes(ATTRIBUTES, "bundled demo attribute model")?;
    let mut net = build(&dict, super::attributes::ARCH, device)?;
    net.labels = Labels::from_names(ATTRIBUTE_LABELS.lines().map(str::to_string).collect());
    Ok(net)
}

/// The demo generator on `device`, checked against the demo classifier.
pub fn generator(device: &Device) -> Result<super::generator::Generator> {
    let name = std::path::Path::new("bundled demo generator");
    let g = super::generator::Generator::from_bytes(GENERATOR.to_vec(), name, device)?;
    g.check_classifier(&crate::digest::sha256_hex(WEIGHTS), name)?;
    Ok(g)
}

#[cfg(test)]
mod tests {
    #[test]
    fn labels_are_the_benchmark_shapes_in_class_order() {
        let labels: Vec<&str> = super::LABELS.lines().collect();
        assert_eq!(labels, crate::datasets::synth::SHAPES);
    }

    #[test]
    fn the_bundled_similarity_models_load_with_their_outputs() {
        let device = burn::tensor::Device::flex();
        let e = super::embedding(&device).unwrap();
        assert_eq!(e.output, crate::models::OutputKind::Embedding);
        let a = super::attributes(&device).unwrap();
        assert_eq!(a.labels.len(), a.classes());
        assert_eq!(a.labels.name(0), "colour=red");
    }

    #[test]
    fn the_bundled_generator_was_trained_for_the_bundled_classifier() {
        let g = super::generator(&burn::tensor::Device::flex()).unwrap();
        assert_eq!(g.meta.classifier_arch, "lantern_cnn");
        assert_eq!(g.meta.input_size, 112);
    }
}
