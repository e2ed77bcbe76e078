//! The weight-map generator of seed paper 000 ("Learning a Weight Map for Weakly-Supervised
//! Localization"): a network that, given an image `I`, outputs a map `M(I)` in `[0, 1]` at the
//! input's resolution that localises the object, trained from class labels alone against a frozen
//! classifier `f` (see `train::generator` for the objectives).
//!
//! **Encoder: the classifier's own frozen features.** The encoder is `f`'s feature extractor, read
//! at several of its layers ("taps"); only the decoder is trained and stored. Reasons: training
//! needs `f(I)` anyway (its prediction, its embedding), so the encoder pass is already paid for;
//! inference is one classifier pass plus a small decoder; the generator can only localise what
//! the classifier's features tell apart, which is what an explanation of `f` should show; and a
//! trainable backbone would need several times the 30-minute CPU budget of the demo. The price:
//! a generator file works with the one classifier it was trained for, which its metadata names.
//!
//! **Decoder: U-Net style** (Ronneberger et al., MICCAI 2015). With taps `t_0` (finest) to
//! `t_{k-1}` (coarsest) and widths `w_{k-1}, ..., w_0` (coarsest first):
//!
//! ```text
//! h = CBR_{k-1}(t_{k-1})
//! h = CBR_j(concat(up(h, size(t_j)), t_j))      for j = k-2 .. 0      (skip connections)
//! M = sigmoid(conv1x1(up(h, size(I))))
//! ```
//!
//! where `CBR` is 3x3 convolution, BatchNorm, ReLU and `up` bilinear upsampling. The taps are
//! taken as computed by `f` in inference mode (BatchNorm folded), never differentiated.
//!
//! **File**: a `.safetensors` of the decoder's parameters (burn's names: `blocks.{j}.conv.weight`,
//! `blocks.{j}.bn.gamma`, ..., `head.weight`, `head.bias`) whose `__metadata__` header names the
//! classifier by the SHA-256 of its weights, its architecture, the input size, the taps and their
//! channels, the decoder widths, the objective and the training settings ([`GeneratorMeta`]).
//! Loading it for another classifier is refused ([`Generator::load_for`]).

use super::network::Network;
use crate::error::{LanternError, Result};
use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, PaddingConfig2d};
use burn::store::{ModuleSnapshot, SafetensorsStore};
use burn::tensor::activation::{relu, sigmoid};
use burn::tensor::module::interpolate;
use burn::tensor::ops::{InterpolateMode, InterpolateOptions};
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// BatchNorm's epsilon (PyTorch's default).
const EPS: f64 = 1e-5;
/// The metadata key that marks a Lantern generator file (its value: the format version).
const MARKER: &str = "lantern_generator";
const VERSION: &str = "1";

/// The shape of a generator: which classifier layers feed it and how wide its decoder is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GeneratorShape {
    /// Classifier layers read by the decoder, finest first (see [`Network::layers`]).
    pub taps: Vec<String>,
    /// Channels of each tap, in the same order.
    pub channels: Vec<usize>,
    /// Decoder widths, one per tap, finest first.
    pub widths: Vec<usize>,
}

impl GeneratorShape {
    /// Taps `taps` of `net` (default: every layer, finest first, one name per activation) with
    /// decoder widths `widths` (one per tap; default: a quarter of the tap's channels, at least 8).
    pub fn for_network(net: &Network, taps: Option<&[String]>, widths: Option<&[usize]>) -> Result<Self> {
        let layers: Vec<&super::LayerInfo> = match taps {
            Some(names) => names
                .iter()
                .map(|n| {
                    net.layers.iter().find(|l| &l.name == n || l.same_as.as_deref() == Some(n.as_str())).ok_or_else(
                        || LanternError::UnknownLayer {
                            layer: n.clone(),
                            available: net.layers.iter().map(|l| l.name.as_str()).collect::<Vec<_>>().join(", "),
                        },
                    )
                })
                .collect::<Result<_>>()?,
            None => {
                let mut seen = Vec::new();
                net.layers
                    .iter()
                    .filter(|l| {
                        if seen.contains(&l.cut) {
                            false
                        } else {
                            seen.push(l.cut);
                            true
                        }
                    })
                    .collect()
            }
        };
        if layers.is_empty() {
            return Err(LanternError::BadArgument("a generator needs at least one classifier layer to read".into()));
        }
        if layers.windows(2).any(|w| w[0].cut >= w[1].cut) {
            return Err(LanternError::BadArgument(
                "generator taps must be given finest (earliest) first, each once".into(),
            ));
        }
        let channels: Vec<usize> = layers.iter().map(|l| l.channels).collect();
        let widths = match widths {
            Some(w) if w.len() != layers.len() => {
                return Err(LanternError::BadArgument(format!(
                    "{} decoder widths for {} taps: give one per tap",
                    w.len(),
                    layers.len()
                )));
            }
            Some(w) if w.contains(&0) => {
                return Err(LanternError::BadArgument("decoder widths must be positive".into()));
            }
            Some(w) => w.to_vec(),
            None => channels.iter().map(|c| (c / 4).max(8)).collect(),
        };
        Ok(Self { taps: layers.iter().map(|l| l.name.clone()).collect(), channels, widths })
    }

    /// The stage cuts of the taps in `net`, checking that the net has them with these channels.
    pub fn cuts(&self, net: &Network) -> Result<Vec<usize>> {
        self.taps
            .iter()
            .zip(&self.channels)
            .map(|(name, &c)| {
                let layer = net.layers.iter().find(|l| &l.name == name).ok_or_else(|| {
                    LanternError::Mismatch(format!(
                        "the generator reads layer '{name}', which this classifier does not have"
                    ))
                })?;
                if layer.channels != c {
                    return Err(LanternError::Mismatch(format!(
                        "the generator expects {c} channels at '{name}', the classifier has {}",
                        layer.channels
                    )));
                }
                Ok(layer.cut)
            })
            .collect()
    }
}

/// 3x3 convolution (no bias), BatchNorm, ReLU.
#[derive(Module, Debug)]
pub struct ConvBnRelu {
    conv: Conv2d,
    bn: BatchNorm,
}

impl ConvBnRelu {
    fn new(cin: usize, cout: usize, device: &Device) -> Self {
        let conv = Conv2dConfig::new([cin, cout], [3, 3])
            .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
            .with_bias(false)
            .init(device);
        Self { conv, bn: BatchNormConfig::new(cout).with_epsilon(EPS).init(device) }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        relu(self.bn.forward(self.conv.forward(x)))
    }
}

/// The trainable decoder. `blocks[j]` is the block at tap `j` (finest first).
#[derive(Module, Debug)]
pub struct Decoder {
    blocks: Vec<ConvBnRelu>,
    head: Conv2d,
}

/// Bilinear resize of `x` to `size` (`[h, w]`), half-pixel centres (PyTorch's
/// `align_corners=False`); identity when the size already matches.
fn upsample(x: Tensor<4>, size: [usize; 2]) -> Tensor<4> {
    let [_, _, h, w] = x.dims();
    if [h, w] == size {
        return x;
    }
    let mut options = InterpolateOptions::new(InterpolateMode::Bilinear).with_output_size(size);
    options.align_corners = false;
    interpolate(x, options)
}

impl Decoder {
    /// A freshly initialised decoder of `shape` (burn's default initialisers).
    pub fn new(shape: &GeneratorShape, device: &Device) -> Self {
        let k = shape.taps.len();
        let blocks = (0..k)
            .map(|j| {
                let from_coarser = if j + 1 < k { shape.widths[j + 1] } else { 0 };
                ConvBnRelu::new(shape.channels[j] + from_coarser, shape.widths[j], device)
            })
            .collect();
        let head = Conv2dConfig::new([shape.widths[0], 1], [1, 1]).init(device);
        Self { blocks, head }
    }

    /// The map `[n, 1, size]` in `[0, 1]` from the taps (finest first).
    pub fn forward(&self, taps: Vec<Tensor<4>>, size: [usize; 2]) -> Tensor<4> {
        let mut taps = taps;
        let coarsest = taps.pop().expect("a generator has at least one tap");
        let mut h = self.blocks[taps.len()].forward(coarsest);
        while let Some(t) = taps.pop() {
            let [_, _, th, tw] = t.dims();
            h = self.blocks[taps.len()].forward(Tensor::cat(vec![upsample(h, [th, tw]), t], 1));
        }
        sigmoid(upsample(self.head.forward(h), size))
    }
}

/// The classifier's activations at `cuts` (ascending) for a batch `x`, and the output of its last
/// stage (what the head reads).
pub fn encode(net: &Network, x: Tensor<4>, cuts: &[usize]) -> (Vec<Tensor<4>>, Tensor<4>) {
    let mut taps = Vec::with_capacity(cuts.len());
    let mut h = x;
    let mut done = 0;
    for &cut in cuts {
        h = net.stages()[done..cut].iter().fold(h, |a, s| s.forward(a));
        done = cut;
        taps.push(h.clone());
    }
    let last = net.stages()[done..].iter().fold(h, |a, s| s.forward(a));
    (taps, last)
}

/// What a generator file says about itself (its safetensors `__metadata__`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GeneratorMeta {
    /// SHA-256 of the classifier's weights file (of the bundled bytes for the demo model).
    pub classifier_sha256: String,
    pub classifier_arch: String,
    /// The classifier's input side the generator was trained at.
    pub input_size: u32,
    pub shape: GeneratorShape,
    /// `classifier`, `siamese` or `both`.
    pub objective: String,
    /// The training settings, as JSON.
    pub training: serde_json::Value,
}

impl GeneratorMeta {
    fn to_entries(&self) -> Vec<(&'static str, String)> {
        vec![
            (MARKER, VERSION.to_string()),
            ("classifier_sha256", self.classifier_sha256.clone()),
            ("classifier_arch", self.classifier_arch.clone()),
            ("input_size", self.input_size.to_string()),
            ("taps", json(&self.shape.taps)),
            ("channels", json(&self.shape.channels)),
            ("widths", json(&self.shape.widths)),
            ("objective", self.objective.clone()),
            ("training", self.training.to_string()),
        ]
    }

    fn from_entries(m: &BTreeMap<String, String>, path: &Path) -> Result<Self> {
        let bad = |reason: String| LanternError::ModelFile { path: path.to_path_buf(), reason };
        let get = |key: &str| m.get(key).ok_or_else(|| bad(format!("generator metadata has no '{key}'")));
        match m.get(MARKER) {
            Some(v) if v == VERSION => {}
            Some(v) => return Err(bad(format!("generator file format {v}; this Lantern reads format {VERSION}"))),
            None => return Err(bad("not a Lantern weight-map generator (no 'lantern_generator' metadata)".into())),
        }
        fn parse<T: serde::de::DeserializeOwned>(key: &str, text: &str, path: &Path) -> Result<T> {
            serde_json::from_str(text).map_err(|e| LanternError::ModelFile {
                path: path.to_path_buf(),
                reason: format!("generator metadata '{key}': {e}"),
            })
        }
        let shape = GeneratorShape {
            taps: parse("taps", get("taps")?, path)?,
            channels: parse("channels", get("channels")?, path)?,
            widths: parse("widths", get("widths")?, path)?,
        };
        if shape.taps.is_empty() || shape.taps.len() != shape.channels.len() || shape.taps.len() != shape.widths.len() {
            return Err(bad(
                "generator metadata: taps, channels and widths must be non-empty lists of one length".into()
            ));
        }
        Ok(Self {
            classifier_sha256: get("classifier_sha256")?.clone(),
            classifier_arch: get("classifier_arch")?.clone(),
            input_size: parse("input_size", get("input_size")?, path)?,
            shape,
            objective: get("objective")?.clone(),
            training: parse("training", get("training")?, path)?,
        })
    }
}

/// A metadata list as JSON text.
fn json(list: &[impl Serialize]) -> String {
    serde_json::to_string(list).expect("plain lists serialise")
}

/// The `__metadata__` of safetensors bytes (an 8-byte little-endian header length, then a JSON
/// header whose optional `__metadata__` object maps strings to strings); `name` is for errors.
pub fn safetensors_metadata(bytes: &[u8], name: &Path) -> Result<BTreeMap<String, String>> {
    super::state_dict::metadata_of_bytes(bytes)
        .map_err(|reason| LanternError::ModelFile { path: name.to_path_buf(), reason })
}

/// A trained generator: its decoder and what it was trained for.
#[derive(Debug, Clone)]
pub struct Generator {
    pub decoder: Decoder,
    pub meta: GeneratorMeta,
}

impl Generator {
    /// Save the decoder (inference-mode copy) and the metadata to `path`, replacing it only once
    /// the new file is complete.
    pub fn save(decoder: &Decoder, meta: &GeneratorMeta, path: &Path) -> Result<()> {
        let mut store = SafetensorsStore::from_file(path).overwrite(true);
        for (key, value) in meta.to_entries() {
            store = store.metadata(key, value);
        }
        decoder.valid().save_into(&mut store).map_err(|e| LanternError::Internal(format!("{}: {e}", path.display())))
    }

    /// Read a generator file onto `device`, whatever classifier it was trained for.
    pub fn load(path: &Path, device: &Device) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|e| LanternError::io(path, e))?;
        Self::from_bytes(bytes, path, device)
    }

    /// A generator from the bytes of its file; `name` is for errors.
    pub fn from_bytes(bytes: Vec<u8>, name: &Path, device: &Device) -> Result<Self> {
        let meta = GeneratorMeta::from_entries(&safetensors_metadata(&bytes, name)?, name)?;
        let mut decoder = Decoder::new(&meta.shape, device);
        let mut store = SafetensorsStore::from_bytes(Some(bytes));
        let bad = |reason: String| LanternError::ModelFile { path: name.to_path_buf(), reason };
        let result = decoder.load_from(&mut store).map_err(|e| bad(e.to_string()))?;
        if !result.missing.is_empty() || !result.errors.is_empty() || !result.unused.is_empty() {
            let missing: Vec<&str> = result.missing.iter().map(|(p, _)| p.as_str()).collect();
            return Err(bad(format!(
                "the generator's tensors do not fit its metadata (missing {missing:?}, unexpected {:?}, {} errors)",
                result.unused,
                result.errors.len()
            )));
        }
        Ok(Self { decoder, meta })
    }

    /// Read a generator file and check it was trained for the classifier whose weights have
    /// SHA-256 `classifier_sha256`.
    pub fn load_for(path: &Path, classifier_sha256: &str, device: &Device) -> Result<Self> {
        let g = Self::load(path, device)?;
        g.check_classifier(classifier_sha256, path)?;
        Ok(g)
    }

    /// Refuse a classifier other than the one the generator was trained for.
    pub fn check_classifier(&self, classifier_sha256: &str, path: &Path) -> Result<()> {
        if self.meta.classifier_sha256 != classifier_sha256 {
            return Err(LanternError::Mismatch(format!(
                "{} was trained for another classifier ({} with SHA-256 {}), not this one (SHA-256 {})",
                path.display(),
                self.meta.classifier_arch,
                short(&self.meta.classifier_sha256),
                short(classifier_sha256)
            )));
        }
        Ok(())
    }

    /// The weight maps `[n, 1, h, w]` of a batch `x` of preprocessed inputs for classifier `net`.
    pub fn forward(&self, net: &Network, x: Tensor<4>) -> Result<Tensor<4>> {
        let cuts = self.meta.shape.cuts(net)?;
        let [_, _, h, w] = x.dims();
        let (taps, _) = encode(net, x, &cuts);
        Ok(self.decoder.forward(taps, [h, w]))
    }
}

/// The first 12 hex digits of a digest, for messages.
fn short(sha: &str) -> &str {
    &sha[..sha.len().min(12)]
}

/// Where a generator for the weights file `model` is looked for when none is named:
/// `<model stem>.generator.safetensors` beside it.
pub fn beside(model: &Path) -> std::path::PathBuf {
    let stem = model.file_stem().map_or_else(|| "model".into(), |s| s.to_string_lossy().into_owned());
    model.with_file_name(format!("{stem}.generator.safetensors"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::lantern_cnn::LanternCnn;
    use crate::models::network::host_values;
    use burn::tensor::TensorData;

    /// A tiny classifier with three blocks (two pools) and its inference network.
    fn tiny_classifier(dir: &Path) -> (Network, std::path::PathBuf) {
        let device = Device::flex().autodiff();
        let cnn = crate::models::init::seeded(&device, 3, || LanternCnn::new(&[4, 6, 8], 3, &device));
        let path = dir.join("tiny.safetensors");
        cnn.save(&path).unwrap();
        (crate::models::load(&path, None, &Device::flex()).unwrap(), path)
    }

    fn input(n: usize, side: usize) -> Tensor<4> {
        let values: Vec<f32> = (0..n * 3 * side * side).map(|i| ((i * 29 % 97) as f32 / 48.0) - 1.0).collect();
        Tensor::from_data(TensorData::new(values, [n, 3, side, side]), &Device::flex())
    }

    fn meta(net: &Network, shape: GeneratorShape) -> GeneratorMeta {
        GeneratorMeta {
            classifier_sha256: "ab".repeat(32),
            classifier_arch: net.arch.clone(),
            input_size: 24,
            shape,
            objective: "classifier".into(),
            training: serde_json::json!({"epochs": 1, "area": 0.5}),
        }
    }

    #[test]
    fn the_map_has_the_input_size_and_lies_in_the_unit_interval() {
        let dir = tempfile::tempdir().unwrap();
        let (net, _) = tiny_classifier(dir.path());
        let shape = GeneratorShape::for_network(&net, None, None).unwrap();
        assert_eq!(shape.taps, ["blocks.0", "blocks.1", "blocks.2"]);
        assert_eq!(shape.channels, [4, 6, 8]);
        assert_eq!(shape.widths, [8, 8, 8]);
        let decoder = crate::models::init::seeded(&Device::flex(), 1, || Decoder::new(&shape, &Device::flex()));
        let g = Generator { decoder, meta: meta(&net, shape) };
        // 26 is not a multiple of the pooling: the taps are 26, 13 and 6 pixels wide.
        let m = g.forward(&net, input(2, 26)).unwrap();
        assert_eq!(m.dims(), [2, 1, 26, 26]);
        let v = host_values(m);
        assert!(v.iter().all(|&x| x > 0.0 && x < 1.0));
        assert!(v.iter().any(|&x| (x - v[0]).abs() > 1e-6), "the map depends on the pixel");
    }

    #[test]
    fn shapes_are_checked() {
        let dir = tempfile::tempdir().unwrap();
        let (net, _) = tiny_classifier(dir.path());
        let taps = ["blocks.2".to_string(), "blocks.0".to_string()];
        assert!(GeneratorShape::for_network(&net, Some(&taps), None).is_err(), "coarsest first is refused");
        let taps = ["blocks.0".to_string(), "blocks.2".to_string()];
        let s = GeneratorShape::for_network(&net, Some(&taps), Some(&[5, 7])).unwrap();
        assert_eq!((s.channels.as_slice(), s.widths.as_slice()), ([4, 8].as_slice(), [5, 7].as_slice()));
        assert!(GeneratorShape::for_network(&net, Some(&taps), Some(&[5])).is_err());
        assert!(GeneratorShape::for_network(&net, Some(&["fc".to_string()]), None).is_err());
        let wrong = GeneratorShape { channels: vec![4, 9], ..s };
        assert!(wrong.cuts(&net).unwrap_err().to_string().contains("expects 9 channels at 'blocks.2'"));
    }

    #[test]
    fn metadata_and_weights_survive_a_round_trip_and_name_the_classifier() {
        let dir = tempfile::tempdir().unwrap();
        let (net, _) = tiny_classifier(dir.path());
        let shape = GeneratorShape::for_network(&net, None, Some(&[5, 6, 7])).unwrap();
        let decoder = crate::models::init::seeded(&Device::flex(), 2, || Decoder::new(&shape, &Device::flex()));
        let m = meta(&net, shape);
        let path = dir.path().join("g.safetensors");
        Generator::save(&decoder, &m, &path).unwrap();

        let raw = safetensors_metadata(&std::fs::read(&path).unwrap(), &path).unwrap();
        assert_eq!(raw.get("classifier_sha256"), Some(&"ab".repeat(32)));
        assert_eq!(raw.get("taps").map(String::as_str), Some(r#"["blocks.0","blocks.1","blocks.2"]"#));
        assert_eq!(raw.get("objective").map(String::as_str), Some("classifier"));

        let loaded = Generator::load_for(&path, &"ab".repeat(32), &Device::flex()).unwrap();
        assert_eq!(loaded.meta, m);
        let original = Generator { decoder, meta: m };
        let (a, b) = (
            host_values(original.forward(&net, input(1, 24)).unwrap()),
            host_values(loaded.forward(&net, input(1, 24)).unwrap()),
        );
        for (x, y) in a.iter().zip(&b) {
            assert!((x - y).abs() <= 1e-6, "{x} vs {y}");
        }
    }

    #[test]
    fn a_generator_for_another_classifier_or_a_plain_model_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let (net, classifier) = tiny_classifier(dir.path());
        let shape = GeneratorShape::for_network(&net, None, None).unwrap();
        let decoder = Decoder::new(&shape, &Device::flex());
        let path = dir.path().join("g.safetensors");
        Generator::save(&decoder, &meta(&net, shape), &path).unwrap();
        let err = Generator::load_for(&path, &"cd".repeat(32), &Device::flex()).unwrap_err().to_string();
        assert!(err.contains("was trained for another classifier (lantern_cnn with SHA-256 abababababab)"), "{err}");
        assert!(err.contains("not this one (SHA-256 cdcdcdcdcdcd)"), "{err}");
        let err = Generator::load(&classifier, &Device::flex()).unwrap_err().to_string();
        assert!(err.contains("not a Lantern weight-map generator"), "{err}");
        std::fs::write(dir.path().join("short"), b"abc").unwrap();
        assert!(Generator::load(&dir.path().join("short"), &Device::flex()).is_err());
    }

    #[test]
    fn the_default_file_sits_beside_the_model() {
        assert_eq!(
            beside(Path::new("a/b/lantern_cnn.safetensors")),
            Path::new("a/b/lantern_cnn.generator.safetensors")
        );
    }
}
