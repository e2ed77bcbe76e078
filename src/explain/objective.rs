//! What an explanation explains: one scalar `S(y)` of the model's output `y` per image. Every
//! method (gradient, CAM family, perturbation) differentiates, perturbs or weighs this scalar, so
//! a new kind of target (a set of labels, the similarity to a reference, an attribute) works with
//! every method at once.
//!
//! | objective | `S(y)` | bounded score (RISE averages it) |
//! |---|---|---|
//! | `Class(c)` | `y_c`, the logit (Captum and pytorch-grad-cam's `target=c`) | softmax or sigmoid of `y` at `c`, by the head |
//! | `Classes(C)` | `sum_{c in C} y_c` | sum of the per-class bounded scores |
//! | `Similarity { reference: r }` | `cos(y, r) = y.r / (max(|y|, eps) max(|r|, eps))` | the cosine itself |
//! | `Attribute(a)` | `y_a`, an attribute model's score | sigmoid of `y_a` |
//! | `Weighted(w)` | `w . y`, any linear read-out of the output | `w . y` |

use crate::error::{LanternError, Result};
use crate::models::Network;
use crate::models::scores::{sigmoid, softmax};
use crate::models::{Labels, OutputKind};
use burn::tensor::{Tensor, TensorData};
use serde::{Deserialize, Serialize};
use std::fmt;

/// `eps` of the cosine similarity, as `torch.nn.functional.cosine_similarity`.
const COSINE_EPS: f32 = 1e-8;

/// The scalar of the model's output an explanation explains.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Objective {
    /// One class's logit.
    Class(usize),
    /// The sum of several classes' logits (the labels present in a multi-label image).
    Classes(Vec<usize>),
    /// The cosine similarity of the model's output (an embedding) to a reference embedding.
    Similarity { reference: Vec<f32> },
    /// One attribute value's score of an attribute model.
    Attribute(usize),
    /// Any linear read-out `w . y` of the output.
    Weighted(Vec<f32>),
}

impl From<usize> for Objective {
    fn from(class: usize) -> Self {
        Objective::Class(class)
    }
}

impl From<&Objective> for Objective {
    fn from(objective: &Objective) -> Self {
        objective.clone()
    }
}

impl Objective {
    /// The single class this objective explains, if it is one.
    pub fn class(&self) -> Option<usize> {
        match self {
            Objective::Class(c) => Some(*c),
            _ => None,
        }
    }

    /// Check the objective fits a model with `outputs` outputs.
    pub fn check_outputs(&self, outputs: usize) -> Result<()> {
        let index_ok = |i: usize| {
            if i < outputs { Ok(()) } else { Err(LanternError::ClassOutOfRange { index: i, classes: outputs }) }
        };
        match self {
            Objective::Class(c) | Objective::Attribute(c) => index_ok(*c),
            Objective::Classes(cs) if cs.is_empty() => {
                Err(LanternError::BadArgument("a set of classes to explain must not be empty".into()))
            }
            Objective::Classes(cs) => cs.iter().try_for_each(|&c| index_ok(c)),
            Objective::Similarity { reference: v } | Objective::Weighted(v) if v.len() != outputs => {
                Err(LanternError::Mismatch(format!(
                    "the {} has {} values but the model gives {outputs}",
                    if matches!(self, Objective::Similarity { .. }) { "reference embedding" } else { "read-out" },
                    v.len()
                )))
            }
            Objective::Similarity { reference } if !reference.iter().all(|v| v.is_finite()) => {
                Err(LanternError::BadArgument("the reference embedding has non-finite values".into()))
            }
            _ => Ok(()),
        }
    }

    /// Check the objective fits `net`'s output.
    pub fn check(&self, net: &Network) -> Result<()> {
        self.check_outputs(net.classes())
    }

    /// `S(y)` for every row of the output batch `y` (`[N, K]`), as an `[N, 1]` tensor that
    /// autodiff can differentiate.
    pub fn score(&self, y: Tensor<2>) -> Tensor<2> {
        let [n, k] = y.dims();
        match self {
            Objective::Class(c) | Objective::Attribute(c) => y.slice([0..n, *c..*c + 1]),
            Objective::Classes(cs) => {
                let mut w = vec![0.0f32; k];
                for &c in cs {
                    w[c] += 1.0;
                }
                linear_readout(y, &w)
            }
            Objective::Weighted(w) => linear_readout(y, w),
            Objective::Similarity { reference } => {
                let device = y.device();
                let r = Tensor::<2>::from_data(TensorData::new(reference.clone(), [1, k]), &device);
                let r_norm = norm(reference).max(COSINE_EPS);
                let dot = (y.clone() * r.expand([n, k])).sum_dim(1);
                let y_norm = (y.clone() * y).sum_dim(1).sqrt().clamp_min(COSINE_EPS);
                dot / (y_norm * r_norm)
            }
        }
    }

    /// `S(y)` of one output row on the host.
    pub fn score_row(&self, y: &[f32]) -> f32 {
        match self {
            Objective::Class(c) | Objective::Attribute(c) => y[*c],
            Objective::Classes(cs) => cs.iter().map(|&c| y[c]).sum(),
            Objective::Weighted(w) => dot(w, y),
            Objective::Similarity { reference } => {
                dot(y, reference) / (norm(y).max(COSINE_EPS) * norm(reference).max(COSINE_EPS))
            }
        }
    }

    /// `S` on a bounded scale, for methods that average scores (RISE): the class probability under
    /// the model's head (softmax or sigmoid), summed over a set; the cosine as it is.
    pub fn bounded_row(&self, y: &[f32], output: OutputKind) -> f32 {
        let prob = |c: usize| match output {
            OutputKind::Softmax => softmax(y)[c],
            OutputKind::Sigmoid | OutputKind::Embedding => sigmoid(y[c]),
        };
        match self {
            Objective::Class(c) => prob(*c),
            Objective::Classes(cs) => match output {
                OutputKind::Softmax => {
                    let p = softmax(y);
                    cs.iter().map(|&c| p[c]).sum()
                }
                _ => cs.iter().map(|&c| sigmoid(y[c])).sum(),
            },
            Objective::Attribute(a) => sigmoid(y[*a]),
            Objective::Weighted(_) | Objective::Similarity { .. } => self.score_row(y),
        }
    }

    /// `dS/dy` for every row of the output batch `y`: what a hand-written backward pass (Guided
    /// Backprop's) starts from.
    pub fn output_gradient(&self, y: Tensor<2>) -> Tensor<2> {
        let leaf = y.autodiff().require_grad();
        let grads = self.score(leaf.clone()).sum().backward();
        leaf.grad(&grads).expect("the output takes part in the objective").without_autodiff()
    }

    /// A short human-readable name, with the model's output names.
    pub fn describe(&self, labels: &Labels) -> String {
        match self {
            Objective::Class(c) => labels.name(*c),
            Objective::Classes(cs) => cs.iter().map(|&c| labels.name(c)).collect::<Vec<_>>().join(" + "),
            Objective::Similarity { .. } => "similarity to the reference".into(),
            Objective::Attribute(a) => format!("attribute {}", labels.name(*a)),
            Objective::Weighted(_) => "weighted read-out".into(),
        }
    }
}

impl fmt::Display for Objective {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Objective::Class(c) => write!(f, "class {c}"),
            Objective::Classes(cs) => {
                write!(f, "classes {}", cs.iter().map(usize::to_string).collect::<Vec<_>>().join(","))
            }
            Objective::Similarity { reference } => write!(f, "similarity to a {}-d reference", reference.len()),
            Objective::Attribute(a) => write!(f, "attribute {a}"),
            Objective::Weighted(w) => write!(f, "weighted read-out of {} outputs", w.len()),
        }
    }
}

fn linear_readout(y: Tensor<2>, w: &[f32]) -> Tensor<2> {
    let k = w.len();
    let device = y.device();
    y.matmul(Tensor::<2>::from_data(TensorData::new(w.to_vec(), [k, 1]), &device))
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn norm(v: &[f32]) -> f32 {
    dot(v, v).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::network::host_values;
    use burn::tensor::Device;

    fn batch(rows: &[[f32; 3]]) -> Tensor<2> {
        let values: Vec<f32> = rows.iter().flatten().copied().collect();
        Tensor::from_data(TensorData::new(values, [rows.len(), 3]), &Device::flex())
    }

    #[test]
    fn scores_on_the_device_equal_scores_on_the_host() {
        let rows = [[1.0, -2.0, 0.5], [0.3, 0.2, -4.0]];
        let objectives = [
            Objective::Class(1),
            Objective::Classes(vec![0, 2]),
            Objective::Attribute(2),
            Objective::Weighted(vec![0.5, 0.0, -1.0]),
            Objective::Similarity { reference: vec![1.0, 1.0, 0.0] },
        ];
        for o in &objectives {
            let s = host_values(o.score(batch(&rows)));
            for (i, row) in rows.iter().enumerate() {
                assert!((s[i] - o.score_row(row)).abs() < 1e-6, "{o}: {} vs {}", s[i], o.score_row(row));
            }
        }
        let cos = Objective::Similarity { reference: vec![2.0, -4.0, 1.0] }.score_row(&[1.0, -2.0, 0.5]);
        assert!((cos - 1.0).abs() < 1e-6, "parallel vectors have cosine 1, got {cos}");
    }

    #[test]
    fn output_gradient_is_the_read_out_for_linear_objectives_and_the_cosine_derivative_otherwise() {
        let g = host_values(Objective::Classes(vec![0, 2]).output_gradient(batch(&[[1.0, 2.0, 3.0]])));
        assert_eq!(g, vec![1.0, 0.0, 1.0]);
        // d cos(y, r)/dy = r/(|y||r|) - cos y/|y|^2; for y = (1, 0, 0), r = (1, 1, 0): (0, 1/sqrt 2, 0).
        let g = host_values(
            Objective::Similarity { reference: vec![1.0, 1.0, 0.0] }.output_gradient(batch(&[[1.0, 0.0, 0.0]])),
        );
        assert!(
            g[0].abs() < 1e-6 && (g[1] - std::f32::consts::FRAC_1_SQRT_2).abs() < 1e-6 && g[2].abs() < 1e-6,
            "{g:?}"
        );
    }

    #[test]
    fn bounded_scores_follow_the_head() {
        let y = [2.0, 0.0, -1.0];
        let p = Objective::Class(0).bounded_row(&y, OutputKind::Softmax);
        assert!((p - softmax(&y)[0]).abs() < 1e-7);
        let p = Objective::Class(0).bounded_row(&y, OutputKind::Sigmoid);
        assert!((p - 1.0 / (1.0 + (-2.0f32).exp())).abs() < 1e-7);
        let both = Objective::Classes(vec![0, 1]).bounded_row(&y, OutputKind::Sigmoid);
        assert!((both - (sigmoid(2.0) + 0.5)).abs() < 1e-6);
    }

    #[test]
    fn checks_reject_what_the_model_cannot_give() {
        assert!(Objective::Class(3).check_outputs(3).is_err());
        assert!(Objective::Classes(vec![]).check_outputs(3).is_err());
        assert!(Objective::Classes(vec![0, 5]).check_outputs(3).is_err());
        assert!(Objective::Similarity { reference: vec![1.0; 4] }.check_outputs(3).is_err());
        assert!(Objective::Similarity { reference: vec![f32::NAN; 3] }.check_outputs(3).is_err());
        assert!(Objective::Weighted(vec![1.0; 3]).check_outputs(3).is_ok());
        assert_eq!(Objective::from(2), Objective::Class(2));
    }
}
