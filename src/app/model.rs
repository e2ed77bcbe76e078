//! What the app knows of the open model: where it comes from and what the views show about it.

use super::images::FileBytes;
use crate::error::{LanternError, Result};
use crate::imaging;
use crate::models::Network;
use crate::models::generator::Generator;
use std::path::{Path, PathBuf};

/// Where a model comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum ModelSource {
    Demo,
    File(PathBuf),
    /// A model file (ONNX or safetensors) given to the web page.
    Given(FileBytes),
}

impl ModelSource {
    /// The network on `device`: the bundled demo classifier, or the file's.
    pub fn load(&self, device: &burn::tensor::Device) -> Result<Network> {
        match self {
            ModelSource::Demo => crate::models::demo::network(device),
            ModelSource::File(p) => crate::models::load(p, None, device),
            ModelSource::Given(file) => crate::models::load_bytes(&file.name, &file.bytes, device),
        }
    }

    /// The weight-map generator for this model on `device`, checked against the classifier's
    /// hash: the file `installed` when one was installed (a training run's), else the bundled one
    /// for the demo or `<stem>.generator.safetensors` beside the weights file. Its name, or why
    /// there is none.
    pub fn generator(&self, installed: Option<&Path>, device: &burn::tensor::Device) -> Result<(String, Generator)> {
        let path = match (installed, self) {
            (Some(p), _) => p.to_path_buf(),
            (None, ModelSource::Demo) => {
                return crate::models::demo::generator(device).map(|g| ("bundled demo generator".to_string(), g));
            }
            (None, ModelSource::File(p)) => crate::models::generator::beside(p),
            (None, ModelSource::Given(file)) => {
                return Err(LanternError::Mismatch(format!(
                    "no generator for {}: a model given to the web page has no folder to find one in",
                    file.name
                )));
            }
        };
        if installed.is_none() && !path.is_file() {
            return Err(LanternError::Mismatch(format!(
                "no generator for this model: train one with `lantern train generator` (it is looked for as {})",
                path.display()
            )));
        }
        let sha = match self {
            ModelSource::Demo => crate::digest::sha256_hex(crate::models::demo::WEIGHTS),
            ModelSource::File(p) => crate::digest::sha256_file(p).map_err(|e| LanternError::io(p, e))?,
            ModelSource::Given(file) => crate::digest::sha256_hex(&file.bytes),
        };
        let g = Generator::load_for(&path, &sha, device)?;
        Ok((path.file_name().map_or_else(String::new, |f| f.to_string_lossy().into_owned()), g))
    }
}

/// What the UI shows about a loaded model.
#[derive(Debug, Clone)]
pub struct ModelInfo {
    pub name: String,
    pub arch: String,
    pub classes: usize,
    pub labels: Vec<String>,
    pub layers: Vec<String>,
    pub default_layer: String,
    pub cam_layer: Option<String>,
    pub preprocess: imaging::Preprocess,
    pub output: crate::models::OutputKind,
    /// BoostLU's `alpha` of a class-activation-map head (1: none); `None` without such a head.
    pub boost: Option<f32>,
    /// The weight-map generator found for the model (its name), or why there is none.
    pub generator: Result<String, String>,
    /// An ONNX model's layers as a tree: per top-level module, each layer's name and its shape
    /// and layout (empty for the hand-written networks, whose layers are a short list).
    pub layer_tree: Vec<(String, Vec<(String, String)>)>,
    /// An ONNX model whose metadata does not say how it reads images: the app asks once.
    pub asks_preprocess: bool,
    /// Methods that cannot run on this model, with why ([`crate::explain::unavailable`]).
    pub unavailable: Vec<(crate::explain::Method, String)>,
}

/// The open model: its id in the app, where it comes from, and what is known of it once loaded.
#[derive(Default)]
pub struct ModelState {
    pub id: u64,
    pub source: Option<ModelSource>,
    pub info: Option<ModelInfo>,
    pub loading: bool,
    /// The generator file installed for this model by a training run, which replaces the one
    /// found at load ([`ModelSource::generator`]).
    pub installed_generator: Option<PathBuf>,
}
