//! Running one parsed operator on its input values. Float work goes through burn's tensor ops,
//! so an autodiff leaf anywhere upstream records a gradient through every node; integer and
//! boolean work (shapes, indices, masks) runs on the host.

use burn::tensor::activation::{gelu, hard_sigmoid, log_softmax, relu, sigmoid, softmax};
use burn::tensor::module::{avg_pool2d, conv2d, max_pool2d};
use burn::tensor::ops::{AvgPoolOptions, ConvOptions, MaxPoolOptions, PadMode};
use burn::tensor::{Device, Int, Slice, Tensor, TensorData};

use super::OnnxError;
use super::host;
use super::ops::{Binary, CastTo, Compare, Op, PadKind, Reduce, Unary, Window, axis};
use super::proto::HostTensor;
use super::value::{BoolF, Bools, F, Ints, Value, device_mask, each, unify, with};

/// Apply a host function, generic over the element type and returning `(dims, values)`, to an
/// integer or boolean value (floats take the device path before this is reached).
macro_rules! on_host {
    ($v:expr, $dims:ident, $values:ident => $body:expr) => {
        match $v {
            Value::Int(i) => {
                let ($dims, $values) = (&i.dims, &i.values);
                let (dims, values) = $body;
                Value::Int(Ints { dims, values })
            }
            Value::Bool(b) => {
                let ($dims, $values) = (&b.dims, &b.values);
                let (dims, values) = $body;
                Value::Bool(Bools { dims, values })
            }
            Value::Float { .. } => unreachable!("float values run on the device"),
        }
    };
}

fn arr<const N: usize>(v: &[usize]) -> [usize; N] {
    let mut out = [0; N];
    out.copy_from_slice(v);
    out
}

fn shape_error(what: impl Into<String>) -> OnnxError {
    OnnxError::Shape(what.into())
}

/// Largest tensor an operator may create from sizes in the graph (Expand, Tile, Pad,
/// ConstantOfShape, Range): 2^28 floats, 1 GiB.
const MAX_CREATED: usize = 1 << 28;

fn check_created(dims: &[usize], op: &str) -> Result<(), OnnxError> {
    let count = dims.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d)).filter(|&c| c <= MAX_CREATED);
    match count {
        Some(_) => Ok(()),
        None => Err(shape_error(format!("{op} would create a tensor of {dims:?}, over the {MAX_CREATED}-value limit"))),
    }
}

/// Input `i`, required.
fn input(inputs: &[Option<Value>], i: usize) -> Result<&Value, OnnxError> {
    inputs.get(i).and_then(Option::as_ref).ok_or_else(|| shape_error(format!("input {i} is missing")))
}

/// A float input as a tensor.
fn float(inputs: &[Option<Value>], i: usize, device: &Device) -> Result<F, OnnxError> {
    input(inputs, i)?.to_float(device)
}

fn rank4(t: F, op: &str) -> Result<Tensor<4>, OnnxError> {
    let dims = t.dims();
    t.into_tensor4().map_err(|_| shape_error(format!("{op} runs on [N, C, H, W] inputs, got {dims:?}")))
}

/// A host scalar from a small value (a Clip bound, a Pow exponent, a pad value).
fn scalar_of(v: &Value) -> f32 {
    match v {
        Value::Float { t, .. } => t.values().first().copied().unwrap_or(0.0),
        Value::Int(i) => i.values.first().copied().unwrap_or(0) as f32,
        Value::Bool(b) => b.values.first().map_or(0.0, |&x| if x { 1.0 } else { 0.0 }),
    }
}

/// Apply `op` to `inputs` (omitted optional inputs are `None`), producing `outputs` values.
pub fn eval(op: &Op, inputs: &[Option<Value>], outputs: usize, device: &Device) -> Result<Vec<Value>, OnnxError> {
    let one = |v: Value| Ok(vec![v]);
    match op {
        Op::Unary(u) => match (u, input(inputs, 0)?) {
            (Unary::Neg, Value::Int(i)) => one(Value::Int(Ints {
                dims: i.dims.clone(),
                values: i.values.iter().map(|v| v.wrapping_neg()).collect(),
            })),
            (Unary::Abs, Value::Int(i)) => one(Value::Int(Ints {
                dims: i.dims.clone(),
                values: i.values.iter().map(|v| v.wrapping_abs()).collect(),
            })),
            (_, v) => {
                let scalar = matches!(v, Value::Float { scalar: true, .. });
                Ok(vec![Value::Float { t: unary(*u, v.to_float(device)?), scalar }])
            }
        },
        // Max and Min take any number of inputs: fold them (the arithmetic operators have two).
        Op::Binary(b) => inputs
            .iter()
            .flatten()
            .skip(1)
            .try_fold(input(inputs, 0)?.clone(), |acc, v| binary_values(*b, &acc, v, device))
            .map(|v| vec![v]),
        Op::Compare(c) => one(Value::Bool(compare(*c, input(inputs, 0)?, input(inputs, 1)?)?)),
        Op::Not => {
            let b = input(inputs, 0)?.to_bools();
            one(Value::Bool(Bools { dims: b.dims, values: b.values.iter().map(|v| !v).collect() }))
        }
        Op::Clip { min, max } => {
            let lo = inputs.get(1).and_then(Option::as_ref).map(scalar_of).or(*min);
            let hi = inputs.get(2).and_then(Option::as_ref).map(scalar_of).or(*max);
            let scalar = input(inputs, 0)?.dims().is_empty();
            let t = float(inputs, 0, device)?;
            let t = match lo {
                Some(l) => each!(t, x => x.clamp_min(l)),
                None => t,
            };
            let t = match hi {
                Some(h) => each!(t, x => x.clamp_max(h)),
                None => t,
            };
            one(Value::Float { t, scalar })
        }
        Op::Identity => {
            let v = input(inputs, 0)?.clone();
            let mut out = vec![v.clone()];
            // Dropout's mask output, when asked for: all kept in inference.
            for _ in 1..outputs {
                let dims = v.dims();
                out.push(Value::Bool(Bools { values: vec![true; dims.iter().product()], dims }));
            }
            Ok(out)
        }
        Op::Conv { window, groups } => one(Value::float(F::R4(conv(inputs, window, *groups, device)?))),
        Op::BatchNorm { epsilon } => one(Value::float(batch_norm(inputs, *epsilon, device)?)),
        Op::LayerNorm { axis: a, epsilon } => one(Value::float(layer_norm(inputs, *a, *epsilon, device)?)),
        Op::MaxPool(w) => {
            let x = rank4(float(inputs, 0, device)?, "MaxPool")?;
            let [_, _, h, wd] = x.dims();
            let k = w.kernel.expect("parsed with a kernel");
            let options = MaxPoolOptions {
                kernel_size: k,
                stride: w.strides,
                padding: [w.pads_for(0, h, k[0]), w.pads_for(1, wd, k[1])],
                dilation: w.dilations,
                ceil_mode: w.ceil,
            };
            check_window(h, wd, &options.kernel_size, &options.padding, &options.dilation)?;
            one(Value::float(F::R4(max_pool2d(x, options))))
        }
        Op::AveragePool { window: w, count_include_pad } => {
            let x = rank4(float(inputs, 0, device)?, "AveragePool")?;
            let [_, _, h, wd] = x.dims();
            let k = w.kernel.expect("parsed with a kernel");
            let padding = [w.pads_for(0, h, k[0]), w.pads_for(1, wd, k[1])];
            check_window(h, wd, &k, &padding, &[1, 1])?;
            let options = AvgPoolOptions {
                kernel_size: k,
                stride: w.strides,
                padding,
                count_include_pad: *count_include_pad,
                ceil_mode: w.ceil,
            };
            one(Value::float(F::R4(avg_pool2d(x, options))))
        }
        Op::GlobalPool { max } => {
            let t = float(inputs, 0, device)?;
            let r = t.rank();
            if r < 3 {
                return Err(shape_error(format!("global pooling needs spatial axes, got {:?}", t.dims())));
            }
            let mut t = t;
            for a in 2..r {
                t = if *max { each!(t, x => x.max_dim(a)) } else { each!(t, x => x.mean_dim(a)) };
            }
            one(Value::float(t))
        }
        Op::Reduce { kind, axes, keepdims, noop_with_empty_axes } => {
            let axes = match (axes, inputs.get(1).and_then(Option::as_ref)) {
                (Some(a), _) => a.clone(),
                (None, Some(v)) => v.to_ints().values,
                (None, None) => vec![],
            };
            reduce(float(inputs, 0, device)?, *kind, &axes, *keepdims, *noop_with_empty_axes)
                .map(|t| vec![Value::float(t)])
        }
        Op::Softmax { axis: a, log } => {
            let t = float(inputs, 0, device)?;
            let d = axis(*a, t.rank())?;
            one(Value::float(if *log { each!(t, x => log_softmax(x, d)) } else { each!(t, x => softmax(x, d)) }))
        }
        Op::Gemm { alpha, beta, trans_a, trans_b } => {
            let a = float(inputs, 0, device)?.into_tensor2()?;
            let b = float(inputs, 1, device)?.into_tensor2()?;
            let a = if *trans_a { a.transpose() } else { a };
            let b = if *trans_b { b.transpose() } else { b };
            let y = matmul(F::R2(a), F::R2(b))?;
            let y = if *alpha != 1.0 { each!(y, t => t * *alpha) } else { y };
            let y = match inputs.get(2).and_then(Option::as_ref) {
                Some(c) => {
                    let c = c.to_float(device)?;
                    let c = if *beta != 1.0 { each!(c, x => x * *beta) } else { c };
                    binary(Binary::Add, y, c)?
                }
                None => y,
            };
            one(Value::float(y))
        }
        Op::MatMul => one(Value::float(matmul(float(inputs, 0, device)?, float(inputs, 1, device)?)?)),
        Op::Einsum { equation } => one(Value::float(einsum(equation, inputs, device)?)),
        Op::Flatten { axis: a } => {
            let v = input(inputs, 0)?;
            let dims = v.dims();
            let k = axis(*a, dims.len() + 1)?;
            let outer: usize = dims[..k].iter().product();
            let inner: usize = dims[k..].iter().product();
            one(reshape_value(v, &[outer, inner])?)
        }
        Op::Reshape { allowzero } => {
            let v = input(inputs, 0)?;
            let shape = input(inputs, 1)?.to_ints().values;
            let dims = reshape_target(&v.dims(), &shape, *allowzero)?;
            one(reshape_value(v, &dims)?)
        }
        Op::Transpose { perm } => {
            let v = input(inputs, 0)?;
            let r = v.dims().len();
            let perm = perm.clone().unwrap_or_else(|| (0..r).rev().collect());
            let mut sorted = perm.clone();
            sorted.sort_unstable();
            if sorted != (0..r).collect::<Vec<_>>() {
                return Err(shape_error(format!("perm {perm:?} is not a permutation of {r} axes")));
            }
            one(match v {
                Value::Float { t, scalar } => {
                    Value::Float { t: each!(t.clone(), x => permute_any(x, &perm)), scalar: *scalar }
                }
                other => on_host!(other, dims, values => host::transpose(dims, values, &perm)),
            })
        }
        Op::Concat { axis: a } => concat(inputs, *a, device).map(|v| vec![v]),
        Op::Slice => slice(inputs).map(|v| vec![v]),
        Op::Split { axis: a, sizes, outputs: n } => split(inputs, *a, sizes.as_deref(), *n),
        Op::Gather { axis: a } => gather(input(inputs, 0)?, &input(inputs, 1)?.to_ints(), *a, device).map(|v| vec![v]),
        Op::Squeeze { axes } => {
            let v = input(inputs, 0)?;
            let dims = v.dims();
            let axes = axes.clone().or_else(|| inputs.get(1).and_then(Option::as_ref).map(|a| a.to_ints().values));
            let keep: Vec<usize> = match axes {
                None => dims.iter().copied().filter(|&d| d != 1).collect(),
                Some(axes) => {
                    let drop = axes.iter().map(|&a| axis(a, dims.len())).collect::<Result<Vec<_>, _>>()?;
                    if let Some(&bad) = drop.iter().find(|&&a| dims[a] != 1) {
                        return Err(shape_error(format!("cannot squeeze axis {bad} of {dims:?}")));
                    }
                    dims.iter().enumerate().filter(|(i, _)| !drop.contains(i)).map(|(_, &d)| d).collect()
                }
            };
            one(reshape_value(v, &keep)?)
        }
        Op::Unsqueeze { axes } => {
            let v = input(inputs, 0)?;
            let dims = v.dims();
            let axes = axes
                .clone()
                .or_else(|| inputs.get(1).and_then(Option::as_ref).map(|a| a.to_ints().values))
                .unwrap_or_default();
            let r = dims.len() + axes.len();
            let mut at = axes.iter().map(|&a| axis(a, r)).collect::<Result<Vec<_>, _>>()?;
            at.sort_unstable();
            let mut out = Vec::with_capacity(r);
            let mut rest = dims.into_iter();
            for i in 0..r {
                if at.contains(&i) {
                    out.push(1);
                } else {
                    out.push(rest.next().ok_or_else(|| shape_error("Unsqueeze axes repeat"))?);
                }
            }
            one(reshape_value(v, &out)?)
        }
        Op::Expand => {
            let target: Vec<usize> = input(inputs, 1)?.to_ints().values.iter().map(|&d| d.max(0) as usize).collect();
            expand(input(inputs, 0)?, &target).map(|v| vec![v])
        }
        Op::Tile => {
            let v = input(inputs, 0)?;
            let times: Vec<usize> = input(inputs, 1)?.to_ints().values.iter().map(|&d| d.max(1) as usize).collect();
            let out: Vec<usize> = v.dims().iter().zip(&times).map(|(d, t)| d.saturating_mul(*t)).collect();
            check_created(&out, "Tile")?;
            match v {
                Value::Float { t, .. } if times.len() == t.rank() => {
                    one(Value::float(each!(t.clone(), x => x.repeat(&times))))
                }
                _ => Err(shape_error("Tile runs on float tensors with one repeat count per axis")),
            }
        }
        Op::Shape { start, end } => {
            let dims: Vec<i64> = input(inputs, 0)?.dims().iter().map(|&d| d as i64).collect();
            let r = dims.len() as i64;
            let fix = |v: i64| (if v < 0 { v + r } else { v }).clamp(0, r) as usize;
            let (s, e) = (fix(*start), fix(end.unwrap_or(r)));
            one(Value::Int(Ints::vector(dims[s..e.max(s)].to_vec())))
        }
        Op::Size => one(Value::Int(Ints::scalar(input(inputs, 0)?.dims().iter().product::<usize>() as i64))),
        Op::ConstantOfShape { value } => {
            let dims: Vec<usize> = input(inputs, 0)?.to_ints().values.iter().map(|&d| d.max(0) as usize).collect();
            check_created(&dims, "ConstantOfShape")?;
            let count: usize = dims.iter().product();
            one(match value {
                HostTensor::Float { values, .. } => Value::Float {
                    t: F::from_values(vec![values.first().copied().unwrap_or(0.0); count.max(1)], &dims, device)?,
                    scalar: dims.is_empty(),
                },
                HostTensor::Int { values, .. } => {
                    Value::Int(Ints { values: vec![values.first().copied().unwrap_or(0); count], dims })
                }
                HostTensor::Bool { values, .. } => {
                    Value::Bool(Bools { values: vec![values.first().copied().unwrap_or(false); count], dims })
                }
            })
        }
        Op::Constant(t) => one(constant_value(t, device)?),
        Op::Range => {
            let (s, l, d) = (input(inputs, 0)?, input(inputs, 1)?, input(inputs, 2)?);
            if let (Value::Int(s), Value::Int(l), Value::Int(d)) = (s, l, d) {
                let (s, l, d) = (s.values[0], l.values[0], d.values[0]);
                if d == 0 {
                    return Err(shape_error("Range with a zero step"));
                }
                let n = ((l as f64 - s as f64) / d as f64).ceil().max(0.0) as i64;
                if n > MAX_CREATED as i64 {
                    return Err(shape_error("Range is too long"));
                }
                return one(Value::Int(Ints::vector((0..n).map(|i| s + i * d).collect())));
            }
            let (s, l, d) = (scalar_of(s), scalar_of(l), scalar_of(d));
            if d == 0.0 {
                return Err(shape_error("Range with a zero step"));
            }
            let n = ((l - s) / d).ceil().max(0.0) as usize;
            if n == 0 || n > MAX_CREATED {
                return Err(shape_error("Range is empty or too long"));
            }
            one(Value::float(F::from_values((0..n).map(|i| s + i as f32 * d).collect(), &[n], device)?))
        }
        Op::Cast(to) => {
            let v = input(inputs, 0)?;
            one(match to {
                CastTo::Float => match v {
                    Value::Float { .. } => v.clone(),
                    other => Value::Float { t: other.to_float(device)?, scalar: other.dims().is_empty() },
                },
                CastTo::Int => Value::Int(v.to_ints()),
                CastTo::Bool => Value::Bool(v.to_bools()),
            })
        }
        Op::Where => {
            where_values(&input(inputs, 0)?.to_bools(), input(inputs, 1)?, input(inputs, 2)?, device).map(|v| vec![v])
        }
        Op::Pad { mode } => pad(inputs, *mode, device).map(|v| vec![v]),
    }
}

fn check_window(
    h: usize,
    w: usize,
    kernel: &[usize; 2],
    padding: &[(usize, usize); 2],
    dilation: &[usize; 2],
) -> Result<(), OnnxError> {
    for (axis, len) in [h, w].into_iter().enumerate() {
        let span = (kernel[axis] - 1) * dilation[axis] + 1;
        if len + padding[axis].0 + padding[axis].1 < span {
            return Err(shape_error(format!("a window of {kernel:?} does not fit an input of {h}x{w}")));
        }
    }
    Ok(())
}

fn permute_any<const D: usize>(t: Tensor<D>, perm: &[usize]) -> Tensor<D> {
    t.permute(arr::<D>(perm))
}

/// A host constant as a value: floats go to the device, integers stay.
pub fn constant_value(t: &HostTensor, device: &Device) -> Result<Value, OnnxError> {
    Ok(match t {
        HostTensor::Float { dims, values } => {
            if values.is_empty() {
                return Err(shape_error("an empty float constant"));
            }
            Value::Float { t: F::from_values(values.clone(), dims, device)?, scalar: dims.is_empty() }
        }
        HostTensor::Int { dims, values } => Value::Int(Ints { dims: dims.clone(), values: values.clone() }),
        HostTensor::Bool { dims, values } => Value::Bool(Bools { dims: dims.clone(), values: values.clone() }),
    })
}

pub fn unary(u: Unary, t: F) -> F {
    match u {
        Unary::Relu => each!(t, x => relu(x)),
        Unary::Sigmoid => each!(t, x => sigmoid(x)),
        Unary::Tanh => each!(t, x => x.tanh()),
        Unary::Exp => each!(t, x => x.exp()),
        Unary::Log => each!(t, x => x.log()),
        Unary::Neg => each!(t, x => x.neg()),
        Unary::Abs => each!(t, x => x.abs()),
        Unary::Sqrt => each!(t, x => x.sqrt()),
        Unary::Erf => each!(t, x => x.erf()),
        Unary::Reciprocal => each!(t, x => x.recip()),
        Unary::Floor => each!(t, x => x.floor()),
        Unary::Ceil => each!(t, x => x.ceil()),
        Unary::HardSwish => each!(t, x => x.clone() * (x + 3.0).clamp(0.0, 6.0) / 6.0),
        Unary::HardSigmoid { alpha, beta } => each!(t, x => hard_sigmoid(x, alpha as f64, beta as f64)),
        Unary::LeakyRelu { alpha } => each!(t, x => relu(x.clone()) - relu(x.neg()) * alpha),
        Unary::Gelu { tanh: false } => each!(t, x => gelu(x)),
        Unary::Gelu { tanh: true } => each!(t, x => {
            let inner = (x.clone() + x.clone().powi_scalar(3) * 0.044715) * (2.0f32 / std::f32::consts::PI).sqrt();
            x * 0.5 * (inner.tanh() + 1.0)
        }),
    }
}

/// Both tensors lifted to one rank, as a matching pair.
macro_rules! pair {
    ($a:expr, $b:expr, $x:ident, $y:ident => $body:expr) => {{
        let r = $a.rank().max($b.rank());
        let mut both = unify(vec![$a.lift(r)?, $b.lift(r)?]).into_iter();
        match (both.next().expect("two"), both.next().expect("two")) {
            (F::R1($x), F::R1($y)) => F::R1($body),
            (F::R2($x), F::R2($y)) => F::R2($body),
            (F::R3($x), F::R3($y)) => F::R3($body),
            (F::R4($x), F::R4($y)) => F::R4($body),
            (F::R5($x), F::R5($y)) => F::R5($body),
            (F::R6($x), F::R6($y)) => F::R6($body),
            _ => unreachable!("lifted to the same rank"),
        }
    }};
}

/// `x` repeated along its 1-length axes to `dims` (same rank).
fn broadcast_to(t: F, dims: &[usize]) -> Result<F, OnnxError> {
    let t = t.lift(dims.len())?;
    let have = t.dims();
    if have == dims {
        return Ok(t);
    }
    let times: Vec<usize> = have.iter().zip(dims).map(|(&h, &d)| if h == d { 1 } else { d }).collect();
    if have.iter().zip(dims).any(|(&h, &d)| h != d && h != 1) {
        return Err(shape_error(format!("{have:?} does not broadcast to {dims:?}")));
    }
    Ok(each!(t, x => x.repeat(&times)))
}

pub fn binary(op: Binary, a: F, b: F) -> Result<F, OnnxError> {
    let out = host::broadcast_dims(&a.dims(), &b.dims())?;
    Ok(match op {
        Binary::Add => pair!(a, b, x, y => x + y),
        Binary::Sub => pair!(a, b, x, y => x - y),
        Binary::Mul => pair!(a, b, x, y => x * y),
        Binary::Div => pair!(a, b, x, y => x / y),
        Binary::Max => {
            let (a, b) = (broadcast_to(a, &out)?, broadcast_to(b, &out)?);
            pair!(a, b, x, y => x.max_pair(y))
        }
        Binary::Min => {
            let (a, b) = (broadcast_to(a, &out)?, broadcast_to(b, &out)?);
            pair!(a, b, x, y => x.min_pair(y))
        }
        Binary::Mod | Binary::Fmod => {
            let q = pair!(a.clone(), b.clone(), x, y => x / y);
            let q = if op == Binary::Mod {
                each!(q, x => x.floor())
            } else {
                each!(q, x => x.clone().sign() * x.abs().floor())
            };
            binary(Binary::Sub, a, binary(Binary::Mul, b, q)?)?
        }
        Binary::Pow => {
            let exponent = b.values();
            if exponent.len() == 1 {
                let e = exponent[0];
                let t = if e == 1.0 {
                    a
                } else if e == 2.0 {
                    each!(a, x => x.clone() * x)
                } else if e == 0.5 {
                    each!(a, x => x.sqrt())
                } else if e.fract() == 0.0 && e.abs() <= 16.0 {
                    each!(a, x => x.powi_scalar(e as i32))
                } else {
                    each!(a, x => x.powf_scalar(e))
                };
                return broadcast_to(t, &out);
            }
            pair!(a, b, x, y => x.powf(y))
        }
    })
}

fn binary_values(op: Binary, a: &Value, b: &Value, device: &Device) -> Result<Value, OnnxError> {
    if let (Value::Int(x), Value::Int(y)) = (a, b) {
        let f: fn(i64, i64) -> Option<i64> = match op {
            Binary::Add => i64::checked_add,
            Binary::Sub => i64::checked_sub,
            Binary::Mul => i64::checked_mul,
            Binary::Div => i64::checked_div,
            Binary::Max => |p, q| Some(p.max(q)),
            Binary::Min => |p, q| Some(p.min(q)),
            Binary::Pow => |p, q| u32::try_from(q).ok().and_then(|q| p.checked_pow(q)),
            Binary::Mod => |p, q| p.checked_rem_euclid(q).map(|r| if r != 0 && q < 0 { r + q } else { r }),
            Binary::Fmod => i64::checked_rem,
        };
        return Ok(Value::Int(host::int_binary(x, y, f)?));
    }
    let scalar = a.dims().is_empty() && b.dims().is_empty();
    Ok(Value::Float { t: binary(op, a.to_float(device)?, b.to_float(device)?)?, scalar })
}

fn compare(c: Compare, a: &Value, b: &Value) -> Result<Bools, OnnxError> {
    match c {
        Compare::And | Compare::Or => {
            let (x, y) = (a.to_bools(), b.to_bools());
            let f = if c == Compare::And { |p: bool, q: bool| p && q } else { |p: bool, q: bool| p || q };
            let (dims, values) = host::zip((&x.dims, &x.values), (&y.dims, &y.values), f)?;
            Ok(Bools { dims, values })
        }
        _ => {
            let f = match c {
                Compare::Equal => |p: f64, q: f64| p == q,
                Compare::Less => |p: f64, q: f64| p < q,
                _ => |p: f64, q: f64| p > q,
            };
            let host = |v: &Value| -> (Vec<usize>, Vec<f64>) {
                match v {
                    Value::Float { t, .. } => (v.dims(), t.values().into_iter().map(f64::from).collect()),
                    other => {
                        let i = other.to_ints();
                        (i.dims, i.values.into_iter().map(|x| x as f64).collect())
                    }
                }
            };
            let ((da, va), (db, vb)) = (host(a), host(b));
            host::compare((&da, &va), (&db, &vb), f)
        }
    }
}

fn conv(inputs: &[Option<Value>], window: &Window, groups: usize, device: &Device) -> Result<Tensor<4>, OnnxError> {
    let x = rank4(float(inputs, 0, device)?, "Conv (only 2-D convolutions are supported)")?;
    let w = rank4(float(inputs, 1, device)?, "Conv's weight")?;
    let bias = match inputs.get(2).and_then(Option::as_ref) {
        Some(b) => match b.to_float(device)? {
            F::R1(t) => Some(t),
            other => return Err(shape_error(format!("Conv bias of shape {:?}", other.dims()))),
        },
        None => None,
    };
    let [_, cin, h, wd] = x.dims();
    let [cout, per_group, kh, kw] = w.dims();
    if per_group * groups != cin || cout % groups != 0 || bias.as_ref().is_some_and(|b| b.dims()[0] != cout) {
        return Err(shape_error(format!(
            "Conv weight {:?} (groups {groups}) does not fit an input of {cin} channels",
            w.dims()
        )));
    }
    let padding = [window.pads_for(0, h, kh), window.pads_for(1, wd, kw)];
    check_window(h, wd, &[kh, kw], &padding, &window.dilations)?;
    Ok(conv2d(x, w, bias, ConvOptions::new_with_padding(window.strides, padding, window.dilations, groups)))
}

/// Per-channel parameter `[C]` shaped to broadcast over axis 1 of a rank-`r` tensor.
fn channel_param(p: F, r: usize) -> Result<F, OnnxError> {
    let c = p.dims().iter().product::<usize>();
    let mut dims = vec![1; r];
    dims[1] = c;
    p.reshape(&dims)
}

/// Inference BatchNorm: `(x - mean) / sqrt(var + eps) * scale + bias` per channel.
fn batch_norm(inputs: &[Option<Value>], epsilon: f32, device: &Device) -> Result<F, OnnxError> {
    let x = float(inputs, 0, device)?;
    let r = x.rank();
    if r < 2 {
        return Err(shape_error("BatchNormalization needs a channel axis"));
    }
    let [scale, bias, mean, var] = [1, 2, 3, 4].map(|i| float(inputs, i, device).and_then(|p| channel_param(p, r)));
    let factor = binary(Binary::Div, scale?, each!(var?, v => (v + epsilon).sqrt()))?;
    let centred = binary(Binary::Sub, x, mean?)?;
    binary(Binary::Add, binary(Binary::Mul, centred, factor)?, bias?)
}

/// LayerNormalization (Ba et al. 2016) over the axes from `axis` on:
/// `(x - mean) / sqrt(var + eps) * scale + bias`, the variance biased as ONNX defines it.
fn layer_norm(inputs: &[Option<Value>], a: i64, epsilon: f32, device: &Device) -> Result<F, OnnxError> {
    let x = float(inputs, 0, device)?;
    let r = x.rank();
    let start = axis(a, r)?;
    let axes: Vec<usize> = (start..r).collect();
    let mean = each!(x.clone(), t => t.mean_dims(&axes));
    let centred = binary(Binary::Sub, x, mean)?;
    let var = each!(centred.clone(), t => (t.clone() * t).mean_dims(&axes));
    let normed = binary(Binary::Div, centred, each!(var, v => (v + epsilon).sqrt()))?;
    let scaled = binary(Binary::Mul, normed, float(inputs, 1, device)?)?;
    match inputs.get(2).and_then(Option::as_ref) {
        Some(b) => binary(Binary::Add, scaled, b.to_float(device)?),
        None => Ok(scaled),
    }
}

fn reduce(t: F, kind: Reduce, axes: &[i64], keepdims: bool, noop_when_empty: bool) -> Result<F, OnnxError> {
    let r = t.rank();
    if axes.is_empty() && noop_when_empty {
        return Ok(t);
    }
    let mut axes = if axes.is_empty() {
        (0..r).collect()
    } else {
        axes.iter().map(|&a| axis(a, r)).collect::<Result<Vec<_>, _>>()?
    };
    axes.sort_unstable();
    axes.dedup();
    let dims = t.dims();
    let mut t = t;
    for &a in &axes {
        t = match kind {
            Reduce::Mean => each!(t, x => x.mean_dim(a)),
            Reduce::Sum => each!(t, x => x.sum_dim(a)),
            Reduce::Max => each!(t, x => x.max_dim(a)),
        };
    }
    if keepdims {
        return Ok(t);
    }
    let kept: Vec<usize> = dims.iter().enumerate().filter(|(i, _)| !axes.contains(i)).map(|(_, &d)| d).collect();
    t.reshape(&kept)
}

fn check_matmul(a: &[usize], b: &[usize]) -> Result<(), OnnxError> {
    if a[a.len() - 1] != b[b.len() - 2] {
        return Err(shape_error(format!("cannot multiply {a:?} by {b:?}")));
    }
    Ok(())
}

/// numpy `matmul`: 1-D operands gain (then lose) an axis, batch axes broadcast.
pub fn matmul(a: F, b: F) -> Result<F, OnnxError> {
    let (ra, rb) = (a.rank(), b.rank());
    let a = if ra == 1 { a.lift(2)? } else { a };
    let b = if rb == 1 {
        let n = b.dims()[0];
        b.reshape(&[n, 1])?
    } else {
        b
    };
    check_matmul(&a.dims(), &b.dims())?;
    let batch = host::broadcast_dims(&a.dims()[..a.rank() - 2], &b.dims()[..b.rank() - 2])?;
    let with_batch = |t: F| -> Result<F, OnnxError> {
        let d = t.dims();
        let mut target = batch.clone();
        target.extend_from_slice(&d[d.len() - 2..]);
        broadcast_to(t, &target)
    };
    let (a, b) = (with_batch(a)?, with_batch(b)?);
    let y = pair!(a, b, x, z => x.matmul(z));
    let mut dims = y.dims();
    if rb == 1 {
        dims.pop();
    }
    if ra == 1 {
        dims.remove(dims.len() - if rb == 1 { 1 } else { 2 });
    }
    if dims.len() == y.rank() { Ok(y) } else { y.reshape(&dims) }
}

fn einsum(equation: &str, inputs: &[Option<Value>], device: &Device) -> Result<F, OnnxError> {
    let operands = inputs.iter().flatten().map(|v| v.to_float(device)).collect::<Result<Vec<_>, _>>()?;
    let (lhs, out) = equation.split_once("->").expect("checked at parse");
    let terms: Vec<&str> = lhs.split(',').collect();
    if terms.len() != operands.len() || terms.iter().zip(&operands).any(|(t, o)| t.len() != o.rank()) {
        return Err(shape_error(format!(
            "einsum '{equation}' does not fit operands of ranks {:?}",
            operands.iter().map(F::rank).collect::<Vec<_>>()
        )));
    }
    let ops: Vec<burn::tensor::EinsumOperand<burn::tensor::Float>> =
        operands.into_iter().map(|o| with!(o, t => t.into())).collect();
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| match out.len() {
        1 => Some(F::R1(Tensor::einsum(equation, ops))),
        2 => Some(F::R2(Tensor::einsum(equation, ops))),
        3 => Some(F::R3(Tensor::einsum(equation, ops))),
        4 => Some(F::R4(Tensor::einsum(equation, ops))),
        5 => Some(F::R5(Tensor::einsum(equation, ops))),
        6 => Some(F::R6(Tensor::einsum(equation, ops))),
        _ => None,
    }));
    match result {
        Ok(Some(t)) => Ok(t),
        Ok(None) => Err(shape_error(format!("einsum '{equation}': output rank {} is not supported", out.len()))),
        Err(_) => Err(shape_error(format!("einsum '{equation}' failed on its operands"))),
    }
}

/// ONNX Reshape's target: `0` copies the input's dimension (unless `allowzero`), one `-1` is
/// inferred.
pub fn reshape_target(input: &[usize], shape: &[i64], allowzero: bool) -> Result<Vec<usize>, OnnxError> {
    let total: usize = input.iter().product();
    let mut dims = Vec::with_capacity(shape.len());
    let mut infer = None;
    for (i, &s) in shape.iter().enumerate() {
        match s {
            -1 if infer.is_none() => {
                infer = Some(i);
                dims.push(1);
            }
            0 if !allowzero => dims.push(
                *input
                    .get(i)
                    .ok_or_else(|| shape_error(format!("Reshape copies axis {i} of {input:?}, which has none")))?,
            ),
            s if s >= 0 => dims.push(s as usize),
            _ => return Err(shape_error(format!("Reshape to {shape:?}: invalid target"))),
        }
    }
    let count = |d: &[usize]| d.iter().try_fold(1usize, |acc, &x| acc.checked_mul(x));
    if let Some(i) = infer {
        let known = count(&dims).unwrap_or(0);
        if known == 0 || !total.is_multiple_of(known) {
            return Err(shape_error(format!("cannot reshape {input:?} to {shape:?}")));
        }
        dims[i] = total / known;
    }
    if count(&dims) != Some(total) {
        return Err(shape_error(format!("cannot reshape {input:?} ({total} values) to {shape:?}")));
    }
    Ok(dims)
}

fn reshape_value(v: &Value, dims: &[usize]) -> Result<Value, OnnxError> {
    Ok(match v {
        Value::Float { t, .. } => Value::Float { t: t.clone().reshape(dims)?, scalar: dims.is_empty() },
        Value::Int(i) => Value::Int(Ints { dims: dims.to_vec(), values: i.values.clone() }),
        Value::Bool(b) => Value::Bool(Bools { dims: dims.to_vec(), values: b.values.clone() }),
    })
}

fn concat(inputs: &[Option<Value>], a: i64, device: &Device) -> Result<Value, OnnxError> {
    let parts: Vec<&Value> =
        inputs.iter().flatten().filter(|v| v.dims().iter().product::<usize>() > 0 || v.dims().is_empty()).collect();
    let first = parts.first().ok_or_else(|| shape_error("Concat of nothing"))?;
    let r = first.dims().len().max(1);
    let d = axis(a, r)?;
    if parts.iter().all(|p| matches!(p, Value::Int(_))) {
        let host: Vec<(Vec<usize>, Vec<i64>)> = parts
            .iter()
            .map(|p| {
                let i = p.to_ints();
                (if i.dims.is_empty() { vec![1] } else { i.dims }, i.values)
            })
            .collect();
        let (dims, values) = host::concat(&host, d)?;
        return Ok(Value::Int(Ints { dims, values }));
    }
    let tensors = unify(parts.iter().map(|p| p.to_float(device)).collect::<Result<Vec<_>, _>>()?);
    let dims0 = tensors[0].dims();
    for t in &tensors {
        let dt = t.dims();
        if dt.len() != dims0.len() || dt.iter().zip(&dims0).enumerate().any(|(i, (x, y))| i != d && x != y) {
            return Err(shape_error(format!("cannot concatenate {dims0:?} and {dt:?} on axis {d}")));
        }
    }
    macro_rules! cat {
        ($variant:ident) => {
            F::$variant(Tensor::cat(
                tensors
                    .into_iter()
                    .map(|t| match t {
                        F::$variant(x) => x,
                        _ => unreachable!("ranks checked"),
                    })
                    .collect(),
                d,
            ))
        };
    }
    Ok(Value::float(match dims0.len() {
        1 => cat!(R1),
        2 => cat!(R2),
        3 => cat!(R3),
        4 => cat!(R4),
        5 => cat!(R5),
        _ => cat!(R6),
    }))
}

/// `(axis, start, end, step)` per sliced axis, clamped as ONNX Slice says.
fn slice_ranges(inputs: &[Option<Value>], dims: &[usize]) -> Result<Vec<(usize, i64, i64, i64)>, OnnxError> {
    let starts = input(inputs, 1)?.to_ints().values;
    let ends = input(inputs, 2)?.to_ints().values;
    let axes = match inputs.get(3).and_then(Option::as_ref) {
        Some(a) => a.to_ints().values,
        None => (0..starts.len() as i64).collect(),
    };
    let steps = match inputs.get(4).and_then(Option::as_ref) {
        Some(s) => s.to_ints().values,
        None => vec![1; starts.len()],
    };
    if ends.len() != starts.len() || axes.len() != starts.len() || steps.len() != starts.len() {
        return Err(shape_error("Slice's starts, ends, axes and steps differ in length"));
    }
    (0..starts.len())
        .map(|i| {
            let a = axis(axes[i], dims.len())?;
            if steps[i] == 0 {
                return Err(shape_error("Slice with a zero step"));
            }
            let (s, e) = host::slice_bounds(starts[i], ends[i], steps[i], dims[a]);
            Ok((a, s, e, steps[i]))
        })
        .collect()
}

fn slice(inputs: &[Option<Value>]) -> Result<Value, OnnxError> {
    let v = input(inputs, 0)?;
    let dims = v.dims();
    let ranges = slice_ranges(inputs, &dims)?;
    Ok(match v {
        Value::Float { t, .. } => {
            let mut slices = vec![Slice::full(); dims.len()];
            for &(a, s, e, step) in &ranges {
                let empty = if step > 0 { e <= s } else { e >= s };
                if empty {
                    return Err(shape_error(format!("Slice of axis {a} of {dims:?} is empty")));
                }
                slices[a] = if step > 0 {
                    Slice { start: s as isize, end: Some(e as isize), step: step as isize }
                } else {
                    // ONNX walks s, s+step, ... > e; burn walks its range backwards from the end.
                    Slice { start: (e + 1) as isize, end: Some((s + 1) as isize), step: step as isize }
                };
            }
            Value::float(each!(t.clone(), x => x.slice(slices.as_slice())))
        }
        other => on_host!(other, dims, values => host::slice(dims, values, &ranges)),
    })
}

fn split(inputs: &[Option<Value>], a: i64, sizes: Option<&[i64]>, outputs: usize) -> Result<Vec<Value>, OnnxError> {
    let v = input(inputs, 0)?;
    let dims = v.dims();
    let d = axis(a, dims.len())?;
    let n = dims[d];
    let sizes: Vec<usize> =
        match sizes.map(<[i64]>::to_vec).or_else(|| inputs.get(1).and_then(Option::as_ref).map(|s| s.to_ints().values))
        {
            Some(s) => s.iter().map(|&x| x.max(0) as usize).collect(),
            None => {
                let k = outputs.max(1);
                let each = n.div_ceil(k);
                (0..k).map(|i| each.min(n.saturating_sub(i * each))).collect()
            }
        };
    if sizes.iter().sum::<usize>() != n || sizes.contains(&0) {
        return Err(shape_error(format!("Split of {n} into {sizes:?}")));
    }
    let mut out = Vec::with_capacity(sizes.len());
    let mut start = 0;
    for s in sizes {
        let range = vec![(d, start as i64, (start + s) as i64, 1)];
        out.push(match v {
            Value::Float { t, .. } => Value::float(each!(t.clone(), x => x.slice_dim(d, start..start + s))),
            other => on_host!(other, dims, values => host::slice(dims, values, &range)),
        });
        start += s;
    }
    Ok(out)
}

fn gather(data: &Value, indices: &Ints, a: i64, device: &Device) -> Result<Value, OnnxError> {
    let dims = data.dims();
    let d = axis(a, dims.len())?;
    match data {
        Value::Float { t, .. } => {
            let idx = host::normalized_indices(&indices.values, dims[d])?;
            let picked = Tensor::<1, Int>::from_data(
                TensorData::new(idx.iter().map(|&i| i as i64).collect::<Vec<_>>(), [idx.len()]),
                device,
            );
            let selected = each!(t.clone(), x => x.select(d, picked.clone()));
            let mut out = dims[..d].to_vec();
            out.extend(&indices.dims);
            out.extend(&dims[d + 1..]);
            Ok(Value::Float { scalar: out.is_empty(), t: selected.reshape(&out)? })
        }
        other => Ok(on_host!(other, dims, values => host::gather(dims, values, d, indices)?)),
    }
}

fn expand(v: &Value, target: &[usize]) -> Result<Value, OnnxError> {
    let out = host::broadcast_dims(&v.dims(), target)?;
    check_created(&out, "Expand")?;
    Ok(match v {
        Value::Float { t, .. } => Value::float(broadcast_to(t.clone(), &out)?),
        other => on_host!(other, dims, values => host::expand(dims, values, &out)?),
    })
}

fn where_values(cond: &Bools, x: &Value, y: &Value, device: &Device) -> Result<Value, OnnxError> {
    if let (Value::Int(a), Value::Int(b)) = (x, y) {
        let dims = host::broadcast_dims(&host::broadcast_dims(&cond.dims, &a.dims)?, &b.dims)?;
        let (_, c) = host::expand(&cond.dims, &cond.values, &dims)?;
        let (_, a) = host::expand(&a.dims, &a.values, &dims)?;
        let (_, b) = host::expand(&b.dims, &b.values, &dims)?;
        return Ok(Value::Int(Ints {
            values: c.iter().zip(a.iter().zip(&b)).map(|(&c, (&a, &b))| if c { a } else { b }).collect(),
            dims,
        }));
    }
    let (a, b) = (x.to_float(device)?, y.to_float(device)?);
    let dims = host::broadcast_dims(&host::broadcast_dims(&cond.dims, &a.dims())?, &b.dims())?;
    let (_, mask) = host::expand(&cond.dims, &cond.values, &dims)?;
    let mask = device_mask(&Bools { dims: dims.clone(), values: mask }, dims.len(), device)?;
    let mut ab = unify(vec![broadcast_to(a, &dims)?, broadcast_to(b, &dims)?]).into_iter();
    let (a, b) = (ab.next().expect("two"), ab.next().expect("two"));
    Ok(Value::float(match (b, a, mask) {
        (F::R1(b), F::R1(a), BoolF::R1(m)) => F::R1(b.mask_where(m, a)),
        (F::R2(b), F::R2(a), BoolF::R2(m)) => F::R2(b.mask_where(m, a)),
        (F::R3(b), F::R3(a), BoolF::R3(m)) => F::R3(b.mask_where(m, a)),
        (F::R4(b), F::R4(a), BoolF::R4(m)) => F::R4(b.mask_where(m, a)),
        (F::R5(b), F::R5(a), BoolF::R5(m)) => F::R5(b.mask_where(m, a)),
        (F::R6(b), F::R6(a), BoolF::R6(m)) => F::R6(b.mask_where(m, a)),
        _ => return Err(shape_error("Where's operands differ in rank")),
    }))
}

fn pad(inputs: &[Option<Value>], mode: PadKind, device: &Device) -> Result<Value, OnnxError> {
    let t = float(inputs, 0, device)?;
    let r = t.rank();
    let pads = input(inputs, 1)?.to_ints().values;
    let value = inputs.get(2).and_then(Option::as_ref).map(scalar_of).unwrap_or(0.0);
    let axes = match inputs.get(3).and_then(Option::as_ref) {
        Some(a) => a.to_ints().values.iter().map(|&x| axis(x, r)).collect::<Result<Vec<_>, _>>()?,
        None => (0..r).collect(),
    };
    if pads.len() != 2 * axes.len() || pads.iter().any(|&p| !(0..=1 << 20).contains(&p)) {
        return Err(shape_error(format!(
            "Pad's pads {pads:?} must be two non-negative values per axis (cropping is not supported)"
        )));
    }
    let mut pairs = vec![(0usize, 0usize); r];
    for (k, &a) in axes.iter().enumerate() {
        pairs[a] = (pads[k] as usize, pads[k + axes.len()] as usize);
    }
    let dims = t.dims();
    let out: Vec<usize> = dims.iter().zip(&pairs).map(|(d, (b, e))| d + b + e).collect();
    check_created(&out, "Pad")?;
    if mode == PadKind::Reflect && pairs.iter().zip(&dims).any(|(&(b, e), &d)| b.max(e) >= d) {
        return Err(shape_error("reflect padding wider than the tensor"));
    }
    let mode = match mode {
        PadKind::Constant => PadMode::Constant(value),
        PadKind::Reflect => PadMode::Reflect,
        PadKind::Edge => PadMode::Edge,
    };
    Ok(Value::float(each!(t, x => x.pad(pairs.clone(), mode))))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(values: Vec<f32>, dims: &[usize]) -> F {
        F::from_values(values, dims, &Device::flex()).unwrap()
    }

    #[test]
    fn matmul_broadcasts_batches_and_vectors() {
        let a = f((0..6).map(|v| v as f32).collect(), &[2, 3]);
        let b = f(vec![1.0, 1.0, 1.0], &[3]);
        let y = matmul(a.clone(), b).unwrap();
        assert_eq!(y.dims(), vec![2]);
        assert_eq!(y.values(), vec![3.0, 12.0]);
        let batch = f((0..12).map(|v| v as f32).collect(), &[2, 3, 2]);
        let y = matmul(a, batch).unwrap();
        assert_eq!(y.dims(), vec![2, 2, 2]);
    }

    #[test]
    fn reshape_target_copies_and_infers() {
        assert_eq!(reshape_target(&[2, 3, 4], &[0, -1], false).unwrap(), vec![2, 12]);
        assert!(reshape_target(&[2, 3, 4], &[5, -1], false).is_err());
        assert!(reshape_target(&[2, 3], &[-1, -1], false).is_err());
    }

    #[test]
    fn slicing_with_negative_steps_reverses() {
        let t = Value::float(f(vec![0.0, 1.0, 2.0, 3.0], &[4]));
        let ints = |v: Vec<i64>| Some(Value::Int(Ints::vector(v)));
        let out =
            slice(&[Some(t.clone()), ints(vec![-1]), ints(vec![i64::MIN]), ints(vec![0]), ints(vec![-1])]).unwrap();
        match out {
            Value::Float { t, .. } => assert_eq!(t.values(), vec![3.0, 2.0, 1.0, 0.0]),
            _ => panic!("float in, float out"),
        }
        let out = slice(&[Some(t), ints(vec![1]), ints(vec![3]), None, None]).unwrap();
        assert_eq!(out.to_float(&Device::flex()).unwrap().values(), vec![1.0, 2.0]);
    }

    #[test]
    fn layer_norm_matches_its_formula() {
        let device = Device::flex();
        let x = Value::float(f(vec![1.0, 2.0, 3.0, 4.0], &[1, 4]));
        let scale = Value::float(f(vec![1.0, 2.0, 1.0, 1.0], &[4]));
        let out = layer_norm(&[Some(x), Some(scale), None], -1, 0.0, &device).unwrap().values();
        let sd = 1.25f32.sqrt();
        let expected = [-1.5 / sd, -0.5 / sd * 2.0, 0.5 / sd, 1.5 / sd];
        for (a, b) in out.iter().zip(expected) {
            assert!((a - b).abs() < 1e-5, "{out:?}");
        }
    }

    #[test]
    fn pow_of_negative_bases_by_integer_exponents_is_real() {
        let y = binary(Binary::Pow, f(vec![-2.0, 3.0], &[2]), f(vec![2.0], &[])).unwrap();
        assert_eq!(y.values(), vec![4.0, 9.0]);
    }
}
