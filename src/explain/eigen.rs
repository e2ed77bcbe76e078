//! Eigen-CAM (Muhammad & Yeasin, "Eigen-CAM: Class Activation Map using Principal Components",
//! IJCNN 2020): the projection of the layer's activations on their first principal component.
//! With `X` the `(H*W) x C` matrix of activations, columns centred, and `v` its first right
//! singular vector, the map is `X v`. EigenGrad-CAM applies the same projection to `G ⊙ A`.
//!
//! The sign of a singular vector is arbitrary (NumPy's SVD returns whichever LAPACK produces), so
//! the map is flipped when `|min| > |max|`, the sign correction of Chung & Ying, "Seg-Eigen-CAM",
//! Applied Sciences 2025 (eq. 13), which pytorch-grad-cam ships as
//! `get_2d_projection_with_sign_correction`.

use super::activations::{FeatureMaps, gradient};
use super::cam::gradient_times_activation;
use super::method::{About, Entry, Family, LayerUse, Mechanism, MethodSpec};

pub const EIGEN_CAM: MethodSpec = MethodSpec {
    quick: true,
    ..MethodSpec::new(
        About {
            name: "eigencam",
            title: "Eigen-CAM",
            formula: "first principal component of A (the same map for every objective)",
            paper: "Muhammad & Yeasin, IJCNN 2020",
        },
        Mechanism {
            family: Family::Cam,
            layer: LayerUse::Chosen,
            gradients: false,
            entry: Entry::Layer(|_, acts, _| Ok(first_component_projection(&acts.maps))),
        },
    )
};

pub const EIGEN_GRAD_CAM: MethodSpec = MethodSpec {
    name: "eigengradcam",
    title: "EigenGrad-CAM",
    formula: "first principal component of dS/dA * A",
    paper: "after Muhammad & Yeasin, IJCNN 2020",
    gradients: true,
    quick: false,
    entry: Entry::Layer(|net, acts, objective| {
        let g = gradient(net, acts, objective)?;
        Ok(first_component_projection(&gradient_times_activation(&acts.maps, &g)))
    }),
    ..EIGEN_CAM
};

/// `X v` for the first principal direction `v` of the centred activations, sign-corrected.
pub fn first_component_projection(a: &FeatureMaps) -> Vec<f32> {
    let (n, c) = (a.plane(), a.channels);
    if n == 0 || c == 0 {
        return vec![0.0; n];
    }
    // Centred X, row-major (n x c), in f64.
    let mut x = vec![0.0f64; n * c];
    for k in 0..c {
        let ch = a.channel(k);
        let mean = ch.iter().map(|&v| if v.is_nan() { 0.0 } else { f64::from(v) }).sum::<f64>() / n as f64;
        for (i, &v) in ch.iter().enumerate() {
            x[i * c + k] = if v.is_nan() { 0.0 } else { f64::from(v) } - mean;
        }
    }
    let projection = if c <= n {
        // v = top eigenvector of X^T X (c x c); projection = X v.
        let mut s = vec![0.0f64; c * c];
        for row in x.chunks(c) {
            for p in 0..c {
                let rp = row[p];
                if rp == 0.0 {
                    continue;
                }
                for q in p..c {
                    s[p * c + q] += rp * row[q];
                }
            }
        }
        symmetrize(&mut s, c);
        let v = top_eigenvector(&s, c);
        x.chunks(c).map(|row| row.iter().zip(&v).map(|(a, b)| a * b).sum::<f64>()).collect::<Vec<f64>>()
    } else {
        // u = top eigenvector of X X^T (n x n); X v = sigma u with sigma = sqrt(lambda).
        let mut k = vec![0.0f64; n * n];
        for i in 0..n {
            for j in i..n {
                k[i * n + j] = x[i * c..(i + 1) * c].iter().zip(&x[j * c..(j + 1) * c]).map(|(a, b)| a * b).sum();
            }
        }
        symmetrize(&mut k, n);
        let u = top_eigenvector(&k, n);
        let ku = mat_vec(&k, &u, n);
        let lambda: f64 = u.iter().zip(&ku).map(|(a, b)| a * b).sum();
        let sigma = lambda.max(0.0).sqrt();
        u.into_iter().map(|v| v * sigma).collect()
    };
    let (lo, hi) = projection.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), &v| (l.min(v), h.max(v)));
    let sign = if lo.abs() > hi.abs() { -1.0 } else { 1.0 };
    projection.into_iter().map(|v| (sign * v) as f32).collect()
}

/// Copy the upper triangle onto the lower one.
fn symmetrize(m: &mut [f64], d: usize) {
    for p in 0..d {
        for q in 0..p {
            m[p * d + q] = m[q * d + p];
        }
    }
}

fn mat_vec(m: &[f64], v: &[f64], d: usize) -> Vec<f64> {
    m.chunks(d).map(|row| row.iter().zip(v).map(|(a, b)| a * b).sum()).collect()
}

/// Dominant eigenvector of a symmetric positive semi-definite matrix by power iteration, from a
/// deterministic start, to a relative change below 1e-12 (at most 20000 steps).
fn top_eigenvector(m: &[f64], d: usize) -> Vec<f64> {
    // Start from the row of largest norm: never orthogonal to the top eigenvector of a PSD matrix
    // with a nonzero diagonal entry there.
    let start = (0..d).max_by(|&a, &b| m[a * d + a].total_cmp(&m[b * d + b])).unwrap_or(0);
    let mut v: Vec<f64> = m[start * d..(start + 1) * d].to_vec();
    if normalize(&mut v) == 0.0 {
        return vec![0.0; d];
    }
    for _ in 0..20_000 {
        let mut next = mat_vec(m, &v, d);
        if normalize(&mut next) == 0.0 {
            return v;
        }
        let change: f64 = next.iter().zip(&v).map(|(a, b)| (a - b) * (a - b)).sum::<f64>().sqrt();
        v = next;
        if change < 1e-12 {
            break;
        }
    }
    v
}

fn normalize(v: &mut [f64]) -> f64 {
    let norm = v.iter().map(|x| x * x).sum::<f64>().sqrt();
    if norm > 0.0 {
        for x in v.iter_mut() {
            *x /= norm;
        }
    }
    norm
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn projects_on_the_dominant_direction_with_positive_peak() {
        // Two channels that vary together along the spatial axis; the first component is their
        // common direction, so the projection follows the shared ramp.
        let ramp = [0.0f32, 1.0, 2.0, 10.0];
        let a =
            FeatureMaps { channels: 2, height: 1, width: 4, values: ramp.iter().chain(ramp.iter()).copied().collect() };
        let p = first_component_projection(&a);
        let centred: Vec<f32> = ramp.iter().map(|v| (v - 3.25) * 2f32.sqrt()).collect();
        for (x, e) in p.iter().zip(&centred) {
            assert!((x - e).abs() < 1e-4, "{p:?} vs {centred:?}");
        }
        // Both branches (c <= n and c > n) agree.
        let wide =
            FeatureMaps { channels: 4, height: 1, width: 2, values: vec![1.0, 3.0, 2.0, 6.0, 0.5, 1.5, 1.0, 1.0] };
        let p = first_component_projection(&wide);
        let norm = (2.0f32 * 2.0 + 4.0 * 4.0 + 1.0).sqrt() / 2.0;
        assert!((p[0].abs() - norm).abs() < 1e-4 && (p[0] + p[1]).abs() < 1e-4, "{p:?}");
    }
}
