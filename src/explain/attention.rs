//! Explanations read from a Vision Transformer's attention: the probabilities `A_l`
//! (`[heads, N, N]`, the Softmax of query-key scores) of every block `l`, found in the ONNX graph
//! (see [`crate::models::onnx::OnnxNet::attention`]). Both maps are the class token's row over
//! the patch tokens, on the patch grid, then ReLU'd, normalised and resized like the CAM family.
//! They apply to ONNX transformers only; elsewhere they are refused with the reason.

use burn::tensor::Tensor;

use super::method::{About, Entry, Family, LayerUse, Mechanism, MethodSpec, Needs, Output, Run};
use super::objective::Objective;
use super::params::DISCARD;
use crate::error::{LanternError, Result};
use crate::map::WeightMap;
use crate::models::Network;
use crate::models::onnx::{OnnxNet, value::F};

/// How the heads of a block are fused into one attention matrix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeadFusion {
    Mean,
    Max,
    Min,
}

/// One block's attention `[heads, N, N]` (image 0) on the host, in f64.
#[derive(Debug, Clone, PartialEq)]
pub struct Attention {
    pub heads: usize,
    pub tokens: usize,
    pub values: Vec<f64>,
}

impl Attention {
    fn from_tensor(t: &F) -> Result<Attention> {
        let dims = t.dims();
        let [_, heads, n, m] = dims[..] else {
            return Err(LanternError::Mismatch(format!("attention of shape {dims:?} is not [B, heads, N, N]")));
        };
        if n != m {
            return Err(LanternError::Mismatch(format!("attention of shape {dims:?} is not square")));
        }
        let values = t.values().into_iter().take(heads * n * n).map(f64::from).collect();
        Ok(Attention { heads, tokens: n, values })
    }

    /// Head `h`'s `N x N` matrix.
    fn head(&self, h: usize) -> &[f64] {
        let nn = self.tokens * self.tokens;
        &self.values[h * nn..(h + 1) * nn]
    }
}

/// `N x N` identity.
fn identity(n: usize) -> Vec<f64> {
    (0..n * n).map(|i| if i / n == i % n { 1.0 } else { 0.0 }).collect()
}

/// `a @ b` for `N x N` matrices.
fn matmul(a: &[f64], b: &[f64], n: usize) -> Vec<f64> {
    let mut out = vec![0.0; n * n];
    for i in 0..n {
        for k in 0..n {
            let aik = a[i * n + k];
            if aik == 0.0 {
                continue;
            }
            for j in 0..n {
                out[i * n + j] += aik * b[k * n + j];
            }
        }
    }
    out
}

/// Attention rollout (Abnar & Zuidema, "Quantifying Attention Flow in Transformers", ACL 2020):
/// per block the heads are fused (`fusion`), the `floor(discard * N^2)` smallest fused values
/// set to 0 (never the class token's attention to itself), the identity added for the residual
/// connection and rows renormalised, `Â_l = norm(fuse(A_l) + I)`; the rollout is
/// `R = Â_{L-1} ... Â_1 Â_0`. Returns `R` (`N x N`).
pub fn rollout(blocks: &[Attention], fusion: HeadFusion, discard: f32) -> Vec<f64> {
    let n = blocks.first().map_or(0, |b| b.tokens);
    let mut r = identity(n);
    for block in blocks {
        let mut fused: Vec<f64> = block.head(0).to_vec();
        for h in 1..block.heads {
            for (f, &v) in fused.iter_mut().zip(block.head(h)) {
                *f = match fusion {
                    HeadFusion::Mean => *f + v,
                    HeadFusion::Max => f.max(v),
                    HeadFusion::Min => f.min(v),
                };
            }
        }
        if fusion == HeadFusion::Mean {
            fused.iter_mut().for_each(|f| *f /= block.heads as f64);
        }
        let k = (fused.len() as f64 * f64::from(discard)).floor() as usize;
        if k > 0 {
            let mut order: Vec<usize> = (0..fused.len()).collect();
            // Stable ascending order, ties by position, as a stable argsort gives.
            order.sort_by(|&a, &b| fused[a].total_cmp(&fused[b]).then(a.cmp(&b)));
            for &i in order.iter().take(k).filter(|&&i| i != 0) {
                fused[i] = 0.0;
            }
        }
        for i in 0..n {
            fused[i * n + i] += 1.0;
            let sum: f64 = fused[i * n..(i + 1) * n].iter().sum();
            if sum > 0.0 {
                fused[i * n..(i + 1) * n].iter_mut().for_each(|v| *v /= sum);
            }
        }
        r = matmul(&fused, &r, n);
    }
    r
}

/// Gradient-weighted attention relevance (Chefer, Gur & Wolf, "Generic Attention-model
/// Explainability for Interpreting Bi-Modal and Encoder-Decoder Transformers", ICCV 2021), the
/// self-attention rule: `R = I`, then for each block in order `Ā_l = E_h[(∇A_l ⊙ A_l)^+]` and
/// `R = R + Ā_l R`, `∇A_l` the gradient of the explained score at `A_l`. Returns `R`.
pub fn chefer(blocks: &[Attention], grads: &[Attention]) -> Vec<f64> {
    let n = blocks.first().map_or(0, |b| b.tokens);
    let mut r = identity(n);
    for (a, g) in blocks.iter().zip(grads) {
        let mut bar = vec![0.0; n * n];
        for h in 0..a.heads {
            for ((b, &av), &gv) in bar.iter_mut().zip(a.head(h)).zip(g.head(h)) {
                *b += (av * gv).max(0.0);
            }
        }
        bar.iter_mut().for_each(|b| *b /= a.heads as f64);
        let update = matmul(&bar, &r, n);
        r.iter_mut().zip(update).for_each(|(x, u)| *x += u);
    }
    r
}

/// Row 0 (the class token) of `r` over the patch tokens, on the `(rows, columns)` grid.
pub fn class_row(r: &[f64], tokens: usize, prefix: usize) -> Vec<f32> {
    r[prefix..tokens].iter().map(|&v| v as f32).collect()
}

fn graph_of(net: &Network) -> Result<&OnnxNet> {
    Needs::Attention.check(net, "Attention")?;
    net.graph().map(|g| g.as_ref()).ok_or_else(|| LanternError::Internal("an ONNX graph was checked for".into()))
}

fn error(e: impl std::fmt::Display) -> LanternError {
    LanternError::Mismatch(e.to_string())
}

/// What [`attention`] reads: each block's attention, their gradients (empty without an
/// objective), the number of prefix tokens and the patch grid `(rows, columns)`.
pub type BlockAttention = (Vec<Attention>, Vec<Attention>, usize, (usize, usize));

/// Each block's attention for image 0 of `x`, and with `objective` its gradients.
pub fn attention(net: &Network, x: &Tensor<4>, objective: Option<&Objective>) -> Result<BlockAttention> {
    let g = graph_of(net)?;
    let (logits, probed) = g.attention_probe(x.clone(), objective.is_some()).map_err(error)?;
    let blocks = probed.iter().map(|(a, _)| Attention::from_tensor(a)).collect::<Result<Vec<_>>>()?;
    let grads = match objective {
        Some(objective) => {
            let grads = objective.score(logits.narrow(0, 0, 1)).sum().backward();
            probed
                .iter()
                .map(|(_, leaf)| {
                    let leaf = leaf.as_ref().expect("leaves were asked for");
                    let g = match leaf {
                        F::R4(t) => t.grad(&grads),
                        _ => None,
                    }
                    .ok_or_else(|| LanternError::Internal("the attention's gradient could not be computed".into()))?;
                    Attention::from_tensor(&F::R4(g))
                })
                .collect::<Result<Vec<_>>>()?
        }
        None => vec![],
    };
    let tokens = blocks[0].tokens;
    let (prefix, grid) = g.token_grid(tokens).ok_or_else(|| {
        LanternError::Mismatch(format!("{tokens} tokens do not form a patch grid of the input's shape"))
    })?;
    Ok((blocks, grads, prefix, grid))
}

fn output(run: &Run<'_, '_>, r: &[f64], tokens: usize, prefix: usize, grid: (usize, usize)) -> Output {
    let row = class_row(r, tokens, prefix);
    let [_, _, h, w] = run.session.input().dims();
    let map: WeightMap = super::finish(row, grid.1, grid.0, (w, h));
    Output { map, attribution: None, forward_ms: 0.0, approximation: None }
}

fn run_rollout(run: &mut Run<'_, '_>, fusion: HeadFusion) -> Result<Output> {
    let (blocks, _, prefix, grid) = attention(run.session.network(), run.session.input(), None)?;
    let r = rollout(&blocks, fusion, run.params.rollout_discard);
    Ok(output(run, &r, blocks[0].tokens, prefix, grid))
}

fn run_chefer(run: &mut Run<'_, '_>) -> Result<Output> {
    let (blocks, grads, prefix, grid) = attention(run.session.network(), run.session.input(), Some(run.objective))?;
    let r = chefer(&blocks, &grads);
    Ok(output(run, &r, blocks[0].tokens, prefix, grid))
}

const fn rollout_method(name: &'static str, title: &'static str, formula: &'static str, entry: Entry) -> MethodSpec {
    MethodSpec {
        params: &[DISCARD],
        needs: Needs::Attention,
        ..MethodSpec::new(
            About { name, title, formula, paper: "Abnar & Zuidema, ACL 2020" },
            Mechanism { family: Family::Attention, layer: LayerUse::None, gradients: false, entry },
        )
    }
}

pub const ROLLOUT: MethodSpec = rollout_method(
    "rollout",
    "Attention rollout",
    "R = prod_l norm(mean_h A_l + I), class row",
    Entry::Input(|run| run_rollout(run, HeadFusion::Mean)),
);
pub const ROLLOUT_MAX: MethodSpec = rollout_method(
    "rollout-max",
    "Attention rollout (max)",
    "R = prod_l norm(max_h A_l + I), class row",
    Entry::Input(|run| run_rollout(run, HeadFusion::Max)),
);
pub const ROLLOUT_MIN: MethodSpec = rollout_method(
    "rollout-min",
    "Attention rollout (min)",
    "R = prod_l norm(min_h A_l + I), class row",
    Entry::Input(|run| run_rollout(run, HeadFusion::Min)),
);
pub const CHEFER: MethodSpec = MethodSpec {
    needs: Needs::Attention,
    aliases: &["chefer", "attentionrelevance", "transformerattribution"],
    ..MethodSpec::new(
        About {
            name: "chefer",
            title: "Attention relevance (Chefer)",
            formula: "R += E_h[(dS/dA_l * A_l)+] R per block, class row",
            paper: "Chefer, Gur & Wolf, ICCV 2021",
        },
        Mechanism {
            family: Family::Attention,
            layer: LayerUse::None,
            gradients: true,
            entry: Entry::Input(run_chefer),
        },
    )
};

#[cfg(test)]
mod tests {
    use super::*;

    fn block(heads: usize, n: usize, f: impl Fn(usize) -> f64) -> Attention {
        Attention { heads, tokens: n, values: (0..heads * n * n).map(f).collect() }
    }

    #[test]
    fn rollout_of_uniform_attention_stays_uniform_over_tokens() {
        let n = 3;
        let a = block(2, n, |_| 1.0 / 3.0);
        let r = rollout(&[a.clone(), a], HeadFusion::Mean, 0.0);
        // Rows stay stochastic.
        for i in 0..n {
            let s: f64 = r[i * n..(i + 1) * n].iter().sum();
            assert!((s - 1.0).abs() < 1e-12);
        }
    }

    #[test]
    fn chefer_without_positive_relevance_is_the_identity() {
        let a = block(1, 2, |_| 0.5);
        let g = block(1, 2, |_| -1.0);
        assert_eq!(chefer(&[a], &[g]), identity(2));
    }

    #[test]
    fn discarding_never_drops_the_class_tokens_self_attention() {
        let a = block(1, 2, |i| [0.1, 0.9, 0.5, 0.5][i]);
        let r = rollout(&[a], HeadFusion::Mean, 0.25);
        // k = 1: the smallest is index 0 (the class token's self-attention), kept.
        assert!((r[0] - 1.1 / 2.0).abs() < 1e-12, "{r:?}");
    }
}
