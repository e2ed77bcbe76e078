//! The values an ONNX graph passes between its nodes: float tensors of any rank (1 to 6) on the
//! compute device, where gradients flow, and integer or boolean tensors on the host, where the
//! graph's shape arithmetic (Shape, Gather, Concat of sizes, Range, Equal, Where) runs.
//!
//! burn's tensors carry their rank in their type, an ONNX graph's do not: [`F`] holds one of
//! the six ranks and [`each!`] applies a rank-generic expression to whichever it is. A rank-0
//! float (an ONNX scalar) is kept as rank 1 of length 1 with `scalar` set, which broadcasts the
//! same way.

use burn::tensor::{Bool, Device, Tensor, TensorData};

use super::OnnxError;

/// Highest tensor rank the interpreter runs (Swin's window partition is rank 6).
pub const MAX_RANK: usize = 6;

/// A float tensor of rank 1 to 6 on the compute device.
#[derive(Debug, Clone)]
pub enum F {
    R1(Tensor<1>),
    R2(Tensor<2>),
    R3(Tensor<3>),
    R4(Tensor<4>),
    R5(Tensor<5>),
    R6(Tensor<6>),
}

/// Apply a rank-generic expression to the tensor inside an [`F`], keeping its rank.
macro_rules! each {
    ($value:expr, $t:ident => $body:expr) => {
        match $value {
            F::R1($t) => F::R1($body),
            F::R2($t) => F::R2($body),
            F::R3($t) => F::R3($body),
            F::R4($t) => F::R4($body),
            F::R5($t) => F::R5($body),
            F::R6($t) => F::R6($body),
        }
    };
}
pub(crate) use each;

/// Apply a rank-generic expression returning a plain value to the tensor inside an [`F`].
macro_rules! with {
    ($value:expr, $t:ident => $body:expr) => {
        match $value {
            F::R1($t) => $body,
            F::R2($t) => $body,
            F::R3($t) => $body,
            F::R4($t) => $body,
            F::R5($t) => $body,
            F::R6($t) => $body,
        }
    };
}
pub(crate) use with;

/// `dims` as a fixed-size array (the caller matched its length).
fn arr<const N: usize>(dims: &[usize]) -> [usize; N] {
    let mut out = [0; N];
    out.copy_from_slice(dims);
    out
}

/// Reshape a tensor of any rank to `dims` (1 to 6 of them).
fn reshape_any<const D: usize>(t: Tensor<D>, dims: &[usize]) -> Result<F, OnnxError> {
    Ok(match dims.len() {
        1 => F::R1(t.reshape(arr::<1>(dims))),
        2 => F::R2(t.reshape(arr::<2>(dims))),
        3 => F::R3(t.reshape(arr::<3>(dims))),
        4 => F::R4(t.reshape(arr::<4>(dims))),
        5 => F::R5(t.reshape(arr::<5>(dims))),
        6 => F::R6(t.reshape(arr::<6>(dims))),
        r => return Err(OnnxError::Shape(format!("rank {r} tensors are not supported (1 to {MAX_RANK})"))),
    })
}

impl F {
    /// A tensor from host values.
    pub fn from_values(values: Vec<f32>, dims: &[usize], device: &Device) -> Result<F, OnnxError> {
        let dims = if dims.is_empty() { vec![1] } else { dims.to_vec() };
        let flat = Tensor::<1>::from_data(TensorData::new(values, [dims.iter().product::<usize>()]), device);
        reshape_any(flat, &dims)
    }

    pub fn dims(&self) -> Vec<usize> {
        with!(self, t => t.dims().to_vec())
    }

    pub fn rank(&self) -> usize {
        with!(self, t => t.dims().len())
    }

    pub fn device(&self) -> Device {
        with!(self, t => t.device())
    }

    pub fn is_autodiff(&self) -> bool {
        with!(self, t => t.is_autodiff())
    }

    /// The same tensor on the autodiff side of its device (a no-op when it is there already).
    pub fn autodiff(self) -> F {
        each!(self, t => t.autodiff())
    }

    /// The same values with shape `dims` (same element count).
    pub fn reshape(self, dims: &[usize]) -> Result<F, OnnxError> {
        let have: usize = self.dims().iter().product();
        let want = dims.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d));
        if want != Some(have) {
            return Err(OnnxError::Shape(format!("cannot reshape {:?} ({have} values) to {dims:?}", self.dims())));
        }
        let dims = if dims.is_empty() { vec![1] } else { dims.to_vec() };
        with!(self, t => reshape_any(t, &dims))
    }

    /// Insert leading axes of length 1 up to `rank` (numpy broadcasting aligns on the right).
    pub fn lift(self, rank: usize) -> Result<F, OnnxError> {
        let dims = self.dims();
        if dims.len() >= rank {
            return Ok(self);
        }
        let mut new = vec![1; rank - dims.len()];
        new.extend(dims);
        self.reshape(&new)
    }

    /// Host values, row-major.
    pub fn values(&self) -> Vec<f32> {
        with!(self, t => crate::models::layers::host_values(t.clone()))
    }

    pub fn into_tensor4(self) -> Result<Tensor<4>, OnnxError> {
        match self {
            F::R4(t) => Ok(t),
            other => Err(OnnxError::Shape(format!("expected a rank-4 tensor, got {:?}", other.dims()))),
        }
    }

    pub fn into_tensor2(self) -> Result<Tensor<2>, OnnxError> {
        match self {
            F::R2(t) => Ok(t),
            other => {
                let dims = other.dims();
                let n = dims.first().copied().unwrap_or(1);
                let rest: usize = dims.iter().skip(1).product();
                match other.reshape(&[n, rest])? {
                    F::R2(t) => Ok(t),
                    _ => unreachable!("reshaped to rank 2"),
                }
            }
        }
    }
}

/// An integer tensor on the host (shapes, indices, axes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ints {
    pub dims: Vec<usize>,
    pub values: Vec<i64>,
}

impl Ints {
    pub fn vector(values: Vec<i64>) -> Self {
        Self { dims: vec![values.len()], values }
    }

    pub fn scalar(value: i64) -> Self {
        Self { dims: vec![], values: vec![value] }
    }
}

/// A boolean tensor on the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bools {
    pub dims: Vec<usize>,
    pub values: Vec<bool>,
}

/// What flows along an edge of the graph.
#[derive(Debug, Clone)]
pub enum Value {
    /// Float data on the device; `scalar` marks an ONNX rank-0 tensor stored as `[1]`.
    Float {
        t: F,
        scalar: bool,
    },
    Int(Ints),
    Bool(Bools),
}

impl Value {
    pub fn float(t: F) -> Self {
        Value::Float { t, scalar: false }
    }

    /// The ONNX shape (empty for a scalar).
    pub fn dims(&self) -> Vec<usize> {
        match self {
            Value::Float { scalar: true, .. } => vec![],
            Value::Float { t, .. } => t.dims(),
            Value::Int(i) => i.dims.clone(),
            Value::Bool(b) => b.dims.clone(),
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Value::Float { .. } => "float",
            Value::Int(_) => "integer",
            Value::Bool(_) => "boolean",
        }
    }

    /// The float tensor, converting host integers or booleans (a Cast the graph left implicit).
    pub fn to_float(&self, device: &Device) -> Result<F, OnnxError> {
        match self {
            Value::Float { t, .. } => Ok(t.clone()),
            Value::Int(i) => F::from_values(i.values.iter().map(|&v| v as f32).collect(), &i.dims, device),
            Value::Bool(b) => {
                F::from_values(b.values.iter().map(|&v| if v { 1.0 } else { 0.0 }).collect(), &b.dims, device)
            }
        }
    }

    /// Host integers, reading a float tensor back when the graph computed one (values rounded
    /// toward zero, as ONNX's Cast does).
    pub fn to_ints(&self) -> Ints {
        match self {
            Value::Int(i) => i.clone(),
            Value::Float { t, .. } => {
                Ints { dims: self.dims(), values: t.values().into_iter().map(|v| v as i64).collect() }
            }
            Value::Bool(b) => Ints { dims: b.dims.clone(), values: b.values.iter().map(|&v| v as i64).collect() },
        }
    }

    pub fn to_bools(&self) -> Bools {
        match self {
            Value::Bool(b) => b.clone(),
            other => {
                let i = other.to_ints();
                Bools { dims: i.dims, values: i.values.iter().map(|&v| v != 0).collect() }
            }
        }
    }
}

/// Tensors that meet in one operation on the same side of autodiff: a constant or a value
/// carried over a cut joins a gradient leaf's graph.
pub fn unify(tensors: Vec<F>) -> Vec<F> {
    if tensors.iter().any(F::is_autodiff) && !tensors.iter().all(F::is_autodiff) {
        tensors.into_iter().map(F::autodiff).collect()
    } else {
        tensors
    }
}

/// A boolean mask on the device with the rank of `like`.
pub fn device_mask(mask: &Bools, rank: usize, device: &Device) -> Result<BoolF, OnnxError> {
    let mut dims = mask.dims.clone();
    while dims.len() < rank {
        dims.insert(0, 1);
    }
    let flat = Tensor::<1, Bool>::from_data(TensorData::new(mask.values.clone(), [mask.values.len()]), device);
    Ok(match dims.len() {
        1 => BoolF::R1(flat.reshape(arr::<1>(&dims))),
        2 => BoolF::R2(flat.reshape(arr::<2>(&dims))),
        3 => BoolF::R3(flat.reshape(arr::<3>(&dims))),
        4 => BoolF::R4(flat.reshape(arr::<4>(&dims))),
        5 => BoolF::R5(flat.reshape(arr::<5>(&dims))),
        6 => BoolF::R6(flat.reshape(arr::<6>(&dims))),
        r => return Err(OnnxError::Shape(format!("rank {r} masks are not supported"))),
    })
}

/// A boolean tensor of rank 1 to 6 on the device (a Where's condition).
pub enum BoolF {
    R1(Tensor<1, Bool>),
    R2(Tensor<2, Bool>),
    R3(Tensor<3, Bool>),
    R4(Tensor<4, Bool>),
    R5(Tensor<5, Bool>),
    R6(Tensor<6, Bool>),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reshape_changes_rank_and_keeps_values() {
        let device = Device::flex();
        let t = F::from_values((0..24).map(|v| v as f32).collect(), &[2, 3, 4], &device).unwrap();
        let r = t.reshape(&[1, 2, 3, 2, 2]).unwrap();
        assert_eq!(r.rank(), 5);
        assert_eq!(r.values(), (0..24).map(|v| v as f32).collect::<Vec<_>>());
        assert!(r.reshape(&[5, 5]).is_err());
    }

    #[test]
    fn lift_adds_leading_axes() {
        let device = Device::flex();
        let t = F::from_values(vec![1.0, 2.0], &[2], &device).unwrap().lift(3).unwrap();
        assert_eq!(t.dims(), vec![1, 1, 2]);
    }
}
