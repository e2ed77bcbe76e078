//! Any model as an ONNX file: parsed (`onnx-ir`'s protobuf bindings), checked (every operator
//! supported, nothing hostile) and run by an eager interpreter over burn tensors, so an ONNX
//! classifier is a `Network` (see `models::network::Body::Graph`) like the hand-written ones and every method runs
//! on it unchanged: forward to any tensor, keep it, run the rest of the graph from it with a
//! gradient leaf there.
//!
//! Layers are the graph's tensors that a map can be read from: channels-first maps, channels-last
//! maps and transformer tokens (see [`tokens`]), named by the module they come from (see
//! [`names`]).

pub mod chain;
pub mod eval;
pub mod exec;
pub mod host;
pub mod names;
pub mod ops;
pub mod proto;
pub mod tokens;
pub mod value;

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::RwLock;

use burn::tensor::{Device, Tensor};

use crate::imaging::Preprocess;
use exec::Graph;
use tokens::Layout;
use value::{F, Value};

/// What can go wrong reading or running an ONNX graph.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum OnnxError {
    /// The file is not a model Lantern can open (one line, said before anything runs).
    #[error("{0}")]
    File(String),
    /// Operators the interpreter does not run, with how often each appears.
    #[error("the model uses operators Lantern does not support: {}", .0.iter().map(|(op, n)| format!("{op} ({n}x)")).collect::<Vec<_>>().join(", "))]
    Unsupported(Vec<(String, usize)>),
    /// A node could not run on its inputs.
    #[error("node '{node}' ({op}): {reason}")]
    Node { node: String, op: String, reason: String },
    /// A shape or value problem, before the node is known.
    #[error("{0}")]
    Shape(String),
}

impl OnnxError {
    /// The error placed at the step it happened in.
    pub fn at(self, step: &exec::Step) -> OnnxError {
        match self {
            OnnxError::Shape(reason) => OnnxError::Node { node: step.name.clone(), op: step.kind.clone(), reason },
            other => other,
        }
    }
}

/// Global average pooling of the value `pooled`, then `y = x W + b` straight to the output.
#[derive(Debug, Clone)]
pub struct CamHead {
    pub pooled: usize,
    /// `[in, out]`.
    pub weight: Tensor<2>,
    pub bias: Tensor<1>,
}

/// One layer of the graph: a value a map can be read from.
#[derive(Debug, Clone, PartialEq)]
pub struct GraphLayer {
    /// Value id in the graph.
    pub value: usize,
    /// The ONNX tensor name.
    pub tensor: String,
    /// The module scope of the node that computes it (`layer4.1.relu_1`), if the exporter said.
    pub scope: Option<String>,
    /// The module whose output it is (`layer4`), if any.
    pub module: Option<String>,
    /// The ONNX operator that computes it.
    pub op: String,
    pub dims: Vec<usize>,
}

/// An ONNX classifier ready to run.
#[derive(Debug)]
pub struct OnnxNet {
    pub graph: Graph,
    /// Map layers in graph order.
    pub layers: Vec<GraphLayer>,
    /// How each layer's tensor is read as a map (value id → layout), overridable.
    layouts: RwLock<HashMap<usize, Layout>>,
    /// The input's size `(height, width)` in pixels.
    pub input_size: (usize, usize),
    pub classes: usize,
    /// Value ids of the attention probabilities (the Softmax of query-key scores), block by block.
    pub attention: Vec<usize>,
    /// Operators of the graph and how often each appears.
    pub op_counts: BTreeMap<String, usize>,
    pub opset: i64,
    pub metadata: BTreeMap<String, String>,
    /// Whether the metadata says how the model reads images (its mean and std).
    pub declares_preprocess: bool,
    /// A head of global average pooling and one linear layer, what CAM reads.
    pub cam_head: Option<CamHead>,
}

/// What crosses a cut: the carried values and prefix tokens, per image run.
#[derive(Debug, Clone)]
pub struct Resume {
    /// One entry per run of the front, in image order.
    runs: Vec<FrontPass>,
}

/// One pass of the graph's front over some images: what the rest needs from it.
#[derive(Debug, Clone)]
struct FrontPass {
    /// How many images it covered.
    images: usize,
    /// The values that skip over the cut (value id, value).
    carried: Vec<(usize, Value)>,
    /// The prefix tokens (a transformer's class token) the map does not hold.
    prefix: Option<Tensor<3>>,
}

impl OnnxNet {
    /// Read, check and plan `path`. Whatever the file holds, the answer is a model or an
    /// error: a panic deep in a tensor operation on shapes no check foresaw becomes one too.
    pub fn open(path: &Path, device: &Device) -> Result<OnnxNet, OnnxError> {
        Self::guarded(proto::read(path)?, device)
    }

    /// [`OnnxNet::open`] for a model held in memory (a file dropped on the web page); its
    /// tensors must all be inside it (external data has no folder to come from).
    pub fn open_bytes(bytes: &[u8], device: &Device) -> Result<OnnxNet, OnnxError> {
        Self::guarded(proto::parse_bytes(bytes)?, device)
    }

    /// [`OnnxNet::from_model`] with any panic turned into an error.
    fn guarded(model: proto::ModelDef, device: &Device) -> Result<OnnxNet, OnnxError> {
        let device = device.clone();
        std::panic::catch_unwind(move || Self::from_model(model, &device)).unwrap_or_else(|panic| {
            let reason = crate::error::panic_message(panic.as_ref()).unwrap_or_default();
            Err(OnnxError::File(format!(
                "the model does not run: {}",
                reason.lines().next().unwrap_or("an operation failed")
            )))
        })
    }

    pub fn from_model(model: proto::ModelDef, device: &Device) -> Result<OnnxNet, OnnxError> {
        let mut op_counts: BTreeMap<String, usize> = BTreeMap::new();
        for n in &model.nodes {
            let key = if n.domain.is_empty() || n.domain == "ai.onnx" {
                n.op.clone()
            } else {
                format!("{}::{}", n.domain, n.op)
            };
            *op_counts.entry(key).or_default() += 1;
        }
        let missing: Vec<(String, usize)> = op_counts
            .iter()
            .filter(|(op, _)| !ops::SUPPORTED.contains(&op.as_str()))
            .map(|(op, n)| (op.clone(), *n))
            .collect();
        if !missing.is_empty() {
            return Err(OnnxError::Unsupported(missing));
        }
        if !(7..=22).contains(&model.opset) {
            return Err(OnnxError::File(format!(
                "opset {} is outside the 7-22 Lantern reads (13-18 tested)",
                model.opset
            )));
        }
        let input_size = input_size(&model)?;
        let graph = Graph::plan(&model, device)?;
        // The dry run: every value's shape, and proof the graph runs.
        let probe =
            F::from_values(vec![0.0; 3 * input_size.0 * input_size.1], &[1, 3, input_size.0, input_size.1], device)?;
        let env = graph.run_all(probe).map_err(|e| {
            OnnxError::File(format!("the model does not run on a {}x{} image: {e}", input_size.0, input_size.1))
        })?;
        let out_dims = env[graph.output].as_ref().map(Value::dims).unwrap_or_default();
        let classes = match out_dims.as_slice() {
            [1, c] => *c,
            other => {
                return Err(OnnxError::File(format!(
                    "the output has shape {other:?}; Lantern explains outputs of shape [1, classes]"
                )));
            }
        };
        let scope_of = |step: usize| model.nodes[step].scope.clone();
        let mut layers = Vec::new();
        let mut layouts = HashMap::new();
        let mut scopes = Vec::new();
        for (step_index, step) in graph.steps.iter().enumerate() {
            for &v in &step.outputs {
                let Some(Value::Float { t, .. }) = env[v].as_ref() else { continue };
                let dims = t.dims();
                let hint = step.kind == "LayerNormalization" || step.kind == "Transpose";
                let Some(layout) = tokens::detect(&dims, input_size, hint) else { continue };
                if graph.is_constant(v) || graph.folded.contains(&v) || !graph.reaches_output(v) {
                    continue;
                }
                layouts.insert(v, layout);
                scopes.push(scope_of(step_index));
                layers.push(GraphLayer {
                    value: v,
                    tensor: graph.names[v].clone(),
                    scope: scope_of(step_index),
                    module: None,
                    op: step.kind.clone(),
                    dims,
                });
            }
        }
        for (layer, module) in layers.iter_mut().zip(names::module_outputs(&scopes)) {
            layer.module = module;
        }
        let attention = attention_values(&graph, &env);
        let cam_head = cam_head(&graph, device);
        Ok(OnnxNet {
            graph,
            layers,
            layouts: RwLock::new(layouts),
            input_size,
            classes,
            attention,
            op_counts,
            opset: model.opset,
            cam_head,
            declares_preprocess: first_key(&model.metadata, &["mean", "image_mean"]).is_some()
                && first_key(&model.metadata, &["std", "image_std"]).is_some(),
            metadata: model.metadata,
        })
    }

    /// The layer named `name`: an ONNX tensor name, or a module path meaning that module's output.
    pub fn resolve(&self, name: &str) -> Option<&GraphLayer> {
        if let Some(l) = self.layers.iter().find(|l| l.tensor == name || l.module.as_deref() == Some(name)) {
            return Some(l);
        }
        let scopes: Vec<Option<String>> = self.layers.iter().map(|l| l.scope.clone()).collect();
        names::resolve_module(&scopes, name).map(|i| &self.layers[i])
    }

    /// The layer's layout.
    pub fn layout(&self, value: usize) -> Option<Layout> {
        self.layouts.read().unwrap_or_else(|e| e.into_inner()).get(&value).copied()
    }

    /// Read `value` as `layout` from now on (the `--tokens` override); refused when its shape
    /// does not fit.
    pub fn set_layout(&self, value: usize, layout: Layout) -> Result<(), OnnxError> {
        let layer =
            self.layers.iter().find(|l| l.value == value).ok_or_else(|| OnnxError::Shape("no such layer".into()))?;
        if !layout.fits(&layer.dims) {
            return Err(OnnxError::Shape(format!(
                "'{}' has shape {:?}, which is not {}",
                layer.tensor,
                layer.dims,
                layout.describe()
            )));
        }
        self.layouts.write().unwrap_or_else(|e| e.into_inner()).insert(value, layout);
        Ok(())
    }

    /// The layer explained when none is chosen: for a transformer the last block's first norm
    /// (pytorch-grad-cam's advice: `norm1` in timm, `ln_1` in torchvision, `layernorm_before` in
    /// Hugging Face), else the feature map the classifier pools (the input of the last global
    /// pooling), else the last channels-first map.
    pub fn default_layer(&self) -> Option<&GraphLayer> {
        let is_block_norm = |s: &str| {
            let last = s.rsplit('.').next().unwrap_or(s);
            matches!(last, "norm1" | "ln_1" | "layernorm_before")
        };
        if let Some(l) = self.layers.iter().rev().find(|l| l.scope.as_deref().is_some_and(is_block_norm)) {
            let module = l.scope.clone().expect("checked");
            return self.resolve(&module);
        }
        // The last global pooling is the classifier's (earlier ones are squeeze-excitation's).
        let pooled = self
            .graph
            .steps
            .iter()
            .rev()
            .find(|s| is_global_pool(&self.graph, s))
            .and_then(|s| s.inputs.first().copied().flatten());
        if let Some(l) = pooled.and_then(|v| self.layers.iter().find(|l| l.value == v)) {
            return Some(l);
        }
        self.layers.iter().rev().find(|l| self.layout(l.value) == Some(Layout::ChannelsFirst)).or(self.layers.last())
    }

    /// How the value at `cut` is read as a map (the input is one already).
    fn layout_at(&self, cut: usize) -> Result<Layout, OnnxError> {
        if cut == self.graph.input {
            return Ok(Layout::ChannelsFirst);
        }
        self.layout(cut).ok_or_else(|| OnnxError::Shape(format!("'{}' is not a map layer", self.graph.names[cut])))
    }

    /// Image batches run whole when the export has a free batch axis, else one image at a time.
    fn rows(&self, n: usize) -> Vec<std::ops::Range<usize>> {
        let step = if self.graph.dynamic_batch { n.max(1) } else { 1 };
        (0..n).step_by(step).map(|i| i..(i + step).min(n)).collect()
    }

    /// Run `x` (`[N, 3, H, W]`) to the layer at value `cut`: its map `[N, C, h, w]` and what the
    /// rest of the graph needs besides it.
    pub fn forward_to(&self, x: Tensor<4>, cut: usize) -> Result<(Tensor<4>, Resume), OnnxError> {
        let [n, c, h, w] = x.dims();
        let layout = self.layout_at(cut)?;
        let mut maps = Vec::new();
        let mut runs = Vec::new();
        for rows in self.rows(n) {
            let part = x.clone().slice([rows.clone(), 0..c, 0..h, 0..w]);
            let (at, carried) = self.graph.run_front(F::R4(part), cut)?;
            let t = at.to_float(&self.graph.device)?;
            let (map, prefix) = tokens::to_map(t, layout)?;
            maps.push(map);
            runs.push(FrontPass { images: rows.len(), carried, prefix });
        }
        let map = if maps.len() == 1 { maps.pop().expect("one") } else { Tensor::cat(maps, 0) };
        Ok((map, Resume { runs }))
    }

    /// Run the graph from a map `a` (`[M, C, h, w]`) at the layer at `cut` to the logits
    /// `[M, classes]`. `resume` comes from [`OnnxNet::forward_to`] on the same images, or on one
    /// image whose values then serve every row of `a` (Ablation-CAM's batches of one image's
    /// changed maps).
    pub fn forward_from(&self, a: Tensor<4>, resume: Option<&Resume>, cut: usize) -> Result<Tensor<2>, OnnxError> {
        let [m, c, h, w] = a.dims();
        let layout = self.layout_at(cut)?;
        let none = Resume { runs: vec![] };
        let resume = resume.unwrap_or(&none);
        let needs_resume = cut != self.graph.input
            && (!self.graph.cut(cut).carried.is_empty() || matches!(layout, Layout::Tokens { prefix: 1.., .. }));
        if needs_resume && resume.runs.is_empty() {
            return Err(OnnxError::Shape(format!(
                "'{}' needs the values computed before it; run forward_to first",
                self.graph.names[cut]
            )));
        }
        // Pair every row range of `a` with the run whose values it uses.
        let covered: usize = resume.runs.iter().map(|r| r.images).sum();
        let plan: Vec<(std::ops::Range<usize>, Option<usize>)> = if resume.runs.is_empty() {
            self.rows(m).into_iter().map(|r| (r, None)).collect()
        } else if covered == m {
            let mut start = 0;
            resume
                .runs
                .iter()
                .enumerate()
                .map(|(i, r)| {
                    let range = start..start + r.images;
                    start += r.images;
                    (range, Some(i))
                })
                .collect()
        } else if resume.runs.len() == 1 && covered == 1 {
            (0..m).map(|i| (i..i + 1, Some(0))).collect()
        } else {
            return Err(OnnxError::Shape(format!("{m} maps but the values before the layer are for {covered} images")));
        };
        let mut outputs = Vec::with_capacity(plan.len());
        for (rows, run) in plan {
            let part = a.clone().slice([rows, 0..c, 0..h, 0..w]);
            let (carried, prefix) = match run {
                Some(i) => (resume.runs[i].carried.as_slice(), resume.runs[i].prefix.as_ref()),
                None => (&[][..], None),
            };
            let prefix = prefix.map(|p| if part.is_autodiff() { p.clone().autodiff() } else { p.clone() });
            let at = tokens::from_map(part, layout, prefix.as_ref());
            let out = self.graph.run_rest(Value::float(at), carried, cut)?;
            outputs.push(out.to_float(&self.graph.device)?.into_tensor2()?);
        }
        Ok(if outputs.len() == 1 { outputs.pop().expect("one") } else { Tensor::cat(outputs, 0) })
    }

    /// Run image 0 of `x` through the whole graph reading the attention probabilities of every
    /// block: the logits and, per block, `A` (`[B, heads, N, N]`) and, with `leaves`, the zero
    /// leaf whose gradient is the output's gradient at `A` (see [`exec::Graph::run_probed`]).
    pub fn attention_probe(&self, x: Tensor<4>, leaves: bool) -> Result<(Tensor<2>, exec::Probes), OnnxError> {
        if self.attention.is_empty() {
            return Err(OnnxError::Shape(
                "the model has no attention (no Softmax over query-key scores read by a MatMul)".into(),
            ));
        }
        let [_, c, h, w] = x.dims();
        let first = x.slice([0..1, 0..c, 0..h, 0..w]);
        let (out, probed) = self.graph.run_probed(F::R4(first), &self.attention, leaves)?;
        Ok((out.to_float(&self.graph.device)?.into_tensor2()?, probed))
    }

    /// The patch grid of `tokens` tokens: `(prefix tokens, (rows, columns))`.
    pub fn token_grid(&self, tokens: usize) -> Option<(usize, (usize, usize))> {
        match tokens::detect(&[1, tokens, 1], self.input_size, false)? {
            Layout::Tokens { prefix, grid } => Some((prefix, grid)),
            _ => None,
        }
    }

    /// Preprocessing the model's metadata asks for: `input_size`, `mean`, `std`, `crop_pct`
    /// (ImageNet's mean and std and a 0.875 crop otherwise, as torchvision and timm train).
    pub fn preprocess(&self) -> Result<Preprocess, OnnxError> {
        let triple = |key: &str, default: [f32; 3]| -> Result<[f32; 3], OnnxError> {
            match first_key(&self.metadata, &[key, &format!("image_{key}")]) {
                None => Ok(default),
                Some(text) => {
                    let v = parse_floats(text)
                        .filter(|v| v.len() == 3 || v.len() == 1)
                        .ok_or_else(|| OnnxError::File(format!("metadata '{key}' = '{text}' is not 3 numbers")))?;
                    Ok(if v.len() == 1 { [v[0]; 3] } else { [v[0], v[1], v[2]] })
                }
            }
        };
        let mean = triple("mean", [0.485, 0.456, 0.406])?;
        let std = triple("std", [0.229, 0.224, 0.225])?;
        let crop_pct = match self.metadata.get("crop_pct") {
            Some(t) => t
                .trim()
                .parse::<f32>()
                .ok()
                .filter(|p| *p > 0.0 && *p <= 1.0)
                .ok_or_else(|| OnnxError::File(format!("metadata 'crop_pct' = '{t}' is not in (0, 1]")))?,
            None => 0.875,
        };
        let side = self.input_size.0.min(self.input_size.1) as u32;
        let p = Preprocess { resize: (side as f32 / crop_pct).round() as u32, crop: side, mean, std };
        p.validate().map_err(|e| OnnxError::File(e.to_string()))?;
        Ok(p)
    }

    /// Class names from the metadata (`class_names`, `labels` or `id2label`: a JSON list or
    /// object, or comma-separated names), if it has them.
    pub fn class_names(&self) -> Option<Vec<String>> {
        let text = first_key(&self.metadata, &["class_names", "labels", "id2label", "names"])?;
        let names: Vec<String> = match serde_json::from_str::<serde_json::Value>(text) {
            Ok(serde_json::Value::Array(items)) => {
                items.iter().map(|v| v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string())).collect()
            }
            Ok(serde_json::Value::Object(map)) => {
                let mut pairs: Vec<(usize, String)> =
                    map.iter().filter_map(|(k, v)| Some((k.parse().ok()?, v.as_str()?.to_string()))).collect();
                pairs.sort();
                pairs.into_iter().map(|(_, v)| v).collect()
            }
            _ => text.split(',').map(|s| s.trim().to_string()).collect(),
        };
        (names.len() == self.classes).then_some(names)
    }
}

fn first_key<'a>(metadata: &'a BTreeMap<String, String>, keys: &[&str]) -> Option<&'a str> {
    keys.iter().find_map(|k| metadata.get(*k)).map(String::as_str)
}

fn parse_floats(text: &str) -> Option<Vec<f32>> {
    text.trim()
        .trim_start_matches(['[', '('])
        .trim_end_matches([']', ')'])
        .split(',')
        .map(|s| s.trim().parse::<f32>().ok())
        .collect()
}

/// A global pooling step: GlobalAveragePool/GlobalMaxPool, or a mean over the last two axes of
/// a rank-4 tensor.
fn is_global_pool(graph: &Graph, step: &exec::Step) -> bool {
    let axes = match &step.op {
        ops::Op::GlobalPool { .. } => return true,
        ops::Op::Reduce { kind: ops::Reduce::Mean | ops::Reduce::Max, axes: Some(axes), .. } => axes.clone(),
        // Opset 18 gives the axes as an input.
        ops::Op::Reduce { kind: ops::Reduce::Mean | ops::Reduce::Max, axes: None, .. } => {
            match step.inputs.get(1).copied().flatten().and_then(|v| graph.constant(v)) {
                Some(v) => v.to_ints().values,
                None => return false,
            }
        }
        _ => return false,
    };
    let mut a = axes;
    a.sort_unstable();
    a == [2, 3] || a == [-2, -1]
}

/// The head CAM needs, if the graph ends in one: global average pooling of a map `A` (keeping or
/// dropping the spatial axes), an optional Flatten/Reshape/Squeeze, then a Gemm with constant
/// weights straight to the output: `y = W mean_ij A_ij + b`.
fn cam_head(graph: &Graph, device: &Device) -> Option<CamHead> {
    let by_output: HashMap<usize, &exec::Step> =
        graph.steps.iter().flat_map(|s| s.outputs.iter().map(move |&o| (o, s))).collect();
    let gemm = by_output.get(&graph.output)?;
    let ops::Op::Gemm { alpha, beta, trans_a: false, trans_b } = gemm.op else { return None };
    if alpha != 1.0 || beta != 1.0 {
        return None;
    }
    let mut v = gemm.inputs.first().copied().flatten()?;
    while let Some(step) = by_output.get(&v) {
        match step.op {
            ops::Op::Flatten { .. } | ops::Op::Reshape { .. } | ops::Op::Squeeze { .. } | ops::Op::Identity => {
                v = step.inputs.first().copied().flatten()?
            }
            _ => break,
        }
    }
    let pool = by_output.get(&v)?;
    if !is_global_pool(graph, pool)
        || matches!(pool.op, ops::Op::GlobalPool { max: true } | ops::Op::Reduce { kind: ops::Reduce::Max, .. })
    {
        return None;
    }
    let pooled = pool.inputs.first().copied().flatten()?;
    let weight = graph.constant(gemm.inputs.get(1).copied().flatten()?)?.to_float(device).ok()?;
    let (w, dims) = (weight.values(), weight.dims());
    let [rows, cols] = dims[..] else { return None };
    // Linear keeps [in, out]: a Gemm with transB holds W as [out, in].
    let (inputs, outputs, values) = if trans_b {
        (cols, rows, (0..cols).flat_map(|i| (0..rows).map(move |o| (i, o))).map(|(i, o)| w[o * cols + i]).collect())
    } else {
        (rows, cols, w)
    };
    let bias = match gemm.inputs.get(2).copied().flatten() {
        Some(b) => graph.constant(b)?.to_float(device).ok()?.values(),
        None => vec![0.0; outputs],
    };
    if bias.len() != outputs {
        return None;
    }
    Some(CamHead {
        pooled,
        weight: Tensor::from_data(burn::tensor::TensorData::new(values, [inputs, outputs]), device),
        bias: Tensor::from_data(burn::tensor::TensorData::new(bias, [outputs]), device),
    })
}

/// The input's `(height, width)`: the graph's declared size, else the metadata's
/// `input_size`, else 224.
fn input_size(model: &proto::ModelDef) -> Result<(usize, usize), OnnxError> {
    let dims = &model.input.dims;
    if dims.len() != 4 {
        return Err(OnnxError::File(format!(
            "the input '{}' has {} axes; Lantern explains image models with an [N, 3, H, W] input",
            model.input.name,
            dims.len()
        )));
    }
    if let Some(c) = dims[1]
        && c != 3
    {
        return Err(OnnxError::File(format!("the input has {c} channels; Lantern explains RGB models (3 channels)")));
    }
    let declared = match (dims[2], dims[3]) {
        (Some(h), Some(w)) => Some((h, w)),
        _ => None,
    };
    let from_metadata = match first_key(&model.metadata, &["input_size", "image_size"]) {
        Some(text) => {
            let v = parse_floats(text)
                .filter(|v| !v.is_empty() && v.iter().all(|x| *x >= 1.0 && *x <= 4096.0))
                .ok_or_else(|| OnnxError::File(format!("metadata 'input_size' = '{text}' is not a size")))?;
            let v: Vec<usize> = v.iter().map(|x| *x as usize).collect();
            Some(match v.as_slice() {
                [s] => (*s, *s),
                [.., h, w] => (*h, *w),
                [] => unreachable!("checked non-empty"),
            })
        }
        None => None,
    };
    let size = declared.or(from_metadata).unwrap_or((224, 224));
    if size.0 > 4096 || size.1 > 4096 {
        return Err(OnnxError::File(format!("the input is {}x{}, over the 4096-pixel limit", size.0, size.1)));
    }
    Ok(size)
}

/// The attention probabilities: Softmax over the last axis of a rank-4 `[B, heads, N, N]`
/// tensor whose result multiplies the values (a MatMul reads it).
fn attention_values(graph: &Graph, env: &[Option<Value>]) -> Vec<usize> {
    graph
        .steps
        .iter()
        .filter(|s| matches!(s.op, ops::Op::Softmax { log: false, .. }))
        .filter_map(|s| {
            let v = s.outputs[0];
            let dims = env[v].as_ref()?.dims();
            let square = dims.len() == 4 && dims[2] == dims[3];
            let read_by_matmul = graph.steps.iter().any(|t| t.kind == "MatMul" && t.inputs.first() == Some(&Some(v)));
            (square && read_by_matmul && graph.reaches_output(v)).then_some(v)
        })
        .collect()
}

/// An ONNX file opened with what travels with it, ready to become a `Network`.
pub struct Opened {
    pub net: OnnxNet,
    pub preprocess: Preprocess,
    pub labels: crate::models::Labels,
    pub output: crate::models::OutputKind,
    /// `onnx:<file stem>`.
    pub arch: String,
}

/// Open an ONNX model: labels from the metadata, else from `<model>.labels.txt`, else numbered;
/// the metadata key `output` (`softmax`, `sigmoid`, `embedding`) says how the output is read
/// (softmax classes when absent).
pub fn open_file(path: &Path, device: &Device) -> crate::error::Result<Opened> {
    let net = OnnxNet::open(path, device).map_err(|e| bad_file(path, e))?;
    opened(net, path)
}

/// [`open_file`] for a model held in memory; `name` is the file's name (for its labels file,
/// its architecture and errors).
pub fn open_bytes(name: &str, bytes: &[u8], device: &Device) -> crate::error::Result<Opened> {
    let path = Path::new(name);
    let net = OnnxNet::open_bytes(bytes, device).map_err(|e| bad_file(path, e))?;
    opened(net, path)
}

fn bad_file(path: &Path, e: OnnxError) -> crate::error::LanternError {
    crate::error::LanternError::ModelFile { path: path.to_path_buf(), reason: e.to_string() }
}

/// What travels with an opened `net` read from `path`.
fn opened(net: OnnxNet, path: &Path) -> crate::error::Result<Opened> {
    use crate::models::{Labels, OutputKind};
    let bad = |e: OnnxError| bad_file(path, e);
    let preprocess = net.preprocess().map_err(bad)?;
    let labels = match net.class_names() {
        Some(names) => Labels::from_names(names),
        None => Labels::for_model(path, net.classes)?,
    };
    let output = match first_key(&net.metadata, &["output", "lantern.output"]).map(|o| o.trim().to_ascii_lowercase()) {
        None => OutputKind::Softmax,
        Some(o) if o == "softmax" || o == "logits" => OutputKind::Softmax,
        Some(o) if o == "sigmoid" || o == "multilabel" => OutputKind::Sigmoid,
        Some(o) if o == "embedding" => OutputKind::Embedding,
        Some(o) => {
            return Err(bad(OnnxError::File(format!(
                "metadata 'output' = '{o}': expected softmax, sigmoid or embedding"
            ))));
        }
    };
    Ok(Opened { net, preprocess, labels, output, arch: arch_name(path) })
}

/// The architecture shown for an ONNX model: its file stem.
fn arch_name(path: &Path) -> String {
    format!("onnx:{}", path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default())
}
