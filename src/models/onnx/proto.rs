//! Reading an `.onnx` file into a checked, host-side graph: nodes in order with their original
//! ONNX names and attributes, initializers as host tensors, the input's declared shape and the
//! model's metadata. The wire format is decoded by `onnx-ir`'s protobuf bindings; everything a
//! hostile file could use to hurt (huge declared shapes, external data outside the model's
//! folder, reads of values before they exist, which is how a cycle shows in ONNX's ordered node
//! list) is refused here with a one-line reason, before anything runs.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

use onnx_ir::{AttributeProto, AttributeType, Message, ModelProto, TensorProto, ValueInfoProto};

use super::{OnnxError, names};

/// Largest model file read (the protobuf format's own limit is 2 GiB).
pub const MAX_FILE_BYTES: u64 = 2 << 30;
/// Largest tensor (elements) a model may declare, initializer or attribute.
pub const MAX_ELEMENTS: u64 = 1 << 30;

/// A tensor held on the host: weights, constants, attribute values.
#[derive(Debug, Clone, PartialEq)]
pub enum HostTensor {
    Float { dims: Vec<usize>, values: Vec<f32> },
    Int { dims: Vec<usize>, values: Vec<i64> },
    Bool { dims: Vec<usize>, values: Vec<bool> },
}

impl HostTensor {
    pub fn dims(&self) -> &[usize] {
        match self {
            HostTensor::Float { dims, .. } | HostTensor::Int { dims, .. } | HostTensor::Bool { dims, .. } => dims,
        }
    }
}

/// An attribute value.
#[derive(Debug, Clone, PartialEq)]
pub enum Attr {
    Int(i64),
    Float(f32),
    Ints(Vec<i64>),
    Floats(Vec<f32>),
    Str(String),
    Tensor(HostTensor),
    /// A kind the interpreter never reads (graphs, sparse tensors, types).
    Other,
}

/// One node as the file names it.
#[derive(Debug, Clone)]
pub struct NodeDef {
    /// The exporter's node name, e.g. `/layer4/layer4.1/relu_1/Relu` (may be empty).
    pub name: String,
    pub op: String,
    pub domain: String,
    /// Input value names; an empty string is an omitted optional input.
    pub inputs: Vec<String>,
    pub outputs: Vec<String>,
    pub attrs: HashMap<String, Attr>,
    /// The module path the exporter recorded (see [`super::names`]).
    pub scope: Option<String>,
}

impl NodeDef {
    pub fn int(&self, key: &str) -> Option<i64> {
        match self.attrs.get(key) {
            Some(Attr::Int(v)) => Some(*v),
            _ => None,
        }
    }

    pub fn float(&self, key: &str) -> Option<f32> {
        match self.attrs.get(key) {
            Some(Attr::Float(v)) => Some(*v),
            _ => None,
        }
    }

    pub fn ints(&self, key: &str) -> Option<&[i64]> {
        match self.attrs.get(key) {
            Some(Attr::Ints(v)) => Some(v),
            _ => None,
        }
    }

    pub fn string(&self, key: &str) -> Option<&str> {
        match self.attrs.get(key) {
            Some(Attr::Str(v)) => Some(v),
            _ => None,
        }
    }

    /// The `i`-th input's name if it was given.
    pub fn input(&self, i: usize) -> Option<&str> {
        self.inputs.get(i).map(String::as_str).filter(|s| !s.is_empty())
    }
}

/// A graph input: its name and declared shape (`None` where the dimension is symbolic).
#[derive(Debug, Clone, PartialEq)]
pub struct InputDef {
    pub name: String,
    pub dims: Vec<Option<usize>>,
}

/// A parsed, checked model.
#[derive(Debug, Clone)]
pub struct ModelDef {
    pub nodes: Vec<NodeDef>,
    pub initializers: HashMap<String, HostTensor>,
    /// The image input (the one graph input that is not an initializer).
    pub input: InputDef,
    pub outputs: Vec<String>,
    /// Version of the default ONNX domain.
    pub opset: i64,
    pub producer: String,
    pub metadata: BTreeMap<String, String>,
}

/// Read and check `path`.
pub fn read(path: &Path) -> Result<ModelDef, OnnxError> {
    let meta = std::fs::metadata(path).map_err(|e| OnnxError::File(e.to_string()))?;
    fits(meta.len())?;
    let bytes = std::fs::read(path).map_err(|e| OnnxError::File(e.to_string()))?;
    let folder = path.parent().map(Path::to_path_buf).unwrap_or_default();
    parse(&bytes, Some(&folder))
}

/// Parse and check a model held in memory; external data is refused (there is no folder).
pub fn parse_bytes(bytes: &[u8]) -> Result<ModelDef, OnnxError> {
    fits(bytes.len() as u64)?;
    parse(bytes, None)
}

/// Refuse `len` bytes, over what an ONNX file can hold.
fn fits(len: u64) -> Result<(), OnnxError> {
    if len > MAX_FILE_BYTES {
        return Err(OnnxError::File(format!("{len} bytes, over the 2 GiB an ONNX file can hold")));
    }
    Ok(())
}

/// Parse model bytes; `folder` is where external data may be read from (none: refused).
pub fn parse(bytes: &[u8], folder: Option<&Path>) -> Result<ModelDef, OnnxError> {
    let model = ModelProto::parse_from_bytes(bytes).map_err(|e| OnnxError::File(format!("not an ONNX model ({e})")))?;
    let opset = model
        .opset_import
        .iter()
        .find(|o| o.domain.is_empty() || o.domain == "ai.onnx")
        .map(|o| o.version)
        .ok_or_else(|| OnnxError::File("the model declares no version of the default ONNX opset".into()))?;
    let graph = model.graph.as_ref().ok_or_else(|| OnnxError::File("the file holds no graph".into()))?;
    if graph.node.is_empty() {
        return Err(OnnxError::File("the graph has no nodes".into()));
    }
    let external = External { folder: folder.map(Path::to_path_buf) };

    let mut initializers = HashMap::new();
    for t in &graph.initializer {
        initializers.insert(t.name.clone(), external.tensor(t)?);
    }
    let inputs: Vec<InputDef> =
        graph.input.iter().filter(|i| !initializers.contains_key(&i.name)).map(input_def).collect();
    let input = match inputs.as_slice() {
        [one] => one.clone(),
        [] => return Err(OnnxError::File("the graph has no input".into())),
        many => {
            let names: Vec<&str> = many.iter().map(|i| i.name.as_str()).collect();
            return Err(OnnxError::File(format!(
                "the graph has {} inputs ({}); Lantern explains models with one image input",
                many.len(),
                names.join(", ")
            )));
        }
    };
    let outputs: Vec<String> = graph.output.iter().map(|o| o.name.clone()).collect();
    if outputs.is_empty() {
        return Err(OnnxError::File("the graph has no output".into()));
    }

    let mut nodes = Vec::with_capacity(graph.node.len());
    for n in &graph.node {
        let mut attrs = HashMap::new();
        for a in &n.attribute {
            attrs.insert(a.name.clone(), external.attr(a)?);
        }
        let dynamo = n
            .metadata_props
            .iter()
            .find(|p| p.key == "pkg.torch.onnx.name_scopes")
            .and_then(|p| names::dynamo_scope(&p.value));
        nodes.push(NodeDef {
            scope: dynamo.or_else(|| names::scope_path(&n.name)),
            name: n.name.clone(),
            op: n.op_type.clone(),
            domain: n.domain.clone(),
            inputs: n.input.clone(),
            outputs: n.output.clone(),
            attrs,
        });
    }
    check_order(&nodes, &initializers, &input, &outputs)?;
    let metadata = model.metadata_props.iter().map(|p| (p.key.clone(), p.value.clone())).collect();
    Ok(ModelDef { nodes, initializers, input, outputs, opset, producer: model.producer_name.clone(), metadata })
}

/// Every input a node reads must be the graph input, an initializer or an earlier node's
/// output; an ONNX graph lists its nodes in that order, so a read of a later value is a cycle
/// or a broken file. Each value is produced once.
fn check_order(
    nodes: &[NodeDef],
    initializers: &HashMap<String, HostTensor>,
    input: &InputDef,
    outputs: &[String],
) -> Result<(), OnnxError> {
    let mut known: HashSet<&str> = initializers.keys().map(String::as_str).collect();
    known.insert(&input.name);
    for (i, n) in nodes.iter().enumerate() {
        for name in n.inputs.iter().filter(|s| !s.is_empty()) {
            if !known.contains(name.as_str()) {
                return Err(OnnxError::File(format!(
                    "node {} ('{}', {}) reads '{name}' before any node computes it: the graph is out of order or has a cycle",
                    i, n.name, n.op
                )));
            }
        }
        for name in n.outputs.iter().filter(|s| !s.is_empty()) {
            if !known.insert(name) {
                return Err(OnnxError::File(format!("value '{name}' is produced twice (node {i}, '{}')", n.name)));
            }
        }
    }
    if let Some(missing) = outputs.iter().find(|o| !known.contains(o.as_str())) {
        return Err(OnnxError::File(format!("the graph output '{missing}' is never computed")));
    }
    Ok(())
}

fn input_def(v: &ValueInfoProto) -> InputDef {
    let dims = v
        .type_
        .as_ref()
        .filter(|t| t.has_tensor_type())
        .and_then(|t| t.tensor_type().shape.as_ref())
        .map(|s| {
            s.dim
                .iter()
                .map(|d| if d.has_dim_value() && d.dim_value() > 0 { Some(d.dim_value() as usize) } else { None })
                .collect()
        })
        .unwrap_or_default();
    InputDef { name: v.name.clone(), dims }
}

/// Where external tensor data may be read from.
struct External {
    folder: Option<PathBuf>,
}

impl External {
    fn attr(&self, a: &AttributeProto) -> Result<Attr, OnnxError> {
        let kind = a.type_.enum_value().ok();
        Ok(match kind {
            Some(AttributeType::INT) => Attr::Int(a.i),
            Some(AttributeType::FLOAT) => Attr::Float(a.f),
            Some(AttributeType::INTS) => Attr::Ints(a.ints.clone()),
            Some(AttributeType::FLOATS) => Attr::Floats(a.floats.clone()),
            Some(AttributeType::STRING) => Attr::Str(String::from_utf8_lossy(&a.s).into_owned()),
            Some(AttributeType::TENSOR) => match a.t.as_ref() {
                Some(t) => Attr::Tensor(self.tensor(t)?),
                None => Attr::Other,
            },
            _ => Attr::Other,
        })
    }

    /// A tensor's values, checked against its declared shape.
    fn tensor(&self, t: &TensorProto) -> Result<HostTensor, OnnxError> {
        let name = if t.name.is_empty() { "a constant" } else { t.name.as_str() };
        let mut count: u64 = 1;
        let mut dims = Vec::with_capacity(t.dims.len());
        for &d in &t.dims {
            if d < 0 {
                return Err(OnnxError::File(format!("tensor '{name}' declares a negative dimension {d}")));
            }
            count = count.checked_mul(d as u64).filter(|&c| c <= MAX_ELEMENTS).ok_or_else(|| {
                OnnxError::File(format!(
                    "tensor '{name}' declares a shape of {:?}, over the {MAX_ELEMENTS}-element limit",
                    t.dims
                ))
            })?;
            dims.push(d as usize);
        }
        let count = count as usize;
        let external_bytes;
        let raw: &[u8] = if t.data_location.value() == 1 {
            external_bytes = self.read(t, name)?;
            &external_bytes
        } else {
            &t.raw_data
        };
        let kind = DataType::of(t.data_type).ok_or_else(|| {
            OnnxError::File(format!("tensor '{name}' has data type {}, which Lantern does not read", t.data_type))
        })?;
        let shape = format!("{dims:?}");
        let size_error = |got: usize| {
            OnnxError::File(format!("tensor '{name}' declares {count} values of shape {shape} but holds {got}"))
        };
        if !raw.is_empty() {
            let width = kind.width();
            if raw.len() != count * width {
                return Err(size_error(raw.len() / width.max(1)));
            }
            let words = raw.chunks_exact(width);
            return Ok(match kind {
                DataType::F32 => HostTensor::Float {
                    dims,
                    values: words.map(|w| f32::from_le_bytes([w[0], w[1], w[2], w[3]])).collect(),
                },
                DataType::F64 => HostTensor::Float {
                    dims,
                    values: words.map(|w| f64::from_le_bytes(w.try_into().expect("8 bytes")) as f32).collect(),
                },
                DataType::F16 => HostTensor::Float {
                    dims,
                    values: words.map(|w| half_to_f32(u16::from_le_bytes([w[0], w[1]]))).collect(),
                },
                DataType::I64 => HostTensor::Int {
                    dims,
                    values: words.map(|w| i64::from_le_bytes(w.try_into().expect("8 bytes"))).collect(),
                },
                DataType::I32 => HostTensor::Int {
                    dims,
                    values: words.map(|w| i32::from_le_bytes([w[0], w[1], w[2], w[3]]) as i64).collect(),
                },
                DataType::I8 => HostTensor::Int { dims, values: words.map(|w| w[0] as i8 as i64).collect() },
                DataType::U8 => HostTensor::Int { dims, values: words.map(|w| w[0] as i64).collect() },
                DataType::Bool => HostTensor::Bool { dims, values: words.map(|w| w[0] != 0).collect() },
            });
        }
        let tensor = match kind {
            DataType::F32 => HostTensor::Float { dims, values: t.float_data.clone() },
            DataType::F64 => HostTensor::Float { dims, values: t.double_data.iter().map(|&v| v as f32).collect() },
            DataType::F16 => {
                HostTensor::Float { dims, values: t.int32_data.iter().map(|&v| half_to_f32(v as u16)).collect() }
            }
            DataType::I64 => HostTensor::Int { dims, values: t.int64_data.clone() },
            DataType::I32 | DataType::I8 | DataType::U8 => {
                HostTensor::Int { dims, values: t.int32_data.iter().map(|&v| v as i64).collect() }
            }
            DataType::Bool => HostTensor::Bool { dims, values: t.int32_data.iter().map(|&v| v != 0).collect() },
        };
        let held = match &tensor {
            HostTensor::Float { values, .. } => values.len(),
            HostTensor::Int { values, .. } => values.len(),
            HostTensor::Bool { values, .. } => values.len(),
        };
        if held != count {
            return Err(size_error(held));
        }
        Ok(tensor)
    }

    /// External data: a file in the model's folder (no absolute paths, no `..`), the declared
    /// byte range inside it.
    fn read(&self, t: &TensorProto, name: &str) -> Result<Vec<u8>, OnnxError> {
        let entry = |key: &str| t.external_data.iter().find(|e| e.key == key).map(|e| e.value.clone());
        let location = entry("location")
            .ok_or_else(|| OnnxError::File(format!("tensor '{name}' is external but names no file")))?;
        let folder = self.folder.as_ref().ok_or_else(|| {
            OnnxError::File(format!("tensor '{name}' is stored in an external file, which is not allowed here"))
        })?;
        let relative = Path::new(&location);
        let escapes = relative.is_absolute()
            || relative
                .components()
                .any(|c| !matches!(c, std::path::Component::Normal(_) | std::path::Component::CurDir));
        if escapes {
            return Err(OnnxError::File(format!("tensor '{name}' points outside the model's folder ('{location}')")));
        }
        let path = folder.join(relative);
        let canonical_folder = folder.canonicalize().unwrap_or_else(|_| folder.clone());
        let canonical = path
            .canonicalize()
            .map_err(|e| OnnxError::File(format!("tensor '{name}': external file '{location}': {e}")))?;
        if !canonical.starts_with(&canonical_folder) {
            return Err(OnnxError::File(format!(
                "tensor '{name}' points outside the model's folder ('{location}' leads elsewhere)"
            )));
        }
        let number = |key: &str| -> Result<Option<u64>, OnnxError> {
            entry(key)
                .map(|v| {
                    v.parse::<u64>()
                        .map_err(|_| OnnxError::File(format!("tensor '{name}': external {key} '{v}' is not a number")))
                })
                .transpose()
        };
        let offset = number("offset")?.unwrap_or(0);
        let file_len = std::fs::metadata(&canonical).map_err(|e| OnnxError::File(e.to_string()))?.len();
        let length = number("length")?.unwrap_or(file_len.saturating_sub(offset));
        if offset.checked_add(length).is_none_or(|end| end > file_len) {
            return Err(OnnxError::File(format!(
                "tensor '{name}': bytes {offset}..+{length} lie beyond the end of '{location}' ({file_len} bytes)"
            )));
        }
        use std::io::{Read, Seek, SeekFrom};
        let mut file = std::fs::File::open(&canonical).map_err(|e| OnnxError::File(e.to_string()))?;
        file.seek(SeekFrom::Start(offset)).map_err(|e| OnnxError::File(e.to_string()))?;
        let mut bytes = vec![0; length as usize];
        file.read_exact(&mut bytes).map_err(|e| OnnxError::File(e.to_string()))?;
        Ok(bytes)
    }
}

/// The element types Lantern reads (ONNX `TensorProto.DataType` codes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DataType {
    F32,
    U8,
    I8,
    I32,
    I64,
    Bool,
    F16,
    F64,
}

impl DataType {
    fn of(code: i32) -> Option<Self> {
        Some(match code {
            1 => DataType::F32,
            2 => DataType::U8,
            3 => DataType::I8,
            6 => DataType::I32,
            7 => DataType::I64,
            9 => DataType::Bool,
            10 => DataType::F16,
            11 => DataType::F64,
            _ => return None,
        })
    }

    fn width(self) -> usize {
        match self {
            DataType::U8 | DataType::I8 | DataType::Bool => 1,
            DataType::F16 => 2,
            DataType::F32 | DataType::I32 => 4,
            DataType::I64 | DataType::F64 => 8,
        }
    }
}

/// IEEE 754 half precision to single.
fn half_to_f32(h: u16) -> f32 {
    let sign = ((h >> 15) as u32) << 31;
    let exp = ((h >> 10) & 0x1f) as u32;
    let frac = (h & 0x3ff) as u32;
    let bits = match exp {
        0 if frac == 0 => sign,
        0 => {
            // Subnormal: normalise.
            let mut e = 127 - 15 + 1;
            let mut f = frac;
            while f & 0x400 == 0 {
                f <<= 1;
                e -= 1;
            }
            sign | (e << 23) | ((f & 0x3ff) << 13)
        }
        0x1f => sign | 0x7f80_0000 | (frac << 13),
        _ => sign | ((exp + 127 - 15) << 23) | (frac << 13),
    };
    f32::from_bits(bits)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn half_precision_converts() {
        assert_eq!(half_to_f32(0x3c00), 1.0);
        assert_eq!(half_to_f32(0xc000), -2.0);
        assert_eq!(half_to_f32(0x0000), 0.0);
        assert!((half_to_f32(0x0001) - 5.96e-8).abs() < 1e-9);
        assert!(half_to_f32(0x7c00).is_infinite());
    }

    #[test]
    fn garbage_is_refused_with_a_reason() {
        let err = parse(b"definitely not protobuf \xff\xff\xff", None).unwrap_err();
        assert!(err.to_string().contains("ONNX"), "{err}");
        let err = parse(&[], None).unwrap_err();
        assert!(!err.to_string().is_empty());
    }
}
