//! Classifiers Lantern can explain: loading torchvision-style weights into the shared
//! [`Network`] graph, architecture detection and class labels.

pub mod attributes;
pub mod demo;
pub mod detect;
pub mod efficientnet_lite;
pub mod embedding;
pub mod generator;
pub mod init;
pub mod labels;
pub mod lantern_cnn;
pub mod layers;
pub mod metadata;
pub mod mobilenet_v2;
pub mod network;
pub mod onnx;
pub mod plan;
pub mod resnet;
pub mod scores;
pub mod state_dict;
pub mod vgg;

pub use detect::{ARCHITECTURES, detect};
pub use labels::Labels;
pub use network::{LayerInfo, Network};
pub use scores::OutputKind;
pub use state_dict::StateDict;

use crate::error::{LanternError, Result};
use burn::tensor::Device;
use state_dict::Loader;
use std::path::Path;

/// Build architecture `arch` from a state dict, run as its metadata says (output kind, BoostLU,
/// see [`metadata`]); every missing, unexpected or misshapen tensor is reported in one error.
pub fn build(dict: &StateDict, arch: &str, device: &Device) -> Result<Network> {
    check_arch(arch)?;
    let classes =
        dict.shape(detect::classifier_key(arch)).and_then(|s| s.first().copied()).filter(|&c| c > 0).unwrap_or(1000);
    let loader = Loader::new(dict, device);
    let network = build_with(&loader, arch, classes)?;
    loader.finish(arch)?;
    metadata::RunAs::read(&dict.metadata)?.apply(network)
}

fn check_arch(arch: &str) -> Result<()> {
    if ARCHITECTURES.contains(&arch) {
        return Ok(());
    }
    Err(LanternError::BadArgument(format!(
        "unknown architecture '{arch}' (choose one of {})",
        ARCHITECTURES.join(", ")
    )))
}

fn build_with(loader: &Loader, arch: &str, classes: usize) -> Result<Network> {
    Ok(if let Some(config) = resnet::ResNetConfig::named(arch) {
        resnet::build(arch, config, loader, classes)?
    } else if let Some(rest) = arch.strip_prefix("vgg") {
        let (depth, bn) = match rest.strip_suffix("_bn") {
            Some(d) => (d, true),
            None => (rest, false),
        };
        let items = depth.parse().ok().and_then(vgg::config).expect("listed VGG depth");
        vgg::build(arch, items, bn, loader, classes)?
    } else if arch == "mobilenet_v2" {
        mobilenet_v2::build(loader, classes)?
    } else if arch == "lantern_cnn" {
        lantern_cnn::build(loader, classes)?
    } else if arch == embedding::ARCH {
        embedding::build(loader, classes)?
    } else if arch == attributes::ARCH {
        attributes::build(loader, classes)?
    } else {
        efficientnet_lite::build(loader, classes)?
    })
}

/// The extensions of the model files Lantern opens.
pub const EXTENSIONS: [&str; 4] = ["pth", "pt", "safetensors", "onnx"];
/// Those it opens from memory ([`load_bytes`], the web page): a PyTorch checkpoint needs its file.
pub const BYTES_EXTENSIONS: [&str; 2] = ["safetensors", "onnx"];

/// Whether `path` names a model file (by its extension).
pub fn is_model_file(path: &Path) -> bool {
    path.extension().and_then(|e| e.to_str()).is_some_and(|e| EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

/// Whether `path` names an ONNX model (by its extension).
pub fn is_onnx(path: &Path) -> bool {
    path.extension().is_some_and(|e| e.eq_ignore_ascii_case("onnx"))
}

/// The `(key, shape)` layout of an architecture's state dict with `classes` outputs.
pub fn layout(arch: &str, classes: usize) -> Result<Vec<(String, Vec<usize>)>> {
    check_arch(arch)?;
    let key = detect::classifier_key(arch).to_string();
    let probe = StateDict::from_tensors(
        [(key, state_dict::RawTensor { shape: vec![classes, 1], values: vec![0.0; classes] })].into(),
    );
    let loader = Loader::new(&probe, &Device::flex());
    build_with(&loader, arch, classes)?;
    Ok(loader.requested())
}

/// Load a model file given as bytes (a file dropped on the web page, which has no path): an
/// ONNX graph, or safetensors weights whose architecture is detected and built on `device`
/// (ImageNet's labels for 1000 classes). PyTorch checkpoints are refused
/// ([`StateDict::from_safetensors_bytes`] says why).
pub fn load_bytes(name: &str, bytes: &[u8], device: &Device) -> Result<Network> {
    let path = Path::new(name);
    if is_onnx(path) {
        return from_onnx(onnx::open_bytes(name, bytes, device)?);
    }
    let dict = StateDict::from_safetensors_bytes(bytes, name)?;
    let arch = detect(&dict)?;
    let mut network = build(&dict, &arch, device)?;
    network.labels = Labels::for_model(path, network.classes())?;
    Ok(network)
}

/// The `Network` of an opened ONNX model.
fn from_onnx(opened: onnx::Opened) -> Result<Network> {
    let mut network =
        Network::from_onnx(std::sync::Arc::new(opened.net), opened.preprocess, opened.labels, opened.arch)?;
    network.output = opened.output;
    Ok(network)
}

/// Load a weights file: detect its architecture (or use `arch`), build it on `device` and attach
/// its labels.
pub fn load(path: &Path, arch: Option<&str>, device: &Device) -> Result<Network> {
    if is_onnx(path) {
        if let Some(a) = arch {
            return Err(LanternError::BadArgument(format!(
                "--arch {a} does not apply to an ONNX model: its graph says what it is"
            )));
        }
        return from_onnx(onnx::open_file(path, device)?);
    }
    let dict = StateDict::load(path)?;
    let arch = match arch {
        Some(a) => a.to_string(),
        None => detect(&dict)?,
    };
    let mut network = build(&dict, &arch, device)?;
    network.labels = Labels::for_model(path, network.classes())?;
    Ok(network)
}
