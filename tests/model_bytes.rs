//! Model files given as bytes, as the web page gets them (dropped or picked, never a path):
//! `models::load_bytes` opens an ONNX graph and safetensors weights as the same model their file
//! opens as, and refuses what cannot be read from memory with the reason.

mod common;

use burn::tensor::{Device, Tensor, TensorData};
use common::fixtures;
use lantern::error::LanternError;
use lantern::models::{self, Network, network::host_values};
use std::path::{Path, PathBuf};

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// The logits of `net` on a fixed input of its size.
fn logits(net: &Network, size: usize) -> Vec<f32> {
    let values: Vec<f32> = (0..3 * size * size).map(|i| ((i * 37 % 101) as f32 / 50.0) - 1.0).collect();
    host_values(net.forward(Tensor::from_data(TensorData::new(values, [1, 3, size, size]), &Device::flex())))
}

/// `path` opened from its file and from its bytes under its file name.
fn both(path: &Path) -> (Network, Network) {
    let device = Device::flex();
    let file = models::load(path, None, &device).unwrap();
    let name = path.file_name().unwrap().to_string_lossy();
    let bytes = models::load_bytes(&name, &std::fs::read(path).unwrap(), &device).unwrap();
    (file, bytes)
}

#[test]
fn an_onnx_model_from_its_bytes_is_the_model_its_file_opens_as() {
    for (path, size) in [(repo("assets/demo/lantern_vit.onnx"), 64), (fixtures().join("onnx/resnet.onnx"), 32)] {
        let (file, bytes) = both(&path);
        assert_eq!(bytes.arch, file.arch);
        assert_eq!(bytes.preprocess, file.preprocess, "{}: metadata's preprocessing", path.display());
        assert_eq!(bytes.output, file.output);
        let labels = |n: &Network| (0..n.classes()).map(|c| n.labels.name(c)).collect::<Vec<_>>();
        assert_eq!(labels(&bytes), labels(&file));
        let (a, b) = (logits(&file, size), logits(&bytes, size));
        assert_eq!(a.len(), file.classes());
        assert_eq!(a, b, "{}: the same graph and weights give the same logits", path.display());
    }
    let vit = models::load_bytes(
        "lantern_vit.onnx",
        &std::fs::read(repo("assets/demo/lantern_vit.onnx")).unwrap(),
        &Device::flex(),
    )
    .unwrap();
    assert_eq!(vit.arch, "onnx:lantern_vit");
    assert_eq!(vit.labels.name(0), "circle", "class names from the graph's metadata");
}

#[test]
fn safetensors_weights_from_their_bytes_are_the_model_their_file_opens_as() {
    let (file, bytes) = both(&repo("assets/demo/lantern_cnn.safetensors"));
    assert_eq!(bytes.arch, file.arch);
    assert_eq!(logits(&file, 112), logits(&bytes, 112));
}

#[test]
fn what_memory_cannot_hold_is_refused_with_the_reason() {
    let device = Device::flex();
    let reason = |name: &str, bytes: &[u8]| match models::load_bytes(name, bytes, &device) {
        Err(LanternError::ModelFile { reason, .. }) => reason,
        Err(e) => panic!("{name}: refused as {e:?}, not as a model file"),
        Ok(_) => panic!("{name} opened"),
    };
    // A PyTorch checkpoint (a zip): burn-store reads its tensors from a file only.
    let pth = std::fs::read(fixtures().join("fuzz/state_dict/hostile/truncated_zip.pth")).unwrap();
    let why = reason("weights.pth", &pth);
    assert!(why.contains("PyTorch checkpoint") && why.contains("ONNX"), "{why}");
    // An ONNX graph whose weights live in a file beside it: there is no folder to read it from.
    let onnx = std::fs::read(fixtures().join("onnx/resnet50_seeded.onnx")).unwrap();
    let why = reason("resnet50_seeded.onnx", &onnx);
    assert!(why.contains("external"), "{why}");
    // Neither format.
    let why = reason("notes.safetensors", b"just some text, not a model");
    assert!(why.contains("not a safetensors file"), "{why}");
    let why = reason("random.onnx", &[0xff; 64]);
    assert!(why.contains("not an ONNX model"), "{why}");
}
