//! Integer and boolean tensors on the host: the shape arithmetic of exported graphs (Shape →
//! Gather → Concat → Reshape, Range, Equal/Where in dynamo exports) with numpy broadcasting.

use super::OnnxError;
use super::value::{Bools, Ints};

/// The broadcast shape of two shapes (numpy rules: aligned on the right, 1 stretches).
pub fn broadcast_dims(a: &[usize], b: &[usize]) -> Result<Vec<usize>, OnnxError> {
    let rank = a.len().max(b.len());
    let get = |d: &[usize], i: usize| if i + d.len() >= rank { d[i + d.len() - rank] } else { 1 };
    (0..rank)
        .map(|i| match (get(a, i), get(b, i)) {
            (x, y) if x == y => Ok(x),
            (1, y) => Ok(y),
            (x, 1) => Ok(x),
            (x, y) => Err(OnnxError::Shape(format!("shapes {a:?} and {b:?} do not broadcast ({x} vs {y})"))),
        })
        .collect()
}

/// Row-major strides of `dims`.
fn strides(dims: &[usize]) -> Vec<usize> {
    let mut s = vec![1; dims.len()];
    for i in (0..dims.len().saturating_sub(1)).rev() {
        s[i] = s[i + 1] * dims[i + 1];
    }
    s
}

/// The flat index into a tensor of shape `dims` (right-aligned to `out`) for each position of
/// `out`, 1-length axes repeating.
fn broadcast_index(dims: &[usize], out: &[usize]) -> Vec<usize> {
    let total: usize = out.iter().product();
    let offset = out.len() - dims.len();
    let src = strides(dims);
    let out_strides = strides(out);
    (0..total)
        .map(|flat| {
            let mut idx = 0;
            for (axis, &d) in dims.iter().enumerate() {
                let coord = (flat / out_strides[axis + offset]) % out[axis + offset];
                if d != 1 {
                    idx += coord * src[axis];
                }
            }
            idx
        })
        .collect()
}

/// Elementwise `f` on two host tensors with broadcasting.
pub fn zip<A: Copy, B: Copy, T>(
    a: (&[usize], &[A]),
    b: (&[usize], &[B]),
    f: impl Fn(A, B) -> T,
) -> Result<(Vec<usize>, Vec<T>), OnnxError> {
    let out = broadcast_dims(a.0, b.0)?;
    let ia = broadcast_index(a.0, &out);
    let ib = broadcast_index(b.0, &out);
    Ok((out, ia.iter().zip(&ib).map(|(&i, &j)| f(a.1[i], b.1[j])).collect()))
}

/// Integer arithmetic (`Div` truncates toward zero like ONNX's integer Div in practice for the
/// non-negative sizes it sees; division by zero is an error, not a panic).
pub fn int_binary(a: &Ints, b: &Ints, f: impl Fn(i64, i64) -> Option<i64>) -> Result<Ints, OnnxError> {
    let (dims, values) = zip((&a.dims, &a.values), (&b.dims, &b.values), f)?;
    let values = values
        .into_iter()
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| OnnxError::Shape("integer overflow or division by zero".into()))?;
    Ok(Ints { dims, values })
}

pub fn compare<T: Copy + PartialOrd>(
    a: (&[usize], &[T]),
    b: (&[usize], &[T]),
    f: impl Fn(T, T) -> bool,
) -> Result<Bools, OnnxError> {
    let (dims, values) = zip(a, b, f)?;
    Ok(Bools { dims, values })
}

/// Gather along `axis` with `indices` (negative counting from the end).
pub fn gather<T: Copy>(
    dims: &[usize],
    values: &[T],
    axis: usize,
    indices: &Ints,
) -> Result<(Vec<usize>, Vec<T>), OnnxError> {
    let n = dims[axis];
    let outer: usize = dims[..axis].iter().product();
    let inner: usize = dims[axis + 1..].iter().product();
    let idx = normalized_indices(&indices.values, n)?;
    let mut out = Vec::with_capacity(outer * idx.len() * inner);
    for o in 0..outer {
        for &i in &idx {
            let start = (o * n + i) * inner;
            out.extend_from_slice(&values[start..start + inner]);
        }
    }
    let mut out_dims = dims[..axis].to_vec();
    out_dims.extend(&indices.dims);
    out_dims.extend(&dims[axis + 1..]);
    Ok((out_dims, out))
}

/// Indices into an axis of length `n`, negative ones counted from the end, each checked.
pub fn normalized_indices(indices: &[i64], n: usize) -> Result<Vec<usize>, OnnxError> {
    indices
        .iter()
        .map(|&i| {
            let j = if i < 0 { i + n as i64 } else { i };
            if (0..n as i64).contains(&j) {
                Ok(j as usize)
            } else {
                Err(OnnxError::Shape(format!("index {i} is out of range for an axis of {n}")))
            }
        })
        .collect()
}

/// Concatenate along `axis`.
pub fn concat<T: Copy>(parts: &[(Vec<usize>, Vec<T>)], axis: usize) -> Result<(Vec<usize>, Vec<T>), OnnxError> {
    let first = &parts[0].0;
    let mut dims = first.clone();
    dims[axis] = 0;
    for (d, _) in parts {
        if d.len() != first.len() || d.iter().enumerate().any(|(i, &x)| i != axis && x != first[i]) {
            return Err(OnnxError::Shape(format!("cannot concatenate shapes {first:?} and {d:?} on axis {axis}")));
        }
        dims[axis] += d[axis];
    }
    let outer: usize = first[..axis].iter().product();
    let mut out = Vec::new();
    for o in 0..outer {
        for (d, v) in parts {
            let chunk: usize = d[axis..].iter().product();
            out.extend_from_slice(&v[o * chunk..(o + 1) * chunk]);
        }
    }
    Ok((dims, out))
}

/// Slice `[start, end)` by `step` along each given axis (already clamped, see
/// [`slice_bounds`]).
pub fn slice<T: Copy>(dims: &[usize], values: &[T], ranges: &[(usize, i64, i64, i64)]) -> (Vec<usize>, Vec<T>) {
    let mut per_axis: Vec<Vec<usize>> = dims.iter().map(|&d| (0..d).collect()).collect();
    for &(axis, start, end, step) in ranges {
        let mut picked = Vec::new();
        let mut i = start;
        while (step > 0 && i < end) || (step < 0 && i > end) {
            picked.push(i as usize);
            i += step;
        }
        per_axis[axis] = picked;
    }
    let out_dims: Vec<usize> = per_axis.iter().map(Vec::len).collect();
    let src = strides(dims);
    let total: usize = out_dims.iter().product();
    let out_strides = strides(&out_dims);
    let out = (0..total)
        .map(|flat| {
            let idx: usize = (0..dims.len()).map(|a| per_axis[a][(flat / out_strides[a]) % out_dims[a]] * src[a]).sum();
            values[idx]
        })
        .collect();
    (out_dims, out)
}

/// ONNX Slice's clamping of `start`/`end` for an axis of length `n` and a non-zero `step`.
pub fn slice_bounds(start: i64, end: i64, step: i64, n: usize) -> (i64, i64) {
    let n = n as i64;
    let fix = |v: i64| if v < 0 { v.saturating_add(n) } else { v };
    let (s, e) = (fix(start), fix(end));
    if step > 0 { (s.clamp(0, n), e.clamp(0, n)) } else { (s.clamp(-1, n - 1), e.clamp(-1, n - 1)) }
}

/// Transpose by `perm`.
pub fn transpose<T: Copy>(dims: &[usize], values: &[T], perm: &[usize]) -> (Vec<usize>, Vec<T>) {
    let out_dims: Vec<usize> = perm.iter().map(|&p| dims[p]).collect();
    let src = strides(dims);
    let out_strides = strides(&out_dims);
    let total: usize = out_dims.iter().product();
    let out = (0..total)
        .map(|flat| {
            let idx: usize =
                perm.iter().enumerate().map(|(a, &p)| ((flat / out_strides[a]) % out_dims[a]) * src[p]).sum();
            values[idx]
        })
        .collect();
    (out_dims, out)
}

/// Repeat host values to the broadcast of `dims` and `target` (Expand), or `times` per axis (Tile).
pub fn expand<T: Copy>(dims: &[usize], values: &[T], target: &[usize]) -> Result<(Vec<usize>, Vec<T>), OnnxError> {
    let out = broadcast_dims(dims, target)?;
    let idx = broadcast_index(dims, &out);
    Ok((out, idx.into_iter().map(|i| values[i]).collect()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broadcasting_follows_numpy() {
        assert_eq!(broadcast_dims(&[2, 1, 3], &[4, 1]).unwrap(), vec![2, 4, 3]);
        assert!(broadcast_dims(&[2, 3], &[4, 3]).is_err());
        let a = Ints { dims: vec![2, 1], values: vec![1, 2] };
        let b = Ints { dims: vec![3], values: vec![10, 20, 30] };
        let s = int_binary(&a, &b, |x, y| x.checked_add(y)).unwrap();
        assert_eq!(s.dims, vec![2, 3]);
        assert_eq!(s.values, vec![11, 21, 31, 12, 22, 32]);
        assert!(int_binary(&a, &Ints::scalar(0), |x, y| x.checked_div(y)).is_err());
    }

    #[test]
    fn gather_slice_concat_transpose() {
        let dims = [2, 3];
        let v = [0, 1, 2, 3, 4, 5];
        assert_eq!(gather(&dims, &v, 1, &Ints::vector(vec![-1, 0])).unwrap(), (vec![2, 2], vec![2, 0, 5, 3]));
        assert_eq!(gather(&dims, &v, 0, &Ints::scalar(1)).unwrap(), (vec![3], vec![3, 4, 5]));
        assert!(gather(&dims, &v, 0, &Ints::scalar(2)).is_err());
        let (s, e) = slice_bounds(1, i64::MAX, 1, 3);
        assert_eq!(slice(&dims, &v, &[(1, s, e, 1)]), (vec![2, 2], vec![1, 2, 4, 5]));
        let (s, e) = slice_bounds(-1, i64::MIN, -1, 3);
        assert_eq!(slice(&dims, &v, &[(1, s, e, -1)]), (vec![2, 3], vec![2, 1, 0, 5, 4, 3]));
        assert_eq!(concat(&[(vec![1, 2], vec![1, 2]), (vec![1, 1], vec![3])], 1).unwrap(), (vec![1, 3], vec![1, 2, 3]));
        assert_eq!(transpose(&dims, &v, &[1, 0]), (vec![3, 2], vec![0, 3, 1, 4, 2, 5]));
    }
}
