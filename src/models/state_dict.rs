//! Reading weight files into a flat map of named tensors, the way PyTorch's `state_dict()` names
//! them, and handing them out to model builders with every problem recorded.
//!
//! Files are read with burn-store: `.pth`/`.pt` (zip and legacy pickle formats, through its
//! restricted unpickler, which executes nothing) and `.safetensors`. A `module.` prefix
//! (DataParallel) or a checkpoint's `state_dict.`/`model.` wrapper is stripped.

use crate::error::{LanternError, Result};
use burn::store::{ModuleStore, PytorchStore, SafetensorsStore};
use burn::tensor::{Device, Tensor, TensorData};
use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::{Path, PathBuf};

/// Largest weights file Lantern opens.
pub const MAX_MODEL_BYTES: u64 = 4 << 30;

/// One tensor of a state dict: its shape and values as `f32`.
#[derive(Debug, Clone, PartialEq)]
pub struct RawTensor {
    pub shape: Vec<usize>,
    pub values: Vec<f32>,
}

/// All tensors of a weights file by their PyTorch names.
#[derive(Debug, Clone, Default)]
pub struct StateDict {
    pub tensors: BTreeMap<String, RawTensor>,
    /// The file it came from, for error messages (empty for in-memory dicts).
    pub source: PathBuf,
    /// A safetensors file's `__metadata__` strings (empty for PyTorch files); Lantern's own keys
    /// are listed in [`super::metadata`].
    pub metadata: BTreeMap<String, String>,
}

impl StateDict {
    /// Read a `.pth`, `.pt` or `.safetensors` file; the format is told by the file's first bytes.
    pub fn load(path: &Path) -> Result<Self> {
        let bad = |reason: String| LanternError::ModelFile { path: path.to_path_buf(), reason };
        let meta = std::fs::metadata(path).map_err(|e| LanternError::io(path, e))?;
        if meta.is_dir() {
            return Err(bad("it is a folder".into()));
        }
        if meta.len() > MAX_MODEL_BYTES {
            return Err(bad(format!("{} bytes is over the {} byte limit", meta.len(), MAX_MODEL_BYTES)));
        }
        let mut head = [0u8; 16];
        let n = std::fs::File::open(path).and_then(|mut f| f.read(&mut head)).map_err(|e| LanternError::io(path, e))?;
        let head = &head[..n];
        let format = sniff(head).ok_or_else(|| bad("neither a PyTorch checkpoint nor a safetensors file".into()))?;
        // burn-store reports malformed files as errors; the unwind guard turns any panic deeper
        // in a parser into the same kind of error, so a hostile file can never take Lantern down.
        let owned = path.to_path_buf();
        let file_len = meta.len();
        let read = std::panic::catch_unwind(move || read_tensors(&owned, format, file_len));
        let tensors = match read {
            Ok(Ok(t)) => t,
            Ok(Err(reason)) => return Err(bad(reason)),
            Err(_) => return Err(bad("the file is malformed".into())),
        };
        if tensors.is_empty() {
            return Err(bad("the file holds no tensors".into()));
        }
        let metadata = match format {
            Format::Safetensors => read_header(path).and_then(|h| safetensors_metadata(&h)).map_err(bad)?,
            Format::Pytorch => BTreeMap::new(),
        };
        Ok(Self { tensors: strip_wrappers(tensors), source: path.to_path_buf(), metadata })
    }

    /// Read a safetensors file held in memory (the bundled demo model, a file dropped on the web
    /// page); `name` is for errors.
    pub fn from_safetensors_bytes(bytes: &[u8], name: &str) -> Result<Self> {
        let bad = |reason: String| LanternError::ModelFile { path: PathBuf::from(name), reason };
        match sniff(bytes) {
            Some(Format::Safetensors) => {}
            // burn-store reads a checkpoint's tensors from its file, never from memory.
            Some(Format::Pytorch) => {
                return Err(bad("a PyTorch checkpoint is read from a file, which the web page cannot name: \
                                export the model to ONNX or save its state dict as safetensors"
                    .into()));
            }
            None => return Err(bad("not a safetensors file".into())),
        }
        let owned = bytes.to_vec();
        let read = std::panic::catch_unwind(move || {
            let file_len = owned.len() as u64;
            let mut store = SafetensorsStore::from_bytes(Some(owned)).map_indices_contiguous(false);
            let packed = store.get_all_tensors().map_err(|e| e.to_string())?.clone();
            convert(packed, file_len)
        });
        let metadata = metadata_of_bytes(bytes).map_err(bad)?;
        match read {
            Ok(Ok(tensors)) => Ok(Self { tensors, source: PathBuf::from(name), metadata }),
            Ok(Err(reason)) => Err(bad(reason)),
            Err(_) => Err(bad("the data is malformed".into())),
        }
    }

    /// A state dict from tensors already in memory.
    pub fn from_tensors(tensors: BTreeMap<String, RawTensor>) -> Self {
        Self { tensors, source: PathBuf::new(), metadata: BTreeMap::new() }
    }

    /// Deterministic pseudo-random weights for a layout (see [`seeded_values`]): for benchmarks
    /// and tests that need a full-size network without a weights file.
    pub fn seeded(layout: &[(String, Vec<usize>)], seed: u64) -> Self {
        Self::from_tensors(
            layout
                .iter()
                .map(|(k, s)| (k.clone(), RawTensor { shape: s.clone(), values: seeded_values(k, s, seed) }))
                .collect(),
        )
    }

    pub fn contains(&self, key: &str) -> bool {
        self.tensors.contains_key(key)
    }

    pub fn shape(&self, key: &str) -> Option<&[usize]> {
        self.tensors.get(key).map(|t| t.shape.as_slice())
    }

    /// Number of consecutive `prefix.{i}.` groups starting at 0 that hold a key ending in `suffix`.
    pub fn count_indexed(&self, prefix: &str, suffix: &str) -> usize {
        (0..).take_while(|i| self.contains(&format!("{prefix}.{i}.{suffix}"))).count()
    }

    /// Indices `i` for which `prefix.{i}.{suffix}` exists, ascending.
    pub fn indices_with(&self, prefix: &str, suffix: &str) -> Vec<usize> {
        let start = format!("{prefix}.");
        let end = format!(".{suffix}");
        let mut found: Vec<usize> =
            self.tensors.keys().filter_map(|k| k.strip_prefix(&start)?.strip_suffix(&end)?.parse().ok()).collect();
        found.sort_unstable();
        found.dedup();
        found
    }
}

#[derive(Clone, Copy)]
enum Format {
    Pytorch,
    Safetensors,
}

fn sniff(head: &[u8]) -> Option<Format> {
    // safetensors: little-endian u64 header length, then a JSON object. Checked first: a header
    // length whose low byte is 0x80 starts the file with a pickle's protocol opcode.
    if head.len() >= 9 && head[8] == b'{' && head[4..8].iter().all(|&b| b == 0) {
        return Some(Format::Safetensors);
    }
    if head.starts_with(b"PK\x03\x04") || head.starts_with(&[0x80]) {
        return Some(Format::Pytorch);
    }
    None
}

/// Largest safetensors header read for its metadata (the format's own limit is 100 MB).
const MAX_HEADER_BYTES: usize = 100 << 20;

/// The JSON header length a safetensors file starts with (a little-endian `u64`).
fn header_length(head: &[u8]) -> std::result::Result<usize, String> {
    let bytes: [u8; 8] = head.get(..8).and_then(|b| b.try_into().ok()).ok_or("the header length is truncated")?;
    let n = u64::from_le_bytes(bytes);
    usize::try_from(n)
        .ok()
        .filter(|&n| n <= MAX_HEADER_BYTES)
        .ok_or_else(|| format!("a {n} byte header is over the {MAX_HEADER_BYTES} byte limit"))
}

/// The JSON header of the safetensors file at `path`.
fn read_header(path: &Path) -> std::result::Result<Vec<u8>, String> {
    let mut file = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let mut length = [0u8; 8];
    file.read_exact(&mut length).map_err(|e| e.to_string())?;
    let mut header = vec![0u8; header_length(&length)?];
    file.read_exact(&mut header).map_err(|_| "the header is truncated".to_string())?;
    Ok(header)
}

/// The `__metadata__` string map of safetensors file bytes (empty when there is none).
pub fn metadata_of_bytes(bytes: &[u8]) -> std::result::Result<BTreeMap<String, String>, String> {
    let header =
        header_length(bytes).and_then(|n| bytes.get(8..8 + n).ok_or_else(|| "the header is truncated".to_string()))?;
    safetensors_metadata(header)
}

/// The `__metadata__` string map of a safetensors JSON header (empty when there is none).
fn safetensors_metadata(header: &[u8]) -> std::result::Result<BTreeMap<String, String>, String> {
    #[derive(serde::Deserialize)]
    struct Header {
        #[serde(rename = "__metadata__", default)]
        metadata: BTreeMap<String, String>,
    }
    serde_json::from_slice::<Header>(header).map(|h| h.metadata).map_err(|e| format!("the header's metadata: {e}"))
}

fn read_tensors(
    path: &Path,
    format: Format,
    file_len: u64,
) -> std::result::Result<BTreeMap<String, RawTensor>, String> {
    let packed = match format {
        Format::Pytorch => {
            let mut store = PytorchStore::from_file(path).map_indices_contiguous(false);
            store.get_all_tensors().map_err(|e| e.to_string())?.clone()
        }
        Format::Safetensors => {
            let mut store = SafetensorsStore::from_file(path).map_indices_contiguous(false);
            store.get_all_tensors().map_err(|e| e.to_string())?.clone()
        }
    };
    convert(packed, file_len)
}

/// Float tensors of a store as `f32` (integer buffers such as `num_batches_tracked` skipped).
///
/// Nothing is read until the tensors' sizes are checked against the file's: together they may
/// claim at most twice its `file_len` bytes (room for a weight stored once under two names). A
/// PyTorch view with stride 0 (an `expand`ed tensor) reads one stored value many times, so a
/// file of a few hundred bytes could otherwise make Lantern allocate gigabytes; the weights of a
/// model are never such views.
fn convert(
    packed: BTreeMap<String, burn::store::burn_pack::Tensor>,
    file_len: u64,
) -> std::result::Result<BTreeMap<String, RawTensor>, String> {
    let claimed = packed.values().fold(0u64, |sum, t| sum.saturating_add(t.byte_len() as u64));
    if claimed > file_len.saturating_mul(2) {
        return Err(format!(
            "its tensors claim {claimed} bytes, more than the file holds ({file_len} bytes): views that repeat stored values are not weights"
        ));
    }
    let mut out = BTreeMap::new();
    for (name, tensor) in packed {
        let data = burn::store::bridge::to_data(&tensor).map_err(|e| format!("tensor {name}: {e}"))?;
        if !data.dtype().is_float() {
            // Integer buffers such as BatchNorm's num_batches_tracked carry no weights.
            continue;
        }
        let shape = data.shape().to_vec();
        let values = data.try_into_vec_as::<f32>().map_err(|e| format!("tensor {name}: {e:?}"))?;
        out.insert(name, RawTensor { shape, values });
    }
    Ok(out)
}

/// Values for tensor `key` of `shape`: `u_i` uniform in `[-1, 1)` from
/// `SplitMix64((FNV-1a(key) ^ seed) + i)`, scaled by the tensor's role: `u * sqrt(6 / fan_in)`
/// for weights (He-uniform), `0.1 u` for biases and running means, `1 + 0.5 u` for running
/// variances, `1 + 0.2 u` for BatchNorm weights. `tests/reference/seeded.py` is the same
/// generator in NumPy, so Python fixtures and Rust tests share weights without storing them.
pub fn seeded_values(key: &str, shape: &[usize], seed: u64) -> Vec<f32> {
    let n = shape.iter().product::<usize>().max(1);
    let fan_in = shape.iter().skip(1).product::<usize>().max(1);
    crate::seeded::uniform(key, n, seed)
        .into_iter()
        .map(|u| {
            let v = if key.ends_with("running_var") {
                1.0 + 0.5 * u
            } else if key.ends_with("running_mean") || key.ends_with(".bias") {
                0.1 * u
            } else if shape.len() == 1 {
                1.0 + 0.2 * u
            } else {
                u * 3f64.sqrt() * (2.0 / fan_in as f64).sqrt()
            };
            v as f32
        })
        .collect()
}

/// Remove `module.` (DataParallel) and a single checkpoint wrapper (`state_dict.`, `model.`,
/// `model_state_dict.`) when every key carries it.
fn strip_wrappers(mut tensors: BTreeMap<String, RawTensor>) -> BTreeMap<String, RawTensor> {
    for prefix in ["state_dict.", "model_state_dict.", "model.", "module."] {
        if tensors.keys().all(|k| k.starts_with(prefix)) {
            tensors = tensors.into_iter().map(|(k, v)| (k[prefix.len()..].to_string(), v)).collect();
        }
    }
    tensors
}

/// Hands tensors to a model builder, checking shapes and remembering which keys were taken,
/// so a mismatch is reported once with every missing, unexpected and misshapen key.
pub struct Loader<'a> {
    dict: &'a StateDict,
    device: Device,
    used: RefCell<BTreeSet<String>>,
    problems: RefCell<Vec<String>>,
    requested: RefCell<Vec<(String, Vec<usize>)>>,
}

impl<'a> Loader<'a> {
    pub fn new(dict: &'a StateDict, device: &Device) -> Self {
        Self {
            dict,
            device: device.clone(),
            used: RefCell::default(),
            problems: RefCell::default(),
            requested: RefCell::default(),
        }
    }

    pub fn device(&self) -> &Device {
        &self.device
    }

    pub fn dict(&self) -> &StateDict {
        self.dict
    }

    /// The raw values of `key`, checked against `shape`; zeros (and a recorded problem) when
    /// the key is absent or its shape differs.
    pub fn values(&self, key: &str, shape: &[usize]) -> Vec<f32> {
        self.requested.borrow_mut().push((key.to_string(), shape.to_vec()));
        let n: usize = shape.iter().product();
        match self.dict.tensors.get(key) {
            None => {
                self.problems.borrow_mut().push(format!("missing {key} {shape:?}"));
                vec![0.0; n]
            }
            Some(t) => {
                self.used.borrow_mut().insert(key.to_string());
                if t.shape != shape {
                    self.problems.borrow_mut().push(format!("{key}: file has {:?}, expected {shape:?}", t.shape));
                    vec![0.0; n]
                } else {
                    t.values.clone()
                }
            }
        }
    }

    /// `key` as a tensor of the given shape (see [`Loader::values`]).
    pub fn tensor<const D: usize>(&self, key: &str, shape: [usize; D]) -> Tensor<D> {
        let values = self.values(key, &shape);
        Tensor::from_data(TensorData::new(values, shape), &self.device)
    }

    /// Whether the file has `key` (without taking it).
    pub fn has(&self, key: &str) -> bool {
        self.dict.contains(key)
    }

    /// Shape of `key` in the file, if present.
    pub fn shape(&self, key: &str) -> Option<Vec<usize>> {
        self.dict.shape(key).map(<[usize]>::to_vec)
    }

    /// Mark keys as deliberately unused (e.g. buffers the forward pass does not need).
    pub fn ignore(&self, key: &str) {
        if self.dict.contains(key) {
            self.used.borrow_mut().insert(key.to_string());
        }
    }

    /// Every `(key, shape)` the builder asked for, in order: the architecture's layout.
    pub fn requested(&self) -> Vec<(String, Vec<usize>)> {
        self.requested.borrow().clone()
    }

    /// Ok when every expected key was present with its shape and no key was left over.
    pub fn finish(self, architecture: &str) -> Result<()> {
        let used = self.used.into_inner();
        let mut problems = self.problems.into_inner();
        let unexpected: Vec<&String> = self.dict.tensors.keys().filter(|k| !used.contains(*k)).collect();
        if !unexpected.is_empty() {
            let shown: Vec<String> = unexpected.iter().take(8).map(|k| k.to_string()).collect();
            let more = unexpected.len().saturating_sub(shown.len());
            let tail = if more > 0 { format!(" and {more} more") } else { String::new() };
            problems.push(format!("unexpected {}{tail}", shown.join(", ")));
        }
        if problems.is_empty() {
            return Ok(());
        }
        let total = problems.len();
        let mut shown: Vec<String> = problems.into_iter().take(10).collect();
        if total > shown.len() {
            shown.push(format!("... {} more problems", total - 10));
        }
        Err(LanternError::Architecture(format!("as {architecture}: {}", shown.join("; "))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_safetensors_header_of_length_0x80_mod_256_is_not_taken_for_a_pickle() {
        let mut head = vec![0x80, 0x07, 0, 0, 0, 0, 0, 0];
        head.extend_from_slice(b"{\"__metadata__\"");
        assert!(matches!(sniff(&head), Some(Format::Safetensors)));
        assert!(matches!(sniff(&[0x80, 0x02, b'}', b'q', 0, b'(']), Some(Format::Pytorch)));
        assert!(matches!(sniff(b"PK\x03\x04rest"), Some(Format::Pytorch)));
    }

    fn dict(entries: &[(&str, &[usize])]) -> StateDict {
        StateDict::from_tensors(
            entries
                .iter()
                .map(|(k, s)| (k.to_string(), RawTensor { shape: s.to_vec(), values: vec![1.0; s.iter().product()] }))
                .collect(),
        )
    }

    #[test]
    fn loader_reports_missing_unexpected_and_misshapen_keys() {
        let d = dict(&[("a.weight", &[2, 3]), ("b.weight", &[4]), ("extra", &[1])]);
        let l = Loader::new(&d, &Device::flex());
        assert_eq!(l.values("a.weight", &[2, 3]), vec![1.0; 6]);
        assert_eq!(l.values("b.weight", &[5]), vec![0.0; 5]);
        let _ = l.values("c.weight", &[1]);
        let err = l.finish("toy").unwrap_err().to_string();
        assert!(err.contains("missing c.weight"), "{err}");
        assert!(err.contains("b.weight: file has [4], expected [5]"), "{err}");
        assert!(err.contains("unexpected extra"), "{err}");
    }

    #[test]
    fn seeded_values_match_the_numpy_generator() {
        // Printed by tests/reference/seeded.py: seeded_value("fc.weight", (2, 3), 7) and
        // seeded_value("bn.running_var", (2,), 1).
        let expected = [1.299_010_6_f32, 0.360_118_45, -1.306_424_7, 0.964_406_25, -0.913_263_4, 0.908_292_95];
        assert_eq!(seeded_values("fc.weight", &[2, 3], 7), expected);
        assert_eq!(seeded_values("bn.running_var", &[2], 1), [1.048_062_9_f32, 0.508_724]);
        assert_ne!(seeded_values("a.weight", &[4, 4], 1), seeded_values("b.weight", &[4, 4], 1));
        assert_eq!(seeded_values("a.weight", &[4, 4], 1), seeded_values("a.weight", &[4, 4], 1));
    }

    #[test]
    fn wrappers_are_stripped_and_indices_found() {
        let mut d = dict(&[("module.features.0.weight", &[1]), ("module.features.3.weight", &[1])]);
        d.tensors = strip_wrappers(d.tensors);
        assert!(d.contains("features.3.weight"));
        assert_eq!(d.indices_with("features", "weight"), vec![0, 3]);
        assert_eq!(d.count_indexed("features", "weight"), 1);
    }

    #[test]
    fn garbage_files_are_refused_with_a_reason() {
        let dir = tempfile::tempdir().unwrap();
        let junk = dir.path().join("junk.pth");
        std::fs::write(&junk, b"this is not a checkpoint at all").unwrap();
        let e = StateDict::load(&junk).unwrap_err().to_string();
        assert!(e.contains("neither a PyTorch checkpoint nor a safetensors file"), "{e}");
        let zip = dir.path().join("fake.pth");
        std::fs::write(&zip, b"PK\x03\x04 truncated zip").unwrap();
        assert!(matches!(StateDict::load(&zip), Err(LanternError::ModelFile { .. })));
        assert!(matches!(StateDict::load(dir.path()), Err(LanternError::ModelFile { .. })));
        assert!(matches!(StateDict::load(&dir.path().join("absent.pth")), Err(LanternError::Io { .. })));
    }
}
