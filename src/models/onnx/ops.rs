//! The ONNX operators Lantern runs, each parsed once at load from its node's attributes into an
//! [`Op`] (opset differences resolved there), and the list of supported operator names that a
//! model is checked against before anything runs.

use super::OnnxError;
use super::proto::{Attr, HostTensor, NodeDef};

/// Operators of the default domain the interpreter runs.
pub const SUPPORTED: &[&str] = &[
    "Abs",
    "Add",
    "And",
    "AveragePool",
    "BatchNormalization",
    "Cast",
    "Ceil",
    "Clip",
    "Concat",
    "Constant",
    "ConstantOfShape",
    "Conv",
    "Div",
    "Dropout",
    "Einsum",
    "Equal",
    "Erf",
    "Exp",
    "Expand",
    "Flatten",
    "Floor",
    "Gather",
    "Gelu",
    "Gemm",
    "GlobalAveragePool",
    "GlobalMaxPool",
    "Greater",
    "HardSigmoid",
    "HardSwish",
    "Identity",
    "LayerNormalization",
    "LeakyRelu",
    "Less",
    "Log",
    "LogSoftmax",
    "MatMul",
    "Max",
    "MaxPool",
    "Min",
    "Mod",
    "Mul",
    "Neg",
    "Not",
    "Or",
    "Pad",
    "Pow",
    "Range",
    "Reciprocal",
    "ReduceMax",
    "ReduceMean",
    "ReduceSum",
    "Relu",
    "Reshape",
    "Shape",
    "Sigmoid",
    "Size",
    "Slice",
    "Softmax",
    "Split",
    "Sqrt",
    "Squeeze",
    "Sub",
    "Tanh",
    "Tile",
    "Transpose",
    "Unsqueeze",
    "Where",
];

/// Unary float functions.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Unary {
    Relu,
    Sigmoid,
    Tanh,
    Exp,
    Log,
    Neg,
    Abs,
    Sqrt,
    Erf,
    Reciprocal,
    Floor,
    Ceil,
    /// `x * relu6(x + 3) / 6` (Howard et al. 2019, MobileNetV3).
    HardSwish,
    /// `clamp(alpha * x + beta, 0, 1)`.
    HardSigmoid {
        alpha: f32,
        beta: f32,
    },
    LeakyRelu {
        alpha: f32,
    },
    /// Exact GELU `x * Phi(x)`, or its tanh approximation.
    Gelu {
        tanh: bool,
    },
}

/// Elementwise binary operators with numpy broadcasting (`Max` and `Min` fold over any number of
/// inputs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Binary {
    Add,
    Sub,
    Mul,
    Div,
    Pow,
    Max,
    Min,
    /// The remainder with the divisor's sign (Python's `%`, ONNX `Mod` with `fmod = 0`).
    Mod,
    /// The remainder with the dividend's sign (C's `fmod`, `fmod = 1`).
    Fmod,
}

/// Comparisons and logic, computed on the host (they feed shape arithmetic and masks).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compare {
    Equal,
    Less,
    Greater,
    And,
    Or,
}

/// Reductions over axes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reduce {
    Mean,
    Sum,
    Max,
}

/// What `Cast` converts to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CastTo {
    Float,
    Int,
    Bool,
}

/// 2-D pooling and convolution geometry: `pads` as `(begin, end)` per spatial axis, or
/// `same` for `auto_pad = SAME_UPPER/SAME_LOWER` (resolved at run time from the input size).
#[derive(Debug, Clone, PartialEq)]
pub struct Window {
    pub kernel: Option<[usize; 2]>,
    pub strides: [usize; 2],
    pub dilations: [usize; 2],
    pub pads: [(usize, usize); 2],
    pub same: Option<SameMode>,
    pub ceil: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SameMode {
    /// Extra padding at the end (TensorFlow's `SAME`).
    Upper,
    Lower,
}

impl Window {
    /// Padding of one spatial axis for an input of length `input`.
    pub fn pads_for(&self, axis: usize, input: usize, kernel: usize) -> (usize, usize) {
        match self.same {
            None => self.pads[axis],
            Some(mode) => {
                let stride = self.strides[axis];
                let out = input.div_ceil(stride);
                let span = (kernel - 1) * self.dilations[axis] + 1;
                let total = ((out.saturating_sub(1)) * stride + span).saturating_sub(input);
                match mode {
                    SameMode::Upper => (total / 2, total - total / 2),
                    SameMode::Lower => (total - total / 2, total / 2),
                }
            }
        }
    }
}

/// One parsed operator.
#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    Unary(Unary),
    Binary(Binary),
    Compare(Compare),
    Not,
    Clip { min: Option<f32>, max: Option<f32> },
    Identity,
    Conv { window: Window, groups: usize },
    BatchNorm { epsilon: f32 },
    LayerNorm { axis: i64, epsilon: f32 },
    MaxPool(Window),
    AveragePool { window: Window, count_include_pad: bool },
    GlobalPool { max: bool },
    Reduce { kind: Reduce, axes: Option<Vec<i64>>, keepdims: bool, noop_with_empty_axes: bool },
    Softmax { axis: i64, log: bool },
    Gemm { alpha: f32, beta: f32, trans_a: bool, trans_b: bool },
    MatMul,
    Einsum { equation: String },
    Flatten { axis: i64 },
    Reshape { allowzero: bool },
    Transpose { perm: Option<Vec<usize>> },
    Concat { axis: i64 },
    Slice,
    Split { axis: i64, sizes: Option<Vec<i64>>, outputs: usize },
    Gather { axis: i64 },
    Squeeze { axes: Option<Vec<i64>> },
    Unsqueeze { axes: Option<Vec<i64>> },
    Expand,
    Tile,
    Shape { start: i64, end: Option<i64> },
    Size,
    ConstantOfShape { value: HostTensor },
    Constant(HostTensor),
    Range,
    Cast(CastTo),
    Where,
    Pad { mode: PadKind },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PadKind {
    Constant,
    Reflect,
    Edge,
}

fn pair(v: &[i64], what: &str, node: &NodeDef) -> Result<[usize; 2], OnnxError> {
    match v {
        [a, b] if *a > 0 && *b > 0 => Ok([*a as usize, *b as usize]),
        _ => Err(node_error(node, format!("{what} {v:?}: only 2-D windows with positive sizes are supported"))),
    }
}

fn node_error(node: &NodeDef, reason: String) -> OnnxError {
    OnnxError::Node { node: display_name(node), op: node.op.clone(), reason }
}

/// The node's name, or its first output's when it has none.
pub fn display_name(node: &NodeDef) -> String {
    if node.name.is_empty() { node.outputs.first().cloned().unwrap_or_default() } else { node.name.clone() }
}

fn window(node: &NodeDef) -> Result<Window, OnnxError> {
    let kernel = node.ints("kernel_shape").map(|k| pair(k, "kernel_shape", node)).transpose()?;
    let strides = node.ints("strides").map(|s| pair(s, "strides", node)).transpose()?.unwrap_or([1, 1]);
    let dilations = node.ints("dilations").map(|s| pair(s, "dilations", node)).transpose()?.unwrap_or([1, 1]);
    let pads = match node.ints("pads") {
        None => [(0, 0); 2],
        Some([t, l, b, r]) if [*t, *l, *b, *r].iter().all(|p| (0..=1 << 20).contains(p)) => {
            [(*t as usize, *b as usize), (*l as usize, *r as usize)]
        }
        Some(p) => return Err(node_error(node, format!("pads {p:?}: expected four non-negative values"))),
    };
    let same = match node.string("auto_pad").unwrap_or("NOTSET") {
        "NOTSET" | "VALID" | "" => None,
        "SAME_UPPER" => Some(SameMode::Upper),
        "SAME_LOWER" => Some(SameMode::Lower),
        other => return Err(node_error(node, format!("auto_pad '{other}' is not an ONNX value"))),
    };
    Ok(Window { kernel, strides, dilations, pads, same, ceil: node.int("ceil_mode").unwrap_or(0) != 0 })
}

/// Axes given as an attribute before opset 13 (18 for the reductions) and as an input after; the
/// attribute form is read here, the input form at run time.
fn axes_attr(node: &NodeDef) -> Option<Vec<i64>> {
    node.ints("axes").map(<[i64]>::to_vec)
}

/// The value of a `Constant` node.
fn constant(node: &NodeDef) -> Result<HostTensor, OnnxError> {
    if let Some(Attr::Tensor(t)) = node.attrs.get("value") {
        return Ok(t.clone());
    }
    Ok(
        match (
            node.attrs.get("value_float"),
            node.attrs.get("value_floats"),
            node.attrs.get("value_int"),
            node.attrs.get("value_ints"),
        ) {
            (Some(Attr::Float(v)), ..) => HostTensor::Float { dims: vec![], values: vec![*v] },
            (_, Some(Attr::Floats(v)), ..) => HostTensor::Float { dims: vec![v.len()], values: v.clone() },
            (_, _, Some(Attr::Int(v)), _) => HostTensor::Int { dims: vec![], values: vec![*v] },
            (_, _, _, Some(Attr::Ints(v))) => HostTensor::Int { dims: vec![v.len()], values: v.clone() },
            _ => {
                return Err(node_error(
                    node,
                    "a Constant with no value Lantern reads (sparse or string constants are not supported)".into(),
                ));
            }
        },
    )
}

impl Op {
    /// Parse a node of a supported operator (the caller checked the name against [`SUPPORTED`]).
    pub fn parse(node: &NodeDef, opset: i64) -> Result<Op, OnnxError> {
        let unary = |u| Ok(Op::Unary(u));
        match node.op.as_str() {
            "Relu" => unary(Unary::Relu),
            "Sigmoid" => unary(Unary::Sigmoid),
            "Tanh" => unary(Unary::Tanh),
            "Exp" => unary(Unary::Exp),
            "Log" => unary(Unary::Log),
            "Neg" => unary(Unary::Neg),
            "Abs" => unary(Unary::Abs),
            "Sqrt" => unary(Unary::Sqrt),
            "Erf" => unary(Unary::Erf),
            "Reciprocal" => unary(Unary::Reciprocal),
            "Floor" => unary(Unary::Floor),
            "Ceil" => unary(Unary::Ceil),
            "HardSwish" => unary(Unary::HardSwish),
            "HardSigmoid" => unary(Unary::HardSigmoid {
                alpha: node.float("alpha").unwrap_or(0.2),
                beta: node.float("beta").unwrap_or(0.5),
            }),
            "LeakyRelu" => unary(Unary::LeakyRelu { alpha: node.float("alpha").unwrap_or(0.01) }),
            "Gelu" => unary(Unary::Gelu { tanh: node.string("approximate") == Some("tanh") }),
            "Add" => Ok(Op::Binary(Binary::Add)),
            "Sub" => Ok(Op::Binary(Binary::Sub)),
            "Mul" => Ok(Op::Binary(Binary::Mul)),
            "Div" => Ok(Op::Binary(Binary::Div)),
            "Pow" => Ok(Op::Binary(Binary::Pow)),
            "Max" => Ok(Op::Binary(Binary::Max)),
            "Min" => Ok(Op::Binary(Binary::Min)),
            "Mod" => Ok(Op::Binary(if node.int("fmod").unwrap_or(0) != 0 { Binary::Fmod } else { Binary::Mod })),
            "Equal" => Ok(Op::Compare(Compare::Equal)),
            "Less" => Ok(Op::Compare(Compare::Less)),
            "Greater" => Ok(Op::Compare(Compare::Greater)),
            "And" => Ok(Op::Compare(Compare::And)),
            "Or" => Ok(Op::Compare(Compare::Or)),
            "Not" => Ok(Op::Not),
            "Clip" => Ok(Op::Clip { min: node.float("min"), max: node.float("max") }),
            "Identity" | "Dropout" => Ok(Op::Identity),
            "Conv" => Ok(Op::Conv { window: window(node)?, groups: node.int("group").unwrap_or(1).max(1) as usize }),
            "BatchNormalization" => Ok(Op::BatchNorm { epsilon: node.float("epsilon").unwrap_or(1e-5) }),
            "LayerNormalization" => Ok(Op::LayerNorm {
                axis: node.int("axis").unwrap_or(-1),
                epsilon: node.float("epsilon").unwrap_or(1e-5),
            }),
            "MaxPool" => {
                if node.outputs.len() > 1 && node.outputs[1..].iter().any(|o| !o.is_empty()) {
                    return Err(node_error(node, "MaxPool's indices output is not supported".into()));
                }
                let w = window(node)?;
                if w.kernel.is_none() {
                    return Err(node_error(node, "MaxPool without kernel_shape".into()));
                }
                Ok(Op::MaxPool(w))
            }
            "AveragePool" => {
                let w = window(node)?;
                if w.kernel.is_none() {
                    return Err(node_error(node, "AveragePool without kernel_shape".into()));
                }
                Ok(Op::AveragePool { window: w, count_include_pad: node.int("count_include_pad").unwrap_or(0) != 0 })
            }
            "GlobalAveragePool" => Ok(Op::GlobalPool { max: false }),
            "GlobalMaxPool" => Ok(Op::GlobalPool { max: true }),
            "ReduceMean" | "ReduceSum" | "ReduceMax" => Ok(Op::Reduce {
                kind: match node.op.as_str() {
                    "ReduceMean" => Reduce::Mean,
                    "ReduceSum" => Reduce::Sum,
                    _ => Reduce::Max,
                },
                axes: axes_attr(node),
                keepdims: node.int("keepdims").unwrap_or(1) != 0,
                noop_with_empty_axes: node.int("noop_with_empty_axes").unwrap_or(0) != 0,
            }),
            "Softmax" | "LogSoftmax" => Ok(Op::Softmax {
                axis: node.int("axis").unwrap_or(if opset >= 13 { -1 } else { 1 }),
                log: node.op == "LogSoftmax",
            }),
            "Gemm" => Ok(Op::Gemm {
                alpha: node.float("alpha").unwrap_or(1.0),
                beta: node.float("beta").unwrap_or(1.0),
                trans_a: node.int("transA").unwrap_or(0) != 0,
                trans_b: node.int("transB").unwrap_or(0) != 0,
            }),
            "MatMul" => Ok(Op::MatMul),
            "Einsum" => {
                let equation = node.string("equation").unwrap_or_default().replace(' ', "");
                if equation.contains("...") || !equation.contains("->") {
                    return Err(node_error(
                        node,
                        format!("einsum '{equation}': only explicit equations without '...' are supported"),
                    ));
                }
                Ok(Op::Einsum { equation })
            }
            "Flatten" => Ok(Op::Flatten { axis: node.int("axis").unwrap_or(1) }),
            "Reshape" => Ok(Op::Reshape { allowzero: node.int("allowzero").unwrap_or(0) != 0 }),
            "Transpose" => Ok(Op::Transpose {
                perm: node
                    .ints("perm")
                    .map(|p| {
                        p.iter()
                            .map(|&a| {
                                usize::try_from(a)
                                    .map_err(|_| node_error(node, format!("perm {p:?} has a negative axis")))
                            })
                            .collect::<Result<Vec<_>, _>>()
                    })
                    .transpose()?,
            }),
            "Concat" => {
                Ok(Op::Concat { axis: node.int("axis").ok_or_else(|| node_error(node, "Concat without axis".into()))? })
            }
            "Slice" => {
                if opset < 10 {
                    return Err(node_error(node, "Slice before opset 10 (attributes) is not supported".into()));
                }
                Ok(Op::Slice)
            }
            "Split" => Ok(Op::Split {
                axis: node.int("axis").unwrap_or(0),
                sizes: node.ints("split").map(<[i64]>::to_vec),
                outputs: node.outputs.len(),
            }),
            "Gather" => Ok(Op::Gather { axis: node.int("axis").unwrap_or(0) }),
            "Squeeze" => Ok(Op::Squeeze { axes: axes_attr(node) }),
            "Unsqueeze" => Ok(Op::Unsqueeze { axes: axes_attr(node) }),
            "Expand" => Ok(Op::Expand),
            "Tile" => Ok(Op::Tile),
            "Shape" => Ok(Op::Shape { start: node.int("start").unwrap_or(0), end: node.int("end") }),
            "Size" => Ok(Op::Size),
            "ConstantOfShape" => Ok(Op::ConstantOfShape {
                value: match node.attrs.get("value") {
                    Some(Attr::Tensor(t)) => t.clone(),
                    _ => HostTensor::Float { dims: vec![1], values: vec![0.0] },
                },
            }),
            "Constant" => Ok(Op::Constant(constant(node)?)),
            "Range" => Ok(Op::Range),
            "Cast" => Ok(Op::Cast(match node.int("to").unwrap_or(1) {
                1 | 10 | 11 | 16 => CastTo::Float,
                9 => CastTo::Bool,
                2..=7 | 12 | 13 => CastTo::Int,
                other => return Err(node_error(node, format!("Cast to data type {other} is not supported"))),
            })),
            "Where" => Ok(Op::Where),
            "Pad" => {
                if opset < 11 {
                    return Err(node_error(node, "Pad before opset 11 (attributes) is not supported".into()));
                }
                Ok(Op::Pad {
                    mode: match node.string("mode").unwrap_or("constant") {
                        "constant" => PadKind::Constant,
                        "reflect" => PadKind::Reflect,
                        "edge" => PadKind::Edge,
                        other => return Err(node_error(node, format!("Pad mode '{other}' is not supported"))),
                    },
                })
            }
            other => Err(node_error(node, format!("operator {other} is not supported"))),
        }
    }
}

/// Resolve a possibly negative axis against `rank`.
pub fn axis(axis: i64, rank: usize) -> Result<usize, OnnxError> {
    let r = rank as i64;
    let a = if axis < 0 { axis + r } else { axis };
    if (0..r.max(1)).contains(&a) {
        Ok(a as usize)
    } else {
        Err(OnnxError::Shape(format!("axis {axis} is out of range for rank {rank}")))
    }
}
